/*
 * test_routes.c - the route table is consistent, and what is derived from it is right:
 * every row has a handler, a known method, a path and a summary; (method, path) pairs are
 * unique; the admin port's list is the .admin rows and only light ones; every row with an
 * embedded file is served by pages_asset with a Content-Type, and pages_asset serves every
 * such row's bytes; lookups (HEAD as GET, unknown paths, wrong methods) and the Allow header.
 */
#include "check.h"
#include "pages.h"
#include "routes.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

static void test_rows(void)
{
    CHECK(routes_count >= 10);
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes[i];
        bool ok = CHECK(r->handler != NULL) && CHECK(r->path != NULL && r->path[0] == '/') &&
                  CHECK(r->method != NULL &&
                        (strcmp(r->method, "GET") == 0 || strcmp(r->method, "POST") == 0)) &&
                  CHECK(r->summary != NULL && r->summary[0] != '\0');
        if (!ok) {
            fprintf(stderr, "    row %zu is incomplete\n", i);
            continue;
        }
        for (size_t j = i + 1; j < routes_count; j++)
            if (!CHECK(strcmp(r->path, routes[j].path) != 0 ||
                       strcmp(r->method, routes[j].method) != 0))
                fprintf(stderr, "    %s %s is in the table twice\n", r->method, r->path);
        /* A GET route takes no body; the admin daemon has no worker pool. */
        if (strcmp(r->method, "GET") == 0)
            CHECK_INT(r->body, ROUTE_BODY_NONE);
        if (r->admin && !CHECK(!r->heavy))
            fprintf(stderr, "    %s is on the admin port but heavy\n", r->path);
        /* An embedded file is served by pages_asset, and pages_asset serves only those. */
        CHECK((r->asset != NULL) == (r->handler == pages_asset));
        if (r->asset != NULL)
            CHECK(r->asset->content_type != NULL && r->asset->data != NULL &&
                  r->asset->len != NULL && *r->asset->len > 0);
        /* Rows left off GET / are the pages' own files. */
        if (r->unlisted)
            CHECK(r->asset != NULL);
    }
}

static void test_admin(void)
{
    const char *const want[] = {"/healthz", "/readyz", "/metrics"};
    size_t n = 0;
    for (size_t i = 0; i < routes_count; i++)
        if (routes[i].admin) {
            if (CHECK(n < 3))
                CHECK_STR(routes[i].path, want[n]);
            n++;
        }
    CHECK_INT(n, 3);
    CHECK(routes_admin_path("/healthz"));
    CHECK(routes_admin_path("/metrics"));
    CHECK(!routes_admin_path("/scan"));
    CHECK(!routes_admin_path("/"));
    CHECK(!routes_admin_path("/nope"));
    char list[128];
    routes_admin_list(list, sizeof list);
    CHECK_STR(list, "/healthz, /readyz and /metrics");
    char small[12];
    routes_admin_list(small, sizeof small);
    CHECK_INT(strlen(small), sizeof small - 1); /* cut, still a string */
    CHECK(strncmp(small, "/healthz, /", sizeof small - 1) == 0);
}

static void test_find_and_allow(void)
{
    bool known = false;
    const struct route *r = routes_find("GET", "/scan", &known);
    CHECK(known && r != NULL && r->handler != NULL && strcmp(r->method, "GET") == 0);
    r = routes_find("HEAD", "/healthz", &known);
    CHECK(known && r != NULL && strcmp(r->method, "GET") == 0 && strcmp(r->path, "/healthz") == 0);
    r = routes_find("DELETE", "/scan", &known);
    CHECK(known && r == NULL);
    r = routes_find("GET", "/scan/", &known);
    CHECK(!known && r == NULL);
    r = routes_find("POST", "/healthz", &known);
    CHECK(known && r == NULL);

    char allow[96];
    routes_allow("/scan", allow, sizeof allow);
    CHECK_STR(allow, "GET, HEAD, POST, OPTIONS");
    routes_allow("/topk", allow, sizeof allow);
    CHECK_STR(allow, "POST, OPTIONS");
    routes_allow("/healthz", allow, sizeof allow);
    CHECK_STR(allow, "GET, HEAD, OPTIONS");
    routes_allow("/nope", allow, sizeof allow);
    CHECK_STR(allow, "OPTIONS");
    char tiny[8];
    routes_allow("/scan", tiny, sizeof tiny);
    CHECK(strlen(tiny) < sizeof tiny);
}

/* pages_asset answers each row's own file, with the row's type, through the context. */
static void test_assets(void)
{
    size_t served = 0;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes[i];
        if (r->asset == NULL)
            continue;
        struct handler_context ctx = {.root_fd = -1, .route = r};
        struct request req = {.method = "GET", .path = r->path, .request_id = "t"};
        struct response resp = {0};
        pages_asset(&ctx, &req, &resp);
        if (CHECK_INT(resp.status, 200) && CHECK_INT(resp.body_len, *r->asset->len) &&
            CHECK(memcmp(resp.body, r->asset->data, resp.body_len) == 0))
            served++;
        CHECK_STR(resp.content_type, r->asset->content_type);
        response_cleanup(&resp);
    }
    CHECK_INT(served, 8); /* /openapi.yaml, /docs and six /assets/ files */

    struct handler_context none = {.root_fd = -1};
    struct request req = {.method = "GET", .path = "/assets/gone.js", .request_id = "t"};
    struct response resp = {0};
    pages_asset(&none, &req, &resp);
    CHECK_INT(resp.status, 404);
    CHECK_STR(resp.content_type, "application/problem+json");
    response_cleanup(&resp);
}

/* GET / lists the table the server serves, without its unlisted rows. */
static void test_index_rows(void)
{
    struct server srv = {.routes = routes, .routes_count = routes_count};
    struct handler_context ctx = {.root_fd = -1, .root_path = "/data", .server = &srv};
    struct request req = {.method = "GET", .path = "/", .request_id = "t"};
    struct response resp = {0};
    pages_index(&ctx, &req, &resp);
    if (CHECK_INT(resp.status, 200) && CHECK(resp.body != NULL)) {
        CHECK(strstr(resp.body, "<a href=\"/healthz\">/healthz</a>") != NULL);
        CHECK(strstr(resp.body, "<td>POST</td><td>/topk</td>") != NULL);
        CHECK(strstr(resp.body, "<a href=\"/docs\">") != NULL);
        CHECK(strstr(resp.body, "/assets/app.js</a>") == NULL);
    }
    response_cleanup(&resp);
}

int main(void)
{
    test_rows();
    test_admin();
    test_find_and_allow();
    test_assets();
    test_index_rows();
    return check_finish("test_routes");
}
