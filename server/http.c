/*
 * http.c - the libmicrohttpd 0.9.75 daemons and the life of a request on them; see http.h.
 *
 * The one design decision: a request is one struct http_exchange (http_exchange.h), made
 * on the first access-handler call and freed in the completion callback, and its path
 * through here is fixed: admission (http_admit.c: framing, route, token, body limit) before
 * any body byte is read, then the body (http_body.c), then dispatch - light routes answered
 * on the connection thread, heavy ones suspended and handed to the worker pool - and every
 * answer leaves through http_exchange_queue. Connection policy is in http_conn.c, the drain
 * in http_drain.c.
 *
 * Memory: a worker that served a large request - body, answer or parsed JSON tree of
 * HTTP_TRIM_BYTES or more, or one that ran HTTP_TRIM_NS or longer (its working memory is not
 * seen here) - gives the memory freed since back to the system (malloc_trim) once its
 * answer is on its way; a trim costs a few ms, under 2% of such a request. glibc keeps the many
 * small blocks of a freed JSON tree in its arenas otherwise: four 16 MB JSON bodies parsed at once
 * left 4.6 GB resident. What malloc_trim cannot give back is the free top of each thread arena's
 * first heap (up to 64 MiB; measured 48 MB after a 116 MB tree); with --malloc-arenas 1 there are
 * no thread arenas and all of it goes back.
 */
#include "http.h"
#include "auth.h"
#include "http_admit.h"
#include "http_body.h"
#include "http_conn.h"
#include "http_exchange.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "problem.h"
#include "request.h"
#include "routes.h"
#include "tls.h"

#include "clock.h"
#include "error.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libmicrohttpd log lines written per second at most. */
#define HTTP_LOG_PER_S 20u
/* A request that held this much (body + answer + REQUEST_JSON_NODE_BYTES per JSON value),
 * or ran this long, is followed by malloc_trim on its worker. */
#define HTTP_TRIM_BYTES ((size_t)64 << 20)
#define HTTP_TRIM_NS    (500 * CLOCK_NS_PER_MS)

/* ---------------------------------------------------------------------------------------
 * Dispatch
 * --------------------------------------------------------------------------------------- */

/* Run the route's handler on the request (on whichever thread calls this), with a context
 * built for it: the data root opened now for the routes that read it (a root that is gone
 * is a 503), closed after. */
static void http_run_handler(struct http_exchange *ex)
{
    struct server *srv = ex->srv;
    struct request req = http_exchange_request(ex);
    req.deadline_ns = ex->start_ns + (int64_t)srv->cfg->limits.request_timeout_ms * CLOCK_NS_PER_MS;
    response_cleanup(&ex->resp);
    struct handler_context ctx = {
        .root_fd = -1,
        .root_path = srv->cfg->root,
        .limits = &srv->cfg->limits,
        .cache = srv->cache,
        .server = srv,
        .route = ex->route,
    };
    char why[ERROR_DETAIL_MAX];
    size_t nodes;
    int status =
        http_body_check_json(&ex->body, srv->cfg->limits.max_json_nodes, &nodes, why, sizeof why);
    if (status != 0)
        problem_send(&ex->resp, &req, status, "%s", why);
    else if (ex->route->root && (ctx.root_fd = server_root_open(srv, why, sizeof why)) < 0)
        problem_send(&ex->resp, &req, 503, "%s", why);
    else
        ex->route->handler(&ctx, &req, &ex->resp);
    if (ctx.root_fd >= 0)
        close(ctx.root_fd);
    if (ex->resp.status < 100 || ex->resp.status > 599)
        problem_send(&ex->resp, &req, 500, "handler returned no answer");
    size_t held = http_body_len(&ex->body) + ex->resp.body_len;
    ex->large = held >= HTTP_TRIM_BYTES ||
                (status == 0 && nodes >= (HTTP_TRIM_BYTES - held) / REQUEST_JSON_NODE_BYTES) ||
                clock_now_ns() - ex->start_ns >= HTTP_TRIM_NS;
    /* The body is not needed any more; free it before the answer is sent. */
    http_body_free(&ex->body, srv);
    ex->done = true;
}

static void http_job(void *arg)
{
    struct http_exchange *ex = arg;
    http_run_handler(ex);
    bool large = ex->large;
    /* Last touch: after resume the connection thread owns ex again. */
    MHD_resume_connection(ex->conn);
    if (large)
        malloc_trim(0);
}

static enum MHD_Result http_dispatch(struct http_exchange *ex)
{
    if (!ex->route->heavy) {
        http_run_handler(ex);
        return http_exchange_queue(ex);
    }
    if (ex->late) {
        /* Stopping the daemon with a suspended connection aborts: a heavy request that
         * arrives on a kept-alive connection during the drain is refused, retryable. */
        http_exchange_problem(ex, 503,
                              "draining: the server is shutting down; retry on another replica");
        return http_exchange_queue(ex);
    }
    ex->dispatched = true;
    MHD_suspend_connection(ex->conn);
    if (!pool_submit(ex->srv->pool, http_job, ex)) {
        metrics_count(METRICS_REJECTED_BUSY);
        http_exchange_problem(ex, 503,
                              "all %u workers are busy and the queue is full; retry shortly",
                              ex->srv->cfg->workers);
        MHD_resume_connection(ex->conn);
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------------------------------
 * libmicrohttpd callbacks: access, completion, log
 * --------------------------------------------------------------------------------------- */

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    struct server *srv = cls;
    struct http_exchange *ex = *req_cls;
    if (ex == NULL) {
        if (!http_conn_request_started(srv, conn))
            return MHD_NO;
        ex = http_exchange_new(srv, conn, method, url);
        if (ex == NULL)
            return MHD_NO;
        *req_cls = ex;
        /* Count first, then look at draining (both seq_cst): either this request sees the
         * drain, or the drain sees this request and waits for it. */
        atomic_fetch_add(&srv->active, 1);
        ex->late = server_draining(srv);
        /* An early answer goes out now when a body is coming (MHD then closes the
         * connection instead of reading it); without a body it waits for the next call,
         * which keeps the connection alive. */
        if (http_admit(ex, url, method, version) && (ex->body_announced || ex->framing_bad))
            return http_exchange_queue(ex);
        return MHD_YES;
    }
    if (ex->queued) {
        *upload_data_size = 0; /* answered already: discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        ex->bytes_in += *upload_data_size;
        bool kept = ex->done || http_body_append(&ex->body, srv, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (!kept) {
            /* A chunked body over the limit: no answer can be queued mid-upload. */
            metrics_count(METRICS_BODIES_CUT);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (ex->done)
        return http_exchange_queue(ex);
    if (ex->dispatched)
        return MHD_YES;
    return http_dispatch(ex);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct server *srv = cls;
    struct http_exchange *ex = *req_cls;
    if (ex == NULL)
        return;
    *req_cls = NULL;
    double seconds = (double)(clock_now_ns() - ex->start_ns) / 1e9;
    const char *outcome = "ok";
    if (ex->body.cut)
        outcome = "body_cut";
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        outcome = ex->queued ? "client_gone" : "aborted";
        metrics_count(METRICS_CLIENT_GONE);
    }
    unsigned status = ex->queued ? ex->status : 0;
    metrics_request(ex->route_name, ex->method_name, status, seconds);
    if (srv->cfg->access_log) {
        struct log_access a = {
            .request_id = ex->request_id,
            .method = ex->method_name,
            .route = ex->route_name,
            .path = ex->path,
            .status = status,
            .bytes_in = ex->bytes_in,
            .bytes_out = ex->bytes_out,
            .duration_ms = seconds * 1e3,
            .remote = ex->remote,
            .outcome = outcome,
            .token = ex->token_name,
            .client = ex->client_dn,
        };
        log_access_line(&a);
    }
    http_exchange_free(ex);
    atomic_fetch_sub(&srv->active, 1);
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* A flood of refused or broken connections would otherwise write a line each: at most
     * HTTP_LOG_PER_S lines a second, the rest only counted (tessera_log_dropped_total). */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t second;
    static unsigned lines;
    int64_t now = clock_now_ns() / CLOCK_NS_PER_S;
    pthread_mutex_lock(&lock);
    if (now != second) {
        second = now;
        lines = 0;
    }
    bool write = lines < HTTP_LOG_PER_S;
    lines += write;
    pthread_mutex_unlock(&lock);
    if (!write) {
        metrics_count(METRICS_LOG_DROPPED);
        return;
    }
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_event("warn", msg, "\"source\":\"libmicrohttpd\"");
}

/* ---------------------------------------------------------------------------------------
 * Tokens and TLS: start, reload
 * --------------------------------------------------------------------------------------- */

static void http_stop_security(struct server *srv)
{
    tls_close(srv->tls);
    srv->tls = NULL;
    auth_close(srv->auth);
    srv->auth = NULL;
}

static bool http_start_security(struct server *srv, char *msg, size_t msg_size)
{
    struct error_info err;
    if (auth_open(srv->cfg, &srv->auth, &err) != ERROR_OK) {
        snprintf(msg, msg_size, "%s", err.detail);
        return false;
    }
    metrics_add_source(auth_metrics_source, srv->auth);
    if (srv->cfg->tls_cert[0] != '\0' && tls_open(srv->cfg, &srv->tls, &err) != ERROR_OK) {
        snprintf(msg, msg_size, "%s", err.detail);
        http_stop_security(srv);
        return false;
    }
    return true;
}

void http_reload(struct server *srv)
{
    struct error_info err;
    char extra[2 * ERROR_DETAIL_MAX + 256], esc[ERROR_DETAIL_MAX + 64];
    size_t tokens = 0;
    if (auth_reload(srv->auth, &tokens, &err) != ERROR_OK) {
        log_escape(esc, sizeof esc, err.detail);
        snprintf(extra, sizeof extra, "\"what\":\"tokens\",\"error\":\"%s\",\"tokens\":%zu", esc,
                 tokens);
        log_event("error", "reload failed; the old tokens stay in use", extra);
    } else {
        snprintf(extra, sizeof extra, "\"what\":\"tokens\",\"tokens\":%zu", tokens);
        log_event("info", "reloaded", extra);
    }
    if (srv->tls == NULL)
        return;
    char serial[80];
    long long expires;
    if (tls_reload(srv->tls, &err) != ERROR_OK) {
        log_escape(esc, sizeof esc, err.detail);
        tls_describe(srv->tls, serial, sizeof serial, &expires);
        snprintf(extra, sizeof extra, "\"what\":\"certificate\",\"error\":\"%s\",\"serial\":\"%s\"",
                 esc, serial);
        log_event("error", "reload failed; the old certificate stays in use", extra);
        return;
    }
    tls_describe(srv->tls, serial, sizeof serial, &expires);
    snprintf(extra, sizeof extra, "\"what\":\"certificate\",\"serial\":\"%s\",\"expires\":%lld",
             serial, expires);
    log_event("info", "reloaded", extra);
}

/* ---------------------------------------------------------------------------------------
 * Start
 * --------------------------------------------------------------------------------------- */
bool http_start(struct server *srv, char *msg, size_t msg_size)
{
    const struct config *cfg = srv->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    /* ITC: http_drain_and_stop hands the backlog to the daemon with MHD_add_connection. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(msg, msg_size, "--host '%s' is not an IPv4 or IPv6 address", cfg->host);
        return false;
    }

    if (srv->no_listen)
        flags |= MHD_USE_NO_LISTEN_SOCKET;

    /* Before any thread starts: threads take their malloc arena at their first allocation. */
    if (cfg->malloc_arenas > 0 && mallopt(M_ARENA_MAX, (int)cfg->malloc_arenas) != 1) {
        snprintf(msg, msg_size, "--malloc-arenas %u: mallopt(M_ARENA_MAX) refused it",
                 cfg->malloc_arenas);
        return false;
    }

    if (!http_start_security(srv, msg, msg_size))
        return false;
    struct MHD_OptionItem tls_options[TLS_MHD_OPTIONS_MAX] = {{MHD_OPTION_END, 0, NULL}};
    if (srv->tls != NULL) {
        tls_mhd_options(srv->tls, tls_options);
        flags |= MHD_USE_TLS;
    }

    srv->pool = pool_new(cfg->workers, cfg->queue);
    if (srv->pool == NULL) {
        snprintf(msg, msg_size, "cannot start %u worker threads", cfg->workers);
        http_stop_security(srv);
        return false;
    }
    metrics_add_source(pool_metrics, srv->pool);
    srv->routes = routes;
    srv->routes_count = routes_count;

    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, http_conn_accept, srv, http_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->io_threads, MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections + HTTP_CONN_ACCEPT_SLACK, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, MHD_OPTION_STRICT_FOR_CLIENT,
        (int)cfg->strict_http, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, srv, MHD_OPTION_URI_LOG_CALLBACK,
        http_conn_uri_seen, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_ARRAY,
        tls_options, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(msg, msg_size, "cannot listen on %s:%u (in use, or not permitted)", cfg->host,
                 cfg->port);
        pool_free(srv->pool);
        srv->pool = NULL;
        http_stop_security(srv);
        return false;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;

    if (cfg->admin_port != 0 && !srv->no_listen) {
        /* The .admin routes only (all light): no suspend/resume, no worker pool, one
         * thread. */
        unsigned admin_flags = (flags & MHD_USE_IPv6) | MHD_USE_INTERNAL_POLLING_THREAD |
                               MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (in4->sin_family == AF_INET)
            in4->sin_port = htons((uint16_t)cfg->admin_port);
        else
            in6->sin6_port = htons((uint16_t)cfg->admin_port);
        srv->admin = MHD_start_daemon(
            admin_flags, (uint16_t)cfg->admin_port, NULL, NULL, http_access, srv,
            MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONN_ADMIN_MAX,
            MHD_OPTION_CONNECTION_TIMEOUT, cfg->header_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, MHD_OPTION_STRICT_FOR_CLIENT,
            (int)cfg->strict_http, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
            MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify_admin, srv, MHD_OPTION_URI_LOG_CALLBACK,
            http_conn_uri_seen, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
        if (srv->admin == NULL) {
            snprintf(msg, msg_size, "cannot listen on %s:%u (--admin-port; in use?)", cfg->host,
                     cfg->admin_port);
            MHD_stop_daemon(srv->daemon);
            srv->daemon = NULL;
            pool_free(srv->pool);
            srv->pool = NULL;
            http_stop_security(srv);
            return false;
        }
    }
    return true;
}

bool http_add_connection(struct server *srv, int fd, const struct sockaddr *addr, unsigned addr_len)
{
    return MHD_add_connection(srv->daemon, fd, addr, (socklen_t)addr_len) == MHD_YES;
}
