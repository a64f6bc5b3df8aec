/*
 * routes.c - the route table and its lookups; see routes.h. Endpoints are added here and
 * nowhere else: an embedded file is served by adding its row (and its FILE:SYMBOL pair in
 * CMakeLists.txt), a probe reaches the admin port with .admin = true.
 */
#include "routes.h"
#include "classify_endpoint.h"
#include "overlap_endpoint.h"
#include "overlay_endpoint.h"

#include "quantify_endpoint.h"
#include "pages.h"
#include "preview_endpoint.h"
#include "scan_endpoint.h"
#include "topk_endpoint.h"

#include <stdio.h>
#include <string.h>

/* Generated at build time from openapi/openapi.yaml and web/ (server/embed.cmake). */
extern const unsigned char openapi_spec_yaml[], web_docs_html[], web_app_css[], web_app_js[],
    web_docs_js[], web_favicon_svg[], web_swagger_ui_bundle_js[], web_swagger_ui_css[];
extern const size_t openapi_spec_yaml_len, web_docs_html_len, web_app_css_len, web_app_js_len,
    web_docs_js_len, web_favicon_svg_len, web_swagger_ui_bundle_js_len, web_swagger_ui_css_len;

#define ROUTES_HTML "text/html; charset=utf-8"
#define ROUTES_CSS  "text/css; charset=utf-8"
#define ROUTES_JS   "text/javascript; charset=utf-8"

static const struct route_asset routes_openapi = {"application/yaml", openapi_spec_yaml,
                                                  &openapi_spec_yaml_len};
static const struct route_asset routes_docs = {ROUTES_HTML, web_docs_html, &web_docs_html_len};
static const struct route_asset routes_app_js = {ROUTES_JS, web_app_js, &web_app_js_len};
static const struct route_asset routes_app_css = {ROUTES_CSS, web_app_css, &web_app_css_len};
static const struct route_asset routes_docs_js = {ROUTES_JS, web_docs_js, &web_docs_js_len};
static const struct route_asset routes_favicon = {"image/svg+xml", web_favicon_svg,
                                                  &web_favicon_svg_len};
static const struct route_asset routes_swagger_js = {ROUTES_JS, web_swagger_ui_bundle_js,
                                                     &web_swagger_ui_bundle_js_len};
static const struct route_asset routes_swagger_css = {ROUTES_CSS, web_swagger_ui_css,
                                                      &web_swagger_ui_css_len};

/* clang-format off */
const struct route routes[] = {
    {.method = "GET", .path = "/", .handler = pages_index,
     .summary = "this page: what Tessera is, the data root, the endpoints"},
    {.method = "GET", .path = "/healthz", .handler = pages_healthz, .public = true, .admin = true,
     .summary = "liveness: 200 while the process serves"},
    {.method = "GET", .path = "/readyz", .handler = pages_readyz, .public = true, .admin = true,
     .summary = "readiness: 503 while draining or when the data root is gone"},
    {.method = "GET", .path = "/metrics", .handler = pages_metrics, .admin = true,
     .summary = "Prometheus metrics"},
    {.method = "GET", .path = "/scan", .handler = scan_endpoint_get, .heavy = true, .root = true,
     .summary = "list the image files of a directory tree (query options)"},
    {.method = "POST", .path = "/scan", .handler = scan_endpoint_post, .body = ROUTE_BODY_JSON,
     .heavy = true, .root = true,
     .summary = "list the image files of a directory tree (JSON options)"},
    {.method = "GET", .path = "/classify", .handler = classify_endpoint_get, .heavy = true,
     .root = true, .summary = "what an image file is and which reader opens it (cached)"},
    {.method = "GET", .path = "/preview", .handler = preview_endpoint_get, .heavy = true,
     .root = true, .summary = "a PNG of an image from its pyramid level nearest the size"},
    {.method = "POST", .path = "/classify", .handler = classify_endpoint_post,
     .body = ROUTE_BODY_JSON, .heavy = true, .root = true,
     .summary = "classify many paths at once, concurrently"},
    {.method = "POST", .path = "/overlap", .handler = overlap_endpoint_post,
     .body = ROUTE_BODY_UPLOAD, .heavy = true, .root = true,
     .summary = "contingency counts, IoU and matching of two label images"},
    {.method = "POST", .path = "/overlap/render", .handler = overlay_endpoint_post,
     .body = ROUTE_BODY_JSON, .heavy = true, .root = true,
     .summary = "a PNG of a label pair at one threshold: tp, fp, fn and outlines"},
    {.method = "POST", .path = "/quantify", .handler = quantify_endpoint_post,
     .body = ROUTE_BODY_UPLOAD, .heavy = true, .root = true,
     .summary = "per-cell intensity of every channel and cell shape (mcquant's table)"},
    {.method = "POST", .path = "/topk", .handler = topk_endpoint_post, .body = ROUTE_BODY_UPLOAD,
     .heavy = true,
     .summary = "k smallest / largest, per-row top-k, k nearest neighbours of points"},
    {.method = "GET", .path = "/openapi.yaml", .handler = pages_asset, .asset = &routes_openapi,
     .summary = "the OpenAPI 3.1 contract"},
    {.method = "GET", .path = "/docs", .handler = pages_asset, .public = true,
     .asset = &routes_docs,
     .summary = "the contract rendered by Swagger UI (try it out from the browser)"},
    {.method = "GET", .path = "/ui", .handler = pages_ui, .public = true,
     .summary = "this page without the data root, for browsers when a token is needed"},
    {.method = "GET", .path = "/assets/app.js", .handler = pages_asset, .public = true,
     .unlisted = true, .asset = &routes_app_js, .summary = "page script"},
    {.method = "GET", .path = "/assets/app.css", .handler = pages_asset, .public = true,
     .unlisted = true, .asset = &routes_app_css, .summary = "page style"},
    {.method = "GET", .path = "/assets/docs.js", .handler = pages_asset, .public = true,
     .unlisted = true, .asset = &routes_docs_js, .summary = "/docs script"},
    {.method = "GET", .path = "/assets/favicon.svg", .handler = pages_asset, .public = true,
     .unlisted = true, .asset = &routes_favicon, .summary = "icon"},
    {.method = "GET", .path = "/assets/swagger-ui-bundle.js", .handler = pages_asset,
     .public = true, .unlisted = true, .asset = &routes_swagger_js,
     .summary = "Swagger UI (swagger-ui-dist, vendored)"},
    {.method = "GET", .path = "/assets/swagger-ui.css", .handler = pages_asset, .public = true,
     .unlisted = true, .asset = &routes_swagger_css, .summary = "Swagger UI style"},
};
/* clang-format on */

const size_t routes_count = sizeof routes / sizeof routes[0];

const struct route *routes_find(const char *method, const char *path, bool *path_known)
{
    *path_known = false;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t i = 0; i < routes_count; i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        *path_known = true;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

void routes_allow(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < routes_count; i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        bool get = strcmp(routes[i].method, "GET") == 0;
        int w = snprintf(buf + n, size - n, "%s%s%s", n ? ", " : "", routes[i].method,
                         get ? ", HEAD" : "");
        if (w < 0 || (size_t)w >= size - n)
            return;
        n += (size_t)w;
    }
    snprintf(buf + n, size - n, "%sOPTIONS", n ? ", " : "");
}

bool routes_admin_path(const char *path)
{
    for (size_t i = 0; i < routes_count; i++)
        if (routes[i].admin && strcmp(routes[i].path, path) == 0)
            return true;
    return false;
}

void routes_admin_list(char *buf, size_t size)
{
    size_t total = 0, written = 0, n = 0;
    for (size_t i = 0; i < routes_count; i++)
        total += routes[i].admin;
    buf[0] = '\0';
    for (size_t i = 0; i < routes_count && n < size; i++) {
        if (!routes[i].admin)
            continue;
        const char *sep = written == 0 ? "" : written + 1 == total ? " and " : ", ";
        int w = snprintf(buf + n, size - n, "%s%s", sep, routes[i].path);
        if (w < 0)
            return;
        n += (size_t)w;
        written++;
    }
}
