/* The fault-injection plugin's metrics, read out of one sidecar's
 * /stats/prometheus dump (or istio-agent's merged :15020 one).
 *
 * Naming: Envoy registers a Wasm metric under its custom stat namespace
 * wasmcustom. (envoy source/extensions/common/wasm/context.cc,
 * Context::defineMetric) and /stats/prometheus strips that one segment and
 * turns other dots into underscores (envoy
 * source/server/admin/prometheus_stats.cc, PrometheusStatsFormatter::
 * metricName). So the plugin's metrics reach Prometheus text in one of
 * two spellings:
 *   wasmcustom_hfi_faults_aborts_total   ours: defined as wasmcustom.hfi_...
 *   hfi_faults_aborts_total              defined bare (hfi_faults_...) or
 *                                        legacy (hfi.faults....)
 * Bare and legacy are byte-identical in /stats/prometheus: Envoy adds no
 * labels and turns the dots into underscores. So a Prometheus dump alone
 * reports HFI_NAMING_BARE for both. Two pieces of evidence can tell them
 * apart, and both are offered here:
 *   - the admin /stats text keeps the dots (hfi_naming_from_admin_stats),
 *     but the admin port is bound to localhost, out of the pod proxy's reach;
 *   - Envoy's `filter` parameter matches the dotted Envoy name, so a scrape
 *     of /stats/prometheus?filter=HFI_LEGACY_PROBE_FILTER returns hfi series
 *     only for legacy names (hfi_naming_after_legacy_probe). Through the
 *     :15090 listener this works wherever the query string passes.
 * When both spellings are present (two plugin builds in one proxy), ours
 * wins: the values reported all come from the one rendering named. */
#ifndef HFI_METRICS_H
#define HFI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prom_histogram.h"
#include "prom_parse.h"

typedef enum hfi_naming {
    HFI_NAMING_NONE,
    HFI_NAMING_WASMCUSTOM,
    HFI_NAMING_BARE,
    HFI_NAMING_LEGACY,
} hfi_naming;

/* "none", "wasmcustom", "bare", "legacy" */
const char *hfi_naming_name(hfi_naming naming);

/* RE2 for `/stats/prometheus?filter=` (URL-encode it) matching only the
 * legacy dotted names. */
#define HFI_LEGACY_PROBE_FILTER "^wasmcustom\\.hfi\\.faults\\."

/* A counter or gauge: the sum of every series of that name, since a proxy
 * whose workers are labelled shows one series per worker. */
typedef struct hfi_value {
    bool present;
    size_t series;
    double value;
    /* The same sum, exact, while every series was a plain integer and the
     * sum fits 64 bits. */
    bool exact;
    uint64_t value_u64;
} hfi_value;

/* Distinct `le` bounds kept; more set buckets_truncated. The +Inf bucket
 * is always kept (it replaces the largest finite bound when full), so the
 * count and the percentiles stay; they are only coarser. */
#define HFI_HISTOGRAM_MAX_BUCKETS 64

typedef struct hfi_histogram {
    bool present;
    size_t bucket_count;
    prom_bucket buckets[HFI_HISTOGRAM_MAX_BUCKETS]; /* as served, by bound, summed over series */
    bool buckets_truncated;
    hfi_value sum, count;
} hfi_histogram;

/* Adds count to the bucket of that bound (kept sorted by bound), as when
 * summing the series of several workers or label sets. */
void hfi_histogram_add_bucket(hfi_histogram *h, double bound, double count);

typedef struct hfi_metrics {
    hfi_naming naming;
    /* Envoy's own Wasm stats (envoy_wasm_* or wasm_*: runtime, remote
     * load, VM counts). None at all means no Wasm VM runs in this proxy, or
     * stats inclusion hides them. */
    bool wasm_runtime_stats_present;
    size_t wasm_runtime_series;
    hfi_value aborts_total;
    hfi_value delays_total;
    hfi_value overflow_total;
    hfi_value config_errors_total;
    hfi_value active_delays; /* gauge */
    hfi_value policies;      /* gauge */
    hfi_histogram delay_ms;  /* hfi_faults_delay_duration_milliseconds */
    /* Exact duplicate series (same name and labels) after the first:
     * dropped, as Prometheus drops them; series of different labels (one
     * per worker) are summed. */
    size_t duplicates_dropped;
} hfi_metrics;

/* Reads the plugin's metrics out of a dump; everything else in it is
 * skipped after its name. stats may be NULL. */
void hfi_metrics_from_prometheus(const char *buf, size_t len, hfi_metrics *out, prom_parse_stats *stats);

/* The same in pieces, for a caller that reads other series in the same
 * pass: feed it every sample (unrelated ones are ignored), then finish.
 * hfi_metrics_name_prefixes are the name prefixes it needs, to merge into
 * the caller's prom_parse_options.name_prefixes. */
/* Distinct hfi series remembered (an open-addressing set of hashes) to
 * tell an exact duplicate (same name and labels) from a per-worker series;
 * past HFI_MAX_SERIES_SEEN of them, none is dropped. */
#define HFI_SERIES_SLOTS 2048
#define HFI_MAX_SERIES_SEEN 1536

typedef struct hfi_metrics_collector {
    hfi_metrics rendering[2]; /* [0] wasmcustom_ names, [1] bare ones */
    bool seen[2];
    uint64_t series_seen[HFI_SERIES_SLOTS]; /* hashes of name and labels; 0 empty */
    size_t n_series_seen;
    bool wasm_runtime_stats_present;
    size_t wasm_runtime_series;
} hfi_metrics_collector;

extern const char *const hfi_metrics_name_prefixes[];
extern const size_t hfi_metrics_name_prefix_count;

void hfi_metrics_collector_init(hfi_metrics_collector *c);
void hfi_metrics_collector_add(hfi_metrics_collector *c, const prom_sample *sample);
void hfi_metrics_collector_finish(const hfi_metrics_collector *c, hfi_metrics *out);

/* The naming seen in admin /stats text (`name: value` lines). */
hfi_naming hfi_naming_from_admin_stats(const char *buf, size_t len);

/* Given the naming read from the full dump and the body of the
 * HFI_LEGACY_PROBE_FILTER scrape: LEGACY when the dump said BARE and the
 * probe found hfi series; otherwise the naming unchanged. */
hfi_naming hfi_naming_after_legacy_probe(hfi_naming seen, const char *probe_buf, size_t probe_len);

/* p50/p95/p99 of delay_ms (NaN when nothing was observed). */
prom_percentiles hfi_metrics_delay_percentiles(const hfi_metrics *m);

/* The per-pod JSON object of `hfitop stats FILE` and `--once -o json`:
 * {"naming", "wasm_runtime_stats", "aborts_total", "delays_total",
 *  "overflow_total", "config_errors_total", "active_delays", "policies",
 *  "delay_ms": {"count", "sum", "buckets": [[le, count], ..., ["+Inf", n]],
 *  "p50", "p95", "p99"}}; absent values and NaN are null. When bounds were
 *  dropped, "buckets_truncated": true follows "buckets"; when duplicate
 *  series were, "duplicate_series_dropped": N ends the object. Returns a
 * malloc'd NUL-terminated string (the caller frees it), NULL when out of
 * memory. */
char *hfi_metrics_to_json(const hfi_metrics *m);

#endif
