#include "cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugin/regex.h"
#include "buf.h"
#include "rng.h"
#include "sidecar.h"
#include "yaml.h"

#define APP_PORT 8080
#define POD_START_MS 400
#define POD_TERMINATE_MS 1500
#define POD_GRACE_S 30 /* terminationGracePeriodSeconds */
#define ISTIO_PROXY_IMAGE "docker.io/istio/proxyv2:1.24.2"
#define DEMO_TOKEN "meshsim-demo-token"
#define NODE_NAME "meshsim-node"
#define NODE_IP "172.18.0.2"
/* Events kept, oldest dropped first (a real API server expires them after
 * an hour: kube-apiserver --event-ttl). */
#define MAX_EVENTS 1000

struct pod_state {
    struct sidecar *sidecar; /* NULL when not injected */
    char *deployment;
    int app_port; /* the app container's first containerPort */
    int64_t running_at; /* when the pod turns Running; 0 once it has */
    int64_t gone_at;    /* when a terminating pod disappears; 0 if not terminating */
    enum stats_port_behaviour stats_behaviour;
    unsigned scrapes;
};

static struct cluster_config config;
static unsigned next_pod_ip = 10;
static int64_t last_traffic_at;
static double traffic_credit;
static char **service_names;
static size_t n_service_names;

static const char *const demo_deployments[] = {"frontend", "cart", "checkout"};
/* Which demo deployment each per-deployment scenario lands on (README). */
#define NATIVE_SIDECAR_DEPLOYMENT "checkout"
#define LEGACY_NAMES_DEPLOYMENT "cart"
#define BARE_NAMES_DEPLOYMENT "checkout"
#define PLUGIN_FAILED_DEPLOYMENT "checkout"
#define SLOW_SIDECAR_DEPLOYMENT "cart"
#define FLAKY_SIDECAR_DEPLOYMENT "checkout"
#define NO_SIDECAR_DEPLOYMENT "inventory"

static const struct {
    const char *name;
    enum scenario bit;
} scenario_names[] = {
    {"no-sidecar", SC_NO_SIDECAR},       {"plugin-missing", SC_PLUGIN_MISSING},
    {"plugin-failed", SC_PLUGIN_FAILED}, {"restrictive-stats", SC_RESTRICTIVE_STATS},
    {"legacy-names", SC_LEGACY_NAMES},   {"bare-names", SC_BARE_NAMES},
    {"slow-sidecar", SC_SLOW_SIDECAR},   {"flaky-sidecar", SC_FLAKY_SIDECAR},
    {"api-401", SC_API_401},             {"api-403-proxy", SC_API_403_PROXY},
    {"api-429", SC_API_429},             {"watch-expiry", SC_WATCH_EXPIRY},
};

unsigned scenario_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof scenario_names / sizeof scenario_names[0]; i++)
        if (strcmp(scenario_names[i].name, name) == 0)
            return scenario_names[i].bit;
    return 0;
}

unsigned cluster_scenarios(void)
{
    return config.scenarios;
}

/* Builds JSON from a printf format; the formats are ours, so a parse
 * failure is a bug worth stopping for. */
static cJSON *jfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *jfmt(const char *fmt, ...)
{
    struct buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_Parse(b.data);
    if (!j) {
        fprintf(stderr, "meshsim: internal JSON error near: %.80s\n", cJSON_GetErrorPtr());
        abort();
    }
    buf_free(&b);
    return j;
}

static void now_rfc3339(char *out, size_t size)
{
    rfc3339(out, size, time(NULL));
}

/* k8s.io/apimachinery rand.SafeEncodeString: no vowels, no look-alikes. */
static const char safe_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

/* Sorts every object's keys, so equal templates print alike whatever
 * order their keys came in (a template kubectl rollout undo copies back
 * from a ReplicaSet comes in Go's field order). */
static void sort_keys(cJSON *v)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return;
    for (cJSON *c = v->child; c; c = c->next)
        sort_keys(c);
    if (!cJSON_IsObject(v))
        return;
    /* Insertion sort of the child list by key. */
    cJSON *sorted = NULL;
    while (v->child) {
        cJSON *c = v->child;
        v->child = c->next;
        cJSON **at = &sorted;
        while (*at && strcmp((*at)->string, c->string) <= 0)
            at = &(*at)->next;
        c->next = *at;
        *at = c;
    }
    cJSON *prev = NULL;
    for (cJSON *c = sorted; c; c = c->next) {
        c->prev = prev;
        prev = c;
    }
    if (sorted)
        sorted->prev = prev; /* cJSON keeps the last item in the first's prev */
    v->child = sorted;
}

/* The pod-template-hash: equal templates get equal hashes, so a template
 * that comes back (rollout undo) finds its old ReplicaSet, which is then
 * scaled up again instead of a new one made (kubernetes
 * pkg/controller/deployment/util/deployment_util.go, FindNewReplicaSet
 * compares templates, ignoring the hash label). */
static void template_hash(cJSON *tmpl, char out[16])
{
    cJSON *canonical = cJSON_Duplicate(tmpl, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(json_path(canonical, "metadata.labels"), "pod-template-hash");
    sort_keys(canonical);
    char *text = cJSON_PrintUnformatted(canonical);
    cJSON_Delete(canonical);
    uint32_t h = 2166136261u;
    for (const char *p = text; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    free(text);
    char digits[16];
    snprintf(digits, sizeof digits, "%u", h);
    size_t i = 0;
    for (; digits[i]; i++)
        out[i] = safe_alphabet[(unsigned char)digits[i] % (sizeof safe_alphabet - 1)];
    out[i] = '\0';
}

/* ---- events ---- */

/* Names of the kept Events, oldest first ("ns/name"), as a ring. */
static char *event_keys[MAX_EVENTS];
static size_t event_next, event_count;
static uint64_t event_serial;

/* Records a core/v1 Event about `about` as its controller or the kubelet
 * would (kubernetes staging/src/k8s.io/client-go/tools/record/event.go,
 * makeEvent: name "<object>.<unique hex>", count 1, first and last
 * timestamps now); field_path names a container ("spec.containers{app}"). */
static void record_event(struct object *about, const char *type, const char *reason, const char *component,
                         const char *field_path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void record_event(struct object *about, const char *type, const char *reason, const char *component,
                         const char *field_path, const char *fmt, ...)
{
    char message[512], name[320], now[32], av[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(name, sizeof name, "%s.%016llx", about->name,
             (unsigned long long)time(NULL) * 1000000000ull + ++event_serial);
    now_rfc3339(now, sizeof now);
    const char *ns = about->ns[0] ? about->ns : "default";
    int kubelet = strcmp(component, "kubelet") == 0;
    cJSON *ev = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(ev, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", ns);
    cJSON *inv = cJSON_AddObjectToObject(ev, "involvedObject");
    cJSON_AddStringToObject(inv, "kind", about->type->kind);
    cJSON_AddStringToObject(inv, "namespace", about->ns);
    cJSON_AddStringToObject(inv, "name", about->name);
    cJSON_AddStringToObject(inv, "uid", json_str(about->json, "metadata.uid"));
    cJSON_AddStringToObject(inv, "apiVersion", rtype_api_version(about->type, av, sizeof av));
    cJSON_AddStringToObject(inv, "resourceVersion", json_str(about->json, "metadata.resourceVersion"));
    if (field_path)
        cJSON_AddStringToObject(inv, "fieldPath", field_path);
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "message", message);
    cJSON *source = cJSON_AddObjectToObject(ev, "source");
    cJSON_AddStringToObject(source, "component", component);
    if (kubelet)
        cJSON_AddStringToObject(source, "host", NODE_NAME);
    cJSON_AddStringToObject(ev, "firstTimestamp", now);
    cJSON_AddStringToObject(ev, "lastTimestamp", now);
    cJSON_AddNumberToObject(ev, "count", 1);
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddNullToObject(ev, "eventTime");
    cJSON_AddStringToObject(ev, "reportingComponent", component);
    cJSON_AddStringToObject(ev, "reportingInstance", kubelet ? NODE_NAME : "");
    store_create(&RT_EVENTS, ev);

    if (event_count == MAX_EVENTS) {
        char *oldest = event_keys[event_next];
        char *slash = strchr(oldest, '/');
        *slash = '\0';
        struct object *o = store_get(&RT_EVENTS, oldest, slash + 1);
        if (o)
            store_delete(o);
        free(oldest);
    } else {
        event_count++;
    }
    struct buf key = {0};
    buf_printf(&key, "%s/%s", ns, name);
    event_keys[event_next] = key.data;
    event_next = (event_next + 1) % MAX_EVENTS;
}

/* The kubelet starting a pod's containers (init containers first), or
 * stopping them (kubernetes pkg/kubelet/events/event.go reasons; messages
 * of pkg/kubelet/kuberuntime/kuberuntime_container.go). */
static int is_native_sidecar(cJSON *c);

static void container_events(struct object *pod, int stopping)
{
    static const char *const lists[] = {"initContainers", "containers"};
    for (size_t l = 0; l < 2; l++) {
        cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(json_path(pod->json, "spec"), lists[l]))
        {
            const char *name = json_str(c, "name");
            char field[300];
            snprintf(field, sizeof field, "spec.%s{%s}", lists[l], name ? name : "");
            if (stopping) {
                if (l == 0 && !is_native_sidecar(c))
                    continue; /* ran to completion long ago */
                record_event(pod, "Normal", "Killing", "kubelet", field, "Stopping container %s", name);
                continue;
            }
            record_event(pod, "Normal", "Pulled", "kubelet", field, "Container image \"%s\" already present on machine",
                         json_str(c, "image") ? json_str(c, "image") : "");
            record_event(pod, "Normal", "Created", "kubelet", field, "Created container: %s", name);
            record_event(pod, "Normal", "Started", "kubelet", field, "Started container %s", name);
        }
    }
}

static void random_suffix(char out[6])
{
    for (int i = 0; i < 5; i++)
        out[i] = safe_alphabet[rng_below(sizeof safe_alphabet - 1)];
    out[5] = '\0';
}

static struct pod_state *pod_state(const struct object *pod)
{
    return pod->ext;
}

static void pod_state_free(void *p)
{
    struct pod_state *ps = p;
    if (ps->sidecar)
        sidecar_free(ps->sidecar);
    free(ps->deployment);
    free(ps);
}

struct sidecar *cluster_pod_sidecar(const struct object *pod)
{
    return pod->ext ? pod_state(pod)->sidecar : NULL;
}

int cluster_pod_app_port(const struct object *pod)
{
    return pod->ext ? pod_state(pod)->app_port : APP_PORT;
}

int cluster_pod_running(const struct object *pod)
{
    struct pod_state *ps = pod->ext;
    return ps && !ps->running_at && !ps->gone_at;
}

int cluster_pod_started(const struct object *pod)
{
    struct pod_state *ps = pod->ext;
    return ps && !ps->running_at;
}

enum stats_port_behaviour cluster_pod_stats_behaviour(const struct object *pod)
{
    return pod->ext ? pod_state(pod)->stats_behaviour : STATS_NORMAL;
}

unsigned cluster_pod_next_scrape(struct object *pod)
{
    return pod->ext ? pod_state(pod)->scrapes++ : 0;
}

/* ---- label selectors on objects ---- */

static int labels_match(cJSON *match_labels, cJSON *labels)
{
    cJSON *want;
    cJSON_ArrayForEach(want, match_labels)
    {
        cJSON *have = cJSON_GetObjectItemCaseSensitive(labels, want->string);
        if (!cJSON_IsString(have) || !cJSON_IsString(want) || strcmp(have->valuestring, want->valuestring) != 0)
            return 0;
    }
    return 1;
}

/* ---- the proxy.istio.io/config annotation ---- */

static cJSON *proxy_config_of(cJSON *annotations)
{
    const char *text = json_key_str(annotations, "proxy.istio.io/config");
    if (!text)
        return NULL;
    char err[256];
    cJSON *pc = yaml_to_json(text, strlen(text), err, sizeof err);
    if (pc && !cJSON_IsObject(pc)) {
        cJSON_Delete(pc);
        pc = NULL;
    }
    return pc;
}

static int bootstrap_agent_enabled(cJSON *proxy_config)
{
    const char *v = json_str(proxy_config, "proxyMetadata.BOOTSTRAP_XDS_AGENT");
    return v && strcmp(v, "true") == 0;
}

struct matcher_list {
    struct stats_matcher *items;
    size_t n;
};

static void matchers_add(struct matcher_list *ml, enum matcher_kind kind, const char *value)
{
    struct stats_matcher m = {kind, strdup(value), NULL};
    if (kind == MATCH_REGEX) {
        char err[128];
        /* An invalid pattern is rejected by Envoy at start: it admits nothing. */
        if (hfi_regex_compile(value, strlen(value), &m.regex, err, sizeof err) != 0) {
            free(m.value);
            return;
        }
    }
    ml->items = realloc(ml->items, (ml->n + 1) * sizeof *ml->items);
    ml->items[ml->n++] = m;
}

static void matchers_free(struct matcher_list *ml)
{
    for (size_t i = 0; i < ml->n; i++) {
        free(ml->items[i].value);
        if (ml->items[i].regex)
            hfi_regex_free(ml->items[i].regex);
    }
    free(ml->items);
}

static void add_string_list(struct matcher_list *ml, cJSON *arr, enum matcher_kind kind)
{
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it))
            matchers_add(ml, kind, it->valuestring);
    }
}

/* ProxyConfig proxyStatsMatcher: inclusionPrefixes/Suffixes/Regexps. */
static void add_proxy_stats_matcher(struct matcher_list *ml, cJSON *proxy_config)
{
    cJSON *psm = json_path(proxy_config, "proxyStatsMatcher");
    add_string_list(ml, cJSON_GetObjectItemCaseSensitive(psm, "inclusionPrefixes"), MATCH_PREFIX);
    add_string_list(ml, cJSON_GetObjectItemCaseSensitive(psm, "inclusionSuffixes"), MATCH_SUFFIX);
    add_string_list(ml, cJSON_GetObjectItemCaseSensitive(psm, "inclusionRegexps"), MATCH_REGEX);
}

/* A BOOTSTRAP MERGE EnvoyFilter's stats_config.stats_matcher.inclusion_list. */
static void add_bootstrap_filters(struct matcher_list *ml, const char *ns, cJSON *pod_labels)
{
    size_t n;
    struct object *const *efs = store_list(&RT_ENVOYFILTERS, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(efs[i]->ns, ns) != 0 && strcmp(efs[i]->ns, "istio-system") != 0)
            continue;
        cJSON *sel = json_path(efs[i]->json, "spec.workloadSelector.labels");
        if (sel && !labels_match(sel, pod_labels))
            continue;
        cJSON *patch;
        cJSON_ArrayForEach(patch, json_path(efs[i]->json, "spec.configPatches"))
        {
            const char *apply_to = json_str(patch, "applyTo");
            const char *op = json_str(patch, "patch.operation");
            if (!apply_to || strcmp(apply_to, "BOOTSTRAP") != 0 || !op || strcmp(op, "MERGE") != 0)
                continue;
            cJSON *pat;
            cJSON_ArrayForEach(pat, json_path(patch, "patch.value.stats_config.stats_matcher.inclusion_list.patterns"))
            {
                const char *v;
                if ((v = json_str(pat, "prefix")))
                    matchers_add(ml, MATCH_PREFIX, v);
                else if ((v = json_str(pat, "suffix")))
                    matchers_add(ml, MATCH_SUFFIX, v);
                else if ((v = json_str(pat, "exact")))
                    matchers_add(ml, MATCH_EXACT, v);
                else if ((v = json_str(pat, "contains")))
                    matchers_add(ml, MATCH_CONTAINS, v);
                else if ((v = json_str(pat, "safe_regex.regex")))
                    matchers_add(ml, MATCH_REGEX, v);
            }
        }
    }
}

/* sidecar.istio.io/statsHistogramBuckets: {"prefix": [bounds...], ...}.
 * Entries that are not ascending positive numbers are skipped. */
static size_t bucket_rules_of(cJSON *annotations, struct bucket_rule **out)
{
    *out = NULL;
    const char *text = json_key_str(annotations, "sidecar.istio.io/statsHistogramBuckets");
    cJSON *rules = text ? cJSON_Parse(text) : NULL;
    size_t n = 0;
    cJSON *rule, *rule_map = cJSON_IsObject(rules) ? rules : NULL;
    cJSON_ArrayForEach(rule, rule_map)
    {
        struct bucket_rule r = {0};
        int ok = cJSON_IsArray(rule) && cJSON_GetArraySize(rule) > 0 && cJSON_GetArraySize(rule) <= MAX_BUCKET_BOUNDS;
        cJSON *v, *bounds = ok ? rule : NULL;
        cJSON_ArrayForEach(v, bounds)
        {
            if (!cJSON_IsNumber(v) || v->valuedouble <= 0 || (r.n_bounds && v->valuedouble <= r.bounds[r.n_bounds - 1]))
                ok = 0;
            else
                r.bounds[r.n_bounds++] = v->valuedouble;
        }
        if (!ok)
            continue;
        r.prefix = strdup(rule->string);
        *out = realloc(*out, (n + 1) * sizeof **out);
        (*out)[n++] = r;
    }
    cJSON_Delete(rules);
    return n;
}

/* ---- WasmPlugin selection ---- */

/* The pluginConfig of the first WasmPlugin (by name) selecting the pod, as
 * JSON text; NULL when none does. */
static char *plugin_config_for(const char *ns, const char *app, cJSON *pod_labels)
{
    size_t n;
    struct object *const *wps = store_list(&RT_WASMPLUGINS, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(wps[i]->ns, ns) != 0 && strcmp(wps[i]->ns, "istio-system") != 0)
            continue;
        cJSON *sel = json_path(wps[i]->json, "spec.selector.matchLabels");
        if (sel && !labels_match(sel, pod_labels))
            continue;
        cJSON *refs = json_path(wps[i]->json, "spec.targetRefs");
        if (cJSON_GetArraySize(refs) > 0) {
            int hit = 0;
            cJSON *ref;
            cJSON_ArrayForEach(ref, refs)
            {
                const char *name = json_str(ref, "name");
                if (name && strcmp(name, app) == 0)
                    hit = 1;
            }
            if (!hit)
                continue;
        }
        cJSON *pc = json_path(wps[i]->json, "spec.pluginConfig");
        return pc ? cJSON_PrintUnformatted(pc) : strdup("{}");
    }
    return NULL;
}

void cluster_wasmplugins_changed(const char *ns)
{
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    for (size_t i = 0; i < n; i++) {
        struct pod_state *ps = pods[i]->ext;
        if (!ps || !ps->sidecar || (strcmp(pods[i]->ns, ns) != 0 && strcmp(ns, "istio-system") != 0))
            continue;
        char *pc = plugin_config_for(pods[i]->ns, ps->deployment, json_path(pods[i]->json, "metadata.labels"));
        sidecar_set_plugin(ps->sidecar, pc);
        free(pc);
    }
}

/* ---- pods ---- */

static int template_injected(cJSON *tmpl_meta, const char *ns)
{
    cJSON *ann = json_path(tmpl_meta, "annotations");
    cJSON *labels = json_path(tmpl_meta, "labels");
    const char *inject = json_key_str(ann, "sidecar.istio.io/inject");
    const char *inject_label = json_key_str(labels, "sidecar.istio.io/inject");
    if ((inject && strcmp(inject, "false") == 0) || (inject_label && strcmp(inject_label, "false") == 0))
        return 0;
    struct object *ns_obj = store_get(&RT_NAMESPACES, "", ns);
    const char *ns_label = json_key_str(json_path(ns_obj ? ns_obj->json : NULL, "metadata.labels"), "istio-injection");
    return ns_label && strcmp(ns_label, "enabled") == 0;
}

static cJSON *istio_proxy_container(const char *app, const char *ns, cJSON *proxy_config, int native)
{
    char *pc_text = proxy_config ? cJSON_PrintUnformatted(proxy_config) : strdup("{}");
    struct buf pc_json = {0};
    buf_json_string(&pc_json, pc_text);
    free(pc_text);
    cJSON *c = jfmt(
        "{\"name\":\"istio-proxy\",\"image\":\"" ISTIO_PROXY_IMAGE "\","
        "\"args\":[\"proxy\",\"sidecar\",\"--domain\",\"$(POD_NAMESPACE).svc.cluster.local\","
        "\"--proxyLogLevel=warning\",\"--proxyComponentLogLevel=misc:error\",\"--log_output_level=default:info\"],"
        "\"env\":[{\"name\":\"PILOT_CERT_PROVIDER\",\"value\":\"istiod\"},"
        "{\"name\":\"CA_ADDR\",\"value\":\"istiod.istio-system.svc:15012\"},"
        "{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.name\"}}},"
        "{\"name\":\"POD_NAMESPACE\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}},"
        "{\"name\":\"INSTANCE_IP\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.podIP\"}}},"
        "{\"name\":\"SERVICE_ACCOUNT\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"spec.serviceAccountName\"}}},"
        "{\"name\":\"HOST_IP\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.hostIP\"}}},"
        "{\"name\":\"ISTIO_CPU_LIMIT\",\"valueFrom\":{\"resourceFieldRef\":{\"divisor\":\"0\",\"resource\":\"limits.cpu\"}}},"
        "{\"name\":\"PROXY_CONFIG\",\"value\":%s},"
        "{\"name\":\"ISTIO_META_POD_PORTS\",\"value\":\"[\\n    {\\\"name\\\":\\\"http\\\",\\\"containerPort\\\":%d,\\\"protocol\\\":\\\"TCP\\\"}\\n]\"},"
        "{\"name\":\"ISTIO_META_APP_CONTAINERS\",\"value\":\"%s\"},"
        "{\"name\":\"ISTIO_META_CLUSTER_ID\",\"value\":\"Kubernetes\"},"
        "{\"name\":\"ISTIO_META_NODE_NAME\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"spec.nodeName\"}}},"
        "{\"name\":\"ISTIO_META_INTERCEPTION_MODE\",\"value\":\"REDIRECT\"},"
        "{\"name\":\"ISTIO_META_WORKLOAD_NAME\",\"value\":\"%s\"},"
        "{\"name\":\"ISTIO_META_OWNER\",\"value\":\"kubernetes://apis/apps/v1/namespaces/%s/deployments/%s\"},"
        "{\"name\":\"ISTIO_META_MESH_ID\",\"value\":\"cluster.local\"},"
        "{\"name\":\"TRUST_DOMAIN\",\"value\":\"cluster.local\"}],"
        "\"imagePullPolicy\":\"IfNotPresent\","
        "\"ports\":[{\"containerPort\":15090,\"name\":\"http-envoy-prom\",\"protocol\":\"TCP\"}],"
        "\"readinessProbe\":{\"failureThreshold\":4,\"httpGet\":{\"path\":\"/healthz/ready\",\"port\":15021,\"scheme\":\"HTTP\"},"
        "\"periodSeconds\":15,\"successThreshold\":1,\"timeoutSeconds\":3},"
        "\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
        "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},\"privileged\":false,"
        "\"readOnlyRootFilesystem\":true,\"runAsGroup\":1337,\"runAsNonRoot\":true,\"runAsUser\":1337},"
        "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
        "\"volumeMounts\":[{\"mountPath\":\"/var/run/secrets/istio\",\"name\":\"istiod-ca-cert\"},"
        "{\"mountPath\":\"/var/lib/istio/data\",\"name\":\"istio-data\"},{\"mountPath\":\"/etc/istio/proxy\",\"name\":\"istio-envoy\"},"
        "{\"mountPath\":\"/var/run/secrets/tokens\",\"name\":\"istio-token\"},{\"mountPath\":\"/etc/istio/pod\",\"name\":\"istio-podinfo\"}]}",
        pc_json.data, APP_PORT, app, app, ns, app);
    buf_free(&pc_json);
    /* proxyMetadata entries become environment variables of the proxy. */
    cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "env");
    cJSON *md;
    cJSON_ArrayForEach(md, json_path(proxy_config, "proxyMetadata"))
    {
        if (cJSON_IsString(md)) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", md->string);
            cJSON_AddStringToObject(e, "value", md->valuestring);
            cJSON_AddItemToArray(env, e);
        }
    }
    if (native) {
        /* A native sidecar: an init container that keeps running. */
        cJSON_AddStringToObject(c, "restartPolicy", "Always");
        cJSON_AddItemToObject(c, "startupProbe",
                              jfmt("{\"failureThreshold\":600,\"httpGet\":{\"path\":\"/healthz/ready\",\"port\":15021,"
                                   "\"scheme\":\"HTTP\"},\"periodSeconds\":1,\"successThreshold\":1,\"timeoutSeconds\":3}"));
    }
    return c;
}

static cJSON *istio_init_container(void)
{
    return jfmt("{\"name\":\"istio-init\",\"image\":\"" ISTIO_PROXY_IMAGE "\","
                "\"args\":[\"istio-iptables\",\"-p\",\"15001\",\"-z\",\"15006\",\"-u\",\"1337\",\"-m\",\"REDIRECT\","
                "\"-i\",\"*\",\"-x\",\"\",\"-b\",\"*\",\"-d\",\"15090,15021,15020\",\"--log_output_level=default:info\"],"
                "\"imagePullPolicy\":\"IfNotPresent\",\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"},"
                "\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
                "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"add\":[\"NET_ADMIN\",\"NET_RAW\"],"
                "\"drop\":[\"ALL\"]},\"privileged\":false,\"readOnlyRootFilesystem\":false,\"runAsGroup\":0,"
                "\"runAsNonRoot\":false,\"runAsUser\":0},"
                "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}");
}

static cJSON *container_status(const char *name, const char *image, int running, int restarts, const char *started)
{
    if (running)
        return jfmt("{\"containerID\":\"containerd://%016llx%016llx\",\"image\":\"%s\",\"imageID\":\"%s@sha256:%016llx\","
                    "\"lastState\":{},\"name\":\"%s\",\"ready\":true,\"restartCount\":%d,\"started\":true,"
                    "\"state\":{\"running\":{\"startedAt\":\"%s\"}}}",
                    (unsigned long long)rng_next(), (unsigned long long)rng_next(), image, image,
                    (unsigned long long)rng_next(), name, restarts, started);
    return jfmt("{\"image\":\"%s\",\"imageID\":\"\",\"lastState\":{},\"name\":\"%s\",\"ready\":false,\"restartCount\":0,"
                "\"started\":false,\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}",
                image, name);
}

static int is_native_sidecar(cJSON *c)
{
    const char *rp = json_str(c, "restartPolicy");
    return rp && strcmp(rp, "Always") == 0;
}

/* status for a pod: Pending while starting, Running after. */
static void set_pod_status(cJSON *json, int running, int restarts)
{
    char now[32], created[32];
    now_rfc3339(now, sizeof now);
    const char *ct = json_str(json, "metadata.creationTimestamp");
    snprintf(created, sizeof created, "%s", ct ? ct : now);
    const char *ip = json_str(json, "status.podIP");
    char pod_ip[32];
    snprintf(pod_ip, sizeof pod_ip, "%s", ip ? ip : "");
    if (!pod_ip[0]) {
        snprintf(pod_ip, sizeof pod_ip, "10.244.%u.%u", (next_pod_ip / 250) % 250, next_pod_ip % 250 + 2);
        next_pod_ip++;
    }
    const char *t = running ? "True" : "False";
    cJSON *status = jfmt("{\"conditions\":["
                         "{\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\",\"status\":\"True\",\"type\":\"PodReadyToStartContainers\"},"
                         "{\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\",\"status\":\"%s\",\"type\":\"Initialized\"},"
                         "{\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\",\"status\":\"%s\",\"type\":\"Ready\"},"
                         "{\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\",\"status\":\"%s\",\"type\":\"ContainersReady\"},"
                         "{\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\",\"status\":\"True\",\"type\":\"PodScheduled\"}],"
                         "\"containerStatuses\":[],\"hostIP\":\"172.18.0.2\",\"hostIPs\":[{\"ip\":\"172.18.0.2\"}],"
                         "\"initContainerStatuses\":[],\"phase\":\"%s\",\"podIP\":\"%s\",\"podIPs\":[{\"ip\":\"%s\"}],"
                         "\"qosClass\":\"Burstable\",\"startTime\":\"%s\"}",
                         created, now, t, now, t, now, t, created, running ? "Running" : "Pending", pod_ip, pod_ip,
                         created);
    if (!running)
        cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(status, "conditions"), 2), "reason",
                                "ContainersNotReady");
    cJSON *cs = cJSON_GetObjectItemCaseSensitive(status, "containerStatuses");
    cJSON *ics = cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses");
    cJSON *c;
    int first = 1;
    cJSON_ArrayForEach(c, json_path(json, "spec.containers"))
    {
        cJSON_AddItemToArray(cs, container_status(json_str(c, "name"), json_str(c, "image"), running,
                                                  first ? restarts : 0, now));
        first = 0;
    }
    cJSON_ArrayForEach(c, json_path(json, "spec.initContainers"))
    {
        if (is_native_sidecar(c)) {
            cJSON_AddItemToArray(ics, container_status(json_str(c, "name"), json_str(c, "image"), running, 0, now));
        } else {
            cJSON_AddItemToArray(
                ics, jfmt("{\"containerID\":\"containerd://%016llx\",\"image\":\"%s\",\"imageID\":\"%s\",\"lastState\":{},"
                          "\"name\":\"%s\",\"ready\":true,\"restartCount\":0,\"started\":false,"
                          "\"state\":{\"terminated\":{\"exitCode\":0,\"finishedAt\":\"%s\",\"reason\":\"Completed\","
                          "\"startedAt\":\"%s\"}}}",
                          (unsigned long long)rng_next(), json_str(c, "image"), json_str(c, "image"),
                          json_str(c, "name"), created, created));
        }
    }
    if (!cJSON_GetArraySize(ics))
        cJSON_DeleteItemFromObjectCaseSensitive(status, "initContainerStatuses");
    if (cJSON_GetObjectItemCaseSensitive(json, "status"))
        cJSON_ReplaceItemInObjectCaseSensitive(json, "status", status);
    else
        cJSON_AddItemToObject(json, "status", status);
}

static enum metric_naming naming_for(const char *app)
{
    if ((config.scenarios & SC_BARE_NAMES) && strcmp(app, BARE_NAMES_DEPLOYMENT) == 0)
        return NAMING_BARE;
    if ((config.scenarios & SC_LEGACY_NAMES) && strcmp(app, LEGACY_NAMES_DEPLOYMENT) == 0)
        return NAMING_LEGACY;
    return NAMING_PREFIXED;
}

/* Creates a pod of ReplicaSet rs (of deployment app). */
static struct object *create_pod(struct object *rs, const char *app, int running, int restarts, int64_t now)
{
    cJSON *tmpl = json_path(rs->json, "spec.template");
    cJSON *tmeta = json_path(tmpl, "metadata");
    char suffix[6], name[300];
    random_suffix(suffix);
    snprintf(name, sizeof name, "%s-%s", rs->name, suffix);
    int injected = template_injected(tmeta, rs->ns);
    const char *native_ann = json_key_str(json_path(tmeta, "annotations"), "sidecar.istio.io/nativeSidecar");
    int native = native_ann && strcmp(native_ann, "true") == 0;
    cJSON *proxy_config = proxy_config_of(json_path(tmeta, "annotations"));

    cJSON *pod = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(pod, "metadata");
    cJSON *labels = tmeta ? cJSON_Duplicate(json_path(tmeta, "labels"), 1) : NULL;
    if (!labels)
        labels = cJSON_CreateObject();
    cJSON *ann = cJSON_Duplicate(json_path(tmeta, "annotations"), 1);
    if (!ann)
        ann = cJSON_CreateObject();
    if (injected) {
        json_set_str(ann, "istio.io/rev", "default");
        json_set_str(ann, "kubectl.kubernetes.io/default-container", app);
        json_set_str(ann, "kubectl.kubernetes.io/default-logs-container", app);
        json_set_str(ann, "prometheus.io/path", "/stats/prometheus");
        json_set_str(ann, "prometheus.io/port", "15020");
        json_set_str(ann, "prometheus.io/scrape", "true");
        json_set_str(ann, "sidecar.istio.io/status",
                     native ? "{\"initContainers\":[\"istio-init\",\"istio-proxy\"],\"containers\":null,"
                              "\"volumes\":[\"workload-socket\",\"credential-socket\",\"workload-certs\",\"istio-envoy\","
                              "\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],"
                              "\"imagePullSecrets\":null,\"revision\":\"default\"}"
                            : "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],"
                              "\"volumes\":[\"workload-socket\",\"credential-socket\",\"workload-certs\",\"istio-envoy\","
                              "\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],"
                              "\"imagePullSecrets\":null,\"revision\":\"default\"}");
        json_set_str(labels, "security.istio.io/tlsMode", "istio");
        json_set_str(labels, "service.istio.io/canonical-name", app);
        json_set_str(labels, "service.istio.io/canonical-revision", "v1");
    }
    if (cJSON_GetArraySize(ann))
        cJSON_AddItemToObject(meta, "annotations", ann);
    else
        cJSON_Delete(ann);
    char gen[300];
    snprintf(gen, sizeof gen, "%s-", rs->name);
    cJSON_AddStringToObject(meta, "generateName", gen);
    cJSON_AddItemToObject(meta, "labels", labels);
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", rs->ns);
    cJSON_AddItemToObject(meta, "ownerReferences",
                          jfmt("[{\"apiVersion\":\"apps/v1\",\"blockOwnerDeletion\":true,\"controller\":true,"
                               "\"kind\":\"ReplicaSet\",\"name\":\"%s\",\"uid\":\"%s\"}]",
                               rs->name, json_str(rs->json, "metadata.uid")));

    cJSON *spec = cJSON_Duplicate(json_path(tmpl, "spec"), 1);
    cJSON *containers = cJSON_GetObjectItemCaseSensitive(spec, "containers");
    if (injected) {
        cJSON *inits = cJSON_GetObjectItemCaseSensitive(spec, "initContainers");
        if (!inits)
            inits = cJSON_AddArrayToObject(spec, "initContainers");
        cJSON_AddItemToArray(inits, istio_init_container());
        if (native)
            cJSON_AddItemToArray(inits, istio_proxy_container(app, rs->ns, proxy_config, 1));
        else
            cJSON_AddItemToArray(containers, istio_proxy_container(app, rs->ns, proxy_config, 0));
    }
    cJSON_AddStringToObject(spec, "nodeName", "meshsim-node");
    cJSON_AddStringToObject(spec, "preemptionPolicy", "PreemptLowerPriority");
    cJSON_AddNumberToObject(spec, "priority", 0);
    cJSON_AddStringToObject(spec, "serviceAccount", "default");
    cJSON_AddStringToObject(spec, "serviceAccountName", "default");
    cJSON_AddItemToObject(spec, "tolerations",
                          jfmt("[{\"effect\":\"NoExecute\",\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
                               "\"tolerationSeconds\":300},{\"effect\":\"NoExecute\",\"key\":\"node.kubernetes.io/unreachable\","
                               "\"operator\":\"Exists\",\"tolerationSeconds\":300}]"));
    if (injected)
        cJSON_AddItemToObject(spec, "volumes",
                              jfmt("[{\"emptyDir\":{},\"name\":\"workload-socket\"},{\"emptyDir\":{},\"name\":\"credential-socket\"},"
                                   "{\"emptyDir\":{},\"name\":\"workload-certs\"},{\"emptyDir\":{\"medium\":\"Memory\"},\"name\":\"istio-envoy\"},"
                                   "{\"emptyDir\":{},\"name\":\"istio-data\"},{\"downwardAPI\":{\"defaultMode\":420,\"items\":["
                                   "{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.labels\"},\"path\":\"labels\"},"
                                   "{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.annotations\"},\"path\":\"annotations\"}]},"
                                   "\"name\":\"istio-podinfo\"},{\"name\":\"istio-token\",\"projected\":{\"defaultMode\":420,\"sources\":["
                                   "{\"serviceAccountToken\":{\"audience\":\"istio-ca\",\"expirationSeconds\":43200,\"path\":\"istio-token\"}}]}},"
                                   "{\"configMap\":{\"defaultMode\":420,\"name\":\"istio-ca-root-cert\"},\"name\":\"istiod-ca-cert\"}]"));
    cJSON_AddItemToObject(pod, "spec", spec);

    set_pod_status(pod, running, restarts);
    struct object *o = store_create(&RT_PODS, pod);
    record_event(o, "Normal", "Scheduled", "default-scheduler", NULL, "Successfully assigned %s/%s to %s", o->ns, o->name,
                 NODE_NAME);
    if (running)
        container_events(o, 0);
    struct pod_state *ps = calloc(1, sizeof *ps);
    ps->deployment = strdup(app);
    cJSON *port = json_path(cJSON_GetArrayItem(json_path(tmpl, "spec.containers"), 0), "ports");
    port = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(port, 0), "containerPort");
    ps->app_port = cJSON_IsNumber(port) && port->valueint > 0 && port->valueint < 65536 ? port->valueint : APP_PORT;
    ps->running_at = running ? 0 : now + POD_START_MS;
    if ((config.scenarios & SC_SLOW_SIDECAR) && strcmp(app, SLOW_SIDECAR_DEPLOYMENT) == 0)
        ps->stats_behaviour = STATS_SLOW;
    if ((config.scenarios & SC_FLAKY_SIDECAR) && strcmp(app, FLAKY_SIDECAR_DEPLOYMENT) == 0)
        ps->stats_behaviour = STATS_FLAKY;
    o->ext = ps;
    o->ext_free = pod_state_free;
    if (injected) {
        /* Stats inclusion is read once, when Envoy starts. */
        struct matcher_list ml = {0};
        if (proxy_config)
            add_proxy_stats_matcher(&ml, proxy_config);
        if (bootstrap_agent_enabled(proxy_config))
            add_bootstrap_filters(&ml, rs->ns, json_path(o->json, "metadata.labels"));
        struct bucket_rule *rules;
        size_t n_rules = bucket_rules_of(json_path(tmeta, "annotations"), &rules);
        struct sidecar_options so = {
            .pod = o->name,
            .workload = app,
            .ns = o->ns,
            .app_name = app,
            .app_port = ps->app_port,
            .peer_services = (const char *const *)service_names,
            .n_peer_services = n_service_names,
            .restrictive_stats = (config.scenarios & SC_RESTRICTIVE_STATS) != 0,
            .inclusions = ml.items,
            .n_inclusions = ml.n,
            .naming = naming_for(app),
            .bucket_rules = rules,
            .n_bucket_rules = n_rules,
            .plugin_fails = (config.scenarios & SC_PLUGIN_FAILED) && strcmp(app, PLUGIN_FAILED_DEPLOYMENT) == 0,
        };
        ps->sidecar = sidecar_new(&so, now);
        matchers_free(&ml);
        for (size_t i = 0; i < n_rules; i++)
            free(rules[i].prefix);
        free(rules);
        char *pc = plugin_config_for(o->ns, app, json_path(o->json, "metadata.labels"));
        if (pc)
            sidecar_set_plugin(ps->sidecar, pc);
        free(pc);
    }
    cJSON_Delete(proxy_config);
    return o;
}

/* A Go duration as ProxyConfig's terminationDrainDuration is written
 * ("30s", "1m", "500ms", "1.5s") in milliseconds; -1 if it is not one. */
static long long duration_ms(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0)
        return (long long)v;
    if (strcmp(end, "s") == 0)
        return (long long)(v * 1000);
    if (strcmp(end, "m") == 0)
        return (long long)(v * 60000);
    return -1;
}

/* How long a deleted pod stays Terminating. With an injected sidecar,
 * pilot-agent drains Envoy for the pod's terminationDrainDuration before it
 * exits (istio/istio pkg/envoy/agent.go, Agent.terminate), and the kubelet
 * kills what is left after the grace period (30 s here); without one in the
 * pod's proxy.istio.io/config, meshsim's containers stop after 1.5 s. */
static int64_t terminating_ms(struct object *pod)
{
    cJSON *proxy_config = proxy_config_of(json_path(pod->json, "metadata.annotations"));
    const char *drain = json_str(proxy_config, "terminationDrainDuration");
    long long ms = drain ? duration_ms(drain) : -1;
    cJSON_Delete(proxy_config);
    if (ms < 0)
        return POD_TERMINATE_MS;
    return ms > POD_GRACE_S * 1000LL ? POD_GRACE_S * 1000LL : ms;
}

static void terminate_pod(struct object *pod, int64_t now)
{
    struct pod_state *ps = pod->ext;
    if (!ps || ps->gone_at)
        return;
    ps->gone_at = now + terminating_ms(pod);
    container_events(pod, 1);
    char ts[32];
    rfc3339(ts, sizeof ts, time(NULL) + POD_GRACE_S);
    cJSON *meta = json_path(pod->json, "metadata");
    json_set_str(meta, "deletionTimestamp", ts);
    cJSON_AddNumberToObject(meta, "deletionGracePeriodSeconds", POD_GRACE_S);
    store_modified(pod);
}

static int owned_by(struct object *o, struct object *owner);

void cluster_delete_deployment(struct object *d, int64_t now)
{
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    for (size_t i = 0; i < n; i++) {
        struct pod_state *ps = pods[i]->ext;
        if (ps && strcmp(pods[i]->ns, d->ns) == 0 && strcmp(ps->deployment, d->name) == 0)
            terminate_pod(pods[i], now);
    }
    struct object *const *sets = store_list(&RT_REPLICASETS, &n);
    for (size_t i = 0; i < n;) {
        if (owned_by(sets[i], d)) {
            store_delete(sets[i]);
            sets = store_list(&RT_REPLICASETS, &n);
        } else {
            i++;
        }
    }
}

void cluster_delete_pod(struct object *pod, int64_t now)
{
    terminate_pod(pod, now);
    cluster_services_changed();
    const char *app = pod->ext ? pod_state(pod)->deployment : NULL;
    struct object *d = app ? store_get(&RT_DEPLOYMENTS, pod->ns, app) : NULL;
    if (d)
        cluster_deployment_changed(d, now);
}

/* ---- deployments and replicasets ---- */

static int owned_by(struct object *o, struct object *owner)
{
    cJSON *ref;
    cJSON_ArrayForEach(ref, json_path(o->json, "metadata.ownerReferences"))
    {
        const char *uid = json_str(ref, "uid");
        if (uid && strcmp(uid, json_str(owner->json, "metadata.uid")) == 0)
            return 1;
    }
    return 0;
}

static int json_int(cJSON *root, const char *dotted, int dflt)
{
    cJSON *v = json_path(root, dotted);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

static void set_json_number(cJSON *obj, const char *key, double v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateNumber(v));
    else
        cJSON_AddNumberToObject(obj, key, v);
}

/* Replaces obj[key] and reports whether the serialized value changed. */
static int replace_if_changed(cJSON *obj, const char *key, cJSON *value)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (old && cJSON_Compare(old, value, 1)) {
        cJSON_Delete(value);
        return 0;
    }
    if (old)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
    return 1;
}

static struct object *create_replicaset(struct object *d, const char *hash, int revision)
{
    char name[300];
    snprintf(name, sizeof name, "%s-%s", d->name, hash);
    cJSON *tmpl = cJSON_Duplicate(json_path(d->json, "spec.template"), 1);
    json_set_str(json_obj_ensure(json_obj_ensure(tmpl, "metadata"), "labels"), "pod-template-hash", hash);
    cJSON *labels = cJSON_Duplicate(json_path(tmpl, "metadata.labels"), 1);
    cJSON *selector = cJSON_Duplicate(json_path(d->json, "spec.selector"), 1);
    json_set_str(json_obj_ensure(selector, "matchLabels"), "pod-template-hash", hash);
    int replicas = json_int(d->json, "spec.replicas", 1);
    cJSON *rs = jfmt("{\"metadata\":{\"annotations\":{\"deployment.kubernetes.io/desired-replicas\":\"%d\","
                     "\"deployment.kubernetes.io/max-replicas\":\"%d\",\"deployment.kubernetes.io/revision\":\"%d\"},"
                     "\"name\":\"%s\",\"namespace\":\"%s\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
                     "\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"Deployment\",\"name\":\"%s\",\"uid\":\"%s\"}]},"
                     "\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":0,\"observedGeneration\":1}}",
                     replicas, replicas + (replicas + 3) / 4, revision, name, d->ns, d->name,
                     json_str(d->json, "metadata.uid"), replicas);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(rs, "metadata");
    cJSON_AddItemToObject(meta, "generation", cJSON_CreateNumber(1));
    cJSON_AddItemToObject(meta, "labels", labels);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(rs, "spec");
    cJSON_AddItemToObject(spec, "selector", selector);
    cJSON_AddItemToObject(spec, "template", tmpl);
    return store_create(&RT_REPLICASETS, rs);
}

/* Brings a deployment's ReplicaSets, pods and status in line with its spec. */
static void reconcile(struct object *d, int64_t now, int initial)
{
    cJSON *tmpl = json_path(d->json, "spec.template");
    char hash[16];
    template_hash(tmpl, hash);
    char rs_name[300];
    snprintf(rs_name, sizeof rs_name, "%s-%s", d->name, hash);
    int replicas = json_int(d->json, "spec.replicas", 1);

    size_t n_rs;
    struct object *const *all_rs = store_list(&RT_REPLICASETS, &n_rs);
    int max_revision = 0;
    for (size_t i = 0; i < n_rs; i++) {
        if (!owned_by(all_rs[i], d))
            continue;
        const char *r = json_key_str(json_path(all_rs[i]->json, "metadata.annotations"), "deployment.kubernetes.io/revision");
        if (r && atoi(r) > max_revision)
            max_revision = atoi(r);
    }
    struct object *cur = store_get(&RT_REPLICASETS, d->ns, rs_name);
    if (!cur) {
        cur = create_replicaset(d, hash, max_revision + 1);
        record_event(d, "Normal", "ScalingReplicaSet", "deployment-controller", NULL,
                     "Scaled up replica set %s from 0 to %d", cur->name, replicas);
    } else if (!initial) {
        /* A rollback to an earlier template takes the next revision. */
        const char *r = json_key_str(json_path(cur->json, "metadata.annotations"), "deployment.kubernetes.io/revision");
        int rev = r ? atoi(r) : 0;
        if (rev < max_revision) {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", max_revision + 1);
            json_set_str(json_path(cur->json, "metadata.annotations"), "deployment.kubernetes.io/revision", buf);
            store_modified(cur);
        }
    }
    const char *cur_rev = json_key_str(json_path(cur->json, "metadata.annotations"), "deployment.kubernetes.io/revision");

    /* Pods of this deployment, by ReplicaSet. */
    size_t n_pods;
    struct object *const *pods = store_list(&RT_PODS, &n_pods);
    struct object **mine = calloc(n_pods + 1, sizeof *mine);
    size_t n_mine = 0;
    for (size_t i = 0; i < n_pods; i++) {
        struct pod_state *ps = pods[i]->ext;
        if (ps && strcmp(pods[i]->ns, d->ns) == 0 && strcmp(ps->deployment, d->name) == 0)
            mine[n_mine++] = pods[i];
    }
    int active_cur = 0;
    for (size_t i = 0; i < n_mine; i++) {
        struct pod_state *ps = mine[i]->ext;
        if (ps->gone_at)
            continue;
        if (!owned_by(mine[i], cur))
            terminate_pod(mine[i], now);
        else if (active_cur >= replicas)
            terminate_pod(mine[i], now);
        else
            active_cur++;
    }
    free(mine);
    for (; active_cur < replicas; active_cur++)
        create_pod(cur, d->name, initial, 0, now);

    /* ReplicaSet specs and statuses. */
    all_rs = store_list(&RT_REPLICASETS, &n_rs);
    pods = store_list(&RT_PODS, &n_pods);
    int total = 0, ready_total = 0, updated = 0;
    for (size_t i = 0; i < n_rs; i++) {
        struct object *rs = all_rs[i];
        if (!owned_by(rs, d))
            continue;
        int want = rs == cur ? replicas : 0;
        int have = 0, ready = 0;
        for (size_t j = 0; j < n_pods; j++) {
            struct pod_state *ps = pods[j]->ext;
            if (!ps || ps->gone_at || !owned_by(pods[j], rs))
                continue;
            have++;
            if (!ps->running_at)
                ready++;
        }
        total += have;
        ready_total += ready;
        if (rs == cur)
            updated = have;
        int changed = 0;
        cJSON *spec = json_path(rs->json, "spec");
        int had = json_int(spec, "replicas", -1);
        if (had != want) {
            /* The deployment controller's words (kubernetes
             * pkg/controller/deployment/sync.go, scaleReplicaSet). */
            record_event(d, "Normal", "ScalingReplicaSet", "deployment-controller", NULL,
                         "Scaled %s replica set %s from %d to %d", want > had ? "up" : "down", rs->name,
                         had < 0 ? 0 : had, want);
            set_json_number(spec, "replicas", want);
            char wbuf[16];
            snprintf(wbuf, sizeof wbuf, "%d", replicas);
            json_set_str(json_path(rs->json, "metadata.annotations"), "deployment.kubernetes.io/desired-replicas", wbuf);
            changed = 1;
        }
        cJSON *st = have ? jfmt("{\"availableReplicas\":%d,\"fullyLabeledReplicas\":%d,\"observedGeneration\":1,"
                                "\"readyReplicas\":%d,\"replicas\":%d}",
                                ready, have, ready, have)
                         : jfmt("{\"observedGeneration\":1,\"replicas\":0}");
        changed |= replace_if_changed(rs->json, "status", st);
        if (changed)
            store_modified(rs);
    }

    /* Deployment status, as kubectl rollout status reads it. */
    char now_s[32];
    now_rfc3339(now_s, sizeof now_s);
    int generation = json_int(d->json, "metadata.generation", 1);
    const char *old_avail_time = json_str(cJSON_GetArrayItem(json_path(d->json, "status.conditions"), 0),
                                          "lastTransitionTime");
    char avail_time[32];
    snprintf(avail_time, sizeof avail_time, "%s", old_avail_time ? old_avail_time : now_s);
    int complete = updated == replicas && total == replicas && ready_total == replicas;
    cJSON *st = jfmt("{\"availableReplicas\":%d,\"conditions\":["
                     "{\"lastTransitionTime\":\"%s\",\"lastUpdateTime\":\"%s\",\"message\":\"Deployment %s minimum availability.\","
                     "\"reason\":\"%s\",\"status\":\"%s\",\"type\":\"Available\"},"
                     "{\"lastTransitionTime\":\"%s\",\"lastUpdateTime\":\"%s\",\"message\":\"ReplicaSet \\\"%s\\\" %s.\","
                     "\"reason\":\"%s\",\"status\":\"True\",\"type\":\"Progressing\"}],"
                     "\"observedGeneration\":%d,\"readyReplicas\":%d,\"replicas\":%d,\"updatedReplicas\":%d}",
                     ready_total, avail_time, avail_time, ready_total >= replicas - replicas / 4 ? "has" : "does not have",
                     ready_total >= replicas - replicas / 4 ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                     ready_total >= replicas - replicas / 4 ? "True" : "False", avail_time, now_s, cur->name,
                     complete ? "has successfully progressed" : "is progressing",
                     complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", generation, ready_total, total, updated);
    if (ready_total == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "availableReplicas");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "readyReplicas");
    }
    if (total - ready_total > 0)
        cJSON_AddNumberToObject(st, "unavailableReplicas", total - ready_total);
    /* Progressing's lastUpdateTime moves on every change; compare without it. */
    cJSON *old = cJSON_GetObjectItemCaseSensitive(d->json, "status");
    int same = 0;
    if (old) {
        cJSON *a = cJSON_Duplicate(old, 1), *b = cJSON_Duplicate(st, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(json_path(a, "conditions"), 1), "lastUpdateTime");
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(json_path(b, "conditions"), 1), "lastUpdateTime");
        same = cJSON_Compare(a, b, 1);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    int changed = 0;
    if (!same) {
        replace_if_changed(d->json, "status", st);
        changed = 1;
    } else {
        cJSON_Delete(st);
    }
    cJSON *dann = json_obj_ensure(json_path(d->json, "metadata"), "annotations");
    const char *drev = json_key_str(dann, "deployment.kubernetes.io/revision");
    if (!drev || strcmp(drev, cur_rev) != 0) {
        json_set_str(dann, "deployment.kubernetes.io/revision", cur_rev);
        changed = 1;
    }
    if (changed && !initial)
        store_modified(d);
}

void cluster_deployment_changed(struct object *d, int64_t now)
{
    reconcile(d, now, 0);
}

static struct object *create_deployment(const char *ns, const char *name, int replicas, int inject, int native,
                                        int64_t now)
{
    cJSON *d = jfmt(
        "{\"metadata\":{\"annotations\":{},\"generation\":1,\"labels\":{\"app\":\"%s\"},\"name\":\"%s\",\"namespace\":\"%s\"},"
        "\"spec\":{\"progressDeadlineSeconds\":600,\"replicas\":%d,\"revisionHistoryLimit\":10,"
        "\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
        "\"strategy\":{\"rollingUpdate\":{\"maxSurge\":\"25%%\",\"maxUnavailable\":\"25%%\"},\"type\":\"RollingUpdate\"},"
        "\"template\":{\"metadata\":{\"creationTimestamp\":null,"
        /* hfi-enabled as on the shipped demo app (manifests/demo-app.yaml):
         * the shipped WasmPlugin and EnvoyFilter select it. */
        "\"labels\":{\"app\":\"%s\",\"hfi-enabled\":\"true\",\"version\":\"v1\"}},"
        "\"spec\":{\"containers\":[{\"image\":\"registry.local/meshsim/%s:1.0\",\"imagePullPolicy\":\"IfNotPresent\","
        "\"name\":\"%s\",\"ports\":[{\"containerPort\":%d,\"name\":\"http\",\"protocol\":\"TCP\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"50m\",\"memory\":\"64Mi\"}},"
        "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],"
        "\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\",\"schedulerName\":\"default-scheduler\","
        "\"securityContext\":{},\"terminationGracePeriodSeconds\":30}}}}",
        name, name, ns, replicas, name, name, name, name, APP_PORT);
    cJSON *tmeta = json_path(d, "spec.template.metadata");
    if (!inject || native) {
        cJSON *ann = cJSON_AddObjectToObject(tmeta, "annotations");
        if (!inject)
            cJSON_AddStringToObject(ann, "sidecar.istio.io/inject", "false");
        if (native)
            cJSON_AddStringToObject(ann, "sidecar.istio.io/nativeSidecar", "true");
    }
    struct object *o = store_create(&RT_DEPLOYMENTS, d);
    reconcile(o, now, 1);
    return o;
}

static void create_service(const char *ns, const char *name, int n)
{
    store_create(&RT_SERVICES,
                 jfmt("{\"metadata\":{\"labels\":{\"app\":\"%s\"},\"name\":\"%s\",\"namespace\":\"%s\"},"
                      "\"spec\":{\"clusterIP\":\"10.96.%d.%d\",\"clusterIPs\":[\"10.96.%d.%d\"],"
                      "\"internalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\","
                      "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":%d}],"
                      "\"selector\":{\"app\":\"%s\"},\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\"},"
                      "\"status\":{\"loadBalancer\":{}}}",
                      name, name, ns, 1 + n / 250, 10 + n % 240, 1 + n / 250, 10 + n % 240, APP_PORT, name));
}

static void create_namespace(const char *name, int injection)
{
    cJSON *ns = jfmt("{\"metadata\":{\"labels\":{\"kubernetes.io/metadata.name\":\"%s\"},\"name\":\"%s\"},"
                     "\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}",
                     name, name);
    if (injection)
        cJSON_AddStringToObject(json_path(ns, "metadata.labels"), "istio-injection", "enabled");
    store_create(&RT_NAMESPACES, ns);
}

/* The demo policy: some aborts, some delays, and header faults with a token
 * (the pluginConfig of the top README's "Configuration" section). */
static void create_demo_wasmplugin(const char *ns)
{
    store_create(
        &RT_WASMPLUGINS,
        jfmt("{\"metadata\":{\"name\":\"hfi-fault\",\"namespace\":\"%s\",\"generation\":1},"
             "\"spec\":{\"url\":\"oci://registry.local/hfitop/hfi-fault:0.1.0\",\"imagePullPolicy\":\"IfNotPresent\","
             "\"pluginName\":\"hfi-fault\",\"failStrategy\":\"FAIL_OPEN\",\"pluginConfig\":{"
             "\"policies\":["
             "{\"metadata\":{\"name\":\"frontend-faults\"},\"spec\":{\"selector\":{\"service\":\"frontend\",\"namespace\":\"%s\"},"
             "\"rules\":[{\"match\":{\"method\":{\"exact\":\"GET\"},\"path\":{\"prefix\":\"/product/\"}},"
             "\"fault\":{\"percentage\":20,\"delay\":{\"fixed_delay_ms\":150}}},"
             "{\"match\":{\"path\":{\"prefix\":\"/checkout\"}},\"fault\":{\"percentage\":10,"
             "\"abort\":{\"httpStatus\":503,\"body\":\"injected\"}}}]}},"
             "{\"metadata\":{\"name\":\"cart-faults\"},\"spec\":{\"selector\":{\"service\":\"cart\",\"namespace\":\"%s\"},"
             "\"rules\":[{\"match\":{\"path\":{\"regex\":\"^/cart\"}},\"fault\":{\"percentage\":15,"
             "\"abort\":{\"httpStatus\":503,\"body\":\"injected\"}}}]}},"
             "{\"metadata\":{\"name\":\"checkout-faults\"},\"spec\":{\"selector\":{\"service\":\"checkout\",\"namespace\":\"%s\"},"
             "\"rules\":[{\"match\":{\"method\":{\"exact\":\"POST\"}},\"fault\":{\"percentage\":25,"
             "\"delay\":{\"fixed_delay_ms\":100}}}]}}],"
             "\"header_faults\":{\"enabled\":true,\"token\":\"" DEMO_TOKEN "\",\"max_delay_ms\":30000},"
             "\"max_active_delays\":1000}}}",
             ns, ns, ns, ns));
}

/* ---- endpoints ---- */

/* Sets *slot to value (consumed) when it differs; 1 when it changed. */
static int replace_json(cJSON **slot, cJSON *value)
{
    if (*slot && cJSON_Compare(*slot, value, 1)) {
        cJSON_Delete(value);
        return 0;
    }
    cJSON_Delete(*slot);
    *slot = value;
    return 1;
}

/* A Service's Endpoints and EndpointSlice follow its selected pods, as the
 * endpoints and endpointslice controllers keep them (kubernetes
 * pkg/controller/endpoint, pkg/controller/endpointslice): ready pods are
 * addresses, starting ones notReadyAddresses, terminating ones leave. */
static void sync_endpoints_of(struct object *svc, struct object *const *pods, size_t n_pods)
{
    cJSON *sel = json_path(svc->json, "spec.selector");
    cJSON *ready = cJSON_CreateArray(), *not_ready = cJSON_CreateArray(), *slice_eps = cJSON_CreateArray();
    for (size_t i = 0; sel && sel->child && i < n_pods; i++) {
        struct object *pod = pods[i];
        struct pod_state *ps = pod->ext;
        if (strcmp(pod->ns, svc->ns) != 0 || !ps || ps->gone_at || !labels_match(sel, json_path(pod->json, "metadata.labels")))
            continue;
        cJSON *addr = jfmt("{\"ip\":\"%s\",\"nodeName\":\"" NODE_NAME "\",\"targetRef\":{\"kind\":\"Pod\","
                           "\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"}}",
                           json_str(pod->json, "status.podIP"), pod->name, pod->ns, json_str(pod->json, "metadata.uid"));
        cJSON_AddItemToArray(ps->running_at ? not_ready : ready, addr);
        cJSON_AddItemToArray(slice_eps,
                             jfmt("{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":%s,\"serving\":%s,"
                                  "\"terminating\":false},\"nodeName\":\"" NODE_NAME "\",\"targetRef\":{\"kind\":\"Pod\","
                                  "\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"}}",
                                  json_str(pod->json, "status.podIP"), ps->running_at ? "false" : "true",
                                  ps->running_at ? "false" : "true", pod->name, pod->ns,
                                  json_str(pod->json, "metadata.uid")));
    }
    cJSON *ports = cJSON_CreateArray(), *p;
    cJSON_ArrayForEach(p, json_path(svc->json, "spec.ports"))
    {
        cJSON *target = cJSON_GetObjectItemCaseSensitive(p, "targetPort");
        cJSON *port = cJSON_CreateObject();
        if (json_str(p, "name"))
            cJSON_AddStringToObject(port, "name", json_str(p, "name"));
        cJSON_AddNumberToObject(port, "port", cJSON_IsNumber(target) ? target->valuedouble : json_int(p, "port", 0));
        cJSON_AddStringToObject(port, "protocol", json_str(p, "protocol") ? json_str(p, "protocol") : "TCP");
        cJSON_AddItemToArray(ports, port);
    }
    cJSON *subsets = cJSON_CreateArray();
    if (cJSON_GetArraySize(ready) || cJSON_GetArraySize(not_ready)) {
        cJSON *subset = cJSON_CreateObject();
        if (cJSON_GetArraySize(ready))
            cJSON_AddItemToObject(subset, "addresses", ready);
        else
            cJSON_Delete(ready);
        if (cJSON_GetArraySize(not_ready))
            cJSON_AddItemToObject(subset, "notReadyAddresses", not_ready);
        else
            cJSON_Delete(not_ready);
        cJSON_AddItemToObject(subset, "ports", cJSON_Duplicate(ports, 1));
        cJSON_AddItemToArray(subsets, subset);
    } else {
        cJSON_Delete(ready);
        cJSON_Delete(not_ready);
    }

    struct object *ep = store_get(&RT_ENDPOINTS, svc->ns, svc->name);
    if (!ep) {
        cJSON *obj = jfmt("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"}}", svc->name, svc->ns);
        cJSON_AddItemToObject(json_path(obj, "metadata"), "labels",
                              cJSON_Duplicate(json_path(svc->json, "metadata.labels"), 1));
        cJSON_AddItemToObject(obj, "subsets", subsets);
        store_create(&RT_ENDPOINTS, obj);
    } else {
        cJSON *slot = cJSON_DetachItemFromObjectCaseSensitive(ep->json, "subsets");
        int changed = replace_json(&slot, subsets);
        cJSON_AddItemToObject(ep->json, "subsets", slot);
        if (changed)
            store_modified(ep);
    }
    char slice_name[300];
    snprintf(slice_name, sizeof slice_name, "%s-meshsim", svc->name);
    struct object *slice = store_get(&RT_ENDPOINTSLICES, svc->ns, slice_name);
    if (!slice) {
        cJSON *obj = jfmt("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"generateName\":\"%s-\","
                          "\"labels\":{\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\","
                          "\"kubernetes.io/service-name\":\"%s\"}},\"addressType\":\"IPv4\"}",
                          slice_name, svc->ns, svc->name, svc->name);
        cJSON_AddItemToObject(obj, "endpoints", slice_eps);
        cJSON_AddItemToObject(obj, "ports", ports);
        store_create(&RT_ENDPOINTSLICES, obj);
    } else {
        cJSON *slot = cJSON_DetachItemFromObjectCaseSensitive(slice->json, "endpoints");
        int changed = replace_json(&slot, slice_eps);
        cJSON_AddItemToObject(slice->json, "endpoints", slot);
        cJSON *pslot = cJSON_DetachItemFromObjectCaseSensitive(slice->json, "ports");
        changed |= replace_json(&pslot, ports);
        cJSON_AddItemToObject(slice->json, "ports", pslot);
        if (changed)
            store_modified(slice);
    }
}

void cluster_services_changed(void)
{
    size_t n_pods, n_svc;
    struct object *const *pods = store_list(&RT_PODS, &n_pods);
    struct object *const *svcs = store_list(&RT_SERVICES, &n_svc);
    for (size_t i = 0; i < n_svc; i++)
        sync_endpoints_of(svcs[i], pods, n_pods);
    /* A deleted Service's Endpoints and slice go with it. */
    static const struct rtype *const kinds[] = {&RT_ENDPOINTS, &RT_ENDPOINTSLICES};
    for (size_t k = 0; k < 2; k++) {
        size_t n;
        struct object *const *eps = store_list(kinds[k], &n);
        for (size_t i = 0; i < n;) {
            const char *svc = k == 0 ? eps[i]->name
                                     : json_key_str(json_path(eps[i]->json, "metadata.labels"), "kubernetes.io/service-name");
            if (!svc || !store_get(&RT_SERVICES, eps[i]->ns, svc)) {
                store_delete(eps[i]);
                eps = store_list(kinds[k], &n);
            } else {
                i++;
            }
        }
    }
}

/* The one node every pod runs on. */
static void create_node(void)
{
    store_create(&RT_NODES,
                 jfmt("{\"metadata\":{\"name\":\"" NODE_NAME "\",\"labels\":{\"kubernetes.io/arch\":\"amd64\","
                      "\"kubernetes.io/hostname\":\"" NODE_NAME "\",\"kubernetes.io/os\":\"linux\","
                      "\"node-role.kubernetes.io/control-plane\":\"\"}},\"spec\":{\"podCIDR\":\"10.244.0.0/16\"},"
                      "\"status\":{\"addresses\":[{\"address\":\"" NODE_IP "\",\"type\":\"InternalIP\"},"
                      "{\"address\":\"" NODE_NAME "\",\"type\":\"Hostname\"}],"
                      "\"allocatable\":{\"cpu\":\"8\",\"memory\":\"16Gi\",\"pods\":\"5000\"},"
                      "\"capacity\":{\"cpu\":\"8\",\"memory\":\"16Gi\",\"pods\":\"5000\"},"
                      "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","
                      "\"message\":\"kubelet is posting ready status\"}],"
                      "\"nodeInfo\":{\"architecture\":\"amd64\",\"containerRuntimeVersion\":\"containerd://1.7.24\","
                      "\"kernelVersion\":\"6.1.0\",\"kubeProxyVersion\":\"v1.32.0\",\"kubeletVersion\":\"v1.32.0\","
                      "\"operatingSystem\":\"linux\",\"osImage\":\"meshsim\"}}}"));
}

void cluster_build(const struct cluster_config *cfg, int64_t now)
{
    config = *cfg;
    store_events_enable(0);
    create_node();
    create_namespace("default", 0);
    create_namespace("istio-system", 0);
    create_namespace("kube-system", 0);
    if (!store_get(&RT_NAMESPACES, "", cfg->ns))
        create_namespace(cfg->ns, 1);
    else
        json_set_str(json_path(store_get(&RT_NAMESPACES, "", cfg->ns)->json, "metadata.labels"), "istio-injection",
                     "enabled");
    if (!(cfg->scenarios & SC_PLUGIN_MISSING))
        create_demo_wasmplugin(cfg->ns);

    /* Deployments: the demo three, the uninjected one, then enough extra
     * ones (up to 20 pods each) to reach --pods. */
    int total = cfg->pods > 0 ? cfg->pods : 6;
    int demo_replicas = total < 6 ? (total + 2) / 3 : 2;
    int remaining = total - 3 * demo_replicas;
    size_t n_extra = remaining > 0 ? (size_t)(remaining + 19) / 20 : 0;
    n_service_names = 3 + n_extra + ((cfg->scenarios & SC_NO_SIDECAR) ? 1 : 0);
    service_names = calloc(n_service_names, sizeof *service_names);
    size_t k = 0;
    for (size_t i = 0; i < 3; i++)
        service_names[k++] = strdup(demo_deployments[i]);
    if (cfg->scenarios & SC_NO_SIDECAR)
        service_names[k++] = strdup(NO_SIDECAR_DEPLOYMENT);
    for (size_t i = 0; i < n_extra; i++) {
        char name[32];
        snprintf(name, sizeof name, "svc-%03zu", i + 1);
        service_names[k++] = strdup(name);
    }
    for (size_t i = 0; i < n_service_names; i++)
        create_service(cfg->ns, service_names[i], (int)i);
    for (size_t i = 0; i < 3; i++)
        create_deployment(cfg->ns, demo_deployments[i], demo_replicas, 1,
                          strcmp(demo_deployments[i], NATIVE_SIDECAR_DEPLOYMENT) == 0, now);
    if (cfg->scenarios & SC_NO_SIDECAR)
        create_deployment(cfg->ns, NO_SIDECAR_DEPLOYMENT, 2, 0, 0, now);
    for (size_t i = 0; i < n_extra; i++) {
        int replicas = remaining > 20 ? 20 : remaining;
        remaining -= replicas;
        create_deployment(cfg->ns, service_names[3 + ((cfg->scenarios & SC_NO_SIDECAR) ? 1 : 0) + i], replicas, 1, 0,
                          now);
    }
    /* A restart counter to show: one demo app container restarted once. */
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    for (size_t i = 0; i < n; i++) {
        struct pod_state *ps = pods[i]->ext;
        if (ps && strcmp(ps->deployment, "frontend") == 0) {
            set_pod_status(pods[i]->json, 1, 1);
            break;
        }
    }
    cluster_services_changed();
    /* Watches start after the world exists: a relist sees it all. */
    store_events_enable(1);
    store_compact(store_rv());
    last_traffic_at = now;
}

void cluster_free(void)
{
    for (size_t i = 0; i < n_service_names; i++)
        free(service_names[i]);
    free(service_names);
    service_names = NULL;
    n_service_names = 0;
    for (size_t i = 0; i < MAX_EVENTS; i++) {
        free(event_keys[i]);
        event_keys[i] = NULL;
    }
    event_next = event_count = 0;
}

/* ---- background traffic ---- */

static void traffic_done(void *ctx, const struct app_response *resp)
{
    (void)ctx;
    (void)resp;
}

static const struct {
    const char *method, *path;
} traffic_paths[] = {
    {"GET", "/"},          {"GET", "/product/1"}, {"GET", "/product/42"}, {"GET", "/cart"},
    {"POST", "/cart/items"}, {"GET", "/checkout"},  {"POST", "/checkout"},  {"GET", "/healthz"},
};

static void send_traffic(int count)
{
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    if (!n)
        return;
    for (int i = 0; i < count; i++) {
        /* A few random tries to find a running injected pod. */
        for (int attempt = 0; attempt < 8; attempt++) {
            struct object *pod = pods[rng_below((uint32_t)n)];
            struct pod_state *ps = pod->ext;
            if (!ps || !ps->sidecar || ps->running_at || ps->gone_at)
                continue;
            size_t pick = rng_below(sizeof traffic_paths / sizeof traffic_paths[0]);
            struct header hdrs[] = {{"x-user-id", rng_below(4) ? "7" : "42"}, {"user-agent", "meshsim-traffic"}};
            sidecar_request(ps->sidecar, traffic_paths[pick].method, traffic_paths[pick].path, hdrs, 2, traffic_done,
                            NULL);
            break;
        }
    }
}

int cluster_tick(int64_t now)
{
    int wait = 1000;
    size_t n;
    struct object *const *pods = store_list(&RT_PODS, &n);
    /* Pod lifecycle; collect deployments to reconcile after the scan. */
    char **dirty = NULL;
    size_t n_dirty = 0;
    for (size_t i = 0; i < n; i++) {
        struct object *pod = pods[i];
        struct pod_state *ps = pod->ext;
        if (!ps)
            continue;
        if (ps->sidecar) {
            int w = sidecar_tick(ps->sidecar, now);
            if (w >= 0 && w < wait)
                wait = w;
        }
        int changed = 0;
        if (ps->running_at && !ps->gone_at) {
            if (now >= ps->running_at) {
                ps->running_at = 0;
                set_pod_status(pod->json, 1, 0);
                store_modified(pod);
                container_events(pod, 0);
                changed = 1;
            } else if (ps->running_at - now < wait) {
                wait = (int)(ps->running_at - now);
            }
        }
        if (ps->gone_at) {
            if (now >= ps->gone_at)
                changed = 2;
            else if (ps->gone_at - now < wait)
                wait = (int)(ps->gone_at - now);
        }
        if (changed) {
            struct buf key = {0};
            buf_printf(&key, "%s/%s", pod->ns, ps->deployment);
            dirty = realloc(dirty, (n_dirty + 1) * sizeof *dirty);
            dirty[n_dirty++] = key.data;
        }
        if (changed == 2) {
            store_delete(pod);
            pods = store_list(&RT_PODS, &n);
            i--;
        }
    }
    for (size_t i = 0; i < n_dirty; i++) {
        char *slash = strchr(dirty[i], '/');
        *slash = '\0';
        struct object *d = store_get(&RT_DEPLOYMENTS, dirty[i], slash + 1);
        *slash = '/';
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(dirty[j], dirty[i]) == 0;
        if (d && !seen)
            reconcile(d, now, 0);
    }
    for (size_t i = 0; i < n_dirty; i++)
        free(dirty[i]);
    free(dirty);
    if (n_dirty)
        cluster_services_changed();

    if (config.traffic_rps > 0) {
        traffic_credit += config.traffic_rps * (double)(now - last_traffic_at) / 1000.0;
        last_traffic_at = now;
        int count = (int)traffic_credit;
        if (count > 0) {
            traffic_credit -= count;
            send_traffic(count);
        }
        int next = (int)((1.0 - traffic_credit) * 1000.0 / config.traffic_rps) + 1;
        if (next < wait)
            wait = next;
    }
    return wait < 1 ? 1 : wait;
}
