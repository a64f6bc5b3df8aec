/*
 * preview_zarr.h - the Zarr reader of core/preview: a Zarr array, or an OME-NGFF multiscale
 * group, beneath the data root (core/zarr_array.h says which metadata is accepted), its level
 * nearest the wanted size decoded and rendered (core/preview.h).
 *
 * Levels: a plain array is one level; a group's levels are multiscales[0].datasets in order
 * (level 0 the largest). Without `level`, the smallest level at least `size` on its longest
 * side is chosen (level 0 when none is), the same rule as TIFF; only that level's metadata and
 * chunks are read (the levels above it are looked at for their shape only).
 *
 * Axes, by the array's number of dimensions (NGFF's order): 2 (y, x); 3 (c, y, x); 4
 * (c, z, y, x); 5 (t, c, z, y, x). t is read at index 0 and z at its middle slice
 * (floor(depth / 2)); c gives the channels. Channel colours default to the group's
 * omero.channels[i].color where every shown channel has one, else the palette.
 *
 * Decoding: the chunks that hold the shown channels, that t and that z slice, every one opened
 * through core/confine (a symlink leaving the root is refused, a missing chunk is the fill
 * value), read whole (at most twice the decoded chunk size plus 4 KiB) and decoded by
 * core/zarr_codec, as the Zarr kind of core/load does. Samples (shown channels x height x
 * width) over options->max_decode are ERROR_TOO_LARGE before anything is allocated, and so
 * is a decoded chunk over 8 x max_decode bytes; an array of more chunks than
 * ZARR_ARRAY_MAX_CHUNKS is refused by its metadata parse. The deadline is checked before each
 * chunk (ERROR_TIMEOUT). Errors: core/zarr_array's and core/zarr_codec's (ERROR_UNPROCESSABLE
 * naming the file), ERROR_INVALID for a level or channel the image lacks, ERROR_NO_MEMORY.
 * Reentrant.
 */
#ifndef TESSERA_CORE_PREVIEW_ZARR_H
#define TESSERA_CORE_PREVIEW_ZARR_H

#include "confine.h"
#include "preview.h"
#include "zarr_array.h"

#include <sys/stat.h>

/* The level a preview will decode, found by preview_zarr_locate. */
struct preview_zarr_choice {
    struct zarr_array_meta meta;
    struct zarr_array_group group;
    char array_path[CONFINE_PATH_MAX + 1]; /* the level's array directory beneath the root */
    struct stat meta_st; /* its .zarray or zarr.json: the identity an ETag is made from */
    unsigned level;
    uint32_t full_width, full_height; /* level 0 */
};

/* Find the level of path (len bytes, beneath root_fd; metadata files of at most json_max
 * bytes) that o asks for, reading metadata only. */
enum error_code preview_zarr_locate(int root_fd, const char *path, size_t len, size_t json_max,
                                    const struct preview_options *o,
                                    struct preview_zarr_choice *choice,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Decode the located level's shown channels into *plane (free plane->v) and fill the facts
 * of *facts (rgb stays NULL); *ro receives o with the channels renumbered 0..n-1 and the
 * group's colours where o gives none, ready for preview_render. */
enum error_code preview_zarr_decode(int root_fd, const struct preview_zarr_choice *choice,
                                    const struct preview_options *o, struct preview_plane *plane,
                                    struct preview_options *ro, struct preview_image *facts,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Decode and render (preview_render) a located level into *out (preview_image_cleanup frees it). */
enum error_code preview_zarr_render(int root_fd, const struct preview_zarr_choice *choice,
                                    const struct preview_options *o, struct preview_image *out,
                                    struct error_info *err) ERROR_MUST_CHECK;

#endif
