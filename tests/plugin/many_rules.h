/* A configuration of one policy with n abort rules on path prefixes no
 * request uses (/never-0/, /never-1/, ...): what the configuration cost
 * test and the configuration benchmark parse. The caller frees it. */
#ifndef HFI_TESTS_MANY_RULES_H
#define HFI_TESTS_MANY_RULES_H

#include <stdio.h>
#include <stdlib.h>

static char *many_prefix_rules(size_t n)
{
    static const char head[] = "{\"policies\":[{\"metadata\":{\"name\":\"many\"},\"spec\":{\"rules\":[";
    size_t size = sizeof head + n * 128 + 16, len = 0;
    char *s = malloc(size);
    if (!s)
        exit(2);
    len += (size_t)snprintf(s, size, "%s", head);
    for (size_t k = 0; k < n; k++)
        len += (size_t)snprintf(s + len, size - len,
                                "%s{\"match\":{\"path\":{\"prefix\":\"/never-%zu/\"}},"
                                "\"fault\":{\"abort\":{\"httpStatus\":503}}}",
                                k ? "," : "", k);
    snprintf(s + len, size - len, "]}}]}");
    return s;
}

#endif
