/* libFuzzer over the pure half of tui/app/policy.h: what a WasmPlugin read
 * from the cluster, a policy file or a form field can hold reaches these
 * (the plugin's parser on a whole pluginConfig, windows and rule texts of
 * any JSON, the strict parsers, the header-value check). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/app/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[600], out[400];
    app_policy_check_config((const char *)data, size, err, sizeof err);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    long l;
    double d;
    time_t t;
    app_parse_duration(text, &l);
    app_parse_percentage(text, &d);
    app_parse_long(text, 0, 1000, &l);
    app_parse_rfc3339(text, &t);
    app_header_value_safe((const char *)data, size, text, err, sizeof err);
    cJSON *policy = cJSON_ParseWithLength((const char *)data, size);
    if (policy) {
        app_policy_window(policy, 1764669600, out, sizeof out);
        const cJSON *rule;
        cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(policy, "spec"), "rules"))
            app_policy_rule_text(rule, out, sizeof out);
        app_policy_stamp(policy, 1764669600, 0);
        app_policy_stamp(policy, 1764669600, 600);
        cJSON_Delete(policy);
    }
    free(text);
    return 0;
}
