/* Prometheus' HTTP query API (/api/v1/query, /api/v1/query_range), as
 * Prometheus, Thanos, Mimir, Cortex and VictoriaMetrics serve it: the
 * PromQL hfitop sends, and the parser of the JSON answers. Pure: no I/O.
 *
 * Answer shape (prometheus web/api/v1/api.go, docs querying/api.md):
 *   {"status":"success","data":{"resultType":"vector","result":[
 *      {"metric":{"pod":"a",...},"value":[1700000000.123,"42"]}, ...]},
 *    "warnings":[...]}
 *   {"status":"error","errorType":"bad_data","error":"..."}
 * A matrix result has "values":[[t,"v"],...] instead of "value". */
#ifndef HFI_PROM_API_H
#define HFI_PROM_API_H

#include <stdbool.h>
#include <stddef.h>

/* Label values a caller asks to have read out of each series. */
#define PROM_API_MAX_LABELS 8

typedef struct prom_api_point {
    double t_s;
    double value;
} prom_api_point;

typedef struct prom_api_series {
    /* Values of the labels asked for, in their order; "" when absent.
     * They point into the answer and live as long as it. */
    const char *label[PROM_API_MAX_LABELS];
    double value; /* vector and scalar: the sample; matrix: the last point */
    double t_s;   /* its timestamp, seconds since the epoch */
    const prom_api_point *points; /* matrix only */
    size_t point_count;
} prom_api_series;

typedef enum prom_api_status {
    PROM_API_SUCCESS,
    PROM_API_ERROR,     /* the server answered status "error" (error_type, error) */
    PROM_API_MALFORMED, /* not an answer of this API (error says what is wrong) */
} prom_api_status;

typedef struct prom_api_answer {
    prom_api_status status;
    char result_type[16]; /* "vector", "matrix", "scalar", "string" */
    char error_type[64];
    char error[256];
    char warning[256]; /* the first warning, if any */
    prom_api_series *series;
    size_t series_count;
    /* Series in which each asked-for label was present and not empty. */
    size_t label_present[PROM_API_MAX_LABELS];
    char *strings_; /* internal: the unescaped strings the labels point into */
    void *points_; /* internal */
} prom_api_answer;

/* Parses one answer of buf[0..len). labels: up to PROM_API_MAX_LABELS label
 * names to read from each series' metric. Returns the status, also in
 * out->status; release with prom_api_answer_free whatever it returns. */
prom_api_status prom_api_parse(const char *buf, size_t len, const char *const *labels, size_t label_count,
                               prom_api_answer *out);
void prom_api_answer_free(prom_api_answer *a);

/* ---- the queries ---- */

/* Where the pod and namespace names are, and which metric names exist. */
typedef struct prom_api_target {
    const char *pod_label;       /* "pod", "pod_name", "kubernetes_pod_name", or given */
    const char *namespace_label; /* "namespace", "kubernetes_namespace", or given */
} prom_api_target;

/* The label names pods and namespaces are commonly found under, most
 * common first (Prometheus Operator PodMonitors, then older Istio samples). */
extern const char *const prom_api_pod_label_candidates[];
extern const size_t prom_api_pod_label_candidate_count;
extern const char *const prom_api_namespace_label_candidates[];
extern const size_t prom_api_namespace_label_candidate_count;

/* The metric names of the plugin's aborts counter in every naming: the
 * series whose labels tell where pods and namespaces are. */
#define PROM_API_ABORTS_SELECTOR "{__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\"}"

/* Each query writes NUL-terminated PromQL into out and returns its length,
 * or -1 when it does not fit (or a label name is not a valid one). All
 * group by namespace and pod labels; `selector` is "" or a label matcher
 * list without braces restricting the series (e.g. `namespace="demo"`).
 *
 * Discovery: count by every candidate label, so one answer tells which
 * labels name pods and namespaces. */
int prom_api_query_labels(char *out, size_t size, const char *selector);
/* The plugin's aborts and delays counters, both renderings, told apart by
 * __name__: one query per refresh, for every pod. */
int prom_api_query_values(char *out, size_t size, const prom_api_target *t, const char *selector);
/* The newest sample's timestamp (seconds) of each pod's aborts counter,
 * either rendering: one query per refresh, for every pod. Apart from the
 * values, so that neither answer needs a label_replace() over every pod
 * to tell them apart, and Prometheus can evaluate both at once. */
int prom_api_query_sample_times(char *out, size_t size, const prom_api_target *t, const char *selector);
/* Its other counters and gauges and the histogram's _count and _sum: for
 * the pods whose details are shown (or every pod, for --once). */
int prom_api_query_detail_values(char *out, size_t size, const prom_api_target *t, const char *selector);
/* Per-second rates over window_s of one counter, counter "aborts" or
 * "delays" (the wasmcustom_ rendering wins over the bare one): one query
 * per counter, for every pod, untagged (the query says which counter). */
int prom_api_query_rates(char *out, size_t size, const prom_api_target *t, const char *selector,
                         const char *counter, int window_s);
/* Istio's istio_requests_total of the destination reporter, summed by
 * pod: every request (hfi_family "requests") and the errors ("errors":
 * 5xx, code 0, or a response flag other than "-" and DI), the counters
 * themselves; ..._observed_rates: their rate() over window_s. For every
 * pod, one query each. */
int prom_api_query_observed(char *out, size_t size, const prom_api_target *t, const char *selector);
int prom_api_query_observed_rates(char *out, size_t size, const prom_api_target *t, const char *selector,
                                  int window_s);
/* The buckets of two histograms as rate() over window_s, by pod and le:
 * the plugin's delays (hfi_family "delay", wasmcustom_ rendering first) and
 * Istio's istio_request_duration_milliseconds of the destination reporter
 * ("latency"); only pods that observed something in the window. Quantiles
 * of a pod, or of several pods' buckets added by le, are then what
 * histogram_quantile(q, sum by (le) (rate(..._bucket[w]))) gives. For the
 * pods shown only: rate() over every bucket is the costly kind of query. */
int prom_api_query_window_buckets(char *out, size_t size, const prom_api_target *t, const char *selector,
                                  int window_s);
/* p50, p95, p99 (hfi_family "p50", "p95", "p99") of the delay histogram's
 * cumulative buckets, as histogram_quantile computes them. */
int prom_api_query_quantiles(char *out, size_t size, const prom_api_target *t, const char *selector);
/* The delay histogram's cumulative buckets by le. */
int prom_api_query_buckets(char *out, size_t size, const prom_api_target *t, const char *selector);

/* For /api/v1/query_range: the aborts and delays counters by __name__ (the
 * console's sparklines start from Prometheus' history of them). */
int prom_api_query_history(char *out, size_t size, const prom_api_target *t, const char *selector);

/* A PromQL regex matcher value for a set of exact names: "a|b|c" with
 * regex metacharacters escaped, as a double-quoted PromQL string body
 * (backslashes doubled). Returns the length or -1 when it does not fit. */
int prom_api_regex_of_names(char *out, size_t size, const char *const *names, size_t count);

/* Whether s is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool prom_api_label_name_valid(const char *s);

/* The global scrape_interval in seconds from /api/v1/status/config's
 * answer (its data.yaml), or -1 when absent. */
double prom_api_scrape_interval_s(const char *buf, size_t len);

/* A sample value or `le` as the API writes it ("0.5", "+Inf", "NaN"),
 * whatever the process locale. */
bool prom_api_parse_number(const char *s, double *out);

/* Prometheus duration text ("15s", "1m30s", "500ms") in seconds; -1 if bad. */
double prom_api_duration_s(const char *s, size_t len);

#endif
