/*
 * test_zarr_codec.c - core/zarr_codec.c on chunks encoded here with libblosc, libzstd and
 * zlib: blosc with every cname and shuffle, zstd with and without a content size and as
 * several frames, zlib, gzip (several members, zero padding), none; v2 Fortran order and
 * v3 transposes against a naive reference of the permutation; big-endian elements; stacked
 * compressors. Then the hostile chunks: every truncation, wrong decoded sizes, blosc headers
 * lying about nbytes / cbytes / blocksize / block starts, a zstd frame claiming 2^40 bytes,
 * gzip and zstd bombs, trailing bytes; and the chain rules, codec names, fill values.
 * Chunks written by zarr / numcodecs themselves are checked by diff_codec.py.
 */
#include "check.h"
#include "zarr_codec.h"

#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static uint64_t rng = 77;

/* A heap copy of exactly len bytes, so ASan sees a read past the end. */
static unsigned char *dup_bytes(const void *p, size_t len)
{
    unsigned char *q = malloc(len ? len : 1);
    if (len)
        memcpy(q, p, len);
    return q;
}

/* Label-like data: runs of a few values, so every compressor has something to do. */
static void fill_labels(unsigned char *p, size_t n_elems, unsigned width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n_elems; i++) {
        if (check_rng_below(&rng, 8) == 0)
            v = check_rng_next(&rng) >> check_rng_below(&rng, 64);
        for (unsigned b = 0; b < width; b++)
            p[i * width + b] = (unsigned char)(v >> (8 * b)); /* little-endian */
    }
}

static bool host_big(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* Native-endian copy of little-endian elements. */
static void le_to_native(unsigned char *dst, const unsigned char *src, size_t n, unsigned w)
{
    for (size_t i = 0; i < n; i++)
        for (unsigned b = 0; b < w; b++)
            dst[i * w + b] = src[i * w + (host_big() ? w - 1 - b : b)];
}

static void reverse_elems(unsigned char *p, size_t n, unsigned w)
{
    for (size_t i = 0; i < n; i++)
        for (unsigned b = 0; b < w / 2; b++) {
            unsigned char t = p[i * w + b];
            p[i * w + b] = p[i * w + w - 1 - b];
            p[i * w + w - 1 - b] = t;
        }
}

static enum error_code decode(const struct zarr_codec_chain *chain, const unsigned char *in,
                              size_t in_len, unsigned char *out, struct error_info *err)
{
    unsigned char *copy = dup_bytes(in, in_len);
    error_init(err);
    enum error_code rc =
        zarr_chunk_decode(chain, "c/0.0", copy, in_len, out, chain->chunk_bytes, err);
    free(copy);
    return rc;
}

#define CHECK_DETAIL(err, want)                                                                    \
    do {                                                                                           \
        if (!CHECK(strstr((err).detail, (want)) != NULL))                                          \
            fprintf(stderr, "    detail: %s\n    wanted: %s\n", (err).detail, (want));             \
    } while (0)

/* Decoding in must fail with UNPROCESSABLE, naming the chunk and saying want. */
static void rejects(const struct zarr_codec_chain *chain, const unsigned char *in, size_t in_len,
                    const char *want)
{
    unsigned char *out = malloc(chain->chunk_bytes);
    struct error_info err;
    CHECK_INT(decode(chain, in, in_len, out, &err), ERROR_UNPROCESSABLE);
    CHECK(strncmp(err.detail, "c/0.0: ", 7) == 0);
    if (want != NULL)
        CHECK_DETAIL(err, want);
    free(out);
}

static void decodes_to(const struct zarr_codec_chain *chain, const unsigned char *in, size_t in_len,
                       const unsigned char *want, const char *what)
{
    unsigned char *out = malloc(chain->chunk_bytes);
    struct error_info err;
    if (CHECK_INT(decode(chain, in, in_len, out, &err), ERROR_OK)) {
        if (!CHECK(memcmp(out, want, chain->chunk_bytes) == 0))
            fprintf(stderr, "    %s: decoded values differ\n", what);
    } else {
        fprintf(stderr, "    %s: %s\n", what, err.detail);
    }
    free(out);
}

/* A chain: bytes (little-endian) then the given compressor (or none when id is BYTES). */
static struct zarr_codec_chain simple_chain(unsigned width, unsigned ndim, const uint64_t *shape,
                                            enum zarr_codec_id id)
{
    struct zarr_codec_chain chain;
    struct error_info err;
    CHECK_INT(zarr_codec_chain_v2(&chain, width, false, false, ndim, shape, &err), ERROR_OK);
    if (id != ZARR_CODEC_BYTES) {
        struct zarr_codec c = {.id = id};
        CHECK_INT(zarr_codec_chain_add(&chain, &c, &err), ERROR_OK);
    }
    return chain;
}

/* ------------------------------------------------------------------------------------------
 * Encoders
 */

static size_t enc_blosc(const unsigned char *src, size_t n, unsigned width, const char *cname,
                        int shuffle, size_t blocksize, unsigned char *dst, size_t cap)
{
    int r = blosc_compress_ctx(5, shuffle, width, n, src, dst, cap, cname, blocksize, 1);
    return r > 0 ? (size_t)r : 0;
}

static size_t enc_zstd(const unsigned char *src, size_t n, bool with_size, unsigned char *dst,
                       size_t cap)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, with_size ? 1 : 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_outBuffer o = {dst, cap, 0};
    ZSTD_inBuffer i = {src, n, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cc, &o, &i, ZSTD_e_end);
    } while (left != 0 && !ZSTD_isError(left));
    ZSTD_freeCCtx(cc);
    return ZSTD_isError(left) ? 0 : o.pos;
}

static size_t enc_deflate(const unsigned char *src, size_t n, bool gzip, unsigned char *dst,
                          size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t out = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? out : 0;
}

/* ------------------------------------------------------------------------------------------
 * Every compressor, round trip
 */

static void test_compressors(void)
{
    static const uint64_t shapes[][4] = {{2, 64, 48}, {3, 5, 7, 9}, {1, 3}, {2, 300, 257}};
    static const char *const cnames[] = {"lz4", "lz4hc", "zstd", "zlib", "blosclz"};
    static const unsigned widths[] = {1, 2, 4, 8};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t wi = 0; wi < 4; wi++) {
            const unsigned w = widths[wi], ndim = (unsigned)shapes[s][0];
            struct zarr_codec_chain chain = simple_chain(w, ndim, shapes[s] + 1, ZARR_CODEC_BYTES);
            const size_t bytes = chain.chunk_bytes, n = bytes / w, cap = bytes * 2 + 1024;
            unsigned char *le = malloc(bytes), *native = malloc(bytes), *enc = malloc(cap);
            fill_labels(le, n, w);
            le_to_native(native, le, n, w);
            decodes_to(&chain, le, bytes, native, "none");
            for (size_t c = 0; c < 5; c++)
                for (int shuffle = 0; shuffle <= 2; shuffle++) {
                    size_t blocksize = shuffle == 1 ? 256 : 0; /* forced small blocks too */
                    size_t len = enc_blosc(le, bytes, w, cnames[c], shuffle, blocksize, enc, cap);
                    if (!CHECK(len > 0))
                        continue;
                    chain = simple_chain(w, ndim, shapes[s] + 1, ZARR_CODEC_BLOSC);
                    decodes_to(&chain, enc, len, native, cnames[c]);
                }
            chain = simple_chain(w, ndim, shapes[s] + 1, ZARR_CODEC_ZSTD);
            for (int with_size = 0; with_size < 2; with_size++) {
                size_t len = enc_zstd(le, bytes, with_size, enc, cap);
                decodes_to(&chain, enc, len, native, "zstd");
            }
            chain = simple_chain(w, ndim, shapes[s] + 1, ZARR_CODEC_ZLIB);
            size_t len = enc_deflate(le, bytes, false, enc, cap);
            decodes_to(&chain, enc, len, native, "zlib");
            chain = simple_chain(w, ndim, shapes[s] + 1, ZARR_CODEC_GZIP);
            len = enc_deflate(le, bytes, true, enc, cap);
            decodes_to(&chain, enc, len, native, "gzip");
            free(le);
            free(native);
            free(enc);
        }
}

/* Several zstd frames and several gzip members (plus zero padding) make one chunk. */
static void test_concatenated(void)
{
    const uint64_t shape[2] = {40, 30};
    struct zarr_codec_chain chain = simple_chain(2, 2, shape, ZARR_CODEC_ZSTD);
    const size_t bytes = chain.chunk_bytes, half = bytes / 2;
    unsigned char le[2400], native[2400], enc[8192];
    fill_labels(le, bytes / 2, 2);
    le_to_native(native, le, bytes / 2, 2);
    size_t a = enc_zstd(le, half, true, enc, sizeof enc);
    size_t b = enc_zstd(le + half, bytes - half, false, enc + a, sizeof enc - a);
    decodes_to(&chain, enc, a + b, native, "two zstd frames");
    rejects(&chain, enc, a, "decodes to 1200 bytes, the chunk needs 2400");
    chain = simple_chain(2, 2, shape, ZARR_CODEC_GZIP);
    a = enc_deflate(le, half, true, enc, sizeof enc);
    b = enc_deflate(le + half, bytes - half, true, enc + a, sizeof enc - a);
    memset(enc + a + b, 0, 7);
    decodes_to(&chain, enc, a + b, native, "two gzip members");
    decodes_to(&chain, enc, a + b + 7, native, "gzip with zero padding");
    enc[a + b + 3] = 'x';
    rejects(&chain, enc, a + b + 7, "gzip data is corrupt");
    rejects(&chain, enc, a, "decodes to 1200 bytes, the chunk needs 2400");
    chain = simple_chain(2, 2, shape, ZARR_CODEC_ZLIB);
    a = enc_deflate(le, bytes, false, enc, sizeof enc);
    enc[a] = 0;
    rejects(&chain, enc, a + 1, "1 bytes after the end of the zlib stream");
}

/* ------------------------------------------------------------------------------------------
 * Transposes and byte order against a naive reference
 */

/* enc = transpose(dec, order): enc shape E[k] = S[order[k]], enc[j] = dec[i], j_k = i_{order[k]}.
 */
static void encode_transpose(const unsigned char *dec, unsigned char *enc, unsigned ndim,
                             const uint64_t *shape, const unsigned *order, unsigned w)
{
    uint64_t n = 1, eshape[ZARR_CODEC_MAX_DIMS];
    for (unsigned k = 0; k < ndim; k++) {
        n *= shape[k];
        eshape[k] = shape[order[k]];
    }
    for (uint64_t c = 0; c < n; c++) {
        uint64_t i[ZARR_CODEC_MAX_DIMS], r = c;
        for (unsigned k = ndim; k-- > 0;) {
            i[k] = r % shape[k];
            r /= shape[k];
        }
        uint64_t e = 0;
        for (unsigned k = 0; k < ndim; k++)
            e = e * eshape[k] + i[order[k]];
        memcpy(enc + e * w, dec + c * w, w);
    }
}

static void test_transposes(void)
{
    static const struct {
        unsigned ndim;
        uint64_t shape[4];
        unsigned order[4];
    } cases[] = {
        {2, {7, 5}, {1, 0}},       {3, {3, 4, 5}, {2, 1, 0}}, {3, {3, 4, 5}, {1, 2, 0}},
        {3, {3, 4, 5}, {2, 0, 1}}, {3, {6, 1, 9}, {0, 2, 1}}, {4, {2, 3, 4, 5}, {3, 1, 0, 2}},
        {2, {1, 13}, {1, 0}},      {3, {2, 3, 4}, {0, 1, 2}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (unsigned w = 1; w <= 8; w *= 2)
            for (int big = 0; big < 2; big++) {
                const unsigned ndim = cases[t].ndim;
                struct zarr_codec_chain chain;
                struct error_info err;
                CHECK_INT(zarr_codec_chain_init(&chain, w, ndim, cases[t].shape, &err), ERROR_OK);
                struct zarr_codec tr = {.id = ZARR_CODEC_TRANSPOSE};
                memcpy(tr.order, cases[t].order, sizeof cases[t].order);
                struct zarr_codec by = {.id = ZARR_CODEC_BYTES, .big_endian = big};
                struct zarr_codec gz = {.id = ZARR_CODEC_GZIP};
                CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_OK);
                CHECK_INT(zarr_codec_chain_add(&chain, &by, &err), ERROR_OK);
                const size_t bytes = chain.chunk_bytes, n = bytes / w;
                unsigned char *le = malloc(bytes), *native = malloc(bytes);
                unsigned char *enc = malloc(bytes), *gzipped = malloc(bytes * 2 + 64);
                fill_labels(le, n, w);
                le_to_native(native, le, n, w);
                encode_transpose(le, enc, ndim, cases[t].shape, cases[t].order, w);
                if (big)
                    reverse_elems(enc, n, w);
                decodes_to(&chain, enc, bytes, native, "transpose");
                CHECK_INT(zarr_codec_chain_add(&chain, &gz, &err), ERROR_OK);
                size_t len = enc_deflate(enc, bytes, true, gzipped, bytes * 2 + 64);
                decodes_to(&chain, gzipped, len, native, "transpose + gzip");
                /* Fortran order (v2) is the reversing transpose. */
                if (ndim == 2 || cases[t].order[0] == ndim - 1) {
                    bool reversing = true;
                    for (unsigned k = 0; k < ndim; k++)
                        reversing &= cases[t].order[k] == ndim - 1 - k;
                    if (reversing) {
                        CHECK_INT(
                            zarr_codec_chain_v2(&chain, w, big, true, ndim, cases[t].shape, &err),
                            ERROR_OK);
                        decodes_to(&chain, enc, bytes, native, "v2 order F");
                    }
                }
                /* Two transposes compose: order then its inverse is the identity. */
                CHECK_INT(zarr_codec_chain_init(&chain, w, ndim, cases[t].shape, &err), ERROR_OK);
                struct zarr_codec inv = {.id = ZARR_CODEC_TRANSPOSE};
                for (unsigned k = 0; k < ndim; k++)
                    inv.order[cases[t].order[k]] = k;
                CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_OK);
                CHECK_INT(zarr_codec_chain_add(&chain, &inv, &err), ERROR_OK);
                by.big_endian = false;
                CHECK_INT(zarr_codec_chain_add(&chain, &by, &err), ERROR_OK);
                decodes_to(&chain, le, bytes, native, "transpose + inverse");
                free(le);
                free(native);
                free(enc);
                free(gzipped);
            }
}

/* bytes -> zstd -> gzip: an intermediate stream between two decoders. */
static void test_stacked(void)
{
    const uint64_t shape[3] = {4, 33, 17};
    struct zarr_codec_chain chain;
    struct error_info err;
    CHECK_INT(zarr_codec_chain_v2(&chain, 4, true, true, 3, shape, &err), ERROR_OK);
    struct zarr_codec zs = {.id = ZARR_CODEC_ZSTD}, gz = {.id = ZARR_CODEC_GZIP};
    struct zarr_codec bl = {.id = ZARR_CODEC_BLOSC};
    CHECK_INT(zarr_codec_chain_add(&chain, &zs, &err), ERROR_OK);
    CHECK_INT(zarr_codec_chain_add(&chain, &gz, &err), ERROR_OK);
    CHECK_INT(zarr_codec_chain_add(&chain, &bl, &err), ERROR_OK);
    const size_t bytes = chain.chunk_bytes, n = bytes / 4, cap = bytes * 2 + 1024;
    unsigned char *le = malloc(bytes), *native = malloc(bytes), *f = malloc(bytes);
    unsigned char *e1 = malloc(cap), *e2 = malloc(cap), *e3 = malloc(cap);
    fill_labels(le, n, 4);
    le_to_native(native, le, n, 4);
    const unsigned rev[3] = {2, 1, 0};
    encode_transpose(le, f, 3, shape, rev, 4);
    reverse_elems(f, n, 4);
    size_t l1 = enc_zstd(f, bytes, false, e1, cap);
    size_t l2 = enc_deflate(e1, l1, true, e2, cap);
    size_t l3 = enc_blosc(e2, l2, 1, "lz4", 1, 0, e3, cap);
    struct zarr_codec_work work;
    zarr_codec_work_init(&work);
    unsigned char *out = malloc(bytes);
    for (int round = 0; round < 3; round++) { /* the scratch is reused */
        CHECK_INT(zarr_chunk_decode_work(&chain, &work, "s", e3, l3, out, bytes, &err), ERROR_OK);
        CHECK(memcmp(out, native, bytes) == 0);
    }
    /* The outer stage truncated: the inner ones never see a full stream. */
    CHECK_INT(zarr_chunk_decode_work(&chain, &work, "s", e3, l3 - 1, out, bytes, &err),
              ERROR_UNPROCESSABLE);
    zarr_codec_work_cleanup(&work);
    free(out);
    free(le);
    free(native);
    free(f);
    free(e1);
    free(e2);
    free(e3);
}

/* ------------------------------------------------------------------------------------------
 * Hostile chunks
 */

static void put_le32(unsigned char *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void test_truncations(void)
{
    const uint64_t shape[2] = {32, 32};
    unsigned char le[2048], enc[8192];
    fill_labels(le, 1024, 2);
    const enum zarr_codec_id ids[] = {ZARR_CODEC_BLOSC, ZARR_CODEC_ZSTD, ZARR_CODEC_ZLIB,
                                      ZARR_CODEC_GZIP, ZARR_CODEC_BYTES};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct zarr_codec_chain chain = simple_chain(2, 2, shape, ids[i]);
        size_t len = ids[i] == ZARR_CODEC_BLOSC  ? enc_blosc(le, 2048, 2, "lz4", 1, 0, enc, 8192)
                     : ids[i] == ZARR_CODEC_ZSTD ? enc_zstd(le, 2048, true, enc, 8192)
                     : ids[i] == ZARR_CODEC_BYTES
                         ? (memcpy(enc, le, 2048), (size_t)2048)
                         : enc_deflate(le, 2048, ids[i] == ZARR_CODEC_GZIP, enc, 8192);
        CHECK(len > 0);
        for (size_t cut = 0; cut < len; cut++)
            rejects(&chain, enc, cut, NULL);
        /* The same data for a chunk of another shape. */
        const uint64_t other[2] = {32, 33};
        struct zarr_codec_chain bigger = simple_chain(2, 2, other, ids[i]);
        rejects(&bigger, enc, len, "2048");
        const uint64_t smaller_shape[2] = {31, 32};
        struct zarr_codec_chain smaller = simple_chain(2, 2, smaller_shape, ids[i]);
        rejects(&smaller, enc, len, "1984");
        /* Random byte flips: any answer but a crash (ASan watches), and OK only if exact. */
        for (int round = 0; round < 200; round++) {
            unsigned char *bad = dup_bytes(enc, len);
            bad[check_rng_below(&rng, (uint32_t)len)] ^=
                (unsigned char)(1 + check_rng_below(&rng, 255));
            unsigned char out[2048];
            struct error_info err;
            enum error_code rc = zarr_chunk_decode(&chain, "f", bad, len, out, 2048, &err);
            CHECK(rc == ERROR_OK || rc == ERROR_UNPROCESSABLE);
            free(bad);
        }
    }
}

static void test_blosc_lies(void)
{
    const uint64_t shape[1] = {4096};
    struct zarr_codec_chain chain = simple_chain(4, 1, shape, ZARR_CODEC_BLOSC);
    unsigned char le[16384], enc[20000], bad[20000];
    fill_labels(le, 4096, 4);
    size_t len = enc_blosc(le, 16384, 4, "blosclz", 1, 4096, enc, sizeof enc);
    CHECK(len > 32);
    CHECK(!(enc[2] & BLOSC_MEMCPYED));
    /* nbytes larger / smaller than the chunk. */
    memcpy(bad, enc, len);
    put_le32(bad + 4, 1u << 30);
    rejects(&chain, bad, len, "blosc header says 1073741824 decoded bytes, the chunk needs 16384");
    put_le32(bad + 4, 16380);
    rejects(&chain, bad, len, "says 16380 decoded bytes");
    /* cbytes larger / smaller than the data given. */
    memcpy(bad, enc, len);
    put_le32(bad + 12, (uint32_t)len + 1000);
    rejects(&chain, bad, len, "compressed bytes, the chunk has");
    put_le32(bad + 12, (uint32_t)len - 1);
    rejects(&chain, bad, len, "compressed bytes, the chunk has");
    /* A chunk cut short but with its header's cbytes cut to match. */
    put_le32(bad + 12, (uint32_t)len - 40);
    rejects(&chain, bad, len - 40, NULL);
    /* Block size 0, larger than the data, tiny (too many block starts for the frame). */
    memcpy(bad, enc, len);
    put_le32(bad + 8, 0);
    rejects(&chain, bad, len, "block size 0");
    put_le32(bad + 8, 1u << 31);
    rejects(&chain, bad, len, NULL);
    put_le32(bad + 8, 1);
    rejects(&chain, bad, len, "too short for its 16384 blocks");
    /* A block start outside the frame. */
    memcpy(bad, enc, len);
    put_le32(bad + 16, (uint32_t)len + 5);
    rejects(&chain, bad, len, "blosc block 0 starts outside the frame");
    put_le32(bad + 16, 3);
    rejects(&chain, bad, len, "blosc block 0 starts outside the frame");
    /* Stored uncompressed, with sizes that do not add up. */
    memcpy(bad, enc, len);
    bad[2] |= BLOSC_MEMCPYED;
    rejects(&chain, bad, len, "stored uncompressed has");
    /* Version from the future, and garbage. */
    memcpy(bad, enc, len);
    bad[0] = 9;
    rejects(&chain, bad, len, "blosc format version 9");
    memset(bad, 0xff, 64);
    rejects(&chain, bad, 64, NULL);
    /* Corrupt payload: libblosc's own error. */
    memcpy(bad, enc, len);
    for (size_t i = 40; i < len; i += 7)
        bad[i] ^= 0x5a;
    unsigned char out[16384];
    struct error_info err;
    enum error_code rc = decode(&chain, bad, len, out, &err);
    CHECK(rc == ERROR_OK || rc == ERROR_UNPROCESSABLE);
    /* A memcpy'd frame (clevel 0) decodes. */
    int r = blosc_compress_ctx(0, 0, 4, 16384, le, bad, sizeof bad, "lz4", 0, 1);
    CHECK(r == 16384 + 16);
    unsigned char native[16384];
    le_to_native(native, le, 4096, 4);
    decodes_to(&chain, bad, (size_t)r, native, "blosc memcpyed");
}

static void test_zstd_lies(void)
{
    const uint64_t shape[2] = {64, 64};
    struct zarr_codec_chain chain = simple_chain(1, 2, shape, ZARR_CODEC_ZSTD);
    /* Magic, single-segment frame with an 8-byte content size of 2^40, one RLE block. */
    unsigned char frame[] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x0b, 0, 0, 7};
    rejects(&chain, frame, sizeof frame,
            "zstd frame declares 1099511627776 decoded bytes, the chunk needs 4096");
    frame[10] = 0;
    frame[5] = 0x00;
    frame[6] = 0x10; /* 4096 exactly, but the frame holds 1 byte */
    rejects(&chain, frame, sizeof frame, "zstd data is corrupt");
    rejects(&chain, (const unsigned char *)"not zstd at all", 15, "not a zstd frame");
    /* A skippable frame, and a v0.7 frame: only v1 frames are decoded. */
    unsigned char skippable[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
    rejects(&chain, skippable, sizeof skippable, "not a zstd frame");
    unsigned char legacy[16] = {0x27, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    rejects(&chain, legacy, sizeof legacy, "not a zstd frame");
    /* A valid frame followed by garbage. */
    unsigned char payload[4096], enc[8192];
    memset(payload, 3, sizeof payload);
    size_t len = enc_zstd(payload, 2048, true, enc, sizeof enc);
    memcpy(enc + len, "junk", 4);
    rejects(&chain, enc, len + 4, "not a zstd frame");
}

/* A few hundred KB that inflate to 256 MiB: decoding stops at the chunk's 1 MiB. */
static void test_bombs(void)
{
    const size_t big = (size_t)256 << 20;
    const uint64_t shape[2] = {1024, 1024};
    unsigned char *zeros = calloc(1, big), *enc = malloc(1u << 20);
    unsigned char *out = malloc(1u << 20);
    size_t glen = enc_deflate(zeros, big, true, enc, 1u << 20);
    CHECK(glen > 0 && glen < 300000);
    struct zarr_codec_chain chain = simple_chain(1, 2, shape, ZARR_CODEC_GZIP);
    struct error_info err;
    double t0 = check_now_s();
    CHECK_INT(zarr_chunk_decode(&chain, "bomb", enc, glen, out, 1u << 20, &err),
              ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "bomb: gzip data decodes to more than the 1048576 bytes expected");
    chain = simple_chain(1, 2, shape, ZARR_CODEC_ZSTD);
    size_t zlen = enc_zstd(zeros, big, false, enc, 1u << 20);
    CHECK(zlen > 0 && zlen < 65536);
    CHECK_INT(zarr_chunk_decode(&chain, "bomb", enc, zlen, out, 1u << 20, &err),
              ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "bomb: zstd data decodes to more than the 1048576 bytes expected");
    zlen = enc_zstd(zeros, big, true, enc, 1u << 20);
    CHECK_INT(zarr_chunk_decode(&chain, "bomb", enc, zlen, out, 1u << 20, &err),
              ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "declares 268435456 decoded bytes");
    /* Each stops at the 1 MiB bound: far less time than inflating 256 MiB. */
    CHECK(check_now_s() - t0 < 5.0);
    free(zeros);
    free(enc);
    free(out);
}

/* ------------------------------------------------------------------------------------------
 * Chains, names, fill values
 */

static void test_chain_rules(void)
{
    struct zarr_codec_chain chain;
    struct error_info err;
    const uint64_t shape[3] = {2, 3, 4}, zero[2] = {3, 0}, huge[2] = {UINT64_MAX / 2, 4};
    CHECK_INT(zarr_codec_chain_init(&chain, 3, 3, shape, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_codec_chain_init(&chain, 2, 0, shape, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_codec_chain_init(&chain, 2, 9, shape, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_codec_chain_init(&chain, 2, 2, zero, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "dimension 1 is 0");
    CHECK_INT(zarr_codec_chain_init(&chain, 2, 2, huge, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_codec_chain_init(&chain, 2, 3, shape, &err), ERROR_OK);
    CHECK_INT(chain.chunk_bytes, 48);
    struct zarr_codec gz = {.id = ZARR_CODEC_GZIP}, by = {.id = ZARR_CODEC_BYTES};
    struct zarr_codec tr = {.id = ZARR_CODEC_TRANSPOSE, .order = {0, 0, 1}};
    CHECK_INT(zarr_codec_chain_check(&chain, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "no array -> bytes codec");
    CHECK_INT(zarr_codec_chain_add(&chain, &gz, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "compressor comes before the 'bytes' codec");
    CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "not a permutation of 0..2");
    tr.order[0] = 3;
    CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_UNPROCESSABLE);
    tr.order[0] = 2;
    CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_OK);
    CHECK_INT(zarr_codec_chain_add(&chain, &by, &err), ERROR_OK);
    CHECK_INT(zarr_codec_chain_add(&chain, &by, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "two 'bytes' codecs");
    CHECK_INT(zarr_codec_chain_add(&chain, &tr, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "'transpose' comes after the 'bytes' codec");
    for (int i = 0; i < 6; i++)
        CHECK_INT(zarr_codec_chain_add(&chain, &gz, &err), ERROR_OK);
    CHECK_INT(zarr_codec_chain_add(&chain, &gz, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "longer than 8 codecs");
    CHECK_INT(zarr_codec_chain_check(&chain, &err), ERROR_OK);
    unsigned char out[48];
    CHECK_INT(zarr_chunk_decode(&chain, NULL, out, 48, out, 47, &err), ERROR_INTERNAL);
    struct zarr_codec_chain empty;
    memset(&empty, 0, sizeof empty);
    CHECK_INT(zarr_chunk_decode(&empty, NULL, out, 48, out, 48, &err), ERROR_INTERNAL);
    /* A chain filled by hand is checked as thoroughly as one built by add. */
    struct zarr_codec_chain forged = chain;
    forged.codecs[0].order[1] = 7;
    CHECK_INT(zarr_chunk_decode(&forged, NULL, out, 48, out, 48, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "not a permutation");
    forged = chain;
    forged.codecs[2] = forged.codecs[0];
    CHECK_INT(zarr_codec_chain_check(&forged, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "'transpose' comes after the 'bytes' codec");
    forged = chain;
    forged.chunk_bytes = 4096;
    CHECK_INT(zarr_codec_chain_check(&forged, &err), ERROR_INTERNAL);
    forged = chain;
    forged.n_codecs = 9;
    CHECK_INT(zarr_codec_chain_check(&forged, &err), ERROR_INTERNAL);
    forged = chain;
    forged.codecs[1].id = (enum zarr_codec_id)42;
    CHECK_INT(zarr_codec_chain_check(&forged, &err), ERROR_INTERNAL);
    /* Uncompressed with the wrong size names the chunk and both sizes. */
    struct zarr_codec_chain plain = simple_chain(2, 3, shape, ZARR_CODEC_BYTES);
    rejects(&plain, out, 40, "uncompressed chunk has 40 bytes, the chunk needs 48");
}

static void test_names(void)
{
    enum zarr_codec_id id;
    struct error_info err;
    static const struct {
        unsigned format;
        const char *name;
        int id;
    } names[] = {
        {2, "blosc", ZARR_CODEC_BLOSC},
        {2, "zstd", ZARR_CODEC_ZSTD},
        {2, "zlib", ZARR_CODEC_ZLIB},
        {2, "gzip", ZARR_CODEC_GZIP},
        {3, "blosc", ZARR_CODEC_BLOSC},
        {3, "zstd", ZARR_CODEC_ZSTD},
        {3, "gzip", ZARR_CODEC_GZIP},
        {3, "bytes", ZARR_CODEC_BYTES},
        {3, "transpose", ZARR_CODEC_TRANSPOSE},
        {3, "numcodecs.zlib", ZARR_CODEC_ZLIB},
        {2, "bytes", -1},
        {2, "transpose", -1},
        {3, "zlib", -1},
        {2, "lz4", -1},
        {2, "bz2", -1},
        {2, "lzma", -1},
        {2, "delta", -1},
        {3, "crc32c", -1},
        {3, "sharding_indexed", -1},
        {3, "blosc2", -1},
        {3, "", -1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        error_init(&err);
        enum error_code rc =
            zarr_codec_lookup(names[i].format, names[i].name, strlen(names[i].name), &id, &err);
        if (names[i].id >= 0) {
            CHECK_INT(rc, ERROR_OK);
            CHECK_INT(id, names[i].id);
        } else {
            CHECK_INT(rc, ERROR_UNPROCESSABLE);
            char want[64];
            snprintf(want, sizeof want, "codec '%s' is not supported", names[i].name);
            CHECK_DETAIL(err, want);
        }
    }
    CHECK_INT(zarr_codec_lookup(3, "sharding_indexed", 16, &id, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "Zarr codec 'sharding_indexed' is not supported (sharded arrays");
    CHECK_INT(zarr_codec_lookup(3, "bytesX", 5, &id, &err), ERROR_OK); /* len, not NUL */
    CHECK_INT(zarr_codec_lookup(4, "bytes", 5, &id, &err), ERROR_INTERNAL);
}

static void test_fill(void)
{
    uint64_t bits = 0;
    struct error_info err;
    CHECK_INT(zarr_fill_value_bits(1, false, false, 255, &bits, &err), ERROR_OK);
    CHECK_INT(bits, 255);
    CHECK_INT(zarr_fill_value_bits(1, false, false, 256, &bits, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "fill_value 256 does not fit a uint8 element");
    CHECK_INT(zarr_fill_value_bits(2, false, true, 1, &bits, &err), ERROR_UNPROCESSABLE);
    CHECK_DETAIL(err, "fill_value -1 does not fit a uint16");
    CHECK_INT(zarr_fill_value_bits(2, false, true, 0, &bits, &err), ERROR_OK);
    CHECK_INT(bits, 0);
    CHECK_INT(zarr_fill_value_bits(1, true, true, 128, &bits, &err), ERROR_OK);
    CHECK_INT(bits, 0x80);
    CHECK_INT(zarr_fill_value_bits(1, true, true, 129, &bits, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_fill_value_bits(1, true, false, 128, &bits, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_fill_value_bits(4, true, true, 1, &bits, &err), ERROR_OK);
    CHECK_INT(bits, 0xffffffffu);
    CHECK_INT(zarr_fill_value_bits(8, true, true, UINT64_C(1) << 63, &bits, &err), ERROR_OK);
    CHECK(bits == UINT64_C(1) << 63);
    CHECK_INT(zarr_fill_value_bits(8, true, false, UINT64_C(1) << 63, &bits, &err),
              ERROR_UNPROCESSABLE);
    CHECK_INT(zarr_fill_value_bits(8, false, false, UINT64_MAX, &bits, &err), ERROR_OK);
    CHECK(bits == UINT64_MAX);
    CHECK_INT(zarr_fill_value_bits(3, false, false, 1, &bits, &err), ERROR_UNPROCESSABLE);
    /* Filled buffers hold the value in every element, native-endian. */
    static const unsigned widths[] = {1, 2, 4, 8};
    static const uint64_t values[] = {0, 7, 0x0102030405060708u, UINT64_MAX};
    for (size_t wi = 0; wi < 4; wi++)
        for (size_t vi = 0; vi < 4; vi++) {
            const unsigned w = widths[wi];
            const uint64_t v = values[vi] & (w == 8 ? UINT64_MAX : (UINT64_C(1) << 8 * w) - 1);
            const size_t n = 1000 + wi;
            unsigned char *buf = malloc(n * w);
            zarr_chunk_fill(buf, n * w, w, v);
            bool ok = true;
            for (size_t i = 0; i < n; i++) {
                uint64_t got = 0;
                if (w == 1)
                    got = buf[i];
                else if (w == 2) {
                    uint16_t x;
                    memcpy(&x, buf + i * 2, 2);
                    got = x;
                } else if (w == 4) {
                    uint32_t x;
                    memcpy(&x, buf + i * 4, 4);
                    got = x;
                } else {
                    memcpy(&got, buf + i * 8, 8);
                }
                ok &= got == v;
            }
            CHECK(ok);
            free(buf);
        }
}

int main(void)
{
    test_compressors();
    test_concatenated();
    test_transposes();
    test_stacked();
    test_truncations();
    test_blosc_lies();
    test_zstd_lies();
    test_bombs();
    test_chain_rules();
    test_names();
    test_fill();
    return check_finish("test_zarr_codec");
}
