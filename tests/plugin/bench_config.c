/* BENCH plugin_config_20k_rules_ms: configuring 20,000 rules through the
 * test host (the built module, as proxy_on_configure runs it in a sidecar),
 * against the same text parsed by the same C compiled natively, measured in
 * the same run: `bench_config WASM`. Each is the best of a few runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugin/config.h"
#include "../host/host.h"
#include "many_rules.h"

#define RULES 20000
#define RUNS 5

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s WASM\n", argv[0]);
        return 2;
    }
    char *config = many_prefix_rules(RULES), err[256];
    double wasm_best = 1e30, native_best = 1e30;
    for (int run = 0; run < RUNS; run++) {
        struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, argv[1], err, sizeof err);
        if (!vm) {
            fprintf(stderr, "%s: %s\n", argv[1], err);
            return 1;
        }
        pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
        double start = now_ms();
        bool ok = pw_vm_start(vm, config);
        double took = now_ms() - start;
        if (!ok || !pw_log_find(vm, "configured 20000 rules")) {
            fprintf(stderr, "the plugin did not take the %d rules\n", RULES);
            return 1;
        }
        pw_vm_free(vm);
        wasm_best = took < wasm_best ? took : wasm_best;

        start = now_ms();
        struct hfi_config *native = hfi_config_parse(config, strlen(config), err, sizeof err);
        took = now_ms() - start;
        if (!native || native->rule_count != RULES) {
            fprintf(stderr, "native parse failed: %s\n", err);
            return 1;
        }
        hfi_config_free(native);
        native_best = took < native_best ? took : native_best;
    }
    printf("BENCH plugin_config_20k_rules_ms %.1f ms ref=native_parse %.1f ratio=%.2f\n", wasm_best, native_best,
           wasm_best / native_best);
    printf("# %d rules, %zu bytes of JSON: starting the module with them in the test host, against "
           "hfi_config_parse compiled natively\n",
           RULES, strlen(config));
    free(config);
    return 0;
}
