/*
 * preview_endpoint.h - GET /preview: a PNG of an image beneath the data root (core/preview),
 * cacheable by ETag. See the /preview section of openapi/openapi.yaml.
 *
 * The ETag hashes the file's identity as the classification cache keys it (device, inode,
 * size, mtime and ctime to the nanosecond: one fstat of the descriptor the preview reads)
 * with the normalised options, so a rewritten or replaced file gets a new tag and two
 * spellings of one query share one. If-None-Match with that tag (or *) is a 304 without
 * decoding anything; answers carry Cache-Control: private, no-cache (reuse after asking).
 */
#ifndef TESSERA_HANDLERS_PREVIEW_ENDPOINT_H
#define TESSERA_HANDLERS_PREVIEW_ENDPOINT_H

#include "request.h"

#include <stdint.h>

void preview_endpoint_get(const struct handler_context *ctx, const struct request *req,
                          struct response *resp);

/* Make resp a 200 image/png of the width x height RGB8 pixels, or the problem when encoding
 * fails (the answer is capped at LIMIT_MAX_ANSWER bytes). Shared with /overlap/render. */
void preview_endpoint_send_png(struct response *resp, const struct request *req, const uint8_t *rgb,
                               uint32_t width, uint32_t height);

#endif
