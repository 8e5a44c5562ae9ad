/* The proxy-wasm ABI 0.2.1 glue: the only file that talks to the host.
 * Everything it decides comes from config.c and fault.c. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fault.h"
#include "proxy_abi.h"
#include "text.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/* ---- metrics ---- */

enum metric {
    METRIC_ABORTS,
    METRIC_DELAYS,
    METRIC_DELAY_DURATION,
    METRIC_ACTIVE_DELAYS,
    METRIC_OVERFLOW,
    METRIC_CONFIG_ERRORS,
    METRIC_POLICIES,
    METRIC_COUNT
};

/* Envoy prepends its own `wasmcustom.` namespace to these names; the
 * design's names keep theirs, which is how dashboards know them. */
static const struct {
    const char *name;
    uint32_t type;
} metric_definitions[METRIC_COUNT] = {
    [METRIC_ABORTS] = {"wasmcustom.hfi_faults_aborts_total", PROXY_METRIC_COUNTER},
    [METRIC_DELAYS] = {"wasmcustom.hfi_faults_delays_total", PROXY_METRIC_COUNTER},
    [METRIC_DELAY_DURATION] = {"wasmcustom.hfi_faults_delay_duration_milliseconds", PROXY_METRIC_HISTOGRAM},
    [METRIC_ACTIVE_DELAYS] = {"wasmcustom.hfi_faults_active_delays", PROXY_METRIC_GAUGE},
    [METRIC_OVERFLOW] = {"wasmcustom.hfi_faults_overflow_total", PROXY_METRIC_COUNTER},
    [METRIC_CONFIG_ERRORS] = {"wasmcustom.hfi_faults_config_errors_total", PROXY_METRIC_COUNTER},
    [METRIC_POLICIES] = {"wasmcustom.hfi_faults_policies", PROXY_METRIC_GAUGE},
};

static uint32_t metric_ids[METRIC_COUNT];

static void define_metrics(void)
{
    for (int m = 0; m < METRIC_COUNT; m++) {
        const char *name = metric_definitions[m].name;
        proxy_define_metric(metric_definitions[m].type, name, strlen(name), &metric_ids[m]);
    }
}

static void count(enum metric m)
{
    proxy_increment_metric(metric_ids[m], 1);
}

static void log_text(uint32_t level, const struct text_buf *t)
{
    proxy_log(level, t->data, t->len);
}

/* ---- state of this VM ---- */

static uint32_t root_context_id;
static struct hfi_config *config;
static struct hfi_rule_set active_rules; /* the rules selecting this workload */
static struct hfi_rng rng;

struct pending_delay {
    uint32_t context_id;
    bool abort_after;
    uint32_t abort_status;
    uint64_t started_ns, deadline_ns;
    char *abort_body; /* a copy: a re-configure may free the rule's */
    size_t abort_body_len;
};

static struct pending_delay *pending;
static size_t pending_count, pending_capacity;
static uint32_t tick_period_ms;

/* Ticks only while delays wait, and at most every 10 ms then: Envoy re-arms
 * a running timer with the new period only after it next fires. */
#define TICK_MAX_MS 10u

static uint64_t now_ns(void)
{
    uint64_t t = 0;
    proxy_get_current_time_nanoseconds(&t);
    return t;
}

static void set_tick(uint32_t period_ms)
{
    if (period_ms != tick_period_ms) {
        tick_period_ms = period_ms;
        proxy_set_tick_period_milliseconds(period_ms);
    }
}

static void schedule_tick(uint64_t now)
{
    if (!pending_count) {
        set_tick(0);
        return;
    }
    uint64_t earliest = pending[0].deadline_ns;
    for (size_t k = 1; k < pending_count; k++)
        if (pending[k].deadline_ns < earliest)
            earliest = pending[k].deadline_ns;
    uint64_t wait_ms = earliest > now ? (earliest - now + 999999) / 1000000 : 1;
    set_tick(wait_ms < 1 ? 1 : wait_ms > TICK_MAX_MS ? TICK_MAX_MS : (uint32_t)wait_ms);
}

static void publish_active_delays(void)
{
    proxy_record_metric(metric_ids[METRIC_ACTIVE_DELAYS], pending_count);
}

static void drop_pending(size_t k)
{
    free(pending[k].abort_body);
    pending[k] = pending[--pending_count];
    publish_active_delays();
}

/* Serialized header map {"x-hfi-fault": "abort"}: u32 count, u32 key and
 * value lengths, then the NUL-terminated key and value (wasm is little-endian). */
static const struct {
    uint32_t count, key_len, value_len;
    char text[18];
} abort_headers = {1, 11, 5, "x-hfi-fault\0abort"};

static const char default_abort_body[] = "fault filter abort";

static void send_abort(uint32_t status, const char *body, size_t body_len)
{
    static const char details[] = "hfi_fault_abort";
    if (!body) {
        body = default_abort_body;
        body_len = sizeof default_abort_body - 1;
    }
    proxy_send_local_response(status, details, sizeof details - 1, body, body_len, (const char *)&abort_headers,
                              sizeof abort_headers, -1);
    count(METRIC_ABORTS);
}

static void record_wait(uint64_t started_ns, uint64_t now)
{
    uint64_t waited_ms = now > started_ns ? (now - started_ns + 500000) / 1000000 : 0;
    proxy_record_metric(metric_ids[METRIC_DELAY_DURATION], waited_ms);
}

/* ---- configuration ---- */

static char *get_property(const char *path, size_t path_len)
{
    char *value = NULL;
    size_t size = 0;
    if (proxy_get_property(path, path_len, &value, &size) != PROXY_OK || !value)
        return NULL;
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, value, size);
        text[size] = '\0';
    }
    free(value);
    return text;
}

static void select_rules(void)
{
    static const char workload_path[] = "node\0metadata\0WORKLOAD_NAME";
    static const char namespace_path[] = "node\0metadata\0NAMESPACE";
    char *workload = get_property(workload_path, sizeof workload_path - 1);
    char *ns = get_property(namespace_path, sizeof namespace_path - 1);
    hfi_rule_set_free(&active_rules);
    hfi_rule_set_build(&active_rules, config, workload, ns);
    free(workload);
    free(ns);
}

static bool apply_configuration(const char *json, size_t len)
{
    char err[256];
    struct text_buf t;
    char line[400];
    text_init(&t, line, sizeof line);
    struct hfi_config *next = hfi_config_parse(json, len, err, sizeof err);
    if (!next) {
        count(METRIC_CONFIG_ERRORS);
        text_append_str(&t, "hfi-fault: configuration rejected: ");
        text_append_str(&t, err);
        text_append_str(&t, "; keeping the previous ");
        text_append_u64(&t, config ? config->rule_count : 0);
        text_append_str(&t, " rules");
        log_text(PROXY_LOG_ERROR, &t);
        return false;
    }
    hfi_config_inherit_first_seen(next, config, now_ns());
    hfi_config_free(config);
    config = next;
    select_rules();
    proxy_record_metric(metric_ids[METRIC_POLICIES], active_rules.count);
    text_append_str(&t, "hfi-fault: configured ");
    text_append_u64(&t, config->rule_count);
    text_append_str(&t, " rules, ");
    text_append_u64(&t, active_rules.count);
    text_append_str(&t, " for this workload; header faults ");
    text_append_str(&t, config->header_faults.enabled ? "on" : "off");
    log_text(PROXY_LOG_INFO, &t);
    return true;
}

/* Room for one more element in a growing array; false when out of memory.
 * Inlined: the header lookup calls it on every request. */
static inline __attribute__((always_inline)) bool make_room(void **items, size_t count, size_t *capacity,
                                                           size_t element_size)
{
    if (count < *capacity)
        return true;
    size_t grown_capacity = *capacity ? *capacity * 2 : 8;
    void *grown = realloc(*items, grown_capacity * element_size);
    if (!grown)
        return false;
    *items = grown;
    *capacity = grown_capacity;
    return true;
}

/* ---- request header lookups, fetched once per request ---- */

struct fetched_header {
    const char *name;
    size_t name_len;
    char *value;
    size_t value_len;
    bool present;
};

static struct fetched_header *fetched;
static size_t fetched_count, fetched_capacity;

static const char *lookup_header(void *unused, const char *name, size_t name_len, size_t *value_len)
{
    (void)unused;
    for (size_t k = 0; k < fetched_count; k++) {
        struct fetched_header *f = &fetched[k];
        if (f->name_len == name_len && memcmp(f->name, name, name_len) == 0) {
            *value_len = f->value_len;
            return f->present ? (f->value ? f->value : "") : NULL;
        }
    }
    if (!make_room((void **)&fetched, fetched_count, &fetched_capacity, sizeof *fetched))
        return NULL;
    struct fetched_header *f = &fetched[fetched_count++];
    f->name = name;
    f->name_len = name_len;
    f->value = NULL;
    f->value_len = 0;
    f->present = proxy_get_header_map_value(PROXY_MAP_REQUEST_HEADERS, name, name_len, &f->value, &f->value_len) ==
                 PROXY_OK;
    *value_len = f->value_len;
    return f->present ? (f->value ? f->value : "") : NULL;
}

static void release_fetched(void)
{
    for (size_t k = 0; k < fetched_count; k++)
        free(fetched[k].value);
    fetched_count = 0;
}

static bool start_delay(uint32_t context_id, const struct hfi_decision *d, uint64_t now)
{
    if (!make_room((void **)&pending, pending_count, &pending_capacity, sizeof *pending))
        return false;
    struct pending_delay *p = &pending[pending_count];
    memset(p, 0, sizeof *p);
    p->context_id = context_id;
    p->started_ns = now;
    p->deadline_ns = now + (uint64_t)d->delay_ms * 1000000u;
    p->abort_after = d->abort;
    p->abort_status = d->abort_status;
    if (d->abort && d->abort_body) {
        p->abort_body = malloc(d->abort_body_len + 1);
        if (!p->abort_body)
            return false;
        memcpy(p->abort_body, d->abort_body, d->abort_body_len);
        p->abort_body_len = d->abort_body_len;
    }
    pending_count++;
    publish_active_delays();
    schedule_tick(now);
    return true;
}

/* ---- ABI exports ---- */

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id)
{
    if (parent_id == 0)
        root_context_id = context_id;
}

EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root_id, uint32_t vm_config_size)
{
    (void)root_id;
    (void)vm_config_size;
    define_metrics();
    if (wasi_random_get((uint8_t *)&rng.state, sizeof rng.state) != 0 || rng.state == 0)
        rng.state = now_ns() | 1;
    config = hfi_config_parse("", 0, NULL, 0);
    return config != NULL;
}

/* Always accepts: a rejected configuration must not take the plugin (and,
 * with FAIL_CLOSE, the traffic) down; the previous rules stay in force. */
EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, uint32_t config_size)
{
    (void)root_id;
    char *json = NULL;
    size_t len = 0;
    if (config_size &&
        proxy_get_buffer_bytes(PROXY_BUFFER_PLUGIN_CONFIGURATION, 0, config_size, &json, &len) != PROXY_OK) {
        struct text_buf t;
        char line[80];
        text_init(&t, line, sizeof line);
        text_append_str(&t, "hfi-fault: could not read the plugin configuration");
        log_text(PROXY_LOG_ERROR, &t);
        count(METRIC_CONFIG_ERRORS);
        return 1;
    }
    apply_configuration(json ? json : "", json ? len : 0);
    free(json);
    return 1;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t header_count, uint32_t end_of_stream)
{
    (void)header_count;
    (void)end_of_stream;
    if (!config || (!active_rules.count && !config->header_faults.enabled))
        return PROXY_ACTION_CONTINUE;
    struct hfi_decision d;
    bool inject = hfi_decide(config, &active_rules, lookup_header, NULL, now_ns, &rng, &d);
    release_fetched();
    if (!inject)
        return PROXY_ACTION_CONTINUE;
    uint64_t now = d.now_ns ? d.now_ns : now_ns();
    if (d.delay) {
        if (pending_count >= config->max_active_delays) {
            count(METRIC_OVERFLOW);
            return PROXY_ACTION_CONTINUE;
        }
        count(METRIC_DELAYS);
        if (d.delay_ms > 0) {
            if (start_delay(context_id, &d, now))
                return PROXY_ACTION_PAUSE;
            return PROXY_ACTION_CONTINUE; /* out of memory: fail open */
        }
        record_wait(now, now);
    }
    if (d.abort) {
        send_abort(d.abort_status, d.abort_body, d.abort_body_len);
        return PROXY_ACTION_PAUSE;
    }
    return PROXY_ACTION_CONTINUE;
}

EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root_id)
{
    uint64_t now = now_ns();
    size_t k = 0;
    while (k < pending_count) {
        struct pending_delay *p = &pending[k];
        if (p->deadline_ns > now) {
            k++;
            continue;
        }
        if (proxy_set_effective_context(p->context_id) == PROXY_OK) {
            record_wait(p->started_ns, now);
            if (p->abort_after)
                send_abort(p->abort_status, p->abort_body, p->abort_body_len);
            else
                proxy_continue_stream(PROXY_STREAM_REQUEST);
        }
        drop_pending(k);
    }
    proxy_set_effective_context(root_id);
    schedule_tick(now);
}

/* A stream that ends or is reset while paused must never be resumed. */
static void forget_stream(uint32_t context_id)
{
    for (size_t k = 0; k < pending_count; k++) {
        if (pending[k].context_id == context_id) {
            drop_pending(k);
            schedule_tick(now_ns());
            return;
        }
    }
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id)
{
    if (context_id != root_context_id)
        forget_stream(context_id);
    return 1;
}

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id)
{
    if (context_id != root_context_id)
        forget_stream(context_id);
}
