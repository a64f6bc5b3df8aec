/*
 * classify_stack.h - the TIFF pages of a file as series and as a (z, y, x) stack, for
 * core/classify_tiff.c: what /classify says about a stack and whether /overlap's
 * "volume": true would read it.
 *
 * The walk hands every page of the main IFD chain, in order, to classify_stack_add_page,
 * which groups consecutive pages that agree in size, pixel type, layout and compression into
 * series (classify_result.series) and remembers the first reason core/load would refuse the
 * pages as a volume: a page with several samples, non-integer or odd-width samples, a codec
 * core/load does not decode, or a size or dtype unlike page 0's (load.h lists what it
 * accepts; the codec list is core/load's own, load_tiff_codec_accepted). classify_stack_finish
 * then decides whether the pages form a stack (ImageJ images > 1, OME SizeZ > 1, or several
 * pages alike) and fills classify_result.stack.
 *
 * Cost: O(1) per page, no allocation, no reads. Pure functions of their arguments (and
 * libtiff's list of configured codecs); thread-safe for distinct walks.
 */
#ifndef TESSERA_CORE_CLASSIFY_STACK_H
#define TESSERA_CORE_CLASSIFY_STACK_H

#include "classify.h"

#include <stdbool.h>
#include <stdint.h>

/* What the walk read of one page (tags with libtiff's defaults applied). */
struct classify_stack_page {
    uint64_t width, height;
    uint64_t samples, bits, sample_format, compression;
    bool tiled;
    uint64_t tile_width, tile_height; /* tiled only */
    uint64_t rows_per_strip;          /* RowsPerStrip as stored; 0 when absent */
};

struct classify_stack_walk {
    struct classify_stack_page first; /* page 0 */
    struct classify_stack_page run;   /* the first page of the current series */
    uint32_t pages;
    char refused[CLASSIFY_DETAIL_LEN]; /* the first reason volume: true fails, or "" */
};

void classify_stack_walk_init(struct classify_stack_walk *w);

/* Add the next page of the main chain: extends or starts a series in out. */
void classify_stack_add_page(struct classify_stack_walk *w, const struct classify_stack_page *p,
                             struct classify_result *out);

/* Decide out->stack from the walk, IFD 0's ImageJ description (imagej_text, NUL-terminated;
 * NULL or "" when the file is not ImageJ) and OME's SizeZ (0 when not OME). */
void classify_stack_finish(const struct classify_stack_walk *w, const char *imagej_text,
                           uint64_t ome_size_z, struct classify_result *out);

#endif
