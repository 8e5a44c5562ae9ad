#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "istio.h"

#define WASMPLUGIN_API "/apis/extensions.istio.io/v1alpha1"

/* ---- read, change, check, write; again on 409 ---- */

struct policy_job {
    struct kube_client *client;
    char *ns, *wasmplugin, *name;
    cJSON *policy; /* APPLY, stamped */
    enum app_policy_op op;
    bool dry_run;
    unsigned seed;
    struct app_policy_outcome out;
    cJSON *list;   /* the last read */
    cJSON *config; /* the resulting pluginConfig */
    char note[400]; /* said after success */
    app_policy_done_fn done;
    void *user;
};

static void job_finish(struct policy_job *j, bool ok, long http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_finish(struct policy_job *j, bool ok, long http, const char *fmt, ...)
{
    j->out.result.ok = ok;
    j->out.result.http_status = http;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->out.result.message, sizeof j->out.result.message, fmt, ap);
    va_end(ap);
    j->out.plugin_config = j->config;
    if (j->op != APP_POLICY_READ && !j->dry_run) {
        static const char *const kinds[] = {"", "policy apply", "policy remove", "policy remove --all"};
        char target[300];
        snprintf(target, sizeof target, "WasmPlugin/%s",
                 j->out.wasmplugin[0] ? j->out.wasmplugin : j->wasmplugin ? j->wasmplugin : "");
        cJSON *params = cJSON_CreateObject();
        if (j->op == APP_POLICY_APPLY && j->policy)
            cJSON_AddItemToObject(params, "policy", cJSON_Duplicate(j->policy, 1));
        else if (j->op == APP_POLICY_REMOVE)
            cJSON_AddStringToObject(params, "name", j->name ? j->name : "");
        else if (j->op == APP_POLICY_REMOVE_ALL)
            cJSON_AddNumberToObject(params, "policies", j->out.policies_before);
        struct app_action_record record = {.action = kinds[j->op], .ns = j->ns, .target = target, .params = params,
                                           .result = &j->out.result};
        app_actions_report(&record);
        cJSON_Delete(params);
    }
    j->done(&j->out, j->user);
    cJSON_Delete(j->list);
    cJSON_Delete(j->config);
    cJSON_Delete(j->policy);
    free(j->ns);
    free(j->wasmplugin);
    free(j->name);
    free(j);
}

static char *wasmplugin_path(const char *ns, const char *name)
{
    char *ens = kube_url_escape(ns), *ename = name ? kube_url_escape(name) : NULL, *path = NULL;
    if (ens && (!name || ename) &&
        asprintf(&path, "%s/namespaces/%s/wasmplugins%s%s", WASMPLUGIN_API, ens, name ? "/" : "",
                 name ? ename : "") < 0)
        path = NULL;
    free(ens);
    free(ename);
    return path;
}

static void job_read(struct policy_job *j, long delay_ms);

static void on_patched(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct policy_job *j = user;
    if (resp->http_status == 409 && j->out.conflicts + 1 < APP_POLICY_MAX_ATTEMPTS) {
        /* Another writer came first: read its version, change it again.
         * A random pause keeps parallel writers from colliding in step. */
        j->out.conflicts++;
        job_read(j, 5 + (long)(rand_r(&j->seed) % (unsigned)(20 * j->out.conflicts + 20)));
        return;
    }
    if (resp->error.code != KUBE_OK) {
        if (resp->http_status == 409)
            job_finish(j, false, 409, "WasmPlugin %s/%s: gave up after %d conflicting writes by others: %s", j->ns,
                       j->out.wasmplugin, j->out.conflicts + 1, resp->error.message);
        else
            job_finish(j, false, resp->http_status, "WasmPlugin %s/%s: %s", j->ns, j->out.wasmplugin,
                       resp->error.message);
        return;
    }
    char retried[80] = "";
    if (j->out.conflicts)
        snprintf(retried, sizeof retried, " (read again after %d conflicting write%s)", j->out.conflicts,
                 j->out.conflicts == 1 ? "" : "s");
    const char *policy = j->op == APP_POLICY_APPLY ? app_policy_name(j->policy) : j->name;
    if (j->op == APP_POLICY_REMOVE_ALL && j->out.policies_before == APP_POLICIES_NOT_A_LIST)
        job_finish(j, true, resp->http_status,
                   "WasmPlugin %s/%s: pluginConfig.policies, not a list, replaced by an empty list%s%s", j->ns,
                   j->out.wasmplugin, retried, j->note);
    else if (j->op == APP_POLICY_REMOVE_ALL)
        job_finish(j, true, resp->http_status, "WasmPlugin %s/%s: all %d policies removed%s%s", j->ns,
                   j->out.wasmplugin, j->out.policies_before, retried, j->note);
    else
        job_finish(j, true, resp->http_status, "WasmPlugin %s/%s: policy %s %s%s%s", j->ns, j->out.wasmplugin,
                   policy, j->op == APP_POLICY_APPLY ? "applied" : "removed", retried, j->note);
}

/* The new policies list after the change, or NULL with a message. */
static cJSON *changed_policies(struct policy_job *j, const cJSON *old, char *msg, size_t msg_size)
{
    /* Whatever they are: the plugin keeps enforcing its last accepted
     * policies while it rejects these, and the kill switch must end them. */
    if (j->op == APP_POLICY_REMOVE_ALL)
        return cJSON_CreateArray();
    if (old && !cJSON_IsArray(old)) {
        snprintf(msg, msg_size, "pluginConfig.policies is not a list");
        return NULL;
    }
    cJSON *policies = old ? cJSON_Duplicate(old, 1) : cJSON_CreateArray();
    const char *target = j->op == APP_POLICY_APPLY ? app_policy_name(j->policy) : j->name;
    bool found = false;
    for (int i = cJSON_GetArraySize(policies) - 1; i >= 0; i--) {
        const char *name = app_policy_name(cJSON_GetArrayItem(policies, i));
        if (!name || strcmp(name, target) != 0)
            continue;
        if (j->op == APP_POLICY_APPLY && !found)
            cJSON_ReplaceItemInArray(policies, i, cJSON_Duplicate(j->policy, 1));
        else
            cJSON_DeleteItemFromArray(policies, i);
        found = true;
    }
    if (j->op == APP_POLICY_APPLY && !found)
        cJSON_AddItemToArray(policies, cJSON_Duplicate(j->policy, 1));
    if (j->op == APP_POLICY_REMOVE && !found) {
        snprintf(msg, msg_size, "no policy named %s", target);
        cJSON_Delete(policies);
        return NULL;
    }
    return policies;
}

/* A change to "the namespace's WasmPlugin" when it has several: the first
 * by name may be another plugin altogether (its pluginConfig takes the
 * policies, which then inject nothing), and Istio applies them all
 * (istio/istio pilot/pkg/model/push_context.go WasmPluginsByListenerInfo),
 * so none of them is the one: the change is refused, naming them. */
static bool wasmplugins_ambiguous(struct policy_job *j)
{
    char names[300] = "";
    size_t used = 0;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j->out.items)
    {
        const char *name = app_policy_name(it);
        if (!name)
            continue;
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", n ? ", " : "", name);
        n++;
    }
    if (n > 1)
        job_finish(j, false, 0, "namespace %s has %d WasmPlugins (%s): say which one with --wasmplugin NAME; "
                                "nothing written", j->ns, n, names);
    return n > 1;
}

static void on_read(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct policy_job *j = user;
    if (resp->error.code != KUBE_OK) {
        job_finish(j, false, resp->http_status, "%s", resp->error.message);
        return;
    }
    cJSON_Delete(j->list);
    j->list = cJSON_ParseWithLength(resp->body, resp->body_len);
    j->out.items = cJSON_GetObjectItemCaseSensitive(j->list, "items");
    const cJSON *wp = NULL, *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j->list, "items"))
    {
        const char *name = app_policy_name(it);
        if (name && (!j->wasmplugin || strcmp(name, j->wasmplugin) == 0)) {
            wp = it;
            break;
        }
    }
    if (!wp) {
        job_finish(j, false, 0, "no WasmPlugin%s%s in namespace %s", j->wasmplugin ? " " : "",
                   j->wasmplugin ? j->wasmplugin : "", j->ns);
        return;
    }
    if (!j->wasmplugin && (j->op == APP_POLICY_APPLY || j->op == APP_POLICY_REMOVE) && wasmplugins_ambiguous(j))
        return;
    j->out.object = wp;
    snprintf(j->out.wasmplugin, sizeof j->out.wasmplugin, "%s", app_policy_name(wp));
    const cJSON *old_config = app_json_path(wp, "spec.pluginConfig");
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(old_config, "policies");
    j->out.policies_before = app_policy_count(wp);
    if (j->op == APP_POLICY_READ) {
        cJSON_Delete(j->config);
        j->config = cJSON_IsObject(old_config) ? cJSON_Duplicate(old_config, 1) : NULL;
        j->out.policies_after = j->out.policies_before;
        job_finish(j, true, resp->http_status, "WasmPlugin %s/%s: %d policies", j->ns, j->out.wasmplugin,
                   j->out.policies_before);
        return;
    }
    char msg[600];
    cJSON *policies = changed_policies(j, old, msg, sizeof msg);
    if (!policies) {
        job_finish(j, false, 0, "%s", msg);
        return;
    }
    j->out.policies_after = cJSON_GetArraySize(policies);
    cJSON_Delete(j->config);
    j->config = cJSON_IsObject(old_config) ? cJSON_Duplicate(old_config, 1) : cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(j->config, "policies");
    cJSON_AddItemToObject(j->config, "policies", policies);
    char *text = cJSON_PrintUnformatted(j->config);
    if (!text) {
        job_finish(j, false, 0, "out of memory");
        return;
    }
    char why[600];
    bool valid = app_policy_check_config(text, strlen(text), why, sizeof why);
    free(text);
    j->note[0] = '\0';
    if (!valid && j->op == APP_POLICY_APPLY) {
        job_finish(j, false, 0,
                   "refused, nothing written: the plugin would reject the whole configuration of WasmPlugin %s/%s: "
                   "%s",
                   j->ns, j->out.wasmplugin, why);
        return;
    }
    if (!valid) /* removing never makes it worse: never block a removal */
        snprintf(j->note, sizeof j->note, "; the plugin still rejects the rest: %s", why);
    if (j->dry_run) {
        job_finish(j, true, 0, "WasmPlugin %s/%s: dry run, nothing written: %d policies before, %d after%s", j->ns,
                   j->out.wasmplugin, j->out.policies_before, j->out.policies_after, j->note);
        return;
    }
    /* A merge patch replaces arrays whole; the resourceVersion read makes a
     * concurrent write fail with 409 instead of being lost. */
    cJSON *patch = cJSON_CreateObject();
    const cJSON *rv = app_json_path(wp, "metadata.resourceVersion");
    cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
    if (cJSON_IsString(rv))
        cJSON_AddStringToObject(meta, "resourceVersion", rv->valuestring);
    cJSON *pc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "spec"), "pluginConfig");
    cJSON_AddItemToObject(pc, "policies", cJSON_Duplicate(policies, 1));
    char *body = cJSON_PrintUnformatted(patch);
    cJSON_Delete(patch);
    char *path = wasmplugin_path(j->ns, j->out.wasmplugin);
    struct kube_request *r = body && path ? kube_client_patch(j->client, path, KUBE_PATCH_MERGE, body, strlen(body),
                                                              NULL, false, on_patched, j)
                                          : NULL;
    free(body);
    free(path);
    if (!r)
        job_finish(j, false, 0, "cannot start the request (out of memory)");
}

static void job_read(struct policy_job *j, long delay_ms)
{
    char *path = wasmplugin_path(j->ns, NULL);
    struct kube_request_options o = {.method = KUBE_GET, .path = path, .timeout_ms = 30000, .delay_ms = delay_ms};
    if (!path || !kube_client_start(j->client, &o, on_read, j)) {
        free(path);
        job_finish(j, false, 0, "cannot start the request (out of memory)");
        return;
    }
    free(path);
}

void app_policy_change(struct kube_client *c, const struct app_policy_change *ch, app_policy_done_fn done,
                       void *user)
{
    struct policy_job *j = calloc(1, sizeof *j);
    if (!j) {
        struct app_policy_outcome out = {.result = {.ok = false}};
        snprintf(out.result.message, sizeof out.result.message, "out of memory");
        done(&out, user);
        return;
    }
    j->client = c;
    j->op = ch->op;
    j->dry_run = ch->dry_run;
    j->done = done;
    j->user = user;
    j->seed = (unsigned)app_now_ms() ^ ((unsigned)getpid() << 16);
    j->ns = strdup(ch->ns ? ch->ns : "default");
    j->wasmplugin = ch->wasmplugin ? strdup(ch->wasmplugin) : NULL;
    j->name = ch->name ? strdup(ch->name) : NULL;
    if (!j->ns || (ch->wasmplugin && !j->wasmplugin) || (ch->name && !j->name)) {
        job_finish(j, false, 0, "out of memory");
        return;
    }
    if (ch->op == APP_POLICY_REMOVE && (!ch->name || !ch->name[0])) {
        job_finish(j, false, 0, "which policy? a name is needed");
        return;
    }
    if (ch->op == APP_POLICY_APPLY) {
        j->policy = ch->policy_json ? cJSON_Parse(ch->policy_json) : NULL;
        if (!cJSON_IsObject(j->policy) || !app_policy_name(j->policy) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j->policy, "spec"))) {
            job_finish(j, false, 0, "the policy must be a JSON object with metadata.name and spec");
            return;
        }
        app_policy_stamp(j->policy, time(NULL), ch->for_seconds);
    }
    job_read(j, 0);
}
