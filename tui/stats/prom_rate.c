#include "prom_rate.h"

#include <math.h>

void prom_rate_ring_init(prom_rate_ring *ring)
{
    ring->start = 0;
    ring->count = 0;
    ring->resets = 0;
}

static size_t slot(const prom_rate_ring *ring, size_t i)
{
    return (ring->start + i) % PROM_RATE_CAPACITY;
}

static double increase(double before, double after)
{
    if (after >= before)
        return after - before;
    return after > 0 ? after : 0;
}

bool prom_rate_ring_push(prom_rate_ring *ring, int64_t t_ms, double counter_value)
{
    if (isnan(counter_value))
        return false;
    if (ring->count) {
        size_t last = slot(ring, ring->count - 1);
        if (t_ms <= ring->t_ms[last])
            return false;
        if (counter_value < ring->value[last])
            ring->resets++;
    }
    size_t at;
    if (ring->count < PROM_RATE_CAPACITY) {
        at = slot(ring, ring->count);
        ring->count++;
    } else {
        at = ring->start;
        ring->start = (ring->start + 1) % PROM_RATE_CAPACITY;
    }
    ring->t_ms[at] = t_ms;
    ring->value[at] = counter_value;
    return true;
}

/* Rate from sample i-1 to sample i (ring order). */
static double interval_rate(const prom_rate_ring *ring, size_t i)
{
    size_t a = slot(ring, i - 1), b = slot(ring, i);
    double seconds = ((double)ring->t_ms[b] - (double)ring->t_ms[a]) / 1000.0;
    return increase(ring->value[a], ring->value[b]) / seconds;
}

double prom_rate_ring_last_rate(const prom_rate_ring *ring)
{
    return ring->count < 2 ? NAN : interval_rate(ring, ring->count - 1);
}

double prom_rate_ring_rate_over(const prom_rate_ring *ring, int64_t window_ms)
{
    if (ring->count < 2)
        return NAN;
    size_t newest = ring->count - 1;
    int64_t t_newest = ring->t_ms[slot(ring, newest)];
    size_t first = newest;
    /* In double: caller clocks near the int64 limits must not overflow. */
    while (first > 0 && (double)t_newest - (double)ring->t_ms[slot(ring, first - 1)] <= (double)window_ms)
        first--;
    if (first == newest)
        return NAN;
    double total = 0;
    for (size_t i = first + 1; i <= newest; i++)
        total += increase(ring->value[slot(ring, i - 1)], ring->value[slot(ring, i)]);
    double seconds = ((double)t_newest - (double)ring->t_ms[slot(ring, first)]) / 1000.0;
    return total / seconds;
}

size_t prom_rate_ring_sparkline(const prom_rate_ring *ring, double *rates, size_t max)
{
    size_t available = ring->count < 2 ? 0 : ring->count - 1;
    size_t n = available < max ? available : max;
    for (size_t k = 0; k < n; k++)
        rates[k] = interval_rate(ring, ring->count - n + k);
    return n;
}
