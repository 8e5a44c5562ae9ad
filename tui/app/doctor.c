#include "doctor.h"

#include <stdlib.h>
#include <string.h>

#include "istio.h"

#define ANNOTATION_FIX                                                                                         \
    "add to the deployment's pod template the annotation proxy.istio.io/config: "                            \
    "'{proxyStatsMatcher: {inclusionPrefixes: [\"wasmcustom.\"]}}' (hfitop's annotate action); the "         \
    "deployment rolls and the new pods keep the stats"

/* A proxy that came up this much later than its pod restarted. */
#define RESTART_SLACK_S 60

const struct doctor_rule doctor_rules[] = {
    {"no-sidecar", DOCTOR_PROBLEM,
     "no istio-proxy sidecar: the pod is outside the mesh, so the fault plugin never sees its traffic",
     "enable injection (kubectl label namespace NS istio-injection=enabled, or sidecar.istio.io/inject: "
     "\"true\" on the pod template), then restart the deployment"},
    {"pod-not-running", DOCTOR_NOTE, "the pod is not Running, so its sidecar cannot be read yet",
     "wait for it to start (kubectl describe pod POD shows why it has not)"},
    {"rbac-pods-proxy", DOCTOR_PROBLEM,
     "forbidden to read the sidecar's stats: your account lacks the RBAC verb `get pods/proxy`",
     "grant it: kubectl create role hfitop-stats --verb=get --resource=pods/proxy -n NS && kubectl create "
     "rolebinding hfitop-stats --role=hfitop-stats --user=YOU -n NS (manifests/rbac.yaml)"},
    {"sidecar-timeout", DOCTOR_PROBLEM,
     "sidecar unreachable: the stats port 15090 did not answer within the scrape timeout",
     "check the proxy (kubectl logs POD -c istio-proxy) and the node's load; on a slow cluster raise "
     "--interval, which is also the scrape timeout"},
    {"sidecar-unreachable", DOCTOR_PROBLEM, "sidecar unreachable: reading the stats port 15090 failed",
     "check that istio-proxy is ready (kubectl get pod POD) and its logs (kubectl logs POD -c istio-proxy)"},
    {"sidecar-flaky", DOCTOR_PROBLEM, "the sidecar's stats port fails some scrapes: counters show gaps",
     "check istio-proxy's logs and restarts (kubectl logs POD -c istio-proxy --previous)"},
    {"no-wasmplugin", DOCTOR_PROBLEM, "no WasmPlugin selects this pod: the fault plugin is not configured for it",
     "apply the hfi-fault WasmPlugin (manifests/wasmplugin.yaml) with a selector matching the pod's labels"},
    {"no-wasm-stats", DOCTOR_PROBLEM,
     "the proxy shows no Wasm stats at all: no Wasm VM runs in it, or its stats matcher hides wasm.*",
     "check istio-proxy's logs for wasm errors (kubectl logs POD -c istio-proxy | grep -i wasm) and the "
     "WasmPlugin's url"},
    {"plugin-not-loaded", DOCTOR_PROBLEM,
     "a WasmPlugin selects the pod but the plugin is not running in its proxy (fetch or start failed)",
     "check istio-proxy's logs (kubectl logs POD -c istio-proxy | grep -i wasm), the WasmPlugin's url, "
     "sha256 and pull secret"},
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
    {"zero-policies", DOCTOR_PROBLEM,
     "the plugin loaded zero policies for this workload: it can never inject a fault, so counters stay flat",
     "add a policy whose selector names this service to the WasmPlugin's pluginConfig.policies (hfitop's "
     "policy action)"},
    {"config-errors", DOCTOR_PROBLEM, "the plugin rejected part of its configuration (config_errors_total > 0)",
     "read the rejection in istio-proxy's logs (kubectl logs POD -c istio-proxy | grep hfi) and fix "
     "pluginConfig"},
    {"header-faults-off", DOCTOR_NOTE,
     "header faults are off (pluginConfig.header_faults.enabled is not true): hfitop's test faults are ignored",
     "set pluginConfig.header_faults to {enabled: true, token: SECRET} in the WasmPlugin"},
    {"no-traffic", DOCTOR_NOTE,
     "counters are zero: no request matching a policy has reached this sidecar yet",
     "send traffic to the service, or fire test faults: hfitop fire POD --abort 503 --count 10"},
    {"counters-reset", DOCTOR_NOTE,
     "the proxy restarted after the pod started: its counters began again from zero",
     "nothing to repair; read totals with Prometheus increase() or rate(), which allow for resets"},
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

void doctor_check_pod(const struct app_pod *p, const struct doctor_evidence *ev, doctor_add_fn add, void *user)
{
    const struct kube_pod *k = &p->pod;
    char detail[512];
    if (!k->has_sidecar) {
        add(user, "no-sidecar", "no istio-proxy in containers or initContainers");
        return;
    }
    if (!app_pod_scrapable(k)) {
        snprintf(detail, sizeof detail, "phase %s%s", k->phase && k->phase[0] ? k->phase : "unknown",
                 k->deleting ? ", terminating" : "");
        add(user, "pod-not-running", detail);
        return;
    }
    if (!p->scraped) {
        scrape_failure(p, add, user);
        return;
    }
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
        snprintf(detail, sizeof detail, "hfi_faults_config_errors_total %.0f", m->config_errors_total.value);
        add(user, "config-errors", detail);
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
    time_t started = k->start_time ? k->start_time : k->created;
    bool proxy_younger = p->proxy.uptime_seen && started &&
                         (double)(ev->now - started) - p->proxy.uptime_s > RESTART_SLACK_S;
    if (proxy_younger || p->aborts_ring.resets || p->delays_ring.resets) {
        snprintf(detail, sizeof detail, "proxy up %.0f s, pod started %ld s ago", p->proxy.uptime_s,
                 (long)(ev->now - started));
        add(user, "counters-reset", detail);
    }
}

/* ---- grouping ---- */

struct collect {
    struct doctor_report *report;
    const struct app_pod *pod;
};

static void add_finding(void *user, const char *id, const char *detail)
{
    struct collect *c = user;
    struct doctor_report *r = c->report;
    const struct doctor_rule *rule = doctor_rule_find(id);
    if (!rule)
        return;
    const struct kube_pod *k = &c->pod->pod;
    char subject[160];
    if (k->deployment)
        snprintf(subject, sizeof subject, "deployment %s", k->deployment);
    else
        snprintf(subject, sizeof subject, "pod %s", k->name);
    struct doctor_finding *f = NULL;
    for (size_t i = 0; i < r->n_findings && !f; i++)
        if (r->findings[i].rule == rule && strcmp(r->findings[i].subject, subject) == 0)
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
        if (rule->severity == DOCTOR_PROBLEM)
            r->problems++;
        else
            r->notes++;
    }
    char **pods = realloc(f->pods, (f->n_pods + 1) * sizeof *pods);
    if (!pods)
        return;
    f->pods = pods;
    f->pods[f->n_pods] = strdup(k->name);
    if (f->pods[f->n_pods])
        f->n_pods++;
}

void doctor_run(const struct app *app, const struct doctor_evidence *ev, struct doctor_report *out)
{
    memset(out, 0, sizeof *out);
    struct collect c = {.report = out};
    for (size_t i = 0; i < app_pod_count(app); i++) {
        c.pod = app_pod_at(app, i);
        out->pods_checked++;
        if (c.pod->pod.has_sidecar)
            out->sidecars++;
        doctor_check_pod(c.pod, ev, add_finding, &c);
    }
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
        fprintf(out, "  fix: %s\n", f->rule->fix);
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
