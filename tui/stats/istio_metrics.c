#include "istio_metrics.h"

#include <math.h>
#include <string.h>

#define REQUESTS "istio_requests_total"
#define DURATION "istio_request_duration_milliseconds"

void istio_metrics_init(istio_request_metrics *m)
{
    memset(m, 0, sizeof *m);
}

static void add_value(hfi_value *v, double x)
{
    v->present = true;
    v->series++;
    v->value += x;
}

/* response_flags is a comma-separated list of Envoy's short flag names. */
static bool flags_mark_failure(const prom_label *flags)
{
    char text[64];
    size_t n = prom_label_value(flags, text, sizeof text);
    if (n >= sizeof text)
        return true; /* many flags: certainly not only "-" or DI */
    return strcmp(text, "-") != 0 && strcmp(text, "DI") != 0 && text[0] != '\0';
}

bool istio_response_is_error(const prom_sample *s)
{
    const prom_label *code = prom_sample_label(s, "response_code");
    if (code) {
        char text[8];
        size_t n = prom_label_value(code, text, sizeof text);
        if (n == 0 || n >= sizeof text || text[0] == '5' || strcmp(text, "0") == 0)
            return true;
    }
    const prom_label *flags = prom_sample_label(s, "response_flags");
    return flags && flags_mark_failure(flags);
}

void istio_metrics_add(istio_request_metrics *m, const prom_sample *s)
{
    if (!prom_span_starts_with(s->name, ISTIO_METRICS_NAME_PREFIX) || isnan(s->value))
        return;
    const prom_label *reporter = prom_sample_label(s, "reporter");
    if (!reporter || !prom_label_value_equals(reporter, "destination"))
        return;
    if (prom_span_equals(s->name, REQUESTS)) {
        m->present = true;
        m->requests_total += s->value;
        if (istio_response_is_error(s))
            m->errors_total += s->value;
        return;
    }
    if (!prom_span_starts_with(s->name, DURATION))
        return;
    prom_span suffix = {s->name.ptr + strlen(DURATION), s->name.len - strlen(DURATION)};
    hfi_histogram *h = &m->duration_ms;
    if (prom_span_equals(suffix, "_bucket") && s->has_le && !isnan(s->le))
        hfi_histogram_add_bucket(h, s->le, s->value);
    else if (prom_span_equals(suffix, "_sum"))
        add_value(&h->sum, s->value);
    else if (prom_span_equals(suffix, "_count"))
        add_value(&h->count, s->value);
    else
        return;
    h->present = true;
}
