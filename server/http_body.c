/* http_body.c - request bodies, their limits and the body-memory budget; see http_body.h. */
#include "http_body.h"
#include "metrics.h"
#include "request.h"
#include "server.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Take bytes from the budget; false (nothing taken) when it would pass --max-body-memory. */
static bool http_body_reserve(struct http_body *b, struct server *srv, size_t bytes)
{
    size_t limit = srv->cfg->max_body_memory;
    size_t held = atomic_load(&srv->body_memory);
    do {
        if (bytes > limit || held > limit - bytes)
            return false;
    } while (!atomic_compare_exchange_weak(&srv->body_memory, &held, held + bytes));
    b->reserved += bytes;
    return true;
}

int http_body_open(struct http_body *b, struct server *srv, enum route_body kind,
                   const char *content_type, uint64_t content_length, const char *method,
                   const char *url, char *detail, size_t detail_size)
{
    const struct limits *lim = &srv->cfg->limits;
    bool json = content_type == NULL || strncasecmp(content_type, "application/json", 16) == 0;
    switch (kind) {
    case ROUTE_BODY_NONE:
        b->limit = 0;
        break;
    case ROUTE_BODY_JSON:
        b->limit = lim->max_json_body;
        break;
    case ROUTE_BODY_UPLOAD:
        b->limit = json ? lim->max_json_body : lim->max_binary_body;
        break;
    }
    b->json = kind != ROUTE_BODY_NONE && json;
    buf_init(&b->chunked, b->limit > 0 ? b->limit : 1);
    if (content_length > b->limit) {
        if (b->limit == 0)
            snprintf(detail, detail_size, "%s %s takes no request body", method, url);
        else
            snprintf(detail, detail_size,
                     "request body is %llu bytes; the limit for this %s is %zu",
                     (unsigned long long)content_length, json ? "JSON body" : "upload", b->limit);
        return 413;
    }
    if (content_length > srv->cfg->max_body_memory) {
        snprintf(detail, detail_size,
                 "request body is %llu bytes; the server holds at most %zu bytes of request "
                 "bodies (--max-body-memory)",
                 (unsigned long long)content_length, srv->cfg->max_body_memory);
        return 413;
    }
    if (content_length == 0)
        return 0;
    if (!http_body_reserve(b, srv, (size_t)content_length)) {
        metrics_count(METRICS_BODY_BUDGET);
        snprintf(detail, detail_size,
                 "the server is receiving %zu bytes of request bodies already "
                 "(--max-body-memory); retry shortly",
                 atomic_load(&srv->body_memory));
        return 503;
    }
    b->fixed = alloc_large_lazy((size_t)content_length);
    if (b->fixed == NULL) {
        snprintf(detail, detail_size, "out of memory for a %llu-byte body",
                 (unsigned long long)content_length);
        return 503;
    }
    b->fixed_cap = (size_t)content_length;
    return 0;
}

/* Stop receiving: the body is cut and what it held given back now, not at completion. */
static bool http_body_cut(struct http_body *b, struct server *srv)
{
    http_body_free(b, srv);
    b->cut = true;
    return false;
}

bool http_body_append(struct http_body *b, struct server *srv, const char *data, size_t len)
{
    if (b->cut)
        return false;
    if (b->fixed != NULL) {
        /* libmicrohttpd delivers no more than Content-Length bytes; checked all the same. */
        if (len > b->fixed_cap - b->fixed_len)
            return http_body_cut(b, srv);
        memcpy(b->fixed + b->fixed_len, data, len);
        b->fixed_len += len;
        return true;
    }
    if (len > b->limit - b->chunked.len || buf_reserve(&b->chunked, len) != BUF_OK)
        return http_body_cut(b, srv);
    /* The budget is taken for the buffer's new size after it grows and before a byte is
     * copied into the new room; when it cannot be taken the buffer is freed at once. */
    if (b->chunked.cap > b->reserved && !http_body_reserve(b, srv, b->chunked.cap - b->reserved)) {
        metrics_count(METRICS_BODY_BUDGET);
        return http_body_cut(b, srv);
    }
    buf_append(&b->chunked, data, len); /* cannot fail: the room is reserved */
    return true;
}

const unsigned char *http_body_data(const struct http_body *b)
{
    return (const unsigned char *)(b->fixed != NULL ? b->fixed : b->chunked.data);
}

size_t http_body_len(const struct http_body *b)
{
    return b->fixed != NULL ? b->fixed_len : b->chunked.len;
}

int http_body_check_json(const struct http_body *b, unsigned max_nodes, size_t *nodes, char *detail,
                         size_t detail_size)
{
    *nodes = b->json ? request_json_nodes(http_body_data(b), http_body_len(b)) : 0;
    if (*nodes <= max_nodes)
        return 0;
    snprintf(detail, detail_size,
             "the JSON body holds %zu values (object keys included); the limit is %u "
             "(--max-json-nodes): send large data as application/octet-stream",
             *nodes, max_nodes);
    return 413;
}

void http_body_free(struct http_body *b, struct server *srv)
{
    free(b->fixed);
    b->fixed = NULL;
    b->fixed_len = b->fixed_cap = 0;
    buf_cleanup(&b->chunked);
    atomic_fetch_sub(&srv->body_memory, b->reserved);
    b->reserved = 0;
}
