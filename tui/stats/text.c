#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* One character of the input as it is shown: its bytes and its cells. */
struct unit {
    char bytes[12];
    size_t n_bytes; /* 0: removed (a bidi control) */
    int cells;
    size_t consumed; /* input bytes */
};

/* Decodes one UTF-8 sequence at in[0..len): the code point and its length,
 * or 0 for a byte that starts no valid sequence (overlong forms, surrogates
 * and values past U+10FFFF are not valid). */
static size_t utf8_decode(const unsigned char *in, size_t len, uint32_t *cp)
{
    unsigned char b = in[0];
    size_t n;
    uint32_t v, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        n = 2, v = b & 0x1f, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3, v = b & 0x0f, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4, v = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((in[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (in[k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static bool is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
           cp == 0x061c;
}

static void unit_escape(struct unit *u, const char *fmt, unsigned value)
{
    int n = snprintf(u->bytes, sizeof u->bytes, fmt, value);
    u->n_bytes = (size_t)n;
    u->cells = n;
}

static void next_unit(const unsigned char *in, size_t len, unsigned flags, struct unit *u)
{
    uint32_t cp;
    size_t n = utf8_decode(in, len, &cp);
    u->consumed = n ? n : 1;
    if (!n) {
        unit_escape(u, "\\x%02x", in[0]);
        return;
    }
    if ((flags & TEXT_KEEP_LINES) && (cp == '\n' || cp == '\t')) {
        u->bytes[0] = (char)cp;
        u->n_bytes = 1;
        u->cells = 0;
        return;
    }
    if (cp < 0x20 || cp == 0x7f) {
        u->bytes[0] = '^';
        u->bytes[1] = (char)(cp == 0x7f ? '?' : cp + 0x40);
        u->n_bytes = 2;
        u->cells = 2;
        return;
    }
    if (is_bidi_control(cp)) {
        u->n_bytes = 0;
        u->cells = 0;
        return;
    }
    int w = cp < 0x80 ? 1 : cp <= 0x9f || cp == 0x2028 || cp == 0x2029 ? -1 : wcwidth((wchar_t)cp);
    if (w < 0) {
        unit_escape(u, cp > 0xffff ? "\\U%08x" : "\\u%04x", cp);
        return;
    }
    memcpy(u->bytes, in, n);
    u->n_bytes = n;
    u->cells = w;
}

static size_t append_unit(char *out, size_t size, size_t len, const struct unit *u)
{
    if (len + u->n_bytes + 1 > size)
        return len;
    memcpy(out + len, u->bytes, u->n_bytes);
    out[len + u->n_bytes] = '\0';
    return len + u->n_bytes;
}

size_t text_sanitize(const char *in, size_t len, unsigned flags, char *out, size_t size)
{
    size_t o = 0;
    if (!size)
        return 0;
    out[0] = '\0';
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        struct unit u;
        next_unit(p + i, len - i, flags, &u);
        size_t grown = append_unit(out, size, o, &u);
        if (grown == o && u.n_bytes)
            break;
        o = grown;
        i += u.consumed;
    }
    return o;
}

/* The worst case is "\xNN" for each byte. */
char *text_sanitize_dup(const char *s)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    size_t size = len * 4 + 1;
    char *out = malloc(size);
    if (out)
        text_sanitize(s, len, 0, out, size);
    return out;
}

int text_width(const char *s)
{
    int cells = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        struct unit u;
        next_unit(p + i, len - i, 0, &u);
        cells += u.cells;
        i += u.consumed;
    }
    return cells;
}

int text_fit(const char *s, int cells, char *out, size_t size)
{
    int used = 0;
    size_t o = 0;
    if (!size)
        return 0;
    out[0] = '\0';
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        struct unit u;
        next_unit(p + i, len - i, 0, &u);
        if (used + u.cells > cells)
            break;
        size_t grown = append_unit(out, size, o, &u);
        if (grown == o && u.n_bytes)
            break;
        o = grown;
        used += u.cells;
        i += u.consumed;
    }
    return used;
}

void text_pad(const char *s, int cells, char *out, size_t size)
{
    int used = text_fit(s, cells, out, size);
    size_t o = strlen(out);
    for (; used < cells && o + 1 < size; used++)
        out[o++] = ' ';
    if (size)
        out[o] = '\0';
}

int text_shorten_middle(const char *s, int cells, bool utf8, char *out, size_t size)
{
    if (!size)
        return 0;
    out[0] = '\0';
    int total = text_width(s);
    if (total <= cells)
        return text_fit(s, cells, out, size);
    if (cells <= 0)
        return 0;
    /* The ellipsis takes one cell; what the head cannot use (a wide
     * character at its edge) goes to the tail. */
    int used = text_fit(s, (cells - 1) / 2, out, size);
    int tail_cells = cells - 1 - used;
    size_t o = strlen(out);
    const char *ellipsis = utf8 ? "\u2026" : "~";
    size_t el = strlen(ellipsis);
    if (o + el + 1 > size)
        return used;
    memcpy(out + o, ellipsis, el + 1);
    o += el;
    used++;
    /* The tail starts at the first character, not a combining mark, from
     * which what remains fits in tail_cells. */
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    int remaining = total;
    size_t i = 0;
    while (i < len) {
        struct unit u;
        next_unit(p + i, len - i, 0, &u);
        if (remaining <= tail_cells && u.cells > 0)
            break;
        remaining -= u.cells;
        i += u.consumed;
    }
    int tail = text_fit(s + i, tail_cells, out + o, size - o);
    return used + tail;
}

char *text_json_safe_dup(const char *json)
{
    size_t len = strlen(json);
    /* The worst case is "\u0085" (6 bytes) for 2 bytes, or U+FFFD (3) for 1. */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)json;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (!n) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else if (cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || is_bidi_control(cp) ||
                   (cp < 0x20 && cp != '\n' && cp != '\t' && cp != '\r')) {
            o += (size_t)snprintf(out + o, 7, "\\u%04x", cp);
            i += n;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

size_t text_incomplete_tail(const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    /* Look back over at most three continuation bytes for a lead byte. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char b = p[len - back];
        if ((b & 0xc0) == 0x80)
            continue;
        size_t need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}
