/* What hfitop can change in the cluster, each an asynchronous call on the
 * caller's client: done(result, user) runs exactly once from
 * kube_client_dispatch (or from the call itself when it cannot start).
 * The console binds keys to these; `hfitop fire` and the tests drive them
 * headless. Results never contain the header-fault token. */
#ifndef APP_ACTIONS_H
#define APP_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "../kube/kube_client.h"

#define APP_FIELD_MANAGER "hfitop"
/* The stats-inclusion value of the proxy.istio.io/config annotation. */
#define APP_STATS_INCLUSION_CONFIG "{proxyStatsMatcher: {inclusionPrefixes: [\"wasmcustom.\"]}}"

/* manifests/envoyfilter-wasm-stats.yaml as compiled in (envoyfilter_manifest.c). */
extern const unsigned char app_envoyfilter_manifest[];
extern const size_t app_envoyfilter_manifest_len;

struct app_action_result {
    bool ok;
    long http_status;
    char message[512]; /* what happened, for a status line */
};

typedef void (*app_action_done_fn)(const struct app_action_result *result, void *user);

/* Server-side apply of an EnvoyFilter manifest (one YAML or JSON
 * document) into `ns`, whatever namespace it names itself. */
/* The name of the manifest's EnvoyFilter, for a confirmation to show;
 * false with why in err when it is not one EnvoyFilter whose name (and ns)
 * can be addressed, which apply and delete would refuse too. */
bool app_envoyfilter_name(const char *ns, const char *manifest, size_t len, char *name, size_t name_size, char *err,
                          size_t err_size);
void app_envoyfilter_apply(struct kube_client *c, const char *ns, const char *manifest, size_t len,
                           app_action_done_fn done, void *user);
/* Deletes the EnvoyFilter the manifest names; one already gone is fine.
 * With uid and resource_version (the object as a confirmation showed it),
 * only that very object unchanged: DeleteOptions preconditions, so one
 * changed or created again since is a 409 and stays. NULL: whatever is
 * there. */
void app_envoyfilter_delete(struct kube_client *c, const char *ns, const char *manifest, size_t len,
                            const char *uid, const char *resource_version, app_action_done_fn done, void *user);

/* Adds proxy.istio.io/config = APP_STATS_INCLUSION_CONFIG to the
 * deployment's pod template (strategic-merge patch; it rolls the
 * deployment). Refuses to replace a different proxy.istio.io/config. */
void app_annotate_stats_inclusion(struct kube_client *c, const char *ns, const char *deployment,
                                  app_action_done_fn done, void *user);

/* `kubectl rollout restart`: the template's restartedAt annotation set to
 * now (kubernetes staging/src/k8s.io/kubectl/pkg/polymorphichelpers/
 * objectrestarter.go, defaultObjectRestarter). */
void app_restart_deployment(struct kube_client *c, const char *ns, const char *deployment,
                            app_action_done_fn done, void *user);

/* Test faults through the API server proxy with the plugin's header
 * faults, the token read from the namespace's WasmPlugin. */
struct app_fire_options {
    const char *ns;
    const char *pod;     /* a pod, or */
    const char *service; /* a service (its first port) */
    const char *path;    /* "/" when NULL */
    int abort_status;    /* x-hfi-fault-abort, or 0 */
    long delay_ms;       /* x-hfi-fault-delay-ms, or 0 */
    int count;
    int max_inflight;    /* 0: 8 */
    long timeout_ms;     /* per request; 0: 30 s plus the delay */
};

/* One range for the console's form and `hfitop fire --count`. */
#define APP_FIRE_MAX_COUNT 10000

#define APP_FIRE_MAX_STATUSES 16

struct app_fire_tally {
    int sent, answered, transport_errors;
    int refused; /* answered by the API server itself (a Status: no such pod, no endpoints) */
    struct {
        int code, count;
    } statuses[APP_FIRE_MAX_STATUSES]; /* by first appearance */
    int n_statuses;
    int aborted;        /* answered with abort_status (when one was asked) */
    /* Answers that carried the fault: the abort status, or a wait at least
     * about as long as the delay the sidecar applies. */
    int faulted;
    long delay_applied_ms; /* the delay asked, capped by header_faults.max_delay_ms */
    int throttled;         /* 429s from the API server, retried after Retry-After */
    double p50_ms, p95_ms, max_ms;
};

typedef void (*app_fire_done_fn)(const struct app_action_result *result, const struct app_fire_tally *tally,
                                 void *user);
void app_fire(struct kube_client *c, const struct app_fire_options *o, app_fire_done_fn done, void *user);

/* What every action reports as it ends, to whoever observes actions (the
 * session journal): one place every action, console or headless, passes
 * through. Valid during the call only. */
struct app_action_record {
    const char *action; /* "fire", "restart", "annotate", "envoyfilter apply", "policy apply", ... */
    const char *ns;
    const char *target;          /* "pod/NAME", "deployment/NAME", "EnvoyFilter/NAME", ... */
    const struct cJSON *params;  /* an object, or NULL */
    const struct app_action_result *result;
    const struct app_fire_tally *tally; /* fire only */
};
typedef void (*app_action_observer_fn)(const struct app_action_record *record, void *user);
/* One observer for the process; NULL stops observing. */
void app_actions_observe(app_action_observer_fn fn, void *user);
/* Tells the observer about an action that ended (actions.c and policy.c). */
void app_actions_report(const struct app_action_record *record);

/* "503 x7, 200 x3" */
void app_fire_tally_statuses(const struct app_fire_tally *t, char *out, size_t size);

#endif
