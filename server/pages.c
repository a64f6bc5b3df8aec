/*
 * pages.c - GET /, /healthz, /readyz, /metrics and /openapi.yaml; see pages.h.
 */
#include "pages.h"
#include "http.h"
#include "metrics.h"
#include "problem.h"
#include "routes.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

/* Generated at build time from openapi/openapi.yaml (server/embed.cmake). */
extern const unsigned char openapi_spec_yaml[];
extern const size_t openapi_spec_yaml_len;

static const struct server *pages_server;

void pages_init(const struct server *srv)
{
    pages_server = srv;
}

static void pages_text(struct response *resp, int status, const char *type, const char *text,
                       size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        response_cleanup(resp);
        resp->status = 503;
        resp->retry_after = 1;
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    response_bytes(resp, status, type, copy, len);
}

void pages_healthz(const struct handler_context *ctx, const struct request *req,
                   struct response *resp)
{
    (void)ctx;
    (void)req;
    static const char ok[] = "{\"status\":\"ok\"}";
    pages_text(resp, 200, "application/json", ok, sizeof ok - 1);
}

void pages_readyz(const struct handler_context *ctx, const struct request *req,
                  struct response *resp)
{
    if (pages_server != NULL && atomic_load(&pages_server->draining)) {
        problem_send(resp, req, 503, "draining: the server is shutting down");
        return;
    }
    struct stat st;
    if (fstat(ctx->root_fd, &st) != 0 || st.st_nlink == 0) {
        problem_send(resp, req, 503, "the data root is gone");
        return;
    }
    static const char ok[] = "{\"status\":\"ready\"}";
    pages_text(resp, 200, "application/json", ok, sizeof ok - 1);
}

void pages_metrics(const struct handler_context *ctx, const struct request *req,
                   struct response *resp)
{
    (void)ctx;
    size_t len;
    char *text = metrics_render(TESSERA_VERSION, &len);
    if (text == NULL) {
        problem_send(resp, req, 503, "out of memory rendering metrics");
        return;
    }
    response_bytes(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void pages_openapi(const struct handler_context *ctx, const struct request *req,
                   struct response *resp)
{
    (void)ctx;
    (void)req;
    pages_text(resp, 200, "application/yaml", (const char *)openapi_spec_yaml,
               openapi_spec_yaml_len);
}

/* ---------------------------------------------------------------------------------------
 * The human page
 * --------------------------------------------------------------------------------------- */

struct pages_buf {
    char *data;
    size_t len, cap;
    bool failed;
};

static void pages_put(struct pages_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void pages_puts(struct pages_buf *b, const char *s)
{
    pages_put(b, s, strlen(s));
}

/* Append s with &, <, >, " and ' escaped. */
static void pages_escaped(struct pages_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            pages_puts(b, "&amp;");
            break;
        case '<':
            pages_puts(b, "&lt;");
            break;
        case '>':
            pages_puts(b, "&gt;");
            break;
        case '"':
            pages_puts(b, "&quot;");
            break;
        case '\'':
            pages_puts(b, "&#39;");
            break;
        default:
            pages_put(b, s, 1);
        }
    }
}

void pages_index(const struct handler_context *ctx, const struct request *req,
                 struct response *resp)
{
    struct pages_buf b = {0};
    pages_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>Tessera</title><style>"
                   "body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;"
                   "padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .25rem}"
                   "table{border-collapse:collapse}td,th{padding:.3rem .8rem;"
                   "border-bottom:1px solid #ddd;text-align:left}</style></head><body>\n"
                   "<h1>Tessera</h1>\n<p>An HTTP service for multiplex-imaging pipelines: scan "
                   "image directories, classify image files (OME-TIFF, pyramids, vendor "
                   "slides, Zarr) and say which reader opens them, count label-image "
                   "overlaps (IoU, matching) and find top-k and nearest neighbours.</p>\n"
                   "<p>Version <code>" TESSERA_VERSION "</code>. Data root: <code>");
    pages_escaped(&b, ctx->root_path);
    pages_puts(&b, "</code>. Every path in a request is relative to it.</p>\n"
                   "<h2>Endpoints</h2>\n<table><tr><th>Method</th><th>Path</th>"
                   "<th>What it does</th></tr>\n");
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes[i];
        pages_puts(&b, "<tr><td>");
        pages_puts(&b, r->method);
        pages_puts(&b, "</td><td>");
        if (strcmp(r->method, "GET") == 0) {
            pages_puts(&b, "<a href=\"");
            pages_escaped(&b, r->path);
            pages_puts(&b, "\">");
            pages_escaped(&b, r->path);
            pages_puts(&b, "</a>");
        } else {
            pages_escaped(&b, r->path);
        }
        pages_puts(&b, "</td><td>");
        pages_escaped(&b, r->summary);
        pages_puts(&b, "</td></tr>\n");
    }
    pages_puts(&b, "</table>\n<p>The full contract is <a href=\"/openapi.yaml\">"
                   "/openapi.yaml</a>. Errors are <code>application/problem+json</code> "
                   "(RFC 9457) with a <code>request_id</code>.</p>\n</body></html>\n");
    if (b.failed) {
        free(b.data);
        problem_send(resp, req, 503, "out of memory rendering the page");
        return;
    }
    response_bytes(resp, 200, "text/html; charset=utf-8", b.data, b.len);
}
