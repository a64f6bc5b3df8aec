/*
 * test_load.c - core/load.c on TIFFs written here with libtiff: every dtype, strips and
 * tiles (edge tiles included), both byte orders, every accepted compression and the
 * horizontal predictor, through a descriptor and through memory, on 1-4 threads, each pixel
 * checked (decoded by counting against an image of pixel indices); streaming overlap equal to
 * counting the decoded arrays; pages; and every refused kind (float,
 * several samples, 1-bit, JPEG, corrupt, truncated, garbage, shape mismatch, limits) giving
 * the right code with a detail that names the problem.
 */
#include "check.h"
#include "check_code.h"
#include "files.h"
#include "load.h"
#include "overlap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

static char tmpdir[512];

static uint64_t rng_state = 42;

/* ------------------------------------------------------------------------------------------
 * Writing TIFFs
 */

struct tiff_spec {
    const char *mode; /* "w", "wb" (big-endian), "wl" (little-endian), "w8" (BigTIFF) */
    uint32_t width, height;
    uint16_t bits, format, spp;
    uint16_t compression, predictor;
    uint32_t rows_per_strip; /* strips when tile_width == 0 */
    uint32_t tile_width, tile_height;
};

/* Write `pages` pages of spec; page p holds pixels + p * (pixel bytes). */
static bool write_tiff(const char *path, const struct tiff_spec *s, const void *pixels,
                       unsigned pages)
{
    TIFF *tif = TIFFOpen(path, s->mode);
    if (tif == NULL)
        return false;
    const size_t bps = s->bits / 8u * s->spp, row = (size_t)s->width * bps;
    bool ok = true;
    for (unsigned p = 0; p < pages && ok; p++) {
        const unsigned char *px = (const unsigned char *)pixels + p * row * s->height;
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, s->width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, s->height);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, s->bits);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, s->format);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                     s->spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, s->compression);
        if (s->predictor != 0)
            TIFFSetField(tif, TIFFTAG_PREDICTOR, s->predictor);
        if (s->tile_width == 0) {
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, s->rows_per_strip);
            for (uint32_t y = 0, k = 0; y < s->height && ok; y += s->rows_per_strip, k++) {
                uint32_t rows =
                    s->height - y < s->rows_per_strip ? s->height - y : s->rows_per_strip;
                unsigned char *copy = malloc(rows * row); /* libtiff may modify the buffer */
                memcpy(copy, px + y * row, rows * row);
                ok = TIFFWriteEncodedStrip(tif, k, copy, (tmsize_t)(rows * row)) >= 0;
                free(copy);
            }
        } else {
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, s->tile_width);
            TIFFSetField(tif, TIFFTAG_TILELENGTH, s->tile_height);
            size_t trow = s->tile_width * bps, tsize = trow * s->tile_height;
            unsigned char *tile = malloc(tsize);
            for (uint32_t y = 0; y < s->height && ok; y += s->tile_height) {
                for (uint32_t x = 0; x < s->width && ok; x += s->tile_width) {
                    memset(tile, 0xAB, tsize); /* padding that must never show up */
                    for (uint32_t r = 0; r < s->tile_height && y + r < s->height; r++) {
                        uint32_t cols = s->width - x < s->tile_width ? s->width - x : s->tile_width;
                        memcpy(tile + r * trow, px + (y + r) * row + x * bps, cols * bps);
                    }
                    ok = TIFFWriteTile(tif, tile, x, y, 0, 0) >= 0;
                }
            }
            free(tile);
        }
        ok = ok && TIFFWriteDirectory(tif);
    }
    TIFFClose(tif);
    return ok;
}

/* Coherent random labels: runs along rows, rows repeated, like cells. */
static void *make_labels(const struct tiff_spec *s, unsigned pages, unsigned max_label)
{
    const size_t bps = s->bits / 8u * s->spp, n = (size_t)s->width * s->height * pages * s->spp;
    unsigned char *p = malloc(n * bps / s->spp + 1);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_rng_next(&rng_state) % 7 == 0)
            v = check_rng_next(&rng_state) % (max_label + 1);
        uint64_t x = v;
        if (s->bits == 64 && check_rng_next(&rng_state) % 50 == 0)
            x = s->format == SAMPLEFORMAT_INT ? (uint64_t)INT64_MAX : UINT64_MAX;
        switch (s->bits) {
        case 8:
            p[i] = (uint8_t)x;
            break;
        case 16:
            ((uint16_t *)p)[i] = (uint16_t)x;
            break;
        case 32:
            ((uint32_t *)p)[i] = (uint32_t)x;
            break;
        default:
            ((uint64_t *)p)[i] = x;
        }
    }
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Decoding a page through load_overlap
 *
 * load_overlap is the only way pixels leave core/load, so a page is decoded by counting it
 * against an index image whose pixel i holds i + 1 (uint32, uncompressed, one strip): every
 * (a, b) pair then names one pixel and the label decoded there.
 */

static uint32_t index_rows_per_strip; /* of the index image; 0 = one strip */

static void write_index_image(const char *path, uint32_t width, uint32_t height)
{
    struct tiff_spec s = {.mode = "w",
                          .width = width,
                          .height = height,
                          .bits = 32,
                          .format = SAMPLEFORMAT_UINT,
                          .spp = 1,
                          .compression = COMPRESSION_NONE,
                          .rows_per_strip = index_rows_per_strip ? index_rows_per_strip : height};
    uint32_t *px = malloc((size_t)width * height * sizeof *px);
    for (size_t i = 0; i < (size_t)width * height; i++)
        px[i] = (uint32_t)i + 1;
    CHECK(write_tiff(path, &s, px, 1));
    free(px);
}

/* Decode src's page (width x height) into *labels (caller frees; NULL on failure), with info
 * describing it. A result that is not one pair of count 1 per pixel is ERROR_INTERNAL. */
static enum error_code decode_page(const struct load_source *src, const struct load_options *opt,
                                   uint32_t width, uint32_t height, uint64_t **labels,
                                   struct load_info *info, struct error_info *err)
{
    *labels = NULL;
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "index.tif");
    write_index_image(path, width, height);
    int fd = open(path, O_RDONLY);
    struct load_source index = {.fd = fd, .name = "index.tif"};
    struct overlap_counter *c = overlap_counter_new(0, err);
    struct load_info index_info;
    enum error_code rc =
        c == NULL ? ERROR_NO_MEMORY : load_overlap(src, &index, opt, c, info, &index_info, err);
    struct overlap_options oopt = {.include_background = true};
    struct overlap_result res = {0};
    if (rc == ERROR_OK)
        rc = overlap_counter_finish(c, &oopt, &res, err);
    const size_t n = (size_t)width * height;
    uint64_t *out = rc == ERROR_OK ? calloc(n ? n : 1, sizeof *out) : NULL;
    for (size_t i = 0; out != NULL && i < res.n_pairs; i++) {
        if (res.n_pairs != n || res.count[i] != 1 || res.b[i] < 1 || res.b[i] > n) {
            rc = error_set(err, ERROR_INTERNAL, "pair %zu of %zu is not one pixel", i, res.n_pairs);
            break;
        }
        out[res.b[i] - 1] = res.a[i];
    }
    if (rc == ERROR_OK)
        *labels = out;
    else
        free(out);
    overlap_result_cleanup(&res);
    overlap_counter_free(c);
    close(fd);
    return rc;
}

/* The label at element i of pixels written with spec s (as make_labels stores them). */
static uint64_t label_at(const struct tiff_spec *s, const void *pixels, size_t i)
{
    switch (s->bits) {
    case 8:
        return ((const uint8_t *)pixels)[i];
    case 16:
        return ((const uint16_t *)pixels)[i];
    case 32:
        return ((const uint32_t *)pixels)[i];
    default:
        return ((const uint64_t *)pixels)[i];
    }
}

static bool same_labels(const struct tiff_spec *s, const void *want, const uint64_t *got, size_t n)
{
    if (got == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (got[i] != label_at(s, want, i))
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Round trips
 */

static const uint16_t codecs[] = {COMPRESSION_NONE,     COMPRESSION_LZW,  COMPRESSION_ADOBE_DEFLATE,
                                  COMPRESSION_PACKBITS, COMPRESSION_ZSTD, COMPRESSION_LZMA};

static void check_roundtrip(const struct tiff_spec *s, unsigned threads)
{
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "rt.tif");
    /* Labels must be >= 0 to be counted, so int8 pages hold 0..127; negative values of every
     * signed type are decoded below, through the error that names them. */
    const bool signed_type = s->format == SAMPLEFORMAT_INT;
    void *want = make_labels(s, 1, signed_type && s->bits == 8 ? 127 : 300);
    if (!CHECK(write_tiff(path, s, want, 1))) {
        free(want);
        return;
    }
    const size_t pixels = (size_t)s->width * s->height;
    struct load_options opt;
    load_options_init(&opt);
    opt.threads = threads;
    struct error_info err;
    error_init(&err);
    for (unsigned via_memory = 0; via_memory < 2; via_memory++) {
        struct load_source src = {.fd = -1, .name = "rt.tif"};
        int fd = -1;
        void *file = NULL;
        if (via_memory) {
            file = check_slurp(NULL, path, &src.size);
            src.data = file;
        } else {
            fd = open(path, O_RDONLY);
            src.fd = fd;
        }
        uint64_t *got = NULL;
        struct load_info info;
        enum error_code rc = decode_page(&src, &opt, s->width, s->height, &got, &info, &err);
        bool ok = rc == ERROR_OK && info.width == s->width && info.height == s->height &&
                  info.bits == s->bits && info.compression == s->compression &&
                  info.tiled == (s->tile_width != 0) &&
                  info.big_endian == (strcmp(s->mode, "wb") == 0) &&
                  same_labels(s, want, got, pixels);
        if (!CHECK(ok))
            fprintf(stderr,
                    "    mode %s %ux%u bits %u fmt %u comp %u pred %u rps %u tile %ux%u threads %u "
                    "memory %u: %s\n",
                    s->mode, s->width, s->height, s->bits, s->format, s->compression, s->predictor,
                    s->rows_per_strip, s->tile_width, s->tile_height, threads, via_memory,
                    err.detail);
        if (fd >= 0) {
            CHECK(lseek(fd, 0, SEEK_CUR) == 0); /* our offset was never moved */
            close(fd);
        }
        free(got);
        free(file);
    }
    if (signed_type) {
        /* One negative pixel: the error names its decoded value and its position. */
        const size_t p = pixels / 2;
        const int64_t v = -(int64_t)(1 + p % 100);
        switch (s->bits) {
        case 8:
            ((int8_t *)want)[p] = (int8_t)v;
            break;
        case 16:
            ((int16_t *)want)[p] = (int16_t)v;
            break;
        case 32:
            ((int32_t *)want)[p] = (int32_t)v;
            break;
        default:
            ((int64_t *)want)[p] = v;
        }
        CHECK(write_tiff(path, s, want, 1));
        int fd = open(path, O_RDONLY);
        struct load_source src = {.fd = fd, .name = "rt.tif"};
        uint64_t *got = NULL;
        struct load_info info;
        CHECK_CODE(decode_page(&src, &opt, s->width, s->height, &got, &info, &err),
                   ERROR_UNPROCESSABLE);
        char needle[96];
        snprintf(needle, sizeof needle, "negative label %lld at pixel %zu", (long long)v, p);
        if (!CHECK(strstr(err.detail, needle) != NULL))
            fprintf(stderr, "    bits %u threads %u: \"%s\" lacks \"%s\"\n", s->bits, threads,
                    err.detail, needle);
        free(got);
        close(fd);
    }
    free(want);
}

static void test_roundtrips(void)
{
    static const uint16_t bits[] = {8, 16, 32, 64};
    static const char *const modes[] = {"wb", "wl", "w8"};
    unsigned round = 0;
    for (unsigned bi = 0; bi < 4; bi++) {
        for (unsigned fmt = SAMPLEFORMAT_UINT; fmt <= SAMPLEFORMAT_INT; fmt++) {
            for (unsigned ci = 0; ci < sizeof codecs / sizeof codecs[0]; ci++) {
                for (unsigned layout = 0; layout < 2; layout++, round++) {
                    struct tiff_spec s = {.mode = modes[round % 3],
                                          .width = 37 + (uint32_t)(round % 5),
                                          .height = 53,
                                          .bits = bits[bi],
                                          .format = (uint16_t)fmt,
                                          .spp = 1,
                                          .compression = codecs[ci],
                                          .rows_per_strip = 1 + round % 9};
                    if (layout == 1) {
                        s.tile_width = 16;
                        s.tile_height = 32;
                    }
                    bool lossless_pred = codecs[ci] == COMPRESSION_LZW ||
                                         codecs[ci] == COMPRESSION_ADOBE_DEFLATE ||
                                         codecs[ci] == COMPRESSION_ZSTD;
                    if (lossless_pred && round % 2 == 0)
                        s.predictor = PREDICTOR_HORIZONTAL;
                    check_roundtrip(&s, 1 + round % 4);
                }
            }
        }
    }
    /* One big-endian and one little-endian strip image each way, single strip and one row. */
    struct tiff_spec one = {.mode = "wb",
                            .width = 1,
                            .height = 1,
                            .bits = 16,
                            .format = 1,
                            .spp = 1,
                            .compression = COMPRESSION_NONE,
                            .rows_per_strip = 1};
    check_roundtrip(&one, 2);
    struct tiff_spec row = {.mode = "wl",
                            .width = 1000,
                            .height = 1,
                            .bits = 32,
                            .format = 1,
                            .spp = 1,
                            .compression = COMPRESSION_ADOBE_DEFLATE,
                            .rows_per_strip = 1};
    check_roundtrip(&row, 2);
    struct tiff_spec col = {.mode = "wb",
                            .width = 1,
                            .height = 999,
                            .bits = 64,
                            .format = 2,
                            .spp = 1,
                            .compression = COMPRESSION_LZW,
                            .rows_per_strip = 1000};
    check_roundtrip(&col, 3);
}

/* ------------------------------------------------------------------------------------------
 * Streaming overlap equals counting the decoded arrays
 */

static bool same_result(const struct overlap_result *x, const struct overlap_result *y)
{
    if (x->n_pairs != y->n_pairs || x->labels_a != y->labels_a || x->labels_b != y->labels_b ||
        x->pixels != y->pixels)
        return false;
    for (size_t i = 0; i < x->n_pairs; i++)
        if (x->a[i] != y->a[i] || x->b[i] != y->b[i] || x->count[i] != y->count[i])
            return false;
    return true;
}

static enum overlap_dtype spec_dtype(const struct tiff_spec *s)
{
    static const enum overlap_dtype u[] = {OVERLAP_U8, OVERLAP_U16, OVERLAP_U32, OVERLAP_U64};
    static const enum overlap_dtype i[] = {OVERLAP_I8, OVERLAP_I16, OVERLAP_I32, OVERLAP_I64};
    unsigned k = s->bits == 8 ? 0 : s->bits == 16 ? 1 : s->bits == 32 ? 2 : 3;
    return s->format == SAMPLEFORMAT_INT ? i[k] : u[k];
}

static void check_stream(const struct tiff_spec *sa, const struct tiff_spec *sb)
{
    char pa[600], pb[600];
    check_path_join(pa, sizeof pa, tmpdir, "sa.tif");
    check_path_join(pb, sizeof pb, tmpdir, "sb.tif");
    void *la = make_labels(sa, 1, 40), *lb = make_labels(sb, 1, 40);
    CHECK(write_tiff(pa, sa, la, 1) && write_tiff(pb, sb, lb, 1));
    struct error_info err;
    error_init(&err);
    struct load_info ia, ib;
    struct load_options opt;
    load_options_init(&opt);
    struct overlap_options oopt = {.include_background = true};

    /* Reference: in-memory count of the labels written. */
    struct overlap_counter *c = overlap_counter_new(0, &err);
    CHECK_CODE(overlap_counter_add(c, la, spec_dtype(sa), lb, spec_dtype(sb),
                                   (size_t)sa->width * sa->height, &err),
               ERROR_OK);
    struct overlap_result want;
    CHECK_CODE(overlap_counter_finish(c, &oopt, &want, &err), ERROR_OK);
    overlap_counter_free(c);

    int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
    for (unsigned threads = 1; threads <= 4; threads++) {
        opt.threads = threads;
        struct load_source a = {.fd = fa, .name = "sa.tif"}, b = {.fd = fb, .name = "sb.tif"};
        c = overlap_counter_new(0, &err);
        CHECK_CODE(load_overlap(&a, &b, &opt, c, &ia, &ib, &err), ERROR_OK);
        struct overlap_result got;
        CHECK_CODE(overlap_counter_finish(c, &oopt, &got, &err), ERROR_OK);
        if (!CHECK(same_result(&got, &want)))
            fprintf(stderr, "    stream threads %u: %zu vs %zu pairs\n", threads, got.n_pairs,
                    want.n_pairs);
        overlap_result_cleanup(&got);
        overlap_counter_free(c);
    }
    close(fa);
    close(fb);
    overlap_result_cleanup(&want);
    free(la);
    free(lb);
}

static void test_streaming(void)
{
    struct tiff_spec s = {.mode = "wl",
                          .width = 301,
                          .height = 1200,
                          .bits = 32,
                          .format = 1,
                          .spp = 1,
                          .compression = COMPRESSION_ADOBE_DEFLATE,
                          .rows_per_strip = 7};
    struct tiff_spec t = s;
    check_stream(&s, &t); /* same layout */
    t.tile_width = 64;
    t.tile_height = 48;
    t.mode = "wb";
    t.bits = 16;
    t.format = 2;
    t.compression = COMPRESSION_LZW;
    check_stream(&s, &t); /* strips of 7 rows against tiles of 48 rows, other dtype */
    check_stream(&t, &s);
    s.rows_per_strip = 1200; /* one strip against tiles */
    s.compression = COMPRESSION_ZSTD;
    check_stream(&s, &t);
    s.height = t.height = 2500; /* units of several bands; 1-row strips */
    s.rows_per_strip = 1;
    s.bits = 8;
    check_stream(&s, &t);
}

/* ------------------------------------------------------------------------------------------
 * Pages and refusals
 */

static enum error_code probe_file(const char *path, unsigned page, const struct load_options *opt,
                                  struct load_info *info, struct error_info *err)
{
    int fd = open(path, O_RDONLY);
    struct load_source src = {.fd = fd, .name = "x.tif", .page = page};
    enum error_code rc = load_probe(&src, opt, info, err);
    close(fd);
    return rc;
}

/* Decode the first page of path by counting it against itself. */
static enum error_code page_file(const char *path, const struct load_options *opt,
                                 struct error_info *err)
{
    int fd = open(path, O_RDONLY);
    struct load_source src = {.fd = fd, .name = "x.tif"};
    struct overlap_counter *c = overlap_counter_new(0, err);
    enum error_code rc = load_overlap(&src, &src, opt, c, NULL, NULL, err);
    overlap_counter_free(c);
    close(fd);
    return rc;
}

static void test_pages(void)
{
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "pages.tif");
    struct tiff_spec s = {.mode = "w",
                          .width = 20,
                          .height = 10,
                          .bits = 16,
                          .format = 1,
                          .spp = 1,
                          .compression = COMPRESSION_LZW,
                          .rows_per_strip = 4};
    uint16_t *px = make_labels(&s, 3, 1000);
    CHECK(write_tiff(path, &s, px, 3));
    struct load_options opt;
    load_options_init(&opt);
    struct error_info err;
    error_init(&err);
    int fd = open(path, O_RDONLY);
    for (unsigned p = 0; p < 3; p++) {
        struct load_source src = {.fd = fd, .name = "pages.tif", .page = p};
        uint64_t *got = NULL;
        struct load_info info;
        opt.threads = 1 + p;
        CHECK_CODE(decode_page(&src, &opt, 20, 10, &got, &info, &err), ERROR_OK);
        CHECK(same_labels(&s, px + p * 200, got, 200));
        free(got);
    }
    close(fd);
    struct load_info info;
    CHECK_CODE(probe_file(path, 3, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "page 3 does not exist (the file has 3 pages)") != NULL);
    opt.max_ifds = 2;
    CHECK_CODE(probe_file(path, 2, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "max_ifds") != NULL);
    CHECK_CODE(probe_file(path, 1, &opt, &info, &err), ERROR_OK);
    free(px);
}

static void check_refused(const struct tiff_spec *s, enum error_code want, const char *needle)
{
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "bad.tif");
    void *px = make_labels(s, 1, 100);
    CHECK(write_tiff(path, s, px, 1));
    free(px);
    struct load_options opt;
    load_options_init(&opt);
    struct error_info err;
    error_init(&err);
    struct load_info info;
    CHECK_CODE(probe_file(path, 0, &opt, &info, &err), want);
    if (!CHECK(strstr(err.detail, needle) != NULL))
        fprintf(stderr, "    detail \"%s\" lacks \"%s\"\n", err.detail, needle);
}

static void test_refused_kinds(void)
{
    struct tiff_spec s = {.mode = "w",
                          .width = 16,
                          .height = 16,
                          .bits = 32,
                          .format = 3,
                          .spp = 1,
                          .compression = COMPRESSION_NONE,
                          .rows_per_strip = 16};
    check_refused(&s, ERROR_UNPROCESSABLE, "floating-point");
    s.format = 1;
    s.bits = 8;
    s.spp = 3;
    check_refused(&s, ERROR_UNPROCESSABLE, "3 samples per pixel");
    s.spp = 1;
    s.compression = COMPRESSION_JPEG;
    check_refused(&s, ERROR_UNPROCESSABLE, "JPEG");
    s.compression = COMPRESSION_NONE;
    s.format = 6; /* complex integer: not a label type */
    s.bits = 32;
    check_refused(&s, ERROR_UNPROCESSABLE, "sample format 6");

    /* 1-bit and 4-bit images are written by hand (make_labels needs whole bytes). */
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "bits.tif");
    TIFF *tif = TIFFOpen(path, "w");
    unsigned char row[2] = {0xF0, 0x0F};
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 16u);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 1u);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 1u);
    CHECK(TIFFWriteEncodedStrip(tif, 0, row, 2) == 2);
    TIFFClose(tif);
    struct load_options opt;
    load_options_init(&opt);
    struct error_info err;
    error_init(&err);
    struct load_info info;
    CHECK_CODE(probe_file(path, 0, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "1 bits per sample") != NULL);

    /* Limits: pixels and per-band memory. */
    s.format = 1;
    s.width = 100;
    s.height = 50;
    s.rows_per_strip = 50;
    s.compression = COMPRESSION_ADOBE_DEFLATE; /* libtiff would chop an uncompressed strip */
    check_path_join(path, sizeof path, tmpdir, "limits.tif");
    void *px = make_labels(&s, 1, 5);
    CHECK(write_tiff(path, &s, px, 1));
    free(px);
    opt.max_pixels = 4999;
    CHECK_CODE(probe_file(path, 0, &opt, &info, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "50 x 100") != NULL && strstr(err.detail, "max_pixels") != NULL);
    opt.max_pixels = 5000;
    CHECK_CODE(probe_file(path, 0, &opt, &info, &err), ERROR_OK);
    opt.max_alloc = 10000;
    CHECK_CODE(probe_file(path, 0, &opt, &info, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "20000 bytes per strip") != NULL);
    /* A deadline already past. */
    load_options_init(&opt);
    opt.deadline = 1;
    CHECK_CODE(page_file(path, &opt, &err), ERROR_TIMEOUT);
    CHECK(strstr(err.detail, "deadline") != NULL);
}

static void check_corrupt(const char *name, const void *data, size_t size, const char *needle)
{
    char path[600];
    check_path_join(path, sizeof path, tmpdir, name);
    check_write_file(NULL, path, data, size);
    struct load_options opt;
    load_options_init(&opt);
    struct error_info err;
    for (unsigned threads = 1; threads <= 2; threads++) {
        error_init(&err);
        opt.threads = threads;
        CHECK_CODE(page_file(path, &opt, &err), ERROR_UNPROCESSABLE);
        if (needle != NULL && !CHECK(strstr(err.detail, needle) != NULL))
            fprintf(stderr, "    %s: detail \"%s\" lacks \"%s\"\n", name, err.detail, needle);
        /* The same bytes as an upload. */
        struct load_source src = {.fd = -1, .data = data, .size = size, .name = name};
        struct overlap_counter *c = overlap_counter_new(0, &err);
        error_init(&err);
        CHECK_CODE(load_overlap(&src, &src, &opt, c, NULL, NULL, &err), ERROR_UNPROCESSABLE);
        overlap_counter_free(c);
    }
}

static void test_corrupt_files(void)
{
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "good.tif");
    struct tiff_spec s = {.mode = "wl",
                          .width = 64,
                          .height = 64,
                          .bits = 16,
                          .format = 1,
                          .spp = 1,
                          .compression = COMPRESSION_ADOBE_DEFLATE,
                          .rows_per_strip = 8};
    void *px = make_labels(&s, 1, 1000);
    CHECK(write_tiff(path, &s, px, 1));
    free(px);
    size_t size = 0;
    unsigned char *good = check_slurp(NULL, path, &size);

    check_corrupt("empty.tif", good, 0, "not a readable TIFF");
    check_corrupt("header.tif", good, 8, NULL);
    check_corrupt("garbage.tif", "hello, this is not a TIFF file at all", 37,
                  "not a readable TIFF");
    /* libtiff writes the pixel data first and the IFD last: cutting the tail loses the IFD,
     * cutting the middle of the data (by rewriting it) leaves strips that do not inflate. */
    check_corrupt("truncated.tif", good, size / 2, NULL);
    unsigned char *bad = malloc(size);
    memcpy(bad, good, size);
    for (size_t i = 16; i < size / 2; i += 3)
        bad[i] ^= 0x5A;
    check_corrupt("scrambled.tif", bad, size, "cannot be decoded");
    free(bad);

    /* An uncompressed file whose strips point past the end of the file. */
    struct tiff_spec u = s;
    u.compression = COMPRESSION_NONE;
    u.mode = "wb";
    px = make_labels(&u, 1, 1000);
    check_path_join(path, sizeof path, tmpdir, "plain.tif");
    CHECK(write_tiff(path, &u, px, 1));
    free(px);
    free(good);
    good = check_slurp(NULL, path, &size);
    /* Move the IFD offset's target intact but drop pixel bytes: rewrite the first strip
     * offset (big-endian file) to point near the end of the file. */
    bad = malloc(size);
    memcpy(bad, good, size);
    uint32_t ifd = (uint32_t)bad[4] << 24 | (uint32_t)bad[5] << 16 | (uint32_t)bad[6] << 8 | bad[7];
    uint16_t entries = (uint16_t)(bad[ifd] << 8 | bad[ifd + 1]);
    bool patched = false;
    for (uint16_t e = 0; e < entries; e++) {
        unsigned char *ent = bad + ifd + 2 + 12 * e;
        unsigned tag = (unsigned)ent[0] << 8 | ent[1];
        uint32_t count =
            (uint32_t)ent[4] << 24 | (uint32_t)ent[5] << 16 | (uint32_t)ent[6] << 8 | ent[7];
        if (tag == TIFFTAG_STRIPOFFSETS && count > 1) {
            uint32_t at =
                (uint32_t)ent[8] << 24 | (uint32_t)ent[9] << 16 | (uint32_t)ent[10] << 8 | ent[11];
            uint32_t past = (uint32_t)size - 10; /* one strip starts 10 bytes before the end */
            bad[at + 4] = (unsigned char)(past >> 24);
            bad[at + 5] = (unsigned char)(past >> 16);
            bad[at + 6] = (unsigned char)(past >> 8);
            bad[at + 7] = (unsigned char)past;
            patched = true;
        }
    }
    CHECK(patched);
    check_corrupt("short_strip.tif", bad, size, "strip 1 cannot be decoded");
    free(bad);
    free(good);
}

static void test_overlap_refusals(void)
{
    char pa[600], pb[600];
    check_path_join(pa, sizeof pa, tmpdir, "ra.tif");
    check_path_join(pb, sizeof pb, tmpdir, "rb.tif");
    struct tiff_spec s = {.mode = "w",
                          .width = 30,
                          .height = 20,
                          .bits = 16,
                          .format = 2,
                          .spp = 1,
                          .compression = COMPRESSION_LZW,
                          .rows_per_strip = 3};
    struct tiff_spec t = s;
    t.height = 21;
    int16_t *la = make_labels(&t, 1, 100); /* 21 rows; a uses the first 20 */
    la[7 * 30 + 11] = -5;                  /* row 7, column 11 */
    CHECK(write_tiff(pa, &s, la, 1));
    CHECK(write_tiff(pb, &t, la, 1));
    struct load_options opt;
    load_options_init(&opt);
    struct error_info err;
    error_init(&err);
    int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
    struct load_source a = {.fd = fa, .name = "ra.tif"}, b = {.fd = fb, .name = "rb.tif"};
    struct load_info ia, ib;
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        opt.threads = threads;
        struct overlap_counter *c = overlap_counter_new(0, &err);
        CHECK_CODE(load_overlap(&a, &b, &opt, c, &ia, &ib, &err), ERROR_UNPROCESSABLE);
        CHECK(strstr(err.detail, "ra.tif is 20 x 30, rb.tif is 21 x 30") != NULL);
        CHECK(ia.height == 20 && ib.height == 21);
        overlap_counter_free(c);

        c = overlap_counter_new(0, &err);
        CHECK_CODE(load_overlap(&a, &a, &opt, c, &ia, &ib, &err), ERROR_UNPROCESSABLE);
        CHECK(strstr(err.detail, "negative label -5 at pixel 221") != NULL);
        overlap_counter_free(c);

        c = overlap_counter_new(3, &err);
        la[7 * 30 + 11] = 5;
        CHECK(write_tiff(pa, &s, la, 1));
        /* The cap may bite while counting or when the front cache is flushed at finish. */
        struct overlap_options oopt = {.include_background = true};
        struct overlap_result res;
        enum error_code rc = load_overlap(&a, &a, &opt, c, &ia, &ib, &err);
        if (rc == ERROR_OK)
            rc = overlap_counter_finish(c, &oopt, &res, &err);
        CHECK_INT(rc, ERROR_TOO_LARGE);
        CHECK(strstr(err.detail, "max_pairs") != NULL);
        overlap_counter_free(c);
        la[7 * 30 + 11] = -5;
        CHECK(write_tiff(pa, &s, la, 1));

        c = overlap_counter_new(0, &err);
        b.page = 1;
        CHECK_CODE(load_overlap(&a, &b, &opt, c, &ia, &ib, &err), ERROR_UNPROCESSABLE);
        CHECK(strstr(err.detail, "rb.tif: page 1 does not exist") != NULL);
        b.page = 0;
        overlap_counter_free(c);
    }
    close(fa);
    close(fb);
    free(la);
}

/* A row of tiles over max_alloc is decoded in pieces of whole tiles: every pixel still lands
 * where it belongs (against an index image of one-row strips), on one thread and two; a
 * buffer that cannot hold two tiles is still refused. */
static void test_tile_pieces(void)
{
    struct tiff_spec s = {.mode = "wl",
                          .width = 300,
                          .height = 70,
                          .bits = 16,
                          .format = SAMPLEFORMAT_UINT,
                          .spp = 1,
                          .compression = COMPRESSION_ADOBE_DEFLATE,
                          .tile_width = 16,
                          .tile_height = 32};
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "pieces.tif");
    void *want = make_labels(&s, 1, 300);
    CHECK(write_tiff(path, &s, want, 1));
    index_rows_per_strip = 1;
    struct load_options opt;
    load_options_init(&opt);
    opt.max_alloc = 4096; /* a tile is 1024 bytes, a row of 19 tiles 19456 */
    struct error_info err;
    error_init(&err);
    for (unsigned threads = 1; threads <= 2; threads++) {
        opt.threads = threads;
        int fd = open(path, O_RDONLY);
        struct load_source src = {.fd = fd, .name = "pieces.tif"};
        uint64_t *got = NULL;
        struct load_info info;
        CHECK_CODE(decode_page(&src, &opt, s.width, s.height, &got, &info, &err), ERROR_OK);
        CHECK_INT(info.piece_cols, 48); /* 19 tiles in 7 pieces of 3 */
        CHECK(got != NULL && same_labels(&s, want, got, (size_t)s.width * s.height));
        free(got);
        close(fd);
    }
    opt.max_alloc = 2047; /* not even one tile and the tile buffer */
    int fd = open(path, O_RDONLY);
    struct load_source src = {.fd = fd, .name = "pieces.tif"};
    struct load_info info;
    CHECK_CODE(load_probe(&src, &opt, &info, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "row of tiles") != NULL);
    close(fd);
    index_rows_per_strip = 0;
    free(want);
}

int main(void)
{
    check_tmpdir(tmpdir, sizeof tmpdir);
    test_tile_pieces();
    test_roundtrips();
    test_streaming();
    test_pages();
    test_refused_kinds();
    test_corrupt_files();
    test_overlap_refusals();
    check_rmtree(tmpdir);
    return check_finish("load");
}
