/*
 * http_conn.c - connection policy: per-connection state, --max-connections at accept,
 * --header-timeout, and the admin port's connections; see http_conn.h.
 *
 * The one design decision: the connection limit is enforced by our accept callback, not by
 * libmicrohttpd's own limit. At its limit libmicrohttpd stops accepting, and the excess
 * clients hang in the listen backlog; its limit is set HTTP_CONN_ACCEPT_SLACK higher so
 * that our refusal - an immediate close, counted in tessera_connections_refused_total -
 * happens first.
 */
#include "http_conn.h"
#include "metrics.h"
#include "server.h"

#include "alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The state of a new connection, with the client's address (NULL when out of memory). */
static struct http_conn *http_conn_new(struct MHD_Connection *conn)
{
    struct http_conn *hc = alloc_zeroed(1, sizeof *hc);
    if (hc != NULL) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa != NULL && sa->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
            inet_ntop(AF_INET, &in->sin_addr, hc->remote, sizeof hc->remote);
        } else if (sa != NULL && sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
            inet_ntop(AF_INET6, &in6->sin6_addr, hc->remote, sizeof hc->remote);
        }
    }
    return hc;
}

enum MHD_Result http_conn_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    const struct server *srv = cls;
    if (metrics_connections_open() >= (long)srv->cfg->max_connections) {
        metrics_count(METRICS_CONN_REFUSED);
        return MHD_NO;
    }
    return MHD_YES;
}

void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *hc = http_conn_new(conn);
        *socket_context = hc;
        /* Two connection threads can both pass http_conn_accept for the last free slot: the
         * later one is closed within a second, or at its first request. */
        const struct server *srv = cls;
        if (metrics_connections_add(1) > (long)srv->cfg->max_connections && hc != NULL) {
            hc->over_limit = true;
            metrics_count(METRICS_CONN_REFUSED);
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
        } else if (srv->cfg->header_timeout_s < srv->cfg->idle_timeout_s) {
            /* Until its first request's headers are complete a connection gets the shorter
             * --header-timeout (http_conn_request_started restores --idle-timeout). It
             * bounds clients that connect and send nothing, or part of a request and leave:
             * libmicrohttpd (epoll) misses a FIN that arrives together with an unfinished
             * request. */
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                      srv->cfg->header_timeout_s);
        }
    } else {
        free(*socket_context);
        *socket_context = NULL;
        metrics_connections_add(-1);
    }
}

void http_conn_notify_admin(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *hc = http_conn_new(conn);
        if (hc != NULL)
            hc->admin = true;
        *socket_context = hc;
    } else {
        free(*socket_context);
        *socket_context = NULL;
    }
}

void *http_conn_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    struct http_conn *hc = http_conn_of(conn);
    if (hc != NULL) {
        hc->target_not_origin_form = uri == NULL || uri[0] != '/';
        hc->target_has_nul = uri != NULL && strstr(uri, "%00") != NULL;
        hc->target_len = uri != NULL ? strlen(uri) : 0;
    }
    return NULL;
}

bool http_conn_request_started(const struct server *srv, struct MHD_Connection *conn)
{
    const struct http_conn *hc = http_conn_of(conn);
    if (hc != NULL && hc->over_limit)
        return false; /* see http_conn_notify */
    if (srv->cfg->header_timeout_s < srv->cfg->idle_timeout_s)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->cfg->idle_timeout_s);
    return true;
}
