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
static bool parse_sample_value(const cJSON *v, double *out)
{
    return cJSON_IsString(v) && prom_api_parse_number(v->valuestring, out);
}

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

/* [timestamp, "value"] */
static bool parse_pair(const cJSON *pair, double *t, double *value)
{
    if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2)
        return false;
    const cJSON *ts = cJSON_GetArrayItem(pair, 0);
    if (!cJSON_IsNumber(ts) || !isfinite(ts->valuedouble))
        return false;
    *t = ts->valuedouble;
    return parse_sample_value(cJSON_GetArrayItem(pair, 1), value);
}

prom_api_status prom_api_parse(const char *buf, size_t len, const char *const *labels, size_t label_count,
                               prom_api_answer *out)
{
    memset(out, 0, sizeof *out);
    if (label_count > PROM_API_MAX_LABELS)
        return malformed(out, "too many labels asked for");
    cJSON *root = cJSON_ParseWithLength(buf, len);
    out->tree_ = root;
    if (!root || !cJSON_IsObject(root))
        return malformed(out, "the answer is not a JSON object");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(status))
        return malformed(out, "the answer has no \"status\"");
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(root, "warnings");
    const cJSON *first_warning = cJSON_IsArray(warnings) ? cJSON_GetArrayItem(warnings, 0) : NULL;
    if (cJSON_IsString(first_warning))
        set_text(out->warning, sizeof out->warning, first_warning->valuestring);
    if (strcmp(status->valuestring, "success") != 0) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "errorType");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (strcmp(status->valuestring, "error") != 0 || !cJSON_IsString(error))
            return malformed(out, "the answer's status is neither success nor an error");
        out->status = PROM_API_ERROR;
        set_text(out->error_type, sizeof out->error_type, cJSON_IsString(type) ? type->valuestring : "");
        set_text(out->error, sizeof out->error, error->valuestring);
        return out->status;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "resultType");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
    if (!cJSON_IsObject(data) || !cJSON_IsString(type) || !result)
        return malformed(out, "the answer has no data.resultType and data.result");
    set_text(out->result_type, sizeof out->result_type, type->valuestring);
    if (strcmp(type->valuestring, "scalar") == 0 || strcmp(type->valuestring, "string") == 0) {
        /* [t, "v"]: one series without labels. */
        out->series = calloc(1, sizeof *out->series);
        if (!out->series)
            return malformed(out, "out of memory");
        for (size_t k = 0; k < label_count; k++)
            out->series[0].label[k] = "";
        if (!parse_pair(result, &out->series[0].t_s, &out->series[0].value))
            return malformed(out, "a scalar result is not [time, \"value\"]");
        out->series_count = 1;
        out->status = PROM_API_SUCCESS;
        return out->status;
    }
    bool matrix = strcmp(type->valuestring, "matrix") == 0;
    if (!matrix && strcmp(type->valuestring, "vector") != 0)
        return malformed(out, "unknown data.resultType");
    if (!cJSON_IsArray(result))
        return malformed(out, "data.result is not a list");
    size_t n = (size_t)cJSON_GetArraySize(result), total_points = 0;
    if (matrix) {
        const cJSON *s;
        cJSON_ArrayForEach(s, result)
        {
            const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
            if (!cJSON_IsArray(values))
                return malformed(out, "a matrix series has no \"values\" list");
            total_points += (size_t)cJSON_GetArraySize(values);
        }
    }
    out->series = n ? calloc(n, sizeof *out->series) : NULL;
    prom_api_point *points = total_points ? calloc(total_points, sizeof *points) : NULL;
    out->points_ = points;
    if ((n && !out->series) || (total_points && !points))
        return malformed(out, "out of memory");
    size_t i = 0, used_points = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, result)
    {
        prom_api_series *ser = &out->series[i];
        const cJSON *metric = cJSON_GetObjectItemCaseSensitive(s, "metric");
        if (!cJSON_IsObject(s) || (metric && !cJSON_IsObject(metric)))
            return malformed(out, "a series is not an object with a \"metric\" object");
        for (size_t k = 0; k < label_count; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(metric, labels[k]);
            ser->label[k] = cJSON_IsString(v) ? v->valuestring : "";
            if (ser->label[k][0])
                out->label_present[k]++;
        }
        if (matrix) {
            const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
            ser->points = points ? points + used_points : NULL;
            const cJSON *pair;
            cJSON_ArrayForEach(pair, values)
            {
                prom_api_point *p = &points[used_points];
                if (!parse_pair(pair, &p->t_s, &p->value))
                    return malformed(out, "a matrix point is not [time, \"value\"]");
                used_points++;
                ser->point_count++;
            }
            if (ser->point_count) {
                ser->value = ser->points[ser->point_count - 1].value;
                ser->t_s = ser->points[ser->point_count - 1].t_s;
            } else {
                ser->value = NAN;
            }
        } else if (!parse_pair(cJSON_GetObjectItemCaseSensitive(s, "value"), &ser->t_s, &ser->value)) {
            return malformed(out, "a vector series' value is not [time, \"value\"]");
        }
        i++;
        out->series_count = i;
    }
    out->status = PROM_API_SUCCESS;
    return out->status;
}

void prom_api_answer_free(prom_api_answer *a)
{
    cJSON_Delete(a->tree_);
    free(a->series);
    free(a->points_);
    a->tree_ = a->points_ = NULL;
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
    if (!target_valid(t))
        return -1;
    size_t len = 0;
    append(out, size, &len, "sum by (__name__, %s, %s) ({__name__=~\"(wasmcustom_)?hfi_faults_(aborts|delays)_total\"%s%s})",
           t->namespace_label, t->pod_label, sep_for(selector), selector ? selector : "");
    return finish(len, size);
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
