/* The doctor's findings for the namespace, each with its fix. */
#include <curses.h>
#include <stdio.h>

#include "../app/doctor.h"
#include "ui_internal.h"

static void draw_doctor(struct ui *ui, int top, int height)
{
    struct doctor_evidence ev = {app_mesh_wasmplugins(ui->mesh), app_mesh_envoyfilters(ui->mesh),
                                 time(NULL)};
    struct doctor_report report = {0};
    char line[1200];
    doctor_run(ui->app, &ev, &report);
    snprintf(line, sizeof line, "doctor: %zu pods checked, %zu with a sidecar: %zu problem(s), %zu note(s)",
             report.pods_checked, report.sidecars, report.problems, report.notes);
    ui_attr_on(ui, report.problems ? UI_COLOR_ERROR : UI_COLOR_OK, A_BOLD);
    ui_put(top, 0, ui->cols, line);
    ui_attr_off(ui, report.problems ? UI_COLOR_ERROR : UI_COLOR_OK, A_BOLD);
    if (!report.n_findings)
        ui_put(top + 2, 0, ui->cols, report.pods_checked ? "healthy: the metrics should be flowing"
                                                         : "no pods yet: waiting for the pod list");

    /* Each finding: title, detail, fix, pods: four lines. */
    int rows = height - 1, y = top + 1, line_no = 0;
    for (size_t k = 0; k < report.n_findings && y < top + rows; k++) {
        const struct doctor_finding *f = &report.findings[k];
        char pods[600] = "";
        size_t used = 0;
        for (size_t i = 0; i < f->n_pods && used + 2 < sizeof pods; i++)
            used += (size_t)snprintf(pods + used, sizeof pods - used, "%s%s", i ? ", " : "", f->pods[i]);
        const char *texts[4] = {NULL, f->detail, f->rule->fix, pods};
        char title[400];
        snprintf(title, sizeof title, "%s %s [%s]: %s", f->rule->severity == DOCTOR_PROBLEM ? "PROBLEM" : "note",
                 f->subject, f->rule->id, f->rule->diagnosis);
        texts[0] = title;
        const char *labels[4] = {"", "    seen: ", "    fix:  ", "    pods: "};
        for (int t = 0; t < 4 && y < top + rows; t++, line_no++) {
            if (line_no < ui->doctor_scroll || !texts[t] || !texts[t][0])
                continue;
            snprintf(line, sizeof line, "%s%s", labels[t], texts[t]);
            if (t == 0)
                ui_attr_on(ui, f->rule->severity == DOCTOR_PROBLEM ? UI_COLOR_ERROR : 0, A_BOLD);
            ui_put(y++, 0, ui->cols, line);
            if (t == 0)
                ui_attr_off(ui, f->rule->severity == DOCTOR_PROBLEM ? UI_COLOR_ERROR : 0, A_BOLD);
        }
    }
    doctor_report_free(&report);
}

static bool doctor_key(struct ui *ui, int ch)
{
    if (ch == KEY_DOWN || ch == 'j') {
        ui->doctor_scroll++;
        return true;
    }
    if ((ch == KEY_UP || ch == 'k') && ui->doctor_scroll > 0) {
        ui->doctor_scroll--;
        return true;
    }
    return false;
}

const struct view_ops view_doctor = {"doctor", draw_doctor, doctor_key};
