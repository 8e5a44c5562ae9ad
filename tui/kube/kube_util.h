/* Small helpers shared inside tui/kube; not part of the public API. */
#ifndef KUBE_UTIL_H
#define KUBE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A growable byte buffer, always NUL-terminated when `data` is set. */
struct kube_buf {
    char *data;
    size_t len, cap;
};

int kube_buf_append(struct kube_buf *b, const void *data, size_t len);
int kube_buf_printf(struct kube_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kube_buf_free(struct kube_buf *b);

char *kube_strdup(const char *s); /* NULL stays NULL */
char *kube_strndup(const char *s, size_t len);
/* Frees a credential after overwriting it, so it does not linger in freed memory. */
void kube_free_secret(char *s);

/* Standard base64 with padding; CR and LF are skipped, as Go's decoder
 * (which kubectl uses for the *-data fields) skips them. Returns a
 * NUL-terminated buffer, or NULL on invalid input. */
unsigned char *kube_base64_decode(const char *in, size_t in_len, size_t *out_len);

/* Standard base64 with padding; caller frees. */
char *kube_base64_encode(const unsigned char *in, size_t len);

/* `path` joined to `dir` unless absolute or empty. */
char *kube_path_resolve(const char *dir, const char *path);
/* The directory part of `path` ("." when it has none). */
char *kube_path_dir(const char *path);

/* An RFC 3339 date-time (section 5.6), the whole of buf[0..len):
 * "2024-01-02T03:04:05Z", a fraction of a second of any length, Z or a
 * +hh:mm / -hh:mm offset, T and Z in either case (the RFC's note). Every
 * field in range (the day within its month). What Kubernetes writes
 * (apimachinery meta/v1 time.go, Go's time.RFC3339) and hfitop's journal.
 * Never reads past len; false on anything else. */
bool kube_parse_rfc3339(const char *buf, size_t len, struct timespec *out);

/* Why `name` cannot be a namespace or object name in an API path, or NULL:
 * "may not be '.'" or "'..'" (the path would resolve to another resource),
 * "may not contain '/'" or "'%'", "may not be empty". The check of
 * apimachinery api/validation/path IsValidPathSegmentName, which client-go
 * runs on every name and namespace before sending (rest/request.go). */
const char *kube_name_problem(const char *name);
/* Whether the path (before any '?') has a "." or ".." segment, which RFC
 * 3986 dot-segment removal (5.2.4) resolves to another resource. */
bool kube_path_has_dot_segment(const char *path);

/* Caps on local files: a kubeconfig and what it names are small, and
 * --kubeconfig /dev/zero must not read until memory runs out. */
enum { KUBE_MAX_CONFIG_BYTES = 8 << 20, KUBE_MAX_TOKEN_BYTES = 1 << 20 };

/* The whole file, NUL-terminated, if it holds at most `max` bytes; -1 with
 * errno set otherwise (EFBIG when it is larger). */
int kube_read_file(const char *path, size_t max, char **data, size_t *len);

#endif
