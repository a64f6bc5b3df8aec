/*
 * classify.h - say what an image file is and which reader should open it.
 *
 * Content decides, never the path: a TIFF is recognised by its header, OME by the OME-XML
 * in the first ImageDescription, a vendor slide by OpenSlide's own detector rules applied
 * in OpenSlide's order, a Zarr store by the keys of its small JSON metadata files. The
 * answer says what libvips, libtiff and OpenSlide will do with the file (can_use_vips,
 * warnings for what they repair or skip) and what a pipeline needs next (pixel size,
 * channel names, NGFF labels).
 *
 * The TIFF walk is our own: it reads the 8/16-byte header, then every IFD of the main chain
 * (entry table only, through a 4 KiB read window so neighbouring IFDs cost one pread),
 * the SubIFDs listed in IFD 0, the first and last bytes of the descriptions it inspects,
 * and the strip/tile offset tables needed to prove the pixel data lies inside the file.
 * It never decodes a pixel. Loops are caught with a set of visited IFD offsets, and the
 * IFD count is capped (max_ifds). Cost: O(IFDs + tags) reads, typically one pread per
 * small file and one per page of a big multi-page file; memory is O(1) except the visited
 * set beyond 64 IFDs. Workload: batches of thousands of files from /classify and /scan.
 *
 * Parts: core/classify_tiff.c walks and detects (over core/tiff_ifd, the TIFF structure
 * reader, and core/xml_head for the text tags), core/classify_zarr.c reads Zarr metadata (with
 * core/json_scan); this file holds the entry points below.
 *
 * Every function here is thread-safe and reentrant: results go into caller storage, and
 * the only heap use is bounded scratch freed before return.
 */
#ifndef TESSERA_CORE_CLASSIFY_H
#define TESSERA_CORE_CLASSIFY_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define CLASSIFY_NAME_MAX 24 /* format, vendor, dtype and compression names, with the NUL */

enum classify_container {
    CLASSIFY_CONTAINER_UNKNOWN = 0, /* readable, but neither TIFF nor Zarr */
    CLASSIFY_CONTAINER_TIFF,
    CLASSIFY_CONTAINER_BIGTIFF,
    CLASSIFY_CONTAINER_ZARR
};

enum classify_reader {
    CLASSIFY_READER_NONE = 0,
    CLASSIFY_READER_VIPS,       /* libvips / libtiff can decode it */
    CLASSIFY_READER_OPENSLIDE,  /* a real vendor slide (never generic-tiff) */
    CLASSIFY_READER_BIOFORMATS, /* a TIFF whose codec libtiff lacks (JPEG 2000, ...) */
    CLASSIFY_READER_ZARR
};

/* VALIS get_img_type, decided from content: "img" for a plain raster image, "slide" for a
 * vendor slide, an OME-TIFF or a Bio-Formats-only TIFF, null for anything else (including
 * directories, as VALIS does). */
enum classify_img_type {
    CLASSIFY_IMG_TYPE_NULL = 0,
    CLASSIFY_IMG_TYPE_IMG,
    CLASSIFY_IMG_TYPE_SLIDE
};

#define CLASSIFY_WARNINGS_MAX 3   /* warnings kept per file; later ones are dropped */
#define CLASSIFY_WARNING_LEN  160 /* bytes of one warning, with the NUL */

/* Associated images of a slide (bits of classify_result.associated): pages that are not
 * pyramid levels, named as OpenSlide names them. */
enum classify_associated {
    CLASSIFY_ASSOCIATED_THUMBNAIL = 1,
    CLASSIFY_ASSOCIATED_LABEL = 2,
    CLASSIFY_ASSOCIATED_MACRO = 4
};

#define CLASSIFY_CHANNEL_NAMES_MAX 8  /* channel names kept per file */
#define CLASSIFY_CHANNEL_NAME_LEN  32 /* bytes of one channel name, with the NUL (cut) */
#define CLASSIFY_DIM_ORDER_MAX     8  /* "XYZCT" and the NUL */
#define CLASSIFY_UNIT_MAX          12 /* a unit symbol ("µm", "nm", "s") with the NUL */

/* The physical size of one pixel along x, y and z: 0 where not known; each unit is a UCUM /
 * OME symbol ("µm", "nm", "mm", ...), "" where its size is not known. source names what gave
 * them: "ome" (OME-XML PhysicalSize*), "aperio-mpp" (MPP in an Aperio description),
 * "tiff-resolution" (XResolution/YResolution with ResolutionUnit inch or cm), "ngff"
 * (coordinateTransformations scale of the first dataset), or "" (nothing known). */
struct classify_physical {
    double size[3];
    char unit[3][CLASSIFY_UNIT_MAX];
    char source[CLASSIFY_NAME_MAX];
};

#define CLASSIFY_LABELS_MAX     4  /* OME-NGFF label images listed per image */
#define CLASSIFY_LABEL_NAME_LEN 32 /* bytes of a label name, with the NUL */
#define CLASSIFY_LABEL_PATH_LEN 64 /* bytes of a label's source image path, with the NUL */

/* One OME-NGFF label image of an image group: labels/NAME, and its image-label metadata. */
struct classify_label {
    char name[CLASSIFY_LABEL_NAME_LEN];   /* the store path is "labels/" name */
    bool image_label;                     /* labels/NAME has image-label metadata */
    uint32_t colors;                      /* entries of image-label colors */
    char source[CLASSIFY_LABEL_PATH_LEN]; /* image-label source.image ("../../"), or "" */
};

/* One classification. Plain data: copyable with memcpy, no pointers. Strings are
 * NUL-terminated; an empty vendor means "not an OpenSlide slide" (null), an empty dtype or
 * compression means "not known". */
struct classify_result {
    enum classify_container container;
    char format[CLASSIFY_NAME_MAX];      /* ome-tiff imagej-tiff svs ndpi scn philips ventana
                                            trestle huron argos tiff ome-zarr zarr, or "" */
    char vendor[CLASSIFY_NAME_MAX];      /* hamamatsu trestle aperio huron argos leica philips
                                            ventana generic-tiff, or "" */
    char dtype[CLASSIFY_NAME_MAX];       /* numpy name: bool uint8 int16 float32 complex64 ... */
    char compression[CLASSIFY_NAME_MAX]; /* none lzw deflate jpeg zstd ... or "tag-N" */
    bool is_ome;
    bool is_bigtiff;
    bool is_imagej;
    bool tiled;
    bool can_use_openslide;
    bool can_use_vips;
    enum classify_reader reader;
    enum classify_img_type img_type;
    uint64_t width;
    uint64_t height;
    uint32_t channels;   /* samples per pixel, or OME SizeC, or the Zarr "c" axis */
    uint32_t tile_width; /* TIFF tile or Zarr chunk size; 0 when not tiled */
    uint32_t tile_height;
    uint32_t pages;  /* IFDs in the main chain (0 for Zarr) */
    uint32_t levels; /* pyramid levels: SubIFDs, reduced pages or multiscales datasets;
                        never a thumbnail, label, macro or mask page */
    char vendor_detector[CLASSIFY_NAME_MAX]; /* the rule that decided vendor, or "" */
    struct classify_physical physical;
    uint64_t size_z; /* OME SizeZ / SizeT, or the NGFF z / t axis length; 0 = not known */
    uint64_t size_t_;
    char dimension_order[CLASSIFY_DIM_ORDER_MAX]; /* OME DimensionOrder, or "" */
    uint8_t channel_name_count;                   /* entries of channel_names in use */
    /* OME Channel Name or NGFF omero.channels label, first CLASSIFY_CHANNEL_NAMES_MAX, in
     * order; a channel without a name is "" */
    char channel_names[CLASSIFY_CHANNEL_NAMES_MAX][CLASSIFY_CHANNEL_NAME_LEN];
    uint8_t label_count;                               /* entries of labels in use */
    struct classify_label labels[CLASSIFY_LABELS_MAX]; /* OME-NGFF labels/ of the image */
    uint8_t associated;                                /* bits of enum classify_associated */
    uint8_t warning_count;                             /* entries of warnings in use */
    /* defects a reader repairs or skips (a broken SubIFD, bogus StripByteCounts), each a
     * sentence; the file is still classified from what readers do read */
    char warnings[CLASSIFY_WARNINGS_MAX][CLASSIFY_WARNING_LEN];
};

struct classify_options {
    unsigned max_ifds;    /* IFDs walked per file, SubIFDs included; 0 = LIMIT_MAX_IFDS */
    size_t zarr_json_max; /* bytes of one Zarr JSON metadata file; 0 = LIMIT_ZARR_JSON_MAX */
};

/*
 * Classify the object open at fd: a regular file (TIFF or anything else) or a directory
 * (a Zarr store, or a plain directory). fd is path (len bytes, relative to root_fd) as
 * confine_open opened it; st is fd's fstat if the caller has it, else NULL. The caller keeps
 * owning fd; classify only reads it (pread, so the file offset is untouched). A directory's
 * metadata files are opened with confine_open from root_fd at path/NAME, so a symbolic link
 * in a store may lead anywhere beneath the root and never out of it (one that does makes the
 * store ERROR_UNPROCESSABLE, "... is a symlink that leads outside the data root"); the store
 * is named again for each file, so one replaced during the call may mix old and new files.
 * Returns ERROR_OK with *out filled (container UNKNOWN for a readable non-image),
 * ERROR_UNPROCESSABLE for a corrupt TIFF or Zarr (the detail names the defect: truncated,
 * IFD loop, offset past end of file, ...) or too many IFDs (defects a reader repairs or
 * skips - a broken SubIFD or label group, bogus StripByteCounts - are ERROR_OK with
 * out->warnings instead), ERROR_IO when a read fails,
 * ERROR_NO_MEMORY, and for a Zarr metadata file the errors of confine_open. Thread-safe.
 */
enum error_code classify_fd_at(int root_fd, const char *path, size_t len, int fd,
                               const struct stat *st, const struct classify_options *opt,
                               struct classify_result *out,
                               struct error_info *err) ERROR_MUST_CHECK;

/* classify_fd_at with fd as its own root: a directory's metadata files are confined to the
 * directory itself. For callers that have no data root (tools, tests). */
enum error_code classify_fd(int fd, const struct stat *st, const struct classify_options *opt,
                            struct classify_result *out, struct error_info *err) ERROR_MUST_CHECK;

/*
 * Classify a file held in memory (len bytes at buf; buf may be NULL when len is 0): the
 * same TIFF walk with every read bounds-checked against len. No endpoint uses it (uploads
 * go to /overlap, which decodes with core/load): the fuzzer (tests/fuzz/fuzz_classify.c)
 * and test_classify, which checks it against classify_fd, do. Same results and errors as
 * classify_fd on a regular file. Thread-safe.
 */
enum error_code classify_buffer(const void *buf, size_t len, const struct classify_options *opt,
                                struct classify_result *out,
                                struct error_info *err) ERROR_MUST_CHECK;

/* Copy src into one of the name fields of a struct classify_result (CLASSIFY_NAME_MAX bytes),
 * cut to fit; for the parts of classify (core/classify_tiff.c, core/classify_zarr.c). */
void classify_name_copy(char *dst, const char *src);

/* Add a warning to r (printf format), cut to CLASSIFY_WARNING_LEN; dropped once
 * CLASSIFY_WARNINGS_MAX are kept. For the parts of classify. */
void classify_warn(struct classify_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "thumbnail", "label" or "macro" for one bit of enum classify_associated, else NULL. */
const char *classify_associated_name(unsigned bit);

/* Stable names for the enums; NULL for CLASSIFY_READER_NONE and CLASSIFY_IMG_TYPE_NULL
 * (they render as JSON null). */
const char *classify_container_name(enum classify_container c);
const char *classify_reader_name(enum classify_reader r);
const char *classify_img_type_name(enum classify_img_type t);

#endif
