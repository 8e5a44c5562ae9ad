/* The object store: every Kubernetes object meshsim serves, kept as JSON in
 * the shape the API server returns, one global resourceVersion, and the
 * event log watches read from (as the API server's watch cache does). */
#ifndef MESHSIM_STORE_H
#define MESHSIM_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

enum rtype_op {
    OP_LIST = 1 << 0,
    OP_GET = 1 << 1,
    OP_WATCH = 1 << 2,
    OP_CREATE = 1 << 3,
    OP_PATCH = 1 << 4,
    OP_DELETE = 1 << 5,
    OP_UPDATE = 1 << 6,
    OP_DELETECOLLECTION = 1 << 7,
};

struct rtype {
    const char *group; /* "" for the core group */
    const char *version;
    const char *plural, *singular, *kind;
    int namespaced;
    unsigned ops;
    const char *short_names; /* JSON array or NULL */
    const char *categories;  /* JSON array or NULL */
};

extern const struct rtype RT_NAMESPACES, RT_PODS, RT_SERVICES, RT_CONFIGMAPS, RT_SERVICEACCOUNTS, RT_DEPLOYMENTS,
    RT_REPLICASETS, RT_ENVOYFILTERS, RT_WASMPLUGINS, RT_ROLES, RT_ROLEBINDINGS, RT_CLUSTERROLES, RT_CLUSTERROLEBINDINGS,
    RT_SSAR, RT_SSRR, RT_SELFSUBJECTREVIEWS, RT_EVENTS, RT_NODES, RT_ENDPOINTS, RT_ENDPOINTSLICES;
/* Every served type, in discovery order; NULL-terminated. */
extern const struct rtype *const RTYPES[];

/* "apps/v1" or "v1". */
const char *rtype_api_version(const struct rtype *t, char *out, size_t size);

struct object {
    const struct rtype *type;
    char *ns, *name; /* ns is "" for cluster-scoped objects */
    cJSON *json;
    uint64_t rv;
    void *ext; /* per-type runtime state (pods: the simulated sidecar) */
    void (*ext_free)(void *ext);
};

struct event {
    uint64_t rv;
    const struct rtype *type;
    const char *kind; /* ADDED, MODIFIED, DELETED */
    char *ns;
    cJSON *object; /* the object as it was at rv */
};

void store_init(size_t event_capacity);
void store_free(void);
uint64_t store_rv(void);

struct object *store_get(const struct rtype *t, const char *ns, const char *name);
/* Objects of a type sorted by namespace then name (etcd key order). */
struct object *const *store_list(const struct rtype *t, size_t *n);
/* Takes ownership of json; fills uid, resourceVersion, creationTimestamp,
 * namespace when missing. Emits ADDED. */
struct object *store_create(const struct rtype *t, cJSON *json);
/* After changing o->json: bumps the resourceVersion, emits MODIFIED. */
void store_modified(struct object *o);
/* Emits DELETED and frees o. */
void store_delete(struct object *o);

/* Events after rv, oldest first: iterate with index until NULL. */
const struct event *store_event_at(size_t index);
/* Index of the first event with rv > after; *expired set when events after
 * `after` were already dropped (the watch must answer 410). */
size_t store_events_after(uint64_t after, int *expired);
/* Off while the world is first built: nobody watches yet. */
void store_events_enable(int on);
/* Drops events older than rv: what etcd compaction does to watchers. */
void store_compact(uint64_t rv);

/* Helpers shared by the controllers. */
void rfc3339(char *out, size_t size, int64_t unix_seconds);
void make_uid(char out[37]);
cJSON *json_path(cJSON *root, const char *dotted); /* "metadata.labels": NULL if absent */
const char *json_str(cJSON *root, const char *dotted);
/* obj[key] as a string: for keys holding dots (labels, annotations). */
const char *json_key_str(cJSON *obj, const char *key);
cJSON *json_obj_ensure(cJSON *root, const char *key);
void json_set_str(cJSON *obj, const char *key, const char *value);

#endif
