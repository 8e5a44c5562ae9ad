#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugin/regex.h"
#include "buf.h"
#include "cluster.h"
#include "openapi.h"
#include "patch.h"
#include "proto.h"
#include "rng.h"
#include "schema.h"
#include "selector.h"
#include "sidecar.h"
#include "store.h"
#include "table.h"
#include "yaml.h"

#define USER_NAME "meshsim-admin"
#define DEFAULT_WATCH_TIMEOUT_S 1800
/* Bookmarks about once a minute, and one 2 s before the watch's deadline
 * (kubernetes staging/src/k8s.io/apiserver/pkg/storage/cacher/
 * cache_watcher.go, nextBookmarkTime; cacher.go, defaultBookmarkFrequency). */
#define BOOKMARK_INTERVAL_MS 60000
#define BOOKMARK_BEFORE_DEADLINE_MS 2000
/* watch-expiry: watches end with 410 this soon, and older versions expire. */
#define EXPIRY_WATCH_MS 3000
#define SLOW_SIDECAR_MS 3000
#define WATCH_BACKLOG_LIMIT (8u << 20)
#define RATE_LIMIT_EVERY 3

static struct api_config api_cfg;
static int64_t api_now;
static unsigned long api_requests;

/* ---- Status errors ---- */

/* "pods", "deployments.apps", "envoyfilters.networking.istio.io" */
static void qualified_resource(const struct rtype *t, char *out, size_t size)
{
    if (t->group[0])
        snprintf(out, size, "%s.%s", t->plural, t->group);
    else
        snprintf(out, size, "%s", t->plural);
}

/* A Status of failure; details name the object (group, and kind: the
 * resource's plural or, where the API server says so, its Kind). */
static void status_reply(struct exchange *ex, int code, const char *reason, const char *message, const char *group,
                         const char *kind, const char *name, const char *extra_headers)
{
    struct buf b = {0};
    buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
    buf_json_string(&b, message);
    buf_puts(&b, ",\"reason\":");
    buf_json_string(&b, reason);
    buf_puts(&b, ",\"details\":{");
    int comma = 0;
    if (name) {
        buf_puts(&b, "\"name\":");
        buf_json_string(&b, name);
        comma = 1;
    }
    if (group && group[0]) {
        buf_printf(&b, "%s\"group\":", comma ? "," : "");
        buf_json_string(&b, group);
        comma = 1;
    }
    if (kind)
        buf_printf(&b, "%s\"kind\":\"%s\"", comma ? "," : "", kind);
    buf_printf(&b, "},\"code\":%d}\n", code);
    ex_reply(ex, code, "application/json", b.data, b.len, extra_headers);
    buf_free(&b);
}

static void status_with_details(struct exchange *ex, int code, const char *reason, const char *message,
                                const struct rtype *t, const char *name, const char *extra_headers)
{
    status_reply(ex, code, reason, message, t ? t->group : NULL, t ? t->plural : NULL, name, extra_headers);
}

static void not_found(struct exchange *ex, const struct rtype *t, const char *name)
{
    char qr[128], msg[512];
    qualified_resource(t, qr, sizeof qr);
    snprintf(msg, sizeof msg, "%s \"%s\" not found", qr, name);
    status_with_details(ex, 404, "NotFound", msg, t, name, NULL);
}

static void no_such_path(struct exchange *ex)
{
    status_with_details(ex, 404, "NotFound", "the server could not find the requested resource", NULL, NULL, NULL);
}

static void method_not_allowed(struct exchange *ex)
{
    status_with_details(ex, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                        NULL, NULL, "Allow: GET, HEAD\r\n");
}

static void bad_request(struct exchange *ex, const char *message)
{
    ex_reply_status(ex, 400, "BadRequest", message, NULL);
}

/* 422 with one cause, as validation failures look. */
static void invalid(struct exchange *ex, const struct rtype *t, const char *name, const char *field,
                    const char *cause_reason, const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s%s%s \"%s\" is invalid: %s: %s", t->kind, t->group[0] ? "." : "", t->group,
             name ? name : "", field, detail);
    struct buf b = {0};
    buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
    buf_json_string(&b, msg);
    buf_puts(&b, ",\"reason\":\"Invalid\",\"details\":{\"name\":");
    buf_json_string(&b, name ? name : "");
    if (t->group[0]) {
        buf_puts(&b, ",\"group\":");
        buf_json_string(&b, t->group);
    }
    buf_printf(&b, ",\"kind\":\"%s\",\"causes\":[{\"reason\":", t->kind);
    buf_json_string(&b, cause_reason);
    buf_puts(&b, ",\"message\":");
    buf_json_string(&b, detail);
    buf_puts(&b, ",\"field\":");
    buf_json_string(&b, field);
    buf_puts(&b, "}]},\"code\":422}\n");
    ex_reply(ex, 422, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

static void unsupported_media(struct exchange *ex, const char *ctype)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "the body of the request was in an unknown format - accepted media types include: %s", ctype);
    ex_reply_status(ex, 415, "UnsupportedMediaType", msg, NULL);
}

/* The Warning header of the request being answered ("Warning: 299 - ..."
 * line), or empty: unknown fields under fieldValidation=Warn. Requests are
 * answered one at a time, so one buffer serves; api_handle empties it. */
static struct buf api_warning;

static void reply_json(struct exchange *ex, int code, cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    text[len] = '\n';
    text[len + 1] = '\0';
    ex_reply(ex, code, "application/json", text, len + 1, api_warning.len ? api_warning.data : NULL);
    free(text);
}

static void reply_text(struct exchange *ex, int code, const char *ctype, const char *text)
{
    ex_reply(ex, code, ctype, text, strlen(text), NULL);
}

/* ---- discovery ---- */

static const char *const groups[][2] = {
    {"apps", "v1"},
    {"networking.istio.io", "v1alpha3"},
    {"extensions.istio.io", "v1alpha1"},
    {"authorization.k8s.io", "v1"},
    {"rbac.authorization.k8s.io", "v1"},
    {"authentication.k8s.io", "v1"},
    {"discovery.k8s.io", "v1"},
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

static void verbs_json(struct buf *b, unsigned ops)
{
    static const struct {
        unsigned op;
        const char *verb;
    } verbs[] = {{OP_CREATE, "create"}, {OP_DELETE, "delete"}, {OP_DELETECOLLECTION, "deletecollection"},
                 {OP_GET, "get"},       {OP_LIST, "list"},     {OP_PATCH, "patch"},
                 {OP_UPDATE, "update"}, {OP_WATCH, "watch"}};
    buf_puts(b, "[");
    int first = 1;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (ops & verbs[i].op) {
            buf_printf(b, "%s\"%s\"", first ? "" : ",", verbs[i].verb);
            first = 0;
        }
    buf_puts(b, "]");
}

static void resource_list(struct exchange *ex, const char *group, const char *version)
{
    struct buf b = {0};
    char gv[128];
    if (group[0])
        snprintf(gv, sizeof gv, "%s/%s", group, version);
    else
        snprintf(gv, sizeof gv, "%s", version);
    buf_printf(&b, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"%s\",\"resources\":[", gv);
    int first = 1;
    for (size_t i = 0; RTYPES[i]; i++) {
        const struct rtype *t = RTYPES[i];
        if (strcmp(t->group, group) != 0 || strcmp(t->version, version) != 0)
            continue;
        buf_printf(&b, "%s{\"name\":\"%s\",\"singularName\":\"%s\",\"namespaced\":%s,\"kind\":\"%s\",\"verbs\":",
                   first ? "" : ",", t->plural, t->singular, t->namespaced ? "true" : "false", t->kind);
        verbs_json(&b, t->ops);
        if (t->short_names)
            buf_printf(&b, ",\"shortNames\":%s", t->short_names);
        if (t->categories)
            buf_printf(&b, ",\"categories\":%s", t->categories);
        buf_puts(&b, "}");
        first = 0;
        if (t == &RT_DEPLOYMENTS)
            buf_puts(&b, ",{\"name\":\"deployments/scale\",\"singularName\":\"\",\"namespaced\":true,"
                         "\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\","
                         "\"verbs\":[\"get\",\"patch\",\"update\"]}");
        if (t == &RT_PODS)
            buf_puts(&b, ",{\"name\":\"pods/log\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"Pod\","
                         "\"verbs\":[\"get\"]}");
        if (t == &RT_PODS || t == &RT_SERVICES)
            buf_printf(&b, ",{\"name\":\"%s/proxy\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"%sProxyOptions\","
                           "\"verbs\":[\"create\",\"delete\",\"get\",\"patch\",\"update\"]}",
                       t->plural, t->kind);
    }
    buf_puts(&b, "]}\n");
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

static void group_json(struct buf *b, size_t i)
{
    buf_printf(b,
               "{\"name\":\"%s\",\"versions\":[{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}],"
               "\"preferredVersion\":{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}}",
               groups[i][0], groups[i][0], groups[i][1], groups[i][1], groups[i][0], groups[i][1], groups[i][1]);
}

static void group_list(struct exchange *ex)
{
    struct buf b = {0};
    buf_puts(&b, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[");
    for (size_t i = 0; i < N_GROUPS; i++) {
        if (i)
            buf_puts(&b, ",");
        group_json(&b, i);
    }
    buf_puts(&b, "]}\n");
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

static void version_info(struct exchange *ex)
{
    reply_text(ex, 200, "application/json",
               "{\n  \"major\": \"1\",\n  \"minor\": \"32\",\n  \"gitVersion\": \"v1.32.2\",\n"
               "  \"gitCommit\": \"67a30c0adcf52bd3f56ff0893ce19966be12991f\",\n  \"gitTreeState\": \"clean\",\n"
               "  \"buildDate\": \"2025-02-12T21:19:47Z\",\n  \"goVersion\": \"go1.23.6\",\n  \"compiler\": \"gc\",\n"
               "  \"platform\": \"linux/amd64\"\n}\n");
}

/* ---- OpenAPI v3 ----
 * As the API server's k8s.io/kube-openapi pkg/handler3 serves it:
 * /openapi/v3 lists one document per group version by a serverRelativeURL
 * whose hash changes with the document; each document holds the group
 * version's paths and components.schemas (tests/meshsim/openapi.txt).
 * kubectl explain finds a resource's kind through the
 * x-kubernetes-group-version-kind of its paths' operations, then the schema
 * carrying that kind (kubernetes staging/src/k8s.io/kubectl/pkg/explain/v2,
 * templates/plaintext.tmpl). The PATCH operations list no request body
 * types: when strategic merge is among them, kubectl's client-side apply and
 * diff compute their patch from the schemas and give up with "warning: error
 * calculating patch from openapi v3 spec" at the first field they lack
 * (staging/src/k8s.io/kubectl/pkg/cmd/apply/patcher.go,
 * gvkSupportsPatchOpenAPIV3); without, kubectl computes it from its compiled
 * types, which the API server's own schemas are generated from, so a subset
 * changes nothing there (CRDs get a JSON merge patch either way). The
 * fieldValidation parameter tells kubectl to leave validation to the server. */

static void openapi_gv_path(const struct rtype *t, char *out, size_t size)
{
    if (t->group[0])
        snprintf(out, size, "apis/%s/%s", t->group, t->version);
    else
        snprintf(out, size, "api/%s", t->version);
}

static const char *openapi_schemas_of(const char *gv_path)
{
    for (const struct openapi_gv_schemas *s = OPENAPI_SCHEMAS; s->gv; s++)
        if (strcmp(s->gv, gv_path) == 0)
            return s->schemas;
    return "{}";
}

static void openapi_root(struct exchange *ex)
{
    struct buf b = {0};
    buf_puts(&b, "{\"paths\":{");
    int first = 1;
    for (size_t i = 0; RTYPES[i]; i++) {
        char gv[128];
        openapi_gv_path(RTYPES[i], gv, sizeof gv);
        int seen = 0;
        for (size_t j = 0; j < i; j++) {
            char other[128];
            openapi_gv_path(RTYPES[j], other, sizeof other);
            seen |= strcmp(other, gv) == 0;
        }
        if (seen)
            continue;
        /* FNV-1a of the schemas: a client caching by URL sees new ones. */
        unsigned long long hash = 14695981039346656037ULL;
        for (const char *c = openapi_schemas_of(gv); *c; c++)
            hash = (hash ^ (unsigned char)*c) * 1099511628211ULL;
        buf_printf(&b, "%s\"%s\":{\"serverRelativeURL\":\"/openapi/v3/%s?hash=%016llX\"}", first ? "" : ",", gv, gv,
                   hash);
        first = 0;
    }
    buf_puts(&b, "}}\n");
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

static void openapi_gv(struct exchange *ex, const char *gv_path)
{
    struct buf b = {0};
    buf_puts(&b, "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"v1.32.2\"},\"paths\":{");
    int first = 1;
    for (size_t i = 0; RTYPES[i]; i++) {
        const struct rtype *t = RTYPES[i];
        char gv[128];
        openapi_gv_path(t, gv, sizeof gv);
        if (strcmp(gv, gv_path) != 0 || !(t->ops & (OP_GET | OP_PATCH)))
            continue;
        char gvk[256];
        snprintf(gvk, sizeof gvk, "\"x-kubernetes-group-version-kind\":{\"group\":\"%s\",\"version\":\"%s\",\"kind\":\"%s\"}",
                 t->group, t->version, t->kind);
        buf_printf(&b, "%s\"/%s/%s%s/{name}\":{", first ? "" : ",", gv, t->namespaced ? "namespaces/{namespace}/" : "",
                   t->plural);
        first = 0;
        if (t->ops & OP_GET)
            buf_printf(&b,
                       "\"get\":{\"operationId\":\"read%s\",\"x-kubernetes-action\":\"get\",%s,"
                       "\"responses\":{\"200\":{\"description\":\"OK\"}}}%s",
                       t->kind, gvk, t->ops & OP_PATCH ? "," : "");
        if (t->ops & OP_PATCH)
            buf_printf(&b,
                       "\"patch\":{\"operationId\":\"patch%s\",\"x-kubernetes-action\":\"patch\",%s,"
                       "\"parameters\":["
                       "{\"name\":\"dryRun\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"uniqueItems\":true}},"
                       "{\"name\":\"fieldManager\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"uniqueItems\":true}},"
                       "{\"name\":\"fieldValidation\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"uniqueItems\":true}},"
                       "{\"name\":\"force\",\"in\":\"query\",\"schema\":{\"type\":\"boolean\",\"uniqueItems\":true}}],"
                       "\"responses\":{\"200\":{\"description\":\"OK\"}}}",
                       t->kind, gvk);
        buf_puts(&b, "}");
    }
    buf_printf(&b, "},\"components\":{\"schemas\":%s}}\n", openapi_schemas_of(gv_path));
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

/* ---- request bodies ---- */

static int content_type_is(const struct request *req, const char *want)
{
    const char *ct = request_header(req, "Content-Type");
    if (!ct)
        return 0;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* JSON or YAML body; NULL after answering 400. */
static cJSON *parse_body(struct exchange *ex, const struct request *req, int yaml_allowed)
{
    char err[512];
    const char *p = req->body;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    cJSON *j = NULL;
    if (*p == '{' || *p == '[' || !yaml_allowed) {
        const char *end = NULL;
        j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
        if (!j && yaml_allowed) /* JSON is YAML: libyaml may still take it */
            j = yaml_to_json(req->body, req->body_len, err, sizeof err);
        if (!j) {
            long offset = end && end >= req->body ? (long)(end - req->body) : 0;
            snprintf(err, sizeof err, "couldn't get version/kind; json parse error: invalid JSON near offset %ld",
                     offset);
            bad_request(ex, err);
            return NULL;
        }
    } else {
        j = yaml_to_json(req->body, req->body_len, err, sizeof err);
        if (!j) {
            char msg[600];
            snprintf(msg, sizeof msg, "error converting YAML to JSON: %s", err);
            bad_request(ex, msg);
            return NULL;
        }
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        bad_request(ex, "couldn't get version/kind; json parse error: expected an object");
        return NULL;
    }
    return j;
}

/* apiVersion/kind of a body must name the URL's type. A built-in type's
 * body may leave them out: the API server decodes it with the URL's kind as
 * the default (kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/
 * handlers/create.go, decoder.Decode(body, &defaultGVK, ...)); custom
 * resources are decoded as unstructured, which requires them. */
static int check_type(struct exchange *ex, const struct rtype *t, cJSON *obj, int required)
{
    char av[96], msg[512];
    rtype_api_version(t, av, sizeof av);
    const char *have_av = json_str(obj, "apiVersion");
    const char *have_kind = json_str(obj, "kind");
    if ((!have_av || !have_kind) && required) {
        bad_request(ex, "Object 'Kind' is missing in request body");
        return -1;
    }
    if (have_av && strcmp(have_av, av) != 0) {
        snprintf(msg, sizeof msg, "the API version in the data (%.100s) does not match the expected API version (%s)",
                 have_av, av);
        bad_request(ex, msg);
        return -1;
    }
    if (have_kind && strcmp(have_kind, t->kind) != 0) {
        snprintf(msg, sizeof msg, "the kind in the data (%.100s) does not match the expected kind (%s)", have_kind,
                 t->kind);
        bad_request(ex, msg);
        return -1;
    }
    return 0;
}

static int dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '.') && i > 0 && i < n - 1))
            return 0;
    }
    return 1;
}

/* Deployments need a selector their template's labels satisfy. */
static int validate_deployment(struct exchange *ex, cJSON *obj)
{
    const char *name = json_str(obj, "metadata.name");
    cJSON *sel = json_path(obj, "spec.selector.matchLabels");
    cJSON *labels = json_path(obj, "spec.template.metadata.labels");
    if (!cJSON_IsObject(sel) || !sel->child) {
        invalid(ex, &RT_DEPLOYMENTS, name, "spec.selector", "FieldValueRequired", "Required value");
        return -1;
    }
    cJSON *want;
    cJSON_ArrayForEach(want, sel)
    {
        const char *have = json_key_str(labels, want->string);
        if (!cJSON_IsString(want) || !have || strcmp(have, want->valuestring) != 0) {
            invalid(ex, &RT_DEPLOYMENTS, name, "spec.template.metadata.labels", "FieldValueInvalid",
                    "Invalid value: selector does not match template labels");
            return -1;
        }
    }
    if (cJSON_GetArraySize(json_path(obj, "spec.template.spec.containers")) < 1) {
        invalid(ex, &RT_DEPLOYMENTS, name, "spec.template.spec.containers", "FieldValueRequired", "Required value");
        return -1;
    }
    return 0;
}

/* Validation the CRD schemas do for the fields meshsim looks at. */
static int validate_object(struct exchange *ex, const struct rtype *t, cJSON *obj)
{
    const char *name = json_str(obj, "metadata.name");
    if (!name || !name[0]) {
        invalid(ex, t, "", "metadata.name", "FieldValueRequired", "Required value: name or generateName is required");
        return -1;
    }
    if (!dns_subdomain(name)) {
        char detail[700];
        snprintf(detail, sizeof detail,
                 "Invalid value: \"%.200s\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                 "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                 name);
        invalid(ex, t, name, "metadata.name", "FieldValueInvalid", detail);
        return -1;
    }
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    if (spec && !cJSON_IsObject(spec)) {
        invalid(ex, t, name, "spec", "FieldValueTypeInvalid", "Invalid value: \"string\": spec in body must be of type object");
        return -1;
    }
    if (t == &RT_ENVOYFILTERS) {
        static const char *const apply_to[] = {"INVALID", "LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER",
                                               "ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER",
                                               "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER", NULL};
        cJSON *patches = cJSON_GetObjectItemCaseSensitive(spec, "configPatches");
        if (patches && !cJSON_IsArray(patches)) {
            invalid(ex, t, name, "spec.configPatches", "FieldValueTypeInvalid",
                    "Invalid value: \"object\": spec.configPatches in body must be of type array");
            return -1;
        }
        cJSON *p;
        int idx = 0;
        cJSON_ArrayForEach(p, patches)
        {
            const char *a = json_str(p, "applyTo");
            int ok = !a;
            for (size_t i = 0; a && apply_to[i]; i++)
                ok |= strcmp(a, apply_to[i]) == 0;
            if (!ok) {
                char field[64], detail[600];
                snprintf(field, sizeof field, "spec.configPatches[%d].applyTo", idx);
                snprintf(detail, sizeof detail,
                         "Unsupported value: \"%.100s\": supported values: \"INVALID\", \"LISTENER\", \"FILTER_CHAIN\", "
                         "\"NETWORK_FILTER\", \"HTTP_FILTER\", \"ROUTE_CONFIGURATION\", \"VIRTUAL_HOST\", \"HTTP_ROUTE\", "
                         "\"CLUSTER\", \"EXTENSION_CONFIG\", \"BOOTSTRAP\", \"LISTENER_FILTER\"",
                         a);
                invalid(ex, t, name, field, "FieldValueNotSupported", detail);
                return -1;
            }
            idx++;
        }
    }
    if (t == &RT_DEPLOYMENTS && validate_deployment(ex, obj) != 0)
        return -1;
    if (t == &RT_WASMPLUGINS) {
        cJSON *pc = cJSON_GetObjectItemCaseSensitive(spec, "pluginConfig");
        if (pc && !cJSON_IsObject(pc)) {
            invalid(ex, t, name, "spec.pluginConfig", "FieldValueTypeInvalid",
                    "Invalid value: \"string\": spec.pluginConfig in body must be of type object");
            return -1;
        }
    }
    return 0;
}

/* obj[key] = value unless obj already has key (value consumed either way). */
static void default_item(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_IsObject(obj) && !cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_AddItemToObject(obj, key, value);
    else
        cJSON_Delete(value);
}

/* A pod template's defaults (kubernetes pkg/apis/core/v1/defaults.go:
 * SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_ContainerPort). */
static void default_pod_spec(cJSON *spec)
{
    default_item(spec, "restartPolicy", cJSON_CreateString("Always"));
    default_item(spec, "dnsPolicy", cJSON_CreateString("ClusterFirst"));
    default_item(spec, "terminationGracePeriodSeconds", cJSON_CreateNumber(30));
    default_item(spec, "schedulerName", cJSON_CreateString("default-scheduler"));
    default_item(spec, "securityContext", cJSON_CreateObject());
    static const char *const lists[] = {"containers", "initContainers", NULL};
    for (size_t l = 0; lists[l]; l++) {
        cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l]))
        {
            /* Always when the tag is "latest", which no tag and no digest
             * means; else IfNotPresent. */
            const char *image = json_str(c, "image");
            int latest = 0;
            if (image && !strchr(image, '@')) {
                const char *slash = strrchr(image, '/');
                const char *tag = strchr(slash ? slash : image, ':');
                latest = !tag || strcmp(tag, ":latest") == 0;
            }
            default_item(c, "imagePullPolicy", cJSON_CreateString(latest ? "Always" : "IfNotPresent"));
            default_item(c, "terminationMessagePath", cJSON_CreateString("/dev/termination-log"));
            default_item(c, "terminationMessagePolicy", cJSON_CreateString("File"));
            default_item(c, "resources", cJSON_CreateObject());
            cJSON *port;
            cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(c, "ports"))
                default_item(port, "protocol", cJSON_CreateString("TCP"));
        }
    }
}

static unsigned next_cluster_ip;

/* What the API server fills in before storing a built-in object: its
 * defaulting functions run on every decode (create, update, patch), the
 * Service registry allocates a ClusterIP on create. Deployments: kubernetes
 * pkg/apis/apps/v1/defaults.go, SetDefaults_Deployment; Services:
 * pkg/apis/core/v1/defaults.go, SetDefaults_Service, and
 * pkg/registry/core/service/storage/alloc.go. */
static void set_defaults(const struct rtype *t, cJSON *obj, int creating)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    if (!cJSON_IsObject(spec))
        return;
    if (t == &RT_DEPLOYMENTS) {
        default_item(spec, "replicas", cJSON_CreateNumber(1));
        default_item(spec, "revisionHistoryLimit", cJSON_CreateNumber(10));
        default_item(spec, "progressDeadlineSeconds", cJSON_CreateNumber(600));
        default_item(spec, "strategy", cJSON_CreateObject());
        cJSON *strategy = cJSON_GetObjectItemCaseSensitive(spec, "strategy");
        default_item(strategy, "type", cJSON_CreateString("RollingUpdate"));
        const char *type = json_str(strategy, "type");
        if (type && strcmp(type, "RollingUpdate") == 0) {
            default_item(strategy, "rollingUpdate", cJSON_CreateObject());
            cJSON *ru = cJSON_GetObjectItemCaseSensitive(strategy, "rollingUpdate");
            default_item(ru, "maxUnavailable", cJSON_CreateString("25%"));
            default_item(ru, "maxSurge", cJSON_CreateString("25%"));
        }
        default_pod_spec(json_path(spec, "template.spec"));
    } else if (t == &RT_SERVICES) {
        default_item(spec, "type", cJSON_CreateString("ClusterIP"));
        default_item(spec, "sessionAffinity", cJSON_CreateString("None"));
        const char *type = json_str(spec, "type");
        int external_name = type && strcmp(type, "ExternalName") == 0;
        if (!external_name)
            default_item(spec, "internalTrafficPolicy", cJSON_CreateString("Cluster"));
        cJSON *port;
        cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
        {
            default_item(port, "protocol", cJSON_CreateString("TCP"));
            cJSON *number = cJSON_GetObjectItemCaseSensitive(port, "port");
            if (cJSON_IsNumber(number))
                default_item(port, "targetPort", cJSON_CreateNumber(number->valuedouble));
        }
        if (creating && !external_name && !json_str(spec, "clusterIP")) {
            char ip[32];
            snprintf(ip, sizeof ip, "10.96.%u.%u", 200 + (next_cluster_ip / 250) % 50, next_cluster_ip % 250 + 2);
            next_cluster_ip++;
            json_set_str(spec, "clusterIP", ip);
            default_item(spec, "clusterIPs", cJSON_CreateStringArray((const char *const[]){ip}, 1));
            default_item(spec, "ipFamilies", cJSON_CreateStringArray((const char *const[]){"IPv4"}, 1));
            default_item(spec, "ipFamilyPolicy", cJSON_CreateString("SingleStack"));
        }
    }
}

static void after_change(struct object *o)
{
    if (o->type == &RT_WASMPLUGINS)
        cluster_wasmplugins_changed(o->ns);
    else if (o->type == &RT_DEPLOYMENTS)
        cluster_deployment_changed(o, api_now);
    else if (o->type == &RT_SERVICES || o->type == &RT_PODS)
        cluster_services_changed();
}

/* generation moves when anything but metadata and status changes. */
static void bump_generation(cJSON *before, cJSON *after)
{
    cJSON *a = cJSON_Duplicate(before, 1), *b = cJSON_Duplicate(after, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(a, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(b, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(a, "status");
    cJSON_DeleteItemFromObjectCaseSensitive(b, "status");
    int same = cJSON_Compare(a, b, 1);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (same)
        return;
    cJSON *meta = json_obj_ensure(after, "metadata");
    cJSON *g = cJSON_GetObjectItemCaseSensitive(meta, "generation");
    double next = cJSON_IsNumber(g) ? g->valuedouble + 1 : 1;
    if (g)
        cJSON_ReplaceItemInObjectCaseSensitive(meta, "generation", cJSON_CreateNumber(next));
    else
        cJSON_AddNumberToObject(meta, "generation", next);
}

/* Server-owned metadata survives any update. */
static void keep_server_metadata(cJSON *from, cJSON *to)
{
    static const char *const keys[] = {"uid", "creationTimestamp", "generation", "resourceVersion", "name",
                                       "namespace", "deletionTimestamp", "ownerReferences", NULL};
    cJSON *fm = json_path(from, "metadata");
    cJSON *tm = json_obj_ensure(to, "metadata");
    for (size_t i = 0; keys[i]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(fm, keys[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(tm, keys[i]);
        if (v)
            cJSON_AddItemToObject(tm, keys[i], cJSON_Duplicate(v, 1));
    }
    if (!cJSON_GetObjectItemCaseSensitive(to, "status") && cJSON_GetObjectItemCaseSensitive(from, "status"))
        cJSON_AddItemToObject(to, "status", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(from, "status"), 1));
}

/* A write whose object names a resourceVersion other than the stored one
 * is refused with 409 Conflict: the optimistic lock of every update and
 * patch. A patch that sets no resourceVersion leaves the stored one in the
 * patched object, so it always passes (kubernetes
 * staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go,
 * Store.Update: "newResourceVersion != existingResourceVersion" ->
 * NewConflict with OptimisticLockErrorMsg). True when it refused. */
static int stale_resource_version(struct exchange *ex, const struct object *o, const char *rv)
{
    if (!rv || !*rv || strtoull(rv, NULL, 10) == o->rv)
        return 0;
    char qr[128], msg[600];
    qualified_resource(o->type, qr, sizeof qr);
    snprintf(msg, sizeof msg,
             "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your "
             "changes to the latest version and try again",
             qr, o->name);
    status_with_details(ex, 409, "Conflict", msg, o->type, o->name, NULL);
    return 1;
}

/* Replaces o's JSON with next (consumed) after validating what may change:
 * 0 when stored (the caller answers). A dry run stores nothing and answers
 * with what would have been stored: 1. */
static int commit_update(struct exchange *ex, struct object *o, cJSON *next, int dry)
{
    if (stale_resource_version(ex, o, json_str(next, "metadata.resourceVersion"))) {
        cJSON_Delete(next);
        return -1;
    }
    keep_server_metadata(o->json, next);
    cJSON_DeleteItemFromObjectCaseSensitive(next, "kind");
    cJSON_DeleteItemFromObjectCaseSensitive(next, "apiVersion");
    set_defaults(o->type, next, 0);
    if (validate_object(ex, o->type, next) != 0) {
        cJSON_Delete(next);
        return -1;
    }
    if (o->type == &RT_PODS && !cJSON_Compare(json_path(o->json, "spec"), json_path(next, "spec"), 1)) {
        /* Metadata (labels, annotations) may change; the spec is fixed
         * but for a few fields meshsim does not model (kubernetes
         * pkg/apis/core/validation/validation.go, ValidatePodUpdate). */
        invalid(ex, o->type, o->name, "spec", "FieldValueForbidden",
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to "
                "existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)");
        cJSON_Delete(next);
        return -1;
    }
    if (o->type == &RT_DEPLOYMENTS &&
        !cJSON_Compare(json_path(o->json, "spec.selector"), json_path(next, "spec.selector"), 1)) {
        invalid(ex, o->type, o->name, "spec.selector", "FieldValueInvalid",
                "Invalid value: v1.LabelSelector: field is immutable");
        cJSON_Delete(next);
        return -1;
    }
    bump_generation(o->json, next);
    if (dry) {
        cJSON *preview = cJSON_CreateObject();
        cJSON_AddItemToObject(preview, "kind", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o->json, "kind"), 1));
        cJSON_AddItemToObject(preview, "apiVersion",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o->json, "apiVersion"), 1));
        cJSON *c;
        while ((c = next->child)) {
            cJSON_DetachItemViaPointer(next, c);
            char *key = strdup(c->string);
            cJSON_AddItemToObject(preview, key, c);
            free(key);
        }
        cJSON_Delete(next);
        reply_json(ex, 200, preview);
        cJSON_Delete(preview);
        return 1;
    }
    /* Keep kind and apiVersion first. */
    cJSON *kind = cJSON_DetachItemFromObjectCaseSensitive(o->json, "kind");
    cJSON *av = cJSON_DetachItemFromObjectCaseSensitive(o->json, "apiVersion");
    cJSON_Delete(o->json);
    o->json = cJSON_CreateObject();
    cJSON_AddItemToObject(o->json, "kind", kind);
    cJSON_AddItemToObject(o->json, "apiVersion", av);
    cJSON *c;
    while ((c = next->child)) {
        cJSON_DetachItemViaPointer(next, c);
        char *key = strdup(c->string);
        cJSON_AddItemToObject(o->json, key, c);
        free(key);
    }
    cJSON_Delete(next);
    store_modified(o);
    after_change(o);
    return 0;
}

/* ---- base64url for continue tokens ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(struct buf *out, const unsigned char *in, size_t len)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
        buf_append(out, q, i + 2 < len ? 4 : i + 1 < len ? 3 : 2);
    }
}

static int b64url_decode(const char *in, struct buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        const char *pos = strchr(b64, *p);
        if (*p == '=')
            break;
        if (!pos)
            return -1;
        acc = acc << 6 | (uint32_t)(pos - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            buf_append(out, &c, 1);
        }
    }
    return 0;
}

/* ---- list ---- */

static int object_in_scope(struct object *o, const char *ns, const struct selector *ls, const struct selector *fs)
{
    if (ns && strcmp(o->ns, ns) != 0)
        return 0;
    return selector_matches(ls, o->json) && selector_matches(fs, o->json);
}

/* Built-in lists carry items without kind/apiVersion; custom resources keep them. */
static void print_item(struct buf *b, cJSON *obj, int strip_type)
{
    if (!strip_type) {
        char *t = cJSON_PrintUnformatted(obj);
        buf_puts(b, t);
        free(t);
        return;
    }
    buf_puts(b, "{");
    int first = 1;
    for (cJSON *c = obj->child; c; c = c->next) {
        if (strcmp(c->string, "kind") == 0 || strcmp(c->string, "apiVersion") == 0)
            continue;
        if (!first)
            buf_puts(b, ",");
        first = 0;
        buf_json_string(b, c->string);
        buf_puts(b, ":");
        char *t = cJSON_PrintUnformatted(c);
        buf_puts(b, t);
        free(t);
    }
    buf_puts(b, "}");
}

static int is_custom(const struct rtype *t)
{
    return strstr(t->group, "istio.io") != NULL;
}

/* Field selectors the API server supports, per resource. */
static const char *const *selectable_fields(const struct rtype *t)
{
    static const char *const metadata[] = {"metadata.name", "metadata.namespace", NULL};
    static const char *const pods[] = {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                                       "spec.schedulerName", "spec.serviceAccountName", "status.phase",
                                       "status.podIP", "status.nominatedNodeName", NULL};
    static const char *const namespaces[] = {"metadata.name", "status.phase", NULL};
    /* kubernetes pkg/registry/core/event/strategy.go, ToSelectableFields. */
    static const char *const events[] = {"metadata.name", "metadata.namespace", "involvedObject.kind",
                                         "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                                         "involvedObject.apiVersion", "involvedObject.resourceVersion",
                                         "involvedObject.fieldPath", "reason", "reportingComponent", "type", NULL};
    return t == &RT_PODS ? pods : t == &RT_NAMESPACES ? namespaces : t == &RT_EVENTS ? events : metadata;
}

static int parse_selectors(struct exchange *ex, const struct request *req, const struct rtype *t,
                           struct selector **ls, struct selector **fs)
{
    char err[256];
    *ls = *fs = NULL;
    const char *l = request_param(req, "labelSelector");
    const char *f = request_param(req, "fieldSelector");
    if (l && !(*ls = label_selector_parse(l, err, sizeof err))) {
        bad_request(ex, err);
        return -1;
    }
    if (f && !(*fs = field_selector_parse(f, selectable_fields(t), err, sizeof err))) {
        selector_free(*ls);
        *ls = NULL;
        bad_request(ex, err);
        return -1;
    }
    return 0;
}

/* A boolean query parameter as the API server reads it: absent, "0" and
 * "false" in any case are false, anything else (even "" or "True") is true
 * (kubernetes staging/src/k8s.io/apimachinery/pkg/runtime/conversion.go,
 * Convert_Slice_string_To_bool; not strconv.ParseBool). */
static int param_true(const struct request *req, const char *name)
{
    const char *v = request_param(req, name);
    return v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}

/* What encoding/json calls a JSON value in its UnmarshalTypeError. */
static const char *json_value_name(const cJSON *v)
{
    return cJSON_IsString(v) ? "string" : cJSON_IsNumber(v) ? "number" : cJSON_IsBool(v) ? "bool"
           : cJSON_IsArray(v)                                        ? "array"
                                                                     : "object";
}

/* Whether v (not null) decodes into the Go type named: int64, bool,
 * []string, a struct (v1.Preconditions) or a string kind (string,
 * types.UID, v1.DeletionPropagation). An int64 takes integers only. */
static int fits_go_type(const cJSON *v, const char *go_type)
{
    if (strcmp(go_type, "int64") == 0)
        return cJSON_IsNumber(v) && v->valuedouble >= -9223372036854775808.0 &&
               v->valuedouble < 9223372036854775808.0 && v->valuedouble == (double)(int64_t)v->valuedouble;
    if (strcmp(go_type, "bool") == 0)
        return cJSON_IsBool(v);
    if (strcmp(go_type, "[]string") == 0)
        return cJSON_IsArray(v);
    if (strcmp(go_type, "v1.Preconditions") == 0)
        return cJSON_IsObject(v);
    return cJSON_IsString(v);
}

/* The first member of obj (a Go struct struct_name, reached by path) whose
 * JSON type its field cannot take, as encoding/json reports it: "json:
 * cannot unmarshal string into Go struct field DeleteOptions.dryRun of type
 * string". fields: JSON name, Go type, ... NULL. 1 when there is one. */
static int go_type_error(const cJSON *obj, const char *struct_name, const char *path, const char *const *fields,
                         char *err, size_t size)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        for (size_t i = 0; fields[i]; i += 2) {
            if (strcmp(m->string, fields[i]) != 0 || cJSON_IsNull(m))
                continue;
            const char *go_type = fields[i + 1];
            const cJSON *bad = fits_go_type(m, go_type) ? NULL : m;
            if (!bad && strcmp(go_type, "[]string") == 0) {
                const cJSON *item;
                cJSON_ArrayForEach(item, m)
                {
                    if (!bad && !cJSON_IsString(item))
                        bad = item;
                }
                go_type = "string";
            }
            if (!bad)
                break;
            char value[64];
            if (cJSON_IsNumber(bad) && strcmp(go_type, "int64") == 0)
                snprintf(value, sizeof value, "number %.17g", bad->valuedouble);
            else
                snprintf(value, sizeof value, "%s", json_value_name(bad));
            snprintf(err, size, "json: cannot unmarshal %s into Go struct field %s.%s%s%s of type %s", value,
                     struct_name, path, path[0] ? "." : "", m->string, go_type);
            return 1;
        }
    }
    return 0;
}

/* A DELETE's options (metav1.DeleteOptions) as the API server decodes
 * them: the body when there is one, and then no query parameter counts;
 * else the query's dryRun, propagationPolicy and orphanDependents
 * (kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/handlers/delete.go,
 * DeleteResource). Any apiVersion may come with kind DeleteOptions (the
 * per-group DeleteOptions older clients send). NULL with the decoder's
 * message in err when the body does not decode: the JSON serializer's
 * (apimachinery pkg/runtime/serializer/json/json.go, Decode: the
 * apiVersion and kind first, then the fields of
 * staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go DeleteOptions
 * and Preconditions). */
static cJSON *delete_options(const struct request *req, char *err, size_t size)
{
    if (!req->body_len) {
        cJSON *opts = cJSON_CreateObject();
        cJSON *dry = cJSON_AddArrayToObject(opts, "dryRun");
        for (size_t i = 0; i < req->n_params; i++)
            if (strcmp(req->params[i].name, "dryRun") == 0)
                cJSON_AddItemToArray(dry, cJSON_CreateString(req->params[i].value));
        const char *policy = request_param(req, "propagationPolicy");
        if (policy)
            cJSON_AddStringToObject(opts, "propagationPolicy", policy);
        if (request_param(req, "orphanDependents"))
            cJSON_AddBoolToObject(opts, "orphanDependents", param_true(req, "orphanDependents"));
        return opts;
    }
    const char *end = NULL;
    cJSON *opts = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (!opts) {
        long offset = end && end >= req->body ? (long)(end - req->body) : 0;
        snprintf(err, size, "couldn't get version/kind; json parse error: invalid JSON near offset %ld", offset);
        return NULL;
    }
    if (cJSON_IsNull(opts)) {
        cJSON_Delete(opts);
        return cJSON_CreateObject();
    }
    static const char *const type_meta[] = {"apiVersion", "string", "kind", "string", NULL};
    static const char *const options[] = {"gracePeriodSeconds", "int64", "preconditions", "v1.Preconditions",
                                          "orphanDependents", "bool", "propagationPolicy", "v1.DeletionPropagation",
                                          "dryRun", "[]string",
                                          "ignoreStoreReadErrorWithClusterBreakingPotential", "bool", NULL};
    static const char *const preconditions[] = {"uid", "types.UID", "resourceVersion", "string", NULL};
    char type_err[400];
    if (!cJSON_IsObject(opts)) {
        snprintf(err, size, "couldn't get version/kind; json parse error: expected an object");
    } else if (go_type_error(opts, "", "", type_meta, type_err, sizeof type_err)) {
        snprintf(err, size, "couldn't get version/kind; json parse error: %s", type_err);
    } else if (!go_type_error(opts, "DeleteOptions", "", options, err, size) &&
               !go_type_error(cJSON_GetObjectItemCaseSensitive(opts, "preconditions"), "Preconditions",
                              "preconditions", preconditions, err, size)) {
        return opts;
    }
    cJSON_Delete(opts);
    return NULL;
}

/* A write's dryRun values (a DELETE's from its options), as a JSON array
 * the caller frees. */
static cJSON *dry_run_values(const struct request *req)
{
    cJSON *values = NULL;
    if (strcmp(req->method, "DELETE") == 0) {
        char err[512];
        cJSON *opts = delete_options(req, err, sizeof err);
        values = cJSON_DetachItemFromObjectCaseSensitive(opts, "dryRun");
        cJSON_Delete(opts);
    } else {
        values = cJSON_CreateArray();
        for (size_t i = 0; i < req->n_params; i++)
            if (strcmp(req->params[i].name, "dryRun") == 0)
                cJSON_AddItemToArray(values, cJSON_CreateString(req->params[i].value));
    }
    return values ? values : cJSON_CreateArray();
}

/* dryRun=All: the request is checked and answered in full, nothing is
 * stored and nothing moves (kubernetes staging/src/k8s.io/apiserver/pkg/
 * endpoints/handlers/create.go, patch.go, update.go, delete.go: the options'
 * DryRun reaches the registry, which skips the storage write). */
static int dry_run(const struct request *req)
{
    cJSON *values = dry_run_values(req);
    int dry = cJSON_GetArraySize(values) > 0;
    cJSON_Delete(values);
    return dry;
}

/* An error the API server has no Status for: 500 with the reason left out,
 * as a DeleteOptions body that does not decode gets (apiserver
 * pkg/endpoints/handlers/responsewriters/status.go, ErrorToAPIStatus:
 * convertStorageErrorOrNot, StatusReasonUnknown is ""). */
static void internal_error_unknown(struct exchange *ex, const char *message)
{
    struct buf b = {0};
    buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
    buf_json_string(&b, message);
    buf_puts(&b, ",\"code\":500}\n");
    ex_reply(ex, 500, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

/* One more validation error of an options object, for an aggregate. */
static void add_option_error(struct buf *errs, int *n, const char *text)
{
    buf_printf(errs, "%s%s", (*n)++ ? ", " : "", text);
}

/* Options are validated before the object is looked up; every error is
 * reported, as one 422 Invalid on the options (apimachinery
 * pkg/apis/meta/v1/validation/validation.go: ValidateDryRun, every dryRun
 * value "All"; ValidateFieldValidation, one of "", Ignore, Strict and Warn,
 * for create, update and patch; ValidateDeleteOptions, a propagationPolicy
 * of Foreground, Background or Orphan, not with orphanDependents; joined
 * as "[a, b]" when more than one, util/errors Aggregate). A DeleteOptions
 * body that does not decode is a 500 first (handlers/delete.go). */
static int check_write_options(struct exchange *ex, const struct request *req)
{
    int is_delete = strcmp(req->method, "DELETE") == 0;
    const char *options = strcmp(req->method, "POST") == 0    ? "CreateOptions"
                          : strcmp(req->method, "PUT") == 0   ? "UpdateOptions"
                          : strcmp(req->method, "PATCH") == 0 ? "PatchOptions"
                                                              : "DeleteOptions";
    struct buf errs = {0}, text = {0};
    int n = 0;
    if (is_delete) {
        char err[512];
        cJSON *opts = delete_options(req, err, sizeof err);
        if (!opts) {
            internal_error_unknown(ex, err);
            return -1;
        }
        const char *policy = json_str(opts, "propagationPolicy");
        if (policy && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(opts, "orphanDependents"))) {
            buf_puts(&text, "propagationPolicy: Invalid value: ");
            buf_json_string(&text, policy);
            buf_puts(&text, ": orphanDependents and deletionPropagation cannot be both set");
            add_option_error(&errs, &n, text.data);
            text.len = 0;
        }
        if (policy && strcmp(policy, "Foreground") != 0 && strcmp(policy, "Background") != 0 &&
            strcmp(policy, "Orphan") != 0) {
            buf_puts(&text, "propagationPolicy: Unsupported value: ");
            buf_json_string(&text, policy);
            buf_puts(&text, ": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
            add_option_error(&errs, &n, text.data);
            text.len = 0;
        }
        cJSON_Delete(opts);
    }
    cJSON *dry = dry_run_values(req), *v;
    int unsupported = 0;
    cJSON_ArrayForEach(v, dry)
    {
        unsupported |= strcmp(v->valuestring, "All") != 0;
    }
    if (unsupported) {
        /* The whole list, as Go's %#v prints a []string. */
        buf_puts(&text, "dryRun: Unsupported value: []string{");
        cJSON_ArrayForEach(v, dry)
        {
            buf_puts(&text, v == dry->child ? "" : ", ");
            buf_json_string(&text, v->valuestring);
        }
        buf_puts(&text, "}: supported values: \"All\"");
        add_option_error(&errs, &n, text.data);
        text.len = 0;
    }
    cJSON_Delete(dry);
    const char *fv = request_param(req, "fieldValidation");
    if (!is_delete && fv && *fv && strcmp(fv, "Ignore") != 0 && strcmp(fv, "Strict") != 0 &&
        strcmp(fv, "Warn") != 0) {
        buf_puts(&text, "fieldValidation: Unsupported value: ");
        buf_json_string(&text, fv);
        buf_puts(&text, ": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
        add_option_error(&errs, &n, text.data);
    }
    buf_free(&text);
    if (!n) {
        buf_free(&errs);
        return 0;
    }
    struct buf msg = {0};
    buf_printf(&msg, "%s.meta.k8s.io \"\" is invalid: %s%s%s", options, n > 1 ? "[" : "", errs.data,
               n > 1 ? "]" : "");
    ex_reply_status(ex, 422, "Invalid", msg.data, NULL);
    buf_free(&msg);
    buf_free(&errs);
    return -1;
}

/* fieldValidation=Strict (kubectl's default): a body naming a field the
 * type does not have is refused with 400, as the API server's strict
 * decoding does (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
 * create.go, update.go, patch.go); Warn, the default, lets it through with
 * a Warning header (`299 - "unknown field ..."`: apimachinery
 * pkg/util/net/http.go, NewWarningHeader); Ignore says nothing. body is the object sent, or the merge or
 * strategic patch, which has its shape. -1 after answering. */
static int strict_fields(struct exchange *ex, const struct request *req, const struct rtype *t, const cJSON *body)
{
    const char *fv = request_param(req, "fieldValidation");
    char field[512];
    if ((fv && strcmp(fv, "Ignore") == 0) || !schema_unknown_field(t, body, field, sizeof field))
        return 0;
    if (!fv || strcmp(fv, "Strict") != 0) {
        struct buf text = {0};
        buf_puts(&text, "unknown field ");
        buf_json_string(&text, field);
        buf_puts(&api_warning, "Warning: 299 - ");
        buf_json_string(&api_warning, text.data);
        buf_puts(&api_warning, "\r\n");
        buf_free(&text);
        return 0;
    }
    struct buf msg = {0};
    buf_puts(&msg, "strict decoding error: unknown field ");
    buf_json_string(&msg, field);
    bad_request(ex, msg.data);
    buf_free(&msg);
    return -1;
}

static void start_watch(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns,
                        struct selector *ls, struct selector *fs);

static void invalid_list_options(struct exchange *ex, const char *field, const char *detail)
{
    char msg[400];
    snprintf(msg, sizeof msg, "ListOptions.meta.k8s.io \"\" is invalid: %s: %s", field, detail);
    ex_reply_status(ex, 422, "Invalid", msg, NULL);
}

/* resourceVersionMatch and sendInitialEvents, checked as the API server
 * does (kubernetes staging/src/k8s.io/apimachinery/pkg/apis/meta/
 * internalversion/validation/validation.go, ValidateListOptions and
 * validateWatchOptions). -1 after answering 422. */
static int check_list_options(struct exchange *ex, const struct request *req, int watch)
{
    const char *match = request_param(req, "resourceVersionMatch");
    const char *initial = request_param(req, "sendInitialEvents");
    const char *rv = request_param(req, "resourceVersion");
    const char *cont = request_param(req, "continue");
    if (match && !*match)
        match = NULL;
    if (watch) {
        if (initial && (!match || strcmp(match, "NotOlderThan") != 0)) {
            invalid_list_options(ex, "resourceVersionMatch",
                                 "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
            return -1;
        }
        if (match && !initial) {
            invalid_list_options(ex, "resourceVersionMatch",
                                 "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                 "provided");
            return -1;
        }
        return 0;
    }
    if (initial) {
        invalid_list_options(ex, "sendInitialEvents", "Forbidden: sendInitialEvents is forbidden for list");
        return -1;
    }
    if (!match)
        return 0;
    if (strcmp(match, "Exact") != 0 && strcmp(match, "NotOlderThan") != 0) {
        char detail[200];
        snprintf(detail, sizeof detail,
                 "Unsupported value: \"%.80s\": supported values: \"Exact\", \"NotOlderThan\", \"\"", match);
        invalid_list_options(ex, "resourceVersionMatch", detail);
        return -1;
    }
    if (!rv || !*rv) {
        invalid_list_options(ex, "resourceVersionMatch",
                             "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
        return -1;
    }
    if (cont && *cont) {
        invalid_list_options(ex, "resourceVersionMatch",
                             "Forbidden: resourceVersionMatch is forbidden when continue is provided");
        return -1;
    }
    if (strcmp(match, "Exact") == 0 && strcmp(rv, "0") == 0) {
        invalid_list_options(ex, "resourceVersionMatch",
                             "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        return -1;
    }
    return 0;
}

/* A list at resourceVersion rv under resourceVersionMatch: meshsim keeps
 * only the present, so Exact is served at the current version alone
 * (older ones are compacted: 410), and a version from the future is the
 * cacher's "Too large resource version" (504 Timeout; apiserver
 * pkg/storage/cacher/watch_cache.go, waitUntilFreshAndBlock). -1 after
 * answering. */
static int list_version_servable(struct exchange *ex, const struct request *req)
{
    const char *match = request_param(req, "resourceVersionMatch");
    const char *rv_text = request_param(req, "resourceVersion");
    if (!match || !*match || !rv_text)
        return 0;
    char *end;
    errno = 0;
    unsigned long long rv = strtoull(rv_text, &end, 10);
    if (*end || errno || rv_text[0] == '-' || !rv_text[0]) {
        char msg[200];
        snprintf(msg, sizeof msg, "invalid resource version: %.100s", rv_text);
        bad_request(ex, msg);
        return -1;
    }
    char msg[200];
    if (rv > store_rv()) {
        snprintf(msg, sizeof msg, "Too large resource version: %llu, current: %llu", rv,
                 (unsigned long long)store_rv());
        ex_reply_status(ex, 504, "Timeout", msg, "Retry-After: 1\r\n");
        return -1;
    }
    if (strcmp(match, "Exact") == 0 && rv != store_rv()) {
        snprintf(msg, sizeof msg, "too old resource version: %llu (%llu)", rv, (unsigned long long)store_rv());
        ex_reply_status(ex, 410, "Expired", msg, NULL);
        return -1;
    }
    return 0;
}

static void handle_list(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns)
{
    int watch = param_true(req, "watch");
    if (check_list_options(ex, req, watch) != 0 || (!watch && list_version_servable(ex, req) != 0))
        return;
    struct selector *ls, *fs;
    if (parse_selectors(ex, req, t, &ls, &fs) != 0)
        return;
    if (watch) {
        if (!(t->ops & OP_WATCH)) {
            selector_free(ls);
            selector_free(fs);
            method_not_allowed(ex);
            return;
        }
        start_watch(ex, req, t, ns, ls, fs);
        return;
    }
    long limit = 0;
    const char *lim = request_param(req, "limit");
    if (lim && *lim) {
        char *end;
        errno = 0;
        limit = strtol(lim, &end, 10);
        if (*end || errno || limit < 0) {
            selector_free(ls);
            selector_free(fs);
            bad_request(ex, "invalid value for limit: must be a non-negative integer");
            return;
        }
    }
    /* continue: where the previous page stopped (after this ns/name). */
    char after_ns[256] = "", after_name[256] = "";
    int have_after = 0;
    const char *cont = request_param(req, "continue");
    if (cont && *cont) {
        struct buf raw = {0};
        cJSON *tok = NULL;
        if (b64url_decode(cont, &raw) == 0 && raw.data)
            tok = cJSON_Parse(raw.data);
        buf_free(&raw);
        const char *start = json_str(tok, "start");
        cJSON *rv = cJSON_GetObjectItemCaseSensitive(tok, "rv");
        const char *slash = start ? strchr(start, '/') : NULL;
        if (!tok || !slash || !cJSON_IsNumber(rv) || (size_t)(slash - start) >= sizeof after_ns ||
            strlen(slash + 1) >= sizeof after_name) {
            cJSON_Delete(tok);
            selector_free(ls);
            selector_free(fs);
            bad_request(ex, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
            return;
        }
        int expired = 0;
        store_events_after((uint64_t)rv->valuedouble, &expired);
        if (expired) {
            cJSON_Delete(tok);
            selector_free(ls);
            selector_free(fs);
            ex_reply_status(ex, 410, "Expired",
                            "The provided continue parameter is too old to display a consistent list result. You can "
                            "start a new list without the continue parameter, or use the continue token in this "
                            "response to retrieve the remainder of the results. Continuing with the provided token "
                            "results in an inconsistent list - objects that were created, modified, or deleted "
                            "between the time the first chunk was returned and now may show up in the list.",
                            NULL);
            return;
        }
        memcpy(after_ns, start, (size_t)(slash - start));
        snprintf(after_name, sizeof after_name, "%s", slash + 1);
        have_after = 1;
        cJSON_Delete(tok);
    }
    size_t n;
    struct object *const *items = store_list(t, &n);
    char av[96];
    rtype_api_version(t, av, sizeof av);
    struct buf b = {0};
    int table = table_wanted(req);
    const char *include = request_param(req, "includeObject");
    if (table)
        table_open(&b, store_rv());
    else
        buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"", t->kind,
                   av, (unsigned long long)store_rv());
    size_t meta_end = b.len;
    if (table)
        table_columns(&b, t);
    else
        buf_puts(&b, "},\"items\":[");
    long emitted = 0;
    long remaining = 0;
    struct object *last = NULL;
    for (size_t i = 0; i < n; i++) {
        struct object *o = items[i];
        if (have_after) {
            int c = strcmp(o->ns, after_ns);
            if (c < 0 || (c == 0 && strcmp(o->name, after_name) <= 0))
                continue;
        }
        if (!object_in_scope(o, ns, ls, fs))
            continue;
        if (limit && emitted >= limit) {
            remaining++;
            continue;
        }
        if (emitted)
            buf_puts(&b, ",");
        if (table)
            table_row(&b, t, o->json, include);
        else
            print_item(&b, o->json, !is_custom(t));
        emitted++;
        last = o;
    }
    buf_puts(&b, "]}\n");
    if (remaining && last) {
        struct buf tok = {0}, meta = {0}, enc = {0};
        buf_printf(&tok, "{\"v\":\"meta.k8s.io/v1\",\"rv\":%llu,\"start\":", (unsigned long long)store_rv());
        struct buf key = {0};
        buf_printf(&key, "%s/%s", last->ns, last->name);
        buf_json_string(&tok, key.data);
        buf_puts(&tok, "}");
        b64url_encode(&enc, (const unsigned char *)tok.data, tok.len);
        buf_printf(&meta, ",\"continue\":\"%s\",\"remainingItemCount\":%ld", enc.data, remaining);
        /* Splice the continue token into the list metadata. */
        struct buf out = {0};
        buf_append(&out, b.data, meta_end);
        buf_append(&out, meta.data, meta.len);
        buf_append(&out, b.data + meta_end, b.len - meta_end);
        buf_free(&b);
        b = out;
        buf_free(&tok);
        buf_free(&meta);
        buf_free(&enc);
        buf_free(&key);
    }
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
    selector_free(ls);
    selector_free(fs);
}

/* ---- watch ---- */

struct watch {
    struct exchange *ex;
    const struct rtype *type;
    char *ns;
    struct selector *ls, *fs;
    uint64_t last_rv;
    int table; /* events carry one-row Tables (kubectl get -w) */
    char *include;
    int bookmarks;
    int64_t next_bookmark, deadline, expire_at;
    struct watch *prev, *next;
};

static struct watch *watches;

static void watch_unlink(struct watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    selector_free(w->ls);
    selector_free(w->fs);
    free(w->ns);
    free(w->include);
    free(w);
}

static void watch_gone(struct exchange *ex, void *ctx)
{
    (void)ex;
    watch_unlink(ctx);
}

static void watch_send_object(struct watch *w, const char *type, cJSON *obj)
{
    struct buf b = {0};
    buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
    if (w->table) {
        table_open(&b, w->last_rv);
        table_columns(&b, w->type);
        table_row(&b, w->type, obj, w->include);
        buf_puts(&b, "]}");
    } else {
        char *t = cJSON_PrintUnformatted(obj);
        buf_puts(&b, t);
        free(t);
    }
    buf_puts(&b, "}\n");
    ex_stream_write(w->ex, b.data, b.len);
    buf_free(&b);
}

static void watch_end_expired(struct watch *w, uint64_t rv)
{
    char msg[160];
    snprintf(msg, sizeof msg, "too old resource version: %llu (%llu)", (unsigned long long)rv,
             (unsigned long long)store_rv());
    struct buf b = {0};
    buf_puts(&b, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                 "\"status\":\"Failure\",\"message\":");
    buf_json_string(&b, msg);
    buf_puts(&b, ",\"reason\":\"Expired\",\"code\":410}}\n");
    ex_stream_write(w->ex, b.data, b.len);
    buf_free(&b);
    struct exchange *ex = w->ex;
    watch_unlink(w);
    ex_stream_end(ex);
}

static void watch_end(struct watch *w)
{
    struct exchange *ex = w->ex;
    watch_unlink(w);
    ex_stream_end(ex);
}

/* A BOOKMARK at the watch's version; the one closing sendInitialEvents'
 * state carries the annotation k8s.io/initial-events-end (apimachinery
 * pkg/apis/meta/v1/types.go, InitialEventsAnnotationKey; set by the
 * apiserver's cacher, cache_watcher.go). */
static void watch_send_bookmark(struct watch *w, int initial_events_end)
{
    char av[96];
    struct buf b = {0};
    buf_printf(&b, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":"
                   "{\"resourceVersion\":\"%llu\"%s}}}\n",
               w->type->kind, rtype_api_version(w->type, av, sizeof av), (unsigned long long)w->last_rv,
               initial_events_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
    ex_stream_write(w->ex, b.data, b.len);
    buf_free(&b);
}

/* About a minute from now, but no later than 2 s before the deadline; past
 * that, none (INT64_MAX): the one before the deadline is sent. */
static int64_t next_bookmark_at(const struct watch *w)
{
    int64_t at = api_now + BOOKMARK_INTERVAL_MS;
    if (w->deadline - BOOKMARK_BEFORE_DEADLINE_MS < at)
        at = w->deadline - BOOKMARK_BEFORE_DEADLINE_MS;
    return at <= api_now ? INT64_MAX : at;
}

/* Every object the watch selects as an ADDED event; changes follow from the
 * store's version now. */
static void watch_send_current_state(struct watch *w)
{
    size_t n;
    struct object *const *items = store_list(w->type, &n);
    for (size_t i = 0; i < n; i++)
        if (object_in_scope(items[i], w->ns, w->ls, w->fs))
            watch_send_object(w, "ADDED", items[i]->json);
    w->last_rv = store_rv();
}

/* Sends what happened since the watch's last version; 0 when it ended. */
static int watch_pump(struct watch *w)
{
    if (ex_pending_output(w->ex) > WATCH_BACKLOG_LIMIT)
        return 1; /* a slow reader: its events wait in the log, or expire */
    int expired;
    size_t i = store_events_after(w->last_rv, &expired);
    if (expired) {
        watch_end_expired(w, w->last_rv);
        return 0;
    }
    const struct event *e;
    for (; (e = store_event_at(i)); i++) {
        w->last_rv = e->rv;
        if (e->type != w->type || (w->ns && strcmp(e->ns, w->ns) != 0))
            continue;
        if (!selector_matches(w->ls, e->object) || !selector_matches(w->fs, e->object))
            continue;
        watch_send_object(w, e->kind, e->object);
    }
    return 1;
}

static void start_watch(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns,
                        struct selector *ls, struct selector *fs)
{
    const char *rv_text = request_param(req, "resourceVersion");
    uint64_t rv = 0;
    if (rv_text && *rv_text) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(rv_text, &end, 10);
        if (*end || errno || rv_text[0] == '-') {
            selector_free(ls);
            selector_free(fs);
            char msg[200];
            snprintf(msg, sizeof msg, "invalid resource version: %.100s", rv_text);
            bad_request(ex, msg);
            return;
        }
        rv = v;
    }
    long timeout = DEFAULT_WATCH_TIMEOUT_S;
    const char *ts = request_param(req, "timeoutSeconds");
    if (ts && *ts) {
        char *end;
        long v = strtol(ts, &end, 10);
        if (*end || v < 0) {
            selector_free(ls);
            selector_free(fs);
            bad_request(ex, "invalid value for timeoutSeconds");
            return;
        }
        if (v > 0)
            timeout = v;
    }
    struct watch *w = calloc(1, sizeof *w);
    w->ex = ex;
    w->type = t;
    w->ns = ns ? strdup(ns) : NULL;
    w->ls = ls;
    w->fs = fs;
    w->bookmarks = param_true(req, "allowWatchBookmarks");
    w->table = table_wanted(req);
    w->include = request_param(req, "includeObject") ? strdup(request_param(req, "includeObject")) : NULL;
    w->deadline = api_now + timeout * 1000;
    w->next_bookmark = next_bookmark_at(w);
    if (cluster_scenarios() & SC_WATCH_EXPIRY)
        w->expire_at = api_now + EXPIRY_WATCH_MS;
    w->next = watches;
    if (watches)
        watches->prev = w;
    watches = w;
    ex_defer(ex, watch_gone, w);
    ex_stream_begin(ex, 200, "application/json");
    if (request_param(req, "sendInitialEvents")) {
        /* The state as ADDED events closed by a bookmark that says so, or
         * (false) only what changes after rv, or after now without rv. */
        if (param_true(req, "sendInitialEvents")) {
            watch_send_current_state(w);
            if (w->bookmarks)
                watch_send_bookmark(w, 1);
            return;
        }
        w->last_rv = rv ? rv : store_rv();
        watch_pump(w);
        return;
    }
    if (rv == 0) {
        /* No version: the current state as ADDED events, then changes. */
        watch_send_current_state(w);
        return;
    }
    w->last_rv = rv;
    watch_pump(w);
}

static void watch_tick(void)
{
    struct watch *w = watches;
    while (w) {
        struct watch *next = w->next;
        if (!watch_pump(w)) {
            w = next;
            continue;
        }
        if (w->expire_at && api_now >= w->expire_at) {
            /* etcd compacted past this watch: it must relist. */
            uint64_t rv = w->last_rv;
            store_compact(store_rv());
            watch_end_expired(w, rv);
        } else if (api_now >= w->deadline) {
            watch_end(w);
        } else if (w->bookmarks && api_now >= w->next_bookmark) {
            watch_send_bookmark(w, 0);
            w->next_bookmark = next_bookmark_at(w);
        }
        w = next;
    }
}

/* ---- deferred answers (a slow sidecar) ---- */

struct deferred {
    struct exchange *ex;
    int64_t due;
    int code;
    char *content_type;
    struct buf body;
    struct deferred *prev, *next;
};

static struct deferred *deferreds;

static void deferred_unlink(struct deferred *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        deferreds = d->next;
    if (d->next)
        d->next->prev = d->prev;
    free(d->content_type);
    buf_free(&d->body);
    free(d);
}

static void deferred_gone(struct exchange *ex, void *ctx)
{
    (void)ex;
    deferred_unlink(ctx);
}

static void reply_later(struct exchange *ex, int64_t delay_ms, int code, const char *ctype, struct buf *body)
{
    struct deferred *d = calloc(1, sizeof *d);
    d->ex = ex;
    d->due = api_now + delay_ms;
    d->code = code;
    d->content_type = strdup(ctype);
    d->body = *body;
    memset(body, 0, sizeof *body);
    d->next = deferreds;
    if (deferreds)
        deferreds->prev = d;
    deferreds = d;
    ex_defer(ex, deferred_gone, d);
}

static int deferred_tick(void)
{
    int wait = 1000;
    struct deferred *d = deferreds;
    while (d) {
        struct deferred *next = d->next;
        if (api_now >= d->due) {
            struct exchange *ex = d->ex;
            ex_reply(ex, d->code, d->content_type, d->body.data ? d->body.data : "", d->body.len, NULL);
            deferred_unlink(d);
        } else if (d->due - api_now < wait) {
            wait = (int)(d->due - api_now);
        }
        d = next;
    }
    return wait;
}

/* ---- pod and service proxy ---- */

struct proxy_call {
    struct exchange *ex;
    struct app_call *call;
};

static void proxy_done(void *ctx, const struct app_response *resp)
{
    struct proxy_call *pc = ctx;
    if (resp->reset)
        ex_reset(pc->ex);
    else
        ex_reply(pc->ex, resp->status, NULL, resp->body.data ? resp->body.data : "", resp->body.len,
                 resp->headers.data);
    free(pc);
}

static void proxy_gone(struct exchange *ex, void *ctx)
{
    (void)ex;
    struct proxy_call *pc = ctx;
    sidecar_cancel(pc->call);
    free(pc);
}

static void unreachable(struct exchange *ex, struct object *pod, int port)
{
    char msg[300];
    snprintf(msg, sizeof msg, "error trying to reach service: dial tcp %s:%d: connect: connection refused",
             json_str(pod->json, "status.podIP") ? json_str(pod->json, "status.podIP") : "0.0.0.0", port);
    ex_reply_status(ex, 503, "ServiceUnavailable", msg, NULL);
}

/* Headers the API server does not pass on to the backend. */
static int hop_header(const char *name)
{
    static const char *const hop[] = {"authorization", "connection", "content-length", "transfer-encoding", "host",
                                      "keep-alive", "upgrade", "te", "proxy-authorization", NULL};
    for (size_t i = 0; hop[i]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return 1;
    return 0;
}

static void app_request(struct exchange *ex, const struct request *req, struct object *pod, const char *path)
{
    struct sidecar *sc = cluster_pod_sidecar(pod);
    struct buf full = {0};
    buf_puts(&full, path);
    if (req->query[0])
        buf_printf(&full, "?%s", req->query);
    if (!sc) {
        /* No sidecar: the app answers directly. */
        struct buf body = {0};
        buf_puts(&body, "{\"app\":");
        buf_json_string(&body, json_str(pod->json, "metadata.labels.app") ? json_str(pod->json, "metadata.labels.app")
                                                                             : pod->name);
        buf_puts(&body, ",\"pod\":");
        buf_json_string(&body, pod->name);
        buf_puts(&body, ",\"path\":");
        buf_json_string(&body, full.data);
        buf_puts(&body, "}\n");
        ex_reply(ex, 200, "application/json", body.data, body.len, NULL);
        buf_free(&body);
        buf_free(&full);
        return;
    }
    struct header *hdrs = calloc(req->n_headers + 1, sizeof *hdrs);
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!hop_header(req->headers[i].name))
            hdrs[n++] = req->headers[i];
    struct proxy_call *pc = calloc(1, sizeof *pc);
    pc->ex = ex;
    struct app_call *call = sidecar_request(sc, req->method, full.data, hdrs, n, proxy_done, pc);
    if (call) {
        pc->call = call;
        ex_defer(ex, proxy_gone, pc);
    }
    free(hdrs);
    buf_free(&full);
}

static void stats_request(struct exchange *ex, const struct request *req, struct object *pod, const char *path,
                          int honour_query)
{
    if (strncmp(path, "/stats/prometheus", 17) != 0) {
        /* The 15090 listener routes nothing else. */
        ex_reply(ex, 404, NULL, "", 0, "server: envoy\r\n");
        return;
    }
    enum stats_port_behaviour behaviour = cluster_pod_stats_behaviour(pod);
    if (behaviour == STATS_FLAKY) {
        unsigned k = cluster_pod_next_scrape(pod) % 3;
        if (k == 1) {
            reply_text(ex, 503, "text/plain",
                       "upstream connect error or disconnect/reset before headers. reset reason: connection termination");
            return;
        }
        if (k == 2) {
            ex_reset(ex);
            return;
        }
    }
    struct hfi_regex *re = NULL;
    const char *filter = honour_query ? request_param(req, "filter") : NULL;
    if (filter && *filter) {
        char err[256];
        if (hfi_regex_compile(filter, strlen(filter), &re, err, sizeof err) != 0) {
            struct buf msg = {0};
            buf_printf(&msg, "Invalid re2 regex: %s\n", err);
            ex_reply(ex, 400, "text/plain; charset=UTF-8", msg.data, msg.len, NULL);
            buf_free(&msg);
            return;
        }
    }
    if (api_cfg.static_stats) {
        if (re)
            hfi_regex_free(re);
        ex_reply(ex, 200, "text/plain; version=0.0.4", api_cfg.static_stats, api_cfg.static_stats_len, NULL);
        return;
    }
    int usedonly = honour_query && request_param(req, "usedonly") != NULL;
    struct buf body = {0};
    sidecar_stats(cluster_pod_sidecar(pod), &body, re, usedonly);
    if (re)
        hfi_regex_free(re);
    if (behaviour == STATS_SLOW) {
        reply_later(ex, SLOW_SIDECAR_MS, 200, "text/plain; version=0.0.4", &body);
        return;
    }
    ex_reply(ex, 200, "text/plain; version=0.0.4", body.data ? body.data : "", body.len, NULL);
    buf_free(&body);
}

void api_stats_port(struct exchange *ex, struct object *pod)
{
    const struct request *req = ex_request(ex);
    stats_request(ex, req, pod, req->path, 1);
}

static void forbidden_proxy(struct exchange *ex, const struct rtype *t, const char *ns, const char *name)
{
    char msg[600];
    snprintf(msg, sizeof msg,
             "%s \"%s\" is forbidden: User \"" USER_NAME "\" cannot get resource \"%s/proxy\" in API group \"\" in the "
             "namespace \"%s\"",
             t->plural, name, t->plural, ns);
    status_with_details(ex, 403, "Forbidden", msg, t, name, NULL);
}

/* target is NAME, NAME:PORT or SCHEME:NAME:PORT. */
static void split_proxy_target(const char *target, char *name, size_t name_size, char *port, size_t port_size)
{
    const char *first = strchr(target, ':');
    const char *last = strrchr(target, ':');
    port[0] = '\0';
    if (!first) {
        snprintf(name, name_size, "%s", target);
    } else if (first == last) {
        snprintf(name, name_size, "%.*s", (int)(first - target), target);
        snprintf(port, port_size, "%s", first + 1);
    } else {
        snprintf(name, name_size, "%.*s", (int)(last - first - 1), first + 1);
        snprintf(port, port_size, "%s", last + 1);
    }
}

static void pod_proxy(struct exchange *ex, const struct request *req, struct object *pod, const char *port_text,
                      const char *path)
{
    /* A real API server proxies to any pod with an IP, Terminating ones
     * included (kubernetes pkg/registry/core/pod/strategy.go,
     * ResourceLocation: only a missing or non-unicast IP is refused), and
     * Envoy keeps serving while it drains. Containers not started yet refuse
     * the connection. */
    const char *ip = json_str(pod->json, "status.podIP");
    if (!ip || !*ip) {
        bad_request(ex, "address not allowed");
        return;
    }
    int app_port = cluster_pod_app_port(pod);
    char *end;
    long port = port_text[0] ? strtol(port_text, &end, 10) : app_port;
    if (port_text[0] && (*end || port <= 0 || port > 65535)) {
        /* A port name is not resolved for pods: the port is used as given
         * (kubernetes pkg/registry/core/pod/strategy.go, ResourceLocation). */
        unreachable(ex, pod, 0);
        return;
    }
    int injected = cluster_pod_sidecar(pod) != NULL;
    if (!cluster_pod_started(pod)) {
        unreachable(ex, pod, (int)port);
    } else if (port == app_port) {
        app_request(ex, req, pod, path);
    } else if (injected && port == 15090) {
        stats_request(ex, req, pod, path, 1);
    } else if (injected && port == 15020) {
        /* istio-agent's merged metrics; older agents drop the query. */
        stats_request(ex, req, pod, path, 0);
    } else if (injected && port == 15021 && strcmp(path, "/healthz/ready") == 0) {
        ex_reply(ex, 200, NULL, "", 0, NULL);
    } else {
        unreachable(ex, pod, (int)port);
    }
}

static unsigned service_rr;

static void service_proxy(struct exchange *ex, const struct request *req, struct object *svc, const char *port_text,
                          const char *path)
{
    if (port_text[0]) {
        int ok = 0;
        cJSON *p;
        cJSON_ArrayForEach(p, json_path(svc->json, "spec.ports"))
        {
            cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "port");
            const char *pname = json_str(p, "name");
            if ((cJSON_IsNumber(num) && atoi(port_text) == num->valueint) || (pname && strcmp(pname, port_text) == 0))
                ok = 1;
        }
        if (!ok) {
            char msg[300];
            snprintf(msg, sizeof msg, "no service port \"%s\" found for service \"%s\"", port_text, svc->name);
            ex_reply_status(ex, 503, "ServiceUnavailable", msg, NULL);
            return;
        }
    }
    cJSON *sel = json_path(svc->json, "spec.selector");
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    struct object **ready = calloc(n + 1, sizeof *ready);
    size_t n_ready = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pods[i]->ns, svc->ns) != 0 || !cluster_pod_running(pods[i]))
            continue;
        int match = sel != NULL;
        cJSON *want;
        cJSON_ArrayForEach(want, sel)
        {
            const char *have = json_key_str(json_path(pods[i]->json, "metadata.labels"), want->string);
            if (!have || !cJSON_IsString(want) || strcmp(have, want->valuestring) != 0)
                match = 0;
        }
        if (match)
            ready[n_ready++] = pods[i];
    }
    if (!n_ready) {
        free(ready);
        char msg[300];
        snprintf(msg, sizeof msg, "no endpoints available for service \"%s\"", svc->name);
        ex_reply_status(ex, 503, "ServiceUnavailable", msg, NULL);
        return;
    }
    struct object *pod = ready[service_rr++ % n_ready];
    free(ready);
    app_request(ex, req, pod, path);
}

/* ---- SelfSubjectRulesReview, SelfSubjectReview ---- */

/* `kubectl auth can-i --list` and `kubectl auth whoami`. Their bodies say
 * nothing meshsim needs (a namespace; nothing at all), so any encoding is
 * taken, kubectl's protobuf included; the answer is JSON. The rules are
 * those of cluster-admin (kubernetes plugin/pkg/auth/authorizer/rbac/
 * bootstrappolicy/policy.go), without pods/proxy and services/proxy under
 * api-403-proxy; the user is the kubeconfig's, in system:masters. */
static void self_review(struct exchange *ex, const struct rtype *t)
{
    char av[96];
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "kind", t->kind);
    cJSON_AddStringToObject(out, "apiVersion", rtype_api_version(t, av, sizeof av));
    cJSON_AddItemToObject(out, "metadata", cJSON_Parse("{\"creationTimestamp\":null}"));
    if (t == &RT_SELFSUBJECTREVIEWS) {
        cJSON_AddItemToObject(out, "status",
                              cJSON_Parse("{\"userInfo\":{\"username\":\"" USER_NAME "\",\"groups\":[\"system:masters\","
                                          "\"system:authenticated\"]}}"));
    } else {
        cJSON_AddItemToObject(out, "spec", cJSON_CreateObject());
        cJSON *status = cJSON_AddObjectToObject(out, "status");
        cJSON *rules = cJSON_AddArrayToObject(status, "resourceRules");
        if (cluster_scenarios() & SC_API_403_PROXY) {
            struct buf all = {0};
            buf_puts(&all, "{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[");
            for (size_t i = 0; RTYPES[i]; i++)
                buf_printf(&all, "%s\"%s\"", i ? "," : "", RTYPES[i]->plural);
            buf_puts(&all, ",\"pods/log\",\"pods/status\",\"deployments/scale\"]}");
            cJSON_AddItemToArray(rules, cJSON_Parse(all.data));
            buf_free(&all);
        } else {
            cJSON_AddItemToArray(rules, cJSON_Parse("{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}"));
        }
        cJSON_AddItemToObject(status, "nonResourceRules",
                              cJSON_Parse("[{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}]"));
        cJSON_AddFalseToObject(status, "incomplete");
    }
    reply_json(ex, 201, out);
    cJSON_Delete(out);
}

/* ---- SelfSubjectAccessReview ---- */

static void access_review(struct exchange *ex, const struct request *req)
{
    cJSON *body;
    if (content_type_is(req, "application/vnd.kubernetes.protobuf")) {
        /* kubectl auth can-i speaks protobuf; the answer may be JSON. */
        body = proto_access_review((const unsigned char *)req->body, req->body_len);
        if (!body) {
            bad_request(ex, "unable to decode SelfSubjectAccessReview: malformed protobuf");
            return;
        }
    } else if (content_type_is(req, "application/json") || content_type_is(req, "application/yaml")) {
        body = parse_body(ex, req, 1);
        if (!body)
            return;
    } else {
        unsupported_media(ex, "application/json, application/yaml, application/vnd.kubernetes.protobuf");
        return;
    }
    if (check_type(ex, &RT_SSAR, body, 0) != 0) {
        cJSON_Delete(body);
        return;
    }
    cJSON *ra = json_path(body, "spec.resourceAttributes");
    cJSON *nra = json_path(body, "spec.nonResourceAttributes");
    if (!ra && !nra) {
        invalid(ex, &RT_SSAR, "", "spec.resourceAttributes", "FieldValueRequired",
                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified");
        cJSON_Delete(body);
        return;
    }
    const char *resource = json_str(ra, "resource");
    const char *sub = json_str(ra, "subresource");
    int denied = (cluster_scenarios() & SC_API_403_PROXY) && resource && sub && strcmp(sub, "proxy") == 0 &&
                 (strcmp(resource, "pods") == 0 || strcmp(resource, "services") == 0);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "kind", "SelfSubjectAccessReview");
    cJSON_AddStringToObject(out, "apiVersion", "authorization.k8s.io/v1");
    cJSON_AddItemToObject(out, "metadata", cJSON_Parse("{\"creationTimestamp\":null}"));
    cJSON *spec = cJSON_DetachItemFromObjectCaseSensitive(body, "spec");
    cJSON_AddItemToObject(out, "spec", spec ? spec : cJSON_CreateObject());
    cJSON *status = cJSON_AddObjectToObject(out, "status");
    if (denied) {
        cJSON_AddFalseToObject(status, "allowed");
    } else {
        cJSON_AddTrueToObject(status, "allowed");
        cJSON_AddStringToObject(status, "reason",
                                "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" "
                                "to Group \"system:masters\"");
    }
    reply_json(ex, 201, out);
    cJSON_Delete(out);
    cJSON_Delete(body);
}

/* ---- single objects ---- */

/* The body of a create or replace: a JSON or YAML object of type t, its
 * unknown fields handled as fieldValidation says; NULL once answered. */
static cJSON *read_object_body(struct exchange *ex, const struct request *req, const struct rtype *t)
{
    if (!content_type_is(req, "application/json") && !content_type_is(req, "application/yaml")) {
        unsupported_media(ex, "application/json, application/yaml");
        return NULL;
    }
    cJSON *obj = parse_body(ex, req, 1);
    if (!obj)
        return NULL;
    if (check_type(ex, t, obj, is_custom(t)) != 0 || strict_fields(ex, req, t, obj) != 0) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void handle_create(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns)
{
    cJSON *obj = read_object_body(ex, req, t);
    if (!obj)
        return;
    cJSON *meta = json_obj_ensure(obj, "metadata");
    const char *body_ns = json_str(obj, "metadata.namespace");
    if (body_ns && ns && strcmp(body_ns, ns) != 0) {
        cJSON_Delete(obj);
        bad_request(ex, "the namespace of the provided object does not match the namespace sent on the request");
        return;
    }
    const char *gen = json_str(obj, "metadata.generateName");
    if (!json_str(obj, "metadata.name") && gen) {
        char name[300], suffix[6];
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        for (int i = 0; i < 5; i++)
            suffix[i] = alphabet[rng_below(sizeof alphabet - 1)];
        suffix[5] = '\0';
        snprintf(name, sizeof name, "%s%s", gen, suffix);
        json_set_str(meta, "name", name);
    }
    set_defaults(t, obj, 0);
    if (validate_object(ex, t, obj) != 0) {
        cJSON_Delete(obj);
        return;
    }
    const char *name = json_str(obj, "metadata.name");
    if (store_get(t, ns ? ns : "", name)) {
        char qr[128], msg[512];
        qualified_resource(t, qr, sizeof qr);
        snprintf(msg, sizeof msg, "%s \"%s\" already exists", qr, name);
        status_with_details(ex, 409, "AlreadyExists", msg, t, name, NULL);
        cJSON_Delete(obj);
        return;
    }
    if (ns)
        json_set_str(meta, "namespace", ns);
    static const char *const server_keys[] = {"uid", "resourceVersion", "creationTimestamp", "generation",
                                              "deletionTimestamp", NULL};
    for (size_t i = 0; server_keys[i]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(meta, server_keys[i]);
    cJSON_AddNumberToObject(meta, "generation", 1);
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    set_defaults(t, obj, 1);
    if (dry_run(req)) {
        char av[96];
        json_set_str(obj, "apiVersion", rtype_api_version(t, av, sizeof av));
        json_set_str(obj, "kind", t->kind);
        reply_json(ex, 201, obj);
        cJSON_Delete(obj);
        return;
    }
    struct object *o = store_create(t, obj);
    after_change(o);
    reply_json(ex, 201, o->json);
}

static void handle_replace(struct exchange *ex, const struct request *req, struct object *o)
{
    cJSON *obj = read_object_body(ex, req, o->type);
    if (!obj)
        return;
    const char *name = json_str(obj, "metadata.name");
    if (name && strcmp(name, o->name) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "the name of the object (%.200s) does not match the name on the URL (%s)", name,
                 o->name);
        cJSON_Delete(obj);
        bad_request(ex, msg);
        return;
    }
    if (commit_update(ex, o, obj, dry_run(req)) == 0)
        reply_json(ex, 200, o->json);
}

static void handle_apply(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns,
                         const char *name, struct object *o)
{
    const char *manager = request_param(req, "fieldManager");
    if (!manager || !*manager) {
        ex_reply_status(ex, 422, "Invalid",
                        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply "
                        "patch",
                        NULL);
        return;
    }
    cJSON *applied = parse_body(ex, req, 1);
    if (!applied)
        return;
    if (check_type(ex, t, applied, 1) != 0 || strict_fields(ex, req, t, applied) != 0) {
        cJSON_Delete(applied);
        return;
    }
    const char *body_name = json_str(applied, "metadata.name");
    if (!body_name || strcmp(body_name, name) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "the name of the object (%.200s) does not match the name on the URL (%s)",
                 body_name ? body_name : "", name);
        cJSON_Delete(applied);
        bad_request(ex, msg);
        return;
    }
    if (!o && !(t->ops & OP_CREATE)) {
        cJSON_Delete(applied);
        not_found(ex, t, name);
        return;
    }
    /* An applied configuration's resourceVersion is a precondition too
     * (kubernetes/kubernetes#63104: the patched object's version is the
     * one Store.Update checks). */
    if (o && stale_resource_version(ex, o, json_str(applied, "metadata.resourceVersion"))) {
        cJSON_Delete(applied);
        return;
    }
    char av[96], owner[128] = "";
    rtype_api_version(t, av, sizeof av);
    struct buf conflicts = {0};
    int force = param_true(req, "force");
    cJSON *live = o ? cJSON_Duplicate(o->json, 1) : NULL;
    cJSON *result = server_side_apply(live, applied, manager, force, av, &conflicts, owner, sizeof owner);
    cJSON_Delete(applied);
    if (!result) {
        cJSON_Delete(live);
        size_t count = 1;
        for (size_t i = 0; i < conflicts.len; i++)
            count += conflicts.data[i] == '\n';
        struct buf msg = {0};
        buf_printf(&msg, "Apply failed with %zu conflict%s: conflict with \"%s\": %s", count, count > 1 ? "s" : "",
                   owner, conflicts.data);
        for (size_t i = 0; i < msg.len; i++)
            if (msg.data[i] == '\n')
                msg.data[i] = ',';
        status_with_details(ex, 409, "Conflict", msg.data, t, name, NULL);
        buf_free(&msg);
        buf_free(&conflicts);
        return;
    }
    buf_free(&conflicts);
    if (!o) {
        cJSON *meta = json_obj_ensure(result, "metadata");
        if (ns)
            json_set_str(meta, "namespace", ns);
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "generation");
        cJSON_AddNumberToObject(meta, "generation", 1);
        set_defaults(t, result, 1);
        if (validate_object(ex, t, result) != 0) {
            cJSON_Delete(result);
            return;
        }
        if (dry_run(req)) {
            reply_json(ex, 201, result);
            cJSON_Delete(result);
            return;
        }
        struct object *created = store_create(t, result);
        after_change(created);
        reply_json(ex, 201, created->json);
        return;
    }
    if (commit_update(ex, o, result, dry_run(req)) == 0)
        reply_json(ex, 200, o->json);
}

static void handle_patch(struct exchange *ex, const struct request *req, const struct rtype *t, const char *ns,
                         const char *name)
{
    struct object *o = store_get(t, ns ? ns : "", name);
    if (content_type_is(req, "application/apply-patch+yaml")) {
        handle_apply(ex, req, t, ns, name, o);
        return;
    }
    int strategic = content_type_is(req, "application/strategic-merge-patch+json");
    int merge = content_type_is(req, "application/merge-patch+json");
    int json = content_type_is(req, "application/json-patch+json");
    if (!merge && !json && !(strategic && !is_custom(t))) {
        unsupported_media(ex, is_custom(t) ? "application/json-patch+json, application/merge-patch+json, "
                                             "application/apply-patch+yaml"
                                           : "application/json-patch+json, application/merge-patch+json, "
                                             "application/strategic-merge-patch+json, application/apply-patch+yaml");
        return;
    }
    if (!o) {
        not_found(ex, t, name);
        return;
    }
    if (json) {
        cJSON *ops = cJSON_ParseWithLength(req->body, req->body_len);
        if (!cJSON_IsArray(ops)) {
            cJSON_Delete(ops);
            bad_request(ex, "json patch must be a JSON array of operations");
            return;
        }
        cJSON *next = cJSON_Duplicate(o->json, 1);
        char err[600];
        if (json_patch(next, ops, err, sizeof err) != 0) {
            cJSON_Delete(ops);
            cJSON_Delete(next);
            char msg[700];
            snprintf(msg, sizeof msg, "the server rejected our request due to an error in our request: %s", err);
            ex_reply_status(ex, 422, "Invalid", msg, NULL);
            return;
        }
        cJSON_Delete(ops);
        const char *new_name = json_str(next, "metadata.name");
        if (!cJSON_IsObject(next) || !new_name || strcmp(new_name, o->name) != 0) {
            cJSON_Delete(next);
            bad_request(ex, "metadata.name cannot be changed by a patch");
            return;
        }
        if (commit_update(ex, o, next, dry_run(req)) == 0)
            reply_json(ex, 200, o->json);
        return;
    }
    cJSON *patch = parse_body(ex, req, 0);
    if (!patch)
        return;
    if (strict_fields(ex, req, t, patch) != 0) {
        cJSON_Delete(patch);
        return;
    }
    cJSON *next = cJSON_Duplicate(o->json, 1);
    if (strategic) {
        /* The API server's refusals of a strategic merge patch: 400 for a
         * directive's bad format, its other errors as they are (500)
         * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go,
         * interpretStrategicMergePatchError). */
        char err[1024];
        int code = strategic_merge_patch(next, patch, strategic_schema(t->group, t->kind), err, sizeof err);
        if (code) {
            cJSON_Delete(patch);
            cJSON_Delete(next);
            if (code == 400)
                bad_request(ex, err);
            else
                internal_error_unknown(ex, err);
            return;
        }
    } else {
        merge_patch(next, patch);
    }
    cJSON_Delete(patch);
    const char *new_name = json_str(next, "metadata.name");
    if (!new_name || strcmp(new_name, o->name) != 0) {
        cJSON_Delete(next);
        bad_request(ex, "metadata.name cannot be changed by a patch");
        return;
    }
    if (commit_update(ex, o, next, dry_run(req)) == 0)
        reply_json(ex, 200, o->json);
}

/* A DELETE whose preconditions name another uid or resourceVersion than
 * the object's is refused with 409 Conflict and deletes nothing, dry run
 * or not; the uid is checked first. The API server words it with the
 * object's Kind, not its resource (kubernetes staging/src/k8s.io/apiserver/
 * pkg/registry/rest/delete.go, BeforeDelete, called by
 * pkg/registry/generic/registry/store.go, Store.Delete: NewConflict of
 * GroupResource{gvk.Group, gvk.Kind}). True when it refused. */
static int delete_precondition_failed(struct exchange *ex, const struct request *req, const struct object *o)
{
    char err[512];
    cJSON *opts = delete_options(req, err, sizeof err);
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(opts, "preconditions");
    const cJSON *want_uid = cJSON_GetObjectItemCaseSensitive(pre, "uid");
    const cJSON *want_rv = cJSON_GetObjectItemCaseSensitive(pre, "resourceVersion");
    const char *uid = json_str(o->json, "metadata.uid");
    const char *rv = json_str(o->json, "metadata.resourceVersion");
    struct buf why = {0};
    if (cJSON_IsString(want_uid) && strcmp(want_uid->valuestring, uid ? uid : "") != 0)
        buf_printf(&why,
                   "the UID in the precondition (%s) does not match the UID in record (%s). The object might "
                   "have been deleted and then recreated",
                   want_uid->valuestring, uid ? uid : "");
    else if (cJSON_IsString(want_rv) && strcmp(want_rv->valuestring, rv ? rv : "") != 0)
        buf_printf(&why,
                   "the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record "
                   "(%s). The object might have been modified",
                   want_rv->valuestring, rv ? rv : "");
    cJSON_Delete(opts);
    if (!why.len)
        return 0;
    struct buf msg = {0};
    buf_printf(&msg, "Operation cannot be fulfilled on %s%s%s \"%s\": %s", o->type->kind, o->type->group[0] ? "." : "",
               o->type->group, o->name, why.data);
    status_reply(ex, 409, "Conflict", msg.data, o->type->group, o->type->kind, o->name, NULL);
    buf_free(&msg);
    buf_free(&why);
    return 1;
}

/* Removes o as a DELETE does: a pod terminates (its ReplicaSet replaces
 * it), a deployment takes its ReplicaSets and pods along, anything else
 * goes at once. */
static void delete_object(struct object *o)
{
    if (o->type == &RT_PODS) {
        cluster_delete_pod(o, api_now);
        return;
    }
    const struct rtype *t = o->type;
    char *ns = strdup(o->ns);
    if (t == &RT_DEPLOYMENTS)
        cluster_delete_deployment(o, api_now); /* its ReplicaSets and pods go too */
    store_delete(o);
    if (t == &RT_WASMPLUGINS)
        cluster_wasmplugins_changed(ns);
    else if (t == &RT_SERVICES)
        cluster_services_changed();
    free(ns);
}

static void handle_delete(struct exchange *ex, const struct request *req, struct object *o)
{
    if (delete_precondition_failed(ex, req, o))
        return;
    if (dry_run(req)) {
        reply_json(ex, 200, o->json);
        return;
    }
    if (o->type == &RT_PODS) {
        delete_object(o);
        reply_json(ex, 200, o->json);
        return;
    }
    struct buf b = {0};
    buf_printf(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"details\":"
                   "{\"name\":");
    buf_json_string(&b, o->name);
    if (o->type->group[0])
        buf_printf(&b, ",\"group\":\"%s\"", o->type->group);
    buf_printf(&b, ",\"kind\":\"%s\",\"uid\":\"%s\"}}\n", o->type->plural, json_str(o->json, "metadata.uid"));
    delete_object(o);
    ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

/* DELETE of a namespace's collection (deletecollection): every object the
 * list's labelSelector and fieldSelector select is deleted as a DELETE with
 * the same options would delete it, preconditions included, and the answer
 * is the list as it was (kubernetes staging/src/k8s.io/apiserver/pkg/
 * endpoints/handlers/delete.go, DeleteCollection; pkg/registry/generic/
 * registry/store.go, Store.DeleteCollection). The first refusal is the
 * answer, and what was deleted before it stays deleted. */
static void handle_delete_collection(struct exchange *ex, const struct request *req, const struct rtype *t,
                                     const char *ns)
{
    struct selector *ls, *fs;
    if (parse_selectors(ex, req, t, &ls, &fs) != 0)
        return;
    size_t n;
    struct object *const *items = store_list(t, &n);
    char av[96];
    rtype_api_version(t, av, sizeof av);
    struct buf b = {0};
    buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"},\"items\":[",
               t->kind, av, (unsigned long long)store_rv());
    /* Names first: deleting changes the store's list. */
    char **names = calloc(n + 1, sizeof *names);
    size_t selected = 0;
    for (size_t i = 0; i < n; i++) {
        if (!object_in_scope(items[i], ns, ls, fs))
            continue;
        print_item(&b, items[i]->json, !is_custom(t));
        buf_puts(&b, ",");
        names[selected++] = strdup(items[i]->name);
    }
    if (selected)
        b.data[--b.len] = '\0'; /* the last comma */
    buf_puts(&b, "]}\n");
    selector_free(ls);
    selector_free(fs);
    int dry = dry_run(req), refused = 0;
    for (size_t i = 0; i < selected; i++) {
        struct object *o = refused ? NULL : store_get(t, ns, names[i]);
        if (o && delete_precondition_failed(ex, req, o))
            refused = 1;
        else if (o && !dry)
            delete_object(o);
        free(names[i]);
    }
    free(names);
    if (!refused)
        ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
    buf_free(&b);
}

/* ---- pods/log ---- */

/* A `logs -f` stream: open until its pod is gone, as the kubelet's stream
 * ends when the container exits. */
struct log_follower {
    struct exchange *ex;
    char *ns, *name, *uid;
    int proxy; /* istio-proxy's log, which grows */
    uint64_t sent; /* sidecar log lines sent so far */
    struct log_follower *prev, *next;
};

static struct log_follower *log_followers;

static void follower_unlink(struct log_follower *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        log_followers = f->next;
    if (f->next)
        f->next->prev = f->prev;
    free(f->ns);
    free(f->name);
    free(f->uid);
    free(f);
}

static void follower_gone(struct exchange *ex, void *ctx)
{
    (void)ex;
    follower_unlink(ctx);
}

static void follow_tick(void)
{
    struct log_follower *f = log_followers;
    while (f) {
        struct log_follower *next = f->next;
        struct object *pod = store_get(&RT_PODS, f->ns, f->name);
        const char *uid = pod ? json_str(pod->json, "metadata.uid") : NULL;
        if (!uid || strcmp(uid, f->uid) != 0) {
            struct exchange *ex = f->ex;
            follower_unlink(f);
            ex_stream_end(ex);
        } else if (f->proxy && cluster_pod_sidecar(pod)) {
            struct sidecar *sc = cluster_pod_sidecar(pod);
            if (sidecar_log_total(sc) > f->sent) {
                struct buf out = {0};
                sidecar_logs_since(sc, &out, f->sent);
                f->sent = sidecar_log_total(sc);
                if (out.len)
                    ex_stream_write(f->ex, out.data, out.len);
                buf_free(&out);
            }
        }
        f = next;
    }
}

/* Whether the pod has a container (containers, or initContainers when
 * init is set) of that name. */
static int has_container(struct object *pod, const char *name, int init)
{
    cJSON *c;
    cJSON_ArrayForEach(c, json_path(pod->json, init ? "spec.initContainers" : "spec.containers"))
    {
        const char *n = json_str(c, "name");
        if (n && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

/* istio-proxy's log is the sidecar's (the plugin's lines among them), in
 * containers or, as a native sidecar, in initContainers; istio-init logs
 * its iptables set-up; the app writes a line per start; other init
 * containers print nothing. follow=true keeps the stream open. */
static void pod_log(struct exchange *ex, const struct request *req, struct object *pod)
{
    const char *container = request_param(req, "container");
    const char *app = json_str(pod->json, "metadata.labels.app");
    const char *tail_text = request_param(req, "tailLines");
    long tail = tail_text ? strtol(tail_text, NULL, 10) : -1;
    struct sidecar *sc = cluster_pod_sidecar(pod);
    if (!container)
        container = app ? app : "";
    int in_containers = has_container(pod, container, 0), in_inits = has_container(pod, container, 1);
    int proxy = strcmp(container, "istio-proxy") == 0 && sc && (in_containers || in_inits);
    struct buf out = {0};
    if (proxy) {
        sidecar_logs(sc, &out, tail);
    } else if (in_inits && strcmp(container, "istio-init") == 0) {
        static const char *const lines[] = {
            "istio-iptables: writing iptables rules for inbound and outbound capture",
            "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
            "-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
            "-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN",
            "-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
            "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
            "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
            NULL};
        size_t n = 0;
        while (lines[n])
            n++;
        for (size_t i = tail >= 0 && (size_t)tail < n ? n - (size_t)tail : 0; i < n; i++)
            buf_printf(&out, "%s\n", lines[i]);
    } else if (in_containers) {
        if (tail != 0)
            buf_printf(&out, "%s listening on :%d\n", container, cluster_pod_app_port(pod));
    } else if (!in_inits) {
        char msg[400];
        snprintf(msg, sizeof msg, "container %.100s is not valid for pod %.200s", container, pod->name);
        ex_reply_status(ex, 400, "BadRequest", msg, NULL);
        return;
    }
    if (!param_true(req, "follow")) {
        ex_reply(ex, 200, "text/plain", out.data ? out.data : "", out.len, NULL);
        buf_free(&out);
        return;
    }
    struct log_follower *f = calloc(1, sizeof *f);
    f->ex = ex;
    f->ns = strdup(pod->ns);
    f->name = strdup(pod->name);
    f->uid = strdup(json_str(pod->json, "metadata.uid"));
    f->proxy = proxy;
    f->sent = proxy ? sidecar_log_total(sc) : 0;
    f->next = log_followers;
    if (log_followers)
        log_followers->prev = f;
    log_followers = f;
    ex_defer(ex, follower_gone, f);
    ex_stream_begin(ex, 200, "text/plain");
    if (out.len)
        ex_stream_write(ex, out.data, out.len);
    buf_free(&out);
}

/* ---- deployments/scale ---- */

static cJSON *scale_of(struct object *d)
{
    cJSON *scale = cJSON_CreateObject();
    cJSON_AddStringToObject(scale, "kind", "Scale");
    cJSON_AddStringToObject(scale, "apiVersion", "autoscaling/v1");
    cJSON *meta = cJSON_AddObjectToObject(scale, "metadata");
    static const char *const keys[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", NULL};
    for (size_t i = 0; keys[i]; i++) {
        const char *v = json_key_str(json_path(d->json, "metadata"), keys[i]);
        if (v)
            cJSON_AddStringToObject(meta, keys[i], v);
    }
    cJSON *spec = json_path(d->json, "spec.replicas");
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(scale, "spec"), "replicas", cJSON_IsNumber(spec) ? spec->valuedouble : 1);
    cJSON *status = cJSON_AddObjectToObject(scale, "status");
    cJSON *have = json_path(d->json, "status.replicas");
    cJSON_AddNumberToObject(status, "replicas", cJSON_IsNumber(have) ? have->valuedouble : 0);
    struct buf sel = {0};
    cJSON *l;
    cJSON_ArrayForEach(l, json_path(d->json, "spec.selector.matchLabels"))
    {
        if (cJSON_IsString(l))
            buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", l->string, l->valuestring);
    }
    cJSON_AddStringToObject(status, "selector", sel.data ? sel.data : "");
    buf_free(&sel);
    return scale;
}

/* kubectl scale: GET, PATCH or PUT of a Scale that sets spec.replicas. */
static void handle_scale(struct exchange *ex, const struct request *req, struct object *d)
{
    const char *m = req->method;
    cJSON *scale = scale_of(d);
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        reply_json(ex, 200, scale);
        cJSON_Delete(scale);
        return;
    }
    int put = strcmp(m, "PUT") == 0;
    if (!put && strcmp(m, "PATCH") != 0) {
        cJSON_Delete(scale);
        method_not_allowed(ex);
        return;
    }
    char err[600];
    if (put || content_type_is(req, "application/merge-patch+json") ||
        content_type_is(req, "application/strategic-merge-patch+json")) {
        if (put && !content_type_is(req, "application/json") && !content_type_is(req, "application/yaml")) {
            cJSON_Delete(scale);
            unsupported_media(ex, "application/json, application/yaml");
            return;
        }
        cJSON *body = parse_body(ex, req, put);
        if (!body) {
            cJSON_Delete(scale);
            return;
        }
        if (put) {
            cJSON_Delete(scale);
            scale = body;
        } else {
            merge_patch(scale, body);
            cJSON_Delete(body);
        }
    } else if (content_type_is(req, "application/json-patch+json")) {
        cJSON *ops = cJSON_ParseWithLength(req->body, req->body_len);
        int rc = json_patch(scale, ops, err, sizeof err);
        cJSON_Delete(ops);
        if (rc != 0) {
            cJSON_Delete(scale);
            ex_reply_status(ex, 422, "Invalid", err, NULL);
            return;
        }
    } else {
        cJSON_Delete(scale);
        unsupported_media(ex, "application/json-patch+json, application/merge-patch+json, "
                              "application/strategic-merge-patch+json");
        return;
    }
    cJSON *replicas = json_path(scale, "spec.replicas");
    if (!cJSON_IsNumber(replicas) || replicas->valuedouble < 0 || replicas->valuedouble > 1000 ||
        replicas->valuedouble != (double)replicas->valueint) {
        cJSON_Delete(scale);
        invalid(ex, &RT_DEPLOYMENTS, d->name, "spec.replicas", "FieldValueInvalid",
                "Invalid value: must be an integer between 0 and 1000");
        return;
    }
    cJSON *next = cJSON_Duplicate(d->json, 1);
    cJSON *spec = json_obj_ensure(next, "spec");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "replicas");
    cJSON_AddNumberToObject(spec, "replicas", replicas->valueint);
    if (dry_run(req)) {
        cJSON_Delete(next);
        reply_json(ex, 200, scale);
        cJSON_Delete(scale);
        return;
    }
    cJSON_Delete(scale);
    if (commit_update(ex, d, next, 0) == 0) {
        scale = scale_of(d);
        reply_json(ex, 200, scale);
        cJSON_Delete(scale);
    }
}

/* ---- routing ---- */

#define MAX_SEGMENTS 16

struct route {
    const struct rtype *type;
    const char *ns;   /* NULL: all namespaces (or cluster-scoped) */
    const char *name; /* NULL: the collection */
    const char *subresource;
    const char *proxy_path; /* after .../proxy, "/" when empty */
};

static const struct rtype *find_type(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; RTYPES[i]; i++)
        if (strcmp(RTYPES[i]->group, group) == 0 && strcmp(RTYPES[i]->version, version) == 0 &&
            strcmp(RTYPES[i]->plural, plural) == 0)
            return RTYPES[i];
    return NULL;
}

static int known_group_version(const char *group, const char *version)
{
    if (!group[0])
        return strcmp(version, "v1") == 0;
    for (size_t i = 0; i < N_GROUPS; i++)
        if (strcmp(groups[i][0], group) == 0 && strcmp(groups[i][1], version) == 0)
            return 1;
    return 0;
}

/* Resolves segs (after the group/version) into r; the whole (decoded) path
 * is needed to keep a proxied path as it came, slashes included. 0 when the path names nothing. */
static int parse_resource_path(const char *group, const char *version, char **segs, size_t n, const char *raw,
                               struct route *r)
{
    memset(r, 0, sizeof *r);
    size_t i = 0;
    if (n >= 3 && strcmp(segs[0], "namespaces") == 0) {
        const struct rtype *t = find_type(group, version, segs[2]);
        if (t && t->namespaced) {
            r->ns = segs[1];
            i = 2;
        }
    }
    if (i >= n)
        return 0;
    r->type = find_type(group, version, segs[i]);
    if (!r->type)
        return 0;
    if (r->type->namespaced == 0 && r->ns)
        return 0;
    if (i + 1 < n)
        r->name = segs[i + 1];
    if (i + 2 < n) {
        r->subresource = segs[i + 2];
        if (strcmp(r->subresource, "proxy") == 0) {
            /* Everything after ".../proxy" of the path. */
            const char *p = strstr(raw, "/proxy");
            while (p && p[6] != '/' && p[6] != '\0')
                p = strstr(p + 1, "/proxy");
            r->proxy_path = p && p[6] ? p + 6 : "/";
            return 1;
        }
        if (i + 3 < n)
            return 0;
    }
    return 1;
}

static int authenticated(const struct request *req)
{
    if (req->client_cert_ok)
        return 1;
    const char *auth = request_header(req, "Authorization");
    return auth && strncmp(auth, "Bearer ", 7) == 0 && api_cfg.token && strcmp(auth + 7, api_cfg.token) == 0;
}

static int accepts_json(const struct request *req)
{
    const char *accept = request_header(req, "Accept");
    return !accept || strstr(accept, "json") || strstr(accept, "*/*") || strstr(accept, "yaml");
}

static void handle_resource(struct exchange *ex, const struct request *req, struct route *r)
{
    const struct rtype *t = r->type;
    const char *m = req->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (r->subresource && strcmp(r->subresource, "proxy") == 0) {
        if (t != &RT_PODS && t != &RT_SERVICES) {
            no_such_path(ex);
            return;
        }
        char name[256], port[64];
        split_proxy_target(r->name, name, sizeof name, port, sizeof port);
        if (!r->ns) {
            no_such_path(ex);
            return;
        }
        if (cluster_scenarios() & SC_API_403_PROXY) {
            forbidden_proxy(ex, t, r->ns, name);
            return;
        }
        struct object *o = store_get(t, r->ns, name);
        if (!o) {
            not_found(ex, t, name);
            return;
        }
        if (t == &RT_PODS)
            pod_proxy(ex, req, o, port, r->proxy_path);
        else
            service_proxy(ex, req, o, port, r->proxy_path);
        return;
    }
    if (!accepts_json(req)) {
        ex_reply_status(ex, 406, "NotAcceptable",
                        "only the following media types are accepted: application/json, application/yaml", NULL);
        return;
    }
    if (!get && check_write_options(ex, req) != 0)
        return;
    if (t == &RT_SSAR || t == &RT_SSRR || t == &RT_SELFSUBJECTREVIEWS) {
        if (r->name || strcmp(m, "POST") != 0)
            method_not_allowed(ex);
        else if (t == &RT_SSAR)
            access_review(ex, req);
        else
            self_review(ex, t);
        return;
    }
    if (t == &RT_DEPLOYMENTS && r->subresource && strcmp(r->subresource, "scale") == 0 && r->ns) {
        struct object *d = store_get(t, r->ns, r->name);
        if (d)
            handle_scale(ex, req, d);
        else
            not_found(ex, t, r->name);
        return;
    }
    if (t == &RT_PODS && r->subresource && strcmp(r->subresource, "log") == 0 && r->ns && get) {
        struct object *pod = store_get(t, r->ns, r->name);
        if (!pod) {
            not_found(ex, t, r->name);
            return;
        }
        pod_log(ex, req, pod);
        return;
    }
    if (r->subresource) {
        /* status: read-only here. */
        if (strcmp(r->subresource, "status") != 0) {
            no_such_path(ex);
            return;
        }
        if (!get) {
            method_not_allowed(ex);
            return;
        }
    }
    if (!r->name) {
        if (get && (t->ops & OP_LIST))
            handle_list(ex, req, t, r->ns);
        else if (strcmp(m, "POST") == 0 && (t->ops & OP_CREATE) && (r->ns || !t->namespaced))
            handle_create(ex, req, t, r->ns);
        else if (strcmp(m, "DELETE") == 0 && (t->ops & OP_DELETECOLLECTION) && (r->ns || !t->namespaced))
            handle_delete_collection(ex, req, t, r->ns ? r->ns : "");
        else
            method_not_allowed(ex);
        return;
    }
    if (t->namespaced && !r->ns) {
        no_such_path(ex);
        return;
    }
    struct object *o = store_get(t, r->ns ? r->ns : "", r->name);
    if (strcmp(m, "PATCH") == 0 && (t->ops & OP_PATCH)) {
        handle_patch(ex, req, t, r->ns, r->name);
        return;
    }
    if (!((get && (t->ops & OP_GET)) || (strcmp(m, "DELETE") == 0 && (t->ops & OP_DELETE)) ||
          (strcmp(m, "PUT") == 0 && (t->ops & OP_UPDATE)))) {
        method_not_allowed(ex);
        return;
    }
    if (!o) {
        not_found(ex, t, r->name);
        return;
    }
    if (get && table_wanted(req)) {
        struct buf b = {0};
        table_open(&b, store_rv());
        table_columns(&b, t);
        table_row(&b, t, o->json, request_param(req, "includeObject"));
        table_close(&b);
        ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
        buf_free(&b);
    } else if (get) {
        reply_json(ex, 200, o->json);
    } else if (strcmp(m, "DELETE") == 0)
        handle_delete(ex, req, o);
    else
        handle_replace(ex, req, o);
}

static void route(struct exchange *ex, const struct request *req)
{
    char *copy = strdup(req->path);
    char *segs[MAX_SEGMENTS];
    size_t n = 0;
    int too_deep = 0;
    for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) {
        if (n == MAX_SEGMENTS) {
            too_deep = 1;
            break;
        }
        segs[n++] = tok;
    }
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    struct route r;
    if (n == 0 || (too_deep && !strstr(req->path, "/proxy"))) {
        no_such_path(ex);
    } else if (strcmp(segs[0], "api") == 0) {
        if (n == 1) {
            if (!get) {
                method_not_allowed(ex);
            } else {
                char body[256];
                snprintf(body, sizeof body,
                         "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":"
                         "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1:%d\"}]}\n",
                         api_cfg.port);
                reply_text(ex, 200, "application/json", body);
            }
        } else if (strcmp(segs[1], "v1") != 0) {
            no_such_path(ex);
        } else if (n == 2) {
            if (get)
                resource_list(ex, "", "v1");
            else
                method_not_allowed(ex);
        } else if (parse_resource_path("", "v1", segs + 2, n - 2, req->path, &r)) {
            handle_resource(ex, req, &r);
        } else {
            no_such_path(ex);
        }
    } else if (strcmp(segs[0], "apis") == 0) {
        if (n == 1) {
            if (get)
                group_list(ex);
            else
                method_not_allowed(ex);
        } else if (n == 2) {
            size_t g = 0;
            while (g < N_GROUPS && strcmp(groups[g][0], segs[1]) != 0)
                g++;
            if (g == N_GROUPS) {
                no_such_path(ex);
            } else if (!get) {
                method_not_allowed(ex);
            } else {
                struct buf b = {0};
                buf_puts(&b, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",");
                struct buf gj = {0};
                group_json(&gj, g);
                buf_append(&b, gj.data + 1, gj.len - 1);
                buf_puts(&b, "\n");
                ex_reply(ex, 200, "application/json", b.data, b.len, NULL);
                buf_free(&b);
                buf_free(&gj);
            }
        } else if (!known_group_version(segs[1], segs[2])) {
            no_such_path(ex);
        } else if (n == 3) {
            if (get)
                resource_list(ex, segs[1], segs[2]);
            else
                method_not_allowed(ex);
        } else if (parse_resource_path(segs[1], segs[2], segs + 3, n - 3, req->path, &r)) {
            handle_resource(ex, req, &r);
        } else {
            no_such_path(ex);
        }
    } else if (strcmp(segs[0], "openapi") == 0 && n == 2 && strcmp(segs[1], "v2") == 0 && get) {
        /* kubectl before 1.27 (Debian 12's is 1.20) reads the OpenAPI v2
         * document, protobuf served as octet-stream as the API server does,
         * before a server-side apply. An empty message is a valid document
         * that publishes no schemas: kubectl then validates nothing locally
         * and leaves it to the server. */
        ex_reply(ex, 200, "application/octet-stream", "", 0, NULL);
    } else if (strcmp(segs[0], "openapi") == 0 && n >= 2 && strcmp(segs[1], "v3") == 0 && get) {
        if (n == 2) {
            openapi_root(ex);
        } else {
            const char *gv = req->path + strlen("/openapi/v3/");
            int known = 0;
            for (size_t i = 0; RTYPES[i]; i++) {
                char p[128];
                openapi_gv_path(RTYPES[i], p, sizeof p);
                known |= strcmp(p, gv) == 0;
            }
            if (known)
                openapi_gv(ex, gv);
            else
                no_such_path(ex);
        }
    } else {
        no_such_path(ex);
    }
    free(copy);
}

void api_handle(struct exchange *ex, void *arg)
{
    (void)arg;
    const struct request *req = ex_request(ex);
    api_now = now_ms();
    buf_free(&api_warning);
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
        /* Public, as system:public-info-viewer makes them. */
        if (strcmp(req->path, "/version") == 0 || strcmp(req->path, "/version/") == 0) {
            version_info(ex);
            return;
        }
        if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/livez") == 0 ||
            strcmp(req->path, "/readyz") == 0) {
            reply_text(ex, 200, "text/plain; charset=utf-8", "ok");
            return;
        }
    }
    if (!authenticated(req) || (cluster_scenarios() & SC_API_401)) {
        ex_reply_status(ex, 401, "Unauthorized", "Unauthorized", NULL);
        return;
    }
    if ((cluster_scenarios() & SC_API_429) && ++api_requests % RATE_LIMIT_EVERY == 0) {
        struct buf b = {0};
        buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                     "\"message\":\"Too many requests, please try again later.\",\"reason\":\"TooManyRequests\","
                     "\"details\":{\"retryAfterSeconds\":1},\"code\":429}\n");
        ex_reply(ex, 429, "application/json", b.data, b.len, "Retry-After: 1\r\n");
        buf_free(&b);
        return;
    }
    route(ex, req);
}

int api_tick(int64_t now, void *arg)
{
    (void)arg;
    api_now = now;
    int wait = cluster_tick(now);
    watch_tick();
    follow_tick();
    int w = deferred_tick();
    if (w < wait)
        wait = w;
    /* Followed logs pass new lines on within a fifth of a second. */
    if (log_followers && wait > 200)
        wait = 200;
    for (struct watch *wt = watches; wt; wt = wt->next) {
        int64_t next = wt->deadline;
        if (wt->bookmarks && wt->next_bookmark < next)
            next = wt->next_bookmark;
        if (wt->expire_at && wt->expire_at < next)
            next = wt->expire_at;
        if (next - now < wait)
            wait = (int)(next - now);
    }
    /* Watches also wake on store changes made from ticks: keep turns short
     * while anyone watches. */
    if (watches && wait > 50)
        wait = 50;
    return wait < 0 ? 0 : wait;
}

void api_init(const struct api_config *cfg)
{
    api_cfg = *cfg;
    api_now = now_ms();
}

void api_free(void)
{
    while (watches)
        watch_unlink(watches);
    while (deferreds)
        deferred_unlink(deferreds);
    while (log_followers)
        follower_unlink(log_followers);
    buf_free(&api_warning);
}
