/*
 * classify_endpoint.h - GET and POST /classify. See the /classify section of
 * openapi/openapi.yaml.
 */
#ifndef TESSERA_HANDLERS_CLASSIFY_ENDPOINT_H
#define TESSERA_HANDLERS_CLASSIFY_ENDPOINT_H

#include "request.h"

void classify_endpoint_get(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);
void classify_endpoint_post(const struct handler_context *ctx, const struct request *req,
                            struct response *resp);

#endif
