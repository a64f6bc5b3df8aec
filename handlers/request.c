/*
 * request.c - the helpers every handler uses to read its request, and response_jsonw; see
 * request.h.
 */
#include "request.h"
#include "alloc.h"
#include "clock.h"
#include "jsonw.h"
#include "problem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *request_param(const struct request *req, const char *key)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].key, key) == 0)
            return req->params[i].value;
    return NULL;
}

bool request_params_only(const struct request *req, const char *const allowed[],
                         struct response *resp)
{
    for (size_t i = 0; i < req->n_params; i++) {
        bool known = false;
        for (size_t j = 0; allowed[j] != NULL && !known; j++)
            known = strcmp(req->params[i].key, allowed[j]) == 0;
        if (!known) {
            problem_send(resp, req, 400, "unknown query parameter '%.100s'", req->params[i].key);
            return false;
        }
    }
    return true;
}

bool request_param_bool(const struct request *req, const char *key, bool def, bool *out,
                        struct response *resp)
{
    const char *v = request_param(req, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return true;
    }
    problem_send(resp, req, 400, "query parameter '%s' must be true or false, not '%.64s'", key, v);
    return false;
}

bool request_param_u64(const struct request *req, const char *key, uint64_t min, uint64_t max,
                       uint64_t def, uint64_t *out, struct response *resp)
{
    const char *v = request_param(req, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    uint64_t n = 0;
    bool ok = *v != '\0' && strlen(v) <= 20;
    for (const char *p = v; ok && *p != '\0'; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - digit) / 10)
            ok = false;
        else
            n = n * 10 + digit;
    }
    if (!ok || n < min || n > max) {
        problem_send(resp, req, 400,
                     "query parameter '%s' must be an integer in [%llu, %llu], not '%.64s'", key,
                     (unsigned long long)min, (unsigned long long)max, v);
        return false;
    }
    *out = n;
    return true;
}

/* ---------------------------------------------------------------------------------------
 * The JSON body
 * --------------------------------------------------------------------------------------- */

static bool request_json_number_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

size_t request_json_nodes(const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t nodes = 0, i = 0;
    while (i < len) {
        unsigned char c = p[i++];
        if (c == '"') {
            /* A string, up to its closing quote; an escaped character is skipped whole. */
            nodes++;
            while (i < len && p[i] != '"')
                i += p[i] == '\\' ? 2 : 1;
            i++;
        } else if (c == '{' || c == '[') {
            nodes++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            nodes++;
            while (i < len && request_json_number_char(p[i]))
                i++;
        } else if (c >= 'a' && c <= 'z') {
            /* true, false, null - or a word jansson refuses. */
            nodes++;
            while (i < len && p[i] >= 'a' && p[i] <= 'z')
                i++;
        }
    }
    return nodes;
}

json_t *request_json_object(const struct request *req, struct response *resp)
{
    if (req->content_type != NULL && !request_content_type_is(req, "application/json")) {
        problem_send(resp, req, 415, "send the body as application/json, not '%.64s'",
                     req->content_type);
        return NULL;
    }
    if (req->body_len == 0) {
        problem_send(resp, req, 400, "the request body is empty; send a JSON object");
        return NULL;
    }
    json_error_t jerr;
    unsigned long failures = alloc_failures_here();
    json_t *root =
        json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (alloc_failures_here() != failures) {
        /* jansson can drop bytes of a string when its buffer cannot grow, and still
         * return a document: whatever it returned is not the request. */
        json_decref(root);
        problem_send(resp, req, 503, "out of memory parsing the request body");
        return NULL;
    }
    if (root == NULL) {
        problem_send(resp, req, 400, "request body is not valid JSON: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        problem_send(resp, req, 400, "request body must be a JSON object");
        return NULL;
    }
    return root;
}

bool request_json_u64(const struct request *req, const json_t *v, const char *name, uint64_t min,
                      uint64_t max, uint64_t *out, struct response *resp)
{
    if (v == NULL)
        return true;
    json_int_t n = json_integer_value(v);
    if (!json_is_integer(v) || n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
        problem_send(resp, req, 400, "field '%s' must be an integer in [%llu, %llu]", name,
                     (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = (uint64_t)n;
    return true;
}

static const char *request_kind_name(enum request_field_kind kind)
{
    switch (kind) {
    case REQUEST_FIELD_STRING:
        return "a string";
    case REQUEST_FIELD_BOOL:
        return "true or false";
    case REQUEST_FIELD_INTEGER:
        return "an integer";
    case REQUEST_FIELD_NUMBER:
        return "a number";
    case REQUEST_FIELD_ARRAY:
        return "an array";
    case REQUEST_FIELD_NUMBER_OR_ARRAY:
        return "a number or an array of numbers";
    case REQUEST_FIELD_OBJECT:
        break;
    }
    return "an object";
}

static bool request_kind_matches(enum request_field_kind kind, const json_t *v)
{
    switch (kind) {
    case REQUEST_FIELD_STRING:
        return json_is_string(v);
    case REQUEST_FIELD_BOOL:
        return json_is_boolean(v);
    case REQUEST_FIELD_INTEGER:
        return json_is_integer(v);
    case REQUEST_FIELD_NUMBER:
        return json_is_number(v);
    case REQUEST_FIELD_ARRAY:
        return json_is_array(v);
    case REQUEST_FIELD_NUMBER_OR_ARRAY:
        return json_is_number(v) || json_is_array(v);
    case REQUEST_FIELD_OBJECT:
        break;
    }
    return json_is_object(v);
}

bool request_json_fields(const struct request *req, json_t *obj, const struct request_field *fields,
                         size_t n, struct response *resp)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(fields[i].name, key) == 0)
                break;
        if (i == n) {
            problem_send(resp, req, 400, "unknown field '%.100s'", key);
            return false;
        }
        if (!request_kind_matches(fields[i].kind, value)) {
            problem_send(resp, req, 400, "field '%s' must be %s", key,
                         request_kind_name(fields[i].kind));
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, fields[i].name);
        if (v == NULL && fields[i].required) {
            problem_send(resp, req, 400, "field '%s' is required", fields[i].name);
            return false;
        }
        if (fields[i].out != NULL)
            *fields[i].out = v;
    }
    return true;
}

/* Does header (a media type list, parameters after ';') name type? */
static bool request_media_matches(const char *header, const char *type, bool list)
{
    if (header == NULL)
        return false;
    size_t tlen = strlen(type);
    const char *p = header;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, type, tlen) == 0) {
            char c = p[tlen];
            if (c == '\0' || c == ';' || c == ',' || c == ' ' || c == '\t')
                return true;
        }
        if (!list)
            return false;
        p = strchr(p, ',');
        if (p == NULL)
            return false;
        p++;
    }
}

bool request_content_type_is(const struct request *req, const char *type)
{
    return request_media_matches(req->content_type, type, false);
}

bool request_accepts(const struct request *req, const char *type)
{
    return request_media_matches(req->accept, type, true);
}

int64_t request_now_ns(void)
{
    return clock_now_ns();
}

void response_jsonw(struct response *resp, const struct request *req, struct jsonw *w)
{
    enum buf_status status = jsonw_status(w);
    size_t max = jsonw_max(w), len;
    char *body = jsonw_take(w, &len);
    if (body != NULL) {
        response_bytes(resp, 200, "application/json", body, len);
    } else if (status == BUF_TOO_LARGE) {
        problem_send(resp, req, 413,
                     "the answer would be larger than %zu bytes, the most one JSON answer may "
                     "hold; ask for fewer results, or for the binary format where the endpoint "
                     "has one",
                     max);
    } else {
        problem_send(resp, req, 503, "out of memory rendering the answer");
    }
}
