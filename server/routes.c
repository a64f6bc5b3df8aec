/* routes.c - the route table; see routes.h. Endpoints are added here and nowhere else. */
#include "routes.h"
#include "classify_endpoint.h"
#include "overlap_endpoint.h"
#include "pages.h"
#include "scan_endpoint.h"
#include "topk_endpoint.h"

#include <stdio.h>
#include <string.h>

/* clang-format off */
const struct route routes[] = {
    {"GET", "/", pages_index, ROUTE_BODY_NONE, false, false, false,
     "this page: what Tessera is, the data root, the endpoints"},
    {"GET", "/healthz", pages_healthz, ROUTE_BODY_NONE, false, true, false,
     "liveness: 200 while the process serves"},
    {"GET", "/readyz", pages_readyz, ROUTE_BODY_NONE, false, true, false,
     "readiness: 503 while draining or when the data root is gone"},
    {"GET", "/metrics", pages_metrics, ROUTE_BODY_NONE, false, false, false,
     "Prometheus metrics"},
    {"GET", "/scan", scan_endpoint_get, ROUTE_BODY_NONE, true, false, true,
     "list the image files of a directory tree (query options)"},
    {"POST", "/scan", scan_endpoint_post, ROUTE_BODY_JSON, true, false, true,
     "list the image files of a directory tree (JSON options)"},
    {"GET", "/classify", classify_endpoint_get, ROUTE_BODY_NONE, true, false, true,
     "what an image file is and which reader opens it (cached)"},
    {"POST", "/classify", classify_endpoint_post, ROUTE_BODY_JSON, true, false, true,
     "classify many paths at once, concurrently"},
    {"POST", "/overlap", overlap_endpoint_post, ROUTE_BODY_UPLOAD, true, false, true,
     "contingency counts, IoU and matching of two label images"},
    {"POST", "/topk", topk_endpoint_post, ROUTE_BODY_UPLOAD, true, false, false,
     "k smallest / largest, per-row top-k, k nearest neighbours of points"},
    {"GET", "/openapi.yaml", pages_openapi, ROUTE_BODY_NONE, false, false, false,
     "the OpenAPI 3.1 contract"},
    {"GET", "/docs", pages_asset, ROUTE_BODY_NONE, false, true, false,
     "the contract rendered by Swagger UI (try it out from the browser)"},
    {"GET", "/ui", pages_ui, ROUTE_BODY_NONE, false, true, false,
     "this page without the data root, for browsers when a token is needed"},
    {"GET", "/assets/app.js", pages_asset, ROUTE_BODY_NONE, false, true, false, "page script"},
    {"GET", "/assets/app.css", pages_asset, ROUTE_BODY_NONE, false, true, false, "page style"},
    {"GET", "/assets/docs.js", pages_asset, ROUTE_BODY_NONE, false, true, false, "/docs script"},
    {"GET", "/assets/favicon.svg", pages_asset, ROUTE_BODY_NONE, false, true, false, "icon"},
    {"GET", "/assets/swagger-ui-bundle.js", pages_asset, ROUTE_BODY_NONE, false, true, false,
     "Swagger UI (swagger-ui-dist, vendored)"},
    {"GET", "/assets/swagger-ui.css", pages_asset, ROUTE_BODY_NONE, false, true, false,
     "Swagger UI style"},
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
