/* The model as text for `hfitop --once -o json|table` and scripts. */
#ifndef APP_REPORT_H
#define APP_REPORT_H

#include <stdio.h>
#include <time.h>

#include "app.h"

/* One pod's record: name, namespace, deployment, phase, ready, restarts,
 * age_s, sidecar, the metric object of hfi_metrics_to_json (naming,
 * aborts_total, delays_total, delay_ms, ...), aborts_per_s, delays_per_s,
 * last_scrape (RFC 3339 or null) and error (null or text). Caller frees. */
char *app_pod_json(const struct app_pod *pod, time_t now);

/* {"pods": [...]} of every pod in the model. Caller frees. */
char *app_report_json(const struct app *app, time_t now);

/* Aligned columns, one pod per line, a header first. */
void app_report_table(const struct app *app, time_t now, FILE *out);

/* "3d4h", "12m", "40s": kubectl's AGE column. */
void app_format_age(long seconds, char *out, size_t size);

#endif
