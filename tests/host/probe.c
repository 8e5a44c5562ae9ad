/* A test-only proxy-wasm module that calls the host's imports on command, so
 * host_test can check the host through the ABI as a real module sees it.
 *
 * Commands are separated by ';', their words by spaces. The plugin
 * configuration's commands run in proxy_on_configure, except what follows
 * `ontick`, which runs in every proxy_on_tick; a request's commands come in
 * its `x-probe` header. Each command logs "<command> -> <result>[ value=...]"
 * at info level, and every callback logs its name and context, so a test
 * reads the outcome, and the call order, from the host's log ring. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strdup */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define WASI(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

IMPORT(proxy_log) uint32_t proxy_log(uint32_t level, const char *msg, size_t size);
IMPORT(proxy_get_log_level) uint32_t proxy_get_log_level(uint32_t *level);
IMPORT(proxy_get_current_time_nanoseconds) uint32_t proxy_get_current_time_nanoseconds(uint64_t *ns);
IMPORT(proxy_set_tick_period_milliseconds) uint32_t proxy_set_tick_period_milliseconds(uint32_t ms);
IMPORT(proxy_get_buffer_bytes)
uint32_t proxy_get_buffer_bytes(uint32_t type, uint32_t start, uint32_t max, char **data, size_t *size);
IMPORT(proxy_get_buffer_status) uint32_t proxy_get_buffer_status(uint32_t type, size_t *length, uint32_t *flags);
IMPORT(proxy_get_header_map_value)
uint32_t proxy_get_header_map_value(uint32_t type, const char *key, size_t key_size, char **value, size_t *size);
IMPORT(proxy_get_header_map_pairs) uint32_t proxy_get_header_map_pairs(uint32_t type, char **data, size_t *size);
IMPORT(proxy_get_header_map_size) uint32_t proxy_get_header_map_size(uint32_t type, size_t *size);
IMPORT(proxy_add_header_map_value)
uint32_t proxy_add_header_map_value(uint32_t type, const char *key, size_t key_size, const char *value, size_t size);
IMPORT(proxy_replace_header_map_value)
uint32_t proxy_replace_header_map_value(uint32_t type, const char *key, size_t key_size, const char *value,
                                        size_t size);
IMPORT(proxy_remove_header_map_value)
uint32_t proxy_remove_header_map_value(uint32_t type, const char *key, size_t key_size);
IMPORT(proxy_get_property) uint32_t proxy_get_property(const char *path, size_t size, char **value, size_t *value_size);
IMPORT(proxy_send_local_response)
uint32_t proxy_send_local_response(uint32_t status, const char *details, size_t details_size, const char *body,
                                   size_t body_size, const char *headers, size_t headers_size, int32_t grpc_status);
IMPORT(proxy_continue_stream) uint32_t proxy_continue_stream(uint32_t type);
IMPORT(proxy_close_stream) uint32_t proxy_close_stream(uint32_t type);
IMPORT(proxy_set_effective_context) uint32_t proxy_set_effective_context(uint32_t context_id);
IMPORT(proxy_done) uint32_t proxy_done(void);
IMPORT(proxy_define_metric) uint32_t proxy_define_metric(uint32_t type, const char *name, size_t size, uint32_t *id);
IMPORT(proxy_increment_metric) uint32_t proxy_increment_metric(uint32_t id, int64_t offset);
IMPORT(proxy_record_metric) uint32_t proxy_record_metric(uint32_t id, uint64_t value);
IMPORT(proxy_get_metric) uint32_t proxy_get_metric(uint32_t id, uint64_t *value);
WASI(random_get) uint16_t wasi_random_get(uint8_t *buf, size_t len);
WASI(fd_write) uint16_t wasi_fd_write(uint32_t fd, const void *iovs, size_t iovs_len, size_t *written);
WASI(fd_seek) uint16_t wasi_fd_seek(uint32_t fd, int64_t offset, uint32_t whence, uint64_t *new_offset);
WASI(proc_exit) _Noreturn void wasi_proc_exit(uint32_t code);

enum { LOG_INFO = 2, REQUEST_HEADERS = 0, STREAM_REQUEST = 0 };

struct pending {
    uint32_t context_id;
    uint32_t reply_status; /* 0: resume; else answer with this status */
};

static uint32_t root_id;
static bool configure_fails, keep_deleted;
static char *tick_script;
static struct pending pending[64];
static size_t n_pending;
static uint32_t metric_ids[16];
static char metric_names[16][32];
static size_t n_metrics;

/* What the current request callback answers. */
static uint32_t headers_action;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    proxy_log(LOG_INFO, text, n < (int)sizeof text ? (size_t)n : sizeof text - 1);
}

static uint32_t metric_id(const char *name) {
    for (size_t i = 0; i < n_metrics; i++)
        if (strcmp(metric_names[i], name) == 0)
            return metric_ids[i];
    return 999; /* unknown to the host too */
}

/* "node.metadata.X" -> "node\0metadata\0X" */
static size_t wire_path(const char *dotted, char *out, size_t size) {
    size_t n = strlen(dotted);
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = dotted[i] == '.' ? '\0' : dotted[i];
    return n;
}

static void say_value(const char *what, uint32_t result, char *data, size_t size) {
    say("%s -> %u value=%.*s size=%zu", what, result, (int)size, data ? data : "", size);
    free(data);
}

/* Decodes a serialized header map the way an SDK does, checking its framing. */
static void say_pairs(uint32_t result, char *data, size_t size) {
    char text[400] = "";
    size_t used = 0;
    uint32_t n = 0;
    if (size >= 4) {
        memcpy(&n, data, 4);
        const char *lens = data + 4, *p = data + 4 + 8 * (size_t)n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t kl, vl;
            memcpy(&kl, lens + 8 * i, 4);
            memcpy(&vl, lens + 8 * i + 4, 4);
            bool framed = p[kl] == '\0' && p[kl + 1 + vl] == '\0';
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%s=%s%s", i ? "," : "", p, p + kl + 1,
                                     framed ? "" : "(bad framing)");
            if (used >= sizeof text)
                break;
            p += kl + vl + 2;
        }
    }
    say("pairs -> %u n=%u size=%zu %s", result, n, size, text);
    free(data);
}

static void write_fd(uint32_t fd, const char *text) {
    struct {
        const char *buf;
        size_t len;
    } iov[2] = {{text, strlen(text)}, {"\n", 1}};
    size_t written = 0;
    uint16_t err = wasi_fd_write(fd, iov, 2, &written);
    say("write %u -> %u written=%zu", fd, err, written);
}

static void pend(uint32_t context_id, uint32_t reply_status) {
    if (n_pending < sizeof pending / sizeof pending[0])
        pending[n_pending++] = (struct pending){context_id, reply_status};
}

static void run_command(char *cmd, uint32_t context_id) {
    char *words[4] = {0};
    size_t n = 0;
    for (char *w = strtok(cmd, " "); w && n < 4; w = strtok(NULL, " "))
        words[n++] = w;
    if (n == 0)
        return;
    const char *op = words[0], *a = n > 1 ? words[1] : "", *b = n > 2 ? words[2] : "";
    char *data = NULL;
    size_t size = 0;
    char path[128];

    if (strcmp(op, "log") == 0) {
        proxy_log((uint32_t)atoi(a), b, strlen(b));
    } else if (strcmp(op, "define") == 0) {
        uint32_t type = a[0] == 'c' ? 0 : a[0] == 'g' ? 1 : a[0] == 'h' ? 2 : 7, id = 0;
        uint32_t r = proxy_define_metric(type, b, strlen(b), &id);
        if (r == 0 && n_metrics < 16) {
            snprintf(metric_names[n_metrics], sizeof metric_names[0], "%s", b);
            metric_ids[n_metrics++] = id;
        }
        say("define %s %s -> %u id=%u", a, b, r, id);
    } else if (strcmp(op, "inc") == 0) {
        say("inc %s %s -> %u", a, b, proxy_increment_metric(metric_id(a), strtoll(b, NULL, 10)));
    } else if (strcmp(op, "record") == 0) {
        say("record %s %s -> %u", a, b, proxy_record_metric(metric_id(a), strtoull(b, NULL, 10)));
    } else if (strcmp(op, "get") == 0) {
        uint64_t v = 0;
        uint32_t r = proxy_get_metric(metric_id(a), &v);
        say("get %s -> %u value=%llu", a, r, (unsigned long long)v);
    } else if (strcmp(op, "prop") == 0) {
        uint32_t r = proxy_get_property(path, wire_path(a, path, sizeof path), &data, &size);
        char what[160];
        snprintf(what, sizeof what, "prop %s", a);
        say_value(what, r, data, size);
    } else if (strcmp(op, "header") == 0) {
        uint32_t r = proxy_get_header_map_value(REQUEST_HEADERS, a, strlen(a), &data, &size);
        char what[160];
        snprintf(what, sizeof what, "header %s", a);
        say_value(what, r, data, size);
    } else if (strcmp(op, "pairs") == 0) {
        uint32_t r = proxy_get_header_map_pairs(REQUEST_HEADERS, &data, &size);
        say_pairs(r, data, size);
    } else if (strcmp(op, "size") == 0) {
        uint32_t r = proxy_get_header_map_size(REQUEST_HEADERS, &size);
        say("size -> %u value=%zu", r, size);
    } else if (strcmp(op, "add") == 0) {
        say("add %s -> %u", a, proxy_add_header_map_value(REQUEST_HEADERS, a, strlen(a), b, strlen(b)));
    } else if (strcmp(op, "replace") == 0) {
        say("replace %s -> %u", a, proxy_replace_header_map_value(REQUEST_HEADERS, a, strlen(a), b, strlen(b)));
    } else if (strcmp(op, "remove") == 0) {
        say("remove %s -> %u", a, proxy_remove_header_map_value(REQUEST_HEADERS, a, strlen(a)));
    } else if (strcmp(op, "reply") == 0) {
        /* one extra header, serialized: n=1, (11, 5), "x-probe-why\0abort\0" */
        static const char headers[] = "\1\0\0\0\13\0\0\0\5\0\0\0x-probe-why\0abort";
        say("reply -> %u", proxy_send_local_response((uint32_t)atoi(a), "probe_abort", 11, b, strlen(b), headers,
                                                     sizeof headers, -1));
    } else if (strcmp(op, "paddedreply") == 0) {
        /* a well-formed map followed by the padding a C struct would add */
        static const char headers[] = "\1\0\0\0\13\0\0\0\5\0\0\0x-probe-why\0abort\0\0";
        say("paddedreply -> %u", proxy_send_local_response(500, "", 0, "", 0, headers, sizeof headers, -1));
    } else if (strcmp(op, "badreply") == 0) {
        static const char headers[] = "\7\0\0\0";
        say("badreply -> %u", proxy_send_local_response(500, "", 0, "", 0, headers, sizeof headers - 1, -1));
    } else if (strcmp(op, "pause") == 0) {
        headers_action = 1;
        pend(context_id, (uint32_t)atoi(a));
    } else if (strcmp(op, "stop") == 0) {
        headers_action = (uint32_t)atoi(a);
    } else if (strcmp(op, "tick") == 0) {
        say("tick %s -> %u", a, proxy_set_tick_period_milliseconds((uint32_t)atoi(a)));
    } else if (strcmp(op, "time") == 0) {
        uint64_t ns = 0;
        uint32_t r = proxy_get_current_time_nanoseconds(&ns);
        say("time -> %u value=%llu", r, (unsigned long long)ns);
    } else if (strcmp(op, "clock") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        say("clock -> value=%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
    } else if (strcmp(op, "trap") == 0) {
        __builtin_trap();
    } else if (strcmp(op, "exit") == 0) {
        wasi_proc_exit(3);
    } else if (strcmp(op, "seek") == 0) {
        uint64_t at;
        say("seek -> %u", wasi_fd_seek(5, 0, 0, &at));
    } else if (strcmp(op, "print") == 0) {
        write_fd(1, a);
    } else if (strcmp(op, "eprint") == 0) {
        write_fd(2, a);
    } else if (strcmp(op, "random") == 0) {
        uint8_t r[4] = {0};
        uint16_t e = wasi_random_get(r, sizeof r);
        say("random -> %u value=%02x%02x%02x%02x", e, r[0], r[1], r[2], r[3]);
    } else if (strcmp(op, "buffer") == 0) {
        uint32_t r = proxy_get_buffer_bytes((uint32_t)atoi(a), (uint32_t)atoi(b),
                                            n > 3 ? (uint32_t)atoi(words[3]) : 1000, &data, &size);
        char what[64];
        snprintf(what, sizeof what, "buffer %s %s", a, b);
        say_value(what, r, data, size);
    } else if (strcmp(op, "status") == 0) {
        uint32_t flags = 9;
        uint32_t r = proxy_get_buffer_status((uint32_t)atoi(a), &size, &flags);
        say("status %s -> %u value=%zu flags=%u", a, r, size, flags);
    } else if (strcmp(op, "loglevel") == 0) {
        uint32_t level = 99;
        uint32_t r = proxy_get_log_level(&level);
        say("loglevel -> %u value=%u", r, level);
    } else if (strcmp(op, "effective") == 0) {
        say("effective %s -> %u", a, proxy_set_effective_context((uint32_t)atoi(a)));
    } else if (strcmp(op, "continue") == 0) {
        say("continue -> %u", proxy_continue_stream(STREAM_REQUEST));
    } else if (strcmp(op, "close") == 0) {
        say("close -> %u", proxy_close_stream(STREAM_REQUEST));
    } else if (strcmp(op, "done") == 0) {
        say("done -> %u", proxy_done());
    } else if (strcmp(op, "grow") == 0) {
        /* Forces memory.grow, so the host must re-read the memory base. */
        void *block = malloc((size_t)atoi(a) * 1024);
        say("grow -> %s", block ? "ok" : "failed");
    } else if (strcmp(op, "fail-configure") == 0) {
        configure_fails = true;
    } else if (strcmp(op, "keep-deleted") == 0) {
        keep_deleted = true;
    } else {
        say("unknown command %s", op);
    }
}

/* Runs a ';'-separated script (a private copy: strtok writes into it). */
static void run_script(const char *script, size_t len, uint32_t context_id) {
    char *copy = malloc(len + 1);
    memcpy(copy, script, len);
    copy[len] = '\0';
    char *rest = copy;
    while (rest) {
        char *end = strchr(rest, ';');
        if (end)
            *end = '\0';
        if (strncmp(rest, "ontick", 6) == 0 && end) {
            free(tick_script);
            tick_script = strdup(end + 1);
            break;
        }
        run_command(rest, context_id);
        rest = end ? end + 1 : NULL;
    }
    free(copy);
}

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {
    if (parent_id == 0)
        root_id = context_id;
    say("on_context_create %u %u", context_id, parent_id);
}

EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root, uint32_t vm_config_size) {
    say("on_vm_start %u %u", root, vm_config_size);
    return 1;
}

EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root, uint32_t config_size) {
    say("on_configure %u %u", root, config_size);
    char *config = NULL;
    size_t size = 0;
    configure_fails = false;
    if (config_size && proxy_get_buffer_bytes(7, 0, config_size, &config, &size) == 0)
        run_script(config, size, root);
    free(config);
    return !configure_fails;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t n_headers, uint32_t end_of_stream) {
    say("on_request_headers %u %u %u", context_id, n_headers, end_of_stream);
    char *script = NULL;
    size_t size = 0;
    headers_action = 0;
    if (proxy_get_header_map_value(REQUEST_HEADERS, "x-probe", 7, &script, &size) == 0)
        run_script(script, size, context_id);
    free(script);
    return headers_action;
}

/* Resumes (or answers) every paused request, then runs the tick script. */
EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root) {
    say("on_tick %u", root);
    for (size_t i = 0; i < n_pending; i++) {
        say("resume %u effective -> %u", pending[i].context_id, proxy_set_effective_context(pending[i].context_id));
        if (pending[i].reply_status)
            say("resume %u reply -> %u", pending[i].context_id,
                proxy_send_local_response(pending[i].reply_status, "", 0, "late", 4, NULL, 0, -1));
        else
            say("resume %u continue -> %u", pending[i].context_id, proxy_continue_stream(STREAM_REQUEST));
    }
    n_pending = 0;
    proxy_set_effective_context(root_id);
    if (tick_script)
        run_script(tick_script, strlen(tick_script), root);
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id) {
    say("on_done %u", context_id);
    return 1;
}

EXPORT(proxy_on_log) void proxy_on_log(uint32_t context_id) { say("on_log %u", context_id); }

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) {
    say("on_delete %u", context_id);
    if (keep_deleted)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < n_pending; i++)
        if (pending[i].context_id != context_id)
            pending[kept++] = pending[i];
    n_pending = kept;
}
