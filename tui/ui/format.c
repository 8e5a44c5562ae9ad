#include "format.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void ui_format_count(double v, char *out, size_t size)
{
    static const char units[] = "kMGTP";
    if (isnan(v)) {
        snprintf(out, size, "-");
        return;
    }
    if (v < 1000) {
        snprintf(out, size, "%.0f", v);
        return;
    }
    /* Three significant digits and a unit: "12.3k", "456M", "1.00G". */
    double scaled = v;
    size_t unit = 0;
    for (scaled /= 1000; scaled >= 999.5 && unit + 1 < sizeof units - 1; unit++)
        scaled /= 1000;
    if (scaled < 9.995)
        snprintf(out, size, "%.2f%c", scaled, units[unit]);
    else if (scaled < 99.95)
        snprintf(out, size, "%.1f%c", scaled, units[unit]);
    else
        snprintf(out, size, "%.0f%c", scaled, units[unit]);
}

void ui_format_rate(double v, char *out, size_t size)
{
    if (isnan(v))
        snprintf(out, size, "-");
    else if (v < 999.95)
        snprintf(out, size, "%.1f", v);
    else
        ui_format_count(v, out, size);
}

void ui_format_ms(double ms, char *out, size_t size)
{
    if (isnan(ms))
        snprintf(out, size, "-");
    else if (ms < 10)
        snprintf(out, size, "%.1f", ms);
    else if (ms < 1000)
        snprintf(out, size, "%.0f", ms);
    else if (ms < 60000)
        snprintf(out, size, "%.1fs", ms / 1e3);
    else
        snprintf(out, size, "%.1fm", ms / 6e4);
}

/* U+2588 FULL BLOCK down to U+258F LEFT ONE EIGHTH BLOCK. */
static const char *const eighths[9] = {"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589", "\u2588"};

static void append(char *out, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > size)
        return;
    memcpy(out + *len, s, n + 1);
    *len += n;
}

void ui_bar(double fraction, int width, bool utf8, char *out, size_t size)
{
    size_t len = 0;
    if (!size)
        return;
    out[0] = '\0';
    if (isnan(fraction) || fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    if (!utf8) {
        int cells = (int)lround(fraction * width);
        for (int k = 0; k < cells; k++)
            append(out, size, &len, "#");
        return;
    }
    int total = (int)lround(fraction * width * 8);
    for (int k = 0; k < total / 8; k++)
        append(out, size, &len, eighths[8]);
    append(out, size, &len, eighths[total % 8]);
}

void ui_sparkline(const double *values, size_t count, bool utf8, char *out, size_t size)
{
    static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[] = " .:-=+*#";
    double max = 0;
    size_t len = 0;
    if (!size)
        return;
    out[0] = '\0';
    for (size_t k = 0; k < count; k++)
        if (!isnan(values[k]) && values[k] > max)
            max = values[k];
    for (size_t k = 0; k < count; k++) {
        if (isnan(values[k])) {
            append(out, size, &len, " ");
            continue;
        }
        int level = max > 0 ? (int)floor(values[k] / max * 7.999) : 0;
        if (level < 0)
            level = 0;
        char cell[2] = {ascii[level], '\0'};
        append(out, size, &len, utf8 ? blocks[level] : cell);
    }
}

bool ui_filter_matches(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return true;
    for (const char *h = haystack; *h; h++) {
        size_t k = 0;
        while (k < n && h[k] && tolower((unsigned char)h[k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == n)
            return true;
    }
    return false;
}
