#include "prom_window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool ring_init(prom_window_ring *r, size_t capacity, size_t width)
{
    r->start = r->count = 0;
    r->capacity = capacity;
    r->values = calloc(capacity * (width ? width : 1), sizeof *r->values);
    return r->values != NULL;
}

bool prom_window_init(prom_window_history *h, size_t width)
{
    memset(h, 0, sizeof *h);
    h->width = width;
    if (ring_init(&h->fine, PROM_WINDOW_FINE, width) && ring_init(&h->coarse, PROM_WINDOW_COARSE, width))
        return true;
    prom_window_free(h);
    return false;
}

void prom_window_free(prom_window_history *h)
{
    free(h->fine.values);
    free(h->coarse.values);
    memset(h, 0, sizeof *h);
}

void prom_window_clear(prom_window_history *h)
{
    h->fine.start = h->fine.count = 0;
    h->coarse.start = h->coarse.count = 0;
}

static size_t slot(const prom_window_ring *r, size_t i)
{
    return (r->start + i) % r->capacity;
}

static void ring_push(prom_window_ring *r, size_t width, int64_t t_ms, const double *values)
{
    size_t at;
    if (r->count < r->capacity) {
        at = slot(r, r->count);
        r->count++;
    } else {
        at = r->start;
        r->start = (r->start + 1) % r->capacity;
    }
    r->t_ms[at] = t_ms;
    memcpy(r->values + at * width, values, width * sizeof *values);
}

bool prom_window_newest(const prom_window_history *h, int64_t *t_ms)
{
    if (!h->fine.count)
        return false;
    *t_ms = h->fine.t_ms[slot(&h->fine, h->fine.count - 1)];
    return true;
}

bool prom_window_push(prom_window_history *h, int64_t t_ms, const double *values)
{
    int64_t newest;
    if (!h->fine.values || (prom_window_newest(h, &newest) && t_ms <= newest))
        return false;
    ring_push(&h->fine, h->width, t_ms, values);
    const prom_window_ring *c = &h->coarse;
    /* In double: caller clocks near the int64 limits must not overflow. */
    if (!c->count || (double)t_ms - (double)c->t_ms[slot(c, c->count - 1)] >= PROM_WINDOW_COARSE_SPACING_MS)
        ring_push(&h->coarse, h->width, t_ms, values);
    return true;
}

static double increase(double before, double after)
{
    if (after >= before)
        return after - before;
    if (isnan(before) || isnan(after))
        return NAN;
    return after > 0 ? after : 0;
}

struct chain_sample {
    int64_t t_ms;
    const double *values;
};

bool prom_window_increase(const prom_window_history *h, int64_t window_ms, double *out, double *seconds)
{
    const prom_window_ring *f = &h->fine, *c = &h->coarse;
    if (f->count < 1)
        return false;
    /* The samples in the window, oldest first: thinned ones older than the
     * oldest kept in full, then those. Every one a real sample, in order. */
    struct chain_sample chain[PROM_WINDOW_FINE + PROM_WINDOW_COARSE];
    size_t n = 0;
    int64_t newest = f->t_ms[slot(f, f->count - 1)], fine_oldest = f->t_ms[slot(f, 0)];
    for (size_t i = 0; i < c->count; i++) {
        size_t s = slot(c, i);
        if (c->t_ms[s] < fine_oldest && (double)newest - (double)c->t_ms[s] <= (double)window_ms)
            chain[n++] = (struct chain_sample){c->t_ms[s], c->values + s * h->width};
    }
    for (size_t i = 0; i < f->count; i++) {
        size_t s = slot(f, i);
        if ((double)newest - (double)f->t_ms[s] <= (double)window_ms)
            chain[n++] = (struct chain_sample){f->t_ms[s], f->values + s * h->width};
    }
    if (n < 2)
        return false;
    for (size_t v = 0; v < h->width; v++) {
        double total = 0;
        for (size_t k = 1; k < n; k++)
            total += increase(chain[k - 1].values[v], chain[k].values[v]);
        out[v] = total;
    }
    *seconds = ((double)newest - (double)chain[0].t_ms) / 1000.0;
    return true;
}

double prom_window_quantile(double q, const double *bounds, const double *increases, size_t count)
{
    if (count == 0 || count > PROM_QUANTILE_MAX_BUCKETS)
        return NAN;
    prom_bucket b[PROM_QUANTILE_MAX_BUCKETS];
    for (size_t i = 0; i < count; i++)
        b[i] = (prom_bucket){bounds[i], increases[i]};
    return prom_histogram_quantile(q, b, count);
}

void prom_counter_total_add(prom_counter_total *c, double value)
{
    if (isnan(value))
        return;
    if (!c->seen) {
        c->seen = true;
        c->total = value;
    } else {
        c->total += increase(c->last, value);
    }
    c->last = value;
}
