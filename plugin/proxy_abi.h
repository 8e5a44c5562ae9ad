/* The proxy-wasm ABI 0.2.1 host functions the plugin imports, with the wasm
 * signatures proxy-wasm-cpp-host checks at load (every argument an i32 except
 * the 64-bit metric values). Only plugin/abi.c includes this file. */
#ifndef HFI_PROXY_ABI_H
#define HFI_PROXY_ABI_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

enum proxy_result {
    PROXY_OK = 0,
    PROXY_NOT_FOUND = 1,
    PROXY_BAD_ARGUMENT = 2,
};

enum proxy_log_level { PROXY_LOG_TRACE, PROXY_LOG_DEBUG, PROXY_LOG_INFO, PROXY_LOG_WARN, PROXY_LOG_ERROR };
enum proxy_map_type { PROXY_MAP_REQUEST_HEADERS = 0 };
enum proxy_buffer_type { PROXY_BUFFER_VM_CONFIGURATION = 6, PROXY_BUFFER_PLUGIN_CONFIGURATION = 7 };
enum proxy_stream_type { PROXY_STREAM_REQUEST = 0 };
enum proxy_metric_type { PROXY_METRIC_COUNTER = 0, PROXY_METRIC_GAUGE = 1, PROXY_METRIC_HISTOGRAM = 2 };
enum proxy_action { PROXY_ACTION_CONTINUE = 0, PROXY_ACTION_PAUSE = 1 };

PROXY_IMPORT(proxy_log) uint32_t proxy_log(uint32_t level, const char *msg, size_t msg_size);
PROXY_IMPORT(proxy_get_current_time_nanoseconds) uint32_t proxy_get_current_time_nanoseconds(uint64_t *ret_time);
PROXY_IMPORT(proxy_set_tick_period_milliseconds) uint32_t proxy_set_tick_period_milliseconds(uint32_t period_ms);
PROXY_IMPORT(proxy_get_buffer_bytes)
uint32_t proxy_get_buffer_bytes(uint32_t buffer_type, uint32_t start, uint32_t max_size, char **ret_data,
                                size_t *ret_size);
PROXY_IMPORT(proxy_get_header_map_value)
uint32_t proxy_get_header_map_value(uint32_t map_type, const char *key, size_t key_size, char **ret_value,
                                    size_t *ret_size);
PROXY_IMPORT(proxy_get_property)
uint32_t proxy_get_property(const char *path, size_t path_size, char **ret_value, size_t *ret_size);
PROXY_IMPORT(proxy_send_local_response)
uint32_t proxy_send_local_response(uint32_t status, const char *details, size_t details_size, const char *body,
                                   size_t body_size, const char *headers, size_t headers_size, int32_t grpc_status);
PROXY_IMPORT(proxy_continue_stream) uint32_t proxy_continue_stream(uint32_t stream_type);
PROXY_IMPORT(proxy_set_effective_context) uint32_t proxy_set_effective_context(uint32_t context_id);
PROXY_IMPORT(proxy_define_metric)
uint32_t proxy_define_metric(uint32_t metric_type, const char *name, size_t name_size, uint32_t *ret_metric_id);
PROXY_IMPORT(proxy_increment_metric) uint32_t proxy_increment_metric(uint32_t metric_id, int64_t offset);
PROXY_IMPORT(proxy_record_metric) uint32_t proxy_record_metric(uint32_t metric_id, uint64_t value);

/* WASI preview 1: seeds the sampling generator. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("random_get")))
uint16_t wasi_random_get(uint8_t *buf, size_t len);

#endif
