/*
 * fuzz_handlers.c - every endpoint handler fed arbitrary requests, as the server would call
 * it: the first byte picks the handler and the content type, then a query string up to the
 * first '\n' (split on '&' and '='), then the body. Every answer must be a valid status,
 * and a JSON answer must parse. The handlers run against a small demo data root written
 * once at start (tessera's own demo writer).
 */
#include "classify_endpoint.h"
#include "demo.h"
#include "overlap_endpoint.h"
#include "scan_endpoint.h"
#include "topk_endpoint.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct limits fuzz_limits = {
    .max_json_body = 1 << 20,
    .max_binary_body = 1 << 24,
    .request_timeout_ms = 2000,
    .max_pixels = 1 << 22,
    .max_decode_buffer = 1 << 24,
    .max_k = 100000,
    .max_json_values = 100000,
    .max_json_nodes = 200000,
    .max_results = 10000000,
    .scan_max_depth = 8,
    .scan_max_entries = 1000,
    .scan_timeout_ms = 1000,
    .max_ifds = 64,
    .classify_batch = 16,
    .cache_entries = 0,
    .zarr_json_max = 65536,
    .max_pairs = 100000,
    .max_batch = 4,
    .threads = 2,
};
static struct handler_context fuzz_ctx;

static const struct {
    handler_fn fn;
    const char *method, *path;
} fuzz_routes[] = {
    {scan_endpoint_get, "GET", "/scan"},         {scan_endpoint_post, "POST", "/scan"},
    {classify_endpoint_get, "GET", "/classify"}, {classify_endpoint_post, "POST", "/classify"},
    {overlap_endpoint_post, "POST", "/overlap"}, {topk_endpoint_post, "POST", "/topk"},
};
static const char *const fuzz_types[] = {NULL, "application/json", "application/octet-stream",
                                         "multipart/form-data; boundary=XyZ", "text/plain"};

static void fuzz_setup(void)
{
    char dir[] = "/tmp/tessera-fuzz-XXXXXX";
    char msg[256];
    if (mkdtemp(dir) == NULL || !demo_write(dir, msg, sizeof msg))
        abort();
    fuzz_ctx.root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    fuzz_ctx.root_path = "/tmp/tessera-fuzz";
    fuzz_ctx.limits = &fuzz_limits;
    if (fuzz_ctx.root_fd < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_ctx.limits == NULL)
        fuzz_setup();
    if (size < 1)
        return 0;
    size_t route = (data[0] & 7) % (sizeof fuzz_routes / sizeof fuzz_routes[0]);
    const char *type = fuzz_types[(data[0] >> 3) % (sizeof fuzz_types / sizeof fuzz_types[0])];
    bool accept_binary = (data[0] & 0x80) != 0;
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qlen = nl ? (size_t)(nl - data) : 0;
    char *query = malloc(qlen + 1);
    memcpy(query, data, qlen);
    query[qlen] = '\0';
    const uint8_t *body = nl ? nl + 1 : data;
    size_t body_len = size - (size_t)(body - data);

    struct request_param params[16];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(query, "&", &save); tok != NULL && n < 16;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq != NULL)
            *eq = '\0';
        params[n].key = tok;
        params[n].value = eq ? eq + 1 : "";
        n++;
    }
    /* The body is copied so reads past its end are caught. */
    unsigned char *copy = malloc(body_len ? body_len : 1);
    memcpy(copy, body, body_len);
    struct request req = {
        .method = fuzz_routes[route].method,
        .path = fuzz_routes[route].path,
        .params = params,
        .n_params = n,
        .content_type = type,
        .accept = accept_binary ? "application/octet-stream" : NULL,
        .body = body_len ? copy : NULL, /* as the server passes an empty body */
        .body_len = body_len,
        .request_id = "fuzz",
        .deadline_ns = request_now_ns() + 2000000000,
    };
    struct response resp = {.status = 500};
    fuzz_routes[route].fn(&fuzz_ctx, &req, &resp);
    if (resp.status < 200 || resp.status > 599 || (resp.status >= 500 && resp.status != 503))
        abort();
    if (resp.content_type != NULL && strstr(resp.content_type, "json") != NULL) {
        /* Labels go up to 2^64-1, past jansson's integers: parse those as reals. */
        json_t *j = json_loadb(resp.body, resp.body_len, JSON_DECODE_INT_AS_REAL, NULL);
        if (j == NULL)
            abort();
        json_decref(j);
    }
    response_cleanup(&resp);
    free(copy);
    free(query);
    return 0;
}
