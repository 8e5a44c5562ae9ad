/* hfitop doctor: why a pod's HFI metrics are missing or flat, and what to
 * do. The rules are one table (doctor.c) with a stable id, a one-line
 * diagnosis and a fix each; the console's doctor view and the manifests'
 * troubleshooting table use the same ids and texts. */
#ifndef APP_DOCTOR_H
#define APP_DOCTOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "app.h"

enum doctor_severity {
    DOCTOR_PROBLEM, /* metrics missing or wrong: exit 1 */
    DOCTOR_NOTE,    /* worth knowing; the setup itself is fine */
};

struct doctor_rule {
    const char *id;
    enum doctor_severity severity;
    const char *diagnosis;
    const char *fix;
};

extern const struct doctor_rule doctor_rules[];
extern const size_t doctor_rule_count;
const struct doctor_rule *doctor_rule_find(const char *id);

/* What the doctor looked at besides the model. NULL arrays were not
 * readable (then the rules that need them stay silent). */
struct doctor_evidence {
    const cJSON *wasmplugins;  /* items of the namespace's and istio-system's */
    const cJSON *envoyfilters; /* likewise */
    time_t now;
    const char *user; /* the kubeconfig user, for a fix that names one when the API server did not; or NULL */
    /* --prometheus: the source after a refresh, to compare with (NULL:
     * none), and whether the model itself was filled from it (the console)
     * rather than from the sidecars (hfitop doctor). doctor_run sets both
     * from the model when the model comes from Prometheus. */
    const struct prom_source *prometheus;
    bool model_from_prometheus;
};

/* One rule that fired, for one deployment (or a pod without one); a note
 * about many workloads at once (zero-policies) is one finding for all. */
struct doctor_finding {
    const struct doctor_rule *rule;
    char subject[160]; /* "deployment cart", "pod web-0", "workloads cart, checkout" */
    char detail[512];  /* the first pod's evidence */
    char fix[1024];    /* the rule's fix with NS, POD and YOU filled in for the first pod */
    char **pods;
    size_t n_pods;
};

struct doctor_report {
    struct doctor_finding *findings;
    size_t n_findings;
    size_t pods_checked, sidecars;
    size_t problems, notes;
};

/* Rules for one pod: calls add(rule id, detail) for each that fires. */
typedef void (*doctor_add_fn)(void *user, const char *id, const char *detail);
void doctor_check_pod(const struct app_pod *pod, const struct doctor_evidence *ev, doctor_add_fn add, void *user);

/* Every pod of the model, grouped by deployment; problems first, then
 * notes, each in the order the pods came. */
void doctor_run(const struct app *app, const struct doctor_evidence *ev, struct doctor_report *out);
void doctor_report_free(struct doctor_report *r);

void doctor_print(const struct doctor_report *r, const char *scope, FILE *out);
/* {"scope", "pods_checked", "sidecars", "problems", "notes", "findings":
 * [{"id", "kind", "subject", "diagnosis", "detail", "fix", "pods"}]}; the
 * caller adds to it and frees it. */
cJSON *doctor_report_json(const struct doctor_report *r, const char *scope);

/* rule->fix with the placeholders NS, POD and YOU (whole words) replaced
 * by the namespace, the pod and the user, where given; --user=YOU becomes
 * --serviceaccount=NS:NAME for a service account's user name. */
void doctor_fill_fix(const char *fix, const char *ns, const char *pod, const char *user, char *out, size_t size);

/* The user the API server named in a 403 ("... is forbidden: User \"X\"
 * cannot get resource ...", kubernetes staging/src/k8s.io/apiserver/pkg/
 * endpoints/handlers/responsewriters/errors.go, forbiddenMessage): the one
 * to grant. False when the message names none. */
bool doctor_forbidden_user(const char *message, char *out, size_t size);
/* 0 healthy (notes only), 1 problems found. */
int doctor_exit_code(const struct doctor_report *r);

/* The rule table as Markdown (id, kind, diagnosis, fix), for the
 * troubleshooting table of the documentation. */
void doctor_print_rules_markdown(FILE *out);

#endif
