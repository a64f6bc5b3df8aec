/*
 * classify_endpoint.h - GET and POST /classify, and the batch classification that
 * /scan?classify=true shares. See the /classify section of openapi/openapi.yaml.
 */
#ifndef TESSERA_HANDLERS_CLASSIFY_ENDPOINT_H
#define TESSERA_HANDLERS_CLASSIFY_ENDPOINT_H

#include "classify.h"
#include "jsonw.h"
#include "request.h"

#include <stdbool.h>
#include <sys/stat.h>

/* One path to classify and, after classify_endpoint_run, its outcome. */
struct classify_item {
    const char *path; /* relative to the data root; borrowed */
    size_t path_len;
    struct classify_result result;
    struct stat st;
    bool cached;
    struct error_info err; /* code != ERROR_OK: this item failed */
};

/* Classify items[0..n) concurrently (up to limits->threads), through ctx->cache. */
void classify_endpoint_run(const struct handler_context *ctx, struct classify_item *items,
                           size_t n);

/* Append one item as the classification object, or {"path", "error": problem} on failure. */
void classify_endpoint_write(struct jsonw *w, const struct classify_item *item,
                             const struct request *req);

void classify_endpoint_get(const struct handler_context *ctx, const struct request *req,
                           struct response *resp);
void classify_endpoint_post(const struct handler_context *ctx, const struct request *req,
                            struct response *resp);

#endif
