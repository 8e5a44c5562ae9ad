/* Binds one wasm2c-translated module to the host as `pw_module_<name>`.
 * host.mk compiles this file once per module with -DPW_MODULE=<name> and
 * -include <name>.h (the header wasm2c generated).
 *
 * Exports are declared weak so that one file fits every module: an export
 * the module lacks stays an undefined weak symbol (NULL) and binds as NULL. */
#include "host.h"

#define PW_CAT3_(a, b, c) a##b##c
#define PW_CAT3(a, b, c) PW_CAT3_(a, b, c)
#define PW_INSTANCE PW_CAT3(Z_, PW_MODULE, _instance_t)
#define PW_EXPORT(export) PW_CAT3(Z_, PW_MODULE, Z_##export)
#define PW_ENV struct Z_env_instance_t
#define PW_WASI struct Z_wasi_snapshot_preview1_instance_t

/* A weak declaration of the export and a thunk taking `void *instance`, by
 * arity and result (u32 or none). */
#define PW_THUNK_V0(field, export) \
    __attribute__((weak)) void PW_EXPORT(export)(PW_INSTANCE *); \
    static void thunk_##field(void *instance) { PW_EXPORT(export)(instance); }
#define PW_THUNK_V1(field, export) \
    __attribute__((weak)) void PW_EXPORT(export)(PW_INSTANCE *, u32); \
    static void thunk_##field(void *instance, uint32_t a) { PW_EXPORT(export)(instance, a); }
#define PW_THUNK_V2(field, export) \
    __attribute__((weak)) void PW_EXPORT(export)(PW_INSTANCE *, u32, u32); \
    static void thunk_##field(void *instance, uint32_t a, uint32_t b) { PW_EXPORT(export)(instance, a, b); }
#define PW_THUNK_U1(field, export) \
    __attribute__((weak)) u32 PW_EXPORT(export)(PW_INSTANCE *, u32); \
    static uint32_t thunk_##field(void *instance, uint32_t a) { return PW_EXPORT(export)(instance, a); }
#define PW_THUNK_U2(field, export) \
    __attribute__((weak)) u32 PW_EXPORT(export)(PW_INSTANCE *, u32, u32); \
    static uint32_t thunk_##field(void *instance, uint32_t a, uint32_t b) { return PW_EXPORT(export)(instance, a, b); }
#define PW_THUNK_U3(field, export) \
    __attribute__((weak)) u32 PW_EXPORT(export)(PW_INSTANCE *, u32, u32, u32); \
    static uint32_t thunk_##field(void *instance, uint32_t a, uint32_t b, uint32_t c) { \
        return PW_EXPORT(export)(instance, a, b, c); \
    }

__attribute__((weak)) wasm_rt_memory_t *PW_EXPORT(memory)(PW_INSTANCE *);
static wasm_rt_memory_t *thunk_memory(void *instance) { return PW_EXPORT(memory)(instance); }
PW_THUNK_V0(initialize, _initialize)
PW_THUNK_V0(start, _start)
PW_THUNK_U1(malloc, malloc)
PW_THUNK_U1(on_memory_allocate, proxy_on_memory_allocate)
PW_THUNK_V2(on_context_create, proxy_on_context_create)
PW_THUNK_U2(on_vm_start, proxy_on_vm_start)
PW_THUNK_U2(on_configure, proxy_on_configure)
PW_THUNK_V1(on_tick, proxy_on_tick)
PW_THUNK_U3(on_request_headers, proxy_on_request_headers)
PW_THUNK_U1(on_done, proxy_on_done)
PW_THUNK_V1(on_log, proxy_on_log)
PW_THUNK_V1(on_delete, proxy_on_delete)

#define PW_BIND(field, export) out->field = PW_EXPORT(export) ? thunk_##field : NULL

static void bind(struct pw_exports *out) {
    PW_BIND(memory, memory);
    PW_BIND(initialize, _initialize);
    PW_BIND(start, _start);
    PW_BIND(malloc, malloc);
    PW_BIND(on_memory_allocate, proxy_on_memory_allocate);
    PW_BIND(on_context_create, proxy_on_context_create);
    PW_BIND(on_vm_start, proxy_on_vm_start);
    PW_BIND(on_configure, proxy_on_configure);
    PW_BIND(on_tick, proxy_on_tick);
    PW_BIND(on_request_headers, proxy_on_request_headers);
    PW_BIND(on_done, proxy_on_done);
    PW_BIND(on_log, proxy_on_log);
    PW_BIND(on_delete, proxy_on_delete);
}

/* wasm2c's instantiate takes one argument per imported module, in name order
 * (env, then wasi_snapshot_preview1), and only for the modules the .wasm
 * imports; _Generic picks the call matching the generated signature. */
#define PW_INSTANTIATE PW_CAT3(Z_, PW_MODULE, _instantiate)
#define PW_INSTANTIATE_AS(...) ((void (*)(__VA_ARGS__))PW_INSTANTIATE)

static void instantiate(void *instance, PW_ENV *env, PW_WASI *wasi) {
    _Generic(&PW_INSTANTIATE,
        void (*)(PW_INSTANCE *): PW_INSTANTIATE_AS(PW_INSTANCE *)(instance),
        void (*)(PW_INSTANCE *, PW_ENV *): PW_INSTANTIATE_AS(PW_INSTANCE *, PW_ENV *)(instance, env),
        void (*)(PW_INSTANCE *, PW_WASI *): PW_INSTANTIATE_AS(PW_INSTANCE *, PW_WASI *)(instance, wasi),
        void (*)(PW_INSTANCE *, PW_ENV *, PW_WASI *):
            PW_INSTANTIATE_AS(PW_INSTANCE *, PW_ENV *, PW_WASI *)(instance, env, wasi));
}

static void free_instance(void *instance) { PW_CAT3(Z_, PW_MODULE, _free)(instance); }

static void init_once(void) {
    static bool done;
    if (!done) {
        PW_CAT3(Z_, PW_MODULE, _init_module)();
        done = true;
    }
}

#define PW_STRING_(x) #x
#define PW_STRING(x) PW_STRING_(x)

const struct pw_module PW_CAT3(pw_module_, PW_MODULE, ) = {
    .name = PW_STRING(PW_MODULE),
    .instance_size = sizeof(PW_INSTANCE),
    .init_once = init_once,
    .instantiate = instantiate,
    .free = free_instance,
    .bind = bind,
};
