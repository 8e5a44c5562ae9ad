/* The model as text for `hfitop --once -o json|table` and scripts. */
#ifndef APP_REPORT_H
#define APP_REPORT_H

#include <stdio.h>
#include <time.h>

#include "app.h"

/* One pod's record: name, namespace, deployment, phase, ready, restarts,
 * age_s, sidecar, the metric object of hfi_metrics_to_json (naming,
 * aborts_total, delays_total, delay_ms, ...), aborts_per_s and
 * delays_per_s over the window, window_seconds (what the samples span),
 * observed (rps, error_ratio, p50_ms, p99_ms over the window;
 * requests_total, errors_total as served), last_scrape (RFC 3339 or null)
 * and error (null or text); null wherever undefined. Caller frees. */
char *app_pod_json(const struct app_pod *pod, time_t now);

/* {"window_s", "pods": [...], "deployments": [...]}: every pod in the
 * model, and each deployment (name, namespace, pods, failing,
 * aborts_total and delays_total across every pod generation seen,
 * aborts_per_s, delays_per_s, delay_p50_ms, delay_p99_ms, observed). Caller
 * frees. */
char *app_report_json(struct app *app, time_t now);

/* Aligned columns, one pod per line, a header first. */
void app_report_table(const struct app *app, time_t now, FILE *out);

/* "3d4h", "12m", "40s": kubectl's AGE column. */
void app_format_age(long seconds, char *out, size_t size);

#endif
