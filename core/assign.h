/*
 * assign.h - minimum-cost assignment on a small dense rectangular cost matrix (the linear sum
 * assignment problem), for the per-component matching of segmentation evaluation.
 *
 * The algorithm is the shortest augmenting path method (Jonker-Volgenant style, as described
 * by Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 2016): one
 * Dijkstra-like search over the columns per row, with dual potentials kept so reduced costs
 * stay non-negative. Cost O(r^2 c) time and O(r c) memory for an r x c matrix (the smaller
 * side is the one iterated). Exactly min(r, c) pairs are assigned, minimising the sum of
 * their costs; ties between columns are broken the way scipy.optimize.linear_sum_assignment
 * breaks them (columns scanned from the last to the first, an unassigned column preferred
 * among equals), so on the same matrix the same assignment comes out in all but pathological
 * floating-point cases.
 *
 * Tuned for: components of the sparse overlap graph of two segmentations, almost always a
 * few labels, rarely thousands; the caller bounds r x c before calling.
 */
#ifndef TESSERA_CORE_ASSIGN_H
#define TESSERA_CORE_ASSIGN_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Solve: cost is rows x cols, row-major, every entry finite. On success row_to_col[i] is the
 * column assigned to row i, or -1 when rows > cols and row i is left out. Fails with
 * ERROR_INVALID (a NaN or infinite cost), ERROR_NO_MEMORY. Allocates O(rows + cols) scratch
 * plus a transposed copy when rows > cols. Thread-safe (touches only its arguments).
 */
enum error_code assign_solve(size_t rows, size_t cols, const double *cost, int64_t *row_to_col,
                             struct error_info *err) ERROR_MUST_CHECK;

#endif
