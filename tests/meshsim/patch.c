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
 * atomic (custom resources without list-type markers). A field set holds
 * leaves; a map is only the path to them: one whose every key the server
 * owns (metadata with just a name) is no field of the manager's, while an
 * empty map set as such ({}) is a leaf (kubernetes-sigs/structured-merge-diff
 * typed/typed.go, ToFieldSet: "every leaf field and item mentioned"). */
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
        cJSON *child = fields_of(c, sub);
        if (cJSON_IsObject(c) && c->child && !child->child) {
            cJSON_Delete(child);
            continue;
        }
        cJSON_AddItemToObject(f, key, child);
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

/* Drops from a manager's field set the leaves another manager took over;
 * a map left with no leaves under it goes too (it was only their path). */
static void disown(cJSON *fields, const cJSON *taken)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, taken)
    {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(fields, t->string);
        if (!f)
            continue;
        if (!t->child || !f->child) {
            cJSON_DeleteItemFromObjectCaseSensitive(fields, t->string);
        } else {
            disown(f, t);
            if (!f->child)
                cJSON_DeleteItemFromObjectCaseSensitive(fields, t->string);
        }
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
    /* A manager left owning nothing is dropped from managedFields. */
    for (cJSON *e = mf->child, *next; e; e = next) {
        next = e->next;
        cJSON *fields = cJSON_GetObjectItemCaseSensitive(e, "fieldsV1");
        if (e != mine && force && cJSON_IsObject(fields) && !fields->child)
            cJSON_Delete(cJSON_DetachItemViaPointer(mf, e));
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

/* ---- JSON Patch (RFC 6902) ---- */

/* Splits a JSON pointer's last segment off: *parent is the container, *key
 * the decoded last segment (~1 is '/', ~0 is '~'). -1 if the parent path
 * does not exist. */
static int resolve_parent(cJSON *root, const char *pointer, cJSON **parent, char *key, size_t key_size)
{
    if (pointer[0] != '/')
        return -1;
    cJSON *cur = root;
    const char *p = pointer + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        size_t k = 0;
        for (size_t i = 0; i < len && k + 1 < key_size; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                key[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                key[k++] = p[i];
            }
        }
        key[k] = '\0';
        if (!slash) {
            *parent = cur;
            return 0;
        }
        if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        } else if (cJSON_IsArray(cur)) {
            char *end;
            long idx = strtol(key, &end, 10);
            cur = (*key && !*end && idx >= 0) ? cJSON_GetArrayItem(cur, (int)idx) : NULL;
        } else {
            cur = NULL;
        }
        if (!cur)
            return -1;
        p = slash + 1;
    }
}

/* Array index of key for an existing element (or the end, for add). */
static int array_index(cJSON *arr, const char *key, int for_add)
{
    int size = cJSON_GetArraySize(arr);
    if (for_add && strcmp(key, "-") == 0)
        return size;
    char *end;
    long idx = strtol(key, &end, 10);
    if (!*key || *end || idx < 0 || idx > size - (for_add ? 0 : 1) || (key[0] == '0' && key[1]))
        return -1;
    return (int)idx;
}

static cJSON *pointer_get(cJSON *root, const char *pointer)
{
    if (!*pointer)
        return root;
    cJSON *parent;
    char key[512];
    if (resolve_parent(root, pointer, &parent, key, sizeof key) != 0)
        return NULL;
    if (cJSON_IsObject(parent))
        return cJSON_GetObjectItemCaseSensitive(parent, key);
    if (cJSON_IsArray(parent)) {
        int i = array_index(parent, key, 0);
        return i < 0 ? NULL : cJSON_GetArrayItem(parent, i);
    }
    return NULL;
}

/* Detaches and returns the value at pointer, or NULL. */
static cJSON *pointer_take(cJSON *root, const char *pointer)
{
    cJSON *parent;
    char key[512];
    if (!*pointer || resolve_parent(root, pointer, &parent, key, sizeof key) != 0)
        return NULL;
    if (cJSON_IsObject(parent))
        return cJSON_DetachItemFromObjectCaseSensitive(parent, key);
    if (cJSON_IsArray(parent)) {
        int i = array_index(parent, key, 0);
        return i < 0 ? NULL : cJSON_DetachItemFromArray(parent, i);
    }
    return NULL;
}

/* Puts value (consumed) at pointer: add semantics (insert into arrays). */
static int pointer_add(cJSON *root, const char *pointer, cJSON *value)
{
    cJSON *parent;
    char key[512];
    if (!*pointer || resolve_parent(root, pointer, &parent, key, sizeof key) != 0) {
        cJSON_Delete(value);
        return -1;
    }
    if (cJSON_IsObject(parent)) {
        if (cJSON_GetObjectItemCaseSensitive(parent, key))
            cJSON_ReplaceItemInObjectCaseSensitive(parent, key, value);
        else
            cJSON_AddItemToObject(parent, key, value);
        return 0;
    }
    if (cJSON_IsArray(parent)) {
        int i = array_index(parent, key, 1);
        if (i < 0) {
            cJSON_Delete(value);
            return -1;
        }
        /* Debian's cJSON 1.7.15 loses items given to cJSON_InsertItemInArray
         * here: move the tail aside, append, put the tail back. */
        cJSON *tail = cJSON_CreateArray();
        while (cJSON_GetArraySize(parent) > i)
            cJSON_AddItemToArray(tail, cJSON_DetachItemFromArray(parent, i));
        cJSON_AddItemToArray(parent, value);
        while (tail->child)
            cJSON_AddItemToArray(parent, cJSON_DetachItemFromArray(tail, 0));
        cJSON_Delete(tail);
        return 0;
    }
    cJSON_Delete(value);
    return -1;
}

int json_patch(cJSON *target, const cJSON *ops, char *err, size_t err_size)
{
    if (!cJSON_IsArray(ops)) {
        snprintf(err, err_size, "json patch must be an array of operations");
        return -1;
    }
    const cJSON *op;
    int n = 0;
    cJSON_ArrayForEach(op, ops)
    {
        const char *name = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(op, "op"))
                               ? cJSON_GetObjectItemCaseSensitive(op, "op")->valuestring
                               : NULL;
        const cJSON *path_item = cJSON_GetObjectItemCaseSensitive(op, "path");
        const cJSON *from_item = cJSON_GetObjectItemCaseSensitive(op, "from");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
        const char *path = cJSON_IsString(path_item) ? path_item->valuestring : NULL;
        const char *from = cJSON_IsString(from_item) ? from_item->valuestring : NULL;
        int rc = -1;
        if (!name || !path) {
            snprintf(err, err_size, "operation %d: op and path are required", n);
            return -1;
        }
        if (strcmp(name, "add") == 0 && value) {
            rc = pointer_add(target, path, cJSON_Duplicate(value, 1));
        } else if (strcmp(name, "remove") == 0) {
            cJSON *gone = pointer_take(target, path);
            rc = gone ? 0 : -1;
            cJSON_Delete(gone);
        } else if (strcmp(name, "replace") == 0 && value) {
            cJSON *old = pointer_take(target, path);
            rc = old ? pointer_add(target, path, cJSON_Duplicate(value, 1)) : -1;
            cJSON_Delete(old);
        } else if ((strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) && from) {
            int move = name[0] == 'm';
            if (move && strncmp(path, from, strlen(from)) == 0 && path[strlen(from)] == '/') {
                snprintf(err, err_size, "operation %d: cannot move %s into itself", n, from);
                return -1;
            }
            cJSON *v = move ? pointer_take(target, from) : cJSON_Duplicate(pointer_get(target, from), 1);
            rc = v ? pointer_add(target, path, v) : -1;
        } else if (strcmp(name, "test") == 0 && value) {
            cJSON *have = pointer_get(target, path);
            if (!have || !cJSON_Compare(have, value, 1)) {
                snprintf(err, err_size, "operation %d: test failed at %s", n, path);
                return -1;
            }
            rc = 0;
        } else {
            snprintf(err, err_size, "operation %d: unknown or incomplete op \"%s\"", n, name);
            return -1;
        }
        if (rc != 0) {
            snprintf(err, err_size, "operation %d (%s): path %s does not exist", n, name, path);
            return -1;
        }
        n++;
    }
    return 0;
}
