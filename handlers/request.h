/*
 * request.h - what a handler sees and what it gives back.
 *
 * A handler is a plain function from (context, request) to a response: no sockets, no
 * libmicrohttpd. The server fills struct request from a connection; tests and fuzzers fill
 * it directly. Everything a request points at is owned by the caller and lives until the
 * handler returns; the response body is malloc'd and owned by the response.
 */
#ifndef TESSERA_HANDLERS_REQUEST_H
#define TESSERA_HANDLERS_REQUEST_H

#include "cache.h"
#include "limit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Process-wide state a handler may read; set up once at start, read-only afterwards. */
struct handler_context {
    int root_fd;           /* the data root, opened O_DIRECTORY | O_PATH once */
    const char *root_path; /* for display only; never used to open anything */
    const struct limits *limits;
    struct cache *cache; /* classification metadata cache; NULL = off */
};

struct request_param {
    const char *key;   /* percent-decoded by the server, exactly once */
    const char *value; /* "" for a key without '=' */
};

struct request {
    const char *method;
    const char *path; /* the route path, e.g. "/scan" */
    const struct request_param *params;
    size_t n_params;
    const char *content_type; /* NULL when absent */
    const char *accept;       /* NULL when absent */
    const unsigned char *body;
    size_t body_len;
    const char *request_id;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
};

struct response {
    int status;
    const char *content_type; /* static string */
    char *body;               /* malloc'd; owned by the response */
    size_t body_len;
    unsigned retry_after; /* seconds; 0 = no Retry-After header */
};

typedef void (*handler_fn)(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);

/* Value of query parameter key, or NULL. The server rejects duplicate keys beforehand. */
const char *request_param(const struct request *req, const char *key);

/* If some query parameter is not in allowed (NULL-terminated), answer 400 naming it and
 * return false. */
bool request_params_only(const struct request *req, const char *const allowed[],
                         struct response *resp);

/* True when the media type of the Content-Type / Accept header is type (parameters such
 * as "; charset=utf-8" ignored, case-insensitive). */
bool request_content_type_is(const struct request *req, const char *type);
bool request_accepts(const struct request *req, const char *type);

/* Query parameter key as a boolean ("true"/"false"; absent: def). On a bad value answers
 * 400 naming the parameter and returns false. */
bool request_param_bool(const struct request *req, const char *key, bool def, bool *out,
                        struct response *resp);

/* Query parameter key as a decimal integer in [min, max] (absent: def). On a bad value
 * answers 400 naming the parameter and the range, and returns false. */
bool request_param_u64(const struct request *req, const char *key, uint64_t min, uint64_t max,
                       uint64_t def, uint64_t *out, struct response *resp);

/* Parse the body as one JSON object (duplicate keys rejected). Answers 415 when the
 * Content-Type is not JSON, 400 with line and column when it does not parse, and returns
 * NULL; otherwise a new reference the caller releases. */
json_t *request_json_object(const struct request *req, struct response *resp);

enum request_field_kind {
    REQUEST_FIELD_STRING,
    REQUEST_FIELD_BOOL,
    REQUEST_FIELD_INTEGER,
    REQUEST_FIELD_NUMBER, /* integer or real */
    REQUEST_FIELD_ARRAY,
    REQUEST_FIELD_OBJECT
};

struct request_field {
    const char *name;
    enum request_field_kind kind;
    bool required;
    json_t **out; /* borrowed reference, or NULL when absent */
};

/* Check obj against a table of fields: an unknown key, a missing required one or a wrong
 * type answers 400 naming the field, and returns false. */
bool request_json_fields(const struct request *req, json_t *obj, const struct request_field *fields,
                         size_t n, struct response *resp);

/* Monotonic clock in ns, and whether req's deadline has passed. */
int64_t request_now_ns(void);
bool request_expired(const struct request *req);

struct jsonw;

/* Make w's document the 200 application/json body (the writer is emptied); a writer whose
 * allocation failed becomes a 503 problem. */
void response_jsonw(struct response *resp, const struct request *req, struct jsonw *w);

/* Take ownership of a malloc'd body of len bytes. */
void response_bytes(struct response *resp, int status, const char *content_type, char *body,
                    size_t len);

/* Release the body and reset to an empty 500. */
void response_cleanup(struct response *resp);

#endif
