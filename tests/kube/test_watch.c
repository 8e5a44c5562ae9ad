/* The watch stream decoder: lines split anywhere, bookmarks, ERROR 410,
 * garbage. */
#include <stdlib.h>
#include <string.h>

#include "kube_watch.h"
#include "testlib.h"

struct seen {
    int n;
    char log[4096];
    char last_rv[64];
    int stop_after;
};

static bool record(const struct kube_watch_event *ev, void *user)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct seen *s = user;
    s->n++;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ev->object, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    char line[256];
    if (ev->type == KUBE_WATCH_ERROR)
        snprintf(line, sizeof line, "ERROR %d %s|", ev->status.code, ev->status.reason);
    else
        snprintf(line, sizeof line, "%s %s %s|", names[ev->type],
                 cJSON_IsString(name) ? name->valuestring : "-",
                 ev->resource_version ? ev->resource_version : "-");
    strncat(s->log, line, sizeof s->log - strlen(s->log) - 1);
    if (ev->resource_version)
        snprintf(s->last_rv, sizeof s->last_rv, "%s", ev->resource_version);
    return !(s->stop_after && s->n >= s->stop_after);
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-1\","
    "\"namespace\":\"demo\",\"resourceVersion\":\"101\",\"annotations\":{\"sidecar.istio.io/status\":"
    "\"{\\\"containers\\\":[\\\"istio-proxy\\\"]}\"}}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"resourceVersion\":\"102\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"150\","
    "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"resourceVersion\":\"151\"}}}\n";

static const char expected_log[] =
    "ADDED web-1 101|MODIFIED web-1 102|BOOKMARK - 150|DELETED web-1 151|";

static void test_whole_stream(void)
{
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    CHECK_INT(kube_watch_decoder_feed(&d, stream, strlen(stream)), 0);
    CHECK_STR(s.log, expected_log);
    CHECK_STR(s.last_rv, "151");
    kube_watch_decoder_free(&d);
}

/* Every way of cutting the stream in two, and byte by byte, gives the same events. */
static void test_split_anywhere(void)
{
    size_t len = strlen(stream);
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};
        struct kube_watch_decoder d;
        kube_watch_decoder_init(&d, record, &s);
        CHECK_INT(kube_watch_decoder_feed(&d, stream, cut), 0);
        CHECK_INT(kube_watch_decoder_feed(&d, stream + cut, len - cut), 0);
        if (strcmp(s.log, expected_log) != 0) {
            CHECK_STR(s.log, expected_log);
            kube_watch_decoder_free(&d);
            break;
        }
        kube_watch_decoder_free(&d);
    }
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    for (size_t i = 0; i < len; i++)
        CHECK_INT(kube_watch_decoder_feed(&d, stream + i, 1), 0);
    CHECK_STR(s.log, expected_log);
    kube_watch_decoder_free(&d);
}

static void test_partial_line_waits(void)
{
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    const char *half = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}";
    CHECK_INT(kube_watch_decoder_feed(&d, half, strlen(half)), 0);
    CHECK_INT(s.n, 0);
    CHECK_INT(kube_watch_decoder_feed(&d, "\n", 1), 0);
    CHECK_INT(s.n, 1);
    kube_watch_decoder_free(&d);
}

static void test_error_410(void)
{
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    const char *ev = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                     "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (3171407)\","
                     "\"reason\":\"Expired\",\"code\":410}}\n";
    CHECK_INT(kube_watch_decoder_feed(&d, ev, strlen(ev)), 0);
    CHECK_STR(s.log, "ERROR 410 Expired|");
    kube_watch_decoder_free(&d);
}

static void test_garbage(void)
{
    const char *const bad[] = {
        "not json at all\n",
        "[1,2,3]\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"EXPLODED\",\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":\"string\"}\n",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}\n", /* truncated */
        "\x00\xff\xfe\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct seen s = {0};
        struct kube_watch_decoder d;
        kube_watch_decoder_init(&d, record, &s);
        size_t len = i == 6 ? 4 : strlen(bad[i]);
        CHECK_INT(kube_watch_decoder_feed(&d, bad[i], len), -1);
        CHECK(d.error[0] != '\0');
        CHECK_INT(s.n, 0);
        /* A failed decoder stays failed until reset for a new stream. */
        const char *good = "{\"type\":\"ADDED\",\"object\":{}}\n";
        CHECK_INT(kube_watch_decoder_feed(&d, good, strlen(good)), -1);
        kube_watch_decoder_reset(&d);
        CHECK_INT(kube_watch_decoder_feed(&d, good, strlen(good)), 0);
        CHECK_INT(s.n, 1);
        kube_watch_decoder_free(&d);
    }
}

static void test_reset_drops_partial(void)
{
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    CHECK_INT(kube_watch_decoder_feed(&d, "{\"type\":\"ADD", 12), 0);
    kube_watch_decoder_reset(&d);
    const char *good = "{\"type\":\"DELETED\",\"object\":{}}\n";
    CHECK_INT(kube_watch_decoder_feed(&d, good, strlen(good)), 0);
    CHECK_STR(s.log, "DELETED - -|");
    kube_watch_decoder_free(&d);
}

static void test_line_too_long_and_stop(void)
{
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    d.max_line = 64;
    char big[100];
    memset(big, 'x', sizeof big);
    CHECK_INT(kube_watch_decoder_feed(&d, big, sizeof big), -1);
    CHECK_CONTAINS(d.error, "too long");
    kube_watch_decoder_free(&d);

    struct seen s2 = {.stop_after = 1};
    kube_watch_decoder_init(&d, record, &s2);
    CHECK_INT(kube_watch_decoder_feed(&d, stream, strlen(stream)), -1);
    CHECK_INT(s2.n, 1);
    kube_watch_decoder_free(&d);
}

/* The body of a real chunked watch (client-go test data), when present:
 * curl removes the chunk framing; here it is removed by hand. */
static void test_real_chunked_watch(void)
{
    FILE *f = fopen("/work/shared/realdata/k8s_json/clientgo-raw-http-watch-chunked-events.http", "r");
    if (!f)
        return;
    char raw[4096];
    size_t n = fread(raw, 1, sizeof raw - 1, f);
    fclose(f);
    raw[n] = '\0';
    char *p = strstr(raw, "\r\n\r\n");
    p = p ? p + 4 : strstr(raw, "\n\n") + 2;
    struct seen s = {0};
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, record, &s);
    for (;;) {
        char *end;
        long size = strtol(p, &end, 16);
        if (size <= 0)
            break;
        p = strchr(end, '\n') + 1;
        CHECK_INT(kube_watch_decoder_feed(&d, p, (size_t)size), 0);
        p += size;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    CHECK_STR(s.log, "ADDED foobar 217|BOOKMARK - 964|");
    kube_watch_decoder_free(&d);
}

int main(void)
{
    RUN(test_whole_stream);
    RUN(test_split_anywhere);
    RUN(test_partial_line_waits);
    RUN(test_error_410);
    RUN(test_garbage);
    RUN(test_reset_drops_partial);
    RUN(test_line_too_long_and_stop);
    RUN(test_real_chunked_watch);
    TEST_MAIN_END();
}
