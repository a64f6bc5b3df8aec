/*
 * topk_endpoint.c - POST /topk: k smallest / largest values, per-row top-k (optionally
 * excluding the diagonal) and k nearest neighbours of 2-D / 3-D points, from core/topk and
 * core/knn.
 *
 * Two ways in, one way through: a JSON body ({"values"|"rows"|"points", "k", ...}) for
 * small data, or a raw little-endian array (application/octet-stream, with mode, dtype and
 * shape in the query) for large data, used in place without a copy. Both fill one struct
 * topk_job; the answer is JSON (NaN as null) or, with Accept: application/octet-stream,
 * the int64 indices followed by the float64 values / distances.
 */
#include "topk_endpoint.h"
#include "alloc.h"
#include "clock.h"
#include "jsonw.h"
#include "knn.h"
#include "problem.h"
#include "topk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "binary /topk bodies are little-endian and used in place");

enum topk_mode { TOPK_MODE_VALUES, TOPK_MODE_ROWS, TOPK_MODE_POINTS };

struct topk_job {
    enum topk_mode mode;
    const void *data; /* borrowed (request body) or owned (converted from JSON) */
    void *owned;
    enum topk_dtype dtype;
    size_t n, m; /* values: n; rows: n x m; points: n points of m dims */
    uint64_t k;
    bool largest;
    bool exclude_self;
};

static const char *const topk_mode_names[] = {"values", "rows", "points"};

/* ---------------------------------------------------------------------------------------
 * Validation shared by both inputs
 * --------------------------------------------------------------------------------------- */

/* Results per row or in all, after checking k against what is available. */
static bool topk_check_job(const struct handler_context *ctx, const struct request *req,
                           struct topk_job *job, struct response *resp)
{
    if (job->k > ctx->limits->max_k) {
        problem_send(resp, req, 422, "k = %llu is over the limit of %u (--max-k)",
                     (unsigned long long)job->k, ctx->limits->max_k);
        return false;
    }
    size_t available = 0;
    switch (job->mode) {
    case TOPK_MODE_VALUES:
        available = job->n;
        break;
    case TOPK_MODE_ROWS:
        if (job->exclude_self && job->n != job->m) {
            problem_send(resp, req, 422, "exclude_self needs a square matrix; rows is %zu x %zu",
                         job->n, job->m);
            return false;
        }
        if (job->n > 0 && job->m == 0) {
            problem_send(resp, req, 422, "rows is %zu x 0: rows need at least one column", job->n);
            return false;
        }
        available = job->exclude_self && job->m > 0 ? job->m - 1 : job->m;
        break;
    case TOPK_MODE_POINTS:
        if (job->n > 0 && job->m != 2 && job->m != 3) {
            problem_send(resp, req, 422, "points must have 2 or 3 coordinates, not %zu", job->m);
            return false;
        }
        available = job->n > 0 ? job->n - 1 : 0;
        break;
    }
    if (job->k > available) {
        problem_send(resp, req, 422, "k = %llu but at most %zu %s available%s",
                     (unsigned long long)job->k, available,
                     job->mode == TOPK_MODE_POINTS ? "neighbours are" : "values are",
                     job->mode == TOPK_MODE_ROWS ? " per row" : "");
        return false;
    }
    uint64_t rows = job->mode == TOPK_MODE_VALUES ? 1 : job->n;
    if (job->k > 0 && rows > ctx->limits->max_results / job->k) {
        problem_send(resp, req, 413,
                     "%llu x k = %llu results are over the limit of %llu per answer "
                     "(--max-results): ask for a smaller k or split the request",
                     (unsigned long long)rows, (unsigned long long)job->k,
                     (unsigned long long)ctx->limits->max_results);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * JSON input
 * --------------------------------------------------------------------------------------- */

/* One JSON number (or null = NaN, where allowed) as a double. */
static bool topk_json_number(const json_t *v, bool null_is_nan, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (null_is_nan && json_is_null(v)) {
        *out = NAN;
        return true;
    }
    return false;
}

static bool topk_json_matrix(const struct handler_context *ctx, const struct request *req,
                             const json_t *arr, const char *field, struct topk_job *job,
                             struct response *resp)
{
    size_t n = json_array_size(arr);
    size_t m = n > 0 ? json_array_size(json_array_get(arr, 0)) : 0;
    bool points = job->mode == TOPK_MODE_POINTS;
    if (n > 0 && m > 0 && n > ctx->limits->max_json_values / m) {
        problem_send(resp, req, 413,
                     "%s holds %zu x %zu numbers; JSON input is limited to %u "
                     "(--max-json-values): send large data as application/octet-stream",
                     field, n, m, ctx->limits->max_json_values);
        return false;
    }
    size_t count = n * m;
    double *data = alloc_bytes((count > 0 ? count : 1) * sizeof *data);
    if (data == NULL) {
        problem_send(resp, req, 503, "out of memory for %zu x %zu numbers", n, m);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(arr, i);
        if (!json_is_array(row) || json_array_size(row) != m) {
            free(data);
            problem_send(resp, req, 422, "%s[%zu] %s; every %s must have %zu numbers", field, i,
                         json_is_array(row) ? "has a different length" : "is not an array",
                         points ? "point" : "row", m);
            return false;
        }
        for (size_t j = 0; j < m; j++) {
            double d;
            if (!topk_json_number(json_array_get(row, j), !points, &d) ||
                (points && !isfinite(d))) {
                free(data);
                problem_send(resp, req, 422, "%s[%zu][%zu] must be a %snumber", field, i, j,
                             points ? "finite " : "");
                return false;
            }
            data[i * m + j] = d;
        }
    }
    job->owned = data;
    job->data = data;
    job->dtype = TOPK_FLOAT64;
    job->n = n;
    job->m = m;
    return true;
}

static bool topk_from_json(const struct handler_context *ctx, const struct request *req,
                           struct topk_job *job, struct response *resp)
{
    json_t *body = request_json_object(req, resp);
    if (body == NULL)
        return false;
    json_t *values, *rows, *points, *k, *largest, *exclude_self;
    const struct request_field fields[] = {
        {"values", REQUEST_FIELD_ARRAY, false, &values},
        {"rows", REQUEST_FIELD_ARRAY, false, &rows},
        {"points", REQUEST_FIELD_ARRAY, false, &points},
        {"k", REQUEST_FIELD_INTEGER, true, &k},
        {"largest", REQUEST_FIELD_BOOL, false, &largest},
        {"exclude_self", REQUEST_FIELD_BOOL, false, &exclude_self},
    };
    bool ok = false;
    if (!request_json_fields(req, body, fields, sizeof fields / sizeof fields[0], resp))
        goto out;
    if ((values != NULL) + (rows != NULL) + (points != NULL) != 1) {
        problem_send(resp, req, 400, "give exactly one of 'values', 'rows' or 'points'");
        goto out;
    }
    if (json_integer_value(k) < 0) {
        problem_send(resp, req, 400, "field 'k' must be a non-negative integer");
        goto out;
    }
    job->k = (uint64_t)json_integer_value(k);
    job->largest = json_is_true(largest);
    job->exclude_self = json_is_true(exclude_self);
    if (exclude_self != NULL && rows == NULL) {
        problem_send(resp, req, 400, "'exclude_self' applies to 'rows' only");
        goto out;
    }
    if (largest != NULL && points != NULL) {
        problem_send(resp, req, 400, "'largest' does not apply to 'points'");
        goto out;
    }
    if (values != NULL) {
        job->mode = TOPK_MODE_VALUES;
        size_t n = json_array_size(values);
        if (n > ctx->limits->max_json_values) {
            problem_send(resp, req, 413,
                         "values holds %zu numbers; JSON input is limited to %u "
                         "(--max-json-values): send large data as application/octet-stream",
                         n, ctx->limits->max_json_values);
            goto out;
        }
        double *data = alloc_bytes((n ? n : 1) * sizeof *data);
        if (data == NULL) {
            problem_send(resp, req, 503, "out of memory for %zu numbers", n);
            goto out;
        }
        job->owned = data;
        job->data = data;
        job->dtype = TOPK_FLOAT64;
        job->n = n;
        for (size_t i = 0; i < n; i++)
            if (!topk_json_number(json_array_get(values, i), true, &data[i])) {
                problem_send(resp, req, 422, "values[%zu] must be a number or null", i);
                goto out;
            }
    } else {
        job->mode = rows != NULL ? TOPK_MODE_ROWS : TOPK_MODE_POINTS;
        if (!topk_json_matrix(ctx, req, rows != NULL ? rows : points,
                              rows != NULL ? "rows" : "points", job, resp))
            goto out;
    }
    ok = true;
out:
    json_decref(body);
    return ok;
}

/* ---------------------------------------------------------------------------------------
 * Binary input
 * --------------------------------------------------------------------------------------- */

/* "N" or "N,M" with N, M >= 0. */
static bool topk_parse_shape(const char *s, size_t *n, size_t *m, bool *two)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long a = strtoull(s, &end, 10);
    *two = false;
    *m = 1;
    if (*end == ',') {
        const char *t = end + 1;
        if (*t < '0' || *t > '9')
            return false;
        unsigned long long b = strtoull(t, &end, 10);
        *m = (size_t)b;
        *two = true;
        if (b > SIZE_MAX)
            return false;
    }
    *n = (size_t)a;
    return *end == '\0' && a <= SIZE_MAX;
}

static bool topk_from_binary(const struct handler_context *ctx, const struct request *req,
                             struct topk_job *job, struct response *resp)
{
    static const char *const allowed[] = {"mode",         "k", "dtype", "shape", "largest",
                                          "exclude_self", NULL};
    if (!request_params_only(req, allowed, resp))
        return false;
    const char *mode = request_param(req, "mode");
    const char *dtype = request_param(req, "dtype");
    const char *shape = request_param(req, "shape");
    if (mode == NULL || dtype == NULL || shape == NULL || request_param(req, "k") == NULL) {
        problem_send(resp, req, 400,
                     "a binary body needs the query parameters mode, k, dtype and shape");
        return false;
    }
    size_t i;
    for (i = 0; i < 3; i++)
        if (strcmp(mode, topk_mode_names[i]) == 0)
            break;
    if (i == 3) {
        problem_send(resp, req, 400, "query parameter 'mode' must be values, rows or points");
        return false;
    }
    job->mode = (enum topk_mode)i;
    size_t width;
    if (strcmp(dtype, "float64") == 0) {
        job->dtype = TOPK_FLOAT64;
        width = 8;
    } else if (strcmp(dtype, "float32") == 0) {
        job->dtype = TOPK_FLOAT32;
        width = 4;
    } else {
        problem_send(resp, req, 400, "query parameter 'dtype' must be float32 or float64");
        return false;
    }
    bool two;
    if (!topk_parse_shape(shape, &job->n, &job->m, &two) ||
        two != (job->mode != TOPK_MODE_VALUES)) {
        problem_send(resp, req, 400, "query parameter 'shape' must be %s, not '%.40s'",
                     job->mode == TOPK_MODE_VALUES ? "N" : "N,M", shape);
        return false;
    }
    if (job->m != 0 && job->n > SIZE_MAX / job->m / width) {
        problem_send(resp, req, 400, "shape %.40s is too large", shape);
        return false;
    }
    size_t want = job->n * job->m * width;
    if (req->body_len != want) {
        problem_send(resp, req, 400, "the body is %zu bytes but shape %.40s of %s needs %zu",
                     req->body_len, shape, dtype, want);
        return false;
    }
    if (!request_param_u64(req, "k", 0, UINT64_MAX, 0, &job->k, resp) ||
        !request_param_bool(req, "largest", false, &job->largest, resp) ||
        !request_param_bool(req, "exclude_self", false, &job->exclude_self, resp))
        return false;
    if (request_param(req, "exclude_self") != NULL && job->mode != TOPK_MODE_ROWS) {
        problem_send(resp, req, 400, "query parameter 'exclude_self' applies to mode=rows only");
        return false;
    }
    if (request_param(req, "largest") != NULL && job->mode == TOPK_MODE_POINTS) {
        problem_send(resp, req, 400, "query parameter 'largest' does not apply to mode=points");
        return false;
    }
    job->data = req->body;
    if (job->mode == TOPK_MODE_POINTS) {
        /* core/knn takes float64 and checks finiteness; widen float32 once. */
        size_t count = job->n * job->m;
        double *pts = alloc_bytes((count ? count : 1) * sizeof *pts);
        if (pts == NULL) {
            problem_send(resp, req, 503, "out of memory for %zu coordinates", count);
            return false;
        }
        for (size_t j = 0; j < count; j++) {
            if (job->dtype == TOPK_FLOAT32) {
                float f;
                memcpy(&f, req->body + 4 * j, 4);
                pts[j] = f;
            } else {
                memcpy(&pts[j], req->body + 8 * j, 8);
            }
        }
        job->owned = pts;
        job->data = pts;
        job->dtype = TOPK_FLOAT64;
    }
    (void)ctx;
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Run and render
 * --------------------------------------------------------------------------------------- */

static void topk_render_json(const struct topk_job *job, size_t rows, size_t k, const int64_t *idx,
                             const double *val, const struct request *req, struct response *resp)
{
    struct jsonw w;
    jsonw_init(&w);
    bool nested = job->mode != TOPK_MODE_VALUES;
    for (int part = 0; part < 2; part++) {
        jsonw_lit(&w, part == 0
                          ? "{\"indices\":"
                          : (job->mode == TOPK_MODE_POINTS ? ",\"distances\":" : ",\"values\":"));
        jsonw_lit(&w, "[");
        for (size_t r = 0; r < rows; r++) {
            if ((r & 4095) == 4095 && clock_passed(req->deadline_ns)) {
                jsonw_cleanup(&w);
                problem_send(resp, req, 503,
                             "rendering %zu results ran past the request "
                             "deadline (--request-timeout)",
                             rows * k);
                return;
            }
            if (nested)
                jsonw_lit(&w, r ? ",[" : "[");
            for (size_t j = 0; j < k; j++) {
                if (j)
                    jsonw_lit(&w, ",");
                if (part == 0)
                    jsonw_i64(&w, idx[r * k + j]);
                else
                    jsonw_double(&w, val[r * k + j]);
            }
            if (nested)
                jsonw_lit(&w, "]");
        }
        jsonw_lit(&w, "]");
    }
    jsonw_lit(&w, "}");
    response_jsonw(resp, req, &w);
}

static void topk_run(const struct handler_context *ctx, const struct request *req,
                     const struct topk_job *job, struct response *resp)
{
    size_t rows = job->mode == TOPK_MODE_VALUES ? 1 : job->n;
    size_t k = (size_t)job->k;
    size_t total = rows * k;
    /* One block: indices then values, exactly the binary answer's layout. */
    char *block = alloc_bytes(total ? total * 16 : 1);
    if (block == NULL) {
        problem_send(resp, req, 503, "out of memory for %zu results", total);
        return;
    }
    int64_t *idx = (int64_t *)(void *)block;
    double *val = (double *)(void *)(block + total * 8);
    struct topk_options opt = {.largest = job->largest,
                               .exclude_self = job->exclude_self,
                               .threads = ctx->limits->threads,
                               .deadline = req->deadline_ns};
    struct error_info err;
    error_init(&err);
    enum error_code rc = ERROR_OK;
    if (job->mode == TOPK_MODE_VALUES)
        rc = topk_values(job->data, job->dtype, job->n, k, &opt, idx, val, &err);
    else if (job->mode == TOPK_MODE_ROWS)
        rc = topk_rows(job->data, job->dtype, job->n, job->m, k, &opt, idx, val, &err);
    else if (job->n > 0)
        rc = knn_points(job->data, job->n, (unsigned)job->m, k, ctx->limits->threads,
                        req->deadline_ns, idx, val, &err);
    if (rc != ERROR_OK) {
        free(block);
        problem_from_error(resp, req, &err);
        return;
    }
    if (request_accepts(req, "application/octet-stream")) {
        response_bytes(resp, 200, "application/octet-stream", block, total * 16);
        return;
    }
    topk_render_json(job, rows, k, idx, val, req, resp);
    free(block);
}

void topk_endpoint_post(const struct handler_context *ctx, const struct request *req,
                        struct response *resp)
{
    struct topk_job job;
    memset(&job, 0, sizeof job);
    bool binary = request_content_type_is(req, "application/octet-stream");
    if (!binary) {
        static const char *const none[] = {NULL};
        if (!request_params_only(req, none, resp))
            return;
    }
    if ((binary ? topk_from_binary(ctx, req, &job, resp) : topk_from_json(ctx, req, &job, resp)) &&
        topk_check_job(ctx, req, &job, resp))
        topk_run(ctx, req, &job, resp);
    free(job.owned);
}
