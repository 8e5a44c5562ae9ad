#include "table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct column {
    const char *name, *type, *format, *description;
    int priority;
};

static const struct column name_col = {"Name", "string", "name",
                                       "Name must be unique within a namespace.", 0};
static const struct column age_col = {"Age", "string", "",
                                      "CreationTimestamp is a timestamp representing the server time when this object was created.", 0};

static const struct column pod_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
    {"IP", "string", "", "The IP address assigned to the pod.", 1},
    {"Node", "string", "", "Name of the node where this pod is running.", 1},
};
static const struct column deploy_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "string", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0},
    {"Available", "string", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
};
static const struct column rs_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Desired", "integer", "", "Replicas is the number of desired replicas.", 0},
    {"Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0},
    {"Ready", "integer", "", "The number of ready replicas for this replica set.", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
};
static const struct column svc_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Type", "string", "", "type determines how the Service is exposed.", 0},
    {"Cluster-IP", "string", "", "clusterIP is the IP address of the service.", 0},
    {"External-IP", "string", "", "List of IP addresses for which nodes in the cluster will also accept traffic for this service.", 0},
    {"Port(s)", "string", "", "The list of ports that are exposed by this service.", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
};
/* kubernetes pkg/printers/internalversion/printers.go: eventColumnDefinitions
 * (Name last), nodeColumnDefinitions, endpointColumnDefinitions. */
static const struct column event_cols[] = {
    {"Last Seen", "string", "", "Time when last event occurred", 0},
    {"Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future.", 0},
    {"Reason", "string", "", "This should be a short, machine understandable string that gives the reason for this event being generated.", 0},
    {"Object", "string", "", "The object that this event is about.", 0},
    {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
    {"Name", "string", "name", "Name must be unique within a namespace.", 1},
};
static const struct column node_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
    {"Version", "string", "", "Kubelet Version reported by the node.", 0},
};
static const struct column endpoints_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Endpoints", "string", "", "Endpoints of this service.", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
};
static const struct column ns_cols[] = {
    {"Name", "string", "name", "Name must be unique within a namespace.", 0},
    {"Status", "string", "", "The status of the namespace", 0},
    {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0},
};

int table_wanted(const struct request *req)
{
    const char *accept = request_header(req, "Accept");
    return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io");
}

static const struct column *columns_of(const struct rtype *t, size_t *n)
{
    static struct column generic[2];
    generic[0] = name_col;
    generic[1] = age_col;
#define COLS(a) (*n = sizeof a / sizeof a[0], a)
    if (t == &RT_PODS)
        return COLS(pod_cols);
    if (t == &RT_DEPLOYMENTS)
        return COLS(deploy_cols);
    if (t == &RT_REPLICASETS)
        return COLS(rs_cols);
    if (t == &RT_SERVICES)
        return COLS(svc_cols);
    if (t == &RT_NAMESPACES)
        return COLS(ns_cols);
    if (t == &RT_EVENTS)
        return COLS(event_cols);
    if (t == &RT_NODES)
        return COLS(node_cols);
    if (t == &RT_ENDPOINTS)
        return COLS(endpoints_cols);
#undef COLS
    *n = 2;
    return generic;
}

void table_open(struct buf *b, uint64_t rv)
{
    buf_printf(b, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"%llu\"",
               (unsigned long long)rv);
}

void table_columns(struct buf *b, const struct rtype *t)
{
    size_t n;
    const struct column *cols = columns_of(t, &n);
    buf_puts(b, "},\"columnDefinitions\":[");
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "%s{\"name\":\"%s\",\"type\":\"%s\",\"format\":\"%s\",\"description\":", i ? "," : "",
                   cols[i].name, cols[i].type, cols[i].format);
        buf_json_string(b, cols[i].description);
        buf_printf(b, ",\"priority\":%d}", cols[i].priority);
    }
    buf_puts(b, "],\"rows\":[");
}

void table_close(struct buf *b)
{
    buf_puts(b, "]}\n");
}

/* kubectl's HumanDuration: 45s, 3m12s, 42m, 5h3m, 30h, 3d4h, 12d. */
static void human_age(char *out, size_t size, const char *created)
{
    struct tm tm = {0};
    if (!created || !strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        snprintf(out, size, "<unknown>");
        return;
    }
    long s = (long)difftime(time(NULL), timegm(&tm));
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(out, size, "%lds", s);
    else if (s < 600)
        snprintf(out, size, "%ldm%lds", s / 60, s % 60);
    else if (s < 3 * 3600)
        snprintf(out, size, "%ldm", s / 60);
    else if (s < 8 * 3600)
        snprintf(out, size, "%ldh%ldm", s / 3600, s % 3600 / 60);
    else if (s < 48 * 3600)
        snprintf(out, size, "%ldh", s / 3600);
    else if (s < 8 * 86400)
        snprintf(out, size, "%ldd%ldh", s / 86400, s % 86400 / 3600);
    else
        snprintf(out, size, "%ldd", s / 86400);
}

static int num(cJSON *obj, const char *path)
{
    cJSON *v = json_path(obj, path);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static void cell_str(struct buf *b, const char *s, int *first)
{
    buf_puts(b, *first ? "" : ",");
    buf_json_string(b, s ? s : "<none>");
    *first = 0;
}

static void cell_int(struct buf *b, int v, int *first)
{
    buf_printf(b, "%s%d", *first ? "" : ",", v);
    *first = 0;
}

static void pod_cells(struct buf *b, cJSON *pod, int *first)
{
    int total = 0, ready = 0, restarts = 0;
    cJSON *cs;
    cJSON_ArrayForEach(cs, json_path(pod, "status.containerStatuses"))
    {
        total++;
        ready += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready"));
        restarts += num(cs, "restartCount");
    }
    /* Native sidecars count as containers, as kubectl shows them. */
    cJSON_ArrayForEach(cs, json_path(pod, "status.initContainerStatuses"))
    {
        cJSON *spec_c;
        cJSON_ArrayForEach(spec_c, json_path(pod, "spec.initContainers"))
        {
            const char *n1 = json_str(spec_c, "name"), *n2 = json_str(cs, "name");
            const char *rp = json_str(spec_c, "restartPolicy");
            if (n1 && n2 && strcmp(n1, n2) == 0 && rp && strcmp(rp, "Always") == 0) {
                total++;
                ready += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready"));
                restarts += num(cs, "restartCount");
            }
        }
    }
    char rd[32], rs[32], age[32];
    snprintf(rd, sizeof rd, "%d/%d", ready, total);
    snprintf(rs, sizeof rs, "%d", restarts);
    const char *phase = json_str(pod, "status.phase");
    if (json_path(pod, "metadata.deletionTimestamp"))
        phase = "Terminating";
    else if (phase && strcmp(phase, "Pending") == 0)
        phase = "PodInitializing";
    human_age(age, sizeof age, json_str(pod, "metadata.creationTimestamp"));
    cell_str(b, rd, first);
    cell_str(b, phase, first);
    cell_str(b, rs, first);
    cell_str(b, age, first);
    cell_str(b, json_str(pod, "status.podIP"), first);
    cell_str(b, json_str(pod, "spec.nodeName"), first);
}

void table_row(struct buf *b, const struct rtype *t, cJSON *obj, const char *include)
{
    char age[32];
    human_age(age, sizeof age, json_str(obj, "metadata.creationTimestamp"));
    buf_puts(b, "{\"cells\":[");
    int first = 1;
    if (t != &RT_EVENTS)
        cell_str(b, json_str(obj, "metadata.name"), &first);
    if (t == &RT_EVENTS) {
        char seen[32], object[300];
        human_age(seen, sizeof seen, json_str(obj, "lastTimestamp"));
        const char *kind = json_str(obj, "involvedObject.kind"), *name = json_str(obj, "involvedObject.name");
        snprintf(object, sizeof object, "%s/%s", kind ? kind : "", name ? name : "");
        for (char *c = object; *c && *c != '/'; c++)
            *c = (char)tolower((unsigned char)*c);
        cell_str(b, seen, &first);
        cell_str(b, json_str(obj, "type"), &first);
        cell_str(b, json_str(obj, "reason"), &first);
        cell_str(b, object, &first);
        cell_str(b, json_str(obj, "message"), &first);
        cell_str(b, json_str(obj, "metadata.name"), &first);
    } else if (t == &RT_NODES) {
        cell_str(b, "Ready", &first);
        cell_str(b, "control-plane", &first);
        cell_str(b, age, &first);
        cell_str(b, json_str(obj, "status.nodeInfo.kubeletVersion"), &first);
    } else if (t == &RT_ENDPOINTS) {
        char eps[256] = "";
        cJSON *subset, *addr, *port;
        cJSON_ArrayForEach(subset, json_path(obj, "subsets"))
        {
            cJSON_ArrayForEach(addr, cJSON_GetObjectItemCaseSensitive(subset, "addresses"))
            {
                cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(subset, "ports"))
                {
                    size_t l = strlen(eps);
                    snprintf(eps + l, sizeof eps - l, "%s%s:%d", l ? "," : "", json_str(addr, "ip"), num(port, "port"));
                }
            }
        }
        cell_str(b, eps[0] ? eps : "<none>", &first);
        cell_str(b, age, &first);
    } else if (t == &RT_PODS) {
        pod_cells(b, obj, &first);
    } else if (t == &RT_DEPLOYMENTS) {
        char rd[32];
        snprintf(rd, sizeof rd, "%d/%d", num(obj, "status.readyReplicas"), num(obj, "spec.replicas"));
        cell_str(b, rd, &first);
        cell_int(b, num(obj, "status.updatedReplicas"), &first);
        cell_int(b, num(obj, "status.availableReplicas"), &first);
        cell_str(b, age, &first);
    } else if (t == &RT_REPLICASETS) {
        cell_int(b, num(obj, "spec.replicas"), &first);
        cell_int(b, num(obj, "status.replicas"), &first);
        cell_int(b, num(obj, "status.readyReplicas"), &first);
        cell_str(b, age, &first);
    } else if (t == &RT_SERVICES) {
        char ports[256] = "";
        cJSON *p;
        cJSON_ArrayForEach(p, json_path(obj, "spec.ports"))
        {
            size_t l = strlen(ports);
            snprintf(ports + l, sizeof ports - l, "%s%d/%s", l ? "," : "", num(p, "port"),
                     json_str(p, "protocol") ? json_str(p, "protocol") : "TCP");
        }
        cell_str(b, json_str(obj, "spec.type"), &first);
        cell_str(b, json_str(obj, "spec.clusterIP"), &first);
        cell_str(b, "<none>", &first);
        cell_str(b, ports, &first);
        cell_str(b, age, &first);
    } else if (t == &RT_NAMESPACES) {
        cell_str(b, json_str(obj, "status.phase"), &first);
        cell_str(b, age, &first);
    } else {
        cell_str(b, age, &first);
    }
    buf_puts(b, "]");
    if (!include || strcmp(include, "Metadata") == 0) {
        buf_puts(b, ",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
        char *m = cJSON_PrintUnformatted(json_path(obj, "metadata"));
        buf_puts(b, m ? m : "{}");
        free(m);
        buf_puts(b, "}");
    } else if (strcmp(include, "Object") == 0) {
        buf_puts(b, ",\"object\":");
        char *o = cJSON_PrintUnformatted(obj);
        buf_puts(b, o);
        free(o);
    }
    buf_puts(b, "}");
}
