/* The plugin's wasm memory across configuration changes, as Envoy makes
 * them (a new root context each, the old one shut down when its last stream
 * ends): `bench_heap WASM CHANGES` prints the memory after the first
 * configuration and after CHANGES more, as a BENCH line. Each change edits a
 * policy (a new first-seen entry), every fifth is invalid, and delayed
 * requests span changes so that old roots outlive them for a while. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../host/host.h"

static void config_for(int change, char *buf, size_t size)
{
    if (change % 5 == 4) {
        snprintf(buf, size, "{\"policies\": [{\"spec\": {\"rules\": [{\"fault\": {\"percentage\": %d}}]}}]}", change);
        return;
    }
    snprintf(buf, size,
             "{\"policies\":[{\"metadata\":{\"name\":\"frontend-faults-%d\"},\"spec\":{"
             "\"selector\":{\"service\":\"frontend\",\"namespace\":\"demo\"},"
             "\"end_time\":\"2030-01-01T00:00:00Z\",\"rules\":["
             "{\"match\":{\"method\":{\"exact\":\"GET\"},\"path\":{\"prefix\":\"/product/\"},"
             "\"headers\":[{\"name\":\"x-user-id\",\"exact\":\"42\"}]},"
             "\"fault\":{\"percentage\":50,\"delay\":{\"fixed_delay_ms\":%d},\"duration_seconds\":300}},"
             "{\"match\":{\"path\":{\"regex\":\"^/cart\"}},"
             "\"fault\":{\"percentage\":10,\"abort\":{\"httpStatus\":503,\"body\":\"injected\"}}}]}}],"
             "\"header_faults\":{\"enabled\":true,\"token\":\"t%d\"},\"max_active_delays\":%d}",
             change, 20 + change % 7, change, 100 + change % 3);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s WASM CHANGES\n", argv[0]);
        return 2;
    }
    long changes = strtol(argv[2], NULL, 10);
    char err[256], config[2048];
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, argv[1], err, sizeof err);
    if (!vm) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
    pw_set_property(vm, "node.metadata.NAMESPACE", "demo");
    config_for(0, config, sizeof config);
    if (!pw_vm_start(vm, config)) {
        fprintf(stderr, "%s: start failed: %s\n", argv[1], pw_vm_error(vm));
        return 1;
    }
    const struct pw_header slow[] = {{":method", "GET"}, {":path", "/product/7"}, {"x-user-id", "42"}};
    const struct pw_header cart[] = {{":method", "GET"}, {":path", "/cart/1"}};
    size_t first = pw_vm_memory_bytes(vm);
    for (long k = 1; k <= changes; k++) {
        /* a delay that outlives this change: its root stays until it ends */
        struct pw_stream_result held = pw_stream_start(vm, slow, 3);
        config_for((int)k, config, sizeof config);
        pw_vm_configure(vm, config);
        for (int r = 0; r < 4; r++) {
            struct pw_stream_result c = pw_stream_start(vm, cart, 2);
            if (c.state != PW_STREAM_PAUSED)
                pw_stream_complete(vm, c.context_id);
        }
        pw_advance(vm, 30 * PW_MS);
        if (pw_stream_get(vm, held.context_id))
            pw_stream_complete(vm, held.context_id);
        size_t paused = pw_streams_in_state(vm, PW_STREAM_PAUSED, NULL, 0);
        if (paused || pw_vm_failed(vm)) {
            fprintf(stderr, "after change %ld: %zu streams still paused, vm %s\n", k, paused,
                    pw_vm_failed(vm) ? pw_vm_error(vm) : "healthy");
            return 1;
        }
    }
    size_t last = pw_vm_memory_bytes(vm);
    printf("BENCH plugin_heap_growth_%ld_changes %zu bytes ref=after_first_configuration %zu ratio=%.2f\n", changes,
           last, first, (double)last / (double)first);
    printf("# %zu roots left, %lld delays, %lld aborts, %u host misuse records\n", pw_vm_root_count(vm),
           (long long)pw_metric_find(vm, "wasmcustom.hfi_faults_delays_total")->value,
           (long long)pw_metric_find(vm, "wasmcustom.hfi_faults_aborts_total")->value, pw_vm_misuse_count(vm));
    pw_vm_free(vm);
    return 0;
}
