/* Unit tests of plugin/regex.c: each syntax element, each error, the limits,
 * and hostile input. Expectations agree with RE2 (checked by hand against
 * RE2::PartialMatch; regex_vs_re2 covers the generated cases). */
#include "regex.h"

#include <stdint.h>
#include <stdlib.h>

#include "testlib.h"

struct match_case {
    const char *pattern, *text;
    int want;
};

/* Compiles pattern (NUL-terminated) or records a failure; NULL on failure. */
static struct hfi_regex *compile_ok(const char *pattern)
{
    struct hfi_regex *re = NULL;
    char why[160] = "";
    int rc = hfi_regex_compile(pattern, strlen(pattern), &re, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "  /%s/ did not compile: %s\n", pattern, why);
    CHECK_INT(rc, 0);
    return re;
}

static void check_cases(const struct match_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct hfi_regex *re = compile_ok(cases[i].pattern);
        if (!re)
            continue;
        int got = hfi_regex_search(re, cases[i].text, strlen(cases[i].text));
        if (got != cases[i].want)
            fprintf(stderr, "  /%s/ on \"%s\": got %d, want %d\n", cases[i].pattern, cases[i].text, got,
                    cases[i].want);
        CHECK_INT(got, cases[i].want);
        hfi_regex_free(re);
    }
}

#define CHECK_CASES(cases) check_cases(cases, sizeof cases / sizeof *cases)

static void test_literals_and_search(void)
{
    static const struct match_case cases[] = {
        {"abc", "xxabcxx", 1}, {"abc", "abd", 0}, {"", "", 1}, {"", "anything", 1},
        {"b", "abc", 1}, {"]}", "a]}", 1}, {"\xc3\xa9t\xc3\xa9", "un \xc3\xa9t\xc3\xa9", 1},
        {"\xe4\xb8\xad", "\xe4\xb8\xad\xe6\x96\x87", 1}, {"\xe4\xb8\xad", "\xe4\xb8", 0},
    };
    CHECK_CASES(cases);
}

static void test_dot(void)
{
    static const struct match_case cases[] = {
        {"a.c", "abc", 1}, {"a.c", "a\nc", 0}, {"(?s)a.c", "a\nc", 1}, {"(?s:.)", "\n", 1},
        {"^.$", "\xc3\xa9", 1}, {"^..$", "\xc3\xa9", 0}, {"^.$", "\xf0\x9f\x98\x80", 1},
        {"a.c", "a\xff" "c", 0}, {"ac", "\xff" "ac", 1},
    };
    CHECK_CASES(cases);
}

static void test_classes(void)
{
    static const struct match_case cases[] = {
        {"^[a-c]+$", "abcba", 1}, {"^[a-c]+$", "abd", 0}, {"[^a]", "a", 0}, {"[^a]", "b", 1},
        {"[^a]", "\n", 1}, {"[]a]", "]", 1}, {"[^]a]", "]", 0}, {"[a-]", "-", 1}, {"[-a]", "-", 1},
        {"[a-c-e]", "-", 1}, {"[\\d\\s]", " ", 1}, {"[\\d\\s]", "x", 0}, {"[\\]]", "]", 1},
        {"[\\\\]", "\\", 1}, {"[\\x41-\\x43]", "B", 1}, {"[\\n]", "\n", 1}, {"[.]", "a", 0},
        {"[[:alpha:]]", "q", 1}, {"[[:alpha:]]", "1", 0}, {"[[:^alpha:]]", "1", 1},
        {"[[:digit:][:upper:]]", "Q", 1}, {"^[[:space:]]+$", "\t\n\v\f\r ", 1}, {"[[:punct:]]", "@", 1},
        {"[[:xdigit:]]", "g", 0}, {"[[:word:]]", "_", 1}, {"[[:cntrl:]]", "\x7f", 1},
        {"[\xc3\xa9-\xc3\xab]", "\xc3\xaa", 1}, {"[\\x{263a}]", "\xe2\x98\xba", 1},
        {"[^\xc3\xa4]", "\xc3\xa4", 0}, {"^[^\xc3\xa4]$", "\xe2\x98\xba", 1}, {"[^\\D]", "7", 1},
        {"[^\\x00-\\x{10FFFF}]", "a", 0},
    };
    CHECK_CASES(cases);
}

static void test_perl_classes(void)
{
    static const struct match_case cases[] = {
        {"^\\d+$", "0123456789", 1}, {"\\d", "x", 0}, {"^\\w+$", "az_AZ09", 1}, {"\\w", "-", 0},
        {"\\w", "\xc3\xa9", 0}, {"^\\s+$", " \t\n\f\r", 1}, {"\\s", "\v", 0}, {"^\\D$", "x", 1},
        {"^\\W$", "\xc3\xa9", 1}, {"^\\S$", "x", 1}, {"\\S", " ", 0},
    };
    CHECK_CASES(cases);
}

static void test_escapes(void)
{
    static const struct match_case cases[] = {
        {"a\\.b", "a.b", 1}, {"a\\.b", "axb", 0}, {"\\\\", "\\", 1}, {"\\/api\\/v1", "/api/v1", 1},
        {"\\t\\n\\r\\f\\v\\a", "\t\n\r\f\v\a", 1}, {"\\x41", "A", 1}, {"\\x{263a}", "\xe2\x98\xba", 1},
        {"\\x{10FFFF}", "\xf4\x8f\xbf\xbf", 1}, {"\\0", "", 0}, {"\\012", "\n", 1}, {"\\101", "A", 1},
        {"\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\-\\_", "*+?()[]{}|^$-_", 1},
        {"\\Qa.b*\\E", "a.b*", 1}, {"\\Qa.b", "axb", 0}, {"\\Qab\\E+", "abbb", 1},
    };
    CHECK_CASES(cases);
}

static void test_anchors(void)
{
    static const struct match_case cases[] = {
        {"^abc", "abc", 1}, {"^abc", "xabc", 0}, {"abc$", "xabc", 1}, {"abc$", "abcx", 0},
        {"a$", "a\n", 0}, {"^b", "a\nb", 0}, {"(?m)^b", "a\nb", 1}, {"(?m)a$", "a\nb", 1},
        {"(?m)^$", "a\n\nb", 1}, {"\\Aab\\z", "ab", 1}, {"(?m)\\Ab", "a\nb", 0},
        {"(?m)a\\z", "a\nb", 0}, {"^$", "", 1}, {"x^", "x", 0}, {"$x", "x", 0}, {"^*a", "a", 1},
    };
    CHECK_CASES(cases);
}

static void test_word_boundaries(void)
{
    static const struct match_case cases[] = {
        {"\\bfoo\\b", "a foo b", 1}, {"\\bfoo\\b", "afoo", 0}, {"\\Boo\\B", "fool", 1}, {"\\Boo\\B", "oo", 0},
        {"\\Bo", "foo", 1}, {"\\b", "", 0}, {"\\B", "", 1}, {"^\\b", "-a", 0},
        /* RE2 tries every byte offset: \B holds inside the two-byte e-acute */
        {"a\\B", "a\xc3\xa9", 0}, {"^\\B$", "\xc3\xa9", 0}, {"\\B", "a\xc3\xa9" "b", 1},
        {"\\b\xc3\xa9", "a\xc3\xa9", 1},
    };
    CHECK_CASES(cases);
}

static void test_groups_and_alternation(void)
{
    static const struct match_case cases[] = {
        {"^(ab|cd)+$", "abcdab", 1}, {"^(ab|cd)+$", "abc", 0}, {"^(?:a|b|c)$", "c", 1},
        {"a|", "zzz", 1}, {"|a", "", 1}, {"^()$", "", 1}, {"^(|a)b$", "ab", 1},
        {"(?P<year>\\d{4})-(?P<m>\\d\\d)", "on 2024-05-01", 1}, {"(?<word>x)y", "xy", 1},
        {"^(a(b|c(d|e)))+$", "abaceacd", 1}, {"^(a(b|c(d|e)))+$", "acf", 0},
        {"^(?:x|y|z)*$", "", 1}, {"(a)|b", "b", 1},
    };
    CHECK_CASES(cases);
}

static void test_quantifiers(void)
{
    static const struct match_case cases[] = {
        {"^ab*c$", "ac", 1}, {"^ab*c$", "abbbc", 1}, {"^ab+c$", "ac", 0}, {"^ab?c$", "abbc", 0},
        {"^a{3}$", "aaa", 1}, {"^a{3}$", "aa", 0}, {"^a{3}$", "aaaa", 0}, {"^a{2,}$", "aaaaa", 1},
        {"^a{2,}$", "a", 0}, {"^a{2,3}$", "aaa", 1}, {"^a{2,3}$", "aaaa", 0}, {"^a{0}b$", "b", 1},
        {"^a{0,0}b$", "ab", 0}, {"^a*?b+?c??d{1,2}?$", "aabdd", 1}, {"a{,2}", "a{,2}", 1},
        {"x{", "x{", 1}, {"x{1", "x{1", 1}, {"a{01}", "a{01}", 1}, {"a{2,01}", "a{2,01}", 1}, {"a{2,", "a{2,", 1},
        {"a{1,2", "a{1,2", 1}, {"a{100000000000}", "a{100000000000}", 1}, {"^a{0,}$", "aa", 1}, {"{", "{", 1},
        {"^(?:ab){2}$", "abab", 1}, {"^(a{2}){3}$", "aaaaaa", 1}, {"^(a{2}){3}$", "aaaaa", 0},
        {"^a{1000}$", "a", 0}, {"(a*)*b", "aaab", 1}, {"(|a)*$", "aa", 1}, {"(a*)+$", "b", 1},
        {"^(?:a?){3}a{3}$", "aaa", 1}, {"a(?i)*", "aAa", 1},
    };
    CHECK_CASES(cases);
}

static void test_flags(void)
{
    static const struct match_case cases[] = {
        {"(?i)abc", "xABCx", 1}, {"(?i:a)b", "Ab", 1}, {"(?i:a)b", "AB", 0}, {"(?i)a(?-i)b", "Ab", 1},
        {"(?i)a(?-i)b", "AB", 0}, {"(a(?i)b)c", "aBc", 1}, {"(a(?i)b)c", "aBC", 0},
        {"(?i)k", "\xe2\x84\xaa", 1}, {"(?i)\xe2\x84\xaa", "k", 1}, {"(?i)s", "\xc5\xbf", 1},
        {"(?i)S", "\xc5\xbf", 1}, {"(?i)\xc5\xbf", "S", 1}, {"(?i)[j-l]", "\xe2\x84\xaa", 1},
        {"(?i)\xe2\x84\xaa", "\xc5\xbf", 0}, {"(?i)[^\n]", "\xc3\xa9", 1},
        {"(?i)[^k]", "K", 0}, {"(?i)[^k]", "\xe2\x84\xaa", 0}, {"(?i)[a-c]", "B", 1},
        {"(?i)\\W", "\xe2\x84\xaa", 0}, {"(?i)[[:upper:]]", "q", 1}, {"(?U)a+", "a", 1},
        {"(?sm)^a.b$", "x\na\nb", 1}, {"(?i-s:A.)", "a\n", 0}, {"(?)a", "a", 1},
    };
    CHECK_CASES(cases);
}

static void test_nul_and_invalid_text(void)
{
    struct hfi_regex *re = NULL;
    char why[100];
    CHECK_INT(hfi_regex_compile("a\0b", 3, &re, why, sizeof why), 0);
    if (re) {
        CHECK(hfi_regex_search(re, "xa\0b", 4));
        CHECK(!hfi_regex_search(re, "ab", 2));
        hfi_regex_free(re);
    }
    re = compile_ok("^[^a]+$");
    if (re) {
        /* Invalid UTF-8 bytes match no class, negated or not... */
        CHECK(!hfi_regex_search(re, "\xff", 1));
        CHECK(!hfi_regex_search(re, "\xc3", 1));
        CHECK(!hfi_regex_search(re, "\xc0\xaf", 2));
        CHECK(!hfi_regex_search(re, "\xe2\x82", 2));
        CHECK(!hfi_regex_search(re, "\xf5\x80\x80\x80", 4));
        CHECK(hfi_regex_search(re, "\xc3\xa9", 2));
        /* ...but as in RE2, a class holding all of U+0080..U+10FFFF takes
         * surrogates, overlong three- and four-byte forms and F4 forms past
         * U+10FFFF as one rune each. */
        CHECK(hfi_regex_search(re, "\xed\xa0\x80", 3));
        CHECK(hfi_regex_search(re, "\xe0\x80\xaf", 3));
        CHECK(hfi_regex_search(re, "\xf0\x80\x80\xaf", 4));
        CHECK(hfi_regex_search(re, "\xf4\x90\x80\x80", 4));
        hfi_regex_free(re);
    }
    re = compile_ok("^\xed\xa0\x80$"); /* RE2 takes a surrogate in a pattern, too */
    if (re) {
        CHECK(hfi_regex_search(re, "\xed\xa0\x80", 3));
        CHECK(!hfi_regex_search(re, "\xed\xa0\x81", 3));
        hfi_regex_free(re);
    }
    re = compile_ok("^[\\x{100}-\\x{10FFFF}]$"); /* not all of it: exact encodings only */
    if (re) {
        CHECK(hfi_regex_search(re, "\xed\xa0\x80", 3));
        CHECK(!hfi_regex_search(re, "\xe0\x80\xaf", 3));
        CHECK(!hfi_regex_search(re, "\xf4\x90\x80\x80", 4));
        hfi_regex_free(re);
    }
    re = compile_ok("");
    if (re) {
        CHECK(hfi_regex_search(re, NULL, 0));
        hfi_regex_free(re);
    }
}

struct error_case {
    const char *pattern, *want;
};

static void test_errors(void)
{
    static const struct error_case cases[] = {
        {"a\\1", "offset 1: backreferences"}, {"\\9", "offset 0: backreferences"},
        {"(?=a)", "offset 0: lookahead (?= is not supported"},
        {"x(?!a)", "offset 1: negative lookahead (?! is not supported"},
        {"(?<=a)b", "offset 0: lookbehind (?<= is not supported"},
        {"(?<!a)b", "offset 0: negative lookbehind (?<! is not supported"},
        {"a**", "offset 2: repeated repetition"}, {"a*+", "offset 2: repeated repetition"},
        {"a{2}{3}", "offset 4: repeated repetition"}, {"(ab", "offset 0: missing )"},
        {"a(b(c)", "offset 1: missing )"}, {"ab)", "offset 2: unexpected )"},
        {"[ab", "offset 0: missing ]"}, {"[]", "offset 0: missing ]"},
        {"x[z-a]", "offset 2: invalid character class range"},
        {"a{2,1}", "offset 1: invalid repeat count"}, {"a{1001}", "offset 1: invalid repeat count"},
        {"(a{100}){20}", "offset 8: nested repeat counts"}, {"\\pL", "offset 0: Unicode classes"},
        {"[\\p{Greek}]", "offset 1: Unicode classes"}, {"\\C", "offset 0: \\C"},
        {"*a", "offset 0: missing argument"}, {"a|*", "offset 2: missing argument"},
        {"(*)", "offset 1: missing argument"}, {"{1}", "offset 0: missing argument"},
        {"a\\", "offset 1: trailing backslash"}, {"\\q", "offset 0: invalid escape"},
        {"\\Z", "offset 0: invalid escape"}, {"[\\b]", "offset 1: invalid escape"},
        {"\\x{110000}", "offset 0: invalid \\x escape"}, {"\\x{}", "offset 0: invalid \\x escape"},
        {"\\x4", "offset 0: invalid \\x escape"}, {"a\\x{41", "offset 1: invalid \\x escape"},
        {"(?", "offset 0: invalid or unsupported"}, {"(?<", "offset 0: invalid or unsupported"}, {"[[:foo:]]", "offset 1: unknown POSIX class"},
        {"(?x)", "offset 0: invalid or unsupported (? group"}, {"(?-)", "offset 0: invalid or unsupported"},
        {"(?i", "offset 0: invalid or unsupported"}, {"(?P=n)", "offset 0: invalid or unsupported"},
        {"(?P<>a)", "offset 0: invalid group name"}, {"(?P<a-b>a)", "offset 0: invalid group name"},
        {"ab\xff", "offset 2: invalid UTF-8"}, {"[\xc3]", "offset 1: invalid UTF-8"},
        {"\xe0\x80\x80", "offset 0: invalid UTF-8"}, {"a\xf4\x90\x80\x80", "offset 1: invalid UTF-8"}, {"(?i)\xc3\xa9", "offset 4: (?i) folds ASCII letters only"},
        {"(?i:[a-\xc3\xa9])", "offset 4: (?i) folds ASCII letters only"},
        {"(?i)[\\x{17F}-\\x{212A}]", "offset 4: (?i) folds ASCII letters only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hfi_regex *re = (struct hfi_regex *)&re; /* must be reset to NULL */
        char why[160] = "";
        CHECK_INT(hfi_regex_compile(cases[i].pattern, strlen(cases[i].pattern), &re, why, sizeof why), -1);
        CHECK(re == NULL);
        CHECK_CONTAINS(why, "invalid regex at ");
        CHECK_CONTAINS(why, cases[i].want);
    }
}

/* The size budget: the message gives the whole size, however far past. */
static void test_program_budget(void)
{
    static const struct error_case cases[] = {
        {"(?:ab|cd|ef){1000}", "compiles to 10001 instructions, over the budget of 5000"},
        {"a{1000}b{1000}c{1000}d{1000}e{1000}", "compiles to 5001 instructions, over the budget of 5000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hfi_regex *re = NULL;
        char why[160] = "";
        CHECK_INT(hfi_regex_compile(cases[i].pattern, strlen(cases[i].pattern), &re, why, sizeof why), -1);
        CHECK_STR(why, cases[i].want);
    }
    /* 4999 instructions and MATCH: exactly the budget. */
    struct hfi_regex *re = compile_ok("a{1000}b{1000}c{1000}d{1000}e{999}");
    if (re) {
        CHECK(!hfi_regex_search(re, "abcde", 5));
        hfi_regex_free(re);
    }
}

/* A search does not need a top-level piece that matches the empty text, and
 * dropping it keeps the answers (and the program small). */
static void test_skippable_pieces(void)
{
    static const struct match_case cases[] = {
        {".{0,999}X", "aaaX", 1}, {".{0,999}X", "aaa", 0}, {"X.*", "aX", 1}, {"a*|b", "zzz", 1},
        {"(?:a|)b*c?", "", 1}, {".*^a", "ba", 0}, {".*^a", "ab", 1}, {"a*$", "b", 1}, {"\\b.*x", "x", 1},
        {"(?m).*^a", "b\na", 1}, {"(?:b|c)*\\bx", "cx", 0}, {"x|y*", "", 1}, {"(?:.*)(?:a+)", "b", 0},
    };
    CHECK_CASES(cases);
    char why[160];
    struct hfi_regex *re = NULL;
    CHECK_INT(hfi_regex_compile(".{0,1000}.{0,1000}.{0,1000}X.{0,1000}", 37, &re, why, sizeof why), 0);
    hfi_regex_free(re);
}

static void test_nesting_limit(void)
{
    char deep[601];
    memset(deep, '(', 300);
    memset(deep + 300, ')', 300);
    deep[600] = '\0';
    /* deep + 100 up to deep[500] holds 200 of each */
    struct hfi_regex *re = NULL;
    char why[160] = "";
    CHECK_INT(hfi_regex_compile(deep, 600, &re, why, sizeof why), -1);
    CHECK_CONTAINS(why, "nested too deeply");
    deep[500] = '\0';
    re = compile_ok(deep + 100); /* 200 deep: fine */
    if (re) {
        CHECK(hfi_regex_search(re, "", 0));
        hfi_regex_free(re);
    }
}

static void test_error_buffer(void)
{
    struct hfi_regex *re = NULL;
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK_INT(hfi_regex_compile("(", 1, &re, small, sizeof small), -1);
    CHECK_STR(small, "invalid");
    CHECK_INT(hfi_regex_compile("(", 1, &re, NULL, 0), -1);
    char one = 'x';
    CHECK_INT(hfi_regex_compile("(", 1, &re, &one, 1), -1);
    CHECK_INT(one, '\0');
}

static void test_linear_time(void)
{
    /* (a*)*b and (a|aa)+$ blow up a backtracker on a run of a's. */
    size_t n = 200000;
    char *text = malloc(n);
    if (!text)
        return;
    memset(text, 'a', n);
    struct hfi_regex *re = compile_ok("(a*)*b");
    if (re) {
        CHECK(!hfi_regex_search(re, text, n));
        hfi_regex_free(re);
    }
    re = compile_ok("^(a|aa)+c$");
    if (re) {
        CHECK(!hfi_regex_search(re, text, n));
        hfi_regex_free(re);
    }
    re = compile_ok("a{1000}$"); /* a thousand threads per byte: a shorter text */
    if (re) {
        CHECK(hfi_regex_search(re, text, 3000));
        hfi_regex_free(re);
    }
    free(text);
}

/* Patterns with more DFA states than fit (2^10 for the tenth rune from the
 * end, or states of thousands of instructions): the states are dropped and
 * rebuilt many times over a text, and the answers stay right. */
static void test_dfa_cache_resets(void)
{
    char text[3000];
    uint32_t seed = 12345;
    struct hfi_regex *re = compile_ok("a[ab]{9}$");
    for (size_t trial = 0; re && trial < 40; trial++) {
        size_t n = 1000 + trial;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            text[k] = "ab"[seed >> 16 & 1];
        }
        CHECK_INT(hfi_regex_search(re, text, n), text[n - 10] == 'a');
    }
    hfi_regex_free(re);
    re = compile_ok("a.{0,999}X|b.{0,999}Y");
    if (re) {
        for (size_t k = 0; k < sizeof text; k++) {
            seed = seed * 1103515245u + 12345u;
            text[k] = "ab"[seed >> 16 & 1];
        }
        CHECK(!hfi_regex_search(re, text, sizeof text));
        text[sizeof text - 1] = 'X';
        CHECK(hfi_regex_search(re, text, sizeof text));
        text[sizeof text - 1] = 'Z';
        text[1500] = 'Y';
        CHECK(hfi_regex_search(re, text, sizeof text));
        hfi_regex_free(re);
    }
}

static void test_reuse(void)
{
    struct hfi_regex *re = compile_ok("^/api/v[0-9]+/(users|orders)/\\d+$");
    if (!re)
        return;
    for (int i = 0; i < 3; i++) {
        CHECK(hfi_regex_search(re, "/api/v2/users/42", 16));
        CHECK(!hfi_regex_search(re, "/api/v2/users/x", 15));
        CHECK(!hfi_regex_search(re, "", 0));
    }
    hfi_regex_free(re);
    hfi_regex_free(NULL);
}

int main(void)
{
    RUN(test_literals_and_search);
    RUN(test_dot);
    RUN(test_classes);
    RUN(test_perl_classes);
    RUN(test_escapes);
    RUN(test_anchors);
    RUN(test_word_boundaries);
    RUN(test_groups_and_alternation);
    RUN(test_quantifiers);
    RUN(test_flags);
    RUN(test_nul_and_invalid_text);
    RUN(test_errors);
    RUN(test_program_budget);
    RUN(test_skippable_pieces);
    RUN(test_nesting_limit);
    RUN(test_error_buffer);
    RUN(test_linear_time);
    RUN(test_dfa_cache_resets);
    RUN(test_reuse);
    TEST_MAIN_END();
}
