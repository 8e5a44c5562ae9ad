#include "selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

enum req_op { REQ_EQ, REQ_NE, REQ_IN, REQ_NOTIN, REQ_EXISTS, REQ_NOT_EXISTS };

struct requirement {
    char *key;
    enum req_op op;
    char **values;
    size_t n_values;
};

struct selector {
    int fields; /* field selector: keys are metadata paths */
    struct requirement *reqs;
    size_t n;
};

void selector_free(struct selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].key);
        for (size_t j = 0; j < sel->reqs[i].n_values; j++)
            free(sel->reqs[i].values[j]);
        free(sel->reqs[i].values);
    }
    free(sel->reqs);
    free(sel);
}

static void skip_ws(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '/';
}

static int value_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

static char *take(const char **p, int (*ok)(char))
{
    const char *s = *p;
    while (ok(**p))
        (*p)++;
    return strndup(s, (size_t)(*p - s));
}

static void add_value(struct requirement *r, char *v)
{
    r->values = realloc(r->values, (r->n_values + 1) * sizeof *r->values);
    r->values[r->n_values++] = v;
}

static struct requirement *new_req(struct selector *sel)
{
    sel->reqs = realloc(sel->reqs, (sel->n + 1) * sizeof *sel->reqs);
    struct requirement *r = &sel->reqs[sel->n++];
    memset(r, 0, sizeof *r);
    return r;
}

struct selector *label_selector_parse(const char *text, char *err, size_t err_size)
{
    struct selector *sel = calloc(1, sizeof *sel);
    const char *p = text;
    skip_ws(&p);
    while (*p) {
        struct requirement *r = new_req(sel);
        if (*p == '!') {
            p++;
            skip_ws(&p);
            r->op = REQ_NOT_EXISTS;
        } else {
            r->op = REQ_EXISTS;
        }
        r->key = take(&p, key_char);
        if (!r->key[0])
            goto bad;
        skip_ws(&p);
        if (r->op == REQ_EXISTS) {
            if (p[0] == '=' && p[1] == '=') {
                r->op = REQ_EQ;
                p += 2;
            } else if (p[0] == '=') {
                r->op = REQ_EQ;
                p++;
            } else if (p[0] == '!' && p[1] == '=') {
                r->op = REQ_NE;
                p += 2;
            } else if (strncmp(p, "in", 2) == 0 && (p[2] == ' ' || p[2] == '(')) {
                r->op = REQ_IN;
                p += 2;
            } else if (strncmp(p, "notin", 5) == 0 && (p[5] == ' ' || p[5] == '(')) {
                r->op = REQ_NOTIN;
                p += 5;
            }
            skip_ws(&p);
            if (r->op == REQ_EQ || r->op == REQ_NE) {
                add_value(r, take(&p, value_char));
            } else if (r->op == REQ_IN || r->op == REQ_NOTIN) {
                if (*p != '(')
                    goto bad;
                p++;
                for (;;) {
                    skip_ws(&p);
                    add_value(r, take(&p, value_char));
                    skip_ws(&p);
                    if (*p == ',') {
                        p++;
                        continue;
                    }
                    if (*p == ')') {
                        p++;
                        break;
                    }
                    goto bad;
                }
            }
        }
        skip_ws(&p);
        if (*p == ',') {
            p++;
            skip_ws(&p);
            if (!*p)
                goto bad;
        } else if (*p) {
            goto bad;
        }
    }
    return sel;
bad:
    snprintf(err, err_size, "unable to parse requirement: found '%.40s', expected: identifier or operator", p);
    selector_free(sel);
    return NULL;
}

struct selector *field_selector_parse(const char *text, const char *const *fields, char *err, size_t err_size)
{
    struct selector *sel = calloc(1, sizeof *sel);
    sel->fields = 1;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *term = strndup(p, len);
        char *op = strstr(term, "!=");
        size_t oplen = 2;
        enum req_op kind = REQ_NE;
        if (!op) {
            op = strstr(term, "==");
            kind = REQ_EQ;
        }
        if (!op) {
            op = strchr(term, '=');
            oplen = 1;
        }
        if (!op) {
            snprintf(err, err_size, "invalid selector: '%.80s'; can't understand '%.80s'", text, term);
            free(term);
            selector_free(sel);
            return NULL;
        }
        *op = '\0';
        int known = 0;
        for (size_t i = 0; fields[i]; i++)
            known |= strcmp(term, fields[i]) == 0;
        if (!known) {
            snprintf(err, err_size, "field label not supported: %.80s", term);
            free(term);
            selector_free(sel);
            return NULL;
        }
        struct requirement *r = new_req(sel);
        r->key = strdup(term);
        r->op = kind;
        add_value(r, strdup(op + oplen));
        free(term);
        p += len;
        if (*p == ',')
            p++;
    }
    return sel;
}

int selector_matches(const struct selector *sel, cJSON *object)
{
    if (!sel)
        return 1;
    cJSON *labels = json_path(object, "metadata.labels");
    for (size_t i = 0; i < sel->n; i++) {
        const struct requirement *r = &sel->reqs[i];
        const char *have = sel->fields ? json_str(object, r->key) : json_key_str(labels, r->key);
        int in = 0;
        for (size_t j = 0; j < r->n_values; j++)
            in |= have && strcmp(have, r->values[j]) == 0;
        switch (r->op) {
        case REQ_EQ:
        case REQ_IN:
            if (!in)
                return 0;
            break;
        case REQ_NE:
        case REQ_NOTIN:
            if (in)
                return 0;
            break;
        case REQ_EXISTS:
            if (!have)
                return 0;
            break;
        case REQ_NOT_EXISTS:
            if (have)
                return 0;
            break;
        }
    }
    return 1;
}
