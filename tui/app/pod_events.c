#include "pod_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

struct app_pod_events {
    struct kube_client *client;
    char *ns, *pod;
    struct kube_request *inflight;
    int64_t next_read_ms;
    bool have_list;
    struct kube_event_list list;
    char error[300]; /* "" when the last read succeeded */
};

struct app_pod_events *app_pod_events_new(struct kube_client *client)
{
    struct app_pod_events *pe = calloc(1, sizeof *pe);
    if (pe)
        pe->client = client;
    return pe;
}

static void forget(struct app_pod_events *pe)
{
    if (pe->inflight)
        kube_request_cancel(pe->inflight);
    pe->inflight = NULL;
    kube_event_list_free(&pe->list);
    pe->have_list = false;
    pe->error[0] = '\0';
    free(pe->ns);
    free(pe->pod);
    pe->ns = pe->pod = NULL;
}

void app_pod_events_free(struct app_pod_events *pe)
{
    if (!pe)
        return;
    forget(pe);
    free(pe);
}

void app_pod_events_follow(struct app_pod_events *pe, const char *ns, const char *pod)
{
    bool same = ns && pod && pe->ns && pe->pod && strcmp(ns, pe->ns) == 0 && strcmp(pod, pe->pod) == 0;
    if (same || (!pod && !pe->pod))
        return;
    forget(pe);
    if (!ns || !pod)
        return;
    pe->ns = strdup(ns);
    pe->pod = strdup(pod);
    pe->next_read_ms = 0;
}

static void read_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct app_pod_events *pe = user;
    pe->inflight = NULL;
    if (resp->error.code != KUBE_OK) {
        snprintf(pe->error, sizeof pe->error, "%s", resp->error.message);
        return;
    }
    struct kube_event_list fresh;
    char err[200];
    if (kube_events_parse(resp->body, resp->body_len, &fresh, err, sizeof err) != 0) {
        snprintf(pe->error, sizeof pe->error, "events: %s", err);
        return;
    }
    kube_event_list_free(&pe->list);
    pe->list = fresh;
    pe->have_list = true;
    pe->error[0] = '\0';
}

void app_pod_events_tick(struct app_pod_events *pe)
{
    int64_t now = app_now_ms();
    if (!pe->pod || pe->inflight || now < pe->next_read_ms)
        return;
    char *path = kube_pod_events_path(pe->ns, pe->pod);
    if (!path)
        return;
    pe->next_read_ms = now + APP_POD_EVENTS_INTERVAL_MS;
    pe->inflight = kube_client_get(pe->client, path, read_done, pe);
    free(path);
}

int app_pod_events_timeout_ms(const struct app_pod_events *pe)
{
    if (!pe->pod || pe->inflight)
        return -1;
    int64_t wait = pe->next_read_ms - app_now_ms();
    return wait < 0 ? 0 : wait > APP_POD_EVENTS_INTERVAL_MS ? APP_POD_EVENTS_INTERVAL_MS : (int)wait;
}

const struct kube_event_list *app_pod_events_list(const struct app_pod_events *pe, const char **error)
{
    *error = pe->error[0] ? pe->error : NULL;
    return pe->have_list ? &pe->list : NULL;
}
