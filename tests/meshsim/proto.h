/* The one protobuf body kubectl sends meshsim: a SelfSubjectAccessReview
 * (kubectl auth can-i), in the Kubernetes envelope ("k8s\0" + Unknown). */
#ifndef MESHSIM_PROTO_H
#define MESHSIM_PROTO_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The review as its JSON form ({"spec":{"resourceAttributes":{...}}}), or
 * NULL when the bytes are not a well-formed review. */
cJSON *proto_access_review(const unsigned char *data, size_t len);

#endif
