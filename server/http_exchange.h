/*
 * http_exchange.h - one request's state inside the HTTP plumbing, and the single exit of
 * every answer.
 *
 * Per-request state is one struct http_exchange, created on the request's first
 * access-handler call and freed in the completion callback (libmicrohttpd's
 * doc/examples/simplepost.c pattern). Every answer - the plumbing's own refusals and the
 * handlers' responses - is written into ex->resp and leaves through http_exchange_queue,
 * which adds the headers every answer carries and records the status for the log. An
 * exchange is used by one thread at a time: its connection thread, or the worker it was
 * handed to while the connection is suspended.
 */
#ifndef TESSERA_SERVER_HTTP_EXCHANGE_H
#define TESSERA_SERVER_HTTP_EXCHANGE_H

#include "auth.h"
#include "handler.h"
#include "http_body.h"
#include "route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct server;

/* Query parameters accepted per request; more is a 400. */
#define HTTP_EXCHANGE_MAX_PARAMS 64
/* Longest client-supplied X-Request-Id we echo. */
#define HTTP_EXCHANGE_ID_MAX 64

struct http_exchange {
    struct server *srv;
    struct MHD_Connection *conn;
    int64_t start_ns;
    const struct route *route; /* NULL until matched */
    const char *route_name;    /* static: route path or "-" */
    const char *method_name;   /* static: a known method's name or "OTHER" */
    char path[512];
    char request_id[HTTP_EXCHANGE_ID_MAX + 1];
    char remote[64];
    char origin[256];
    bool cors;
    bool preflight; /* OPTIONS with Access-Control-Request-Method */
    char allow[96];
    bool need_auth_header;
    char token_name[AUTH_NAME_MAX + 1]; /* the token that admitted it, or "" */
    char client_dn[256];                /* verified client certificate's subject, or "" */

    struct request_param params[HTTP_EXCHANGE_MAX_PARAMS]; /* keys and values owned */
    size_t n_params;
    char *content_type; /* owned copies, NULL when absent */
    char *accept;
    char *if_none_match;

    struct http_body body;
    bool body_announced; /* Content-Length > 0 or chunked */
    bool large;          /* held HTTP_TRIM_BYTES or ran HTTP_TRIM_NS: trim after (http.c) */
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

/* A new exchange for the request (method, url) on conn, its clock started; NULL when out of
 * memory. */
struct http_exchange *http_exchange_new(struct server *srv, struct MHD_Connection *conn,
                                        const char *method, const char *url);

/* Free everything the exchange owns, its body's budget included. */
void http_exchange_free(struct http_exchange *ex);

/* The request a handler sees: views into ex, valid while ex is. */
struct request http_exchange_request(const struct http_exchange *ex);

/* Make ex->resp a problem (problem_send) and mark the exchange done. */
void http_exchange_problem(struct http_exchange *ex, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queue ex->resp with libmicrohttpd, with the headers every answer carries (request id,
 * no-store, nosniff, Retry-After, Allow, WWW-Authenticate, CORS) and Connection: close while
 * draining or after a cut body or bad framing. The only place a response reaches
 * libmicrohttpd. MHD_NO when the response could not be created (the connection closes). */
enum MHD_Result http_exchange_queue(struct http_exchange *ex);

#endif
