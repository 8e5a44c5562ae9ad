/* The selected sidecar up close: its delay histogram as bars per bucket
 * (bounds as served), the summary numbers, abort and delay rate
 * sparklines, the policies that select the pod, and its doctor findings. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../app/doctor.h"
#include "../app/istio.h"
#include "../stats/text.h"
#include "format.h"
#include "ui_internal.h"

#define SPARK_POINTS 60

static int draw_histogram(struct ui *ui, const struct app_pod *p, int y, int last_row)
{
    const hfi_histogram *h = &p->metrics.delay_ms;
    char line[600], bound[32], bar[400], count[16];
    if (!h->present || !h->bucket_count) {
        ui_put(y++, 2, ui->cols - 2, "no delay histogram in this sidecar's stats");
        return y;
    }
    double previous = 0, largest = 0;
    for (size_t k = 0; k < h->bucket_count; k++) {
        double in_bucket = h->buckets[k].cumulative_count - previous;
        previous = h->buckets[k].cumulative_count;
        if (in_bucket > largest)
            largest = in_bucket;
    }
    int bar_width = ui->cols - 26;
    previous = 0;
    for (size_t k = 0; k < h->bucket_count && y <= last_row; k++) {
        double below = previous, in_bucket = h->buckets[k].cumulative_count - previous;
        previous = h->buckets[k].cumulative_count;
        /* Buckets above the last observation say nothing; +Inf stays. */
        bool last = k + 1 == h->bucket_count;
        if (!last && k > 0 && below == h->buckets[h->bucket_count - 1].cumulative_count)
            continue;
        if (isinf(h->buckets[k].upper_bound))
            snprintf(bound, sizeof bound, "+Inf");
        else
            snprintf(bound, sizeof bound, "%g", h->buckets[k].upper_bound);
        ui_format_count(in_bucket, count, sizeof count);
        ui_bar(largest > 0 ? in_bucket / largest : 0, bar_width, ui->utf8, bar, sizeof bar);
        snprintf(line, sizeof line, "  le %8s ms %7s ", bound, count);
        ui_put(y, 0, ui->cols, line);
        ui_attr_on(ui, UI_COLOR_BAR, 0);
        ui_put(y, (int)strlen(line), ui->cols - (int)strlen(line), bar);
        ui_attr_off(ui, UI_COLOR_BAR, 0);
        y++;
    }
    return y;
}

static int draw_rates(struct ui *ui, const struct app_pod *p, int y)
{
    double rates[SPARK_POINTS];
    char spark[SPARK_POINTS * 3 + 1], rate[16], line[300];
    const struct {
        const char *name;
        const prom_rate_ring *ring;
        double now;
    } series[] = {{"aborts/s", &p->aborts_ring, p->window.aborts_per_s}, {"delays/s", &p->delays_ring, p->window.delays_per_s}};
    for (size_t s = 0; s < 2; s++) {
        size_t n = prom_rate_ring_sparkline(series[s].ring, rates, SPARK_POINTS);
        ui_sparkline(rates, n, ui->utf8, spark, sizeof spark);
        ui_format_rate(series[s].now, rate, sizeof rate);
        snprintf(line, sizeof line, "  %-9s %7s  %s", series[s].name, rate, n ? spark : "(needs two scrapes)");
        ui_put(y++, 0, ui->cols, line);
    }
    return y;
}

static int draw_policies(struct ui *ui, const struct app_pod *p, int y)
{
    const cJSON *wp = app_wasmplugin_for_pod(app_mesh_wasmplugins(ui->mesh), &p->pod);
    char line[400];
    if (!wp) {
        ui_put(y++, 2, ui->cols - 2, "no WasmPlugin selects this pod");
        return y;
    }
    const cJSON *policy;
    int shown = 0;
    cJSON_ArrayForEach(policy, app_json_path(wp, "spec.pluginConfig.policies"))
    {
        const cJSON *name = app_json_path(policy, "metadata.name");
        const cJSON *service = app_json_path(policy, "spec.selector.service");
        if (cJSON_IsString(service) && service->valuestring[0] &&
            (!p->pod.deployment || strcmp(service->valuestring, p->pod.deployment) != 0))
            continue;
        snprintf(line, sizeof line, "  %s: %d rule(s)", cJSON_IsString(name) ? name->valuestring : "(unnamed)",
                 cJSON_GetArraySize(app_json_path(policy, "spec.rules")));
        ui_put(y++, 0, ui->cols, line);
        shown++;
    }
    if (!shown)
        ui_put(y++, 2, ui->cols - 2, "no policy of the WasmPlugin selects this workload");
    return y;
}

struct findings_cursor {
    struct ui *ui;
    int y;
};

static void add_finding(void *user, const char *id, const char *detail)
{
    struct findings_cursor *c = user;
    const struct doctor_rule *rule = doctor_rule_find(id);
    char line[800];
    snprintf(line, sizeof line, "  %s %s: %s", rule && rule->severity == DOCTOR_PROBLEM ? "PROBLEM" : "note", id,
             detail && *detail ? detail : rule ? rule->diagnosis : "");
    ui_put(c->y++, 0, c->ui->cols, line);
}

static int draw_events(struct ui *ui, const struct app_pod *p, int y, int last);

static void draw_detail(struct ui *ui, int top, int height)
{
    const struct app_pod *p = ui_selected_pod(ui);
    int y = top, last = top + height - 1;
    char line[600], c[16], s[16], mean[16], p50[16], p95[16], p99[16];
    if (!p) {
        ui_put(y, 0, ui->cols, "no pod selected");
        return;
    }
    snprintf(line, sizeof line, "%s  deployment %s  %s  sidecar %s  naming %s%s%s", p->pod.name,
             p->pod.deployment ? p->pod.deployment : "-", p->pod.phase, p->pod.has_sidecar ? "yes" : "no",
             p->scraped ? hfi_naming_name(p->metrics.naming) : "-", p->failing ? "  error: " : "",
             p->failing ? p->error : "");
    ui_attr_on(ui, p->failing ? UI_COLOR_ERROR : UI_COLOR_HEADER, A_BOLD);
    ui_put(y++, 0, ui->cols, line);
    ui_attr_off(ui, p->failing ? UI_COLOR_ERROR : UI_COLOR_HEADER, A_BOLD);

    const hfi_histogram *h = &p->metrics.delay_ms;
    double count = h->count.present ? h->count.value : NAN, sum = h->sum.present ? h->sum.value : NAN;
    ui_format_count(count, c, sizeof c);
    ui_format_ms(sum, s, sizeof s);
    ui_format_ms(count > 0 ? sum / count : NAN, mean, sizeof mean);
    ui_format_ms(p->delay_percentiles.p50, p50, sizeof p50);
    ui_format_ms(p->delay_percentiles.p95, p95, sizeof p95);
    ui_format_ms(p->delay_percentiles.p99, p99, sizeof p99);
    snprintf(line, sizeof line, "delay ms: count %s  sum %s  mean %s  p50 %s  p95 %s  p99 %s", c, s, mean, p50, p95,
             p99);
    ui_put(y++, 0, ui->cols, line);

    int reserve = ui->compact ? 6 : 10; /* rates, policies and findings below the bars */
    y = draw_histogram(ui, p, y, last - reserve);
    if (y + 3 <= last) {
        ui_put(y++, 0, ui->cols, "rates (last minutes):");
        y = draw_rates(ui, p, y);
    }
    if (y + 2 <= last) {
        ui_put(y++, 0, ui->cols, "policies selecting this pod:");
        y = draw_policies(ui, p, y);
    }
    if (y + 2 <= last) {
        ui_put(y++, 0, ui->cols, "doctor:");
        struct doctor_evidence ev = {app_mesh_wasmplugins(ui->mesh), app_mesh_envoyfilters(ui->mesh),
                                     time(NULL), ui->user, app_prometheus(ui->app), app_prometheus(ui->app) != NULL};
        struct findings_cursor cursor = {ui, y};
        doctor_check_pod(p, &ev, add_finding, &cursor);
        if (cursor.y == y)
            ui_put(y, 2, ui->cols - 2, "nothing to report");
        y = cursor.y == y ? y + 1 : cursor.y;
    }
    if (y + 2 <= last) {
        ui_put(y++, 0, ui->cols, "events:");
        draw_events(ui, p, y, last);
    }
}

/* The pod's latest events, newest last, as many as rows allow: what the
 * kubelet and controllers said about it (pulled, started, killing, ...). */
static int draw_events(struct ui *ui, const struct app_pod *p, int y, int last)
{
    app_pod_events_follow(ui->events, p->pod.namespace, p->pod.name);
    const char *error;
    const struct kube_event_list *list = app_pod_events_list(ui->events, &error);
    char line[800], text[600];
    if (error || !list || !list->n) {
        text_fit(error ? error : list ? "none" : "reading...", ui->cols - 2, text, sizeof text);
        ui_put(y++, 2, ui->cols - 2, text);
        return y;
    }
    size_t shown = (size_t)(last - y + 1), first = list->n > shown ? list->n - shown : 0;
    time_t now = time(NULL);
    for (size_t i = first; i < list->n && y <= last; i++) {
        const struct kube_event *e = &list->items[i];
        long age = e->last && now > e->last ? (long)(now - e->last) : 0;
        char when[16];
        if (age < 120)
            snprintf(when, sizeof when, "%lds", age);
        else if (age < 7200)
            snprintf(when, sizeof when, "%ldm", age / 60);
        else
            snprintf(when, sizeof when, "%ldh", age / 3600);
        char times[16] = "";
        if (e->count > 1)
            snprintf(times, sizeof times, " x%d", e->count);
        snprintf(line, sizeof line, "%s %s %s (%s)%s: %s", when, e->type, e->reason, e->source, times, e->message);
        text_fit(line, ui->cols - 2, text, sizeof text);
        ui_attr_on(ui, strcmp(e->type, "Warning") == 0 ? UI_COLOR_ERROR : 0, 0);
        ui_put(y++, 2, ui->cols - 2, text);
        ui_attr_off(ui, strcmp(e->type, "Warning") == 0 ? UI_COLOR_ERROR : 0, 0);
    }
    return y;
}

/* Up and down move to the next pod of the table, so the detail can be read
 * pod after pod. */
static bool detail_key(struct ui *ui, int ch)
{
    if (ch == KEY_UP || ch == 'k' || ch == KEY_DOWN || ch == 'j')
        return view_pods.key(ui, ch);
    return false;
}

const struct view_ops view_detail = {"detail", draw_detail, detail_key};
