// Differential test of plugin/regex.c against RE2 itself: random patterns
// from a grammar of the syntax we support (plus deliberate errors and byte
// soup over the metacharacters), random texts, some of them not UTF-8, a
// fixed seed. For every pattern both must agree on compiling, and on
// RE2::PartialMatch for every text. Allowed differences: we reject what
// regex.h documents as unsupported (\C, \p, (?i) on non-ASCII runes) and
// programs over our size limits. Then (?i) rune by rune over all of
// Unicode, and invalid UTF-8 byte by byte.
#include <re2/re2.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "regex.h"
}

namespace {

uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

uint64_t next_random() {
    // splitmix64: deterministic everywhere, unlike std distributions.
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int pick(int n) { return static_cast<int>(next_random() % static_cast<uint64_t>(n)); }

template <size_t N>
const char *pick_from(const char *const (&items)[N]) {
    return items[pick(static_cast<int>(N))];
}

// Runes whose whole case orbit regex.c knows (RE2's tables are complete), so
// (?i) must agree on them: Latin-1, the KELVIN / ANGSTROM / OHM signs, long s,
// Greek, Cyrillic, and runes without case.
const char *const kTextRunes[] = {
    "a", "b", "c", "A", "B", "C", "k", "K", "s", "S", "x", "z", "0", "1", "9", "_", " ",
    "\n", "\t", "-", ".", "/", "\\", "[", "]", "{", "}", "(", ")", "*", "+", "?", "|", "^",
    "$", ":", "=", "<", ">", "\x01", "\x7f", "\xc3\xa9", "\xc3\x89", "\xc3\x9f", "\xe1\xba\x9e",
    "\xc3\xbf", "\xc5\xb8", "\xc2\xb5", "\xce\xbc", "\xce\x9c", "\xe2\x84\xaa", "\xc5\xbf",
    "\xc3\x85", "\xc3\xa5", "\xe2\x84\xab", "\xce\xb1", "\xce\x91", "\xcf\x83", "\xcf\x82",
    "\xce\xa3", "\xcf\x89", "\xce\xa9", "\xe2\x84\xa6", "\xce\xb8", "\xce\x98", "\xcf\x91",
    "\xd0\xb6", "\xd0\x96", "\xd1\x91", "\xd0\x81", "\xd1\x82", "\xd0\xa2", "\xe1\xb2\x84",
    "\xe4\xb8\xad", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3\xb7", "\xc3\x97",
};

// Byte sequences that are not UTF-8, or that RE2 reads only loosely: lone
// and truncated sequences, C0/C1 and F5-FF leads, overlong forms, surrogates,
// values past U+10FFFF.
const char *const kInvalidText[] = {
    "\xff", "\xc3", "\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xe2\x82", "\xf0\x9f\x98",
    "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80",
    "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf", "\xf5\x80\x80\x80",
    "\xf8\x88\x80\x80\x80", "\xc3\xc3\xa9", "\xe2\x28\xa1",
};

const char *const kLiterals[] = {
    "a", "b", "c", "A", "B", "k", "K", "s", "x", "z", "0", "1", "_", " ", "-", ",", ":", "=",
    "<", ">", "]", "}", "/", "\xc3\xa9", "\xc3\x89", "\xc3\x9f", "\xe2\x84\xaa", "\xce\xb1",
    "\xcf\x83", "\xce\xa3", "\xd0\xb6", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xc2\xb5",
    "\xed\xa0\x80",
};

const char *const kEscapes[] = {
    "\\.", "\\\\", "\\/", "\\t", "\\n", "\\r", "\\f", "\\v", "\\a", "\\x41", "\\x61", "\\x{263a}",
    "\\x{6B}", "\\x{212a}", "\\x{3a3}", "\\x{0}", "\\x0a", "\\012", "\\0", "\\101", "\\*", "\\+",
    "\\?", "\\(", "\\)", "\\[", "\\]", "\\{", "\\}", "\\|", "\\^", "\\$", "\\-", "\\_", "\\ ",
    "\\#", "\\&", "\\~", "\\'", "\\\"", "\\%", "\\@", "\\!", "\\<", "\\>", "\\,", "\\:",
};

const char *const kAssertions[] = {"^", "$", "\\A", "\\z", "\\b", "\\B"};
const char *const kPerl[] = {"\\d", "\\D", "\\s", "\\S", "\\w", "\\W"};
const char *const kPosix[] = {
    "[:alnum:]", "[:alpha:]", "[:ascii:]", "[:blank:]", "[:cntrl:]", "[:digit:]",
    "[:graph:]", "[:lower:]", "[:print:]", "[:punct:]", "[:space:]", "[:upper:]",
    "[:word:]", "[:xdigit:]", "[:^alpha:]", "[:^space:]", "[:^word:]", "[:^upper:]",
};
const char *const kClassChars[] = {
    "a", "b", "c", "k", "s", "z", "A", "K", "Z", "0", "9", "_", " ", "-", ".", "^", "[", ":",
    "\\]", "\\-", "\\\\", "\\n", "\\x41", "\\x{3c3}", "\\t", "\xc3\xa9", "\xce\xb1", "\xd0\xb6",
    "\xe2\x84\xaa", "\xc5\xbf", "\xe4\xb8\xad",
};
const char *const kFlags[] = {"i", "s", "m", "U", "is", "im", "-i", "i-s", "ms-i", "-m", "sU"};
const char *const kInvalid[] = {
    "(?=a)", "(?!a)", "(?<=a)", "(?<!a)", "\\1", "\\2", "\\8", "a**", "a*+", "a++", "a?*",
    "a{2}{3}", "(", ")", "(a", "a)", "[a", "[z-a]", "a{2,1}", "a{1001}", "[[:foo:]]", "\\",
    "\\Z", "\\q", "\\x", "\\x4", "\\x{}", "\\x{110000}", "*", "+a", "?", "{1}", "(?P=n)",
    "(?#c)", "(?i", "(?-)", "(?i-)", "(?x)", "(?P<>a)", "(?P<a-b>a)", "[\\b]", "[a-\\d]",
    "\\pL", "\\p{Greek}", "\\PL", "\\C", "(?>a)",
};

std::string gen_regex(int depth);

std::string gen_class() {
    std::string s = "[";
    if (pick(3) == 0) s += "^";
    int n = 1 + pick(3);
    for (int i = 0; i < n; i++) {
        switch (pick(6)) {
        case 0: s += pick_from(kPerl); break;
        case 1: s += "["; s += pick_from(kPosix); s += "]"; break;
        case 2: s += pick_from(kClassChars); s += "-"; s += pick_from(kClassChars); break;
        default: s += pick_from(kClassChars); break;
        }
    }
    return s + "]";
}

std::string gen_atom(int depth) {
    int n_choices = depth > 0 ? 14 : 9;
    switch (pick(n_choices)) {
    case 0: case 1: case 2: return pick_from(kLiterals);
    case 3: return pick_from(kEscapes);
    case 4: return pick(2) ? "." : pick_from(kAssertions);
    case 5: return gen_class();
    case 6: return pick_from(kPerl);
    case 7: return pick(4) ? pick_from(kAssertions) : "\\Qa.b\\E";
    case 8: return std::string("(?") + pick_from(kFlags) + ")";
    case 9: case 10: return "(" + gen_regex(depth - 1) + ")";
    case 11: return "(?:" + gen_regex(depth - 1) + ")";
    case 12: return "(?" + std::string(pick_from(kFlags)) + ":" + gen_regex(depth - 1) + ")";
    default: {
        static int name_counter;  // unique: newer RE2 releases reject duplicate names
        return "(?P<n" + std::to_string(name_counter++) + ">" + gen_regex(depth - 1) + ")";
    }
    }
}

std::string gen_quantifier() {
    static const char *const simple[] = {"*", "+", "?", "{0}", "{1}", "{2}", "{0,1}", "{1,3}",
                                         "{2,}", "{0,}", "{3,5}", "{,2}", "{x}", "{01}"};
    std::string q = pick_from(simple);
    if (pick(4) == 0) q += "?";
    return q;
}

std::string gen_regex(int depth) {
    std::string s;
    int alternatives = pick(4) == 0 ? 2 + pick(2) : 1;
    for (int a = 0; a < alternatives; a++) {
        if (a) s += "|";
        int pieces = pick(5);
        for (int i = 0; i < pieces; i++) {
            s += gen_atom(depth);
            if (pick(3) == 0) s += gen_quantifier();
        }
    }
    return s;
}

std::string gen_pattern() {
    int kind = pick(20);
    if (kind == 0) {
        // Byte soup over metacharacters: stresses what is and is not accepted.
        static const char soup[] = "ab()[]{}|*+?.^$\\-,:=!<>P0129dswDSWbBAzQExim";
        std::string s;
        int n = 1 + pick(10);
        for (int i = 0; i < n; i++) s += soup[pick(static_cast<int>(sizeof soup - 1))];
        return s;
    }
    std::string s = gen_regex(3);
    if (kind == 1) {
        size_t at = static_cast<size_t>(pick(static_cast<int>(s.size() + 1)));
        s.insert(at, pick_from(kInvalid));
    }
    return s;
}

std::string gen_text() {
    std::string s;
    int n = pick(12);
    bool invalid = pick(3) == 0;
    for (int i = 0; i < n; i++) s += invalid && pick(3) == 0 ? pick_from(kInvalidText) : pick_from(kTextRunes);
    return s;
}

std::string printable(const std::string &s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c < 0x20 || c == 0x7f) { char buf[8]; snprintf(buf, sizeof buf, "\\x%02x", c); out += buf; }
        else out += static_cast<char>(c);
    }
    return out;
}

// Rejections regex.h documents: \C and \p, and our resource limits.
bool allowed_rejection(const char *why) {
    return strstr(why, "\\C") || strstr(why, "\\p") || strstr(why, "too large") ||
           strstr(why, "too deeply") || strstr(why, "over the budget") || strstr(why, "(?i) folds ASCII letters only");
}

std::string utf8(uint32_t r) {
    std::string s;
    if (r < 0x80) {
        s += static_cast<char>(r);
    } else if (r < 0x800) {
        s += static_cast<char>(0xC0 | r >> 6);
        s += static_cast<char>(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
        s += static_cast<char>(0xE0 | r >> 12);
        s += static_cast<char>(0x80 | (r >> 6 & 0x3F));
        s += static_cast<char>(0x80 | (r & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | r >> 18);
        s += static_cast<char>(0x80 | (r >> 12 & 0x3F));
        s += static_cast<char>(0x80 | (r >> 6 & 0x3F));
        s += static_cast<char>(0x80 | (r & 0x3F));
    }
    return s;
}

// (?i) against RE2 on every rune U+0000..U+10FFFF (surrogates encoded as RE2
// reads them): the patterns we accept must agree everywhere, and every
// non-ASCII rune outside the ASCII orbits must be refused under (?i), not
// folded differently. Returns the number of disagreements.
int check_case_folding() {
    static const char *const patterns[] = {
        "^(?i)[a-z]$", "^(?i)[^k]$", "^(?i)\\W$", "^(?i)[\\x{17F}\\x{212A}]$", "^(?i)[[:upper:]]$",
        "^(?i)[^[:lower:]s]$", "^(?i)\\x{212a}$",
    };
    int failed = 0;
    for (const char *pattern : patterns) {
        RE2 re2(pattern);
        struct hfi_regex *ours = nullptr;
        char why[200];
        if (!re2.ok() || hfi_regex_compile(pattern, strlen(pattern), &ours, why, sizeof why) != 0) {
            printf("FOLD /%s/ did not compile\n", pattern);
            failed++;
            continue;
        }
        for (uint32_t r = 0; r <= 0x10FFFF; r++) {
            std::string text = utf8(r);
            bool want = RE2::PartialMatch(text, re2);
            if (hfi_regex_search(ours, text.data(), text.size()) != want && failed++ < 20)
                printf("FOLD MISMATCH /%s/ on U+%04X: re2 %d\n", pattern, r, want);
        }
        hfi_regex_free(ours);
    }
    for (uint32_t r = 0x80; r <= 0x10FFFF; r++) {
        if (r >= 0xD800 && r <= 0xDFFF) continue;  // not a rune a pattern may hold
        std::string pattern = "(?i)" + utf8(r);
        struct hfi_regex *ours = nullptr;
        char why[200];
        bool compiled = hfi_regex_compile(pattern.data(), pattern.size(), &ours, why, sizeof why) == 0;
        hfi_regex_free(ours);
        if (compiled != (r == 0x17F || r == 0x212A) && failed++ < 20)
            printf("FOLD U+%04X: (?i) %s\n", r, compiled ? "compiled, but only ASCII orbits are known" : why);
    }
    return failed;
}

// Every text of one to three pieces from kInvalidText and a few runes
// against patterns built of classes that do or do not hold all of
// U+0080..U+10FFFF, and of literals around them.
int check_invalid_utf8() {
    static const char *const patterns[] = {
        "^.$", "^..$", "^.+$", "^[^a]$", "^\\D$", "^\\W+$", "^(?s:.)$", "^[\\x{80}-\\x{10FFFF}]$",
        "^[\\x{100}-\\x{10FFFF}]$", "^[\\x{800}-\\x{FFFF}]$", "^[^\\x{D800}]$", "a.b", "\\xff",
        "\\x{FFFD}", "\\Ba", "a\\b", "^\\B", "\\B$", "[^\\x00-\\x7f]", "\\x{e9}", "(?i)k", ".a",
    };
    const char *const runes[] = {"a", "b", " ", "\xc3\xa9", "\xe2\x84\xaa", "\xf0\x9f\x98\x80"};
    std::vector<std::string> pieces(std::begin(kInvalidText), std::end(kInvalidText));
    pieces.insert(pieces.end(), std::begin(runes), std::end(runes));
    int failed = 0;
    for (const char *pattern : patterns) {
        RE2 re2(pattern);
        struct hfi_regex *ours = nullptr;
        char why[200];
        if (!re2.ok() || hfi_regex_compile(pattern, strlen(pattern), &ours, why, sizeof why) != 0) {
            printf("UTF-8 /%s/ did not compile\n", pattern);
            failed++;
            continue;
        }
        for (const std::string &a : pieces)
            for (const std::string &b : pieces)
                for (size_t k = 0; k <= pieces.size(); k++) {
                    std::string text = a + b + (k < pieces.size() ? pieces[k] : "");
                    bool want = RE2::PartialMatch(text, re2);
                    if (hfi_regex_search(ours, text.data(), text.size()) != want && failed++ < 20)
                        printf("UTF-8 MISMATCH /%s/ on \"%s\": re2 %d\n", pattern, printable(text).c_str(), want);
                }
        hfi_regex_free(ours);
    }
    return failed;
}

}  // namespace

int main(int argc, char **argv) {
    // Optional: a pattern count and a seed, to search wider than the suite does.
    int patterns = argc > 1 ? atoi(argv[1]) : 5000;
    if (argc > 2) rng_state = strtoull(argv[2], nullptr, 0);
    const int texts_per_pattern = 5;
    int passed = 0, failed = 0, both_ok = 0, both_rejected = 0, allowed = 0, matches = 0;
    RE2::Options options;
    options.set_log_errors(false);
    for (int i = 0; i < patterns; i++) {
        std::string pattern = gen_pattern();
        RE2 re2(re2::StringPiece(pattern.data(), pattern.size()), options);
        struct hfi_regex *ours = nullptr;
        char why[200];
        bool ours_ok = hfi_regex_compile(pattern.data(), pattern.size(), &ours, why, sizeof why) == 0;
        if (ours_ok != re2.ok()) {
            if (!ours_ok && allowed_rejection(why)) {
                allowed++;
                passed++;
            } else {
                failed++;
                printf("COMPILE MISMATCH /%s/: re2 %s, ours %s\n", printable(pattern).c_str(),
                       re2.ok() ? "ok" : re2.error().c_str(), ours_ok ? "ok" : why);
            }
            hfi_regex_free(ours);
            continue;
        }
        if (!ours_ok) {
            both_rejected++;
            passed++;
            continue;
        }
        both_ok++;
        for (int k = 0; k < texts_per_pattern; k++) {
            std::string text = gen_text();
            bool want = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re2);
            bool got = hfi_regex_search(ours, text.data(), text.size());
            matches += want;
            if (want == got) {
                passed++;
            } else {
                failed++;
                printf("MATCH MISMATCH /%s/ on \"%s\": re2 %d, ours %d\n", printable(pattern).c_str(),
                       printable(text).c_str(), want, got);
            }
        }
        hfi_regex_free(ours);
    }
    printf("%d patterns: %d compiled by both (%d texts matched), %d rejected by both, %d rejected only by us "
           "(documented)\n",
           patterns, both_ok, matches, both_rejected, allowed);
    /* One test for the run: thousands of agreeing checks are one finding,
     * not thousands of passed tests. */
    printf("%d of %d checks agree with RE2\n", passed, passed + failed);
    int fold_failed = check_case_folding(), utf8_failed = check_invalid_utf8();
    printf("(?i) over all of Unicode: %d disagreements; invalid UTF-8: %d\n", fold_failed, utf8_failed);
    failed += fold_failed + utf8_failed;
    printf("RESULT %d %d\n", failed ? 0 : 1, failed ? 1 : 0);
    return failed ? 1 : 0;
}
