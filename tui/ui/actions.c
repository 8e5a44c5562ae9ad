/* The console's action keys: each opens a dialog that names exactly what
 * will change (object, namespace, context), calls tui/app's action, and
 * reports the API server's answer in the status line. None of them exists
 * under --readonly, nor where the access review says the user may not. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../app/istio.h"
#include "format.h"
#include "ui_internal.h"

/* ---- results ---- */

void ui_action_done(const struct app_action_result *r, void *user)
{
    struct ui *ui = user;
    ui->actions_running--;
    if (r->http_status)
        ui_status(ui, !r->ok, "%s (HTTP %ld)", r->message, r->http_status);
    else
        ui_status(ui, !r->ok, "%s", r->message);
    /* No model while the context switches or hfitop quits: the answers
     * that were not awaited arrive then (kube_client_cancel_pending). */
    if (ui->mesh)
        app_mesh_refresh(ui->mesh);
}

static void started(struct ui *ui, const char *what)
{
    ui->actions_running++;
    ui_status(ui, false, "%s...", what);
    ui_dialog_close(ui);
}

/* ---- what the namespace holds ---- */

static bool has_deployment(const struct ui *ui, const char *name)
{
    for (int k = 0; k < ui->dialog.n_deployments; k++)
        if (strcmp(ui->dialog.deployments[k], name) == 0)
            return true;
    return false;
}

/* Deployments in view whose pods have a sidecar, into the dialog. */
static void collect_sidecar_deployments(struct ui *ui)
{
    ui->dialog.n_deployments = 0;
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        if (!p->pod.has_sidecar || !p->pod.deployment || has_deployment(ui, p->pod.deployment) ||
            ui->dialog.n_deployments >= (int)(sizeof ui->dialog.deployments / sizeof ui->dialog.deployments[0]))
            continue;
        snprintf(ui->dialog.deployments[ui->dialog.n_deployments++], sizeof ui->dialog.deployments[0], "%s",
                 p->pod.deployment);
    }
}

static void deployment_list_text(const struct ui *ui, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int k = 0; k < ui->dialog.n_deployments && used + 1 < size; k++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", k ? ", " : "", ui->dialog.deployments[k]);
}

/* ---- e / E: the stats-inclusion EnvoyFilter ---- */

static void do_apply_filter(struct ui *ui)
{
    started(ui, "applying the EnvoyFilter");
    app_envoyfilter_apply(ui->client, ui->ns, ui->opt->envoyfilter, ui->opt->envoyfilter_len, ui_action_done, ui);
}

/* Deployments to restart once the EnvoyFilter exists: a BOOTSTRAP patch
 * reaches a proxy only through the bootstrap istiod generates when the
 * proxy starts (istio/istio pilot/pkg/xds/bootstrapds.go,
 * BootstrapGenerator.Generate), so a pod that started before it never
 * takes it. */
/* The target as confirmed: the restarts go to these deployments in this
 * namespace, whatever the console shows by the time the apply answers. */
struct restart_plan {
    struct ui *ui;
    struct kube_client *client;
    char ns[254];
    int n;
    char deployments[64][254];
};

static void filter_applied_now_restart(const struct app_action_result *r, void *user)
{
    struct restart_plan *plan = user;
    struct ui *ui = plan->ui;
    ui_action_done(r, ui);
    for (int k = 0; r->ok && k < plan->n; k++) {
        ui->actions_running++;
        app_restart_deployment(plan->client, plan->ns, plan->deployments[k], ui_action_done, ui);
    }
    free(plan);
}

static void do_apply_filter_and_restart(struct ui *ui)
{
    struct restart_plan *plan = calloc(1, sizeof *plan);
    if (!plan) {
        ui_status(ui, true, "out of memory");
        return;
    }
    plan->ui = ui;
    plan->client = ui->client;
    snprintf(plan->ns, sizeof plan->ns, "%s", ui->ns);
    plan->n = ui->dialog.n_deployments;
    memcpy(plan->deployments, ui->dialog.deployments, sizeof plan->deployments);
    started(ui, "applying the EnvoyFilter, then restarting");
    app_envoyfilter_apply(plan->client, plan->ns, ui->opt->envoyfilter, ui->opt->envoyfilter_len,
                          filter_applied_now_restart, plan);
}

static void do_annotate_all(struct ui *ui)
{
    struct ui_dialog kept = ui->dialog;
    started(ui, "adding the stats-inclusion annotation");
    ui->actions_running--; /* one per deployment below */
    for (int k = 0; k < kept.n_deployments; k++) {
        ui->actions_running++;
        app_annotate_stats_inclusion(ui->client, ui->ns, kept.deployments[k], ui_action_done, ui);
    }
}

static void do_delete_filter(struct ui *ui)
{
    char uid[sizeof ui->dialog.uid], version[sizeof ui->dialog.resource_version];
    snprintf(uid, sizeof uid, "%s", ui->dialog.uid);
    snprintf(version, sizeof version, "%s", ui->dialog.resource_version);
    started(ui, "deleting the EnvoyFilter");
    app_envoyfilter_delete(ui->client, ui->ns, ui->opt->envoyfilter, ui->opt->envoyfilter_len, uid[0] ? uid : NULL,
                           version[0] ? version : NULL, ui_action_done, ui);
}

static const char *envoyfilter_source(const struct ui *ui)
{
    return ui->opt->envoyfilter_file ? ui->opt->envoyfilter_file : "manifests/envoyfilter-wasm-stats.yaml";
}

/* Sidecars that would ignore a BOOTSTRAP EnvoyFilter: istio-agent asks
 * istiod for the bootstrap (where the patches apply) only when the proxy
 * runs with BOOTSTRAP_XDS_AGENT=true (istio/istio
 * pilot/cmd/pilot-agent/options, enableBootstrapXdsEnv: "agent retrieves
 * the bootstrap configuration prior to starting Envoy"). */
static int sidecars_without_bootstrap_agent(const struct ui *ui, int *sidecars)
{
    int without = 0;
    *sidecars = 0;
    for (size_t k = 0; k < ui->n_visible; k++) {
        const struct app_pod *p = ui->visible[k];
        if (!p->pod.has_sidecar)
            continue;
        (*sidecars)++;
        const char *flag = kube_pod_sidecar_env(&p->pod, "BOOTSTRAP_XDS_AGENT");
        if (!flag || strcmp(flag, "true") != 0)
            without++;
    }
    return without;
}

/* The EnvoyFilter the manifest names, or false after saying on the status
 * line why the manifest cannot be applied or deleted: the dialog names
 * what the key acts on. */
static bool envoyfilter_named(struct ui *ui, char *name, size_t size)
{
    char err[300];
    if (app_envoyfilter_name(ui->ns, ui->opt->envoyfilter, ui->opt->envoyfilter_len, name, size, err, sizeof err))
        return true;
    ui_status(ui, true, "EnvoyFilter manifest %s: %s", envoyfilter_source(ui), err);
    return false;
}

static void confirm_apply_filter(struct ui *ui)
{
    char filter[256];
    if (!envoyfilter_named(ui, filter, sizeof filter))
        return;
    int sidecars, without = sidecars_without_bootstrap_agent(ui, &sidecars);
    char names[600];
    ui_confirm(ui, "Apply the stats-inclusion EnvoyFilter?");
    collect_sidecar_deployments(ui);
    deployment_list_text(ui, names, sizeof names);
    ui_confirm_line(ui, "server-side apply of EnvoyFilter %s (%s)", filter, envoyfilter_source(ui));
    ui_confirm_line(ui, "into namespace %s, context %s, field manager %s", ui->ns, ui->context,
                    APP_FIELD_MANAGER);
    ui_confirm_line(ui, "Only pods started afterwards are affected: running sidecars keep their stats matcher.");
    if (without)
        ui_confirm_line(ui, "%d of %d sidecars lack BOOTSTRAP_XDS_AGENT=true and will ignore it: use [a], the", without,
                        sidecars);
    if (without)
        ui_confirm_line(ui, "proxy.istio.io/config annotation on their deployments (it rolls them), instead.");
    ui_confirm_line(ui, "deployments with sidecars: %s", names[0] ? names : "(none)");
    ui_confirm_choice(ui, 'y', "apply", do_apply_filter);
    if (ui->dialog.n_deployments)
        ui_confirm_choice(ui, 'r', "apply, then restart them", do_apply_filter_and_restart);
    if (ui->dialog.n_deployments)
        ui_confirm_choice(ui, 'a', "annotate them instead", do_annotate_all);
}

static void confirm_delete_filter(struct ui *ui)
{
    char filter[256];
    if (!envoyfilter_named(ui, filter, sizeof filter))
        return;
    ui_confirm(ui, "Delete the stats-inclusion EnvoyFilter?");
    ui_confirm_line(ui, "DELETE EnvoyFilter %s (of %s)", filter, envoyfilter_source(ui));
    ui_confirm_line(ui, "in namespace %s, context %s.", ui->ns, ui->context);
    /* The one the console last read: deleted only as it is now, not one
     * changed or created again before the answer y. */
    const cJSON *ef;
    cJSON_ArrayForEach(ef, app_mesh_envoyfilters(ui->mesh))
    {
        const cJSON *ns = app_json_path(ef, "metadata.namespace"), *uid = app_json_path(ef, "metadata.uid");
        const cJSON *version = app_json_path(ef, "metadata.resourceVersion");
        const char *name = app_object_name(ef);
        if (!name || strcmp(name, filter) != 0 || (cJSON_IsString(ns) && strcmp(ns->valuestring, ui->ns) != 0) ||
            !cJSON_IsString(uid) || !cJSON_IsString(version))
            continue;
        snprintf(ui->dialog.uid, sizeof ui->dialog.uid, "%s", uid->valuestring);
        snprintf(ui->dialog.resource_version, sizeof ui->dialog.resource_version, "%s", version->valuestring);
        ui_confirm_line(ui, "As read (resourceVersion %s): deleted only if unchanged since.", version->valuestring);
        break;
    }
    if (!ui->dialog.uid[0])
        ui_confirm_line(ui, "Not in the console's last reading of the namespace: whatever has that name goes.");
    ui_confirm_line(ui, "Running sidecars keep their stats matcher until they restart.");
    ui_confirm_choice(ui, 'y', "delete", do_delete_filter);
}

/* ---- r / R: restarts ---- */

static void do_restart(struct ui *ui)
{
    struct ui_dialog kept = ui->dialog;
    started(ui, "restarting");
    ui->actions_running--;
    for (int k = 0; k < kept.n_deployments; k++) {
        ui->actions_running++;
        app_restart_deployment(ui->client, ui->ns, kept.deployments[k], ui_action_done, ui);
    }
}

static void confirm_restart_selected(struct ui *ui)
{
    const struct app_pod *p = ui_selected_pod(ui);
    if (!p || !p->pod.deployment) {
        ui_status(ui, true, "the selected pod belongs to no deployment");
        return;
    }
    ui_confirm(ui, "Restart deployment?");
    ui_confirm_line(ui, "deployment %s in namespace %s, context %s", p->pod.deployment, ui->ns, ui->context);
    ui_confirm_line(ui, "as kubectl rollout restart: new pods replace the old ones, with fresh sidecar counters.");
    ui->dialog.n_deployments = 1;
    snprintf(ui->dialog.deployments[0], sizeof ui->dialog.deployments[0], "%s", p->pod.deployment);
    ui_confirm_choice(ui, 'y', "restart", do_restart);
}

static void confirm_restart_all(struct ui *ui)
{
    ui_confirm(ui, "Restart every deployment in view that has a sidecar?");
    collect_sidecar_deployments(ui);
    if (!ui->dialog.n_deployments) {
        ui_dialog_close(ui);
        ui_status(ui, true, "no deployment in view has a sidecar");
        return;
    }
    ui_confirm_line(ui, "%d deployment%s in namespace %s, context %s, as kubectl rollout restart:",
                    ui->dialog.n_deployments, ui->dialog.n_deployments == 1 ? "" : "s", ui->ns, ui->context);
    for (int k = 0; k < ui->dialog.n_deployments; k++)
        ui_confirm_line(ui, "  %s", ui->dialog.deployments[k]);
    snprintf(ui->dialog.choice_label, sizeof ui->dialog.choice_label, "restart all %d", ui->dialog.n_deployments);
    ui_confirm_choice(ui, 'y', ui->dialog.choice_label, do_restart);
}

/* ---- f: test faults ---- */

static const char *const fire_targets[] = {"the selected pod", "its deployment's service"};
static const char *const fire_kinds[] = {"abort", "delay"};

enum fire_field { FIRE_TARGET, FIRE_KIND, FIRE_VALUE, FIRE_COUNT, FIRE_PATH };

static void fire_done(const struct app_action_result *r, const struct app_fire_tally *tally, void *user)
{
    struct ui *ui = user;
    ui->actions_running--;
    ui->fire.running = false;
    ui->fire.done = true;
    ui->fire.result = *r;
    if (tally)
        ui->fire.tally = *tally;
    ui_status(ui, !r->ok, "%s", r->message);
}

/* The form fires at the pod (or its deployment's service) it named when it
 * opened, kept in the dialog: the selection under it moves to a neighbour
 * when that pod goes away (a rollout), and a fault must not follow it. */
static void submit_fire(struct ui *ui)
{
    const struct ui_field *f = ui->dialog.fields;
    const char *pod = ui->dialog.object;
    const char *deployment = ui->dialog.n_deployments ? ui->dialog.deployments[0] : NULL;
    long value, count;
    bool abort = f[FIRE_KIND].option == 0, to_service = f[FIRE_TARGET].option == 1;
    if (!pod[0] || (to_service && !deployment)) {
        ui_status(ui, true, "select a pod of a deployment first");
        return;
    }
    if (abort && !app_parse_long(f[FIRE_VALUE].value, 200, 599, &value)) {
        ui_form_error(ui, FIRE_VALUE, "an abort status is a whole number in 200..599");
        return;
    }
    if (!abort && !app_parse_long(f[FIRE_VALUE].value, 1, 600000, &value)) {
        ui_form_error(ui, FIRE_VALUE, "a delay is whole milliseconds in 1..600000");
        return;
    }
    if (!app_parse_long(f[FIRE_COUNT].value, 1, APP_FIRE_MAX_COUNT, &count)) {
        ui_form_error(ui, FIRE_COUNT, "a whole number in 1..%d", APP_FIRE_MAX_COUNT);
        return;
    }
    struct ui_fire_state *fs = &ui->fire;
    memset(fs, 0, sizeof *fs);
    snprintf(fs->path, sizeof fs->path, "%s", f[FIRE_PATH].value[0] ? f[FIRE_PATH].value : "/");
    snprintf(fs->deployment, sizeof fs->deployment, "%s", deployment ? deployment : "");
    if (to_service)
        snprintf(fs->target_service, sizeof fs->target_service, "%s", deployment);
    else
        snprintf(fs->target_pod, sizeof fs->target_pod, "%s", pod);
    fs->options = (struct app_fire_options){.ns = ui->ns,
                                            .pod = to_service ? NULL : fs->target_pod,
                                            .service = to_service ? fs->target_service : NULL,
                                            .path = fs->path,
                                            .abort_status = abort ? (int)value : 0,
                                            .delay_ms = abort ? 0 : value,
                                            .count = (int)count};
    /* The counters as the sidecars last reported them, to show how far
     * they move. */
    double aborts = 0, delays = 0;
    for (size_t k = 0; k < app_pod_count(ui->app); k++) {
        const struct app_pod *q = app_pod_at(ui->app, k);
        bool watched = to_service ? q->pod.deployment && strcmp(q->pod.deployment, fs->deployment) == 0
                                  : strcmp(q->pod.name, fs->target_pod) == 0;
        if (watched && q->scraped) {
            aborts += q->metrics.aborts_total.present ? q->metrics.aborts_total.value : 0;
            delays += q->metrics.delays_total.present ? q->metrics.delays_total.value : 0;
        }
    }
    fs->aborts_before = aborts;
    fs->delays_before = delays;
    fs->running = true;
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_FIRE_RESULT;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "Test faults");
    ui->actions_running++;
    app_fire(ui->client, &fs->options, fire_done, ui);
}

/* A value typed for one kind means something else for the other (503 as
 * a delay is 503 ms): each kind starts from its own default. */
static void fire_kind_changed(struct ui *ui, int field)
{
    struct ui_field *value = &ui->dialog.fields[FIRE_VALUE];
    if (field == FIRE_KIND)
        snprintf(value->value, sizeof value->value, "%s", ui->dialog.fields[FIRE_KIND].option == 0 ? "503" : "250");
}

static void open_fire_form(struct ui *ui)
{
    const struct app_pod *p = ui_selected_pod(ui);
    if (!p) {
        ui_status(ui, true, "no pod selected");
        return;
    }
    ui_dialog_close(ui);
    struct ui_dialog *d = &ui->dialog;
    d->modal = UI_MODAL_FORM;
    snprintf(d->title, sizeof d->title, "Fire test faults (header faults, through the API server proxy)");
    ui_confirm_line(ui, "pod %s, deployment %s, namespace %s, context %s", p->pod.name,
                    p->pod.deployment ? p->pod.deployment : "-", ui->ns, ui->context);
    snprintf(d->object, sizeof d->object, "%s", p->pod.name);
    if (p->pod.deployment) {
        snprintf(d->deployments[0], sizeof d->deployments[0], "%s", p->pod.deployment);
        d->n_deployments = 1;
    }
    ui_confirm_line(ui, "the token is read from the WasmPlugin; header faults must be enabled there");
    d->n_fields = 5;
    d->fields[FIRE_TARGET] = (struct ui_field){.label = "target", .options = fire_targets, .n_options = 2};
    d->fields[FIRE_KIND] = (struct ui_field){.label = "fault", .options = fire_kinds, .n_options = 2};
    d->fields[FIRE_VALUE] = (struct ui_field){.label = "status or ms"};
    snprintf(d->fields[FIRE_VALUE].value, sizeof d->fields[FIRE_VALUE].value, "503");
    d->fields[FIRE_COUNT] = (struct ui_field){.label = "count"};
    snprintf(d->fields[FIRE_COUNT].value, sizeof d->fields[FIRE_COUNT].value, "10");
    d->fields[FIRE_PATH] = (struct ui_field){.label = "path"};
    snprintf(d->fields[FIRE_PATH].value, sizeof d->fields[FIRE_PATH].value, "/");
    d->field = FIRE_VALUE;
    d->submit = submit_fire;
    d->option_changed = fire_kind_changed;
}

/* ---- p: policies ---- */

static const cJSON *namespace_wasmplugin(const struct ui *ui)
{
    const cJSON *wp;
    cJSON_ArrayForEach(wp, app_mesh_wasmplugins(ui->mesh))
    {
        const cJSON *ns = app_json_path(wp, "metadata.namespace");
        if (!cJSON_IsString(ns) || strcmp(ns->valuestring, ui->ns) == 0)
            return wp;
    }
    return NULL;
}

static const cJSON *namespace_policies(const struct ui *ui)
{
    return app_json_path(namespace_wasmplugin(ui), "spec.pluginConfig.policies");
}

/* Keeps the name of the WasmPlugin a dialog shows, so that its change goes
 * to that one and not to whichever the namespace lists first by the time
 * it is written. */
static void remember_wasmplugin(struct ui *ui, const cJSON *wp)
{
    const char *name = app_policy_name(wp);
    snprintf(ui->dialog.wasmplugin, sizeof ui->dialog.wasmplugin, "%s", name ? name : "");
}

static void open_policies(struct ui *ui)
{
    const cJSON *wp = namespace_wasmplugin(ui);
    ui_dialog_close(ui);
    struct ui_dialog *d = &ui->dialog;
    d->modal = UI_MODAL_POLICIES;
    const cJSON *name = app_json_path(wp, "metadata.name");
    snprintf(d->title, sizeof d->title, "Policies of WasmPlugin %s in %s",
             cJSON_IsString(name) ? name->valuestring : "(none)", ui->ns);
    time_t now = time(NULL);
    const cJSON *policy;
    cJSON_ArrayForEach(policy, app_json_path(wp, "spec.pluginConfig.policies"))
    {
        const cJSON *pname = app_json_path(policy, "metadata.name");
        const cJSON *service = app_json_path(policy, "spec.selector.service");
        char window[80];
        app_policy_window(policy, now, window, sizeof window);
        ui_confirm_line(ui, "%-24s selects %-12s %2d rule(s)  %s", cJSON_IsString(pname) ? pname->valuestring : "?",
                        cJSON_IsString(service) && service->valuestring[0] ? service->valuestring : "all",
                        cJSON_GetArraySize(app_json_path(policy, "spec.rules")), window);
    }
}

/* Enter on a policy: what it selects, when, and each rule. */
static void show_policy_rules(struct ui *ui)
{
    const cJSON *policy = cJSON_GetArrayItem(namespace_policies(ui), ui->dialog.cursor);
    const cJSON *name = app_json_path(policy, "metadata.name");
    if (!policy) {
        ui_status(ui, true, "no policy selected");
        return;
    }
    char title[300], window[80], rule_text[300];
    snprintf(title, sizeof title, "Policy %s", cJSON_IsString(name) ? name->valuestring : "?");
    ui_confirm(ui, title);
    const cJSON *service = app_json_path(policy, "spec.selector.service");
    const cJSON *ns = app_json_path(policy, "spec.selector.namespace");
    const cJSON *start = app_json_path(policy, "spec.start_time"), *end = app_json_path(policy, "spec.end_time");
    app_policy_window(policy, time(NULL), window, sizeof window);
    ui_confirm_line(ui, "selects workload %s, namespace %s",
                    cJSON_IsString(service) && service->valuestring[0] ? service->valuestring : "any",
                    cJSON_IsString(ns) && ns->valuestring[0] ? ns->valuestring : "any");
    ui_confirm_line(ui, "window: %s (start_time %s, end_time %s)", window,
                    cJSON_IsString(start) ? start->valuestring : "-", cJSON_IsString(end) ? end->valuestring : "-");
    int k = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, app_json_path(policy, "spec.rules"))
    {
        app_policy_rule_text(rule, rule_text, sizeof rule_text);
        ui_confirm_line(ui, "rule %d: %s", ++k, rule_text);
    }
    if (!k)
        ui_confirm_line(ui, "no rules");
}

static void policy_done(const struct app_policy_outcome *o, void *user)
{
    ui_action_done(&o->result, user);
}

static void start_policy_apply(struct ui *ui, const char *json, long for_seconds)
{
    char wasmplugin[sizeof ui->dialog.wasmplugin];
    snprintf(wasmplugin, sizeof wasmplugin, "%s", ui->dialog.wasmplugin);
    started(ui, "applying the policy");
    struct app_policy_change ch = {.ns = ui->ns, .wasmplugin = wasmplugin[0] ? wasmplugin : NULL,
                                   .op = APP_POLICY_APPLY, .policy_json = json, .for_seconds = for_seconds};
    app_policy_change(ui->client, &ch, policy_done, ui);
}

static const char *const policy_kinds[] = {"abort", "delay"};
enum policy_field { POLICY_NAME, POLICY_SERVICE, POLICY_PREFIX, POLICY_KIND, POLICY_VALUE, POLICY_PERCENT,
                    POLICY_FOR };

/* Each field parsed strictly; the first refused one is marked in the form.
 * The policy carries start_time and end_time (app_policy_change stamps
 * them from "for"), so it ends at the same moment on every pod. */
static void submit_policy(struct ui *ui)
{
    const struct ui_field *f = ui->dialog.fields;
    long value, for_seconds;
    double percent;
    bool abort = f[POLICY_KIND].option == 0;
    if (!f[POLICY_NAME].value[0]) {
        ui_form_error(ui, POLICY_NAME, "a name is needed");
        return;
    }
    if (abort && !app_parse_long(f[POLICY_VALUE].value, 200, 599, &value)) {
        ui_form_error(ui, POLICY_VALUE, "an abort status is a whole number in 200..599");
        return;
    }
    if (!abort && !app_parse_long(f[POLICY_VALUE].value, 0, 3600000, &value)) {
        ui_form_error(ui, POLICY_VALUE, "a delay is whole milliseconds in 0..3600000");
        return;
    }
    if (!app_parse_percentage(f[POLICY_PERCENT].value, &percent)) {
        ui_form_error(ui, POLICY_PERCENT, "a number in 0..100 (fractions allowed: 0.1)");
        return;
    }
    if (!app_parse_duration(f[POLICY_FOR].value, &for_seconds) || for_seconds <= 0) {
        ui_form_error(ui, POLICY_FOR, "a duration with its unit: 90s, 5m, 1h, 1h30m");
        return;
    }
    cJSON *policy = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(policy, "metadata"), "name", f[POLICY_NAME].value);
    cJSON *spec = cJSON_AddObjectToObject(policy, "spec");
    cJSON *selector = cJSON_AddObjectToObject(spec, "selector");
    cJSON_AddStringToObject(selector, "service", f[POLICY_SERVICE].value);
    cJSON_AddStringToObject(selector, "namespace", ui->ns);
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(rule, "match"), "path"), "prefix",
                            f[POLICY_PREFIX].value[0] ? f[POLICY_PREFIX].value : "/");
    cJSON *fault = cJSON_AddObjectToObject(rule, "fault");
    cJSON_AddNumberToObject(fault, "percentage", percent);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(fault, abort ? "abort" : "delay"),
                            abort ? "httpStatus" : "fixed_delay_ms", (double)value);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "rules"), rule);
    char *json = cJSON_PrintUnformatted(policy);
    cJSON_Delete(policy);
    if (!json) {
        ui_status(ui, true, "out of memory");
        return;
    }
    start_policy_apply(ui, json, for_seconds);
    free(json);
}

static void policy_kind_changed(struct ui *ui, int field)
{
    struct ui_field *value = &ui->dialog.fields[POLICY_VALUE];
    if (field == POLICY_KIND)
        snprintf(value->value, sizeof value->value, "%s", ui->dialog.fields[POLICY_KIND].option == 0 ? "503" : "200");
}

static void open_policy_form(struct ui *ui)
{
    const struct app_pod *p = ui_selected_pod(ui);
    const cJSON *wp = namespace_wasmplugin(ui);
    ui_dialog_close(ui);
    struct ui_dialog *d = &ui->dialog;
    d->modal = UI_MODAL_FORM;
    remember_wasmplugin(ui, wp);
    snprintf(d->title, sizeof d->title, "Add a policy to the WasmPlugin %s in %s (context %s)",
             d->wasmplugin[0] ? d->wasmplugin : "(none)", ui->ns, ui->context);
    ui_confirm_line(ui, "the plugin loads it through ECDS, without restarts; a policy of the same name is replaced;");
    ui_confirm_line(ui, "it is checked by the plugin's own parser first, and ends after \"for\" on every pod");
    d->n_fields = 7;
    d->fields[POLICY_NAME] = (struct ui_field){.label = "name"};
    d->fields[POLICY_SERVICE] = (struct ui_field){.label = "workload"};
    snprintf(d->fields[POLICY_SERVICE].value, sizeof d->fields[POLICY_SERVICE].value, "%s",
             p && p->pod.deployment ? p->pod.deployment : "");
    d->fields[POLICY_PREFIX] = (struct ui_field){.label = "path prefix"};
    snprintf(d->fields[POLICY_PREFIX].value, sizeof d->fields[POLICY_PREFIX].value, "/");
    d->fields[POLICY_KIND] = (struct ui_field){.label = "fault", .options = policy_kinds, .n_options = 2};
    d->fields[POLICY_VALUE] = (struct ui_field){.label = "status or ms"};
    snprintf(d->fields[POLICY_VALUE].value, sizeof d->fields[POLICY_VALUE].value, "503");
    d->fields[POLICY_PERCENT] = (struct ui_field){.label = "percentage"};
    snprintf(d->fields[POLICY_PERCENT].value, sizeof d->fields[POLICY_PERCENT].value, "10");
    d->fields[POLICY_FOR] = (struct ui_field){.label = "for (90s 5m 1h)"};
    snprintf(d->fields[POLICY_FOR].value, sizeof d->fields[POLICY_FOR].value, "5m");
    d->submit = submit_policy;
    d->option_changed = policy_kind_changed;
}

enum policy_file_field { POLICY_FILE_PATH, POLICY_FILE_FOR };

static void submit_policy_file(struct ui *ui)
{
    const char *path = ui->dialog.fields[POLICY_FILE_PATH].value;
    const char *for_text = ui->dialog.fields[POLICY_FILE_FOR].value;
    long for_seconds = 0;
    if (for_text[0] && (!app_parse_duration(for_text, &for_seconds) || for_seconds <= 0)) {
        ui_form_error(ui, POLICY_FILE_FOR, "empty, or a duration with its unit: 90s, 5m, 1h");
        return;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        ui_form_error(ui, POLICY_FILE_PATH, "cannot read it");
        return;
    }
    char json[65536];
    size_t n = fread(json, 1, sizeof json - 1, file);
    bool too_long = !feof(file);
    fclose(file);
    json[n] = '\0';
    cJSON *doc = cJSON_Parse(json);
    bool object = cJSON_IsObject(doc);
    cJSON_Delete(doc);
    if (too_long || !object) {
        ui_form_error(ui, POLICY_FILE_PATH, "%s", too_long ? "larger than 64 KiB" : "not a JSON object (one policy)");
        return;
    }
    start_policy_apply(ui, json, for_seconds);
}

static void open_policy_file_form(struct ui *ui)
{
    const cJSON *wp = namespace_wasmplugin(ui);
    ui_dialog_close(ui);
    struct ui_dialog *d = &ui->dialog;
    d->modal = UI_MODAL_FORM;
    remember_wasmplugin(ui, wp);
    snprintf(d->title, sizeof d->title, "Add a policy from a JSON file to WasmPlugin %s (namespace %s, context %s)",
             d->wasmplugin[0] ? d->wasmplugin : "(none)", ui->ns, ui->context);
    ui_confirm_line(ui, "one policy object: {\"metadata\": {\"name\": ...}, \"spec\": {...}}");
    ui_confirm_line(ui, "for: when it ends (empty: its own end_time, else its rules' longest duration_seconds)");
    d->n_fields = 2;
    d->fields[POLICY_FILE_PATH] = (struct ui_field){.label = "file"};
    d->fields[POLICY_FILE_FOR] = (struct ui_field){.label = "for (90s 5m 1h)"};
    d->submit = submit_policy_file;
}

static void do_remove_policy(struct ui *ui)
{
    char name[sizeof ui->dialog.object], wasmplugin[sizeof ui->dialog.wasmplugin];
    snprintf(name, sizeof name, "%s", ui->dialog.object);
    snprintf(wasmplugin, sizeof wasmplugin, "%s", ui->dialog.wasmplugin);
    started(ui, "removing the policy");
    struct app_policy_change ch = {.ns = ui->ns, .wasmplugin = wasmplugin, .op = APP_POLICY_REMOVE, .name = name};
    app_policy_change(ui->client, &ch, policy_done, ui);
}

static void confirm_remove_policy(struct ui *ui)
{
    const cJSON *wp = namespace_wasmplugin(ui);
    const cJSON *name = app_json_path(cJSON_GetArrayItem(namespace_policies(ui), ui->dialog.cursor), "metadata.name");
    if (!cJSON_IsString(name) || !app_policy_name(wp)) {
        ui_status(ui, true, "no policy selected");
        return;
    }
    char policy[sizeof ui->dialog.object];
    snprintf(policy, sizeof policy, "%s", name->valuestring);
    ui_confirm(ui, "Remove policy?");
    snprintf(ui->dialog.object, sizeof ui->dialog.object, "%s", policy);
    remember_wasmplugin(ui, wp);
    ui_confirm_line(ui, "policy %s from the pluginConfig of WasmPlugin %s", policy, ui->dialog.wasmplugin);
    ui_confirm_line(ui, "in namespace %s, context %s", ui->ns, ui->context);
    ui_confirm_choice(ui, 'y', "remove", do_remove_policy);
}

/* ---- X: the kill switch ---- */

/* The writes of one kill switch: one per WasmPlugin confirmed. */
struct halt_batch {
    struct ui *ui;
    int pending, failed;
    char message[sizeof ((struct app_action_result *)0)->message];
};

static void halt_written(const struct app_policy_outcome *o, void *user)
{
    struct halt_batch *b = user;
    struct ui *ui = b->ui;
    struct ui_halt_state *h = &ui->halt;
    ui->actions_running--;
    b->failed += !o->result.ok;
    size_t used = strlen(b->message);
    snprintf(b->message + used, sizeof b->message - used, "%s%s", used ? "; " : "", o->result.message);
    if (--b->pending > 0)
        return;
    h->running = false;
    h->result = o->result;
    h->result.ok = !b->failed;
    snprintf(h->result.message, sizeof h->result.message, "%s", b->message);
    bool failed = b->failed;
    free(b);
    ui_status(ui, failed, "%s", h->result.message);
    /* No model while hfitop quits: the answers not awaited arrive then. */
    if (!ui->mesh)
        return;
    app_mesh_refresh(ui->mesh);
    /* A WasmPlugin still holding its policies: nothing to watch stop. */
    if (failed || strcmp(h->ns, ui->ns) != 0)
        return;
    /* Follow every sidecar from its next scrape on. */
    h->written = true;
    h->n_pods = 0;
    for (size_t k = 0; k < app_pod_count(ui->app) && h->n_pods < UI_HALT_PODS; k++) {
        const struct app_pod *p = app_pod_at(ui->app, k);
        /* A Terminating pod is gone before its verdict could settle. */
        if (app_pod_scrapable(&p->pod) && !p->pod.deleting)
            app_halt_follow(&h->pods[h->n_pods++], p->pod.name, p->attempts - p->failures);
    }
}

void ui_halt_update(struct ui *ui)
{
    struct ui_halt_state *h = &ui->halt;
    if (!h->written || strcmp(h->ns, ui->ns) != 0)
        return;
    for (int k = 0; k < h->n_pods; k++) {
        const struct app_pod *p = app_pod_find(ui->app, ui->ns, h->pods[k].name);
        if (!p || !p->scraped || p->failing)
            continue;
        const hfi_metrics *m = &p->metrics;
        app_halt_scraped(&h->pods[k], p->attempts - p->failures, m->aborts_total.present ? m->aborts_total.value : 0,
                         m->delays_total.present ? m->delays_total.value : 0,
                         m->policies.present ? m->policies.value : 0);
    }
}

static void do_halt(struct ui *ui)
{
    struct ui_halt_state *h = &ui->halt;
    struct halt_batch *b = calloc(1, sizeof *b);
    if (!b) {
        ui_status(ui, true, "out of memory");
        return;
    }
    struct ui_dialog kept = ui->dialog;
    memset(h, 0, sizeof *h);
    size_t used = 0;
    for (int k = 0; k < kept.n_deployments && used < sizeof h->wasmplugin; k++)
        used += (size_t)snprintf(h->wasmplugin + used, sizeof h->wasmplugin - used, "%s%s", k ? ", " : "",
                                 kept.deployments[k]);
    snprintf(h->ns, sizeof h->ns, "%s", ui->ns);
    h->running = true;
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_HALT;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "Kill switch: WasmPlugin%s %s in %s",
             kept.n_deployments == 1 ? "" : "s", h->wasmplugin, h->ns);
    ui_status(ui, false, "removing every policy of WasmPlugin%s %s in %s...", kept.n_deployments == 1 ? "" : "s",
              h->wasmplugin, h->ns);
    /* The WasmPlugins confirmed, whatever the namespace lists by now. */
    b->ui = ui;
    b->pending = kept.n_deployments;
    for (int k = 0; k < kept.n_deployments; k++) {
        ui->actions_running++;
        struct app_policy_change ch = {.ns = h->ns, .wasmplugin = kept.deployments[k], .op = APP_POLICY_REMOVE_ALL};
        app_policy_change(ui->client, &ch, halt_written, b);
    }
}

/* Every WasmPlugin of the namespace that holds policies: Istio applies
 * each one that selects a workload, not the first alone (istio/istio
 * pilot/pkg/model/push_context.go, WasmPluginsByListenerInfo), so the kill
 * switch clears them all, one write each. */
static void confirm_halt(struct ui *ui)
{
    int plugins = 0, holding = 0, total = 0;
    const cJSON *wp, *first = NULL;
    cJSON_ArrayForEach(wp, app_mesh_wasmplugins(ui->mesh))
    {
        const cJSON *ns = app_json_path(wp, "metadata.namespace");
        if ((cJSON_IsString(ns) && strcmp(ns->valuestring, ui->ns) != 0) || !app_policy_name(wp))
            continue;
        plugins++;
        first = first ? first : wp;
        int n = app_policy_count(wp);
        holding += n != 0;
        total += n > 0 ? n : 0;
    }
    if (!plugins) {
        ui_status(ui, true, "no WasmPlugin in %s: no policy to remove", ui->ns);
        return;
    }
    if (!holding) {
        if (plugins == 1)
            ui_status(ui, true, "WasmPlugin %s/%s has no policies: nothing to remove", ui->ns, app_policy_name(first));
        else
            ui_status(ui, true, "no WasmPlugin in %s has policies: nothing to remove", ui->ns);
        return;
    }
    if (holding > (int)(sizeof ui->dialog.deployments / sizeof ui->dialog.deployments[0])) {
        ui_status(ui, true, "%d WasmPlugins in %s hold policies, more than one confirmation can name", holding,
                  ui->ns);
        return;
    }
    char title[300];
    if (total)
        snprintf(title, sizeof title, "KILL SWITCH: remove all %d policies?", total);
    else
        snprintf(title, sizeof title, "KILL SWITCH: clear pluginConfig.policies?");
    ui_confirm(ui, title);
    if (holding > 1)
        ui_confirm_line(ui, "%d WasmPlugins in namespace %s, context %s: all %d policies removed, one write each:",
                        holding, ui->ns, ui->context, total);
    cJSON_ArrayForEach(wp, app_mesh_wasmplugins(ui->mesh))
    {
        const cJSON *ns = app_json_path(wp, "metadata.namespace");
        int n = app_policy_count(wp);
        if ((cJSON_IsString(ns) && strcmp(ns->valuestring, ui->ns) != 0) || !app_policy_name(wp) || n == 0)
            continue;
        snprintf(ui->dialog.deployments[ui->dialog.n_deployments++], sizeof ui->dialog.deployments[0], "%s",
                 app_policy_name(wp));
        if (n == APP_POLICIES_NOT_A_LIST) {
            /* The plugin rejects it and goes on enforcing its last policies. */
            ui_confirm_line(ui, "WasmPlugin %s in namespace %s, context %s: pluginConfig.policies is not a list",
                            app_policy_name(wp), ui->ns, ui->context);
            ui_confirm_line(ui, "  (the plugin keeps its last accepted policies): replaced by an empty list");
            continue;
        }
        if (holding == 1)
            ui_confirm_line(ui, "WasmPlugin %s in namespace %s, context %s: all %d policies removed in one write:",
                            app_policy_name(wp), ui->ns, ui->context, n);
        else
            ui_confirm_line(ui, "WasmPlugin %s: %d policies", app_policy_name(wp), n);
        const cJSON *policy;
        cJSON_ArrayForEach(policy, app_json_path(wp, "spec.pluginConfig.policies"))
        {
            const cJSON *pname = app_json_path(policy, "metadata.name");
            ui_confirm_line(ui, "  %s", cJSON_IsString(pname) ? pname->valuestring : "(no name)");
        }
    }
    ui_confirm_line(ui, "Then every sidecar's fault counters are watched until they stop.");
    snprintf(ui->dialog.choice_label, sizeof ui->dialog.choice_label, total ? "remove all %d" : "clear", total);
    ui_confirm_choice(ui, 'y', ui->dialog.choice_label, do_halt);
}

/* ---- n: namespace picker ---- */

static void namespace_picked(struct ui *ui, const char *ns)
{
    if (ui_use_namespace(ui, ns))
        ui_status(ui, false, "namespace %s", ns);
    else
        ui_status(ui, true, "cannot switch to namespace %s", ns);
}

static void namespaces_listed(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct ui *ui = user;
    if (ui->dialog.modal != UI_MODAL_PICKER)
        return;
    if (resp->error.code != KUBE_OK) {
        ui_dialog_close(ui);
        ui_status(ui, true, "cannot list namespaces: %s", resp->error.message);
        return;
    }
    cJSON *doc = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "items"))
    {
        const cJSON *name = app_json_path(item, "metadata.name");
        if (cJSON_IsString(name) && ui->dialog.n_items < UI_PICKER_ITEMS) {
            if (strcmp(name->valuestring, ui->ns) == 0)
                ui->dialog.cursor = ui->dialog.n_items;
            ui->dialog.items[ui->dialog.n_items++] = strdup(name->valuestring);
        }
    }
    cJSON_Delete(doc);
}

static void open_namespace_picker(struct ui *ui)
{
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_PICKER;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "Namespace (context %s)", ui->context);
    ui->dialog.picked = namespace_picked;
    kube_client_get(ui->client, "/api/v1/namespaces", namespaces_listed, ui);
}

/* ---- c: context picker ---- */

static void context_picked(struct ui *ui, const char *context)
{
    char err[512];
    if (ui_use_context(ui, context, err, sizeof err))
        ui_status(ui, false, "context %s, namespace %s", ui->context, ui->ns);
    else
        ui_status(ui, true, "cannot use context %s: %s", context, err);
}

static void open_context_picker(struct ui *ui)
{
    if (ui->actions_running) {
        /* Their answers and follow-up steps belong to this context. */
        ui_status(ui, true, "%d action(s) still running in context %s: wait for their answers before switching",
                  ui->actions_running, ui->context);
        return;
    }
    if (!ui->opt->n_contexts) {
        ui_status(ui, true, "no kubeconfig contexts to choose from (in-cluster)");
        return;
    }
    ui_dialog_close(ui);
    ui->dialog.modal = UI_MODAL_PICKER;
    snprintf(ui->dialog.title, sizeof ui->dialog.title, "Context (now %s)", ui->context);
    ui->dialog.picked = context_picked;
    for (size_t k = 0; k < ui->opt->n_contexts && ui->dialog.n_items < UI_PICKER_ITEMS; k++) {
        if (strcmp(ui->opt->contexts[k], ui->context) == 0)
            ui->dialog.cursor = ui->dialog.n_items;
        ui->dialog.items[ui->dialog.n_items++] = strdup(ui->opt->contexts[k]);
    }
}

/* ---- the keys ---- */

static const struct {
    int key;
    bool in_policies; /* a key of the policy list */
    enum app_permission needs;
    void (*run)(struct ui *ui);
} action_keys[] = {
    {'e', false, APP_MAY_APPLY_ENVOYFILTER, confirm_apply_filter},
    {'E', false, APP_MAY_DELETE_ENVOYFILTER, confirm_delete_filter},
    {'r', false, APP_MAY_PATCH_DEPLOYMENTS, confirm_restart_selected},
    {'R', false, APP_MAY_PATCH_DEPLOYMENTS, confirm_restart_all},
    {'f', false, APP_MAY_FIRE, open_fire_form},
    {'n', false, UI_NO_PERMISSION, open_namespace_picker},
    {'c', false, UI_NO_PERMISSION, open_context_picker},
    {'p', false, UI_NO_PERMISSION, open_policies},
    {'a', true, APP_MAY_EDIT_POLICIES, open_policy_form},
    {'l', true, APP_MAY_EDIT_POLICIES, open_policy_file_form},
    {'x', true, APP_MAY_EDIT_POLICIES, confirm_remove_policy},
    {'\n', true, UI_NO_PERMISSION, show_policy_rules},
    {KEY_ENTER, true, UI_NO_PERMISSION, show_policy_rules},
    {'X', false, APP_MAY_EDIT_POLICIES, confirm_halt},
    {'X', true, APP_MAY_EDIT_POLICIES, confirm_halt},
};

bool ui_action_key(struct ui *ui, int ch)
{
    bool policies_open = ui->dialog.modal == UI_MODAL_POLICIES;
    for (size_t k = 0; k < sizeof action_keys / sizeof action_keys[0]; k++) {
        if (action_keys[k].key != ch || action_keys[k].in_policies != policies_open)
            continue;
        enum app_permission needs = action_keys[k].needs;
        if (needs != UI_NO_PERMISSION && ui->opt->readonly)
            ui_status(ui, true, "read-only: '%c' would change the cluster", ch);
        else if (!ui_may(ui, needs))
            ui_status(ui, true, "not allowed: the access review says you may not %s in %s (context %s)",
                      app_permission_text(needs), ui->ns, ui->context);
        else
            action_keys[k].run(ui);
        return true;
    }
    return false;
}
