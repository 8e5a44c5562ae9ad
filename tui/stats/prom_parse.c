#include "prom_parse.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "prom_locale.h"

/* One table lookup per byte on the hot path instead of chains of ranges. */
enum {
    CH_NAME_START = 1 << 0,  /* [A-Za-z_:] */
    CH_NAME = 1 << 1,        /* [A-Za-z0-9_:] */
    CH_LABEL_START = 1 << 2, /* [A-Za-z_] */
    CH_LABEL = 1 << 3,       /* [A-Za-z0-9_] */
    CH_BLANK = 1 << 4,       /* space, tab */
    CH_TOKEN_END = 1 << 5,   /* space, tab, CR, LF */
    CH_QUOTED_STOP = 1 << 6, /* what ends a plain run inside a label value */
};

#define LETTER (CH_NAME_START | CH_NAME | CH_LABEL_START | CH_LABEL)
static const unsigned char char_class[256] = {
    ['a' ... 'z'] = LETTER,
    ['A' ... 'Z'] = LETTER,
    ['_'] = LETTER,
    ['0' ... '9'] = CH_NAME | CH_LABEL,
    [':'] = CH_NAME_START | CH_NAME,
    [' '] = CH_BLANK | CH_TOKEN_END,
    ['\t'] = CH_BLANK | CH_TOKEN_END,
    ['\r'] = CH_TOKEN_END,
    ['\n'] = CH_TOKEN_END | CH_QUOTED_STOP,
    ['"'] = CH_QUOTED_STOP,
    ['\\'] = CH_QUOTED_STOP,
};
#undef LETTER

static inline bool has_class(char c, unsigned char cls)
{
    return (char_class[(unsigned char)c] & cls) != 0;
}

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* ---- the "C" locale for strtod_l and the JSON writer ---- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void create_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t prom_c_locale(void)
{
    pthread_once(&c_locale_once, create_c_locale);
    return c_locale;
}

/* ---- numbers ---- */

static bool equals_ignore_case(const char *s, size_t n, const char *lower)
{
    size_t i = 0;
    for (; i < n && lower[i]; i++)
        if ((s[i] | 0x20) != lower[i])
            return false;
    return i == n && lower[i] == '\0';
}

/* Longest number text handed to strtod_l; beyond this a value is refused
 * (only absurdly padded numbers are that long). */
#define SLOW_NUMBER_MAX 512

static bool parse_number_slow(const char *s, size_t n, double *out)
{
    char copy[SLOW_NUMBER_MAX + 1];
    if (n > SLOW_NUMBER_MAX)
        return false;
    memcpy(copy, s, n);
    copy[n] = '\0';
    char *end;
    locale_t loc = prom_c_locale();
    *out = loc ? strtod_l(copy, &end, loc) : strtod(copy, &end);
    return end == copy + n;
}

/* Exactly representable powers of ten: with a mantissa below 2^53, one
 * multiplication or division by these is correctly rounded (Clinger's fast
 * path), which covers nearly every value Envoy prints. */
static const double exact_powers_of_ten[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool parse_number(const char *s, size_t n, double *out, bool *is_u64, uint64_t *u64)
{
    *is_u64 = false;
    size_t i = 0;
    bool negative = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    if (!is_digit(s[i]) && s[i] != '.') {
        const char *word = s + i;
        size_t word_len = n - i;
        if (equals_ignore_case(word, word_len, "nan")) {
            *out = NAN;
            return true;
        }
        if (equals_ignore_case(word, word_len, "inf") || equals_ignore_case(word, word_len, "infinity")) {
            *out = negative ? -INFINITY : INFINITY;
            return true;
        }
        return false;
    }

    /* Plain integers first: Envoy's counters, gauges and bucket counts. */
    uint64_t whole = 0;
    bool overflow = false;
    size_t j = i;
    for (; j < n && is_digit(s[j]); j++) {
        unsigned digit = (unsigned)(s[j] - '0');
        if (whole > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            whole = whole * 10 + digit;
    }
    if (j == n && !overflow) {
        if (!negative) {
            *is_u64 = true;
            *u64 = whole;
        }
        *out = negative ? -(double)whole : (double)whole;
        return true;
    }

    /* General decimal: up to 19 significant digits, then a power of ten.
     * Longer text is refused here, which also bounds the exponent below. */
    if (n > SLOW_NUMBER_MAX)
        return false;
    uint64_t mantissa = 0;
    int significant = 0, exponent = 0;
    bool truncated = false, any_digit = false;
    for (j = i; j < n && is_digit(s[j]); j++) {
        any_digit = true;
        unsigned digit = (unsigned)(s[j] - '0');
        if (significant < 19) {
            mantissa = mantissa * 10 + digit;
            if (mantissa)
                significant++;
        } else {
            exponent++;
            truncated |= digit != 0;
        }
    }
    if (j < n && s[j] == '.') {
        for (j++; j < n && is_digit(s[j]); j++) {
            any_digit = true;
            unsigned digit = (unsigned)(s[j] - '0');
            if (significant < 19) {
                mantissa = mantissa * 10 + digit;
                exponent--;
                if (mantissa)
                    significant++;
            } else {
                truncated |= digit != 0;
            }
        }
    }
    if (!any_digit)
        return false;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        bool exp_negative = false;
        if (j < n && (s[j] == '+' || s[j] == '-')) {
            exp_negative = s[j] == '-';
            j++;
        }
        if (j == n || !is_digit(s[j]))
            return false;
        int written = 0;
        for (; j < n && is_digit(s[j]); j++)
            if (written < 100000)
                written = written * 10 + (s[j] - '0');
        exponent += exp_negative ? -written : written;
    }
    if (j != n)
        return false;

    if (mantissa == 0 && !truncated) {
        *out = negative ? -0.0 : 0.0;
        return true;
    }
    if (!truncated && mantissa <= (UINT64_C(1) << 53) && exponent >= -22 && exponent <= 22) {
        double value = (double)mantissa;
        value = exponent >= 0 ? value * exact_powers_of_ten[exponent] : value / exact_powers_of_ten[-exponent];
        *out = negative ? -value : value;
        return true;
    }
    return parse_number_slow(s, n, out);
}

bool prom_parse_double(const char *text, size_t len, double *out)
{
    bool is_u64;
    uint64_t u64;
    return parse_number(text, len, out, &is_u64, &u64);
}

static bool parse_timestamp(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (n > 0 && s[0] == '-') {
        negative = true;
        i = 1;
    }
    if (i == n)
        return false;
    uint64_t magnitude = 0;
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        unsigned digit = (unsigned)(s[i] - '0');
        if (magnitude > (limit - digit) / 10)
            return false;
        magnitude = magnitude * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return true;
}

/* ---- families: remembered by name so a family split in two places keeps
 * its type even when its second half comes without a `# TYPE` ---- */

#define FAMILY_SLOTS 1024 /* power of two; a full table stops remembering */

typedef struct family_slot {
    const char *name;
    uint32_t len; /* 0: empty slot */
    uint32_t type;
} family_slot;

typedef struct parser {
    const char *end;
    const prom_parse_options *opts;
    prom_parse_stats *stats;
    prom_span family;
    prom_metric_type family_type;
    size_t families_used;
    family_slot families[FAMILY_SLOTS];
    prom_label labels[PROM_MAX_LABELS];
} parser;

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void remember_family(parser *ps, prom_span name, prom_metric_type type)
{
    if (name.len > UINT32_MAX)
        return;
    uint32_t i = hash_name(name.ptr, name.len) & (FAMILY_SLOTS - 1);
    for (;; i = (i + 1) & (FAMILY_SLOTS - 1)) {
        family_slot *slot = &ps->families[i];
        if (slot->len == 0) {
            /* Keep one slot free so lookups always terminate. */
            if (ps->families_used + 1 >= FAMILY_SLOTS)
                return;
            ps->families_used++;
            *slot = (family_slot){name.ptr, (uint32_t)name.len, type};
            return;
        }
        if (slot->len == name.len && memcmp(slot->name, name.ptr, name.len) == 0) {
            slot->type = type;
            return;
        }
    }
}

static const family_slot *find_family(const parser *ps, const char *name, size_t len)
{
    uint32_t i = hash_name(name, len) & (FAMILY_SLOTS - 1);
    for (;; i = (i + 1) & (FAMILY_SLOTS - 1)) {
        const family_slot *slot = &ps->families[i];
        if (slot->len == 0)
            return NULL;
        if (slot->len == len && memcmp(slot->name, name, len) == 0)
            return slot;
    }
}

typedef enum { NOT_IN_FAMILY, IN_FAMILY, MALFORMED } family_match;

/* Decides whether sample belongs to family (name, type) and with which role.
 * A histogram bucket without a numeric `le` is malformed. */
static family_match match_family(prom_sample *sample, const char *fam, size_t fam_len, prom_metric_type type)
{
    prom_span name = sample->name;
    if (name.len < fam_len || memcmp(name.ptr, fam, fam_len) != 0)
        return NOT_IN_FAMILY;
    const char *rest = name.ptr + fam_len;
    size_t rest_len = name.len - fam_len;
    prom_sample_role role;
    if (rest_len == 0) {
        role = type == PROM_TYPE_SUMMARY && sample->has_quantile ? PROM_ROLE_QUANTILE : PROM_ROLE_VALUE;
    } else if (type != PROM_TYPE_HISTOGRAM && type != PROM_TYPE_SUMMARY) {
        return NOT_IN_FAMILY;
    } else if (rest_len == 7 && memcmp(rest, "_bucket", 7) == 0 && type == PROM_TYPE_HISTOGRAM) {
        if (!sample->has_le)
            return MALFORMED;
        role = PROM_ROLE_BUCKET;
    } else if (rest_len == 4 && memcmp(rest, "_sum", 4) == 0) {
        role = PROM_ROLE_SUM;
    } else if (rest_len == 6 && memcmp(rest, "_count", 6) == 0) {
        role = PROM_ROLE_COUNT;
    } else {
        return NOT_IN_FAMILY;
    }
    sample->family = (prom_span){fam, fam_len};
    sample->type = type;
    sample->role = role;
    return IN_FAMILY;
}

static family_match classify_sample(const parser *ps, prom_sample *sample)
{
    family_match m = NOT_IN_FAMILY;
    if (ps->family.len)
        m = match_family(sample, ps->family.ptr, ps->family.len, ps->family_type);
    if (m == NOT_IN_FAMILY && ps->families_used) {
        const family_slot *slot = find_family(ps, sample->name.ptr, sample->name.len);
        static const struct {
            const char *text;
            size_t len;
        } suffixes[] = {{"_bucket", 7}, {"_sum", 4}, {"_count", 6}};
        for (size_t i = 0; !slot && i < sizeof suffixes / sizeof suffixes[0]; i++) {
            size_t n = sample->name.len;
            if (n > suffixes[i].len && memcmp(sample->name.ptr + n - suffixes[i].len, suffixes[i].text, suffixes[i].len) == 0)
                slot = find_family(ps, sample->name.ptr, n - suffixes[i].len);
        }
        if (slot)
            m = match_family(sample, slot->name, slot->len, (prom_metric_type)slot->type);
    }
    if (m == NOT_IN_FAMILY) {
        sample->family = sample->name;
        sample->type = PROM_TYPE_UNTYPED;
        sample->role = PROM_ROLE_VALUE;
    }
    return m;
}

/* ---- lines ---- */

static inline const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && has_class(*p, CH_BLANK))
        p++;
    return p;
}

static inline const char *token_end(const char *p, const char *end)
{
    while (p < end && !has_class(*p, CH_TOKEN_END))
        p++;
    return p;
}

static inline const char *after_newline(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}

/* Trailing blanks and CRs, then the end of the line. Returns the start of
 * the next line, or NULL if anything else is there. */
static inline const char *line_end(const char *p, const char *end)
{
    while (p < end && (has_class(*p, CH_BLANK) || *p == '\r'))
        p++;
    if (p == end)
        return end;
    return *p == '\n' ? p + 1 : NULL;
}

static const char *const type_names[] = {
    [PROM_TYPE_UNTYPED] = "untyped",
    [PROM_TYPE_COUNTER] = "counter",
    [PROM_TYPE_GAUGE] = "gauge",
    [PROM_TYPE_HISTOGRAM] = "histogram",
    [PROM_TYPE_SUMMARY] = "summary",
};

const char *prom_metric_type_name(prom_metric_type type)
{
    return (unsigned)type < sizeof type_names / sizeof type_names[0] ? type_names[type] : "untyped";
}

/* `# HELP name doc`, `# TYPE name type`, or any other comment. Returns the
 * next line, or NULL for a malformed HELP/TYPE. */
static const char *parse_comment_line(parser *ps, const char *p, int *stop)
{
    const char *end = ps->end;
    p = skip_blanks(p + 1, end);
    const char *word = p;
    p = token_end(p, end);
    size_t word_len = (size_t)(p - word);
    bool is_type = word_len == 4 && memcmp(word, "TYPE", 4) == 0;
    bool is_help = word_len == 4 && memcmp(word, "HELP", 4) == 0;
    if (!is_type && !is_help) {
        ps->stats->comment_lines++;
        return after_newline(p, end);
    }
    p = skip_blanks(p, end);
    const char *name = p;
    if (p == end || !has_class(*p, CH_NAME_START))
        return NULL;
    while (p < end && has_class(*p, CH_NAME))
        p++;
    prom_span family = {name, (size_t)(p - name)};
    if (p < end && !has_class(*p, CH_TOKEN_END))
        return NULL;
    if (is_help) {
        ps->stats->help_lines++;
        return after_newline(p, end);
    }
    p = skip_blanks(p, end);
    const char *type_word = p;
    p = token_end(p, end);
    size_t type_len = (size_t)(p - type_word);
    prom_metric_type type;
    if (equals_ignore_case(type_word, type_len, "counter"))
        type = PROM_TYPE_COUNTER;
    else if (equals_ignore_case(type_word, type_len, "gauge"))
        type = PROM_TYPE_GAUGE;
    else if (equals_ignore_case(type_word, type_len, "histogram"))
        type = PROM_TYPE_HISTOGRAM;
    else if (equals_ignore_case(type_word, type_len, "summary"))
        type = PROM_TYPE_SUMMARY;
    else if (equals_ignore_case(type_word, type_len, "untyped"))
        type = PROM_TYPE_UNTYPED;
    else
        return NULL;
    const char *next = line_end(p, end);
    if (!next)
        return NULL;
    ps->stats->type_lines++;
    ps->family = family;
    ps->family_type = type;
    remember_family(ps, family, type);
    if (ps->opts->on_type)
        *stop = ps->opts->on_type(ps->opts->user, family, type);
    return next;
}

static bool name_wanted(const prom_parse_options *opts, prom_span name)
{
    for (size_t i = 0; i < opts->name_prefix_count; i++)
        if (prom_span_starts_with(name, opts->name_prefixes[i]))
            return true;
    return false;
}

/* `{k="v",...}` starting at '{'. Returns the position after '}' or NULL. */
static const char *parse_labels(parser *ps, const char *p, prom_sample *sample)
{
    const char *end = ps->end;
    p++;
    for (;;) {
        p = skip_blanks(p, end);
        if (p == end)
            return NULL;
        if (*p == '}')
            return p + 1;
        const char *name = p;
        if (!has_class(*p, CH_LABEL_START))
            return NULL;
        while (p < end && has_class(*p, CH_LABEL))
            p++;
        size_t name_len = (size_t)(p - name);
        p = skip_blanks(p, end);
        if (p == end || *p != '=')
            return NULL;
        p = skip_blanks(p + 1, end);
        if (p == end || *p != '"')
            return NULL;
        const char *value = ++p;
        bool escapes = false;
        for (;;) {
            while (p < end && !has_class(*p, CH_QUOTED_STOP))
                p++;
            if (p == end || *p == '\n')
                return NULL;
            if (*p == '"')
                break;
            /* A backslash: only the three escapes of the format. */
            if (p + 1 == end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
                return NULL;
            escapes = true;
            p += 2;
        }
        size_t value_len = (size_t)(p - value);
        p++;
        if (sample->label_count < PROM_MAX_LABELS)
            ps->labels[sample->label_count++] = (prom_label){{name, name_len}, {value, value_len}, escapes};
        else
            sample->labels_truncated = true;
        if (!escapes) {
            bool ignored_u64;
            uint64_t ignored;
            if (name_len == 2 && name[0] == 'l' && name[1] == 'e')
                sample->has_le = parse_number(value, value_len, &sample->le, &ignored_u64, &ignored);
            else if (name_len == 8 && memcmp(name, "quantile", 8) == 0)
                sample->has_quantile = parse_number(value, value_len, &sample->quantile, &ignored_u64, &ignored);
        }
        p = skip_blanks(p, end);
        if (p == end)
            return NULL;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return NULL;
    }
}

/* Returns the next line, NULL for garbage; *stop set by the callback. */
static const char *parse_sample_line(parser *ps, const char *p, size_t line_number, int *stop)
{
    const char *end = ps->end;
    const prom_parse_options *opts = ps->opts;
    const char *name = p;
    if (!has_class(*p, CH_NAME_START))
        return NULL;
    while (p < end && has_class(*p, CH_NAME))
        p++;
    prom_sample sample;
    sample.name = (prom_span){name, (size_t)(p - name)};
    if (opts->name_prefixes && !name_wanted(opts, sample.name)) {
        ps->stats->skipped_lines++;
        return after_newline(p, end);
    }
    sample.labels = ps->labels;
    sample.label_count = 0;
    sample.labels_truncated = false;
    sample.has_le = false;
    sample.le = 0;
    sample.has_quantile = false;
    sample.quantile = 0;
    sample.value_u64 = 0;
    sample.line_number = line_number;
    p = skip_blanks(p, end);
    if (p < end && *p == '{') {
        p = parse_labels(ps, p, &sample);
        if (!p)
            return NULL;
        p = skip_blanks(p, end);
    } else if (p == name + sample.name.len) {
        return NULL; /* the name must end at a blank or a brace */
    }
    const char *value = p;
    p = token_end(p, end);
    if (!parse_number(value, (size_t)(p - value), &sample.value, &sample.value_is_u64, &sample.value_u64))
        return NULL;
    p = skip_blanks(p, end);
    sample.has_timestamp = false;
    if (p < end && (is_digit(*p) || *p == '-')) {
        const char *stamp = p;
        p = token_end(p, end);
        if (!parse_timestamp(stamp, (size_t)(p - stamp), &sample.timestamp_ms))
            return NULL;
        sample.has_timestamp = true;
    }
    const char *next = line_end(p, end);
    if (!next)
        return NULL;
    if (classify_sample(ps, &sample) == MALFORMED)
        return NULL;
    ps->stats->samples++;
    if (opts->on_sample)
        *stop = opts->on_sample(opts->user, &sample);
    return next;
}

int prom_parse(const char *buf, size_t len, const prom_parse_options *opts, prom_parse_stats *stats)
{
    static const prom_parse_options no_options;
    prom_parse_stats local_stats;
    if (!stats)
        stats = &local_stats;
    memset(stats, 0, sizeof *stats);
    if (!opts)
        opts = &no_options;
    if (!buf)
        return 0;

    parser *ps = &(parser){.end = buf + len, .opts = opts, .stats = stats};
    const char *p = buf, *end = buf + len;
    size_t line_number = 0;
    int stop = 0;
    while (p < end && !stop) {
        line_number++;
        const char *line = p;
        p = skip_blanks(p, end);
        const char *next;
        if (p == end || *p == '\n' || *p == '\r') {
            next = line_end(p, end);
            if (next)
                stats->blank_lines++;
        } else if (*p == '#') {
            next = parse_comment_line(ps, p, &stop);
        } else {
            next = parse_sample_line(ps, p, line_number, &stop);
        }
        if (!next) {
            stats->garbage_lines++;
            if (!stats->first_garbage_line)
                stats->first_garbage_line = line_number;
            next = after_newline(line, end);
        }
        p = next;
    }
    stats->lines = line_number;
    return stop;
}

/* ---- helpers for callers ---- */

bool prom_span_equals(prom_span span, const char *text)
{
    size_t n = strlen(text);
    return span.len == n && memcmp(span.ptr, text, n) == 0;
}

bool prom_span_starts_with(prom_span span, const char *prefix)
{
    size_t n = strlen(prefix);
    return span.len >= n && memcmp(span.ptr, prefix, n) == 0;
}

/* The byte at raw[*i] with an escape decoded; advances *i past it. */
static char next_decoded_byte(prom_span raw, size_t *i)
{
    char c = raw.ptr[(*i)++];
    if (c == '\\' && *i < raw.len) {
        c = raw.ptr[(*i)++];
        if (c == 'n')
            c = '\n';
    }
    return c;
}

size_t prom_label_value(const prom_label *label, char *out, size_t out_size)
{
    size_t n = 0;
    for (size_t i = 0; i < label->raw_value.len; n++) {
        char c = next_decoded_byte(label->raw_value, &i);
        if (n + 1 < out_size)
            out[n] = c;
    }
    if (out_size)
        out[n < out_size ? n : out_size - 1] = '\0';
    return n;
}

bool prom_label_value_equals(const prom_label *label, const char *text)
{
    if (!label->value_has_escapes)
        return strlen(text) == label->raw_value.len && memcmp(text, label->raw_value.ptr, label->raw_value.len) == 0;
    size_t n = 0;
    for (size_t i = 0; i < label->raw_value.len; n++) {
        char c = next_decoded_byte(label->raw_value, &i);
        if (text[n] == '\0' || text[n] != c)
            return false;
    }
    return text[n] == '\0';
}

const prom_label *prom_sample_label(const prom_sample *sample, const char *name)
{
    for (size_t i = 0; i < sample->label_count; i++)
        if (prom_span_equals(sample->labels[i].name, name))
            return &sample->labels[i];
    return NULL;
}
