/* What the console's views share. Each screen is a view_ops (tig's habit):
 * it draws itself from the model and takes the keys the common loop does
 * not. Modal flows (typing a filter) are explicit states, not nested
 * getch() loops. */
#ifndef UI_INTERNAL_H
#define UI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../app/access.h"
#include "../app/actions.h"
#include "../app/policy.h"
#include "../app/pod_events.h"
#include "format.h"
#include "ui.h"

struct ui;

struct view_ops {
    const char *name;
    void (*draw)(struct ui *ui, int top, int height);
    /* True when the key was the view's. */
    bool (*key)(struct ui *ui, int ch);
};

extern const struct view_ops view_pods, view_deployments, view_detail, view_doctor, view_help;

enum ui_input { UI_INPUT_KEYS, UI_INPUT_FILTER };

#define UI_MIN_COLS 60
#define UI_MIN_ROWS 15
/* At most this many frames a second while data arrives; a key draws at once. */
#define UI_FRAME_MS 250
/* Columns a table may have (the chooser's switches). */
#define UI_MAX_COLUMNS 24

enum ui_color { UI_COLOR_HEADER = 1, UI_COLOR_ERROR, UI_COLOR_OK, UI_COLOR_DIM, UI_COLOR_BAR };

/* Dialogs over the current view, one at a time (ncdu's explicit states). */
enum ui_modal {
    UI_MODAL_NONE,
    UI_MODAL_CONFIRM,     /* lines + choices, each a key */
    UI_MODAL_FORM,        /* fields to fill, Enter submits */
    UI_MODAL_PICKER,      /* a list to choose from */
    UI_MODAL_FIRE_RESULT, /* the tally of test faults, live counter movement */
    UI_MODAL_POLICIES,    /* the WasmPlugin's policies */
    UI_MODAL_HALT,        /* after the kill switch: which sidecars stopped */
};

struct ui_choice {
    int key;
    const char *label;
    void (*run)(struct ui *ui);
};

struct ui_field {
    const char *label;
    char value[160];
    const char *const *options; /* a toggle between these, or NULL for text */
    int n_options, option;
};

#define UI_DIALOG_LINES 80
#define UI_FORM_FIELDS 8
#define UI_PICKER_ITEMS 512

struct ui_fire_state {
    bool running;
    struct app_fire_options options;
    char target_pod[254], target_service[254], path[200];
    char deployment[254]; /* whose sidecars' counters are watched */
    double aborts_before, delays_before;
    bool done;
    struct app_action_result result;
    struct app_fire_tally tally;
};

#define UI_HALT_PODS 256

/* After the kill switch: each sidecar's counters from the write on. */
struct ui_halt_state {
    bool running, written;
    char wasmplugin[254], ns[254];
    struct app_action_result result;
    struct app_halt_pod pods[UI_HALT_PODS];
    int n_pods;
};

struct ui_dialog {
    enum ui_modal modal;
    /* Drawn at least once: only then may a key answer it (keys typed
     * ahead never do). */
    bool shown;
    char title[200];
    char lines[UI_DIALOG_LINES][300];
    int n_lines;
    int scroll; /* first (wrapped) line shown, when they do not all fit */
    struct ui_choice choices[5];
    char choice_label[64]; /* a label made for this dialog */
    int n_choices;
    /* What a confirmation acts on: deployments, or the kill switch's
     * WasmPlugins. */
    char deployments[64][254];
    int n_deployments;
    /* Form. */
    struct ui_field fields[UI_FORM_FIELDS];
    int n_fields, field;
    void (*submit)(struct ui *ui);
    void (*option_changed)(struct ui *ui, int field); /* after a toggle moved */
    int error_field;                                  /* -1: none */
    char error[200];                                  /* why that field was refused */
    /* What a confirmation names (the policy x removes). */
    char object[254];
    /* The WasmPlugin a policy dialog acts on, as it was shown ("": none). */
    char wasmplugin[254];
    /* The object E deletes, as it was shown ("": not in the last reading). */
    char uid[128], resource_version[64];
    /* Picker. */
    char *items[UI_PICKER_ITEMS];
    int n_items, cursor;
    void (*picked)(struct ui *ui, const char *item);
};

struct ui {
    const struct ui_options *opt;
    struct kube_client *client;
    char context[256], cluster[256], user[256];
    char warning[256]; /* the connection's, "" when none */
    struct app *app;
    struct app_mesh *mesh;
    struct app_pod_events *events; /* the detail view's pod's events */
    struct app_access access; /* what the user may change here */
    char ns[254];
    const struct view_ops *view;
    enum ui_input input;
    bool utf8, color;
    int rows, cols;

    /* Pod table. */
    char filter[64];             /* as typed */
    struct ui_filter filter_re;  /* compiled from it */
    int sort_column;
    bool sort_reverse;
    bool hidden[UI_MAX_COLUMNS]; /* columns switched off in the chooser */
    char selected[256]; /* namespace/name of the selected pod */
    int selected_index;
    int scroll;
    const struct app_pod **visible; /* this frame's rows, filtered and sorted */
    size_t n_visible, visible_capacity;

    /* Deployment table (the same filter). */
    int dep_sort_column;
    bool dep_sort_reverse;
    bool dep_hidden[UI_MAX_COLUMNS];
    char dep_selected[256];
    int dep_selected_index, dep_scroll;
    const struct app_deployment **dep_visible;
    size_t n_dep_visible, dep_visible_capacity;

    int detail_scroll;
    bool detail_of_deployment; /* the detail view shows the selected deployment */

    /* Doctor view. */
    int doctor_scroll;
    int help_scroll;

    char status[600];
    bool status_is_error;
    bool quit;

    struct ui_dialog dialog;
    unsigned dialog_serial; /* +1 whenever a dialog opens or closes */
    int actions_running; /* q asks before quitting while one runs */
    struct ui_fire_state fire;
    struct ui_halt_state halt;
};

/* Lays out and draws the whole screen from the model (stdscr). */
void ui_draw_frame(struct ui *ui);

/* Sets the status line (printf-style). */
void ui_status(struct ui *ui, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The selected pod of the table (in the deployment table: the selected
 * deployment's first pod), or NULL. */
const struct app_pod *ui_selected_pod(const struct ui *ui);
const struct app_deployment *ui_selected_deployment(const struct ui *ui);
/* The deployment table, or the detail of one of its rows, is on screen. */
bool ui_showing_deployments(const struct ui *ui);
/* Rebuilds ui->visible (and the deployment rows) from the model (filter,
 * sort) and keeps the selection on the same row when it is still there. */
void ui_refresh_rows(struct ui *ui);
/* The filter typed so far takes effect (compiled again). */
void ui_filter_changed(struct ui *ui);
/* The oldest data among the pods in view: the age in seconds of the
 * oldest successful scrape (-1 when none has data), and how many pods in
 * view with a sidecar have none yet. */
void ui_oldest_data(const struct ui *ui, long *age_s, size_t *without_data);

/* Drawing helpers over ncurses. */
void ui_put(int y, int x, int max_cols, const char *text);
/* False, with the reason, when TERM cannot address the cursor (terminal.c). */
bool ui_terminal_can_draw(const char **why);
void ui_attr_on(struct ui *ui, enum ui_color color, int attrs);
void ui_attr_off(struct ui *ui, enum ui_color color, int attrs);

/* The key table; the help view is generated from it. Action keys are
 * left out of the help, and refused, under --readonly. */
#define UI_NO_PERMISSION APP_PERMISSION_COUNT

struct ui_key_help {
    const char *keys;
    const char *what;
    enum app_permission needs; /* UI_NO_PERMISSION: changes nothing */
};
/* Whether the user may: not under --readonly, not when the access review
 * said no. */
bool ui_may(const struct ui *ui, enum app_permission p);
extern const struct ui_key_help ui_key_table[];
extern const size_t ui_key_table_count;

/* Dialogs (dialogs.c). */
void ui_dialog_draw(struct ui *ui);
/* True when a dialog is open and took the key. */
bool ui_dialog_key(struct ui *ui, int ch);
void ui_dialog_close(struct ui *ui);
void ui_confirm(struct ui *ui, const char *title);
void ui_confirm_line(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_confirm_choice(struct ui *ui, int key, const char *label, void (*run)(struct ui *ui));
/* Marks a form field as refused, with why; the form shows it there. */
void ui_form_error(struct ui *ui, int field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The kill switch's watch: follows the model's scrapes (actions.c). */
void ui_halt_update(struct ui *ui);
/* q and Ctrl-C: quit, or ask while an action runs (ui.c). */
void ui_ask_quit(struct ui *ui);

/* Actions behind keys (actions.c). True when the key was an action's. */
bool ui_action_key(struct ui *ui, int ch);
/* An action's answer into the status line (user is the ui). */
void ui_action_done(const struct app_action_result *r, void *user);
/* Replaces the model with one for another namespace. */
bool ui_use_namespace(struct ui *ui, const char *ns);
/* Opens another kubeconfig context and its namespace. */
bool ui_use_context(struct ui *ui, const char *context, char *err, size_t err_size);

#endif
