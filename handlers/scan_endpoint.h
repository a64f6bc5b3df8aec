/*
 * scan_endpoint.h - GET and POST /scan: list image files under the data root. See the
 * /scan section of openapi/openapi.yaml for the contract.
 */
#ifndef TESSERA_HANDLERS_SCAN_ENDPOINT_H
#define TESSERA_HANDLERS_SCAN_ENDPOINT_H

#include "request.h"

void scan_endpoint_get(const struct handler_context *ctx, const struct request *req,
                       struct response *resp);
void scan_endpoint_post(const struct handler_context *ctx, const struct request *req,
                        struct response *resp);

#endif
