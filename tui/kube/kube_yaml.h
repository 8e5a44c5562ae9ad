/* YAML or JSON text to a cJSON tree, so one walker reads both forms of a
 * kubeconfig. Internal to tui/kube. */
#ifndef KUBE_YAML_H
#define KUBE_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The first document of `buf`, or an empty object for an empty document.
 * Plain scalars null/~ become null and true/false/yes/no/on/off booleans,
 * as the YAML 1.1 reader kubectl uses resolves them; every other scalar
 * stays a string. On failure returns NULL and writes "line N: problem" to
 * `err`. */
cJSON *kube_yaml_parse(const char *buf, size_t len, char *err, size_t err_len);

#endif
