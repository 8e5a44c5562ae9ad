/* Istio's standard request metrics, read out of the same sidecar dump as
 * the plugin's: what the traffic saw, beside what the plugin injected.
 *
 * Istio's stats filter (istio/proxy source/extensions/filters/http/
 * istio_stats/istio_stats.cc) registers `istio_requests_total` (counter)
 * and `istio_request_duration_milliseconds` (histogram) under the custom
 * stat namespace `istiocustom`, with its labels as Envoy tags, reporter
 * first. Envoy joins a tagged stat's name as `name.tag.value...`
 * (envoy source/common/stats/tag_utility.cc, TagStatNameJoiner), so the
 * dotted names that `/stats/prometheus?filter=` matches begin
 *   istiocustom.istio_requests_total.reporter.destination.
 * and Prometheus text shows them without the namespace:
 *   istio_requests_total{reporter="destination",...,response_code="503",
 *                        response_flags="-",...} 12
 *
 * Only reporter="destination" is read: the inbound side of this pod's own
 * sidecar, where the plugin acts (its WasmPlugin matches SERVER traffic).
 * The stats filter counts in its access-log callback, once per finished
 * stream, local replies included, so a request the plugin aborts is
 * counted here with the abort's status as response_code. Envoy's Wasm
 * host sends that local reply without a response flag (envoy
 * source/extensions/common/wasm/context.cc, Context::sendLocalResponse),
 * so response_flags is "-" for it. The calling pod's sidecar counts the
 * same request again as reporter="source". */
#ifndef HFI_ISTIO_METRICS_H
#define HFI_ISTIO_METRICS_H

#include <stdbool.h>

#include "hfi_metrics.h"
#include "prom_parse.h"

/* Name prefix (Prometheus rendering) of the two series read here. */
#define ISTIO_METRICS_NAME_PREFIX "istio_request"
/* RE2 for `/stats/prometheus?filter=`: the dotted names of both, for the
 * destination reporter only (anchored: a proxy rejects every other stat at
 * its first characters). */
#define ISTIO_METRICS_STATS_FILTER "istiocustom\\.istio_request(s_total|_duration_milliseconds)\\.reporter\\.destination"

typedef struct istio_request_metrics {
    bool present;            /* any istio_requests_total series of the destination reporter */
    double requests_total;   /* summed over every series (codes, peers, ...) */
    /* Requests answered 5xx, with no response (code 0), or that Envoy
     * flagged (response_flags other than "-" and DI, a delay that still
     * let the request through): upstream failures, no route, Envoy's own
     * local replies. */
    double errors_total;
    hfi_histogram duration_ms; /* istio_request_duration_milliseconds, buckets summed over series */
} istio_request_metrics;

void istio_metrics_init(istio_request_metrics *m);
/* Feed every sample of a dump; others are ignored. */
void istio_metrics_add(istio_request_metrics *m, const prom_sample *s);

/* Whether one istio_requests_total series counts as errors (above). */
bool istio_response_is_error(const prom_sample *s);

#endif
