/* Counters and histogram buckets over a window the user picks (10 s, 1 m,
 * 5 m), computed from the increases between scrapes as Prometheus'
 * increase(), rate() and histogram_quantile() over a range would: a
 * counter that goes down restarted from zero, so its increase is its new
 * value. Unlike Prometheus there is no extrapolation to the window's
 * edges: a rate is the increase over the time the samples really span.
 *
 * One history holds a vector of `width` values per sample (the caller's
 * layout, e.g. two counters then a histogram's cumulative buckets). It keeps
 * the last PROM_WINDOW_FINE samples, and older ones thinned to one every
 * PROM_WINDOW_COARSE_SPACING_MS, so five minutes cost about thirty samples
 * whatever the scrape interval. The caller supplies the timestamps (a
 * monotonic clock in milliseconds): this layer reads no clock. */
#ifndef HFI_PROM_WINDOW_H
#define HFI_PROM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prom_histogram.h"

#define PROM_WINDOW_FINE 8
#define PROM_WINDOW_COARSE 24
#define PROM_WINDOW_COARSE_SPACING_MS 15000 /* 24 x 15 s: six minutes reach back */

typedef struct prom_window_ring {
    int64_t t_ms[PROM_WINDOW_COARSE];
    size_t start, count, capacity;
    double *values; /* capacity x width */
} prom_window_ring;

typedef struct prom_window_history {
    size_t width;
    prom_window_ring fine, coarse;
} prom_window_history;

/* False when out of memory (the history is then empty and unusable). */
bool prom_window_init(prom_window_history *h, size_t width);
void prom_window_free(prom_window_history *h);
/* Forgets every sample: the layout of the values changed. */
void prom_window_clear(prom_window_history *h);

/* Records one sample of `width` values (NaN: absent in this sample).
 * Refused (false) for a time not after the newest sample's. */
bool prom_window_push(prom_window_history *h, int64_t t_ms, const double *values);

/* The newest sample's time; false when empty. */
bool prom_window_newest(const prom_window_history *h, int64_t *t_ms);

/* The increase of each value over the samples within window_ms of the
 * newest one (resets counted as above; NaN where a sample lacked the
 * value), and in *seconds the time those samples span. False, with nothing
 * written, when fewer than two samples fall in the window. */
bool prom_window_increase(const prom_window_history *h, int64_t window_ms, double *increase, double *seconds);

/* A quantile of the observations that went into a histogram's buckets over
 * a window: histogram_quantile(q, increase(bucket[w])). `bounds` are the
 * buckets' upper bounds (the last +Inf), `increases` the matching
 * increases; NaN when nothing was observed. An estimate from the buckets:
 * linear inside the bucket that holds the rank. */
double prom_window_quantile(double q, const double *bounds, const double *increases, size_t count);

/* A counter's total since first seen, across resets: the first value, then
 * every increase (as above). For totals that must survive restarts. */
typedef struct prom_counter_total {
    bool seen;
    double last, total;
} prom_counter_total;

void prom_counter_total_add(prom_counter_total *c, double value);

#endif
