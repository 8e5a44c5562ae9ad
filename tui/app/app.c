#include "app.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The public record plus what only the scheduler needs. */
struct pod_entry {
    struct app_pod pub;
    struct app *app;
    bool probing; /* the in-flight request is the legacy-naming probe */
};

struct app {
    struct kube_client *client;
    struct app_options opt;
    struct kube_pod_watch *watch;
    struct pod_entry **pods; /* sorted by namespace, name */
    size_t n_pods, cap_pods;
    bool synced;
    struct kube_error watch_error;
    unsigned watch_errors;
    int inflight;
    unsigned rounds_requested;
    size_t cursor; /* where the next scan for due pods starts: fairness */
    char *scrape_path, *probe_path;
};

int64_t app_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- parsing one scrape ---- */

struct parse_ctx {
    hfi_metrics_collector hfi;
    struct app_proxy_stats *proxy;
};

static bool span_ends_with(prom_span s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

static int on_stats_sample(void *user, const prom_sample *s)
{
    struct parse_ctx *ctx = user;
    if (prom_span_starts_with(s->name, "envoy_wasm_envoy_wasm_runtime_") && span_ends_with(s->name, "_active")) {
        ctx->proxy->wasm_vm_seen = true;
        ctx->proxy->wasm_vms_active += s->value;
    } else if (prom_span_equals(s->name, "envoy_wasm_remote_load_fetch_failures")) {
        ctx->proxy->wasm_fetch_failures += s->value;
    } else if (prom_span_equals(s->name, "envoy_server_uptime")) {
        ctx->proxy->uptime_seen = true;
        ctx->proxy->uptime_s = s->value;
        return 0;
    }
    hfi_metrics_collector_add(&ctx->hfi, s);
    return 0;
}

void app_parse_stats(const char *buf, size_t len, hfi_metrics *metrics, struct app_proxy_stats *proxy)
{
    const char *prefixes[8];
    size_t n = 0;
    for (size_t i = 0; i < hfi_metrics_name_prefix_count && n < 7; i++)
        prefixes[n++] = hfi_metrics_name_prefixes[i];
    prefixes[n++] = "envoy_server_uptime";
    struct parse_ctx ctx = {.proxy = proxy};
    memset(proxy, 0, sizeof *proxy);
    hfi_metrics_collector_init(&ctx.hfi);
    prom_parse_options po = {.on_sample = on_stats_sample, .user = &ctx, .name_prefixes = prefixes,
                             .name_prefix_count = n};
    prom_parse(buf, len, &po, NULL);
    hfi_metrics_collector_finish(&ctx.hfi, metrics);
}

/* ---- the pod table ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* All or nothing: *n is 0 when out of memory, so lookups stay safe. */
static struct kube_kv *copy_kvs(const struct kube_kv *kv, size_t *n)
{
    struct kube_kv *out = *n ? calloc(*n, sizeof *out) : NULL;
    bool ok = out != NULL;
    for (size_t i = 0; ok && i < *n; i++) {
        out[i].key = dup_or_null(kv[i].key);
        out[i].value = dup_or_null(kv[i].value);
        ok = (out[i].key || !kv[i].key) && (out[i].value || !kv[i].value);
    }
    if (!ok && out) {
        for (size_t i = 0; i < *n; i++) {
            free(out[i].key);
            free(out[i].value);
        }
        free(out);
        out = NULL;
    }
    if (!out)
        *n = 0;
    return out;
}

/* A deep copy: the watch's pod is only valid during its event. False when
 * out of memory for the name (the key of the table): dst is then freed. */
static bool copy_pod(const struct kube_pod *src, struct kube_pod *dst)
{
    *dst = *src;
    dst->name = dup_or_null(src->name);
    dst->namespace = dup_or_null(src->namespace);
    dst->uid = dup_or_null(src->uid);
    dst->resource_version = dup_or_null(src->resource_version);
    dst->phase = dup_or_null(src->phase);
    dst->node = dup_or_null(src->node);
    dst->pod_ip = dup_or_null(src->pod_ip);
    dst->labels = copy_kvs(src->labels, &dst->n_labels);
    dst->annotations = copy_kvs(src->annotations, &dst->n_annotations);
    dst->sidecar_image = dup_or_null(src->sidecar_image);
    dst->sidecar_env = copy_kvs(src->sidecar_env, &dst->n_sidecar_env);
    dst->ports = NULL;
    dst->n_ports = 0;
    if (src->n_ports && (dst->ports = calloc(src->n_ports, sizeof *dst->ports))) {
        dst->n_ports = src->n_ports;
        for (size_t i = 0; i < src->n_ports; i++) {
            dst->ports[i] = src->ports[i];
            dst->ports[i].container = dup_or_null(src->ports[i].container);
            dst->ports[i].name = dup_or_null(src->ports[i].name);
        }
    }
    dst->owner_kind = dup_or_null(src->owner_kind);
    dst->owner_name = dup_or_null(src->owner_name);
    dst->deployment = dup_or_null(src->deployment);
    if (dst->name)
        return true;
    kube_pod_free(dst);
    return false;
}

static int compare_key(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
    int c = strcmp(ns_a ? ns_a : "", ns_b ? ns_b : "");
    return c ? c : strcmp(name_a, name_b);
}

/* Index of the pod, or where it would go (with *found false). */
static size_t locate(const struct app *app, const char *ns, const char *name, bool *found)
{
    size_t lo = 0, hi = app->n_pods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct kube_pod *p = &app->pods[mid]->pub.pod;
        int c = compare_key(p->namespace, p->name, ns, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void cancel_scrape(struct pod_entry *e)
{
    if (e->pub.inflight) {
        kube_request_cancel(e->pub.inflight);
        e->pub.inflight = NULL;
        e->app->inflight--;
    }
}

static void free_entry(struct pod_entry *e)
{
    cancel_scrape(e);
    kube_pod_free(&e->pub.pod);
    free(e);
}

static void reset_scrape_state(struct app_pod *p)
{
    p->scraped = false;
    memset(&p->metrics, 0, sizeof p->metrics);
    memset(&p->proxy, 0, sizeof p->proxy);
    p->delay_percentiles = (prom_percentiles){NAN, NAN, NAN};
    p->aborts_per_s = p->delays_per_s = NAN;
    prom_rate_ring_init(&p->aborts_ring);
    prom_rate_ring_init(&p->delays_ring);
    p->last_scrape = 0;
    p->config_errors_rose = 0;
    p->legacy_probed = false;
    p->failing = false;
    p->error[0] = '\0';
    p->error_code = KUBE_OK;
    p->error_http_status = 0;
    p->consecutive_failures = p->attempts = p->failures = 0;
    p->next_scrape_ms = 0;
    p->throttled_until_ms = 0;
}

static void upsert_pod(struct app *app, const struct kube_pod *pod)
{
    bool found;
    size_t i = locate(app, pod->namespace, pod->name, &found);
    if (found) {
        struct pod_entry *e = app->pods[i];
        bool same_pod = e->pub.pod.uid && pod->uid && strcmp(e->pub.pod.uid, pod->uid) == 0;
        struct kube_pod copy;
        if (!copy_pod(pod, &copy))
            return; /* keep the older copy */
        kube_pod_free(&e->pub.pod);
        e->pub.pod = copy;
        if (!same_pod) {
            cancel_scrape(e);
            reset_scrape_state(&e->pub);
        }
        return;
    }
    if (app->n_pods == app->cap_pods) {
        size_t cap = app->cap_pods ? app->cap_pods * 2 : 64;
        struct pod_entry **grown = realloc(app->pods, cap * sizeof *grown);
        if (!grown)
            return;
        app->pods = grown;
        app->cap_pods = cap;
    }
    struct pod_entry *e = calloc(1, sizeof *e);
    if (!e || !copy_pod(pod, &e->pub.pod)) {
        free(e);
        return;
    }
    e->app = app;
    reset_scrape_state(&e->pub);
    memmove(app->pods + i + 1, app->pods + i, (app->n_pods - i) * sizeof *app->pods);
    app->pods[i] = e;
    app->n_pods++;
}

static void remove_pod(struct app *app, const char *ns, const char *name)
{
    bool found;
    size_t i = locate(app, ns, name, &found);
    if (!found)
        return;
    free_entry(app->pods[i]);
    memmove(app->pods + i, app->pods + i + 1, (app->n_pods - i - 1) * sizeof *app->pods);
    app->n_pods--;
}

static void on_pod_event(const struct kube_pod_event *ev, void *user)
{
    struct app *app = user;
    switch (ev->type) {
    case KUBE_POD_UPSERT:
        upsert_pod(app, ev->pod);
        break;
    case KUBE_POD_DELETE:
        remove_pod(app, ev->pod->namespace, ev->pod->name);
        break;
    case KUBE_POD_SYNCED:
        app->synced = true;
        break;
    case KUBE_POD_ERROR:
        app->watch_error = *ev->error;
        app->watch_errors++;
        break;
    }
}

/* ---- scraping ---- */

bool app_pod_scrapable(const struct kube_pod *pod)
{
    return pod->has_sidecar && !pod->deleting && pod->phase && strcmp(pod->phase, "Running") == 0;
}

static long interval_ms(const struct app *app)
{
    return app->opt.interval_s * 1000L;
}

static void record_failure(struct pod_entry *e, const struct kube_response *resp)
{
    struct app_pod *p = &e->pub;
    p->failing = true;
    p->failures++;
    p->consecutive_failures++;
    p->error_code = resp->error.code;
    p->error_http_status = resp->http_status;
    /* A transport error's message starts with the whole proxy URL; what
     * went wrong is after the last ": ". */
    const char *m = resp->error.message, *detail = NULL;
    for (const char *at = strstr(m, ": "); at; at = strstr(at + 2, ": "))
        detail = at + 2;
    if (resp->http_status == 0 && detail)
        snprintf(p->error, sizeof p->error, "%s: %s", kube_code_message(resp->error.code), detail);
    else if (m[0])
        snprintf(p->error, sizeof p->error, "%s", m);
    else
        snprintf(p->error, sizeof p->error, "%s (HTTP %ld)", kube_code_message(resp->error.code), resp->http_status);
    long backoff = interval_ms(e->app);
    for (unsigned k = 1; k < p->consecutive_failures && backoff < APP_MAX_BACKOFF_MS; k++)
        backoff *= 2;
    if (backoff > APP_MAX_BACKOFF_MS)
        backoff = APP_MAX_BACKOFF_MS;
    p->next_scrape_ms = app_now_ms() + backoff;
}

static void record_success(struct pod_entry *e, const struct kube_response *resp)
{
    struct app_pod *p = &e->pub;
    int64_t now = app_now_ms();
    hfi_naming before = p->metrics.naming;
    bool had_config_errors = p->scraped && p->metrics.config_errors_total.present;
    double config_errors_before = p->metrics.config_errors_total.value;
    app_parse_stats(resp->body, resp->body_len, &p->metrics, &p->proxy);
    if (had_config_errors && p->metrics.config_errors_total.present &&
        p->metrics.config_errors_total.value > config_errors_before)
        p->config_errors_rose = time(NULL);
    if (p->legacy_probed && before == HFI_NAMING_LEGACY && p->metrics.naming == HFI_NAMING_BARE)
        p->metrics.naming = HFI_NAMING_LEGACY;
    p->delay_percentiles = hfi_metrics_delay_percentiles(&p->metrics);
    if (p->metrics.aborts_total.present && prom_rate_ring_push(&p->aborts_ring, now, p->metrics.aborts_total.value))
        p->aborts_per_s = prom_rate_ring_last_rate(&p->aborts_ring);
    if (p->metrics.delays_total.present && prom_rate_ring_push(&p->delays_ring, now, p->metrics.delays_total.value))
        p->delays_per_s = prom_rate_ring_last_rate(&p->delays_ring);
    p->scraped = true;
    p->last_scrape = time(NULL);
    p->failing = false;
    p->error[0] = '\0';
    p->error_code = KUBE_OK;
    p->error_http_status = resp->http_status;
    p->consecutive_failures = 0;
    p->next_scrape_ms = now + interval_ms(e->app);
}

static void start_scrape(struct pod_entry *e, bool probe);

static void on_scrape_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct pod_entry *e = user;
    struct app *app = e->app;
    struct app_pod *p = &e->pub;
    p->inflight = NULL;
    app->inflight--;
    if (e->probing) {
        /* The probe only refines the naming; after a failure the next
         * good scrape asks again. */
        e->probing = false;
        if (resp->http_status == 200 && resp->error.code == KUBE_OK) {
            p->legacy_probed = true;
            p->metrics.naming = hfi_naming_after_legacy_probe(p->metrics.naming, resp->body, resp->body_len);
        }
        p->rounds_done++;
        return;
    }
    if (resp->http_status == 429) {
        /* The API server is throttling us, not the sidecar failing: ask
         * again when it says, without counting an attempt. */
        long wait_ms = resp->has_status && resp->status.retry_after_seconds > 0
                           ? resp->status.retry_after_seconds * 1000L
                           : 1000;
        p->throttled_until_ms = app_now_ms() + wait_ms;
        return;
    }
    p->attempts++;
    if (resp->http_status == 200 && resp->error.code == KUBE_OK) {
        record_success(e, resp);
        /* Bare and legacy names render alike: ask once which it is. */
        if (p->metrics.naming == HFI_NAMING_BARE && !p->legacy_probed) {
            start_scrape(e, true);
            if (p->inflight)
                return;
        }
    } else {
        record_failure(e, resp);
    }
    p->rounds_done++;
}

static void start_scrape(struct pod_entry *e, bool probe)
{
    struct app *app = e->app;
    long timeout = app->opt.scrape_timeout_ms;
    e->probing = probe;
    e->pub.inflight = kube_client_pod_proxy_get(app->client, e->pub.pod.namespace, e->pub.pod.name, APP_STATS_PORT,
                                                probe ? app->probe_path : app->scrape_path, timeout,
                                                on_scrape_done, e);
    if (e->pub.inflight)
        app->inflight++;
}

static bool due(const struct app *app, const struct pod_entry *e, int64_t now)
{
    const struct app_pod *p = &e->pub;
    if (p->inflight || !app_pod_scrapable(&p->pod) || p->throttled_until_ms > now)
        return false;
    if (app->opt.rounds_only)
        return p->rounds_done < app->rounds_requested;
    return p->next_scrape_ms <= now;
}

void app_tick(struct app *app)
{
    if (!app->n_pods)
        return;
    int64_t now = app_now_ms();
    size_t start = app->cursor % app->n_pods;
    for (size_t k = 0; k < app->n_pods && app->inflight < app->opt.max_inflight; k++) {
        size_t i = (start + k) % app->n_pods;
        if (due(app, app->pods[i], now)) {
            start_scrape(app->pods[i], false);
            app->cursor = i + 1;
        }
    }
}

int app_timeout_ms(const struct app *app)
{
    /* At the limit only an answer frees a slot, and an answer wakes the
     * poll loop by itself. */
    if (app->inflight >= app->opt.max_inflight)
        return -1;
    int64_t now = app_now_ms(), soonest = -1;
    for (size_t i = 0; i < app->n_pods; i++) {
        const struct app_pod *p = &app->pods[i]->pub;
        if (p->inflight || !app_pod_scrapable(&p->pod))
            continue;
        int64_t at = p->throttled_until_ms;
        if (app->opt.rounds_only) {
            if (p->rounds_done >= app->rounds_requested)
                continue;
        } else if (p->next_scrape_ms > at) {
            at = p->next_scrape_ms;
        }
        int64_t wait = at > now ? at - now : 0;
        if (soonest < 0 || wait < soonest)
            soonest = wait;
    }
    return soonest > 60000 ? 60000 : (int)soonest;
}

void app_request_round(struct app *app)
{
    app->rounds_requested++;
}

bool app_rounds_complete(const struct app *app)
{
    if (!app->synced)
        return false;
    for (size_t i = 0; i < app->n_pods; i++) {
        const struct app_pod *p = &app->pods[i]->pub;
        if (p->inflight || (app_pod_scrapable(&p->pod) && p->rounds_done < app->rounds_requested))
            return false;
    }
    return true;
}

/* ---- lifetime and access ---- */

static char *stats_path(const char *filter)
{
    char *escaped = kube_url_escape(filter), *path = NULL;
    if (escaped && asprintf(&path, "/stats/prometheus?filter=%s", escaped) < 0)
        path = NULL;
    free(escaped);
    return path;
}

struct app *app_new(struct kube_client *client, const struct app_options *options)
{
    struct app *app = calloc(1, sizeof *app);
    if (!app)
        return NULL;
    app->client = client;
    app->opt = *options;
    if (app->opt.interval_s <= 0)
        app->opt.interval_s = APP_DEFAULT_INTERVAL_S;
    if (app->opt.max_inflight <= 0)
        app->opt.max_inflight = APP_DEFAULT_MAX_INFLIGHT;
    if (app->opt.scrape_timeout_ms <= 0)
        app->opt.scrape_timeout_ms = interval_ms(app);
    app->scrape_path = stats_path(APP_STATS_FILTER);
    app->probe_path = stats_path(HFI_LEGACY_PROBE_FILTER);
    if (!app->scrape_path || !app->probe_path) {
        app_free(app);
        return NULL;
    }
    return app;
}

int app_start(struct app *app)
{
    struct kube_pod_watch_options wo = {
        .namespace = app->opt.namespace,
        .label_selector = app->opt.label_selector,
    };
    app->watch = kube_pod_watch_start(app->client, &wo, on_pod_event, app);
    return app->watch ? 0 : -1;
}

void app_free(struct app *app)
{
    if (!app)
        return;
    if (app->watch)
        kube_pod_watch_stop(app->watch);
    for (size_t i = 0; i < app->n_pods; i++)
        free_entry(app->pods[i]);
    free(app->pods);
    free(app->scrape_path);
    free(app->probe_path);
    free(app);
}

size_t app_pod_count(const struct app *app)
{
    return app->n_pods;
}

const struct app_pod *app_pod_at(const struct app *app, size_t i)
{
    return i < app->n_pods ? &app->pods[i]->pub : NULL;
}

const struct app_pod *app_pod_find(const struct app *app, const char *ns, const char *name)
{
    bool found;
    size_t i = locate(app, ns, name, &found);
    return found ? &app->pods[i]->pub : NULL;
}

bool app_synced(const struct app *app)
{
    return app->synced;
}

const struct kube_error *app_watch_error(const struct app *app)
{
    return app->watch_errors ? &app->watch_error : NULL;
}

int app_inflight(const struct app *app)
{
    return app->inflight;
}

bool app_wait(struct kube_client *client, struct app *app, int timeout_ms, bool (*done)(void *user), void *user)
{
    int64_t deadline = app_now_ms() + timeout_ms;
    for (;;) {
        if (app)
            app_tick(app);
        if (done(user))
            return true;
        int64_t left = deadline - app_now_ms();
        if (left <= 0)
            return false;
        int wait = left > 100 ? 100 : (int)left;
        if (app) {
            int t = app_timeout_ms(app);
            if (t >= 0 && t < wait)
                wait = t;
        }
        kube_client_wait(client, wait);
    }
}
