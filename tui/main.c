/* hfitop: the fault-injection plugin's metrics across a mesh. This file is
 * the command line: flags as kubectl spells them, the headless commands
 * (--once, stats, doctor, fire and the actions), each over tui/app. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/actions.h"
#include "app/app.h"
#include "app/doctor.h"
#include "app/istio.h"
#include "app/journal.h"
#include "app/journal_report.h"
#include "app/policy.h"
#include "app/prom_source.h"
#include "app/report.h"
#include "help.h"
#include "kube/kube.h"
#include "stats/prom_parse.h"
#include "stats/text.h"
#include "ui/ui.h"
#include "version.h"

/* A Prometheus dump, a policy or a manifest read whole. */
#define MAX_INPUT_BYTES (64u << 20)
#define DEFAULT_MAX_SCRAPE_MB 4
#define EXIT_PROBLEMS 1
#define EXIT_USAGE 2 /* also: could not look */
/* How long a headless command waits for the cluster before giving up. */
#define HEADLESS_DEADLINE_MS 120000
#define DOCTOR_ROUNDS 2 /* two scrapes per sidecar: one alone cannot show a flaky one */
/* A --once round the request budget stretches beyond this is announced
 * (the console says it in its header). */
#define BUDGET_NOTICE_S 5

/* How the user called us: "hfitop", or "kubectl hfitop" as a plugin. */
static const char *program = "hfitop";

struct cli {
    const char *kubeconfig, *context, *ns, *selector;
    int interval_s, max_inflight, max_scrape_mb;
    int window_s;
    bool window_given;
    bool readonly, once, no_color;
    bool rules; /* doctor --rules */
    const char *output;
    const char *envoyfilter_file;
    const char *wasmplugin;
    const char *journal;
    bool no_journal;
    const char *words[4]; /* the command and its operands */
    int n_words;
    int abort_status;
    long delay_ms;
    int count;
    const char *path;
    long for_seconds; /* policy apply --for */
    bool dry_run, all, yes;
    double max_qps; /* the request budget towards the API server */
    struct prom_source_options prometheus; /* url NULL: the pod-proxy mode */
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hfitop: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(%s --help lists the commands and flags)\n", program);
    return EXIT_USAGE;
}

static bool parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "10s", "1m", "90s", "5m": whole seconds or minutes, 1 s to 5 min. */
static bool parse_window(const char *text, int *seconds)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || v <= 0 || v > APP_MAX_WINDOW_S)
        return false;
    if (strcmp(end, "m") == 0)
        v *= 60;
    else if (strcmp(end, "s") != 0)
        return false;
    if (v > APP_MAX_WINDOW_S)
        return false;
    *seconds = (int)v;
    return true;
}

/* A flag's value, from "--flag=value" or the next argument. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag, bool *bad)
{
    const char *arg = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

static bool flag_is(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || (arg[n] == '=' && flag[1] == '-'));
}

static int parse_cli(int argc, char **argv, struct cli *c)
{
    memset(c, 0, sizeof *c);
    c->interval_s = APP_DEFAULT_INTERVAL_S;
    c->max_inflight = APP_DEFAULT_MAX_INFLIGHT;
    c->window_s = APP_DEFAULT_WINDOW_S;
    c->max_qps = APP_DEFAULT_MAX_QPS;
    c->max_scrape_mb = DEFAULT_MAX_SCRAPE_MB;
    c->count = 1;
    static const struct {
        const char *flag, *alias;
    } string_flags[] = {{"--kubeconfig", NULL}, {"--context", NULL},     {"--namespace", "-n"},
                        {"--selector", "-l"},   {"--envoyfilter", NULL}, {"--output", "-o"},
                        {"--path", NULL},       {"--wasmplugin", NULL},
                        {"--journal", NULL},    {"--prometheus", NULL},
                        {"--prometheus-bearer-token-file", NULL}, {"--prometheus-ca", NULL},
                        {"--prometheus-pod-label", NULL}, {"--prometheus-namespace-label", NULL}};
    const char **string_targets[] = {&c->kubeconfig, &c->context,  &c->ns,   &c->selector,
                                     &c->envoyfilter_file, &c->output, &c->path, &c->wasmplugin,
                                     &c->journal, &c->prometheus.url, &c->prometheus.bearer_token_file,
                                     &c->prometheus.ca_file, &c->prometheus.pod_label,
                                     &c->prometheus.namespace_label};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool bad = false, matched = false;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help_print_usage(stdout, program);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("hfitop %s\n", HFITOP_VERSION);
            exit(0);
        }
        for (size_t k = 0; k < sizeof string_flags / sizeof string_flags[0] && !matched; k++) {
            if (flag_is(a, string_flags[k].flag) || (string_flags[k].alias && strcmp(a, string_flags[k].alias) == 0)) {
                matched = true;
                *string_targets[k] = flag_value(argc, argv, &i, string_flags[k].flag, &bad);
                if (bad)
                    return usage_error("%s needs a value", a);
                if (!**string_targets[k])
                    return usage_error("%s needs a non-empty value", a);
            }
        }
        if (matched)
            continue;
        long v;
        const char *value;
        if (strcmp(a, "--once") == 0) {
            c->once = true;
        } else if (strcmp(a, "--readonly") == 0) {
            c->readonly = true;
        } else if (strcmp(a, "--rules") == 0) {
            c->rules = true;
        } else if (strcmp(a, "--no-color") == 0) {
            c->no_color = true;
        } else if (strcmp(a, "--no-journal") == 0) {
            c->no_journal = true;
        } else if (strcmp(a, "--prometheus-insecure-skip-tls-verify") == 0) {
            c->prometheus.insecure_skip_tls_verify = true;
        } else if (flag_is(a, "--prometheus-header")) {
            if (!(value = flag_value(argc, argv, &i, "--prometheus-header", &bad)) || !strchr(value, ':') ||
                value[0] == ':')
                return usage_error("--prometheus-header wants NAME:VALUE (X-Scope-OrgID:tenant), got \"%s\"",
                                   value ? value : "");
            if (c->prometheus.header_count == PROM_SOURCE_MAX_HEADERS)
                return usage_error("--prometheus-header: at most %d", PROM_SOURCE_MAX_HEADERS);
            c->prometheus.headers[c->prometheus.header_count++] = value;
        } else if (flag_is(a, "--max-qps")) {
            if (!(value = flag_value(argc, argv, &i, "--max-qps", &bad)) || !parse_long(value, 1, 10000, &v))
                return usage_error("--max-qps wants requests per second from 1 to 10000, got \"%s\"",
                                   value ? value : "");
            c->max_qps = (double)v;
        } else if (strcmp(a, "--dry-run") == 0) {
            c->dry_run = true;
        } else if (strcmp(a, "--all") == 0) {
            c->all = true;
        } else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
            c->yes = true;
        } else if (flag_is(a, "--for")) {
            if (!(value = flag_value(argc, argv, &i, "--for", &bad)) || !app_parse_duration(value, &v) || v <= 0)
                return usage_error("--for wants a duration with its unit (90s, 5m, 1h, 1h30m), got \"%s\"",
                                   value ? value : "");
            c->for_seconds = v;
        } else if (flag_is(a, "--interval")) {
            if (!(value = flag_value(argc, argv, &i, "--interval", &bad)) || !parse_long(value, 1, 3600, &v))
                return usage_error("--interval wants whole seconds from 1 to 3600, got \"%s\"", value ? value : "");
            c->interval_s = (int)v;
        } else if (flag_is(a, "--window")) {
            if (!(value = flag_value(argc, argv, &i, "--window", &bad)) || !parse_window(value, &c->window_s))
                return usage_error("--window wants a duration from 1s to 5m such as 10s, 1m or 5m, got \"%s\"",
                                   value ? value : "");
            c->window_given = true;
        } else if (flag_is(a, "--max-inflight")) {
            if (!(value = flag_value(argc, argv, &i, "--max-inflight", &bad)) || !parse_long(value, 1, 1024, &v))
                return usage_error("--max-inflight wants a number from 1 to 1024, got \"%s\"", value ? value : "");
            c->max_inflight = (int)v;
        } else if (flag_is(a, "--max-scrape-mb")) {
            if (!(value = flag_value(argc, argv, &i, "--max-scrape-mb", &bad)) || !parse_long(value, 1, 256, &v))
                return usage_error("--max-scrape-mb wants megabytes from 1 to 256, got \"%s\"", value ? value : "");
            c->max_scrape_mb = (int)v;
        } else if (flag_is(a, "--abort")) {
            if (!(value = flag_value(argc, argv, &i, "--abort", &bad)) || !parse_long(value, 200, 599, &v))
                return usage_error("--abort wants an HTTP status from 200 to 599, got \"%s\"", value ? value : "");
            c->abort_status = (int)v;
        } else if (flag_is(a, "--delay-ms")) {
            if (!(value = flag_value(argc, argv, &i, "--delay-ms", &bad)) || !parse_long(value, 1, 600000, &v))
                return usage_error("--delay-ms wants milliseconds from 1 to 600000, got \"%s\"",
                                   value ? value : "");
            c->delay_ms = v;
        } else if (flag_is(a, "--count")) {
            if (!(value = flag_value(argc, argv, &i, "--count", &bad)) || !parse_long(value, 1, APP_FIRE_MAX_COUNT, &v))
                return usage_error("--count wants a number from 1 to %d, got \"%s\"", APP_FIRE_MAX_COUNT,
                                   value ? value : "");
            c->count = (int)v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown flag %s", a);
        } else if (c->n_words < 4) {
            c->words[c->n_words++] = a;
        } else {
            return usage_error("too many arguments, from \"%s\" on", a);
        }
    }
    bool prometheus_detail = c->prometheus.bearer_token_file || c->prometheus.ca_file || c->prometheus.pod_label ||
                             c->prometheus.namespace_label || c->prometheus.header_count ||
                             c->prometheus.insecure_skip_tls_verify;
    if (prometheus_detail && !c->prometheus.url)
        return usage_error("the --prometheus-* flags go with --prometheus URL");
    if (c->output && strcmp(c->output, "json") != 0 && strcmp(c->output, "table") != 0)
        return usage_error("-o wants json or table, got \"%s\"", c->output);
    if (c->once && c->n_words)
        return usage_error("--once takes no command, got \"%s\"", c->words[0]);
    bool policy_listing = c->n_words >= 2 && strcmp(c->words[0], "policy") == 0 &&
                          (strcmp(c->words[1], "list") == 0 || strcmp(c->words[1], "show") == 0);
    bool json_command = c->n_words && (strcmp(c->words[0], "doctor") == 0 || strcmp(c->words[0], "fire") == 0);
    if (c->output && !c->once && !policy_listing && !json_command)
        return usage_error("-o goes with --once, doctor, fire, policy list and policy show");
    if (c->output && json_command && strcmp(c->output, "json") != 0)
        return usage_error("%s -o wants json, got \"%s\"", c->words[0], c->output);
    return 0;
}

/* ---- the session journal ---- */

/* Every command that looks at or changes the cluster appends to it. */
static struct app_journal *journal;

static const char *context_name(const struct kube_connection *conn)
{
    return conn->context && *conn->context ? conn->context : "in-cluster";
}

/* --journal names a file the user wants: failing to open it stops the
 * command. The default one is a convenience: a warning, and on. */
static int journal_start(const struct cli *c, const struct kube_connection *conn)
{
    if (c->no_journal)
        return 0;
    char path[4096], err[600];
    bool chosen = c->journal != NULL;
    if (chosen)
        snprintf(path, sizeof path, "%s", c->journal);
    else if (app_journal_default_path(time(NULL), path, sizeof path) != 0) {
        fprintf(stderr, "hfitop: warning: no journal: neither XDG_STATE_HOME nor HOME is an absolute path\n");
        return 0;
    }
    journal = app_journal_open(path, err, sizeof err);
    if (!journal) {
        fprintf(stderr, "hfitop: %s%s\n", chosen ? "" : "warning: ", err);
        return chosen ? EXIT_USAGE : 0;
    }
    app_journal_set_identity(journal, context_name(conn), conn->user_name);
    app_actions_observe(app_journal_observe_action, journal);
    return 0;
}

static void journal_stop(void)
{
    const char *err = app_journal_take_error(journal);
    if (err)
        fprintf(stderr, "hfitop: warning: %s\n", err);
    app_actions_observe(NULL, NULL);
    app_journal_close(journal);
    journal = NULL;
}

/* ---- what reaches the terminal ---- */

/* Every byte hfitop writes passes here, so text the cluster chose (pod
 * names, error bodies, a Status message) can never drive the terminal: a
 * stdio stream over the file descriptor that shows control characters
 * visibly, keeping our own newlines and tabs (tui/stats/text.h). */
struct safe_stream {
    int fd;
    char carry[4]; /* the start of a UTF-8 character split across writes */
    size_t n_carry;
};

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static ssize_t safe_stream_write(void *cookie, const char *buf, size_t size)
{
    struct safe_stream *s = cookie;
    enum { CHUNK = 4096 };
    char in[CHUNK + sizeof s->carry], out[4 * sizeof in + 1];
    size_t done = 0;
    while (done < size) {
        size_t n = s->n_carry, take = size - done < CHUNK ? size - done : CHUNK;
        memcpy(in, s->carry, n);
        memcpy(in + n, buf + done, take);
        n += take;
        done += take;
        s->n_carry = text_incomplete_tail(in, n);
        memcpy(s->carry, in + n - s->n_carry, s->n_carry);
        size_t m = text_sanitize(in, n - s->n_carry, TEXT_KEEP_LINES, out, sizeof out);
        if (!write_all(s->fd, out, m))
            return -1;
    }
    return (ssize_t)size;
}

static int safe_stream_close(void *cookie)
{
    struct safe_stream *s = cookie;
    char out[32];
    size_t m = text_sanitize(s->carry, s->n_carry, TEXT_KEEP_LINES, out, sizeof out);
    s->n_carry = 0;
    return write_all(s->fd, out, m) ? 0 : -1;
}

/* Replaces *stream by a sanitizing one over the same descriptor; `s` lives
 * as long as the process (the streams are never closed). */
static void make_safe(FILE **stream, struct safe_stream *s, int fd, int buffering)
{
    cookie_io_functions_t io = {.write = safe_stream_write, .close = safe_stream_close};
    FILE *f = fopencookie(s, "w", io);
    if (!f)
        return;
    s->fd = fd;
    fflush(*stream);
    setvbuf(f, NULL, buffering, 0);
    *stream = f;
}

/* Our JSON, with whatever the cluster put in its strings made safe for a
 * terminal; it stays the same JSON. NULL prints nothing. */
static void put_json(const char *json)
{
    if (!json)
        return;
    char *safe = text_json_safe_dup(json);
    if (safe)
        printf("%s\n", safe);
    else
        fprintf(stderr, "hfitop: out of memory\n");
    free(safe);
}

/* ---- the cluster connection ---- */

struct session {
    struct kube_connection conn;
    struct kube_client *client;
    struct prom_source *prometheus; /* --prometheus, else NULL */
};

/* Opens the connection the flags select; a message in err on failure. The
 * warning (insecure TLS) is printed by the caller, who knows whether the
 * terminal is in curses mode. */
static int session_open(const struct cli *c, struct session *s, char *err, size_t err_size)
{
    memset(s, 0, sizeof *s);
    struct kube_load_options opts = {.kubeconfig_flag = c->kubeconfig, .context_flag = c->context,
                                     .namespace_flag = c->ns};
    kube_load_options_from_env(&opts);
    struct kube_error e = {0};
    if (kube_connection_load(&opts, &s->conn, &e) != 0) {
        snprintf(err, err_size, "%s", e.message);
        return EXIT_USAGE;
    }
    s->conn.stdin_is_terminal = isatty(0);
    s->client = kube_client_new(&s->conn, &e);
    if (!s->client) {
        snprintf(err, err_size, "%s", e.message);
        kube_connection_free(&s->conn);
        return EXIT_USAGE;
    }
    kube_client_set_proxy_max_body(s->client, (size_t)c->max_scrape_mb << 20);
    kube_client_set_budget(s->client, c->max_qps, c->max_qps);
    if (c->prometheus.url && !(s->prometheus = prom_source_new(s->client, &c->prometheus, err, err_size))) {
        kube_client_free(s->client);
        kube_connection_free(&s->conn);
        s->client = NULL;
        return EXIT_USAGE;
    }
    return 0;
}

/* Safe on a session already closed and zeroed. */
static void session_close(struct session *s)
{
    if (!s->client)
        return;
    prom_source_free(s->prometheus);
    kube_client_free(s->client);
    kube_connection_free(&s->conn);
}

/* ---- --once and doctor: look at every pod ---- */

struct look {
    struct app *app;
    struct app_istio_resources istio;
    bool want_istio;
};

static bool look_done(void *user);

/* Listed (or failed to list): the pods to scrape are known. */
static bool look_listed(void *user)
{
    struct look *l = user;
    return app_synced(l->app) || look_done(user);
}

/* A --once scrape of every pod goes through the API server's pod proxy,
 * one request per pod under the token bucket of --max-qps (full at the
 * start: a burst of max_qps requests, then max_qps a second). A round
 * that takes long says so once, rather than looking stuck. */
static void say_budget(const struct cli *c, const struct app *app)
{
    size_t pods = 0;
    for (size_t k = 0; k < app_pod_count(app); k++)
        pods += app_pod_scrapable(&app_pod_at(app, k)->pod);
    double round_s = (double)pods > c->max_qps ? ((double)pods - c->max_qps) / c->max_qps : 0;
    if (round_s <= BUDGET_NOTICE_S)
        return;
    fprintf(stderr,
            "hfitop: scraping %zu pods through the API server at the request budget of %.0f/s takes about %.0f s%s; "
            "--prometheus URL reads them from Prometheus instead, a higher --max-qps goes faster\n",
            pods, c->max_qps, ceil(round_s), c->window_given ? " a round (two rounds with --window)" : "");
}

static bool look_done(void *user)
{
    struct look *l = user;
    /* A list that fails before the first sync will not get better soon. */
    if (!app_synced(l->app) && app_watch_error(l->app))
        return true;
    return app_rounds_complete(l->app) && (!l->want_istio || l->istio.pending == 0);
}

/* via_prometheus: the model from --prometheus when given (--once), else
 * from the sidecars with the time the budget takes announced; without
 * it, from the sidecars (doctor, which then compares with Prometheus). */
static int look(const struct cli *c, struct session *s, int rounds, bool want_istio, bool via_prometheus,
                struct look *l)
{
    memset(l, 0, sizeof *l);
    struct app_options o = {.namespace = s->conn.namespace, .label_selector = c->selector,
                            .interval_s = c->interval_s, .max_inflight = c->max_inflight, .rounds_only = true,
                            .window_s = c->window_s, .prometheus = via_prometheus ? s->prometheus : NULL};
    if (o.prometheus)
        prom_source_want_details(s->prometheus, NULL, NULL, 0, PROM_WANT_ALL_PODS); /* every pod is printed */
    l->app = app_new(s->client, &o);
    if (!l->app || app_start(l->app) != 0) {
        fprintf(stderr, "hfitop: out of memory\n");
        return EXIT_USAGE;
    }
    for (int i = 0; i < rounds; i++)
        app_request_round(l->app);
    l->want_istio = want_istio;
    if (want_istio)
        app_istio_fetch(s->client, s->conn.namespace, &l->istio);
    int64_t deadline_ms = app_now_ms() + HEADLESS_DEADLINE_MS;
    bool finished = app_wait(s->client, l->app, HEADLESS_DEADLINE_MS, look_listed, l);
    if (finished && via_prometheus && !s->prometheus && app_synced(l->app))
        say_budget(c, l->app);
    finished = finished && app_wait(s->client, l->app, (int)(deadline_ms - app_now_ms()), look_done, l);
    /* Outstanding Istio lists point into *l: let them land first. */
    while (l->istio.pending)
        kube_client_wait(s->client, 100);
    if (!app_synced(l->app)) {
        const struct kube_error *e = app_watch_error(l->app);
        fprintf(stderr, "hfitop: could not list pods in namespace %s: %s\n", s->conn.namespace,
                e ? e->message : "no answer in time");
        return EXIT_USAGE;
    }
    if (!finished) {
        fprintf(stderr, "hfitop: not every sidecar answered within %d s\n", HEADLESS_DEADLINE_MS / 1000);
        return EXIT_USAGE;
    }
    return 0;
}

static void look_free(struct look *l)
{
    app_free(l->app);
    app_istio_resources_free(&l->istio);
}

static bool never(void *user)
{
    (void)user;
    return false;
}

/* With --window, a second round one window after the first, so that every
 * rate and quantile is defined. A pod's two scrapes may be a little more
 * than the window apart (the rounds do not visit pods at the same pace):
 * the rates are then taken over the window widened by the first round's
 * duration, and each pod's window_seconds says what its samples span. */
static int second_round(const struct cli *c, struct session *s, struct look *l, int64_t started_ms)
{
    int64_t first_round_ms = app_now_ms() - started_ms;
    app_wait(s->client, l->app, c->window_s * 1000, never, NULL);
    app_request_round(l->app);
    if (!app_wait(s->client, l->app, HEADLESS_DEADLINE_MS, look_done, l)) {
        fprintf(stderr, "hfitop: not every sidecar answered within %d s\n", HEADLESS_DEADLINE_MS / 1000);
        return EXIT_USAGE;
    }
    app_set_window(l->app, c->window_s + (int)(first_round_ms / 1000) + 1);
    return 0;
}

static int cmd_once(const struct cli *c, struct session *s)
{
    struct look l;
    int64_t started_ms = app_now_ms();
    int rc = look(c, s, 1, false, true, &l);
    if (rc == 0 && c->window_given)
        rc = second_round(c, s, &l, started_ms);
    if (rc == 0 && s->prometheus && prom_source_state(s->prometheus) != PROM_SOURCE_OK) {
        /* Every counter would print as unknown: say why instead. */
        fprintf(stderr, "hfitop: %s\n", prom_source_error(s->prometheus));
        rc = EXIT_USAGE;
    }
    if (rc == 0) {
        app_journal_snapshot(journal, l.app, s->conn.namespace);
        time_t now = time(NULL);
        if (c->output && strcmp(c->output, "json") == 0) {
            char *json = app_report_json(l.app, now);
            put_json(json);
            free(json);
            rc = json ? 0 : EXIT_USAGE;
        } else {
            app_report_table(l.app, now, stdout);
        }
    }
    look_free(&l);
    return rc;
}

static bool prometheus_idle(void *user)
{
    return !prom_source_busy(user);
}

/* One refresh of every pod's series, for the doctor to compare with what
 * the sidecars serve. */
static void prometheus_once(struct session *s)
{
    prom_source_set_namespace(s->prometheus, s->conn.namespace);
    prom_source_want_details(s->prometheus, NULL, NULL, 0, PROM_WANT_ROWS);
    prom_source_refresh(s->prometheus);
    app_wait(s->client, NULL, HEADLESS_DEADLINE_MS, prometheus_idle, s->prometheus);
}

static int cmd_doctor(const struct cli *c, struct session *s)
{
    struct look l;
    int rc = look(c, s, DOCTOR_ROUNDS, true, false, &l);
    if (rc == 0 && s->prometheus)
        prometheus_once(s);
    if (rc == 0 && l.istio.failed_401) {
        fprintf(stderr, "hfitop: could not read WasmPlugins and EnvoyFilters: %s\n", l.istio.error.message);
        rc = EXIT_USAGE;
    }
    if (rc == 0) {
        app_journal_snapshot(journal, l.app, s->conn.namespace);
        struct doctor_evidence ev = {.wasmplugins = l.istio.wasmplugins, .envoyfilters = l.istio.envoyfilters,
                                     .now = time(NULL), .user = s->conn.user_name, .prometheus = s->prometheus};
        struct doctor_report report;
        doctor_run(l.app, &ev, &report);
        char scope[300];
        snprintf(scope, sizeof scope, "namespace %s%s%s", s->conn.namespace, c->selector ? ", selector " : "",
                 c->selector ? c->selector : "");
        char skipped[700] = "";
        if (!l.istio.wasmplugins)
            snprintf(skipped, sizeof skipped,
                     "WasmPlugins could not be read (%s); the checks that need them were skipped",
                     l.istio.error.message);
        if (c->output) {
            cJSON *json = doctor_report_json(&report, scope);
            cJSON *warnings = cJSON_AddArrayToObject(json, "warnings");
            if (skipped[0])
                cJSON_AddItemToArray(warnings, cJSON_CreateString(skipped));
            char *text = cJSON_Print(json);
            put_json(text);
            free(text);
            cJSON_Delete(json);
        } else {
            doctor_print(&report, scope, stdout);
            if (skipped[0])
                printf("note: %s\n", skipped);
        }
        rc = doctor_exit_code(&report);
        doctor_report_free(&report);
    }
    look_free(&l);
    return rc;
}

/* ---- stats ---- */

/* The whole file (or standard input for "-"); -1 with errno set, EFBIG
 * past `max` bytes. */
static int read_all(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    bool too_big = false;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (n > max) {
            too_big = true;
            break;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    bool failed = ferror(f) || !buf || too_big;
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        errno = too_big ? EFBIG : errno ? errno : ENOMEM;
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

static void report_unreadable(const char *path)
{
    if (errno == EFBIG)
        fprintf(stderr, "hfitop: cannot read %s: larger than %u MB\n", path, MAX_INPUT_BYTES >> 20);
    else
        fprintf(stderr, "hfitop: cannot read %s: %s\n", path, strerror(errno));
}

static int cmd_stats(const struct cli *c)
{
    if (c->n_words != 2)
        return usage_error("stats wants one FILE (or - for standard input)");
    char *data;
    size_t len;
    if (read_all(c->words[1], MAX_INPUT_BYTES, &data, &len) != 0) {
        report_unreadable(c->words[1]);
        return EXIT_USAGE;
    }
    prom_parse_stats seen;
    prom_parse(data, len, NULL, &seen);
    if (!seen.samples) {
        fprintf(stderr, "hfitop: %s holds no Prometheus samples (%zu lines%s); expected a sidecar's "
                        "/stats/prometheus dump\n",
                c->words[1], seen.lines, seen.garbage_lines ? ", none readable" : "");
        free(data);
        return EXIT_PROBLEMS;
    }
    hfi_metrics m;
    struct app_proxy_stats proxy;
    app_parse_stats(data, len, &m, &proxy);
    free(data);
    char *json = hfi_metrics_to_json(&m);
    if (!json)
        return EXIT_USAGE;
    put_json(json);
    free(json);
    return 0;
}

/* ---- report ---- */

/* A journal larger than this is not one hfitop wrote in a session. */
#define REPORT_MAX_FILE (256u << 20)

static int cmd_report(const struct cli *c)
{
    if (c->n_words != 2)
        return usage_error("report wants one FILE (a journal; - for standard input)");
    char *data;
    size_t len;
    if (read_all(c->words[1], REPORT_MAX_FILE, &data, &len) != 0) {
        fprintf(stderr, "hfitop: cannot read %s: %s\n", c->words[1],
                errno == EFBIG ? "larger than 256 MiB" : strerror(errno));
        return EXIT_USAGE;
    }
    char *markdown = journal_report_markdown(data, len, c->words[1]);
    free(data);
    if (!markdown) {
        fprintf(stderr, "hfitop: out of memory\n");
        return EXIT_USAGE;
    }
    fputs(markdown, stdout);
    free(markdown);
    return 0;
}

/* ---- actions ---- */

struct action_wait {
    bool finished;
    struct app_action_result result;
    struct app_fire_tally tally;
};

static bool action_finished(void *user)
{
    return ((struct action_wait *)user)->finished;
}

static void on_action_done(const struct app_action_result *r, void *user)
{
    struct action_wait *w = user;
    w->result = *r;
    w->finished = true;
}

static void on_fire_done(const struct app_action_result *r, const struct app_fire_tally *t, void *user)
{
    struct action_wait *w = user;
    w->result = *r;
    w->tally = *t;
    w->finished = true;
}

static int finish_action(struct session *s, struct action_wait *w)
{
    if (!app_wait(s->client, NULL, HEADLESS_DEADLINE_MS, action_finished, w)) {
        fprintf(stderr, "hfitop: no answer within %d s\n", HEADLESS_DEADLINE_MS / 1000);
        return EXIT_USAGE;
    }
    fprintf(w->result.ok ? stdout : stderr, "%s%s\n", w->result.ok ? "" : "hfitop: ", w->result.message);
    return w->result.ok ? 0 : EXIT_PROBLEMS;
}

static int check_fire(const struct cli *c)
{
    if (c->n_words != 2)
        return usage_error("fire wants one target: POD or svc/NAME");
    if (!c->abort_status == !c->delay_ms)
        return usage_error("fire wants exactly one of --abort STATUS and --delay-ms MS");
    return 0;
}

/* fire -o json: the answer and the tally as one object on standard
 * output, whatever the outcome; the exit code says which. */
static int fire_json(const struct cli *c, struct session *s, const struct app_fire_options *o, struct action_wait *w)
{
    if (!app_wait(s->client, NULL, HEADLESS_DEADLINE_MS, action_finished, w)) {
        fprintf(stderr, "hfitop: no answer within %d s\n", HEADLESS_DEADLINE_MS / 1000);
        return EXIT_USAGE;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(out, "ok", w->result.ok);
    cJSON_AddStringToObject(out, "message", w->result.message);
    cJSON_AddStringToObject(out, "namespace", o->ns);
    char target[300];
    snprintf(target, sizeof target, "%s/%s", o->pod ? "pod" : "service", o->pod ? o->pod : o->service);
    cJSON_AddStringToObject(out, "target", target);
    cJSON *params = cJSON_AddObjectToObject(out, "params");
    if (c->abort_status)
        cJSON_AddNumberToObject(params, "abort_status", c->abort_status);
    if (c->delay_ms)
        cJSON_AddNumberToObject(params, "delay_ms", (double)c->delay_ms);
    cJSON_AddNumberToObject(params, "count", c->count);
    cJSON_AddStringToObject(params, "path", c->path ? c->path : "/");
    cJSON_AddItemToObject(out, "tally", app_journal_tally_json(&w->tally));
    char *text = cJSON_Print(out);
    put_json(text);
    free(text);
    cJSON_Delete(out);
    return w->result.ok ? 0 : EXIT_PROBLEMS;
}

static int cmd_fire(const struct cli *c, struct session *s)
{
    const char *target = c->words[1];
    bool service = strncmp(target, "svc/", 4) == 0 || strncmp(target, "service/", 8) == 0;
    const char *name = service ? strchr(target, '/') + 1 : strncmp(target, "pod/", 4) == 0 ? target + 4 : target;
    struct app_fire_options o = {.ns = s->conn.namespace, .pod = service ? NULL : name,
                                 .service = service ? name : NULL, .path = c->path,
                                 .abort_status = c->abort_status, .delay_ms = c->delay_ms, .count = c->count};
    struct action_wait w = {0};
    app_fire(s->client, &o, on_fire_done, &w);
    if (c->output)
        return fire_json(c, s, &o, &w);
    int rc = finish_action(s, &w);
    if (w.finished && w.tally.answered) {
        printf("latency_ms p50=%.1f p95=%.1f max=%.1f\n", w.tally.p50_ms, w.tally.p95_ms, w.tally.max_ms);
        if (c->abort_status)
            printf("aborted %d of %d\n", w.tally.aborted, w.tally.sent);
    }
    return rc;
}

static int check_envoyfilter(const struct cli *c)
{
    if (c->n_words != 2 || (strcmp(c->words[1], "apply") != 0 && strcmp(c->words[1], "delete") != 0))
        return usage_error("envoyfilter wants apply or delete");
    return 0;
}

static int cmd_envoyfilter(const struct cli *c, struct session *s)
{
    char *manifest = NULL;
    size_t len = app_envoyfilter_manifest_len;
    if (c->envoyfilter_file && read_all(c->envoyfilter_file, MAX_INPUT_BYTES, &manifest, &len) != 0) {
        report_unreadable(c->envoyfilter_file);
        return EXIT_USAGE;
    }
    const char *text = manifest ? manifest : (const char *)app_envoyfilter_manifest;
    struct action_wait w = {0};
    if (strcmp(c->words[1], "apply") == 0)
        app_envoyfilter_apply(s->client, s->conn.namespace, text, len, on_action_done, &w);
    else
        app_envoyfilter_delete(s->client, s->conn.namespace, text, len, NULL, NULL, on_action_done, &w);
    int rc = finish_action(s, &w);
    free(manifest);
    return rc;
}

static int check_deployment_action(const struct cli *c)
{
    if (c->n_words != 2)
        return usage_error("%s wants one DEPLOYMENT", c->words[0]);
    return 0;
}

static int cmd_deployment_action(const struct cli *c, struct session *s)
{
    const char *name = strncmp(c->words[1], "deployment/", 11) == 0 ? c->words[1] + 11 : c->words[1];
    struct action_wait w = {0};
    if (strcmp(c->words[0], "restart") == 0)
        app_restart_deployment(s->client, s->conn.namespace, name, on_action_done, &w);
    else
        app_annotate_stats_inclusion(s->client, s->conn.namespace, name, on_action_done, &w);
    return finish_action(s, &w);
}

static int check_policy(const struct cli *c)
{
    const char *verb = c->n_words >= 2 ? c->words[1] : "";
    bool apply = strcmp(verb, "apply") == 0, remove = strcmp(verb, "remove") == 0;
    bool list = strcmp(verb, "list") == 0, show = strcmp(verb, "show") == 0;
    if (!apply && !remove && !list && !show)
        return usage_error("policy wants apply FILE|-, remove NAME, remove --all, list or show NAME");
    if (remove && c->all ? c->n_words != 2 : (list ? c->n_words != 2 : c->n_words != 3))
        return usage_error("policy %s: wrong number of operands", verb);
    if ((c->for_seconds || c->dry_run) && !apply)
        return usage_error("--for and --dry-run go with policy apply");
    if ((c->all || c->yes) && !remove)
        return usage_error("--all and --yes go with policy remove");
    return 0;
}

struct policy_wait {
    bool finished;
    struct app_action_result result;
    char wasmplugin[254];
    int policies_before;
    cJSON *config; /* the resulting (or read) pluginConfig */
    bool items_seen; /* keep a copy of every WasmPlugin read, in items */
    cJSON *items;
};

static bool policy_finished(void *user)
{
    return ((struct policy_wait *)user)->finished;
}

static void on_policy_done(const struct app_policy_outcome *o, void *user)
{
    struct policy_wait *w = user;
    w->result = o->result;
    snprintf(w->wasmplugin, sizeof w->wasmplugin, "%s", o->wasmplugin);
    w->policies_before = o->policies_before;
    w->config = o->plugin_config ? cJSON_Duplicate(o->plugin_config, 1) : NULL;
    w->items = w->items_seen && o->items ? cJSON_Duplicate(o->items, 1) : NULL;
    w->finished = true;
}

/* Runs one change to its end; prints its failure. 0, or an exit code. */
static int policy_run(struct session *s, const struct app_policy_change *ch, struct policy_wait *w)
{
    bool items_seen = w->items_seen;
    memset(w, 0, sizeof *w);
    w->items_seen = items_seen;
    app_policy_change(s->client, ch, on_policy_done, w);
    if (!app_wait(s->client, NULL, HEADLESS_DEADLINE_MS, policy_finished, w)) {
        fprintf(stderr, "hfitop: no answer within %d s\n", HEADLESS_DEADLINE_MS / 1000);
        return EXIT_USAGE;
    }
    if (!w->result.ok) {
        fprintf(stderr, "hfitop: %s\n", w->result.message);
        return EXIT_PROBLEMS;
    }
    return 0;
}

static const cJSON *find_policy(const cJSON *config, const char *name)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(config, "policies"))
    {
        const cJSON *n = app_json_path(p, "metadata.name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return p;
    }
    return NULL;
}

static void print_policy(const cJSON *p, time_t now)
{
    const cJSON *name = app_json_path(p, "metadata.name"), *service = app_json_path(p, "spec.selector.service");
    const cJSON *ns = app_json_path(p, "spec.selector.namespace");
    const cJSON *start = app_json_path(p, "spec.start_time"), *end = app_json_path(p, "spec.end_time");
    char window[80], rule_text[600];
    app_policy_window(p, now, window, sizeof window);
    printf("policy %s\n", cJSON_IsString(name) ? name->valuestring : "?");
    printf("  selects   workload %s, namespace %s\n", cJSON_IsString(service) && service->valuestring[0] ? service->valuestring : "any",
           cJSON_IsString(ns) && ns->valuestring[0] ? ns->valuestring : "any");
    printf("  window    %s (start_time %s, end_time %s)\n", window, cJSON_IsString(start) ? start->valuestring : "-",
           cJSON_IsString(end) ? end->valuestring : "-");
    int k = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, app_json_path(p, "spec.rules"))
    {
        app_policy_rule_text(rule, rule_text, sizeof rule_text);
        printf("  rule %-4d %s\n", ++k, rule_text);
    }
}

static int policy_list(const struct cli *c, const struct policy_wait *w)
{
    time_t now = time(NULL);
    bool json = c->output && strcmp(c->output, "json") == 0;
    const cJSON *policies = cJSON_GetObjectItemCaseSensitive(w->config, "policies");
    if (strcmp(c->words[1], "show") == 0) {
        const cJSON *p = find_policy(w->config, c->words[2]);
        if (!p) {
            fprintf(stderr, "hfitop: WasmPlugin %s has no policy named %s\n", w->wasmplugin, c->words[2]);
            return EXIT_PROBLEMS;
        }
        if (json) {
            char *text = cJSON_Print(p);
            put_json(text ? text : "null");
            free(text);
        } else {
            print_policy(p, now);
        }
        return 0;
    }
    if (json) {
        cJSON *out = cJSON_CreateArray();
        const cJSON *p;
        cJSON_ArrayForEach(p, policies)
        {
            char window[80];
            app_policy_window(p, now, window, sizeof window);
            cJSON *item = cJSON_Duplicate(p, 1);
            cJSON_AddStringToObject(item, "window", window);
            cJSON_AddItemToArray(out, item);
        }
        char *text = cJSON_Print(out);
        put_json(text ? text : "[]");
        free(text);
        cJSON_Delete(out);
        return 0;
    }
    printf("WasmPlugin %s: %d polic%s\n", w->wasmplugin, cJSON_GetArraySize(policies),
           cJSON_GetArraySize(policies) == 1 ? "y" : "ies");
    printf("%-28s %-14s %5s  %s\n", "NAME", "WORKLOAD", "RULES", "WINDOW");
    const cJSON *p;
    cJSON_ArrayForEach(p, policies)
    {
        const cJSON *name = app_json_path(p, "metadata.name"), *service = app_json_path(p, "spec.selector.service");
        char window[80];
        app_policy_window(p, now, window, sizeof window);
        printf("%-28s %-14s %5d  %s\n", cJSON_IsString(name) ? name->valuestring : "?",
               cJSON_IsString(service) && service->valuestring[0] ? service->valuestring : "any",
               cJSON_GetArraySize(app_json_path(p, "spec.rules")), window);
    }
    return 0;
}

/* ---- after the kill switch: did every sidecar stop? ---- */

static bool rounds_done(void *user)
{
    return app_rounds_complete(user);
}

static struct app_halt_pod *halt_pod_for(struct app_halt_pod **pods, size_t *n, const char *name)
{
    for (size_t k = 0; k < *n; k++)
        if (strcmp((*pods)[k].name, name) == 0)
            return &(*pods)[k];
    struct app_halt_pod *grown = realloc(*pods, (*n + 1) * sizeof **pods);
    if (!grown)
        return NULL;
    *pods = grown;
    app_halt_follow(&grown[*n], name, 0);
    return &grown[(*n)++];
}

/* Scrapes every sidecar a few times and says, per pod, whether faults
 * stopped: no rule loaded, and no new fault between two scrapes. */
static int watch_faults_stop(const struct cli *c, struct session *s)
{
    struct app_options o = {.namespace = s->conn.namespace, .label_selector = c->selector,
                            .interval_s = c->interval_s, .max_inflight = c->max_inflight, .rounds_only = true};
    struct app *app = app_new(s->client, &o);
    if (!app || app_start(app) != 0) {
        app_free(app);
        fprintf(stderr, "hfitop: out of memory\n");
        return EXIT_USAGE;
    }
    struct app_halt_pod *pods = NULL;
    size_t n = 0;
    printf("watching the fault counters of every sidecar in %s (up to %d scrapes, %d s apart)\n", s->conn.namespace,
           APP_HALT_SCRAPES, c->interval_s);
    fflush(stdout);
    bool all_stopped = false;
    for (int round = 0; round < APP_HALT_SCRAPES && !all_stopped; round++) {
        if (round)
            app_wait(s->client, app, c->interval_s * 1000, never, NULL);
        app_request_round(app);
        app_wait(s->client, app, HEADLESS_DEADLINE_MS, rounds_done, app);
        all_stopped = true;
        for (size_t k = 0; k < app_pod_count(app); k++) {
            const struct app_pod *ap = app_pod_at(app, k);
            /* A Terminating pod is gone before its verdict could settle. */
            if (!app_pod_scrapable(&ap->pod) || ap->pod.deleting || !ap->scraped || ap->failing)
                continue;
            struct app_halt_pod *p = halt_pod_for(&pods, &n, ap->pod.name);
            if (!p)
                continue;
            const hfi_metrics *m = &ap->metrics;
            app_halt_scraped(p, ap->attempts - ap->failures, m->aborts_total.present ? m->aborts_total.value : 0,
                             m->delays_total.present ? m->delays_total.value : 0,
                             m->policies.present ? m->policies.value : 0);
            all_stopped = all_stopped && app_halt_verdict(p) == APP_HALT_STOPPED;
        }
    }
    int still = 0;
    for (size_t k = 0; k < n; k++) {
        char text[200];
        app_halt_text(&pods[k], text, sizeof text);
        printf("pod %s: %s\n", pods[k].name, text);
        still += app_halt_verdict(&pods[k]) != APP_HALT_STOPPED;
    }
    if (!n)
        printf("no sidecar answered a scrape: cannot confirm that faults stopped\n");
    free(pods);
    app_free(app);
    fflush(stdout);
    if (still)
        fprintf(stderr, "hfitop: %d pod%s still injecting faults or unconfirmed\n", still, still == 1 ? "" : "s");
    return still || !n ? EXIT_PROBLEMS : 0;
}

/* The WasmPlugins the kill switch clears, with their policy counts. */
struct halt_targets {
    int n, policies;
    char names[64][254];
    int counts[64];
};

/* Every WasmPlugin of the namespace that holds policies (or the one
 * --wasmplugin names): Istio applies each WasmPlugin that selects a
 * workload, not the first alone (istio/istio pilot/pkg/model/
 * push_context.go, WasmPluginsByListenerInfo), so clearing the first
 * would leave the others' faults in force. False when there are more than
 * the kill switch can name in one question. */
static bool halt_targets_of(const struct cli *c, const struct policy_wait *w, const cJSON *items,
                            struct halt_targets *t)
{
    memset(t, 0, sizeof *t);
    if (c->wasmplugin) {
        if (w->policies_before) {
            snprintf(t->names[0], sizeof t->names[0], "%s", w->wasmplugin);
            t->counts[t->n++] = w->policies_before;
            t->policies = w->policies_before > 0 ? w->policies_before : 0;
        }
        return true;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        const char *name = app_policy_name(item);
        int count = app_policy_count(item);
        if (!name || count == 0)
            continue;
        if (t->n == (int)(sizeof t->names / sizeof t->names[0]))
            return false;
        snprintf(t->names[t->n], sizeof t->names[0], "%s", name);
        t->counts[t->n++] = count;
        t->policies += count > 0 ? count : 0;
    }
    return true;
}

static bool confirmed_on_stdin(void)
{
    char answer[16] = "";
    return fgets(answer, sizeof answer, stdin) && (strcmp(answer, "y\n") == 0 || strcmp(answer, "yes\n") == 0 ||
                                                   strcmp(answer, "y") == 0 || strcmp(answer, "yes") == 0);
}

static int policy_remove_all(const struct cli *c, struct session *s)
{
    struct app_policy_change read = {.ns = s->conn.namespace, .wasmplugin = c->wasmplugin, .op = APP_POLICY_READ};
    struct policy_wait w;
    struct halt_targets t;
    /* The list goes with the read's outcome: count while it is valid. */
    w.items_seen = true;
    int rc = policy_run(s, &read, &w);
    bool fits = rc == 0 && halt_targets_of(c, &w, w.items, &t);
    cJSON_Delete(w.config);
    cJSON_Delete(w.items);
    if (rc)
        return rc;
    if (!fits) {
        fprintf(stderr, "hfitop: more than %zu WasmPlugins in %s hold policies: clear them one at a time with "
                        "--wasmplugin NAME\n", sizeof t.names / sizeof t.names[0], s->conn.namespace);
        return EXIT_PROBLEMS;
    }
    const char *context = s->conn.context && *s->conn.context ? s->conn.context : "in-cluster";
    if (!t.n) {
        if (c->wasmplugin)
            printf("WasmPlugin %s/%s has no policies: nothing to remove\n", s->conn.namespace, w.wasmplugin);
        else
            printf("no WasmPlugin in %s has policies: nothing to remove\n", s->conn.namespace);
        return watch_faults_stop(c, s);
    }
    if (!c->yes) {
        if (t.n == 1 && t.counts[0] == APP_POLICIES_NOT_A_LIST) {
            fprintf(stderr, "Replace pluginConfig.policies of WasmPlugin %s (not a list) by an empty list in namespace "
                            "%s, context %s, in one write? [y/N] ", t.names[0], s->conn.namespace, context);
        } else if (t.n == 1) {
            fprintf(stderr, "Remove all %d policies of WasmPlugin %s in namespace %s, context %s, in one write? [y/N] ",
                    t.policies, t.names[0], s->conn.namespace, context);
        } else {
            fprintf(stderr, "Remove all %d policies of %d WasmPlugins (", t.policies, t.n);
            for (int k = 0; k < t.n; k++) {
                if (t.counts[k] == APP_POLICIES_NOT_A_LIST)
                    fprintf(stderr, "%s%s: policies not a list", k ? ", " : "", t.names[k]);
                else
                    fprintf(stderr, "%s%s: %d", k ? ", " : "", t.names[k], t.counts[k]);
            }
            fprintf(stderr, ") in namespace %s, context %s, one write each? [y/N] ", s->conn.namespace, context);
        }
        if (!confirmed_on_stdin()) {
            fprintf(stderr, "hfitop: not confirmed; nothing written\n");
            return EXIT_PROBLEMS;
        }
    }
    /* The WasmPlugins confirmed, whatever the namespace holds by now; each
     * one written even when another fails. */
    int failed = 0;
    for (int k = 0; k < t.n; k++) {
        struct app_policy_change all = {.ns = s->conn.namespace, .wasmplugin = t.names[k],
                                        .op = APP_POLICY_REMOVE_ALL};
        w.items_seen = false;
        rc = policy_run(s, &all, &w);
        cJSON_Delete(w.config);
        if (rc)
            failed++;
        else
            printf("%s\n", w.result.message);
        fflush(stdout);
    }
    if (failed == t.n)
        return rc;
    rc = watch_faults_stop(c, s);
    if (failed)
        fprintf(stderr, "hfitop: %d of %d WasmPlugins still hold their policies (above)\n", failed, t.n);
    return failed ? EXIT_PROBLEMS : rc;
}

static int cmd_policy(const struct cli *c, struct session *s)
{
    const char *verb = c->words[1];
    struct policy_wait w = {0};
    int rc;
    if (strcmp(verb, "remove") == 0 && c->all)
        return policy_remove_all(c, s);
    if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0) {
        struct app_policy_change read = {.ns = s->conn.namespace, .wasmplugin = c->wasmplugin, .op = APP_POLICY_READ};
        if ((rc = policy_run(s, &read, &w)) == 0)
            rc = policy_list(c, &w);
        cJSON_Delete(w.config);
        return rc;
    }
    if (strcmp(verb, "remove") == 0) {
        struct app_policy_change ch = {.ns = s->conn.namespace, .wasmplugin = c->wasmplugin, .op = APP_POLICY_REMOVE,
                                       .name = c->words[2]};
        if ((rc = policy_run(s, &ch, &w)) == 0)
            printf("%s\n", w.result.message);
        cJSON_Delete(w.config);
        return rc;
    }
    char *policy;
    size_t len;
    if (read_all(c->words[2], MAX_INPUT_BYTES, &policy, &len) != 0) {
        report_unreadable(c->words[2]);
        return EXIT_USAGE;
    }
    char *text = realloc(policy, len + 1);
    if (!text) {
        free(policy);
        return EXIT_USAGE;
    }
    text[len] = '\0';
    struct app_policy_change ch = {.ns = s->conn.namespace, .wasmplugin = c->wasmplugin, .op = APP_POLICY_APPLY,
                                   .policy_json = text, .for_seconds = c->for_seconds, .dry_run = c->dry_run};
    rc = policy_run(s, &ch, &w);
    free(text);
    if (rc == 0 && c->dry_run) {
        char *config = cJSON_Print(w.config);
        put_json(config ? config : "null");
        free(config);
        fprintf(stderr, "%s\n", w.result.message);
    } else if (rc == 0) {
        printf("%s\n", w.result.message);
    }
    cJSON_Delete(w.config);
    return rc;
}

static int check_no_operands(const struct cli *c)
{
    if (c->n_words != 1)
        return usage_error("%s takes no operands, got \"%s\"", c->words[0], c->words[1]);
    return 0;
}

/* `check` judges the operands before anything connects to the cluster. */
static const struct {
    const char *name;
    bool changes_cluster;
    int (*check)(const struct cli *c);
    int (*run)(const struct cli *c, struct session *s);
} commands[] = {
    {"doctor", false, check_no_operands, cmd_doctor},
    {"fire", true, check_fire, cmd_fire},
    {"envoyfilter", true, check_envoyfilter, cmd_envoyfilter},
    {"annotate", true, check_deployment_action, cmd_deployment_action},
    {"restart", true, check_deployment_action, cmd_deployment_action},
    {"policy", true, check_policy, cmd_policy},
};

/* The console's connection: the context picker replaces it. A client
 * borrows its connection by address, so a new session is opened where it
 * will stay, on the heap. */
struct console {
    const struct cli *cli;
    struct session *original; /* main's; closed (and zeroed) once switched away */
    struct session *switched; /* the picker's, or NULL */
};

static void describe(const struct session *s, struct ui_connection *out)
{
    out->client = s->client;
    out->context = s->conn.context && *s->conn.context ? s->conn.context : "in-cluster";
    out->cluster = s->conn.cluster_name ? s->conn.cluster_name : s->conn.server;
    out->namespace = s->conn.namespace;
    out->user = s->conn.user_name;
    out->warning = kube_client_warning(s->client);
    if (!out->warning && s->prometheus)
        out->warning = prom_source_warning(s->prometheus);
}

/* The new context's own namespace, not -n: -n named one of the old. */
static bool console_switch_context(void *user, const char *context, struct ui_connection *out, char *err,
                                   size_t err_size)
{
    struct console *con = user;
    struct cli next_cli = *con->cli;
    next_cli.context = context;
    next_cli.ns = NULL;
    struct session *next = calloc(1, sizeof *next);
    if (!next) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    if (session_open(&next_cli, next, err, err_size) != 0) {
        free(next);
        return false;
    }
    next->conn.stdin_is_terminal = false; /* curses owns it: no credential prompts */
    if (con->switched) {
        session_close(con->switched);
        free(con->switched);
    } else {
        session_close(con->original);
        memset(con->original, 0, sizeof *con->original);
    }
    con->switched = next;
    app_journal_set_identity(journal, context_name(&next->conn), next->conn.user_name);
    describe(next, out);
    return true;
}

/* The context names of the kubeconfig the flags select, for the picker. */
static size_t kubeconfig_contexts(const struct cli *c, char ***out)
{
    struct kube_load_options opts = {.kubeconfig_flag = c->kubeconfig};
    kube_load_options_from_env(&opts);
    struct kube_config cfg = {0};
    struct kube_error e = {0};
    *out = NULL;
    if (kube_config_load(&opts, &cfg, &e) != 0 || !cfg.n_contexts) {
        kube_config_free(&cfg);
        return 0;
    }
    size_t n = 0;
    *out = calloc(cfg.n_contexts, sizeof **out);
    for (size_t k = 0; *out && k < cfg.n_contexts; k++)
        if (((*out)[n] = strdup(cfg.contexts[k].name)))
            n++;
    kube_config_free(&cfg);
    return n;
}

/* The console keeps scraping on the interval, with backoff, until quit. */
static int cmd_console(const struct cli *c, struct session *s)
{
    char *manifest = NULL;
    size_t len = app_envoyfilter_manifest_len;
    if (c->envoyfilter_file && read_all(c->envoyfilter_file, MAX_INPUT_BYTES, &manifest, &len) != 0) {
        report_unreadable(c->envoyfilter_file);
        return EXIT_USAGE;
    }
    struct console con = {c, s, NULL};
    s->conn.stdin_is_terminal = false; /* curses owns it: no credential prompts */
    char **contexts;
    size_t n_contexts = kubeconfig_contexts(c, &contexts);
    struct ui_options u = {.model = {.label_selector = c->selector, .interval_s = c->interval_s,
                                     .max_inflight = c->max_inflight, .window_s = c->window_s,
                                     .prometheus = s->prometheus},
                           .interval_s = c->interval_s, .readonly = c->readonly, .no_color = c->no_color,
                           .envoyfilter = manifest ? manifest : (const char *)app_envoyfilter_manifest,
                           .envoyfilter_len = len, .envoyfilter_file = c->envoyfilter_file, .contexts = (const char *const *)contexts,
                           .n_contexts = n_contexts, .switch_context = console_switch_context, .switch_user = &con,
                           .journal = journal};
    app_journal_session(journal, "console", s->conn.namespace, HFITOP_VERSION);
    describe(s, &u.connection);
    int rc = ui_run(&u);
    if (rc == UI_TERMINAL_UNUSABLE)
        rc = EXIT_USAGE;
    if (journal)
        fprintf(stderr, "hfitop: the session's journal: %s (hfitop report makes a Markdown timeline of it)\n",
                app_journal_path(journal));
    if (con.switched) {
        session_close(con.switched);
        free(con.switched);
    }
    for (size_t k = 0; k < n_contexts; k++)
        free(contexts[k]);
    free(contexts);
    free(manifest);
    return rc;
}

int main(int argc, char **argv)
{
    program = help_program_name(argc ? argv[0] : NULL);
    struct cli c;
    /* Widths and what the terminal can show follow the user's locale;
     * numbers stay "C" (Prometheus text and JSON). */
    setlocale(LC_CTYPE, "");
    static struct safe_stream safe_stderr, safe_stdout;
    make_safe(&stderr, &safe_stderr, STDERR_FILENO, _IOLBF);
    int rc = parse_cli(argc, argv, &c);
    if (rc)
        return rc;
    /* The console draws through curses on the real stdout. */
    bool console = !c.once && !c.n_words && !c.rules;
    if (!console)
        make_safe(&stdout, &safe_stdout, STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
    if (c.n_words && strcmp(c.words[0], "stats") == 0)
        return cmd_stats(&c);
    if (c.n_words && strcmp(c.words[0], "report") == 0)
        return cmd_report(&c);
    if (c.rules) {
        if (c.n_words != 1 || strcmp(c.words[0], "doctor") != 0)
            return usage_error("--rules goes with doctor");
        doctor_print_rules_markdown(stdout);
        return 0;
    }
    int (*run)(const struct cli *, struct session *) = NULL;
    if (c.once) {
        run = cmd_once;
    } else if (c.n_words) {
        for (size_t i = 0; i < sizeof commands / sizeof commands[0] && !run; i++) {
            if (strcmp(commands[i].name, c.words[0]) != 0)
                continue;
            bool only_reads = strcmp(c.words[0], "policy") == 0 && c.n_words > 1 &&
                              (strcmp(c.words[1], "list") == 0 || strcmp(c.words[1], "show") == 0 || c.dry_run);
            if (commands[i].changes_cluster && c.readonly && !only_reads) {
                fprintf(stderr, "hfitop: %s changes the cluster; refused under --readonly\n", c.words[0]);
                return EXIT_USAGE;
            }
            if ((rc = commands[i].check(&c)) != 0)
                return rc;
            run = commands[i].run;
        }
        if (!run)
            return usage_error("unknown command \"%s\"", c.words[0]);
    } else {
        run = cmd_console;
    }
    struct session s;
    char err[600];
    if ((rc = session_open(&c, &s, err, sizeof err)) != 0) {
        fprintf(stderr, "hfitop: %s\n", err);
        return rc;
    }
    if (kube_client_warning(s.client))
        fprintf(stderr, "hfitop: warning: %s\n", kube_client_warning(s.client));
    if (s.prometheus && prom_source_warning(s.prometheus))
        fprintf(stderr, "hfitop: warning: %s\n", prom_source_warning(s.prometheus));
    if ((rc = journal_start(&c, &s.conn)) == 0) {
        rc = run(&c, &s);
        journal_stop();
    }
    session_close(&s);
    return rc;
}
