/* libFuzzer target for the Prometheus query API answers (tui/stats
 * prom_api): any bytes, as a vector/matrix answer read for pod and
 * namespace labels, and as a /api/v1/status/config answer. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "prom_api.h"

/* Keeps the reads above from being optimised away. */
static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = {"pod", "namespace", "__name__", "hfi_family", "le"};
    prom_api_answer a;
    prom_api_parse((const char *)data, size, labels, 5, &a);
    size_t checksum = strlen(a.error) + strlen(a.error_type) + strlen(a.warning) + strlen(a.result_type);
    for (size_t i = 0; i < a.series_count; i++) {
        /* Touch every label and point handed out, so ASan checks them. */
        for (size_t k = 0; k < 5; k++)
            checksum += strlen(a.series[i].label[k]);
        for (size_t p = 0; p < a.series[i].point_count; p++)
            checksum += isnan(a.series[i].points[p].value) ? 1 : 2;
    }
    prom_api_answer_free(&a);
    double interval = prom_api_scrape_interval_s((const char *)data, size);
    sink = checksum + (interval > 0);
    return 0;
}
