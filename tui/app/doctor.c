#include "doctor.h"

#include <stdlib.h>
#include <string.h>

#include "istio.h"
#include "prom_source.h"

#define ANNOTATION_FIX                                                                                         \
    "add to the deployment's pod template the annotation proxy.istio.io/config: "                            \
    "'{proxyStatsMatcher: {inclusionPrefixes: [\"wasmcustom.\"]}}' (hfitop's annotate action); the "         \
    "deployment rolls and the new pods keep the stats"

/* A proxy that came up this much later than its container restarted. */
#define RESTART_SLACK_S 60
/* config_errors_total that rose this recently means configurations are
 * being rejected now. */
#define CONFIG_ERRORS_RECENT_S 300

const struct doctor_rule doctor_rules[] = {
    {"no-sidecar", DOCTOR_PROBLEM,
     "no istio-proxy sidecar: the pod is outside the mesh, so the fault plugin never sees its traffic",
     "enable injection (kubectl label namespace NS istio-injection=enabled, or sidecar.istio.io/inject: "
     "\"true\" on the pod template), then restart the deployment"},
    {"pod-not-running", DOCTOR_NOTE, "the pod is not Running or has no IP yet, so its sidecar cannot be read",
     "wait for it to start (kubectl -n NS describe pod POD shows why it has not)"},
    {"rbac-pods-proxy", DOCTOR_PROBLEM,
     "forbidden to read the sidecar's stats: your account lacks the RBAC verb `get pods/proxy`",
     "grant it: kubectl create role hfitop-stats --verb=get --resource=pods/proxy -n NS && kubectl create "
     "rolebinding hfitop-stats --role=hfitop-stats --user=YOU -n NS (manifests/rbac.yaml)"},
    {"sidecar-timeout", DOCTOR_PROBLEM,
     "sidecar unreachable: the stats port 15090 did not answer within the scrape timeout",
     "check the proxy (kubectl -n NS logs POD -c istio-proxy) and the node's load; on a slow cluster raise "
     "--interval, which is also the scrape timeout"},
    {"sidecar-unreachable", DOCTOR_PROBLEM, "sidecar unreachable: reading the stats port 15090 failed",
     "check that istio-proxy is ready (kubectl -n NS get pod POD) and its logs (kubectl -n NS logs POD -c "
     "istio-proxy)"},
    {"sidecar-flaky", DOCTOR_PROBLEM, "the sidecar's stats port fails some scrapes: counters show gaps",
     "check istio-proxy's logs and restarts (kubectl -n NS logs POD -c istio-proxy --previous)"},
    {"no-wasmplugin", DOCTOR_PROBLEM, "no WasmPlugin selects this pod: the fault plugin is not configured for it",
     "apply the hfi-fault WasmPlugin (manifests/wasmplugin.yaml) with a selector matching the pod's labels"},
    {"no-wasm-stats", DOCTOR_PROBLEM,
     "the proxy shows no Wasm stats at all: no Wasm VM runs in it, or its stats matcher hides wasm.*",
     "check istio-proxy's logs for wasm errors (kubectl -n NS logs POD -c istio-proxy | grep -i wasm) and "
     "the WasmPlugin's url"},
    {"plugin-not-loaded", DOCTOR_PROBLEM,
     "a WasmPlugin selects the pod but the plugin is not running in its proxy (fetch or start failed)",
     "check istio-proxy's logs (kubectl -n NS logs POD -c istio-proxy | grep -i wasm), the WasmPlugin's "
     "url, sha256 and pull secret"},
    {"stats-excluded", DOCTOR_PROBLEM,
     "the plugin runs (a Wasm VM is active) but the proxy's stats matcher excludes its wasmcustom.* metrics",
     ANNOTATION_FIX},
    {"envoyfilter-pod-older", DOCTOR_PROBLEM,
     "the stats EnvoyFilter cannot take effect here: the pod started before the filter was created, and "
     "BOOTSTRAP patches reach only pods started after them",
     "restart the deployment, or better " ANNOTATION_FIX},
    {"envoyfilter-no-bootstrap-agent", DOCTOR_PROBLEM,
     "the stats EnvoyFilter cannot take effect here: istio-proxy runs without BOOTSTRAP_XDS_AGENT=true, so "
     "Istio ignores BOOTSTRAP patches",
     ANNOTATION_FIX},
    {"naming-legacy", DOCTOR_PROBLEM,
     "the plugin build names its metrics hfi.faults.* (legacy): they appear as hfi_faults_*, not the "
     "wasmcustom_hfi_faults_* that dashboards expect",
     "deploy a plugin build that defines wasmcustom.hfi_faults_*, or query hfi_faults_* in the dashboards"},
    {"naming-bare", DOCTOR_PROBLEM,
     "the plugin build names its metrics hfi_faults_* (bare): they lack the wasmcustom_ prefix that "
     "dashboards expect",
     "deploy a plugin build that defines wasmcustom.hfi_faults_*, or query hfi_faults_* in the dashboards"},
    {"zero-policies", DOCTOR_NOTE,
     "the plugin loaded zero policies for these workloads: it injects no faults there, so their counters stay "
     "flat (as they should for workloads not under test)",
     "to test one, add a policy whose selector names it to the WasmPlugin's pluginConfig.policies (hfitop's "
     "policy action)"},
    {"config-errors", DOCTOR_PROBLEM,
     "the plugin is rejecting its configuration: config_errors_total rose while hfitop watched, and the "
     "previous policies stay in force",
     "read the rejection in istio-proxy's logs (kubectl -n NS logs POD -c istio-proxy | grep hfi) and fix "
     "pluginConfig"},
    {"config-errors-earlier", DOCTOR_NOTE,
     "the plugin rejected a configuration before hfitop looked (config_errors_total > 0, not rising now); "
     "the policies in force are the last it accepted",
     "nothing to repair if pluginConfig has been fixed since; the rejection is in istio-proxy's logs "
     "(kubectl -n NS logs POD -c istio-proxy | grep hfi), and the counter starts again with the proxy"},
    {"header-faults-off", DOCTOR_NOTE,
     "header faults are off (pluginConfig.header_faults.enabled is not true): hfitop's test faults are ignored",
     "set pluginConfig.header_faults to {enabled: true, token: SECRET} in the WasmPlugin"},
    {"no-traffic", DOCTOR_NOTE,
     "counters are zero: no request matching a policy has reached this sidecar yet",
     "send traffic to the service, or fire test faults: hfitop -n NS fire POD --abort 503 --count 10 (Enter "
     "in the console's doctor view)"},
    {"counters-reset", DOCTOR_NOTE,
     "the proxy restarted after its pod started: its counters began again from zero",
     "nothing to repair; read totals with Prometheus increase() or rate(), which allow for resets"},
    {"prometheus-unreachable", DOCTOR_PROBLEM,
     "Prometheus did not answer (--prometheus): no counter can be read from it",
     "check the URL (curl URL/api/v1/query?query=up from this machine), the network path, and its TLS "
     "(--prometheus-ca, or --prometheus-insecure-skip-tls-verify for a test setup)"},
    {"prometheus-unauthorized", DOCTOR_PROBLEM,
     "Prometheus refused hfitop's credentials (HTTP 401 or 403)",
     "give what it expects: --prometheus-bearer-token-file FILE, user:password in the URL, or a tenant "
     "header (--prometheus-header X-Scope-OrgID:TENANT for Mimir, Cortex, Thanos receive)"},
    {"prometheus-query-failed", DOCTOR_PROBLEM,
     "Prometheus answered hfitop's query with an error, or the URL is not a Prometheus query API",
     "give the URL under which /api/v1/query answers (with its path prefix, e.g. http://HOST:9090 or "
     "https://HOST/prometheus), and check the error shown"},
    {"prometheus-no-series", DOCTOR_PROBLEM,
     "Prometheus holds no hfi_faults series for this pod: no scrape job reaches its sidecar, or relabelling "
     "drops it or renames the pod label",
     "have a job scrape the sidecar (pod IP, :15090/stats/prometheus, or istio-agent's merged :15020 that "
     "the prometheus.io/port annotation names) and keep the pod and namespace as labels: check the pod's "
     "prometheus.io/scrape, /port and /path annotations (kubectl -n NS get pod POD -o yaml) and the job's "
     "relabel_configs; name other labels with --prometheus-pod-label and --prometheus-namespace-label"},
    {"prometheus-stale", DOCTOR_PROBLEM,
     "Prometheus' newest sample for this pod is older than two scrape intervals: it no longer scrapes the "
     "sidecar, so its counters there are old",
     "look at the pod's target in Prometheus (Status > Targets, or /api/v1/targets): its last error, "
     "its labels, and whether the pod that replaced a restarted one became a target of its own"},
};
const size_t doctor_rule_count = sizeof doctor_rules / sizeof doctor_rules[0];

const struct doctor_rule *doctor_rule_find(const char *id)
{
    for (size_t i = 0; i < doctor_rule_count; i++)
        if (strcmp(doctor_rules[i].id, id) == 0)
            return &doctor_rules[i];
    return NULL;
}

static void scrape_failure(const struct app_pod *p, doctor_add_fn add, void *user)
{
    if (p->error_http_status == 403)
        add(user, "rbac-pods-proxy", p->error);
    else if (p->error_code == KUBE_TIMEOUT)
        add(user, "sidecar-timeout", p->error);
    else
        add(user, "sidecar-unreachable", p->error);
}

/* Why wasmcustom.* is missing while a VM runs: the matcher, and any
 * EnvoyFilter meant to widen it that cannot work for this pod. */
static void stats_excluded(const struct app_pod *p, const struct doctor_evidence *ev, doctor_add_fn add, void *user)
{
    add(user, "stats-excluded", "Wasm VM active, no hfi_faults series");
    const struct kube_pod *k = &p->pod;
    const cJSON *ef;
    cJSON_ArrayForEach(ef, ev->envoyfilters)
    {
        if (!app_envoyfilter_patches_bootstrap(ef, k))
            continue;
        const cJSON *name = app_json_path(ef, "metadata.name");
        char detail[256];
        snprintf(detail, sizeof detail, "EnvoyFilter %s", cJSON_IsString(name) ? name->valuestring : "?");
        const char *agent = kube_pod_sidecar_env(k, "BOOTSTRAP_XDS_AGENT");
        time_t created = app_object_created(ef);
        time_t started = k->start_time ? k->start_time : k->created;
        if (!agent || strcmp(agent, "true") != 0)
            add(user, "envoyfilter-no-bootstrap-agent", detail);
        else if (created && started && started < created)
            add(user, "envoyfilter-pod-older", detail);
    }
}

/* What Prometheus holds for a pod the sidecar (or the model) says has the
 * plugin's metrics: nothing, or only old samples. */
static void prometheus_series(const struct app_pod *p, const struct doctor_evidence *ev, doctor_add_fn add,
                              void *user)
{
    const struct prom_source *src = ev->prometheus;
    if (!src || prom_source_state(src) != PROM_SOURCE_OK)
        return; /* the source itself failed: one finding for all (doctor_run) */
    const struct kube_pod *k = &p->pod;
    const struct prom_pod_values *v = prom_source_find(src, k->namespace, k->name);
    char detail[512];
    if (!v) {
        const char *port = kube_pod_annotation(k, "prometheus.io/port");
        const char *scrape = kube_pod_annotation(k, "prometheus.io/scrape");
        snprintf(detail, sizeof detail, "no series with %s=\"%s\", %s=\"%s\"%s; annotations prometheus.io/scrape=%s, "
                 "prometheus.io/port=%s",
                 prom_source_pod_label(src), k->name, prom_source_namespace_label(src), k->namespace ? k->namespace : "",
                 ev->model_from_prometheus ? "" : " although the sidecar serves them", scrape ? scrape : "(none)",
                 port ? port : "(none)");
        add(user, "prometheus-no-series", detail);
        return;
    }
    double age = (double)ev->now - v->sample_time_s;
    if (v->sample_time_s > 0 && age > prom_source_stale_after_s(src)) {
        snprintf(detail, sizeof detail, "newest sample %.0f s old; Prometheus scrapes every %.0f s", age,
                 prom_source_scrape_interval_s(src));
        add(user, "prometheus-stale", detail);
    }
}

void doctor_check_pod(const struct app_pod *p, const struct doctor_evidence *ev, doctor_add_fn add, void *user)
{
    const struct kube_pod *k = &p->pod;
    char detail[512];
    if (ev->model_from_prometheus && k->has_sidecar && app_pod_scrapable(k)) {
        /* The model holds what Prometheus holds: its own findings, and the
         * sidecar rules where its values allow them. */
        prometheus_series(p, ev, add, user);
        if (!p->scraped)
            return;
    }
    if (!k->has_sidecar) {
        add(user, "no-sidecar", "no istio-proxy in containers or initContainers");
        return;
    }
    if (!app_pod_scrapable(k)) {
        snprintf(detail, sizeof detail, "phase %s%s%s", k->phase && k->phase[0] ? k->phase : "unknown",
                 k->deleting ? ", terminating" : "", k->pod_ip && k->pod_ip[0] ? "" : ", no pod IP");
        add(user, "pod-not-running", detail);
        return;
    }
    if (!p->scraped) {
        scrape_failure(p, add, user);
        return;
    }
    if (ev->prometheus && !ev->model_from_prometheus && p->metrics.naming != HFI_NAMING_NONE)
        prometheus_series(p, ev, add, user);
    if (p->failures > 0) {
        snprintf(detail, sizeof detail, "%u of %u scrapes failed: %s", p->failures, p->attempts,
                 p->error[0] ? p->error : "see the pod's events");
        add(user, "sidecar-flaky", detail);
    }
    const cJSON *wasmplugin = ev->wasmplugins ? app_wasmplugin_for_pod(ev->wasmplugins, k) : NULL;
    const hfi_metrics *m = &p->metrics;
    if (m->naming == HFI_NAMING_NONE) {
        if (ev->wasmplugins && !wasmplugin) {
            add(user, "no-wasmplugin", "no WasmPlugin in the namespace or istio-system matches the pod's labels");
        } else if (!m->wasm_runtime_stats_present) {
            add(user, "no-wasm-stats", "no envoy_wasm_* series");
        } else if (p->proxy.wasm_vm_seen && p->proxy.wasm_vms_active <= 0) {
            snprintf(detail, sizeof detail, "no active Wasm VM; %.0f module fetch failures",
                     p->proxy.wasm_fetch_failures);
            add(user, "plugin-not-loaded", detail);
        } else {
            stats_excluded(p, ev, add, user);
        }
        return;
    }
    if (m->naming == HFI_NAMING_LEGACY)
        add(user, "naming-legacy", "series hfi_faults_*, dotted hfi.faults.* in Envoy");
    else if (m->naming == HFI_NAMING_BARE)
        add(user, "naming-bare", "series hfi_faults_* without wasmcustom_");
    if (m->policies.present && m->policies.value == 0)
        add(user, "zero-policies", "hfi_faults_policies 0");
    if (m->config_errors_total.present && m->config_errors_total.value > 0) {
        bool rising = p->config_errors_rose && ev->now - p->config_errors_rose <= CONFIG_ERRORS_RECENT_S;
        if (rising)
            snprintf(detail, sizeof detail, "hfi_faults_config_errors_total %.0f, rose %ld s ago",
                     m->config_errors_total.value, (long)(ev->now - p->config_errors_rose));
        else
            snprintf(detail, sizeof detail, "hfi_faults_config_errors_total %.0f, not rising while hfitop watched",
                     m->config_errors_total.value);
        add(user, rising ? "config-errors" : "config-errors-earlier", detail);
    }
    if (wasmplugin && !app_wasmplugin_header_faults(wasmplugin, NULL)) {
        const cJSON *name = app_json_path(wasmplugin, "metadata.name");
        snprintf(detail, sizeof detail, "WasmPlugin %s", cJSON_IsString(name) ? name->valuestring : "?");
        add(user, "header-faults-off", detail);
    }
    bool flat = (!m->aborts_total.present || m->aborts_total.value == 0) &&
                (!m->delays_total.present || m->delays_total.value == 0);
    if (flat && !(m->policies.present && m->policies.value == 0))
        add(user, "no-traffic", "aborts_total 0, delays_total 0");
    /* The proxy's own container is the reference: init containers and
     * image pulls may hold it minutes after the pod started. */
    time_t started = k->sidecar_started ? k->sidecar_started : k->start_time ? k->start_time : k->created;
    bool proxy_younger = p->proxy.uptime_seen && started &&
                         (double)(ev->now - started) - p->proxy.uptime_s > RESTART_SLACK_S;
    if (k->sidecar_restarts > 0) {
        snprintf(detail, sizeof detail, "istio-proxy restarted %d time%s", k->sidecar_restarts,
                 k->sidecar_restarts == 1 ? "" : "s");
        add(user, "counters-reset", detail);
    } else if (proxy_younger || p->aborts_ring.resets || p->delays_ring.resets) {
        if (proxy_younger)
            snprintf(detail, sizeof detail, "proxy up %.0f s, its %s started %ld s ago", p->proxy.uptime_s,
                     k->sidecar_started ? "container" : "pod", (long)(ev->now - started));
        else
            snprintf(detail, sizeof detail, "a counter went down between two scrapes");
        add(user, "counters-reset", detail);
    }
}

/* ---- grouping ---- */

struct collect {
    struct doctor_report *report;
    const struct app_pod *pod;
    const struct doctor_evidence *ev;
};

static bool word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

void doctor_fill_fix(const char *fix, const char *ns, const char *pod, const char *user, char *out, size_t size)
{
    static const char sa_prefix[] = "system:serviceaccount:";
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = fix; *p && used + 1 < size;) {
        const char *value = NULL, *prefix = "";
        size_t token = 0;
        bool at_word = p == fix || !word_char(p[-1]);
        if (strncmp(p, "--user=YOU", 10) == 0 && user && !word_char(p[10])) {
            token = 10;
            bool sa = strncmp(user, sa_prefix, sizeof sa_prefix - 1) == 0;
            prefix = sa ? "--serviceaccount=" : "--user=";
            value = sa ? user + sizeof sa_prefix - 1 : user;
        } else if (at_word) {
            const char *const names[3] = {"NS", "POD", "YOU"};
            const char *values[3] = {ns, pod, user};
            for (int k = 0; k < 3 && !token; k++) {
                size_t n = strlen(names[k]);
                if (values[k] && strncmp(p, names[k], n) == 0 && !word_char(p[n])) {
                    token = n;
                    value = values[k];
                }
            }
        }
        if (token) {
            used += (size_t)snprintf(out + used, size - used, "%s%s", prefix, value);
            p += token;
        } else {
            out[used++] = *p++;
            out[used] = '\0';
        }
    }
    if (used >= size)
        out[size - 1] = '\0';
}

bool doctor_forbidden_user(const char *message, char *out, size_t size)
{
    const char *at = strstr(message, "User \"");
    if (!at)
        return false;
    at += 6;
    const char *end = strchr(at, '"');
    if (!end || end == at || (size_t)(end - at) >= size)
        return false;
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return true;
}

/* Rules about many workloads at once: one finding for all of them. */
static bool aggregated(const struct doctor_rule *rule)
{
    return strcmp(rule->id, "zero-policies") == 0;
}

static void add_finding(void *user, const char *id, const char *detail)
{
    struct collect *c = user;
    struct doctor_report *r = c->report;
    const struct doctor_rule *rule = doctor_rule_find(id);
    if (!rule)
        return;
    const struct kube_pod *k = &c->pod->pod;
    char subject[160];
    const char *workload = k->deployment ? k->deployment : k->name;
    if (aggregated(rule))
        snprintf(subject, sizeof subject, "workloads");
    else if (k->deployment)
        snprintf(subject, sizeof subject, "deployment %s", k->deployment);
    else
        snprintf(subject, sizeof subject, "pod %s", k->name);
    struct doctor_finding *f = NULL;
    for (size_t i = 0; i < r->n_findings && !f; i++)
        if (r->findings[i].rule == rule && (aggregated(rule) || strcmp(r->findings[i].subject, subject) == 0))
            f = &r->findings[i];
    if (!f) {
        struct doctor_finding *grown = realloc(r->findings, (r->n_findings + 1) * sizeof *grown);
        if (!grown)
            return;
        r->findings = grown;
        f = &r->findings[r->n_findings++];
        memset(f, 0, sizeof *f);
        f->rule = rule;
        snprintf(f->subject, sizeof f->subject, "%s", subject);
        snprintf(f->detail, sizeof f->detail, "%s", detail ? detail : "");
        char named_user[256];
        const char *who = detail && doctor_forbidden_user(detail, named_user, sizeof named_user) ? named_user : c->ev->user;
        doctor_fill_fix(rule->fix, k->namespace, k->name, who, f->fix, sizeof f->fix);
        if (rule->severity == DOCTOR_PROBLEM)
            r->problems++;
        else
            r->notes++;
    }
    if (aggregated(rule)) {
        /* "workloads cart, checkout": each workload once. */
        size_t len = strlen(f->subject), wl = strlen(workload);
        const char *found = strstr(f->subject, workload);
        bool listed = found && found > f->subject && found[-1] == ' ' && (found[wl] == '\0' || found[wl] == ',');
        if (!listed && len + wl + 3 < sizeof f->subject)
            snprintf(f->subject + len, sizeof f->subject - len, "%s %s", strchr(f->subject, ' ') ? "," : "",
                     workload);
    }
    char **pods = realloc(f->pods, (f->n_pods + 1) * sizeof *pods);
    if (!pods)
        return;
    f->pods = pods;
    f->pods[f->n_pods] = strdup(k->name);
    if (f->pods[f->n_pods])
        f->n_pods++;
}

static int by_severity(const void *a, const void *b)
{
    const struct doctor_finding *x = a, *y = b;
    if (x->rule->severity != y->rule->severity)
        return x->rule->severity == DOCTOR_PROBLEM ? -1 : 1;
    /* qsort is not stable: the order found stays by position. */
    return x < y ? -1 : x > y;
}

/* A finding about the Prometheus source itself, not about a pod. */
static void prometheus_source_finding(struct doctor_report *r, const struct prom_source *src)
{
    enum prom_source_state st = prom_source_state(src);
    const char *id = st == PROM_SOURCE_UNREACHABLE    ? "prometheus-unreachable"
                     : st == PROM_SOURCE_UNAUTHORIZED ? "prometheus-unauthorized"
                     : st == PROM_SOURCE_FAILED       ? "prometheus-query-failed"
                                                      : NULL;
    const struct doctor_rule *rule = id ? doctor_rule_find(id) : NULL;
    struct doctor_finding *grown = rule ? realloc(r->findings, (r->n_findings + 1) * sizeof *grown) : NULL;
    if (!grown)
        return;
    r->findings = grown;
    struct doctor_finding *f = &r->findings[r->n_findings++];
    memset(f, 0, sizeof *f);
    f->rule = rule;
    snprintf(f->subject, sizeof f->subject, "Prometheus %s", prom_source_url(src));
    snprintf(f->detail, sizeof f->detail, "%s", prom_source_error(src));
    snprintf(f->fix, sizeof f->fix, "%s", rule->fix);
    r->problems++;
}

void doctor_run(const struct app *app, const struct doctor_evidence *given, struct doctor_report *out)
{
    memset(out, 0, sizeof *out);
    struct doctor_evidence model_ev = *given;
    if (app_prometheus(app)) {
        model_ev.prometheus = app_prometheus(app);
        model_ev.model_from_prometheus = true;
    }
    const struct doctor_evidence *ev = &model_ev;
    if (ev->prometheus)
        prometheus_source_finding(out, ev->prometheus);
    struct collect c = {.report = out, .ev = ev};
    for (size_t i = 0; i < app_pod_count(app); i++) {
        c.pod = app_pod_at(app, i);
        out->pods_checked++;
        if (c.pod->pod.has_sidecar)
            out->sidecars++;
        doctor_check_pod(c.pod, ev, add_finding, &c);
    }
    if (out->n_findings > 1)
        qsort(out->findings, out->n_findings, sizeof *out->findings, by_severity);
}

void doctor_report_free(struct doctor_report *r)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        for (size_t j = 0; j < r->findings[i].n_pods; j++)
            free(r->findings[i].pods[j]);
        free(r->findings[i].pods);
    }
    free(r->findings);
    memset(r, 0, sizeof *r);
}

static void print_findings(const struct doctor_report *r, enum doctor_severity severity, FILE *out)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct doctor_finding *f = &r->findings[i];
        if (f->rule->severity != severity)
            continue;
        fprintf(out, "%s [%s] %s (%zu pod%s)\n", severity == DOCTOR_PROBLEM ? "PROBLEM" : "note", f->rule->id,
                f->subject, f->n_pods, f->n_pods == 1 ? "" : "s");
        fprintf(out, "  why: %s\n", f->rule->diagnosis);
        if (f->detail[0])
            fprintf(out, "  seen: %s\n", f->detail);
        fprintf(out, "  fix: %s\n", f->fix[0] ? f->fix : f->rule->fix);
        fprintf(out, "  pods:");
        for (size_t j = 0; j < f->n_pods; j++)
            fprintf(out, "%s %s", j ? "," : "", f->pods[j]);
        fputc('\n', out);
    }
}

void doctor_print(const struct doctor_report *r, const char *scope, FILE *out)
{
    fprintf(out, "hfitop doctor: %s: %zu pods, %zu with a sidecar\n", scope, r->pods_checked, r->sidecars);
    print_findings(r, DOCTOR_PROBLEM, out);
    print_findings(r, DOCTOR_NOTE, out);
    if (!r->problems)
        fprintf(out, "healthy: no problems found%s\n", r->notes ? " (see the notes above)" : "");
    else
        fprintf(out, "%zu problem%s, %zu note%s\n", r->problems, r->problems == 1 ? "" : "s", r->notes,
                r->notes == 1 ? "" : "s");
}

cJSON *doctor_report_json(const struct doctor_report *r, const char *scope)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "scope", scope);
    cJSON_AddNumberToObject(o, "pods_checked", (double)r->pods_checked);
    cJSON_AddNumberToObject(o, "sidecars", (double)r->sidecars);
    cJSON_AddNumberToObject(o, "problems", (double)r->problems);
    cJSON_AddNumberToObject(o, "notes", (double)r->notes);
    cJSON *list = cJSON_AddArrayToObject(o, "findings");
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct doctor_finding *f = &r->findings[i];
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "id", f->rule->id);
        cJSON_AddStringToObject(item, "kind", f->rule->severity == DOCTOR_PROBLEM ? "problem" : "note");
        cJSON_AddStringToObject(item, "subject", f->subject);
        cJSON_AddStringToObject(item, "diagnosis", f->rule->diagnosis);
        cJSON_AddStringToObject(item, "detail", f->detail);
        cJSON_AddStringToObject(item, "fix", f->fix[0] ? f->fix : f->rule->fix);
        cJSON *pods = cJSON_AddArrayToObject(item, "pods");
        for (size_t j = 0; j < f->n_pods; j++)
            cJSON_AddItemToArray(pods, cJSON_CreateString(f->pods[j]));
        cJSON_AddItemToArray(list, item);
    }
    return o;
}

int doctor_exit_code(const struct doctor_report *r)
{
    return r->problems ? 1 : 0;
}

/* A table cell: `|` would end it early. */
static void markdown_cell(const char *text, FILE *out)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputc('\\', out);
        fputc(*p, out);
    }
}

void doctor_print_rules_markdown(FILE *out)
{
    fprintf(out, "| finding | kind | diagnosis | fix |\n|---|---|---|---|\n");
    for (size_t i = 0; i < doctor_rule_count; i++) {
        const struct doctor_rule *r = &doctor_rules[i];
        fprintf(out, "| `%s` | %s | ", r->id, r->severity == DOCTOR_PROBLEM ? "problem" : "note");
        markdown_cell(r->diagnosis, out);
        fputs(" | ", out);
        markdown_cell(r->fix, out);
        fputs(" |\n", out);
    }
}
