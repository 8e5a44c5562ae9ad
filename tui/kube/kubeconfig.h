/* kubeconfig as kubectl reads it: parsing one file, merging several the way
 * KUBECONFIG is merged, and the loading rule (--kubeconfig, KUBECONFIG,
 * ~/.kube/config, in-cluster service account). */
#ifndef KUBECONFIG_H
#define KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "kube_error.h"

enum kube_interactive_mode {
    KUBE_INTERACTIVE_UNSET,
    KUBE_INTERACTIVE_NEVER,
    KUBE_INTERACTIVE_IF_AVAILABLE,
    KUBE_INTERACTIVE_ALWAYS,
};

struct kube_env_var {
    char *name;
    char *value;
};

/* users[].user.exec: a client.authentication.k8s.io credential plugin. */
struct kube_exec_config {
    char *api_version;
    char *command;
    char **args;
    size_t n_args;
    struct kube_env_var *env;
    size_t n_env;
    char *install_hint;
    bool provide_cluster_info;
    enum kube_interactive_mode interactive_mode;
};

/* Every string may be NULL when the file did not set it. `source` is the
 * file that defined the entry (NULL when parsed from memory); relative
 * paths have already been resolved against its directory. */
struct kube_cluster {
    char *name;
    char *source;
    char *server;
    char *certificate_authority;
    char *certificate_authority_data; /* base64, decoded when connecting */
    bool insecure_skip_tls_verify;
    char *tls_server_name;
    char *proxy_url;
    bool disable_compression;
};

struct kube_user {
    char *name;
    char *source;
    char *client_certificate;
    char *client_certificate_data;
    char *client_key;
    char *client_key_data;
    char *token;
    char *token_file;
    char *username;
    char *password;
    struct kube_exec_config *exec;
    /* auth-provider: only "oidc" is still in kubectl; its id-token is used
     * as a bearer token, any other provider is refused. */
    char *auth_provider;
    char *auth_provider_id_token;
    /* Impersonation: as, as-uid, as-groups, as-user-extra. */
    char *impersonate_user;
    char *impersonate_uid;
    char **impersonate_groups;
    size_t n_impersonate_groups;
    struct kube_env_var *impersonate_extra; /* one entry per value; keys repeat */
    size_t n_impersonate_extra;
};

struct kube_context {
    char *name;
    char *source;
    char *cluster;
    char *user;
    char *namespace;
};

struct kube_config {
    struct kube_cluster *clusters;
    size_t n_clusters;
    struct kube_user *users;
    size_t n_users;
    struct kube_context *contexts;
    size_t n_contexts;
    char *current_context;
    bool preferences_colors;
    /* The files merged into this config, in order, for messages. */
    char **sources;
    size_t n_sources;
};

/* Parses one kubeconfig (YAML or JSON) from `buf`. `source` names it in
 * messages and is the base of its relative paths (NULL: none). On error
 * `out` is left empty. */
int kube_config_parse(const char *buf, size_t len, const char *source, struct kube_config *out,
                      struct kube_error *err);

/* Adds `from` to `into` as kubectl merges KUBECONFIG files: an entry whose
 * name `into` already has is dropped (the first file wins), and
 * current-context is taken from `from` only when `into` has none. `from` is
 * emptied. */
int kube_config_merge(struct kube_config *into, struct kube_config *from);

void kube_config_free(struct kube_config *cfg);
/* Frees an exec plugin's settings (secrets wiped), and e itself. */
void kube_exec_config_free(struct kube_exec_config *e);

const struct kube_context *kube_config_context(const struct kube_config *cfg, const char *name);
const struct kube_cluster *kube_config_cluster(const struct kube_config *cfg, const char *name);
const struct kube_user *kube_config_user(const struct kube_config *cfg, const char *name);
/* The files merged, as "a, b" for messages; returns `buf`. */
const char *kube_config_sources_text(const struct kube_config *cfg, char *buf, size_t len);

#define KUBE_IN_CLUSTER_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

/* What the command line and environment say. A NULL field means unset;
 * the fields named after environment variables are filled by
 * kube_load_options_from_env. */
struct kube_load_options {
    const char *kubeconfig_flag;  /* --kubeconfig */
    const char *context_flag;     /* --context */
    const char *namespace_flag;   /* -n */
    const char *kubeconfig_env;   /* $KUBECONFIG */
    const char *home;             /* $HOME */
    const char *service_host;     /* $KUBERNETES_SERVICE_HOST */
    const char *service_port;     /* $KUBERNETES_SERVICE_PORT */
    const char *pod_namespace;    /* $POD_NAMESPACE (downward API), in-cluster only */
    const char *in_cluster_root;  /* default KUBE_IN_CLUSTER_ROOT */
};

void kube_load_options_from_env(struct kube_load_options *opts);

/* Loads and merges the kubeconfig files the options select: --kubeconfig
 * (must exist), else each KUBECONFIG entry that exists, else
 * ~/.kube/config when it exists. Returns 0 with an empty config when there
 * is no file at all (the caller may then go in-cluster). */
int kube_config_load(const struct kube_load_options *opts, struct kube_config *out,
                     struct kube_error *err);

#endif
