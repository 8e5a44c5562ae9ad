/* A pod's recent events (core/v1 Event): what `kubectl describe pod`
 * lists at its end. Listed with fieldSelector involvedObject.name, one of
 * the fields the API server lets Events be selected by (kubernetes
 * pkg/registry/core/event/strategy.go, ToSelectableFields). */
#ifndef KUBE_EVENTS_H
#define KUBE_EVENTS_H

#include <stddef.h>
#include <time.h>

struct kube_event {
    char *type;    /* "Normal", "Warning" */
    char *reason;  /* "Scheduled", "Pulled", "Killing", ... */
    char *message;
    char *source;  /* reporting component: "kubelet", "default-scheduler" */
    time_t last;   /* lastTimestamp, else eventTime, else creationTimestamp; 0 if none */
    int count;     /* times seen; at least 1 */
};

struct kube_event_list {
    struct kube_event *items; /* oldest first */
    size_t n;
};

/* The list path for the events about one pod, escaped:
 * /api/v1/namespaces/NS/events?fieldSelector=involvedObject.name%3DPOD.
 * NULL when out of memory. Caller frees. */
char *kube_pod_events_path(const char *ns, const char *pod);

/* Reads an EventList body (JSON). Items that are not objects are skipped;
 * missing strings become "". Returns -1 and writes why to err when the body
 * is not an EventList. Pure: no I/O. */
int kube_events_parse(const char *buf, size_t len, struct kube_event_list *out, char *err, size_t err_size);
void kube_event_list_free(struct kube_event_list *list);

#endif
