/* The sanitizer and cell widths every printed cluster string goes through. */
#include <locale.h>
#include <stdlib.h>

#include "../testlib.h"
#include "text.h"

static const char *clean(const char *in, unsigned flags)
{
    static char out[256];
    text_sanitize(in, strlen(in), flags, out, sizeof out);
    return out;
}

static void test_terminal_escapes_shown_not_obeyed(void)
{
    CHECK_STR(clean("pod\x1b]0;owned\x07", 0), "pod^[]0;owned^G");
    CHECK_STR(clean("\x1b[2Jx", 0), "^[[2Jx");
    CHECK_STR(clean("del\x7f", 0), "del^?");
    CHECK_STR(clean("a\nb\tc\rd", 0), "a^Jb^Ic^Md");
    CHECK_STR(clean("a\nb\tc\rd", TEXT_KEEP_LINES), "a\nb\tc^Md");
    /* U+009B is CSI to a terminal that takes C1 controls. */
    CHECK_STR(clean("x\xc2\x9b" "2Jy", 0), "x\\u009b2Jy");
    CHECK_STR(clean("a\xe2\x80\xa8" "b", 0), "a\\u2028b");
}

static void test_bidi_controls_removed(void)
{
    CHECK_STR(clean("abc\u202edef\u202c", 0), "abcdef");
    CHECK_STR(clean("\u2066x\u2069\u200e\u200f\u061cy", 0), "xy");
    CHECK_INT(text_width("abc\u202edef"), 6);
}

static void test_invalid_utf8_escaped(void)
{
    CHECK_STR(clean("a\xff" "b", 0), "a\\xffb");
    CHECK_STR(clean("\xc0\xaf", 0), "\\xc0\\xaf"); /* overlong '/' */
    CHECK_STR(clean("\xed\xa0\x80", 0), "\\xed\\xa0\\x80"); /* a surrogate */
    CHECK_STR(clean("\xe6\x97", 0), "\\xe6\\x97"); /* cut short */
    CHECK_STR(clean("\u65e5\u672c", 0), "\u65e5\u672c");
}

static void test_widths_in_cells(void)
{
    CHECK_INT(text_width("pod-1"), 5);
    CHECK_INT(text_width("\u65e5\u672c"), 4);
    CHECK_INT(text_width("e\u0301"), 1);
    CHECK_INT(text_width("\x1b"), 2);
    CHECK_INT(text_width("\xff"), 4);
}

static void test_fit_never_splits_a_character(void)
{
    char out[64];
    CHECK_INT(text_fit("\u65e5\u672c\u8a9e", 5, out, sizeof out), 4);
    CHECK_STR(out, "\u65e5\u672c");
    CHECK_INT(text_fit("e\u0301e\u0301", 1, out, sizeof out), 1);
    CHECK_STR(out, "e\u0301");
    CHECK_INT(text_fit("a\x1b", 2, out, sizeof out), 1); /* "^[" is not cut to "^" */
    CHECK_STR(out, "a");
    /* A buffer too small for the next character ends before it. */
    char small[5];
    text_sanitize("\u65e5\u672c", strlen("\u65e5\u672c"), 0, small, sizeof small);
    CHECK_STR(small, "\u65e5");
    text_pad("\u65e5\u672c\u8a9e", 5, out, sizeof out);
    CHECK_STR(out, "\u65e5\u672c ");
    text_pad("ab", 4, out, sizeof out);
    CHECK_STR(out, "ab  ");
}

static void test_shorten_in_the_middle(void)
{
    char out[64];
    const char *name = "productpage-v1-6b746f74dc-9stvk";
    CHECK_INT(text_shorten_middle(name, 15, true, out, sizeof out), 15);
    CHECK_STR(out, "product\u2026c-9stvk");
    CHECK_INT(text_shorten_middle(name, 15, false, out, sizeof out), 15);
    CHECK_STR(out, "product~c-9stvk");
    CHECK_INT(text_shorten_middle("short", 15, true, out, sizeof out), 5);
    CHECK_STR(out, "short");
    CHECK_INT(text_shorten_middle("\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e", 7, true, out, sizeof out), 7);
    CHECK_STR(out, "\u65e5\u2026\u672c\u8a9e");
    CHECK_INT(text_shorten_middle("a\x1b[2Jbcdefgh", 6, false, out, sizeof out), 6);
    CHECK_STR(out, "a~efgh");
    CHECK_INT(text_shorten_middle(name, 0, true, out, sizeof out), 0);
    CHECK_STR(out, "");
}

static void test_incomplete_tail(void)
{
    CHECK_INT(text_incomplete_tail("a\xe6\x97", 3), 2);
    CHECK_INT(text_incomplete_tail("a\xe6\x97\xa5", 4), 0);
    CHECK_INT(text_incomplete_tail("a\xf0", 2), 1);
    CHECK_INT(text_incomplete_tail("a\xff", 2), 0);
    CHECK_INT(text_incomplete_tail("", 0), 0);
}

static void test_dup(void)
{
    char *s = text_sanitize_dup("\xff\xff\x1b");
    CHECK_STR(s, "\\xff\\xff^[");
    free(s);
    s = text_sanitize_dup(NULL);
    CHECK_STR(s, "");
    free(s);
}

/* JSON stays JSON: what a terminal would obey becomes a \u escape, bytes
 * that are not UTF-8 become U+FFFD. */
static void test_json_safe(void)
{
    char *s = text_json_safe_dup("{\"name\":\"a\u202eb\x7f\xc2\x9b\xff\u65e5\"}\n");
    CHECK_STR(s, "{\"name\":\"a\\u202eb\\u007f\\u009b\ufffd\u65e5\"}\n");
    free(s);
}

/* Under a locale that is not UTF-8, non-ASCII comes out escaped: the
 * terminal could not show it. */
static void test_non_utf8_locale_escapes(void)
{
    setlocale(LC_CTYPE, "C");
    CHECK_STR(clean("\u00e9", 0), "\\u00e9");
    setlocale(LC_CTYPE, "C.UTF-8");
}

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("no C.UTF-8 locale\nRESULT 0 1\n");
        return 1;
    }
    RUN(test_terminal_escapes_shown_not_obeyed);
    RUN(test_bidi_controls_removed);
    RUN(test_invalid_utf8_escaped);
    RUN(test_widths_in_cells);
    RUN(test_fit_never_splits_a_character);
    RUN(test_shorten_in_the_middle);
    RUN(test_incomplete_tail);
    RUN(test_dup);
    RUN(test_json_safe);
    RUN(test_non_utf8_locale_escapes);
    TEST_MAIN_END();
}
