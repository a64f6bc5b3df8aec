/*
 * quantify_endpoint.h - POST /quantify: mcquant's per-cell table (intensity of every channel,
 * cell shape) of a label image against its channels, as columnar JSON or mcquant's CSV. See
 * /quantify in openapi/openapi.yaml.
 */
#ifndef TESSERA_HANDLERS_QUANTIFY_ENDPOINT_H
#define TESSERA_HANDLERS_QUANTIFY_ENDPOINT_H

#include "request.h"

void quantify_endpoint_post(const struct handler_context *ctx, const struct request *req,
                            struct response *resp);

#endif
