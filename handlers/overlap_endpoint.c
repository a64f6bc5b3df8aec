/*
 * overlap_endpoint.c - POST /overlap: contingency counts of two label images, IoU per pair
 * and StarDist matching, from core/load (streaming, strip/tile-parallel decoding) and
 * core/overlap (sparse run counting).
 *
 * Three ways in, one way through: JSON naming two TIFFs under the data root, JSON with a
 * "pairs" batch (pairs run concurrently, each failing on its own), or multipart/form-data
 * with the TIFF bytes as parts "a" and "b" and the options as part "options". Each becomes
 * struct overlap_pair items run by overlap_endpoint_run_pair; answers are columnar arrays
 * sorted by (a, b), written with jsonw (a big segmentation has 10^5+ pairs).
 */
#include "overlap_endpoint.h"
#include "alloc.h"
#include "confine.h"
#include "jsonw.h"
#include "load.h"
#include "multipart.h"
#include "overlap.h"
#include "parallel.h"
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Parts accepted in one multipart upload: a, b, options, and room to name a stray one. */
#define OVERLAP_MAX_PARTS 4

struct overlap_query {
    struct overlap_options opt;
    unsigned page_a, page_b;
};

struct overlap_pair {
    /* Input: a path under the root, or uploaded bytes. */
    const char *path_a, *path_b;
    size_t len_a, len_b;
    const struct multipart_part *upload_a, *upload_b;
    unsigned page_a, page_b;
    /* Outcome. */
    struct overlap_result result;
    struct load_info info_a, info_b;
    struct error_info err;
};

struct overlap_batch {
    const struct handler_context *ctx;
    const struct request *req;
    const struct overlap_query *query;
    struct overlap_pair *pairs;
    unsigned threads_per_pair;
};

/* ---------------------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------------------------- */

static bool overlap_page(const struct request *req, const json_t *v, const char *name,
                         unsigned *out, struct response *resp)
{
    if (v == NULL)
        return true;
    json_int_t n = json_integer_value(v);
    if (n < 0 || n > 1000000) {
        problem_send(resp, req, 400, "field '%s' must be an integer in [0, 1000000]", name);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

/* The options shared by every form; a, b and pairs are taken by the caller's table. */
static bool overlap_options_from(const struct request *req, json_t *obj, bool allow_sources,
                                 struct overlap_query *q, json_t **a, json_t **b, json_t **pairs,
                                 struct response *resp)
{
    json_t *page_a, *page_b, *background, *iou, *threshold;
    const struct request_field fields[] = {
        {"page_a", REQUEST_FIELD_INTEGER, false, &page_a},
        {"page_b", REQUEST_FIELD_INTEGER, false, &page_b},
        {"include_background", REQUEST_FIELD_BOOL, false, &background},
        {"iou", REQUEST_FIELD_BOOL, false, &iou},
        {"match_threshold", REQUEST_FIELD_NUMBER, false, &threshold},
        {"a", REQUEST_FIELD_STRING, false, a},
        {"b", REQUEST_FIELD_STRING, false, b},
        {"pairs", REQUEST_FIELD_ARRAY, false, pairs},
    };
    size_t n = sizeof fields / sizeof fields[0] - (allow_sources ? 0 : 3);
    if (!request_json_fields(req, obj, fields, n, resp))
        return false;
    if (!overlap_page(req, page_a, "page_a", &q->page_a, resp) ||
        !overlap_page(req, page_b, "page_b", &q->page_b, resp))
        return false;
    if (background != NULL)
        q->opt.include_background = json_is_true(background);
    if (iou != NULL)
        q->opt.iou = json_is_true(iou);
    if (threshold != NULL) {
        struct error_info err;
        double t = json_number_value(threshold);
        if (overlap_match_check(t, &err) != ERROR_OK) {
            problem_from_error(resp, req, &err);
            return false;
        }
        q->opt.match = true;
        q->opt.match_threshold = t;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Running one pair
 * --------------------------------------------------------------------------------------- */

static enum error_code overlap_source(const struct handler_context *ctx, const char *path,
                                      size_t len, const struct multipart_part *upload,
                                      const char *side, unsigned page, struct load_source *src,
                                      struct error_info *err)
{
    memset(src, 0, sizeof *src);
    src->fd = -1;
    src->page = page;
    if (upload != NULL) {
        src->data = upload->data;
        src->size = upload->len;
        src->name = side;
        return ERROR_OK;
    }
    src->name = path;
    return confine_open(ctx->root_fd, path, len, CONFINE_FILE, &src->fd, NULL, err);
}

static void overlap_run_pair(void *arg, size_t i)
{
    struct overlap_batch *batch = arg;
    const struct handler_context *ctx = batch->ctx;
    struct overlap_pair *pair = &batch->pairs[i];
    struct load_source sa, sb;
    struct overlap_counter *counter = NULL;
    error_init(&pair->err);
    sb.fd = -1;
    if (overlap_source(ctx, pair->path_a, pair->len_a, pair->upload_a, "a", pair->page_a, &sa,
                       &pair->err) != ERROR_OK ||
        overlap_source(ctx, pair->path_b, pair->len_b, pair->upload_b, "b", pair->page_b, &sb,
                       &pair->err) != ERROR_OK)
        goto out;
    counter = overlap_counter_new(ctx->limits->max_pairs, &pair->err);
    if (counter == NULL)
        goto out;
    struct load_options lo;
    load_options_init(&lo);
    lo.max_pixels = ctx->limits->max_pixels;
    lo.max_alloc = ctx->limits->max_decode_buffer;
    lo.max_ifds = ctx->limits->max_ifds;
    lo.threads = batch->threads_per_pair;
    lo.deadline = batch->req->deadline_ns;
    if (load_overlap(&sa, &sb, &lo, counter, &pair->info_a, &pair->info_b, &pair->err) != ERROR_OK)
        goto out;
    if (overlap_counter_finish(counter, &batch->query->opt, &pair->result, &pair->err) != ERROR_OK)
        overlap_result_cleanup(&pair->result);
out:
    overlap_counter_free(counter);
    if (sa.fd >= 0)
        close(sa.fd);
    if (sb.fd >= 0)
        close(sb.fd);
}

static void overlap_run(const struct handler_context *ctx, const struct request *req,
                        const struct overlap_query *q, struct overlap_pair *pairs, size_t n)
{
    unsigned threads = ctx->limits->threads ? ctx->limits->threads : 1;
    struct overlap_batch batch = {ctx, req, q, pairs, n > 1 ? 1 : threads};
    parallel_for(n, n > 1 ? threads : 1, overlap_run_pair, &batch);
}

/* ---------------------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------------------------- */

static void overlap_u64_array(struct jsonw *w, const char *key, const uint64_t *v, size_t n)
{
    jsonw_lit(w, key);
    jsonw_lit(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_lit(w, ",");
        jsonw_u64(w, v[i]);
    }
    jsonw_lit(w, "]");
}

static void overlap_write_result(struct jsonw *w, const struct overlap_pair *pair)
{
    const struct overlap_result *r = &pair->result;
    jsonw_member_u64(w, "\"height\":", pair->info_a.height);
    jsonw_member_u64(w, ",\"width\":", pair->info_a.width);
    jsonw_member_u64(w, ",\"labels_a\":", r->labels_a);
    jsonw_member_u64(w, ",\"labels_b\":", r->labels_b);
    jsonw_lit(w, ",\"pairs\":{");
    overlap_u64_array(w, "\"a\":", r->a, r->n_pairs);
    overlap_u64_array(w, ",\"b\":", r->b, r->n_pairs);
    overlap_u64_array(w, ",\"count\":", r->count, r->n_pairs);
    if (r->iou != NULL) {
        jsonw_lit(w, ",\"iou\":[");
        for (size_t i = 0; i < r->n_pairs; i++) {
            if (i)
                jsonw_lit(w, ",");
            jsonw_double(w, r->iou[i]);
        }
        jsonw_lit(w, "]");
    }
    jsonw_lit(w, "}");
    if (r->has_matching) {
        const struct overlap_matching *m = &r->matching;
        jsonw_member_double(w, ",\"matching\":{\"threshold\":", m->threshold);
        jsonw_member_u64(w, ",\"tp\":", m->tp);
        jsonw_member_u64(w, ",\"fp\":", m->fp);
        jsonw_member_u64(w, ",\"fn\":", m->fn);
        jsonw_member_double(w, ",\"precision\":", m->precision);
        jsonw_member_double(w, ",\"recall\":", m->recall);
        jsonw_member_double(w, ",\"f1\":", m->f1);
        jsonw_member_double(w, ",\"mean_matched_iou\":", m->mean_matched_iou);
        jsonw_member_double(w, ",\"panoptic_quality\":", m->panoptic_quality);
        jsonw_lit(w, "}");
    }
}

static void overlap_write_path(struct jsonw *w, const char *key, const char *path, size_t len)
{
    jsonw_lit(w, key);
    if (path == NULL || !jsonw_string(w, path, len))
        jsonw_lit(w, "null");
}

static void overlap_answer_one(const struct request *req, struct overlap_pair *pair,
                               struct response *resp)
{
    if (pair->err.code != ERROR_OK) {
        problem_from_error(resp, req, &pair->err);
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{");
    overlap_write_result(&w, pair);
    jsonw_lit(&w, "}");
    response_jsonw(resp, req, &w);
}

static void overlap_answer_batch(const struct request *req, struct overlap_pair *pairs, size_t n,
                                 struct response *resp)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        const struct overlap_pair *pair = &pairs[i];
        jsonw_lit(&w, i ? ",{" : "{");
        overlap_write_path(&w, "\"a\":", pair->path_a, pair->len_a);
        overlap_write_path(&w, ",\"b\":", pair->path_b, pair->len_b);
        if (pair->err.code != ERROR_OK) {
            jsonw_lit(&w, ",\"error\":");
            problem_append(&w, req, &pair->err);
        } else {
            jsonw_lit(&w, ",");
            overlap_write_result(&w, pair);
        }
        jsonw_lit(&w, "}");
    }
    jsonw_lit(&w, "]}");
    response_jsonw(resp, req, &w);
}

/* ---------------------------------------------------------------------------------------
 * The three request forms
 * --------------------------------------------------------------------------------------- */

static bool overlap_pairs_from(const struct handler_context *ctx, const struct request *req,
                               json_t *list, const struct overlap_query *q,
                               struct overlap_pair **out, size_t *n, struct response *resp)
{
    size_t count = json_array_size(list);
    *n = 0; /* set only on success: the caller frees by it */
    if (count == 0 || count > ctx->limits->max_batch) {
        problem_send(resp, req, count ? 413 : 400, "'pairs' holds %zu pairs; give 1 to %u", count,
                     ctx->limits->max_batch);
        return false;
    }
    struct overlap_pair *pairs = alloc_zeroed(count, sizeof *pairs);
    if (pairs == NULL) {
        problem_send(resp, req, 503, "out of memory for %zu pairs", count);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i), *a, *b, *pa, *pb;
        const struct request_field fields[] = {
            {"a", REQUEST_FIELD_STRING, true, &a},
            {"b", REQUEST_FIELD_STRING, true, &b},
            {"page_a", REQUEST_FIELD_INTEGER, false, &pa},
            {"page_b", REQUEST_FIELD_INTEGER, false, &pb},
        };
        if (!json_is_object(item)) {
            problem_send(resp, req, 400, "pairs[%zu] must be an object {\"a\", \"b\"}", i);
            free(pairs);
            return false;
        }
        pairs[i].page_a = q->page_a;
        pairs[i].page_b = q->page_b;
        if (!request_json_fields(req, item, fields, 4, resp) ||
            !overlap_page(req, pa, "page_a", &pairs[i].page_a, resp) ||
            !overlap_page(req, pb, "page_b", &pairs[i].page_b, resp)) {
            free(pairs);
            return false;
        }
        pairs[i].path_a = json_string_value(a);
        pairs[i].len_a = json_string_length(a);
        pairs[i].path_b = json_string_value(b);
        pairs[i].len_b = json_string_length(b);
    }
    *out = pairs;
    *n = count;
    return true;
}

static void overlap_from_json(const struct handler_context *ctx, const struct request *req,
                              struct overlap_query *q, struct response *resp)
{
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return;
    json_t *a = NULL, *b = NULL, *list = NULL;
    struct overlap_pair *pairs = NULL;
    size_t n = 0;
    if (!overlap_options_from(req, body, true, q, &a, &b, &list, resp))
        goto out;
    if (list != NULL) {
        if (a != NULL || b != NULL) {
            problem_send(resp, req, 400, "give either 'a' and 'b', or 'pairs'");
            goto out;
        }
        if (!overlap_pairs_from(ctx, req, list, q, &pairs, &n, resp))
            goto out;
        overlap_run(ctx, req, q, pairs, n);
        overlap_answer_batch(req, pairs, n, resp);
        goto out;
    }
    if (a == NULL || b == NULL) {
        problem_send(resp, req, 400,
                     "fields 'a' and 'b' (label images under the data root) "
                     "are required, or 'pairs'");
        goto out;
    }
    struct overlap_pair one = {.path_a = json_string_value(a),
                               .len_a = json_string_length(a),
                               .path_b = json_string_value(b),
                               .len_b = json_string_length(b),
                               .page_a = q->page_a,
                               .page_b = q->page_b};
    overlap_run(ctx, req, q, &one, 1);
    overlap_answer_one(req, &one, resp);
    overlap_result_cleanup(&one.result);
out:
    for (size_t i = 0; i < n; i++)
        overlap_result_cleanup(&pairs[i].result);
    free(pairs);
    json_decref(body);
}

static void overlap_from_multipart(const struct handler_context *ctx, const struct request *req,
                                   struct overlap_query *q, struct response *resp)
{
    struct multipart_part parts[OVERLAP_MAX_PARTS];
    size_t n;
    struct error_info err;
    if (multipart_parse(req->content_type, req->body, req->body_len, parts, OVERLAP_MAX_PARTS, &n,
                        &err) != ERROR_OK) {
        problem_from_error(resp, req, &err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, "a") != 0 && strcmp(parts[i].name, "b") != 0 &&
            strcmp(parts[i].name, "options") != 0) {
            problem_send(resp, req, 400, "unknown multipart part '%s'; send a, b and options",
                         parts[i].name);
            return;
        }
    const struct multipart_part *a = multipart_find(parts, n, "a");
    const struct multipart_part *b = multipart_find(parts, n, "b");
    const struct multipart_part *options = multipart_find(parts, n, "options");
    if (a == NULL || b == NULL) {
        problem_send(resp, req, 400, "multipart uploads need the parts 'a' and 'b' (TIFF bytes)");
        return;
    }
    if (options != NULL &&
        (options->len > ctx->limits->max_json_body ||
         request_json_nodes(options->data, options->len) > ctx->limits->max_json_nodes)) {
        problem_send(resp, req, 413,
                     "part 'options' is larger than a JSON body may be (--max-json-body, "
                     "--max-json-nodes)");
        return;
    }
    if (options != NULL) {
        json_error_t jerr;
        unsigned long failures = alloc_failures_here();
        json_t *obj =
            json_loadb((const char *)options->data, options->len, JSON_REJECT_DUPLICATES, &jerr);
        if (alloc_failures_here() != failures) { /* see request_json_object */
            json_decref(obj);
            problem_send(resp, req, 503, "out of memory parsing part 'options'");
            return;
        }
        if (obj == NULL || !json_is_object(obj)) {
            json_decref(obj);
            problem_send(resp, req, 400, "part 'options' must be a JSON object: %s",
                         obj ? "not an object" : jerr.text);
            return;
        }
        bool ok = overlap_options_from(req, obj, false, q, NULL, NULL, NULL, resp);
        json_decref(obj);
        if (!ok)
            return;
    }
    struct overlap_pair one = {
        .upload_a = a, .upload_b = b, .page_a = q->page_a, .page_b = q->page_b};
    overlap_run(ctx, req, q, &one, 1);
    overlap_answer_one(req, &one, resp);
    overlap_result_cleanup(&one.result);
}

void overlap_endpoint_post(const struct handler_context *ctx, const struct request *req,
                           struct response *resp)
{
    static const char *const none[] = {NULL};
    if (!request_params_only(req, none, resp))
        return;
    struct overlap_query q;
    memset(&q, 0, sizeof q);
    q.opt.include_background = true;
    if (req->content_type != NULL && strncasecmp(req->content_type, "multipart/form-data", 19) == 0)
        overlap_from_multipart(ctx, req, &q, resp);
    else
        overlap_from_json(ctx, req, &q, resp);
}
