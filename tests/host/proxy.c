/* A proxy's worth of VMs (host.h, "A proxy"): worker VMs sharing stats, and
 * a canary VM per configuration, built on the single-VM host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct property_setting {
    char *path, *value;
};

/* A configuration the canary has judged: cpp-host keeps the verdict per
 * plugin for the life of the base VM (WasmHandleBase's plugin_canary_cache_)
 * and does not run the canary for it again. */
struct canary_verdict {
    char *config;
    bool accepted;
};

struct pw_proxy {
    const struct pw_module *module;
    uint8_t *wasm;
    size_t wasm_len;
    struct pw_vm **workers;
    size_t n_workers;
    struct property_setting *properties;
    size_t n_properties;
    pw_log_fn *log_sink;
    void *log_user;
    uint64_t seed;
    uint64_t now_ns;
    char *config; /* the configuration in force; NULL before the first */
    unsigned canary_runs;
    struct canary_verdict *verdicts;
    size_t n_verdicts;
};

static void *must(void *p) {
    if (!p) {
        fprintf(stderr, "pwhost: out of memory\n");
        abort();
    }
    return p;
}

static char *copy_text(const char *s) { return must(strdup(s)); }

/* A VM of the proxy's module that keeps its stats with the workers'. */
static struct pw_vm *new_copy(struct pw_proxy *proxy, char *err, size_t err_size) {
    struct pw_vm *vm = pw_vm_new(proxy->module, proxy->wasm, proxy->wasm_len, err, err_size);
    if (!vm)
        return NULL;
    if (proxy->n_workers)
        pw_vm_share_stats(vm, proxy->workers[0]);
    pw_set_time(vm, proxy->now_ns);
    for (size_t i = 0; i < proxy->n_properties; i++)
        pw_set_property(vm, proxy->properties[i].path, proxy->properties[i].value);
    pw_set_log_sink(vm, proxy->log_sink, proxy->log_user);
    return vm;
}

struct pw_proxy *pw_proxy_new(const struct pw_module *module, const uint8_t *wasm, size_t wasm_len,
                              size_t workers, char *err, size_t err_size) {
    struct pw_proxy *proxy = must(calloc(1, sizeof *proxy));
    proxy->module = module;
    proxy->wasm = must(malloc(wasm_len ? wasm_len : 1));
    memcpy(proxy->wasm, wasm, wasm_len);
    proxy->wasm_len = wasm_len;
    proxy->now_ns = PW_DEFAULT_START_NS;
    proxy->seed = 1;
    proxy->workers = must(calloc(workers ? workers : 1, sizeof *proxy->workers));
    for (size_t i = 0; i < workers; i++) {
        struct pw_vm *vm = new_copy(proxy, err, err_size);
        if (!vm) {
            pw_proxy_free(proxy);
            return NULL;
        }
        pw_set_random_seed(vm, proxy->seed + i);
        proxy->workers[proxy->n_workers++] = vm;
    }
    if (!proxy->n_workers) {
        snprintf(err, err_size, "a proxy needs at least one worker");
        pw_proxy_free(proxy);
        return NULL;
    }
    return proxy;
}

void pw_proxy_free(struct pw_proxy *proxy) {
    if (!proxy)
        return;
    /* The stats store goes with its last VM, whichever that is. */
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_vm_free(proxy->workers[i]);
    free(proxy->workers);
    for (size_t i = 0; i < proxy->n_properties; i++) {
        free(proxy->properties[i].path);
        free(proxy->properties[i].value);
    }
    free(proxy->properties);
    for (size_t i = 0; i < proxy->n_verdicts; i++)
        free(proxy->verdicts[i].config);
    free(proxy->verdicts);
    free(proxy->config);
    free(proxy->wasm);
    free(proxy);
}

size_t pw_proxy_worker_count(const struct pw_proxy *proxy) { return proxy->n_workers; }

struct pw_vm *pw_proxy_worker(const struct pw_proxy *proxy, size_t i) {
    return i < proxy->n_workers ? proxy->workers[i] : NULL;
}

void pw_proxy_set_property(struct pw_proxy *proxy, const char *dotted_path, const char *value) {
    proxy->properties = must(realloc(proxy->properties, (proxy->n_properties + 1) * sizeof *proxy->properties));
    proxy->properties[proxy->n_properties++] = (struct property_setting){copy_text(dotted_path), copy_text(value)};
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_set_property(proxy->workers[i], dotted_path, value);
}

void pw_proxy_set_random_seed(struct pw_proxy *proxy, uint64_t seed) {
    proxy->seed = seed;
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_set_random_seed(proxy->workers[i], seed + i);
}

void pw_proxy_set_log_sink(struct pw_proxy *proxy, pw_log_fn *fn, void *user) {
    proxy->log_sink = fn;
    proxy->log_user = user;
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_set_log_sink(proxy->workers[i], fn, user);
}

/* The canary is started, configured and dropped: Envoy kills it without
 * proxy_on_done or proxy_on_delete (WasmHandleBase::canary, kill()). */
static bool canary_accepts(struct pw_proxy *proxy, const char *config) {
    const char *text = config ? config : "";
    for (size_t i = 0; i < proxy->n_verdicts; i++)
        if (strcmp(proxy->verdicts[i].config, text) == 0)
            return proxy->verdicts[i].accepted;
    char err[256];
    struct pw_vm *canary = new_copy(proxy, err, sizeof err);
    if (!canary)
        return false;
    pw_set_random_seed(canary, proxy->seed + proxy->n_workers);
    proxy->canary_runs++;
    bool accepted = pw_vm_start(canary, config);
    pw_vm_free(canary);
    proxy->verdicts = must(realloc(proxy->verdicts, (proxy->n_verdicts + 1) * sizeof *proxy->verdicts));
    proxy->verdicts[proxy->n_verdicts++] = (struct canary_verdict){copy_text(text), accepted};
    return accepted;
}

bool pw_proxy_configure(struct pw_proxy *proxy, const char *config) {
    const char *text = config ? config : "";
    if (proxy->config && strcmp(proxy->config, text) == 0)
        return true;
    if (!canary_accepts(proxy, config))
        return false;
    bool all = true;
    for (size_t i = 0; i < proxy->n_workers; i++) {
        struct pw_vm *vm = proxy->workers[i];
        all &= proxy->config ? pw_vm_configure(vm, config) : pw_vm_start(vm, config);
    }
    free(proxy->config);
    proxy->config = copy_text(text);
    return all;
}

unsigned pw_proxy_canary_runs(const struct pw_proxy *proxy) { return proxy->canary_runs; }

uint64_t pw_proxy_now(const struct pw_proxy *proxy) { return proxy->now_ns; }

void pw_proxy_set_time(struct pw_proxy *proxy, uint64_t now_ns) {
    proxy->now_ns = now_ns;
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_set_time(proxy->workers[i], now_ns);
}

uint64_t pw_proxy_next_tick_ns(const struct pw_proxy *proxy) {
    uint64_t next = 0;
    for (size_t i = 0; i < proxy->n_workers; i++) {
        uint64_t t = pw_next_tick_ns(proxy->workers[i]);
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

void pw_proxy_advance(struct pw_proxy *proxy, uint64_t ns) {
    uint64_t target = proxy->now_ns + ns, next;
    while ((next = pw_proxy_next_tick_ns(proxy)) && next <= target) {
        size_t w = 0;
        while (pw_next_tick_ns(proxy->workers[w]) != next)
            w++;
        struct pw_vm *vm = proxy->workers[w];
        uint64_t before = pw_now(vm);
        pw_advance(vm, next - before);
        if (pw_vm_failed(vm) && pw_next_tick_ns(vm) == next)
            break; /* a failed VM ticks no more: its timer would stand still */
    }
    for (size_t i = 0; i < proxy->n_workers; i++)
        pw_set_time(proxy->workers[i], target);
    proxy->now_ns = target;
}
