/* What a Prometheus scraping the mesh directly sees: each injected pod's
 * port 15090 on a loopback address of its own (as its pod IP would be),
 * and a file_sd target list naming them, rewritten as pods come and go. */
#ifndef MESHSIM_PROM_TARGETS_H
#define MESHSIM_PROM_TARGETS_H

#include <stdint.h>

#include "server.h"

/* path: the file_sd JSON file to keep up to date. Listeners open on srv. */
void prom_targets_init(struct server *srv, const char *path);
/* Opens and closes listeners and rewrites the file when pods changed. */
void prom_targets_tick(int64_t now);
/* Closes every listener; before server_free. */
void prom_targets_free(void);

#endif
