/*
 * quantify_shape.c - a cell's shape features from its exact sums and its row extents; see
 * the definitions in quantify.h.
 *
 * Central moments come from the 128-bit integer sums without cancellation: with
 * sx = q n + r, sx^2 / n = q sx + r q + r^2 / n, so sum (x - cx)^2 = (sxx - q sx - r q) -
 * r^2 / n, an exact integer minus a fraction below n. The convex area is exact too: the hull
 * of the pixels' edge midpoints is built in doubled integer coordinates (monotone chain,
 * 128-bit cross products, points taken row by row so no general sort is needed) and every row's
 * integer points inside or on it are counted from rational edge crossings, which is what skimage's
 * grid_points_in_poly counts.
 */
#include "quantify_cell.h"

#include "alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * Moments
 */

/* sum (u - mean u)(v - mean v) over n pixels, from su, sv and suv. */
static long double central(quantify_u128 su, quantify_u128 sv, quantify_u128 suv, uint64_t n)
{
    const quantify_u128 qu = su / n, ru = su % n, qv = sv / n, rv = sv % n;
    const quantify_i128 whole =
        (quantify_i128)suv - (quantify_i128)(qu * sv) - (quantify_i128)(ru * qv);
    return (long double)whole - (long double)ru * (long double)rv / (long double)n;
}

static void shape_moments(const struct quantify_cell *c, struct quantify_shape *s)
{
    const long double n = (long double)c->n;
    s->centroid_y = (double)((long double)c->sy / n);
    s->centroid_x = (double)((long double)c->sx / n);
    const long double a = central(c->sx, c->sx, c->sxx, c->n) / n;
    const long double b = -central(c->sy, c->sx, c->sxy, c->n) / n;
    const long double cc = central(c->sy, c->sy, c->syy, c->n) / n;
    const long double half = (a - cc) / 2;
    const long double root = sqrtl(half * half + b * b);
    long double l1 = (a + cc) / 2 + root;
    long double l2 = l1 > 0 ? (a * cc - b * b) / l1 : 0;
    if (l1 < 0)
        l1 = 0;
    if (l2 < 0)
        l2 = 0;
    s->major_axis_length = (double)(4 * sqrtl(l1));
    s->minor_axis_length = (double)(4 * sqrtl(l2));
    s->eccentricity = l1 == 0 ? 0.0 : (double)sqrtl(1 - l2 / l1);
    if (a - cc == 0)
        s->orientation = b < 0 ? -M_PI / 4 : M_PI / 4;
    else
        s->orientation = 0.5 * atan2((double)(-2 * b), (double)(cc - a));
}

/* ------------------------------------------------------------------------------------------
 * Convex area
 */

struct point {
    int64_t x, y; /* doubled coordinates */
};

static quantify_i128 cross(struct point o, struct point a, struct point b)
{
    return (quantify_i128)(a.x - o.x) * (b.y - o.y) - (quantify_i128)(a.y - o.y) * (b.x - o.x);
}

static bool before(struct point a, struct point b) /* (y, x) order */
{
    return a.y != b.y ? a.y < b.y : a.x < b.x;
}

/* Andrew's monotone chain over p[0..n) in (y, x) order (so the pops test the transposed
 * cross product, the opposite sign): the hull into h (2n slots), no collinear points;
 * returns the vertex count. p comes nearly sorted (row by row, neighbouring rows sharing one
 * y), so an insertion sort puts it in order in linear time. */
static size_t hull_of(struct point *p, size_t n, struct point *h)
{
    for (size_t i = 1; i < n; i++) {
        const struct point v = p[i];
        size_t j = i;
        for (; j > 0 && before(v, p[j - 1]); j--)
            p[j] = p[j - 1];
        p[j] = v;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) >= 0)
            k--;
        h[k++] = p[i];
    }
    for (size_t i = n - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) >= 0)
            k--;
        h[k++] = p[i];
    }
    return k > 1 ? k - 1 : k;
}

static int64_t floor_div(quantify_i128 num, quantify_i128 den) /* den > 0 */
{
    if (num >= INT64_MIN && num <= INT64_MAX && den <= INT64_MAX) { /* the usual case: fast */
        const int64_t n = (int64_t)num, d = (int64_t)den;
        return n / d - (n % d != 0 && n < 0);
    }
    quantify_i128 q = num / den;
    if (num % den != 0 && num < 0)
        q--;
    return (int64_t)q;
}

/* Integer points (x, y) with 2x, 2y inside or on the hull h[0..k), for the rows y0 .. y1. */
static uint64_t grid_points(const struct point *h, size_t k, uint32_t y0, uint32_t y1)
{
    uint64_t count = 0;
    for (uint32_t y = y0; y < y1; y++) {
        const int64_t Y = 2 * (int64_t)y;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t i = 0; i < k; i++) {
            const struct point p = h[i], q = h[(i + 1) % k];
            if ((Y < p.y && Y < q.y) || (Y > p.y && Y > q.y))
                continue;
            if (p.y == q.y) {
                const int64_t a = p.x < q.x ? p.x : q.x, b = p.x < q.x ? q.x : p.x;
                lo = -floor_div(-(quantify_i128)a, 2) < lo ? -floor_div(-(quantify_i128)a, 2) : lo;
                hi = floor_div(b, 2) > hi ? floor_div(b, 2) : hi;
                continue;
            }
            /* X = p.x + (q.x - p.x)(Y - p.y) / (q.y - p.y); integer x with 2x = X */
            quantify_i128 num =
                (quantify_i128)p.x * (q.y - p.y) + (quantify_i128)(q.x - p.x) * (Y - p.y);
            quantify_i128 den = (quantify_i128)(q.y - p.y);
            if (den < 0) {
                num = -num;
                den = -den;
            }
            const int64_t up = -floor_div(-num, 2 * den), down = floor_div(num, 2 * den);
            lo = up < lo ? up : lo;
            hi = down > hi ? down : hi;
        }
        if (hi >= lo)
            count += (uint64_t)(hi - lo + 1);
    }
    return count;
}

/* The convex area, or 0 when the scratch cannot be allocated (solidity then NaN). */
static uint64_t convex_area(const struct quantify_cell *c, const struct quantify_extent *ext,
                            size_t n_ext)
{
    const size_t n = n_ext * 6;
    struct point *p = alloc_bytes(n * sizeof *p), *h = alloc_bytes((2 * n + 1) * sizeof *h);
    uint64_t area = 0;
    if (p == NULL || h == NULL || n == 0)
        goto out;
    for (size_t e = 0; e < n_ext; e++) {
        const int64_t y = 2 * (int64_t)ext[e].y, a = 2 * (int64_t)ext[e].x0,
                      b = 2 * (int64_t)ext[e].x1;
        struct point *q = p + 6 * e; /* in (y, x) order */
        q[0] = (struct point){a, y - 1};
        q[1] = (struct point){b, y - 1};
        q[2] = (struct point){a - 1, y};
        q[3] = (struct point){b + 1, y};
        q[4] = (struct point){a, y + 1};
        q[5] = (struct point){b, y + 1};
    }
    const size_t k = hull_of(p, n, h);
    area = grid_points(h, k, c->bbox[0], c->bbox[2]);
out:
    free(p);
    free(h);
    return area;
}

/* ------------------------------------------------------------------------------------------
 * Entry point
 */

void quantify_shape_of(const struct quantify_cell *cell, const struct quantify_extent *ext,
                       size_t n_ext, struct quantify_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    shape->area = cell->n;
    memcpy(shape->bbox, cell->bbox, sizeof shape->bbox);
    shape_moments(cell, shape);
    const double box = (double)(cell->bbox[2] - cell->bbox[0]) * (cell->bbox[3] - cell->bbox[1]);
    shape->extent = (double)cell->n / box;
    shape->convex_area = convex_area(cell, ext, n_ext);
    shape->solidity = shape->convex_area == 0 ? NAN : (double)cell->n / (double)shape->convex_area;
    shape->perimeter = (double)cell->border[0] + (double)cell->border[1] * M_SQRT2 +
                       (double)cell->border[2] * ((1 + M_SQRT2) / 2);
}
