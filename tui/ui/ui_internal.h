/* What the console's views share. Each screen is a view_ops (tig's habit):
 * it draws itself from the model and takes the keys the common loop does
 * not. Modal flows (typing a filter) are explicit states, not nested
 * getch() loops. */
#ifndef UI_INTERNAL_H
#define UI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ui.h"

struct ui;

struct view_ops {
    const char *name;
    void (*draw)(struct ui *ui, int top, int height);
    /* True when the key was the view's. */
    bool (*key)(struct ui *ui, int ch);
};

extern const struct view_ops view_pods, view_detail, view_doctor, view_help;

enum ui_input { UI_INPUT_KEYS, UI_INPUT_FILTER };

#define UI_MIN_COLS 60
#define UI_MIN_ROWS 15
#define UI_COMPACT_COLS 80
#define UI_COMPACT_ROWS 24

enum ui_color { UI_COLOR_HEADER = 1, UI_COLOR_ERROR, UI_COLOR_OK, UI_COLOR_DIM, UI_COLOR_BAR };

struct ui {
    const struct ui_options *opt;
    const struct view_ops *view;
    enum ui_input input;
    bool utf8, color;
    int rows, cols;
    bool compact;

    /* Pod table. */
    char filter[64];
    int sort_column;
    bool sort_reverse;
    char selected[256]; /* namespace/name of the selected pod */
    int selected_index;
    int scroll;
    const struct app_pod **visible; /* this frame's rows, filtered and sorted */
    size_t n_visible, visible_capacity;

    /* Doctor view. */
    int doctor_scroll;
    int help_scroll;

    char status[300];
    bool status_is_error;
    bool quit;
};

/* Sets the status line (printf-style). */
void ui_status(struct ui *ui, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The selected pod of the table, or NULL. */
const struct app_pod *ui_selected_pod(const struct ui *ui);
/* Rebuilds ui->visible from the model (filter, sort) and keeps the
 * selection on the same pod when it is still there. */
void ui_refresh_rows(struct ui *ui);

/* Drawing helpers over ncurses. */
void ui_put(int y, int x, int max_cols, const char *text);
void ui_attr_on(struct ui *ui, enum ui_color color, int attrs);
void ui_attr_off(struct ui *ui, enum ui_color color, int attrs);

/* The key table; the help view is generated from it. */
struct ui_key_help {
    const char *keys;
    const char *what;
};
extern const struct ui_key_help ui_key_table[];
extern const size_t ui_key_table_count;

#endif
