/*
 * quantify_cell.h - the per-label accumulator record shared by core/quantify.c (folding rows)
 * and core/quantify_shape.c (deriving the shape features). Private to those two files.
 */
#ifndef TESSERA_CORE_QUANTIFY_CELL_H
#define TESSERA_CORE_QUANTIFY_CELL_H

#include "quantify.h"

#include <stdbool.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 quantify_u128;
__extension__ typedef __int128 quantify_i128;

struct quantify_cell {
    uint64_t label;
    uint64_t n;
    quantify_u128 sx, sy, sxx, sxy, syy; /* exact sums over the pixels of x, y, x^2, xy, y^2 */
    uint32_t bbox[4];                    /* min_row, min_col, max_row, max_col (exclusive) */
    uint64_t border[3];                  /* border pixels weighing 1, sqrt 2 and (1 + sqrt 2) / 2 */
    uint32_t row_y, row_x0, row_x1;      /* the open row extent (inclusive columns) */
    bool row_open;
};

/* One row of a label: columns x0 .. x1 inclusive. */
struct quantify_extent {
    uint32_t cell; /* index into the accumulator's cells */
    uint32_t y, x0, x1;
};

/* The features of one cell from its sums and its extents (sorted by row, one per row). */
void quantify_shape_of(const struct quantify_cell *cell, const struct quantify_extent *ext,
                       size_t n_ext, struct quantify_shape *shape);

#endif
