#include "kube_watch.h"

#include <stdio.h>
#include <string.h>

/* One event is one object; a pod is tens of KB. Anything far beyond is a
 * broken stream, and holding it would only grow memory. */
enum { DEFAULT_MAX_LINE = 16 << 20 };

void kube_watch_decoder_init(struct kube_watch_decoder *d, kube_watch_event_fn on_event, void *user)
{
    memset(d, 0, sizeof *d);
    d->on_event = on_event;
    d->user = user;
    d->max_line = DEFAULT_MAX_LINE;
}

void kube_watch_decoder_reset(struct kube_watch_decoder *d)
{
    d->partial.len = 0;
    if (d->partial.data)
        d->partial.data[0] = '\0';
    d->failed = false;
    d->error[0] = '\0';
}

void kube_watch_decoder_free(struct kube_watch_decoder *d)
{
    kube_buf_free(&d->partial);
}

static int fail(struct kube_watch_decoder *d, const char *why)
{
    d->failed = true;
    snprintf(d->error, sizeof d->error, "%s", why);
    return -1;
}

static const struct {
    const char *name;
    enum kube_watch_type type;
} event_types[] = {
    {"ADDED", KUBE_WATCH_ADDED},       {"MODIFIED", KUBE_WATCH_MODIFIED},
    {"DELETED", KUBE_WATCH_DELETED},   {"BOOKMARK", KUBE_WATCH_BOOKMARK},
    {"ERROR", KUBE_WATCH_ERROR},
};

static int decode_line(struct kube_watch_decoder *d, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == len)
        return 0; /* blank lines carry nothing */
    cJSON *root = cJSON_ParseWithLength(line + start, len - start);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(d, "watch event is not a JSON object");
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *object = cJSON_GetObjectItemCaseSensitive(root, "object");
    struct kube_watch_event ev = {.object = object};
    bool known = false;
    for (size_t i = 0; cJSON_IsString(type) && i < sizeof event_types / sizeof *event_types; i++)
        if (strcmp(type->valuestring, event_types[i].name) == 0) {
            ev.type = event_types[i].type;
            known = true;
        }
    int rc = 0;
    if (!known) {
        rc = fail(d, "watch event has no known type");
    } else if (!cJSON_IsObject(object)) {
        rc = fail(d, "watch event has no object");
    } else {
        if (ev.type == KUBE_WATCH_ERROR && !kube_status_from_json(object, &ev.status)) {
            /* An ERROR whose object is not a Status still ends the watch. */
            snprintf(ev.status.message, sizeof ev.status.message, "watch error without a Status");
        }
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(object, "metadata");
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
        if (cJSON_IsString(rv) && rv->valuestring[0])
            ev.resource_version = rv->valuestring;
        if (!d->on_event(&ev, d->user))
            rc = fail(d, "stopped");
    }
    cJSON_Delete(root);
    return rc;
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *buf, size_t len)
{
    if (d->failed)
        return -1;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t chunk = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (d->partial.len + chunk > d->max_line)
            return fail(d, "watch event line too long");
        if (!nl) {
            if (kube_buf_append(&d->partial, buf + pos, chunk) < 0)
                return fail(d, "out of memory");
            return 0;
        }
        int rc;
        if (d->partial.len) {
            /* Only a line split across reads is copied; whole lines are
             * decoded where they lie. */
            if (kube_buf_append(&d->partial, buf + pos, chunk) < 0)
                return fail(d, "out of memory");
            rc = decode_line(d, d->partial.data, d->partial.len);
            d->partial.len = 0;
        } else {
            rc = decode_line(d, buf + pos, chunk);
        }
        if (rc < 0)
            return -1;
        pos += chunk + 1;
    }
    return 0;
}
