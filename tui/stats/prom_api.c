#include "prom_api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_locale.h"

const char *const prom_api_pod_label_candidates[] = {"pod", "pod_name", "kubernetes_pod_name"};
const size_t prom_api_pod_label_candidate_count = 3;
const char *const prom_api_namespace_label_candidates[] = {"namespace", "kubernetes_namespace"};
const size_t prom_api_namespace_label_candidate_count = 2;

/* ---- answers ---- */

static void set_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static prom_api_status malformed(prom_api_answer *out, const char *what)
{
    out->status = PROM_API_MALFORMED;
    set_text(out->error, sizeof out->error, what);
    return out->status;
}

/* Sample values are strings: "42", "1.5e3", "NaN", "+Inf", "-Inf"
 * (prometheus web/api/v1 marshals floats with strconv 'f'/'e' formats). */
bool prom_api_parse_number(const char *s, double *out)
{
    if (!s[0])
        return false;
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    char *end;
    locale_t c = prom_c_locale();
    double d = c ? strtod_l(s, &end, c) : strtod(s, &end);
    if (*end || end == s || isnan(d) || isinf(d))
        return false;
    *out = d;
    return true;
}

/* The answers are read by a reader of JSON made for their shape, not into
 * a general tree: at 10,000 pods one answer holds 20,000 series, and a
 * cJSON node allocated (and later freed) for every key and value was most
 * of hfitop's own time in a refresh. Strings are unescaped into one block
 * as long as the answer (unescaped, a string is never longer than its JSON
 * text with quotes), which the labels point into. */

/* Arrays and objects nested deeper than this are refused. */
#define MAX_DEPTH 64

typedef struct reader {
    const char *p, *end, *start;
    char *strings;        /* the next free byte of the string block */
    const char *problem;  /* the first JSON error met, NULL while none */
    size_t problem_at;
} reader;

static bool bad_json(reader *r, const char *what)
{
    if (!r->problem) {
        r->problem = what;
        r->problem_at = (size_t)(r->p - r->start);
    }
    return false;
}

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* Whether the next character, after white space, is c; taken if so. */
static bool take(reader *r, char c)
{
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static bool next_is(reader *r, char c)
{
    skip_space(r);
    return r->p < r->end && *r->p == c;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Writes code point cp as UTF-8 at o; returns the byte after it. */
static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* A string: unescaped into the block and *out set to it when out is not
 * NULL, else only checked. A lone UTF-16 surrogate becomes U+FFFD. */
static bool read_string(reader *r, const char **out)
{
    skip_space(r);
    if (r->p >= r->end || *r->p != '"')
        return bad_json(r, "a string was expected");
    r->p++;
    char *o = r->strings;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        if (c < 0x20)
            return bad_json(r, "a control character inside a string");
        if (c != '\\') {
            if (out)
                *o++ = (char)c;
            continue;
        }
        if (r->p >= r->end)
            break;
        static const char escapes[] = "\"\\/bfnrt", meanings[] = "\"\\/\b\f\n\r\t";
        char e = *r->p++;
        const char *simple = e ? strchr(escapes, e) : NULL;
        unsigned cp;
        if (simple) {
            cp = (unsigned char)meanings[simple - escapes];
        } else if (e == 'u') {
            int hi = r->end - r->p >= 4 ? hex4(r->p) : -1;
            if (hi < 0)
                return bad_json(r, "a \\u escape without four hex digits");
            r->p += 4;
            cp = (unsigned)hi;
            if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
                int lo = hex4(r->p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                    r->p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
        } else {
            return bad_json(r, "an unknown escape inside a string");
        }
        if (out)
            o = put_utf8(o, cp);
    }
    if (r->p >= r->end)
        return bad_json(r, "a string is not closed");
    r->p++;
    if (out) {
        *o++ = '\0';
        *out = r->strings;
        r->strings = o;
    }
    return true;
}

/* A JSON number; its value in *out when out is not NULL. */
static bool read_number(reader *r, double *out)
{
    skip_space(r);
    const char *s = r->p, *p = s;
    if (p < r->end && *p == '-')
        p++;
    const char *digits = p;
    while (p < r->end && *p >= '0' && *p <= '9')
        p++;
    bool ok = p > digits && !(*digits == '0' && p - digits > 1);
    if (ok && p < r->end && *p == '.') {
        const char *frac = ++p;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
        ok = p > frac;
    }
    if (ok && p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        const char *exp = p;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
        ok = p > exp;
    }
    if (!ok)
        return bad_json(r, "a number was expected");
    r->p = p;
    if (out) {
        char text[64];
        if ((size_t)(p - s) >= sizeof text)
            return bad_json(r, "a number is too long");
        memcpy(text, s, (size_t)(p - s));
        text[p - s] = '\0';
        locale_t c = prom_c_locale();
        *out = c ? strtod_l(text, NULL, c) : strtod(text, NULL);
    }
    return true;
}

static bool skip_value(reader *r, int depth);

/* The members of an object or the elements of an array, skipped; the
 * opening bracket is taken. */
static bool skip_members(reader *r, char close, int depth)
{
    if (take(r, close))
        return true;
    do {
        if (close == '}' && !(read_string(r, NULL) && (take(r, ':') || bad_json(r, "a ':' was expected"))))
            return false;
        if (!skip_value(r, depth + 1))
            return false;
    } while (take(r, ','));
    return take(r, close) || bad_json(r, close == '}' ? "a ',' or '}' was expected" : "a ',' or ']' was expected");
}

static bool skip_value(reader *r, int depth)
{
    if (depth > MAX_DEPTH)
        return bad_json(r, "values nested too deeply");
    skip_space(r);
    if (r->p >= r->end)
        return bad_json(r, "the answer ends early");
    switch (*r->p) {
    case '"':
        return read_string(r, NULL);
    case '{':
    case '[': {
        char close = *r->p == '{' ? '}' : ']';
        r->p++;
        return skip_members(r, close, depth);
    }
    default:
        for (size_t i = 0; i < 3; i++) {
            static const char *const words[] = {"true", "false", "null"};
            size_t n = strlen(words[i]);
            if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
                r->p += n;
                return true;
            }
        }
        return read_number(r, NULL);
    }
}

/* Reads a key and its ':'; the key is unescaped into scratch space that
 * the next string overwrites. */
static bool read_key(reader *r, const char **key)
{
    char *mark = r->strings;
    bool ok = read_string(r, key) && (take(r, ':') || bad_json(r, "a ':' was expected"));
    r->strings = mark;
    return ok;
}

/* Iterates the members of an object: call with *first true at '{'. */
static bool next_member(reader *r, bool *first, const char **key)
{
    if (*first) {
        *first = false;
        if (!take(r, '{'))
            return false;
        if (take(r, '}'))
            return false;
    } else if (!take(r, ',')) {
        if (!take(r, '}'))
            bad_json(r, "a ',' or '}' was expected");
        return false;
    }
    return read_key(r, key);
}

static bool next_is_number(reader *r)
{
    skip_space(r);
    return r->p < r->end && (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'));
}

/* [time, "value"]. When the value there has another shape it is skipped
 * and *shape_ok is false; false only when it is not JSON. */
static bool read_pair(reader *r, double *t, double *value, bool *shape_ok)
{
    skip_space(r);
    const char *at = r->p;
    char *mark = r->strings;
    const char *text;
    *shape_ok = take(r, '[') && next_is_number(r) && read_number(r, t) && take(r, ',') && next_is(r, '"') &&
                read_string(r, &text) && take(r, ']') && isfinite(*t) && prom_api_parse_number(text, value);
    r->strings = mark;
    if (*shape_ok)
        return true;
    if (r->problem)
        return false;
    r->p = at;
    return skip_value(r, 1);
}

/* One series as read, and what the result type (known only at the end)
 * will ask of it: its "value" in shape, or a "values" list of points in
 * shape (where they start in the answer's point list). */
typedef struct series_read {
    prom_api_series s;
    size_t first_point;
    bool value_ok, values_list, points_ok;
} series_read;

typedef struct reading {
    reader r;
    const char *const *labels;
    size_t label_count;
    series_read *series;
    size_t series_count, series_cap;
    prom_api_point *points;
    size_t point_count, point_cap;
    bool out_of_memory;
} reading;

/* Room for one more element of *array (used of *cap taken). */
static bool grow(reading *g, void **array, size_t *cap, size_t used, size_t size)
{
    if (used < *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 64;
    void *a = realloc(*array, n * size);
    if (!a) {
        g->out_of_memory = true;
        return false;
    }
    *array = a;
    *cap = n;
    return true;
}

static bool read_metric(reading *g, prom_api_series *ser)
{
    reader *r = &g->r;
    if (!next_is(r, '{'))
        return bad_json(r, "a series' \"metric\" is not an object");
    bool first = true;
    const char *key;
    while (next_member(r, &first, &key)) {
        size_t k = 0;
        while (k < g->label_count && strcmp(key, g->labels[k]) != 0)
            k++;
        bool wanted = k < g->label_count && !ser->label[k][0] && next_is(r, '"');
        if (!(wanted ? read_string(r, &ser->label[k]) : skip_value(r, 4)))
            return false;
    }
    return !r->problem;
}

static bool read_points(reading *g, series_read *sr)
{
    reader *r = &g->r;
    sr->first_point = g->point_count;
    sr->s.point_count = 0;
    sr->points_ok = true;
    if (!next_is(r, '['))
        return skip_value(r, 3);
    sr->values_list = true;
    r->p++;
    if (take(r, ']'))
        return true;
    do {
        if (!grow(g, (void **)&g->points, &g->point_cap, g->point_count, sizeof *g->points))
            return false;
        prom_api_point *pt = &g->points[g->point_count];
        bool shape_ok;
        if (!read_pair(r, &pt->t_s, &pt->value, &shape_ok))
            return false;
        g->point_count += shape_ok;
        sr->s.point_count += shape_ok;
        sr->points_ok = sr->points_ok && shape_ok;
    } while (take(r, ','));
    return take(r, ']') || bad_json(r, "a ',' or ']' was expected");
}

/* A series object of data.result; the caller has seen its '{'. */
static bool read_series(reading *g)
{
    reader *r = &g->r;
    if (!grow(g, (void **)&g->series, &g->series_cap, g->series_count, sizeof *g->series))
        return false;
    series_read *sr = &g->series[g->series_count++];
    memset(sr, 0, sizeof *sr);
    for (size_t k = 0; k < g->label_count; k++)
        sr->s.label[k] = "";
    bool first = true;
    const char *key;
    while (next_member(r, &first, &key)) {
        bool ok;
        if (strcmp(key, "metric") == 0)
            ok = read_metric(g, &sr->s);
        else if (strcmp(key, "value") == 0)
            ok = read_pair(r, &sr->s.t_s, &sr->s.value, &sr->value_ok);
        else if (strcmp(key, "values") == 0)
            ok = read_points(g, sr);
        else
            ok = skip_value(r, 3);
        if (!ok)
            return false;
    }
    return !r->problem && !g->out_of_memory;
}

/* What data.result was: a list of series, a [time, "value"] pair, or
 * something else. */
enum result_form { RESULT_ABSENT, RESULT_LIST, RESULT_PAIR, RESULT_OTHER };

static bool read_result(reading *g, enum result_form *form, prom_api_series *pair)
{
    reader *r = &g->r;
    const char *at = (skip_space(r), r->p);
    if (!take(r, '[')) {
        *form = RESULT_OTHER;
        return skip_value(r, 2);
    }
    if (take(r, ']')) {
        *form = RESULT_LIST;
        return true;
    }
    if (!next_is(r, '{')) {
        bool shape_ok;
        r->p = at;
        if (!read_pair(r, &pair->t_s, &pair->value, &shape_ok))
            return false;
        *form = shape_ok ? RESULT_PAIR : RESULT_OTHER;
        return true;
    }
    *form = RESULT_LIST;
    do {
        if (!next_is(r, '{'))
            return bad_json(r, "a series is not an object with a \"metric\" object");
        if (!read_series(g))
            return false;
    } while (take(r, ','));
    return take(r, ']') || bad_json(r, "a ',' or ']' was expected");
}

static prom_api_status finish_result(prom_api_answer *out, reading *g, const char *type, enum result_form form,
                                     const prom_api_series *pair)
{
    set_text(out->result_type, sizeof out->result_type, type);
    if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
        /* [t, "v"]: one series without labels. */
        if (form != RESULT_PAIR)
            return malformed(out, "a scalar result is not [time, \"value\"]");
        out->series = calloc(1, sizeof *out->series);
        if (!out->series)
            return malformed(out, "out of memory");
        out->series[0] = (prom_api_series){.value = pair->value, .t_s = pair->t_s};
        for (size_t k = 0; k < g->label_count; k++)
            out->series[0].label[k] = "";
        out->series_count = 1;
        out->status = PROM_API_SUCCESS;
        return out->status;
    }
    bool matrix = strcmp(type, "matrix") == 0;
    if (!matrix && strcmp(type, "vector") != 0)
        return malformed(out, "unknown data.resultType");
    if (form != RESULT_LIST)
        return malformed(out, "data.result is not a list");
    for (size_t i = 0; i < g->series_count; i++) {
        const series_read *sr = &g->series[i];
        if (matrix && !sr->values_list)
            return malformed(out, "a matrix series has no \"values\" list");
        if (matrix && !sr->points_ok)
            return malformed(out, "a matrix point is not [time, \"value\"]");
        if (!matrix && !sr->value_ok)
            return malformed(out, "a vector series' value is not [time, \"value\"]");
    }
    out->series = g->series_count ? calloc(g->series_count, sizeof *out->series) : NULL;
    if (g->series_count && !out->series)
        return malformed(out, "out of memory");
    for (size_t i = 0; i < g->series_count; i++) {
        prom_api_series *ser = &out->series[i];
        *ser = g->series[i].s;
        if (matrix) {
            ser->points = ser->point_count ? g->points + g->series[i].first_point : NULL;
            ser->value = ser->point_count ? ser->points[ser->point_count - 1].value : NAN;
            ser->t_s = ser->point_count ? ser->points[ser->point_count - 1].t_s : 0;
        } else {
            ser->points = NULL;
            ser->point_count = 0;
        }
        for (size_t k = 0; k < g->label_count; k++)
            if (ser->label[k][0])
                out->label_present[k]++;
    }
    if (matrix) {
        out->points_ = g->points;
        g->points = NULL;
    }
    out->series_count = g->series_count;
    out->status = PROM_API_SUCCESS;
    return out->status;
}

prom_api_status prom_api_parse(const char *buf, size_t len, const char *const *labels, size_t label_count,
                               prom_api_answer *out)
{
    memset(out, 0, sizeof *out);
    if (label_count > PROM_API_MAX_LABELS)
        return malformed(out, "too many labels asked for");
    reading g = {.r = {.p = buf, .end = buf + len, .start = buf}, .labels = labels, .label_count = label_count};
    g.r.strings = out->strings_ = malloc(len + 1);
    if (!g.r.strings)
        return malformed(out, "out of memory");
    const char *status = NULL, *error_type = NULL, *error = NULL, *warning = NULL, *type = NULL;
    bool data_object = false;
    enum result_form form = RESULT_ABSENT;
    prom_api_series pair = {0};
    reader *r = &g.r;
    if (!next_is(r, '{'))
        return malformed(out, "the answer is not a JSON object");
    bool first = true, ok = true;
    const char *key;
    while (ok && next_member(r, &first, &key)) {
        if (strcmp(key, "status") == 0 && next_is(r, '"'))
            ok = read_string(r, &status);
        else if (strcmp(key, "errorType") == 0 && next_is(r, '"'))
            ok = read_string(r, &error_type);
        else if (strcmp(key, "error") == 0 && next_is(r, '"'))
            ok = read_string(r, &error);
        else if (strcmp(key, "warnings") == 0 && take(r, '[')) {
            /* The first warning, if a string; the others skipped. */
            if (!take(r, ']')) {
                do
                    ok = !warning && next_is(r, '"') ? read_string(r, &warning) : skip_value(r, 2);
                while (ok && take(r, ','));
                ok = ok && (take(r, ']') || bad_json(r, "a ',' or ']' was expected"));
            }
        } else if (strcmp(key, "data") == 0 && next_is(r, '{')) {
            data_object = true;
            bool data_first = true;
            while (ok && next_member(r, &data_first, &key)) {
                if (strcmp(key, "resultType") == 0 && next_is(r, '"'))
                    ok = read_string(r, &type);
                else if (strcmp(key, "result") == 0)
                    ok = read_result(&g, &form, &pair);
                else
                    ok = skip_value(r, 2);
            }
            ok = ok && !r->problem;
        } else {
            ok = skip_value(r, 1);
        }
    }
    skip_space(r);
    if (ok && !r->problem && r->p != r->end)
        bad_json(r, "more after the answer's object");
    if (g.out_of_memory) {
        free(g.series);
        free(g.points);
        return malformed(out, "out of memory");
    }
    if (r->problem) {
        free(g.series);
        free(g.points);
        snprintf(out->error, sizeof out->error, "the answer is not JSON: %s at byte %zu", r->problem, r->problem_at);
        out->status = PROM_API_MALFORMED;
        return out->status;
    }
    prom_api_status st = PROM_API_SUCCESS;
    if (warning)
        set_text(out->warning, sizeof out->warning, warning);
    if (!status) {
        st = malformed(out, "the answer has no \"status\"");
    } else if (strcmp(status, "success") != 0) {
        if (strcmp(status, "error") != 0 || !error) {
            st = malformed(out, "the answer's status is neither success nor an error");
        } else {
            out->status = st = PROM_API_ERROR;
            set_text(out->error_type, sizeof out->error_type, error_type ? error_type : "");
            set_text(out->error, sizeof out->error, error);
        }
    } else if (!data_object || !type || form == RESULT_ABSENT) {
        st = malformed(out, "the answer has no data.resultType and data.result");
    } else {
        st = finish_result(out, &g, type, form, &pair);
    }
    free(g.series);
    free(g.points);
    return st;
}

void prom_api_answer_free(prom_api_answer *a)
{
    free(a->strings_);
    free(a->series);
    free(a->points_);
    a->strings_ = a->points_ = NULL;
    a->series = NULL;
    a->series_count = 0;
}

/* ---- queries ---- */

bool prom_api_label_name_valid(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* Appends to out[*len..size); false once it no longer fits. */
static bool append(char *out, size_t size, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool append(char *out, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size - *len) {
        *len = size;
        return false;
    }
    *len += (size_t)n;
    return true;
}

static bool target_valid(const prom_api_target *t)
{
    return prom_api_label_name_valid(t->pod_label) && prom_api_label_name_valid(t->namespace_label);
}

/* "{__name__=~"RE", SELECTOR}" or "NAME{SELECTOR}". */
static const char *sep_for(const char *selector)
{
    return selector && *selector ? ", " : "";
}

static int finish(size_t len, size_t size)
{
    return len < size ? (int)len : -1;
}

int prom_api_query_labels(char *out, size_t size, const char *selector)
{
    size_t len = 0;
    append(out, size, &len, "count by (");
    for (size_t i = 0; i < prom_api_pod_label_candidate_count; i++)
        append(out, size, &len, "%s, ", prom_api_pod_label_candidates[i]);
    for (size_t i = 0; i < prom_api_namespace_label_candidate_count; i++)
        append(out, size, &len, "%s%s", prom_api_namespace_label_candidates[i],
               i + 1 < prom_api_namespace_label_candidate_count ? ", " : "");
    append(out, size, &len, ") ({__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\"%s%s})", sep_for(selector),
           selector ? selector : "");
    return finish(len, size);
}

/* "sum by (__name__, NS, POD) ({__name__=~"(wasmcustom_)?hfi_faults_(NAMES)", SEL})" */
static void append_named(char *out, size_t size, size_t *len, const prom_api_target *t, const char *selector,
                         const char *names)
{
    append(out, size, len, "sum by (__name__, %s, %s) ({__name__=~\"(wasmcustom_)?hfi_faults_(%s)\"%s%s})",
           t->namespace_label, t->pod_label, names, sep_for(selector), selector ? selector : "");
}

int prom_api_query_values(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append_named(out, size, &len, t, selector, "aborts_total|delays_total");
    return finish(len, size);
}

/* timestamp() of a plain vector selector is each sample's own time, not
 * the evaluation time (prometheus promql/engine.go, the "timestamp" case
 * of evaluator.eval). */
int prom_api_query_sample_times(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append(out, size, &len, "max by (%s, %s) (timestamp({__name__=~\"(wasmcustom_)?hfi_faults_aborts_total\"%s%s}))",
           t->namespace_label, t->pod_label, sep_for(selector), selector ? selector : "");
    return finish(len, size);
}

int prom_api_query_detail_values(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append_named(out, size, &len, t, selector,
                 "overflow_total|config_errors_total|active_delays|policies|delay_duration_milliseconds_count|"
                 "delay_duration_milliseconds_sum");
    return finish(len, size);
}

/* `or` keeps the left side's series and adds the right side's whose
 * labels (here namespace and pod) the left lacks (prometheus
 * promql/engine.go, VectorOr): the bare rendering counts only where a pod
 * has no wasmcustom_ one. */
int prom_api_query_rates(char *out, size_t size, const prom_api_target *t, const char *selector,
                         const char *counter, int window_s)
{
    if (!target_valid(t) || window_s <= 0 || !counter || (strcmp(counter, "aborts") != 0 && strcmp(counter, "delays") != 0))
        return -1;
    const char *sel = selector ? selector : "";
    size_t len = 0;
    append(out, size, &len,
           "sum by (%s, %s) (rate(wasmcustom_hfi_faults_%s_total{%s}[%ds]))"
           " or sum by (%s, %s) (rate(hfi_faults_%s_total{%s}[%ds]))",
           t->namespace_label, t->pod_label, counter, sel, window_s, t->namespace_label, t->pod_label, counter, sel,
           window_s);
    return finish(len, size);
}

static void append_buckets(char *out, size_t size, size_t *len, const prom_api_target *t, const char *sel)
{
    append(out, size, len,
           "sum by (%s, %s, le) (wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{%s})"
           " or sum by (%s, %s, le) (hfi_faults_delay_duration_milliseconds_bucket{%s})",
           t->namespace_label, t->pod_label, sel, t->namespace_label, t->pod_label, sel);
}

int prom_api_query_quantiles(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    static const struct {
        const char *q, *family;
    } qs[] = {{"0.5", "p50"}, {"0.95", "p95"}, {"0.99", "p99"}};
    const char *sel = selector ? selector : "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        append(out, size, &len, "%slabel_replace(histogram_quantile(%s, ", i ? " or " : "", qs[i].q);
        append_buckets(out, size, &len, t, sel);
        append(out, size, &len, "), \"hfi_family\", \"%s\", \"\", \"\")", qs[i].family);
    }
    return finish(len, size);
}

int prom_api_query_buckets(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append_buckets(out, size, &len, t, selector ? selector : "");
    return finish(len, size);
}

/* Istio's request metrics of the destination reporter, as the sidecar mode
 * reads them (tui/stats/istio_metrics.c): every request, and the errors:
 * response_code 5xx or 0, or response_flags other than "-", "DI" and
 * empty. Prometheus treats an empty label as absent, hence the empty
 * alternative in the flags' negative match. `or` keeps a series matching
 * both selectors once (prometheus promql/engine.go, VectorOr). WRAP wraps
 * each selected vector (rate over the window, or nothing). */
static void append_observed(char *out, size_t size, size_t *len, const prom_api_target *t, const char *selector,
                            int window_s)
{
    const char *sep = sep_for(selector), *sel = selector ? selector : "";
    char range[32] = "";
    if (window_s > 0)
        snprintf(range, sizeof range, "[%ds]", window_s);
    const char *open = window_s > 0 ? "rate(" : "", *close = window_s > 0 ? ")" : "";
    append(out, size, len,
           "label_replace(sum by (%s, %s) (%sistio_requests_total{reporter=\"destination\"%s%s}%s%s),"
           " \"hfi_family\", \"requests\", \"\", \"\")",
           t->namespace_label, t->pod_label, open, sep, sel, range, close);
    append(out, size, len,
           " or label_replace(sum by (%s, %s) (%sistio_requests_total{reporter=\"destination\", response_code=~\"5.*|0\"%s%s}%s%s"
           " or %sistio_requests_total{reporter=\"destination\", response_flags!~\"-|DI|\"%s%s}%s%s),"
           " \"hfi_family\", \"errors\", \"\", \"\")",
           t->namespace_label, t->pod_label, open, sep, sel, range, close, open, sep, sel, range, close);
}

int prom_api_query_observed(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append_observed(out, size, &len, t, selector, 0);
    return finish(len, size);
}

int prom_api_query_observed_rates(char *out, size_t size, const prom_api_target *t, const char *selector,
                                  int window_s)
{
    if (!target_valid(t) || window_s <= 0)
        return -1;
    size_t len = 0;
    append_observed(out, size, &len, t, selector, window_s);
    return finish(len, size);
}

/* One histogram's buckets as rate() over the window, summed by pod and le,
 * for the pods that observed something in it: `and on (pod)` with the
 * _count's rate above zero drops the pods with nothing in the window whole
 * (a pod's buckets stay together, so quantiles interpolate between its own
 * bounds). PREFIXES: the renderings, the first winning where a pod has
 * several; EXTRA: matchers the metric itself needs. */
static void append_window_histogram(char *out, size_t size, size_t *len, const prom_api_target *t,
                                    const char *selector, int window_s, const char *const *prefixes,
                                    size_t prefix_count, const char *name, const char *extra, const char *family)
{
    const char *sel = selector ? selector : "";
    const char *sep = extra[0] && sel[0] ? ", " : "";
    append(out, size, len, "label_replace((");
    for (size_t i = 0; i < prefix_count; i++)
        append(out, size, len, "%ssum by (%s, %s, le) (rate(%s%s_bucket{%s%s%s}[%ds]))", i ? " or " : "",
               t->namespace_label, t->pod_label, prefixes[i], name, extra, sep, sel, window_s);
    append(out, size, len, ") and on (%s, %s) ((", t->namespace_label, t->pod_label);
    for (size_t i = 0; i < prefix_count; i++)
        append(out, size, len, "%ssum by (%s, %s) (rate(%s%s_count{%s%s%s}[%ds]))", i ? " or " : "",
               t->namespace_label, t->pod_label, prefixes[i], name, extra, sep, sel, window_s);
    append(out, size, len, ") > 0), \"hfi_family\", \"%s\", \"\", \"\")", family);
}

int prom_api_query_window_buckets(char *out, size_t size, const prom_api_target *t, const char *selector,
                                  int window_s)
{
    if (!target_valid(t) || window_s <= 0)
        return -1;
    static const char *const plugin[] = {"wasmcustom_", ""}, *const istio[] = {""};
    size_t len = 0;
    append_window_histogram(out, size, &len, t, selector, window_s, plugin, 2,
                            "hfi_faults_delay_duration_milliseconds", "", "delay");
    append(out, size, &len, " or ");
    append_window_histogram(out, size, &len, t, selector, window_s, istio, 1, "istio_request_duration_milliseconds",
                            "reporter=\"destination\"", "latency");
    return finish(len, size);
}

int prom_api_query_history(char *out, size_t size, const prom_api_target *t, const char *selector)
{
    /* The counters' query, over a range. */
    return prom_api_query_values(out, size, t, selector);
}

int prom_api_regex_of_names(char *out, size_t size, const char *const *names, size_t count)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        if (i)
            append(out, size, &len, "|");
        for (const char *p = names[i]; *p; p++) {
            if (strchr(".+*?()[]{}|^$\\", *p))
                append(out, size, &len, "\\\\"); /* a regex escape, inside a PromQL string */
            if (*p == '"')
                append(out, size, &len, "\\");
            append(out, size, &len, "%c", *p);
        }
    }
    if (!count)
        append(out, size, &len, "%s", "");
    return finish(len, size);
}

/* ---- configuration ---- */

double prom_api_duration_s(const char *s, size_t len)
{
    /* Prometheus model.ParseDuration: units y w d h m s ms, in that order. */
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"ms", 0.001}, {"y", 365 * 86400.0}, {"w", 7 * 86400.0}, {"d", 86400.0},
                 {"h", 3600.0}, {"m", 60.0},          {"s", 1.0}};
    double total = 0;
    size_t i = 0;
    if (!len)
        return -1;
    while (i < len) {
        double n = 0;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            n = n * 10 + (s[i] - '0');
            i++;
            digits++;
        }
        if (!digits)
            return -1;
        size_t u = 0;
        for (; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = strlen(units[u].unit);
            if (i + ul <= len && memcmp(s + i, units[u].unit, ul) == 0 &&
                !(ul == 1 && units[u].unit[0] == 'm' && i + 1 < len && s[i + 1] == 's'))
                break;
        }
        if (u == sizeof units / sizeof units[0])
            return -1;
        total += n * units[u].seconds;
        i += strlen(units[u].unit);
    }
    return total;
}

double prom_api_scrape_interval_s(const char *buf, size_t len)
{
    /* {"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n..."}}:
     * the key of the global section, the lines indented under "global:". */
    static const char key[] = "  scrape_interval: ";
    double result = -1;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    const cJSON *yaml = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "data"), "yaml");
    const char *line = cJSON_IsString(yaml) ? strstr(yaml->valuestring, "global:\n") : NULL;
    if (line && (line == yaml->valuestring || line[-1] == '\n')) {
        line += strlen("global:\n");
        while (line[0] == ' ' && line[1] == ' ') {
            size_t line_len = strcspn(line, "\n");
            if (strncmp(line, key, sizeof key - 1) == 0 && line[sizeof key - 1] != ' ') {
                const char *v = line + sizeof key - 1;
                result = prom_api_duration_s(v, strcspn(v, " \n"));
                break;
            }
            if (!line[line_len])
                break;
            line += line_len + 1;
        }
    }
    cJSON_Delete(root);
    return result;
}
