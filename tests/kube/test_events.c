/* A pod's events: the list path with its escaped field selector, and the
 * EventList reader (times, counts, the older source field, bad bodies). */
#include <stdlib.h>
#include <string.h>

#include "kube_events.h"
#include "testlib.h"

static void test_path(void)
{
    char *p = kube_pod_events_path("demo", "cart-7d9f8-abcde");
    CHECK_STR(p, "/api/v1/namespaces/demo/events?fieldSelector=involvedObject.name%3Dcart-7d9f8-abcde");
    free(p);
    /* Whatever a name holds stays inside the selector's value. */
    p = kube_pod_events_path("a b", "x&y=z,w");
    CHECK_STR(p, "/api/v1/namespaces/a%20b/events?fieldSelector=involvedObject.name%3Dx%26y%3Dz%2Cw");
    free(p);
}

static void test_parse(void)
{
    const char *body =
        "{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"items\":["
        "{\"type\":\"Normal\",\"reason\":\"Started\",\"message\":\"Started container app\","
        "\"source\":{\"component\":\"kubelet\"},\"lastTimestamp\":\"2026-01-01T00:00:05Z\",\"count\":3},"
        "7,"
        "{\"type\":\"Warning\",\"reason\":\"BackOff\",\"message\":\"Back-off\",\"reportingComponent\":\"kubelet\","
        "\"lastTimestamp\":null,\"eventTime\":\"2026-01-01T00:00:09.123456Z\"},"
        "{\"reason\":\"Scheduled\",\"metadata\":{\"creationTimestamp\":\"2026-01-01T00:00:01Z\"},\"count\":-4},"
        "{\"type\":\"Normal\",\"reason\":\"Pulled\",\"message\":\"m\",\"lastTimestamp\":\"2026-01-01T00:00:05Z\"}]}";
    struct kube_event_list l;
    char err[100];
    CHECK_INT(kube_events_parse(body, strlen(body), &l, err, sizeof err), 0);
    CHECK_INT(l.n, 4);
    if (l.n == 4) {
        /* Oldest first; the two of 00:00:05 keep the server's order. */
        CHECK_STR(l.items[0].reason, "Scheduled");
        CHECK_STR(l.items[0].type, "");
        CHECK_INT(l.items[0].count, 1);
        CHECK_STR(l.items[1].reason, "Started");
        CHECK_STR(l.items[1].source, "kubelet");
        CHECK_INT(l.items[1].count, 3);
        CHECK_STR(l.items[2].reason, "Pulled");
        CHECK_STR(l.items[3].reason, "BackOff");
        CHECK_STR(l.items[3].source, "kubelet");
        CHECK(l.items[3].last > l.items[2].last);
    }
    kube_event_list_free(&l);
}

static void test_rejects(void)
{
    struct kube_event_list l;
    char err[100];
    const char *pods = "{\"kind\":\"PodList\",\"items\":[]}";
    CHECK_INT(kube_events_parse(pods, strlen(pods), &l, err, sizeof err), -1);
    CHECK_STR(err, "the answer is not an EventList");
    CHECK_INT(kube_events_parse("{\"items\":", 9, &l, err, sizeof err), -1);
    CHECK_STR(err, "the answer is not JSON");
    const char *empty = "{\"kind\":\"EventList\",\"items\":[]}";
    CHECK_INT(kube_events_parse(empty, strlen(empty), &l, err, sizeof err), 0);
    CHECK_INT(l.n, 0);
    kube_event_list_free(&l);
}

int main(void)
{
    RUN(test_path);
    RUN(test_parse);
    RUN(test_rejects);
    TEST_MAIN_END();
}
