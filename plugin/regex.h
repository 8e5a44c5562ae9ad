/* RE2-syntax regular expressions matched in linear time (a Pike VM: no
 * backtracking), small enough for the wasm plugin. Patterns come from
 * configuration and run on every request, hence the guarantees: compile
 * rejects what it does not support with a message, and matching never
 * allocates, never recurses on input, and is O(len(text) * len(program)). */
#ifndef HFI_REGEX_H
#define HFI_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct hfi_regex;

/* Compiles pattern[0..len). On success returns 0 and sets *out (free it with
 * hfi_regex_free). On failure returns -1, leaves *out NULL and writes a
 * NUL-terminated message naming the problem and its offset into err. */
int hfi_regex_compile(const char *pattern, size_t len, struct hfi_regex **out, char *err, size_t err_size);

/* Unanchored search, like RE2::PartialMatch: true when any substring of
 * text[0..len) matches. Anchor with ^ and $ for a full match. */
bool hfi_regex_search(const struct hfi_regex *re, const char *text, size_t len);

void hfi_regex_free(struct hfi_regex *re);

#endif
