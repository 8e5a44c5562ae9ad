/* The Prometheus source: the plugin's counters, rates and quantiles read
 * from a Prometheus-compatible query API (Prometheus, Thanos, Mimir,
 * Cortex, VictoriaMetrics) instead of from every sidecar through the API
 * server. A refresh is a handful of queries, one per family of values and
 * never one per pod (tui/stats prom_api.h builds them), sent through the
 * kube client's multi handle, so they ride the same poll loop:
 *
 *   values     counters, gauges, histogram count and sum, newest sample time
 *   rates      rate() of aborts and delays over the window
 *   quantiles  histogram_quantile p50/p95/p99, only for the pods asked for
 *   buckets    the histogram's buckets, only for the pods asked for
 *   observed   Istio's istio_requests_total (all and errors), counters and
 *              rates, for every pod
 *   window     rate() of the buckets of the delay histogram and of Istio's
 *              istio_request_duration_milliseconds, for the pods asked for
 *              (those on screen, or those of the deployments on screen)
 *
 * The pod and namespace label names are detected from the series
 * Prometheus holds (pod, pod_name, kubernetes_pod_name; namespace,
 * kubernetes_namespace) unless given. */
#ifndef APP_PROM_SOURCE_H
#define APP_PROM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../kube/kube.h"
#include "../stats/hfi_metrics.h"
#include "../stats/prom_histogram.h"

#define PROM_SOURCE_MAX_HEADERS 8
/* The rate() window when none is given or asked for; whatever the window,
 * at least four scrape intervals, so that a missed scrape leaves enough
 * samples (Prometheus' documentation of rate(), querying/functions.md). */
#define PROM_SOURCE_MIN_WINDOW_S 60

struct prom_source_options {
    const char *url; /* http(s)://[user:password@]host[:port][/prefix] */
    const char *bearer_token_file;
    const char *ca_file;
    bool insecure_skip_tls_verify;
    const char *headers[PROM_SOURCE_MAX_HEADERS]; /* "Name: value" */
    size_t header_count;
    const char *pod_label;       /* NULL: detect */
    const char *namespace_label; /* NULL: detect */
    int window_s;                /* rate window; 0: the app's window (prom_source_set_window) */
};

/* What Prometheus says about one pod. */
struct prom_pod_values {
    char *ns, *pod;
    hfi_metrics metrics;       /* naming wasmcustom or bare (legacy reads as bare) */
    double aborts_per_s, delays_per_s; /* NaN: no rate (fewer than two samples in the window) */
    prom_percentiles percentiles;      /* NaN: not asked for, or nothing observed */
    bool has_percentiles, has_buckets;
    double sample_time_s; /* the newest sample's timestamp (Unix seconds) */
    /* Istio's request metrics of the destination reporter (NaN: no series):
     * the counters and their rates over the window. */
    double requests_total, errors_total, requests_per_s, errors_per_s;
    /* For the pods asked for (has_window): the buckets' rate() over the
     * window of the plugin's delay histogram and of Istio's request
     * duration, cumulative by le, sorted by bound; none when the pod
     * observed nothing in the window. Quantiles over the window come from
     * them, of one pod or of a deployment's pods added together. */
    bool has_window;
    struct prom_window_buckets {
        prom_bucket *buckets;
        size_t count;
    } delay_window, latency_window;
    /* Prometheus' history of the two counters (query_range, oldest first;
     * Unix seconds), for pods newly shown: what the sparklines start from. */
    struct prom_history_point {
        double t_s, aborts, delays;
    } *history;
    size_t history_count;
};

enum prom_source_state {
    PROM_SOURCE_STARTING,    /* no refresh has finished yet */
    PROM_SOURCE_OK,
    PROM_SOURCE_UNREACHABLE, /* connection refused, DNS, TLS, timeout */
    PROM_SOURCE_UNAUTHORIZED, /* 401 or 403 */
    PROM_SOURCE_FAILED,      /* an error answer, or not the query API */
};

struct prom_source;

/* NULL with a message in err (a bad URL, an unreadable token file). The
 * client is borrowed and must outlive the source. */
struct prom_source *prom_source_new(struct kube_client *client, const struct prom_source_options *o, char *err,
                                    size_t err_size);
void prom_source_free(struct prom_source *s);

/* Restricts every query to one namespace (NULL or "": all). */
void prom_source_set_namespace(struct prom_source *s, const char *ns);
/* The rate() window in seconds, unless --prometheus gave one; raised to
 * four scrape intervals, so that a missed scrape leaves enough samples. */
void prom_source_set_window(struct prom_source *s, int window_s);
/* What the next refreshes ask for beyond every pod's counters and rates. */
enum prom_source_want {
    /* Pods in rows on screen: their other counters, quantiles, buckets,
     * window buckets, and (once) their history for the sparklines. */
    PROM_WANT_ROWS,
    /* Pods of the deployments on screen: their window buckets only, which
     * the deployments' quantiles are added up from. */
    PROM_WANT_DEPLOYMENT_PODS,
    /* Every pod, everything but the history (--once). */
    PROM_WANT_ALL_PODS,
};
/* The pods (ns and pod names, copied; none for PROM_WANT_ALL_PODS) the next
 * refreshes ask that for. True when that changed what is asked for. */
bool prom_source_want_details(struct prom_source *s, const char *const *ns, const char *const *pods, size_t count,
                              enum prom_source_want want);

/* Starts a refresh unless one runs; false when one was already running. */
bool prom_source_refresh(struct prom_source *s);
bool prom_source_busy(const struct prom_source *s);
/* Refreshes finished (successful or not): the values changed when it grew. */
unsigned prom_source_generation(const struct prom_source *s);

/* The last refresh's values for a pod; NULL when Prometheus holds no series
 * for it. Valid until the next refresh finishes. */
const struct prom_pod_values *prom_source_find(const struct prom_source *s, const char *ns, const char *pod);
size_t prom_source_pod_count(const struct prom_source *s);

enum prom_source_state prom_source_state(const struct prom_source *s);
/* Why the last refresh failed ("" when it did not), safe to show. */
const char *prom_source_error(const struct prom_source *s);
/* The URL without credentials, for headers and JSON. */
/* What the user must know about the connection (the certificate is not
 * checked), or NULL. */
const char *prom_source_warning(const struct prom_source *s);
const char *prom_source_url(const struct prom_source *s);
/* The labels in use, given or detected. */
const char *prom_source_pod_label(const struct prom_source *s);
const char *prom_source_namespace_label(const struct prom_source *s);
/* Prometheus' global scrape interval (seconds), or the 60 s default when it
 * does not say (Thanos, Mimir serve no configuration). */
double prom_source_scrape_interval_s(const struct prom_source *s);
/* A pod's values are stale when their newest sample is older than this
 * many seconds: two scrape intervals, so one late scrape is not enough. */
double prom_source_stale_after_s(const struct prom_source *s);

#endif
