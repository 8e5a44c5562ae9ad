#include "app.h"

#include <math.h>

#include "prom_source.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One history of samples, and the increases over the window. */
struct windowed {
    prom_window_history history;
    double *increase; /* history.width values, valid when `valid` */
    bool valid;
    double seconds;   /* what the window's samples span */
    double bounds[HFI_HISTOGRAM_MAX_BUCKETS]; /* a histogram's bucket bounds */
};

/* The public record plus what only the scheduler needs. */
struct pod_entry {
    struct app_pod pub;
    struct app *app;
    bool probing; /* the in-flight request is the legacy-naming probe */

    /* The samples over time: the four counters of enum sample_value, the
     * plugin's delay buckets, Istio's latency buckets. */
    struct windowed counters, delay, latency;
    prom_counter_total totals[4];
    /* --prometheus: the window figures are Prometheus' rate() over its own
     * history, defined from the first refresh on. */
    bool rates_from_prometheus;
    /* --prometheus, when the last refresh asked for this pod's window
     * buckets (prom_source.h): copies of them, which its deployment's
     * quantiles are added up from. */
    bool prom_window_known;
    struct prom_window_buckets prom_delay_window, prom_latency_window;
};

enum sample_value { VALUE_ABORTS, VALUE_DELAYS, VALUE_REQUESTS, VALUE_ERRORS, VALUE_COUNTERS };

/* What the pods of a deployment that went away had counted. */
struct deployment_entry {
    struct app_deployment pub;
    char *namespace, *name;
    prom_counter_total departed[VALUE_COUNTERS];
    bool live; /* has pods in the model (set by app_refresh_deployments) */
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
    /* No pod is due before this (app_now_ms clock): app_tick and
     * app_timeout_ms cost nothing until then. Lowered by whatever can make
     * a pod due sooner; 0 asks for a scan. */
    int64_t wake_ms;
    char *scrape_path, *probe_path;
    uint64_t generation;
    struct deployment_entry **deployments; /* sorted by namespace, name */
    size_t n_deployments, cap_deployments;
    size_t scrapable; /* pods worth scraping (app_pod_scrapable), kept as pods change */
    /* The Prometheus source's refreshes. */
    unsigned prom_generation_seen, prom_rounds_pending, prom_rounds_done;
    int64_t next_prom_refresh_ms;
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
    istio_request_metrics *observed; /* NULL: not wanted */
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
    } else if (ctx->observed && prom_span_starts_with(s->name, ISTIO_METRICS_NAME_PREFIX)) {
        istio_metrics_add(ctx->observed, s);
        return 0;
    }
    hfi_metrics_collector_add(&ctx->hfi, s);
    return 0;
}

static void parse_dump(const char *buf, size_t len, hfi_metrics *metrics, struct app_proxy_stats *proxy,
                       istio_request_metrics *observed)
{
    const char *prefixes[8];
    size_t n = 0;
    for (size_t i = 0; i < hfi_metrics_name_prefix_count && n < 6; i++)
        prefixes[n++] = hfi_metrics_name_prefixes[i];
    prefixes[n++] = "envoy_server_uptime";
    if (observed) {
        prefixes[n++] = ISTIO_METRICS_NAME_PREFIX;
        istio_metrics_init(observed);
    }
    struct parse_ctx ctx = {.proxy = proxy, .observed = observed};
    memset(proxy, 0, sizeof *proxy);
    hfi_metrics_collector_init(&ctx.hfi);
    prom_parse_options po = {.on_sample = on_stats_sample, .user = &ctx, .name_prefixes = prefixes,
                             .name_prefix_count = n};
    prom_parse(buf, len, &po, NULL);
    hfi_metrics_collector_finish(&ctx.hfi, metrics);
}

void app_parse_stats(const char *buf, size_t len, hfi_metrics *metrics, struct app_proxy_stats *proxy)
{
    parse_dump(buf, len, metrics, proxy, NULL);
}

void app_parse_sample(const char *buf, size_t len, struct app_sample *sample)
{
    parse_dump(buf, len, &sample->metrics, &sample->proxy, &sample->observed);
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

static void windowed_free(struct windowed *w)
{
    prom_window_free(&w->history);
    free(w->increase);
    w->increase = NULL;
    w->valid = false;
}

/* Starts the history again with `width` values a sample: increases only
 * make sense between samples of the same series. */
static bool windowed_restart(struct windowed *w, size_t width)
{
    windowed_free(w);
    if (width && prom_window_init(&w->history, width) && (w->increase = calloc(width, sizeof *w->increase)))
        return true;
    windowed_free(w);
    return false;
}

static void windowed_push(struct windowed *w, int64_t t_ms, const double *values, size_t width)
{
    if ((w->increase && w->history.width == width) || windowed_restart(w, width))
        prom_window_push(&w->history, t_ms, values);
}

/* Buckets first seen, or served with other bounds, start a new history. */
static void windowed_push_histogram(struct windowed *w, int64_t t_ms, const hfi_histogram *h)
{
    size_t n = h->bucket_count;
    bool same = w->increase && w->history.width == n;
    for (size_t i = 0; same && i < n; i++)
        same = h->buckets[i].upper_bound == w->bounds[i];
    if (!same) {
        if (!windowed_restart(w, n))
            return;
        for (size_t i = 0; i < n; i++)
            w->bounds[i] = h->buckets[i].upper_bound;
    }
    double counts[HFI_HISTOGRAM_MAX_BUCKETS];
    for (size_t i = 0; i < n; i++)
        counts[i] = h->buckets[i].cumulative_count;
    prom_window_push(&w->history, t_ms, counts);
}

static void windowed_compute(struct windowed *w, int64_t window_ms)
{
    w->valid = w->increase && prom_window_increase(&w->history, window_ms, w->increase, &w->seconds) &&
               w->seconds > 0;
}

static void forget_prometheus_window(struct pod_entry *e)
{
    free(e->prom_delay_window.buckets);
    free(e->prom_latency_window.buckets);
    e->prom_delay_window = e->prom_latency_window = (struct prom_window_buckets){NULL, 0};
    e->prom_window_known = false;
}

static void free_history(struct pod_entry *e)
{
    windowed_free(&e->counters);
    windowed_free(&e->delay);
    windowed_free(&e->latency);
    forget_prometheus_window(e);
}

static void free_entry(struct pod_entry *e)
{
    cancel_scrape(e);
    free_history(e);
    kube_pod_free(&e->pub.pod);
    free(e);
}

static void clear_figures(struct app_window_figures *w)
{
    const prom_percentiles none = {NAN, NAN, NAN};
    *w = (struct app_window_figures){0, NAN, NAN, NAN, NAN, none, none};
}

static double total_or_nan(const prom_counter_total *c)
{
    return c->seen ? c->total : NAN;
}

static void publish_totals(struct pod_entry *e)
{
    e->pub.totals = (struct app_totals){total_or_nan(&e->totals[VALUE_ABORTS]), total_or_nan(&e->totals[VALUE_DELAYS]),
                                        total_or_nan(&e->totals[VALUE_REQUESTS]),
                                        total_or_nan(&e->totals[VALUE_ERRORS])};
}

/* ---- deployments ---- */

static int compare_key(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b);

static struct deployment_entry *deployment_find(struct app *app, const char *ns, const char *name, bool create)
{
    size_t lo = 0, hi = app->n_deployments;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_key(app->deployments[mid]->namespace, app->deployments[mid]->name, ns, name);
        if (c == 0)
            return app->deployments[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    if (app->n_deployments == app->cap_deployments) {
        size_t cap = app->cap_deployments ? app->cap_deployments * 2 : 16;
        struct deployment_entry **grown = realloc(app->deployments, cap * sizeof *grown);
        if (!grown)
            return NULL;
        app->deployments = grown;
        app->cap_deployments = cap;
    }
    struct deployment_entry *d = calloc(1, sizeof *d);
    if (d) {
        d->namespace = strdup(ns ? ns : "");
        d->name = strdup(name);
    }
    if (!d || !d->namespace || !d->name) {
        if (d) {
            free(d->namespace);
            free(d->name);
        }
        free(d);
        return NULL;
    }
    d->pub.namespace = d->namespace;
    d->pub.name = d->name;
    clear_figures(&d->pub.window);
    memmove(app->deployments + lo + 1, app->deployments + lo, (app->n_deployments - lo) * sizeof *app->deployments);
    app->deployments[lo] = d;
    app->n_deployments++;
    return d;
}

/* The pod's counts stay with its deployment after it is gone. */
static void depart(struct app *app, struct pod_entry *e)
{
    const struct kube_pod *k = &e->pub.pod;
    struct deployment_entry *d = k->deployment ? deployment_find(app, k->namespace, k->deployment, true) : NULL;
    for (int v = 0; d && v < VALUE_COUNTERS; v++) {
        if (!e->totals[v].seen)
            continue;
        d->departed[v].seen = true;
        d->departed[v].total += e->totals[v].total;
    }
    memset(e->totals, 0, sizeof e->totals);
}

static void reset_scrape_state(struct pod_entry *e)
{
    struct app_pod *p = &e->pub;
    free_history(e);
    memset(e->totals, 0, sizeof e->totals);
    publish_totals(e);
    clear_figures(&p->window);
    p->scraped = false;
    memset(&p->metrics, 0, sizeof p->metrics);
    memset(&p->proxy, 0, sizeof p->proxy);
    istio_metrics_init(&p->observed);
    p->delay_percentiles = (prom_percentiles){NAN, NAN, NAN};
    e->rates_from_prometheus = false;
    prom_rate_ring_init(&p->aborts_ring);
    prom_rate_ring_init(&p->delays_ring);
    p->last_scrape = 0;
    p->stale = false;
    p->config_errors_rose = 0;
    p->last_scrape_ms = 0;
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
        if (!same_pod) {
            depart(app, e);
            cancel_scrape(e);
            reset_scrape_state(e);
        }
        app->scrapable -= app_pod_scrapable(&e->pub.pod);
        app->scrapable += app_pod_scrapable(&copy);
        kube_pod_free(&e->pub.pod);
        e->pub.pod = copy;
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
    reset_scrape_state(e);
    app->scrapable += app_pod_scrapable(&e->pub.pod);
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
    depart(app, app->pods[i]);
    app->scrapable -= app_pod_scrapable(&app->pods[i]->pub.pod);
    free_entry(app->pods[i]);
    memmove(app->pods + i, app->pods + i + 1, (app->n_pods - i - 1) * sizeof *app->pods);
    app->n_pods--;
}

void app_upsert_pod(struct app *app, const struct kube_pod *pod)
{
    upsert_pod(app, pod);
    app->wake_ms = 0; /* it may have become scrapable */
    app->generation++;
}

void app_remove_pod(struct app *app, const char *ns, const char *name)
{
    remove_pod(app, ns, name);
    app->generation++;
}

static void on_pod_event(const struct kube_pod_event *ev, void *user)
{
    struct app *app = user;
    app->generation++;
    app->wake_ms = 0;
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

/* A Terminating pod stays scrapable: the API server proxies to any pod with
 * an IP (kubernetes pkg/registry/core/pod/strategy.go, ResourceLocation:
 * "address not allowed" only without status.podIP), and Envoy keeps serving
 * while pilot-agent drains it (istio/istio pkg/envoy/agent.go,
 * Agent.terminate), so its last counters are still there to read. */
bool app_pod_scrapable(const struct kube_pod *pod)
{
    return pod->has_sidecar && pod->pod_ip && pod->pod_ip[0] && pod->phase && strcmp(pod->phase, "Running") == 0;
}

/* The share of the request budget scrapes may take; the rest is left for
 * the pod watch, the Istio reads and the user's actions. */
#define APP_SCRAPE_BUDGET_SHARE 0.9

static long interval_ms(const struct app *app)
{
    long ms = app->opt.interval_s * 1000L;
    double qps = app->opt.prometheus || !app->client ? 0 : kube_client_budget_qps(app->client);
    if (qps > 0 && app->scrapable) {
        /* Every pod once per interval must fit the budget: stretch it. */
        long needed = (long)ceil((double)app->scrapable * 1000.0 / (qps * APP_SCRAPE_BUDGET_SHARE));
        if (needed > ms)
            ms = needed;
    }
    return ms;
}

long app_effective_interval_ms(const struct app *app)
{
    return interval_ms(app);
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
    e->app->generation++;
}

static double value_or_nan(const hfi_value *v)
{
    return v->present ? v->value : NAN;
}

static prom_percentiles window_percentiles(const double *bounds, const double *increases, size_t n)
{
    return (prom_percentiles){prom_window_quantile(0.50, bounds, increases, n),
                              prom_window_quantile(0.95, bounds, increases, n),
                              prom_window_quantile(0.99, bounds, increases, n)};
}

static prom_percentiles windowed_percentiles(const struct windowed *w)
{
    if (!w->valid)
        return (prom_percentiles){NAN, NAN, NAN};
    return window_percentiles(w->bounds, w->increase, w->history.width);
}

static void compute_window(struct pod_entry *e)
{
    int64_t window_ms = e->app->opt.window_s * 1000L;
    struct app_window_figures *w = &e->pub.window;
    clear_figures(w);
    windowed_compute(&e->counters, window_ms);
    windowed_compute(&e->delay, window_ms);
    windowed_compute(&e->latency, window_ms);
    if (e->counters.valid) {
        const double *inc = e->counters.increase;
        double seconds = e->counters.seconds;
        w->seconds = seconds;
        w->aborts_per_s = inc[VALUE_ABORTS] / seconds;
        w->delays_per_s = inc[VALUE_DELAYS] / seconds;
        w->requests_per_s = inc[VALUE_REQUESTS] / seconds;
        w->error_ratio = inc[VALUE_REQUESTS] > 0 ? inc[VALUE_ERRORS] / inc[VALUE_REQUESTS] : NAN;
    }
    w->delay_ms = windowed_percentiles(&e->delay);
    w->latency_ms = windowed_percentiles(&e->latency);
}

static bool apply_sample(struct pod_entry *e, int64_t t_ms, const struct app_sample *s)
{
    struct app_pod *p = &e->pub;
    if (p->last_scrape_ms && t_ms <= p->last_scrape_ms)
        return false;
    if (p->scraped && p->metrics.config_errors_total.present && s->metrics.config_errors_total.present &&
        s->metrics.config_errors_total.value > p->metrics.config_errors_total.value)
        p->config_errors_rose = time(NULL);
    p->metrics = s->metrics;
    p->proxy = s->proxy;
    p->observed = s->observed;
    p->delay_percentiles = hfi_metrics_delay_percentiles(&p->metrics);
    if (p->metrics.aborts_total.present)
        prom_rate_ring_push(&p->aborts_ring, t_ms, p->metrics.aborts_total.value);
    if (p->metrics.delays_total.present)
        prom_rate_ring_push(&p->delays_ring, t_ms, p->metrics.delays_total.value);
    const double counters[VALUE_COUNTERS] = {
        [VALUE_ABORTS] = value_or_nan(&p->metrics.aborts_total),
        [VALUE_DELAYS] = value_or_nan(&p->metrics.delays_total),
        [VALUE_REQUESTS] = p->observed.present ? p->observed.requests_total : NAN,
        [VALUE_ERRORS] = p->observed.present ? p->observed.errors_total : NAN,
    };
    for (int v = 0; v < VALUE_COUNTERS; v++)
        prom_counter_total_add(&e->totals[v], counters[v]);
    publish_totals(e);
    windowed_push(&e->counters, t_ms, counters, VALUE_COUNTERS);
    windowed_push_histogram(&e->delay, t_ms, &p->metrics.delay_ms);
    windowed_push_histogram(&e->latency, t_ms, &p->observed.duration_ms);
    compute_window(e);
    p->scraped = true;
    p->last_scrape = time(NULL);
    p->last_scrape_ms = t_ms;
    e->app->generation++;
    return true;
}

static void record_success(struct pod_entry *e, const struct kube_response *resp)
{
    struct app_pod *p = &e->pub;
    int64_t now = app_now_ms();
    struct app_sample sample;
    app_parse_sample(resp->body, resp->body_len, &sample);
    if (p->legacy_probed && p->metrics.naming == HFI_NAMING_LEGACY && sample.metrics.naming == HFI_NAMING_BARE)
        sample.metrics.naming = HFI_NAMING_LEGACY;
    apply_sample(e, now, &sample);
    p->failing = false;
    p->error[0] = '\0';
    p->error_code = KUBE_OK;
    p->error_http_status = resp->http_status;
    p->consecutive_failures = 0;
    p->next_scrape_ms = now + interval_ms(e->app);
}

static void start_scrape(struct pod_entry *e, bool probe);
static void wake_for(struct app *app, const struct pod_entry *e);

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
        wake_for(app, e);
        return;
    }
    if (resp->http_status == 429) {
        /* The API server is throttling us, not the sidecar failing: ask
         * again when it says, without counting an attempt. */
        long wait_ms = resp->has_status && resp->status.retry_after_seconds > 0
                           ? resp->status.retry_after_seconds * 1000L
                           : 1000;
        p->throttled_until_ms = app_now_ms() + wait_ms;
        wake_for(app, e);
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
    wake_for(app, e);
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

/* When the pod is next due for a scrape; INT64_MAX: not scheduled. */
static int64_t due_at(const struct app *app, const struct pod_entry *e)
{
    const struct app_pod *p = &e->pub;
    if (p->inflight || !app_pod_scrapable(&p->pod))
        return INT64_MAX;
    if (app->opt.rounds_only)
        return p->rounds_done < app->rounds_requested ? p->throttled_until_ms : INT64_MAX;
    return p->next_scrape_ms > p->throttled_until_ms ? p->next_scrape_ms : p->throttled_until_ms;
}

static void wake_for(struct app *app, const struct pod_entry *e)
{
    int64_t at = due_at(app, e);
    if (at < app->wake_ms)
        app->wake_ms = at;
}

/* ---- the Prometheus source ---- */

static bool copy_window(struct prom_window_buckets *dst, const struct prom_window_buckets *src)
{
    if (!src->count)
        return true;
    dst->buckets = malloc(src->count * sizeof *dst->buckets);
    if (!dst->buckets)
        return false;
    memcpy(dst->buckets, src->buckets, src->count * sizeof *dst->buckets);
    dst->count = src->count;
    return true;
}

/* The pod's window quantiles are Prometheus' when it asked for its window
 * buckets; its deployment adds the buckets up. */
static void keep_prometheus_window(struct pod_entry *e, const struct prom_pod_values *v)
{
    forget_prometheus_window(e);
    if (!v->has_window)
        return;
    if (!copy_window(&e->prom_delay_window, &v->delay_window) ||
        !copy_window(&e->prom_latency_window, &v->latency_window)) {
        forget_prometheus_window(e);
        return;
    }
    e->prom_window_known = true;
    struct app_window_figures *w = &e->pub.window;
    w->delay_ms = prom_histogram_percentiles(e->prom_delay_window.buckets, e->prom_delay_window.count);
    w->latency_ms = prom_histogram_percentiles(e->prom_latency_window.buckets, e->prom_latency_window.count);
}

/* Fills the model from the source's last refresh through the same path a
 * scrape takes (apply_sample), so every view and --once read them alike;
 * then what only Prometheus knows: rates over its own history (rate() over
 * the window, before this session began too), the quantiles it computed,
 * the sample's real time and whether it is stale. */
static void apply_prometheus(struct app *app)
{
    const struct prom_source *src = app->opt.prometheus;
    bool answered = prom_source_state(src) == PROM_SOURCE_OK;
    int64_t now_ms = app_now_ms();
    time_t now = time(NULL);
    for (size_t i = 0; i < app->n_pods; i++) {
        struct pod_entry *e = app->pods[i];
        struct app_pod *p = &e->pub;
        p->rounds_done = app->prom_rounds_pending;
        const struct prom_pod_values *v = prom_source_find(src, p->pod.namespace, p->pod.name);
        if (!v) {
            if (answered && p->scraped) {
                /* Prometheus holds nothing for it now: unknown, not zero. */
                reset_scrape_state(e);
                p->rounds_done = app->prom_rounds_pending;
                app->generation++;
            }
            continue;
        }
        struct app_sample sample = {.metrics = v->metrics};
        istio_metrics_init(&sample.observed);
        if (isfinite(v->requests_total)) {
            /* Istio's counters, as a scrape of the sidecar reads them. */
            sample.observed.present = true;
            sample.observed.requests_total = v->requests_total;
            sample.observed.errors_total = v->errors_total;
        }
        double age_s = v->sample_time_s > 0 ? (double)now - v->sample_time_s : 0;
        int64_t t_ms = now_ms - (int64_t)(age_s * 1000.0);
        /* A pod newly shown starts its sparklines from Prometheus' history. */
        bool fresh = p->aborts_ring.count < 2 && v->history_count;
        if (fresh) {
            /* The history goes before what one refresh may have put there. */
            prom_rate_ring_init(&p->aborts_ring);
            prom_rate_ring_init(&p->delays_ring);
        }
        for (size_t k = 0; fresh && k < v->history_count; k++) {
            const struct prom_history_point *h = &v->history[k];
            int64_t at = now_ms - (int64_t)(((double)now - h->t_s) * 1000.0);
            if (at >= t_ms)
                break;
            prom_rate_ring_push(&p->aborts_ring, at, h->aborts);
            prom_rate_ring_push(&p->delays_ring, at, h->delays);
        }
        apply_sample(e, t_ms > 0 ? t_ms : 1, &sample);
        if (v->has_percentiles)
            p->delay_percentiles = v->percentiles;
        if (isfinite(v->aborts_per_s))
            p->window.aborts_per_s = v->aborts_per_s;
        if (isfinite(v->delays_per_s))
            p->window.delays_per_s = v->delays_per_s;
        e->rates_from_prometheus = true;
        if (isfinite(v->requests_per_s)) {
            p->window.requests_per_s = v->requests_per_s;
            p->window.error_ratio = v->requests_per_s > 0 ? v->errors_per_s / v->requests_per_s : NAN;
        }
        keep_prometheus_window(e, v);
        p->last_scrape = v->sample_time_s > 0 ? (time_t)v->sample_time_s : now;
        p->stale = age_s > prom_source_stale_after_s(src);
        p->failing = false;
        p->error[0] = '\0';
        p->error_code = KUBE_OK;
        app->generation++;
    }
}

static void prometheus_tick(struct app *app)
{
    struct prom_source *src = app->opt.prometheus;
    unsigned generation = prom_source_generation(src);
    if (generation != app->prom_generation_seen) {
        app->prom_generation_seen = generation;
        app->prom_rounds_done = app->prom_rounds_pending;
        apply_prometheus(app);
    }
    /* The pods come from the API server: wait for the list, so a refresh
     * finds them all. */
    if (prom_source_busy(src) || !app->synced)
        return;
    int64_t now = app_now_ms();
    bool due = app->opt.rounds_only ? app->prom_rounds_done < app->rounds_requested
                                    : now >= app->next_prom_refresh_ms;
    if (!due)
        return;
    app->prom_rounds_pending = app->rounds_requested;
    app->next_prom_refresh_ms = now + app->opt.interval_s * 1000L;
    prom_source_set_namespace(src, app->opt.namespace);
    prom_source_set_window(src, app->opt.window_s);
    prom_source_refresh(src);
}

static int prometheus_timeout_ms(const struct app *app)
{
    const struct prom_source *src = app->opt.prometheus;
    if (prom_source_generation(src) != app->prom_generation_seen)
        return 0;
    if (prom_source_busy(src))
        return -1; /* its answers wake the loop */
    if (app->opt.rounds_only)
        return app->synced && app->prom_rounds_done < app->rounds_requested ? 0 : -1;
    int64_t left = app->next_prom_refresh_ms - app_now_ms();
    return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* A scan runs only when some pod may be due (wake_ms): answers arriving
 * one by one cost no walk over every pod, so a round stays linear. */
void app_tick(struct app *app)
{
    if (app->opt.prometheus) {
        prometheus_tick(app);
        return;
    }
    if (!app->n_pods) {
        app->wake_ms = INT64_MAX;
        return;
    }
    if (app->inflight >= app->opt.max_inflight)
        return;
    int64_t now = app_now_ms(), soonest = INT64_MAX;
    if (now < app->wake_ms)
        return;
    size_t start = app->cursor % app->n_pods;
    bool stopped_early = false;
    for (size_t k = 0; k < app->n_pods; k++) {
        if (app->inflight >= app->opt.max_inflight) {
            stopped_early = true;
            break;
        }
        size_t i = (start + k) % app->n_pods;
        struct pod_entry *e = app->pods[i];
        int64_t at = due_at(app, e);
        if (at <= now) {
            start_scrape(e, false);
            app->cursor = i + 1;
            if (!e->pub.inflight) /* the client refused: try again shortly */
                at = now + 100;
            else
                continue;
        }
        if (at < soonest)
            soonest = at;
    }
    app->wake_ms = stopped_early ? 0 : soonest;
}

int app_timeout_ms(const struct app *app)
{
    if (app->opt.prometheus)
        return prometheus_timeout_ms(app);
    /* At the limit only an answer frees a slot, and an answer wakes the
     * poll loop by itself. */
    if (app->inflight >= app->opt.max_inflight || app->wake_ms == INT64_MAX)
        return -1;
    int64_t wait = app->wake_ms - app_now_ms();
    if (wait < 0)
        wait = 0;
    return wait > 60000 ? 60000 : (int)wait;
}

void app_request_round(struct app *app)
{
    app->rounds_requested++;
    app->wake_ms = 0;
}

bool app_rounds_complete(const struct app *app)
{
    if (!app->synced)
        return false;
    if (app->opt.prometheus)
        return app->prom_rounds_done >= app->rounds_requested &&
               prom_source_generation(app->opt.prometheus) == app->prom_generation_seen;
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
    if (app->opt.window_s <= 0)
        app->opt.window_s = APP_DEFAULT_WINDOW_S;
    if (app->opt.window_s > APP_MAX_WINDOW_S)
        app->opt.window_s = APP_MAX_WINDOW_S;
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
    for (size_t i = 0; i < app->n_deployments; i++) {
        free(app->deployments[i]->namespace);
        free(app->deployments[i]->name);
        free(app->deployments[i]);
    }
    free(app->deployments);
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

void app_set_window(struct app *app, int window_s)
{
    app->opt.window_s = window_s < 1 ? 1 : window_s > APP_MAX_WINDOW_S ? APP_MAX_WINDOW_S : window_s;
    for (size_t i = 0; i < app->n_pods; i++)
        compute_window(app->pods[i]);
    app->generation++;
}

int app_window_s(const struct app *app)
{
    return app->opt.window_s;
}

bool app_record_sample(struct app *app, const char *ns, const char *pod, int64_t t_ms, const struct app_sample *sample)
{
    bool found;
    size_t i = locate(app, ns, pod, &found);
    return found && apply_sample(app->pods[i], t_ms, sample);
}

uint64_t app_generation(const struct app *app)
{
    return app->generation;
}

/* What the pods of one deployment add up to in one refresh. */
struct deployment_sum {
    double rates[4];      /* aborts, delays, requests per second */
    bool has_rate[4];
    double requests, errors; /* increases over the window */
    double seconds;
    hfi_histogram delay, latency; /* bucket increases (or rates), merged by bound */
    /* --prometheus: a pod's window buckets were not asked for, so the
     * quantiles would be those of some pods only. */
    bool window_incomplete;
    prom_counter_total totals[VALUE_COUNTERS]; /* departed pods, then the live ones */
};

static void add_rate(struct deployment_sum *sum, int k, double rate)
{
    if (isnan(rate))
        return;
    sum->rates[k] += rate;
    sum->has_rate[k] = true;
}

static void add_buckets(hfi_histogram *sum, const struct windowed *w)
{
    for (size_t i = 0; w->valid && i < w->history.width; i++)
        if (!isnan(w->increase[i]))
            hfi_histogram_add_bucket(sum, w->bounds[i], w->increase[i]);
}

static void add_window_buckets(hfi_histogram *sum, const struct prom_window_buckets *w)
{
    for (size_t i = 0; i < w->count; i++)
        hfi_histogram_add_bucket(sum, w->buckets[i].upper_bound, w->buckets[i].cumulative_count);
}

static void add_pod_window(struct deployment_sum *sum, const struct pod_entry *e)
{
    const struct app_window_figures *w = &e->pub.window;
    if (e->rates_from_prometheus) {
        /* Rates over one window, added by bound: the quantiles of the sum
         * are histogram_quantile(q, sum by (le) (rate(..._bucket[w]))). */
        add_window_buckets(&sum->delay, &e->prom_delay_window);
        add_window_buckets(&sum->latency, &e->prom_latency_window);
        sum->window_incomplete |= !e->prom_window_known;
        add_rate(sum, VALUE_ABORTS, w->aborts_per_s);
        add_rate(sum, VALUE_DELAYS, w->delays_per_s);
        add_rate(sum, VALUE_REQUESTS, w->requests_per_s);
        /* Rates over one window: their ratio is that of the increases. */
        if (w->requests_per_s > 0 && !isnan(w->error_ratio)) {
            sum->requests += w->requests_per_s;
            sum->errors += w->requests_per_s * w->error_ratio;
        }
        return;
    }
    add_buckets(&sum->delay, &e->delay);
    add_buckets(&sum->latency, &e->latency);
    if (!e->counters.valid)
        return;
    const double *inc = e->counters.increase;
    add_rate(sum, VALUE_ABORTS, w->aborts_per_s);
    add_rate(sum, VALUE_DELAYS, w->delays_per_s);
    add_rate(sum, VALUE_REQUESTS, w->requests_per_s);
    if (!isnan(inc[VALUE_REQUESTS]) && !isnan(inc[VALUE_ERRORS])) {
        sum->requests += inc[VALUE_REQUESTS];
        sum->errors += inc[VALUE_ERRORS];
    }
    if (w->seconds > sum->seconds)
        sum->seconds = w->seconds;
}

static prom_percentiles merged_percentiles(const hfi_histogram *h)
{
    return prom_histogram_percentiles(h->buckets, h->bucket_count);
}

/* Index of the deployment, or n_deployments when it is not there. */
static size_t deployment_index(const struct app *app, const char *ns, const char *name)
{
    size_t lo = 0, hi = app->n_deployments;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_key(app->deployments[mid]->namespace, app->deployments[mid]->name, ns, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return app->n_deployments;
}

void app_refresh_deployments(struct app *app)
{
    for (size_t i = 0; i < app->n_pods; i++) {
        const struct kube_pod *k = &app->pods[i]->pub.pod;
        if (k->deployment)
            deployment_find(app, k->namespace, k->deployment, true);
    }
    struct deployment_sum *sums = calloc(app->n_deployments ? app->n_deployments : 1, sizeof *sums);
    if (!sums)
        return;
    for (size_t d = 0; d < app->n_deployments; d++) {
        struct deployment_entry *dep = app->deployments[d];
        dep->pub.pods = dep->pub.scraped = dep->pub.failing = 0;
        memcpy(sums[d].totals, dep->departed, sizeof sums[d].totals);
    }
    for (size_t i = 0; i < app->n_pods; i++) {
        const struct pod_entry *e = app->pods[i];
        const struct kube_pod *k = &e->pub.pod;
        size_t d = k->deployment ? deployment_index(app, k->namespace, k->deployment) : app->n_deployments;
        if (d == app->n_deployments)
            continue;
        struct app_deployment *pub = &app->deployments[d]->pub;
        pub->pods++;
        pub->scraped += e->pub.scraped;
        pub->failing += e->pub.failing;
        for (int v = 0; v < VALUE_COUNTERS; v++) {
            if (e->totals[v].seen) {
                sums[d].totals[v].seen = true;
                sums[d].totals[v].total += e->totals[v].total;
            }
        }
        add_pod_window(&sums[d], e);
    }
    for (size_t d = 0; d < app->n_deployments; d++) {
        const struct deployment_sum *sum = &sums[d];
        struct app_deployment *pub = &app->deployments[d]->pub;
        pub->totals = (struct app_totals){total_or_nan(&sum->totals[VALUE_ABORTS]),
                                          total_or_nan(&sum->totals[VALUE_DELAYS]),
                                          total_or_nan(&sum->totals[VALUE_REQUESTS]),
                                          total_or_nan(&sum->totals[VALUE_ERRORS])};
        struct app_window_figures *w = &pub->window;
        clear_figures(w);
        w->seconds = sum->seconds;
        w->aborts_per_s = sum->has_rate[VALUE_ABORTS] ? sum->rates[VALUE_ABORTS] : NAN;
        w->delays_per_s = sum->has_rate[VALUE_DELAYS] ? sum->rates[VALUE_DELAYS] : NAN;
        w->requests_per_s = sum->has_rate[VALUE_REQUESTS] ? sum->rates[VALUE_REQUESTS] : NAN;
        w->error_ratio = sum->requests > 0 ? sum->errors / sum->requests : NAN;
        if (!sum->window_incomplete) {
            w->delay_ms = merged_percentiles(&sum->delay);
            w->latency_ms = merged_percentiles(&sum->latency);
        }
    }
    free(sums);
}

size_t app_deployment_count(const struct app *app)
{
    return app->n_deployments;
}

const struct app_deployment *app_deployment_at(const struct app *app, size_t i)
{
    return i < app->n_deployments ? &app->deployments[i]->pub : NULL;
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

void app_show_pods(struct app *app, const struct app_pod *const *pods, size_t count)
{
    if (!app->opt.prometheus)
        return;
    const char **ns = calloc(count + 1, sizeof *ns), **names = calloc(count + 1, sizeof *names);
    if (ns && names) {
        for (size_t i = 0; i < count; i++) {
            ns[i] = pods[i]->pod.namespace;
            names[i] = pods[i]->pod.name;
        }
        /* Rows new on screen get their quantiles and history now, not
         * an interval later. */
        if (prom_source_want_details(app->opt.prometheus, ns, names, count, PROM_WANT_ROWS))
            app->next_prom_refresh_ms = 0;
    }
    free(ns);
    free(names);
}

static int compare_deployment_keys(const void *a, const void *b)
{
    const struct app_deployment *x = *(const struct app_deployment *const *)a,
                                *y = *(const struct app_deployment *const *)b;
    return compare_key(x->namespace, x->name, y->namespace, y->name);
}

void app_show_deployments(struct app *app, const struct app_deployment *const *deployments, size_t count)
{
    if (!app->opt.prometheus)
        return;
    const struct app_deployment **sorted = malloc((count ? count : 1) * sizeof *sorted);
    const char **ns = calloc(app->n_pods + 1, sizeof *ns), **names = calloc(app->n_pods + 1, sizeof *names);
    if (sorted && ns && names) {
        memcpy(sorted, deployments, count * sizeof *sorted);
        qsort(sorted, count, sizeof *sorted, compare_deployment_keys);
        size_t n = 0;
        for (size_t i = 0; i < app->n_pods; i++) {
            const struct kube_pod *k = &app->pods[i]->pub.pod;
            struct app_deployment key = {.namespace = k->namespace, .name = k->deployment};
            const struct app_deployment *keyp = &key;
            if (k->deployment && bsearch(&keyp, sorted, count, sizeof *sorted, compare_deployment_keys)) {
                ns[n] = k->namespace;
                names[n++] = k->name;
            }
        }
        /* Deployments new on screen get their quantiles now. */
        if (prom_source_want_details(app->opt.prometheus, ns, names, n, PROM_WANT_DEPLOYMENT_PODS))
            app->next_prom_refresh_ms = 0;
    }
    free(sorted);
    free(ns);
    free(names);
}

const struct prom_source *app_prometheus(const struct app *app)
{
    return app->opt.prometheus;
}

void app_source_summary(const struct app *app, char *out, size_t size)
{
    if (app->opt.prometheus) {
        const struct prom_source *src = app->opt.prometheus;
        snprintf(out, size, "Prometheus %s every %ds (labels %s, %s)", prom_source_url(src), app->opt.interval_s,
                 prom_source_pod_label(src), prom_source_namespace_label(src));
        return;
    }
    long ms = interval_ms(app);
    if (ms > app->opt.interval_s * 1000L)
        snprintf(out, size, "scraping %zu pods every %ld s, budget %.0f/s; use --prometheus for faster refresh",
                 app->scrapable, (ms + 999) / 1000, kube_client_budget_qps(app->client));
    else
        snprintf(out, size, "every %ds", app->opt.interval_s);
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
