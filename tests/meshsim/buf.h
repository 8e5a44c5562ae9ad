/* A growable byte buffer: request input, response output, rendered bodies. */
#ifndef MESHSIM_BUF_H
#define MESHSIM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes (consumed input, written output). */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
/* Appends s as a JSON string literal, quotes included. */
void buf_json_string(struct buf *b, const char *s);

#endif
