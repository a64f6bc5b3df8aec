/*
 * overlay.c - drawing an evaluation; see overlay.h. Labels are sampled into two small grids
 * first, so the outline test reads neighbours in the preview grid, not in the source.
 */
#include "overlay.h"
#include "alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool sorted_has(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

static void sample(const struct preview_plane *p, uint32_t ow, uint32_t oh, uint64_t *grid)
{
    uint64_t w = p->width, h = p->height;
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            uint64_t sx = (2 * (uint64_t)x + 1) * w / (2 * (uint64_t)ow);
            uint64_t sy = (2 * (uint64_t)y + 1) * h / (2 * (uint64_t)oh);
            double s = p->v[sy * w + sx];
            grid[(size_t)y * ow + x] = s > 0 && s < 18446744073709551616.0 ? (uint64_t)s : 0;
        }
}

static bool edge(const uint64_t *g, uint32_t ow, uint32_t oh, uint32_t x, uint32_t y)
{
    size_t i = (size_t)y * ow + x;
    uint64_t l = g[i];
    return l != 0 && ((x > 0 && g[i - 1] != l) || (x + 1 < ow && g[i + 1] != l) ||
                      (y > 0 && g[i - ow] != l) || (y + 1 < oh && g[i + ow] != l));
}

enum error_code overlay_render(const struct preview_plane *truth, const struct preview_plane *pred,
                               const struct overlay_matched *m, uint32_t size,
                               struct preview_image *out, struct error_info *err)
{
    static const uint8_t tp[3] = OVERLAY_TP, fp[3] = OVERLAY_FP, fn[3] = OVERLAY_FN,
                         tedge[3] = OVERLAY_TRUE_EDGE, pedge[3] = OVERLAY_PRED_EDGE,
                         black[3] = {0, 0, 0};
    if (truth->width != pred->width || truth->height != pred->height)
        return error_set(err, ERROR_INVALID, "the images differ in size: %u x %u and %u x %u",
                         truth->width, truth->height, pred->width, pred->height);
    enum error_code rc = ERROR_OK;
    uint32_t ow, oh;
    preview_fit(truth->width, truth->height, size, &ow, &oh);
    size_t n = (size_t)ow * oh;
    uint64_t *gt = alloc_zeroed(n, sizeof *gt), *gp = alloc_zeroed(n, sizeof *gp);
    uint8_t *rgb = alloc_zeroed(n, 3);
    if (gt == NULL || gp == NULL || rgb == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory for a %u x %u overlay", ow, oh);
        goto out;
    }
    sample(truth, ow, oh, gt);
    sample(pred, ow, oh, gp);
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            size_t i = (size_t)y * ow + x;
            uint64_t t = gt[i], p = gp[i];
            const uint8_t *c = black;
            if (edge(gp, ow, oh, x, y))
                c = pedge;
            else if (edge(gt, ow, oh, x, y))
                c = tedge;
            else if ((t != 0 && sorted_has(m->true_labels, m->n_true, t)) ||
                     (p != 0 && sorted_has(m->pred_labels, m->n_pred, p)))
                c = tp;
            else if (p != 0)
                c = fp;
            else if (t != 0)
                c = fn;
            memcpy(rgb + 3 * i, c, 3);
        }
    out->width = ow;
    out->height = oh;
    out->rgb = rgb;
    out->labels = true;
    rgb = NULL;
out:
    free(gt);
    free(gp);
    free(rgb);
    return rc;
}
