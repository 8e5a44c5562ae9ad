/* The doctor's findings for the namespace, problems first, each with its
 * fix naming the real namespace, pod and user; Enter on a finding applies
 * the fix where hfitop can (the stats-inclusion annotation, a restart, the
 * policy list, test faults at a pod without traffic). */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/doctor.h"
#include "../stats/text.h"
#include "ui_internal.h"

/* What Enter does for a finding, by rule id. */
enum doctor_fix { FIX_NONE, FIX_ANNOTATE, FIX_RESTART, FIX_POLICIES, FIX_FIRE };

static enum doctor_fix fix_for(const char *rule_id)
{
    if (strcmp(rule_id, "stats-excluded") == 0 || strcmp(rule_id, "envoyfilter-no-bootstrap-agent") == 0)
        return FIX_ANNOTATE;
    if (strcmp(rule_id, "envoyfilter-pod-older") == 0 || strcmp(rule_id, "counters-reset") == 0)
        return FIX_RESTART;
    if (strcmp(rule_id, "zero-policies") == 0)
        return FIX_POLICIES;
    if (strcmp(rule_id, "no-traffic") == 0)
        return FIX_FIRE;
    return FIX_NONE;
}

static void run_report(struct ui *ui, struct doctor_report *report)
{
    struct doctor_evidence ev = {.wasmplugins = app_mesh_wasmplugins(ui->mesh),
                                 .envoyfilters = app_mesh_envoyfilters(ui->mesh), .now = time(NULL),
                                 .user = ui->user};
    memset(report, 0, sizeof *report);
    doctor_run(ui->app, &ev, report);
}

/* Writes text from column x, wrapped at the screen's edge with `indent`
 * spaces on the following rows; returns the rows used (at most max).
 * Measured in cells, on the text as the terminal will show it. */
static int put_wrapped(struct ui *ui, int y, int x, int indent, int max, const char *text)
{
    int width = ui->cols - x, rows = 0;
    char *shown = text_sanitize_dup(text);
    const char *rest = shown ? shown : "";
    char line[2048];
    while (*rest && rows < max && width > 10) {
        text_fit(rest, width, line, sizeof line);
        size_t take = strlen(line);
        if (!take)
            break;
        if (rest[take]) { /* break at the last space that fits */
            size_t space = take;
            while (space > 0 && rest[space] != ' ')
                space--;
            if (space > 0)
                take = space;
        }
        line[take] = '\0';
        mvaddstr(y + rows, x, line);
        rest += take;
        while (*rest == ' ')
            rest++;
        rows++;
        x = indent;
        width = ui->cols - indent;
    }
    free(shown);
    return rows;
}

static void draw_doctor(struct ui *ui, int top, int height)
{
    struct doctor_report report;
    char line[1200];
    run_report(ui, &report);
    if (ui->doctor_scroll >= (int)report.n_findings)
        ui->doctor_scroll = report.n_findings ? (int)report.n_findings - 1 : 0;
    snprintf(line, sizeof line, "doctor: %zu pods checked, %zu with a sidecar: %zu problem(s), %zu note(s)%s",
             report.pods_checked, report.sidecars, report.problems, report.notes,
             report.n_findings && ui_may(ui, APP_MAY_PATCH_DEPLOYMENTS) ? "   (Enter on a finding applies its fix)"
                                                                          : "");
    ui_attr_on(ui, report.problems ? UI_COLOR_ERROR : UI_COLOR_OK, A_BOLD);
    ui_put(top, 0, ui->cols, line);
    ui_attr_off(ui, report.problems ? UI_COLOR_ERROR : UI_COLOR_OK, A_BOLD);
    if (!report.n_findings)
        ui_put(top + 2, 0, ui->cols, report.pods_checked ? "healthy: the metrics should be flowing"
                                                         : "no pods yet: waiting for the pod list");

    /* The selected finding is the first shown, so it is always in view. */
    int y = top + 1, bottom = top + height;
    for (size_t k = (size_t)ui->doctor_scroll; k < report.n_findings && y < bottom; k++) {
        const struct doctor_finding *f = &report.findings[k];
        bool problem = f->rule->severity == DOCTOR_PROBLEM, selected = (int)k == ui->doctor_scroll;
        snprintf(line, sizeof line, "%s %s [%s]: %s", problem ? "PROBLEM" : "note", f->subject, f->rule->id,
                 f->rule->diagnosis);
        ui_attr_on(ui, problem ? UI_COLOR_ERROR : 0, A_BOLD | (selected ? A_REVERSE : 0));
        y += put_wrapped(ui, y, 0, 4, bottom - y, line);
        ui_attr_off(ui, problem ? UI_COLOR_ERROR : 0, A_BOLD | (selected ? A_REVERSE : 0));
        char pods[600] = "";
        size_t used = 0;
        for (size_t i = 0; i < f->n_pods && used + 2 < sizeof pods; i++)
            used += (size_t)snprintf(pods + used, sizeof pods - used, "%s%s", i ? ", " : "", f->pods[i]);
        const char *labels[3] = {"    seen: ", "    fix:  ", "    pods: "};
        const char *texts[3] = {f->detail, f->fix[0] ? f->fix : f->rule->fix, pods};
        for (int t = 0; t < 3 && y < bottom; t++) {
            if (!texts[t][0])
                continue;
            snprintf(line, sizeof line, "%s%s", labels[t], texts[t]);
            y += put_wrapped(ui, y, 0, 10, bottom - y, line);
        }
    }
    doctor_report_free(&report);
}

static char fix_deployment[254];

static void do_fix_annotate(struct ui *ui)
{
    ui->actions_running++;
    ui_status(ui, false, "adding the stats-inclusion annotation to %s...", fix_deployment);
    ui_dialog_close(ui);
    app_annotate_stats_inclusion(ui->client, ui->ns, fix_deployment, ui_action_done, ui);
}

static void do_fix_restart(struct ui *ui)
{
    ui->actions_running++;
    ui_status(ui, false, "restarting %s...", fix_deployment);
    ui_dialog_close(ui);
    app_restart_deployment(ui->client, ui->ns, fix_deployment, ui_action_done, ui);
}

/* The fire form for `pod`: it becomes the table's selection first. */
static void fire_at(struct ui *ui, const char *pod)
{
    snprintf(ui->selected, sizeof ui->selected, "%s/%s", ui->ns, pod);
    ui_refresh_rows(ui);
    const struct app_pod *p = ui_selected_pod(ui);
    if (!p || strcmp(p->pod.name, pod) != 0) {
        ui_status(ui, true, "pod %s is not in the table (Esc, then / and Esc clear the filter)", pod);
        return;
    }
    ui_action_key(ui, 'f');
}

/* Enter: the fix of the selected finding, after a confirmation. */
static void apply_fix(struct ui *ui)
{
    struct doctor_report report;
    run_report(ui, &report);
    if (ui->doctor_scroll >= (int)report.n_findings) {
        doctor_report_free(&report);
        return;
    }
    const struct doctor_finding *f = &report.findings[ui->doctor_scroll];
    enum doctor_fix fix = fix_for(f->rule->id);
    const char *deployment = strncmp(f->subject, "deployment ", 11) == 0 ? f->subject + 11 : NULL;
    if (fix == FIX_POLICIES) {
        ui_action_key(ui, 'p');
    } else if (fix == FIX_FIRE && f->n_pods) {
        fire_at(ui, f->pods[0]);
    } else if (fix == FIX_NONE || !deployment) {
        ui_status(ui, true, "hfitop cannot apply this fix itself: %s", f->fix[0] ? f->fix : f->rule->fix);
    } else if (!ui_may(ui, APP_MAY_PATCH_DEPLOYMENTS)) {
        ui_status(ui, true, "%s: the fix would patch deployment %s", ui->opt->readonly ? "read-only" : "not allowed",
                  deployment);
    } else {
        snprintf(fix_deployment, sizeof fix_deployment, "%s", deployment);
        ui_confirm(ui, fix == FIX_ANNOTATE ? "Add the stats-inclusion annotation?" : "Restart deployment?");
        if (fix == FIX_ANNOTATE) {
            ui_confirm_line(ui, "proxy.istio.io/config: %s", APP_STATS_INCLUSION_CONFIG);
            ui_confirm_line(ui, "on the pod template of deployment %s, namespace %s, context %s", deployment, ui->ns,
                            ui->context);
            ui_confirm_line(ui, "The template changes, so the deployment rolls: new pods take the inclusion.");
            ui_confirm_choice(ui, 'y', "annotate", do_fix_annotate);
        } else {
            ui_confirm_line(ui, "deployment %s in namespace %s, context %s, as kubectl rollout restart", deployment,
                            ui->ns, ui->context);
            ui_confirm_choice(ui, 'y', "restart", do_fix_restart);
        }
    }
    doctor_report_free(&report);
}

static bool doctor_key(struct ui *ui, int ch)
{
    switch (ch) {
    case KEY_DOWN:
    case 'j': ui->doctor_scroll++; return true;
    case KEY_UP:
    case 'k':
        if (ui->doctor_scroll > 0)
            ui->doctor_scroll--;
        return true;
    case '\n':
    case KEY_ENTER: apply_fix(ui); return true;
    default: return false;
    }
}

const struct view_ops view_doctor = {"doctor", draw_doctor, doctor_key};
