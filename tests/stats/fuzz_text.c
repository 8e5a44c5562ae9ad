/* libFuzzer: the terminal sanitizer on any bytes. Its promises are checked,
 * not only that it does not crash: no raw control or bidi character in the
 * output, valid UTF-8 throughout, fit and shorten within their cells. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static void check_safe(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i];) {
        unsigned char b = p[i];
        if (b < 0x20 || b == 0x7f)
            abort();
        size_t n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
        if (!n)
            abort();
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                abort();
        if (n == 2 && b == 0xc2 && p[i + 1] <= 0x9f)
            abort(); /* C1 */
        if (n == 3 && b == 0xe2 && p[i + 1] == 0x80 && ((p[i + 2] >= 0xaa && p[i + 2] <= 0xae) || p[i + 2] == 0x8e ||
                                                        p[i + 2] == 0x8f))
            abort(); /* bidi */
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = setlocale(LC_CTYPE, "C.UTF-8") != NULL || 1;
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char out[512];
    text_sanitize(in, size, 0, out, sizeof out);
    check_safe(out);
    char *dup = text_sanitize_dup(in);
    if (dup) {
        check_safe(dup);
        if (text_width(dup) != text_width(in))
            abort(); /* sanitizing is idempotent */
        free(dup);
    }
    int cells = size ? data[0] % 40 : 10;
    if (text_fit(in, cells, out, sizeof out) > cells)
        abort();
    check_safe(out);
    if (text_shorten_middle(in, cells, size % 2, out, sizeof out) > cells)
        abort();
    check_safe(out);
    if (text_width(out) > cells)
        abort();
    free(in);
    return 0;
}
