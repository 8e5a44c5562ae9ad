#include "kube_yaml.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Aliases can make a small document expand enormously ("billion laughs");
 * a kubeconfig is small, so cap what one conversion may build. */
enum { MAX_NODES = 200000, MAX_DEPTH = 64 };

struct conversion {
    yaml_document_t *doc;
    size_t nodes;
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

static cJSON *scalar_to_json(const yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strlen(v) == len) {
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

static cJSON *node_to_json(struct conversion *cv, yaml_node_t *node, int depth)
{
    if (!node)
        return cJSON_CreateNull();
    if (++cv->nodes > MAX_NODES || depth > MAX_DEPTH) {
        snprintf(cv->err, cv->err_len, "line %zu: document too large or too deeply nested",
                 node->start_mark.line + 1);
        return NULL;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return scalar_to_json(node);
    case YAML_SEQUENCE_NODE: {
        cJSON *arr = cJSON_CreateArray();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             arr && it < node->data.sequence.items.top; it++) {
            cJSON *child = node_to_json(cv, yaml_document_get_node(cv->doc, *it), depth + 1);
            if (!child) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, child);
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        cJSON *obj = cJSON_CreateObject();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             obj && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *key = yaml_document_get_node(cv->doc, p->key);
            if (!key || key->type != YAML_SCALAR_NODE) {
                snprintf(cv->err, cv->err_len, "line %zu: mapping key is not a scalar",
                         (key ? key->start_mark.line : node->start_mark.line) + 1);
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON *child = node_to_json(cv, yaml_document_get_node(cv->doc, p->value), depth + 1);
            if (!child) {
                cJSON_Delete(obj);
                return NULL;
            }
            const char *name = (const char *)key->data.scalar.value;
            /* A repeated key replaces the earlier value, as in Go's JSON decoding. */
            if (cJSON_GetObjectItemCaseSensitive(obj, name))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, name, child);
            else
                cJSON_AddItemToObject(obj, name, child);
        }
        return obj;
    }
    default:
        return cJSON_CreateNull();
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
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_len, "line %zu: %s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cJSON *out;
    if (!root) {
        out = cJSON_CreateObject();
    } else {
        struct conversion cv = {.doc = &doc, .err = err, .err_len = err_len};
        out = node_to_json(&cv, root, 0);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!out && err_len && !err[0])
        snprintf(err, err_len, "out of memory");
    return out;
}
