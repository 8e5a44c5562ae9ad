/* tui/stats prom_api: answers of Prometheus' query API, and the PromQL
 * hfitop sends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../testlib.h"
#include "prom_api.h"

static const char *const labels[] = {"namespace", "pod", "__name__", "hfi_family", "le"};

static prom_api_status parse(const char *text, prom_api_answer *a)
{
    return prom_api_parse(text, strlen(text), labels, 5, a);
}

static void test_vector(void)
{
    prom_api_answer a;
    CHECK_INT(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                    "{\"metric\":{\"__name__\":\"wasmcustom_hfi_faults_aborts_total\",\"namespace\":\"demo\","
                    "\"pod\":\"fe-1\"},\"value\":[1700000000.25,\"42\"]},"
                    "{\"metric\":{\"pod\":\"fe-2\",\"hfi_family\":\"p99\"},\"value\":[1700000000.25,\"NaN\"]},"
                    "{\"metric\":{},\"value\":[1700000000.25,\"+Inf\"]}]}}",
                    &a),
              PROM_API_SUCCESS);
    CHECK_STR(a.result_type, "vector");
    CHECK_INT(a.series_count, 3);
    CHECK_STR(a.series[0].label[0], "demo");
    CHECK_STR(a.series[0].label[1], "fe-1");
    CHECK_STR(a.series[0].label[2], "wasmcustom_hfi_faults_aborts_total");
    CHECK_STR(a.series[0].label[4], "");
    CHECK(a.series[0].value == 42 && a.series[0].t_s == 1700000000.25);
    CHECK_STR(a.series[1].label[3], "p99");
    CHECK(isnan(a.series[1].value));
    CHECK(isinf(a.series[2].value) && a.series[2].value > 0);
    CHECK_INT(a.label_present[0], 1); /* namespace */
    CHECK_INT(a.label_present[1], 2); /* pod */
    prom_api_answer_free(&a);
}

static void test_matrix(void)
{
    prom_api_answer a;
    CHECK_INT(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                    "{\"metric\":{\"pod\":\"a\"},\"values\":[[10,\"1\"],[20,\"2.5\"]]},"
                    "{\"metric\":{\"pod\":\"b\"},\"values\":[]}]}}",
                    &a),
              PROM_API_SUCCESS);
    CHECK_INT(a.series_count, 2);
    CHECK_INT(a.series[0].point_count, 2);
    CHECK(a.series[0].points[1].t_s == 20 && a.series[0].points[1].value == 2.5);
    CHECK(a.series[0].value == 2.5);
    CHECK_INT(a.series[1].point_count, 0);
    prom_api_answer_free(&a);
}

static void test_errors(void)
{
    prom_api_answer a;
    CHECK_INT(parse("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error\"}", &a),
              PROM_API_ERROR);
    CHECK_STR(a.error_type, "bad_data");
    CHECK_STR(a.error, "1:5: parse error");
    prom_api_answer_free(&a);
    static const char *const bad[] = {
        "",
        "<html>401 Unauthorized</html>",
        "[]",
        "{\"status\":\"success\"}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,2]}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"x\"]}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[1]]}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"histogram\",\"result\":[]}}",
        "{\"status\":\"maybe\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(parse(bad[i], &a), PROM_API_MALFORMED);
        CHECK(a.error[0] != '\0');
        prom_api_answer_free(&a);
    }
    /* A truncated answer never reads past its length. */
    const char *whole = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
    char *cut = malloc(20);
    memcpy(cut, whole, 20);
    CHECK_INT(prom_api_parse(cut, 20, labels, 5, &a), PROM_API_MALFORMED);
    prom_api_answer_free(&a);
    free(cut);
}

/* What the reader must take as JSON does: members in any order, unknown
 * ones (of any shape) skipped, escapes, the first warning. */
static void test_json_forms(void)
{
    prom_api_answer a;
    CHECK_INT(parse("{\"warnings\":[3,\"first\",\"second\"],\"data\":{\"stats\":{\"x\":[true,false,null,-1.5e-3,{}]},"
                    "\"result\":[{\"value\":[1.5e1,\"2\"],\"extra\":[[]],\"metric\":{\"other\":{\"a\":[1]},"
                    "\"pod\":\"a\\u00e9\\ud83d\\ude00\\n\\\"\\/x\",\"namespace\":\"\\ud800\",\"le\":7}}],"
                    "\"resultType\":\"vector\"},\"status\":\"success\"} \n",
                    &a),
              PROM_API_SUCCESS);
    CHECK_INT(a.series_count, 1);
    CHECK_STR(a.series[0].label[1], "a\xc3\xa9\xf0\x9f\x98\x80\n\"/x");
    CHECK_STR(a.series[0].label[0], "\xef\xbf\xbd"); /* a lone surrogate: U+FFFD */
    CHECK_STR(a.series[0].label[4], "");            /* not a string */
    CHECK(a.series[0].t_s == 15 && a.series[0].value == 2);
    CHECK_STR(a.warning, "first");
    prom_api_answer_free(&a);
    /* A second "values" list replaces the first, points and all. */
    CHECK_INT(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                    "{\"values\":[[1,\"1\"],[2,\"2\"],[3,\"3\"]],\"values\":[[4,\"4\"]],\"metric\":{\"pod\":\"a\"}}]}}",
                    &a),
              PROM_API_SUCCESS);
    CHECK_INT(a.series[0].point_count, 1);
    CHECK(a.series[0].points[0].t_s == 4 && a.series[0].value == 4);
    prom_api_answer_free(&a);
    static const char *const bad[] = {
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}} x",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]},}",
        "{\"status\":\"success\" \"data\":1}",
        "{\"status\":\"succ\\q\"}",
        "{\"status\":\"success\",\"x\":01}",
        "{\"status\":\"success\",\"x\":tru}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":[],\"value\":[1,\"1\"]}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[1]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(parse(bad[i], &a), PROM_API_MALFORMED);
        CHECK(a.error[0] != '\0');
        prom_api_answer_free(&a);
    }
    /* Nesting is bounded: no stack to exhaust. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    int n = sprintf(deep, "{\"status\":\"success\",\"x\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    CHECK_INT(parse(deep, &a), PROM_API_MALFORMED);
    CHECK_CONTAINS(a.error, "nested too deeply");
    prom_api_answer_free(&a);
    free(deep);
    /* Every prefix of an answer is refused, and read within its length. */
    const char *whole = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                        "{\"metric\":{\"pod\":\"a\\u00e9\"},\"values\":[[10,\"1\"],[2e1,\"-Inf\"]]}]},\"warnings\":[\"w\"]}";
    for (size_t len = 0; len < strlen(whole); len++) {
        char *cut = malloc(len ? len : 1);
        memcpy(cut, whole, len);
        CHECK_INT(prom_api_parse(cut, len, labels, 5, &a), PROM_API_MALFORMED);
        prom_api_answer_free(&a);
        free(cut);
    }
    CHECK_INT(parse(whole, &a), PROM_API_SUCCESS);
    CHECK(a.series[0].point_count == 2 && isinf(a.series[0].value) && a.series[0].t_s == 20);
    prom_api_answer_free(&a);
}

static void test_queries(void)
{
    char q[4096];
    prom_api_target t = {.pod_label = "pod_name", .namespace_label = "kubernetes_namespace"};
    /* Both counters in both renderings, by name; nothing else (the sample
     * times are their own query, untagged). */
    CHECK(prom_api_query_values(q, sizeof q, &t, "kubernetes_namespace=\"demo\"") > 0);
    CHECK_STR(q, "sum by (__name__, kubernetes_namespace, pod_name) ({__name__=~\"(wasmcustom_)?hfi_faults_("
                 "aborts_total|delays_total)\", kubernetes_namespace=\"demo\"})");
    /* The newest sample's own time: timestamp() straight over the selector
     * (over anything else it would be the evaluation time), either
     * rendering, the newest of a pod's series. */
    CHECK(prom_api_query_sample_times(q, sizeof q, &t, "kubernetes_namespace=\"demo\"") > 0);
    CHECK_STR(q, "max by (kubernetes_namespace, pod_name) (timestamp({__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\", "
                 "kubernetes_namespace=\"demo\"}))");
    CHECK(prom_api_query_sample_times(q, sizeof q, &t, "") > 0);
    CHECK_STR(q, "max by (kubernetes_namespace, pod_name) (timestamp({__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\"}))");
    CHECK_INT(prom_api_query_sample_times(q, 60, &t, ""), -1);
    CHECK(prom_api_query_detail_values(q, sizeof q, &t, "") > 0);
    CHECK_CONTAINS(q, "policies|delay_duration_milliseconds_count|delay_duration_milliseconds_sum)\"})");
    /* One counter a query, the wasmcustom_ rendering first: `or` adds the
     * bare one only for pods without it. */
    CHECK(prom_api_query_rates(q, sizeof q, &t, "", "aborts", 60) > 0);
    CHECK_STR(q, "sum by (kubernetes_namespace, pod_name) (rate(wasmcustom_hfi_faults_aborts_total{}[60s]))"
                 " or sum by (kubernetes_namespace, pod_name) (rate(hfi_faults_aborts_total{}[60s]))");
    CHECK(prom_api_query_rates(q, sizeof q, &t, "pod_name=~\"a\"", "delays", 30) > 0);
    CHECK_STR(q, "sum by (kubernetes_namespace, pod_name) (rate(wasmcustom_hfi_faults_delays_total{pod_name=~\"a\"}[30s]))"
                 " or sum by (kubernetes_namespace, pod_name) (rate(hfi_faults_delays_total{pod_name=~\"a\"}[30s]))");
    /* Only the two counters the merge knows, and a window. */
    CHECK_INT(prom_api_query_rates(q, sizeof q, &t, "", "policies", 60), -1);
    CHECK_INT(prom_api_query_rates(q, sizeof q, &t, "", NULL, 60), -1);
    CHECK_INT(prom_api_query_rates(q, sizeof q, &t, "", "aborts", 0), -1);
    CHECK(prom_api_query_quantiles(q, sizeof q, &t, "pod_name=~\"a|b\"") > 0);
    CHECK_CONTAINS(q, "label_replace(histogram_quantile(0.99, sum by (kubernetes_namespace, pod_name, le) "
                      "(wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{pod_name=~\"a|b\"})");
    CHECK(prom_api_query_observed(q, sizeof q, &t, "kubernetes_namespace=\"demo\"") > 0);
    CHECK_STR(q, "label_replace(sum by (kubernetes_namespace, pod_name) (istio_requests_total{reporter=\"destination\", "
                 "kubernetes_namespace=\"demo\"}), \"hfi_family\", \"requests\", \"\", \"\")"
                 " or label_replace(sum by (kubernetes_namespace, pod_name) (istio_requests_total{reporter=\"destination\", "
                 "response_code=~\"5.*|0\", kubernetes_namespace=\"demo\"} or istio_requests_total{reporter=\"destination\", "
                 "response_flags!~\"-|DI|\", kubernetes_namespace=\"demo\"}), \"hfi_family\", \"errors\", \"\", \"\")");
    CHECK(prom_api_query_observed_rates(q, sizeof q, &t, "", 30) > 0);
    CHECK_CONTAINS(q, "(rate(istio_requests_total{reporter=\"destination\"}[30s])), \"hfi_family\", \"requests\"");
    CHECK_CONTAINS(q, "(rate(istio_requests_total{reporter=\"destination\", response_code=~\"5.*|0\"}[30s]) or "
                      "rate(istio_requests_total{reporter=\"destination\", response_flags!~\"-|DI|\"}[30s])), "
                      "\"hfi_family\", \"errors\"");
    CHECK_INT(prom_api_query_observed_rates(q, sizeof q, &t, "", 0), -1);
    CHECK(prom_api_query_window_buckets(q, sizeof q, &t, "pod_name=~\"a\"", 60) > 0);
    CHECK_STR(q, "label_replace((sum by (kubernetes_namespace, pod_name, le) "
                 "(rate(wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{pod_name=~\"a\"}[60s]))"
                 " or sum by (kubernetes_namespace, pod_name, le) "
                 "(rate(hfi_faults_delay_duration_milliseconds_bucket{pod_name=~\"a\"}[60s])))"
                 " and on (kubernetes_namespace, pod_name) ((sum by (kubernetes_namespace, pod_name) "
                 "(rate(wasmcustom_hfi_faults_delay_duration_milliseconds_count{pod_name=~\"a\"}[60s]))"
                 " or sum by (kubernetes_namespace, pod_name) "
                 "(rate(hfi_faults_delay_duration_milliseconds_count{pod_name=~\"a\"}[60s]))) > 0),"
                 " \"hfi_family\", \"delay\", \"\", \"\")"
                 " or label_replace((sum by (kubernetes_namespace, pod_name, le) "
                 "(rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\", pod_name=~\"a\"}[60s])))"
                 " and on (kubernetes_namespace, pod_name) ((sum by (kubernetes_namespace, pod_name) "
                 "(rate(istio_request_duration_milliseconds_count{reporter=\"destination\", pod_name=~\"a\"}[60s]))) > 0),"
                 " \"hfi_family\", \"latency\", \"\", \"\")");
    CHECK(prom_api_query_window_buckets(q, sizeof q, &t, "", 60) > 0);
    CHECK_CONTAINS(q, "(rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\"}[60s]))");
    CHECK_CONTAINS(q, "(rate(hfi_faults_delay_duration_milliseconds_bucket{}[60s]))");
    CHECK_INT(prom_api_query_window_buckets(q, sizeof q, &t, "", 0), -1);
    CHECK(prom_api_query_history(q, sizeof q, &t, "pod_name=~\"a\"") > 0);
    CHECK_STR(q, "sum by (__name__, kubernetes_namespace, pod_name) "
                 "({__name__=~\"(wasmcustom_)?hfi_faults_(aborts_total|delays_total)\", pod_name=~\"a\"})");
    CHECK(prom_api_query_labels(q, sizeof q, "") > 0);
    CHECK_STR(q, "count by (pod, pod_name, kubernetes_pod_name, namespace, kubernetes_namespace) "
                 "({__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\"})");
    /* Too small, or a label name that would inject PromQL. */
    CHECK_INT(prom_api_query_values(q, 40, &t, ""), -1);
    prom_api_target evil = {.pod_label = "pod) or vector(1", .namespace_label = "namespace"};
    CHECK_INT(prom_api_query_values(q, sizeof q, &evil, ""), -1);
    CHECK(!prom_api_label_name_valid("1pod") && prom_api_label_name_valid("_pod1"));
}

static void test_regex_of_names(void)
{
    char q[256];
    const char *names[] = {"fe-1.x", "a\"b"};
    CHECK(prom_api_regex_of_names(q, sizeof q, names, 2) > 0);
    CHECK_STR(q, "fe-1\\\\.x|a\\\"b");
    CHECK_INT(prom_api_regex_of_names(q, 4, names, 2), -1);
}

static void test_scrape_interval(void)
{
    const char *cfg = "{\"status\":\"success\",\"data\":{\"yaml\":\"global:\\n  scrape_interval: 1m30s\\n"
                      "  scrape_timeout: 10s\\nscrape_configs:\\n- job_name: x\\n  scrape_interval: 5s\\n\"}}";
    CHECK(prom_api_scrape_interval_s(cfg, strlen(cfg)) == 90);
    const char *none = "{\"status\":\"success\",\"data\":{\"yaml\":\"scrape_configs:\\n- job_name: x\\n"
                       "  scrape_interval: 5s\\n\"}}";
    CHECK(prom_api_scrape_interval_s(none, strlen(none)) == -1);
    CHECK(prom_api_duration_s("500ms", 5) == 0.5);
    CHECK(prom_api_duration_s("1h2m3s", 6) == 3723);
    CHECK(prom_api_duration_s("15", 2) == -1);
    CHECK(prom_api_duration_s("s", 1) == -1);
}

int main(void)
{
    RUN(test_vector);
    RUN(test_matrix);
    RUN(test_errors);
    RUN(test_json_forms);
    RUN(test_queries);
    RUN(test_regex_of_names);
    RUN(test_scrape_interval);
    TEST_MAIN_END();
}
