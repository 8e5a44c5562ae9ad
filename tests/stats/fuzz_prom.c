/* libFuzzer target for tui/stats: the Prometheus parser with and without a
 * name filter, the HFI extraction and its JSON, the admin-text naming
 * reader, and quantiles over whatever buckets the input holds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hfi_metrics.h"
#include "istio_metrics.h"
#include "prom_histogram.h"
#include "prom_parse.h"
#include "prom_window.h"

typedef struct fuzz_state {
    prom_bucket buckets[PROM_QUANTILE_MAX_BUCKETS];
    size_t bucket_count;
    size_t checksum;
    istio_request_metrics istio;
} fuzz_state;

static int on_type(void *user, prom_span family, prom_metric_type type)
{
    fuzz_state *st = user;
    st->checksum += family.len + (size_t)type + strlen(prom_metric_type_name(type));
    return 0;
}

static int on_sample(void *user, const prom_sample *s)
{
    fuzz_state *st = user;
    /* Touch every byte handed out, so ASan checks the spans. */
    for (size_t i = 0; i < s->name.len; i++)
        st->checksum += (unsigned char)s->name.ptr[i];
    for (size_t i = 0; i < s->family.len; i++)
        st->checksum += (unsigned char)s->family.ptr[i];
    for (size_t i = 0; i < s->label_count; i++) {
        char value[16];
        st->checksum += prom_label_value(&s->labels[i], value, sizeof value) + strlen(value);
        st->checksum += prom_label_value_equals(&s->labels[i], "x\"y");
        st->checksum += s->labels[i].name.len ? (unsigned char)s->labels[i].name.ptr[s->labels[i].name.len - 1] : 0;
    }
    st->checksum += prom_sample_label(s, "le") != NULL;
    istio_metrics_add(&st->istio, s);
    if (s->has_le && st->bucket_count < PROM_QUANTILE_MAX_BUCKETS)
        st->buckets[st->bucket_count++] = (prom_bucket){s->le, s->value};
    return 0;
}

/* Keeps the reads above from being optimised away. */
static volatile size_t checksum_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    fuzz_state st = {0};
    istio_metrics_init(&st.istio);
    prom_parse_options opts = {.on_sample = on_sample, .on_type = on_type, .user = &st};
    prom_parse_stats stats;
    prom_parse(buf, size, &opts, &stats);
    if (stats.samples + stats.type_lines + stats.help_lines + stats.comment_lines + stats.blank_lines +
            stats.garbage_lines != stats.lines)
        abort();

    static const char *const prefixes[] = {"a", "hfi_", "wasmcustom_"};
    opts.name_prefixes = prefixes;
    opts.name_prefix_count = 3;
    prom_parse(buf, size, &opts, NULL);

    for (double q = 0; q <= 1.0; q += 0.25) {
        double v = prom_histogram_quantile(q, st.buckets, st.bucket_count);
        st.checksum += isnan(v);
    }
    /* The input's buckets as two samples of a window: the first all zero. */
    prom_window_history window;
    if (st.bucket_count && prom_window_init(&window, st.bucket_count)) {
        double bounds[PROM_QUANTILE_MAX_BUCKETS], counts[PROM_QUANTILE_MAX_BUCKETS], inc[PROM_QUANTILE_MAX_BUCKETS];
        double seconds;
        for (size_t i = 0; i < st.bucket_count; i++) {
            bounds[i] = st.buckets[i].upper_bound;
            counts[i] = 0;
        }
        prom_window_push(&window, 0, counts);
        for (size_t i = 0; i < st.bucket_count; i++)
            counts[i] = st.buckets[i].cumulative_count;
        prom_window_push(&window, 1000, counts);
        if (prom_window_increase(&window, 5000, inc, &seconds))
            st.checksum += isnan(prom_window_quantile(0.99, bounds, inc, st.bucket_count));
        prom_window_free(&window);
    }
    st.checksum += st.istio.present + (size_t)st.istio.duration_ms.bucket_count;

    hfi_metrics m;
    hfi_metrics_from_prometheus(buf, size, &m, NULL);
    char *json = hfi_metrics_to_json(&m);
    if (json)
        st.checksum += strlen(json);
    free(json);
    st.checksum += hfi_naming_from_admin_stats(buf, size);
    st.checksum += hfi_naming_after_legacy_probe(HFI_NAMING_BARE, buf, size);

    double value;
    st.checksum += prom_parse_double(buf, size < 64 ? size : 64, &value);
    checksum_sink = st.checksum;
    return 0;
}
