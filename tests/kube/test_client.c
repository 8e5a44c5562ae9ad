/* The HTTP client against a local plain-HTTP server: methods, headers,
 * Status errors, retries, 401 refresh, proxy paths, poll() integration. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kube_client.h"
#include "kube_testutil.h"
#include "test_http_server.h"
#include "testlib.h"

#define SECRET "s3cr3t-T0KEN-must-not-leak"

/* Every message the tests saw, checked at the end for the token. */
static char seen_messages[16384];

struct result {
    bool done;
    long http_status;
    struct kube_error error;
    bool has_status;
    struct kube_status status;
    char body[4096];
    char streamed[4096];
};

static void on_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    struct result *r = user;
    r->done = true;
    r->http_status = resp->http_status;
    r->error = resp->error;
    r->has_status = resp->has_status;
    r->status = resp->status;
    snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_len, resp->body);
    strncat(seen_messages, resp->error.message, sizeof seen_messages - strlen(seen_messages) - 2);
    strcat(seen_messages, "\n");
}

static bool on_stream(const char *data, size_t len, void *user)
{
    struct result *r = user;
    strncat(r->streamed, data, len < sizeof r->streamed - strlen(r->streamed) - 1 ? len : 0);
    return true;
}

static void wait_for(struct kube_client *c, struct result *r)
{
    for (int i = 0; i < 400 && !r->done; i++)
        kube_client_wait(c, 50);
}

static struct kube_connection conn;

static struct kube_client *client_for(struct test_server *s, const char *user_fields)
{
    char text[2048];
    snprintf(text, sizeof text,
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d/'}}]\n"
             "users: [{name: u, user: %s}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u, namespace: demo}}]\n"
             "current-context: x\n",
             s->port, user_fields);
    struct kube_config cfg;
    struct kube_error err = {0};
    if (kube_config_parse(text, strlen(text), NULL, &cfg, &err) < 0 ||
        kube_connection_from_config(&cfg, NULL, NULL, &conn, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        exit(2);
    }
    kube_config_free(&cfg);
    conn.stdin_is_terminal = false;
    struct kube_client *c = kube_client_new(&conn, &err);
    if (!c) {
        fprintf(stderr, "client: %s\n", err.message);
        exit(2);
    }
    return c;
}

static void done_client(struct kube_client *c)
{
    kube_client_free(c);
    kube_connection_free(&conn);
}

/* --- handlers ------------------------------------------------------------- */

static void echo_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    char body[2048];
    snprintf(body, sizeof body, "{\"method\":\"%s\",\"path\":\"%s\"}", req->method, req->path);
    ts_reply(fd, 200, "", "application/json", body);
}

static void test_get_with_bearer_token(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r = {0};
    CHECK(kube_client_get(c, "/api/v1/namespaces/demo/pods?limit=2", on_done, &r) != NULL);
    CHECK_INT(kube_client_pending(c), 1);
    wait_for(c, &r);
    CHECK(r.done);
    CHECK_INT(r.http_status, 200);
    CHECK_INT(r.error.code, KUBE_OK);
    CHECK_STR(r.body, "{\"method\":\"GET\",\"path\":\"/api/v1/namespaces/demo/pods?limit=2\"}");
    CHECK_STR(s.requests[0].authorization, "Bearer " SECRET);
    CHECK_CONTAINS(s.requests[0].accept_encoding, "gzip");
    CHECK_CONTAINS(s.requests[0].headers, "\r\nAccept: application/json");
    CHECK_INT(kube_client_pending(c), 0);
    done_client(c);
    ts_stop(&s);
}

static void test_impersonation_headers(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET ", as: jane, as-uid: '1234', as-groups: [sre, 'oncall team'],"
                                           " as-user-extra: {scopes.example.com/Role: [view, edit]}}");
    struct result r = {0};
    kube_client_get(c, "/api", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    const char *h = s.requests[0].headers;
    CHECK_CONTAINS(h, "\r\nImpersonate-User: jane\r\n");
    CHECK_CONTAINS(h, "\r\nImpersonate-Uid: 1234\r\n");
    CHECK_CONTAINS(h, "\r\nImpersonate-Group: sre\r\nImpersonate-Group: oncall team\r\n");
    CHECK_CONTAINS(h, "\r\nImpersonate-Extra-scopes.example.com%2FRole: view\r\n"
                      "Impersonate-Extra-scopes.example.com%2FRole: edit");
    done_client(c);
    ts_stop(&s);
}

static void test_basic_auth(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{username: admin, password: 'pa:ss'}");
    conn.disable_compression = true; /* read at each request */
    struct result r = {0};
    kube_client_delete(c, "/api/v1/namespaces/demo/pods/p1", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    CHECK_STR(s.requests[0].method, "DELETE");
    CHECK_STR(s.requests[0].authorization, "Basic YWRtaW46cGE6c3M=");
    CHECK_STR(s.requests[0].accept_encoding, "");
    done_client(c);
    ts_stop(&s);
}

/* A path whose "." or ".." segment would address another resource (a
 * DELETE of envoyfilters/. is one of the whole collection) never leaves:
 * the request fails with KUBE_BAD_PATH naming it, and the server sees
 * nothing; a dot inside a name or in the query is no segment. */
static void test_dot_segments_refused(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: t}");
    const char *const refused[] = {"/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/.",
                                   "/apis/apps/v1/namespaces/demo/deployments/..", "/api/v1/namespaces/../pods"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct result r = {0};
        kube_client_delete(c, refused[i], on_done, &r);
        wait_for(c, &r);
        CHECK_INT(r.error.code, KUBE_BAD_PATH);
        CHECK_CONTAINS(r.error.message, refused[i]);
    }
    CHECK_INT(s.n_requests, 0);
    struct result r = {0};
    kube_client_get(c, "/api/v1/namespaces/demo/pods/a..b?fieldSelector=x%3D..", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    CHECK_INT(s.n_requests, 1);
    done_client(c);
    ts_stop(&s);
}

static const char *const status_bodies[] = {
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"pods is forbidden: User \\\"system:serviceaccount:demo:hfitop\\\" cannot list resource "
    "\\\"pods\\\" in API group \\\"\\\" in the namespace \\\"demo\\\"\",\"reason\":\"Forbidden\","
    "\"details\":{\"kind\":\"pods\"},\"code\":403}",
    "{\n\t\"kind\": \"Status\",\n\t\"apiVersion\": \"v1\",\n\t\"metadata\": {\n\n\t},\n\t\"status\": "
    "\"Failure\",\n\t\"message\": \"deployments.apps \\\"web\\\" not found\",\n\t\"reason\": "
    "\"NotFound\",\n\t\"details\": {\"name\": \"web\", \"group\": \"apps\", \"kind\": "
    "\"deployments\"},\n\t\"code\": 404\n}",
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"Operation cannot be fulfilled on deployments.apps \\\"web\\\": the object has been modified\","
    "\"reason\":\"Conflict\",\"details\":{\"name\":\"web\",\"group\":\"apps\",\"kind\":\"deployments\"},"
    "\"code\":409}",
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"too old resource version: 1 (3171407)\",\"reason\":\"Expired\",\"code\":410}",
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"EnvoyFilter.networking.istio.io \\\"hfi\\\" is invalid: spec.configPatches: Required value\","
    "\"reason\":\"Invalid\",\"details\":{\"name\":\"hfi\",\"kind\":\"EnvoyFilter\",\"causes\":"
    "[{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":"
    "\"spec.configPatches\"}]},\"code\":422}",
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"object is being deleted: envoyfilters \\\"hfi\\\" already exists\",\"reason\":\"AlreadyExists\","
    "\"code\":409}",
};
static const int status_codes[] = {403, 404, 409, 410, 422, 409};

static void status_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    int i = atoi(strrchr(req->path, '/') + 1);
    if (i < 6)
        ts_reply(fd, status_codes[i], "", "application/json", status_bodies[i]);
    else if (i == 6)
        ts_reply(fd, 502, "", "text/html", "\r\n<html>Bad Gateway</html>\nmore\n");
    else
        ts_reply(fd, 404, "", "text/plain", "404 page not found\n");
}

static void test_status_errors(void)
{
    struct test_server s;
    ts_start(&s, status_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r[8] = {{0}};
    for (int i = 0; i < 8; i++) {
        char path[64];
        snprintf(path, sizeof path, "/status/%d", i);
        struct kube_request_options o = {.method = KUBE_GET, .path = path, .max_retries = -1};
        kube_client_start(c, &o, on_done, &r[i]);
    }
    for (int i = 0; i < 8; i++)
        wait_for(c, &r[i]);
    CHECK_INT(r[0].error.code, KUBE_FORBIDDEN);
    CHECK_INT(r[0].error.http_status, 403);
    CHECK_CONTAINS(r[0].error.message, "cannot list resource \"pods\" in API group \"\" in the namespace \"demo\"");
    CHECK_STR(r[0].status.details_kind, "pods");
    CHECK_INT(r[1].error.code, KUBE_NOT_FOUND);
    CHECK_STR(r[1].error.message, "deployments.apps \"web\" not found");
    CHECK_STR(r[1].status.details_name, "web");
    CHECK_INT(r[2].error.code, KUBE_CONFLICT);
    CHECK_INT(r[3].error.code, KUBE_EXPIRED);
    CHECK_INT(r[3].status.code, 410);
    CHECK_INT(r[4].error.code, KUBE_INVALID);
    CHECK_CONTAINS(r[4].error.message, "is invalid: spec.configPatches");
    CHECK_INT(r[5].error.code, KUBE_ALREADY_EXISTS);
    CHECK_INT(r[6].error.code, KUBE_INTERNAL_ERROR);
    CHECK(!r[6].has_status);
    CHECK_STR(r[6].error.message, "internal error (HTTP 502): <html>Bad Gateway</html>");
    CHECK_INT(r[7].error.code, KUBE_NOT_FOUND);
    CHECK_STR(r[7].error.message, "not found (HTTP 404): 404 page not found");
    CHECK_STR(r[7].body, "404 page not found\n");
    done_client(c);
    ts_stop(&s);
}

/* Real Status answers captured from API servers, when the shared folder is present. */
static void test_real_status_files(void)
{
    const char *dir = "/work/shared/realdata/k8s_status";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json") || strstr(de->d_name, ".jsonl"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        struct kube_status st;
        CHECK(kube_status_parse(buf, n, &st));
        CHECK(st.code >= 400 && st.reason[0] && st.message[0]);
        CHECK(kube_code_from_http(st.code, st.reason) != KUBE_HTTP_OTHER);
    }
    closedir(d);
    struct kube_status st;
    CHECK(!kube_status_parse("{\"kind\":\"Pod\"}", 14, &st));
    CHECK(!kube_status_parse("not json", 8, &st));
}

/* /flaky: 429 then 503, both with Retry-After 0, then 200. /later: 429
 * with Retry-After 30. Anything else: 503 without a hint. */
static void retry_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    if (strstr(req->path, "/later")) {
        ts_reply(fd, 429, "Retry-After: 30\r\n", "text/plain", "later");
    } else if (strstr(req->path, "/flaky")) {
        if (index == 0)
            ts_reply(fd, 429, "Retry-After: 0\r\n", "application/json",
                     "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429,\"message\":\"slow down\"}");
        else if (index == 1)
            ts_reply(fd, 503, "Retry-After: 0\r\n", "text/plain", "unavailable");
        else
            ts_reply(fd, 200, "", "application/json", "{}");
    } else {
        ts_reply(fd, 503, "", "text/plain", "no hint, no retry");
    }
}

static void test_retry_after(void)
{
    struct test_server s;
    ts_start(&s, retry_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r = {0};
    kube_client_get(c, "/flaky", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    CHECK_INT(ts_count(&s), 3);

    struct result r2 = {0};
    kube_client_get(c, "/hopeless", on_done, &r2);
    wait_for(c, &r2);
    CHECK_INT(r2.http_status, 503);
    CHECK_INT(r2.error.code, KUBE_SERVICE_UNAVAILABLE);
    CHECK_INT(ts_count(&s), 4);

    /* A retry waits for Retry-After: the client asks to be woken then. */
    struct result r3 = {0};
    struct kube_request *later = kube_client_get(c, "/later", on_done, &r3);
    for (int i = 0; i < 200 && ts_count(&s) < 5; i++)
        kube_client_wait(c, 20);
    for (int i = 0; i < 50 && kube_client_timeout_ms(c) < 20000; i++)
        kube_client_wait(c, 20);
    int wait_ms = kube_client_timeout_ms(c);
    CHECK(wait_ms > 20000 && wait_ms <= 30000);
    CHECK(!r3.done);
    kube_request_cancel(later);
    CHECK_INT(kube_client_pending(c), 0);
    done_client(c);
    ts_stop(&s);
}

static void unauthorized_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    if (strcmp(req->authorization, "Bearer fresh-token") == 0)
        ts_reply(fd, 200, "", "application/json", "{\"ok\":true}");
    else
        ts_reply(fd, 401, "", "application/json",
                 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                 "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
}

static void test_401_runs_exec_plugin_again(void)
{
    /* The plugin hands out an old token first and a fresh one afterwards. */
    char script[1024];
    snprintf(script, sizeof script,
             "#!/bin/sh\nf=\"$(dirname \"$0\")/rotating.count\"\n"
             "if [ -e \"$f\" ]; then t=fresh-token; else t=stale-token; touch \"$f\"; fi\n"
             "echo \"{\\\"apiVersion\\\":\\\"client.authentication.k8s.io/v1beta1\\\",\\\"kind\\\":\\\"ExecCredential\\\","
             "\\\"status\\\":{\\\"token\\\":\\\"$t\\\",\\\"expirationTimestamp\\\":\\\"2999-01-01T00:00:00Z\\\"}}\"\n");
    const char *plugin = testutil_write("client/rotating", script, 0755);
    char user[1024];
    snprintf(user, sizeof user, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '%s'}}", plugin);
    struct test_server s;
    ts_start(&s, unauthorized_handler, NULL, 20);
    struct kube_client *c = client_for(&s, user);
    struct result r = {0};
    kube_client_get(c, "/api/v1/namespaces", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    CHECK_INT(conn.exec_runs, 2);
    CHECK_INT(ts_count(&s), 2);
    CHECK_STR(s.requests[0].authorization, "Bearer stale-token");
    done_client(c);
    ts_stop(&s);

    /* A token that stays rejected: one re-run, then the 401 is reported. */
    const char *stuck = testutil_write("client/stuck",
                                       "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
                                       "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\"}}'\n", 0755);
    snprintf(user, sizeof user, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '%s'}}", stuck);
    ts_start(&s, unauthorized_handler, NULL, 20);
    c = client_for(&s, user);
    struct result r2 = {0};
    kube_client_get(c, "/api/v1/namespaces", on_done, &r2);
    wait_for(c, &r2);
    CHECK_INT(r2.http_status, 401);
    CHECK_INT(r2.error.code, KUBE_UNAUTHORIZED);
    CHECK_INT(conn.exec_runs, 2);
    CHECK_INT(ts_count(&s), 2);
    done_client(c);
    ts_stop(&s);
}

/* A plugin that waits until the test lets it answer: the poll loop keeps
 * turning meanwhile (a blocking run would hang here until the plugin's
 * own timeout). */
static void test_exec_plugin_does_not_block_the_loop(void)
{
    char go[600], script[1600];
    snprintf(go, sizeof go, "%s/client/go", testutil_tmpdir());
    snprintf(script, sizeof script,
             "#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.05; done\n"
             "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
             "\"status\":{\"token\":\"fresh-token\"}}'\n",
             go);
    const char *plugin = testutil_write("client/waiting", script, 0755);
    char user[1024];
    snprintf(user, sizeof user, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '%s'}}", plugin);
    struct test_server s;
    ts_start(&s, unauthorized_handler, NULL, 20);
    struct kube_client *c = client_for(&s, user);
    conn.exec_timeout_seconds = 15;
    struct result r1 = {0}, r2 = {0};
    kube_client_get(c, "/api/v1/namespaces", on_done, &r1);
    kube_client_get(c, "/api/v1/nodes", on_done, &r2);
    int turns = 0;
    for (; turns < 20; turns++)
        kube_client_wait(c, 10);
    CHECK(!r1.done && !r2.done);
    CHECK_INT(conn.exec_runs, 1); /* one run serves both requests */
    struct pollfd fds[8];
    CHECK(kube_client_pollfds(c, fds, 8) >= 1); /* the plugin's output is polled */
    testutil_write("client/go", "", 0644);
    wait_for(c, &r1);
    wait_for(c, &r2);
    CHECK_INT(r1.http_status, 200);
    CHECK_INT(r2.http_status, 200);
    CHECK_INT(conn.exec_runs, 1);
    done_client(c);

    /* Freeing the client while a plugin runs kills it. */
    snprintf(script, sizeof script, "#!/bin/sh\nexec sleep 30\n");
    plugin = testutil_write("client/sleeper", script, 0755);
    snprintf(user, sizeof user, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '%s'}}", plugin);
    c = client_for(&s, user);
    struct result r3 = {0};
    kube_client_get(c, "/api/v1/namespaces", on_done, &r3);
    for (int i = 0; i < 5; i++)
        kube_client_wait(c, 10);
    CHECK_INT(conn.exec_runs, 1);
    done_client(c);
    CHECK(!r3.done);
    ts_stop(&s);
}

static void test_exec_failure_reported_through_callback(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
                                           "command: no-such-plugin-here, installHint: 'brew install it'}}");
    struct result r = {0};
    kube_client_get(c, "/api", on_done, &r);
    wait_for(c, &r);
    CHECK(r.done);
    CHECK_INT(r.error.code, KUBE_EXEC_NOT_FOUND);
    CHECK_CONTAINS(r.error.message, "brew install it");
    CHECK_INT(ts_count(&s), 0);
    done_client(c);
    ts_stop(&s);
}

static void test_patch_and_apply(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r1 = {0}, r2 = {0}, r3 = {0};
    const char *restart = "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
                          "\"kubectl.kubernetes.io/restartedAt\":\"2026-01-01T00:00:00Z\"}}}}}";
    kube_client_patch(c, "/apis/apps/v1/namespaces/demo/deployments/web", KUBE_PATCH_STRATEGIC,
                      restart, strlen(restart), NULL, false, on_done, &r1);
    const char *yaml = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n";
    kube_client_patch(c, "/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi",
                      KUBE_PATCH_APPLY, yaml, strlen(yaml), "hfitop", true, on_done, &r2);
    kube_client_patch(c, "/api/v1/namespaces/demo/pods/p?dryRun=All", KUBE_PATCH_MERGE, "{}", 2,
                      "hfi top", false, on_done, &r3);
    wait_for(c, &r1);
    wait_for(c, &r2);
    wait_for(c, &r3);
    CHECK_INT(ts_count(&s), 3);
    for (int i = 0; i < ts_count(&s); i++) {
        const struct ts_request *q = &s.requests[i];
        CHECK_STR(q->method, "PATCH");
        if (strstr(q->path, "deployments/web")) {
            CHECK_STR(q->content_type, "application/strategic-merge-patch+json");
            CHECK_STR(q->body, restart);
            CHECK_STR(q->path, "/apis/apps/v1/namespaces/demo/deployments/web");
        } else if (strstr(q->path, "envoyfilters")) {
            CHECK_STR(q->content_type, "application/apply-patch+yaml");
            CHECK_STR(q->path, "/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi"
                               "?fieldManager=hfitop&force=true");
            CHECK_STR(q->body, yaml);
        } else {
            CHECK_STR(q->content_type, "application/merge-patch+json");
            CHECK_STR(q->path, "/api/v1/namespaces/demo/pods/p?dryRun=All&fieldManager=hfi%20top");
        }
    }
    struct result r4 = {0};
    kube_client_post(c, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "{}", 2, on_done, &r4);
    wait_for(c, &r4);
    CHECK_CONTAINS(r4.body, "\"method\":\"POST\"");
    done_client(c);
    ts_stop(&s);
}

static void slow_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    if (strstr(req->path, "slow")) {
        usleep(1500 * 1000);
        ts_reply(fd, 200, "", "text/plain", "late");
    } else {
        ts_reply(fd, 200, "", "text/plain", "# TYPE x counter\nx 1\n");
    }
}

static void test_proxy_helpers_and_timeout(void)
{
    struct test_server s;
    ts_start(&s, slow_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r1 = {0}, r2 = {0}, r3 = {0};
    char *filter = kube_url_escape("wasmcustom|hfi_faults");
    char path[256];
    snprintf(path, sizeof path, "/stats/prometheus?filter=%s", filter);
    free(filter);
    kube_client_pod_proxy_get(c, "demo", "web-7d4b9c-x2x", 15090, path, 2000, on_done, &r1);
    const char *fault[] = {"x-hfi-fault-abort: 503", "x-hfi-fault-token: tok-123", NULL};
    struct kube_request_options fire = {.method = KUBE_GET,
                                        .path = "/api/v1/namespaces/demo/services/frontend:http/proxy/product/1",
                                        .timeout_ms = 2000, .max_retries = -1, .extra_headers = fault};
    kube_client_start(c, &fire, on_done, &r2);
    kube_client_pod_proxy_get(c, "demo", "slow", 15090, "/stats/prometheus", 300, on_done, &r3);
    wait_for(c, &r1);
    wait_for(c, &r2);
    wait_for(c, &r3);
    CHECK_STR(r1.body, "# TYPE x counter\nx 1\n");
    for (int i = 0; i < ts_count(&s); i++)
        if (strstr(s.requests[i].path, "/pods/web-7d4b9c-x2x:15090/"))
            CHECK_CONTAINS(s.requests[i].headers, "\r\nAccept: text/plain, */*");
    CHECK_INT(r3.error.code, KUBE_TIMEOUT);
    CHECK_INT(r3.http_status, 0);
    /* The cause, not libcurl's wording of it. */
    CHECK_CONTAINS(r3.error.message, "no complete answer within 300 ms (the request timed out)");
    bool saw_pod = false, saw_service = false;
    for (int i = 0; i < ts_count(&s); i++) {
        saw_pod |= strcmp(s.requests[i].path, "/api/v1/namespaces/demo/pods/web-7d4b9c-x2x:15090/proxy"
                                              "/stats/prometheus?filter=wasmcustom%7Chfi_faults") == 0;
        if (strcmp(s.requests[i].path, "/api/v1/namespaces/demo/services/frontend:http/proxy/product/1") == 0) {
            saw_service = true;
            CHECK_CONTAINS(s.requests[i].headers, "\r\nx-hfi-fault-abort: 503\r\n");
            CHECK_CONTAINS(s.requests[i].headers, "\r\nx-hfi-fault-token: tok-123");
        }
    }
    CHECK(saw_pod);
    CHECK(saw_service);
    done_client(c);
    ts_stop(&s);
}

static void cut_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)req;
    (void)index;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nx 1\n";
    ts_write_all(fd, head, strlen(head));
}

/* An answer that stops before its end names that, and answers larger than
 * their cap stop being read, with the cap in the message. */
static void test_cut_and_oversized_answers(void)
{
    struct test_server s;
    ts_start(&s, cut_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r = {0};
    kube_client_get(c, "/cut", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.error.code, KUBE_TRANSPORT);
    CHECK_CONTAINS(r.error.message, "/cut: the connection broke off before the answer was complete");
    done_client(c);
    ts_stop(&s);

    ts_start(&s, echo_handler, NULL, 20);
    c = client_for(&s, "{token: " SECRET "}");
    struct result big = {0};
    struct kube_request_options o = {.method = KUBE_GET, .path = "/a-long-path-to-echo", .max_body = 8};
    kube_client_start(c, &o, on_done, &big);
    wait_for(c, &big);
    CHECK_INT(big.error.code, KUBE_TOO_LARGE);
    CHECK_CONTAINS(big.error.message, "answer larger than 8 bytes, stopped reading");
    done_client(c);
    ts_stop(&s);
}

/* A waiter whose answer starts a follow-up request, as an action's step does. */
struct chained {
    struct kube_client *client;
    struct result first, second;
};

static void on_first_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    struct chained *ch = user;
    on_done(req, resp, &ch->first);
    struct kube_request_options o = {.method = KUBE_GET, .path = "/next", .delay_ms = 100000};
    kube_client_start(ch->client, &o, on_done, &ch->second);
}

/* Pending requests end with KUBE_CANCELLED, so their owners free what they
 * hold; nothing is dropped silently, follow-ups included. */
static void test_cancel_pending_answers_everyone(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct chained ch = {.client = c};
    struct kube_request_options later = {.method = KUBE_GET, .path = "/later", .delay_ms = 100000};
    kube_client_start(c, &later, on_first_done, &ch);
    kube_client_wait(c, 10);
    CHECK_INT(kube_client_pending(c), 1);
    kube_client_cancel_pending(c, "context switched");
    CHECK(ch.first.done && ch.second.done);
    CHECK_INT(ch.first.error.code, KUBE_CANCELLED);
    CHECK_CONTAINS(ch.first.error.message, "GET /later: context switched");
    CHECK_INT(ch.second.error.code, KUBE_CANCELLED);
    CHECK_INT(kube_client_pending(c), 0);
    done_client(c);
    ts_stop(&s);
}

static void test_connection_refused(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    ts_stop(&s); /* nobody listens on the port any more */
    struct result r = {0};
    kube_client_get(c, "/api", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.error.code, KUBE_CONNECT);
    CHECK_CONTAINS(r.error.message, "GET http://127.0.0.1:");
    done_client(c);
}

static void stream_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    if (strstr(req->path, "denied")) {
        ts_reply(fd, 403, "", "application/json",
                 "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,\"message\":\"no watch for you\"}");
        return;
    }
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    ts_write_all(fd, head, strlen(head));
    const char *parts[] = {"{\"type\":\"ADD", "ED\"}\n{\"type\":", "\"DELETED\"}\n"};
    for (int i = 0; i < 3; i++) {
        char chunk[128];
        int n = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(parts[i]), parts[i]);
        ts_write_all(fd, chunk, (size_t)n);
        usleep(20000);
    }
    ts_write_all(fd, "0\r\n\r\n", 5);
}

/* The UI's loop: its own fd (a pipe here) polled alongside the client's. */
static void test_streaming_in_a_ui_poll_loop(void)
{
    struct test_server s;
    ts_start(&s, stream_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    int keyboard[2];
    CHECK_INT(pipe(keyboard), 0);
    struct result r = {0}, denied = {0};
    struct kube_request_options o = {.method = KUBE_GET, .path = "/api/v1/pods?watch=1", .on_data = on_stream};
    kube_client_start(c, &o, on_done, &r);
    struct kube_request_options o2 = {.method = KUBE_GET, .path = "/denied?watch=1", .on_data = on_stream};
    kube_client_start(c, &o2, on_done, &denied);
    CHECK_INT(kube_client_timeout_ms(c), 0);
    bool key_seen = false;
    for (int i = 0; i < 400 && !(r.done && denied.done && key_seen); i++) {
        if (i == 3)
            CHECK_INT(write(keyboard[1], "q", 1), 1);
        struct pollfd fds[32] = {{.fd = keyboard[0], .events = POLLIN}};
        int n = 1 + kube_client_pollfds(c, fds + 1, 31);
        int timeout = kube_client_timeout_ms(c);
        poll(fds, (nfds_t)n, timeout < 0 || timeout > 50 ? 50 : timeout);
        if (fds[0].revents & POLLIN) {
            char ch;
            key_seen = read(keyboard[0], &ch, 1) == 1 && ch == 'q';
        }
        kube_client_dispatch(c, fds + 1, n - 1);
    }
    CHECK(key_seen);
    CHECK_INT(r.http_status, 200);
    CHECK_STR(r.streamed, "{\"type\":\"ADDED\"}\n{\"type\":\"DELETED\"}\n");
    CHECK_STR(r.body, "");
    CHECK_INT(denied.error.code, KUBE_FORBIDDEN);
    CHECK_STR(denied.streamed, "");
    CHECK_STR(denied.error.message, "no watch for you");
    close(keyboard[0]);
    close(keyboard[1]);
    done_client(c);
    ts_stop(&s);
}

static void never_handler(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)req;
    (void)index;
    for (int i = 0; i < 100 && !s->stop; i++)
        usleep(20000);
    (void)fd;
}

static void cancel_on_done(struct kube_request *req, const struct kube_response *resp, void *user)
{
    (void)req;
    (void)resp;
    kube_request_cancel(user);
}

static void test_cancel(void)
{
    struct test_server s;
    ts_start(&s, never_handler, NULL, 20);
    struct kube_client *c = client_for(&s, "{token: " SECRET "}");
    struct result r = {0};
    struct kube_request *req = kube_client_get(c, "/hangs", on_done, &r);
    for (int i = 0; i < 5; i++)
        kube_client_wait(c, 20);
    kube_request_cancel(req);
    CHECK_INT(kube_client_pending(c), 0);
    /* Cancelling another request from inside a callback is deferred safely. */
    struct kube_request *victim = kube_client_get(c, "/hangs", on_done, &r);
    struct kube_request_options o = {.method = KUBE_GET, .path = "/hangs", .timeout_ms = 100};
    kube_client_start(c, &o, cancel_on_done, victim);
    for (int i = 0; i < 40 && kube_client_pending(c); i++)
        kube_client_wait(c, 50);
    CHECK_INT(kube_client_pending(c), 0);
    CHECK(!r.done);
    done_client(c);
    ts_stop(&s);
}

/* proxy-url: requests go to the proxy, in absolute form. */
static void test_proxy_url(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    char text[1024];
    snprintf(text, sizeof text,
             "clusters: [{name: c, cluster: {server: 'http://api.invalid:6443', proxy-url: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {token: " SECRET "}}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
             s.port);
    struct kube_config cfg;
    struct kube_error err = {0};
    CHECK_INT(kube_config_parse(text, strlen(text), NULL, &cfg, &err), 0);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    kube_config_free(&cfg);
    struct kube_client *c = kube_client_new(&conn, &err);
    struct result r = {0};
    kube_client_get(c, "/api/v1/namespaces", on_done, &r);
    wait_for(c, &r);
    CHECK_INT(r.http_status, 200);
    CHECK_STR(s.requests[0].path, "http://api.invalid:6443/api/v1/namespaces");
    CHECK_STR(s.requests[0].host, "api.invalid:6443");
    done_client(c);
    ts_stop(&s);
}

/* IPv4 in brackets, as Istio CNI writes it. */
static void test_bracketed_ipv4_server(void)
{
    struct test_server s;
    ts_start(&s, echo_handler, NULL, 20);
    char text[1024];
    snprintf(text, sizeof text,
             "clusters: [{name: c, cluster: {server: 'http://[127.0.0.1]:%d'}}]\n"
             "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
             s.port);
    struct kube_config cfg;
    struct kube_error err = {0};
    CHECK_INT(kube_config_parse(text, strlen(text), NULL, &cfg, &err), 0);
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &conn, &err), 0);
    kube_config_free(&cfg);
    struct kube_client *c = kube_client_new(&conn, &err);
    CHECK(c != NULL);
    if (c) {
        struct result r = {0};
        kube_client_get(c, "/version", on_done, &r);
        wait_for(c, &r);
        CHECK_INT(r.http_status, 200);
    }
    done_client(c);
    ts_stop(&s);
}

static void test_bad_server_url(void)
{
    const char *text = "clusters: [{name: c, cluster: {server: 'htto://exampleerror.com'}}]\n"
                       "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n";
    struct kube_config cfg;
    struct kube_error err = {0};
    CHECK_INT(kube_config_parse(text, strlen(text), NULL, &cfg, &err), 0);
    struct kube_connection k;
    CHECK_INT(kube_connection_from_config(&cfg, NULL, NULL, &k, &err), 0);
    CHECK(kube_client_new(&k, &err) == NULL);
    CHECK_CONTAINS(err.message, "is not an http(s) URL");
    kube_connection_free(&k);
    kube_config_free(&cfg);
}

static void test_token_never_in_messages(void)
{
    CHECK(strstr(seen_messages, SECRET) == NULL);
    CHECK(strstr(seen_messages, "stale-token") == NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server writes to clients that gave up */
    RUN(test_get_with_bearer_token);
    RUN(test_basic_auth);
    RUN(test_dot_segments_refused);
    RUN(test_impersonation_headers);
    RUN(test_status_errors);
    RUN(test_real_status_files);
    RUN(test_retry_after);
    RUN(test_401_runs_exec_plugin_again);
    RUN(test_exec_plugin_does_not_block_the_loop);
    RUN(test_exec_failure_reported_through_callback);
    RUN(test_patch_and_apply);
    RUN(test_proxy_helpers_and_timeout);
    RUN(test_connection_refused);
    RUN(test_streaming_in_a_ui_poll_loop);
    RUN(test_cancel);
    RUN(test_proxy_url);
    RUN(test_bracketed_ipv4_server);
    RUN(test_bad_server_url);
    RUN(test_token_never_in_messages);
    RUN(test_cancel_pending_answers_everyone);
    RUN(test_cut_and_oversized_answers);
    testutil_cleanup();
    TEST_MAIN_END();
}
