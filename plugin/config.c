#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "regex.h"
#include "text.h"

/* ---- arena: a configuration is freed as a whole ---- */

struct hfi_config_chunk {
    struct hfi_config_chunk *next;
    size_t used, size;
    max_align_t data[];
};

/* With the chunk header and the allocator's, a 4 KiB block of the module's
 * power-of-two allocator. */
#define CHUNK_MIN_BYTES (4096u - 64u)

static void *arena_alloc(struct hfi_config *config, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    struct hfi_config_chunk *c = config->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN_BYTES ? n : CHUNK_MIN_BYTES;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = config->chunks;
        c->used = 0;
        c->size = size;
        config->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* ---- parse state and errors ---- */

/* The JSON text as a flat array of tokens in document order, made in one
 * pass (tokenize below). Strings exclude their quotes. */
enum json_type { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE };

struct json_token {
    int type;
    int start; /* byte offset into the text */
    int end;   /* strings, primitives: the offset past them; objects: keys; arrays: elements */
    int next;  /* the token after this value and everything inside it */
};

#define MAX_NESTING 32

/* Where the walk is: a key (key != NULL) or an array index per step. Only an
 * error turns it into text, so the walk pays one store per step. */
struct path_step {
    const char *key;
    size_t key_len; /* keys past 63 bytes are cut in messages */
    size_t index;
};

struct parser {
    const char *json;
    const struct json_token *tokens;
    int token_count;
    struct hfi_config *config;
    struct path_step path[MAX_NESTING + 2];
    size_t path_len;
    /* Elements of arrays that are the value of a key "rules": an upper
     * bound on the rules, counted by tokenize to size the rule array. */
    size_t rule_slots;
    struct text_buf err;
    int failed;
};

static void path_push_key(struct parser *p, const char *key, size_t len)
{
    if (p->path_len < sizeof p->path / sizeof *p->path)
        p->path[p->path_len] = (struct path_step){key, len < 64 ? len : 63, 0};
    p->path_len++;
}

static void path_push_index(struct parser *p, size_t index)
{
    if (p->path_len < sizeof p->path / sizeof *p->path)
        p->path[p->path_len] = (struct path_step){NULL, 0, index};
    p->path_len++;
}

static void path_restore(struct parser *p, size_t len)
{
    p->path_len = len;
}

/* Records the first error only: later ones are consequences of it. */
static int fail(struct parser *p, const char *what)
{
    if (!p->failed) {
        p->failed = 1;
        if (!p->path_len)
            text_append_str(&p->err, "configuration");
        for (size_t k = 0; k < p->path_len && k < sizeof p->path / sizeof *p->path; k++) {
            const struct path_step *step = &p->path[k];
            if (step->key) {
                text_append(&p->err, ".", k > 0);
                text_append(&p->err, step->key, step->key_len);
            } else {
                text_append(&p->err, "[", 1);
                text_append_u64(&p->err, step->index);
                text_append(&p->err, "]", 1);
            }
        }
        text_append_str(&p->err, ": ");
        text_append_str(&p->err, what);
    }
    return -1;
}

static int fail_with_detail(struct parser *p, const char *what, const char *detail)
{
    if (!p->failed) {
        fail(p, what);
        text_append_str(&p->err, detail);
    }
    return -1;
}

/* ---- token helpers ---- */

static int token_len(const struct parser *p, int i)
{
    return p->tokens[i].end - p->tokens[i].start;
}

static const char *token_text(const struct parser *p, int i)
{
    return p->json + p->tokens[i].start;
}

/* Index of the token after the whole value starting at i. */
static int skip_value(const struct parser *p, int i)
{
    return p->tokens[i].next;
}

static int key_is(const struct parser *p, int i, const char *key)
{
    /* the first byte first: most comparisons are misses, and cheaper so */
    if (!token_len(p, i) || *token_text(p, i) != *key)
        return 0;
    size_t n = strlen(key);
    return (size_t)token_len(p, i) == n && memcmp(token_text(p, i), key, n) == 0;
}

static int is_type(const struct parser *p, int i, int type)
{
    return p->tokens[i].type == type;
}

static int is_null(const struct parser *p, int i)
{
    return is_type(p, i, JSON_PRIMITIVE) && token_len(p, i) == 4 && memcmp(token_text(p, i), "null", 4) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_value(s[k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the JSON string at token i into the arena (NUL-terminated). The
 * tokenizer has checked its escapes and control characters already. */
static int get_string(struct parser *p, int i, const char **out, size_t *out_len)
{
    if (!is_type(p, i, JSON_STRING))
        return fail(p, "must be a string");
    const char *s = token_text(p, i);
    size_t n = (size_t)token_len(p, i);
    char *d = arena_alloc(p->config, n + 1); /* decoding never grows the text */
    if (!d)
        return fail(p, "out of memory");
    const char *escape = memchr(s, '\\', n);
    size_t o = escape ? (size_t)(escape - s) : n;
    memcpy(d, s, o);
    for (size_t k = o; k < n; k++) {
        if (s[k] != '\\') {
            d[o++] = s[k];
            continue;
        }
        static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *e = memchr(escapes, s[++k], sizeof escapes - 1);
        if (s[k] != 'u') {
            d[o++] = e[1];
            continue;
        }
        unsigned cp, low;
        parse_hex4(s + k + 1, &cp);
        k += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
            if (k + 6 >= n || s[k + 1] != '\\' || s[k + 2] != 'u' || parse_hex4(s + k + 3, &low) < 0 ||
                low < 0xDC00 || low > 0xDFFF)
                return fail(p, "string has an unpaired UTF-16 surrogate");
            k += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail(p, "string has an unpaired UTF-16 surrogate");
        }
        /* \u0000 would cut the C string short: a pattern or header that
         * silently lost its tail would match more than written. */
        if (cp == 0)
            return fail(p, "string holds \\u0000");
        o += put_utf8(d + o, cp);
    }
    d[o] = '\0';
    *out = d;
    *out_len = o;
    return 0;
}

/* A JSON number as digits and a power of ten: value = mantissa * 10^exp10. */
struct decimal {
    int negative;
    uint64_t mantissa;
    int exp10;
};

static int parse_decimal(const char *s, size_t n, struct decimal *d)
{
    size_t k = 0;
    int digits = 0, significant = 0;
    memset(d, 0, sizeof *d);
    if (k < n && s[k] == '-') {
        d->negative = 1;
        k++;
    }
    if (k >= n || s[k] < '0' || s[k] > '9')
        return -1;
    if (s[k] == '0' && k + 1 < n && s[k + 1] >= '0' && s[k + 1] <= '9')
        return -1; /* JSON forbids leading zeros */
    for (int frac = 0; k < n; k++) {
        char c = s[k];
        if (c == '.' && !frac) {
            frac = 1;
            if (k + 1 >= n || s[k + 1] < '0' || s[k + 1] > '9')
                return -1;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        digits++;
        if (significant < 18) {
            if (d->mantissa || c != '0')
                significant++;
            d->mantissa = d->mantissa * 10 + (uint64_t)(c - '0');
            if (frac)
                d->exp10--;
        } else if (!frac) {
            d->exp10++; /* digits past 18 only scale an integer part */
        }
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        int sign = 1, e = 0;
        k++;
        if (k < n && (s[k] == '+' || s[k] == '-'))
            sign = s[k++] == '-' ? -1 : 1;
        if (k >= n || s[k] < '0' || s[k] > '9')
            return -1;
        for (; k < n && s[k] >= '0' && s[k] <= '9'; k++)
            if (e < 10000)
                e = e * 10 + (s[k] - '0');
        d->exp10 += sign * e;
    }
    return k == n && digits ? 0 : -1;
}

/* value * 10^scale, truncated, into *out when it is within [0, max]. */
static int decimal_scaled(const struct decimal *d, int scale, uint64_t max, uint64_t *out, int *had_fraction)
{
    uint64_t v = d->mantissa;
    int e = d->exp10 + scale;
    *had_fraction = 0;
    if (v == 0) {
        *out = 0;
        return 0;
    }
    if (d->negative)
        return -1;
    for (; e > 0; e--) {
        if (v > max / 10)
            return -1;
        v *= 10;
    }
    for (; e < 0 && v; e++) {
        if (v % 10)
            *had_fraction = 1;
        v /= 10;
    }
    if (e < 0)
        *had_fraction = 1;
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int get_number_token(struct parser *p, int i, struct decimal *d)
{
    if (!is_type(p, i, JSON_PRIMITIVE) || parse_decimal(token_text(p, i), (size_t)token_len(p, i), d) < 0)
        return fail(p, "must be a number");
    return 0;
}

/* A whole number within [min, max]; the message states the range. */
static int get_integer(struct parser *p, int i, uint64_t min, uint64_t max, uint64_t *out)
{
    struct decimal d;
    int fraction;
    if (get_number_token(p, i, &d) < 0)
        return -1;
    if (d.negative && d.mantissa)
        return fail(p, "must not be negative");
    if (decimal_scaled(&d, 0, max, out, &fraction) < 0 || fraction || *out < min) {
        struct text_buf t;
        char range[64];
        text_init(&t, range, sizeof range);
        text_append_u64(&t, min);
        text_append_str(&t, "..");
        text_append_u64(&t, max);
        return fail_with_detail(p, "must be a whole number in ", range);
    }
    return 0;
}

static int get_bool(struct parser *p, int i, bool *out)
{
    if (is_type(p, i, JSON_PRIMITIVE) && key_is(p, i, "true"))
        *out = true;
    else if (is_type(p, i, JSON_PRIMITIVE) && key_is(p, i, "false"))
        *out = false;
    else
        return fail(p, "must be true or false");
    return 0;
}

/* A percentage in [0, 100], fractional, into the sampling unit. */
static int get_percentage(struct parser *p, int i, uint32_t *out)
{
    struct decimal d;
    uint64_t v;
    int fraction;
    if (get_number_token(p, i, &d) < 0)
        return -1;
    if ((d.negative && d.mantissa) || decimal_scaled(&d, 7, HFI_SAMPLE_ALWAYS, &v, &fraction) < 0)
        return fail(p, "must be a number in 0..100");
    *out = (uint32_t)v;
    return 0;
}

/* Legacy duration text: "500ms", "1.5s", "2m", "1h" -> milliseconds. */
static int get_duration_text(struct parser *p, int i, uint64_t max_ms, uint64_t *out_ms)
{
    const char *s;
    size_t n;
    static const struct {
        const char *suffix;
        int scale; /* power of ten to milliseconds */
        uint64_t factor;
    } units[] = {{"ms", 0, 1}, {"s", 3, 1}, {"m", 3, 60}, {"h", 3, 3600}};
    if (get_string(p, i, &s, &n) < 0)
        return -1;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t sl = strlen(units[u].suffix);
        struct decimal d;
        uint64_t v;
        int fraction;
        if (n <= sl || memcmp(s + n - sl, units[u].suffix, sl) != 0)
            continue;
        if (parse_decimal(s, n - sl, &d) < 0)
            break;
        if (d.negative && d.mantissa)
            return fail(p, "must not be negative");
        if (decimal_scaled(&d, units[u].scale, max_ms, &v, &fraction) < 0 || v > max_ms / units[u].factor)
            return fail(p, "is too long");
        *out_ms = v * units[u].factor;
        return 0;
    }
    return fail(p, "must be a duration such as \"500ms\" or \"1.5s\"");
}

/* ---- objects ---- */

typedef int (*field_fn)(struct parser *p, int key, int value, void *target);

/* Calls fn for each key of the object at i; unknown keys are the field
 * function's to ignore, so newer configurations load in older plugins. */
static int for_each_field(struct parser *p, int i, field_fn fn, void *target)
{
    if (!is_type(p, i, JSON_OBJECT))
        return fail(p, "must be an object");
    int count = p->tokens[i].end;
    int j = i + 1;
    for (int k = 0; k < count; k++) {
        size_t saved = p->path_len;
        path_push_key(p, token_text(p, j), (size_t)token_len(p, j));
        if (fn(p, j, j + 1, target) < 0)
            return -1;
        path_restore(p, saved);
        j = skip_value(p, j + 1);
    }
    return 0;
}

static int string_match_field(struct parser *p, int key, int value, void *target)
{
    struct hfi_string_match *m = target;
    enum hfi_match_kind kind;
    if (key_is(p, key, "exact"))
        kind = HFI_MATCH_EXACT;
    else if (key_is(p, key, "prefix"))
        kind = HFI_MATCH_PREFIX;
    else if (key_is(p, key, "regex"))
        kind = HFI_MATCH_REGEX;
    else
        return 0;
    if (m->kind != HFI_MATCH_ANY)
        return fail(p, "conflicts with another matcher: give one of exact, prefix, regex");
    if (get_string(p, value, &m->value, &m->value_len) < 0)
        return -1;
    m->kind = kind;
    if (kind == HFI_MATCH_REGEX) {
        char why[160], detail[260];
        struct text_buf t;
        struct hfi_config *c = p->config;
        if (c->regex_count == c->regex_capacity) {
            size_t cap = c->regex_capacity ? c->regex_capacity * 2 : 8;
            struct hfi_regex **grown = realloc(c->regexes, cap * sizeof *grown);
            if (!grown)
                return fail(p, "out of memory");
            c->regexes = grown;
            c->regex_capacity = cap;
        }
        if (hfi_regex_compile(m->value, m->value_len, &m->regex, why, sizeof why) < 0) {
            /* the pattern itself, as operators may not know which it is */
            text_init(&t, detail, sizeof detail);
            text_append(&t, "\"", 1);
            text_append(&t, m->value, m->value_len < 64 ? m->value_len : 64);
            text_append_str(&t, m->value_len > 64 ? "...\" " : "\" ");
            text_append_str(&t, why);
            return fail_with_detail(p, "", detail);
        }
        c->regexes[c->regex_count++] = m->regex;
    }
    return 0;
}

/* {"exact": "GET"} etc.; an object with no matcher matches anything. */
static int parse_string_match(struct parser *p, int i, struct hfi_string_match *m)
{
    return for_each_field(p, i, string_match_field, m);
}

static int header_match_field(struct parser *p, int key, int value, void *target)
{
    struct hfi_header_match *h = target;
    if (key_is(p, key, "name")) {
        const char *name;
        size_t n;
        if (get_string(p, value, &name, &n) < 0)
            return -1;
        if (!n)
            return fail(p, "must not be empty");
        /* the arena copy is ours to lower-case: header maps hold lower-case names */
        for (char *c = (char *)name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + ('a' - 'A'));
        h->name = name;
        h->name_len = n;
        return 0;
    }
    return string_match_field(p, key, value, &h->match);
}

struct rule_parse {
    struct hfi_rule *rule;
    int saw_delay_value;
};

static int delay_field(struct parser *p, int key, int value, void *target)
{
    struct rule_parse *rp = target;
    uint64_t ms;
    if (key_is(p, key, "fixed_delay_ms")) {
        if (get_integer(p, value, 0, 86400000, &ms) < 0)
            return -1;
    } else if (key_is(p, key, "fixed_delay")) {
        if (get_duration_text(p, value, 86400000, &ms) < 0)
            return -1;
    } else {
        return 0;
    }
    rp->rule->delay_ms = (uint32_t)ms;
    rp->saw_delay_value = 1;
    return 0;
}

static int abort_field(struct parser *p, int key, int value, void *target)
{
    struct hfi_rule *r = target;
    uint64_t status;
    if (key_is(p, key, "httpStatus") || key_is(p, key, "http_status")) {
        if (get_integer(p, value, 200, 599, &status) < 0)
            return -1;
        r->abort_status = (uint32_t)status;
    } else if (key_is(p, key, "body")) {
        return get_string(p, value, &r->abort_body, &r->abort_body_len);
    }
    return 0;
}

static int fault_field(struct parser *p, int key, int value, void *target)
{
    struct rule_parse *rp = target;
    struct hfi_rule *r = rp->rule;
    if (key_is(p, key, "percentage"))
        return get_percentage(p, value, &r->sample_threshold);
    if (key_is(p, key, "start_delay_ms"))
        return get_integer(p, value, 0, UINT64_C(1) << 40, &r->start_delay_ms);
    if (key_is(p, key, "duration_seconds"))
        return get_integer(p, value, 0, UINT64_C(1) << 32, &r->duration_seconds);
    if (key_is(p, key, "delay")) {
        if (is_null(p, value))
            return 0;
        rp->saw_delay_value = 0;
        if (for_each_field(p, value, delay_field, rp) < 0)
            return -1;
        if (!rp->saw_delay_value)
            return fail(p, "needs fixed_delay_ms or fixed_delay");
        r->has_delay = true;
        return 0;
    }
    if (key_is(p, key, "abort")) {
        if (is_null(p, value))
            return 0;
        if (for_each_field(p, value, abort_field, r) < 0)
            return -1;
        if (!r->abort_status)
            return fail(p, "needs httpStatus");
        r->has_abort = true;
    }
    return 0;
}

static int match_field(struct parser *p, int key, int value, void *target)
{
    struct hfi_rule *r = target;
    if (key_is(p, key, "method"))
        return parse_string_match(p, value, &r->method);
    if (key_is(p, key, "path"))
        return parse_string_match(p, value, &r->path);
    if (key_is(p, key, "headers")) {
        if (!is_type(p, value, JSON_ARRAY))
            return fail(p, "must be an array");
        size_t n = (size_t)p->tokens[value].end;
        r->headers = arena_alloc(p->config, n * sizeof *r->headers + 1);
        if (!r->headers)
            return fail(p, "out of memory");
        int j = value + 1;
        for (size_t k = 0; k < n; k++, j = skip_value(p, j)) {
            size_t saved = p->path_len;
            path_push_index(p, k);
            if (for_each_field(p, j, header_match_field, &r->headers[k]) < 0)
                return -1;
            if (!r->headers[k].name)
                return fail(p, "needs a name");
            path_restore(p, saved);
        }
        r->header_count = n;
    }
    return 0;
}

static int rule_field(struct parser *p, int key, int value, void *target)
{
    struct rule_parse *rp = target;
    if (key_is(p, key, "match"))
        return for_each_field(p, value, match_field, rp->rule);
    if (key_is(p, key, "fault"))
        return for_each_field(p, value, fault_field, rp);
    return 0;
}

struct policy_parse {
    const char *name;
    const char *service;
    const char *ns;
    int rules_token; /* -1 when absent */
    uint64_t start_time_ns, end_time_ns;
};

/* An RFC 3339 date-time in UTC ("2026-12-02T10:05:00Z", fractional seconds
 * allowed, "+00:00" as Z) into nanoseconds since the Unix epoch. The same
 * instant on every sidecar, however each one's clock started: the host
 * clock is wall time since the epoch (Envoy source/extensions/common/wasm/
 * context.cc, Context::getCurrentTimeNanoseconds). */
static int get_timestamp(struct parser *p, int i, uint64_t *out_ns)
{
    static const char shape[] = "0000-00-00T00:00:00";
    const char *s;
    size_t n, k, f = 0;
    uint32_t field[6] = {0}, fraction_ns = 0, scale = 1000000000; /* year, month, day, hour, minute, second */
    if (get_string(p, i, &s, &n) < 0)
        return -1;
    for (k = 0; k < n && k < sizeof shape - 1; k++) {
        if (shape[k] == '0' && s[k] >= '0' && s[k] <= '9')
            field[f] = field[f] * 10 + (uint32_t)(s[k] - '0');
        else if (s[k] == shape[k] || (k == 10 && s[k] == 't'))
            f++;
        else
            goto bad;
    }
    if (k < n && s[k] == '.')
        while (++k < n && s[k] >= '0' && s[k] <= '9')
            fraction_ns += (uint32_t)(s[k] - '0') * (scale /= 10); /* digits past nanoseconds add 0 */
    const char *zone = s + k;
    if ((*zone == '+' || *zone == '-') && strcmp(zone, "+00:00") != 0)
        return fail_with_detail(p, "must be in UTC (Z or +00:00), not the offset ", zone);
    uint32_t year = field[0], month = field[1], day = field[2];
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    /* 31 days in odd months up to July and even ones from August on */
    uint32_t month_days = month == 2 ? 28 + leap : 30 + ((month ^ month >> 3) & 1);
    if (f != 5 || s[k - 1] == '.' || (((*zone | 0x20) != 'z' || zone[1]) && strcmp(zone, "+00:00") != 0) ||
        year < 1970 || month - 1 > 11 || day - 1 >= month_days || field[3] > 23 || field[4] > 59 || field[5] > 59)
        goto bad;
    /* Days since 1970-01-01, counting years from March so that the leap
     * day ends a year: 153 days for each five months from March on. */
    uint32_t y = year - (month < 3), m = month < 3 ? month + 9 : month - 3;
    uint64_t days = (uint64_t)y * 365 + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + day - 1 - 719468;
    uint64_t seconds = ((days * 24 + field[3]) * 60 + field[4]) * 60 + field[5];
    /* From year 2554 on, nanoseconds overflow: such an end time means never. */
    *out_ns = seconds >= UINT64_MAX / 1000000000u ? UINT64_MAX : seconds * 1000000000u + fraction_ns;
    return 0;
bad:
    return fail(p, "must be an RFC 3339 time in UTC from 1970 on, such as \"2026-12-02T10:05:00Z\"");
}

static int selector_field(struct parser *p, int key, int value, void *target)
{
    struct policy_parse *pp = target;
    size_t n;
    const char **slot = key_is(p, key, "service") ? &pp->service : key_is(p, key, "namespace") ? &pp->ns : NULL;
    if (!slot)
        return 0;
    if (get_string(p, value, slot, &n) < 0)
        return -1;
    if (!n)
        *slot = NULL; /* empty selects everything, like an absent field */
    return 0;
}

static int spec_field(struct parser *p, int key, int value, void *target)
{
    struct policy_parse *pp = target;
    if (key_is(p, key, "selector"))
        return for_each_field(p, value, selector_field, pp);
    if (key_is(p, key, "rules")) {
        if (!is_type(p, value, JSON_ARRAY))
            return fail(p, "must be an array");
        pp->rules_token = value;
    }
    if (key_is(p, key, "start_time"))
        return get_timestamp(p, value, &pp->start_time_ns);
    if (key_is(p, key, "end_time"))
        return get_timestamp(p, value, &pp->end_time_ns);
    return 0;
}

static int metadata_field(struct parser *p, int key, int value, void *target)
{
    struct policy_parse *pp = target;
    size_t n;
    if (key_is(p, key, "name"))
        return get_string(p, value, &pp->name, &n);
    return 0;
}

static int policy_field(struct parser *p, int key, int value, void *target)
{
    if (key_is(p, key, "metadata"))
        return for_each_field(p, value, metadata_field, target);
    if (key_is(p, key, "spec"))
        return for_each_field(p, value, spec_field, target);
    return 0;
}

static int header_faults_field(struct parser *p, int key, int value, void *target)
{
    struct hfi_header_faults *h = target;
    uint64_t v;
    if (key_is(p, key, "enabled"))
        return get_bool(p, value, &h->enabled);
    if (key_is(p, key, "token"))
        return get_string(p, value, &h->token, &h->token_len);
    if (key_is(p, key, "max_delay_ms")) {
        if (get_integer(p, value, 0, 86400000, &v) < 0)
            return -1;
        h->max_delay_ms = (uint32_t)v;
    }
    return 0;
}

/* FNV-1a's step taken eight bytes at a time, then a byte at a time: as
 * each step is a bijection of h, inputs of one length that differ anywhere
 * still hash apart from the same start, at an eighth of the steps. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (; n >= 8; b += 8, n -= 8) {
        uint64_t word;
        memcpy(&word, b, 8);
        h = (h ^ word) * UINT64_C(0x100000001b3);
    }
    for (; n; b++, n--)
        h = (h ^ *b) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t hash_text(uint64_t h, const char *s, size_t n)
{
    h = hash_bytes(h, &n, sizeof n);
    return s ? hash_bytes(h, s, n) : h;
}

static uint64_t hash_match(uint64_t h, const struct hfi_string_match *m)
{
    h = hash_bytes(h, &m->kind, sizeof m->kind);
    return hash_text(h, m->value, m->value_len);
}

/* Identity of a rule: its policy, selector, match and fault, not where the
 * JSON put whitespace or in which order it wrote the keys. */
static uint64_t rule_identity(const struct hfi_rule *r)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = hash_text(h, r->policy_name, r->policy_name ? strlen(r->policy_name) : 0);
    h = hash_text(h, r->selector_service, r->selector_service ? strlen(r->selector_service) : 0);
    h = hash_text(h, r->selector_namespace, r->selector_namespace ? strlen(r->selector_namespace) : 0);
    h = hash_match(h, &r->method);
    h = hash_match(h, &r->path);
    for (size_t k = 0; k < r->header_count; k++) {
        h = hash_text(h, r->headers[k].name, r->headers[k].name_len);
        h = hash_match(h, &r->headers[k].match);
    }
    uint64_t numbers[] = {r->sample_threshold, r->has_delay, r->delay_ms, r->has_abort, r->abort_status,
                          r->start_delay_ms, r->duration_seconds};
    h = hash_bytes(h, numbers, sizeof numbers);
    return hash_text(h, r->abort_body, r->abort_body_len);
}

static int parse_policy(struct parser *p, int i, size_t *rule_at)
{
    struct policy_parse pp = {.rules_token = -1, .end_time_ns = UINT64_MAX};
    if (for_each_field(p, i, policy_field, &pp) < 0)
        return -1;
    /* An end_time past what nanoseconds hold (UINT64_MAX) is never reached. */
    if (pp.end_time_ns <= pp.start_time_ns && pp.end_time_ns != UINT64_MAX) {
        size_t saved = p->path_len;
        path_push_key(p, "spec.end_time", 13);
        fail(p, "must be after spec.start_time");
        path_restore(p, saved);
        return -1;
    }
    if (pp.rules_token < 0)
        return 0;
    size_t saved = p->path_len, first_rule = *rule_at;
    uint64_t times[] = {pp.start_time_ns, pp.end_time_ns};
    uint64_t policy = hash_bytes(UINT64_C(0xcbf29ce484222325), times, sizeof times);
    path_push_key(p, "spec.rules", 10);
    int j = pp.rules_token + 1;
    for (int k = 0; k < p->tokens[pp.rules_token].end; k++, j = skip_value(p, j)) {
        size_t at = p->path_len;
        struct hfi_rule *r = &p->config->rules[(*rule_at)++];
        struct rule_parse rp = {.rule = r};
        r->policy_name = pp.name ? pp.name : "";
        r->selector_service = pp.service;
        r->selector_namespace = pp.ns;
        r->sample_threshold = HFI_SAMPLE_ALWAYS;
        r->start_time_ns = pp.start_time_ns;
        r->end_time_ns = pp.end_time_ns;
        path_push_index(p, (size_t)k);
        if (for_each_field(p, j, rule_field, &rp) < 0)
            return -1;
        if (!r->has_delay && !r->has_abort)
            return fail(p, "fault needs a delay or an abort");
        uint64_t rule = rule_identity(r);
        policy = hash_bytes(policy, &rule, sizeof rule);
        path_restore(p, at);
    }
    for (size_t k = first_rule; k < *rule_at; k++)
        p->config->rules[k].identity = policy;
    path_restore(p, saved);
    return 0;
}

static int top_field(struct parser *p, int key, int value, void *target)
{
    (void)target;
    uint64_t v;
    if (key_is(p, key, "header_faults"))
        return for_each_field(p, value, header_faults_field, &p->config->header_faults);
    if (key_is(p, key, "max_active_delays")) {
        if (get_integer(p, value, 0, 1000000, &v) < 0)
            return -1;
        p->config->max_active_delays = (uint32_t)v;
        return 0;
    }
    if (key_is(p, key, "policies")) {
        size_t rule_at = 0;
        if (!is_type(p, value, JSON_ARRAY))
            return fail(p, "must be an array");
        int j = value + 1;
        for (int k = 0; k < p->tokens[value].end; k++, j = skip_value(p, j)) {
            size_t saved = p->path_len;
            path_push_index(p, (size_t)k);
            if (parse_policy(p, j, &rule_at) < 0)
                return -1;
            path_restore(p, saved);
        }
        p->config->rule_count = rule_at;
    }
    return 0;
}

/* ---- JSON: one pass, linear in the text ---- */

/* Limits of a configuration, checked as the text is read (README, "Policy
 * reference"). A WasmPlugin is a Kubernetes object, and etcd refuses any
 * object over its --max-request-bytes (1.5 MiB by default), so no real
 * pluginConfig comes near the size limit. */
#define MAX_CONFIG_BYTES (4u << 20)

static int fail_at(struct parser *p, const char *what, size_t offset)
{
    if (!p->failed) {
        fail(p, what);
        text_append_str(&p->err, " at offset ");
        text_append_u64(&p->err, offset);
    }
    return -1;
}

static size_t skip_blank(const char *s, size_t len, size_t k)
{
    while (k < len && (unsigned char)s[k] <= ' ' && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r'))
        k++;
    return k;
}

/* The end of the string whose opening quote is at k, or 0 when it is not a
 * JSON string. Escapes are checked here so that every string of the text is
 * valid, read or not; get_string decodes the ones the configuration uses. */
static size_t string_end(struct parser *p, const char *s, size_t len, size_t k)
{
    for (k++; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"')
            return k;
        if (c < 0x20) {
            fail_at(p, "is not JSON: a raw control character in a string", k);
            return 0;
        }
        if (c != '\\')
            continue;
        if (++k >= len)
            break;
        if (s[k] == 'u') {
            unsigned ignored;
            if (len - k < 5 || parse_hex4(s + k + 1, &ignored) < 0) {
                fail_at(p, "is not JSON: a bad \\u escape", k - 1);
                return 0;
            }
            k += 4;
        } else if (!memchr("\"\\/bfnrt", s[k], 8)) {
            fail_at(p, "is not JSON: an unknown escape", k - 1);
            return 0;
        }
    }
    fail(p, "is not JSON: it ends inside a string");
    return 0;
}

/* true, false, null or a number at k: its end, or 0 when it is none. */
static size_t primitive_end(const char *s, size_t len, size_t k)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t n = strlen(words[w]);
        if (len - k >= n && !memcmp(s + k, words[w], n))
            return k + n;
    }
    size_t end = k;
    struct decimal ignored;
    while (end < len && ((s[end] >= '0' && s[end] <= '9') || s[end] == '.' || s[end] == '-' || s[end] == '+' ||
                         (s[end] | 0x20) == 'e'))
        end++;
    return end > k && parse_decimal(s + k, end - k, &ignored) == 0 ? end : 0;
}

/* Strict JSON (RFC 8259) into p->tokens, refusing at the first byte that is
 * wrong, including the first bracket past MAX_NESTING, so a hostile text
 * costs no more than its prefix up to the problem. The array doubles as it
 * fills, 2^n - 1 tokens at a time: the module's allocator hands out 2^k
 * bytes less a 16-byte header. */
static int tokenize(struct parser *p, const char *s, size_t len)
{
    enum { VALUE, VALUE_AFTER_KEY, FIRST_VALUE, KEY, FIRST_KEY, COLON, AFTER_VALUE } want = VALUE;
    int open[MAX_NESTING], depth = 0, capacity = 0, count = 0, rc = -1;
    struct json_token *tokens = NULL;
    for (size_t k = skip_blank(s, len, 0); k < len; k = skip_blank(s, len, k)) {
        char c = s[k];
        struct json_token *container = depth ? &tokens[open[depth - 1]] : NULL;
        if (want == AFTER_VALUE) {
            int is_object = container && container->type == JSON_OBJECT;
            if (!container) {
                fail_at(p, "is not JSON: text follows the top-level value", k);
                goto out;
            }
            k++;
            if (c == (is_object ? '}' : ']')) {
                const struct json_token *key = container - 1;
                if (!is_object && container > tokens && key->type == JSON_STRING && key->end - key->start == 5 &&
                    !memcmp(s + key->start, "rules", 5))
                    p->rule_slots += (size_t)container->end;
                container->next = count;
                depth--;
            } else if (c == ',') {
                want = is_object ? KEY : VALUE;
            } else {
                fail_at(p, is_object ? "is not JSON: expected , or }" : "is not JSON: expected , or ]", k - 1);
                goto out;
            }
            continue;
        }
        if (want == COLON) {
            if (c != ':') {
                fail_at(p, "is not JSON: expected :", k);
                goto out;
            }
            k++;
            want = VALUE_AFTER_KEY;
            continue;
        }
        if ((want == FIRST_KEY && c == '}') || (want == FIRST_VALUE && c == ']')) {
            want = AFTER_VALUE;
            continue; /* the closing bracket is taken as after a value */
        }
        int is_key = want == KEY || want == FIRST_KEY;
        if (is_key && c != '"') {
            fail_at(p, "is not JSON: expected a string key", k);
            goto out;
        }
        if (container && want != VALUE_AFTER_KEY)
            container->end++; /* an element, or a key with its value */
        if (count == capacity) {
            struct json_token *grown = realloc(tokens, (size_t)(capacity * 2 + 1) * sizeof *grown);
            if (!grown) {
                fail(p, "out of memory");
                goto out;
            }
            tokens = grown;
            capacity = capacity * 2 + 1;
        }
        struct json_token *t = &tokens[count++];
        size_t end = k + 1;
        if (c == '{' || c == '[') {
            if (depth == MAX_NESTING) {
                fail_at(p, "nests deeper than 32 levels", k);
                goto out;
            }
            *t = (struct json_token){c == '{' ? JSON_OBJECT : JSON_ARRAY, (int)k, 0, 0};
            open[depth++] = count - 1;
            want = c == '{' ? FIRST_KEY : FIRST_VALUE;
            k++;
            continue;
        }
        if (c == '"') {
            if (!(end = string_end(p, s, len, k)))
                goto out;
            *t = (struct json_token){JSON_STRING, (int)k + 1, (int)end, count};
            end++;
        } else {
            if (!(end = primitive_end(s, len, k))) {
                fail_at(p, "is not JSON: expected a value", k);
                goto out;
            }
            *t = (struct json_token){JSON_PRIMITIVE, (int)k, (int)end, count};
        }
        k = end;
        want = is_key ? COLON : AFTER_VALUE;
    }
    if (want != AFTER_VALUE || depth)
        fail(p, "is not JSON: it ends too early");
    else
        rc = 0;
out:
    p->tokens = tokens;
    p->token_count = count;
    return rc;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
            return 0;
    return 1;
}

static void parse_document(struct parser *p)
{
    if (!is_type(p, 0, JSON_OBJECT)) {
        fail(p, "must be a JSON object");
        return;
    }
    p->config->rules = arena_alloc(p->config, p->rule_slots * sizeof *p->config->rules + 1);
    if (!p->config->rules)
        fail(p, "out of memory");
    else
        for_each_field(p, 0, top_field, NULL);
}

struct hfi_config *hfi_config_parse(const char *json, size_t len, char *err, size_t err_size)
{
    struct parser p = {.json = json};
    text_init(&p.err, err, err_size);
    struct hfi_config *config = calloc(1, sizeof *config);
    if (!config) {
        text_append_str(&p.err, "configuration: out of memory");
        return NULL;
    }
    config->header_faults.max_delay_ms = HFI_DEFAULT_MAX_DELAY_MS;
    config->header_faults.token = "";
    config->max_active_delays = HFI_DEFAULT_MAX_ACTIVE_DELAYS;
    p.config = config;
    if (len > MAX_CONFIG_BYTES) {
        char limit[64];
        struct text_buf t;
        text_init(&t, limit, sizeof limit);
        text_append_u64(&t, len);
        text_append_str(&t, " bytes, over the limit of ");
        text_append_u64(&t, MAX_CONFIG_BYTES);
        fail_with_detail(&p, "is ", limit);
    } else if (is_blank(json, len)) {
        return config;
    } else if (tokenize(&p, json, len) == 0) {
        parse_document(&p);
    }
    free((void *)p.tokens);
    if (p.failed) {
        hfi_config_free(config);
        return NULL;
    }
    return config;
}

void hfi_config_free(struct hfi_config *config)
{
    if (!config)
        return;
    for (size_t k = 0; k < config->regex_count; k++)
        hfi_regex_free(config->regexes[k]);
    free(config->regexes);
    while (config->chunks) {
        struct hfi_config_chunk *next = config->chunks->next;
        free(config->chunks);
        config->chunks = next;
    }
    free(config);
}

static uint64_t saturating_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t saturating_mul(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

bool hfi_config_inherit_first_seen(struct hfi_config *config, const struct hfi_config *previous, uint64_t now_ns)
{
    /* Open addressing over the previous rules' identities, at most half full. */
    size_t slots = 0, *table = NULL;
    bool ok = true;
    if (previous && previous->rule_count) {
        slots = 16;
        while (slots < 2 * previous->rule_count)
            slots *= 2;
        table = malloc(slots * sizeof *table);
        ok = table != NULL;
        for (size_t k = 0; table && k < slots; k++)
            table[k] = SIZE_MAX;
        for (size_t j = 0; table && j < previous->rule_count; j++) {
            size_t at = (size_t)previous->rules[j].identity & (slots - 1);
            while (table[at] != SIZE_MAX && previous->rules[table[at]].identity != previous->rules[j].identity)
                at = (at + 1) & (slots - 1);
            table[at] = j; /* the rules of one policy share their identity and first-seen time */
        }
    }
    for (size_t k = 0; k < config->rule_count; k++) {
        struct hfi_rule *r = &config->rules[k];
        r->first_seen_ns = now_ns;
        for (size_t at = table ? (size_t)r->identity & (slots - 1) : 0; table && table[at] != SIZE_MAX;
             at = (at + 1) & (slots - 1)) {
            if (previous->rules[table[at]].identity == r->identity) {
                r->first_seen_ns = previous->rules[table[at]].first_seen_ns;
                break;
            }
        }
        uint64_t from = saturating_add(r->first_seen_ns, saturating_mul(r->start_delay_ms, 1000000u));
        uint64_t until = r->duration_seconds
                             ? saturating_add(r->first_seen_ns, saturating_mul(r->duration_seconds, 1000000000u))
                             : UINT64_MAX;
        r->active_from_ns = from > r->start_time_ns ? from : r->start_time_ns;
        r->active_until_ns = until < r->end_time_ns ? until : r->end_time_ns;
    }
    free(table);
    return ok;
}
