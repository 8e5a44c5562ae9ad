/* The HTTP side of meshsim: one epoll loop, TLS, HTTP/1.1 with keep-alive
 * and chunked streaming, and HTTP/2 when the client offers h2 by ALPN.
 * Handlers see an exchange (one request and its response) and may answer at
 * once, later (delays), or stream (watches). */
#ifndef MESHSIM_SERVER_H
#define MESHSIM_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

#define REQUEST_BODY_LIMIT (1024 * 1024)

struct header {
    char *name, *value;
};

struct request {
    char *method;
    char *path;  /* percent-decoded path, without the query string */
    char *query; /* raw query string, "" when none */
    struct header *headers;
    size_t n_headers;
    struct header *params; /* decoded query parameters */
    size_t n_params;
    char *body;
    size_t body_len;
    int client_cert_ok; /* peer presented a certificate signed by our CA */
};

const char *request_header(const struct request *req, const char *name);
/* Decoded query parameter, or NULL; a parameter given without '=' is "". */
const char *request_param(const struct request *req, const char *name);

struct exchange;
struct server;

typedef void (*request_handler)(struct exchange *ex, void *arg);
/* Called once per loop turn with the current time; returns how many
 * milliseconds the loop may sleep before calling again. */
typedef int (*tick_handler)(int64_t now_ms, void *arg);

int64_t now_ms(void);

/* Binds host:port (port 0: any). Returns NULL and prints why on failure. */
struct server *server_new(const char *host, int port, struct tls_material *tls, request_handler handler,
                          tick_handler tick, void *arg);
int server_port(const struct server *srv);

/* A plain-HTTP/1.1 listener served by the same loop, with its own handler:
 * what a scraper reaching a pod's IP and port directly talks to. host must
 * be a loopback IPv4 address; port 0 picks a free one. NULL (and why on
 * stderr) on failure. */
struct listener;
struct listener *server_listen_plain(struct server *srv, const char *host, int port, request_handler handler,
                                     void *arg);
int listener_port(const struct listener *l);
/* Stops listening and resets the listener's open connections, as a pod that
 * is gone stops answering. */
void server_unlisten(struct server *srv, struct listener *l);
/* Runs until server_stop (or SIGINT/SIGTERM, which call it). */
void server_run(struct server *srv);
void server_stop(struct server *srv);
void server_free(struct server *srv);

const struct request *ex_request(const struct exchange *ex);

/* A complete response. extra_headers: "Name: value\r\n" lines or NULL. */
void ex_reply(struct exchange *ex, int code, const char *content_type, const char *body, size_t len,
              const char *extra_headers);
/* A Kubernetes Status (kind Status, status Failure) with code and reason. */
void ex_reply_status(struct exchange *ex, int code, const char *reason, const char *message,
                     const char *extra_headers);
/* A streamed response (chunked on HTTP/1.1, DATA frames on h2). */
void ex_stream_begin(struct exchange *ex, int code, const char *content_type);
void ex_stream_write(struct exchange *ex, const char *data, size_t len);
void ex_stream_end(struct exchange *ex);
/* Resets the request without an answer: closes an HTTP/1.1 connection,
 * RST_STREAMs an h2 stream. */
void ex_reset(struct exchange *ex);
/* Marks the exchange as answered later. on_gone runs if the client goes away
 * first; the owner must then forget the exchange. */
void ex_defer(struct exchange *ex, void (*on_gone)(struct exchange *ex, void *ctx), void *ctx);
/* Bytes queued for the client but not yet written: lets streams back off. */
size_t ex_pending_output(const struct exchange *ex);

#endif
