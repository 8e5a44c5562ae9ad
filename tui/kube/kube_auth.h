/* A resolved connection to one API server: where it is, how to trust it,
 * and the credentials for each request, including exec credential plugins
 * (client.authentication.k8s.io v1 and v1beta1) and re-read token files. */
#ifndef KUBE_AUTH_H
#define KUBE_AUTH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "kube_error.h"
#include "kubeconfig.h"

struct kube_connection {
    char *context;   /* "" in-cluster */
    char *source;    /* file of the context, "in-cluster" otherwise */
    char *namespace; /* -n, else the context's, else "default" */
    char *server;    /* without a trailing '/' */
    char *cluster_name;
    char *user_name;

    char *ca_file;
    unsigned char *ca_data;
    size_t ca_len;
    bool insecure_skip_tls_verify;
    char *warning; /* NULL, or something the UI should show (insecure TLS) */
    char *tls_server_name;
    char *proxy_url;
    bool disable_compression;

    char *cert_file, *key_file;
    unsigned char *cert_data, *key_data;
    size_t cert_len, key_len;

    char *token;
    char *token_file;
    char *username, *password;
    /* "Impersonate-*: value" lines from as, as-uid, as-groups and
     * as-user-extra; NULL-terminated, or NULL. */
    char **impersonate_headers;

    struct kube_exec_config *exec;
    /* Whether a person can answer a plugin's prompts; set from isatty(0).
     * The console clears it while curses owns the terminal, so that a
     * plugin neither prompts over the screen nor writes to it (its stderr
     * is then captured for the error message). */
    bool stdin_is_terminal;
    int exec_timeout_seconds;

    /* Run-time state, not configuration. */
    char *token_file_value;
    time_t token_file_mtime;
    long token_file_mtime_ns;
    char *exec_token;
    unsigned char *exec_cert, *exec_key;
    size_t exec_cert_len, exec_key_len;
    bool exec_cached;
    time_t exec_expiry; /* 0: no expiry given */
    unsigned exec_runs; /* how many times the plugin ran, for tests and the UI */
};

/* What one request needs now. Pointers belong to the connection and stay
 * valid until the next kube_connection_credentials or _invalidate. */
struct kube_credentials {
    const char *bearer_token;
    const char *cert_file, *key_file;
    const unsigned char *cert_data, *key_data;
    size_t cert_len, key_len;
    const char *username, *password;
};

/* The connection for `context_name` (NULL: current-context) of `cfg`. */
int kube_connection_from_config(const struct kube_config *cfg, const char *context_name,
                                const char *namespace_flag, struct kube_connection *out,
                                struct kube_error *err);

/* The pod's service account: KUBERNETES_SERVICE_HOST/_PORT and the token,
 * CA and namespace files under opts->in_cluster_root. */
int kube_connection_in_cluster(const struct kube_load_options *opts, struct kube_connection *out,
                               struct kube_error *err);

/* The whole loading rule: kubeconfig files if any, else in-cluster. */
int kube_connection_load(const struct kube_load_options *opts, struct kube_connection *out,
                         struct kube_error *err);

/* Current credentials: re-reads a changed token file, runs the exec plugin
 * when nothing valid is cached. Blocks while a plugin runs. */
int kube_connection_credentials(struct kube_connection *c, struct kube_credentials *out,
                                struct kube_error *err);

/* The same without ever running the plugin: its last output is used even
 * when expired (the client runs plugins itself, without blocking, and
 * calls this once one has finished). */
int kube_connection_cached_credentials(struct kube_connection *c, struct kube_credentials *out,
                                       struct kube_error *err);

/* Whether a request now needs the exec plugin to run first: one is
 * configured, no token overrides it, and nothing valid is cached. */
bool kube_connection_needs_exec(struct kube_connection *c);

/* One run of the exec plugin that a poll() loop drives: start it, poll its
 * fds, advance it on each wake-up until it reports true, then finish it,
 * which caches the credentials (or gives the error) and frees the run. */
struct kube_exec_run;
int kube_exec_start(struct kube_connection *c, struct kube_exec_run **out, struct kube_error *err);
int kube_exec_pollfds(const struct kube_exec_run *run, struct pollfd *fds, int max);
bool kube_exec_owns_fd(const struct kube_exec_run *run, int fd);
int kube_exec_timeout_ms(const struct kube_exec_run *run);
bool kube_exec_advance(struct kube_exec_run *run);
int kube_exec_finish(struct kube_connection *c, struct kube_exec_run *run, struct kube_error *err);
/* Kills the plugin and frees the run. */
void kube_exec_abort(struct kube_exec_run *run);

/* After a 401: forget cached plugin output so the next request runs it again. */
void kube_connection_invalidate(struct kube_connection *c);

/* Whether invalidating could change the credentials (an exec plugin or token file). */
bool kube_connection_can_refresh(const struct kube_connection *c);

void kube_connection_free(struct kube_connection *c);

#endif
