/*
 * test_jsonw.c - the JSON writer: escaping, UTF-8 validation (overlong forms, surrogates,
 * past U+10FFFF, truncated and NUL bytes refused), integers at their extremes, doubles that
 * read back exactly (checked against jansson's parser on random values), RFC 3339 times,
 * and the cap: a document that would pass it fails as BUF_TOO_LARGE and is never handed out
 * cut, while one that fits exactly - escapes counted as written - is not refused early.
 */
#include "alloc.h"
#include "check.h"
#include "jsonw.h"
#include "limit.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Take w's document and compare it with want; the writer is empty afterwards. */
static bool take_is(struct jsonw *w, const char *want)
{
    size_t len = 0;
    char *got = jsonw_take(w, &len);
    bool ok = CHECK_STR(got, want) && CHECK_INT(len, strlen(want));
    free(got);
    return ok;
}

static void test_strings(void)
{
    struct jsonw w;
    jsonw_init(&w);
    CHECK(take_is(&w, "")); /* never appended: an empty document, not NULL */

    jsonw_init(&w);
    CHECK(jsonw_string(&w, "plain", 5));
    jsonw_lit(&w, ",");
    CHECK(jsonw_string(&w, "q\"b\\n\nt\t\x01\x1f\x7f", 11));
    jsonw_lit(&w, ",");
    CHECK(jsonw_string(&w, "", 0));
    jsonw_lit(&w, ",");
    static const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xac"; /* é € 🔬 */
    CHECK(jsonw_string(&w, utf8, sizeof utf8 - 1));
    CHECK(take_is(&w, "\"plain\",\"q\\\"b\\\\n\\u000at\\u0009\\u0001\\u001f\\u007f\",\"\","
                      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xac\""));

    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x80", 1},             /* continuation byte first */
        {"\xc0\x80", 2},         /* overlong NUL */
        {"\xc1\xbf", 2},         /* overlong */
        {"\xe0\x80\x80", 3},     /* overlong 3-byte */
        {"\xed\xa0\x80", 3},     /* surrogate U+D800 */
        {"\xf0\x80\x80\x80", 4}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 4}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4}, /* never a lead byte */
        {"\xe2\x82", 2},         /* truncated */
        {"a\xc3", 2},            /* truncated at the end */
        {"\xc3\x28", 2},         /* bad continuation */
        {"a\0b", 3},             /* NUL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jsonw_init(&w);
        jsonw_lit(&w, "[");
        if (!CHECK(!jsonw_string(&w, bad[i].bytes, bad[i].len)))
            fprintf(stderr, "    invalid UTF-8 case %zu accepted\n", i);
        CHECK(!jsonw_utf8_valid(bad[i].bytes, bad[i].len));
        CHECK(take_is(&w, "[")); /* nothing appended */
    }
    CHECK(jsonw_utf8_valid("\xef\xbf\xbf", 3));     /* U+FFFF */
    CHECK(jsonw_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    CHECK(jsonw_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF, just below the surrogates */
}

static void test_numbers(void)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_u64(&w, 0);
    jsonw_lit(&w, " ");
    jsonw_u64(&w, UINT64_MAX);
    jsonw_lit(&w, " ");
    jsonw_i64(&w, INT64_MIN);
    jsonw_lit(&w, " ");
    jsonw_i64(&w, -1);
    jsonw_lit(&w, " ");
    jsonw_double(&w, 0.0);
    jsonw_lit(&w, " ");
    jsonw_double(&w, -0.0);
    jsonw_lit(&w, " ");
    jsonw_double(&w, NAN);
    jsonw_lit(&w, " ");
    jsonw_double(&w, -INFINITY);
    jsonw_lit(&w, " ");
    jsonw_double(&w, 0.5);
    jsonw_lit(&w, " ");
    jsonw_bool(&w, true);
    jsonw_member_bool(&w, ",\"b\":", false);
    jsonw_member_u64(&w, ",\"n\":", 7);
    jsonw_member_double(&w, ",\"d\":", 2.5);
    CHECK(take_is(&w, "0 18446744073709551615 -9223372036854775808 -1 0.0 -0.0 null null 0.5 "
                      "true,\"b\":false,\"n\":7,\"d\":2.5"));

    /* Doubles read back exactly: random bit patterns (finite ones) and edge values, written
     * as one JSON array and read back by jansson as the reference parser. */
    enum { N = 20000 };
    static double values[N];
    uint64_t seed = 0x5eedf00dULL;
    size_t n = 0;
    const double edges[] = {
        5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1.0 / 3.0, 1e21,
        1e-7,   123456789012345678.0};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        values[n++] = edges[i];
    while (n < N) {
        uint64_t bits = check_rng_next(&seed);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isfinite(d) && d != 0)
            values[n++] = d;
    }
    jsonw_init(&w);
    jsonw_lit(&w, "[");
    for (size_t i = 0; i < N; i++) {
        if (i)
            jsonw_lit(&w, ",");
        jsonw_double(&w, values[i]);
    }
    jsonw_lit(&w, "]");
    size_t len;
    char *doc = jsonw_take(&w, &len);
    json_error_t err;
    json_t *arr = doc ? json_loadb(doc, len, 0, &err) : NULL;
    if (CHECK(arr != NULL) && CHECK_INT(json_array_size(arr), N)) {
        size_t wrong = 0;
        for (size_t i = 0; i < N; i++)
            if (json_number_value(json_array_get(arr, i)) != values[i] && wrong++ < 5)
                fprintf(stderr, "    %.17g read back as %.17g\n", values[i],
                        json_number_value(json_array_get(arr, i)));
        CHECK_INT(wrong, 0);
    }
    json_decref(arr);
    free(doc);
}

static void test_time(void)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_time(&w, 0, 0);
    jsonw_lit(&w, ",");
    jsonw_time(&w, 1795514400, 123456789);
    jsonw_lit(&w, ",");
    jsonw_time(&w, INT64_MAX, 0); /* no calendar year holds it */
    CHECK(take_is(&w, "\"1970-01-01T00:00:00.000000000Z\",\"2026-11-24T10:00:00.123456789Z\","
                      "null"));
}

static void test_cap(void)
{
    struct jsonw w;
    jsonw_init(&w);
    CHECK(jsonw_max(&w) == LIMIT_MAX_ANSWER);
    jsonw_cleanup(&w);

    /* Exactly the cap fits; one byte more fails and nothing is handed out. */
    jsonw_init_max(&w, 10);
    jsonw_lit(&w, "12345");
    jsonw_lit(&w, "67890");
    CHECK_INT(jsonw_status(&w), BUF_OK);
    CHECK(take_is(&w, "1234567890"));
    CHECK(jsonw_max(&w) == 10); /* the cap survives take */
    jsonw_lit(&w, "12345");
    jsonw_lit(&w, "678901");
    CHECK_INT(jsonw_status(&w), BUF_TOO_LARGE);
    jsonw_lit(&w, "1"); /* sticky: would fit, but the document is already broken */
    CHECK_INT(jsonw_status(&w), BUF_TOO_LARGE);
    size_t len = 99;
    char *cut = jsonw_take(&w, &len);
    CHECK(cut == NULL);
    free(cut);
    CHECK_INT(jsonw_status(&w), BUF_OK); /* emptied by take, usable again */

    /* A string counts as written, not at its worst case (6 bytes a byte): a 10-byte plain
     * string needs 12 bytes, and three control bytes need 20. */
    jsonw_init_max(&w, 12);
    CHECK(jsonw_string(&w, "abcdefghij", 10));
    CHECK(take_is(&w, "\"abcdefghij\""));
    jsonw_init_max(&w, 20);
    CHECK(jsonw_string(&w, "\x01\x02\x03", 3));
    CHECK(take_is(&w, "\"\\u0001\\u0002\\u0003\""));
    jsonw_init_max(&w, 19);
    CHECK(jsonw_string(&w, "\x01\x02\x03", 3)); /* valid UTF-8: true, the failure is sticky */
    CHECK_INT(jsonw_status(&w), BUF_TOO_LARGE);
    jsonw_cleanup(&w);
}

static void test_out_of_memory(void)
{
    struct jsonw w;
    jsonw_init(&w);
    alloc_fail_nth(1);
    jsonw_lit(&w, "{}");
    bool fired = !alloc_fault_pending();
    alloc_fail_nth(0);
    CHECK(fired);
    CHECK_INT(jsonw_status(&w), BUF_NO_MEMORY);
    size_t len;
    CHECK(jsonw_take(&w, &len) == NULL);
}

int main(void)
{
    test_strings();
    test_numbers();
    test_time();
    test_cap();
    test_out_of_memory();
    return check_finish("test_jsonw");
}
