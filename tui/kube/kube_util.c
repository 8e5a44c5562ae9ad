#include "kube_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kube_buf_append(struct kube_buf *b, const void *data, size_t len)
{
    if (len > SIZE_MAX / 2 - b->len)
        return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int kube_buf_printf(struct kube_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    size_t need = b->len + (size_t)n + 1;
    if (need > b->cap) {
        char *p = realloc(b->data, need);
        if (!p)
            return -1;
        b->data = p;
        b->cap = need;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void kube_buf_free(struct kube_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *kube_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *kube_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void kube_free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

unsigned char *kube_base64_decode(const char *in, size_t in_len, size_t *out_len)
{
    unsigned char *out = malloc(in_len / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t n = 0, quad = 0, pad = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
            acc <<= 6;
        } else {
            int v = base64_value(c);
            if (v < 0 || pad)
                goto bad;
            acc = acc << 6 | (uint32_t)v;
        }
        if (++quad == 4) {
            if (pad > 2)
                goto bad;
            out[n++] = (unsigned char)(acc >> 16);
            if (pad < 2)
                out[n++] = (unsigned char)(acc >> 8);
            if (pad < 1)
                out[n++] = (unsigned char)acc;
            quad = 0;
            acc = 0;
            if (pad)
                pad = 3; /* anything after padding is invalid */
        }
    }
    if (quad != 0)
        goto bad;
    out[n] = '\0';
    *out_len = n;
    return out;
bad:
    free(out);
    return NULL;
}

char *kube_base64_encode(const unsigned char *in, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[n++] = alphabet[v >> 18 & 63];
        out[n++] = alphabet[v >> 12 & 63];
        out[n++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[n] = '\0';
    return out;
}

char *kube_path_resolve(const char *dir, const char *path)
{
    if (!path)
        return NULL;
    if (!*path || path[0] == '/' || !dir || !*dir)
        return strdup(path);
    size_t dl = strlen(dir), pl = strlen(path);
    char *p = malloc(dl + pl + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, path, pl + 1);
    return p;
}

char *kube_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return kube_strndup(path, (size_t)(slash - path));
}

/* n decimal digits at buf[*pos], all within len. */
static bool digits(const char *buf, size_t len, size_t *pos, int n, int *out)
{
    if (len - *pos < (size_t)n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = buf[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)n;
    *out = v;
    return true;
}

static bool next_is(const char *buf, size_t len, size_t *pos, char a, char b)
{
    if (*pos >= len || (buf[*pos] != a && buf[*pos] != b))
        return false;
    (*pos)++;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool kube_parse_rfc3339(const char *buf, size_t len, struct timespec *out)
{
    size_t pos = 0;
    int year, month, day, hour, minute, second;
    if (!buf || !digits(buf, len, &pos, 4, &year) || !next_is(buf, len, &pos, '-', '-') ||
        !digits(buf, len, &pos, 2, &month) || !next_is(buf, len, &pos, '-', '-') ||
        !digits(buf, len, &pos, 2, &day) || !next_is(buf, len, &pos, 'T', 't') ||
        !digits(buf, len, &pos, 2, &hour) || !next_is(buf, len, &pos, ':', ':') ||
        !digits(buf, len, &pos, 2, &minute) || !next_is(buf, len, &pos, ':', ':') ||
        !digits(buf, len, &pos, 2, &second))
        return false;
    /* Second 60 is a leap second (RFC 3339 section 5.7); it reads as the
     * next minute's first. */
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return false;
    long nanoseconds = 0;
    if (next_is(buf, len, &pos, '.', '.')) {
        /* Any number of digits, at least one; those past nanoseconds are dropped. */
        size_t first = pos;
        for (long scale = 100000000; pos < len && buf[pos] >= '0' && buf[pos] <= '9'; pos++, scale /= 10)
            nanoseconds += (buf[pos] - '0') * scale;
        if (pos == first)
            return false;
    }
    long offset = 0;
    if (!next_is(buf, len, &pos, 'Z', 'z')) {
        if (pos >= len || (buf[pos] != '+' && buf[pos] != '-'))
            return false;
        int sign = buf[pos++] == '-' ? -1 : 1, offset_hour, offset_minute;
        if (!digits(buf, len, &pos, 2, &offset_hour) || !next_is(buf, len, &pos, ':', ':') ||
            !digits(buf, len, &pos, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59)
            return false;
        offset = sign * (offset_hour * 3600L + offset_minute * 60L);
    }
    if (pos != len)
        return false;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = minute, .tm_sec = second};
    out->tv_sec = timegm(&tm) - offset;
    out->tv_nsec = nanoseconds;
    return true;
}

int kube_read_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct kube_buf b = {0};
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && b.len + (size_t)n > max)
            errno = EFBIG;
        if (n < 0 || (n > 0 && b.len + (size_t)n > max) || kube_buf_append(&b, chunk, (size_t)n) < 0) {
            int saved = errno;
            close(fd);
            kube_buf_free(&b);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
    }
    close(fd);
    if (!b.data && kube_buf_append(&b, "", 0) < 0)
        return -1;
    *data = b.data;
    *len = b.len;
    return 0;
}

const char *kube_name_problem(const char *name)
{
    if (!name[0])
        return "may not be empty";
    if (strcmp(name, ".") == 0)
        return "may not be '.'";
    if (strcmp(name, "..") == 0)
        return "may not be '..'";
    if (strchr(name, '/'))
        return "may not contain '/'";
    if (strchr(name, '%'))
        return "may not contain '%'";
    return NULL;
}

bool kube_path_has_dot_segment(const char *path)
{
    size_t end = strcspn(path, "?#");
    for (size_t i = 0; i < end;) {
        size_t len = strcspn(path + i, "/?#");
        if (len > end - i)
            len = end - i;
        if ((len == 1 && path[i] == '.') || (len == 2 && path[i] == '.' && path[i + 1] == '.'))
            return true;
        i += len + 1;
    }
    return false;
}
