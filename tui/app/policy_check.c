/* The pure half of policy.h: strict parsers, absolute bounds and windows,
 * rules as text, the plugin's own parser on a whole pluginConfig, the kill
 * switch's verdict. No I/O: fuzzed (tests/app/fuzz_policy.c). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugin/config.h"
#include "istio.h"
#include "policy.h"

/* ---- strict parsers ---- */

bool app_parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool app_parse_percentage(const char *text, double *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0 || v > 100)
        return false;
    *out = v;
    return true;
}

bool app_parse_duration(const char *text, long *seconds)
{
    long total = 0;
    const char *p = text;
    if (!p || !*p)
        return false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        long n = 0;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p++ - '0');
            if (n > APP_POLICY_MAX_FOR_S)
                return false;
        }
        long unit = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : *p == 'd' ? 86400 : 0;
        if (!unit)
            return false;
        p++;
        total += n * unit;
        if (total > APP_POLICY_MAX_FOR_S)
            return false;
    }
    *seconds = total;
    return true;
}

bool app_parse_rfc3339(const char *text, time_t *out)
{
    int y, mo, d, h, mi, s, used = 0;
    char t;
    if (!text || sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &t, &h, &mi, &s, &used) != 7 || used != 19 ||
        (t != 'T' && t != 't'))
        return false;
    const char *p = text + used;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    /* UTC only, spelt as the plugin accepts it (plugin/config.c get_timestamp). */
    if ((strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    *out = timegm(&tm);
    return true;
}

void app_format_rfc3339(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- policies as JSON ---- */

const char *app_policy_name(const cJSON *policy)
{
    const cJSON *name = app_json_path(policy, "metadata.name");
    return cJSON_IsString(name) && name->valuestring[0] ? name->valuestring : NULL;
}

int app_policy_count(const cJSON *wasmplugin)
{
    const cJSON *policies = app_json_path(wasmplugin, "spec.pluginConfig.policies");
    if (!policies || cJSON_IsNull(policies))
        return 0;
    return cJSON_IsArray(policies) ? cJSON_GetArraySize(policies) : APP_POLICIES_NOT_A_LIST;
}

/* Ten years: longer durations read as this much, with no overflow after. */
#define APP_POLICY_MAX_DURATION_S (3650L * 86400)

static long longest_rule_duration(const cJSON *policy)
{
    long longest = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, app_json_path(policy, "spec.rules"))
    {
        const cJSON *d = app_json_path(rule, "fault.duration_seconds");
        /* Saturating: a duration of 1e300 from the cluster is no long. */
        if (cJSON_IsNumber(d) && d->valuedouble > longest)
            longest = d->valuedouble >= (double)APP_POLICY_MAX_DURATION_S ? APP_POLICY_MAX_DURATION_S
                                                                         : (long)d->valuedouble;
    }
    return longest;
}

static void set_string(cJSON *object, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(object, key);
    cJSON_AddStringToObject(object, key, value);
}

void app_policy_stamp(cJSON *policy, time_t now, long for_seconds)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(policy, "spec");
    if (!cJSON_IsObject(spec))
        return;
    bool bounded = cJSON_GetObjectItemCaseSensitive(spec, "start_time") ||
                   cJSON_GetObjectItemCaseSensitive(spec, "end_time");
    if (for_seconds <= 0) {
        if (bounded)
            return; /* the author's own bounds */
        for_seconds = longest_rule_duration(policy);
    }
    char stamp[32];
    app_format_rfc3339(now, stamp, sizeof stamp);
    set_string(spec, "start_time", stamp);
    if (for_seconds > 0) {
        app_format_rfc3339(now + for_seconds, stamp, sizeof stamp);
        set_string(spec, "end_time", stamp);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "end_time");
    }
}

static void format_span(long s, char *out, size_t size)
{
    if (s >= 86400)
        snprintf(out, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, size, "%lds", s);
}

void app_policy_window(const cJSON *policy, time_t now, char *out, size_t size)
{
    const cJSON *start = app_json_path(policy, "spec.start_time");
    const cJSON *end = app_json_path(policy, "spec.end_time");
    time_t t;
    char span[32];
    if (cJSON_IsString(start) && app_parse_rfc3339(start->valuestring, &t) && t > now) {
        format_span((long)(t - now), span, sizeof span);
        snprintf(out, size, "not started (in %s)", span);
        return;
    }
    if (cJSON_IsString(end) && app_parse_rfc3339(end->valuestring, &t)) {
        if (t <= now) {
            snprintf(out, size, "expired");
            return;
        }
        format_span((long)(t - now), span, sizeof span);
        snprintf(out, size, "%s left", span);
        return;
    }
    long longest = longest_rule_duration(policy);
    if (longest)
        snprintf(out, size, "%lds per pod (no end time)", longest);
    else
        snprintf(out, size, "no end");
}

static void match_text(const cJSON *m, const char *what, char *out, size_t size)
{
    const char *kinds[] = {"exact", "prefix", "regex"};
    out[0] = '\0';
    for (size_t k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, kinds[k]);
        if (cJSON_IsString(v)) {
            snprintf(out, size, "%s %s %s", what, kinds[k], v->valuestring);
            return;
        }
    }
}

void app_policy_rule_text(const cJSON *rule, char *out, size_t size)
{
    char method[120], path[300], fault[200] = "", part[120];
    size_t used = 0;
    match_text(app_json_path(rule, "match.method"), "method", method, sizeof method);
    match_text(app_json_path(rule, "match.path"), "path", path, sizeof path);
    int headers = cJSON_GetArraySize(app_json_path(rule, "match.headers"));
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rule, "fault");
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(f, "percentage");
    const cJSON *delay = app_json_path(f, "delay.fixed_delay_ms");
    const cJSON *delay_text = app_json_path(f, "delay.fixed_delay");
    const cJSON *status = app_json_path(f, "abort.httpStatus");
    const cJSON *duration = cJSON_GetObjectItemCaseSensitive(f, "duration_seconds");
    if (cJSON_IsNumber(delay))
        used += (size_t)snprintf(fault + used, sizeof fault - used, "delay %gms", delay->valuedouble);
    else if (cJSON_IsString(delay_text))
        used += (size_t)snprintf(fault + used, sizeof fault - used, "delay %s", delay_text->valuestring);
    if (cJSON_IsNumber(status) && used < sizeof fault)
        used += (size_t)snprintf(fault + used, sizeof fault - used, "%sabort %g", used ? " then " : "",
                                 status->valuedouble);
    snprintf(part, sizeof part, "%s%g%%", used ? ", " : "", cJSON_IsNumber(pct) ? pct->valuedouble : 100.0);
    if (used < sizeof fault)
        used += (size_t)snprintf(fault + used, sizeof fault - used, "%s", part);
    if (cJSON_IsNumber(duration) && duration->valuedouble > 0 && used < sizeof fault)
        snprintf(fault + used, sizeof fault - used, ", %gs per pod", duration->valuedouble);
    snprintf(out, size, "%s%s%s%s%s -> %s", method[0] ? method : "", method[0] && path[0] ? ", " : "", path,
             headers ? (method[0] || path[0] ? ", " : "") : "", headers ? "headers" : "",
             fault[0] ? fault : "no fault");
    if (!method[0] && !path[0] && !headers)
        snprintf(out, size, "every request -> %s", fault[0] ? fault : "no fault");
}

/* ---- a value for a request header ---- */

bool app_header_value_safe(const char *json, size_t len, const char *value, char *why, size_t why_size)
{
    for (size_t k = 0; value[k]; k++) {
        unsigned char ch = (unsigned char)value[k];
        if (ch > 0x20 && ch < 0x7f)
            continue;
        snprintf(why, why_size, "%s at byte %zu",
                 ch == '\r' ? "a carriage return (CR)" : ch == '\n' ? "a line feed (LF)"
                 : ch < 0x20 || ch == 0x7f ? "a control character" : ch == ' ' ? "a space" : "a byte outside ASCII",
                 k + 1);
        return false;
    }
    /* A JSON string can hold \u0000, which ends a C string early: look
     * for the escape in the text the value came from. */
    size_t n = strlen(value);
    for (size_t k = 0; k + n + 6 <= len; k++) {
        if (memcmp(json + k, value, n) == 0 && memcmp(json + k + n, "\\u0000", 6) == 0) {
            snprintf(why, why_size, "a NUL byte at byte %zu", n + 1);
            return false;
        }
    }
    return true;
}

/* ---- after the kill switch ---- */

void app_halt_follow(struct app_halt_pod *h, const char *name, unsigned ok_scrapes)
{
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->last_ok = ok_scrapes;
}

void app_halt_scraped(struct app_halt_pod *h, unsigned ok_scrapes, double aborts, double delays, double rules)
{
    if (ok_scrapes == h->last_ok)
        return;
    double total = aborts + delays;
    h->moved = h->scrapes ? total - h->last_total : 0;
    h->last_total = total;
    h->last_ok = ok_scrapes;
    h->rules = rules;
    h->scrapes++;
}

enum app_halt_verdict app_halt_verdict(const struct app_halt_pod *h)
{
    if (h->scrapes >= 2 && h->moved == 0 && h->rules == 0)
        return APP_HALT_STOPPED;
    return h->scrapes >= APP_HALT_SCRAPES ? APP_HALT_INJECTING : APP_HALT_WAITING;
}

void app_halt_text(const struct app_halt_pod *h, char *out, size_t size)
{
    switch (app_halt_verdict(h)) {
    case APP_HALT_STOPPED:
        snprintf(out, size, "faults stopped (no rule loaded, no new fault between the last two scrapes)");
        return;
    case APP_HALT_WAITING:
        snprintf(out, size, "waiting for scrapes (%d of at least 2 since the write)", h->scrapes);
        return;
    case APP_HALT_INJECTING: break;
    }
    if (h->rules > 0)
        snprintf(out, size, "STILL INJECTING: %.0f rule%s still loaded after %d scrapes", h->rules,
                 h->rules == 1 ? "" : "s", h->scrapes);
    else
        snprintf(out, size, "STILL INJECTING: %+.0f faults between the last two scrapes (header faults?)", h->moved);
}

/* ---- checking with the plugin's own parser ---- */

bool app_policy_check_config(const char *json, size_t len, char *err, size_t err_size)
{
    char reason[512] = "";
    struct hfi_config *config = hfi_config_parse(json, len, reason, sizeof reason);
    if (config) {
        hfi_config_free(config);
        return true;
    }
    /* "policies[3].spec.rules[0].fault...: why": name the policy. */
    unsigned index;
    int used = 0;
    if (sscanf(reason, "policies[%u]%n", &index, &used) == 1 && used > 0) {
        cJSON *doc = cJSON_ParseWithLength(json, len);
        const char *name = app_policy_name(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "policies"),
                                                          (int)index));
        const char *rest = reason + used;
        if (*rest == '.')
            rest++;
        if (name)
            snprintf(err, err_size, "policy \"%s\": %s", name, rest);
        else
            snprintf(err, err_size, "policy %u of pluginConfig.policies: %s", index + 1, rest);
        cJSON_Delete(doc);
        return false;
    }
    snprintf(err, err_size, "pluginConfig: %s", reason[0] ? reason : "rejected");
    return false;
}

