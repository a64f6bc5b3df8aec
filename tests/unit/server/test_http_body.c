/*
 * test_http_body.c - request bodies and the --max-body-memory budget, without a socket:
 * the limit by route and media type (413 before a byte is read), the budget (413 for a body
 * larger than all of it, 503 while other bodies hold it, given back when a body is freed or
 * cut), Content-Length bodies in one block from alloc_large_lazy (huge-page aligned when
 * large), chunked bodies growing in a capped buffer and cut at the limit or the budget, and
 * an allocation failure answered as a 503 with nothing kept.
 */
#include "alloc.h"
#include "check.h"
#include "config.h"
#include "http_body.h"
#include "server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config cfg;
static struct server srv;
static char data[6 << 20];

static int open_body(struct http_body *b, enum route_body kind, const char *type, uint64_t length,
                     char *detail)
{
    memset(b, 0, sizeof *b);
    return http_body_open(b, &srv, kind, type, length, "POST", "/topk", detail, 256);
}

static void test_limits(void)
{
    struct http_body b;
    char detail[256];
    CHECK_INT(open_body(&b, ROUTE_BODY_NONE, NULL, 1, detail), 413);
    CHECK(strstr(detail, "POST /topk takes no request body") != NULL);
    CHECK_INT(open_body(&b, ROUTE_BODY_JSON, NULL, 65537, detail), 413);
    CHECK(strstr(detail, "limit for this JSON body is 65536") != NULL);
    CHECK_INT(open_body(&b, ROUTE_BODY_UPLOAD, "application/json", 65537, detail), 413);
    /* A binary upload has the larger limit, but not more than the whole budget. */
    CHECK_INT(open_body(&b, ROUTE_BODY_UPLOAD, "application/octet-stream", 3 << 20, detail), 413);
    CHECK(strstr(detail, "--max-body-memory") != NULL);
    CHECK_INT(open_body(&b, ROUTE_BODY_UPLOAD, "image/tiff", 8 << 20, detail), 413);
    CHECK(strstr(detail, "limit for this upload is 4194304") != NULL);
    CHECK_INT(atomic_load(&srv.body_memory), 0); /* nothing taken by a refusal */
    http_body_free(&b, &srv);
}

static void test_fixed(void)
{
    struct http_body a, b;
    char detail[256];
    size_t n = (size_t)3 << 19; /* 1.5 MiB: past the first huge page */
    CHECK_INT(open_body(&a, ROUTE_BODY_UPLOAD, "application/octet-stream", n, detail), 0);
    CHECK_INT(atomic_load(&srv.body_memory), n);
    for (size_t at = 0; at < n; at += 65536)
        CHECK(http_body_append(&a, &srv, data + at, n - at < 65536 ? n - at : 65536));
    CHECK_INT(http_body_len(&a), n);
    CHECK(http_body_data(&a) != NULL && memcmp(http_body_data(&a), data, n) == 0);
    CHECK(!http_body_append(&a, &srv, data, 1)); /* past its Content-Length */
    CHECK(a.cut);
    CHECK_INT(atomic_load(&srv.body_memory), 0); /* cut: given back at once */

    /* Two bodies that do not fit the budget together: the second is 503, the first keeps
     * its share, and the budget comes back when it is freed. */
    CHECK_INT(open_body(&a, ROUTE_BODY_UPLOAD, "application/octet-stream", 1500000, detail), 0);
    CHECK_INT(open_body(&b, ROUTE_BODY_UPLOAD, "application/octet-stream", 1500000, detail), 503);
    CHECK(strstr(detail, "receiving 1500000 bytes") != NULL);
    CHECK_INT(atomic_load(&srv.body_memory), 1500000);
    http_body_free(&b, &srv);
    http_body_free(&a, &srv);
    http_body_free(&a, &srv); /* twice is safe */
    CHECK_INT(atomic_load(&srv.body_memory), 0);

    /* Allocation failure: a 503; freeing gives back what was taken. */
    alloc_fail_nth(1);
    CHECK_INT(open_body(&a, ROUTE_BODY_JSON, NULL, 1000, detail), 503);
    alloc_fail_nth(0);
    CHECK(strstr(detail, "out of memory for a 1000-byte body") != NULL);
    http_body_free(&a, &srv);
    CHECK_INT(atomic_load(&srv.body_memory), 0);
}

/* A large body comes from alloc_large_lazy: a 2 MiB-aligned block. */
static void test_large(void)
{
    static struct config big_cfg;
    char *argv[] = {"test_http_body", "--max-body-memory", "16M", "--max-binary-body", "16M"};
    char msg[256];
    CHECK_INT(config_load(&big_cfg, 5, argv, msg, sizeof msg), CONFIG_RUN);
    struct server big = {.cfg = &big_cfg};
    struct http_body b = {0};
    char detail[256];
    size_t n = sizeof data;
    CHECK_INT(http_body_open(&b, &big, ROUTE_BODY_UPLOAD, "image/tiff", n, "POST", "/overlap",
                             detail, sizeof detail),
              0);
    CHECK(b.fixed != NULL && (uintptr_t)b.fixed % ((uintptr_t)2 << 20) == 0);
    CHECK(http_body_append(&b, &big, data, n));
    CHECK(memcmp(http_body_data(&b), data, n) == 0);
    http_body_free(&b, &big);
    CHECK_INT(atomic_load(&big.body_memory), 0);
}

static void test_chunked(void)
{
    struct http_body b;
    char detail[256];
    CHECK_INT(open_body(&b, ROUTE_BODY_JSON, NULL, 0, detail), 0);
    CHECK(http_body_data(&b) == NULL && http_body_len(&b) == 0);
    size_t piece = 10000, held = 0;
    while (held + piece <= 65536) {
        CHECK(http_body_append(&b, &srv, data + held, piece));
        held += piece;
        /* The budget holds the buffer's size, at least what it holds. */
        CHECK(atomic_load(&srv.body_memory) >= held);
    }
    CHECK_INT(http_body_len(&b), held);
    CHECK(memcmp(http_body_data(&b), data, held) == 0);
    CHECK(!http_body_append(&b, &srv, data, piece)); /* past 64 KiB */
    CHECK(b.cut);
    CHECK_INT(atomic_load(&srv.body_memory), 0);
    CHECK(!http_body_append(&b, &srv, data, 1)); /* stays cut */
    http_body_free(&b, &srv);

    /* A route that takes no body cuts the first chunked byte. */
    CHECK_INT(open_body(&b, ROUTE_BODY_NONE, NULL, 0, detail), 0);
    CHECK(!http_body_append(&b, &srv, data, 1));
    http_body_free(&b, &srv);

    /* Growing past the budget cuts the body: other bodies hold all but 8 KiB of it. */
    size_t others = cfg.max_body_memory - 8192;
    atomic_store(&srv.body_memory, others);
    CHECK_INT(open_body(&b, ROUTE_BODY_JSON, NULL, 0, detail), 0);
    CHECK(http_body_append(&b, &srv, data, 100)); /* the first 4 KiB of buffer fit */
    CHECK(!http_body_append(&b, &srv, data, 20000));
    CHECK(b.cut);
    CHECK_INT(atomic_load(&srv.body_memory), others);
    http_body_free(&b, &srv);
    atomic_store(&srv.body_memory, 0);
}

int main(void)
{
    char *argv[] = {"test_http_body",
                    "--max-body-memory",
                    "2M",
                    "--max-json-body",
                    "64K",
                    "--max-binary-body",
                    "4M"};
    char msg[256];
    if (!CHECK_INT(config_load(&cfg, 7, argv, msg, sizeof msg), CONFIG_RUN))
        fprintf(stderr, "    config: %s\n", msg);
    srv.cfg = &cfg;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 131 + (i >> 9));
    test_limits();
    test_fixed();
    test_large();
    test_chunked();
    return check_finish("test_http_body");
}
