/* Drives N requests through a module in the test host, for callgrind to
 * count instructions: `bench_requests hfi_fault|passthrough WASM N [RULES]`.
 * RULES is what the plugin is configured with, rules that select this
 * workload but match no request, the common case in a sidecar: every request
 * pays for looking.
 *   sixteen  (default) 16 rules on method and path prefix
 *   prefix   one rule on a path prefix
 *   regex    one rule on the user-agent, regex bot|spider|crawl, which the
 *            request's 31-byte browser user-agent does not match */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/host.h"

static const char one_prefix_rule[] =
    "{\"policies\":[{\"metadata\":{\"name\":\"bench\"},\"spec\":{\"selector\":{\"service\":\"frontend\"},"
    "\"rules\":[{\"match\":{\"path\":{\"prefix\":\"/never/\"}},\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}";
static const char one_regex_rule[] =
    "{\"policies\":[{\"metadata\":{\"name\":\"bench\"},\"spec\":{\"selector\":{\"service\":\"frontend\"},"
    "\"rules\":[{\"match\":{\"headers\":[{\"name\":\"user-agent\",\"regex\":\"bot|spider|crawl\"}]},"
    "\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}";

static void add_rules(char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "{\"policies\":[{\"metadata\":{\"name\":\"bench\"},\"spec\":{"
                                           "\"selector\":{\"service\":\"frontend\"},\"rules\":[");
    for (int k = 0; k < 16 && n < size; k++)
        n += (size_t)snprintf(buf + n, size - n,
                              "%s{\"match\":{\"method\":{\"exact\":\"GET\"},\"path\":{\"prefix\":\"/never-%d/\"}},"
                              "\"fault\":{\"percentage\":50,\"abort\":{\"httpStatus\":503}}}",
                              k ? "," : "", k);
    snprintf(buf + n, size - n, "]}}]}");
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s hfi_fault|passthrough WASM N [sixteen|prefix|regex]\n", argv[0]);
        return 2;
    }
    const struct pw_module *module = strcmp(argv[1], "passthrough") == 0 ? &pw_module_passthrough
                                                                          : &pw_module_hfi_fault;
    long requests = strtol(argv[3], NULL, 10);
    char err[256];
    static char config[8192];
    const char *rules = argc == 5 ? argv[4] : "sixteen";
    if (strcmp(rules, "prefix") == 0)
        snprintf(config, sizeof config, "%s", one_prefix_rule);
    else if (strcmp(rules, "regex") == 0)
        snprintf(config, sizeof config, "%s", one_regex_rule);
    else
        add_rules(config, sizeof config);
    struct pw_vm *vm = pw_vm_new_from_file(module, argv[2], err, sizeof err);
    if (!vm) {
        fprintf(stderr, "%s: %s\n", argv[2], err);
        return 1;
    }
    pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
    pw_set_property(vm, "node.metadata.NAMESPACE", "demo");
    if (!pw_vm_start(vm, config)) {
        fprintf(stderr, "%s: start failed: %s\n", argv[2], pw_vm_error(vm));
        return 1;
    }
    const struct pw_header headers[] = {{":method", "GET"},          {":path", "/api/items?page=2"},
                                        {":authority", "frontend"},   {":scheme", "http"},
                                        {"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"},  {"accept", "*/*"},
                                        {"x-request-id", "0f5c9a2e"}, {"x-forwarded-proto", "http"}};
    long continued = 0;
    for (long k = 0; k < requests; k++) {
        struct pw_stream_result r = pw_stream_start(vm, headers, sizeof headers / sizeof *headers);
        continued += r.state == PW_STREAM_CONTINUED;
        pw_stream_complete(vm, r.context_id);
    }
    pw_vm_free(vm);
    if (continued != requests) {
        fprintf(stderr, "only %ld of %ld requests went on\n", continued, requests);
        return 1;
    }
    return 0;
}
