/* The Prometheus text parser against every quirk Envoy and istio-agent
 * produce, on small fixtures written for these tests. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>

#include "../testlib.h"
#include "prom_parse.h"

#define MAX_COLLECTED 64

typedef struct collected {
    char name[96];
    char family[96];
    prom_metric_type type;
    prom_sample_role role;
    size_t label_count;
    bool labels_truncated;
    char first_label[64]; /* name=decoded value */
    bool has_le;
    double le;
    bool has_quantile;
    double quantile;
    double value;
    bool value_is_u64;
    uint64_t value_u64;
    bool has_timestamp;
    int64_t timestamp_ms;
    size_t line_number;
} collected;

typedef struct collector {
    collected s[MAX_COLLECTED];
    size_t n;
    size_t types_seen;
    int stop_after; /* 0: never */
} collector;

static void copy_span(char *out, size_t size, prom_span span)
{
    size_t n = span.len < size - 1 ? span.len : size - 1;
    memcpy(out, span.ptr, n);
    out[n] = '\0';
}

static int collect_sample(void *user, const prom_sample *s)
{
    collector *c = user;
    if (c->n < MAX_COLLECTED) {
        collected *o = &c->s[c->n];
        copy_span(o->name, sizeof o->name, s->name);
        copy_span(o->family, sizeof o->family, s->family);
        o->type = s->type;
        o->role = s->role;
        o->label_count = s->label_count;
        o->labels_truncated = s->labels_truncated;
        o->first_label[0] = '\0';
        if (s->label_count) {
            char value[48];
            prom_label_value(&s->labels[0], value, sizeof value);
            char name[32];
            copy_span(name, sizeof name, s->labels[0].name);
            snprintf(o->first_label, sizeof o->first_label, "%s=%s", name, value);
        }
        o->has_le = s->has_le;
        o->le = s->le;
        o->has_quantile = s->has_quantile;
        o->quantile = s->quantile;
        o->value = s->value;
        o->value_is_u64 = s->value_is_u64;
        o->value_u64 = s->value_u64;
        o->has_timestamp = s->has_timestamp;
        o->timestamp_ms = s->timestamp_ms;
        o->line_number = s->line_number;
    }
    c->n++;
    return c->stop_after && (int)c->n >= c->stop_after ? 7 : 0;
}

static int count_type(void *user, prom_span family, prom_metric_type type)
{
    (void)family;
    (void)type;
    ((collector *)user)->types_seen++;
    return 0;
}

static prom_parse_stats parse_into(collector *c, const char *text)
{
    memset(c, 0, sizeof *c);
    prom_parse_options opts = {.on_sample = collect_sample, .on_type = count_type, .user = c};
    prom_parse_stats stats;
    prom_parse(text, strlen(text), &opts, &stats);
    return stats;
}

static void test_empty_braces_and_plain_names(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c, "# TYPE a_total counter\na_total{} 3\nb 4\n");
    CHECK_INT(st.lines, 3);
    CHECK_INT(st.samples, 2);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.type_lines, 1);
    CHECK_INT(c.types_seen, 1);
    CHECK_STR(c.s[0].name, "a_total");
    CHECK_INT(c.s[0].label_count, 0);
    CHECK_INT(c.s[0].type, PROM_TYPE_COUNTER);
    CHECK_STR(c.s[0].family, "a_total");
    CHECK(c.s[0].value == 3);
    CHECK_STR(c.s[1].name, "b");
    CHECK_INT(c.s[1].type, PROM_TYPE_UNTYPED);
    CHECK_INT(c.s[1].line_number, 3);
}

static void test_labels_and_escapes(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "m{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",envoy_cluster_name=\"x\"} 1\n"
        "m{ a = \"1\" , b=\"2\", } 2\n"
        "m{k=\"a{b}c,d=e\"} 3\n");
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.samples, 3);
    CHECK_STR(c.s[0].first_label, "path=C:\\dir");
    CHECK_INT(c.s[0].label_count, 3);
    CHECK(!c.s[0].labels_truncated);
    CHECK_INT(c.s[1].label_count, 2);
    CHECK_STR(c.s[1].first_label, "a=1");
    CHECK_STR(c.s[2].first_label, "k=a{b}c,d=e");
}

static int check_escaped_label(void *user, const prom_sample *s)
{
    int *ok = user;
    const prom_label *msg = prom_sample_label(s, "msg");
    *ok = msg && msg->value_has_escapes && prom_label_value_equals(msg, "say \"hi\"\nbye") &&
          !prom_label_value_equals(msg, "say \"hi\"\nby") && !prom_label_value_equals(msg, "say \"hi\"\nbyee") &&
          prom_sample_label(s, "plain") && prom_label_value_equals(prom_sample_label(s, "plain"), "v") &&
          !prom_sample_label(s, "absent");
    char small[5];
    size_t full = prom_label_value(msg, small, sizeof small);
    *ok = *ok && full == 12 && strcmp(small, "say ") == 0;
    return 0;
}

static void test_label_helpers(void)
{
    const char *text = "m{plain=\"v\",msg=\"say \\\"hi\\\"\\nbye\"} 1";
    int ok = 0;
    prom_parse_options opts = {.on_sample = check_escaped_label, .user = &ok};
    prom_parse(text, strlen(text), &opts, NULL);
    CHECK(ok);
}

static void test_special_values_and_exponents(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "a NaN\nb +Inf\nc -Inf\nd 1e+06\ne 2.5E-3\nf -7\ng .5\nh 5.\ni inf\nj 0.1\nk 123456789012345678901234\n"
        "l 1.7976931348623157e308\nm 4.9e-324\nn -0\n");
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.samples, 14);
    CHECK(isnan(c.s[0].value));
    CHECK(c.s[1].value == INFINITY);
    CHECK(c.s[2].value == -INFINITY);
    CHECK(c.s[3].value == 1e6);
    CHECK(!c.s[3].value_is_u64);
    CHECK(c.s[4].value == 2.5e-3);
    CHECK(c.s[5].value == -7 && !c.s[5].value_is_u64);
    CHECK(c.s[6].value == 0.5);
    CHECK(c.s[7].value == 5);
    CHECK(c.s[8].value == INFINITY);
    CHECK(c.s[9].value == 0.1);
    CHECK(c.s[10].value == 123456789012345678901234.0 && !c.s[10].value_is_u64);
    CHECK(c.s[11].value == 1.7976931348623157e308);
    CHECK(c.s[12].value == 4.9e-324);
    CHECK(c.s[13].value == 0 && signbit(c.s[13].value));
}

static void test_u64_counters_exact(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c, "a 18446744073709551615\nb 9007199254740993\nc 18446744073709551616\nd 0\ne +12\n");
    CHECK_INT(st.garbage_lines, 0);
    CHECK(c.s[0].value_is_u64 && c.s[0].value_u64 == UINT64_MAX);
    CHECK(c.s[1].value_is_u64 && c.s[1].value_u64 == UINT64_C(9007199254740993));
    CHECK(c.s[1].value == 9007199254740992.0); /* the double rounds; the u64 does not */
    CHECK(!c.s[2].value_is_u64 && c.s[2].value == 18446744073709551616.0);
    CHECK(c.s[3].value_is_u64 && c.s[3].value_u64 == 0);
    CHECK(c.s[4].value_is_u64 && c.s[4].value_u64 == 12);
}

static void test_timestamps(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c, "a 1 1700000000000\nb{} 2 -5\nc 3\t 42  \nd 4 12x\ne 5 99999999999999999999\n");
    CHECK_INT(st.samples, 3);
    CHECK_INT(st.garbage_lines, 2);
    CHECK(c.s[0].has_timestamp && c.s[0].timestamp_ms == INT64_C(1700000000000));
    CHECK(c.s[1].has_timestamp && c.s[1].timestamp_ms == -5);
    CHECK(c.s[2].has_timestamp && c.s[2].timestamp_ms == 42);
}

static void test_help_type_and_comments(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "# HELP g A gauge with \\\\ and \\n in its doc\n# TYPE g gauge\ng 1\n"
        "# just a comment\n#\n# TYPE u untyped\nu 2\n# HELP h\n# TYPE c COUNTER\nc 1\n");
    CHECK_INT(st.help_lines, 2);
    CHECK_INT(st.type_lines, 3);
    CHECK_INT(st.comment_lines, 2);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(c.s[0].type, PROM_TYPE_GAUGE);
    CHECK_INT(c.s[1].type, PROM_TYPE_UNTYPED);
    CHECK_INT(c.s[2].type, PROM_TYPE_COUNTER);
    CHECK_STR(prom_metric_type_name(PROM_TYPE_HISTOGRAM), "histogram");
}

static const char envoy_histogram[] =
    "# TYPE envoy_cluster_upstream_rq_time histogram\n"
    "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"0.5\"} 0\n"
    "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"1\"} 1\n"
    "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"3600000\"} 4\n"
    "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"1e+06\"} 4\n"
    "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"+Inf\"} 5\n"
    "envoy_cluster_upstream_rq_time_sum{envoy_cluster_name=\"a\"} 4000012.5\n"
    "envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"a\"} 5\n";

static void test_histogram_family(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c, envoy_histogram);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.samples, 7);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(c.s[i].role, PROM_ROLE_BUCKET);
        CHECK_INT(c.s[i].type, PROM_TYPE_HISTOGRAM);
        CHECK_STR(c.s[i].family, "envoy_cluster_upstream_rq_time");
        CHECK(c.s[i].has_le);
    }
    CHECK(c.s[0].le == 0.5);
    CHECK(c.s[2].le == 3600000);
    CHECK(c.s[3].le == 1e6);
    CHECK(c.s[4].le == INFINITY);
    CHECK_INT(c.s[5].role, PROM_ROLE_SUM);
    CHECK(c.s[5].value == 4000012.5);
    CHECK_INT(c.s[6].role, PROM_ROLE_COUNT);
}

static void test_bucket_without_le_is_garbage(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "# TYPE h histogram\nh_bucket{} 1\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"2\"} 3\nh_other 4\n");
    CHECK_INT(st.garbage_lines, 2);
    CHECK_INT(st.first_garbage_line, 2);
    CHECK_INT(st.samples, 2);
    CHECK_INT(c.s[0].role, PROM_ROLE_BUCKET);
    CHECK_INT(c.s[1].type, PROM_TYPE_UNTYPED); /* h_other is not part of h */
}

static void test_summary_family(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "# TYPE rpc summary\nrpc{quantile=\"0.5\"} NaN\nrpc{quantile=\"0.99\"} 12\nrpc_sum 30\nrpc_count 4\n");
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(c.s[0].role, PROM_ROLE_QUANTILE);
    CHECK(c.s[0].has_quantile && c.s[0].quantile == 0.5);
    CHECK(isnan(c.s[0].value));
    CHECK(c.s[1].quantile == 0.99);
    CHECK_INT(c.s[2].role, PROM_ROLE_SUM);
    CHECK_INT(c.s[3].role, PROM_ROLE_COUNT);
    CHECK_INT(c.s[3].type, PROM_TYPE_SUMMARY);
}

/* istio-agent merges the app's and Envoy's metrics: a family can come back
 * later, with or without its # TYPE line. */
static void test_family_split_in_two_places(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c,
        "# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\n"
        "# TYPE other counter\nother 5\n"
        "lat_bucket{pod=\"b\",le=\"1\"} 3\nlat_sum{pod=\"b\"} 4\nlat_count{pod=\"b\"} 3\n"
        "# TYPE other counter\nother{x=\"2\"} 6\n");
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.samples, 7);
    CHECK_INT(c.s[3].role, PROM_ROLE_BUCKET);
    CHECK_INT(c.s[3].type, PROM_TYPE_HISTOGRAM);
    CHECK_STR(c.s[3].family, "lat");
    CHECK_INT(c.s[4].role, PROM_ROLE_SUM);
    CHECK_INT(c.s[5].role, PROM_ROLE_COUNT);
    CHECK_INT(c.s[6].type, PROM_TYPE_COUNTER);
}

static void test_crlf_no_final_newline_blank_lines(void)
{
    collector c;
    prom_parse_stats st = parse_into(&c, "# TYPE a gauge\r\na{} 1\r\n\r\n   \n\nb{x=\"y\"} 2 \r\nc 3");
    CHECK_INT(st.lines, 7);
    CHECK_INT(st.blank_lines, 3);
    CHECK_INT(st.samples, 3);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(st.type_lines, 1);
    CHECK(c.s[0].value == 1);
    CHECK(c.s[1].value == 2);
    CHECK(c.s[2].value == 3);
    CHECK_INT(c.s[2].line_number, 7);
}

static void test_garbage_lines_are_skipped_and_counted(void)
{
    static const char *const bad[] = {
        "3abc 1",              /* name starts with a digit */
        "a{b=\"c\" 1",         /* unclosed brace */
        "a{b=c} 1",            /* unquoted value */
        "a{b=\"c\\t\"} 1",     /* unknown escape */
        "a{=\"c\"} 1",         /* missing label name */
        "a{b=\"c\"}",          /* no value */
        "a",                   /* no value */
        "a 1 2 3",             /* too many tokens */
        "a 0x1p3",             /* hex float */
        "a one",               /* not a number */
        "a 1e",                /* exponent without digits */
        "a .",                 /* no digits */
        "# TYPE x banana",     /* unknown type */
        "# TYPE",              /* no name */
        "# TYPE 9x counter",   /* bad name */
        "a{b=\"c\"d=\"e\"} 1", /* missing comma */
        "{b=\"c\"} 1",         /* no name */
        "a-b 1",               /* bad character */
        "a{b=\"x",             /* value running to the end */
        "a\t",                 /* no value */
        "a\x01 1",             /* control character */
    };
    char text[1024] = "ok 1\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcat(text, bad[i]);
        strcat(text, "\n");
    }
    strcat(text, "a{b=\"split\nline\"} 1\nok 2\n");
    collector c;
    prom_parse_stats st = parse_into(&c, text);
    size_t n_bad = sizeof bad / sizeof bad[0];
    CHECK_INT(st.garbage_lines, n_bad + 2); /* the split label value makes two bad lines */
    CHECK_INT(st.first_garbage_line, 2);
    CHECK_INT(st.samples, 2);
    CHECK_STR(c.s[1].name, "ok");
    CHECK(c.s[1].value == 2);
    CHECK_INT(c.s[1].line_number, n_bad + 4);
}

static void test_each_bad_line_alone(void)
{
    /* A bad line at the very end, with no newline, must not read past len. */
    static const char *const cases[] = {"a{", "a{b", "a{b=", "a{b=\"", "a{b=\"\\", "a{b=\"c\"", "a{b=\"c\",", "# TYPE a", "a 1 ", "a 1 -"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i]);
        char *exact = malloc(n); /* no NUL after the text: ASan catches any overread */
        memcpy(exact, cases[i], n);
        prom_parse_stats st;
        prom_parse(exact, n, NULL, &st);
        bool is_ok_line = strcmp(cases[i], "a 1 ") == 0;
        CHECK_INT(st.garbage_lines, is_ok_line ? 0 : 1);
        CHECK_INT(st.lines, 1);
        free(exact);
    }
}

static void test_name_prefix_filter(void)
{
    static const char *const prefixes[] = {"wasmcustom_", "envoy_wasm"};
    const char *text = "envoy_cluster_x{a=\"b\"} 1\nwasmcustom_hfi_faults_aborts_total{} 3\n"
                       "envoy_wasm_envoy_wasm_runtime_v8_active{} 2\nother 1\nbroken{ 1\n";
    collector c;
    memset(&c, 0, sizeof c);
    prom_parse_options opts = {.on_sample = collect_sample, .user = &c, .name_prefixes = prefixes, .name_prefix_count = 2};
    prom_parse_stats st;
    prom_parse(text, strlen(text), &opts, &st);
    CHECK_INT(st.samples, 2);
    CHECK_INT(st.skipped_lines, 3); /* the broken line is skipped unread, not counted as garbage */
    CHECK_INT(st.garbage_lines, 0);
    CHECK_STR(c.s[0].name, "wasmcustom_hfi_faults_aborts_total");
    CHECK_STR(c.s[1].name, "envoy_wasm_envoy_wasm_runtime_v8_active");
}

static void test_callback_stops_parse(void)
{
    collector c;
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    prom_parse_options opts = {.on_sample = collect_sample, .user = &c};
    const char *text = "a 1\nb 2\nc 3\n";
    prom_parse_stats st;
    CHECK_INT(prom_parse(text, strlen(text), &opts, &st), 7);
    CHECK_INT(c.n, 2);
    CHECK_INT(st.lines, 2);
}

static void test_many_labels_truncated(void)
{
    char text[4096] = "m{";
    for (int i = 0; i < PROM_MAX_LABELS + 5; i++)
        sprintf(text + strlen(text), "l%d=\"%d\",", i, i);
    strcat(text, "le=\"7\"} 1\n");
    collector c;
    prom_parse_stats st = parse_into(&c, text);
    CHECK_INT(st.samples, 1);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_INT(c.s[0].label_count, PROM_MAX_LABELS);
    CHECK(c.s[0].labels_truncated);
    CHECK(c.s[0].has_le && c.s[0].le == 7);
}

static void test_parse_double_helper_and_locale(void)
{
    double v;
    /* A decimal-comma locale must not change how numbers are read. */
    if (!setlocale(LC_ALL, "de_DE.UTF-8"))
        fprintf(stderr, "note: no de_DE.UTF-8 locale here, numbers read in the C locale only\n");
    CHECK(prom_parse_double("0.1234567890123456789", 21, &v) && v == 0.1234567890123456789);
    CHECK(prom_parse_double("1e400", 5, &v) && v == INFINITY);
    CHECK(prom_parse_double("-Inf", 4, &v) && v == -INFINITY);
    CHECK(prom_parse_double("NAN", 3, &v) && isnan(v));
    CHECK(prom_parse_double("12345678901234567890.5", 22, &v) && v == 12345678901234567890.5);
    CHECK(prom_parse_double("3.0000000000000000000001", 24, &v) && v == 3.0);
    CHECK(prom_parse_double("9007199254740993e-3", 19, &v) && v == 9007199254740993e-3);
    CHECK(!prom_parse_double("", 0, &v));
    CHECK(!prom_parse_double("+", 1, &v));
    CHECK(!prom_parse_double("1,5", 3, &v));
    CHECK(!prom_parse_double("Infinit", 7, &v));
    setlocale(LC_ALL, "C");
}

static void test_envoy_style_dump(void)
{
    const char *text =
        "# TYPE envoy_cluster_upstream_cx_total counter\n"
        "envoy_cluster_upstream_cx_total{envoy_cluster_name=\"outbound|80||web.default.svc.cluster.local\"} 12\n"
        "envoy_cluster_upstream_cx_total{envoy_cluster_name=\"xds-grpc\"} 1\n"
        "# TYPE envoy_server_live gauge\n"
        "envoy_server_live{} 1\n"
        "# TYPE wasmcustom_hfi_faults_aborts_total counter\n"
        "wasmcustom_hfi_faults_aborts_total{} 3\n";
    collector c;
    prom_parse_stats st = parse_into(&c, text);
    CHECK_INT(st.lines, 7);
    CHECK_INT(st.samples, 4);
    CHECK_INT(st.type_lines, 3);
    CHECK_INT(st.garbage_lines, 0);
    CHECK_STR(c.s[0].first_label, "envoy_cluster_name=outbound|80||web.default.svc.cluster.local");
    CHECK_INT(c.s[3].type, PROM_TYPE_COUNTER);
}

static void test_null_and_empty_inputs(void)
{
    prom_parse_stats st;
    CHECK_INT(prom_parse(NULL, 0, NULL, &st), 0);
    CHECK_INT(st.lines, 0);
    CHECK_INT(prom_parse("", 0, NULL, &st), 0);
    CHECK_INT(st.lines, 0);
    CHECK_INT(prom_parse("\n", 1, NULL, &st), 0);
    CHECK_INT(st.lines, 1);
    CHECK_INT(st.blank_lines, 1);
    CHECK_INT(prom_parse("a 1\0b 2\n", 8, NULL, &st), 0);
    CHECK_INT(st.garbage_lines, 1); /* a NUL is not a line end */
}

int main(void)
{
    RUN(test_empty_braces_and_plain_names);
    RUN(test_labels_and_escapes);
    RUN(test_label_helpers);
    RUN(test_special_values_and_exponents);
    RUN(test_u64_counters_exact);
    RUN(test_timestamps);
    RUN(test_help_type_and_comments);
    RUN(test_histogram_family);
    RUN(test_bucket_without_le_is_garbage);
    RUN(test_summary_family);
    RUN(test_family_split_in_two_places);
    RUN(test_crlf_no_final_newline_blank_lines);
    RUN(test_garbage_lines_are_skipped_and_counted);
    RUN(test_each_bad_line_alone);
    RUN(test_name_prefix_filter);
    RUN(test_callback_stops_parse);
    RUN(test_many_labels_truncated);
    RUN(test_parse_double_helper_and_locale);
    RUN(test_envoy_style_dump);
    RUN(test_null_and_empty_inputs);
    TEST_MAIN_END();
}
