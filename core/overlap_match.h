/*
 * overlap_match.h - StarDist's matching over the sorted pairs of a finished count; internal
 * to the overlap*.c files (overlap_match_check, its public part, is declared in overlap.h).
 *
 * One pass over the pairs in (a, b) order, O(pairs) time, one flag per label of b and one
 * double per match. For t > 0.5 a label has at most one partner with IoU >= t, so a greedy
 * pass equals StarDist's optimal assignment; at t = 0.5 two halves of one label can tie, and
 * the first in (a, b) order is taken (any choice gives the same tp and IoU sum).
 */
#ifndef TESSERA_CORE_OVERLAP_MATCH_H
#define TESSERA_CORE_OVERLAP_MATCH_H

#include "overlap.h"
#include "overlap_sort.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Where the label b of pair i sits in areas_b: through a dense label -> rank table when the
 * b labels are small (no sort needed), else through a rank stored per pair.
 */
struct overlap_b_index {
    const uint32_t *rank_by_label; /* max_b + 1 entries, or NULL */
    const size_t *rank_by_pair;    /* n entries when rank_by_label is NULL */
};

static inline size_t overlap_b_rank(const struct overlap_b_index *x,
                                    const struct overlap_entry *pairs, size_t i)
{
    return x->rank_by_label != NULL ? x->rank_by_label[pairs[i].b] : x->rank_by_pair[i];
}

/*
 * Fill result->matching at threshold t (already checked by overlap_match_check) from the n
 * pairs sorted by (a, b); result->areas_a, areas_b, labels_a and labels_b must be set, and bx
 * must index areas_b. Sets result->has_matching. Fails only with ERROR_NO_MEMORY.
 */
enum error_code overlap_match_pairs(const struct overlap_entry *pairs, size_t n,
                                    const struct overlap_b_index *bx, double t,
                                    struct overlap_result *result,
                                    struct error_info *err) ERROR_MUST_CHECK;

#endif
