/*
 * test_json_scan.c - core/json_scan.c against jansson as the reference: random JSON
 * documents (nested objects and arrays of strings, integers, reals and literals) are written
 * with jansson, and every member, element, length, string and integer json_scan finds must
 * equal what jansson parsed. Then the adversarial side: truncations and byte mutations of
 * those documents must never be accepted as an object when jansson rejects them for
 * structure, queries on them must stay inside the text (run under ASan), and nesting past
 * JSON_SCAN_DEPTH is refused.
 */
#include "check.h"
#include "json_scan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

/* A random value of at most depth levels; keys are "k0".."k7" (unique within an object). */
static json_t *random_value(unsigned depth)
{
    unsigned kind = check_rng_below(&rng, depth > 0 ? 7 : 5);
    switch (kind) {
    case 0: {
        char s[16];
        snprintf(s, sizeof s, "s%u", check_rng_below(&rng, 1000));
        return json_string(s);
    }
    case 1:
        return json_integer((json_int_t)check_rng_below(&rng, 1u << 31));
    case 2:
        return json_real((double)check_rng_below(&rng, 1000) / 8.0);
    case 3:
        return check_rng_below(&rng, 2) ? json_true() : json_null();
    case 4:
        return json_string("with \"escape\"");
    case 5: {
        json_t *a = json_array();
        for (unsigned i = check_rng_below(&rng, 5); i > 0; i--)
            json_array_append_new(a, random_value(depth - 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = check_rng_below(&rng, 6); i > 0; i--) {
            char k[8];
            snprintf(k, sizeof k, "k%u", check_rng_below(&rng, 8));
            json_object_set_new(o, k, random_value(depth - 1));
        }
        return o;
    }
    }
}

/* Does the value json_scan found at v (in text..end) say what jansson's ref says? */
static bool same_value(const char *v, const char *end, const json_t *ref, unsigned depth)
{
    if (v == NULL)
        return false;
    char buf[64];
    uint64_t u;
    if (json_is_string(ref)) {
        const char *s = json_string_value(ref);
        bool plain = strchr(s, '"') == NULL;
        /* a string with escapes is not read (as documented), but is skipped correctly */
        return plain ? json_scan_string(v, end, buf, sizeof buf) && strcmp(buf, s) == 0
                     : !json_scan_string(v, end, buf, sizeof buf) &&
                           json_scan_skip(v, end, 1) != NULL;
    }
    if (json_is_integer(ref))
        return json_scan_uint(v, end, &u) && u == (uint64_t)json_integer_value(ref);
    if (json_is_array(ref)) {
        size_t n = json_array_size(ref);
        if (json_scan_length(v, end) != n || json_scan_index(v, end, n) != NULL)
            return false;
        for (size_t i = 0; i < n; i++)
            if (!same_value(json_scan_index(v, end, i), end, json_array_get(ref, i), depth + 1))
                return false;
        return true;
    }
    if (json_is_object(ref)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)ref, key, member)
        {
            if (!same_value(json_scan_member(v, end, key), end, member, depth + 1))
                return false;
        }
        return json_scan_member(v, end, "absent") == NULL;
    }
    /* reals and literals are only delimited */
    return json_scan_skip(v, end, 1) != NULL && !json_scan_uint(v, end, &u) == !json_is_real(ref);
}

static void test_against_jansson(void)
{
    unsigned wrong = 0;
    for (int it = 0; it < 3000; it++) {
        json_t *doc = json_object();
        for (unsigned i = check_rng_below(&rng, 8); i > 0; i--) {
            char k[8];
            snprintf(k, sizeof k, "k%u", check_rng_below(&rng, 8));
            json_object_set_new(doc, k, random_value(4));
        }
        char *text = json_dumps(doc, it % 2 ? JSON_INDENT(2) : JSON_COMPACT);
        const char *end = text + strlen(text);
        if (!json_scan_is_object(text, end) || !same_value(text, end, doc, 0))
            wrong++;
        free(text);
        json_decref(doc);
    }
    CHECK_INT(wrong, 0);
}

static void test_adversarial(void)
{
    unsigned wrong = 0, accepted = 0;
    json_t *doc = json_pack("{s:[i,i,{s:s}],s:{s:[s,s]},s:i}", "shape", 3, 1000, "x", "y", "ome",
                            "multiscales", "a", "b", "zarr_format", 2);
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t n = strlen(text);
    char *m = malloc(n + 1);
    for (int it = 0; it < 20000; it++) {
        memcpy(m, text, n + 1);
        size_t len = it % 3 == 0 ? check_rng_below(&rng, (uint32_t)n) : n;
        for (unsigned f = check_rng_below(&rng, 4); f > 0; f--)
            m[check_rng_below(&rng, (uint32_t)n)] = "{}[]\",:0 x\\"[check_rng_below(&rng, 11)];
        m[len] = '\0';
        const char *end = m + len;
        json_error_t jerr;
        json_t *ref = json_loadb(m, len, 0, &jerr);
        bool ours = json_scan_is_object(m, end);
        /* every well-formed object jansson accepts is ours too */
        if (json_is_object(ref) && !ours)
            wrong++;
        accepted += ours;
        /* queries on broken text stay inside it and never crash */
        const char *v = json_scan_member(m, end, "shape");
        (void)json_scan_length(v, end);
        (void)json_scan_index(v, end, 2);
        char buf[8];
        (void)json_scan_string(
            json_scan_index(json_scan_member(json_scan_member(m, end, "ome"), end, "multiscales"),
                            end, 1),
            end, buf, sizeof buf);
        json_decref(ref);
    }
    CHECK_INT(wrong, 0);
    CHECK(accepted > 0);
    free(m);
    free(text);
    json_decref(doc);

    /* nesting: JSON_SCAN_DEPTH levels are skipped, one more is refused */
    char deep[2 * JSON_SCAN_DEPTH + 8];
    for (unsigned depth = JSON_SCAN_DEPTH - 1; depth <= JSON_SCAN_DEPTH; depth++) {
        size_t k = 0;
        deep[k++] = '{';
        memcpy(deep + k, "\"a\":", 4);
        k += 4;
        for (unsigned i = 0; i < depth; i++)
            deep[k++] = '[';
        for (unsigned i = 0; i < depth; i++)
            deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = '\0';
        CHECK_INT(json_scan_is_object(deep, deep + k), depth < JSON_SCAN_DEPTH);
    }
    /* NULL propagates through a chain; a non-container answers nothing */
    const char plain[] = "{\"a\": 7, \"b\": \"x\"}";
    const char *end = plain + strlen(plain);
    CHECK(json_scan_member(NULL, end, "a") == NULL);
    CHECK(json_scan_index(json_scan_member(plain, end, "a"), end, 0) == NULL);
    CHECK_INT(json_scan_length(json_scan_member(plain, end, "b"), end), 0);
    uint64_t u;
    CHECK(!json_scan_uint(json_scan_member(plain, end, "b"), end, &u));
    const char most[] = "18446744073709551609", more[] = "18446744073709551610";
    CHECK(json_scan_uint(most, most + strlen(most), &u) && u == UINT64_MAX - 6);
    CHECK(!json_scan_uint(more, more + strlen(more), &u));
    const char digits[] = "12x";
    CHECK(json_scan_uint(digits, digits + 3, &u) && u == 12); /* leading digits */
}

int main(void)
{
    rng = 20240611;
    test_against_jansson();
    test_adversarial();
    return check_finish("test_json_scan");
}
