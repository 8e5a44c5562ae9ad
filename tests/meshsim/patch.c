#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

void merge_patch(cJSON *target, const cJSON *patch)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, patch)
    {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
        if (cJSON_IsNull(p)) {
            if (t)
                cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
        } else if (cJSON_IsObject(p) && cJSON_IsObject(t)) {
            merge_patch(t, p);
        } else {
            cJSON *copy = cJSON_Duplicate(p, 1);
            if (cJSON_IsObject(copy)) {
                /* Nulls inside a new object mean "absent", as in RFC 7386. */
                cJSON *fresh = cJSON_CreateObject();
                merge_patch(fresh, copy);
                cJSON_Delete(copy);
                copy = fresh;
            }
            if (t)
                cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, copy);
            else
                cJSON_AddItemToObject(target, p->string, copy);
        }
    }
}

static const char *merge_key_for(const char *field)
{
    if (strcmp(field, "ports") == 0)
        return "containerPort";
    if (strcmp(field, "volumeMounts") == 0)
        return "mountPath";
    return "name";
}

static cJSON *find_by_key(cJSON *arr, const char *key, const cJSON *value)
{
    cJSON *el;
    cJSON_ArrayForEach(el, arr)
    {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(el, key);
        if (v && cJSON_Compare(v, value, 1))
            return el;
    }
    return NULL;
}

static int all_objects_with_key(const cJSON *arr, const char *key)
{
    const cJSON *el;
    int n = 0;
    cJSON_ArrayForEach(el, arr)
    {
        if (!cJSON_IsObject(el) || !cJSON_GetObjectItemCaseSensitive(el, key))
            return 0;
        n++;
    }
    return n > 0;
}

static void strip_directives(cJSON *obj)
{
    cJSON *c = obj ? obj->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (c->string && c->string[0] == '$')
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        else if (cJSON_IsObject(c) || cJSON_IsArray(c))
            strip_directives(c);
        c = next;
    }
}

void strategic_merge_patch(cJSON *target, const cJSON *patch)
{
    const cJSON *directive = cJSON_GetObjectItemCaseSensitive(patch, "$patch");
    if (cJSON_IsString(directive) && strcmp(directive->valuestring, "replace") == 0) {
        while (target->child)
            cJSON_Delete(cJSON_DetachItemViaPointer(target, target->child));
        cJSON *copy = cJSON_Duplicate(patch, 1);
        strip_directives(copy);
        merge_patch(target, copy);
        cJSON_Delete(copy);
        return;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, patch)
    {
        if (p->string[0] == '$')
            continue; /* $setElementOrder, $retainKeys: ordering hints */
        cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
        const char *key = merge_key_for(p->string);
        if (cJSON_IsNull(p)) {
            if (t)
                cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
        } else if (cJSON_IsObject(p) && cJSON_IsObject(t)) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "$patch");
            if (cJSON_IsString(d) && strcmp(d->valuestring, "delete") == 0)
                cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
            else
                strategic_merge_patch(t, p);
        } else if (cJSON_IsArray(p) && cJSON_IsArray(t) && all_objects_with_key(p, key) &&
                   all_objects_with_key(t, key)) {
            const cJSON *el;
            cJSON_ArrayForEach(el, p)
            {
                const cJSON *kv = cJSON_GetObjectItemCaseSensitive(el, key);
                cJSON *match = find_by_key(t, key, kv);
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(el, "$patch");
                if (cJSON_IsString(d) && strcmp(d->valuestring, "delete") == 0) {
                    if (match)
                        cJSON_Delete(cJSON_DetachItemViaPointer(t, match));
                } else if (match) {
                    strategic_merge_patch(match, el);
                } else {
                    cJSON *copy = cJSON_Duplicate(el, 1);
                    strip_directives(copy);
                    cJSON_AddItemToArray(t, copy);
                }
            }
        } else {
            cJSON *copy = cJSON_Duplicate(p, 1);
            strip_directives(copy);
            if (t)
                cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, copy);
            else
                cJSON_AddItemToObject(target, p->string, copy);
        }
    }
}

/* ---- server-side apply ---- */

/* Metadata the server owns; never part of a manager's field set. */
static int server_owned(const char *path_prefix, const char *key)
{
    static const char *const meta[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                                       "managedFields", "generation", "selfLink", "deletionTimestamp", NULL};
    if (strcmp(path_prefix, "") == 0)
        return strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0 || strcmp(key, "status") == 0;
    if (strcmp(path_prefix, ".metadata") == 0)
        for (size_t i = 0; meta[i]; i++)
            if (strcmp(key, meta[i]) == 0)
                return 1;
    return 0;
}

/* fieldsV1 of an applied configuration: {"f:spec":{"f:x":{}}}. Lists are
 * atomic (custom resources without list-type markers). */
static cJSON *fields_of(const cJSON *v, const char *path)
{
    cJSON *f = cJSON_CreateObject();
    if (!cJSON_IsObject(v))
        return f;
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        if (server_owned(path, c->string))
            continue;
        char key[512], sub[1024];
        snprintf(key, sizeof key, "f:%s", c->string);
        snprintf(sub, sizeof sub, "%s.%s", path, c->string);
        cJSON_AddItemToObject(f, key, fields_of(c, sub));
    }
    return f;
}

/* Removes from obj the leaf fields in old_fields that new_fields lacks. */
static void prune(cJSON *obj, const cJSON *old_fields, const cJSON *new_fields)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, old_fields)
    {
        if (strncmp(f->string, "f:", 2) != 0)
            continue;
        const char *name = f->string + 2;
        const cJSON *nf = cJSON_GetObjectItemCaseSensitive(new_fields, f->string);
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, name);
        if (!child)
            continue;
        if (!nf) {
            cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        } else if (cJSON_IsObject(child)) {
            prune(child, f, nf);
        }
    }
}

/* Drops from a manager's field set the leaves another manager took over. */
static void disown(cJSON *fields, const cJSON *taken)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, taken)
    {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(fields, t->string);
        if (!f)
            continue;
        if (!t->child || !f->child)
            cJSON_DeleteItemFromObjectCaseSensitive(fields, t->string);
        else
            disown(f, t);
    }
}

/* Leaves of applied that another manager's fields own with another value. */
static void find_conflicts(const cJSON *applied, const cJSON *live, const cJSON *owned, const char *path,
                           struct buf *out)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, applied)
    {
        char key[512], sub[1024];
        snprintf(key, sizeof key, "f:%s", c->string);
        snprintf(sub, sizeof sub, "%s.%s", path, c->string);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(owned, key);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(live, c->string);
        if (!o || !l || server_owned(path, c->string))
            continue;
        if (cJSON_IsObject(c) && cJSON_IsObject(l) && o->child)
            find_conflicts(c, l, o, sub, out);
        else if (!cJSON_Compare(c, l, 1))
            buf_printf(out, "%s%s", out->len ? "\n" : "", sub);
    }
}

static void now_stamp(char *out, size_t size)
{
    rfc3339(out, size, time(NULL));
}

cJSON *server_side_apply(cJSON *live, const cJSON *applied, const char *manager, int force,
                         const char *api_version, struct buf *conflicts, char *first_conflict_owner,
                         size_t owner_size)
{
    cJSON *new_fields = fields_of(applied, "");
    cJSON *obj = live ? live : cJSON_CreateObject();
    cJSON *mf = json_path(obj, "metadata.managedFields");
    cJSON *mine = NULL, *entry;
    if (live && !force) {
        cJSON_ArrayForEach(entry, mf)
        {
            const char *m = json_str(entry, "manager");
            if (m && strcmp(m, manager) == 0)
                continue;
            size_t before = conflicts->len;
            find_conflicts(applied, obj, cJSON_GetObjectItemCaseSensitive(entry, "fieldsV1"), "", conflicts);
            if (conflicts->len != before && !first_conflict_owner[0])
                snprintf(first_conflict_owner, owner_size, "%s", m ? m : "");
        }
        if (conflicts->len) {
            cJSON_Delete(new_fields);
            return NULL;
        }
    }
    cJSON_ArrayForEach(entry, mf)
    {
        const char *m = json_str(entry, "manager");
        const char *op = json_str(entry, "operation");
        if (m && op && strcmp(m, manager) == 0 && strcmp(op, "Apply") == 0)
            mine = entry;
    }
    if (mine)
        prune(obj, cJSON_GetObjectItemCaseSensitive(mine, "fieldsV1"), new_fields);
    cJSON *copy = cJSON_Duplicate(applied, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
    cJSON *copy_meta = cJSON_GetObjectItemCaseSensitive(copy, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(copy_meta, "managedFields");
    cJSON_DeleteItemFromObjectCaseSensitive(copy_meta, "resourceVersion");
    cJSON_DeleteItemFromObjectCaseSensitive(copy_meta, "uid");
    merge_patch(obj, copy);
    cJSON_Delete(copy);

    /* Forced fields leave their previous owners. */
    char stamp[32];
    now_stamp(stamp, sizeof stamp);
    cJSON *meta = json_obj_ensure(obj, "metadata");
    mf = cJSON_GetObjectItemCaseSensitive(meta, "managedFields");
    if (!cJSON_IsArray(mf)) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
        mf = cJSON_AddArrayToObject(meta, "managedFields");
    }
    mine = NULL;
    cJSON_ArrayForEach(entry, mf)
    {
        const char *m = json_str(entry, "manager");
        const char *op = json_str(entry, "operation");
        if (m && op && strcmp(m, manager) == 0 && strcmp(op, "Apply") == 0)
            mine = entry;
        else if (force)
            disown(cJSON_GetObjectItemCaseSensitive(entry, "fieldsV1"), new_fields);
    }
    if (!mine) {
        mine = cJSON_CreateObject();
        cJSON_AddItemToArray(mf, mine);
    }
    while (mine->child)
        cJSON_Delete(cJSON_DetachItemViaPointer(mine, mine->child));
    cJSON_AddStringToObject(mine, "manager", manager);
    cJSON_AddStringToObject(mine, "operation", "Apply");
    cJSON_AddStringToObject(mine, "apiVersion", api_version);
    cJSON_AddStringToObject(mine, "time", stamp);
    cJSON_AddStringToObject(mine, "fieldsType", "FieldsV1");
    cJSON_AddItemToObject(mine, "fieldsV1", new_fields);
    return obj;
}
