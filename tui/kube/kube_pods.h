/* Pods: the model hfitop needs from a Pod object, and a list-then-watch
 * loop that keeps a consumer up to date (relisting on 410 Expired,
 * re-watching when the server ends the stream, backing off on errors). */
#ifndef KUBE_PODS_H
#define KUBE_PODS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "kube_client.h"

struct kube_kv {
    char *key;
    char *value;
};

struct kube_container_port {
    char *container;
    char *name; /* may be NULL */
    int port;
    char protocol[8];
};

struct kube_pod {
    char *name;
    char *namespace;
    char *uid;
    char *resource_version;
    char *phase;   /* "Running", "Pending", ...; "" when absent */
    bool ready;    /* condition Ready=True */
    bool deleting; /* metadata.deletionTimestamp set */
    int restarts;  /* app containers plus restartable init containers */
    time_t start_time; /* status.startTime, 0 when absent */
    time_t created;    /* metadata.creationTimestamp */
    char *node;
    char *pod_ip;
    struct kube_kv *labels;
    size_t n_labels;
    struct kube_kv *annotations;
    size_t n_annotations;

    /* Istio sidecar: `istio-proxy` in containers, or in initContainers as a
     * native sidecar (restartPolicy Always). */
    bool has_sidecar;
    bool sidecar_native;
    /* istio-proxy's container status: when it last started running (0 when
     * unknown) and how often it restarted. */
    time_t sidecar_started;
    int sidecar_restarts;
    char *sidecar_image;
    struct kube_kv *sidecar_env; /* literal env values of istio-proxy */
    size_t n_sidecar_env;
    struct kube_container_port *ports; /* of the app containers */
    size_t n_ports;

    char *owner_kind; /* controller owner: "ReplicaSet", "StatefulSet", ... */
    char *owner_name;
    /* The Deployment, from the owner ReplicaSet: looked up when the watch
     * resolves owners, else the ReplicaSet's name without its
     * pod-template-hash suffix. NULL when not owned by a ReplicaSet. */
    char *deployment;
};

/* Fills `out` from a Pod object. Returns -1 when it has no name. */
int kube_pod_from_json(const cJSON *obj, struct kube_pod *out);
void kube_pod_free(struct kube_pod *pod);

const char *kube_pod_label(const struct kube_pod *pod, const char *key);
const char *kube_pod_annotation(const struct kube_pod *pod, const char *key);
const char *kube_pod_sidecar_env(const struct kube_pod *pod, const char *name);

/* The Deployment name a ReplicaSet name implies: without "-<hash>", where
 * the hash is `pod_template_hash` when known. NULL when no suffix fits. */
char *kube_deployment_from_replicaset(const char *rs_name, const char *pod_template_hash);

enum kube_pod_event_type {
    KUBE_POD_UPSERT,  /* new or changed */
    KUBE_POD_DELETE,  /* gone: only name and namespace are set */
    KUBE_POD_SYNCED,  /* a full list has been delivered */
    KUBE_POD_ERROR,   /* listing or watching failed; it will be retried */
};

struct kube_pod_event {
    enum kube_pod_event_type type;
    const struct kube_pod *pod;     /* UPSERT, DELETE */
    const struct kube_error *error; /* ERROR */
};

/* Events arrive from kube_client_dispatch. The callback may call
 * kube_pod_watch_stop. */
typedef void (*kube_pod_event_fn)(const struct kube_pod_event *ev, void *user);

struct kube_pod_watch_options {
    const char *namespace;      /* NULL or "": all namespaces */
    const char *label_selector; /* -l */
    int page_size;              /* list `limit`; 0: 250 */
    int watch_timeout_s;        /* server-side watch timeout; 0: 300-600 s */
    bool resolve_owners;        /* GET each ReplicaSet once for its Deployment */
};

struct kube_pod_watch;

struct kube_pod_watch *kube_pod_watch_start(struct kube_client *c,
                                            const struct kube_pod_watch_options *o,
                                            kube_pod_event_fn on_event, void *user);
void kube_pod_watch_stop(struct kube_pod_watch *w);

/* For status lines and tests. */
struct kube_pod_watch_stats {
    unsigned lists;    /* full lists started (1 + relists) */
    unsigned pages;    /* list pages received */
    unsigned watches;  /* watch streams opened */
    unsigned errors;
    size_t pods;       /* pods currently known */
    bool synced;
    char resource_version[64];
};
void kube_pod_watch_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *out);

#endif
