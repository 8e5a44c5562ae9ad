/* The watch stream decoder: a pure function over the bytes of a watch
 * response, as they arrive. The API server writes one JSON event per line
 * ({"type":"ADDED","object":{...}}); reads split lines anywhere, so a
 * partial line is carried over to the next feed. */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube_status.h"
#include "kube_util.h"

enum kube_watch_type {
    KUBE_WATCH_ADDED,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK,
    KUBE_WATCH_ERROR,
};

struct kube_watch_event {
    enum kube_watch_type type;
    const cJSON *object;          /* valid during the callback only */
    const char *resource_version; /* object.metadata.resourceVersion, or NULL */
    struct kube_status status;    /* KUBE_WATCH_ERROR: the Status object */
};

/* Return false to stop decoding (the rest of the fed bytes are dropped). */
typedef bool (*kube_watch_event_fn)(const struct kube_watch_event *ev, void *user);

struct kube_watch_decoder {
    kube_watch_event_fn on_event;
    void *user;
    size_t max_line;
    struct kube_buf partial; /* bytes of a line not yet ended */
    bool failed;
    char error[160];
};

void kube_watch_decoder_init(struct kube_watch_decoder *d, kube_watch_event_fn on_event, void *user);
/* Decodes every complete line of `buf`. Returns 0, or -1 after a line that
 * is not a watch event (d->error says why; the decoder then stays failed
 * until reset, as client-go ends a watch on a decoding error) or when the
 * callback asked to stop. */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *buf, size_t len);
/* Forgets any partial line and failure: for a new stream. */
void kube_watch_decoder_reset(struct kube_watch_decoder *d);
void kube_watch_decoder_free(struct kube_watch_decoder *d);

#endif
