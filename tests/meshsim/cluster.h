/* The simulated cluster: namespaces, deployments, their ReplicaSets and
 * pods, services, the WasmPlugin and EnvoyFilters, and the controllers that
 * move them (rollouts, pod start-up and termination, sidecar plugin
 * configuration, background traffic). */
#ifndef MESHSIM_CLUSTER_H
#define MESHSIM_CLUSTER_H

#include <stdint.h>

#include "store.h"

enum scenario {
    SC_NO_SIDECAR = 1 << 0,
    SC_PLUGIN_MISSING = 1 << 1,
    SC_PLUGIN_FAILED = 1 << 2,
    SC_RESTRICTIVE_STATS = 1 << 3,
    SC_LEGACY_NAMES = 1 << 4,
    SC_BARE_NAMES = 1 << 5,
    SC_SLOW_SIDECAR = 1 << 6,
    SC_FLAKY_SIDECAR = 1 << 7,
    SC_API_401 = 1 << 8,
    SC_API_403_PROXY = 1 << 9,
    SC_API_429 = 1 << 10,
    SC_WATCH_EXPIRY = 1 << 11,
};

/* "no-sidecar" -> SC_NO_SIDECAR; 0 when unknown. */
unsigned scenario_from_name(const char *name);

struct cluster_config {
    const char *ns;
    int pods; /* total pods; 0: the demo's six */
    unsigned scenarios;
    double traffic_rps;
};

void cluster_build(const struct cluster_config *cfg, int64_t now);
void cluster_free(void);
int cluster_tick(int64_t now);
unsigned cluster_scenarios(void);

/* A deployment's JSON was changed by PATCH or apply: roll it when its pod
 * template changed, scale it when its replicas did. */
void cluster_deployment_changed(struct object *deploy, int64_t now);
/* A WasmPlugin in ns was created, changed or deleted: configure sidecars. */
void cluster_wasmplugins_changed(const char *ns);
/* DELETE of a deployment: its ReplicaSets go, its pods terminate. The
 * caller then deletes the deployment itself. */
void cluster_delete_deployment(struct object *deploy, int64_t now);
/* Services or their pods changed: Endpoints and EndpointSlices follow. */
void cluster_services_changed(void);
/* DELETE of a pod: it terminates; its ReplicaSet replaces it. */
void cluster_delete_pod(struct object *pod, int64_t now);

enum stats_port_behaviour { STATS_NORMAL, STATS_SLOW, STATS_FLAKY };

struct sidecar *cluster_pod_sidecar(const struct object *pod);
int cluster_pod_app_port(const struct object *pod);
/* Running and not Terminating: a ready endpoint of its services. */
int cluster_pod_running(const struct object *pod);
/* Its containers have started (Terminating pods included: they still serve). */
int cluster_pod_started(const struct object *pod);
enum stats_port_behaviour cluster_pod_stats_behaviour(const struct object *pod);
/* Counts scrapes of a flaky sidecar: which answer comes next. */
unsigned cluster_pod_next_scrape(struct object *pod);

#endif
