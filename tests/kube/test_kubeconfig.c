/* kubeconfig parsing, merging and the loading rule; connection resolution. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kube_auth.h"
#include "kube_testutil.h"
#include "kubeconfig.h"
#include "testlib.h"

static const char eks_config[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmhlbGxvIGNhCg==\n"
    "    server: https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com/\n"
    "  name: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "    user: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "  name: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "current-context: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: arn:aws:eks:eu-west-1:111122223333:cluster/demo\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      args:\n"
    "      - --region\n"
    "      - eu-west-1\n"
    "      - eks\n"
    "      - get-token\n"
    "      - --cluster-name\n"
    "      - demo\n"
    "      command: aws\n"
    "      env:\n"
    "      - name: AWS_PROFILE\n"
    "        value: sre\n"
    "      interactiveMode: IfAvailable\n"
    "      provideClusterInfo: false\n";

static const char gke_config[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "  - name: gke_proj_europe-west1_c1\n"
    "    cluster:\n"
    "      server: https://34.1.2.3\n"
    "      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmhlbGxvIGNhCg==\n"
    "contexts:\n"
    "  - name: gke_proj_europe-west1_c1\n"
    "    context: {cluster: gke_proj_europe-west1_c1, user: gke_proj_europe-west1_c1, namespace: shop}\n"
    "current-context: gke_proj_europe-west1_c1\n"
    "users:\n"
    "  - name: gke_proj_europe-west1_c1\n"
    "    user:\n"
    "      exec:\n"
    "        apiVersion: client.authentication.k8s.io/v1beta1\n"
    "        args: null\n"
    "        command: gke-gcloud-auth-plugin\n"
    "        env: null\n"
    "        installHint: \"Install gke-gcloud-auth-plugin for use with kubectl\"\n"
    "        interactiveMode: IfAvailable\n"
    "        provideClusterInfo: true\n";

static void parse_ok(const char *text, const char *source, struct kube_config *cfg)
{
    struct kube_error err = {0};
    int rc = kube_config_parse(text, strlen(text), source, cfg, &err);
    if (rc != 0)
        fprintf(stderr, "parse: %s\n", err.message);
    CHECK_INT(rc, 0);
}

static void test_eks_exec(void)
{
    struct kube_config cfg;
    parse_ok(eks_config, NULL, &cfg);
    CHECK_INT(cfg.n_users, 1);
    const struct kube_user *u = kube_config_user(&cfg, "arn:aws:eks:eu-west-1:111122223333:cluster/demo");
    CHECK(u && u->exec);
    if (u && u->exec) {
        CHECK_STR(u->exec->command, "aws");
        CHECK_INT(u->exec->n_args, 6);
        CHECK_STR(u->exec->args[5], "demo");
        CHECK_INT(u->exec->n_env, 1);
        CHECK_STR(u->exec->env[0].name, "AWS_PROFILE");
        CHECK_STR(u->exec->env[0].value, "sre");
        CHECK_INT(u->exec->interactive_mode, KUBE_INTERACTIVE_IF_AVAILABLE);
        CHECK(!u->exec->provide_cluster_info);
    }
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR(conn.server, "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com");
    CHECK_STR(conn.namespace, "default");
    CHECK(conn.ca_data && strstr((const char *)conn.ca_data, "-----BEGIN CERTIFICATE-----\nhello ca\n"));
    CHECK(conn.exec != NULL);
    kube_connection_free(&conn);
    kube_config_free(&cfg);
}

static void test_gke_exec(void)
{
    struct kube_config cfg;
    parse_ok(gke_config, NULL, &cfg);
    const struct kube_user *u = kube_config_user(&cfg, "gke_proj_europe-west1_c1");
    CHECK(u && u->exec);
    if (u && u->exec) {
        CHECK_INT(u->exec->n_args, 0);
        CHECK_INT(u->exec->n_env, 0);
        CHECK(u->exec->provide_cluster_info);
        CHECK_CONTAINS(u->exec->install_hint, "Install gke-gcloud-auth-plugin");
    }
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR(conn.namespace, "shop");
    kube_connection_free(&conn);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, "other", &conn, &err), 0);
    CHECK_STR(conn.namespace, "other");
    kube_connection_free(&conn);
    kube_config_free(&cfg);
}

static void test_certificate_files_relative(void)
{
    testutil_write("certs/dir/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    testutil_write("certs/profiles/client.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    const char *key = testutil_write("certs/abs/client.key", "-----BEGIN PRIVATE KEY-----\n", 0600);
    char key_line[600];
    snprintf(key_line, sizeof key_line, "    client-key: %s\n", key);
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s",
                                      "clusters:\n"
                                      "- name: mk\n"
                                      "  cluster:\n"
                                      "    server: https://192.168.49.2:8443\n"
                                      "    certificate-authority: ca.crt\n"
                                      "    extensions:\n"
                                      "    - extension: {provider: minikube.sigs.k8s.io}\n"
                                      "      name: cluster_info\n"
                                      "users:\n"
                                      "- name: mk\n"
                                      "  user:\n"
                                      "    client-certificate: ../profiles/client.crt\n",
                                      key_line,
                                      "contexts:\n"
                                      "- name: mk\n"
                                      "  context: {cluster: mk, user: mk, namespace: default}\n"
                                      "current-context: mk\n");
    const char *path = testutil_write("certs/dir/config", text, 0600);
    struct kube_load_options opts = {.kubeconfig_flag = path};
    struct kube_config cfg;
    struct kube_error err = {0};
    CHECK_INT(kube_config_load(&opts, &cfg, &err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/certs/dir/ca.crt", testutil_tmpdir());
    CHECK_STR(cfg.clusters[0].certificate_authority, want);
    snprintf(want, sizeof want, "%s/certs/dir/../profiles/client.crt", testutil_tmpdir());
    CHECK_STR(cfg.users[0].client_certificate, want);
    CHECK_STR(cfg.users[0].client_key, key);
    CHECK_STR(cfg.users[0].source, path);
    struct kube_connection conn;
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR(conn.cert_file, cfg.users[0].client_certificate);
    CHECK_STR(conn.key_file, key);
    CHECK(conn.warning == NULL);
    kube_connection_free(&conn);
    kube_config_free(&cfg);

    /* A file that is not there is named before any connection is tried. */
    unlink(key);
    CHECK_INT(kube_config_load(&opts, &cfg, &err), 0);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_CERT_FILE);
    CHECK_CONTAINS(err.message, "unable to read client-key ");
    CHECK_CONTAINS(err.message, "/certs/abs/client.key of \"mk\": No such file or directory");
    kube_config_free(&cfg);
}

static const char data_fields_config[] =
    "clusters:\n"
    "- name: a\n"
    "  cluster:\n"
    "    server: https://a.example:6443\n"
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBREFUQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n"
    "    tls-server-name: kubernetes.default\n"
    "    proxy-url: socks5://localhost:1080\n"
    "- name: insecure\n"
    "  cluster: {server: \"https://b.example\", insecure-skip-tls-verify: true}\n"
    "users:\n"
    "- name: certs\n"
    "  user:\n"
    "    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClVTRVJDRVJUCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K\n"
    "    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClVTRVJLRVkKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=\n"
    "- name: tok\n"
    "  user: {token: sekrit-token-123}\n"
    "- name: basic\n"
    "  user: {username: admin, password: pa55}\n"
    "- name: empty\n"
    "  user: {}\n"
    "contexts:\n"
    "- {name: certs, context: {cluster: a, user: certs}}\n"
    "- {name: tok, context: {cluster: insecure, user: tok}}\n"
    "- {name: basic, context: {cluster: a, user: basic}}\n"
    "- {name: empty, context: {cluster: a, user: empty}}\n"
    "- {name: nouser, context: {cluster: a, user: ghost}}\n"
    "- {name: anon, context: {cluster: a}}\n"
    "current-context: certs\n";

static void test_data_fields_token_basic(void)
{
    struct kube_config cfg;
    parse_ok(data_fields_config, "/etc/kc", &cfg);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR((const char *)conn.ca_data, "-----BEGIN CERTIFICATE-----\nCADATA\n-----END CERTIFICATE-----\n");
    CHECK_INT(conn.ca_len, strlen("-----BEGIN CERTIFICATE-----\nCADATA\n-----END CERTIFICATE-----\n"));
    CHECK_STR((const char *)conn.cert_data, "-----BEGIN CERTIFICATE-----\nUSERCERT\n-----END CERTIFICATE-----\n");
    CHECK_STR((const char *)conn.key_data, "-----BEGIN PRIVATE KEY-----\nUSERKEY\n-----END PRIVATE KEY-----\n");
    CHECK_STR(conn.tls_server_name, "kubernetes.default");
    CHECK_STR(conn.proxy_url, "socks5://localhost:1080");
    kube_connection_free(&conn);

    CHECK_INT(kube_connection_from_config(&cfg, "tok", NULL, &conn, &err), 0);
    CHECK(conn.insecure_skip_tls_verify);
    CHECK_CONTAINS(conn.warning, "insecure-skip-tls-verify");
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "sekrit-token-123");
    kube_connection_free(&conn);

    CHECK_INT(kube_connection_from_config(&cfg, "basic", NULL, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.username, "admin");
    CHECK_STR(cred.password, "pa55");
    CHECK(cred.bearer_token == NULL);
    kube_connection_free(&conn);

    CHECK_INT(kube_connection_from_config(&cfg, "empty", NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_NO_CREDENTIALS);
    CHECK_STR(err.message, "user \"empty\" has no credentials in /etc/kc");

    CHECK_INT(kube_connection_from_config(&cfg, "nouser", NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_USER_NOT_FOUND);
    CHECK_CONTAINS(err.message, "user \"ghost\" of context \"nouser\" not found in /etc/kc");

    CHECK_INT(kube_connection_from_config(&cfg, "anon", NULL, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK(cred.bearer_token == NULL && cred.username == NULL && cred.cert_data == NULL);
    kube_connection_free(&conn);

    CHECK_INT(kube_connection_from_config(&cfg, "missing", NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_CONTEXT_NOT_FOUND);
    CHECK_STR(err.message, "context \"missing\" not found in /etc/kc");
    kube_config_free(&cfg);
}

static void test_token_file(void)
{
    const char *tok = testutil_write("tf/token", "first-token\n", 0600);
    const char *path = testutil_write("tf/config",
                                      "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                                      "users: [{name: u, user: {tokenFile: token}}]\n"
                                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                                      "current-context: x\n",
                                      0600);
    struct kube_load_options opts = {.kubeconfig_flag = path};
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_load(&opts, &conn, &err), 0);
    CHECK_STR(conn.token_file, tok);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "first-token");
    /* Rotated: a different mtime makes us read it again. */
    testutil_write("tf/token", "second-token", 0600);
    struct timespec times[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    utimensat(AT_FDCWD, tok, times, 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "second-token");
    /* Gone: the last good token stays. */
    unlink(tok);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "second-token");
    kube_connection_free(&conn);

    CHECK_INT(kube_connection_load(&opts, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_TOKEN_FILE);
    CHECK_CONTAINS(err.message, tok);
    kube_connection_free(&conn);
}

static const char two_contexts[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- {name: one, cluster: {server: 'https://one:443'}}\n"
    "- {name: two, cluster: {server: 'https://two:443'}}\n"
    "users:\n"
    "- {name: u1, user: {token: t1}}\n"
    "- {name: u2, user: {token: t2}}\n"
    "contexts:\n"
    "- {name: ctx-one, context: {cluster: one, user: u1, namespace: ns1}}\n"
    "- {name: ctx-two, context: {cluster: two, user: u2}}\n"
    "current-context: ctx-one\n";

static void test_several_contexts(void)
{
    struct kube_config cfg;
    parse_ok(two_contexts, NULL, &cfg);
    CHECK_INT(cfg.n_contexts, 2);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR(conn.server, "https://one:443");
    CHECK_STR(conn.namespace, "ns1");
    CHECK_STR(conn.context, "ctx-one");
    kube_connection_free(&conn);
    CHECK_INT(kube_connection_from_config(&cfg, "ctx-two", NULL, &conn, &err), 0);
    CHECK_STR(conn.server, "https://two:443");
    CHECK_STR(conn.namespace, "default");
    kube_connection_free(&conn);
    kube_config_free(&cfg);
}

static void test_merge_kubeconfig_env(void)
{
    const char *a = testutil_write("merge/a/config",
                                   "clusters:\n"
                                   "- {name: shared, cluster: {server: 'https://from-a', certificate-authority: ca-a.pem}}\n"
                                   "users:\n"
                                   "- {name: ua, user: {client-certificate: a.crt, client-key: a.key}}\n"
                                   "contexts:\n"
                                   "- {name: ctx, context: {cluster: shared, user: ub}}\n"
                                   "current-context: \"\"\n",
                                   0600);
    const char *b = testutil_write("merge/b/config",
                                   "clusters:\n"
                                   "- {name: shared, cluster: {server: 'https://from-b'}}\n"
                                   "- {name: only-b, cluster: {server: 'https://b-only', certificate-authority: sub/ca-b.pem}}\n"
                                   "users:\n"
                                   "- {name: ub, user: {tokenFile: tok, exec: {command: ./bin/plugin, apiVersion: client.authentication.k8s.io/v1}}}\n"
                                   "contexts:\n"
                                   "- {name: ctx, context: {cluster: only-b, user: ua}}\n"
                                   "current-context: ctx\n",
                                   0600);
    char env[1200];
    snprintf(env, sizeof env, "%s:/nonexistent/kubeconfig::%s:%s", a, b, a);
    struct kube_load_options opts = {.kubeconfig_env = env, .home = "/nonexistent"};
    struct kube_config cfg;
    struct kube_error err = {0};
    CHECK_INT(kube_config_load(&opts, &cfg, &err), 0);
    CHECK_INT(cfg.n_sources, 2);
    CHECK_INT(cfg.n_clusters, 2);
    CHECK_STR(kube_config_cluster(&cfg, "shared")->server, "https://from-a");
    CHECK_STR(cfg.current_context, "ctx");
    const struct kube_context *ctx = kube_config_context(&cfg, "ctx");
    CHECK_STR(ctx->user, "ub"); /* a's context wins */
    char want[600];
    snprintf(want, sizeof want, "%s/merge/a/ca-a.pem", testutil_tmpdir());
    CHECK_STR(kube_config_cluster(&cfg, "shared")->certificate_authority, want);
    snprintf(want, sizeof want, "%s/merge/b/sub/ca-b.pem", testutil_tmpdir());
    CHECK_STR(kube_config_cluster(&cfg, "only-b")->certificate_authority, want);
    const struct kube_user *ub = kube_config_user(&cfg, "ub");
    snprintf(want, sizeof want, "%s/merge/b/tok", testutil_tmpdir());
    CHECK_STR(ub->token_file, want);
    snprintf(want, sizeof want, "%s/merge/b/./bin/plugin", testutil_tmpdir());
    CHECK_STR(ub->exec->command, want);
    snprintf(want, sizeof want, "%s/merge/a/a.key", testutil_tmpdir());
    CHECK_STR(kube_config_user(&cfg, "ua")->client_key, want);
    kube_config_free(&cfg);
}

static void test_utf8_names(void)
{
    struct kube_config cfg;
    parse_ok("apiVersion: v1\n"
             "clusters:\n"
             "  - cluster:\n"
             "      server: http://kubeconfig.dir.com\n"
             "    name: façade\n"
             "contexts:\n"
             "  - context:\n"
             "      cluster: façade\n"
             "    name: контекст-日本\n"
             "current-context: контекст-日本",
             NULL, &cfg);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    CHECK_STR(conn.cluster_name, "façade");
    CHECK_STR(conn.context, "контекст-日本");
    CHECK_STR(conn.server, "http://kubeconfig.dir.com");
    kube_connection_free(&conn);
    kube_config_free(&cfg);
}

static void test_json_form(void)
{
    struct kube_config cfg;
    parse_ok("{\n"
             "\t\"kind\": \"Config\",\n"
             "\t\"clusters\": [{\"name\": \"j\", \"cluster\": {\"server\": \"https://j:6443\",\n"
             "\t\t\"insecure-skip-tls-verify\": true}}],\n"
             "\t\"users\": [{\"name\": \"j\", \"user\": {\"token\": \"abc\"}}],\n"
             "\t\"contexts\": [{\"name\": \"j\", \"context\": {\"cluster\": \"j\", \"user\": \"j\", \"namespace\": \"n\"}}],\n"
             "\t\"current-context\": \"j\", \"preferences\": {\"colors\": true}\n"
             "}\n",
             NULL, &cfg);
    CHECK_STR(cfg.current_context, "j");
    CHECK(cfg.preferences_colors);
    CHECK(cfg.n_clusters == 1 && cfg.clusters[0].insecure_skip_tls_verify);
    kube_config_free(&cfg);
}

static void test_errors_name_file_and_field(void)
{
    struct kube_config cfg;
    struct kube_error err = {0};
    const char *bad = "clusters:\n- name: a\n  cluster: {server: [1, 2]}\n";
    CHECK_INT(kube_config_parse(bad, strlen(bad), "/k/c", &cfg, &err), -1);
    CHECK_INT(err.code, KUBE_CONFIG_SHAPE);
    CHECK_STR(err.message, "/k/c: clusters[0].cluster.server: expected a string");

    const char *syntax = "clusters:\n  - name: a\n bad: [\n";
    CHECK_INT(kube_config_parse(syntax, strlen(syntax), "/k/c", &cfg, &err), -1);
    CHECK_INT(err.code, KUBE_CONFIG_SYNTAX);
    CHECK_CONTAINS(err.message, "/k/c: line ");

    const char *dup = "users:\n- {name: a, user: {token: x}}\n- {name: a, user: {token: y}}\n";
    CHECK_INT(kube_config_parse(dup, strlen(dup), "/k/c", &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "duplicate name \"a\"");

    const char *mode = "users:\n- {name: a, user: {exec: {command: x, interactiveMode: Sometimes}}}\n";
    CHECK_INT(kube_config_parse(mode, strlen(mode), "/k/c", &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "users[0].user.exec.interactiveMode");

    const char *b64 = "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '<ca>'}}]\n"
                      "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n";
    parse_ok(b64, "/k/c", &cfg);
    struct kube_connection conn;
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_BAD_BASE64);
    CHECK_STR(err.message, "/k/c: certificate-authority-data of \"c\" is not valid base64");
    kube_config_free(&cfg);

    /* Valid base64 that is no certificate (kubectl's "unable to parse bytes as PEM"). */
    const char *notpem = "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: Q0FEQVRB}}]\n"
                         "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n";
    parse_ok(notpem, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_BAD_PEM);
    CHECK_STR(err.message, "/k/c: certificate-authority-data of \"c\" holds no PEM block");
    kube_config_free(&cfg);

    const char *nocur = "clusters: [{name: c, cluster: {server: 'https://x'}}]\n";
    parse_ok(nocur, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_NO_CURRENT_CONTEXT);
    kube_config_free(&cfg);

    /* oidc, the one auth-provider kubectl kept: its id-token is the bearer token. */
    const char *oidc = "users:\n- {name: o, user: {auth-provider: {name: oidc, config: {client-id: k,"
                       " id-token: eyJhbGciOi.x.y, idp-issuer-url: 'https://idp'}}}}\n"
                       "- {name: stale, user: {auth-provider: {name: oidc, config: {client-id: k}}}}\n"
                       "clusters: [{name: c, cluster: {server: 'https://x', disable-compression: true}}]\n"
                       "contexts: [{name: x, context: {cluster: c, user: o}}, {name: s, context: {cluster: c, user: stale}}]\n"
                       "current-context: x\n";
    parse_ok(oidc, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "eyJhbGciOi.x.y");
    CHECK(conn.disable_compression);
    kube_connection_free(&conn);
    CHECK_INT(kube_connection_from_config(&cfg, "s", NULL, &conn, &err), -1);
    CHECK_CONTAINS(err.message, "the oidc auth-provider has no id-token");
    kube_config_free(&cfg);

    const char *groups_alone = "users: [{name: i, user: {token: t, as-groups: [a]}}]\n"
                               "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                               "contexts: [{name: x, context: {cluster: c, user: i}}]\ncurrent-context: x\n";
    parse_ok(groups_alone, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_STR(err.message, "user \"i\" in /k/c: as-uid, as-groups and as-user-extra need as");
    kube_config_free(&cfg);
    const char *injected = "users: [{name: i, user: {token: t, as: \"jane\\r\\nX-Evil: 1\"}}]\n"
                           "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                           "contexts: [{name: x, context: {cluster: c, user: i}}]\ncurrent-context: x\n";
    parse_ok(injected, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_CONTAINS(err.message, "holds a line break");
    kube_config_free(&cfg);
    const char *bad_extra = "users: [{name: i, user: {token: t, as: j, as-user-extra: {k: v}}}]\n";
    CHECK_INT(kube_config_parse(bad_extra, strlen(bad_extra), "/k/c", &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "as-user-extra: expected a map of lists of strings");

    const char *provider = "users: [{name: g, user: {auth-provider: {name: gcp}}}]\n"
                           "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                           "contexts: [{name: x, context: {cluster: c, user: g}}]\ncurrent-context: x\n";
    parse_ok(provider, "/k/c", &cfg);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_AUTH_PROVIDER);
    CHECK_CONTAINS(err.message, "\"gcp\"");
    kube_config_free(&cfg);

    const char *empty = "";
    parse_ok(empty, NULL, &cfg);
    CHECK_INT(cfg.n_clusters, 0);
    kube_config_free(&cfg);

    /* Aliases may not blow up into millions of nodes. */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                         "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    CHECK_INT(kube_config_parse(laughs, strlen(laughs), NULL, &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "too large");
}

/* Hostile shapes are stopped while libyaml reads them, before anything
 * quadratic (libyaml's deep flow nesting, our key lookups) can run long;
 * anchors and aliases within the caps still read as before. */
static void test_yaml_caps_while_reading(void)
{
    struct kube_config cfg;
    struct kube_error err;
    size_t n = 100000;
    char *deep = malloc(n + 4);
    memcpy(deep, "a: ", 3);
    memset(deep + 3, '[', n);
    deep[n + 3] = '\0';
    CHECK_INT(kube_config_parse(deep, strlen(deep), NULL, &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "nested more than 64 levels");
    free(deep);

    char *keys = malloc(100000 * 16);
    size_t len = 0;
    for (int k = 0; k < 100000; k++)
        len += (size_t)sprintf(keys + len, "k%d: v\n", k);
    CHECK_INT(kube_config_parse(keys, len, NULL, &cfg, &err), -1);
    CHECK_CONTAINS(err.message, "more than 4096 keys");
    free(keys);

    const char *aliased = "clusters:\n- &c {name: one, cluster: {server: 'https://one'}}\n"
                          "contexts: [{name: x, context: {cluster: one}}]\n"
                          "current-context: x\n"
                          "x-copies: [*c, *c]\n";
    parse_ok(aliased, NULL, &cfg);
    CHECK_INT(cfg.n_clusters, 1);
    CHECK_STR(cfg.clusters[0].name, "one");
    kube_config_free(&cfg);
}

static void test_loading_rule(void)
{
    const char *flag = testutil_write("rule/flag", "clusters: [{name: f, cluster: {server: 'https://flag'}}]\n"
                                                   "contexts: [{name: f, context: {cluster: f}}]\ncurrent-context: f\n", 0600);
    const char *envf = testutil_write("rule/env", "clusters: [{name: e, cluster: {server: 'https://env'}}]\n"
                                                  "contexts: [{name: e, context: {cluster: e}}]\ncurrent-context: e\n", 0600);
    testutil_write("rule/home/.kube/config", "clusters: [{name: h, cluster: {server: 'https://home'}}]\n"
                                             "contexts: [{name: h, context: {cluster: h}}]\ncurrent-context: h\n", 0600);
    char home[600];
    snprintf(home, sizeof home, "%s/rule/home", testutil_tmpdir());
    struct kube_connection conn;
    struct kube_error err = {0};

    struct kube_load_options o1 = {.kubeconfig_flag = flag, .kubeconfig_env = envf, .home = home};
    CHECK_INT(kube_connection_load(&o1, &conn, &err), 0);
    CHECK_STR(conn.server, "https://flag");
    kube_connection_free(&conn);

    struct kube_load_options o2 = {.kubeconfig_env = envf, .home = home};
    CHECK_INT(kube_connection_load(&o2, &conn, &err), 0);
    CHECK_STR(conn.server, "https://env");
    kube_connection_free(&conn);

    struct kube_load_options o3 = {.home = home};
    CHECK_INT(kube_connection_load(&o3, &conn, &err), 0);
    CHECK_STR(conn.server, "https://home");
    CHECK_CONTAINS(conn.source, "/rule/home/.kube/config");
    kube_connection_free(&conn);

    struct kube_load_options o4 = {.kubeconfig_flag = "/nonexistent/kc", .home = home};
    CHECK_INT(kube_connection_load(&o4, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_CONFIG_READ);
    CHECK_CONTAINS(err.message, "/nonexistent/kc");

    struct kube_load_options o5 = {.kubeconfig_env = "/nonexistent/a:/nonexistent/b", .home = home};
    CHECK_INT(kube_connection_load(&o5, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_NO_CONFIG);

    struct kube_load_options o6 = {.home = home, .context_flag = "nope"};
    CHECK_INT(kube_connection_load(&o6, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_CONTEXT_NOT_FOUND);
    CHECK_CONTAINS(err.message, "context \"nope\" not found in ");
    CHECK_CONTAINS(err.message, "/rule/home/.kube/config");
}

static void test_in_cluster(void)
{
    testutil_write("sa/token", "sa-token-value\n", 0600);
    testutil_write("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    testutil_write("sa/namespace", "istio-demo", 0644);
    char root[600];
    snprintf(root, sizeof root, "%s/sa", testutil_tmpdir());
    struct kube_load_options opts = {.home = "/nonexistent", .service_host = "10.96.0.1",
                                     .service_port = "443", .in_cluster_root = root};
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(kube_connection_load(&opts, &conn, &err), 0);
    CHECK_STR(conn.server, "https://10.96.0.1:443");
    CHECK_STR(conn.namespace, "istio-demo");
    CHECK_CONTAINS(conn.ca_file, "/sa/ca.crt");
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "sa-token-value");
    kube_connection_free(&conn);

    opts.pod_namespace = "from-downward-api";
    CHECK_INT(kube_connection_load(&opts, &conn, &err), 0);
    CHECK_STR(conn.namespace, "from-downward-api");
    kube_connection_free(&conn);

    opts.service_host = "fd00::1";
    opts.namespace_flag = "mine";
    CHECK_INT(kube_connection_load(&opts, &conn, &err), 0);
    CHECK_STR(conn.server, "https://[fd00::1]:443");
    CHECK_STR(conn.namespace, "mine");
    kube_connection_free(&conn);

    opts.in_cluster_root = "/nonexistent";
    CHECK_INT(kube_connection_load(&opts, &conn, &err), -1);
    CHECK_INT(err.code, KUBE_TOKEN_FILE);
}

/* The real kubeconfigs captured in the shared folder, when it is present:
 * each must parse; their contexts must resolve or fail with a message. */
static void test_real_kubeconfigs(void)
{
    const char *dir = "/work/shared/realdata/kubeconfig";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct kube_load_options opts = {.kubeconfig_flag = path};
        struct kube_config cfg;
        struct kube_error err = {0};
        int rc = kube_config_load(&opts, &cfg, &err);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", path, err.message);
        CHECK_INT(rc, 0);
        CHECK(cfg.n_clusters > 0);
        for (size_t i = 0; i < cfg.n_contexts; i++) {
            struct kube_connection conn;
            if (kube_connection_from_config(&cfg, cfg.contexts[i].name, NULL, &conn, &err) == 0)
                kube_connection_free(&conn);
            else
                CHECK(err.message[0] != '\0');
        }
        kube_config_free(&cfg);
    }
    closedir(d);
}

int main(void)
{
    RUN(test_eks_exec);
    RUN(test_gke_exec);
    RUN(test_certificate_files_relative);
    RUN(test_data_fields_token_basic);
    RUN(test_token_file);
    RUN(test_several_contexts);
    RUN(test_merge_kubeconfig_env);
    RUN(test_utf8_names);
    RUN(test_json_form);
    RUN(test_errors_name_file_and_field);
    RUN(test_yaml_caps_while_reading);
    RUN(test_loading_rule);
    RUN(test_in_cluster);
    RUN(test_real_kubeconfigs);
    testutil_cleanup();
    TEST_MAIN_END();
}
