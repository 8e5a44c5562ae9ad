/* Loads a pluginConfig (JSON, as Istio hands it to the plugin) into the
 * real build/hfi-fault.wasm through the test host, as the sidecar of one
 * workload would, and reports what the plugin made of it:
 *
 *   plugin_config_check WASM CONFIG.json WORKLOAD NAMESPACE [TOKEN]
 *
 * prints `config_errors N`, `policies N` and, with TOKEN, the status of a
 * header-fault request (x-hfi-fault-abort: 503) sent with the token and
 * without it (0: went through). The plugin's log follows on stderr.
 * Exit 0 when it could run; judging the numbers is the caller's job
 * (tests/manifests/manifests_test.py). */
#include <stdio.h>
#include <stdlib.h>

#include "host.h"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len == cap - 1) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static long long metric(const struct pw_vm *vm, const char *name)
{
    const struct pw_metric *m = pw_metric_find(vm, name);
    return m ? (long long)m->value : -1;
}

/* The status of a header-fault request: the local reply's, 0 if it went on. */
static unsigned fire(struct pw_vm *vm, const char *token)
{
    struct pw_header h[] = {{":method", "GET"},
                            {":path", "/"},
                            {":authority", "frontend"},
                            {"x-hfi-fault-abort", "503"},
                            {"x-hfi-fault-token", token}};
    struct pw_stream_result r = pw_stream_start(vm, h, token ? 5 : 4);
    unsigned status = r.state == PW_STREAM_LOCAL_REPLY ? r.reply->status : 0;
    if (r.context_id) {
        if (r.state == PW_STREAM_PAUSED)
            pw_stream_reset(vm, r.context_id);
        else
            pw_stream_complete(vm, r.context_id);
    }
    return status;
}

static void print_log(void *user, enum pw_log_level level, const char *text)
{
    (void)user;
    fprintf(stderr, "plugin log [%d]: %s\n", (int)level, text);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s WASM CONFIG.json WORKLOAD NAMESPACE [TOKEN]\n", argv[0]);
        return 2;
    }
    char *config = read_file(argv[2]);
    if (!config) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }
    char err[256];
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, argv[1], err, sizeof err);
    if (!vm) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], err);
        free(config);
        return 2;
    }
    pw_set_log_sink(vm, print_log, NULL);
    pw_set_property(vm, "node.metadata.WORKLOAD_NAME", argv[3]);
    pw_set_property(vm, "node.metadata.NAMESPACE", argv[4]);
    int rc = 0;
    if (!pw_vm_start(vm, config) || pw_vm_failed(vm)) {
        fprintf(stderr, "plugin did not start: %s\n", pw_vm_error(vm));
        rc = 1;
    }
    printf("config_errors %lld\n", metric(vm, "wasmcustom.hfi_faults_config_errors_total"));
    printf("policies %lld\n", metric(vm, "wasmcustom.hfi_faults_policies"));
    if (argc == 6 && rc == 0) {
        printf("header_fault_with_token %u\n", fire(vm, argv[5]));
        printf("header_fault_without_token %u\n", fire(vm, NULL));
    }
    printf("host_misuse %u\n", pw_vm_misuse_count(vm));
    pw_vm_free(vm);
    free(config);
    return rc;
}
