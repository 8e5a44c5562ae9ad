/* Label selectors (equality- and set-based) and the metadata field
 * selectors kubectl sends, parsed as the API server parses them. */
#ifndef MESHSIM_SELECTOR_H
#define MESHSIM_SELECTOR_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct selector;

/* NULL with a message in err on a syntax error; an empty text selects all. */
struct selector *label_selector_parse(const char *text, char *err, size_t err_size);
/* Field selectors with =, ==, != on the dotted fields listed (NULL-terminated),
 * as the API server allows per resource. */
struct selector *field_selector_parse(const char *text, const char *const *fields, char *err, size_t err_size);
int selector_matches(const struct selector *sel, cJSON *object);
void selector_free(struct selector *sel);

#endif
