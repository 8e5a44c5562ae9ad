#include "kube_pods.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../stats/text.h"
#include "kube_backoff.h"
#include "kube_util.h"
#include "kube_watch.h"

/* --- the pod model ----------------------------------------------------------- */

static const char SIDECAR_NAME[] = "istio-proxy";

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *json_get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void free_kvs(struct kube_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void kube_pod_free(struct kube_pod *p)
{
    free(p->name);
    free(p->namespace);
    free(p->uid);
    free(p->resource_version);
    free(p->phase);
    free(p->node);
    free(p->pod_ip);
    free_kvs(p->labels, p->n_labels);
    free_kvs(p->annotations, p->n_annotations);
    free(p->sidecar_image);
    free_kvs(p->sidecar_env, p->n_sidecar_env);
    for (size_t i = 0; i < p->n_ports; i++) {
        free(p->ports[i].container);
        free(p->ports[i].name);
    }
    free(p->ports);
    free(p->owner_kind);
    free(p->owner_name);
    free(p->deployment);
    memset(p, 0, sizeof *p);
}

/* A string map (labels, annotations) into key/value pairs. */
static int copy_string_map(const cJSON *map, struct kube_kv **out, size_t *n)
{
    if (!cJSON_IsObject(map))
        return 0;
    *out = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof **out);
    if (!*out)
        return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, map) {
        if (!cJSON_IsString(item) || !item->string)
            continue;
        struct kube_kv *kv = &(*out)[(*n)++];
        kv->key = strdup(item->string);
        kv->value = strdup(item->valuestring);
        if (!kv->key || !kv->value)
            return -1;
    }
    return 0;
}

static int copy_env(const cJSON *env, struct kube_kv **out, size_t *n)
{
    if (!cJSON_IsArray(env))
        return 0;
    *out = calloc((size_t)cJSON_GetArraySize(env) + 1, sizeof **out);
    if (!*out)
        return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, env) {
        const char *name = json_str(item, "name");
        const char *value = json_str(item, "value");
        if (!name || !value) /* valueFrom entries have no literal value */
            continue;
        struct kube_kv *kv = &(*out)[(*n)++];
        kv->key = strdup(name);
        kv->value = strdup(value);
        if (!kv->key || !kv->value)
            return -1;
    }
    return 0;
}

static int add_ports(const cJSON *container, struct kube_pod *p)
{
    const cJSON *ports = json_get(container, "ports");
    if (!cJSON_IsArray(ports))
        return 0;
    size_t extra = (size_t)cJSON_GetArraySize(ports);
    struct kube_container_port *grown = realloc(p->ports, (p->n_ports + extra + 1) * sizeof *grown);
    if (!grown)
        return -1;
    p->ports = grown;
    const cJSON *port;
    cJSON_ArrayForEach(port, ports) {
        const cJSON *number = json_get(port, "containerPort");
        if (!cJSON_IsNumber(number) || number->valuedouble < 1 || number->valuedouble > 65535)
            continue;
        struct kube_container_port *cp = &p->ports[p->n_ports++];
        memset(cp, 0, sizeof *cp);
        cp->port = number->valueint;
        cp->container = kube_strdup(json_str(container, "name"));
        cp->name = kube_strdup(json_str(port, "name"));
        snprintf(cp->protocol, sizeof cp->protocol, "%s",
                 json_str(port, "protocol") ? json_str(port, "protocol") : "TCP");
    }
    return 0;
}

static int take_sidecar(const cJSON *container, bool native, struct kube_pod *p)
{
    p->has_sidecar = true;
    p->sidecar_native = native;
    p->sidecar_image = kube_strdup(json_str(container, "image"));
    return copy_env(json_get(container, "env"), &p->sidecar_env, &p->n_sidecar_env);
}

/* Whether the init container named `name` restarts like a sidecar. */
static bool restartable_init(const cJSON *spec, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get(spec, "initContainers")) {
        const char *n = json_str(c, "name");
        const char *policy = json_str(c, "restartPolicy");
        if (n && name && strcmp(n, name) == 0)
            return policy && strcmp(policy, "Always") == 0;
    }
    return false;
}

/* Saturating at INT_MAX: the server chooses these numbers. */
static int sum_restarts(const cJSON *statuses, const cJSON *spec, bool init_only_restartable, int total)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, statuses) {
        const cJSON *count = json_get(s, "restartCount");
        if (!cJSON_IsNumber(count) || count->valuedouble < 0 || count->valuedouble > 1e9)
            continue;
        if (init_only_restartable && !restartable_init(spec, json_str(s, "name")))
            continue;
        total = count->valueint > INT_MAX - total ? INT_MAX : total + count->valueint;
    }
    return total;
}

char *kube_deployment_from_replicaset(const char *rs, const char *hash)
{
    if (!rs)
        return NULL;
    size_t len = strlen(rs);
    if (hash && *hash) {
        size_t hl = strlen(hash);
        if (len > hl + 1 && rs[len - hl - 1] == '-' && strcmp(rs + len - hl, hash) == 0)
            return kube_strndup(rs, len - hl - 1);
    }
    /* The hash the Deployment controller appends: up to 10 characters of
     * [a-z0-9] (safe-encoded FNV). */
    const char *dash = strrchr(rs, '-');
    if (!dash || dash == rs)
        return NULL;
    size_t suffix = len - (size_t)(dash - rs) - 1;
    if (suffix == 0 || suffix > 10)
        return NULL;
    for (const char *c = dash + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            return NULL;
    return kube_strndup(rs, (size_t)(dash - rs));
}

static time_t json_time(const cJSON *obj, const char *key)
{
    struct timespec t;
    const char *s = json_str(obj, key);
    return s && kube_parse_rfc3339(s, strlen(s), &t) ? t.tv_sec : 0;
}

int kube_pod_from_json(const cJSON *obj, struct kube_pod *p)
{
    memset(p, 0, sizeof *p);
    const cJSON *meta = json_get(obj, "metadata");
    const cJSON *spec = json_get(obj, "spec");
    const cJSON *status = json_get(obj, "status");
    const char *name = json_str(meta, "name");
    if (!name)
        return -1;
    p->name = strdup(name);
    p->namespace = strdup(json_str(meta, "namespace") ? json_str(meta, "namespace") : "");
    p->uid = kube_strdup(json_str(meta, "uid"));
    p->resource_version = strdup(json_str(meta, "resourceVersion") ? json_str(meta, "resourceVersion") : "");
    p->phase = strdup(json_str(status, "phase") ? json_str(status, "phase") : "");
    p->node = kube_strdup(json_str(spec, "nodeName"));
    p->pod_ip = kube_strdup(json_str(status, "podIP"));
    p->deleting = json_str(meta, "deletionTimestamp") != NULL;
    p->created = json_time(meta, "creationTimestamp");
    p->start_time = json_time(status, "startTime");
    if (!p->name || !p->namespace || !p->resource_version || !p->phase ||
        copy_string_map(json_get(meta, "labels"), &p->labels, &p->n_labels) < 0 ||
        copy_string_map(json_get(meta, "annotations"), &p->annotations, &p->n_annotations) < 0)
        goto oom;

    const cJSON *cond;
    cJSON_ArrayForEach(cond, json_get(status, "conditions")) {
        const char *type = json_str(cond, "type"), *value = json_str(cond, "status");
        if (type && value && strcmp(type, "Ready") == 0)
            p->ready = strcmp(value, "True") == 0;
    }
    p->restarts = sum_restarts(json_get(status, "initContainerStatuses"), spec, true,
                               sum_restarts(json_get(status, "containerStatuses"), spec, false, 0));
    const char *const status_lists[] = {"containerStatuses", "initContainerStatuses"};
    for (size_t k = 0; k < 2; k++) {
        const cJSON *s;
        cJSON_ArrayForEach(s, json_get(status, status_lists[k])) {
            const char *sname = json_str(s, "name");
            if (!sname || strcmp(sname, SIDECAR_NAME) != 0)
                continue;
            const cJSON *count = json_get(s, "restartCount");
            if (cJSON_IsNumber(count) && count->valuedouble >= 0 && count->valuedouble <= 1e9)
                p->sidecar_restarts = count->valueint;
            p->sidecar_started = json_time(json_get(json_get(s, "state"), "running"), "startedAt");
        }
    }

    const cJSON *c;
    cJSON_ArrayForEach(c, json_get(spec, "containers")) {
        const char *cname = json_str(c, "name");
        int rc = cname && strcmp(cname, SIDECAR_NAME) == 0 ? take_sidecar(c, false, p) : add_ports(c, p);
        if (rc < 0)
            goto oom;
    }
    cJSON_ArrayForEach(c, json_get(spec, "initContainers")) {
        const char *cname = json_str(c, "name");
        if (!p->has_sidecar && cname && strcmp(cname, SIDECAR_NAME) == 0 &&
            take_sidecar(c, true, p) < 0)
            goto oom;
    }

    const cJSON *owner, *chosen = NULL;
    cJSON_ArrayForEach(owner, json_get(meta, "ownerReferences")) {
        if (!chosen || cJSON_IsTrue(json_get(owner, "controller")))
            chosen = owner;
        if (cJSON_IsTrue(json_get(owner, "controller")))
            break;
    }
    if (chosen) {
        p->owner_kind = kube_strdup(json_str(chosen, "kind"));
        p->owner_name = kube_strdup(json_str(chosen, "name"));
        if (p->owner_kind && p->owner_name && strcmp(p->owner_kind, "ReplicaSet") == 0)
            p->deployment = kube_deployment_from_replicaset(p->owner_name,
                                                            kube_pod_label(p, "pod-template-hash"));
    }
    return 0;
oom:
    kube_pod_free(p);
    return -1;
}

static const char *kv_lookup(const struct kube_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *kube_pod_label(const struct kube_pod *p, const char *key)
{
    return kv_lookup(p->labels, p->n_labels, key);
}

const char *kube_pod_annotation(const struct kube_pod *p, const char *key)
{
    return kv_lookup(p->annotations, p->n_annotations, key);
}

const char *kube_pod_sidecar_env(const struct kube_pod *p, const char *name)
{
    return kv_lookup(p->sidecar_env, p->n_sidecar_env, name);
}

/* --- list and watch ------------------------------------------------------------ */

enum {
    /* A page is parsed whole; 250 Istio-injected pods keep the peak near
     * 30 MB where 500 need 40 (1,000 pods from meshsim), at no cost in
     * time over HTTP/2. */
    DEFAULT_PAGE_SIZE = 250,
    LIST_TIMEOUT_MS = 60000,
    /* A list whose `continue` never ends stops here: 100,000 pods at the
     * default page size. */
    MAX_LIST_PAGES = 400,
    /* client-go's reflector counts a watch that ended within a second
     * without an event as failed ("very short watch", watchHandler in
     * tools/cache/reflector.go) and backs off before the next. */
    SHORT_WATCH_MS = 1000,
};

/* A pod we have told the consumer about, keyed "namespace/name". */
struct known_pod {
    struct known_pod *next;
    unsigned list_generation; /* the last list that contained it */
    struct kube_pod pod;
    char key[];
};

/* What a ReplicaSet lookup found: the Deployment owning it, or none. */
struct owner_entry {
    struct owner_entry *next;
    struct kube_pod_watch *watch;
    struct kube_request *req; /* in flight, NULL when answered */
    bool answered;
    char *deployment; /* NULL: no Deployment owns it (or the lookup failed) */
    char *namespace;
    char *replicaset;
};

struct kube_pod_watch {
    struct kube_client *client;
    kube_pod_event_fn on_event;
    void *user;
    char *collection;   /* /api/v1[/namespaces/NS]/pods */
    char *selector;     /* escaped labelSelector, or NULL */
    int page_size;
    int watch_timeout_s;
    bool resolve_owners;

    struct kube_request *req; /* the list page or watch in flight */
    struct kube_watch_decoder decoder;
    char resource_version[64];
    unsigned list_generation;
    bool relist_wanted;        /* the stream said 410 Expired */
    struct kube_error stream_error;
    bool stream_failed;
    struct kube_backoff backoff;
    unsigned pages_this_list;
    long long watch_started_ms;
    unsigned watch_events;

    struct known_pod **buckets;
    size_t n_buckets, n_known;
    struct owner_entry *owners;

    int depth; /* callbacks of ours on the stack */
    bool stop_requested;
    struct kube_pod_watch_stats stats;
};

static void start_list(struct kube_pod_watch *w, const char *continue_token, long delay_ms);
static void start_watch(struct kube_pod_watch *w, long delay_ms);

static unsigned long hash_key(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static struct known_pod **find_slot(struct kube_pod_watch *w, const char *key)
{
    struct known_pod **slot = &w->buckets[hash_key(key) & (w->n_buckets - 1)];
    while (*slot && strcmp((*slot)->key, key) != 0)
        slot = &(*slot)->next;
    return slot;
}

static int grow_table(struct kube_pod_watch *w)
{
    size_t n = w->n_buckets ? w->n_buckets * 2 : 64;
    struct known_pod **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < w->n_buckets; i++) {
        struct known_pod *k = w->buckets[i];
        while (k) {
            struct known_pod *next = k->next;
            size_t at = hash_key(k->key) & (n - 1);
            k->next = b[at];
            b[at] = k;
            k = next;
        }
    }
    free(w->buckets);
    w->buckets = b;
    w->n_buckets = n;
    return 0;
}

/* "namespace/name", whole: names of any length stay apart. NULL when out
 * of memory. */
static char *pod_key(const struct kube_pod *p)
{
    char *key;
    return asprintf(&key, "%s/%s", p->namespace, p->name) < 0 ? NULL : key;
}

static void emit(struct kube_pod_watch *w, enum kube_pod_event_type type, const struct kube_pod *pod,
                 const struct kube_error *error)
{
    if (w->stop_requested)
        return;
    struct kube_pod_event ev = {.type = type, .pod = pod, .error = error};
    w->on_event(&ev, w->user);
}

static void destroy(struct kube_pod_watch *w)
{
    kube_request_cancel(w->req);
    for (struct owner_entry *o = w->owners, *next; o; o = next) {
        next = o->next;
        kube_request_cancel(o->req);
        free(o->deployment);
        free(o->namespace);
        free(o->replicaset);
        free(o);
    }
    for (size_t i = 0; i < w->n_buckets; i++)
        for (struct known_pod *k = w->buckets[i], *next; k; k = next) {
            next = k->next;
            kube_pod_free(&k->pod);
            free(k);
        }
    free(w->buckets);
    kube_watch_decoder_free(&w->decoder);
    free(w->collection);
    free(w->selector);
    free(w);
}

static void enter(struct kube_pod_watch *w) { w->depth++; }

/* Leaves one of our callbacks; frees the watch when the consumer stopped it meanwhile. */
static void leave(struct kube_pod_watch *w)
{
    if (--w->depth == 0 && w->stop_requested)
        destroy(w);
}

void kube_pod_watch_stop(struct kube_pod_watch *w)
{
    if (!w)
        return;
    w->stop_requested = true;
    if (w->depth == 0)
        destroy(w);
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every list or watch that follows a failure, an expiry or a very short
 * watch waits its turn of the backoff. */
static void schedule_retry(struct kube_pod_watch *w, bool relist)
{
    long delay = kube_backoff_step(&w->backoff, monotonic_ms());
    if (relist || !w->resource_version[0])
        start_list(w, NULL, delay);
    else
        start_watch(w, delay);
}

static void report_error(struct kube_pod_watch *w, const struct kube_error *err)
{
    w->stats.errors++;
    emit(w, KUBE_POD_ERROR, NULL, err);
}

/* --- ReplicaSet owners ---------------------------------------------------------- */

static struct owner_entry *find_owner(struct kube_pod_watch *w, const char *ns, const char *rs)
{
    for (struct owner_entry *o = w->owners; o; o = o->next)
        if (strcmp(o->namespace, ns) == 0 && strcmp(o->replicaset, rs) == 0)
            return o;
    return NULL;
}

static void set_deployment(struct kube_pod *p, const struct owner_entry *o)
{
    free(p->deployment);
    p->deployment = kube_strdup(o->deployment);
}

static void on_owner_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct owner_entry *o = user;
    struct kube_pod_watch *w = o->watch;
    enter(w);
    o->req = NULL;
    o->answered = true;
    cJSON *rs = resp->error.code == KUBE_OK ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    if (rs) {
        const cJSON *owner;
        cJSON_ArrayForEach(owner, json_get(json_get(rs, "metadata"), "ownerReferences")) {
            const char *kind = json_str(owner, "kind");
            if (kind && strcmp(kind, "Deployment") == 0 && json_str(owner, "name")) {
                o->deployment = strdup(json_str(owner, "name"));
                break;
            }
        }
        cJSON_Delete(rs);
    } else {
        /* No access to replicasets (or it is gone): the name-based guess stays. */
        o->deployment = kube_deployment_from_replicaset(o->replicaset, NULL);
    }
    for (size_t i = 0; i < w->n_buckets && !w->stop_requested; i++)
        for (struct known_pod *k = w->buckets[i]; k && !w->stop_requested; k = k->next) {
            struct kube_pod *p = &k->pod;
            if (!p->owner_name || !p->owner_kind || strcmp(p->owner_kind, "ReplicaSet") != 0 ||
                strcmp(p->owner_name, o->replicaset) != 0 || strcmp(p->namespace, o->namespace) != 0)
                continue;
            bool same = (!p->deployment && !o->deployment) ||
                        (p->deployment && o->deployment && strcmp(p->deployment, o->deployment) == 0);
            set_deployment(p, o);
            if (!same)
                emit(w, KUBE_POD_UPSERT, p, NULL);
        }
    leave(w);
}

/* Uses a known answer for the pod's ReplicaSet, or asks for one. */
static void resolve_owner(struct kube_pod_watch *w, struct kube_pod *p)
{
    if (!w->resolve_owners || !p->owner_kind || strcmp(p->owner_kind, "ReplicaSet") != 0 || !p->owner_name)
        return;
    struct owner_entry *o = find_owner(w, p->namespace, p->owner_name);
    if (o) {
        if (o->answered)
            set_deployment(p, o);
        return;
    }
    o = calloc(1, sizeof *o);
    char *ns = kube_url_escape(p->namespace), *rs = kube_url_escape(p->owner_name);
    char *path = NULL;
    if (!o || !ns || !rs ||
        asprintf(&path, "/apis/apps/v1/namespaces/%s/replicasets/%s", ns, rs) < 0 ||
        !(o->namespace = strdup(p->namespace)) || !(o->replicaset = strdup(p->owner_name))) {
        if (o) {
            free(o->namespace);
            free(o);
        }
        free(ns);
        free(rs);
        return;
    }
    free(ns);
    free(rs);
    o->watch = w;
    o->next = w->owners;
    w->owners = o;
    o->req = kube_client_get(w->client, path, on_owner_done, o);
    free(path);
}

/* --- pods known ------------------------------------------------------------------- */

/* Takes `pod` (moved into the table); tells the consumer when it changed. */
static void upsert(struct kube_pod_watch *w, struct kube_pod *pod)
{
    char *key = pod_key(pod);
    if (!key || (w->n_known >= w->n_buckets && grow_table(w) < 0)) {
        free(key);
        kube_pod_free(pod);
        return;
    }
    struct known_pod **slot = find_slot(w, key);
    struct known_pod *k = *slot;
    if (k) {
        k->list_generation = w->list_generation;
        if (strcmp(k->pod.resource_version, pod->resource_version) == 0 && pod->resource_version[0]) {
            free(key);
            kube_pod_free(pod);
            return;
        }
        kube_pod_free(&k->pod);
    } else {
        size_t kl = strlen(key) + 1;
        if (!(k = calloc(1, sizeof *k + kl))) {
            free(key);
            kube_pod_free(pod);
            return;
        }
        memcpy(k->key, key, kl);
        k->list_generation = w->list_generation;
        *slot = k;
        w->n_known++;
    }
    free(key);
    k->pod = *pod;
    memset(pod, 0, sizeof *pod);
    resolve_owner(w, &k->pod);
    emit(w, KUBE_POD_UPSERT, &k->pod, NULL);
}

static void forget(struct kube_pod_watch *w, const char *key)
{
    struct known_pod **slot = find_slot(w, key);
    struct known_pod *k = *slot;
    if (!k)
        return;
    *slot = k->next;
    w->n_known--;
    emit(w, KUBE_POD_DELETE, &k->pod, NULL);
    kube_pod_free(&k->pod);
    free(k);
}

/* After a complete list: whatever it did not contain is gone. */
static void forget_unlisted(struct kube_pod_watch *w)
{
    for (size_t i = 0; i < w->n_buckets && !w->stop_requested; i++) {
        struct known_pod **slot = &w->buckets[i];
        while (*slot && !w->stop_requested) {
            struct known_pod *k = *slot;
            if (k->list_generation == w->list_generation) {
                slot = &k->next;
                continue;
            }
            *slot = k->next;
            w->n_known--;
            emit(w, KUBE_POD_DELETE, &k->pod, NULL);
            kube_pod_free(&k->pod);
            free(k);
        }
    }
}

/* --- listing ------------------------------------------------------------------------ */

static void on_list_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct kube_pod_watch *w = user;
    enter(w);
    w->req = NULL;
    cJSON *list = NULL;
    if (resp->error.code == KUBE_EXPIRED || resp->error.code == KUBE_GONE) {
        /* The continue token outlived the server's snapshot: list again from the start. */
        schedule_retry(w, true);
        goto out;
    }
    if (resp->error.code != KUBE_OK) {
        report_error(w, &resp->error);
        schedule_retry(w, true);
        goto out;
    }
    list = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *items = json_get(list, "items");
    if (!cJSON_IsObject(list) || (items && !cJSON_IsArray(items) && !cJSON_IsNull(items))) {
        struct kube_error err;
        kube_error_set(&err, KUBE_WATCH_DECODE, "pod list answer is not a list");
        report_error(w, &err);
        schedule_retry(w, true);
        goto out;
    }
    w->stats.pages++;
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        struct kube_pod pod;
        if (kube_pod_from_json(item, &pod) == 0)
            upsert(w, &pod);
        if (w->stop_requested)
            goto out;
    }
    const cJSON *meta = json_get(list, "metadata");
    const char *next = json_str(meta, "continue");
    if (next && *next && w->pages_this_list >= MAX_LIST_PAGES) {
        struct kube_error err;
        kube_error_set(&err, KUBE_WATCH_DECODE,
                       "pod list did not end after %d pages of %d (the API server keeps sending \"continue\")",
                       MAX_LIST_PAGES, w->page_size);
        report_error(w, &err);
        schedule_retry(w, true);
        goto out;
    }
    if (next && *next) {
        start_list(w, next, 0);
        goto out;
    }
    forget_unlisted(w);
    const char *rv = json_str(meta, "resourceVersion");
    snprintf(w->resource_version, sizeof w->resource_version, "%s", rv ? rv : "");
    snprintf(w->stats.resource_version, sizeof w->stats.resource_version, "%s", w->resource_version);
    w->stats.synced = true;
    emit(w, KUBE_POD_SYNCED, NULL, NULL);
    if (!w->stop_requested)
        start_watch(w, 0);
out:
    cJSON_Delete(list);
    leave(w);
}

static void start_list(struct kube_pod_watch *w, const char *continue_token, long delay_ms)
{
    struct kube_buf path = {0};
    char *token = continue_token ? kube_url_escape(continue_token) : NULL;
    if (!continue_token) {
        w->list_generation++;
        w->stats.lists++;
        w->pages_this_list = 0;
    }
    w->pages_this_list++;
    int rc = kube_buf_printf(&path, "%s?limit=%d", w->collection, w->page_size);
    if (rc == 0 && token)
        rc = kube_buf_printf(&path, "&continue=%s", token);
    if (rc == 0 && w->selector)
        rc = kube_buf_printf(&path, "&labelSelector=%s", w->selector);
    free(token);
    if (rc == 0) {
        struct kube_request_options o = {.method = KUBE_GET, .path = path.data,
                                         .timeout_ms = LIST_TIMEOUT_MS, .delay_ms = delay_ms};
        w->req = kube_client_start(w->client, &o, on_list_done, w);
    }
    kube_buf_free(&path);
}

/* --- watching ----------------------------------------------------------------------- */

static bool on_watch_event(const struct kube_watch_event *ev, void *user)
{
    struct kube_pod_watch *w = user;
    if (ev->type == KUBE_WATCH_ERROR) {
        if (ev->status.code == 410 || strcmp(ev->status.reason, "Expired") == 0 ||
            strcmp(ev->status.reason, "Gone") == 0) {
            w->relist_wanted = true;
        } else {
            w->stream_failed = true;
            char text[sizeof ev->status.message * 4];
            text_sanitize(ev->status.message, strlen(ev->status.message), 0, text, sizeof text);
            kube_error_set(&w->stream_error, kube_code_from_http(ev->status.code, ev->status.reason), "watch: %s",
                           text[0] ? text : "error event");
        }
        return false;
    }
    w->watch_events++;
    if (ev->resource_version)
        snprintf(w->resource_version, sizeof w->resource_version, "%s", ev->resource_version);
    if (ev->type == KUBE_WATCH_BOOKMARK)
        return true;
    struct kube_pod pod;
    if (kube_pod_from_json(ev->object, &pod) < 0)
        return true;
    if (ev->type == KUBE_WATCH_DELETED) {
        char *key = pod_key(&pod);
        kube_pod_free(&pod);
        if (key)
            forget(w, key);
        free(key);
    } else {
        upsert(w, &pod);
    }
    return !w->stop_requested;
}

static bool on_watch_data(const char *data, size_t len, void *user)
{
    struct kube_pod_watch *w = user;
    enter(w);
    bool go_on = kube_watch_decoder_feed(&w->decoder, data, len) == 0 && !w->stop_requested;
    if (!go_on && w->decoder.failed && !w->relist_wanted && !w->stream_failed &&
        strcmp(w->decoder.error, "stopped") != 0) {
        w->stream_failed = true;
        kube_error_set(&w->stream_error, KUBE_WATCH_DECODE, "watch: %s", w->decoder.error);
    }
    snprintf(w->stats.resource_version, sizeof w->stats.resource_version, "%s", w->resource_version);
    leave(w);
    return go_on;
}

static void on_watch_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct kube_pod_watch *w = user;
    enter(w);
    w->req = NULL;
    if (w->relist_wanted || resp->error.code == KUBE_EXPIRED || resp->error.code == KUBE_GONE) {
        /* Our resourceVersion is older than the server keeps: list again,
         * after the backoff (a server answering 410 to every watch must
         * not make us relist in a loop). */
        w->relist_wanted = false;
        schedule_retry(w, true);
    } else if (w->stream_failed) {
        report_error(w, &w->stream_error);
        schedule_retry(w, false);
    } else if (resp->error.code != KUBE_OK) {
        report_error(w, &resp->error);
        schedule_retry(w, false);
    } else if (w->watch_events == 0 && monotonic_ms() - w->watch_started_ms < SHORT_WATCH_MS) {
        schedule_retry(w, false);
    } else {
        /* The server ends every watch after its timeout: carry on from
         * the last resourceVersion seen. */
        start_watch(w, 0);
    }
    leave(w);
}

static void start_watch(struct kube_pod_watch *w, long delay_ms)
{
    struct kube_buf path = {0};
    char *rv = kube_url_escape(w->resource_version);
    /* Spread the servers' watch timeouts like client-go (5 to 10 minutes)
     * so that many clients do not all re-watch at once. */
    int timeout = w->watch_timeout_s ? w->watch_timeout_s : 300 + rand() % 300;
    int rc = rv ? kube_buf_printf(&path, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
                                  w->collection, rv, timeout)
                : -1;
    if (rc == 0 && w->selector)
        rc = kube_buf_printf(&path, "&labelSelector=%s", w->selector);
    free(rv);
    if (rc == 0) {
        kube_watch_decoder_reset(&w->decoder);
        w->watch_started_ms = monotonic_ms() + delay_ms;
        w->watch_events = 0;
        w->stream_failed = false;
        w->relist_wanted = false;
        w->stats.watches++;
        struct kube_request_options o = {.method = KUBE_GET, .path = path.data, .on_data = on_watch_data,
                                         .delay_ms = delay_ms, .max_retries = -1};
        w->req = kube_client_start(w->client, &o, on_watch_done, w);
    }
    kube_buf_free(&path);
}

struct kube_pod_watch *kube_pod_watch_start(struct kube_client *c,
                                            const struct kube_pod_watch_options *o,
                                            kube_pod_event_fn on_event, void *user)
{
    struct kube_pod_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->client = c;
    w->on_event = on_event;
    w->user = user;
    w->page_size = o->page_size > 0 ? o->page_size : DEFAULT_PAGE_SIZE;
    w->watch_timeout_s = o->watch_timeout_s;
    w->resolve_owners = o->resolve_owners;
    kube_backoff_init(&w->backoff, (unsigned)monotonic_ms() ^ (unsigned)(uintptr_t)w);
    kube_watch_decoder_init(&w->decoder, on_watch_event, w);
    char *ns = o->namespace && *o->namespace ? kube_url_escape(o->namespace) : NULL;
    int rc = ns ? asprintf(&w->collection, "/api/v1/namespaces/%s/pods", ns)
                : asprintf(&w->collection, "/api/v1/pods");
    free(ns);
    if (rc < 0)
        w->collection = NULL;
    if (o->label_selector && *o->label_selector)
        w->selector = kube_url_escape(o->label_selector);
    if (!w->collection || (o->label_selector && *o->label_selector && !w->selector) ||
        grow_table(w) < 0) {
        destroy(w);
        return NULL;
    }
    start_list(w, NULL, 0);
    return w;
}

void kube_pod_watch_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *out)
{
    *out = w->stats;
    out->pods = w->n_known;
}
