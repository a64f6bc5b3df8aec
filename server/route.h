/*
 * route.h - one row of the route table, and the embedded file a row may serve.
 *
 * The type only, without the table: the pages list the table on GET / and serve its assets,
 * so they read rows; the table (server/routes.c) names the pages' handlers, so it includes
 * the pages. With the row type here, neither includes the other. A row is static data,
 * written with named fields; a field left out is false / NULL / ROUTE_BODY_NONE.
 */
#ifndef TESSERA_SERVER_ROUTE_H
#define TESSERA_SERVER_ROUTE_H

#include "handler.h"

#include <stdbool.h>
#include <stddef.h>

enum route_body {
    ROUTE_BODY_NONE = 0, /* no body accepted: any Content-Length > 0 is 413 */
    ROUTE_BODY_JSON,     /* JSON only: bounded by --max-json-body */
    ROUTE_BODY_UPLOAD /* JSON (--max-json-body) or binary / TIFF / multipart (--max-binary-body) */
};

/* A file embedded in the binary at build time (CMakeLists.txt, server/embed.cmake). */
struct route_asset {
    const char *content_type; /* exact: every answer carries X-Content-Type-Options: nosniff */
    const unsigned char *data;
    const size_t *len;
};

struct route {
    const char *method; /* "GET" routes also answer HEAD */
    const char *path;
    handler_fn handler;
    enum route_body body;
    bool heavy;    /* run on the worker pool (suspend/resume) */
    bool public;   /* reachable without the bearer token */
    bool root;     /* reads the data root: opened for each request, 503 when unavailable */
    bool admin;    /* also served on --admin-port (light routes only: that daemon has no pool) */
    bool unlisted; /* left out of the endpoint table on GET / (the pages' own files) */
    const struct route_asset *asset; /* the embedded file pages_asset answers; NULL for none */
    const char *summary;
};

#endif
