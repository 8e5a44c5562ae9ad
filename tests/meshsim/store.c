#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"

#define CORE_VERBS (OP_LIST | OP_GET | OP_WATCH)
#define CRUD (OP_LIST | OP_GET | OP_WATCH | OP_CREATE | OP_PATCH | OP_DELETE | OP_DELETECOLLECTION | OP_UPDATE)

const struct rtype RT_NAMESPACES = {"", "v1", "namespaces", "namespace", "Namespace", 0,
                                    CORE_VERBS | OP_CREATE | OP_PATCH | OP_UPDATE, "[\"ns\"]", NULL};
const struct rtype RT_PODS = {"", "v1", "pods", "pod", "Pod", 1, CORE_VERBS | OP_PATCH | OP_DELETE | OP_DELETECOLLECTION,
                              "[\"po\"]",
                              "[\"all\"]"};
const struct rtype RT_SERVICES = {"", "v1", "services", "service", "Service", 1, CRUD, "[\"svc\"]", "[\"all\"]"};
const struct rtype RT_CONFIGMAPS = {"", "v1", "configmaps", "configmap", "ConfigMap", 1, CRUD, "[\"cm\"]", NULL};
const struct rtype RT_SERVICEACCOUNTS = {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", 1, CRUD,
                                         "[\"sa\"]", NULL};
const struct rtype RT_DEPLOYMENTS = {"apps", "v1", "deployments", "deployment", "Deployment", 1, CRUD,
                                     "[\"deploy\"]", "[\"all\"]"};
const struct rtype RT_REPLICASETS = {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", 1, CORE_VERBS,
                                     "[\"rs\"]", "[\"all\"]"};
const struct rtype RT_ENVOYFILTERS = {"networking.istio.io", "v1alpha3", "envoyfilters", "envoyfilter", "EnvoyFilter",
                                      1, CRUD, NULL, "[\"istio-io\",\"networking-istio-io\"]"};
const struct rtype RT_WASMPLUGINS = {"extensions.istio.io", "v1alpha1", "wasmplugins", "wasmplugin", "WasmPlugin",
                                     1, CRUD, NULL, "[\"istio-io\",\"extensions-istio-io\"]"};
const struct rtype RT_ROLES = {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", 1, CRUD, NULL, NULL};
const struct rtype RT_ROLEBINDINGS = {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding",
                                      1, CRUD, NULL, NULL};
const struct rtype RT_CLUSTERROLES = {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole",
                                      0, CRUD, NULL, NULL};
const struct rtype RT_CLUSTERROLEBINDINGS = {"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                             "clusterrolebinding", "ClusterRoleBinding", 0, CRUD, NULL, NULL};
const struct rtype RT_SSAR = {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
                              "SelfSubjectAccessReview", 0, OP_CREATE, NULL, NULL};
const struct rtype RT_SSRR = {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
                              "SelfSubjectRulesReview", 0, OP_CREATE, NULL, NULL};
const struct rtype RT_SELFSUBJECTREVIEWS = {"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
                                            "SelfSubjectReview", 0, OP_CREATE, NULL, NULL};
const struct rtype RT_EVENTS = {"", "v1", "events", "event", "Event", 1, CRUD, "[\"ev\"]", NULL};
const struct rtype RT_NODES = {"", "v1", "nodes", "node", "Node", 0, CORE_VERBS, "[\"no\"]", NULL};
const struct rtype RT_ENDPOINTS = {"", "v1", "endpoints", "endpoints", "Endpoints", 1, CORE_VERBS, "[\"ep\"]", NULL};
const struct rtype RT_ENDPOINTSLICES = {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
                                        1, CORE_VERBS, NULL, NULL};

const struct rtype *const RTYPES[] = {&RT_NAMESPACES, &RT_PODS, &RT_SERVICES, &RT_CONFIGMAPS, &RT_SERVICEACCOUNTS,
                                      &RT_EVENTS, &RT_NODES, &RT_ENDPOINTS, &RT_DEPLOYMENTS, &RT_REPLICASETS,
                                      &RT_ENVOYFILTERS, &RT_WASMPLUGINS, &RT_ROLES, &RT_ROLEBINDINGS,
                                      &RT_CLUSTERROLES, &RT_CLUSTERROLEBINDINGS, &RT_SSAR, &RT_SSRR,
                                      &RT_SELFSUBJECTREVIEWS, &RT_ENDPOINTSLICES, NULL};

#define N_TYPES (sizeof RTYPES / sizeof RTYPES[0] - 1)

struct table {
    struct object **items;
    size_t n, cap;
};

static struct table tables[N_TYPES];
static uint64_t current_rv = 1000;
static struct event *ring;
static size_t ring_cap, ring_start, ring_len;
static uint64_t compacted_rv; /* events with rv <= this are gone */

const char *rtype_api_version(const struct rtype *t, char *out, size_t size)
{
    if (t->group[0])
        snprintf(out, size, "%s/%s", t->group, t->version);
    else
        snprintf(out, size, "%s", t->version);
    return out;
}

static struct table *table_of(const struct rtype *t)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (RTYPES[i] == t)
            return &tables[i];
    abort();
}

void store_init(size_t event_capacity)
{
    ring_cap = event_capacity;
    ring = calloc(ring_cap, sizeof *ring);
}

static void event_clear(struct event *e)
{
    free(e->ns);
    cJSON_Delete(e->object);
    memset(e, 0, sizeof *e);
}

static void object_free(struct object *o)
{
    if (o->ext_free)
        o->ext_free(o->ext);
    free(o->ns);
    free(o->name);
    cJSON_Delete(o->json);
    free(o);
}

void store_free(void)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        for (size_t j = 0; j < tables[i].n; j++)
            object_free(tables[i].items[j]);
        free(tables[i].items);
        memset(&tables[i], 0, sizeof tables[i]);
    }
    for (size_t i = 0; i < ring_len; i++)
        event_clear(&ring[(ring_start + i) % ring_cap]);
    free(ring);
    ring = NULL;
    ring_len = ring_start = 0;
}

uint64_t store_rv(void)
{
    return current_rv;
}

static int key_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
    int c = strcmp(ns_a, ns_b);
    return c ? c : strcmp(name_a, name_b);
}

/* Index of the first item not less than (ns, name). */
static size_t lower_bound(struct table *tb, const char *ns, const char *name)
{
    size_t lo = 0, hi = tb->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (key_cmp(tb->items[mid]->ns, tb->items[mid]->name, ns, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct object *store_get(const struct rtype *t, const char *ns, const char *name)
{
    struct table *tb = table_of(t);
    if (!t->namespaced)
        ns = "";
    size_t i = lower_bound(tb, ns, name);
    if (i < tb->n && key_cmp(tb->items[i]->ns, tb->items[i]->name, ns, name) == 0)
        return tb->items[i];
    return NULL;
}

struct object *const *store_list(const struct rtype *t, size_t *n)
{
    struct table *tb = table_of(t);
    *n = tb->n;
    return tb->items;
}

static int events_on = 1;

void store_events_enable(int on)
{
    events_on = on;
}

static void emit(struct object *o, const char *kind)
{
    if (!ring_cap || !events_on)
        return;
    if (ring_len == ring_cap) {
        struct event *old = &ring[ring_start];
        compacted_rv = old->rv;
        event_clear(old);
        ring_start = (ring_start + 1) % ring_cap;
        ring_len--;
    }
    struct event *e = &ring[(ring_start + ring_len) % ring_cap];
    e->rv = o->rv;
    e->type = o->type;
    e->kind = kind;
    e->ns = strdup(o->ns);
    e->object = cJSON_Duplicate(o->json, 1);
    ring_len++;
}

static void stamp_rv(struct object *o)
{
    o->rv = ++current_rv;
    char rv[24];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)o->rv);
    json_set_str(json_obj_ensure(o->json, "metadata"), "resourceVersion", rv);
}

/* Field order as the API server writes it: kind, apiVersion, then the rest. */
static cJSON *with_type_first(const struct rtype *t, cJSON *json)
{
    char api_version[96];
    cJSON *fresh = cJSON_CreateObject();
    cJSON_AddStringToObject(fresh, "kind", t->kind);
    cJSON_AddStringToObject(fresh, "apiVersion", rtype_api_version(t, api_version, sizeof api_version));
    cJSON *child;
    while ((child = json->child)) {
        cJSON_DetachItemViaPointer(json, child);
        if (strcmp(child->string, "kind") == 0 || strcmp(child->string, "apiVersion") == 0) {
            cJSON_Delete(child);
            continue;
        }
        char *key = strdup(child->string);
        cJSON_AddItemToObject(fresh, key, child);
        free(key);
    }
    cJSON_Delete(json);
    return fresh;
}

struct object *store_create(const struct rtype *t, cJSON *json)
{
    struct object *o = calloc(1, sizeof *o);
    o->type = t;
    o->json = with_type_first(t, json);
    json = o->json;
    cJSON *meta = json_obj_ensure(json, "metadata");
    const char *name = json_str(json, "metadata.name");
    const char *ns = t->namespaced ? json_str(json, "metadata.namespace") : "";
    o->name = strdup(name ? name : "");
    o->ns = strdup(ns ? ns : "");
    if (t->namespaced)
        json_set_str(meta, "namespace", o->ns);
    if (!cJSON_GetObjectItem(meta, "uid")) {
        char uid[37];
        make_uid(uid);
        json_set_str(meta, "uid", uid);
    }
    if (!cJSON_GetObjectItem(meta, "creationTimestamp") ||
        cJSON_IsNull(cJSON_GetObjectItem(meta, "creationTimestamp"))) {
        char ts[32];
        rfc3339(ts, sizeof ts, time(NULL));
        json_set_str(meta, "creationTimestamp", ts);
    }
    stamp_rv(o);
    struct table *tb = table_of(t);
    size_t i = lower_bound(tb, o->ns, o->name);
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? tb->cap * 2 : 64;
        tb->items = realloc(tb->items, tb->cap * sizeof *tb->items);
    }
    memmove(tb->items + i + 1, tb->items + i, (tb->n - i) * sizeof *tb->items);
    tb->items[i] = o;
    tb->n++;
    emit(o, "ADDED");
    return o;
}

void store_modified(struct object *o)
{
    stamp_rv(o);
    emit(o, "MODIFIED");
}

void store_delete(struct object *o)
{
    /* The DELETED event carries a new resourceVersion, as the API server's. */
    stamp_rv(o);
    emit(o, "DELETED");
    struct table *tb = table_of(o->type);
    size_t i = lower_bound(tb, o->ns, o->name);
    if (i < tb->n && tb->items[i] == o) {
        memmove(tb->items + i, tb->items + i + 1, (tb->n - i - 1) * sizeof *tb->items);
        tb->n--;
    }
    object_free(o);
}

const struct event *store_event_at(size_t index)
{
    if (index >= ring_len)
        return NULL;
    return &ring[(ring_start + index) % ring_cap];
}

size_t store_events_after(uint64_t after, int *expired)
{
    *expired = after < compacted_rv;
    size_t lo = 0, hi = ring_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (store_event_at(mid)->rv <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void store_compact(uint64_t rv)
{
    while (ring_len && ring[ring_start].rv <= rv) {
        compacted_rv = ring[ring_start].rv;
        event_clear(&ring[ring_start]);
        ring_start = (ring_start + 1) % ring_cap;
        ring_len--;
    }
    if (rv > compacted_rv)
        compacted_rv = rv;
}

void rfc3339(char *out, size_t size, int64_t unix_seconds)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void make_uid(char out[37])
{
    uint64_t a = rng_next(), b = rng_next();
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)), (unsigned long long)(b & 0xffffffffffffULL));
}

cJSON *json_path(cJSON *root, const char *dotted)
{
    char key[256];
    const char *p = dotted;
    cJSON *cur = root;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof key)
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
        p = dot ? dot + 1 : p + len;
    }
    return cur;
}

const char *json_str(cJSON *root, const char *dotted)
{
    cJSON *v = json_path(root, dotted);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *json_key_str(cJSON *obj, const char *key)
{
    cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *json_obj_ensure(cJSON *root, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsObject(v))
        return v;
    if (v)
        cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    return cJSON_AddObjectToObject(root, key);
}

void json_set_str(cJSON *obj, const char *key, const char *value)
{
    cJSON *v = cJSON_CreateString(value);
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
}
