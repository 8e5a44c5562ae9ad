#include "fault.h"

#include <stdlib.h>
#include <string.h>

#include "regex.h"

uint64_t hfi_rng_next(struct hfi_rng *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* One draw, uniform over [0, HFI_SAMPLE_ALWAYS). */
static bool sample(struct hfi_rng *rng, uint32_t threshold)
{
    if (threshold >= HFI_SAMPLE_ALWAYS)
        return true;
    if (threshold == 0)
        return false;
    uint64_t draw = ((hfi_rng_next(rng) >> 32) * (uint64_t)HFI_SAMPLE_ALWAYS) >> 32;
    return draw < threshold;
}

static bool text_equal(const char *a, size_t an, const char *b)
{
    return b && strlen(b) == an && memcmp(a, b, an) == 0;
}

bool hfi_rule_selects(const struct hfi_rule *rule, const char *workload, const char *ns)
{
    if (rule->selector_service && !text_equal(rule->selector_service, strlen(rule->selector_service), workload))
        return false;
    if (rule->selector_namespace && !text_equal(rule->selector_namespace, strlen(rule->selector_namespace), ns))
        return false;
    return true;
}

/* Path prefilter word: the length an exact or prefix path needs at least
 * (low 16 bits) and the byte it must hold at that length - 1 (bits 16-23),
 * valid when bit 24 is set. Zero: no path condition to check early. */
#define FILTER_HAS_BYTE (UINT32_C(1) << 24)

static uint32_t path_filter(const struct hfi_string_match *m)
{
    if ((m->kind != HFI_MATCH_EXACT && m->kind != HFI_MATCH_PREFIX) || m->value_len == 0)
        return 0;
    if (m->value_len > 0xFFFF)
        return 0xFFFF; /* longer than any path a filter word can describe: let the full match decide */
    return (uint32_t)m->value_len | (uint32_t)(unsigned char)m->value[m->value_len - 1] << 16 | FILTER_HAS_BYTE;
}

bool hfi_rule_set_build(struct hfi_rule_set *set, const struct hfi_config *config, const char *workload,
                        const char *ns)
{
    set->count = 0;
    set->rules = malloc((config->rule_count + 1) * sizeof *set->rules);
    set->path_filters = malloc((config->rule_count + 1) * sizeof *set->path_filters);
    if (!set->rules || !set->path_filters) {
        hfi_rule_set_free(set);
        return false;
    }
    for (size_t k = 0; k < config->rule_count; k++) {
        if (hfi_rule_selects(&config->rules[k], workload, ns)) {
            set->rules[set->count] = &config->rules[k];
            set->path_filters[set->count++] = path_filter(&config->rules[k].path);
        }
    }
    return true;
}

void hfi_rule_set_free(struct hfi_rule_set *set)
{
    free(set->rules);
    free(set->path_filters);
    set->rules = NULL;
    set->path_filters = NULL;
    set->count = 0;
}

size_t hfi_rule_set_in_force(const struct hfi_rule_set *set, uint64_t now_ns, uint64_t *next_change_ns)
{
    size_t in_force = 0;
    uint64_t next = UINT64_MAX;
    for (size_t k = 0; k < set->count; k++) {
        const struct hfi_rule *r = set->rules[k];
        if (now_ns >= r->active_from_ns && now_ns < r->active_until_ns)
            in_force++;
        if (r->active_from_ns > now_ns && r->active_from_ns < next)
            next = r->active_from_ns;
        if (r->active_until_ns > now_ns && r->active_until_ns < next)
            next = r->active_until_ns;
    }
    *next_change_ns = next;
    return in_force;
}

static bool string_matches(const struct hfi_string_match *m, const char *s, size_t n)
{
    switch (m->kind) {
    case HFI_MATCH_ANY:
        return true;
    case HFI_MATCH_EXACT:
        return s && n == m->value_len && memcmp(s, m->value, n) == 0;
    case HFI_MATCH_PREFIX:
        return s && n >= m->value_len && memcmp(s, m->value, m->value_len) == 0;
    case HFI_MATCH_REGEX:
        return s && hfi_regex_search(m->regex, s, n);
    }
    return false;
}

struct request {
    hfi_header_lookup lookup;
    void *ctx;
    bool have_raw_path, have_path, have_method;
    const char *path, *method;
    size_t path_len, method_len;
};

/* :path as sent, query string included. */
static void fetch_raw_path(struct request *req)
{
    if (!req->have_raw_path) {
        req->path = req->lookup(req->ctx, ":path", 5, &req->path_len);
        req->have_raw_path = true;
    }
}

/* :path without its query string, what path matchers see. */
static void fetch_path(struct request *req)
{
    fetch_raw_path(req);
    if (!req->have_path) {
        const char *query = req->path ? memchr(req->path, '?', req->path_len) : NULL;
        if (query)
            req->path_len = (size_t)(query - req->path);
        req->have_path = true;
    }
}

/* Prefixes in one configuration tend to share their start ("/api/"), hence
 * the byte at the end of the prefix rather than the first. The raw path
 * serves: a query string only shortens the path matchers see, so whatever
 * the filter rejects on the raw path they would reject too. The path is
 * passed by value: in wasm, locals are registers and struct fields loads. */
static bool passes_path_filter(const char *path, size_t path_len, uint32_t filter)
{
    size_t need = filter & 0xFFFF;
    if (!path || path_len < need)
        return false;
    return !(filter & FILTER_HAS_BYTE) || (unsigned char)path[need - 1] == (filter >> 16 & 0xFF);
}

static bool path_matches(struct request *req, const struct hfi_string_match *m)
{
    if (m->kind == HFI_MATCH_ANY)
        return true;
    fetch_path(req);
    return string_matches(m, req->path, req->path_len);
}

static bool method_matches(struct request *req, const struct hfi_string_match *m)
{
    if (m->kind == HFI_MATCH_ANY)
        return true;
    if (!req->have_method) {
        req->method = req->lookup(req->ctx, ":method", 7, &req->method_len);
        req->have_method = true;
    }
    return string_matches(m, req->method, req->method_len);
}

static bool rule_matches(const struct hfi_rule *r, struct request *req)
{
    if (!method_matches(req, &r->method) || !path_matches(req, &r->path))
        return false;
    for (size_t k = 0; k < r->header_count; k++) {
        const struct hfi_header_match *h = &r->headers[k];
        size_t n = 0;
        const char *v = req->lookup(req->ctx, h->name, h->name_len, &n);
        /* A named header must be present, even for a matcher-less entry. */
        if (!v || !string_matches(&h->match, v, n))
            return false;
    }
    return true;
}

static bool window_open(const struct hfi_rule *r, uint64_t now_ns)
{
    return now_ns >= r->active_from_ns && now_ns < r->active_until_ns;
}

/* A header value as a whole number within [0, max]. */
static bool header_integer(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || n == 0 || n > 12)
        return false;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* "12.5" -> sampling threshold; at most seven decimals are kept. */
static bool header_percentage(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    int decimals = -1;
    if (!s || n == 0 || n > 16)
        return false;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '.' && decimals < 0) {
            decimals = 0;
            continue;
        }
        if (s[k] < '0' || s[k] > '9')
            return false;
        if (decimals >= 7)
            continue;
        v = v * 10 + (uint64_t)(s[k] - '0');
        if (decimals >= 0)
            decimals++;
    }
    for (int d = decimals < 0 ? 0 : decimals; d < 7; d++)
        v *= 10;
    if (v > HFI_SAMPLE_ALWAYS)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Compares every byte whatever the first difference, so the time taken
 * tells nothing about the token. */
static bool token_equal(const char *given, size_t given_len, const char *token, size_t token_len)
{
    unsigned char diff = given_len != token_len;
    for (size_t k = 0; k < token_len; k++)
        diff |= (unsigned char)(token[k] ^ (k < given_len ? given[k] : 0));
    return diff == 0;
}

enum header_outcome { HEADERS_ABSENT, HEADERS_INJECT, HEADERS_SAMPLED_OUT };

/* Fault headers on a request speak for it: when present and authorised,
 * the rules are not consulted, even when the draw says no fault. */
static enum header_outcome header_fault(const struct hfi_header_faults *hf, struct request *req,
                                        struct hfi_rng *rng, struct hfi_decision *out)
{
    size_t n;
    const char *v;
    uint64_t number;
    if (!hf->enabled)
        return HEADERS_ABSENT;
    if (hf->token_len) {
        v = req->lookup(req->ctx, "x-hfi-fault-token", 17, &n);
        if (!v || !token_equal(v, n, hf->token, hf->token_len))
            return HEADERS_ABSENT;
    }
    v = req->lookup(req->ctx, "x-hfi-fault-abort", 17, &n);
    if (header_integer(v, n, 599, &number) && number >= 200) {
        out->abort = true;
        out->abort_status = (uint32_t)number;
    }
    v = req->lookup(req->ctx, "x-hfi-fault-delay-ms", 20, &n);
    if (header_integer(v, n, UINT64_C(999999999999), &number)) {
        out->delay = true;
        out->delay_ms = number > hf->max_delay_ms ? hf->max_delay_ms : (uint32_t)number;
    }
    if (!out->abort && !out->delay)
        return HEADERS_ABSENT;
    /* Like Envoy's fault filter, a malformed percentage header is ignored. */
    uint32_t threshold = HFI_SAMPLE_ALWAYS;
    v = req->lookup(req->ctx, "x-hfi-fault-percentage", 22, &n);
    if (v)
        header_percentage(v, n, &threshold);
    return sample(rng, threshold) ? HEADERS_INJECT : HEADERS_SAMPLED_OUT;
}

bool hfi_decide(const struct hfi_config *config, const struct hfi_rule_set *set, hfi_header_lookup lookup,
                void *lookup_ctx, hfi_clock clock, struct hfi_rng *rng, struct hfi_decision *out)
{
    struct request req = {.lookup = lookup, .ctx = lookup_ctx};
    memset(out, 0, sizeof *out);
    switch (header_fault(&config->header_faults, &req, rng, out)) {
    case HEADERS_INJECT:
        return true;
    case HEADERS_SAMPLED_OUT:
        memset(out, 0, sizeof *out);
        return false;
    case HEADERS_ABSENT:
        memset(out, 0, sizeof *out);
        break;
    }
    /* Locals, not fields: req's address is taken, so in wasm its fields
     * are memory loads on every iteration. */
    const uint32_t *filters = set->path_filters;
    size_t count = set->count;
    const char *path = NULL;
    size_t path_len = 0;
    bool path_fetched = false;
    uint64_t now_ns = 0;
    for (size_t k = 0; k < count; k++) {
        uint32_t filter = filters[k];
        if (filter) {
            if (!path_fetched) {
                fetch_raw_path(&req);
                path = req.path;
                path_len = req.path_len;
                path_fetched = true;
            }
            if (!passes_path_filter(path, path_len, filter))
                continue;
        }
        const struct hfi_rule *r = set->rules[k];
        if (!now_ns)
            now_ns = clock();
        if (!window_open(r, now_ns) || !rule_matches(r, &req))
            continue;
        if (!sample(rng, r->sample_threshold))
            return false;
        out->now_ns = now_ns;
        out->delay = r->has_delay;
        out->delay_ms = r->delay_ms;
        out->abort = r->has_abort;
        out->abort_status = r->abort_status;
        out->abort_body = r->abort_body;
        out->abort_body_len = r->abort_body_len;
        return true;
    }
    return false;
}
