/* Text the console draws that is worth testing without a terminal: numbers
 * in a few columns, bars and sparklines in UTF-8 or ASCII. Pure functions;
 * no ncurses here. */
#ifndef UI_FORMAT_H
#define UI_FORMAT_H

#include <stdbool.h>
#include <regex.h>
#include <stddef.h>
#include <time.h>

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

/* "12%", "0.5%", "100%": a ratio as a percentage; "-" for NaN. */
void ui_format_percent(double ratio, char *out, size_t size);

/* The `/` filter: a POSIX extended regular expression, case-insensitive,
 * found anywhere in a name (so a plain word is a substring test); a
 * leading `!` keeps what does not match instead. */
struct ui_filter {
    char text[64];     /* as typed, `!` included */
    bool negate;
    bool valid;        /* compiled; false with an error for a bad expression */
    regex_t re;
    char error[128];
};

/* Compiles text (the previous expression is freed); an empty text filters
 * nothing. */
void ui_filter_set(struct ui_filter *f, const char *text);
void ui_filter_free(struct ui_filter *f);
/* Whether a row with these names stays: one of them matches (with `!`:
 * none does). A bad expression keeps nothing. NULL names are skipped. */
bool ui_filter_accepts(const struct ui_filter *f, const char *name, const char *other);

/* A policy's time left from its longest duration_seconds and when it was
 * created (0: unknown): "4m05s left", "expired", "no end" (none, or
 * beyond a year: a server's 1e300), saturating, never overflowing. */
void ui_format_time_left(double duration_s, time_t created, time_t now, char *out, size_t size);

#endif
