/* The OpenAPI v3 schemas meshsim serves, and their patch metadata for
 * strategic merge patches, generated at build time from
 * tests/meshsim/openapi.txt by tests/meshsim/openapi_gen.py. */
#ifndef MESHSIM_OPENAPI_H
#define MESHSIM_OPENAPI_H

/* One group version's path ("api/v1", "apis/apps/v1") and the JSON object
 * of its components.schemas. */
struct openapi_gv_schemas {
    const char *gv;
    const char *schemas;
};

/* Ends with {NULL, NULL}. */
extern const struct openapi_gv_schemas OPENAPI_SCHEMAS[];

/* A kind's schema, by the last part of its name ("Deployment"). */
struct openapi_kind {
    const char *group; /* "" for core */
    const char *kind;
    const char *schema;
};

/* Ends with {NULL, NULL, NULL}. */
extern const struct openapi_kind OPENAPI_KINDS[];

/* A field of a schema that a strategic merge patch looks at: one whose
 * value (or list item) is another schema, or one with a patch strategy
 * (x-kubernetes-patch-strategy and -merge-key). */
struct openapi_patch_field {
    const char *schema; /* "PodSpec" */
    const char *field;  /* "containers" */
    const char *type;   /* the value's or item's schema ("Container"), or NULL */
    const char *strategy; /* "merge", "merge,retainKeys", "retainKeys" or NULL */
    const char *merge_key; /* or NULL */
};

/* Ends with a NULL schema. */
extern const struct openapi_patch_field OPENAPI_PATCH_FIELDS[];

#endif
