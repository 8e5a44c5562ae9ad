/* Exec credential plugins, faked by shell scripts written to a temp dir. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_auth.h"
#include "kube_testutil.h"
#include "kubeconfig.h"
#include "testlib.h"

/* A kubeconfig whose only user runs `script` with the given exec fields. */
static int connect_with_exec(const char *exec_fields, struct kube_connection *conn,
                             struct kube_error *err)
{
    char text[4096];
    snprintf(text, sizeof text,
             "clusters:\n"
             "- name: c\n"
             "  cluster: {server: 'https://api.example:6443', certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmhlbGxvIGNhCg==,"
             " tls-server-name: api.internal, proxy-url: 'http://proxy:3128'}\n"
             "users:\n"
             "- name: u\n"
             "  user:\n"
             "    exec:\n%s"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
             "current-context: x\n",
             exec_fields);
    struct kube_config cfg;
    if (kube_config_parse(text, strlen(text), NULL, &cfg, err) < 0)
        return -1;
    int rc = kube_connection_from_config(&cfg, NULL, NULL, conn, err);
    kube_config_free(&cfg);
    if (rc == 0)
        conn->stdin_is_terminal = false;
    return rc;
}

static char *iso_time(time_t t)
{
    static char buf[64];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* A plugin printing a token that expires at `expiry` ("" for none), and
 * recording its environment and arguments next to itself. */
static const char *write_token_plugin(const char *name, const char *api, const char *token,
                                      const char *expiry)
{
    char script[2048];
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "dir=$(dirname \"$0\")\n"
             "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > \"$dir/%s.info\"\n"
             "printf '%%s|' \"$@\" > \"$dir/%s.args\"\n"
             "printf '%%s' \"$PLUGIN_ENV\" > \"$dir/%s.env\"\n"
             "echo run >> \"$dir/%s.runs\"\n"
             "cat <<JSON\n"
             "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"%s%s%s}}\n"
             "JSON\n",
             name, name, name, name, api, token, *expiry ? ",\"expirationTimestamp\":\"" : "",
             expiry, *expiry ? "\"" : "");
    char file[256];
    snprintf(file, sizeof file, "plugins/%s", name);
    return testutil_write(file, script, 0755);
}

static char *read_text(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/plugins/%s", testutil_tmpdir(), name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_v1beta1_cached_until_expiry(void)
{
    const char *plugin = write_token_plugin("eks", "client.authentication.k8s.io/v1beta1",
                                            "k8s-aws-v1.SECRETTOKEN", iso_time(time(NULL) + 900));
    char fields[1024];
    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
             "      command: %s\n"
             "      args: [eks, get-token, --cluster-name, demo]\n"
             "      env: [{name: PLUGIN_ENV, value: from-kubeconfig}]\n",
             plugin);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "k8s-aws-v1.SECRETTOKEN");
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "k8s-aws-v1.SECRETTOKEN");
    CHECK_INT(conn.exec_runs, 1);
    CHECK_STR(read_text("eks.args"), "eks|get-token|--cluster-name|demo|");
    CHECK_STR(read_text("eks.env"), "from-kubeconfig");

    cJSON *info = cJSON_Parse(read_text("eks.info"));
    CHECK(info != NULL);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(info, "apiVersion")->valuestring,
              "client.authentication.k8s.io/v1beta1");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(info, "kind")->valuestring, "ExecCredential");
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(info, "spec");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "interactive")));
    CHECK(cJSON_GetObjectItemCaseSensitive(spec, "cluster") == NULL);
    cJSON_Delete(info);

    /* A 401 makes the client forget the token: the plugin runs again. */
    kube_connection_invalidate(&conn);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_INT(conn.exec_runs, 2);
    kube_connection_free(&conn);
}

static void test_expired_token_runs_again(void)
{
    const char *plugin = write_token_plugin("old", "client.authentication.k8s.io/v1", "tok-old",
                                            "2001-01-01T00:00:00Z");
    char fields[1024];
    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: %s\n"
             "      interactiveMode: Never\n",
             plugin);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_STR(cred.bearer_token, "tok-old");
    CHECK_INT(conn.exec_runs, 2);
    kube_connection_free(&conn);
}

static void test_no_expiry_cached_for_good(void)
{
    const char *plugin = write_token_plugin("forever", "client.authentication.k8s.io/v1beta1",
                                            "tok-forever", "");
    char fields[1024];
    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
             "      command: %s\n",
             plugin);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    for (int i = 0; i < 3; i++)
        CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK_INT(conn.exec_runs, 1);
    kube_connection_free(&conn);
}

static void test_provide_cluster_info(void)
{
    const char *plugin = write_token_plugin("gke", "client.authentication.k8s.io/v1beta1", "ya29.x", "");
    char fields[1024];
    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
             "      command: %s\n"
             "      provideClusterInfo: true\n"
             "      interactiveMode: IfAvailable\n",
             plugin);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    cJSON *info = cJSON_Parse(read_text("gke.info"));
    cJSON *cluster = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(info, "spec"), "cluster");
    CHECK(cluster != NULL);
    if (cluster) {
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(cluster, "server")->valuestring, "https://api.example:6443");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(cluster, "certificate-authority-data")->valuestring,
                  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmhlbGxvIGNhCg==");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(cluster, "tls-server-name")->valuestring, "api.internal");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(cluster, "proxy-url")->valuestring, "http://proxy:3128");
    }
    cJSON_Delete(info);
    kube_connection_free(&conn);
}

static void test_interactive_modes(void)
{
    const char *plugin = write_token_plugin("ia", "client.authentication.k8s.io/v1", "tok-ia", "");
    char fields[1024];
    struct kube_connection conn;
    struct kube_error err = {0};
    struct kube_credentials cred;

    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n", plugin);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "interactiveMode must be specified");
    kube_connection_free(&conn);

    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n"
             "      interactiveMode: Always\n", plugin);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_EXEC_INTERACTIVE);
    CHECK_CONTAINS(err.message, "standard input is not a terminal");
    CHECK_INT(conn.exec_runs, 0);
    kube_connection_free(&conn);

    /* With a terminal, IfAvailable tells the plugin it may prompt. */
    snprintf(fields, sizeof fields,
             "      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n"
             "      interactiveMode: IfAvailable\n", plugin);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    conn.stdin_is_terminal = true;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    cJSON *info = cJSON_Parse(read_text("ia.info"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(info, "spec"), "interactive")));
    cJSON_Delete(info);
    kube_connection_free(&conn);
}

static void test_missing_binary_install_hint(void)
{
    const char *fields =
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: gke-gcloud-auth-plugin-not-installed-here\n"
        "      installHint: Install gke-gcloud-auth-plugin by following https://cloud.google.com/x\n";
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_EXEC_NOT_FOUND);
    CHECK_STR(err.message, "exec plugin: executable \"gke-gcloud-auth-plugin-not-installed-here\" "
                           "not found: Install gke-gcloud-auth-plugin by following https://cloud.google.com/x");
    kube_connection_free(&conn);
}

static void test_plugin_failures(void)
{
    struct kube_connection conn;
    struct kube_error err = {0};
    struct kube_credentials cred;
    char fields[1024];

    const char *failing = testutil_write("plugins/fail",
                                         "#!/bin/sh\necho 'error: SSO session expired' >&2\n"
                                         "echo 'second line' >&2\nexit 3\n", 0755);
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", failing);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_EXEC_FAILED);
    CHECK_CONTAINS(err.message, "exit code 3): error: SSO session expired");
    kube_connection_free(&conn);

    const char *wrong_api = write_token_plugin("wrongapi", "client.authentication.k8s.io/v1", "LEAKME-1", "");
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", wrong_api);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "plugin returned version client.authentication.k8s.io/v1");
    CHECK(strstr(err.message, "LEAKME") == NULL);
    kube_connection_free(&conn);

    const char *garbage = testutil_write("plugins/garbage", "#!/bin/sh\necho '{\"token\": \"LEAKME-2\"'\n", 0755);
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", garbage);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_EXEC_OUTPUT);
    CHECK(strstr(err.message, "LEAKME") == NULL);
    kube_connection_free(&conn);

    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: %s\n", wrong_api);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_INT(err.code, KUBE_EXEC_API_VERSION);
    kube_connection_free(&conn);

    const char *slow = testutil_write("plugins/slow", "#!/bin/sh\nexec sleep 30\n", 0755);
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", slow);
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    conn.exec_timeout_seconds = 1;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "was killed");
    kube_connection_free(&conn);
}

/* Whether a process is gone (or a zombie nobody reaped yet). */
static bool process_gone(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    int n = fscanf(f, "%*d %*s %c", &state);
    fclose(f);
    return n == 1 && state == 'Z';
}

/* On timeout the plugin and what it started are killed: its children left
 * running would hold the terminal or the machine. */
static void test_timeout_kills_the_group(void)
{
    char script[512];
    snprintf(script, sizeof script, "#!/bin/sh\nsleep 30 &\necho $! > %s/plugins/child.pid\nwait\n",
             testutil_tmpdir());
    const char *plugin = testutil_write("plugins/forks", script, 0755);
    char fields[1024];
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", plugin);
    struct kube_connection conn;
    struct kube_credentials cred;
    struct kube_error err;
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    conn.exec_timeout_seconds = 1;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "was killed (with what it started)");
    kube_connection_free(&conn);
    const char *pid_text = read_text("child.pid");
    CHECK(pid_text != NULL);
    pid_t child = pid_text ? (pid_t)atoi(pid_text) : 0;
    for (int k = 0; k < 100 && child > 0 && !process_gone(child); k++)
        usleep(20000);
    CHECK(child > 0 && process_gone(child));
}

/* Endless output ends the run at once, not at the timeout. */
static void test_endless_output_stops_the_plugin(void)
{
    const char *plugin = testutil_write("plugins/yes", "#!/bin/sh\nexec yes LEAKME\n", 0755);
    char fields[1024];
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", plugin);
    struct kube_connection conn;
    struct kube_credentials cred;
    struct kube_error err;
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    conn.exec_timeout_seconds = 20; /* the old behaviour: killed only after this */
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "printed more than 1024 KB");
    CHECK(strstr(err.message, "LEAKME") == NULL);
    kube_connection_free(&conn);
}

/* A failing plugin's stderr is shown as text: escapes visible, bidi
 * controls gone, one line. */
static void test_stderr_shown_sanitized(void)
{
    const char *plugin = testutil_write(
        "plugins/noisy",
        "#!/bin/sh\nprintf 'denied \\033]0;owned\\007\\033[2J\\342\\200\\256x\\nsecond line\\n' >&2\nexit 3\n",
        0755);
    char fields[1024];
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", plugin);
    struct kube_connection conn;
    struct kube_credentials cred;
    struct kube_error err;
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), -1);
    CHECK_CONTAINS(err.message, "exit code 3): denied ^[]0;owned^G^[[2Jx");
    CHECK(strchr(err.message, '\033') == NULL);
    CHECK(strstr(err.message, "\u202e") == NULL);
    CHECK(strstr(err.message, "second line") == NULL);
    kube_connection_free(&conn);
}

static void test_client_certificate_output(void)
{
    const char *plugin = testutil_write(
        "plugins/certs",
        "#!/bin/sh\ncat <<'JSON'\n"
        "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nAAA\\n\","
        "\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\nBBB\\n\","
        "\"expirationTimestamp\":\"2999-01-01T00:00:00.123+02:00\"}}\nJSON\n",
        0755);
    char fields[1024];
    snprintf(fields, sizeof fields, "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", plugin);
    struct kube_connection conn;
    struct kube_error err = {0};
    CHECK_INT(connect_with_exec(fields, &conn, &err), 0);
    struct kube_credentials cred;
    CHECK_INT(kube_connection_credentials(&conn, &cred, &err), 0);
    CHECK(cred.bearer_token == NULL);
    CHECK(cred.cert_data && strncmp((const char *)cred.cert_data, "-----BEGIN CERTIFICATE-----\nAAA", 31) == 0);
    CHECK(cred.key_data && cred.key_len == strlen("-----BEGIN PRIVATE KEY-----\nBBB\n"));
    CHECK(conn.exec_expiry > time(NULL));
    kube_connection_free(&conn);
}

int main(void)
{
    RUN(test_v1beta1_cached_until_expiry);
    RUN(test_expired_token_runs_again);
    RUN(test_no_expiry_cached_for_good);
    RUN(test_provide_cluster_info);
    RUN(test_interactive_modes);
    RUN(test_missing_binary_install_hint);
    RUN(test_plugin_failures);
    RUN(test_client_certificate_output);
    RUN(test_timeout_kills_the_group);
    RUN(test_endless_output_stops_the_plugin);
    RUN(test_stderr_shown_sanitized);
    testutil_cleanup();
    TEST_MAIN_END();
}
