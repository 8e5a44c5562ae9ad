/* libFuzzer: the watch stream decoder, fed in pieces whose sizes come from
 * the input's first byte, and the pod model over every event's object:
 * neither may read out of bounds, leak or crash. */
#include <stddef.h>
#include <stdint.h>

#include "kube_pods.h"
#include "kube_watch.h"

static bool decode_event(const struct kube_watch_event *ev, void *user)
{
    size_t *n = user;
    (*n)++;
    struct kube_pod pod;
    if (kube_pod_from_json(ev->object, &pod) == 0) {
        /* Touch what consumers read. */
        *n += kube_pod_sidecar_env(&pod, "BOOTSTRAP_XDS_AGENT") != NULL;
        *n += kube_pod_label(&pod, "pod-template-hash") != NULL;
        kube_pod_free(&pod);
    }
    return ev->resource_version == NULL || ev->resource_version[0] != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    size_t events = 0;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, decode_event, &events);
    d.max_line = 1 << 16;
    for (size_t pos = 1; pos < size; pos += step) {
        size_t n = size - pos < step ? size - pos : step;
        if (kube_watch_decoder_feed(&d, (const char *)data + pos, n) < 0)
            kube_watch_decoder_reset(&d);
    }
    kube_watch_decoder_free(&d);
    return 0;
}
