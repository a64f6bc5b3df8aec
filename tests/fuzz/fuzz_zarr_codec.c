/* fuzz_zarr_codec.c - decode any bytes as a Zarr chunk: never crash, never write past the
 * chunk, only OK or UNPROCESSABLE. Input: byte 0 picks the compressor (low 3 bits: none,
 * blosc, zstd, zlib, gzip), Fortran order (bit 3) and big-endian (bit 4); byte 1 the width
 * (low 2 bits: 1, 2, 4, 8 bytes) and ndim - 1 (bits 2-3, at most 3); bytes 2-4 the chunk
 * dimensions (1 + b % 32); the rest is the stored chunk. */
#include "zarr_codec.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum zarr_codec_id ids[] = {ZARR_CODEC_BYTES, ZARR_CODEC_BLOSC, ZARR_CODEC_ZSTD,
                                             ZARR_CODEC_ZLIB, ZARR_CODEC_GZIP};
    if (size < 5 || (data[0] & 7) > 4)
        return 0;
    const uint64_t shape[3] = {1u + data[2] % 32u, 1u + data[3] % 32u, 1u + data[4] % 32u};
    const unsigned ndim = 1u + ((data[1] >> 2) & 3u) % 3u, width = 1u << (data[1] & 3u);
    struct zarr_codec_chain chain;
    struct error_info err;
    struct zarr_codec c = {.id = ids[data[0] & 7]};
    if (zarr_codec_chain_v2(&chain, width, data[0] & 16, data[0] & 8, ndim, shape, &err) !=
            ERROR_OK ||
        (c.id != ZARR_CODEC_BYTES && zarr_codec_chain_add(&chain, &c, &err) != ERROR_OK))
        abort();
    unsigned char *out = malloc(chain.chunk_bytes);
    enum error_code rc =
        zarr_chunk_decode(&chain, "fuzz", data + 5, size - 5, out, chain.chunk_bytes, &err);
    if (rc != ERROR_OK && rc != ERROR_UNPROCESSABLE)
        abort();
    free(out);
    return 0;
}
