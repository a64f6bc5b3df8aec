/*
 * test_npy.c - core/npy.c on .npy files built byte by byte here: every integer dtype in both
 * byte orders, C and Fortran order, 1-D to 4-D, versions 1.0 / 2.0 / 3.0, read back in
 * random bands and compared with a naive element-by-element reference; the header syntax a
 * person may write; and every refusal (truncated, lying header length, shape overflow,
 * negative, unknown or repeated keys, non-integer dtypes, huge header length, non-ASCII in
 * 1.0, missing or extra data) giving ERROR_UNPROCESSABLE with a detail that names the
 * problem. The numpy-written files are checked by diff_codec.py.
 */
#include "check.h"
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 20240917;

/* A .npy file in an exactly-sized heap block, so ASan sees any read past its end. */
struct npy_file {
    unsigned char *p;
    size_t len;
};

/* Build a file: magic, version major.0, the header text padded with spaces to a multiple of
 * 64 and ended by '\n' (as numpy does; pad = false writes the text as given), then data. */
static struct npy_file make_file(unsigned major, const char *header, bool pad, const void *data,
                                 size_t data_len)
{
    const size_t len_bytes = major == 1 ? 2 : 4, prefix = 8 + len_bytes;
    size_t hlen = strlen(header);
    size_t padded = hlen;
    if (pad)
        padded = ((prefix + hlen + 1 + 63) / 64) * 64 - prefix;
    struct npy_file f;
    f.len = prefix + padded + data_len;
    f.p = malloc(f.len == 0 ? 1 : f.len);
    memcpy(f.p, "\x93NUMPY", 6);
    f.p[6] = (unsigned char)major;
    f.p[7] = 0;
    for (size_t i = 0; i < len_bytes; i++)
        f.p[8 + i] = (unsigned char)(padded >> (8 * i));
    memcpy(f.p + prefix, header, hlen);
    if (pad) {
        memset(f.p + prefix + hlen, ' ', padded - hlen);
        f.p[prefix + padded - 1] = '\n';
    }
    if (data_len > 0)
        memcpy(f.p + prefix + padded, data, data_len);
    return f;
}

#define CHECK_FAILS(file, want_substr)                                                             \
    do {                                                                                           \
        struct npy_info info_;                                                                     \
        struct error_info err_;                                                                    \
        error_init(&err_);                                                                         \
        enum error_code rc_ = npy_parse((file).p, (file).len, "t.npy", &info_, &err_);             \
        CHECK_INT(rc_, ERROR_UNPROCESSABLE);                                                       \
        if (!CHECK(strstr(err_.detail, (want_substr)) != NULL))                                    \
            fprintf(stderr, "    detail: %s\n    wanted: %s\n", err_.detail, (want_substr));       \
        if (!CHECK(strncmp(err_.detail, "t.npy: ", 7) == 0))                                       \
            fprintf(stderr, "    detail: %s\n", err_.detail);                                      \
    } while (0)

static void fails_with(unsigned major, const char *header, const void *data, size_t data_len,
                       const char *want)
{
    struct npy_file f = make_file(major, header, true, data, data_len);
    CHECK_FAILS(f, want);
    free(f.p);
}

/* ------------------------------------------------------------------------------------------
 * Round trips against the reference
 */

struct dtype_case {
    char kind;
    unsigned width;
};

static const struct dtype_case dtypes[] = {{'u', 1}, {'i', 1}, {'u', 2}, {'i', 2},
                                           {'u', 4}, {'i', 4}, {'u', 8}, {'i', 8}};

static void put_elem(unsigned char *p, uint64_t v, unsigned width, bool big)
{
    for (unsigned b = 0; b < width; b++)
        p[big ? width - 1 - b : b] = (unsigned char)(v >> (8 * b));
}

static uint64_t native_elem(const unsigned char *p, unsigned width)
{
    uint64_t v = 0;
    switch (width) {
    case 1:
        v = p[0];
        break;
    case 2: {
        uint16_t x;
        memcpy(&x, p, 2);
        v = x;
        break;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, p, 4);
        v = x;
        break;
    }
    default:
        memcpy(&v, p, 8);
        break;
    }
    return v;
}

static void round_trip(const struct dtype_case *dt, bool big, bool fortran, unsigned ndim,
                       const uint64_t *shape, unsigned major)
{
    uint64_t n = 1;
    for (unsigned k = 0; k < ndim; k++)
        n *= shape[k];
    const unsigned w = dt->width;
    const uint64_t mask = w == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * w)) - 1;
    uint64_t *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
    unsigned char *data = malloc((size_t)(n ? n : 1) * w);
    for (uint64_t c = 0; c < n; c++) {
        ref[c] = check_rng_next(&rng) & mask;
        /* Multi-index of C index c, then its offset in the file's order. */
        uint64_t idx[NPY_MAX_DIMS], r = c, off = 0, stride = 1;
        for (unsigned k = ndim; k-- > 0;) {
            idx[k] = r % shape[k];
            r /= shape[k];
        }
        if (fortran) {
            for (unsigned k = 0; k < ndim; k++) {
                off += idx[k] * stride;
                stride *= shape[k];
            }
        } else {
            off = c;
        }
        put_elem(data + off * w, ref[c], w, big);
    }
    char shape_text[128] = "(", descr[8];
    for (unsigned k = 0; k < ndim; k++) {
        size_t at = strlen(shape_text);
        snprintf(shape_text + at, sizeof shape_text - at, "%llu,%s", (unsigned long long)shape[k],
                 k + 1 < ndim ? " " : "");
    }
    if (ndim > 1)
        shape_text[strlen(shape_text) - 1] = '\0'; /* numpy writes (3, 4) but (3,) */
    strcat(shape_text, ")");
    snprintf(descr, sizeof descr, "%c%c%u", w == 1 ? '|' : big ? '>' : '<', dt->kind, w);
    char header[256];
    snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
             fortran ? "True" : "False", shape_text);
    struct npy_file f = make_file(major, header, true, data, (size_t)n * w);

    struct npy_info info;
    struct error_info err;
    error_init(&err);
    if (!CHECK_INT(npy_parse(f.p, f.len, "t.npy", &info, &err), ERROR_OK)) {
        fprintf(stderr, "    header %s: %s\n", header, err.detail);
        goto out;
    }
    CHECK_INT(info.major, major);
    CHECK_INT(info.ndim, ndim);
    CHECK_INT(info.dtype.width, w);
    CHECK_INT(info.dtype.is_signed, dt->kind == 'i');
    CHECK_INT(info.dtype.big_endian, big && w > 1);
    CHECK_INT(info.fortran_order, fortran);
    CHECK_INT(info.n_elements, n);
    CHECK_INT(info.data_offset % 64, 0);
    CHECK_INT(info.data_len, n * w);
    CHECK_STR(info.descr, descr);
    bool same = true;
    for (unsigned k = 0; k < ndim; k++)
        same &= info.shape[k] == shape[k];
    CHECK(same);
    /* Random bands cover every row; each compared with the reference. */
    unsigned char *out = malloc((size_t)(n ? n : 1) * w);
    bool equal = true;
    for (uint64_t row = 0; row < info.n_rows;) {
        uint64_t band = 1 + check_rng_below(&rng, 7);
        if (band > info.n_rows - row)
            band = info.n_rows - row;
        size_t need = (size_t)(band * info.row_len) * w;
        if (!CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, row, band, out, need, &err),
                       ERROR_OK))
            break;
        for (uint64_t e = 0; e < band * info.row_len; e++)
            equal &= native_elem(out + e * w, w) == ref[row * info.row_len + e];
        row += band;
    }
    if (!CHECK(equal))
        fprintf(stderr, "    values differ for %s\n", header);
    free(out);
out:
    free(f.p);
    free(data);
    free(ref);
}

static void test_round_trips(void)
{
    static const uint64_t shapes[][5] = {
        {2, 5, 7},       {2, 1, 9}, {2, 9, 1},   {3, 3, 4, 6},   {3, 17, 1, 5},
        {4, 2, 1, 3, 4}, {1, 11},   {2, 40, 33}, {3, 2, 19, 21},
    };
    unsigned major = 1;
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
        for (int big = 0; big < 2; big++)
            for (int fortran = 0; fortran < 2; fortran++)
                for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                    round_trip(&dtypes[d], big, fortran, (unsigned)shapes[s][0], shapes[s] + 1,
                               major);
                    major = major % 3 + 1;
                }
}

/* An empty array is a valid file: zero rows to read. */
static void test_empty(void)
{
    struct npy_file f =
        make_file(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (0, 5), }", true, NULL, 0);
    struct npy_info info;
    struct error_info err;
    CHECK_INT(npy_parse(f.p, f.len, "e.npy", &info, &err), ERROR_OK);
    CHECK_INT(info.n_elements, 0);
    CHECK_INT(info.n_rows, 0);
    CHECK_INT(info.row_len, 5);
    CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 0, 0, NULL, 0, &err), ERROR_OK);
    free(f.p);
}

/* ------------------------------------------------------------------------------------------
 * Header syntax a person may write
 */

static void accepts(unsigned major, const char *header, bool pad, unsigned ndim, uint64_t dim0,
                    bool fortran, size_t data_len)
{
    unsigned char data[64] = {0};
    struct npy_file f = make_file(major, header, pad, data, data_len);
    struct npy_info info;
    struct error_info err;
    error_init(&err);
    if (CHECK_INT(npy_parse(f.p, f.len, "h.npy", &info, &err), ERROR_OK)) {
        CHECK_INT(info.ndim, ndim);
        CHECK_INT(info.shape[0], dim0);
        CHECK_INT(info.fortran_order, fortran);
    } else {
        fprintf(stderr, "    header %s: %s\n", header, err.detail);
    }
    free(f.p);
}

static void test_syntax(void)
{
    accepts(1, "{'descr':'<u2','fortran_order':False,'shape':(3,4)}", true, 2, 3, false, 24);
    accepts(1, "{\"shape\": (3,), \"descr\": \"|u1\", \"fortran_order\": True}", true, 1, 3, true,
            3);
    accepts(2, "{ 'fortran_order' : False ,\n\t'shape' : ( 2 , 2 , ) ,\r\n 'descr' : '>i4' , }",
            true, 2, 2, false, 16);
    accepts(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 3L), }", true, 2, 2, false,
            48);
    accepts(3, "{'descr': '<u4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 4), }",
            true, 8, 1, false, 16);
    /* No padding and no newline: numpy would read it too. */
    accepts(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (5,)}", false, 1, 5, false, 5);
    accepts(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (0,)}", false, 1, 0, false, 0);
}

/* ------------------------------------------------------------------------------------------
 * Refusals
 */

static void test_refusals(void)
{
    unsigned char data[64] = {0};
    const char *ok = "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }";
    /* Every truncation of a valid file, including inside the magic. */
    struct npy_file f = make_file(1, ok, true, data, 12);
    for (size_t cut = 0; cut < f.len; cut++) {
        struct npy_file t = {.p = malloc(cut ? cut : 1), .len = cut};
        memcpy(t.p, f.p, cut);
        struct npy_info info;
        struct error_info err;
        CHECK_INT(npy_parse(t.p, t.len, "t.npy", &info, &err), ERROR_UNPROCESSABLE);
        free(t.p);
    }
    /* The file is 128 header bytes and 12 data bytes: drop 10 of the data. */
    CHECK_INT(f.len, 140);
    struct npy_file t = {.len = f.len > 10 ? f.len - 10 : 0};
    t.p = malloc(t.len + 1);
    memcpy(t.p, f.p, t.len);
    CHECK_FAILS(t, "data is 2 bytes but shape and dtype need 12");
    free(t.p);
    /* The header length lies: past the end of the file, and short of the dict's end. */
    f.p[8] = 0xff;
    f.p[9] = 0x0f;
    CHECK_FAILS(f, "truncated .npy header (4095 bytes declared");
    f.p[8] = 20;
    f.p[9] = 0;
    CHECK_FAILS(f, "unterminated string");
    f.p[6] = 4;
    CHECK_FAILS(f, "version 4.0 is not supported");
    f.p[6] = 1;
    f.p[7] = 1;
    CHECK_FAILS(f, "version 1.1 is not supported");
    f.p[0] = 'x';
    CHECK_FAILS(f, "not a .npy file");
    free(f.p);
    /* Huge header lengths, refused before anything is read. */
    unsigned char huge[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff, '{'};
    struct npy_file h = {.p = huge, .len = sizeof huge};
    CHECK_FAILS(h, "header length 4294967295 is over the 10000-byte limit");
    huge[6] = 1;
    huge[8] = 0x11;
    huge[9] = 0x27; /* 10001 */
    CHECK_FAILS(h, "header length 10001 is over");
    size_t need = 0;
    struct error_info err;
    huge[9] = 0x00;
    CHECK_INT(npy_prefix_size(huge, 10, NULL, &need, &err), ERROR_OK);
    CHECK_INT(need, 10 + 0x11);
    CHECK_INT(npy_prefix_size(huge, 9, NULL, &need, &err), ERROR_UNPROCESSABLE);

    /* Data: missing, short, long. */
    fails_with(1, ok, data, 0, "data is 0 bytes but shape and dtype need 12");
    fails_with(1, ok, data, 13, "data is 13 bytes but shape and dtype need 12");
    /* Shapes. */
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
               data, 0, "more than 2^64 elements");
    fails_with(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (4294967296, 536870912)}",
               data, 0, "too large to address");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (18446744073709551616,)}",
               data, 0, "dimension over 2^64 - 1");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3, -4)}", data, 0,
               "negative dimension");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': ()}", data, 2,
               "shape () is a scalar");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", data, 2,
               "more than 8 dimensions");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3)}", data, 6, "not a tuple");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': [3, 4]}", data, 24,
               "shape must be a tuple");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (03,)}", data, 6,
               "leading zero");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3.0,)}", data, 6,
               "plain decimal integers");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (1_0,)}", data, 20,
               "plain decimal integers");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3 4)}", data, 24,
               "expected ',' or ')'");
    /* Keys. */
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), 'extra': 1}", data, 6,
               "unknown key 'extra'");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False}", data, 6, "no 'shape' key");
    fails_with(1, "{'descr': '<u2', 'descr': '<u2', 'fortran_order': False, 'shape': (3,)}", data,
               6, "repeats key 'descr'");
    fails_with(1, "{'descr': '<u2' 'fortran_order': False, 'shape': (3,)}", data, 6,
               "expected ',' or '}'");
    fails_with(1, "{'descr': '<u2', 'fortran_order': 0, 'shape': (3,)}", data, 6,
               "fortran_order must be True or False");
    fails_with(1, "{'descr': '<u2', 'fortran_order': Falsey, 'shape': (3,)}", data, 6,
               "fortran_order must be True or False");
    fails_with(1, "{'descr': '<u\\x32', 'fortran_order': False, 'shape': (3,)}", data, 6,
               "escape sequences");
    fails_with(1, "['descr', '<u2']", data, 6, "must be a dict");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)} x", data, 6,
               "unexpected text after the dict");
    /* Dtypes. */
    fails_with(1, "{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", data, 24,
               "dtype '|O' is an object dtype");
    fails_with(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", data, 12,
               "dtype '<f4' is a float dtype");
    fails_with(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", data, 3,
               "dtype '|b1' is a bool dtype");
    fails_with(1, "{'descr': '<U4', 'fortran_order': False, 'shape': (3,)}", data, 48,
               "is a string dtype");
    fails_with(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", data, 24,
               "is a complex dtype");
    fails_with(1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,)}", data, 24,
               "is a datetime dtype");
    fails_with(1, "{'descr': '<u16', 'fortran_order': False, 'shape': (3,)}", data, 48,
               "dtype '<u16' is an integer width or byte order");
    fails_with(1, "{'descr': '=u2', 'fortran_order': False, 'shape': (3,)}", data, 6,
               "dtype '=u2' is an integer width or byte order");
    fails_with(1, "{'descr': '|u2', 'fortran_order': False, 'shape': (3,)}", data, 6,
               "dtype '|u2' has no byte order");
    fails_with(1, "{'descr': [('a', '<u2')], 'fortran_order': False, 'shape': (3,)}", data, 6,
               "structured dtype");
    /* Encodings: non-ASCII in 1.0 and 2.0, invalid UTF-8 in 3.0, UTF-8 in a 3.0 key. */
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), '\xc3\xa9': 1}", data, 6,
               "non-ASCII byte 0xc3 at byte 57 of a version 1.0");
    fails_with(2, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\xa0", data, 6,
               "non-ASCII byte 0xa0");
    fails_with(3, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\xc3", data, 6,
               "invalid UTF-8");
    fails_with(3, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\xe0\x80\xaf", data, 6,
               "invalid UTF-8 at byte 55");
    fails_with(3, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\xed\xa0\x80", data, 6,
               "invalid UTF-8");
    fails_with(3, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\xf4\x90\x80\x80", data,
               6, "invalid UTF-8");
    fails_with(3, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), '\xc3\xa9': 1}", data, 6,
               "unknown key '\xc3\xa9'");
    fails_with(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}\x01", data, 6,
               "unexpected text");
}

static void test_read_rows_bounds(void)
{
    unsigned char data[24] = {0};
    struct npy_file f =
        make_file(1, "{'descr': '<u2', 'fortran_order': True, 'shape': (3, 4), }", true, data, 24);
    struct npy_info info;
    struct error_info err;
    CHECK_INT(npy_parse(f.p, f.len, "b.npy", &info, &err), ERROR_OK);
    unsigned char out[24];
    CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 2, 2, out, sizeof out, &err),
              ERROR_INTERNAL);
    CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 4, 0, out, sizeof out, &err),
              ERROR_INTERNAL);
    CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 0, 3, out, 23, &err), ERROR_INTERNAL);
    CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 3, 0, out, 0, &err), ERROR_OK);
    free(f.p);
    struct npy_dtype dt;
    CHECK_INT(npy_dtype_parse(">i8", 3, &dt, &err), ERROR_OK);
    CHECK(dt.width == 8 && dt.is_signed && dt.big_endian);
    CHECK_INT(npy_dtype_parse("|u1", 3, &dt, &err), ERROR_OK);
    CHECK(dt.width == 1 && !dt.is_signed && !dt.big_endian);
    CHECK_INT(npy_dtype_parse("", 0, &dt, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(npy_dtype_parse("<u2 ", 4, &dt, &err), ERROR_UNPROCESSABLE);
}

/* The intensity entry points take the 4- and 8-byte floats (and still every integer); the
 * label entry points keep refusing them. */
static void test_intensity(void)
{
    const float f32[3] = {1.5f, -2.0f, 0.25f};
    unsigned char data[24];
    memcpy(data, f32, sizeof f32);
    struct npy_file f =
        make_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", true, data, 12);
    struct npy_info info;
    struct error_info err;
    CHECK_INT(npy_parse(f.p, f.len, "t.npy", &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "'<f4' is a float dtype: label images need integers") != NULL);
    if (CHECK_INT(npy_parse_intensity(f.p, f.len, "t.npy", &info, &err), ERROR_OK)) {
        CHECK(info.dtype.floating && info.dtype.width == 4 && !info.dtype.big_endian);
        float out[3];
        CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 0, 1, out, sizeof out, &err),
                  ERROR_OK);
        CHECK(memcmp(out, f32, sizeof out) == 0);
    }
    free(f.p);
    /* a big-endian float64 comes back in native order */
    const double want = -1234.5;
    uint64_t bits;
    memcpy(&bits, &want, sizeof bits);
    for (unsigned i = 0; i < 8; i++)
        data[i] = (unsigned char)(bits >> (8 * (7 - i)));
    f = make_file(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1), }", true, data, 8);
    if (CHECK_INT(npy_parse_intensity(f.p, f.len, "t.npy", &info, &err), ERROR_OK)) {
        double got = 0;
        CHECK(info.dtype.floating && info.dtype.width == 8 && info.dtype.big_endian);
        CHECK_INT(npy_read_rows(&info, f.p + info.data_offset, 0, 1, &got, sizeof got, &err),
                  ERROR_OK);
        CHECK(got == want);
    }
    free(f.p);
    struct npy_dtype dt;
    CHECK_INT(npy_dtype_parse_intensity(">u2", 3, &dt, &err), ERROR_OK);
    CHECK(dt.width == 2 && !dt.is_signed && !dt.floating && dt.big_endian);
    CHECK_INT(npy_dtype_parse_intensity("<f2", 3, &dt, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "intensity channels may be <f4 >f4 <f8 >f8") != NULL);
    CHECK_INT(npy_dtype_parse_intensity("|f4", 3, &dt, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(npy_dtype_parse_intensity("<c8", 3, &dt, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(npy_dtype_parse("<f8", 3, &dt, &err), ERROR_UNPROCESSABLE);
}

int main(void)
{
    test_intensity();
    test_round_trips();
    test_empty();
    test_syntax();
    test_refusals();
    test_read_rows_bounds();
    return check_finish("test_npy");
}
