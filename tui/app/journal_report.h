/* `hfitop report FILE`: a session journal (journal.h) as a Markdown
 * timeline, each action with the deployments' injected (and, where the
 * journal has them, observed) figures before and after it.
 *
 * The file is outside input: anyone could have written it. So these are
 * pure functions over (buf, len) that never read past len, bound what they
 * keep (JOURNAL_MAX_* below: longer lines, further records and further
 * deployments are counted and left out, and the report says so), and
 * print every string of the file through text_sanitize and a Markdown
 * escape, so a record cannot add links, HTML, table cells or terminal
 * controls to the report. */
#ifndef APP_JOURNAL_REPORT_H
#define APP_JOURNAL_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#define JOURNAL_MAX_LINE (1 << 20)
#define JOURNAL_MAX_RECORDS 20000
#define JOURNAL_MAX_DEPLOYMENTS 256        /* per snapshot */
#define JOURNAL_MAX_DEPLOYMENT_ROWS 200000 /* over every snapshot */
#define JOURNAL_TEXT 160

enum journal_type { JOURNAL_SESSION, JOURNAL_ACTION, JOURNAL_SNAPSHOT };

/* One deployment in a snapshot; NaN where the record had no number. */
struct journal_deployment {
    char name[JOURNAL_TEXT];
    double pods, aborts_total, delays_total, aborts_per_s, delays_per_s;
    double rps, error_ratio, p50_ms, p99_ms; /* "observed" */
};

struct journal_record {
    enum journal_type type;
    double time; /* seconds since the epoch, UTC */
    char context[JOURNAL_TEXT], user[JOURNAL_TEXT], ns[JOURNAL_TEXT];
    char command[JOURNAL_TEXT]; /* session */
    /* action */
    char action[64], target[JOURNAL_TEXT];
    char params[400]; /* "abort_status 503, count 20, path /" */
    char message[512];
    bool ok;
    long http_status;
    bool has_tally;
    double sent, answered, aborted, refused, transport_errors, p50_ms, p95_ms, max_ms;
    char statuses[200]; /* "503 x20, 200 x3" */
    /* snapshot */
    double window_s; /* what its rates are over; NaN when not said */
    struct journal_deployment *deployments;
    size_t n_deployments, deployments_left_out;
};

/* One line (without its newline) into *out. 0 on success; -1 with a
 * reason in err (not JSON, not a journal record, a field of the wrong
 * type, too long) and nothing to free. */
int journal_parse_line(const char *buf, size_t len, struct journal_record *out, char *err, size_t err_size);
void journal_record_free(struct journal_record *r);

/* The whole report for the journal in buf; `title` (the file's name) is
 * sanitized like the rest. NULL when out of memory. */
char *journal_report_markdown(const char *buf, size_t len, const char *title);

#endif
