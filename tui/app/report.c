#include "report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prom_source.h"
#include "../stats/text.h"

static void add_number_or_null(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

static void add_string_or_null(cJSON *obj, const char *key, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

/* Istio's request metrics over the window: rate, error ratio, latency
 * estimates from the buckets. */
static cJSON *observed_object(const struct app_window_figures *w, double requests_total, double errors_total)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_number_or_null(o, "rps", w->requests_per_s);
    add_number_or_null(o, "error_ratio", w->error_ratio);
    add_number_or_null(o, "p50_ms", w->latency_ms.p50);
    add_number_or_null(o, "p99_ms", w->latency_ms.p99);
    add_number_or_null(o, "requests_total", requests_total);
    add_number_or_null(o, "errors_total", errors_total);
    return o;
}

static cJSON *pod_object(const struct app_pod *p, time_t now)
{
    const struct kube_pod *k = &p->pod;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", k->name);
    add_string_or_null(o, "namespace", k->namespace);
    add_string_or_null(o, "deployment", k->deployment);
    cJSON_AddStringToObject(o, "phase", k->phase ? k->phase : "");
    cJSON_AddBoolToObject(o, "ready", k->ready);
    cJSON_AddBoolToObject(o, "terminating", k->deleting);
    cJSON_AddNumberToObject(o, "restarts", k->restarts);
    add_number_or_null(o, "age_s", k->created ? (double)(now - k->created) : NAN);
    cJSON_AddBoolToObject(o, "sidecar", k->has_sidecar);
    /* The metric object of `hfitop stats`, its keys lifted into the pod's. */
    char *metrics_text = hfi_metrics_to_json(&p->metrics);
    cJSON *metrics = metrics_text ? cJSON_Parse(metrics_text) : NULL;
    free(metrics_text);
    while (metrics && metrics->child) {
        cJSON *item = cJSON_DetachItemViaPointer(metrics, metrics->child);
        cJSON_AddItemToObject(o, item->string, item);
    }
    cJSON_Delete(metrics);
    add_number_or_null(o, "aborts_per_s", p->window.aborts_per_s);
    add_number_or_null(o, "delays_per_s", p->window.delays_per_s);
    add_number_or_null(o, "window_seconds", p->window.seconds > 0 ? p->window.seconds : NAN);
    cJSON_AddItemToObject(o, "observed",
                          observed_object(&p->window, p->observed.present ? p->observed.requests_total : NAN,
                                          p->observed.present ? p->observed.errors_total : NAN));
    if (p->last_scrape) {
        char ts[32];
        struct tm tm;
        gmtime_r(&p->last_scrape, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_AddStringToObject(o, "last_scrape", ts);
    } else {
        cJSON_AddNullToObject(o, "last_scrape");
    }
    cJSON_AddBoolToObject(o, "stale", p->stale);
    add_string_or_null(o, "error", p->failing ? p->error : NULL);
    return o;
}

char *app_pod_json(const struct app_pod *pod, time_t now)
{
    cJSON *o = pod_object(pod, now);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static cJSON *deployment_object(const struct app_deployment *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "namespace", d->namespace);
    cJSON_AddNumberToObject(o, "pods", (double)d->pods);
    cJSON_AddNumberToObject(o, "failing", (double)d->failing);
    add_number_or_null(o, "aborts_total", d->totals.aborts);
    add_number_or_null(o, "delays_total", d->totals.delays);
    add_number_or_null(o, "aborts_per_s", d->window.aborts_per_s);
    add_number_or_null(o, "delays_per_s", d->window.delays_per_s);
    add_number_or_null(o, "delay_p50_ms", d->window.delay_ms.p50);
    add_number_or_null(o, "delay_p99_ms", d->window.delay_ms.p99);
    cJSON_AddItemToObject(o, "observed", observed_object(&d->window, d->totals.requests, d->totals.errors));
    return o;
}

char *app_report_json(struct app *app, time_t now)
{
    cJSON *root = cJSON_CreateObject();
    /* Where the counters come from: the same keys either way. */
    cJSON *source = cJSON_AddObjectToObject(root, "source");
    const struct prom_source *prom = app_prometheus(app);
    char summary[300];
    app_source_summary(app, summary, sizeof summary);
    cJSON_AddStringToObject(source, "kind", prom ? "prometheus" : "pod-proxy");
    add_string_or_null(source, "url", prom ? prom_source_url(prom) : NULL);
    add_string_or_null(source, "pod_label", prom ? prom_source_pod_label(prom) : NULL);
    add_string_or_null(source, "namespace_label", prom ? prom_source_namespace_label(prom) : NULL);
    cJSON_AddNumberToObject(source, "interval_s", (double)app_effective_interval_ms(app) / 1000.0);
    cJSON_AddStringToObject(source, "summary", summary);
    add_string_or_null(source, "error", prom && prom_source_error(prom)[0] ? prom_source_error(prom) : NULL);
    cJSON_AddNumberToObject(root, "window_s", app_window_s(app));
    cJSON *pods = cJSON_AddArrayToObject(root, "pods");
    for (size_t i = 0; pods && i < app_pod_count(app); i++)
        cJSON_AddItemToArray(pods, pod_object(app_pod_at(app, i), now));
    app_refresh_deployments(app);
    cJSON *deployments = cJSON_AddArrayToObject(root, "deployments");
    for (size_t i = 0; deployments && i < app_deployment_count(app); i++)
        cJSON_AddItemToArray(deployments, deployment_object(app_deployment_at(app, i)));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

void app_format_age(long s, char *out, size_t size)
{
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(out, size, "%lds", s);
    else if (s < 3600)
        snprintf(out, size, "%ldm", s / 60);
    else if (s < 86400)
        snprintf(out, size, "%ldh%ldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, size, "%ldd%ldh", s / 86400, s % 86400 / 3600);
}

enum { COL_NAME, COL_DEPLOYMENT, COL_PHASE, COL_READY, COL_RESTARTS, COL_AGE, COL_SIDECAR, COL_NAMING,
       COL_ABORTS, COL_ABORT_RATE, COL_DELAYS, COL_DELAY_RATE, COL_P50, COL_P95, COL_P99, COL_ERROR, N_COLS };

static const char *const column_titles[N_COLS] = {"NAME", "DEPLOYMENT", "PHASE", "READY", "RESTARTS", "AGE",
                                                  "SIDECAR", "NAMING", "ABORTS", "ABORTS/S", "DELAYS",
                                                  "DELAYS/S", "P50MS", "P95MS", "P99MS", "ERROR"};

static void format_count(const hfi_value *v, char *out, size_t size)
{
    if (!v->present)
        snprintf(out, size, "-");
    else if (v->exact)
        snprintf(out, size, "%llu", (unsigned long long)v->value_u64);
    else
        snprintf(out, size, "%.0f", v->value);
}

static void format_double(double v, const char *fmt, char *out, size_t size)
{
    if (isfinite(v))
        snprintf(out, size, fmt, v);
    else
        snprintf(out, size, "-");
}

/* A cell holds the text as the terminal will show it: the cluster's
 * control characters visible (a newline as ^J), bidi controls gone. */
static void set_cell(char *cell, size_t size, const char *text)
{
    text_sanitize(text, strlen(text), 0, cell, size);
}

void app_report_table(const struct app *app, time_t now, FILE *out)
{
    size_t n = app_pod_count(app);
    char(*cells)[N_COLS][160] = calloc(n + 1, sizeof *cells);
    if (!cells)
        return;
    for (int c = 0; c < N_COLS; c++)
        snprintf(cells[0][c], sizeof cells[0][c], "%s", column_titles[c]);
    for (size_t i = 0; i < n; i++) {
        const struct app_pod *p = app_pod_at(app, i);
        char(*row)[160] = cells[i + 1];
        const struct kube_pod *k = &p->pod;
        set_cell(row[COL_NAME], 160, k->name);
        set_cell(row[COL_DEPLOYMENT], 160, k->deployment ? k->deployment : "-");
        set_cell(row[COL_PHASE], 160, k->phase && k->phase[0] ? k->phase : "-");
        snprintf(row[COL_READY], 160, "%s", k->ready ? "yes" : "no");
        snprintf(row[COL_RESTARTS], 160, "%d", k->restarts);
        app_format_age(k->created ? (long)(now - k->created) : 0, row[COL_AGE], 160);
        snprintf(row[COL_SIDECAR], 160, "%s", k->has_sidecar ? (k->sidecar_native ? "native" : "yes") : "no");
        snprintf(row[COL_NAMING], 160, "%s", p->scraped ? hfi_naming_name(p->metrics.naming) : "-");
        format_count(&p->metrics.aborts_total, row[COL_ABORTS], 160);
        format_double(p->window.aborts_per_s, "%.2f", row[COL_ABORT_RATE], 160);
        format_count(&p->metrics.delays_total, row[COL_DELAYS], 160);
        format_double(p->window.delays_per_s, "%.2f", row[COL_DELAY_RATE], 160);
        format_double(p->delay_percentiles.p50, "%.1f", row[COL_P50], 160);
        format_double(p->delay_percentiles.p95, "%.1f", row[COL_P95], 160);
        format_double(p->delay_percentiles.p99, "%.1f", row[COL_P99], 160);
        set_cell(row[COL_ERROR], 160, p->failing ? p->error : "");
    }
    int width[N_COLS] = {0};
    for (size_t r = 0; r <= n; r++)
        for (int c = 0; c < N_COLS; c++) {
            int w = text_width(cells[r][c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r <= n; r++) {
        /* Pad every cell but the last non-empty one: no trailing blanks. */
        int last = N_COLS - 1;
        while (last > 0 && !cells[r][last][0])
            last--;
        /* Padded in terminal cells, not bytes: wide and combining
         * characters keep the columns straight. */
        for (int c = 0; c <= last; c++) {
            fputs(cells[r][c], out);
            for (int pad = c < last ? width[c] - text_width(cells[r][c]) + 2 : 0; pad > 0; pad--)
                fputc(' ', out);
        }
        fputc('\n', out);
    }
    free(cells);
}
