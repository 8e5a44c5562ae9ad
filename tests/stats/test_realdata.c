/* The parser against real captures of Envoy's /stats/prometheus (kept
 * outside the repository, beside the checkout). Usage: test_realdata DIR.
 * Skips, with a message, when DIR does not exist. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>

#include "../testlib.h"
#include "hfi_metrics.h"
#include "prom_parse.h"

typedef struct expected {
    const char *file;
    size_t lines, type_lines, blank_lines, samples, buckets, inf_buckets, sums, counts;
} expected;

/* Counted independently with grep; every line of these files is valid. */
static const expected known[] = {
    {"netdata-envoy.txt", 929, 299, 0, 630, 180, 9, 9, 9},
    {"kuma-otel-histogram.in.txt", 531, 2, 1, 528, 480, 24, 24, 24},
    {"coraza-proxy-wasm-readme-waf-metrics.txt", 10, 2, 0, 8, 0, 0, 0, 0},
};

typedef struct roles {
    size_t buckets, inf_buckets, sums, counts;
    size_t decreasing_buckets;
    double previous_le, previous_count;
} roles;

static int count_roles(void *user, const prom_sample *s)
{
    roles *r = user;
    switch (s->role) {
    case PROM_ROLE_BUCKET:
        /* Envoy writes each series' buckets by rising bound, cumulative:
         * a higher bound right after a lower one never counts less. */
        if (r->buckets && s->le > r->previous_le && s->value < r->previous_count)
            r->decreasing_buckets++;
        r->previous_le = s->le;
        r->previous_count = s->value;
        r->buckets++;
        r->inf_buckets += s->le == INFINITY;
        break;
    case PROM_ROLE_SUM:
        r->sums++;
        break;
    case PROM_ROLE_COUNT:
        r->counts++;
        break;
    default:
        break;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(data, cap);
            if (!grown) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        size_t n = fread(data + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return data;
}

static const char *realdata_dir;
static const char *current_file;

static void test_one_capture(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", realdata_dir, current_file);
    size_t len;
    char *data = read_file(path, &len);
    CHECK(data != NULL);
    if (!data)
        return;
    /* An exact-size copy, so ASan sees any read past the end. */
    char *exact = malloc(len ? len : 1);
    memcpy(exact, data, len);
    free(data);

    roles r = {0};
    prom_parse_options opts = {.on_sample = count_roles, .user = &r};
    prom_parse_stats st;
    CHECK_INT(prom_parse(exact, len, &opts, &st), 0);
    CHECK_INT(st.garbage_lines, 0);
    CHECK(st.samples > 0);
    CHECK_INT(r.decreasing_buckets, 0);
    CHECK_INT(r.inf_buckets, r.counts);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const expected *e = &known[i];
        if (strcmp(e->file, current_file) != 0)
            continue;
        CHECK_INT(st.lines, e->lines);
        CHECK_INT(st.type_lines, e->type_lines);
        CHECK_INT(st.blank_lines, e->blank_lines);
        CHECK_INT(st.samples, e->samples);
        CHECK_INT(r.buckets, e->buckets);
        CHECK_INT(r.inf_buckets, e->inf_buckets);
        CHECK_INT(r.sums, e->sums);
        CHECK_INT(r.counts, e->counts);
    }

    /* The same capture with CRLF line ends and no final newline (as some
     * proxies in between serve it) reads the same. */
    char *crlf = malloc(2 * len + 1);
    size_t crlf_len = 0;
    for (size_t i = 0; i < len; i++) {
        if (exact[i] == '\n')
            crlf[crlf_len++] = '\r';
        crlf[crlf_len++] = exact[i];
    }
    while (crlf_len && (crlf[crlf_len - 1] == '\n' || crlf[crlf_len - 1] == '\r'))
        crlf_len--;
    prom_parse_stats crlf_stats;
    prom_parse(crlf, crlf_len, NULL, &crlf_stats);
    CHECK_INT(crlf_stats.garbage_lines, 0);
    CHECK_INT(crlf_stats.samples, st.samples);
    CHECK_INT(crlf_stats.type_lines, st.type_lines);
    free(crlf);

    /* None of these proxies runs our plugin. */
    hfi_metrics m;
    hfi_metrics_from_prometheus(exact, len, &m, &st);
    CHECK_INT(m.naming, HFI_NAMING_NONE);
    CHECK_INT(st.garbage_lines, 0);
    char *json = hfi_metrics_to_json(&m);
    CHECK_CONTAINS(json, "\"naming\":\"none\"");
    free(json);
    free(exact);
}

int main(int argc, char **argv)
{
    realdata_dir = argc > 1 ? argv[1] : "../shared/realdata/envoy_prometheus";
    DIR *dir = opendir(realdata_dir);
    if (!dir) {
        printf("skip: no real captures at %s\n", realdata_dir);
        TEST_MAIN_END();
    }
    struct dirent *entry;
    size_t files = 0;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.')
            continue;
        current_file = entry->d_name;
        testlib_current = current_file;
        testlib_current_failed = 0;
        test_one_capture();
        if (testlib_current_failed)
            testlib_failed++;
        else
            testlib_passed++;
        files++;
    }
    closedir(dir);
    printf("%zu captures from %s\n", files, realdata_dir);
    TEST_MAIN_END();
}
