/*
 * request.h - the helpers every handler uses to read its request: query parameters, media
 * types, the JSON body and its fields; and response_jsonw, which turns a JSON writer into
 * the answer.
 *
 * Each helper that finds bad input answers it (a 4xx problem through problem.h) and returns
 * false or NULL, so a handler reads as parse-or-return. The types a handler receives are in
 * handler.h, included here. Reentrant: a helper touches only the request it reads and the
 * response it writes.
 */
#ifndef TESSERA_HANDLERS_REQUEST_H
#define TESSERA_HANDLERS_REQUEST_H

#include "cache.h"
#include "handler.h"
#include "limit.h"
#include "response.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The most memory jansson 2.14 takes for one value of a parsed tree: an empty object,
 * measured at 232 bytes on glibc (a number takes 40, true/false/null 8, a string 88 plus
 * its length). A text of n request_json_nodes parses into at most about n times this. */
#define REQUEST_JSON_NODE_BYTES 232

/* The values in the JSON text data (len bytes) - objects, arrays, strings (object keys
 * included), numbers, true, false, null - counted in one pass without allocating or
 * parsing, so a body can be refused before it is turned into a tree. Exact for valid JSON;
 * for any text, at least the number of values jansson builds before it stops. Reentrant. */
size_t request_json_nodes(const void *data, size_t len);

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
    REQUEST_FIELD_OBJECT,
    REQUEST_FIELD_NUMBER_OR_ARRAY /* the array's elements are the caller's to check */
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

/* The JSON member v of the body (NULL when absent: returns true and leaves *out as it was)
 * as an integer in [min, max]. A value that is not an integer, or is out of range, answers
 * 400 naming the field and the range, and returns false. */
bool request_json_u64(const struct request *req, const json_t *v, const char *name, uint64_t min,
                      uint64_t max, uint64_t *out, struct response *resp);

/* Now, in ns of CLOCK_MONOTONIC: the clock of request deadlines, the same as clock_now_ns
 * (core/clock.h). */
int64_t request_now_ns(void);

struct jsonw;

/* Make w's document the 200 application/json body (the writer is emptied). A writer that
 * reached its cap becomes a 413 problem naming the cap, one whose allocation failed a 503;
 * neither sends part of the document. */
void response_jsonw(struct response *resp, const struct request *req, struct jsonw *w);

#endif
