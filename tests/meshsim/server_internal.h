/* What server.c and h2.c share: connections and exchanges. */
#ifndef MESHSIM_SERVER_INTERNAL_H
#define MESHSIM_SERVER_INTERNAL_H

#include <nghttp2/nghttp2.h>

#include "buf.h"
#include "server.h"

enum ex_state { EX_HANDLING, EX_DEFERRED, EX_STREAMING, EX_DONE };

struct conn;

/* What an epoll event points at: a plain listener or a connection (the API
 * listener is NULL). */
enum poll_kind { POLL_CONN, POLL_PLAIN_LISTENER };

struct exchange {
    struct conn *conn;
    struct request req;
    enum ex_state state;
    int in_handler; /* the handler is still on the stack: it frees nothing */
    void (*on_gone)(struct exchange *ex, void *ctx);
    void *gone_ctx;
    /* HTTP/2 only: */
    int32_t stream_id;
    struct buf h2_body; /* response bytes not yet taken by nghttp2 */
    size_t h2_sent;
    int h2_eof;        /* no more response bytes will come */
    int h2_too_large;  /* request body went over the limit */
    struct exchange *h2_next, *h2_prev;
};

struct conn {
    enum poll_kind kind; /* first: epoll data points here */
    struct server *srv;
    int fd;
    SSL *ssl;                  /* NULL on a plain listener's connection */
    struct listener *listener; /* the plain listener it came in on, or NULL */
    int handshake_done;
    int handshake_wants_write; /* the TLS handshake waits for the socket to drain */
    int client_cert_ok;
    int close_after_write;
    int dead;
    uint32_t epoll_events;
    struct buf in, out;
    struct exchange *ex; /* the request being answered; HTTP/1.1 runs one at a time */
    nghttp2_session *h2; /* set when ALPN chose h2 */
    int h2_in_callback;  /* nghttp2 is on the stack: queue, do not send */
    struct exchange *h2_streams;
    struct conn *prev, *next;
};

/* server.c */
void conn_flush(struct conn *c);
void conn_close(struct conn *c);
void request_free(struct request *req);
/* Decodes the path in place and the query into params; -1 on a bad escape. */
int request_decode_target(struct request *req);
const char *http_reason_phrase(int code);
/* Hands a complete request to the server's handler. */
void server_dispatch(struct conn *c, struct exchange *ex);

/* h2.c */
int h2_start(struct conn *c);
void h2_input(struct conn *c);
void h2_send(struct conn *c);
void h2_free(struct conn *c);
void h2_reply(struct exchange *ex, int code, const char *content_type, const char *body, size_t len,
              const char *extra_headers);
void h2_stream_begin(struct exchange *ex, int code, const char *content_type);
void h2_stream_write(struct exchange *ex, const char *data, size_t len);
void h2_stream_end(struct exchange *ex);
void h2_reset(struct exchange *ex);

#endif
