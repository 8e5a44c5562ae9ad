#include "prom_targets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "cluster.h"
#include "store.h"

/* One pod being served: the loopback address standing in for podIP:15090. */
struct endpoint {
    char *ns, *name, *uid;
    char host[16];
    struct listener *listener;
    int seen;
};

static struct server *server;
static char *targets_path;
static struct endpoint **endpoints;
static size_t n_endpoints;
static uint64_t synced_rv;
static unsigned next_address;
static struct buf written;
static int write_failed;

static void serve_stats(struct exchange *ex, void *arg)
{
    struct endpoint *e = arg;
    struct object *pod = store_get(&RT_PODS, e->ns, e->name);
    const char *uid = pod ? json_str(pod->json, "metadata.uid") : NULL;
    if (!uid || strcmp(uid, e->uid) != 0) {
        ex_reset(ex);
        return;
    }
    api_stats_port(ex, pod);
}

/* Envoy keeps serving its stats while the pod drains, until it is gone
 * (Running and Terminating pods alike keep phase Running). */
static int pod_serves_stats(struct object *pod)
{
    const char *phase = json_str(pod->json, "status.phase");
    return cluster_pod_sidecar(pod) && phase && strcmp(phase, "Running") == 0 && json_str(pod->json, "metadata.uid");
}

/* Pods come in store order, mostly the order endpoints were made in: the
 * search starts after the last one found. */
static struct endpoint *endpoint_find(const char *ns, const char *name, const char *uid)
{
    static size_t hint;
    for (size_t k = 0; k < n_endpoints; k++) {
        size_t i = (hint + k) % n_endpoints;
        struct endpoint *e = endpoints[i];
        if (strcmp(e->name, name) == 0 && strcmp(e->ns, ns) == 0 && strcmp(e->uid, uid) == 0) {
            hint = i + 1;
            return e;
        }
    }
    return NULL;
}

static void endpoint_free(struct endpoint *e)
{
    if (e->listener)
        server_unlisten(server, e->listener);
    free(e->ns);
    free(e->name);
    free(e->uid);
    free(e);
}

static struct endpoint *endpoint_new(struct object *pod)
{
    struct endpoint *e = calloc(1, sizeof *e);
    e->ns = strdup(pod->ns);
    e->name = strdup(pod->name);
    e->uid = strdup(json_str(pod->json, "metadata.uid"));
    /* 127.77.0.0/16: one address per pod, never 127.0.0.1 where the API
     * server and the tests' own listeners are. */
    unsigned k = next_address++;
    snprintf(e->host, sizeof e->host, "127.77.%u.%u", (k / 250) % 250, k % 250 + 2);
    e->listener = server_listen_plain(server, e->host, 0, serve_stats, e);
    return e;
}

/* A Kubernetes label or annotation key as Prometheus' discovery turns it into
 * a label name: every character outside [A-Za-z0-9_] becomes '_'
 * (prometheus/prometheus util/strutil SanitizeLabelName). */
static void put_label_name(struct buf *b, const char *prefix, const char *key)
{
    buf_puts(b, "\"");
    buf_puts(b, prefix);
    for (const char *p = key; *p; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
        buf_append(b, ok ? &ch : "_", 1);
    }
    buf_puts(b, "\"");
}

static void put_label(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, ",\"%s\":", name);
    buf_json_string(b, value ? value : "");
}

static const char *pod_ready(struct object *pod)
{
    cJSON *c;
    cJSON_ArrayForEach(c, json_path(pod->json, "status.conditions"))
    {
        const char *type = json_str(c, "type"), *status = json_str(c, "status");
        if (type && status && strcmp(type, "Ready") == 0)
            return strcmp(status, "True") == 0 ? "true" : "false";
    }
    return "unknown";
}

/* One target group per pod with the labels Prometheus' Kubernetes pod
 * discovery gives the istio-proxy container's port 15090
 * (prometheus/prometheus discovery/kubernetes/pod.go: podLabels, buildPod),
 * plus plain `namespace` and `pod`. Prometheus drops every __meta_* label
 * after relabelling (scrape/target.go PopulateLabels), so a job keeps them
 * only by relabelling them into other names, as a kubernetes_sd job must. */
static void render_group(struct buf *b, struct object *pod, const struct endpoint *e)
{
    buf_printf(b, "{\"targets\":[\"%s:%d\"],\"labels\":{", e->host, listener_port(e->listener));
    buf_puts(b, "\"namespace\":");
    buf_json_string(b, pod->ns);
    put_label(b, "pod", pod->name);
    put_label(b, "__meta_kubernetes_namespace", pod->ns);
    put_label(b, "__meta_kubernetes_pod_name", pod->name);
    put_label(b, "__meta_kubernetes_pod_ip", json_str(pod->json, "status.podIP"));
    put_label(b, "__meta_kubernetes_pod_ready", pod_ready(pod));
    put_label(b, "__meta_kubernetes_pod_phase", json_str(pod->json, "status.phase"));
    put_label(b, "__meta_kubernetes_pod_node_name", json_str(pod->json, "spec.nodeName"));
    put_label(b, "__meta_kubernetes_pod_host_ip", json_str(pod->json, "status.hostIP"));
    put_label(b, "__meta_kubernetes_pod_uid", e->uid);
    cJSON *owner = cJSON_GetArrayItem(json_path(pod->json, "metadata.ownerReferences"), 0);
    if (owner) {
        put_label(b, "__meta_kubernetes_pod_controller_kind", json_str(owner, "kind"));
        put_label(b, "__meta_kubernetes_pod_controller_name", json_str(owner, "name"));
    }
    put_label(b, "__meta_kubernetes_pod_container_name", "istio-proxy");
    put_label(b, "__meta_kubernetes_pod_container_port_name", "http-envoy-prom");
    put_label(b, "__meta_kubernetes_pod_container_port_number", "15090");
    put_label(b, "__meta_kubernetes_pod_container_port_protocol", "TCP");
    static const struct {
        const char *field, *value_prefix, *present_prefix;
    } maps[] = {
        {"metadata.labels", "__meta_kubernetes_pod_label_", "__meta_kubernetes_pod_labelpresent_"},
        {"metadata.annotations", "__meta_kubernetes_pod_annotation_", "__meta_kubernetes_pod_annotationpresent_"},
    };
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++) {
        cJSON *kv;
        cJSON_ArrayForEach(kv, json_path(pod->json, maps[m].field))
        {
            if (!cJSON_IsString(kv))
                continue;
            buf_puts(b, ",");
            put_label_name(b, maps[m].value_prefix, kv->string);
            buf_puts(b, ":");
            buf_json_string(b, kv->valuestring);
            buf_puts(b, ",");
            put_label_name(b, maps[m].present_prefix, kv->string);
            buf_puts(b, ":\"true\"");
        }
    }
    buf_puts(b, "}}");
}

/* Written whole to a temporary file, then renamed over the list: Prometheus
 * rereads on every change of the directory (discovery/file/file.go), and
 * must never read half a list. */
static void write_targets(const struct buf *content)
{
    struct buf tmp = {0};
    buf_printf(&tmp, "%s.tmp.%d", targets_path, (int)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = 0;
    if (fd >= 0) {
        ssize_t w = write(fd, content->data, content->len);
        ok = close(fd) == 0 && w == (ssize_t)content->len && rename(tmp.data, targets_path) == 0;
        if (!ok)
            unlink(tmp.data);
    }
    if (!ok && !write_failed)
        fprintf(stderr, "meshsim: cannot write --prometheus-targets %s: %s\n", targets_path, strerror(errno));
    write_failed = !ok;
    buf_free(&tmp);
}

void prom_targets_init(struct server *srv, const char *path)
{
    server = srv;
    targets_path = strdup(path);
    synced_rv = 0;
}

void prom_targets_tick(int64_t now)
{
    (void)now;
    if (!targets_path || (synced_rv && synced_rv == store_rv() && !write_failed))
        return;
    synced_rv = store_rv();
    for (size_t i = 0; i < n_endpoints; i++)
        endpoints[i]->seen = 0;
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    struct buf content = {0};
    buf_puts(&content, "[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!pod_serves_stats(pods[i]))
            continue;
        struct endpoint *e = endpoint_find(pods[i]->ns, pods[i]->name, json_str(pods[i]->json, "metadata.uid"));
        if (!e) {
            e = endpoint_new(pods[i]);
            endpoints = realloc(endpoints, (n_endpoints + 1) * sizeof *endpoints);
            endpoints[n_endpoints++] = e;
        }
        e->seen = 1;
        if (!e->listener)
            continue; /* could not listen (said on stderr): not a target */
        buf_puts(&content, first ? "\n" : ",\n");
        first = 0;
        render_group(&content, pods[i], e);
    }
    buf_puts(&content, "\n]\n");
    size_t kept = 0;
    for (size_t i = 0; i < n_endpoints; i++) {
        if (endpoints[i]->seen)
            endpoints[kept++] = endpoints[i];
        else
            endpoint_free(endpoints[i]);
    }
    n_endpoints = kept;
    if (write_failed || content.len != written.len || memcmp(content.data, written.data, content.len) != 0) {
        write_targets(&content);
        buf_free(&written);
        written = content;
    } else {
        buf_free(&content);
    }
}

void prom_targets_free(void)
{
    for (size_t i = 0; i < n_endpoints; i++)
        endpoint_free(endpoints[i]);
    free(endpoints);
    endpoints = NULL;
    n_endpoints = 0;
    free(targets_path);
    targets_path = NULL;
    buf_free(&written);
}
