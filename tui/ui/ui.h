/* The interactive console: draws tui/app's model and calls its actions.
 * ncurses lives only in this folder. */
#ifndef UI_H
#define UI_H

#include <stdbool.h>

#include "../app/app.h"
#include "../app/mesh.h"

/* The console builds the model itself from `model` (and builds it again
 * when the namespace picker switches namespace). */
struct ui_options {
    struct kube_client *client;
    struct app_options model;
    const char *context;   /* for the header and the confirmations */
    const char *cluster;
    int interval_s;
    bool readonly;         /* --readonly: no action keys at all */
    const char *envoyfilter; /* the manifest `e` applies (built in, or --envoyfilter) */
    size_t envoyfilter_len;
    bool no_color;         /* --no-color; NO_COLOR in the environment too */
};

/* Runs until the user quits or a signal asks to stop; the terminal is
 * restored on every way out, fatal signals included. 0 on a normal quit,
 * 1 when the terminal could not be set up. */
int ui_run(const struct ui_options *options);

#endif
