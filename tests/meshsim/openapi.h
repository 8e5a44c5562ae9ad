/* The OpenAPI v3 schemas meshsim serves, generated at build time from
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

#endif
