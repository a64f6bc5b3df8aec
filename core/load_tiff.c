/*
 * load_tiff.c - the TIFF kind of core/load: a page, or all pages of the main IFD chain as the
 * z-slices of a volume, decoded strip by strip or by rows of tiles; see load.h.
 *
 * The one decision to know: every TIFF handle reads through our own client I/O (pread on the
 * caller's descriptor, or a cursor over an upload), never TIFFFdOpen. So handles on one file
 * share nothing - no file offset, no mapping (no SIGBUS on a file truncated under us) - and
 * each worker opens its own; the caller's descriptor is never closed by TIFFClose. describe
 * walks the IFD chain once and records each slice's IFD offset, so the other workers jump
 * there with TIFFSetSubDirectory. When the pages of a volume differ in strip or tile layout
 * a band is a whole page (still one page per worker).
 */
#include "alloc.h"
#include "limit.h"
#include "source.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#define LOAD_MSG_MAX 256

/* ------------------------------------------------------------------------------------------
 * Client I/O
 *
 * Reads past the end return what is there (libtiff reports the short read); a seek that
 * leaves a memory buffer, or overflows, fails. Read errors of the descriptor are remembered
 * so they become ERROR_IO rather than "corrupt file".
 */

struct load_io {
    int fd;
    const unsigned char *data;
    uint64_t size;
    uint64_t pos;
    int read_errno;
};

static tmsize_t io_read(thandle_t handle, void *buf, tmsize_t n)
{
    struct load_io *io = handle;
    if (n <= 0)
        return 0;
    if (io->fd < 0) {
        if (io->pos >= io->size)
            return 0;
        uint64_t avail = io->size - io->pos;
        size_t m = (uint64_t)n < avail ? (size_t)n : (size_t)avail;
        memcpy(buf, io->data + io->pos, m);
        io->pos += m;
        return (tmsize_t)m;
    }
    size_t done = 0, want = (size_t)n;
    while (done < want && io->pos + done <= (uint64_t)INT64_MAX) {
        ssize_t r = pread(io->fd, (char *)buf + done, want - done, (off_t)(io->pos + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (io->read_errno == 0)
                io->read_errno = errno;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    io->pos += done;
    return (tmsize_t)done;
}

static tmsize_t io_write(thandle_t handle, void *buf, tmsize_t n)
{
    (void)handle;
    (void)buf;
    (void)n;
    return -1; /* read-only */
}

static toff_t io_seek(thandle_t handle, toff_t offset, int whence)
{
    struct load_io *io = handle;
    uint64_t base;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = io->pos;
        break;
    case SEEK_END:
        base = io->size;
        break;
    default:
        return (toff_t)-1;
    }
    uint64_t pos = base + (uint64_t)offset; /* relative offsets arrive two's-complement */
    if (pos > (uint64_t)INT64_MAX || (io->fd < 0 && pos > io->size))
        return (toff_t)-1;
    io->pos = pos;
    return pos;
}

static int io_close(thandle_t handle)
{
    (void)handle;
    return 0; /* the caller owns the descriptor */
}

static toff_t io_size(thandle_t handle)
{
    return ((struct load_io *)handle)->size;
}

static int io_map(thandle_t handle, void **base, toff_t *size)
{
    (void)handle;
    (void)base;
    (void)size;
    return 0;
}

static void io_unmap(thandle_t handle, void *base, toff_t size)
{
    (void)handle;
    (void)base;
    (void)size;
}

/* ------------------------------------------------------------------------------------------
 * Handles
 *
 * A handle keeps the first libtiff error message it met; handle_fail() turns it, or a read
 * errno, into the error detail. libtiff's process-wide handlers are silenced once, for the
 * few messages that have no handle yet.
 */

struct load_handle {
    TIFF *tif;
    struct load_io io;
    char msg[LOAD_MSG_MAX];
};

__attribute__((format(printf, 4, 0))) static int
handle_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    struct load_handle *h = user;
    (void)tif;
    (void)module;
    if (h != NULL && h->msg[0] == '\0')
        vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    return 1;
}

__attribute__((format(printf, 4, 0))) static int
handle_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1; /* warnings are dropped */
}

static pthread_once_t load_global_once = PTHREAD_ONCE_INIT;

static void load_silence_global_handlers(void)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
}

static enum error_code handle_fail(const struct load_handle *h, const char *name,
                                   struct error_info *err, const char *fmt, ...) ERROR_PRINTF(4, 5);

static enum error_code handle_fail(const struct load_handle *h, const char *name,
                                   struct error_info *err, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (h->io.read_errno != 0)
        return error_set(err, ERROR_IO, "%s: %s: read error: %s", name, what,
                         strerror(h->io.read_errno));
    if (h->msg[0] != '\0')
        return error_set(err, ERROR_UNPROCESSABLE, "%s: %s: %s", name, what, h->msg);
    return error_set(err, ERROR_UNPROCESSABLE, "%s: %s", name, what);
}

static void handle_close(struct load_handle *h)
{
    if (h->tif != NULL)
        TIFFClose(h->tif);
    h->tif = NULL;
}

static enum error_code handle_open(struct load_handle *h, const struct load_source *src,
                                   const char *name, const struct load_options *opt,
                                   struct error_info *err)
{
    pthread_once(&load_global_once, load_silence_global_handlers);
    memset(h, 0, sizeof *h);
    h->io.fd = src->fd;
    if (src->fd >= 0) {
        struct stat st;
        if (fstat(src->fd, &st) != 0)
            return error_set(err, ERROR_IO, "%s: cannot stat: %s", name, strerror(errno));
        h->io.size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    } else {
        if (src->data == NULL && src->size != 0)
            return error_set(err, ERROR_INVALID, "%s: no data", name);
        h->io.data = src->data;
        h->io.size = src->size;
    }
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (o == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate TIFF open options", name);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)opt->max_alloc);
    TIFFOpenOptionsSetErrorHandlerExtR(o, handle_error, h);
    TIFFOpenOptionsSetWarningHandlerExtR(o, handle_warning, h);
    /* r: read; m: no mmap; O: strip/tile offsets loaded on demand. */
    h->tif = TIFFClientOpenExt(name, "rmO", (thandle_t)&h->io, io_read, io_write, io_seek, io_close,
                               io_size, io_map, io_unmap, o);
    TIFFOpenOptionsFree(o);
    if (h->tif == NULL)
        return handle_fail(h, name, err, "not a readable TIFF file");
    return ERROR_OK;
}

/* Walk the main IFD chain to page (linear; libtiff itself refuses IFD loops). */
static enum error_code handle_goto_page(struct load_handle *h, const char *name, unsigned page,
                                        unsigned max_ifds, struct error_info *err)
{
    if (max_ifds != 0 && page >= max_ifds)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u is beyond the %u pages that may be read (limit max_ifds)",
                         name, page, max_ifds);
    for (unsigned i = 0; i < page; i++) {
        if (TIFFReadDirectory(h->tif))
            continue;
        if (h->msg[0] != '\0' || h->io.read_errno != 0)
            return handle_fail(h, name, err, "cannot read the directory of page %u", i + 1);
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u does not exist (the file has %u page%s)", name, page, i + 1,
                         i == 0 ? "" : "s");
    }
    return ERROR_OK;
}

static const struct {
    uint16_t tag;
    const char *name;
} load_codecs[] = {
    {COMPRESSION_NONE, "none"},
    {COMPRESSION_LZW, "LZW"},
    {COMPRESSION_ADOBE_DEFLATE, "deflate"},
    {COMPRESSION_DEFLATE, "deflate"},
    {COMPRESSION_PACKBITS, "PackBits"},
    {COMPRESSION_ZSTD, "zstd"},
    {COMPRESSION_LZMA, "LZMA"},
};

bool load_tiff_codec_accepted(uint16_t compression)
{
    for (size_t i = 0; i < sizeof load_codecs / sizeof load_codecs[0]; i++)
        if (load_codecs[i].tag == compression)
            return TIFFIsCODECConfigured(compression) != 0;
    return false;
}

static enum overlap_dtype dtype_of(uint16_t bits, bool is_signed)
{
    static const enum overlap_dtype u[] = {OVERLAP_U8, OVERLAP_U16, OVERLAP_U32, OVERLAP_U64};
    static const enum overlap_dtype s[] = {OVERLAP_I8, OVERLAP_I16, OVERLAP_I32, OVERLAP_I64};
    unsigned k = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3;
    return is_signed ? s[k] : u[k];
}

/* Validate the current directory and describe it; all sizes checked here, before any
 * allocation for pixels. */
static enum error_code handle_describe(struct load_handle *h, const char *name, unsigned page,
                                       const struct load_options *opt, struct load_info *info,
                                       struct error_info *err)
{
    TIFF *tif = h->tif;
    uint32_t width = 0, height = 0;
    uint16_t spp = 1, bits = 1, format = SAMPLEFORMAT_UINT, compression = COMPRESSION_NONE;
    memset(info, 0, sizeof *info);
    info->kind = LOAD_TIFF;
    info->depth = 1;
    info->band_depth = 1;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) ||
        !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height) || width == 0 || height == 0)
        return handle_fail(h, name, err, "page %u has no width or height", page);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    if (spp != 1)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u has %u samples per pixel; a label image has 1", name, page,
                         spp);
    const bool floating = format == SAMPLEFORMAT_IEEEFP && opt->intensity && bits >= 32;
    if (format == SAMPLEFORMAT_IEEEFP && !floating)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u holds floating-point data; labels must be integers", name,
                         page);
    if (format != SAMPLEFORMAT_UINT && format != SAMPLEFORMAT_INT && !floating)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u has sample format %u; labels must be integers", name, page,
                         format);
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u has %u bits per sample; labels need 8, 16, 32 or 64", name,
                         page, bits);
    if (compression == COMPRESSION_JPEG || compression == COMPRESSION_OJPEG)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u is JPEG-compressed (lossy), which cannot hold labels", name,
                         page);
    if (!load_tiff_codec_accepted(compression))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u uses compression %u; supported: none, LZW, deflate, "
                         "PackBits, zstd, LZMA",
                         name, page, compression);
    const uint64_t pixels = (uint64_t)width * height;
    if (opt->max_pixels != 0 && pixels > opt->max_pixels)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: page %u is %u x %u = %llu pixels, over the limit of %llu "
                         "(max_pixels)",
                         name, page, height, width, (unsigned long long)pixels,
                         (unsigned long long)opt->max_pixels);

    const uint64_t bps = bits / 8u;
    info->width = width;
    info->height = height;
    info->bits = bits;
    info->dtype = dtype_of(bits, format == SAMPLEFORMAT_INT);
    info->floating = floating;
    info->compression = compression;
    info->big_endian = TIFFIsBigEndian(tif) != 0;
    info->tiled = TIFFIsTiled(tif) != 0;
    uint64_t band_bytes, expected_units;
    if (info->tiled) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) ||
            !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0)
            return handle_fail(h, name, err, "page %u has no valid tile size", page);
        if ((uint64_t)tw * th * bps != (uint64_t)TIFFTileSize64(tif))
            return handle_fail(h, name, err, "page %u has an inconsistent tile size", page);
        info->tile_width = tw;
        info->band_rows = th;
        info->bands = (uint32_t)(((uint64_t)height + th - 1) / th);
        uint64_t across = ((uint64_t)width + tw - 1) / tw;
        expected_units = across * info->bands;
        const uint64_t tile_bytes = (uint64_t)tw * th * bps;
        band_bytes = across * tile_bytes + tile_bytes;
        info->piece_cols = width;
        if (opt->max_alloc != 0 && band_bytes > opt->max_alloc &&
            opt->max_alloc / tile_bytes >= 2) {
            /* A row of tiles over the decode buffer (a wide whole slide) is decoded in pieces
             * of equal whole tiles, each piece plus the tile buffer within max_alloc. */
            const uint64_t fit = opt->max_alloc / tile_bytes - 1;
            const uint64_t pieces = (across + fit - 1) / fit;
            const uint64_t tiles = (across + pieces - 1) / pieces;
            info->piece_cols = (uint32_t)(tiles * tw < width ? tiles * tw : width);
            band_bytes = tiles * tile_bytes + tile_bytes;
        }
        if (TIFFNumberOfTiles(tif) < expected_units)
            return handle_fail(h, name, err, "page %u lists too few tiles", page);
    } else {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > height)
            rps = height;
        info->band_rows = rps;
        info->bands = (uint32_t)(((uint64_t)height + rps - 1) / rps);
        expected_units = info->bands;
        band_bytes = (uint64_t)rps * width * bps;
        info->piece_cols = width;
        if (TIFFNumberOfStrips(tif) < expected_units)
            return handle_fail(h, name, err, "page %u lists too few strips", page);
    }
    if (opt->max_alloc != 0 && band_bytes > opt->max_alloc)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: page %u needs %llu bytes per %s, over the limit of %zu bytes", name,
                         page, (unsigned long long)band_bytes,
                         info->tiled ? "row of tiles" : "strip", opt->max_alloc);
    if (band_bytes > SIZE_MAX / 2)
        return error_set(err, ERROR_TOO_LARGE, "%s: page %u has bands too large for memory", name,
                         page);
    return ERROR_OK;
}

/* Decode piece `piece` of band k (a strip, or a row of tiles: piece_cols columns from
 * piece * piece_cols, all of it when piece_cols is the width) into dst as rows of piece_cols
 * elements. tile is a buffer of one tile (tiled pages only). */
static enum error_code handle_decode_band(struct load_handle *h, const struct load_info *info,
                                          const char *name, uint32_t k, uint32_t piece, void *dst,
                                          void *tile, struct error_info *err)
{
    const size_t bps = info->bits / 8u;
    const uint32_t y0 = k * info->band_rows;
    const uint32_t rows = info->height - y0 < info->band_rows ? info->height - y0 : info->band_rows;
    const size_t row_bytes = (size_t)info->piece_cols * bps;
    if (!info->tiled) {
        tmsize_t want = (tmsize_t)(rows * row_bytes);
        /* libtiff 4.5 can report a corrupt deflate strip as fully decoded while leaving part
         * of the buffer unwritten (found by fuzz_load): start from zeros so the counts are
         * at least deterministic. */
        memset(dst, 0, (size_t)want);
        if (TIFFReadEncodedStrip(h->tif, k, dst, want) != want)
            return handle_fail(h, name, err, "strip %u cannot be decoded", k);
        return ERROR_OK;
    }
    const uint32_t tw = info->tile_width;
    const uint32_t across = (uint32_t)(((uint64_t)info->width + tw - 1) / tw);
    const uint32_t per_piece = info->piece_cols / tw + (info->piece_cols % tw != 0);
    const uint32_t j0 = piece * per_piece;
    const uint32_t j1 = j0 + per_piece < across ? j0 + per_piece : across;
    const size_t tile_row = (size_t)tw * bps;
    const tmsize_t tile_bytes = (tmsize_t)(tile_row * info->band_rows);
    for (uint32_t j = j0; j < j1; j++) {
        uint32_t t = k * across + j;
        memset(tile, 0, (size_t)tile_bytes); /* as for strips above */
        if (TIFFReadEncodedTile(h->tif, t, tile, tile_bytes) != tile_bytes)
            return handle_fail(h, name, err, "tile %u cannot be decoded", t);
        const size_t x0 = (size_t)j * tw;
        const size_t cols = (info->width - x0 < tw ? info->width - x0 : tw) * bps;
        for (uint32_t r = 0; r < rows; r++)
            memcpy((unsigned char *)dst + r * row_bytes + (x0 - (size_t)j0 * tw) * bps,
                   (unsigned char *)tile + r * tile_row, cols);
    }
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * The kind: layout and readers
 */

struct tiff_layout {
    unsigned first_page;         /* page number of slice 0 (src->page for a 2-D image) */
    uint32_t pages;              /* slices */
    uint64_t *dir_offset;        /* IFD offset of each slice */
    struct load_info *page_info; /* each slice's own description */
    bool whole_pages;            /* bands are whole pages (slices differ in layout) */
    size_t tile_bytes;           /* the largest tile of any slice; 0 when none is tiled */
};

struct tiff_reader {
    struct load_handle h;
    int64_t dir; /* slice whose directory h is on; -1 = none */
    void *tile;
};

static void tiff_close(void *reader)
{
    struct tiff_reader *r = reader;
    if (r == NULL)
        return;
    handle_close(&r->h);
    free(r->tile);
    free(r);
}

static void tiff_cleanup(struct source_layout *layout)
{
    struct tiff_layout *t = layout->priv;
    if (t != NULL) {
        free(t->dir_offset);
        free(t->page_info);
        free(t);
    }
    layout->priv = NULL;
}

static bool tiff_same_layout(const struct load_info *x, const struct load_info *y)
{
    return x->tiled == y->tiled && x->band_rows == y->band_rows && x->tile_width == y->tile_width;
}

/* Describe the current directory as slice z of the layout; checks a volume's slices agree. */
static enum error_code tiff_add_slice(struct tiff_reader *r, struct tiff_layout *t, uint32_t z,
                                      const char *name, const struct load_options *opt,
                                      struct error_info *err)
{
    if ((z & (z - 1)) == 0 && z >= 1) { /* grow at powers of two */
        uint64_t *d = alloc_resize(t->dir_offset, (size_t)z * 2 * sizeof *d);
        if (d != NULL)
            t->dir_offset = d;
        struct load_info *pi = alloc_resize(t->page_info, (size_t)z * 2 * sizeof *pi);
        if (pi != NULL)
            t->page_info = pi;
        if (d == NULL || pi == NULL)
            return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate the page list", name);
    }
    struct load_info *info = &t->page_info[z];
    unsigned page = t->first_page + z;
    enum error_code rc = handle_describe(&r->h, name, page, opt, info, err);
    if (rc != ERROR_OK)
        return rc;
    t->dir_offset[z] = TIFFCurrentDirOffset(r->h.tif);
    if (info->tiled) {
        size_t tb = (size_t)info->tile_width * info->band_rows * (info->bits / 8u);
        if (tb > t->tile_bytes)
            t->tile_bytes = tb;
    }
    const struct load_info *p0 = &t->page_info[0];
    if (z > 0 &&
        (info->width != p0->width || info->height != p0->height || info->dtype != p0->dtype))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u is %u x %u %s, unlike page %u (%u x %u %s): the pages of a "
                         "volume must agree in height x width and dtype",
                         name, page, info->height, info->width, overlap_dtype_name(info->dtype),
                         t->first_page, p0->height, p0->width, overlap_dtype_name(p0->dtype));
    if (z > 0 && !tiff_same_layout(info, p0))
        t->whole_pages = true;
    return ERROR_OK;
}

/* Walk every page of the main IFD chain (at most max_ifds) into the layout. */
static enum error_code tiff_walk_volume(struct tiff_reader *r, struct tiff_layout *t,
                                        const char *name, const struct load_options *opt,
                                        struct error_info *err)
{
    for (uint32_t z = 0;; z++) {
        if (opt->max_ifds != 0 && z >= opt->max_ifds)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the volume has more than the %u pages that may be read "
                             "(limit max_ifds)",
                             name, opt->max_ifds);
        enum error_code rc = tiff_add_slice(r, t, z, name, opt, err);
        if (rc != ERROR_OK)
            return rc;
        t->pages = z + 1;
        if (TIFFReadDirectory(r->h.tif))
            continue;
        if (r->h.msg[0] != '\0' || r->h.io.read_errno != 0)
            return handle_fail(&r->h, name, err, "cannot read the directory of page %u", z + 1);
        r->dir = z;
        return ERROR_OK;
    }
}

static enum error_code tiff_describe(const struct load_source *src, const char *name,
                                     const struct load_options *opt, struct source_layout *layout,
                                     void **reader, struct error_info *err)
{
    struct tiff_reader *r = alloc_zeroed(1, sizeof *r);
    struct tiff_layout *t = alloc_zeroed(1, sizeof *t);
    enum error_code rc = ERROR_OK;
    layout->priv = t;
    if (r == NULL || t == NULL ||
        (t->dir_offset = alloc_zeroed(1, sizeof *t->dir_offset)) == NULL ||
        (t->page_info = alloc_zeroed(1, sizeof *t->page_info)) == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a TIFF reader", name);
        goto out;
    }
    r->dir = -1;
    if ((rc = handle_open(&r->h, src, name, opt, err)) != ERROR_OK)
        goto out;
    if (src->volume) {
        rc = tiff_walk_volume(r, t, name, opt, err);
    } else {
        t->first_page = src->page;
        t->pages = 1;
        if ((rc = handle_goto_page(&r->h, name, src->page, opt->max_ifds, err)) == ERROR_OK &&
            (rc = tiff_add_slice(r, t, 0, name, opt, err)) == ERROR_OK)
            r->dir = 0;
    }
    if (rc != ERROR_OK)
        goto out;
    layout->info = t->page_info[0];
    layout->info.depth = t->pages;
    if (t->whole_pages) {
        layout->info.band_rows = layout->info.height;
        layout->info.bands = 1;
        layout->info.piece_cols = layout->info.width;
        for (uint32_t z = 0; z < t->pages; z++)
            t->page_info[z].piece_cols = t->page_info[z].width; /* whole pages, whole rows */
    }
    /* handle_describe checked each page's pixels and strip or tile row; a volume's voxels
     * and whole-page bands are checked here */
    if ((rc = source_check_voxels(&layout->info, opt, name, err)) != ERROR_OK ||
        (t->whole_pages &&
         (rc = source_check_band(&layout->info, opt, name, "page", err)) != ERROR_OK))
        goto out;
    if (t->tile_bytes != 0 && (r->tile = alloc_large(t->tile_bytes)) == NULL)
        rc = error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a tile buffer", name);
out:
    if (rc != ERROR_OK) {
        tiff_close(r);
        r = NULL;
    }
    *reader = r;
    return rc;
}

static enum error_code tiff_open(const struct load_source *src, const char *name,
                                 const struct load_options *opt, const struct source_layout *layout,
                                 void **reader, struct error_info *err)
{
    const struct tiff_layout *t = layout->priv;
    struct tiff_reader *r = alloc_zeroed(1, sizeof *r);
    *reader = r;
    if (r == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a TIFF reader", name);
    r->dir = -1;
    if (t->tile_bytes != 0 && (r->tile = alloc_large(t->tile_bytes)) == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a tile buffer", name);
    return handle_open(&r->h, src, name, opt, err);
}

static enum error_code tiff_read_piece(void *reader, const struct source_layout *layout,
                                       const char *name, uint32_t bz, uint32_t by, uint32_t bx,
                                       void *dst, struct error_info *err)
{
    struct tiff_reader *r = reader;
    const struct tiff_layout *t = layout->priv;
    if (r->dir != (int64_t)bz) {
        if (!TIFFSetSubDirectory(r->h.tif, t->dir_offset[bz]))
            return handle_fail(&r->h, name, err, "cannot reread page %u", t->first_page + bz);
        r->dir = bz;
    }
    const struct load_info *pi = &t->page_info[bz];
    if (!t->whole_pages)
        return handle_decode_band(&r->h, pi, name, by, bx, dst, r->tile, err);
    const size_t band_bytes = (size_t)pi->band_rows * pi->width * (pi->bits / 8u);
    for (uint32_t k = 0; k < pi->bands; k++) {
        enum error_code rc = handle_decode_band(
            &r->h, pi, name, k, 0, (unsigned char *)dst + k * band_bytes, r->tile, err);
        if (rc != ERROR_OK)
            return rc;
    }
    return ERROR_OK;
}

static enum error_code tiff_read_band(void *reader, const struct source_layout *layout,
                                      const char *name, uint32_t bz, uint32_t by, void *dst,
                                      struct error_info *err)
{
    return tiff_read_piece(reader, layout, name, bz, by, 0, dst, err);
}

const struct source_ops source_tiff_ops = {.describe = tiff_describe,
                                           .open = tiff_open,
                                           .read_band = tiff_read_band,
                                           .read_piece = tiff_read_piece,
                                           .close = tiff_close,
                                           .cleanup = tiff_cleanup};
