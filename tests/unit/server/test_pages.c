/*
 * test_pages.c - the service's own pages, called as handlers with a handler context whose
 * server is a plain struct server (no daemon): readiness follows the draining flag and the
 * data root (gone, back), /ui hides the root when a token is needed, /metrics is Prometheus
 * text, and an allocation failure is a 503 problem+json with Retry-After, like every error.
 */
#include "alloc.h"
#include "check.h"
#include "config.h"
#include "pages.h"
#include "server.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct config cfg;
static struct server srv;

static void start(const char *root, const char *token)
{
    char *argv[] = {"test_pages", "--root", (char *)root, "--token", (char *)token};
    char msg[256];
    if (!CHECK_INT(config_load(&cfg, 5, argv, msg, sizeof msg), CONFIG_RUN))
        fprintf(stderr, "    config: %s\n", msg);
    srv = (struct server){.cfg = &cfg};
}

static struct handler_context context(void)
{
    return (struct handler_context){
        .root_fd = -1, .root_path = cfg.root, .limits = &cfg.limits, .server = &srv};
}

/* resp is a problem+json with this status whose detail contains word. */
static bool is_problem(const struct response *resp, int status, const char *word)
{
    if (!CHECK_INT(resp->status, status) ||
        !CHECK_STR(resp->content_type, "application/problem+json"))
        return false;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    bool ok = CHECK(detail != NULL && strstr(detail, word) != NULL) &&
              CHECK_INT(json_integer_value(json_object_get(j, "status")), status);
    if (!ok)
        fprintf(stderr, "    detail: %s\n", detail ? detail : "(none)");
    json_decref(j);
    return ok;
}

static void test_readyz(const char *root)
{
    start(root, "");
    struct handler_context ctx = context();
    struct request req = {.method = "GET", .path = "/readyz", .request_id = "t"};
    struct response resp = {0};
    pages_readyz(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.body, "{\"status\":\"ready\"}");

    atomic_store(&srv.draining, true);
    pages_readyz(&ctx, &req, &resp);
    is_problem(&resp, 503, "draining");
    CHECK_INT(resp.retry_after, 1);
    atomic_store(&srv.draining, false);

    /* The root is looked at on every call: gone is 503, back is 200 again. */
    char moved[600];
    snprintf(moved, sizeof moved, "%s.moved", root);
    CHECK(rename(root, moved) == 0);
    pages_readyz(&ctx, &req, &resp);
    is_problem(&resp, 503, "not available");
    CHECK(rename(moved, root) == 0);
    pages_readyz(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);

    /* Outside a server there is nothing to be ready for. */
    ctx.server = NULL;
    pages_readyz(&ctx, &req, &resp);
    is_problem(&resp, 503, "starting");
    response_cleanup(&resp);
}

static void test_ui(const char *root)
{
    struct request req = {.method = "GET", .path = "/ui", .request_id = "t"};
    struct response resp = {0};
    start(root, "");
    struct handler_context ctx = context();
    pages_ui(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.content_type, "text/html; charset=utf-8");
    CHECK(resp.body != NULL && strstr(resp.body, root) != NULL);

    start(root, "s3cret");
    ctx = context();
    pages_ui(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK(resp.body != NULL && strstr(resp.body, root) == NULL);
    CHECK(resp.body != NULL && strstr(resp.body, "enter the token") != NULL);
    pages_index(&ctx, &req, &resp); /* GET / needs the token, so it shows the root */
    CHECK(resp.body != NULL && strstr(resp.body, root) != NULL);
    response_cleanup(&resp);
}

/* The root is shown escaped and whole, however long; out of memory is a 503 problem. */
static void test_page_text(const char *root)
{
    start(root, "");
    struct handler_context ctx = context();
    struct request req = {.method = "GET", .path = "/", .request_id = "t"};
    struct response resp = {0};
    ctx.root_path = "/data/<a&b\"c'd>";
    pages_index(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK(resp.body != NULL && strstr(resp.body, "/data/&lt;a&amp;b&quot;c&#39;d&gt;") != NULL);
    CHECK(resp.body != NULL && strstr(resp.body, "<a&b") == NULL);

    static char long_root[4096], escaped[4095 * 5 + 1];
    memset(long_root, '&', sizeof long_root - 1);
    for (size_t i = 0; i < sizeof long_root - 1; i++)
        memcpy(escaped + 5 * i, "&amp;", 5);
    ctx.root_path = long_root;
    pages_index(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK(resp.body != NULL && strstr(resp.body, escaped) != NULL);

    ctx.root_path = cfg.root;
    alloc_fail_nth(1);
    pages_index(&ctx, &req, &resp);
    alloc_fail_nth(0);
    is_problem(&resp, 503, "rendering the page");
    response_cleanup(&resp);
}

static void test_health_and_metrics(const char *root)
{
    start(root, "");
    struct handler_context ctx = context();
    struct request req = {.method = "GET", .path = "/healthz", .request_id = "t"};
    struct response resp = {0};
    pages_healthz(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.body, "{\"status\":\"ok\"}");

    /* Out of memory for the copy: a problem with Retry-After, not a bare status. */
    alloc_fail_nth(1);
    pages_healthz(&ctx, &req, &resp);
    bool fired = !alloc_fault_pending();
    alloc_fail_nth(0);
    CHECK(fired);
    is_problem(&resp, 503, "out of memory");
    CHECK_INT(resp.retry_after, 1);

    req.path = "/metrics";
    pages_metrics(&ctx, &req, &resp);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
    CHECK(resp.body != NULL && strstr(resp.body, "# TYPE tessera_build_info gauge") != NULL);
    response_cleanup(&resp);
}

int main(void)
{
    char root[512];
    check_tmpdir(root, sizeof root);
    test_readyz(root);
    test_ui(root);
    test_page_text(root);
    test_health_and_metrics(root);
    check_rmtree(root);
    return check_finish("test_pages");
}
