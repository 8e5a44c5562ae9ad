/* The ways a client changes an object: JSON merge patch (RFC 7386),
 * strategic merge patch (what kubectl rollout restart sends), and
 * server-side apply with field managers (kubectl apply --server-side). */
#ifndef MESHSIM_PATCH_H
#define MESHSIM_PATCH_H

#include <cjson/cJSON.h>

#include "buf.h"

/* Applies patch to target in place. */
void merge_patch(cJSON *target, const cJSON *patch);
/* As merge_patch, but lists of objects with a merge key ("name", or
 * "containerPort" for ports) merge element by element, and `$patch:
 * delete|replace` directives are honoured, as for built-in types. */
void strategic_merge_patch(cJSON *target, const cJSON *patch);

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
