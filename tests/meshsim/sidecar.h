/* One simulated istio-proxy per injected pod: Envoy's counters and
 * histograms, its /stats/prometheus rendering, the fault plugin in the
 * request path, and the tiny app behind it. */
#ifndef MESHSIM_SIDECAR_H
#define MESHSIM_SIDECAR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"

struct hfi_regex;

/* How the plugin build in a pod names its metrics: wasmcustom.hfi_faults_*,
 * hfi.faults.* (legacy) or hfi_faults_* (bare); the top README's doctor
 * table (naming-legacy, naming-bare) says how each renders. */
enum metric_naming { NAMING_PREFIXED, NAMING_LEGACY, NAMING_BARE };

/* One entry of a stats inclusion list (Envoy StringMatcher). */
enum matcher_kind { MATCH_PREFIX, MATCH_SUFFIX, MATCH_EXACT, MATCH_CONTAINS, MATCH_REGEX };
struct stats_matcher {
    enum matcher_kind kind;
    char *value;
    struct hfi_regex *regex;
};

/* sidecar.istio.io/statsHistogramBuckets: histograms whose Envoy name
 * starts with prefix use these bounds. */
#define MAX_BUCKET_BOUNDS 32
struct bucket_rule {
    char *prefix;
    double bounds[MAX_BUCKET_BOUNDS];
    size_t n_bounds;
};

struct sidecar_options {
    const char *pod, *workload, *ns;
    const char *app_name;
    int app_port; /* names the inbound cluster and listener stats */
    const char *const *peer_services; /* outbound clusters: other services in the mesh */
    size_t n_peer_services;
    /* Stats inclusion fixed when Envoy starts: whether wasmcustom.* survives. */
    int restrictive_stats;
    const struct stats_matcher *inclusions;
    size_t n_inclusions;
    enum metric_naming naming;
    const struct bucket_rule *bucket_rules;
    size_t n_bucket_rules;
    int plugin_fails; /* the VM fails to start: no plugin in the path */
};

struct sidecar;

/* Reads the plugin module every sidecar instantiates; -1 when unreadable
 * (sidecars then run without the plugin, as with a failed fetch). */
int sidecar_load_module(const char *wasm_path);
/* Frees what all sidecars share; after every sidecar_free. */
void sidecar_global_free(void);

struct sidecar *sidecar_new(const struct sidecar_options *opt, int64_t now);
void sidecar_free(struct sidecar *sc);

/* Loads the plugin with pluginConfig JSON, or configures the running one
 * again (ECDS); NULL unloads it (WasmPlugin deleted). */
void sidecar_set_plugin(struct sidecar *sc, const char *plugin_config_json);
int sidecar_plugin_loaded(const struct sidecar *sc);

struct app_response {
    int status;
    struct buf headers; /* "Name: value\r\n" lines */
    struct buf body;
    int reset; /* the stream was reset: no response at all */
};

typedef void (*app_done_fn)(void *ctx, const struct app_response *resp);

struct app_call;

/* Runs one request to the app port through the plugin and the app. done runs
 * before this returns when nothing holds the request (result NULL), or later
 * from sidecar_tick (a delay): then the handle cancels it if the client
 * leaves. headers: "name", "value" pairs. */
struct app_call *sidecar_request(struct sidecar *sc, const char *method, const char *path,
                                 const struct header *headers, size_t n_headers, app_done_fn done, void *ctx);
void sidecar_cancel(struct app_call *call);

/* Drives timers (the plugin's tick, held requests, stats flushes). Returns
 * milliseconds until it needs to run again, or -1 for no deadline. */
int sidecar_tick(struct sidecar *sc, int64_t now);

/* The istio-proxy container's log; tail < 0 for all of it. */
void sidecar_logs(const struct sidecar *sc, struct buf *out, long tail);
/* Lines logged so far, and the lines from number `since` on that are still
 * kept: what `kubectl logs -f` follows. */
uint64_t sidecar_log_total(const struct sidecar *sc);
void sidecar_logs_since(const struct sidecar *sc, struct buf *out, uint64_t since);

/* /stats/prometheus: filter is a partial match on the dotted Envoy name. */
void sidecar_stats(struct sidecar *sc, struct buf *out, const struct hfi_regex *filter, int usedonly);

#endif
