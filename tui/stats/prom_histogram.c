#include "prom_histogram.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>

/* Floating-point noise between buckets (sums over workers or series) must
 * not be mistaken for a decrease; Prometheus uses the same tolerance. */
#define SMALL_DELTA_TOLERANCE 1e-12

static bool almost_equal(double a, double b, double epsilon)
{
    if (a == b)
        return true;
    double diff = fabs(a - b);
    double magnitude = fabs(a) + fabs(b);
    if (a == 0 || b == 0 || magnitude < DBL_MIN)
        return diff < epsilon * DBL_MIN;
    return diff / fmin(magnitude, DBL_MAX) < epsilon;
}

/* Sorted by bound, equal bounds merged. Returns the number kept. */
static size_t sorted_coalesced(const prom_bucket *in, size_t count, prom_bucket *out)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        prom_bucket b = in[i];
        if (isnan(b.upper_bound))
            continue;
        size_t j = n;
        while (j > 0 && out[j - 1].upper_bound > b.upper_bound)
            j--;
        if (j > 0 && out[j - 1].upper_bound == b.upper_bound) {
            out[j - 1].cumulative_count += b.cumulative_count;
            continue;
        }
        for (size_t k = n; k > j; k--)
            out[k] = out[k - 1];
        out[j] = b;
        n++;
    }
    return n;
}

static void make_monotonic(prom_bucket *b, size_t n)
{
    double previous = b[0].cumulative_count;
    for (size_t i = 1; i < n; i++) {
        double current = b[i].cumulative_count;
        if (current == previous)
            continue;
        if (almost_equal(previous, current, SMALL_DELTA_TOLERANCE) || current < previous) {
            b[i].cumulative_count = previous;
            continue;
        }
        previous = current;
    }
}

double prom_histogram_quantile(double q, const prom_bucket *buckets, size_t count)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (count == 0 || count > PROM_QUANTILE_MAX_BUCKETS)
        return NAN;

    prom_bucket b[PROM_QUANTILE_MAX_BUCKETS];
    size_t n = sorted_coalesced(buckets, count, b);
    if (n < 2 || b[n - 1].upper_bound != INFINITY)
        return NAN;
    make_monotonic(b, n);

    double observations = b[n - 1].cumulative_count;
    if (!(observations > 0))
        return NAN;
    double rank = q * observations;
    size_t i = 0;
    while (i < n - 1 && !(b[i].cumulative_count >= rank))
        i++;
    if (i == n - 1)
        return b[n - 2].upper_bound;
    if (i == 0 && b[0].upper_bound <= 0)
        return b[0].upper_bound;

    double start = 0, in_bucket = b[i].cumulative_count;
    if (i > 0) {
        start = b[i - 1].upper_bound;
        in_bucket -= b[i - 1].cumulative_count;
        rank -= b[i - 1].cumulative_count;
    }
    return start + (b[i].upper_bound - start) * (rank / in_bucket);
}

prom_percentiles prom_histogram_percentiles(const prom_bucket *buckets, size_t count)
{
    return (prom_percentiles){
        prom_histogram_quantile(0.50, buckets, count),
        prom_histogram_quantile(0.95, buckets, count),
        prom_histogram_quantile(0.99, buckets, count),
    };
}
