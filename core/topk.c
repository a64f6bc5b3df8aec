/*
 * topk.c - k smallest / largest selection; see topk.h for the contract.
 *
 * The one decision to know: every comparison that decides an answer is done on a 64-bit
 * ordered key plus the index, (key, index) compared lexicographically. The key maps a double
 * to an unsigned integer whose order is the wanted order (-0.0 folded onto 0.0, every NaN
 * onto the largest key, reversed for "largest"), so ties by index and NaN-last fall out of
 * plain integer compares and no comparator ever sees a NaN. The hot loop never builds keys:
 * it only asks "is this value better than the current k-th best?" with one float compare,
 * which is exactly equivalent to the key test for a later index (ties lose to earlier ones).
 */
#include "topk.h"

#include "alloc.h"
#include "parallel.h"

#include <stdlib.h>
#include <string.h>

#define TOPK_KEY_NAN    UINT64_MAX /* key of every NaN: after all numbers */
#define TOPK_BLOCK      16         /* values per step of the portable scan */
#define TOPK_HEAP_MAX_K 4096       /* above this k, introselect beats the heap */
#define TOPK_HEAP_RATIO 16         /* heap only while k <= n / ratio */
#define TOPK_MIN_CHUNK  65536      /* values per thread below which a thread is not worth it */
#define TOPK_SMALL_SORT 16         /* ranges sorted by insertion */

/* ---- ordered keys ----------------------------------------------------------------------
 * key(a) < key(b) exactly when a comes before b in the wanted order, for numbers; equal
 * numbers (including -0.0 and 0.0) get equal keys; NaN gets TOPK_KEY_NAN in both directions.
 */

struct topk_entry {
    uint64_t key;
    uint64_t index;
};

static inline uint64_t topk_key(double v, bool largest)
{
    if (v != v)
        return TOPK_KEY_NAN;
    if (v == 0.0)
        v = 0.0; /* -0.0 -> +0.0 */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits = (bits >> 63) ? ~bits : bits | ((uint64_t)1 << 63);
    /* numbers map into [0x000f..f, 0xfff0..0], so ~bits never collides with the NaN key */
    return largest ? ~bits : bits;
}

static inline bool entry_less(const struct topk_entry *a, const struct topk_entry *b)
{
    return a->key < b->key || (a->key == b->key && a->index < b->index);
}

static inline void entry_swap(struct topk_entry *a, struct topk_entry *b)
{
    struct topk_entry t = *a;
    *a = *b;
    *b = t;
}

static double topk_value_at(const void *x, enum topk_dtype dtype, size_t i)
{
    if (dtype == TOPK_FLOAT32)
        return (double)((const float *)x)[i];
    return ((const double *)x)[i];
}

/* ---- max-heap, introsort and introselect over entries ----------------------------------
 * The heap keeps the k best seen so far with the worst at e[0]. The sorts are the textbook
 * median-of-three Hoare quicksort with a depth budget that falls back to heapsort, so no
 * input is quadratic. Entries are unique (indices differ), so partitions never stall on ties.
 */

struct topk_heap {
    struct topk_entry *e;
    size_t len;
    size_t cap;
};

static void heap_sift_down(struct topk_entry *e, size_t len, size_t i)
{
    struct topk_entry moving = e[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len)
            break;
        if (c + 1 < len && entry_less(&e[c], &e[c + 1]))
            c++;
        if (!entry_less(&moving, &e[c]))
            break;
        e[i] = e[c];
        i = c;
    }
    e[i] = moving;
}

static void heap_push(struct topk_heap *h, uint64_t key, size_t index)
{
    struct topk_entry moving = {key, index};
    size_t i = h->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!entry_less(&h->e[parent], &moving))
            break;
        h->e[i] = h->e[parent];
        i = parent;
    }
    h->e[i] = moving;
}

static void heap_replace_top(struct topk_heap *h, uint64_t key, size_t index)
{
    h->e[0].key = key;
    h->e[0].index = index;
    heap_sift_down(h->e, h->len, 0);
}

static void entry_heap_sort(struct topk_entry *e, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        heap_sift_down(e, n, i);
    for (size_t end = n; end > 1; end--) {
        entry_swap(&e[0], &e[end - 1]);
        heap_sift_down(e, end - 1, 0);
    }
}

static void entry_insertion_sort(struct topk_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct topk_entry moving = e[i];
        size_t j = i;
        while (j > 0 && entry_less(&moving, &e[j - 1])) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = moving;
    }
}

/* Partition e[0..n), n >= 3, around a median of three; returns the size of the left part,
 * in [1, n - 1]; every left entry is less than every right one. */
static size_t entry_partition(struct topk_entry *e, size_t n)
{
    size_t mid = (n - 1) / 2;
    if (entry_less(&e[mid], &e[0]))
        entry_swap(&e[mid], &e[0]);
    if (entry_less(&e[n - 1], &e[mid])) {
        entry_swap(&e[n - 1], &e[mid]);
        if (entry_less(&e[mid], &e[0]))
            entry_swap(&e[mid], &e[0]);
    }
    struct topk_entry pivot = e[mid];
    size_t i = 0, j = n - 1;
    for (;;) {
        while (entry_less(&e[i], &pivot))
            i++;
        while (entry_less(&pivot, &e[j]))
            j--;
        if (i >= j)
            return j + 1;
        entry_swap(&e[i], &e[j]);
        i++;
        j--;
    }
}

static unsigned depth_budget(size_t n)
{
    unsigned d = 0;
    while (n > 1) {
        n >>= 1;
        d += 2;
    }
    return d + 2;
}

static void entry_sort(struct topk_entry *e, size_t n)
{
    unsigned budget = depth_budget(n);
    while (n > TOPK_SMALL_SORT) {
        if (budget-- == 0) {
            entry_heap_sort(e, n);
            return;
        }
        size_t left = entry_partition(e, n);
        /* recurse into the smaller side, loop on the larger: stack depth O(log n) */
        if (left < n - left) {
            entry_sort(e, left);
            e += left;
            n -= left;
        } else {
            entry_sort(e + left, n - left);
            n = left;
        }
    }
    entry_insertion_sort(e, n);
}

/* Reorder e[0..n) so that e[0..k) holds the k least entries (in no particular order). */
static void entry_select(struct topk_entry *e, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    unsigned budget = depth_budget(n);
    while (hi - lo > TOPK_SMALL_SORT) {
        if (budget-- == 0) {
            entry_heap_sort(e + lo, hi - lo);
            return;
        }
        size_t left = lo + entry_partition(e + lo, hi - lo);
        if (k == left)
            return;
        if (k < left)
            hi = left;
        else
            lo = left;
    }
    entry_insertion_sort(e + lo, hi - lo);
}

/* ---- the streaming scan ----------------------------------------------------------------
 * skip_*(x, i, end, t) returns the first index in [i, end) whose value beats t (is < t for
 * smallest, > t for largest), or end. A NaN never beats anything. Blocks of values
 * (four 16-byte vectors with the compiler's vector extensions, TOPK_BLOCK values elsewhere)
 * are tested with a branch-free OR of compares and one branch per block.
 * scan_*() feeds x[i..end) into the heap: it fills the heap with the first values, then
 * touches it only for values that beat the current worst. Indices must be fed in increasing
 * order, which is what makes "beats the worst value" the whole test (a tie loses).
 */

#if defined(__GNUC__)
/* GCC/clang vector extensions: one compare per vector, OR-ed over a block, no branch until
 * a block holds a candidate. Lowered to whatever SIMD the target has (SSE2 at least). */
typedef double topk_f64x2 __attribute__((vector_size(16)));
typedef int64_t topk_i64x2 __attribute__((vector_size(16)));
typedef float topk_f32x4 __attribute__((vector_size(16)));
typedef int32_t topk_i32x4 __attribute__((vector_size(16)));

#define TOPK_DEFINE_SKIP(NAME, TYPE, VEC, MASK, LANES, OP)                                         \
    static size_t NAME(const TYPE *x, size_t i, size_t end, TYPE t)                                \
    {                                                                                              \
        VEC tv;                                                                                    \
        for (int l = 0; l < LANES; l++)                                                            \
            tv[l] = t;                                                                             \
        for (; i + 4 * LANES <= end; i += 4 * LANES) {                                             \
            VEC a, b, c, d;                                                                        \
            memcpy(&a, x + i, sizeof a);                                                           \
            memcpy(&b, x + i + LANES, sizeof b);                                                   \
            memcpy(&c, x + i + 2 * LANES, sizeof c);                                               \
            memcpy(&d, x + i + 3 * LANES, sizeof d);                                               \
            MASK m = (a OP tv) | (b OP tv) | (c OP tv) | (d OP tv);                                \
            int hit = 0;                                                                           \
            for (int l = 0; l < LANES; l++)                                                        \
                hit |= m[l] != 0;                                                                  \
            if (hit)                                                                               \
                break;                                                                             \
        }                                                                                          \
        for (; i < end; i++)                                                                       \
            if (x[i] OP t)                                                                         \
                return i;                                                                          \
        return end;                                                                                \
    }

TOPK_DEFINE_SKIP(skip_below_f64, double, topk_f64x2, topk_i64x2, 2, <)
TOPK_DEFINE_SKIP(skip_above_f64, double, topk_f64x2, topk_i64x2, 2, >)
TOPK_DEFINE_SKIP(skip_below_f32, float, topk_f32x4, topk_i32x4, 4, <)
TOPK_DEFINE_SKIP(skip_above_f32, float, topk_f32x4, topk_i32x4, 4, >)
#else
#define TOPK_DEFINE_SKIP(NAME, TYPE, OP)                                                           \
    static size_t NAME(const TYPE *x, size_t i, size_t end, TYPE t)                                \
    {                                                                                              \
        for (; i + TOPK_BLOCK <= end; i += TOPK_BLOCK) {                                           \
            int hit = 0;                                                                           \
            for (size_t j = 0; j < TOPK_BLOCK; j++)                                                \
                hit |= x[i + j] OP t;                                                              \
            if (hit)                                                                               \
                break;                                                                             \
        }                                                                                          \
        for (; i < end; i++)                                                                       \
            if (x[i] OP t)                                                                         \
                return i;                                                                          \
        return end;                                                                                \
    }

TOPK_DEFINE_SKIP(skip_below_f64, double, <)
TOPK_DEFINE_SKIP(skip_above_f64, double, >)
TOPK_DEFINE_SKIP(skip_below_f32, float, <)
TOPK_DEFINE_SKIP(skip_above_f32, float, >)
#endif

#define TOPK_DEFINE_SCAN(NAME, TYPE, SKIP_BELOW, SKIP_ABOVE)                                       \
    static void NAME(struct topk_heap *h, const TYPE *x, size_t i, size_t end, bool largest)       \
    {                                                                                              \
        for (; i < end && h->len < h->cap; i++)                                                    \
            heap_push(h, topk_key((double)x[i], largest), i);                                      \
        while (i < end) {                                                                          \
            struct topk_entry worst = h->e[0];                                                     \
            if (worst.key == TOPK_KEY_NAN) {                                                       \
                /* the heap still holds a NaN: any number beats it */                              \
                while (i < end && x[i] != x[i])                                                    \
                    i++;                                                                           \
            } else {                                                                               \
                TYPE t = x[worst.index];                                                           \
                i = largest ? SKIP_ABOVE(x, i, end, t) : SKIP_BELOW(x, i, end, t);                 \
            }                                                                                      \
            if (i == end)                                                                          \
                break;                                                                             \
            uint64_t key = topk_key((double)x[i], largest);                                        \
            if (key < worst.key)                                                                   \
                heap_replace_top(h, key, i);                                                       \
            i++;                                                                                   \
        }                                                                                          \
    }

TOPK_DEFINE_SCAN(scan_f64, double, skip_below_f64, skip_above_f64)
TOPK_DEFINE_SCAN(scan_f32, float, skip_below_f32, skip_above_f32)

static void scan_range(struct topk_heap *h, const void *x, enum topk_dtype dtype, size_t begin,
                       size_t end, bool largest)
{
    if (dtype == TOPK_FLOAT32)
        scan_f32(h, (const float *)x, begin, end, largest);
    else
        scan_f64(h, (const double *)x, begin, end, largest);
}

static bool use_heap(size_t available, size_t k)
{
    return k <= TOPK_HEAP_MAX_K && k <= available / TOPK_HEAP_RATIO;
}

/*
 * The k best of x[0..n) leaving out index skip (skip >= n: none), sorted into scratch[0..k).
 * scratch holds k entries on the heap path, n on the select path (use_heap(available, k)).
 */
static void best_of_range(const void *x, enum topk_dtype dtype, size_t n, size_t skip, size_t k,
                          bool largest, struct topk_entry *scratch)
{
    size_t available = skip < n ? n - 1 : n;
    if (use_heap(available, k)) {
        struct topk_heap h = {scratch, 0, k};
        size_t cut = skip < n ? skip : n;
        scan_range(&h, x, dtype, 0, cut, largest);
        if (cut < n)
            scan_range(&h, x, dtype, cut + 1, n, largest);
        entry_sort(scratch, k);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        scratch[m].key = topk_key(topk_value_at(x, dtype, i), largest);
        scratch[m].index = i;
        m++;
    }
    entry_select(scratch, m, k);
    entry_sort(scratch, k);
}

static void write_result(const void *x, enum topk_dtype dtype, const struct topk_entry *e, size_t k,
                         int64_t *indices, double *values)
{
    for (size_t j = 0; j < k; j++) {
        indices[j] = (int64_t)e[j].index;
        if (values != NULL)
            values[j] = topk_value_at(x, dtype, e[j].index);
    }
}

/* ---- jobs ------------------------------------------------------------------------------
 * Work is cut into chunks (a range of values, or a block of rows), the items of one
 * parallel_run: claimed in increasing order from its counter by the caller and the helper
 * threads the budget allows, about 8 per thread so a slow thread is overtaken. Outputs are
 * written only inside claimed chunks, all finished when parallel_run returns. Rows need
 * per-worker scratch (a heap of k, or a copy of a row); values do not.
 */

enum topk_job_kind {
    TOPK_JOB_VALUES, /* chunk c: values [c * chunk_len, ...) into heap c of `heaps` */
    TOPK_JOB_ROWS    /* chunk c: rows [c * chunk_len, ...) straight into the outputs */
};

struct topk_job {
    size_t chunks, chunk_len;
    enum topk_job_kind kind;
    const void *x;
    enum topk_dtype dtype;
    size_t n, cols, k; /* values: n; rows: n rows of cols */
    bool largest, exclude_self;
    size_t scratch_len;        /* entries each worker needs (rows) */
    struct topk_heap *heaps;   /* values: one heap of k per chunk */
    struct topk_entry *memory; /* values: the heaps' entries */
    int64_t *indices;          /* rows: the caller's outputs */
    double *values;
};

static enum error_code job_chunk(void *arg, size_t c, unsigned w, void *scratch,
                                 struct error_info *err)
{
    (void)w;
    (void)err;
    const struct topk_job *job = arg;
    size_t begin = c * job->chunk_len;
    size_t end = begin + job->chunk_len < job->n ? begin + job->chunk_len : job->n;
    if (job->kind == TOPK_JOB_VALUES) {
        scan_range(&job->heaps[c], job->x, job->dtype, begin, end, job->largest);
        return ERROR_OK;
    }
    size_t width = job->dtype == TOPK_FLOAT32 ? sizeof(float) : sizeof(double);
    for (size_t r = begin; r < end; r++) {
        const char *row = (const char *)job->x + r * job->cols * width;
        size_t skip = job->exclude_self ? r : SIZE_MAX;
        best_of_range(row, job->dtype, job->cols, skip, job->k, job->largest, scratch);
        write_result(row, job->dtype, scratch, job->k, job->indices + r * job->k,
                     job->values != NULL ? job->values + r * job->k : NULL);
    }
    return ERROR_OK;
}

/* Run every chunk on up to opt->threads workers; fails when the scratch cannot be had or the
 * deadline passes. */
static enum error_code job_run(struct topk_job *job, const struct topk_options *opt,
                               struct error_info *err)
{
    struct parallel_loop loop = {.n = job->chunks,
                                 .threads = opt->threads,
                                 .deadline = opt->deadline,
                                 .scratch = job->scratch_len * sizeof(struct topk_entry),
                                 .item = job_chunk,
                                 .arg = job};
    return parallel_run(&loop, NULL, err);
}

/* Chunk length: about 8 chunks per thread so a slow thread can be overtaken, never shorter
 * than min_len, and at least one. */
static size_t chunk_length(size_t total, unsigned threads, size_t min_len)
{
    size_t t = threads == 0 ? 1 : (threads > PARALLEL_THREADS_MAX ? PARALLEL_THREADS_MAX : threads);
    size_t len = (total + 8 * t - 1) / (8 * t);
    if (len < min_len)
        len = min_len;
    return len == 0 ? 1 : len;
}

static enum error_code check_common(const void *x, enum topk_dtype dtype, size_t n, size_t k,
                                    const struct topk_options *opt, const int64_t *indices,
                                    struct error_info *err)
{
    if (dtype != TOPK_FLOAT64 && dtype != TOPK_FLOAT32)
        return error_set(err, ERROR_INVALID, "dtype: unknown element type %d", (int)dtype);
    if (opt == NULL)
        return error_set(err, ERROR_INVALID, "options: missing");
    if (n > 0 && x == NULL)
        return error_set(err, ERROR_INVALID, "values: missing array");
    if (k > 0 && indices == NULL)
        return error_set(err, ERROR_INVALID, "indices: missing output array");
    return ERROR_OK;
}

/* ---- one array -------------------------------------------------------------------------
 * Heap path: each chunk is scanned into its own heap of k; the (at most chunks * k)
 * survivors hold the best k overall, which are selected and sorted. Select path: one
 * thread (it is chosen only when k is a sizeable fraction of n).
 */

enum error_code topk_values(const void *x, enum topk_dtype dtype, size_t n, size_t k,
                            const struct topk_options *opt, int64_t *indices, double *values,
                            struct error_info *err)
{
    enum error_code rc = check_common(x, dtype, n, k, opt, indices, err);
    if (rc != ERROR_OK)
        return rc;
    if (k > n)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "k: %zu is more than the %zu values given; the maximum k is %zu", k, n, n);
    if (k == 0)
        return ERROR_OK;

    if (!use_heap(n, k)) {
        struct topk_entry *scratch = alloc_bytes(n * sizeof *scratch);
        if (scratch == NULL)
            return error_set(err, ERROR_NO_MEMORY, "topk: no memory for %zu entries", n);
        best_of_range(x, dtype, n, SIZE_MAX, k, opt->largest, scratch);
        write_result(x, dtype, scratch, k, indices, values);
        free(scratch);
        return ERROR_OK;
    }

    struct topk_job job = {
        .kind = TOPK_JOB_VALUES, .x = x, .dtype = dtype, .n = n, .k = k, .largest = opt->largest};
    job.chunk_len = opt->threads > 1 ? chunk_length(n, opt->threads, TOPK_MIN_CHUNK) : n;
    if (job.chunk_len < 16 * k)
        job.chunk_len = 16 * k;
    job.chunks = (n + job.chunk_len - 1) / job.chunk_len;
    job.heaps = alloc_zeroed(job.chunks, sizeof *job.heaps);
    job.memory = alloc_bytes(job.chunks * k * sizeof *job.memory);
    if (job.heaps == NULL || job.memory == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "topk: no memory for %zu heaps of %zu", job.chunks, k);
        goto out;
    }
    for (size_t c = 0; c < job.chunks; c++) {
        job.heaps[c].e = job.memory + c * k;
        job.heaps[c].cap = k;
    }
    rc = job_run(&job, opt, err);
    if (rc != ERROR_OK)
        goto out;

    /* compact the survivors to the front: each chunk kept min(k, its length), so together
     * they are at least k and include the best k overall */
    struct topk_entry *all = job.memory;
    size_t m = 0;
    for (size_t c = 0; c < job.chunks; c++) {
        memmove(all + m, job.heaps[c].e, job.heaps[c].len * sizeof *all);
        m += job.heaps[c].len;
    }
    if (m > k)
        entry_select(all, m, k);
    entry_sort(all, k);
    write_result(x, dtype, all, k, indices, values);
out:
    free(job.memory);
    free(job.heaps);
    return rc;
}

/* ---- rows ------------------------------------------------------------------------------
 * Chunks are blocks of rows; each worker owns its scratch (k entries on the heap path, cols
 * on the select path) and writes its rows' results directly into the outputs.
 */

enum error_code topk_rows(const void *x, enum topk_dtype dtype, size_t rows, size_t cols, size_t k,
                          const struct topk_options *opt, int64_t *indices, double *values,
                          struct error_info *err)
{
    if (cols != 0 && rows > SIZE_MAX / 16 / cols)
        return error_set(err, ERROR_TOO_LARGE, "rows: %zu x %zu is too large", rows, cols);
    enum error_code rc = check_common(x, dtype, rows * cols, k, opt, indices, err);
    if (rc != ERROR_OK)
        return rc;
    if (opt->exclude_self && rows != cols)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "exclude_self: needs a square matrix, got %zu rows x %zu columns", rows,
                         cols);
    size_t available = opt->exclude_self && cols > 0 ? cols - 1 : cols;
    if (k > available)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "k: %zu is more than the %zu values per row%s; the maximum k is %zu", k,
                         available, opt->exclude_self ? " after excluding self" : "", available);
    if (k == 0 || rows == 0)
        return ERROR_OK;

    struct topk_job job = {.kind = TOPK_JOB_ROWS,
                           .x = x,
                           .dtype = dtype,
                           .n = rows,
                           .cols = cols,
                           .k = k,
                           .largest = opt->largest,
                           .exclude_self = opt->exclude_self,
                           .indices = indices,
                           .values = values};
    job.scratch_len = use_heap(available, k) ? k : cols;
    job.chunk_len = chunk_length(rows, opt->threads, (TOPK_MIN_CHUNK / 4 + cols - 1) / cols);
    job.chunks = (rows + job.chunk_len - 1) / job.chunk_len;
    return job_run(&job, opt, err);
}
