/* What hfitop reads from Istio's custom resources: which WasmPlugin
 * configures a pod's fault plugin, and which EnvoyFilters patch its
 * bootstrap. Pure functions over parsed JSON, shared by the doctor and the
 * actions. */
#ifndef APP_ISTIO_H
#define APP_ISTIO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

#include "../kube/kube_client.h"
#include "../kube/kube_pods.h"

#define APP_WASMPLUGINS_PATH_FMT "/apis/extensions.istio.io/v1alpha1/namespaces/%s/wasmplugins"
#define APP_ENVOYFILTERS_PATH_FMT "/apis/networking.istio.io/v1alpha3/namespaces/%s/envoyfilters"
/* Where mesh-wide resources live: they apply to every namespace. */
#define APP_ISTIO_ROOT_NAMESPACE "istio-system"

/* The first WasmPlugin of `items` (a JSON array of objects) whose selector
 * matches the pod's labels and whose targetRefs, when present, name the
 * pod's deployment or `app` label; NULL when none. */
const cJSON *app_wasmplugin_for_pod(const cJSON *items, const struct kube_pod *pod);

/* pluginConfig.header_faults of a WasmPlugin: whether enabled, and the
 * token (NULL when absent; it belongs to the JSON tree). */
bool app_wasmplugin_header_faults(const cJSON *wasmplugin, const char **token);

/* Whether an EnvoyFilter selects the pod and carries a BOOTSTRAP MERGE
 * patch (the kind that can change stats inclusion). */
bool app_envoyfilter_patches_bootstrap(const cJSON *envoyfilter, const struct kube_pod *pod);

/* metadata.creationTimestamp as Unix time; 0 when absent. */
time_t app_object_created(const cJSON *object);

/* "a.b.c" lookup through nested objects; NULL when a step is missing. */
const cJSON *app_json_path(const cJSON *root, const char *dotted);
/* metadata.name when it is a non-empty string, else NULL (a server may
 * serve an object without one, or with a number there). */
const char *app_object_name(const cJSON *obj);

/* The WasmPlugins and EnvoyFilters that can apply to a namespace: its own
 * and istio-system's, fetched together. A list that could not be read
 * stays NULL (a cluster without Istio's CRDs answers 404) and its error is
 * kept. */
struct app_istio_resources {
    cJSON *wasmplugins;  /* array of objects, or NULL */
    cJSON *envoyfilters; /* array of objects, or NULL */
    struct kube_error error; /* the first failure */
    int pending;
    bool failed_401;         /* credentials rejected: nothing can be read */
};

/* Starts the four GETs; done when res->pending is 0. */
void app_istio_fetch(struct kube_client *client, const char *ns, struct app_istio_resources *res);
void app_istio_resources_free(struct app_istio_resources *res);

#endif
