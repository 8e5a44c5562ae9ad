/* Kubernetes Status objects: the body of API errors and of watch ERROR events. */
#ifndef KUBE_STATUS_H
#define KUBE_STATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct kube_status {
    int code;
    char status[16];   /* "Failure" / "Success" */
    char reason[64];   /* "Forbidden", "NotFound", "Expired", ... */
    char message[400];
    char details_name[128];
    char details_kind[64];
    int retry_after_seconds; /* details.retryAfterSeconds, 0 when absent */
};

/* Parses `buf` when it is a Status object; returns false otherwise. */
bool kube_status_parse(const char *buf, size_t len, struct kube_status *out);
/* The same from an already parsed object. */
bool kube_status_from_json(const cJSON *obj, struct kube_status *out);

#endif
