/*
 * overlap_endpoint.c - POST /overlap: contingency counts of two label images, IoU per pair,
 * and the evaluation (matching, metrics, batch aggregate) of handlers/overlap_eval.
 *
 * Three ways in, one way through: JSON naming two label images under the data root (TIFF
 * files, Zarr arrays or multiscale groups), JSON with a "pairs" batch (pairs run
 * concurrently, each failing on its own), or multipart/form-data with the TIFF or .npy bytes
 * as parts "a" and "b" and the options as part "options". Each pair is one core call,
 * overlap_file_count (core/overlap_file: confine, decode, count, finish), then
 * overlap_eval_run when the request asks for an evaluation; answers are columnar arrays
 * sorted by (a, b), written with jsonw (a big segmentation has 10^5+ pairs). A batch writes
 * and frees each pair's result as soon as the pairs before it are written, so its memory is
 * that of the pairs in flight (and of those that finished ahead of a slower one) plus the
 * answer's text, not every pair's counts at once. One pair asked with Accept:
 * application/x-npy is answered with its pairs table as a .npy structured array instead
 * (fields a, b, count as little-endian uint64, and iou as float64 when asked), 24 or 32 bytes
 * a row, which numpy loads without parsing text.
 */
#include "overlap_endpoint.h"
#include "alloc.h"
#include "overlap_eval.h"
#include "jsonw.h"
#include "limit.h"
#include "multipart.h"
#include "overlap_file.h"
#include "parallel.h"
#include "problem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct overlap_query {
    struct overlap_options opt;
    unsigned page_a, page_b;
    struct overlap_eval_query eval;
    bool hide_background;      /* counted for the evaluation, not listed in the answer */
    unsigned level_a, level_b; /* multiscale level of a Zarr group */
    bool volume_a, volume_b;   /* a TIFF's pages are the z-slices of a volume */
};

/* The source fields a body or a pair may give: level, level_a, level_b, volume, volume_a,
 * volume_b (the bare names set both sides; a side's own field wins). */
struct overlap_source_fields {
    json_t *level, *level_a, *level_b, *volume, *volume_a, *volume_b;
};

/* clang-format off */
#define OVERLAP_SOURCE_FIELDS(f)                                                                   \
    {"level", REQUEST_FIELD_INTEGER, false, &(f).level},                                           \
    {"level_a", REQUEST_FIELD_INTEGER, false, &(f).level_a},                                       \
    {"level_b", REQUEST_FIELD_INTEGER, false, &(f).level_b},                                       \
    {"volume", REQUEST_FIELD_BOOL, false, &(f).volume},                                            \
    {"volume_a", REQUEST_FIELD_BOOL, false, &(f).volume_a},                                        \
    {"volume_b", REQUEST_FIELD_BOOL, false, &(f).volume_b}
/* clang-format on */

struct overlap_pair {
    /* Input: two images, paths under the root or uploaded bytes (path NULL). */
    struct overlap_file_image a, b;
    /* Outcome. */
    struct overlap_file_result out;
    struct overlap_eval_result eval;
    struct error_info err;
    bool finished; /* batches: counted, waiting for the pairs before it to be rendered */
};

/* A batch renders pair i as soon as pairs 0 .. i-1 are rendered, and frees it, so it holds
 * only the results of pairs that finished ahead of a slower one, not the whole batch. */
struct overlap_batch {
    const struct handler_context *ctx;
    const struct request *req;
    const struct overlap_query *query;
    struct overlap_pair *pairs;
    size_t n;
    unsigned threads_per_pair;
    struct jsonw *w; /* the batch answer; NULL for one pair, which its caller renders */
    struct overlap_eval_dataset *dataset;
    pthread_mutex_t lock; /* guards w, dataset, rendered and the pairs' finished flags */
    size_t rendered;
};

static void overlap_batch_render(struct overlap_batch *batch, size_t i);

/* ---------------------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------------------------- */

/* Field name (v, may be absent) as a page index into *out. */
static bool overlap_page(const struct request *req, const json_t *v, const char *name,
                         unsigned *out, struct response *resp)
{
    uint64_t page = *out;
    if (!request_json_u64(req, v, name, 0, LIMIT_OVERLAP_MAX_PAGE, &page, resp))
        return false;
    *out = (unsigned)page;
    return true;
}

/* The source fields f into the sides a and b (each keeps what it had for a field absent). */
static bool overlap_sources_from(const struct request *req, const struct overlap_source_fields *f,
                                 struct overlap_file_image *a, struct overlap_file_image *b,
                                 struct response *resp)
{
    if (!overlap_page(req, f->level, "level", &a->level, resp) ||
        !overlap_page(req, f->level, "level", &b->level, resp) ||
        !overlap_page(req, f->level_a, "level_a", &a->level, resp) ||
        !overlap_page(req, f->level_b, "level_b", &b->level, resp))
        return false;
    if (f->volume != NULL)
        a->volume = b->volume = json_is_true(f->volume);
    if (f->volume_a != NULL)
        a->volume = json_is_true(f->volume_a);
    if (f->volume_b != NULL)
        b->volume = json_is_true(f->volume_b);
    return true;
}

/* The query's source defaults as the sides of one pair. */
static void overlap_sides_init(const struct overlap_query *q, struct overlap_file_image *a,
                               struct overlap_file_image *b)
{
    a->page = q->page_a;
    b->page = q->page_b;
    a->level = q->level_a;
    b->level = q->level_b;
    a->volume = q->volume_a;
    b->volume = q->volume_b;
}

/* The options shared by every form; a, b and pairs are taken by the caller's table. */
static bool overlap_options_from(const struct request *req, json_t *obj, bool allow_sources,
                                 struct overlap_query *q, json_t **a, json_t **b, json_t **pairs,
                                 struct response *resp)
{
    json_t *page_a, *page_b, *background, *iou;
    struct overlap_eval_fields ef;
    struct overlap_source_fields sf;
    const struct request_field fields[] = {
        {"page_a", REQUEST_FIELD_INTEGER, false, &page_a},
        {"page_b", REQUEST_FIELD_INTEGER, false, &page_b},
        OVERLAP_SOURCE_FIELDS(sf),
        {"include_background", REQUEST_FIELD_BOOL, false, &background},
        {"iou", REQUEST_FIELD_BOOL, false, &iou},
        {"match_threshold", REQUEST_FIELD_NUMBER_OR_ARRAY, false, &ef.threshold},
        {"criterion", REQUEST_FIELD_STRING, false, &ef.criterion},
        {"stardist_float32", REQUEST_FIELD_BOOL, false, &ef.float32},
        {"report_matches", REQUEST_FIELD_BOOL, false, &ef.report_matches},
        {"metrics", REQUEST_FIELD_ARRAY, false, &ef.metrics},
        {"aggregate", REQUEST_FIELD_STRING, false, &ef.aggregate},
        {"a", REQUEST_FIELD_STRING, false, a},
        {"b", REQUEST_FIELD_STRING, false, b},
        {"pairs", REQUEST_FIELD_ARRAY, false, pairs},
    };
    /* the last three, a, b and pairs, only where the body may name the images */
    size_t n = sizeof fields / sizeof fields[0] - (allow_sources ? 0 : 3);
    if (!request_json_fields(req, obj, fields, n, resp))
        return false;
    struct overlap_file_image sa = {0}, sb = {0};
    if (!overlap_page(req, page_a, "page_a", &q->page_a, resp) ||
        !overlap_page(req, page_b, "page_b", &q->page_b, resp) ||
        !overlap_sources_from(req, &sf, &sa, &sb, resp))
        return false;
    q->level_a = sa.level;
    q->level_b = sb.level;
    q->volume_a = sa.volume;
    q->volume_b = sb.volume;
    if (background != NULL)
        q->opt.include_background = json_is_true(background);
    if (iou != NULL)
        q->opt.iou = json_is_true(iou);
    if (!overlap_eval_parse(req, &ef, &q->eval, resp))
        return false;
    if (q->eval.aggregate != OVERLAP_EVAL_NONE && (pairs == NULL || *pairs == NULL)) {
        problem_send(resp, req, 400, "field 'aggregate' needs a batch ('pairs')");
        return false;
    }
    /* The evaluation needs every pair counted, background ones too. */
    if (overlap_eval_wanted(&q->eval)) {
        q->hide_background = !q->opt.include_background;
        q->opt.include_background = true;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Running one pair
 * --------------------------------------------------------------------------------------- */

static void overlap_run_pair(void *arg, size_t i)
{
    struct overlap_batch *batch = arg;
    const struct handler_context *ctx = batch->ctx;
    struct overlap_pair *pair = &batch->pairs[i];
    const struct overlap_file_options opt = {
        .root_fd = ctx->root_fd,
        .max_pixels = ctx->limits->max_pixels,
        .max_decode_buffer = ctx->limits->max_decode_buffer,
        .max_ifds = ctx->limits->max_ifds,
        .zarr_json_max = ctx->limits->zarr_json_max,
        .max_pairs = ctx->limits->max_pairs,
        .max_request_memory = ctx->limits->max_request_memory,
        .threads = batch->threads_per_pair,
        .deadline = batch->req->deadline_ns,
        .overlap = batch->query->opt,
    };
    error_init(&pair->err);
    /* On failure pair->err is rendered in place of the counts, and out holds nothing. */
    if (overlap_file_count(&opt, &pair->a, &pair->b, &pair->out, &pair->err) == ERROR_OK &&
        overlap_eval_wanted(&batch->query->eval) &&
        overlap_eval_run(&batch->query->eval, &pair->out.counts, ctx->limits->max_match_component,
                         batch->req->deadline_ns, &pair->eval, &pair->err) != ERROR_OK)
        overlap_result_cleanup(&pair->out.counts);
    if (batch->w != NULL)
        overlap_batch_render(batch, i);
}

/* Count (and evaluate) pairs; with w, render each into w as a batch item and free it. */
static void overlap_run(const struct handler_context *ctx, const struct request *req,
                        const struct overlap_query *q, struct overlap_pair *pairs, size_t n,
                        struct jsonw *w, struct overlap_eval_dataset *dataset)
{
    unsigned threads = ctx->limits->threads ? ctx->limits->threads : 1;
    struct overlap_batch batch = {
        .ctx = ctx,
        .req = req,
        .query = q,
        .pairs = pairs,
        .n = n,
        .threads_per_pair = n > 1 ? 1 : threads,
        .w = w,
        .dataset = dataset,
    };
    pthread_mutex_init(&batch.lock, NULL);
    parallel_for(n, n > 1 ? threads : 1, overlap_run_pair, &batch);
    pthread_mutex_destroy(&batch.lock);
}

/* ---------------------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------------------------- */

/* Row i of the pairs table is listed unless it is a background row counted only for the
 * evaluation. */
static bool overlap_row_listed(const struct overlap_result *r, size_t i, bool hide_background)
{
    return !hide_background || (r->a[i] != 0 && r->b[i] != 0);
}

static void overlap_u64_array(struct jsonw *w, const char *key, const struct overlap_result *r,
                              const uint64_t *v, bool hide_background)
{
    jsonw_lit(w, key);
    jsonw_lit(w, "[");
    const char *sep = "";
    for (size_t i = 0; i < r->n_pairs; i++)
        if (overlap_row_listed(r, i, hide_background)) {
            jsonw_lit(w, sep);
            jsonw_u64(w, v[i]);
            sep = ",";
        }
    jsonw_lit(w, "]");
}

static void overlap_write_result(struct jsonw *w, const struct overlap_query *q,
                                 const struct overlap_pair *pair)
{
    const struct overlap_result *r = &pair->out.counts;
    bool hide = q->hide_background;
    if (pair->out.info_a.depth > 1) { /* a volume: (depth, height, width) */
        jsonw_member_u64(w, "\"depth\":", pair->out.info_a.depth);
        jsonw_lit(w, ",");
    }
    jsonw_member_u64(w, "\"height\":", pair->out.info_a.height);
    jsonw_member_u64(w, ",\"width\":", pair->out.info_a.width);
    jsonw_member_u64(w, ",\"labels_a\":", r->labels_a);
    jsonw_member_u64(w, ",\"labels_b\":", r->labels_b);
    jsonw_lit(w, ",\"pairs\":{");
    overlap_u64_array(w, "\"a\":", r, r->a, hide);
    overlap_u64_array(w, ",\"b\":", r, r->b, hide);
    overlap_u64_array(w, ",\"count\":", r, r->count, hide);
    if (r->iou != NULL) {
        jsonw_lit(w, ",\"iou\":[");
        const char *sep = "";
        for (size_t i = 0; i < r->n_pairs; i++)
            if (overlap_row_listed(r, i, hide)) {
                jsonw_lit(w, sep);
                jsonw_double(w, r->iou[i]);
                sep = ",";
            }
        jsonw_lit(w, "]");
    }
    jsonw_lit(w, "}");
    overlap_eval_write(w, &q->eval, &pair->eval);
}

static void overlap_write_path(struct jsonw *w, const char *key, const char *path, size_t len)
{
    jsonw_lit(w, key);
    if (path == NULL || !jsonw_string(w, path, len))
        jsonw_lit(w, "null");
}

static void overlap_put_le64(unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The pairs table of one pair as a .npy file (version 1.0: magic, header length, a header
 * dict padded with spaces to a multiple of 64 bytes, then the rows). */
static void overlap_answer_npy(const struct request *req, const struct overlap_query *q,
                               const struct overlap_pair *pair, struct response *resp)
{
    const struct overlap_result *r = &pair->out.counts;
    size_t rows = 0;
    for (size_t i = 0; i < r->n_pairs; i++)
        rows += overlap_row_listed(r, i, q->hide_background);
    const bool iou = r->iou != NULL;
    const size_t row_bytes = iou ? 32 : 24;
    char dict[256];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': [('a', '<u8'), ('b', '<u8'), ('count', '<u8')%s], "
                       "'fortran_order': False, 'shape': (%zu,), }",
                       iou ? ", ('iou', '<f8')" : "", rows);
    const size_t header = ((size_t)len + 11 + 63) / 64 * 64; /* magic 6, version 2, length 2 */
    if (rows > (LIMIT_MAX_ANSWER - header) / row_bytes) {
        problem_send(resp, req, 413, "the .npy answer of %zu pairs would pass %llu bytes", rows,
                     (unsigned long long)LIMIT_MAX_ANSWER);
        return;
    }
    const size_t total = header + rows * row_bytes;
    unsigned char *out = alloc_large(total);
    if (out == NULL) {
        problem_send(resp, req, 503, "cannot allocate the answer");
        return;
    }
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)((header - 10) & 0xFF);
    out[9] = (unsigned char)((header - 10) >> 8);
    memcpy(out + 10, dict, (size_t)len);
    memset(out + 10 + len, ' ', header - 10 - (size_t)len - 1);
    out[header - 1] = '\n';
    unsigned char *row = out + header;
    for (size_t i = 0; i < r->n_pairs; i++) {
        if (!overlap_row_listed(r, i, q->hide_background))
            continue;
        overlap_put_le64(row, r->a[i]);
        overlap_put_le64(row + 8, r->b[i]);
        overlap_put_le64(row + 16, r->count[i]);
        if (iou) {
            uint64_t bits;
            memcpy(&bits, &r->iou[i], sizeof bits);
            overlap_put_le64(row + 24, bits);
        }
        row += row_bytes;
    }
    response_bytes(resp, 200, "application/x-npy", (char *)out, total);
}

static void overlap_answer_one(const struct request *req, const struct overlap_query *q,
                               struct overlap_pair *pair, struct response *resp)
{
    if (pair->err.code != ERROR_OK) {
        problem_from_error(resp, req, &pair->err);
        return;
    }
    if (request_accepts(req, "application/x-npy")) {
        overlap_answer_npy(req, q, pair, resp);
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{");
    overlap_write_result(&w, q, pair);
    jsonw_lit(&w, "}");
    response_jsonw(resp, req, &w);
}

/* Pair i has finished: render every pair from the first unrendered one up to the first
 * that is still running, in order, freeing each as it is written. */
static void overlap_batch_render(struct overlap_batch *batch, size_t i)
{
    pthread_mutex_lock(&batch->lock);
    batch->pairs[i].finished = true;
    for (; batch->rendered < batch->n && batch->pairs[batch->rendered].finished;
         batch->rendered++) {
        struct overlap_pair *pair = &batch->pairs[batch->rendered];
        struct jsonw *w = batch->w;
        jsonw_lit(w, batch->rendered ? ",{" : "{");
        overlap_write_path(w, "\"a\":", pair->a.path, pair->a.len);
        overlap_write_path(w, ",\"b\":", pair->b.path, pair->b.len);
        if (pair->err.code != ERROR_OK) {
            jsonw_lit(w, ",\"error\":");
            problem_append(w, batch->req, &pair->err);
        } else {
            jsonw_lit(w, ",");
            overlap_write_result(w, batch->query, pair);
            overlap_eval_dataset_add(batch->dataset, &pair->eval);
        }
        jsonw_lit(w, "}");
        overlap_result_cleanup(&pair->out.counts);
        overlap_eval_result_cleanup(&pair->eval);
    }
    pthread_mutex_unlock(&batch->lock);
}

/* Run a batch, rendering {"results": [...], "dataset"?} as its pairs finish. */
static void overlap_run_batch(const struct handler_context *ctx, const struct request *req,
                              const struct overlap_query *q, struct overlap_pair *pairs, size_t n,
                              struct response *resp)
{
    struct overlap_eval_dataset dataset;
    if (!overlap_eval_dataset_init(&dataset, &q->eval)) {
        problem_send(resp, req, 503, "out of memory for the aggregate");
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"results\":[");
    overlap_run(ctx, req, q, pairs, n, &w, &dataset);
    jsonw_lit(&w, "]");
    overlap_eval_dataset_write(&w, &q->eval, &dataset);
    jsonw_lit(&w, "}");
    overlap_eval_dataset_cleanup(&dataset);
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
        struct overlap_source_fields sf;
        const struct request_field fields[] = {
            {"a", REQUEST_FIELD_STRING, true, &a},
            {"b", REQUEST_FIELD_STRING, true, &b},
            {"page_a", REQUEST_FIELD_INTEGER, false, &pa},
            {"page_b", REQUEST_FIELD_INTEGER, false, &pb},
            OVERLAP_SOURCE_FIELDS(sf),
        };
        if (!json_is_object(item)) {
            problem_send(resp, req, 400, "pairs[%zu] must be an object {\"a\", \"b\"}", i);
            free(pairs);
            return false;
        }
        overlap_sides_init(q, &pairs[i].a, &pairs[i].b);
        if (!request_json_fields(req, item, fields, sizeof fields / sizeof fields[0], resp) ||
            !overlap_page(req, pa, "page_a", &pairs[i].a.page, resp) ||
            !overlap_page(req, pb, "page_b", &pairs[i].b.page, resp) ||
            !overlap_sources_from(req, &sf, &pairs[i].a, &pairs[i].b, resp)) {
            free(pairs);
            return false;
        }
        pairs[i].a.path = json_string_value(a);
        pairs[i].a.len = json_string_length(a);
        pairs[i].b.path = json_string_value(b);
        pairs[i].b.len = json_string_length(b);
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
        overlap_run_batch(ctx, req, q, pairs, n, resp);
        goto out;
    }
    if (a == NULL || b == NULL) {
        problem_send(resp, req, 400,
                     "fields 'a' and 'b' (label images under the data root) "
                     "are required, or 'pairs'");
        goto out;
    }
    struct overlap_pair one = {.a = {.path = json_string_value(a), .len = json_string_length(a)},
                               .b = {.path = json_string_value(b), .len = json_string_length(b)}};
    overlap_sides_init(q, &one.a, &one.b);
    overlap_run(ctx, req, q, &one, 1, NULL, NULL);
    overlap_answer_one(req, q, &one, resp);
    overlap_result_cleanup(&one.out.counts);
    overlap_eval_result_cleanup(&one.eval);
out:
    for (size_t i = 0; i < n; i++) {
        overlap_result_cleanup(&pairs[i].out.counts);
        overlap_eval_result_cleanup(&pairs[i].eval);
    }
    free(pairs);
    json_decref(body);
}

/* An uploaded part holds a .npy file when its Content-Type is application/x-npy or its
 * filename ends in .npy; any other part is a TIFF file. */
static bool overlap_part_is_npy(const struct multipart_part *part)
{
    size_t n = strlen(part->filename);
    return strcasecmp(part->content_type, "application/x-npy") == 0 ||
           (n >= 4 && strcasecmp(part->filename + n - 4, ".npy") == 0);
}

static void overlap_from_multipart(const struct handler_context *ctx, const struct request *req,
                                   struct overlap_query *q, struct response *resp)
{
    struct multipart_part parts[LIMIT_OVERLAP_MAX_PARTS];
    size_t n;
    struct error_info err;
    if (multipart_parse(req->content_type, req->body, req->body_len, parts, LIMIT_OVERLAP_MAX_PARTS,
                        &n, &err) != ERROR_OK) {
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
        problem_send(resp, req, 400,
                     "multipart uploads need the parts 'a' and 'b' (TIFF or .npy bytes)");
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
    struct overlap_pair one = {.a = {.data = a->data,
                                     .size = a->len,
                                     .npy = overlap_part_is_npy(a),
                                     .name = "a",
                                     .page = q->page_a},
                               .b = {.data = b->data,
                                     .size = b->len,
                                     .npy = overlap_part_is_npy(b),
                                     .name = "b",
                                     .page = q->page_b}};
    overlap_sides_init(q, &one.a, &one.b);
    overlap_run(ctx, req, q, &one, 1, NULL, NULL);
    overlap_answer_one(req, q, &one, resp);
    overlap_result_cleanup(&one.out.counts);
    overlap_eval_result_cleanup(&one.eval);
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
    if (req->content_type != NULL &&
        strncasecmp(req->content_type, "multipart/form-data", strlen("multipart/form-data")) == 0)
        overlap_from_multipart(ctx, req, &q, resp);
    else
        overlap_from_json(ctx, req, &q, resp);
}
