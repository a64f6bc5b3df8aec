/*
 * problem.c - RFC 9457 problem details: the single path from an error to an HTTP answer.
 * The "type" of each problem is a stable URN per status, so clients can switch on it.
 */
#include "problem.h"
#include "handler.h"
#include "jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retry-After sent with every 503: long enough for a queue slot to free up. */
#define PROBLEM_RETRY_AFTER_S 1

struct problem_kind {
    int status;
    const char *title;
    const char *slug;
};

static const struct problem_kind problem_kinds[] = {
    {400, "Bad Request", "bad-request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not-found"},
    {405, "Method Not Allowed", "method-not-allowed"},
    {406, "Not Acceptable", "not-acceptable"},
    {408, "Request Timeout", "request-timeout"},
    {411, "Length Required", "length-required"},
    {413, "Content Too Large", "content-too-large"},
    {414, "URI Too Long", "uri-too-long"},
    {415, "Unsupported Media Type", "unsupported-media-type"},
    {422, "Unprocessable Content", "unprocessable-content"},
    {429, "Too Many Requests", "too-many-requests"},
    {431, "Request Header Fields Too Large", "header-fields-too-large"},
    {500, "Internal Server Error", "internal-error"},
    {501, "Not Implemented", "not-implemented"},
    {503, "Service Unavailable", "service-unavailable"},
    {505, "HTTP Version Not Supported", "http-version-not-supported"},
};

static const struct problem_kind *problem_kind_find(int status)
{
    for (size_t i = 0; i < sizeof problem_kinds / sizeof problem_kinds[0]; i++)
        if (problem_kinds[i].status == status)
            return &problem_kinds[i];
    return NULL;
}

/* The kind of status; a status not in the table is described as a 500. */
static const struct problem_kind *problem_kind_of(int status)
{
    const struct problem_kind *kind = problem_kind_find(status);
    return kind != NULL ? kind : problem_kind_find(500);
}

int problem_status(enum error_code code)
{
    switch (code) {
    case ERROR_OK:
        return 200;
    case ERROR_INVALID:
        return 400;
    case ERROR_FORBIDDEN:
        return 403;
    case ERROR_NOT_FOUND:
        return 404;
    case ERROR_UNPROCESSABLE:
        return 422;
    case ERROR_TOO_LARGE:
        return 413;
    case ERROR_BUSY:
    case ERROR_TIMEOUT:
    case ERROR_NO_MEMORY:
        return 503;
    case ERROR_IO:
    case ERROR_INTERNAL:
        break;
    }
    return 500;
}

const char *problem_title(int status)
{
    return problem_kind_of(status)->title;
}

/* The problem object on w. detail, instance and request_id may hold bytes from a file or a
 * client: invalid UTF-8 is replaced (detail) or left out (the others). Rendered with jsonw,
 * whose failure is sticky, rather than jansson: jansson can drop a member it could not
 * allocate and still return a document. */
static void problem_write(struct jsonw *w, int status, const char *detail, const char *instance,
                          const char *request_id)
{
    const struct problem_kind *kind = problem_kind_of(status);
    jsonw_lit(w, "{\"type\":\"urn:tessera:problem:");
    jsonw_lit(w, kind->slug);
    jsonw_lit(w, "\",\"title\":");
    jsonw_string(w, kind->title, strlen(kind->title));
    jsonw_member_u64(w, ",\"status\":", (uint64_t)status);
    jsonw_lit(w, ",\"detail\":");
    if (detail == NULL)
        detail = kind->title;
    if (!jsonw_string(w, detail, strlen(detail)))
        jsonw_lit(w, "\"(detail was not valid UTF-8)\"");
    if (instance != NULL && jsonw_utf8_valid(instance, strlen(instance))) {
        jsonw_lit(w, ",\"instance\":");
        jsonw_string(w, instance, strlen(instance));
    }
    if (request_id != NULL && jsonw_utf8_valid(request_id, strlen(request_id))) {
        jsonw_lit(w, ",\"request_id\":");
        jsonw_string(w, request_id, strlen(request_id));
    }
    jsonw_lit(w, "}");
}

char *problem_render(int status, const char *detail, const char *instance, const char *request_id,
                     size_t *len)
{
    struct jsonw w;
    jsonw_init(&w);
    problem_write(&w, status, detail, instance, request_id);
    return jsonw_take(&w, len);
}

static void problem_send_detail(struct response *resp, const struct request *req, int status,
                                const char *detail)
{
    response_cleanup(resp);
    size_t len = 0;
    char *body =
        problem_render(status, detail, req ? req->path : NULL, req ? req->request_id : NULL, &len);
    /* Out of memory even for this: the status alone, with an empty body. */
    response_bytes(resp, status, body ? "application/problem+json" : NULL, body, len);
    if (status == 503)
        resp->retry_after = PROBLEM_RETRY_AFTER_S;
}

void problem_send(struct response *resp, const struct request *req, int status, const char *fmt,
                  ...)
{
    char detail[ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    problem_send_detail(resp, req, status, detail);
}

void problem_append(struct jsonw *w, const struct request *req, const struct error_info *err)
{
    problem_write(w, problem_status(err->code), err->detail, req ? req->path : NULL,
                  req ? req->request_id : NULL);
}

void problem_from_error(struct response *resp, const struct request *req,
                        const struct error_info *err)
{
    problem_send_detail(resp, req, problem_status(err->code), err->detail);
}
