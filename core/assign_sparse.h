/*
 * assign_sparse.h - minimum-cost matching on a sparse bipartite graph where leaving a row or a
 * column unmatched costs 0: the maximum-weight matching that an optimal dense rectangular
 * assignment (core/assign.h) gives when every absent pair costs 0 and every edge costs <= 0,
 * which is the shape of segmentation matching (only overlapping label pairs are edges).
 *
 * The algorithm is the same shortest augmenting path method as core/assign.h, one row at a
 * time, over the edges only: every row also has a private "unmatched" column of cost 0, so
 * each row's search (Dijkstra with dual potentials, reduced costs >= 0) ends at the first
 * free real column or unmatched column it reaches. That column is at reduced distance <= 0
 * from the row itself, so a search only explores the part of the graph that can still pay
 * off, usually a handful of labels even inside a component of thousands. Cost: O(k log k)
 * per row for the k edges its search reaches (worst case every edge), O(rows + cols + edges)
 * memory. The minimum is the dense problem's minimum; which of several equally cheap
 * matchings comes out may differ from the dense solver's.
 *
 * Tuned for: components of the overlap graph of touching-cell segmentations, thousands of
 * labels and a few edges per label; the caller bounds the edges and passes a deadline.
 */
#ifndef TESSERA_CORE_ASSIGN_SPARSE_H
#define TESSERA_CORE_ASSIGN_SPARSE_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

/* The graph in compressed rows: row i's edges are row_start[i] .. row_start[i + 1] - 1, each
 * with its column (< cols) and a finite cost. A row may list a column at most once. */
struct assign_sparse_graph {
    size_t rows, cols;
    const size_t *row_start; /* rows + 1 entries, row_start[0] = 0 */
    const uint32_t *col;
    const double *cost;
};

/*
 * Solve: minimise the sum of the costs of the chosen edges, no two sharing a row or a column.
 * On success row_to_edge[i] is the edge index chosen for row i, or -1 when row i is left
 * unmatched. Fails with ERROR_INVALID (a NaN or infinite cost, a column out of range, more
 * than UINT32_MAX rows + cols), ERROR_TIMEOUT (deadline, core/clock.h, 0 = none, checked
 * between rows), ERROR_NO_MEMORY. Thread-safe (touches only its arguments).
 */
enum error_code assign_sparse_solve(const struct assign_sparse_graph *g, int64_t deadline,
                                    int64_t *row_to_edge, struct error_info *err) ERROR_MUST_CHECK;

#endif
