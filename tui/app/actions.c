#include "actions.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kube/kube_yaml.h"
#include "app.h"
#include "istio.h"
#include "policy.h"

#define PROXY_CONFIG_ANNOTATION "proxy.istio.io/config"
#define RESTARTED_AT_ANNOTATION "kubectl.kubernetes.io/restartedAt"

/* One action in flight: what it works on and whom to tell. */
struct action {
    struct kube_client *client;
    char *ns, *name;
    char *extra; /* the success message */
    int conflicts; /* 409s answered by reading again */
    app_action_done_fn done;
    void *user;
    /* What the observer is told at the end. */
    const char *kind;
    char *target;
    cJSON *params;
};

static app_action_observer_fn action_observer;
static void *action_observer_user;

void app_actions_observe(app_action_observer_fn fn, void *user)
{
    action_observer = fn;
    action_observer_user = user;
}

void app_actions_report(const struct app_action_record *record)
{
    if (action_observer)
        action_observer(record, action_observer_user);
}

static void result_set(struct app_action_result *r, bool ok, long http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void result_set(struct app_action_result *r, bool ok, long http, const char *fmt, ...)
{
    r->ok = ok;
    r->http_status = http;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void action_free(struct action *a)
{
    free(a->ns);
    free(a->name);
    free(a->extra);
    free(a->target);
    cJSON_Delete(a->params);
    free(a);
}

/* Every action ends here: the observer first, then the caller. */
static void action_finish(struct action *a, const struct app_action_result *r)
{
    if (a->kind) {
        struct app_action_record record = {.action = a->kind, .ns = a->ns, .target = a->target,
                                           .params = a->params, .result = r};
        app_actions_report(&record);
    }
    a->done(r, a->user);
    action_free(a);
}

/* What the action is, for the observer: its kind, "KIND/NAME" as the
 * target, and parameters (taken over; may be NULL). */
static void action_describe(struct action *a, const char *kind, const char *target_kind, const char *target_name,
                            cJSON *params)
{
    a->kind = kind;
    if (asprintf(&a->target, "%s/%s", target_kind, target_name ? target_name : "") < 0)
        a->target = NULL;
    a->params = params;
}

static void action_fail(struct action *a, long http, const char *what)
{
    struct app_action_result r;
    result_set(&r, false, http, "%s", what);
    action_finish(a, &r);
}

/* Why a namespace or object name cannot go into an API path, worded as
 * client-go refuses it before sending (rest/request.go Namespace, Name);
 * false when it can. "." or ".." would address another resource. */
static bool name_refused(const char *ns, const char *name, char *msg, size_t size)
{
    const char *why = kube_name_problem(ns);
    if (why) {
        snprintf(msg, size, "invalid namespace \"%s\": %s", ns, why);
        return true;
    }
    why = name ? kube_name_problem(name) : NULL;
    if (why)
        snprintf(msg, size, "invalid resource name \"%s\": %s", name, why);
    return why != NULL;
}

static struct action *action_new(struct kube_client *c, const char *ns, const char *name, app_action_done_fn done,
                                 void *user)
{
    struct action *a = calloc(1, sizeof *a);
    if (!a) {
        struct app_action_result r;
        result_set(&r, false, 0, "out of memory");
        done(&r, user);
        return NULL;
    }
    a->client = c;
    a->ns = strdup(ns ? ns : "default");
    a->name = name ? strdup(name) : NULL;
    a->done = done;
    a->user = user;
    char why[400];
    if (a->ns && name_refused(a->ns, name, why, sizeof why)) {
        action_fail(a, 0, why);
        return NULL;
    }
    return a;
}

/* An API path with the namespace and name escaped. */
static char *object_path(const char *prefix, const char *ns, const char *plural, const char *name)
{
    char *ens = kube_url_escape(ns), *ename = name ? kube_url_escape(name) : NULL, *path = NULL;
    if (ens && (!name || ename) &&
        asprintf(&path, "%s/namespaces/%s/%s%s%s", prefix, ens, plural, name ? "/" : "", name ? ename : "") < 0)
        path = NULL;
    free(ens);
    free(ename);
    return path;
}

static bool started_or_failed(struct action *a, struct kube_request *req)
{
    if (req)
        return true;
    action_fail(a, 0, "cannot start the request (out of memory)");
    return false;
}

/* ---- EnvoyFilter ---- */

#define ENVOYFILTER_API "/apis/networking.istio.io/v1alpha3"

/* The manifest as JSON with metadata.namespace = ns; NULL and a message
 * when it is not one EnvoyFilter with a name. */
static cJSON *envoyfilter_object(const char *ns, const char *manifest, size_t len, char *err, size_t err_size)
{
    cJSON *obj = kube_yaml_parse(manifest, len, err, err_size);
    if (!obj)
        return NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const cJSON *name = app_json_path(obj, "metadata.name");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "EnvoyFilter") != 0 || !cJSON_IsString(name) ||
        !cJSON_IsObject(meta)) {
        snprintf(err, err_size, "not an EnvoyFilter with metadata.name");
        cJSON_Delete(obj);
        return NULL;
    }
    if (name_refused(ns, name->valuestring, err, err_size)) {
        cJSON_Delete(obj);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    cJSON_AddStringToObject(meta, "namespace", ns);
    return obj;
}

static void on_simple_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct action *a = user;
    struct app_action_result r;
    if (resp->error.code == KUBE_OK)
        result_set(&r, true, resp->http_status, "%s", a->extra);
    else
        result_set(&r, false, resp->http_status, "%s", resp->error.message);
    action_finish(a, &r);
}

/* A new action with the manifest's object in *obj; NULL (the action
 * failed and reported) when the manifest is not an EnvoyFilter. */
static struct action *envoyfilter_action(struct kube_client *c, const char *ns, const char *manifest, size_t len,
                                         app_action_done_fn done, void *user, cJSON **obj)
{
    struct action *a = action_new(c, ns, NULL, done, user);
    if (!a)
        return NULL;
    char err[256];
    *obj = envoyfilter_object(a->ns, manifest, len, err, sizeof err);
    if (!*obj) {
        char msg[320];
        snprintf(msg, sizeof msg, "EnvoyFilter manifest: %s", err);
        action_fail(a, 0, msg);
        return NULL;
    }
    return a;
}

static void on_envoyfilter_applied(struct kube_request *req, const struct kube_response *resp, void *user)
{
    struct action *a = user;
    if (resp->http_status != 409) {
        on_simple_done(req, resp, user);
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s; nothing changed: hfitop does not take over fields another manager set (kubectl apply "
             "--server-side --force-conflicts would)",
             resp->error.message);
    action_fail(a, resp->http_status, msg);
}

bool app_envoyfilter_name(const char *ns, const char *manifest, size_t len, char *name, size_t name_size, char *err,
                          size_t err_size)
{
    cJSON *obj = envoyfilter_object(ns, manifest, len, err, err_size);
    if (obj)
        snprintf(name, name_size, "%s", app_json_path(obj, "metadata.name")->valuestring);
    cJSON_Delete(obj);
    return obj != NULL;
}

void app_envoyfilter_apply(struct kube_client *c, const char *ns, const char *manifest, size_t len,
                           app_action_done_fn done, void *user)
{
    cJSON *obj;
    struct action *a = envoyfilter_action(c, ns, manifest, len, done, user, &obj);
    if (!a)
        return;
    const char *name = app_json_path(obj, "metadata.name")->valuestring;
    action_describe(a, "envoyfilter apply", "EnvoyFilter", name, NULL);
    char *body = cJSON_PrintUnformatted(obj);
    char *path = object_path(ENVOYFILTER_API, a->ns, "envoyfilters", name);
    if (asprintf(&a->extra, "EnvoyFilter %s/%s applied", a->ns, name) < 0)
        a->extra = NULL;
    cJSON_Delete(obj);
    if (!body || !path || !a->extra) {
        free(body);
        free(path);
        action_fail(a, 0, "out of memory");
        return;
    }
    /* JSON is YAML: the apply content type takes it as it is. Not forced,
     * as kubectl applies (--force-conflicts defaults to false, kubectl
     * pkg/cmd/util/helpers.go AddServerSideApplyFlags): fields another
     * manager set to other values are a 409 naming them, not taken over
     * without anyone having confirmed it. */
    struct kube_request *req = kube_client_patch(c, path, KUBE_PATCH_APPLY, body, strlen(body), APP_FIELD_MANAGER,
                                                 false, on_envoyfilter_applied, a);
    free(body);
    free(path);
    started_or_failed(a, req);
}

static void on_envoyfilter_deleted(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct action *a = user;
    struct app_action_result r;
    if (resp->error.code == KUBE_OK)
        result_set(&r, true, resp->http_status, "EnvoyFilter %s/%s deleted", a->ns, a->name);
    else if (resp->http_status == 404)
        result_set(&r, true, resp->http_status, "EnvoyFilter %s/%s was not there", a->ns, a->name);
    else if (resp->http_status == 409 && a->extra)
        result_set(&r, false, resp->http_status,
                   "EnvoyFilter %s/%s changed since it was shown (resourceVersion %s), nothing deleted: %s", a->ns,
                   a->name, a->extra, resp->error.message);
    else
        result_set(&r, false, resp->http_status, "%s", resp->error.message);
    action_finish(a, &r);
}

void app_envoyfilter_delete(struct kube_client *c, const char *ns, const char *manifest, size_t len,
                            const char *uid, const char *resource_version, app_action_done_fn done, void *user)
{
    cJSON *obj;
    struct action *a = envoyfilter_action(c, ns, manifest, len, done, user, &obj);
    if (!a)
        return;
    a->name = strdup(app_json_path(obj, "metadata.name")->valuestring);
    action_describe(a, "envoyfilter delete", "EnvoyFilter", a->name, NULL);
    cJSON_Delete(obj);
    char *path = a->name ? object_path(ENVOYFILTER_API, a->ns, "envoyfilters", a->name) : NULL;
    if (!path) {
        action_fail(a, 0, "out of memory");
        return;
    }
    /* DeleteOptions preconditions: the API server deletes only an object
     * with this uid and resourceVersion, else answers 409 Conflict
     * (apiserver pkg/registry/rest/delete.go BeforeDelete; apimachinery
     * meta/v1 Preconditions). */
    char *body = NULL;
    if (uid && resource_version) {
        cJSON *options = cJSON_CreateObject();
        cJSON_AddStringToObject(options, "kind", "DeleteOptions");
        cJSON_AddStringToObject(options, "apiVersion", "v1");
        cJSON *pre = cJSON_AddObjectToObject(options, "preconditions");
        cJSON_AddStringToObject(pre, "uid", uid);
        cJSON_AddStringToObject(pre, "resourceVersion", resource_version);
        body = cJSON_PrintUnformatted(options);
        cJSON_Delete(options);
        a->extra = strdup(resource_version);
        if (!body || !a->extra) {
            free(body);
            free(path);
            action_fail(a, 0, "out of memory");
            return;
        }
    }
    struct kube_request_options o = {.method = KUBE_DELETE, .path = path, .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .content_type = body ? "application/json" : NULL, .timeout_ms = 30000};
    struct kube_request *req = kube_client_start(c, &o, on_envoyfilter_deleted, a);
    free(body);
    free(path);
    started_or_failed(a, req);
}

/* ---- deployments ---- */

/* A strategic-merge patch setting one annotation of the pod template;
 * with resource_version, only onto the deployment as it was read: the API
 * server applies a patch to the stored object and refuses the result with
 * 409 Conflict when its resourceVersion is no longer the stored one
 * (apiserver endpoints/handlers/patch.go patcher.applyPatch, inside
 * registry/generic/registry/store.go Store.Update). done gets the answer. */
static void patch_deployment(struct action *a, const char *annotation, const char *value,
                             const char *resource_version, kube_done_fn done)
{
    cJSON *patch = cJSON_CreateObject();
    if (resource_version)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "metadata"), "resourceVersion", resource_version);
    cJSON *meta = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "spec"), "template"), "metadata");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "annotations"), annotation, value);
    char *body = cJSON_PrintUnformatted(patch);
    cJSON_Delete(patch);
    char *path = object_path("/apis/apps/v1", a->ns, "deployments", a->name);
    struct kube_request *req = NULL;
    if (body && path)
        req = kube_client_patch(a->client, path, KUBE_PATCH_STRATEGIC, body, strlen(body), NULL, false, done, a);
    free(body);
    free(path);
    started_or_failed(a, req);
}

void app_restart_deployment(struct kube_client *c, const char *ns, const char *deployment,
                            app_action_done_fn done, void *user)
{
    struct action *a = action_new(c, ns, deployment, done, user);
    if (!a)
        return;
    action_describe(a, "restart", "deployment", a->name, NULL);
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (asprintf(&a->extra, "deployment %s/%s restarted at %s", a->ns, a->name, now) < 0) {
        a->extra = NULL;
        action_fail(a, 0, "out of memory");
        return;
    }
    patch_deployment(a, RESTARTED_AT_ANNOTATION, now, NULL, on_simple_done);
}

/* Reads of the deployment before the annotate action gives up on others
 * changing it between its read and its write. */
#define ANNOTATE_MAX_ATTEMPTS 5

static void read_deployment(struct action *a);

/* A 409: the deployment changed after it was read (someone may have set
 * their own proxy.istio.io/config meanwhile): read it again, judge again. */
static void on_annotated(struct kube_request *req, const struct kube_response *resp, void *user)
{
    struct action *a = user;
    if (resp->http_status == 409 && ++a->conflicts < ANNOTATE_MAX_ATTEMPTS) {
        free(a->extra);
        a->extra = NULL;
        read_deployment(a);
        return;
    }
    on_simple_done(req, resp, user);
}

static void on_deployment_read(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct action *a = user;
    if (resp->error.code != KUBE_OK) {
        action_fail(a, resp->http_status, resp->error.message);
        return;
    }
    cJSON *d = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *current = cJSON_GetObjectItemCaseSensitive(
        (cJSON *)app_json_path(d, "spec.template.metadata.annotations"), PROXY_CONFIG_ANNOTATION);
    if (cJSON_IsString(current) && strstr(current->valuestring, "wasmcustom.")) {
        struct app_action_result r;
        result_set(&r, true, resp->http_status, "deployment %s/%s already includes wasmcustom. stats", a->ns,
                   a->name);
        cJSON_Delete(d);
        action_finish(a, &r);
        return;
    }
    if (cJSON_IsString(current) && current->valuestring[0]) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "deployment %s/%s already has a %s annotation: add inclusionPrefixes [\"wasmcustom.\"] to its "
                 "proxyStatsMatcher by hand",
                 a->ns, a->name, PROXY_CONFIG_ANNOTATION);
        cJSON_Delete(d);
        action_fail(a, 0, msg);
        return;
    }
    const cJSON *rv = app_json_path(d, "metadata.resourceVersion");
    char *version = cJSON_IsString(rv) ? strdup(rv->valuestring) : NULL;
    cJSON_Delete(d);
    if (!version || asprintf(&a->extra, "deployment %s/%s annotated; it rolls out new pods", a->ns, a->name) < 0) {
        a->extra = NULL;
        free(version);
        action_fail(a, 0, version ? "out of memory" : "the deployment as read has no metadata.resourceVersion");
        return;
    }
    patch_deployment(a, PROXY_CONFIG_ANNOTATION, APP_STATS_INCLUSION_CONFIG, version, on_annotated);
    free(version);
}

static void read_deployment(struct action *a)
{
    char *path = object_path("/apis/apps/v1", a->ns, "deployments", a->name);
    struct kube_request *req = path ? kube_client_get(a->client, path, on_deployment_read, a) : NULL;
    free(path);
    started_or_failed(a, req);
}

void app_annotate_stats_inclusion(struct kube_client *c, const char *ns, const char *deployment,
                                  app_action_done_fn done, void *user)
{
    struct action *a = action_new(c, ns, deployment, done, user);
    if (!a)
        return;
    action_describe(a, "annotate", "deployment", a->name, NULL);
    read_deployment(a);
}

#define WASMPLUGIN_API "/apis/extensions.istio.io/v1alpha1"

/* ---- firing test faults ---- */

struct fire {
    struct kube_client *client;
    struct app_fire_options opt;
    char *ns, *target, *path, *proxy_base;
    char *token;
    char *headers[2]; /* the fault, then the token */
    char refusal[256]; /* the API server's first refusal */
    int started, inflight;
    /* Told to stop (hfitop quits): no further request goes out. */
    bool cancelled;
    double *latencies;
    struct app_fire_tally tally;
    app_fire_done_fn done;
    void *user;
};

struct fire_call {
    struct fire *fire;
    int64_t started_ms;
    int throttled; /* 429s this call has met */
};

/* The plugin's default cap on a header-asked delay (its README). */
#define HEADER_FAULTS_DEFAULT_MAX_DELAY_MS 30000
/* Retries of one request the API server throttled. */
#define FIRE_MAX_THROTTLED 5

static bool fire_start_call(struct fire *f, struct fire_call *call, long delay_ms);

static void fire_free(struct fire *f)
{
    free(f->ns);
    free(f->target);
    free(f->path);
    free(f->proxy_base);
    if (f->token) {
        /* The token is a credential: do not leave it in freed memory. */
        memset(f->token, 0, strlen(f->token));
        free(f->token);
    }
    for (int i = 0; i < 2; i++) {
        if (f->headers[i])
            memset(f->headers[i], 0, strlen(f->headers[i]));
        free(f->headers[i]);
    }
    free(f->latencies);
    free(f);
}

static void fire_end(struct fire *f, bool ok, long http, const char *msg)
{
    struct app_action_result r;
    result_set(&r, ok, http, "%s", msg);
    char target[300];
    snprintf(target, sizeof target, "%s/%s", f->opt.pod ? "pod" : "service", f->target ? f->target : "");
    cJSON *params = cJSON_CreateObject();
    if (f->opt.abort_status)
        cJSON_AddNumberToObject(params, "abort_status", f->opt.abort_status);
    if (f->opt.delay_ms)
        cJSON_AddNumberToObject(params, "delay_ms", (double)f->opt.delay_ms);
    cJSON_AddNumberToObject(params, "count", f->opt.count);
    cJSON_AddStringToObject(params, "path", f->path ? f->path : "/");
    struct app_action_record record = {.action = "fire", .ns = f->ns ? f->ns : "", .target = target,
                                       .params = params, .result = &r, .tally = &f->tally};
    app_actions_report(&record);
    cJSON_Delete(params);
    f->done(&r, &f->tally, f->user);
    fire_free(f);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, int n, double q)
{
    if (n <= 0)
        return NAN;
    int rank = (int)ceil(q * n);
    return sorted[rank < 1 ? 0 : rank - 1];
}

void app_fire_tally_statuses(const struct app_fire_tally *t, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < t->n_statuses && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%d x%d", i ? ", " : "", t->statuses[i].code,
                                 t->statuses[i].count);
    if (t->transport_errors && used < size)
        snprintf(out + used, size - used, "%sno answer x%d", used ? ", " : "", t->transport_errors);
}

static void fire_next(struct fire *f);

static void on_fire_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct fire_call *call = user;
    struct fire *f = call->fire;
    f->inflight--;
    /* An answer that will not be awaited (kube_client_cancel_pending):
     * stop here rather than start the next request in its place. */
    if (resp->error.code == KUBE_CANCELLED)
        f->cancelled = true;
    if (!f->cancelled && resp->has_status && resp->status.code == 429 && call->throttled < FIRE_MAX_THROTTLED) {
        /* The API server's own throttling (a Status, not the pod's
         * answer): wait as told, then send the same request again. */
        call->throttled++;
        f->tally.throttled++;
        long wait_ms = resp->status.retry_after_seconds > 0 ? resp->status.retry_after_seconds * 1000L : 1000;
        if (fire_start_call(f, call, wait_ms)) {
            f->inflight++;
            return;
        }
    }
    if (resp->has_status && resp->status.code >= 400) {
        /* A Status object is the API server's own answer: the request
         * never reached the pod. */
        if (!f->tally.refused++)
            snprintf(f->refusal, sizeof f->refusal, "%s", resp->error.message);
    } else if (resp->http_status > 0) {
        f->latencies[f->tally.answered++] = (double)(app_now_ms() - call->started_ms);
        int i = 0;
        while (i < f->tally.n_statuses && f->tally.statuses[i].code != (int)resp->http_status)
            i++;
        if (i == f->tally.n_statuses && i < APP_FIRE_MAX_STATUSES) {
            f->tally.statuses[i].code = (int)resp->http_status;
            f->tally.n_statuses++;
        }
        if (i < APP_FIRE_MAX_STATUSES)
            f->tally.statuses[i].count++;
        if (f->opt.abort_status && resp->http_status == f->opt.abort_status)
            f->tally.aborted++;
        /* Both ends count on their own clocks: allow a tenth. */
        if (f->opt.abort_status ? resp->http_status == f->opt.abort_status
                                : app_now_ms() - call->started_ms >= f->tally.delay_applied_ms * 9 / 10)
            f->tally.faulted++;
    } else {
        f->tally.transport_errors++;
    }
    free(call);
    fire_next(f);
}

/* Never the client's own retries: a 5xx or 429 from the pod may be the
 * very fault asked for; only the API server's 429 is retried (above). */
static bool fire_start_call(struct fire *f, struct fire_call *call, long delay_ms)
{
    call->started_ms = app_now_ms() + delay_ms;
    const char *headers[3] = {f->headers[0], f->headers[1], NULL};
    struct kube_request_options o = {.method = KUBE_GET, .path = f->proxy_base, .timeout_ms = f->opt.timeout_ms,
                                     .max_retries = -1, .extra_headers = headers, .delay_ms = delay_ms};
    return kube_client_start(f->client, &o, on_fire_done, call) != NULL;
}

static void fire_next(struct fire *f)
{
    while (!f->cancelled && f->started < f->opt.count && f->inflight < f->opt.max_inflight) {
        struct fire_call *call = calloc(1, sizeof *call);
        if (!call)
            break;
        call->fire = f;
        if (!fire_start_call(f, call, 0)) {
            free(call);
            break;
        }
        f->started++;
        f->tally.sent++;
        f->inflight++;
    }
    if (f->inflight)
        return;
    qsort(f->latencies, (size_t)f->tally.answered, sizeof *f->latencies, compare_double);
    f->tally.p50_ms = percentile(f->latencies, f->tally.answered, 0.50);
    f->tally.p95_ms = percentile(f->latencies, f->tally.answered, 0.95);
    f->tally.max_ms = f->tally.answered ? f->latencies[f->tally.answered - 1] : NAN;
    char statuses[256], msg[512], capped[160] = "";
    app_fire_tally_statuses(&f->tally, statuses, sizeof statuses);
    if (f->opt.delay_ms > f->tally.delay_applied_ms)
        snprintf(capped, sizeof capped, "; delay capped at %ld ms by pluginConfig.header_faults.max_delay_ms (asked %ld)",
                 f->tally.delay_applied_ms, f->opt.delay_ms);
    const char *kind = f->opt.pod ? "pod" : "service";
    bool none_faulted = f->tally.answered && !f->tally.faulted;
    if (f->cancelled)
        snprintf(msg, sizeof msg, "fire at %s %s cancelled after %d of %d sent: %s%s", kind, f->target,
                 f->tally.sent, f->opt.count, statuses[0] ? statuses : "nothing answered", capped);
    else if (f->tally.refused)
        snprintf(msg, sizeof msg, "fired %d at %s %s: the API server refused %d: %s", f->tally.sent, kind, f->target,
                 f->tally.refused, f->refusal);
    else if (none_faulted)
        snprintf(msg, sizeof msg,
                 "fired %d at %s %s: %s, but no request carried a fault: the sidecar let them through (the plugin "
                 "is not loaded there, or its header faults are off; hfitop doctor says which)%s",
                 f->tally.sent, kind, f->target, statuses, capped);
    else
        snprintf(msg, sizeof msg, "fired %d at %s %s: %s%s", f->tally.sent, kind, f->target,
                 statuses[0] ? statuses : "nothing answered", capped);
    fire_end(f, !f->cancelled && f->tally.sent == f->opt.count && !f->tally.refused && f->tally.faulted > 0, 0, msg);
}

/* The proxy URL once the port is known ("" for a pod: its first port). */
static void fire_begin(struct fire *f, const char *port)
{
    char *ens = kube_url_escape(f->ns), *etarget = kube_url_escape(f->target);
    const char *kind = f->opt.pod ? "pods" : "services";
    if (!ens || !etarget ||
        asprintf(&f->proxy_base, "/api/v1/namespaces/%s/%s/%s%s%s/proxy%s", ens, kind, etarget, port[0] ? ":" : "",
                 port, f->path) < 0)
        f->proxy_base = NULL;
    free(ens);
    free(etarget);
    if (!f->proxy_base) {
        fire_end(f, false, 0, "out of memory");
        return;
    }
    fire_next(f);
}

static void on_service_read(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct fire *f = user;
    if (resp->error.code != KUBE_OK) {
        fire_end(f, false, resp->http_status, resp->error.message);
        return;
    }
    cJSON *svc = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *first = cJSON_GetArrayItem(app_json_path(svc, "spec.ports"), 0);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(first, "name");
    const cJSON *number = cJSON_GetObjectItemCaseSensitive(first, "port");
    char port[64] = "";
    /* A named port must be given by name, an unnamed one by number. */
    if (cJSON_IsString(name) && name->valuestring[0])
        snprintf(port, sizeof port, "%s", name->valuestring);
    else if (cJSON_IsNumber(number))
        snprintf(port, sizeof port, "%d", number->valueint);
    cJSON_Delete(svc);
    fire_begin(f, port);
}

/* A pod without a sidecar has nothing that could inject a fault. */
static void on_pod_read(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct fire *f = user;
    if (resp->error.code != KUBE_OK) {
        fire_end(f, false, resp->http_status, resp->error.message);
        return;
    }
    cJSON *obj = cJSON_ParseWithLength(resp->body, resp->body_len);
    struct kube_pod pod = {0};
    bool parsed = kube_pod_from_json(obj, &pod) == 0;
    bool sidecar = parsed && pod.has_sidecar;
    if (parsed)
        kube_pod_free(&pod);
    cJSON_Delete(obj);
    if (!sidecar) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "pod %s/%s has no istio-proxy sidecar: nothing in it can inject a fault, so nothing was sent", f->ns,
                 f->target);
        fire_end(f, false, 0, msg);
        return;
    }
    fire_begin(f, "");
}

static void on_fire_wasmplugins(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct fire *f = user;
    if (resp->error.code != KUBE_OK) {
        fire_end(f, false, resp->http_status, resp->error.message);
        return;
    }
    cJSON *list = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *wp, *chosen = NULL;
    const char *token = NULL;
    cJSON_ArrayForEach(wp, cJSON_GetObjectItemCaseSensitive(list, "items"))
    {
        const char *t = NULL;
        if (app_wasmplugin_header_faults(wp, &t) && t) {
            token = t;
            chosen = wp;
            break;
        }
    }
    const cJSON *max_delay = app_json_path(chosen, "spec.pluginConfig.header_faults.max_delay_ms");
    f->tally.delay_applied_ms = f->opt.delay_ms;
    long cap = cJSON_IsNumber(max_delay) && max_delay->valuedouble >= 0 ? (long)max_delay->valuedouble
                                                                        : HEADER_FAULTS_DEFAULT_MAX_DELAY_MS;
    if (f->opt.delay_ms > cap)
        f->tally.delay_applied_ms = cap;
    char bad[160] = "";
    if (token && !app_header_value_safe(resp->body, resp->body_len, token, bad, sizeof bad)) {
        char msg[400];
        const cJSON *name = app_json_path(chosen, "metadata.name");
        snprintf(msg, sizeof msg,
                 "refused: the header-fault token of WasmPlugin %s (pluginConfig.header_faults.token) holds %s; it "
                 "goes into a request header, where it could add headers of its own. Nothing was sent.",
                 cJSON_IsString(name) ? name->valuestring : "?", bad);
        cJSON_Delete(list);
        fire_end(f, false, 0, msg);
        return;
    }
    if (token)
        f->token = strdup(token);
    cJSON_Delete(list);
    if (!f->token) {
        fire_end(f, false, 0,
                 "no WasmPlugin in the namespace has header faults enabled with a token "
                 "(pluginConfig.header_faults): no request could carry a fault");
        return;
    }
    char value[64];
    if (f->opt.abort_status)
        snprintf(value, sizeof value, "x-hfi-fault-abort: %d", f->opt.abort_status);
    /* The delay as asked: the sidecar caps it itself. */
    else
        snprintf(value, sizeof value, "x-hfi-fault-delay-ms: %ld", f->opt.delay_ms);
    f->headers[0] = strdup(value);
    if (asprintf(&f->headers[1], "x-hfi-fault-token: %s", f->token) < 0)
        f->headers[1] = NULL;
    if (!f->headers[0] || !f->headers[1]) {
        fire_end(f, false, 0, "out of memory");
        return;
    }
    char *path = object_path("/api/v1", f->ns, f->opt.pod ? "pods" : "services", f->target);
    if (!path || !kube_client_get(f->client, path, f->opt.pod ? on_pod_read : on_service_read, f)) {
        free(path);
        fire_end(f, false, 0, "cannot start the request (out of memory)");
        return;
    }
    free(path);
}

void app_fire(struct kube_client *c, const struct app_fire_options *o, app_fire_done_fn done, void *user)
{
    struct fire *f = calloc(1, sizeof *f);
    if (!f) {
        struct app_action_result r;
        result_set(&r, false, 0, "out of memory");
        struct app_fire_tally empty = {0};
        done(&r, &empty, user);
        return;
    }
    f->client = c;
    f->opt = *o;
    f->done = done;
    f->user = user;
    if (f->opt.max_inflight <= 0)
        f->opt.max_inflight = 8;
    if (f->opt.timeout_ms <= 0)
        f->opt.timeout_ms = 30000 + f->opt.delay_ms;
    f->tally.p50_ms = f->tally.p95_ms = f->tally.max_ms = NAN;
    f->ns = strdup(o->ns ? o->ns : "default");
    f->target = strdup(o->pod ? o->pod : o->service ? o->service : "");
    f->path = strdup(o->path && o->path[0] == '/' ? o->path : "/");
    f->latencies = calloc((size_t)(o->count > 0 ? o->count : 1), sizeof *f->latencies);
    if (!f->ns || !f->target || !f->path || !f->latencies) {
        fire_end(f, false, 0, "out of memory");
        return;
    }
    if ((!o->pod) == (!o->service) || o->count <= 0 || (!o->abort_status) == (o->delay_ms <= 0)) {
        fire_end(f, false, 0, "fire needs one target (pod or service), a count, and --abort or --delay-ms");
        return;
    }
    char why[400];
    if (name_refused(f->ns, f->target, why, sizeof why)) {
        fire_end(f, false, 0, why);
        return;
    }
    char *path = object_path(WASMPLUGIN_API, f->ns, "wasmplugins", NULL);
    if (!path || !kube_client_get(c, path, on_fire_wasmplugins, f)) {
        free(path);
        fire_end(f, false, 0, "cannot start the request (out of memory)");
        return;
    }
    free(path);
}
