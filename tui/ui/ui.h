/* The interactive console: draws tui/app's model and calls its actions.
 * ncurses lives only in this folder. */
#ifndef UI_H
#define UI_H

#include <stdbool.h>
#include <stddef.h>

#include "../app/app.h"
#include "../app/journal.h"
#include "../app/mesh.h"

/* What the console shows of a connection. */
struct ui_connection {
    struct kube_client *client;
    const char *context; /* for the header and the confirmations */
    const char *cluster;
    const char *namespace;
    const char *user; /* the kubeconfig user, for the doctor's fixes */
    const char *warning; /* the connection's (insecure TLS), shown while it is in use */
};

/* Opens the named kubeconfig context and, once that worked, closes the
 * current one. False, with a message and the current connection intact,
 * when the context cannot be opened. */
typedef bool (*ui_switch_context_fn)(void *user, const char *context, struct ui_connection *out, char *err,
                                     size_t err_size);

/* The console builds the model itself from `model` (and builds it again
 * when the namespace or context picker switches). */
struct ui_options {
    struct ui_connection connection;
    struct app_options model;
    int interval_s;
    bool readonly;           /* --readonly: no action keys at all */
    bool no_color;           /* --no-color; NO_COLOR in the environment too */
    const char *envoyfilter; /* the manifest `e` applies (built in, or --envoyfilter) */
    size_t envoyfilter_len;
    const char *envoyfilter_file; /* --envoyfilter's file; NULL: the built-in one */
    const char *const *contexts; /* the kubeconfig's, for the context picker */
    size_t n_contexts;
    ui_switch_context_fn switch_context;
    void *switch_user;
    struct app_journal *journal; /* snapshots every APP_JOURNAL_SNAPSHOT_S, or NULL */
};

/* Runs until the user quits or a signal asks to stop; the terminal is
 * restored on every way out, fatal signals included. 0 on a normal quit,
 * 128 + the signal when SIGINT, SIGTERM, SIGHUP or SIGQUIT stopped it (as
 * a shell reports a process a signal ended), UI_TERMINAL_UNUSABLE when the
 * terminal could not be set up (TERM=dumb, not a terminal). */
#define UI_TERMINAL_UNUSABLE 1
int ui_run(const struct ui_options *options);

#endif
