/*
 * http_conn.h - connection policy: what Tessera keeps per connection, who may connect
 * (--max-connections, enforced at accept), how long a new connection may take to send its
 * headers (--header-timeout), and the admin port's own connection budget.
 *
 * One struct http_conn lives from accept to close (libmicrohttpd's connection
 * notification), as the connection's socket context. The callbacks below are handed to
 * MHD_start_daemon by http.c; all are called on connection threads and are thread-safe.
 */
#ifndef TESSERA_SERVER_HTTP_CONN_H
#define TESSERA_SERVER_HTTP_CONN_H

#include "tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct server;

/* libmicrohttpd's connection limit is this much above --max-connections (see
 * http_conn_accept). */
#define HTTP_CONN_ACCEPT_SLACK 64u
/* Connections the --admin-port daemon holds at most (probes and scrapers). */
#define HTTP_CONN_ADMIN_MAX 64u

struct http_conn {
    /* Written by http_conn_uri_seen from the raw request target, before libmicrohttpd
     * decodes it, for the framing checks of the request's first call. */
    bool target_not_origin_form; /* does not start with '/' (absolute form, '*') */
    bool target_has_nul;         /* "%00" anywhere: the decoded path would end there */
    size_t target_len;           /* its length up to the first raw NUL (http_fields.c) */
    char remote[64];             /* the client's address, for the access log */
    bool over_limit;             /* accepted past --max-connections by concurrent accepts: close */
    bool admin;                  /* on --admin-port */
    struct tls_peer_cache peer;  /* the client certificate verified on it (tls.h) */
};

/* The state of conn (NULL when it could not be allocated). */
struct http_conn *http_conn_of(struct MHD_Connection *conn);

/* MHD_AcceptPolicyCallback for the main port (cls: the struct server): past
 * --max-connections a new connection is closed at once. */
enum MHD_Result http_conn_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* MHD_NotifyConnectionCallback for the main port (cls: the struct server): creates and
 * frees the connection's state, counts it in the open-connection gauge, and gives a new
 * connection --header-timeout until its first request's headers are complete. */
void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);

/* The same for --admin-port, whose connections are not counted against --max-connections
 * (libmicrohttpd bounds them at HTTP_CONN_ADMIN_MAX). */
void http_conn_notify_admin(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe);

/* MHD_OPTION_URI_LOG_CALLBACK: records what the raw target looks like (see struct
 * http_conn) and returns NULL (no per-request context yet). */
void *http_conn_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn);

/* Called at the first access-handler call of each request: restores --idle-timeout on a
 * connection that had --header-timeout. Returns false when the connection is over the
 * limit and must be closed without an answer. */
bool http_conn_request_started(const struct server *srv, struct MHD_Connection *conn);

#endif
