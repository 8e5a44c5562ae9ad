/* libFuzzer: `hfitop report` reads a file anyone may have written. The
 * line parser and the whole report over arbitrary bytes: no crash, no read
 * past the length, and nothing but escaped text in the Markdown. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/app/journal_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct journal_record r;
    char err[200];
    if (journal_parse_line((const char *)data, size, &r, err, sizeof err) == 0)
        journal_record_free(&r);
    char *md = journal_report_markdown((const char *)data, size, "fuzz");
    /* Escape (0x1b) never reaches the report: controls come out as ^[. */
    if (md && memchr(md, 0x1b, strlen(md)))
        abort();
    free(md);
    return 0;
}
