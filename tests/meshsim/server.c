#include "server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define HEADER_LIMIT (64 * 1024)
#define MAX_HEADERS 100

#include "server_internal.h"

struct listener {
    enum poll_kind kind; /* first: epoll data points here */
    int fd, port;
    request_handler handler;
    void *arg;
};

struct server {
    int listen_fd, epoll_fd, port;
    volatile sig_atomic_t stopping;
    struct tls_material *tls;
    request_handler handler;
    tick_handler tick;
    void *arg;
    struct conn *conns;
};

static struct server *signal_target;

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *request_header(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *request_param(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

void request_free(struct request *req)
{
    free(req->method);
    free(req->path);
    free(req->query);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->params[i].name);
        free(req->params[i].value);
    }
    free(req->params);
    free(req->body);
    memset(req, 0, sizeof *req);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding as Go's net/url does it: in a query (url.ParseQuery)
 * '+' is a space, in a path it stays '+'. Returns NULL on a bad escape, or
 * on an escaped NUL, which no C string can carry. */
static char *url_decode(const char *s, size_t len, int plus_is_space)
{
    char *out = malloc(len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        *o++ = plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
    *o = '\0';
    return out;
}

int request_decode_target(struct request *req)
{
    /* Go's net/http hands the API server the decoded path (URL.Path), which
     * it splits into the resource, name and subresource, and whose rest is
     * the proxied path (kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/
     * request/requestinfo.go, NewRequestInfo; handlers/rest.go,
     * getRequestOptions): `pods/NAME%3A15090/proxy/stats%2Fprometheus` is
     * `pods/NAME:15090/proxy/stats/prometheus`. */
    char *path = url_decode(req->path, strlen(req->path), 0);
    if (!path)
        return -1;
    free(req->path);
    req->path = path;
    const char *q = req->query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            char *k = url_decode(q, klen, 1);
            char *v = eq ? url_decode(eq + 1, len - klen - 1, 1) : strdup("");
            if (!k || !v) {
                free(k);
                free(v);
                return -1;
            }
            req->params = realloc(req->params, (req->n_params + 1) * sizeof *req->params);
            req->params[req->n_params].name = k;
            req->params[req->n_params].value = v;
            req->n_params++;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return 0;
}

static void set_target(struct request *req, const char *target, size_t len)
{
    const char *qm = memchr(target, '?', len);
    size_t plen = qm ? (size_t)(qm - target) : len;
    req->path = strndup(target, plen);
    req->query = qm ? strndup(qm + 1, len - plen - 1) : strdup("");
}

/* ---- connection output ---- */

static void conn_update_events(struct conn *c)
{
    uint32_t want = EPOLLIN | (c->out.len || c->handshake_wants_write ? EPOLLOUT : 0);
    if (want == c->epoll_events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_events = want;
}

void conn_close(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
}

void conn_flush(struct conn *c)
{
    while (c->out.len && !c->dead) {
        size_t chunk = c->out.len > (1 << 20) ? (1 << 20) : c->out.len;
        if (!c->ssl) {
            ssize_t n = write(c->fd, c->out.data, chunk);
            if (n > 0) {
                buf_consume(&c->out, (size_t)n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            conn_close(c);
            return;
        }
        ERR_clear_error();
        int n = SSL_write(c->ssl, c->out.data, (int)chunk);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
            break;
        conn_close(c);
        return;
    }
    if (!c->out.len && c->close_after_write) {
        if (c->ssl)
            SSL_shutdown(c->ssl);
        conn_close(c);
        return;
    }
    conn_update_events(c);
}

const char *http_reason_phrase(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static void write_head(struct conn *c, int code, const char *ctype, const char *extra, long content_length)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    buf_printf(&c->out, "HTTP/1.1 %d %s\r\nAudit-Id: meshsim\r\nCache-Control: no-cache, private\r\n", code,
               http_reason_phrase(code));
    if (ctype)
        buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
    buf_printf(&c->out, "Date: %s\r\n", date);
    if (extra)
        buf_puts(&c->out, extra);
    if (c->close_after_write)
        buf_puts(&c->out, "Connection: close\r\n");
    if (content_length >= 0)
        buf_printf(&c->out, "Content-Length: %ld\r\n\r\n", content_length);
    else
        buf_puts(&c->out, "Transfer-Encoding: chunked\r\n\r\n");
}

static void conn_process(struct conn *c);

static void ex_finish(struct exchange *ex)
{
    struct conn *c = ex->conn;
    ex->state = EX_DONE;
    if (c->ex == ex && !ex->in_handler) {
        c->ex = NULL;
        request_free(&ex->req);
        free(ex);
    }
    conn_flush(c);
    /* The next pipelined request, if any, runs from the loop, not from
     * inside whatever handler answered this one. */
}

const struct request *ex_request(const struct exchange *ex)
{
    return &ex->req;
}

void ex_reply(struct exchange *ex, int code, const char *content_type, const char *body, size_t len,
              const char *extra_headers)
{
    if (ex->state == EX_DONE || ex->state == EX_STREAMING)
        return;
    if (ex->conn->h2) {
        h2_reply(ex, code, content_type, body, len, extra_headers);
        return;
    }
    struct conn *c = ex->conn;
    write_head(c, code, content_type, extra_headers, (long)len);
    if (strcmp(ex->req.method, "HEAD") != 0)
        buf_append(&c->out, body, len);
    ex_finish(ex);
}

void ex_reply_status(struct exchange *ex, int code, const char *reason, const char *message,
                     const char *extra_headers)
{
    struct buf b = {0};
    buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
    buf_json_string(&b, message);
    buf_puts(&b, ",\"reason\":");
    buf_json_string(&b, reason);
    buf_printf(&b, ",\"code\":%d}\n", code);
    ex_reply(ex, code, "application/json", b.data, b.len, extra_headers);
    buf_free(&b);
}

void ex_stream_begin(struct exchange *ex, int code, const char *content_type)
{
    if (ex->state == EX_DONE || ex->state == EX_STREAMING)
        return;
    if (ex->conn->h2) {
        h2_stream_begin(ex, code, content_type);
        return;
    }
    ex->state = EX_STREAMING;
    write_head(ex->conn, code, content_type, NULL, -1);
    conn_flush(ex->conn);
}

void ex_stream_write(struct exchange *ex, const char *data, size_t len)
{
    if (ex->state != EX_STREAMING || !len)
        return;
    if (ex->conn->h2) {
        h2_stream_write(ex, data, len);
        return;
    }
    struct conn *c = ex->conn;
    buf_printf(&c->out, "%zx\r\n", len);
    buf_append(&c->out, data, len);
    buf_puts(&c->out, "\r\n");
    conn_flush(c);
}

void ex_stream_end(struct exchange *ex)
{
    if (ex->state != EX_STREAMING)
        return;
    if (ex->conn->h2) {
        h2_stream_end(ex);
        return;
    }
    buf_puts(&ex->conn->out, "0\r\n\r\n");
    ex_finish(ex);
}

void ex_reset(struct exchange *ex)
{
    struct conn *c = ex->conn;
    if (c->h2) {
        h2_reset(ex);
        return;
    }
    ex->state = EX_DONE;
    c->out.len = 0;
    /* An abrupt close, as a proxy reset looks to a client. */
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    conn_close(c);
}

void ex_defer(struct exchange *ex, void (*on_gone)(struct exchange *ex, void *ctx), void *ctx)
{
    if (ex->state == EX_HANDLING)
        ex->state = EX_DEFERRED;
    ex->on_gone = on_gone;
    ex->gone_ctx = ctx;
}

size_t ex_pending_output(const struct exchange *ex)
{
    return ex->conn->out.len + ex->h2_body.len - ex->h2_sent;
}

/* ---- HTTP/1.1 request parsing ---- */

/* An error before a request exists: answered through a throwaway exchange,
 * then the connection closes, since its input can no longer be framed. */
static void reject(struct conn *c, int code, const char *reason, const char *message)
{
    static char get[] = "GET";
    struct exchange tmp = {.conn = c, .state = EX_HANDLING};
    tmp.req.method = get;
    c->close_after_write = 1;
    struct exchange *saved = c->ex;
    c->ex = NULL;
    ex_reply_status(&tmp, code, reason, message, NULL);
    c->ex = saved;
    c->in.len = 0;
}

static int is_token_char(int ch)
{
    return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* Parses one request from c->in. Returns 1 with *out filled, 0 when more
 * input is needed, -1 after answering an error. */
static int parse_request(struct conn *c, struct request *out)
{
    char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in.len > HEADER_LIMIT) {
            reject(c, 431, "RequestHeaderFieldsTooLarge", "request header fields too large");
            return -1;
        }
        return 0;
    }
    size_t head_len = (size_t)(end - c->in.data) + 4;
    if (head_len > HEADER_LIMIT) {
        reject(c, 431, "RequestHeaderFieldsTooLarge", "request header fields too large");
        return -1;
    }
    memset(out, 0, sizeof *out);
    char *line = c->in.data;
    char *eol = memmem(line, head_len, "\r\n", 2);
    /* Request line: METHOD SP target SP HTTP/1.x */
    char *sp1 = memchr(line, ' ', (size_t)(eol - line));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || (size_t)(eol - sp2 - 1) != 8 ||
        (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0)) {
        reject(c, 400, "BadRequest", "malformed HTTP request line");
        return -1;
    }
    for (char *p = line; p < sp1; p++)
        if (!is_token_char((unsigned char)*p)) {
            reject(c, 400, "BadRequest", "malformed HTTP method");
            return -1;
        }
    if (sp1[1] != '/') {
        reject(c, 400, "BadRequest", "request target must be an absolute path");
        return -1;
    }
    for (char *p = sp1 + 1; p < sp2; p++)
        if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127) {
            reject(c, 400, "BadRequest", "invalid character in request target");
            return -1;
        }
    int http10 = sp2[8] == '0';
    out->method = strndup(line, (size_t)(sp1 - line));
    set_target(out, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    out->headers = calloc(MAX_HEADERS, sizeof *out->headers);
    char *p = eol + 2;
    while (p < end + 2) {
        char *le = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        char *colon = le ? memchr(p, ':', (size_t)(le - p)) : NULL;
        if (!le || !colon || colon == p || out->n_headers == MAX_HEADERS) {
            request_free(out);
            reject(c, 400, "BadRequest", "malformed HTTP header");
            return -1;
        }
        for (char *q = p; q < colon; q++)
            if (!is_token_char((unsigned char)*q)) {
                request_free(out);
                reject(c, 400, "BadRequest", "malformed HTTP header name");
                return -1;
            }
        char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (char *q = v; q < ve; q++)
            if ((unsigned char)*q < 32 && *q != '\t') {
                request_free(out);
                reject(c, 400, "BadRequest", "invalid character in HTTP header value");
                return -1;
            }
        out->headers[out->n_headers].name = strndup(p, (size_t)(colon - p));
        out->headers[out->n_headers].value = strndup(v, (size_t)(ve - v));
        out->n_headers++;
        p = le + 2;
    }
    if (request_decode_target(out) != 0) {
        request_free(out);
        reject(c, 400, "BadRequest", "malformed percent-encoding in the request target");
        return -1;
    }
    const char *te = request_header(out, "Transfer-Encoding");
    const char *cl = request_header(out, "Content-Length");
    size_t body_len = 0, consumed = head_len;
    if (te) {
        if (strcasecmp(te, "chunked") != 0 || cl) {
            request_free(out);
            reject(c, 400, "BadRequest", "unsupported transfer encoding");
            return -1;
        }
        /* Decode chunks in place once the whole body is here. */
        struct buf body = {0};
        size_t pos = head_len;
        for (;;) {
            char *ce = memmem(c->in.data + pos, c->in.len - pos, "\r\n", 2);
            if (!ce) {
                buf_free(&body);
                request_free(out);
                if (c->in.len - pos > 64)
                    goto bad_chunk;
                return 0;
            }
            char *num_end;
            errno = 0;
            unsigned long long n = strtoull(c->in.data + pos, &num_end, 16);
            if (num_end == c->in.data + pos || errno || (*num_end != '\r' && *num_end != ';')) {
                buf_free(&body);
                request_free(out);
                goto bad_chunk;
            }
            if (n > REQUEST_BODY_LIMIT || body.len + n > REQUEST_BODY_LIMIT) {
                buf_free(&body);
                request_free(out);
                reject(c, 413, "RequestEntityTooLarge", "request entity too large: limit is 1048576");
                return -1;
            }
            size_t data = (size_t)(ce - c->in.data) + 2;
            if (c->in.len < data + n + 2) {
                buf_free(&body);
                request_free(out);
                return 0;
            }
            if (memcmp(c->in.data + data + n, "\r\n", 2) != 0) {
                buf_free(&body);
                request_free(out);
                goto bad_chunk;
            }
            buf_append(&body, c->in.data + data, (size_t)n);
            pos = data + n + 2;
            if (n == 0)
                break;
        }
        out->body = body.data ? body.data : strdup("");
        out->body_len = body.len;
        consumed = pos;
    } else if (cl) {
        char *num_end;
        errno = 0;
        unsigned long long n = strtoull(cl, &num_end, 10);
        if (!*cl || *num_end || errno || cl[0] == '-') {
            request_free(out);
            reject(c, 400, "BadRequest", "invalid Content-Length");
            return -1;
        }
        if (n > REQUEST_BODY_LIMIT) {
            request_free(out);
            reject(c, 413, "RequestEntityTooLarge", "request entity too large: limit is 1048576");
            return -1;
        }
        body_len = (size_t)n;
        if (c->in.len < head_len + body_len) {
            request_free(out);
            return 0;
        }
        out->body = malloc(body_len + 1);
        memcpy(out->body, c->in.data + head_len, body_len);
        out->body[body_len] = '\0';
        out->body_len = body_len;
        consumed = head_len + body_len;
    } else {
        out->body = strdup("");
    }
    const char *connection = request_header(out, "Connection");
    if (http10 || (connection && strcasecmp(connection, "close") == 0))
        c->close_after_write = 1;
    out->client_cert_ok = c->client_cert_ok;
    buf_consume(&c->in, consumed);
    return 1;
bad_chunk:
    reject(c, 400, "BadRequest", "malformed chunked request body");
    return -1;
}

void server_dispatch(struct conn *c, struct exchange *ex)
{
    ex->state = EX_HANDLING;
    ex->req.client_cert_ok = c->client_cert_ok;
    ex->in_handler = 1;
    if (c->listener)
        c->listener->handler(ex, c->listener->arg);
    else
        c->srv->handler(ex, c->srv->arg);
    ex->in_handler = 0;
}

static void conn_process(struct conn *c)
{
    if (c->h2) {
        h2_input(c);
        return;
    }
    while (!c->dead && !c->ex && !c->close_after_write && c->in.len) {
        struct request req;
        int r = parse_request(c, &req);
        if (r <= 0)
            break;
        struct exchange *ex = calloc(1, sizeof *ex);
        ex->conn = c;
        ex->req = req;
        c->ex = ex;
        server_dispatch(c, ex);
        if (ex->state == EX_DONE && c->ex == ex) {
            c->ex = NULL;
            request_free(&ex->req);
            free(ex);
        }
    }
    conn_flush(c);
}

static void conn_destroy(struct conn *c)
{
    struct server *srv = c->srv;
    if (c->h2)
        h2_free(c);
    if (c->ex) {
        struct exchange *ex = c->ex;
        c->ex = NULL;
        if (ex->state != EX_DONE && ex->on_gone)
            ex->on_gone(ex, ex->gone_ctx);
        request_free(&ex->req);
        free(ex);
    }
    epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* Buffers what a connection read; one that sends far more than a request
 * may hold is closed (-1). */
static int conn_take_input(struct conn *c, const char *data, size_t len)
{
    buf_append(&c->in, data, len);
    if (c->in.len > 4 * REQUEST_BODY_LIMIT) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* A plain listener's connection: no TLS, HTTP/1.1 only. */
static void conn_readable_plain(struct conn *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t n = read(c->fd, tmp, sizeof tmp);
        if (n > 0) {
            if (conn_take_input(c, tmp, (size_t)n) != 0)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        conn_close(c); /* EOF or error */
        return;
    }
    conn_process(c);
}

static void conn_readable(struct conn *c)
{
    if (!c->ssl) {
        conn_readable_plain(c);
        return;
    }
    if (!c->handshake_done) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int err = SSL_get_error(c->ssl, r);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
                conn_close(c);
            c->handshake_wants_write = err == SSL_ERROR_WANT_WRITE;
            conn_update_events(c);
            return;
        }
        c->handshake_done = 1;
        c->handshake_wants_write = 0;
        c->client_cert_ok = tls_peer_authenticated(c->ssl);
        const unsigned char *proto;
        unsigned proto_len;
        SSL_get0_alpn_selected(c->ssl, &proto, &proto_len);
        if (proto_len == 2 && memcmp(proto, "h2", 2) == 0 && h2_start(c) != 0) {
            conn_close(c);
            return;
        }
    }
    char tmp[16384];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, tmp, sizeof tmp);
        if (n > 0) {
            if (conn_take_input(c, tmp, (size_t)n) != 0)
                return;
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        conn_close(c);
        return;
    }
    conn_process(c);
}

/* l NULL: the TLS API listener. */
static void accept_all(struct server *srv, struct listener *l)
{
    for (;;) {
        int fd = accept4(l ? l->fd : srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        c->kind = POLL_CONN;
        c->srv = srv;
        c->fd = fd;
        c->listener = l;
        if (l) {
            c->handshake_done = 1;
        } else {
            c->ssl = SSL_new(srv->tls->ctx);
            SSL_set_fd(c->ssl, fd);
            SSL_set_accept_state(c->ssl);
        }
        c->epoll_events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    if (signal_target)
        signal_target->stopping = 1;
}

/* A listening socket on loopback host:port; -1 (and why on stderr) on
 * failure. *bound_port gets the port, useful when port is 0. */
static int listen_loopback(const char *host, int port, int *bound_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "meshsim: --listen must be a loopback IPv4 address, got %s\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "meshsim: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *bound_port = ntohs(sa.sin_port);
    return fd;
}

struct server *server_new(const char *host, int port, struct tls_material *tls, request_handler handler,
                          tick_handler tick, void *arg)
{
    int bound_port;
    int fd = listen_loopback(host, port, &bound_port);
    if (fd < 0)
        return NULL;
    struct server *srv = calloc(1, sizeof *srv);
    srv->listen_fd = fd;
    srv->port = bound_port;
    srv->tls = tls;
    srv->handler = handler;
    srv->tick = tick;
    srv->arg = arg;
    srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    return srv;
}

int server_port(const struct server *srv)
{
    return srv->port;
}

struct listener *server_listen_plain(struct server *srv, const char *host, int port, request_handler handler,
                                     void *arg)
{
    int bound_port;
    int fd = listen_loopback(host, port, &bound_port);
    if (fd < 0)
        return NULL;
    struct listener *l = calloc(1, sizeof *l);
    l->kind = POLL_PLAIN_LISTENER;
    l->fd = fd;
    l->port = bound_port;
    l->handler = handler;
    l->arg = arg;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    return l;
}

int listener_port(const struct listener *l)
{
    return l->port;
}

void server_unlisten(struct server *srv, struct listener *l)
{
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->listener == l) {
            struct linger lg = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            c->listener = NULL;
            conn_close(c);
        }
    epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    free(l);
}

void server_stop(struct server *srv)
{
    srv->stopping = 1;
}

static void reap_dead(struct server *srv)
{
    struct conn *c = srv->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->dead)
            conn_destroy(c);
        c = next;
    }
}

void server_run(struct server *srv)
{
    signal_target = srv;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct epoll_event events[256];
    while (!srv->stopping) {
        int wait = srv->tick ? srv->tick(now_ms(), srv->arg) : 1000;
        reap_dead(srv);
        int n = epoll_wait(srv->epoll_fd, events, 256, wait < 0 ? 0 : wait);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                accept_all(srv, NULL);
                continue;
            }
            if (c->kind == POLL_PLAIN_LISTENER) {
                accept_all(srv, (struct listener *)events[i].data.ptr);
                continue;
            }
            if (c->dead)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_readable(c);
            if (!c->dead && (events[i].events & EPOLLOUT)) {
                if (c->handshake_done)
                    conn_flush(c);
                else
                    conn_readable(c);
            }
        }
        /* Answers given from ticks may unblock pipelined requests. */
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (c->dead)
                continue;
            if (c->h2)
                h2_send(c);
            else if (!c->ex && c->in.len)
                conn_process(c);
        }
        reap_dead(srv);
    }
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_destroy(srv->conns);
    close(srv->listen_fd);
    close(srv->epoll_fd);
    if (signal_target == srv)
        signal_target = NULL;
    free(srv);
}
