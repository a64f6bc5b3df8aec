/*
 * overlap_endpoint.h - POST /overlap: contingency counts, IoU and matching of two label
 * images (paths, a batch of pairs, or multipart uploads). See /overlap in
 * openapi/openapi.yaml.
 */
#ifndef TESSERA_HANDLERS_OVERLAP_ENDPOINT_H
#define TESSERA_HANDLERS_OVERLAP_ENDPOINT_H

#include "request.h"

void overlap_endpoint_post(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);

#endif
