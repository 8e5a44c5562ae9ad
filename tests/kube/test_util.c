/* Small helpers of tui/kube: base64 both ways, RFC 3339 times, paths,
 * URL escaping, the error table. */
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

static void test_rfc3339(void)
{
    time_t t;
    CHECK(kube_parse_rfc3339("1970-01-01T00:00:00Z", &t) && t == 0);
    CHECK(kube_parse_rfc3339("2026-11-26T20:00:00Z", &t) && t == 1795723200);
    CHECK(kube_parse_rfc3339("2026-11-26T22:00:00.123456+02:00", &t) && t == 1795723200);
    CHECK(kube_parse_rfc3339("2026-11-26T15:30:00-04:30", &t) && t == 1795723200);
    CHECK(!kube_parse_rfc3339("2026-11-26 20:00:00", &t));
    CHECK(!kube_parse_rfc3339("2026-13-26T20:00:00Z", &t));
    CHECK(!kube_parse_rfc3339("2026-11-26T20:00:00Zjunk", &t));
    CHECK(!kube_parse_rfc3339("2026-11-26T20:00:00.Z", &t));
    CHECK(!kube_parse_rfc3339("", &t));
    CHECK(!kube_parse_rfc3339(NULL, &t));
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

int main(void)
{
    RUN(test_base64_round_trip);
    RUN(test_base64_rejects);
    RUN(test_rfc3339);
    RUN(test_paths);
    RUN(test_url_escape);
    RUN(test_error_table);
    TEST_MAIN_END();
}
