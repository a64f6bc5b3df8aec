/* assign.c - shortest augmenting path linear sum assignment; see assign.h. */
#include "assign.h"

#include "alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct assign_work {
    size_t nr, nc; /* nr <= nc */
    const double *cost;
    double *u, *v, *spc; /* row and column potentials, shortest path costs */
    int64_t *path, *col4row, *row4col;
    size_t *remaining;
    bool *sr, *sc;
};

/* One augmenting path from the free row cur. Returns the sink column, or -1 when no column
 * is reachable at finite cost (cannot happen for finite costs and nr <= nc). */
static int64_t assign_augment(struct assign_work *w, size_t cur, double *min_out)
{
    const size_t nc = w->nc;
    size_t num_remaining = nc;
    for (size_t it = 0; it < nc; it++)
        w->remaining[it] = nc - it - 1;
    memset(w->sr, 0, w->nr * sizeof *w->sr);
    memset(w->sc, 0, nc * sizeof *w->sc);
    for (size_t j = 0; j < nc; j++)
        w->spc[j] = INFINITY;

    double min_val = 0;
    size_t i = cur;
    int64_t sink = -1;
    while (sink == -1) {
        w->sr[i] = true;
        size_t index = SIZE_MAX;
        double lowest = INFINITY;
        const double *row = w->cost + i * nc;
        for (size_t it = 0; it < num_remaining; it++) {
            size_t j = w->remaining[it];
            double r = min_val + row[j] - w->u[i] - w->v[j];
            if (r < w->spc[j]) {
                w->path[j] = (int64_t)i;
                w->spc[j] = r;
            }
            if (w->spc[j] < lowest || (w->spc[j] == lowest && w->row4col[j] == -1)) {
                lowest = w->spc[j];
                index = it;
            }
        }
        min_val = lowest;
        if (index == SIZE_MAX || !isfinite(min_val))
            return -1;
        size_t j = w->remaining[index];
        if (w->row4col[j] == -1)
            sink = (int64_t)j;
        else
            i = (size_t)w->row4col[j];
        w->sc[j] = true;
        w->remaining[index] = w->remaining[--num_remaining];
    }
    *min_out = min_val;
    return sink;
}

static void assign_update(struct assign_work *w, size_t cur, int64_t sink, double min_val)
{
    w->u[cur] += min_val;
    for (size_t i = 0; i < w->nr; i++)
        if (w->sr[i] && i != cur)
            w->u[i] += min_val - w->spc[w->col4row[i]];
    for (size_t j = 0; j < w->nc; j++)
        if (w->sc[j])
            w->v[j] -= min_val - w->spc[j];
    int64_t j = sink;
    for (;;) {
        int64_t i = w->path[j];
        w->row4col[j] = i;
        int64_t prev = w->col4row[i];
        w->col4row[i] = j;
        j = prev;
        if ((size_t)i == cur)
            break;
    }
}

enum error_code assign_solve(size_t rows, size_t cols, const double *cost, int64_t *row_to_col,
                             struct error_info *err)
{
    for (size_t i = 0; i < rows; i++)
        row_to_col[i] = -1;
    if (rows == 0 || cols == 0)
        return ERROR_OK;
    for (size_t k = 0; k < rows * cols; k++)
        if (!isfinite(cost[k]))
            return error_set(err, ERROR_INVALID, "assignment cost %zu is not finite", k);

    bool transposed = rows > cols;
    struct assign_work w = {.nr = transposed ? cols : rows, .nc = transposed ? rows : cols};
    double *flipped = NULL;
    enum error_code rc = ERROR_OK;
    if (transposed) {
        flipped = alloc_bytes(rows * cols * sizeof *flipped);
        if (flipped == NULL)
            return error_set(err, ERROR_NO_MEMORY, "no memory for a %zu x %zu assignment", rows,
                             cols);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                flipped[j * rows + i] = cost[i * cols + j];
    }
    w.cost = transposed ? flipped : cost;
    w.u = alloc_zeroed(w.nr, sizeof *w.u);
    w.v = alloc_zeroed(w.nc, sizeof *w.v);
    w.spc = alloc_bytes(w.nc * sizeof *w.spc);
    w.path = alloc_bytes(w.nc * sizeof *w.path);
    w.col4row = alloc_bytes(w.nr * sizeof *w.col4row);
    w.row4col = alloc_bytes(w.nc * sizeof *w.row4col);
    w.remaining = alloc_bytes(w.nc * sizeof *w.remaining);
    w.sr = alloc_bytes(w.nr * sizeof *w.sr);
    w.sc = alloc_bytes(w.nc * sizeof *w.sc);
    if (w.u == NULL || w.v == NULL || w.spc == NULL || w.path == NULL || w.col4row == NULL ||
        w.row4col == NULL || w.remaining == NULL || w.sr == NULL || w.sc == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "no memory for a %zu x %zu assignment", rows, cols);
        goto out;
    }
    for (size_t i = 0; i < w.nr; i++)
        w.col4row[i] = -1;
    for (size_t j = 0; j < w.nc; j++)
        w.row4col[j] = -1;
    for (size_t cur = 0; cur < w.nr; cur++) {
        double min_val = 0;
        int64_t sink = assign_augment(&w, cur, &min_val);
        if (sink < 0) {
            rc = error_set(err, ERROR_INTERNAL, "assignment found no augmenting path");
            goto out;
        }
        assign_update(&w, cur, sink, min_val);
    }
    if (transposed) {
        for (size_t j = 0; j < w.nr; j++) /* rows of the flipped matrix are our columns */
            row_to_col[w.col4row[j]] = (int64_t)j;
    } else {
        memcpy(row_to_col, w.col4row, rows * sizeof *row_to_col);
    }
out:
    free(flipped);
    free(w.u);
    free(w.v);
    free(w.spc);
    free(w.path);
    free(w.col4row);
    free(w.row4col);
    free(w.remaining);
    free(w.sr);
    free(w.sc);
    return rc;
}
