/* Windowed increases, rates and quantiles over bucket increases. */
#include <math.h>

#include "../testlib.h"
#include "prom_window.h"

#define CHECK_NEAR(got, want) CHECK(fabs((got) - (want)) < 1e-9)

/* One request every other second, scraped every 2 s with jitter: a rate
 * between two scrapes jumps between 0, 0.5 and 1; over a window it is 0.5. */
static void test_rate_is_smoothed_over_the_window(void)
{
    prom_window_history h;
    CHECK(prom_window_init(&h, 1));
    double counter = 0, inc, seconds;
    const double steps[] = {0, 2, 1, 1, 0, 1, 0, 2, 1, 1};
    for (int i = 0; i < 10; i++) {
        counter += steps[i];
        CHECK(prom_window_push(&h, (int64_t)i * 2000, &counter));
    }
    CHECK(prom_window_increase(&h, 10000, &inc, &seconds));
    CHECK_NEAR(seconds, 10);
    CHECK_NEAR(inc, 1 + 0 + 2 + 1 + 1); /* steps of t = 10..18 s */
    CHECK_NEAR(inc / seconds, 0.5);
    /* Over 2 s: the last step alone. */
    CHECK(prom_window_increase(&h, 2000, &inc, &seconds));
    CHECK_NEAR(inc / seconds, 0.5);
    CHECK(prom_window_increase(&h, 2000 - 1, &inc, &seconds) == false);
    prom_window_free(&h);
}

static void test_resets_and_absent_values(void)
{
    prom_window_history h;
    CHECK(prom_window_init(&h, 2));
    double v[][2] = {{10, NAN}, {20, NAN}, {5, 1}, {8, 4}};
    for (int i = 0; i < 4; i++)
        CHECK(prom_window_push(&h, (int64_t)i * 1000, v[i]));
    double inc[2], seconds;
    CHECK(prom_window_increase(&h, 60000, inc, &seconds));
    CHECK_NEAR(inc[0], 10 + 5 + 3); /* restarted at t=2: 5 since */
    CHECK(isnan(inc[1]));           /* absent in the older samples */
    CHECK(prom_window_increase(&h, 1000, inc, &seconds));
    CHECK_NEAR(inc[1], 3);
    CHECK(!prom_window_push(&h, 3000, v[0])); /* not after the newest */
    prom_window_clear(&h);
    CHECK(!prom_window_increase(&h, 60000, inc, &seconds));
    prom_window_free(&h);
}

/* Five minutes at a 2 s interval: more samples than are kept in full, so
 * the window reaches back through the thinned ones, exactly. */
static void test_long_window_through_thinned_samples(void)
{
    prom_window_history h;
    CHECK(prom_window_init(&h, 1));
    for (int i = 0; i <= 300; i++) { /* counter = 3 per second, t = 0..600 s */
        double value = 3.0 * i * 2;
        CHECK(prom_window_push(&h, (int64_t)i * 2000, &value));
    }
    double inc, seconds;
    CHECK(prom_window_increase(&h, 300000, &inc, &seconds));
    CHECK(seconds > 285 && seconds <= 300);
    CHECK_NEAR(inc / seconds, 3);
    CHECK(prom_window_increase(&h, 60000, &inc, &seconds));
    CHECK(seconds > 45 && seconds <= 60);
    CHECK_NEAR(inc / seconds, 3);
    CHECK(prom_window_increase(&h, 10000, &inc, &seconds));
    CHECK_NEAR(seconds, 10);
    CHECK_NEAR(inc, 30);
    prom_window_free(&h);
}

/* A fixed 150 ms delay lands in the (100, 250] bucket: histogram_quantile
 * estimates p50 at 175, linear inside the bucket. Over a window, only the
 * observations of the window count. */
static void test_quantile_over_bucket_increases(void)
{
    const double bounds[] = {10, 100, 250, INFINITY};
    prom_window_history h;
    CHECK(prom_window_init(&h, 4));
    double before[] = {50, 50, 50, 50}; /* 50 fast requests, long ago */
    double after[] = {50, 50, 60, 60};  /* then 10 of 150 ms */
    CHECK(prom_window_push(&h, 0, before));
    CHECK(prom_window_push(&h, 5000, after));
    double inc[4], seconds;
    CHECK(prom_window_increase(&h, 10000, inc, &seconds));
    CHECK_NEAR(prom_window_quantile(0.5, bounds, inc, 4), 175);
    CHECK_NEAR(prom_window_quantile(0.99, bounds, inc, 4), 100 + 150 * 0.99);
    /* The lifetime buckets say something else: most requests were fast. */
    prom_bucket lifetime[4];
    for (int i = 0; i < 4; i++)
        lifetime[i] = (prom_bucket){bounds[i], after[i]};
    CHECK(prom_histogram_quantile(0.5, lifetime, 4) <= 10);
    double none[] = {0, 0, 0, 0};
    CHECK(isnan(prom_window_quantile(0.5, bounds, none, 4)));
    prom_window_free(&h);
}

static void test_counter_total_survives_resets(void)
{
    prom_counter_total c = {0};
    prom_counter_total_add(&c, 40); /* seen first at 40: its lifetime so far */
    prom_counter_total_add(&c, 45);
    prom_counter_total_add(&c, NAN); /* a failed scrape changes nothing */
    prom_counter_total_add(&c, 3);   /* restarted */
    prom_counter_total_add(&c, 7);
    CHECK_NEAR(c.total, 45 + 3 + 4);
}

int main(void)
{
    RUN(test_rate_is_smoothed_over_the_window);
    RUN(test_resets_and_absent_values);
    RUN(test_long_window_through_thinned_samples);
    RUN(test_quantile_over_bucket_increases);
    RUN(test_counter_total_survives_resets);
    TEST_MAIN_END();
}
