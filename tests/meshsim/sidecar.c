#include "sidecar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugin/regex.h"
#include "../host/host.h"
#include "rng.h"

/* Envoy publishes histograms at each stats flush; counters are live. */
#define FLUSH_INTERVAL_MS 5000
#define MAX_PEER_CLUSTERS 4
#define LOG_LINES 256

enum stat_type { STAT_COUNTER, STAT_GAUGE, STAT_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* Bucket bounds: Envoy's defaults (envoy source/common/stats/histogram_impl.cc,
 * HistogramSettingsImpl::defaultBuckets; shared with the host) unless
 * the pod's sidecar.istio.io/statsHistogramBuckets names others. */
struct histogram {
    const double *bounds;
    size_t n_bounds;
    uint64_t *buckets; /* n_bounds + 1, per bucket, not cumulative; last is +Inf */
    uint64_t count;
    double sum;
};

/* A plugin histogram re-bucketed from the host's samples at each flush. */
struct plugin_histogram {
    char *name;
    uint64_t seen; /* samples already taken */
    struct histogram *h;
};

struct stat {
    /* Names are interned: thousands of sidecars share them. */
    const char *dotted; /* Envoy's own name, what `filter` matches */
    const char *family; /* Prometheus name after tag extraction */
    const char *labels; /* extracted tags, rendered: k="v",k2="v2" or "" */
    enum stat_type type;
    int used;
    uint64_t value;
    struct histogram *published, *pending; /* histograms only */
};

/* Stats the request path updates, found once at start. */
enum hot_stat {
    HOT_IN_RQ_TOTAL,
    HOT_IN_RQ_ACTIVE,
    HOT_IN_RQ_1XX, HOT_IN_RQ_2XX, HOT_IN_RQ_3XX, HOT_IN_RQ_4XX, HOT_IN_RQ_5XX,
    HOT_IN_RQ_TIME,
    HOT_IN_CX_TOTAL,
    HOT_UP_RQ_TOTAL,
    HOT_UP_RQ_COMPLETED,
    HOT_UP_RQ_2XX, HOT_UP_RQ_4XX, HOT_UP_RQ_5XX,
    HOT_UP_RQ_TIME,
    HOT_UP_CX_TOTAL,
    HOT_LISTENER_CX_TOTAL,
    HOT_STATS_RQ_TOTAL,
    HOT_STATS_RQ_2XX,
    HOT_UPTIME,
    HOT_WASM_ACTIVE,
    HOT_WASM_CREATED,
    HOT_WASM_FETCH_OK,
    HOT_WASM_FETCH_FAILED,
    HOT_ISTIO_DURATION,
    HOT_COUNT
};

/* Envoy runs one copy of a Wasm VM per worker thread; two workers are the
 * fewest that show what sharing stats by name means. */
#define WORKER_VMS 2

struct app_call {
    struct sidecar *sc;
    struct pw_vm *vm; /* the worker VM its stream runs in */
    uint32_t context_id;
    app_done_fn done;
    void *ctx;
    char *method, *path;
    int64_t started_ms;
    struct app_call *prev, *next;
};

struct sidecar {
    size_t n_peer_services;
    char *pod, *workload, *ns, *app_name;
    struct stats_matcher *inclusions;
    size_t n_inclusions;
    int restrictive_stats;
    enum metric_naming naming;
    int plugin_fails;

    struct stat *stats;
    size_t n_stats, cap_stats;
    int sorted;
    size_t hot[HOT_COUNT];

    /* The plugin as Envoy hosts it: WORKER_VMS worker VMs sharing stats, a
     * canary VM per configuration; requests go to the workers in turn. */
    struct pw_proxy *plugin;
    struct plugin_worker {
        struct sidecar *sc;
        struct pw_vm *vm;
    } workers[WORKER_VMS];
    size_t next_worker;
    char *plugin_config;
    /* Plugin histograms as of the last flush. */
    struct plugin_histogram *plugin_hists;
    size_t n_plugin_hists;
    struct bucket_rule *bucket_rules;
    size_t n_bucket_rules;

    int64_t started_ms, last_ms, next_flush_ms;
    uint64_t clock_origin_ns; /* wall clock at started_ms, for the VM */
    struct app_call *calls;
    int in_request; /* stream events during pw_stream_start are handled by the caller */
    /* The istio-proxy container's log: the last LOG_LINES lines. */
    char *log[LOG_LINES];
    size_t log_next, log_count;
    uint64_t log_total; /* lines ever logged: where a follower stands */
};

static uint8_t *module_bytes;
static size_t module_len;

int sidecar_load_module(const char *wasm_path)
{
    FILE *f = fopen(wasm_path, "rb");
    if (!f)
        return -1;
    struct buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    free(module_bytes);
    module_bytes = (uint8_t *)b.data;
    module_len = b.len;
    return 0;
}

/* ---- interned stat names ---- */

static char **intern_slots;
static size_t intern_cap, intern_len;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static const char *intern(const char *s)
{
    if (intern_len * 2 >= intern_cap) {
        size_t cap = intern_cap ? intern_cap * 2 : 4096;
        char **slots = calloc(cap, sizeof *slots);
        for (size_t i = 0; i < intern_cap; i++) {
            if (!intern_slots[i])
                continue;
            size_t j = hash_str(intern_slots[i]) & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = intern_slots[i];
        }
        free(intern_slots);
        intern_slots = slots;
        intern_cap = cap;
    }
    size_t j = hash_str(s) & (intern_cap - 1);
    while (intern_slots[j]) {
        if (strcmp(intern_slots[j], s) == 0)
            return intern_slots[j];
        j = (j + 1) & (intern_cap - 1);
    }
    intern_slots[j] = strdup(s);
    intern_len++;
    return intern_slots[j];
}

/* ---- the stats table ---- */

static void alloc_histograms(struct sidecar *sc, struct stat *s);

static size_t add_stat(struct sidecar *sc, enum stat_type type, const char *dotted, const char *family,
                       const char *labels)
{
    if (sc->n_stats == sc->cap_stats) {
        sc->cap_stats = sc->cap_stats ? sc->cap_stats * 2 : 256;
        sc->stats = realloc(sc->stats, sc->cap_stats * sizeof *sc->stats);
    }
    struct stat *s = &sc->stats[sc->n_stats];
    memset(s, 0, sizeof *s);
    s->dotted = intern(dotted);
    s->family = intern(family);
    s->labels = intern(labels);
    s->type = type;
    if (type == STAT_HISTOGRAM)
        alloc_histograms(sc, s);
    sc->sorted = 0;
    return sc->n_stats++;
}

/* Prometheus names: every character outside [A-Za-z0-9_] becomes '_'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            *s = '_';
}

/* A stat under a tagged scope: `<scope>.<tag value>.<name>` whose Prometheus
 * form is envoy_<scope>_<name>{<tag>="<value>"}; Envoy's tag extractors
 * also pull response codes out of names, innermost tag first. */
static size_t add_scoped(struct sidecar *sc, enum stat_type type, const char *scope, const char *tag,
                         const char *tag_value, const char *name)
{
    char dotted[512], family[256], labels[512];
    if (tag_value)
        snprintf(dotted, sizeof dotted, "%s.%s.%s", scope, tag_value, name);
    else
        snprintf(dotted, sizeof dotted, "%s.%s", scope, name);
    char base[256];
    snprintf(base, sizeof base, "%s", name);
    const char *extra_tag = NULL;
    char extra_value[16] = "";
    size_t len = strlen(base);
    /* upstream_rq_503 -> upstream_rq{envoy_response_code="503"}; _5xx -> _xx{class="5"} */
    if (len > 4 && base[len - 4] == '_' && base[len - 3] >= '1' && base[len - 3] <= '5') {
        if (base[len - 2] == 'x' && base[len - 1] == 'x') {
            extra_tag = "envoy_response_code_class";
            snprintf(extra_value, sizeof extra_value, "%c", base[len - 3]);
            base[len - 3] = '\0';
            strcat(base, "xx");
        } else if (base[len - 2] >= '0' && base[len - 2] <= '9' && base[len - 1] >= '0' && base[len - 1] <= '9') {
            extra_tag = "envoy_response_code";
            snprintf(extra_value, sizeof extra_value, "%s", base + len - 3);
            base[len - 4] = '\0';
        }
    }
    snprintf(family, sizeof family, "envoy_%s_%s", scope, base);
    sanitize(family);
    labels[0] = '\0';
    if (extra_tag)
        snprintf(labels, sizeof labels, "%s=\"%s\"%s", extra_tag, extra_value, tag ? "," : "");
    if (tag)
        snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s=\"%s\"", tag, tag_value);
    return add_stat(sc, type, dotted, family, labels);
}

static size_t add_plain(struct sidecar *sc, enum stat_type type, const char *dotted)
{
    char family[512];
    snprintf(family, sizeof family, "envoy_%s", dotted);
    sanitize(family);
    return add_stat(sc, type, dotted, family, "");
}

static void set_value(struct sidecar *sc, size_t i, uint64_t v)
{
    sc->stats[i].value = v;
    sc->stats[i].used = 1;
}

static void bump(struct sidecar *sc, enum hot_stat h, uint64_t by)
{
    struct stat *s = &sc->stats[sc->hot[h]];
    s->value += by;
    s->used = 1;
}

static struct histogram *hist_new(const double *bounds, size_t n_bounds)
{
    struct histogram *h = calloc(1, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n_bounds;
    h->buckets = calloc(n_bounds + 1, sizeof *h->buckets);
    return h;
}

static void hist_free(struct histogram *h)
{
    if (h)
        free(h->buckets);
    free(h);
}

static void hist_record(struct histogram *h, double v)
{
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

static void hist_merge(struct histogram *into, struct histogram *from)
{
    for (size_t i = 0; i <= into->n_bounds; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    memset(from->buckets, 0, (from->n_bounds + 1) * sizeof *from->buckets);
    from->count = 0;
    from->sum = 0;
}

/* The bounds for a histogram: the first rule whose prefix starts its name. */
static void bounds_for(const struct sidecar *sc, const char *dotted, const double **bounds, size_t *n)
{
    for (size_t i = 0; i < sc->n_bucket_rules; i++) {
        const struct bucket_rule *r = &sc->bucket_rules[i];
        if (strncmp(dotted, r->prefix, strlen(r->prefix)) == 0) {
            *bounds = r->bounds;
            *n = r->n_bounds;
            return;
        }
    }
    *bounds = pw_histogram_bounds;
    *n = PW_HISTOGRAM_BOUNDS;
}

static void alloc_histograms(struct sidecar *sc, struct stat *s)
{
    const double *bounds;
    size_t n;
    bounds_for(sc, s->dotted, &bounds, &n);
    s->published = hist_new(bounds, n);
    s->pending = hist_new(bounds, n);
}

static const char *const cluster_counters[] = {
    "assignment_stale", "bind_errors", "lb_healthy_panic", "membership_change", "original_dst_host_invalid",
    "retry_or_shadow_abandoned", "update_attempt", "update_empty", "update_failure", "update_no_rebuild",
    "update_success", "upstream_cx_close_notify", "upstream_cx_connect_attempts_exceeded",
    "upstream_cx_connect_fail", "upstream_cx_connect_timeout", "upstream_cx_destroy", "upstream_cx_destroy_local",
    "upstream_cx_destroy_remote", "upstream_cx_http1_total", "upstream_cx_http2_total", "upstream_cx_idle_timeout",
    "upstream_cx_max_requests", "upstream_cx_none_healthy", "upstream_cx_overflow", "upstream_cx_protocol_error",
    "upstream_cx_rx_bytes_total", "upstream_cx_tx_bytes_total", "upstream_flow_control_paused_reading_total",
    "upstream_rq_cancelled", "upstream_rq_maintenance_mode", "upstream_rq_pending_failure_eject",
    "upstream_rq_pending_overflow", "upstream_rq_pending_total", "upstream_rq_per_try_timeout",
    "upstream_rq_retry", "upstream_rq_retry_overflow", "upstream_rq_retry_success", "upstream_rq_rx_reset",
    "upstream_rq_timeout", "upstream_rq_tx_reset", NULL};
static const char *const cluster_gauges[] = {"circuit_breakers.default.cx_open", "circuit_breakers.default.rq_open",
                                             "lb_subsets_active", "max_host_weight", "membership_degraded",
                                             "membership_excluded", "membership_healthy", "membership_total",
                                             "upstream_cx_active", "upstream_cx_rx_bytes_buffered",
                                             "upstream_cx_tx_bytes_buffered", "upstream_rq_active",
                                             "upstream_rq_pending_active", "version", NULL};

static void add_cluster(struct sidecar *sc, const char *cluster, int hot)
{
    for (size_t i = 0; cluster_counters[i]; i++)
        add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, cluster_counters[i]);
    for (size_t i = 0; cluster_gauges[i]; i++) {
        size_t s = add_scoped(sc, STAT_GAUGE, "cluster", "envoy_cluster_name", cluster, cluster_gauges[i]);
        if (strcmp(cluster_gauges[i], "membership_healthy") == 0 || strcmp(cluster_gauges[i], "membership_total") == 0)
            set_value(sc, s, 1);
    }
    size_t total = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_cx_total");
    size_t rq = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_total");
    size_t done = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_completed");
    size_t r2 = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_2xx");
    size_t r4 = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_4xx");
    size_t r5 = add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_5xx");
    add_scoped(sc, STAT_COUNTER, "cluster", "envoy_cluster_name", cluster, "upstream_rq_200");
    size_t rt = add_scoped(sc, STAT_HISTOGRAM, "cluster", "envoy_cluster_name", cluster, "upstream_rq_time");
    add_scoped(sc, STAT_HISTOGRAM, "cluster", "envoy_cluster_name", cluster, "upstream_cx_connect_ms");
    add_scoped(sc, STAT_HISTOGRAM, "cluster", "envoy_cluster_name", cluster, "upstream_cx_length_ms");
    if (hot) {
        sc->hot[HOT_UP_CX_TOTAL] = total;
        sc->hot[HOT_UP_RQ_TOTAL] = rq;
        sc->hot[HOT_UP_RQ_COMPLETED] = done;
        sc->hot[HOT_UP_RQ_2XX] = r2;
        sc->hot[HOT_UP_RQ_4XX] = r4;
        sc->hot[HOT_UP_RQ_5XX] = r5;
        sc->hot[HOT_UP_RQ_TIME] = rt;
    }
}

static const char *const http_counters[] = {
    "downstream_cx_destroy", "downstream_cx_destroy_local", "downstream_cx_destroy_remote",
    "downstream_cx_http1_total", "downstream_cx_http2_total", "downstream_cx_protocol_error",
    "downstream_cx_rx_bytes_total", "downstream_cx_tx_bytes_total", "downstream_rq_completed",
    "downstream_rq_http1_total", "downstream_rq_http2_total", "downstream_rq_idle_timeout",
    "downstream_rq_overload_close", "downstream_rq_rejected_via_ip_detection", "downstream_rq_response_before_rq_complete",
    "downstream_rq_rx_reset", "downstream_rq_timeout", "downstream_rq_tx_reset", "no_route", "rq_direct_response",
    "rq_redirect", "rq_reset_after_downstream_response_started", "rs_too_large", NULL};

static void add_http(struct sidecar *sc, const char *prefix, int hot)
{
    for (size_t i = 0; http_counters[i]; i++)
        add_scoped(sc, STAT_COUNTER, "http", "envoy_http_conn_manager_prefix", prefix, http_counters[i]);
    add_scoped(sc, STAT_GAUGE, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_cx_active");
    size_t active = add_scoped(sc, STAT_GAUGE, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_rq_active");
    size_t cx = add_scoped(sc, STAT_COUNTER, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_cx_total");
    size_t total = add_scoped(sc, STAT_COUNTER, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_rq_total");
    size_t classes[5];
    for (int c = 1; c <= 5; c++) {
        char name[32];
        snprintf(name, sizeof name, "downstream_rq_%dxx", c);
        classes[c - 1] = add_scoped(sc, STAT_COUNTER, "http", "envoy_http_conn_manager_prefix", prefix, name);
    }
    size_t time = add_scoped(sc, STAT_HISTOGRAM, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_rq_time");
    add_scoped(sc, STAT_HISTOGRAM, "http", "envoy_http_conn_manager_prefix", prefix, "downstream_cx_length_ms");
    if (hot == 1) {
        sc->hot[HOT_IN_RQ_TOTAL] = total;
        sc->hot[HOT_IN_RQ_ACTIVE] = active;
        sc->hot[HOT_IN_CX_TOTAL] = cx;
        for (int c = 0; c < 5; c++)
            sc->hot[HOT_IN_RQ_1XX + c] = classes[c];
        sc->hot[HOT_IN_RQ_TIME] = time;
    } else if (hot == 2) {
        sc->hot[HOT_STATS_RQ_TOTAL] = total;
        sc->hot[HOT_STATS_RQ_2XX] = classes[1];
    }
}

static void add_listener(struct sidecar *sc, const char *address, int hot)
{
    static const char *const counters[] = {"downstream_cx_destroy", "downstream_cx_overflow",
                                           "downstream_cx_overload_reject", "downstream_global_cx_overflow",
                                           "downstream_pre_cx_timeout", "no_filter_chain_match", NULL};
    for (size_t i = 0; counters[i]; i++)
        add_scoped(sc, STAT_COUNTER, "listener", "envoy_listener_address", address, counters[i]);
    add_scoped(sc, STAT_GAUGE, "listener", "envoy_listener_address", address, "downstream_cx_active");
    add_scoped(sc, STAT_GAUGE, "listener", "envoy_listener_address", address, "downstream_pre_cx_active");
    size_t total = add_scoped(sc, STAT_COUNTER, "listener", "envoy_listener_address", address, "downstream_cx_total");
    add_scoped(sc, STAT_HISTOGRAM, "listener", "envoy_listener_address", address, "downstream_cx_length_ms");
    if (hot)
        sc->hot[HOT_LISTENER_CX_TOTAL] = total;
}

static void add_server_and_managers(struct sidecar *sc)
{
    static const char *const counters[] = {
        "cluster_manager.cds.init_fetch_timeout", "cluster_manager.cds.update_attempt",
        "cluster_manager.cds.update_failure", "cluster_manager.cds.update_rejected",
        "cluster_manager.cds.update_success", "cluster_manager.cluster_added", "cluster_manager.cluster_modified",
        "cluster_manager.cluster_removed", "cluster_manager.cluster_updated",
        "cluster_manager.update_merge_cancelled", "cluster_manager.update_out_of_merge_window",
        "listener_manager.lds.init_fetch_timeout", "listener_manager.lds.update_attempt",
        "listener_manager.lds.update_failure", "listener_manager.lds.update_rejected",
        "listener_manager.lds.update_success", "listener_manager.listener_added",
        "listener_manager.listener_create_failure", "listener_manager.listener_create_success",
        "listener_manager.listener_in_place_updated", "listener_manager.listener_modified",
        "listener_manager.listener_removed", "listener_manager.listener_stopped", "server.debug_assertion_failures",
        "server.dynamic_unknown_fields", "server.envoy_bug_failures", "server.main_thread.watchdog_mega_miss",
        "server.main_thread.watchdog_miss", "server.static_unknown_fields", "server.wip_protos", NULL};
    static const char *const gauges[] = {
        "cluster_manager.active_clusters", "cluster_manager.cds.version", "cluster_manager.warming_clusters",
        "listener_manager.lds.version", "listener_manager.total_filter_chains_draining",
        "listener_manager.total_listeners_active", "listener_manager.total_listeners_draining",
        "listener_manager.total_listeners_warming", "listener_manager.workers_started",
        "server.compilation_settings.fips_mode", "server.concurrency", "server.days_until_first_cert_expiring",
        "server.hot_restart_epoch", "server.live", "server.memory_allocated", "server.memory_heap_size",
        "server.memory_physical_size", "server.parent_connections", "server.seconds_until_first_ocsp_response_expiring",
        "server.state", "server.stats_recent_lookups", "server.total_connections", "server.version", NULL};
    for (size_t i = 0; counters[i]; i++) {
        size_t s = add_plain(sc, STAT_COUNTER, counters[i]);
        if (strstr(counters[i], "update_success") || strstr(counters[i], "update_attempt") ||
            strstr(counters[i], "_added") || strstr(counters[i], "create_success"))
            set_value(sc, s, 3 + rng_below(4));
    }
    for (size_t i = 0; gauges[i]; i++) {
        size_t s = add_plain(sc, STAT_GAUGE, gauges[i]);
        const char *g = gauges[i];
        if (strcmp(g, "server.live") == 0 || strcmp(g, "listener_manager.workers_started") == 0)
            set_value(sc, s, 1);
        else if (strcmp(g, "server.concurrency") == 0)
            set_value(sc, s, 2);
        else if (strcmp(g, "server.days_until_first_cert_expiring") == 0)
            set_value(sc, s, 0);
        else if (strcmp(g, "server.memory_allocated") == 0)
            set_value(sc, s, 9000000 + rng_below(3000000));
        else if (strcmp(g, "server.memory_heap_size") == 0)
            set_value(sc, s, 16777216);
        else if (strcmp(g, "server.memory_physical_size") == 0)
            set_value(sc, s, 19922944);
        else if (strcmp(g, "server.version") == 0)
            set_value(sc, s, 12345678);
        else if (strcmp(g, "cluster_manager.active_clusters") == 0)
            set_value(sc, s, 7 + sc->n_peer_services);
        else if (strcmp(g, "listener_manager.total_listeners_active") == 0)
            set_value(sc, s, 4);
        else if (strcmp(g, "server.seconds_until_first_ocsp_response_expiring") == 0)
            set_value(sc, s, 0);
    }
    sc->hot[HOT_UPTIME] = add_plain(sc, STAT_GAUGE, "server.uptime");
    add_plain(sc, STAT_HISTOGRAM, "server.initialization_time_ms");
    /* Worker-scoped watchdog stats carry a worker id tag. */
    for (int w = 0; w < 2; w++) {
        char dotted[64], id[32];
        snprintf(dotted, sizeof dotted, "server.worker_%d.watchdog_miss", w);
        snprintf(id, sizeof id, "envoy_worker_id=\"%d\"", w);
        add_stat(sc, STAT_COUNTER, dotted, "envoy_server_worker_watchdog_miss", id);
        snprintf(dotted, sizeof dotted, "server.worker_%d.watchdog_mega_miss", w);
        add_stat(sc, STAT_COUNTER, dotted, "envoy_server_worker_watchdog_mega_miss", id);
    }
    sc->hot[HOT_WASM_ACTIVE] = add_plain(sc, STAT_GAUGE, "wasm.envoy.wasm.runtime.v8.active");
    sc->hot[HOT_WASM_CREATED] = add_plain(sc, STAT_COUNTER, "wasm.envoy.wasm.runtime.v8.created");
    sc->hot[HOT_WASM_FETCH_OK] = add_plain(sc, STAT_COUNTER, "wasm.remote_load_fetch_successes");
    sc->hot[HOT_WASM_FETCH_FAILED] = add_plain(sc, STAT_COUNTER, "wasm.remote_load_fetch_failures");
    add_plain(sc, STAT_GAUGE, "wasm.remote_load_cache_entries");
}

/* Istio's own request metrics, labelled per response code. */
static size_t istio_requests_stat(struct sidecar *sc, int code)
{
    char dotted[512], labels[1024];
    snprintf(dotted, sizeof dotted,
             "istiocustom.istio_requests_total.reporter.destination.source_workload.unknown.destination_workload.%s"
             ".response_code.%d",
             sc->workload, code);
    for (size_t i = 0; i < sc->n_stats; i++)
        if (strcmp(sc->stats[i].dotted, dotted) == 0)
            return i;
    snprintf(labels, sizeof labels,
             "reporter=\"destination\",source_workload=\"unknown\",source_workload_namespace=\"unknown\","
             "source_principal=\"unknown\",destination_workload=\"%s\",destination_workload_namespace=\"%s\","
             "destination_service=\"%s.%s.svc.cluster.local\",request_protocol=\"http\",response_code=\"%d\","
             "response_flags=\"-\",connection_security_policy=\"none\"",
             sc->workload, sc->ns, sc->app_name, sc->ns, code);
    return add_stat(sc, STAT_COUNTER, dotted, "istio_requests_total", labels);
}

static int stat_cmp(const void *a, const void *b)
{
    const struct stat *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->dotted, y->dotted);
}

static void sort_stats(struct sidecar *sc)
{
    if (sc->sorted)
        return;
    /* Hot indexes refer to positions: remember them by name across the sort. */
    const char *hot_names[HOT_COUNT];
    for (int h = 0; h < HOT_COUNT; h++)
        hot_names[h] = sc->stats[sc->hot[h]].dotted;
    qsort(sc->stats, sc->n_stats, sizeof *sc->stats, stat_cmp);
    for (int h = 0; h < HOT_COUNT; h++)
        for (size_t i = 0; i < sc->n_stats; i++)
            if (sc->stats[i].dotted == hot_names[h]) {
                sc->hot[h] = i;
                break;
            }
    sc->sorted = 1;
}

/* ---- the plugin ---- */

static void plugin_stream_event(void *user, uint32_t context_id, enum pw_stream_state state);

static void fail_paused_calls(struct sidecar *sc);

static uint64_t vm_clock(const struct sidecar *sc, int64_t now_ms)
{
    return sc->clock_origin_ns + (uint64_t)(now_ms - sc->started_ms) * PW_MS;
}

static void advance_vm(struct sidecar *sc, int64_t now_ms)
{
    if (!sc->plugin)
        return;
    uint64_t target = vm_clock(sc, now_ms);
    uint64_t cur = pw_proxy_now(sc->plugin);
    if (target > cur)
        pw_proxy_advance(sc->plugin, target - cur);
}

/* The VM whose stats store every worker shares. */
static const struct pw_vm *stats_vm(const struct sidecar *sc)
{
    return pw_proxy_worker(sc->plugin, 0);
}

/* A line of the proxy's log, stamped the way Envoy stamps them. */
static void proxy_log(struct sidecar *sc, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void proxy_log(struct sidecar *sc, const char *level, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    struct buf line = {0};
    buf_printf(&line, "%s.%06ldZ\t%s\t", stamp, ts.tv_nsec / 1000, level);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&line, fmt, ap);
    va_end(ap);
    free(sc->log[sc->log_next]);
    sc->log[sc->log_next] = line.data;
    sc->log_next = (sc->log_next + 1) % LOG_LINES;
    if (sc->log_count < LOG_LINES)
        sc->log_count++;
    sc->log_total++;
}

uint64_t sidecar_log_total(const struct sidecar *sc)
{
    return sc->log_total;
}

void sidecar_logs_since(const struct sidecar *sc, struct buf *out, uint64_t since)
{
    uint64_t first_kept = sc->log_total - sc->log_count;
    for (uint64_t k = since > first_kept ? since : first_kept; k < sc->log_total; k++)
        buf_printf(out, "%s\n", sc->log[(sc->log_next + LOG_LINES - (size_t)(sc->log_total - k)) % LOG_LINES]);
}

void sidecar_logs(const struct sidecar *sc, struct buf *out, long tail)
{
    size_t n = sc->log_count;
    size_t skip = tail >= 0 && (size_t)tail < n ? n - (size_t)tail : 0;
    for (size_t i = skip; i < n; i++)
        buf_printf(out, "%s\n", sc->log[(sc->log_next + LOG_LINES - n + i) % LOG_LINES]);
}

static void plugin_log(void *user, enum pw_log_level level, const char *text)
{
    static const char *const names[] = {"trace", "debug", "info", "warning", "error", "critical"};
    struct sidecar *sc = user;
    proxy_log(sc, names[level <= PW_LOG_CRITICAL ? level : PW_LOG_CRITICAL],
              "envoy wasm external/envoy/source/extensions/common/wasm/context.cc:1192\twasm log hfi-fault: %s", text);
}

static void clear_plugin_histograms(struct sidecar *sc)
{
    for (size_t i = 0; i < sc->n_plugin_hists; i++) {
        free(sc->plugin_hists[i].name);
        hist_free(sc->plugin_hists[i].h);
    }
    free(sc->plugin_hists);
    sc->plugin_hists = NULL;
    sc->n_plugin_hists = 0;
}

static void unload_plugin(struct sidecar *sc)
{
    if (!sc->plugin)
        return;
    fail_paused_calls(sc);
    pw_proxy_free(sc->plugin);
    sc->plugin = NULL;
    proxy_log(sc, "info", "envoy wasm\tplugin hfi-fault removed (its WasmPlugin is gone)");
    set_value(sc, sc->hot[HOT_WASM_ACTIVE], 0);
    clear_plugin_histograms(sc);
}

void sidecar_set_plugin(struct sidecar *sc, const char *config)
{
    if (!config) {
        unload_plugin(sc);
        free(sc->plugin_config);
        sc->plugin_config = NULL;
        return;
    }
    if (sc->plugin_config && strcmp(sc->plugin_config, config) == 0)
        return;
    free(sc->plugin_config);
    sc->plugin_config = strdup(config);
    if (sidecar_plugin_loaded(sc)) {
        /* ECDS: tried on a canary VM, then a new root context in each worker. */
        if (!pw_proxy_configure(sc->plugin, config))
            proxy_log(sc, "warning", "envoy wasm\tplugin hfi-fault rejected the new configuration; the previous one stays");
        else
            proxy_log(sc, "info", "envoy wasm\tplugin hfi-fault configured again (ECDS)");
        return;
    }
    unload_plugin(sc);
    if (sc->plugin_fails || !module_bytes) {
        bump(sc, HOT_WASM_FETCH_FAILED, 1);
        proxy_log(sc, "error", "envoy wasm\tFailed to load Wasm module: fetching the module for plugin hfi-fault failed");
        return;
    }
    char err[256];
    struct pw_proxy *plugin = pw_proxy_new(&pw_module_hfi_fault, module_bytes, module_len, WORKER_VMS, err, sizeof err);
    if (!plugin) {
        proxy_log(sc, "error", "envoy wasm\tFailed to load Wasm module due to a missing import or a bad module: %s", err);
        bump(sc, HOT_WASM_FETCH_FAILED, 1);
        return;
    }
    pw_proxy_set_time(plugin, vm_clock(sc, sc->last_ms));
    pw_proxy_set_random_seed(plugin, rng_next());
    pw_proxy_set_property(plugin, "node.metadata.WORKLOAD_NAME", sc->workload);
    pw_proxy_set_property(plugin, "node.metadata.NAMESPACE", sc->ns);
    pw_proxy_set_property(plugin, "node.metadata.NAME", sc->pod);
    pw_proxy_set_log_sink(plugin, plugin_log, sc);
    for (size_t i = 0; i < WORKER_VMS; i++) {
        sc->workers[i] = (struct plugin_worker){sc, pw_proxy_worker(plugin, i)};
        pw_set_stream_event(sc->workers[i].vm, plugin_stream_event, &sc->workers[i]);
    }
    bump(sc, HOT_WASM_FETCH_OK, 1);
    bump(sc, HOT_WASM_CREATED, 1);
    if (!pw_proxy_configure(plugin, config) || pw_vm_failed(pw_proxy_worker(plugin, 0))) {
        /* Envoy drops a plugin whose start or configure fails (fail open here). */
        proxy_log(sc, "error", "envoy wasm\tWasm VM failed to start: %s",
                  pw_vm_error(pw_proxy_worker(plugin, 0))[0] ? pw_vm_error(pw_proxy_worker(plugin, 0))
                                                             : "its configuration was refused");
        pw_proxy_free(plugin);
        return;
    }
    sc->plugin = plugin;
    set_value(sc, sc->hot[HOT_WASM_ACTIVE], 1);
    proxy_log(sc, "info", "envoy wasm\tcreated Wasm VM for plugin hfi-fault");
}

int sidecar_plugin_loaded(const struct sidecar *sc)
{
    if (!sc->plugin)
        return 0;
    for (size_t i = 0; i < WORKER_VMS; i++)
        if (pw_vm_failed(sc->workers[i].vm))
            return 0;
    return 1;
}

/* ---- requests ---- */

static void record_response(struct sidecar *sc, int status, int64_t started_ms, int64_t now, int upstream)
{
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    double ms = (double)(now - started_ms);
    bump(sc, (enum hot_stat)(HOT_IN_RQ_1XX + cls - 1), 1);
    hist_record(sc->stats[sc->hot[HOT_IN_RQ_TIME]].pending, ms);
    if (upstream) {
        bump(sc, HOT_UP_RQ_COMPLETED, 1);
        if (cls == 2)
            bump(sc, HOT_UP_RQ_2XX, 1);
        else if (cls == 4)
            bump(sc, HOT_UP_RQ_4XX, 1);
        else if (cls == 5)
            bump(sc, HOT_UP_RQ_5XX, 1);
        hist_record(sc->stats[sc->hot[HOT_UP_RQ_TIME]].pending, ms);
    }
    size_t i = istio_requests_stat(sc, status);
    sc->stats[i].value++;
    sc->stats[i].used = 1;
    hist_record(sc->stats[sc->hot[HOT_ISTIO_DURATION]].pending, ms);
    struct stat *active = &sc->stats[sc->hot[HOT_IN_RQ_ACTIVE]];
    if (active->value)
        active->value--;
}

/* The tiny app: 200 with a small JSON body; /status/NNN answers NNN. */
static void app_answer(struct sidecar *sc, const char *method, const char *path, struct app_response *out)
{
    out->status = 200;
    int code;
    if (sscanf(path, "/status/%3d", &code) == 1 && code >= 200 && code <= 599)
        out->status = code;
    buf_puts(&out->headers, "content-type: application/json\r\nserver: istio-envoy\r\n");
    buf_printf(&out->body, "{\"app\":");
    buf_json_string(&out->body, sc->app_name);
    buf_puts(&out->body, ",\"pod\":");
    buf_json_string(&out->body, sc->pod);
    buf_puts(&out->body, ",\"method\":");
    buf_json_string(&out->body, method);
    buf_puts(&out->body, ",\"path\":");
    buf_json_string(&out->body, path);
    buf_puts(&out->body, "}\n");
}

static void local_reply_answer(const struct pw_local_reply *reply, struct app_response *out)
{
    out->status = (int)reply->status;
    for (size_t i = 0; i < reply->n_headers; i++)
        buf_printf(&out->headers, "%s: %s\r\n", reply->headers[i].name, reply->headers[i].value);
    if (!pw_local_reply_header(reply, "content-type"))
        buf_puts(&out->headers, "content-type: text/plain\r\n");
    buf_puts(&out->headers, "server: istio-envoy\r\n");
    buf_append(&out->body, reply->body ? reply->body : "", reply->body_len);
}

/* Answers a request whose plugin verdict is known, and ends its stream. */
static void finish(struct sidecar *sc, struct pw_vm *vm, uint32_t context_id, enum pw_stream_state state,
                   const struct pw_local_reply *reply, const char *method, const char *path, int64_t started_ms,
                   app_done_fn done, void *ctx)
{
    struct app_response resp = {0};
    int upstream = 0;
    if (state == PW_STREAM_LOCAL_REPLY && reply) {
        local_reply_answer(reply, &resp);
    } else if (state == PW_STREAM_CLOSED) {
        resp.reset = 1;
        resp.status = 0;
    } else {
        /* Continued, no plugin, or a failed VM (the WasmPlugin fails open). */
        bump(sc, HOT_UP_RQ_TOTAL, 1);
        bump(sc, HOT_UP_CX_TOTAL, 1);
        app_answer(sc, method, path, &resp);
        upstream = 1;
    }
    if (!resp.reset)
        record_response(sc, resp.status, started_ms, sc->last_ms, upstream);
    if (vm && context_id) {
        if (state == PW_STREAM_CONTINUED || state == PW_STREAM_LOCAL_REPLY)
            pw_stream_complete(vm, context_id);
        else if (pw_stream_get(vm, context_id))
            pw_stream_reset(vm, context_id);
    }
    done(ctx, &resp);
    buf_free(&resp.headers);
    buf_free(&resp.body);
}

static void call_unlink(struct app_call *call)
{
    struct sidecar *sc = call->sc;
    if (call->prev)
        call->prev->next = call->next;
    else
        sc->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    free(call->method);
    free(call->path);
    free(call);
}

static void plugin_stream_event(void *user, uint32_t context_id, enum pw_stream_state state)
{
    struct plugin_worker *worker = user;
    struct sidecar *sc = worker->sc;
    if (sc->in_request)
        return;
    for (struct app_call *call = sc->calls; call; call = call->next) {
        if (call->vm != worker->vm || call->context_id != context_id)
            continue;
        if (state == PW_STREAM_PAUSED)
            return;
        const struct pw_stream *st = pw_stream_get(worker->vm, context_id);
        app_done_fn done = call->done;
        void *ctx = call->ctx;
        char *method = call->method, *path = call->path;
        int64_t started = call->started_ms;
        call->method = call->path = NULL;
        call_unlink(call);
        finish(sc, worker->vm, context_id, state, st ? st->reply : NULL, method, path, started, done, ctx);
        free(method);
        free(path);
        return;
    }
}

/* The plugin went away under held requests: they go on to the app. */
static void fail_paused_calls(struct sidecar *sc)
{
    while (sc->calls) {
        struct app_call *call = sc->calls;
        app_done_fn done = call->done;
        void *ctx = call->ctx;
        char *method = call->method, *path = call->path;
        int64_t started = call->started_ms;
        uint32_t id = call->context_id;
        struct pw_vm *vm = call->vm;
        call->method = call->path = NULL;
        call_unlink(call);
        if (pw_stream_get(vm, id))
            pw_stream_reset(vm, id);
        finish(sc, NULL, 0, PW_STREAM_CONTINUED, NULL, method, path, started, done, ctx);
        free(method);
        free(path);
    }
}

struct app_call *sidecar_request(struct sidecar *sc, const char *method, const char *path,
                                 const struct header *headers, size_t n_headers, app_done_fn done, void *ctx)
{
    int64_t now = sc->last_ms;
    bump(sc, HOT_IN_RQ_TOTAL, 1);
    bump(sc, HOT_IN_CX_TOTAL, 1);
    bump(sc, HOT_LISTENER_CX_TOTAL, 1);
    bump(sc, HOT_IN_RQ_ACTIVE, 1);
    if (!sidecar_plugin_loaded(sc)) {
        finish(sc, NULL, 0, PW_STREAM_CONTINUED, NULL, method, path, now, done, ctx);
        return NULL;
    }
    struct pw_vm *vm = sc->workers[sc->next_worker++ % WORKER_VMS].vm;
    advance_vm(sc, now);
    char authority[300];
    snprintf(authority, sizeof authority, "%s.%s.svc.cluster.local", sc->app_name, sc->ns);
    struct pw_header *hdrs = calloc(n_headers + 4, sizeof *hdrs);
    size_t n = 0;
    hdrs[n++] = (struct pw_header){":method", method};
    hdrs[n++] = (struct pw_header){":path", path};
    hdrs[n++] = (struct pw_header){":authority", authority};
    hdrs[n++] = (struct pw_header){":scheme", "http"};
    char **lowered = calloc(n_headers + 1, sizeof *lowered);
    for (size_t i = 0; i < n_headers; i++) {
        lowered[i] = strdup(headers[i].name);
        for (char *p = lowered[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        hdrs[n++] = (struct pw_header){lowered[i], headers[i].value};
    }
    sc->in_request = 1;
    struct pw_stream_result r = pw_stream_start(vm, hdrs, n);
    sc->in_request = 0;
    for (size_t i = 0; i < n_headers; i++)
        free(lowered[i]);
    free(lowered);
    free(hdrs);
    if (r.context_id && r.state == PW_STREAM_PAUSED) {
        struct app_call *call = calloc(1, sizeof *call);
        call->sc = sc;
        call->vm = vm;
        call->context_id = r.context_id;
        call->done = done;
        call->ctx = ctx;
        call->method = strdup(method);
        call->path = strdup(path);
        call->started_ms = now;
        call->next = sc->calls;
        if (sc->calls)
            sc->calls->prev = call;
        sc->calls = call;
        return call;
    }
    finish(sc, vm, r.context_id, r.state, r.reply, method, path, now, done, ctx);
    return NULL;
}

void sidecar_cancel(struct app_call *call)
{
    struct sidecar *sc = call->sc;
    uint32_t id = call->context_id;
    struct pw_vm *vm = call->vm;
    /* Forgotten before the reset, so no stream event can answer it. */
    call_unlink(call);
    if (pw_stream_get(vm, id))
        pw_stream_reset(vm, id);
    struct stat *active = &sc->stats[sc->hot[HOT_IN_RQ_ACTIVE]];
    if (active->value)
        active->value--;
}

/* ---- lifecycle ---- */

/* Every sidecar of a workload starts with the same stats: the first one
 * builds the table, later ones copy it. */
struct stats_proto {
    char *key;
    struct stat *stats;
    size_t n;
    size_t hot[HOT_COUNT];
    struct stats_proto *next;
};

static struct stats_proto *protos;

static void proto_key(const struct sidecar_options *opt, struct buf *key)
{
    buf_printf(key, "%s\n%s\n%zu\n%d", opt->workload, opt->ns, opt->n_peer_services, opt->app_port);
}

static struct stats_proto *proto_find(const struct sidecar_options *opt)
{
    struct buf key = {0};
    proto_key(opt, &key);
    struct stats_proto *p = protos;
    while (p && strcmp(p->key, key.data) != 0)
        p = p->next;
    buf_free(&key);
    return p;
}

static void proto_save(struct sidecar *sc, const struct sidecar_options *opt)
{
    struct stats_proto *p = calloc(1, sizeof *p);
    struct buf key = {0};
    proto_key(opt, &key);
    p->key = key.data;
    p->n = sc->n_stats;
    p->stats = malloc(p->n * sizeof *p->stats);
    memcpy(p->stats, sc->stats, p->n * sizeof *p->stats);
    for (size_t i = 0; i < p->n; i++)
        p->stats[i].published = p->stats[i].pending = NULL;
    memcpy(p->hot, sc->hot, sizeof p->hot);
    p->next = protos;
    protos = p;
}

static void proto_apply(struct sidecar *sc, const struct stats_proto *p)
{
    sc->stats = malloc(p->n * sizeof *sc->stats);
    memcpy(sc->stats, p->stats, p->n * sizeof *sc->stats);
    for (size_t i = 0; i < p->n; i++)
        if (sc->stats[i].type == STAT_HISTOGRAM)
            alloc_histograms(sc, &sc->stats[i]);
    sc->n_stats = sc->cap_stats = p->n;
    memcpy(sc->hot, p->hot, sizeof sc->hot);
    sc->sorted = 1;
}

static void build_stats(struct sidecar *sc, const struct sidecar_options *opt)
{
    char inbound[64];
    snprintf(inbound, sizeof inbound, "inbound|%d||", opt->app_port);
    static const char *const fixed_clusters[] = {"BlackHoleCluster", "PassthroughCluster", "agent",
                                                 "prometheus_stats", "xds-grpc", NULL};
    for (size_t i = 0; fixed_clusters[i]; i++)
        add_cluster(sc, fixed_clusters[i], 0);
    add_cluster(sc, inbound, 1);
    size_t peers = opt->n_peer_services < MAX_PEER_CLUSTERS ? opt->n_peer_services : MAX_PEER_CLUSTERS;
    for (size_t i = 0; i < peers; i++) {
        char name[300];
        snprintf(name, sizeof name, "outbound|80||%s.%s.svc.cluster.local", opt->peer_services[i], opt->ns);
        add_cluster(sc, name, 0);
    }
    char inbound_prefix[64];
    snprintf(inbound_prefix, sizeof inbound_prefix, "inbound_0.0.0.0_%d", opt->app_port);
    add_http(sc, inbound_prefix, 1);
    add_http(sc, "outbound_0.0.0.0_80", 0);
    add_http(sc, "stats", 2);
    add_listener(sc, "0.0.0.0_15090", 0);
    add_listener(sc, "0.0.0.0_15021", 0);
    add_listener(sc, "virtualInbound", 1);
    add_listener(sc, "virtualOutbound", 0);
    add_server_and_managers(sc);
    istio_requests_stat(sc, 200);
    struct buf labels = {0};
    buf_printf(&labels, "reporter=\"destination\",destination_workload=\"%s\",destination_workload_namespace=\"%s\"",
               sc->workload, sc->ns);
    sc->hot[HOT_ISTIO_DURATION] = add_stat(sc, STAT_HISTOGRAM,
                                  "istiocustom.istio_request_duration_milliseconds.reporter.destination", 
                                  "istio_request_duration_milliseconds", labels.data);
    buf_free(&labels);
}

struct sidecar *sidecar_new(const struct sidecar_options *opt, int64_t now)
{
    struct sidecar *sc = calloc(1, sizeof *sc);
    sc->n_peer_services = opt->n_peer_services;
    sc->pod = strdup(opt->pod);
    sc->workload = strdup(opt->workload);
    sc->ns = strdup(opt->ns);
    sc->app_name = strdup(opt->app_name);
    sc->restrictive_stats = opt->restrictive_stats;
    sc->naming = opt->naming;
    sc->plugin_fails = opt->plugin_fails;
    if (opt->n_inclusions) {
        sc->inclusions = calloc(opt->n_inclusions, sizeof *sc->inclusions);
        for (size_t i = 0; i < opt->n_inclusions; i++) {
            sc->inclusions[i].kind = opt->inclusions[i].kind;
            sc->inclusions[i].value = strdup(opt->inclusions[i].value);
            if (opt->inclusions[i].kind == MATCH_REGEX) {
                char err[128];
                hfi_regex_compile(opt->inclusions[i].value, strlen(opt->inclusions[i].value),
                                  &sc->inclusions[i].regex, err, sizeof err);
            }
        }
        sc->n_inclusions = opt->n_inclusions;
    }
    if (opt->n_bucket_rules) {
        sc->bucket_rules = calloc(opt->n_bucket_rules, sizeof *sc->bucket_rules);
        for (size_t i = 0; i < opt->n_bucket_rules; i++) {
            sc->bucket_rules[i] = opt->bucket_rules[i];
            sc->bucket_rules[i].prefix = strdup(opt->bucket_rules[i].prefix);
        }
        sc->n_bucket_rules = opt->n_bucket_rules;
    }
    sc->started_ms = sc->last_ms = now;
    sc->next_flush_ms = now + FLUSH_INTERVAL_MS;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sc->clock_origin_ns = (uint64_t)ts.tv_sec * PW_SECOND + (uint64_t)ts.tv_nsec;

    proxy_log(sc, "info", "envoy main\tinitializing epoch 0 (base id=0, hot restart version=disabled)");
    proxy_log(sc, "info", "envoy main\tstatically linked extensions: envoy.wasm.runtime.v8");
    struct stats_proto *proto = proto_find(opt);
    if (proto) {
        proto_apply(sc, proto);
    } else {
        build_stats(sc, opt);
        sort_stats(sc);
        proto_save(sc, opt);
    }
    /* Bootstrap-time values. */
    for (size_t i = 0; i < sc->n_stats; i++)
        if (strcmp(sc->stats[i].dotted, "server.initialization_time_ms") == 0) {
            hist_record(sc->stats[i].published, 180 + rng_below(200));
            sc->stats[i].used = 1;
        }
    return sc;
}

void sidecar_free(struct sidecar *sc)
{
    /* Pending calls belong to clients still waiting: answer them as reset. */
    while (sc->calls) {
        struct app_call *call = sc->calls;
        app_done_fn done = call->done;
        void *ctx = call->ctx;
        call_unlink(call);
        struct app_response resp = {.reset = 1};
        done(ctx, &resp);
    }
    pw_proxy_free(sc->plugin);
    for (size_t i = 0; i < sc->n_stats; i++) {
        hist_free(sc->stats[i].published);
        hist_free(sc->stats[i].pending);
    }
    free(sc->stats);
    for (size_t i = 0; i < sc->n_inclusions; i++) {
        free(sc->inclusions[i].value);
        if (sc->inclusions[i].regex)
            hfi_regex_free(sc->inclusions[i].regex);
    }
    free(sc->inclusions);
    free(sc->plugin_config);
    clear_plugin_histograms(sc);
    for (size_t i = 0; i < LOG_LINES; i++)
        free(sc->log[i]);
    for (size_t i = 0; i < sc->n_bucket_rules; i++)
        free(sc->bucket_rules[i].prefix);
    free(sc->bucket_rules);
    free(sc->pod);
    free(sc->workload);
    free(sc->ns);
    free(sc->app_name);
    free(sc);
}

/* The published buckets of a plugin histogram, made empty when the plugin
 * defines it: Envoy builds a histogram's statistics with its supported
 * buckets when it creates it (envoy source/common/stats/thread_local_store.cc,
 * ParentHistogramImpl's constructor; histogram_impl.cc, HistogramStatisticsImpl),
 * and /stats/prometheus lists every histogram, merged or not
 * (source/server/admin/prometheus_stats.cc). */
static struct plugin_histogram *plugin_histogram_of(struct sidecar *sc, const struct pw_metric *m)
{
    for (size_t j = 0; j < sc->n_plugin_hists; j++)
        if (strcmp(sc->plugin_hists[j].name, m->name) == 0)
            return &sc->plugin_hists[j];
    sc->plugin_hists = realloc(sc->plugin_hists, (sc->n_plugin_hists + 1) * sizeof *sc->plugin_hists);
    struct plugin_histogram *ph = &sc->plugin_hists[sc->n_plugin_hists++];
    ph->name = strdup(m->name);
    ph->seen = 0;
    char dotted[300];
    pw_metric_envoy_name(m, dotted, sizeof dotted);
    const double *bounds;
    size_t nb;
    bounds_for(sc, dotted, &bounds, &nb);
    ph->h = hist_new(bounds, nb);
    return ph;
}

static void flush(struct sidecar *sc)
{
    for (size_t i = 0; i < sc->n_stats; i++)
        if (sc->stats[i].type == STAT_HISTOGRAM && sc->stats[i].pending->count) {
            hist_merge(sc->stats[i].published, sc->stats[i].pending);
            sc->stats[i].used = 1;
        }
    if (!sidecar_plugin_loaded(sc))
        return;
    /* Samples recorded since the last flush go into this pod's buckets. */
    for (size_t i = 0; i < pw_metric_count(stats_vm(sc)); i++) {
        const struct pw_metric *m = pw_metric_at(stats_vm(sc), i);
        if (m->type != PW_HISTOGRAM)
            continue;
        struct plugin_histogram *ph = plugin_histogram_of(sc, m);
        uint64_t fresh = m->count - ph->seen;
        size_t kept = pw_metric_sample_count(m);
        size_t take = fresh < kept ? (size_t)fresh : kept;
        for (size_t k = kept - take; k < kept; k++)
            hist_record(ph->h, (double)pw_metric_sample(m, k));
        /* More samples than the host keeps: count them in +Inf's total
         * only, with the host's exact sum. */
        if (fresh > take) {
            ph->h->count += fresh - take;
            ph->h->buckets[ph->h->n_bounds] += fresh - take;
        }
        ph->h->sum = (double)m->sum;
        ph->seen = m->count;
    }
}

int sidecar_tick(struct sidecar *sc, int64_t now)
{
    sc->last_ms = now;
    set_value(sc, sc->hot[HOT_UPTIME], (uint64_t)((now - sc->started_ms) / 1000));
    if (now >= sc->next_flush_ms) {
        flush(sc);
        sc->next_flush_ms = now + FLUSH_INTERVAL_MS;
    }
    int wait = (int)(sc->next_flush_ms - now);
    if (sc->plugin) {
        uint64_t next = pw_proxy_next_tick_ns(sc->plugin);
        if (next) {
            uint64_t vm_now = vm_clock(sc, now);
            if (next <= vm_now) {
                advance_vm(sc, now);
                next = pw_proxy_next_tick_ns(sc->plugin);
            }
            if (next > vm_now) {
                int64_t ms = (int64_t)((next - vm_now + PW_MS - 1) / PW_MS);
                if (ms < wait)
                    wait = (int)ms;
            }
        }
    }
    return wait;
}

/* ---- /stats/prometheus ---- */

static int matcher_hit(const struct stats_matcher *m, const char *name)
{
    size_t nl = strlen(name), vl = strlen(m->value);
    switch (m->kind) {
    case MATCH_PREFIX: return strncmp(name, m->value, vl) == 0;
    case MATCH_SUFFIX: return nl >= vl && strcmp(name + nl - vl, m->value) == 0;
    case MATCH_EXACT: return strcmp(name, m->value) == 0;
    case MATCH_CONTAINS: return strstr(name, m->value) != NULL;
    case MATCH_REGEX: return m->regex && hfi_regex_search(m->regex, name, nl);
    }
    return 0;
}

/* Whether Envoy created this wasmcustom stat or rejected it at start. */
static int custom_stat_included(const struct sidecar *sc, const char *dotted)
{
    if (!sc->restrictive_stats)
        return 1;
    for (size_t i = 0; i < sc->n_inclusions; i++)
        if (matcher_hit(&sc->inclusions[i], dotted))
            return 1;
    return 0;
}

struct render {
    struct buf *out;
    const char *family; /* the family whose # TYPE line was written last */
    const struct hfi_regex *filter;
    int usedonly;
};

static void type_line(struct render *r, const char *family, enum stat_type type)
{
    if (r->family && strcmp(r->family, family) == 0)
        return;
    buf_printf(r->out, "# TYPE %s %s\n", family, type_names[type]);
    r->family = family;
}

/* %.32g, as Envoy prints bucket bounds: 0.5, 1, 3600000. */
static void print_bound(struct buf *out, double v)
{
    buf_printf(out, "%.32g", v);
}

static void render_histogram(struct buf *out, const char *family, const char *labels, const struct histogram *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h->n_bounds; b++) {
        cumulative += h->buckets[b];
        buf_printf(out, "%s_bucket{%s%sle=\"", family, labels, sep);
        print_bound(out, h->bounds[b]);
        buf_printf(out, "\"} %llu\n", (unsigned long long)cumulative);
    }
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", family, labels, sep, (unsigned long long)h->count);
    buf_printf(out, "%s_sum{%s} %.32g\n", family, labels, h->sum);
    buf_printf(out, "%s_count{%s} %llu\n", family, labels, (unsigned long long)h->count);
}

static void render_stat(struct render *r, const struct stat *s)
{
    if (r->filter && !hfi_regex_search(r->filter, s->dotted, strlen(s->dotted)))
        return;
    if (r->usedonly && !s->used)
        return;
    type_line(r, s->family, s->type);
    if (s->type != STAT_HISTOGRAM) {
        buf_printf(r->out, "%s{%s} %llu\n", s->family, s->labels, (unsigned long long)s->value);
        return;
    }
    render_histogram(r->out, s->family, s->labels, s->published);
}

/* The name a plugin metric has in this pod's plugin build: Envoy puts the
 * defined name under wasmcustom. (envoy source/extensions/common/wasm/
 * context.cc, defineMetric) and /stats/prometheus strips that one namespace
 * (source/server/admin/prometheus_stats.cc). */
static void plugin_metric_name(const struct sidecar *sc, const char *defined, char *out, size_t size)
{
    const char *base = defined;
    if (strncmp(base, "wasmcustom.", 11) == 0)
        base = defined + 11;
    if (sc->naming == NAMING_PREFIXED) {
        snprintf(out, size, "%s", defined);
    } else if (sc->naming == NAMING_BARE) {
        snprintf(out, size, "%s", base);
    } else {
        /* hfi_faults_aborts_total -> hfi.faults.aborts_total */
        snprintf(out, size, "%s", base);
        if (strncmp(out, "hfi_faults_", 11) == 0) {
            out[3] = '.';
            out[10] = '.';
        }
    }
}

struct custom_metric {
    char dotted[300];
    char family[300];
    const struct pw_metric *m;
    const struct histogram *h; /* histograms: as of the last flush */
};

static int custom_cmp(const void *a, const void *b)
{
    const struct custom_metric *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->dotted, y->dotted);
}

/* The plugin's metrics as Envoy renders them: `wasmcustom.` + the defined
 * name is the stat; Prometheus strips one namespace and adds no prefix.
 * Counters and gauges live, histograms as of the last flush. */
static size_t collect_custom(struct sidecar *sc, struct custom_metric **out)
{
    *out = NULL;
    if (!sidecar_plugin_loaded(sc))
        return 0;
    size_t n = pw_metric_count(stats_vm(sc));
    struct custom_metric *cm = calloc(n ? n : 1, sizeof *cm);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pw_metric *m = pw_metric_at(stats_vm(sc), i);
        const struct histogram *h = m->type == PW_HISTOGRAM ? plugin_histogram_of(sc, m)->h : NULL;
        char name[256];
        plugin_metric_name(sc, m->name, name, sizeof name);
        snprintf(cm[k].dotted, sizeof cm[k].dotted, "wasmcustom.%s", name);
        if (!custom_stat_included(sc, cm[k].dotted))
            continue;
        snprintf(cm[k].family, sizeof cm[k].family, "%s", name);
        sanitize(cm[k].family);
        cm[k].m = m;
        cm[k].h = h;
        k++;
    }
    qsort(cm, k, sizeof *cm, custom_cmp);
    *out = cm;
    return k;
}

static void render_custom(struct render *r, const struct custom_metric *c)
{
    const struct pw_metric *m = c->m;
    if (r->filter && !hfi_regex_search(r->filter, c->dotted, strlen(c->dotted)))
        return;
    int used = m->type == PW_HISTOGRAM ? c->h->count > 0 : m->value != 0;
    if (r->usedonly && !used)
        return;
    enum stat_type t = m->type == PW_COUNTER ? STAT_COUNTER : m->type == PW_GAUGE ? STAT_GAUGE : STAT_HISTOGRAM;
    type_line(r, c->family, t);
    if (t != STAT_HISTOGRAM)
        buf_printf(r->out, "%s{} %lld\n", c->family, (long long)m->value);
    else
        render_histogram(r->out, c->family, "", c->h);
}

void sidecar_stats(struct sidecar *sc, struct buf *out, const struct hfi_regex *filter, int usedonly)
{
    sort_stats(sc);
    bump(sc, HOT_STATS_RQ_TOTAL, 1);
    bump(sc, HOT_STATS_RQ_2XX, 1);
    struct custom_metric *custom;
    size_t n_custom = collect_custom(sc, &custom);
    struct render r = {out, NULL, filter, usedonly};
    /* Merge the two sorted sequences so families stay in order overall. */
    size_t i = 0, j = 0;
    while (i < sc->n_stats || j < n_custom) {
        int take_custom = j < n_custom && (i == sc->n_stats || strcmp(custom[j].family, sc->stats[i].family) < 0);
        if (take_custom)
            render_custom(&r, &custom[j++]);
        else
            render_stat(&r, &sc->stats[i++]);
    }
    free(custom);
}

void sidecar_global_free(void)
{
    free(module_bytes);
    module_bytes = NULL;
    module_len = 0;
    for (size_t i = 0; i < intern_cap; i++)
        free(intern_slots[i]);
    free(intern_slots);
    intern_slots = NULL;
    intern_cap = intern_len = 0;
    while (protos) {
        struct stats_proto *p = protos;
        protos = p->next;
        free(p->key);
        free(p->stats);
        free(p);
    }
}
