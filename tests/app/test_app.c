/* tui/app without a cluster: reading a scrape, the doctor's rules on
 * hand-made pods, the rule table, the per-pod JSON and the Istio helpers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/app/doctor.h"
#include "../../tui/app/istio.h"
#include "../../tui/app/report.h"
#include "testlib.h"

static const char dump[] =
    "# TYPE envoy_server_uptime gauge\n"
    "envoy_server_uptime{} 120\n"
    "# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge\n"
    "envoy_wasm_envoy_wasm_runtime_v8_active{} 2\n"
    "# TYPE envoy_wasm_remote_load_fetch_failures counter\n"
    "envoy_wasm_remote_load_fetch_failures{} 0\n"
    "# TYPE wasmcustom_hfi_faults_aborts_total counter\n"
    "wasmcustom_hfi_faults_aborts_total{} 7\n"
    "# TYPE wasmcustom_hfi_faults_delays_total counter\n"
    "wasmcustom_hfi_faults_delays_total{} 3\n"
    "# TYPE wasmcustom_hfi_faults_policies gauge\n"
    "wasmcustom_hfi_faults_policies{} 2\n"
    "# TYPE wasmcustom_hfi_faults_delay_duration_milliseconds histogram\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"100\"} 1\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"250\"} 3\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"+Inf\"} 3\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_sum{} 450\n"
    "wasmcustom_hfi_faults_delay_duration_milliseconds_count{} 3\n";

static void test_parse_stats(void)
{
    hfi_metrics m;
    struct app_proxy_stats proxy;
    app_parse_stats(dump, sizeof dump - 1, &m, &proxy);
    CHECK_INT(m.naming, HFI_NAMING_WASMCUSTOM);
    CHECK_INT(m.aborts_total.value_u64, 7);
    CHECK_INT(m.delays_total.value_u64, 3);
    CHECK_INT(m.policies.value_u64, 2);
    CHECK(m.wasm_runtime_stats_present);
    CHECK(proxy.wasm_vm_seen);
    CHECK(proxy.wasm_vms_active == 2);
    CHECK(proxy.wasm_fetch_failures == 0);
    CHECK(proxy.uptime_seen && proxy.uptime_s == 120);
    CHECK_INT(m.delay_ms.bucket_count, 3);
    prom_percentiles p = hfi_metrics_delay_percentiles(&m);
    CHECK(p.p50 > 100 && p.p50 <= 250);
}

static void test_parse_nothing(void)
{
    hfi_metrics m;
    struct app_proxy_stats proxy;
    app_parse_stats("", 0, &m, &proxy);
    CHECK_INT(m.naming, HFI_NAMING_NONE);
    CHECK(!m.wasm_runtime_stats_present);
    CHECK(!proxy.wasm_vm_seen && !proxy.uptime_seen);
}

static void test_rule_table(void)
{
    CHECK(doctor_rule_count >= 19);
    for (size_t i = 0; i < doctor_rule_count; i++) {
        const struct doctor_rule *r = &doctor_rules[i];
        CHECK(r->id && r->id[0] && r->diagnosis && r->diagnosis[0] && r->fix && r->fix[0]);
        CHECK(!strchr(r->diagnosis, '\n') && !strchr(r->fix, '\n'));
        CHECK(doctor_rule_find(r->id) == r);
        for (size_t j = i + 1; j < doctor_rule_count; j++)
            CHECK(strcmp(r->id, doctor_rules[j].id) != 0);
    }
    CHECK(doctor_rule_find("no-such-rule") == NULL);
    CHECK_CONTAINS(doctor_rule_find("rbac-pods-proxy")->diagnosis, "get pods/proxy");
    CHECK_CONTAINS(doctor_rule_find("stats-excluded")->fix, "inclusionPrefixes");
    CHECK_CONTAINS(doctor_rule_find("envoyfilter-no-bootstrap-agent")->diagnosis, "BOOTSTRAP_XDS_AGENT=true");
}

/* ---- hand-made pods ---- */

static struct kube_kv app_label[] = {{"app", "cart"}};
static struct kube_kv agent_env[] = {{"BOOTSTRAP_XDS_AGENT", "true"}};

static void make_pod(struct app_pod *p, bool sidecar)
{
    memset(p, 0, sizeof *p);
    p->pod.name = "cart-abc-12345";
    p->pod.namespace = "demo";
    p->pod.phase = "Running";
    p->pod.pod_ip = "10.244.0.10";
    p->pod.has_sidecar = sidecar;
    p->pod.deployment = "cart";
    p->pod.labels = app_label;
    p->pod.n_labels = 1;
    p->pod.start_time = p->pod.created = 1000000;
    p->delay_percentiles = (prom_percentiles){NAN, NAN, NAN};
    p->window = (struct app_window_figures){0, NAN, NAN, NAN, NAN, {NAN, NAN, NAN}, {NAN, NAN, NAN}};
    prom_rate_ring_init(&p->aborts_ring);
    prom_rate_ring_init(&p->delays_ring);
}

/* A pod scraped once with `text` as its dump. */
static void scraped_pod(struct app_pod *p, const char *text)
{
    make_pod(p, true);
    app_parse_stats(text, strlen(text), &p->metrics, &p->proxy);
    p->scraped = true;
    p->attempts = 1;
}

struct fired {
    char ids[16][48];
    char details[16][512];
    int n;
};

static void collect(void *user, const char *id, const char *detail)
{
    struct fired *f = user;
    if (f->n < 16) {
        snprintf(f->ids[f->n], sizeof f->ids[0], "%s", id);
        snprintf(f->details[f->n], sizeof f->details[0], "%s", detail ? detail : "");
        f->n++;
    }
}

static bool fired_has(const struct fired *f, const char *id)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->ids[i], id) == 0)
            return true;
    return false;
}

static cJSON *wasmplugins_json(bool header_faults)
{
    char text[512];
    snprintf(text, sizeof text,
             "[{\"metadata\":{\"name\":\"hfi-fault\",\"namespace\":\"demo\"},\"spec\":{\"selector\":{\"matchLabels\":"
             "{\"app\":\"cart\"}},\"pluginConfig\":{\"header_faults\":{\"enabled\":%s,\"token\":\"t0k3n\"}}}}]",
             header_faults ? "true" : "false");
    return cJSON_Parse(text);
}

static struct fired check_pod(const struct app_pod *p, const cJSON *wasmplugins, const cJSON *envoyfilters)
{
    struct doctor_evidence ev = {.wasmplugins = wasmplugins, .envoyfilters = envoyfilters, .now = 1000000 + 100};
    struct fired f = {0};
    doctor_check_pod(p, &ev, collect, &f);
    return f;
}

static void test_doctor_no_sidecar_and_not_running(void)
{
    struct app_pod p;
    make_pod(&p, false);
    struct fired f = check_pod(&p, NULL, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "no-sidecar");
    make_pod(&p, true);
    p.pod.phase = "Pending";
    f = check_pod(&p, NULL, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "pod-not-running");
    CHECK_CONTAINS(f.details[0], "Pending");
}

/* Scraped while the API server can proxy to it: Running with a pod IP,
 * Terminating included (Envoy serves while it drains). */
static void test_pod_scrapable(void)
{
    struct app_pod p;
    make_pod(&p, true);
    CHECK(app_pod_scrapable(&p.pod));
    p.pod.deleting = true;
    CHECK(app_pod_scrapable(&p.pod));
    struct fired f = check_pod(&p, NULL, NULL);
    for (int i = 0; i < f.n; i++)
        CHECK(strcmp(f.ids[i], "pod-not-running") != 0);
    p.pod.pod_ip = "";
    CHECK(!app_pod_scrapable(&p.pod));
    f = check_pod(&p, NULL, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "pod-not-running");
    CHECK_CONTAINS(f.details[0], "phase Running, terminating, no pod IP");
    p.pod.pod_ip = NULL;
    CHECK(!app_pod_scrapable(&p.pod));
    make_pod(&p, true);
    p.pod.phase = "Succeeded";
    CHECK(!app_pod_scrapable(&p.pod));
    make_pod(&p, false);
    CHECK(!app_pod_scrapable(&p.pod));
}

static void test_doctor_scrape_failures(void)
{
    struct app_pod p;
    make_pod(&p, true);
    p.failing = true;
    p.attempts = p.failures = 2;
    p.error_http_status = 403;
    p.error_code = KUBE_FORBIDDEN;
    snprintf(p.error, sizeof p.error, "pods \"x\" is forbidden");
    struct fired f = check_pod(&p, NULL, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "rbac-pods-proxy");
    CHECK_CONTAINS(f.details[0], "forbidden");
    p.error_http_status = 0;
    p.error_code = KUBE_TIMEOUT;
    f = check_pod(&p, NULL, NULL);
    CHECK_STR(f.ids[0], "sidecar-timeout");
    p.error_http_status = 503;
    p.error_code = KUBE_SERVICE_UNAVAILABLE;
    f = check_pod(&p, NULL, NULL);
    CHECK_STR(f.ids[0], "sidecar-unreachable");

    /* One good scrape out of two: flaky, and the metrics still count. */
    scraped_pod(&p, dump);
    p.attempts = 2;
    p.failures = 1;
    snprintf(p.error, sizeof p.error, "HTTP 503");
    f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "sidecar-flaky"));
    CHECK_CONTAINS(f.details[0], "1 of 2 scrapes failed");
}

static void test_doctor_plugin_missing_or_failed(void)
{
    struct app_pod p;
    cJSON *none = cJSON_CreateArray();
    scraped_pod(&p, "envoy_wasm_envoy_wasm_runtime_v8_active{} 0\n");
    struct fired f = check_pod(&p, none, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "no-wasmplugin");

    cJSON *wps = wasmplugins_json(true);
    scraped_pod(&p, "envoy_wasm_envoy_wasm_runtime_v8_active{} 0\nenvoy_wasm_remote_load_fetch_failures{} 3\n");
    f = check_pod(&p, wps, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "plugin-not-loaded");
    CHECK_CONTAINS(f.details[0], "3 module fetch failures");

    scraped_pod(&p, "unrelated{} 1\n");
    f = check_pod(&p, wps, NULL);
    CHECK_STR(f.ids[0], "no-wasm-stats");
    cJSON_Delete(none);
    cJSON_Delete(wps);
}

static void test_doctor_stats_excluded_and_envoyfilters(void)
{
    struct app_pod p;
    cJSON *wps = wasmplugins_json(true);
    const char *vm_only = "envoy_wasm_envoy_wasm_runtime_v8_active{} 1\n";
    scraped_pod(&p, vm_only);
    struct fired f = check_pod(&p, wps, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "stats-excluded");

    /* A BOOTSTRAP filter created after the pod started (now - 100 s). */
    cJSON *efs = cJSON_Parse("[{\"metadata\":{\"name\":\"hfi-wasm-stats\",\"creationTimestamp\":"
                             "\"1970-01-12T13:47:00Z\"},\"spec\":{\"configPatches\":[{\"applyTo\":\"BOOTSTRAP\","
                             "\"patch\":{\"operation\":\"MERGE\",\"value\":{}}}]}}]");
    f = check_pod(&p, wps, efs);
    CHECK(fired_has(&f, "stats-excluded"));
    CHECK(fired_has(&f, "envoyfilter-no-bootstrap-agent"));
    CHECK(!fired_has(&f, "envoyfilter-pod-older"));

    p.pod.sidecar_env = agent_env;
    p.pod.n_sidecar_env = 1;
    f = check_pod(&p, wps, efs);
    CHECK(fired_has(&f, "envoyfilter-pod-older"));
    CHECK(!fired_has(&f, "envoyfilter-no-bootstrap-agent"));

    /* A pod started after the filter: nothing to say about the filter. */
    p.pod.start_time = p.pod.created = 2000000;
    f = check_pod(&p, wps, efs);
    CHECK(!fired_has(&f, "envoyfilter-pod-older"));

    /* A filter selecting other pods does not count. */
    cJSON *other = cJSON_Parse("[{\"metadata\":{\"name\":\"x\"},\"spec\":{\"workloadSelector\":{\"labels\":"
                               "{\"hfi-enabled\":\"true\"}},\"configPatches\":[{\"applyTo\":\"BOOTSTRAP\","
                               "\"patch\":{\"operation\":\"MERGE\"}}]}}]");
    p.pod.sidecar_env = NULL;
    p.pod.n_sidecar_env = 0;
    f = check_pod(&p, wps, other);
    CHECK_INT(f.n, 1);
    cJSON_Delete(other);
    cJSON_Delete(efs);
    cJSON_Delete(wps);
}

static void test_doctor_naming_and_flat_counters(void)
{
    struct app_pod p;
    cJSON *wps = wasmplugins_json(false);
    scraped_pod(&p, "hfi_faults_aborts_total{} 0\nhfi_faults_delays_total{} 0\nhfi_faults_policies{} 0\n"
                    "hfi_faults_config_errors_total{} 2\n");
    struct fired f = check_pod(&p, wps, NULL);
    CHECK(fired_has(&f, "naming-bare"));
    CHECK(fired_has(&f, "zero-policies"));
    CHECK(doctor_rule_find("zero-policies")->severity == DOCTOR_NOTE);
    /* Rejections from before hfitop looked are a note, not a problem for
     * ever after... */
    CHECK(fired_has(&f, "config-errors-earlier") && !fired_has(&f, "config-errors"));
    CHECK(doctor_rule_find("config-errors-earlier")->severity == DOCTOR_NOTE);
    /* ...a counter seen rising lately is a problem... */
    p.config_errors_rose = 1000000 + 100 - 30;
    f = check_pod(&p, wps, NULL);
    CHECK(fired_has(&f, "config-errors") && !fired_has(&f, "config-errors-earlier"));
    CHECK(doctor_rule_find("config-errors")->severity == DOCTOR_PROBLEM);
    /* ...until it has stayed flat a while. */
    p.config_errors_rose = 1000000 + 100 - 3600;
    f = check_pod(&p, wps, NULL);
    CHECK(fired_has(&f, "config-errors-earlier") && !fired_has(&f, "config-errors"));
    p.config_errors_rose = 0;
    CHECK(fired_has(&f, "header-faults-off"));
    CHECK(!fired_has(&f, "no-traffic")); /* zero policies already says why */
    p.metrics.naming = HFI_NAMING_LEGACY;
    f = check_pod(&p, wps, NULL);
    CHECK(fired_has(&f, "naming-legacy") && !fired_has(&f, "naming-bare"));
    cJSON_Delete(wps);

    cJSON *on = wasmplugins_json(true);
    scraped_pod(&p, "wasmcustom_hfi_faults_aborts_total{} 0\nwasmcustom_hfi_faults_policies{} 1\n");
    f = check_pod(&p, on, NULL);
    CHECK_INT(f.n, 1);
    CHECK_STR(f.ids[0], "no-traffic");
    scraped_pod(&p, dump);
    f = check_pod(&p, on, NULL);
    CHECK_INT(f.n, 0);
    cJSON_Delete(on);
}

static void test_doctor_counters_reset(void)
{
    struct app_pod p;
    /* The proxy has been up 60 s in a pod started 100 s ago: within the slack... */
    scraped_pod(&p, "envoy_server_uptime{} 60\nwasmcustom_hfi_faults_aborts_total{} 4\n");
    struct fired f = check_pod(&p, NULL, NULL);
    CHECK_INT(f.n, 0);
    p.pod.start_time = p.pod.created = 1000000 - 500;
    f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "counters-reset"));
    /* ...or a counter went down between two scrapes. */
    scraped_pod(&p, "wasmcustom_hfi_faults_aborts_total{} 4\n");
    prom_rate_ring_push(&p.aborts_ring, 1000, 9);
    prom_rate_ring_push(&p.aborts_ring, 2000, 4);
    f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "counters-reset"));
}

/* Init containers and image pulls can hold istio-proxy minutes after the
 * pod started: its own container's start is the reference. */
static void test_doctor_counters_reset_not_for_a_late_proxy(void)
{
    struct app_pod p;
    scraped_pod(&p, "envoy_server_uptime{} 40\nwasmcustom_hfi_faults_aborts_total{} 4\n");
    p.pod.start_time = p.pod.created = 1000000 - 500; /* the pod started 600 s before "now" */
    p.pod.sidecar_started = 1000000 + 100 - 45;       /* its proxy container 45 s ago */
    struct fired f = check_pod(&p, NULL, NULL);
    CHECK(!fired_has(&f, "counters-reset"));
    /* The container restarted: its counters did start again. */
    p.pod.sidecar_restarts = 2;
    f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "counters-reset"));
    /* Envoy itself restarted inside a container that did not. */
    p.pod.sidecar_restarts = 0;
    p.pod.sidecar_started = 1000000 + 100 - 400;
    f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "counters-reset"));
}

static void test_doctor_fix_names_namespace_pod_and_user(void)
{
    char out[1024];
    doctor_fill_fix(doctor_rule_find("sidecar-unreachable")->fix, "shop", "cart-7d9-x2", "alice", out, sizeof out);
    CHECK_CONTAINS(out, "kubectl -n shop get pod cart-7d9-x2");
    CHECK_CONTAINS(out, "kubectl -n shop logs cart-7d9-x2 -c istio-proxy");
    CHECK(!strstr(out, "NS") && !strstr(out, "POD"));
    doctor_fill_fix(doctor_rule_find("rbac-pods-proxy")->fix, "shop", "cart-1", "alice", out, sizeof out);
    CHECK_CONTAINS(out, "--user=alice -n shop");
    CHECK(!strstr(out, "YOU"));
    /* A service account is bound as one. */
    doctor_fill_fix(doctor_rule_find("rbac-pods-proxy")->fix, "shop", "cart-1", "system:serviceaccount:ops:viewer",
                    out, sizeof out);
    CHECK_CONTAINS(out, "--serviceaccount=ops:viewer -n shop");
    /* Whole words only; unknown values stay placeholders. */
    doctor_fill_fix("NSX POD: YOU, NS", "n", NULL, NULL, out, sizeof out);
    CHECK_STR(out, "NSX POD: YOU, n");
    doctor_fill_fix("fire POD now", "n", "a-very-long-pod-name", NULL, out, 12);
    CHECK_STR(out, "fire a-very"); /* cut at the buffer, still terminated */
    doctor_fill_fix(doctor_rule_find("no-traffic")->fix, "demo", "web-1", NULL, out, sizeof out);
    CHECK_CONTAINS(out, "hfitop -n demo fire web-1 --abort 503");
}

/* The user in a 403 from the API server is the one to grant. */
static void test_doctor_rbac_fix_names_the_refused_user(void)
{
    struct app_pod p;
    make_pod(&p, true);
    p.failing = true;
    p.error_http_status = 403;
    snprintf(p.error, sizeof p.error,
             "pods \"cart-abc-12345\" is forbidden: User \"system:serviceaccount:demo:viewer\" cannot get resource "
             "\"pods/proxy\" in API group \"\" in the namespace \"demo\"");
    struct fired f = check_pod(&p, NULL, NULL);
    CHECK(fired_has(&f, "rbac-pods-proxy"));
    char user[256];
    CHECK(doctor_forbidden_user(f.details[0], user, sizeof user));
    CHECK_STR(user, "system:serviceaccount:demo:viewer");
    CHECK(!doctor_forbidden_user("forbidden: no user named", user, sizeof user));
    CHECK(!doctor_forbidden_user("User \"unterminated", user, sizeof user));
    CHECK(!doctor_forbidden_user("User \"" "much-too-long-for-the-buffer\"", user, 8));
}

static void test_doctor_report_print(void)
{
    const struct doctor_rule *rule = doctor_rule_find("no-sidecar");
    char *pods[] = {"a-1", "a-2"};
    struct doctor_finding finding = {.rule = rule, .subject = "deployment a", .pods = pods, .n_pods = 2};
    struct doctor_report r = {.findings = &finding, .n_findings = 1, .pods_checked = 2, .problems = 1};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    doctor_print(&r, "namespace demo", out);
    fclose(out);
    CHECK_CONTAINS(text, "PROBLEM [no-sidecar] deployment a (2 pods)");
    CHECK_CONTAINS(text, "pods: a-1, a-2");
    CHECK_CONTAINS(text, rule->fix);
    CHECK_CONTAINS(text, "1 problem, 0 notes");
    CHECK_INT(doctor_exit_code(&r), 1);
    free(text);
    r.problems = 0;
    CHECK_INT(doctor_exit_code(&r), 0);
}

static void test_rules_markdown(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    doctor_print_rules_markdown(out);
    fclose(out);
    size_t rows = 0;
    for (const char *p = text; *p; p++)
        rows += *p == '\n';
    CHECK_INT(rows, doctor_rule_count + 2);
    for (size_t i = 0; i < doctor_rule_count; i++) {
        char cell[64];
        snprintf(cell, sizeof cell, "| `%s` |", doctor_rules[i].id);
        CHECK_CONTAINS(text, cell);
    }
    /* A pipe inside a fix is escaped, not a column break. */
    CHECK_CONTAINS(text, "istio-proxy \\| grep -i wasm");
    free(text);
}


/* Istio's series as a sidecar serves them: the destination reporter only,
 * errors from 5xx, no code, or an Envoy response flag. */
static const char istio_dump[] =
    "# TYPE istio_requests_total counter\n"
    "istio_requests_total{reporter=\"destination\",destination_workload=\"cart\",response_code=\"200\","
    "response_flags=\"-\"} 90\n"
    "istio_requests_total{reporter=\"destination\",destination_workload=\"cart\",response_code=\"503\","
    "response_flags=\"-\"} 6\n"
    "istio_requests_total{reporter=\"destination\",destination_workload=\"cart\",response_code=\"200\","
    "response_flags=\"DI\"} 3\n"
    "istio_requests_total{reporter=\"destination\",destination_workload=\"cart\",response_code=\"0\","
    "response_flags=\"DC\"} 1\n"
    "istio_requests_total{reporter=\"source\",destination_workload=\"checkout\",response_code=\"500\","
    "response_flags=\"-\"} 50\n"
    "# TYPE istio_request_duration_milliseconds histogram\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"100\"} 40\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"250\"} 100\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"+Inf\"} 100\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"100\"} 0\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"250\"} 0\n"
    "istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"+Inf\"} 50\n"
    "istio_request_duration_milliseconds_sum{reporter=\"destination\"} 15000\n"
    "istio_request_duration_milliseconds_count{reporter=\"destination\"} 100\n";

static void test_parse_istio_metrics(void)
{
    struct app_sample s;
    app_parse_sample(istio_dump, sizeof istio_dump - 1, &s);
    CHECK(s.observed.present);
    CHECK(s.observed.requests_total == 100);
    CHECK(s.observed.errors_total == 7); /* 6 x 503, 1 with no response; DI alone is no error */
    CHECK_INT(s.observed.duration_ms.bucket_count, 3);
    CHECK(s.observed.duration_ms.buckets[1].cumulative_count == 100);
    CHECK(s.observed.duration_ms.count.value == 100);
    /* The scrape filter asks the proxy for these dotted names (istio_metrics.h),
     * destination reporter only. Its syntax is ERE's as well as RE2's. */
    regex_t filter;
    CHECK(regcomp(&filter, APP_STATS_FILTER, REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regexec(&filter, "istiocustom.istio_requests_total.reporter.destination.source_workload.x", 0, NULL, 0) == 0);
    CHECK(regexec(&filter, "istiocustom.istio_request_duration_milliseconds.reporter.destination.a.b", 0, NULL, 0) == 0);
    CHECK(regexec(&filter, "istiocustom.istio_requests_total.reporter.source.source_workload.x", 0, NULL, 0) != 0);
    CHECK(regexec(&filter, "istiocustom.istio_request_bytes.reporter.destination", 0, NULL, 0) != 0);
    CHECK(regexec(&filter, "wasmcustom.wasmcustom.hfi_faults_aborts_total", 0, NULL, 0) == 0);
    CHECK(regexec(&filter, "server.uptime", 0, NULL, 0) == 0);
    regfree(&filter);
    app_parse_sample("", 0, &s);
    CHECK(!s.observed.present);
}

static struct kube_pod pod_of(const char *name, const char *uid, const char *deployment)
{
    struct kube_pod k = {0};
    k.name = (char *)name;
    k.namespace = "demo";
    k.uid = (char *)uid;
    k.phase = "Running";
    k.pod_ip = "10.244.0.11";
    k.has_sidecar = true;
    k.deployment = (char *)deployment;
    return k;
}

/* The counters of one scrape: aborts, requests (one in ten a 503) and a
 * latency histogram whose requests all take (100, 250] ms. */
static void sample_of(struct app_sample *s, double aborts, double requests)
{
    char text[2048];
    snprintf(text, sizeof text,
             "wasmcustom_hfi_faults_aborts_total{} %.0f\n"
             "wasmcustom_hfi_faults_delays_total{} 0\n"
             "istio_requests_total{reporter=\"destination\",response_code=\"200\",response_flags=\"-\"} %.0f\n"
             "istio_requests_total{reporter=\"destination\",response_code=\"503\",response_flags=\"-\"} %.0f\n"
             "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"100\"} 0\n"
             "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"250\"} %.0f\n"
             "istio_request_duration_milliseconds_bucket{reporter=\"destination\",le=\"+Inf\"} %.0f\n",
             aborts, requests * 0.9, requests * 0.1, requests, requests);
    app_parse_sample(text, strlen(text), s);
}

static void test_window_figures_and_deployments(void)
{
    struct app *app = app_new(NULL, &(struct app_options){.namespace = "demo", .window_s = 10});
    CHECK(app != NULL);
    struct kube_pod a = pod_of("cart-1", "u1", "cart"), b = pod_of("cart-2", "u2", "cart");
    app_upsert_pod(app, &a);
    app_upsert_pod(app, &b);
    struct app_sample s;
    /* 2 s scrapes: cart-1 aborts 1 a second and serves 10 requests a second. */
    for (int i = 0; i <= 10; i++) {
        sample_of(&s, 100 + i * 2, 1000 + i * 20);
        CHECK(app_record_sample(app, "demo", "cart-1", 1000 + i * 2000, &s));
        sample_of(&s, 0, 500 + i * 10);
        CHECK(app_record_sample(app, "demo", "cart-2", 1000 + i * 2000, &s));
    }
    CHECK(!app_record_sample(app, "demo", "cart-1", 1000, &s)); /* not after the last */
    CHECK(!app_record_sample(app, "demo", "nosuch", 99000, &s));
    const struct app_pod *p = app_pod_find(app, "demo", "cart-1");
    CHECK(p->window.seconds == 10);
    CHECK(fabs(p->window.aborts_per_s - 1) < 1e-9);
    CHECK(fabs(p->window.requests_per_s - 10) < 1e-9);
    CHECK(fabs(p->window.error_ratio - 0.1) < 1e-9);
    CHECK(fabs(p->window.latency_ms.p50 - 175) < 1e-9); /* an estimate inside (100, 250] */
    CHECK(p->totals.aborts == 120);

    app_refresh_deployments(app);
    CHECK_INT(app_deployment_count(app), 1);
    const struct app_deployment *d = app_deployment_at(app, 0);
    CHECK_STR(d->name, "cart");
    CHECK_INT(d->pods, 2);
    CHECK(fabs(d->window.requests_per_s - 15) < 1e-9);
    CHECK(fabs(d->window.aborts_per_s - 1) < 1e-9);
    CHECK(fabs(d->window.latency_ms.p50 - 175) < 1e-9);
    CHECK(d->totals.aborts == 120);
    CHECK(d->totals.requests == 1200 + 600);

    /* A rollout: both pods go, a new one starts from zero. The deployment
     * keeps what the old ones counted. */
    app_remove_pod(app, "demo", "cart-1");
    app_remove_pod(app, "demo", "cart-2");
    struct kube_pod c = pod_of("cart-3", "u3", "cart");
    app_upsert_pod(app, &c);
    sample_of(&s, 5, 10);
    CHECK(app_record_sample(app, "demo", "cart-3", 30000, &s));
    app_refresh_deployments(app);
    d = app_deployment_at(app, 0);
    CHECK_INT(d->pods, 1);
    CHECK(d->totals.aborts == 120 + 5);
    CHECK(d->totals.requests == 1800 + 10);
    CHECK(isnan(d->window.requests_per_s)); /* one sample of the new pod: no rate yet */

    /* A new pod of the same name (new uid) is a new generation too. */
    struct kube_pod c2 = pod_of("cart-3", "u4", "cart");
    app_upsert_pod(app, &c2);
    app_refresh_deployments(app);
    CHECK(app_deployment_at(app, 0)->totals.aborts == 125);
    CHECK(isnan(app_pod_find(app, "demo", "cart-3")->totals.aborts));
    app_free(app);
}

/* Changing the window recomputes the figures at once. */
static void test_set_window(void)
{
    struct app *app = app_new(NULL, &(struct app_options){.namespace = "demo"});
    CHECK_INT(app_window_s(app), APP_DEFAULT_WINDOW_S);
    struct kube_pod a = pod_of("cart-1", "u1", "cart");
    app_upsert_pod(app, &a);
    struct app_sample s;
    /* Quiet for a minute, then 5 aborts a second for the last 10 s. */
    double aborts = 0;
    for (int i = 0; i <= 35; i++) {
        if (i > 30)
            aborts += 10;
        sample_of(&s, aborts, 0);
        app_record_sample(app, "demo", "cart-1", (int64_t)i * 2000 + 1, &s);
    }
    uint64_t before = app_generation(app);
    app_set_window(app, 10);
    CHECK(app_generation(app) != before);
    CHECK(fabs(app_pod_find(app, "demo", "cart-1")->window.aborts_per_s - 5) < 1e-9);
    app_set_window(app, 60);
    const struct app_window_figures *w = &app_pod_find(app, "demo", "cart-1")->window;
    CHECK(w->seconds > 45 && w->seconds <= 60); /* older samples are kept 15 s apart */
    CHECK(fabs(w->aborts_per_s - 50.0 / w->seconds) < 1e-9);
    app_set_window(app, 100000);
    CHECK_INT(app_window_s(app), APP_MAX_WINDOW_S);
    app_free(app);
}

static void test_pod_json(void)
{
    struct app_pod p;
    scraped_pod(&p, dump);
    p.pod.ready = true;
    p.last_scrape = 86400;
    char *text = app_pod_json(&p, 1000000 + 42);
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), "cart-abc-12345");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "deployment")), "cart");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "naming")), "wasmcustom");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "last_scrape")), "1970-01-02T00:00:00Z");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "sidecar")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "aborts_per_s")));
    CHECK_INT(cJSON_GetObjectItem(o, "aborts_total")->valueint, 7);
    CHECK_INT(cJSON_GetObjectItem(o, "age_s")->valueint, 42);
    cJSON *d = cJSON_GetObjectItem(o, "delay_ms");
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(d, "buckets")), 3);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(d, "p99")));
    cJSON_Delete(o);
    free(text);

    p.failing = true;
    snprintf(p.error, sizeof p.error, "request timed out");
    text = app_pod_json(&p, 1000000);
    CHECK_CONTAINS(text, "\"error\":\"request timed out\"");
    free(text);
}

static void test_format_age(void)
{
    char b[32];
    app_format_age(5, b, sizeof b);
    CHECK_STR(b, "5s");
    app_format_age(600, b, sizeof b);
    CHECK_STR(b, "10m");
    app_format_age(3 * 3600 + 120, b, sizeof b);
    CHECK_STR(b, "3h2m");
    app_format_age(2 * 86400 + 3600, b, sizeof b);
    CHECK_STR(b, "2d1h");
    app_format_age(-4, b, sizeof b);
    CHECK_STR(b, "0s");
}

static void test_istio_helpers(void)
{
    struct app_pod p;
    make_pod(&p, true);
    cJSON *wps = cJSON_Parse("[{\"metadata\":{\"name\":\"other\"},\"spec\":{\"selector\":{\"matchLabels\":"
                             "{\"app\":\"web\"}}}},"
                             "{\"metadata\":{\"name\":\"by-ref\"},\"spec\":{\"targetRefs\":[{\"kind\":\"Service\","
                             "\"name\":\"cart\"}],\"pluginConfig\":{\"header_faults\":{\"enabled\":true,"
                             "\"token\":\"s3cret\"}}}}]");
    const cJSON *wp = app_wasmplugin_for_pod(wps, &p.pod);
    CHECK(wp != NULL);
    CHECK_STR(cJSON_GetStringValue(app_json_path(wp, "metadata.name")), "by-ref");
    const char *token = NULL;
    CHECK(app_wasmplugin_header_faults(wp, &token));
    CHECK_STR(token, "s3cret");
    p.pod.deployment = "web-other";
    app_label[0].value = "nothing";
    CHECK(app_wasmplugin_for_pod(wps, &p.pod) == NULL);
    app_label[0].value = "cart";
    CHECK(app_json_path(wps, "a.b") == NULL);
    cJSON *obj = cJSON_Parse("{\"metadata\":{\"creationTimestamp\":\"1970-01-01T00:01:00Z\"}}");
    CHECK_INT(app_object_created(obj), 60);
    cJSON_Delete(obj);
    cJSON_Delete(wps);
}

int main(void)
{
    RUN(test_parse_stats);
    RUN(test_parse_nothing);
    RUN(test_rule_table);
    RUN(test_doctor_no_sidecar_and_not_running);
    RUN(test_pod_scrapable);
    RUN(test_doctor_scrape_failures);
    RUN(test_doctor_plugin_missing_or_failed);
    RUN(test_doctor_stats_excluded_and_envoyfilters);
    RUN(test_doctor_naming_and_flat_counters);
    RUN(test_doctor_counters_reset);
    RUN(test_doctor_counters_reset_not_for_a_late_proxy);
    RUN(test_doctor_fix_names_namespace_pod_and_user);
    RUN(test_doctor_rbac_fix_names_the_refused_user);
    RUN(test_doctor_report_print);
    RUN(test_rules_markdown);
    RUN(test_parse_istio_metrics);
    RUN(test_window_figures_and_deployments);
    RUN(test_set_window);
    RUN(test_pod_json);
    RUN(test_format_age);
    RUN(test_istio_helpers);
    TEST_MAIN_END();
}
