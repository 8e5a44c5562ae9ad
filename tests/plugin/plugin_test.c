/* The plugin's behaviour, tested on the built build/hfi-fault.wasm through
 * the proxy-wasm test host: configure, send requests, move time, reset
 * streams, read metrics and logs — as a sidecar would. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/host.h"
#include "../testlib.h"

static const char *wasm_path = "build/hfi-fault.wasm";

/* The module file's bytes (none when it cannot be read), for the tests that
 * hand the host a buffer rather than a path. */
static const uint8_t *module_bytes(size_t *len)
{
    static uint8_t wasm[1 << 20];
    FILE *f = fopen(wasm_path, "rb");
    *len = f ? fread(wasm, 1, sizeof wasm, f) : 0;
    if (f)
        fclose(f);
    return wasm;
}

static struct pw_vm *vm_for(const char *workload, const char *ns, const char *config)
{
    char err[256];
    struct pw_vm *vm = pw_vm_new_from_file(&pw_module_hfi_fault, wasm_path, err, sizeof err);
    if (!vm) {
        fprintf(stderr, "cannot load %s: %s\n", wasm_path, err);
        exit(2);
    }
    if (workload)
        pw_set_property(vm, "node.metadata.WORKLOAD_NAME", workload);
    if (ns)
        pw_set_property(vm, "node.metadata.NAMESPACE", ns);
    CHECK(pw_vm_start(vm, config));
    return vm;
}

static struct pw_vm *vm_with(const char *config)
{
    return vm_for("frontend", "demo", config);
}

static int64_t metric(const struct pw_vm *vm, const char *name)
{
    const struct pw_metric *m = pw_metric_find(vm, name);
    if (!m)
        return -1;
    return m->type == PW_HISTOGRAM ? (int64_t)m->count : m->value;
}

#define ABORTS "wasmcustom.hfi_faults_aborts_total"
#define DELAYS "wasmcustom.hfi_faults_delays_total"
#define DELAY_MS "wasmcustom.hfi_faults_delay_duration_milliseconds"
#define ACTIVE "wasmcustom.hfi_faults_active_delays"
#define OVERFLOW "wasmcustom.hfi_faults_overflow_total"
#define CONFIG_ERRORS "wasmcustom.hfi_faults_config_errors_total"
#define POLICIES "wasmcustom.hfi_faults_policies"

/* A request through the plugin; the stream is completed unless it paused. */
static enum pw_stream_state request(struct pw_vm *vm, const char *method, const char *path,
                                    const struct pw_header *extra, size_t n_extra, uint32_t *status)
{
    struct pw_header headers[16] = {{":method", method}, {":path", path}, {":authority", "frontend"}};
    size_t n = 3;
    for (size_t k = 0; k < n_extra && n < 16; k++)
        headers[n++] = extra[k];
    struct pw_stream_result r = pw_stream_start(vm, headers, n);
    if (status)
        *status = r.state == PW_STREAM_LOCAL_REPLY ? r.reply->status : 0;
    if (r.state != PW_STREAM_PAUSED)
        pw_stream_complete(vm, r.context_id);
    return r.state;
}

static enum pw_stream_state get(struct pw_vm *vm, const char *path)
{
    return request(vm, "GET", path, NULL, 0, NULL);
}

static const char *abort_all(void)
{
    return "{\"policies\":[{\"metadata\":{\"name\":\"all\"},\"spec\":{\"rules\":[{\"fault\":"
           "{\"abort\":{\"httpStatus\":503,\"body\":\"injected\"}}}]}}]}";
}

/* ---- load and metrics ---- */

static void test_metrics_exist_at_zero(void)
{
    struct pw_vm *vm = vm_with(NULL);
    const char *counters[] = {ABORTS, DELAYS, OVERFLOW, CONFIG_ERRORS};
    for (size_t k = 0; k < sizeof counters / sizeof *counters; k++) {
        const struct pw_metric *m = pw_metric_find(vm, counters[k]);
        CHECK(m && m->type == PW_COUNTER && m->value == 0);
    }
    const struct pw_metric *h = pw_metric_find(vm, DELAY_MS);
    CHECK(h && h->type == PW_HISTOGRAM && h->count == 0);
    const struct pw_metric *g = pw_metric_find(vm, ACTIVE);
    CHECK(g && g->type == PW_GAUGE && g->value == 0);
    g = pw_metric_find(vm, POLICIES);
    CHECK(g && g->type == PW_GAUGE && g->value == 0);
    char envoy[128];
    pw_metric_envoy_name(pw_metric_find(vm, ABORTS), envoy, sizeof envoy);
    CHECK_STR(envoy, "wasmcustom.wasmcustom.hfi_faults_aborts_total");
    pw_vm_free(vm);
}

static void test_module_passes_host_load_checks(void)
{
    size_t n;
    const uint8_t *buf = module_bytes(&n);
    struct pw_wasm_report report;
    CHECK(pw_validate(buf, n, &report));
    CHECK(report.bound_exports & PW_EXPORT_MALLOC);
    /* Delays are done with pause and tick, never with a call out: the
     * earlier Rust plugin called a cluster that did not exist. */
    CHECK(n > 0 && !memmem(buf, n, "proxy_http_call", 15));
}

/* ---- aborts and matching ---- */

/* The host drops every header of a map with a byte past its declared size
 * (proxy-wasm-cpp-host toPairs): x-hfi-fault must still arrive. */
static void test_abort_replies_with_status_body_and_header(void)
{
    struct pw_vm *vm = vm_with(abort_all());
    struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":method", "GET"}, {":path", "/"}}, 2);
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(r.reply->status, 503);
    CHECK_STR(r.reply->body, "injected");
    CHECK_STR(pw_local_reply_header(r.reply, "x-hfi-fault"), "abort");
    CHECK_INT(r.reply->n_headers, 1);
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_stream_complete(vm, r.context_id);
    CHECK_INT(metric(vm, ABORTS), 1);
    CHECK_INT(metric(vm, DELAYS), 0);
    CHECK_INT(metric(vm, POLICIES), 1);
    pw_vm_free(vm);
}

static void test_abort_without_body_uses_envoy_default(void)
{
    struct pw_vm *vm =
        vm_with("{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":429}}}]}}]}");
    struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    CHECK_INT(r.state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(r.reply->status, 429);
    CHECK_STR(r.reply->body, "fault filter abort");
    pw_vm_free(vm);
}

static const char *matching_config(void)
{
    return "{\"policies\":[{\"metadata\":{\"name\":\"m\"},\"spec\":{\"rules\":["
           "{\"match\":{\"method\":{\"exact\":\"POST\"},\"path\":{\"prefix\":\"/product/\"},"
           "\"headers\":[{\"name\":\"X-User-Id\",\"exact\":\"42\"}]},"
           "\"fault\":{\"abort\":{\"httpStatus\":501}}},"
           "{\"match\":{\"path\":{\"regex\":\"^/cart/[0-9]+$\"}},\"fault\":{\"abort\":{\"httpStatus\":502}}},"
           "{\"match\":{\"path\":{\"exact\":\"/exact\"}},\"fault\":{\"abort\":{\"httpStatus\":503}}},"
           "{\"match\":{\"headers\":[{\"name\":\"x-custom-anything\",\"regex\":\"^canary-(a|b)\"}]},"
           "\"fault\":{\"abort\":{\"httpStatus\":504}}},"
           "{\"match\":{\"headers\":[{\"name\":\"x-tenant\",\"prefix\":\"acme\"}],"
           "\"method\":{\"regex\":\"^(PUT|PATCH)$\"}},\"fault\":{\"abort\":{\"httpStatus\":505}}}"
           "]}}]}";
}

static uint32_t status_of(struct pw_vm *vm, const char *method, const char *path, const struct pw_header *h,
                          size_t n)
{
    uint32_t status = 0;
    request(vm, method, path, h, n, &status);
    return status;
}

static void test_matching_on_method_path_and_any_header(void)
{
    struct pw_vm *vm = vm_with(matching_config());
    struct pw_header user42 = {"x-user-id", "42"}, user7 = {"x-user-id", "7"};
    CHECK_INT(status_of(vm, "POST", "/product/1", &user42, 1), 501);
    CHECK_INT(status_of(vm, "GET", "/product/1", &user42, 1), 0);  /* method differs */
    CHECK_INT(status_of(vm, "POST", "/product/1", &user7, 1), 0);  /* header value differs */
    CHECK_INT(status_of(vm, "POST", "/product/1", NULL, 0), 0);    /* header absent */
    CHECK_INT(status_of(vm, "POST", "/products", &user42, 1), 0);  /* prefix differs */
    CHECK_INT(status_of(vm, "GET", "/cart/12", NULL, 0), 502);
    CHECK_INT(status_of(vm, "GET", "/cart/12?coupon=1", NULL, 0), 502); /* query string is not the path */
    CHECK_INT(status_of(vm, "GET", "/cart/12x", NULL, 0), 0);
    CHECK_INT(status_of(vm, "GET", "/exact", NULL, 0), 503);
    CHECK_INT(status_of(vm, "GET", "/exact/", NULL, 0), 0);
    /* Any header can be matched, not a fixed list (a defect of the earlier Rust plugin). */
    CHECK_INT(status_of(vm, "GET", "/", &(struct pw_header){"x-custom-anything", "canary-b7"}, 1), 504);
    CHECK_INT(status_of(vm, "GET", "/", &(struct pw_header){"x-custom-anything", "stable"}, 1), 0);
    CHECK_INT(status_of(vm, "PATCH", "/", &(struct pw_header){"x-tenant", "acme-eu"}, 1), 505);
    CHECK_INT(status_of(vm, "GET", "/", &(struct pw_header){"x-tenant", "acme-eu"}, 1), 0);
    CHECK_INT(metric(vm, ABORTS), 6);
    pw_vm_free(vm);
}

static void test_first_matching_rule_wins(void)
{
    struct pw_vm *vm = vm_with("{\"policies\":[{\"spec\":{\"rules\":["
                               "{\"match\":{\"path\":{\"prefix\":\"/a\"}},\"fault\":{\"abort\":{\"httpStatus\":500}}},"
                               "{\"fault\":{\"abort\":{\"httpStatus\":404}}}]}}]}");
    CHECK_INT(status_of(vm, "GET", "/abc", NULL, 0), 500);
    CHECK_INT(status_of(vm, "GET", "/zzz", NULL, 0), 404);
    pw_vm_free(vm);
}

static const char *selected_config(void)
{
    return "{\"policies\":["
           "{\"metadata\":{\"name\":\"cart-only\"},\"spec\":{\"selector\":{\"service\":\"cart\",\"namespace\":\"demo\"},"
           "\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":503}}}]}},"
           "{\"metadata\":{\"name\":\"prod-ns\"},\"spec\":{\"selector\":{\"namespace\":\"prod\"},"
           "\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":500}}},{\"fault\":{\"abort\":{\"httpStatus\":501}}}]}}]}";
}

static void test_selector_uses_workload_and_namespace_properties(void)
{
    struct pw_vm *cart = vm_for("cart", "demo", selected_config());
    struct pw_vm *frontend = vm_for("frontend", "demo", selected_config());
    struct pw_vm *cart_prod = vm_for("cart", "prod", selected_config());
    struct pw_vm *unnamed = vm_for(NULL, NULL, selected_config());
    CHECK_INT(status_of(cart, "GET", "/", NULL, 0), 503);
    CHECK_INT(status_of(frontend, "GET", "/", NULL, 0), 0);
    CHECK_INT(status_of(cart_prod, "GET", "/", NULL, 0), 500);
    CHECK_INT(status_of(unnamed, "GET", "/", NULL, 0), 0);
    CHECK_INT(metric(cart, POLICIES), 1);
    CHECK_INT(metric(frontend, POLICIES), 0);
    CHECK_INT(metric(cart_prod, POLICIES), 2);
    pw_vm_free(cart);
    pw_vm_free(frontend);
    pw_vm_free(cart_prod);
    pw_vm_free(unnamed);
}

/* ---- sampling ---- */

static const char *abort_at(const char *percentage, char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"percentage\":%s,"
             "\"abort\":{\"httpStatus\":503}}}]}}]}",
             percentage);
    return buf;
}

static int aborted_out_of(struct pw_vm *vm, int requests)
{
    int aborted = 0;
    for (int k = 0; k < requests; k++)
        aborted += get(vm, "/") == PW_STREAM_LOCAL_REPLY;
    return aborted;
}

/* Within four standard deviations of n*p: the earlier plugin sampled twice,
 * which turned 25% into 6.25% (a defect of the earlier Rust plugin). */
static void check_binomial(int observed, int n, double p)
{
    double mean = n * p, sd = sqrt(n * p * (1 - p));
    if (fabs(observed - mean) > 4 * sd)
        fprintf(stderr, "  observed %d of %d, expected %.1f +- %.1f\n", observed, n, mean, 4 * sd);
    CHECK(fabs(observed - mean) <= 4 * sd);
}

static void test_percentage_25_is_sampled_once(void)
{
    char cfg[256];
    struct pw_vm *vm = vm_with(abort_at("25", cfg, sizeof cfg));
    int aborted = aborted_out_of(vm, 10000);
    check_binomial(aborted, 10000, 0.25);
    CHECK_INT(metric(vm, ABORTS), aborted);
    pw_vm_free(vm);
}

static void test_percentage_100_is_all_and_0_is_none(void)
{
    char cfg[256];
    struct pw_vm *all = vm_with(abort_at("100", cfg, sizeof cfg));
    CHECK_INT(aborted_out_of(all, 10000), 10000);
    struct pw_vm *none = vm_with(abort_at("0", cfg, sizeof cfg));
    CHECK_INT(aborted_out_of(none, 10000), 0);
    CHECK_INT(metric(none, ABORTS), 0);
    pw_vm_free(all);
    pw_vm_free(none);
}

static void test_fractional_percentage(void)
{
    char cfg[256];
    struct pw_vm *vm = vm_with(abort_at("0.2", cfg, sizeof cfg));
    check_binomial(aborted_out_of(vm, 50000), 50000, 0.002);
    pw_vm_free(vm);
}

/* ---- delays ---- */

static const char *delay_config(const char *delay, const char *extra_fault)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"policies\":[{\"metadata\":{\"name\":\"slow\"},\"spec\":{\"rules\":[{\"fault\":{"
             "\"delay\":%s%s}}]}}]}",
             delay, extra_fault);
    return buf;
}

static void test_delay_pauses_and_resumes_from_tick(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay_ms\":500}", ""));
    struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    CHECK_INT(r.state, PW_STREAM_PAUSED);
    CHECK_INT(metric(vm, DELAYS), 1);
    CHECK_INT(metric(vm, ACTIVE), 1);
    CHECK(pw_tick_period_ms(vm) > 0);

    pw_advance(vm, 499 * PW_MS);
    CHECK_INT(pw_stream_get(vm, r.context_id)->state, PW_STREAM_PAUSED);
    pw_advance(vm, 20 * PW_MS);
    const struct pw_stream *s = pw_stream_get(vm, r.context_id);
    CHECK_INT(s->state, PW_STREAM_CONTINUED);
    uint64_t waited_ms = (s->changed_ns - s->started_ns) / PW_MS;
    CHECK(waited_ms >= 500 && waited_ms <= 510);
    const struct pw_metric *h = pw_metric_find(vm, DELAY_MS);
    CHECK_INT(h->count, 1);
    CHECK(pw_metric_sample_count(h) == 1 && pw_metric_sample(h, 0) >= 500 && pw_metric_sample(h, 0) <= 510);
    CHECK_INT(metric(vm, ACTIVE), 0);
    CHECK_INT(pw_tick_period_ms(vm), 0); /* no ticking while nothing waits */
    pw_stream_complete(vm, r.context_id);
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

static void test_delays_overlap_and_resume_by_deadline(void)
{
    struct pw_vm *vm = vm_with("{\"policies\":[{\"spec\":{\"rules\":["
                               "{\"match\":{\"path\":{\"exact\":\"/slow\"}},\"fault\":{\"delay\":{\"fixed_delay_ms\":300}}},"
                               "{\"match\":{\"path\":{\"exact\":\"/fast\"}},\"fault\":{\"delay\":{\"fixed_delay_ms\":100}}}"
                               "]}}]}");
    struct pw_stream_result slow = pw_stream_start(vm, (struct pw_header[]){{":path", "/slow"}}, 1);
    pw_advance(vm, 50 * PW_MS);
    struct pw_stream_result fast = pw_stream_start(vm, (struct pw_header[]){{":path", "/fast"}}, 1);
    CHECK_INT(get(vm, "/other"), PW_STREAM_CONTINUED); /* not held up */
    CHECK_INT(metric(vm, ACTIVE), 2);
    pw_advance(vm, 110 * PW_MS);
    CHECK_INT(pw_stream_get(vm, fast.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(pw_stream_get(vm, slow.context_id)->state, PW_STREAM_PAUSED);
    pw_advance(vm, 150 * PW_MS);
    CHECK_INT(pw_stream_get(vm, slow.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->count, 2);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->sum >= 400, 1);
    pw_vm_free(vm);
}

static void test_legacy_fixed_delay_text(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay\":\"1.5s\"}", ""));
    struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    pw_advance(vm, 1490 * PW_MS);
    CHECK_INT(pw_stream_get(vm, r.context_id)->state, PW_STREAM_PAUSED);
    pw_advance(vm, 20 * PW_MS);
    CHECK_INT(pw_stream_get(vm, r.context_id)->state, PW_STREAM_CONTINUED);
    pw_vm_free(vm);
}

static void test_delay_then_abort(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay_ms\":200}", ",\"abort\":{\"httpStatus\":504,\"body\":\"late\"}"));
    struct pw_stream_result r = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    CHECK_INT(r.state, PW_STREAM_PAUSED);
    CHECK_INT(metric(vm, ABORTS), 0);
    /* A re-configure while it waits must not free what the abort sends. */
    CHECK(pw_vm_configure(vm, abort_all()));
    pw_advance(vm, 250 * PW_MS);
    const struct pw_stream *s = pw_stream_get(vm, r.context_id);
    CHECK_INT(s->state, PW_STREAM_LOCAL_REPLY);
    CHECK_INT(s->reply->status, 504);
    CHECK_STR(s->reply->body, "late");
    CHECK_INT(metric(vm, ABORTS), 1);
    CHECK_INT(metric(vm, DELAYS), 1);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->count, 1);
    pw_vm_free(vm);
}

/* A defect of the earlier Rust plugin: an immediate delay recorded no metric. */
static void test_immediate_delay_records_histogram(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay_ms\":0}", ""));
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, DELAYS), 1);
    const struct pw_metric *h = pw_metric_find(vm, DELAY_MS);
    CHECK_INT(h->count, 1);
    CHECK(pw_metric_sample_count(h) == 1 && pw_metric_sample(h, 0) == 0);
    pw_vm_free(vm);
}

static void test_reset_stream_is_never_resumed(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay_ms\":100}", ""));
    struct pw_stream_result a = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    struct pw_stream_result b = pw_stream_start(vm, (struct pw_header[]){{":path", "/"}}, 1);
    CHECK_INT(metric(vm, ACTIVE), 2);
    CHECK(pw_stream_reset(vm, a.context_id));
    CHECK_INT(metric(vm, ACTIVE), 1);
    pw_advance(vm, 200 * PW_MS);
    CHECK(pw_stream_get(vm, a.context_id) == NULL);
    CHECK_INT(pw_stream_get(vm, b.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    CHECK_INT(metric(vm, ACTIVE), 0);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->count, 1);
    CHECK_INT(pw_tick_period_ms(vm), 0);
    pw_vm_free(vm);
}

static void test_max_active_delays_overflow(void)
{
    struct pw_vm *vm = vm_with("{\"max_active_delays\":2,\"policies\":[{\"spec\":{\"rules\":[{\"fault\":"
                               "{\"delay\":{\"fixed_delay_ms\":100}}}]}}]}");
    CHECK_INT(get(vm, "/"), PW_STREAM_PAUSED);
    CHECK_INT(get(vm, "/"), PW_STREAM_PAUSED);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, OVERFLOW), 1);
    CHECK_INT(metric(vm, DELAYS), 2);
    CHECK_INT(metric(vm, ACTIVE), 2);
    pw_advance(vm, 150 * PW_MS);
    CHECK_INT(metric(vm, ACTIVE), 0);
    CHECK_INT(get(vm, "/"), PW_STREAM_PAUSED); /* room again */
    pw_vm_free(vm);
}

/* ---- time windows ---- */

static void test_start_delay_ms(void)
{
    struct pw_vm *vm = vm_with(
        "{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"start_delay_ms\":2000,\"abort\":{\"httpStatus\":500}}}]}}]}");
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    pw_advance(vm, 1999 * PW_MS);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    pw_advance(vm, 2 * PW_MS);
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    pw_vm_free(vm);
}

static const char *expiring(const char *spacing)
{
    static char buf[400];
    snprintf(buf, sizeof buf,
             "{\"policies\":[{\"metadata\":{\"name\":\"brief\"},\"spec\":{\"rules\":[{\"fault\":{%s"
             "\"duration_seconds\":60,%s\"abort\":{\"httpStatus\":500}}}]}}]}",
             spacing, spacing);
    return buf;
}

/* A defect of the earlier Rust plugin: every refresh restarted duration_seconds, so expiry never came. */
static void test_expiry_survives_reconfigure(void)
{
    struct pw_vm *vm = vm_with(expiring(""));
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    for (int k = 0; k < 5; k++) {
        pw_advance(vm, 10 * PW_SECOND);
        CHECK(pw_vm_configure(vm, expiring(k % 2 ? " " : "\n "))); /* same policy, written differently */
    }
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY); /* 50 s in */
    pw_advance(vm, 11 * PW_SECOND);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED); /* 61 s: expired */
    CHECK(pw_vm_configure(vm, expiring("")));
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED); /* still expired */
    pw_vm_free(vm);
}

static void test_changed_policy_starts_a_new_window(void)
{
    struct pw_vm *vm = vm_with(expiring(""));
    pw_advance(vm, 61 * PW_SECOND);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    CHECK(pw_vm_configure(vm, "{\"policies\":[{\"metadata\":{\"name\":\"brief\"},\"spec\":{\"rules\":[{\"fault\":{"
                              "\"duration_seconds\":120,\"abort\":{\"httpStatus\":500}}}]}}]}"));
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    pw_vm_free(vm);
}

/* ---- absolute bounds ---- */

/* A policy in force from 10 to 20 minutes after the host clock's start
 * (2023-11-14T22:13:20Z). */
static const char *bounded(const char *start, const char *end)
{
    static char buf[400];
    snprintf(buf, sizeof buf,
             "{\"policies\":[{\"metadata\":{\"name\":\"window\"},\"spec\":{%s%s%s%s%s%s"
             "\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}",
             start ? "\"start_time\":\"" : "", start ? start : "", start ? "\"," : "", end ? "\"end_time\":\"" : "",
             end ? end : "", end ? "\"," : "");
    return buf;
}

#define T0 PW_DEFAULT_START_NS

/* Every sidecar honours the same instants, whenever it started: one VM
 * started with the window's opening, one 15 minutes later. */
static void test_absolute_bounds_hold_on_every_sidecar(void)
{
    const char *config = bounded("2023-11-14T22:23:20Z", "2023-11-14T22:33:20.5Z");
    struct pw_vm *early = vm_with(config);
    struct pw_vm *late = pw_vm_new_from_file(&pw_module_hfi_fault, wasm_path, NULL, 0);
    pw_set_time(late, T0 + 15 * 60 * PW_SECOND);
    CHECK(pw_vm_start(late, config));
    CHECK_INT(get(early, "/"), PW_STREAM_CONTINUED); /* before start_time */
    pw_advance(early, 10 * 60 * PW_SECOND - 1);
    CHECK_INT(get(early, "/"), PW_STREAM_CONTINUED);
    pw_advance(early, 1);
    CHECK_INT(get(early, "/"), PW_STREAM_LOCAL_REPLY); /* start_time is in force */
    CHECK_INT(get(late, "/"), PW_STREAM_LOCAL_REPLY);
    pw_advance(early, 10 * 60 * PW_SECOND + PW_SECOND / 2 - 1);
    pw_advance(late, 5 * 60 * PW_SECOND + PW_SECOND / 2 - 1);
    CHECK_INT(get(early, "/"), PW_STREAM_LOCAL_REPLY);
    CHECK_INT(get(late, "/"), PW_STREAM_LOCAL_REPLY);
    pw_advance(early, 1);
    pw_advance(late, 1);
    CHECK_INT(get(early, "/"), PW_STREAM_CONTINUED); /* end_time is not */
    CHECK_INT(get(late, "/"), PW_STREAM_CONTINUED);
    CHECK_INT(metric(early, CONFIG_ERRORS), 0);
    pw_vm_free(early);
    pw_vm_free(late);

    /* Far ahead, beyond what nanoseconds since 1970 hold: valid, not yet. */
    struct pw_vm *far = vm_with(bounded("2999-01-01T00:00:00Z", NULL));
    CHECK_INT(metric(far, CONFIG_ERRORS), 0);
    CHECK_INT(metric(far, POLICIES), 0);
    CHECK_INT(get(far, "/"), PW_STREAM_CONTINUED);
    pw_vm_free(far);
}

/* The bounds intersect the relative window: a duration_seconds that would
 * run past end_time stops there, and start_delay_ms still applies. */
static void test_absolute_bounds_intersect_duration(void)
{
    struct pw_vm *vm = vm_with("{\"policies\":[{\"spec\":{\"end_time\":\"2023-11-14T22:14:20+00:00\","
                               "\"rules\":[{\"fault\":{\"start_delay_ms\":30000,\"duration_seconds\":600,"
                               "\"abort\":{\"httpStatus\":503}}}]}}]}");
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    pw_advance(vm, 30 * PW_SECOND);
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    pw_advance(vm, 30 * PW_SECOND);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED); /* end_time, long before the duration's end */
    pw_vm_free(vm);
}

/* The policies gauge counts the rules in force now, kept exact by the tick
 * with no request arriving: 0 before start_time, 1 within, 0 after end_time
 * or after duration_seconds. */
static void test_policies_gauge_counts_rules_in_force(void)
{
    struct pw_vm *vm = vm_with("{\"policies\":["
                               "{\"metadata\":{\"name\":\"window\"},\"spec\":{\"start_time\":\"2023-11-14T22:23:20Z\","
                               "\"end_time\":\"2023-11-14T22:33:20Z\",\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":503}}}]}},"
                               "{\"metadata\":{\"name\":\"brief\"},\"spec\":{\"rules\":[{\"fault\":{\"duration_seconds\":60,"
                               "\"abort\":{\"httpStatus\":500}}}]}}]}");
    CHECK_INT(metric(vm, POLICIES), 1); /* only "brief" */
    pw_advance(vm, 60 * PW_SECOND - 1);
    CHECK_INT(metric(vm, POLICIES), 1);
    pw_advance(vm, 1);
    CHECK_INT(metric(vm, POLICIES), 0); /* brief expired */
    pw_advance(vm, 9 * 60 * PW_SECOND);
    CHECK_INT(metric(vm, POLICIES), 1); /* window opened */
    pw_advance(vm, 10 * 60 * PW_SECOND);
    CHECK_INT(metric(vm, POLICIES), 0); /* and closed */
    CHECK_INT(pw_next_tick_ns(vm), 0);  /* nothing left to wait for */
    pw_vm_free(vm);
}

/* ---- configuration changes, as Envoy makes them: a new root each ---- */

static struct pw_stream_result start_get(struct pw_vm *vm, const char *path)
{
    return pw_stream_start(vm, (struct pw_header[]){{":method", "GET"}, {":path", path}}, 2);
}

/* Delays resume on time whichever root paused them: one paused before a
 * change (its old root's tick), one after (the new root's), and one after
 * the old root has gone. */
static void test_delays_resume_across_configuration_changes(void)
{
    const char *slow = delay_config("{\"fixed_delay_ms\":200}", "");
    struct pw_vm *vm = vm_with(slow);
    struct pw_stream_result before = start_get(vm, "/");
    pw_advance(vm, 50 * PW_MS);
    CHECK(pw_vm_configure(vm, delay_config("{\"fixed_delay_ms\":100}", "")));
    struct pw_stream_result after = start_get(vm, "/");
    CHECK_INT(before.state, PW_STREAM_PAUSED);
    CHECK_INT(after.state, PW_STREAM_PAUSED);
    CHECK_INT(metric(vm, ACTIVE), 2);
    pw_advance(vm, 110 * PW_MS);
    CHECK_INT(pw_stream_get(vm, after.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(pw_stream_get(vm, before.context_id)->state, PW_STREAM_PAUSED);
    pw_advance(vm, 50 * PW_MS);
    const struct pw_stream *s = pw_stream_get(vm, before.context_id);
    CHECK_INT(s->state, PW_STREAM_CONTINUED);
    CHECK((s->changed_ns - s->started_ns) / PW_MS >= 200 && (s->changed_ns - s->started_ns) / PW_MS <= 210);
    pw_stream_complete(vm, before.context_id); /* the old root goes with its last stream */
    pw_stream_complete(vm, after.context_id);
    CHECK_INT(pw_vm_root_count(vm), 1);

    /* A delay under the newest root while the previous root's timer runs,
     * then the previous root goes (its paused stream was reset): the new
     * root's own tick must resume it. */
    struct pw_stream_result held = start_get(vm, "/");
    CHECK(pw_vm_configure(vm, delay_config("{\"fixed_delay_ms\":120}", "")));
    struct pw_stream_result last = start_get(vm, "/");
    CHECK_INT(last.state, PW_STREAM_PAUSED);
    pw_advance(vm, 10 * PW_MS);
    CHECK(pw_stream_reset(vm, held.context_id));
    CHECK_INT(pw_vm_root_count(vm), 1);
    pw_advance(vm, 120 * PW_MS);
    CHECK_INT(pw_stream_get(vm, last.context_id)->state, PW_STREAM_CONTINUED);
    pw_stream_complete(vm, last.context_id);
    CHECK_INT(metric(vm, ACTIVE), 0);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->count, 3);
    CHECK_INT(pw_next_tick_ns(vm), 0);
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

/* A root that goes away ends the delays of the streams still waiting on it
 * rather than leaving them paused for good. */
static void test_root_shut_down_ends_its_delays(void)
{
    struct pw_vm *vm = vm_with(delay_config("{\"fixed_delay_ms\":5000}", ""));
    struct pw_stream_result waiting = start_get(vm, "/");
    CHECK_INT(waiting.state, PW_STREAM_PAUSED);
    pw_advance(vm, 100 * PW_MS);
    pw_vm_shutdown(vm);
    CHECK_INT(pw_vm_root_count(vm), 0);
    CHECK_INT(pw_stream_get(vm, waiting.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, ACTIVE), 0);
    CHECK_INT(pw_metric_find(vm, DELAY_MS)->count, 1);
    CHECK(pw_stream_complete(vm, waiting.context_id));
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

/* An invalid configuration leaves the previous one in force whole: its
 * rules, header_faults and max_active_delays; counted and logged. */
static void test_invalid_change_keeps_previous_configuration_whole(void)
{
    struct pw_vm *vm = vm_with("{\"max_active_delays\":1,\"header_faults\":{\"enabled\":true,\"max_delay_ms\":100},"
                               "\"policies\":[{\"spec\":{\"rules\":[{\"match\":{\"path\":{\"prefix\":\"/slow\"}},"
                               "\"fault\":{\"delay\":{\"fixed_delay_ms\":500}}}]}}]}");
    CHECK(pw_vm_configure(vm, "{\"policies\": [")); /* taken, so Envoy keeps serving */
    CHECK_INT(metric(vm, CONFIG_ERRORS), 1);
    CHECK_CONTAINS(pw_log_find(vm, "configuration rejected"), "keeping the previous 1 rules");
    CHECK_INT(metric(vm, POLICIES), 1);
    struct pw_stream_result slow = start_get(vm, "/slow/1");
    CHECK_INT(slow.state, PW_STREAM_PAUSED);
    CHECK_INT(get(vm, "/slow/2"), PW_STREAM_CONTINUED); /* max_active_delays 1 still holds */
    CHECK_INT(metric(vm, OVERFLOW), 1);
    struct pw_header h[] = {{"x-hfi-fault-abort", "418"}};
    uint32_t status = 0;
    CHECK_INT(request(vm, "GET", "/", h, 1, &status), PW_STREAM_LOCAL_REPLY); /* header faults still on */
    CHECK_INT(status, 418);
    pw_advance(vm, 510 * PW_MS);
    CHECK_INT(pw_stream_get(vm, slow.context_id)->state, PW_STREAM_CONTINUED);
    pw_stream_complete(vm, slow.context_id);
    pw_vm_free(vm);
}

/* Adding a policy leaves the windows of those already there running. */
static void test_adding_a_policy_keeps_other_windows(void)
{
    struct pw_vm *vm = vm_with(expiring(""));
    pw_advance(vm, 50 * PW_SECOND);
    CHECK(pw_vm_configure(vm, "{\"policies\":[{\"metadata\":{\"name\":\"brief\"},\"spec\":{\"rules\":[{\"fault\":{"
                              "\"duration_seconds\":60,\"abort\":{\"httpStatus\":500}}}]}},"
                              "{\"metadata\":{\"name\":\"new\"},\"spec\":{\"rules\":[{\"match\":{\"path\":{\"exact\":"
                              "\"/new\"}},\"fault\":{\"duration_seconds\":60,\"abort\":{\"httpStatus\":501}}}]}}]}"));
    CHECK_INT(metric(vm, POLICIES), 2);
    pw_advance(vm, 11 * PW_SECOND);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED); /* brief: 61 s, expired */
    uint32_t status = 0;
    request(vm, "GET", "/new", NULL, 0, &status);
    CHECK_INT(status, 501); /* new: 11 s */
    CHECK_INT(metric(vm, POLICIES), 1);
    pw_vm_free(vm);
}

/* First-seen times are kept per policy: editing one rule of a policy makes
 * the whole policy new (both its rules get a fresh window), while another
 * policy, unchanged, keeps its own. */
static const char *two_policies(int second_status)
{
    static char buf[600];
    snprintf(buf, sizeof buf,
             "{\"policies\":[{\"metadata\":{\"name\":\"edited\"},\"spec\":{\"rules\":["
             "{\"match\":{\"path\":{\"exact\":\"/a\"}},\"fault\":{\"duration_seconds\":60,\"abort\":{\"httpStatus\":500}}},"
             "{\"match\":{\"path\":{\"exact\":\"/b\"}},\"fault\":{\"duration_seconds\":60,\"abort\":{\"httpStatus\":%d}}}]}},"
             "{\"metadata\":{\"name\":\"kept\"},\"spec\":{\"rules\":[{\"match\":{\"path\":{\"exact\":\"/c\"}},"
             "\"fault\":{\"duration_seconds\":60,\"abort\":{\"httpStatus\":503}}}]}}]}",
             second_status);
    return buf;
}

static void test_editing_a_policy_renews_all_its_rules(void)
{
    struct pw_vm *vm = vm_with(two_policies(501));
    pw_advance(vm, 61 * PW_SECOND);
    CHECK_INT(metric(vm, POLICIES), 0);
    CHECK(pw_vm_configure(vm, two_policies(502)));
    CHECK_INT(status_of(vm, "GET", "/a", NULL, 0), 500); /* unchanged rule, edited policy: new */
    CHECK_INT(status_of(vm, "GET", "/b", NULL, 0), 502);
    CHECK_INT(status_of(vm, "GET", "/c", NULL, 0), 0); /* the other policy is still expired */
    CHECK_INT(metric(vm, POLICIES), 2);
    pw_vm_free(vm);
}

/* Memory stays flat across any number of changes. */
static void test_memory_flat_across_changes(void)
{
    struct pw_vm *vm = vm_with(matching_config());
    char config[1024];
    for (int k = 0; k < 20; k++) {
        snprintf(config, sizeof config, "{\"policies\":[{\"metadata\":{\"name\":\"p%d\"},\"spec\":{\"rules\":["
                 "{\"match\":{\"path\":{\"regex\":\"^/cart/[0-9]+$\"}},\"fault\":{\"abort\":{\"httpStatus\":502}}}]}}]}", k);
        CHECK(pw_vm_configure(vm, k % 3 ? config : matching_config()));
        get(vm, "/cart/1");
    }
    size_t settled = pw_vm_memory_bytes(vm);
    for (int k = 20; k < 400; k++) {
        snprintf(config, sizeof config, "{\"policies\":[{\"metadata\":{\"name\":\"p%d\"},\"spec\":{\"rules\":["
                 "{\"match\":{\"path\":{\"regex\":\"^/cart/[0-9]+$\"}},\"fault\":{\"abort\":{\"httpStatus\":502}}}]}}]}", k);
        CHECK(pw_vm_configure(vm, k % 3 ? config : k % 2 ? "{" : matching_config()));
        get(vm, "/cart/1");
    }
    if (pw_vm_memory_bytes(vm) != settled)
        fprintf(stderr, "  memory %zu bytes after 20 changes, %zu after 400\n", settled, pw_vm_memory_bytes(vm));
    CHECK_INT(pw_vm_memory_bytes(vm), settled);
    CHECK_INT(pw_vm_root_count(vm), 1);
    pw_vm_free(vm);
}

/* A sidecar's worker VMs share the gauges by name: each adds its own
 * delays, and all agree on the rules in force. The canary counts a rejected
 * configuration too. */
static void test_worker_vms_share_gauges(void)
{
    size_t n;
    const uint8_t *wasm = module_bytes(&n);
    char err[256];
    struct pw_proxy *proxy = pw_proxy_new(&pw_module_hfi_fault, wasm, n, 2, err, sizeof err);
    CHECK(proxy != NULL);
    if (!proxy)
        return;
    pw_proxy_set_property(proxy, "node.metadata.WORKLOAD_NAME", "frontend");
    CHECK(pw_proxy_configure(proxy, delay_config("{\"fixed_delay_ms\":100}", "")));
    struct pw_vm *a = pw_proxy_worker(proxy, 0), *b = pw_proxy_worker(proxy, 1);
    struct pw_stream_result ra = start_get(a, "/"), rb = start_get(b, "/");
    CHECK_INT(ra.state, PW_STREAM_PAUSED);
    CHECK_INT(rb.state, PW_STREAM_PAUSED);
    CHECK_INT(metric(a, ACTIVE), 2);
    CHECK_INT(metric(a, POLICIES), 1);
    CHECK_INT(metric(a, DELAYS), 2);
    pw_proxy_advance(proxy, 110 * PW_MS);
    CHECK_INT(pw_stream_get(a, ra.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(pw_stream_get(b, rb.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(metric(b, ACTIVE), 0);
    pw_stream_complete(a, ra.context_id);
    pw_stream_complete(b, rb.context_id);
    CHECK(pw_proxy_configure(proxy, "{\"policies\": 7}"));
    CHECK_INT(metric(a, CONFIG_ERRORS), 3); /* the canary and both workers */
    CHECK_INT(metric(a, POLICIES), 1);
    CHECK_INT(pw_proxy_canary_runs(proxy), 2);
    pw_proxy_free(proxy);
}

/* ---- header faults ---- */

static const char *header_faults(const char *settings)
{
    static char buf[300];
    snprintf(buf, sizeof buf, "{\"header_faults\":%s}", settings);
    return buf;
}

static void test_header_faults_off_by_default(void)
{
    struct pw_vm *vm = vm_with("{}");
    struct pw_header h[] = {{"x-hfi-fault-abort", "503"}, {"x-hfi-fault-delay-ms", "100"}};
    CHECK_INT(request(vm, "GET", "/", h, 2, NULL), PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, ABORTS) + metric(vm, DELAYS), 0);
    pw_vm_free(vm);
}

static void test_header_faults_with_token(void)
{
    struct pw_vm *vm = vm_with(header_faults("{\"enabled\":true,\"token\":\"s3cret\",\"max_delay_ms\":1000}"));
    uint32_t status;
    struct pw_header no_token[] = {{"x-hfi-fault-abort", "503"}};
    CHECK_INT(request(vm, "GET", "/", no_token, 1, &status), PW_STREAM_CONTINUED);
    struct pw_header wrong[] = {{"x-hfi-fault-abort", "503"}, {"x-hfi-fault-token", "s3cre"}};
    CHECK_INT(request(vm, "GET", "/", wrong, 2, &status), PW_STREAM_CONTINUED);
    struct pw_header right[] = {{"x-hfi-fault-abort", "418"}, {"x-hfi-fault-token", "s3cret"}};
    CHECK_INT(request(vm, "GET", "/", right, 2, &status), PW_STREAM_LOCAL_REPLY);
    CHECK_INT(status, 418);
    struct pw_header bad_status[] = {{"x-hfi-fault-abort", "700"}, {"x-hfi-fault-token", "s3cret"}};
    CHECK_INT(request(vm, "GET", "/", bad_status, 2, &status), PW_STREAM_CONTINUED);

    /* A delay header is capped by max_delay_ms. */
    struct pw_header delay[] = {{"x-hfi-fault-delay-ms", "60000"}, {"x-hfi-fault-token", "s3cret"}};
    struct pw_header all[3] = {{":path", "/"}, delay[0], delay[1]};
    struct pw_stream_result r = pw_stream_start(vm, all, 3);
    CHECK_INT(r.state, PW_STREAM_PAUSED);
    pw_advance(vm, 1010 * PW_MS);
    CHECK_INT(pw_stream_get(vm, r.context_id)->state, PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, ABORTS), 1);
    CHECK_INT(metric(vm, DELAYS), 1);
    pw_vm_free(vm);
}

static void test_header_fault_percentage(void)
{
    struct pw_vm *vm = vm_with(header_faults("{\"enabled\":true}"));
    struct pw_header h[] = {{"x-hfi-fault-abort", "503"}, {"x-hfi-fault-percentage", "25"}};
    int aborted = 0;
    for (int k = 0; k < 4000; k++)
        aborted += request(vm, "GET", "/", h, 2, NULL) == PW_STREAM_LOCAL_REPLY;
    check_binomial(aborted, 4000, 0.25);
    pw_vm_free(vm);
}

/* ---- bad configuration ---- */

struct bad_config {
    const char *json;
    const char *field; /* what the log line must name */
};

static const struct bad_config bad_configs[] = {
    {"this is not json", "not JSON"},
    {"{\"policies\": [", "not JSON"},
    {"{\"policies\": {}}", "policies: must be an array"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"percentage\":\"50\",\"abort\":{\"httpStatus\":503}}}]}}]}",
     "policies[0].spec.rules[0].fault.percentage: must be a number"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":700}}}]}}]}",
     "policies[0].spec.rules[0].fault.abort.httpStatus: must be a whole number in 200..599"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":199}}}]}}]}",
     "fault.abort.httpStatus"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"match\":{\"path\":{\"regex\":\"(unclosed\"}},"
     "\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}",
     "policies[0].spec.rules[0].match.path.regex"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"delay\":{\"fixed_delay_ms\":-5}}}]}}]}",
     "fault.delay.fixed_delay_ms: must not be negative"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"delay\":{\"fixed_delay\":\"-1s\"}}}]}}]}",
     "fault.delay.fixed_delay: must not be negative"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"percentage\":100.5,\"abort\":{\"httpStatus\":503}}}]}}]}",
     "fault.percentage: must be a number in 0..100"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"percentage\":-1,\"abort\":{\"httpStatus\":503}}}]}}]}",
     "fault.percentage"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{}}]}}]}", "fault needs a delay or an abort"},
    {"{\"header_faults\":{\"enabled\":\"yes\"}}", "header_faults.enabled: must be true or false"},
    {"{\"max_active_delays\":1.5}", "max_active_delays: must be a whole number"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"match\":{\"headers\":[{\"exact\":\"x\"}]},"
     "\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}",
     "match.headers[0]: needs a name"},
    {"{\"policies\":[{\"spec\":{\"rules\":[{\"match\":{\"path\":{\"exact\":\"/a\",\"prefix\":\"/b\"}},"
     "\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}",
     "match.path.prefix: conflicts with another matcher"},
    {"{\"policies\":[{\"spec\":{\"start_time\":\"2026-12-02T10:05:00+02:00\",\"rules\":[]}}]}",
     "policies[0].spec.start_time: must be in UTC (Z or +00:00), not the offset +02:00"},
    {"{\"policies\":[{\"spec\":{\"end_time\":\"2026-12-02T10:05:00-00:00\",\"rules\":[]}}]}",
     "policies[0].spec.end_time: must be in UTC (Z or +00:00), not the offset -00:00"},
    {"{\"policies\":[{\"spec\":{\"end_time\":\"2026-02-29T10:05:00Z\",\"rules\":[]}}]}",
     "policies[0].spec.end_time: must be an RFC 3339 time in UTC"},
    {"{\"policies\":[{\"spec\":{\"start_time\":\"2026-12-02 10:05:00Z\",\"rules\":[]}}]}",
     "policies[0].spec.start_time: must be an RFC 3339 time in UTC"},
    {"{\"policies\":[{\"spec\":{\"start_time\":1764669900,\"rules\":[]}}]}",
     "policies[0].spec.start_time: must be a string"},
    {"{\"policies\":[{\"spec\":{\"start_time\":\"2026-12-02T10:05:00Z\",\"end_time\":\"2026-12-02T10:05:00Z\","
     "\"rules\":[]}}]}",
     "policies[0].spec.end_time: must be after spec.start_time"},
};

static void test_bad_configuration_keeps_previous_policies(void)
{
    struct pw_vm *vm = vm_with(abort_all());
    size_t n = sizeof bad_configs / sizeof *bad_configs;
    for (size_t k = 0; k < n; k++) {
        pw_log_clear(vm);
        CHECK(pw_vm_configure(vm, bad_configs[k].json)); /* accepted, so traffic never breaks */
        const char *line = pw_log_find(vm, bad_configs[k].field);
        if (!line)
            fprintf(stderr, "  no log naming \"%s\" for %s\n", bad_configs[k].field, bad_configs[k].json);
        CHECK(line != NULL);
        CHECK_CONTAINS(line, "configuration rejected");
        CHECK_INT(metric(vm, CONFIG_ERRORS), (int64_t)k + 1);
        CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY); /* previous policy still in force */
    }
    CHECK(!pw_vm_failed(vm));
    pw_vm_free(vm);
}

/* A defect of the earlier Rust plugin: an invalid regex matched everything. */
static void test_invalid_regex_never_matches_everything(void)
{
    struct pw_vm *vm = vm_with("{\"policies\":[{\"spec\":{\"rules\":[{\"match\":{\"path\":{\"regex\":\"[\"}},"
                               "\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}");
    CHECK_INT(metric(vm, CONFIG_ERRORS), 1);
    CHECK_INT(metric(vm, POLICIES), 0);
    CHECK_INT(aborted_out_of(vm, 100), 0);
    pw_vm_free(vm);
}

/* A defect of the earlier Rust plugin: it gave up after one failed poll; here a good
 * configuration after a bad one is taken. */
static void test_recovers_after_rejected_configuration(void)
{
    struct pw_vm *vm = vm_with("{");
    CHECK_INT(metric(vm, CONFIG_ERRORS), 1);
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    CHECK(pw_vm_configure(vm, abort_all()));
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    CHECK(pw_vm_configure(vm, "{}"));
    CHECK_INT(get(vm, "/"), PW_STREAM_CONTINUED);
    CHECK_INT(metric(vm, POLICIES), 0);
    pw_vm_free(vm);
}

static void test_unknown_fields_are_fine(void)
{
    struct pw_vm *vm = vm_with("{\"apiVersion\":\"hfi/v2\",\"policies\":[{\"kind\":\"FaultPolicy\","
                               "\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"future\":[1,2,{}],"
                               "\"rules\":[{\"note\":null,\"fault\":{\"abort\":{\"httpStatus\":503,\"grpcStatus\":14}}}]}}]}");
    CHECK_INT(metric(vm, CONFIG_ERRORS), 0);
    CHECK_INT(get(vm, "/"), PW_STREAM_LOCAL_REPLY);
    pw_vm_free(vm);
}

/* Nothing may trap, whatever the configuration or the headers: mutate a
 * valid configuration byte by byte and send odd headers after each. */
static void test_nothing_traps(void)
{
    struct pw_vm *vm = vm_with(matching_config());
    const char *base = matching_config();
    size_t len = strlen(base);
    char *mutated = malloc(len + 1);
    static char long_value[70000];
    memset(long_value, 'a', sizeof long_value - 1);
    uint64_t seed = 7;
    for (int round = 0; round < 600 && !pw_vm_failed(vm); round++) {
        memcpy(mutated, base, len + 1);
        for (int m = 0; m < 3; m++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            mutated[(seed >> 33) % len] = (char)(seed >> 20);
        }
        mutated[len] = '\0';
        pw_vm_configure(vm, mutated);
        struct pw_header odd[] = {{"x-user-id", ""}, {"x-custom-anything", long_value}, {"x-tenant", "\xff\xfe"}};
        struct pw_stream_result r = pw_stream_start(
            vm, (struct pw_header[]){{":path", round % 2 ? "" : "/product/?"}, {":method", ""}, odd[0], odd[1], odd[2]},
            5);
        if (r.state == PW_STREAM_PAUSED)
            pw_stream_reset(vm, r.context_id);
        else
            pw_stream_complete(vm, r.context_id);
    }
    free(mutated);
    CHECK(!pw_vm_failed(vm));
    if (pw_vm_failed(vm))
        fprintf(stderr, "  vm failed: %s\n", pw_vm_error(vm));
    CHECK_INT(pw_vm_misuse_count(vm), 0);
    pw_vm_free(vm);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        wasm_path = argv[1];
    RUN(test_metrics_exist_at_zero);
    RUN(test_module_passes_host_load_checks);
    RUN(test_abort_replies_with_status_body_and_header);
    RUN(test_abort_without_body_uses_envoy_default);
    RUN(test_matching_on_method_path_and_any_header);
    RUN(test_first_matching_rule_wins);
    RUN(test_selector_uses_workload_and_namespace_properties);
    RUN(test_percentage_25_is_sampled_once);
    RUN(test_percentage_100_is_all_and_0_is_none);
    RUN(test_fractional_percentage);
    RUN(test_delay_pauses_and_resumes_from_tick);
    RUN(test_delays_overlap_and_resume_by_deadline);
    RUN(test_legacy_fixed_delay_text);
    RUN(test_delay_then_abort);
    RUN(test_immediate_delay_records_histogram);
    RUN(test_reset_stream_is_never_resumed);
    RUN(test_max_active_delays_overflow);
    RUN(test_start_delay_ms);
    RUN(test_expiry_survives_reconfigure);
    RUN(test_changed_policy_starts_a_new_window);
    RUN(test_absolute_bounds_hold_on_every_sidecar);
    RUN(test_absolute_bounds_intersect_duration);
    RUN(test_policies_gauge_counts_rules_in_force);
    RUN(test_delays_resume_across_configuration_changes);
    RUN(test_root_shut_down_ends_its_delays);
    RUN(test_invalid_change_keeps_previous_configuration_whole);
    RUN(test_adding_a_policy_keeps_other_windows);
    RUN(test_editing_a_policy_renews_all_its_rules);
    RUN(test_memory_flat_across_changes);
    RUN(test_worker_vms_share_gauges);
    RUN(test_header_faults_off_by_default);
    RUN(test_header_faults_with_token);
    RUN(test_header_fault_percentage);
    RUN(test_bad_configuration_keeps_previous_policies);
    RUN(test_invalid_regex_never_matches_everything);
    RUN(test_recovers_after_rejected_configuration);
    RUN(test_unknown_fields_are_fine);
    RUN(test_nothing_traps);
    TEST_MAIN_END();
}
