#include "text.h"

#include <string.h>

void text_init(struct text_buf *t, char *buf, size_t size)
{
    t->data = buf;
    t->size = size;
    t->len = 0;
    if (size)
        buf[0] = '\0';
}

void text_append(struct text_buf *t, const char *s, size_t n)
{
    if (!t->size)
        return;
    size_t room = t->size - 1 - t->len;
    if (n > room)
        n = room;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void text_append_str(struct text_buf *t, const char *s)
{
    text_append(t, s, strlen(s));
}

void text_append_u64(struct text_buf *t, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    text_append(t, digits + sizeof digits - n, n);
}
