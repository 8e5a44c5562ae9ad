/* histogram_quantile() answers worked out by hand. */
#include <math.h>

#include "../testlib.h"
#include "prom_histogram.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CHECK_NEAR(got, want) CHECK(fabs((got) - (want)) < 1e-9)

static const prom_bucket doubling[] = {{1, 2}, {2, 4}, {4, 8}, {INFINITY, 8}};

static void test_interpolates_within_bucket(void)
{
    CHECK_NEAR(prom_histogram_quantile(0.5, doubling, N(doubling)), 2);   /* rank 4: le=2 holds it */
    CHECK_NEAR(prom_histogram_quantile(0.25, doubling, N(doubling)), 1);  /* rank 2: top of le=1 */
    CHECK_NEAR(prom_histogram_quantile(0.1, doubling, N(doubling)), 0.4); /* 0 + 1 * 0.8/2 */
    CHECK_NEAR(prom_histogram_quantile(0.75, doubling, N(doubling)), 3);  /* 2 + 2 * 2/4 */
    CHECK_NEAR(prom_histogram_quantile(1, doubling, N(doubling)), 4);
}

static void test_rank_in_inf_bucket_gives_last_finite_bound(void)
{
    const prom_bucket b[] = {{1, 1}, {INFINITY, 10}};
    CHECK_NEAR(prom_histogram_quantile(0.5, b, N(b)), 1);
    CHECK_NEAR(prom_histogram_quantile(0.99, b, N(b)), 1);
}

static void test_nan_cases(void)
{
    const prom_bucket empty[] = {{1, 0}, {2, 0}, {INFINITY, 0}};
    const prom_bucket no_inf[] = {{1, 1}, {2, 2}};
    const prom_bucket only_inf[] = {{INFINITY, 3}};
    CHECK(isnan(prom_histogram_quantile(0.5, empty, N(empty))));
    CHECK(isnan(prom_histogram_quantile(0.5, no_inf, N(no_inf))));
    CHECK(isnan(prom_histogram_quantile(0.5, only_inf, N(only_inf))));
    CHECK(isnan(prom_histogram_quantile(0.5, doubling, 0)));
    CHECK(isnan(prom_histogram_quantile(NAN, doubling, N(doubling))));
    CHECK(prom_histogram_quantile(-0.1, doubling, N(doubling)) == -INFINITY);
    CHECK(prom_histogram_quantile(1.1, doubling, N(doubling)) == INFINITY);
}

static void test_first_bucket_not_positive(void)
{
    const prom_bucket b[] = {{-1, 2}, {0, 4}, {INFINITY, 4}};
    CHECK_NEAR(prom_histogram_quantile(0.25, b, N(b)), -1); /* the bound itself, no interpolation */
    CHECK_NEAR(prom_histogram_quantile(0.75, b, N(b)), -0.5); /* -1 + 1 * 1/2 */
}

static void test_unsorted_and_duplicate_bounds(void)
{
    const prom_bucket shuffled[] = {{2, 4}, {INFINITY, 8}, {1, 2}, {4, 8}};
    CHECK_NEAR(prom_histogram_quantile(0.75, shuffled, N(shuffled)), 3);
    /* Two series with the same bounds add up, as sum by (le) would. */
    const prom_bucket twice[] = {{1, 1}, {1, 1}, {2, 2}, {2, 2}, {INFINITY, 2}, {INFINITY, 2}};
    CHECK_NEAR(prom_histogram_quantile(0.5, twice, N(twice)), 1);
    CHECK_NEAR(prom_histogram_quantile(0.75, twice, N(twice)), 1.5);
    const prom_bucket nan_bound[] = {{NAN, 5}, {1, 2}, {INFINITY, 4}};
    CHECK_NEAR(prom_histogram_quantile(0.25, nan_bound, N(nan_bound)), 0.5);
}

static void test_monotonicity_fix(void)
{
    /* le=2 went down (a scrape between two flushes): raised to 5. */
    const prom_bucket b[] = {{1, 5}, {2, 3}, {4, 8}, {INFINITY, 8}};
    CHECK_NEAR(prom_histogram_quantile(0.5, b, N(b)), 0.8); /* rank 4 in le=1: 4/5 */
    CHECK_NEAR(prom_histogram_quantile(0.7, b, N(b)), 2.4); /* rank 5.6: 2 + 2 * 0.6/3 */
    /* Noise below 1e-12 relative is equality, not an extra observation. */
    const prom_bucket noisy[] = {{1, 1}, {2, 1 + 1e-15}, {INFINITY, 1 + 1e-15}};
    CHECK_NEAR(prom_histogram_quantile(1, noisy, N(noisy)), 1);
}

static void test_envoy_default_bounds_percentiles(void)
{
    const prom_bucket b[] = {{0.5, 0}, {1, 0}, {5, 10}, {10, 50}, {25, 90}, {50, 99}, {100, 100},
                             {250, 100}, {500, 100}, {1000, 100}, {2500, 100}, {5000, 100}, {10000, 100},
                             {30000, 100}, {60000, 100}, {300000, 100}, {600000, 100}, {1800000, 100},
                             {3600000, 100}, {INFINITY, 100}};
    prom_percentiles p = prom_histogram_percentiles(b, N(b));
    CHECK_NEAR(p.p50, 10);                    /* rank 50: top of le=10 */
    CHECK_NEAR(p.p95, 25 + 25 * (5.0 / 9.0)); /* rank 95: 5 of the 9 in (25, 50] */
    CHECK_NEAR(p.p99, 50);
    prom_percentiles none = prom_histogram_percentiles(b, 0);
    CHECK(isnan(none.p50) && isnan(none.p95) && isnan(none.p99));
}

static void test_too_many_buckets(void)
{
    static prom_bucket many[PROM_QUANTILE_MAX_BUCKETS + 1];
    for (size_t i = 0; i < N(many); i++)
        many[i] = (prom_bucket){(double)i + 1, (double)i};
    many[N(many) - 1].upper_bound = INFINITY;
    CHECK(isnan(prom_histogram_quantile(0.5, many, N(many))));
    CHECK(!isnan(prom_histogram_quantile(0.5, many + 1, N(many) - 1)));
}

int main(void)
{
    RUN(test_interpolates_within_bucket);
    RUN(test_rank_in_inf_bucket_gives_last_finite_bound);
    RUN(test_nan_cases);
    RUN(test_first_bucket_not_positive);
    RUN(test_unsorted_and_duplicate_bounds);
    RUN(test_monotonicity_fix);
    RUN(test_envoy_default_bounds_percentiles);
    RUN(test_too_many_buckets);
    TEST_MAIN_END();
}
