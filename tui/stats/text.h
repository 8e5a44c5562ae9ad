/* Text from the cluster made safe to show on a terminal, and measured in
 * terminal cells. Every string a server chose (pod and deployment names,
 * phases, error bodies) goes through here before it is printed or drawn,
 * headless and console alike: "show what the world sends, never obey it",
 * as `cat -v` does.
 *
 * What the output holds, for any input bytes:
 *   - C0 controls and DEL in caret notation: ESC is "^[", newline "^J",
 *     DEL "^?" (newline and tab pass through with TEXT_KEEP_LINES);
 *   - C1 controls (U+0080..U+009F), U+2028/U+2029 and characters the
 *     locale cannot show (wcwidth < 0) as "\u009b" / "\U0001f600";
 *   - bytes that are not UTF-8 as "\xff";
 *   - the bidirectional controls U+202A..U+202E, U+2066..U+2069, U+200E,
 *     U+200F and U+061C removed: they reorder what surrounds them;
 *   - everything else as it came.
 * Widths are terminal cells by wcwidth(3) in the LC_CTYPE locale (under a
 * locale that is not UTF-8 every non-ASCII character comes out escaped).
 * Nothing is ever cut inside a character or inside an escape. Pure
 * functions; no I/O. */
#ifndef HFI_TEXT_H
#define HFI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* TEXT_KEEP_LINES: newline and tab pass through (whole reports of our own
 * whose lines hold cluster text); otherwise they show as ^J and ^I. */
enum { TEXT_KEEP_LINES = 1 };

/* in[0..len) made safe into out (always NUL-terminated when size > 0);
 * what does not fit is left out whole. Returns the bytes written. */
size_t text_sanitize(const char *in, size_t len, unsigned flags, char *out, size_t size);

/* The same into a new string (malloc; NULL when out of memory). A NULL
 * string gives "". */
char *text_sanitize_dup(const char *s);

/* The cells s takes once sanitized. */
int text_width(const char *s);

/* The longest sanitized prefix of s that takes at most `cells` cells
 * (combining marks stay with their base). Returns the cells used. */
int text_fit(const char *s, int cells, char *out, size_t size);

/* As text_fit, then spaces up to exactly `cells` cells: a table cell. */
void text_pad(const char *s, int cells, char *out, size_t size);

/* s sanitized; when wider than `cells`, both ends kept around an ellipsis
 * ("…" in UTF-8, "~" otherwise), the end getting the extra cell: pod
 * names differ in their suffix. Returns the cells used. */
int text_shorten_middle(const char *s, int cells, bool utf8, char *out, size_t size);

/* JSON text (our own, from cJSON) made safe for a terminal while staying
 * the same JSON: DEL, C1 controls, U+2028/U+2029 and the bidi controls
 * become \u escapes, and bytes that are not UTF-8 become U+FFFD, as Go's
 * encoding/json writes them. Everything else passes unchanged (cJSON
 * already escapes C0 controls inside strings). New string (malloc), NULL
 * when out of memory. */
char *text_json_safe_dup(const char *json);

/* How many bytes at the end of in[0..len) are the start of a UTF-8
 * character that has not ended yet (0..3): a stream writer keeps them for
 * the next write rather than escaping half a character. */
size_t text_incomplete_tail(const char *in, size_t len);

#endif
