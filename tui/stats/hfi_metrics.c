#include "hfi_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_locale.h"

static const char *const naming_names[] = {
    [HFI_NAMING_NONE] = "none",
    [HFI_NAMING_WASMCUSTOM] = "wasmcustom",
    [HFI_NAMING_BARE] = "bare",
    [HFI_NAMING_LEGACY] = "legacy",
};

const char *hfi_naming_name(hfi_naming naming)
{
    return (unsigned)naming < sizeof naming_names / sizeof naming_names[0] ? naming_names[naming] : "none";
}

#define WASMCUSTOM_PREFIX "wasmcustom_"
#define HFI_PREFIX "hfi_faults_"
#define DELAY_HISTOGRAM "hfi_faults_delay_duration_milliseconds"

const char *const hfi_metrics_name_prefixes[] = {
    WASMCUSTOM_PREFIX HFI_PREFIX,
    HFI_PREFIX,
    "envoy_wasm",
    "wasm_",
};
const size_t hfi_metrics_name_prefix_count = sizeof hfi_metrics_name_prefixes / sizeof hfi_metrics_name_prefixes[0];

static const struct {
    const char *name;
    size_t offset;
} value_metrics[] = {
    {"hfi_faults_aborts_total", offsetof(hfi_metrics, aborts_total)},
    {"hfi_faults_delays_total", offsetof(hfi_metrics, delays_total)},
    {"hfi_faults_overflow_total", offsetof(hfi_metrics, overflow_total)},
    {"hfi_faults_config_errors_total", offsetof(hfi_metrics, config_errors_total)},
    {"hfi_faults_active_delays", offsetof(hfi_metrics, active_delays)},
    {"hfi_faults_policies", offsetof(hfi_metrics, policies)},
};

static void add_value(hfi_value *v, const prom_sample *s)
{
    if (!v->present) {
        v->present = true;
        v->exact = true;
    }
    v->series++;
    v->value += s->value;
    if (v->exact && s->value_is_u64 && v->value_u64 <= UINT64_MAX - s->value_u64)
        v->value_u64 += s->value_u64;
    else
        v->exact = false;
}

void hfi_histogram_add_bucket(hfi_histogram *h, double bound, double count)
{
    size_t i = 0;
    while (i < h->bucket_count && h->buckets[i].upper_bound < bound)
        i++;
    if (i < h->bucket_count && h->buckets[i].upper_bound == bound) {
        h->buckets[i].cumulative_count += count;
        return;
    }
    if (h->bucket_count == HFI_HISTOGRAM_MAX_BUCKETS) {
        /* Cumulative counts stay right at the bounds kept, whichever are
         * dropped; +Inf (the total) must stay for percentiles. */
        h->buckets_truncated = true;
        if (bound != INFINITY)
            return;
        i = --h->bucket_count;
    }
    memmove(&h->buckets[i + 1], &h->buckets[i], (h->bucket_count - i) * sizeof h->buckets[0]);
    h->buckets[i] = (prom_bucket){bound, count};
    h->bucket_count++;
}

/* name is the series name without its rendering prefix. */
static bool add_hfi_sample(hfi_metrics *m, prom_span name, const prom_sample *s)
{
    for (size_t i = 0; i < sizeof value_metrics / sizeof value_metrics[0]; i++) {
        if (prom_span_equals(name, value_metrics[i].name)) {
            add_value((hfi_value *)((char *)m + value_metrics[i].offset), s);
            return true;
        }
    }
    if (!prom_span_starts_with(name, DELAY_HISTOGRAM))
        return false;
    prom_span suffix = {name.ptr + strlen(DELAY_HISTOGRAM), name.len - strlen(DELAY_HISTOGRAM)};
    hfi_histogram *h = &m->delay_ms;
    /* By name and `le`, not by role: a dump cut before its `# TYPE` lines
     * (or filtered) still has usable buckets. */
    if (prom_span_equals(suffix, "_bucket") && s->has_le && !isnan(s->le))
        hfi_histogram_add_bucket(h, s->le, s->value);
    else if (prom_span_equals(suffix, "_sum"))
        add_value(&h->sum, s);
    else if (prom_span_equals(suffix, "_count"))
        add_value(&h->count, s);
    else
        return false;
    h->present = true;
    return true;
}

void hfi_metrics_collector_init(hfi_metrics_collector *c)
{
    memset(c, 0, sizeof *c);
}

static void hash_bytes(uint64_t *h, const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        *h = (*h ^ (unsigned char)p[k]) * 1099511628211ULL;
    *h = (*h ^ 0xff) * 1099511628211ULL; /* a separator no UTF-8 text holds */
}

/* The series' identity: its name and its labels whatever their order. */
static uint64_t series_hash(const prom_sample *s)
{
    const prom_label *sorted[PROM_MAX_LABELS];
    size_t n = s->label_count;
    for (size_t k = 0; k < n; k++) {
        size_t j = k;
        for (; j > 0; j--) {
            prom_span a = sorted[j - 1]->name, b = s->labels[k].name;
            size_t m = a.len < b.len ? a.len : b.len;
            int cmp = memcmp(a.ptr, b.ptr, m);
            if (cmp < 0 || (cmp == 0 && a.len <= b.len))
                break;
            sorted[j] = sorted[j - 1];
        }
        sorted[j] = &s->labels[k];
    }
    uint64_t h = 1469598103934665603ULL;
    hash_bytes(&h, s->name.ptr, s->name.len);
    for (size_t k = 0; k < n; k++) {
        hash_bytes(&h, sorted[k]->name.ptr, sorted[k]->name.len);
        hash_bytes(&h, sorted[k]->raw_value.ptr, sorted[k]->raw_value.len);
    }
    return h;
}

/* True the first time a series is met. Prometheus keeps the first sample
 * of a series in a scrape and drops the rest as duplicates
 * (prometheus/prometheus scrape/scrape.go, scrapeLoop.append and
 * checkAddError: storage.ErrDuplicateSampleForTimestamp is counted and the
 * sample skipped). */
static bool first_of_series(hfi_metrics_collector *c, const prom_sample *s)
{
    if (s->labels_truncated)
        return true;
    uint64_t h = series_hash(s);
    if (!h)
        h = 1;
    size_t at = (size_t)h & (HFI_SERIES_SLOTS - 1);
    while (c->series_seen[at]) {
        if (c->series_seen[at] == h)
            return false;
        at = (at + 1) & (HFI_SERIES_SLOTS - 1);
    }
    if (c->n_series_seen < HFI_MAX_SERIES_SEEN) {
        c->series_seen[at] = h;
        c->n_series_seen++;
    }
    return true;
}

/* The two renderings are gathered apart and one is chosen at the end. */
void hfi_metrics_collector_add(hfi_metrics_collector *c, const prom_sample *s)
{
    prom_span name = s->name;
    if (prom_span_starts_with(name, "envoy_wasm") || prom_span_starts_with(name, "wasm_")) {
        c->wasm_runtime_stats_present = true;
        c->wasm_runtime_series++;
        return;
    }
    int which = 1;
    if (prom_span_starts_with(name, WASMCUSTOM_PREFIX)) {
        which = 0;
        name.ptr += strlen(WASMCUSTOM_PREFIX);
        name.len -= strlen(WASMCUSTOM_PREFIX);
    }
    if (!prom_span_starts_with(name, HFI_PREFIX))
        return;
    if (!first_of_series(c, s)) {
        c->rendering[which].duplicates_dropped++;
        return;
    }
    if (add_hfi_sample(&c->rendering[which], name, s))
        c->seen[which] = true;
}

void hfi_metrics_collector_finish(const hfi_metrics_collector *c, hfi_metrics *out)
{
    if (c->seen[0]) {
        *out = c->rendering[0];
        out->naming = HFI_NAMING_WASMCUSTOM;
    } else if (c->seen[1]) {
        *out = c->rendering[1];
        out->naming = HFI_NAMING_BARE;
    } else {
        memset(out, 0, sizeof *out);
    }
    out->wasm_runtime_stats_present = c->wasm_runtime_stats_present;
    out->wasm_runtime_series = c->wasm_runtime_series;
}

static int collect_sample(void *user, const prom_sample *s)
{
    hfi_metrics_collector_add(user, s);
    return 0;
}

void hfi_metrics_from_prometheus(const char *buf, size_t len, hfi_metrics *out, prom_parse_stats *stats)
{
    hfi_metrics_collector c;
    hfi_metrics_collector_init(&c);
    prom_parse_options opts = {
        .on_sample = collect_sample,
        .user = &c,
        .name_prefixes = hfi_metrics_name_prefixes,
        .name_prefix_count = hfi_metrics_name_prefix_count,
    };
    prom_parse(buf, len, &opts, stats);
    hfi_metrics_collector_finish(&c, out);
}

hfi_naming hfi_naming_from_admin_stats(const char *buf, size_t len)
{
    static const struct {
        const char *prefix;
        hfi_naming naming;
    } renderings[] = {
        {"wasmcustom.wasmcustom.hfi_faults_", HFI_NAMING_WASMCUSTOM},
        {"wasmcustom.hfi_faults_", HFI_NAMING_BARE},
        {"wasmcustom.hfi.faults.", HFI_NAMING_LEGACY},
    };
    size_t best = sizeof renderings / sizeof renderings[0];
    const char *p = buf, *end = buf + len;
    while (p && p < end) {
        prom_span line = {p, (size_t)(end - p)};
        for (size_t i = 0; i < best; i++)
            if (prom_span_starts_with(line, renderings[i].prefix))
                best = i;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return best < sizeof renderings / sizeof renderings[0] ? renderings[best].naming : HFI_NAMING_NONE;
}

static int stop_at_first_sample(void *user, const prom_sample *s)
{
    (void)s;
    *(bool *)user = true;
    return 1;
}

hfi_naming hfi_naming_after_legacy_probe(hfi_naming seen, const char *probe_buf, size_t probe_len)
{
    if (seen != HFI_NAMING_BARE)
        return seen;
    static const char *const bare_prefix[] = {HFI_PREFIX};
    bool found = false;
    prom_parse_options opts = {
        .on_sample = stop_at_first_sample,
        .user = &found,
        .name_prefixes = bare_prefix,
        .name_prefix_count = 1,
    };
    prom_parse(probe_buf, probe_len, &opts, NULL);
    return found ? HFI_NAMING_LEGACY : seen;
}

prom_percentiles hfi_metrics_delay_percentiles(const hfi_metrics *m)
{
    return prom_histogram_percentiles(m->delay_ms.buckets, m->delay_ms.bucket_count);
}

/* ---- JSON ---- */

typedef struct json_writer {
    char *data;
    size_t len, cap;
    bool failed;
} json_writer;

static void put(json_writer *w, const char *text, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 512;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *data = realloc(w->data, cap);
        if (!data) {
            w->failed = true;
            return;
        }
        w->data = data;
        w->cap = cap;
    }
    memcpy(w->data + w->len, text, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void put_str(json_writer *w, const char *text)
{
    put(w, text, strlen(text));
}

/* Shortest of %.15g / %.17g that reads back as the same double; JSON has
 * no NaN or infinities, so they become null. The caller has switched the
 * thread to the "C" locale. */
static void put_double(json_writer *w, double x)
{
    if (!isfinite(x)) {
        put_str(w, "null");
        return;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%.15g", x);
    if (strtod(text, NULL) != x)
        n = snprintf(text, sizeof text, "%.17g", x);
    put(w, text, (size_t)n);
}

static void put_value(json_writer *w, const hfi_value *v)
{
    if (!v->present) {
        put_str(w, "null");
    } else if (v->exact) {
        char text[24];
        int n = snprintf(text, sizeof text, "%llu", (unsigned long long)v->value_u64);
        put(w, text, (size_t)n);
    } else {
        put_double(w, v->value);
    }
}

static void put_key(json_writer *w, const char *key)
{
    put_str(w, "\"");
    put_str(w, key);
    put_str(w, "\":");
}

char *hfi_metrics_to_json(const hfi_metrics *m)
{
    json_writer w = {0};
    locale_t c_locale = prom_c_locale();
    locale_t previous = c_locale ? uselocale(c_locale) : (locale_t)0;

    put_str(&w, "{\"naming\":\"");
    put_str(&w, hfi_naming_name(m->naming));
    put_str(&w, "\",\"wasm_runtime_stats\":");
    put_str(&w, m->wasm_runtime_stats_present ? "true" : "false");
    const struct {
        const char *key;
        const hfi_value *value;
    } values[] = {
        {"aborts_total", &m->aborts_total},
        {"delays_total", &m->delays_total},
        {"overflow_total", &m->overflow_total},
        {"config_errors_total", &m->config_errors_total},
        {"active_delays", &m->active_delays},
        {"policies", &m->policies},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        put_str(&w, ",");
        put_key(&w, values[i].key);
        put_value(&w, values[i].value);
    }

    const hfi_histogram *h = &m->delay_ms;
    put_str(&w, ",\"delay_ms\":{");
    put_key(&w, "count");
    put_value(&w, &h->count);
    put_str(&w, ",");
    put_key(&w, "sum");
    put_value(&w, &h->sum);
    put_str(&w, ",\"buckets\":[");
    for (size_t i = 0; i < h->bucket_count; i++) {
        put_str(&w, i ? ",[" : "[");
        if (h->buckets[i].upper_bound == INFINITY)
            put_str(&w, "\"+Inf\"");
        else
            put_double(&w, h->buckets[i].upper_bound);
        put_str(&w, ",");
        put_double(&w, h->buckets[i].cumulative_count);
        put_str(&w, "]");
    }
    put_str(&w, "]");
    if (h->buckets_truncated)
        put_str(&w, ",\"buckets_truncated\":true");
    prom_percentiles p = hfi_metrics_delay_percentiles(m);
    put_str(&w, ",\"p50\":");
    put_double(&w, p.p50);
    put_str(&w, ",\"p95\":");
    put_double(&w, p.p95);
    put_str(&w, ",\"p99\":");
    put_double(&w, p.p99);
    put_str(&w, "}");
    if (m->duplicates_dropped) {
        char n[32];
        snprintf(n, sizeof n, ",\"duplicate_series_dropped\":%zu", m->duplicates_dropped);
        put_str(&w, n);
    }
    put_str(&w, "}");

    if (c_locale)
        uselocale(previous);
    if (w.failed) {
        free(w.data);
        return NULL;
    }
    return w.data;
}
