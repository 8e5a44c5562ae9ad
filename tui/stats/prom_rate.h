/* Per-second rates of a counter from successive scrapes. The caller supplies
 * the timestamps (a monotonic clock in milliseconds), so this layer never
 * reads a clock and tests can replay any timeline. */
#ifndef HFI_PROM_RATE_H
#define HFI_PROM_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Samples kept per counter: 63 rates, about five minutes at a 5 s scrape. */
#define PROM_RATE_CAPACITY 64

typedef struct prom_rate_ring {
    int64_t t_ms[PROM_RATE_CAPACITY];
    double value[PROM_RATE_CAPACITY];
    size_t start, count;
    size_t resets; /* times the counter went down since init: pod restarts */
} prom_rate_ring;

void prom_rate_ring_init(prom_rate_ring *ring);

/* Records one scrape; the oldest sample makes room when full. Refused
 * (false) for a NaN value or a time not after the last sample's. */
bool prom_rate_ring_push(prom_rate_ring *ring, int64_t t_ms, double counter_value);

/* Per-second rate between the last two samples; NaN with fewer than two. A
 * counter that went down restarted from zero, so its increase is its new
 * value, as Prometheus' rate() counts it: never negative. */
double prom_rate_ring_last_rate(const prom_rate_ring *ring);

/* Average per-second rate over the samples of the last window_ms (measured
 * back from the newest sample), resets included as above, without
 * Prometheus' extrapolation to the window edges. NaN with fewer than two
 * samples in the window. */
double prom_rate_ring_rate_over(const prom_rate_ring *ring, int64_t window_ms);

/* Sparkline data: up to max per-interval rates, oldest first, the newest
 * last. Returns how many were written. */
size_t prom_rate_ring_sparkline(const prom_rate_ring *ring, double *rates, size_t max);

#endif
