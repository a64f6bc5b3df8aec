/*
 * overlap_match.c - StarDist's matching statistics from the sorted pairs; see overlap_match.h.
 *
 * numpy sums float64 arrays pairwise (blocks of 128, eight accumulators); StarDist's sum of
 * matched IoU is such an np.sum, so the same order is used here to give equal bits.
 */
#include "overlap_match.h"

#include "alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static double numpy_pairwise_sum(const double *x, size_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += x[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (unsigned k = 0; k < 8; k++)
            r[k] = x[k];
        for (i = 8; i < n - (n % 8); i += 8)
            for (unsigned k = 0; k < 8; k++)
                r[k] += x[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += x[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return numpy_pairwise_sum(x, n2) + numpy_pairwise_sum(x + n2, n - n2);
}

enum error_code overlap_match_check(double threshold, struct error_info *err)
{
    if (isnan(threshold) || threshold > 1.0)
        return error_set(err, ERROR_INVALID, "match_threshold must be a number in [0.5, 1]");
    if (threshold < 0.5)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "match_threshold %g is below 0.5: matching there needs an optimal "
                         "assignment, which is not implemented; use a threshold in [0.5, 1]",
                         threshold);
    return ERROR_OK;
}

static double safe_ratio(double x, double y)
{
    return y > 1e-10 ? x / y : 0.0;
}

enum error_code overlap_match_pairs(const struct overlap_entry *pairs, size_t n,
                                    const struct overlap_b_index *bx, double t,
                                    struct overlap_result *result, struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    const struct overlap_labels *la = &result->areas_a, *lb = &result->areas_b;
    bool *b_used = alloc_large_zeroed(lb->n + 1, sizeof *b_used);
    double *matched = alloc_large((n + 1) * sizeof *matched);
    if (b_used == NULL || matched == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate matching tables for %zu pairs", n);
        goto out;
    }
    uint64_t tp = 0;
    bool a_used = false;
    for (size_t i = 0, ra = 0; i < n; i++) {
        const struct overlap_entry *e = &pairs[i];
        if (la->label[ra] != e->a) {
            while (la->label[ra] != e->a)
                ra++;
            a_used = false;
        }
        if (e->a == 0 || e->b == 0)
            continue;
        size_t rb = overlap_b_rank(bx, pairs, i);
        double iou = (double)e->count / (double)(la->area[ra] + lb->area[rb] - e->count);
        if (iou >= t && !a_used && !b_used[rb]) {
            a_used = true;
            b_used[rb] = true;
            matched[tp++] = iou;
        }
    }
    const uint64_t labels_a = result->labels_a, labels_b = result->labels_b;
    struct overlap_matching *m = &result->matching;
    double sum = numpy_pairwise_sum(matched, (size_t)tp);
    double dtp = (double)tp, fp = (double)(labels_b - tp), fn = (double)(labels_a - tp);
    m->threshold = t;
    m->tp = tp;
    m->fp = labels_b - tp;
    m->fn = labels_a - tp;
    m->precision = tp > 0 ? dtp / (dtp + fp) : 0.0;
    m->recall = tp > 0 ? dtp / (dtp + fn) : 0.0;
    m->f1 = tp > 0 ? (2 * dtp) / (2 * dtp + fp + fn) : 0.0;
    m->mean_matched_iou = safe_ratio(sum, dtp);
    m->panoptic_quality = safe_ratio(sum, dtp + fp / 2 + fn / 2);
    result->has_matching = true;
out:
    free(b_used);
    free(matched);
    return rc;
}
