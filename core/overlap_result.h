/*
 * overlap_result.h - a finished count's result built from its sorted pairs: the areas of
 * every label of a and of b and the columns (a, b, count, IoU);
 * internal to the overlap*.c files (overlap_result_cleanup is declared in overlap.h).
 *
 * O(pairs) time for the areas of a (runs of a in the sorted pairs) and the columns; the areas
 * of b come from a dense label table when the b labels are small (at most 4 MiB of ranks),
 * else from a radix sort of (b, pair index), O(pairs) as well.
 */
#ifndef TESSERA_CORE_OVERLAP_RESULT_H
#define TESSERA_CORE_OVERLAP_RESULT_H

#include "overlap.h"
#include "overlap_sort.h"

#include <stddef.h>

/*
 * Fill result (zeroed by the caller; pixels is not set here) from the n pairs sorted by
 * (a, b), all with count >= 1, as options says. On
 * failure (ERROR_NO_MEMORY) result is zeroed and holds nothing to free.
 */
enum error_code overlap_result_build(const struct overlap_entry *pairs, size_t n,
                                     const struct overlap_options *options,
                                     struct overlap_result *result,
                                     struct error_info *err) ERROR_MUST_CHECK;

#endif
