#include "istio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kube/kube_util.h"

const char *app_object_name(const cJSON *obj)
{
    const cJSON *name = app_json_path(obj, "metadata.name");
    return cJSON_IsString(name) && name->valuestring[0] ? name->valuestring : NULL;
}

const cJSON *app_json_path(const cJSON *root, const char *dotted)
{
    const cJSON *at = root;
    const char *p = dotted;
    while (at && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        const cJSON *next = NULL;
        for (const cJSON *child = cJSON_IsObject(at) ? at->child : NULL; child; child = child->next)
            if (child->string && strlen(child->string) == len && memcmp(child->string, p, len) == 0) {
                next = child;
                break;
            }
        at = next;
        p = dot ? dot + 1 : p + len;
    }
    return at;
}

static bool labels_match(const cJSON *match_labels, const struct kube_pod *pod)
{
    const cJSON *want;
    cJSON_ArrayForEach(want, match_labels)
    {
        const char *have = kube_pod_label(pod, want->string);
        if (!cJSON_IsString(want) || !have || strcmp(have, want->valuestring) != 0)
            return false;
    }
    return true;
}

static bool target_refs_match(const cJSON *refs, const struct kube_pod *pod)
{
    if (cJSON_GetArraySize(refs) == 0)
        return true;
    const char *app = kube_pod_label(pod, "app");
    const cJSON *ref;
    cJSON_ArrayForEach(ref, refs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ref, "name");
        if (!cJSON_IsString(name))
            continue;
        if ((pod->deployment && strcmp(name->valuestring, pod->deployment) == 0) ||
            (app && strcmp(name->valuestring, app) == 0))
            return true;
    }
    return false;
}

const cJSON *app_wasmplugin_for_pod(const cJSON *items, const struct kube_pod *pod)
{
    const cJSON *wp;
    cJSON_ArrayForEach(wp, items)
    {
        const cJSON *selector = app_json_path(wp, "spec.selector.matchLabels");
        if (selector && !labels_match(selector, pod))
            continue;
        if (!target_refs_match(app_json_path(wp, "spec.targetRefs"), pod))
            continue;
        return wp;
    }
    return NULL;
}

bool app_wasmplugin_header_faults(const cJSON *wasmplugin, const char **token)
{
    const cJSON *hf = app_json_path(wasmplugin, "spec.pluginConfig.header_faults");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(hf, "token");
    if (token)
        *token = cJSON_IsString(t) ? t->valuestring : NULL;
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hf, "enabled"));
}

bool app_envoyfilter_patches_bootstrap(const cJSON *ef, const struct kube_pod *pod)
{
    const cJSON *selector = app_json_path(ef, "spec.workloadSelector.labels");
    if (selector && !labels_match(selector, pod))
        return false;
    const cJSON *patch;
    cJSON_ArrayForEach(patch, app_json_path(ef, "spec.configPatches"))
    {
        const cJSON *apply_to = cJSON_GetObjectItemCaseSensitive(patch, "applyTo");
        const cJSON *op = app_json_path(patch, "patch.operation");
        if (cJSON_IsString(apply_to) && strcmp(apply_to->valuestring, "BOOTSTRAP") == 0 && cJSON_IsString(op) &&
            strcmp(op->valuestring, "MERGE") == 0)
            return true;
    }
    return false;
}

time_t app_object_created(const cJSON *object)
{
    const cJSON *ts = app_json_path(object, "metadata.creationTimestamp");
    struct timespec t;
    return cJSON_IsString(ts) && kube_parse_rfc3339(ts->valuestring, strlen(ts->valuestring), &t) ? t.tv_sec : 0;
}

/* ---- fetching ---- */

struct fetch {
    struct app_istio_resources *res;
    bool envoyfilters;
};

static void on_list_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct fetch *f = user;
    struct app_istio_resources *res = f->res;
    res->pending--;
    cJSON **into = f->envoyfilters ? &res->envoyfilters : &res->wasmplugins;
    cJSON *list = resp->error.code == KUBE_OK ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
    if (cJSON_IsArray(items)) {
        if (!*into)
            *into = cJSON_CreateArray();
        /* Only objects with a name can be shown, chosen or patched: a
         * server's item without a string metadata.name is dropped here,
         * once, for the console, doctor and the actions alike. */
        while (*into && items->child) {
            cJSON *item = cJSON_DetachItemViaPointer(items, items->child);
            if (app_object_name(item))
                cJSON_AddItemToArray(*into, item);
            else
                cJSON_Delete(item);
        }
    } else if (res->error.code == KUBE_OK) {
        res->error = resp->error;
        if (resp->error.code == KUBE_OK)
            kube_error_set(&res->error, KUBE_HTTP_OTHER, "%s: not a list",
                           f->envoyfilters ? "envoyfilters" : "wasmplugins");
        if (resp->http_status == 401)
            res->failed_401 = true;
    }
    cJSON_Delete(list);
    free(f);
}

static void start_list(struct kube_client *client, const char *fmt, const char *ns, bool envoyfilters,
                       struct app_istio_resources *res)
{
    char *escaped = kube_url_escape(ns), *path = NULL;
    struct fetch *f = calloc(1, sizeof *f);
    if (escaped && f && asprintf(&path, fmt, escaped) >= 0) {
        f->res = res;
        f->envoyfilters = envoyfilters;
        if (kube_client_get(client, path, on_list_done, f)) {
            res->pending++;
            f = NULL;
        }
    }
    free(f);
    free(path);
    free(escaped);
}

void app_istio_fetch(struct kube_client *client, const char *ns, struct app_istio_resources *res)
{
    memset(res, 0, sizeof *res);
    start_list(client, APP_WASMPLUGINS_PATH_FMT, ns, false, res);
    start_list(client, APP_ENVOYFILTERS_PATH_FMT, ns, true, res);
    if (strcmp(ns, APP_ISTIO_ROOT_NAMESPACE) != 0) {
        start_list(client, APP_WASMPLUGINS_PATH_FMT, APP_ISTIO_ROOT_NAMESPACE, false, res);
        start_list(client, APP_ENVOYFILTERS_PATH_FMT, APP_ISTIO_ROOT_NAMESPACE, true, res);
    }
}

void app_istio_resources_free(struct app_istio_resources *res)
{
    cJSON_Delete(res->wasmplugins);
    cJSON_Delete(res->envoyfilters);
    res->wasmplugins = res->envoyfilters = NULL;
}
