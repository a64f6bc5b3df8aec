/*
 * overlap.h - contingency counts of two label images: how many pixels carry each (a, b) label
 * pair, the area of every label and IoU per pair (core/evaluate.h evaluates on them).
 *
 * Design: sparse, never a (max_a + 1) x (max_b + 1) table, so labels up to 2^64 - 1 cost the
 * same as small ones. Cells are spatially coherent, so the pixel stream is cut into runs of
 * equal (a, b) pairs and one hash update is made per run, not per pixel; the hash table is
 * open-addressed (linear probing) on the pair with a per-counter random seed. Memory is
 * O(distinct pairs), bounded by a memory budget that all the counters of one request draw
 * from (struct overlap_budget) and optionally by max_pairs per counter. Time is O(pixels) for the
 * run scan plus O(runs) hash updates; overlap_counter_finish sorts the pairs with an LSD radix sort
 * that skips constant bytes, O(pairs). Tuned for: uint32 cell segmentations of 4-64 Mpixel with
 * 10^3-10^5 cells (10^5-10^6 distinct pairs), two cores.
 *
 * A counter is fed pixel chunks in raster order (overlap_counter_add: whole images, rows,
 * strips - the chunking never changes the result) and is not thread-safe; parallel work
 * uses one counter per thread merged at the end (overlap_counter_merge), which
 * overlap_counter_add_parallel does for in-memory arrays.
 *
 * Definitions used throughout (they are the public contract):
 *   labels_a, labels_b  number of distinct labels other than 0 present in a, in b.
 *   area of label l     pixels carrying l in its image (background pairs included).
 *   IoU(a, b)           n_ab / (area_a + area_b - n_ab), computed in double for every
 *                       listed pair, background rows included when they are listed.
 */
#ifndef TESSERA_CORE_OVERLAP_H
#define TESSERA_CORE_OVERLAP_H

#include "error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element type of a label array; values are in native byte order. Signed images must not
 * hold negative labels (ERROR_UNPROCESSABLE naming the value). */
enum overlap_dtype {
    OVERLAP_U8,
    OVERLAP_U16,
    OVERLAP_U32,
    OVERLAP_U64,
    OVERLAP_I8,
    OVERLAP_I16,
    OVERLAP_I32,
    OVERLAP_I64
};

#define OVERLAP_DTYPE_COUNT 8

/* Bytes per element of dtype (0 for an out-of-range value). */
size_t overlap_dtype_size(enum overlap_dtype dtype);

/* numpy-style name ("uint8", "int64", ...) or "?" for an out-of-range value. */
const char *overlap_dtype_name(enum overlap_dtype dtype);

struct overlap_counter;

/*
 * How run boundaries are found: the scalar loop (the reference), the compiler's baseline
 * vectors (SSE2 on x86-64; scalar elsewhere) or AVX2. AUTO, the default on first use, takes
 * AVX2 when the CPU reports it (__builtin_cpu_supports), else the baseline; the build never
 * assumes more than the baseline. overlap_simd_select sets the choice for the whole process
 * (tests and benchmarks; not while counters are counting) and returns false, changing
 * nothing, for a level this CPU or build lacks. Counts are the same at every level.
 */
enum overlap_simd {
    OVERLAP_SIMD_AUTO,
    OVERLAP_SIMD_SCALAR,
    OVERLAP_SIMD_BASELINE,
    OVERLAP_SIMD_AVX2
};

bool overlap_simd_select(enum overlap_simd level);

/*
 * A memory budget shared by the counters of one request, whichever threads they run on.
 * Every allocation a counter makes is charged before it is made and given back when it is
 * freed: the pair table (24 bytes a slot, at most 3/4 full, so >= 32 bytes a pair, twice that
 * for a moment while it doubles), the fixed run cache (~198 KiB a counter), sort space (24
 * bytes a pair) and, while overlap_counter_finish builds the result, 128 bytes a pair for the
 * columns, label areas and matching scratch. A charge that would pass the limit fails with
 * ERROR_TOO_LARGE naming the bytes in use, the bytes wanted and the limit
 * (max_request_memory). Once finish returns, the result is the caller's and no longer
 * charged. Initialise with overlap_budget_init; it must outlive its counters.
 */
struct overlap_budget {
    _Atomic uint64_t used; /* bytes charged now */
    _Atomic uint64_t peak; /* most bytes charged at once */
    uint64_t limit;        /* 0 = none */
};

void overlap_budget_init(struct overlap_budget *budget, uint64_t limit);

/* Most bytes charged at once so far. */
uint64_t overlap_budget_peak(const struct overlap_budget *budget);

/* Charge bytes for `what` (named in the 413 detail); NULL budget: no-op. Fails with
 * ERROR_TOO_LARGE, charging nothing, when the limit would be passed. */
enum error_code overlap_budget_take(struct overlap_budget *budget, uint64_t bytes, const char *what,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Give back bytes charged with overlap_budget_take; NULL budget: no-op. */
void overlap_budget_give(struct overlap_budget *budget, uint64_t bytes);

/*
 * New empty counter charged to budget (NULL = none) that also refuses to hold more than
 * max_pairs distinct (a, b) pairs (0 = no such cap). Returns NULL with ERROR_NO_MEMORY (or
 * ERROR_TOO_LARGE: the budget) in err on failure. Free with overlap_counter_free.
 */
struct overlap_counter *overlap_counter_new_budget(uint64_t max_pairs,
                                                   struct overlap_budget *budget,
                                                   struct error_info *err);

/* A new empty counter with the max_pairs and budget of `like` (a helper thread's own). */
struct overlap_counter *overlap_counter_new_like(const struct overlap_counter *like,
                                                 struct error_info *err);

/*
 * New empty counter that refuses to hold more than max_pairs distinct (a, b) pairs
 * (0 = no cap other than memory). Returns NULL with ERROR_NO_MEMORY in err on failure.
 * Free with overlap_counter_free. The counter belongs to one thread at a time.
 */
struct overlap_counter *overlap_counter_new(uint64_t max_pairs, struct error_info *err);

/* Free a counter; NULL is a no-op. */
void overlap_counter_free(struct overlap_counter *counter);

/*
 * Count n pixels: a[i] pairs with b[i] (each array holds n elements of its dtype; the two
 * dtypes may differ). Chunks must be fed in one consistent order (raster order keeps the runs
 * long, any order gives the same counts). Fails with ERROR_UNPROCESSABLE on a negative label
 * (the detail names image, value and pixel index counted from the first pixel ever added),
 * ERROR_TOO_LARGE when the distinct pairs exceed max_pairs (checked as pairs leave a small
 * fixed-size cache, so up to ~8,500 pairs late: memory stays bounded, and
 * overlap_counter_finish reports what is left) or the table would pass the budget,
 * ERROR_NO_MEMORY, or
 * ERROR_INVALID for an unknown dtype. After a failure the counter's contents are unspecified:
 * only free it.
 */
enum error_code overlap_counter_add(struct overlap_counter *counter, const void *a,
                                    enum overlap_dtype dtype_a, const void *b,
                                    enum overlap_dtype dtype_b, size_t n,
                                    struct error_info *err) ERROR_MUST_CHECK;

/*
 * Same as overlap_counter_add, with the n pixels split into contiguous pieces counted on up
 * to `threads` threads (core/parallel; the helpers each with their own table, merged into
 * counter afterwards). Small inputs run on the calling thread, and so do the pieces of a
 * helper that cannot start (no free slot in the thread budget). On failure the detail is that
 * of the first failing piece in pixel order. Fails like overlap_counter_add.
 */
enum error_code overlap_counter_add_parallel(struct overlap_counter *counter, const void *a,
                                             enum overlap_dtype dtype_a, const void *b,
                                             enum overlap_dtype dtype_b, size_t n, unsigned threads,
                                             struct error_info *err) ERROR_MUST_CHECK;

/*
 * Add every pair count of src into dst (src is left emptied but valid; dst keeps its own
 * max_pairs). dst's table is grown once, up front, to hold the pairs of both. Pixel totals
 * add up. Fails with ERROR_TOO_LARGE (max_pairs, budget) or ERROR_NO_MEMORY.
 */
enum error_code overlap_counter_merge(struct overlap_counter *dst, struct overlap_counter *src,
                                      struct error_info *err) ERROR_MUST_CHECK;

/* Declare the pixel index of the next pixel added, as used in error details (a thread that
 * counts rows out of order keeps details in image coordinates). Counting is unaffected. */
void overlap_counter_seek(struct overlap_counter *counter, uint64_t next_pixel);

/* The max_pairs the counter was made with (to make per-thread counters alike). */
uint64_t overlap_counter_max_pairs(const struct overlap_counter *counter);

/* Pixels counted so far (including merged counters). */
uint64_t overlap_counter_pixels(const struct overlap_counter *counter);

/* Distinct pairs in the counter's table so far (pairs still accumulating in its small front
 * cache are not included until finish or merge moves them). */
uint64_t overlap_counter_pairs(const struct overlap_counter *counter);

struct overlap_options {
    bool include_background; /* keep rows where a == 0 or b == 0 */
    bool iou;                /* fill overlap_result.iou */
    unsigned threads;        /* threads overlap_counter_finish may sort on (0 counts as 1) */
};

/* Labels of one image, ascending, 0 included when present, with their areas. */
struct overlap_labels {
    size_t n;
    uint64_t *label;
    uint64_t *area;
};

/* Columnar result, pairs sorted by (a, b), only nonzero counts. Caller-provided storage:
 * overlap_counter_finish fills it, overlap_result_cleanup frees its arrays. */
struct overlap_result {
    uint64_t pixels;   /* pixels counted */
    size_t n_pairs;    /* rows in a, b, count (and iou) */
    uint64_t *a;       /* n_pairs label values from image a */
    uint64_t *b;       /* n_pairs label values from image b */
    uint64_t *count;   /* n_pairs pixel counts, all >= 1 */
    double *iou;       /* n_pairs IoU values when options.iou, else NULL */
    uint64_t labels_a; /* distinct nonzero labels in a (StarDist's n_true) */
    uint64_t labels_b; /* distinct nonzero labels in b (StarDist's n_pred) */
    struct overlap_labels areas_a, areas_b;
};

/*
 * Build the sorted result from everything counted; the counter is left empty (as new, same
 * max_pairs) and can count again. With options->threads >= 2 and many pairs the two halves
 * of the pairs are sorted on two threads and merged (n more entries of sort space). result is
 * overwritten; on failure it holds nothing to free. Fails with ERROR_NO_MEMORY or
 * ERROR_TOO_LARGE (max_pairs: pairs still in the front cache reach the table only here; the
 * budget: sort space and the result).
 */
enum error_code overlap_counter_finish(struct overlap_counter *counter,
                                       const struct overlap_options *options,
                                       struct overlap_result *result,
                                       struct error_info *err) ERROR_MUST_CHECK;

/* Free the arrays of a finished result and zero it; safe on a zeroed result. */
void overlap_result_cleanup(struct overlap_result *result);

#endif
