#include "prom_source.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stats/prom_api.h"

/* Query texts grow with the pods named in a quantile selector. */
#define QUERY_MAX (256 * 1024)
#define QUERY_TIMEOUT_MS 30000L
#define DEFAULT_SCRAPE_INTERVAL_S 60.0 /* Prometheus' own default */

enum query_kind { Q_LABELS, Q_CONFIG, Q_VALUES, Q_SAMPLE_TIMES, Q_DETAIL_VALUES, Q_ABORT_RATES, Q_DELAY_RATES,
                  Q_QUANTILES, Q_BUCKETS, Q_HISTORY, Q_OBSERVED, Q_OBSERVED_RATES, Q_WINDOW_BUCKETS, Q_COUNT };
/* Points of history asked for: what a sparkline shows (prom_rate.h). */
#define HISTORY_POINTS 64

struct query {
    struct prom_source *src;
    enum query_kind kind;
    struct kube_request *req;
    bool done, ok;
    prom_api_answer answer;
};

struct prom_source {
    struct kube_client *client;
    struct kube_endpoint endpoint;
    char *base_url, *username, *password, *token_file, *ca_file;
    char *headers[PROM_SOURCE_MAX_HEADERS + 1];
    char *pod_label, *namespace_label;
    bool pod_label_given, namespace_label_given, labels_detected;
    int window_s_given, window_s_asked;
    double scrape_interval_s;
    bool config_asked;
    char *ns;
    /* Pods whose details are asked for (none with PROM_WANT_ALL_PODS). */
    enum prom_source_want want;
    char **want_ns, **want_pods;
    size_t want_count;
    bool history_due; /* the pods shown changed: ask their history once */

    struct query queries[Q_COUNT];
    int pending;
    bool busy, failed_this_refresh;
    unsigned generation;
    enum prom_source_state state;
    char error[512];
    char *warning; /* insecure TLS, said once the source starts */

    struct prom_pod_values *pods; /* sorted by ns, pod */
    size_t pod_count;
};

static const char *const answer_labels_template[] = {NULL, NULL, "__name__", "hfi_family", "le"};
enum { L_NS, L_POD, L_NAME, L_FAMILY, L_LE, L_COUNT };

/* ---- set-up ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *percent_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* http(s)://[user[:password]@]host[:port][/prefix]: the base URL without
 * credentials (shown to people), and the credentials apart. */
static bool split_url(struct prom_source *s, const char *url, char *err, size_t err_size)
{
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end || !((scheme_end - url == 4 && strncmp(url, "http", 4) == 0) ||
                         (scheme_end - url == 5 && strncmp(url, "https", 5) == 0))) {
        snprintf(err, err_size, "--prometheus wants an http:// or https:// URL, got \"%s\"", url);
        return false;
    }
    const char *authority = scheme_end + 3;
    size_t auth_len = strcspn(authority, "/?#");
    const char *at = memrchr(authority, '@', auth_len);
    const char *host = at ? at + 1 : authority;
    size_t host_len = auth_len - (size_t)(host - authority);
    if (!host_len) {
        snprintf(err, err_size, "--prometheus URL has no host: \"%s\"", url);
        return false;
    }
    if (authority[auth_len] == '?' || authority[auth_len] == '#') {
        snprintf(err, err_size, "--prometheus URL must not carry a query or fragment: \"%s\"", url);
        return false;
    }
    if (at) {
        const char *colon = memchr(authority, ':', (size_t)(at - authority));
        size_t user_len = colon ? (size_t)(colon - authority) : (size_t)(at - authority);
        s->username = percent_decode(authority, user_len);
        s->password = colon ? percent_decode(colon + 1, (size_t)(at - colon - 1)) : strdup("");
    }
    const char *path = authority + auth_len;
    size_t path_len = strlen(path);
    while (path_len && path[path_len - 1] == '/')
        path_len--;
    if (asprintf(&s->base_url, "%.*s%.*s%.*s", (int)(authority - url), url, (int)host_len, host, (int)path_len,
                 path) < 0)
        s->base_url = NULL;
    return s->base_url != NULL;
}

struct prom_source *prom_source_new(struct kube_client *client, const struct prom_source_options *o, char *err,
                                    size_t err_size)
{
    struct prom_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->client = client;
    if (!split_url(s, o->url, err, err_size)) {
        prom_source_free(s);
        return NULL;
    }
    for (size_t i = 0; i < o->header_count && i < PROM_SOURCE_MAX_HEADERS; i++) {
        const char *colon = strchr(o->headers[i], ':');
        if (!colon || colon == o->headers[i] || strpbrk(o->headers[i], "\r\n")) {
            snprintf(err, err_size, "--prometheus-header wants NAME:VALUE, got \"%s\"", o->headers[i]);
            prom_source_free(s);
            return NULL;
        }
        s->headers[i] = strdup(o->headers[i]);
    }
    for (int k = 0; k < 2; k++) {
        const char *given = k ? o->namespace_label : o->pod_label;
        if (given && !prom_api_label_name_valid(given)) {
            snprintf(err, err_size, "--prometheus-%s-label wants a label name ([a-zA-Z_][a-zA-Z0-9_]*), got \"%s\"",
                     k ? "namespace" : "pod", given);
            prom_source_free(s);
            return NULL;
        }
    }
    s->pod_label_given = o->pod_label != NULL;
    s->namespace_label_given = o->namespace_label != NULL;
    s->pod_label = strdup(o->pod_label ? o->pod_label : "pod");
    s->namespace_label = strdup(o->namespace_label ? o->namespace_label : "namespace");
    s->token_file = dup_or_null(o->bearer_token_file);
    s->ca_file = dup_or_null(o->ca_file);
    s->window_s_given = o->window_s;
    s->scrape_interval_s = DEFAULT_SCRAPE_INTERVAL_S;
    s->endpoint = (struct kube_endpoint){
        .base_url = s->base_url,
        .ca_file = s->ca_file,
        .insecure_skip_tls_verify = o->insecure_skip_tls_verify,
        .bearer_token_file = s->token_file,
        .username = s->username,
        .password = s->password,
        .headers = (const char *const *)s->headers,
    };
    if (o->insecure_skip_tls_verify &&
        asprintf(&s->warning, "--prometheus-insecure-skip-tls-verify is set: the certificate of Prometheus at %s is not checked",
                 s->base_url) < 0)
        s->warning = NULL;
    s->state = PROM_SOURCE_STARTING;
    return s;
}

static void free_table(struct prom_pod_values *pods, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pods[i].ns);
        free(pods[i].pod);
        free(pods[i].history);
        free(pods[i].delay_window.buckets);
        free(pods[i].latency_window.buckets);
    }
    free(pods);
}

static void clear_wanted(struct prom_source *s)
{
    for (size_t i = 0; i < s->want_count; i++) {
        free(s->want_ns[i]);
        free(s->want_pods[i]);
    }
    free(s->want_ns);
    free(s->want_pods);
    s->want_ns = s->want_pods = NULL;
    s->want_count = 0;
}

void prom_source_free(struct prom_source *s)
{
    if (!s)
        return;
    for (int k = 0; k < Q_COUNT; k++) {
        kube_request_cancel(s->queries[k].req);
        prom_api_answer_free(&s->queries[k].answer);
    }
    free_table(s->pods, s->pod_count);
    clear_wanted(s);
    free(s->base_url);
    if (s->password)
        explicit_bzero(s->password, strlen(s->password));
    free(s->username);
    free(s->password);
    free(s->token_file);
    free(s->ca_file);
    for (size_t i = 0; i < PROM_SOURCE_MAX_HEADERS; i++)
        free(s->headers[i]);
    free(s->pod_label);
    free(s->namespace_label);
    free(s->ns);
    free(s->warning);
    free(s);
}

void prom_source_set_namespace(struct prom_source *s, const char *ns)
{
    free(s->ns);
    s->ns = ns && *ns ? strdup(ns) : NULL;
}

void prom_source_set_window(struct prom_source *s, int window_s)
{
    s->window_s_asked = window_s;
}

bool prom_source_want_details(struct prom_source *s, const char *const *ns, const char *const *pods, size_t count,
                              enum prom_source_want want)
{
    bool all_pods = want == PROM_WANT_ALL_PODS;
    if (all_pods)
        count = 0;
    bool same = want == s->want && count == s->want_count;
    for (size_t i = 0; same && i < count; i++)
        same = strcmp(pods[i], s->want_pods[i]) == 0 && strcmp(ns[i] ? ns[i] : "", s->want_ns[i] ? s->want_ns[i] : "") == 0;
    if (same)
        return false;
    s->history_due = want == PROM_WANT_ROWS && count > 0;
    clear_wanted(s);
    s->want = want;
    if (!count)
        return true;
    s->want_ns = calloc(count, sizeof *s->want_ns);
    s->want_pods = calloc(count, sizeof *s->want_pods);
    if (!s->want_ns || !s->want_pods) {
        free(s->want_ns);
        free(s->want_pods);
        s->want_ns = s->want_pods = NULL;
        return true;
    }
    for (size_t i = 0; i < count; i++) {
        s->want_ns[i] = dup_or_null(ns[i]);
        s->want_pods[i] = dup_or_null(pods[i]);
        if (s->want_pods[i])
            s->want_count = i + 1;
    }
    return true;
}

/* ---- queries ---- */

static int window_s(const struct prom_source *s)
{
    if (s->window_s_given > 0)
        return s->window_s_given;
    int floor_s = (int)ceil(4 * s->scrape_interval_s);
    int w = s->window_s_asked > 0 ? s->window_s_asked : PROM_SOURCE_MIN_WINDOW_S;
    return w < floor_s ? floor_s : w;
}

static void set_failure(struct prom_source *s, enum prom_source_state state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_failure(struct prom_source *s, enum prom_source_state state, const char *fmt, ...)
{
    if (s->failed_this_refresh)
        return; /* the first failure says the most */
    s->failed_this_refresh = true;
    s->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

static const char *kind_path(enum query_kind k)
{
    return k == Q_CONFIG ? "/api/v1/status/config" : k == Q_HISTORY ? "/api/v1/query_range" : "/api/v1/query";
}

static void finish_refresh(struct prom_source *s);
static void start_data_queries(struct prom_source *s);
static void detect_labels(struct prom_source *s);

static void on_answer(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct query *q = user;
    struct prom_source *s = q->src;
    q->req = NULL;
    q->done = true;
    s->pending--;
    const char *labels[L_COUNT];
    memcpy(labels, answer_labels_template, sizeof labels);
    labels[L_NS] = s->namespace_label;
    labels[L_POD] = s->pod_label;
    if (q->kind == Q_LABELS) {
        /* The candidates, in the query's order. */
        size_t n = 0;
        for (size_t i = 0; i < prom_api_pod_label_candidate_count; i++)
            labels[n++] = prom_api_pod_label_candidates[i];
        for (size_t i = 0; i < prom_api_namespace_label_candidate_count; i++)
            labels[n++] = prom_api_namespace_label_candidates[i];
    }
    if (resp->http_status == 0) {
        if (q->kind != Q_CONFIG)
            set_failure(s, PROM_SOURCE_UNREACHABLE, "Prometheus at %s unreachable: %s", s->base_url,
                        resp->error.message);
    } else if (resp->http_status == 401 || resp->http_status == 403) {
        if (q->kind != Q_CONFIG)
            set_failure(s, PROM_SOURCE_UNAUTHORIZED,
                        "Prometheus at %s refused the credentials (HTTP %ld): check --prometheus-bearer-token-file, "
                        "the URL's user:password, or --prometheus-header",
                        s->base_url, resp->http_status);
    } else if (q->kind == Q_CONFIG) {
        /* Thanos and Mimir serve no configuration: keep the default. */
        double interval = resp->http_status == 200 ? prom_api_scrape_interval_s(resp->body, resp->body_len) : -1;
        if (interval > 0)
            s->scrape_interval_s = interval;
        q->ok = true;
    } else {
        prom_api_status st = prom_api_parse(resp->body, resp->body_len, labels, L_COUNT, &q->answer);
        if (st == PROM_API_ERROR)
            set_failure(s, PROM_SOURCE_FAILED, "Prometheus at %s refused a query (HTTP %ld, %s): %s", s->base_url,
                        resp->http_status, q->answer.error_type, q->answer.error);
        else if (st == PROM_API_MALFORMED || resp->http_status != 200)
            set_failure(s, PROM_SOURCE_FAILED, "%s%s is not a Prometheus query API (HTTP %ld): %s", s->base_url,
                        kind_path(q->kind), resp->http_status,
                        st == PROM_API_MALFORMED ? q->answer.error : "unexpected status");
        else
            q->ok = true;
    }
    if (s->pending)
        return;
    if (!s->failed_this_refresh && (s->queries[Q_LABELS].done || s->queries[Q_CONFIG].done) &&
        !s->queries[Q_VALUES].req && !s->queries[Q_VALUES].done) {
        detect_labels(s);
        start_data_queries(s);
        if (s->pending)
            return;
    }
    finish_refresh(s);
}

static void start_query(struct prom_source *s, enum query_kind kind, const char *promql)
{
    struct query *q = &s->queries[kind];
    prom_api_answer_free(&q->answer);
    memset(q, 0, sizeof *q);
    q->src = s;
    q->kind = kind;
    struct kube_request_options o = {.method = KUBE_GET, .path = kind_path(kind), .timeout_ms = QUERY_TIMEOUT_MS,
                                     .max_retries = -1, .endpoint = &s->endpoint};
    char *body = NULL;
    if (promql) {
        /* POST: the form keeps long queries out of URL length limits
         * (prometheus web/api/v1 accepts both). */
        char *escaped = kube_url_escape(promql);
        char range[160] = "";
        if (kind == Q_HISTORY) {
            /* One point a scrape interval, back as far as a sparkline goes. */
            double step = s->scrape_interval_s, end = (double)time(NULL);
            snprintf(range, sizeof range, "&start=%.0f&end=%.0f&step=%.0f", end - step * (HISTORY_POINTS - 1), end,
                     step);
        }
        if (!escaped || asprintf(&body, "query=%s%s", escaped, range) < 0)
            body = NULL;
        free(escaped);
        if (!body) {
            set_failure(s, PROM_SOURCE_FAILED, "out of memory");
            return;
        }
        o.method = KUBE_POST;
        o.body = body;
        o.body_len = strlen(body);
        o.content_type = "application/x-www-form-urlencoded";
    }
    q->req = kube_client_start(s->client, &o, on_answer, q);
    free(body);
    if (q->req)
        s->pending++;
    else
        set_failure(s, PROM_SOURCE_FAILED, "out of memory");
}

/* `NS="demo"` or "", plus `, POD=~"a|b"` for the wanted pods. */
static bool selector(const struct prom_source *s, bool wanted_only, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    if (s->ns) {
        int n = snprintf(out, size, "%s=\"%s\"", s->namespace_label, s->ns);
        if (n < 0 || (size_t)n >= size || strpbrk(s->ns, "\"\\"))
            return false;
        len = (size_t)n;
    }
    if (wanted_only && s->want != PROM_WANT_ALL_PODS) {
        int n = snprintf(out + len, size - len, "%s%s=~\"", len ? ", " : "", s->pod_label);
        if (n < 0 || (size_t)n >= size - len)
            return false;
        len += (size_t)n;
        n = prom_api_regex_of_names(out + len, size - len, (const char *const *)s->want_pods, s->want_count);
        if (n < 0 || len + (size_t)n + 2 > size)
            return false;
        len += (size_t)n;
        out[len++] = '"';
        out[len] = '\0';
    }
    return true;
}

static void start_data_queries(struct prom_source *s)
{
    char *sel = malloc(QUERY_MAX), *q = malloc(QUERY_MAX);
    if (!sel || !q) {
        set_failure(s, PROM_SOURCE_FAILED, "out of memory");
        free(sel);
        free(q);
        return;
    }
    prom_api_target t = {.pod_label = s->pod_label, .namespace_label = s->namespace_label};
    /* Every pod's values, sample times and rates: the costly queries at
     * thousands of pods, each its own request so that Prometheus evaluates
     * them side by side and no answer needs tagging. */
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_values(q, QUERY_MAX, &t, sel) > 0)
        start_query(s, Q_VALUES, q);
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_sample_times(q, QUERY_MAX, &t, sel) > 0)
        start_query(s, Q_SAMPLE_TIMES, q);
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_rates(q, QUERY_MAX, &t, sel, "aborts", window_s(s)) > 0)
        start_query(s, Q_ABORT_RATES, q);
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_rates(q, QUERY_MAX, &t, sel, "delays", window_s(s)) > 0)
        start_query(s, Q_DELAY_RATES, q);
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_observed(q, QUERY_MAX, &t, sel) > 0)
        start_query(s, Q_OBSERVED, q);
    if (selector(s, false, sel, QUERY_MAX) && prom_api_query_observed_rates(q, QUERY_MAX, &t, sel, window_s(s)) > 0)
        start_query(s, Q_OBSERVED_RATES, q);
    bool details = s->want == PROM_WANT_ALL_PODS || s->want_count;
    if (details && selector(s, true, sel, QUERY_MAX)) {
        /* rate() over every bucket and histogram_quantile by pod cost the
         * most: only for the pods shown. The rows on screen get Prometheus'
         * own quantiles beside their buckets (which the model keeps only up
         * to HFI_HISTOGRAM_MAX_BUCKETS); --once computes them from every
         * pod's buckets instead of asking histogram_quantile of them all. */
        if (prom_api_query_window_buckets(q, QUERY_MAX, &t, sel, window_s(s)) > 0)
            start_query(s, Q_WINDOW_BUCKETS, q);
        if (s->want != PROM_WANT_DEPLOYMENT_PODS && prom_api_query_detail_values(q, QUERY_MAX, &t, sel) > 0)
            start_query(s, Q_DETAIL_VALUES, q);
        if (s->want == PROM_WANT_ALL_PODS) {
            if (prom_api_query_buckets(q, QUERY_MAX, &t, sel) > 0)
                start_query(s, Q_BUCKETS, q);
        } else if (s->want == PROM_WANT_ROWS) {
            if (prom_api_query_quantiles(q, QUERY_MAX, &t, sel) > 0)
                start_query(s, Q_QUANTILES, q);
            if (prom_api_query_buckets(q, QUERY_MAX, &t, sel) > 0)
                start_query(s, Q_BUCKETS, q);
            if (s->history_due && prom_api_query_history(q, QUERY_MAX, &t, sel) > 0) {
                s->history_due = false;
                start_query(s, Q_HISTORY, q);
            }
        }
    }
    free(sel);
    free(q);
}

bool prom_source_refresh(struct prom_source *s)
{
    if (s->busy)
        return false;
    s->busy = true;
    s->failed_this_refresh = false;
    for (int k = 0; k < Q_COUNT; k++) {
        prom_api_answer_free(&s->queries[k].answer);
        memset(&s->queries[k], 0, sizeof s->queries[k]);
    }
    bool discover = false;
    if (!(s->pod_label_given && s->namespace_label_given) && !s->labels_detected) {
        /* Before the labels are known, a namespace restriction would name
         * the wrong label: look at every namespace. */
        char q[1024];
        if (prom_api_query_labels(q, sizeof q, "") > 0) {
            start_query(s, Q_LABELS, q);
            discover = true;
        }
    }
    if (!s->config_asked) {
        s->config_asked = true;
        start_query(s, Q_CONFIG, NULL);
        discover = true;
    }
    if (!discover)
        start_data_queries(s);
    if (!s->pending)
        finish_refresh(s);
    return true;
}

bool prom_source_busy(const struct prom_source *s)
{
    return s->busy;
}

unsigned prom_source_generation(const struct prom_source *s)
{
    return s->generation;
}

/* ---- merging the answers ---- */

static int compare_values(const void *a, const void *b)
{
    const struct prom_pod_values *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->pod, y->pod);
}

static struct prom_pod_values *lookup(struct prom_pod_values *pods, size_t n, const char *ns, const char *pod)
{
    struct prom_pod_values key = {.ns = (char *)ns, .pod = (char *)pod};
    return n ? bsearch(&key, pods, n, sizeof *pods, compare_values) : NULL;
}

static void detect_labels(struct prom_source *s)
{
    const prom_api_answer *a = &s->queries[Q_LABELS].answer;
    if (!s->queries[Q_LABELS].ok || !a->series_count)
        return; /* nothing to learn from yet: keep asking */
    size_t best = 0;
    for (size_t i = 1; i < prom_api_pod_label_candidate_count; i++)
        if (a->label_present[i] > a->label_present[best])
            best = i;
    size_t ns_best = 0, off = prom_api_pod_label_candidate_count;
    for (size_t i = 1; i < prom_api_namespace_label_candidate_count; i++)
        if (a->label_present[off + i] > a->label_present[off + ns_best])
            ns_best = i;
    if (!a->label_present[best])
        return;
    char *pod = s->pod_label_given ? s->pod_label : strdup(prom_api_pod_label_candidates[best]);
    char *ns = s->namespace_label_given ? s->namespace_label : strdup(prom_api_namespace_label_candidates[ns_best]);
    if (!pod || !ns) {
        if (pod != s->pod_label)
            free(pod);
        if (ns != s->namespace_label)
            free(ns);
        return;
    }
    if (pod != s->pod_label)
        free(s->pod_label);
    if (ns != s->namespace_label)
        free(s->namespace_label);
    s->pod_label = pod;
    s->namespace_label = ns;
    s->labels_detected = true;
}

/* The rows of a table being merged, by namespace and pod: a merge looks up
 * every series of every answer, tens of thousands at 10,000 pods, where a
 * bsearch's string comparisons were a fifth of the client's time. */
struct row_index {
    size_t *slot; /* row + 1; 0: empty */
    size_t mask;
};

static uint64_t key_hash(const char *ns, const char *pod)
{
    /* FNV-1a over ns, a byte that UTF-8 never holds, and pod. */
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)ns; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)pod; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static bool index_rows(struct row_index *ix, const struct prom_pod_values *pods, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ix->slot = calloc(cap, sizeof *ix->slot);
    ix->mask = cap - 1;
    for (size_t i = 0; ix->slot && i < n; i++) {
        size_t j = (size_t)key_hash(pods[i].ns, pods[i].pod) & ix->mask;
        while (ix->slot[j])
            j = (j + 1) & ix->mask;
        ix->slot[j] = i + 1;
    }
    return ix->slot != NULL;
}

static struct prom_pod_values *find_row(const struct row_index *ix, struct prom_pod_values *pods, const char *ns,
                                        const char *pod)
{
    if (!ix->slot)
        return NULL; /* no rows: the answers' series named no pod */
    for (size_t j = (size_t)key_hash(ns, pod) & ix->mask; ix->slot[j]; j = (j + 1) & ix->mask) {
        struct prom_pod_values *p = &pods[ix->slot[j] - 1];
        if (strcmp(p->pod, pod) == 0 && strcmp(p->ns, ns) == 0)
            return p;
    }
    return NULL;
}

/* The plugin's counters and gauges the values answers carry (after the
 * wasmcustom_hfi_faults_ or hfi_faults_ prefix), and where each goes. */
static const char *const value_names[] = {"aborts_total",        "delays_total",  "overflow_total",
                                          "config_errors_total", "active_delays", "policies",
                                          "delay_duration_milliseconds_count", "delay_duration_milliseconds_sum"};
#define VALUE_FIELD_COUNT (sizeof value_names / sizeof value_names[0])

static hfi_value *value_field(hfi_metrics *m, size_t k)
{
    hfi_value *fields[VALUE_FIELD_COUNT] = {&m->aborts_total,  &m->delays_total, &m->overflow_total,
                                            &m->config_errors_total, &m->active_delays, &m->policies,
                                            &m->delay_ms.count, &m->delay_ms.sum};
    return fields[k];
}

/* Which of value_names a series name is, -1 when not ours; rendering 0 for
 * wasmcustom_ names, 1 for bare ones. */
static int value_index(const char *name, int *rendering)
{
    *rendering = strncmp(name, "wasmcustom_", 11) == 0 ? 0 : 1;
    const char *rest = name + (*rendering == 0 ? 11 : 0);
    if (strncmp(rest, "hfi_faults_", 11) != 0)
        return -1;
    rest += 11;
    for (size_t k = 0; k < VALUE_FIELD_COUNT; k++)
        if (strcmp(rest, value_names[k]) == 0)
            return (int)k;
    return -1;
}

/* One pod's values in both renderings, until the one reported is known:
 * only the fields answered, not a whole hfi_metrics (histogram included)
 * twice per pod, which at 10,000 pods was most of a merge's time. */
struct found_values {
    hfi_value field[2][VALUE_FIELD_COUNT];
    bool seen[2];
};

struct pod_key {
    const char *ns, *pod;
};

static int compare_keys(const void *a, const void *b)
{
    const struct pod_key *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->pod, y->pod);
}

static void set_value(hfi_value *v, double value)
{
    v->present = true;
    v->series = 1;
    v->value = value;
    v->exact = value >= 0 && value <= 9007199254740992.0 && value == floor(value);
    v->value_u64 = v->exact ? (uint64_t)value : 0;
}

static int compare_buckets(const void *a, const void *b)
{
    const prom_bucket *x = a, *y = b;
    return x->upper_bound < y->upper_bound ? -1 : x->upper_bound > y->upper_bound;
}

static bool add_window_bucket(struct prom_window_buckets *w, double le, double rate)
{
    /* Grown by powers of two: a pod's histogram has some 20 buckets. */
    if ((w->count & (w->count - 1)) == 0 && w->count >= 8) {
        prom_bucket *grown = realloc(w->buckets, 2 * w->count * sizeof *grown);
        if (!grown)
            return false;
        w->buckets = grown;
    } else if (!w->buckets) {
        w->buckets = malloc(8 * sizeof *w->buckets);
        if (!w->buckets)
            return false;
    }
    w->buckets[w->count++] = (prom_bucket){.upper_bound = le, .cumulative_count = rate};
    return true;
}

/* The window buckets' answer into the table: every pod asked for has its
 * window (has_window), with buckets where it observed something. The key
 * strings still point into the answers here. */
static bool merge_window_buckets(struct prom_source *s, struct prom_pod_values *pods, size_t n)
{
    if (s->want == PROM_WANT_ALL_PODS) {
        for (size_t i = 0; i < n; i++)
            pods[i].has_window = true;
    }
    for (size_t i = 0; i < s->want_count; i++) {
        struct prom_pod_values *p = lookup(pods, n, s->want_ns[i] ? s->want_ns[i] : "", s->want_pods[i]);
        if (p)
            p->has_window = true;
    }
    const prom_api_answer *a = &s->queries[Q_WINDOW_BUCKETS].answer;
    for (size_t i = 0; i < a->series_count; i++) {
        const prom_api_series *ser = &a->series[i];
        struct prom_pod_values *p = lookup(pods, n, ser->label[L_NS], ser->label[L_POD]);
        double le;
        if (!p || !p->has_window || !prom_api_parse_number(ser->label[L_LE], &le) || !isfinite(ser->value))
            continue;
        struct prom_window_buckets *w = strcmp(ser->label[L_FAMILY], "delay") == 0     ? &p->delay_window
                                        : strcmp(ser->label[L_FAMILY], "latency") == 0 ? &p->latency_window
                                                                                       : NULL;
        if (!w || w->count >= PROM_QUANTILE_MAX_BUCKETS)
            continue; /* more buckets than a quantile is computed from */
        if (!add_window_bucket(w, le, ser->value)) {
            set_failure(s, PROM_SOURCE_FAILED, "out of memory");
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct prom_window_buckets *ws[] = {&pods[i].delay_window, &pods[i].latency_window};
        for (size_t k = 0; k < 2; k++)
            if (ws[k]->count)
                qsort(ws[k]->buckets, ws[k]->count, sizeof *ws[k]->buckets, compare_buckets);
    }
    return true;
}

/* Builds the new table from the answers; the old one goes. */
static void merge(struct prom_source *s)
{
    const prom_api_answer *values = &s->queries[Q_VALUES].answer;
    /* One row per pod: sort and deduplicate the keys, then make the rows. */
    struct pod_key *keys = values->series_count ? calloc(values->series_count, sizeof *keys) : NULL;
    if (values->series_count && !keys) {
        set_failure(s, PROM_SOURCE_FAILED, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < values->series_count; i++) {
        const prom_api_series *ser = &values->series[i];
        if (!ser->label[L_POD][0])
            continue; /* a series without the pod label names no pod */
        keys[n++] = (struct pod_key){ser->label[L_NS], ser->label[L_POD]};
    }
    if (n)
        qsort(keys, n, sizeof *keys, compare_keys);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (!unique || compare_keys(&keys[unique - 1], &keys[i]) != 0)
            keys[unique++] = keys[i];
    n = unique;
    struct prom_pod_values *pods = n ? calloc(n, sizeof *pods) : NULL;
    struct found_values *found = n ? calloc(n, sizeof *found) : NULL;
    for (size_t i = 0; pods && i < n; i++) {
        pods[i].ns = (char *)keys[i].ns;
        pods[i].pod = (char *)keys[i].pod;
    }
    free(keys);
    struct row_index ix = {0};
    if (n && (!pods || !found || !index_rows(&ix, pods, n))) {
        free(pods);
        free(found);
        free(ix.slot);
        set_failure(s, PROM_SOURCE_FAILED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pods[i].aborts_per_s = pods[i].delays_per_s = NAN;
        pods[i].percentiles = (prom_percentiles){NAN, NAN, NAN};
        pods[i].requests_total = pods[i].errors_total = NAN;
        pods[i].requests_per_s = pods[i].errors_per_s = NAN;
    }
    const prom_api_answer *detail = s->queries[Q_DETAIL_VALUES].ok ? &s->queries[Q_DETAIL_VALUES].answer : NULL;
    for (int a = 0; a < 2; a++) {
        const prom_api_answer *answer = a ? detail : values;
        for (size_t i = 0; answer && i < answer->series_count; i++) {
            const prom_api_series *ser = &answer->series[i];
            struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
            if (!p)
                continue;
            size_t row = (size_t)(p - pods);
            int r, k = value_index(ser->label[L_NAME], &r);
            if (k >= 0) {
                set_value(&found[row].field[r][k], ser->value);
                found[row].seen[r] = true;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        int r = found[i].seen[0] ? 0 : 1;
        for (size_t k = 0; k < VALUE_FIELD_COUNT; k++)
            *value_field(&pods[i].metrics, k) = found[i].field[r][k];
        pods[i].metrics.naming = found[i].seen[0]   ? HFI_NAMING_WASMCUSTOM
                                 : found[i].seen[1] ? HFI_NAMING_BARE
                                                    : HFI_NAMING_NONE;
        pods[i].metrics.delay_ms.present = pods[i].metrics.delay_ms.count.present;
    }
    /* One value a pod in each of these answers; which field, the query says. */
    static const enum query_kind per_pod[] = {Q_SAMPLE_TIMES, Q_ABORT_RATES, Q_DELAY_RATES};
    for (size_t k = 0; k < sizeof per_pod / sizeof per_pod[0]; k++) {
        const struct query *pq = &s->queries[per_pod[k]];
        for (size_t i = 0; pq->ok && i < pq->answer.series_count; i++) {
            const prom_api_series *ser = &pq->answer.series[i];
            struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
            if (p)
                *(pq->kind == Q_SAMPLE_TIMES  ? &p->sample_time_s
                  : pq->kind == Q_ABORT_RATES ? &p->aborts_per_s
                                              : &p->delays_per_s) = ser->value;
        }
    }
    for (int k = 0; k < 2; k++) {
        const struct query *oq = &s->queries[k ? Q_OBSERVED_RATES : Q_OBSERVED];
        for (size_t i = 0; oq->ok && i < oq->answer.series_count; i++) {
            const prom_api_series *ser = &oq->answer.series[i];
            struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
            bool requests = strcmp(ser->label[L_FAMILY], "requests") == 0;
            if (!p || (!requests && strcmp(ser->label[L_FAMILY], "errors") != 0))
                continue;
            double *slot = k ? (requests ? &p->requests_per_s : &p->errors_per_s)
                             : (requests ? &p->requests_total : &p->errors_total);
            *slot = ser->value;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* No error series: no request failed (a selector matches nothing). */
        if (isfinite(pods[i].requests_total) && isnan(pods[i].errors_total))
            pods[i].errors_total = 0;
        if (isfinite(pods[i].requests_per_s) && isnan(pods[i].errors_per_s))
            pods[i].errors_per_s = 0;
    }
    if (s->queries[Q_WINDOW_BUCKETS].ok && !merge_window_buckets(s, pods, n)) {
        for (size_t i = 0; i < n; i++) {
            free(pods[i].delay_window.buckets);
            free(pods[i].latency_window.buckets);
        }
        free(pods);
        free(found);
        free(ix.slot);
        return;
    }
    const prom_api_answer *buckets = &s->queries[Q_BUCKETS].answer;
    for (size_t i = 0; s->queries[Q_BUCKETS].ok && i < buckets->series_count; i++) {
        const prom_api_series *ser = &buckets->series[i];
        struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
        double le;
        if (!p || !prom_api_parse_number(ser->label[L_LE], &le))
            continue;
        hfi_histogram *h = &p->metrics.delay_ms;
        p->has_buckets = true;
        h->present = true;
        if (h->bucket_count == HFI_HISTOGRAM_MAX_BUCKETS) {
            h->buckets_truncated = true;
            continue;
        }
        h->buckets[h->bucket_count++] = (prom_bucket){.upper_bound = le, .cumulative_count = ser->value};
    }
    for (size_t i = 0; i < n; i++) {
        hfi_histogram *h = &pods[i].metrics.delay_ms;
        if (h->bucket_count)
            qsort(h->buckets, h->bucket_count, sizeof h->buckets[0], compare_buckets);
        if (pods[i].has_buckets) {
            pods[i].percentiles = hfi_metrics_delay_percentiles(&pods[i].metrics);
            pods[i].has_percentiles = true;
        }
    }
    const prom_api_answer *quantiles = &s->queries[Q_QUANTILES].answer;
    for (size_t i = 0; s->queries[Q_QUANTILES].ok && i < quantiles->series_count; i++) {
        const prom_api_series *ser = &quantiles->series[i];
        struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
        if (!p)
            continue;
        p->has_percentiles = true;
        const char *f = ser->label[L_FAMILY];
        double *slot = strcmp(f, "p50") == 0   ? &p->percentiles.p50
                       : strcmp(f, "p95") == 0 ? &p->percentiles.p95
                       : strcmp(f, "p99") == 0 ? &p->percentiles.p99
                                               : NULL;
        if (slot)
            *slot = ser->value;
    }
    const prom_api_answer *history = &s->queries[Q_HISTORY].answer;
    for (int rendering = 1; rendering >= 0 && s->queries[Q_HISTORY].ok; rendering--) {
        /* The bare rendering first, so that the wasmcustom_ one replaces it. */
        for (size_t i = 0; i < history->series_count; i++) {
            const prom_api_series *ser = &history->series[i];
            struct prom_pod_values *p = find_row(&ix, pods, ser->label[L_NS], ser->label[L_POD]);
            const char *name = ser->label[L_NAME];
            bool ours = strncmp(name, "wasmcustom_", 11) == 0;
            if (!p || ours != (rendering == 0) || !ser->point_count)
                continue;
            bool aborts = strstr(name, "aborts_total") != NULL;
            if (!p->history) {
                p->history = calloc(ser->point_count, sizeof *p->history);
                if (!p->history)
                    continue;
                p->history_count = ser->point_count;
                for (size_t k = 0; k < ser->point_count; k++)
                    p->history[k] = (struct prom_history_point){ser->points[k].t_s, NAN, NAN};
            }
            /* Both counters come at the same steps; match them by time. */
            for (size_t k = 0, j = 0; k < ser->point_count && j < p->history_count; k++) {
                while (j < p->history_count && p->history[j].t_s < ser->points[k].t_s)
                    j++;
                if (j < p->history_count && p->history[j].t_s == ser->points[k].t_s) {
                    if (aborts)
                        p->history[j].aborts = ser->points[k].value;
                    else
                        p->history[j].delays = ser->points[k].value;
                }
            }
        }
    }
    /* The keys pointed into the answers: copy them. */
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        pods[i].ns = strdup(pods[i].ns);
        pods[i].pod = strdup(pods[i].pod);
        ok = ok && pods[i].ns && pods[i].pod;
    }
    free(found);
    free(ix.slot);
    if (!ok) {
        free_table(pods, n);
        set_failure(s, PROM_SOURCE_FAILED, "out of memory");
        return;
    }
    free_table(s->pods, s->pod_count);
    s->pods = pods;
    s->pod_count = n;
}

static void finish_refresh(struct prom_source *s)
{
    if (!s->failed_this_refresh) {
        if (s->queries[Q_VALUES].ok)
            merge(s);
        if (!s->failed_this_refresh) {
            s->state = PROM_SOURCE_OK;
            s->error[0] = '\0';
        }
    }
    for (int k = 0; k < Q_COUNT; k++)
        prom_api_answer_free(&s->queries[k].answer);
    s->busy = false;
    s->generation++;
}

/* ---- access ---- */

const struct prom_pod_values *prom_source_find(const struct prom_source *s, const char *ns, const char *pod)
{
    return s->pod_count ? lookup(s->pods, s->pod_count, ns ? ns : "", pod) : NULL;
}

size_t prom_source_pod_count(const struct prom_source *s)
{
    return s->pod_count;
}

enum prom_source_state prom_source_state(const struct prom_source *s)
{
    return s->state;
}

const char *prom_source_error(const struct prom_source *s)
{
    return s->error;
}

const char *prom_source_warning(const struct prom_source *s)
{
    return s->warning;
}

const char *prom_source_url(const struct prom_source *s)
{
    return s->base_url;
}

const char *prom_source_pod_label(const struct prom_source *s)
{
    return s->pod_label;
}

const char *prom_source_namespace_label(const struct prom_source *s)
{
    return s->namespace_label;
}

double prom_source_scrape_interval_s(const struct prom_source *s)
{
    return s->scrape_interval_s;
}

double prom_source_stale_after_s(const struct prom_source *s)
{
    return 2 * s->scrape_interval_s;
}
