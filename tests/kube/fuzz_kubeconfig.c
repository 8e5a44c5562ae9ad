/* libFuzzer: the kubeconfig parser (YAML and JSON), merging, and context
 * resolution over whatever the parser accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube_auth.h"
#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_config cfg, second;
    struct kube_error err;
    if (kube_config_parse((const char *)data, size, "/fuzz/dir/config", &cfg, &err) < 0)
        return 0;
    /* Merging a config with its own second parse exercises the "first file
     * wins" paths for every entry. */
    if (kube_config_parse((const char *)data, size, "/fuzz/other/config", &second, &err) == 0 &&
        kube_config_merge(&cfg, &second) < 0)
        kube_config_free(&second);
    for (size_t i = 0; i < cfg.n_contexts; i++) {
        struct kube_connection conn;
        if (kube_connection_from_config(&cfg, cfg.contexts[i].name, NULL, &conn, &err) == 0)
            kube_connection_free(&conn);
    }
    kube_config_free(&cfg);
    return 0;
}
