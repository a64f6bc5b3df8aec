/*
 * classify_zarr_layout.h - the layout facts of one Zarr array for core/classify_zarr.c:
 * shape, chunks, dtype as spelled, order, chunk key separator and encoding, fill_value, the
 * codec chain as names and as one summary ("blosc/zstd/shuffle", "zstd", "none"), sharding,
 * and whether /overlap reads the array (core/zarr_array's strict parser and core/load's
 * shape rule applied to the same text).
 *
 * Works on metadata text classify already read; reads no file. Codec summaries: a v2 blosc
 * compressor is "blosc/CNAME/SHUFFLE" (SHUFFLE noshuffle, shuffle, bitshuffle or
 * autoshuffle), any other compressor its id, none "none"; v2 filters come first, joined with
 * "+" ("delta+zlib"). v3: the bytes -> bytes codecs of the list in order, joined with "+"
 * (blosc as in v2, from its configuration), "none" when there are none; a sharded array
 * (sharding_indexed as its array -> bytes codec) is described by its inner codecs, with
 * inner_chunks the chunk_shape of the sharding configuration.
 *
 * Cost: linear in the text per query (core/json_scan); no allocation. Thread-safe.
 */
#ifndef TESSERA_CORE_CLASSIFY_ZARR_LAYOUT_H
#define TESSERA_CORE_CLASSIFY_ZARR_LAYOUT_H

#include "classify.h"

#include <stdbool.h>
#include <stddef.h>

/* Fill z's array facts (ndim, shape, chunks, dtype_raw, order, separator, encoding,
 * fill_value, codec, codecs, sharded, overlap_ok/detail) from text (len bytes,
 * NUL-terminated after them; a .zarray when !v3, else an array's zarr.json). array_path
 * names the array inside the store ("" for the store itself); axes (NULL for none) holds
 * n_axes NGFF axis names of CLASSIFY_AXIS_LEN bytes each, one per dimension. */
void classify_zarr_layout_array(const char *text, size_t len, bool v3, const char *array_path,
                                const char *axes, unsigned n_axes, struct classify_zarr *z);

/* The shape of an array's metadata text into l (ndim 0 when it has none). */
void classify_zarr_layout_shape(const char *text, size_t len, struct classify_zarr_level *l);

#endif
