/*
 * quantify_file.h - one /quantify request: a label image and its channels, named beneath the
 * data root or held in memory, opened, streamed through core/load_quantify and described.
 *
 * The one core call per request. Paths are opened with confine_open (a regular file is a
 * TIFF file, a directory a Zarr array or OME-NGFF multiscale group). One TIFF given as "all
 * pages" becomes one channel per page of its main IFD chain (an OME-TIFF of one page per
 * channel); its page count and OME channel names come from core/classify, through the
 * classification cache when there is one, so the file's metadata is read once. A channel
 * without a name takes its OME name, else "channel_<i>". One directory given as "all pages"
 * is an OME-NGFF multiscale image: each index of its "c" axis (multiscales[0].axes) in the
 * array of its level is a channel (core/load's select_c), named by omero.channels[].label.
 */
#ifndef TESSERA_CORE_QUANTIFY_FILE_H
#define TESSERA_CORE_QUANTIFY_FILE_H

#include "error.h"
#include "load.h"
#include "quantify.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

#define QUANTIFY_FILE_NAME_MAX 64 /* bytes of a channel name, with the NUL (cut to fit) */

/* One image: a path beneath the root, or (path NULL) bytes in memory. */
struct quantify_file_image {
    const char *path; /* relative to the data root, len bytes; borrowed */
    size_t len;
    const void *data; /* when path is NULL: the TIFF or .npy file's bytes; borrowed */
    size_t size;
    bool npy;         /* the bytes in memory are a .npy file (else a TIFF file) */
    const char *name; /* the channel's name (NULL: from the file or channel_<i>) */
    unsigned page;    /* TIFF: 0-based page */
    unsigned level;   /* Zarr multiscale group: the level read */
};

struct quantify_file_options {
    int root_fd;
    struct cache *cache; /* classification cache; NULL = none */
    uint64_t max_pixels;
    size_t max_decode_buffer;
    unsigned max_ifds;
    size_t zarr_json_max; /* 0 = LIMIT_ZARR_JSON_MAX */
    uint64_t max_labels;  /* distinct labels (ERROR_TOO_LARGE); 0 = no cap */
    bool values;          /* also median and Gini (load_quantify's value passes) */
    size_t max_channels;  /* channels after expanding pages (ERROR_TOO_LARGE); 0 = no cap */
    unsigned threads;
    int64_t deadline;
};

struct quantify_file_channel {
    char name[QUANTIFY_FILE_NAME_MAX];
    struct load_info info;
    bool level0; /* read from full resolution (a TIFF page, a group's level 0, an array) */
};

struct quantify_file_result {
    struct quantify_table table;
    struct load_info labels;
    struct quantify_file_channel *channels; /* table.channels entries */
};

/*
 * Quantify labels against channels[0 .. n). With all_pages set, n must be 1 and that TIFF's
 * pages are the channels. On success *out is the caller's (quantify_file_result_cleanup);
 * on failure it holds nothing to free. Errors: confine_open's for a path, classify's for an
 * all-pages file (and ERROR_UNPROCESSABLE for one that is no TIFF), ERROR_TOO_LARGE past
 * max_channels, and load_quantify's. Thread-safe.
 */
enum error_code quantify_file_run(const struct quantify_file_options *opt,
                                  const struct quantify_file_image *labels,
                                  const struct quantify_file_image *channels, size_t n,
                                  bool all_pages, struct quantify_file_result *out,
                                  struct error_info *err) ERROR_MUST_CHECK;

void quantify_file_result_cleanup(struct quantify_file_result *out);

#endif
