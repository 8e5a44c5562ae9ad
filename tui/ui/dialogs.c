/* Dialogs drawn over the current view: confirmations that name exactly
 * what will change, forms, pickers, the fire-faults tally and the policy
 * list. Each is a state of ui->dialog; keys go to it while it is open. */
#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stats/text.h"
#include "format.h"
#include "ui_internal.h"

void ui_dialog_close(struct ui *ui)
{
    for (int k = 0; k < ui->dialog.n_items; k++)
        free(ui->dialog.items[k]);
    memset(&ui->dialog, 0, sizeof ui->dialog);
    ui->dialog.error_field = -1;
    ui->dialog_serial++;
}

void ui_form_error(struct ui *ui, int field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->dialog.error, sizeof ui->dialog.error, fmt, ap);
    va_end(ap);
    ui->dialog.error_field = field;
    ui->dialog.field = field;
    ui_status(ui, true, "%s: %s", ui->dialog.fields[field].label, ui->dialog.error);
}

void ui_confirm(struct ui *ui, const char *title)
{
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_CONFIRM;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "%s", title);
}

void ui_confirm_line(struct ui *ui, const char *fmt, ...)
{
    if (ui->dialog.n_lines >= UI_DIALOG_LINES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->dialog.lines[ui->dialog.n_lines++], sizeof ui->dialog.lines[0], fmt, ap);
    va_end(ap);
}

void ui_confirm_choice(struct ui *ui, int key, const char *label, void (*run)(struct ui *ui))
{
    if (ui->dialog.n_choices < (int)(sizeof ui->dialog.choices / sizeof ui->dialog.choices[0]))
        ui->dialog.choices[ui->dialog.n_choices++] = (struct ui_choice){key, label, run};
}

/* ---- drawing ---- */

/* A box in the middle of the screen; returns its first inner row. */
static int draw_box(struct ui *ui, int height, int *left, int *width)
{
    int w = ui->cols - 4 < 100 ? ui->cols - 4 : 100;
    if (height > ui->rows - 2)
        height = ui->rows - 2;
    int top = (ui->rows - height) / 2, x = (ui->cols - w) / 2;
    for (int y = top; y < top + height; y++)
        mvhline(y, x, ' ', w);
    ui_attr_on(ui, UI_COLOR_HEADER, 0);
    mvhline(top, x, ACS_HLINE, w);
    mvhline(top + height - 1, x, ACS_HLINE, w);
    mvvline(top, x, ACS_VLINE, height);
    mvvline(top, x + w - 1, ACS_VLINE, height);
    mvaddch(top, x, ACS_ULCORNER);
    mvaddch(top, x + w - 1, ACS_URCORNER);
    mvaddch(top + height - 1, x, ACS_LLCORNER);
    mvaddch(top + height - 1, x + w - 1, ACS_LRCORNER);
    ui_attr_off(ui, UI_COLOR_HEADER, 0);
    ui_attr_on(ui, 0, A_BOLD);
    ui_put(top, x + 2, w - 4, ui->dialog.title);
    ui_attr_off(ui, 0, A_BOLD);
    *left = x + 2;
    *width = w - 4;
    return top + 1;
}

/* Text wrapped to `width` cells at spaces (a word longer than the width is
 * cut where it must), into out[]; returns the lines written. */
#define WRAPPED_MAX 96
static int wrap(const char *text, int width, char (*out)[320], int max)
{
    char safe[1200];
    text_sanitize(text, strlen(text), 0, safe, sizeof safe);
    const char *p = safe;
    int n = 0;
    if (width < 1)
        width = 1;
    while (n < max) {
        char fitted[320];
        text_fit(p, width, fitted, sizeof fitted);
        size_t take = strlen(fitted);
        if (p[take] != '\0') {
            const char *space = NULL;
            for (const char *q = p; q < p + take; q++)
                if (*q == ' ')
                    space = q;
            if (space && space > p)
                take = (size_t)(space - p);
        }
        if (!take && *p) /* a character wider than the box */
            take = 1;
        snprintf(out[n++], 320, "%.*s", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
    }
    return n;
}

/* The dialog's lines wrapped to the box, and the part of them that fits
 * (from ui->dialog.scroll) drawn from row y; `room` rows at most. */
static int draw_wrapped(struct ui *ui, int x, int w, int y, int room, int *total)
{
    static char wrapped[WRAPPED_MAX][320];
    int n = 0;
    for (int k = 0; k < ui->dialog.n_lines && n < WRAPPED_MAX; k++)
        n += wrap(ui->dialog.lines[k], w, wrapped + n, WRAPPED_MAX - n);
    *total = n;
    int most = n > room ? n - room : 0;
    if (ui->dialog.scroll > most)
        ui->dialog.scroll = most;
    int shown = 0;
    for (int k = ui->dialog.scroll; k < n && shown < room; k++, shown++)
        ui_put(y + shown, x, w, wrapped[k]);
    return shown;
}

static void draw_confirm(struct ui *ui)
{
    /* Measure first: the box grows with the wrapped text, up to the screen. */
    int x, w = (ui->cols - 4 < 100 ? ui->cols - 4 : 100) - 4, total = 0;
    char probe[WRAPPED_MAX][320];
    for (int k = 0; k < ui->dialog.n_lines && total < WRAPPED_MAX; k++)
        total += wrap(ui->dialog.lines[k], w, probe + total, WRAPPED_MAX - total);
    /* The table stays in sight around the box: at most rows - 8 lines of
     * text, and one more saying where we are when they do not all fit. */
    int room = ui->rows - 8 < total ? ui->rows - 8 : total;
    if (room < 1)
        room = 1;
    bool scrolls = total > room;
    int y = draw_box(ui, room + 4 + scrolls, &x, &w);
    y += draw_wrapped(ui, x, w, y, room, &total);
    if (scrolls) {
        char more[120];
        int first = ui->dialog.scroll + 1, last = ui->dialog.scroll + room;
        snprintf(more, sizeof more, "(lines %d-%d of %d: Up/Down scroll)", first, last < total ? last : total, total);
        ui_attr_on(ui, UI_COLOR_DIM, 0);
        ui_put(y++, x, w, more);
        ui_attr_off(ui, UI_COLOR_DIM, 0);
    }
    char keys[300] = "";
    size_t used = 0;
    for (int k = 0; k < ui->dialog.n_choices; k++)
        used += (size_t)snprintf(keys + used, sizeof keys - used, "[%c] %s   ", ui->dialog.choices[k].key,
                                 ui->dialog.choices[k].label);
    snprintf(keys + used, sizeof keys - used, "[Esc] cancel");
    char lines[4][320];
    int n = wrap(keys, w, lines, 2);
    ui_attr_on(ui, 0, A_BOLD);
    for (int k = 0; k < n; k++)
        ui_put(y + k + (n > 1 ? 0 : 1), x, w, lines[k]);
    ui_attr_off(ui, 0, A_BOLD);
}

/* Lines of a dialog, wrapped to the box as they are added. */
struct dialog_text {
    char lines[24][320];
    bool bold[24];
    int n, width;
};

static void add_text(struct dialog_text *t, bool bold, const char *text)
{
    int n = wrap(text, t->width, t->lines + t->n, 24 - t->n);
    for (int k = 0; k < n; k++)
        t->bold[t->n + k] = bold;
    t->n += n;
}

static void draw_form(struct ui *ui)
{
    static struct dialog_text t;
    t.n = 0;
    t.width = (ui->cols - 4 < 100 ? ui->cols - 4 : 100) - 4;
    for (int k = 0; k < ui->dialog.n_lines; k++)
        add_text(&t, false, ui->dialog.lines[k]);
    /* The fields come first when the screen is short: text gives way. */
    int shown = ui->rows - 2 - ui->dialog.n_fields - 6;
    if (shown > t.n)
        shown = t.n;
    if (shown < 0)
        shown = 0;
    int x, w, y = draw_box(ui, ui->dialog.n_fields + shown + 6, &x, &w);
    char line[400];
    for (int k = 0; k < shown; k++)
        ui_put(y++, x, w, t.lines[k]);
    y++;
    for (int k = 0; k < ui->dialog.n_fields; k++) {
        const struct ui_field *f = &ui->dialog.fields[k];
        bool current = k == ui->dialog.field;
        if (f->options)
            snprintf(line, sizeof line, "%-16s < %s >", f->label, f->options[f->option]);
        else
            snprintf(line, sizeof line, "%-16s %s%s", f->label, f->value, current ? "_" : "");
        if (k == ui->dialog.error_field) {
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, "   <- %s", ui->dialog.error);
        }
        bool refused = k == ui->dialog.error_field;
        ui_attr_on(ui, refused ? UI_COLOR_ERROR : 0, current ? A_REVERSE : 0);
        ui_put(y++, x, w, line);
        ui_attr_off(ui, refused ? UI_COLOR_ERROR : 0, current ? A_REVERSE : 0);
    }
    char keys[2][320];
    int n = wrap("Tab/Up/Down field   Left/Right choose   type to edit   Enter go   Esc cancel", w, keys, 2);
    for (int k = 0; k < n; k++)
        ui_put(y + 1 + k, x, w, keys[k]);
}

static void draw_picker(struct ui *ui)
{
    int rows = ui->dialog.n_items < 12 ? ui->dialog.n_items : 12;
    int x, w, y = draw_box(ui, rows + 4, &x, &w);
    int first = ui->dialog.cursor >= rows ? ui->dialog.cursor - rows + 1 : 0;
    for (int k = first; k < ui->dialog.n_items && k < first + rows; k++) {
        bool current = k == ui->dialog.cursor;
        ui_attr_on(ui, 0, current ? A_REVERSE : 0);
        ui_put(y++, x, w, ui->dialog.items[k]);
        ui_attr_off(ui, 0, current ? A_REVERSE : 0);
    }
    if (!ui->dialog.n_items)
        ui_put(y++, x, w, "(reading...)");
    ui_put(y + 1, x, w, "Up/Down choose   Enter take   Esc cancel");
}

/* The sidecar counters of the fired-at deployment, summed over its pods. */
static void watched_counters(const struct ui *ui, const char *deployment, const char *pod, double *aborts,
                             double *delays)
{
    *aborts = *delays = 0;
    for (size_t k = 0; k < app_pod_count(ui->app); k++) {
        const struct app_pod *p = app_pod_at(ui->app, k);
        bool watched = pod[0] ? strcmp(p->pod.name, pod) == 0
                              : p->pod.deployment && strcmp(p->pod.deployment, deployment) == 0;
        if (!watched || !p->scraped)
            continue;
        if (p->metrics.aborts_total.present)
            *aborts += p->metrics.aborts_total.value;
        if (p->metrics.delays_total.present)
            *delays += p->metrics.delays_total.value;
    }
}

static void draw_fire_result(struct ui *ui)
{
    const struct ui_fire_state *f = &ui->fire;
    static struct dialog_text t;
    char line[400], statuses[200], p50[16], p95[16];
    double aborts, delays;
    t.n = 0;
    t.width = (ui->cols - 4 < 100 ? ui->cols - 4 : 100) - 4;
    watched_counters(ui, f->deployment, f->target_pod, &aborts, &delays);
    snprintf(line, sizeof line, "target %s in %s, %s, %d request(s)",
             f->target_pod[0] ? f->target_pod : f->target_service, ui->ns,
             f->options.abort_status ? "abort" : "delay", f->options.count);
    add_text(&t, false, line);
    /* Most important first: a small screen cuts the end. */
    if (!f->done) {
        add_text(&t, false, "sending...");
    } else {
        app_fire_tally_statuses(&f->tally, statuses, sizeof statuses);
        snprintf(line, sizeof line, "client saw: sent %d, answered %d, aborted %d, errors %d; statuses %s",
                 f->tally.sent, f->tally.answered, f->tally.aborted, f->tally.transport_errors, statuses);
        add_text(&t, false, line);
    }
    snprintf(line, sizeof line, "sidecar counters moved: aborts %+.0f, delays %+.0f (as of the last scrape)",
             aborts - f->aborts_before, delays - f->delays_before);
    add_text(&t, true, line);
    if (f->done) {
        double moved = f->options.abort_status ? aborts - f->aborts_before : delays - f->delays_before;
        const char *verdict;
        if (!f->tally.sent || !f->tally.answered)
            verdict = "nothing was answered: no verdict on the metrics pipeline (see the message below)";
        else if (!f->tally.faulted)
            verdict = "no request carried a fault: no verdict on the metrics pipeline (see the message below)";
        else if (moved >= f->tally.faulted)
            verdict = "the metrics pipeline works: faults were sent, answered, and counted by the sidecar";
        else
            verdict = "counters have not caught up yet (next scrape), or the metrics do not flow: see d";
        add_text(&t, false, verdict);
        ui_format_ms(f->tally.p50_ms, p50, sizeof p50);
        ui_format_ms(f->tally.p95_ms, p95, sizeof p95);
        snprintf(line, sizeof line, "observed latency: p50 %s ms  p95 %s ms", p50, p95);
        add_text(&t, false, line);
        add_text(&t, false, f->result.message);
    }
    int x, w, y = draw_box(ui, t.n + 4, &x, &w);
    int room = (ui->rows - 2 < t.n + 4 ? ui->rows - 2 : t.n + 4) - 4;
    for (int k = 0; k < t.n && k < room; k++) {
        ui_attr_on(ui, 0, t.bold[k] ? A_BOLD : 0);
        ui_put(y + k, x, w, t.lines[k]);
        ui_attr_off(ui, 0, t.bold[k] ? A_BOLD : 0);
    }
    ui_put(y + (t.n < room ? t.n : room) + 1, x, w, "Esc close");
}

/* The policies of the namespace's first WasmPlugin, with time left. */
static void draw_policies(struct ui *ui)
{
    int x, w, y = draw_box(ui, ui->dialog.n_lines + 5, &x, &w);
    /* A list longer than the box scrolls with its cursor. */
    int room = (ui->rows - 2 < ui->dialog.n_lines + 5 ? ui->rows - 2 : ui->dialog.n_lines + 5) - 5;
    int first = ui->dialog.cursor >= room ? ui->dialog.cursor - room + 1 : 0;
    for (int k = first; k < ui->dialog.n_lines && k < first + room; k++) {
        bool current = k == ui->dialog.cursor;
        ui_attr_on(ui, 0, current ? A_REVERSE : 0);
        ui_put(y++, x, w, ui->dialog.lines[k]);
        ui_attr_off(ui, 0, current ? A_REVERSE : 0);
    }
    if (!ui->dialog.n_lines)
        ui_put(y++, x, w, "no policies");
    char keys[2][320];
    int n = wrap(ui_may(ui, APP_MAY_EDIT_POLICIES)
                     ? "Enter rules   [a] add   [l] load a JSON file   [x] remove   [X] remove ALL   Esc close"
                     : "Enter rules   Esc close",
                 w, keys, 2);
    for (int k = 0; k < n; k++)
        ui_put(y + 1 + k, x, w, keys[k]);
}
/* After the kill switch: one line per sidecar, stopped or not. */
static void draw_halt(struct ui *ui)
{
    const struct ui_halt_state *h = &ui->halt;
    int rows = h->n_pods + 5, fit = ui->rows - 8;
    int x, w, y = draw_box(ui, rows < fit + 5 ? rows : fit + 5, &x, &w);
    char line[400], text[200];
    int stopped = 0, injecting = 0;
    for (int k = 0; k < h->n_pods; k++) {
        enum app_halt_verdict v = app_halt_verdict(&h->pods[k]);
        stopped += v == APP_HALT_STOPPED;
        injecting += v == APP_HALT_INJECTING;
    }
    if (!h->written)
        snprintf(line, sizeof line, "%s", h->running ? "removing every policy..." : h->result.message);
    else if (injecting)
        snprintf(line, sizeof line, "%d of %d pods STILL INJECTING; %d stopped", injecting, h->n_pods, stopped);
    else if (stopped == h->n_pods && h->n_pods)
        snprintf(line, sizeof line, "faults stopped on all %d pods", h->n_pods);
    else
        snprintf(line, sizeof line, "watching %d pods: %d stopped so far", h->n_pods, stopped);
    ui_attr_on(ui, injecting || (!h->written && !h->running) ? UI_COLOR_ERROR : 0, A_BOLD);
    ui_put(y++, x, w, line);
    ui_attr_off(ui, injecting || (!h->written && !h->running) ? UI_COLOR_ERROR : 0, A_BOLD);
    if (h->written)
        ui_put(y++, x, w, h->result.message);
    for (int k = 0; k < h->n_pods && k < fit - 1; k++) {
        app_halt_text(&h->pods[k], text, sizeof text);
        snprintf(line, sizeof line, "%-40s %s", h->pods[k].name, text);
        ui_put(y++, x, w, line);
    }
    ui_put(y + 1, x, w, "Esc close (the sidecars keep being scraped)");
}

void ui_dialog_draw(struct ui *ui)
{
    switch (ui->dialog.modal) {
    case UI_MODAL_NONE: break;
    case UI_MODAL_CONFIRM: draw_confirm(ui); break;
    case UI_MODAL_FORM: draw_form(ui); break;
    case UI_MODAL_PICKER: draw_picker(ui); break;
    case UI_MODAL_FIRE_RESULT: draw_fire_result(ui); break;
    case UI_MODAL_POLICIES: draw_policies(ui); break;
    case UI_MODAL_HALT: draw_halt(ui); break;
    }
    ui->dialog.shown = ui->dialog.modal != UI_MODAL_NONE;
}

/* ---- keys ---- */

static void form_key(struct ui *ui, int ch)
{
    struct ui_field *f = &ui->dialog.fields[ui->dialog.field];
    size_t n = strlen(f->value);
    switch (ch) {
    case '\t':
    case KEY_DOWN: ui->dialog.field = (ui->dialog.field + 1) % ui->dialog.n_fields; break;
    case KEY_BTAB:
    case KEY_UP: ui->dialog.field = (ui->dialog.field + ui->dialog.n_fields - 1) % ui->dialog.n_fields; break;
    case KEY_LEFT:
    case KEY_RIGHT:
    case ' ':
        if (f->options) {
            f->option = (f->option + (ch == KEY_LEFT ? f->n_options - 1 : 1)) % f->n_options;
            if (ui->dialog.option_changed)
                ui->dialog.option_changed(ui, ui->dialog.field);
        } else if (ch == ' ' && n + 1 < sizeof f->value) {
            f->value[n] = ' ', f->value[n + 1] = '\0';
        }
        break;
    case KEY_BACKSPACE:
    case 127:
    case 8:
        if (!f->options && n)
            f->value[n - 1] = '\0';
        break;
    case '\n':
    case KEY_ENTER:
        if (ui->dialog.submit && ui->dialog.shown) {
            ui->dialog.error_field = -1;
            ui->dialog.submit(ui);
        }
        break;
    default:
        if (!f->options && ch > 32 && ch < 127 && n + 1 < sizeof f->value) {
            f->value[n] = (char)ch;
            f->value[n + 1] = '\0';
        }
    }
}

bool ui_dialog_key(struct ui *ui, int ch)
{
    struct ui_dialog *d = &ui->dialog;
    if (d->modal == UI_MODAL_NONE)
        return false;
    if (ch == 27) { /* Esc closes any dialog */
        ui_dialog_close(ui);
        return true;
    }
    switch (d->modal) {
    case UI_MODAL_CONFIRM:
        if (ch == KEY_DOWN || ch == 'j' || ch == KEY_NPAGE) {
            d->scroll += ch == KEY_NPAGE ? 5 : 1; /* drawing keeps it in range */
            return true;
        }
        if (ch == KEY_UP || ch == 'k' || ch == KEY_PPAGE) {
            d->scroll -= ch == KEY_PPAGE ? 5 : 1;
            if (d->scroll < 0)
                d->scroll = 0;
            return true;
        }
        for (int k = 0; k < d->n_choices && d->shown; k++) {
            if (ch == d->choices[k].key) {
                void (*run)(struct ui *) = d->choices[k].run;
                run(ui); /* may open the next dialog */
                return true;
            }
        }
        if (ch == 'n')
            ui_dialog_close(ui);
        return true;
    case UI_MODAL_FORM: form_key(ui, ch); return true;
    case UI_MODAL_PICKER:
        if ((ch == KEY_DOWN || ch == 'j') && d->cursor + 1 < d->n_items)
            d->cursor++;
        else if ((ch == KEY_UP || ch == 'k') && d->cursor > 0)
            d->cursor--;
        else if ((ch == '\n' || ch == KEY_ENTER) && d->n_items && d->picked) {
            char chosen[256];
            snprintf(chosen, sizeof chosen, "%s", d->items[d->cursor]);
            void (*picked)(struct ui *, const char *) = d->picked;
            ui_dialog_close(ui);
            picked(ui, chosen);
        }
        return true;
    case UI_MODAL_FIRE_RESULT:
    case UI_MODAL_HALT: return true;
    case UI_MODAL_POLICIES:
        if ((ch == KEY_DOWN || ch == 'j') && d->cursor + 1 < d->n_lines)
            d->cursor++;
        else if ((ch == KEY_UP || ch == 'k') && d->cursor > 0)
            d->cursor--;
        else
            return ui_action_key(ui, ch) || true;
        return true;
    case UI_MODAL_NONE: break;
    }
    return false;
}
