/*
 * routes.h - the one route table: method, path, handler, body kind, and whether the work is
 * heavy (runs on the worker pool) or light (answered on the connection thread).
 */
#ifndef TESSERA_SERVER_ROUTES_H
#define TESSERA_SERVER_ROUTES_H

#include "request.h"

#include <stdbool.h>
#include <stddef.h>

enum route_body {
    ROUTE_BODY_NONE,  /* no body accepted: any Content-Length > 0 is 413 */
    ROUTE_BODY_JSON,  /* JSON only: bounded by --max-json-body */
    ROUTE_BODY_UPLOAD /* JSON (--max-json-body) or binary / TIFF / multipart (--max-binary-body) */
};

struct route {
    const char *method; /* "GET" routes also answer HEAD */
    const char *path;
    handler_fn handler;
    enum route_body body;
    bool heavy;  /* run on the worker pool (suspend/resume) */
    bool public; /* reachable without the bearer token */
    bool root;   /* reads the data root: opened for each request, 503 when unavailable */
    const char *summary;
};

extern const struct route routes[];
extern const size_t routes_count;

/* The row for (method, path), or NULL. *path_known tells whether any row has this path. */
const struct route *routes_find(const char *method, const char *path, bool *path_known);

/* Write the Allow header value for path ("GET, HEAD, OPTIONS") into buf. */
void routes_allow(const char *path, char *buf, size_t size);

#endif
