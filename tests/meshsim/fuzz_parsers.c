/* libFuzzer target for what meshsim parses from clients: label and field
 * selectors, YAML bodies (and their unknown fields), kubectl's protobuf
 * access reviews, merge and strategic merge patches, server-side apply,
 * JSON patches. The first byte picks one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "openapi.h"
#include "patch.h"
#include "proto.h"
#include "schema.h"
#include "selector.h"
#include "yaml.h"

/* Two JSON documents separated by the first NUL byte. */
static int two_documents(const char *s, size_t len, cJSON **a, cJSON **b)
{
    const char *sep = memchr(s, '\0', len);
    if (!sep)
        return 0;
    *a = cJSON_ParseWithLength(s, (size_t)(sep - s));
    *b = cJSON_ParseWithLength(sep + 1, len - (size_t)(sep - s) - 1);
    if (!*a || !*b || !cJSON_IsObject(*a) || !cJSON_IsObject(*b)) {
        cJSON_Delete(*a);
        cJSON_Delete(*b);
        return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    memcpy(text, s, len);
    text[len] = '\0';
    char err[512];
    cJSON *a = NULL, *b = NULL;
    switch (data[0] % 7) {
    case 0: {
        struct selector *sel = label_selector_parse(text, err, sizeof err);
        if (sel) {
            cJSON *obj = cJSON_Parse("{\"metadata\":{\"labels\":{\"app\":\"x\",\"a.b/c\":\"y\"}}}");
            selector_matches(sel, obj);
            cJSON_Delete(obj);
        }
        selector_free(sel);
        break;
    }
    case 1: {
        static const char *const fields[] = {"metadata.name", "status.phase", NULL};
        selector_free(field_selector_parse(text, fields, err, sizeof err));
        break;
    }
    case 2: {
        /* A body as YAML, then checked for unknown fields as every type. */
        cJSON *body = yaml_to_json(s, len, err, sizeof err);
        char field[512];
        for (size_t i = 0; body && RTYPES[i]; i++)
            schema_unknown_field(RTYPES[i], body, field, sizeof field);
        cJSON_Delete(body);
        break;
    }
    case 3:
        cJSON_Delete(proto_access_review((const unsigned char *)s, len));
        break;
    case 4:
        if (two_documents(s, len, &a, &b)) {
            /* As every kind with a schema, and one without. */
            for (const struct openapi_kind *k = OPENAPI_KINDS;; k++) {
                cJSON *c = cJSON_Duplicate(a, 1);
                strategic_merge_patch(c, b, k->schema, err, sizeof err);
                cJSON_Delete(c);
                if (!k->kind)
                    break;
            }
            merge_patch(a, b);
            cJSON_Delete(a);
            cJSON_Delete(b);
        }
        break;
    case 5:
        if (two_documents(s, len, &a, &b)) {
            struct buf conflicts = {0};
            char owner[64] = "";
            cJSON *r = server_side_apply(a, b, "fuzz", 0, "v1", &conflicts, owner, sizeof owner);
            if (r) {
                cJSON *again = server_side_apply(r, b, "other", 1, "v1", &conflicts, owner, sizeof owner);
                cJSON_Delete(again);
            } else {
                cJSON_Delete(a);
            }
            buf_free(&conflicts);
            cJSON_Delete(b);
        }
        break;
    case 6: {
        /* A document, NUL, then a JSON Patch (an array). */
        const char *sep = memchr(s, '\0', len);
        if (!sep)
            break;
        a = cJSON_ParseWithLength(s, (size_t)(sep - s));
        b = cJSON_ParseWithLength(sep + 1, len - (size_t)(sep - s) - 1);
        if (a && b)
            json_patch(a, b, err, sizeof err);
        cJSON_Delete(a);
        cJSON_Delete(b);
        break;
    }
    }
    free(text);
    return 0;
}
