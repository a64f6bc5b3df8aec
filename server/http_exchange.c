/* http_exchange.c - one request's state and the exit of every answer; see http_exchange.h. */
#include "http_exchange.h"
#include "problem.h"
#include "server.h"

#include "alloc.h"
#include "clock.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const http_exchange_methods[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                                    "PATCH", "OPTIONS", "TRACE", "CONNECT"};

/* The static name of a method, for the log and the metrics labels. */
static const char *http_exchange_method_name(const char *method)
{
    for (size_t i = 0; i < sizeof http_exchange_methods / sizeof http_exchange_methods[0]; i++)
        if (strcmp(method, http_exchange_methods[i]) == 0)
            return http_exchange_methods[i];
    return "OTHER";
}

struct http_exchange *http_exchange_new(struct server *srv, struct MHD_Connection *conn,
                                        const char *method, const char *url)
{
    struct http_exchange *ex = alloc_zeroed(1, sizeof *ex);
    if (ex == NULL)
        return NULL;
    ex->srv = srv;
    ex->conn = conn;
    ex->start_ns = clock_now_ns();
    ex->route_name = "-";
    ex->method_name = http_exchange_method_name(method);
    ex->resp.status = 500;
    snprintf(ex->path, sizeof ex->path, "%s", url);
    return ex;
}

void http_exchange_free(struct http_exchange *ex)
{
    for (size_t i = 0; i < ex->n_params; i++) {
        free((char *)ex->params[i].key);
        free((char *)ex->params[i].value);
    }
    free(ex->content_type);
    free(ex->accept);
    free(ex->if_none_match);
    http_body_free(&ex->body, ex->srv);
    response_cleanup(&ex->resp);
    free(ex);
}

struct request http_exchange_request(const struct http_exchange *ex)
{
    return (struct request){
        .method = ex->method_name,
        .path = ex->path,
        .params = ex->params,
        .n_params = ex->n_params,
        .content_type = ex->content_type,
        .accept = ex->accept,
        .if_none_match = ex->if_none_match,
        .body = http_body_data(&ex->body),
        .body_len = http_body_len(&ex->body),
        .request_id = ex->request_id,
    };
}

void http_exchange_problem(struct http_exchange *ex, int status, const char *fmt, ...)
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

enum MHD_Result http_exchange_queue(struct http_exchange *ex)
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
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r->cache_control ? r->cache_control : "no-store");
    if (r->etag[0] != '\0')
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, r->etag);
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
    if (server_draining(ex->srv) || ex->body.cut || ex->framing_bad)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ex->status = (unsigned)r->status;
    ex->bytes_out = r->body_len;
    ex->queued = true;
    enum MHD_Result ret = MHD_queue_response(ex->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}
