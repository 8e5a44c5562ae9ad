/* The console's loop: one poll() over the keyboard and libcurl's sockets,
 * so nothing blocks drawing; the terminal is restored on every way out. */
#include "ui.h"

#include "../app/prom_source.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../stats/text.h"
#include "ui_internal.h"

const struct ui_key_help ui_key_table[] = {
    {"Up Down j k", "move the selection", UI_NO_PERMISSION},
    {"PgUp PgDn g G", "page up, page down, first, last", UI_NO_PERMISSION},
    {"Enter", "detail of the selected pod: delay histogram, rates, policies, findings", UI_NO_PERMISSION},
    {"d", "doctor: why metrics are missing or flat, and the fix (Enter applies it where hfitop can)",
     UI_NO_PERMISSION},
    {"/", "filter by pod or deployment name: a regular expression, ! keeps what does not match "
          "(Enter keeps it, Esc clears it)", UI_NO_PERMISSION},
    {"v Tab", "pods / deployments (a deployment's totals count every pod it had this session)", UI_NO_PERMISSION},
    {"w", "window of the rates and quantiles: 10s, 1m, 5m", UI_NO_PERMISSION},
    {"s S", "sort by the next column; reverse the order (numbers sort largest first)", UI_NO_PERMISSION},
    {"> F6", "sort by a column picked from a list", UI_NO_PERMISSION},
    {"C", "choose the columns (POD, ERROR and FAILING always stay)", UI_NO_PERMISSION},
    {"PgUp PgDn", "in the detail view: scroll", UI_NO_PERMISSION},
    {"n c", "namespace picker; context picker", UI_NO_PERMISSION},
    {"p", "the WasmPlugin's policies with time left (Enter rules, a add, l load a JSON file, x remove)",
     UI_NO_PERMISSION},
    {"X", "KILL SWITCH: remove every policy of the WasmPlugin in one write, then watch the sidecars stop",
     APP_MAY_EDIT_POLICIES},
    {"e", "apply the stats-inclusion EnvoyFilter", APP_MAY_APPLY_ENVOYFILTER},
    {"E", "delete the stats-inclusion EnvoyFilter", APP_MAY_DELETE_ENVOYFILTER},
    {"r R", "restart the selected pod's deployment / every deployment in view with a sidecar",
     APP_MAY_PATCH_DEPLOYMENTS},
    {"f", "fire test faults at the selected pod or its service, and see the counters move", APP_MAY_FIRE},
    {"?", "this help", UI_NO_PERMISSION},
    {"Esc", "close any dialog or view and go back to the table; in a table, clear the filter", UI_NO_PERMISSION},
    {"q Ctrl-C", "quit (asks while an action is still running)", UI_NO_PERMISSION},
};
const size_t ui_key_table_count = sizeof ui_key_table / sizeof ui_key_table[0];

/* ---- terminal state, restored from atexit and signal handlers ---- */

static volatile sig_atomic_t curses_active;
static volatile sig_atomic_t stop_signal; /* SIGTERM, SIGHUP, SIGQUIT: stop now; 0 if none */
static volatile sig_atomic_t interrupt_requested; /* Ctrl-C: asks like q */

static void restore_terminal(void)
{
    if (curses_active) {
        curses_active = 0;
        endwin();
    }
}

static void on_stop_signal(int sig)
{
    if (sig == SIGINT)
        interrupt_requested = 1;
    else
        stop_signal = sig;
}

/* htop's habit: put the terminal back, then die of the same signal. */
static void on_fatal_signal(int sig)
{
    restore_terminal();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction stop = {.sa_handler = on_stop_signal};
    sigemptyset(&stop.sa_mask);
    /* Ctrl-\ (SIGQUIT) too: its default, a core dump, would leave the
     * terminal in curses mode. */
    const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++)
        sigaction(stops[k], &stop, NULL);
    const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; k++)
        signal(fatal[k], on_fatal_signal);
    signal(SIGPIPE, SIG_IGN);
}

static bool locale_is_utf8(void)
{
    const char *codeset = nl_langinfo(CODESET);
    return codeset && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

static bool start_curses(struct ui *ui)
{
    const char *why;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "hfitop: the console needs a terminal; use --once -o json|table, stats or doctor "
                        "without one\n");
        return false;
    }
    if (!ui_terminal_can_draw(&why)) {
        fprintf(stderr, "hfitop: the console cannot draw on TERM=%s (%s); set TERM to your terminal's type "
                        "(e.g. xterm-256color), or use --once -o table, doctor or stats\n",
                getenv("TERM") ? getenv("TERM") : "", why);
        return false;
    }
    if (!initscr()) {
        fprintf(stderr, "hfitop: cannot set up the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
        return false;
    }
    curses_active = 1;
    atexit(restore_terminal);
    cbreak(); /* Ctrl-C stays a signal, handled like q */
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    ui->color = !ui->opt->no_color && !getenv("NO_COLOR") && has_colors();
    if (ui->color) {
        start_color();
        use_default_colors();
        init_pair(UI_COLOR_HEADER, COLOR_CYAN, -1);
        init_pair(UI_COLOR_ERROR, COLOR_RED, -1);
        init_pair(UI_COLOR_OK, COLOR_GREEN, -1);
        init_pair(UI_COLOR_DIM, COLOR_BLUE, -1);
        init_pair(UI_COLOR_BAR, COLOR_YELLOW, -1);
    }
    return true;
}

/* ---- helpers the views share ---- */

/* Every string the console draws goes through here: control characters
 * shown as ^[ and the like, bidi controls removed, cut to the cells left
 * (never inside a character), so cluster text cannot move the cursor,
 * reorder the line or break a box. */
void ui_put(int y, int x, int max_cols, const char *text)
{
    char cut[2048];
    if (max_cols <= 0)
        return;
    text_fit(text, max_cols, cut, sizeof cut);
    mvaddstr(y, x, cut);
}

void ui_attr_on(struct ui *ui, enum ui_color color, int attrs)
{
    if (ui->color && color)
        attron(COLOR_PAIR(color));
    if (attrs)
        attron(attrs);
}

void ui_attr_off(struct ui *ui, enum ui_color color, int attrs)
{
    if (ui->color && color)
        attroff(COLOR_PAIR(color));
    if (attrs)
        attroff(attrs);
}

void ui_status(struct ui *ui, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->status, sizeof ui->status, fmt, ap);
    va_end(ap);
    ui->status_is_error = error;
}

/* ---- header, banner, status line ---- */

static void format_window(int seconds, char *out, size_t size)
{
    if (seconds % 60 == 0)
        snprintf(out, size, "%dm", seconds / 60);
    else
        snprintf(out, size, "%ds", seconds);
}

/* How old the data on screen is: its oldest scrape, not the newest (a
 * console falling behind must not read "0s"). */
static void data_age(const struct ui *ui, char *out, size_t size)
{
    long age;
    size_t waiting;
    ui_oldest_data(ui, &age, &waiting);
    int n = age < 0 ? snprintf(out, size, "no data yet") : snprintf(out, size, "oldest data %lds", age);
    if (waiting && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, age < 0 ? " from %zu pod%s" : ", none yet from %zu pod%s", waiting,
                 waiting == 1 ? "" : "s");
}

static void draw_header(struct ui *ui)
{
    const struct ui_options *o = ui->opt;
    const struct app_mesh_state *mesh = app_mesh_state(ui->mesh);
    char line[900], plugin[200], filter[200], age[80], window[16], find[160], source[400];
    data_age(ui, age, sizeof age);
    format_window(app_window_s(ui->app), window, sizeof window);
    find[0] = '\0';
    if (ui->filter[0] && ui->input != UI_INPUT_FILTER)
        snprintf(find, sizeof find, "  filter %s%s%s (Esc clears)", ui->filter, ui->filter_re.valid ? "" : ": ",
                 ui->filter_re.valid ? "" : ui->filter_re.error);
    app_source_summary(ui->app, source, sizeof source);
    /* What matters during a session first: a narrow terminal cuts the end. */
    snprintf(line, sizeof line, "hfitop  namespace %s  %s  window %s%s%s  %s  context %s  cluster %s", ui->ns, age,
             window, find, o->readonly ? "  [read-only]" : "", source, ui->context, ui->cluster);
    ui_attr_on(ui, UI_COLOR_HEADER, A_BOLD);
    ui_put(0, 0, ui->cols, line);
    ui_attr_off(ui, UI_COLOR_HEADER, A_BOLD);

    if (!mesh->wasmplugins_read)
        snprintf(plugin, sizeof plugin, "plugin: checking");
    else if (!mesh->wasmplugins)
        snprintf(plugin, sizeof plugin, "plugin: NO WasmPlugin in %s", ui->ns);
    else if (mesh->config_rejected)
        snprintf(plugin, sizeof plugin, "plugin: WasmPlugin %s: pluginConfig REJECTED by the plugin, no policy applies (%s)",
                 mesh->wasmplugin, mesh->config_error);
    else if (mesh->rules < 0)
        snprintf(plugin, sizeof plugin, "plugin: WasmPlugin %s (pluginConfig not the plugin's shape)", mesh->wasmplugin);
    else
        snprintf(plugin, sizeof plugin, "plugin: WasmPlugin %s, %d rule%s, header faults %s", mesh->wasmplugin,
                 mesh->rules, mesh->rules == 1 ? "" : "s", mesh->header_faults ? "on" : "off");
    if (!mesh->envoyfilters_read)
        snprintf(filter, sizeof filter, "EnvoyFilter: checking");
    else if (!mesh->stats_filters)
        snprintf(filter, sizeof filter, "EnvoyFilter: none");
    else
        snprintf(filter, sizeof filter, "EnvoyFilter: %s", mesh->envoyfilter);
    snprintf(line, sizeof line, "%s | %s | pods %zu | ~: estimated from histogram buckets", plugin, filter,
             app_pod_count(ui->app));
    ui_put(1, 0, ui->cols, line);
}

/* What the banner calls an API failure: the cause, not one word for all. */
static const char *api_failure_name(enum kube_code code)
{
    switch (code) {
    case KUBE_UNAUTHORIZED: return "CREDENTIALS REJECTED (expired?)";
    case KUBE_FORBIDDEN: return "FORBIDDEN";
    case KUBE_TLS: return "TLS FAILED (certificate not trusted?)";
    case KUBE_EXEC_NOT_FOUND:
    case KUBE_EXEC_FAILED:
    case KUBE_EXEC_OUTPUT:
    case KUBE_EXEC_INTERACTIVE:
    case KUBE_EXEC_API_VERSION: return "CREDENTIAL PLUGIN FAILED";
    case KUBE_TOKEN_FILE:
    case KUBE_CERT_FILE:
    case KUBE_NO_CREDENTIALS: return "NO CREDENTIALS";
    case KUBE_RESOLVE:
    case KUBE_CONNECT:
    case KUBE_PROXY:
    case KUBE_TIMEOUT: return "API SERVER UNREACHABLE";
    case KUBE_TOO_LARGE: return "ANSWER TOO LARGE";
    default: return "API SERVER ERROR";
    }
}

/* One inverse line of cluster text, sanitized and cut to the screen. */
static void draw_alert(struct ui *ui, int y, const char *text)
{
    char line[1024];
    text_fit(text, ui->cols, line, sizeof line);
    ui_attr_on(ui, UI_COLOR_ERROR, A_REVERSE | A_BOLD);
    move(y, 0);
    clrtoeol();
    ui_put(y, 0, ui->cols, line);
    ui_attr_off(ui, UI_COLOR_ERROR, A_REVERSE | A_BOLD);
}

/* The connection's warning for as long as it is in use (insecure TLS is
 * announced where it is seen, not on a stderr curses is about to cover);
 * then, when the API server stopped answering, why, until a request
 * succeeds again (or, with --prometheus, why the counters' source fails).
 * Returns the rows it took. */
static int draw_banner(struct ui *ui, int y)
{
    const struct app_mesh_state *mesh = app_mesh_state(ui->mesh);
    int rows = 0;
    char line[700];
    if (ui->warning[0]) {
        snprintf(line, sizeof line, " WARNING: %s ", ui->warning);
        draw_alert(ui, y + rows++, line);
    }
    const struct prom_source *prom = app_prometheus(ui->app);
    enum prom_source_state ps = prom ? prom_source_state(prom) : PROM_SOURCE_OK;
    if (!mesh->api_ok) {
        const struct kube_error *e = &mesh->api_error;
        snprintf(line, sizeof line, " %s: %s - retrying ", api_failure_name(e->code), e->message);
        draw_alert(ui, y + rows++, line);
    } else if (ps != PROM_SOURCE_OK && ps != PROM_SOURCE_STARTING) {
        /* The counters' source failed; the pods still come from the API. */
        const char *what = ps == PROM_SOURCE_UNAUTHORIZED ? "PROMETHEUS REFUSED THE CREDENTIALS"
                           : ps == PROM_SOURCE_UNREACHABLE ? "PROMETHEUS UNREACHABLE"
                                                           : "PROMETHEUS QUERY FAILED";
        snprintf(line, sizeof line, " %s: %s - counters may be stale, retrying ", what, prom_source_error(prom));
        draw_alert(ui, y + rows++, line);
    }
    return rows;
}

static void draw_status(struct ui *ui)
{
    int y = ui->rows - 1;
    char line[400];
    if (ui->input == UI_INPUT_FILTER)
        snprintf(line, sizeof line, "filter: %s_   (Enter keeps it, Esc clears it)", ui->filter);
    else if (ui->status[0])
        snprintf(line, sizeof line, "%s", ui->status);
    else
        snprintf(line, sizeof line, "%s  ? help  / filter  s sort  Enter detail  d doctor  %s%s%sp policies  %sq quit",
                 ui->view->name, ui_may(ui, APP_MAY_APPLY_ENVOYFILTER) ? "e envoyfilter  " : "",
                 ui_may(ui, APP_MAY_PATCH_DEPLOYMENTS) ? "r restart  " : "", ui_may(ui, APP_MAY_FIRE) ? "f fire  " : "",
                 ui_may(ui, APP_MAY_EDIT_POLICIES) ? "X KILL SWITCH  " : "");
    ui_attr_on(ui, ui->status_is_error ? UI_COLOR_ERROR : 0, A_REVERSE);
    move(y, 0);
    clrtoeol();
    for (int x = 0; x < ui->cols; x++)
        mvaddch(y, x, ' ');
    ui_put(y, 0, ui->cols, line);
    ui_attr_off(ui, ui->status_is_error ? UI_COLOR_ERROR : 0, A_REVERSE);
}

void ui_draw_frame(struct ui *ui)
{
    getmaxyx(stdscr, ui->rows, ui->cols);
    erase();
    if (ui->cols < UI_MIN_COLS || ui->rows < UI_MIN_ROWS) {
        /* Short lines, one under the other: they fit all but the tiniest. */
        char lines[3][64];
        snprintf(lines[0], sizeof lines[0], "terminal too small");
        snprintf(lines[1], sizeof lines[1], "%dx%d, needs %dx%d", ui->cols, ui->rows, UI_MIN_COLS, UI_MIN_ROWS);
        snprintf(lines[2], sizeof lines[2], "q quits");
        int top = ui->rows > 3 ? (ui->rows - 3) / 2 : 0;
        for (int k = 0; k < 3 && top + k < ui->rows; k++) {
            int len = (int)strlen(lines[k]);
            ui_put(top + k, len < ui->cols ? (ui->cols - len) / 2 : 0, ui->cols, lines[k]);
        }
        refresh();
        return;
    }
    ui_refresh_rows(ui);
    draw_header(ui);
    int top = 2 + draw_banner(ui, 2);
    ui->view->draw(ui, top, ui->rows - 1 - top);
    ui_dialog_draw(ui);
    draw_status(ui);
    refresh();
}

/* ---- keys ---- */

static void filter_key(struct ui *ui, int ch)
{
    size_t n = strlen(ui->filter);
    if (ch == '\n' || ch == KEY_ENTER) {
        ui->input = UI_INPUT_KEYS;
    } else if (ch == 27) {
        ui->filter[0] = '\0';
        ui->input = UI_INPUT_KEYS;
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (n)
            ui->filter[n - 1] = '\0';
    } else if (ch >= 32 && ch < 127 && n + 1 < sizeof ui->filter) {
        ui->filter[n] = (char)ch;
        ui->filter[n + 1] = '\0';
    }
    ui_filter_changed(ui);
}

static void quit_anyway(struct ui *ui)
{
    ui->quit = true;
}

void ui_ask_quit(struct ui *ui)
{
    /* Asked already: a second q or Ctrl-C means it. */
    bool asked = ui->dialog.modal == UI_MODAL_CONFIRM && ui->dialog.n_choices &&
                 ui->dialog.choices[0].run == quit_anyway;
    if (!ui->actions_running || asked) {
        ui->quit = true;
        return;
    }
    ui_confirm(ui, "Quit while an action runs?");
    ui_confirm_line(ui, "%d action(s) have not answered yet; hfitop will not wait for their answers.",
                    ui->actions_running);
    ui_confirm_choice(ui, 'y', "quit anyway", quit_anyway);
}

static void handle_key(struct ui *ui, int ch)
{
    if (ch == KEY_RESIZE)
        return; /* the next draw lays out again */
    if (ui->input == UI_INPUT_FILTER) {
        filter_key(ui, ch);
        return;
    }
    if (ui_dialog_key(ui, ch))
        return;
    ui->status[0] = '\0';
    if (ui->view->key && ui->view->key(ui, ch))
        return;
    if (ui_action_key(ui, ch))
        return;
    switch (ch) {
    case 'q': ui_ask_quit(ui); break;
    case '?':
        ui->view = &view_help;
        ui->help_scroll = 0;
        break;
    case 'd':
        ui->view = &view_doctor;
        ui->doctor_scroll = 0;
        break;
    case 27: /* Esc: out of a view to its table; in a table, the filter goes */
        if (ui->view == &view_detail) {
            ui->view = ui->detail_of_deployment ? &view_deployments : &view_pods;
        } else if ((ui->view == &view_pods || ui->view == &view_deployments) && ui->filter[0]) {
            ui->filter[0] = '\0';
            ui_filter_changed(ui);
            ui_status(ui, false, "filter cleared");
        } else if (ui->view != &view_deployments) {
            ui->view = &view_pods;
        }
        break;
    case '/':
        if (ui->view != &view_deployments)
            ui->view = &view_pods;
        ui->input = UI_INPUT_FILTER;
        break;
    case 'v':
    case '\t':
        ui->view = ui->view == &view_deployments ? &view_pods : &view_deployments;
        ui_status(ui, false, "%s", ui->view == &view_deployments
                                       ? "deployments: totals over every pod seen this session, rates summed over pods now"
                                       : "pods");
        break;
    case 'w': {
        static const int windows[] = {10, 60, 300};
        int now = app_window_s(ui->app), next = windows[0];
        for (size_t k = 0; k < sizeof windows / sizeof windows[0]; k++)
            if (windows[k] > now) {
                next = windows[k];
                break;
            }
        app_set_window(ui->app, next);
        char text[16];
        format_window(next, text, sizeof text);
        ui_status(ui, false, "window %s: rates and quantiles over the last %s", text, text);
        break;
    }
    default:
        break;
    }
}

/* ---- the loop ---- */

#define UI_MAX_FDS 128
#define UI_CLOCK_MS 1000 /* the header's data age moves every second */

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

bool ui_may(const struct ui *ui, enum app_permission p)
{
    if (p == UI_NO_PERMISSION)
        return true;
    return !ui->opt->readonly && ui->access.answers[p] != APP_ACCESS_DENIED;
}

static void drop_model(struct ui *ui)
{
    app_access_cancel(&ui->access);
    app_free(ui->app);
    app_mesh_free(ui->mesh);
    app_pod_events_free(ui->events);
    ui->app = NULL;
    ui->mesh = NULL;
    ui->events = NULL;
}

bool ui_use_namespace(struct ui *ui, const char *ns)
{
    struct app_options model = ui->opt->model;
    model.namespace = ns;
    struct app *app = app_new(ui->client, &model);
    struct app_mesh *mesh = app_mesh_new(ui->client, ns, 0);
    struct app_pod_events *events = app_pod_events_new(ui->client);
    if (!app || !mesh || !events || app_start(app) != 0) {
        app_free(app);
        app_mesh_free(mesh);
        app_pod_events_free(events);
        return false;
    }
    drop_model(ui);
    ui->app = app;
    ui->mesh = mesh;
    ui->events = events;
    snprintf(ui->ns, sizeof ui->ns, "%s", ns);
    if (!ui->opt->readonly)
        app_access_check(ui->client, ns, &ui->access);
    ui->selected[0] = '\0';
    ui->selected_index = ui->scroll = 0;
    ui->n_visible = ui->n_dep_visible = 0;
    ui->dep_selected[0] = '\0';
    ui->dep_selected_index = ui->dep_scroll = 0;
    ui->view = &view_pods;
    return true;
}

static void adopt_connection(struct ui *ui, const struct ui_connection *c)
{
    ui->client = c->client;
    snprintf(ui->context, sizeof ui->context, "%s", c->context ? c->context : "-");
    snprintf(ui->cluster, sizeof ui->cluster, "%s", c->cluster ? c->cluster : "-");
    snprintf(ui->user, sizeof ui->user, "%s", c->user ? c->user : "");
    snprintf(ui->warning, sizeof ui->warning, "%s", c->warning ? c->warning : "");
}

/* The model holds requests on the current client: it goes first, and
 * comes back on the same client when the new context cannot be opened. */
bool ui_use_context(struct ui *ui, const char *context, char *err, size_t err_size)
{
    struct ui_connection next = {0};
    char previous_ns[sizeof ui->ns];
    snprintf(previous_ns, sizeof previous_ns, "%s", ui->ns);
    if (!ui->opt->switch_context) {
        snprintf(err, err_size, "switching context is not available here");
        return false;
    }
    drop_model(ui);
    /* Actions still waiting on this client hear that their answer will not
     * be awaited (and free what they hold) before the client may go. */
    kube_client_cancel_pending(ui->client, "answer not awaited (context switched); check the result");
    bool switched = ui->opt->switch_context(ui->opt->switch_user, context, &next, err, err_size);
    if (switched)
        adopt_connection(ui, &next);
    if (!ui_use_namespace(ui, switched && next.namespace ? next.namespace : previous_ns)) {
        snprintf(err, err_size, "out of memory");
        ui->quit = true;
        return false;
    }
    return switched;
}

/* The deployments into the journal every APP_JOURNAL_SNAPSHOT_S, once
 * some sidecar has answered; a failed write shows in the status line. */
static void journal_tick(struct ui *ui, int64_t *next_snapshot_ms)
{
    struct app_journal *j = ui->opt->journal;
    if (!j)
        return;
    const char *err = app_journal_take_error(j);
    if (err)
        ui_status(ui, true, "%s", err);
    int64_t now = app_now_ms();
    if (now < *next_snapshot_ms)
        return;
    bool scraped = false;
    for (size_t k = 0; k < app_pod_count(ui->app) && !scraped; k++)
        scraped = app_pod_at(ui->app, k)->scraped;
    if (!scraped)
        return;
    app_journal_snapshot(j, ui->app, ui->ns);
    *next_snapshot_ms = now + APP_JOURNAL_SNAPSHOT_S * 1000;
}

int ui_run(const struct ui_options *options)
{
    struct ui ui = {.opt = options, .view = &view_pods, .sort_column = 0};
    setlocale(LC_ALL, "");
    ui.utf8 = locale_is_utf8();
    adopt_connection(&ui, &options->connection);
    if (!ui_use_namespace(&ui, options->connection.namespace && *options->connection.namespace
                                   ? options->connection.namespace
                                   : "default")) {
        fprintf(stderr, "hfitop: out of memory\n");
        return UI_TERMINAL_UNUSABLE;
    }
    install_signals();
    if (!start_curses(&ui)) {
        drop_model(&ui);
        return UI_TERMINAL_UNUSABLE;
    }
    struct pollfd fds[UI_MAX_FDS];
    int64_t next_snapshot_ms = 0, drawn_ms = 0;
    uint64_t drawn_generation = 0;
    bool keyed = true;
    /* htop's habit: scrape answers arrive one by one, the screen is drawn
     * at most every UI_FRAME_MS for them (at once after a key), and every
     * UI_CLOCK_MS anyway for the ages it shows. */
    bool interrupted = false; /* the quit came straight from Ctrl-C */
    while (!ui.quit && !stop_signal) {
        if (interrupt_requested) {
            interrupt_requested = 0;
            ui_ask_quit(&ui);
            if (ui.quit) {
                interrupted = true;
                break;
            }
        }
        app_tick(ui.app);
        app_mesh_tick(ui.mesh);
        ui_halt_update(&ui);
        journal_tick(&ui, &next_snapshot_ms);
        if (ui.view != &view_detail)
            app_pod_events_follow(ui.events, NULL, NULL);
        app_pod_events_tick(ui.events);
        int64_t now = app_now_ms();
        bool changed = app_generation(ui.app) != drawn_generation;
        if (keyed || now - drawn_ms >= UI_CLOCK_MS || (changed && now - drawn_ms >= UI_FRAME_MS)) {
            ui_draw_frame(&ui);
            drawn_ms = now;
            drawn_generation = app_generation(ui.app);
            keyed = changed = false;
        }
        fds[0] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        int n = 1 + kube_client_pollfds(ui.client, fds + 1, UI_MAX_FDS - 1);
        int timeout = min_timeout(kube_client_timeout_ms(ui.client), app_timeout_ms(ui.app));
        timeout = min_timeout(timeout, app_mesh_timeout_ms(ui.mesh));
        timeout = min_timeout(timeout, app_pod_events_timeout_ms(ui.events));
        int64_t next_frame = drawn_ms + (changed ? UI_FRAME_MS : UI_CLOCK_MS) - now;
        timeout = min_timeout(timeout, next_frame > 0 ? (int)next_frame : 0);
        if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        kube_client_dispatch(ui.client, fds + 1, n - 1);
        int ch;
        while ((ch = getch()) != ERR && !ui.quit) {
            unsigned serial = ui.dialog_serial;
            /* Frames are rate-limited, so the rows drawn last may hold pods
             * the model has freed since: a key acts on the model as it is. */
            ui_refresh_rows(&ui);
            handle_key(&ui, ch);
            keyed = true;
            if (ui.dialog_serial != serial && ui.dialog.modal != UI_MODAL_NONE) {
                /* A dialog opened: what was typed ahead was typed without
                 * seeing it, so it must not answer it. */
                flushinp();
                break;
            }
        }
    }
    restore_terminal();
    ui_dialog_close(&ui);
    free(ui.visible);
    free(ui.dep_visible);
    ui_filter_free(&ui.filter_re);
    drop_model(&ui);
    /* Actions that have not answered end here, while their owner exists. */
    kube_client_cancel_pending(ui.client, "answer not awaited (hfitop quit); check the result");
    return stop_signal ? 128 + stop_signal : interrupted ? 128 + SIGINT : 0;
}
