#include "kube_yaml.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* A kubeconfig is small. The document is built from libyaml's events, so
 * these caps stop a hostile one while it is read, before libyaml's own
 * document loader or our key lookups could turn quadratic on it (deeply
 * nested flow collections; a mapping of 100,000 keys). Aliases count what
 * they expand to ("billion laughs"). */
enum { MAX_NODES = 200000, MAX_DEPTH = 64, MAX_KEYS = 4096, MAX_ANCHORS = 1024 };

struct frame {
    cJSON *node;
    char *key;           /* a mapping's key waiting for its value */
    size_t keys;         /* keys seen in this mapping */
    size_t nodes_before; /* for the size an anchor stands for */
    char *anchor;
};

struct anchor {
    char *name;
    cJSON *copy; /* the anchored node as it was when it ended */
    size_t nodes;
};

struct conversion {
    struct frame stack[MAX_DEPTH + 1];
    int depth;
    struct anchor anchors[MAX_ANCHORS];
    size_t n_anchors;
    size_t nodes;
    cJSON *root;
    char *err;
    size_t err_len;
};

static bool plain_is(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(v, *words) == 0)
            return true;
    return false;
}

static cJSON *scalar_to_json(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strlen(v) == len) {
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
        static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                            "on", "On", "ON", "y", "Y", NULL};
        static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO",
                                             "off", "Off", "OFF", "n", "N", NULL};
        if (plain_is(v, nulls))
            return cJSON_CreateNull();
        if (plain_is(v, trues))
            return cJSON_CreateTrue();
        if (plain_is(v, falses))
            return cJSON_CreateFalse();
    }
    /* cJSON strings are NUL-terminated: a scalar with an embedded NUL is
     * cut there, which no kubeconfig field can legitimately contain. */
    return cJSON_CreateString(v);
}

static bool fail(struct conversion *cv, const yaml_event_t *ev, const char *problem)
{
    snprintf(cv->err, cv->err_len, "line %zu: %s", ev->start_mark.line + 1, problem);
    return false;
}

static bool count_nodes(struct conversion *cv, const yaml_event_t *ev, size_t n)
{
    cv->nodes += n;
    if (cv->nodes > MAX_NODES)
        return fail(cv, ev, "document too large (aliases expand past 200000 nodes)");
    return true;
}

static bool remember_anchor(struct conversion *cv, const yaml_event_t *ev, const char *name, const cJSON *node,
                            size_t nodes)
{
    if (cv->n_anchors == MAX_ANCHORS)
        return fail(cv, ev, "too many anchors");
    struct anchor *a = &cv->anchors[cv->n_anchors];
    a->name = strdup(name);
    a->copy = cJSON_Duplicate(node, true);
    a->nodes = nodes;
    if (!a->name || !a->copy) {
        free(a->name);
        cJSON_Delete(a->copy);
        return fail(cv, ev, "out of memory");
    }
    cv->n_anchors++;
    return true;
}

/* Places a finished node: the value of the pending key, an item, or the
 * root. Takes `node`. */
static bool place(struct conversion *cv, const yaml_event_t *ev, cJSON *node)
{
    if (!node)
        return fail(cv, ev, "out of memory");
    if (cv->depth == 0) {
        cJSON_Delete(cv->root);
        cv->root = node;
        return true;
    }
    struct frame *f = &cv->stack[cv->depth - 1];
    if (cJSON_IsArray(f->node)) {
        cJSON_AddItemToArray(f->node, node);
        return true;
    }
    if (!f->key) {
        /* An alias as a key: only a scalar names a field. */
        bool named = cJSON_IsString(node);
        f->key = named ? strdup(node->valuestring) : NULL;
        cJSON_Delete(node);
        if (!named)
            return fail(cv, ev, "mapping key is not a scalar");
        if (!f->key)
            return fail(cv, ev, "out of memory");
        return ++f->keys <= MAX_KEYS || fail(cv, ev, "mapping with more than 4096 keys");
    }
    /* A repeated key replaces the earlier value, as in Go's JSON decoding. */
    if (cJSON_GetObjectItemCaseSensitive(f->node, f->key))
        cJSON_ReplaceItemInObjectCaseSensitive(f->node, f->key, node);
    else
        cJSON_AddItemToObject(f->node, f->key, node);
    free(f->key);
    f->key = NULL;
    return true;
}

static bool on_event(struct conversion *cv, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (!count_nodes(cv, ev, 1))
            return false;
        struct frame *parent = cv->depth ? &cv->stack[cv->depth - 1] : NULL;
        if (parent && cJSON_IsObject(parent->node) && !parent->key && !ev->data.scalar.anchor) {
            /* A key, as written: "yes" names a field, it is no boolean. */
            if (!(parent->key = strdup((const char *)ev->data.scalar.value)))
                return fail(cv, ev, "out of memory");
            return ++parent->keys <= MAX_KEYS || fail(cv, ev, "mapping with more than 4096 keys");
        }
        cJSON *node = scalar_to_json(ev);
        if (node && ev->data.scalar.anchor && !remember_anchor(cv, ev, (const char *)ev->data.scalar.anchor, node, 1)) {
            cJSON_Delete(node);
            return false;
        }
        return place(cv, ev, node);
    }
    case YAML_ALIAS_EVENT:
        for (size_t k = cv->n_anchors; k-- > 0;)
            if (strcmp(cv->anchors[k].name, (const char *)ev->data.alias.anchor) == 0)
                return count_nodes(cv, ev, cv->anchors[k].nodes) &&
                       place(cv, ev, cJSON_Duplicate(cv->anchors[k].copy, true));
        return fail(cv, ev, "alias to an unknown anchor");
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (cv->depth == MAX_DEPTH)
            return fail(cv, ev, "nested more than 64 levels deep");
        if (cv->depth && cJSON_IsObject(cv->stack[cv->depth - 1].node) && !cv->stack[cv->depth - 1].key)
            return fail(cv, ev, "mapping key is not a scalar");
        if (!count_nodes(cv, ev, 1))
            return false;
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        struct frame *f = &cv->stack[cv->depth];
        *f = (struct frame){.node = seq ? cJSON_CreateArray() : cJSON_CreateObject(), .nodes_before = cv->nodes};
        if (!f->node)
            return fail(cv, ev, "out of memory");
        cv->depth++;
        if (anchor && !(f->anchor = strdup((const char *)anchor)))
            return fail(cv, ev, "out of memory");
        return true;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        struct frame f = cv->stack[--cv->depth];
        bool ok = !f.anchor || remember_anchor(cv, ev, f.anchor, f.node, cv->nodes - f.nodes_before + 1);
        free(f.anchor);
        free(f.key);
        if (!ok) {
            cJSON_Delete(f.node);
            return false;
        }
        return place(cv, ev, f.node);
    }
    default:
        return true;
    }
}

static void conversion_free(struct conversion *cv)
{
    while (cv->depth > 0) {
        struct frame *f = &cv->stack[--cv->depth];
        cJSON_Delete(f->node);
        free(f->key);
        free(f->anchor);
    }
    for (size_t k = 0; k < cv->n_anchors; k++) {
        free(cv->anchors[k].name);
        cJSON_Delete(cv->anchors[k].copy);
    }
}

static cJSON *parse_json(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len || buf[i] != '{')
        return NULL;
    return cJSON_ParseWithLength(buf, len);
}

cJSON *kube_yaml_parse(const char *buf, size_t len, char *err, size_t err_len)
{
    /* JSON first: it is YAML too, but libyaml rejects the tab indentation
     * JSON writers use; a flow-style YAML mapping that is not JSON falls
     * through to libyaml. */
    if (err_len)
        err[0] = '\0';
    cJSON *json = parse_json(buf, len);
    if (json)
        return json;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    struct conversion *cv = calloc(1, sizeof *cv);
    if (!cv) {
        yaml_parser_delete(&parser);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    cv->err = err;
    cv->err_len = err_len;
    bool ok = true, done = false;
    while (ok && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, err_len, "line %zu: %s", parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "syntax error");
            ok = false;
            break;
        }
        /* The first document only. */
        done = ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT;
        ok = on_event(cv, &ev);
        yaml_event_delete(&ev);
    }
    cJSON *out = ok ? cv->root : NULL;
    if (ok && !out)
        out = cJSON_CreateObject();
    if (!ok)
        cJSON_Delete(cv->root);
    conversion_free(cv);
    free(cv);
    yaml_parser_delete(&parser);
    if (!out && err_len && !err[0])
        snprintf(err, err_len, "out of memory");
    return out;
}
