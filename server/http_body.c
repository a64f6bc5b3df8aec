/* http_body.c - request bodies, their limits and the body-memory budget; see http_body.h. */
#include "http_body.h"
#include "metrics.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

/* Bodies at least this large get huge-page-aligned buffers (the x86-64 huge page size). */
#define HTTP_BODY_HUGE ((size_t)2 << 20)

/* A buffer for a body of len bytes. Large bodies (an 80 MB /topk array, a TIFF upload) are
 * backed by transparent huge pages: first-touch page faults otherwise cost more than the
 * copy itself (measured: 450 ms -> 90 ms for an 80 MB body). The first huge page is left
 * to small pages: memory is committed as bytes arrive, so a client that announces a large
 * body and sends a few bytes (slow body attack) holds kilobytes, not a 2 MB page, and a
 * client past the first 2 MB holds at most one partly filled huge page more than it sent.
 * Freed with free(). */
static char *http_body_block(size_t len)
{
    if (len < HTTP_BODY_HUGE)
        return malloc(len);
    size_t rounded = (len + HTTP_BODY_HUGE - 1) / HTTP_BODY_HUGE * HTTP_BODY_HUGE;
    char *p = aligned_alloc(HTTP_BODY_HUGE, rounded);
    if (p != NULL) { /* advice only: failure changes nothing */
        madvise(p, HTTP_BODY_HUGE, MADV_NOHUGEPAGE);
        if (rounded > HTTP_BODY_HUGE)
            madvise(p + HTTP_BODY_HUGE, rounded - HTTP_BODY_HUGE, MADV_HUGEPAGE);
    }
    return p;
}

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
    b->data = http_body_block((size_t)content_length);
    if (b->data == NULL) {
        snprintf(detail, detail_size, "out of memory for a %llu-byte body",
                 (unsigned long long)content_length);
        return 503;
    }
    b->cap = (size_t)content_length;
    return 0;
}

bool http_body_append(struct http_body *b, struct server *srv, const char *data, size_t len)
{
    if (b->cut)
        return false;
    if (len > b->limit - b->len) {
        b->cut = true;
        return false;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap = cap > b->limit / 2 ? b->limit : cap * 2;
        /* A chunked body takes from the budget as it grows; over it, it is cut. */
        if (cap > b->reserved && !http_body_reserve(b, srv, cap - b->reserved)) {
            metrics_count(METRICS_BODY_BUDGET);
            b->cut = true;
            return false;
        }
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->cut = true;
            return false;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return true;
}

const unsigned char *http_body_data(const struct http_body *b)
{
    return (const unsigned char *)b->data;
}

size_t http_body_len(const struct http_body *b)
{
    return b->len;
}

void http_body_free(struct http_body *b, struct server *srv)
{
    free(b->data);
    b->data = NULL;
    b->cap = 0;
    atomic_fetch_sub(&srv->body_memory, b->reserved);
    b->reserved = 0;
}
