/*
 * test_preview_http.c - GET /preview over real HTTP: the PNG decodes (libpng) at the size
 * the rules give, from the pyramid level they name; the ETag revalidates to a 304 and
 * changes when the file does; bad queries are 400s, a corrupt tile a 422, a 100,000^2
 * single-level tiled image a PNG of a strided decode within seconds, one huge strip a quick
 * 413; Zarr groups, their ETag and hostile stores; the request deadline; and a flood of previews
 * holding the only worker does not stop /healthz from answering. POST /overlap/render draws a
 * constructed pair with known tp / fp / fn: exact colours at known pixels, at two thresholds.
 */
#include "check.h"
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

static char root[512];

/* A w x h uint16 image (a gradient plus noise) with levels halving down to 64 pixels, as
 * reduced pages of the main chain; tiled 64 x 64, deflate. */
static bool write_pyramid(const char *name, uint32_t w, uint32_t h)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, name);
    TIFF *t = TIFFOpen(path, "w8");
    if (t == NULL)
        return false;
    uint16_t *tile = malloc(64 * 64 * sizeof *tile);
    uint64_t seed = 7;
    for (unsigned level = 0; w >= 64 && h >= 64; level++, w /= 2, h /= 2) {
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, level ? FILETYPE_REDUCEDIMAGE : 0);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 64);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 64);
        for (uint32_t y = 0; y < h; y += 64)
            for (uint32_t x = 0; x < w; x += 64) {
                for (int i = 0; i < 64 * 64; i++)
                    tile[i] =
                        (uint16_t)((x + (uint32_t)(i % 64)) * 30 + check_rng_below(&seed, 500));
                TIFFWriteTile(t, tile, x, y, 0, 0);
            }
        TIFFWriteDirectory(t);
    }
    free(tile);
    TIFFClose(t);
    return true;
}

/* A tiled image of w x h with only its first tile written (the rest sparse). */
static bool write_sparse(const char *name, uint32_t w, uint32_t h)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, name);
    TIFF *t = TIFFOpen(path, "w8");
    if (t == NULL)
        return false;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, 256);
    TIFFSetField(t, TIFFTAG_TILELENGTH, 256);
    static uint8_t tile[256 * 256];
    memset(tile, 9, sizeof tile);
    TIFFWriteTile(t, tile, 0, 0, 0, 0);
    TIFFClose(t);
    return true;
}

/* A w x h 8-bit image stored as one deflate strip (its bytes are not a valid stream: it is
 * refused before they are read). Deflate, because libtiff splits an uncompressed single strip
 * into strips of rows when reading, and those are strided. */
static bool write_onestrip(const char *name, uint32_t w, uint32_t h)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, name);
    TIFF *t = TIFFOpen(path, "w");
    if (t == NULL)
        return false;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    static uint8_t row[8];
    TIFFWriteRawStrip(t, 0, row, sizeof row);
    TIFFClose(t);
    return true;
}

/* Decode a PNG with libpng's simplified reader: its size, false when it does not decode. */
static bool png_size(const struct itest_reply *r, uint32_t *w, uint32_t *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, r->body, r->len))
        return false;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    bool ok = px != NULL && png_image_finish_read(&img, NULL, px, 0, NULL);
    free(px);
    *w = img.width;
    *h = img.height;
    if (!ok)
        png_image_free(&img);
    return ok;
}

static void test_png_and_etag(struct itest_server *s)
{
    struct itest_reply r;
    char etag[128] = "", hdr[256], cc[128];
    uint32_t w = 0, h = 0;
    if (CHECK(itest_request(s, "GET", "/preview?path=pyr.tif&size=200", NULL, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(itest_header(&r, "Content-Type", hdr, sizeof hdr) && strcmp(hdr, "image/png") == 0);
        CHECK(itest_header(&r, "ETag", etag, sizeof etag) && etag[0] == '"');
        CHECK(itest_header(&r, "Cache-Control", cc, sizeof cc) &&
              strcmp(cc, "private, no-cache") == 0);
        /* 1600 x 1200: levels 800, 400, 200, 100...; level 200 x 150 is the one. */
        CHECK(png_size(&r, &w, &h));
        CHECK(w == 200 && h == 150);
    }
    itest_reply_cleanup(&r);
    /* The same query spelled differently has the same tag, and revalidates to a 304. */
    char inm[200];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *const cond[] = {inm, NULL};
    if (CHECK(
            itest_request(s, "GET", "/preview?size=200&lo=0.5&path=pyr.tif", cond, NULL, 0, &r))) {
        CHECK_INT(r.status, 304);
        CHECK_INT(r.len, 0);
        CHECK(itest_header(&r, "ETag", hdr, sizeof hdr) && strcmp(hdr, etag) == 0);
    }
    itest_reply_cleanup(&r);
    /* Another size is another tag: a full answer. */
    if (CHECK(itest_request(s, "GET", "/preview?path=pyr.tif&size=90", cond, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(png_size(&r, &w, &h) && w == 90 && h == 68);
        CHECK(itest_header(&r, "ETag", hdr, sizeof hdr) && strcmp(hdr, etag) != 0);
    }
    itest_reply_cleanup(&r);
    /* A touched file (ctime and mtime move) is a new tag. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/pyr.tif", root);
    usleep(20000);
    CHECK(utimensat(AT_FDCWD, path, NULL, 0) == 0);
    if (CHECK(itest_request(s, "GET", "/preview?path=pyr.tif&size=200", cond, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(itest_header(&r, "ETag", hdr, sizeof hdr) && strcmp(hdr, etag) != 0);
    }
    itest_reply_cleanup(&r);
    /* An explicit level: its own size, whatever size asks for. */
    if (CHECK(itest_request(s, "GET", "/preview?path=pyr.tif&level=3&size=2048", NULL, NULL, 0,
                            &r))) {
        CHECK_INT(r.status, 200);
        CHECK(png_size(&r, &w, &h) && w == 200 && h == 150);
    }
    itest_reply_cleanup(&r);
}

static void test_errors(struct itest_server *s)
{
    static const struct {
        const char *target;
        long status;
        const char *detail;
    } cases[] = {
        {"/preview", 400, "'path' is required"},
        {"/preview?path=pyr.tif&size=0", 400, "size"},
        {"/preview?path=pyr.tif&size=5000", 400, "size"},
        {"/preview?path=pyr.tif&lo=60&hi=40", 400, "below hi"},
        {"/preview?path=pyr.tif&channel=a", 400, "channel"},
        {"/preview?path=pyr.tif&colors=red", 400, "colors"},
        {"/preview?path=pyr.tif&channel=0&colors=ff0000,00ff00", 400, "2 colours given"},
        {"/preview?path=pyr.tif&labels=maybe", 400, "labels"},
        {"/preview?path=pyr.tif&channel=3", 400, "channel 3"},
        {"/preview?path=pyr.tif&level=9", 400, "level 9"},
        {"/preview?path=pyr.tif&frame=1", 400, "frame"},
        {"/preview?path=missing.tif", 404, NULL},
        {"/preview?path=../outside.tif", 403, NULL},
        {"/preview?path=notes.txt", 422, "TIFF"},
        {"/preview?path=corrupt.tif", 422, "decode the tile"},
        {"/preview?path=onestrip.tif", 413, "cannot be decoded in strides"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct itest_reply r;
        if (!CHECK(itest_request(s, "GET", cases[i].target, NULL, NULL, 0, &r)))
            continue;
        if (!itest_is_problem(&r, cases[i].status))
            printf("  case %s: got %ld %.*s\n", cases[i].target, r.status, (int)r.len, r.body);
        if (cases[i].detail != NULL && !CHECK(r.body && strstr(r.body, cases[i].detail)))
            printf("  case %s: %.*s\n", cases[i].target, (int)r.len, r.body);
        if (strcmp(cases[i].target, "/preview?path=onestrip.tif") == 0)
            CHECK(r.seconds < 5.0 * itest_slowdown()); /* refused before decoding */
        itest_reply_cleanup(&r);
    }
}

/* A file beneath the root with the given text (NULL: len bytes of data). */
static bool put(const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static bool put_text(const char *rel, const char *text)
{
    return put(rel, text, strlen(text));
}

/* Level `name` of a group: a side x side uint8 array (y + x) % 256 in 64 x 64 raw chunks. */
static bool put_level(const char *name, uint32_t side)
{
    char rel[256], meta[400];
    snprintf(meta, sizeof meta,
             "{\"zarr_format\": 2, \"shape\": [%u, %u], \"chunks\": [64, 64], \"dtype\": "
             "\"|u1\", \"order\": \"C\", \"compressor\": null, \"filters\": null, "
             "\"fill_value\": 0}",
             side, side);
    snprintf(rel, sizeof rel, "%s/.zarray", name);
    bool ok = put_text(rel, meta);
    uint8_t chunk[64 * 64];
    for (uint32_t cy = 0; cy * 64 < side; cy++)
        for (uint32_t cx = 0; cx * 64 < side; cx++) {
            for (uint32_t y = 0; y < 64; y++)
                for (uint32_t x = 0; x < 64; x++)
                    chunk[y * 64 + x] = (uint8_t)(cy * 64 + y + cx * 64 + x);
            snprintf(rel, sizeof rel, "%s/%u.%u", name, cy, cx);
            ok = ok && put(rel, chunk, sizeof chunk);
        }
    return ok;
}

static bool put_group(const char *name, unsigned listed)
{
    char rel[256], attrs[600];
    int n =
        snprintf(attrs, sizeof attrs, "{\"multiscales\": [{\"version\": \"0.4\", \"datasets\": [");
    for (unsigned i = 0; i < listed; i++)
        n +=
            snprintf(attrs + n, sizeof attrs - (size_t)n, "%s{\"path\": \"%u\"}", i ? ", " : "", i);
    snprintf(attrs + n, sizeof attrs - (size_t)n, "]}]}");
    snprintf(rel, sizeof rel, "%s/.zgroup", name);
    bool ok = put_text(rel, "{\"zarr_format\": 2}");
    snprintf(rel, sizeof rel, "%s/.zattrs", name);
    ok = ok && put_text(rel, attrs);
    snprintf(rel, sizeof rel, "%s/0", name);
    ok = ok && put_level(rel, 256);
    snprintf(rel, sizeof rel, "%s/1", name);
    return ok && put_level(rel, 128);
}

/* Zarr: an NGFF group's level, its ETag from the level's .zarray, a level the group lists
 * but lacks, and a .zarray of 2^40 chunks. */
static void test_zarr(struct itest_server *s)
{
    CHECK(put_group("good.zarr", 2));
    CHECK(put_group("broken.zarr", 3)); /* lists level 2, which is not there */
    CHECK(put_text("hostile.zarr/.zarray",
                   "{\"zarr_format\": 2, \"shape\": [1048576, 1048576], \"chunks\": [1, 1], "
                   "\"dtype\": \"|u1\", \"order\": \"C\", \"compressor\": null, "
                   "\"filters\": null, \"fill_value\": 0}"));
    struct itest_reply r;
    char etag[128] = "", hdr[128];
    uint32_t w = 0, h = 0;
    if (CHECK(itest_request(s, "GET", "/preview?path=good.zarr&size=100", NULL, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(png_size(&r, &w, &h) && w == 100 && h == 100);
        CHECK(itest_header(&r, "ETag", etag, sizeof etag));
    }
    itest_reply_cleanup(&r);
    char inm[200];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *const cond[] = {inm, NULL};
    if (CHECK(itest_request(s, "GET", "/preview?path=good.zarr&size=100", cond, NULL, 0, &r)))
        CHECK_INT(r.status, 304);
    itest_reply_cleanup(&r);
    /* Level 1's metadata rewritten: a new tag. */
    usleep(20000);
    CHECK(put_level("good.zarr/1", 128));
    if (CHECK(itest_request(s, "GET", "/preview?path=good.zarr&size=100", cond, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(itest_header(&r, "ETag", hdr, sizeof hdr) && strcmp(hdr, etag) != 0);
    }
    itest_reply_cleanup(&r);
    if (CHECK(itest_request(s, "GET", "/preview?path=good.zarr/0&size=300", NULL, NULL, 0, &r))) {
        CHECK_INT(r.status, 200);
        CHECK(png_size(&r, &w, &h) && w == 256 && h == 256);
    }
    itest_reply_cleanup(&r);
    static const struct {
        const char *target;
        long status;
        const char *detail;
    } cases[] = {
        {"/preview?path=good.zarr&level=2", 400, "level 2"},
        {"/preview?path=broken.zarr&size=50", 422, "level 2"},
        {"/preview?path=hostile.zarr", 413, "chunks"},
        {"/preview?path=good.zarr/0/0.0", 422, "TIFF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!CHECK(itest_request(s, "GET", cases[i].target, NULL, NULL, 0, &r)))
            continue;
        if (!itest_is_problem(&r, cases[i].status))
            printf("  case %s: got %ld %.*s\n", cases[i].target, r.status, (int)r.len, r.body);
        if (!CHECK(r.body && strstr(r.body, cases[i].detail)))
            printf("  case %s: %.*s\n", cases[i].target, (int)r.len, r.body);
        CHECK(r.seconds < 5.0 * itest_slowdown());
        itest_reply_cleanup(&r);
    }
}

/* A w x h uint16 label image with boxes (x0, y0, x1, y1 inclusive, label), strips of 8 rows. */
struct box {
    uint32_t x0, y0, x1, y1;
    uint16_t label;
};

static bool write_labels(const char *name, uint32_t w, uint32_t h, const struct box *boxes,
                         size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, name);
    TIFF *t = TIFFOpen(path, "w");
    if (t == NULL)
        return false;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 8);
    uint16_t *row = malloc(w * sizeof *row);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            row[x] = 0;
            for (size_t i = 0; i < n; i++)
                if (x >= boxes[i].x0 && x <= boxes[i].x1 && y >= boxes[i].y0 && y <= boxes[i].y1)
                    row[x] = boxes[i].label;
        }
        TIFFWriteScanline(t, row, y, 0);
    }
    free(row);
    TIFFClose(t);
    return true;
}

/* Decode a PNG answer to RGB8 (malloc'd) with its size; NULL when it does not decode. */
static uint8_t *png_pixels(const struct itest_reply *r, uint32_t *w, uint32_t *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, r->body, r->len))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (px == NULL || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&img);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return px;
}

static bool pixel_is(const uint8_t *px, uint32_t w, uint32_t x, uint32_t y, uint8_t r, uint8_t g,
                     uint8_t b)
{
    const uint8_t *p = px + 3 * ((size_t)y * w + x);
    if (p[0] == r && p[1] == g && p[2] == b)
        return true;
    printf("  pixel (%u, %u) is %u %u %u, want %u %u %u\n", x, y, p[0], p[1], p[2], r, g, b);
    return false;
}

/* gt 1 = pred 7 exactly (a tp); gt 2 and pred 8 overlap with IoU 64/136 = 0.47 (fn + fp at
 * 0.5, a tp at 0.4); gt 3 alone (fn); pred 9 alone (fp). */
static void test_overlay(struct itest_server *s)
{
    static const struct box gt[] = {{2, 2, 11, 11, 1}, {20, 2, 29, 11, 2}, {2, 18, 11, 27, 3}};
    static const struct box pred[] = {{2, 2, 11, 11, 7}, {22, 4, 31, 13, 8}, {30, 20, 37, 27, 9}};
    CHECK(write_labels("gt.tif", 40, 30, gt, 3));
    CHECK(write_labels("pred.tif", 40, 30, pred, 3));
    CHECK(write_labels("small.tif", 20, 30, pred, 1));
    static const char *const json[] = {"Content-Type: application/json", NULL};
    const char *body = "{\"a\": \"gt.tif\", \"b\": \"pred.tif\", \"threshold\": 0.5}";
    struct itest_reply r;
    uint32_t w = 0, h = 0;
    if (CHECK(itest_request(s, "POST", "/overlap/render", json, body, strlen(body), &r))) {
        CHECK_INT(r.status, 200);
        uint8_t *px = png_pixels(&r, &w, &h);
        if (CHECK(px != NULL && w == 40 && h == 30)) {
            CHECK(pixel_is(px, w, 6, 6, 0, 170, 0));      /* gt 1 / pred 7 inside: tp */
            CHECK(pixel_is(px, w, 2, 2, 255, 210, 0));    /* pred 7's outline */
            CHECK(pixel_is(px, w, 20, 6, 255, 255, 255)); /* gt 2's outline */
            CHECK(pixel_is(px, w, 25, 3, 30, 90, 255));   /* gt 2 alone: fn */
            CHECK(pixel_is(px, w, 27, 7, 220, 30, 30));   /* gt 2 under pred 8: fp first */
            CHECK(pixel_is(px, w, 6, 22, 30, 90, 255));   /* gt 3: fn */
            CHECK(pixel_is(px, w, 33, 24, 220, 30, 30));  /* pred 9: fp */
            CHECK(pixel_is(px, w, 0, 0, 0, 0, 0));        /* background */
        }
        free(px);
    }
    itest_reply_cleanup(&r);
    body = "{\"a\": \"gt.tif\", \"b\": \"pred.tif\", \"threshold\": 0.4, \"size\": 20}";
    if (CHECK(itest_request(s, "POST", "/overlap/render", json, body, strlen(body), &r))) {
        CHECK_INT(r.status, 200);
        uint8_t *px = png_pixels(&r, &w, &h);
        /* 20 x 15: cell (x, y) samples source (2x + 1, 2y + 1) * 40 / 40 = (2x, 2y) + ... */
        if (CHECK(px != NULL && w == 20 && h == 15)) {
            CHECK(pixel_is(px, w, 13, 3, 0, 170, 0));   /* source (27, 7): now a tp */
            CHECK(pixel_is(px, w, 3, 11, 30, 90, 255)); /* source (7, 23): gt 3, fn */
        }
        free(px);
    }
    itest_reply_cleanup(&r);
    static const struct {
        const char *body;
        long status;
        const char *detail;
    } bad[] = {
        {"{\"a\": \"gt.tif\"}", 400, "'b'"},
        {"{\"a\": \"gt.tif\", \"b\": \"pred.tif\", \"threshold\": 0}", 400, "threshold"},
        {"{\"a\": \"gt.tif\", \"b\": \"pred.tif\", \"criterion\": \"dice\"}", 400, "criterion"},
        {"{\"a\": \"gt.tif\", \"b\": \"pred.tif\", \"size\": 0}", 400, "size"},
        {"{\"a\": \"gt.tif\", \"b\": \"small.tif\"}", 422, NULL},
        {"{\"a\": \"gt.tif\", \"b\": \"nothere.tif\"}", 404, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK(itest_request(s, "POST", "/overlap/render", json, bad[i].body,
                                 strlen(bad[i].body), &r)))
            continue;
        if (!itest_is_problem(&r, bad[i].status))
            printf("  case %s: got %ld %.*s\n", bad[i].body, r.status, (int)r.len, r.body);
        if (bad[i].detail != NULL && !CHECK(r.body && strstr(r.body, bad[i].detail)))
            printf("  case %s: %.*s\n", bad[i].body, (int)r.len, r.body);
        itest_reply_cleanup(&r);
    }
}

/* The 100,000^2 single-level image is decoded in strides: every 25th tile row and column
 * (16 x 16 of its 391 x 391 tiles, a 4096^2 plane), within seconds. Its one written tile
 * (9s, stretched to white as the only non-zero value) is the top-left 512 / 4096 * 256 = 32
 * pixels of the PNG; the sparse rest is black. */
static void test_strided(struct itest_server *s)
{
    struct itest_reply r;
    if (!CHECK(itest_request(s, "GET", "/preview?path=huge.tif", NULL, NULL, 0, &r)))
        return;
    CHECK_INT(r.status, 200);
    CHECK(r.seconds < 5.0 * itest_slowdown());
    uint32_t w = 0, h = 0;
    uint8_t *px = png_pixels(&r, &w, &h);
    if (CHECK(px != NULL) && CHECK(w == 512 && h == 512)) {
        CHECK(pixel_is(px, w, 0, 0, 255, 255, 255));
        CHECK(pixel_is(px, w, 31, 31, 255, 255, 255));
        CHECK(pixel_is(px, w, 32, 32, 0, 0, 0));
        CHECK(pixel_is(px, w, 300, 400, 0, 0, 0));
    }
    free(px);
    itest_reply_cleanup(&r);
}

/* A preview still decoding at the request deadline stops with a 503: 2048 x 2048 pixels in
 * 4 x 4 chunks (262,144 chunk look-ups, none stored) cannot finish within 100 ms. */
static void test_deadline(void)
{
    CHECK(put_text("slow.zarr/.zarray",
                   "{\"zarr_format\": 2, \"shape\": [2048, 2048], \"chunks\": [4, 4], "
                   "\"dtype\": \"|u1\", \"order\": \"C\", \"compressor\": null, "
                   "\"filters\": null, \"fill_value\": 3}"));
    struct itest_server s;
    const char *const args[] = {"--request-timeout", "100", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_reply r;
    if (CHECK(itest_request(&s, "GET", "/preview?path=slow.zarr", NULL, NULL, 0, &r))) {
        if (!CHECK(itest_is_problem(&r, 503)))
            printf("  slow.zarr: got %ld %.*s\n", r.status, (int)r.len, r.body);
        CHECK(r.body && strstr(r.body, "deadline passed while decoding the preview"));
        CHECK(r.seconds < 3.0 * itest_slowdown());
    }
    itest_reply_cleanup(&r);
    itest_check_log(&s);
    CHECK_INT(itest_stop(&s, 0, 15), 0);
    itest_free(&s);
}

static void test_flood_and_healthz(void)
{
    struct itest_server s;
    const char *const args[] = {"--workers", "1", "--queue", "2", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    enum { N = 16 };
    CURLM *multi = curl_multi_init();
    CURL *easy[N];
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/preview?path=pyr.tif&level=0&size=2048", s.port);
    FILE *sink = fopen("/dev/null", "w");
    for (int i = 0; i < N; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, sink);
        curl_multi_add_handle(multi, easy[i]);
    }
    int running = 1;
    unsigned health_ok = 0, health_total = 0;
    double worst = 0;
    while (running) {
        curl_multi_perform(multi, &running);
        struct itest_reply r;
        health_total++;
        if (itest_request(&s, "GET", "/healthz", NULL, NULL, 0, &r) && r.status == 200)
            health_ok++;
        if (r.seconds > worst)
            worst = r.seconds;
        itest_reply_cleanup(&r);
        curl_multi_wait(multi, NULL, 0, 5, NULL);
    }
    unsigned ok = 0, busy = 0, other = 0;
    for (int i = 0; i < N; i++) {
        long status = 0;
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &status);
        ok += status == 200;
        busy += status == 503;
        other += status != 200 && status != 503;
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    fclose(sink);
    printf("preview flood: %u ok, %u busy, %u other; healthz %u/%u ok, worst %.1f ms\n", ok, busy,
           other, health_ok, health_total, worst * 1e3);
    CHECK(ok >= 1);
    CHECK_INT(other, 0);
    CHECK_INT(health_ok, health_total); /* every probe answered 200 while previews ran */
    itest_check_log(&s);
    CHECK_INT(itest_stop(&s, 0, 15), 0);
    itest_free(&s);
}

int main(void)
{
    char base[400];
    check_tmpdir(base, sizeof base);
    snprintf(root, sizeof root, "%s/root", base);
    mkdir(root, 0755);
    char outside[600];
    snprintf(outside, sizeof outside, "%s/outside.tif", base);
    FILE *f = fopen(outside, "w");
    if (f != NULL)
        fclose(f);
    CHECK(write_pyramid("pyr.tif", 1600, 1200));
    CHECK(write_pyramid("corrupt.tif", 256, 256));
    CHECK(write_sparse("huge.tif", 100000, 100000));
    CHECK(write_onestrip("onestrip.tif", 5000, 5000));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/notes.txt", root);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("not an image\n", f);
        fclose(f);
    }
    /* Overwrite the first tile's compressed bytes of every level of corrupt.tif. */
    snprintf(path, sizeof path, "%s/corrupt.tif", root);
    TIFF *t = TIFFOpen(path, "r");
    uint64_t *offs = NULL;
    for (int d = 0; t != NULL && d < 3; d++) {
        if (TIFFGetField(t, TIFFTAG_TILEOFFSETS, &offs) && offs != NULL) {
            int fd = open(path, O_WRONLY);
            static const char junk[16] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
            CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, (off_t)offs[0]) == sizeof junk);
            close(fd);
        }
        if (!TIFFReadDirectory(t))
            break;
    }
    if (t != NULL)
        TIFFClose(t);

    struct itest_server s;
    if (CHECK(itest_start(&s, root, NULL))) {
        test_png_and_etag(&s);
        test_errors(&s);
        test_zarr(&s);
        test_strided(&s);
        test_overlay(&s);
        itest_check_log(&s);
        CHECK_INT(itest_stop(&s, 0, 15), 0);
        itest_free(&s);
    }
    test_deadline();
    test_flood_and_healthz();
    check_rmtree(base);
    return check_finish("itest_preview");
}
