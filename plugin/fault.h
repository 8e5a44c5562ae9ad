/* The fault decision for one request: which rules apply to this sidecar,
 * and whether a request gets a delay, an abort, both, or nothing.
 * Host-independent: headers come through a callback. */
#ifndef HFI_FAULT_H
#define HFI_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Returns the value of a request header (lower-case name, pseudo-headers
 * such as ":path" included) or NULL when absent. The pointer stays valid
 * until the decision is made. */
typedef const char *(*hfi_header_lookup)(void *ctx, const char *name, size_t name_len, size_t *value_len);

/* The host clock in nanoseconds; read only when a rule's time window
 * matters, since most requests match no rule. */
typedef uint64_t (*hfi_clock)(void);

struct hfi_decision {
    bool delay;
    uint32_t delay_ms;
    bool abort;
    uint32_t abort_status;
    const char *abort_body; /* owned by the configuration */
    size_t abort_body_len;
    uint64_t now_ns; /* the clock as the decision read it; 0 when it did not */
};

/* xorshift64*: enough for sampling, and small. Seed must not be zero. */
struct hfi_rng {
    uint64_t state;
};
uint64_t hfi_rng_next(struct hfi_rng *rng);

/* True when the rule's selector names this workload (NULL fields: any). */
bool hfi_rule_selects(const struct hfi_rule *rule, const char *workload, const char *ns);

/* The rules of a configuration that select one workload, in order, each
 * with a one-word path prefilter: a request is checked against every rule,
 * and in wasm every field read is a bounds-checked load, so most rules
 * should be rejected by reading one word. */
struct hfi_rule_set {
    const struct hfi_rule **rules;
    uint32_t *path_filters;
    size_t count;
};

/* Fills set from config for this workload; false when out of memory. */
bool hfi_rule_set_build(struct hfi_rule_set *set, const struct hfi_config *config, const char *workload,
                        const char *ns);
void hfi_rule_set_free(struct hfi_rule_set *set);

/* How many rules of the set are in force at now_ns; *next_change_ns gets the
 * earliest moment after now_ns at which one enters or leaves its window
 * (UINT64_MAX: never). */
size_t hfi_rule_set_in_force(const struct hfi_rule_set *set, uint64_t now_ns, uint64_t *next_change_ns);

/* The first rule that matches the request and whose time window is open is
 * the one that applies; it is sampled once (so 100% is every request and 0%
 * none). Header-triggered faults, when enabled, authorised and present,
 * take the place of the rules. Returns true when a fault is injected. */
bool hfi_decide(const struct hfi_config *config, const struct hfi_rule_set *set, hfi_header_lookup lookup,
                void *lookup_ctx, hfi_clock clock, struct hfi_rng *rng, struct hfi_decision *out);

#endif
