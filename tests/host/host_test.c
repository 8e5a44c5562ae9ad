/* Tests of the proxy-wasm host: the load checks on WAT modules, the ABI as
 * the probe module (tests/host/probe.c) sees it, and the passthrough module
 * end to end. The probe logs each command's outcome as
 * "<command> -> <result>[ value=...]"; the tests read those lines back. */
#include <stdlib.h>

#include "../testlib.h"
#include "host.h"

PW_MODULE_DECLARE(probe);

#define PROBE_WASM PWHOST_TEST_DIR "/probe.wasm"
#define WAT_DIR PWHOST_TEST_DIR "/wat/"

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    *len = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

static struct pw_vm *new_probe(void) {
    char err[256] = "";
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_probe, PROBE_WASM, err, sizeof err);
    if (!vm)
        fprintf(stderr, "probe: %s\n", err);
    return vm;
}

/* A started probe VM running config in proxy_on_configure. */
static struct pw_vm *start_probe(const char *config) {
    struct pw_vm *vm = new_probe();
    if (vm && !pw_vm_start(vm, config) && pw_vm_failed(vm))
        fprintf(stderr, "probe start: %s\n", pw_vm_error(vm));
    return vm;
}

static struct pw_stream_result request(struct pw_vm *vm, const char *script) {
    struct pw_header headers[] = {{":method", "GET"}, {":path", "/probe"}, {"X-Probe", script}};
    return pw_stream_start(vm, headers, 3);
}

/* Index of the first log entry containing needle, -1 if none. */
static long log_index(const struct pw_vm *vm, const char *needle) {
    for (size_t i = 0; i < pw_log_count(vm); i++)
        if (strstr(pw_log_at(vm, i, NULL), needle))
            return (long)i;
    return -1;
}

static size_t log_occurrences(const struct pw_vm *vm, const char *needle) {
    size_t n = 0;
    for (size_t i = 0; i < pw_log_count(vm); i++)
        n += strstr(pw_log_at(vm, i, NULL), needle) != NULL;
    return n;
}

#define CHECK_LOGGED(vm, needle) CHECK_CONTAINS(pw_log_find((vm), (needle)), (needle))

/* ---- Load checks ------------------------------------------------------------------- */

static void check_validates(const char *path, const char *want_error) {
    size_t len = 0;
    uint8_t *wasm = read_file(path, &len);
    CHECK(wasm != NULL);
    struct pw_wasm_report report;
    bool ok = wasm && pw_validate(wasm, len, &report);
    if (want_error) {
        CHECK(!ok);
        CHECK_CONTAINS(report.error, want_error);
    } else {
        CHECK(ok);
        CHECK_STR(report.error, "");
    }
    free(wasm);
}

static void test_validator_refuses_what_cpp_host_refuses(void) {
    check_validates(WAT_DIR "no_abi_version.wasm", "missing export proxy_abi_version_0_2_1");
    check_validates(WAT_DIR "no_malloc.wasm", "missing export malloc (or proxy_on_memory_allocate)");
    check_validates(WAT_DIR "no_memory.wasm", "missing export \"memory\"");
    check_validates(WAT_DIR "unknown_import.wasm", "import env.proxy_frobnicate is not provided by this host");
    check_validates(WAT_DIR "import_signature.wasm",
                    "import env.proxy_log has signature (i32, i32) -> i32, the host provides (i32, i32, i32) -> i32");
    check_validates(WAT_DIR "export_signature.wasm",
                    "export proxy_on_tick has signature (i32, i32) -> nil, the host expects (i32) -> nil");
    check_validates(WAT_DIR "reexported_import.wasm",
                    "export proxy_on_tick has signature (i32, i32, i32) -> i32, the host expects (i32) -> nil");
    check_validates(WAT_DIR "memory_import.wasm", "import env.memory is a memory: this host provides only functions");
}

static void test_validator_accepts_proxy_modules(void) {
    check_validates(WAT_DIR "allocate_only.wasm", NULL);
    check_validates(PWHOST_TEST_DIR "/imports.wasm", NULL);
    check_validates(PROBE_WASM, NULL);
    check_validates(PASSTHROUGH_WASM, NULL);

    size_t len = 0;
    uint8_t *wasm = read_file(PASSTHROUGH_WASM, &len);
    struct pw_wasm_report report;
    CHECK(wasm && pw_validate(wasm, len, &report));
    CHECK_INT(report.bound_exports & (PW_EXPORT_MEMORY | PW_EXPORT_MALLOC | PW_EXPORT_ON_REQUEST_HEADERS),
              PW_EXPORT_MEMORY | PW_EXPORT_MALLOC | PW_EXPORT_ON_REQUEST_HEADERS);
    CHECK_INT(report.bound_exports & PW_EXPORT_ON_TICK, 0);
    free(wasm);
}

/* imports.wat (all valid, so each is in the table with its signature) and
 * the table (each named in imports.wat) list the same imports. */
static void test_import_table_matches_imports_wat(void) {
    size_t len = 0;
    char *wat = (char *)read_file("tests/host/imports.wat", &len);
    CHECK(wat != NULL);
    if (!wat)
        return;
    wat = realloc(wat, len + 1);
    wat[len] = '\0';
    size_t declared = 0;
    for (const char *p = wat; (p = strstr(p, "(import \"")); p++)
        declared++;
    CHECK_INT(declared, pw_host_import_count());
    for (size_t i = 0; i < pw_host_import_count(); i++) {
        const char *module, *name, *signature;
        CHECK(pw_host_import(i, &module, &name, &signature));
        char quoted[160];
        snprintf(quoted, sizeof quoted, "(import \"%s\" \"%s\"", module, name);
        CHECK_CONTAINS(wat, quoted);
    }
    free(wat);
}

/* Every truncation and many corruptions of a real module are refused or
 * accepted without reading out of bounds (ASan watches). */
static void test_validator_survives_damaged_modules(void) {
    size_t len = 0;
    uint8_t *wasm = read_file(PROBE_WASM, &len);
    CHECK(wasm != NULL);
    if (!wasm)
        return;
    struct pw_wasm_report report;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, wasm, cut);
        bool ok = pw_validate(copy, cut, &report);
        free(copy);
        if (cut < 8)
            CHECK(!ok);
    }
    uint64_t seed = 42;
    for (int round = 0; round < 2000; round++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, wasm, len);
        for (int flips = 0; flips < 4; flips++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            copy[8 + (seed >> 33) % (len - 8)] ^= (uint8_t)(seed >> 20);
        }
        pw_validate(copy, len, &report);
        free(copy);
    }
    CHECK(!pw_validate((const uint8_t *)"\0asm\2\0\0\0", 8, &report));
    CHECK_CONTAINS(report.error, "bad magic or version");
    free(wasm);
}

static void test_vm_refuses_a_wasm_that_is_not_the_linked_module(void) {
    size_t len = 0;
    uint8_t *probe = read_file(PROBE_WASM, &len);
    char err[256] = "";
    CHECK(pw_vm_new(&pw_module_passthrough, probe, len, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not the one passthrough was translated from");
    free(probe);

    CHECK(pw_vm_new_from_file(&pw_module_probe, WAT_DIR "unknown_import.wasm", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "refused: import env.proxy_frobnicate");
    CHECK(pw_vm_new_from_file(&pw_module_probe, "no/such/file.wasm", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "cannot open no/such/file.wasm");
}

/* ---- Lifecycle ------------------------------------------------------------------- */

static void test_passthrough_continues_every_request(void) {
    char err[256] = "";
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_passthrough, PASSTHROUGH_WASM, err, sizeof err);
    CHECK(vm != NULL);
    if (!vm) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(pw_vm_start(vm, "{}"));
    for (int i = 0; i < 100; i++) {
        struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
        CHECK_INT(r.state, PW_STREAM_CONTINUED);
        CHECK_INT(r.context_id, 2 + i);
        CHECK(r.reply == NULL);
        CHECK(pw_stream_complete(vm, r.context_id));
    }
    CHECK_INT(pw_stream_count(vm), 0);
    CHECK(!pw_vm_failed(vm));
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

static void test_call_order_follows_cpp_host(void) {
    struct pw_vm *vm = new_probe();
    if (!vm)
        return;
    pw_set_vm_config(vm, "vmcfg", 5);
    CHECK(pw_vm_start(vm, "buffer 6 0"));
    long create = log_index(vm, "on_context_create 1 0"), vm_start = log_index(vm, "on_vm_start 1 5"),
         configure = log_index(vm, "on_configure 1 10");
    CHECK(create >= 0 && create < vm_start && vm_start < configure);
    CHECK_LOGGED(vm, "buffer 6 0 -> 0 value=vmcfg");

    struct pw_stream_result r = request(vm, "");
    CHECK_INT(r.context_id, 2);
    long stream_create = log_index(vm, "on_context_create 2 1"), headers = log_index(vm, "on_request_headers 2 3 1");
    CHECK(stream_create > configure && headers > stream_create);
    CHECK(pw_stream_complete(vm, 2));
    long done = log_index(vm, "on_done 2"), logged = log_index(vm, "on_log 2"), deleted = log_index(vm, "on_delete 2");
    CHECK(done > headers && logged > done && deleted > logged);
    CHECK(!pw_stream_complete(vm, 2));
    CHECK(pw_stream_get(vm, 2) == NULL);
    pw_vm_free(vm);
}

static void test_configuration_buffers_and_reconfigure(void) {
    struct pw_vm *vm = new_probe();
    if (!vm)
        return;
    CHECK(pw_vm_start(vm, "buffer 7 0 3;buffer 7 7;buffer 7 99;buffer 4 0;status 7;buffer 6 0;buffer 9 0"));
    CHECK_LOGGED(vm, "buffer 7 0 -> 0 value=buf");
    CHECK_LOGGED(vm, "buffer 7 7 -> 0 value=7 0 3;buffer");
    CHECK_LOGGED(vm, "buffer 7 99 -> 0 value= size=0"); /* past the end: nothing */
    CHECK_LOGGED(vm, "buffer 4 0 -> 1 value=");
    CHECK_LOGGED(vm, "status 7 -> 0 value=77 flags=0");
    CHECK_LOGGED(vm, "buffer 6 0 -> 0 value= size=0");
    CHECK_LOGGED(vm, "buffer 9 0 -> 2"); /* no such buffer type */

    /* ECDS: each configuration gets a new root context, as in
     * proxy-wasm-cpp-host's WasmBase::start. A refused one is shut down and
     * the previous root stays; an accepted one replaces it, and the previous
     * root, with no stream left, is shut down. */
    CHECK(!pw_vm_configure(vm, "fail-configure"));
    CHECK_INT(log_occurrences(vm, "on_configure 1"), 1);
    long create = log_index(vm, "on_context_create 2 0"), start = log_index(vm, "on_vm_start 2 0"),
         configure = log_index(vm, "on_configure 2 14"), done = log_index(vm, "on_done 2"),
         deleted = log_index(vm, "on_delete 2");
    CHECK(create >= 0 && create < start && start < configure && configure < done && done < deleted);
    CHECK_INT(pw_vm_current_root(vm), 1);
    CHECK(pw_vm_configure(vm, "log 3 second;buffer 7 0"));
    CHECK_LOGGED(vm, "second");
    CHECK_LOGGED(vm, "buffer 7 0 -> 0 value=log 3 second;buffer 7 0"); /* the new root's own configuration */
    CHECK_INT(pw_vm_current_root(vm), 3);
    CHECK(log_index(vm, "on_done 1") > log_index(vm, "on_configure 3"));
    CHECK(log_index(vm, "on_delete 1") > log_index(vm, "on_done 1"));
    CHECK_INT(pw_vm_root_count(vm), 1);
    CHECK(!pw_vm_failed(vm));
    CHECK(!pw_vm_start(vm, NULL)); /* once only */
    pw_vm_free(vm);

    vm = start_probe("fail-configure");
    CHECK(vm && !pw_vm_failed(vm)); /* a refused configuration is not a VM failure */
    CHECK_INT(pw_vm_current_root(vm), 0);
    CHECK_INT(request(vm, "").state, PW_STREAM_FAILED); /* but no plugin serves streams */
    pw_vm_free(vm);
}

/* ---- Metrics ----------------------------------------------------------------------- */

static void test_metric_semantics(void) {
    struct pw_vm *vm = start_probe("define c hits;define g level;define h lat;define c hits;define g hits;define x bad;"
                                   "inc hits 5;inc hits 0;inc hits -1;record hits 2;get hits;"
                                   "record level 10;inc level -3;get level;"
                                   "inc lat 1;record lat 3;record lat 700;record lat 5000000;get lat;get nosuch;"
                                   "inc nosuch 1");
    if (!vm)
        return;
    CHECK_LOGGED(vm, "define c hits -> 0 id=1");
    CHECK_LOGGED(vm, "define g level -> 0 id=2");
    CHECK_LOGGED(vm, "define h lat -> 0 id=3");
    CHECK_INT(log_occurrences(vm, "define c hits -> 0 id=1"), 2); /* same name and type, same id */
    CHECK_LOGGED(vm, "define g hits -> 2");
    CHECK_LOGGED(vm, "define x bad -> 2");
    CHECK_LOGGED(vm, "inc hits 5 -> 0");
    CHECK_LOGGED(vm, "inc hits 0 -> 2");
    CHECK_LOGGED(vm, "inc hits -1 -> 2");
    CHECK_LOGGED(vm, "record hits 2 -> 0");
    CHECK_LOGGED(vm, "get hits -> 0 value=7");
    CHECK_LOGGED(vm, "inc level -3 -> 0");
    CHECK_LOGGED(vm, "get level -> 0 value=7");
    CHECK_LOGGED(vm, "inc lat 1 -> 2");
    CHECK_LOGGED(vm, "record lat 700 -> 0");
    CHECK_LOGGED(vm, "get lat -> 2");
    CHECK_LOGGED(vm, "get nosuch -> 1");
    CHECK_LOGGED(vm, "inc nosuch 1 -> 1");

    CHECK_INT(pw_metric_count(vm), 3);
    const struct pw_metric *hits = pw_metric_find(vm, "hits"), *lat = pw_metric_find(vm, "lat");
    CHECK(hits && hits->type == PW_COUNTER && hits->value == 7);
    CHECK(pw_metric_at(vm, 1) == pw_metric_find(vm, "level"));
    CHECK(pw_metric_find(vm, "wasmcustom.hits") == NULL);
    CHECK(lat != NULL);
    if (lat) {
        CHECK_INT(lat->type, PW_HISTOGRAM);
        CHECK_INT(lat->count, 3);
        CHECK_INT(lat->sum, 5000703);
        CHECK_INT(lat->buckets[1], 0); /* <= 1 */
        CHECK_INT(lat->buckets[2], 1); /* <= 5 */
        CHECK_INT(lat->buckets[9], 2); /* <= 1000 */
        CHECK_INT(lat->buckets[PW_HISTOGRAM_BOUNDS - 1], 2);
        CHECK_INT(lat->buckets[PW_HISTOGRAM_BOUNDS], 3); /* +Inf */
        CHECK_INT(pw_metric_sample_count(lat), 3);
        CHECK_INT(pw_metric_sample(lat, 0), 3);
        CHECK_INT(pw_metric_sample(lat, 2), 5000000);
        char name[64];
        CHECK_INT(pw_metric_envoy_name(lat, name, sizeof name), strlen("wasmcustom.lat"));
        CHECK_STR(name, "wasmcustom.lat");
    }
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

static void test_gauge_below_zero_is_misuse(void) {
    struct pw_vm *vm = start_probe("define g active;inc active 1;inc active -2");
    if (!vm)
        return;
    CHECK_INT(pw_vm_misuse_count(vm), 1);
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "gauge active went below zero");
    CHECK_LOGGED(vm, "host: misuse: gauge active");
    pw_vm_free(vm);
}

static void test_histogram_keeps_the_latest_samples(void) {
    size_t n = PW_HISTOGRAM_SAMPLES + 10, used = 0, cap = 16 * n + 32;
    char *config = malloc(cap);
    used += (size_t)snprintf(config + used, cap - used, "define h d");
    for (size_t i = 1; i <= n; i++)
        used += (size_t)snprintf(config + used, cap - used, ";record d %zu", i);
    struct pw_vm *vm = start_probe(config);
    free(config);
    if (!vm)
        return;
    const struct pw_metric *d = pw_metric_find(vm, "d");
    CHECK(d != NULL);
    if (d) {
        CHECK_INT(d->count, n);
        CHECK_INT(pw_metric_sample_count(d), PW_HISTOGRAM_SAMPLES);
        CHECK_INT(pw_metric_sample(d, 0), 11);
        CHECK_INT(pw_metric_sample(d, PW_HISTOGRAM_SAMPLES - 1), n);
    }
    CHECK_INT(pw_log_count(vm), PW_LOG_RING); /* the ring kept the newest lines */
    CHECK_LOGGED(vm, "record d 1034 -> 0");
    pw_vm_free(vm);
}

/* ---- Headers and properties ------------------------------------------------------- */

static void test_header_map_serialization_and_edits(void) {
    struct pw_vm *vm = start_probe("header :path");
    if (!vm)
        return;
    CHECK_LOGGED(vm, "header :path -> 2 value="); /* no request map on the root context */
    struct pw_stream_result r =
        request(vm, "pairs;header X-PROBE;header :method;header missing;add x-new 1;add x-new 2;"
                    "replace :path /rewritten;remove x-probe;header x-new");
    CHECK_LOGGED(vm, "pairs -> 0 n=3 size=");
    CHECK_LOGGED(vm, ":method=GET,:path=/probe,x-probe=pairs;header X-PROBE");
    CHECK(log_index(vm, "bad framing") < 0);
    CHECK_LOGGED(vm, "header X-PROBE -> 0 value=pairs;header"); /* names match case-insensitively */
    CHECK_LOGGED(vm, "header :method -> 0 value=GET");
    CHECK_LOGGED(vm, "header missing -> 1 value=");
    CHECK_LOGGED(vm, "add x-new -> 0");
    CHECK_LOGGED(vm, "header x-new -> 0 value=1"); /* the first of repeated values */
    CHECK_INT(r.state, PW_STREAM_CONTINUED);
    CHECK_STR(pw_stream_header(vm, r.context_id, ":path"), "/rewritten");
    CHECK(pw_stream_header(vm, r.context_id, "x-probe") == NULL);
    CHECK_STR(pw_stream_header(vm, r.context_id, "X-New"), "1");
    CHECK(pw_stream_header(vm, 99, ":path") == NULL);
    pw_stream_complete(vm, r.context_id);

    /* An empty map comes back as (0, 0), as cpp-host sends it. */
    r = request(vm, "remove :method;remove :path;remove x-probe;pairs");
    CHECK_LOGGED(vm, "pairs -> 0 n=0 size=0");
    pw_stream_complete(vm, r.context_id);

    /* Envoy's HeaderMap::byteSize(): names and values, no framing. */
    r = pw_stream_start(vm, (struct pw_header[]){{":method", "GET"}, {":path", "/probe"}, {"x-probe", "size"}}, 3);
    CHECK_LOGGED(vm, "size -> 0 value=32");
    pw_stream_complete(vm, r.context_id);
    pw_vm_free(vm);
}

static void test_properties(void) {
    struct pw_vm *vm = new_probe();
    if (!vm)
        return;
    pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
    pw_set_property(vm, "node.metadata.NAMESPACE", "demo");
    pw_set_property(vm, "node.metadata.NAMESPACE", "shop"); /* replaced */
    pw_set_property_path(vm, "node\0id", 7, "x\0y", 3);
    pw_set_property(vm, "empty", "");
    CHECK(pw_vm_start(vm, "prop node.metadata.WORKLOAD_NAME;prop node.metadata.NAMESPACE;prop node.metadata;"
                          "prop node.metadata.WORKLOAD_NAMEX;prop empty;prop node.id"));
    CHECK_LOGGED(vm, "prop node.metadata.WORKLOAD_NAME -> 0 value=frontend");
    CHECK_LOGGED(vm, "prop node.metadata.NAMESPACE -> 0 value=shop");
    CHECK_LOGGED(vm, "prop node.metadata -> 1 value=");
    CHECK_LOGGED(vm, "prop node.metadata.WORKLOAD_NAMEX -> 1");
    CHECK_LOGGED(vm, "prop empty -> 0 value= size=0");
    CHECK_LOGGED(vm, "prop node.id -> 0 value=x size=3"); /* binary values pass whole */
    pw_vm_free(vm);
}

/* ---- Streams ---------------------------------------------------------------------- */

static void test_local_reply_stops_the_stream(void) {
    struct pw_vm *vm = start_probe(NULL);
    if (!vm)
        return;
    struct pw_stream_result r = request(vm, "reply 503 injected");
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK(r.reply != NULL);
    if (r.reply) {
        CHECK_INT(r.reply->status, 503);
        CHECK_STR(r.reply->body, "injected");
        CHECK_INT(r.reply->body_len, 8);
        CHECK_STR(r.reply->details, "probe_abort");
        CHECK_INT(r.reply->grpc_status, -1);
        CHECK_INT(r.reply->n_headers, 1);
        CHECK_STR(pw_local_reply_header(r.reply, "X-Probe-Why"), "abort");
    }
    CHECK(pw_stream_get(vm, r.context_id)->reply == r.reply);
    CHECK_INT(pw_stream_count(vm), 1);
    CHECK(pw_stream_complete(vm, r.context_id));
    CHECK_INT(pw_stream_count(vm), 0);

    r = request(vm, "reply 403 no;reply 404 twice");
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(r.reply->status, 403);
    CHECK_LOGGED(vm, "reply -> 2"); /* a second reply */
    pw_stream_reset(vm, r.context_id);
    CHECK_INT(pw_vm_misuse_count(vm), 0);

    /* Malformed extra headers: cpp-host replies without them. */
    r = request(vm, "badreply");
    CHECK_LOGGED(vm, "badreply -> 0");
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(r.reply->status, 500);
    CHECK_INT(r.reply->n_headers, 0);
    CHECK_INT(pw_vm_misuse_count(vm), 1);
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "header pairs malformed");
    pw_stream_complete(vm, r.context_id);

    /* A byte past the map's end drops the whole map, as toPairs does. */
    r = request(vm, "paddedreply");
    CHECK_LOGGED(vm, "paddedreply -> 0");
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(r.reply->n_headers, 0);
    CHECK_INT(pw_vm_misuse_count(vm), 2);
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "not ending at their size (32 bytes)");
    pw_stream_complete(vm, r.context_id);
    pw_vm_free(vm);
}

static void test_header_results(void) {
    struct pw_vm *vm = start_probe(NULL);
    if (!vm)
        return;
    CHECK_INT(request(vm, "stop 0").state, PW_STREAM_CONTINUED);
    CHECK_INT(request(vm, "stop 1").state, PW_STREAM_PAUSED);
    CHECK_INT(request(vm, "stop 2").state, PW_STREAM_CONTINUED); /* ContinueAndEndStream */
    CHECK_INT(request(vm, "stop 3").state, PW_STREAM_PAUSED);
    CHECK_INT(request(vm, "stop 4").state, PW_STREAM_PAUSED);
    CHECK_INT(request(vm, "stop 9").state, PW_STREAM_PAUSED);
    CHECK_INT(request(vm, "close").state, PW_STREAM_CLOSED);
    uint32_t ids[8];
    CHECK_INT(pw_streams_in_state(vm, PW_STREAM_PAUSED, ids, 8), 4);
    CHECK_INT(ids[0], 3);
    CHECK_INT(ids[3], 7);
    CHECK_INT(pw_streams_in_state(vm, PW_STREAM_CONTINUED, ids, 1), 2);
    CHECK_INT(ids[0], 2);
    CHECK(!pw_stream_complete(vm, 3)); /* a paused stream can only be reset */
    CHECK(pw_stream_reset(vm, 3));
    CHECK_INT(pw_stream_count(vm), 6);
    pw_vm_free(vm);
}

struct events {
    uint32_t ids[8];
    enum pw_stream_state states[8];
    size_t n;
};

static void record_event(void *user, uint32_t context_id, enum pw_stream_state state) {
    struct events *e = user;
    if (e->n < 8) {
        e->ids[e->n] = context_id;
        e->states[e->n++] = state;
    }
}

static void test_pause_and_resume_from_tick(void) {
    struct pw_vm *vm = start_probe("tick 10");
    if (!vm)
        return;
    struct events events = {0};
    pw_set_stream_event(vm, record_event, &events);
    uint64_t t0 = pw_now(vm);
    CHECK_INT(pw_tick_period_ms(vm), 10);
    CHECK_INT(pw_next_tick_ns(vm), t0 + 10 * PW_MS);
    struct pw_stream_result delayed = request(vm, "pause"), aborted = request(vm, "pause 429");
    CHECK_INT(delayed.state, PW_STREAM_PAUSED);
    CHECK_INT(aborted.state, PW_STREAM_PAUSED);
    CHECK_INT(events.n, 0); /* the headers callback's own answer is no event */

    pw_advance(vm, 5 * PW_MS);
    CHECK_INT(pw_stream_get(vm, delayed.context_id)->state, PW_STREAM_PAUSED);
    pw_advance(vm, 7 * PW_MS);
    const struct pw_stream *s = pw_stream_get(vm, delayed.context_id);
    CHECK_INT(s->state, PW_STREAM_CONTINUED);
    CHECK_INT(s->changed_ns - s->started_ns, 10 * PW_MS); /* resumed at the tick, not at the end of advance */
    CHECK_INT(pw_now(vm), t0 + 12 * PW_MS);
    CHECK_LOGGED(vm, "resume 2 effective -> 0");
    CHECK_LOGGED(vm, "resume 2 continue -> 0");
    s = pw_stream_get(vm, aborted.context_id);
    CHECK_INT(s->state, PW_STREAM_LOCAL_REPLY);
    CHECK(s->reply && s->reply->status == 429 && strcmp(s->reply->body, "late") == 0);
    CHECK_INT(events.n, 2);
    CHECK_INT(events.ids[0], delayed.context_id);
    CHECK_INT(events.states[0], PW_STREAM_CONTINUED);
    CHECK_INT(events.ids[1], aborted.context_id);
    CHECK_INT(events.states[1], PW_STREAM_LOCAL_REPLY);
    CHECK(pw_stream_complete(vm, delayed.context_id));
    CHECK(pw_stream_complete(vm, aborted.context_id));
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

static void test_ticks_follow_the_clock(void) {
    struct pw_vm *vm = start_probe("tick 10;ontick;time");
    if (!vm)
        return;
    uint64_t t0 = pw_now(vm);
    pw_advance(vm, 35 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 3);
    char want[64];
    snprintf(want, sizeof want, "time -> 0 value=%llu", (unsigned long long)(t0 + 30 * PW_MS));
    CHECK_LOGGED(vm, want);
    CHECK_INT(pw_now(vm), t0 + 35 * PW_MS);
    pw_advance(vm, 4 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 3);
    pw_advance(vm, 1 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 4);

    /* A period set in a tick counts from that tick; 0 stops the timer. */
    CHECK(pw_vm_configure(vm, "tick 0"));
    CHECK_INT(pw_next_tick_ns(vm), 0);
    pw_advance(vm, PW_SECOND);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 4);
    pw_set_time(vm, 5 * PW_SECOND);
    CHECK(pw_vm_configure(vm, "time;clock"));
    CHECK_LOGGED(vm, "time -> 0 value=5000000000");
    CHECK_LOGGED(vm, "clock -> value=5.000000000"); /* WASI clock_time_get */
    pw_vm_free(vm);
}

/* A configuration change as Envoy makes it: the old root keeps its streams,
 * and its timer, until the last of them ends; then it is shut down. */
static void test_old_root_lives_until_its_streams_end(void) {
    struct pw_vm *vm = start_probe("tick 10");
    if (!vm)
        return;
    struct pw_stream_result paused = request(vm, "pause");
    CHECK(pw_vm_configure(vm, "tick 20"));
    CHECK_INT(pw_vm_current_root(vm), 3);
    CHECK_INT(pw_vm_root_count(vm), 2);
    CHECK(log_index(vm, "on_done 1") < 0);
    struct pw_stream_result later = request(vm, "");
    CHECK_LOGGED(vm, "on_context_create 4 3"); /* new streams: the new root */

    /* Each root's timer runs on its own: root 1 every 10 ms, root 3 every 20. */
    CHECK_INT(pw_root_next_tick_ns(vm, 1), paused.context_id ? pw_now(vm) + 10 * PW_MS : 0);
    pw_advance(vm, 10 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 1);
    CHECK_INT(log_occurrences(vm, "on_tick 3"), 0);
    CHECK_INT(pw_stream_get(vm, paused.context_id)->state, PW_STREAM_CONTINUED);
    pw_advance(vm, 10 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 2);
    CHECK_INT(log_occurrences(vm, "on_tick 3"), 1);

    CHECK(pw_stream_complete(vm, later.context_id));
    CHECK(log_index(vm, "on_done 1") < 0);
    CHECK(pw_stream_complete(vm, paused.context_id));
    CHECK(log_index(vm, "on_done 1") > log_index(vm, "on_delete 2"));
    CHECK(log_index(vm, "on_delete 1") > log_index(vm, "on_done 1"));
    CHECK_INT(pw_vm_root_count(vm), 1);
    CHECK_INT(pw_root_next_tick_ns(vm, 1), 0); /* its timer went with it */
    pw_advance(vm, 40 * PW_MS);
    CHECK_INT(log_occurrences(vm, "on_tick 1"), 2);
    CHECK_INT(log_occurrences(vm, "on_tick 3"), 3);

    /* The VM going away shuts down every root, streams or not. */
    struct pw_stream_result open = request(vm, "pause");
    pw_vm_shutdown(vm);
    CHECK(log_index(vm, "on_delete 3") > log_index(vm, "on_done 3"));
    CHECK_INT(pw_vm_root_count(vm), 0);
    CHECK_INT(pw_next_tick_ns(vm), 0);
    CHECK_INT(request(vm, "").state, PW_STREAM_FAILED);
    CHECK(pw_stream_reset(vm, open.context_id));
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

struct collected_log {
    char lines[4096];
    size_t len;
};

static void collect_log(void *user, enum pw_log_level level, const char *text) {
    struct collected_log *c = user;
    (void)level;
    int n = snprintf(c->lines + c->len, sizeof c->lines - c->len, "%s\n", text);
    if (n > 0 && (size_t)n < sizeof c->lines - c->len)
        c->len += (size_t)n;
}

/* A proxy tries each new configuration on a canary first, and its VMs share
 * stats by name: the canary's increment counts as well as each worker's. */
static void test_proxy_canary_and_shared_stats(void) {
    size_t len;
    uint8_t *wasm = read_file(PROBE_WASM, &len);
    char err[256];
    struct pw_proxy *proxy = wasm ? pw_proxy_new(&pw_module_probe, wasm, len, 2, err, sizeof err) : NULL;
    free(wasm);
    CHECK(proxy != NULL);
    if (!proxy)
        return;
    struct collected_log log = {.len = 0};
    pw_proxy_set_log_sink(proxy, collect_log, &log);
    pw_proxy_set_property(proxy, "node.metadata.WORKLOAD_NAME", "cart");
    CHECK(pw_proxy_configure(proxy, "define c hits;inc hits 1;prop node.metadata.WORKLOAD_NAME"));
    CHECK_INT(pw_proxy_canary_runs(proxy), 1);
    struct pw_vm *a = pw_proxy_worker(proxy, 0), *b = pw_proxy_worker(proxy, 1);
    CHECK_INT(pw_metric_find(a, "hits")->value, 3); /* canary + two workers */
    CHECK(pw_metric_find(a, "hits") == pw_metric_find(b, "hits"));
    CHECK_INT(log_occurrences(a, "prop node.metadata.WORKLOAD_NAME -> 0 value=cart"), 1);
    CHECK(strstr(log.lines, "on_configure 1") != NULL);

    /* Refused by the canary: the workers never see it. */
    CHECK(!pw_proxy_configure(proxy, "fail-configure"));
    CHECK_INT(pw_proxy_canary_runs(proxy), 2);
    CHECK_INT(log_occurrences(a, "on_configure"), 1);
    CHECK_INT(pw_vm_current_root(a), 1);
    /* The same configuration again is the same plugin: nothing happens. */
    CHECK(pw_proxy_configure(proxy, "define c hits;inc hits 1;prop node.metadata.WORKLOAD_NAME"));
    CHECK_INT(pw_proxy_canary_runs(proxy), 2);
    CHECK(!pw_proxy_configure(proxy, "fail-configure")); /* refused before: the canary is not run again */
    CHECK_INT(pw_proxy_canary_runs(proxy), 2);
    CHECK(pw_proxy_configure(proxy, "define c hits;inc hits 2;tick 10"));
    CHECK_INT(pw_metric_find(b, "hits")->value, 9);
    CHECK_INT(pw_vm_current_root(b), 2);

    /* One clock: both workers tick in time order. */
    uint64_t t0 = pw_proxy_now(proxy);
    CHECK_INT(pw_proxy_next_tick_ns(proxy), t0 + 10 * PW_MS);
    pw_proxy_advance(proxy, 25 * PW_MS);
    CHECK_INT(log_occurrences(a, "on_tick 2"), 2);
    CHECK_INT(log_occurrences(b, "on_tick 2"), 2);
    CHECK_INT(pw_now(a), t0 + 25 * PW_MS);
    pw_proxy_free(proxy);
}

static void test_deleted_context_is_never_resumed(void) {
    /* A well-behaved module drops the entry in proxy_on_delete. */
    struct pw_vm *vm = start_probe("tick 10");
    if (!vm)
        return;
    struct pw_stream_result r = request(vm, "pause");
    CHECK(pw_stream_reset(vm, r.context_id));
    CHECK(log_index(vm, "on_done 2") < log_index(vm, "on_log 2"));
    CHECK(log_index(vm, "on_log 2") < log_index(vm, "on_delete 2"));
    pw_advance(vm, 20 * PW_MS);
    CHECK(log_index(vm, "resume 2") < 0);
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);

    /* One that keeps it is caught: the context is gone, and continuing
     * whatever context is then effective (the root) is refused too. */
    vm = start_probe("tick 10;keep-deleted");
    if (!vm)
        return;
    r = request(vm, "pause");
    CHECK(pw_stream_reset(vm, r.context_id));
    pw_advance(vm, 10 * PW_MS);
    CHECK_LOGGED(vm, "resume 2 effective -> 2");
    CHECK_LOGGED(vm, "resume 2 continue -> 2");
    CHECK_INT(pw_vm_misuse_count(vm), 2);
    CHECK_LOGGED(vm, "host: misuse: set_effective_context(2): that context has ended");
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "continue_stream on context 1, which is not a live stream");
    pw_vm_free(vm);
}

static void test_double_resume_is_misuse(void) {
    struct pw_vm *vm = start_probe("tick 10;ontick;effective 2;continue;effective 99");
    if (!vm)
        return;
    request(vm, "pause");
    pw_advance(vm, 10 * PW_MS);
    CHECK_LOGGED(vm, "resume 2 continue -> 0");
    CHECK_LOGGED(vm, "effective 2 -> 0");
    CHECK_INT(pw_vm_misuse_count(vm), 1);
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "context 2, which was not paused");
    CHECK_LOGGED(vm, "effective 99 -> 2");
    pw_vm_free(vm);
}

static void complete_from_event(void *user, uint32_t context_id, enum pw_stream_state state) {
    struct pw_vm *vm = user;
    if (state == PW_STREAM_CONTINUED)
        CHECK(pw_stream_complete(vm, context_id));
}

static void start_from_log_sink(void *user, enum pw_log_level level, const char *text) {
    (void)level;
    if (strstr(text, "on_configure"))
        CHECK_INT(pw_stream_start(user, NULL, 0).state, PW_STREAM_FAILED);
}

static void test_callbacks_and_reentry(void) {
    struct pw_vm *vm = start_probe("tick 10");
    if (!vm)
        return;
    pw_set_stream_event(vm, complete_from_event, vm);
    request(vm, "pause");
    pw_advance(vm, 10 * PW_MS);
    CHECK_INT(pw_stream_count(vm), 0); /* completed from the event handler */
    CHECK_LOGGED(vm, "on_delete 2");

    /* The log sink runs while the module runs: no way back in. */
    pw_set_log_sink(vm, start_from_log_sink, vm);
    CHECK(pw_vm_configure(vm, NULL));
    CHECK_INT(pw_vm_misuse_count(vm), 1);
    CHECK_CONTAINS(pw_vm_last_misuse(vm), "pw_stream_start called while the module is running");
    CHECK(!pw_vm_failed(vm));
    pw_vm_free(vm);
}

/* ---- Failure ------------------------------------------------------------------------ */

static void test_trap_fails_the_vm(void) {
    struct pw_vm *vm = start_probe(NULL);
    if (!vm)
        return;
    struct events events = {0};
    pw_set_stream_event(vm, record_event, &events);
    struct pw_stream_result paused = request(vm, "pause");
    struct pw_stream_result r = request(vm, "trap");
    CHECK_INT(r.state, PW_STREAM_FAILED);
    CHECK(pw_vm_failed(vm));
    CHECK_CONTAINS(pw_vm_error(vm), "proxy_on_request_headers trapped: ");
    CHECK_LOGGED(vm, "host: VM failed: proxy_on_request_headers trapped");
    /* Nothing can resume the paused stream now. */
    CHECK_INT(pw_stream_get(vm, paused.context_id)->state, PW_STREAM_FAILED);
    CHECK_INT(events.n, 1);
    CHECK_INT(events.ids[0], paused.context_id);
    /* Later calls are refused; streams can still be cleaned up. */
    struct pw_stream_result later = request(vm, "");
    CHECK_INT(later.state, PW_STREAM_FAILED);
    CHECK_INT(later.context_id, 0);
    CHECK(!pw_vm_configure(vm, NULL));
    size_t lines = pw_log_count(vm);
    CHECK(pw_stream_reset(vm, paused.context_id));
    CHECK(pw_stream_reset(vm, r.context_id));
    CHECK_INT(pw_log_count(vm), lines); /* no callbacks ran */
    CHECK_INT(pw_stream_count(vm), 0);
    pw_vm_free(vm);
}

static void test_fatal_wasi_calls_fail_the_vm(void) {
    struct pw_vm *vm = new_probe();
    if (!vm)
        return;
    CHECK(!pw_vm_start(vm, "exit"));
    CHECK(pw_vm_failed(vm));
    CHECK_CONTAINS(pw_vm_error(vm), "WASI proc_exit called");
    pw_vm_free(vm);

    vm = start_probe(NULL);
    if (!vm)
        return;
    CHECK_INT(request(vm, "seek").state, PW_STREAM_FAILED);
    CHECK_CONTAINS(pw_vm_error(vm), "WASI fd_seek called");
    CHECK(log_index(vm, "seek ->") < 0); /* the call did not return */
    pw_vm_free(vm);
}

/* ---- Logs, WASI, randomness, memory ------------------------------------------------- */

static void test_logs_and_wasi_output(void) {
    struct pw_vm *vm = start_probe("print hello;eprint oops;log 4 bad-field;loglevel;done");
    if (!vm)
        return;
    enum pw_log_level level = PW_LOG_TRACE;
    long i = log_index(vm, "hello");
    CHECK(i >= 0);
    CHECK_STR(pw_log_at(vm, (size_t)i, &level), "hello");
    CHECK_INT(level, PW_LOG_INFO);
    CHECK_LOGGED(vm, "write 1 -> 0 written=6");
    i = log_index(vm, "oops");
    CHECK(i >= 0);
    pw_log_at(vm, (size_t)i, &level);
    CHECK_INT(level, PW_LOG_ERROR);
    CHECK_LOGGED(vm, "bad-field");
    CHECK_LOGGED(vm, "loglevel -> 0 value=2");
    CHECK_LOGGED(vm, "done -> 1");

    pw_log_clear(vm);
    CHECK_INT(pw_log_count(vm), 0);
    pw_set_log_level(vm, PW_LOG_WARN);
    CHECK(pw_vm_configure(vm, "log 3 kept;log 1 dropped"));
    CHECK_INT(pw_log_count(vm), 1);
    CHECK_STR(pw_log_at(vm, 0, NULL), "kept");
    CHECK(pw_log_at(vm, 1, NULL) == NULL);
    pw_vm_free(vm);
}

static void test_random_is_seeded_per_vm(void) {
    struct pw_vm *a = start_probe("random"), *b = start_probe("random"), *c = new_probe();
    if (a && b && c) {
        pw_set_random_seed(c, 7);
        pw_vm_start(c, "random");
        const char *ra = pw_log_find(a, "random -> 0 value="), *rb = pw_log_find(b, "random -> 0 value="),
                   *rc = pw_log_find(c, "random -> 0 value=");
        CHECK(ra && rb && rc);
        if (ra && rb && rc) {
            CHECK_STR(ra, rb);
            CHECK(strcmp(ra, rc) != 0);
        }
    }
    pw_vm_free(a);
    pw_vm_free(b);
    pw_vm_free(c);
}

/* Buffers handed over after the module's memory grew land in the new memory. */
static void test_memory_growth(void) {
    struct pw_vm *vm = start_probe(NULL);
    if (!vm)
        return;
    struct pw_stream_result r = request(vm, "grow 512;grow 2048;pairs;header :path");
    CHECK_LOGGED(vm, "grow -> ok");
    CHECK_LOGGED(vm, "pairs -> 0 n=3");
    CHECK_LOGGED(vm, "header :path -> 0 value=/probe");
    CHECK_INT(r.state, PW_STREAM_CONTINUED);
    CHECK(!pw_vm_failed(vm));
    pw_vm_free(vm);
}

/* meshsim holds one VM per sidecar: they share nothing. */
static void test_many_independent_vms(void) {
    enum { N = 200 };
    static struct pw_vm *vms[N];
    char config[64];
    for (int i = 0; i < N; i++) {
        snprintf(config, sizeof config, "define c n;inc n %d", i + 1);
        vms[i] = start_probe(config);
        CHECK(vms[i] != NULL);
    }
    for (int i = 0; i < N; i++) {
        if (!vms[i])
            continue;
        request(vms[i], "");
        const struct pw_metric *m = pw_metric_find(vms[i], "n");
        CHECK(m && m->value == i + 1);
        CHECK_INT(pw_stream_count(vms[i]), 1);
        pw_vm_free(vms[i]);
    }
}

int main(void) {
    RUN(test_validator_refuses_what_cpp_host_refuses);
    RUN(test_validator_accepts_proxy_modules);
    RUN(test_import_table_matches_imports_wat);
    RUN(test_validator_survives_damaged_modules);
    RUN(test_vm_refuses_a_wasm_that_is_not_the_linked_module);
    RUN(test_passthrough_continues_every_request);
    RUN(test_call_order_follows_cpp_host);
    RUN(test_configuration_buffers_and_reconfigure);
    RUN(test_metric_semantics);
    RUN(test_gauge_below_zero_is_misuse);
    RUN(test_histogram_keeps_the_latest_samples);
    RUN(test_header_map_serialization_and_edits);
    RUN(test_properties);
    RUN(test_local_reply_stops_the_stream);
    RUN(test_header_results);
    RUN(test_pause_and_resume_from_tick);
    RUN(test_ticks_follow_the_clock);
    RUN(test_old_root_lives_until_its_streams_end);
    RUN(test_proxy_canary_and_shared_stats);
    RUN(test_deleted_context_is_never_resumed);
    RUN(test_double_resume_is_misuse);
    RUN(test_callbacks_and_reentry);
    RUN(test_trap_fails_the_vm);
    RUN(test_fatal_wasi_calls_fail_the_vm);
    RUN(test_logs_and_wasi_output);
    RUN(test_random_is_seeded_per_vm);
    RUN(test_memory_growth);
    RUN(test_many_independent_vms);
    TEST_MAIN_END();
}
