/* Small helpers of tui/kube: base64 both ways, RFC 3339 times, paths,
 * URL escaping, the error table.
 *
 *   test_util [K8S_JSON_DIR]: also every timestamp in the real API captures
 *   there (skipped, with a message, when the directory does not exist). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "kube_client.h"
#include "kube_error.h"
#include "kube_util.h"
#include "testlib.h"

static void test_base64_round_trip(void)
{
    const unsigned char bytes[] = {0, 1, 2, 0xfe, 0xff, 'a', 'b', 'c', '\n', 0x80};
    for (size_t len = 0; len <= sizeof bytes; len++) {
        char *enc = kube_base64_encode(bytes, len);
        size_t out_len = 99;
        unsigned char *dec = kube_base64_decode(enc, strlen(enc), &out_len);
        CHECK(dec != NULL);
        CHECK_INT(out_len, len);
        CHECK(dec && memcmp(dec, bytes, len) == 0);
        free(enc);
        free(dec);
    }
    char *enc = kube_base64_encode((const unsigned char *)"hello ca", 8);
    CHECK_STR(enc, "aGVsbG8gY2E=");
    free(enc);
}

static void test_base64_rejects(void)
{
    const char *const bad[] = {"<ca>", "abc", "a===", "ab=c", "YQ==YQ==", "Y Q==", "LS0tLS1CRUdJTiBDRVJUSUZ...S0tLQo="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t n;
        unsigned char *d = kube_base64_decode(bad[i], strlen(bad[i]), &n);
        if (d)
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK(d == NULL);
        free(d);
    }
    size_t n;
    unsigned char *d = kube_base64_decode("aGVs\nbG8=\r\n", 11, &n);
    CHECK(d && n == 5 && memcmp(d, "hello", 5) == 0);
    free(d);
}

static bool rfc3339(const char *text, time_t *sec, long *nsec)
{
    /* A copy of exactly strlen(text) bytes on the heap: ASan sees any read
     * past the length. */
    size_t len = strlen(text);
    char *exact = malloc(len ? len : 1);
    memcpy(exact, text, len);
    struct timespec ts;
    bool ok = kube_parse_rfc3339(exact, len, &ts);
    free(exact);
    if (ok) {
        *sec = ts.tv_sec;
        *nsec = ts.tv_nsec;
    }
    return ok;
}

static void test_rfc3339_accepts(void)
{
    time_t t;
    long ns;
    CHECK(rfc3339("1970-01-01T00:00:00Z", &t, &ns) && t == 0 && ns == 0);
    CHECK(rfc3339("2026-11-26T20:00:00Z", &t, &ns) && t == 1795723200 && ns == 0);
    /* T and Z in lower case (RFC 3339 section 5.6, note). */
    CHECK(rfc3339("2026-11-26t20:00:00z", &t, &ns) && t == 1795723200);
    /* Fractions of any length; past nanoseconds they are dropped. */
    CHECK(rfc3339("2026-11-26T20:00:00.5Z", &t, &ns) && t == 1795723200 && ns == 500000000);
    CHECK(rfc3339("2026-11-26T20:00:00.250Z", &t, &ns) && ns == 250000000);
    CHECK(rfc3339("2026-11-26T20:00:00.123456789Z", &t, &ns) && ns == 123456789);
    CHECK(rfc3339("2026-11-26T20:00:00.1234567891234Z", &t, &ns) && t == 1795723200 && ns == 123456789);
    /* Offsets: local time minus the offset is UTC; -00:00 is UTC. */
    CHECK(rfc3339("2026-11-26T22:00:00.123456+02:00", &t, &ns) && t == 1795723200 && ns == 123456000);
    CHECK(rfc3339("2026-11-26T15:30:00-04:30", &t, &ns) && t == 1795723200);
    CHECK(rfc3339("2026-11-26T20:00:00-00:00", &t, &ns) && t == 1795723200);
    CHECK(rfc3339("2026-11-27T19:59:00+23:59", &t, &ns) && t == 1795723200);
    /* Across a day and a year. */
    CHECK(rfc3339("2026-12-31T23:30:00-01:00", &t, &ns) && t == 1798763400);
    /* Leap days and a leap second (read as the next minute's first). */
    CHECK(rfc3339("2024-02-29T00:00:00Z", &t, &ns) && t == 1709164800);
    CHECK(rfc3339("2000-02-29T00:00:00Z", &t, &ns) && t == 951782400);
    CHECK(rfc3339("2016-12-31T23:59:60Z", &t, &ns) && t == 1483228800);
    /* A Kubernetes pod's creationTimestamp and a journal record's time. */
    CHECK(rfc3339("2024-05-14T09:12:44Z", &t, &ns) && t == 1715677964);
    CHECK(rfc3339("2026-12-02T05:40:01.250Z", &t, &ns) && t == 1796190001 && ns == 250000000);
}

static void test_rfc3339_refuses(void)
{
    const char *const bad[] = {
        "", "2026", "2026-11-26", "2026-11-26T20:00Z", "2026-11-26T20:00:00",
        /* separators */
        "2026-11-26 20:00:00Z", "2026/11/26T20:00:00Z", "2026-11-26T20-00-00Z", "20261126T200000Z",
        /* field widths */
        "226-11-26T20:00:00Z", "2026-1-26T20:00:00Z", "2026-11-26T2:00:00Z", "+2026-11-26T20:00:00Z",
        /* out of range */
        "2026-00-26T20:00:00Z", "2026-13-26T20:00:00Z", "2026-11-00T20:00:00Z", "2026-11-31T20:00:00Z",
        "2026-02-29T20:00:00Z", "1900-02-29T20:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T20:60:00Z",
        "2026-11-26T20:00:61Z",
        /* fractions */
        "2026-11-26T20:00:00.Z", "2026-11-26T20:00:00,5Z", "2026-11-26T20:00:00.5.5Z",
        /* offsets */
        "2026-11-26T20:00:00+02", "2026-11-26T20:00:00+0200", "2026-11-26T20:00:00+2:00",
        "2026-11-26T20:00:00+24:00", "2026-11-26T20:00:00+02:60", "2026-11-26T20:00:00 +02:00",
        "2026-11-26T20:00:00UTC", "2026-11-26T20:00:00+02:00Z",
        /* trailing garbage */
        "2026-11-26T20:00:00Zjunk", "2026-11-26T20:00:00Z ", "2026-11-26T20:00:00+02:00:00",
        " 2026-11-26T20:00:00Z", "2026-11-26T20:00:00Z\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        time_t t;
        long ns;
        if (rfc3339(bad[i], &t, &ns))
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK(!rfc3339(bad[i], &t, &ns));
    }
    struct timespec ts;
    CHECK(!kube_parse_rfc3339(NULL, 0, &ts));
    /* The length bounds the read: a valid time cut short is refused, and
     * what follows the length is not looked at. */
    const char *text = "2026-11-26T20:00:00.5Z";
    for (size_t len = 0; len < strlen(text); len++)
        CHECK(!kube_parse_rfc3339(text, len, &ts));
    CHECK(kube_parse_rfc3339("2026-11-26T20:00:00Zjunk", 20, &ts) && ts.tv_sec == 1795723200);
    /* A NUL inside the length is garbage too. */
    CHECK(!kube_parse_rfc3339("2026-11-26T20:00:00Z\0", 21, &ts));
}

static const char *realdata_dir;

static bool starts_like_a_time(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-ddT";
    if (len < sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return false;
    return true;
}

/* Every JSON string in the captures that starts like a date-time
 * ("2021-12-29T...") is one Kubernetes wrote: each must be read. */
static void test_rfc3339_realdata(void)
{
    DIR *dir = realdata_dir ? opendir(realdata_dir) : NULL;
    if (!dir) {
        printf("skipped: real API captures: %s\n", realdata_dir ? "directory not found" : "no directory given");
        if (realdata_dir)
            printf("  (%s)\n", realdata_dir);
        return;
    }
    size_t seen = 0, files = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", realdata_dir, e->d_name);
        char *data;
        size_t len;
        if (kube_read_file(path, KUBE_MAX_CONFIG_BYTES, &data, &len) != 0)
            continue;
        files++;
        for (const char *q = data; (q = memchr(q, '"', len - (size_t)(q - data))); q++) {
            const char *start = q + 1, *end = memchr(start, '"', len - (size_t)(start - data));
            if (!end)
                break;
            if (starts_like_a_time(start, (size_t)(end - start))) {
                struct timespec ts;
                seen++;
                if (!kube_parse_rfc3339(start, (size_t)(end - start), &ts) || ts.tv_sec < 1e9)
                    fprintf(stderr, "%s: refused \"%.*s\"\n", e->d_name, (int)(end - start), start);
                CHECK(kube_parse_rfc3339(start, (size_t)(end - start), &ts) && ts.tv_sec > 1e9);
            }
            q = end;
        }
        free(data);
    }
    closedir(dir);
    printf("%zu timestamps in %zu captures\n", seen, files);
    CHECK(seen > 0);
}

static void test_paths(void)
{
    char *p;
    CHECK_STR(p = kube_path_resolve("/home/a/.kube", "certs/ca.crt"), "/home/a/.kube/certs/ca.crt");
    free(p);
    CHECK_STR(p = kube_path_resolve("/home/a/.kube", "/etc/ca.crt"), "/etc/ca.crt");
    free(p);
    CHECK_STR(p = kube_path_dir("/home/a/.kube/config"), "/home/a/.kube");
    free(p);
    CHECK_STR(p = kube_path_dir("config"), ".");
    free(p);
    CHECK_STR(p = kube_path_dir("/config"), "/");
    free(p);
}

static void test_url_escape(void)
{
    char *e = kube_url_escape("app in (web,api), tier!=db");
    CHECK_STR(e, "app%20in%20%28web%2Capi%29%2C%20tier%21%3Ddb");
    free(e);
    e = kube_url_escape("façade-_.~");
    CHECK_STR(e, "fa%C3%A7ade-_.~");
    free(e);
}

/* The names client-go refuses before sending (apimachinery
 * IsValidPathSegmentName), and paths whose dot segments would be resolved
 * into another resource's. */
static void test_path_safety(void)
{
    CHECK(kube_name_problem("hfi-wasm-stats") == NULL);
    CHECK(kube_name_problem("a.b..c") == NULL);
    CHECK(kube_name_problem("...") == NULL);
    CHECK_STR(kube_name_problem("."), "may not be '.'");
    CHECK_STR(kube_name_problem(".."), "may not be '..'");
    CHECK_STR(kube_name_problem("a/b"), "may not contain '/'");
    CHECK_STR(kube_name_problem("50%"), "may not contain '%'");
    CHECK_STR(kube_name_problem(""), "may not be empty");

    CHECK(!kube_path_has_dot_segment("/apis/apps/v1/namespaces/demo/deployments/cart"));
    CHECK(!kube_path_has_dot_segment("/api/v1/namespaces/demo/pods/a.b:15090/proxy/stats/prometheus?filter=.."));
    CHECK(!kube_path_has_dot_segment("/x/.../y/..z/.a"));
    CHECK(kube_path_has_dot_segment("/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/."));
    CHECK(kube_path_has_dot_segment("/apis/apps/v1/namespaces/demo/deployments/.."));
    CHECK(kube_path_has_dot_segment("/api/v1/namespaces/../pods"));
    CHECK(kube_path_has_dot_segment("/a/./b?q=1"));
    CHECK(kube_path_has_dot_segment("/a/..?q=1"));
    CHECK(kube_path_has_dot_segment("."));
}

static void test_error_table(void)
{
    CHECK_INT(kube_code_from_http(200, NULL), KUBE_OK);
    CHECK_INT(kube_code_from_http(403, "Forbidden"), KUBE_FORBIDDEN);
    CHECK_INT(kube_code_from_http(409, NULL), KUBE_CONFLICT);
    CHECK_INT(kube_code_from_http(409, "AlreadyExists"), KUBE_ALREADY_EXISTS);
    CHECK_INT(kube_code_from_http(410, NULL), KUBE_GONE);
    CHECK_INT(kube_code_from_http(410, "Expired"), KUBE_EXPIRED);
    CHECK_INT(kube_code_from_http(502, NULL), KUBE_INTERNAL_ERROR);
    CHECK_INT(kube_code_from_http(418, NULL), KUBE_HTTP_OTHER);
    CHECK_INT(kube_code_from_curl(7), KUBE_CONNECT);  /* CURLE_COULDNT_CONNECT */
    CHECK_INT(kube_code_from_curl(28), KUBE_TIMEOUT); /* CURLE_OPERATION_TIMEDOUT */
    CHECK_INT(kube_code_from_curl(60), KUBE_TLS);     /* CURLE_PEER_FAILED_VERIFICATION */
    CHECK_STR(kube_code_name(KUBE_EXPIRED), "EXPIRED");
    CHECK_STR(kube_code_reason(KUBE_EXPIRED), "Expired");
    CHECK_STR(kube_code_message(KUBE_EXEC_NOT_FOUND), "credential plugin not found");
    /* Every code has a message. */
    for (int code = 0; code < KUBE_CODE_COUNT; code++)
        CHECK(kube_code_message((enum kube_code)code)[0] != '\0');
    struct kube_error err;
    CHECK_INT(kube_error_set(&err, KUBE_FORBIDDEN, "x %d", 1), -1);
    CHECK_INT(err.http_status, 403);
    CHECK_STR(err.message, "x 1");
}

int main(int argc, char **argv)
{
    realdata_dir = argc > 1 ? argv[1] : NULL;
    RUN(test_base64_round_trip);
    RUN(test_path_safety);
    RUN(test_base64_rejects);
    RUN(test_rfc3339_accepts);
    RUN(test_rfc3339_refuses);
    RUN(test_rfc3339_realdata);
    RUN(test_paths);
    RUN(test_url_escape);
    RUN(test_error_table);
    TEST_MAIN_END();
}
