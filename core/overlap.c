/*
 * overlap.c - sparse contingency counting of two label images; see overlap.h.
 *
 * The one decision to know: pixels are never hashed one by one. A scan per dtype (32 or 16
 * bytes at a time with AVX2 or SSE2) finds the end of each run of equal (a, b) pairs; each run is
 * added to a small direct-mapped front cache that accumulates the counts of the pairs of the
 * current rows, and only a pair evicted from it reaches the big open-addressed table, so the
 * table's random accesses scale with distinct pairs rather than runs. Negative labels are checked
 * once per run, not per pixel. Finishing takes the table as the pair array and sorts it
 * (overlap_sort.c); the areas and columns are built from the sorted pairs (overlap_result.c).
 */
#include "overlap.h"

#include "alloc.h"
#include "clock.h"
#include "overlap_result.h"
#include "overlap_sort.h"
#include "parallel.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ------------------------------------------------------------------------------------------
 * Types, dtypes
 *
 * A table slot (struct overlap_entry, overlap_sort.h) with count 0 is empty: every stored
 * pair has been seen at least once, so no separate occupancy flag is needed and (0, 0) is an
 * ordinary key.
 */

struct overlap_counter {
    struct overlap_entry *slots;
    size_t mask;                   /* slots - 1; the slot count is a power of two */
    size_t used;                   /* occupied slots = distinct pairs */
    size_t grow_at;                /* grow when used exceeds this (3/4 load) */
    uint64_t seed;                 /* hash seed, random per counter */
    uint64_t max_pairs;            /* 0 = unlimited */
    struct overlap_budget *budget; /* shared with the request's other counters; NULL = none */
    uint64_t pixels;               /* pixels added to this counter and merged into it */
    uint64_t index_base;         /* pixel index of this counter's first pixel, for error details */
    struct overlap_entry *front; /* OVERLAP_FRONT_SLOTS direct-mapped run accumulators */
    struct overlap_entry *spill; /* OVERLAP_SPILL counts on their way into the table */
    size_t n_spill;
};

#define OVERLAP_INITIAL_SLOTS 1024u
#define OVERLAP_FRONT_BITS    13u /* 8192 x 24 B = 192 KiB: stays in L2 */
#define OVERLAP_FRONT_SLOTS   (1u << OVERLAP_FRONT_BITS)
#define OVERLAP_SPILL         256u  /* table updates batched so their cache misses overlap */
#define OVERLAP_WIDEN_BLOCK   2048u /* pixels converted per block for mixed dtypes */
/* Upper bound of what overlap_result_build allocates at once (overlap_result.c): label areas
 * of a (16 B a label) and of b (<= 64 B a pair: a dense table of up to 4 n + 1024 labels at
 * 12 B, or a keyed sort at 40 B, plus 16 B a label), matching scratch (9 B a pair) and the
 * columns (32 B a row): at most 121 B a pair and ~12 KiB. */
#define OVERLAP_BUILD_BYTES_PER_PAIR 128u
#define OVERLAP_BUILD_FIXED          ((uint64_t)1 << 14)
/* Pixels per thread below which a thread costs more than it saves. */
#define OVERLAP_MIN_PER_THREAD ((size_t)1 << 18)

size_t overlap_dtype_size(enum overlap_dtype dtype)
{
    static const size_t sizes[OVERLAP_DTYPE_COUNT] = {1, 2, 4, 8, 1, 2, 4, 8};
    return (unsigned)dtype < OVERLAP_DTYPE_COUNT ? sizes[dtype] : 0;
}

const char *overlap_dtype_name(enum overlap_dtype dtype)
{
    static const char *const names[OVERLAP_DTYPE_COUNT] = {"uint8", "uint16", "uint32", "uint64",
                                                           "int8",  "int16",  "int32",  "int64"};
    return (unsigned)dtype < OVERLAP_DTYPE_COUNT ? names[dtype] : "?";
}

/* ------------------------------------------------------------------------------------------
 * Hash table
 *
 * Linear probing at most 3/4 full. The seed keeps a crafted image from choosing colliding
 * pairs; the final xor-shift-multiply mixes both halves into the low bits used for the slot.
 */

static uint64_t random_seed(const void *salt)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)salt ^ ((uint64_t)clock_now_ns() * 0x9E3779B97F4A7C15u);
    return seed | 1u;
}

static inline size_t pair_slot(const struct overlap_counter *c, uint64_t a, uint64_t b)
{
    uint64_t h = (a ^ c->seed) * 0x9E3779B97F4A7C15u;
    h = (h ^ (h >> 29)) + b;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (size_t)h & c->mask;
}

static enum error_code table_alloc(struct overlap_counter *c, size_t slots, struct error_info *err)
{
    if (slots > SIZE_MAX / sizeof(struct overlap_entry))
        return error_set(err, ERROR_NO_MEMORY, "pair table of %zu slots does not fit in memory",
                         slots);
    enum error_code rc = overlap_budget_take(
        c->budget, (uint64_t)slots * sizeof(struct overlap_entry), "the pair table", err);
    if (rc != ERROR_OK)
        return rc;
    struct overlap_entry *s = alloc_large_zeroed(slots, sizeof *s);
    if (s == NULL) {
        overlap_budget_give(c->budget, (uint64_t)slots * sizeof(struct overlap_entry));
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate a pair table of %zu slots", slots);
    }
    c->slots = s;
    c->mask = slots - 1;
    c->grow_at = slots / 4 * 3;
    c->used = 0;
    return ERROR_OK;
}

/* Free a table of `slots` slots made by table_alloc. */
static void table_release(struct overlap_counter *c, struct overlap_entry *slots_mem, size_t slots)
{
    free(slots_mem);
    overlap_budget_give(c->budget, (uint64_t)slots * sizeof(struct overlap_entry));
}

/* Rehash into a table of `slots` slots (a power of two that holds c->used under 3/4). */
static enum error_code table_rehash(struct overlap_counter *c, size_t slots, struct error_info *err)
{
    struct overlap_entry *old = c->slots;
    size_t old_slots = c->mask + 1, used = c->used;
    enum error_code rc = table_alloc(c, slots, err);
    if (rc != ERROR_OK)
        return rc;
    for (size_t i = 0; i < old_slots; i++) {
        if (old[i].count == 0)
            continue;
        size_t j = pair_slot(c, old[i].a, old[i].b);
        while (c->slots[j].count != 0)
            j = (j + 1) & c->mask;
        c->slots[j] = old[i];
    }
    c->used = used;
    table_release(c, old, old_slots);
    return ERROR_OK;
}

static enum error_code table_grow(struct overlap_counter *c, struct error_info *err)
{
    size_t old_slots = c->mask + 1;
    if (old_slots > SIZE_MAX / 2)
        return error_set(err, ERROR_NO_MEMORY, "pair table cannot grow past %zu slots", old_slots);
    return table_rehash(c, old_slots * 2, err);
}

/* Grow once, up front, so that `pairs` distinct pairs fit without further doubling (a merge
 * would otherwise rehash the growing table several times over). */
static enum error_code table_reserve(struct overlap_counter *c, uint64_t pairs,
                                     struct error_info *err)
{
    size_t slots = c->mask + 1;
    while (slots / 4 * 3 < pairs && slots <= SIZE_MAX / 2)
        slots *= 2;
    return slots == c->mask + 1 ? ERROR_OK : table_rehash(c, slots, err);
}

static enum error_code table_insert_new(struct overlap_counter *c, size_t slot, uint64_t a,
                                        uint64_t b, uint64_t n, struct error_info *err)
{
    if (c->max_pairs != 0 && c->used >= c->max_pairs)
        return error_set(err, ERROR_TOO_LARGE,
                         "the two label images have more than %llu distinct (a, b) label pairs "
                         "(limit max_pairs)",
                         (unsigned long long)c->max_pairs);
    c->slots[slot].a = a;
    c->slots[slot].b = b;
    c->slots[slot].count = n;
    c->used++;
    if (c->used > c->grow_at)
        return table_grow(c, err);
    return ERROR_OK;
}

static inline enum error_code table_add(struct overlap_counter *c, uint64_t a, uint64_t b,
                                        uint64_t n, struct error_info *err)
{
    struct overlap_entry *s = c->slots;
    size_t i = pair_slot(c, a, b);
    for (;;) {
        if (s[i].count == 0)
            return table_insert_new(c, i, a, b, n, err);
        if (s[i].a == a && s[i].b == b) {
            s[i].count += n;
            return ERROR_OK;
        }
        i = (i + 1) & c->mask;
    }
}

/*
 * The front cache. Rows of a label image repeat the pairs of the row above, so the pairs in
 * use at any moment are few (about the runs of one row) while the table of all pairs is
 * large and touched at random. A small direct-mapped cache in front of it accumulates the
 * runs of a pair; the table sees a pair again only when its cache slot is taken by another
 * pair. An empty slot holds (0, 0, 0), so a hit needs no emptiness test: a run of (0, 0)
 * landing on an empty slot simply starts counting there.
 */
static inline size_t front_slot(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15u ^ b * 0xC2B2AE3D27D4EB4Fu;
    return (size_t)(h >> (64 - OVERLAP_FRONT_BITS));
}

/*
 * The spill buffer. Updates of a big table are cache misses; taken one at a time each waits
 * for memory. Counts bound for the table are queued, and a full queue is drained in two
 * passes: prefetch every target slot, then add - so the misses are in flight together.
 */
static enum error_code spill_drain(struct overlap_counter *c, struct error_info *err)
{
    const struct overlap_entry *q = c->spill;
    for (size_t k = 0; k < c->n_spill; k++)
        __builtin_prefetch(&c->slots[pair_slot(c, q[k].a, q[k].b)], 1);
    for (size_t k = 0; k < c->n_spill; k++) {
        enum error_code rc = table_add(c, q[k].a, q[k].b, q[k].count, err);
        if (rc != ERROR_OK)
            return rc;
    }
    c->n_spill = 0;
    return ERROR_OK;
}

static inline enum error_code spill_push(struct overlap_counter *c, uint64_t a, uint64_t b,
                                         uint64_t n, struct error_info *err)
{
    struct overlap_entry *q = &c->spill[c->n_spill++];
    q->a = a;
    q->b = b;
    q->count = n;
    return c->n_spill == OVERLAP_SPILL ? spill_drain(c, err) : ERROR_OK;
}

static inline enum error_code counter_push(struct overlap_counter *c, uint64_t a, uint64_t b,
                                           uint64_t n, struct error_info *err)
{
    struct overlap_entry *e = &c->front[front_slot(a, b)];
    if (e->a == a && e->b == b) {
        e->count += n;
        return ERROR_OK;
    }
    if (e->count != 0) {
        enum error_code rc = spill_push(c, e->a, e->b, e->count, err);
        if (rc != ERROR_OK)
            return rc;
    }
    e->a = a;
    e->b = b;
    e->count = n;
    return ERROR_OK;
}

/* Move every count of src's front cache and spill buffer into dst's table (dst may be src)
 * and empty them. */
static enum error_code counter_flush(struct overlap_counter *src, struct overlap_counter *dst,
                                     struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    for (size_t i = 0; i < src->n_spill && rc == ERROR_OK; i++)
        if (src != dst)
            rc = spill_push(dst, src->spill[i].a, src->spill[i].b, src->spill[i].count, err);
    if (src != dst)
        src->n_spill = 0;
    for (size_t i = 0; i < OVERLAP_FRONT_SLOTS && rc == ERROR_OK; i++) {
        struct overlap_entry *e = &src->front[i];
        if (e->count == 0)
            continue;
        rc = spill_push(dst, e->a, e->b, e->count, err);
        e->a = e->b = e->count = 0;
    }
    return rc == ERROR_OK ? spill_drain(dst, err) : rc;
}

/* ------------------------------------------------------------------------------------------
 * Counter lifetime
 */

/* The fixed part of a counter charged to its budget: front cache and spill buffer. */
#define OVERLAP_FIXED_BYTES                                                                        \
    ((uint64_t)(OVERLAP_FRONT_SLOTS + OVERLAP_SPILL) * sizeof(struct overlap_entry))

struct overlap_counter *overlap_counter_new_budget(uint64_t max_pairs,
                                                   struct overlap_budget *budget,
                                                   struct error_info *err)
{
    struct overlap_counter *c = alloc_zeroed(1, sizeof *c);
    if (c == NULL) {
        error_set(err, ERROR_NO_MEMORY, "cannot allocate an overlap counter");
        return NULL;
    }
    c->budget = budget;
    if (overlap_budget_take(budget, OVERLAP_FIXED_BYTES, "a counter's run cache", err) !=
        ERROR_OK) {
        free(c);
        return NULL;
    }
    if (table_alloc(c, OVERLAP_INITIAL_SLOTS, err) != ERROR_OK) {
        overlap_budget_give(budget, OVERLAP_FIXED_BYTES);
        free(c);
        return NULL;
    }
    c->front = alloc_zeroed(OVERLAP_FRONT_SLOTS, sizeof *c->front);
    c->spill = alloc_bytes(OVERLAP_SPILL * sizeof *c->spill);
    if (c->front == NULL || c->spill == NULL) {
        free(c->front);
        free(c->spill);
        error_set(err, ERROR_NO_MEMORY, "cannot allocate an overlap counter");
        table_release(c, c->slots, c->mask + 1);
        overlap_budget_give(budget, OVERLAP_FIXED_BYTES);
        free(c);
        return NULL;
    }
    c->seed = random_seed(c);
    c->max_pairs = max_pairs;
    return c;
}

struct overlap_counter *overlap_counter_new(uint64_t max_pairs, struct error_info *err)
{
    return overlap_counter_new_budget(max_pairs, NULL, err);
}

struct overlap_counter *overlap_counter_new_like(const struct overlap_counter *like,
                                                 struct error_info *err)
{
    return overlap_counter_new_budget(like->max_pairs, like->budget, err);
}

void overlap_counter_free(struct overlap_counter *counter)
{
    if (counter == NULL)
        return;
    table_release(counter, counter->slots, counter->mask + 1);
    overlap_budget_give(counter->budget, OVERLAP_FIXED_BYTES);
    free(counter->front);
    free(counter->spill);
    free(counter);
}

void overlap_counter_seek(struct overlap_counter *counter, uint64_t next_pixel)
{
    counter->index_base = next_pixel - counter->pixels; /* wraps, and wraps back when added */
}

uint64_t overlap_counter_max_pairs(const struct overlap_counter *counter)
{
    return counter->max_pairs;
}

uint64_t overlap_counter_pixels(const struct overlap_counter *counter)
{
    return counter->pixels;
}

uint64_t overlap_counter_pairs(const struct overlap_counter *counter)
{
    return counter->used;
}

/* ------------------------------------------------------------------------------------------
 * Run scans, one per dtype
 *
 * Finding where runs end one compare at a time is bound by the unpredictable branch at each
 * run end and by the dependency of each run's start on the previous run's end. Instead the
 * scan works in blocks of 64 pixels: a data-parallel pass sets bit k of a mask when pixel k
 * differs (in a or in b) from pixel k - 1 (overlap_scan.h: AVX2 or SSE2, scalar as the
 * reference), then the set bits are
 * walked with count-trailing-zeros, each closing one run. Signed and unsigned types of one
 * width share the mask code (equality does not care); the signed scans check each run's
 * values once. `first` is the pixel index of a[0] for error details.
 */

#define OVERLAP_BLOCK 64u

#include "overlap_scan.h"

static enum error_code negative_label(char image, long long value, uint64_t index,
                                      struct error_info *err)
{
    return error_set(err, ERROR_UNPROCESSABLE,
                     "label image %c has a negative label %lld at pixel %llu; labels must be "
                     ">= 0",
                     image, value, (unsigned long long)index);
}

#define OVERLAP_NEVER_NEGATIVE(v) false
#define OVERLAP_IS_NEGATIVE(v)    ((v) < 0)

/* Close the run [start, end) of a, b: check its values, push it. */
#define OVERLAP_EMIT(is_negative, start, end)                                                      \
    do {                                                                                           \
        if (is_negative(a[start]))                                                                 \
            return negative_label('a', (long long)a[start], first + (start), err);                 \
        if (is_negative(b[start]))                                                                 \
            return negative_label('b', (long long)b[start], first + (start), err);                 \
        enum error_code rc_ =                                                                      \
            counter_push(c, (uint64_t)a[start], (uint64_t)b[start], (end) - (start), err);         \
        if (rc_ != ERROR_OK)                                                                       \
            return rc_;                                                                            \
    } while (0)

#define OVERLAP_RUNS(name, type, utype, changes_64, changes_tail, is_negative)                     \
    OVERLAP_RUNS_ATTR(name, , type, utype, changes_64, changes_tail, is_negative)

#define OVERLAP_RUNS_ATTR(name, attr, type, utype, changes_64, changes_tail, is_negative)          \
    attr static enum error_code name(struct overlap_counter *c, const void *va, const void *vb,    \
                                     size_t n, uint64_t first, struct error_info *err)             \
    {                                                                                              \
        const type *a = va, *b = vb;                                                               \
        const utype *ua = va, *ub = vb;                                                            \
        size_t start = 0, i = 1;                                                                   \
        if (n == 0)                                                                                \
            return ERROR_OK;                                                                       \
        for (; i < n; i += OVERLAP_BLOCK) {                                                        \
            uint64_t m = n - i >= OVERLAP_BLOCK ? changes_64(ua + i, ub + i)                       \
                                                : changes_tail(ua + i, ub + i, n - i);             \
            for (; m != 0; m &= m - 1) {                                                           \
                size_t end = i + (size_t)__builtin_ctzll(m);                                       \
                OVERLAP_EMIT(is_negative, start, end);                                             \
                start = end;                                                                       \
            }                                                                                      \
        }                                                                                          \
        OVERLAP_EMIT(is_negative, start, n);                                                       \
        return ERROR_OK;                                                                           \
    }

OVERLAP_RUNS(runs_u8, uint8_t, uint8_t, changes_64_8, changes_tail_8, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(runs_u16, uint16_t, uint16_t, changes_64_16, changes_tail_16, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(runs_u32, uint32_t, uint32_t, changes_64_32, changes_tail_32, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(runs_u64, uint64_t, uint64_t, changes_64_64, changes_tail_64, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(runs_i8, int8_t, uint8_t, changes_64_8, changes_tail_8, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(runs_i16, int16_t, uint16_t, changes_64_16, changes_tail_16, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(runs_i32, int32_t, uint32_t, changes_64_32, changes_tail_32, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(runs_i64, int64_t, uint64_t, changes_64_64, changes_tail_64, OVERLAP_IS_NEGATIVE)

typedef enum error_code (*overlap_runs_fn)(struct overlap_counter *, const void *, const void *,
                                           size_t, uint64_t, struct error_info *);

OVERLAP_RUNS(scalar_u8, uint8_t, uint8_t, scalar_64_8, changes_tail_8, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(scalar_u16, uint16_t, uint16_t, scalar_64_16, changes_tail_16, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(scalar_u32, uint32_t, uint32_t, scalar_64_32, changes_tail_32, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(scalar_u64, uint64_t, uint64_t, scalar_64_64, changes_tail_64, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS(scalar_i8, int8_t, uint8_t, scalar_64_8, changes_tail_8, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(scalar_i16, int16_t, uint16_t, scalar_64_16, changes_tail_16, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(scalar_i32, int32_t, uint32_t, scalar_64_32, changes_tail_32, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS(scalar_i64, int64_t, uint64_t, scalar_64_64, changes_tail_64, OVERLAP_IS_NEGATIVE)

static const overlap_runs_fn runs_scalar[OVERLAP_DTYPE_COUNT] = {
    scalar_u8, scalar_u16, scalar_u32, scalar_u64, scalar_i8, scalar_i16, scalar_i32, scalar_i64};

/* SSE2 where the compiler targets it (every x86-64), else the scalar masks again. */
static const overlap_runs_fn runs_baseline[OVERLAP_DTYPE_COUNT] = {
    runs_u8, runs_u16, runs_u32, runs_u64, runs_i8, runs_i16, runs_i32, runs_i64};

#if defined(OVERLAP_HAVE_AVX2)
#define OVERLAP_RUNS_AVX2(name, type, utype, changes_64, changes_tail, is_negative)                \
    OVERLAP_RUNS_ATTR(name, OVERLAP_AVX2, type, utype, changes_64, changes_tail, is_negative)
OVERLAP_RUNS_AVX2(avx2_u8, uint8_t, uint8_t, avx2_64_8, changes_tail_8, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_u16, uint16_t, uint16_t, avx2_64_16, changes_tail_16, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_u32, uint32_t, uint32_t, avx2_64_32, changes_tail_32, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_u64, uint64_t, uint64_t, avx2_64_64, changes_tail_64, OVERLAP_NEVER_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_i8, int8_t, uint8_t, avx2_64_8, changes_tail_8, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_i16, int16_t, uint16_t, avx2_64_16, changes_tail_16, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_i32, int32_t, uint32_t, avx2_64_32, changes_tail_32, OVERLAP_IS_NEGATIVE)
OVERLAP_RUNS_AVX2(avx2_i64, int64_t, uint64_t, avx2_64_64, changes_tail_64, OVERLAP_IS_NEGATIVE)

static const overlap_runs_fn runs_avx2[OVERLAP_DTYPE_COUNT] = {
    avx2_u8, avx2_u16, avx2_u32, avx2_u64, avx2_i8, avx2_i16, avx2_i32, avx2_i64};
#endif

/* The scans in use, chosen once from the CPU (or by overlap_simd_select). */
static _Atomic(const overlap_runs_fn *) runs_chosen;

static bool simd_available(enum overlap_simd level)
{
    switch (level) {
    case OVERLAP_SIMD_SCALAR:
        return true;
    case OVERLAP_SIMD_BASELINE:
        return true;
    case OVERLAP_SIMD_AVX2:
#if defined(OVERLAP_HAVE_AVX2)
        return __builtin_cpu_supports("avx2") != 0;
#else
        return false;
#endif
    case OVERLAP_SIMD_AUTO:
        break;
    }
    return false;
}

static const overlap_runs_fn *simd_table(enum overlap_simd level)
{
#if defined(OVERLAP_HAVE_AVX2)
    if (level == OVERLAP_SIMD_AVX2)
        return runs_avx2;
#endif
    return level == OVERLAP_SIMD_SCALAR ? runs_scalar : runs_baseline;
}

bool overlap_simd_select(enum overlap_simd level)
{
    if (level == OVERLAP_SIMD_AUTO)
        level = simd_available(OVERLAP_SIMD_AVX2) ? OVERLAP_SIMD_AVX2 : OVERLAP_SIMD_BASELINE;
    if (!simd_available(level))
        return false;
    atomic_store(&runs_chosen, simd_table(level));
    return true;
}

static const overlap_runs_fn *runs_by_dtype(void)
{
    const overlap_runs_fn *t = atomic_load_explicit(&runs_chosen, memory_order_relaxed);
    if (t == NULL) { /* first use: any thread may get here, all store the same table */
        overlap_simd_select(OVERLAP_SIMD_AUTO);
        t = atomic_load(&runs_chosen);
    }
    return t;
}

/* Different dtypes: widen blocks to uint64 and scan those; rare, so simple. */
static enum error_code runs_mixed(struct overlap_counter *c, const void *a, enum overlap_dtype ta,
                                  const void *b, enum overlap_dtype tb, size_t n, uint64_t first,
                                  struct error_info *err)
{
    uint64_t wa[OVERLAP_WIDEN_BLOCK], wb[OVERLAP_WIDEN_BLOCK];
    for (size_t off = 0; off < n; off += OVERLAP_WIDEN_BLOCK) {
        size_t m = n - off < OVERLAP_WIDEN_BLOCK ? n - off : OVERLAP_WIDEN_BLOCK, bad = 0;
        if (!widen(a, ta, off, m, wa, &bad))
            return negative_label('a', (long long)element_signed(a, ta, bad), first + bad, err);
        if (!widen(b, tb, off, m, wb, &bad))
            return negative_label('b', (long long)element_signed(b, tb, bad), first + bad, err);
        enum error_code rc = runs_u64(c, wa, wb, m, first + off, err);
        if (rc != ERROR_OK)
            return rc;
    }
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Adding pixels: one thread, many threads, merging
 */

enum error_code overlap_counter_add(struct overlap_counter *counter, const void *a,
                                    enum overlap_dtype dtype_a, const void *b,
                                    enum overlap_dtype dtype_b, size_t n, struct error_info *err)
{
    if ((unsigned)dtype_a >= OVERLAP_DTYPE_COUNT || (unsigned)dtype_b >= OVERLAP_DTYPE_COUNT)
        return error_set(err, ERROR_INVALID, "unknown label dtype");
    if (n == 0)
        return ERROR_OK;
    uint64_t first = counter->index_base + counter->pixels;
    enum error_code rc;
    if (dtype_a == dtype_b)
        rc = runs_by_dtype()[dtype_a](counter, a, b, n, first, err);
    else
        rc = runs_mixed(counter, a, dtype_a, b, dtype_b, n, first, err);
    if (rc == ERROR_OK)
        counter->pixels += n;
    return rc;
}

enum error_code overlap_counter_merge(struct overlap_counter *dst, struct overlap_counter *src,
                                      struct error_info *err)
{
    enum error_code rc = table_reserve(dst, (uint64_t)dst->used + src->used, err);
    if (rc == ERROR_OK)
        rc = counter_flush(src, dst, err);
    for (size_t i = 0; i <= src->mask && rc == ERROR_OK; i++) {
        struct overlap_entry *e = &src->slots[i];
        if (e->count == 0)
            continue;
        rc = spill_push(dst, e->a, e->b, e->count, err);
        e->count = 0;
    }
    if (rc == ERROR_OK)
        rc = spill_drain(dst, err);
    if (rc != ERROR_OK)
        return rc;
    src->used = 0;
    dst->pixels += src->pixels;
    src->pixels = 0;
    return ERROR_OK;
}

/*
 * Parallel adding: the n pixels are cut into one contiguous piece per thread wanted, the items
 * of a parallel_run. The caller (worker 0) counts its pieces into `into`, every other worker
 * into a counter of its own, made on its first piece and kept in its scratch; done() merges
 * each such counter into `into` on the caller's thread. Each piece seeks its counter to the
 * piece's first pixel, so error details stay in pixel order whichever worker took it.
 */
struct overlap_add_job {
    struct overlap_counter *into;
    const void *a, *b;
    enum overlap_dtype dtype_a, dtype_b;
    size_t n, pieces;
    uint64_t base;      /* pixel index of a[0] */
    atomic_bool failed; /* a piece failed: done() only frees */
    enum error_code merge_rc;
    struct error_info merge_err;
};

static enum error_code overlap_add_piece(void *arg, size_t i, unsigned w, void *scratch,
                                         struct error_info *err)
{
    struct overlap_add_job *job = arg;
    struct overlap_counter **own = scratch;
    struct overlap_counter *c = w == 0 ? job->into : *own;
    if (c == NULL && (c = *own = overlap_counter_new_like(job->into, err)) == NULL) {
        atomic_store(&job->failed, true);
        return err != NULL ? err->code : ERROR_NO_MEMORY;
    }
    const size_t lo = job->n / job->pieces * i;
    const size_t hi = i + 1 == job->pieces ? job->n : job->n / job->pieces * (i + 1);
    overlap_counter_seek(c, job->base + lo);
    enum error_code rc = overlap_counter_add(
        c, (const char *)job->a + lo * overlap_dtype_size(job->dtype_a), job->dtype_a,
        (const char *)job->b + lo * overlap_dtype_size(job->dtype_b), job->dtype_b, hi - lo, err);
    if (rc != ERROR_OK)
        atomic_store(&job->failed, true);
    return rc;
}

static void overlap_add_done(void *arg, unsigned w, void *scratch)
{
    struct overlap_add_job *job = arg;
    struct overlap_counter *own = *(struct overlap_counter **)scratch;
    (void)w;
    if (own == NULL)
        return;
    if (!atomic_load(&job->failed) && job->merge_rc == ERROR_OK)
        job->merge_rc = overlap_counter_merge(job->into, own, &job->merge_err);
    overlap_counter_free(own);
}

enum error_code overlap_counter_add_parallel(struct overlap_counter *counter, const void *a,
                                             enum overlap_dtype dtype_a, const void *b,
                                             enum overlap_dtype dtype_b, size_t n, unsigned threads,
                                             struct error_info *err)
{
    if ((unsigned)dtype_a >= OVERLAP_DTYPE_COUNT || (unsigned)dtype_b >= OVERLAP_DTYPE_COUNT)
        return error_set(err, ERROR_INVALID, "unknown label dtype");
    size_t t = threads == 0 ? 1 : threads;
    if (t > n / OVERLAP_MIN_PER_THREAD)
        t = n / OVERLAP_MIN_PER_THREAD;
    if (t <= 1)
        return overlap_counter_add(counter, a, dtype_a, b, dtype_b, n, err);

    struct overlap_add_job job = {.into = counter,
                                  .a = a,
                                  .b = b,
                                  .dtype_a = dtype_a,
                                  .dtype_b = dtype_b,
                                  .n = n,
                                  .pieces = t,
                                  .base = counter->index_base + counter->pixels,
                                  .merge_rc = ERROR_OK};
    atomic_init(&job.failed, false);
    error_init(&job.merge_err);
    struct parallel_loop loop = {.n = t,
                                 .threads = (unsigned)t,
                                 .scratch = sizeof(struct overlap_counter *),
                                 .item = overlap_add_piece,
                                 .done = overlap_add_done,
                                 .arg = &job};
    enum error_code rc = parallel_run(&loop, NULL, err);
    if (rc != ERROR_OK)
        return rc;
    if (job.merge_rc != ERROR_OK) {
        if (err != NULL)
            *err = job.merge_err;
        return job.merge_rc;
    }
    overlap_counter_seek(counter, job.base + n); /* the next add continues after the n pixels */
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Sorting on two threads: each half of the packed pairs is radix-sorted on its own thread,
 * then one pass merges the halves (pairs are distinct, so no key appears in both).
 */

#define OVERLAP_PARALLEL_SORT_MIN ((size_t)1 << 16)

/* Sort pairs[0..n): the halves' scratch and then the merged output is the table's tail
 * (slots - n entries) when it holds n entries, and *sorted points there; else n + 1 fresh
 * entries (charged), the merge is copied back to pairs and freed before returning. */
static enum error_code sort_two_halves(struct overlap_counter *c, struct overlap_entry *pairs,
                                       size_t slots, size_t n, const struct overlap_entry **sorted,
                                       struct error_info *err)
{
    struct overlap_entry *space = pairs + n, *fresh = NULL;
    const uint64_t bytes = (uint64_t)(n + 1) * sizeof *space;
    if (slots - n < n) {
        enum error_code rc = overlap_budget_take(c->budget, bytes, "sorting the pairs", err);
        if (rc != ERROR_OK)
            return rc;
        if ((space = fresh = alloc_large((size_t)bytes)) == NULL) {
            overlap_budget_give(c->budget, bytes);
            return error_set(err, ERROR_NO_MEMORY, "cannot allocate sort space for %zu pairs", n);
        }
    }
    overlap_sort_entries_two(pairs, space, n);
    *sorted = space;
    if (fresh != NULL) {
        memcpy(pairs, fresh, n * sizeof *pairs);
        free(fresh);
        overlap_budget_give(c->budget, bytes);
        *sorted = pairs;
    }
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Finishing
 *
 * The counter's table becomes the pair array: occupied slots are packed to its front in place
 * (no copy of the pairs in fresh memory) and the counter gets a new empty table first, so a
 * failure never leaves it half-built.
 */
/* The result's columns, label areas and matching scratch, charged while they are built. */
static enum error_code build_charged(struct overlap_counter *c, const struct overlap_entry *pairs,
                                     size_t n, const struct overlap_options *options,
                                     struct overlap_result *result, struct error_info *err)
{
    const uint64_t bytes = OVERLAP_BUILD_BYTES_PER_PAIR * (uint64_t)n + OVERLAP_BUILD_FIXED;
    enum error_code rc = overlap_budget_take(c->budget, bytes, "the answer's columns", err);
    if (rc != ERROR_OK)
        return rc;
    rc = overlap_result_build(pairs, n, options, result, err);
    overlap_budget_give(c->budget, bytes);
    return rc;
}

enum error_code overlap_counter_finish(struct overlap_counter *counter,
                                       const struct overlap_options *options,
                                       struct overlap_result *result, struct error_info *err)
{
    memset(result, 0, sizeof *result);
    enum error_code rc = ERROR_OK;
    struct overlap_entry *tmp = NULL;
    rc = counter_flush(counter, counter, err);
    if (rc != ERROR_OK)
        return rc;

    /* Take the table, leave the counter empty. */
    const size_t n = counter->used, slots = counter->mask + 1;
    const uint64_t pixels = counter->pixels;
    struct overlap_entry *pairs = counter->slots;
    rc = table_alloc(counter, OVERLAP_INITIAL_SLOTS, err);
    if (rc != ERROR_OK) {
        counter->slots = pairs; /* table_alloc touched nothing else on failure */
        return rc;
    }
    counter->pixels = 0;
    size_t k = 0;
    for (size_t i = 0; i < slots; i++)
        if (pairs[i].count != 0)
            pairs[k++] = pairs[i];

    if (options->threads >= 2 && n >= OVERLAP_PARALLEL_SORT_MIN) {
        const struct overlap_entry *sorted = NULL;
        rc = sort_two_halves(counter, pairs, slots, n, &sorted, err);
        if (rc == ERROR_OK)
            rc = build_charged(counter, sorted, n, options, result, err);
        if (rc == ERROR_OK)
            result->pixels = pixels;
        goto out;
    }
    /* Sort in the table's free tail when it is long enough, else in fresh memory. */
    if (slots >= 2 * n + 1) {
        overlap_sort_entries(pairs, pairs + n, n);
    } else {
        const uint64_t tmp_bytes = (uint64_t)(n + 1) * sizeof *tmp;
        if ((rc = overlap_budget_take(counter->budget, tmp_bytes, "sorting the pairs", err)) !=
            ERROR_OK)
            goto out;
        tmp = alloc_large((n + 1) * sizeof *tmp);
        const bool sorted = tmp != NULL;
        if (sorted)
            overlap_sort_entries(pairs, tmp, n);
        free(tmp);
        overlap_budget_give(counter->budget, tmp_bytes);
        if (!sorted) {
            rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate sort space for %zu pairs", n);
            goto out;
        }
    }
    rc = build_charged(counter, pairs, n, options, result, err);
    if (rc == ERROR_OK)
        result->pixels = pixels;
out:
    table_release(counter, pairs, slots);
    return rc;
}
