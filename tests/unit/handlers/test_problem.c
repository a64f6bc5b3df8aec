/*
 * test_problem.c - every core error maps to one status, and every problem body has the
 * RFC 9457 members.
 */
#include "check.h"
#include "handler.h"
#include "problem.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static void test_status_map(void)
{
    CHECK_INT(problem_status(ERROR_INVALID), 400);
    CHECK_INT(problem_status(ERROR_FORBIDDEN), 403);
    CHECK_INT(problem_status(ERROR_NOT_FOUND), 404);
    CHECK_INT(problem_status(ERROR_TOO_LARGE), 413);
    CHECK_INT(problem_status(ERROR_UNPROCESSABLE), 422);
    CHECK_INT(problem_status(ERROR_BUSY), 503);
    CHECK_INT(problem_status(ERROR_TIMEOUT), 503);
    CHECK_INT(problem_status(ERROR_NO_MEMORY), 503);
    CHECK_INT(problem_status(ERROR_IO), 500);
    CHECK_INT(problem_status(ERROR_INTERNAL), 500);
    CHECK_STR(problem_title(404), "Not Found");
    CHECK_STR(problem_title(422), "Unprocessable Content");
    CHECK_STR(problem_title(299), "Internal Server Error");
    CHECK_STR(problem_title(501), "Not Implemented");
    CHECK_STR(problem_title(505), "HTTP Version Not Supported");
}

/* A status the table does not know is rendered with the 500 kind, found by status. */
static void test_unknown_status(void)
{
    size_t len = 0;
    char *body = problem_render(418, "teapot", NULL, NULL, &len);
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    if (CHECK(j != NULL)) {
        CHECK_STR(json_string_value(json_object_get(j, "type")),
                  "urn:tessera:problem:internal-error");
        CHECK_STR(json_string_value(json_object_get(j, "title")), "Internal Server Error");
        CHECK_INT(json_integer_value(json_object_get(j, "status")), 418);
        CHECK_STR(json_string_value(json_object_get(j, "detail")), "teapot");
        CHECK(json_object_get(j, "instance") == NULL);
    }
    json_decref(j);
    free(body);
}

static void test_problem_body(void)
{
    struct request req = {.path = "/scan", .request_id = "rid-1"};
    struct response resp = {0};
    struct error_info err;
    error_set(&err, ERROR_NOT_FOUND, "'%s' does not exist", "cyc9");
    problem_from_error(&resp, &req, &err);
    CHECK_INT(resp.status, 404);
    CHECK_STR(resp.content_type, "application/problem+json");
    json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "urn:tessera:problem:not-found");
    CHECK_STR(json_string_value(json_object_get(j, "title")), "Not Found");
    CHECK_INT(json_integer_value(json_object_get(j, "status")), 404);
    CHECK_STR(json_string_value(json_object_get(j, "detail")), "'cyc9' does not exist");
    CHECK_STR(json_string_value(json_object_get(j, "instance")), "/scan");
    CHECK_STR(json_string_value(json_object_get(j, "request_id")), "rid-1");
    json_decref(j);
    CHECK_INT(resp.retry_after, 0);

    problem_send(&resp, &req, 503, "busy");
    CHECK_INT(resp.status, 503);
    CHECK_INT(resp.retry_after, 1);

    /* Bytes from a file name that are not UTF-8 must not break the body. */
    problem_send(&resp, &req, 422, "bad name \xff\xfe");
    j = json_loadb(resp.body, resp.body_len, 0, NULL);
    CHECK(j != NULL);
    CHECK(json_is_string(json_object_get(j, "detail")));
    json_decref(j);
    response_cleanup(&resp);
}

int main(void)
{
    test_status_map();
    test_problem_body();
    test_unknown_status();
    return check_finish("test_problem");
}
