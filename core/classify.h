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

#define CLASSIFY_DIMS_MAX       8 /* dimensions of a Zarr array described (as core/zarr_codec) */
#define CLASSIFY_AXIS_LEN       8 /* bytes of an NGFF axis name, with the NUL (cut) */
#define CLASSIFY_CODEC_LEN      48 /* bytes of a codec summary ("blosc/zstd/shuffle"), with the NUL */
#define CLASSIFY_CODECS_MAX     6   /* codec names kept per array */
#define CLASSIFY_CODEC_NAME     20  /* bytes of one codec name, with the NUL (cut) */
#define CLASSIFY_LEVELS_MAX     6   /* multiscale levels whose shape is reported */
#define CLASSIFY_LEVEL_DIMS     5   /* dimensions of a level shape kept (NGFF has at most 5) */
#define CLASSIFY_LEVEL_PATH_LEN 16  /* bytes of a level dataset path, with the NUL */
#define CLASSIFY_PATH_LEN       48  /* bytes of a path inside a store, with the NUL */
#define CLASSIFY_FILL_LEN       32  /* bytes of a fill_value's JSON text, with the NUL */
#define CLASSIFY_DETAIL_LEN     128 /* bytes of why /overlap refuses an input, with the NUL */
#define CLASSIFY_SERIES_MAX     3   /* runs of alike TIFF pages reported */

/* One level of an OME-NGFF multiscale group: its dataset path and its array's shape. */
struct classify_zarr_level {
    char path[CLASSIFY_LEVEL_PATH_LEN];
    uint8_t ndim; /* 0 when the level's metadata could not be read or has over 5 dimensions */
    uint64_t shape[CLASSIFY_LEVEL_DIMS];
};

/* The array a Zarr store holds (the store itself, or level 0 of a multiscale group), as its
 * own metadata describes it. zarr_format 0 means no array was described (a group without
 * multiscales, or a labels group). Strings are NUL-terminated, "" when not known. */
struct classify_zarr {
    uint8_t zarr_format;                /* 2 or 3 of the store; 0 = not a Zarr store */
    bool is_group;                      /* the store's root is a group */
    char array_path[CLASSIFY_PATH_LEN]; /* the described array inside the store, "" = root */
    uint8_t ndim;                       /* 0 = no array described */
    uint64_t shape[CLASSIFY_DIMS_MAX];
    uint64_t chunks[CLASSIFY_DIMS_MAX];       /* v3: the chunk grid's (a shard's) shape */
    uint64_t inner_chunks[CLASSIFY_DIMS_MAX]; /* sharding_indexed chunk_shape; sharded only */
    char axes[CLASSIFY_DIMS_MAX][CLASSIFY_AXIS_LEN]; /* NGFF axis names, all "" when none */
    char dtype_raw[CLASSIFY_NAME_MAX];  /* as the metadata spells it: "<u2", "uint16" */
    char order;                         /* 'C' or 'F' (v2 "order"; v3 is C, see codecs) */
    char separator;                     /* '.' or '/' between chunk indices */
    char chunk_key_encoding[8];         /* v3 "default" or "v2"; "" for v2 */
    char fill_value[CLASSIFY_FILL_LEN]; /* fill_value: a number or literal's JSON text, or the
                                           text of a string; "" when not kept */
    bool fill_is_string;                /* fill_value is a string's text ("NaN") */
    char codec[CLASSIFY_CODEC_LEN];     /* the compression: "blosc/zstd/shuffle", "zstd",
                                           "gzip", "none"; sharded: the inner chunks' */
    bool sharded;                       /* v3 sharding_indexed */
    uint8_t codec_count;                /* entries of codecs in use */
    /* v3: the codecs list (sharded: the inner codecs), in order; v2: the filter ids, then
     * the compressor id */
    char codecs[CLASSIFY_CODECS_MAX][CLASSIFY_CODEC_NAME];
    uint8_t level_count; /* entries of levels in use */
    struct classify_zarr_level levels[CLASSIFY_LEVELS_MAX];
    uint8_t label_name_count; /* a labels group: its "labels" list */
    char label_names[CLASSIFY_LABELS_MAX][CLASSIFY_LABEL_NAME_LEN];
    bool overlap_ok;                          /* /overlap reads the array (core/zarr_array, load) */
    char overlap_detail[CLASSIFY_DETAIL_LEN]; /* why not, when !overlap_ok */
};

/* A run of consecutive pages of a TIFF's main IFD chain that agree in size, pixel type,
 * layout and compression. */
struct classify_tiff_series {
    uint32_t first_page;
    uint32_t pages;
    uint64_t width, height;
    char dtype[CLASSIFY_NAME_MAX];
    char compression[CLASSIFY_NAME_MAX];
    bool tiled;
    uint32_t tile_width, tile_height; /* tiled only */
    uint32_t rows_per_strip;          /* stripped only */
};

/* The pages of a TIFF as one (z, y, x) volume: present when ImageJ's description says
 * images > 1, OME says SizeZ > 1, or all pages of the main chain are alike (several pages
 * of one series). shape[0] is the pages /overlap's "volume": true reads as z-slices. */
enum classify_stack_source {
    CLASSIFY_STACK_NONE = 0,
    CLASSIFY_STACK_IMAGEJ,
    CLASSIFY_STACK_OME,
    CLASSIFY_STACK_PAGES
};

struct classify_stack {
    enum classify_stack_source source;
    uint64_t shape[3]; /* pages, height, width */
    char dtype[CLASSIFY_NAME_MAX];
    uint64_t slices;          /* ImageJ slices= or OME SizeZ; 0 = not said */
    uint32_t imagej_channels; /* ImageJ channels= and frames= (0 = not said) */
    uint32_t imagej_frames;
    bool overlap_volume;                      /* /overlap with "volume": true accepts the pages */
    char overlap_detail[CLASSIFY_DETAIL_LEN]; /* why not, when !overlap_volume */
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
    struct classify_zarr zarr;                         /* Zarr stores: the array's layout */
    struct classify_stack stack;                       /* TIFF: the pages as a volume */
    uint32_t series_count; /* TIFF: runs of alike pages in the main chain (all of them) */
    struct classify_tiff_series series[CLASSIFY_SERIES_MAX]; /* the first of those runs */
    uint8_t associated;                                      /* bits of enum classify_associated */
    uint8_t warning_count;                                   /* entries of warnings in use */
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
const char *classify_stack_source_name(enum classify_stack_source s);

#endif
