/*
 * overlay_endpoint.h - POST /overlap/render: a PNG of a ground-truth / prediction pair at one
 * matching threshold, true positives, false positives and false negatives in three colours
 * with both outlines (core/overlay). See the /overlap/render section of openapi/openapi.yaml.
 *
 * A companion of POST /overlap rather than an option of it: /overlap answers JSON, CSV or
 * binary columns for one pair or a batch, and a picture is one pair at one threshold with its
 * own media type, so a separate operation keeps each answer's type fixed by its path. The
 * counting and matching are /overlap's own calls: overlap_file_count, then overlap_eval_run
 * with one threshold and the matched pairs reported; only the drawing is new.
 */
#ifndef TESSERA_HANDLERS_OVERLAY_ENDPOINT_H
#define TESSERA_HANDLERS_OVERLAY_ENDPOINT_H

#include "request.h"

void overlay_endpoint_post(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);

#endif
