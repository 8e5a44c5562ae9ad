#include "kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube_util.h"
#include "kube_yaml.h"

/* State of one parse: where we are, for messages that point at the field. */
struct walker {
    const char *source;
    struct kube_error *err;
    char dir_buf[4096];
    const char *dir; /* base of relative paths, NULL when parsing memory */
};

static const char *name_of(const struct walker *w)
{
    return w->source ? w->source : "kubeconfig";
}

static int shape_error(struct walker *w, const char *where, const char *key, const char *want)
{
    return kube_error_set(w->err, KUBE_CONFIG_SHAPE, "%s: %s%s%s: expected %s", name_of(w), where,
                          *where ? "." : "", key, want);
}

static int get_string(struct walker *w, const cJSON *obj, const char *key, const char *where,
                      char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return shape_error(w, where, key, "a string");
    *out = strdup(v->valuestring);
    return *out ? 0 : kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
}

static int get_bool(struct walker *w, const cJSON *obj, const char *key, const char *where,
                    bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = false;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return shape_error(w, where, key, "true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A path field resolved against the defining file's directory, as
 * client-go's ResolveLocalPaths does. */
static int get_path(struct walker *w, const cJSON *obj, const char *key, const char *where,
                    char **out)
{
    char *raw;
    if (get_string(w, obj, key, where, &raw) < 0)
        return -1;
    if (!raw || !w->dir) {
        *out = raw;
        return 0;
    }
    *out = kube_path_resolve(w->dir, raw);
    free(raw);
    return *out ? 0 : kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
}

/* Looks up `key` as a list; NULL (not an error) when absent or null. */
static int get_list(struct walker *w, const cJSON *obj, const char *key, const char *where,
                    const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return shape_error(w, where, key, "a list");
    *out = v;
    return 0;
}

static int get_object(struct walker *w, const cJSON *obj, const char *key, const char *where,
                      const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return shape_error(w, where, key, "a mapping");
    *out = v;
    return 0;
}

void kube_exec_config_free(struct kube_exec_config *e)
{
    if (!e)
        return;
    free(e->api_version);
    free(e->command);
    for (size_t i = 0; i < e->n_args; i++)
        free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->n_env; i++) {
        free(e->env[i].name);
        kube_free_secret(e->env[i].value);
    }
    free(e->env);
    free(e->install_hint);
    free(e);
}

static void free_cluster(struct kube_cluster *c)
{
    free(c->name);
    free(c->source);
    free(c->server);
    free(c->certificate_authority);
    free(c->certificate_authority_data);
    free(c->tls_server_name);
    free(c->proxy_url);
}

static void free_user(struct kube_user *u)
{
    free(u->name);
    free(u->source);
    free(u->client_certificate);
    free(u->client_certificate_data);
    free(u->client_key);
    kube_free_secret(u->client_key_data);
    kube_free_secret(u->token);
    free(u->token_file);
    free(u->username);
    kube_free_secret(u->password);
    kube_exec_config_free(u->exec);
    free(u->auth_provider);
    kube_free_secret(u->auth_provider_id_token);
    free(u->impersonate_user);
    free(u->impersonate_uid);
    for (size_t i = 0; i < u->n_impersonate_groups; i++)
        free(u->impersonate_groups[i]);
    free(u->impersonate_groups);
    for (size_t i = 0; i < u->n_impersonate_extra; i++) {
        free(u->impersonate_extra[i].name);
        free(u->impersonate_extra[i].value);
    }
    free(u->impersonate_extra);
}

static void free_context(struct kube_context *c)
{
    free(c->name);
    free(c->source);
    free(c->cluster);
    free(c->user);
    free(c->namespace);
}

void kube_config_free(struct kube_config *cfg)
{
    for (size_t i = 0; i < cfg->n_clusters; i++)
        free_cluster(&cfg->clusters[i]);
    for (size_t i = 0; i < cfg->n_users; i++)
        free_user(&cfg->users[i]);
    for (size_t i = 0; i < cfg->n_contexts; i++)
        free_context(&cfg->contexts[i]);
    for (size_t i = 0; i < cfg->n_sources; i++)
        free(cfg->sources[i]);
    free(cfg->clusters);
    free(cfg->users);
    free(cfg->contexts);
    free(cfg->sources);
    free(cfg->current_context);
    memset(cfg, 0, sizeof *cfg);
}

static int parse_interactive_mode(struct walker *w, const cJSON *exec, const char *where,
                                  enum kube_interactive_mode *out)
{
    char *mode;
    if (get_string(w, exec, "interactiveMode", where, &mode) < 0)
        return -1;
    *out = KUBE_INTERACTIVE_UNSET;
    if (!mode)
        return 0;
    if (strcmp(mode, "Never") == 0)
        *out = KUBE_INTERACTIVE_NEVER;
    else if (strcmp(mode, "IfAvailable") == 0)
        *out = KUBE_INTERACTIVE_IF_AVAILABLE;
    else if (strcmp(mode, "Always") == 0)
        *out = KUBE_INTERACTIVE_ALWAYS;
    else
        kube_error_set(w->err, KUBE_CONFIG_SHAPE,
                       "%s: %s.interactiveMode: \"%s\" is not Never, IfAvailable or Always",
                       name_of(w), where, mode);
    free(mode);
    return *out == KUBE_INTERACTIVE_UNSET ? -1 : 0;
}

static int parse_exec(struct walker *w, const cJSON *exec, const char *where,
                      struct kube_exec_config **out)
{
    struct kube_exec_config *e = calloc(1, sizeof *e);
    if (!e)
        return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
    *out = e;
    if (get_string(w, exec, "apiVersion", where, &e->api_version) < 0 ||
        get_string(w, exec, "command", where, &e->command) < 0 ||
        get_string(w, exec, "installHint", where, &e->install_hint) < 0 ||
        get_bool(w, exec, "provideClusterInfo", where, &e->provide_cluster_info) < 0 ||
        parse_interactive_mode(w, exec, where, &e->interactive_mode) < 0)
        return -1;
    /* Only a command naming a path is relative to the file; a bare name is
     * looked up in PATH (client-go GetAuthInfoFileReferences). */
    if (e->command && strchr(e->command, '/') && w->dir) {
        char *resolved = kube_path_resolve(w->dir, e->command);
        if (!resolved)
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        free(e->command);
        e->command = resolved;
    }

    const cJSON *args, *env;
    if (get_list(w, exec, "args", where, &args) < 0 || get_list(w, exec, "env", where, &env) < 0)
        return -1;
    if (args) {
        int n = cJSON_GetArraySize(args);
        if (!(e->args = calloc((size_t)n + 1, sizeof *e->args)))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        const cJSON *a;
        cJSON_ArrayForEach(a, args) {
            if (!cJSON_IsString(a))
                return shape_error(w, where, "args[]", "a string");
            if (!(e->args[e->n_args++] = strdup(a->valuestring)))
                return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        }
    }
    if (env) {
        int n = cJSON_GetArraySize(env);
        if (!(e->env = calloc((size_t)n + 1, sizeof *e->env)))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        const cJSON *item;
        cJSON_ArrayForEach(item, env) {
            if (!cJSON_IsObject(item))
                return shape_error(w, where, "env[]", "a mapping");
            struct kube_env_var *v = &e->env[e->n_env++];
            if (get_string(w, item, "name", where, &v->name) < 0 ||
                get_string(w, item, "value", where, &v->value) < 0)
                return -1;
            if (!v->name)
                return shape_error(w, where, "env[].name", "a string");
        }
    }
    return 0;
}

static int parse_cluster(struct walker *w, const cJSON *body, const char *where,
                         struct kube_cluster *c)
{
    return get_string(w, body, "server", where, &c->server) < 0 ||
                   get_path(w, body, "certificate-authority", where, &c->certificate_authority) < 0 ||
                   get_string(w, body, "certificate-authority-data", where,
                              &c->certificate_authority_data) < 0 ||
                   get_bool(w, body, "insecure-skip-tls-verify", where,
                            &c->insecure_skip_tls_verify) < 0 ||
                   get_string(w, body, "tls-server-name", where, &c->tls_server_name) < 0 ||
                   get_string(w, body, "proxy-url", where, &c->proxy_url) < 0 ||
                   get_bool(w, body, "disable-compression", where, &c->disable_compression) < 0
               ? -1
               : 0;
}

/* A list of strings; `out` gets a NULL-terminated array. */
static int get_string_list(struct walker *w, const cJSON *obj, const char *key, const char *where,
                           char ***out, size_t *n)
{
    const cJSON *list;
    if (get_list(w, obj, key, where, &list) < 0)
        return -1;
    if (!list)
        return 0;
    if (!(*out = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof **out)))
        return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        if (!cJSON_IsString(item))
            return shape_error(w, where, key, "a list of strings");
        if (!((*out)[(*n)++] = strdup(item->valuestring)))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
    }
    return 0;
}

/* as-user-extra: a map of lists, flattened to one pair per value. */
static int parse_user_extra(struct walker *w, const cJSON *body, const char *where, struct kube_user *u)
{
    const cJSON *map;
    if (get_object(w, body, "as-user-extra", where, &map) < 0)
        return -1;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, map) {
        const cJSON *value;
        if (cJSON_IsNull(entry))
            continue;
        if (!cJSON_IsArray(entry))
            return shape_error(w, where, "as-user-extra", "a map of lists of strings");
        cJSON_ArrayForEach(value, entry) {
            if (!cJSON_IsString(value))
                return shape_error(w, where, "as-user-extra", "a map of lists of strings");
            struct kube_env_var *grown =
                realloc(u->impersonate_extra, (u->n_impersonate_extra + 1) * sizeof *grown);
            if (!grown)
                return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
            u->impersonate_extra = grown;
            struct kube_env_var *v = &grown[u->n_impersonate_extra++];
            v->name = strdup(entry->string);
            v->value = strdup(value->valuestring);
            if (!v->name || !v->value)
                return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        }
    }
    return 0;
}

static int parse_user(struct walker *w, const cJSON *body, const char *where, struct kube_user *u)
{
    if (get_string(w, body, "as", where, &u->impersonate_user) < 0 ||
        get_string(w, body, "as-uid", where, &u->impersonate_uid) < 0 ||
        get_string_list(w, body, "as-groups", where, &u->impersonate_groups,
                        &u->n_impersonate_groups) < 0 ||
        parse_user_extra(w, body, where, u) < 0)
        return -1;
    if (get_path(w, body, "client-certificate", where, &u->client_certificate) < 0 ||
        get_string(w, body, "client-certificate-data", where, &u->client_certificate_data) < 0 ||
        get_path(w, body, "client-key", where, &u->client_key) < 0 ||
        get_string(w, body, "client-key-data", where, &u->client_key_data) < 0 ||
        get_string(w, body, "token", where, &u->token) < 0 ||
        get_path(w, body, "tokenFile", where, &u->token_file) < 0 ||
        get_string(w, body, "username", where, &u->username) < 0 ||
        get_string(w, body, "password", where, &u->password) < 0)
        return -1;
    const cJSON *exec, *provider;
    if (get_object(w, body, "exec", where, &exec) < 0 ||
        get_object(w, body, "auth-provider", where, &provider) < 0)
        return -1;
    if (exec) {
        char exec_where[300];
        snprintf(exec_where, sizeof exec_where, "%s.exec", where);
        if (parse_exec(w, exec, exec_where, &u->exec) < 0)
            return -1;
    }
    if (provider) {
        if (get_string(w, provider, "name", where, &u->auth_provider) < 0)
            return -1;
        if (!u->auth_provider && !(u->auth_provider = strdup("")))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        const cJSON *config;
        if (get_object(w, provider, "config", where, &config) < 0 ||
            (config && get_string(w, config, "id-token", where, &u->auth_provider_id_token) < 0))
            return -1;
    }
    return 0;
}

static int parse_context(struct walker *w, const cJSON *body, const char *where,
                         struct kube_context *c)
{
    return get_string(w, body, "cluster", where, &c->cluster) < 0 ||
                   get_string(w, body, "user", where, &c->user) < 0 ||
                   get_string(w, body, "namespace", where, &c->namespace) < 0
               ? -1
               : 0;
}

/* Reads one `name: ..., <body_key>: {...}` list into an array of entries of
 * `size` bytes whose first two members are `name` and `source`. */
struct named_entry {
    char *name;
    char *source;
};

typedef int (*parse_body_fn)(struct walker *, const cJSON *, const char *, void *);

static int parse_named_list(struct walker *w, const cJSON *root, const char *list_key,
                            const char *body_key, size_t size, parse_body_fn parse_body,
                            void **items, size_t *n_items)
{
    const cJSON *list;
    if (get_list(w, root, list_key, "", &list) < 0)
        return -1;
    if (!list)
        return 0;
    int n = cJSON_GetArraySize(list);
    char *arr = calloc((size_t)n + 1, size);
    if (!arr)
        return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
    *items = arr;
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        char where[300];
        snprintf(where, sizeof where, "%s[%zu]", list_key, *n_items);
        if (!cJSON_IsObject(item))
            return kube_error_set(w->err, KUBE_CONFIG_SHAPE, "%s: %s: expected a mapping",
                                  name_of(w), where);
        struct named_entry *e = (struct named_entry *)(arr + *n_items * size);
        (*n_items)++;
        if (get_string(w, item, "name", where, &e->name) < 0)
            return -1;
        if (!e->name && !(e->name = strdup("")))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        for (size_t i = 0; i + 1 < *n_items; i++)
            if (strcmp(((struct named_entry *)(arr + i * size))->name, e->name) == 0)
                return kube_error_set(w->err, KUBE_CONFIG_SHAPE,
                                      "%s: %s: duplicate name \"%s\" in %s", name_of(w), where,
                                      e->name, list_key);
        if (w->source && !(e->source = strdup(w->source)))
            return kube_error_set(w->err, KUBE_NO_MEMORY, "out of memory");
        const cJSON *body;
        if (get_object(w, item, body_key, where, &body) < 0)
            return -1;
        snprintf(where + strlen(where), sizeof where - strlen(where), ".%s", body_key);
        if (body && parse_body(w, body, where, e) < 0)
            return -1;
    }
    return 0;
}

static int parse_cluster_entry(struct walker *w, const cJSON *b, const char *where, void *e)
{
    return parse_cluster(w, b, where, e);
}
static int parse_user_entry(struct walker *w, const cJSON *b, const char *where, void *e)
{
    return parse_user(w, b, where, e);
}
static int parse_context_entry(struct walker *w, const cJSON *b, const char *where, void *e)
{
    return parse_context(w, b, where, e);
}

int kube_config_parse(const char *buf, size_t len, const char *source, struct kube_config *out,
                      struct kube_error *err)
{
    memset(out, 0, sizeof *out);
    struct walker w = {.source = source, .err = err};
    if (source) {
        char *dir = kube_path_dir(source);
        if (!dir)
            return kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
        snprintf(w.dir_buf, sizeof w.dir_buf, "%s", dir);
        free(dir);
        w.dir = w.dir_buf;
    }
    char problem[256];
    cJSON *root = kube_yaml_parse(buf, len, problem, sizeof problem);
    if (!root)
        return kube_error_set(err, KUBE_CONFIG_SYNTAX, "%s: %s", name_of(&w), problem);
    int rc = -1;
    if (cJSON_IsNull(root)) {
        rc = 0;
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        kube_error_set(err, KUBE_CONFIG_SHAPE, "%s: expected a mapping at the top", name_of(&w));
        goto done;
    }
    const cJSON *prefs;
    if (parse_named_list(&w, root, "clusters", "cluster", sizeof(struct kube_cluster),
                         parse_cluster_entry, (void **)&out->clusters, &out->n_clusters) < 0 ||
        parse_named_list(&w, root, "users", "user", sizeof(struct kube_user), parse_user_entry,
                         (void **)&out->users, &out->n_users) < 0 ||
        parse_named_list(&w, root, "contexts", "context", sizeof(struct kube_context),
                         parse_context_entry, (void **)&out->contexts, &out->n_contexts) < 0 ||
        get_string(&w, root, "current-context", "", &out->current_context) < 0 ||
        get_object(&w, root, "preferences", "", &prefs) < 0 ||
        (prefs && get_bool(&w, prefs, "colors", "preferences", &out->preferences_colors) < 0))
        goto done;
    if (source) {
        if (!(out->sources = calloc(1, sizeof *out->sources)) ||
            !(out->sources[0] = strdup(source))) {
            kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
            goto done;
        }
        out->n_sources = 1;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc < 0)
        kube_config_free(out);
    return rc;
}

/* Appends the entries of `from` whose names `into` lacks; moves their
 * contents and frees the rest. */
static int merge_named(void **into, size_t *n_into, void **from, size_t *n_from, size_t size,
                       void (*free_entry)(void *))
{
    char *dst = realloc(*into, (*n_into + *n_from + 1) * size);
    if (!dst)
        return -1;
    *into = dst;
    char *src = *from;
    size_t n_existing = *n_into;
    for (size_t i = 0; i < *n_from; i++) {
        struct named_entry *e = (struct named_entry *)(src + i * size);
        bool taken = false;
        for (size_t j = 0; j < n_existing && !taken; j++)
            taken = strcmp(((struct named_entry *)(dst + j * size))->name, e->name) == 0;
        if (taken)
            free_entry(e);
        else
            memcpy(dst + (*n_into)++ * size, e, size);
    }
    free(src);
    *from = NULL;
    *n_from = 0;
    return 0;
}

static void free_cluster_entry(void *e) { free_cluster(e); }
static void free_user_entry(void *e) { free_user(e); }
static void free_context_entry(void *e) { free_context(e); }

int kube_config_merge(struct kube_config *into, struct kube_config *from)
{
    if (merge_named((void **)&into->clusters, &into->n_clusters, (void **)&from->clusters,
                    &from->n_clusters, sizeof(struct kube_cluster), free_cluster_entry) < 0 ||
        merge_named((void **)&into->users, &into->n_users, (void **)&from->users, &from->n_users,
                    sizeof(struct kube_user), free_user_entry) < 0 ||
        merge_named((void **)&into->contexts, &into->n_contexts, (void **)&from->contexts,
                    &from->n_contexts, sizeof(struct kube_context), free_context_entry) < 0)
        return -1;
    if ((!into->current_context || !*into->current_context) && from->current_context &&
        *from->current_context) {
        free(into->current_context);
        into->current_context = from->current_context;
        from->current_context = NULL;
    }
    if (!into->n_sources)
        into->preferences_colors = from->preferences_colors;
    char **s = realloc(into->sources, (into->n_sources + from->n_sources + 1) * sizeof *s);
    if (!s)
        return -1;
    into->sources = s;
    for (size_t i = 0; i < from->n_sources; i++)
        into->sources[into->n_sources++] = from->sources[i];
    from->n_sources = 0;
    kube_config_free(from);
    return 0;
}

const struct kube_context *kube_config_context(const struct kube_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_contexts; i++)
        if (strcmp(cfg->contexts[i].name, name) == 0)
            return &cfg->contexts[i];
    return NULL;
}

const struct kube_cluster *kube_config_cluster(const struct kube_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_clusters; i++)
        if (strcmp(cfg->clusters[i].name, name) == 0)
            return &cfg->clusters[i];
    return NULL;
}

const struct kube_user *kube_config_user(const struct kube_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_users; i++)
        if (strcmp(cfg->users[i].name, name) == 0)
            return &cfg->users[i];
    return NULL;
}

const char *kube_config_sources_text(const struct kube_config *cfg, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < cfg->n_sources && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", cfg->sources[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!cfg->n_sources && len)
        snprintf(buf, len, "the kubeconfig");
    return buf;
}

void kube_load_options_from_env(struct kube_load_options *opts)
{
    opts->kubeconfig_env = getenv("KUBECONFIG");
    opts->home = getenv("HOME");
    opts->service_host = getenv("KUBERNETES_SERVICE_HOST");
    opts->service_port = getenv("KUBERNETES_SERVICE_PORT");
    opts->pod_namespace = getenv("POD_NAMESPACE");
}

static int load_one(const char *path, bool must_exist, struct kube_config *into,
                    struct kube_error *err)
{
    char *data;
    size_t len;
    if (kube_read_file(path, KUBE_MAX_CONFIG_BYTES, &data, &len) < 0) {
        if (!must_exist && errno == ENOENT)
            return 0;
        if (errno == EFBIG)
            return kube_error_set(err, KUBE_CONFIG_READ, "%s: larger than %d MB, not a kubeconfig", path,
                                  KUBE_MAX_CONFIG_BYTES >> 20);
        return kube_error_set(err, KUBE_CONFIG_READ, "%s: %s", path, strerror(errno));
    }
    struct kube_config one;
    int rc = kube_config_parse(data, len, path, &one, err);
    free(data);
    if (rc < 0)
        return -1;
    if (kube_config_merge(into, &one) < 0) {
        kube_config_free(&one);
        return kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
    }
    return 0;
}

int kube_config_load(const struct kube_load_options *opts, struct kube_config *out,
                     struct kube_error *err)
{
    memset(out, 0, sizeof *out);
    if (opts->kubeconfig_flag && *opts->kubeconfig_flag)
        return load_one(opts->kubeconfig_flag, true, out, err);

    if (opts->kubeconfig_env && *opts->kubeconfig_env) {
        char *list = strdup(opts->kubeconfig_env);
        if (!list)
            return kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
        char *save = NULL;
        int rc = 0;
        for (char *path = strtok_r(list, ":", &save); path && rc == 0;
             path = strtok_r(NULL, ":", &save)) {
            bool seen = false; /* kubectl reads a file listed twice once */
            for (size_t i = 0; i < out->n_sources && !seen; i++)
                seen = strcmp(out->sources[i], path) == 0;
            if (!seen)
                rc = load_one(path, false, out, err);
        }
        free(list);
        if (rc < 0)
            kube_config_free(out);
        return rc;
    }

    if (opts->home && *opts->home) {
        char path[4096];
        snprintf(path, sizeof path, "%s/.kube/config", opts->home);
        return load_one(path, false, out, err);
    }
    return 0;
}
