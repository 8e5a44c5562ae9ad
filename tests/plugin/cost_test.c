/* Costs that a client (regex matching on request input) or a configuration
 * (parsing) can drive, tested on the built build/hfi-fault.wasm through the
 * test host. Cost is counted, never timed: this binary links a copy of the
 * module's wasm2c translation compiled with -fsanitize-coverage=trace-pc-guard,
 * so every basic block the module's code executes bumps `blocks` below. The
 * count is deterministic for a build, and proportional to the wasm
 * instructions run, so bounds stated per input byte catch any matcher or
 * parser that is not linear. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/host.h"
#include "../testlib.h"
#include "many_rules.h"

static uint64_t blocks;

void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);

void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
    for (uint32_t *g = start; g < stop; g++)
        *g = 1;
}

void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
    (void)guard;
    blocks++;
}

static const char *wasm_path = "build/hfi-fault.wasm";

static struct pw_vm *new_vm(void)
{
    char err[256];
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, wasm_path, err, sizeof err);
    if (!vm) {
        fprintf(stderr, "cannot load %s: %s\n", wasm_path, err);
        exit(2);
    }
    pw_set_property(vm, "node.metadata.WORKLOAD_NAME", "frontend");
    pw_set_property(vm, "node.metadata.NAMESPACE", "demo");
    return vm;
}

/* Blocks the module runs to start with config; *ok is the plugin's answer. */
static uint64_t start_cost(struct pw_vm *vm, const char *config, bool *ok)
{
    uint64_t before = blocks;
    *ok = pw_vm_start(vm, config);
    return blocks - before;
}

/* Blocks the module runs for one GET of path with a user-agent header. */
static uint64_t request_cost(struct pw_vm *vm, const char *path, const char *user_agent,
                             enum pw_stream_state *state)
{
    const struct pw_header headers[] = {
        {":method", "GET"}, {":path", path}, {":authority", "frontend"}, {"user-agent", user_agent}};
    uint64_t before = blocks;
    struct pw_stream_result r = pw_stream_start(vm, headers, 4);
    uint64_t cost = blocks - before;
    *state = r.state;
    pw_stream_complete(vm, r.context_id);
    return cost;
}

static char *repeated(char c, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        exit(2);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static char *path_rule(const char *escaped_regex)
{
    static char config[512];
    snprintf(config, sizeof config,
             "{\"policies\":[{\"metadata\":{\"name\":\"p\"},\"spec\":{\"rules\":[{\"match\":{\"path\":"
             "{\"regex\":\"%s\"}},\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}",
             escaped_regex);
    return config;
}

static const char *config_error(struct pw_vm *vm)
{
    return pw_log_find(vm, "configuration rejected");
}

/* ---- regex: linear in the input ---- */

/* Per input byte, what a matcher that is linear with a small constant spends
 * (a table step or a literal scan), with room to spare; a Pike VM over the
 * 2000 instructions of .{0,999}X spends thousands. */
#define BLOCKS_PER_BYTE 40

static void test_bounded_repeat_costs_linear_in_path(void)
{
    struct pw_vm *vm = new_vm();
    bool ok;
    start_cost(vm, path_rule(".{0,999}X"), &ok);
    CHECK(ok && !config_error(vm));
    enum pw_stream_state state;
    char *path = repeated('a', 60000);
    path[0] = '/';
    uint64_t small = request_cost(vm, "/short", "t", &state);
    CHECK_INT(state, PW_STREAM_CONTINUED);
    uint64_t large = request_cost(vm, path, "t", &state);
    CHECK_INT(state, PW_STREAM_CONTINUED);
    printf("# .{0,999}X: %llu blocks for /short, %llu for a 60000-byte path\n", (unsigned long long)small,
           (unsigned long long)large);
    CHECK(large <= small + BLOCKS_PER_BYTE * 60000u);
    path[30000] = 'X'; /* and the same pattern still matches */
    request_cost(vm, path, "t", &state);
    CHECK_INT(state, PW_STREAM_LOCAL_REPLY);
    free(path);
    pw_vm_free(vm);
}

/* A pattern the DFA cannot summarise by a literal: still linear, warm or
 * cold, on a path that keeps it away from a match until the end. */
static void test_class_repeat_costs_linear_in_path(void)
{
    struct pw_vm *vm = new_vm();
    bool ok;
    start_cost(vm, path_rule("^/(?:[a-z]+/)*[0-9]{3}x$"), &ok);
    CHECK(ok && !config_error(vm));
    enum pw_stream_state state;
    size_t n = 60000;
    char *path = repeated('b', n);
    path[0] = '/';
    for (size_t k = 7; k < n; k += 7)
        path[k] = '/';
    uint64_t small = request_cost(vm, "/ab/cd/", "t", &state);
    uint64_t large = request_cost(vm, path, "t", &state);
    CHECK_INT(state, PW_STREAM_CONTINUED);
    printf("# ^/(?:[a-z]+/)*[0-9]{3}x$: %llu blocks for /ab/cd/, %llu for a %zu-byte path\n",
           (unsigned long long)small, (unsigned long long)large, n);
    CHECK(large <= small + BLOCKS_PER_BYTE * n);
    memcpy(path + n - 5, "/123x", 5);
    request_cost(vm, path, "t", &state);
    CHECK_INT(state, PW_STREAM_LOCAL_REPLY);
    free(path);
    pw_vm_free(vm);
}

/* ---- regex: what the plugin refuses ---- */

static void test_program_over_budget_is_refused_by_name_and_size(void)
{
    struct pw_vm *vm = new_vm();
    bool ok;
    /* 3 alternatives of 2 instructions each, 1000 times over. */
    start_cost(vm, path_rule("(?:ab|cd|ef){1000}"), &ok);
    CHECK_CONTAINS(config_error(vm), "policies[0].spec.rules[0].match.path.regex");
    CHECK_CONTAINS(config_error(vm), "(?:ab|cd|ef){1000}");
    CHECK_CONTAINS(config_error(vm), "regex: \"(?:ab|cd|ef){1000}\" compiles to 10001 instructions, over the budget of 5000");
    pw_vm_free(vm);

    vm = new_vm(); /* and the same shape within the budget is taken */
    start_cost(vm, path_rule("(?:ab|cd|ef){400}"), &ok);
    CHECK(ok && !config_error(vm));
    pw_vm_free(vm);
}

/* RE2 folds (?i)ա with Ա (Armenian); the plugin folds ASCII letters only and
 * must say so rather than match differently. */
static void test_case_folding_beyond_ascii_is_refused(void)
{
    struct pw_vm *vm = new_vm();
    bool ok;
    start_cost(vm, path_rule("(?i)/\\u0561"), &ok);
    CHECK_CONTAINS(config_error(vm), "(?i) folds ASCII letters only");
    pw_vm_free(vm);

    vm = new_vm();
    start_cost(vm, path_rule("(?i)/k"), &ok); /* K, k and the KELVIN SIGN, as RE2 */
    CHECK(ok && !config_error(vm));
    enum pw_stream_state state;
    request_cost(vm, "/\xe2\x84\xaa", "t", &state);
    CHECK_INT(state, PW_STREAM_LOCAL_REPLY);
    pw_vm_free(vm);
}

/* RE2 matches '.' (a class holding all of U+0080..U+10FFFF) against the
 * three-byte overlong form E0 80 80 and against surrogates like ED A0 80;
 * a lone invalid byte matches nothing. */
static void test_invalid_utf8_as_re2(void)
{
    struct pw_vm *vm = new_vm();
    bool ok;
    start_cost(vm, path_rule("^/.$"), &ok);
    CHECK(ok && !config_error(vm));
    enum pw_stream_state state;
    request_cost(vm, "/\xe0\x80\x80", "t", &state);
    CHECK_INT(state, PW_STREAM_LOCAL_REPLY);
    request_cost(vm, "/\xed\xa0\x80", "t", &state);
    CHECK_INT(state, PW_STREAM_LOCAL_REPLY);
    request_cost(vm, "/\xff", "t", &state);
    CHECK_INT(state, PW_STREAM_CONTINUED);
    pw_vm_free(vm);
}

/* ---- configuration parsing ---- */

static void test_parsing_is_linear_in_rules(void)
{
    bool ok;
    char *small = many_prefix_rules(2000), *large = many_prefix_rules(20000);
    struct pw_vm *vm = new_vm();
    uint64_t cost_small = start_cost(vm, small, &ok);
    CHECK(ok && !config_error(vm));
    pw_vm_free(vm);
    vm = new_vm();
    uint64_t cost_large = start_cost(vm, large, &ok);
    CHECK(ok && !config_error(vm));
    CHECK(pw_log_find(vm, "configured 20000 rules"));
    pw_vm_free(vm);
    printf("# configuring 2000 rules: %llu blocks, 20000 rules: %llu\n", (unsigned long long)cost_small,
           (unsigned long long)cost_large);
    CHECK(cost_large <= 12 * cost_small); /* ten times the rules; quadratic would be a hundred */
    free(small);
    free(large);
}

/* Nesting past the limit is refused where it happens: the cost does not grow
 * with what follows. */
static void test_deep_nesting_is_refused_early(void)
{
    uint64_t cost[2];
    size_t depth[2] = {1000, 1000000};
    for (int k = 0; k < 2; k++) {
        char *config = repeated('[', depth[k] + 16);
        memcpy(config, "{\"policies\":", 12);
        struct pw_vm *vm = new_vm();
        bool ok;
        cost[k] = start_cost(vm, config, &ok);
        CHECK_CONTAINS(config_error(vm), "configuration: nests deeper than 32 levels at offset 43");
        pw_vm_free(vm);
        free(config);
    }
    printf("# refusing 1000 and 1000000 levels of nesting: %llu and %llu blocks\n", (unsigned long long)cost[0],
           (unsigned long long)cost[1]);
    CHECK(cost[1] <= cost[0] + 1000);
}

static void test_size_limit(void)
{
    size_t limit = 4u << 20;
    char *config = repeated(' ', limit + 1);
    memcpy(config, "{}", 2);
    struct pw_vm *vm = new_vm();
    bool ok;
    start_cost(vm, config, &ok);
    CHECK_CONTAINS(config_error(vm), "configuration: is 4194305 bytes, over the limit of 4194304");
    pw_vm_free(vm);

    config[limit] = '\0'; /* exactly at the limit is taken */
    vm = new_vm();
    start_cost(vm, config, &ok);
    CHECK(ok && !config_error(vm));
    pw_vm_free(vm);
    free(config);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        wasm_path = argv[1];
    RUN(test_bounded_repeat_costs_linear_in_path);
    RUN(test_class_repeat_costs_linear_in_path);
    RUN(test_program_over_budget_is_refused_by_name_and_size);
    RUN(test_case_folding_beyond_ascii_is_refused);
    RUN(test_invalid_utf8_as_re2);
    RUN(test_parsing_is_linear_in_rules);
    RUN(test_deep_nesting_is_refused_early);
    RUN(test_size_limit);
    TEST_MAIN_END();
}
