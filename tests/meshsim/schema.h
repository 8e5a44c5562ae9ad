/* The fields each served type knows, for fieldValidation=Strict: the API
 * server refuses an object naming a field its schema lacks (kubernetes
 * staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go, update.go,
 * patch.go: "strict decoding error: unknown field ..."). Maps (labels,
 * annotations, selectors, data, pluginConfig) take any key; parts meshsim
 * has no table for are not checked. */
#ifndef MESHSIM_SCHEMA_H
#define MESHSIM_SCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store.h"

/* The first unknown field of obj as the API server names it
 * ("spec.replica", "spec.template.spec.containers[0].imagePullPolicyy")
 * into out: 1 when there is one, 0 when every field is known. Keys that
 * start with '$' are strategic-merge-patch directives, not fields. */
int schema_unknown_field(const struct rtype *t, const cJSON *obj, char *out, size_t size);

#endif
