#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugin/config.h"
#include "app.h"
#include "istio.h"

#define WASMPLUGIN_API "/apis/extensions.istio.io/v1alpha1"

/* ---- strict parsers ---- */

bool app_parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool app_parse_percentage(const char *text, double *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0 || v > 100)
        return false;
    *out = v;
    return true;
}

bool app_parse_duration(const char *text, long *seconds)
{
    long total = 0;
    const char *p = text;
    if (!p || !*p)
        return false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        long n = 0;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p++ - '0');
            if (n > APP_POLICY_MAX_FOR_S)
                return false;
        }
        long unit = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : *p == 'd' ? 86400 : 0;
        if (!unit)
            return false;
        p++;
        total += n * unit;
        if (total > APP_POLICY_MAX_FOR_S)
            return false;
    }
    *seconds = total;
    return true;
}

bool app_parse_rfc3339(const char *text, time_t *out)
{
    int y, mo, d, h, mi, s, used = 0;
    if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 19)
        return false;
    const char *p = text + used;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    *out = timegm(&tm);
    return true;
}

void app_format_rfc3339(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- policies as JSON ---- */

static const char *policy_name(const cJSON *policy)
{
    const cJSON *name = app_json_path(policy, "metadata.name");
    return cJSON_IsString(name) && name->valuestring[0] ? name->valuestring : NULL;
}

static long longest_rule_duration(const cJSON *policy)
{
    long longest = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, app_json_path(policy, "spec.rules"))
    {
        const cJSON *d = app_json_path(rule, "fault.duration_seconds");
        if (cJSON_IsNumber(d) && d->valuedouble > longest)
            longest = (long)d->valuedouble;
    }
    return longest;
}

static void set_string(cJSON *object, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(object, key);
    cJSON_AddStringToObject(object, key, value);
}

void app_policy_stamp(cJSON *policy, time_t now, long for_seconds)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(policy, "spec");
    if (!cJSON_IsObject(spec))
        return;
    bool bounded = cJSON_GetObjectItemCaseSensitive(spec, "start_time") ||
                   cJSON_GetObjectItemCaseSensitive(spec, "end_time");
    if (for_seconds <= 0) {
        if (bounded)
            return; /* the author's own bounds */
        for_seconds = longest_rule_duration(policy);
    }
    char stamp[32];
    app_format_rfc3339(now, stamp, sizeof stamp);
    set_string(spec, "start_time", stamp);
    if (for_seconds > 0) {
        app_format_rfc3339(now + for_seconds, stamp, sizeof stamp);
        set_string(spec, "end_time", stamp);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "end_time");
    }
}

static void format_span(long s, char *out, size_t size)
{
    if (s >= 86400)
        snprintf(out, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, size, "%lds", s);
}

void app_policy_window(const cJSON *policy, time_t now, char *out, size_t size)
{
    const cJSON *start = app_json_path(policy, "spec.start_time");
    const cJSON *end = app_json_path(policy, "spec.end_time");
    time_t t;
    char span[32];
    if (cJSON_IsString(start) && app_parse_rfc3339(start->valuestring, &t) && t > now) {
        format_span((long)(t - now), span, sizeof span);
        snprintf(out, size, "not started (in %s)", span);
        return;
    }
    if (cJSON_IsString(end) && app_parse_rfc3339(end->valuestring, &t)) {
        if (t <= now) {
            snprintf(out, size, "expired");
            return;
        }
        format_span((long)(t - now), span, sizeof span);
        snprintf(out, size, "%s left", span);
        return;
    }
    long longest = longest_rule_duration(policy);
    if (longest)
        snprintf(out, size, "%lds per pod (no end time)", longest);
    else
        snprintf(out, size, "no end");
}

static void match_text(const cJSON *m, const char *what, char *out, size_t size)
{
    const char *kinds[] = {"exact", "prefix", "regex"};
    out[0] = '\0';
    for (size_t k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, kinds[k]);
        if (cJSON_IsString(v)) {
            snprintf(out, size, "%s %s %s", what, kinds[k], v->valuestring);
            return;
        }
    }
}

void app_policy_rule_text(const cJSON *rule, char *out, size_t size)
{
    char method[120], path[300], fault[200] = "", part[120];
    size_t used = 0;
    match_text(app_json_path(rule, "match.method"), "method", method, sizeof method);
    match_text(app_json_path(rule, "match.path"), "path", path, sizeof path);
    int headers = cJSON_GetArraySize(app_json_path(rule, "match.headers"));
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rule, "fault");
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(f, "percentage");
    const cJSON *delay = app_json_path(f, "delay.fixed_delay_ms");
    const cJSON *delay_text = app_json_path(f, "delay.fixed_delay");
    const cJSON *status = app_json_path(f, "abort.httpStatus");
    const cJSON *duration = cJSON_GetObjectItemCaseSensitive(f, "duration_seconds");
    if (cJSON_IsNumber(delay))
        used += (size_t)snprintf(fault + used, sizeof fault - used, "delay %gms", delay->valuedouble);
    else if (cJSON_IsString(delay_text))
        used += (size_t)snprintf(fault + used, sizeof fault - used, "delay %s", delay_text->valuestring);
    if (cJSON_IsNumber(status) && used < sizeof fault)
        used += (size_t)snprintf(fault + used, sizeof fault - used, "%sabort %g", used ? " then " : "",
                                 status->valuedouble);
    snprintf(part, sizeof part, "%s%g%%", used ? ", " : "", cJSON_IsNumber(pct) ? pct->valuedouble : 100.0);
    if (used < sizeof fault)
        used += (size_t)snprintf(fault + used, sizeof fault - used, "%s", part);
    if (cJSON_IsNumber(duration) && duration->valuedouble > 0 && used < sizeof fault)
        snprintf(fault + used, sizeof fault - used, ", %gs per pod", duration->valuedouble);
    snprintf(out, size, "%s%s%s%s%s -> %s", method[0] ? method : "", method[0] && path[0] ? ", " : "", path,
             headers ? (method[0] || path[0] ? ", " : "") : "", headers ? "headers" : "",
             fault[0] ? fault : "no fault");
    if (!method[0] && !path[0] && !headers)
        snprintf(out, size, "every request -> %s", fault[0] ? fault : "no fault");
}

/* ---- checking with the plugin's own parser ---- */

bool app_policy_check_config(const char *json, size_t len, char *err, size_t err_size)
{
    char reason[512] = "";
    struct hfi_config *config = hfi_config_parse(json, len, reason, sizeof reason);
    if (config) {
        hfi_config_free(config);
        return true;
    }
    /* "policies[3].spec.rules[0].fault...: why": name the policy. */
    unsigned index;
    int used = 0;
    if (sscanf(reason, "policies[%u]%n", &index, &used) == 1 && used > 0) {
        cJSON *doc = cJSON_ParseWithLength(json, len);
        const char *name = policy_name(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "policies"),
                                                          (int)index));
        const char *rest = reason + used;
        if (*rest == '.')
            rest++;
        if (name)
            snprintf(err, err_size, "policy \"%s\": %s", name, rest);
        else
            snprintf(err, err_size, "policy %u of pluginConfig.policies: %s", index + 1, rest);
        cJSON_Delete(doc);
        return false;
    }
    snprintf(err, err_size, "pluginConfig: %s", reason[0] ? reason : "rejected");
    return false;
}

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
    const char *policy = j->op == APP_POLICY_APPLY ? policy_name(j->policy) : j->name;
    if (j->op == APP_POLICY_REMOVE_ALL)
        job_finish(j, true, resp->http_status, "WasmPlugin %s/%s: all %d policies removed%s%s", j->ns,
                   j->out.wasmplugin, j->out.policies_before, retried, j->note);
    else
        job_finish(j, true, resp->http_status, "WasmPlugin %s/%s: policy %s %s%s%s", j->ns, j->out.wasmplugin,
                   policy, j->op == APP_POLICY_APPLY ? "applied" : "removed", retried, j->note);
}

/* The new policies list after the change, or NULL with a message. */
static cJSON *changed_policies(struct policy_job *j, const cJSON *old, char *msg, size_t msg_size)
{
    if (old && !cJSON_IsArray(old)) {
        snprintf(msg, msg_size, "pluginConfig.policies is not a list");
        return NULL;
    }
    if (j->op == APP_POLICY_REMOVE_ALL)
        return cJSON_CreateArray();
    cJSON *policies = old ? cJSON_Duplicate(old, 1) : cJSON_CreateArray();
    const char *target = j->op == APP_POLICY_APPLY ? policy_name(j->policy) : j->name;
    bool found = false;
    for (int i = cJSON_GetArraySize(policies) - 1; i >= 0; i--) {
        const char *name = policy_name(cJSON_GetArrayItem(policies, i));
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
    const cJSON *wp = NULL, *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j->list, "items"))
    {
        const char *name = policy_name(it);
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
    j->out.object = wp;
    snprintf(j->out.wasmplugin, sizeof j->out.wasmplugin, "%s", policy_name(wp));
    const cJSON *old_config = app_json_path(wp, "spec.pluginConfig");
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(old_config, "policies");
    j->out.policies_before = cJSON_GetArraySize(old);
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
        if (!cJSON_IsObject(j->policy) || !policy_name(j->policy) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j->policy, "spec"))) {
            job_finish(j, false, 0, "the policy must be a JSON object with metadata.name and spec");
            return;
        }
        app_policy_stamp(j->policy, time(NULL), ch->for_seconds);
    }
    job_read(j, 0);
}
