#include "yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64
/* Aliases can multiply a small document into a huge one ("billion laughs"):
 * cap the nodes produced. */
#define MAX_NODES 200000

struct convert {
    yaml_document_t *doc;
    size_t produced;
    char *err;
    size_t err_size;
};

static int is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

/* Plain scalars take types as sigs.k8s.io/yaml (YAML 1.1) gives them. */
static cJSON *plain_scalar(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
    if (is_one_of(s, nulls))
        return cJSON_CreateNull();
    if (is_one_of(s, trues))
        return cJSON_CreateTrue();
    if (is_one_of(s, falses))
        return cJSON_CreateFalse();
    if (strchr("+-.0123456789", s[0])) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        int has_digit = strpbrk(s, "0123456789") != NULL;
        if (!*end && !errno && has_digit && !strpbrk(s, "xXnN"))
            return cJSON_CreateNumber(d);
    }
    return cJSON_CreateString(s);
}

static cJSON *convert_node(struct convert *cv, yaml_node_t *node, int depth)
{
    if (!node || depth > MAX_DEPTH || ++cv->produced > MAX_NODES) {
        snprintf(cv->err, cv->err_size, "yaml: document too deep or too large");
        return NULL;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)node->data.scalar.value;
        if (strlen(v) != node->data.scalar.length) {
            snprintf(cv->err, cv->err_size, "yaml: NUL byte in scalar");
            return NULL;
        }
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return plain_scalar(v);
        return cJSON_CreateString(v);
    }
    case YAML_SEQUENCE_NODE: {
        cJSON *arr = cJSON_CreateArray();
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            cJSON *item = convert_node(cv, yaml_document_get_node(cv->doc, *it), depth + 1);
            if (!item) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, item);
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        cJSON *obj = cJSON_CreateObject();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(cv->err, cv->err_size, "yaml: mapping keys must be scalars");
                cJSON_Delete(obj);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            cJSON *val = convert_node(cv, yaml_document_get_node(cv->doc, p->value), depth + 1);
            if (!val) {
                cJSON_Delete(obj);
                return NULL;
            }
            if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
                snprintf(cv->err, cv->err_size, "yaml: duplicate key \"%.100s\"", key);
                cJSON_Delete(val);
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON_AddItemToObject(obj, key, val);
        }
        return obj;
    }
    default:
        snprintf(cv->err, cv->err_size, "yaml: empty document");
        return NULL;
    }
}

cJSON *yaml_to_json(const char *text, size_t len, char *err, size_t err_size)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, err_size, "yaml: out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    cJSON *out = NULL;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "yaml: line %zu: %s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, err_size, "yaml: empty document");
    } else {
        struct convert cv = {&doc, 0, err, err_size};
        out = convert_node(&cv, root, 0);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}
