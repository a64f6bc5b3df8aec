/*
 * knn.c - k nearest neighbours over 2-D / 3-D points with a k-d tree; see knn.h.
 *
 * The one decision to know: ties are part of the answer (duplicate centroids are common),
 * so pruning must never drop a point that would win a tie by index. A subtree is skipped
 * only when its box distance exceeds the current k-th distance, or equals it and every
 * index in the subtree is larger than the current k-th index. Box distances are computed
 * with the same operations as point distances, and IEEE rounding is monotone, so a box
 * bound never exceeds the computed distance of a point inside it.
 */
#include "knn.h"

#include "alloc.h"
#include "clock.h"
#include "parallel.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifndef KNN_LEAF_SIZE
#define KNN_LEAF_SIZE 16 /* points per leaf bucket (as cKDTree; 8 and 24 measured no better) */
#endif
#define KNN_SORTED_MAX_K   32    /* up to this k the best-so-far set is a sorted array */
#define KNN_SMALL_SORT     16    /* ranges ordered by insertion while selecting */
#define KNN_PARALLEL_BUILD 65536 /* subtrees smaller than this are built on one thread */
#define KNN_QUERY_BATCH    1024  /* points a thread claims at a time */
#define KNN_STACK_MAX      128   /* > tree depth (<= 33 for 2^32 points) + 1 */

struct knn_node {
    double lo[3], hi[3]; /* tight bounding box of the points below */
    uint32_t begin, end; /* positions [begin, end) in the reordered arrays */
    uint32_t right;      /* right child; the left child is the next node; 0 = leaf */
    uint32_t min_index;  /* least original index below, for ties */
};

struct knn_tree {
    unsigned dim;
    size_t n;
    double *coords;  /* n * dim, reordered into leaf order */
    uint32_t *index; /* original index of each position */
    struct knn_node *nodes;
};

/* A neighbour candidate; ordered by (d2, index). */
struct knn_best {
    double d2;
    uint32_t index;
};

/* ---- building the tree -----------------------------------------------------------------
 * A range of more than KNN_LEAF_SIZE points is split at its middle position by a
 * quickselect on the coordinate of its widest side, so the tree is balanced whatever the
 * data. Its shape depends only on n, so every subtree's node numbers are known before it is
 * built (preorder: left child at node + 1, right child after the left subtree), which lets
 * the top subtrees be built on separate threads writing disjoint parts of the node array.
 */

static size_t node_count(size_t size)
{
    if (size <= KNN_LEAF_SIZE)
        return 1;
    return 1 + node_count(size / 2) + node_count(size - size / 2);
}

static inline double coord(const struct knn_tree *t, size_t pos, unsigned axis)
{
    return t->coords[pos * t->dim + axis];
}

static void point_swap(struct knn_tree *t, size_t a, size_t b)
{
    for (unsigned d = 0; d < t->dim; d++) {
        double c = t->coords[a * t->dim + d];
        t->coords[a * t->dim + d] = t->coords[b * t->dim + d];
        t->coords[b * t->dim + d] = c;
    }
    uint32_t i = t->index[a];
    t->index[a] = t->index[b];
    t->index[b] = i;
}

/* Hoare partition of positions [lo, lo + n), n >= 3, on axis around a median of three;
 * returns the left size in [1, n - 1]. Equal coordinates stop both scans, so a range of
 * identical values splits in the middle instead of degrading. */
static size_t point_partition(struct knn_tree *t, size_t lo, size_t n, unsigned axis)
{
    size_t mid = lo + (n - 1) / 2, last = lo + n - 1;
    if (coord(t, mid, axis) < coord(t, lo, axis))
        point_swap(t, mid, lo);
    if (coord(t, last, axis) < coord(t, mid, axis)) {
        point_swap(t, last, mid);
        if (coord(t, mid, axis) < coord(t, lo, axis))
            point_swap(t, mid, lo);
    }
    double pivot = coord(t, mid, axis);
    size_t i = lo, j = last;
    for (;;) {
        while (coord(t, i, axis) < pivot)
            i++;
        while (pivot < coord(t, j, axis))
            j--;
        if (i >= j)
            return j + 1 - lo;
        point_swap(t, i, j);
        i++;
        j--;
    }
}

static void point_sift_down(struct knn_tree *t, size_t base, size_t len, size_t i, unsigned axis)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len)
            return;
        if (c + 1 < len && coord(t, base + c, axis) < coord(t, base + c + 1, axis))
            c++;
        if (!(coord(t, base + i, axis) < coord(t, base + c, axis)))
            return;
        point_swap(t, base + i, base + c);
        i = c;
    }
}

/* Sort positions [lo, hi) by axis: insertion for short ranges, heapsort as the fallback
 * that keeps a hostile input from making the quickselect quadratic. */
static void point_sort(struct knn_tree *t, size_t lo, size_t hi, unsigned axis)
{
    size_t n = hi - lo;
    if (n <= KNN_SMALL_SORT) {
        for (size_t i = lo + 1; i < hi; i++)
            for (size_t j = i; j > lo && coord(t, j, axis) < coord(t, j - 1, axis); j--)
                point_swap(t, j, j - 1);
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        point_sift_down(t, lo, n, i, axis);
    for (size_t end = n; end > 1; end--) {
        point_swap(t, lo, lo + end - 1);
        point_sift_down(t, lo, end - 1, 0, axis);
    }
}

/* Reorder [lo, hi) so that position target holds the value it would have if sorted by
 * axis, with nothing greater before it and nothing smaller after it. */
static void point_select(struct knn_tree *t, size_t lo, size_t hi, size_t target, unsigned axis)
{
    unsigned budget = 2;
    for (size_t s = hi - lo; s > 1; s >>= 1)
        budget += 2;
    while (hi - lo > KNN_SMALL_SORT) {
        if (budget-- == 0)
            break;
        size_t left = lo + point_partition(t, lo, hi - lo, axis);
        if (target < left)
            hi = left;
        else
            lo = left;
    }
    point_sort(t, lo, hi, axis);
}

struct build_task {
    struct knn_tree *tree;
    size_t node, begin, end;
    unsigned spawn_depth;
};

static void *build_main(void *arg);

static void build_subtree(struct knn_tree *t, size_t node, size_t begin, size_t end,
                          unsigned spawn_depth)
{
    struct knn_node *nd = &t->nodes[node];
    unsigned dim = t->dim;
    for (unsigned d = 0; d < dim; d++)
        nd->lo[d] = nd->hi[d] = coord(t, begin, d);
    uint32_t min_index = t->index[begin];
    for (size_t p = begin; p < end; p++) {
        for (unsigned d = 0; d < dim; d++) {
            double c = coord(t, p, d);
            nd->lo[d] = c < nd->lo[d] ? c : nd->lo[d];
            nd->hi[d] = c > nd->hi[d] ? c : nd->hi[d];
        }
        min_index = t->index[p] < min_index ? t->index[p] : min_index;
    }
    nd->begin = (uint32_t)begin;
    nd->end = (uint32_t)end;
    nd->min_index = min_index;
    nd->right = 0;
    size_t size = end - begin;
    if (size <= KNN_LEAF_SIZE)
        return;

    unsigned axis = 0;
    for (unsigned d = 1; d < dim; d++)
        if (nd->hi[d] - nd->lo[d] > nd->hi[axis] - nd->lo[axis])
            axis = d;
    size_t mid = begin + size / 2;
    point_select(t, begin, end, mid, axis);
    size_t left = node + 1, right = node + 1 + node_count(mid - begin);
    nd->right = (uint32_t)right;

    if (spawn_depth > 0 && size >= KNN_PARALLEL_BUILD) {
        /* The left half on a helper thread while this one builds the right; without a free
         * slot the left half is built first, here. */
        struct build_task task = {t, left, begin, mid, spawn_depth - 1};
        struct parallel_thread helper;
        parallel_thread_start(&helper, build_main, &task);
        build_subtree(t, right, mid, end, spawn_depth - 1);
        (void)parallel_thread_join(&helper);
        return;
    }
    build_subtree(t, left, begin, mid, 0);
    build_subtree(t, right, mid, end, 0);
}

static void *build_main(void *arg)
{
    struct build_task *task = arg;
    build_subtree(task->tree, task->node, task->begin, task->end, task->spawn_depth);
    return NULL;
}

/* ---- querying --------------------------------------------------------------------------
 * Depth-first with an explicit stack of (node, box distance), starting from the query's own
 * leaf. The stack holds at most one sibling per level on the way down plus one per level on
 * the way back. The k best so far are ordered by (d2, index): for small k a sorted array
 * (insertion is a short shift, and the result comes out sorted), for large k a max-heap.
 */

static inline bool best_less(double d2a, uint32_t ia, double d2b, uint32_t ib)
{
    return d2a < d2b || (d2a == d2b && ia < ib);
}

struct knn_results {
    struct knn_best *e;
    size_t len, k;
    bool sorted;          /* sorted array (k <= KNN_SORTED_MAX_K) or max-heap */
    double worst_d2;      /* the k-th best, or +inf with worst_index UINT32_MAX while not full: */
    uint32_t worst_index; /* then every candidate beats it, so no "is it full" test is needed */
};

static void heap_sift_down(struct knn_best *h, size_t len, size_t i)
{
    struct knn_best moving = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len)
            break;
        if (c + 1 < len && best_less(h[c].d2, h[c].index, h[c + 1].d2, h[c + 1].index))
            c++;
        if (!best_less(moving.d2, moving.index, h[c].d2, h[c].index))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = moving;
}

static void results_reset(struct knn_results *r)
{
    r->len = 0;
    r->worst_d2 = INFINITY;
    r->worst_index = UINT32_MAX;
}

/* Offer a candidate that beats the current worst (the caller has checked). */
static inline void results_insert(struct knn_results *r, double d2, uint32_t index)
{
    struct knn_best *e = r->e;
    if (r->len == r->k && !r->sorted) {
        e[0].d2 = d2;
        e[0].index = index;
        heap_sift_down(e, r->len, 0);
    } else {
        if (r->len == r->k)
            r->len--; /* sorted: drop the worst, insert below */
        size_t i = r->len++;
        if (r->sorted) {
            while (i > 0 && best_less(d2, index, e[i - 1].d2, e[i - 1].index)) {
                e[i] = e[i - 1];
                i--;
            }
        } else {
            while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!best_less(e[parent].d2, e[parent].index, d2, index))
                    break;
                e[i] = e[parent];
                i = parent;
            }
        }
        e[i].d2 = d2;
        e[i].index = index;
    }
    if (r->len == r->k) {
        const struct knn_best *w = r->sorted ? &e[r->len - 1] : &e[0];
        r->worst_d2 = w->d2;
        r->worst_index = w->index;
    }
}

/* Leave e[0..len) in ascending order. */
static void results_finish(struct knn_results *r)
{
    if (r->sorted)
        return;
    for (size_t end = r->len; end > 1; end--) {
        struct knn_best top = r->e[0];
        r->e[0] = r->e[end - 1];
        r->e[end - 1] = top;
        heap_sift_down(r->e, end - 1, 0);
    }
}

static inline double box_dist2(const double *q, const struct knn_node *nd, unsigned dim)
{
    double s = 0.0;
    for (unsigned d = 0; d < dim; d++) {
        double v = 0.0;
        if (q[d] < nd->lo[d])
            v = nd->lo[d] - q[d];
        else if (q[d] > nd->hi[d])
            v = q[d] - nd->hi[d];
        s += v * v;
    }
    return s;
}

/* May the subtree at nd, whose box is at squared distance lb, still hold a winner? */
static inline bool worth_visiting(const struct knn_results *r, double lb, const struct knn_node *nd)
{
    return lb < r->worst_d2 || (lb == r->worst_d2 && nd->min_index < r->worst_index);
}

/* Offer every point of a leaf but the query itself. The d2 <= worst test rejects most
 * points with one compare; ties and the self test come after it. */
static inline void scan_leaf(const struct knn_tree *t, const struct knn_node *nd, const double *q,
                             uint32_t self, struct knn_results *r)
{
    const double *c = t->coords + (size_t)nd->begin * t->dim;
    if (t->dim == 2) {
        for (size_t p = nd->begin; p < nd->end; p++, c += 2) {
            double dx = c[0] - q[0], dy = c[1] - q[1];
            double d2 = dx * dx + dy * dy;
            if (d2 <= r->worst_d2 && best_less(d2, t->index[p], r->worst_d2, r->worst_index) &&
                t->index[p] != self)
                results_insert(r, d2, t->index[p]);
        }
        return;
    }
    for (size_t p = nd->begin; p < nd->end; p++, c += 3) {
        double dx = c[0] - q[0], dy = c[1] - q[1], dz = c[2] - q[2];
        double d2 = dx * dx + dy * dy;
        d2 += dz * dz;
        if (d2 <= r->worst_d2 && best_less(d2, t->index[p], r->worst_d2, r->worst_index) &&
            t->index[p] != self)
            results_insert(r, d2, t->index[p]);
    }
}

/* Search order: first walk down by position to the leaf that holds the query point (no
 * distances needed), leaving each sibling on the stack with its bound still unknown; then
 * scan that leaf, which fills the set with near points at once, and work back up through
 * the siblings, deepest (nearest in the tree) first. Children are taken nearer first, and on
 * equal bounds the one holding the smaller index first, which makes the all-ties case of
 * duplicate points a quick descent towards the smallest indices. */
static void query_point(const struct knn_tree *t, size_t pos, struct knn_results *r)
{
    const unsigned dim = t->dim;
    const double *q = t->coords + pos * dim;
    const uint32_t self = t->index[pos];
    uint32_t stack_node[KNN_STACK_MAX];
    double stack_lb[KNN_STACK_MAX]; /* < 0: not computed yet */
    size_t sp = 0;
    uint32_t node = 0;
    results_reset(r);
    while (t->nodes[node].right != 0) {
        uint32_t left = node + 1, right = t->nodes[node].right;
        bool go_left = pos < t->nodes[left].end;
        stack_node[sp] = go_left ? right : left;
        stack_lb[sp] = -1.0;
        sp++;
        node = go_left ? left : right;
    }
    scan_leaf(t, &t->nodes[node], q, self, r);
    while (sp > 0) {
        sp--;
        const struct knn_node *nd = &t->nodes[stack_node[sp]];
        double lb = stack_lb[sp] < 0.0 ? box_dist2(q, nd, dim) : stack_lb[sp];
        if (!worth_visiting(r, lb, nd))
            continue;
        if (nd->right == 0) {
            scan_leaf(t, nd, q, self, r);
            continue;
        }
        uint32_t near = stack_node[sp] + 1, far = nd->right;
        double near_lb = box_dist2(q, &t->nodes[near], dim);
        double far_lb = box_dist2(q, &t->nodes[far], dim);
        if (far_lb < near_lb ||
            (far_lb == near_lb && t->nodes[far].min_index < t->nodes[near].min_index)) {
            uint32_t tn = near;
            near = far;
            far = tn;
            double tl = near_lb;
            near_lb = far_lb;
            far_lb = tl;
        }
        if (worth_visiting(r, far_lb, &t->nodes[far])) {
            stack_node[sp] = far;
            stack_lb[sp] = far_lb;
            sp++;
        }
        stack_node[sp] = near;
        stack_lb[sp] = near_lb;
        sp++;
    }
    results_finish(r);
}

struct query_task {
    const struct knn_tree *tree;
    size_t k;
    int scale; /* coordinates were multiplied by 2^scale; distances are scaled back */
    int64_t *indices;
    double *distances;
};

/* Item `batch`: the KNN_QUERY_BATCH positions from batch * KNN_QUERY_BATCH, with the
 * worker's scratch as the best-so-far set. */
static enum error_code query_batch(void *arg, size_t batch, unsigned w, void *scratch,
                                   struct error_info *err)
{
    (void)w;
    (void)err;
    const struct query_task *task = arg;
    const struct knn_tree *t = task->tree;
    size_t k = task->k;
    struct knn_best *h = scratch;
    struct knn_results r = {h, 0, k, k <= KNN_SORTED_MAX_K, INFINITY, UINT32_MAX};
    size_t begin = batch * KNN_QUERY_BATCH;
    size_t end = begin + KNN_QUERY_BATCH < t->n ? begin + KNN_QUERY_BATCH : t->n;
    for (size_t pos = begin; pos < end; pos++) {
        query_point(t, pos, &r);
        size_t row = (size_t)t->index[pos] * k;
        for (size_t j = 0; j < k; j++) {
            task->indices[row + j] = h[j].index;
            if (task->distances != NULL)
                task->distances[row + j] =
                    task->scale == 0 ? sqrt(h[j].d2) : ldexp(sqrt(h[j].d2), -task->scale);
        }
    }
    return ERROR_OK;
}

/* ---- magnitudes ---------------------------------------------------------------------------
 * Squared distances in double overflow past ~1e154 and underflow below ~1e-154 (points
 * [[0,0],[1e201,0],[1e200,0]] gave distances null and the wrong order). Two distinct finite
 * doubles whose nonzero magnitudes lie in [2^-430, 2^500] differ by at least 2^-482, so
 * every squared difference, and a sum of three, stays a normal double. A power-of-two
 * scale (exact) moves the coordinates into that range whenever their nonzero magnitudes span
 * at most 2^929; real data needs no scaling at all (the scale is then 0 and nothing
 * changes). Wider spans are searched by brute force in long double (x87: 15-bit exponent,
 * so no square of a double overflows or underflows), up to KNN_BRUTE_MAX points.
 */

#define KNN_SAFE_LOW  (-430)
#define KNN_SAFE_HIGH 500
#define KNN_BRUTE_MAX 2000

/* The power of two to scale by, or false when no single scale makes the points safe. */
static bool magnitude_scale(const double *p, size_t count, int *scale, double *lo_out,
                            double *hi_out)
{
    double hi = 0, lo = INFINITY;
    for (size_t i = 0; i < count; i++) {
        double a = fabs(p[i]);
        if (a > hi)
            hi = a;
        if (a > 0 && a < lo)
            lo = a;
    }
    *scale = 0;
    *lo_out = lo;
    *hi_out = hi;
    if (hi == 0)
        return true;
    int e_hi = ilogb(hi), e_lo = ilogb(lo);
    int s_min = KNN_SAFE_LOW - e_lo, s_max = KNN_SAFE_HIGH - 1 - e_hi;
    if (s_min > s_max)
        return false;
    *scale = s_min > 0 ? s_min : (s_max < 0 ? s_max : 0);
    return true;
}

struct brute_entry {
    long double d2;
    uint32_t index;
};

static int brute_cmp(const void *x, const void *y)
{
    const struct brute_entry *a = x, *b = y;
    if (a->d2 != b->d2)
        return a->d2 < b->d2 ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Exact-range k-NN for points whose magnitudes no double scale can hold. O(n^2 log n). */
static enum error_code knn_brute(const double *p, size_t n, unsigned dim, size_t k,
                                 int64_t deadline, int64_t *indices, double *distances,
                                 struct error_info *err)
{
    struct brute_entry *row = alloc_bytes(n * sizeof *row);
    if (row == NULL)
        return error_set(err, ERROR_NO_MEMORY, "knn: no memory for %zu distances", n);
    enum error_code rc = ERROR_OK;
    for (size_t i = 0; i < n; i++) {
        if (clock_passed(deadline)) {
            rc = error_set(err, ERROR_TIMEOUT, "knn ran past the request deadline");
            break;
        }
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            long double d2 = 0;
            for (unsigned d = 0; d < dim; d++) {
                long double diff = (long double)p[i * dim + d] - (long double)p[j * dim + d];
                d2 += diff * diff;
            }
            row[m++] = (struct brute_entry){d2, (uint32_t)j};
        }
        qsort(row, m, sizeof *row, brute_cmp);
        for (size_t j = 0; j < k; j++) {
            indices[i * k + j] = row[j].index;
            if (distances != NULL)
                distances[i * k + j] = (double)sqrtl(row[j].d2);
        }
    }
    free(row);
    return rc;
}

/* ---- entry point ------------------------------------------------------------------------ */

static unsigned spawn_depth_for(unsigned threads)
{
    unsigned depth = 0;
    while ((1u << depth) < threads && depth < 8)
        depth++;
    return depth;
}

enum error_code knn_points(const double *points, size_t n, unsigned dim, size_t k, unsigned threads,
                           int64_t deadline, int64_t *indices, double *distances,
                           struct error_info *err)
{
    if (dim != 2 && dim != 3)
        return error_set(err, ERROR_INVALID, "points: need 2 or 3 coordinates, got %u", dim);
    if (n > 0 && points == NULL)
        return error_set(err, ERROR_INVALID, "points: missing array");
    if (n > KNN_MAX_POINTS)
        return error_set(err, ERROR_TOO_LARGE, "points: %zu points, the maximum is %u", n,
                         KNN_MAX_POINTS);
    for (size_t i = 0; i < n; i++)
        for (unsigned d = 0; d < dim; d++)
            if (!isfinite(points[i * dim + d]))
                return error_set(err, ERROR_INVALID,
                                 "points[%zu]: coordinate %u is not a finite number", i, d);
    size_t max_k = n > 0 ? n - 1 : 0;
    if (k > max_k)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "k: %zu but %zu points have only %zu other points each; the maximum k "
                         "is %zu",
                         k, n, max_k, max_k);
    if (k == 0)
        return ERROR_OK;
    if (k > SIZE_MAX / sizeof(double) / n)
        return error_set(err, ERROR_TOO_LARGE, "k: %zu neighbours of %zu points is too many", k, n);
    if (indices == NULL)
        return error_set(err, ERROR_INVALID, "indices: missing output array");

    int scale;
    double lo, hi;
    if (!magnitude_scale(points, n * dim, &scale, &lo, &hi)) {
        if (n > KNN_BRUTE_MAX)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "points: nonzero coordinate magnitudes span %g to %g (more than "
                             "2^929) in %zu points; distances that far apart cannot be compared "
                             "in double above %d points: rescale them",
                             lo, hi, n, KNN_BRUTE_MAX);
        return knn_brute(points, n, dim, k, deadline, indices, distances, err);
    }

    enum error_code rc = ERROR_OK;
    struct knn_tree tree = {dim, n, NULL, NULL, NULL};
    tree.coords = alloc_large(n * dim * sizeof *tree.coords);
    tree.index = alloc_large(n * sizeof *tree.index);
    tree.nodes = alloc_large(node_count(n) * sizeof *tree.nodes);
    if (tree.coords == NULL || tree.index == NULL || tree.nodes == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "knn: no memory for a tree of %zu points", n);
        goto out;
    }
    memcpy(tree.coords, points, n * dim * sizeof *tree.coords);
    if (scale != 0)
        for (size_t i = 0; i < n * dim; i++)
            tree.coords[i] = ldexp(tree.coords[i], scale);
    alloc_advise_huge(indices, n * k * sizeof *indices);
    if (distances != NULL)
        alloc_advise_huge(distances, n * k * sizeof *distances);
    for (size_t i = 0; i < n; i++)
        tree.index[i] = (uint32_t)i;
    build_subtree(&tree, 0, 0, n, spawn_depth_for(threads == 0 ? 1 : threads));

    struct query_task task = {&tree, k, scale, indices, distances};
    struct parallel_loop loop = {.n = (n + KNN_QUERY_BATCH - 1) / KNN_QUERY_BATCH,
                                 .threads = threads,
                                 .deadline = deadline,
                                 .scratch = k * sizeof(struct knn_best),
                                 .item = query_batch,
                                 .arg = &task};
    rc = parallel_run(&loop, NULL, err);
out:
    free(tree.nodes);
    free(tree.index);
    free(tree.coords);
    return rc;
}
