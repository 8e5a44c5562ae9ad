#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openapi.h"
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

/* ---- strategic merge patch ----
 *
 * As the API server applies one to a built-in object (kubernetes
 * staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go,
 * StrategicMergeMapPatch with MergeParallelList and IgnoreUnmatchedNulls):
 * mergeMap, mergeSlice and the directives $patch, $retainKeys,
 * $setElementOrder/ and $deleteFromPrimitiveList/. Which lists merge, and
 * by which key, is what the Go types' patchStrategy and patchMergeKey tags
 * say, as openapi.txt transcribes them; every other list is replaced. */

struct smp {
    char *err;
    size_t err_size;
    int code; /* 0, or the HTTP status of the error in err */
};

/* The object metadata of a kind openapi.txt has no schema for. */
static const struct openapi_patch_field OBJECT_METADATA = {"", "metadata", "ObjectMeta", NULL, NULL};

static const struct openapi_patch_field *patch_field(const char *schema, const char *field, int top)
{
    for (const struct openapi_patch_field *f = OPENAPI_PATCH_FIELDS; schema && f->schema; f++)
        if (strcmp(f->schema, schema) == 0 && strcmp(f->field, field) == 0)
            return f;
    return top && strcmp(field, "metadata") == 0 ? &OBJECT_METADATA : NULL;
}

const char *strategic_schema(const char *group, const char *kind)
{
    for (const struct openapi_kind *k = OPENAPI_KINDS; k->kind; k++)
        if (strcmp(k->group, group) == 0 && strcmp(k->kind, kind) == 0)
            return k->schema;
    return NULL;
}

/* A patch strategy names merge ("merge", "merge,retainKeys"). */
static int merges(const struct openapi_patch_field *f)
{
    return f && f->strategy && strncmp(f->strategy, "merge", 5) == 0 && (!f->strategy[5] || f->strategy[5] == ',');
}

/* A whole number an int64 holds (what Go's decoder keeps as an int). */
static int is_int64(double d)
{
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(long long)d;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* v as Go's %v prints what encoding/json decoded: map[k:v ...] with
 * sorted keys, [a b], <nil>; the API server's patch errors show values so. */
static void go_value(struct buf *b, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        int n = cJSON_GetArraySize(v), i = 0;
        const char **keys = calloc((size_t)n + 1, sizeof *keys);
        const cJSON *c;
        cJSON_ArrayForEach(c, v)
        {
            keys[i++] = c->string;
        }
        qsort(keys, (size_t)n, sizeof *keys, cmp_strings);
        buf_puts(b, "map[");
        for (i = 0; i < n; i++) {
            buf_printf(b, "%s%s:", i ? " " : "", keys[i]);
            go_value(b, cJSON_GetObjectItemCaseSensitive(v, keys[i]));
        }
        buf_puts(b, "]");
        free(keys);
    } else if (cJSON_IsArray(v)) {
        const cJSON *c;
        buf_puts(b, "[");
        cJSON_ArrayForEach(c, v)
        {
            if (c != v->child)
                buf_puts(b, " ");
            go_value(b, c);
        }
        buf_puts(b, "]");
    } else if (cJSON_IsString(v)) {
        buf_puts(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (is_int64(d))
            buf_printf(b, "%lld", (long long)d);
        else
            buf_printf(b, "%.17g", d);
    } else if (cJSON_IsBool(v)) {
        buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    } else {
        buf_puts(b, "<nil>");
    }
}

/* Sets the error (the first one counts). */
static int smp_fail(struct smp *s, int code, const char *before, const cJSON *value, const char *after)
{
    if (s->code)
        return -1;
    struct buf b = {0};
    buf_puts(&b, before);
    if (value)
        go_value(&b, value);
    buf_puts(&b, after);
    snprintf(s->err, s->err_size, "%s", b.data);
    buf_free(&b);
    s->code = code;
    return -1;
}

/* mergepatch.ErrNoMergeKey */
static int no_merge_key(struct smp *s, const cJSON *item, const char *key)
{
    char after[320];
    snprintf(after, sizeof after, " does not contain declared merge key: %s", key);
    return smp_fail(s, 500, "map: ", item, after);
}

/* A value taken from the patch as it is: without directives, and without
 * the nulls that would only have deleted something (discardNullValuesFromPatch,
 * removeDirectives); items marked `$patch: delete` are dropped. */
static void clean(cJSON *v)
{
    cJSON *c = v ? v->child : NULL;
    while (c) {
        cJSON *next = c->next;
        const cJSON *d = cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "$patch") : NULL;
        if ((cJSON_IsObject(v) && ((c->string && c->string[0] == '$') || cJSON_IsNull(c))) ||
            (cJSON_IsArray(v) && cJSON_IsString(d) && strcmp(d->valuestring, "delete") == 0))
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        else
            clean(c);
        c = next;
    }
}

static cJSON *clean_copy(const cJSON *v)
{
    cJSON *copy = cJSON_Duplicate(v, 1);
    clean(copy);
    return copy;
}

static void replace_member(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

/* Go's type of a decoded JSON value: ints and floats differ. */
static int go_type(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return is_int64(v->valuedouble) ? 1 : 2;
    return cJSON_IsString(v) ? 3 : cJSON_IsBool(v) ? 4 : cJSON_IsObject(v) ? 5 : cJSON_IsArray(v) ? 6 : 7;
}

/* Whether item is the list's element at index i: maps by their merge key,
 * other values by value (strategicpatch index()). */
static int same_item(const cJSON *a, const cJSON *b, const char *key)
{
    if (key && cJSON_IsObject(a) && cJSON_IsObject(b)) {
        const cJSON *ka = cJSON_GetObjectItemCaseSensitive(a, key), *kb = cJSON_GetObjectItemCaseSensitive(b, key);
        return ka && kb && cJSON_Compare(ka, kb, 1);
    }
    return cJSON_Compare(a, b, 1);
}

static int index_in(const cJSON *list, const cJSON *item, const char *key)
{
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        if (same_item(c, item, key))
            return i;
        i++;
    }
    return -1;
}

/* The order the API server leaves a merged list in (normalizeElementOrder,
 * mergeSortedSlice): the items present in `order` (the patch's list, or
 * its $setElementOrder) in that order, the others in the live list's
 * order, interleaved where the live list orders both, the patch's first
 * otherwise. Consumes merged. */
static cJSON *normalize_order(cJSON *merged, const cJSON *order, const cJSON *server, const char *key)
{
    cJSON *patch_items = cJSON_CreateArray(), *server_only = cJSON_CreateArray();
    while (merged->child) {
        cJSON *c = cJSON_DetachItemViaPointer(merged, merged->child);
        cJSON_AddItemToArray(index_in(order, c, key) >= 0 ? patch_items : server_only, c);
    }
    cJSON_Delete(merged);
    /* Stable sort of the patch's items by their place in order. */
    cJSON *sorted = cJSON_CreateArray();
    const cJSON *o;
    cJSON_ArrayForEach(o, order)
    {
        for (cJSON *c = patch_items->child; c; c = c->next) {
            if (same_item(c, o, key)) {
                cJSON_AddItemToArray(sorted, cJSON_DetachItemViaPointer(patch_items, c));
                break;
            }
        }
    }
    cJSON *result = cJSON_CreateArray();
    while (server_only->child || sorted->child) {
        cJSON *from = sorted;
        if (!sorted->child) {
            from = server_only;
        } else if (server_only->child) {
            int li = index_in(server, server_only->child, key), ri = index_in(server, sorted->child, key);
            if (li >= 0 && ri >= 0 && li < ri)
                from = server_only;
        }
        cJSON_AddItemToArray(result, cJSON_DetachItemViaPointer(from, from->child));
    }
    cJSON_Delete(sorted);
    cJSON_Delete(server_only);
    cJSON_Delete(patch_items);
    return result;
}

static int merge_map(cJSON *original, const cJSON *patch, const char *schema, int top, struct smp *s);

/* mergeSlice: the live list `original` (an array, consumed) with the
 * patch's; NULL after an error. */
static cJSON *merge_list(cJSON *original, const cJSON *patch, const char *key, const char *item_schema,
                         int delete_list, struct smp *s)
{
    if (!original->child && !patch->child)
        return original;
    int type = go_type(original->child ? original->child : patch->child);
    const cJSON *c;
    int mixed = 0;
    cJSON_ArrayForEach(c, original)
    {
        mixed |= go_type(c) != type;
    }
    cJSON_ArrayForEach(c, patch)
    {
        mixed |= go_type(c) != type;
    }
    if (mixed) {
        cJSON *both = cJSON_CreateArray();
        cJSON_AddItemReferenceToArray(both, original);
        cJSON_AddItemReferenceToArray(both, (cJSON *)patch);
        smp_fail(s, 500, "list element types are not identical: ", both, "");
        cJSON_Delete(both);
        cJSON_Delete(original);
        return NULL;
    }
    if (type != 5) {
        /* Scalars: a set union, or the deletions of $deleteFromPrimitiveList. */
        cJSON *merged = cJSON_CreateArray();
        cJSON_ArrayForEach(c, original)
        {
            if (delete_list ? index_in(patch, c, NULL) < 0 : index_in(merged, c, NULL) < 0)
                cJSON_AddItemToArray(merged, cJSON_Duplicate(c, 1));
        }
        if (delete_list) {
            cJSON_Delete(original);
            return merged;
        }
        cJSON_ArrayForEach(c, patch)
        {
            if (index_in(merged, c, NULL) < 0)
                cJSON_AddItemToArray(merged, cJSON_Duplicate(c, 1));
        }
        cJSON *result = normalize_order(merged, patch, original, NULL);
        cJSON_Delete(original);
        return result;
    }
    if (!key) {
        smp_fail(s, 500, "cannot merge lists without merge key for ", NULL, item_schema ? item_schema : "");
        cJSON_Delete(original);
        return NULL;
    }
    /* Maps by their merge key: first the elements with directives
     * (mergeSliceWithSpecialElements), then the others. */
    cJSON *plain = cJSON_CreateArray();
    int replace = 0;
    cJSON_ArrayForEach(c, patch)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "$patch");
        const cJSON *kv = cJSON_GetObjectItemCaseSensitive(c, key);
        if (!d) {
            cJSON_AddItemReferenceToArray(plain, (cJSON *)c);
        } else if (cJSON_IsString(d) && strcmp(d->valuestring, "delete") == 0) {
            if (!kv) {
                no_merge_key(s, c, key);
                break;
            }
            for (cJSON *o = original->child, *next; o; o = next) {
                next = o->next;
                if (same_item(o, c, key))
                    cJSON_Delete(cJSON_DetachItemViaPointer(original, o));
            }
        } else if (cJSON_IsString(d) && strcmp(d->valuestring, "replace") == 0) {
            replace = 1;
        } else if (cJSON_IsString(d) && strcmp(d->valuestring, "merge") == 0) {
            smp_fail(s, 500, "merging lists cannot yet be specified in the patch", NULL, "");
            break;
        } else {
            struct buf t = {0};
            buf_puts(&t, "unknown patch type: ");
            go_value(&t, d);
            buf_puts(&t, " in map: ");
            smp_fail(s, 500, t.data, c, "");
            buf_free(&t);
            break;
        }
    }
    if (s->code) {
        cJSON_Delete(plain);
        cJSON_Delete(original);
        return NULL;
    }
    if (replace) {
        cJSON_Delete(original);
        original = cJSON_CreateArray();
        cJSON_ArrayForEach(c, plain)
        {
            cJSON_AddItemToArray(original, clean_copy(c));
        }
        cJSON_Delete(plain);
        plain = cJSON_CreateArray();
    }
    cJSON *merged = cJSON_Duplicate(original, 1);
    cJSON_ArrayForEach(c, plain)
    {
        if (!cJSON_GetObjectItemCaseSensitive(c, key)) {
            no_merge_key(s, c, key);
            break;
        }
        cJSON *match = NULL, *o;
        cJSON_ArrayForEach(o, merged)
        {
            if (!match && same_item(o, c, key))
                match = o;
        }
        if (match) {
            if (merge_map(match, c, item_schema, 0, s) != 0)
                break;
        } else {
            cJSON_AddItemToArray(merged, clean_copy(c));
        }
    }
    cJSON *result = s->code ? NULL : normalize_order(merged, plain, original, key);
    if (s->code)
        cJSON_Delete(merged);
    cJSON_Delete(plain);
    cJSON_Delete(original);
    return result;
}

/* Merges the patch's list under key into obj's (or takes it), as the field
 * f says; order: a $setElementOrder list or NULL. */
static int merge_list_field(cJSON *obj, const char *key, const cJSON *patch_list, const cJSON *order,
                            const struct openapi_patch_field *f, int delete_list, struct smp *s)
{
    cJSON *live = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(live))
        live = NULL;
    if (!merges(f)) {
        /* mergeSliceHandler: a list without the merge strategy is the patch's. */
        if (patch_list)
            replace_member(obj, key, clean_copy(patch_list));
        return 0;
    }
    cJSON *server = live ? cJSON_Duplicate(live, 1) : cJSON_CreateArray();
    cJSON *merged;
    if (live && patch_list)
        merged = merge_list(cJSON_Duplicate(live, 1), patch_list, f->merge_key, f->type, delete_list, s);
    else if (patch_list)
        merged = clean_copy(patch_list);
    else
        merged = cJSON_Duplicate(live, 1);
    if (merged && order)
        merged = normalize_order(merged, order, server, f->merge_key);
    cJSON_Delete(server);
    if (!merged)
        return -1;
    replace_member(obj, key, merged);
    return 0;
}

/* mergeMap: patch into original, in place; schema is openapi.txt's for
 * original (NULL: none known, every list is replaced). 0, or -1 with s set. */
static int merge_map(cJSON *original, const cJSON *patch, const char *schema, int top, struct smp *s)
{
    const cJSON *directive = cJSON_GetObjectItemCaseSensitive(patch, "$patch");
    if (directive) {
        int replace = cJSON_IsString(directive) && strcmp(directive->valuestring, "replace") == 0;
        int delete = cJSON_IsString(directive) && strcmp(directive->valuestring, "delete") == 0;
        if (!replace && !delete) {
            struct buf t = {0};
            buf_puts(&t, "unknown patch type: ");
            go_value(&t, directive);
            buf_puts(&t, " in map: ");
            smp_fail(s, 500, t.data, patch, "");
            buf_free(&t);
            return -1;
        }
        /* handleDirectiveInMergeMap: the patch itself, or an empty map. */
        while (original->child)
            cJSON_Delete(cJSON_DetachItemViaPointer(original, original->child));
        if (replace) {
            cJSON *copy = clean_copy(patch);
            while (copy->child)
                cJSON_AddItemToObject(original, copy->child->string, cJSON_DetachItemViaPointer(copy, copy->child));
            cJSON_Delete(copy);
        }
        return 0;
    }
    const cJSON *retain = cJSON_GetObjectItemCaseSensitive(patch, "$retainKeys");
    if (retain) {
        /* applyRetainKeysDirective: every field the patch sets must be
         * listed; the live fields not listed go (null lists none). */
        const cJSON *c;
        if (!cJSON_IsArray(retain) && !cJSON_IsNull(retain))
            return smp_fail(s, 400, "invalid patch format of retainKeys", NULL, "");
        cJSON_ArrayForEach(c, patch)
        {
            if (cJSON_IsNull(c) || strcmp(c->string, "$retainKeys") == 0 ||
                strncmp(c->string, "$deleteFromPrimitiveList/", 25) == 0 ||
                strncmp(c->string, "$setElementOrder/", 17) == 0)
                continue;
            cJSON *name = cJSON_CreateString(c->string);
            int listed = index_in(retain, name, NULL) >= 0;
            cJSON_Delete(name);
            if (!listed)
                return smp_fail(s, 400, "invalid patch format of retainKeys", NULL, "");
        }
        for (cJSON *o = original->child, *next; o; o = next) {
            next = o->next;
            cJSON *name = cJSON_CreateString(o->string);
            if (index_in(retain, name, NULL) < 0)
                cJSON_Delete(cJSON_DetachItemViaPointer(original, o));
            cJSON_Delete(name);
        }
    }
    const cJSON *p;
    /* mergePatchIntoOriginal: each $setElementOrder list with its list. */
    cJSON_ArrayForEach(p, patch)
    {
        if (strncmp(p->string, "$setElementOrder/", 17) != 0)
            continue;
        const char *key = p->string + 17;
        if (!cJSON_IsArray(p))
            return smp_fail(s, 400, "invalid patch format of setElementOrder list", NULL, "");
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(patch, key);
        if (list && !cJSON_IsArray(list))
            continue; /* not a list: merged with the other fields */
        if (!list && !cJSON_GetObjectItemCaseSensitive(original, key))
            continue;
        if (merge_list_field(original, key, list, p, patch_field(schema, key, top), 0, s) != 0)
            return -1;
    }
    cJSON_ArrayForEach(p, patch)
    {
        const char *key = p->string;
        int delete_list = 0;
        if (strncmp(key, "$deleteFromPrimitiveList/", 25) == 0) {
            key += 25;
            delete_list = 1;
            if (!cJSON_IsArray(p))
                return smp_fail(s, 400, "invalid patch format of primitive list", NULL, "");
        } else if (key[0] == '$') {
            continue;
        } else {
            char order[512];
            snprintf(order, sizeof order, "$setElementOrder/%s", key);
            const cJSON *ordered = cJSON_GetObjectItemCaseSensitive(patch, order);
            if (cJSON_IsArray(ordered) && cJSON_IsArray(p))
                continue; /* merged above */
        }
        cJSON *live = cJSON_GetObjectItemCaseSensitive(original, key);
        const struct openapi_patch_field *f = patch_field(schema, key, top);
        if (cJSON_IsNull(p)) {
            cJSON_DeleteItemFromObjectCaseSensitive(original, key);
        } else if (!live || go_type(live) != go_type(p)) {
            /* New, or of another type: the patch's value. */
            if (!delete_list)
                replace_member(original, key, clean_copy(p));
        } else if (cJSON_IsObject(p)) {
            if (merge_map(live, p, f ? f->type : NULL, 0, s) != 0)
                return -1;
        } else if (cJSON_IsArray(p)) {
            if (merge_list_field(original, key, p, NULL, f, delete_list, s) != 0)
                return -1;
        } else if (!delete_list) {
            replace_member(original, key, cJSON_Duplicate(p, 1));
        }
    }
    return 0;
}

int strategic_merge_patch(cJSON *target, const cJSON *patch, const char *schema, char *err, size_t err_size)
{
    struct smp s = {err, err_size, 0};
    if (err_size)
        err[0] = '\0';
    merge_map(target, patch, schema, 1, &s);
    return s.code;
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
