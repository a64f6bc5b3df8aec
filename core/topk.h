/*
 * topk.h - the k smallest or largest values of an array, and of each row of a matrix.
 *
 * Results are ordered best first and equal numpy's np.argsort(x, kind="stable")[:k] for
 * the smallest, and the mirror rule for the largest: ties go to the lower index, NaN comes
 * after every number in either direction, -0.0 equals 0.0. float32 input is compared
 * exactly as float64 (the conversion is exact and keeps order).
 *
 * Selection, never a full sort. For k much smaller than n (the workload this is tuned for:
 * k = 10..1000 over 10^4..10^8 values) one streaming pass keeps the best k in a bounded
 * max-heap and tests each value against the heap's worst with one float compare, in blocks
 * the compiler vectorises; only the few values that beat the worst touch the heap. With
 * threads, the array is cut into chunks claimed from a counter (core/parallel), one heap per
 * chunk, merged at the end; the caller works too, and helpers come from the process's thread
 * budget, so a loaded machine costs at most one-thread speed. Cost: O(n) reads plus
 * O(k log k log(n/k)) heap work on random data, O(n log k) worst case (sorted input).
 * For k comparable to n, an introselect over a copy of (ordered key, index) pairs, then an
 * introsort of the k chosen: O(n + k log k) time, 16 bytes of scratch per value.
 * Rows (row-major rows x cols) are cut into blocks of rows claimed the same way.
 */
#ifndef TESSERA_CORE_TOPK_H
#define TESSERA_CORE_TOPK_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element type of the input array (little-endian host order, C order). */
enum topk_dtype { TOPK_FLOAT64 = 0, TOPK_FLOAT32 };

struct topk_options {
    bool largest;      /* false: k smallest first; true: k largest first */
    bool exclude_self; /* topk_rows only: drop column i from row i (needs rows == cols) */
    unsigned threads;  /* worker threads to use, the caller's included; 0 or 1 = caller only */
    int64_t deadline;  /* core/clock.h ns; 0 = none; past it the call fails with ERROR_TIMEOUT */
};

/*
 * The k best of x[0..n) by the rules above. Writes k indices (int64, into x) to indices[]
 * and, when values is not NULL, the k values (as float64; NaN stays NaN) to values[], best
 * first. k = 0 writes nothing. Fails with ERROR_UNPROCESSABLE when k > n (the detail states
 * the maximum), ERROR_INVALID on a NULL array or unknown dtype, ERROR_NO_MEMORY. The input is
 * only read; on failure the outputs are unspecified. Thread-safe (no shared state).
 */
enum error_code topk_values(const void *x, enum topk_dtype dtype, size_t n, size_t k,
                            const struct topk_options *opt, int64_t *indices, double *values,
                            struct error_info *err) ERROR_MUST_CHECK;

/*
 * The k best of each row of the row-major rows x cols matrix x. Row r's result goes to
 * indices[r * k .. r * k + k) (column numbers) and, when values is not NULL, values[same].
 * With opt->exclude_self, column r of row r is never chosen: it is skipped by index, not by
 * position in a partition. Fails with ERROR_UNPROCESSABLE when exclude_self is set on a
 * non-square matrix, or when k exceeds cols (cols - 1 when excluding self; the detail states
 * the maximum), ERROR_INVALID, ERROR_NO_MEMORY. Thread-safe.
 */
enum error_code topk_rows(const void *x, enum topk_dtype dtype, size_t rows, size_t cols, size_t k,
                          const struct topk_options *opt, int64_t *indices, double *values,
                          struct error_info *err) ERROR_MUST_CHECK;

#endif
