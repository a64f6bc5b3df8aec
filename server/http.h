/*
 * http.h - the libmicrohttpd plumbing, seen from outside: start the daemons, hand them a
 * connection, drain and stop. Behind it, one job per file: http.c (daemons, the access and
 * completion callbacks, dispatch), http_conn.c (connection limits, header timeout, the
 * admin port's connections), http_admit.c (a request's first call: identity, routing,
 * token, parameters), http_fields.c and http_framing.c (header-field and framing checks),
 * http_body.c (bodies and the --max-body-memory budget), http_exchange.c (per-request
 * state, the exit of every answer) and http_drain.c (graceful drain).
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

/* Re-read --token-file and --tls-cert / --tls-key (SIGHUP). Each part that fails keeps
 * what was in use and logs why; connections are not touched. Call from one thread. */
void http_reload(struct server *srv);

/* Stop accepting, let in-flight requests finish (up to --drain-timeout), stop. Returns the
 * number of requests abandoned at the deadline (0 on a clean drain). */
long http_drain_and_stop(struct server *srv);

#endif
