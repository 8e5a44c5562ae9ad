/* The plugin configuration (the WasmPlugin's pluginConfig JSON), parsed into
 * a flat list of rules. Host-independent: compiled into the wasm module and
 * natively for tests and fuzzing. */
#ifndef HFI_CONFIG_H
#define HFI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hfi_regex;

/* 100% in the sampling unit: percentages keep seven decimals, so 0.1 is one
 * request in a thousand and 0.0001 one in a million. */
#define HFI_PERCENT_SCALE 10000000u
#define HFI_SAMPLE_ALWAYS (100u * HFI_PERCENT_SCALE)

enum hfi_match_kind { HFI_MATCH_ANY, HFI_MATCH_EXACT, HFI_MATCH_PREFIX, HFI_MATCH_REGEX };

struct hfi_string_match {
    enum hfi_match_kind kind;
    const char *value; /* exact or prefix text */
    size_t value_len;
    struct hfi_regex *regex;
};

struct hfi_header_match {
    const char *name; /* lower-cased, as header maps hold names */
    size_t name_len;
    struct hfi_string_match match;
};

struct hfi_rule {
    const char *policy_name;
    const char *selector_service; /* NULL: any workload */
    const char *selector_namespace; /* NULL: any namespace */

    struct hfi_string_match method;
    struct hfi_string_match path; /* against :path without its query string */
    struct hfi_header_match *headers;
    size_t header_count;

    uint32_t sample_threshold; /* out of HFI_SAMPLE_ALWAYS */
    bool has_delay;
    uint32_t delay_ms;
    bool has_abort;
    uint32_t abort_status;
    const char *abort_body;
    size_t abort_body_len;
    uint64_t start_delay_ms;
    uint64_t duration_seconds; /* 0: no end */
    /* The policy's spec.start_time and spec.end_time, in nanoseconds since
     * the Unix epoch (UTC): 0 and UINT64_MAX when absent. */
    uint64_t start_time_ns, end_time_ns;

    /* The identity of the rule's policy: its name, selector, time bounds and
     * every rule in order, not how the JSON spelled them. An unchanged
     * policy keeps its first-seen time across configurations; an edited one
     * is a new policy. */
    uint64_t identity;
    uint64_t first_seen_ns;
    /* The window [active_from_ns, active_until_ns): the absolute bounds
     * intersected with the start_delay_ms/duration_seconds window counted
     * from first_seen_ns, worked out once so a request pays two comparisons. */
    uint64_t active_from_ns, active_until_ns;
};

struct hfi_header_faults {
    bool enabled;
    const char *token; /* empty: no token needed */
    size_t token_len;
    uint32_t max_delay_ms;
};

struct hfi_config_chunk;

struct hfi_config {
    struct hfi_rule *rules;
    size_t rule_count;
    struct hfi_header_faults header_faults;
    uint32_t max_active_delays;

    /* Everything above lives in these chunks or in the regexes listed here. */
    struct hfi_config_chunk *chunks;
    struct hfi_regex **regexes;
    size_t regex_count, regex_capacity;
};

#define HFI_DEFAULT_MAX_DELAY_MS 30000u
#define HFI_DEFAULT_MAX_ACTIVE_DELAYS 1000u

/* Parses json[0..len). Returns a config, or NULL with a NUL-terminated
 * message in err that names the offending field, e.g.
 * "policies[0].spec.rules[1].fault.abort.httpStatus: must be an integer in
 * 200..599". An empty or all-blank text is a valid empty configuration. */
struct hfi_config *hfi_config_parse(const char *json, size_t len, char *err, size_t err_size);

void hfi_config_free(struct hfi_config *config);

/* Carries first_seen_ns over from rules of the previous configuration with
 * the same identity (linear time: a hash of the previous identities);
 * rules seen for the first time get now_ns. Sets each rule's active
 * window. False when out of memory: every rule then counts as new. */
bool hfi_config_inherit_first_seen(struct hfi_config *config, const struct hfi_config *previous, uint64_t now_ns);

#endif
