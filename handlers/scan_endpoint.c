/*
 * scan_endpoint.c - GET /scan (query options) and POST /scan (the same options as JSON):
 * list the image files of a directory tree under the data root with core/scan, and with
 * classify=true each entry's classification (core/classify_batch, rendered by classify_json
 * exactly as /classify renders it).
 *
 * Both forms fill one struct scan_query, so validation and rendering are shared. The
 * answer is written with jsonw (a scan can return 10^5+ entries). An entry whose path is
 * not valid UTF-8 cannot be carried by JSON: it is reported in errors instead.
 */
#include "scan_endpoint.h"
#include "alloc.h"
#include "classify_batch.h"
#include "classify_json.h"
#include "clock.h"
#include "jsonw.h"
#include "limit.h"
#include "problem.h"
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct scan_query {
    const char *dir;
    size_t dir_len;
    struct scan_options opt;
    bool classify; /* attach each entry's /classify object */
};

static void scan_endpoint_defaults(const struct handler_context *ctx, const struct request *req,
                                   struct scan_query *q)
{
    memset(q, 0, sizeof *q);
    scan_options_init(&q->opt);
    q->dir = "";
    q->opt.max_depth =
        ctx->limits->scan_max_depth < SCAN_DEPTH_MAX ? ctx->limits->scan_max_depth : SCAN_DEPTH_MAX;
    if (q->opt.max_depth > LIMIT_SCAN_DEFAULT_DEPTH)
        q->opt.max_depth = LIMIT_SCAN_DEFAULT_DEPTH;
    q->opt.max_entries = ctx->limits->scan_max_entries < LIMIT_SCAN_DEFAULT_ENTRIES
                             ? ctx->limits->scan_max_entries
                             : LIMIT_SCAN_DEFAULT_ENTRIES;
    q->opt.threads = ctx->limits->threads;
    q->opt.suffixes = &ctx->limits->scan_suffixes;
    q->opt.deadline =
        clock_deadline_min(clock_deadline_ms(ctx->limits->scan_timeout_ms), req->deadline_ns);
}

static uint64_t scan_endpoint_depth_max(const struct handler_context *ctx)
{
    return ctx->limits->scan_max_depth < SCAN_DEPTH_MAX ? ctx->limits->scan_max_depth
                                                        : SCAN_DEPTH_MAX;
}

static bool scan_endpoint_from_query(const struct handler_context *ctx, const struct request *req,
                                     struct scan_query *q, struct response *resp)
{
    static const char *const allowed[] = {"dir",   "recursive", "max_depth", "hidden",
                                          "limit", "classify",  NULL};
    if (!request_params_only(req, allowed, resp))
        return false;
    const char *dir = request_param(req, "dir");
    if (dir != NULL) {
        q->dir = dir;
        q->dir_len = strlen(dir);
    }
    uint64_t depth, limit;
    if (!request_param_bool(req, "recursive", false, &q->opt.recursive, resp) ||
        !request_param_bool(req, "hidden", false, &q->opt.include_hidden, resp) ||
        !request_param_bool(req, "classify", false, &q->classify, resp) ||
        !request_param_u64(req, "max_depth", 0, scan_endpoint_depth_max(ctx), q->opt.max_depth,
                           &depth, resp) ||
        !request_param_u64(req, "limit", 1, ctx->limits->scan_max_entries, q->opt.max_entries,
                           &limit, resp))
        return false;
    q->opt.max_depth = (unsigned)depth;
    q->opt.max_entries = (size_t)limit;
    return true;
}

static bool scan_endpoint_from_body(const struct handler_context *ctx, const struct request *req,
                                    json_t *body, struct scan_query *q, struct response *resp)
{
    json_t *dir, *recursive, *depth, *hidden, *limit, *classify;
    const struct request_field fields[] = {
        {"dir", REQUEST_FIELD_STRING, false, &dir},
        {"recursive", REQUEST_FIELD_BOOL, false, &recursive},
        {"max_depth", REQUEST_FIELD_INTEGER, false, &depth},
        {"hidden", REQUEST_FIELD_BOOL, false, &hidden},
        {"limit", REQUEST_FIELD_INTEGER, false, &limit},
        {"classify", REQUEST_FIELD_BOOL, false, &classify},
    };
    if (!request_json_fields(req, body, fields, sizeof fields / sizeof fields[0], resp))
        return false;
    if (dir != NULL) {
        q->dir = json_string_value(dir);
        q->dir_len = json_string_length(dir);
    }
    if (recursive != NULL)
        q->opt.recursive = json_is_true(recursive);
    if (hidden != NULL)
        q->opt.include_hidden = json_is_true(hidden);
    if (classify != NULL)
        q->classify = json_is_true(classify);
    uint64_t max_depth = q->opt.max_depth, max_entries = q->opt.max_entries;
    if (!request_json_u64(req, depth, "max_depth", 0, scan_endpoint_depth_max(ctx), &max_depth,
                          resp) ||
        !request_json_u64(req, limit, "limit", 1, ctx->limits->scan_max_entries, &max_entries,
                          resp))
        return false;
    q->opt.max_depth = (unsigned)max_depth;
    q->opt.max_entries = (size_t)max_entries;
    return true;
}

static void scan_endpoint_error_item(struct jsonw *w, bool *first, const char *path,
                                     const char *detail)
{
    jsonw_lit(w, *first ? "{\"path\":" : ",{\"path\":");
    *first = false;
    if (!jsonw_string(w, path, strlen(path)))
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"detail\":");
    if (!jsonw_string(w, detail, strlen(detail)))
        jsonw_lit(w, "\"(detail not valid UTF-8)\"");
    jsonw_lit(w, "}");
}

static void scan_endpoint_render(const struct request *req, const struct scan_query *q,
                                 const struct scan_result *res,
                                 const struct classify_batch_item *classified,
                                 struct response *resp)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"dir\":");
    if (!jsonw_string(&w, q->dir, q->dir_len)) {
        jsonw_cleanup(&w);
        problem_send(resp, req, 400, "dir is not valid UTF-8");
        return;
    }
    size_t shown = 0, bad_names = 0;
    jsonw_lit(&w, ",\"entries\":[");
    for (size_t i = 0; i < res->count; i++) {
        const struct scan_entry *e = &res->entries[i];
        if (!jsonw_utf8_valid(e->path, strlen(e->path))) {
            bad_names++;
            continue;
        }
        jsonw_lit(&w, shown ? ",{\"path\":" : "{\"path\":");
        jsonw_string(&w, e->path, strlen(e->path));
        jsonw_lit(&w, ",\"name\":");
        jsonw_string(&w, e->name, strlen(e->name));
        jsonw_lit(&w, ",\"suffix\":\"");
        jsonw_lit(&w, e->suffix);
        jsonw_lit(&w, "\",\"type\":\"");
        jsonw_lit(&w, scan_type_name(e->type));
        jsonw_lit(&w, "\",\"size\":");
        jsonw_u64(&w, e->size);
        jsonw_lit(&w, ",\"mtime\":");
        jsonw_time(&w, e->mtime_sec, e->mtime_nsec);
        if (classified != NULL) {
            jsonw_lit(&w, ",\"classification\":");
            classify_json_write(&w, &classified[i], req);
        }
        jsonw_lit(&w, "}");
        shown++;
    }
    jsonw_lit(&w, "],\"errors\":[");
    bool first = true;
    for (size_t i = 0; i < res->error_count; i++)
        scan_endpoint_error_item(&w, &first, res->errors[i].path, res->errors[i].detail);
    if (bad_names > 0) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "%zu entries have names that are not valid UTF-8 and cannot be listed in JSON",
                 bad_names);
        scan_endpoint_error_item(&w, &first, q->dir_len ? q->dir : ".", detail);
    }
    jsonw_lit(&w, "],\"count\":");
    jsonw_u64(&w, shown);
    jsonw_lit(&w, ",\"truncated\":");
    jsonw_bool(&w, res->truncated);
    jsonw_lit(&w, ",\"errors_dropped\":");
    jsonw_u64(&w, res->errors_dropped);
    jsonw_lit(&w, "}");
    response_jsonw(resp, req, &w);
}

static void scan_endpoint_run(const struct handler_context *ctx, const struct request *req,
                              const struct scan_query *q, struct response *resp)
{
    struct scan_result *res = NULL;
    struct error_info err;
    error_init(&err);
    if (scan_tree(ctx->root_fd, q->dir, q->dir_len, &q->opt, &res, &err) != ERROR_OK) {
        problem_from_error(resp, req, &err);
        return;
    }
    struct classify_batch_item *items = NULL;
    if (q->classify && res->count > 0) {
        items = alloc_zeroed(res->count, sizeof *items);
        if (items == NULL) {
            problem_send(resp, req, 503, "out of memory classifying %zu entries", res->count);
            scan_result_free(res);
            return;
        }
        for (size_t i = 0; i < res->count; i++) {
            items[i].path = res->entries[i].path;
            items[i].path_len = strlen(res->entries[i].path);
        }
        struct classify_batch_options opt;
        classify_json_options(ctx, &opt);
        classify_batch_run(&opt, items, res->count);
    }
    scan_endpoint_render(req, q, res, q->classify ? items : NULL, resp);
    free(items);
    scan_result_free(res);
}

void scan_endpoint_get(const struct handler_context *ctx, const struct request *req,
                       struct response *resp)
{
    struct scan_query q;
    scan_endpoint_defaults(ctx, req, &q);
    if (!scan_endpoint_from_query(ctx, req, &q, resp))
        return;
    scan_endpoint_run(ctx, req, &q, resp);
}

void scan_endpoint_post(const struct handler_context *ctx, const struct request *req,
                        struct response *resp)
{
    struct scan_query q;
    scan_endpoint_defaults(ctx, req, &q);
    static const char *const none[] = {NULL};
    if (!request_params_only(req, none, resp))
        return;
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return;
    if (scan_endpoint_from_body(ctx, req, body, &q, resp))
        scan_endpoint_run(ctx, req, &q, resp);
    json_decref(body); /* q.dir pointed into body: used up above */
}
