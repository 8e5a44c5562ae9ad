/* tui/app: hfitop's state. The pod watch (tui/kube) fills the model, a
 * scrape scheduler reads every sidecar's stats through the API server's pod
 * proxy and parses them (tui/stats); the console and the headless commands
 * only read the model.
 *
 *   struct app *app = app_new(client, &(struct app_options){.namespace = ns});
 *   app_start(app);
 *   loop: poll the client's fds (kube_client.h) with a timeout no longer
 *         than app_timeout_ms(app), dispatch, then app_tick(app).
 *
 * Scrapes run at most max_inflight at once, each pod every interval; a pod
 * whose scrape fails backs off alone (doubling up to APP_MAX_BACKOFF_MS) and
 * keeps its error until a scrape succeeds. */
#ifndef APP_H
#define APP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../kube/kube.h"
#include "../stats/hfi_metrics.h"
#include "../stats/istio_metrics.h"
#include "../stats/prom_rate.h"
#include "../stats/prom_window.h"

/* Istio's plain-HTTP listener in front of Envoy's /stats/prometheus
 * (istio/istio tools/packaging/common/envoy_bootstrap.json, listener
 * prometheus_stats): excluded from capture, reachable through the pod
 * proxy. */
#define APP_STATS_PORT 15090
/* RE2 partial match on the dotted Envoy names (envoy
 * source/server/admin/stats_request.cc, saveMatchingStat: PartialMatch on
 * stat->name()): the plugin's metrics, which Envoy keeps under wasmcustom.
 * in every naming (stats/hfi_metrics.h), Envoy's own wasm.* stats (is a VM
 * running?), server.uptime (did the proxy restart after the pod started?)
 * and Istio's request count and duration as this pod's inbound side
 * reports them (stats/istio_metrics.h). Anchored, so the proxy rejects
 * every other stat at its first characters: an unanchored alternative
 * costs the sidecar about twice as much per scrape. */
#define APP_STATS_FILTER "^(wasm|server\\.uptime$|" ISTIO_METRICS_STATS_FILTER ")"
#define APP_DEFAULT_INTERVAL_S 2
#define APP_DEFAULT_MAX_INFLIGHT 16
#define APP_MAX_BACKOFF_MS 60000
/* Rates and quantiles are over this window unless set otherwise. */
#define APP_DEFAULT_WINDOW_S 60
#define APP_MAX_WINDOW_S 300
/* The default request budget towards the API server (--max-qps), shared by
 * scrapes, watches and actions. client-go's defaults for one controller are
 * QPS 5, burst 10 (kubernetes staging/src/k8s.io/client-go/rest/config.go
 * DefaultQPS, DefaultBurst); a console scraping a namespace needs more. What
 * bounds it is API Priority and Fairness: a person's requests fall in the
 * global-default priority level, 20 of the 245 nominal concurrency shares
 * of the bootstrap configuration (apiserver pkg/apis/flowcontrol/bootstrap
 * default.go), about 49 seats of the default 600. Proxied scrapes hold a
 * seat for 10-100 ms each, so 50 a second keep about 1 to 5 seats busy: at
 * most a tenth of what every kubectl user shares, and well under the 100 a
 * second past which one client visibly loads an API server. */
#define APP_DEFAULT_MAX_QPS 50

struct app_options {
    const char *namespace;      /* NULL or "": every namespace */
    const char *label_selector; /* -l, or NULL */
    int interval_s;             /* 0: APP_DEFAULT_INTERVAL_S */
    int max_inflight;           /* 0: APP_DEFAULT_MAX_INFLIGHT */
    long scrape_timeout_ms;     /* 0: the interval */
    /* Scrape only in rounds asked for with app_request_round (--once,
     * doctor), never on the interval timer, and without backoff. */
    bool rounds_only;
    int window_s; /* 0: APP_DEFAULT_WINDOW_S; at most APP_MAX_WINDOW_S */
    /* Read the counters from this Prometheus source instead of scraping
     * every sidecar through the pod proxy (borrowed; prom_source.h). */
    struct prom_source *prometheus;
};

/* Envoy's own stats that tell whether a Wasm VM runs in the proxy. */
struct app_proxy_stats {
    bool wasm_vm_seen;           /* a wasm.envoy.wasm.runtime.*.active gauge */
    double wasm_vms_active;      /* summed over runtimes */
    double wasm_fetch_failures;  /* wasm.remote_load_fetch_failures */
    bool uptime_seen;
    double uptime_s;             /* server.uptime */
};

/* What one source read for one pod at one moment: a sidecar's scrape, or
 * the same series from a Prometheus server. */
struct app_sample {
    hfi_metrics metrics;
    struct app_proxy_stats proxy;
    istio_request_metrics observed;
};

/* Over the chosen window, from the increases of the counters and buckets
 * between the samples in it (prom_window.h); NaN where not defined yet
 * (fewer than two samples in the window) or not served. Quantiles are
 * estimates from the histogram buckets, as Prometheus'
 * histogram_quantile() makes them. */
struct app_window_figures {
    double seconds;                     /* what the samples span (up to the window); 0: none */
    double aborts_per_s, delays_per_s;  /* injected */
    double requests_per_s, error_ratio; /* observed; the ratio is NaN without requests */
    prom_percentiles delay_ms;          /* injected delays as the plugin measured them */
    prom_percentiles latency_ms;        /* observed request durations */
};

/* Counter totals across proxy restarts: each counter's first value, then
 * every increase (NaN until a sample had it). */
struct app_totals {
    double aborts, delays, requests, errors;
};

struct app_pod {
    struct kube_pod pod; /* the watch's latest copy, owned */

    /* The last successful scrape. */
    bool scraped;
    hfi_metrics metrics;
    struct app_proxy_stats proxy;
    istio_request_metrics observed;     /* Istio's request metrics, lifetime as served */
    prom_percentiles delay_percentiles; /* lifetime; NaN when nothing was observed */
    struct app_window_figures window;   /* over app_window_s() */
    struct app_totals totals;
    prom_rate_ring aborts_ring, delays_ring; /* per-scrape rates, for sparklines */
    time_t last_scrape;                 /* wall clock; 0: never */
    int64_t last_scrape_ms;             /* app_now_ms() of it; 0: never */
    bool stale; /* --prometheus: its newest sample is older than two scrape intervals */
    /* When config_errors_total was last seen higher than the scrape
     * before (wall clock); 0: not seen rising. */
    time_t config_errors_rose;
    bool legacy_probed;                 /* bare vs legacy settled (hfi_metrics.h) */

    /* The last failure, kept until a scrape succeeds. */
    bool failing;
    char error[512];
    enum kube_code error_code;
    long error_http_status;
    unsigned consecutive_failures;
    unsigned attempts, failures; /* every scrape since the pod appeared */

    /* Scheduler state. */
    int64_t next_scrape_ms;
    int64_t throttled_until_ms; /* after a 429 from the API server */
    unsigned rounds_done;
    struct kube_request *inflight;
};

struct app;

struct app *app_new(struct kube_client *client, const struct app_options *options);
/* Stops the watch and every scrape; the client stays the caller's. */
void app_free(struct app *app);

/* Starts the pod list + watch. */
int app_start(struct app *app);

/* Starts the scrapes that are due; call after every dispatch. */
void app_tick(struct app *app);
/* Milliseconds until app_tick has work (-1: none scheduled). */
int app_timeout_ms(const struct app *app);

/* One more round of scrapes (rounds_only): every pod with a running sidecar
 * is scraped once more, failing ones included. */
void app_request_round(struct app *app);
/* The pod list has arrived and every pod of every requested round has
 * been scraped (or has failed). */
bool app_rounds_complete(const struct app *app);

/* The model, sorted by namespace then name; valid until the next dispatch. */
size_t app_pod_count(const struct app *app);
const struct app_pod *app_pod_at(const struct app *app, size_t i);
const struct app_pod *app_pod_find(const struct app *app, const char *ns, const char *name);

/* Rates and quantiles over this many seconds (clamped to 1..APP_MAX_WINDOW_S);
 * every pod's figures are computed again at once. */
void app_set_window(struct app *app, int window_s);
int app_window_s(const struct app *app);

/* A sample of one pod from any source (the scraper calls it for each
 * successful scrape; another source, such as a Prometheus server, calls it
 * with the same series). Updates the pod's metrics, its window figures and
 * totals, and marks it scraped now; t_ms on app_now_ms()'s clock. False when
 * the pod is not in the model or the time is not after its last sample. */
bool app_record_sample(struct app *app, const char *ns, const char *pod, int64_t t_ms,
                       const struct app_sample *sample);

/* Adds or replaces a pod, as the pod watch does (for other sources of the
 * pod list, tests and benchmarks). */
void app_upsert_pod(struct app *app, const struct kube_pod *pod);
void app_remove_pod(struct app *app, const char *ns, const char *name);

/* Bumped on every change to the model: a console redraws only when it moved. */
uint64_t app_generation(const struct app *app);

/* One deployment's pods taken together. */
struct app_deployment {
    const char *namespace, *name;
    size_t pods, scraped, failing; /* its pods in the model now */
    /* Over every pod of it the session has seen, those gone included: a
     * rollout does not bring them back to zero (NaN until one had data). */
    struct app_totals totals;
    /* Rates summed over its pods now; quantiles from their bucket
     * increases added together, as histogram_quantile(q, sum by (le)
     * (rate(..._bucket[window]))) would. */
    struct app_window_figures window;
};

/* Computes the deployment aggregates again from the pods (linear in the
 * pods): call before reading them. */
void app_refresh_deployments(struct app *app);
/* Sorted by namespace then name; pods without a deployment are in none. */
size_t app_deployment_count(const struct app *app);
const struct app_deployment *app_deployment_at(const struct app *app, size_t i);

/* Whether the pod list has arrived; the watch's last error, if any. */
bool app_synced(const struct app *app);
const struct kube_error *app_watch_error(const struct app *app);
int app_inflight(const struct app *app);

/* Whether a pod is worth scraping: a sidecar, Running, with an IP; a
 * Terminating pod too, until it is gone. */
bool app_pod_scrapable(const struct kube_pod *pod);

/* Reads one /stats/prometheus body: the plugin's metrics, the proxy's own
 * stats and Istio's request metrics. */
void app_parse_sample(const char *buf, size_t len, struct app_sample *sample);
/* The same, without Istio's metrics. */
void app_parse_stats(const char *buf, size_t len, hfi_metrics *metrics,
                     struct app_proxy_stats *proxy);

/* Runs a client loop until done(user) is true or timeout_ms passes;
 * returns done's last answer. For headless commands and tests. */
bool app_wait(struct kube_client *client, struct app *app, int timeout_ms,
              bool (*done)(void *user), void *user);

int64_t app_now_ms(void);

/* Where the counters come from, for the header: "every 2s",
 * "scraping 1000 pods every 23 s, budget 50/s; use --prometheus for faster
 * refresh" when the request budget stretches the interval, or
 * "Prometheus URL every 2s (labels pod, namespace)". */
void app_source_summary(const struct app *app, char *out, size_t size);
/* The pods on screen: with a Prometheus source, the next refreshes ask
 * quantiles and buckets for these only (histogram_quantile by pod is the
 * costly query). Nothing in the pod-proxy mode, which reads them all. */
void app_show_pods(struct app *app, const struct app_pod *const *pods, size_t count);
/* The deployments on screen: with a Prometheus source, the next refreshes
 * ask for their pods' window buckets, which their quantiles are added up
 * from (Prometheus knows pods, not deployments). Until then, and for
 * deployments not shown, their quantiles are unknown. */
void app_show_deployments(struct app *app, const struct app_deployment *const *deployments, size_t count);
/* The Prometheus source in use, or NULL in the pod-proxy mode. */
const struct prom_source *app_prometheus(const struct app *app);
/* The interval each pod is scraped at in the pod-proxy mode: --interval,
 * stretched so that the scrapes fit the request budget (kube_client). */
long app_effective_interval_ms(const struct app *app);

#endif
