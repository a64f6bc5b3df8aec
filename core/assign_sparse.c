/* assign_sparse.c - shortest augmenting paths over the edges of a sparse matching problem;
 * see assign_sparse.h. Nodes of a search are the real columns 0 .. cols - 1 and the rows'
 * unmatched columns cols + i; the latter always have potential 0 and are always free. */
#include "assign_sparse.h"

#include "alloc.h"
#include "clock.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#define SPARSE_NONE UINT32_MAX

struct sparse_heap_item {
    double key;
    uint32_t node;
};

struct sparse_work {
    const struct assign_sparse_graph *g;
    double *u, *v;     /* row and real column potentials */
    double *spc;       /* shortest path cost per node, valid where reach == stamp */
    uint32_t *reach;   /* stamp: spc set in this search */
    uint32_t *done;    /* stamp: popped in this search */
    uint32_t *col_row; /* row matched to each real column, SPARSE_NONE when free */
    int64_t *row_edge; /* edge matched to each row, -1 when unmatched */
    size_t *path;      /* per real column: the edge it was last reached by */
    uint32_t *path_row;
    uint32_t *rows_seen; /* rows scanned in this search, with the cost they were reached at */
    double *rows_dist;
    uint32_t *popped; /* real columns popped in this search, the sink excluded */
    struct sparse_heap_item *heap;
    size_t heap_n;
};

static void heap_push(struct sparse_work *w, double key, uint32_t node)
{
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!(key < w->heap[parent].key))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = (struct sparse_heap_item){key, node};
}

static struct sparse_heap_item heap_pop(struct sparse_work *w)
{
    struct sparse_heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && w->heap[child + 1].key < w->heap[child].key)
            child++;
        if (!(w->heap[child].key < last.key))
            break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

/* Relax row i's edges and its unmatched column, the row being reached at cost dist. */
static void sparse_scan_row(struct sparse_work *w, uint32_t i, double dist, uint32_t stamp,
                            size_t *n_rows_seen)
{
    const struct assign_sparse_graph *g = w->g;
    w->rows_seen[*n_rows_seen] = i;
    w->rows_dist[(*n_rows_seen)++] = dist;
    for (size_t e = g->row_start[i]; e < g->row_start[i + 1]; e++) {
        uint32_t j = g->col[e];
        if (w->done[j] == stamp)
            continue;
        double r = dist + g->cost[e] - w->u[i] - w->v[j];
        if (w->reach[j] != stamp || r < w->spc[j]) {
            w->reach[j] = stamp;
            w->spc[j] = r;
            w->path[j] = e;
            w->path_row[j] = i;
            heap_push(w, r, j);
        }
    }
    uint32_t own = (uint32_t)g->cols + i;
    double r = dist - w->u[i];
    w->reach[own] = stamp;
    w->spc[own] = r;
    heap_push(w, r, own);
}

/* One search from the unmatched row cur, then the potential update and the augmentation. */
static enum error_code sparse_row(struct sparse_work *w, uint32_t cur, struct error_info *err)
{
    const struct assign_sparse_graph *g = w->g;
    const uint32_t stamp = cur + 1, cols = (uint32_t)g->cols;
    size_t n_rows_seen = 0, n_popped = 0;
    w->heap_n = 0;
    sparse_scan_row(w, cur, 0.0, stamp, &n_rows_seen);
    double min_val = 0;
    uint32_t sink = SPARSE_NONE;
    while (sink == SPARSE_NONE) {
        if (w->heap_n == 0) /* cannot happen: cur's unmatched column is always reachable */
            return error_set(err, ERROR_INTERNAL, "sparse assignment found no free column");
        struct sparse_heap_item it = heap_pop(w);
        if (w->done[it.node] == stamp || it.key != w->spc[it.node])
            continue; /* superseded by a cheaper path */
        w->done[it.node] = stamp;
        min_val = it.key;
        if (it.node >= cols || w->col_row[it.node] == SPARSE_NONE) {
            sink = it.node;
            break;
        }
        w->popped[n_popped++] = it.node;
        sparse_scan_row(w, w->col_row[it.node], min_val, stamp, &n_rows_seen);
    }
    /* Potentials: reduced costs stay >= 0, and 0 along the new matching. */
    for (size_t k = 0; k < n_rows_seen; k++)
        w->u[w->rows_seen[k]] += min_val - w->rows_dist[k];
    for (size_t k = 0; k < n_popped; k++)
        w->v[w->popped[k]] -= min_val - w->spc[w->popped[k]];
    /* Augment back from the sink to cur. */
    uint32_t node = sink;
    for (;;) {
        uint32_t i;
        int64_t edge;
        if (node >= cols) {
            i = node - cols;
            edge = -1;
        } else {
            i = w->path_row[node];
            edge = (int64_t)w->path[node];
            w->col_row[node] = i;
        }
        int64_t prev = w->row_edge[i];
        w->row_edge[i] = edge;
        if (i == cur)
            break;
        node = g->col[prev]; /* a row reached through its column was matched */
    }
    return ERROR_OK;
}

enum error_code assign_sparse_solve(const struct assign_sparse_graph *g, int64_t deadline,
                                    int64_t *row_to_edge, struct error_info *err)
{
    for (size_t i = 0; i < g->rows; i++)
        row_to_edge[i] = -1;
    if (g->rows == 0)
        return ERROR_OK;
    if (g->cols >= UINT32_MAX || g->rows >= UINT32_MAX - g->cols)
        return error_set(err, ERROR_INVALID, "sparse assignment of %zu x %zu is too large", g->rows,
                         g->cols);
    size_t n_edges = g->row_start[g->rows];
    for (size_t e = 0; e < n_edges; e++) {
        if (!isfinite(g->cost[e]))
            return error_set(err, ERROR_INVALID, "assignment cost %zu is not finite", e);
        if (g->col[e] >= g->cols)
            return error_set(err, ERROR_INVALID, "assignment edge %zu has column %u of %zu", e,
                             g->col[e], g->cols);
    }
    size_t nodes = g->cols + g->rows, cols = g->cols ? g->cols : 1;
    struct sparse_work w = {.g = g};
    enum error_code rc = ERROR_OK;
    w.u = alloc_zeroed(g->rows, sizeof *w.u);
    w.v = alloc_zeroed(cols, sizeof *w.v);
    w.spc = alloc_bytes(nodes * sizeof *w.spc);
    w.reach = alloc_zeroed(nodes, sizeof *w.reach);
    w.done = alloc_zeroed(nodes, sizeof *w.done);
    w.col_row = alloc_bytes(cols * sizeof *w.col_row);
    w.row_edge = row_to_edge;
    w.path = alloc_bytes(cols * sizeof *w.path);
    w.path_row = alloc_bytes(cols * sizeof *w.path_row);
    w.rows_seen = alloc_bytes(g->rows * sizeof *w.rows_seen);
    w.rows_dist = alloc_bytes(g->rows * sizeof *w.rows_dist);
    w.popped = alloc_bytes(cols * sizeof *w.popped);
    w.heap = alloc_bytes((n_edges + g->rows) * sizeof *w.heap);
    if (w.u == NULL || w.v == NULL || w.spc == NULL || w.reach == NULL || w.done == NULL ||
        w.col_row == NULL || w.path == NULL || w.path_row == NULL || w.rows_seen == NULL ||
        w.rows_dist == NULL || w.popped == NULL || w.heap == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "no memory for a sparse %zu x %zu assignment", g->rows,
                       g->cols);
        goto out;
    }
    for (size_t j = 0; j < g->cols; j++)
        w.col_row[j] = SPARSE_NONE;
    for (size_t cur = 0; cur < g->rows; cur++) {
        if ((cur & 255) == 0 && clock_passed(deadline)) {
            rc = error_set(err, ERROR_TIMEOUT, "assignment ran past the request deadline");
            goto out;
        }
        rc = sparse_row(&w, (uint32_t)cur, err);
        if (rc != ERROR_OK)
            goto out;
    }
out:
    if (rc != ERROR_OK)
        for (size_t i = 0; i < g->rows; i++)
            row_to_edge[i] = -1;
    free(w.u);
    free(w.v);
    free(w.spc);
    free(w.reach);
    free(w.done);
    free(w.col_row);
    free(w.path);
    free(w.path_row);
    free(w.rows_seen);
    free(w.rows_dist);
    free(w.popped);
    free(w.heap);
    return rc;
}
