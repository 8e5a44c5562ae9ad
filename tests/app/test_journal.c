/* The session journal: the writer's file (where, which modes, one record a
 * line) and the report's reader of an outside file (bounded, every string
 * escaped, snapshots matched to actions by context, namespace and time). */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/app/journal.h"
#include "../../tui/app/journal_report.h"
#include "testlib.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_default_path(void)
{
    char path[512];
    time_t day = 1764652800; /* 2025-12-02T05:20:00Z */
    setenv("XDG_STATE_HOME", "/state", 1);
    setenv("HOME", "/home/sre", 1);
    CHECK_INT(app_journal_default_path(day, path, sizeof path), 0);
    CHECK_STR(path, "/state/hfitop/journal-2025-12-02.jsonl");
    /* A relative XDG_STATE_HOME is to be ignored (XDG Base Directory). */
    setenv("XDG_STATE_HOME", "relative", 1);
    CHECK_INT(app_journal_default_path(day, path, sizeof path), 0);
    CHECK_STR(path, "/home/sre/.local/state/hfitop/journal-2025-12-02.jsonl");
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    CHECK_INT(app_journal_default_path(day, path, sizeof path), -1);
}

static void test_writer_modes_and_records(void)
{
    char dir[] = "/tmp/journal-test.XXXXXX", path[300], err[600];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a/b/journal.jsonl", dir);
    mode_t old = umask(0);
    struct app_journal *j = app_journal_open(path, err, sizeof err);
    umask(old);
    CHECK(j != NULL);
    if (!j)
        return;
    struct stat st;
    char sub[320];
    snprintf(sub, sizeof sub, "%s/a", dir);
    CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

    app_journal_set_identity(j, "prod-eu", "alice");
    app_journal_session(j, "console", "demo", "0.1.0");
    struct app_action_result result = {.ok = true, .http_status = 200};
    snprintf(result.message, sizeof result.message, "deployment demo/cart restarted");
    struct app_action_record record = {.action = "restart", .ns = "demo", .target = "deployment/cart",
                                       .result = &result};
    app_journal_action(j, &record);
    struct app_fire_tally tally = {.sent = 3, .answered = 3, .aborted = 3, .n_statuses = 1, .p50_ms = 2,
                                   .p95_ms = 3, .max_ms = NAN};
    tally.statuses[0].code = 503;
    tally.statuses[0].count = 3;
    record = (struct app_action_record){.action = "fire", .ns = "demo", .target = "pod/web-1", .result = &result,
                                        .tally = &tally};
    app_journal_action(j, &record);
    CHECK(app_journal_take_error(j) == NULL);
    app_journal_close(j);

    const char *text = slurp(path);
    CHECK(text != NULL);
    if (!text)
        return;
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 3);
    CHECK_CONTAINS(text, "\"type\":\"session\",\"time\":\"");
    CHECK_CONTAINS(text, "\"context\":\"prod-eu\",\"user\":\"alice\",\"namespace\":\"demo\",\"command\":\"console\"");
    CHECK_CONTAINS(text, "\"action\":\"restart\",\"target\":\"deployment/cart\",\"params\":{},\"ok\":true,"
                         "\"http_status\":200");
    CHECK_CONTAINS(text, "\"statuses\":[[503,3]],\"p50_ms\":2,\"p95_ms\":3,\"max_ms\":null");

    /* Every record the writer makes is one the report reads. */
    char *md = journal_report_markdown(text, strlen(text), "journal.jsonl");
    CHECK_CONTAINS(md, "2 actions and 0 snapshots");
    CHECK_CONTAINS(md, "hfitop console started (context prod-eu, namespace demo)");
    CHECK_CONTAINS(md, "- by user alice, context prod-eu, namespace demo");
    CHECK_CONTAINS(md, "3 sent, 3 answered (503 x3), 3 aborted; latency p50 2.0 ms, p95 3.0 ms, max - ms");
    CHECK(!strstr(md, "lines skipped"));
    free(md);

    /* A second writer appends after the first. */
    j = app_journal_open(path, err, sizeof err);
    CHECK(j != NULL);
    app_journal_session(j, "once", "demo", "0.1.0");
    app_journal_close(j);
    text = slurp(path);
    CHECK_CONTAINS(text, "\"command\":\"console\"");
    CHECK_CONTAINS(text, "\"command\":\"once\"");
    unlink(path);
}

static void test_open_failure_names_the_file(void)
{
    char err[600];
    CHECK(app_journal_open("/proc/no-such-dir/journal.jsonl", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "/proc/no-such-dir");
}

/* The record's time goes through the RFC 3339 reader of tui/kube (tested
 * there): a fraction is kept, an offset counts. */
static void test_time(void)
{
    struct journal_record r;
    char err[200];
    const char *line = "{\"v\":1,\"type\":\"session\",\"time\":\"2026-12-02T05:40:01.250Z\"}";
    CHECK_INT(journal_parse_line(line, strlen(line), &r, err, sizeof err), 0);
    CHECK(fabs(r.time - 1796190001.25) < 1e-6);
    journal_record_free(&r);
    line = "{\"v\":1,\"type\":\"session\",\"time\":\"2026-12-02T06:40:01+01:00\"}";
    CHECK_INT(journal_parse_line(line, strlen(line), &r, err, sizeof err), 0);
    CHECK(fabs(r.time - 1796190001) < 1e-6);
    journal_record_free(&r);
    line = "{\"v\":1,\"type\":\"session\",\"time\":\"2026-12-02T05:40:01.Z\"}";
    CHECK_INT(journal_parse_line(line, strlen(line), &r, err, sizeof err), -1);
    CHECK_CONTAINS(err, "\"time\" is not an RFC 3339 time");
}

#define LINE(s) s "\n"
#define HEAD(type, time) "{\"v\":1,\"type\":\"" type "\",\"time\":\"" time "\",\"context\":\"c1\",\"user\":\"u\","

static void test_parse_line_rejects(void)
{
    struct journal_record r;
    char err[200];
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"type\":\"action\",\"time\":\"2026-12-02T05:40:01Z\",\"action\":\"fire\"}",    /* no version */
        "{\"v\":2,\"type\":\"action\",\"time\":\"2026-12-02T05:40:01Z\",\"action\":\"fire\"}", /* newer */
        "{\"v\":1,\"type\":\"other\",\"time\":\"2026-12-02T05:40:01Z\"}",
        "{\"v\":1,\"type\":\"action\",\"time\":\"now\",\"action\":\"fire\"}",
        "{\"v\":1,\"type\":\"action\",\"time\":\"2026-12-02T05:40:01Z\"}",
        "{\"v\":1,\"type\":\"snapshot\",\"time\":\"2026-12-02T05:40:01Z\",\"deployments\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(journal_parse_line(bad[i], strlen(bad[i]), &r, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    /* The length bounds the read: a NUL-free prefix is all it sees. */
    const char *ok = "{\"v\":1,\"type\":\"session\",\"time\":\"2026-12-02T05:40:01Z\",\"command\":\"once\"}garbage";
    CHECK_INT(journal_parse_line(ok, strlen(ok) - 7, &r, err, sizeof err), 0);
    CHECK_STR(r.command, "once");
    journal_record_free(&r);
}

/* Names, messages and parameters come from the file: none may add
 * Markdown, HTML or terminal controls to the report. */
static void test_report_escapes_everything_from_the_file(void)
{
    const char *journal =
        LINE(HEAD("action", "2026-12-02T05:40:01Z")
             "\"namespace\":\"demo\",\"action\":\"fire<script>\",\"target\":\"pod/a|b\","
             "\"params\":{\"path\":\"/[x](http://evil)\"},\"ok\":false,\"http_status\":0,"
             "\"message\":\"\\u001b[31mred\\u001b[0m **bold** \\u202eevil\\nnext | cell\"}");
    char *md = journal_report_markdown(journal, strlen(journal), "a`b");
    CHECK(md != NULL);
    if (!md)
        return;
    CHECK_CONTAINS(md, "Journal a\\`b:");
    CHECK_CONTAINS(md, "fire\\<script\\>");
    CHECK_CONTAINS(md, "pod/a\\|b");
    CHECK_CONTAINS(md, "path /\\[x\\]\\(http://evil\\)");
    CHECK_CONTAINS(md, "^\\[\\[31mred^\\[\\[0m \\*\\*bold\\*\\* evil^Jnext \\| cell");
    CHECK(!strchr(md, 0x1b));
    CHECK(!strstr(md, "\xe2\x80\xae"));
    CHECK(!strstr(md, "<script>"));
    free(md);
}

static void test_report_before_and_after(void)
{
    const char *journal =
        LINE(HEAD("snapshot", "2026-12-02T05:40:00Z") "\"namespace\":\"demo\",\"deployments\":["
             "{\"name\":\"cart\",\"pods\":2,\"aborts_total\":10,\"delays_total\":0,\"aborts_per_s\":0.5,"
             "\"delays_per_s\":0,\"observed\":{\"rps\":20,\"error_ratio\":0.025,\"p50_ms\":3,\"p99_ms\":9}}]}")
        /* Another namespace at a closer time: not this action's. */
        LINE(HEAD("snapshot", "2026-12-02T05:40:04Z") "\"namespace\":\"other\",\"deployments\":["
             "{\"name\":\"cart\",\"aborts_total\":999}]}")
        LINE(HEAD("action", "2026-12-02T05:40:05Z") "\"namespace\":\"demo\",\"action\":\"fire\","
             "\"target\":\"service/cart\",\"params\":{\"abort_status\":503,\"count\":20},\"ok\":true,"
             "\"message\":\"fired 20\"}")
        LINE("{\"v\":1, this line is broken")
        /* Written late by another process: time, not file order, decides. */
        LINE(HEAD("snapshot", "2026-12-02T05:40:20Z") "\"namespace\":\"demo\",\"deployments\":["
             "{\"name\":\"cart\",\"aborts_total\":50}]}")
        LINE(HEAD("snapshot", "2026-12-02T05:40:10Z") "\"namespace\":\"demo\",\"window_s\":60,\"deployments\":["
             "{\"name\":\"cart\",\"pods\":2,\"aborts_total\":30,\"delays_total\":0,\"aborts_per_s\":2,"
             "\"delays_per_s\":0,\"observed\":{\"rps\":21,\"error_ratio\":0.5,\"p50_ms\":3,\"p99_ms\":12}},"
             "{\"name\":\"checkout\",\"aborts_total\":1}]}");
    char *md = journal_report_markdown(journal, strlen(journal), "j");
    CHECK(md != NULL);
    if (!md)
        return;
    CHECK_CONTAINS(md, "1 action and 4 snapshots, from 2026-12-02 05:40:00 to 2026-12-02 05:40:20 UTC");
    CHECK_CONTAINS(md, "1 line skipped: not journal records (the first, line 4: not a JSON object)");
    CHECK_CONTAINS(md, "| 05:40:05 | 1. fire | service/cart | ok: fired 20 |");
    CHECK_CONTAINS(md, "- parameters: abort\\_status 503, count 20");
    CHECK_CONTAINS(md, "Before: snapshot at 05:40:00 (5 s before). After: snapshot at 05:40:10 (5 s after; rates "
                       "over 60 s).");
    CHECK_CONTAINS(md, "| deployment | aborts | aborts/s | delays | delays/s | observed req/s | error ratio |");
    CHECK_CONTAINS(md, "| cart | 10 → 30 (+20) | 0.50 → 2.00 | 0 → 0 (+0) | 0.00 → 0.00 | 20.00 → 21.00 | "
                       "0.025 → 0.500 | 3.0 → 3.0 | 9.0 → 12.0 |");
    CHECK_CONTAINS(md, "| checkout | - → 1 | - → - |");
    CHECK(!strstr(md, "999"));
    free(md);
}

static void test_report_bounds(void)
{
    /* A line over the limit is skipped, not parsed. */
    size_t big = JOURNAL_MAX_LINE + 100;
    char *buf = malloc(big + 200);
    CHECK(buf != NULL);
    if (!buf)
        return;
    int n = snprintf(buf, 200, HEAD("session", "2026-12-02T05:40:00Z") "\"command\":\"");
    memset(buf + n, 'x', big);
    strcpy(buf + n + big, "\"}\n");
    char *md = journal_report_markdown(buf, strlen(buf), "big");
    CHECK_CONTAINS(md, "1 line skipped: not journal records (the first, line 1: longer than 1048576 bytes)");
    free(md);
    free(buf);

    /* Deployments per snapshot are capped, and the report says how many
     * were left out. */
    size_t cap = 64 + 300 * 40;
    buf = malloc(cap);
    size_t used = (size_t)snprintf(buf, cap, HEAD("snapshot", "2026-12-02T05:40:00Z") "\"deployments\":[");
    for (int k = 0; k < 300; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s{\"name\":\"d%d\"}", k ? "," : "", k);
    snprintf(buf + used, cap - used, "]}\n");
    struct journal_record r;
    char err[200];
    CHECK_INT(journal_parse_line(buf, strlen(buf) - 1, &r, err, sizeof err), 0);
    CHECK_INT(r.n_deployments, JOURNAL_MAX_DEPLOYMENTS);
    CHECK_INT(r.deployments_left_out, 300 - JOURNAL_MAX_DEPLOYMENTS);
    journal_record_free(&r);
    md = journal_report_markdown(buf, strlen(buf), "wide");
    CHECK_CONTAINS(md, "44 deployment entries of snapshots were left out");
    free(md);
    free(buf);
}

int main(void)
{
    RUN(test_default_path);
    RUN(test_writer_modes_and_records);
    RUN(test_open_failure_names_the_file);
    RUN(test_time);
    RUN(test_parse_line_rejects);
    RUN(test_report_escapes_everything_from_the_file);
    RUN(test_report_before_and_after);
    RUN(test_report_bounds);
    TEST_MAIN_END();
}
