/*
 * test_response.c - a response owns its body: response_bytes takes the new one and frees the
 * old, response_cleanup resets to an empty 500 and can run twice. Leaks show in the ASan
 * build.
 */
#include "check.h"
#include "response.h"

#include <stdlib.h>
#include <string.h>

static char *copy(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

int main(void)
{
    struct response resp = {0};
    char *first = copy("{\"a\":1}");
    if (!CHECK(first != NULL))
        return check_finish("test_response");
    response_bytes(&resp, 200, "application/json", first, 7);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.content_type, "application/json");
    CHECK(resp.body == first);
    CHECK_INT(resp.body_len, 7);

    /* A second body replaces the first, which the response frees (ASan: no leak). */
    resp.retry_after = 3;
    char *second = copy("text");
    response_bytes(&resp, 503, "text/plain", second, 4);
    CHECK_INT(resp.status, 503);
    CHECK(resp.body == second);
    CHECK_INT(resp.body_len, 4);
    CHECK_INT(resp.retry_after, 3); /* left as it was */

    /* No body at all: a bare status. */
    response_bytes(&resp, 204, NULL, NULL, 0);
    CHECK_INT(resp.status, 204);
    CHECK(resp.body == NULL);
    CHECK(resp.content_type == NULL);

    response_bytes(&resp, 200, "text/plain", copy("x"), 1);
    response_cleanup(&resp);
    CHECK_INT(resp.status, 500);
    CHECK(resp.body == NULL);
    CHECK_INT(resp.body_len, 0);
    CHECK(resp.content_type == NULL);
    CHECK_INT(resp.retry_after, 0);
    response_cleanup(&resp); /* twice is safe */
    CHECK_INT(resp.status, 500);
    return check_finish("test_response");
}
