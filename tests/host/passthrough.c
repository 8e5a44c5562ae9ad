/* The smallest useful proxy-wasm filter: it continues every request at once.
 * It is the reference module for the instruction-count benchmark (the cost
 * of the ABI round trip alone), built with the plugin's toolchain flags. */
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(#name)))

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {
    (void)context_id;
    (void)parent_id;
}

EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root_id, uint32_t vm_config_size) {
    (void)root_id;
    (void)vm_config_size;
    return 1;
}

EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, uint32_t config_size) {
    (void)root_id;
    (void)config_size;
    return 1;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t n_headers, uint32_t end_of_stream) {
    (void)context_id;
    (void)n_headers;
    (void)end_of_stream;
    return 0; /* Continue */
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id) {
    (void)context_id;
    return 1;
}

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) { (void)context_id; }
