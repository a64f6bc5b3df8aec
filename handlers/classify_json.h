/*
 * classify_json.h - what /classify and /scan?classify=true share, so both classify alike and
 * answer with the same object: the core/classify_batch options taken from the handler
 * context, and the JSON form of one result (the Classification schema in
 * openapi/openapi.yaml).
 */
#ifndef TESSERA_HANDLERS_CLASSIFY_JSON_H
#define TESSERA_HANDLERS_CLASSIFY_JSON_H

#include "classify_batch.h"
#include "jsonw.h"
#include "request.h"

/* The classify_batch_run options for ctx: its data root, cache, limits and threads. */
void classify_json_options(const struct handler_context *ctx, struct classify_batch_options *opt);

/* Append item as the classification object, or as {"path", "error": problem} when it failed
 * (the problem's instance is req's path). */
void classify_json_write(struct jsonw *w, const struct classify_batch_item *item,
                         const struct request *req);

#endif
