/* YAML (and therefore JSON) text to cJSON, for server-side apply bodies and
 * the proxy.istio.io/config annotation. */
#ifndef MESHSIM_YAML_H
#define MESHSIM_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parses the first document of text[0..len). Returns NULL and writes a
 * message into err on failure. */
cJSON *yaml_to_json(const char *text, size_t len, char *err, size_t err_size);

#endif
