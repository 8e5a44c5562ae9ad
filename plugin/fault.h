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

struct hfi_decision {
    bool delay;
    uint32_t delay_ms;
    bool abort;
    uint32_t abort_status;
    const char *abort_body; /* owned by the configuration */
    size_t abort_body_len;
};

/* xorshift64*: enough for sampling, and small. Seed must not be zero. */
struct hfi_rng {
    uint64_t state;
};
uint64_t hfi_rng_next(struct hfi_rng *rng);

/* True when the rule's selector names this workload (NULL fields: any). */
bool hfi_rule_selects(const struct hfi_rule *rule, const char *workload, const char *ns);

/* The first rule that matches the request and whose time window is open is
 * the one that applies; it is sampled once (so 100% is every request and 0%
 * none). Header-triggered faults, when enabled, authorised and present,
 * take the place of the rules. Returns true when a fault is injected. */
bool hfi_decide(const struct hfi_config *config, const struct hfi_rule *const *rules, size_t rule_count,
                hfi_header_lookup lookup, void *lookup_ctx, uint64_t now_ns, struct hfi_rng *rng,
                struct hfi_decision *out);

#endif
