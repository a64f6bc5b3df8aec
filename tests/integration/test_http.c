/*
 * test_http.c - the service plumbing over real HTTP: every built-in route, the problem+json
 * shape, 404/405/413/401, request ids, CORS, the framing table (raw bytes), limits on
 * chunked bodies, the access log, configuration errors and SIGTERM; the connection guards:
 * --max-connections (excess closed at accept), --header-timeout, --max-body-memory; and
 * --max-json-nodes at its boundary.
 */
#include "check.h"
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[512];

static int run_binary(const char *args, char *out, size_t size);

static void test_routes(struct itest_server *s)
{
    struct itest_reply r;
    char h[256];

    CHECK(itest_request(s, "GET", "/", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK(itest_header(&r, "Content-Type", h, sizeof h) && strstr(h, "text/html") != NULL);
    CHECK(strstr(r.body, "Tessera") != NULL);
    CHECK(strstr(r.body, root) != NULL);
    CHECK(strstr(r.body, "href=\"/healthz\"") != NULL);
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "ok");
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "HEAD", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(r.len, 0);
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "GET", "/readyz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "status")), "ready");
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "GET", "/openapi.yaml", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK(strncmp(r.body, "openapi: 3.1.0", 14) == 0);
    CHECK(strstr(r.body, "/healthz:") != NULL);
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "GET", "/metrics", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "tessera_build_info{version=") != NULL);
    CHECK(strstr(r.body,
                 "tessera_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"}") != NULL);
    CHECK(strstr(r.body, "tessera_request_duration_seconds_bucket{route=\"/healthz\"") != NULL);
    CHECK(strstr(r.body, "tessera_open_connections ") != NULL);
    CHECK(strstr(r.body, "tessera_worker_queue_capacity ") != NULL);
    itest_reply_cleanup(&r);
}

static void test_errors(struct itest_server *s)
{
    struct itest_reply r;
    char h[256];

    CHECK(itest_request(s, "GET", "/no/such/thing", NULL, NULL, 0, &r));
    itest_is_problem(&r, 404);
    CHECK_STR(json_string_value(json_object_get(r.json, "instance")), "/no/such/thing");
    CHECK_STR(json_string_value(json_object_get(r.json, "type")), "urn:tessera:problem:not-found");
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "GET", "/healthz/", NULL, NULL, 0, &r));
    itest_is_problem(&r, 404);
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "DELETE", "/healthz", NULL, NULL, 0, &r));
    itest_is_problem(&r, 405);
    CHECK(itest_header(&r, "Allow", h, sizeof h));
    CHECK_STR(h, "GET, HEAD, OPTIONS");
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "POST", "/metrics", NULL, "{}", 2, &r));
    itest_is_problem(&r, 405);
    itest_reply_cleanup(&r);

    CHECK(itest_request(s, "OPTIONS", "/readyz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 204);
    CHECK(itest_header(&r, "Allow", h, sizeof h));
    CHECK_STR(h, "GET, HEAD, OPTIONS");
    CHECK(!itest_header(&r, "Access-Control-Allow-Origin", h, sizeof h));
    itest_reply_cleanup(&r);

    /* A body where none is taken: refused from Content-Length. */
    CHECK(itest_request(s, "GET", "/healthz", NULL, "x", 1, &r));
    itest_is_problem(&r, 413);
    itest_reply_cleanup(&r);

    /* Request ids: a valid one is echoed, an invalid one replaced. */
    const char *const good[] = {"X-Request-Id: pipeline-7.step_3", NULL};
    CHECK(itest_request(s, "GET", "/nope", good, NULL, 0, &r));
    CHECK(itest_header(&r, "X-Request-Id", h, sizeof h));
    CHECK_STR(h, "pipeline-7.step_3");
    CHECK_STR(json_string_value(json_object_get(r.json, "request_id")), "pipeline-7.step_3");
    itest_reply_cleanup(&r);
    const char *const bad[] = {"X-Request-Id: <script>", NULL};
    CHECK(itest_request(s, "GET", "/healthz", bad, NULL, 0, &r));
    CHECK(itest_header(&r, "X-Request-Id", h, sizeof h));
    CHECK_INT(strlen(h), 32);
    CHECK(strspn(h, "0123456789abcdef") == 32);
    itest_reply_cleanup(&r);
}

/* Who answers a framing case, and so what is on the wire. */
enum framing_answer {
    FRAMING_OURS,     /* one problem+json answer from Tessera (or the 200 of a valid request) */
    FRAMING_MHD,      /* one answer from libmicrohttpd itself */
    FRAMING_MHD_TWICE /* libmicrohttpd's own 400: 0.9.75 writes its status line and headers
                         twice, then closes (see x-tessera-transport-errors) */
};

struct framing_case {
    const char *name;
    const char *raw;
    size_t len;
    int want;
    enum framing_answer who;
};

#define RAW(s) s, sizeof s - 1
/* A complete request hidden in a body: it must never be answered (every status line on the
 * wire is the case's own). */
#define SMUGGLED "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"

static const struct framing_case framing_cases[] = {
    {"TE gzip", RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"), 501,
     FRAMING_OURS},
    {"TE identity",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\nabc"), 501,
     FRAMING_OURS},
    {"TE chunked, gzip",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501,
     FRAMING_OURS},
    {"TE + CL",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
         "\r\n0\r\n\r\n"),
     400, FRAMING_OURS},
    {"two CL",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
     400, FRAMING_OURS},
    {"TE in HTTP/1.0",
     RAW("POST /healthz HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400,
     FRAMING_OURS},
    {"absolute target", RAW("GET http://t/healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 400, FRAMING_OURS},
    {"asterisk target", RAW("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"), 400, FRAMING_OURS},
    {"encoded NUL", RAW("GET /healthz%00.txt HTTP/1.1\r\nHost: t\r\n\r\n"), 400, FRAMING_OURS},
    {"CL not a number", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n"), 400,
     FRAMING_MHD_TWICE},
    /* libmicrohttpd refuses a Content-Length that is not plain digits itself, before the
     * first access-handler call, so Tessera cannot answer these. What holds: every answer
     * is its 400 and the connection closes - the body is never read as a request. */
    {"CL with a sign",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: +35\r\n\r\n" SMUGGLED), 400,
     FRAMING_MHD_TWICE},
    {"CL empty", RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: \r\n\r\n" SMUGGLED), 400,
     FRAMING_MHD_TWICE},
    {"CL list", RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 35, 35\r\n\r\n" SMUGGLED),
     400, FRAMING_MHD_TWICE},
    {"CL trailing space",
     RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 35 \r\n\r\n" SMUGGLED), 400,
     FRAMING_MHD_TWICE},
    {"CL over limit",
     RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n"), 413,
     FRAMING_OURS},
    {"no Host in HTTP/1.1", RAW("GET /healthz HTTP/1.1\r\n\r\n"), 400, FRAMING_MHD_TWICE},
    {"bad version", RAW("GET /healthz HTTP/3.7\r\nHost: t\r\n\r\n"), 505, FRAMING_MHD},
    {"plain GET still works", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
     200, FRAMING_OURS},
    /* Smuggling through libmicrohttpd 0.9.75's header parsing (server/http_fields.h). A
     * folded line is glued onto the header name: "Content-Lengt" + "h" would frame a body
     * a proxy does not see, "Transfer-Encoding" + "chunked" would hide the coding. */
    {"folded CL name",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Lengt: 35\r\n h\r\n\r\n" SMUGGLED), 400,
     FRAMING_OURS},
    {"folded TE value",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n"
         "Content-Length: 35\r\n\r\n" SMUGGLED),
     400, FRAMING_OURS},
    {"folded TE, tab",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n"
         "0\r\n\r\n"),
     400, FRAMING_OURS},
    {"folded other header", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: one\r\n two\r\n\r\n"),
     400, FRAMING_OURS},
    /* "Content-Length : N" is a header named "Content-Length " to libmicrohttpd: the body
     * would be read as the next request. */
    {"space before colon",
     RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length : 35\r\n\r\n" SMUGGLED), 400,
     FRAMING_OURS},
    {"tab before colon",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"), 400,
     FRAMING_OURS},
    {"CL look-alike name",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length-X: 35\r\n\r\n" SMUGGLED), 400,
     FRAMING_OURS},
    {"TE look-alike name",
     RAW("POST /healthz HTTP/1.1\r\nHost: t\r\ntransfer-encodingx: chunked\r\n\r\n" SMUGGLED), 400,
     FRAMING_OURS},
    {"name not a token", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX(a): 1\r\n\r\n"), 400,
     FRAMING_OURS},
    /* A raw NUL would cut a value or the target where it stands (the rest of the line
     * dropped); a bare LF or CR would end or not end a line unlike a proxy's reading. */
    {"NUL in the last value", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: a\0junk\r\n\r\n"),
     400, FRAMING_OURS},
    {"NUL in a value", RAW("GET /healthz HTTP/1.1\r\nX-Note: a\0junk\r\nHost: t\r\n\r\n"), 400,
     FRAMING_OURS},
    {"NUL after the colon", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note:\0a\r\n\r\n"), 400,
     FRAMING_OURS},
    {"NUL in the target", RAW("GET /scan?dir=cyc1\0/../.. HTTP/1.1\r\nHost: t\r\n\r\n"), 400,
     FRAMING_OURS},
    {"NUL in the path", RAW("GET /healthz\0.txt HTTP/1.1\r\nHost: t\r\n\r\n"), 400, FRAMING_OURS},
    {"two spaces after the method", RAW("GET  /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 400,
     FRAMING_OURS},
    {"two Host headers", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n"), 400,
     FRAMING_OURS},
    {"two Host headers, one lower case", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nhost: t\r\n\r\n"),
     400, FRAMING_OURS},
    {"bare LF line ends", RAW("GET /healthz HTTP/1.1\nHost: t\n\n"), 400, FRAMING_OURS},
    {"one bare LF", RAW("GET /healthz HTTP/1.1\r\nHost: t\nX-Note: a\r\n\r\n"), 400, FRAMING_OURS},
    {"bare LF ending the head", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\n\n"), 400, FRAMING_OURS},
    {"bare CR in a value", RAW("GET /healthz HTTP/1.1\r\nHost: t\rX-Note: a\r\n\r\n"), 400,
     FRAMING_OURS},
    {"control byte in a value", RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: a\x01b\r\n\r\n"),
     400, FRAMING_OURS},
    {"whitespace and empty values still work",
     RAW("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A:   spaced\t \r\nX-B:\r\nX-C:\tc\r\n"
         "X-D: caf\xc3\xa9\r\nConnection: close\r\n\r\n"),
     200, FRAMING_OURS},
    {"HTTP/1.0 without headers still works", RAW("GET /healthz HTTP/1.0\r\n\r\n"), 200,
     FRAMING_OURS},
};

/* Status lines on the wire: "HTTP/1.x NNN " anywhere in the answer (no answer body here
 * holds one, and a second answer may follow a body with no line end). */
static unsigned framing_status_lines(const char *out, int want, bool *all_want)
{
    unsigned n = 0;
    *all_want = true;
    for (const char *p = out; (p = strstr(p, "HTTP/1.")) != NULL; p++) {
        if (strlen(p) < 13 || p[8] != ' ' || p[12] != ' ' || strspn(p + 9, "0123456789") < 3)
            continue;
        n++;
        if (itest_raw_status(p) != want)
            *all_want = false;
    }
    return n;
}

static void test_framing(struct itest_server *s)
{
    static char out[65536];
    for (size_t i = 0; i < sizeof framing_cases / sizeof framing_cases[0]; i++) {
        const struct framing_case *c = &framing_cases[i];
        long n = itest_raw(s, c->raw, c->len, out, sizeof out, 3000);
        CHECK(n > 0);
        int status = itest_raw_status(out);
        if (!CHECK_INT(status, c->want))
            fprintf(stderr, "    framing case '%s': %.200s\n", c->name, out);
        bool ours = c->who == FRAMING_OURS;
        if (ours && status != 200 && !CHECK(strstr(out, "application/problem+json") != NULL))
            fprintf(stderr, "    framing case '%s' was not problem+json\n", c->name);
        bool all_want;
        unsigned lines = framing_status_lines(out, c->want, &all_want);
        unsigned want_lines = c->who == FRAMING_MHD_TWICE ? 2 : 1;
        if (!CHECK_INT(lines, want_lines) || !CHECK(all_want))
            fprintf(stderr, "    framing case '%s': %u status lines: %.400s\n", c->name, lines,
                    out);
        /* A refusal of ours closes the connection: what follows is never read as a request. */
        if (ours && status >= 400 && !CHECK(strstr(out, "Connection: close\r\n") != NULL))
            fprintf(stderr, "    framing case '%s' kept the connection open\n", c->name);
    }

    /* Huge header and huge URL: libmicrohttpd answers 431 / 414 itself. */
    size_t big = 200000;
    char *raw = malloc(big + 256);
    int len = snprintf(raw, 256, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(raw + len, 'a', big);
    memcpy(raw + len + big, "\r\n\r\n", 5);
    itest_raw(s, raw, strlen(raw), out, sizeof out, 3000);
    CHECK_INT(itest_raw_status(out), 431);
    len = snprintf(raw, 256, "GET /healthz?");
    memset(raw + len, 'a', big);
    memcpy(raw + len + big, " HTTP/1.1\r\nHost: t\r\n\r\n", 23);
    itest_raw(s, raw, strlen(raw), out, sizeof out, 3000);
    CHECK_INT(itest_raw_status(out), 414);
    free(raw);

    /* A chunked body on a route that takes none: cut off, counted, connection closed. */
    const char chunked[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n0\r\n\r\n";
    long n = itest_raw(s, chunked, sizeof chunked - 1, out, sizeof out, 3000);
    CHECK(n >= 0);
    struct itest_reply r;
    CHECK(itest_request(s, "GET", "/metrics", NULL, NULL, 0, &r));
    CHECK(strstr(r.body, "tessera_bodies_cut_total 1") != NULL);
    itest_reply_cleanup(&r);

    /* After all of that the server still answers. */
    CHECK(itest_request(s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
}

static void test_access_log(struct itest_server *s)
{
    const char *const hdr[] = {"X-Request-Id: log-probe-1", NULL};
    struct itest_reply r;
    CHECK(itest_request(s, "GET", "/readyz", hdr, NULL, 0, &r));
    itest_reply_cleanup(&r);
    usleep(100000);
    char *log = itest_log(s);
    const char *line = strstr(log, "\"request_id\":\"log-probe-1\"");
    CHECK(line != NULL);
    if (line != NULL) {
        const char *start = line;
        while (start > log && start[-1] != '\n')
            start--;
        CHECK(strncmp(start, "{\"time\":\"", 9) == 0);
        CHECK(strstr(start, "\"type\":\"access\"") != NULL);
        CHECK(strstr(start, "\"method\":\"GET\",\"route\":\"/readyz\"") != NULL);
        CHECK(strstr(start, "\"status\":200") != NULL);
        CHECK(strstr(start, "\"remote\":\"127.0.0.1\"") != NULL);
        CHECK(strstr(start, "\"duration_ms\":") != NULL);
        CHECK(strstr(start, "\"bytes_out\":18") != NULL);
    }
    free(log);
}

static void test_token_and_cors(void)
{
    struct itest_server s;
    const char *const args[] = {"--token", "s3cret-token", "--cors-origins",
                                "https://lab.example, https://other.example", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_reply r;
    char h[256];

    CHECK(itest_request(&s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK(itest_request(&s, "GET", "/readyz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);

    CHECK(itest_request(&s, "GET", "/metrics", NULL, NULL, 0, &r));
    itest_is_problem(&r, 401);
    CHECK(itest_header(&r, "WWW-Authenticate", h, sizeof h) && strncmp(h, "Bearer", 6) == 0);
    itest_reply_cleanup(&r);

    const char *const wrong[] = {"Authorization: Bearer s3cret-toke", NULL};
    CHECK(itest_request(&s, "GET", "/", wrong, NULL, 0, &r));
    itest_is_problem(&r, 401);
    itest_reply_cleanup(&r);
    const char *const longer[] = {"Authorization: Bearer s3cret-token2", NULL};
    CHECK(itest_request(&s, "GET", "/", longer, NULL, 0, &r));
    itest_is_problem(&r, 401);
    itest_reply_cleanup(&r);
    const char *const basic[] = {"Authorization: Basic czNjcmV0LXRva2Vu", NULL};
    CHECK(itest_request(&s, "GET", "/", basic, NULL, 0, &r));
    itest_is_problem(&r, 401);
    itest_reply_cleanup(&r);
    /* A raw NUL would cut the value: "s3cret-token\0junk" must not pass as the token. */
    static const char nul_last[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n"
                                   "Authorization: Bearer s3cret-token\0junk\r\n\r\n";
    static const char nul_first[] = "GET /metrics HTTP/1.1\r\n"
                                    "Authorization: Bearer s3cret-token\0junk\r\nHost: t\r\n\r\n";
    static char raw_out[8192];
    CHECK(itest_raw(&s, nul_last, sizeof nul_last - 1, raw_out, sizeof raw_out, 3000) > 0);
    CHECK_INT(itest_raw_status(raw_out), 400);
    CHECK(itest_raw(&s, nul_first, sizeof nul_first - 1, raw_out, sizeof raw_out, 3000) > 0);
    CHECK_INT(itest_raw_status(raw_out), 400);
    const char *const right[] = {"Authorization: Bearer s3cret-token", NULL};
    CHECK(itest_request(&s, "GET", "/metrics", right, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);

    const char *const allowed[] = {"Origin: https://other.example", NULL};
    CHECK(itest_request(&s, "GET", "/healthz", allowed, NULL, 0, &r));
    CHECK(itest_header(&r, "Access-Control-Allow-Origin", h, sizeof h));
    CHECK_STR(h, "https://other.example");
    CHECK(itest_header(&r, "Vary", h, sizeof h));
    itest_reply_cleanup(&r);
    const char *const denied[] = {"Origin: https://evil.example", NULL};
    CHECK(itest_request(&s, "GET", "/healthz", denied, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK(!itest_header(&r, "Access-Control-Allow-Origin", h, sizeof h));
    itest_reply_cleanup(&r);
    const char *const preflight[] = {"Origin: https://lab.example",
                                     "Access-Control-Request-Method: GET",
                                     "Access-Control-Request-Headers: authorization", NULL};
    CHECK(itest_request(&s, "OPTIONS", "/metrics", preflight, NULL, 0, &r));
    CHECK_INT(r.status, 204); /* preflights carry no credentials */
    CHECK(itest_header(&r, "Access-Control-Allow-Origin", h, sizeof h));
    CHECK_STR(h, "https://lab.example");
    CHECK(itest_header(&r, "Access-Control-Allow-Methods", h, sizeof h));
    CHECK(strstr(h, "GET") != NULL);
    CHECK(itest_header(&r, "Access-Control-Allow-Headers", h, sizeof h));
    CHECK(strstr(h, "Authorization") != NULL);
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

static void test_root_gone(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/vanishing", root);
    CHECK(mkdir(dir, 0755) == 0);
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, NULL)))
        return;
    struct itest_reply r;
    CHECK(itest_request(&s, "GET", "/readyz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK(rmdir(dir) == 0);
    CHECK(itest_request(&s, "GET", "/readyz", NULL, NULL, 0, &r));
    itest_is_problem(&r, 503);
    itest_reply_cleanup(&r);
    CHECK(itest_request(&s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGINT, 10), 0);
    itest_free(&s);
}

/* A connected loopback socket to the server, or -1. */
static int limits_connect(const struct itest_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Milliseconds until the server closes fd (EOF or reset), or -1 past timeout_ms. */
static long limits_ms_to_close(int fd, int timeout_ms)
{
    double t0 = check_now_s();
    char buf[4096];
    for (;;) {
        long ms = (long)((check_now_s() - t0) * 1e3);
        if (ms > timeout_ms)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(timeout_ms - ms)) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return (long)((check_now_s() - t0) * 1e3);
    }
}

/* The value of a counter in /metrics, or -1. */
static long long limits_metric(const struct itest_server *s, const char *name)
{
    struct itest_reply r;
    long long v = -1;
    if (itest_request(s, "GET", "/metrics", NULL, NULL, 0, &r) && r.body != NULL) {
        char key[128];
        snprintf(key, sizeof key, "\n%s ", name);
        const char *p = strstr(r.body, key);
        if (p != NULL)
            v = strtoll(p + strlen(key), NULL, 10);
    }
    itest_reply_cleanup(&r);
    return v;
}

/* A loopback port that was free a moment ago. */
static unsigned limits_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void test_connection_guards(void)
{
    struct itest_server s;
    char admin_port[16];
    snprintf(admin_port, sizeof admin_port, "%u", limits_free_port());
    const char *const args[] = {"--max-connections", "4",  "--max-per-ip",       "0",
                                "--header-timeout",  "1",  "--idle-timeout",     "30",
                                "--max-body-memory", "1M", "--access-log=false", "--admin-port",
                                admin_port,          NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_server admin = s; /* the same server, seen on --admin-port */
    admin.port = (unsigned)strtoul(admin_port, NULL, 10);
    int slow = itest_slowdown();

    /* Four silent connections fill --max-connections; a fifth is closed at accept. */
    int held[4];
    for (int i = 0; i < 4; i++)
        CHECK((held[i] = limits_connect(&s)) >= 0);
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    int extra = limits_connect(&s);
    long ms = extra >= 0 ? limits_ms_to_close(extra, 2000 * slow) : 0;
    if (!CHECK(ms >= 0 && ms < 1000 * slow))
        fprintf(stderr, "    connection past --max-connections closed after %ld ms\n", ms);
    if (extra >= 0)
        close(extra);
    /* The admin port has its own budget: probes pass while --port is full. It serves the
     * probe routes only. */
    struct itest_reply probe;
    CHECK(itest_request(&admin, "GET", "/healthz", NULL, NULL, 0, &probe));
    CHECK_INT(probe.status, 200);
    itest_reply_cleanup(&probe);
    CHECK(itest_request(&admin, "GET", "/readyz", NULL, NULL, 0, &probe));
    CHECK_INT(probe.status, 200);
    itest_reply_cleanup(&probe);
    CHECK(itest_request(&admin, "GET", "/scan", NULL, NULL, 0, &probe));
    itest_is_problem(&probe, 404);
    itest_reply_cleanup(&probe);
    /* Silent connections are closed by --header-timeout (1 s), not --idle-timeout (30 s). */
    for (int i = 0; i < 4; i++) {
        ms = held[i] >= 0 ? limits_ms_to_close(held[i], 5000 * slow) : -1;
        if (!CHECK(ms >= 0))
            fprintf(stderr, "    silent connection %d not closed by --header-timeout\n", i);
        if (held[i] >= 0)
            close(held[i]);
    }
    nanosleep(&settle, NULL);
    CHECK(limits_metric(&s, "tessera_connections_refused_total") >= 1);

    /* --max-body-memory 1M: a larger body is 413 at once; two bodies of 700 kB at the same
     * time do not fit, so the second is 503 + Retry-After while the first is held. */
    const char *const json[] = {"Content-Type: application/json", NULL};
    struct itest_reply r;
    static char big[2 << 20];
    memset(big, ' ', sizeof big);
    /* Announced, not sent: the 413 must come from the headers alone (a client still sending
     * when the server answers and closes can see a reset instead of the answer). */
    const char over[] = "POST /topk HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2097152\r\n\r\n";
    static char answer[4096];
    CHECK(itest_raw(&s, over, sizeof over - 1, answer, sizeof answer, 5000 * slow) > 0);
    CHECK_INT(itest_raw_status(answer), 413);
    CHECK(strstr(answer, "Content-Type: application/problem+json") != NULL);
    CHECK(strstr(answer, "\"status\":413") != NULL);
    CHECK(strstr(answer, "\"request_id\":") != NULL);
    CHECK(strstr(answer, "\"detail\":") != NULL);

    int first = limits_connect(&s);
    const char head[] = "POST /topk HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                        "Content-Length: 700000\r\n\r\n{\"values\": [";
    CHECK(first >= 0 && send(first, head, sizeof head - 1, MSG_NOSIGNAL) > 0);
    nanosleep(&settle, NULL);
    CHECK(itest_request(&s, "POST", "/topk", json, big, 700000, &r));
    char retry[16];
    if (itest_is_problem(&r, 503))
        CHECK(itest_header(&r, "Retry-After", retry, sizeof retry));
    itest_reply_cleanup(&r);
    CHECK(limits_metric(&s, "tessera_rejected_body_memory_total") >= 1);
    if (first >= 0)
        close(first);
    nanosleep(&settle, NULL);
    /* The budget is given back when the first client leaves: the same body is served. */
    memcpy(big, "{\"values\": [1, 2, 3], \"k\": 1}", 29);
    CHECK(itest_request(&s, "POST", "/topk", json, big, 700000, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);

    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

/* --max-json-nodes: {"values":[n numbers],"k":1} holds n + 5 values; at the limit it is
 * served, one past it is 413 before it is parsed - sent whole or chunked. */
static void test_json_nodes(void)
{
    struct itest_server s;
    const char *const args[] = {"--max-json-nodes", "1000", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    char body[8192];
    for (int n = 995; n <= 996; n++) {
        int len = snprintf(body, sizeof body, "{\"values\":[");
        for (int i = 0; i < n; i++)
            len += snprintf(body + len, sizeof body - (size_t)len, "%s%d", i ? "," : "", i % 10);
        len += snprintf(body + len, sizeof body - (size_t)len, "],\"k\":1}");
        const char *const json[] = {"Content-Type: application/json", NULL};
        const char *const chunked[] = {"Content-Type: application/json",
                                       "Transfer-Encoding: chunked", NULL};
        for (int c = 0; c < 2; c++) {
            struct itest_reply r;
            CHECK(itest_request(&s, "POST", "/topk", c ? chunked : json, body, (size_t)len, &r));
            if (n == 995) {
                CHECK_INT(r.status, 200);
            } else if (itest_is_problem(&r, 413)) {
                CHECK(strstr(r.body, "1001 values") != NULL);
                CHECK(strstr(r.body, "--max-json-nodes") != NULL);
            }
            itest_reply_cleanup(&r);
        }
    }
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

/* At --scan-max-depth 255, the top of its range, /scan takes max_depth 255 and refuses 256. */
static void test_scan_depth_range(void)
{
    struct itest_server s;
    const char *const args[] = {"--scan-max-depth", "255", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_reply r;
    CHECK(itest_request(&s, "GET", "/scan?recursive=true&max_depth=255", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK(itest_request(&s, "GET", "/scan?recursive=true&max_depth=256", NULL, NULL, 0, &r));
    if (itest_is_problem(&r, 400))
        CHECK(strstr(r.body, "[0, 255]") != NULL);
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

/* Run the binary with args; return its exit status and what it printed. */
static int run_binary(const char *args, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", TESSERA_BIN, args);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_config_errors(void)
{
    static char out[16384];
    CHECK_INT(run_binary("--help", out, sizeof out), 0);
    CHECK(strstr(out, "--max-json-body") != NULL && strstr(out, "TESSERA_TOKEN") != NULL);
    CHECK_INT(run_binary("--version", out, sizeof out), 0);
    CHECK(strncmp(out, "tessera ", 8) == 0);
    CHECK_INT(run_binary("--port 70000", out, sizeof out), 2);
    CHECK(strstr(out, "--port") != NULL);
    CHECK_INT(run_binary("--root /nonexistent/tessera-root", out, sizeof out), 2);
    CHECK(strstr(out, "/nonexistent/tessera-root") != NULL);
    CHECK_INT(run_binary("--no-such-option 1", out, sizeof out), 2);
    CHECK(strstr(out, "unknown option") != NULL);
    CHECK_INT(run_binary("--host not-an-address --port 0", out, sizeof out), 2);
    CHECK_INT(run_binary("--workers", out, sizeof out), 2);
    CHECK_INT(run_binary("--conn-memory 12Q", out, sizeof out), 2);
    /* --scan-max-depth takes what /scan can walk (SCAN_DEPTH_MAX), no more. */
    CHECK_INT(run_binary("--scan-max-depth 256 --version", out, sizeof out), 2);
    CHECK(strstr(out, "--scan-max-depth") != NULL && strstr(out, "[0, 255]") != NULL);
    CHECK_INT(run_binary("--scan-max-depth 255 --version", out, sizeof out), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(root, sizeof root);

    struct itest_server s;
    if (!CHECK(itest_start(&s, root, NULL)))
        return check_finish("itest_http");
    test_routes(&s);
    test_errors(&s);
    test_framing(&s);
    test_access_log(&s);

    /* The container HEALTHCHECK subcommand: 0 against a live server, 1 against nothing. */
    static char out[4096];
    char args[64];
    snprintf(args, sizeof args, "healthcheck --port %u", s.port);
    CHECK_INT(run_binary(args, out, sizeof out), 0);
    CHECK_INT(run_binary("healthcheck --port 1", out, sizeof out), 1);
    CHECK(strstr(out, "cannot connect") != NULL);

    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    char *log = itest_log(&s);
    CHECK(strstr(log, "\"msg\":\"draining\"") != NULL);
    CHECK(strstr(log, "\"msg\":\"stopped\"") != NULL);
    CHECK(strstr(log, "ERROR") == NULL && strstr(log, "runtime error") == NULL);
    free(log);
    itest_free(&s);

    test_token_and_cors();
    test_root_gone();
    test_connection_guards();
    test_json_nodes();
    test_scan_depth_range();
    test_config_errors();

    check_rmtree(root);
    curl_global_cleanup();
    return check_finish("itest_http");
}
