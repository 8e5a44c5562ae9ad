/* Quantiles from cumulative histogram buckets, computed the way Prometheus'
 * histogram_quantile() does, so the console and a Prometheus dashboard show
 * the same p99 for the same buckets. */
#ifndef HFI_PROM_HISTOGRAM_H
#define HFI_PROM_HISTOGRAM_H

#include <stddef.h>

typedef struct prom_bucket {
    double upper_bound;      /* `le`; INFINITY for +Inf */
    double cumulative_count; /* observations <= upper_bound */
} prom_bucket;

/* More buckets than this give NaN (Envoy serves 20 by default). */
#define PROM_QUANTILE_MAX_BUCKETS 256

/* q in [0, 1]; -Inf below, +Inf above, NaN for NaN. Buckets in any order;
 * equal bounds are added together, NaN bounds ignored. NaN when the +Inf
 * bucket is missing, fewer than two buckets remain, or nothing was
 * observed. Linear interpolation inside the bucket holding the rank, from 0
 * for a first bucket with a positive bound; a rank in the +Inf bucket gives
 * the highest finite bound. Counts that go down are raised to the previous
 * bucket's, and differences below one part in 10^12 are taken as equal. */
double prom_histogram_quantile(double q, const prom_bucket *buckets, size_t count);

typedef struct prom_percentiles {
    double p50, p95, p99;
} prom_percentiles;

prom_percentiles prom_histogram_percentiles(const prom_bucket *buckets, size_t count);

#endif
