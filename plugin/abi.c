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

/* ---- state ----
 * Envoy creates a new root context in the same VM for every configuration
 * change and keeps the old one until the last stream that started under it
 * ends (proxy-wasm-cpp-host src/wasm.cc: WasmBase::start keys root contexts
 * by plugin configuration; ~PluginHandleBase calls startShutdown). Timers
 * belong to a root (src/context.cc, ContextBase::setTimerPeriod). So what
 * belongs to one configuration lives in its root: the rules, the delays its
 * streams wait on, its tick. What must outlive a change lives in the VM: the
 * metrics, the sampler, and the last good configuration, whose first-seen
 * times the next one inherits. */

struct pending_delay {
    uint32_t context_id;
    bool abort_after;
    uint32_t abort_status;
    uint64_t started_ns, deadline_ns;
    char *abort_body; /* a copy: the root's configuration may go first */
    size_t abort_body_len;
};

/* One configuration, shared by the roots that run it. */
struct shared_config {
    struct hfi_config *config;
    unsigned refs;
};

struct root {
    struct root *next;
    uint32_t id;
    struct shared_config *config; /* NULL until configured */
    struct hfi_rule_set rules;    /* the rules selecting this workload */
    struct pending_delay *pending;
    size_t pending_count, pending_capacity;
    uint32_t tick_period_ms;
    uint64_t next_change_ns; /* when a rule next enters or leaves its window */
};

static struct root *roots;
/* The root configured last: the one new streams run under, and the one that
 * keeps the policies gauge. */
static struct root *current_root;
static struct shared_config *last_good;
static struct hfi_rng rng;
static bool vm_started;
static size_t active_delays; /* over every root: max_active_delays caps the VM */

/* The stream created last and its root. Envoy creates a stream's context in
 * the same call that hands it the request headers (source/extensions/common/
 * wasm/context.cc, Context::decodeHeaders: onCreate, then onRequestHeaders),
 * so this is the stream a headers callback is for; a host that created
 * contexts ahead would get the current root's rules. */
static uint32_t created_stream_id;
static struct root *created_stream_root;
/* Context ids only grow, so a context newer than the newest root is a
 * stream: the common case at the end of every request needs no search. */
static uint32_t newest_root_id;

/* Ticks at most every 10 ms while delays wait, and at the moment a rule
 * enters or leaves its window (re-armed at least hourly for far ones). */
#define TICK_MAX_MS 10u
#define CHANGE_TICK_MAX_MS 3600000u

static uint64_t now_ns(void)
{
    uint64_t t = 0;
    proxy_get_current_time_nanoseconds(&t);
    return t;
}

static struct root *find_root(uint32_t id)
{
    struct root *r = roots;
    while (r && r->id != id)
        r = r->next;
    return r;
}

static void config_release(struct shared_config *c)
{
    if (c && --c->refs == 0) {
        hfi_config_free(c->config);
        free(c);
    }
}

/* The host sets the timer of the effective context's root: callers run
 * with root (or one of its streams) effective. */
static void set_tick(struct root *root, uint32_t period_ms)
{
    if (period_ms != root->tick_period_ms) {
        root->tick_period_ms = period_ms;
        proxy_set_tick_period_milliseconds(period_ms);
    }
}

static uint32_t ms_until(uint64_t then, uint64_t now, uint32_t max_ms)
{
    uint64_t ms = then > now ? (then - now + 999999) / 1000000 : 1;
    return ms > max_ms ? max_ms : (uint32_t)ms;
}

static void schedule_tick(struct root *root, uint64_t now)
{
    uint32_t period = 0;
    if (root == current_root && root->next_change_ns != UINT64_MAX)
        period = ms_until(root->next_change_ns, now, CHANGE_TICK_MAX_MS);
    if (root->pending_count) {
        uint64_t earliest = root->pending[0].deadline_ns;
        for (size_t k = 1; k < root->pending_count; k++)
            if (root->pending[k].deadline_ns < earliest)
                earliest = root->pending[k].deadline_ns;
        uint32_t wait = ms_until(earliest, now, TICK_MAX_MS);
        if (!period || wait < period)
            period = wait;
    }
    set_tick(root, period);
}

/* The policies gauge counts the current root's rules in force now. It is
 * set when a configuration is applied and by the root's tick at the moment a
 * rule enters or leaves its window, so a scrape sees it exact whether or not
 * requests arrive. Every VM of a sidecar computes the same count from the
 * same configuration and clock, so the gauge they share is set, not added. */
static void publish_in_force(struct root *root, uint64_t now)
{
    size_t in_force = hfi_rule_set_in_force(&root->rules, now, &root->next_change_ns);
    proxy_record_metric(metric_ids[METRIC_POLICIES], in_force);
}

/* Serialized header map {"x-hfi-fault": "abort"}: u32 count, u32 key and
 * value lengths, then the NUL-terminated key and value, little-endian. It
 * must end exactly at its size: the host drops every header of a map with
 * a byte left over (proxy-wasm-cpp-host src/pairs_util.cc, toPairs). */
static const char abort_headers[] = "\1\0\0\0"
                                    "\13\0\0\0"
                                    "\5\0\0\0"
                                    "x-hfi-fault\0abort";
#define ABORT_HEADERS_SIZE sizeof abort_headers /* the literal's own NUL ends the value */
_Static_assert(ABORT_HEADERS_SIZE == 4 + 8 + sizeof "x-hfi-fault" + sizeof "abort", "abort header map size");

static const char default_abort_body[] = "fault filter abort";

static void send_abort(uint32_t status, const char *body, size_t body_len)
{
    static const char details[] = "hfi_fault_abort";
    if (!body) {
        body = default_abort_body;
        body_len = sizeof default_abort_body - 1;
    }
    proxy_send_local_response(status, details, sizeof details - 1, body, body_len, abort_headers, ABORT_HEADERS_SIZE,
                              -1);
    count(METRIC_ABORTS);
}

static void record_wait(uint64_t started_ns, uint64_t now)
{
    uint64_t waited_ms = now > started_ns ? (now - started_ns + 500000) / 1000000 : 0;
    proxy_record_metric(metric_ids[METRIC_DELAY_DURATION], waited_ms);
}

static void drop_pending(struct root *root, size_t k)
{
    free(root->pending[k].abort_body);
    root->pending[k] = root->pending[--root->pending_count];
    active_delays--;
    /* Added, not set: each worker VM holds its own delays, and the gauge
     * they share by name is their sum (Envoy context.cc incrementMetric
     * adds to a gauge, recordMetric sets it). */
    proxy_increment_metric(metric_ids[METRIC_ACTIVE_DELAYS], -1);
}

/* Ends the k-th delay of root as its deadline would: the stream goes on, or
 * gets the abort that was to follow. */
static void finish_delay(struct root *root, size_t k, uint64_t now)
{
    struct pending_delay *p = &root->pending[k];
    if (proxy_set_effective_context(p->context_id) == PROXY_OK) {
        record_wait(p->started_ns, now);
        if (p->abort_after)
            send_abort(p->abort_status, p->abort_body, p->abort_body_len);
        else
            proxy_continue_stream(PROXY_STREAM_REQUEST);
    }
    drop_pending(root, k);
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

static void select_rules(struct root *root)
{
    static const char workload_path[] = "node\0metadata\0WORKLOAD_NAME";
    static const char namespace_path[] = "node\0metadata\0NAMESPACE";
    char *workload = get_property(workload_path, sizeof workload_path - 1);
    char *ns = get_property(namespace_path, sizeof namespace_path - 1);
    hfi_rule_set_free(&root->rules);
    hfi_rule_set_build(&root->rules, root->config->config, workload, ns);
    free(workload);
    free(ns);
}

static struct shared_config *share(struct hfi_config *config)
{
    struct shared_config *c = config ? malloc(sizeof *c) : NULL;
    if (c) {
        c->config = config;
        c->refs = 1;
    } else {
        hfi_config_free(config);
    }
    return c;
}

/* An invalid or unreadable configuration leaves the last good one in force,
 * whole: the new root runs it, and Envoy is told the configuration was taken
 * (see proxy_on_configure). Without a last good one (the first
 * configuration of this VM) the root runs an empty configuration: no faults.
 * json NULL: the host could not hand the configuration over. Out of
 * memory, the root keeps what it had. */
static void apply_configuration(struct root *root, const char *json, size_t len)
{
    char err[256];
    struct text_buf t;
    char line[400];
    text_init(&t, line, sizeof line);
    uint64_t now = now_ns();
    struct hfi_config *parsed = json ? hfi_config_parse(json, len, err, sizeof err) : NULL;
    if (parsed) {
        hfi_config_inherit_first_seen(parsed, last_good ? last_good->config : NULL, now);
        struct shared_config *next = share(parsed);
        if (!next)
            return;
        config_release(last_good);
        last_good = next;
        text_append_str(&t, "hfi-fault: configured ");
        text_append_u64(&t, parsed->rule_count);
        text_append_str(&t, " rules, ");
    } else {
        count(METRIC_CONFIG_ERRORS);
        text_append_str(&t, json ? "hfi-fault: configuration rejected: " : "hfi-fault: could not read the plugin "
                                                                             "configuration");
        text_append_str(&t, json ? err : "");
        text_append_str(&t, "; keeping the previous ");
        text_append_u64(&t, last_good ? last_good->config->rule_count : 0);
        text_append_str(&t, " rules");
        log_text(PROXY_LOG_ERROR, &t);
        if (!last_good && !(last_good = share(hfi_config_parse("", 0, NULL, 0))))
            return;
    }
    last_good->refs++;
    config_release(root->config);
    root->config = last_good;
    select_rules(root);
    current_root = root;
    publish_in_force(root, now);
    schedule_tick(root, now);
    if (parsed) {
        text_append_u64(&t, root->rules.count);
        text_append_str(&t, " for this workload; header faults ");
        text_append_str(&t, parsed->header_faults.enabled ? "on" : "off");
        log_text(PROXY_LOG_INFO, &t);
    }
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

static bool start_delay(struct root *root, uint32_t context_id, const struct hfi_decision *d, uint64_t now)
{
    if (!make_room((void **)&root->pending, root->pending_count, &root->pending_capacity, sizeof *root->pending))
        return false;
    struct pending_delay *p = &root->pending[root->pending_count];
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
    root->pending_count++;
    active_delays++;
    proxy_increment_metric(metric_ids[METRIC_ACTIVE_DELAYS], 1);
    schedule_tick(root, now);
    return true;
}

/* ---- ABI exports ---- */

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id)
{
    if (parent_id) {
        created_stream_id = context_id;
        created_stream_root = current_root && current_root->id == parent_id ? current_root : find_root(parent_id);
        return;
    }
    /* Envoy starts a root again when the same configuration comes back
     * while its root lives (src/wasm.cc, WasmBase::start): the same root. */
    struct root *root = find_root(context_id) ? NULL : calloc(1, sizeof *root);
    if (root) {
        newest_root_id = context_id;
        root->id = context_id;
        root->next = roots;
        roots = root;
    }
}

/* Runs once per root context, not once per VM: metrics and the sampler are
 * set up by the first. */
EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root_id, uint32_t vm_config_size)
{
    (void)vm_config_size;
    if (!vm_started) {
        vm_started = true;
        define_metrics();
        if (wasi_random_get((uint8_t *)&rng.state, sizeof rng.state) != 0 || rng.state == 0)
            rng.state = now_ns() | 1;
    }
    return find_root(root_id) != NULL;
}

/* Accepts every configuration, valid or not (an invalid one is counted,
 * logged, and leaves the last good one in force): returning 0 would make
 * Envoy's canary refuse the update, and on a first load (a new pod) refuse
 * the plugin, which under failStrategy FAIL_CLOSE stops all traffic. */
EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, uint32_t config_size)
{
    struct root *root = find_root(root_id);
    char *json = NULL;
    size_t len = 0;
    if (!root)
        return 1;
    bool readable = !config_size ||
                    proxy_get_buffer_bytes(PROXY_BUFFER_PLUGIN_CONFIGURATION, 0, config_size, &json, &len) == PROXY_OK;
    apply_configuration(root, readable ? (json ? json : "") : NULL, json ? len : 0);
    free(json);
    return 1;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t header_count, uint32_t end_of_stream)
{
    (void)header_count;
    (void)end_of_stream;
    struct root *root = context_id == created_stream_id ? created_stream_root : current_root;
    if (!root || !root->config)
        return PROXY_ACTION_CONTINUE;
    const struct hfi_config *config = root->config->config;
    if (!root->rules.count && !config->header_faults.enabled)
        return PROXY_ACTION_CONTINUE;
    struct hfi_decision d;
    bool inject = hfi_decide(config, &root->rules, lookup_header, NULL, now_ns, &rng, &d);
    release_fetched();
    if (!inject)
        return PROXY_ACTION_CONTINUE;
    uint64_t now = d.now_ns ? d.now_ns : now_ns();
    if (d.delay) {
        if (active_delays >= config->max_active_delays) {
            count(METRIC_OVERFLOW);
            return PROXY_ACTION_CONTINUE;
        }
        count(METRIC_DELAYS);
        if (d.delay_ms > 0) {
            if (start_delay(root, context_id, &d, now))
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

/* Each root's tick resumes the delays of the streams that started under it
 * (Envoy ticks only the root that set the timer: wasm.cc, Wasm::tickHandler),
 * and the current root's tick keeps the policies gauge. */
EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root_id)
{
    struct root *root = find_root(root_id);
    if (!root)
        return;
    uint64_t now = now_ns();
    size_t k = 0;
    while (k < root->pending_count) {
        if (root->pending[k].deadline_ns > now)
            k++;
        else
            finish_delay(root, k, now);
    }
    proxy_set_effective_context(root_id);
    if (root == current_root && now >= root->next_change_ns)
        publish_in_force(root, now);
    schedule_tick(root, now);
}

/* A stream that ends or is reset while paused must never be resumed. */
static void forget_stream(uint32_t context_id)
{
    if (!active_delays)
        return; /* the common case, on every request */
    for (struct root *root = roots; root; root = root->next) {
        for (size_t k = 0; k < root->pending_count; k++) {
            if (root->pending[k].context_id == context_id) {
                drop_pending(root, k);
                schedule_tick(root, now_ns());
                return;
            }
        }
    }
}

/* A root that goes away first resumes the streams still waiting on it, as
 * if their delays had ended: nothing else would ever resume them. */
static void release_root_delays(struct root *root)
{
    uint64_t now = now_ns();
    while (root->pending_count)
        finish_delay(root, root->pending_count - 1, now);
    proxy_set_effective_context(root->id);
    set_tick(root, 0);
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id)
{
    struct root *root = context_id > newest_root_id ? NULL : find_root(context_id);
    if (root)
        release_root_delays(root);
    else
        forget_stream(context_id);
    return 1;
}

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id)
{
    if (context_id > newest_root_id) {
        forget_stream(context_id);
        return;
    }
    struct root **link = &roots;
    while (*link && (*link)->id != context_id)
        link = &(*link)->next;
    struct root *root = *link;
    if (!root) {
        forget_stream(context_id);
        return;
    }
    /* Its delays were ended in proxy_on_done, which the host calls first
     * (proxy-wasm-cpp-host src/wasm.cc, WasmBase::startShutdown). */
    *link = root->next;
    if (current_root == root)
        current_root = NULL;
    if (created_stream_root == root)
        created_stream_root = NULL;
    hfi_rule_set_free(&root->rules);
    config_release(root->config);
    free(root->pending);
    free(root);
}
