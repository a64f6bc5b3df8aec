/*
 * topk_endpoint.h - POST /topk: top-k values, per-row top-k and k nearest neighbours of
 * points, from JSON or raw little-endian arrays. See /topk in openapi/openapi.yaml.
 */
#ifndef TESSERA_HANDLERS_TOPK_ENDPOINT_H
#define TESSERA_HANDLERS_TOPK_ENDPOINT_H

#include "request.h"

void topk_endpoint_post(const struct handler_context *ctx, const struct request *req,
                        struct response *resp);

#endif
