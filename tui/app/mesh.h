/* The namespace's Istio objects the console's header and doctor need:
 * WasmPlugins (is the fault plugin configured, with how many rules, are
 * header faults on) and EnvoyFilters (is a stats-inclusion filter there),
 * read every few seconds. Its requests double as the console's probe of
 * the API server: the last one's outcome says whether the API answers. */
#ifndef APP_MESH_H
#define APP_MESH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

#include "../kube/kube.h"

#define APP_MESH_DEFAULT_INTERVAL_S 5

struct app_mesh_state {
    bool wasmplugins_read; /* a list has arrived at least once */
    int wasmplugins;       /* WasmPlugins in the namespace and istio-system */
    char wasmplugin[128];  /* the first one's name */
    int rules;             /* rules in its pluginConfig policies; -1 unreadable */
    /* The plugin's own parser refuses its pluginConfig (written by someone
     * else: hfitop never writes one): no policy of it applies anywhere. */
    bool config_rejected;
    char config_error[300];
    bool header_faults;
    bool envoyfilters_read;
    int stats_filters;     /* EnvoyFilters patching the bootstrap */
    char envoyfilter[128]; /* the first such filter's name */
    time_t envoyfilter_created;

    /* The API server as the last request found it. */
    bool api_ok;
    struct kube_error api_error; /* when !api_ok */
    time_t api_checked;
};

struct app_mesh;

struct app_mesh *app_mesh_new(struct kube_client *client, const char *ns, int interval_s);
void app_mesh_free(struct app_mesh *mesh);
/* Starts the reads that are due; call after every dispatch. */
void app_mesh_tick(struct app_mesh *mesh);
int app_mesh_timeout_ms(const struct app_mesh *mesh);
/* Reads again at the next tick (after an action changed something). */
void app_mesh_refresh(struct app_mesh *mesh);

const struct app_mesh_state *app_mesh_state(const struct app_mesh *mesh);
/* The last WasmPlugins and EnvoyFilters read (the namespace's and
 * istio-system's), or NULL: the doctor's evidence. */
const cJSON *app_mesh_wasmplugins(const struct app_mesh *mesh);
const cJSON *app_mesh_envoyfilters(const struct app_mesh *mesh);

/* Rules in a WasmPlugin's pluginConfig.policies[].spec.rules; -1 when the
 * shape is not the plugin's. Pure, for tests. */
int app_mesh_count_rules(const cJSON *wasmplugin);

#endif
