/* libFuzzer target over the plugin's configuration parser and request path,
 * built natively from the same C as the wasm module. Input: a configuration,
 * then a line holding only "---", then request headers as "name: value"
 * lines. Parsing must never crash, and a parsed configuration must decide
 * any request without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugin/config.h"
#include "../../plugin/fault.h"

struct headers {
    const char *data;
    size_t len;
};

/* Finds "name: value" in the header block; names compare exactly. */
static const char *find_header(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    const struct headers *h = ctx;
    const char *p = h->data, *end = h->data + h->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        /* pseudo-headers start with ":", so the name is followed by ": " */
        if ((size_t)(eol - p) > name_len + 1 && memcmp(p, name, name_len) == 0 && p[name_len] == ':' &&
            p[name_len + 1] == ' ') {
            *value_len = (size_t)(eol - p) - name_len - 2;
            return p + name_len + 2;
        }
        p = eol + 1;
    }
    return NULL;
}

static uint64_t fuzz_clock_ns;

static uint64_t fuzz_clock(void)
{
    return fuzz_clock_ns;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *split = memmem(text, size, "\n---\n", 5);
    size_t config_len = split ? (size_t)(split - text) : size;
    char err[256];
    struct hfi_config *config = hfi_config_parse(text, config_len, err, sizeof err);
    if (!config)
        return 0;
    hfi_config_inherit_first_seen(config, config, 1000);
    struct hfi_rule_set set;
    if (!hfi_rule_set_build(&set, config, "frontend", "demo")) {
        hfi_config_free(config);
        return 0;
    }
    struct headers h = {split ? split + 5 : "", split ? size - config_len - 5 : 0};
    struct hfi_rng rng = {0x9E3779B97F4A7C15u};
    struct hfi_decision d;
    for (uint64_t hour = 0; hour < 4; hour++) {
        fuzz_clock_ns = 1 + hour * UINT64_C(3600000000000);
        hfi_decide(config, &set, find_header, &h, fuzz_clock, &rng, &d);
        uint64_t next_change;
        hfi_rule_set_in_force(&set, fuzz_clock_ns, &next_change);
    }
    hfi_rule_set_free(&set);
    hfi_config_free(config);
    return 0;
}
