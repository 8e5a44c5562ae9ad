/* A small HTTP/1.1 server on 127.0.0.1:0 for the client tests: one thread
 * per connection, one request per connection, answers from a handler the
 * test provides. It records every request it saw and stops by itself after
 * `lifetime_s` seconds even if a test forgets to stop it. */
#ifndef TEST_HTTP_SERVER_H
#define TEST_HTTP_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { TS_MAX_REQUESTS = 64 };

struct ts_request {
    char method[16];
    char path[1024];
    char authorization[512];
    char content_type[128];
    char host[256];
    char accept_encoding[128];
    char headers[4096]; /* the whole header block */
    char body[4096];
};

struct test_server;
/* Writes the whole answer to `fd`; may sleep or stream. */
typedef void (*ts_handler)(struct test_server *s, const struct ts_request *req, int index, int fd);

struct test_server {
    int listen_fd;
    int port;
    ts_handler handler;
    void *user;
    pthread_t thread;
    volatile bool stop;
    int active; /* connection threads still running (atomic) */
    time_t deadline;
    pthread_mutex_t lock;
    int n_requests;
    struct ts_request *requests; /* TS_MAX_REQUESTS of them, freed by ts_stop */
};

struct ts_conn {
    struct test_server *server;
    int fd;
};

static void ts_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* A complete answer with Content-Length. `extra_headers` ends in "\r\n" or is "". */
static void ts_reply(int fd, int status, const char *extra_headers, const char *content_type,
                     const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, content_type, strlen(body), extra_headers);
    ts_write_all(fd, head, (size_t)n);
    ts_write_all(fd, body, strlen(body));
}

static void ts_header_value(const char *headers, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

static void *ts_conn_main(void *arg)
{
    struct ts_conn *conn = arg;
    struct test_server *s = conn->server;
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        struct pollfd p = {.fd = conn->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(conn->fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end) {
        struct ts_request req = {0};
        sscanf(buf, "%15s %1023s", req.method, req.path);
        *end = '\0';
        ts_header_value(buf, "Authorization", req.authorization, sizeof req.authorization);
        ts_header_value(buf, "Content-Type", req.content_type, sizeof req.content_type);
        ts_header_value(buf, "Host", req.host, sizeof req.host);
        ts_header_value(buf, "Accept-Encoding", req.accept_encoding, sizeof req.accept_encoding);
        snprintf(req.headers, sizeof req.headers, "%s", buf);
        char cl[32], expect[64];
        ts_header_value(buf, "Content-Length", cl, sizeof cl);
        ts_header_value(buf, "Expect", expect, sizeof expect);
        size_t want = (size_t)atol(cl);
        if (expect[0])
            ts_write_all(conn->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        char *body = end + 4;
        size_t have = len - (size_t)(body - buf);
        while (have < want && have < sizeof req.body - 1) {
            ssize_t n = read(conn->fd, body + have, sizeof buf - 1 - (size_t)(body - buf) - have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        memcpy(req.body, body, have < sizeof req.body - 1 ? have : sizeof req.body - 1);
        pthread_mutex_lock(&s->lock);
        int index = s->n_requests;
        if (s->n_requests < TS_MAX_REQUESTS)
            s->requests[s->n_requests++] = req;
        pthread_mutex_unlock(&s->lock);
        s->handler(s, &req, index, conn->fd);
    }
    close(conn->fd);
    free(conn);
    __atomic_sub_fetch(&s->active, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *ts_main(void *arg)
{
    struct test_server *s = arg;
    while (!s->stop && time(NULL) < s->deadline) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct ts_conn *conn = malloc(sizeof *conn);
        conn->server = s;
        conn->fd = fd;
        __atomic_add_fetch(&s->active, 1, __ATOMIC_SEQ_CST);
        pthread_t t;
        pthread_create(&t, NULL, ts_conn_main, conn);
        pthread_detach(t);
    }
    return NULL;
}

static void ts_start(struct test_server *s, ts_handler handler, void *user, int lifetime_s)
{
    memset(s, 0, sizeof *s);
    s->handler = handler;
    s->user = user;
    s->deadline = time(NULL) + lifetime_s;
    pthread_mutex_init(&s->lock, NULL);
    s->requests = calloc(TS_MAX_REQUESTS, sizeof *s->requests);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s->listen_fd, 64) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("test server");
        exit(2);
    }
    s->port = ntohs(addr.sin_port);
    pthread_create(&s->thread, NULL, ts_main, s);
}

static void ts_stop(struct test_server *s)
{
    s->stop = true;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    /* Connection threads are detached; each ends within its read timeout. */
    for (int i = 0; i < 1000 && __atomic_load_n(&s->active, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    pthread_mutex_destroy(&s->lock);
    free(s->requests);
    s->requests = NULL;
}

static int ts_count(struct test_server *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

#endif
