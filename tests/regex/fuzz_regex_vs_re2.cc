// libFuzzer target: plugin/regex.c against RE2 itself. The input up to the
// first NUL byte is the pattern, the rest the text. When both compile the
// pattern, they must agree on RE2::PartialMatch for the text, and for the
// pattern's own bytes as a text; when only one compiles it, the other's
// refusal must be one regex.h documents (unsupported syntax, (?i) beyond
// ASCII, our size budget) or RE2's own size limit.
#include <re2/re2.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" {
#include "regex.h"
}

namespace {

bool documented_refusal(const char *why) {
    return strstr(why, "\\C") || strstr(why, "\\p") || strstr(why, "too large") || strstr(why, "too deeply") ||
           strstr(why, "over the budget") || strstr(why, "(?i) folds ASCII letters only");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = static_cast<const uint8_t *>(memchr(data, 0, size));
    size_t pattern_len = nul ? static_cast<size_t>(nul - data) : size;
    const char *pattern = reinterpret_cast<const char *>(data);
    const char *text = pattern + pattern_len + (nul != nullptr);
    size_t text_len = size - pattern_len - (nul != nullptr);

    RE2::Options options;
    options.set_log_errors(false);
    RE2 re2(re2::StringPiece(pattern, pattern_len), options);
    struct hfi_regex *ours = nullptr;
    char why[200];
    bool ours_ok = hfi_regex_compile(pattern, pattern_len, &ours, why, sizeof why) == 0;
    if (!re2.ok()) {
        // RE2 releases before 2023 (Debian 12's) refuse the (?<name>re) that
        // newer ones, and so Envoy's, take; the plugin takes it too.
        bool newer_syntax = re2.error_code() == RE2::ErrorBadPerlOp && re2.error_arg() == "(?<";
        if (ours_ok && re2.error_code() != RE2::ErrorPatternTooLarge && !newer_syntax) abort();
        hfi_regex_free(ours);
        return 0;
    }
    if (!ours_ok) {
        if (!documented_refusal(why)) abort();
        return 0;
    }
    if (hfi_regex_search(ours, text, text_len) != RE2::PartialMatch(re2::StringPiece(text, text_len), re2)) abort();
    if (hfi_regex_search(ours, pattern, pattern_len) != RE2::PartialMatch(re2::StringPiece(pattern, pattern_len), re2))
        abort();
    hfi_regex_free(ours);
    return 0;
}
