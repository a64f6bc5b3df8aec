/*
 * preview_tiff.c - TIFF levels and their decoding for core/preview; see preview_tiff.h.
 *
 * One libtiff handle per call, on a duplicate of the caller's descriptor opened without
 * mmap ("m", so a file truncated under us is a read error, not SIGBUS) and with strip and
 * tile offsets loaded on demand ("O", so a page of a million tiles costs nothing until it
 * is read). The walk records each page's IFD offset; decoding jumps there with
 * TIFFSetSubDirectory, which takes main-chain and SubIFD offsets alike.
 */
#include "preview_tiff.h"
#include "alloc.h"
#include "clock.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#define PREVIEW_TIFF_MAX_LEVELS  32u /* levels kept: a 2^31-pixel side halves 31 times */
#define PREVIEW_TIFF_STRIDE_WORK 64u /* strided strips: samples read per sample kept, at most */

struct tiff_page {
    uint64_t off;
    uint32_t width, height;
    uint16_t spp, bits, format;
    uint32_t subfile;
    unsigned n_sub;
    uint64_t sub[PREVIEW_TIFF_MAX_LEVELS - 1];
};

struct tiff_state {
    TIFF *tif;
    char msg[256]; /* libtiff's first error */
    struct tiff_page *pages;
    unsigned n_pages;
    unsigned n_chan_pages; /* pages that are channels of level 0 (1 when samples are) */
    bool use_sub;          /* levels are SubIFDs; else main-chain pages */
    unsigned n_levels;
    uint32_t lw[PREVIEW_TIFF_MAX_LEVELS], lh[PREVIEW_TIFF_MAX_LEVELS];
    unsigned lfirst[PREVIEW_TIFF_MAX_LEVELS]; /* main-chain levels: the level's first page */
    int64_t deadline;                         /* checked before each strip or tile */
    uint32_t strided_bh;                      /* choose_stride: the level's block height */
};

__attribute__((format(printf, 4, 0))) static int
tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    struct tiff_state *s = user;
    (void)tif;
    (void)module;
    if (s->msg[0] == '\0')
        vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    return 1;
}

__attribute__((format(printf, 4, 0))) static int
tiff_on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static enum error_code tiff_fail(const struct tiff_state *s, const char *name, const char *what,
                                 struct error_info *err)
{
    if (s->msg[0] != '\0')
        return error_set(err, ERROR_UNPROCESSABLE, "%s: %s: %s", name, what, s->msg);
    return error_set(err, ERROR_UNPROCESSABLE, "%s: %s", name, what);
}

/* ------------------------------------------------------------------------------------------
 * The walk and the levels
 */

static void page_read(TIFF *tif, struct tiff_page *p)
{
    memset(p, 0, sizeof *p);
    p->off = TIFFCurrentDirOffset(tif);
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &p->width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &p->height);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &p->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &p->bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &p->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &p->subfile);
    uint16_t n = 0;
    uint64_t *offs = NULL;
    if (TIFFGetField(tif, TIFFTAG_SUBIFD, &n, &offs) && offs != NULL) {
        p->n_sub = n < PREVIEW_TIFF_MAX_LEVELS - 1 ? n : PREVIEW_TIFF_MAX_LEVELS - 1;
        memcpy(p->sub, offs, p->n_sub * sizeof *offs);
    }
}

static bool same_layout(const struct tiff_page *a, const struct tiff_page *b)
{
    return a->spp == b->spp && a->bits == b->bits && a->format == b->format;
}

/* w x h has the aspect ratio of w0 x h0 within 5%. */
static bool same_aspect(uint32_t w0, uint32_t h0, uint32_t w, uint32_t h)
{
    double r0 = (double)w0 / h0, r = (double)w / h;
    return fabs(r - r0) <= 0.05 * r0;
}

static enum error_code walk(struct tiff_state *s, const char *name, unsigned max_ifds,
                            struct error_info *err)
{
    unsigned cap = 0;
    do {
        if (s->n_pages == cap) {
            unsigned ncap = cap ? cap * 2 : 16;
            struct tiff_page *np = alloc_resize(s->pages, ncap * sizeof *np);
            if (np == NULL)
                return error_set(err, ERROR_NO_MEMORY, "%s: out of memory for the IFD list", name);
            s->pages = np;
            cap = ncap;
        }
        page_read(s->tif, &s->pages[s->n_pages++]);
    } while (s->n_pages < max_ifds && TIFFReadDirectory(s->tif));
    const struct tiff_page *p0 = &s->pages[0];
    if (p0->width == 0 || p0->height == 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: page 0 has no pixels (%u x %u)", name,
                         p0->width, p0->height);
    s->n_chan_pages = 1;
    if (p0->spp == 1)
        while (s->n_chan_pages < s->n_pages) {
            const struct tiff_page *p = &s->pages[s->n_chan_pages];
            if (p->width != p0->width || p->height != p0->height || !same_layout(p, p0) ||
                (p->subfile & FILETYPE_REDUCEDIMAGE))
                break;
            s->n_chan_pages++;
        }
    s->n_levels = 1;
    s->lw[0] = p0->width;
    s->lh[0] = p0->height;
    if (p0->n_sub > 0) {
        s->use_sub = true;
        unsigned n = p0->n_sub;
        for (unsigned c = 1; c < s->n_chan_pages; c++)
            if (s->pages[c].n_sub < n)
                n = s->pages[c].n_sub;
        for (unsigned i = 0; i < n; i++) {
            if (!TIFFSetSubDirectory(s->tif, p0->sub[i]))
                break; /* a broken SubIFD ends the levels; level 0 still shows */
            struct tiff_page sp;
            page_read(s->tif, &sp);
            if (!same_layout(&sp, p0) || sp.width == 0 || sp.height == 0)
                break;
            s->lw[s->n_levels] = sp.width;
            s->lh[s->n_levels] = sp.height;
            s->n_levels++;
        }
        return ERROR_OK;
    }
    unsigned nc = s->n_chan_pages;
    for (unsigned i = nc; i + nc <= s->n_pages && s->n_levels < PREVIEW_TIFF_MAX_LEVELS;) {
        const struct tiff_page *p = &s->pages[i];
        bool ok = same_layout(p, p0) && p->width > 0 && p->height > 0 &&
                  p->width < s->lw[s->n_levels - 1] && p->height <= s->lh[s->n_levels - 1] &&
                  same_aspect(p0->width, p0->height, p->width, p->height);
        for (unsigned c = 1; ok && c < nc; c++)
            ok = s->pages[i + c].width == p->width && s->pages[i + c].height == p->height &&
                 same_layout(&s->pages[i + c], p0);
        if (!ok) {
            i++;
            continue;
        }
        s->lw[s->n_levels] = p->width;
        s->lh[s->n_levels] = p->height;
        s->lfirst[s->n_levels] = i;
        s->n_levels++;
        i += nc;
    }
    return ERROR_OK;
}

/* The IFD of channel page c at level l. */
static uint64_t level_ifd(const struct tiff_state *s, unsigned l, unsigned c)
{
    if (l == 0)
        return s->pages[c].off;
    if (s->use_sub)
        return s->pages[c].sub[l - 1];
    return s->pages[s->lfirst[l] + c].off;
}

/* The smallest level at least size on its longest side (else level 0). */
static unsigned choose_level(const struct tiff_state *s, uint32_t size)
{
    unsigned best = 0;
    for (unsigned l = 1; l < s->n_levels; l++) {
        uint32_t longest = s->lw[l] > s->lh[l] ? s->lw[l] : s->lh[l];
        if (longest >= size)
            best = l;
    }
    return best;
}

/* ------------------------------------------------------------------------------------------
 * Decoding
 */

static double sample_at(const unsigned char *p, size_t i, uint16_t bits, uint16_t format)
{
    switch (bits) {
    case 8:
        return format == SAMPLEFORMAT_INT ? (double)(int8_t)p[i] : (double)p[i];
    case 16: {
        uint16_t u;
        memcpy(&u, p + 2 * i, 2);
        return format == SAMPLEFORMAT_INT ? (double)(int16_t)u : (double)u;
    }
    case 32: {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        if (format == SAMPLEFORMAT_IEEEFP) {
            float f;
            memcpy(&f, &u, 4);
            return (double)f;
        }
        return format == SAMPLEFORMAT_INT ? (double)(int32_t)u : (double)u;
    }
    default: {
        uint64_t u;
        memcpy(&u, p + 8 * i, 8);
        if (format == SAMPLEFORMAT_IEEEFP) {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
        return format == SAMPLEFORMAT_INT ? (double)(int64_t)u : (double)u;
    }
    }
}

/* The tile (or strip: the width x rows per strip) of the current IFD; false when empty. */
static bool block_of(TIFF *tif, uint32_t lw, uint32_t lh, bool *tiled, uint32_t *bw, uint32_t *bh)
{
    *tiled = TIFFIsTiled(tif) != 0;
    *bw = lw;
    *bh = 0;
    if (*tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, bw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, bh);
    } else {
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, bh);
        if (*bh > lh)
            *bh = lh;
    }
    return *bw != 0 && *bh != 0;
}

/* Pixels kept along a side of len pixels in blocks of b when every k-th block is. */
static uint64_t kept(uint64_t len, uint64_t b, uint64_t k)
{
    uint64_t nb = len / b + (len % b != 0);
    uint64_t m = nb / k + (nb % k != 0);
    uint64_t short_last = (nb - 1) % k == 0 ? nb * b - len : 0;
    return m * b - short_last;
}

/* Decode the IFD at off (a level of lw x lh pixels) into plane channels: sample samples[k]
 * goes to channel first + k. With stride k > 1 only every k-th tile or strip row and every
 * k-th tile (or, for strips, block of cb columns) is decoded and the kept blocks are packed
 * side by side into the plane (see preview_tiff.h); k = 1 decodes everything. */
static enum error_code decode_ifd(struct tiff_state *s, const char *name, uint64_t off, uint32_t lw,
                                  uint32_t lh, uint32_t k, uint32_t cb, const unsigned *samples,
                                  unsigned n_samples, unsigned first, struct preview_plane *pl,
                                  struct error_info *err)
{
    TIFF *tif = s->tif;
    enum error_code rc = ERROR_OK;
    unsigned char *buf = NULL;
    if (!TIFFSetSubDirectory(tif, off))
        return tiff_fail(s, name, "cannot read a level's IFD", err);
    uint16_t spp = 1, bits = 1, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
    uint16_t photometric = 0, compression = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    if (!(bits == 8 || bits == 16 || bits == 32 || bits == 64) ||
        !(format == SAMPLEFORMAT_UINT || format == SAMPLEFORMAT_INT ||
          (format == SAMPLEFORMAT_IEEEFP && bits >= 32)))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: %u-bit samples of format %u cannot be previewed", name, bits, format);
    if (!TIFFIsCODECConfigured(compression))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: compression %u has no decoder in this build", name, compression);
    if (compression == COMPRESSION_JPEG && photometric == PHOTOMETRIC_YCBCR)
        TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    bool tiled;
    uint32_t bw, bh;
    if (!block_of(tif, lw, lh, &tiled, &bw, &bh))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: tile or strip of %u x %u", name, bw, bh);
    if (tiled || k == 1)
        cb = bw;
    tmsize_t bsize = tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    unsigned per_px = planar == PLANARCONFIG_CONTIG ? spp : 1;
    uint64_t need = (uint64_t)bw * bh * per_px * (bits / 8);
    if (bsize <= 0 || (uint64_t)bsize < need)
        return tiff_fail(s, name, "tile or strip size", err);
    buf = alloc_large((size_t)bsize);
    if (buf == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: out of memory for a %lld-byte tile", name,
                         (long long)bsize);
    size_t plane_px = (size_t)pl->width * pl->height;
    for (uint32_t y0 = 0; y0 < lh; y0 += bh) {
        if ((y0 / bh) % k != 0)
            continue;
        const size_t py0 = (size_t)(y0 / bh / k) * bh; /* the block row's first plane row */
        for (uint32_t x0 = 0; x0 < lw; x0 += bw) {
            if ((x0 / bw) % k != 0)
                continue;
            for (unsigned j = 0; j < n_samples; j++) {
                unsigned smp = samples[j];
                if (planar == PLANARCONFIG_CONTIG && j > 0)
                    break; /* one read gave every sample */
                if (clock_passed(s->deadline)) {
                    rc = error_set(err, ERROR_TIMEOUT,
                                   "%s: the request deadline passed while decoding the preview",
                                   name);
                    goto out;
                }
                uint16_t plane_idx = planar == PLANARCONFIG_CONTIG ? 0 : (uint16_t)smp;
                uint32_t strile = tiled ? TIFFComputeTile(tif, x0, y0, 0, plane_idx)
                                        : TIFFComputeStrip(tif, y0, plane_idx);
                tmsize_t got;
                if (TIFFGetStrileByteCount(tif, strile) == 0 &&
                    TIFFGetStrileOffset(tif, strile) == 0) {
                    memset(buf, 0, (size_t)bsize); /* sparse: never written, zeros */
                    got = bsize;
                } else if (tiled) {
                    got = TIFFReadEncodedTile(tif, strile, buf, bsize);
                } else {
                    got = TIFFReadEncodedStrip(tif, strile, buf, bsize);
                }
                if (got < 0) {
                    char what[96];
                    snprintf(what, sizeof what, "cannot decode the %s at (%u, %u)",
                             tiled ? "tile" : "strip", x0, y0);
                    rc = tiff_fail(s, name, what, err);
                    goto out;
                }
                uint32_t rows = lh - y0 < bh ? lh - y0 : bh;
                uint32_t cols = lw - x0 < bw ? lw - x0 : bw;
                for (uint32_t r = 0; r < rows; r++)
                    for (uint32_t c = 0; c < cols; c++) {
                        uint32_t x = x0 + c; /* kept when its column block is */
                        if ((x / cb) % k != 0)
                            continue;
                        size_t px = (size_t)r * bw + c;
                        size_t dst = (py0 + r) * pl->width + (size_t)(x / cb / k) * cb + x % cb;
                        if (planar == PLANARCONFIG_CONTIG)
                            for (unsigned q = 0; q < n_samples; q++)
                                pl->v[(first + q) * plane_px + dst] =
                                    sample_at(buf, px * spp + samples[q], bits, format);
                        else
                            pl->v[(first + j) * plane_px + dst] = sample_at(buf, px, bits, format);
                    }
            }
        }
    }
out:
    free(buf);
    return rc;
}

/* The stride of a strided decode of the single level at off (lw x lh, n channels shown)
 * within max samples, into *k, and the column block *cb (s->strided_bh the row block).
 * ERROR_TOO_LARGE when one block is over max, or when strips would make the decode read more
 * than PREVIEW_TIFF_STRIDE_WORK x max samples. */
static enum error_code choose_stride(struct tiff_state *s, const char *name, uint64_t off,
                                     uint32_t lw, uint32_t lh, unsigned n, uint64_t max,
                                     uint32_t *k, uint32_t *cb, struct error_info *err)
{
    if (!TIFFSetSubDirectory(s->tif, off))
        return tiff_fail(s, name, "cannot read the level's IFD", err);
    bool tiled;
    uint32_t bw, bh;
    if (!block_of(s->tif, lw, lh, &tiled, &bw, &bh))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: tile or strip of %u x %u", name, bw, bh);
    /* Strips: keep square blocks of columns as wide as a strip is tall. */
    *cb = tiled ? bw : (bh < lw ? bh : lw);
    s->strided_bh = bh;
    const uint64_t block = (uint64_t)*cb * bh * n;
    if (block > max)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: the image has no smaller level and one %s of %u x %u pixels with %u "
                         "channel%s shown is over the preview decode limit of %llu samples, so it "
                         "cannot be decoded in strides",
                         name, tiled ? "tile" : "strip block", *cb, bh, n, n == 1 ? "" : "s",
                         (unsigned long long)max);
    const uint64_t nbx = lw / *cb + (lw % *cb != 0), nby = lh / bh + (lh % bh != 0);
    const uint64_t total = (uint64_t)lw * lh * n;
    uint64_t step = 2;
    while (step * step < total / max)
        step++;
    const uint64_t last = nbx > nby ? nbx : nby;
    while (step < last && kept(lw, *cb, step) * kept(lh, bh, step) * n > max)
        step++;
    if (step > UINT32_MAX)
        step = UINT32_MAX;
    if (!tiled) {
        uint64_t work = (nby / step + (nby % step != 0)) * bh * (uint64_t)lw * n;
        if (work > PREVIEW_TIFF_STRIDE_WORK * max)
            return error_set(err, ERROR_TOO_LARGE,
                             "%s: the image has no smaller level and a strided decode of its "
                             "%u-row strips would read %llu samples, over %u x the preview decode "
                             "limit of %llu samples",
                             name, bh, (unsigned long long)work, PREVIEW_TIFF_STRIDE_WORK,
                             (unsigned long long)max);
    }
    *k = (uint32_t)step;
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * The call
 */

enum error_code preview_tiff_decode(int fd, const char *name, const struct preview_options *o,
                                    struct preview_plane *plane, struct preview_image *facts,
                                    struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    struct tiff_state s;
    memset(&s, 0, sizeof s);
    s.deadline = o->deadline;
    struct preview_plane pl;
    memset(&pl, 0, sizeof pl);
    memset(plane, 0, sizeof *plane);
    memset(facts, 0, sizeof *facts);
    int dfd = dup(fd);
    if (dfd < 0)
        return error_set_sys(err, errno == EMFILE ? ERROR_BUSY : ERROR_IO, errno,
                             "%s: cannot duplicate the descriptor: %s", name, strerror(errno));
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (opts == NULL) {
        close(dfd);
        return error_set(err, ERROR_NO_MEMORY, "%s: out of memory for libtiff", name);
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, &s);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, &s);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)256 << 20);
    s.tif = TIFFFdOpenExt(dfd, name, "rmO", opts);
    TIFFOpenOptionsFree(opts);
    if (s.tif == NULL) {
        close(dfd);
        return tiff_fail(&s, name, "not a readable TIFF file", err);
    }
    rc = walk(&s, name, o->max_ifds ? o->max_ifds : 1, err);
    if (rc != ERROR_OK)
        goto out;
    const struct tiff_page *p0 = &s.pages[0];
    bool samples_are_channels = p0->spp > 1;
    unsigned channels = samples_are_channels ? p0->spp : s.n_chan_pages;
    facts->levels = s.n_levels;
    facts->full_width = p0->width;
    facts->full_height = p0->height;
    facts->channels = channels;
    unsigned level;
    if (o->level >= 0) {
        if ((unsigned)o->level >= s.n_levels) {
            rc = error_set(err, ERROR_INVALID, "%s: level %d: the image has %u level%s", name,
                           o->level, s.n_levels, s.n_levels == 1 ? "" : "s");
            goto out;
        }
        level = (unsigned)o->level;
    } else {
        level = choose_level(&s, o->size);
    }
    /* The channels to decode, in the order shown. */
    unsigned list[PREVIEW_MAX_CHANNELS];
    unsigned n = o->n_channels;
    bool rgb8 = p0->spp == 3 && p0->bits == 8 && p0->format == SAMPLEFORMAT_UINT;
    if (n == 0) {
        n = channels < PREVIEW_PALETTE ? channels : PREVIEW_PALETTE;
        for (unsigned i = 0; i < n; i++)
            list[i] = i;
    } else {
        for (unsigned i = 0; i < n; i++) {
            if (o->channels[i] >= channels) {
                rc = error_set(err, ERROR_INVALID, "%s: channel %u: the image has %u channel%s",
                               name, o->channels[i], channels, channels == 1 ? "" : "s");
                goto out;
            }
            list[i] = o->channels[i];
        }
    }
    uint64_t samples = (uint64_t)s.lw[level] * s.lh[level] * n;
    uint32_t k = 1, cb = 0, pw = s.lw[level], ph = s.lh[level];
    const uint64_t first_ifd =
        samples_are_channels ? level_ifd(&s, level, 0) : level_ifd(&s, level, list[0]);
    if (samples > o->max_decode && s.n_levels == 1) {
        rc = choose_stride(&s, name, first_ifd, s.lw[level], s.lh[level], n, o->max_decode, &k, &cb,
                           err);
        if (rc != ERROR_OK)
            goto out;
        pw = (uint32_t)kept(s.lw[level], cb, k);
        ph = (uint32_t)kept(s.lh[level], s.strided_bh, k);
        samples = (uint64_t)pw * ph * n;
    }
    if (samples > o->max_decode) {
        rc = error_set(err, ERROR_TOO_LARGE,
                       "%s: level %u is %u x %u pixels with %u channel%s shown, %llu samples; "
                       "the preview decode limit is %llu samples%s",
                       name, level, s.lw[level], s.lh[level], n, n == 1 ? "" : "s",
                       (unsigned long long)samples, (unsigned long long)o->max_decode,
                       s.n_levels == 1 ? " (the image has no smaller level)" : "");
        goto out;
    }
    pl.width = pw;
    pl.height = ph;
    pl.channels = n;
    pl.is_integer = p0->format != SAMPLEFORMAT_IEEEFP;
    pl.is_rgb8 = rgb8 && o->n_channels == 0;
    pl.bits = p0->bits;
    pl.v = alloc_large((size_t)samples * sizeof *pl.v);
    if (pl.v == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "%s: out of memory for a %u x %u level", name,
                       pl.width, pl.height);
        goto out;
    }
    if (samples_are_channels) {
        rc = decode_ifd(&s, name, level_ifd(&s, level, 0), s.lw[level], s.lh[level], k, cb, list, n,
                        0, &pl, err);
    } else {
        static const unsigned sample0[1] = {0};
        for (unsigned i = 0; i < n && rc == ERROR_OK; i++)
            rc = decode_ifd(&s, name, level_ifd(&s, level, list[i]), s.lw[level], s.lh[level], k,
                            cb, sample0, 1, i, &pl, err);
    }
    if (rc != ERROR_OK)
        goto out;
    facts->level = level;
    facts->level_width = s.lw[level];
    facts->level_height = s.lh[level];
    facts->stride = k;
    *plane = pl;
    pl.v = NULL;
out:
    free(pl.v);
    free(s.pages);
    TIFFClose(s.tif);
    return rc;
}

enum error_code preview_tiff_render(int fd, const char *name, const struct preview_options *o,
                                    struct preview_image *out, struct error_info *err)
{
    struct preview_plane pl;
    enum error_code rc = preview_tiff_decode(fd, name, o, &pl, out, err);
    if (rc != ERROR_OK)
        return rc;
    /* The plane holds the listed channels in order: render them as channels 0..n-1. */
    struct preview_options ro = *o;
    for (unsigned i = 0; i < o->n_channels; i++)
        ro.channels[i] = i;
    rc = preview_render(&pl, &ro, out, err);
    free(pl.v);
    if (rc != ERROR_OK)
        preview_image_cleanup(out);
    return rc;
}
