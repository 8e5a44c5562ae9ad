/* Prometheus text exposition format (0.0.4) as Envoy's /stats/prometheus and
 * istio-agent's merged :15020 endpoint write it.
 *
 * The parser streams: it calls back once per sample with spans pointing into
 * the caller's buffer, so a scrape costs no allocation at all. A line it
 * cannot read is counted and skipped; it never fails the whole dump, because
 * one odd line from an application's merged metrics must not hide the
 * sidecar's counters. */
#ifndef HFI_PROM_PARSE_H
#define HFI_PROM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prom_span {
    const char *ptr;
    size_t len;
} prom_span;

typedef enum prom_metric_type {
    PROM_TYPE_UNTYPED,
    PROM_TYPE_COUNTER,
    PROM_TYPE_GAUGE,
    PROM_TYPE_HISTOGRAM,
    PROM_TYPE_SUMMARY,
} prom_metric_type;

/* What a sample is within its family, from the family's `# TYPE`. */
typedef enum prom_sample_role {
    PROM_ROLE_VALUE,    /* counter, gauge, untyped, or anything unrecognised */
    PROM_ROLE_BUCKET,   /* histogram `<family>_bucket{le="..."}` */
    PROM_ROLE_QUANTILE, /* summary `<family>{quantile="..."}` */
    PROM_ROLE_SUM,      /* histogram or summary `<family>_sum` */
    PROM_ROLE_COUNT,    /* histogram or summary `<family>_count` */
} prom_sample_role;

typedef struct prom_label {
    prom_span name;
    prom_span raw_value; /* between the quotes, escapes still in place */
    bool value_has_escapes;
} prom_label;

/* Labels beyond this many are checked but not handed out (label_count stops
 * here and labels_truncated is set); `le` and `quantile` are still read.
 * Istio's own series carry about 25. */
#define PROM_MAX_LABELS 64

typedef struct prom_sample {
    prom_span name;    /* the series name as written, e.g. foo_bucket */
    prom_span family;  /* the `# TYPE` family it belongs to, else the name */
    prom_metric_type type;
    prom_sample_role role;
    const prom_label *labels; /* valid only during the callback */
    size_t label_count;
    bool labels_truncated;
    bool has_le;       /* an `le` label holding a number, whatever the family type */
    double le;
    bool has_quantile; /* a `quantile` label holding a number */
    double quantile;
    double value;
    /* Set when the value is written as a plain unsigned integer that fits
     * 64 bits: counters above 2^53 stay exact here, not in `value`. */
    bool value_is_u64;
    uint64_t value_u64;
    bool has_timestamp;
    int64_t timestamp_ms;
    size_t line_number; /* 1-based */
} prom_sample;

/* Return non-zero to stop parsing (prom_parse then returns that value). */
typedef int (*prom_sample_fn)(void *user, const prom_sample *sample);
typedef int (*prom_type_fn)(void *user, prom_span family, prom_metric_type type);

typedef struct prom_parse_options {
    prom_sample_fn on_sample; /* may be NULL: only count */
    prom_type_fn on_type;     /* may be NULL */
    void *user;
    /* When set, a sample line whose name starts with none of these prefixes
     * is skipped after its name without being read further (and counted in
     * skipped_lines, not validated): the scraper's cheap path to the few
     * series it needs out of a sidecar's thousands. */
    const char *const *name_prefixes;
    size_t name_prefix_count;
} prom_parse_options;

/* Every line read lands in exactly one of the counts after `lines`. */
typedef struct prom_parse_stats {
    size_t lines;
    size_t samples;
    size_t type_lines;
    size_t help_lines;
    size_t comment_lines; /* other `#` lines */
    size_t blank_lines;
    size_t skipped_lines; /* filtered out by name_prefixes */
    size_t garbage_lines;
    size_t first_garbage_line; /* 1-based, 0 when none */
} prom_parse_stats;

/* Parses buf[0..len) (no NUL needed, never read past len). Stats are reset
 * first; opts or stats may be NULL. Returns 0, or what a callback returned
 * to stop early. */
int prom_parse(const char *buf, size_t len, const prom_parse_options *opts, prom_parse_stats *stats);

/* Parses one number as the format writes it: decimal with optional sign,
 * fraction and exponent, or NaN / Inf / +Inf / -Inf (any case). Independent
 * of the process locale. */
bool prom_parse_double(const char *text, size_t len, double *out);

const char *prom_metric_type_name(prom_metric_type type);

bool prom_span_equals(prom_span span, const char *text);
bool prom_span_starts_with(prom_span span, const char *prefix);

/* Label value with `\\`, `\"` and `\n` decoded into out (NUL-terminated,
 * truncated to out_size - 1). Returns the decoded length, which may exceed
 * out_size - 1 when truncated. */
size_t prom_label_value(const prom_label *label, char *out, size_t out_size);

/* Compares the decoded label value with text without copying. */
bool prom_label_value_equals(const prom_label *label, const char *text);

/* The first label called name, or NULL. */
const prom_label *prom_sample_label(const prom_sample *sample, const char *name);

#endif
