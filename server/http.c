/*
 * http.c - libmicrohttpd 0.9.75 plumbing; see http.h.
 *
 * The one design decision: everything about a request lives in one struct exchange,
 * created on the first access-handler call and freed in the completion callback, and every
 * answer - ours or a handler's - leaves through http_queue(). libmicrohttpd 0.9.75 is
 * lenient about framing (see REFERENCES.md), so the first call checks the raw framing
 * before any body byte is read, using what the URI-log callback saw of the raw target.
 */
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "problem.h"
#include "routes.h"

#include "clock.h"
#include "handler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

/* Query parameters accepted per request; more is a 400. */
#define HTTP_MAX_PARAMS 64
/* Bodies at least this large get huge-page-aligned buffers (the x86-64 huge page size). */
#define HTTP_HUGE_BODY ((size_t)2 << 20)
/* libmicrohttpd's connection limit is this much above --max-connections (see http_accept). */
#define HTTP_ACCEPT_SLACK 64u
/* Connections the --admin-port daemon holds at most (probes and scrapers). */
#define HTTP_ADMIN_CONNECTIONS 64u
/* libmicrohttpd log lines written per second at most. */
#define HTTP_LOG_PER_S 20u
/* Longest client-supplied X-Request-Id we echo. */
#define HTTP_REQUEST_ID_MAX 64

/* ---------------------------------------------------------------------------------------
 * Per-connection and per-request state
 * --------------------------------------------------------------------------------------- */

/* Lives from accept to close (MHD_OPTION_NOTIFY_CONNECTION). The URI-log callback records
 * what it saw of the raw request target here, for the next request's first call. */
struct http_conn {
    bool target_not_origin_form; /* does not start with '/' (absolute form, '*') */
    bool target_has_nul;         /* "%00" anywhere: MHD would truncate silently */
    char remote[64];
    bool over_limit; /* accepted past --max-connections by concurrent accepts: close */
    bool admin;      /* on --admin-port */
};

struct exchange {
    struct server *srv;
    struct MHD_Connection *conn;
    int64_t start_ns;
    const struct route *route; /* NULL until matched */
    const char *route_name;    /* static: route path or "-" */
    const char *method_name;   /* static: one of http_methods or "OTHER" */
    char path[512];
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char remote[64];
    char origin[256];
    bool cors;
    bool preflight; /* OPTIONS with Access-Control-Request-Method */
    char allow[96];
    bool need_auth_header;

    struct request_param params[HTTP_MAX_PARAMS];
    size_t n_params;
    bool params_bad;
    char params_detail[160];
    char *content_type;
    char *accept;

    char *body;
    size_t body_len, body_cap, body_limit;
    size_t body_reserved; /* bytes of --max-body-memory this body holds */
    bool body_cut;
    bool body_announced; /* Content-Length > 0 or chunked */
    bool framing_bad;    /* the request's framing is suspect: answer and close */
    uint64_t bytes_in;

    bool late;       /* arrived after draining began: never handed to a worker */
    bool dispatched; /* handed to a worker */
    bool done;       /* resp holds the answer, not yet queued */
    bool queued;     /* an answer was queued with MHD */
    struct response resp;
    unsigned status;
    uint64_t bytes_out;
};

static const char *const http_methods[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                           "PATCH", "OPTIONS", "TRACE", "CONNECT"};

static const char *http_method_name(const char *method)
{
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
        if (strcmp(method, http_methods[i]) == 0)
            return http_methods[i];
    return "OTHER";
}

static char *http_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Free the body and give its bytes back to the --max-body-memory budget. */
static void http_body_free(struct exchange *ex)
{
    free(ex->body);
    ex->body = NULL;
    ex->body_cap = 0;
    atomic_fetch_sub(&ex->srv->body_memory, ex->body_reserved);
    ex->body_reserved = 0;
}

static void exchange_free(struct exchange *ex)
{
    for (size_t i = 0; i < ex->n_params; i++) {
        free((char *)ex->params[i].key);
        free((char *)ex->params[i].value);
    }
    free(ex->content_type);
    free(ex->accept);
    http_body_free(ex);
    response_cleanup(&ex->resp);
    free(ex);
}

/* ---------------------------------------------------------------------------------------
 * Answers
 *
 * http_queue is the only place a response reaches MHD: it adds the headers every answer
 * carries (request id, CORS, no-store, nosniff) and records the status for the log.
 * --------------------------------------------------------------------------------------- */

static void http_problem(struct exchange *ex, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_problem(struct exchange *ex, int status, const char *fmt, ...)
{
    char detail[ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct request req = {.path = ex->path, .request_id = ex->request_id};
    problem_send(&ex->resp, &req, status, "%s", detail);
    ex->done = true;
}

static enum MHD_Result http_queue(struct exchange *ex)
{
    struct response *r = &ex->resp;
    struct MHD_Response *mr;
    if (r->body != NULL) {
        mr = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
        if (mr != NULL)
            r->body = NULL; /* MHD frees it now */
    } else {
        mr = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (mr == NULL)
        return MHD_NO;
    if (r->content_type != NULL)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(mr, "X-Request-Id", ex->request_id);
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (ex->allow[0] != '\0')
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, ex->allow);
    if (ex->need_auth_header)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tessera\"");
    if (ex->cors) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", ex->origin);
        MHD_add_response_header(mr, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
        MHD_add_response_header(mr, "Vary", "Origin");
        if (ex->preflight) {
            MHD_add_response_header(mr, "Access-Control-Allow-Methods", ex->allow);
            MHD_add_response_header(mr, "Access-Control-Allow-Headers",
                                    "Authorization, Content-Type, Accept, X-Request-Id");
            MHD_add_response_header(mr, "Access-Control-Max-Age", "600");
        }
    }
    if (atomic_load(&ex->srv->draining) || ex->body_cut || ex->framing_bad)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ex->status = (unsigned)r->status;
    ex->bytes_out = r->body_len;
    ex->queued = true;
    enum MHD_Result ret = MHD_queue_response(ex->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* ---------------------------------------------------------------------------------------
 * First call: identity, framing, routing, auth, CORS, body limit
 *
 * Everything here runs before libmicrohttpd reads a body byte, so a refusal costs the
 * client its body, not us.
 * --------------------------------------------------------------------------------------- */

struct http_headers {
    unsigned content_length_count;
    const char *content_length;
    unsigned transfer_encoding_count;
    const char *transfer_encoding;
};

static enum MHD_Result http_header_scan(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    struct http_headers *h = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        h->content_length_count++;
        h->content_length = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->transfer_encoding_count++;
        h->transfer_encoding = value;
    }
    return MHD_YES;
}

static enum MHD_Result http_param_scan(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    struct exchange *ex = cls;
    if (ex->params_bad)
        return MHD_NO;
    for (size_t i = 0; i < ex->n_params; i++)
        if (strcmp(ex->params[i].key, key) == 0) {
            ex->params_bad = true;
            snprintf(ex->params_detail, sizeof ex->params_detail,
                     "query parameter '%.64s' is given more than once", key);
            return MHD_NO;
        }
    if (ex->n_params == HTTP_MAX_PARAMS) {
        ex->params_bad = true;
        snprintf(ex->params_detail, sizeof ex->params_detail, "more than %d query parameters",
                 HTTP_MAX_PARAMS);
        return MHD_NO;
    }
    char *k = http_strdup(key), *v = http_strdup(value ? value : "");
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        ex->params_bad = true;
        snprintf(ex->params_detail, sizeof ex->params_detail, "out of memory");
        return MHD_NO;
    }
    ex->params[ex->n_params].key = k;
    ex->params[ex->n_params].value = v;
    ex->n_params++;
    return MHD_YES;
}

static bool http_request_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > HTTP_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

static void http_request_id(struct exchange *ex)
{
    const char *given = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given != NULL && http_request_id_ok(given)) {
        snprintf(ex->request_id, sizeof ex->request_id, "%s", given);
        return;
    }
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        static atomic_ulong fallback;
        unsigned long v = atomic_fetch_add(&fallback, 1);
        memcpy(raw, &v, sizeof v);
        memcpy(raw + 8, &ex->start_ns, sizeof ex->start_ns);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(ex->request_id + 2 * i, 3, "%02x", raw[i]);
}

/* Constant-time comparison of the Authorization header with "Bearer <token>". */
static bool http_authorized(const struct server *srv, struct MHD_Connection *conn)
{
    const char *token = srv->cfg->token;
    if (token[0] == '\0')
        return true;
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t glen = strlen(given), tlen = strlen(token);
    size_t n = glen > tlen ? glen : tlen;
    unsigned char diff = (unsigned char)(glen != tlen);
    for (size_t i = 0; i < n; i++) {
        unsigned char a = i < glen ? (unsigned char)given[i] : 0;
        unsigned char b = i < tlen ? (unsigned char)token[i] : 0;
        diff |= (unsigned char)(a ^ b);
    }
    return diff == 0;
}

/* Strict decimal Content-Length. */
static bool http_parse_length(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return *s == '\0';
}

/* A buffer for a body of len bytes. Large bodies (an 80 MB /topk array, a TIFF upload) are
 * backed by transparent huge pages: first-touch page faults otherwise cost more than the
 * copy itself (measured: 450 ms -> 90 ms for an 80 MB body). The first huge page is left
 * to small pages: memory is committed as bytes arrive, so a client that announces a large
 * body and sends a few bytes (slow body attack) holds kilobytes, not a 2 MB page, and a
 * client past the first 2 MB holds at most one partly filled huge page more than it sent.
 * Freed with free(). */
static char *http_body_alloc(size_t len)
{
    if (len < HTTP_HUGE_BODY)
        return malloc(len);
    size_t rounded = (len + HTTP_HUGE_BODY - 1) / HTTP_HUGE_BODY * HTTP_HUGE_BODY;
    char *p = aligned_alloc(HTTP_HUGE_BODY, rounded);
    if (p != NULL) { /* advice only: failure changes nothing */
        madvise(p, HTTP_HUGE_BODY, MADV_NOHUGEPAGE);
        if (rounded > HTTP_HUGE_BODY)
            madvise(p + HTTP_HUGE_BODY, rounded - HTTP_HUGE_BODY, MADV_HUGEPAGE);
    }
    return p;
}

/* Take bytes from the body budget; false (nothing taken) when it would pass the limit. */
static bool http_body_reserve(struct exchange *ex, size_t bytes)
{
    size_t limit = ex->srv->cfg->max_body_memory;
    size_t held = atomic_load(&ex->srv->body_memory);
    do {
        if (bytes > limit || held > limit - bytes)
            return false;
    } while (!atomic_compare_exchange_weak(&ex->srv->body_memory, &held, held + bytes));
    ex->body_reserved += bytes;
    return true;
}

/* Returns true when ex->resp already holds the answer. */
static bool http_first_call(struct exchange *ex, const char *url, const char *method,
                            const char *version)
{
    struct server *srv = ex->srv;
    struct MHD_Connection *conn = ex->conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *hc = ci ? ci->socket_context : NULL;
    if (hc != NULL)
        snprintf(ex->remote, sizeof ex->remote, "%s", hc->remote);
    http_request_id(ex);

    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin != NULL && config_origin_allowed(srv->cfg, origin) &&
        strlen(origin) < sizeof ex->origin) {
        snprintf(ex->origin, sizeof ex->origin, "%s", origin);
        ex->cors = true;
    }

    /* Framing, before anything is read. */
    struct http_headers h = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_header_scan, &h);
    ex->body_announced = h.transfer_encoding_count > 0 ||
                         (h.content_length_count > 0 && strcmp(h.content_length, "0") != 0);
    if (hc != NULL && hc->target_has_nul) {
        ex->framing_bad = true;
        http_problem(ex, 400, "the request target contains an encoded NUL byte (%%00)");
        return true;
    }
    if ((hc != NULL && hc->target_not_origin_form) || url[0] != '/') {
        ex->framing_bad = true;
        http_problem(ex, 400, "the request target must be a path starting with '/'");
        return true;
    }
    if (h.transfer_encoding_count > 0) {
        if (h.transfer_encoding_count > 1 || strcasecmp(h.transfer_encoding, "chunked") != 0) {
            ex->framing_bad = true;
            http_problem(ex, 501, "Transfer-Encoding '%.64s' is not supported; only 'chunked'",
                         h.transfer_encoding);
            return true;
        }
        if (h.content_length_count > 0) {
            ex->framing_bad = true;
            http_problem(ex, 400, "Transfer-Encoding and Content-Length must not both be sent");
            return true;
        }
        if (strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
            ex->framing_bad = true;
            http_problem(ex, 400, "Transfer-Encoding is not allowed in HTTP/1.0");
            return true;
        }
    }
    if (h.content_length_count > 1) {
        ex->framing_bad = true;
        http_problem(ex, 400, "more than one Content-Length header");
        return true;
    }
    uint64_t content_length = 0;
    if (h.content_length_count == 1 && !http_parse_length(h.content_length, &content_length)) {
        ex->framing_bad = true;
        http_problem(ex, 400, "Content-Length '%.32s' is not a decimal number", h.content_length);
        return true;
    }

    /* Routing. */
    bool path_known;
    const struct route *route = routes_find(method, url, &path_known);
    if (hc != NULL && hc->admin && !routes_admin_path(url)) {
        char served[128];
        routes_admin_list(served, sizeof served);
        http_problem(ex, 404, "the admin port serves %s only", served);
        return true;
    }
    if (!path_known) {
        http_problem(ex, 404, "no endpoint at '%.200s'; GET / lists them", url);
        return true;
    }
    for (size_t i = 0; i < routes_count; i++)
        if (strcmp(routes[i].path, url) == 0)
            ex->route_name = routes[i].path; /* static string for metrics */
    if (strcmp(method, "OPTIONS") == 0) {
        routes_allow(url, ex->allow, sizeof ex->allow);
        ex->preflight = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "Access-Control-Request-Method") != NULL;
        response_bytes(&ex->resp, 204, NULL, NULL, 0);
        ex->done = true;
        return true;
    }
    if (route == NULL) {
        routes_allow(url, ex->allow, sizeof ex->allow);
        http_problem(ex, 405, "%.16s is not allowed on %.200s; allowed: %s", method, url,
                     ex->allow);
        return true;
    }
    ex->route = route;
    if (!route->public && !http_authorized(srv, conn)) {
        ex->need_auth_header = true;
        http_problem(ex, 401, "this endpoint needs 'Authorization: Bearer <token>'");
        return true;
    }

    /* Query parameters (decoded once by MHD; duplicates refused). */
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, http_param_scan, ex);
    if (ex->params_bad) {
        http_problem(ex, 400, "%s", ex->params_detail);
        return true;
    }
    ex->content_type = http_strdup(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
    ex->accept =
        http_strdup(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));

    /* Body limit by route and media type; an over-limit Content-Length is refused now. */
    const struct limits *lim = &srv->cfg->limits;
    bool json =
        ex->content_type == NULL || strncasecmp(ex->content_type, "application/json", 16) == 0;
    switch (route->body) {
    case ROUTE_BODY_NONE:
        ex->body_limit = 0;
        break;
    case ROUTE_BODY_JSON:
        ex->body_limit = lim->max_json_body;
        break;
    case ROUTE_BODY_UPLOAD:
        ex->body_limit = json ? lim->max_json_body : lim->max_binary_body;
        break;
    }
    if (content_length > ex->body_limit) {
        if (ex->body_limit == 0)
            http_problem(ex, 413, "%s %s takes no request body", method, url);
        else
            http_problem(ex, 413, "request body is %llu bytes; the limit for this %s is %zu",
                         (unsigned long long)content_length, json ? "JSON body" : "upload",
                         ex->body_limit);
        return true;
    }
    if (content_length > srv->cfg->max_body_memory) {
        http_problem(ex, 413,
                     "request body is %llu bytes; the server holds at most %zu bytes of "
                     "request bodies (--max-body-memory)",
                     (unsigned long long)content_length, srv->cfg->max_body_memory);
        return true;
    }
    if (content_length > 0) {
        if (!http_body_reserve(ex, (size_t)content_length)) {
            metrics_count(METRICS_BODY_BUDGET);
            http_problem(ex, 503,
                         "the server is receiving %zu bytes of request bodies already "
                         "(--max-body-memory); retry shortly",
                         atomic_load(&srv->body_memory));
            return true;
        }
        ex->body = http_body_alloc((size_t)content_length);
        if (ex->body == NULL) {
            http_problem(ex, 503, "out of memory for a %llu-byte body",
                         (unsigned long long)content_length);
            return true;
        }
        ex->body_cap = (size_t)content_length;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Body and dispatch
 * --------------------------------------------------------------------------------------- */

/* Append upload bytes; sets body_cut when the (chunked) body passes the limit. */
static void http_take_body(struct exchange *ex, const char *data, size_t len)
{
    ex->bytes_in += len;
    if (ex->body_cut || ex->done)
        return;
    if (len > ex->body_limit - ex->body_len) {
        ex->body_cut = true;
        return;
    }
    if (ex->body_len + len > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap : 4096;
        while (cap < ex->body_len + len)
            cap = cap > ex->body_limit / 2 ? ex->body_limit : cap * 2;
        /* A chunked body takes from the budget as it grows; over it, it is cut. */
        if (cap > ex->body_reserved && !http_body_reserve(ex, cap - ex->body_reserved)) {
            metrics_count(METRICS_BODY_BUDGET);
            ex->body_cut = true;
            return;
        }
        char *grown = realloc(ex->body, cap);
        if (grown == NULL) {
            ex->body_cut = true;
            return;
        }
        ex->body = grown;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, data, len);
    ex->body_len += len;
}

static void http_run_handler(struct exchange *ex)
{
    struct server *srv = ex->srv;
    struct request req = {
        .method = ex->method_name,
        .path = ex->path,
        .params = ex->params,
        .n_params = ex->n_params,
        .content_type = ex->content_type,
        .accept = ex->accept,
        .body = (const unsigned char *)ex->body,
        .body_len = ex->body_len,
        .request_id = ex->request_id,
        .deadline_ns = ex->start_ns + (int64_t)srv->cfg->limits.request_timeout_ms * 1000000,
    };
    response_cleanup(&ex->resp);
    struct handler_context ctx = {
        .root_fd = -1,
        .root_path = srv->cfg->root,
        .limits = &srv->cfg->limits,
        .cache = srv->cache,
        .server = srv,
        .route = ex->route,
    };
    char why[160];
    if (ex->route->root && (ctx.root_fd = server_root_open(srv, why, sizeof why)) < 0)
        problem_send(&ex->resp, &req, 503, "%s", why);
    else
        ex->route->handler(&ctx, &req, &ex->resp);
    if (ctx.root_fd >= 0)
        close(ctx.root_fd);
    if (ex->resp.status < 100 || ex->resp.status > 599)
        problem_send(&ex->resp, &req, 500, "handler returned no answer");
    /* The body is not needed any more; free it before the answer is sent. */
    http_body_free(ex);
    ex->done = true;
}

static void http_job(void *arg)
{
    struct exchange *ex = arg;
    http_run_handler(ex);
    /* Last touch: after resume the connection thread owns ex again. */
    MHD_resume_connection(ex->conn);
}

static enum MHD_Result http_dispatch(struct exchange *ex)
{
    if (!ex->route->heavy) {
        http_run_handler(ex);
        return http_queue(ex);
    }
    if (ex->late) {
        /* Stopping the daemon with a suspended connection aborts: a heavy request that
         * arrives on a kept-alive connection during the drain is refused, retryable. */
        http_problem(ex, 503, "draining: the server is shutting down; retry on another replica");
        return http_queue(ex);
    }
    ex->dispatched = true;
    MHD_suspend_connection(ex->conn);
    if (!pool_submit(ex->srv->pool, http_job, ex)) {
        metrics_count(METRICS_REJECTED_BUSY);
        http_problem(ex, 503, "all %u workers are busy and the queue is full; retry shortly",
                     ex->srv->cfg->workers);
        MHD_resume_connection(ex->conn);
    }
    return MHD_YES;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    struct server *srv = cls;
    struct exchange *ex = *req_cls;
    if (ex == NULL) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const struct http_conn *hc = ci ? ci->socket_context : NULL;
        if (hc != NULL && hc->over_limit)
            return MHD_NO; /* see http_connection */
        if (srv->cfg->header_timeout_s < srv->cfg->idle_timeout_s)
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                      srv->cfg->idle_timeout_s);
        ex = calloc(1, sizeof *ex);
        if (ex == NULL)
            return MHD_NO;
        ex->srv = srv;
        ex->conn = conn;
        ex->start_ns = clock_now_ns();
        ex->route_name = "-";
        ex->method_name = http_method_name(method);
        ex->resp.status = 500;
        snprintf(ex->path, sizeof ex->path, "%s", url);
        *req_cls = ex;
        /* Count first, then look at draining (both seq_cst): either this request sees the
         * drain, or the drain sees this request and waits for it. */
        atomic_fetch_add(&srv->active, 1);
        ex->late = atomic_load(&srv->draining);
        /* An early answer goes out now when a body is coming (MHD then closes the
         * connection instead of reading it); without a body it waits for the next call,
         * which keeps the connection alive. */
        if (http_first_call(ex, url, method, version) && (ex->body_announced || ex->framing_bad))
            return http_queue(ex);
        return MHD_YES;
    }
    if (ex->queued) {
        *upload_data_size = 0; /* answered already: discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        http_take_body(ex, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (ex->body_cut) {
            /* A chunked body over the limit: no answer can be queued mid-upload. */
            metrics_count(METRICS_BODIES_CUT);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (ex->done)
        return http_queue(ex);
    if (ex->dispatched)
        return MHD_YES;
    return http_dispatch(ex);
}

/* ---------------------------------------------------------------------------------------
 * Connection and completion callbacks
 * --------------------------------------------------------------------------------------- */

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct server *srv = cls;
    struct exchange *ex = *req_cls;
    if (ex == NULL)
        return;
    *req_cls = NULL;
    double seconds = (double)(clock_now_ns() - ex->start_ns) / 1e9;
    const char *outcome = "ok";
    if (ex->body_cut)
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
        };
        log_access_line(&a);
    }
    exchange_free(ex);
    atomic_fetch_sub(&srv->active, 1);
}

/* The state of a new connection, with the client's address (NULL when out of memory). */
static struct http_conn *http_conn_new(struct MHD_Connection *conn)
{
    struct http_conn *hc = calloc(1, sizeof *hc);
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

/* Connections of --admin-port: their own budget, not counted against --max-connections. */
static void http_admin_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
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

static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *hc = http_conn_new(conn);
        *socket_context = hc;
        /* Two connection threads can both pass http_accept for the last free slot: the
         * later one is closed within a second, or at its first request. */
        const struct server *srv = cls;
        if (metrics_connections_add(1) > (long)srv->cfg->max_connections && hc != NULL) {
            hc->over_limit = true;
            metrics_count(METRICS_CONN_REFUSED);
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
        } else if (srv->cfg->header_timeout_s < srv->cfg->idle_timeout_s) {
            /* Until its first request's headers are complete a connection gets the shorter
             * --header-timeout (http_access restores --idle-timeout). It bounds clients
             * that connect and send nothing, or part of a request and leave: libmicrohttpd
             * (epoll) misses a FIN that arrives together with an unfinished request. */
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                      srv->cfg->header_timeout_s);
        }
    } else {
        free(*socket_context);
        *socket_context = NULL;
        metrics_connections_add(-1);
    }
}

/* Sees the raw request target before MHD decodes (and might truncate) it. */
static void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *hc = ci ? ci->socket_context : NULL;
    if (hc != NULL) {
        hc->target_not_origin_form = uri == NULL || uri[0] != '/';
        hc->target_has_nul = uri != NULL && strstr(uri, "%00") != NULL;
    }
    return NULL;
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
    int64_t now = clock_now_ns() / 1000000000;
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

/* Accept policy: past --max-connections a new connection is closed at once. (At its own
 * limit libmicrohttpd stops accepting instead, and the excess clients hang in the listen
 * backlog; its limit is set HTTP_ACCEPT_SLACK higher so this refusal happens first.) */
static enum MHD_Result http_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
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

/* ---------------------------------------------------------------------------------------
 * Start and stop
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

    srv->pool = pool_new(cfg->workers, cfg->queue);
    if (srv->pool == NULL) {
        snprintf(msg, msg_size, "cannot start %u worker threads", cfg->workers);
        return false;
    }
    metrics_add_source(pool_metrics, srv->pool);
    srv->routes = routes;
    srv->routes_count = routes_count;

    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, http_accept, srv, http_access, srv, MHD_OPTION_EXTERNAL_LOGGER,
        http_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->io_threads, MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections + HTTP_ACCEPT_SLACK, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, MHD_OPTION_STRICT_FOR_CLIENT,
        (int)cfg->strict_http, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_connection, srv, MHD_OPTION_URI_LOG_CALLBACK,
        http_uri_seen, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(msg, msg_size, "cannot listen on %s:%u (in use, or not permitted)", cfg->host,
                 cfg->port);
        pool_free(srv->pool);
        srv->pool = NULL;
        return false;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;

    if (cfg->admin_port != 0 && !srv->no_listen) {
        /* Light routes only: no suspend/resume, no worker pool, one thread. */
        unsigned admin_flags = (flags & MHD_USE_IPv6) | MHD_USE_INTERNAL_POLLING_THREAD |
                               MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (in4->sin_family == AF_INET)
            in4->sin_port = htons((uint16_t)cfg->admin_port);
        else
            in6->sin6_port = htons((uint16_t)cfg->admin_port);
        srv->admin = MHD_start_daemon(
            admin_flags, (uint16_t)cfg->admin_port, NULL, NULL, http_access, srv,
            MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, HTTP_ADMIN_CONNECTIONS,
            MHD_OPTION_CONNECTION_TIMEOUT, cfg->header_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, MHD_OPTION_STRICT_FOR_CLIENT,
            (int)cfg->strict_http, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
            MHD_OPTION_NOTIFY_CONNECTION, http_admin_connection, srv, MHD_OPTION_URI_LOG_CALLBACK,
            http_uri_seen, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
        if (srv->admin == NULL) {
            snprintf(msg, msg_size, "cannot listen on %s:%u (--admin-port; in use?)", cfg->host,
                     cfg->admin_port);
            MHD_stop_daemon(srv->daemon);
            srv->daemon = NULL;
            pool_free(srv->pool);
            srv->pool = NULL;
            return false;
        }
    }
    return true;
}

bool http_add_connection(struct server *srv, int fd, const struct sockaddr *addr, unsigned addr_len)
{
    return MHD_add_connection(srv->daemon, fd, addr, (socklen_t)addr_len) == MHD_YES;
}

/* Connections the kernel completed before the quiesce still wait in the listen backlog;
 * closing the socket would reset them. They are handed to the daemon instead and served
 * like any connection during the drain (light routes answered, heavy ones 503). */
static void http_adopt_backlog(struct server *srv, int listen_fd)
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
        http_adopt_backlog(srv, listen_fd);
        close(listen_fd);
    }
    int64_t deadline = clock_now_ns() + (int64_t)srv->cfg->drain_timeout_s * 1000000000;
    while (atomic_load(&srv->active) > 0 && clock_now_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
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
    return left;
}
