/* RE2-syntax regular expressions matched in linear time (a lazy DFA over a
 * Thompson program: no backtracking), small enough for the wasm plugin.
 * Patterns come from configuration and run on every request, hence the
 * guarantees: compile rejects what it does not support with a message, and
 * refuses a program over HFI_REGEX_MAX_PROGRAM instructions (as Envoy refuses
 * an RE2 program over re2.max_program_size.error_level). Matching never
 * recurses on input and never allocates past HFI_REGEX_DFA_BYTES per regex:
 * each text byte costs a table step once the DFA has seen its state, and at
 * worst O(len(program)) when the state is new. */
#ifndef HFI_REGEX_H
#define HFI_REGEX_H

#include <stdbool.h>
#include <stddef.h>

/* Instructions of a compiled pattern, MATCH included: one per literal
 * rune, class, '.' or assertion, one per '|', '*', '+' and '?', and x{n,m}
 * holds m copies of x and m - n SPLITs. Top-level pieces that can match
 * the empty text (.* at either end, say) are dropped first: a search does
 * not need them. */
#define HFI_REGEX_MAX_PROGRAM 5000
/* Memory of a regex's DFA states, beyond which they are dropped and built
 * again (more if two of its largest states need more). */
#define HFI_REGEX_DFA_BYTES 32768

struct hfi_regex;

/* Compiles pattern[0..len). On success returns 0 and sets *out (free it with
 * hfi_regex_free). On failure returns -1, leaves *out NULL and writes a
 * NUL-terminated message into err: "invalid regex at offset N: <problem>",
 * or "compiles to N instructions, over the budget of 5000". */
int hfi_regex_compile(const char *pattern, size_t len, struct hfi_regex **out, char *err, size_t err_size);

/* Unanchored search, like RE2::PartialMatch: true when any substring of
 * text[0..len) matches. Anchor with ^ and $ for a full match. Text that is
 * not UTF-8 is read as RE2 reads it (see decode_utf8 in regex.c). Not
 * reentrant: the DFA is built as texts need it. */
bool hfi_regex_search(const struct hfi_regex *re, const char *text, size_t len);

void hfi_regex_free(struct hfi_regex *re);

#endif
