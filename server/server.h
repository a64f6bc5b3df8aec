/*
 * server.h - the state of the serving process: its configuration, the classification cache,
 * the route table it serves, the libmicrohttpd daemons and the worker pool, and the
 * counters shared by every connection (draining, requests in flight, request-body memory).
 *
 * One struct server per process (main.c; the whole-server fuzzer makes its own), caller-
 * provided storage that lives until the process ends. The HTTP plumbing (http*.c) sets it up
 * and changes it; handlers see it only as handler_context.server, an opaque pointer there,
 * which the service's own pages (pages.c) read through this header. No global holds it, and
 * this module includes neither the plumbing nor the pages, so neither includes the other.
 */
#ifndef TESSERA_SERVER_SERVER_H
#define TESSERA_SERVER_SERVER_H

#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct auth;
struct cache;
struct MHD_Daemon;
struct pool;
struct route;
struct tls;

struct server {
    /* Set by the caller before http_start. */
    const struct config *cfg;
    struct cache *cache; /* classification metadata cache; NULL = off */
    bool no_listen;      /* no listening socket: connections come from http_add_connection */

    /* Set by http_start. */
    const struct route *routes; /* the route table (server/routes.c), routes_count rows */
    size_t routes_count;
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *admin; /* --admin-port (the routes marked .admin), or NULL */
    struct pool *pool;
    unsigned port;     /* the bound port (useful with --port 0) */
    struct auth *auth; /* the bearer tokens (server/auth.h) */
    struct tls *tls;   /* HTTPS on --port (server/tls.h), or NULL for plain HTTP */

    /* Shared by every connection thread and worker. */
    atomic_bool draining;
    atomic_long active;        /* requests between first callback and completion */
    atomic_size_t body_memory; /* bytes of request bodies held, all connections */
};

/* Open the data root (O_PATH | O_DIRECTORY; the caller closes it) and check that it can be
 * listed and searched. -1 with the reason in why when it is gone or unreadable. Opened by
 * path on each call, so a root that is removed, replaced or made unreadable is noticed and
 * one that comes back is used again, without a restart. Thread-safe. */
int server_root_open(const struct server *srv, char *why, size_t why_size);

/* True once SIGTERM started the drain (http_drain_and_stop). Thread-safe. */
bool server_draining(const struct server *srv);

/* True when the API routes need a bearer token (--token or --token-file holds one). */
bool server_needs_token(const struct server *srv);

#endif
