#include "schema.h"

#include <stdio.h>
#include <string.h>

/* A parent path (list items as "[]") and the keys it allows, space
 * separated, each key between spaces; "*" is a map of any keys. */
struct known {
    const char *parent;
    const char *keys;
};

#define META " name generateName namespace selfLink uid resourceVersion generation creationTimestamp " \
             "deletionTimestamp deletionGracePeriodSeconds labels annotations ownerReferences finalizers " \
             "managedFields "
#define POD_SPEC " volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds " \
                 "activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount " \
                 "automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace " \
                 "securityContext imagePullSecrets hostname subdomain affinity schedulerName tolerations " \
                 "hostAliases priorityClassName priority dnsConfig readinessGates runtimeClassName " \
                 "enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os " \
                 "hostUsers schedulingGates resourceClaims resources "
#define CONTAINER " name image command args workingDir ports envFrom env resources resizePolicy restartPolicy " \
                  "volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle " \
                  "terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin " \
                  "stdinOnce tty "
#define PORT " name hostPort containerPort protocol hostIP "
#define ENV " name value valueFrom "
#define OWNER " apiVersion kind name uid controller blockOwnerDeletion "

/* Every type: metadata. Built-in types: kubernetes staging/src/k8s.io/api
 * (apps/v1, core/v1 types.go); Istio's: istio/api networking/v1alpha3
 * envoy_filter.proto, extensions/v1alpha1 wasm.proto. */
static const struct known common[] = {
    {"metadata", META},
    {"metadata.labels", "*"},
    {"metadata.annotations", "*"},
    {"metadata.ownerReferences[]", OWNER},
    {NULL, NULL},
};
static const struct known deployment[] = {
    {"", " apiVersion kind metadata spec status "},
    {"spec", " replicas selector template strategy minReadySeconds revisionHistoryLimit paused "
             "progressDeadlineSeconds "},
    {"spec.selector", " matchLabels matchExpressions "},
    {"spec.selector.matchLabels", "*"},
    {"spec.strategy", " type rollingUpdate "},
    {"spec.strategy.rollingUpdate", " maxSurge maxUnavailable "},
    {"spec.template", " metadata spec "},
    {"spec.template.metadata", META},
    {"spec.template.metadata.labels", "*"},
    {"spec.template.metadata.annotations", "*"},
    {"spec.template.spec", POD_SPEC},
    {"spec.template.spec.nodeSelector", "*"},
    {"spec.template.spec.containers[]", CONTAINER},
    {"spec.template.spec.initContainers[]", CONTAINER},
    {"spec.template.spec.containers[].ports[]", PORT},
    {"spec.template.spec.initContainers[].ports[]", PORT},
    {"spec.template.spec.containers[].env[]", ENV},
    {"spec.template.spec.initContainers[].env[]", ENV},
    {"spec.template.spec.containers[].resources", " limits requests claims "},
    {"spec.template.spec.initContainers[].resources", " limits requests claims "},
    {NULL, NULL},
};
static const struct known service[] = {
    {"", " apiVersion kind metadata spec status "},
    {"spec", " ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP "
             "loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort "
             "publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy "
             "allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution "},
    {"spec.selector", "*"},
    {"spec.ports[]", " name protocol appProtocol port targetPort nodePort "},
    {NULL, NULL},
};
static const struct known configmap[] = {
    {"", " apiVersion kind metadata data binaryData immutable "},
    {"data", "*"},
    {"binaryData", "*"},
    {NULL, NULL},
};
static const struct known envoyfilter[] = {
    {"", " apiVersion kind metadata spec status "},
    {"spec", " workloadSelector configPatches priority targetRefs "},
    {"spec.configPatches[]", " applyTo match patch "},
    {"spec.configPatches[].patch", " operation value filterClass "},
    {NULL, NULL},
};
static const struct known wasmplugin[] = {
    {"", " apiVersion kind metadata spec status "},
    {"spec", " selector targetRef targetRefs url sha256 imagePullPolicy imagePullSecret verificationKey "
             "pluginConfig pluginName phase priority failStrategy vmConfig match type "},
    {NULL, NULL},
};

static const struct known *table_for(const struct rtype *t)
{
    return t == &RT_DEPLOYMENTS ? deployment
           : t == &RT_SERVICES ? service
           : t == &RT_CONFIGMAPS ? configmap
           : t == &RT_ENVOYFILTERS ? envoyfilter
           : t == &RT_WASMPLUGINS ? wasmplugin
                                  : NULL;
}

/* The keys allowed under parent, or NULL when meshsim does not know. */
static const char *keys_of(const struct known *table, const char *parent)
{
    for (size_t i = 0; common[i].parent; i++)
        if (strcmp(common[i].parent, parent) == 0)
            return common[i].keys;
    for (size_t i = 0; table && table[i].parent; i++)
        if (strcmp(table[i].parent, parent) == 0)
            return table[i].keys;
    return NULL;
}

/* keys starts with a space, so a match of a key (never empty, never with a
 * space) always has a character before it. */
static int allowed(const char *keys, const char *key)
{
    if (strcmp(keys, "*") == 0)
        return 1;
    size_t n = strlen(key);
    for (const char *p = strstr(keys, key); p; p = strstr(p + 1, key))
        if (p[-1] == ' ' && p[n] == ' ')
            return 1;
    return 0;
}

/* Walks obj; parent is its path with list items as "[]", shown the same
 * with indices. */
static int walk(const struct known *table, const cJSON *obj, const char *parent, const char *shown, char *out,
                size_t size)
{
    if (cJSON_IsArray(obj)) {
        char p[512], s[512];
        snprintf(p, sizeof p, "%s[]", parent);
        int i = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, obj)
        {
            snprintf(s, sizeof s, "%s[%d]", shown, i++);
            if (walk(table, item, p, s, out, size))
                return 1;
        }
        return 0;
    }
    if (!cJSON_IsObject(obj))
        return 0;
    const char *keys = keys_of(table, parent);
    if (!keys || strcmp(keys, "*") == 0)
        return 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, obj)
    {
        if (!c->string || c->string[0] == '$')
            continue;
        char p[512], s[512];
        snprintf(p, sizeof p, "%s%s%s", parent, parent[0] ? "." : "", c->string);
        snprintf(s, sizeof s, "%s%s%s", shown, shown[0] ? "." : "", c->string);
        if (!c->string[0] || strchr(c->string, ' ') || !allowed(keys, c->string)) {
            snprintf(out, size, "%s", s);
            return 1;
        }
        if (walk(table, c, p, s, out, size))
            return 1;
    }
    return 0;
}

int schema_unknown_field(const struct rtype *t, const cJSON *obj, char *out, size_t size)
{
    const struct known *table = table_for(t);
    if (!table) {
        /* Only metadata is known for the other types. */
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        return walk(NULL, meta, "metadata", "metadata", out, size);
    }
    return walk(table, obj, "", "", out, size);
}
