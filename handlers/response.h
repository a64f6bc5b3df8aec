/*
 * response.h - what a handler gives back: an HTTP status, a media type, a body the response
 * owns, and an optional Retry-After.
 *
 * The lowest module of handlers/: it knows no request, no problem and no JSON, so problem.c
 * (which turns errors into responses) and request.c (whose helpers answer bad input) both
 * build on it without including each other. A response is caller-provided storage; an
 * all-zero struct response is a valid empty one. Not thread-safe: one request, one thread.
 */
#ifndef TESSERA_HANDLERS_RESPONSE_H
#define TESSERA_HANDLERS_RESPONSE_H

#include <stddef.h>

struct response {
    int status;
    const char *content_type; /* static string, or NULL for no Content-Type */
    char *body;               /* malloc'd; owned by the response */
    size_t body_len;
    unsigned retry_after;      /* seconds; 0 = no Retry-After header */
    char etag[48];             /* ETag header value (quoted); "" = none */
    const char *cache_control; /* static string; NULL = "no-store" */
};

/* Make resp a status answer with body (len bytes, malloc'd; the response takes it, NULL for
 * none). A body the response held before is freed; retry_after is left as it was. */
void response_bytes(struct response *resp, int status, const char *content_type, char *body,
                    size_t len);

/* Free the body and reset to an empty 500 (no type, no Retry-After). Safe to call twice. */
void response_cleanup(struct response *resp);

#endif
