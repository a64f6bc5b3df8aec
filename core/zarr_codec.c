/*
 * zarr_codec.c - the Zarr codec pipeline, decode direction; see zarr_codec.h.
 *
 * Each bytes -> bytes decoder writes into a buffer of known capacity and reports how much it
 * wrote; the last one (nearest the bytes codec) must write exactly chain->chunk_bytes, and
 * writes straight into the caller's buffer unless a transpose still has to read from it.
 * Transposes are composed into one permutation and applied in a single strided pass; the
 * byte swap of the bytes codec is done last, in place, since it commutes with moving
 * elements.
 */
#include "zarr_codec.h"

#include "alloc.h"
#include "byteorder.h"

#include <blosc.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* What an intermediate stream of stacked compressors may hold: the compressed form of a
 * chunk is at most a little over its size (blosc adds 16 bytes, zstd and deflate well under
 * 1% on incompressible data), so a quarter plus 64 KiB is room for any real encoder. */
static size_t intermediate_cap(size_t chunk_bytes)
{
    size_t extra = chunk_bytes / 4 + 65536;
    return chunk_bytes > SIZE_MAX - extra ? SIZE_MAX : chunk_bytes + extra;
}

/* ------------------------------------------------------------------------------------------
 * Names and chains
 */

struct codec_name {
    const char *name;
    unsigned formats; /* bit 2: v2, bit 3: v3 */
    int id;           /* -1: known but not supported */
    const char *why;
};

static const struct codec_name codec_names[] = {
    {"transpose", 1u << 3, ZARR_CODEC_TRANSPOSE, NULL},
    {"bytes", 1u << 3, ZARR_CODEC_BYTES, NULL},
    {"blosc", 1u << 2 | 1u << 3, ZARR_CODEC_BLOSC, NULL},
    {"zstd", 1u << 2 | 1u << 3, ZARR_CODEC_ZSTD, NULL},
    {"gzip", 1u << 2 | 1u << 3, ZARR_CODEC_GZIP, NULL},
    {"zlib", 1u << 2, ZARR_CODEC_ZLIB, NULL},
    {"numcodecs.zlib", 1u << 3, ZARR_CODEC_ZLIB, NULL},
    {"sharding_indexed", 1u << 3, -1, "sharded arrays are not supported yet"},
    {"crc32c", 1u << 3, -1, "checksummed chunks are not supported"},
    {"endian", 1u << 3, -1, "a pre-1.0 draft name: write \"bytes\""},
};

enum error_code zarr_codec_lookup(unsigned zarr_format, const char *name, size_t len,
                                  enum zarr_codec_id *id, struct error_info *err)
{
    const int shown = (int)(len > 64 ? 64 : len);
    if (zarr_format != 2 && zarr_format != 3)
        return error_set(err, ERROR_INTERNAL, "zarr_codec_lookup: zarr_format %u", zarr_format);
    for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++) {
        const struct codec_name *c = &codec_names[i];
        if (strlen(c->name) != len || memcmp(c->name, name, len) != 0 ||
            !(c->formats & 1u << zarr_format))
            continue;
        if (c->id < 0)
            return error_set(err, ERROR_UNPROCESSABLE, "Zarr codec '%.*s' is not supported (%s)",
                             shown, name, c->why);
        *id = (enum zarr_codec_id)c->id;
        return ERROR_OK;
    }
    return error_set(err, ERROR_UNPROCESSABLE,
                     "Zarr v%u codec '%.*s' is not supported (supported: %s)", zarr_format, shown,
                     name,
                     zarr_format == 2 ? "blosc, zstd, zlib, gzip or none"
                                      : "transpose, bytes, blosc, zstd, gzip, numcodecs.zlib");
}

enum error_code zarr_codec_chain_init(struct zarr_codec_chain *chain, unsigned width, unsigned ndim,
                                      const uint64_t *shape, struct error_info *err)
{
    memset(chain, 0, sizeof *chain);
    if (width != 1 && width != 2 && width != 4 && width != 8)
        return error_set(err, ERROR_UNPROCESSABLE, "Zarr element width %u is not supported", width);
    if (ndim < 1 || ndim > ZARR_CODEC_MAX_DIMS)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "Zarr chunks of %u dimensions are not "
                         "supported (1 to %d are)",
                         ndim, ZARR_CODEC_MAX_DIMS);
    uint64_t bytes = width;
    for (unsigned k = 0; k < ndim; k++) {
        if (shape[k] == 0)
            return error_set(err, ERROR_UNPROCESSABLE, "Zarr chunk dimension %u is 0", k);
        if (__builtin_mul_overflow(bytes, shape[k], &bytes) || bytes > SIZE_MAX)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "Zarr chunk shape is too large to "
                             "address");
        chain->chunk_shape[k] = shape[k];
    }
    chain->width = width;
    chain->ndim = ndim;
    chain->chunk_bytes = (size_t)bytes;
    return ERROR_OK;
}

/* Whether codecs[0..n) hold the bytes codec. */
static bool has_bytes_codec(const struct zarr_codec_chain *chain, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (chain->codecs[i].id == ZARR_CODEC_BYTES)
            return true;
    return false;
}

/* Whether c may follow codecs[0..n) of chain. */
static enum error_code check_codec(const struct zarr_codec_chain *chain, unsigned n,
                                   const struct zarr_codec *c, struct error_info *err)
{
    const bool past_bytes = has_bytes_codec(chain, n);
    switch (c->id) {
    case ZARR_CODEC_TRANSPOSE: {
        if (past_bytes)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "Zarr codec 'transpose' comes after the 'bytes' codec");
        bool seen[ZARR_CODEC_MAX_DIMS] = {false};
        for (unsigned k = 0; k < chain->ndim; k++) {
            if (c->order[k] >= chain->ndim || seen[c->order[k]])
                return error_set(err, ERROR_UNPROCESSABLE,
                                 "Zarr 'transpose' order is not a permutation of 0..%u",
                                 chain->ndim - 1);
            seen[c->order[k]] = true;
        }
        return ERROR_OK;
    }
    case ZARR_CODEC_BYTES:
        if (past_bytes)
            return error_set(err, ERROR_UNPROCESSABLE, "Zarr pipeline has two 'bytes' codecs");
        return ERROR_OK;
    case ZARR_CODEC_BLOSC:
    case ZARR_CODEC_ZSTD:
    case ZARR_CODEC_ZLIB:
    case ZARR_CODEC_GZIP:
        if (!past_bytes)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "Zarr compressor comes before the 'bytes' codec");
        return ERROR_OK;
    }
    return error_set(err, ERROR_INTERNAL, "Zarr codec id %d is unknown", (int)c->id);
}

enum error_code zarr_codec_chain_add(struct zarr_codec_chain *chain, const struct zarr_codec *c,
                                     struct error_info *err)
{
    if (chain->n_codecs >= ZARR_CODEC_MAX_CODECS)
        return error_set(err, ERROR_UNPROCESSABLE, "Zarr codec pipeline longer than %d codecs",
                         ZARR_CODEC_MAX_CODECS);
    enum error_code rc = check_codec(chain, chain->n_codecs, c, err);
    if (rc == ERROR_OK)
        chain->codecs[chain->n_codecs++] = *c;
    return rc;
}

enum error_code zarr_codec_chain_v2(struct zarr_codec_chain *chain, unsigned width, bool big_endian,
                                    bool fortran, unsigned ndim, const uint64_t *shape,
                                    struct error_info *err)
{
    enum error_code rc = zarr_codec_chain_init(chain, width, ndim, shape, err);
    if (rc != ERROR_OK)
        return rc;
    if (fortran) {
        /* Fortran order of shape S is C order of the reversed shape: transpose(reverse). */
        struct zarr_codec t = {.id = ZARR_CODEC_TRANSPOSE};
        for (unsigned k = 0; k < ndim; k++)
            t.order[k] = ndim - 1 - k;
        rc = zarr_codec_chain_add(chain, &t, err);
        if (rc != ERROR_OK)
            return rc;
    }
    struct zarr_codec b = {.id = ZARR_CODEC_BYTES, .big_endian = big_endian && width > 1};
    return zarr_codec_chain_add(chain, &b, err);
}

enum error_code zarr_codec_chain_check(const struct zarr_codec_chain *chain, struct error_info *err)
{
    /* Everything init and add guarantee, again: decoding trusts it. */
    uint64_t bytes = chain->width;
    bool sized =
        (chain->width == 1 || chain->width == 2 || chain->width == 4 || chain->width == 8) &&
        chain->ndim >= 1 && chain->ndim <= ZARR_CODEC_MAX_DIMS &&
        chain->n_codecs <= ZARR_CODEC_MAX_CODECS;
    for (unsigned k = 0; sized && k < chain->ndim; k++)
        sized = chain->chunk_shape[k] > 0 &&
                !__builtin_mul_overflow(bytes, chain->chunk_shape[k], &bytes);
    if (!sized || bytes != chain->chunk_bytes)
        return error_set(err, ERROR_INTERNAL, "Zarr codec chain was not initialised");
    for (unsigned i = 0; i < chain->n_codecs; i++) {
        enum error_code rc = check_codec(chain, i, &chain->codecs[i], err);
        if (rc != ERROR_OK)
            return rc;
    }
    if (!has_bytes_codec(chain, chain->n_codecs))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "Zarr codec pipeline has no array -> bytes codec ('bytes')");
    return ERROR_OK;
}

void zarr_codec_work_init(struct zarr_codec_work *work)
{
    memset(work, 0, sizeof *work);
}

void zarr_codec_work_cleanup(struct zarr_codec_work *work)
{
    for (unsigned i = 0; i < 3; i++)
        free(work->scratch[i]);
    ZSTD_freeDCtx(work->zstd);
    memset(work, 0, sizeof *work);
}

/* Scratch buffer i of at least len bytes. */
static void *work_scratch(struct zarr_codec_work *work, unsigned i, size_t len)
{
    if (work->scratch_len[i] >= len)
        return work->scratch[i];
    void *p = alloc_large(len);
    if (p == NULL)
        return NULL;
    free(work->scratch[i]);
    work->scratch[i] = p;
    work->scratch_len[i] = len;
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Bytes -> bytes decoders
 *
 * Each decodes in[0..in_len) into out, writing at most cap bytes, and sets *produced. With
 * exact set the result must be cap bytes exactly. Messages start with the chunk's name.
 */

struct stage {
    const char *name;
    const void *in;
    size_t in_len;
    void *out;
    size_t cap;
    bool exact;
    size_t produced;
};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static enum error_code size_mismatch(const struct stage *s, const char *codec, size_t got,
                                     struct error_info *err)
{
    if (got > s->cap)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: %s data decodes to more than the %zu bytes expected", s->name, codec,
                         s->cap);
    return error_set(err, ERROR_UNPROCESSABLE,
                     "%s: %s data decodes to %zu bytes, the chunk needs %zu", s->name, codec, got,
                     s->cap);
}

/* Blosc 1 frame: 16-byte header (version, codec version, flags, typesize, nbytes, blocksize,
 * cbytes, all little-endian), then for a compressed frame one 32-bit start offset per block.
 * libblosc reads as far as its header says, so every size is checked here first. */
static enum error_code decode_blosc(struct stage *s, struct error_info *err)
{
    const unsigned char *in = s->in;
    if (s->in_len < BLOSC_MIN_HEADER_LENGTH)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: blosc header truncated (%zu bytes)",
                         s->name, s->in_len);
    if (in[0] == 0 || in[0] > BLOSC_VERSION_FORMAT)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: blosc format version %u is not "
                         "supported",
                         s->name, in[0]);
    size_t nbytes, cbytes, blocksize;
    blosc_cbuffer_sizes(in, &nbytes, &cbytes, &blocksize);
    if (cbytes != s->in_len)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: blosc header says %zu compressed bytes, the chunk has %zu", s->name,
                         cbytes, s->in_len);
    if (nbytes > s->cap || (s->exact && nbytes != s->cap))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: blosc header says %zu decoded bytes, the chunk needs %s%zu", s->name,
                         nbytes, s->exact ? "" : "at most ", s->cap);
    size_t checked;
    if (blosc_cbuffer_validate(in, s->in_len, &checked) != 0 || checked != nbytes)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: blosc header is not valid", s->name);
    const int flags = in[2];
    if (flags & BLOSC_MEMCPYED) {
        if (cbytes != nbytes + BLOSC_MAX_OVERHEAD)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: blosc frame stored uncompressed has %zu bytes for %zu", s->name,
                             cbytes, nbytes);
    } else if (nbytes > 0) {
        if (blocksize == 0 || blocksize > nbytes)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: blosc block size %zu does not fit %zu bytes", s->name, blocksize,
                             nbytes);
        const size_t nblocks = nbytes / blocksize + (nbytes % blocksize != 0);
        if (nblocks > (cbytes - BLOSC_MIN_HEADER_LENGTH) / 4)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: blosc frame too short for its %zu blocks", s->name, nblocks);
        const size_t data0 = BLOSC_MIN_HEADER_LENGTH + 4 * nblocks;
        for (size_t j = 0; j < nblocks; j++) {
            const size_t start = le32(in + BLOSC_MIN_HEADER_LENGTH + 4 * j);
            if (start < data0 || start >= cbytes)
                return error_set(err, ERROR_UNPROCESSABLE,
                                 "%s: blosc block %zu starts outside the frame", s->name, j);
        }
    }
    s->produced = 0;
    if (nbytes == 0)
        return ERROR_OK;
    int got = blosc_decompress_ctx(in, s->out, nbytes, 1);
    if (got < 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: blosc data is corrupt (error %d)", s->name,
                         got);
    if ((size_t)got != nbytes)
        return size_mismatch(s, "blosc", (size_t)got, err);
    s->produced = nbytes;
    return ERROR_OK;
}

/* Only zstd v1 frames (what every Zarr writer emits): libzstd's decoders of the pre-1.0
 * formats and skippable frames are never reached. */
static enum error_code check_zstd_frames(const struct stage *s, struct error_info *err)
{
    const unsigned char *p = s->in;
    size_t left = s->in_len;
    do {
        if (left < 4 || le32(p) != ZSTD_MAGICNUMBER)
            return error_set(err, ERROR_UNPROCESSABLE, "%s: not a zstd frame", s->name);
        size_t n = ZSTD_findFrameCompressedSize(p, left);
        if (ZSTD_isError(n))
            return error_set(err, ERROR_UNPROCESSABLE, "%s: zstd data is corrupt: %s", s->name,
                             ZSTD_getErrorName(n));
        p += n;
        left -= n;
    } while (left > 0);
    return ERROR_OK;
}

static enum error_code decode_zstd(struct stage *s, struct zarr_codec_work *work,
                                   struct error_info *err)
{
    unsigned long long declared = ZSTD_getFrameContentSize(s->in, s->in_len);
    if (declared == ZSTD_CONTENTSIZE_ERROR)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: not a zstd frame", s->name);
    /* A first frame claiming more than fits is refused before any work; a smaller one may
     * be followed by more frames, which the one-shot decoder below sums up. */
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > s->cap)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: zstd frame declares %llu decoded bytes, the chunk needs %zu", s->name,
                         declared, s->cap);
    enum error_code rc = check_zstd_frames(s, err);
    if (rc != ERROR_OK)
        return rc;
    if (work->zstd == NULL) {
        if (alloc_fault() || (work->zstd = ZSTD_createDCtx()) == NULL)
            return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a zstd decoder", s->name);
    }
    size_t got = ZSTD_decompressDCtx(work->zstd, s->out, s->cap, s->in, s->in_len);
    if (ZSTD_isError(got)) {
        ZSTD_ErrorCode code = ZSTD_getErrorCode(got);
        if (code == ZSTD_error_dstSize_tooSmall)
            return size_mismatch(s, "zstd", s->cap + 1, err);
        if (code == ZSTD_error_memory_allocation)
            return error_set(err, ERROR_NO_MEMORY, "%s: zstd decoder out of memory", s->name);
        return error_set(err, ERROR_UNPROCESSABLE, "%s: zstd data is corrupt: %s", s->name,
                         ZSTD_getErrorName(got));
    }
    if (s->exact && got != s->cap)
        return size_mismatch(s, "zstd", got, err);
    s->produced = got;
    return ERROR_OK;
}

static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return alloc_bytes((size_t)items * size);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

/* Deflate in a zlib (RFC 1950) or gzip (RFC 1952) wrapper. Gzip members may follow one
 * another, and zero padding after the last is ignored, as Python's gzip reader does. When
 * the output is full, one more byte of room is offered: a stream that uses it is too long. */
static enum error_code decode_deflate(struct stage *s, bool gzip, struct error_info *err)
{
    const char *codec = gzip ? "gzip" : "zlib";
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    int zrc = inflateInit2(&zs, gzip ? 15 + 16 : 15);
    if (zrc != Z_OK)
        return error_set(err, zrc == Z_MEM_ERROR ? ERROR_NO_MEMORY : ERROR_INTERNAL,
                         "%s: cannot start a %s decoder", s->name, codec);
    enum error_code rc = ERROR_OK;
    const unsigned char *in = s->in;
    unsigned char *out = s->out, probe;
    size_t in_left = s->in_len, out_done = 0;
    for (;;) {
        const bool probing = out_done == s->cap;
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        zs.next_out = probing ? &probe : out + out_done;
        zs.avail_out = probing                        ? 1
                       : s->cap - out_done > UINT_MAX ? UINT_MAX
                                                      : (uInt)(s->cap - out_done);
        const uInt avail_in = zs.avail_in, avail_out = zs.avail_out;
        zrc = inflate(&zs, Z_NO_FLUSH);
        const size_t used = avail_in - zs.avail_in, made = avail_out - zs.avail_out;
        in += used;
        in_left -= used;
        if (probing && made > 0) {
            rc = size_mismatch(s, codec, s->cap + 1, err);
            goto out;
        }
        out_done += probing ? 0 : made;
        if (zrc == Z_STREAM_END) {
            if (gzip) {
                while (in_left > 0 && *in == 0) {
                    in++;
                    in_left--;
                }
            }
            if (in_left == 0)
                break;
            if (!gzip) {
                rc = error_set(err, ERROR_UNPROCESSABLE,
                               "%s: %zu bytes after the end of the zlib stream", s->name, in_left);
                goto out;
            }
            zrc = inflateReset(&zs);
            if (zrc != Z_OK) {
                rc = error_set(err, ERROR_INTERNAL, "%s: cannot restart the gzip decoder", s->name);
                goto out;
            }
            continue;
        }
        if (zrc == Z_MEM_ERROR) {
            rc = error_set(err, ERROR_NO_MEMORY, "%s: %s decoder out of memory", s->name, codec);
            goto out;
        }
        if (zrc == Z_NEED_DICT || zrc == Z_DATA_ERROR || zrc == Z_STREAM_ERROR) {
            rc = error_set(err, ERROR_UNPROCESSABLE, "%s: %s data is corrupt: %s", s->name, codec,
                           zs.msg != NULL ? zs.msg : "bad stream");
            goto out;
        }
        if (used == 0 && made == 0) {
            /* No progress with room on both sides: the input ended inside the stream. */
            rc = error_set(err, ERROR_UNPROCESSABLE, "%s: %s data is truncated", s->name, codec);
            goto out;
        }
    }
    if (s->exact && out_done != s->cap) {
        rc = size_mismatch(s, codec, out_done, err);
        goto out;
    }
    s->produced = out_done;
out:
    inflateEnd(&zs);
    return rc;
}

static enum error_code decode_stage(enum zarr_codec_id id, struct stage *s,
                                    struct zarr_codec_work *work, struct error_info *err)
{
    switch (id) {
    case ZARR_CODEC_BLOSC:
        return decode_blosc(s, err);
    case ZARR_CODEC_ZSTD:
        return decode_zstd(s, work, err);
    case ZARR_CODEC_ZLIB:
        return decode_deflate(s, false, err);
    case ZARR_CODEC_GZIP:
        return decode_deflate(s, true, err);
    default:
        return error_set(err, ERROR_INTERNAL, "%s: codec %d is not bytes -> bytes", s->name,
                         (int)id);
    }
}

/* ------------------------------------------------------------------------------------------
 * Array -> array: transpose
 *
 * The stored array enc has shape E[k] = S[p[k]] for the composed permutation p, and
 * out[i_0, ..., i_{n-1}] = enc[j] with j_k = i_{p[k]}. Walking out in C order, index i_m
 * moves the source by the stride of enc's axis k where p[k] = m.
 */

static void transpose_gather(const struct zarr_codec_chain *chain, const unsigned *p,
                             const unsigned char *src, unsigned char *dst)
{
    const unsigned n = chain->ndim, w = chain->width;
    uint64_t enc_stride[ZARR_CODEC_MAX_DIMS], step[ZARR_CODEC_MAX_DIMS], idx[ZARR_CODEC_MAX_DIMS];
    enc_stride[n - 1] = 1;
    for (unsigned k = n - 1; k-- > 0;)
        enc_stride[k] = enc_stride[k + 1] * chain->chunk_shape[p[k + 1]];
    for (unsigned k = 0; k < n; k++) {
        step[p[k]] = enc_stride[k];
        idx[k] = 0;
    }
    const uint64_t inner = chain->chunk_shape[n - 1], inner_step = step[n - 1];
    const size_t total = chain->chunk_bytes / w;
    uint64_t offset = 0;
    for (size_t done = 0; done < total; done += inner) {
        for (uint64_t x = 0; x < inner; x++)
            memcpy(dst + (done + x) * w, src + (size_t)(offset + x * inner_step) * w, w);
        for (unsigned k = n - 1; k-- > 0;) {
            if (++idx[k] < chain->chunk_shape[k]) {
                offset += step[k];
                break;
            }
            offset -= (idx[k] - 1) * step[k];
            idx[k] = 0;
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * The pipeline
 */

enum error_code zarr_chunk_decode_work(const struct zarr_codec_chain *chain,
                                       struct zarr_codec_work *work, const char *name,
                                       const void *in, size_t in_len, void *out, size_t out_len,
                                       struct error_info *err)
{
    if (name == NULL)
        name = "chunk";
    enum error_code rc = zarr_codec_chain_check(chain, err);
    if (rc != ERROR_OK)
        return rc;
    if (out_len != chain->chunk_bytes)
        return error_set(err, ERROR_INTERNAL, "%s: %zu-byte buffer for a %zu-byte chunk", name,
                         out_len, chain->chunk_bytes);
    struct zarr_codec_work own;
    if (work == NULL) {
        zarr_codec_work_init(&own);
        work = &own;
    }
    /* Compose the transposes (encode applies p then q: combined axis k is p[q[k]]) and find
     * the bytes codec. */
    unsigned perm[ZARR_CODEC_MAX_DIMS], b = 0;
    bool permuted = false;
    for (unsigned k = 0; k < chain->ndim; k++)
        perm[k] = k;
    for (unsigned i = 0; i < chain->n_codecs; i++) {
        const struct zarr_codec *c = &chain->codecs[i];
        if (c->id == ZARR_CODEC_BYTES)
            b = i;
        if (c->id != ZARR_CODEC_TRANSPOSE)
            continue;
        unsigned next[ZARR_CODEC_MAX_DIMS];
        for (unsigned k = 0; k < chain->ndim; k++)
            next[k] = perm[c->order[k]];
        memcpy(perm, next, sizeof perm);
    }
    for (unsigned k = 0; k < chain->ndim; k++)
        permuted |= perm[k] != k;

    /* Undo the compressors, outermost first. The last one writes the chunk's bytes: into
     * out, or into scratch when a transpose still reads them. */
    const void *cur = in;
    size_t cur_len = in_len;
    for (unsigned i = chain->n_codecs; i-- > b + 1;) {
        const bool last = i == b + 1;
        struct stage s = {.name = name, .in = cur, .in_len = cur_len, .exact = last};
        s.cap = last ? chain->chunk_bytes : intermediate_cap(chain->chunk_bytes);
        s.out = last && !permuted ? out : work_scratch(work, last ? 0 : 1 + (i & 1), s.cap);
        if (s.out == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate %zu bytes to decode", name,
                           s.cap);
            goto out;
        }
        rc = decode_stage(chain->codecs[i].id, &s, work, err);
        if (rc != ERROR_OK)
            goto out;
        cur = s.out;
        cur_len = s.produced;
    }
    if (cur_len != chain->chunk_bytes) {
        /* Only an uncompressed chunk gets here with another size. */
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "%s: uncompressed chunk has %zu bytes, the "
                       "chunk needs %zu",
                       name, cur_len, chain->chunk_bytes);
        goto out;
    }
    const size_t n = chain->chunk_bytes / chain->width;
    const bool swap = byteorder_needs_swap(chain->codecs[b].big_endian);
    if (permuted) {
        transpose_gather(chain, perm, cur, out);
        byteorder_copy(out, out, n, chain->width, swap);
    } else {
        byteorder_copy(out, cur, n, chain->width, swap);
    }
out:
    if (work == &own)
        zarr_codec_work_cleanup(&own);
    return rc;
}

enum error_code zarr_chunk_decode(const struct zarr_codec_chain *chain, const char *name,
                                  const void *in, size_t in_len, void *out, size_t out_len,
                                  struct error_info *err)
{
    return zarr_chunk_decode_work(chain, NULL, name, in, in_len, out, out_len, err);
}

/* ------------------------------------------------------------------------------------------
 * Fill values
 */

enum error_code zarr_fill_value_bits(unsigned width, bool is_signed, bool negative,
                                     uint64_t magnitude, uint64_t *bits, struct error_info *err)
{
    if (width != 1 && width != 2 && width != 4 && width != 8)
        return error_set(err, ERROR_UNPROCESSABLE, "Zarr element width %u is not supported", width);
    const unsigned nbits = width * 8;
    const uint64_t umax = nbits == 64 ? UINT64_MAX : (UINT64_C(1) << nbits) - 1;
    const uint64_t smax = umax >> 1;
    bool fits = !is_signed ? (!negative || magnitude == 0) && magnitude <= umax
                : negative ? magnitude <= smax + 1
                           : magnitude <= smax;
    if (!fits)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "Zarr fill_value %s%llu does not fit a %s%u element", negative ? "-" : "",
                         (unsigned long long)magnitude, is_signed ? "int" : "uint", nbits);
    *bits = (negative ? 0 - magnitude : magnitude) & umax;
    return ERROR_OK;
}

void zarr_chunk_fill(void *out, size_t out_len, unsigned width, uint64_t bits)
{
    unsigned char elem[8];
    switch (width) {
    case 1:
        elem[0] = (unsigned char)bits;
        break;
    case 2: {
        uint16_t v = (uint16_t)bits;
        memcpy(elem, &v, 2);
        break;
    }
    case 4: {
        uint32_t v = (uint32_t)bits;
        memcpy(elem, &v, 4);
        break;
    }
    default:
        memcpy(elem, &bits, 8);
        width = 8;
        break;
    }
    bool same = true;
    for (unsigned i = 1; i < width; i++)
        same &= elem[i] == elem[0];
    if (same) {
        memset(out, elem[0], out_len);
        return;
    }
    /* Write one element, then double the filled prefix. */
    unsigned char *o = out;
    size_t done = out_len < width ? out_len : width;
    memcpy(o, elem, done);
    while (done < out_len) {
        size_t n = done < out_len - done ? done : out_len - done;
        memcpy(o + done, o, n);
        done += n;
    }
}
