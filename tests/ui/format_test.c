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
    CHECK(ui_filter_matches("frontend-7c9f-abcde", "FRONT"));
    CHECK(ui_filter_matches("cart-1", ""));
    CHECK(!ui_filter_matches("cart-1", "checkout"));
    CHECK(ui_filter_matches("checkout", "kout"));
}

int main(void)
{
    RUN(test_counts_fit_six_columns);
    RUN(test_rates_and_milliseconds);
    RUN(test_bars_in_utf8_and_ascii);
    RUN(test_sparkline_scales_to_largest);
    RUN(test_filter_is_case_insensitive_substring);
    TEST_MAIN_END();
}
