/* Which of the console's actions the user may take, asked of the API
 * server with SelfSubjectAccessReviews (kubectl auth can-i), so the console
 * offers only what would succeed. */
#ifndef APP_ACCESS_H
#define APP_ACCESS_H

#include <stdbool.h>

#include "../kube/kube_client.h"

enum app_permission {
    APP_MAY_APPLY_ENVOYFILTER,  /* patch (server-side apply) envoyfilters */
    APP_MAY_DELETE_ENVOYFILTER, /* delete envoyfilters */
    APP_MAY_PATCH_DEPLOYMENTS,  /* restart, annotate */
    APP_MAY_FIRE,               /* get pods/proxy (the fire requests) */
    APP_MAY_EDIT_POLICIES,      /* patch wasmplugins */
    APP_PERMISSION_COUNT
};

enum app_access_answer { APP_ACCESS_UNKNOWN, APP_ACCESS_ALLOWED, APP_ACCESS_DENIED };

struct app_access;

/* The closure of one review, kept inside app_access: nothing to free when
 * a review is cancelled. */
struct app_access_review {
    struct app_access *access;
    enum app_permission permission;
    struct kube_request *request;
};

struct app_access {
    enum app_access_answer answers[APP_PERMISSION_COUNT];
    int pending;
    struct app_access_review reviews[APP_PERMISSION_COUNT];
};

/* Starts one review per permission in `ns`; answers land as they come, so
 * `access` must stay where it is until they have or app_access_cancel.
 * A review that fails leaves UNKNOWN: the action is offered and the API
 * server has the last word. */
void app_access_check(struct kube_client *client, const char *ns, struct app_access *access);
/* Drops the reviews still in flight. */
void app_access_cancel(struct app_access *access);
/* "patch deployments.apps": what a permission needs, for messages. */
const char *app_permission_text(enum app_permission p);

#endif
