/*
 * overlay_endpoint.c - POST /overlap/render {"a", "b", "threshold", "criterion", "size"}:
 * count and match the pair as /overlap does, decode both label images at the preview size,
 * draw, answer the PNG.
 */
#include "overlay_endpoint.h"
#include "alloc.h"
#include "confine.h"
#include "overlap_eval.h"
#include "overlap_file.h"
#include "overlay.h"
#include "preview_endpoint.h"
#include "preview_tiff.h"
#include "problem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct overlay_query {
    const char *a, *b;
    size_t a_len, b_len;
    struct overlap_eval_query eval;
    uint32_t size;
};

static bool parse(const struct handler_context *ctx, const struct request *req, json_t *body,
                  struct overlay_query *q, struct response *resp)
{
    json_t *a, *b, *threshold, *criterion, *size;
    const struct request_field fields[] = {
        {"a", REQUEST_FIELD_STRING, true, &a},
        {"b", REQUEST_FIELD_STRING, true, &b},
        {"threshold", REQUEST_FIELD_NUMBER, false, &threshold},
        {"criterion", REQUEST_FIELD_STRING, false, &criterion},
        {"size", REQUEST_FIELD_INTEGER, false, &size},
    };
    if (!request_json_fields(req, body, fields, sizeof fields / sizeof fields[0], resp))
        return false;
    memset(q, 0, sizeof *q);
    q->a = json_string_value(a);
    q->a_len = json_string_length(a);
    q->b = json_string_value(b);
    q->b_len = json_string_length(b);
    q->eval.n_thresholds = 1;
    q->eval.thresholds[0] = threshold ? json_number_value(threshold) : 0.5;
    q->eval.report_matches = true;
    q->eval.criterion = EVALUATE_IOU;
    struct error_info err;
    if (evaluate_threshold_check(q->eval.thresholds[0], &err) != ERROR_OK) {
        problem_send(resp, req, 400, "threshold: %s", err.detail);
        return false;
    }
    if (criterion != NULL) {
        const char *c = json_string_value(criterion);
        if (strcmp(c, "iou") == 0) {
            q->eval.criterion = EVALUATE_IOU;
        } else if (strcmp(c, "iot") == 0) {
            q->eval.criterion = EVALUATE_IOT;
        } else if (strcmp(c, "iop") == 0) {
            q->eval.criterion = EVALUATE_IOP;
        } else {
            problem_send(resp, req, 400, "criterion must be iou, iot or iop, not '%.64s'", c);
            return false;
        }
    }
    json_int_t s = size ? json_integer_value(size) : 512;
    if (s < 1 || s > (json_int_t)ctx->limits->preview_max_size) {
        problem_send(resp, req, 400, "size must be in [1, %u]", ctx->limits->preview_max_size);
        return false;
    }
    q->size = (uint32_t)s;
    return true;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Decode the label image at path (one channel, as labels) at the preview size. */
static enum error_code decode_labels(const struct handler_context *ctx, const char *path,
                                     size_t len, uint32_t size, struct preview_plane *plane,
                                     struct error_info *err)
{
    int fd = -1;
    struct stat st;
    enum error_code rc = confine_open(ctx->root_fd, path, len, CONFINE_FILE, &fd, &st, err);
    if (rc != ERROR_OK)
        return rc;
    struct preview_options o;
    preview_options_init(&o);
    o.size = size;
    o.n_channels = 1;
    o.labels = PREVIEW_LABELS_YES;
    o.max_ifds = ctx->limits->max_ifds;
    o.max_decode = ctx->limits->preview_max_decode;
    struct preview_image facts;
    rc = preview_tiff_decode(fd, path, &o, plane, &facts, err);
    close(fd);
    return rc;
}

/* Count and match the pair, then draw it. */
static void render(const struct handler_context *ctx, const struct request *req,
                   const struct overlay_query *q, struct response *resp)
{
    struct overlap_file_image a = {.path = q->a, .len = q->a_len};
    struct overlap_file_image b = {.path = q->b, .len = q->b_len};
    const struct overlap_file_options opt = {
        .root_fd = ctx->root_fd,
        .max_pixels = ctx->limits->max_pixels,
        .max_decode_buffer = ctx->limits->max_decode_buffer,
        .max_ifds = ctx->limits->max_ifds,
        .zarr_json_max = ctx->limits->zarr_json_max,
        .max_pairs = ctx->limits->max_pairs,
        .threads = ctx->limits->threads ? ctx->limits->threads : 1,
        .deadline = req->deadline_ns,
        .overlap = {.include_background = true},
    };
    struct overlap_file_result counted;
    memset(&counted, 0, sizeof counted);
    struct overlap_eval_result ev;
    memset(&ev, 0, sizeof ev);
    struct preview_plane ta = {0}, pb = {0};
    struct preview_image img = {0};
    uint64_t *tp_true = NULL, *tp_pred = NULL;
    struct error_info err;
    error_init(&err);
    if (overlap_file_count(&opt, &a, &b, &counted, &err) != ERROR_OK)
        goto fail;
    if (overlap_eval_run(&q->eval, &counted.counts, ctx->limits->max_match_component,
                         req->deadline_ns, &ev, &err) != ERROR_OK)
        goto fail;
    const struct evaluate_matches *m = &ev.matching[0].matches;
    tp_true = alloc_zeroed(m->n ? m->n : 1, sizeof *tp_true);
    tp_pred = alloc_zeroed(m->n ? m->n : 1, sizeof *tp_pred);
    if (tp_true == NULL || tp_pred == NULL) {
        problem_send(resp, req, 503, "out of memory for %zu matched pairs", m->n);
        goto out;
    }
    size_t n_tp = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->tp[i]) {
            tp_true[n_tp] = m->a[i];
            tp_pred[n_tp] = m->b[i];
            n_tp++;
        }
    qsort(tp_true, n_tp, sizeof *tp_true, cmp_u64);
    qsort(tp_pred, n_tp, sizeof *tp_pred, cmp_u64);
    if (decode_labels(ctx, q->a, q->a_len, q->size, &ta, &err) != ERROR_OK ||
        decode_labels(ctx, q->b, q->b_len, q->size, &pb, &err) != ERROR_OK)
        goto fail;
    const struct overlay_matched matched = {tp_true, n_tp, tp_pred, n_tp};
    if (overlay_render(&ta, &pb, &matched, q->size, &img, &err) != ERROR_OK) {
        if (err.code == ERROR_INVALID) /* levels of different sizes: the files, not the query */
            err.code = ERROR_UNPROCESSABLE;
        goto fail;
    }
    preview_endpoint_send_png(resp, req, img.rgb, img.width, img.height);
    goto out;
fail:
    problem_from_error(resp, req, &err);
out:
    preview_image_cleanup(&img);
    free(ta.v);
    free(pb.v);
    free(tp_true);
    free(tp_pred);
    overlap_eval_result_cleanup(&ev);
    overlap_result_cleanup(&counted.counts);
}

void overlay_endpoint_post(const struct handler_context *ctx, const struct request *req,
                           struct response *resp)
{
    static const char *const none[] = {NULL};
    if (!request_params_only(req, none, resp))
        return;
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return;
    struct overlay_query q;
    if (parse(ctx, req, body, &q, resp))
        render(ctx, req, &q, resp);
    json_decref(body);
}
