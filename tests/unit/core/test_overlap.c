/*
 * test_overlap.c - core/overlap.c against a naive reference: pairs counted by sorting every
 * pixel's (a, b), areas and IoU by direct sums (matching is core/evaluate's, tested in
 * test_assign*.c and diff_evaluate.py). Random and coherent labels in every dtype, mixed
 * dtypes, random chunkings, threads, huge label values, empty and tiny images, the pair cap
 * and negative labels.
 */
#include "check.h"
#include "overlap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CHECK_INT evaluates its argument twice; calls with effects go through this. */
#define CHECK_CODE(expr, want)                                                                     \
    do {                                                                                           \
        enum error_code check_rc_ = (expr);                                                        \
        CHECK_INT(check_rc_, want);                                                                \
    } while (0)

/* ------------------------------------------------------------------------------------------
 * Deterministic random numbers: testlib's splitmix64 (check_rng_*), seeded here
 */

static uint64_t rng_state = 0x1234567u;

/* ------------------------------------------------------------------------------------------
 * The naive reference
 */

struct ref_pair {
    uint64_t a, b, count;
};

struct ref_result {
    size_t n;
    struct ref_pair *pairs;
    uint64_t labels_a, labels_b;
};

static int cmp_pair(const void *x, const void *y)
{
    const struct ref_pair *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
    return p < q ? -1 : p > q;
}

static uint64_t ref_distinct_nonzero(const uint64_t *v, size_t n)
{
    uint64_t *s = malloc((n + 1) * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += s[i] != 0 && (i == 0 || s[i] != s[i - 1]);
    free(s);
    return d;
}

static void ref_count(const uint64_t *a, const uint64_t *b, size_t n, struct ref_result *r)
{
    struct ref_pair *all = malloc((n + 1) * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        all[i].a = a[i];
        all[i].b = b[i];
        all[i].count = 1;
    }
    qsort(all, n, sizeof *all, cmp_pair);
    r->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->n > 0 && all[r->n - 1].a == all[i].a && all[r->n - 1].b == all[i].b)
            all[r->n - 1].count++;
        else
            all[r->n++] = all[i];
    }
    r->pairs = all;
    r->labels_a = ref_distinct_nonzero(a, n);
    r->labels_b = ref_distinct_nonzero(b, n);
}

static uint64_t ref_area(const uint64_t *v, size_t n, uint64_t label)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i] == label;
    return s;
}

/* ------------------------------------------------------------------------------------------
 * Typed label arrays
 */

static void store(void *p, enum overlap_dtype t, size_t i, uint64_t v)
{
    switch (t) {
    case OVERLAP_U8:
    case OVERLAP_I8:
        ((uint8_t *)p)[i] = (uint8_t)v;
        break;
    case OVERLAP_U16:
    case OVERLAP_I16:
        ((uint16_t *)p)[i] = (uint16_t)v;
        break;
    case OVERLAP_U32:
    case OVERLAP_I32:
        ((uint32_t *)p)[i] = (uint32_t)v;
        break;
    default:
        ((uint64_t *)p)[i] = v;
        break;
    }
}

/* Largest valid label of a dtype. */
static uint64_t dtype_max(enum overlap_dtype t)
{
    switch (t) {
    case OVERLAP_U8:
        return UINT8_MAX;
    case OVERLAP_U16:
        return UINT16_MAX;
    case OVERLAP_U32:
        return UINT32_MAX;
    case OVERLAP_U64:
        return UINT64_MAX;
    case OVERLAP_I8:
        return INT8_MAX;
    case OVERLAP_I16:
        return INT16_MAX;
    case OVERLAP_I32:
        return INT32_MAX;
    default:
        return INT64_MAX;
    }
}

/* Random label: small values (many repeats), the dtype's extremes, or anything valid. */
static uint64_t random_label(enum overlap_dtype t, unsigned mode)
{
    uint64_t max = dtype_max(t);
    switch (mode) {
    case 0:
        return check_rng_below64(&rng_state, 5);
    case 1:
        return check_rng_below64(&rng_state, 3) == 0 ? 0 : max - check_rng_below64(&rng_state, 3);
    default:
        return max == UINT64_MAX ? check_rng_next(&rng_state)
                                 : check_rng_below64(&rng_state, max + 1);
    }
}

/* Fill a and b (n labels each); coherent = runs of random length, shared between a and b
 * only sometimes, like two segmentations of the same cells. */
static void fill_labels(uint64_t *a, uint64_t *b, size_t n, enum overlap_dtype ta,
                        enum overlap_dtype tb, unsigned mode, bool coherent)
{
    uint64_t va = 0, vb = 0;
    for (size_t i = 0; i < n; i++) {
        if (!coherent || check_rng_below64(&rng_state, 12) == 0)
            va = random_label(ta, mode);
        if (!coherent || check_rng_below64(&rng_state, 9) == 0)
            vb = random_label(tb, mode);
        a[i] = va;
        b[i] = vb;
    }
}

/* ------------------------------------------------------------------------------------------
 * Compare one counter result with the reference
 */

static bool same_as_reference(const struct overlap_result *res, const struct ref_result *ref,
                              const uint64_t *a, const uint64_t *b, size_t n, bool background)
{
    bool ok = true;
    size_t k = 0;
    for (size_t i = 0; i < ref->n; i++) {
        const struct ref_pair *p = &ref->pairs[i];
        if (!background && (p->a == 0 || p->b == 0))
            continue;
        if (k >= res->n_pairs || res->a[k] != p->a || res->b[k] != p->b ||
            res->count[k] != p->count) {
            ok = false;
            break;
        }
        k++;
    }
    ok = ok && k == res->n_pairs;
    ok = ok && res->labels_a == ref->labels_a && res->labels_b == ref->labels_b;
    ok = ok && res->pixels == n;
    /* Areas: spot-check against direct sums (every label when small). */
    for (size_t i = 0; ok && i < res->areas_a.n; i += 1 + res->areas_a.n / 50)
        ok = res->areas_a.area[i] == ref_area(a, n, res->areas_a.label[i]);
    for (size_t i = 0; ok && i < res->areas_b.n; i += 1 + res->areas_b.n / 50)
        ok = res->areas_b.area[i] == ref_area(b, n, res->areas_b.label[i]);
    if (res->iou != NULL) {
        for (size_t i = 0; ok && i < res->n_pairs; i += 1 + res->n_pairs / 50) {
            uint64_t sa = ref_area(a, n, res->a[i]), sb = ref_area(b, n, res->b[i]);
            double want = (double)res->count[i] / (double)(sa + sb - res->count[i]);
            ok = res->iou[i] == want;
        }
    }
    return ok;
}

/* Count with the given chunking and threads; returns the finished result. */
static enum error_code count_chunked(const void *a, enum overlap_dtype ta, const void *b,
                                     enum overlap_dtype tb, size_t n, size_t chunk,
                                     unsigned threads, const struct overlap_options *opt,
                                     struct overlap_result *res, struct error_info *err)
{
    struct overlap_counter *c = overlap_counter_new(0, err);
    if (c == NULL)
        return ERROR_NO_MEMORY;
    enum error_code rc = ERROR_OK;
    size_t sa = overlap_dtype_size(ta), sb = overlap_dtype_size(tb);
    for (size_t off = 0; off < n && rc == ERROR_OK; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        if (threads > 1)
            rc = overlap_counter_add_parallel(c, (const char *)a + off * sa, ta,
                                              (const char *)b + off * sb, tb, m, threads, err);
        else
            rc = overlap_counter_add(c, (const char *)a + off * sa, ta, (const char *)b + off * sb,
                                     tb, m, err);
    }
    if (rc == ERROR_OK)
        rc = overlap_counter_finish(c, opt, res, err);
    overlap_counter_free(c);
    return rc;
}

static void check_case(enum overlap_dtype ta, enum overlap_dtype tb, size_t n, unsigned mode,
                       bool coherent, unsigned threads)
{
    uint64_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    void *ta_buf = malloc((n + 1) * 8), *tb_buf = malloc((n + 1) * 8);
    fill_labels(a, b, n, ta, tb, mode, coherent);
    for (size_t i = 0; i < n; i++) {
        store(ta_buf, ta, i, a[i]);
        store(tb_buf, tb, i, b[i]);
    }
    struct ref_result ref;
    ref_count(a, b, n, &ref);
    for (unsigned variant = 0; variant < 2; variant++) {
        bool background = variant == 0;
        struct overlap_options opt = {.include_background = background, .iou = true};
        size_t chunk = variant == 0 ? n + 1 : 1 + (size_t)check_rng_below64(&rng_state, n / 3 + 2);
        struct overlap_result res;
        struct error_info err;
        error_init(&err);
        enum error_code rc =
            count_chunked(ta_buf, ta, tb_buf, tb, n, chunk, threads, &opt, &res, &err);
        if (!CHECK_INT(rc, ERROR_OK))
            fprintf(stderr, "    %s\n", err.detail);
        if (!CHECK(rc == ERROR_OK && same_as_reference(&res, &ref, a, b, n, background)))
            fprintf(stderr, "    case %s/%s n=%zu mode=%u coherent=%d threads=%u chunk=%zu\n",
                    overlap_dtype_name(ta), overlap_dtype_name(tb), n, mode, coherent, threads,
                    chunk);
        overlap_result_cleanup(&res);
    }
    free(ref.pairs);
    free(a);
    free(b);
    free(ta_buf);
    free(tb_buf);
}

static void test_random_all_dtypes(void)
{
    static const size_t sizes[] = {0, 1, 2, 7, 100, 3001};
    for (unsigned ta = 0; ta < OVERLAP_DTYPE_COUNT; ta++)
        for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (unsigned mode = 0; mode < 3; mode++)
                for (unsigned coherent = 0; coherent < 2; coherent++)
                    check_case((enum overlap_dtype)ta, (enum overlap_dtype)ta, sizes[s], mode,
                               coherent, 1);
}

static void test_mixed_dtypes(void)
{
    for (unsigned ta = 0; ta < OVERLAP_DTYPE_COUNT; ta++)
        for (unsigned tb = 0; tb < OVERLAP_DTYPE_COUNT; tb++)
            for (unsigned mode = 0; mode < 3; mode++)
                check_case((enum overlap_dtype)ta, (enum overlap_dtype)tb, 5000, mode, mode != 1,
                           1);
}

static void test_threads(void)
{
    static const unsigned threads[] = {2, 3, 7};
    for (unsigned i = 0; i < 3; i++) {
        check_case(OVERLAP_U32, OVERLAP_U32, 1u << 20, 2, true, threads[i]);
        check_case(OVERLAP_U16, OVERLAP_U16, (1u << 19) + 17, 0, false, threads[i]);
        check_case(OVERLAP_I64, OVERLAP_U8, (1u << 19) + 5, 2, true, threads[i]);
    }
}

/* ------------------------------------------------------------------------------------------
 * Edge cases
 */

static void test_huge_labels(void)
{
    /* 2^32 - 1, 2^63, 2^64 - 1 next to small labels, through u64 and (where they fit) i64/u32. */
    const uint64_t big[] = {UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX, 0, 1};
    uint64_t a[64], b[64];
    for (size_t i = 0; i < 64; i++) {
        a[i] = big[i % 5];
        b[i] = big[(i / 3) % 5];
    }
    struct ref_result ref;
    ref_count(a, b, 64, &ref);
    struct overlap_options opt = {.include_background = true, .iou = true};
    struct overlap_result res;
    struct error_info err;
    CHECK_CODE(count_chunked(a, OVERLAP_U64, b, OVERLAP_U64, 64, 5, 1, &opt, &res, &err), ERROR_OK);
    CHECK(same_as_reference(&res, &ref, a, b, 64, true));
    CHECK(res.areas_a.n == 5 && res.areas_a.label[4] == UINT64_MAX);
    CHECK(res.labels_a == 4 && res.labels_b == 4);
    overlap_result_cleanup(&res);
    free(ref.pairs);

    uint32_t a32[3] = {UINT32_MAX, UINT32_MAX, 0}, b32[3] = {UINT32_MAX, 0, 0};
    CHECK_CODE(count_chunked(a32, OVERLAP_U32, b32, OVERLAP_U32, 3, 3, 1, &opt, &res, &err),
               ERROR_OK);
    CHECK(res.n_pairs == 3 && res.a[2] == UINT32_MAX && res.b[2] == UINT32_MAX);
    CHECK(res.count[0] == 1 && res.iou[2] == 0.5);
    overlap_result_cleanup(&res);

    int64_t a64[2] = {INT64_MAX, INT64_MAX}, b64[2] = {0, INT64_MAX};
    CHECK_CODE(count_chunked(a64, OVERLAP_I64, b64, OVERLAP_I64, 2, 2, 1, &opt, &res, &err),
               ERROR_OK);
    CHECK(res.n_pairs == 2 && res.a[0] == (uint64_t)INT64_MAX && res.b[1] == (uint64_t)INT64_MAX);
    overlap_result_cleanup(&res);
}

static void test_background_and_tiny(void)
{
    struct overlap_result res;
    struct error_info err;
    uint16_t zeros[1000] = {0};
    struct overlap_options keep = {.include_background = true, .iou = true};
    struct overlap_options drop = {.include_background = false, .iou = true};
    CHECK_CODE(
        count_chunked(zeros, OVERLAP_U16, zeros, OVERLAP_U16, 1000, 1000, 1, &keep, &res, &err),
        ERROR_OK);
    CHECK(res.n_pairs == 1 && res.a[0] == 0 && res.b[0] == 0 && res.count[0] == 1000);
    CHECK(res.labels_a == 0 && res.labels_b == 0 && res.iou[0] == 1.0);
    overlap_result_cleanup(&res);
    CHECK_CODE(count_chunked(zeros, OVERLAP_U16, zeros, OVERLAP_U16, 1000, 7, 1, &drop, &res, &err),
               ERROR_OK);
    CHECK(res.n_pairs == 0 && res.areas_a.n == 1 && res.areas_a.area[0] == 1000);
    overlap_result_cleanup(&res);

    /* Nothing at all: an empty result, not an error. */
    struct overlap_counter *c = overlap_counter_new(10, &err);
    CHECK(c != NULL);
    CHECK_CODE(overlap_counter_add(c, zeros, OVERLAP_U16, zeros, OVERLAP_U16, 0, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_finish(c, &keep, &res, &err), ERROR_OK);
    CHECK(res.n_pairs == 0 && res.pixels == 0 && res.areas_a.n == 0);
    overlap_result_cleanup(&res);
    overlap_counter_free(c);

    /* 1x1. */
    uint8_t one_a = 3, one_b = 9;
    CHECK_CODE(count_chunked(&one_a, OVERLAP_U8, &one_b, OVERLAP_U8, 1, 1, 1, &keep, &res, &err),
               ERROR_OK);
    CHECK(res.n_pairs == 1 && res.a[0] == 3 && res.b[0] == 9 && res.iou[0] == 1.0);
    overlap_result_cleanup(&res);
}

static void test_many_pairs_and_cap(void)
{
    const size_t n = 1000000;
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint32_t)(i / 3 + 1);
        b[i] = (uint32_t)(i % 7 + 7 * (i / 21));
    }
    /* Distinct pairs: count them with the counter itself, then check against a cap at and
     * just below that number; the reference check runs on the same data via check_case-like
     * logic below. */
    struct error_info err;
    struct overlap_options opt = {.include_background = true};
    struct overlap_result res;
    CHECK_CODE(count_chunked(a, OVERLAP_U32, b, OVERLAP_U32, n, n, 2, &opt, &res, &err), ERROR_OK);
    uint64_t *a64 = malloc(n * sizeof *a64), *b64 = malloc(n * sizeof *b64);
    for (size_t i = 0; i < n; i++) {
        a64[i] = a[i];
        b64[i] = b[i];
    }
    struct ref_result ref;
    ref_count(a64, b64, n, &ref);
    CHECK(ref.n > 500000);
    CHECK(same_as_reference(&res, &ref, a64, b64, n, true));
    size_t distinct = res.n_pairs;
    overlap_result_cleanup(&res);
    /* Finishing on two threads (halves sorted apart, then merged) gives the same table. */
    struct overlap_options opt2 = {.include_background = true, .iou = true, .threads = 2};
    CHECK_CODE(count_chunked(a, OVERLAP_U32, b, OVERLAP_U32, n, n / 3, 2, &opt2, &res, &err),
               ERROR_OK);
    CHECK(same_as_reference(&res, &ref, a64, b64, n, true));
    overlap_result_cleanup(&res);
    /* 80,000 pairs fill a 2^17-slot table past half: the merge goes to fresh memory. */
    {
        const size_t m = 80000;
        uint64_t *ua = malloc(m * sizeof *ua), *ub = malloc(m * sizeof *ub);
        for (size_t i = 0; i < m; i++) {
            ua[i] = (m - i) * 7919 % 1000003;
            ub[i] = i % 3;
        }
        struct ref_result ref2;
        ref_count(ua, ub, m, &ref2);
        CHECK_CODE(count_chunked(ua, OVERLAP_U64, ub, OVERLAP_U64, m, m, 1, &opt2, &res, &err),
                   ERROR_OK);
        CHECK(res.n_pairs == m && same_as_reference(&res, &ref2, ua, ub, m, true));
        overlap_result_cleanup(&res);
        free(ref2.pairs);
        free(ua);
        free(ub);
    }

    struct overlap_counter *c = overlap_counter_new(distinct, &err);
    CHECK_CODE(overlap_counter_add(c, a, OVERLAP_U32, b, OVERLAP_U32, n, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_finish(c, &opt, &res, &err), ERROR_OK);
    CHECK(res.n_pairs == distinct);
    overlap_result_cleanup(&res);
    overlap_counter_free(c);

    c = overlap_counter_new(distinct - 1, &err);
    enum error_code rc = overlap_counter_add(c, a, OVERLAP_U32, b, OVERLAP_U32, n, &err);
    if (rc == ERROR_OK)
        rc = overlap_counter_finish(c, &opt, &res, &err);
    CHECK_INT(rc, ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "max_pairs") != NULL);
    overlap_counter_free(c);

    /* The cap also holds through the threaded path. */
    c = overlap_counter_new(1000, &err);
    rc = overlap_counter_add_parallel(c, a, OVERLAP_U32, b, OVERLAP_U32, n, 2, &err);
    CHECK_INT(rc, ERROR_TOO_LARGE);
    overlap_counter_free(c);

    /* The memory budget, shared by the threads: generous enough, the same answer and a peak
     * within it, every byte given back when the counter is freed; too small, a 413-class
     * refusal naming the limit, on one thread and on two. */
    struct overlap_budget budget;
    overlap_budget_init(&budget, (uint64_t)256 << 20);
    c = overlap_counter_new_budget(0, &budget, &err);
    CHECK(c != NULL);
    CHECK_CODE(overlap_counter_add_parallel(c, a, OVERLAP_U32, b, OVERLAP_U32, n, 2, &err),
               ERROR_OK);
    CHECK_CODE(overlap_counter_finish(c, &opt2, &res, &err), ERROR_OK);
    CHECK(res.n_pairs == distinct);
    /* the table alone is >= 32 bytes a pair, the result build 128 */
    CHECK(overlap_budget_peak(&budget) >= (uint64_t)distinct * 160);
    CHECK(overlap_budget_peak(&budget) <= (uint64_t)256 << 20);
    overlap_result_cleanup(&res);
    overlap_counter_free(c);
    CHECK(atomic_load(&budget.used) == 0);
    for (unsigned threads = 1; threads <= 2; threads++) {
        overlap_budget_init(&budget, (uint64_t)16 << 20);
        c = overlap_counter_new_budget(0, &budget, &err);
        rc = overlap_counter_add_parallel(c, a, OVERLAP_U32, b, OVERLAP_U32, n, threads, &err);
        if (rc == ERROR_OK)
            rc = overlap_counter_finish(c, &opt, &res, &err);
        CHECK_INT(rc, ERROR_TOO_LARGE);
        CHECK(strstr(err.detail, "max_request_memory") != NULL);
        CHECK(strstr(err.detail, "16777216") != NULL);
        CHECK(overlap_budget_peak(&budget) <= (uint64_t)16 << 20);
        overlap_counter_free(c);
        CHECK(atomic_load(&budget.used) == 0);
    }

    free(ref.pairs);
    free(a64);
    free(b64);
    free(a);
    free(b);
}

static void test_negative_labels(void)
{
    struct error_info err;
    struct overlap_result res;
    struct overlap_options opt = {.include_background = true};
    int8_t a8[5] = {1, 1, 2, -3, 0}, b8[5] = {0, 0, 0, 0, 0};
    CHECK_CODE(count_chunked(a8, OVERLAP_I8, b8, OVERLAP_I8, 5, 5, 1, &opt, &res, &err),
               ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "-3") != NULL && strstr(err.detail, "image a") != NULL);
    CHECK(strstr(err.detail, "pixel 3") != NULL);

    int16_t a16[4] = {1, 1, 1, 1}, b16[4] = {0, 0, -32768, 0};
    CHECK_CODE(count_chunked(a16, OVERLAP_I16, b16, OVERLAP_I16, 4, 4, 1, &opt, &res, &err),
               ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "-32768") != NULL && strstr(err.detail, "image b") != NULL);

    int32_t minus_one[2] = {0, -1}, zero32[2] = {0, 0};
    CHECK_CODE(
        count_chunked(minus_one, OVERLAP_I32, zero32, OVERLAP_I32, 2, 2, 1, &opt, &res, &err),
        ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "label -1 at pixel 1") != NULL);

    int32_t a32[3] = {5, -1, 5};
    uint8_t b_u8[3] = {1, 2, 3};
    CHECK_CODE(count_chunked(a32, OVERLAP_I32, b_u8, OVERLAP_U8, 3, 3, 1, &opt, &res, &err),
               ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "-1") != NULL);

    /* Global pixel index across chunks and threads. */
    const size_t n = 1u << 20;
    int64_t *big = calloc(n, sizeof *big);
    big[n - 10] = INT64_MIN;
    CHECK_CODE(count_chunked(big, OVERLAP_I64, big, OVERLAP_I64, n, n / 4 + 1, 2, &opt, &res, &err),
               ERROR_UNPROCESSABLE);
    char want[64];
    snprintf(want, sizeof want, "pixel %zu", n - 10);
    CHECK(strstr(err.detail, want) != NULL && strstr(err.detail, "-9223372036854775808") != NULL);
    free(big);

    CHECK_CODE(count_chunked(a8, (enum overlap_dtype)99, b8, OVERLAP_I8, 5, 5, 1, &opt, &res, &err),
               ERROR_INVALID);
}

static void test_merge(void)
{
    struct error_info err;
    struct overlap_counter *x = overlap_counter_new(0, &err), *y = overlap_counter_new(0, &err);
    uint16_t a[6] = {1, 1, 2, 2, 3, 3}, b[6] = {4, 4, 4, 5, 5, 5};
    CHECK_CODE(overlap_counter_add(x, a, OVERLAP_U16, b, OVERLAP_U16, 3, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_add(y, a + 3, OVERLAP_U16, b + 3, OVERLAP_U16, 3, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_add(y, a, OVERLAP_U16, b, OVERLAP_U16, 1, &err), ERROR_OK);
    CHECK_CODE(overlap_counter_merge(x, y, &err), ERROR_OK);
    CHECK(overlap_counter_pixels(x) == 7 && overlap_counter_pixels(y) == 0);
    struct overlap_options opt = {.include_background = true};
    struct overlap_result res;
    CHECK_CODE(overlap_counter_finish(x, &opt, &res, &err), ERROR_OK);
    CHECK(res.n_pairs == 4);
    CHECK(res.a[0] == 1 && res.b[0] == 4 && res.count[0] == 3);
    CHECK(res.a[1] == 2 && res.b[1] == 4 && res.count[1] == 1);
    CHECK(res.a[2] == 2 && res.b[2] == 5 && res.count[2] == 1);
    CHECK(res.a[3] == 3 && res.b[3] == 5 && res.count[3] == 2);
    overlap_result_cleanup(&res);
    /* y was emptied and is reusable. */
    CHECK_CODE(overlap_counter_finish(y, &opt, &res, &err), ERROR_OK);
    CHECK(res.n_pairs == 0);
    overlap_result_cleanup(&res);
    overlap_counter_free(x);
    overlap_counter_free(y);
}

/* The run scans of every level this CPU has give the reference counts and details. */
static void test_simd_levels(void)
{
    static const enum overlap_simd levels[] = {OVERLAP_SIMD_SCALAR, OVERLAP_SIMD_BASELINE,
                                               OVERLAP_SIMD_AVX2};
    static const char *const names[] = {"scalar", "baseline", "avx2"};
    CHECK(overlap_simd_select(OVERLAP_SIMD_SCALAR) && overlap_simd_select(OVERLAP_SIMD_BASELINE));
    for (unsigned i = 0; i < 3; i++) {
        if (!overlap_simd_select(levels[i])) {
            printf("run scan %s: not on this CPU\n", names[i]);
            continue;
        }
        printf("run scan %s\n", names[i]);
        test_random_all_dtypes();
        test_huge_labels();
        test_negative_labels();
    }
    CHECK(overlap_simd_select(OVERLAP_SIMD_AUTO));
}

int main(void)
{
    test_simd_levels();
    test_mixed_dtypes();
    test_threads();
    test_huge_labels();
    test_background_and_tiny();
    test_many_pairs_and_cap();
    test_negative_labels();
    test_merge();
    return check_finish("overlap");
}
