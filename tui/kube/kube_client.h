/* The HTTP side of the Kubernetes client: one libcurl multi handle (HTTP/2,
 * multiplexed) driven without blocking by the caller's poll() loop.
 *
 *   struct pollfd fds[64];
 *   fds[0] = keyboard;
 *   int n = 1 + kube_client_pollfds(client, fds + 1, 63);
 *   int timeout = kube_client_timeout_ms(client);  (combine with the UI's own)
 *   poll(fds, n, timeout);
 *   kube_client_dispatch(client, fds + 1, n - 1);  (callbacks run here)
 *
 * API errors arrive as parsed Status objects (JSON) or text; 401 re-runs an
 * exec plugin once; 429 and 5xx honour Retry-After and back off. */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube_auth.h"
#include "kube_error.h"
#include "kube_status.h"

struct kube_client;
struct kube_request;

/* Bounds on what answers may hold in memory: one buffered answer (a list
 * page: 250 pods are a few MB), and all answers being buffered at once. A
 * server that ignores `limit` or streams forever meets these. */
#define KUBE_MAX_BODY ((size_t)64 << 20)
#define KUBE_MAX_BUFFERED ((size_t)256 << 20)
/* A proxied GET's default cap: a sidecar's whole /stats/prometheus is a
 * few hundred KB. */
#define KUBE_DEFAULT_PROXY_MAX_BODY ((size_t)4 << 20)

enum kube_method { KUBE_GET, KUBE_POST, KUBE_PUT, KUBE_PATCH, KUBE_DELETE };

enum kube_patch_type {
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    KUBE_PATCH_MERGE,     /* application/merge-patch+json */
    KUBE_PATCH_JSON,      /* application/json-patch+json */
    KUBE_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply */
};

struct kube_response {
    long http_status;        /* 0 when no response arrived */
    int http_version;        /* 11 or 20 (HTTP/2); 0 when no response arrived */
    const char *body;        /* NUL-terminated; empty for streamed successes */
    size_t body_len;
    struct kube_error error; /* code KUBE_OK on a 2xx answer */
    bool has_status;         /* `status` was parsed from the body */
    struct kube_status status;
};

/* Called once per request, from kube_client_dispatch; the response is
 * valid during the call only, and the request is freed after it returns. */
typedef void (*kube_done_fn)(struct kube_request *req, const struct kube_response *resp,
                             void *user);
/* Streams a 2xx body as it arrives (watches); return false to stop. */
typedef bool (*kube_data_fn)(const char *data, size_t len, void *user);

/* Another HTTP server reached through the same multi handle and poll loop
 * (a Prometheus-compatible query API), with its own trust and credentials
 * instead of the kubeconfig's. Its requests are outside the request budget,
 * which protects the API server. The caller keeps it alive while its
 * requests run. */
struct kube_endpoint {
    const char *base_url;     /* "https://host:port/prefix", no trailing '/'; no credentials */
    const char *ca_file;      /* NULL: the system's trust store */
    bool insecure_skip_tls_verify;
    const char *bearer_token_file; /* read at every request, so a rotated token is used */
    const char *username, *password; /* basic auth; NULL: none */
    const char *const *headers; /* "Name: value" each, NULL-terminated (X-Scope-OrgID) */
};

struct kube_request_options {
    enum kube_method method;
    const char *path; /* "/api/v1/namespaces/NS/pods?limit=500", already escaped */
    const char *body;
    size_t body_len;
    const char *content_type;
    const char *accept; /* NULL: application/json */
    long timeout_ms;  /* whole request; 0: none (watches) */
    int max_retries;  /* for 429/5xx; 0: the default (5); -1: never retry */
    long delay_ms;    /* start this much later (backoff before a retry) */
    size_t max_body;  /* a buffered answer past this fails KUBE_TOO_LARGE; 0: KUBE_MAX_BODY */
    kube_data_fn on_data;
    /* More request headers, "Name: value" each, NULL-terminated (proxied
     * requests pass them on to the pod: hfitop's header faults). */
    const char *const *extra_headers;
    /* NULL: the API server of the kubeconfig. */
    const struct kube_endpoint *endpoint;
};

/* The client borrows `conn`, which must outlive it. */
struct kube_client *kube_client_new(struct kube_connection *conn, struct kube_error *err);
/* Stops every request without calling their callbacks (and kills an exec
 * plugin still running). Not from inside a callback; stop pod watches
 * first. */
void kube_client_free(struct kube_client *c);

/* Starts a request; `done` will be called exactly once unless the request
 * is cancelled first. Returns NULL only when out of memory. */
struct kube_request *kube_client_start(struct kube_client *c, const struct kube_request_options *o,
                                       kube_done_fn done, void *user);
/* Ends every request still pending with a KUBE_CANCELLED answer carrying
 * `why`, so that whoever waits on one (an action) hears of it and frees
 * what it holds; requests those callbacks start are ended the same way.
 * For the console before it switches context or quits, while the owners
 * of the callbacks still exist. Not from inside a callback. */
void kube_client_cancel_pending(struct kube_client *c, const char *why);

/* Drops a request without calling its callback. Safe inside callbacks. */
void kube_request_cancel(struct kube_request *req);

/* GET/DELETE/POST shorthand with a default timeout. */
struct kube_request *kube_client_get(struct kube_client *c, const char *path, kube_done_fn done,
                                     void *user);
struct kube_request *kube_client_delete(struct kube_client *c, const char *path,
                                        kube_done_fn done, void *user);
struct kube_request *kube_client_post(struct kube_client *c, const char *path, const char *json,
                                      size_t len, kube_done_fn done, void *user);
/* PATCH of `type`; for KUBE_PATCH_APPLY `field_manager` is required and
 * `force` takes over fields other managers own. */
struct kube_request *kube_client_patch(struct kube_client *c, const char *path,
                                       enum kube_patch_type type, const char *body, size_t len,
                                       const char *field_manager, bool force, kube_done_fn done,
                                       void *user);

/* Proxy GETs through the API server (RBAC pods/proxy, services/proxy).
 * `path_and_query` starts with '/' and is already escaped; the port is
 * numeric for pods (the API server does not resolve names there). */
struct kube_request *kube_client_pod_proxy_get(struct kube_client *c, const char *ns,
                                               const char *pod, int port,
                                               const char *path_and_query, long timeout_ms,
                                               kube_done_fn done, void *user);
struct kube_request *kube_client_service_proxy_get(struct kube_client *c, const char *ns,
                                                   const char *service, const char *port,
                                                   const char *path_and_query, long timeout_ms,
                                                   kube_done_fn done, void *user);

/* The cap on a proxied GET's answer (hfitop --max-scrape-mb). */
void kube_client_set_proxy_max_body(struct kube_client *c, size_t bytes);

/* Percent-encodes `s` for a path segment or query value (RFC 3986
 * unreserved characters stay). Caller frees. */
char *kube_url_escape(const char *s);

/* poll() integration. pollfds fills at most `max` entries and returns how
 * many it filled; timeout_ms is -1 when nothing is due. */
int kube_client_pollfds(struct kube_client *c, struct pollfd *fds, int max);
int kube_client_timeout_ms(struct kube_client *c);
void kube_client_dispatch(struct kube_client *c, const struct pollfd *fds, int n);
/* Polls only the client's own sockets for up to `max_ms` and dispatches:
 * the loop of headless commands and tests. */
void kube_client_wait(struct kube_client *c, int max_ms);
/* Requests started and not yet completed or cancelled. */
int kube_client_pending(const struct kube_client *c);

/* The request budget towards the API server: a token bucket refilled at
 * qps per second holding at most burst tokens, shared by every request the
 * client sends there (lists, watches, scrapes through the pod proxy,
 * actions, retries). A request finding no token waits for one. qps <= 0:
 * no budget. */
void kube_client_set_budget(struct kube_client *c, double qps, double burst);
double kube_client_budget_qps(const struct kube_client *c);
/* Requests sent to the API server so far (each launch: retries count). */
unsigned long kube_client_api_requests(const struct kube_client *c);

/* Connections opened so far: with HTTP/2 one carries every request. */
unsigned long kube_client_connections_opened(const struct kube_client *c);

/* The connection's warning (insecure TLS), or NULL. */
const char *kube_client_warning(const struct kube_client *c);

#endif
