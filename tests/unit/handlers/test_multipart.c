/*
 * test_multipart.c - handlers/multipart.c: well-formed bodies (quoted and unquoted
 * boundaries, with and without a preamble, binary data holding CR LF and partial
 * delimiters, empty parts, every size limit at its edge), every malformed body answered
 * ERROR_INVALID with a detail, and 10^4 random mutations of a valid body that must only
 * ever give OK (parts inside the body) or INVALID. Each body is copied into a buffer of
 * exactly its length, so ASan sees any read past the end.
 */
#include "check.h"
#include "multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX 65536

/* ------------------------------------------------------------------------------------------
 * Building bodies
 */

struct body {
    unsigned char data[BODY_MAX];
    size_t len;
};

static void body_add(struct body *b, const void *bytes, size_t n)
{
    if (b->len + n > BODY_MAX) {
        fprintf(stderr, "test body over %d bytes\n", BODY_MAX);
        exit(2);
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void body_str(struct body *b, const char *s)
{
    body_add(b, s, strlen(s));
}

/* "--boundary\r\nContent-Disposition: form-data; name="name"\r\n\r\n" + data + "\r\n". */
static void body_part(struct body *b, const char *boundary, const char *name, const void *data,
                      size_t n)
{
    body_str(b, "--");
    body_str(b, boundary);
    body_str(b, "\r\nContent-Disposition: form-data; name=\"");
    body_str(b, name);
    body_str(b, "\"\r\n\r\n");
    body_add(b, data, n);
    body_str(b, "\r\n");
}

static void body_close(struct body *b, const char *boundary)
{
    body_str(b, "--");
    body_str(b, boundary);
    body_str(b, "--\r\n");
}

/* Parse a private copy of exactly len bytes (ASan catches over-reads); the parts are
 * translated back to point into `orig` so callers can compare offsets. */
static enum error_code parse(const char *content_type, const unsigned char *orig, size_t len,
                             struct multipart_part *parts, size_t max_parts, size_t *n,
                             struct error_info *err)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        exit(2);
    memcpy(copy, orig, len);
    memset(err, 0, sizeof *err);
    enum error_code rc = multipart_parse(content_type, copy, len, parts, max_parts, n, err);
    if (rc == ERROR_OK)
        for (size_t i = 0; i < *n; i++)
            parts[i].data = orig + (parts[i].data - copy);
    free(copy);
    return rc;
}

static bool part_is(const struct multipart_part *p, const char *name, const void *data, size_t n)
{
    bool ok = CHECK_STR(p->name, name);
    ok &= CHECK_INT(p->len, n);
    ok &= CHECK(p->len != n || memcmp(p->data, data, n) == 0);
    return ok;
}

/* ------------------------------------------------------------------------------------------
 * Well-formed bodies
 */

static void test_basic(void)
{
    struct body b = {.len = 0};
    struct multipart_part parts[4];
    struct error_info err;
    size_t n = 99;
    const char tiff[] = "II*\0\x08\0\0\0";
    body_str(&b, "--XyZ123\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.tif\"\r\n"
                 "Content-Type: image/tiff\r\n\r\n");
    size_t a_at = b.len;
    body_add(&b, tiff, sizeof tiff - 1);
    body_str(&b, "\r\n");
    body_part(&b, "XyZ123", "options", "{\"iou\":true}", 12);
    body_close(&b, "XyZ123");
    CHECK_INT(parse("multipart/form-data; boundary=XyZ123", b.data, b.len, parts, 4, &n, &err),
              ERROR_OK);
    CHECK_INT(n, 2);
    part_is(&parts[0], "a", tiff, sizeof tiff - 1);
    CHECK(parts[0].data == b.data + a_at);
    part_is(&parts[1], "options", "{\"iou\":true}", 12);
    CHECK(multipart_find(parts, n, "options") == &parts[1]);
    CHECK(multipart_find(parts, n, "a") == &parts[0]);
    CHECK(multipart_find(parts, n, "b") == NULL);
    CHECK(multipart_find(parts, 0, "a") == NULL);

    /* Same body, other spellings of the Content-Type. */
    const char *const types[] = {
        "multipart/form-data;boundary=XyZ123",
        "multipart/form-data; boundary=\"XyZ123\"",
        "Multipart/Form-Data; BOUNDARY=XyZ123",
        "multipart/form-data; charset=utf-8; boundary=XyZ123",
        "multipart/form-data; boundary=XyZ123; charset=utf-8",
        "multipart/form-data; boundary=\"XyZ123\"; charset=utf-8",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        n = 99;
        if (!CHECK_INT(parse(types[i], b.data, b.len, parts, 4, &n, &err), ERROR_OK))
            fprintf(stderr, "    content type: %s (%s)\n", types[i], err.detail);
        CHECK_INT(n, 2);
    }

    /* A quoted boundary may hold spaces and other characters a token cannot. */
    const char *qb = "a b:c=d,e(f)+_./?'-";
    struct body q = {.len = 0};
    body_part(&q, qb, "b", "xyz", 3);
    body_close(&q, qb);
    char ct[128];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", qb);
    CHECK_INT(parse(ct, q.data, q.len, parts, 4, &n, &err), ERROR_OK);
    CHECK_INT(n, 1);
    part_is(&parts[0], "b", "xyz", 3);

    /* No parts at all is well formed (the handler asks for a and b). */
    struct body e = {.len = 0};
    body_close(&e, "B");
    CHECK_INT(parse("multipart/form-data; boundary=B", e.data, e.len, parts, 4, &n, &err),
              ERROR_OK);
    CHECK_INT(n, 0);
}

static void test_preamble(void)
{
    struct multipart_part parts[4];
    struct error_info err;
    size_t n;
    const char *ct = "multipart/form-data; boundary=bnd";
    const char *const preambles[] = {"\r\n", "This is a preamble.\r\n", "--bn\r\n-- bnd\r\n\r\n",
                                     ""};
    for (size_t i = 0; i < sizeof preambles / sizeof preambles[0]; i++) {
        struct body b = {.len = 0};
        body_str(&b, preambles[i]);
        body_part(&b, "bnd", "a", "AAA", 3);
        body_part(&b, "bnd", "b", "BB", 2);
        body_close(&b, "bnd");
        body_str(&b, "epilogue --bnd\r\n is ignored");
        n = 0;
        if (!CHECK_INT(parse(ct, b.data, b.len, parts, 4, &n, &err), ERROR_OK))
            fprintf(stderr, "    preamble %zu: %s\n", i, err.detail);
        CHECK_INT(n, 2);
        part_is(&parts[0], "a", "AAA", 3);
        part_is(&parts[1], "b", "BB", 2);
    }

    /* The closing delimiter right after the last part, no trailing CRLF. */
    struct body b = {.len = 0};
    body_part(&b, "bnd", "a", "x", 1);
    body_str(&b, "--bnd--");
    CHECK_INT(parse(ct, b.data, b.len, parts, 4, &n, &err), ERROR_OK);
    CHECK_INT(n, 1);
    part_is(&parts[0], "a", "x", 1);
}

static void test_binary_data(void)
{
    struct multipart_part parts[4];
    struct error_info err;
    size_t n;
    const char *boundary = "----TesseraBoundary7MA4YWxkTrZu0gW";
    char ct[128];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);

    /* Data holding everything that looks like a delimiter but is not one. */
    struct body data = {.len = 0};
    body_str(&data, "\r\n\r\n\r\n--\r\n");
    body_str(&data, "\r\n------TesseraBoundary7MA4YWxkTrZu0g"); /* one byte short */
    body_str(&data, "--");
    body_str(&data, boundary); /* a boundary without the CRLF in front */
    body_str(&data, "--\r\n\r");
    body_add(&data, "\0\0\r\0\n\xff\xfe", 7);
    body_str(&data, "\n------TesseraBoundary7MA4YWxkTrZu0gW"); /* LF only, no CR */
    body_str(&data, "\r-");
    for (unsigned i = 0; i < 1000; i++) {
        unsigned char c = (unsigned char)((i * 131u + 7u) % 256u);
        body_add(&data, &c, 1);
    }
    body_str(&data, "\r"); /* the data ends with CR, just before the delimiter's CR LF */

    struct body b = {.len = 0};
    body_part(&b, boundary, "a", data.data, data.len);
    body_part(&b, boundary, "b", "\r\n", 2);
    body_part(&b, boundary, "options", "\r\n\r\n", 4);
    body_close(&b, boundary);
    CHECK_INT(parse(ct, b.data, b.len, parts, 4, &n, &err), ERROR_OK);
    CHECK_INT(n, 3);
    part_is(&parts[0], "a", data.data, data.len);
    part_is(&parts[1], "b", "\r\n", 2);
    part_is(&parts[2], "options", "\r\n\r\n", 4);
}

static void test_empty_part(void)
{
    struct multipart_part parts[4];
    struct error_info err;
    size_t n;
    struct body b = {.len = 0};
    body_part(&b, "E", "a", "", 0);
    body_part(&b, "E", "b", "", 0);
    body_close(&b, "E");
    CHECK_INT(parse("multipart/form-data; boundary=E", b.data, b.len, parts, 4, &n, &err),
              ERROR_OK);
    CHECK_INT(n, 2);
    part_is(&parts[0], "a", "", 0);
    part_is(&parts[1], "b", "", 0);
    CHECK(parts[0].data >= b.data && parts[0].data <= b.data + b.len);
}

/* Limits accepted exactly at their edge: boundary of 70, name of 63, headers of 4096 bytes,
 * max_parts parts. */
static void test_edges(void)
{
    struct multipart_part parts[4];
    struct error_info err;
    size_t n;
    char boundary[80], ct[160];
    memset(boundary, 'k', 70);
    boundary[70] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
    struct body b = {.len = 0};
    body_part(&b, boundary, "a", "1", 1);
    body_close(&b, boundary);
    CHECK_INT(parse(ct, b.data, b.len, parts, 4, &n, &err), ERROR_OK);
    CHECK_INT(n, 1);

    char name[80];
    memset(name, 'n', 63);
    name[63] = '\0';
    b.len = 0;
    body_part(&b, "B", name, "1", 1);
    body_close(&b, "B");
    CHECK_INT(parse("multipart/form-data; boundary=B", b.data, b.len, parts, 4, &n, &err),
              ERROR_OK);
    CHECK_INT(n, 1);
    CHECK_STR(parts[0].name, name);

    /* Header blocks (between the delimiter's CRLF and the blank line) of 4090..4096 bytes. */
    for (size_t size = 4090; size <= MULTIPART_HEADER_MAX; size++) {
        const char *cd = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
        b.len = 0;
        body_str(&b, "--B\r\n");
        body_str(&b, cd);
        for (size_t i = strlen(cd); i < size; i++)
            body_str(&b, "p");
        body_str(&b, "\r\n\r\nDATA\r\n");
        body_close(&b, "B");
        n = 0;
        if (!CHECK_INT(parse("multipart/form-data; boundary=B", b.data, b.len, parts, 4, &n, &err),
                       ERROR_OK))
            fprintf(stderr, "    headers of %zu bytes: %s\n", size, err.detail);
        CHECK_INT(n, 1);
        CHECK(n == 1 && part_is(&parts[0], "a", "DATA", 4));
    }

    /* Exactly max_parts parts. */
    b.len = 0;
    body_part(&b, "B", "a", "1", 1);
    body_part(&b, "B", "b", "2", 1);
    body_part(&b, "B", "c", "3", 1);
    body_close(&b, "B");
    CHECK_INT(parse("multipart/form-data; boundary=B", b.data, b.len, parts, 3, &n, &err),
              ERROR_OK);
    CHECK_INT(n, 3);
}

/* ------------------------------------------------------------------------------------------
 * Malformed bodies
 */

struct bad_case {
    const char *what;
    const char *content_type;
    const char *body;        /* NUL-free text cases */
    const char *detail_word; /* a word the detail must hold, or NULL */
};

static const struct bad_case bad_cases[] = {
    {"no content type", NULL, "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--",
     "boundary"},
    {"no boundary parameter", "multipart/form-data",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--", "boundary"},
    {"empty boundary", "multipart/form-data; boundary=",
     "--\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n----", "boundary"},
    {"empty quoted boundary", "multipart/form-data; boundary=\"\"",
     "--\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n----", "boundary"},
    {"unterminated quoted boundary", "multipart/form-data; boundary=\"B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--", "boundary"},
    {"not multipart", "application/json; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--", "boundary"},
    {"empty body", "multipart/form-data; boundary=B", "", "boundary"},
    {"boundary absent from body", "multipart/form-data; boundary=B",
     "--C\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--C--", "boundary"},
    {"no closing delimiter", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", "boundary"},
    {"body ends at a delimiter", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B", "delimiter"},
    {"body ends at a delimiter and CRLF", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B\r\n", "headers"},
    {"half a closing delimiter", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B-", "delimiter"},
    {"junk after a delimiter", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--Bjunk\r\n--B--", "delimiter"},
    {"truncated in the headers", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; na", "headers"},
    {"truncated in the data", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nII*\0", "boundary"},
    {"truncated second part", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B\r\n"
     "Content-Disposition: form-data; name=\"b\"\r\n\r\nyy",
     "'b'"},
    {"no Content-Disposition", "multipart/form-data; boundary=B",
     "--B\r\nContent-Type: image/tiff\r\n\r\nx\r\n--B--", "name"},
    {"no headers at all", "multipart/form-data; boundary=B", "--B\r\n\r\nx\r\n--B--", NULL},
    {"Content-Disposition without name", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; filename=\"a.tif\"\r\n\r\nx\r\n--B--", "name"},
    {"empty name", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--B--", "name"},
    {"unterminated name", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--B--", "name"},
    {"name of 64 bytes", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; "
     "name=\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"\r\n\r\nx\r\n--B--",
     "name"},
    {"duplicate names", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B\r\n"
     "Content-Disposition: form-data; name=\"a\"\r\n\r\ny\r\n--B--",
     "twice"},
    {"too many parts", "multipart/form-data; boundary=B",
     "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\r\n"
     "Content-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B\r\n"
     "Content-Disposition: form-data; name=\"c\"\r\n\r\n3\r\n--B\r\n"
     "Content-Disposition: form-data; name=\"d\"\r\n\r\n4\r\n--B--",
     "more than"},
};

static void test_malformed(void)
{
    struct multipart_part parts[3];
    struct error_info err;
    size_t n;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        size_t len = strlen(c->body);
        if (strcmp(c->what, "truncated in the data") == 0)
            len += 1; /* keep the NUL of "II*\0" */
        enum error_code rc =
            parse(c->content_type, (const unsigned char *)c->body, len, parts, 3, &n, &err);
        bool ok = CHECK_INT(rc, ERROR_INVALID);
        ok &= CHECK(err.detail[0] != '\0');
        ok &= CHECK(c->detail_word == NULL || strstr(err.detail, c->detail_word) != NULL);
        if (!ok)
            fprintf(stderr, "    case '%s': detail '%s'\n", c->what, err.detail);
    }

    /* Boundary of 71 characters. */
    char boundary[80], ct[160];
    memset(boundary, 'k', 71);
    boundary[71] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
    struct body b = {.len = 0};
    body_part(&b, boundary, "a", "1", 1);
    body_close(&b, boundary);
    CHECK_INT(parse(ct, b.data, b.len, parts, 3, &n, &err), ERROR_INVALID);
    CHECK(strstr(err.detail, "70") != NULL);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", boundary);
    CHECK_INT(parse(ct, b.data, b.len, parts, 3, &n, &err), ERROR_INVALID);

    /* Header blocks of 4097 and 5000 bytes. */
    const size_t sizes[] = {MULTIPART_HEADER_MAX + 1, 5000};
    for (size_t k = 0; k < 2; k++) {
        const char *cd = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
        b.len = 0;
        body_str(&b, "--B\r\n");
        body_str(&b, cd);
        for (size_t i = strlen(cd); i < sizes[k]; i++)
            body_str(&b, "p");
        body_str(&b, "\r\n\r\nDATA\r\n");
        body_close(&b, "B");
        CHECK_INT(parse("multipart/form-data; boundary=B", b.data, b.len, parts, 3, &n, &err),
                  ERROR_INVALID);
        CHECK(strstr(err.detail, "4096") != NULL);
    }

    /* A NUL byte in the headers, before and after the name. */
    const char nul1[] =
        "--B\r\nContent-Disposition: form-data; name=\"a\"\r\nX: \0\r\n\r\nx\r\n--B--";
    const char nul2[] = "--B\r\nContent-\0Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--";
    CHECK_INT(parse("multipart/form-data; boundary=B", (const unsigned char *)nul1, sizeof nul1 - 1,
                    parts, 3, &n, &err),
              ERROR_INVALID);
    CHECK(err.detail[0] != '\0');
    CHECK_INT(parse("multipart/form-data; boundary=B", (const unsigned char *)nul2, sizeof nul2 - 1,
                    parts, 3, &n, &err),
              ERROR_INVALID);
    CHECK(err.detail[0] != '\0');

    /* max_parts 0: any part is one too many. */
    b.len = 0;
    body_part(&b, "B", "a", "1", 1);
    body_close(&b, "B");
    CHECK_INT(parse("multipart/form-data; boundary=B", b.data, b.len, parts, 0, &n, &err),
              ERROR_INVALID);
}

/* ------------------------------------------------------------------------------------------
 * Random mutations
 */

static uint64_t rng_state = 0x7E55E4A;

static void mutate(struct body *b)
{
    static const unsigned char interesting[] = {'\r', '\n', '-', '"', '\0', 'M', ';', ' ', 0xff};
    size_t at = check_rng_below64(&rng_state, b->len + 1);
    switch (check_rng_below64(&rng_state, 6)) {
    case 0: /* flip a byte */
        if (b->len)
            b->data[check_rng_below64(&rng_state, b->len)] ^=
                (unsigned char)(1u << check_rng_below64(&rng_state, 8));
        break;
    case 1: /* set a byte to one the parser cares about */
        if (b->len)
            b->data[check_rng_below64(&rng_state, b->len)] =
                interesting[check_rng_below64(&rng_state, sizeof interesting)];
        break;
    case 2: { /* delete a range */
        size_t n = check_rng_below64(&rng_state, b->len - at + 1);
        if (n > 64 && check_rng_below64(&rng_state, 4))
            n = check_rng_below64(&rng_state, 64);
        memmove(b->data + at, b->data + at + n, b->len - at - n);
        b->len -= n;
        break;
    }
    case 3: { /* duplicate a range somewhere else */
        size_t from = check_rng_below64(&rng_state, b->len + 1),
               n = check_rng_below64(&rng_state, b->len - from + 1);
        if (n > 200)
            n = check_rng_below64(&rng_state, 200);
        if (b->len + n > BODY_MAX)
            break;
        unsigned char tmp[200];
        memcpy(tmp, b->data + from, n);
        memmove(b->data + at + n, b->data + at, b->len - at);
        memcpy(b->data + at, tmp, n);
        b->len += n;
        break;
    }
    case 4: /* truncate */
        b->len = at;
        break;
    default: { /* insert a delimiter-looking string */
        static const char *const bits[] = {"\r\n--M",    "\r\n--MB--",
                                           "\r\n\r\n",   "--MB\r\n",
                                           "name=\"a\"", "Content-Disposition: form-data; "};
        const char *s = bits[check_rng_below64(&rng_state, sizeof bits / sizeof bits[0])];
        size_t n = strlen(s);
        if (b->len + n > BODY_MAX)
            break;
        memmove(b->data + at + n, b->data + at, b->len - at);
        memcpy(b->data + at, s, n);
        b->len += n;
    }
    }
}

static void test_mutations(void)
{
    struct body base = {.len = 0};
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(check_rng_next(&rng_state) & 0xff);
    body_str(&base, "preamble\r\n");
    body_part(&base, "MB", "a", bin, sizeof bin);
    body_part(&base, "MB", "b", "\r\n--M\r\n", 7);
    body_part(&base, "MB", "options", "{\"iou\":true}", 12);
    body_close(&base, "MB");

    const char *const types[] = {"multipart/form-data; boundary=MB",
                                 "multipart/form-data; boundary=\"MB\"",
                                 "multipart/form-data; boundary=M", "multipart/form-data"};
    unsigned ok = 0, invalid = 0, bad = 0;
    struct body b;
    for (unsigned iter = 0; iter < 10000; iter++) {
        memcpy(b.data, base.data, base.len);
        b.len = base.len;
        for (size_t m = 1 + check_rng_below64(&rng_state, 4); m > 0; m--)
            mutate(&b);
        const char *ct =
            types[check_rng_below64(&rng_state, 8) == 0 ? check_rng_below64(&rng_state, 4) : 0];
        struct multipart_part parts[4];
        struct error_info err;
        size_t n = 12345;
        enum error_code rc = parse(ct, b.data, b.len, parts, 4, &n, &err);
        if (rc == ERROR_INVALID) {
            invalid++;
            if (err.detail[0] == '\0')
                bad++;
            continue;
        }
        if (rc != ERROR_OK) {
            bad++;
            continue;
        }
        ok++;
        if (n > 4) {
            bad++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            const struct multipart_part *p = &parts[i];
            size_t nlen = strnlen(p->name, MULTIPART_NAME_MAX);
            bool inside = p->data >= b.data && p->data <= b.data + b.len &&
                          p->len <= (size_t)(b.data + b.len - p->data);
            if (!inside || nlen == 0 || nlen >= MULTIPART_NAME_MAX ||
                multipart_find(parts, i, p->name) != NULL)
                bad++;
        }
    }
    printf("mutations: %u parsed, %u refused, %u wrong\n", ok, invalid, bad);
    CHECK_INT(bad, 0);
    CHECK(ok > 100);      /* the loop exercised the accepting path ... */
    CHECK(invalid > 100); /* ... and the refusing one */
}

int main(void)
{
    test_basic();
    test_preamble();
    test_binary_data();
    test_empty_part();
    test_edges();
    test_malformed();
    test_mutations();
    return check_finish("test_multipart");
}
