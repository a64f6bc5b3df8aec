/*
 * http_drain.c - graceful drain and stop (http_drain_and_stop of http.h).
 *
 * SIGTERM must not reset a connection or lose a request: the listening socket is quiesced,
 * connections still in its backlog are adopted and served, in-flight requests are awaited
 * up to --drain-timeout, and only then are the daemons stopped. While draining, /readyz
 * answers 503 (a load balancer stops sending) and heavy requests that arrive on kept-alive
 * connections are refused with a retryable 503 (http.c), since stopping libmicrohttpd with
 * a suspended connection aborts.
 */
#include "http.h"
#include "auth.h"
#include "pool.h"
#include "tls.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

/* Poll interval while waiting for in-flight requests. */
#define HTTP_DRAIN_POLL_NS (10 * 1000 * 1000)

/* Connections the kernel completed before the quiesce still wait in the listen backlog;
 * closing the socket would reset them. They are handed to the daemon instead and served
 * like any connection during the drain (light routes answered, heavy ones 503). */
static void http_drain_adopt_backlog(struct server *srv, int listen_fd)
{
    int flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(listen_fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN: the backlog is empty */
        }
        MHD_add_connection(srv->daemon, fd, (struct sockaddr *)&addr, len); /* closes on error */
    }
}

long http_drain_and_stop(struct server *srv)
{
    atomic_store(&srv->draining, true);
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET) {
        http_drain_adopt_backlog(srv, listen_fd);
        close(listen_fd);
    }
    int64_t deadline = clock_now_ns() + (int64_t)srv->cfg->drain_timeout_s * CLOCK_NS_PER_S;
    while (atomic_load(&srv->active) > 0 && clock_now_ns() < deadline)
        clock_sleep_ns(HTTP_DRAIN_POLL_NS);
    long left = atomic_load(&srv->active);
    if (left > 0 && pool_pending(srv->pool) > 0)
        return left; /* workers still hold suspended connections: stopping MHD is unsafe */
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    if (srv->admin != NULL) { /* answered /readyz 503 during the drain */
        MHD_stop_daemon(srv->admin);
        srv->admin = NULL;
    }
    pool_free(srv->pool);
    srv->pool = NULL;
    tls_close(srv->tls);
    srv->tls = NULL;
    auth_close(srv->auth);
    srv->auth = NULL;
    return left;
}
