/*
 * pages.h - the service's own routes: the human page, health, readiness, metrics, and the
 * embedded files (the OpenAPI document, its Swagger UI rendering and the assets both pages
 * load). They read the server's state through handler_context.server (server/server.h) and
 * the matched route through handler_context.route, so they live in server/, not handlers/.
 * All are light (answered on the connection thread) and allocate only the response body.
 */
#ifndef TESSERA_SERVER_PAGES_H
#define TESSERA_SERVER_PAGES_H

#include "request.h"

#include <stdbool.h>

void pages_index(const struct handler_context *ctx, const struct request *req,
                 struct response *resp);
void pages_healthz(const struct handler_context *ctx, const struct request *req,
                   struct response *resp);
void pages_readyz(const struct handler_context *ctx, const struct request *req,
                  struct response *resp);
void pages_metrics(const struct handler_context *ctx, const struct request *req,
                   struct response *resp);
/* The page of GET / without the data root, public so a browser can load it when the server
 * needs a token (the page then asks for the token and reads the root from GET /). */
void pages_ui(const struct handler_context *ctx, const struct request *req, struct response *resp);

/* GET /openapi.yaml, /docs and /assets/...: the embedded file of the matched route's .asset
 * (404 when the route has none). */
void pages_asset(const struct handler_context *ctx, const struct request *req,
                 struct response *resp);

#endif
