/*
 * quantify.h - mcquant's single-cell table: per label of a 2-D label image, the intensity
 * statistics of every channel (mean, sum, min, max, std) and the cell's shape (centroid, area,
 * bbox, axis lengths, eccentricity, orientation, solidity, extent, perimeter), equal to
 * skimage 0.19's regionprops_table on the same arrays.
 *
 * Design: one streaming pass, row by row. An accumulator (struct quantify_acc) belongs to one
 * worker and is fed whole rows in any row order; each row is cut into runs of one label and
 * every run costs one hash lookup (open addressing on the 64-bit label, so labels up to
 * 2^64 - 1 cost what small ones cost) and closed-form updates: pixel count, exact 128-bit
 * sums of x, y, x^2, xy, y^2, the bounding box, the run's row extent (kept once per label and
 * row, for the convex hull), per channel a compensated (double-double) sum and sum of
 * squares plus min and max, and the label's 4-connected border-pixel classes (for skimage's
 * weighted perimeter, which needs the two label rows above and below). Workers' accumulators
 * are merged, then quantify_acc_finish sorts the labels and derives the features.
 * Memory: O(labels x channels + labels x rows per label); no pixel is kept. Median and Gini
 * need every value of a cell: quantify_values_of derives them from a cell's values, which
 * core/load_quantify collects in a second, bounded pass.
 *
 * Definitions (the contract; x = column, y = row, pixel centres at integer coordinates):
 *   centroid      (mean y, mean x) of the label's pixels.
 *   central moments  Srr = sum (y - cy)^2, Scc = sum (x - cx)^2, Src = sum (y - cy)(x - cx),
 *                 from the exact integer sums; a = Scc / n, b = -Src / n, c = Srr / n;
 *                 eigenvalues l1 >= l2 of [[a, b], [b, c]] clipped at 0.
 *   major/minor   4 sqrt(l1), 4 sqrt(l2); eccentricity sqrt(1 - l2 / l1), 0 when l1 = 0.
 *   orientation   0.5 atan2(-2b, c - a) in [-pi/2, pi/2]; when a = c exactly, skimage's
 *                 special case: -pi/4 if b < 0, else pi/4. skimage's moments are rounded, so
 *                 where the exact a = c it may miss its special case and give the formula's
 *                 limit -pi/4 sign(b) instead; where Src = 0 exactly and Srr < Scc it gives
 *                 +-pi/2 by the sign of its rounding noise (the same axis as our pi/2).
 *   extent        area / bbox area.
 *   solidity      area / convex area, where the convex area counts the integer grid points
 *                 inside or on the convex hull of every pixel's four edge midpoints
 *                 (x +- 1/2, y) and (x, y +- 1/2): skimage 0.19's convex_hull_image
 *                 (offset_coordinates, grid_points_in_poly counting edge and vertex points),
 *                 computed exactly in integers here.
 *   perimeter     skimage's perimeter(image, 4): border pixels (a 4-neighbour outside the
 *                 label, the image edge counting as outside) weighted by their border
 *                 neighbours: 1, sqrt 2 or (1 + sqrt 2) / 2.
 *   intensity     mean = sum / n, std = sqrt(sum of (v - mean)^2 / n) (ddof 0), min, max;
 *                 median as numpy's (the mean of the two middle values for even n); gini as
 *                 mcquant: x sorted ascending, (n + 1 - 2 sum(cumsum(x)) / sum(x)) / n (NaN
 *                 when sum(x) = 0). A NaN value makes both NaN, and (as numpy's sum, mean,
 *                 std, min and max, which skimage 0.19's regionprops uses) every other
 *                 statistic of that cell and channel NaN too.
 *
 * Thread-safety: an accumulator belongs to one thread at a time; distinct ones are
 * independent.
 */
#ifndef TESSERA_CORE_QUANTIFY_H
#define TESSERA_CORE_QUANTIFY_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

/* Per-cell shape, as skimage names it. bbox is (min_row, min_col, max_row, max_col), the
 * max exclusive. */
struct quantify_shape {
    double centroid_y, centroid_x;
    uint64_t area;
    uint32_t bbox[4];
    double major_axis_length, minor_axis_length, eccentricity, orientation;
    double solidity, extent, perimeter;
    uint64_t convex_area;
};

/* Per-cell, per-channel intensity statistics. median and gini are NaN unless the caller
 * computed them from every value of the cell (quantify_values_of). */
struct quantify_stats {
    double mean, sum, min, max, std;
    double median, gini;
};

/* The finished table, labels ascending. stats is labels x channels, label-major. */
struct quantify_table {
    size_t labels;
    size_t channels;
    uint64_t *label;
    struct quantify_shape *shape;
    struct quantify_stats *stats;
};

struct quantify_acc;

/*
 * A new empty accumulator for images `width` pixels wide with `channels` intensity channels,
 * refusing more than max_labels distinct labels (0 = no cap but memory). NULL with
 * ERROR_NO_MEMORY in err on failure. Free with quantify_acc_free.
 */
struct quantify_acc *quantify_acc_new(uint32_t width, uint32_t height, size_t channels,
                                      uint64_t max_labels, struct error_info *err);

void quantify_acc_free(struct quantify_acc *acc); /* NULL is a no-op */

/*
 * Fold row y. rows[0..4] are label rows y-2 .. y+2 (NULL for a row outside the image;
 * rows[2], row y itself, is never NULL), each `width` labels; channel[c] is row y of channel
 * c as doubles. Label 0 is background. Fails with ERROR_TOO_LARGE past max_labels (naming
 * the limit), ERROR_NO_MEMORY. After a failure only free the accumulator.
 */
enum error_code quantify_acc_row(struct quantify_acc *acc, uint32_t y,
                                 const uint64_t *const rows[5], const double *const *channel,
                                 struct error_info *err) ERROR_MUST_CHECK;

/* Move everything from `from` into `into` (same width and channels); `from` is left empty. */
enum error_code quantify_acc_merge(struct quantify_acc *into, struct quantify_acc *from,
                                   struct error_info *err) ERROR_MUST_CHECK;

/* Labels held so far. */
size_t quantify_acc_labels(const struct quantify_acc *acc);

/*
 * Derive the table from the accumulator (the accumulator stays valid and is still freed by
 * the caller). *table is owned by the caller: quantify_table_cleanup. ERROR_NO_MEMORY.
 */
enum error_code quantify_acc_finish(struct quantify_acc *acc, struct quantify_table *table,
                                    struct error_info *err) ERROR_MUST_CHECK;

void quantify_table_cleanup(struct quantify_table *table);

/* Median and Gini index of the n values at v (sorted in place) into st. */
void quantify_values_of(double *v, size_t n, struct quantify_stats *st);

#endif
