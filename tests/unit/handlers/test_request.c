/*
 * test_request.c - the request helpers of handlers/request.c: query parameters (only the
 * allowed ones, booleans, bounded integers), media types, the JSON body (415, empty, syntax
 * errors with position, not an object, duplicate keys), request_json_nodes against the trees
 * jansson builds, the field table, request_json_u64, and response_jsonw. Every refusal must be a
 * 400/415 problem naming what was wrong.
 */
#include "alloc.h"
#include "check.h"
#include "jsonw.h"
#include "request.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* resp is a problem with this status whose detail contains every word (NULL-terminated). */
static bool is_problem(const struct response *resp, int status, const char *const words[])
{
    bool ok = CHECK_INT(resp->status, status) && CHECK(resp->body != NULL) &&
              CHECK_STR(resp->content_type, "application/problem+json");
    if (!ok)
        return false;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    ok = CHECK(detail != NULL);
    for (size_t i = 0; ok && words[i] != NULL; i++)
        if (!CHECK(strstr(detail, words[i]) != NULL)) {
            fprintf(stderr, "    detail '%s' lacks '%s'\n", detail, words[i]);
            ok = false;
        }
    json_decref(j);
    return ok;
}

static void test_request_helpers(void)
{
    struct request_param params[] = {{"dir", "cyc1"}, {"recursive", "true"}};
    struct request req = {.path = "/scan",
                          .params = params,
                          .n_params = 2,
                          .content_type = "Application/JSON; charset=utf-8",
                          .accept = "text/html, application/octet-stream;q=0.9"};
    CHECK_STR(request_param(&req, "dir"), "cyc1");
    CHECK(request_param(&req, "missing") == NULL);
    struct response resp = {0};
    const char *const ok[] = {"dir", "recursive", NULL};
    CHECK(request_params_only(&req, ok, &resp));
    const char *const narrow[] = {"dir", NULL};
    CHECK(!request_params_only(&req, narrow, &resp));
    CHECK_INT(resp.status, 400);
    CHECK(strstr(resp.body, "recursive") != NULL);
    response_cleanup(&resp);
    CHECK(request_content_type_is(&req, "application/json"));
    CHECK(!request_content_type_is(&req, "application/js"));
    CHECK(request_accepts(&req, "application/octet-stream"));
    CHECK(!request_accepts(&req, "application/json"));
}

static void test_param_values(void)
{
    struct request_param params[] = {{"a", "true"},
                                     {"b", "0"},
                                     {"c", "yes"},
                                     {"n", "42"},
                                     {"big", "18446744073709551616"},
                                     {"neg", "-1"},
                                     {"empty", ""},
                                     {"max", "18446744073709551615"}};
    struct request req = {.path = "/scan", .params = params, .n_params = 8};
    struct response resp = {0};
    bool flag = false;
    CHECK(request_param_bool(&req, "a", false, &flag, &resp) && flag);
    CHECK(request_param_bool(&req, "b", true, &flag, &resp) && !flag);
    CHECK(request_param_bool(&req, "absent", true, &flag, &resp) && flag);
    CHECK(!request_param_bool(&req, "c", false, &flag, &resp));
    is_problem(&resp, 400, (const char *const[]){"'c'", "true or false", "yes", NULL});

    uint64_t v = 0;
    CHECK(request_param_u64(&req, "n", 0, 100, 7, &v, &resp));
    CHECK_INT(v, 42);
    CHECK(request_param_u64(&req, "absent", 0, 100, 7, &v, &resp));
    CHECK_INT(v, 7);
    CHECK(request_param_u64(&req, "max", 0, UINT64_MAX, 0, &v, &resp));
    CHECK(v == UINT64_MAX);
    CHECK(!request_param_u64(&req, "n", 0, 41, 0, &v, &resp));
    is_problem(&resp, 400, (const char *const[]){"'n'", "[0, 41]", "'42'", NULL});
    CHECK(!request_param_u64(&req, "n", 43, 100, 0, &v, &resp));
    is_problem(&resp, 400, (const char *const[]){"[43, 100]", NULL});
    const char *const bad[] = {"big", "neg", "empty"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(!request_param_u64(&req, bad[i], 0, UINT64_MAX, 0, &v, &resp));
        is_problem(&resp, 400, (const char *const[]){bad[i], NULL});
    }
    response_cleanup(&resp);
}

static void test_json_object(void)
{
    struct response resp = {0};
    const char obj[] = "{\"k\": 3}";
    struct request req = {
        .path = "/topk", .body = (const unsigned char *)obj, .body_len = sizeof obj - 1};
    json_t *j = request_json_object(&req, &resp);
    if (CHECK(j != NULL))
        CHECK_INT(json_integer_value(json_object_get(j, "k")), 3);
    json_decref(j);

    req.content_type = "text/plain";
    CHECK(request_json_object(&req, &resp) == NULL);
    is_problem(&resp, 415, (const char *const[]){"application/json", "text/plain", NULL});
    req.content_type = "application/json; charset=utf-8";
    CHECK((j = request_json_object(&req, &resp)) != NULL);
    json_decref(j);

    req.body_len = 0;
    CHECK(request_json_object(&req, &resp) == NULL);
    is_problem(&resp, 400, (const char *const[]){"empty", NULL});

    const char broken[] = "{\n  \"k\": ,\n}";
    req.body = (const unsigned char *)broken;
    req.body_len = sizeof broken - 1;
    CHECK(request_json_object(&req, &resp) == NULL);
    is_problem(&resp, 400, (const char *const[]){"not valid JSON", "line 2", NULL});

    const char array[] = "[1, 2]";
    req.body = (const unsigned char *)array;
    req.body_len = sizeof array - 1;
    CHECK(request_json_object(&req, &resp) == NULL);
    is_problem(&resp, 400, (const char *const[]){"JSON object", NULL});

    const char twice[] = "{\"k\": 1, \"k\": 2}";
    req.body = (const unsigned char *)twice;
    req.body_len = sizeof twice - 1;
    CHECK(request_json_object(&req, &resp) == NULL);
    is_problem(&resp, 400, (const char *const[]){"duplicate", NULL});
    response_cleanup(&resp);
}

/* request_json_nodes against jansson: for valid JSON the count is the values jansson builds,
 * object keys included (counted here by walking the parsed tree). */
static size_t tree_nodes(const json_t *v)
{
    size_t n = 1;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            n += tree_nodes(json_array_get(v, i));
    } else if (json_is_object(v)) {
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)v, key, value)
        {
            (void)key;
            n += 1 + tree_nodes(value);
        }
    }
    return n;
}

static void test_json_nodes(void)
{
    static const char *const valid[] = {
        "{}",
        "[]",
        "0",
        "-1.5e+10",
        "\"\"",
        "\"a \\\" [ { 1 true\"", /* brackets, digits and words inside a string */
        "\"\\\\\"",              /* an escaped backslash before the closing quote */
        "\"\\u00e9\\n\"",
        "{\"a\":[1,2.5e3,-1,true,false,null,\"x\\\"y\",{},[]]}",
        " [ [ ] , { \"k\" : { \"k\" : [ null ] } } ]\n",
        "{\"values\":[3,1,2],\"k\":2}",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        json_error_t e;
        json_t *j = json_loads(valid[i], JSON_DECODE_ANY, &e);
        if (!CHECK(j != NULL)) {
            fprintf(stderr, "    %s: %s\n", valid[i], e.text);
            continue;
        }
        if (!CHECK_INT(request_json_nodes(valid[i], strlen(valid[i])), tree_nodes(j)))
            fprintf(stderr, "    counting %s\n", valid[i]);
        json_decref(j);
    }
    /* The example of the limit: {"values":[...n numbers...],"k":1} holds n + 5. */
    const char *example = "{\"values\":[1,2,3],\"k\":1}";
    CHECK_INT(request_json_nodes(example, strlen(example)), 8);
    /* Text that is not JSON: never read past its end, a cut string counts once. */
    CHECK_INT(request_json_nodes(NULL, 0), 0);
    CHECK_INT(request_json_nodes("\"abc", 4), 1);
    CHECK_INT(request_json_nodes("\"ab\\", 4), 1);
    CHECK_INT(request_json_nodes("[1,", 3), 2);
    CHECK_INT(request_json_nodes("{}{}{}", 4), 2);
}

static void test_json_fields(void)
{
    struct request req = {.path = "/scan"};
    struct response resp = {0};
    json_t *obj = json_pack("{s:s, s:b, s:i}", "dir", "cyc1", "recursive", 1, "limit", 5);
    json_t *dir = NULL, *recursive = NULL, *limit = NULL, *hidden = (json_t *)&resp;
    const struct request_field fields[] = {
        {"dir", REQUEST_FIELD_STRING, true, &dir},
        {"recursive", REQUEST_FIELD_BOOL, false, &recursive},
        {"limit", REQUEST_FIELD_INTEGER, false, &limit},
        {"hidden", REQUEST_FIELD_BOOL, false, &hidden},
    };
    CHECK(request_json_fields(&req, obj, fields, 4, &resp));
    CHECK_STR(json_string_value(dir), "cyc1");
    CHECK(json_is_true(recursive));
    CHECK_INT(json_integer_value(limit), 5);
    CHECK(hidden == NULL); /* absent: set to NULL */

    /* Unknown key, wrong type, missing required field. */
    CHECK(!request_json_fields(&req, obj, fields, 2, &resp));
    is_problem(&resp, 400, (const char *const[]){"unknown field", "'limit'", NULL});
    json_object_set_new(obj, "recursive", json_string("yes"));
    CHECK(!request_json_fields(&req, obj, fields, 4, &resp));
    is_problem(&resp, 400, (const char *const[]){"'recursive'", "true or false", NULL});
    json_object_set_new(obj, "recursive", json_true());
    json_object_del(obj, "dir");
    CHECK(!request_json_fields(&req, obj, fields, 4, &resp));
    is_problem(&resp, 400, (const char *const[]){"'dir'", "required", NULL});
    json_decref(obj);
    response_cleanup(&resp);
}

static void test_json_u64(void)
{
    struct request req = {.path = "/overlap"};
    struct response resp = {0};
    uint64_t out = 99;
    CHECK(request_json_u64(&req, NULL, "page_a", 0, 10, &out, &resp));
    CHECK_INT(out, 99); /* absent: untouched */

    json_t *v = json_integer(7);
    CHECK(request_json_u64(&req, v, "page_a", 0, 10, &out, &resp));
    CHECK_INT(out, 7);
    CHECK(request_json_u64(&req, v, "page_a", 7, 7, &out, &resp)); /* both bounds inclusive */
    json_decref(v);

    v = json_integer(LLONG_MAX);
    CHECK(request_json_u64(&req, v, "limit", 1, UINT64_MAX, &out, &resp));
    CHECK(out == (uint64_t)LLONG_MAX);
    json_decref(v);

    struct {
        json_t *value;
        uint64_t min, max;
    } bad[] = {
        {json_integer(11), 0, 10}, {json_integer(0), 1, 10},
        {json_integer(-1), 0, 10}, {json_integer(LLONG_MIN), 0, UINT64_MAX},
        {json_real(2.0), 0, 10},   {json_string("3"), 0, 10},
        {json_null(), 0, 10},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = 99;
        char range[64];
        snprintf(range, sizeof range, "[%llu, %llu]", (unsigned long long)bad[i].min,
                 (unsigned long long)bad[i].max);
        if (!CHECK(!request_json_u64(&req, bad[i].value, "page_a", bad[i].min, bad[i].max, &out,
                                     &resp)))
            fprintf(stderr, "    case %zu accepted\n", i);
        is_problem(&resp, 400, (const char *const[]){"field 'page_a'", range, NULL});
        CHECK_INT(out, 99);
        json_decref(bad[i].value);
    }
    response_cleanup(&resp);
}

static void test_response_jsonw(void)
{
    struct request req = {.path = "/topk", .request_id = "rid"};
    struct response resp = {0};
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"k\":");
    jsonw_u64(&w, 3);
    jsonw_lit(&w, "}");
    response_jsonw(&resp, &req, &w);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.content_type, "application/json");
    CHECK_STR(resp.body, "{\"k\":3}");
    CHECK_INT(resp.body_len, 7);

    /* Past the writer's cap: a 413 naming the cap, never a cut 200. */
    jsonw_init_max(&w, 16);
    jsonw_lit(&w, "{\"values\":[1,2,3,4,5]}");
    response_jsonw(&resp, &req, &w);
    is_problem(&resp, 413, (const char *const[]){"16 bytes", NULL});

    /* Out of memory while writing: a 503 with Retry-After. */
    jsonw_init(&w);
    alloc_fail_nth(1);
    jsonw_lit(&w, "{}");
    alloc_fail_nth(0);
    response_jsonw(&resp, &req, &w);
    is_problem(&resp, 503, (const char *const[]){"out of memory", NULL});
    CHECK_INT(resp.retry_after, 1);
    response_cleanup(&resp);
}

int main(void)
{
    test_request_helpers();
    test_param_values();
    test_json_object();
    test_json_nodes();
    test_json_fields();
    test_json_u64();
    test_response_jsonw();
    return check_finish("test_request");
}
