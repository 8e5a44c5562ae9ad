/* The two tables: every pod of the namespace, and the deployments they
 * make up, each with what the plugin injected beside what Istio's request
 * metrics observed, over the chosen window. Columns are sized to what the
 * rows on screen hold and dropped by priority when the terminal is narrow
 * (POD/DEPLOYMENT and ERROR/FAILING never); sorting by any column, numbers
 * largest first; the `/` filter; the selection stays on the same row. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/report.h"
#include "../stats/text.h"
#include "format.h"
#include "ui_internal.h"

/* ---- columns ---- */

enum pod_column {
    POD_NAME, POD_DEPLOY, POD_READY, POD_PHASE, POD_AGE, POD_RESTARTS, POD_SIDECAR, POD_NAMING,
    POD_RPS, POD_ERRORS, POD_LAT50, POD_LAT99, POD_ABORT_RATE, POD_ABORTS, POD_DELAY_RATE, POD_DELAYS,
    POD_DLY50, POD_DLY99, POD_SCRAPE, POD_ERROR, POD_COLUMNS
};

enum dep_column {
    DEP_NAME, DEP_PODS, DEP_RPS, DEP_ERRORS, DEP_LAT50, DEP_LAT99, DEP_ABORT_RATE, DEP_ABORTS, DEP_DELAY_RATE,
    DEP_DELAYS, DEP_DLY50, DEP_DLY99, DEP_FAILING, DEP_COLUMNS
};

struct column {
    const char *title;
    bool numeric;  /* right-aligned, sorted largest first */
    int priority;  /* 0 and 1 are never dropped; then the lower, the later dropped */
    const char *what; /* for the column chooser */
};

/* `~`: an estimate from histogram buckets (the header says so). */
static const struct column pod_columns[POD_COLUMNS] = {
    [POD_NAME] = {"POD", false, 0, "pod name"},
    [POD_DEPLOY] = {"DEPLOY", false, 11, "deployment"},
    [POD_READY] = {"READY", false, 18, "ready"},
    [POD_PHASE] = {"PHASE", false, 10, "phase"},
    [POD_AGE] = {"AGE", true, 16, "age"},
    [POD_RESTARTS] = {"RST", true, 15, "restarts"},
    [POD_SIDECAR] = {"SC", false, 17, "sidecar (nat: native)"},
    [POD_NAMING] = {"NAMING", false, 14, "how the plugin's metrics are named"},
    [POD_RPS] = {"RPS", true, 3, "observed requests per second"},
    [POD_ERRORS] = {"ERR%", true, 4, "observed error ratio (5xx, no response, Envoy flags)"},
    [POD_LAT50] = {"LAT50~", true, 12, "observed latency p50, ms"},
    [POD_LAT99] = {"LAT99~", true, 6, "observed latency p99, ms"},
    [POD_ABORT_RATE] = {"AB/S", true, 2, "injected aborts per second"},
    [POD_ABORTS] = {"ABORTS", true, 7, "injected aborts, total"},
    [POD_DELAY_RATE] = {"DL/S", true, 5, "injected delays per second"},
    [POD_DELAYS] = {"DELAYS", true, 8, "injected delays, total"},
    [POD_DLY50] = {"DLY50~", true, 13, "injected delay p50, ms"},
    [POD_DLY99] = {"DLY99~", true, 9, "injected delay p99, ms"},
    [POD_SCRAPE] = {"SCRAPE", true, 12, "age of the last good scrape"},
    [POD_ERROR] = {"ERROR", false, 1, "the scrape's error"},
};

static const struct column dep_columns[DEP_COLUMNS] = {
    [DEP_NAME] = {"DEPLOYMENT", false, 0, "deployment name"},
    [DEP_PODS] = {"PODS", true, 9, "pods now"},
    [DEP_RPS] = {"RPS", true, 3, "observed requests per second"},
    [DEP_ERRORS] = {"ERR%", true, 4, "observed error ratio"},
    [DEP_LAT50] = {"LAT50~", true, 10, "observed latency p50, ms"},
    [DEP_LAT99] = {"LAT99~", true, 6, "observed latency p99, ms"},
    [DEP_ABORT_RATE] = {"AB/S", true, 2, "injected aborts per second"},
    [DEP_ABORTS] = {"ABORTS", true, 7, "injected aborts over every pod seen"},
    [DEP_DELAY_RATE] = {"DL/S", true, 5, "injected delays per second"},
    [DEP_DELAYS] = {"DELAYS", true, 8, "injected delays over every pod seen"},
    [DEP_DLY50] = {"DLY50~", true, 12, "injected delay p50, ms"},
    [DEP_DLY99] = {"DLY99~", true, 11, "injected delay p99, ms"},
    [DEP_FAILING] = {"FAILING", true, 1, "pods whose scrape fails"},
};

/* ---- cells ---- */

static double value_or_nan(const hfi_value *v)
{
    return v->present ? v->value : NAN;
}

/* Seconds since a monotonic time; +Inf for a pod with a sidecar never
 * read (the oldest data of all), NaN where there is nothing to read. */
static double scrape_age(const struct app_pod *p, int64_t now_ms)
{
    if (p->last_scrape_ms)
        return (double)(now_ms - p->last_scrape_ms) / 1000.0;
    return app_pod_scrapable(&p->pod) ? INFINITY : NAN;
}

/* The number a numeric pod column sorts and shows by; NaN sorts last. */
static double pod_value(const struct app_pod *p, int c, time_t now, int64_t now_ms)
{
    switch (c) {
    case POD_AGE: return p->pod.start_time ? (double)(now - p->pod.start_time) : NAN;
    case POD_RESTARTS: return p->pod.restarts;
    case POD_RPS: return p->window.requests_per_s;
    case POD_ERRORS: return p->window.error_ratio;
    case POD_LAT50: return p->window.latency_ms.p50;
    case POD_LAT99: return p->window.latency_ms.p99;
    case POD_ABORT_RATE: return p->window.aborts_per_s;
    case POD_ABORTS: return p->scraped ? value_or_nan(&p->metrics.aborts_total) : NAN;
    case POD_DELAY_RATE: return p->window.delays_per_s;
    case POD_DELAYS: return p->scraped ? value_or_nan(&p->metrics.delays_total) : NAN;
    case POD_DLY50: return p->window.delay_ms.p50;
    case POD_DLY99: return p->window.delay_ms.p99;
    case POD_SCRAPE: return scrape_age(p, now_ms);
    default: return NAN;
    }
}

/* The text a string pod column sorts by: no formatting, only pointers. */
static const char *pod_string(const struct app_pod *p, int c)
{
    switch (c) {
    case POD_NAME: return p->pod.name;
    case POD_DEPLOY: return p->pod.deployment ? p->pod.deployment : "-";
    case POD_READY: return p->pod.ready ? "yes" : "no";
    case POD_PHASE: return p->pod.deleting ? "Terminating" : p->pod.phase && p->pod.phase[0] ? p->pod.phase : "Unknown";
    case POD_SIDECAR: return !p->pod.has_sidecar ? "no" : p->pod.sidecar_native ? "nat" : "yes";
    case POD_NAMING: return p->scraped ? hfi_naming_name(p->metrics.naming) : "-";
    case POD_ERROR: return p->failing ? p->error : p->stale ? "stale: Prometheus' newest sample is old" : "";
    default: return "";
    }
}

static void format_number(int kind, double v, char *out, size_t size)
{
    switch (kind) {
    case 'c': ui_format_count(v, out, size); break;
    case 'r': ui_format_rate(v, out, size); break;
    case '%': ui_format_percent(v, out, size); break;
    case 'm': ui_format_ms(v, out, size); break;
    default: snprintf(out, size, "-"); break;
    }
}

static void pod_cell(const struct app_pod *p, int c, time_t now, int64_t now_ms, char *out, size_t size)
{
    double v = pod_value(p, c, now, now_ms);
    switch (c) {
    case POD_AGE:
        if (isnan(v))
            snprintf(out, size, "-");
        else
            app_format_age((long)v, out, size);
        break;
    case POD_SCRAPE:
        if (isnan(v) || isinf(v))
            snprintf(out, size, isinf(v) ? "never" : "-");
        else
            app_format_age((long)v, out, size);
        break;
    case POD_RESTARTS:
    case POD_ABORTS:
    case POD_DELAYS: format_number('c', v, out, size); break;
    case POD_RPS:
    case POD_ABORT_RATE:
    case POD_DELAY_RATE: format_number('r', v, out, size); break;
    case POD_ERRORS: format_number('%', v, out, size); break;
    case POD_LAT50:
    case POD_LAT99:
    case POD_DLY50:
    case POD_DLY99: format_number('m', v, out, size); break;
    default: text_sanitize(pod_string(p, c), strlen(pod_string(p, c)), 0, out, size); break;
    }
}

static double dep_value(const struct app_deployment *d, int c)
{
    switch (c) {
    case DEP_PODS: return (double)d->pods;
    case DEP_RPS: return d->window.requests_per_s;
    case DEP_ERRORS: return d->window.error_ratio;
    case DEP_LAT50: return d->window.latency_ms.p50;
    case DEP_LAT99: return d->window.latency_ms.p99;
    case DEP_ABORT_RATE: return d->window.aborts_per_s;
    case DEP_ABORTS: return d->totals.aborts;
    case DEP_DELAY_RATE: return d->window.delays_per_s;
    case DEP_DELAYS: return d->totals.delays;
    case DEP_DLY50: return d->window.delay_ms.p50;
    case DEP_DLY99: return d->window.delay_ms.p99;
    case DEP_FAILING: return (double)d->failing;
    default: return NAN;
    }
}

static void dep_cell(const struct app_deployment *d, int c, char *out, size_t size)
{
    double v = dep_value(d, c);
    switch (c) {
    case DEP_NAME: text_sanitize(d->name, strlen(d->name), 0, out, size); break;
    case DEP_PODS:
    case DEP_ABORTS:
    case DEP_DELAYS:
    case DEP_FAILING: format_number('c', v, out, size); break;
    case DEP_RPS:
    case DEP_ABORT_RATE:
    case DEP_DELAY_RATE: format_number('r', v, out, size); break;
    case DEP_ERRORS: format_number('%', v, out, size); break;
    default: format_number('m', v, out, size); break;
    }
}

/* ---- sorting: keys computed once per row, then compared ---- */

struct sort_key {
    double number;
    const char *text;
    const char *name; /* ties broken by name */
    const void *row;
};

static bool sort_reversed; /* qsort has no context argument */

static int compare_keys(const void *a, const void *b)
{
    const struct sort_key *x = a, *y = b;
    int order;
    if (x->text) {
        order = strcmp(x->text, y->text);
    } else {
        if (isnan(x->number) != isnan(y->number))
            return isnan(x->number) ? 1 : -1; /* unknowns last, whichever the direction */
        order = x->number > y->number ? -1 : x->number < y->number ? 1 : 0;
    }
    if (!order)
        return strcmp(x->name, y->name);
    /* Numbers come largest first by default; text A to Z. */
    return sort_reversed ? -order : order;
}

static struct sort_key *sort_buffer(size_t n)
{
    static struct sort_key *keys;
    static size_t capacity;
    if (n > capacity) {
        struct sort_key *grown = realloc(keys, n * sizeof *grown);
        if (!grown)
            return NULL;
        keys = grown;
        capacity = n;
    }
    return keys;
}

static void pod_key(const struct app_pod *p, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", p->pod.namespace ? p->pod.namespace : "", p->pod.name);
}

static void refresh_pods(struct ui *ui, time_t now, int64_t now_ms)
{
    const struct app *app = ui->app;
    size_t n = app_pod_count(app);
    if (n > ui->visible_capacity) {
        const struct app_pod **grown = realloc(ui->visible, n * sizeof *grown);
        if (!grown)
            return;
        ui->visible = grown;
        ui->visible_capacity = n;
    }
    struct sort_key *keys = sort_buffer(n ? n : 1);
    if (!keys)
        return;
    int c = ui->sort_column;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const struct app_pod *p = app_pod_at(app, k);
        if (!ui_filter_accepts(&ui->filter_re, p->pod.name, p->pod.deployment))
            continue;
        keys[m++] = (struct sort_key){pod_columns[c].numeric ? pod_value(p, c, now, now_ms) : 0,
                                      pod_columns[c].numeric ? NULL : pod_string(p, c), p->pod.name, p};
    }
    sort_reversed = ui->sort_reverse;
    qsort(keys, m, sizeof *keys, compare_keys);
    ui->n_visible = m;
    for (size_t k = 0; k < m; k++)
        ui->visible[k] = keys[k].row;

    /* Keep the same pod selected; if it went away, stay at its place. */
    int found = -1;
    const char *slash = strchr(ui->selected, '/');
    size_t ns_len = slash ? (size_t)(slash - ui->selected) : 0;
    for (size_t k = 0; k < ui->n_visible && slash; k++) {
        const struct kube_pod *pod = &ui->visible[k]->pod;
        const char *ns = pod->namespace ? pod->namespace : "";
        if (strcmp(pod->name, slash + 1) == 0 && strncmp(ns, ui->selected, ns_len) == 0 && ns[ns_len] == '\0') {
            found = (int)k;
            break;
        }
    }
    char key[300];
    if (found < 0) {
        found = ui->selected_index < (int)ui->n_visible ? ui->selected_index : (int)ui->n_visible - 1;
        if (found < 0)
            found = 0;
    }
    ui->selected_index = found;
    if (ui->n_visible) {
        pod_key(ui->visible[found], key, sizeof key);
        snprintf(ui->selected, sizeof ui->selected, "%s", key);
    }
}

static void refresh_deployments(struct ui *ui)
{
    app_refresh_deployments(ui->app);
    size_t n = app_deployment_count(ui->app);
    if (n > ui->dep_visible_capacity) {
        const struct app_deployment **grown = realloc(ui->dep_visible, n * sizeof *grown);
        if (!grown)
            return;
        ui->dep_visible = grown;
        ui->dep_visible_capacity = n;
    }
    struct sort_key *keys = sort_buffer(n ? n : 1);
    if (!keys)
        return;
    int c = ui->dep_sort_column;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const struct app_deployment *d = app_deployment_at(ui->app, k);
        if (!ui_filter_accepts(&ui->filter_re, d->name, NULL))
            continue;
        keys[m++] = (struct sort_key){dep_columns[c].numeric ? dep_value(d, c) : 0,
                                      dep_columns[c].numeric ? NULL : d->name, d->name, d};
    }
    sort_reversed = ui->dep_sort_reverse;
    qsort(keys, m, sizeof *keys, compare_keys);
    ui->n_dep_visible = m;
    for (size_t k = 0; k < m; k++)
        ui->dep_visible[k] = keys[k].row;
    int found = -1;
    for (size_t k = 0; k < m && ui->dep_selected[0]; k++)
        if (strcmp(ui->dep_visible[k]->name, ui->dep_selected) == 0)
            found = (int)k;
    if (found < 0)
        found = ui->dep_selected_index < (int)m ? ui->dep_selected_index : (int)m - 1;
    ui->dep_selected_index = found < 0 ? 0 : found;
    if (m)
        snprintf(ui->dep_selected, sizeof ui->dep_selected, "%s", ui->dep_visible[ui->dep_selected_index]->name);
}

void ui_refresh_rows(struct ui *ui)
{
    refresh_pods(ui, time(NULL), app_now_ms());
    if (ui_showing_deployments(ui))
        refresh_deployments(ui);
}

void ui_filter_changed(struct ui *ui)
{
    ui_filter_set(&ui->filter_re, ui->filter);
}

void ui_oldest_data(const struct ui *ui, long *age_s, size_t *without_data)
{
    int64_t now_ms = app_now_ms(), oldest = 0;
    *without_data = 0;
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        if (p->last_scrape_ms) {
            if (!oldest || p->last_scrape_ms < oldest)
                oldest = p->last_scrape_ms;
        } else if (app_pod_scrapable(&p->pod)) {
            (*without_data)++;
        }
    }
    *age_s = oldest ? (long)((now_ms - oldest) / 1000) : -1;
}

bool ui_showing_deployments(const struct ui *ui)
{
    return ui->view == &view_deployments || (ui->view == &view_detail && ui->detail_of_deployment);
}

/* In the deployment table, the selected deployment's first pod: actions
 * (restart, fire) then act on that deployment. */
const struct app_pod *ui_selected_pod(const struct ui *ui)
{
    if (ui_showing_deployments(ui)) {
        if (!ui->n_dep_visible)
            return NULL;
        const char *name = ui->dep_visible[ui->dep_selected_index]->name;
        for (size_t k = 0; k < ui->n_visible; k++)
            if (ui->visible[k]->pod.deployment && strcmp(ui->visible[k]->pod.deployment, name) == 0)
                return ui->visible[k];
        return NULL;
    }
    return ui->n_visible ? ui->visible[ui->selected_index] : NULL;
}

const struct app_deployment *ui_selected_deployment(const struct ui *ui)
{
    return ui->n_dep_visible ? ui->dep_visible[ui->dep_selected_index] : NULL;
}

/* ---- layout: widths from content, columns dropped by priority ---- */

#define CELL_BYTES 160
#define MAX_ROWS_ON_SCREEN 256
#define NAME_MIN_CELLS 12
#define LAST_MIN_CELLS 12 /* ERROR / FAILING keep at least this */

struct table {
    const struct column *columns;
    int n_columns;
    const bool *hidden;
    int sort_column;
    bool sort_reverse;
    int width[UI_MAX_COLUMNS]; /* 0: not shown */
};

/* Cells in terminal columns: most are plain ASCII (numbers, our words),
 * measured without decoding; the rest went through the sanitizer. */
static int cell_width(const char *s)
{
    const char *p = s;
    while (*p >= 0x20 && *p < 0x7f)
        p++;
    return *p ? text_width(s) : (int)(p - s);
}

static int cell_widths[MAX_ROWS_ON_SCREEN][UI_MAX_COLUMNS];

/* The title with the sort direction: v largest (or Z) first, ^ the other
 * way; arrows in UTF-8. */
static void title_text(const struct ui *ui, const struct table *t, int c, char *out, size_t size)
{
    if (c != t->sort_column) {
        snprintf(out, size, "%s", t->columns[c].title);
        return;
    }
    bool descending = t->columns[c].numeric != t->sort_reverse;
    snprintf(out, size, "%s%s", t->columns[c].title,
             ui->utf8 ? (descending ? "\u25bc" : "\u25b2") : (descending ? "v" : "^"));
}

/* cells[r][c] for the rows on screen; the name column (0) and the last
 * one take what they need up to what is left. */
static void layout(const struct ui *ui, struct table *t, char (*cells)[UI_MAX_COLUMNS][CELL_BYTES], int n_rows)
{
    int natural[UI_MAX_COLUMNS];
    int last = t->n_columns - 1;
    for (int c = 0; c < t->n_columns; c++) {
        char title[64];
        title_text(ui, t, c, title, sizeof title);
        natural[c] = cell_width(title);
        for (int r = 0; r < n_rows; r++) {
            int w = cell_widths[r][c] = cell_width(cells[r][c]);
            if (w > natural[c])
                natural[c] = w;
        }
        t->width[c] = c == 0 || c == last || !t->hidden[c] ? natural[c] : 0;
    }
    int last_min = natural[last] < LAST_MIN_CELLS ? natural[last] : LAST_MIN_CELLS;
    /* A long name gives way (shortened in the middle) before the numbers do. */
    int name_cap = ui->cols / 2 > NAME_MIN_CELLS ? ui->cols / 2 : NAME_MIN_CELLS;
    if (t->width[0] > name_cap)
        t->width[0] = name_cap;
    for (;;) {
        int used = 0;
        for (int c = 0; c < last; c++)
            used += t->width[c] ? t->width[c] + 1 : 0;
        if (used + last_min <= ui->cols)
            break;
        int drop = -1;
        for (int c = 1; c < last; c++)
            if (t->width[c] && (drop < 0 || t->columns[c].priority > t->columns[drop].priority))
                drop = c;
        if (drop < 0) { /* only the name is left: shorten it */
            int room = ui->cols - last_min - 1;
            t->width[0] = room < NAME_MIN_CELLS ? NAME_MIN_CELLS : room;
            break;
        }
        t->width[drop] = 0;
    }
    int used = 0;
    for (int c = 0; c < last; c++)
        used += t->width[c] ? t->width[c] + 1 : 0;
    t->width[last] = ui->cols - used > 0 ? ui->cols - used : 0;
    if (t->columns[last].numeric && t->width[last] > natural[last])
        t->width[last] = natural[last]; /* a number beside the others, not at the far edge */
}

/* Row r of the cells measured by layout(): one cell after the other,
 * padded to the column, names shortened in the middle (their unique
 * suffix stays), other text cut at the end. */
static void draw_row(const struct ui *ui, const struct table *t, int y, char (*cells)[CELL_BYTES], int r, bool header)
{
    int x = 0;
    for (int c = 0; c < t->n_columns && x < ui->cols; c++) {
        int w = t->width[c];
        if (!w)
            continue;
        char fitted[CELL_BYTES * 2];
        const char *text = cells[c];
        int used = cell_widths[r][c];
        if (used > w) {
            if (c == 0 && !header)
                used = text_shorten_middle(cells[c], w, ui->utf8, fitted, sizeof fitted);
            else
                used = text_fit(cells[c], w, fitted, sizeof fitted);
            text = fitted;
        }
        int pad = w > used ? w - used : 0;
        if (header && c == t->sort_column)
            attron(A_UNDERLINE);
        move(y, x);
        if (t->columns[c].numeric)
            hline(' ', pad), move(y, x + pad);
        addstr(text);
        if (!t->columns[c].numeric && pad)
            move(y, x + used), hline(' ', pad);
        if (header && c == t->sort_column)
            attroff(A_UNDERLINE);
        x += w + 1;
    }
}

/* Scroll so the selection shows; returns the first row drawn. */
static int follow(int selected, int *scroll, int rows, int n)
{
    if (selected < *scroll)
        *scroll = selected;
    if (selected >= *scroll + rows)
        *scroll = selected - rows + 1;
    if (*scroll > n - rows)
        *scroll = n - rows;
    if (*scroll < 0)
        *scroll = 0;
    return *scroll;
}

static void draw_empty(struct ui *ui, int y, const char *what)
{
    const char *why = !app_synced(ui->app) ? "waiting for the pod list..."
                      : ui->filter[0]       ? "nothing matches the filter (Esc clears it)"
                                            : what;
    mvaddnstr(y, 0, why, ui->cols);
}

static void draw_pods(struct ui *ui, int top, int height)
{
    time_t now = time(NULL);
    int64_t now_ms = app_now_ms();
    int rows = height - 2; /* the column titles and the totals */
    if (rows < 1)
        return;
    int first = follow(ui->selected_index, &ui->scroll, rows, (int)ui->n_visible);
    int shown = (int)ui->n_visible - first < rows ? (int)ui->n_visible - first : rows;
    if (shown > MAX_ROWS_ON_SCREEN - 2)
        shown = MAX_ROWS_ON_SCREEN - 2;
    /* Rows on screen, then the titles and the totals: all sized together. */
    static char cells[MAX_ROWS_ON_SCREEN][UI_MAX_COLUMNS][CELL_BYTES];
    if (shown > 0) /* a source that reads pod by pod reads these first */
        app_show_pods(ui->app, ui->visible + first, (size_t)shown);
    for (int r = 0; r < shown; r++)
        for (int c = 0; c < POD_COLUMNS; c++)
            pod_cell(ui->visible[first + r], c, now, now_ms, cells[r][c], CELL_BYTES);

    double aborts = 0, delays = 0, rates[3] = {0, 0, 0};
    size_t sidecars = 0, failing = 0;
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        double v;
        sidecars += p->pod.has_sidecar;
        failing += p->failing;
        if (!isnan(v = pod_value(p, POD_ABORTS, now, now_ms)))
            aborts += v;
        if (!isnan(v = pod_value(p, POD_DELAYS, now, now_ms)))
            delays += v;
        if (!isnan(p->window.aborts_per_s))
            rates[0] += p->window.aborts_per_s;
        if (!isnan(p->window.delays_per_s))
            rates[1] += p->window.delays_per_s;
        if (!isnan(p->window.requests_per_s))
            rates[2] += p->window.requests_per_s;
    }
    char(*total)[CELL_BYTES] = cells[shown];
    for (int c = 0; c < POD_COLUMNS; c++)
        total[c][0] = '\0';
    snprintf(total[POD_NAME], CELL_BYTES, "TOTAL %zu pods, %zu sidecars", ui->n_visible, sidecars);
    format_number('c', aborts, total[POD_ABORTS], CELL_BYTES);
    format_number('c', delays, total[POD_DELAYS], CELL_BYTES);
    format_number('r', rates[0], total[POD_ABORT_RATE], CELL_BYTES);
    format_number('r', rates[1], total[POD_DELAY_RATE], CELL_BYTES);
    format_number('r', rates[2], total[POD_RPS], CELL_BYTES);
    if (failing)
        snprintf(total[POD_ERROR], CELL_BYTES, "%zu failing", failing);

    struct table t = {pod_columns, POD_COLUMNS, ui->hidden, ui->sort_column, ui->sort_reverse, {0}};
    char(*titles)[CELL_BYTES] = cells[shown + 1];
    for (int c = 0; c < POD_COLUMNS; c++)
        title_text(ui, &t, c, titles[c], CELL_BYTES);
    layout(ui, &t, cells, shown + 2);

    ui_attr_on(ui, UI_COLOR_HEADER, A_BOLD);
    draw_row(ui, &t, top, titles, shown + 1, true);
    ui_attr_off(ui, UI_COLOR_HEADER, A_BOLD);
    if (!ui->n_visible)
        draw_empty(ui, top + 1, "no pods in this namespace");
    for (int r = 0; r < shown; r++) {
        const struct app_pod *p = ui->visible[first + r];
        bool selected = first + r == ui->selected_index;
        enum ui_color color = p->failing ? UI_COLOR_ERROR : !p->pod.has_sidecar ? UI_COLOR_DIM : 0;
        ui_attr_on(ui, color, selected ? A_REVERSE : 0);
        if (selected)
            mvhline(top + 1 + r, 0, ' ', ui->cols);
        draw_row(ui, &t, top + 1 + r, cells[r], r, false);
        ui_attr_off(ui, color, selected ? A_REVERSE : 0);
    }
    ui_attr_on(ui, 0, A_BOLD);
    draw_row(ui, &t, top + height - 1, total, shown, false);
    ui_attr_off(ui, 0, A_BOLD);
}

static void draw_deployments(struct ui *ui, int top, int height)
{
    int rows = height - 1;
    if (rows < 1)
        return;
    int first = follow(ui->dep_selected_index, &ui->dep_scroll, rows, (int)ui->n_dep_visible);
    int shown = (int)ui->n_dep_visible - first < rows ? (int)ui->n_dep_visible - first : rows;
    if (shown > MAX_ROWS_ON_SCREEN - 1)
        shown = MAX_ROWS_ON_SCREEN - 1;
    static char cells[MAX_ROWS_ON_SCREEN][UI_MAX_COLUMNS][CELL_BYTES];
    if (shown > 0) /* a source that reads pod by pod reads their pods first */
        app_show_deployments(ui->app, ui->dep_visible + first, (size_t)shown);
    for (int r = 0; r < shown; r++)
        for (int c = 0; c < DEP_COLUMNS; c++)
            dep_cell(ui->dep_visible[first + r], c, cells[r][c], CELL_BYTES);
    struct table t = {dep_columns, DEP_COLUMNS, ui->dep_hidden, ui->dep_sort_column, ui->dep_sort_reverse, {0}};
    char(*titles)[CELL_BYTES] = cells[shown];
    for (int c = 0; c < DEP_COLUMNS; c++)
        title_text(ui, &t, c, titles[c], CELL_BYTES);
    layout(ui, &t, cells, shown + 1);
    ui_attr_on(ui, UI_COLOR_HEADER, A_BOLD);
    draw_row(ui, &t, top, titles, shown, true);
    ui_attr_off(ui, UI_COLOR_HEADER, A_BOLD);
    if (!ui->n_dep_visible)
        draw_empty(ui, top + 1, "no deployments in this namespace");
    for (int r = 0; r < shown; r++) {
        const struct app_deployment *d = ui->dep_visible[first + r];
        bool selected = first + r == ui->dep_selected_index;
        enum ui_color color = d->failing ? UI_COLOR_ERROR : 0;
        ui_attr_on(ui, color, selected ? A_REVERSE : 0);
        if (selected)
            mvhline(top + 1 + r, 0, ' ', ui->cols);
        draw_row(ui, &t, top + 1 + r, cells[r], r, false);
        ui_attr_off(ui, color, selected ? A_REVERSE : 0);
    }
}

/* ---- keys ---- */

static void move_selection(struct ui *ui, int to)
{
    if (ui_showing_deployments(ui)) {
        if (to >= (int)ui->n_dep_visible)
            to = (int)ui->n_dep_visible - 1;
        ui->dep_selected_index = to < 0 ? 0 : to;
        ui->dep_selected[0] = '\0';
        if (ui->n_dep_visible)
            snprintf(ui->dep_selected, sizeof ui->dep_selected, "%s", ui->dep_visible[ui->dep_selected_index]->name);
        return;
    }
    if (to >= (int)ui->n_visible)
        to = (int)ui->n_visible - 1;
    if (to < 0)
        to = 0;
    ui->selected_index = to;
    ui->selected[0] = '\0';
    if (ui->n_visible)
        pod_key(ui->visible[to], ui->selected, sizeof ui->selected);
}

struct table_settings {
    const struct column *columns;
    int n_columns;
    int *sort_column;
    bool *sort_reverse;
    bool *hidden;
};

static struct table_settings settings(struct ui *ui)
{
    if (ui_showing_deployments(ui))
        return (struct table_settings){dep_columns, DEP_COLUMNS, &ui->dep_sort_column, &ui->dep_sort_reverse,
                                       ui->dep_hidden};
    return (struct table_settings){pod_columns, POD_COLUMNS, &ui->sort_column, &ui->sort_reverse, ui->hidden};
}

static void sort_by(struct ui *ui, int column)
{
    struct table_settings s = settings(ui);
    *s.sort_column = column;
    *s.sort_reverse = false; /* numbers largest first, text A to Z */
    ui_status(ui, false, "sorted by %s, %s", s.columns[column].title,
              s.columns[column].numeric ? "largest first" : "A to Z");
}

/* The sort picker: one line per column, its title first. */
static void sort_picked(struct ui *ui, const char *item)
{
    struct table_settings s = settings(ui);
    for (int c = 0; c < s.n_columns; c++) {
        size_t n = strlen(s.columns[c].title);
        if (strncmp(item, s.columns[c].title, n) == 0 && item[n] == ' ')
            sort_by(ui, c);
    }
}

static void open_picker(struct ui *ui, const char *title, void (*picked)(struct ui *, const char *), int cursor,
                        bool checkboxes)
{
    struct table_settings s = settings(ui);
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_PICKER;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "%s", title);
    for (int c = 0; c < s.n_columns && ui->dialog.n_items < UI_PICKER_ITEMS; c++) {
        char line[200];
        bool fixed = s.columns[c].priority <= 1;
        if (checkboxes)
            snprintf(line, sizeof line, "%s %s %s%s", s.columns[c].title,
                     fixed || !s.hidden[c] ? "[x]" : "[ ]", s.columns[c].what, fixed ? " (always)" : "");
        else
            snprintf(line, sizeof line, "%s %s%s", s.columns[c].title, s.columns[c].what,
                     c == *s.sort_column ? "  (now)" : "");
        char *copy = strdup(line);
        if (copy)
            ui->dialog.items[ui->dialog.n_items++] = copy;
    }
    ui->dialog.cursor = cursor < ui->dialog.n_items ? cursor : 0;
    ui->dialog.picked = picked;
}

static void column_toggled(struct ui *ui, const char *item)
{
    struct table_settings s = settings(ui);
    for (int c = 0; c < s.n_columns; c++) {
        size_t n = strlen(s.columns[c].title);
        if (strncmp(item, s.columns[c].title, n) != 0 || item[n] != ' ')
            continue;
        if (s.columns[c].priority > 1)
            s.hidden[c] = !s.hidden[c];
        /* Stay open on the same line for the next switch. */
        open_picker(ui, "Columns (Enter switches one on or off, Esc closes)", column_toggled, c, true);
        return;
    }
}

/* Shared by the two tables and the detail view. */
static bool table_key(struct ui *ui, int ch)
{
    int page = ui->rows > 8 ? ui->rows - 8 : 1;
    bool deployments = ui_showing_deployments(ui);
    int selected = deployments ? ui->dep_selected_index : ui->selected_index;
    int count = deployments ? (int)ui->n_dep_visible : (int)ui->n_visible;
    struct table_settings s = settings(ui);
    switch (ch) {
    case KEY_UP:
    case 'k': move_selection(ui, selected - 1); return true;
    case KEY_DOWN:
    case 'j': move_selection(ui, selected + 1); return true;
    case KEY_PPAGE: move_selection(ui, selected - page); return true;
    case KEY_NPAGE: move_selection(ui, selected + page); return true;
    case 'g':
    case KEY_HOME: move_selection(ui, 0); return true;
    case 'G':
    case KEY_END: move_selection(ui, count - 1); return true;
    case 's': sort_by(ui, (*s.sort_column + 1) % s.n_columns); return true;
    case 'S':
        *s.sort_reverse = !*s.sort_reverse;
        ui_status(ui, false, "sorted by %s, %s", s.columns[*s.sort_column].title,
                  (s.columns[*s.sort_column].numeric != *s.sort_reverse) ? "largest first" : "smallest first");
        return true;
    case '>':
    case KEY_F(6): open_picker(ui, "Sort by (Enter picks the column)", sort_picked, *s.sort_column, false); return true;
    case 'C': open_picker(ui, "Columns (Enter switches one on or off, Esc closes)", column_toggled, 0, true); return true;
    case '\n':
    case KEY_ENTER:
        if (ui_selected_pod(ui) || (ui->view == &view_deployments && ui_selected_deployment(ui))) {
            ui->detail_of_deployment = ui->view == &view_deployments;
            ui->detail_scroll = 0;
            ui->view = &view_detail;
        }
        return true;
    default: return false;
    }
}

static bool pods_key(struct ui *ui, int ch)
{
    return table_key(ui, ch);
}

const struct view_ops view_pods = {"pods", draw_pods, pods_key};
const struct view_ops view_deployments = {"deployments", draw_deployments, pods_key};
