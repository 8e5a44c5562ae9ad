/* The Kubernetes API surface: discovery, resources, watches, patches,
 * apply, pod and service proxy, access reviews, and the Status errors. */
#ifndef MESHSIM_API_H
#define MESHSIM_API_H

#include <stdint.h>

#include "server.h"

struct api_config {
    int port;
    const char *token; /* accepted bearer token */
    /* Bench reference: every sidecar's /stats/prometheus serves these bytes
     * instead of rendering (NULL: render). */
    const char *static_stats;
    size_t static_stats_len;
};

void api_init(const struct api_config *cfg);
void api_free(void);
void api_handle(struct exchange *ex, void *arg);
/* A request that reached pod's port 15090 directly (not through the pod
 * proxy), as Prometheus scraping the pod IP sends it. */
struct object;
void api_stats_port(struct exchange *ex, struct object *pod);
/* Watches, deferred answers and the cluster's controllers. */
int api_tick(int64_t now, void *arg);

#endif
