/*
 * problem.c - RFC 9457 problem details: the single path from an error to an HTTP answer.
 * The "type" of each problem is a stable URN per status, so clients can switch on it.
 */
#include "problem.h"
#include "jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

static const struct problem_kind *problem_kind_of(int status)
{
    for (size_t i = 0; i < sizeof problem_kinds / sizeof problem_kinds[0]; i++)
        if (problem_kinds[i].status == status)
            return &problem_kinds[i];
    return &problem_kinds[14]; /* 500 */
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

json_t *problem_object(int status, const char *detail, const char *instance, const char *request_id)
{
    const struct problem_kind *kind = problem_kind_of(status);
    char type[96];
    snprintf(type, sizeof type, "urn:tessera:problem:%s", kind->slug);
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    int bad = json_object_set_new(obj, "type", json_string(type));
    bad |= json_object_set_new(obj, "title", json_string(kind->title));
    bad |= json_object_set_new(obj, "status", json_integer(status));
    /* detail may hold bytes from a file or a client: json_string rejects invalid UTF-8. */
    json_t *d = json_string(detail ? detail : kind->title);
    if (d == NULL)
        d = json_string("(detail was not valid UTF-8)");
    bad |= json_object_set_new(obj, "detail", d);
    if (instance != NULL) {
        json_t *inst = json_string(instance);
        bad |= inst ? json_object_set_new(obj, "instance", inst) : 0;
    }
    if (request_id != NULL)
        bad |= json_object_set_new(obj, "request_id", json_string(request_id));
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static void problem_send_detail(struct response *resp, const struct request *req, int status,
                                const char *detail)
{
    response_cleanup(resp);
    json_t *obj =
        problem_object(status, detail, req ? req->path : NULL, req ? req->request_id : NULL);
    response_json(resp, status, obj);
    resp->content_type = "application/problem+json";
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
    json_t *p = problem_object(problem_status(err->code), err->detail, req ? req->path : NULL,
                               req ? req->request_id : NULL);
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(p);
    jsonw_lit(w, text ? text : "null");
    free(text);
}

void problem_from_error(struct response *resp, const struct request *req,
                        const struct error_info *err)
{
    problem_send_detail(resp, req, problem_status(err->code), err->detail);
}
