/* The proxy-wasm ABI 0.2.1 host: the imports a module calls and the
 * embedder's API (host.h). Semantics follow proxy-wasm-cpp-host and Envoy's
 * context.cc; where this host is stricter (misuse records) host.h says so. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"
#include "wasm-rt-impl.h"
/* wasm2c's declarations of every import the host implements (translated
 * from tests/host/imports.wat): the compiler checks each definition below
 * against the C signature wasm2c expects. */
#include "pw_imports.h"

#define FIRST_CONTEXT_ID 1u
#define LOG_TEXT_MAX 4096

/* proxy_result_t */
enum { RESULT_OK = 0, RESULT_NOT_FOUND = 1, RESULT_BAD_ARGUMENT = 2, RESULT_INVALID_MEMORY_ACCESS = 6 };
/* WASI errno values */
enum {
    WASI_SUCCESS = 0,
    WASI_EBADF = 8,
    WASI_EFAULT = 21,
    WASI_EINVAL = 28,
    WASI_ENOENT = 44,
    WASI_ENOSYS = 52,
    WASI_ENOTSUP = 58,
};
#define WASI_RANDOM_MAX (64 * 1024) /* cpp-host's limit per random_get */
enum { MAP_REQUEST_HEADERS = 0 };
enum { BUFFER_REQUEST_BODY = 0, BUFFER_VM_CONFIGURATION = 6, BUFFER_PLUGIN_CONFIGURATION = 7, BUFFER_TYPE_MAX = 8 };
enum { STREAM_REQUEST = 0, STREAM_RESPONSE = 1 };
/* proxy_on_request_headers results that let the headers go on; every other
 * value stops all iteration (cpp-host turns StopIteration into StopAll). */
enum { HEADERS_CONTINUE = 0, HEADERS_CONTINUE_AND_END_STREAM = 2 };

const double pw_histogram_bounds[PW_HISTOGRAM_BOUNDS] = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
};

struct header_list {
    struct pw_header *items; /* name and value owned, names lower-case */
    size_t n, cap;
};

struct stream {
    struct pw_stream pub;
    uint32_t root_id; /* the root context it was created under */
    struct header_list headers;
    struct pw_local_reply reply;
    struct header_list reply_headers;
    bool in_headers_callback; /* state changes now are the callback's answer, not events */
    bool ending;              /* proxy_on_done/log/delete under way */
};

struct property {
    char *path; /* NUL-separated segments */
    size_t path_len;
    char *value;
    size_t value_len;
};

struct metric {
    struct pw_metric pub;
    uint64_t *samples; /* pub.samples, writable */
};

/* Stats by name, shared by every VM of one proxy. */
struct stats {
    struct metric **metrics;
    size_t n_metrics;
    unsigned refs;
};

/* A root context: one plugin configuration in this VM, with its own timer
 * (proxy-wasm-cpp-host src/context.cc, ContextBase::setTimerPeriod sets the
 * period of the calling context's root; Envoy's Wasm::tickHandler ticks only
 * that root). */
enum root_state {
    ROOT_ACTIVE,    /* new streams start under it */
    ROOT_REPLACED,  /* a newer configuration took over: shut down when its last stream ends */
    ROOT_DONE_WAIT, /* proxy_on_done answered false: deleted once the module calls proxy_done */
};

struct root {
    uint32_t id;
    enum root_state state;
    char *config; /* its plugin configuration, buffer type 7 */
    size_t config_len;
    uint32_t tick_period_ms;
    uint64_t next_tick_ns; /* 0: no timer */
    size_t n_streams;      /* live streams created under it */
};

struct log_entry {
    enum pw_log_level level;
    char *text;
};

struct Z_env_instance_t {
    struct pw_vm *vm;
};

struct Z_wasi_snapshot_preview1_instance_t {
    struct pw_vm *vm;
};

struct pw_vm {
    const struct pw_module *module;
    void *instance; /* zeroed before instantiation, so freeing it is always safe */
    struct pw_exports fn;
    wasm_rt_memory_t *memory; /* inside the instance; its data moves when it grows */
    struct Z_env_instance_t env;
    struct Z_wasi_snapshot_preview1_instance_t wasi;

    bool started;
    bool in_module;    /* a call into the module is running */
    bool in_allocator; /* the host is inside the module's malloc */
    bool failed;
    char error[256];
    unsigned misuse_count;
    char last_misuse[256];

    uint64_t now_ns;
    struct root **roots; /* live root contexts, oldest first */
    size_t n_roots, cap_roots;
    uint32_t current_root; /* the root new streams start under; 0 when none */
    uint32_t done_root;    /* a root whose proxy_done came during the current call */

    uint32_t next_context_id;
    uint32_t effective_id; /* the context imports act on; 0 outside callbacks */
    struct stream **streams; /* live streams in start order */
    size_t n_streams, cap_streams;
    uint32_t *events; /* streams whose state changed during the current call */
    size_t n_events, cap_events;
    pw_stream_event_fn *stream_event;
    void *stream_event_user;

    char *vm_config;
    size_t vm_config_len;
    struct property *properties;
    size_t n_properties;
    struct stats *stats;

    struct log_entry logs[PW_LOG_RING];
    size_t log_first, log_count;
    enum pw_log_level log_level;
    pw_log_fn *log_sink;
    void *log_user;

    uint64_t random_state;
    uint8_t *scratch; /* reused for serialized maps and gathered writes */
    size_t scratch_cap;
};

/* ---- Small helpers ---------------------------------------------------------- */

static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q) {
        fprintf(stderr, "pwhost: out of memory\n");
        abort();
    }
    return q;
}

static char *copy_bytes(const void *p, size_t len) {
    char *s = xrealloc(NULL, len + 1);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

#define GROW(array, count, cap)                                                   \
    do {                                                                          \
        if ((count) == (cap)) {                                                   \
            (cap) = (cap) ? 2 * (cap) : 8;                                        \
            (array) = xrealloc((array), (cap) * sizeof *(array));                 \
        }                                                                         \
    } while (0)

static uint8_t *scratch(struct pw_vm *vm, size_t len) {
    if (len > vm->scratch_cap) {
        vm->scratch_cap = len;
        vm->scratch = xrealloc(vm->scratch, len);
    }
    return vm->scratch;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- Logs, failure, misuse -------------------------------------------------- */

static void log_add(struct pw_vm *vm, enum pw_log_level level, const char *text, size_t len) {
    if (level < vm->log_level)
        return;
    if (len > LOG_TEXT_MAX)
        len = LOG_TEXT_MAX;
    struct log_entry *e;
    if (vm->log_count == PW_LOG_RING) {
        e = &vm->logs[vm->log_first];
        free(e->text);
        vm->log_first = (vm->log_first + 1) % PW_LOG_RING;
    } else {
        e = &vm->logs[(vm->log_first + vm->log_count++) % PW_LOG_RING];
    }
    e->level = level;
    e->text = copy_bytes(text, len);
    if (vm->log_sink)
        vm->log_sink(vm->log_user, level, e->text);
}

__attribute__((format(printf, 3, 4))) static void host_log(struct pw_vm *vm, enum pw_log_level level,
                                                           const char *fmt, ...) {
    char text[512];
    int n = snprintf(text, sizeof text, "host: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    va_end(ap);
    log_add(vm, level, text, strlen(text));
}

static void queue_event(struct pw_vm *vm, struct stream *s) {
    if (s->in_headers_callback)
        return;
    GROW(vm->events, vm->n_events, vm->cap_events);
    vm->events[vm->n_events++] = s->pub.context_id;
}

static void set_state(struct pw_vm *vm, struct stream *s, enum pw_stream_state state) {
    s->pub.state = state;
    s->pub.changed_ns = vm->now_ns;
    queue_event(vm, s);
}

__attribute__((format(printf, 2, 3))) static void vm_fail(struct pw_vm *vm, const char *fmt, ...) {
    if (vm->failed)
        return;
    vm->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->error, sizeof vm->error, fmt, ap);
    va_end(ap);
    host_log(vm, PW_LOG_CRITICAL, "VM failed: %s", vm->error);
    /* Nothing will resume them now; the embedder applies its fail policy. */
    for (size_t i = 0; i < vm->n_streams; i++)
        if (vm->streams[i]->pub.state == PW_STREAM_PAUSED)
            set_state(vm, vm->streams[i], PW_STREAM_FAILED);
}

__attribute__((format(printf, 2, 3))) static void misuse(struct pw_vm *vm, const char *fmt, ...) {
    vm->misuse_count++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->last_misuse, sizeof vm->last_misuse, fmt, ap);
    va_end(ap);
    host_log(vm, PW_LOG_ERROR, "misuse: %s", vm->last_misuse);
}

/* ---- Calling into the module ------------------------------------------------
 * wasm2c unwinds a trap with longjmp to the buffer wasm_rt_impl_try() set.
 * That buffer is global, so it is saved around each call: an embedder
 * callback may run another VM while this one is inside an import. Calls the
 * host makes from inside an import (the module's malloc) are not guarded on
 * their own: a trap there unwinds to the outer call, which fails the VM. */

struct unwind_state {
    jmp_buf jmp;
    WASM_RT_UNWIND_TARGET *target;
    uint32_t saved_depth;
    uint32_t depth;
};

static void unwind_save(struct unwind_state *s) {
    memcpy(s->jmp, wasm_rt_jmp_buf, sizeof(jmp_buf));
    s->target = wasm_rt_get_unwind_target();
    s->saved_depth = wasm_rt_saved_call_stack_depth;
    s->depth = wasm_rt_call_stack_depth;
}

static void unwind_restore(const struct unwind_state *s) {
    memcpy(wasm_rt_jmp_buf, s->jmp, sizeof(jmp_buf));
    wasm_rt_set_unwind_target(s->target);
    wasm_rt_saved_call_stack_depth = s->saved_depth;
    wasm_rt_call_stack_depth = s->depth;
}

#define GUARDED_CALL(vm, what, call)                                                                     \
    do {                                                                                                 \
        struct unwind_state saved_;                                                                      \
        unwind_save(&saved_);                                                                            \
        (vm)->in_module = true;                                                                          \
        wasm_rt_trap_t trap_ = wasm_rt_impl_try();                                                       \
        if (trap_ == WASM_RT_TRAP_NONE) {                                                                \
            call;                                                                                        \
        } else {                                                                                         \
            vm_fail((vm), "%s trapped: %s", (what), wasm_rt_strerror(trap_));                           \
        }                                                                                                \
        (vm)->in_module = false;                                                                         \
        (vm)->in_allocator = false;                                                                      \
        unwind_restore(&saved_);                                                                         \
    } while (0)

/* Public entry points that run module code start here: refuse a failed VM
 * and re-entry from a callback made while the module runs (a log sink). */
static bool can_call(struct pw_vm *vm, const char *what) {
    if (vm->in_module) {
        misuse(vm, "%s called while the module is running", what);
        return false;
    }
    return !vm->failed;
}

static struct stream *stream_find(const struct pw_vm *vm, uint32_t id) {
    for (size_t i = 0; i < vm->n_streams; i++)
        if (vm->streams[i]->pub.context_id == id)
            return vm->streams[i];
    return NULL;
}

static void finish_done(struct pw_vm *vm);

/* Ends a public call that ran module code: callbacks see no effective
 * context, then the embedder hears of stream changes. The queue is taken
 * first because the handler may call back into the host. */
static void finish_call(struct pw_vm *vm) {
    finish_done(vm);
    vm->effective_id = 0;
    while (vm->n_events) {
        uint32_t *events = vm->events;
        size_t n = vm->n_events;
        vm->events = NULL;
        vm->n_events = vm->cap_events = 0;
        for (size_t i = 0; i < n; i++) {
            struct stream *s = stream_find(vm, events[i]);
            if (s && vm->stream_event)
                vm->stream_event(vm->stream_event_user, events[i], s->pub.state);
        }
        free(events);
    }
}

/* ---- Module memory ---------------------------------------------------------- */

static uint8_t *mem_at(struct pw_vm *vm, uint32_t addr, uint64_t len) {
    if ((uint64_t)addr + len > vm->memory->size)
        return NULL;
    return vm->memory->data + addr;
}

static bool mem_put_u32(struct pw_vm *vm, uint32_t addr, uint32_t v) {
    uint8_t *p = mem_at(vm, addr, 4);
    if (p)
        put_u32(p, v);
    return p != NULL;
}

static bool mem_put_u64(struct pw_vm *vm, uint32_t addr, uint64_t v) {
    uint8_t *p = mem_at(vm, addr, 8);
    if (p)
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(v >> (8 * i));
    return p != NULL;
}

/* Hands host bytes to the module as cpp-host does: a buffer from the
 * module's own allocator (the module frees it), its address and size
 * written at ptr_ptr and size_ptr; (0, 0) when empty. */
static uint32_t copy_out(struct pw_vm *vm, const void *data, size_t len, uint32_t ptr_ptr, uint32_t size_ptr) {
    if (len > UINT32_MAX)
        return RESULT_BAD_ARGUMENT;
    uint32_t addr = 0;
    if (len) {
        uint32_t (*allocate)(void *, uint32_t) = vm->fn.malloc ? vm->fn.malloc : vm->fn.on_memory_allocate;
        vm->in_allocator = true;
        addr = allocate(vm->instance, (uint32_t)len);
        vm->in_allocator = false;
        uint8_t *dst = addr ? mem_at(vm, addr, len) : NULL; /* memory may have moved */
        if (!dst)
            return RESULT_INVALID_MEMORY_ACCESS;
        memcpy(dst, data, len);
    }
    if (!mem_put_u32(vm, ptr_ptr, addr) || !mem_put_u32(vm, size_ptr, (uint32_t)len))
        return RESULT_INVALID_MEMORY_ACCESS;
    return RESULT_OK;
}

/* Every import starts here. The module's allocator has no business calling
 * the host, and the host's state is mid-update while it runs. */
static struct pw_vm *enter(struct pw_vm *vm) {
    if (vm->in_allocator) {
        vm_fail(vm, "the module's allocator called back into the host");
        wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
    }
    return vm;
}

static struct stream *effective_stream(struct pw_vm *vm) {
    return stream_find(vm, vm->effective_id);
}

static struct root *root_find(const struct pw_vm *vm, uint32_t id) {
    for (size_t i = 0; i < vm->n_roots; i++)
        if (vm->roots[i]->id == id)
            return vm->roots[i];
    return NULL;
}

/* The root of the effective context: itself, or a stream's parent. */
static struct root *effective_root(struct pw_vm *vm) {
    struct stream *s = effective_stream(vm);
    return root_find(vm, s ? s->root_id : vm->effective_id);
}

/* ---- Header maps ------------------------------------------------------------ */

static void headers_add(struct header_list *h, const char *name, size_t name_len, const char *value,
                        size_t value_len) {
    GROW(h->items, h->n, h->cap);
    char *lower = copy_bytes(name, name_len);
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    h->items[h->n].name = lower;
    h->items[h->n].value = copy_bytes(value, value_len);
    h->n++;
}

static bool name_matches(const char *stored, const char *name, size_t len) {
    return strlen(stored) == len && strncasecmp(stored, name, len) == 0;
}

static struct pw_header *headers_find(const struct header_list *h, const char *name, size_t len) {
    for (size_t i = 0; i < h->n; i++)
        if (name_matches(h->items[i].name, name, len))
            return &h->items[i];
    return NULL;
}

static void headers_remove(struct header_list *h, const char *name, size_t len) {
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (name_matches(h->items[i].name, name, len)) {
            free((char *)h->items[i].name);
            free((char *)h->items[i].value);
        } else {
            h->items[kept++] = h->items[i];
        }
    }
    h->n = kept;
}

static void headers_free(struct header_list *h) {
    for (size_t i = 0; i < h->n; i++) {
        free((char *)h->items[i].name);
        free((char *)h->items[i].value);
    }
    free(h->items);
    memset(h, 0, sizeof *h);
}

/* u32 n; n x (u32 name_len, u32 value_len); then name\0 value\0 ... */
static size_t headers_serialize(struct pw_vm *vm, const struct header_list *h, const uint8_t **out) {
    size_t size = 4 + 8 * h->n;
    for (size_t i = 0; i < h->n; i++)
        size += strlen(h->items[i].name) + strlen(h->items[i].value) + 2;
    uint8_t *buf = scratch(vm, size), *lens = buf + 4, *data = buf + 4 + 8 * h->n;
    put_u32(buf, (uint32_t)h->n);
    for (size_t i = 0; i < h->n; i++) {
        size_t nl = strlen(h->items[i].name), vl = strlen(h->items[i].value);
        put_u32(lens + 8 * i, (uint32_t)nl);
        put_u32(lens + 8 * i + 4, (uint32_t)vl);
        memcpy(data, h->items[i].name, nl + 1);
        data += nl + 1;
        memcpy(data, h->items[i].value, vl + 1);
        data += vl + 1;
    }
    *out = buf;
    return size;
}

/* The inverse, bounds-checked; false if malformed. As strict as
 * proxy-wasm-cpp-host (src/pairs_util.cc, PairsUtil::toPairs): the map must
 * end exactly at len, or the whole map is refused, padding included. */
static bool headers_parse(const uint8_t *buf, size_t len, struct header_list *out) {
    if (len == 0)
        return true;
    if (len < 4)
        return false;
    uint32_t n = get_u32(buf);
    if (n > (len - 4) / 8)
        return false;
    const uint8_t *lens = buf + 4, *data = buf + 4 + 8 * (size_t)n, *end = buf + len;
    for (uint32_t i = 0; i < n; i++) {
        size_t nl = get_u32(lens + 8 * i), vl = get_u32(lens + 8 * i + 4);
        if ((size_t)(end - data) < nl + 1 || data[nl] != '\0')
            return false;
        const uint8_t *name = data;
        data += nl + 1;
        if ((size_t)(end - data) < vl + 1 || data[vl] != '\0')
            return false;
        headers_add(out, (const char *)name, nl, (const char *)data, vl);
        data += vl + 1;
    }
    return data == end;
}

/* The map a header import names, for the effective context: request
 * headers exist only on a stream; other maps are not modelled. */
static struct header_list *header_map(struct pw_vm *vm, uint32_t type) {
    struct stream *s = effective_stream(vm);
    return s && type == MAP_REQUEST_HEADERS ? &s->headers : NULL;
}

/* ---- Imports: env ----------------------------------------------------------- */

u32 Z_envZ_proxy_log(struct Z_env_instance_t *env, u32 level, u32 msg, u32 msg_size) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *text = mem_at(vm, msg, msg_size);
    if (!text)
        return RESULT_INVALID_MEMORY_ACCESS;
    if (level > PW_LOG_CRITICAL)
        return RESULT_BAD_ARGUMENT;
    log_add(vm, (enum pw_log_level)level, (const char *)text, msg_size);
    return RESULT_OK;
}

u32 Z_envZ_proxy_get_log_level(struct Z_env_instance_t *env, u32 ret_level) {
    struct pw_vm *vm = enter(env->vm);
    return mem_put_u32(vm, ret_level, vm->log_level) ? RESULT_OK : RESULT_INVALID_MEMORY_ACCESS;
}

u32 Z_envZ_proxy_get_current_time_nanoseconds(struct Z_env_instance_t *env, u32 ret_time) {
    struct pw_vm *vm = enter(env->vm);
    return mem_put_u64(vm, ret_time, vm->now_ns) ? RESULT_OK : RESULT_INVALID_MEMORY_ACCESS;
}

u32 Z_envZ_proxy_set_tick_period_milliseconds(struct Z_env_instance_t *env, u32 period_ms) {
    struct pw_vm *vm = enter(env->vm);
    struct root *root = effective_root(vm);
    if (!root)
        return RESULT_BAD_ARGUMENT;
    root->tick_period_ms = period_ms;
    root->next_tick_ns = period_ms ? vm->now_ns + period_ms * PW_MS : 0;
    return RESULT_OK;
}

/* The bytes of a buffer for the effective context; false if unavailable. */
static bool buffer_of(struct pw_vm *vm, u32 type, const char **data, size_t *len) {
    switch (type) {
    case BUFFER_VM_CONFIGURATION:
        *data = vm->vm_config;
        *len = vm->vm_config_len;
        return true;
    case BUFFER_PLUGIN_CONFIGURATION: {
        const struct root *root = effective_root(vm);
        *data = root ? root->config : NULL;
        *len = root ? root->config_len : 0;
        return root != NULL;
    }
    case BUFFER_REQUEST_BODY: /* streams here end with their headers */
        *data = NULL;
        *len = 0;
        return effective_stream(vm) != NULL;
    default:
        return false;
    }
}

u32 Z_envZ_proxy_get_buffer_bytes(struct Z_env_instance_t *env, u32 type, u32 start, u32 max_size, u32 ret_data,
                                  u32 ret_size) {
    struct pw_vm *vm = enter(env->vm);
    const char *data;
    size_t len;
    if (type > BUFFER_TYPE_MAX)
        return RESULT_BAD_ARGUMENT;
    if (!buffer_of(vm, type, &data, &len))
        return RESULT_NOT_FOUND;
    /* Reading from past the end gives nothing, as in cpp-host. */
    size_t n = start >= len ? 0 : len - start < max_size ? len - start : max_size;
    return copy_out(vm, n ? data + start : NULL, n, ret_data, ret_size);
}

u32 Z_envZ_proxy_get_buffer_status(struct Z_env_instance_t *env, u32 type, u32 ret_length, u32 ret_flags) {
    struct pw_vm *vm = enter(env->vm);
    const char *data;
    size_t len;
    if (type > BUFFER_TYPE_MAX)
        return RESULT_BAD_ARGUMENT;
    if (!buffer_of(vm, type, &data, &len))
        return RESULT_NOT_FOUND;
    if (!mem_put_u32(vm, ret_length, (uint32_t)len) || !mem_put_u32(vm, ret_flags, 0))
        return RESULT_INVALID_MEMORY_ACCESS;
    return RESULT_OK;
}

u32 Z_envZ_proxy_get_header_map_value(struct Z_env_instance_t *env, u32 type, u32 key, u32 key_size, u32 ret_value,
                                      u32 ret_size) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *name = mem_at(vm, key, key_size);
    if (!name)
        return RESULT_INVALID_MEMORY_ACCESS;
    struct header_list *map = header_map(vm, type);
    if (!map)
        return RESULT_BAD_ARGUMENT;
    /* Envoy returns the first value of a repeated header. */
    const struct pw_header *h = headers_find(map, (const char *)name, key_size);
    if (!h)
        return RESULT_NOT_FOUND;
    return copy_out(vm, h->value, strlen(h->value), ret_value, ret_size);
}

u32 Z_envZ_proxy_get_header_map_pairs(struct Z_env_instance_t *env, u32 type, u32 ret_data, u32 ret_size) {
    struct pw_vm *vm = enter(env->vm);
    struct header_list *map = header_map(vm, type);
    if (!map)
        return RESULT_BAD_ARGUMENT;
    if (map->n == 0)
        return copy_out(vm, NULL, 0, ret_data, ret_size); /* cpp-host: (0, 0), not an empty map */
    const uint8_t *data;
    size_t len = headers_serialize(vm, map, &data);
    return copy_out(vm, data, len, ret_data, ret_size);
}

u32 Z_envZ_proxy_get_header_map_size(struct Z_env_instance_t *env, u32 type, u32 ret_size) {
    struct pw_vm *vm = enter(env->vm);
    struct header_list *map = header_map(vm, type);
    if (!map)
        return RESULT_BAD_ARGUMENT;
    /* Envoy's HeaderMap::byteSize(): names and values, no framing. */
    size_t size = 0;
    for (size_t i = 0; i < map->n; i++)
        size += strlen(map->items[i].name) + strlen(map->items[i].value);
    return mem_put_u32(vm, ret_size, (uint32_t)size) ? RESULT_OK : RESULT_INVALID_MEMORY_ACCESS;
}

enum header_edit { HEADER_ADD, HEADER_REPLACE, HEADER_REMOVE };

static u32 edit_header(struct Z_env_instance_t *env, enum header_edit edit, u32 type, u32 key, u32 key_size,
                       u32 value, u32 value_size) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *name = mem_at(vm, key, key_size), *text = mem_at(vm, value, value_size);
    if (!name || !text)
        return RESULT_INVALID_MEMORY_ACCESS;
    struct header_list *map = header_map(vm, type);
    if (!map)
        return RESULT_BAD_ARGUMENT;
    if (edit != HEADER_ADD)
        headers_remove(map, (const char *)name, key_size);
    if (edit != HEADER_REMOVE)
        headers_add(map, (const char *)name, key_size, (const char *)text, value_size);
    return RESULT_OK;
}

u32 Z_envZ_proxy_add_header_map_value(struct Z_env_instance_t *env, u32 type, u32 key, u32 key_size, u32 value,
                                      u32 value_size) {
    return edit_header(env, HEADER_ADD, type, key, key_size, value, value_size);
}

u32 Z_envZ_proxy_replace_header_map_value(struct Z_env_instance_t *env, u32 type, u32 key, u32 key_size, u32 value,
                                          u32 value_size) {
    return edit_header(env, HEADER_REPLACE, type, key, key_size, value, value_size);
}

u32 Z_envZ_proxy_remove_header_map_value(struct Z_env_instance_t *env, u32 type, u32 key, u32 key_size) {
    return edit_header(env, HEADER_REMOVE, type, key, key_size, 0, 0);
}

static struct property *property_find(const struct pw_vm *vm, const void *path, size_t len) {
    for (size_t i = 0; i < vm->n_properties; i++)
        if (vm->properties[i].path_len == len && memcmp(vm->properties[i].path, path, len) == 0)
            return &vm->properties[i];
    return NULL;
}

u32 Z_envZ_proxy_get_property(struct Z_env_instance_t *env, u32 path, u32 path_size, u32 ret_value, u32 ret_size) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *p = mem_at(vm, path, path_size);
    if (!p)
        return RESULT_INVALID_MEMORY_ACCESS;
    const struct property *prop = property_find(vm, p, path_size);
    if (!prop)
        return RESULT_NOT_FOUND;
    return copy_out(vm, prop->value, prop->value_len, ret_value, ret_size);
}

u32 Z_envZ_proxy_send_local_response(struct Z_env_instance_t *env, u32 status, u32 details, u32 details_size,
                                     u32 body, u32 body_size, u32 headers, u32 headers_size, u32 grpc_status) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *d = mem_at(vm, details, details_size), *b = mem_at(vm, body, body_size),
                  *h = mem_at(vm, headers, headers_size);
    if (!d || !b || !h)
        return RESULT_INVALID_MEMORY_ACCESS;
    struct stream *s = effective_stream(vm);
    if (!s || s->ending || s->pub.state == PW_STREAM_LOCAL_REPLY)
        return RESULT_BAD_ARGUMENT;
    struct header_list extra = {0};
    if (!headers_parse(h, headers_size, &extra)) {
        /* cpp-host sends the reply without any of them */
        headers_free(&extra);
        misuse(vm, "send_local_response on context %u: header pairs malformed or not ending at their size (%u "
                   "bytes), sent without them",
               s->pub.context_id, headers_size);
    }
    s->reply_headers = extra;
    s->reply.status = status;
    s->reply.body = copy_bytes(b, body_size);
    s->reply.body_len = body_size;
    s->reply.details = copy_bytes(d, details_size);
    s->reply.grpc_status = (int32_t)grpc_status;
    s->reply.headers = extra.items;
    s->reply.n_headers = extra.n;
    s->pub.reply = &s->reply;
    set_state(vm, s, PW_STREAM_LOCAL_REPLY);
    return RESULT_OK;
}

u32 Z_envZ_proxy_continue_stream(struct Z_env_instance_t *env, u32 type) {
    struct pw_vm *vm = enter(env->vm);
    if (type != STREAM_REQUEST && type != STREAM_RESPONSE)
        return RESULT_BAD_ARGUMENT;
    struct stream *s = effective_stream(vm);
    if (!s) {
        misuse(vm, "continue_stream on context %u, which is not a live stream", vm->effective_id);
        return RESULT_BAD_ARGUMENT;
    }
    if (s->ending) {
        misuse(vm, "continue_stream on context %u after its stream ended", s->pub.context_id);
        return RESULT_BAD_ARGUMENT;
    }
    if (type == STREAM_RESPONSE || s->in_headers_callback)
        return RESULT_OK; /* nothing is stopped yet */
    if (s->pub.state == PW_STREAM_PAUSED)
        set_state(vm, s, PW_STREAM_CONTINUED);
    else if (s->pub.state == PW_STREAM_CONTINUED)
        misuse(vm, "continue_stream on context %u, which was not paused", s->pub.context_id);
    return RESULT_OK;
}

u32 Z_envZ_proxy_close_stream(struct Z_env_instance_t *env, u32 type) {
    struct pw_vm *vm = enter(env->vm);
    if (type != STREAM_REQUEST && type != STREAM_RESPONSE)
        return RESULT_BAD_ARGUMENT;
    struct stream *s = effective_stream(vm);
    if (!s || s->ending)
        return RESULT_BAD_ARGUMENT;
    set_state(vm, s, PW_STREAM_CLOSED);
    return RESULT_OK;
}

u32 Z_envZ_proxy_set_effective_context(struct Z_env_instance_t *env, u32 context_id) {
    struct pw_vm *vm = enter(env->vm);
    if (root_find(vm, context_id) || stream_find(vm, context_id)) {
        vm->effective_id = context_id;
        return RESULT_OK;
    }
    if (context_id >= FIRST_CONTEXT_ID && context_id < vm->next_context_id)
        misuse(vm, "set_effective_context(%u): that context has ended and was deleted", context_id);
    return RESULT_BAD_ARGUMENT;
}

/* Ends a root's shutdown that proxy_on_done postponed; proxy_on_delete
 * follows once the current call returns (proxy-wasm-cpp-host src/wasm.cc,
 * WasmBase::done). */
u32 Z_envZ_proxy_done(struct Z_env_instance_t *env) {
    struct pw_vm *vm = enter(env->vm);
    struct root *root = effective_root(vm);
    if (!root || root->state != ROOT_DONE_WAIT || vm->effective_id != root->id)
        return RESULT_NOT_FOUND;
    vm->done_root = root->id;
    return RESULT_OK;
}

/* ---- Metrics ------------------------------------------------------------------ */

static struct metric *metric_by_id(struct pw_vm *vm, u32 id) {
    return id >= 1 && id <= vm->stats->n_metrics ? vm->stats->metrics[id - 1] : NULL;
}

u32 Z_envZ_proxy_define_metric(struct Z_env_instance_t *env, u32 type, u32 name, u32 name_size, u32 ret_id) {
    struct pw_vm *vm = enter(env->vm);
    const uint8_t *n = mem_at(vm, name, name_size);
    if (!n)
        return RESULT_INVALID_MEMORY_ACCESS;
    if (type > PW_HISTOGRAM || name_size == 0)
        return RESULT_BAD_ARGUMENT;
    struct stats *st = vm->stats;
    for (size_t i = 0; i < st->n_metrics; i++) {
        const struct pw_metric *m = &st->metrics[i]->pub;
        if (strlen(m->name) == name_size && memcmp(m->name, n, name_size) == 0) {
            /* Envoy keys stats by name; one name with two types would be two
             * stats that render the same: refused here. */
            if (m->type != (enum pw_metric_type)type)
                return RESULT_BAD_ARGUMENT;
            return mem_put_u32(vm, ret_id, (uint32_t)i + 1) ? RESULT_OK : RESULT_INVALID_MEMORY_ACCESS;
        }
    }
    if (!mem_put_u32(vm, ret_id, (uint32_t)st->n_metrics + 1))
        return RESULT_INVALID_MEMORY_ACCESS;
    st->metrics = xrealloc(st->metrics, (st->n_metrics + 1) * sizeof *st->metrics);
    struct metric *m = xrealloc(NULL, sizeof *m);
    memset(m, 0, sizeof *m);
    m->pub.name = copy_bytes(n, name_size);
    m->pub.type = (enum pw_metric_type)type;
    st->metrics[st->n_metrics++] = m;
    return RESULT_OK;
}

static void gauge_add(struct pw_vm *vm, struct metric *m, int64_t delta) {
    m->pub.value += delta;
    if (m->pub.value < 0)
        misuse(vm, "gauge %s went below zero (%lld)", m->pub.name, (long long)m->pub.value);
}

u32 Z_envZ_proxy_increment_metric(struct Z_env_instance_t *env, u32 id, u64 offset) {
    struct pw_vm *vm = enter(env->vm);
    struct metric *m = metric_by_id(vm, id);
    int64_t delta = (int64_t)offset;
    if (!m)
        return RESULT_NOT_FOUND;
    switch (m->pub.type) {
    case PW_COUNTER:
        if (delta <= 0)
            return RESULT_BAD_ARGUMENT;
        m->pub.value += delta;
        return RESULT_OK;
    case PW_GAUGE:
        gauge_add(vm, m, delta);
        return RESULT_OK;
    case PW_HISTOGRAM:
        break;
    }
    return RESULT_BAD_ARGUMENT;
}

static void histogram_record(struct metric *m, uint64_t value) {
    m->pub.count++;
    m->pub.sum += value;
    for (size_t i = 0; i < PW_HISTOGRAM_BOUNDS; i++)
        if ((double)value <= pw_histogram_bounds[i])
            m->pub.buckets[i]++;
    m->pub.buckets[PW_HISTOGRAM_BOUNDS]++;
    if (!m->samples)
        m->pub.samples = m->samples = xrealloc(NULL, PW_HISTOGRAM_SAMPLES * sizeof *m->samples);
    if (m->pub.n_samples < PW_HISTOGRAM_SAMPLES) {
        m->samples[m->pub.n_samples++] = value;
    } else {
        m->samples[m->pub.oldest_sample] = value;
        m->pub.oldest_sample = (m->pub.oldest_sample + 1) % PW_HISTOGRAM_SAMPLES;
    }
}

u32 Z_envZ_proxy_record_metric(struct Z_env_instance_t *env, u32 id, u64 value) {
    struct pw_vm *vm = enter(env->vm);
    struct metric *m = metric_by_id(vm, id);
    if (!m)
        return RESULT_NOT_FOUND;
    switch (m->pub.type) {
    case PW_COUNTER: /* Envoy adds the value to a counter */
        m->pub.value += (int64_t)value;
        break;
    case PW_GAUGE:
        m->pub.value = 0;
        gauge_add(vm, m, (int64_t)value);
        break;
    case PW_HISTOGRAM:
        histogram_record(m, value);
        break;
    }
    return RESULT_OK;
}

u32 Z_envZ_proxy_get_metric(struct Z_env_instance_t *env, u32 id, u32 ret_value) {
    struct pw_vm *vm = enter(env->vm);
    struct metric *m = metric_by_id(vm, id);
    if (!m)
        return RESULT_NOT_FOUND;
    if (m->pub.type == PW_HISTOGRAM)
        return RESULT_BAD_ARGUMENT;
    return mem_put_u64(vm, ret_value, (uint64_t)m->pub.value) ? RESULT_OK : RESULT_INVALID_MEMORY_ACCESS;
}

/* ---- Imports: WASI preview 1 ----------------------------------------------------
 * What wasi-libc may import; cpp-host treats the calls a filter has no use
 * for (exit, closing or seeking files) as fatal. */

static u32 wasi_fatal(struct pw_vm *vm, const char *what) {
    vm_fail(vm, "WASI %s called: fatal in a proxy-wasm host", what);
    wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

u32 Z_wasi_snapshot_preview1Z_random_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 buf, u32 len) {
    struct pw_vm *vm = enter(wasi->vm);
    if (len > WASI_RANDOM_MAX)
        return WASI_EINVAL;
    uint8_t *p = mem_at(vm, buf, len);
    if (!p)
        return WASI_EFAULT;
    for (u32 i = 0; i < len; i++) {
        /* splitmix64: small, seedable, good enough for sampling decisions */
        uint64_t z = (vm->random_state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        p[i] = (uint8_t)(z ^ (z >> 31));
    }
    return WASI_SUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd, u32 iovs,
                                       u32 iovs_len, u32 ret_written) {
    struct pw_vm *vm = enter(wasi->vm);
    if (fd != 1 && fd != 2)
        return WASI_EBADF;
    const uint8_t *vec = mem_at(vm, iovs, (uint64_t)iovs_len * 8);
    if (!vec)
        return WASI_EFAULT;
    /* All of it is written; the log keeps the first LOG_TEXT_MAX bytes. */
    uint64_t total = 0;
    uint8_t *text = scratch(vm, LOG_TEXT_MAX);
    size_t kept = 0;
    for (u32 i = 0; i < iovs_len; i++) {
        u32 len = get_u32(vec + 8 * i + 4);
        const uint8_t *data = mem_at(vm, get_u32(vec + 8 * i), len);
        if (!data)
            return WASI_EFAULT;
        size_t take = len < LOG_TEXT_MAX - kept ? len : LOG_TEXT_MAX - kept;
        memcpy(text + kept, data, take);
        kept += take;
        total += len;
    }
    if (kept && text[kept - 1] == '\n')
        kept--;
    if (total)
        log_add(vm, fd == 1 ? PW_LOG_INFO : PW_LOG_ERROR, (const char *)text, kept);
    return mem_put_u32(vm, ret_written, (uint32_t)total) ? WASI_SUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd, u32 ret_stat) {
    struct pw_vm *vm = enter(wasi->vm);
    if (fd != 1 && fd != 2)
        return WASI_EBADF;
    uint8_t *stat = mem_at(vm, ret_stat, 24);
    if (!stat)
        return WASI_EFAULT;
    /* fdstat as cpp-host fills it: all zero but the fd_write right */
    memset(stat, 0, 24);
    stat[8] = 1u << 6;
    return WASI_SUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_clock_time_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 clock_id,
                                             u64 precision, u32 ret_time) {
    struct pw_vm *vm = enter(wasi->vm);
    (void)precision;
    if (clock_id > 1) /* realtime and monotonic both read the host clock; no CPU clocks */
        return WASI_ENOTSUP;
    return mem_put_u64(vm, ret_time, vm->now_ns) ? WASI_SUCCESS : WASI_EFAULT;
}

/* No environment, no arguments. */
static u32 wasi_empty_sizes(struct pw_vm *vm, u32 ret_count, u32 ret_size) {
    return mem_put_u32(vm, ret_count, 0) && mem_put_u32(vm, ret_size, 0) ? WASI_SUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 ret_count,
                                                u32 ret_size) {
    return wasi_empty_sizes(enter(wasi->vm), ret_count, ret_size);
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 ret_count,
                                             u32 ret_size) {
    return wasi_empty_sizes(enter(wasi->vm), ret_count, ret_size);
}

u32 Z_wasi_snapshot_preview1Z_environ_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 pointers, u32 buf) {
    enter(wasi->vm);
    (void)pointers;
    (void)buf;
    return WASI_SUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_args_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 pointers, u32 buf) {
    enter(wasi->vm);
    (void)pointers;
    (void)buf;
    return WASI_SUCCESS;
}

/* No files: what cpp-host answers to a module that looks for some. */
u32 Z_wasi_snapshot_preview1Z_fd_read(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd, u32 iovs,
                                      u32 iovs_len, u32 ret_read) {
    enter(wasi->vm);
    (void)fd;
    (void)iovs;
    (void)iovs_len;
    (void)ret_read;
    return WASI_ENOSYS;
}

u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd,
                                             u32 ret_prestat) {
    enter(wasi->vm);
    (void)fd;
    (void)ret_prestat;
    return WASI_EBADF;
}

u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd,
                                                  u32 path, u32 path_len) {
    enter(wasi->vm);
    (void)fd;
    (void)path;
    (void)path_len;
    return WASI_ENOSYS;
}

u32 Z_wasi_snapshot_preview1Z_path_open(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd, u32 dirflags,
                                        u32 path, u32 path_len, u32 oflags, u64 rights_base, u64 rights_inheriting,
                                        u32 fdflags, u32 ret_fd) {
    enter(wasi->vm);
    (void)fd;
    (void)dirflags;
    (void)path;
    (void)path_len;
    (void)oflags;
    (void)rights_base;
    (void)rights_inheriting;
    (void)fdflags;
    (void)ret_fd;
    return WASI_ENOENT;
}

void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 code) {
    (void)code;
    wasi_fatal(enter(wasi->vm), "proc_exit");
}

u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd) {
    (void)fd;
    return wasi_fatal(enter(wasi->vm), "fd_close");
}

u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *wasi, u32 fd, u64 offset,
                                      u32 whence, u32 ret_offset) {
    (void)fd;
    (void)offset;
    (void)whence;
    (void)ret_offset;
    return wasi_fatal(enter(wasi->vm), "fd_seek");
}

/* ---- VM lifecycle ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_error(char *err, size_t err_size, const char *fmt, ...) {
    if (!err || !err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static uint32_t linked_exports(const struct pw_exports *fn) {
    const struct {
        bool present;
        uint32_t bit;
    } table[] = {
        {fn->memory, PW_EXPORT_MEMORY},
        {fn->initialize, PW_EXPORT_INITIALIZE},
        {fn->start, PW_EXPORT_START},
        {fn->malloc, PW_EXPORT_MALLOC},
        {fn->on_memory_allocate, PW_EXPORT_ON_MEMORY_ALLOCATE},
        {fn->on_context_create, PW_EXPORT_ON_CONTEXT_CREATE},
        {fn->on_vm_start, PW_EXPORT_ON_VM_START},
        {fn->on_configure, PW_EXPORT_ON_CONFIGURE},
        {fn->on_tick, PW_EXPORT_ON_TICK},
        {fn->on_request_headers, PW_EXPORT_ON_REQUEST_HEADERS},
        {fn->on_done, PW_EXPORT_ON_DONE},
        {fn->on_log, PW_EXPORT_ON_LOG},
        {fn->on_delete, PW_EXPORT_ON_DELETE},
    };
    uint32_t bits = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].present)
            bits |= table[i].bit;
    return bits;
}

struct pw_vm *pw_vm_new(const struct pw_module *module, const uint8_t *wasm, size_t wasm_len, char *err,
                        size_t err_size) {
    struct pw_wasm_report report;
    if (!pw_validate(wasm, wasm_len, &report)) {
        set_error(err, err_size, "refused: %s", report.error);
        return NULL;
    }
    struct pw_vm *vm = xrealloc(NULL, sizeof *vm);
    memset(vm, 0, sizeof *vm);
    vm->module = module;
    module->bind(&vm->fn);
    uint32_t linked = linked_exports(&vm->fn);
    if (linked != report.bound_exports) {
        set_error(err, err_size, "refused: the .wasm is not the one %s was translated from (its exports differ: %s)",
                  module->name, pw_export_name(linked ^ report.bound_exports));
        free(vm);
        return NULL;
    }
    wasm_rt_init();
    module->init_once();
    vm->env.vm = vm;
    vm->wasi.vm = vm;
    vm->now_ns = PW_DEFAULT_START_NS;
    vm->next_context_id = FIRST_CONTEXT_ID;
    vm->stats = xrealloc(NULL, sizeof *vm->stats);
    memset(vm->stats, 0, sizeof *vm->stats);
    vm->stats->refs = 1;
    vm->log_level = PW_LOG_INFO;
    vm->random_state = 1;
    vm->instance = xrealloc(NULL, module->instance_size);
    memset(vm->instance, 0, module->instance_size);
    vm->memory = vm->fn.memory(vm->instance);
    /* Data segments and a start function run here, and may trap. */
    GUARDED_CALL(vm, "instantiation", module->instantiate(vm->instance, &vm->env, &vm->wasi));
    if (vm->failed) {
        set_error(err, err_size, "%s", vm->error);
        pw_vm_free(vm);
        return NULL;
    }
    return vm;
}

struct pw_vm *pw_vm_new_from_file(const struct pw_module *module, const char *wasm_path, char *err,
                                  size_t err_size) {
    FILE *f = fopen(wasm_path, "rb");
    if (!f) {
        set_error(err, err_size, "cannot open %s", wasm_path);
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    bool read_error = ferror(f);
    fclose(f);
    struct pw_vm *vm = NULL;
    if (read_error)
        set_error(err, err_size, "cannot read %s", wasm_path);
    else
        vm = pw_vm_new(module, buf, len, err, err_size);
    free(buf);
    return vm;
}

static void stats_release(struct stats *st) {
    if (--st->refs)
        return;
    for (size_t i = 0; i < st->n_metrics; i++) {
        free((char *)st->metrics[i]->pub.name);
        free(st->metrics[i]->samples);
        free(st->metrics[i]);
    }
    free(st->metrics);
    free(st);
}

static void stream_free(struct stream *s) {
    headers_free(&s->headers);
    headers_free(&s->reply_headers);
    free((char *)s->reply.body);
    free((char *)s->reply.details);
    free(s);
}

void pw_vm_free(struct pw_vm *vm) {
    if (!vm)
        return;
    if (vm->instance)
        vm->module->free(vm->instance);
    free(vm->instance);
    for (size_t i = 0; i < vm->n_streams; i++)
        stream_free(vm->streams[i]);
    free(vm->streams);
    free(vm->events);
    for (size_t i = 0; i < vm->n_properties; i++) {
        free(vm->properties[i].path);
        free(vm->properties[i].value);
    }
    free(vm->properties);
    for (size_t i = 0; i < vm->n_roots; i++) {
        free(vm->roots[i]->config);
        free(vm->roots[i]);
    }
    free(vm->roots);
    stats_release(vm->stats);
    pw_log_clear(vm);
    free(vm->vm_config);
    free(vm->scratch);
    free(vm);
}

void pw_vm_share_stats(struct pw_vm *vm, const struct pw_vm *with) {
    stats_release(vm->stats);
    vm->stats = with->stats;
    vm->stats->refs++;
}

size_t pw_vm_memory_bytes(const struct pw_vm *vm) { return vm->memory->size; }

void pw_set_vm_config(struct pw_vm *vm, const char *config, size_t len) {
    free(vm->vm_config);
    vm->vm_config = copy_bytes(config, len);
    vm->vm_config_len = len;
}

/* Runs proxy_on_done, then proxy_on_delete when it agreed (or later, when
 * the module calls proxy_done), for a root nothing refers to any more:
 * proxy-wasm-cpp-host src/wasm.cc, WasmBase::startShutdown. Its timer goes
 * with it. */
static void root_delete(struct pw_vm *vm, struct root *root) {
    uint32_t id = root->id;
    if (!vm->failed && vm->fn.on_delete) {
        vm->effective_id = id;
        GUARDED_CALL(vm, "proxy_on_delete", vm->fn.on_delete(vm->instance, id));
    }
    for (size_t i = 0; i < vm->n_roots; i++) {
        if (vm->roots[i] == root) {
            memmove(&vm->roots[i], &vm->roots[i + 1], (vm->n_roots - i - 1) * sizeof *vm->roots);
            vm->n_roots--;
            break;
        }
    }
    free(root->config);
    free(root);
    if (vm->current_root == id)
        vm->current_root = 0;
}

/* After a call into the module: delete a root whose proxy_done came in it. */
static void finish_done(struct pw_vm *vm) {
    struct root *root = vm->done_root ? root_find(vm, vm->done_root) : NULL;
    vm->done_root = 0;
    if (root)
        root_delete(vm, root);
}

static void root_shutdown(struct pw_vm *vm, struct root *root) {
    uint32_t done = 1, id = root->id;
    root->tick_period_ms = 0;
    root->next_tick_ns = 0;
    root->state = ROOT_DONE_WAIT;
    if (!vm->failed && vm->fn.on_done) {
        vm->effective_id = id;
        GUARDED_CALL(vm, "proxy_on_done", done = vm->fn.on_done(vm->instance, id));
    }
    if (vm->done_root == id)
        done = 1;
    vm->done_root = 0;
    if (done || vm->failed)
        root_delete(vm, root);
}

/* Replaced roots go once no stream refers to them. */
static void shutdown_idle_roots(struct pw_vm *vm) {
    for (size_t i = 0; i < vm->n_roots;) {
        struct root *root = vm->roots[i];
        if (root->state == ROOT_REPLACED && root->n_streams == 0) {
            root_shutdown(vm, root);
            i = 0;
        } else {
            i++;
        }
    }
}

/* A configuration as Envoy applies it in a VM: a new root context
 * (proxy_on_context_create(root, 0), proxy_on_vm_start, proxy_on_configure:
 * proxy-wasm-cpp-host src/wasm.cc WasmBase::start and src/context.cc
 * ContextBase::onStart, onConfigure). Accepted, it takes the new streams and
 * the previous root is shut down when its last stream ends; refused, it is
 * shut down and the previous root stays. */
static bool start_root(struct pw_vm *vm, const char *config) {
    struct root *root = xrealloc(NULL, sizeof *root);
    memset(root, 0, sizeof *root);
    root->id = vm->next_context_id++;
    root->config_len = config ? strlen(config) : 0;
    root->config = copy_bytes(config, root->config_len);
    GROW(vm->roots, vm->n_roots, vm->cap_roots);
    vm->roots[vm->n_roots++] = root;
    uint32_t id = root->id, started = 1, configured = 1;
    vm->effective_id = id;
    if (vm->fn.on_context_create)
        GUARDED_CALL(vm, "proxy_on_context_create", vm->fn.on_context_create(vm->instance, id, 0));
    if (!vm->failed && vm->fn.on_vm_start)
        GUARDED_CALL(vm, "proxy_on_vm_start",
                     started = vm->fn.on_vm_start(vm->instance, id, (uint32_t)vm->vm_config_len));
    if (!vm->failed && !started)
        vm_fail(vm, "proxy_on_vm_start returned false"); /* Envoy drops such a VM */
    vm->effective_id = id;
    if (!vm->failed && vm->fn.on_configure)
        GUARDED_CALL(vm, "proxy_on_configure",
                     configured = vm->fn.on_configure(vm->instance, id, (uint32_t)root->config_len));
    bool accepted = !vm->failed && configured;
    struct root *previous = root_find(vm, vm->current_root);
    if (accepted) {
        if (previous)
            previous->state = ROOT_REPLACED;
        vm->current_root = id;
    } else {
        root->state = ROOT_REPLACED;
    }
    shutdown_idle_roots(vm);
    finish_call(vm);
    return accepted;
}

bool pw_vm_start(struct pw_vm *vm, const char *config) {
    if (vm->started || !can_call(vm, "pw_vm_start"))
        return false;
    vm->started = true;
    if (vm->fn.initialize)
        GUARDED_CALL(vm, "_initialize", vm->fn.initialize(vm->instance));
    else if (vm->fn.start)
        GUARDED_CALL(vm, "_start", vm->fn.start(vm->instance));
    if (vm->failed) {
        finish_call(vm);
        return false;
    }
    return start_root(vm, config);
}

bool pw_vm_configure(struct pw_vm *vm, const char *config) {
    if (!vm->started || !can_call(vm, "pw_vm_configure"))
        return false;
    return start_root(vm, config);
}

void pw_vm_shutdown(struct pw_vm *vm) {
    if (!vm->started || !can_call(vm, "pw_vm_shutdown"))
        return;
    for (size_t i = 0; i < vm->n_roots;) {
        struct root *root = vm->roots[i];
        if (root->state == ROOT_DONE_WAIT) {
            i++;
            continue;
        }
        root_shutdown(vm, root);
        i = 0;
    }
    vm->current_root = 0;
    finish_call(vm);
}

uint32_t pw_vm_current_root(const struct pw_vm *vm) { return vm->current_root; }
size_t pw_vm_root_count(const struct pw_vm *vm) { return vm->n_roots; }

bool pw_vm_failed(const struct pw_vm *vm) { return vm->failed; }
const char *pw_vm_error(const struct pw_vm *vm) { return vm->error; }
unsigned pw_vm_misuse_count(const struct pw_vm *vm) { return vm->misuse_count; }
const char *pw_vm_last_misuse(const struct pw_vm *vm) { return vm->last_misuse; }

/* ---- Properties ------------------------------------------------------------------ */

void pw_set_property_path(struct pw_vm *vm, const char *path, size_t path_len, const void *value, size_t value_len) {
    struct property *p = property_find(vm, path, path_len);
    if (!p) {
        vm->properties = xrealloc(vm->properties, (vm->n_properties + 1) * sizeof *vm->properties);
        p = &vm->properties[vm->n_properties++];
        p->path = copy_bytes(path, path_len);
        p->path_len = path_len;
    } else {
        free(p->value);
    }
    p->value = copy_bytes(value, value_len);
    p->value_len = value_len;
}

void pw_set_property(struct pw_vm *vm, const char *dotted_path, const char *value) {
    size_t len = strlen(dotted_path);
    char *path = copy_bytes(dotted_path, len);
    for (char *c = path; *c; c++)
        if (*c == '.')
            *c = '\0';
    pw_set_property_path(vm, path, len, value, strlen(value));
    free(path);
}

/* ---- Time -------------------------------------------------------------------------- */

uint64_t pw_now(const struct pw_vm *vm) { return vm->now_ns; }
void pw_set_time(struct pw_vm *vm, uint64_t now_ns) { vm->now_ns = now_ns; }
uint32_t pw_tick_period_ms(const struct pw_vm *vm) {
    const struct root *root = root_find(vm, vm->current_root);
    return root ? root->tick_period_ms : 0;
}

uint64_t pw_next_tick_ns(const struct pw_vm *vm) {
    uint64_t next = 0;
    for (size_t i = 0; i < vm->n_roots; i++)
        if (vm->roots[i]->next_tick_ns && (!next || vm->roots[i]->next_tick_ns < next))
            next = vm->roots[i]->next_tick_ns;
    return next;
}

uint64_t pw_root_next_tick_ns(const struct pw_vm *vm, uint32_t root_id) {
    const struct root *root = root_find(vm, root_id);
    return root ? root->next_tick_ns : 0;
}

/* Each root's timer fires on its own, in time order; a root ticks only
 * while it lives (Envoy wasm.cc, Wasm::tickHandler finds no context). */
void pw_advance(struct pw_vm *vm, uint64_t ns) {
    uint64_t target = vm->now_ns + ns, next;
    while ((next = pw_next_tick_ns(vm)) && next <= target && can_call(vm, "pw_advance")) {
        struct root *root = NULL;
        for (size_t i = 0; i < vm->n_roots && !root; i++)
            if (vm->roots[i]->next_tick_ns == next)
                root = vm->roots[i];
        uint32_t id = root->id;
        vm->now_ns = next;
        root->next_tick_ns = vm->now_ns + root->tick_period_ms * PW_MS;
        vm->effective_id = id;
        if (vm->fn.on_tick)
            GUARDED_CALL(vm, "proxy_on_tick", vm->fn.on_tick(vm->instance, id));
        finish_call(vm);
    }
    vm->now_ns = target;
}

/* ---- Streams ---------------------------------------------------------------------- */

struct pw_stream_result pw_stream_start(struct pw_vm *vm, const struct pw_header *headers, size_t n_headers) {
    struct pw_stream_result result = {0, PW_STREAM_FAILED, NULL};
    struct root *root = root_find(vm, vm->current_root);
    if (!vm->started || !can_call(vm, "pw_stream_start") || !root)
        return result;
    struct stream *s = xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->pub.context_id = vm->next_context_id++;
    s->pub.started_ns = s->pub.changed_ns = vm->now_ns;
    s->root_id = root->id;
    root->n_streams++;
    s->in_headers_callback = true;
    for (size_t i = 0; i < n_headers; i++)
        headers_add(&s->headers, headers[i].name, strlen(headers[i].name), headers[i].value,
                    strlen(headers[i].value));
    GROW(vm->streams, vm->n_streams, vm->cap_streams);
    vm->streams[vm->n_streams++] = s;

    uint32_t id = s->pub.context_id, action = HEADERS_CONTINUE;
    vm->effective_id = id;
    if (vm->fn.on_context_create)
        GUARDED_CALL(vm, "proxy_on_context_create", vm->fn.on_context_create(vm->instance, id, root->id));
    if (!vm->failed && vm->fn.on_request_headers)
        GUARDED_CALL(vm, "proxy_on_request_headers",
                     action = vm->fn.on_request_headers(vm->instance, id, (uint32_t)n_headers, 1));
    s->in_headers_callback = false;
    if (vm->failed)
        s->pub.state = PW_STREAM_FAILED;
    else if (s->pub.state == PW_STREAM_UNKNOWN)
        s->pub.state =
            action == HEADERS_CONTINUE || action == HEADERS_CONTINUE_AND_END_STREAM ? PW_STREAM_CONTINUED : PW_STREAM_PAUSED;
    result.context_id = id;
    result.state = s->pub.state;
    result.reply = s->pub.reply;
    finish_call(vm);
    return result;
}

const struct pw_stream *pw_stream_get(const struct pw_vm *vm, uint32_t context_id) {
    const struct stream *s = stream_find(vm, context_id);
    return s ? &s->pub : NULL;
}

const char *pw_stream_header(const struct pw_vm *vm, uint32_t context_id, const char *name) {
    const struct stream *s = stream_find(vm, context_id);
    const struct pw_header *h = s ? headers_find(&s->headers, name, strlen(name)) : NULL;
    return h ? h->value : NULL;
}

static bool stream_end(struct pw_vm *vm, uint32_t id, bool reset) {
    if (vm->in_module) {
        misuse(vm, "ending stream %u while the module is running", id);
        return false;
    }
    struct stream *s = stream_find(vm, id);
    if (!s || s->ending || (!reset && s->pub.state == PW_STREAM_PAUSED))
        return false;
    s->ending = true;
    if (!vm->failed) {
        vm->effective_id = id;
        if (vm->fn.on_done)
            GUARDED_CALL(vm, "proxy_on_done", vm->fn.on_done(vm->instance, id));
        if (!vm->failed && vm->fn.on_log)
            GUARDED_CALL(vm, "proxy_on_log", vm->fn.on_log(vm->instance, id));
        if (!vm->failed && vm->fn.on_delete)
            GUARDED_CALL(vm, "proxy_on_delete", vm->fn.on_delete(vm->instance, id));
    }
    for (size_t i = 0; i < vm->n_streams; i++) {
        if (vm->streams[i] == s) {
            memmove(&vm->streams[i], &vm->streams[i + 1], (vm->n_streams - i - 1) * sizeof *vm->streams);
            vm->n_streams--;
            break;
        }
    }
    struct root *root = root_find(vm, s->root_id);
    stream_free(s);
    if (root)
        root->n_streams--;
    shutdown_idle_roots(vm);
    finish_call(vm);
    return true;
}

bool pw_stream_complete(struct pw_vm *vm, uint32_t context_id) { return stream_end(vm, context_id, false); }
bool pw_stream_reset(struct pw_vm *vm, uint32_t context_id) { return stream_end(vm, context_id, true); }
size_t pw_stream_count(const struct pw_vm *vm) { return vm->n_streams; }

size_t pw_streams_in_state(const struct pw_vm *vm, enum pw_stream_state state, uint32_t *ids, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < vm->n_streams; i++) {
        if (vm->streams[i]->pub.state != state)
            continue;
        if (n < max)
            ids[n] = vm->streams[i]->pub.context_id;
        n++;
    }
    return n;
}

void pw_set_stream_event(struct pw_vm *vm, pw_stream_event_fn *fn, void *user) {
    vm->stream_event = fn;
    vm->stream_event_user = user;
}

const char *pw_local_reply_header(const struct pw_local_reply *reply, const char *name) {
    for (size_t i = 0; reply && i < reply->n_headers; i++)
        if (strcasecmp(reply->headers[i].name, name) == 0)
            return reply->headers[i].value;
    return NULL;
}

/* ---- Metrics API ------------------------------------------------------------------- */

const struct pw_metric *pw_metric_find(const struct pw_vm *vm, const char *name) {
    const struct stats *st = vm->stats;
    for (size_t i = 0; i < st->n_metrics; i++)
        if (strcmp(st->metrics[i]->pub.name, name) == 0)
            return &st->metrics[i]->pub;
    return NULL;
}

size_t pw_metric_count(const struct pw_vm *vm) { return vm->stats->n_metrics; }

const struct pw_metric *pw_metric_at(const struct pw_vm *vm, size_t i) {
    return i < vm->stats->n_metrics ? &vm->stats->metrics[i]->pub : NULL;
}

size_t pw_metric_sample_count(const struct pw_metric *metric) { return metric->n_samples; }

uint64_t pw_metric_sample(const struct pw_metric *metric, size_t i) {
    if (i >= metric->n_samples)
        return 0;
    return metric->samples[(metric->oldest_sample + i) % PW_HISTOGRAM_SAMPLES];
}

size_t pw_metric_envoy_name(const struct pw_metric *metric, char *out, size_t out_size) {
    int n = snprintf(out, out_size, "wasmcustom.%s", metric->name);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- Logs and randomness API ----------------------------------------------------- */

void pw_set_log_level(struct pw_vm *vm, enum pw_log_level level) { vm->log_level = level; }

size_t pw_log_count(const struct pw_vm *vm) { return vm->log_count; }

const char *pw_log_at(const struct pw_vm *vm, size_t i, enum pw_log_level *level) {
    if (i >= vm->log_count)
        return NULL;
    const struct log_entry *e = &vm->logs[(vm->log_first + i) % PW_LOG_RING];
    if (level)
        *level = e->level;
    return e->text;
}

const char *pw_log_find(const struct pw_vm *vm, const char *needle) {
    for (size_t i = vm->log_count; i-- > 0;) {
        const char *text = pw_log_at(vm, i, NULL);
        if (strstr(text, needle))
            return text;
    }
    return NULL;
}

void pw_log_clear(struct pw_vm *vm) {
    for (size_t i = 0; i < vm->log_count; i++)
        free(vm->logs[(vm->log_first + i) % PW_LOG_RING].text);
    vm->log_first = vm->log_count = 0;
}

void pw_set_log_sink(struct pw_vm *vm, pw_log_fn *fn, void *user) {
    vm->log_sink = fn;
    vm->log_user = user;
}

void pw_set_random_seed(struct pw_vm *vm, uint64_t seed) { vm->random_state = seed; }
