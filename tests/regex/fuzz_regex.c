/* libFuzzer target for plugin/regex.c: the input up to the first NUL byte is
 * the pattern, the rest is the text. Any pattern must either compile or give
 * a well-formed message; any text must be searched without faults, and the
 * same search must give the same answer twice (the DFA keeps what the first
 * one built, and may drop it all when full). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t pattern_len = nul ? (size_t)(nul - data) : size;
    const char *text = (const char *)data + pattern_len + (nul != NULL);
    size_t text_len = size - pattern_len - (nul != NULL);

    struct hfi_regex *re = NULL;
    char why[128];
    memset(why, 'x', sizeof why);
    if (hfi_regex_compile((const char *)data, pattern_len, &re, why, sizeof why) != 0) {
        if (re || !memchr(why, 0, sizeof why) ||
            (strncmp(why, "invalid regex at offset ", 24) != 0 && strncmp(why, "compiles to ", 12) != 0))
            abort();
        return 0;
    }
    bool first = hfi_regex_search(re, text, text_len);
    if (hfi_regex_search(re, text, text_len) != first)
        abort();
    hfi_regex_search(re, (const char *)data, pattern_len);
    hfi_regex_free(re);
    return 0;
}
