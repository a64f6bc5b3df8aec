/*
 * test_chaos.c - allocation failure, one site at a time (as jansson's test_chaos does).
 *
 * For every endpoint, a representative request is first answered normally (the baseline).
 * Then, for n = 1, 2, ...: the n-th allocation of the request is made to fail (core/alloc.h
 * hook, which jansson's allocations go through too), and the answer must be the baseline
 * again (a failure the code can live with) or a 500 / 503 problem+json - never a crash, a
 * leak (ASan in the sanitizer build), a 4xx that blames the client, or a half-written 200.
 * Right after each failure the same request is answered normally: nothing was left broken.
 * The loop ends when the n-th allocation no longer happens: every site was failed in turn.
 */
#include "alloc.h"
#include "check.h"
#include "classify_endpoint.h"
#include "demo.h"
#include "overlap_endpoint.h"
#include "scan_endpoint.h"
#include "topk_endpoint.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct limits chaos_limits = {
    .max_json_body = 1 << 20,
    .max_binary_body = 1 << 24,
    .request_timeout_ms = 20000,
    .max_pixels = 1ull << 26,
    .max_decode_buffer = 1 << 26,
    .max_k = 100000,
    .max_json_values = 100000,
    .max_json_nodes = 200000,
    .max_results = 10000000,
    .scan_max_depth = 8,
    .scan_max_entries = 1000,
    .scan_timeout_ms = 10000,
    .max_ifds = 64,
    .classify_batch = 16,
    .cache_entries = 64,
    .zarr_json_max = 65536,
    .max_pairs = 1000000,
    .max_batch = 4,
    .threads = 2,
};

struct chaos_case {
    const char *name;
    handler_fn fn;
    const char *method, *path;
    const char *query; /* "k=v&k=v" (already decoded), or NULL */
    const char *content_type;
    const char *accept;
    const void *body;
    size_t body_len;
};

static void chaos_run(const struct handler_context *ctx, const struct chaos_case *c,
                      struct response *resp)
{
    struct request_param params[8];
    char query[256];
    size_t n = 0;
    snprintf(query, sizeof query, "%s", c->query ? c->query : "");
    for (char *save = NULL, *tok = strtok_r(query, "&", &save); tok != NULL && n < 8;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        params[n++] = (struct request_param){tok, eq + 1};
    }
    struct request req = {
        .method = c->method,
        .path = c->path,
        .params = params,
        .n_params = n,
        .content_type = c->content_type,
        .accept = c->accept,
        .body = c->body,
        .body_len = c->body_len,
        .request_id = "chaos",
        .deadline_ns = request_now_ns() + (int64_t)chaos_limits.request_timeout_ms * 1000000,
    };
    *resp = (struct response){.status = 500};
    c->fn(ctx, &req, resp);
}

/* A problem answer: JSON with the same status, or (when even the fallback could not be
 * allocated) an empty 500. */
static bool chaos_is_problem(const struct response *r)
{
    if (r->status != 500 && r->status != 503)
        return false;
    if (r->body_len == 0)
        return r->status == 500;
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    bool ok = j != NULL && json_integer_value(json_object_get(j, "status")) == r->status &&
              json_is_string(json_object_get(j, "detail"));
    json_decref(j);
    return ok;
}

/* Does got say what base says? "cached" may differ (the cache fills up as the test runs),
 * and an item of a batch may instead carry a 503 error: it ran out of memory on its own. */
static bool chaos_same_json(json_t *base, json_t *got)
{
    if (json_is_object(got)) {
        json_t *error = json_object_get(got, "error");
        if (error != NULL && json_object_get(base, "error") == NULL)
            return json_integer_value(json_object_get(error, "status")) == 503;
        if (!json_is_object(base) || json_object_size(base) != json_object_size(got))
            return false;
        const char *key;
        json_t *value;
        json_object_foreach(base, key, value)
        {
            json_t *other = json_object_get(got, key);
            if (other == NULL)
                return false;
            if (strcmp(key, "cached") != 0 && !chaos_same_json(value, other))
                return false;
        }
        return true;
    }
    if (json_is_array(got)) {
        if (!json_is_array(base) || json_array_size(base) != json_array_size(got))
            return false;
        for (size_t i = 0; i < json_array_size(base); i++)
            if (!chaos_same_json(json_array_get(base, i), json_array_get(got, i)))
                return false;
        return true;
    }
    return json_equal(base, got);
}

/* A 200 that is the baseline answer (see chaos_same_json), byte for byte when not JSON. */
static bool chaos_is_baseline(const struct response *base, const struct response *r)
{
    if (r->status != 200)
        return false;
    if (base->content_type == NULL || strstr(base->content_type, "json") == NULL)
        return r->body_len == base->body_len && memcmp(r->body, base->body, r->body_len) == 0;
    json_t *a = json_loadb(base->body, base->body_len, 0, NULL);
    json_t *b = json_loadb(r->body, r->body_len, 0, NULL);
    bool same = a != NULL && b != NULL && chaos_same_json(a, b);
    json_decref(a);
    json_decref(b);
    return same;
}

static void chaos_case_run(const struct handler_context *ctx, const struct chaos_case *c)
{
    struct response base;
    chaos_run(ctx, c, &base);
    if (!CHECK_INT(base.status, 200)) {
        fprintf(stderr, "%s: baseline %d %.*s\n", c->name, base.status, (int)base.body_len,
                base.body ? base.body : "");
        response_cleanup(&base);
        return;
    }
    unsigned failed = 0, tolerated = 0;
    long n;
    for (n = 1; n < 100000; n++) {
        struct response r;
        alloc_fail_nth(n);
        chaos_run(ctx, c, &r);
        bool fired = !alloc_fault_pending();
        alloc_fail_nth(0);
        if (!fired) {
            CHECK_INT(r.status, 200);
            response_cleanup(&r);
            break;
        }
        bool same = chaos_is_baseline(&base, &r);
        if (same)
            tolerated++;
        else
            failed++;
        if (!CHECK(same || chaos_is_problem(&r)))
            fprintf(stderr, "%s: allocation %ld failed -> %d %.*s\n", c->name, n, r.status,
                    (int)r.body_len, r.body ? r.body : "");
        response_cleanup(&r);

        struct response again;
        chaos_run(ctx, c, &again);
        if (!CHECK_INT(again.status, 200))
            fprintf(stderr, "%s: after failing allocation %ld: %d %.*s\n", c->name, n, again.status,
                    (int)again.body_len, again.body ? again.body : "");
        response_cleanup(&again);
    }
    printf("%-22s %4ld allocation sites failed in turn: %u answered 500/503, %u still 200\n",
           c->name, n - 1, failed, tolerated);
    CHECK(n > 1);
    response_cleanup(&base);
}

int main(void)
{
    json_set_alloc_funcs(alloc_bytes, free);
    char dir[512], msg[256];
    check_tmpdir(dir, sizeof dir);
    if (!CHECK(demo_write(dir, msg, sizeof msg)))
        return check_finish("test_chaos");
    struct handler_context ctx = {
        .root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC),
        .root_path = dir,
        .limits = &chaos_limits,
    };
    struct error_info err;
    CHECK(cache_new(chaos_limits.cache_entries, 0, &ctx.cache, &err) == ERROR_OK);

    static const char scan_body[] = "{\"dir\": \"\", \"recursive\": true, \"classify\": true}";
    static const char classify_body[] =
        "{\"paths\": [\"slides/pyramid.ome.tif\", \"plate.zarr\", \"cyc1/DAPI.tif\", \"x\"]}";
    static const char overlap_body[] =
        "{\"a\": \"labels/truth.tif\", \"b\": \"labels/predicted.tif\", \"iou\": true, "
        "\"match_threshold\": 0.5}";
    static const char topk_values[] = "{\"values\": [3, 1, null, 1, 7, 2, 9], \"k\": 3}";
    static const char topk_rows[] = "{\"rows\": [[0, 1, 2], [1, 0, 3], [2, 3, 0]], \"k\": 1}";
    static const char topk_points[] =
        "{\"points\": [[0, 0], [1, 0], [5, 5], [1, 1], [2, 2]], \"k\": 2}";
    static double topk_binary[64];
    for (size_t i = 0; i < 64; i++)
        topk_binary[i] = (double)((i * 37) % 64);
    const char *json = "application/json";

    const struct chaos_case cases[] = {
        {"GET /scan", scan_endpoint_get, "GET", "/scan", "dir=cyc1&recursive=true", NULL, NULL,
         NULL, 0},
        {"POST /scan classify", scan_endpoint_post, "POST", "/scan", NULL, json, NULL, scan_body,
         sizeof scan_body - 1},
        {"GET /classify", classify_endpoint_get, "GET", "/classify", "path=slides/pyramid.ome.tif",
         NULL, NULL, NULL, 0},
        {"POST /classify", classify_endpoint_post, "POST", "/classify", NULL, json, NULL,
         classify_body, sizeof classify_body - 1},
        {"POST /overlap", overlap_endpoint_post, "POST", "/overlap", NULL, json, NULL, overlap_body,
         sizeof overlap_body - 1},
        {"POST /topk values", topk_endpoint_post, "POST", "/topk", NULL, json, NULL, topk_values,
         sizeof topk_values - 1},
        {"POST /topk rows", topk_endpoint_post, "POST", "/topk", NULL, json, NULL, topk_rows,
         sizeof topk_rows - 1},
        {"POST /topk points", topk_endpoint_post, "POST", "/topk", NULL, json, NULL, topk_points,
         sizeof topk_points - 1},
        {"POST /topk binary", topk_endpoint_post, "POST", "/topk",
         "mode=values&k=5&dtype=float64&shape=64", "application/octet-stream",
         "application/octet-stream", topk_binary, sizeof topk_binary},
    };
    /* Without the classification cache every request classifies from the file; with it,
     * the cache's own allocations fail too. */
    struct cache *cache = ctx.cache;
    for (int pass = 0; pass < 2; pass++) {
        ctx.cache = pass == 0 ? NULL : cache;
        printf("classification cache %s\n", ctx.cache ? "on" : "off");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            chaos_case_run(&ctx, &cases[i]);
    }

    cache_free(ctx.cache);
    close(ctx.root_fd);
    check_rmtree(dir);
    return check_finish("test_chaos");
}
