/* The selected pod (or deployment) up close: what the plugin injected beside
 * what Istio's request metrics observed, over the window and over the
 * pod's lifetime; the delay histogram as bars per bucket (bounds as
 * served); abort and delay rate sparklines; the policies that select the
 * pod; its doctor findings; its recent events. Longer than the screen, it
 * scrolls. */
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

/* Lines go through here: those above the scroll or below the screen are
 * counted, not drawn. */
struct lines {
    struct ui *ui;
    int top, height, first, n;
};

/* The screen row of the next line, or -1 when it is off screen. */
static int next_row(struct lines *l)
{
    int k = l->n++ - l->first;
    return k >= 0 && k < l->height ? l->top + k : -1;
}

static void put(struct lines *l, int indent, const char *text, enum ui_color color, int attrs)
{
    int y = next_row(l);
    if (y < 0)
        return;
    char safe[1200];
    text_fit(text, l->ui->cols - indent, safe, sizeof safe);
    ui_attr_on(l->ui, color, attrs);
    ui_put(y, indent, l->ui->cols - indent, safe);
    ui_attr_off(l->ui, color, attrs);
}

static void rate_text(double v, const char *unit, char *out, size_t size)
{
    char n[16];
    ui_format_rate(v, n, sizeof n);
    snprintf(out, size, "%s%s", n, isnan(v) ? "" : unit);
}

static void estimate_text(double ms, char *out, size_t size)
{
    char n[16];
    ui_format_ms(ms, n, sizeof n);
    snprintf(out, size, "%s%s", isnan(ms) ? "" : "~", n);
}

/* Injected beside observed: two columns, the window first, then the totals. */
static void put_side_by_side(struct lines *l, const struct app_window_figures *w, const struct app_totals *t,
                             int window_s)
{
    char line[600], a[32], b[32], c[32], d[32], e[32], f[32];
    if (w->seconds > 0)
        snprintf(line, sizeof line, "over the window (%ds, the samples span %.0fs); ~ marks estimates from histogram "
                 "buckets", window_s, w->seconds);
    else
        snprintf(line, sizeof line, "over the window (%ds): needs two scrapes in it; ~ marks estimates from histogram "
                 "buckets", window_s);
    put(l, 0, line, UI_COLOR_HEADER, A_BOLD);
    snprintf(line, sizeof line, "  %-10s %-36s %s", "", "injected (the plugin)", "observed (Istio, inbound: reporter=destination)");
    put(l, 0, line, 0, A_BOLD);
    rate_text(w->aborts_per_s, "/s", a, sizeof a);
    rate_text(w->delays_per_s, "/s", b, sizeof b);
    rate_text(w->requests_per_s, "/s", c, sizeof c);
    ui_format_percent(w->error_ratio, d, sizeof d);
    char injected[80], observed[80];
    snprintf(injected, sizeof injected, "aborts %s  delays %s", a, b);
    snprintf(observed, sizeof observed, "requests %s  errors %s", c, d);
    snprintf(line, sizeof line, "  %-10s %-36s %s", "rate", injected, observed);
    put(l, 0, line, 0, 0);
    estimate_text(w->delay_ms.p50, a, sizeof a);
    estimate_text(w->delay_ms.p95, b, sizeof b);
    estimate_text(w->delay_ms.p99, c, sizeof c);
    estimate_text(w->latency_ms.p50, d, sizeof d);
    estimate_text(w->latency_ms.p95, e, sizeof e);
    estimate_text(w->latency_ms.p99, f, sizeof f);
    snprintf(injected, sizeof injected, "delay p50 %s p95 %s p99 %s ms", a, b, c);
    snprintf(observed, sizeof observed, "p50 %s p95 %s p99 %s ms", d, e, f);
    snprintf(line, sizeof line, "  %-10s %-36s %s", "latency", injected, observed);
    put(l, 0, line, 0, 0);
    ui_format_count(t->aborts, a, sizeof a);
    ui_format_count(t->delays, b, sizeof b);
    ui_format_count(t->requests, c, sizeof c);
    ui_format_count(t->errors, d, sizeof d);
    snprintf(injected, sizeof injected, "aborts %s  delays %s", a, b);
    snprintf(observed, sizeof observed, "requests %s  errors %s", c, d);
    snprintf(line, sizeof line, "  %-10s %-36s %s", "lifetime", injected, observed);
    put(l, 0, line, 0, 0);
}

static void put_histogram(struct lines *l, const struct app_pod *p)
{
    struct ui *ui = l->ui;
    const hfi_histogram *h = &p->metrics.delay_ms;
    char line[600], bound[32], bar[400], count[16];
    if (!h->present || !h->bucket_count) {
        put(l, 2, "no delay histogram in this sidecar's stats", 0, 0);
        return;
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
    for (size_t k = 0; k < h->bucket_count; k++) {
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
        int y = next_row(l);
        if (y < 0)
            continue;
        ui_put(y, 0, ui->cols, line);
        ui_attr_on(ui, UI_COLOR_BAR, 0);
        ui_put(y, (int)strlen(line), ui->cols - (int)strlen(line), bar);
        ui_attr_off(ui, UI_COLOR_BAR, 0);
    }
}

static void put_rates(struct lines *l, const struct app_pod *p)
{
    double rates[SPARK_POINTS];
    char spark[SPARK_POINTS * 3 + 1], rate[16], line[300];
    const struct {
        const char *name;
        const prom_rate_ring *ring;
        double now;
    } series[] = {{"aborts/s", &p->aborts_ring, p->window.aborts_per_s},
                  {"delays/s", &p->delays_ring, p->window.delays_per_s}};
    for (size_t s = 0; s < 2; s++) {
        size_t n = prom_rate_ring_sparkline(series[s].ring, rates, SPARK_POINTS);
        ui_sparkline(rates, n, l->ui->utf8, spark, sizeof spark);
        ui_format_rate(series[s].now, rate, sizeof rate);
        snprintf(line, sizeof line, "  %-9s %7s  %s", series[s].name, rate, n ? spark : "(needs two scrapes)");
        put(l, 0, line, 0, 0);
    }
}

static void put_policies(struct lines *l, const struct app_pod *p)
{
    const cJSON *wp = app_wasmplugin_for_pod(app_mesh_wasmplugins(l->ui->mesh), &p->pod);
    char line[400];
    if (!wp) {
        put(l, 2, "no WasmPlugin selects this pod", 0, 0);
        return;
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
        put(l, 0, line, 0, 0);
        shown++;
    }
    if (!shown)
        put(l, 2, "no policy of the WasmPlugin selects this workload", 0, 0);
}

static void add_finding(void *user, const char *id, const char *detail)
{
    struct lines *l = user;
    const struct doctor_rule *rule = doctor_rule_find(id);
    char line[800];
    snprintf(line, sizeof line, "  %s %s: %s", rule && rule->severity == DOCTOR_PROBLEM ? "PROBLEM" : "note", id,
             detail && *detail ? detail : rule ? rule->diagnosis : "");
    put(l, 0, line, 0, 0);
}

/* The pod's latest events, newest last: what the kubelet and controllers
 * said about it (scheduled, pulled, started, killing, ...). */
#define EVENTS_SHOWN 20
static void put_events(struct lines *l, const struct app_pod *p)
{
    struct ui *ui = l->ui;
    app_pod_events_follow(ui->events, p->pod.namespace, p->pod.name);
    const char *error;
    const struct kube_event_list *list = app_pod_events_list(ui->events, &error);
    char line[800];
    if (error || !list || !list->n) {
        put(l, 2, error ? error : list ? "none" : "reading...", 0, 0);
        return;
    }
    size_t first = list->n > EVENTS_SHOWN ? list->n - EVENTS_SHOWN : 0;
    time_t now = time(NULL);
    for (size_t i = first; i < list->n; i++) {
        const struct kube_event *e = &list->items[i];
        long age = e->last && now > e->last ? (long)(now - e->last) : 0;
        char when[16], times[16] = "";
        if (age < 120)
            snprintf(when, sizeof when, "%lds", age);
        else if (age < 7200)
            snprintf(when, sizeof when, "%ldm", age / 60);
        else
            snprintf(when, sizeof when, "%ldh", age / 3600);
        if (e->count > 1)
            snprintf(times, sizeof times, " x%d", e->count);
        snprintf(line, sizeof line, "%s %s %s (%s)%s: %s", when, e->type, e->reason, e->source, times, e->message);
        put(l, 2, line, strcmp(e->type, "Warning") == 0 ? UI_COLOR_ERROR : 0, 0);
    }
}

static void put_pod(struct lines *l, const struct app_pod *p)
{
    struct ui *ui = l->ui;
    char line[900], c[16], s[16], mean[16], p50[16], p95[16], p99[16], name[300];
    text_sanitize(p->pod.name, strlen(p->pod.name), 0, name, sizeof name);
    snprintf(line, sizeof line, "%s  deployment %s  %s  sidecar %s  naming %s%s%s", name,
             p->pod.deployment ? p->pod.deployment : "-", p->pod.phase ? p->pod.phase : "-",
             p->pod.has_sidecar ? "yes" : "no", p->scraped ? hfi_naming_name(p->metrics.naming) : "-",
             p->failing ? "  error: " : "", p->failing ? p->error : "");
    put(l, 0, line, p->failing ? UI_COLOR_ERROR : UI_COLOR_HEADER, A_BOLD);
    put_side_by_side(l, &p->window, &p->totals, app_window_s(ui->app));

    const hfi_histogram *h = &p->metrics.delay_ms;
    double count = h->count.present ? h->count.value : NAN, sum = h->sum.present ? h->sum.value : NAN;
    ui_format_count(count, c, sizeof c);
    ui_format_ms(sum, s, sizeof s);
    ui_format_ms(count > 0 ? sum / count : NAN, mean, sizeof mean);
    estimate_text(p->delay_percentiles.p50, p50, sizeof p50);
    estimate_text(p->delay_percentiles.p95, p95, sizeof p95);
    estimate_text(p->delay_percentiles.p99, p99, sizeof p99);
    snprintf(line, sizeof line, "delay ms over the pod's lifetime: count %s  sum %s  mean %s  p50 %s  p95 %s  p99 %s",
             c, s, mean, p50, p95, p99);
    put(l, 0, line, 0, 0);
    put_histogram(l, p);
    put(l, 0, "rates (last minutes):", 0, 0);
    put_rates(l, p);
    put(l, 0, "policies selecting this pod:", 0, 0);
    put_policies(l, p);
    put(l, 0, "doctor:", 0, 0);
    struct doctor_evidence ev = {app_mesh_wasmplugins(ui->mesh), app_mesh_envoyfilters(ui->mesh), time(NULL),
                                 ui->user, app_prometheus(ui->app), app_prometheus(ui->app) != NULL};
    int before = l->n;
    doctor_check_pod(p, &ev, add_finding, l);
    if (l->n == before)
        put(l, 2, "nothing to report", 0, 0);
    put(l, 0, "events:", 0, 0);
    put_events(l, p);
}

static void put_deployment(struct lines *l, const struct app_deployment *d)
{
    struct ui *ui = l->ui;
    char line[600], name[300];
    text_sanitize(d->name, strlen(d->name), 0, name, sizeof name);
    snprintf(line, sizeof line, "deployment %s  %zu pod(s) now, %zu failing", name, d->pods, d->failing);
    put(l, 0, line, d->failing ? UI_COLOR_ERROR : UI_COLOR_HEADER, A_BOLD);
    put_side_by_side(l, &d->window, &d->totals, app_window_s(ui->app));
    put(l, 0, "lifetime: over every pod of the deployment seen this session, those gone included", 0, 0);
    put(l, 0, "its pods:", 0, 0);
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        if (!p->pod.deployment || strcmp(p->pod.deployment, d->name) != 0)
            continue;
        char rps[16], ab[16], err[16], pod[300];
        ui_format_rate(p->window.requests_per_s, rps, sizeof rps);
        ui_format_rate(p->window.aborts_per_s, ab, sizeof ab);
        ui_format_percent(p->window.error_ratio, err, sizeof err);
        text_sanitize(p->pod.name, strlen(p->pod.name), 0, pod, sizeof pod);
        snprintf(line, sizeof line, "  %-40s requests %s/s  errors %s  aborts %s/s%s%s", pod, rps, err, ab,
                 p->failing ? "  error: " : "", p->failing ? p->error : "");
        put(l, 0, line, 0, 0);
    }
}

static void draw_detail(struct ui *ui, int top, int height)
{
    struct lines l = {ui, top, height, ui->detail_scroll, 0};
    const struct app_deployment *d = ui->detail_of_deployment ? ui_selected_deployment(ui) : NULL;
    const struct app_pod *p = ui->detail_of_deployment ? NULL : ui_selected_pod(ui);
    if (d)
        put_deployment(&l, d);
    else if (p)
        put_pod(&l, p);
    else
        put(&l, 0, ui->detail_of_deployment ? "no deployment selected" : "no pod selected", 0, 0);
    /* Keep the last screenful reachable, no further. */
    int most = l.n > height ? l.n - height : 0;
    if (ui->detail_scroll > most)
        ui->detail_scroll = most;
    if (l.n > height && height > 0) {
        char more[64];
        snprintf(more, sizeof more, " lines %d-%d of %d, PgUp PgDn scroll ", ui->detail_scroll + 1,
                 ui->detail_scroll + height < l.n ? ui->detail_scroll + height : l.n, l.n);
        int w = (int)strlen(more);
        ui_attr_on(ui, 0, A_REVERSE);
        ui_put(top + height - 1, ui->cols > w ? ui->cols - w : 0, ui->cols, more);
        ui_attr_off(ui, 0, A_REVERSE);
    }
}

/* Up and down move to the next row of the table, so the detail can be read
 * row after row; PgUp, PgDn and space scroll. */
static bool detail_key(struct ui *ui, int ch)
{
    int page = ui->rows > 6 ? ui->rows - 6 : 1;
    switch (ch) {
    case KEY_UP:
    case 'k':
    case KEY_DOWN:
    case 'j': ui->detail_scroll = 0; return view_pods.key(ui, ch);
    case KEY_NPAGE:
    case ' ': ui->detail_scroll += page; return true;
    case KEY_PPAGE: ui->detail_scroll = ui->detail_scroll > page ? ui->detail_scroll - page : 0; return true;
    case KEY_HOME:
    case 'g': ui->detail_scroll = 0; return true;
    default: return false;
    }
}

const struct view_ops view_detail = {"detail", draw_detail, detail_key};
