/*
 * preview.c - from a decoded level to RGB pixels: area averaging, percentile stretch,
 * additive composite, label colours and outlines; see preview.h. The percentiles use a
 * quickselect on a copy of one channel at a time, so the extra memory is one plane.
 */
#include "preview.h"
#include "alloc.h"
#include "limit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void preview_options_init(struct preview_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = 512;
    o->level = -1;
    o->lo = 0.5;
    o->hi = 99.5;
    o->labels = PREVIEW_LABELS_AUTO;
    o->max_decode = LIMIT_PREVIEW_MAX_DECODE;
    o->max_ifds = LIMIT_MAX_IFDS;
}

void preview_palette(unsigned i, unsigned n, uint8_t rgb[3])
{
    static const uint8_t palette[PREVIEW_PALETTE][3] = {
        {0, 0, 255},   {0, 255, 0},   {255, 0, 0},    {255, 0, 255},
        {0, 255, 255}, {255, 255, 0}, {255, 255, 255}};
    const uint8_t *c = n == 1 ? palette[6] : palette[i % PREVIEW_PALETTE];
    memcpy(rgb, c, 3);
}

void preview_fit(uint32_t w, uint32_t h, uint32_t size, uint32_t *ow, uint32_t *oh)
{
    uint32_t longest = w > h ? w : h;
    if (size == 0 || longest <= size) {
        *ow = w;
        *oh = h;
        return;
    }
    /* Round to nearest: ow = round(w * size / longest), at least 1. */
    uint64_t x = ((uint64_t)w * size * 2 + longest) / ((uint64_t)longest * 2);
    uint64_t y = ((uint64_t)h * size * 2 + longest) / ((uint64_t)longest * 2);
    *ow = x ? (uint32_t)x : 1;
    *oh = y ? (uint32_t)y : 1;
}

void preview_label_color(uint64_t label, uint8_t rgb[3])
{
    if (label == 0) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    uint64_t z = label + 0x9e3779b97f4a7c15ull; /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)(64 + ((z >> (8 * k)) & 0xff) * 191 / 255);
}

void preview_image_cleanup(struct preview_image *out)
{
    free(out->rgb);
    memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------------------------------------
 * Percentiles
 *
 * numpy's "linear" method: position q/100 * (n-1) in the sorted values, interpolated between
 * its two neighbours with numpy's _lerp (which computes from the upper end when the fraction
 * is at least 0.5), so the value is the one numpy gives, bit for bit.
 */

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* Reorder v so that v[k] is the k-th smallest and nothing before it is larger. */
static void select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            swap_d(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swap_d(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swap_d(&v[hi], &v[mid]);
        double pivot = v[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                swap_d(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

double preview_percentile(double *v, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i >= n - 1) {
        select_kth(v, n, n - 1);
        return v[n - 1];
    }
    double t = pos - (double)i;
    select_kth(v, n, i);
    double a = v[i], b = v[i + 1];
    for (size_t j = i + 2; j < n; j++)
        if (v[j] < b)
            b = v[j];
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 */

/* The mean of plane channel c over output cell (x, y). */
static double box_mean(const struct preview_plane *p, unsigned c, uint32_t ow, uint32_t oh,
                       uint32_t x, uint32_t y)
{
    uint64_t w = p->width, h = p->height;
    uint64_t x0 = x * w / ow, x1 = (x + 1) * w / ow;
    uint64_t y0 = y * h / oh, y1 = (y + 1) * h / oh;
    const double *plane = p->v + (size_t)c * w * h;
    double sum = 0;
    uint64_t count = 0;
    for (uint64_t yy = y0; yy < y1; yy++)
        for (uint64_t xx = x0; xx < x1; xx++) {
            double s = plane[yy * w + xx];
            if (!isnan(s)) {
                sum += s;
                count++;
            }
        }
    return count ? sum / (double)count : NAN;
}

static uint8_t round_byte(double x)
{
    if (!(x > 0))
        return 0;
    if (x >= 255)
        return 255;
    return (uint8_t)floor(x + 0.5);
}

/* The lo and hi percentiles of channel c, NaN left out; both 0 for an all-NaN channel. */
static enum error_code channel_range(const struct preview_plane *p, unsigned c, double lo,
                                     double hi, double *vlo, double *vhi, struct error_info *err)
{
    size_t n = (size_t)p->width * p->height;
    double *copy = alloc_large(n * sizeof *copy);
    if (copy == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory for a %zu-pixel channel", n);
    const double *plane = p->v + (size_t)c * n;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(plane[i]))
            copy[m++] = plane[i];
    *vlo = *vhi = 0;
    if (m > 0) {
        *vlo = preview_percentile(copy, m, lo);
        *vhi = preview_percentile(copy, m, hi);
    }
    free(copy);
    return ERROR_OK;
}

static bool want_labels(const struct preview_plane *p, const struct preview_options *o)
{
    if (o->labels != PREVIEW_LABELS_AUTO)
        return o->labels == PREVIEW_LABELS_YES;
    return p->channels == 1 && p->is_integer && p->bits >= 32;
}

static void render_labels(const struct preview_plane *p, const struct preview_options *o,
                          unsigned c, uint32_t ow, uint32_t oh, uint64_t *lab, uint8_t *rgb)
{
    uint64_t w = p->width, h = p->height;
    const double *plane = p->v + (size_t)c * w * h;
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            uint64_t sx = (2 * (uint64_t)x + 1) * w / (2 * (uint64_t)ow);
            uint64_t sy = (2 * (uint64_t)y + 1) * h / (2 * (uint64_t)oh);
            double s = plane[sy * w + sx];
            lab[(size_t)y * ow + x] = s > 0 && s < 18446744073709551616.0 ? (uint64_t)s : 0;
        }
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            size_t i = (size_t)y * ow + x;
            uint64_t l = lab[i];
            bool edge = (x > 0 && lab[i - 1] != l) || (x + 1 < ow && lab[i + 1] != l) ||
                        (y > 0 && lab[i - ow] != l) || (y + 1 < oh && lab[i + ow] != l);
            preview_label_color(o->boundaries && !edge ? 0 : l, rgb + 3 * i);
        }
}

enum error_code preview_render(const struct preview_plane *p, const struct preview_options *o,
                               struct preview_image *out, struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    uint32_t ow, oh;
    preview_fit(p->width, p->height, o->size, &ow, &oh);
    size_t npx = (size_t)ow * oh;
    uint8_t *rgb = alloc_zeroed(npx, 3);
    uint64_t *lab = NULL;
    double *acc = NULL;
    if (rgb == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory for a %u x %u preview", ow, oh);
        goto out;
    }
    unsigned shown[PREVIEW_MAX_CHANNELS];
    unsigned n_shown = o->n_channels;
    if (n_shown == 0) {
        n_shown = p->channels < PREVIEW_PALETTE ? p->channels : PREVIEW_PALETTE;
        for (unsigned i = 0; i < n_shown; i++)
            shown[i] = i;
    } else {
        for (unsigned i = 0; i < n_shown; i++) {
            if (o->channels[i] >= p->channels) {
                rc = error_set(err, ERROR_INVALID, "channel %u: the image has %u channel%s",
                               o->channels[i], p->channels, p->channels == 1 ? "" : "s");
                goto out;
            }
            shown[i] = o->channels[i];
        }
    }
    out->labels = want_labels(p, o);
    if (out->labels) {
        lab = alloc_zeroed(npx, sizeof *lab);
        if (lab == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "out of memory for a %u x %u preview", ow, oh);
            goto out;
        }
        render_labels(p, o, shown[0], ow, oh, lab, rgb);
    } else if (p->is_rgb8 && o->n_channels == 0) {
        for (uint32_t y = 0; y < oh; y++)
            for (uint32_t x = 0; x < ow; x++)
                for (unsigned k = 0; k < 3; k++)
                    rgb[3 * ((size_t)y * ow + x) + k] = round_byte(box_mean(p, k, ow, oh, x, y));
    } else {
        acc = alloc_zeroed(npx * 3, sizeof *acc);
        if (acc == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "out of memory for a %u x %u preview", ow, oh);
            goto out;
        }
        for (unsigned i = 0; i < n_shown; i++) {
            double vlo = 0, vhi = 0;
            rc = channel_range(p, shown[i], o->lo, o->hi, &vlo, &vhi, err);
            if (rc != ERROR_OK)
                goto out;
            uint8_t color[3];
            if (o->have_colors)
                memcpy(color, o->colors[i], 3);
            else
                preview_palette(i, n_shown, color);
            for (uint32_t y = 0; y < oh; y++)
                for (uint32_t x = 0; x < ow; x++) {
                    double m = box_mean(p, shown[i], ow, oh, x, y);
                    double t;
                    if (isnan(m))
                        t = 0;
                    else if (vhi > vlo)
                        t = (m - vlo) / (vhi - vlo);
                    else
                        t = m > vlo ? 1 : 0;
                    t = t < 0 ? 0 : t > 1 ? 1 : t;
                    double *a = acc + 3 * ((size_t)y * ow + x);
                    for (unsigned k = 0; k < 3; k++)
                        a[k] += t * color[k];
                }
        }
        for (size_t i = 0; i < npx * 3; i++)
            rgb[i] = round_byte(acc[i]);
    }
    out->width = ow;
    out->height = oh;
    out->rgb = rgb;
    rgb = NULL;
out:
    free(rgb);
    free(lab);
    free(acc);
    return rc;
}
