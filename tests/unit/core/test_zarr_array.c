/*
 * test_zarr_array.c - core/zarr_array.c and core/load_zarr.c: .zarray and v3 zarr.json
 * texts accepted and refused field by field (with details naming the field), chunk keys for both
 * separators, and stores written here byte by byte (uncompressed and zlib chunks, C and F order, a
 * missing chunk, edge chunks, a multiscale group) counted through load_overlap against the
 * arrays written; a truncated chunk, a chunk of the wrong size, a store whose chunk is a
 * symlink out of the root, a grid of 2^40 chunks, a chunk over max_alloc.
 */
#include "check.h"
#include "check_code.h"
#include "files.h"
#include "load.h"
#include "overlap.h"
#include "zarr_array.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[512];

static const char base[] = "{\"chunks\": [4, 4], \"compressor\": null, \"dtype\": \"<u2\", "
                           "\"fill_value\": 0, \"filters\": null, \"order\": \"C\", "
                           "\"shape\": [6, 10], \"zarr_format\": 2}";

/* base with the text `from` replaced by `to`. */
static void variant(char *out, size_t size, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    CHECK(at != NULL);
    snprintf(out, size, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
}

static void expect_parse(const char *text, enum error_code want, const char *needle)
{
    struct zarr_array_meta m;
    struct error_info err;
    error_init(&err);
    enum error_code rc = zarr_array_parse_v2(text, strlen(text), "x/.zarray", &m, &err);
    if (!CHECK_INT(rc, want) || (needle != NULL && !CHECK(strstr(err.detail, needle) != NULL)))
        fprintf(stderr, "    %s\n    -> %s (want \"%s\")\n", text, err.detail,
                needle ? needle : "");
}

static void test_parse(void)
{
    struct zarr_array_meta m;
    struct error_info err;
    error_init(&err);
    CHECK_CODE(zarr_array_parse_v2(base, strlen(base), "x", &m, &err), ERROR_OK);
    CHECK_INT(m.ndim, 2);
    CHECK_INT(m.shape[1], 10);
    CHECK_INT(m.chunks[0], 4);
    CHECK_INT(m.n_chunks, 6);
    CHECK_INT(m.separator, '.');
    CHECK_INT(m.chain.chunk_bytes, 32);
    uint64_t idx[] = {1, 2};
    char key[32];
    CHECK(zarr_array_chunk_key(&m, idx, key, sizeof key) && strcmp(key, "1.2") == 0);
    CHECK(!zarr_array_chunk_key(&m, idx, key, 3));

    char t[512];
    variant(t, sizeof t, "\"compressor\": null",
            "\"compressor\": {\"id\": \"blosc\", \"cname\": \"lz4\", \"clevel\": 5}, "
            "\"dimension_separator\": \"/\"");
    CHECK_CODE(zarr_array_parse_v2(t, strlen(t), "x", &m, &err), ERROR_OK);
    CHECK_INT(m.separator, '/');
    CHECK(zarr_array_chunk_key(&m, idx, key, sizeof key) && strcmp(key, "1/2") == 0);
    variant(t, sizeof t, "\"fill_value\": 0", "\"fill_value\": 65535");
    CHECK_CODE(zarr_array_parse_v2(t, strlen(t), "x", &m, &err), ERROR_OK);
    CHECK_INT(m.fill_bits, 65535);
    variant(t, sizeof t, "\"filters\": null", "\"filters\": []");
    expect_parse(t, ERROR_OK, NULL);
    variant(t, sizeof t, "\"order\": \"C\"", "\"order\": \"F\"");
    expect_parse(t, ERROR_OK, NULL);

    struct {
        const char *from, *to, *needle;
        enum error_code code;
    } bad[] = {
        {"\"zarr_format\": 2", "\"zarr_format\": 3", "zarr_format must be 2", ERROR_UNPROCESSABLE},
        {"\"zarr_format\": 2", "\"zarr_format\": 2.0", "zarr_format", ERROR_UNPROCESSABLE},
        {"\"zarr_format\": 2", "\"zarr_fmt\": 2", "zarr_format must be 2", ERROR_UNPROCESSABLE},
        {"[4, 4]", "[4, 4.5]", "chunks must be lists", ERROR_UNPROCESSABLE},
        {"[4, 4]", "[4, 0]", "chunk dimension 1 is 0", ERROR_UNPROCESSABLE},
        {"[4, 4]", "[4]", "shape has 2 dimensions, chunks 1", ERROR_UNPROCESSABLE},
        {"[6, 10]", "[]", "shape and chunks", ERROR_UNPROCESSABLE},
        {"[6, 10]", "[1099511627776, 1099511627776]", "more than 4294967296 chunks",
         ERROR_TOO_LARGE},
        {"\"<u2\"", "\"<f4\"", "float", ERROR_UNPROCESSABLE},
        {"\"<u2\"", "\"|O\"", "'|O'", ERROR_UNPROCESSABLE},
        {"\"<u2\"", "[[\"a\", \"<u2\"]]", "dtype must be", ERROR_UNPROCESSABLE},
        {"\"order\": \"C\"", "\"order\": \"K\"", "order must be", ERROR_UNPROCESSABLE},
        {"\"filters\": null", "\"filters\": [{\"id\": \"delta\", \"dtype\": \"<u2\"}]",
         "filters are not supported (the array lists: delta)", ERROR_UNPROCESSABLE},
        {"\"fill_value\": 0", "\"fill_value\": 65536", "x/.zarray", ERROR_UNPROCESSABLE},
        {"\"fill_value\": 0", "\"fill_value\": \"NaN\"", "fill_value", ERROR_UNPROCESSABLE},
        {"\"fill_value\": 0", "\"fill_value\": -1", "x/.zarray", ERROR_UNPROCESSABLE},
        {"\"compressor\": null", "\"compressor\": {\"id\": \"lz4\"}", "lz4", ERROR_UNPROCESSABLE},
        {"\"compressor\": null", "\"compressor\": 7", "compressor must be", ERROR_UNPROCESSABLE},
        {"\"compressor\": null, ", "", "compressor is missing", ERROR_UNPROCESSABLE},
        {"\"order\": \"C\"", "\"order\": \"C\", \"dimension_separator\": \"-\"",
         "dimension_separator", ERROR_UNPROCESSABLE},
        {"}", "", "not one JSON object", ERROR_UNPROCESSABLE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        variant(t, sizeof t, bad[i].from, bad[i].to);
        expect_parse(t, bad[i].code, bad[i].needle);
    }
    /* signed dtypes take negative fill values */
    variant(t, sizeof t, "\"<u2\", \"fill_value\": 0", "\">i8\", \"fill_value\": -5");
    CHECK_CODE(zarr_array_parse_v2(t, strlen(t), "x", &m, &err), ERROR_OK);
    CHECK(m.fill_bits == (uint64_t)-5);
}

static const char base3[] =
    "{\"zarr_format\": 3, \"node_type\": \"array\", \"shape\": [6, 10], "
    "\"data_type\": \"uint16\", \"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
    "{\"chunk_shape\": [4, 4]}}, \"chunk_key_encoding\": {\"name\": \"default\"}, "
    "\"fill_value\": 0, \"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": "
    "[1, 0]}}, {\"name\": \"bytes\", \"configuration\": {\"endian\": \"big\"}}, "
    "{\"name\": \"zstd\", \"configuration\": {\"level\": 0}}]}";

static void test_parse_v3(void)
{
    struct zarr_array_meta m;
    struct error_info err;
    error_init(&err);
    CHECK_CODE(zarr_array_parse_v3(base3, strlen(base3), "x", &m, &err), ERROR_OK);
    CHECK_INT(m.zarr_format, 3);
    CHECK_INT(m.chain.n_codecs, 3);
    CHECK(m.dtype.big_endian && m.key_prefix_c);
    uint64_t idx[] = {1, 2};
    char key[32];
    CHECK(zarr_array_chunk_key(&m, idx, key, sizeof key) && strcmp(key, "c/1/2") == 0);
    struct {
        const char *from, *to, *needle;
    } bad[] = {
        {"\"zarr_format\": 3", "\"zarr_format\": 2", "zarr_format must be 3"},
        {"\"node_type\": \"array\"", "\"node_type\": \"group\"", "node_type"},
        {"\"uint16\"", "\"float32\"", "data_type \"float32\" is not an integer type"},
        {"\"regular\"", "\"rectilinear\"", "chunk_grid"},
        {"[4, 4]}}", "[4, 0]}}", "chunk dimension 1 is 0"},
        {"\"default\"}", "\"v1\"}", "chunk_key_encoding"},
        {"{\"name\": \"zstd\", \"configuration\": {\"level\": 0}}",
         "{\"name\": \"sharding_indexed\", \"configuration\": {}}", "sharding_indexed"},
        {"{\"name\": \"zstd\", \"configuration\": {\"level\": 0}}", "{\"name\": \"crc32c\"}",
         "crc32c"},
        {"[1, 0]", "[1]", "order must list 2 axes"},
        {"[1, 0]", "[1, 1]", "x"},
        {"\"big\"", "\"middle\"", "endian"},
        {"\"fill_value\": 0", "\"fill_value\": \"NaN\"", "fill_value"},
        {"\"fill_value\": 0", "\"fill_value\": 0, \"storage_transformers\": [{}]",
         "storage_transformers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[1024];
        const char *at = strstr(base3, bad[i].from);
        if (!CHECK(at != NULL))
            continue;
        snprintf(t, sizeof t, "%.*s%s%s", (int)(at - base3), base3, bad[i].to,
                 at + strlen(bad[i].from));
        enum error_code rc = zarr_array_parse_v3(t, strlen(t), "x/zarr.json", &m, &err);
        if (!CHECK_INT(rc, ERROR_UNPROCESSABLE) || !CHECK(strstr(err.detail, bad[i].needle)))
            fprintf(stderr, "    %s -> %s\n", t, err.detail);
    }
    /* v2 key encoding with "/" */
    char t[1024];
    const char *at = strstr(base3, "{\"name\": \"default\"}");
    snprintf(t, sizeof t, "%.*s%s%s", (int)(at - base3), base3,
             "{\"name\": \"v2\", \"configuration\": {\"separator\": \"/\"}}",
             at + strlen("{\"name\": \"default\"}"));
    CHECK_CODE(zarr_array_parse_v3(t, strlen(t), "x", &m, &err), ERROR_OK);
    CHECK(zarr_array_chunk_key(&m, idx, key, sizeof key) && strcmp(key, "1/2") == 0);
}

/* ------------------------------------------------------------------------------------------
 * Stores written byte by byte
 */

static int root_fd = -1;

static void put_file(const char *rel, const void *data, size_t len)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    for (char *p = strchr(path + strlen(tmpdir) + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        snprintf(dir, sizeof dir, "%.*s", (int)(p - path), path);
        mkdir(dir, 0755);
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(data, 1, len, f) == len);
    if (f != NULL)
        fclose(f);
}

/* Store name: a (height, width) uint16 array v, chunks (ch, cw), C or F order within
 * chunks, zlib when compress, chunks listed in skip (row-major grid index) left out; the
 * fill value is 9. */
static void write_store(const char *name, const uint16_t *v, unsigned h, unsigned w, unsigned ch,
                        unsigned cw, bool fortran, bool compress, int skip)
{
    char meta[512], rel[256];
    snprintf(meta, sizeof meta,
             "{\"zarr_format\": 2, \"shape\": [%u, %u], \"chunks\": [%u, %u], "
             "\"dtype\": \"<u2\", \"order\": \"%s\", \"fill_value\": 9, \"filters\": null, "
             "\"compressor\": %s}",
             h, w, ch, cw, fortran ? "F" : "C", compress ? "{\"id\": \"zlib\"}" : "null");
    snprintf(rel, sizeof rel, "%s/.zarray", name);
    put_file(rel, meta, strlen(meta));
    unsigned gy = (h + ch - 1) / ch, gx = (w + cw - 1) / cw;
    uint16_t *chunk = calloc((size_t)ch * cw, sizeof *chunk);
    unsigned char *z = malloc(compressBound((uLong)ch * cw * 2));
    for (unsigned cy = 0; cy < gy; cy++)
        for (unsigned cx = 0; cx < gx; cx++) {
            if ((int)(cy * gx + cx) == skip)
                continue;
            for (unsigned y = 0; y < ch; y++)
                for (unsigned x = 0; x < cw; x++) {
                    unsigned yy = cy * ch + y, xx = cx * cw + x;
                    uint16_t val = yy < h && xx < w ? v[yy * w + xx] : 0;
                    chunk[fortran ? x * ch + y : y * cw + x] = val; /* little-endian host */
                }
            snprintf(rel, sizeof rel, "%s/%u.%u", name, cy, cx);
            if (compress) {
                uLongf n = compressBound((uLong)ch * cw * 2);
                CHECK(compress2(z, &n, (const Bytef *)chunk, (uLong)ch * cw * 2, 6) == Z_OK);
                put_file(rel, z, n);
            } else {
                put_file(rel, chunk, (size_t)ch * cw * 2);
            }
        }
    free(chunk);
    free(z);
}

static enum error_code count_stores(const char *a, const char *b, unsigned threads,
                                    size_t max_alloc, struct overlap_result *out,
                                    struct error_info *err)
{
    struct load_options opt;
    load_options_init(&opt);
    opt.threads = threads;
    if (max_alloc != 0)
        opt.max_alloc = max_alloc;
    struct load_source sa = {.kind = LOAD_ZARR,
                             .fd = -1,
                             .root_fd = root_fd,
                             .path = a,
                             .path_len = strlen(a),
                             .name = a},
                       sb = {.kind = LOAD_ZARR,
                             .fd = -1,
                             .root_fd = root_fd,
                             .path = b,
                             .path_len = strlen(b),
                             .name = b};
    struct overlap_counter *c = overlap_counter_new(0, err);
    enum error_code rc = load_overlap(&sa, &sb, &opt, c, NULL, NULL, err);
    struct overlap_options oopt = {.include_background = true};
    if (rc == ERROR_OK)
        rc = overlap_counter_finish(c, &oopt, out, err);
    overlap_counter_free(c);
    return rc;
}

/* The pixels of v (h x w) against the index image 0..n-1: one pair per pixel. */
static bool pixels_are(const struct overlap_result *r, const uint16_t *v, size_t n, int fill_chunk,
                       unsigned h, unsigned w, unsigned ch, unsigned cw)
{
    if (r->n_pairs != n)
        return false;
    unsigned gx = (w + cw - 1) / cw;
    for (size_t i = 0; i < n; i++) {
        size_t px = (size_t)r->b[i];
        if (px >= n || r->count[i] != 1)
            return false;
        unsigned y = (unsigned)(px / w), x = (unsigned)(px % w);
        bool filled = (int)((y / ch) * gx + x / cw) == fill_chunk;
        if (r->a[i] != (filled ? 9u : v[px]))
            return false;
    }
    (void)h;
    return true;
}

static void test_stores(void)
{
    enum { H = 23, W = 37 };
    uint16_t v[H * W], index[H * W];
    for (unsigned i = 0; i < H * W; i++) {
        v[i] = (uint16_t)((i * 2654435761u) >> 20);
        index[i] = (uint16_t)i;
    }
    write_store("index.zarr", index, H, W, 5, 8, false, false, -1);
    struct {
        const char *name;
        unsigned ch, cw;
        bool fortran, compress;
        int skip;
    } stores[] = {
        {"c.zarr", 4, 8, false, false, -1},  {"f.zarr", 7, 5, true, false, 3},
        {"z.zarr", 23, 37, false, true, -1}, {"zf.zarr", 10, 64, true, true, 1},
        {"one.zarr", 1, 1, false, false, 5},
    };
    struct error_info err;
    error_init(&err);
    for (size_t s = 0; s < sizeof stores / sizeof stores[0]; s++) {
        write_store(stores[s].name, v, H, W, stores[s].ch, stores[s].cw, stores[s].fortran,
                    stores[s].compress, stores[s].skip);
        for (unsigned threads = 1; threads <= 3; threads++) {
            struct overlap_result r = {0};
            CHECK_CODE(count_stores(stores[s].name, "index.zarr", threads, 0, &r, &err), ERROR_OK);
            if (!CHECK(pixels_are(&r, v, H * W, stores[s].skip, H, W, stores[s].ch, stores[s].cw)))
                fprintf(stderr, "    store %s, %u threads\n", stores[s].name, threads);
            overlap_result_cleanup(&r);
        }
    }
    /* a multiscale group: level 0 by default */
    const char *zattrs = "{\"multiscales\": [{\"version\": \"0.4\", \"datasets\": "
                         "[{\"path\": \"0\"}, {\"path\": \"1\"}]}]}";
    put_file("group.zarr/.zattrs", zattrs, strlen(zattrs));
    put_file("group.zarr/.zgroup", "{\"zarr_format\": 2}", 18);
    write_store("group.zarr/0", v, H, W, 8, 8, false, true, -1);
    struct overlap_result r = {0};
    CHECK_CODE(count_stores("group.zarr", "index.zarr", 2, 0, &r, &err), ERROR_OK);
    CHECK(pixels_are(&r, v, H * W, -1, H, W, 8, 8));
    overlap_result_cleanup(&r);
    CHECK_CODE(count_stores("group.zarr", "index.zarr", 2, 0, &r, &err), ERROR_OK);
    overlap_result_cleanup(&r);

    /* refusals */
    struct {
        const char *what, *setup_rel;
        const void *bytes;
        size_t len;
        const char *store;
        size_t max_alloc;
        enum error_code code;
        const char *needle;
    } bad[] = {
        {"truncated chunk", "t.zarr/0.0", "\x01\x02\x03", 3, "t.zarr", 0, ERROR_UNPROCESSABLE,
         "t.zarr/0.0"},
        {"chunk too large", "big.zarr/0.1", NULL, 0, "big.zarr", 0, ERROR_UNPROCESSABLE,
         "big.zarr/0.1"},
        {"over max_alloc", NULL, NULL, 0, "c.zarr", 40, ERROR_TOO_LARGE, "max_decode_buffer"},
        {"level 2", NULL, NULL, 0, "group.zarr", 0, ERROR_OK, NULL},
        {"not a store", "plain/x", "x", 1, "plain", 0, ERROR_UNPROCESSABLE, "neither a Zarr array"},
    };
    write_store("t.zarr", v, H, W, 4, 8, false, true, -1);
    write_store("big.zarr", v, H, W, 4, 8, false, false, -1);
    uint16_t wrong[4 * 8 + 1] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].setup_rel != NULL)
            put_file(bad[i].setup_rel, bad[i].bytes != NULL ? bad[i].bytes : (const void *)wrong,
                     bad[i].bytes != NULL ? bad[i].len : sizeof wrong);
        if (bad[i].code == ERROR_OK)
            continue;
        struct overlap_result rr = {0};
        enum error_code rc =
            count_stores("index.zarr", bad[i].store, 2, bad[i].max_alloc, &rr, &err);
        if (!CHECK_INT(rc, bad[i].code) || !CHECK(strstr(err.detail, bad[i].needle) != NULL))
            fprintf(stderr, "    %s: %s\n", bad[i].what, err.detail);
        overlap_result_cleanup(&rr);
    }
    /* a level the group lacks */
    struct load_source g = {.kind = LOAD_ZARR,
                            .fd = -1,
                            .root_fd = root_fd,
                            .path = "group.zarr",
                            .path_len = 10,
                            .level = 2,
                            .name = "g"};
    struct load_options opt;
    load_options_init(&opt);
    struct load_info info;
    CHECK_CODE(load_probe(&g, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "level 2 does not exist (the multiscale group has 2 levels)") != NULL);
    g.level = 1;
    CHECK_CODE(load_probe(&g, &opt, &info, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "group.zarr/1: level 1 of the multiscale group is not a Zarr array") !=
          NULL);
    /* 2^40 chunks: refused from the metadata alone */
    const char *huge = "{\"zarr_format\": 2, \"shape\": [1099511627776, 1048576], \"chunks\": "
                       "[1, 1], \"dtype\": \"|u1\", \"order\": \"C\", \"fill_value\": 0, "
                       "\"filters\": null, \"compressor\": null}";
    put_file("huge.zarr/.zarray", huge, strlen(huge));
    struct load_source hs = {.kind = LOAD_ZARR,
                             .fd = -1,
                             .root_fd = root_fd,
                             .path = "huge.zarr",
                             .path_len = 9,
                             .name = "huge"};
    CHECK_CODE(load_probe(&hs, &opt, &info, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "chunks") != NULL);
    /* a chunk that is a symlink out of the root; one inside it works */
    char outside[600], link[600];
    snprintf(outside, sizeof outside, "%s-outside", tmpdir);
    FILE *f = fopen(outside, "wb");
    if (f != NULL) {
        fwrite(wrong, 1, 64, f);
        fclose(f);
    }
    write_store("ln.zarr", v, H, W, 23, 37, false, false, -1);
    snprintf(link, sizeof link, "%s/ln.zarr/0.0", tmpdir);
    unlink(link);
    CHECK(symlink(outside, link) == 0);
    struct overlap_result rr = {0};
    CHECK_CODE(count_stores("index.zarr", "ln.zarr", 1, 0, &rr, &err), ERROR_FORBIDDEN);
    overlap_result_cleanup(&rr);
    unlink(link);
    write_store("ln2.zarr", v, H, W, 23, 37, false, false, -1);
    char target[600];
    snprintf(target, sizeof target, "%s/ln2.zarr/0.0", tmpdir);
    CHECK(symlink("../ln2.zarr/0.0", link) == 0);
    CHECK_CODE(count_stores("ln.zarr", "index.zarr", 1, 0, &rr, &err), ERROR_OK);
    CHECK(pixels_are(&rr, v, H * W, -1, H, W, 23, 37));
    overlap_result_cleanup(&rr);
    unlink(outside);
}

/* The intensity parse takes float dtypes and their fill values; the label parse does not. */
static void test_parse_intensity(void)
{
    static const struct {
        unsigned format;
        const char *dtype, *fill;
        enum error_code want;
        unsigned width;
        double value; /* the fill value read back (NaN: a NaN) */
    } cases[] = {
        {2, "\"<f4\"", "\"NaN\"", ERROR_OK, 4, NAN},
        {2, "\">f8\"", "-2.5e3", ERROR_OK, 8, -2500.0},
        {2, "\"<f8\"", "null", ERROR_OK, 8, 0.0},
        {2, "\"<f4\"", "\"Infinity\"", ERROR_OK, 4, INFINITY},
        {2, "\"<f8\"", "\"-Infinity\"", ERROR_OK, 8, -INFINITY},
        {2, "\"<f4\"", "0.1", ERROR_OK, 4, (double)0.1f},
        {2, "\"<f4\"", "\"0x3fc00000\"", ERROR_UNPROCESSABLE, 4, 0}, /* hex is v3 only */
        {2, "\"<f4\"", "\"nan\"", ERROR_UNPROCESSABLE, 4, 0},
        {2, "\"<f4\"", "true", ERROR_UNPROCESSABLE, 4, 0},
        {2, "\"<f2\"", "0", ERROR_UNPROCESSABLE, 2, 0},
        {2, "\"<u2\"", "7", ERROR_OK, 2, 7.0},
        {3, "\"float32\"", "\"0x3fc00000\"", ERROR_OK, 4, 1.5},
        {3, "\"float64\"", "\"NaN\"", ERROR_OK, 8, NAN},
        {3, "\"float64\"", "\"0x3fc00000\"", ERROR_UNPROCESSABLE, 8, 0}, /* 8 hex digits */
        {3, "\"float16\"", "0", ERROR_UNPROCESSABLE, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[600];
        if (cases[i].format == 2)
            snprintf(text, sizeof text,
                     "{\"chunks\": [4, 4], \"compressor\": null, \"dtype\": %s, "
                     "\"fill_value\": %s, \"filters\": null, \"order\": \"C\", "
                     "\"shape\": [6, 10], \"zarr_format\": 2}",
                     cases[i].dtype, cases[i].fill);
        else
            snprintf(text, sizeof text,
                     "{\"zarr_format\": 3, \"node_type\": \"array\", \"shape\": [6, 10], "
                     "\"data_type\": %s, \"chunk_grid\": {\"name\": \"regular\", "
                     "\"configuration\": {\"chunk_shape\": [4, 4]}}, \"fill_value\": %s, "
                     "\"codecs\": [{\"name\": \"bytes\", \"configuration\": "
                     "{\"endian\": \"little\"}}]}",
                     cases[i].dtype, cases[i].fill);
        struct zarr_array_meta m;
        struct error_info err;
        error_init(&err);
        enum error_code rc =
            zarr_array_parse_intensity(cases[i].format, text, strlen(text), "x", &m, &err);
        if (!CHECK_INT(rc, cases[i].want)) {
            fprintf(stderr, "    case %zu: %s\n", i, err.detail);
            continue;
        }
        if (rc != ERROR_OK)
            continue;
        CHECK_INT(m.dtype.width, cases[i].width);
        double got;
        if (!m.dtype.floating) {
            got = (double)m.fill_bits;
        } else if (m.dtype.width == 4) {
            float f;
            const uint32_t b = (uint32_t)m.fill_bits;
            memcpy(&f, &b, sizeof f);
            got = f;
        } else {
            memcpy(&got, &m.fill_bits, sizeof got);
        }
        if (!CHECK(isnan(cases[i].value) ? isnan(got) : got == cases[i].value))
            fprintf(stderr, "    case %zu: fill %g, want %g\n", i, got, cases[i].value);
        /* the label parse refuses every float */
        if (m.dtype.floating)
            CHECK_INT(cases[i].format == 2 ? zarr_array_parse_v2(text, strlen(text), "x", &m, &err)
                                           : zarr_array_parse_v3(text, strlen(text), "x", &m, &err),
                      ERROR_UNPROCESSABLE);
    }
}

int main(void)
{
    check_tmpdir(tmpdir, sizeof tmpdir);
    root_fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    test_parse();
    test_parse_v3();
    test_parse_intensity();
    test_stores();
    close(root_fd);
    check_rmtree(tmpdir);
    return check_finish("zarr_array");
}
