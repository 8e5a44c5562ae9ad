/* Benchmark of the Prometheus text parser on a sidecar-sized Envoy dump,
 * side by side with prometheus_client (Python) and expfmt (Go) parsing the
 * same bytes in the same run.
 *
 * Usage: bench_prom [DUMP_FILE PYTHON_SCRIPT GO_BINARY] (defaults set by
 * the build, since `make bench` runs it without arguments). Writes the
 * generated dump to DUMP_FILE, then prints
 *   BENCH prom_parse_mbps <ours> MB/s ref=python_prometheus_client <py> ratio=<ours/py>
 *   BENCH prom_parse_go_ratio <ratio> x ref=go_expfmt <go MB/s> ratio=<ours/go> */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prom_parse.h"

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void append(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 4096;
        t->data = realloc(t->data, t->cap);
        if (!t->data) {
            perror("realloc");
            exit(1);
        }
    }
}

static uint64_t lcg_state = 42;
static uint64_t next_random(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return lcg_state >> 33;
}

/* Envoy's default histogram bounds: what a sidecar serves unless the pod
 * overrides them. */
static const char *const bounds[] = {"0.5",  "1",     "5",     "10",     "25",     "50",      "100",
                                     "250",  "500",   "1000",  "2500",   "5000",   "10000",   "30000",
                                     "60000", "300000", "600000", "1800000", "3600000", "+Inf"};
#define BOUND_COUNT (sizeof bounds / sizeof bounds[0])

static void histogram_series(text *t, const char *family, const char *labels)
{
    uint64_t running = 0, total = next_random() % 100000;
    for (size_t b = 0; b < BOUND_COUNT; b++) {
        running += (total - running) / 3;
        if (b == BOUND_COUNT - 1)
            running = total;
        append(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", family, labels, labels[0] ? "," : "", bounds[b],
               (unsigned long long)running);
    }
    append(t, "%s_sum{%s} %llu.%llu\n", family, labels, (unsigned long long)(total * 37),
           (unsigned long long)(next_random() % 100));
    append(t, "%s_count{%s} %llu\n", family, labels, (unsigned long long)total);
}

/* A dump shaped like a busy sidecar's /stats/prometheus: families sorted,
 * `# TYPE` before each, hundreds of labelled cluster counters, 20-bucket
 * histograms, Istio's many-label series, Envoy's Wasm stats and ours. */
static text make_envoy_dump(void)
{
    static const char *const cluster_counters[] = {
        "assignment_stale", "assignment_timeout_received", "bind_errors", "default_total_match_count",
        "lb_healthy_panic", "lb_local_cluster_not_ok", "lb_recalculate_zone_structures", "lb_subsets_created",
        "lb_subsets_fallback", "lb_subsets_removed", "lb_subsets_selected", "lb_zone_cluster_too_small",
        "lb_zone_no_capacity_left", "lb_zone_routing_all_directly", "lb_zone_routing_cross_zone",
        "membership_change", "original_dst_host_invalid", "retry_or_shadow_abandoned", "ssl_connection_error",
        "ssl_handshake", "update_attempt", "update_empty", "update_failure", "update_no_rebuild",
        "update_success", "upstream_cx_close_notify", "upstream_cx_connect_attempts_exceeded",
        "upstream_cx_connect_fail", "upstream_cx_connect_timeout", "upstream_cx_destroy",
        "upstream_cx_destroy_local", "upstream_cx_destroy_remote", "upstream_cx_http1_total",
        "upstream_cx_http2_total", "upstream_cx_idle_timeout", "upstream_cx_max_requests",
        "upstream_cx_none_healthy", "upstream_cx_overflow", "upstream_cx_pool_overflow",
        "upstream_cx_protocol_error", "upstream_cx_rx_bytes_total", "upstream_cx_total",
        "upstream_cx_tx_bytes_total", "upstream_flow_control_paused_reading_total", "upstream_rq_200",
        "upstream_rq_2xx", "upstream_rq_503", "upstream_rq_5xx", "upstream_rq_cancelled", "upstream_rq_completed",
        "upstream_rq_maintenance_mode", "upstream_rq_pending_failure_eject", "upstream_rq_pending_overflow",
        "upstream_rq_pending_total", "upstream_rq_per_try_timeout", "upstream_rq_retry", "upstream_rq_timeout",
        "upstream_rq_total",
    };
    static const char *const cluster_gauges[] = {
        "circuit_breakers_default_cx_open", "circuit_breakers_default_rq_open", "membership_degraded",
        "membership_healthy", "membership_total", "upstream_cx_active", "upstream_rq_active",
        "upstream_rq_pending_active", "version",
    };
    static const char *const cluster_histograms[] = {
        "upstream_cx_connect_ms",
        "upstream_cx_length_ms",
        "upstream_rq_time",
    };
    enum { CLUSTERS = 24 };
    char clusters[CLUSTERS][96];
    for (int i = 0; i < CLUSTERS; i++)
        snprintf(clusters[i], sizeof clusters[i], "outbound|%d||svc-%02d.team-%d.svc.cluster.local", 8000 + i, i,
                 i % 5);

    text t = {0};
    /* Families come sorted by name, as Envoy sorts them. */
    for (size_t f = 0; f < sizeof cluster_counters / sizeof cluster_counters[0]; f++) {
        append(&t, "# TYPE envoy_cluster_%s counter\n", cluster_counters[f]);
        for (int c = 0; c < CLUSTERS; c++)
            append(&t, "envoy_cluster_%s{envoy_cluster_name=\"%s\"} %llu\n", cluster_counters[f], clusters[c],
                   (unsigned long long)(next_random() % 4 ? next_random() % 100000 : 0));
    }
    for (size_t f = 0; f < sizeof cluster_gauges / sizeof cluster_gauges[0]; f++) {
        append(&t, "# TYPE envoy_cluster_%s gauge\n", cluster_gauges[f]);
        for (int c = 0; c < CLUSTERS; c++)
            append(&t, "envoy_cluster_%s{envoy_cluster_name=\"%s\"} %llu\n", cluster_gauges[f], clusters[c],
                   (unsigned long long)(next_random() % 50));
    }
    for (size_t f = 0; f < sizeof cluster_histograms / sizeof cluster_histograms[0]; f++) {
        char family[96], labels[160];
        snprintf(family, sizeof family, "envoy_cluster_%s", cluster_histograms[f]);
        append(&t, "# TYPE %s histogram\n", family);
        for (int c = 0; c < CLUSTERS; c++) {
            snprintf(labels, sizeof labels, "envoy_cluster_name=\"%s\"", clusters[c]);
            histogram_series(&t, family, labels);
        }
    }
    append(&t, "# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n");
    append(&t, "# TYPE envoy_server_total_connections gauge\nenvoy_server_total_connections{} 17\n");
    append(&t, "# TYPE envoy_server_uptime gauge\nenvoy_server_uptime{} 86400\n");
    append(&t, "# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge\nenvoy_wasm_envoy_wasm_runtime_v8_active{} 2\n");
    append(&t, "# TYPE envoy_wasm_envoy_wasm_runtime_v8_created counter\nenvoy_wasm_envoy_wasm_runtime_v8_created{} 4\n");
    append(&t, "# TYPE envoy_wasm_remote_load_fetch_successes counter\nenvoy_wasm_remote_load_fetch_successes{} 1\n");

    /* Istio's standard metrics: few families, many labels. */
    static const char istio_labels[] =
        "response_code=\"%d\",reporter=\"destination\",source_workload=\"client-%d\","
        "source_workload_namespace=\"team-%d\",source_principal=\"spiffe://cluster.local/ns/team-%d/sa/client\","
        "source_app=\"client\",source_version=\"v1\",source_cluster=\"Kubernetes\","
        "destination_workload=\"web\",destination_workload_namespace=\"default\","
        "destination_principal=\"spiffe://cluster.local/ns/default/sa/web\",destination_app=\"web\","
        "destination_version=\"v2\",destination_service=\"web.default.svc.cluster.local\","
        "destination_service_name=\"web\",destination_service_namespace=\"default\","
        "destination_cluster=\"Kubernetes\",request_protocol=\"http\",response_flags=\"-\","
        "grpc_response_status=\"\",connection_security_policy=\"mutual_tls\"";
    append(&t, "# TYPE istio_request_duration_milliseconds histogram\n");
    for (int i = 0; i < 12; i++) {
        char labels[1024];
        snprintf(labels, sizeof labels, istio_labels, i % 3 ? 200 : 503, i, i % 4, i % 4);
        histogram_series(&t, "istio_request_duration_milliseconds", labels);
    }
    append(&t, "# TYPE istio_requests_total counter\n");
    for (int i = 0; i < 40; i++) {
        char labels[1024];
        snprintf(labels, sizeof labels, istio_labels, i % 3 ? 200 : 503, i, i % 4, i % 4);
        append(&t, "istio_requests_total{%s} %llu\n", labels, (unsigned long long)next_random());
    }

    append(&t, "# TYPE wasmcustom_hfi_faults_aborts_total counter\nwasmcustom_hfi_faults_aborts_total{} 1234\n");
    append(&t, "# TYPE wasmcustom_hfi_faults_active_delays gauge\nwasmcustom_hfi_faults_active_delays{} 3\n");
    append(&t, "# TYPE wasmcustom_hfi_faults_config_errors_total counter\nwasmcustom_hfi_faults_config_errors_total{} 0\n");
    append(&t, "# TYPE wasmcustom_hfi_faults_delay_duration_milliseconds histogram\n");
    histogram_series(&t, "wasmcustom_hfi_faults_delay_duration_milliseconds", "");
    append(&t, "# TYPE wasmcustom_hfi_faults_delays_total counter\nwasmcustom_hfi_faults_delays_total{} 987\n");
    append(&t, "# TYPE wasmcustom_hfi_faults_overflow_total counter\nwasmcustom_hfi_faults_overflow_total{} 0\n");
    append(&t, "# TYPE wasmcustom_hfi_faults_policies gauge\nwasmcustom_hfi_faults_policies{} 2\n");
    return t;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Does what a real consumer does with each sample: reads its value and
 * labels, so the comparison with parsers that build objects is fair. */
static int consume_sample(void *user, const prom_sample *s)
{
    double *sink = user;
    *sink += s->value + (double)s->label_count + (double)s->name.len;
    return 0;
}

static double run_reference(const char *command)
{
    FILE *p = popen(command, "r");
    if (!p) {
        perror(command);
        exit(1);
    }
    double mbps = 0;
    int got = fscanf(p, "%lf", &mbps);
    int status = pclose(p);
    if (got != 1 || status != 0 || mbps <= 0) {
        fprintf(stderr, "bench_prom: reference failed: %s\n", command);
        exit(1);
    }
    return mbps;
}

int main(int argc, char **argv)
{
    if (argc != 1 && argc != 4) {
        fprintf(stderr, "usage: %s [DUMP_FILE PYTHON_SCRIPT GO_BINARY]\n", argv[0]);
        return 2;
    }
    const char *dump_path = argc == 4 ? argv[1] : BENCH_PROM_DUMP;
    const char *python_script = argc == 4 ? argv[2] : BENCH_PROM_PYTHON;
    const char *go_binary = argc == 4 ? argv[3] : BENCH_PROM_GO;
    text dump = make_envoy_dump();
    FILE *f = fopen(dump_path, "wb");
    if (!f || fwrite(dump.data, 1, dump.len, f) != dump.len || fclose(f) != 0) {
        perror(dump_path);
        return 1;
    }

    prom_parse_stats stats;
    double sink = 0;
    prom_parse_options opts = {.on_sample = consume_sample, .user = &sink};
    prom_parse(dump.data, dump.len, &opts, &stats);
    if (stats.garbage_lines != 0 || stats.samples == 0) {
        fprintf(stderr, "bench_prom: generated dump does not parse cleanly (%zu garbage lines)\n", stats.garbage_lines);
        return 1;
    }
    fprintf(stderr, "bench_prom: %zu bytes, %zu lines, %zu samples, %zu families\n", dump.len, stats.lines,
            stats.samples, stats.type_lines);

    double best = 1e9;
    for (int run = 0; run < 200; run++) {
        double start = now_seconds();
        prom_parse(dump.data, dump.len, &opts, &stats);
        double elapsed = now_seconds() - start;
        if (elapsed < best)
            best = elapsed;
    }
    double ours = (double)dump.len / 1e6 / best;

    char command[8192];
    snprintf(command, sizeof command, "/usr/bin/python3 '%s' '%s' 10", python_script, dump_path);
    double python = run_reference(command);
    snprintf(command, sizeof command, "'%s' '%s' 50", go_binary, dump_path);
    double go = run_reference(command);

    printf("BENCH prom_parse_mbps %.1f MB/s ref=python_prometheus_client %.2f ratio=%.1f\n", ours, python,
           ours / python);
    printf("BENCH prom_parse_go_ratio %.1f x ref=go_expfmt %.1f ratio=%.1f\n", ours / go, go, ours / go);
    free(dump.data);
    return sink == -1 ? 1 : 0;
}
