/*
 * request.c - small helpers every handler uses: query parameters, media types, deadlines,
 * and building the response body.
 */
#include "request.h"
#include "problem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool request_expired(const struct request *req)
{
    return req->deadline_ns != 0 && request_now_ns() > req->deadline_ns;
}

void response_bytes(struct response *resp, int status, const char *content_type, char *body,
                    size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
}

void response_json(struct response *resp, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(json);
    if (text == NULL) {
        static const char fallback[] = "{\"type\":\"urn:tessera:problem:internal-error\","
                                       "\"title\":\"Internal Server Error\",\"status\":500,"
                                       "\"detail\":\"could not render the response\"}";
        char *copy = malloc(sizeof fallback);
        if (copy != NULL)
            memcpy(copy, fallback, sizeof fallback);
        response_bytes(resp, 500, "application/problem+json", copy, copy ? sizeof fallback - 1 : 0);
        return;
    }
    response_bytes(resp, status, "application/json", text, strlen(text));
}

void response_cleanup(struct response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = 500;
    resp->content_type = NULL;
    resp->retry_after = 0;
}
