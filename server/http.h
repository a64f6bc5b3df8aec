/*
 * http.h - the libmicrohttpd plumbing: daemon setup, framing checks, per-request state,
 * routing, auth, CORS, bodies, the worker hand-off and graceful drain.
 *
 * Threading: MHD runs --io-threads connection threads (epoll). Light routes are answered
 * on them; heavy routes are suspended and handed to the worker pool, then resumed with the
 * answer, so a slow /overlap never delays /healthz.
 */
#ifndef TESSERA_SERVER_HTTP_H
#define TESSERA_SERVER_HTTP_H

#include "config.h"
#include "request.h"

#include <stdatomic.h>
#include <stdbool.h>

struct MHD_Daemon;
struct sockaddr;
struct pool;

struct server {
    const struct config *cfg;
    struct handler_context hctx;
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *admin; /* --admin-port: /healthz, /readyz, /metrics only; or NULL */
    struct pool *pool;
    atomic_bool draining;
    atomic_long active; /* requests between first callback and completion */
    unsigned port;      /* the bound port (useful with --port 0) */
    bool no_listen;     /* no listening socket: connections come from http_add_connection */
};

/* Open the data root (O_PATH; the caller closes it) and check that it can be listed and
 * searched. -1 with the reason in why when it is gone or unreadable. Thread-safe. */
int http_root_open(const struct server *srv, char *why, size_t why_size);

/* Start serving. srv->cfg and srv->hctx must be set. Returns false with a message. */
bool http_start(struct server *srv, char *msg, size_t msg_size);

/* Hand an already connected socket to the daemon (it takes ownership of fd), as if it had
 * been accepted from addr. For a server started with no_listen (the whole-server fuzzer). */
bool http_add_connection(struct server *srv, int fd, const struct sockaddr *addr,
                         unsigned addr_len);

/* Stop accepting, let in-flight requests finish (up to --drain-timeout), stop. Returns the
 * number of requests abandoned at the deadline (0 on a clean drain). */
long http_drain_and_stop(struct server *srv);

#endif
