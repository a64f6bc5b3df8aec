/*
 * zarr_array.h - the metadata of a Zarr array read for decoding: .zarray (Zarr v2) or an
 * array's zarr.json (Zarr v3) parsed strictly into shape, chunks, dtype, codec chain
 * (core/zarr_codec.h), fill value and chunk key encoding; and a directory beneath the data
 * root resolved to an array - the array itself, or level `level` of an OME-NGFF multiscale
 * group ("multiscales"[0] "datasets"[level] "path" of .zattrs, or of a v3 group's
 * attributes, under "ome" as NGFF 0.5 writes them).
 *
 * Accepted (v2): zarr_format 2; shape and chunks of 1..ZARR_CODEC_MAX_DIMS positive
 * integers, equally long; dtype |u1 |i1 and the 2-, 4- and 8-byte integers in either byte
 * order; order "C" or "F"; compressor null or blosc / zstd / zlib / gzip; filters null or
 * []; fill_value null (0) or an integer that fits the dtype; dimension_separator absent
 * ("."), "." or "/".
 * Accepted (v3): zarr_format 3, node_type "array", data_type int8..int64 / uint8..uint64,
 * chunk_grid "regular", chunk_key_encoding "default" (keys "c/0/0") or "v2" (keys "0.0"),
 * either separator, no storage_transformers, fill_value an integer, and codecs: transpose,
 * bytes (either endian), then blosc / zstd / gzip; "sharding_indexed" and other codecs are
 * refused by zarr_codec_lookup naming them.
 * For intensity channels (zarr_array_parse_intensity, zarr_array_open with intensity) the
 * float dtypes are accepted too, with float fill values (see zarr_array_parse_intensity).
 * Everything else is ERROR_UNPROCESSABLE naming the field and value
 * (non-empty filters name the filter ids); an array of more than ZARR_ARRAY_MAX_CHUNKS
 * chunks is ERROR_TOO_LARGE. Metadata files are opened through core/confine (symlinks
 * that stay inside the root work; one that leaves it is ERROR_FORBIDDEN), must be regular
 * files of at most json_max bytes and one JSON object. Parsing is bounded by
 * core/json_scan: linear in the text, no allocation; opening reads at most three files of
 * json_max bytes each per directory it looks at (an array, or a group and its level).
 * Thread-safe.
 */
#ifndef TESSERA_CORE_ZARR_ARRAY_H
#define TESSERA_CORE_ZARR_ARRAY_H

#include "error.h"
#include "npy.h"
#include "zarr_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Chunks one array may have: keeps every count and key in range, refuses absurd grids. */
#define ZARR_ARRAY_MAX_CHUNKS ((uint64_t)1 << 32)

/* Longest chunk key: ZARR_CODEC_MAX_DIMS indices of up to 20 digits, separators, "c/". */
#define ZARR_ARRAY_KEY_MAX 200

struct zarr_array_meta {
    unsigned zarr_format; /* 2 or 3 */
    unsigned ndim;
    uint64_t shape[ZARR_CODEC_MAX_DIMS];
    uint64_t chunks[ZARR_CODEC_MAX_DIMS];
    struct npy_dtype dtype;
    struct zarr_codec_chain chain; /* decodes one stored chunk to C-order native elements */
    uint64_t fill_bits;            /* a missing chunk's element (zarr_chunk_fill) */
    char separator;                /* between chunk indices in a key: '.' or '/' */
    bool key_prefix_c;             /* v3 default encoding: keys start with "c" and separator */
    uint64_t n_chunks;             /* chunks in the grid */
};

/* Parse the .zarray text (len bytes, need not be NUL-terminated); name (a path) starts
 * every message. Fails as described above. */
enum error_code zarr_array_parse_v2(const char *text, size_t len, const char *name,
                                    struct zarr_array_meta *meta,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Parse an array's zarr.json text, as zarr_array_parse_v2. */
enum error_code zarr_array_parse_v3(const char *text, size_t len, const char *name,
                                    struct zarr_array_meta *meta,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* zarr_array_parse_v2 (format 2) or _v3 (format 3) for an intensity channel: float dtypes
 * are accepted as well (meta->dtype.floating): v2 "<f4" ">f4" "<f8" ">f8", v3 "float32" and
 * "float64", with a fill_value that is null (0.0), a JSON number, "NaN", "Infinity",
 * "-Infinity" or (v3) "0x" and the element's bits in hex. */
enum error_code zarr_array_parse_intensity(unsigned format, const char *text, size_t len,
                                           const char *name, struct zarr_array_meta *meta,
                                           struct error_info *err) ERROR_MUST_CHECK;

/* The key of the chunk at grid position idx[0..ndim) ("0.3.1", "0/3/1", "c/0/3/1") into buf; false
 * when it does not fit. */
bool zarr_array_chunk_key(const struct zarr_array_meta *meta, const uint64_t *idx, char *buf,
                          size_t size);

/* Resolve path (len bytes, beneath root_fd) to an array: a directory with .zarray or an
 * array zarr.json, or a
 * multiscale group whose dataset `level` is one. array_path (size bytes) receives the
 * array's path beneath the root, NUL-terminated, and meta its metadata. A directory that is
 * neither, a level the group does not have, and bad metadata are ERROR_UNPROCESSABLE naming
 * the path; confine_open's errors pass through. With intensity the metadata is parsed as
 * zarr_array_parse_intensity does (float dtypes accepted). */
enum error_code zarr_array_open(int root_fd, const char *path, size_t len, unsigned level,
                                size_t json_max, bool intensity, char *array_path, size_t size,
                                struct zarr_array_meta *meta,
                                struct error_info *err) ERROR_MUST_CHECK;

/* Levels and channel colours of a directory (len bytes at path, beneath root_fd). */
#define ZARR_ARRAY_MAX_LEVELS 32u /* levels of a multiscale group that are looked at */
#define ZARR_ARRAY_MAX_COLORS 16u /* omero.channels colours kept */

struct zarr_array_group {
    unsigned levels;   /* datasets of the multiscale group (at most ZARR_ARRAY_MAX_LEVELS); 1
                        * for an array or a directory without multiscales */
    unsigned n_colors; /* omero.channels[i].color ("rrggbb") of channels 0..n_colors-1 */
    uint8_t colors[ZARR_ARRAY_MAX_COLORS][3];
};

/* Read what zarr_array_open's group lookup reads (.zarray, zarr.json, .zattrs, the same
 * limits) and count the levels; colours stop at the first channel without a valid one. A
 * group that lists no datasets is ERROR_UNPROCESSABLE; confine_open's errors and bad JSON
 * files pass through. */
enum error_code zarr_array_group_read(int root_fd, const char *path, size_t len, size_t json_max,
                                      struct zarr_array_group *group,
                                      struct error_info *err) ERROR_MUST_CHECK;
/* The attributes of the OME-NGFF multiscale group at path (len bytes, beneath root_fd): the
 * v2 .zattrs, or the "attributes" of a v3 zarr.json (its "ome" member when NGFF 0.5 nests
 * "multiscales" there). *text receives the file (the caller frees it), *attrs the object
 * holding "multiscales" and *end the end of the text, for core/json_scan. A directory with
 * neither is ERROR_UNPROCESSABLE naming the path (as neither a TIFF nor an NGFF image);
 * confine_open's errors pass through. */
enum error_code zarr_array_group_attrs(int root_fd, const char *path, size_t len, size_t json_max,
                                       char **text, const char **attrs, const char **end,
                                       struct error_info *err) ERROR_MUST_CHECK;

#endif
