#include "kube_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../stats/text.h"
#include "kube_util.h"

enum {
    DEFAULT_TIMEOUT_MS = 30000,
    CONNECT_TIMEOUT_MS = 10000,
    DEFAULT_MAX_RETRIES = 5,
    MAX_RETRY_DELAY_MS = 60000,
};

/* WAITING: to be launched at due_ms. AUTH_WAIT: waiting for the exec
 * plugin. ACTIVE: in the multi handle. FAILED: to be reported at due_ms. */
enum request_state { REQ_WAITING, REQ_AUTH_WAIT, REQ_ACTIVE, REQ_FAILED };

struct kube_request {
    struct kube_client *client;
    struct kube_request *prev, *next;
    enum request_state state;
    long long due_ms; /* REQ_WAITING / REQ_FAILED: when to launch or report */
    bool cancelled;

    enum kube_method method;
    char *path;
    char *body;
    size_t body_len;
    char *content_type;
    char *accept;
    long timeout_ms;
    int max_retries;
    size_t max_body;
    /* Why reading stopped early: this answer's cap, or what all answers
     * being read already hold (KUBE_MAX_BUFFERED). */
    enum { BODY_FITS, BODY_OVER_CAP, BODY_OVER_BUDGET } overflow;
    kube_data_fn on_data;
    kube_done_fn done;
    void *user;
    const struct kube_endpoint *endpoint;

    int retries;
    bool auth_retried;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *extra_headers;
    char errbuf[CURL_ERROR_SIZE];
    struct kube_buf response;
    bool status_known, streaming, stopped_by_caller;
    long retry_after_ms; /* -1: no Retry-After header */
    struct kube_error early_error;
};

struct socket_entry {
    curl_socket_t fd;
    int what; /* CURL_POLL_IN / OUT / INOUT */
};

struct kube_client {
    CURLM *multi;
    struct kube_connection *conn;
    struct kube_request *requests;
    struct socket_entry *sockets;
    int n_sockets, cap_sockets;
    long long timer_due_ms; /* -1: curl asked for no timeout */
    int dispatching;
    /* The exec plugin running for requests in REQ_AUTH_WAIT, if any. */
    struct kube_exec_run *exec_run;
    /* Set when a plugin run just finished, so that the requests it was for
     * use its output even if it is already expired. */
    bool exec_fresh;
    unsigned long connections_opened;
    size_t buffered;       /* bytes held by answers being read */
    size_t proxy_max_body; /* cap on proxied GETs */
    char *base_url;   /* server, with tls-server-name as host when set */
    /* "name:port:host:port": reach the server while TLS (SNI and the
     * certificate check) uses tls-server-name. */
    struct curl_slist *connect_to;
    char *host_header;
    /* The request budget (kube_client_set_budget). */
    double budget_qps, budget_burst, budget_tokens;
    long long budget_refilled_ms;
    unsigned long api_requests;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- Status objects -------------------------------------------------------- */

/* The error of a non-2xx answer: the Status when the body is one, else the
 * first line of the text body. */
static void error_from_answer(long http_status, const char *body, size_t len,
                              struct kube_response *resp)
{
    resp->has_status = kube_status_parse(body, len, &resp->status);
    struct kube_error *e = &resp->error;
    if (resp->has_status) {
        enum kube_code code = kube_code_from_http((int)http_status, resp->status.reason);
        char text[sizeof resp->status.message * 4];
        text_sanitize(resp->status.message, strlen(resp->status.message), 0, text, sizeof text);
        kube_error_set(e, code, "%s", text[0] ? text : kube_code_message(code));
    } else {
        enum kube_code code = kube_code_from_http((int)http_status, NULL);
        size_t start = 0, end = 0;
        while (start < len && (body[start] == ' ' || body[start] == '\n' || body[start] == '\r'))
            start++;
        end = start;
        while (end < len && body[end] != '\n' && body[end] != '\r' && end - start < 300)
            end++;
        char text[1300];
        text_sanitize(body + start, end - start, 0, text, sizeof text);
        if (end > start)
            kube_error_set(e, code, "%s (HTTP %ld): %s", kube_code_message(code), http_status, text);
        else
            kube_error_set(e, code, "%s (HTTP %ld)", kube_code_message(code), http_status);
    }
    e->http_status = (int)http_status;
}

/* --- requests ---------------------------------------------------------------- */

static const char *method_name(enum kube_method m)
{
    switch (m) {
    case KUBE_POST: return "POST";
    case KUBE_PUT: return "PUT";
    case KUBE_PATCH: return "PATCH";
    case KUBE_DELETE: return "DELETE";
    default: return "GET";
    }
}

/* Header lists may carry secrets (hfitop's fault token): wipe them. */
static void free_header_list(struct curl_slist *list)
{
    for (struct curl_slist *x = list; x; x = x->next)
        explicit_bzero(x->data, strlen(x->data));
    curl_slist_free_all(list);
}

static void detach_easy(struct kube_request *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->client->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    free_header_list(r->headers);
    r->headers = NULL;
}

static void free_request(struct kube_request *r)
{
    struct kube_client *c = r->client;
    detach_easy(r);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r->path);
    free(r->body);
    free(r->content_type);
    free(r->accept);
    free_header_list(r->extra_headers);
    c->buffered -= r->response.len;
    kube_buf_free(&r->response);
    free(r);
}

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
    struct kube_request *r = user;
    size_t len = size * n;
    if (r->cancelled)
        return 0;
    if (r->on_data) {
        if (!r->status_known) {
            long code = 0;
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
            r->streaming = code >= 200 && code < 300;
            r->status_known = true;
        }
        /* Error answers are collected like any other body, to be parsed. */
        if (r->streaming) {
            if (!r->on_data(data, len, r->user)) {
                r->stopped_by_caller = true;
                return 0;
            }
            return len;
        }
    }
    if (r->response.len + len > r->max_body) {
        r->overflow = BODY_OVER_CAP;
        return 0;
    }
    if (r->client->buffered + len > KUBE_MAX_BUFFERED) {
        r->overflow = BODY_OVER_BUDGET;
        return 0;
    }
    if (kube_buf_append(&r->response, data, len) < 0)
        return 0;
    r->client->buffered += len;
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    struct kube_request *r = user;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char value[128];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, data + sizeof name - 1, vlen);
        value[vlen] = '\0';
        char *v = value + strspn(value, " \t");
        v[strcspn(v, "\r\n")] = '\0';
        char *end;
        errno = 0;
        long seconds = strtol(v, &end, 10);
        /* Saturating: "99999999999999999999" is as good as "forever", and
         * the wait is capped at MAX_RETRY_DELAY_MS anyway. */
        if (end != v && *end == '\0' && seconds >= 0) {
            r->retry_after_ms = errno == ERANGE || seconds > MAX_RETRY_DELAY_MS / 1000 ? MAX_RETRY_DELAY_MS
                                                                                      : seconds * 1000;
        } else {
            time_t when = curl_getdate(v, NULL), now = time(NULL);
            if (when > 0)
                r->retry_after_ms = when <= now                                  ? 0
                                    : when - now > MAX_RETRY_DELAY_MS / 1000 ? MAX_RETRY_DELAY_MS
                                                                             : (long)(when - now) * 1000;
        }
    }
    return len;
}

static void fail_early(struct kube_request *r, const struct kube_error *err)
{
    r->early_error = *err;
    r->state = REQ_FAILED;
    r->due_ms = now_ms();
}

/* The request's base URL, for messages. */
static const char *request_server(const struct kube_request *r)
{
    return r->endpoint ? r->endpoint->base_url : r->client->conn->server;
}

static void set_common_options(struct kube_request *r, CURL *e);

/* A handle for base_url + the request's path with the options every request
 * sets, attached to r; NULL (nothing attached) when out of memory. */
static CURL *start_easy(struct kube_request *r, const char *base_url)
{
    CURL *e = curl_easy_init();
    char *url = NULL;
    if (!e || asprintf(&url, "%s%s", base_url, r->path) < 0) {
        curl_easy_cleanup(e);
        return NULL;
    }
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    set_common_options(r, e);
    return e;
}

/* A path with a "." or ".." segment addresses another resource than the
 * one its caller named (a DELETE of envoyfilters/. is the collection's):
 * it fails here, whoever built it. */
static bool refuse_dot_segments(struct kube_request *r)
{
    if (!kube_path_has_dot_segment(r->path))
        return false;
    struct kube_error err = {0};
    kube_error_set(&err, KUBE_BAD_PATH, "refusing to send %s %s: a '.' or '..' segment would address another resource",
                   method_name(r->method), r->path);
    fail_early(r, &err);
    return true;
}

/* A request to another server (kube_endpoint): its URL, its trust, its
 * credentials; none of the kubeconfig's. */
static void launch_endpoint(struct kube_request *r)
{
    struct kube_client *c = r->client;
    const struct kube_endpoint *ep = r->endpoint;
    struct kube_error err = {0};
    char *token = NULL;
    if (ep->bearer_token_file) {
        char *data = NULL;
        size_t len = 0;
        if (kube_read_file(ep->bearer_token_file, KUBE_MAX_TOKEN_BYTES, &data, &len) < 0) {
            kube_error_set(&err, KUBE_TOKEN_FILE, "cannot read the bearer token file %s", ep->bearer_token_file);
            fail_early(r, &err);
            return;
        }
        size_t used = len;
        while (used && (data[used - 1] == '\n' || data[used - 1] == '\r' || data[used - 1] == ' '))
            used--;
        token = kube_strndup(data, used);
        explicit_bzero(data, len);
        free(data);
    }
    CURL *e = (ep->bearer_token_file && !token) ? NULL : start_easy(r, ep->base_url);
    if (!e) {
        free(token);
        kube_error_set(&err, KUBE_NO_MEMORY, "out of memory");
        fail_early(r, &err);
        return;
    }
    if (ep->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ep->ca_file);
    if (ep->insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (token) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token);
        explicit_bzero(token, strlen(token));
        free(token);
    } else if (ep->username || ep->password) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, ep->username ? ep->username : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, ep->password ? ep->password : "");
    }
    struct curl_slist *h = NULL;
    char accept[160];
    snprintf(accept, sizeof accept, "Accept: %s", r->accept ? r->accept : "application/json");
    h = curl_slist_append(h, accept);
    if (r->content_type) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s", r->content_type);
        h = curl_slist_append(h, ct);
    }
    for (size_t i = 0; ep->headers && ep->headers[i]; i++)
        h = curl_slist_append(h, ep->headers[i]);
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    }
    if (r->method != KUBE_GET)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_name(r->method));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    r->headers = h;
    r->state = REQ_ACTIVE;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        detach_easy(r);
        kube_error_set(&err, KUBE_TRANSPORT, "%s %s%s: cannot start the request", method_name(r->method),
                       ep->base_url, r->path);
        fail_early(r, &err);
    }
}

/* What every request sets, whichever server it goes to. */
static void set_common_options(struct kube_request *r, CURL *e)
{
    r->errbuf[0] = '\0';
    r->status_known = r->streaming = r->stopped_by_caller = false;
    r->retry_after_ms = -1;
    r->client->buffered -= r->response.len;
    r->response.len = 0;
    r->overflow = BODY_FITS;
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    /* The path goes out as built: libcurl would otherwise resolve "." and
     * ".." segments (RFC 3986 5.2.4) into another resource's path. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hfitop (libcurl)");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    if (r->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
}

static void launch(struct kube_request *r)
{
    struct kube_client *c = r->client;
    if (refuse_dot_segments(r))
        return;
    if (r->endpoint) {
        launch_endpoint(r);
        return;
    }
    c->api_requests++;
    struct kube_connection *conn = c->conn;
    struct kube_credentials cred;
    struct kube_error err = {0};
    if (!c->exec_fresh && kube_connection_needs_exec(conn)) {
        /* The plugin runs beside the poll loop; this request waits for it. */
        if (!c->exec_run && kube_exec_start(conn, &c->exec_run, &err) < 0) {
            fail_early(r, &err);
            return;
        }
        r->state = REQ_AUTH_WAIT;
        return;
    }
    if (kube_connection_cached_credentials(conn, &cred, &err) < 0) {
        fail_early(r, &err);
        return;
    }
    CURL *e = start_easy(r, c->base_url);
    if (!e) {
        kube_error_set(&err, KUBE_NO_MEMORY, "out of memory");
        fail_early(r, &err);
        return;
    }
    if (conn->disable_compression)
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    /* A watch is silent for minutes; keepalive probes find a dead peer
     * (30 s, as client-go's dialer) instead of waiting on it forever. */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);

    if (conn->ca_data) {
        struct curl_blob blob = {conn->ca_data, conn->ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    } else if (conn->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, conn->ca_file);
    }
    if (conn->insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (conn->proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, conn->proxy_url);
    if (c->connect_to)
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
    if (cred.cert_data) {
        struct curl_blob blob = {(void *)cred.cert_data, cred.cert_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (cred.cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, cred.cert_file);
    }
    if (cred.key_data) {
        struct curl_blob blob = {(void *)cred.key_data, cred.key_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (cred.key_file) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, cred.key_file);
    }
    /* libcurl writes the Authorization header itself, so the token never
     * passes through a header list we build or could log. */
    if (cred.bearer_token) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, cred.bearer_token);
    } else if (cred.username || cred.password) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, cred.username ? cred.username : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, cred.password ? cred.password : "");
    }

    struct curl_slist *h = NULL;
    char accept[160];
    snprintf(accept, sizeof accept, "Accept: %s", r->accept ? r->accept : "application/json");
    h = curl_slist_append(h, accept);
    if (c->host_header)
        h = curl_slist_append(h, c->host_header);
    if (r->content_type) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s", r->content_type);
        h = curl_slist_append(h, ct);
    }
    for (const struct curl_slist *x = r->extra_headers; x; x = x->next)
        h = curl_slist_append(h, x->data);
    for (size_t i = 0; conn->impersonate_headers && conn->impersonate_headers[i]; i++)
        h = curl_slist_append(h, conn->impersonate_headers[i]);
    if (r->method != KUBE_GET)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_name(r->method));
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (r->method == KUBE_POST || r->method == KUBE_PUT || r->method == KUBE_PATCH) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    r->headers = h;
    r->state = REQ_ACTIVE;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        detach_easy(r);
        kube_error_set(&err, KUBE_TRANSPORT, "%s %s: cannot start the request",
                       method_name(r->method), r->path);
        fail_early(r, &err);
    }
}

static struct kube_request *new_request(struct kube_client *c, const struct kube_request_options *o,
                                        kube_done_fn done, void *user)
{
    struct kube_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->client = c;
    r->method = o->method;
    r->path = strdup(o->path ? o->path : "/");
    r->content_type = kube_strdup(o->content_type);
    r->accept = kube_strdup(o->accept);
    if (o->body) {
        r->body = kube_strndup(o->body, o->body_len);
        r->body_len = o->body_len;
    }
    bool headers_ok = true;
    for (size_t i = 0; o->extra_headers && o->extra_headers[i] && headers_ok; i++) {
        struct curl_slist *more = curl_slist_append(r->extra_headers, o->extra_headers[i]);
        headers_ok = more != NULL;
        if (more)
            r->extra_headers = more;
    }
    if (!r->path || (o->content_type && !r->content_type) || (o->body && !r->body) ||
        (o->accept && !r->accept) || !headers_ok) {
        free_header_list(r->extra_headers);
        free(r->accept);
        free(r->path);
        free(r->content_type);
        free(r->body);
        free(r);
        return NULL;
    }
    r->timeout_ms = o->timeout_ms;
    r->endpoint = o->endpoint;
    r->max_retries = o->max_retries == 0 ? DEFAULT_MAX_RETRIES : o->max_retries < 0 ? 0 : o->max_retries;
    r->max_body = o->max_body ? o->max_body : KUBE_MAX_BODY;
    r->on_data = o->on_data;
    r->done = done;
    r->user = user;
    r->state = REQ_WAITING;
    r->due_ms = now_ms() + (o->delay_ms > 0 ? o->delay_ms : 0);
    r->next = c->requests;
    if (c->requests)
        c->requests->prev = r;
    c->requests = r;
    return r;
}

/* A test hook, as tig's TIG_SCRIPT: with HFITOP_REQUEST_LOG naming a file,
 * one line per request, "METHOD PATH CONTENT-TYPE" (WATCH for a watch; no
 * query, body or header, so no token), for tests/manifests to check the
 * RBAC against the requests a real session makes. */
static void log_request(const struct kube_request_options *o)
{
    const char *file = getenv("HFITOP_REQUEST_LOG"), *path = o->path ? o->path : "/";
    /* Only its owner may read it: the paths name namespaces and pods. */
    int fd = file && *file ? open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t len = strcspn(path, "?");
    const char *q = path + len;
    bool watch = *q && (strstr(q, "?watch=1") || strstr(q, "&watch=1") || strstr(q, "?watch=true") ||
                        strstr(q, "&watch=true"));
    fprintf(f, "%s %.*s %s\n", watch ? "WATCH" : method_name(o->method), (int)len, path,
            o->content_type ? o->content_type : "-");
    fclose(f);
}

struct kube_request *kube_client_start(struct kube_client *c, const struct kube_request_options *o,
                                       kube_done_fn done, void *user)
{
    log_request(o);
    /* Launched from kube_client_dispatch, never from here: a start from
     * inside a libcurl callback (a watch's data handler) must not re-enter
     * the multi handle. kube_client_timeout_ms reports 0 until then. */
    return new_request(c, o, done, user);
}

void kube_request_cancel(struct kube_request *req)
{
    if (!req)
        return;
    req->cancelled = true;
    if (!req->client->dispatching)
        free_request(req);
}

static void deliver(struct kube_request *r, struct kube_response *resp)
{
    if (!r->cancelled && r->done)
        r->done(r, resp, r->user);
    free_request(r);
}

static void sweep_cancelled(struct kube_client *c);

void kube_client_cancel_pending(struct kube_client *c, const char *why)
{
    c->dispatching++;
    /* Each answer may start more requests (an action's next step, which
     * its cancelled answer normally prevents): bounded rounds. */
    for (int round = 0; round < 16; round++) {
        struct kube_request *r = c->requests;
        while (r && r->cancelled)
            r = r->next;
        if (!r)
            break;
        for (; r; r = r->next) {
            if (r->cancelled || !r->done)
                continue;
            struct kube_response resp = {.body = ""};
            kube_error_set(&resp.error, KUBE_CANCELLED, "%s %s: %s", method_name(r->method), r->path, why);
            kube_done_fn done = r->done;
            r->done = NULL;
            r->cancelled = true;
            done(r, &resp, r->user);
        }
    }
    c->dispatching--;
    /* What is left (requests without a callback, or started past the
     * rounds) is dropped like any cancelled request. */
    for (struct kube_request *r = c->requests; r; r = r->next)
        r->cancelled = true;
    if (!c->dispatching)
        sweep_cancelled(c);
}

static long retry_delay_ms(const struct kube_request *r, long http_status,
                           const struct kube_status *status, bool has_status)
{
    long delay = r->retry_after_ms;
    if (delay < 0 && has_status && status->retry_after_seconds > 0)
        delay = status->retry_after_seconds > MAX_RETRY_DELAY_MS / 1000 ? MAX_RETRY_DELAY_MS
                                                                        : status->retry_after_seconds * 1000L;
    if (delay < 0) {
        /* client-go retries 5xx only when told when; a 429 without a hint
         * still means "slow down", so back off exponentially. */
        if (http_status != 429)
            return -1;
        delay = 1000L << (r->retries < 6 ? r->retries : 6);
    }
    return delay > MAX_RETRY_DELAY_MS ? MAX_RETRY_DELAY_MS : delay;
}

/* What went wrong, named by its cause and with the next step where there
 * is one; libcurl's own text only as a detail (it says "SSL connection
 * timeout" for any timeout while a TLS connection is being set up, and
 * "INTERNAL_ERROR (err 2)" for an HTTP/2 stream the server reset). */
static void describe_failure(struct kube_request *r, CURLcode result, struct kube_error *e)
{
    struct kube_client *c = r->client;
    const char *m = method_name(r->method), *server = request_server(r);
    const char *cluster = c->conn->cluster_name ? c->conn->cluster_name : server;
    char detail[CURL_ERROR_SIZE];
    text_sanitize(r->errbuf, strnlen(r->errbuf, sizeof r->errbuf), 0, detail, sizeof detail);
    if (!detail[0])
        snprintf(detail, sizeof detail, "%s", curl_easy_strerror(result));
    if (r->overflow != BODY_FITS) {
        if (r->overflow == BODY_OVER_CAP)
            kube_error_set(e, KUBE_TOO_LARGE, "%s %s: answer larger than %zu %s, stopped reading", m, r->path,
                           r->max_body >= (1u << 20) ? r->max_body >> 20 : r->max_body,
                           r->max_body >= (1u << 20) ? "MB" : "bytes");
        else
            kube_error_set(e, KUBE_TOO_LARGE, "%s %s: answers in flight already hold %zu MB, stopped reading", m,
                           r->path, KUBE_MAX_BUFFERED >> 20);
        return;
    }
    switch (result) {
    case CURLE_OPERATION_TIMEDOUT:
        if (r->timeout_ms > 0)
            kube_error_set(e, KUBE_TIMEOUT, "%s %s: no complete answer within %ld ms (the request timed out)", m,
                           r->path, r->timeout_ms);
        else
            kube_error_set(e, KUBE_TIMEOUT, "%s %s%s: timed out connecting: %s", m, server, r->path, detail);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        if (r->endpoint)
            kube_error_set(e, KUBE_TLS, "%s: the server's certificate is not trusted (%s); check the CA given for it",
                           server, detail);
        else
            kube_error_set(e, KUBE_TLS,
                           "%s: the API server's certificate is not trusted (%s); check certificate-authority "
                           "of cluster \"%s\" in the kubeconfig",
                           server, detail, cluster);
        break;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        kube_error_set(e, KUBE_TRANSPORT,
                       "%s %s%s: the connection broke off before the answer was complete "
                       "(the server or a proxy in between reset it; %s)",
                       m, server, r->path, detail);
        break;
    default:
        kube_error_set(e, kube_code_from_curl(result), "%s %s%s: %s", m, server, r->path, detail);
        break;
    }
}

static void finish(struct kube_request *r, CURLcode result)
{
    struct kube_client *c = r->client;
    long http_status = 0, version = 0, connects = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &http_status);
    curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
    c->connections_opened += (unsigned long)connects;
    struct kube_error failure = {0};
    if (result != CURLE_OK)
        describe_failure(r, result, &failure);
    detach_easy(r);
    if (r->cancelled) {
        free_request(r);
        return;
    }
    struct kube_response resp = {.http_status = http_status,
                                 .http_version = version == CURL_HTTP_VERSION_2_0   ? 20
                                                 : version == CURL_HTTP_VERSION_1_1 ? 11
                                                 : version == CURL_HTTP_VERSION_1_0 ? 10
                                                                                    : 0};
    if (result != CURLE_OK && !(r->stopped_by_caller && result == CURLE_WRITE_ERROR)) {
        resp.error = failure;
        resp.http_status = 0;
    } else if (http_status >= 300 || http_status < 200) {
        error_from_answer(http_status, r->response.data ? r->response.data : "", r->response.len,
                          &resp);
        if (http_status == 401 && !r->endpoint && !r->auth_retried && kube_connection_can_refresh(c->conn)) {
            /* The token may have expired early or rotated: fetch a new one
             * and try once more. */
            r->auth_retried = true;
            kube_connection_invalidate(c->conn);
            r->state = REQ_WAITING;
            r->due_ms = now_ms();
            return;
        }
        if ((http_status == 429 || http_status >= 500) && r->retries < r->max_retries) {
            long delay = retry_delay_ms(r, http_status, &resp.status, resp.has_status);
            if (delay >= 0) {
                r->retries++;
                r->state = REQ_WAITING;
                r->due_ms = now_ms() + delay;
                return;
            }
        }
    }
    if (!r->response.data)
        kube_buf_append(&r->response, "", 0);
    resp.body = r->response.data ? r->response.data : "";
    resp.body_len = r->response.len;
    deliver(r, &resp);
}

/* --- client ------------------------------------------------------------------ */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socket_user)
{
    (void)easy;
    (void)socket_user;
    struct kube_client *c = user;
    int i = 0;
    while (i < c->n_sockets && c->sockets[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < c->n_sockets)
            c->sockets[i] = c->sockets[--c->n_sockets];
        return 0;
    }
    if (i == c->n_sockets) {
        if (c->n_sockets == c->cap_sockets) {
            int cap = c->cap_sockets ? c->cap_sockets * 2 : 16;
            struct socket_entry *s = realloc(c->sockets, (size_t)cap * sizeof *s);
            if (!s)
                return -1;
            c->sockets = s;
            c->cap_sockets = cap;
        }
        c->n_sockets++;
    }
    c->sockets[i].fd = fd;
    c->sockets[i].what = what;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    (void)multi;
    struct kube_client *c = user;
    c->timer_due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

/* The server URL as libcurl accepts it. Istio CNI writes IPv4 addresses
 * in brackets ("https://[10.96.0.1]:443"), which Go's URL parser takes and
 * libcurl's refuses: drop the brackets around anything without a ':'. */
static char *normalise_server(const char *server)
{
    const char *open = strstr(server, "://[");
    const char *close = open ? strchr(open, ']') : NULL;
    if (!close || memchr(open + 4, ':', (size_t)(close - open - 4)))
        return strdup(server);
    char *out = malloc(strlen(server) + 1);
    if (!out)
        return NULL;
    size_t head = (size_t)(open - server) + 3;
    memcpy(out, server, head);
    memcpy(out + head, open + 4, (size_t)(close - open - 4));
    strcpy(out + head + (size_t)(close - open - 4), close + 1);
    return out;
}

static int setup_routing(struct kube_client *c, struct kube_error *err)
{
    struct kube_connection *conn = c->conn;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    char *server = normalise_server(conn->server);
    int rc = -1;
    if (!u || !server || curl_url_set(u, CURLUPART_URL, server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        kube_error_set(err, KUBE_CONFIG_SHAPE, "cluster \"%s\": server \"%s\" is not an http(s) URL",
                       conn->cluster_name ? conn->cluster_name : "", conn->server);
        goto done;
    }
    if (conn->tls_server_name && *conn->tls_server_name && strcmp(scheme, "https") == 0) {
        char *route = NULL, *url = NULL;
        const char *bare = host; /* CURLOPT_CONNECT_TO wants IPv6 in brackets too */
        if (asprintf(&route, "%s:%s:%s:%s", conn->tls_server_name, port, bare, port) < 0 ||
            asprintf(&c->host_header, "Host: %s:%s", host, port) < 0 ||
            curl_url_set(u, CURLUPART_HOST, conn->tls_server_name, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
            free(route);
            kube_error_set(err, KUBE_CONFIG_SHAPE, "cluster \"%s\": tls-server-name \"%s\" is not a host name",
                           conn->cluster_name ? conn->cluster_name : "", conn->tls_server_name);
            goto done;
        }
        c->connect_to = curl_slist_append(NULL, route);
        free(route);
        size_t len = strlen(url);
        while (len && url[len - 1] == '/')
            len--;
        c->base_url = kube_strndup(url, len);
        curl_free(url);
    } else {
        c->base_url = server;
        server = NULL;
    }
    rc = c->base_url ? 0 : kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
done:
    free(server);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

struct kube_client *kube_client_new(struct kube_connection *conn, struct kube_error *err)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            kube_error_set(err, KUBE_TRANSPORT, "libcurl failed to initialise");
            return NULL;
        }
        curl_ready = true;
    }
    struct kube_client *c = calloc(1, sizeof *c);
    if (!c) {
        kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
        return NULL;
    }
    c->conn = conn;
    c->timer_due_ms = -1;
    c->proxy_max_body = KUBE_DEFAULT_PROXY_MAX_BODY;
    if (setup_routing(c, err) < 0 || !(c->multi = curl_multi_init())) {
        if (!c->multi && err && err->code == KUBE_OK)
            kube_error_set(err, KUBE_NO_MEMORY, "out of memory");
        kube_client_free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

void kube_client_free(struct kube_client *c)
{
    if (!c)
        return;
    while (c->requests)
        free_request(c->requests);
    kube_exec_abort(c->exec_run);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->connect_to);
    free(c->base_url);
    free(c->host_header);
    free(c->sockets);
    free(c);
}

int kube_client_pollfds(struct kube_client *c, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < c->n_sockets && n < max; i++) {
        short events = 0;
        if (c->sockets[i].what & CURL_POLL_IN)
            events |= POLLIN;
        if (c->sockets[i].what & CURL_POLL_OUT)
            events |= POLLOUT;
        fds[n++] = (struct pollfd){.fd = c->sockets[i].fd, .events = events};
    }
    if (c->exec_run)
        n += kube_exec_pollfds(c->exec_run, fds + n, max - n);
    return n;
}

int kube_client_timeout_ms(struct kube_client *c)
{
    long long due = c->timer_due_ms;
    for (struct kube_request *r = c->requests; r; r = r->next)
        if (!r->cancelled && (r->state == REQ_WAITING || r->state == REQ_FAILED) &&
            (due < 0 || r->due_ms < due))
            due = r->due_ms;
    long long left = due < 0 ? -1 : due - now_ms();
    if (left < 0 && due >= 0)
        left = 0;
    if (c->exec_run) {
        int exec_left = kube_exec_timeout_ms(c->exec_run);
        if (left < 0 || exec_left < left)
            left = exec_left;
    }
    return left < 0 ? -1 : left > 3600000 ? 3600000 : (int)left;
}

/* Takes one token of the request budget: 0 when one was there, else the
 * milliseconds until one will be. */
static long long budget_take(struct kube_client *c, long long now)
{
    if (c->budget_qps <= 0)
        return 0;
    if (now > c->budget_refilled_ms) {
        c->budget_tokens += (double)(now - c->budget_refilled_ms) * c->budget_qps / 1000.0;
        if (c->budget_tokens > c->budget_burst)
            c->budget_tokens = c->budget_burst;
        c->budget_refilled_ms = now;
    }
    if (c->budget_tokens >= 1.0) {
        c->budget_tokens -= 1.0;
        return 0;
    }
    long long wait = (long long)((1.0 - c->budget_tokens) * 1000.0 / c->budget_qps) + 1;
    return wait;
}

void kube_client_set_budget(struct kube_client *c, double qps, double burst)
{
    c->budget_qps = qps > 0 ? qps : 0;
    c->budget_burst = burst >= 1 ? burst : 1;
    c->budget_tokens = c->budget_burst;
    c->budget_refilled_ms = now_ms();
}

double kube_client_budget_qps(const struct kube_client *c)
{
    return c->budget_qps;
}

unsigned long kube_client_api_requests(const struct kube_client *c)
{
    return c->api_requests;
}

static void run_due(struct kube_client *c)
{
    long long now = now_ms();
    /* Reporting calls back into the application, which may start or
     * cancel requests: restart the walk after each report. */
    bool again = true;
    while (again) {
        again = false;
        for (struct kube_request *r = c->requests; r; r = r->next) {
            if (r->cancelled || r->state == REQ_ACTIVE || r->state == REQ_AUTH_WAIT || r->due_ms > now)
                continue;
            if (r->state == REQ_WAITING) {
                long long wait = r->endpoint ? 0 : budget_take(c, now);
                if (wait > 0) {
                    r->due_ms = now + wait;
                    continue;
                }
                launch(r);
                if (r->state != REQ_FAILED)
                    continue;
                r->due_ms = now;
            }
            struct kube_response resp = {.body = "", .error = r->early_error};
            deliver(r, &resp);
            again = true;
            break;
        }
    }
}

static void read_completions(struct kube_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct kube_request *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            finish(r, m->data.result);
    }
}

static void sweep_cancelled(struct kube_client *c)
{
    struct kube_request *r = c->requests;
    while (r) {
        struct kube_request *next = r->next;
        if (r->cancelled)
            free_request(r);
        r = next;
    }
}

/* When the plugin has finished: the requests waiting for it go ahead, or
 * fail with its error. */
static void advance_exec(struct kube_client *c)
{
    if (!c->exec_run || !kube_exec_advance(c->exec_run))
        return;
    struct kube_error err = {0};
    int rc = kube_exec_finish(c->conn, c->exec_run, &err);
    c->exec_run = NULL;
    c->exec_fresh = rc == 0;
    for (struct kube_request *r = c->requests; r; r = r->next) {
        if (r->state != REQ_AUTH_WAIT)
            continue;
        if (rc == 0) {
            r->state = REQ_WAITING;
            r->due_ms = now_ms();
        } else {
            fail_early(r, &err);
        }
    }
}

void kube_client_dispatch(struct kube_client *c, const struct pollfd *fds, int n)
{
    int running;
    c->dispatching++;
    for (int i = 0; i < n; i++) {
        if (!fds[i].revents || (c->exec_run && kube_exec_owns_fd(c->exec_run, fds[i].fd)))
            continue;
        int ev = 0;
        if (fds[i].revents & (POLLIN | POLLHUP))
            ev |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT)
            ev |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLNVAL))
            ev |= CURL_CSELECT_ERR;
        curl_multi_socket_action(c->multi, fds[i].fd, ev, &running);
    }
    if (c->timer_due_ms >= 0 && c->timer_due_ms <= now_ms()) {
        c->timer_due_ms = -1;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    read_completions(c);
    advance_exec(c);
    run_due(c);
    c->exec_fresh = false;
    read_completions(c);
    c->dispatching--;
    if (!c->dispatching)
        sweep_cancelled(c);
}

void kube_client_wait(struct kube_client *c, int max_ms)
{
    struct pollfd fds[256];
    int n = kube_client_pollfds(c, fds, 256);
    int timeout = kube_client_timeout_ms(c);
    if (timeout < 0 || timeout > max_ms)
        timeout = max_ms;
    if (poll(fds, (nfds_t)n, timeout) < 0)
        n = 0;
    kube_client_dispatch(c, fds, n);
}

int kube_client_pending(const struct kube_client *c)
{
    int n = 0;
    for (const struct kube_request *r = c->requests; r; r = r->next)
        n += !r->cancelled;
    return n;
}

void kube_client_set_proxy_max_body(struct kube_client *c, size_t bytes)
{
    c->proxy_max_body = bytes;
}

unsigned long kube_client_connections_opened(const struct kube_client *c)
{
    return c->connections_opened;
}

const char *kube_client_warning(const struct kube_client *c)
{
    return c->conn->warning;
}

/* --- shorthand ------------------------------------------------------------------ */

struct kube_request *kube_client_get(struct kube_client *c, const char *path, kube_done_fn done,
                                     void *user)
{
    struct kube_request_options o = {.method = KUBE_GET, .path = path, .timeout_ms = DEFAULT_TIMEOUT_MS};
    return kube_client_start(c, &o, done, user);
}

struct kube_request *kube_client_delete(struct kube_client *c, const char *path,
                                        kube_done_fn done, void *user)
{
    struct kube_request_options o = {.method = KUBE_DELETE, .path = path, .timeout_ms = DEFAULT_TIMEOUT_MS};
    return kube_client_start(c, &o, done, user);
}

struct kube_request *kube_client_post(struct kube_client *c, const char *path, const char *json,
                                      size_t len, kube_done_fn done, void *user)
{
    struct kube_request_options o = {.method = KUBE_POST, .path = path, .body = json,
                                     .body_len = len, .content_type = "application/json",
                                     .timeout_ms = DEFAULT_TIMEOUT_MS};
    return kube_client_start(c, &o, done, user);
}

struct kube_request *kube_client_patch(struct kube_client *c, const char *path,
                                       enum kube_patch_type type, const char *body, size_t len,
                                       const char *field_manager, bool force, kube_done_fn done,
                                       void *user)
{
    static const char *const types[] = {
        [KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
        [KUBE_PATCH_MERGE] = "application/merge-patch+json",
        [KUBE_PATCH_JSON] = "application/json-patch+json",
        [KUBE_PATCH_APPLY] = "application/apply-patch+yaml",
    };
    struct kube_buf url = {0};
    char *manager = field_manager ? kube_url_escape(field_manager) : NULL;
    const char *sep = strchr(path, '?') ? "&" : "?";
    int rc = kube_buf_printf(&url, "%s", path);
    if (rc == 0 && manager) {
        rc = kube_buf_printf(&url, "%sfieldManager=%s", sep, manager);
        sep = "&";
    }
    if (rc == 0 && force && type == KUBE_PATCH_APPLY)
        rc = kube_buf_printf(&url, "%sforce=true", sep);
    free(manager);
    if (rc < 0 || (field_manager && !manager)) {
        kube_buf_free(&url);
        return NULL;
    }
    struct kube_request_options o = {.method = KUBE_PATCH, .path = url.data, .body = body,
                                     .body_len = len, .content_type = types[type],
                                     .timeout_ms = DEFAULT_TIMEOUT_MS};
    struct kube_request *r = kube_client_start(c, &o, done, user);
    kube_buf_free(&url);
    return r;
}

char *kube_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
    return out;
}

static struct kube_request *proxy_get(struct kube_client *c, const char *ns, const char *kind,
                                      const char *name, const char *port,
                                      const char *path_and_query, long timeout_ms,
                                      kube_done_fn done, void *user)
{
    char *ens = kube_url_escape(ns), *ename = kube_url_escape(name), *eport = kube_url_escape(port);
    char *path = NULL;
    if (ens && ename && eport &&
        asprintf(&path, "/api/v1/namespaces/%s/%s/%s:%s/proxy%s", ens, kind, ename, eport,
                 path_and_query[0] == '/' ? path_and_query : "/") < 0)
        path = NULL;
    free(ens);
    free(ename);
    free(eport);
    if (!path)
        return NULL;
    /* What is behind the proxy is not the API: take whatever it serves
     * (Prometheus exporters negotiate their format on Accept). */
    struct kube_request_options o = {.method = KUBE_GET, .path = path, .accept = "text/plain, */*",
                                     .timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS,
                                     .max_retries = -1, .max_body = c->proxy_max_body};
    struct kube_request *r = kube_client_start(c, &o, done, user);
    free(path);
    return r;
}

struct kube_request *kube_client_pod_proxy_get(struct kube_client *c, const char *ns,
                                               const char *pod, int port,
                                               const char *path_and_query, long timeout_ms,
                                               kube_done_fn done, void *user)
{
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    return proxy_get(c, ns, "pods", pod, port_text, path_and_query, timeout_ms, done, user);
}

struct kube_request *kube_client_service_proxy_get(struct kube_client *c, const char *ns,
                                                   const char *service, const char *port,
                                                   const char *path_and_query, long timeout_ms,
                                                   kube_done_fn done, void *user)
{
    return proxy_get(c, ns, "services", service, port, path_and_query, timeout_ms, done, user);
}
