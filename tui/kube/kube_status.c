#include "kube_status.h"

#include <stdio.h>
#include <string.h>

static void copy_json_string(const cJSON *obj, const char *key, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    dst[0] = '\0';
    if (cJSON_IsString(v))
        snprintf(dst, cap, "%s", v->valuestring);
}

bool kube_status_from_json(const cJSON *root, struct kube_status *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!cJSON_IsObject(root) || !cJSON_IsString(kind) || strcmp(kind->valuestring, "Status") != 0)
        return false;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000)
        out->code = code->valueint;
    copy_json_string(root, "status", out->status, sizeof out->status);
    copy_json_string(root, "reason", out->reason, sizeof out->reason);
    copy_json_string(root, "message", out->message, sizeof out->message);
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(root, "details");
    if (cJSON_IsObject(details)) {
        copy_json_string(details, "name", out->details_name, sizeof out->details_name);
        copy_json_string(details, "kind", out->details_kind, sizeof out->details_kind);
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(details, "retryAfterSeconds");
        if (cJSON_IsNumber(ra) && ra->valuedouble > 0 && ra->valuedouble < 86400)
            out->retry_after_seconds = ra->valueint;
    }
    return true;
}

bool kube_status_parse(const char *buf, size_t len, struct kube_status *out)
{
    cJSON *root = cJSON_ParseWithLength(buf, len);
    bool ok = kube_status_from_json(root, out);
    cJSON_Delete(root);
    return ok;
}
