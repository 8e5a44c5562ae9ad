/* The session journal: what was done to the cluster and what the traffic
 * looked like, appended as JSON Lines (one object per line) so that
 * `hfitop report` can tell the session afterwards. The console and every
 * headless command write to the same file; each record is one write(2) on
 * a file opened O_APPEND, so records of processes writing at once never
 * mix.
 *
 * Records (every one has "v": 1, "type", "time" as RFC 3339 UTC with
 * milliseconds, "context", "user" (the kubeconfig user) and "namespace"):
 *   "session":  a command started: "command" (console, once, fire, ...),
 *               "version".
 *   "action":   an action ended: "action" (fire, restart, annotate,
 *               envoyfilter apply, envoyfilter delete, policy apply,
 *               policy remove), "target", "params" (an object), "ok",
 *               "http_status", "message", and for fire "tally" (sent,
 *               answered, aborted, refused, transport_errors, statuses as
 *               [[code, count], ...], p50_ms, p95_ms, max_ms).
 *   "snapshot": the namespace's deployments (app_refresh_deployments):
 *               "window_s", and "deployments", each with "name", "pods",
 *               "scraped", "failing", "aborts_total", "delays_total" (over
 *               every pod generation seen), "aborts_per_s", "delays_per_s"
 *               (over the window), and "observed": "rps", "error_ratio",
 *               "p50_ms", "p99_ms" (over the window), "requests_total",
 *               "errors_total"; null where not known yet.
 */
#ifndef APP_JOURNAL_H
#define APP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "actions.h"
#include "app.h"

/* How often the console records the deployments. */
#define APP_JOURNAL_SNAPSHOT_S 10

struct app_journal;

/* The default file: $XDG_STATE_HOME/hfitop/journal-YYYY-MM-DD.jsonl (the
 * UTC day), $HOME/.local/state/hfitop/... when XDG_STATE_HOME is unset or
 * not absolute. -1 when neither variable gives a directory. */
int app_journal_default_path(time_t now, char *out, size_t size);

/* Opens (creating with mode 0600, and its missing directories with 0700)
 * the file for appending. NULL with a message naming the file when it
 * cannot be opened. */
struct app_journal *app_journal_open(const char *path, char *err, size_t err_size);
void app_journal_close(struct app_journal *j);
const char *app_journal_path(const struct app_journal *j);

/* Who acts, as the records say: the kubeconfig context and user. */
void app_journal_set_identity(struct app_journal *j, const char *context, const char *user);

void app_journal_session(struct app_journal *j, const char *command, const char *ns, const char *version);
void app_journal_action(struct app_journal *j, const struct app_action_record *record);
/* The deployments of the model (a pod without one stands alone as
 * "pod/NAME"); refreshes the model's deployment aggregates. */
void app_journal_snapshot(struct app_journal *j, struct app *app, const char *ns);

/* The first write that failed, once: a message to show, then NULL until
 * another write fails. */
const char *app_journal_take_error(struct app_journal *j);

/* A fire's tally as the records hold it (also `hfitop fire -o json`). */
struct cJSON *app_journal_tally_json(const struct app_fire_tally *tally);

/* An app_action_observer_fn writing each action into the journal `user`. */
void app_journal_observe_action(const struct app_action_record *record, void *user);

#endif
