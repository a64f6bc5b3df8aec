/*
 * quantify_endpoint.c - POST /quantify: mcquant's single-cell table (per-cell intensity of
 * every channel and the cell's shape) of a label image against its channels.
 *
 * Two ways in, one way through: JSON naming the label image and the channels under the data
 * root (a TIFF page, a Zarr array or multiscale level, or several named masks; the channels
 * one multi-page TIFF or a list), or multipart/form-data with the label image as part "labels",
 * every other part but "options" a channel named by its part name, in body order. Both fill one
 * request for core/quantify_file (one call); the answer is columnar JSON, or mcquant's CSV with
 * Accept: text/csv (handlers/quantify_render).
 */
#include "quantify_endpoint.h"

#include "alloc.h"
#include "multipart.h"
#include "problem.h"
#include "quantify_render.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* mcquant's default table: every shape feature but perimeter and bbox. */
#define QUANTIFY_DEFAULT_SHAPE ((1u << QUANTIFY_FEATURE_PERIMETER) - 1)

/* Named masks one request may quantify (mcquant's cell, nucleus, cytoplasm, ...). */
#define QUANTIFY_MAX_MASKS 16

struct quantify_query {
    struct quantify_file_image labels[QUANTIFY_MAX_MASKS];
    const char *mask_names[QUANTIFY_MAX_MASKS];
    size_t n_masks;
    bool named; /* labels was an object of named masks */
    struct quantify_file_image *channels;
    size_t n;
    bool all_pages; /* channels is one TIFF whose pages are the channels */
    unsigned stats, shape;
};

/* ---------------------------------------------------------------------------------------
 * Validation
 * --------------------------------------------------------------------------------------- */

/* A list of names (v, may be absent: keeps *bits) into bits of names[]. */
static bool quantify_names(const struct request *req, const json_t *v, const char *field,
                           const char *const *names, unsigned count, unsigned *bits,
                           struct response *resp)
{
    if (v == NULL)
        return true;
    *bits = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item);
        unsigned k = 0;
        while (s != NULL && k < count && strcmp(s, names[k]) != 0)
            k++;
        if (s != NULL && k < count) {
            *bits |= 1u << k;
            continue;
        }
        problem_send(resp, req, 400, "'%s'[%zu] must be one of the names listed in the API", field,
                     i);
        return false;
    }
    if (strcmp(field, "intensity") == 0 && *bits == 0) {
        problem_send(resp, req, 400, "'intensity' must name at least one statistic");
        return false;
    }
    return true;
}

/* One image field: a path string, or {"path", "name", "page", "level"}. */
static bool quantify_image(const struct request *req, json_t *v, const char *field,
                           struct quantify_file_image *img, struct response *resp)
{
    memset(img, 0, sizeof img[0]);
    if (json_is_string(v)) {
        img->path = json_string_value(v);
        img->len = json_string_length(v);
        return true;
    }
    json_t *path = NULL, *name = NULL, *page = NULL, *level = NULL;
    const struct request_field fields[] = {
        {"path", REQUEST_FIELD_STRING, true, &path},
        {"name", REQUEST_FIELD_STRING, false, &name},
        {"page", REQUEST_FIELD_INTEGER, false, &page},
        {"level", REQUEST_FIELD_INTEGER, false, &level},
    };
    if (!json_is_object(v)) {
        problem_send(resp, req, 400, "'%s' must be a path or an object with 'path'", field);
        return false;
    }
    uint64_t p = 0, l = 0;
    if (!request_json_fields(req, v, fields, sizeof fields / sizeof fields[0], resp) ||
        !request_json_u64(req, page, "page", 0, LIMIT_OVERLAP_MAX_PAGE, &p, resp) ||
        !request_json_u64(req, level, "level", 0, LIMIT_OVERLAP_MAX_PAGE, &l, resp))
        return false;
    img->path = json_string_value(path);
    img->len = json_string_length(path);
    img->name = name != NULL ? json_string_value(name) : NULL;
    img->page = (unsigned)p;
    img->level = (unsigned)l;
    return true;
}

static bool quantify_channels(const struct handler_context *ctx, const struct request *req,
                              json_t *v, struct quantify_query *q, struct response *resp)
{
    if (json_is_string(v) || json_is_object(v)) { /* a multi-page TIFF or an NGFF image */
        q->n = 1;
        q->all_pages = true;
    } else if (json_is_array(v)) {
        q->n = json_array_size(v);
    } else {
        problem_send(resp, req, 400,
                     "'channels' must be a multi-page TIFF or NGFF image, or a list");
        return false;
    }
    if (q->n == 0 || q->n > ctx->limits->max_channels) {
        problem_send(resp, req, q->n == 0 ? 400 : 413,
                     "'channels' has %zu entries; 1 to %u are accepted (--max-channels)", q->n,
                     ctx->limits->max_channels);
        return false;
    }
    q->channels = alloc_zeroed(q->n, sizeof *q->channels);
    if (q->channels == NULL) {
        problem_send(resp, req, 503, "out of memory reading 'channels'");
        return false;
    }
    if (q->all_pages)
        return quantify_image(req, v, "channels", &q->channels[0], resp);
    for (size_t i = 0; i < q->n; i++)
        if (!quantify_image(req, json_array_get(v, i), "channels[]", &q->channels[i], resp))
            return false;
    return true;
}

/* The options every form may give, intensity and shape, and (images set) labels and
 * channels, whose types the caller checks: each may be a path or an object / a list. */
static bool quantify_options(const struct request *req, json_t *obj, bool images, json_t **labels,
                             json_t **channels, struct quantify_query *q, struct response *resp)
{
    static const char *const known[] = {"intensity", "shape", "labels", "channels"};
    const size_t n_known = images ? 4 : 2;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t k = 0;
        while (k < n_known && strcmp(key, known[k]) != 0)
            k++;
        if (k == n_known) {
            problem_send(resp, req, 400, "unknown field '%.100s'", key);
            return false;
        }
    }
    json_t *intensity = json_object_get(obj, "intensity"), *shape = json_object_get(obj, "shape");
    if ((intensity != NULL && !json_is_array(intensity)) ||
        (shape != NULL && !json_is_array(shape))) {
        problem_send(resp, req, 400, "fields 'intensity' and 'shape' must be lists of names");
        return false;
    }
    if (images) {
        *labels = json_object_get(obj, "labels");
        *channels = json_object_get(obj, "channels");
    }
    return quantify_names(req, intensity, "intensity", quantify_stat_names, QUANTIFY_STAT_COUNT,
                          &q->stats, resp) &&
           quantify_names(req, shape, "shape", quantify_feature_names, QUANTIFY_FEATURE_COUNT,
                          &q->shape, resp);
}

/* ---------------------------------------------------------------------------------------
 * The core call and the answer
 * --------------------------------------------------------------------------------------- */

static void quantify_run(const struct handler_context *ctx, const struct request *req,
                         const struct quantify_query *q, struct response *resp)
{
    const struct limits *lim = ctx->limits;
    struct quantify_file_options opt = {
        .root_fd = ctx->root_fd,
        .cache = ctx->cache,
        .max_pixels = lim->max_pixels,
        .max_decode_buffer = lim->max_decode_buffer,
        .max_ifds = lim->max_ifds,
        .zarr_json_max = lim->zarr_json_max,
        .max_labels = lim->max_labels,
        .values = (q->stats & (1u << QUANTIFY_STAT_MEDIAN | 1u << QUANTIFY_STAT_GINI)) != 0,
        .max_channels = lim->max_channels,
        .threads = lim->threads ? lim->threads : 1,
        .deadline = req->deadline_ns};
    struct quantify_file_result r[QUANTIFY_MAX_MASKS];
    struct error_info err;
    error_init(&err);
    const bool csv = request_accepts(req, "text/csv");
    if (csv && q->n_masks > 1) {
        problem_send(resp, req, 422,
                     "a CSV answer holds one mask (mcquant writes one file per mask): ask for "
                     "the %zu masks one at a time, or for JSON",
                     q->n_masks);
        return;
    }
    size_t done = 0;
    for (; done < q->n_masks; done++)
        if (quantify_file_run(&opt, &q->labels[done], q->channels, q->n, q->all_pages, &r[done],
                              &err) != ERROR_OK) {
            problem_from_error(resp, req, &err);
            goto out;
        }
    if (csv)
        quantify_render_csv(req, &r[0], q->stats, q->shape, resp);
    else
        quantify_render_json(req, r, q->named ? q->mask_names : NULL, q->n_masks, q->stats,
                             q->shape, resp);
out:
    for (size_t i = 0; i < done; i++)
        quantify_file_result_cleanup(&r[i]);
}

/* The labels field: one image (a path, or an object with "path"), or an object of named
 * masks, each a path or an object with "path". */
static bool quantify_masks(const struct request *req, json_t *v, struct quantify_query *q,
                           struct response *resp)
{
    q->n_masks = 1;
    if (!json_is_object(v) || json_object_get(v, "path") != NULL)
        return quantify_image(req, v, "labels", &q->labels[0], resp);
    const size_t n = json_object_size(v);
    if (n == 0 || n > QUANTIFY_MAX_MASKS) {
        problem_send(resp, req, 400,
                     "'labels' names %zu masks; 1 to %d are accepted (or give one image)", n,
                     QUANTIFY_MAX_MASKS);
        return false;
    }
    const char *name;
    json_t *mask;
    size_t i = 0;
    q->named = true;
    json_object_foreach(v, name, mask)
    {
        q->mask_names[i] = name;
        if (!quantify_image(req, mask, "labels{}", &q->labels[i], resp))
            return false;
        i++;
    }
    q->n_masks = n;
    return true;
}

static void quantify_from_json(const struct handler_context *ctx, const struct request *req,
                               struct quantify_query *q, struct response *resp)
{
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return;
    json_t *labels = NULL, *channels = NULL;
    if (!quantify_options(req, body, true, &labels, &channels, q, resp))
        goto out;
    if (labels == NULL || channels == NULL) {
        problem_send(resp, req, 400,
                     "fields 'labels' (the label image) and 'channels' (the intensity images) "
                     "are required");
        goto out;
    }
    if (quantify_masks(req, labels, q, resp) && quantify_channels(ctx, req, channels, q, resp))
        quantify_run(ctx, req, q, resp);
out:
    json_decref(body);
}

/* An uploaded part holds a .npy file when its Content-Type is application/x-npy or its
 * filename ends in .npy; any other part is a TIFF file. */
static bool quantify_part_is_npy(const struct multipart_part *part)
{
    size_t n = strlen(part->filename);
    return strcasecmp(part->content_type, "application/x-npy") == 0 ||
           (n >= 4 && strcasecmp(part->filename + n - 4, ".npy") == 0);
}

static bool quantify_part_options(const struct handler_context *ctx, const struct request *req,
                                  const struct multipart_part *options, struct quantify_query *q,
                                  struct response *resp)
{
    if (options->len > ctx->limits->max_json_body ||
        request_json_nodes(options->data, options->len) > ctx->limits->max_json_nodes) {
        problem_send(resp, req, 413,
                     "part 'options' is larger than a JSON body may be (--max-json-body, "
                     "--max-json-nodes)");
        return false;
    }
    json_error_t jerr;
    unsigned long failures = alloc_failures_here();
    json_t *obj =
        json_loadb((const char *)options->data, options->len, JSON_REJECT_DUPLICATES, &jerr);
    if (alloc_failures_here() != failures) { /* see request_json_object */
        json_decref(obj);
        problem_send(resp, req, 503, "out of memory parsing part 'options'");
        return false;
    }
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        problem_send(resp, req, 400, "part 'options' must be a JSON object: %s",
                     obj ? "not an object" : jerr.text);
        return false;
    }
    bool ok = quantify_options(req, obj, false, NULL, NULL, q, resp);
    json_decref(obj);
    return ok;
}

static void quantify_from_multipart(const struct handler_context *ctx, const struct request *req,
                                    struct quantify_query *q, struct response *resp)
{
    const size_t max_parts = (size_t)ctx->limits->max_channels + 3;
    struct multipart_part *parts = alloc_zeroed(max_parts, sizeof *parts);
    size_t n = 0;
    struct error_info err;
    if (parts == NULL) {
        problem_send(resp, req, 503, "out of memory reading the upload");
        return;
    }
    if (multipart_parse(req->content_type, req->body, req->body_len, parts, max_parts, &n, &err) !=
        ERROR_OK) {
        problem_from_error(resp, req, &err);
        goto out;
    }
    const struct multipart_part *labels = multipart_find(parts, n, "labels");
    const struct multipart_part *options = multipart_find(parts, n, "options");
    q->n = n - (labels != NULL) - (options != NULL);
    if (labels == NULL || q->n == 0) {
        problem_send(resp, req, 400,
                     "multipart uploads need the part 'labels' and at least one channel part "
                     "(TIFF or .npy bytes)");
        goto out;
    }
    if (q->n > ctx->limits->max_channels) {
        problem_send(resp, req, 413,
                     "the upload has %zu channels, over the limit of %u "
                     "(--max-channels)",
                     q->n, ctx->limits->max_channels);
        goto out;
    }
    if (options != NULL && !quantify_part_options(ctx, req, options, q, resp))
        goto out;
    q->channels = alloc_zeroed(q->n, sizeof *q->channels);
    if (q->channels == NULL) {
        problem_send(resp, req, 503, "out of memory reading the upload");
        goto out;
    }
    q->n_masks = 1;
    q->labels[0] = (struct quantify_file_image){
        .data = labels->data, .size = labels->len, .npy = quantify_part_is_npy(labels)};
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (&parts[i] != labels && &parts[i] != options)
            q->channels[c++] = (struct quantify_file_image){.data = parts[i].data,
                                                            .size = parts[i].len,
                                                            .npy = quantify_part_is_npy(&parts[i]),
                                                            .name = parts[i].name};
    quantify_run(ctx, req, q, resp);
out:
    free(parts);
}

void quantify_endpoint_post(const struct handler_context *ctx, const struct request *req,
                            struct response *resp)
{
    static const char *const none[] = {NULL};
    if (!request_params_only(req, none, resp))
        return;
    struct quantify_query q;
    memset(&q, 0, sizeof q);
    q.stats = 1u << QUANTIFY_STAT_MEAN;
    q.shape = QUANTIFY_DEFAULT_SHAPE;
    if (req->content_type != NULL &&
        strncasecmp(req->content_type, "multipart/form-data", strlen("multipart/form-data")) == 0)
        quantify_from_multipart(ctx, req, &q, resp);
    else
        quantify_from_json(ctx, req, &q, resp);
    free(q.channels);
}
