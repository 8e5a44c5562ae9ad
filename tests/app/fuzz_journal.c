/* libFuzzer: `hfitop report` reads a file anyone may have written. The
 * line parser and the whole report over arbitrary bytes: no crash, no read
 * past the length, and nothing but escaped text in the Markdown. The RFC
 * 3339 reader its times go through (shared with tui/kube, which reads the
 * API server's) over the same bytes: a time it accepts has a fraction in
 * range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/app/journal_report.h"
#include "../../tui/kube/kube_util.h"

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
    struct timespec t;
    if (kube_parse_rfc3339((const char *)data, size, &t) && (t.tv_nsec < 0 || t.tv_nsec > 999999999))
        abort();
    return 0;
}
