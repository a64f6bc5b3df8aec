/*
 * overlap_file.h - one /overlap pair: two label images, named beneath the data root or held
 * in memory, counted into a finished overlap result, with both pages described.
 *
 * The one core call per pair: open both paths with confine_open (a regular file is a TIFF
 * file, a directory a Zarr array or OME-NGFF multiscale group; uploads are TIFF or .npy
 * bytes), count them band by band with load_overlap (parallel decoding,
 * memory bounded by threads x band) into counters that together stay within
 * max_request_memory (struct overlap_budget; and at most max_pairs pairs each when set), and
 * finish the
 * counts with overlap_counter_finish (sorted pairs, areas, IoU and matching as options.overlap
 * asks). Cost: one decode of each image; memory: the decoding bands plus O(distinct pairs).
 */
#ifndef TESSERA_CORE_OVERLAP_FILE_H
#define TESSERA_CORE_OVERLAP_FILE_H

#include "error.h"
#include "load.h"
#include "overlap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One label image: a path beneath the root, or (path NULL) bytes in memory. */
struct overlap_file_image {
    const char *path; /* relative to the data root, len bytes; borrowed */
    size_t len;
    const void *data; /* when path is NULL: the TIFF or .npy file's bytes; borrowed */
    size_t size;
    bool npy;         /* the bytes in memory are a .npy file (else a TIFF file) */
    const char *name; /* names an in-memory image in error details ("a", "b") */
    unsigned page;    /* TIFF: 0-based page in the main IFD chain */
    bool volume;      /* TIFF: all pages of the main IFD chain are the z-slices of a volume */
    unsigned level;   /* a Zarr multiscale group: the level read (0 = full resolution) */
};

struct overlap_file_options {
    int root_fd;                 /* the data root */
    uint64_t max_pixels;         /* depth * height * width of each image (ERROR_TOO_LARGE) */
    size_t max_decode_buffer;    /* one decoded strip or row of tiles, and any libtiff allocation */
    unsigned max_ifds;           /* pages walked to reach a page */
    size_t zarr_json_max;        /* bytes of one Zarr metadata file; 0 = LIMIT_ZARR_JSON_MAX */
    uint64_t max_pairs;          /* distinct (a, b) pairs per counting thread; 0 = no cap */
    uint64_t max_request_memory; /* bytes the counting may hold (overlap_budget); 0 = none */
    unsigned threads;            /* decoding threads for this pair (0 counts as 1) */
    int64_t deadline;            /* CLOCK_MONOTONIC ns (core/clock.h); 0 = none */
    struct overlap_options overlap;
};

/* What one pair gives: the counts (free with overlap_result_cleanup) and both pages. */
struct overlap_file_result {
    struct overlap_result counts;
    struct load_info info_a, info_b;
};

/*
 * Count image a against image b. On success out->counts is filled and owned by the caller
 * (overlap_result_cleanup), and info_a / info_b describe the pages. On failure out->counts
 * holds nothing to free, and err says why: confine_open's errors for a path (ERROR_FORBIDDEN,
 * ERROR_NOT_FOUND, a directory that is no Zarr array is ERROR_UNPROCESSABLE, ...), load_overlap's
 * (unsupported pixels, shapes that differ, ERROR_TOO_LARGE, ERROR_TIMEOUT past the deadline, ...)
 * and overlap_counter_finish's. Thread-safe.
 */
enum error_code overlap_file_count(const struct overlap_file_options *opt,
                                   const struct overlap_file_image *a,
                                   const struct overlap_file_image *b,
                                   struct overlap_file_result *out,
                                   struct error_info *err) ERROR_MUST_CHECK;

#endif
