#include "kube_auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../stats/text.h"
#include "kube_util.h"

extern char **environ;

#define EXEC_API_V1 "client.authentication.k8s.io/v1"
#define EXEC_API_V1BETA1 "client.authentication.k8s.io/v1beta1"
enum { EXEC_OUTPUT_MAX = 1 << 20, EXEC_STDERR_KEEP = 4096, EXEC_DEFAULT_TIMEOUT_S = 60 };

static void drop_exec_cache(struct kube_connection *c)
{
    kube_free_secret(c->exec_token);
    if (c->exec_key)
        explicit_bzero(c->exec_key, c->exec_key_len);
    free(c->exec_cert);
    free(c->exec_key);
    c->exec_token = NULL;
    c->exec_cert = c->exec_key = NULL;
    c->exec_cert_len = c->exec_key_len = 0;
    c->exec_cached = false;
    c->exec_expiry = 0;
}


/* A deep copy, or NULL when out of memory. */
static struct kube_exec_config *copy_exec(const struct kube_exec_config *e)
{
    struct kube_exec_config *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->provide_cluster_info = e->provide_cluster_info;
    d->interactive_mode = e->interactive_mode;
    d->args = calloc(e->n_args + 1, sizeof *d->args);
    d->env = calloc(e->n_env + 1, sizeof *d->env);
    d->api_version = kube_strdup(e->api_version);
    d->command = kube_strdup(e->command);
    d->install_hint = kube_strdup(e->install_hint);
    bool ok = d->args && d->env && (d->api_version || !e->api_version) &&
              (d->command || !e->command) && (d->install_hint || !e->install_hint);
    for (size_t i = 0; ok && i < e->n_args; i++)
        ok = (d->args[d->n_args++] = kube_strdup(e->args[i])) != NULL;
    for (size_t i = 0; ok && i < e->n_env; i++) {
        struct kube_env_var *v = &d->env[d->n_env++];
        v->name = kube_strdup(e->env[i].name);
        v->value = kube_strdup(e->env[i].value ? e->env[i].value : "");
        ok = v->name && v->value;
    }
    if (!ok) {
        kube_exec_config_free(d);
        return NULL;
    }
    return d;
}

void kube_connection_free(struct kube_connection *c)
{
    drop_exec_cache(c);
    free(c->context);
    free(c->source);
    free(c->namespace);
    free(c->server);
    free(c->cluster_name);
    free(c->user_name);
    free(c->ca_file);
    free(c->ca_data);
    free(c->warning);
    free(c->tls_server_name);
    free(c->proxy_url);
    free(c->cert_file);
    free(c->key_file);
    free(c->cert_data);
    if (c->key_data)
        explicit_bzero(c->key_data, c->key_len);
    free(c->key_data);
    kube_free_secret(c->token);
    free(c->token_file);
    free(c->username);
    kube_free_secret(c->password);
    kube_free_secret(c->token_file_value);
    for (size_t i = 0; c->impersonate_headers && c->impersonate_headers[i]; i++)
        free(c->impersonate_headers[i]);
    free(c->impersonate_headers);
    kube_exec_config_free(c->exec);
    memset(c, 0, sizeof *c);
}

/* Decodes a *-data field. Like kubectl, data that holds no PEM block is
 * refused here, with the field named, rather than as a TLS failure later. */
static int decode_field(const char *b64, const char *what, const char *owner, const char *source,
                        unsigned char **out, size_t *out_len, struct kube_error *err)
{
    if (!b64)
        return 0;
    *out = kube_base64_decode(b64, strlen(b64), out_len);
    if (!*out)
        return kube_error_set(err, KUBE_BAD_BASE64, "%s: %s of \"%s\" is not valid base64",
                              source ? source : "kubeconfig", what, owner);
    if (!memmem(*out, *out_len, "-----BEGIN ", 11))
        return kube_error_set(err, KUBE_BAD_PEM, "%s: %s of \"%s\" holds no PEM block",
                              source ? source : "kubeconfig", what, owner);
    return 0;
}

/* kubectl checks that certificate and key files can be read before use. */
static int check_readable(const char *path, const char *what, const char *owner, const char *source,
                          struct kube_error *err)
{
    if (!path || access(path, R_OK) == 0)
        return 0;
    return kube_error_set(err, KUBE_CERT_FILE, "%s: unable to read %s %s of \"%s\": %s",
                          source ? source : "kubeconfig", what, path, owner, strerror(errno));
}

/* Header names allow only these besides letters and digits (RFC 7230
 * tchar); client-go percent-encodes the rest of an extra's key. */
static void append_header_key(struct kube_buf *b, const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
        if ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
            (*k && strchr("!#$&'*+-.^_`|~", *k))) {
            kube_buf_append(b, k, 1);
        } else {
            char esc[3] = {'%', hex[*k >> 4], hex[*k & 15]};
            kube_buf_append(b, esc, 3);
        }
    }
}

static int add_header(char ***list, size_t *n, const char *name, const char *extra_key,
                      const char *value)
{
    if (strpbrk(value, "\r\n"))
        return -2; /* a line break would start another header */
    struct kube_buf b = {0};
    kube_buf_printf(&b, "%s", name);
    if (extra_key)
        append_header_key(&b, extra_key);
    kube_buf_printf(&b, ": %s", value);
    char **grown = realloc(*list, (*n + 2) * sizeof *grown);
    if (!b.data || !grown) {
        kube_buf_free(&b);
        if (grown)
            *list = grown;
        return -1;
    }
    *list = grown;
    grown[(*n)++] = b.data;
    grown[*n] = NULL;
    return 0;
}

/* The Impersonate-* headers of a user, as client-go sends them. */
static int impersonation_headers(const struct kube_user *u, const char *source,
                                 struct kube_connection *out, struct kube_error *err)
{
    if (!u->impersonate_user && (u->impersonate_uid || u->n_impersonate_groups || u->n_impersonate_extra))
        return kube_error_set(err, KUBE_CONFIG_SHAPE,
                              "user \"%s\" in %s: as-uid, as-groups and as-user-extra need as",
                              u->name, source);
    size_t n = 0;
    int rc = 0;
    if (u->impersonate_user)
        rc = add_header(&out->impersonate_headers, &n, "Impersonate-User", NULL, u->impersonate_user);
    if (rc == 0 && u->impersonate_uid)
        rc = add_header(&out->impersonate_headers, &n, "Impersonate-Uid", NULL, u->impersonate_uid);
    for (size_t i = 0; rc == 0 && i < u->n_impersonate_groups; i++)
        rc = add_header(&out->impersonate_headers, &n, "Impersonate-Group", NULL,
                        u->impersonate_groups[i]);
    for (size_t i = 0; rc == 0 && i < u->n_impersonate_extra; i++)
        rc = add_header(&out->impersonate_headers, &n, "Impersonate-Extra-",
                        u->impersonate_extra[i].name, u->impersonate_extra[i].value);
    if (rc == -2)
        return kube_error_set(err, KUBE_CONFIG_SHAPE,
                              "user \"%s\" in %s: an impersonation value holds a line break",
                              u->name, source);
    return rc < 0 ? kube_error_set(err, KUBE_NO_MEMORY, "out of memory") : 0;
}

static bool has_credentials(const struct kube_user *u)
{
    return u->token || u->token_file || u->username || u->password || u->exec ||
           u->client_certificate || u->client_certificate_data || u->client_key ||
           u->client_key_data || u->auth_provider_id_token;
}

int kube_connection_from_config(const struct kube_config *cfg, const char *context_name,
                                const char *namespace_flag, struct kube_connection *out,
                                struct kube_error *err)
{
    memset(out, 0, sizeof *out);
    char files[1024];
    kube_config_sources_text(cfg, files, sizeof files);
    if (!context_name || !*context_name)
        context_name = cfg->current_context;
    if (!context_name || !*context_name)
        return kube_error_set(err, KUBE_NO_CURRENT_CONTEXT,
                              "no current context is set in %s; use --context", files);
    const struct kube_context *ctx = kube_config_context(cfg, context_name);
    if (!ctx)
        return kube_error_set(err, KUBE_CONTEXT_NOT_FOUND, "context \"%s\" not found in %s",
                              context_name, files);
    const char *src = ctx->source ? ctx->source : files;
    const struct kube_cluster *cl = kube_config_cluster(cfg, ctx->cluster);
    if (!cl)
        return kube_error_set(err, KUBE_CLUSTER_NOT_FOUND,
                              "cluster \"%s\" of context \"%s\" not found in %s",
                              ctx->cluster ? ctx->cluster : "", context_name, files);
    const struct kube_user *user = NULL;
    if (ctx->user && *ctx->user) {
        user = kube_config_user(cfg, ctx->user);
        if (!user)
            return kube_error_set(err, KUBE_USER_NOT_FOUND,
                                  "user \"%s\" of context \"%s\" not found in %s", ctx->user,
                                  context_name, files);
        if (user->auth_provider && strcmp(user->auth_provider, "oidc") != 0)
            return kube_error_set(err, KUBE_AUTH_PROVIDER,
                                  "user \"%s\" in %s uses auth-provider \"%s\", removed from "
                                  "kubectl; switch to its exec credential plugin",
                                  user->name, user->source ? user->source : files,
                                  user->auth_provider);
        if (user->auth_provider && !user->auth_provider_id_token)
            return kube_error_set(err, KUBE_NO_CREDENTIALS,
                                  "user \"%s\" in %s: the oidc auth-provider has no id-token; "
                                  "log in again",
                                  user->name, user->source ? user->source : files);
        if (!has_credentials(user))
            return kube_error_set(err, KUBE_NO_CREDENTIALS, "user \"%s\" has no credentials in %s",
                                  user->name, user->source ? user->source : files);
        if ((user->token || user->token_file) && (user->username || user->password))
            return kube_error_set(err, KUBE_CONFIG_SHAPE,
                                  "user \"%s\" in %s: more than one authentication method "
                                  "(token and basic auth); only one is allowed",
                                  user->name, user->source ? user->source : files);
    }
    if (!cl->server || !*cl->server)
        return kube_error_set(err, KUBE_NO_SERVER, "cluster \"%s\" has no server in %s", cl->name,
                              cl->source ? cl->source : files);

    size_t server_len = strlen(cl->server);
    while (server_len > 1 && cl->server[server_len - 1] == '/')
        server_len--;
    out->context = kube_strdup(context_name);
    out->source = kube_strdup(src);
    out->namespace = kube_strdup(namespace_flag && *namespace_flag ? namespace_flag
                                 : ctx->namespace && *ctx->namespace ? ctx->namespace
                                                                     : "default");
    out->server = kube_strndup(cl->server, server_len);
    out->cluster_name = kube_strdup(cl->name);
    out->user_name = kube_strdup(ctx->user ? ctx->user : "");
    out->ca_file = kube_strdup(cl->certificate_authority);
    out->insecure_skip_tls_verify = cl->insecure_skip_tls_verify;
    out->tls_server_name = kube_strdup(cl->tls_server_name);
    out->proxy_url = kube_strdup(cl->proxy_url);
    out->disable_compression = cl->disable_compression;
    out->stdin_is_terminal = isatty(STDIN_FILENO);
    out->exec_timeout_seconds = EXEC_DEFAULT_TIMEOUT_S;
    if (!out->context || !out->source || !out->namespace || !out->server || !out->cluster_name ||
        !out->user_name)
        goto oom;
    if (decode_field(cl->certificate_authority_data, "certificate-authority-data", cl->name,
                     cl->source, &out->ca_data, &out->ca_len, err) < 0 ||
        check_readable(cl->certificate_authority, "certificate-authority", cl->name, cl->source,
                       err) < 0)
        goto fail;
    if (out->insecure_skip_tls_verify) {
        /* kubectl refuses a CA together with insecure; we follow it. */
        if (out->ca_file || out->ca_data) {
            kube_error_set(err, KUBE_CONFIG_SHAPE,
                           "cluster \"%s\" in %s: specifying a root certificate file with the "
                           "insecure flag is not allowed",
                           cl->name, cl->source ? cl->source : files);
            goto fail;
        }
        if (asprintf(&out->warning,
                     "insecure-skip-tls-verify is set for cluster \"%s\": the API server's "
                     "certificate is not checked",
                     cl->name) < 0) {
            out->warning = NULL;
            goto oom;
        }
    }
    if (user) {
        out->cert_file = kube_strdup(user->client_certificate);
        out->key_file = kube_strdup(user->client_key);
        out->token = kube_strdup(user->token ? user->token : user->auth_provider_id_token);
        out->token_file = kube_strdup(user->token_file);
        out->username = kube_strdup(user->username);
        out->password = kube_strdup(user->password);
        if ((user->client_certificate && !out->cert_file) || (user->client_key && !out->key_file) ||
            ((user->token || user->auth_provider_id_token) && !out->token) || (user->token_file && !out->token_file) ||
            (user->username && !out->username) || (user->password && !out->password))
            goto oom;
        if (decode_field(user->client_certificate_data, "client-certificate-data", user->name,
                         user->source, &out->cert_data, &out->cert_len, err) < 0 ||
            decode_field(user->client_key_data, "client-key-data", user->name, user->source,
                         &out->key_data, &out->key_len, err) < 0 ||
            check_readable(user->client_certificate, "client-certificate", user->name,
                           user->source, err) < 0 ||
            check_readable(user->client_key, "client-key", user->name, user->source, err) < 0)
            goto fail;
        if (impersonation_headers(user, user->source ? user->source : files, out, err) < 0)
            goto fail;
        if (user->exec) {
            if (!user->exec->command || !*user->exec->command) {
                kube_error_set(err, KUBE_CONFIG_SHAPE, "user \"%s\" in %s: exec has no command",
                               user->name, user->source ? user->source : files);
                goto fail;
            }
            if (!(out->exec = copy_exec(user->exec)))
                goto oom;
        }
    }
    return 0;
oom:
    kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
fail:
    kube_connection_free(out);
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A file's contents without surrounding whitespace, as client-go trims tokens. */
static char *read_trimmed(const char *path)
{
    char *data;
    size_t len;
    if (kube_read_file(path, KUBE_MAX_TOKEN_BYTES, &data, &len) < 0)
        return NULL;
    size_t start = 0;
    while (start < len && is_space(data[start]))
        start++;
    while (len > start && is_space(data[len - 1]))
        len--;
    memmove(data, data + start, len - start);
    data[len - start] = '\0';
    return data;
}

int kube_connection_in_cluster(const struct kube_load_options *opts, struct kube_connection *out,
                               struct kube_error *err)
{
    memset(out, 0, sizeof *out);
    const char *root = opts->in_cluster_root ? opts->in_cluster_root : KUBE_IN_CLUSTER_ROOT;
    if (!opts->service_host || !*opts->service_host || !opts->service_port ||
        !*opts->service_port)
        return kube_error_set(err, KUBE_NO_CONFIG,
                              "unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST "
                              "and KUBERNETES_SERVICE_PORT must be defined");
    char token_path[4096], ca_path[4096], ns_path[4096];
    snprintf(token_path, sizeof token_path, "%s/token", root);
    snprintf(ca_path, sizeof ca_path, "%s/ca.crt", root);
    snprintf(ns_path, sizeof ns_path, "%s/namespace", root);
    if (access(token_path, R_OK) != 0)
        return kube_error_set(err, KUBE_TOKEN_FILE,
                              "in-cluster: cannot read service account token %s: %s", token_path,
                              strerror(errno));
    bool ipv6 = strchr(opts->service_host, ':') != NULL;
    /* client-go's order: the flag, POD_NAMESPACE, the service account's namespace. */
    char *ns_file = read_trimmed(ns_path);
    const char *ns = opts->namespace_flag && *opts->namespace_flag ? opts->namespace_flag
                     : opts->pod_namespace && *opts->pod_namespace ? opts->pod_namespace
                     : ns_file && *ns_file                         ? ns_file
                                                                   : "default";
    int n = asprintf(&out->server, "https://%s%s%s:%s", ipv6 ? "[" : "", opts->service_host,
                     ipv6 ? "]" : "", opts->service_port);
    if (n < 0)
        out->server = NULL;
    out->context = strdup("");
    out->source = strdup("in-cluster");
    out->namespace = strdup(ns);
    out->cluster_name = strdup("in-cluster");
    out->user_name = strdup("service-account");
    out->token_file = strdup(token_path);
    out->ca_file = access(ca_path, R_OK) == 0 ? strdup(ca_path) : NULL;
    out->exec_timeout_seconds = EXEC_DEFAULT_TIMEOUT_S;
    free(ns_file);
    if (!out->server || !out->context || !out->source || !out->namespace || !out->cluster_name ||
        !out->user_name || !out->token_file) {
        kube_connection_free(out);
        return kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
    }
    return 0;
}

int kube_connection_load(const struct kube_load_options *opts, struct kube_connection *out,
                         struct kube_error *err)
{
    struct kube_config cfg;
    if (kube_config_load(opts, &cfg, err) < 0)
        return -1;
    bool empty = !cfg.n_clusters && !cfg.n_contexts && !cfg.n_users &&
                 !(cfg.current_context && *cfg.current_context);
    int rc;
    if (empty && !(opts->kubeconfig_flag && *opts->kubeconfig_flag) && opts->service_host &&
        *opts->service_host) {
        rc = kube_connection_in_cluster(opts, out, err);
    } else if (empty && !(opts->kubeconfig_flag && *opts->kubeconfig_flag)) {
        rc = kube_error_set(err, KUBE_NO_CONFIG,
                            "no configuration has been provided: use --kubeconfig, set "
                            "KUBECONFIG, create ~/.kube/config, or run inside a pod");
    } else {
        rc = kube_connection_from_config(&cfg, opts->context_flag, opts->namespace_flag, out, err);
    }
    kube_config_free(&cfg);
    return rc;
}

/* --- token file ---------------------------------------------------------- */

static int refresh_token_file(struct kube_connection *c, struct kube_error *err)
{
    struct stat st;
    if (stat(c->token_file, &st) == 0 && c->token_file_value &&
        st.st_mtim.tv_sec == c->token_file_mtime && st.st_mtim.tv_nsec == c->token_file_mtime_ns)
        return 0;
    char *value = read_trimmed(c->token_file);
    if (!value || !*value) {
        const char *why = value ? "file is empty" : errno == EFBIG ? "larger than 1 MB, not a token" : strerror(errno);
        free(value);
        /* A rotation in progress may leave the file briefly unreadable or
         * empty: keep the last good token, as client-go does. */
        if (c->token_file_value)
            return 0;
        return kube_error_set(err, KUBE_TOKEN_FILE, "cannot read token file %s: %s",
                              c->token_file, why);
    }
    kube_free_secret(c->token_file_value);
    c->token_file_value = value;
    if (stat(c->token_file, &st) == 0) {
        c->token_file_mtime = st.st_mtim.tv_sec;
        c->token_file_mtime_ns = st.st_mtim.tv_nsec;
    }
    return 0;
}

/* --- exec credential plugins ---------------------------------------------- */

static char *exec_info_json(const struct kube_connection *c, bool interactive)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *spec = cJSON_AddObjectToObject(root, "spec");
    cJSON_AddStringToObject(root, "apiVersion", c->exec->api_version);
    cJSON_AddStringToObject(root, "kind", "ExecCredential");
    cJSON_AddBoolToObject(spec, "interactive", interactive);
    if (c->exec->provide_cluster_info) {
        cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
        cJSON_AddStringToObject(cl, "server", c->server);
        if (c->tls_server_name)
            cJSON_AddStringToObject(cl, "tls-server-name", c->tls_server_name);
        if (c->insecure_skip_tls_verify)
            cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", true);
        unsigned char *ca = c->ca_data;
        size_t ca_len = c->ca_len;
        char *ca_from_file = NULL;
        if (!ca && c->ca_file && kube_read_file(c->ca_file, KUBE_MAX_CONFIG_BYTES, &ca_from_file, &ca_len) == 0)
            ca = (unsigned char *)ca_from_file;
        char *ca_b64 = ca ? kube_base64_encode(ca, ca_len) : NULL;
        if (ca_b64)
            cJSON_AddStringToObject(cl, "certificate-authority-data", ca_b64);
        free(ca_b64);
        free(ca_from_file);
        if (c->proxy_url)
            cJSON_AddStringToObject(cl, "proxy-url", c->proxy_url);
        if (c->disable_compression)
            cJSON_AddBoolToObject(cl, "disable-compression", true);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* The environment of the plugin: ours, then the kubeconfig's env entries
 * (overriding), then KUBERNETES_EXEC_INFO. */
static char **exec_environment(const struct kube_exec_config *e, const char *info)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + e->n_env + 2, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = name_len == strlen("KUBERNETES_EXEC_INFO") &&
                          strncmp(environ[i], "KUBERNETES_EXEC_INFO", name_len) == 0;
        for (size_t j = 0; j < e->n_env && !overridden; j++)
            overridden = strlen(e->env[j].name) == name_len &&
                         strncmp(environ[i], e->env[j].name, name_len) == 0;
        if (!overridden)
            envp[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < e->n_env; j++)
        if (asprintf(&envp[k++], "%s=%s", e->env[j].name, e->env[j].value) < 0)
            envp[k - 1] = NULL;
    if (asprintf(&envp[k++], "KUBERNETES_EXEC_INFO=%s", info) < 0)
        envp[k - 1] = NULL;
    for (size_t i = 0; i < k; i++)
        if (!envp[i]) {
            for (size_t j = 0; j < k; j++)
                kube_free_secret(envp[j]);
            free(envp);
            return NULL;
        }
    return envp;
}

static void free_environment(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        kube_free_secret(envp[i]);
    free(envp);
}

struct kube_exec_run {
    pid_t pid; /* -1 when it never started */
    bool own_group; /* the plugin leads a process group of its own */
    bool flooded;   /* printed more than EXEC_OUTPUT_MAX and was killed */
    int out_fd, err_fd, status_fd; /* -1 once closed */
    struct kube_buf out, err;
    int exec_errno; /* non-zero when the command could not be started */
    size_t out_total, err_total; /* bytes read, kept or not */
    int status;
    bool reaped, timed_out, killed;
    long long deadline_ms;
};

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Forks the plugin with its stdout and stderr on non-blocking pipes. A
 * failure before the plugin runs is recorded in run->exec_errno. */
static void spawn_plugin(const struct kube_connection *c, char **envp, bool interactive,
                         struct kube_exec_run *run)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1};
    char **argv = calloc(c->exec->n_args + 2, sizeof *argv);
    if (!argv || pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
        pipe2(status_pipe, O_CLOEXEC) < 0) {
        run->exec_errno = argv ? errno : ENOMEM;
        for (int i = 0; i < 2; i++) {
            close_fd(&out_pipe[i]);
            close_fd(&err_pipe[i]);
            close_fd(&status_pipe[i]);
        }
        free(argv);
        return;
    }
    argv[0] = c->exec->command;
    for (size_t i = 0; i < c->exec->n_args; i++)
        argv[i + 1] = c->exec->args[i];

    /* Its own process group, so that a timeout kills what it started too
     * (a shell script's children); an interactive plugin stays in ours,
     * where it may read the terminal. */
    run->own_group = !interactive;
    pid_t pid = fork();
    if (pid == 0) {
        if (!interactive)
            setpgid(0, 0);
        dup2(out_pipe[1], STDOUT_FILENO);
        if (!interactive) {
            dup2(err_pipe[1], STDERR_FILENO);
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull >= 0)
                dup2(devnull, STDIN_FILENO);
        }
        execvpe(argv[0], argv, envp);
        int e = errno;
        ssize_t w = write(status_pipe[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    free(argv);
    if (pid > 0 && run->own_group)
        setpgid(pid, pid); /* also here: whichever runs first */
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    close_fd(&status_pipe[1]);
    if (pid < 0) {
        run->exec_errno = errno;
        close_fd(&out_pipe[0]);
        close_fd(&err_pipe[0]);
        close_fd(&status_pipe[0]);
        return;
    }
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    run->pid = pid;
    run->out_fd = out_pipe[0];
    run->err_fd = err_pipe[0];
    run->status_fd = status_pipe[0];
}

int kube_exec_pollfds(const struct kube_exec_run *run, struct pollfd *fds, int max)
{
    int n = 0;
    if (run->out_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = run->out_fd, .events = POLLIN};
    if (run->err_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = run->err_fd, .events = POLLIN};
    return n;
}

bool kube_exec_owns_fd(const struct kube_exec_run *run, int fd)
{
    return fd >= 0 && (fd == run->out_fd || fd == run->err_fd);
}

int kube_exec_timeout_ms(const struct kube_exec_run *run)
{
    long long left = run->deadline_ms - monotonic_ms();
    /* Output closed but the process not yet gone: look again soon. */
    if (run->out_fd < 0 && run->err_fd < 0 && left > 10)
        left = 10;
    return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

/* Reads what is there; false once the stream has carried more than
 * EXEC_OUTPUT_MAX bytes (only the first `keep` are kept). */
static bool drain(int *fd, struct kube_buf *b, size_t keep, size_t *total)
{
    while (*fd >= 0) {
        char chunk[4096];
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            close_fd(fd);
            return true;
        }
        if (b->len < keep)
            kube_buf_append(b, chunk, (size_t)n < keep - b->len ? (size_t)n : keep - b->len);
        *total += (size_t)n;
        if (*total > EXEC_OUTPUT_MAX)
            return false;
    }
    return true;
}

static void kill_plugin(struct kube_exec_run *run)
{
    kill(run->own_group ? -run->pid : run->pid, SIGKILL);
}

bool kube_exec_advance(struct kube_exec_run *run)
{
    if (run->reaped)
        return true;
    /* Endless output ends the run at once rather than at the timeout. */
    if (!drain(&run->out_fd, &run->out, EXEC_OUTPUT_MAX, &run->out_total) ||
        !drain(&run->err_fd, &run->err, EXEC_STDERR_KEEP, &run->err_total)) {
        run->flooded = true;
        close_fd(&run->out_fd);
        close_fd(&run->err_fd);
    }
    if (run->pid < 0) {
        run->reaped = true;
        return true;
    }
    if (!run->killed && (run->flooded || monotonic_ms() >= run->deadline_ms)) {
        run->timed_out = !run->flooded;
        run->killed = true;
        kill_plugin(run);
    }
    int flags = run->killed ? 0 : WNOHANG;
    pid_t got;
    while ((got = waitpid(run->pid, &run->status, flags)) < 0 && errno == EINTR)
        ;
    if (got == run->pid || got < 0) {
        run->reaped = true;
        /* What it wrote just before exiting is still in the pipes. */
        if (!drain(&run->out_fd, &run->out, EXEC_OUTPUT_MAX, &run->out_total) ||
            !drain(&run->err_fd, &run->err, EXEC_STDERR_KEEP, &run->err_total))
            run->flooded = true;
        close_fd(&run->out_fd);
        close_fd(&run->err_fd);
        int e;
        if (run->status_fd >= 0 && read(run->status_fd, &e, sizeof e) == (ssize_t)sizeof e)
            run->exec_errno = e;
        close_fd(&run->status_fd);
    }
    return run->reaped;
}

static void free_run(struct kube_exec_run *run)
{
    close_fd(&run->out_fd);
    close_fd(&run->err_fd);
    close_fd(&run->status_fd);
    if (run->out.data)
        explicit_bzero(run->out.data, run->out.len);
    kube_buf_free(&run->out);
    kube_buf_free(&run->err);
    free(run);
}

void kube_exec_abort(struct kube_exec_run *run)
{
    if (!run)
        return;
    if (run->pid > 0 && !run->reaped) {
        kill_plugin(run);
        while (waitpid(run->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free_run(run);
}

/* The first line of the plugin's stderr, for the error message of a
 * failed run only, shown as text: escapes visible, bidi controls gone.
 * Stderr of a run that succeeded is never shown. */
static void first_line(struct kube_buf *b, char *out, size_t size)
{
    const char *text = b->data ? b->data : "";
    size_t len = strcspn(text, "\r\n");
    text_sanitize(text, len < 200 ? len : 200, 0, out, size);
}

static int parse_exec_credential(struct kube_connection *c, const char *text, size_t len,
                                 struct kube_error *err)
{
    const char *cmd = c->exec->command;
    cJSON *root = cJSON_ParseWithLength(text, len);
    cJSON *token = NULL, *key = NULL;
    int rc = -1;
    if (!root || !cJSON_IsObject(root)) {
        kube_error_set(err, KUBE_EXEC_OUTPUT, "exec plugin \"%s\": output is not JSON", cmd);
        goto done;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "ExecCredential") != 0) {
        kube_error_set(err, KUBE_EXEC_OUTPUT, "exec plugin \"%s\": output kind is not ExecCredential",
                       cmd);
        goto done;
    }
    if (!cJSON_IsString(api) || strcmp(api->valuestring, c->exec->api_version) != 0) {
        kube_error_set(err, KUBE_EXEC_OUTPUT,
                       "exec plugin \"%s\" is configured to use API version %s, plugin returned "
                       "version %s",
                       cmd, c->exec->api_version, cJSON_IsString(api) ? api->valuestring : "(none)");
        goto done;
    }
    if (!cJSON_IsObject(status)) {
        kube_error_set(err, KUBE_EXEC_OUTPUT, "exec plugin \"%s\" didn't return a status field", cmd);
        goto done;
    }
    token = cJSON_GetObjectItemCaseSensitive(status, "token");
    key = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
    const cJSON *cert = cJSON_GetObjectItemCaseSensitive(status, "clientCertificateData");
    const cJSON *expiry = cJSON_GetObjectItemCaseSensitive(status, "expirationTimestamp");
    bool has_token = cJSON_IsString(token) && *token->valuestring;
    bool has_cert = cJSON_IsString(cert) && *cert->valuestring;
    bool has_key = cJSON_IsString(key) && *key->valuestring;
    if (has_cert != has_key) {
        kube_error_set(err, KUBE_EXEC_OUTPUT,
                       "exec plugin \"%s\" returned only certificate or key, not both", cmd);
        goto done;
    }
    if (!has_token && !has_cert) {
        kube_error_set(err, KUBE_EXEC_OUTPUT,
                       "exec plugin \"%s\" didn't return a token or cert/key pair", cmd);
        goto done;
    }
    struct timespec expires = {0};
    if (expiry && !cJSON_IsNull(expiry) &&
        (!cJSON_IsString(expiry) || !kube_parse_rfc3339(expiry->valuestring, strlen(expiry->valuestring), &expires))) {
        kube_error_set(err, KUBE_EXEC_OUTPUT,
                       "exec plugin \"%s\": expirationTimestamp is not an RFC 3339 time", cmd);
        goto done;
    }
    drop_exec_cache(c);
    if (has_token && !(c->exec_token = strdup(token->valuestring)))
        goto oom;
    if (has_cert) {
        c->exec_cert_len = strlen(cert->valuestring);
        c->exec_key_len = strlen(key->valuestring);
        c->exec_cert = (unsigned char *)strdup(cert->valuestring);
        c->exec_key = (unsigned char *)strdup(key->valuestring);
        if (!c->exec_cert || !c->exec_key)
            goto oom;
    }
    c->exec_expiry = expires.tv_sec;
    c->exec_cached = true;
    rc = 0;
    goto done;
oom:
    drop_exec_cache(c);
    kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
done:
    /* The parsed copies are freed below; wipe the secrets first. */
    if (token && cJSON_IsString(token))
        explicit_bzero(token->valuestring, strlen(token->valuestring));
    if (key && cJSON_IsString(key))
        explicit_bzero(key->valuestring, strlen(key->valuestring));
    cJSON_Delete(root);
    return rc;
}

int kube_exec_start(struct kube_connection *c, struct kube_exec_run **out, struct kube_error *err)
{
    const struct kube_exec_config *e = c->exec;
    const char *cmd = e->command;
    *out = NULL;
    if (!e->api_version ||
        (strcmp(e->api_version, EXEC_API_V1) != 0 && strcmp(e->api_version, EXEC_API_V1BETA1) != 0))
        return kube_error_set(err, KUBE_EXEC_API_VERSION,
                              "exec plugin \"%s\": apiVersion \"%s\" is not supported; use %s or "
                              "%s (update the plugin or regenerate the kubeconfig)",
                              cmd, e->api_version ? e->api_version : "", EXEC_API_V1,
                              EXEC_API_V1BETA1);
    enum kube_interactive_mode mode = e->interactive_mode;
    if (mode == KUBE_INTERACTIVE_UNSET) {
        if (strcmp(e->api_version, EXEC_API_V1) == 0)
            return kube_error_set(err, KUBE_CONFIG_SHAPE,
                                  "interactiveMode must be specified for %s to use exec "
                                  "authentication plugin",
                                  c->user_name);
        mode = KUBE_INTERACTIVE_IF_AVAILABLE;
    }
    if (mode == KUBE_INTERACTIVE_ALWAYS && !c->stdin_is_terminal)
        return kube_error_set(err, KUBE_EXEC_INTERACTIVE,
                              "exec plugin \"%s\" has interactiveMode Always but standard input "
                              "is not a terminal",
                              cmd);
    bool interactive = mode != KUBE_INTERACTIVE_NEVER && c->stdin_is_terminal;

    struct kube_exec_run *run = calloc(1, sizeof *run);
    char *info = run ? exec_info_json(c, interactive) : NULL;
    char **envp = info ? exec_environment(e, info) : NULL;
    free(info);
    if (!envp) {
        free(run);
        return kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
    }
    run->pid = -1;
    run->out_fd = run->err_fd = run->status_fd = -1;
    run->deadline_ms = monotonic_ms() + c->exec_timeout_seconds * 1000LL;
    spawn_plugin(c, envp, interactive, run);
    free_environment(envp);
    c->exec_runs++;
    *out = run;
    return 0;
}

int kube_exec_finish(struct kube_connection *c, struct kube_exec_run *run, struct kube_error *err)
{
    const struct kube_exec_config *e = c->exec;
    const char *cmd = e->command;
    int rc;
    if (run->exec_errno == ENOENT)
        rc = kube_error_set(err, KUBE_EXEC_NOT_FOUND, "exec plugin: executable \"%s\" not found%s%s",
                            cmd, e->install_hint ? ": " : "",
                            e->install_hint ? e->install_hint : "");
    else if (run->exec_errno)
        rc = kube_error_set(err, KUBE_EXEC_FAILED, "exec plugin \"%s\" could not start: %s", cmd,
                            strerror(run->exec_errno));
    else if (run->flooded)
        rc = kube_error_set(err, KUBE_EXEC_FAILED,
                            "exec plugin \"%s\" printed more than %d KB and was killed (with what it started)",
                            cmd, EXEC_OUTPUT_MAX >> 10);
    else if (run->timed_out)
        rc = kube_error_set(err, KUBE_EXEC_FAILED,
                            "exec plugin \"%s\" took over %d s and was killed (with what it started)", cmd,
                            c->exec_timeout_seconds);
    else if (!WIFEXITED(run->status) || WEXITSTATUS(run->status) != 0) {
        char line[1024];
        first_line(&run->err, line, sizeof line);
        rc = kube_error_set(err, KUBE_EXEC_FAILED, "exec plugin \"%s\" failed (%s %d): %s", cmd,
                            WIFEXITED(run->status) ? "exit code" : "signal",
                            WIFEXITED(run->status) ? WEXITSTATUS(run->status) : WTERMSIG(run->status), line);
    } else
        rc = parse_exec_credential(c, run->out.data ? run->out.data : "", run->out.len, err);
    free_run(run);
    return rc;
}

/* Runs the plugin to the end, blocking: for headless callers. */
static int run_exec(struct kube_connection *c, struct kube_error *err)
{
    struct kube_exec_run *run;
    if (kube_exec_start(c, &run, err) < 0)
        return -1;
    while (!kube_exec_advance(run)) {
        struct pollfd fds[2];
        int n = kube_exec_pollfds(run, fds, 2);
        if (poll(fds, (nfds_t)n, kube_exec_timeout_ms(run)) < 0 && errno != EINTR)
            break;
    }
    return kube_exec_finish(c, run, err);
}

/* --- per request ---------------------------------------------------------- */

bool kube_connection_needs_exec(struct kube_connection *c)
{
    if (!c->exec || c->token || c->token_file)
        return false;
    if (c->exec_cached && c->exec_expiry && time(NULL) >= c->exec_expiry)
        drop_exec_cache(c);
    return !c->exec_cached;
}

static int credentials(struct kube_connection *c, struct kube_credentials *out, bool may_run,
                       struct kube_error *err)
{
    memset(out, 0, sizeof *out);
    out->cert_file = c->cert_file;
    out->key_file = c->key_file;
    out->cert_data = c->cert_data;
    out->cert_len = c->cert_len;
    out->key_data = c->key_data;
    out->key_len = c->key_len;
    out->username = c->username;
    out->password = c->password;
    out->bearer_token = c->token;
    if (c->token_file) {
        if (refresh_token_file(c, err) < 0)
            return -1;
        out->bearer_token = c->token_file_value;
    }
    /* A token in the kubeconfig takes precedence over a plugin, as the
     * Authorization header client-go sets first does. */
    if (c->exec && !out->bearer_token) {
        if (may_run && kube_connection_needs_exec(c) && run_exec(c, err) < 0)
            return -1;
        if (!c->exec_cached)
            return kube_error_set(err, KUBE_EXEC_FAILED, "exec plugin \"%s\" has not run yet",
                                  c->exec->command);
        out->bearer_token = c->exec_token;
        if (c->exec_cert) {
            out->cert_file = out->key_file = NULL;
            out->cert_data = c->exec_cert;
            out->cert_len = c->exec_cert_len;
            out->key_data = c->exec_key;
            out->key_len = c->exec_key_len;
        }
    }
    return 0;
}

int kube_connection_credentials(struct kube_connection *c, struct kube_credentials *out,
                                struct kube_error *err)
{
    return credentials(c, out, true, err);
}

int kube_connection_cached_credentials(struct kube_connection *c, struct kube_credentials *out,
                                       struct kube_error *err)
{
    return credentials(c, out, false, err);
}

void kube_connection_invalidate(struct kube_connection *c)
{
    drop_exec_cache(c);
    c->token_file_mtime = 0;
    c->token_file_mtime_ns = 0;
}

bool kube_connection_can_refresh(const struct kube_connection *c)
{
    return c->exec != NULL || c->token_file != NULL;
}
