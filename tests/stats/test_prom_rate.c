/* Rates from successive scrapes, counter resets included. */
#include <math.h>

#include "../testlib.h"
#include "prom_rate.h"

#define CHECK_NEAR(got, want) CHECK(fabs((got) - (want)) < 1e-9)

static void test_rate_between_scrapes(void)
{
    prom_rate_ring r;
    prom_rate_ring_init(&r);
    CHECK(isnan(prom_rate_ring_last_rate(&r)));
    CHECK(prom_rate_ring_push(&r, 0, 10));
    CHECK(isnan(prom_rate_ring_last_rate(&r)));
    CHECK(prom_rate_ring_push(&r, 2000, 30));
    CHECK_NEAR(prom_rate_ring_last_rate(&r), 10);
    CHECK(prom_rate_ring_push(&r, 2500, 30));
    CHECK_NEAR(prom_rate_ring_last_rate(&r), 0);
}

static void test_reset_counts_from_zero(void)
{
    prom_rate_ring r;
    prom_rate_ring_init(&r);
    prom_rate_ring_push(&r, 0, 10);
    prom_rate_ring_push(&r, 1000, 20);
    prom_rate_ring_push(&r, 2000, 5); /* restarted: 5 since the restart */
    CHECK_NEAR(prom_rate_ring_last_rate(&r), 5);
    CHECK_INT(r.resets, 1);
    CHECK_NEAR(prom_rate_ring_rate_over(&r, 2000), (10.0 + 5.0) / 2.0);
    CHECK_NEAR(prom_rate_ring_rate_over(&r, 1000), 5);
    CHECK(isnan(prom_rate_ring_rate_over(&r, 500)));
    prom_rate_ring_push(&r, 3000, 0); /* restarted again, nothing since */
    CHECK_NEAR(prom_rate_ring_last_rate(&r), 0);
    CHECK_INT(r.resets, 2);
}

static void test_never_negative(void)
{
    prom_rate_ring r;
    prom_rate_ring_init(&r);
    prom_rate_ring_push(&r, 0, 5);
    prom_rate_ring_push(&r, 1000, -3);
    CHECK(prom_rate_ring_last_rate(&r) == 0);
}

static void test_refused_samples(void)
{
    prom_rate_ring r;
    prom_rate_ring_init(&r);
    CHECK(prom_rate_ring_push(&r, 1000, 1));
    CHECK(!prom_rate_ring_push(&r, 1000, 2)); /* same time */
    CHECK(!prom_rate_ring_push(&r, 500, 2));  /* earlier */
    CHECK(!prom_rate_ring_push(&r, 2000, NAN));
    CHECK_INT(r.count, 1);
    CHECK(prom_rate_ring_push(&r, INT64_MAX, 2));
    CHECK(prom_rate_ring_last_rate(&r) >= 0);
    CHECK(prom_rate_ring_rate_over(&r, INT64_MAX) >= 0);
}

static void test_ring_wraps_and_sparkline(void)
{
    prom_rate_ring r;
    prom_rate_ring_init(&r);
    double rates[PROM_RATE_CAPACITY];
    CHECK_INT(prom_rate_ring_sparkline(&r, rates, 10), 0);
    for (int i = 0; i < 100; i++)
        prom_rate_ring_push(&r, (int64_t)i * 1000, (double)i * i);
    CHECK_INT(r.count, PROM_RATE_CAPACITY);
    size_t n = prom_rate_ring_sparkline(&r, rates, PROM_RATE_CAPACITY);
    CHECK_INT(n, PROM_RATE_CAPACITY - 1);
    /* Between i-1 and i the counter grows by 2i-1 per second; newest last. */
    CHECK_NEAR(rates[n - 1], 2 * 99 - 1);
    CHECK_NEAR(rates[0], 2 * (100 - (PROM_RATE_CAPACITY - 1)) - 1);
    n = prom_rate_ring_sparkline(&r, rates, 3);
    CHECK_INT(n, 3);
    CHECK_NEAR(rates[0], 2 * 97 - 1);
    CHECK_NEAR(rates[2], 2 * 99 - 1);
    /* Over 10 s: (99^2 - 89^2) / 10 */
    CHECK_NEAR(prom_rate_ring_rate_over(&r, 10000), (99.0 * 99 - 89.0 * 89) / 10);
    /* A window longer than the ring uses all it has. */
    CHECK_NEAR(prom_rate_ring_rate_over(&r, 1000000), (99.0 * 99 - 36.0 * 36) / 63);
}

int main(void)
{
    RUN(test_rate_between_scrapes);
    RUN(test_reset_counts_from_zero);
    RUN(test_never_negative);
    RUN(test_refused_samples);
    RUN(test_ring_wraps_and_sparkline);
    TEST_MAIN_END();
}
