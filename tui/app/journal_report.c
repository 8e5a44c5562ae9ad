#include "journal_report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kube/kube_util.h"
#include "../stats/text.h"

/* ---- parsing one line ---- */

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double number_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* Appends to a fixed buffer; what does not fit is dropped. */
static void append(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *dst, size_t size, const char *fmt, ...)
{
    size_t used = strlen(dst);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + used, size - used, fmt, ap);
    va_end(ap);
}

/* The parameters object flattened to "key value, ...": a policy shows as
 * its name and rule count. */
static void flatten_params(const cJSON *params, char *out, size_t size)
{
    out[0] = '\0';
    const cJSON *item;
    cJSON_ArrayForEach(item, params)
    {
        const char *sep = out[0] ? ", " : "";
        const char *key = item->string ? item->string : "?";
        if (cJSON_IsNumber(item))
            append(out, size, "%s%s %.15g", sep, key, item->valuedouble);
        else if (cJSON_IsString(item))
            append(out, size, "%s%s %s", sep, key, item->valuestring);
        else if (cJSON_IsBool(item))
            append(out, size, "%s%s %s", sep, key, cJSON_IsTrue(item) ? "true" : "false");
        else if (cJSON_IsObject(item) && strcmp(key, "policy") == 0) {
            const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
            const cJSON *spec = cJSON_GetObjectItemCaseSensitive(item, "spec");
            const char *name = string_of(meta, "name");
            append(out, size, "%spolicy %s (%d rule%s)", sep, name ? name : "without a name",
                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "rules")),
                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "rules")) == 1 ? "" : "s");
        } else {
            append(out, size, "%s%s ...", sep, key);
        }
    }
}

static int parse_deployments(const cJSON *list, struct journal_record *r, char *err, size_t err_size)
{
    if (!cJSON_IsArray(list)) {
        snprintf(err, err_size, "a snapshot without a deployments list");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(list);
    size_t keep = n > JOURNAL_MAX_DEPLOYMENTS ? JOURNAL_MAX_DEPLOYMENTS : n;
    r->deployments = keep ? calloc(keep, sizeof *r->deployments) : NULL;
    if (keep && !r->deployments) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, list)
    {
        const char *name = string_of(d, "name");
        if (!cJSON_IsObject(d) || !name) {
            r->deployments_left_out++;
            continue;
        }
        if (r->n_deployments == keep) {
            r->deployments_left_out++;
            continue;
        }
        struct journal_deployment *out = &r->deployments[r->n_deployments++];
        copy_text(out->name, sizeof out->name, name);
        out->pods = number_of(d, "pods");
        out->aborts_total = number_of(d, "aborts_total");
        out->delays_total = number_of(d, "delays_total");
        out->aborts_per_s = number_of(d, "aborts_per_s");
        out->delays_per_s = number_of(d, "delays_per_s");
        const cJSON *observed = cJSON_GetObjectItemCaseSensitive(d, "observed");
        out->rps = number_of(observed, "rps");
        out->error_ratio = number_of(observed, "error_ratio");
        out->p50_ms = number_of(observed, "p50_ms");
        out->p99_ms = number_of(observed, "p99_ms");
    }
    return 0;
}

static void parse_tally(const cJSON *tally, struct journal_record *r)
{
    r->has_tally = cJSON_IsObject(tally);
    if (!r->has_tally)
        return;
    r->sent = number_of(tally, "sent");
    r->answered = number_of(tally, "answered");
    r->aborted = number_of(tally, "aborted");
    r->refused = number_of(tally, "refused");
    r->transport_errors = number_of(tally, "transport_errors");
    r->p50_ms = number_of(tally, "p50_ms");
    r->p95_ms = number_of(tally, "p95_ms");
    r->max_ms = number_of(tally, "max_ms");
    const cJSON *pair;
    cJSON_ArrayForEach(pair, cJSON_GetObjectItemCaseSensitive(tally, "statuses"))
    {
        const cJSON *code = cJSON_GetArrayItem(pair, 0), *count = cJSON_GetArrayItem(pair, 1);
        if (cJSON_IsNumber(code) && cJSON_IsNumber(count))
            append(r->statuses, sizeof r->statuses, "%s%.0f x%.0f", r->statuses[0] ? ", " : "", code->valuedouble,
                   count->valuedouble);
    }
}

int journal_parse_line(const char *buf, size_t len, struct journal_record *r, char *err, size_t err_size)
{
    memset(r, 0, sizeof *r);
    if (len > JOURNAL_MAX_LINE) {
        snprintf(err, err_size, "longer than %d bytes", JOURNAL_MAX_LINE);
        return -1;
    }
    cJSON *o = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(o)) {
        snprintf(err, err_size, "not a JSON object");
        cJSON_Delete(o);
        return -1;
    }
    const char *type = string_of(o, "type"), *when = string_of(o, "time");
    double version = number_of(o, "v");
    struct timespec when_parsed;
    int rc = -1;
    if (version != 1) {
        snprintf(err, err_size, "not a version 1 journal record (\"v\": 1)");
    } else if (!type || (strcmp(type, "session") != 0 && strcmp(type, "action") != 0 &&
                         strcmp(type, "snapshot") != 0)) {
        snprintf(err, err_size, "\"type\" is not session, action or snapshot");
    } else if (!when || !kube_parse_rfc3339(when, strlen(when), &when_parsed)) {
        snprintf(err, err_size, "\"time\" is not an RFC 3339 time");
    } else {
        r->time = (double)when_parsed.tv_sec + when_parsed.tv_nsec / 1e9;
        copy_text(r->context, sizeof r->context, string_of(o, "context"));
        copy_text(r->user, sizeof r->user, string_of(o, "user"));
        copy_text(r->ns, sizeof r->ns, string_of(o, "namespace"));
        rc = 0;
        if (strcmp(type, "session") == 0) {
            r->type = JOURNAL_SESSION;
            copy_text(r->command, sizeof r->command, string_of(o, "command"));
        } else if (strcmp(type, "action") == 0) {
            r->type = JOURNAL_ACTION;
            const char *action = string_of(o, "action");
            if (!action) {
                snprintf(err, err_size, "an action without \"action\"");
                rc = -1;
            }
            copy_text(r->action, sizeof r->action, action);
            copy_text(r->target, sizeof r->target, string_of(o, "target"));
            copy_text(r->message, sizeof r->message, string_of(o, "message"));
            flatten_params(cJSON_GetObjectItemCaseSensitive(o, "params"), r->params, sizeof r->params);
            r->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
            double http = number_of(o, "http_status");
            r->http_status = http >= 0 && http < 1000 ? (long)http : 0;
            parse_tally(cJSON_GetObjectItemCaseSensitive(o, "tally"), r);
        } else {
            r->type = JOURNAL_SNAPSHOT;
            r->window_s = number_of(o, "window_s");
            rc = parse_deployments(cJSON_GetObjectItemCaseSensitive(o, "deployments"), r, err, err_size);
        }
    }
    cJSON_Delete(o);
    if (rc != 0)
        journal_record_free(r);
    return rc;
}

void journal_record_free(struct journal_record *r)
{
    free(r->deployments);
    r->deployments = NULL;
    r->n_deployments = 0;
}

/* ---- Markdown output ---- */

struct md {
    char *text;
    size_t len, cap;
    bool failed;
};

static void md_raw(struct md *m, const char *s, size_t n)
{
    if (m->failed)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (m->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(m->text, cap);
        if (!grown) {
            m->failed = true;
            return;
        }
        m->text = grown;
        m->cap = cap;
    }
    memcpy(m->text + m->len, s, n);
    m->len += n;
    m->text[m->len] = '\0';
}

/* Text of our own (numbers, fixed words): no escaping needed. */
static void md_printf(struct md *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void md_printf(struct md *m, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        md_raw(m, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Text from the file: terminal-safe first (no controls, no bidi
 * overrides, bad bytes as \xNN), then every character Markdown or HTML
 * could act on escaped with a backslash, so it shows as itself. */
static void md_text(struct md *m, const char *s)
{
    size_t len = strlen(s), size = len * 4 + 1;
    char *safe = malloc(size);
    if (!safe) {
        m->failed = true;
        return;
    }
    text_sanitize(s, len, 0, safe, size);
    for (const char *p = safe; *p; p++) {
        if (strchr("\\`*_[]()<>#!|~&${}", *p))
            md_raw(m, "\\", 1);
        md_raw(m, p, 1);
    }
    free(safe);
}

/* t (seconds since the epoch) in UTC as strftime's format says, or "?". */
static void md_utc(struct md *m, double t, const char *format)
{
    time_t s = (time_t)t;
    struct tm tm;
    char out[40] = "?";
    if (isfinite(t) && gmtime_r(&s, &tm))
        strftime(out, sizeof out, format, &tm);
    md_printf(m, "%s", out);
}

static void md_number(struct md *m, double v, const char *fmt)
{
    if (isfinite(v))
        md_printf(m, fmt, v);
    else
        md_printf(m, "-");
}

/* ---- the report ---- */

struct journal {
    struct journal_record *records;
    size_t n, cap;
    size_t lines, skipped, skipped_first_line, left_out_records, deployment_rows, deployments_left_out;
    char skipped_first_reason[200];
    size_t actions, snapshots;
    bool observed; /* some snapshot has observed figures */
};

static void journal_read(const char *buf, size_t len, struct journal *j)
{
    size_t pos = 0;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        j->lines++;
        if (n && line[n - 1] == '\r')
            n--;
        if (!n)
            continue;
        if (j->n == JOURNAL_MAX_RECORDS) {
            j->left_out_records++;
            continue;
        }
        if (j->n == j->cap) {
            size_t cap = j->cap ? j->cap * 2 : 64;
            struct journal_record *grown = realloc(j->records, cap * sizeof *grown);
            if (!grown) {
                j->left_out_records++;
                continue;
            }
            j->records = grown;
            j->cap = cap;
        }
        struct journal_record *r = &j->records[j->n];
        char err[200];
        if (journal_parse_line(line, n, r, err, sizeof err) != 0) {
            if (!j->skipped++) {
                j->skipped_first_line = j->lines;
                copy_text(j->skipped_first_reason, sizeof j->skipped_first_reason, err);
            }
            continue;
        }
        if (r->type == JOURNAL_SNAPSHOT) {
            if (j->deployment_rows + r->n_deployments > JOURNAL_MAX_DEPLOYMENT_ROWS) {
                j->deployments_left_out += r->n_deployments;
                r->n_deployments = 0;
            }
            j->deployment_rows += r->n_deployments;
            j->deployments_left_out += r->deployments_left_out;
            for (size_t k = 0; k < r->n_deployments; k++)
                if (isfinite(r->deployments[k].rps) || isfinite(r->deployments[k].error_ratio))
                    j->observed = true;
            j->snapshots++;
        } else if (r->type == JOURNAL_ACTION) {
            j->actions++;
        }
        j->n++;
    }
}

static bool same_scope(const struct journal_record *a, const struct journal_record *b)
{
    return strcmp(a->context, b->context) == 0 && strcmp(a->ns, b->ns) == 0;
}

/* The last snapshot of the action's context and namespace at or before
 * it, and the first after it. Records are in file order, which is time
 * order for one writer; several writers may interleave, so times decide. */
static void around(const struct journal *j, const struct journal_record *action, const struct journal_record **before,
                   const struct journal_record **after)
{
    *before = *after = NULL;
    for (size_t i = 0; i < j->n; i++) {
        const struct journal_record *s = &j->records[i];
        if (s->type != JOURNAL_SNAPSHOT || !same_scope(s, action))
            continue;
        if (s->time <= action->time && (!*before || s->time >= (*before)->time))
            *before = s;
        if (s->time > action->time && (!*after || s->time < (*after)->time))
            *after = s;
    }
}

static const struct journal_deployment *find_deployment(const struct journal_record *s, const char *name)
{
    for (size_t k = 0; s && k < s->n_deployments; k++)
        if (strcmp(s->deployments[k].name, name) == 0)
            return &s->deployments[k];
    return NULL;
}

/* "10 → 30 (+20)" for totals, "0.00 → 2.00" for rates. */
static void md_change(struct md *m, double before, double after, const char *fmt, bool delta)
{
    md_number(m, before, fmt);
    md_printf(m, " → ");
    md_number(m, after, fmt);
    if (delta && isfinite(before) && isfinite(after))
        md_printf(m, " (%+.0f)", after - before);
}

#define MAX_TABLE_ROWS 50

static void deployment_table(struct md *m, const struct journal *j, const struct journal_record *before,
                             const struct journal_record *after)
{
    md_printf(m, "| deployment | aborts | aborts/s | delays | delays/s |%s\n",
              j->observed ? " observed req/s | error ratio | p50 ms | p99 ms |" : "");
    md_printf(m, "|---|---|---|---|---|%s\n", j->observed ? "---|---|---|---|" : "");
    /* Every deployment of either snapshot, the after one's order first. */
    const struct journal_record *sides[2] = {after, before};
    size_t rows = 0, left_out = 0;
    for (int side = 0; side < 2; side++) {
        for (size_t k = 0; sides[side] && k < sides[side]->n_deployments; k++) {
            const char *name = sides[side]->deployments[k].name;
            if (side == 1 && find_deployment(after, name))
                continue;
            if (rows == MAX_TABLE_ROWS) {
                left_out++;
                continue;
            }
            rows++;
            const struct journal_deployment *b = find_deployment(before, name), *a = find_deployment(after, name);
            const struct journal_deployment none = {.pods = NAN, .aborts_total = NAN, .delays_total = NAN,
                                                    .aborts_per_s = NAN, .delays_per_s = NAN, .rps = NAN,
                                                    .error_ratio = NAN, .p50_ms = NAN, .p99_ms = NAN};
            if (!b)
                b = &none;
            if (!a)
                a = &none;
            md_printf(m, "| ");
            md_text(m, name);
            md_printf(m, " | ");
            md_change(m, b->aborts_total, a->aborts_total, "%.0f", true);
            md_printf(m, " | ");
            md_change(m, b->aborts_per_s, a->aborts_per_s, "%.2f", false);
            md_printf(m, " | ");
            md_change(m, b->delays_total, a->delays_total, "%.0f", true);
            md_printf(m, " | ");
            md_change(m, b->delays_per_s, a->delays_per_s, "%.2f", false);
            md_printf(m, " |");
            if (j->observed) {
                md_printf(m, " ");
                md_change(m, b->rps, a->rps, "%.2f", false);
                md_printf(m, " | ");
                md_change(m, b->error_ratio, a->error_ratio, "%.3f", false);
                md_printf(m, " | ");
                md_change(m, b->p50_ms, a->p50_ms, "%.1f", false);
                md_printf(m, " | ");
                md_change(m, b->p99_ms, a->p99_ms, "%.1f", false);
                md_printf(m, " |");
            }
            md_printf(m, "\n");
        }
    }
    if (left_out)
        md_printf(m, "\n%zu more deployments left out.\n", left_out);
}

/* " (5 s before; rates over 60 s)" */
static void md_snapshot_when(struct md *m, const struct journal_record *s, double seconds, const char *side)
{
    md_printf(m, "snapshot at ");
    md_utc(m, s->time, "%H:%M:%S");
    md_printf(m, " (%.0f s %s", seconds, side);
    if (isfinite(s->window_s) && s->window_s > 0)
        md_printf(m, "; rates over %.0f s", s->window_s);
    md_printf(m, ")");
}

static void action_section(struct md *m, const struct journal *j, const struct journal_record *r, size_t number)
{
    md_printf(m, "\n### %zu. ", number);
    md_utc(m, r->time, "%H:%M:%S");
    md_printf(m, " ");
    md_text(m, r->action);
    md_printf(m, " ");
    md_text(m, r->target);
    md_printf(m, ": %s\n\n", r->ok ? "ok" : "FAILED");
    md_printf(m, "- by user ");
    md_text(m, r->user[0] ? r->user : "?");
    md_printf(m, ", context ");
    md_text(m, r->context[0] ? r->context : "?");
    md_printf(m, ", namespace ");
    md_text(m, r->ns[0] ? r->ns : "?");
    md_printf(m, "\n");
    if (r->params[0]) {
        md_printf(m, "- parameters: ");
        md_text(m, r->params);
        md_printf(m, "\n");
    }
    md_printf(m, "- answer: ");
    md_text(m, r->message);
    if (r->http_status)
        md_printf(m, " (HTTP %ld)", r->http_status);
    md_printf(m, "\n");
    if (r->has_tally) {
        md_printf(m, "- the client saw: ");
        md_number(m, r->sent, "%.0f");
        md_printf(m, " sent, ");
        md_number(m, r->answered, "%.0f");
        md_printf(m, " answered (");
        md_text(m, r->statuses[0] ? r->statuses : "no status");
        md_printf(m, "), ");
        md_number(m, r->aborted, "%.0f");
        md_printf(m, " aborted; latency p50 ");
        md_number(m, r->p50_ms, "%.1f");
        md_printf(m, " ms, p95 ");
        md_number(m, r->p95_ms, "%.1f");
        md_printf(m, " ms, max ");
        md_number(m, r->max_ms, "%.1f");
        md_printf(m, " ms\n");
    }
    const struct journal_record *before, *after;
    around(j, r, &before, &after);
    md_printf(m, "\n");
    if (!before && !after) {
        md_printf(m, "No snapshot of this context and namespace around it.\n");
        return;
    }
    md_printf(m, "Before: ");
    if (before) {
        md_snapshot_when(m, before, r->time - before->time, "before");
    } else {
        md_printf(m, "none");
    }
    md_printf(m, ". After: ");
    if (after) {
        md_snapshot_when(m, after, after->time - r->time, "after");
    } else {
        md_printf(m, "none");
    }
    md_printf(m, ".\n\n");
    deployment_table(m, j, before, after);
}

static void header(struct md *m, const struct journal *j, const char *title)
{
    md_printf(m, "# hfitop session report\n\nJournal ");
    md_text(m, title ? title : "-");
    md_printf(m, ": %zu action%s and %zu snapshot%s", j->actions, j->actions == 1 ? "" : "s", j->snapshots,
              j->snapshots == 1 ? "" : "s");
    double first = INFINITY, last = -INFINITY;
    for (size_t i = 0; i < j->n; i++) {
        first = fmin(first, j->records[i].time);
        last = fmax(last, j->records[i].time);
    }
    if (j->n) {
        md_printf(m, ", from ");
        md_utc(m, first, "%Y-%m-%d %H:%M:%S");
        md_printf(m, " to ");
        md_utc(m, last, "%Y-%m-%d %H:%M:%S");
        md_printf(m, " UTC");
    }
    md_printf(m, ".\n");
    if (j->skipped) {
        md_printf(m, "\n%zu line%s skipped: not journal records (the first, line %zu: ", j->skipped,
                  j->skipped == 1 ? "" : "s", j->skipped_first_line);
        md_text(m, j->skipped_first_reason);
        md_printf(m, ").\n");
    }
    if (j->left_out_records)
        md_printf(m, "\nOnly the first %d records are reported; %zu more were left out.\n", JOURNAL_MAX_RECORDS,
                  j->left_out_records);
    if (j->deployments_left_out)
        md_printf(m, "\n%zu deployment entries of snapshots were left out (at most %d per snapshot, %d in all).\n",
                  j->deployments_left_out, JOURNAL_MAX_DEPLOYMENTS, JOURNAL_MAX_DEPLOYMENT_ROWS);
    if (!j->observed && j->snapshots)
        md_printf(m, "\nThe snapshots hold the injected faults only (no observed traffic figures).\n");
}

static void timeline(struct md *m, const struct journal *j)
{
    md_printf(m, "\n## Timeline\n\n| time (UTC) | what | target | result |\n|---|---|---|---|\n");
    size_t number = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct journal_record *r = &j->records[i];
        if (r->type == JOURNAL_SNAPSHOT)
            continue;
        md_printf(m, "| ");
        md_utc(m, r->time, "%H:%M:%S");
        md_printf(m, " | ");
        if (r->type == JOURNAL_SESSION) {
            md_printf(m, "hfitop ");
            md_text(m, r->command);
            md_printf(m, " started (context ");
            md_text(m, r->context);
            md_printf(m, ", namespace ");
            md_text(m, r->ns);
            md_printf(m, ") | | |\n");
            continue;
        }
        md_printf(m, "%zu. ", ++number);
        md_text(m, r->action);
        md_printf(m, " | ");
        md_text(m, r->target);
        md_printf(m, " | %s: ", r->ok ? "ok" : "FAILED");
        md_text(m, r->message);
        md_printf(m, " |\n");
    }
}

char *journal_report_markdown(const char *buf, size_t len, const char *title)
{
    struct journal j = {0};
    struct md m = {0};
    journal_read(buf, len, &j);
    header(&m, &j, title);
    timeline(&m, &j);
    if (j.actions)
        md_printf(&m, "\n## Actions\n");
    size_t number = 0;
    for (size_t i = 0; i < j.n; i++)
        if (j.records[i].type == JOURNAL_ACTION)
            action_section(&m, &j, &j.records[i], ++number);
    for (size_t i = 0; i < j.n; i++)
        journal_record_free(&j.records[i]);
    free(j.records);
    if (m.failed) {
        free(m.text);
        return NULL;
    }
    return m.text;
}
