/* The ways a client changes an object: JSON merge patch (RFC 7386),
 * strategic merge patch (what kubectl rollout restart sends), and
 * server-side apply with field managers (kubectl apply --server-side). */
#ifndef MESHSIM_PATCH_H
#define MESHSIM_PATCH_H

#include <cjson/cJSON.h>

#include "buf.h"

/* Applies patch to target in place. */
void merge_patch(cJSON *target, const cJSON *patch);
/* A strategic merge patch of target, in place, as the API server applies
 * one to a built-in object: lists merge by the merge keys of the kind's
 * schema (strategic_schema), with the $patch, $retainKeys,
 * $setElementOrder and $deleteFromPrimitiveList directives; other lists
 * are replaced. schema NULL: only metadata's lists merge. 0, or the HTTP
 * status of the API server's refusal (400, 500) with its message in err;
 * target is then partly patched: use a copy. */
int strategic_merge_patch(cJSON *target, const cJSON *patch, const char *schema, char *err, size_t err_size);
/* openapi.txt's schema of a kind ("Deployment" for apps Deployment), or
 * NULL when it has none. */
const char *strategic_schema(const char *group, const char *kind);

/* JSON Patch (RFC 6902) ops applied to target in order; -1 with a message
 * when an operation fails (target is then partly patched: use a copy). */
int json_patch(cJSON *target, const cJSON *ops, char *err, size_t err_size);

/* Server-side apply of `applied` by `manager` onto `live` (NULL: create).
 * Returns the new object (live is consumed), or NULL with *conflicts set
 * to a buf listing conflicting fields (".spec.x") when another manager owns
 * a field with a different value and force is off. api_version is the
 * object's, for the managedFields entry. */
cJSON *server_side_apply(cJSON *live, const cJSON *applied, const char *manager, int force,
                         const char *api_version, struct buf *conflicts, char *first_conflict_owner,
                         size_t owner_size);

#endif
