/* The WasmPlugin's fault policies, changed safely:
 *
 * - every change is checked by the plugin's own configuration parser (the
 *   same C as hfi-fault.wasm, compiled natively) on the complete resulting
 *   pluginConfig before anything is written, so hfitop never writes a
 *   configuration the sidecars would reject as a whole;
 * - every write is read-modify-write guarded by the resourceVersion read:
 *   on 409 Conflict the WasmPlugin is read again and the change applied
 *   again, a bounded number of times, so concurrent writers lose nothing;
 * - policies hfitop makes carry absolute bounds (spec.start_time and
 *   spec.end_time, RFC 3339 UTC) that hold alike on every pod, old or new.
 *
 * Also the strict parsers behind the console's forms and the CLI flags. */
#ifndef APP_POLICY_H
#define APP_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../kube/kube_client.h"
#include "actions.h"

/* Writes tried before giving up when other writers keep winning. */
#define APP_POLICY_MAX_ATTEMPTS 25
/* The longest --for / form duration: a chaos session, not a config. */
#define APP_POLICY_MAX_FOR_S (366L * 24 * 3600)

enum app_policy_op {
    APP_POLICY_READ,       /* read only: the WasmPlugin for list and show */
    APP_POLICY_APPLY,      /* add, or replace the policy of the same name */
    APP_POLICY_REMOVE,     /* the policy called `name` */
    APP_POLICY_REMOVE_ALL, /* every policy, in one write (the kill switch) */
};

struct app_policy_change {
    const char *ns;
    const char *wasmplugin; /* NULL: the namespace's first WasmPlugin */
    enum app_policy_op op;
    const char *policy_json; /* APPLY: one policy object with metadata.name */
    const char *name;        /* REMOVE */
    /* APPLY: > 0 stamps start_time = now and end_time = now + for_seconds;
     * 0 stamps them only when the policy has neither, from its rules'
     * longest duration_seconds (none: no end). */
    long for_seconds;
    bool dry_run; /* read, change and check; write nothing */
};

struct app_policy_outcome {
    struct app_action_result result;
    char wasmplugin[254];      /* the WasmPlugin's name ("" when none was found) */
    int policies_before, policies_after; /* as app_policy_count */
    int conflicts;             /* 409s answered by reading again */
    const cJSON *object;       /* the WasmPlugin as last read, or NULL */
    /* Every WasmPlugin of the namespace as last read (the list's items), or
     * NULL: Istio applies each one that selects a workload, not the first
     * alone, so the kill switch must see them all. */
    const cJSON *items;
    const cJSON *plugin_config; /* the resulting pluginConfig, or NULL */
};
/* The outcome and what it points to are valid during the call only. */
typedef void (*app_policy_done_fn)(const struct app_policy_outcome *outcome, void *user);

void app_policy_change(struct kube_client *c, const struct app_policy_change *change, app_policy_done_fn done,
                       void *user);

/* metadata.name when it is a non-empty string, else NULL. */
const char *app_policy_name(const cJSON *policy);

/* The policies a WasmPlugin holds (spec.pluginConfig.policies): how many,
 * 0 when none, APP_POLICIES_NOT_A_LIST when they are there but not a list
 * (the plugin rejects that configuration and goes on enforcing the last
 * one it accepted, so the kill switch must still clear it). */
#define APP_POLICIES_NOT_A_LIST (-1)
int app_policy_count(const cJSON *wasmplugin);

/* Checks a complete pluginConfig (JSON text) with the plugin's own parser.
 * False with the reason in err, naming the policy when one is at fault:
 * `policy "cart-slow": spec.rules[0].fault.abort.httpStatus: must be ...`. */
bool app_policy_check_config(const char *json, size_t len, char *err, size_t err_size);

/* Sets spec.start_time and spec.end_time of a policy object (see
 * app_policy_change's for_seconds). */
void app_policy_stamp(cJSON *policy, time_t now, long for_seconds);

/* When the policy is in force, for lists: "4m59s left", "expired",
 * "not started (in 2m)", "no end", or for a policy without absolute
 * bounds whose rules end "300s per pod (no end time)". */
void app_policy_window(const cJSON *policy, time_t now, char *out, size_t size);

/* One rule in a line: "GET prefix /cart -> abort 503, 10%". */
void app_policy_rule_text(const cJSON *rule, char *out, size_t size);

/* Whether `value` (taken from the JSON text json[0..len)) may go into an
 * HTTP header: visible ASCII only, no NUL hidden by a \u0000 escape.
 * False with what was found in why. */
bool app_header_value_safe(const char *json, size_t len, const char *value, char *why, size_t why_size);

/* After the kill switch: has a sidecar stopped injecting? Fed with each
 * successful scrape from the write on. Stopped: no rule loaded (the
 * plugin's policies gauge) and no new fault between two scrapes. */
#define APP_HALT_SCRAPES 5
struct app_halt_pod {
    char name[254];
    unsigned last_ok;  /* the pod's successful scrapes when last seen */
    double last_total; /* aborts + delays */
    double moved;      /* between the last two scrapes */
    double rules;      /* the policies gauge */
    int scrapes;       /* since the write */
};
enum app_halt_verdict { APP_HALT_WAITING, APP_HALT_STOPPED, APP_HALT_INJECTING };
/* Starts following a pod: its scrapes so far do not count. */
void app_halt_follow(struct app_halt_pod *h, const char *name, unsigned ok_scrapes);
/* Takes the pod's latest scrape when it is a new one. */
void app_halt_scraped(struct app_halt_pod *h, unsigned ok_scrapes, double aborts, double delays, double rules);
enum app_halt_verdict app_halt_verdict(const struct app_halt_pod *h);
/* "faults stopped", "STILL INJECTING: 2 rules still loaded", ... */
void app_halt_text(const struct app_halt_pod *h, char *out, size_t size);

/* Strict parsers: the whole text, nothing else. A duration is one or more
 * number+unit pairs (s, m, h, d): "90s", "5m", "1h30m"; a bare number is
 * refused, since its unit would be a guess. */
bool app_parse_duration(const char *text, long *seconds);
bool app_parse_percentage(const char *text, double *out);
bool app_parse_long(const char *text, long lo, long hi, long *out);
/* RFC 3339 "2026-12-02T10:05:00Z" (UTC: Z or +00:00, optional fraction)
 * as Unix time. */
bool app_parse_rfc3339(const char *text, time_t *out);
void app_format_rfc3339(time_t t, char *out, size_t size);

#endif
