#include "format.h"

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
    /* A server's counter can jump to +Inf: it draws as the top block and
     * the others scale to the largest finite value. */
    for (size_t k = 0; k < count; k++)
        if (isfinite(values[k]) && values[k] > max)
            max = values[k];
    for (size_t k = 0; k < count; k++) {
        if (isnan(values[k])) {
            append(out, size, &len, " ");
            continue;
        }
        double scaled = values[k] == INFINITY ? 7 : max > 0 ? floor(values[k] / max * 7.999) : 0;
        int level = scaled > 7 ? 7 : scaled > 0 ? (int)scaled : 0;
        char cell[2] = {ascii[level], '\0'};
        append(out, size, &len, utf8 ? blocks[level] : cell);
    }
}

void ui_format_percent(double ratio, char *out, size_t size)
{
    double pct = ratio * 100;
    if (isnan(ratio))
        snprintf(out, size, "-");
    else if (pct > 0 && pct < 9.95)
        snprintf(out, size, "%.1f%%", pct);
    else
        snprintf(out, size, "%.0f%%", pct);
}

void ui_filter_free(struct ui_filter *f)
{
    if (f->valid && f->text[0])
        regfree(&f->re);
    f->valid = false;
    f->text[0] = '\0';
    f->error[0] = '\0';
    f->negate = false;
}

void ui_filter_set(struct ui_filter *f, const char *text)
{
    ui_filter_free(f);
    snprintf(f->text, sizeof f->text, "%s", text);
    f->negate = f->text[0] == '!';
    const char *pattern = f->negate ? f->text + 1 : f->text;
    if (!f->text[0]) {
        f->valid = true;
        return;
    }
    int rc = regcomp(&f->re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    f->valid = rc == 0;
    if (!f->valid) {
        regerror(rc, &f->re, f->error, sizeof f->error);
        regfree(&f->re);
    }
}

bool ui_filter_accepts(const struct ui_filter *f, const char *name, const char *other)
{
    if (!f->text[0])
        return true;
    if (!f->valid)
        return false;
    bool found = (name && regexec(&f->re, name, 0, NULL, 0) == 0) || (other && regexec(&f->re, other, 0, NULL, 0) == 0);
    return found != f->negate;
}

void ui_format_time_left(double duration_s, time_t created, time_t now, char *out, size_t size)
{
    /* duration_seconds comes from the cluster: 1e300 or NaN must neither
     * overflow nor print nonsense. A year and more reads as "no end". */
    const double year_s = 366.0 * 86400;
    if (!(duration_s > 0) || duration_s >= year_s) {
        snprintf(out, size, "no end");
        return;
    }
    long duration = (long)duration_s;
    if (!created) {
        snprintf(out, size, "%lds from when the plugin first saw it", duration);
        return;
    }
    double left = (double)created + (double)duration - (double)now;
    if (left <= 0)
        snprintf(out, size, "expired");
    else if (left >= year_s)
        snprintf(out, size, "no end");
    else
        snprintf(out, size, "%ldm%02lds left", (long)left / 60, (long)left % 60);
}
