/* meta.k8s.io/v1 Table answers: what `kubectl get` asks for to print its
 * columns (READY, STATUS, RESTARTS, AGE for pods), in lists and watches. */
#ifndef MESHSIM_TABLE_H
#define MESHSIM_TABLE_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "server.h"
#include "store.h"

/* The client's Accept asks for a Table (as=Table;...;g=meta.k8s.io). */
int table_wanted(const struct request *req);
/* Writes {"kind":"Table",...,"metadata":{"resourceVersion":...  — the caller
 * may add more metadata, then calls table_columns. */
void table_open(struct buf *b, uint64_t rv);
/* Closes metadata, writes columnDefinitions and opens "rows":[ */
void table_columns(struct buf *b, const struct rtype *t);
/* One row; include is "None", "Metadata" (default) or "Object". */
void table_row(struct buf *b, const struct rtype *t, cJSON *obj, const char *include);
/* Closes rows and the Table. */
void table_close(struct buf *b);

#endif
