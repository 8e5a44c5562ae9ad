#include "proto.h"

#include <stdint.h>
#include <string.h>

struct field {
    uint32_t number;
    const unsigned char *data; /* length-delimited fields only */
    size_t len;
};

static int read_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Next field of a message; 1 on success, 0 at the end, -1 if malformed.
 * Non-length-delimited fields come back with len 0 and data NULL. */
static int next_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
    if (*p >= end)
        return 0;
    uint64_t key, v;
    if (read_varint(p, end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    f->number = (uint32_t)(key >> 3);
    f->data = NULL;
    f->len = 0;
    switch (key & 7) {
    case 0:
        return read_varint(p, end, &v) == 0 ? 1 : -1;
    case 1:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 1;
    case 5:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 1;
    case 2:
        if (read_varint(p, end, &v) != 0 || v > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        f->len = (size_t)v;
        *p += v;
        return 1;
    default:
        return -1;
    }
}

static void add_string(cJSON *obj, const char *key, const struct field *f)
{
    char buf[512];
    size_t n = f->len < sizeof buf - 1 ? f->len : sizeof buf - 1;
    memcpy(buf, f->data, n);
    buf[n] = '\0';
    cJSON_AddStringToObject(obj, key, buf);
}

/* Decodes string fields of a message by number into obj; -1 if malformed. */
static int strings(const unsigned char *p, const unsigned char *end, const char *const *names, size_t n_names,
                   cJSON *obj)
{
    struct field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1)
        if (f.data && f.number >= 1 && f.number <= n_names && names[f.number - 1])
            add_string(obj, names[f.number - 1], &f);
    return r;
}

cJSON *proto_access_review(const unsigned char *data, size_t len)
{
    static const unsigned char magic[4] = {'k', '8', 's', 0};
    if (len < 4 || memcmp(data, magic, 4) != 0)
        return NULL;
    const unsigned char *p = data + 4, *end = data + len;
    const unsigned char *raw = NULL;
    size_t raw_len = 0;
    struct field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1)
        if (f.number == 2 && f.data) {
            raw = f.data;
            raw_len = f.len;
        }
    if (r < 0 || !raw)
        return NULL;
    cJSON *review = cJSON_CreateObject();
    cJSON *spec = cJSON_AddObjectToObject(review, "spec");
    p = raw;
    end = raw + raw_len;
    while ((r = next_field(&p, end, &f)) == 1) {
        if (f.number != 2 || !f.data)
            continue;
        const unsigned char *sp = f.data, *send = f.data + f.len;
        struct field g;
        int r2;
        while ((r2 = next_field(&sp, send, &g)) == 1) {
            static const char *const resource[] = {"namespace", "verb", "group", "version", "resource",
                                                   "subresource", "name"};
            static const char *const non_resource[] = {"path", "verb"};
            if (g.number == 1 && g.data) {
                if (strings(g.data, g.data + g.len, resource, 7, cJSON_AddObjectToObject(spec, "resourceAttributes")) < 0)
                    r2 = -1;
            } else if (g.number == 2 && g.data) {
                if (strings(g.data, g.data + g.len, non_resource, 2,
                            cJSON_AddObjectToObject(spec, "nonResourceAttributes")) < 0)
                    r2 = -1;
            }
            if (r2 < 0)
                break;
        }
        if (r2 < 0) {
            r = -1;
            break;
        }
    }
    if (r < 0) {
        cJSON_Delete(review);
        return NULL;
    }
    return review;
}
