/*
 * overlay.h - the picture of an evaluation: a ground-truth and a predicted label image of one
 * size drawn over each other, coloured by what the matching decided for each label.
 *
 * The caller matches (the same counting and matching as POST /overlap) and passes the
 * matched labels of each side; this module only draws. Each output pixel of the preview grid
 * (core/preview's preview_fit, sampled at the cell centre as preview draws labels) takes the
 * true label t and the predicted label p there, then, first rule that applies:
 *   an outline pixel of the prediction (p != 0 differs from a 4-neighbour's p): OVERLAY_PRED_EDGE
 *   an outline pixel of the truth (t != 0 differs from a 4-neighbour's t): OVERLAY_TRUE_EDGE
 *   t matched or p matched (part of a true positive pair):                 OVERLAY_TP
 *   p != 0, unmatched (a false positive):                                  OVERLAY_FP
 *   t != 0, unmatched (a false negative):                                  OVERLAY_FN
 *   else black.
 * Cost: O(output pixels x log matched labels). Reentrant.
 */
#ifndef TESSERA_CORE_OVERLAY_H
#define TESSERA_CORE_OVERLAY_H

#include "error.h"
#include "preview.h"

#include <stddef.h>
#include <stdint.h>

/* The colours, RGB. */
#define OVERLAY_TP                                                                                 \
    {                                                                                              \
        0, 170, 0                                                                                  \
    }
#define OVERLAY_FP                                                                                 \
    {                                                                                              \
        220, 30, 30                                                                                \
    }
#define OVERLAY_FN                                                                                 \
    {                                                                                              \
        30, 90, 255                                                                                \
    }
#define OVERLAY_TRUE_EDGE                                                                          \
    {                                                                                              \
        255, 255, 255                                                                              \
    }
#define OVERLAY_PRED_EDGE                                                                          \
    {                                                                                              \
        255, 210, 0                                                                                \
    }

struct overlay_matched {
    const uint64_t *true_labels; /* ascending, the true labels of the tp pairs */
    size_t n_true;
    const uint64_t *pred_labels; /* ascending, the predicted labels of the tp pairs */
    size_t n_pred;
};

/* Draw truth (plane channel 0) over pred, both width x height, into out (width, height, rgb;
 * free with preview_image_cleanup), at most size pixels on the longest side. Fails with
 * ERROR_INVALID when the planes differ in size, ERROR_NO_MEMORY. */
enum error_code overlay_render(const struct preview_plane *truth, const struct preview_plane *pred,
                               const struct overlay_matched *m, uint32_t size,
                               struct preview_image *out, struct error_info *err) ERROR_MUST_CHECK;

#endif
