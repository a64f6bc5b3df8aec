/*
 * load.h - decode integer label pages of TIFF files, strip/tile-parallel, streaming two of
 * them band by band into an overlap counter.
 *
 * A source is a descriptor the caller opened (under the data root) or an upload held in
 * memory; both are read through libtiff client I/O (pread on the descriptor, a bounds-checked
 * cursor on the buffer), so every thread opens its own TIFF handle on the same source without
 * sharing a file offset, and the caller's descriptor is never closed here. libtiff's messages
 * are captured per handle into the error detail, never printed. Pages are reached by walking
 * TIFFReadDirectory (capped by max_ifds); the other threads jump to the found IFD offset.
 *
 * Accepted pages: one sample per pixel, unsigned or signed integers of 8/16/32/64 bits,
 * strips or tiles, either byte order, compression none / LZW / deflate / PackBits / zstd /
 * LZMA (with any predictor libtiff decodes). Everything else - float data, several samples,
 * JPEG/OJPEG, other codecs, a missing page, a corrupt or truncated file - is
 * ERROR_UNPROCESSABLE with a detail naming the problem; width * height over max_pixels is
 * ERROR_TOO_LARGE. Sizes are checked before anything is allocated. Pixels are decoded only
 * with TIFFReadEncodedStrip / TIFFReadEncodedTile.
 *
 * Cost: one decode of every strip or tile. load_overlap holds per thread one band (a strip, or
 * a row of tiles) of each image, so its memory does not grow with image height. Tuned for:
 * 4-64 Mpixel deflate/LZW label images, 1-8 threads.
 */
#ifndef TESSERA_CORE_LOAD_H
#define TESSERA_CORE_LOAD_H

#include "error.h"
#include "overlap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the TIFF bytes come from. The caller keeps fd open / data alive during the call. */
struct load_source {
    int fd;           /* >= 0: read with pread (any file offset is left alone) */
    const void *data; /* when fd < 0: the whole file in memory */
    size_t size;      /* bytes at data */
    const char *name; /* for error details ("a", a relative path); NULL = "image" */
    unsigned page;    /* 0-based page in the main IFD chain */
};

struct load_options {
    uint64_t max_pixels; /* width * height cap (ERROR_TOO_LARGE) */
    unsigned max_ifds;   /* pages that may be walked to reach a page */
    size_t max_alloc;    /* cap on any one allocation by libtiff or for a band/tile */
    unsigned threads;    /* decoding threads (0 counts as 1) */
    int64_t deadline;    /* core/clock.h ns; 0 = none; past it: ERROR_TIMEOUT */
};

/* Defaults: LIMIT_MAX_PIXELS, LIMIT_MAX_IFDS, 1 GiB max_alloc, 1 thread, no deadline. */
void load_options_init(struct load_options *options);

/* What a page holds, as far as decoding it goes. */
struct load_info {
    uint32_t width;
    uint32_t height;
    enum overlap_dtype dtype;
    uint16_t bits;        /* 8, 16, 32 or 64 */
    uint16_t compression; /* TIFF Compression tag value */
    bool tiled;
    bool big_endian;     /* file byte order (pixels are always returned in native order) */
    uint32_t band_rows;  /* rows per strip, or tile height */
    uint32_t tile_width; /* 0 for strips */
    uint32_t bands;      /* strips, or rows of tiles */
};

/*
 * Open the page, validate it and describe it in *info, decoding nothing. Fails as described
 * at the top of this header; ERROR_IO when reading the descriptor fails. Thread-safe.
 */
enum error_code load_probe(const struct load_source *source, const struct load_options *options,
                           struct load_info *info, struct error_info *err) ERROR_MUST_CHECK;

/*
 * Count the (a, b) label pairs of two pages of equal shape into `into`, decoding both band by
 * band in lockstep: each of up to options->threads threads (core/parallel: fewer when the
 * thread budget has no free slot) takes the next unit of rows, decodes the bands of a and b
 * covering it with its own two handles, counts into its own counter, and the counters are
 * merged into `into` at the end. Of several failing units, the first in row order decides. info_a /
 * info_b (may be NULL) receive the pages' descriptions, also on a shape mismatch. Fails like
 * load_probe, with ERROR_UNPROCESSABLE naming both shapes (height x width) when they differ, and
 * like overlap_counter_add (negative labels, max_pairs). After a failure, `into` must only be
 * freed. Thread-safe for distinct `into` counters.
 */
enum error_code load_overlap(const struct load_source *a, const struct load_source *b,
                             const struct load_options *options, struct overlap_counter *into,
                             struct load_info *info_a, struct load_info *info_b,
                             struct error_info *err) ERROR_MUST_CHECK;

#endif
