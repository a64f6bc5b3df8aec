/*
 * classify_endpoint.c - GET /classify?path=REL and POST /classify {"paths": [...]}: what an
 * image file is and which reader should open it, from core/classify, through the metadata
 * cache (core/cache). Also serves /scan?classify=true through classify_endpoint_run.
 *
 * Each path is opened once beneath the data root (confine_open, whose fstat also keys the
 * cache, so a hit costs no further system call); batches run on up to limits->threads
 * threads (core/parallel), results stay in request order, and one bad path yields its own
 * problem object instead of failing the batch.
 */
#include "classify_endpoint.h"
#include "alloc.h"
#include "confine.h"
#include "parallel.h"
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct classify_batch {
    const struct handler_context *ctx;
    struct classify_item *items;
};

static void classify_endpoint_one(void *arg, size_t i)
{
    struct classify_batch *batch = arg;
    const struct handler_context *ctx = batch->ctx;
    struct classify_item *item = &batch->items[i];
    error_init(&item->err);
    int fd;
    if (confine_open(ctx->root_fd, item->path, item->path_len, CONFINE_ANY, &fd, &item->st,
                     &item->err) != ERROR_OK)
        return;
    item->cached = ctx->cache != NULL && cache_lookup_stat(ctx->cache, &item->st, &item->result);
    if (!item->cached) {
        struct classify_options opt = {.max_ifds = ctx->limits->max_ifds,
                                       .zarr_json_max = ctx->limits->zarr_json_max};
        if (classify_fd_at(ctx->root_fd, item->path, item->path_len, fd, &item->st, &opt,
                           &item->result, &item->err) == ERROR_OK &&
            ctx->cache != NULL)
            cache_insert(ctx->cache, &item->st, &item->result);
    }
    close(fd);
}

void classify_endpoint_run(const struct handler_context *ctx, struct classify_item *items, size_t n)
{
    struct classify_batch batch = {ctx, items};
    parallel_for(n, ctx->limits->threads, classify_endpoint_one, &batch);
}

/* ---------------------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------------------------- */

static void classify_endpoint_name(struct jsonw *w, const char *key, const char *value)
{
    jsonw_lit(w, key);
    if (value == NULL || value[0] == '\0')
        jsonw_lit(w, "null");
    else if (!jsonw_string(w, value, strlen(value)))
        jsonw_lit(w, "null");
}

void classify_endpoint_write(struct jsonw *w, const struct classify_item *item,
                             const struct request *req)
{
    jsonw_lit(w, "{\"path\":");
    if (!jsonw_string(w, item->path, item->path_len))
        jsonw_lit(w, "null");
    if (item->err.code != ERROR_OK) {
        jsonw_lit(w, ",\"error\":");
        problem_append(w, req, &item->err);
        jsonw_lit(w, "}");
        return;
    }
    const struct classify_result *r = &item->result;
    jsonw_member_u64(w, ",\"size\":", S_ISREG(item->st.st_mode) ? (uint64_t)item->st.st_size : 0);
    jsonw_lit(w, ",\"mtime\":");
    jsonw_time(w, item->st.st_mtim.tv_sec, item->st.st_mtim.tv_nsec);
    classify_endpoint_name(w, ",\"container\":", classify_container_name(r->container));
    classify_endpoint_name(w, ",\"format\":", r->format);
    jsonw_member_bool(w, ",\"is_ome\":", r->is_ome);
    jsonw_member_bool(w, ",\"is_bigtiff\":", r->is_bigtiff);
    jsonw_member_bool(w, ",\"is_imagej\":", r->is_imagej);
    classify_endpoint_name(w, ",\"vendor\":", r->vendor);
    jsonw_member_bool(w, ",\"can_use_openslide\":", r->can_use_openslide);
    jsonw_member_bool(w, ",\"can_use_vips\":", r->can_use_vips);
    classify_endpoint_name(w, ",\"reader\":", classify_reader_name(r->reader));
    classify_endpoint_name(w, ",\"img_type\":", classify_img_type_name(r->img_type));
    jsonw_member_u64(w, ",\"width\":", r->width);
    jsonw_member_u64(w, ",\"height\":", r->height);
    jsonw_member_u64(w, ",\"channels\":", r->channels);
    classify_endpoint_name(w, ",\"dtype\":", r->dtype);
    jsonw_member_bool(w, ",\"tiled\":", r->tiled);
    jsonw_member_u64(w, ",\"tile_width\":", r->tile_width);
    jsonw_member_u64(w, ",\"tile_height\":", r->tile_height);
    classify_endpoint_name(w, ",\"compression\":", r->compression);
    jsonw_member_u64(w, ",\"pages\":", r->pages);
    jsonw_member_u64(w, ",\"levels\":", r->levels);
    jsonw_member_bool(w, ",\"cached\":", item->cached);
    jsonw_lit(w, "}");
}

/* ---------------------------------------------------------------------------------------
 * Endpoints
 * --------------------------------------------------------------------------------------- */

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
    struct classify_item item = {.path = path, .path_len = strlen(path)};
    classify_endpoint_run(ctx, &item, 1);
    if (item.err.code != ERROR_OK) {
        problem_from_error(resp, req, &item.err);
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    classify_endpoint_write(&w, &item, req);
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
    struct classify_item *items = NULL;
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
    classify_endpoint_run(ctx, items, n);
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            jsonw_lit(&w, ",");
        classify_endpoint_write(&w, &items[i], req);
    }
    jsonw_lit(&w, "]}");
    response_jsonw(resp, req, &w);
out:
    free(items);
    json_decref(body);
}
