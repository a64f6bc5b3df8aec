/*
 * http_body.h - receiving a request body: its limit (by route and media type), the
 * process-wide --max-body-memory budget, and the buffer that holds it.
 *
 * A body announced with Content-Length is refused before a byte is read when it is over its
 * limit or the budget; otherwise its bytes are taken from the budget and one block of
 * exactly that size is allocated with alloc_large_lazy (large bodies on huge pages, the
 * first 2 MiB on small ones, so a client that announces much and sends little commits
 * little). A chunked body has no length up front: it grows in a core/buf buffer capped at
 * its limit, and takes from the budget as it grows; past either it is cut and the
 * connection closed. The budget (struct server's body_memory) is shared by all connections
 * and is given back when the body is freed. Once received, a JSON body's values are counted
 * (http_body_check_json) before a handler parses it. One body belongs to one request: not
 * thread-safe, except the budget, which is atomic.
 */
#ifndef TESSERA_SERVER_HTTP_BODY_H
#define TESSERA_SERVER_HTTP_BODY_H

#include "buf.h"
#include "route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;

struct http_body {
    char *fixed;        /* a Content-Length body: one block of exactly that many bytes */
    size_t fixed_len;   /* bytes of it received */
    size_t fixed_cap;   /* its size (the Content-Length) */
    struct buf chunked; /* a chunked body, capped at limit */
    size_t limit;       /* the most this body may hold */
    size_t reserved;    /* bytes of --max-body-memory it holds */
    bool cut;           /* passed its limit or the budget while arriving */
    bool json;          /* a body a handler parses as JSON (route and media type) */
};

/* Set the limit for a body of route kind with content_type (NULL: JSON) and, when
 * content_length > 0, take it from the budget and allocate it. b must be zeroed. Returns 0,
 * or the status to answer - 413 (over the limit or over the whole budget), 503 (the budget
 * is taken by other bodies, or out of memory) - with the reason in detail; method and url
 * name the request in it. */
int http_body_open(struct http_body *b, struct server *srv, enum route_body kind,
                   const char *content_type, uint64_t content_length, const char *method,
                   const char *url, char *detail, size_t detail_size);

/* Append len bytes that arrived. Returns false and sets b->cut when the body passes its
 * limit or the budget, or memory runs out; what it held is freed at once. */
bool http_body_append(struct http_body *b, struct server *srv, const char *data, size_t len);

/* The bytes received so far (NULL when none). */
const unsigned char *http_body_data(const struct http_body *b);
size_t http_body_len(const struct http_body *b);

/* For a JSON body, count its values (request_json_nodes of handlers/request.h) into *nodes;
 * for any other body *nodes is 0. Returns 0, or 413 with the reason in detail when there
 * are more than max_nodes (--max-json-nodes): the body is then never parsed. */
int http_body_check_json(const struct http_body *b, unsigned max_nodes, size_t *nodes, char *detail,
                         size_t detail_size);

/* Free the body and give its bytes back to the budget. Safe to call more than once. */
void http_body_free(struct http_body *b, struct server *srv);

#endif
