#include "access.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const struct {
    const char *verb, *group, *resource, *subresource, *text;
} needs[APP_PERMISSION_COUNT] = {
    [APP_MAY_APPLY_ENVOYFILTER] = {"patch", "networking.istio.io", "envoyfilters", "", "patch envoyfilters"},
    [APP_MAY_DELETE_ENVOYFILTER] = {"delete", "networking.istio.io", "envoyfilters", "", "delete envoyfilters"},
    [APP_MAY_PATCH_DEPLOYMENTS] = {"patch", "apps", "deployments", "", "patch deployments"},
    [APP_MAY_FIRE] = {"get", "", "pods", "proxy", "get pods/proxy"},
    [APP_MAY_EDIT_POLICIES] = {"patch", "extensions.istio.io", "wasmplugins", "", "patch wasmplugins"},
};

const char *app_permission_text(enum app_permission p)
{
    return p < APP_PERMISSION_COUNT ? needs[p].text : "";
}

static void reviewed(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct app_access_review *r = user;
    struct app_access *access = r->access;
    r->request = NULL;
    access->pending--;
    if (resp->error.code == KUBE_OK) {
        cJSON *doc = cJSON_ParseWithLength(resp->body, resp->body_len);
        const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "status"),
                                                                "allowed");
        if (cJSON_IsBool(allowed))
            access->answers[r->permission] = cJSON_IsTrue(allowed) ? APP_ACCESS_ALLOWED : APP_ACCESS_DENIED;
        cJSON_Delete(doc);
    }
}

void app_access_check(struct kube_client *client, const char *ns, struct app_access *access)
{
    memset(access, 0, sizeof *access);
    for (int p = 0; p < APP_PERMISSION_COUNT; p++) {
        cJSON *body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "apiVersion", "authorization.k8s.io/v1");
        cJSON_AddStringToObject(body, "kind", "SelfSubjectAccessReview");
        cJSON *attrs = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "spec"), "resourceAttributes");
        cJSON_AddStringToObject(attrs, "namespace", ns);
        cJSON_AddStringToObject(attrs, "verb", needs[p].verb);
        cJSON_AddStringToObject(attrs, "group", needs[p].group);
        cJSON_AddStringToObject(attrs, "resource", needs[p].resource);
        if (needs[p].subresource[0])
            cJSON_AddStringToObject(attrs, "subresource", needs[p].subresource);
        char *json = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
        if (!json)
            continue;
        struct app_access_review *r = &access->reviews[p];
        r->access = access;
        r->permission = (enum app_permission)p;
        r->request = kube_client_post(client, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json,
                                      strlen(json), reviewed, r);
        if (r->request)
            access->pending++;
        free(json);
    }
}

void app_access_cancel(struct app_access *access)
{
    for (int p = 0; p < APP_PERMISSION_COUNT; p++) {
        if (access->reviews[p].request) {
            kube_request_cancel(access->reviews[p].request);
            access->reviews[p].request = NULL;
        }
    }
    access->pending = 0;
}
