/*
 * handler.h - the handler interface: what a handler receives (its context and the request)
 * and the function type every endpoint has.
 *
 * A handler is a plain function from (context, request) to a response: no sockets, no
 * libmicrohttpd. The server fills struct request from a connection; tests and fuzzers fill
 * it directly. Everything a request points at is owned by the caller and lives until the
 * handler returns. Plain types only, so problem.c can read a request's path and id without
 * depending on the request helpers (request.h), which depend on it.
 */
#ifndef TESSERA_HANDLERS_HANDLER_H
#define TESSERA_HANDLERS_HANDLER_H

#include "response.h"

#include <stddef.h>
#include <stdint.h>

struct cache;
struct limits;
struct route;
struct server;

/* What the server gives a handler for one request; the handler does not change it. The server
 * builds it per request: root_fd is the data root opened by path for this request (so a
 * root that is removed or replaced is noticed, and one that comes back is served, without a
 * restart) and closed after the handler returns. Tests and fuzzers fill it directly. */
struct handler_context {
    int root_fd;           /* the data root (O_DIRECTORY | O_PATH); -1 for routes not reading it */
    const char *root_path; /* for display only; never used to open anything */
    const struct limits *limits;
    struct cache *cache; /* classification metadata cache; NULL = off */
    /* The serving process (server/server.h) and the row of the route table that matched
     * (server/route.h), both opaque to handlers: the service's own pages read draining, the
     * data root's state, the table and a route's embedded file through them. NULL when a
     * handler is called outside the server. */
    const struct server *server;
    const struct route *route;
};

struct request_param {
    const char *key;   /* percent-decoded by the server, exactly once */
    const char *value; /* "" for a key without '=' */
};

struct request {
    const char *method;
    const char *path; /* the route path, e.g. "/scan" */
    const struct request_param *params;
    size_t n_params;
    const char *content_type;  /* NULL when absent */
    const char *accept;        /* NULL when absent */
    const char *if_none_match; /* NULL when absent */
    const unsigned char *body;
    size_t body_len;
    const char *request_id;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
};

typedef void (*handler_fn)(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);

#endif
