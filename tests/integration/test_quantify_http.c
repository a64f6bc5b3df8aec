/*
 * test_quantify_http.c - POST /quantify over real HTTP: one small table checked value by
 * value in JSON and as mcquant's CSV text (median and Gini too), and every 4xx the endpoint
 * documents (bad bodies, unknown statistics, missing and escaping paths, shapes that differ,
 * float labels, a multi-channel path that is no TIFF, missing pages, multipart without
 * labels or channels, and --max-channels / --max-labels on a second server). The values
 * against skimage at scale are diff_quantify_http.py's.
 */
#include "check.h"
#include "files.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>

static char root[512];

static const char *const hdr_json[] = {"Content-Type: application/json", NULL};
static const char *const hdr_json_csv[] = {"Content-Type: application/json", "Accept: text/csv",
                                           NULL};

/* A 2-D .npy of h x w elements of descr ("<u2", "|u1") with values v[i] (< 256). */
static unsigned char *npy_make(const char *descr, unsigned h, unsigned w, const unsigned *v,
                               size_t *len)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%u, %u), }", descr, h, w);
    size_t hlen = (size_t)n + 1;
    hlen += (64 - (10 + hlen) % 64) % 64;
    const unsigned width = (unsigned)(descr[2] - '0');
    *len = 10 + hlen + (size_t)h * w * width;
    unsigned char *out = calloc(1, *len);
    if (out == NULL)
        abort();
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memset(out + 10, ' ', hlen);
    memcpy(out + 10, dict, (size_t)n);
    out[10 + hlen - 1] = '\n';
    for (size_t i = 0; i < (size_t)h * w; i++)
        out[10 + hlen + i * width] = (unsigned char)v[i]; /* little-endian low byte */
    return out;
}

/* A one-page TIFF of h x w samples: uint16 (format 1) or float32 (format 3). */
static void tiff_make(const char *name, unsigned h, unsigned w, unsigned format, const unsigned *v)
{
    char path[1024];
    check_path_join(path, sizeof path, root, name);
    TIFF *t = TIFFOpen(path, "w");
    if (!CHECK(t != NULL))
        return;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, format == SAMPLEFORMAT_IEEEFP ? 32 : 16);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, format);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 2);
    for (unsigned y = 0; y < h; y++) {
        uint16_t r16[64];
        float rf[64];
        for (unsigned x = 0; x < w; x++) {
            r16[x] = (uint16_t)v[y * w + x];
            rf[x] = (float)v[y * w + x] + 0.5f;
        }
        CHECK(TIFFWriteScanline(t, format == SAMPLEFORMAT_IEEEFP ? (void *)rf : (void *)r16, y,
                                0) == 1);
    }
    TIFFClose(t);
}

/* The 4 x 6 scene: label 5 a 2 x 3 block at rows 0-1, columns 0-2; label 9 the pixels
 * (2, 4), (3, 4), (3, 5). The channel is 10 * row + column. */
static const unsigned scene_labels[24] = {5, 5, 5, 0, 0, 0, 5, 5, 5, 0, 0, 0,
                                          0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 9, 9};
static unsigned scene_channel[24];

static void make_root(void)
{
    for (unsigned i = 0; i < 24; i++)
        scene_channel[i] = 10 * (i / 6) + i % 6;
    tiff_make("labels.tif", 4, 6, SAMPLEFORMAT_UINT, scene_labels);
    tiff_make("chan.tif", 4, 6, SAMPLEFORMAT_UINT, scene_channel);
    tiff_make("float.tif", 4, 6, SAMPLEFORMAT_IEEEFP, scene_channel);
    tiff_make("small.tif", 2, 3, SAMPLEFORMAT_UINT, scene_channel);
    char dir[1024];
    check_path_join(dir, sizeof dir, root, "store.zarr");
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(check_write_file(dir, ".zgroup", "{\"zarr_format\": 2}", 18));
}

static void post_json(struct itest_server *s, const char *const *headers, const char *body,
                      struct itest_reply *r)
{
    CHECK(itest_request(s, "POST", "/quantify", headers, body, strlen(body), r));
}

/* The scene's table: label 5 has mean (0+1+2+10+11+12)/6 = 6, label 9 (24+34+35)/3 = 31;
 * float.tif adds 0.5. */
static void test_values(struct itest_server *s)
{
    struct itest_reply r;
    post_json(s, hdr_json,
              "{\"labels\":\"labels.tif\",\"channels\":[{\"path\":\"chan.tif\",\"name\":\"DNA\"},"
              "\"float.tif\"],\"intensity\":[\"mean\",\"sum\",\"min\",\"max\"],"
              "\"shape\":[\"area\",\"centroid\",\"bbox\",\"extent\",\"solidity\"]}",
              &r);
    if (CHECK_INT(r.status, 200) && CHECK(r.json != NULL)) {
        json_t *cols = json_object_get(r.json, "columns");
        json_t *in = json_object_get(r.json, "intensity");
        CHECK_INT(json_integer_value(json_object_get(r.json, "labels")), 2);
        CHECK_INT(json_integer_value(json_array_get(json_object_get(cols, "label"), 1)), 9);
        CHECK_INT(json_integer_value(json_array_get(json_object_get(cols, "area"), 0)), 6);
        CHECK(json_real_value(json_array_get(json_object_get(cols, "centroid-0"), 1)) == 8.0 / 3.0);
        CHECK(json_number_value(json_array_get(json_object_get(cols, "extent"), 1)) == 0.75);
        CHECK_INT(json_integer_value(json_array_get(json_object_get(cols, "bbox-3"), 1)), 6);
        CHECK(json_number_value(
                  json_array_get(json_array_get(json_object_get(in, "mean"), 0), 0)) == 6.0);
        CHECK(json_number_value(
                  json_array_get(json_array_get(json_object_get(in, "mean"), 1), 1)) == 31.5);
        CHECK(json_number_value(json_array_get(json_array_get(json_object_get(in, "sum"), 0), 1)) ==
              93.0);
        CHECK(json_number_value(json_array_get(json_array_get(json_object_get(in, "max"), 0), 1)) ==
              35.0);
        json_t *ch = json_array_get(json_object_get(r.json, "channels"), 1);
        CHECK_STR(json_string_value(json_object_get(ch, "name")), "channel_1");
        CHECK_STR(json_string_value(json_object_get(ch, "dtype")), "float32");
    }
    itest_reply_cleanup(&r);

    /* named masks: one table each, in the order given */
    post_json(s, hdr_json,
              "{\"labels\":{\"cell\":\"labels.tif\",\"nucleus\":{\"path\":\"labels.tif\"}},"
              "\"channels\":[\"chan.tif\"],\"shape\":[\"area\"]}",
              &r);
    if (CHECK_INT(r.status, 200) && CHECK(r.json != NULL)) {
        json_t *masks = json_object_get(r.json, "masks");
        CHECK_INT(json_array_size(masks), 2);
        CHECK_STR(json_string_value(json_object_get(json_array_get(masks, 1), "mask")), "nucleus");
        json_t *cols = json_object_get(json_array_get(masks, 1), "columns");
        CHECK_INT(json_integer_value(json_array_get(json_object_get(cols, "area"), 1)), 3);
    }
    itest_reply_cleanup(&r);

    /* median and Gini: label 5 holds 0 1 2 10 11 12, label 9 holds 24 34 35 */
    post_json(s, hdr_json_csv,
              "{\"labels\":\"labels.tif\",\"channels\":[{\"path\":\"chan.tif\",\"name\":\"D\"}],"
              "\"intensity\":[\"median\",\"gini_index\"],\"shape\":[\"area\"]}",
              &r);
    if (CHECK_INT(r.status, 200)) {
        const double g5 = (double)((7.0L - 2 * 77.0L / 36) / 6);
        const double g9 = (double)((4.0L - 2 * 175.0L / 93) / 3);
        const char *head = "CellID,D_intensity_median,D_gini_index,Area\n5,6,";
        char *rest = strstr(r.body, head) == r.body ? r.body + strlen(head) : NULL;
        if (CHECK(rest != NULL)) {
            char *end;
            CHECK(fabs(strtod(rest, &end) - g5) <= 1e-15 * g5);
            CHECK(strncmp(end, ",6\n9,34,", 8) == 0);
            CHECK(fabs(strtod(end + 8, &end) - g9) <= 1e-15 * g9);
            CHECK_STR(end, ",3\n");
        }
    }
    itest_reply_cleanup(&r);

    post_json(s, hdr_json_csv,
              "{\"labels\":\"labels.tif\",\"channels\":[{\"path\":\"chan.tif\",\"name\":\"a,b\"}],"
              "\"shape\":[\"centroid\",\"area\",\"extent\"]}",
              &r);
    if (CHECK_INT(r.status, 200)) {
        char type[128] = "";
        CHECK(itest_header(&r, "Content-Type", type, sizeof type));
        CHECK(strncmp(type, "text/csv", 8) == 0);
        CHECK_STR(r.body, "CellID,\"a,b\",X_centroid,Y_centroid,Area,Extent\n"
                          "5,6,1,0.5,6,1\n"
                          "9,31,4.333333333333333,2.6666666666666665,3,0.75\n");
    }
    itest_reply_cleanup(&r);
}

struct error_case {
    const char *body;
    long status;
    const char *word; /* the detail must name it */
};

static void test_errors(struct itest_server *s)
{
    static const struct error_case cases[] = {
        {"{\"labels\":", 400, "JSON"},
        {"{\"labels\":\"labels.tif\"}", 400, "channels"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"],\"color\":1}", 400, "color"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"],\"intensity\":[\"mode\"]}", 400,
         "intensity"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"],\"intensity\":[]}", 400,
         "intensity"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"],\"shape\":\"area\"}", 400,
         "shape"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"],\"intensity\":[\"Median\"]}", 400,
         "intensity"},
        {"{\"labels\":\"labels.tif\",\"channels\":7}", 400, "channels"},
        {"{\"labels\":{},\"channels\":[\"chan.tif\"]}", 400, "masks"},
        {"{\"labels\":{\"cell\":7},\"channels\":[\"chan.tif\"]}", 400, "labels"},
        {"{\"labels\":\"labels.tif\",\"channels\":[]}", 400, "channels"},
        {"{\"labels\":\"labels.tif\",\"channels\":[7]}", 400, "channels"},
        {"{\"labels\":\"labels.tif\",\"channels\":[{\"name\":\"x\"}]}", 400, "path"},
        {"{\"labels\":\"labels.tif\",\"channels\":[{\"path\":\"chan.tif\",\"page\":-1}]}", 400,
         "page"},
        {"{\"labels\":\"labels.tif\",\"channels\":[{\"path\":\"chan.tif\",\"page\":3}]}", 422,
         "page"},
        {"{\"labels\":\"missing.tif\",\"channels\":[\"chan.tif\"]}", 404, "missing.tif"},
        {"{\"labels\":\"../labels.tif\",\"channels\":[\"chan.tif\"]}", 403, ".."},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"small.tif\"]}", 422, "2 x 3"},
        {"{\"labels\":\"float.tif\",\"channels\":[\"chan.tif\"]}", 422, "floating"},
        {"{\"labels\":\"labels.tif\",\"channels\":\"store.zarr\"}", 422, "TIFF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct itest_reply r;
        post_json(s, hdr_json, cases[i].body, &r);
        const char *detail =
            r.json != NULL ? json_string_value(json_object_get(r.json, "detail")) : NULL;
        if (!itest_is_problem(&r, cases[i].status) ||
            !CHECK(detail != NULL && strstr(detail, cases[i].word) != NULL))
            fprintf(stderr, "    case %zu %s: %ld %.300s\n", i, cases[i].body, r.status, r.body);
        itest_reply_cleanup(&r);
    }
    struct itest_reply r;
    post_json(s, hdr_json_csv,
              "{\"labels\":{\"cell\":\"labels.tif\",\"nucleus\":\"labels.tif\"},"
              "\"channels\":[\"chan.tif\"]}",
              &r);
    if (itest_is_problem(&r, 422))
        CHECK(strstr(r.body, "one mask") != NULL);
    itest_reply_cleanup(&r);
    static const char *const hdr_text[] = {"Content-Type: text/plain", NULL};
    CHECK(itest_request(s, "POST", "/quantify", hdr_text, "x", 1, &r));
    itest_is_problem(&r, 415);
    itest_reply_cleanup(&r);
    CHECK(itest_request(s, "POST", "/quantify?x=1", hdr_json, "{}", 2, &r));
    itest_is_problem(&r, 400);
    itest_reply_cleanup(&r);
}

/* A multipart body of the parts (name, bytes) into a malloc'd buffer. */
static char *multipart_make(const char *const *names, unsigned char *const *data,
                            const size_t *lens, size_t n, size_t *len)
{
    size_t cap = 1024;
    for (size_t i = 0; i < n; i++)
        cap += lens[i] + 256;
    char *out = malloc(cap);
    if (out == NULL)
        abort();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        at += (size_t)snprintf(out + at, cap - at,
                               "--qbound\r\nContent-Disposition: form-data; name=\"%s\"; "
                               "filename=\"%s.npy\"\r\n\r\n",
                               names[i], names[i]);
        memcpy(out + at, data[i], lens[i]);
        at += lens[i];
        at += (size_t)snprintf(out + at, cap - at, "\r\n");
    }
    at += (size_t)snprintf(out + at, cap - at, "--qbound--\r\n");
    *len = at;
    return out;
}

static void test_multipart(struct itest_server *s)
{
    static const char *const hdr[] = {"Content-Type: multipart/form-data; boundary=qbound",
                                      "Accept: text/csv", NULL};
    size_t ll, lc;
    unsigned char *lab = npy_make("<u2", 4, 6, scene_labels, &ll);
    unsigned char *chan = npy_make("|u1", 4, 6, scene_channel, &lc);
    unsigned char *data[] = {lab, chan};
    const size_t lens[] = {ll, lc};
    const char *const names[] = {"labels", "DNA"};
    const char *const swapped[] = {"DNA", "labels"};
    struct itest_reply r;
    size_t len;
    char *body = multipart_make(names, data, lens, 2, &len);
    CHECK(itest_request(s, "POST", "/quantify", hdr, body, len, &r));
    if (CHECK_INT(r.status, 200))
        CHECK(strncmp(r.body, "CellID,DNA,X_centroid,", 22) == 0);
    itest_reply_cleanup(&r);
    free(body);
    /* only a channel; only labels */
    body = multipart_make(swapped, data + 1, lens + 1, 1, &len);
    CHECK(itest_request(s, "POST", "/quantify", hdr, body, len, &r));
    itest_is_problem(&r, 400);
    itest_reply_cleanup(&r);
    free(body);
    body = multipart_make(names, data, lens, 1, &len);
    CHECK(itest_request(s, "POST", "/quantify", hdr, body, len, &r));
    itest_is_problem(&r, 400);
    itest_reply_cleanup(&r);
    free(body);
    free(lab);
    free(chan);
}

static void test_limits(void)
{
    struct itest_server s;
    const char *const extra[] = {"--max-channels", "1", "--max-labels", "1", NULL};
    if (!CHECK(itest_start(&s, root, extra)))
        return;
    static const struct error_case cases[] = {
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\",\"float.tif\"]}", 413,
         "max-channels"},
        {"{\"labels\":\"labels.tif\",\"channels\":[\"chan.tif\"]}", 413, "max_labels"},
    };
    for (size_t i = 0; i < 2; i++) {
        struct itest_reply r;
        post_json(&s, hdr_json, cases[i].body, &r);
        const char *detail =
            r.json != NULL ? json_string_value(json_object_get(r.json, "detail")) : NULL;
        if (!itest_is_problem(&r, cases[i].status) ||
            !CHECK(detail != NULL && strstr(detail, cases[i].word) != NULL))
            fprintf(stderr, "    limit %zu: %ld %.300s\n", i, r.status, r.body);
        itest_reply_cleanup(&r);
    }
    CHECK_INT(itest_stop(&s, 0, 30), 0);
    itest_check_log(&s);
    itest_free(&s);
}

int main(void)
{
    char tmpl[] = "/tmp/tessera-quantify-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 2;
    snprintf(root, sizeof root, "%s", tmpl);
    make_root();
    struct itest_server s;
    if (CHECK(itest_start(&s, root, NULL))) {
        test_values(&s);
        test_errors(&s);
        test_multipart(&s);
        CHECK_INT(itest_stop(&s, 0, 30), 0);
        itest_check_log(&s);
        itest_free(&s);
    }
    test_limits();
    return check_finish("itest_quantify");
}
