/* HTTP/2 (ALPN h2) on meshsim's connections, with nghttp2 doing the
 * protocol and the server's loop doing the I/O. Each stream is an exchange;
 * responses and watch streams are fed through a data provider that defers
 * while a stream waits for more. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "server_internal.h"

#define MAX_CONCURRENT_STREAMS 250
#define MAX_HEADER_BYTES (64 * 1024)

static void stream_unlink(struct exchange *ex)
{
    struct conn *c = ex->conn;
    if (ex->h2_prev)
        ex->h2_prev->h2_next = ex->h2_next;
    else
        c->h2_streams = ex->h2_next;
    if (ex->h2_next)
        ex->h2_next->h2_prev = ex->h2_prev;
}

/* The client went away (stream closed or connection gone) or the answer
 * is complete: tell an owner still holding it, then free. */
static void stream_free(struct exchange *ex)
{
    stream_unlink(ex);
    if (ex->state != EX_DONE && ex->on_gone)
        ex->on_gone(ex, ex->gone_ctx);
    request_free(&ex->req);
    buf_free(&ex->h2_body);
    free(ex);
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user)
{
    (void)session;
    (void)flags;
    struct conn *c = user;
    buf_append(&c->out, data, length);
    return (ssize_t)length;
}

static int begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct exchange *ex = calloc(1, sizeof *ex);
    ex->conn = c;
    ex->stream_id = frame->hd.stream_id;
    ex->state = EX_HANDLING;
    ex->req.headers = calloc(1, sizeof *ex->req.headers);
    ex->h2_next = c->h2_streams;
    if (c->h2_streams)
        c->h2_streams->h2_prev = ex;
    c->h2_streams = ex;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, ex);
    return 0;
}

static int header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    struct exchange *ex = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!ex)
        return 0;
    struct request *req = &ex->req;
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        free(req->method);
        req->method = strndup((const char *)value, valuelen);
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        const char *q = memchr(value, '?', valuelen);
        size_t plen = q ? (size_t)((const uint8_t *)q - value) : valuelen;
        free(req->path);
        free(req->query);
        req->path = strndup((const char *)value, plen);
        req->query = q ? strndup(q + 1, valuelen - plen - 1) : strdup("");
    } else if (namelen > 0 && name[0] != ':') {
        size_t total = 0;
        for (size_t i = 0; i < req->n_headers; i++)
            total += strlen(req->headers[i].name) + strlen(req->headers[i].value);
        if (total + namelen + valuelen > MAX_HEADER_BYTES)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream */
        req->headers = realloc(req->headers, (req->n_headers + 1) * sizeof *req->headers);
        req->headers[req->n_headers].name = strndup((const char *)name, namelen);
        req->headers[req->n_headers].value = strndup((const char *)value, valuelen);
        req->n_headers++;
    } else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
        req->headers = realloc(req->headers, (req->n_headers + 1) * sizeof *req->headers);
        req->headers[req->n_headers].name = strdup("Host");
        req->headers[req->n_headers].value = strndup((const char *)value, valuelen);
        req->n_headers++;
    }
    return 0;
}

static int data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                         void *user)
{
    (void)flags;
    (void)user;
    struct exchange *ex = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!ex || ex->h2_too_large)
        return 0;
    if (ex->req.body_len + len > REQUEST_BODY_LIMIT) {
        ex->h2_too_large = 1;
        return 0;
    }
    ex->req.body = realloc(ex->req.body, ex->req.body_len + len + 1);
    memcpy(ex->req.body + ex->req.body_len, data, len);
    ex->req.body_len += len;
    ex->req.body[ex->req.body_len] = '\0';
    return 0;
}

static int frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct conn *c = user;
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct exchange *ex = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!ex || ex->state != EX_HANDLING || ex->in_handler)
        return 0;
    if (!ex->req.body)
        ex->req.body = strdup("");
    if (!ex->req.method || !ex->req.path || ex->req.path[0] != '/') {
        ex_reply_status(ex, 400, "BadRequest", "malformed HTTP/2 request", NULL);
        return 0;
    }
    if (ex->h2_too_large) {
        ex_reply_status(ex, 413, "RequestEntityTooLarge", "request entity too large: limit is 1048576", NULL);
        return 0;
    }
    if (request_decode_target(&ex->req) != 0) {
        ex_reply_status(ex, 400, "BadRequest", "malformed percent-encoding in the request target", NULL);
        return 0;
    }
    server_dispatch(c, ex);
    return 0;
}

static int stream_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user)
{
    (void)error_code;
    (void)user;
    struct exchange *ex = nghttp2_session_get_stream_user_data(session, stream_id);
    if (ex) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(ex);
    }
    return 0;
}

static ssize_t body_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *out, size_t length,
                                  uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    (void)session;
    (void)stream_id;
    (void)user;
    struct exchange *ex = source->ptr;
    size_t left = ex->h2_body.len - ex->h2_sent;
    size_t n = left < length ? left : length;
    if (n)
        memcpy(out, ex->h2_body.data + ex->h2_sent, n);
    ex->h2_sent += n;
    if (ex->h2_sent == ex->h2_body.len) {
        buf_consume(&ex->h2_body, ex->h2_sent);
        ex->h2_sent = 0;
        if (ex->h2_eof)
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        else if (!n)
            return NGHTTP2_ERR_DEFERRED; /* a watch waiting for events */
    }
    return (ssize_t)n;
}

int h2_start(struct conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
    int rc = nghttp2_session_server_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    h2_send(c);
    return 0;
}

void h2_send(struct conn *c)
{
    if (!c->h2 || c->h2_in_callback || c->dead)
        return;
    c->h2_in_callback = 1;
    int rc = nghttp2_session_send(c->h2);
    c->h2_in_callback = 0;
    if (rc != 0 || (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))
        c->close_after_write = 1;
    conn_flush(c);
}

void h2_input(struct conn *c)
{
    if (!c->in.len)
        return;
    c->h2_in_callback = 1;
    ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in.data, c->in.len);
    c->h2_in_callback = 0;
    if (n < 0) {
        c->in.len = 0;
        c->close_after_write = 1;
    } else {
        buf_consume(&c->in, (size_t)n);
    }
    h2_send(c);
}

void h2_free(struct conn *c)
{
    while (c->h2_streams)
        stream_free(c->h2_streams);
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

/* Connection-specific HTTP/1.1 headers have no place in HTTP/2. */
static int h1_only(const char *name)
{
    static const char *const names[] = {"connection", "keep-alive", "transfer-encoding", "upgrade",
                                        "proxy-connection", "content-length", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

struct header_list {
    nghttp2_nv nv[64];
    char *owned[64];
    size_t n, n_owned;
};

static void add_nv(struct header_list *h, const char *name, const char *value)
{
    if (h->n == 64)
        return;
    char *n = strdup(name), *v = strdup(value);
    for (char *p = n; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    h->owned[h->n_owned++] = n;
    h->owned[h->n_owned++] = v;
    h->nv[h->n++] = (nghttp2_nv){(uint8_t *)n, (uint8_t *)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE};
}

static void build_headers(struct header_list *h, int code, const char *content_type, const char *extra, long len)
{
    char status[8];
    snprintf(status, sizeof status, "%d", code);
    add_nv(h, ":status", status);
    add_nv(h, "audit-id", "meshsim");
    add_nv(h, "cache-control", "no-cache, private");
    if (content_type)
        add_nv(h, "content-type", content_type);
    if (len >= 0) {
        char l[24];
        snprintf(l, sizeof l, "%ld", len);
        add_nv(h, "content-length", l);
    }
    /* extra: "Name: value\r\n" lines */
    const char *p = extra;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : strlen(p));
        if (!eol || !colon)
            break;
        char name[128], value[1024];
        snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        snprintf(value, sizeof value, "%.*s", (int)(eol - v), v);
        if (!h1_only(name))
            add_nv(h, name, value);
        p = eol + 2;
    }
}

static void free_headers(struct header_list *h)
{
    for (size_t i = 0; i < h->n_owned; i++)
        free(h->owned[i]);
}

static void submit(struct exchange *ex, int code, const char *content_type, const char *extra, long len, int body)
{
    struct header_list h = {0};
    build_headers(&h, code, content_type, extra, len);
    nghttp2_data_provider provider = {.source.ptr = ex, .read_callback = body_read_cb};
    nghttp2_submit_response(ex->conn->h2, ex->stream_id, h.nv, h.n, body ? &provider : NULL);
    free_headers(&h);
}

void h2_reply(struct exchange *ex, int code, const char *content_type, const char *body, size_t len,
              const char *extra_headers)
{
    int head = ex->req.method && strcmp(ex->req.method, "HEAD") == 0;
    if (!head)
        buf_append(&ex->h2_body, body, len);
    ex->h2_eof = 1;
    ex->state = EX_DONE;
    submit(ex, code, content_type, extra_headers, (long)len, !head && len > 0);
    h2_send(ex->conn);
}

void h2_stream_begin(struct exchange *ex, int code, const char *content_type)
{
    ex->state = EX_STREAMING;
    submit(ex, code, content_type, NULL, -1, 1);
    h2_send(ex->conn);
}

void h2_stream_write(struct exchange *ex, const char *data, size_t len)
{
    buf_append(&ex->h2_body, data, len);
    nghttp2_session_resume_data(ex->conn->h2, ex->stream_id);
    h2_send(ex->conn);
}

void h2_stream_end(struct exchange *ex)
{
    ex->h2_eof = 1;
    ex->state = EX_DONE;
    nghttp2_session_resume_data(ex->conn->h2, ex->stream_id);
    h2_send(ex->conn);
}

void h2_reset(struct exchange *ex)
{
    ex->state = EX_DONE;
    nghttp2_submit_rst_stream(ex->conn->h2, NGHTTP2_FLAG_NONE, ex->stream_id, NGHTTP2_INTERNAL_ERROR);
    h2_send(ex->conn);
}
