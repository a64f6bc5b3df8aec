/*
 * classify_zarr.h - the Zarr half of classify (core/classify.h): is a directory a Zarr store,
 * which kind, and what does its first array hold.
 *
 * A directory is a Zarr store when it holds .zarray / .zgroup (v2) or zarr.json (v3). It is
 * OME-Zarr when multiscales metadata is present (v2 .zattrs "multiscales", v3
 * attributes.ome.multiscales or attributes.multiscales) or the bioformats2raw layout key,
 * whose series 0 group then holds the multiscales. Keys decide, never version strings. The
 * first dataset's array metadata gives shape, dtype, chunks and compression. Metadata files
 * are opened through core/confine, like every other path, read whole (each at most json_max
 * bytes) and queried with core/json_scan.
 *
 * Cost: at most seven small metadata files opened and read; memory: one file at a time.
 */
#ifndef TESSERA_CORE_CLASSIFY_ZARR_H
#define TESSERA_CORE_CLASSIFY_ZARR_H

#include "classify.h"

/*
 * Classify the directory dir (dir_len bytes, relative to root_fd; "" when root_fd is the
 * directory itself). Metadata file NAME is opened with confine_open from root_fd as
 * dir/NAME, so symbolic links are followed while they stay beneath root_fd; a NAME taken
 * from the metadata (a dataset path) with an empty, "." or ".." component, or more than 8
 * components, is treated as absent, as is a file missing or behind a non-directory. Returns
 * ERROR_OK with *out filled (container UNKNOWN for a plain directory); fails like classify_fd
 * on a directory, with *out zeroed (container UNKNOWN). Thread-safe.
 */
enum error_code classify_zarr_dir(int root_fd, const char *dir, size_t dir_len, size_t json_max,
                                  struct classify_result *out,
                                  struct error_info *err) ERROR_MUST_CHECK;

#endif
