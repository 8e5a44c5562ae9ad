/* The pod table: every pod of the namespace with its sidecar's counters,
 * rates and delay percentiles, sortable by any column, filtered with `/`,
 * the selection kept on the same pod across refreshes. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/report.h"
#include "format.h"
#include "ui_internal.h"

enum column_id {
    COL_POD, COL_DEPLOY, COL_READY, COL_PHASE, COL_AGE, COL_RESTARTS, COL_SIDECAR, COL_NAMING,
    COL_ABORTS, COL_DELAYS, COL_ABORT_RATE, COL_DELAY_RATE, COL_P50, COL_P95, COL_P99, COL_SCRAPE, COL_ERROR,
    COL_COUNT
};

struct column {
    const char *title;
    int width;
    bool compact; /* kept in the compact layout */
    bool numeric; /* right-aligned, sorted largest first */
};

static const struct column columns[COL_COUNT] = {
    [COL_POD] = {"POD", 26, true, false},        [COL_DEPLOY] = {"DEPLOY", 12, false, false},
    [COL_READY] = {"READY", 5, false, false},    [COL_PHASE] = {"PHASE", 11, true, false},
    [COL_AGE] = {"AGE", 5, false, true},         [COL_RESTARTS] = {"RST", 3, false, true},
    [COL_SIDECAR] = {"SC", 3, false, false},     [COL_NAMING] = {"NAMING", 10, false, false},
    [COL_ABORTS] = {"ABORTS", 7, true, true},    [COL_DELAYS] = {"DELAYS", 7, true, true},
    [COL_ABORT_RATE] = {"AB/S", 6, true, true},  [COL_DELAY_RATE] = {"DL/S", 6, false, true},
    [COL_P50] = {"P50", 6, false, true},         [COL_P95] = {"P95", 6, true, true},
    [COL_P99] = {"P99", 6, false, true},         [COL_SCRAPE] = {"SCRAPE", 6, false, true},
    [COL_ERROR] = {"ERROR", 0, true, false},
};

static double value_or_nan(const hfi_value *v)
{
    return v->present ? v->value : NAN;
}

/* The number a numeric column sorts and shows by; NaN sorts last. */
static double numeric_value(const struct app_pod *p, enum column_id c, time_t now)
{
    switch (c) {
    case COL_AGE: return p->pod.start_time ? (double)(now - p->pod.start_time) : NAN;
    case COL_RESTARTS: return p->pod.restarts;
    case COL_ABORTS: return p->scraped ? value_or_nan(&p->metrics.aborts_total) : NAN;
    case COL_DELAYS: return p->scraped ? value_or_nan(&p->metrics.delays_total) : NAN;
    case COL_ABORT_RATE: return p->window.aborts_per_s;
    case COL_DELAY_RATE: return p->window.delays_per_s;
    case COL_P50: return p->scraped ? p->delay_percentiles.p50 : NAN;
    case COL_P95: return p->scraped ? p->delay_percentiles.p95 : NAN;
    case COL_P99: return p->scraped ? p->delay_percentiles.p99 : NAN;
    case COL_SCRAPE: return p->last_scrape ? (double)(now - p->last_scrape) : NAN;
    default: return NAN;
    }
}

static const char *sidecar_text(const struct app_pod *p)
{
    return !p->pod.has_sidecar ? "no" : p->pod.sidecar_native ? "nat" : "yes";
}

static const char *phase_text(const struct app_pod *p)
{
    return p->pod.deleting ? "Terminating" : p->pod.phase[0] ? p->pod.phase : "Unknown";
}

static void cell_text(const struct app_pod *p, enum column_id c, time_t now, char *out, size_t size)
{
    double v = numeric_value(p, c, now);
    switch (c) {
    case COL_POD: snprintf(out, size, "%s", p->pod.name); break;
    case COL_DEPLOY: snprintf(out, size, "%s", p->pod.deployment ? p->pod.deployment : "-"); break;
    case COL_READY: snprintf(out, size, "%s", p->pod.ready ? "yes" : "no"); break;
    case COL_PHASE: snprintf(out, size, "%s", phase_text(p)); break;
    case COL_AGE:
    case COL_SCRAPE:
        if (isnan(v))
            snprintf(out, size, "-");
        else
            app_format_age((long)v, out, size);
        break;
    case COL_SIDECAR: snprintf(out, size, "%s", sidecar_text(p)); break;
    case COL_NAMING: snprintf(out, size, "%s", p->scraped ? hfi_naming_name(p->metrics.naming) : "-"); break;
    case COL_RESTARTS:
    case COL_ABORTS:
    case COL_DELAYS: ui_format_count(v, out, size); break;
    case COL_ABORT_RATE:
    case COL_DELAY_RATE: ui_format_rate(v, out, size); break;
    case COL_P50:
    case COL_P95:
    case COL_P99: ui_format_ms(v, out, size); break;
    case COL_ERROR:
        snprintf(out, size, "%s", p->failing ? p->error : p->stale ? "stale: Prometheus' newest sample is old" : "");
        break;
    case COL_COUNT: out[0] = '\0'; break;
    }
}

/* qsort has no context argument: the sort's settings for this call. */
static struct {
    enum column_id column;
    bool reverse;
    time_t now;
} sort_by;

static int compare_pods(const void *a, const void *b)
{
    const struct app_pod *x = *(const struct app_pod *const *)a, *y = *(const struct app_pod *const *)b;
    int order = 0;
    if (columns[sort_by.column].numeric) {
        double vx = numeric_value(x, sort_by.column, sort_by.now), vy = numeric_value(y, sort_by.column, sort_by.now);
        if (isnan(vx) != isnan(vy))
            return isnan(vx) ? 1 : -1; /* unknowns last, whichever the direction */
        order = vx > vy ? -1 : vx < vy ? 1 : 0;
    } else {
        char tx[256], ty[256];
        cell_text(x, sort_by.column, sort_by.now, tx, sizeof tx);
        cell_text(y, sort_by.column, sort_by.now, ty, sizeof ty);
        order = strcmp(tx, ty);
    }
    if (!order)
        order = strcmp(x->pod.name, y->pod.name);
    return sort_by.reverse ? -order : order;
}

static void pod_key(const struct app_pod *p, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", p->pod.namespace, p->pod.name);
}

void ui_refresh_rows(struct ui *ui)
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
    ui->n_visible = 0;
    for (size_t k = 0; k < n; k++) {
        const struct app_pod *p = app_pod_at(app, k);
        if (ui_filter_matches(p->pod.name, ui->filter) ||
            (p->pod.deployment && ui_filter_matches(p->pod.deployment, ui->filter)))
            ui->visible[ui->n_visible++] = p;
    }
    sort_by.column = (enum column_id)ui->sort_column;
    sort_by.reverse = ui->sort_reverse;
    sort_by.now = time(NULL);
    if (ui->n_visible)
        qsort(ui->visible, ui->n_visible, sizeof *ui->visible, compare_pods);

    /* Keep the same pod selected; if it went away, stay at its place. */
    int found = -1;
    char key[300];
    for (size_t k = 0; k < ui->n_visible && ui->selected[0]; k++) {
        pod_key(ui->visible[k], key, sizeof key);
        if (strcmp(key, ui->selected) == 0) {
            found = (int)k;
            break;
        }
    }
    if (found < 0) {
        found = ui->selected_index;
        if (found >= (int)ui->n_visible)
            found = (int)ui->n_visible - 1;
        if (found < 0)
            found = 0;
    }
    ui->selected_index = found;
    if (ui->n_visible) {
        pod_key(ui->visible[found], key, sizeof key);
        snprintf(ui->selected, sizeof ui->selected, "%s", key);
    }
}

const struct app_pod *ui_selected_pod(const struct ui *ui)
{
    return ui->n_visible ? ui->visible[ui->selected_index] : NULL;
}

/* Draws one row of cells; `width` of the flexible last column is what is left. */
static void draw_cells(struct ui *ui, int y, const char *const *cells, bool header)
{
    int x = 0;
    for (int c = 0; c < COL_COUNT && x < ui->cols; c++) {
        if (ui->compact && !columns[c].compact)
            continue;
        int w = columns[c].width ? columns[c].width : ui->cols - x;
        char text[300];
        if (columns[c].numeric && !header)
            snprintf(text, sizeof text, "%*.*s", w, w, cells[c]);
        else
            snprintf(text, sizeof text, "%-*.*s", w, w, cells[c]);
        if (header && c == ui->sort_column)
            ui_attr_on(ui, 0, A_UNDERLINE);
        ui_put(y, x, ui->cols - x, text);
        if (header && c == ui->sort_column)
            ui_attr_off(ui, 0, A_UNDERLINE);
        x += w + 1;
    }
}

static void draw_totals(struct ui *ui, int y, time_t now)
{
    double aborts = 0, delays = 0, abort_rate = 0, delay_rate = 0;
    size_t sidecars = 0, failing = 0;
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        sidecars += p->pod.has_sidecar;
        failing += p->failing;
        double v;
        if (!isnan(v = numeric_value(p, COL_ABORTS, now)))
            aborts += v;
        if (!isnan(v = numeric_value(p, COL_DELAYS, now)))
            delays += v;
        if (!isnan(p->window.aborts_per_s))
            abort_rate += p->window.aborts_per_s;
        if (!isnan(p->window.delays_per_s))
            delay_rate += p->window.delays_per_s;
    }
    char name[64], a[16], d[16], ar[16], dr[16], errors[64];
    const char *cells[COL_COUNT] = {0};
    snprintf(name, sizeof name, "TOTAL %zu pods, %zu sidecars", ui->n_visible, sidecars);
    ui_format_count(aborts, a, sizeof a);
    ui_format_count(delays, d, sizeof d);
    ui_format_rate(abort_rate, ar, sizeof ar);
    ui_format_rate(delay_rate, dr, sizeof dr);
    errors[0] = '\0';
    if (failing)
        snprintf(errors, sizeof errors, "%zu failing", failing);
    for (int c = 0; c < COL_COUNT; c++)
        cells[c] = "";
    cells[COL_POD] = name;
    cells[COL_ABORTS] = a;
    cells[COL_DELAYS] = d;
    cells[COL_ABORT_RATE] = ar;
    cells[COL_DELAY_RATE] = dr;
    cells[COL_ERROR] = errors;
    ui_attr_on(ui, 0, A_BOLD);
    draw_cells(ui, y, cells, false);
    ui_attr_off(ui, 0, A_BOLD);
}

static void draw_pods(struct ui *ui, int top, int height)
{
    time_t now = time(NULL);
    const char *titles[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        titles[c] = columns[c].title;
    ui_attr_on(ui, UI_COLOR_HEADER, A_BOLD);
    draw_cells(ui, top, titles, true);
    ui_attr_off(ui, UI_COLOR_HEADER, A_BOLD);

    int rows = height - 2; /* the column titles and the totals */
    if (rows < 1)
        return;
    if (ui->selected_index < ui->scroll)
        ui->scroll = ui->selected_index;
    if (ui->selected_index >= ui->scroll + rows)
        ui->scroll = ui->selected_index - rows + 1;
    if (ui->scroll > (int)ui->n_visible - rows)
        ui->scroll = (int)ui->n_visible - rows;
    if (ui->scroll < 0)
        ui->scroll = 0;

    if (!ui->n_visible) {
        const char *why = !app_synced(ui->app) ? "waiting for the pod list..."
                          : ui->filter[0]           ? "no pod matches the filter"
                                                    : "no pods in this namespace";
        ui_put(top + 1, 0, ui->cols, why);
    }
    int shown = rows < (int)ui->n_visible - ui->scroll ? rows : (int)ui->n_visible - ui->scroll;
    if (shown > 0)
        app_show_pods(ui->app, ui->visible + ui->scroll, (size_t)shown);
    for (int r = 0; r < rows && ui->scroll + r < (int)ui->n_visible; r++) {
        const struct app_pod *p = ui->visible[ui->scroll + r];
        char text[COL_COUNT][300];
        const char *cells[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) {
            cell_text(p, (enum column_id)c, now, text[c], sizeof text[c]);
            cells[c] = text[c];
        }
        bool selected = ui->scroll + r == ui->selected_index;
        enum ui_color color = p->failing ? UI_COLOR_ERROR : !p->pod.has_sidecar ? UI_COLOR_DIM : 0;
        ui_attr_on(ui, color, selected ? A_REVERSE : 0);
        if (selected)
            mvhline(top + 1 + r, 0, ' ', ui->cols);
        draw_cells(ui, top + 1 + r, cells, false);
        ui_attr_off(ui, color, selected ? A_REVERSE : 0);
    }
    draw_totals(ui, top + height - 1, now);
}

static void move_selection(struct ui *ui, int to)
{
    if (to >= (int)ui->n_visible)
        to = (int)ui->n_visible - 1;
    if (to < 0)
        to = 0;
    ui->selected_index = to;
    ui->selected[0] = '\0';
    if (ui->n_visible)
        pod_key(ui->visible[to], ui->selected, sizeof ui->selected);
}

/* Also used by the detail view, which follows the table's selection. */
static bool pods_key(struct ui *ui, int ch)
{
    int page = ui->rows > 8 ? ui->rows - 8 : 1;
    switch (ch) {
    case KEY_UP:
    case 'k': move_selection(ui, ui->selected_index - 1); return true;
    case KEY_DOWN:
    case 'j': move_selection(ui, ui->selected_index + 1); return true;
    case KEY_PPAGE: move_selection(ui, ui->selected_index - page); return true;
    case KEY_NPAGE: move_selection(ui, ui->selected_index + page); return true;
    case 'g':
    case KEY_HOME: move_selection(ui, 0); return true;
    case 'G':
    case KEY_END: move_selection(ui, (int)ui->n_visible - 1); return true;
    case 's':
        do
            ui->sort_column = (ui->sort_column + 1) % COL_COUNT;
        while (ui->compact && !columns[ui->sort_column].compact);
        ui_status(ui, false, "sorted by %s", columns[ui->sort_column].title);
        return true;
    case 'S':
        ui->sort_reverse = !ui->sort_reverse;
        ui_status(ui, false, "sorted by %s, %s", columns[ui->sort_column].title,
                  ui->sort_reverse ? "reversed" : "normal order");
        return true;
    case '\n':
    case KEY_ENTER:
        if (ui_selected_pod(ui))
            ui->view = &view_detail;
        return true;
    default: return false;
    }
}

const struct view_ops view_pods = {"pods", draw_pods, pods_key};
