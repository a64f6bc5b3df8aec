/*
 * preview.h - a small RGB picture of an image or a label image: the pyramid level nearest
 * the wanted size is decoded (core/preview_tiff.c reads TIFF levels, tiles or strips), then
 * reduced by area averaging and coloured here.
 *
 * Intensity images: each shown channel is area-averaged, then stretched linearly between its
 * lo and hi percentiles (numpy's default "linear" percentile over every pixel of the decoded
 * level, NaN left out as numpy.nanpercentile does), clamped to [0, 1], and the channels are added,
 * each times its colour, rounding half up and clamping at 255. An RGB image (three 8-bit samples)
 * is area-averaged per sample and shown as it is. A label image shows each label at the centre
 * pixel of its output cell in a colour fixed by the label value alone (the same label is the same
 * colour in every preview), 0 black; with boundaries only the pixels whose label differs from a
 * 4-neighbour in the preview are coloured.
 *
 * The output is at most `size` pixels on its longest side, keeps the aspect ratio (each side
 * at least 1), and is never larger than the decoded level: output pixel (x, y) of an
 * ow x oh preview of a w x h level averages the source box [x*w/ow, (x+1)*w/ow) x
 * [y*h/oh, (y+1)*h/oh) in integer division. Memory: the decoded level as doubles
 * (preview_options.max_decode samples at most), a copy of one channel for the percentiles,
 * and the output. Reentrant.
 */
#ifndef TESSERA_CORE_PREVIEW_H
#define TESSERA_CORE_PREVIEW_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREVIEW_MAX_CHANNELS 16u /* channels one preview may composite */
#define PREVIEW_PALETTE      7u  /* default colours, then they repeat */

enum preview_labels {
    PREVIEW_LABELS_AUTO = 0, /* labels when one integer sample of 32 or 64 bits */
    PREVIEW_LABELS_YES,
    PREVIEW_LABELS_NO
};

struct preview_options {
    uint32_t size;       /* longest side wanted, >= 1 */
    int level;           /* -1: the smallest level at least `size` on its longest side */
    unsigned n_channels; /* 0: the first min(channels, PREVIEW_PALETTE) */
    unsigned channels[PREVIEW_MAX_CHANNELS];
    bool have_colors; /* colors[] gives each listed channel's colour (else the palette) */
    uint8_t colors[PREVIEW_MAX_CHANNELS][3];
    double lo, hi; /* percentiles, 0 <= lo < hi <= 100 */
    enum preview_labels labels;
    bool boundaries;     /* label images: outlines only */
    uint64_t max_decode; /* most samples (pixels x channels decoded) of one level */
    unsigned max_ifds;   /* IFDs walked looking for levels */
    int64_t deadline;    /* core/clock.h ns, checked per strip, tile or chunk; 0 = none */
};

/* size 512, auto level, default channels, lo 0.5, hi 99.5, labels auto, max_decode
 * LIMIT_PREVIEW_MAX_DECODE samples, max_ifds LIMIT_MAX_IFDS. */
void preview_options_init(struct preview_options *o);

/* The default colour of the i-th shown channel: blue, green, red, magenta, cyan, yellow,
 * white, then again; a single channel is white. */
void preview_palette(unsigned i, unsigned n, uint8_t rgb[3]);

/* One decoded level: channels planes of width x height doubles (plane c at v + c*w*h). */
struct preview_plane {
    uint32_t width, height;
    unsigned channels;
    bool is_integer; /* samples are integers (labels possible) */
    bool is_rgb8;    /* three 8-bit samples meant as RGB */
    uint16_t bits;
    double *v;
};

/* What a preview is and where it came from. rgb is malloc'd (free it), width * height * 3. */
struct preview_image {
    uint32_t width, height;
    uint8_t *rgb;
    unsigned level, levels;             /* the level decoded, of how many */
    uint32_t level_width, level_height; /* its size */
    uint32_t full_width, full_height;   /* level 0 */
    unsigned channels;                  /* channels the image has */
    bool labels;                        /* drawn as labels */
    uint32_t stride; /* 1, or k when only every k-th block row and column was decoded */
};

/* The output size for a w x h level and a wanted longest side, as described above. */
void preview_fit(uint32_t w, uint32_t h, uint32_t size, uint32_t *ow, uint32_t *oh);

/* Turn a decoded level into out->rgb (width, height, labels set; the rest left alone).
 * Fails with ERROR_INVALID for a listed channel the plane lacks, ERROR_NO_MEMORY. */
enum error_code preview_render(const struct preview_plane *p, const struct preview_options *o,
                               struct preview_image *out, struct error_info *err) ERROR_MUST_CHECK;

/* The colour of a label (0 is black): a hash of the value, each component in 64..255. */
void preview_label_color(uint64_t label, uint8_t rgb[3]);

/* numpy's default percentile (linear interpolation) of n values, q in [0, 100]; the values
 * are reordered. n >= 1. */
double preview_percentile(double *v, size_t n, double q);

/* Free out->rgb and zero *out. */
void preview_image_cleanup(struct preview_image *out);

#endif
