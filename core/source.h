/*
 * source.h - the input kinds of core/load behind one interface (private to core/load*.c).
 *
 * A kind describes its source once, on the calling thread, into a struct source_layout that
 * is read-only afterwards and shared by all workers; each worker then opens a reader of its
 * own (handles, chunk buffers, codec scratch) and asks it for bands. Band (bz, by) is slices
 * [bz * band_depth, ...) and rows [by * band_rows, ...) at the full width (or, when a kind
 * sets info.piece_cols below the width, in pieces of that many columns), cut to the array,
 * written to dst as native-endian elements, slice-major then row-major. load.c allocates dst
 * (band_depth x band_rows x width elements) after describe has checked it against max_alloc.
 */
#ifndef TESSERA_CORE_SOURCE_H
#define TESSERA_CORE_SOURCE_H

#include "error.h"
#include "load.h"

#include <stdint.h>

struct source_layout {
    struct load_info info;
    void *priv; /* the kind's own description, freed by its cleanup */
};

struct source_ops {
    /* Validate and describe src (name for details) into *layout; may leave a reader in
     * *reader (or NULL) for the calling thread's worker to reuse. */
    enum error_code (*describe)(const struct load_source *src, const char *name,
                                const struct load_options *opt, struct source_layout *layout,
                                void **reader, struct error_info *err);
    /* A new reader for one worker. */
    enum error_code (*open)(const struct load_source *src, const char *name,
                            const struct load_options *opt, const struct source_layout *layout,
                            void **reader, struct error_info *err);
    /* Decode band (bz, by) into dst. */
    enum error_code (*read_band)(void *reader, const struct source_layout *layout, const char *name,
                                 uint32_t bz, uint32_t by, void *dst, struct error_info *err);
    /* Decode piece bx of band (bz, by): columns [bx * piece_cols, ...) cut to the width, as
     * rows of info.piece_cols elements. Needed only by kinds that set piece_cols below the
     * width (NULL otherwise). */
    enum error_code (*read_piece)(void *reader, const struct source_layout *layout,
                                  const char *name, uint32_t bz, uint32_t by, uint32_t bx,
                                  void *dst, struct error_info *err);
    void (*close)(void *reader); /* NULL is ignored */
    void (*cleanup)(struct source_layout *layout);
};

extern const struct source_ops source_tiff_ops; /* core/load_tiff.c */
extern const struct source_ops source_npy_ops;  /* core/load_npy.c */
extern const struct source_ops source_zarr_ops; /* core/load_zarr.c */

/* The shared band-size check of every kind: band_depth x band_rows x width elements of
 * bits / 8 bytes against opt->max_alloc (ERROR_TOO_LARGE naming what a band is). */
enum error_code source_check_band(const struct load_info *info, const struct load_options *opt,
                                  const char *name, const char *what, struct error_info *err);

/* The shared shape check: depth x height x width against opt->max_pixels. */
enum error_code source_check_voxels(const struct load_info *info, const struct load_options *opt,
                                    const char *name, struct error_info *err);

#endif
