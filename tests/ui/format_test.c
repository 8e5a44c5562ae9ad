/* The console's number, bar and sparkline formatting, without a terminal. */
#include <math.h>
#include <string.h>

#include "../../tui/ui/format.h"
#include "../testlib.h"

static void test_counts_fit_six_columns(void)
{
    char out[16];
    ui_format_count(0, out, sizeof out);
    CHECK_STR(out, "0");
    ui_format_count(999, out, sizeof out);
    CHECK_STR(out, "999");
    ui_format_count(1234, out, sizeof out);
    CHECK_STR(out, "1.23k");
    ui_format_count(12345, out, sizeof out);
    CHECK_STR(out, "12.3k");
    ui_format_count(456000000, out, sizeof out);
    CHECK_STR(out, "456M");
    ui_format_count(4500000, out, sizeof out);
    CHECK_STR(out, "4.50M");
    ui_format_count(999999, out, sizeof out);
    CHECK_STR(out, "1.00M");
    ui_format_count(NAN, out, sizeof out);
    CHECK_STR(out, "-");
    double big[] = {9994, 9995, 99949, 99950, 999499, 999500, 1e12, 1.8e19};
    for (size_t k = 0; k < sizeof big / sizeof *big; k++) {
        ui_format_count(big[k], out, sizeof out);
        CHECK(strlen(out) <= 6);
    }
}

static void test_rates_and_milliseconds(void)
{
    char out[16];
    ui_format_rate(12.46, out, sizeof out);
    CHECK_STR(out, "12.5");
    ui_format_rate(2500, out, sizeof out);
    CHECK_STR(out, "2.50k");
    ui_format_ms(0.5, out, sizeof out);
    CHECK_STR(out, "0.5");
    ui_format_ms(250, out, sizeof out);
    CHECK_STR(out, "250");
    ui_format_ms(1500, out, sizeof out);
    CHECK_STR(out, "1.5s");
    ui_format_ms(120000, out, sizeof out);
    CHECK_STR(out, "2.0m");
}

static void test_bars_in_utf8_and_ascii(void)
{
    char out[200];
    ui_bar(0.5, 10, false, out, sizeof out);
    CHECK_STR(out, "#####");
    ui_bar(2, 4, false, out, sizeof out); /* clamped */
    CHECK_STR(out, "####");
    ui_bar(NAN, 4, false, out, sizeof out);
    CHECK_STR(out, "");
    ui_bar(1.0 / 16, 2, true, out, sizeof out); /* one eighth of a cell */
    CHECK_STR(out, "\u258f");
    ui_bar(0.5625, 2, true, out, sizeof out); /* a full cell and one eighth */
    CHECK_STR(out, "\u2588\u258f");
    ui_bar(1, 100, true, out, 10); /* never past the buffer */
    CHECK(strlen(out) < 10);
}

static void test_sparkline_scales_to_largest(void)
{
    char out[64];
    double values[] = {0, 5, 10, NAN};
    ui_sparkline(values, 4, false, out, sizeof out);
    CHECK_STR(out, " -# "); /* half the largest: level 3 of 0..7 */
    ui_sparkline(values, 3, true, out, sizeof out);
    CHECK_STR(out, "\u2581\u2584\u2588");
    double zeros[] = {0, 0};
    ui_sparkline(zeros, 2, false, out, sizeof out);
    CHECK_STR(out, "  ");
}

static void test_filter_is_case_insensitive_substring(void)
{
    struct ui_filter f = {0};
    ui_filter_set(&f, "FRONT");
    CHECK(ui_filter_accepts(&f, "frontend-7c9f-abcde", NULL));
    CHECK(!ui_filter_accepts(&f, "cart-1", "cart"));
    ui_filter_set(&f, "");
    CHECK(ui_filter_accepts(&f, "cart-1", NULL));
    ui_filter_set(&f, "kout");
    CHECK(ui_filter_accepts(&f, "checkout-1", NULL));
    CHECK(ui_filter_accepts(&f, "pod-1", "checkout")); /* the deployment's name counts too */
    ui_filter_free(&f);
}

static void test_filter_regex_and_negation(void)
{
    struct ui_filter f = {0};
    ui_filter_set(&f, "^(cart|checkout)-");
    CHECK(f.valid);
    CHECK(ui_filter_accepts(&f, "cart-1", NULL));
    CHECK(ui_filter_accepts(&f, "checkout-9", NULL));
    CHECK(!ui_filter_accepts(&f, "frontend-1", "frontend"));
    ui_filter_set(&f, "!cart");
    CHECK(f.negate);
    CHECK(!ui_filter_accepts(&f, "cart-1", "cart"));
    CHECK(!ui_filter_accepts(&f, "pod-x", "cart")); /* neither name may match */
    CHECK(ui_filter_accepts(&f, "frontend-1", "frontend"));
    ui_filter_set(&f, "front[");
    CHECK(!f.valid && f.error[0]);
    CHECK(!ui_filter_accepts(&f, "front[", NULL)); /* a bad expression keeps nothing, and says why */
    ui_filter_free(&f);
}

static void test_percent(void)
{
    char out[16];
    ui_format_percent(0.05128, out, sizeof out);
    CHECK_STR(out, "5.1%");
    ui_format_percent(1, out, sizeof out);
    CHECK_STR(out, "100%");
    ui_format_percent(0, out, sizeof out);
    CHECK_STR(out, "0%");
    ui_format_percent(NAN, out, sizeof out);
    CHECK_STR(out, "-");
}

/* A counter that became +Inf, or NaN from a scrape: no float-to-int of a
 * non-finite value (UBSan fails the test on one). */
static void test_sparkline_non_finite_values(void)
{
    char out[64];
    double values[] = {1, INFINITY, 2, NAN, -INFINITY, 4};
    ui_sparkline(values, 6, false, out, sizeof out);
    CHECK_STR(out, ".#-  #");
    double all_inf[] = {INFINITY, INFINITY};
    ui_sparkline(all_inf, 2, false, out, sizeof out);
    CHECK_STR(out, "##");
}

static void test_time_left_saturates(void)
{
    char out[64];
    time_t now = 1700000000;
    ui_format_time_left(300, now - 55, now, out, sizeof out);
    CHECK_STR(out, "4m05s left");
    ui_format_time_left(300, now - 400, now, out, sizeof out);
    CHECK_STR(out, "expired");
    ui_format_time_left(1e300, now, now, out, sizeof out);
    CHECK_STR(out, "no end");
    ui_format_time_left(NAN, now, now, out, sizeof out);
    CHECK_STR(out, "no end");
    ui_format_time_left(0, now, now, out, sizeof out);
    CHECK_STR(out, "no end");
    ui_format_time_left(90, 0, now, out, sizeof out);
    CHECK_STR(out, "90s from when the plugin first saw it");
}

int main(void)
{
    RUN(test_counts_fit_six_columns);
    RUN(test_rates_and_milliseconds);
    RUN(test_bars_in_utf8_and_ascii);
    RUN(test_sparkline_scales_to_largest);
    RUN(test_filter_is_case_insensitive_substring);
    RUN(test_filter_regex_and_negation);
    RUN(test_percent);
    RUN(test_sparkline_non_finite_values);
    RUN(test_time_left_saturates);
    TEST_MAIN_END();
}
