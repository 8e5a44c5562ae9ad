/* End to end against meshsim (tests/meshsim): TLS with the CA, client
 * certificate and key as kubeconfig data (libcurl blobs), or a token;
 * list + watch, pod proxy, a rollout restart, 429 retries, watch expiry,
 * 401. Skipped (RESULT 0 0) when the meshsim binary is not built. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_pods.h"
#include "kube_testutil.h"
#include "meshsim_launch.h"
#include "testlib.h"

static const char *meshsim_path;

struct meshsim {
    pid_t pid;
    char kubeconfig[512];
};

/* Starts meshsim with `args` (space separated) and waits for "meshsim ready". */
static bool meshsim_start(struct meshsim *m, const char *name, const char *args)
{
    snprintf(m->kubeconfig, sizeof m->kubeconfig, "%s/%s.kubeconfig", testutil_tmpdir(), name);
    char *argv[32] = {(char *)meshsim_path, "--listen", "127.0.0.1:0", "--kubeconfig", m->kubeconfig};
    int argc = 5;
    char *copy = strdup(args), *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok && argc < 31; tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    m->pid = meshsim_launch((const char *const *)argv);
    free(copy);
    if (m->pid < 0) {
        fprintf(stderr, "meshsim %s did not start\n", args);
        return false;
    }
    return true;
}

static void meshsim_stop(struct meshsim *m)
{
    meshsim_halt(m->pid);
}

struct session {
    struct kube_connection conn;
    struct kube_client *client;
};

static bool session_open(struct session *s, const struct meshsim *m)
{
    struct kube_load_options opts = {.kubeconfig_flag = m->kubeconfig};
    struct kube_error err = {0};
    if (kube_connection_load(&opts, &s->conn, &err) < 0 || !(s->client = kube_client_new(&s->conn, &err))) {
        fprintf(stderr, "session: %s\n", err.message);
        return false;
    }
    return true;
}

static void session_close(struct session *s)
{
    kube_client_free(s->client);
    kube_connection_free(&s->conn);
}

struct pods_seen {
    int upserts, deletes, synced, errors;
    enum kube_code last_error;
    char names[64][128];
    char deployments[64][64];
    bool sidecar[64], native[64];
    int n;
};

static void on_pod(const struct kube_pod_event *ev, void *user)
{
    struct pods_seen *p = user;
    switch (ev->type) {
    case KUBE_POD_UPSERT:
        p->upserts++;
        for (int i = 0; i < p->n; i++)
            if (strcmp(p->names[i], ev->pod->name) == 0)
                return;
        if (p->n < 64) {
            snprintf(p->names[p->n], sizeof p->names[0], "%s", ev->pod->name);
            snprintf(p->deployments[p->n], sizeof p->deployments[0], "%s",
                     ev->pod->deployment ? ev->pod->deployment : "");
            p->sidecar[p->n] = ev->pod->has_sidecar;
            p->native[p->n] = ev->pod->sidecar_native;
            p->n++;
        }
        break;
    case KUBE_POD_DELETE: p->deletes++; break;
    case KUBE_POD_SYNCED: p->synced++; break;
    case KUBE_POD_ERROR:
        p->errors++;
        p->last_error = ev->error->code;
        break;
    }
}

struct result {
    bool done;
    long http_status;
    int http_version;
    struct kube_error error;
    char body[2048];
};

static void on_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct result *r = user;
    r->done = true;
    r->http_status = resp->http_status;
    r->http_version = resp->http_version;
    r->error = resp->error;
    snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_len, resp->body);
}

static void run_until(struct kube_client *c, bool *flag, int max_ms)
{
    for (int waited = 0; waited < max_ms && !*flag; waited += 20)
        kube_client_wait(c, 20);
}

static void test_certificates_list_watch_proxy_restart(void)
{
    struct meshsim m;
    if (!meshsim_start(&m, "certs", "--namespace demo")) {
        CHECK(false);
        return;
    }
    struct session s;
    CHECK(session_open(&s, &m));
    CHECK(s.conn.cert_data != NULL && s.conn.key_data != NULL && s.conn.ca_data != NULL);
    struct pods_seen seen = {0};
    struct kube_pod_watch_options o = {.namespace = "demo", .page_size = 2, .resolve_owners = true};
    struct kube_pod_watch *w = kube_pod_watch_start(s.client, &o, on_pod, &seen);
    bool synced = false;
    for (int i = 0; i < 500 && !synced; i++) {
        kube_client_wait(s.client, 20);
        synced = seen.synced > 0;
    }
    CHECK(synced);
    CHECK(seen.n >= 3);
    struct kube_pod_watch_stats st;
    kube_pod_watch_stats(w, &st);
    CHECK(st.pages >= 2);
    int with_sidecar = 0, native = 0;
    const char *pod = NULL;
    for (int i = 0; i < seen.n; i++) {
        with_sidecar += seen.sidecar[i];
        native += seen.native[i];
        if (seen.sidecar[i] && !pod)
            pod = seen.names[i];
        CHECK(seen.deployments[i][0] != '\0');
    }
    CHECK(with_sidecar > 0);
    fprintf(stderr, "meshsim: %d pods, %d with sidecar, %d native, e.g. %s (%s)\n", seen.n, with_sidecar,
            native, pod ? pod : "-", seen.deployments[0]);

    if (pod) {
        /* Scrapes at once, as the console does: over HTTP/2 they share the
         * connection the list and the watch already use. */
        struct result r[8] = {{0}};
        unsigned long before_scrapes = kube_client_connections_opened(s.client);
        for (int i = 0; i < 8; i++)
            kube_client_pod_proxy_get(s.client, "demo", pod, 15090, "/stats/prometheus?filter=wasm", 5000,
                                      on_done, &r[i]);
        for (int i = 0; i < 8; i++) {
            run_until(s.client, &r[i].done, 10000);
            CHECK_INT(r[i].http_status, 200);
            CHECK_INT(r[i].error.code, KUBE_OK);
            CHECK_INT(r[i].http_version, r[0].http_version);
        }
        unsigned long opened = kube_client_connections_opened(s.client) - before_scrapes;
        fprintf(stderr, "meshsim: HTTP/%s, %lu new connection(s) for 8 concurrent scrapes\n",
                r[0].http_version == 20 ? "2" : "1.1", opened);
        if (r[0].http_version == 20)
            CHECK_INT(opened, 0);
    }

    /* kubectl rollout restart: new pods arrive through the watch. */
    int before = seen.n;
    struct result r = {0};
    const char *patch = "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
                        "{\"kubectl.kubernetes.io/restartedAt\":\"2026-11-26T12:00:00Z\"}}}}}";
    char path[256];
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/demo/deployments/%s", seen.deployments[0]);
    kube_client_patch(s.client, path, KUBE_PATCH_STRATEGIC, patch, strlen(patch), NULL, false, on_done, &r);
    run_until(s.client, &r.done, 10000);
    CHECK_INT(r.http_status, 200);
    for (int i = 0; i < 500 && seen.n == before; i++)
        kube_client_wait(s.client, 20);
    CHECK(seen.n > before);

    struct result missing = {0};
    kube_client_get(s.client, "/apis/apps/v1/namespaces/demo/deployments/no-such-thing", on_done, &missing);
    run_until(s.client, &missing.done, 10000);
    CHECK_INT(missing.error.code, KUBE_NOT_FOUND);
    CHECK_INT(seen.errors, 0);
    kube_pod_watch_stop(w);
    session_close(&s);
    meshsim_stop(&m);
}

/* A GET of /version with the meshsim cluster changed by `edit`. */
static enum kube_code version_with(const struct meshsim *m, void (*edit)(struct kube_cluster *),
                                   char *warning, size_t warning_len)
{
    struct kube_load_options opts = {.kubeconfig_flag = m->kubeconfig};
    struct kube_config cfg;
    struct kube_error err = {0};
    if (kube_config_load(&opts, &cfg, &err) < 0)
        return err.code;
    edit(&cfg.clusters[0]);
    struct kube_connection conn;
    if (kube_connection_from_config(&cfg, NULL, NULL, &conn, &err) < 0) {
        kube_config_free(&cfg);
        return err.code;
    }
    kube_config_free(&cfg);
    struct kube_client *c = kube_client_new(&conn, &err);
    if (!c) {
        kube_connection_free(&conn);
        return err.code;
    }
    snprintf(warning, warning_len, "%s", kube_client_warning(c) ? kube_client_warning(c) : "");
    struct result r = {0};
    kube_client_get(c, "/version", on_done, &r);
    run_until(c, &r.done, 10000);
    kube_client_free(c);
    kube_connection_free(&conn);
    return r.error.code;
}

/* The certificate names 127.0.0.1 and localhost. */
static void name_localhost(struct kube_cluster *cl)
{
    cl->tls_server_name = strdup("localhost");
}
static void name_wrong(struct kube_cluster *cl)
{
    cl->tls_server_name = strdup("wrong.example");
}
static void drop_ca(struct kube_cluster *cl)
{
    free(cl->certificate_authority_data);
    cl->certificate_authority_data = NULL;
}
static void drop_ca_insecure(struct kube_cluster *cl)
{
    drop_ca(cl);
    cl->insecure_skip_tls_verify = true;
}

static void test_tls_server_name_and_insecure(void)
{
    struct meshsim m;
    if (!meshsim_start(&m, "tls", "--pods 1")) {
        CHECK(false);
        return;
    }
    char warning[256];
    CHECK_INT(version_with(&m, name_localhost, warning, sizeof warning), KUBE_OK);
    /* Routed to 127.0.0.1 (no DNS lookup of the name), verified against the
     * name: a TLS failure, not a resolution failure. */
    CHECK_INT(version_with(&m, name_wrong, warning, sizeof warning), KUBE_TLS);
    CHECK_INT(version_with(&m, drop_ca, warning, sizeof warning), KUBE_TLS);
    CHECK_STR(warning, "");
    CHECK_INT(version_with(&m, drop_ca_insecure, warning, sizeof warning), KUBE_OK);
    CHECK_CONTAINS(warning, "insecure-skip-tls-verify is set for cluster \"meshsim\"");
    meshsim_stop(&m);
}

static void test_token_and_rate_limit(void)
{
    struct meshsim m;
    if (!meshsim_start(&m, "token", "--auth token --scenario api-429")) {
        CHECK(false);
        return;
    }
    struct session s;
    CHECK(session_open(&s, &m));
    CHECK(s.conn.token != NULL && s.conn.cert_data == NULL);
    struct result r[6] = {{0}};
    for (int i = 0; i < 6; i++)
        kube_client_get(s.client, "/api/v1/namespaces/demo/pods?limit=1", on_done, &r[i]);
    for (int i = 0; i < 6; i++) {
        run_until(s.client, &r[i].done, 15000);
        CHECK_INT(r[i].http_status, 200);
    }
    session_close(&s);
    meshsim_stop(&m);
}

static void test_watch_expiry_relists(void)
{
    struct meshsim m;
    if (!meshsim_start(&m, "expiry", "--scenario watch-expiry")) {
        CHECK(false);
        return;
    }
    struct session s;
    CHECK(session_open(&s, &m));
    struct pods_seen seen = {0};
    struct kube_pod_watch_options o = {.namespace = "demo"};
    struct kube_pod_watch *w = kube_pod_watch_start(s.client, &o, on_pod, &seen);
    struct kube_pod_watch_stats st = {0};
    for (int i = 0; i < 750 && seen.synced < 2; i++) {
        kube_client_wait(s.client, 20);
        kube_pod_watch_stats(w, &st);
    }
    CHECK(st.lists >= 2);
    CHECK(seen.synced >= 2);
    CHECK_INT(seen.errors, 0);
    kube_pod_watch_stop(w);
    session_close(&s);
    meshsim_stop(&m);
}

static void test_unauthorized(void)
{
    struct meshsim m;
    if (!meshsim_start(&m, "denied", "--scenario api-401")) {
        CHECK(false);
        return;
    }
    struct session s;
    CHECK(session_open(&s, &m));
    struct pods_seen seen = {0};
    struct kube_pod_watch_options o = {.namespace = "demo"};
    struct kube_pod_watch *w = kube_pod_watch_start(s.client, &o, on_pod, &seen);
    for (int i = 0; i < 500 && !seen.errors; i++)
        kube_client_wait(s.client, 20);
    CHECK_INT(seen.last_error, KUBE_UNAUTHORIZED);
    kube_pod_watch_stop(w);
    session_close(&s);
    meshsim_stop(&m);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    meshsim_path = argc > 1 ? argv[1] : getenv("MESHSIM");
    if (!meshsim_path || access(meshsim_path, X_OK) != 0) {
        printf("meshsim not built (%s): skipped\n", meshsim_path ? meshsim_path : "no path given");
        TEST_MAIN_END();
    }
    RUN(test_certificates_list_watch_proxy_restart);
    RUN(test_tls_server_name_and_insecure);
    RUN(test_token_and_rate_limit);
    RUN(test_watch_expiry_relists);
    RUN(test_unauthorized);
    testutil_cleanup();
    TEST_MAIN_END();
}
