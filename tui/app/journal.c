#include "journal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_FORMAT_VERSION 1

struct app_journal {
    int fd;
    char *path;
    char context[256], user[256];
    char error[600];
    bool error_pending;
};

int app_journal_default_path(time_t now, char *out, size_t size)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    struct tm tm;
    char day[16];
    gmtime_r(&now, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    int n;
    /* The XDG Base Directory spec ignores a relative XDG_STATE_HOME. */
    if (state && state[0] == '/')
        n = snprintf(out, size, "%s/hfitop/journal-%s.jsonl", state, day);
    else if (home && home[0] == '/')
        n = snprintf(out, size, "%s/.local/state/hfitop/journal-%s.jsonl", home, day);
    else
        return -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* mkdir -p of the file's directory, each new directory 0700. */
static int make_parents(const char *path, char *err, size_t err_size)
{
    char *dir = strdup(path);
    if (!dir) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == 0; p++) {
            bool end = *p == '\0';
            if (*p != '/' && !end)
                continue;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                snprintf(err, err_size, "cannot create the journal's directory %s: %s", dir, strerror(errno));
                rc = -1;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    free(dir);
    return rc;
}

struct app_journal *app_journal_open(const char *path, char *err, size_t err_size)
{
    if (make_parents(path, err, err_size) != 0)
        return NULL;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open the journal %s: %s", path, strerror(errno));
        return NULL;
    }
    struct app_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        close(fd);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    j->fd = fd;
    return j;
}

void app_journal_close(struct app_journal *j)
{
    if (!j)
        return;
    close(j->fd);
    free(j->path);
    free(j);
}

const char *app_journal_path(const struct app_journal *j)
{
    return j->path;
}

void app_journal_set_identity(struct app_journal *j, const char *context, const char *user)
{
    if (!j)
        return;
    snprintf(j->context, sizeof j->context, "%s", context ? context : "");
    snprintf(j->user, sizeof j->user, "%s", user ? user : "");
}

const char *app_journal_take_error(struct app_journal *j)
{
    if (!j || !j->error_pending)
        return NULL;
    j->error_pending = false;
    return j->error;
}

/* A record's common fields. */
static cJSON *record_new(const struct app_journal *j, const char *type, const char *ns)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40], stamp[48];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03ldZ", when, ts.tv_nsec / 1000000);
    cJSON_AddNumberToObject(o, "v", JOURNAL_FORMAT_VERSION);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "time", stamp);
    cJSON_AddStringToObject(o, "context", j->context);
    cJSON_AddStringToObject(o, "user", j->user);
    cJSON_AddStringToObject(o, "namespace", ns ? ns : "");
    return o;
}

static void record_write(struct app_journal *j, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    size_t len = text ? strlen(text) : 0;
    char *line = text ? realloc(text, len + 2) : NULL;
    if (!line) {
        free(text);
        snprintf(j->error, sizeof j->error, "journal %s: out of memory, a record was lost", j->path);
        j->error_pending = true;
        return;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    /* One write: with O_APPEND the record lands whole after every other. */
    ssize_t n;
    do
        n = write(j->fd, line, len + 1);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)(len + 1)) {
        snprintf(j->error, sizeof j->error, "journal %s: %s", j->path,
                 n < 0 ? strerror(errno) : "short write (disk full?)");
        j->error_pending = true;
    }
    free(line);
}

static void add_number_or_null(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

void app_journal_session(struct app_journal *j, const char *command, const char *ns, const char *version)
{
    if (!j)
        return;
    cJSON *o = record_new(j, "session", ns);
    cJSON_AddStringToObject(o, "command", command);
    cJSON_AddStringToObject(o, "version", version ? version : "");
    record_write(j, o);
}

cJSON *app_journal_tally_json(const struct app_fire_tally *t)
{
    cJSON *tally = cJSON_CreateObject();
    cJSON_AddNumberToObject(tally, "sent", t->sent);
    cJSON_AddNumberToObject(tally, "answered", t->answered);
    cJSON_AddNumberToObject(tally, "aborted", t->aborted);
    cJSON_AddNumberToObject(tally, "refused", t->refused);
    cJSON_AddNumberToObject(tally, "transport_errors", t->transport_errors);
    cJSON *statuses = cJSON_AddArrayToObject(tally, "statuses");
    for (int i = 0; i < t->n_statuses; i++) {
        const int pair[2] = {t->statuses[i].code, t->statuses[i].count};
        cJSON_AddItemToArray(statuses, cJSON_CreateIntArray(pair, 2));
    }
    add_number_or_null(tally, "p50_ms", t->p50_ms);
    add_number_or_null(tally, "p95_ms", t->p95_ms);
    add_number_or_null(tally, "max_ms", t->max_ms);
    return tally;
}

void app_journal_action(struct app_journal *j, const struct app_action_record *r)
{
    if (!j)
        return;
    cJSON *o = record_new(j, "action", r->ns);
    cJSON_AddStringToObject(o, "action", r->action);
    cJSON_AddStringToObject(o, "target", r->target ? r->target : "");
    cJSON_AddItemToObject(o, "params", r->params ? cJSON_Duplicate(r->params, 1) : cJSON_CreateObject());
    cJSON_AddBoolToObject(o, "ok", r->result->ok);
    cJSON_AddNumberToObject(o, "http_status", (double)r->result->http_status);
    cJSON_AddStringToObject(o, "message", r->result->message);
    if (r->tally)
        cJSON_AddItemToObject(o, "tally", app_journal_tally_json(r->tally));
    record_write(j, o);
}

void app_journal_observe_action(const struct app_action_record *record, void *user)
{
    app_journal_action(user, record);
}

/* ---- snapshots ---- */

/* One deployment's (or lone pod's) figures: totals across the session's
 * pod generations, rates and estimates over the model's window. */
static cJSON *figures_object(const char *name, size_t pods, size_t scraped, size_t failing,
                             const struct app_totals *totals, const struct app_window_figures *w)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddNumberToObject(d, "pods", (double)pods);
    cJSON_AddNumberToObject(d, "scraped", (double)scraped);
    cJSON_AddNumberToObject(d, "failing", (double)failing);
    add_number_or_null(d, "aborts_total", totals->aborts);
    add_number_or_null(d, "delays_total", totals->delays);
    add_number_or_null(d, "aborts_per_s", w->aborts_per_s);
    add_number_or_null(d, "delays_per_s", w->delays_per_s);
    cJSON *observed = cJSON_AddObjectToObject(d, "observed");
    add_number_or_null(observed, "rps", w->requests_per_s);
    add_number_or_null(observed, "error_ratio", w->error_ratio);
    add_number_or_null(observed, "p50_ms", w->latency_ms.p50);
    add_number_or_null(observed, "p99_ms", w->latency_ms.p99);
    add_number_or_null(observed, "requests_total", totals->requests);
    add_number_or_null(observed, "errors_total", totals->errors);
    return d;
}

void app_journal_snapshot(struct app_journal *j, struct app *app, const char *ns)
{
    if (!j)
        return;
    app_refresh_deployments(app);
    cJSON *o = record_new(j, "snapshot", ns);
    cJSON_AddNumberToObject(o, "window_s", app_window_s(app));
    cJSON *list = cJSON_AddArrayToObject(o, "deployments");
    for (size_t k = 0; k < app_deployment_count(app); k++) {
        const struct app_deployment *d = app_deployment_at(app, k);
        cJSON_AddItemToArray(list, figures_object(d->name, d->pods, d->scraped, d->failing, &d->totals, &d->window));
    }
    /* A pod of no deployment stands alone. */
    for (size_t i = 0; i < app_pod_count(app); i++) {
        const struct app_pod *p = app_pod_at(app, i);
        if (p->pod.deployment)
            continue;
        char name[300];
        snprintf(name, sizeof name, "pod/%s", p->pod.name);
        cJSON_AddItemToArray(list, figures_object(name, 1, p->scraped, p->failing, &p->totals, &p->window));
    }
    record_write(j, o);
}
