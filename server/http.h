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

#include "server.h"

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/* Start serving. srv->cfg (and srv->cache, srv->no_listen) must be set. Returns false with a
 * message. */
bool http_start(struct server *srv, char *msg, size_t msg_size);

/* Hand an already connected socket to the daemon (it takes ownership of fd), as if it had
 * been accepted from addr. For a server started with no_listen (the whole-server fuzzer). */
bool http_add_connection(struct server *srv, int fd, const struct sockaddr *addr,
                         unsigned addr_len);

/* Stop accepting, let in-flight requests finish (up to --drain-timeout), stop. Returns the
 * number of requests abandoned at the deadline (0 on a clean drain). */
long http_drain_and_stop(struct server *srv);

#endif
