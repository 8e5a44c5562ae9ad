/* Bounded text building without stdio: the plugin avoids printf, whose
 * wasi-libc implementation alone would double the module's size. */
#ifndef HFI_TEXT_H
#define HFI_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Writes into buf[0..size), always NUL-terminated, silently truncating. */
struct text_buf {
    char *data;
    size_t size;
    size_t len;
};

void text_init(struct text_buf *t, char *buf, size_t size);
void text_append(struct text_buf *t, const char *s, size_t n);
void text_append_str(struct text_buf *t, const char *s);
void text_append_u64(struct text_buf *t, uint64_t v);

#endif
