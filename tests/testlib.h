/* A minimal test harness shared by every C test program.
 *
 * A test file defines `static void test_x(void)` functions and lists them in
 * main() with RUN(test_x). CHECK* record a failure and go on, so one run shows
 * every broken expectation. TEST_MAIN_END prints `RESULT <passed> <failed>`,
 * the line tests/run-tests.sh adds up, and exits non-zero on any failure. */
#ifndef HFI_TESTLIB_H
#define HFI_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int testlib_passed, testlib_failed, testlib_current_failed;
static const char *testlib_current;

#define CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n", testlib_current, __FILE__, __LINE__, #cond); \
            testlib_current_failed = 1; \
        } \
    } while (0)

#define CHECK_INT(got, want) \
    do { \
        long long got_ = (long long)(got), want_ = (long long)(want); \
        if (got_ != want_) { \
            fprintf(stderr, "FAIL %s (%s:%d): %s == %lld, want %lld\n", testlib_current, __FILE__, \
                    __LINE__, #got, got_, want_); \
            testlib_current_failed = 1; \
        } \
    } while (0)

#define CHECK_STR(got, want) \
    do { \
        const char *got_ = (got), *want_ = (want); \
        if (!got_ || strcmp(got_, want_) != 0) { \
            fprintf(stderr, "FAIL %s (%s:%d): %s == \"%s\", want \"%s\"\n", testlib_current, \
                    __FILE__, __LINE__, #got, got_ ? got_ : "(null)", want_); \
            testlib_current_failed = 1; \
        } \
    } while (0)

#define CHECK_CONTAINS(haystack, needle) \
    do { \
        const char *h_ = (haystack), *n_ = (needle); \
        if (!h_ || !strstr(h_, n_)) { \
            fprintf(stderr, "FAIL %s (%s:%d): \"%s\" does not contain \"%s\"\n", testlib_current, \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
            testlib_current_failed = 1; \
        } \
    } while (0)

#define RUN(fn) \
    do { \
        testlib_current = #fn; \
        testlib_current_failed = 0; \
        fn(); \
        if (testlib_current_failed) \
            testlib_failed++; \
        else \
            testlib_passed++; \
    } while (0)

#define TEST_MAIN_END() \
    do { \
        printf("RESULT %d %d\n", testlib_passed, testlib_failed); \
        return testlib_failed ? 1 : 0; \
    } while (0)

#endif
