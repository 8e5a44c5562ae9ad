/* The pod model, and list + watch against a scripted local server:
 * paging, bookmarks, 410 relists (event and HTTP), normal stream ends,
 * ReplicaSet owner lookup, stopping from inside a callback. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kube_pods.h"
#include "test_http_server.h"
#include "testlib.h"

/* A pod as the API server writes it: `init_sidecar` puts istio-proxy in
 * initContainers as a native sidecar. */
static char *pod_json(const char *name, const char *rv, bool init_sidecar)
{
    static char buf[8][4096];
    static int next;
    char *out = buf[next++ % 8];
    const char *proxy = "{\"name\":\"istio-proxy\",\"image\":\"docker.io/istio/proxyv2:1.24.0\","
                        "\"restartPolicy\":\"Always\",\"ports\":[{\"containerPort\":15090,\"name\":\"http-envoy-prom\"}],"
                        "\"env\":[{\"name\":\"BOOTSTRAP_XDS_AGENT\",\"value\":\"true\"},"
                        "{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
                        "{\"name\":\"PROXY_CONFIG\",\"value\":\"{\\\"proxyStatsMatcher\\\":{}}\\n\"}]}";
    snprintf(out, 4096,
             "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"demo\","
             "\"uid\":\"u-%s\",\"resourceVersion\":\"%s\",\"creationTimestamp\":\"2026-11-20T10:00:00Z\","
             "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"5d9c7b\"},"
             "\"annotations\":{\"sidecar.istio.io/status\":\"{\\\"containers\\\":[\\\"istio-proxy\\\"]}\","
             "\"proxy.istio.io/config\":\"proxyStatsMatcher:\\n  inclusionPrefixes: [wasmcustom.]\\n\"},"
             "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-5d9c7b\","
             "\"controller\":true,\"uid\":\"rs\"}]},"
             "\"spec\":{\"nodeName\":\"node-1\",\"initContainers\":[{\"name\":\"istio-init\",\"image\":\"x\"}%s%s],"
             "\"containers\":[{\"name\":\"web\",\"image\":\"web:1\",\"ports\":[{\"containerPort\":8080,"
             "\"name\":\"http\",\"protocol\":\"TCP\"},{\"containerPort\":9090}]}%s%s]},"
             "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.7\",\"startTime\":\"2026-11-20T10:00:05Z\","
             "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":\"Ready\",\"status\":\"True\"}],"
             "\"initContainerStatuses\":[{\"name\":\"istio-init\",\"restartCount\":7}%s],"
             "\"containerStatuses\":[{\"name\":\"web\",\"restartCount\":2}%s]}}",
             name, name, rv, init_sidecar ? "," : "", init_sidecar ? proxy : "", init_sidecar ? "" : ",",
             init_sidecar ? "" : proxy,
             init_sidecar ? ",{\"name\":\"istio-proxy\",\"restartCount\":1,"
                            "\"state\":{\"running\":{\"startedAt\":\"2026-11-20T10:03:05Z\"}}}"
                          : "",
             init_sidecar ? ""
                          : ",{\"name\":\"istio-proxy\",\"restartCount\":1,"
                            "\"state\":{\"running\":{\"startedAt\":\"2026-11-20T10:03:05Z\"}}}");
    return out;
}

static void test_pod_model(void)
{
    for (int native = 0; native < 2; native++) {
        cJSON *obj = cJSON_Parse(pod_json("web-5d9c7b-abcde", "42", native));
        struct kube_pod p;
        CHECK_INT(kube_pod_from_json(obj, &p), 0);
        CHECK_STR(p.name, "web-5d9c7b-abcde");
        CHECK_STR(p.namespace, "demo");
        CHECK_STR(p.phase, "Running");
        CHECK(p.ready);
        CHECK(p.has_sidecar);
        CHECK_INT(p.sidecar_native, native);
        CHECK_INT(p.restarts, 3); /* web 2 + istio-proxy 1; istio-init is not a sidecar */
        CHECK_STR(kube_pod_sidecar_env(&p, "BOOTSTRAP_XDS_AGENT"), "true");
        CHECK(kube_pod_sidecar_env(&p, "POD_NAME") == NULL);
        CHECK_STR(kube_pod_sidecar_env(&p, "PROXY_CONFIG"), "{\"proxyStatsMatcher\":{}}\n");
        CHECK_STR(p.sidecar_image, "docker.io/istio/proxyv2:1.24.0");
        CHECK_INT(p.n_ports, 2);
        CHECK_INT(p.ports[0].port, 8080);
        CHECK_STR(p.ports[0].name, "http");
        CHECK_STR(p.ports[0].container, "web");
        CHECK_STR(p.ports[1].protocol, "TCP");
        CHECK_STR(kube_pod_label(&p, "app"), "web");
        CHECK_CONTAINS(kube_pod_annotation(&p, "proxy.istio.io/config"), "inclusionPrefixes: [wasmcustom.]");
        CHECK_STR(p.owner_kind, "ReplicaSet");
        CHECK_STR(p.deployment, "web");
        CHECK_INT(p.start_time - p.created, 5);
        /* istio-proxy's own status: the doctor's reference for restarts. */
        CHECK_INT(p.sidecar_restarts, 1);
        CHECK_INT(p.sidecar_started - p.created, 185);
        CHECK_STR(p.pod_ip, "10.0.0.7");
        kube_pod_free(&p);
        cJSON_Delete(obj);
    }
    cJSON *bare = cJSON_Parse("{\"metadata\":{\"name\":\"lonely\"}}");
    struct kube_pod p;
    CHECK_INT(kube_pod_from_json(bare, &p), 0);
    CHECK(!p.has_sidecar && !p.ready && p.deployment == NULL);
    CHECK_STR(p.phase, "");
    kube_pod_free(&p);
    cJSON_Delete(bare);
    cJSON *nameless = cJSON_Parse("{\"metadata\":{}}");
    CHECK_INT(kube_pod_from_json(nameless, &p), -1);
    cJSON_Delete(nameless);
}

static void test_deployment_names(void)
{
    char *d;
    CHECK_STR(d = kube_deployment_from_replicaset("web-frontend-5d9c7b", "5d9c7b"), "web-frontend");
    free(d);
    CHECK_STR(d = kube_deployment_from_replicaset("reviews-v2-7f6c9d8b4", NULL), "reviews-v2");
    free(d);
    CHECK(kube_deployment_from_replicaset("standalone", NULL) == NULL);
    CHECK(kube_deployment_from_replicaset("x-NotAHash", NULL) == NULL);
    CHECK(kube_deployment_from_replicaset("x-", NULL) == NULL);
    CHECK(kube_deployment_from_replicaset(NULL, NULL) == NULL);
}

/* A real injected pod (Istio 1.12) when the shared folder is present. */
static void test_real_injected_pod(void)
{
    FILE *f = fopen("/work/shared/realdata/k8s_json/istio-1.12.1-injected-pod-httpbin.json", "r");
    if (!f)
        return;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cJSON *obj = cJSON_ParseWithLength(buf, n);
    struct kube_pod p;
    CHECK_INT(kube_pod_from_json(obj, &p), 0);
    CHECK(p.has_sidecar && !p.sidecar_native);
    CHECK_STR(p.deployment, "httpbin");
    CHECK_STR(kube_pod_sidecar_env(&p, "ISTIO_META_WORKLOAD_NAME"), "httpbin");
    CHECK_INT(p.n_ports, 1);
    CHECK_INT(p.ports[0].port, 80);
    kube_pod_free(&p);
    cJSON_Delete(obj);
}

/* --- list + watch ------------------------------------------------------------- */

static int list_calls, watch_calls;

static void list_page(int fd, const char *items, const char *rv, const char *cont)
{
    char body[32768];
    snprintf(body, sizeof body,
             "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"%s\"%s%s%s},"
             "\"items\":[%s]}",
             rv, cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "", items);
    ts_reply(fd, 200, "", "application/json", body);
}

static void stream(struct test_server *s, int fd, const char *const *events, int n, bool hold)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    ts_write_all(fd, head, strlen(head));
    for (int i = 0; i < n; i++) {
        char chunk[8192];
        int len = snprintf(chunk, sizeof chunk, "%zx\r\n%s\n\r\n", strlen(events[i]) + 1, events[i]);
        ts_write_all(fd, chunk, (size_t)len);
    }
    for (int i = 0; hold && i < 150 && !s->stop; i++)
        usleep(20000);
    ts_write_all(fd, "0\r\n\r\n", 5);
}

static char event_buf[4][8192];
static const char *event(const char *type, const char *pod)
{
    static int next;
    char *out = event_buf[next++ % 4];
    snprintf(out, sizeof event_buf[0], "{\"type\":\"%s\",\"object\":%s}", type, pod);
    return out;
}

static void cluster(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)index;
    const char *p = req->path;
    if (strstr(p, "/replicasets/web-5d9c7b")) {
        ts_reply(fd, 200, "", "application/json",
                 "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-5d9c7b\",\"ownerReferences\":"
                 "[{\"kind\":\"Deployment\",\"name\":\"web-frontend\",\"controller\":true}]}}");
    } else if (strstr(p, "watch=1")) {
        int call = ++watch_calls;
        if (call == 1 && strstr(p, "resourceVersion=100&")) {
            const char *ev[] = {event("ADDED", pod_json("d", "101", false)),
                                event("MODIFIED", pod_json("a", "102", true)),
                                "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\","
                                "\"namespace\":\"demo\",\"resourceVersion\":\"103\"}}}",
                                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
                                "{\"resourceVersion\":\"110\"}}}"};
            stream(s, fd, ev, 4, false); /* the server ends the stream: normal */
        } else if (call == 2 && strstr(p, "resourceVersion=110&")) {
            const char *ev[] = {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
                                "110 (250)\",\"reason\":\"Expired\",\"code\":410}}"};
            stream(s, fd, ev, 1, true);
        } else if (call == 3 && strstr(p, "resourceVersion=200&")) {
            ts_reply(fd, 410, "", "application/json",
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                     "\"message\":\"too old resource version\",\"reason\":\"Expired\",\"code\":410}");
        } else {
            stream(s, fd, NULL, 0, true);
        }
    } else if (strstr(p, "/api/v1/namespaces/demo/pods?limit=2")) {
        int call = ++list_calls;
        char items[24000];
        if (call == 1 && !strstr(p, "continue=")) {
            snprintf(items, sizeof items, "%s,%s", pod_json("a", "11", false), pod_json("b", "12", false));
            list_page(fd, items, "", "tok%2Fen=");
        } else if (call == 2 && strstr(p, "continue=tok%252Fen%3D")) {
            list_page(fd, pod_json("c", "13", false), "100", NULL);
        } else {
            snprintf(items, sizeof items, "%s,%s,%s", pod_json("a", "102", true), pod_json("c", "13", false),
                     pod_json("e", "201", false));
            list_page(fd, items, "200", NULL);
        }
    } else {
        ts_reply(fd, 404, "", "text/plain", "unexpected path");
    }
}

struct watch_log {
    char text[4096];
    int synced;
    struct kube_pod_watch *watch;
    int stop_at_synced;
};

static void on_pod_event(const struct kube_pod_event *ev, void *user)
{
    struct watch_log *log = user;
    char line[256];
    switch (ev->type) {
    case KUBE_POD_UPSERT:
        snprintf(line, sizeof line, "U %s %s %s|", ev->pod->name, ev->pod->resource_version,
                 ev->pod->deployment ? ev->pod->deployment : "-");
        break;
    case KUBE_POD_DELETE:
        snprintf(line, sizeof line, "D %s|", ev->pod->name);
        break;
    case KUBE_POD_SYNCED:
        snprintf(line, sizeof line, "S|");
        log->synced++;
        break;
    default:
        snprintf(line, sizeof line, "E %s|", ev->error->message);
        break;
    }
    strncat(log->text, line, sizeof log->text - strlen(log->text) - 1);
    if (log->stop_at_synced && log->synced == log->stop_at_synced) {
        kube_pod_watch_stop(log->watch);
        log->watch = NULL;
    }
}

static struct kube_connection conn;

static struct kube_client *client_for(struct test_server *s)
{
    char text[1024];
    snprintf(text, sizeof text,
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {token: t}}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u, namespace: demo}}]\n"
             "current-context: x\n",
             s->port);
    struct kube_config cfg;
    struct kube_error err = {0};
    if (kube_config_parse(text, strlen(text), NULL, &cfg, &err) < 0 ||
        kube_connection_from_config(&cfg, NULL, NULL, &conn, &err) < 0)
        exit(2);
    kube_config_free(&cfg);
    return kube_client_new(&conn, &err);
}

static void test_list_then_watch(void)
{
    list_calls = watch_calls = 0;
    struct test_server s;
    ts_start(&s, cluster, NULL, 30);
    struct kube_client *c = client_for(&s);
    struct watch_log log = {0};
    struct kube_pod_watch_options o = {.namespace = "demo", .page_size = 2};
    struct kube_pod_watch *w = kube_pod_watch_start(c, &o, on_pod_event, &log);
    CHECK(w != NULL);
    for (int i = 0; i < 300 && log.synced < 3; i++)
        kube_client_wait(c, 20);
    CHECK_STR(log.text,
              "U a 11 web|U b 12 web|U c 13 web|S|"             /* two pages */
              "U d 101 web|U a 102 web|D b|"                    /* watch from 100, ends normally */
              "U e 201 web|D d|S|"                              /* ERROR 410 event: relist */
              "S|");                                            /* HTTP 410 on the watch: relist */
    struct kube_pod_watch_stats st;
    kube_pod_watch_stats(w, &st);
    CHECK_INT(st.lists, 3);
    CHECK_INT(st.pages, 4);
    CHECK_INT(st.pods, 3);
    CHECK(st.synced);
    CHECK_STR(st.resource_version, "200");
    CHECK_INT(st.errors, 0);
    /* The bookmark moved the resourceVersion: the second watch asked from 110. */
    bool from_bookmark = false;
    for (int i = 0; i < ts_count(&s); i++)
        from_bookmark |= strstr(s.requests[i].path, "watch=1&allowWatchBookmarks=true&resourceVersion=110&") != NULL;
    CHECK(from_bookmark);
    kube_pod_watch_stop(w);
    CHECK_INT(kube_client_pending(c), 0);
    kube_client_free(c);
    kube_connection_free(&conn);
    ts_stop(&s);
}

static void test_owner_lookup_and_stop_inside_callback(void)
{
    list_calls = watch_calls = 0;
    struct test_server s;
    ts_start(&s, cluster, NULL, 30);
    struct kube_client *c = client_for(&s);
    struct watch_log log = {.stop_at_synced = 0};
    struct kube_pod_watch_options o = {.namespace = "demo", .page_size = 2, .resolve_owners = true};
    log.watch = kube_pod_watch_start(c, &o, on_pod_event, &log);
    for (int i = 0; i < 300 && !strstr(log.text, "web-frontend"); i++)
        kube_client_wait(c, 20);
    CHECK_CONTAINS(log.text, "U a 11 web|U b 12 web|");
    CHECK_CONTAINS(log.text, "U a 11 web-frontend|U b 12 web-frontend|");
    int rs_lookups = 0;
    for (int i = 0; i < ts_count(&s); i++)
        rs_lookups += strstr(s.requests[i].path, "/replicasets/") != NULL;
    CHECK_INT(rs_lookups, 1);
    /* Stopping from inside an event callback is safe. */
    log.stop_at_synced = log.synced + 1;
    for (int i = 0; i < 300 && log.watch; i++)
        kube_client_wait(c, 20);
    CHECK(log.watch == NULL);
    for (int i = 0; i < 10; i++)
        kube_client_wait(c, 5);
    CHECK_INT(kube_client_pending(c), 0);
    kube_client_free(c);
    kube_connection_free(&conn);
    ts_stop(&s);
}

static void forbidden(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)s;
    (void)req;
    (void)index;
    ts_reply(fd, 403, "", "application/json",
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
             "\"pods is forbidden: User \\\"bob\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" "
             "at the cluster scope\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}");
}

static void test_list_error_reported_and_retried(void)
{
    struct test_server s;
    ts_start(&s, forbidden, NULL, 30);
    struct kube_client *c = client_for(&s);
    struct watch_log log = {0};
    struct kube_pod_watch_options o = {.label_selector = "app in (web,api)"};
    struct kube_pod_watch *w = kube_pod_watch_start(c, &o, on_pod_event, &log);
    for (int i = 0; i < 100 && !log.text[0]; i++)
        kube_client_wait(c, 20);
    CHECK_STR(log.text, "E pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" at the cluster scope|");
    CHECK_STR(s.requests[0].path, "/api/v1/pods?limit=250&labelSelector=app%20in%20%28web%2Capi%29");
    /* The retry waits for its backoff. */
    CHECK(kube_client_timeout_ms(c) > 500);
    CHECK_INT(kube_client_pending(c), 1);
    kube_pod_watch_stop(w);
    CHECK_INT(kube_client_pending(c), 0);
    kube_client_free(c);
    kube_connection_free(&conn);
    ts_stop(&s);
}

/* The first watch breaks off in the middle of an event (no chunk end);
 * later watches stay open. */
static void cut_stream(struct test_server *s, const struct ts_request *req, int index, int fd)
{
    (void)index;
    if (!strstr(req->path, "watch=1")) {
        list_page(fd, pod_json("a", "11", false), "50", NULL);
        return;
    }
    if (++watch_calls == 1) {
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        ts_write_all(fd, head, strlen(head));
        char whole[8192], chunk[8400];
        snprintf(whole, sizeof whole, "%s\n", event("MODIFIED", pod_json("a", "60", false)));
        int n = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(whole), whole);
        ts_write_all(fd, chunk, (size_t)n);
        const char *partial = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ghost\"";
        n = snprintf(chunk, sizeof chunk, "%zx\r\n%s", strlen(partial) + 40, partial);
        ts_write_all(fd, chunk, (size_t)n);
        return; /* the connection closes mid-chunk */
    }
    stream(s, fd, NULL, 0, true);
}

static void test_broken_stream_resumes(void)
{
    watch_calls = 0;
    struct test_server s;
    ts_start(&s, cut_stream, NULL, 30);
    struct kube_client *c = client_for(&s);
    struct watch_log log = {0};
    struct kube_pod_watch_options o = {.namespace = "demo"};
    struct kube_pod_watch *w = kube_pod_watch_start(c, &o, on_pod_event, &log);
    for (int i = 0; i < 300 && watch_calls < 2; i++)
        kube_client_wait(c, 20);
    for (int i = 0; i < 10; i++)
        kube_client_wait(c, 10);
    CHECK_INT(watch_calls, 2);
    /* The whole event counted, the partial one did not; the error is
     * reported and the watch resumes from the last version seen. */
    CHECK_CONTAINS(log.text, "U a 11 web|S|U a 60 web|E ");
    CHECK(strstr(log.text, "ghost") == NULL);
    bool resumed = false;
    for (int i = 0; i < ts_count(&s); i++)
        resumed |= strstr(s.requests[i].path, "resourceVersion=60&") != NULL;
    CHECK(resumed);
    struct kube_pod_watch_stats st;
    kube_pod_watch_stats(w, &st);
    CHECK_INT(st.lists, 1);
    CHECK_INT(st.errors, 1);
    kube_pod_watch_stop(w);
    kube_client_free(c);
    kube_connection_free(&conn);
    ts_stop(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_pod_model);
    RUN(test_deployment_names);
    RUN(test_real_injected_pod);
    RUN(test_list_then_watch);
    RUN(test_owner_lookup_and_stop_inside_callback);
    RUN(test_list_error_reported_and_retried);
    RUN(test_broken_stream_resumes);
    TEST_MAIN_END();
}
