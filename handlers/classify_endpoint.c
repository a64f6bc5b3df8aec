/*
 * classify_endpoint.c - GET /classify?path=REL and POST /classify {"paths": [...]}: what an
 * image file is and which reader should open it.
 *
 * Both forms make one core call, classify_batch_run (core/classify_batch: confine, cache,
 * classify, on up to limits->threads threads); results stay in request order, and one bad
 * path yields its own problem object instead of failing the batch. Each result is rendered
 * by classify_json, which /scan?classify=true shares.
 */
#include "classify_endpoint.h"
#include "alloc.h"
#include "classify_batch.h"
#include "classify_json.h"
#include "jsonw.h"
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void classify_endpoint_get(const struct handler_context *ctx, const struct request *req,
                           struct response *resp)
{
    static const char *const allowed[] = {"path", NULL};
    if (!request_params_only(req, allowed, resp))
        return;
    const char *path = request_param(req, "path");
    if (path == NULL || path[0] == '\0') {
        problem_send(resp, req, 400, "query parameter 'path' is required");
        return;
    }
    struct classify_batch_options opt;
    classify_json_options(ctx, &opt);
    struct classify_batch_item item = {.path = path, .path_len = strlen(path)};
    classify_batch_run(&opt, &item, 1);
    if (item.err.code != ERROR_OK) {
        problem_from_error(resp, req, &item.err);
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    classify_json_write(&w, &item, req);
    response_jsonw(resp, req, &w);
}

void classify_endpoint_post(const struct handler_context *ctx, const struct request *req,
                            struct response *resp)
{
    static const char *const none[] = {NULL};
    if (!request_params_only(req, none, resp))
        return;
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return;
    json_t *paths;
    const struct request_field fields[] = {{"paths", REQUEST_FIELD_ARRAY, true, &paths}};
    struct classify_batch_item *items = NULL;
    if (!request_json_fields(req, body, fields, 1, resp))
        goto out;
    size_t n = json_array_size(paths);
    if (n > ctx->limits->classify_batch) {
        problem_send(resp, req, 413, "%zu paths in one request; the limit is %u", n,
                     ctx->limits->classify_batch);
        goto out;
    }
    items = alloc_zeroed(n ? n : 1, sizeof *items);
    if (items == NULL) {
        problem_send(resp, req, 503, "out of memory for %zu paths", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(paths, i);
        if (!json_is_string(p)) {
            problem_send(resp, req, 400, "paths[%zu] must be a string", i);
            goto out;
        }
        items[i].path = json_string_value(p);
        items[i].path_len = json_string_length(p);
    }
    struct classify_batch_options opt;
    classify_json_options(ctx, &opt);
    classify_batch_run(&opt, items, n);
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            jsonw_lit(&w, ",");
        classify_json_write(&w, &items[i], req);
    }
    jsonw_lit(&w, "]}");
    response_jsonw(resp, req, &w);
out:
    free(items);
    json_decref(body);
}
