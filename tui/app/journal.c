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

struct deployment_sum {
    char name[300];
    int pods, scraped;
    double aborts_total, delays_total;
    double aborts_per_s, delays_per_s; /* NaN until a pod has a rate */
};

static void add_rate(double *sum, double rate)
{
    if (!isfinite(rate))
        return;
    *sum = isfinite(*sum) ? *sum + rate : rate;
}

void app_journal_snapshot(struct app_journal *j, const struct app *app, const char *ns)
{
    if (!j)
        return;
    size_t n_pods = app_pod_count(app), n = 0;
    struct deployment_sum *sums = calloc(n_pods ? n_pods : 1, sizeof *sums);
    if (!sums)
        return;
    for (size_t i = 0; i < n_pods; i++) {
        const struct app_pod *p = app_pod_at(app, i);
        char name[300];
        if (p->pod.deployment)
            snprintf(name, sizeof name, "%s", p->pod.deployment);
        else
            snprintf(name, sizeof name, "pod/%s", p->pod.name);
        size_t k = 0;
        while (k < n && strcmp(sums[k].name, name) != 0)
            k++;
        if (k == n) {
            snprintf(sums[n].name, sizeof sums[n].name, "%s", name);
            sums[n].aborts_per_s = sums[n].delays_per_s = NAN;
            n++;
        }
        struct deployment_sum *d = &sums[k];
        d->pods++;
        if (!p->scraped)
            continue;
        d->scraped++;
        d->aborts_total += p->metrics.aborts_total.present ? p->metrics.aborts_total.value : 0;
        d->delays_total += p->metrics.delays_total.present ? p->metrics.delays_total.value : 0;
        add_rate(&d->aborts_per_s, p->window.aborts_per_s);
        add_rate(&d->delays_per_s, p->window.delays_per_s);
    }
    cJSON *o = record_new(j, "snapshot", ns);
    cJSON *list = cJSON_AddArrayToObject(o, "deployments");
    for (size_t k = 0; k < n; k++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", sums[k].name);
        cJSON_AddNumberToObject(d, "pods", sums[k].pods);
        cJSON_AddNumberToObject(d, "scraped", sums[k].scraped);
        cJSON_AddNumberToObject(d, "aborts_total", sums[k].aborts_total);
        cJSON_AddNumberToObject(d, "delays_total", sums[k].delays_total);
        add_number_or_null(d, "aborts_per_s", sums[k].aborts_per_s);
        add_number_or_null(d, "delays_per_s", sums[k].delays_per_s);
        cJSON_AddItemToArray(list, d);
    }
    free(sums);
    record_write(j, o);
}
