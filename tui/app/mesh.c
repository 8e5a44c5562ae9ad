#include "mesh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "istio.h"
#include "policy.h"

/* Reads land in `reading` (callbacks point into it, so it stays put) and
 * replace `current` when all of them are in: the header never shows a
 * half-read state. */
struct app_mesh {
    struct kube_client *client;
    char *ns;
    int interval_ms;
    int64_t next_read_ms;
    struct app_istio_resources *current, *reading;
    struct app_mesh_state state;
};

struct app_mesh *app_mesh_new(struct kube_client *client, const char *ns, int interval_s)
{
    struct app_mesh *mesh = calloc(1, sizeof *mesh);
    if (!mesh)
        return NULL;
    mesh->client = client;
    mesh->ns = strdup(ns && *ns ? ns : "default");
    mesh->interval_ms = (interval_s > 0 ? interval_s : APP_MESH_DEFAULT_INTERVAL_S) * 1000;
    mesh->state.rules = -1;
    mesh->state.api_ok = true;
    if (!mesh->ns) {
        free(mesh);
        return NULL;
    }
    return mesh;
}

static void resources_free(struct app_istio_resources *res)
{
    if (res) {
        app_istio_resources_free(res);
        free(res);
    }
}

/* Lets the reads in flight land before their target goes away. */
void app_mesh_free(struct app_mesh *mesh)
{
    if (!mesh)
        return;
    while (mesh->reading && mesh->reading->pending)
        kube_client_wait(mesh->client, 100);
    resources_free(mesh->reading);
    resources_free(mesh->current);
    free(mesh->ns);
    free(mesh);
}

int app_mesh_count_rules(const cJSON *wasmplugin)
{
    const cJSON *policies = app_json_path(wasmplugin, "spec.pluginConfig.policies");
    if (!policies)
        return 0;
    if (!cJSON_IsArray(policies))
        return -1;
    int rules = 0;
    const cJSON *policy;
    cJSON_ArrayForEach(policy, policies)
    {
        const cJSON *r = app_json_path(policy, "spec.rules");
        if (r && !cJSON_IsArray(r))
            return -1;
        rules += cJSON_GetArraySize(r);
    }
    return rules;
}

static void summarise_wasmplugins(struct app_mesh_state *s, const cJSON *items)
{
    s->wasmplugins_read = true;
    s->wasmplugins = cJSON_GetArraySize(items);
    s->wasmplugin[0] = '\0';
    s->rules = -1;
    s->header_faults = false;
    const cJSON *first = cJSON_GetArrayItem(items, 0);
    if (!first)
        return;
    const cJSON *name = app_json_path(first, "metadata.name");
    if (cJSON_IsString(name))
        snprintf(s->wasmplugin, sizeof s->wasmplugin, "%s", name->valuestring);
    s->rules = app_mesh_count_rules(first);
    s->header_faults = app_wasmplugin_header_faults(first, NULL);
    s->config_rejected = false;
    const cJSON *config = app_json_path(first, "spec.pluginConfig");
    char *text = config ? cJSON_PrintUnformatted(config) : NULL;
    if (text && !app_policy_check_config(text, strlen(text), s->config_error, sizeof s->config_error))
        s->config_rejected = true;
    free(text);
}

static bool patches_bootstrap(const cJSON *filter)
{
    const cJSON *patch;
    cJSON_ArrayForEach(patch, app_json_path(filter, "spec.configPatches"))
    {
        const cJSON *apply_to = cJSON_GetObjectItemCaseSensitive(patch, "applyTo");
        if (cJSON_IsString(apply_to) && strcmp(apply_to->valuestring, "BOOTSTRAP") == 0)
            return true;
    }
    return false;
}

static void summarise_envoyfilters(struct app_mesh_state *s, const cJSON *items)
{
    s->envoyfilters_read = true;
    s->stats_filters = 0;
    s->envoyfilter[0] = '\0';
    s->envoyfilter_created = 0;
    const cJSON *filter;
    cJSON_ArrayForEach(filter, items)
    {
        if (!patches_bootstrap(filter))
            continue;
        if (s->stats_filters++ == 0) {
            const cJSON *name = app_json_path(filter, "metadata.name");
            if (cJSON_IsString(name))
                snprintf(s->envoyfilter, sizeof s->envoyfilter, "%s", name->valuestring);
            s->envoyfilter_created = app_object_created(filter);
        }
    }
}

/* A 404 means a CRD is not installed: the API itself answered. */
static void take_reading(struct app_mesh *mesh)
{
    struct app_istio_resources *res = mesh->reading;
    mesh->reading = NULL;
    mesh->state.api_checked = time(NULL);
    mesh->state.api_ok = res->error.code == KUBE_OK || res->error.http_status == 404;
    if (!mesh->state.api_ok) {
        mesh->state.api_error = res->error;
        resources_free(res); /* keep showing the last good reading */
        return;
    }
    summarise_wasmplugins(&mesh->state, res->wasmplugins);
    summarise_envoyfilters(&mesh->state, res->envoyfilters);
    resources_free(mesh->current);
    mesh->current = res;
}

void app_mesh_tick(struct app_mesh *mesh)
{
    if (mesh->reading && mesh->reading->pending == 0)
        take_reading(mesh);
    int64_t now = app_now_ms();
    if (mesh->reading || now < mesh->next_read_ms)
        return;
    mesh->reading = calloc(1, sizeof *mesh->reading);
    if (!mesh->reading)
        return;
    mesh->next_read_ms = now + mesh->interval_ms;
    app_istio_fetch(mesh->client, mesh->ns, mesh->reading);
}

int app_mesh_timeout_ms(const struct app_mesh *mesh)
{
    if (mesh->reading)
        return mesh->reading->pending ? -1 : 0;
    int64_t wait = mesh->next_read_ms - app_now_ms();
    return wait < 0 ? 0 : wait > mesh->interval_ms ? mesh->interval_ms : (int)wait;
}

void app_mesh_refresh(struct app_mesh *mesh)
{
    mesh->next_read_ms = 0;
}

const struct app_mesh_state *app_mesh_state(const struct app_mesh *mesh)
{
    return &mesh->state;
}

const cJSON *app_mesh_wasmplugins(const struct app_mesh *mesh)
{
    return mesh->current ? mesh->current->wasmplugins : NULL;
}

const cJSON *app_mesh_envoyfilters(const struct app_mesh *mesh)
{
    return mesh->current ? mesh->current->envoyfilters : NULL;
}
