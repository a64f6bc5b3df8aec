/*
 * load.c - libtiff decoding of integer label pages, parallel by strips/tiles; see load.h.
 *
 * The one decision to know: every TIFF handle reads through our own client I/O (pread on the
 * caller's descriptor, or a cursor over an upload), never TIFFFdOpen. So handles on one file
 * share nothing - no file offset, no mapping (no SIGBUS on a file truncated under us) - and
 * each thread opens its own; the caller's descriptor is never closed by TIFFClose. Work is
 * handed out in units of whole rows as parallel_run items; a thread keeps the last band it
 * decoded of each image, so in the common case (same layout) every band is decoded once.
 */
#include "load.h"

#include "alloc.h"
#include "clock.h"
#include "limit.h"
#include "parallel.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#define LOAD_MSG_MAX       256
#define LOAD_UNIT_PIXELS   ((uint64_t)1 << 18) /* rows handed out at once cover this many */
#define LOAD_DEFAULT_ALLOC ((size_t)1 << 30)

void load_options_init(struct load_options *options)
{
    memset(options, 0, sizeof *options);
    options->max_pixels = (uint64_t)LIMIT_MAX_PIXELS;
    options->max_ifds = (unsigned)LIMIT_MAX_IFDS;
    options->max_alloc = LOAD_DEFAULT_ALLOC;
    options->threads = 1;
}

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

static bool codec_accepted(uint16_t compression)
{
    for (size_t i = 0; i < sizeof load_codecs / sizeof load_codecs[0]; i++)
        if (load_codecs[i].tag == compression)
            return true;
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
    if (format == SAMPLEFORMAT_IEEEFP)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: page %u holds floating-point data; labels must be integers", name,
                         page);
    if (format != SAMPLEFORMAT_UINT && format != SAMPLEFORMAT_INT)
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
    if (!codec_accepted(compression) || !TIFFIsCODECConfigured(compression))
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
        band_bytes = (uint64_t)th * (across * tw) * bps + (uint64_t)tw * th * bps;
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

/* Decode band k (a strip, or a row of tiles) into dst as full-width rows. tile is a buffer
 * of one tile (tiled pages only). */
static enum error_code handle_decode_band(struct load_handle *h, const struct load_info *info,
                                          const char *name, uint32_t k, void *dst, void *tile,
                                          struct error_info *err)
{
    const size_t bps = info->bits / 8u;
    const uint32_t y0 = k * info->band_rows;
    const uint32_t rows = info->height - y0 < info->band_rows ? info->height - y0 : info->band_rows;
    const size_t row_bytes = (size_t)info->width * bps;
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
    const size_t tile_row = (size_t)tw * bps;
    const tmsize_t tile_bytes = (tmsize_t)(tile_row * info->band_rows);
    for (uint32_t j = 0; j < across; j++) {
        uint32_t t = k * across + j;
        memset(tile, 0, (size_t)tile_bytes); /* as for strips above */
        if (TIFFReadEncodedTile(h->tif, t, tile, tile_bytes) != tile_bytes)
            return handle_fail(h, name, err, "tile %u cannot be decoded", t);
        const size_t x0 = (size_t)j * tw;
        const size_t cols = (info->width - x0 < tw ? info->width - x0 : tw) * bps;
        for (uint32_t r = 0; r < rows; r++)
            memcpy((unsigned char *)dst + r * row_bytes + x0 * bps,
                   (unsigned char *)tile + r * tile_row, cols);
    }
    return ERROR_OK;
}

static const char *source_name(const struct load_source *src)
{
    return src->name != NULL ? src->name : "image";
}

enum error_code load_probe(const struct load_source *source, const struct load_options *options,
                           struct load_info *info, struct error_info *err)
{
    struct load_handle *h = alloc_bytes(sizeof *h);
    if (h == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate a TIFF handle");
    const char *name = source_name(source);
    enum error_code rc = handle_open(h, source, name, options, err);
    if (rc == ERROR_OK)
        rc = handle_goto_page(h, name, source->page, options->max_ifds, err);
    if (rc == ERROR_OK)
        rc = handle_describe(h, name, source->page, options, info, err);
    handle_close(h);
    free(h);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Workers
 *
 * One job describes both pages and the unit size; the units (whole rows) are the items of a
 * parallel_run, so the first failing unit in row order decides the error and a failure stops
 * the others taking new units. Worker 0 runs on the calling thread with the state that opened
 * the pages to probe them (its handles are reused); the others keep their state in their
 * parallel_run scratch, open their own handles on their first unit (jumping straight to the
 * IFD offset worker 0 found) and count into a counter of their own, merged into the caller's
 * in done() and released there.
 */

struct load_worker {
    bool prepared; /* handles open, buffers allocated, counter made */
    struct load_handle h[2];
    void *band[2];
    void *tile[2];
    int64_t band_index[2]; /* band held in band[i], -1 = none */
    struct overlap_counter *counter;
};

struct load_job {
    const struct load_source *src[2];
    const char *name[2];
    struct load_info info[2];
    uint64_t dir_offset[2];
    const struct load_options *opt;
    struct load_worker *w0; /* worker 0's state; its counter is the caller's */
    uint64_t max_pairs;     /* of the caller's counter, for the helpers' own */
    uint32_t unit_rows;
    uint32_t units;
    atomic_bool failed;       /* a unit failed: done() only releases */
    enum error_code merge_rc; /* the first merge failure, from done() */
    struct error_info merge_err;
};

static enum error_code worker_prepare(struct load_job *job, struct load_worker *w,
                                      struct error_info *err)
{
    for (unsigned i = 0; i < 2; i++) {
        const struct load_info *info = &job->info[i];
        w->band_index[i] = -1;
        if (w->h[i].tif == NULL) {
            enum error_code rc = handle_open(&w->h[i], job->src[i], job->name[i], job->opt, err);
            if (rc != ERROR_OK)
                return rc;
            if (!TIFFSetSubDirectory(w->h[i].tif, job->dir_offset[i]))
                return handle_fail(&w->h[i], job->name[i], err, "cannot reread page %u",
                                   job->src[i]->page);
        }
        const size_t bps = info->bits / 8u;
        if (info->tiled && w->tile[i] == NULL) {
            w->tile[i] = alloc_large((size_t)info->tile_width * info->band_rows * bps);
            if (w->tile[i] == NULL)
                return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a tile buffer",
                                 job->name[i]);
        }
        if (w->band[i] == NULL)
            w->band[i] = alloc_large((size_t)info->band_rows * info->width * bps);
        if (w->band[i] == NULL)
            return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a band buffer",
                             job->name[i]);
    }
    if (w->counter == NULL)
        w->counter = overlap_counter_new(job->max_pairs, err);
    if (w->counter == NULL)
        return ERROR_NO_MEMORY;
    w->prepared = true;
    return ERROR_OK;
}

/* Close the handles and free the buffers (not the counter). */
static void worker_release(struct load_worker *w)
{
    for (unsigned i = 0; i < 2; i++) {
        handle_close(&w->h[i]);
        free(w->band[i]);
        free(w->tile[i]);
        w->band[i] = w->tile[i] = NULL;
    }
}

/* Make sure band[i] holds the band containing row y. */
static enum error_code worker_hold_row(const struct load_job *job, struct load_worker *w,
                                       unsigned i, uint32_t y, struct error_info *err)
{
    const struct load_info *info = &job->info[i];
    uint32_t k = y / info->band_rows;
    if (w->band_index[i] == (int64_t)k)
        return ERROR_OK;
    w->band_index[i] = -1;
    enum error_code rc =
        handle_decode_band(&w->h[i], info, job->name[i], k, w->band[i], w->tile[i], err);
    if (rc == ERROR_OK)
        w->band_index[i] = k;
    return rc;
}

static enum error_code worker_count_unit(const struct load_job *job, struct load_worker *w,
                                         uint32_t y, uint32_t y1, struct error_info *err)
{
    const uint32_t width = job->info[0].width;
    while (y < y1) {
        uint32_t end = y1;
        const unsigned char *row[2];
        for (unsigned i = 0; i < 2; i++) {
            enum error_code rc = worker_hold_row(job, w, i, y, err);
            if (rc != ERROR_OK)
                return rc;
            const struct load_info *info = &job->info[i];
            uint32_t start = (uint32_t)w->band_index[i] * info->band_rows;
            uint32_t stop =
                info->height - start < info->band_rows ? info->height : start + info->band_rows;
            if (stop < end)
                end = stop;
            row[i] =
                (const unsigned char *)w->band[i] + (size_t)(y - start) * width * (info->bits / 8u);
        }
        overlap_counter_seek(w->counter, (uint64_t)y * width);
        enum error_code rc =
            overlap_counter_add(w->counter, row[0], job->info[0].dtype, row[1], job->info[1].dtype,
                                (size_t)(end - y) * width, err);
        if (rc != ERROR_OK)
            return rc;
        y = end;
    }
    return ERROR_OK;
}

/* Item u of the run: rows [u * unit_rows, ...) on worker w. */
static enum error_code worker_unit(void *arg, size_t u, unsigned w, void *scratch,
                                   struct error_info *err)
{
    struct load_job *job = arg;
    struct load_worker *state = w == 0 ? job->w0 : scratch;
    enum error_code rc = ERROR_OK;
    if (clock_passed(job->opt->deadline))
        rc = error_set(err, ERROR_TIMEOUT, "decoding ran past the request deadline");
    else if (!state->prepared)
        rc = worker_prepare(job, state, err);
    if (rc == ERROR_OK) {
        uint32_t y = (uint32_t)u * job->unit_rows;
        uint32_t y1 =
            job->info[0].height - y < job->unit_rows ? job->info[0].height : y + job->unit_rows;
        rc = worker_count_unit(job, state, y, y1, err);
    }
    if (rc != ERROR_OK)
        atomic_store(&job->failed, true);
    return rc;
}

/* A helper is done: merge its counts into the caller's counter (unless a unit failed), and
 * release its handles, buffers and counter. Worker 0's state is the caller's to release. */
static void worker_done(void *arg, unsigned w, void *scratch)
{
    struct load_job *job = arg;
    struct load_worker *state = scratch;
    if (w == 0)
        return;
    if (state->counter != NULL && !atomic_load(&job->failed) && job->merge_rc == ERROR_OK)
        job->merge_rc = overlap_counter_merge(job->w0->counter, state->counter, &job->merge_err);
    overlap_counter_free(state->counter);
    worker_release(state);
}

/* Rows per unit: the taller band, repeated to cover LOAD_UNIT_PIXELS, never past the image. */
static void job_plan(struct load_job *job)
{
    uint32_t rows = job->info[0].band_rows > job->info[1].band_rows ? job->info[0].band_rows
                                                                    : job->info[1].band_rows;
    uint64_t per_band = (uint64_t)rows * job->info[0].width;
    uint64_t repeat = (LOAD_UNIT_PIXELS + per_band - 1) / per_band;
    uint64_t unit = (uint64_t)rows * repeat;
    if (unit > job->info[0].height)
        unit = job->info[0].height;
    job->unit_rows = (uint32_t)unit;
    job->units = (uint32_t)(((uint64_t)job->info[0].height + unit - 1) / unit);
}

/* Open source i of the job on worker 0's handle, go to its page and describe it. */
static enum error_code job_open_source(struct load_job *job, unsigned i, struct error_info *err)
{
    const struct load_source *src = job->src[i];
    struct load_handle *h = &job->w0->h[i];
    enum error_code rc = handle_open(h, src, job->name[i], job->opt, err);
    if (rc == ERROR_OK)
        rc = handle_goto_page(h, job->name[i], src->page, job->opt->max_ifds, err);
    if (rc == ERROR_OK)
        rc = handle_describe(h, job->name[i], src->page, job->opt, &job->info[i], err);
    if (rc == ERROR_OK)
        job->dir_offset[i] = TIFFCurrentDirOffset(h->tif);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Public entry point
 */

enum error_code load_overlap(const struct load_source *a, const struct load_source *b,
                             const struct load_options *options, struct overlap_counter *into,
                             struct load_info *info_a, struct load_info *info_b,
                             struct error_info *err)
{
    struct load_worker *w0 = alloc_zeroed(1, sizeof *w0);
    if (w0 == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate decoding workers");
    w0->counter = into;
    struct load_job job = {.src = {a, b},
                           .name = {source_name(a), source_name(b)},
                           .opt = options,
                           .w0 = w0,
                           .max_pairs = overlap_counter_max_pairs(into),
                           .merge_rc = ERROR_OK};
    atomic_init(&job.failed, false);
    error_init(&job.merge_err);
    enum error_code rc = job_open_source(&job, 0, err);
    if (rc == ERROR_OK && info_a != NULL)
        *info_a = job.info[0];
    if (rc == ERROR_OK)
        rc = job_open_source(&job, 1, err);
    if (rc == ERROR_OK && info_b != NULL)
        *info_b = job.info[1];
    if (rc != ERROR_OK)
        goto out;
    if (job.info[0].width != job.info[1].width || job.info[0].height != job.info[1].height) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "the label images differ in shape: %s is %u x %u, %s is %u x %u "
                       "(height x width)",
                       job.name[0], job.info[0].height, job.info[0].width, job.name[1],
                       job.info[1].height, job.info[1].width);
        goto out;
    }
    job_plan(&job);
    struct parallel_loop loop = {.n = job.units,
                                 .threads = options->threads,
                                 .scratch = sizeof(struct load_worker),
                                 .item = worker_unit,
                                 .done = worker_done,
                                 .arg = &job};
    rc = parallel_run(&loop, NULL, err);
    if (rc == ERROR_OK && job.merge_rc != ERROR_OK) {
        rc = job.merge_rc;
        if (err != NULL)
            *err = job.merge_err;
    }
out:
    worker_release(w0);
    free(w0);
    return rc;
}
