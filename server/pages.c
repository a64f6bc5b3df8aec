/*
 * pages.c - GET /, /ui, /docs, /assets/..., /healthz, /readyz, /metrics and /openapi.yaml;
 * see pages.h. Everything served here is either computed from server state or embedded in
 * the binary at build time: the page never loads anything from elsewhere.
 */
#include "pages.h"
#include "metrics.h"
#include "problem.h"
#include "route.h"
#include "server.h"

#include "alloc.h"
#include "buf.h"

#include <string.h>
#include <unistd.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

/* The most the page of GET / may hold: the template (~5 KiB), two escaped copies of a
 * --root of at most 4095 bytes (6 bytes a byte at worst) and a row per route fit several
 * times over. A page past it is a 500, never sent cut. */
#define PAGES_MAX (256u << 10)

/* Generated at build time from web/index.html (server/embed.cmake), with a NUL after its
 * len bytes so the template can be searched as a string. The other embedded files are
 * served from the route table's .asset rows. */
extern const unsigned char web_index_html[];
extern const size_t web_index_html_len;

/* Answer a copy of text (the response owns its body); out of memory is a 503 problem. */
static void pages_text(struct response *resp, const struct request *req, int status,
                       const char *type, const char *text, size_t len)
{
    char *copy = alloc_bytes(len + 1);
    if (copy == NULL) {
        problem_send(resp, req, 503, "out of memory for a %zu-byte answer", len);
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
    static const char ok[] = "{\"status\":\"ok\"}";
    pages_text(resp, req, 200, "application/json", ok, sizeof ok - 1);
}

void pages_readyz(const struct handler_context *ctx, const struct request *req,
                  struct response *resp)
{
    const struct server *srv = ctx->server;
    if (srv == NULL) {
        problem_send(resp, req, 503, "the server is starting");
        return;
    }
    if (server_draining(srv)) {
        problem_send(resp, req, 503, "draining: the server is shutting down");
        return;
    }
    char why[160];
    int fd = server_root_open(srv, why, sizeof why);
    if (fd < 0) {
        problem_send(resp, req, 503, "%s", why);
        return;
    }
    close(fd);
    static const char ok[] = "{\"status\":\"ready\"}";
    pages_text(resp, req, 200, "application/json", ok, sizeof ok - 1);
}

void pages_metrics(const struct handler_context *ctx, const struct request *req,
                   struct response *resp)
{
    (void)ctx;
    struct buf out;
    buf_init(&out, METRICS_TEXT_MAX);
    metrics_render(&out, TESSERA_VERSION);
    enum buf_status status = out.status;
    size_t len;
    char *text = buf_take(&out, &len);
    if (text != NULL)
        response_bytes(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    else if (status == BUF_TOO_LARGE)
        problem_send(resp, req, 500, "the metrics text would pass %zu bytes", METRICS_TEXT_MAX);
    else
        problem_send(resp, req, 503, "out of memory rendering metrics");
}

/* ---------------------------------------------------------------------------------------
 * HTML text into a core/buf buffer (failure is sticky and checked once, at the end)
 * --------------------------------------------------------------------------------------- */

/* Append s with &, <, >, " and ' escaped; runs of other bytes are appended whole. */
static void pages_escaped(struct buf *b, const char *s)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *entity = NULL;
        switch (*s) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            continue;
        }
        buf_append(b, run, (size_t)(s - run));
        buf_puts(b, entity);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

/* ---------------------------------------------------------------------------------------
 * The human page
 *
 * web/index.html is a template with {{VERSION}}, {{ROOT}} (the data root, for the page's
 * script), {{ROOT_TEXT}} (the data root as shown) and {{ROUTES}} (one table row per API
 * route). GET / needs the token like the API; GET /ui is the same page without the data
 * root, public so that a browser can load it and ask for the token, after which the
 * script reads the root from GET /.
 * --------------------------------------------------------------------------------------- */

/* One row per listed route of the table the server serves (none outside a server). */
static void pages_route_rows(struct buf *b, const struct server *srv)
{
    for (size_t i = 0; srv != NULL && i < srv->routes_count; i++) {
        const struct route *r = &srv->routes[i];
        if (r->unlisted)
            continue;
        buf_puts(b, "      <tr><td>");
        buf_puts(b, r->method);
        buf_puts(b, "</td><td>");
        if (strcmp(r->method, "GET") == 0) {
            buf_puts(b, "<a href=\"");
            pages_escaped(b, r->path);
            buf_puts(b, "\">");
            pages_escaped(b, r->path);
            buf_puts(b, "</a>");
        } else {
            pages_escaped(b, r->path);
        }
        buf_puts(b, "</td><td>");
        pages_escaped(b, r->summary);
        buf_puts(b, "</td></tr>\n");
    }
}

/* Render web/index.html; root NULL hides the data root. */
static void pages_render(const struct handler_context *ctx, const struct request *req,
                         const char *root, const char *root_text, struct response *resp)
{
    const char *t = (const char *)web_index_html;
    const char *end = t + web_index_html_len;
    struct buf b;
    buf_init(&b, PAGES_MAX);
    while (t < end) {
        const char *open = strstr(t, "{{");
        const char *close = open ? strstr(open, "}}") : NULL;
        if (open == NULL || close == NULL) {
            buf_append(&b, t, (size_t)(end - t));
            break;
        }
        buf_append(&b, t, (size_t)(open - t));
        size_t n = (size_t)(close - open - 2);
        const char *name = open + 2;
        if (n == 7 && strncmp(name, "VERSION", n) == 0)
            pages_escaped(&b, TESSERA_VERSION);
        else if (n == 4 && strncmp(name, "ROOT", n) == 0)
            pages_escaped(&b, root ? root : "");
        else if (n == 9 && strncmp(name, "ROOT_TEXT", n) == 0)
            pages_escaped(&b, root_text);
        else if (n == 6 && strncmp(name, "ROUTES", n) == 0)
            pages_route_rows(&b, ctx->server);
        else
            buf_append(&b, open, n + 4); /* not a placeholder: kept as written */
        t = close + 2;
    }
    enum buf_status status = b.status;
    size_t len;
    char *page = buf_take(&b, &len);
    if (page != NULL)
        response_bytes(resp, 200, "text/html; charset=utf-8", page, len);
    else if (status == BUF_TOO_LARGE)
        problem_send(resp, req, 500, "the page would pass %zu bytes", (size_t)PAGES_MAX);
    else
        problem_send(resp, req, 503, "out of memory rendering the page");
}

void pages_index(const struct handler_context *ctx, const struct request *req,
                 struct response *resp)
{
    pages_render(ctx, req, ctx->root_path, ctx->root_path, resp);
}

void pages_ui(const struct handler_context *ctx, const struct request *req, struct response *resp)
{
    bool open = ctx->server == NULL || !server_needs_token(ctx->server);
    if (open)
        pages_render(ctx, req, ctx->root_path, ctx->root_path, resp);
    else
        pages_render(ctx, req, NULL, "(enter the token to see it)", resp);
}

/* ---------------------------------------------------------------------------------------
 * Embedded files
 *
 * Which file a path serves, and its Content-Type, is the .asset of the route's row in the
 * table (server/routes.c); the server hands the matched row over in the context.
 * --------------------------------------------------------------------------------------- */

void pages_asset(const struct handler_context *ctx, const struct request *req,
                 struct response *resp)
{
    const struct route_asset *a = ctx->route != NULL ? ctx->route->asset : NULL;
    if (a == NULL) {
        problem_send(resp, req, 404, "no asset at '%.200s'", req->path);
        return;
    }
    pages_text(resp, req, 200, a->content_type, (const char *)a->data, *a->len);
}
