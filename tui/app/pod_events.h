/* The recent events of one pod, the one the detail view shows: read when
 * it is chosen and again every few seconds while it stays chosen, as
 * `kubectl describe pod` lists them. */
#ifndef APP_POD_EVENTS_H
#define APP_POD_EVENTS_H

#include "../kube/kube.h"

#define APP_POD_EVENTS_INTERVAL_MS 5000

struct app_pod_events;

struct app_pod_events *app_pod_events_new(struct kube_client *client);
/* Cancels a read in flight; the client stays the caller's. */
void app_pod_events_free(struct app_pod_events *pe);

/* The pod to read (ns and pod NULL: none). Another pod than before drops
 * the list and reads at the next tick; the same pod changes nothing. */
void app_pod_events_follow(struct app_pod_events *pe, const char *ns, const char *pod);
/* Starts a read when one is due; call after every dispatch. */
void app_pod_events_tick(struct app_pod_events *pe);
/* Milliseconds until app_pod_events_tick has work (-1: none). */
int app_pod_events_timeout_ms(const struct app_pod_events *pe);

/* The followed pod's events as last read (oldest first), or NULL before
 * the first answer; *error is the last read's failure or NULL. */
const struct kube_event_list *app_pod_events_list(const struct app_pod_events *pe, const char **error);

#endif
