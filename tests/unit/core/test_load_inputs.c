/*
 * test_load_inputs.c - core/load's input kinds beyond one TIFF page: .npy arrays in memory
 * (every integer dtype, both byte orders, C and Fortran order, 2-D, 3-D and 5-D with leading
 * ones) and TIFF stacks as volumes, counted against each other and against TIFF pages on 1-4
 * threads and compared with counting the arrays written (stacks with the same and with
 * changing strip/tile layouts); and the refusals (1-D, shapes that differ, leading
 * dimensions other than 1, malformed headers, pages that disagree, limits)
 * with details that name the problem.
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
#include <tiffio.h>
#include <unistd.h>

static char tmpdir[512];
static uint64_t rng_state = 17;

/* An array of labels, C order, with its shape. */
struct labels {
    unsigned ndim;
    uint64_t shape[5];
    size_t n;
    uint64_t *v;
};

static struct labels labels_random(unsigned ndim, const uint64_t *shape, uint64_t maxv)
{
    struct labels l = {.ndim = ndim, .n = 1};
    for (unsigned i = 0; i < ndim; i++) {
        l.shape[i] = shape[i];
        l.n *= shape[i];
    }
    l.v = malloc(l.n * sizeof *l.v);
    for (size_t i = 0; i < l.n; i++) /* runs of equal labels, as segmentations have */
        l.v[i] = i % 7 == 0 || i == 0 ? check_rng_below64(&rng_state, maxv + 1) : l.v[i - 1];
    return l;
}

static void put(unsigned char *p, uint64_t v, unsigned width, bool big)
{
    for (unsigned k = 0; k < width; k++)
        p[big ? width - 1 - k : k] = (unsigned char)(v >> (8 * k));
}

/* np.save bytes of l with dtype descr ("<u2"), C or Fortran order, format version major. */
static unsigned char *npy_bytes(const struct labels *l, const char *descr, bool fortran,
                                unsigned major, size_t *len)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (", descr,
                     fortran ? "True" : "False");
    for (unsigned i = 0; i < l->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%llu,%s", (unsigned long long)l->shape[i],
                      i + 1 < l->ndim ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    const size_t prefix = major == 1 ? 10 : 12;
    size_t hlen = (size_t)n + 1;
    hlen += (64 - (prefix + hlen) % 64) % 64;
    const unsigned width = (unsigned)(descr[2] - '0');
    const bool big = descr[0] == '>';
    *len = prefix + hlen + l->n * width;
    unsigned char *out = calloc(1, *len);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    if (major == 1)
        put(out + 8, hlen, 2, false);
    else
        put(out + 8, hlen, 4, false);
    memset(out + prefix, ' ', hlen);
    memcpy(out + prefix, dict, (size_t)n);
    out[prefix + hlen - 1] = '\n';
    unsigned char *data = out + prefix + hlen;
    for (size_t i = 0; i < l->n; i++) {
        size_t at = i;
        if (fortran) { /* element i (C order) goes where column-major order puts it */
            size_t rest = i, stride = 1;
            at = 0;
            size_t idx[5];
            for (unsigned d = l->ndim; d-- > 0;) {
                idx[d] = rest % l->shape[d];
                rest /= l->shape[d];
            }
            for (unsigned d = 0; d < l->ndim; d++) {
                at += idx[d] * stride;
                stride *= l->shape[d];
            }
        }
        put(data + at * width, l->v[i], width, big);
    }
    return out;
}

static bool same_result(const struct overlap_result *x, const struct overlap_result *y)
{
    if (x->n_pairs != y->n_pairs || x->pixels != y->pixels)
        return false;
    for (size_t i = 0; i < x->n_pairs; i++)
        if (x->a[i] != y->a[i] || x->b[i] != y->b[i] || x->count[i] != y->count[i])
            return false;
    return true;
}

/* The counts of a against b, counted directly. */
static void reference(const struct labels *a, const struct labels *b, struct overlap_result *out)
{
    struct error_info err;
    error_init(&err);
    struct overlap_options oopt = {.include_background = true};
    struct overlap_counter *c = overlap_counter_new(0, &err);
    CHECK_CODE(overlap_counter_add(c, a->v, OVERLAP_U64, b->v, OVERLAP_U64, a->n, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_finish(c, &oopt, out, &err), ERROR_OK);
    overlap_counter_free(c);
}

/* load_overlap(sa, sb) on 1-4 threads equals want. */
static void check_counts(const char *what, const struct load_source *sa,
                         const struct load_source *sb, const struct overlap_result *want,
                         uint32_t depth)
{
    struct error_info err;
    error_init(&err);
    struct overlap_options oopt = {.include_background = true};
    for (unsigned threads = 1; threads <= 4; threads++) {
        struct load_options opt;
        load_options_init(&opt);
        opt.threads = threads;
        struct overlap_counter *c = overlap_counter_new(0, &err);
        struct load_info ia, ib;
        struct overlap_result got = {0};
        enum error_code rc = load_overlap(sa, sb, &opt, c, &ia, &ib, &err);
        if (!CHECK_INT(rc, ERROR_OK)) {
            fprintf(stderr, "    %s, %u threads: %s\n", what, threads, err.detail);
            overlap_counter_free(c);
            continue;
        }
        CHECK_CODE(overlap_counter_finish(c, &oopt, &got, &err), ERROR_OK);
        if (!CHECK(same_result(&got, want)))
            fprintf(stderr, "    %s, %u threads: %zu pairs, want %zu\n", what, threads, got.n_pairs,
                    want->n_pairs);
        CHECK_INT(ia.depth, depth);
        CHECK_INT(ib.depth, depth);
        overlap_result_cleanup(&got);
        overlap_counter_free(c);
    }
}

/* ------------------------------------------------------------------------------------------
 * .npy
 */

static void test_npy_variants(void)
{
    static const char *const descrs[] = {"|u1", "|i1", "<u2", ">u2", "<i2", ">i4",
                                         "<u4", ">u8", "<i8", ">i8", "<u8", "<i4"};
    const uint64_t shape2[] = {37, 53}, shape3[] = {5, 19, 23}, shape5[] = {1, 1, 4, 9, 300};
    struct {
        unsigned ndim;
        const uint64_t *shape;
        uint32_t depth;
    } shapes[] = {{2, shape2, 1}, {3, shape3, 5}, {5, shape5, 4}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct labels a = labels_random(shapes[s].ndim, shapes[s].shape, 100);
        struct labels b = labels_random(shapes[s].ndim, shapes[s].shape, 100);
        struct overlap_result want;
        reference(&a, &b, &want);
        for (size_t d = 0; d < sizeof descrs / sizeof descrs[0]; d++) {
            size_t la, lb;
            const bool fa = d % 2 == 0, fb = d % 3 == 0;
            unsigned char *ba = npy_bytes(&a, descrs[d], fa, 1 + (unsigned)(d % 3), &la);
            unsigned char *bb =
                npy_bytes(&b, descrs[(d + 5) % (sizeof descrs / sizeof descrs[0])], fb, 1, &lb);
            struct load_source
                sa = {.kind = LOAD_NPY, .fd = -1, .data = ba, .size = la, .name = "a"},
                sb = {.kind = LOAD_NPY, .fd = -1, .data = bb, .size = lb, .name = "b"};
            char what[96];
            snprintf(what, sizeof what, "npy %uD %s%s", shapes[s].ndim, descrs[d], fa ? " F" : "");
            check_counts(what, &sa, &sb, &want, shapes[s].depth);
            free(ba);
            free(bb);
        }
        overlap_result_cleanup(&want);
        free(a.v);
        free(b.v);
    }
}

/* A 2-D .npy upload against a TIFF page of the same labels gives the diagonal. */
static void test_npy_against_tiff(void)
{
    const uint64_t shape[] = {64, 48};
    struct labels a = labels_random(2, shape, 60000);
    char path[600];
    check_path_join(path, sizeof path, tmpdir, "page.tif");
    TIFF *tif = TIFFOpen(path, "w");
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 48u);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 64u);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 5u);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    uint16_t row[48];
    for (uint32_t y = 0; y < 64; y++) {
        for (uint32_t x = 0; x < 48; x++)
            row[x] = (uint16_t)a.v[y * 48 + x];
        TIFFWriteScanline(tif, row, y, 0);
    }
    TIFFClose(tif);
    struct overlap_result want;
    reference(&a, &a, &want);
    size_t len;
    unsigned char *bytes = npy_bytes(&a, ">u2", true, 2, &len);
    int fd = open(path, O_RDONLY);
    struct load_source sn = {.kind = LOAD_NPY, .fd = -1, .data = bytes, .size = len, .name = "a"};
    struct load_source st = {.fd = fd, .name = "page.tif"};
    check_counts("npy vs tiff", &sn, &st, &want, 1);
    check_counts("tiff vs npy", &st, &sn, &want, 1);
    close(fd);
    free(bytes);
    overlap_result_cleanup(&want);
    free(a.v);
}

/* load_overlap of two in-memory .npy files: the code, and the detail holds needle. */
static void expect_npy_refusal(const char *what, const void *a, size_t la, const void *b, size_t lb,
                               enum error_code want, const char *needle)
{
    struct error_info err;
    error_init(&err);
    struct load_options opt;
    load_options_init(&opt);
    opt.max_pixels = 1u << 20;
    opt.max_alloc = 1u << 22;
    struct overlap_counter *c = overlap_counter_new(0, &err);
    struct load_source sa = {.kind = LOAD_NPY, .fd = -1, .data = a, .size = la, .name = "a"},
                       sb = {.kind = LOAD_NPY, .fd = -1, .data = b, .size = lb, .name = "b"};
    enum error_code rc = load_overlap(&sa, &sb, &opt, c, NULL, NULL, &err);
    if (!CHECK_INT(rc, want) || !CHECK(strstr(err.detail, needle) != NULL))
        fprintf(stderr, "    %s: detail \"%s\", want \"%s\"\n", what, err.detail, needle);
    overlap_counter_free(c);
}

static void test_npy_refusals(void)
{
    const uint64_t s1[] = {40}, s2[] = {4, 10}, s3[] = {2, 4, 5}, s5[] = {2, 1, 2, 4, 5};
    struct labels l1 = labels_random(1, s1, 9), l2 = labels_random(2, s2, 9),
                  l3 = labels_random(3, s3, 9), l5 = labels_random(5, s5, 9),
                  lz = {.ndim = 2, .shape = {0, 5}, .n = 0, .v = NULL},
                  lw = {.ndim = 2, .shape = {1, 2000000}, .n = 0, .v = NULL};
    size_t n1, n2, n3, n5, nz, nw;
    unsigned char *b1 = npy_bytes(&l1, "<u2", false, 1, &n1),
                  *b2 = npy_bytes(&l2, "<u2", false, 1, &n2),
                  *b3 = npy_bytes(&l3, "<u2", false, 1, &n3),
                  *b5 = npy_bytes(&l5, "<u2", false, 1, &n5),
                  *bz = npy_bytes(&lz, "<u2", false, 1, &nz);
    lw.n = 0; /* a header only: the size check names the missing bytes */
    unsigned char *bw = npy_bytes(&lw, "|u1", false, 1, &nw);
    expect_npy_refusal("1-D", b1, n1, b2, n2, ERROR_UNPROCESSABLE, "a: the array has shape (40,)");
    expect_npy_refusal("2-D vs 3-D", b2, n2, b3, n3, ERROR_UNPROCESSABLE,
                       "a is 1 x 4 x 10, b is 2 x 4 x 5 (depth x height x width)");
    expect_npy_refusal("leading 2", b5, n5, b5, n5, ERROR_UNPROCESSABLE,
                       "every leading dimension must be 1");
    expect_npy_refusal("no pixels", bz, nz, bz, nz, ERROR_UNPROCESSABLE, "no pixels");
    expect_npy_refusal("short data", bw, nw, bw, nw, ERROR_UNPROCESSABLE, "a: ");
    /* too many pixels for max_pixels (the data is not read: the size check comes first) */
    struct labels big = {.ndim = 2, .shape = {1100, 1000}, .n = 1100 * 1000};
    big.v = calloc(big.n, sizeof *big.v);
    size_t nb;
    unsigned char *bb = npy_bytes(&big, "|u1", false, 1, &nb);
    expect_npy_refusal("max_pixels", bb, nb, bb, nb, ERROR_TOO_LARGE,
                       "a is 1100 x 1000 = 1100000 pixels, over the limit of 1048576");
    /* a malformed header and an object dtype */
    unsigned char *bad = malloc(n2);
    memcpy(bad, b2, n2);
    memcpy(bad + 10, "{'descr': 'O8'", 14);
    expect_npy_refusal("object dtype", b2, n2, bad, n2, ERROR_UNPROCESSABLE, "b: ");
    memcpy(bad, "\x93NUMPX", 6);
    expect_npy_refusal("magic", bad, n2, b2, n2, ERROR_UNPROCESSABLE, "a: ");
    expect_npy_refusal("truncated", b2, 9, b2, n2, ERROR_UNPROCESSABLE, "a: ");
    free(bad);
    free(bb);
    free(big.v);
    free(b1);
    free(b2);
    free(b3);
    free(b5);
    free(bz);
    free(bw);
    free(l1.v);
    free(l2.v);
    free(l3.v);
    free(l5.v);
}

/* ------------------------------------------------------------------------------------------
 * TIFF stacks
 */

/* Pages of uint16 slices of l (depth x height x width); page z has height - cut[z] rows,
 * strips of rps[z] rows (tiles of 16 x 16 when rps[z] is 0). */
static void write_stack(const char *path, const struct labels *l, const unsigned *cut,
                        const unsigned *rps)
{
    const uint32_t d = (uint32_t)l->shape[0], h = (uint32_t)l->shape[1], w = (uint32_t)l->shape[2];
    TIFF *tif = TIFFOpen(path, "w");
    uint16_t *buf = calloc((size_t)256 + (size_t)h * w, sizeof *buf);
    for (uint32_t z = 0; z < d; z++) {
        const uint32_t ph = h - (cut ? cut[z] : 0);
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, ph);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
        for (size_t i = 0; i < (size_t)ph * w; i++)
            buf[i] = (uint16_t)l->v[(size_t)z * h * w + i];
        if (rps[z] != 0) {
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps[z]);
            for (uint32_t y = 0; y < ph; y++)
                TIFFWriteScanline(tif, buf + (size_t)y * w, y, 0);
        } else {
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, 16u);
            TIFFSetField(tif, TIFFTAG_TILELENGTH, 16u);
            uint16_t tile[256];
            for (uint32_t ty = 0; ty < ph; ty += 16)
                for (uint32_t tx = 0; tx < w; tx += 16) {
                    for (uint32_t y = 0; y < 16; y++)
                        for (uint32_t x = 0; x < 16; x++)
                            tile[y * 16 + x] =
                                ty + y < ph && tx + x < w ? buf[(size_t)(ty + y) * w + tx + x] : 0;
                    TIFFWriteTile(tif, tile, tx, ty, 0, 0);
                }
        }
        TIFFWriteDirectory(tif);
    }
    TIFFClose(tif);
    free(buf);
}

static void test_tiff_stacks(void)
{
    const uint64_t shape[] = {6, 33, 41};
    struct labels a = labels_random(3, shape, 300), b = labels_random(3, shape, 300);
    char pa[600], pb[600];
    check_path_join(pa, sizeof pa, tmpdir, "sa.tif");
    check_path_join(pb, sizeof pb, tmpdir, "sb.tif");
    const unsigned same[] = {4, 4, 4, 4, 4, 4}, mixed[] = {3, 0, 33, 7, 0, 1};
    write_stack(pa, &a, NULL, same);
    write_stack(pb, &b, NULL, mixed);
    struct overlap_result want;
    reference(&a, &b, &want);
    int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
    struct load_source sa = {.fd = fa, .name = "sa.tif", .volume = true},
                       sb = {.fd = fb, .name = "sb.tif", .volume = true};
    check_counts("stack vs stack", &sa, &sb, &want, 6);
    size_t len;
    unsigned char *nb = npy_bytes(&b, ">u2", true, 1, &len);
    struct load_source sn = {.kind = LOAD_NPY, .fd = -1, .data = nb, .size = len, .name = "b"};
    check_counts("stack vs npy", &sa, &sn, &want, 6);
    overlap_result_cleanup(&want);

    struct error_info err;
    error_init(&err);
    struct load_options opt;
    load_options_init(&opt);
    struct load_info info;
    CHECK_CODE(load_probe(&sb, &opt, &info, &err), ERROR_OK);
    CHECK_INT(info.depth, 6);
    CHECK_INT(info.band_rows, 33); /* layouts differ: a band is a page */
    CHECK_CODE(load_probe(&sa, &opt, &info, &err), ERROR_OK);
    CHECK_INT(info.band_rows, 4);
    opt.max_ifds = 5;
    CHECK_CODE(load_probe(&sa, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "more than the 5 pages") != NULL);
    load_options_init(&opt);
    opt.max_pixels = 6 * 33 * 41 - 1;
    CHECK_CODE(load_probe(&sa, &opt, &info, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "sa.tif is 6 x 33 x 41 = 8118 voxels") != NULL);
    load_options_init(&opt);
    /* a page of another height */
    const unsigned cut[] = {0, 0, 0, 2, 0, 0};
    write_stack(pb, &b, cut, same);
    close(fb);
    fb = open(pb, O_RDONLY);
    sb.fd = fb;
    CHECK_CODE(load_probe(&sb, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "sb.tif: page 3 is 31 x 41 uint16, unlike page 0 (33 x 41 uint16)") !=
          NULL);
    /* a volume against one page of it: both shapes named */
    struct overlap_counter *c = overlap_counter_new(0, &err);
    struct load_source page = {.fd = fa, .name = "sa.tif", .page = 2};
    CHECK_CODE(load_overlap(&sa, &page, &opt, c, NULL, NULL, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "sa.tif is 6 x 33 x 41, sa.tif is 1 x 33 x 41") != NULL);
    overlap_counter_free(c);
    close(fa);
    close(fb);
    free(nb);
    free(a.v);
    free(b.v);
}

int main(void)
{
    check_tmpdir(tmpdir, sizeof tmpdir);
    test_npy_variants();
    test_npy_against_tiff();
    test_npy_refusals();
    test_tiff_stacks();
    check_rmtree(tmpdir);
    return check_finish("load_inputs");
}
