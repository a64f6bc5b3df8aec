/*
 * problem.h - the one place an error becomes an HTTP status and an RFC 9457
 * application/problem+json body. Every error Tessera answers - from a handler, from the
 * server's own checks (framing, routing, auth, limits, a busy queue, draining) and from its
 * pages - is made here, so every error has the same shape: type, title, status, detail,
 * instance, request_id. The only error answers not made here are the few libmicrohttpd
 * 0.9.75 sends by itself before any Tessera code sees the request (HTTP/1.1 without Host, a
 * Content-Length that is not a number, an unknown HTTP version, headers or a target too
 * large for --conn-memory), with its own body.
 */
#ifndef TESSERA_HANDLERS_PROBLEM_H
#define TESSERA_HANDLERS_PROBLEM_H

#include "error.h"
#include "response.h"

struct request;

/* HTTP status for a core error code (ERROR_INVALID -> 400, ERROR_NOT_FOUND -> 404, ...). */
int problem_status(enum error_code code);

/* Reason phrase for an HTTP status ("Not Found"). */
const char *problem_title(int status);

/* Render the problem object as a malloc'd JSON text of *len bytes (NULL when out of
 * memory). detail, instance and request_id may be NULL. */
char *problem_render(int status, const char *detail, const char *instance, const char *request_id,
                     size_t *len);

/* Make resp a problem+json response. detail is printf-formatted. Sets Retry-After for 503. */
void problem_send(struct response *resp, const struct request *req, int status, const char *fmt,
                  ...) ERROR_PRINTF(4, 5);

struct jsonw;

/* Append the problem object for err (a batch item's error) to w. */
void problem_append(struct jsonw *w, const struct request *req, const struct error_info *err);

/* Make resp the problem for a core error. */
void problem_from_error(struct response *resp, const struct request *req,
                        const struct error_info *err);

#endif
