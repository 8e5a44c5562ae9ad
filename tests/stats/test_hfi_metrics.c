/* Reading the plugin's metrics in each naming, summing labelled series,
 * and the per-pod JSON. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>

#include "../testlib.h"
#include "hfi_metrics.h"

static hfi_metrics read_dump(const char *text)
{
    hfi_metrics m;
    hfi_metrics_from_prometheus(text, strlen(text), &m, NULL);
    return m;
}

/* What our plugin looks like through Envoy, with bounds a pod overrode
 * (never the defaults) and two worker-labelled series per metric. */
static const char wasmcustom_dump[] =
    "# TYPE envoy_cluster_upstream_rq_total counter\n"
    "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"xds-grpc\"} 7\n"
    "# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge\n"
    "envoy_wasm_envoy_wasm_runtime_v8_active{} 2\n"
    "# TYPE envoy_wasm_remote_load_fetch_successes counter\n"
    "envoy_wasm_remote_load_fetch_successes{} 1\n"
    "# TYPE wasmcustom_hfi_faults_aborts_total counter\n"
    "wasmcustom_hfi_faults_aborts_total{worker=\"0\"} 3\n"
    "wasmcustom_hfi_faults_aborts_total{worker=\"1\"} 4\n"
    "# TYPE wasmcustom_hfi_faults_active_delays gauge\n"
    "wasmcustom_hfi_faults_active_delays{} 1\n"
    "# TYPE wasmcustom_hfi_faults_config_errors_total counter\n"
    "wasmcustom_hfi_faults_config_errors_total{} 0\n"
    "# TYPE wasmcustom_hfi_faults_delay_duration_milliseconds histogram\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"0\",le=\"10\"} 1\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"0\",le=\"100\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"0\",le=\"1e+06\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"0\",le=\"+Inf\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_sum{worker=\"0\"} 60.5\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_count{worker=\"0\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"1\",le=\"10\"} 1\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"1\",le=\"100\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"1\",le=\"1e+06\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{worker=\"1\",le=\"+Inf\"} 2\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_sum{worker=\"1\"} 100\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_count{worker=\"1\"} 2\n"
    "# TYPE wasmcustom_hfi_faults_delays_total counter\n"
    "wasmcustom_hfi_faults_delays_total{} 4\n"
    "# TYPE wasmcustom_hfi_faults_overflow_total counter\n"
    "wasmcustom_hfi_faults_overflow_total{} 0\n"
    "# TYPE wasmcustom_hfi_faults_policies gauge\n"
    "wasmcustom_hfi_faults_policies{} 2\n";

static void test_wasmcustom_naming_and_sums(void)
{
    prom_parse_stats st;
    hfi_metrics m;
    hfi_metrics_from_prometheus(wasmcustom_dump, strlen(wasmcustom_dump), &m, &st);
    CHECK_INT(m.naming, HFI_NAMING_WASMCUSTOM);
    CHECK(m.wasm_runtime_stats_present);
    CHECK_INT(m.wasm_runtime_series, 2);
    CHECK(m.aborts_total.present && m.aborts_total.exact && m.aborts_total.value_u64 == 7);
    CHECK_INT(m.aborts_total.series, 2);
    CHECK(m.delays_total.value_u64 == 4);
    CHECK(m.overflow_total.present && m.overflow_total.value == 0);
    CHECK(m.config_errors_total.present && m.config_errors_total.value == 0);
    CHECK(m.active_delays.value == 1);
    CHECK(m.policies.value == 2);
    const hfi_histogram *h = &m.delay_ms;
    CHECK(h->present);
    CHECK_INT(h->bucket_count, 4);
    CHECK(h->buckets[0].upper_bound == 10 && h->buckets[0].cumulative_count == 2);
    CHECK(h->buckets[1].upper_bound == 100 && h->buckets[1].cumulative_count == 4);
    CHECK(h->buckets[2].upper_bound == 1e6);
    CHECK(h->buckets[3].upper_bound == INFINITY && h->buckets[3].cumulative_count == 4);
    CHECK(h->sum.value == 160.5 && !h->sum.exact);
    CHECK(h->count.value_u64 == 4);
    prom_percentiles p = hfi_metrics_delay_percentiles(&m);
    CHECK(fabs(p.p50 - 10) < 1e-9);   /* rank 2: top of le=10 */
    CHECK(fabs(p.p95 - 91) < 1e-9);   /* rank 3.8: 10 + 90 * 1.8/2 */
    CHECK(fabs(p.p99 - 98.2) < 1e-9); /* rank 3.96: 10 + 90 * 1.96/2 */
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.samples, 21); /* envoy_cluster_* is skipped, not parsed */
    CHECK_INT(st.skipped_lines, 1);
}

static void test_bare_or_legacy_naming(void)
{
    hfi_metrics m = read_dump("# TYPE hfi_faults_aborts_total counter\nhfi_faults_aborts_total{} 3\n"
                              "hfi_faults_delays_total{} 18446744073709551615\n");
    CHECK_INT(m.naming, HFI_NAMING_BARE);
    CHECK_STR(hfi_naming_name(m.naming), "bare");
    CHECK(m.aborts_total.value_u64 == 3);
    CHECK(m.delays_total.exact && m.delays_total.value_u64 == UINT64_MAX);
    CHECK(!m.wasm_runtime_stats_present);
    CHECK(!m.delay_ms.present);
    CHECK(!m.policies.present);
}

static void test_ours_wins_over_bare(void)
{
    hfi_metrics m = read_dump("hfi_faults_aborts_total{} 100\nwasmcustom_hfi_faults_aborts_total{} 3\n"
                              "hfi_faults_delays_total{} 50\n");
    CHECK_INT(m.naming, HFI_NAMING_WASMCUSTOM);
    CHECK(m.aborts_total.value == 3);
    CHECK(!m.delays_total.present); /* never mixed from the other rendering */
}

static void test_none_and_wasm_stats(void)
{
    hfi_metrics m = read_dump("envoy_server_live{} 1\n");
    CHECK_INT(m.naming, HFI_NAMING_NONE);
    CHECK(!m.wasm_runtime_stats_present);
    m = read_dump("envoy_wasm_vm_null_active{} 20\n");
    CHECK_INT(m.naming, HFI_NAMING_NONE);
    CHECK(m.wasm_runtime_stats_present);
    m = read_dump("wasm_filter_cache_hits{} 1\n");
    CHECK(m.wasm_runtime_stats_present);
    /* Another plugin's custom metric is not Envoy's runtime stat. */
    m = read_dump("wasmcustom_waf_filter_tx_total{} 11\n");
    CHECK(!m.wasm_runtime_stats_present);
    CHECK_INT(m.naming, HFI_NAMING_NONE);
    m = read_dump("");
    CHECK_INT(m.naming, HFI_NAMING_NONE);
}

static void test_histogram_without_type_lines_and_overflowing_sum(void)
{
    hfi_metrics m = read_dump("hfi_faults_delay_duration_milliseconds_bucket{le=\"5\"} 1\n"
                              "hfi_faults_delay_duration_milliseconds_bucket{le=\"+Inf\"} 1\n"
                              "hfi_faults_delay_duration_milliseconds_bucket{le=\"NaN\"} 9\n"
                              "hfi_faults_delay_duration_milliseconds_bucket{} 9\n"
                              "hfi_faults_delay_duration_milliseconds_other{} 9\n"
                              "hfi_faults_aborts_total{a=\"1\"} 18446744073709551615\n"
                              "hfi_faults_aborts_total{a=\"2\"} 1\n"
                              "hfi_faults_policies{} 1.5\n");
    CHECK_INT(m.naming, HFI_NAMING_BARE);
    CHECK_INT(m.delay_ms.bucket_count, 2);
    CHECK(!m.delay_ms.count.present);
    CHECK(m.aborts_total.present && !m.aborts_total.exact);
    CHECK(m.aborts_total.value == 18446744073709551616.0);
    CHECK(m.policies.value == 1.5 && !m.policies.exact);
}

static void test_many_bucket_bounds_truncated(void)
{
    char text[8192] = "";
    for (int i = 0; i < HFI_HISTOGRAM_MAX_BUCKETS + 3; i++)
        sprintf(text + strlen(text), "hfi_faults_delay_duration_milliseconds_bucket{le=\"%d\"} %d\n", i + 1, i);
    hfi_metrics m = read_dump(text);
    CHECK_INT(m.delay_ms.bucket_count, HFI_HISTOGRAM_MAX_BUCKETS);
    CHECK(m.delay_ms.buckets_truncated);
}

static void test_legacy_probe(void)
{
    const char *probe = "# TYPE hfi_faults_aborts_total counter\nhfi_faults_aborts_total{} 3\n";
    CHECK_INT(hfi_naming_after_legacy_probe(HFI_NAMING_BARE, probe, strlen(probe)), HFI_NAMING_LEGACY);
    CHECK_INT(hfi_naming_after_legacy_probe(HFI_NAMING_BARE, "", 0), HFI_NAMING_BARE);
    CHECK_INT(hfi_naming_after_legacy_probe(HFI_NAMING_WASMCUSTOM, probe, strlen(probe)), HFI_NAMING_WASMCUSTOM);
    CHECK_INT(hfi_naming_after_legacy_probe(HFI_NAMING_NONE, probe, strlen(probe)), HFI_NAMING_NONE);
    CHECK_STR(HFI_LEGACY_PROBE_FILTER, "^wasmcustom\\.hfi\\.faults\\.");
}

static void test_admin_stats_text(void)
{
    const char *ours = "cluster.x.upstream_rq_total: 7\nwasmcustom.wasmcustom.hfi_faults_aborts_total: 3\n";
    const char *bare = "wasmcustom.hfi_faults_aborts_total: 3\nwasmcustom.hfi_faults_delay_duration_milliseconds: "
                       "P0(nan,1) P25(nan,2)\n";
    const char *legacy = "server.live: 1\r\nwasmcustom.hfi.faults.aborts_total: 3\r\n";
    CHECK_INT(hfi_naming_from_admin_stats(ours, strlen(ours)), HFI_NAMING_WASMCUSTOM);
    CHECK_INT(hfi_naming_from_admin_stats(bare, strlen(bare)), HFI_NAMING_BARE);
    CHECK_INT(hfi_naming_from_admin_stats(legacy, strlen(legacy)), HFI_NAMING_LEGACY);
    CHECK_INT(hfi_naming_from_admin_stats("server.live: 1", 14), HFI_NAMING_NONE);
    CHECK_INT(hfi_naming_from_admin_stats("wasmcustom.hfi", 14), HFI_NAMING_NONE);
}

static void test_json(void)
{
    hfi_metrics m = read_dump(wasmcustom_dump);
    char *json = hfi_metrics_to_json(&m);
    CHECK_STR(json, "{\"naming\":\"wasmcustom\",\"wasm_runtime_stats\":true,\"aborts_total\":7,\"delays_total\":4,"
                    "\"overflow_total\":0,\"config_errors_total\":0,\"active_delays\":1,\"policies\":2,"
                    "\"delay_ms\":{\"count\":4,\"sum\":160.5,\"buckets\":[[10,2],[100,4],[1000000,4],[\"+Inf\",4]],"
                    "\"p50\":10,\"p95\":90.999999999999986,\"p99\":98.2}}" /* 10 + 90 * (1.8 / 2) in doubles */);
    free(json);
}

static void test_json_absent_values_are_null(void)
{
    hfi_metrics m = read_dump("hfi_faults_aborts_total{} 1\n");
    char *json = hfi_metrics_to_json(&m);
    CHECK_STR(json, "{\"naming\":\"bare\",\"wasm_runtime_stats\":false,\"aborts_total\":1,\"delays_total\":null,"
                    "\"overflow_total\":null,\"config_errors_total\":null,\"active_delays\":null,\"policies\":null,"
                    "\"delay_ms\":{\"count\":null,\"sum\":null,\"buckets\":[],\"p50\":null,\"p95\":null,\"p99\":null}}");
    free(json);
    m = read_dump("hfi_faults_active_delays{} 0.1\nhfi_faults_policies{} -Inf\n"
                  "hfi_faults_delay_duration_milliseconds_bucket{le=\"0.5\"} 0\n"
                  "hfi_faults_delay_duration_milliseconds_bucket{le=\"+Inf\"} 0\n");
    json = hfi_metrics_to_json(&m);
    CHECK_CONTAINS(json, "\"active_delays\":0.1,\"policies\":null");
    CHECK_CONTAINS(json, "\"buckets\":[[0.5,0],[\"+Inf\",0]],\"p50\":null");
    free(json);
}

static void test_json_ignores_decimal_comma_locale(void)
{
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        fprintf(stderr, "note: no de_DE.UTF-8 locale here, JSON checked in the C locale only\n");
        return;
    }
    hfi_metrics m = read_dump(wasmcustom_dump);
    char *json = hfi_metrics_to_json(&m);
    CHECK_CONTAINS(json, "\"sum\":160.5");
    free(json);
    setlocale(LC_NUMERIC, "C");
}

/* The scraper's single pass: its own series and ours from one parse. */
typedef struct scrape {
    hfi_metrics_collector hfi;
    double server_live;
} scrape;

static int scrape_sample(void *user, const prom_sample *s)
{
    scrape *sc = user;
    if (prom_span_equals(s->name, "envoy_server_live"))
        sc->server_live = s->value;
    else
        hfi_metrics_collector_add(&sc->hfi, s);
    return 0;
}

static void test_collector_in_callers_own_pass(void)
{
    const char *prefixes[8] = {"envoy_server_live"};
    size_t n = 1;
    for (size_t i = 0; i < hfi_metrics_name_prefix_count; i++)
        prefixes[n++] = hfi_metrics_name_prefixes[i];
    scrape sc = {.server_live = -1};
    hfi_metrics_collector_init(&sc.hfi);
    prom_parse_options opts = {.on_sample = scrape_sample, .user = &sc, .name_prefixes = prefixes, .name_prefix_count = n};
    prom_parse_stats st;
    const char *text = "envoy_server_live{} 1\n";
    char dump[4096];
    snprintf(dump, sizeof dump, "%s%s", text, wasmcustom_dump);
    prom_parse(dump, strlen(dump), &opts, &st);
    hfi_metrics m;
    hfi_metrics_collector_finish(&sc.hfi, &m);
    CHECK(sc.server_live == 1);
    CHECK_INT(m.naming, HFI_NAMING_WASMCUSTOM);
    CHECK(m.aborts_total.value_u64 == 7);
    CHECK_INT(st.skipped_lines, 1);
}

/* More than 64 bounds: the +Inf bucket stays, so percentiles do, and the
 * JSON says bounds were dropped. */
static void test_many_bounds_keep_inf(void)
{
    char dump[16384];
    size_t n = 0;
    for (int b = 1; b <= 100; b++)
        n += (size_t)snprintf(dump + n, sizeof dump - n,
                              "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"%d\"} %d\n", b * 10, b);
    n += (size_t)snprintf(dump + n, sizeof dump - n,
                          "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"+Inf\"} 100\n"
                          "wasmcustom_hfi_faults_delay_duration_milliseconds_count 100\n");
    hfi_metrics m = read_dump(dump);
    const hfi_histogram *h = &m.delay_ms;
    CHECK_INT(h->bucket_count, HFI_HISTOGRAM_MAX_BUCKETS);
    CHECK(h->buckets_truncated);
    CHECK(h->buckets[h->bucket_count - 1].upper_bound == INFINITY);
    CHECK(h->buckets[h->bucket_count - 1].cumulative_count == 100);
    prom_percentiles p = hfi_metrics_delay_percentiles(&m);
    CHECK(!isnan(p.p50) && !isnan(p.p99));
    char *json = hfi_metrics_to_json(&m);
    CHECK_CONTAINS(json, "\"buckets_truncated\":true");
    CHECK_CONTAINS(json, "[\"+Inf\",100]");
    free(json);
}

/* An exact duplicate series keeps the first value, as Prometheus does;
 * series of different labels (per worker) are still summed. */
static void test_duplicate_series_keep_first(void)
{
    hfi_metrics m = read_dump("wasmcustom_hfi_faults_aborts_total{worker=\"0\"} 3\n"
                              "wasmcustom_hfi_faults_aborts_total{worker=\"1\"} 4\n"
                              "wasmcustom_hfi_faults_aborts_total{worker=\"0\"} 100\n"
                              "wasmcustom_hfi_faults_delays_total{a=\"x\",b=\"y\"} 5\n"
                              "wasmcustom_hfi_faults_delays_total{b=\"y\",a=\"x\"} 50\n"
                              "wasmcustom_hfi_faults_policies 2\n"
                              "wasmcustom_hfi_faults_policies 2\n");
    CHECK(m.aborts_total.value_u64 == 7);
    CHECK_INT(m.aborts_total.series, 2);
    CHECK(m.delays_total.value_u64 == 5);
    CHECK(m.policies.value_u64 == 2);
    CHECK_INT(m.duplicates_dropped, 3);
    char *json = hfi_metrics_to_json(&m);
    CHECK_CONTAINS(json, "\"duplicate_series_dropped\":3}");
    free(json);
}

int main(void)
{
    RUN(test_wasmcustom_naming_and_sums);
    RUN(test_bare_or_legacy_naming);
    RUN(test_ours_wins_over_bare);
    RUN(test_none_and_wasm_stats);
    RUN(test_histogram_without_type_lines_and_overflowing_sum);
    RUN(test_many_bucket_bounds_truncated);
    RUN(test_legacy_probe);
    RUN(test_admin_stats_text);
    RUN(test_json);
    RUN(test_json_absent_values_are_null);
    RUN(test_json_ignores_decimal_comma_locale);
    RUN(test_collector_in_callers_own_pass);
    RUN(test_many_bounds_keep_inf);
    RUN(test_duplicate_series_keep_first);
    TEST_MAIN_END();
}
