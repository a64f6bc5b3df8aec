/*
 * routes.h - the one route table: every endpoint with its method, path, handler, body kind,
 * where it runs (heavy: the worker pool; light: the connection thread), who may call it,
 * whether it reads the data root, whether the admin port serves it, and the embedded file
 * it answers. Everything else that depends on a route - routing, the Allow header, the
 * admin port's list, the static files, the endpoint table on GET / - is read from here.
 * Static data: thread-safe.
 */
#ifndef TESSERA_SERVER_ROUTES_H
#define TESSERA_SERVER_ROUTES_H

#include "route.h"

#include <stdbool.h>
#include <stddef.h>

extern const struct route routes[];
extern const size_t routes_count;

/* The row for (method, path), or NULL. *path_known tells whether any row has this path. */
const struct route *routes_find(const char *method, const char *path, bool *path_known);

/* Write the Allow header value for path ("GET, HEAD, OPTIONS") into buf. */
void routes_allow(const char *path, char *buf, size_t size);

/* True when a row with this path is marked .admin (served on --admin-port). */
bool routes_admin_path(const char *path);

/* The admin port's paths for a message, in table order: "/healthz, /readyz and /metrics".
 * Cut at size (always NUL-terminated). */
void routes_admin_list(char *buf, size_t size);

#endif
