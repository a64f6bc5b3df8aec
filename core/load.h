/*
 * load.h - the loader: label arrays of every input kind (a TIFF page, a TIFF stack, a .npy
 * array in memory, a Zarr array) delivered to the overlap counting as a stream of bands,
 * in parallel, with memory bounded by threads x band whatever the image size.
 *
 * An array is (depth, height, width): depth 1 for a 2-D image, the z-slices of a volume
 * otherwise. A band is band_depth slices x band_rows rows x the full width: a strip or a row
 * of tiles of one TIFF page, a block of .npy rows, a row of Zarr chunks. Each worker of a
 * parallel_run takes the next unit of bands, reads the bands of a and b covering it with
 * its own readers (its own libtiff handles, its own chunk buffers), counts into its own
 * counter, and the counters are merged at the end.
 *
 * TIFF: a source is a descriptor the caller opened (under the data root) or an upload held
 * in memory; both are read through libtiff client I/O (pread on the descriptor, a
 * bounds-checked cursor on the buffer), so every thread opens its own TIFF handle on the same
 * source without sharing a file offset, and the caller's descriptor is never closed here.
 * libtiff's messages are captured per handle into the error detail, never printed. Pages are
 * reached by walking TIFFReadDirectory (capped by max_ifds); the other threads jump to the
 * found IFD offset. With volume set every page of the main IFD chain is a z-slice; all must
 * have the same width, height and dtype (else ERROR_UNPROCESSABLE naming the page).
 *
 * Accepted TIFF pages: one sample per pixel, unsigned or signed integers of 8/16/32/64 bits,
 * strips or tiles, either byte order, compression none / LZW / deflate / PackBits / zstd /
 * LZMA (with any predictor libtiff decodes); with options.intensity also 32- and 64-bit IEEE
 * float pages (intensity channels, core/load_quantify.h). Everything else - float data
 * otherwise, several samples, JPEG/OJPEG, other codecs, a missing page, a corrupt or
 * truncated file - is ERROR_UNPROCESSABLE with a detail naming the problem. Pixels are
 * decoded only with TIFFReadEncodedStrip / TIFFReadEncodedTile.
 *
 * .npy: the whole file in memory (core/npy.h parses it strictly: versions 1.0-3.0, both
 * endians, C and Fortran order, integer dtypes, and with options.intensity also <f4 >f4 <f8
 * >f8 as floating data); a 2-D (y, x) or 3-D (z, y, x) array.
 *
 * Zarr: an array directory, or a multiscale group's level, beneath the data root
 * (core/zarr_array.h says which metadata is accepted); every file is opened through
 * core/confine; a band is a row of chunks (core/load_zarr.c). A (t, c, z, y, x) array
 * needs t = c = 1, unless select_c picks one index of its c axis. With options.intensity float32 /
 * float64 arrays are accepted as floating data.
 *
 * Limits, checked before anything is allocated: depth x height x width over max_pixels is
 * ERROR_TOO_LARGE, and so is a band (or one decoded chunk) over max_alloc bytes.
 *
 * Cost: one decode of every strip, tile or chunk (bands of a and b that do not line up are
 * decoded once per unit that needs them). Tuned for: 4-64 Mpixel label images, volumes of a
 * few hundred slices, 1-8 threads.
 */
#ifndef TESSERA_CORE_LOAD_H
#define TESSERA_CORE_LOAD_H

#include "error.h"
#include "overlap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The input kinds. */
enum load_kind {
    LOAD_TIFF, /* a TIFF page, or with volume set all pages as a stack */
    LOAD_NPY,  /* a .npy file in memory */
    LOAD_ZARR  /* a Zarr array, or a level of an OME-NGFF multiscale group, beneath a root */
};

/* Where the bytes come from. The caller keeps fd open / data alive during the call. */
struct load_source {
    enum load_kind kind; /* LOAD_TIFF when left zero */
    int fd;              /* LOAD_TIFF: >= 0: read with pread (any file offset is left alone) */
    const void *data;    /* LOAD_TIFF when fd < 0, LOAD_NPY: the whole file in memory */
    size_t size;         /* bytes at data */
    const char *name;    /* for error details ("a", a relative path); NULL = "image" */
    unsigned page;       /* LOAD_TIFF: 0-based page in the main IFD chain */
    bool volume;         /* LOAD_TIFF: all pages of the main IFD chain are z-slices */
    int root_fd;         /* LOAD_ZARR: the data root */
    const char *path;    /* LOAD_ZARR: the array or group directory beneath root_fd */
    size_t path_len;     /* bytes at path */
    unsigned level;      /* LOAD_ZARR: the multiscale level of a group */
    bool select_c;       /* LOAD_ZARR: read index c_index of dimension c_axis (an NGFF image's
                          * channel axis, before the last two): that dimension is dropped */
    unsigned c_axis;
    uint64_t c_index;
};

struct load_options {
    uint64_t max_pixels; /* depth * width * height cap (ERROR_TOO_LARGE) */
    unsigned max_ifds;   /* pages that may be walked to reach a page (or make a stack) */
    size_t max_alloc;    /* cap on any one allocation by libtiff, for a band, tile or chunk */
    size_t max_json;     /* cap on one Zarr metadata file, bytes */
    unsigned threads;    /* decoding threads (0 counts as 1) */
    int64_t deadline;    /* core/clock.h ns; 0 = none; past it: ERROR_TIMEOUT */
    bool intensity;      /* TIFF, .npy: also accept 32/64-bit float data (intensity channels) */
};

/* Defaults: LIMIT_MAX_PIXELS, LIMIT_MAX_IFDS, 1 GiB max_alloc, LIMIT_ZARR_JSON_MAX,
 * 1 thread, no deadline. */
void load_options_init(struct load_options *options);

/* What a source holds, as far as decoding it goes. */
struct load_info {
    enum load_kind kind;
    uint32_t depth; /* z-slices: 1 for a 2-D image */
    uint32_t width;
    uint32_t height;
    enum overlap_dtype dtype;
    uint16_t bits;        /* 8, 16, 32 or 64 */
    uint16_t compression; /* TIFF: Compression tag value of the (first) page; else 0 */
    bool tiled;           /* TIFF tiles, or Zarr chunks narrower than the array */
    bool big_endian;      /* stored byte order (pixels are always returned in native order) */
    uint32_t band_depth;  /* slices per band: the Zarr chunk depth, else 1 */
    uint32_t band_rows;   /* rows per band: strip rows, tile or chunk height, .npy block */
    uint32_t tile_width;  /* tile or chunk width; 0 for strips and .npy */
    uint32_t piece_cols;  /* columns a band is decoded in at once: the width, or for a tiled
                           * TIFF page whose row of tiles is over max_alloc, whole tiles that
                           * fit (0 = the width) */
    uint32_t bands;       /* bands down one slice */
    bool floating;        /* IEEE float samples (options.intensity only); dtype is then the
                           * unsigned type of the same width */
};

/*
 * Open the source, validate it and describe it in *info, decoding nothing. Fails as
 * described at the top of this header; ERROR_IO when reading fails. Thread-safe.
 */
enum error_code load_probe(const struct load_source *source, const struct load_options *options,
                           struct load_info *info, struct error_info *err) ERROR_MUST_CHECK;

/*
 * Count the (a, b) label pairs of two sources of equal shape into `into`, decoding both band
 * by band in lockstep: each of up to options->threads threads (core/parallel: fewer when the
 * thread budget has no free slot) takes the next unit of rows, reads the bands of a and b
 * covering it with its own two readers, counts into its own counter, and the counters are
 * merged into `into` at the end. Pixels are counted in raster order within a unit (slice by
 * slice, row by row), and error details give raster pixel indices. Of several failing units,
 * the first in unit order decides: raster order, except that a tiled page decoded in pieces
 * (info.piece_cols) orders its units by band of rows, then piece. info_a / info_b (may be NULL)
 * receive the sources' descriptions, also on a shape mismatch. Fails like load_probe, with
 * ERROR_UNPROCESSABLE naming both shapes (height x width, or depth x height x width when either is
 * a volume) when they differ, and like overlap_counter_add (negative labels, max_pairs). After a
 * failure, `into` must only be freed. Thread-safe for distinct `into` counters.
 */
enum error_code load_overlap(const struct load_source *a, const struct load_source *b,
                             const struct load_options *options, struct overlap_counter *into,
                             struct load_info *info_a, struct load_info *info_b,
                             struct error_info *err) ERROR_MUST_CHECK;

/* Whether a TIFF page with Compression tag value `compression` is one the TIFF kind decodes
 * (listed above, and configured in this libtiff). For core/classify's stack report. */
bool load_tiff_codec_accepted(uint16_t compression);

#endif
