/*
 * pages.h - the service's own routes: the human page, health, readiness, metrics and the
 * OpenAPI document. They read server state, so they live in server/, not handlers/.
 */
#ifndef TESSERA_SERVER_PAGES_H
#define TESSERA_SERVER_PAGES_H

#include "request.h"

#include <stdbool.h>

struct server;

/* Give the pages the server they describe. Call once before serving. */
void pages_init(const struct server *srv);

void pages_index(const struct handler_context *ctx, const struct request *req,
                 struct response *resp);
void pages_healthz(const struct handler_context *ctx, const struct request *req,
                   struct response *resp);
void pages_readyz(const struct handler_context *ctx, const struct request *req,
                  struct response *resp);
void pages_metrics(const struct handler_context *ctx, const struct request *req,
                   struct response *resp);
void pages_openapi(const struct handler_context *ctx, const struct request *req,
                   struct response *resp);

#endif
