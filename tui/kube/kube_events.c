#include "kube_events.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_client.h"
#include "kube_util.h"

char *kube_pod_events_path(const char *ns, const char *pod)
{
    char *ens = kube_url_escape(ns), *selector = NULL, *path = NULL;
    struct kube_buf sel = {0};
    if (ens && kube_buf_printf(&sel, "involvedObject.name=%s", pod) == 0)
        selector = kube_url_escape(sel.data);
    struct kube_buf b = {0};
    if (selector && kube_buf_printf(&b, "/api/v1/namespaces/%s/events?fieldSelector=%s", ens, selector) == 0)
        path = b.data;
    else
        kube_buf_free(&b);
    kube_buf_free(&sel);
    free(ens);
    free(selector);
    return path;
}

static char *string_at(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static time_t time_at(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    struct timespec t;
    return cJSON_IsString(v) && kube_parse_rfc3339(v->valuestring, strlen(v->valuestring), &t) ? t.tv_sec : 0;
}

/* Oldest first; events of the same second keep the server's order (an
 * insertion sort is stable, and a pod has few events). */
static void sort_by_time(struct kube_event *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct kube_event e = items[i];
        size_t j = i;
        for (; j > 0 && items[j - 1].last > e.last; j--)
            items[j] = items[j - 1];
        items[j] = e;
    }
}

int kube_events_parse(const char *buf, size_t len, struct kube_event_list *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(items) ||
        (kind && (!cJSON_IsString(kind) || strcmp(kind->valuestring, "EventList") != 0))) {
        snprintf(err, err_size, "%s", root ? "the answer is not an EventList" : "the answer is not JSON");
        cJSON_Delete(root);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(items);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) {
        snprintf(err, err_size, "out of memory");
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        if (!cJSON_IsObject(item))
            continue;
        struct kube_event *e = &out->items[out->n++];
        e->type = string_at(item, "type");
        e->reason = string_at(item, "reason");
        e->message = string_at(item, "message");
        /* reportingComponent is the newer field; source.component the older. */
        e->source = string_at(item, "reportingComponent");
        if (e->source && !e->source[0]) {
            free(e->source);
            e->source = string_at(cJSON_GetObjectItemCaseSensitive(item, "source"), "component");
        }
        e->last = time_at(item, "lastTimestamp");
        if (!e->last)
            e->last = time_at(item, "eventTime");
        if (!e->last)
            e->last = time_at(cJSON_GetObjectItemCaseSensitive(item, "metadata"), "creationTimestamp");
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(item, "count");
        e->count = cJSON_IsNumber(count) && count->valuedouble >= 1 && count->valuedouble < 1e9 ? count->valueint : 1;
        if (!e->type || !e->reason || !e->message || !e->source) {
            cJSON_Delete(root);
            kube_event_list_free(out);
            snprintf(err, err_size, "out of memory");
            return -1;
        }
    }
    cJSON_Delete(root);
    sort_by_time(out->items, out->n);
    return 0;
}

void kube_event_list_free(struct kube_event_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].type);
        free(list->items[i].reason);
        free(list->items[i].message);
        free(list->items[i].source);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}
