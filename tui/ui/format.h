/* Text the console draws that is worth testing without a terminal: numbers
 * in a few columns, bars and sparklines in UTF-8 or ASCII. Pure functions;
 * no ncurses here. */
#ifndef UI_FORMAT_H
#define UI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* "0", "999", "12.3k", "4.50M": a count in at most 6 columns; "-" for NaN. */
void ui_format_count(double value, char *out, size_t size);
/* "0.0", "12.5", "1.2k": a per-second rate; "-" for NaN. */
void ui_format_rate(double per_second, char *out, size_t size);
/* "0.5", "12", "250", "1.5s", "2.0m": milliseconds; "-" for NaN. */
void ui_format_ms(double ms, char *out, size_t size);

/* A horizontal bar of `width` cells filled to fraction (0..1): eighths of a
 * cell with UTF-8 block glyphs, whole '#' cells in ASCII. Writes a
 * NUL-terminated string (UTF-8 needs up to 3 bytes a cell). */
void ui_bar(double fraction, int width, bool utf8, char *out, size_t size);

/* One cell per value, scaled to the largest: "▁▂▃▅█" or " .:-=+*#". NaN
 * values draw as a blank cell. */
void ui_sparkline(const double *values, size_t count, bool utf8, char *out, size_t size);

/* Case-insensitive substring test for the `/` filter; an empty needle
 * matches everything. */
bool ui_filter_matches(const char *haystack, const char *needle);

#endif
