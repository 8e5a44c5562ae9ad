/* A proxy-wasm ABI 0.2.1 host for wasm2c-translated modules, with the
 * semantics of proxy-wasm-cpp-host (the host library Envoy embeds), so that
 * tests and meshsim run the real .wasm the way a sidecar would.
 *
 * One `struct pw_vm` is one Envoy VM with its plugin: the module instance,
 * its root contexts (one per configuration, as Envoy makes them), the stream
 * contexts, a clock, metrics, properties and a log ring. Everything lives in
 * the pw_vm, so a process can hold thousands of them. A `struct pw_proxy`
 * is a sidecar's worth: worker VMs sharing stats by name, and a canary VM
 * that tries each new configuration first. The wasm2c runtime keeps its
 * trap state in globals: use the host from one thread.
 *
 * Typical test:
 *
 *     char err[256];
 *     struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, "build/hfi-fault.wasm", err, sizeof err);
 *     pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
 *     pw_vm_start(vm, "{\"policies\": []}");
 *     struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
 *     pw_advance(vm, 500 * PW_MS);            // ticks; paused streams may resume
 *     pw_stream_get(vm, r.context_id)->state; // PW_STREAM_CONTINUED?
 *     pw_stream_complete(vm, r.context_id);   // on_done, on_log, on_delete
 *     pw_metric_find(vm, "wasmcustom.hfi_faults_delays_total")->value;
 *     pw_log_find(vm, "policies");
 *     pw_vm_free(vm);
 */
#ifndef PW_HOST_H
#define PW_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm-rt.h"

#define PW_MS UINT64_C(1000000)
#define PW_SECOND UINT64_C(1000000000)

/* ---- Binding a wasm2c-translated module ------------------------------------
 * wasm2c gives every module its own instance type and export functions. The
 * host reaches them through this table, defined as pw_module_<name> by
 * tests/host/module.c, which host.mk compiles once per module
 * (pwhost_module). An export the module lacks is NULL. */

struct Z_env_instance_t;
struct Z_wasi_snapshot_preview1_instance_t;

/* The exports the host calls, each taking the module instance first. */
struct pw_exports {
    wasm_rt_memory_t *(*memory)(void *instance);
    void (*initialize)(void *instance);
    void (*start)(void *instance);
    uint32_t (*malloc)(void *instance, uint32_t size);
    uint32_t (*on_memory_allocate)(void *instance, uint32_t size);
    void (*on_context_create)(void *instance, uint32_t context_id, uint32_t parent_id);
    uint32_t (*on_vm_start)(void *instance, uint32_t root_id, uint32_t vm_config_size);
    uint32_t (*on_configure)(void *instance, uint32_t root_id, uint32_t config_size);
    void (*on_tick)(void *instance, uint32_t root_id);
    uint32_t (*on_request_headers)(void *instance, uint32_t context_id, uint32_t n_headers, uint32_t end_of_stream);
    uint32_t (*on_done)(void *instance, uint32_t context_id);
    void (*on_log)(void *instance, uint32_t context_id);
    void (*on_delete)(void *instance, uint32_t context_id);
};

struct pw_module {
    const char *name;
    size_t instance_size;
    void (*init_once)(void); /* wasm2c's per-process module setup */
    void (*instantiate)(void *instance, struct Z_env_instance_t *env,
                        struct Z_wasi_snapshot_preview1_instance_t *wasi);
    void (*free)(void *instance);
    void (*bind)(struct pw_exports *out); /* fills the exports, NULL where absent */
};

#define PW_MODULE_DECLARE(name) extern const struct pw_module pw_module_##name

/* The modules host.mk builds and binds. */
PW_MODULE_DECLARE(hfi_fault);   /* build/hfi-fault.wasm, the plugin */
PW_MODULE_DECLARE(passthrough); /* build/passthrough.wasm, continues every request */

/* ---- Load checks ------------------------------------------------------------
 * What proxy-wasm-cpp-host refuses at load, checked on the .wasm bytes: the
 * export proxy_abi_version_0_2_1, an allocator (malloc, else
 * proxy_on_memory_allocate), a memory export, every import known to this host
 * with the same signature, every known export with its expected signature. */

enum pw_export_bit {
    PW_EXPORT_MEMORY = 1u << 0,
    PW_EXPORT_INITIALIZE = 1u << 1,
    PW_EXPORT_START = 1u << 2,
    PW_EXPORT_MALLOC = 1u << 3,
    PW_EXPORT_ON_MEMORY_ALLOCATE = 1u << 4,
    PW_EXPORT_ON_CONTEXT_CREATE = 1u << 5,
    PW_EXPORT_ON_VM_START = 1u << 6,
    PW_EXPORT_ON_CONFIGURE = 1u << 7,
    PW_EXPORT_ON_TICK = 1u << 8,
    PW_EXPORT_ON_REQUEST_HEADERS = 1u << 9,
    PW_EXPORT_ON_DONE = 1u << 10,
    PW_EXPORT_ON_LOG = 1u << 11,
    PW_EXPORT_ON_DELETE = 1u << 12,
};

struct pw_wasm_report {
    bool ok;
    char error[256];        /* why the module is refused */
    uint32_t bound_exports; /* pw_export_bit set for each export struct pw_exports holds */
};

/* Pure: parses (wasm, len) and never reads past len. */
bool pw_validate(const uint8_t *wasm, size_t len, struct pw_wasm_report *out);

/* The export name of the lowest pw_export_bit in bits, "" if none. */
const char *pw_export_name(uint32_t bits);

/* The imports this host implements: module, name and wasm signature written
 * "params:results" with i = i32, I = i64 ("iI:i" is (i32, i64) -> i32);
 * for tests that keep the table and the code in step. */
size_t pw_host_import_count(void);
bool pw_host_import(size_t i, const char **module, const char **name, const char **signature);

/* ---- A VM ------------------------------------------------------------------ */

struct pw_vm;

/* Validates the .wasm the module was translated from, instantiates the
 * linked module and checks both export the same functions. Runs no module
 * code yet, so properties can be set first. NULL with a message in err. */
struct pw_vm *pw_vm_new(const struct pw_module *module, const uint8_t *wasm, size_t wasm_len, char *err,
                        size_t err_size);
struct pw_vm *pw_vm_new_from_file(const struct pw_module *module, const char *wasm_path, char *err,
                                  size_t err_size);
void pw_vm_free(struct pw_vm *vm);

/* Bytes served as the VM configuration (buffer type 6); set before start. */
void pw_set_vm_config(struct pw_vm *vm, const char *config, size_t len);

/* The load sequence: _initialize, then the first root context as
 * pw_vm_configure makes it. config is the plugin configuration (buffer type
 * 7), NUL-terminated, NULL for none. True when both callbacks returned
 * true. A false proxy_on_vm_start fails the VM (Envoy drops it); a false
 * proxy_on_configure only refuses that configuration: the VM then has no
 * root, and streams fail (the embedder's failStrategy decides). */
bool pw_vm_start(struct pw_vm *vm, const char *config);
/* A new plugin configuration, as Envoy applies one in a running VM (ECDS):
 * a new root context with a fresh id from the stream id sequence, given
 * proxy_on_context_create(root, 0), proxy_on_vm_start and
 * proxy_on_configure. Accepted (true), new streams start under it and the
 * previous root gets proxy_on_done and proxy_on_delete once its last stream
 * has ended (at once if it has none); refused, the new root is shut down
 * that way and the previous one stays. Timers are per root: each ticks
 * until its root is deleted. */
bool pw_vm_configure(struct pw_vm *vm, const char *config);
/* Shuts every root down as Envoy does when a VM goes (a listener drained,
 * the server stopping: proxy-wasm-cpp-host src/wasm.cc,
 * WasmBase::startShutdown), streams or not: proxy_on_done, then
 * proxy_on_delete once it agreed. Live streams stay, to be ended; no new
 * one starts. */
void pw_vm_shutdown(struct pw_vm *vm);
/* The root new streams start under (0 when none), and how many roots live. */
uint32_t pw_vm_current_root(const struct pw_vm *vm);
size_t pw_vm_root_count(const struct pw_vm *vm);

/* The module's linear memory, in bytes: it only grows. */
size_t pw_vm_memory_bytes(const struct pw_vm *vm);

/* Makes vm keep its stats in with's store, by name, as Envoy's VM copies
 * share one stats scope; before vm defines any metric (before start). */
void pw_vm_share_stats(struct pw_vm *vm, const struct pw_vm *with);

/* A trap or a fatal WASI call (proc_exit, fd_close, fd_seek) fails the VM
 * for good: every later call is refused, as in Envoy, which then fails open
 * or closed by its own policy. */
bool pw_vm_failed(const struct pw_vm *vm);
const char *pw_vm_error(const struct pw_vm *vm); /* "" while healthy */

/* ABI misuse Envoy would let pass but that is a bug: resuming a deleted or
 * non-paused context, a gauge going negative; and calls into the VM from a
 * callback made while its module runs. Each is also logged as an error
 * starting with "host: misuse: ". Tests assert the count stays 0. */
unsigned pw_vm_misuse_count(const struct pw_vm *vm);
const char *pw_vm_last_misuse(const struct pw_vm *vm); /* "" if none */

/* ---- Properties ------------------------------------------------------------
 * proxy_get_property looks a path up exactly; a path is NUL-separated
 * segments on the wire. pw_set_property takes it dotted
 * ("node.metadata.WORKLOAD_NAME"); pw_set_property_path takes the wire form,
 * for segments holding dots and for binary values. */
void pw_set_property(struct pw_vm *vm, const char *dotted_path, const char *value);
void pw_set_property_path(struct pw_vm *vm, const char *path, size_t path_len, const void *value, size_t value_len);

/* ---- Time and ticks ---------------------------------------------------------
 * The clock proxy_get_current_time_nanoseconds and WASI clock_time_get read:
 * wall time since the Unix epoch, as Envoy's. It starts at
 * PW_DEFAULT_START_NS (2023-11-14T22:13:20Z) and moves only when told. */
#define PW_DEFAULT_START_NS (UINT64_C(1700000000) * PW_SECOND)
uint64_t pw_now(const struct pw_vm *vm);
void pw_set_time(struct pw_vm *vm, uint64_t now_ns); /* no ticks */
/* Moves the clock by ns, calling proxy_on_tick(root) once for every tick
 * period of each root's timer that ends on the way, in time order, with the
 * clock set to that moment, so that deadlines the plugin computes from the
 * clock expire when they would in a sidecar. A tick period set inside a tick
 * counts from that tick. */
void pw_advance(struct pw_vm *vm, uint64_t ns);
uint32_t pw_tick_period_ms(const struct pw_vm *vm); /* the current root's */
uint64_t pw_next_tick_ns(const struct pw_vm *vm);   /* the earliest of every root's; 0 when none is set */
uint64_t pw_root_next_tick_ns(const struct pw_vm *vm, uint32_t root_id);

/* ---- Streams ----------------------------------------------------------------- */

struct pw_header {
    const char *name;
    const char *value;
};

enum pw_stream_state {
    PW_STREAM_UNKNOWN,     /* no such live stream */
    PW_STREAM_CONTINUED,   /* headers went on (at once, or resumed later) */
    PW_STREAM_PAUSED,      /* stopped; waits for proxy_continue_stream */
    PW_STREAM_LOCAL_REPLY, /* the module answered with proxy_send_local_response */
    PW_STREAM_CLOSED,      /* the module called proxy_close_stream */
    PW_STREAM_FAILED,      /* the VM failed during the stream */
};

struct pw_local_reply {
    uint32_t status;
    const char *body; /* NUL-terminated copies */
    size_t body_len;
    const char *details;
    int32_t grpc_status;     /* -1: none */
    const struct pw_header *headers;
    size_t n_headers;
};

struct pw_stream {
    uint32_t context_id;
    enum pw_stream_state state;
    uint64_t started_ns; /* clock at pw_stream_start */
    uint64_t changed_ns; /* clock at the last state change: when a delayed stream resumed */
    const struct pw_local_reply *reply; /* set in PW_STREAM_LOCAL_REPLY */
};

struct pw_stream_result {
    uint32_t context_id; /* 0 when the VM had failed before the stream */
    enum pw_stream_state state;
    const struct pw_local_reply *reply; /* valid until the stream ends */
};

/* A new stream context (parent: the current root) gets proxy_on_context_create and
 * proxy_on_request_headers(ctx, n, end_of_stream=1) with these request
 * headers (names lower-cased, e.g. ":method", ":path", ":authority").
 * The result says whether it continued, paused, got a local reply (which
 * stops the stream whatever the module returned) or was closed; FAILED with
 * context 0 if the VM had failed or was not started. Every stream with a
 * context id is ended later with pw_stream_complete or pw_stream_reset. */
struct pw_stream_result pw_stream_start(struct pw_vm *vm, const struct pw_header *headers, size_t n_headers);
/* The live stream's record, NULL once ended or never started. */
const struct pw_stream *pw_stream_get(const struct pw_vm *vm, uint32_t context_id);
/* The request header as the module left it (add/replace/remove), or NULL. */
const char *pw_stream_header(const struct pw_vm *vm, uint32_t context_id, const char *name);
/* Ends a stream: proxy_on_done, proxy_on_log, proxy_on_delete, the order
 * Envoy uses at the end of a stream, reset or not. A context ended here must
 * never be resumed; the host counts it as misuse if the module tries.
 * complete is for a stream that went on (continued or answered locally):
 * false for a paused one, which can only be reset. */
bool pw_stream_complete(struct pw_vm *vm, uint32_t context_id);
bool pw_stream_reset(struct pw_vm *vm, uint32_t context_id);
size_t pw_stream_count(const struct pw_vm *vm);
/* Live streams in a state, up to max ids, in start order; the total. */
size_t pw_streams_in_state(const struct pw_vm *vm, enum pw_stream_state state, uint32_t *ids, size_t max);
/* Called after a module callback returns, for each stream whose state the
 * module changed outside its own headers callback (a delay resumed from the
 * tick, a delayed local reply, a close, a VM failure). It may call back
 * into the host (end the stream, start another), but not free the VM. */
typedef void pw_stream_event_fn(void *user, uint32_t context_id, enum pw_stream_state state);
void pw_set_stream_event(struct pw_vm *vm, pw_stream_event_fn *fn, void *user);
/* A header of a local reply, or NULL. */
const char *pw_local_reply_header(const struct pw_local_reply *reply, const char *name);

/* ---- Metrics ------------------------------------------------------------------
 * proxy_define_metric registers a stat in Envoy's `wasmcustom` namespace;
 * the same name and type give the same id. Counter increments must be > 0,
 * a histogram only records, proxy_get_metric on a histogram is BadArgument. */

enum pw_metric_type { PW_COUNTER = 0, PW_GAUGE = 1, PW_HISTOGRAM = 2 };

/* Envoy's default histogram bucket bounds; the last bucket is +Inf. */
#define PW_HISTOGRAM_BOUNDS 19
extern const double pw_histogram_bounds[PW_HISTOGRAM_BOUNDS];

struct pw_metric {
    const char *name; /* as passed to proxy_define_metric; owned by the VM */
    enum pw_metric_type type;
    int64_t value; /* counter or gauge */
    /* histogram: */
    uint64_t count;
    uint64_t sum;
    uint64_t buckets[PW_HISTOGRAM_BOUNDS + 1]; /* cumulative: samples <= bound i; the last is count */
    /* The most recent samples, read with pw_metric_sample: a ring of
     * PW_HISTOGRAM_SAMPLES that stays put while the VM lives, so a copy of
     * this struct can read it too. */
    const uint64_t *samples;
    size_t n_samples, oldest_sample;
};

const struct pw_metric *pw_metric_find(const struct pw_vm *vm, const char *name);
size_t pw_metric_count(const struct pw_vm *vm);
const struct pw_metric *pw_metric_at(const struct pw_vm *vm, size_t i); /* definition order */
#define PW_HISTOGRAM_SAMPLES 1024
size_t pw_metric_sample_count(const struct pw_metric *metric);
uint64_t pw_metric_sample(const struct pw_metric *metric, size_t i); /* 0 is the oldest kept */
/* The stat name Envoy shows on /stats: "wasmcustom." + name (envoy
 * source/extensions/common/wasm/context.cc, Context::defineMetric).
 * Writes a NUL-terminated string; returns its length. */
size_t pw_metric_envoy_name(const struct pw_metric *metric, char *out, size_t out_size);

/* ---- Logs ----------------------------------------------------------------------
 * proxy_log lines at or above the log level (proxy_get_log_level), and WASI
 * writes to stdout (info) and stderr (error), kept in a ring of the last
 * PW_LOG_RING entries. */

enum pw_log_level { PW_LOG_TRACE, PW_LOG_DEBUG, PW_LOG_INFO, PW_LOG_WARN, PW_LOG_ERROR, PW_LOG_CRITICAL };
#define PW_LOG_RING 512

void pw_set_log_level(struct pw_vm *vm, enum pw_log_level level); /* default PW_LOG_INFO, as Envoy's */
/* The newest entry containing needle, or NULL. */
const char *pw_log_find(const struct pw_vm *vm, const char *needle);
size_t pw_log_count(const struct pw_vm *vm);
const char *pw_log_at(const struct pw_vm *vm, size_t i, enum pw_log_level *level); /* oldest first */
void pw_log_clear(struct pw_vm *vm);
/* Also hands each new entry to fn (e.g. to print it); fn must not call into
 * this VM. */
typedef void pw_log_fn(void *user, enum pw_log_level level, const char *text);
void pw_set_log_sink(struct pw_vm *vm, pw_log_fn *fn, void *user);

/* ---- Randomness ---------------------------------------------------------------
 * WASI random_get draws from a generator seeded per VM (default 1), so tests
 * are repeatable; meshsim seeds each sidecar differently. */
void pw_set_random_seed(struct pw_vm *vm, uint64_t seed);

/* ---- A proxy: worker VMs and a canary per configuration ------------------------
 * What Envoy does with one Wasm plugin. Each worker thread runs its own copy
 * of the VM (proxy-wasm-cpp-host src/wasm.cc, getOrCreateThreadLocalPlugin),
 * all defining their metrics in one stats store by name, so a sidecar's
 * value is the sum over workers. Every new configuration, the first one
 * included, is first started and configured on a fresh canary copy (same
 * store: its increments count too) and refused if proxy_on_configure returns
 * false there (src/wasm.cc, WasmHandleBase::canary; Envoy then rejects the
 * update and keeps the previous plugin); the verdict is kept, so a
 * configuration that comes back is not tried again. Accepted, it becomes a new root
 * context in every worker (pw_vm_configure). The same configuration again
 * is the same plugin: nothing happens. */

struct pw_proxy;

/* workers >= 1 VMs of module, validated against wasm; none started yet. */
struct pw_proxy *pw_proxy_new(const struct pw_module *module, const uint8_t *wasm, size_t wasm_len,
                              size_t workers, char *err, size_t err_size);
void pw_proxy_free(struct pw_proxy *proxy);
size_t pw_proxy_worker_count(const struct pw_proxy *proxy);
struct pw_vm *pw_proxy_worker(const struct pw_proxy *proxy, size_t i);
/* Set on every worker and every later canary; before the first configure. */
void pw_proxy_set_property(struct pw_proxy *proxy, const char *dotted_path, const char *value);
void pw_proxy_set_random_seed(struct pw_proxy *proxy, uint64_t seed); /* worker i gets seed + i */
/* Every worker's and canary's log lines go to fn too. */
void pw_proxy_set_log_sink(struct pw_proxy *proxy, pw_log_fn *fn, void *user);
/* The canary, then the workers. True when accepted (or unchanged). */
bool pw_proxy_configure(struct pw_proxy *proxy, const char *config);
unsigned pw_proxy_canary_runs(const struct pw_proxy *proxy);
/* One clock for all: ticks of every worker's roots run in time order. */
uint64_t pw_proxy_now(const struct pw_proxy *proxy);
void pw_proxy_set_time(struct pw_proxy *proxy, uint64_t now_ns);
void pw_proxy_advance(struct pw_proxy *proxy, uint64_t ns);
uint64_t pw_proxy_next_tick_ns(const struct pw_proxy *proxy); /* earliest over workers, 0 when none */

#endif
