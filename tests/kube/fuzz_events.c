/* libFuzzer: the EventList reader over any bytes: no crash, no leak, no
 * read past the input; what it returns is sorted oldest first. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_event_list l;
    char err[200];
    if (kube_events_parse((const char *)data, size, &l, err, sizeof err) != 0)
        return 0;
    for (size_t i = 1; i < l.n; i++)
        if (l.items[i - 1].last > l.items[i].last)
            abort();
    kube_event_list_free(&l);
    return 0;
}
