/* tui/app/policy.c and the fire token check: the strict parsers behind the
 * forms and flags, the plugin's own parser naming the policy at fault,
 * absolute bounds and the windows the lists show, the kill switch's
 * verdict per sidecar. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tui/app/actions.h"
#include "../tui/app/policy.h"
#include "testlib.h"

static void test_parse_duration(void)
{
    long s = -1;
    CHECK(app_parse_duration("90s", &s) && s == 90);
    CHECK(app_parse_duration("5m", &s) && s == 300);
    CHECK(app_parse_duration("1h", &s) && s == 3600);
    CHECK(app_parse_duration("1h30m", &s) && s == 5400);
    CHECK(app_parse_duration("2d", &s) && s == 172800);
    /* A bare number would be a guess at its unit: "1h" once became 1 s. */
    CHECK(!app_parse_duration("300", &s));
    CHECK(!app_parse_duration("", &s));
    CHECK(!app_parse_duration("5 m", &s));
    CHECK(!app_parse_duration("-5m", &s));
    CHECK(!app_parse_duration("5x", &s));
    CHECK(!app_parse_duration("m", &s));
    CHECK(!app_parse_duration("9999999999999999999s", &s));
    CHECK(!app_parse_duration("400d", &s));
}

static void test_parse_percentage_and_long(void)
{
    double p = -1;
    long v = -1;
    CHECK(app_parse_percentage("10", &p) && p == 10);
    CHECK(app_parse_percentage("0.1", &p) && p == 0.1);
    CHECK(app_parse_percentage("100", &p) && p == 100);
    /* "abc" was stored as 0. */
    CHECK(!app_parse_percentage("abc", &p));
    CHECK(!app_parse_percentage("", &p));
    CHECK(!app_parse_percentage("100.5", &p));
    CHECK(!app_parse_percentage("-1", &p));
    CHECK(!app_parse_percentage("10%", &p));
    CHECK(!app_parse_percentage("nan", &p));
    CHECK(!app_parse_percentage(" 5", &p));
    CHECK(app_parse_long("503", 200, 599, &v) && v == 503);
    CHECK(!app_parse_long("99", 200, 599, &v));
    CHECK(!app_parse_long("503x", 200, 599, &v));
    CHECK(!app_parse_long("", 200, 599, &v));
}

static void test_rfc3339(void)
{
    time_t t;
    char out[32];
    CHECK(app_parse_rfc3339("2026-12-02T10:05:00Z", &t));
    app_format_rfc3339(t, out, sizeof out);
    CHECK_STR(out, "2026-12-02T10:05:00Z");
    CHECK(app_parse_rfc3339("2026-12-02T10:05:00.250Z", &t));
    CHECK(!app_parse_rfc3339("2026-12-02T10:05:00+01:00", &t));
    time_t z;
    CHECK(app_parse_rfc3339("2026-12-02t10:05:00+00:00", &z) && z == t);
    CHECK(!app_parse_rfc3339("2026-12-02 10:05:00Z", &t));
    CHECK(!app_parse_rfc3339("2026-13-02T10:05:00Z", &t));
    CHECK(!app_parse_rfc3339("2026-12-02T10:05Z", &t));
    CHECK(!app_parse_rfc3339("", &t));
}

static void test_window_and_stamp(void)
{
    time_t now;
    CHECK(app_parse_rfc3339("2026-12-02T10:00:00Z", &now));
    char w[80];
    cJSON *p = cJSON_Parse("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"rules\":[{\"fault\":{\"duration_seconds\":300}}]}}");
    app_policy_window(p, now, w, sizeof w);
    CHECK_STR(w, "300s per pod (no end time)");
    app_policy_stamp(p, now, 0); /* from the rules' longest duration */
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "spec"), "start_time")->valuestring, "2026-12-02T10:00:00Z");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "spec"), "end_time")->valuestring, "2026-12-02T10:05:00Z");
    app_policy_window(p, now + 1, w, sizeof w);
    CHECK_STR(w, "4m59s left");
    app_policy_window(p, now + 300, w, sizeof w);
    CHECK_STR(w, "expired");
    app_policy_stamp(p, now, 3600); /* --for overrides */
    app_policy_window(p, now, w, sizeof w);
    CHECK_STR(w, "1h00m left");
    cJSON_Delete(p);

    p = cJSON_Parse("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"start_time\":\"2026-12-02T10:10:00Z\"}}");
    app_policy_stamp(p, now, 0); /* its own bounds stay */
    app_policy_window(p, now, w, sizeof w);
    CHECK_STR(w, "not started (in 10m00s)");
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(p, "spec"), "end_time"));
    cJSON_Delete(p);

    p = cJSON_Parse("{\"metadata\":{\"name\":\"c\"},\"spec\":{}}");
    app_policy_window(p, now, w, sizeof w);
    CHECK_STR(w, "no end");
    cJSON_Delete(p);

    /* A server's 1e300 saturates (UBSan fails the test on an overflow). */
    p = cJSON_Parse("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"rules\":[{\"fault\":{\"duration_seconds\":1e300}}]}}");
    app_policy_window(p, now, w, sizeof w);
    app_policy_stamp(p, now, 0);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "spec"), "end_time")->valuestring, "2036-11-29T10:00:00Z");
    cJSON_Delete(p);
}

static void test_check_config_names_the_policy(void)
{
    char err[600];
    const char *good = "{\"policies\":[{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"rules\":[{\"fault\":{\"abort\":"
                       "{\"httpStatus\":503}}}]}}]}";
    CHECK(app_policy_check_config(good, strlen(good), err, sizeof err));
    const char *bad = "{\"policies\":[{\"metadata\":{\"name\":\"ok\"},\"spec\":{}},{\"metadata\":{\"name\":\"bad\"},"
                      "\"spec\":{\"rules\":[{\"fault\":{\"abort\":{\"httpStatus\":99}}}]}}]}";
    CHECK(!app_policy_check_config(bad, strlen(bad), err, sizeof err));
    CHECK(strncmp(err, "policy \"bad\": spec.rules[0].fault.abort.httpStatus", 50) == 0);
    const char *regex = "{\"policies\":[{\"metadata\":{\"name\":\"look\"},\"spec\":{\"rules\":[{\"match\":{\"path\":"
                        "{\"regex\":\"^(?=x)\"}},\"fault\":{\"abort\":{\"httpStatus\":503}}}]}}]}";
    CHECK(!app_policy_check_config(regex, strlen(regex), err, sizeof err));
    CHECK(strncmp(err, "policy \"look\": spec.rules[0].match.path.regex", 44) == 0);
    const char *unnamed = "{\"policies\":[{\"spec\":{\"rules\":[{\"fault\":{\"percentage\":\"abc\"}}]}}]}";
    CHECK(!app_policy_check_config(unnamed, strlen(unnamed), err, sizeof err));
    CHECK(strncmp(err, "policy 1 of pluginConfig.policies: spec.rules[0].fault.percentage", 64) == 0);
    CHECK(!app_policy_check_config("{", 1, err, sizeof err));
    CHECK(strncmp(err, "pluginConfig: ", 14) == 0);
}

static void test_rule_text(void)
{
    char out[300];
    cJSON *r = cJSON_Parse("{\"match\":{\"method\":{\"exact\":\"GET\"},\"path\":{\"prefix\":\"/cart\"}},"
                           "\"fault\":{\"percentage\":10,\"delay\":{\"fixed_delay_ms\":500},\"abort\":{\"httpStatus\":503}}}");
    app_policy_rule_text(r, out, sizeof out);
    CHECK_STR(out, "method exact GET, path prefix /cart -> delay 500ms then abort 503, 10%");
    cJSON_Delete(r);
    r = cJSON_Parse("{\"fault\":{\"abort\":{\"httpStatus\":500}}}");
    app_policy_rule_text(r, out, sizeof out);
    CHECK_STR(out, "every request -> abort 500, 100%");
    cJSON_Delete(r);
}

static void test_header_value_safe(void)
{
    char why[160];
    const char *json = "{\"token\":\"ok-token\"}";
    CHECK(app_header_value_safe(json, strlen(json), "ok-token", why, sizeof why));
    CHECK(!app_header_value_safe(json, strlen(json), "a\r\nImpersonate-User: x", why, sizeof why));
    CHECK_STR(why, "a carriage return (CR) at byte 2");
    CHECK(!app_header_value_safe(json, strlen(json), "a\nb", why, sizeof why));
    CHECK_STR(why, "a line feed (LF) at byte 2");
    CHECK(!app_header_value_safe(json, strlen(json), "a\tb", why, sizeof why));
    CHECK_STR(why, "a control character at byte 2");
    CHECK(!app_header_value_safe(json, strlen(json), "t\xc3\xb6", why, sizeof why));
    CHECK_STR(why, "a byte outside ASCII at byte 2");
    /* The parsed string ends at the NUL; the text still shows it. */
    const char *nul = "{\"token\":\"tok\\u0000en\"}";
    CHECK(!app_header_value_safe(nul, strlen(nul), "tok", why, sizeof why));
    CHECK_STR(why, "a NUL byte at byte 4");
}

static void test_halt_verdict(void)
{
    struct app_halt_pod h;
    app_halt_follow(&h, "p", 7);
    app_halt_scraped(&h, 7, 10, 0, 1); /* the same scrape as at the write: ignored */
    CHECK_INT(h.scrapes, 0);
    app_halt_scraped(&h, 8, 10, 2, 1);
    CHECK_INT(app_halt_verdict(&h), APP_HALT_WAITING);
    app_halt_scraped(&h, 9, 10, 2, 0);
    CHECK_INT(app_halt_verdict(&h), APP_HALT_STOPPED);
    app_halt_scraped(&h, 10, 13, 2, 0); /* faults again: header faults */
    CHECK_INT(app_halt_verdict(&h), APP_HALT_WAITING);
    app_halt_scraped(&h, 11, 16, 2, 0);
    app_halt_scraped(&h, 12, 19, 2, 0);
    CHECK_INT(app_halt_verdict(&h), APP_HALT_INJECTING);
    char text[200];
    app_halt_text(&h, text, sizeof text);
    CHECK_STR(text, "STILL INJECTING: +3 faults between the last two scrapes (header faults?)");
    app_halt_follow(&h, "q", 0);
    for (unsigned k = 1; k <= APP_HALT_SCRAPES; k++)
        app_halt_scraped(&h, k, 0, 0, 2); /* the configuration never reloaded */
    app_halt_text(&h, text, sizeof text);
    CHECK_STR(text, "STILL INJECTING: 2 rules still loaded after 5 scrapes");
}

int main(void)
{
    RUN(test_parse_duration);
    RUN(test_parse_percentage_and_long);
    RUN(test_rfc3339);
    RUN(test_window_and_stamp);
    RUN(test_check_config_names_the_policy);
    RUN(test_rule_text);
    RUN(test_header_value_safe);
    RUN(test_halt_verdict);
    TEST_MAIN_END();
}
