/* Temp directories and files for the tui/kube tests. */
#ifndef KUBE_TESTUTIL_H
#define KUBE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char testutil_root[256];

/* A fresh directory under $TMPDIR, removed by testutil_cleanup. */
static const char *testutil_tmpdir(void)
{
    if (!testutil_root[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(testutil_root, sizeof testutil_root, "%s/kubetest.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(testutil_root)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return testutil_root;
}

/* Writes `text` to `dir/name` (creating `dir/name`'s parent), returns the
 * full path in a static rotating buffer. */
__attribute__((unused)) static const char *testutil_write(const char *name, const char *text, int mode)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", testutil_tmpdir(), name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0)
        exit(2);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    return path;
}

static void testutil_cleanup(void)
{
    if (testutil_root[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", testutil_root);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup of %s failed\n", testutil_root);
    }
}

#endif
