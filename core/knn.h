/*
 * knn.h - the k nearest neighbours of every point of a 2-D or 3-D point set.
 *
 * Euclidean distance; each point's own index is excluded (a duplicate of it at distance 0
 * is a neighbour like any other). Neighbours are ordered by distance, then by lower index,
 * so the answer is exactly that of a brute-force stable sort of each point's distances
 * (squared distances are computed as dx*dx + dy*dy [+ dz*dz] in that order and compared
 * exactly; the reported distance is the square root of that).
 *
 * Tuned for cell centroids: 10^4..10^7 points, k = 5..50. A k-d tree with small leaf
 * buckets is built over a reordered copy of the points (median splits on the widest side,
 * tight bounding boxes per node, O(n log n), top levels built in parallel); every point is
 * then queried in tree order, so consecutive queries touch the same nodes, with queries
 * shared among threads in batches. Nodes are pruned by box distance and, on exact ties, by
 * the least index they hold, so duplicates cannot make a query visit the whole tree.
 * Memory is O(n) (about 40 bytes per point); nothing is ever n x n.
 */
#ifndef TESSERA_CORE_KNN_H
#define TESSERA_CORE_KNN_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

#define KNN_MAX_POINTS 4294967294u /* indices are held as uint32 inside the tree */

/*
 * k nearest neighbours of each of the n points (row-major n x dim float64, dim 2 or 3).
 * Point i's neighbours go to indices[i * k .. i * k + k) and their distances to
 * distances[same] (distances may be NULL), nearest first. threads: worker threads to use,
 * the caller's included (0 or 1 = caller only); deadline: core/clock.h ns (0 = none), past
 * it ERROR_TIMEOUT. The input is only read. Any finite coordinates work: squared distances
 * are compared after an exact power-of-two scale that keeps them normal doubles, and points
 * whose magnitudes span more than 2^929 are searched exactly in long double (up to 2,000
 * points; more is ERROR_UNPROCESSABLE naming the span).
 * Fails with ERROR_INVALID for dim not 2 or 3, a NULL array, or a non-finite coordinate
 * (the detail names the point index); ERROR_UNPROCESSABLE when k > n - 1 (the detail states
 * the maximum); ERROR_TOO_LARGE above KNN_MAX_POINTS; ERROR_NO_MEMORY. k = 0 writes nothing.
 * On failure the outputs are unspecified. Thread-safe (no shared state). Side effect: the
 * output arrays (rows are written in tree order, i.e. at random) are advised to the kernel
 * as transparent-huge-page candidates (madvise; contents and ownership are unaffected).
 */
enum error_code knn_points(const double *points, size_t n, unsigned dim, size_t k, unsigned threads,
                           int64_t deadline, int64_t *indices, double *distances,
                           struct error_info *err) ERROR_MUST_CHECK;

#endif
