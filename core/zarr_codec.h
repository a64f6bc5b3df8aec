/*
 * zarr_codec.h - decoding one Zarr chunk (v2 or v3) into native-endian C-order elements.
 *
 * Zarr v3 describes how a chunk is stored as a codec pipeline, listed in encoding order:
 * any number of array -> array codecs ("transpose"), exactly one array -> bytes codec
 * ("bytes", which fixes the byte order), then any number of bytes -> bytes codecs
 * (compressors: "blosc", "zstd", "gzip"). Decoding runs the list backwards. A Zarr v2 array
 * is the same pipeline with fixed parts: "order": "F" is a transpose that reverses the axes,
 * the dtype's '<' or '>' is the bytes codec's endian, and the one "compressor" (blosc, zstd,
 * zlib, gzip or null) is the single bytes -> bytes codec. So both versions decode through one
 * struct zarr_codec_chain, which the metadata reader fills from .zarray or zarr.json:
 *
 *   v2:  zarr_codec_chain_v2(&chain, dtype.width, dtype.big_endian, order == 'F', ndim,
 *                            chunks, &err);                    dtype via npy_dtype_parse
 *        if (compressor != null) {
 *            zarr_codec_lookup(2, compressor.id, len, &c.id, &err);     then
 *            zarr_codec_chain_add(&chain, &c, &err);
 *        }
 *        (a non-empty "filters" list is refused by the reader: no filter is supported)
 *   v3:  zarr_codec_chain_init(&chain, width, ndim, chunk_grid.configuration.chunk_shape,
 *                              &err);
 *        for each entry of "codecs", in order:
 *            zarr_codec_lookup(3, name, len, &c.id, &err);
 *            "bytes": c.big_endian = configuration.endian == "big" (absent: little);
 *            "transpose": c.order[] = configuration.order (ndim entries);
 *            blosc / zstd / gzip configurations only matter to encoders: nothing to fill;
 *            zarr_codec_chain_add(&chain, &c, &err);
 *        zarr_codec_chain_check(&chain, &err);
 *
 * Then zarr_chunk_decode(&chain, ...) turns each stored chunk into chain.chunk_bytes bytes:
 * the chunk's elements in C order, native byte order, whatever order and byte order it was
 * stored in. A chunk that is missing from the store is filled with zarr_chunk_fill. Edge
 * chunks are stored at the full chunk shape in both versions, so every chunk decodes to the
 * same size; the caller crops.
 *
 * Bounds: every decoder writes at most the expected size and fails when the data would give
 * more (or less), so a decompression bomb stops at chain.chunk_bytes. A blosc header (sizes,
 * block size, block starts) is checked against the chunk length and the expected size before
 * libblosc sees it, since libblosc's decoder trusts its header. Zstd input must be a run of
 * v1 frames (no skippable or pre-1.0 legacy frames); they are decoded in one shot into the
 * bounded output, which needs no window buffer (streaming would allocate one as large as
 * the frame asks, up to 128 MiB). Cost: O(stored + decoded bytes); a transpose is one extra
 * strided pass. Memory: the output only for a chain without a transpose and with at most one
 * compressor; else one chunk-sized scratch buffer (two more, 1.25 x chunk + 64 KiB each, for
 * stacked compressors). Scratch and the zstd decoder state (~100 KiB) live in a
 * struct zarr_codec_work so a decoding thread reuses them chunk after chunk; zlib's state
 * (~40 KiB) is made per call.
 *
 * Thread-safety: a chain is read-only while decoding and may be shared by threads; a
 * struct zarr_codec_work belongs to one thread at a time.
 */
#ifndef TESSERA_CORE_ZARR_CODEC_H
#define TESSERA_CORE_ZARR_CODEC_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Dimensions of a chunk (as .npy: OME-Zarr has at most 5) and codecs in one pipeline. */
#define ZARR_CODEC_MAX_DIMS   8
#define ZARR_CODEC_MAX_CODECS 8

enum zarr_codec_id {
    ZARR_CODEC_TRANSPOSE, /* array -> array: v3 "transpose"; v2 "order": "F" */
    ZARR_CODEC_BYTES,     /* array -> bytes: v3 "bytes"; v2: implied by the dtype */
    ZARR_CODEC_BLOSC,     /* bytes -> bytes: v2 and v3 "blosc" (any cname and shuffle) */
    ZARR_CODEC_ZSTD,      /* bytes -> bytes: v2 and v3 "zstd" */
    ZARR_CODEC_ZLIB,      /* bytes -> bytes: v2 "zlib" (RFC 1950); v3 "numcodecs.zlib" */
    ZARR_CODEC_GZIP       /* bytes -> bytes: v2 and v3 "gzip" (RFC 1952, members in a row) */
};

struct zarr_codec {
    enum zarr_codec_id id;
    bool big_endian;                     /* ZARR_CODEC_BYTES: "endian": "big" */
    unsigned order[ZARR_CODEC_MAX_DIMS]; /* ZARR_CODEC_TRANSPOSE: a permutation of 0..ndim-1 */
};

struct zarr_codec_chain {
    unsigned width; /* bytes per element: 1, 2, 4 or 8 */
    unsigned ndim;  /* 1..ZARR_CODEC_MAX_DIMS */
    uint64_t chunk_shape[ZARR_CODEC_MAX_DIMS];
    size_t chunk_bytes; /* width * product of chunk_shape: set by init */
    unsigned n_codecs;
    struct zarr_codec codecs[ZARR_CODEC_MAX_CODECS]; /* in encoding (metadata) order */
};

/* A decoding thread's reusable scratch: zeroed by init, grown on demand, freed by cleanup. */
struct zarr_codec_work {
    void *scratch[3];
    size_t scratch_len[3];
    void *zstd; /* a ZSTD_DCtx, made on first use */
};

/* Map a codec name from metadata (len bytes, not NUL-terminated) to its id. zarr_format is 2
 * for a .zarray compressor "id", 3 for a zarr.json codec "name". Anything else is
 * ERROR_UNPROCESSABLE naming the codec: "sharding_indexed" (not supported yet), "crc32c",
 * "lz4", "bz2", "lzma", filters and unknown names. */
enum error_code zarr_codec_lookup(unsigned zarr_format, const char *name, size_t len,
                                  enum zarr_codec_id *id, struct error_info *err) ERROR_MUST_CHECK;

/* Start an empty chain for chunks of shape[0..ndim-1] of width-byte elements. Fails
 * (ERROR_UNPROCESSABLE) on a width other than 1, 2, 4, 8, ndim outside 1..ZARR_CODEC_MAX_DIMS,
 * a zero dimension, or a chunk whose byte size does not fit size_t. */
enum error_code zarr_codec_chain_init(struct zarr_codec_chain *chain, unsigned width, unsigned ndim,
                                      const uint64_t *shape,
                                      struct error_info *err) ERROR_MUST_CHECK;

/* Append one codec (copied). Fails (ERROR_UNPROCESSABLE) when the chain is full, when the
 * codec is out of place (a transpose after the bytes codec, a second bytes codec, a
 * compressor before it) or when a transpose order is not a permutation of 0..ndim-1. */
enum error_code zarr_codec_chain_add(struct zarr_codec_chain *chain, const struct zarr_codec *c,
                                     struct error_info *err) ERROR_MUST_CHECK;

/* The chain a Zarr v2 array implies before its compressor: init, then a transpose reversing
 * the axes when fortran is true, then the bytes codec with the dtype's byte order. */
enum error_code zarr_codec_chain_v2(struct zarr_codec_chain *chain, unsigned width, bool big_endian,
                                    bool fortran, unsigned ndim, const uint64_t *shape,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Check the whole chain: what init and add enforce (width, ndim, shape matching chunk_bytes,
 * codec order, permutations) and that it has its bytes codec. ERROR_UNPROCESSABLE for a
 * pipeline metadata may describe but Zarr forbids, ERROR_INTERNAL for a struct no init made.
 * zarr_chunk_decode runs it on every call (O(codecs x ndim)), so a chain filled by hand is
 * safe; calling it once after filling a chain reports bad metadata once, not per chunk. */
enum error_code zarr_codec_chain_check(const struct zarr_codec_chain *chain,
                                       struct error_info *err) ERROR_MUST_CHECK;

void zarr_codec_work_init(struct zarr_codec_work *work);
void zarr_codec_work_cleanup(struct zarr_codec_work *work);

/* Decode the stored chunk in[0..in_len) into out, which must be exactly chain->chunk_bytes
 * bytes (anything else is ERROR_INTERNAL, a caller bug). name (the chunk's key, may be NULL)
 * starts every message. Data that is corrupt, truncated, decodes to another size, or has
 * bytes after the end is ERROR_UNPROCESSABLE; ERROR_NO_MEMORY when scratch or a decoder's
 * state cannot be allocated. On failure out holds unspecified bytes. work may be NULL (the
 * call then makes and frees its own scratch). */
enum error_code zarr_chunk_decode_work(const struct zarr_codec_chain *chain,
                                       struct zarr_codec_work *work, const char *name,
                                       const void *in, size_t in_len, void *out, size_t out_len,
                                       struct error_info *err) ERROR_MUST_CHECK;

/* zarr_chunk_decode_work without reusable scratch. */
enum error_code zarr_chunk_decode(const struct zarr_codec_chain *chain, const char *name,
                                  const void *in, size_t in_len, void *out, size_t out_len,
                                  struct error_info *err) ERROR_MUST_CHECK;

/* The fill_value of an integer array as the bits of one element: the value is negative ?
 * -magnitude : magnitude (so all of int64 and uint64 can be given). ERROR_UNPROCESSABLE
 * when it does not fit the dtype (width bytes, is_signed). Call once per array. */
enum error_code zarr_fill_value_bits(unsigned width, bool is_signed, bool negative,
                                     uint64_t magnitude, uint64_t *bits,
                                     struct error_info *err) ERROR_MUST_CHECK;

/* Fill out (out_len bytes, a multiple of width) with copies of the element bits (from
 * zarr_fill_value_bits), native-endian: the content of a chunk missing from the store. */
void zarr_chunk_fill(void *out, size_t out_len, unsigned width, uint64_t bits);

#endif
