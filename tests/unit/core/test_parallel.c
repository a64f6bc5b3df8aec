/*
 * test_parallel.c - core/parallel.c: parallel_for calls every index exactly once, for any
 * thread count (including more threads than items, and none), and the calls really overlap;
 * parallel_run reports the lowest failing item whatever the timing, skips untaken items once
 * one fails, gives each worker its own zeroed scratch, calls done once per worker, honours
 * the deadline; the budget bounds the helper threads (0: everything on the caller, with the
 * same results), helper threads run inline when no slot is free, and the live count returns
 * to 0.
 */
#include "check.h"
#include "clock.h"
#include "parallel.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 0x9A11E1;

/* ------------------------------------------------------------------------------------------
 * parallel_for
 */

struct counts {
    atomic_uint *hits;
    atomic_uint running, max_running;
};

static void count_one(void *arg, size_t i)
{
    struct counts *c = arg;
    unsigned now = atomic_fetch_add(&c->running, 1) + 1;
    unsigned seen = atomic_load(&c->max_running);
    while (now > seen && !atomic_compare_exchange_weak(&c->max_running, &seen, now))
        ;
    atomic_fetch_add(&c->hits[i], 1);
    if (i < 4)
        usleep(20000); /* long enough for the other threads to overlap */
    atomic_fetch_sub(&c->running, 1);
}

static void run(size_t n, unsigned threads)
{
    struct counts c = {.hits = calloc(n ? n : 1, sizeof(atomic_uint))};
    atomic_init(&c.running, 0);
    atomic_init(&c.max_running, 0);
    parallel_for(n, threads, count_one, &c);
    unsigned wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += atomic_load(&c.hits[i]) != 1;
    CHECK_INT(wrong, 0);
    CHECK_INT(atomic_load(&c.running), 0);
    if (threads >= 2 && n >= 4)
        CHECK(atomic_load(&c.max_running) >= 2);
    if (threads <= 1)
        CHECK(atomic_load(&c.max_running) <= 1);
    free(c.hits);
}

static void test_for(void)
{
    run(0, 4);
    run(1, 4);
    run(3, 8);
    run(1000, 1);
    run(1000, 0);
    run(10000, 4);
    run(100, 1000); /* clamped */
}

/* ------------------------------------------------------------------------------------------
 * parallel_run: errors, stop, scratch, done
 */

struct failing {
    size_t n;
    size_t fail[3];        /* items that fail (SIZE_MAX = unused) */
    unsigned delay_us[3];  /* how long each failing item works before failing */
    unsigned item_us;      /* how long every other item works */
    atomic_uint *ran;      /* per item: times run */
    atomic_uint ran_total; /* items run */
};

static enum error_code failing_item(void *arg, size_t i, unsigned w, void *scratch,
                                    struct error_info *err)
{
    (void)w;
    (void)scratch;
    struct failing *f = arg;
    atomic_fetch_add(&f->ran[i], 1);
    atomic_fetch_add(&f->ran_total, 1);
    for (unsigned k = 0; k < 3; k++) {
        if (f->fail[k] == i) {
            if (f->delay_us[k] > 0)
                usleep(f->delay_us[k]);
            return error_set(err, k == 0 ? ERROR_UNPROCESSABLE : ERROR_IO, "item %zu failed", i);
        }
    }
    if (f->item_us > 0)
        usleep(f->item_us);
    return ERROR_OK;
}

static enum error_code run_failing(struct failing *f, unsigned threads, unsigned *workers,
                                   struct error_info *err)
{
    f->ran = calloc(f->n, sizeof *f->ran);
    atomic_init(&f->ran_total, 0);
    struct parallel_loop loop = {.n = f->n, .threads = threads, .item = failing_item, .arg = f};
    error_init(err);
    return parallel_run(&loop, workers, err);
}

static void test_lowest_failure_wins(void)
{
    /* The lower failing item is slow, the higher one fails at once: the lower one still
     * decides, and every item below it ran exactly once. */
    for (unsigned round = 0; round < 20; round++) {
        struct failing f = {.n = 64,
                            .fail = {3, 7 + check_rng_below(&rng, 40), SIZE_MAX},
                            .delay_us = {5000 + check_rng_below(&rng, 20000), 0, 0},
                            .item_us = check_rng_below(&rng, 300)};
        if (round % 2 == 1) { /* and the other way round */
            f.delay_us[0] = 0;
            f.delay_us[1] = 5000 + check_rng_below(&rng, 20000);
        }
        struct error_info err;
        unsigned workers = 0;
        unsigned threads = 1 + round % 6;
        CHECK_INT(run_failing(&f, threads, &workers, &err), ERROR_UNPROCESSABLE);
        if (!CHECK_STR(err.detail, "item 3 failed"))
            fprintf(stderr, "    round %u, threads %u\n", round, threads);
        CHECK(workers >= 1 && workers <= threads);
        for (size_t i = 0; i <= 3; i++)
            CHECK_INT(atomic_load(&f.ran[i]), 1);
        free(f.ran);
    }
    /* Three failures: still the lowest. */
    struct failing f = {.n = 200, .fail = {150, 20, 90}, .delay_us = {0, 30000, 0}, .item_us = 100};
    struct error_info err;
    CHECK_INT(run_failing(&f, 4, NULL, &err), ERROR_IO);
    CHECK_STR(err.detail, "item 20 failed");
    free(f.ran);
}

static void test_stop_skips_untaken(void)
{
    /* One worker: nothing after the failing item runs. */
    struct failing f = {.n = 1000, .fail = {10, SIZE_MAX, SIZE_MAX}};
    struct error_info err;
    unsigned workers = 0;
    CHECK_INT(run_failing(&f, 1, &workers, &err), ERROR_UNPROCESSABLE);
    CHECK_INT(workers, 1);
    CHECK_INT(atomic_load(&f.ran_total), 11);
    for (size_t i = 0; i < f.n; i++)
        if (!CHECK_INT(atomic_load(&f.ran[i]), i <= 10 ? 1 : 0))
            break;
    free(f.ran);

    /* Four workers: every item below the failure ran once; past it, at most the items the
     * other workers had already taken (one each) and whatever they took before the flag was
     * seen - a handful, not the thousands left. */
    f = (struct failing){.n = 5000, .fail = {10, SIZE_MAX, SIZE_MAX}, .item_us = 200};
    CHECK_INT(run_failing(&f, 4, NULL, &err), ERROR_UNPROCESSABLE);
    for (size_t i = 0; i <= 10; i++)
        CHECK_INT(atomic_load(&f.ran[i]), 1);
    unsigned after = 0;
    for (size_t i = 11; i < f.n; i++)
        after += atomic_load(&f.ran[i]);
    if (!CHECK(after < 100))
        fprintf(stderr, "    %u items ran after the failure\n", after);
    free(f.ran);
}

#define SCRATCH_BYTES 200

struct scratch_check {
    void *seen[PARALLEL_THREADS_MAX]; /* scratch pointer each worker got (set by it) */
    atomic_uint done_calls[PARALLEL_THREADS_MAX];
    void *done_scratch[PARALLEL_THREADS_MAX];
    atomic_uint not_zeroed, foreign, items;
    pthread_t caller;
    atomic_uint done_elsewhere;
};

/* A worker's scratch: worker number + 1, then zeros until the worker's first item marks it. */
static enum error_code scratch_item(void *arg, size_t i, unsigned w, void *scratch,
                                    struct error_info *err)
{
    (void)i;
    (void)err;
    struct scratch_check *c = arg;
    unsigned char *s = scratch;
    unsigned tag;
    memcpy(&tag, s, sizeof tag);
    if (tag == 0) {
        for (size_t k = 0; k < SCRATCH_BYTES; k++)
            if (s[k] != 0)
                atomic_fetch_add(&c->not_zeroed, 1);
        tag = w + 1;
        memcpy(s, &tag, sizeof tag);
        memset(s + sizeof tag, (int)(w + 1), SCRATCH_BYTES - sizeof tag); /* the whole block */
        c->seen[w] = scratch;
    } else if (tag != w + 1 || s[SCRATCH_BYTES - 1] != (unsigned char)(w + 1) ||
               c->seen[w] != scratch) {
        atomic_fetch_add(&c->foreign, 1);
    }
    atomic_fetch_add(&c->items, 1);
    usleep(50);
    return ERROR_OK;
}

static void scratch_done(void *arg, unsigned w, void *scratch)
{
    struct scratch_check *c = arg;
    atomic_fetch_add(&c->done_calls[w], 1);
    c->done_scratch[w] = scratch;
    if (!pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->done_elsewhere, 1);
}

static void test_scratch_and_done(void)
{
    for (unsigned threads = 1; threads <= 8; threads *= 2) {
        struct scratch_check *c = calloc(1, sizeof *c);
        c->caller = pthread_self();
        struct parallel_loop loop = {.n = 2000,
                                     .threads = threads,
                                     .scratch = SCRATCH_BYTES,
                                     .item = scratch_item,
                                     .done = scratch_done,
                                     .arg = c};
        struct error_info err;
        unsigned workers = 0;
        CHECK_INT(parallel_run(&loop, &workers, &err), ERROR_OK);
        CHECK(workers >= 1 && workers <= threads);
        CHECK_INT(atomic_load(&c->items), 2000);
        CHECK_INT(atomic_load(&c->not_zeroed), 0);
        CHECK_INT(atomic_load(&c->foreign), 0);
        CHECK_INT(atomic_load(&c->done_elsewhere), 0);
        unsigned calls = 0, wrong = 0;
        for (unsigned w = 0; w < PARALLEL_THREADS_MAX; w++) {
            unsigned k = atomic_load(&c->done_calls[w]);
            calls += k;
            if (w < workers) {
                wrong += k != 1;
                /* a worker that found no item left never wrote its scratch */
                wrong += c->seen[w] != NULL && c->done_scratch[w] != c->seen[w];
                wrong += c->done_scratch[w] == NULL;
            } else {
                wrong += k != 0;
            }
        }
        CHECK_INT(calls, workers);
        CHECK_INT(wrong, 0);
        /* distinct workers, distinct blocks that do not overlap */
        for (unsigned v = 0; v < workers; v++)
            for (unsigned w = v + 1; w < workers; w++) {
                const char *p = c->done_scratch[v], *q = c->done_scratch[w];
                CHECK(p + SCRATCH_BYTES <= q || q + SCRATCH_BYTES <= p);
            }
        free(c);
    }
}

/* No scratch asked for: item and done get NULL. */
static enum error_code null_scratch_item(void *arg, size_t i, unsigned w, void *scratch,
                                         struct error_info *err)
{
    (void)i;
    (void)w;
    (void)err;
    if (scratch != NULL)
        atomic_fetch_add((atomic_uint *)arg, 1);
    return ERROR_OK;
}

static void null_scratch_done(void *arg, unsigned w, void *scratch)
{
    (void)w;
    if (scratch != NULL)
        atomic_fetch_add((atomic_uint *)arg, 1);
}

static void test_no_scratch(void)
{
    atomic_uint non_null;
    atomic_init(&non_null, 0);
    struct parallel_loop loop = {.n = 100,
                                 .threads = 3,
                                 .item = null_scratch_item,
                                 .done = null_scratch_done,
                                 .arg = &non_null};
    struct error_info err;
    CHECK_INT(parallel_run(&loop, NULL, &err), ERROR_OK);
    CHECK_INT(atomic_load(&non_null), 0);
}

/* ------------------------------------------------------------------------------------------
 * The deadline
 */

static enum error_code slow_item(void *arg, size_t i, unsigned w, void *scratch,
                                 struct error_info *err)
{
    (void)i;
    (void)w;
    (void)scratch;
    (void)err;
    atomic_fetch_add((atomic_uint *)arg, 1);
    usleep(2000);
    return ERROR_OK;
}

static void test_deadline(void)
{
    atomic_uint ran;
    atomic_init(&ran, 0);
    struct error_info err;
    /* Passed before the first item: nothing runs. */
    struct parallel_loop loop = {
        .n = 50, .threads = 2, .deadline = clock_now_ns() - 1, .item = slow_item, .arg = &ran};
    CHECK_INT(parallel_run(&loop, NULL, &err), ERROR_TIMEOUT);
    CHECK(strstr(err.detail, "deadline") != NULL);
    CHECK_INT(atomic_load(&ran), 0);
    /* Passing mid-way: the items before it ran, the rest are refused. */
    loop.n = 100000;
    loop.deadline = clock_deadline_ms(30);
    CHECK_INT(parallel_run(&loop, NULL, &err), ERROR_TIMEOUT);
    unsigned n = atomic_load(&ran);
    CHECK(n > 0 && n < 100000);
    /* 0 is none. */
    atomic_store(&ran, 0);
    loop.n = 20;
    loop.deadline = 0;
    CHECK_INT(parallel_run(&loop, NULL, &err), ERROR_OK);
    CHECK_INT(atomic_load(&ran), 20);
}

/* ------------------------------------------------------------------------------------------
 * The budget and helper threads
 */

struct where {
    pthread_t caller;
    atomic_uint off_caller;
    atomic_uint live_max; /* parallel_threads_live() seen inside items */
    uint64_t *out;
};

static void where_note_live(struct where *c)
{
    unsigned live = parallel_threads_live();
    unsigned seen = atomic_load(&c->live_max);
    while (live > seen && !atomic_compare_exchange_weak(&c->live_max, &seen, live))
        ;
}

static enum error_code where_item(void *arg, size_t i, unsigned w, void *scratch,
                                  struct error_info *err)
{
    (void)w;
    (void)scratch;
    (void)err;
    struct where *c = arg;
    if (!pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->off_caller, 1);
    where_note_live(c);
    uint64_t x = i * 0x9E3779B97F4A7C15u;
    for (unsigned k = 0; k < 50; k++)
        x ^= x >> 13, x *= 0xBF58476D1CE4E5B9u;
    c->out[i] = x;
    if (i % 64 == 0)
        usleep(500);
    return ERROR_OK;
}

static void run_where(struct where *c, size_t n, unsigned threads, unsigned *workers)
{
    c->caller = pthread_self();
    atomic_init(&c->off_caller, 0);
    atomic_init(&c->live_max, 0);
    struct parallel_loop loop = {.n = n, .threads = threads, .item = where_item, .arg = c};
    struct error_info err;
    CHECK_INT(parallel_run(&loop, workers, &err), ERROR_OK);
}

static void test_budget_bounds_helpers(void)
{
    /* Run first, so the process-wide peak is this test's own. */
    parallel_budget_set(2);
    struct where c = {.out = calloc(4096, sizeof(uint64_t))};
    unsigned workers = 0;
    run_where(&c, 4096, 8, &workers);
    CHECK(workers >= 1 && workers <= 3);
    CHECK(atomic_load(&c.live_max) <= 2);
    CHECK(parallel_threads_peak() <= 2);
    CHECK_INT(parallel_threads_live(), 0);
    free(c.out);
}

struct nested {
    struct where *inner;
    atomic_uint live_max;
};

static void nested_inner(void *arg, size_t i)
{
    (void)i;
    struct nested *c = arg;
    unsigned live = parallel_threads_live();
    unsigned seen = atomic_load(&c->live_max);
    while (live > seen && !atomic_compare_exchange_weak(&c->live_max, &seen, live))
        ;
    usleep(200);
}

static void nested_outer(void *arg, size_t i)
{
    (void)i;
    parallel_for(40, 4, nested_inner, arg);
}

static void test_nested_within_budget(void)
{
    parallel_budget_set(3);
    struct nested c;
    atomic_init(&c.live_max, 0);
    parallel_for(8, 4, nested_outer, &c);
    CHECK(atomic_load(&c.live_max) <= 3);
    CHECK_INT(parallel_threads_live(), 0);
}

static void test_budget_zero(void)
{
    const size_t n = 3000;
    parallel_budget_set(UINT_MAX);
    struct where wide = {.out = calloc(n, sizeof(uint64_t))};
    unsigned workers = 0;
    run_where(&wide, n, 4, &workers);
    CHECK(workers >= 2); /* helpers were free: they took part */

    parallel_budget_set(0);
    struct where alone = {.out = calloc(n, sizeof(uint64_t))};
    run_where(&alone, n, 4, &workers);
    CHECK_INT(workers, 1);
    CHECK_INT(atomic_load(&alone.off_caller), 0);
    CHECK_INT(atomic_load(&alone.live_max), 0);
    CHECK(memcmp(wide.out, alone.out, n * sizeof(uint64_t)) == 0);

    /* parallel_for too */
    struct counts k = {.hits = calloc(100, sizeof(atomic_uint))};
    atomic_init(&k.running, 0);
    atomic_init(&k.max_running, 0);
    parallel_for(100, 8, count_one, &k);
    CHECK_INT(atomic_load(&k.max_running), 1);
    unsigned wrong = 0;
    for (size_t i = 0; i < 100; i++)
        wrong += atomic_load(&k.hits[i]) != 1;
    CHECK_INT(wrong, 0);
    free(k.hits);
    free(wide.out);
    free(alone.out);
}

struct thread_arg {
    pthread_t ran_on;
    atomic_uint runs;
    int value;
};

static void *thread_fn(void *p)
{
    struct thread_arg *a = p;
    a->ran_on = pthread_self();
    atomic_fetch_add(&a->runs, 1);
    return &a->value;
}

static void test_helper_threads(void)
{
    /* Budget 0: try refuses and runs nothing; start runs inline. */
    parallel_budget_set(0);
    struct thread_arg a = {.value = 7};
    atomic_init(&a.runs, 0);
    struct parallel_thread t;
    CHECK(!parallel_thread_try(&t, thread_fn, &a));
    CHECK_INT(atomic_load(&a.runs), 0);
    CHECK(parallel_thread_join(&t) == NULL);
    parallel_thread_start(&t, thread_fn, &a);
    CHECK_INT(atomic_load(&a.runs), 1); /* already ran, before start returned */
    CHECK(!t.started);
    CHECK(pthread_equal(a.ran_on, pthread_self()));
    CHECK(parallel_thread_join(&t) == &a.value);
    CHECK_INT(parallel_threads_live(), 0);

    /* A slot: a real thread, counted while it is not joined. */
    parallel_budget_set(1);
    struct thread_arg b = {.value = 9};
    atomic_init(&b.runs, 0);
    struct parallel_thread u, v;
    CHECK(parallel_thread_try(&u, thread_fn, &b));
    CHECK(u.started);
    CHECK_INT(parallel_threads_live(), 1);
    struct thread_arg c = {.value = 11};
    atomic_init(&c.runs, 0);
    CHECK(!parallel_thread_try(&v, thread_fn, &c)); /* the only slot is taken */
    parallel_thread_start(&v, thread_fn, &c);       /* so this one runs here */
    CHECK(pthread_equal(c.ran_on, pthread_self()));
    CHECK(parallel_thread_join(&u) == &b.value);
    CHECK(!pthread_equal(b.ran_on, pthread_self()));
    CHECK(parallel_thread_join(&v) == &c.value);
    CHECK_INT(atomic_load(&b.runs), 1);
    CHECK_INT(parallel_threads_live(), 0);
    CHECK(parallel_thread_try(&u, thread_fn, &b)); /* the slot came back */
    (void)parallel_thread_join(&u);
    CHECK_INT(parallel_threads_live(), 0);
    parallel_budget_set(UINT_MAX);
}

int main(void)
{
    test_budget_bounds_helpers();
    test_nested_within_budget();
    parallel_budget_set(UINT_MAX);
    test_for();
    test_lowest_failure_wins();
    test_stop_skips_untaken();
    test_scratch_and_done();
    test_no_scratch();
    test_deadline();
    test_budget_zero();
    test_helper_threads();
    CHECK_INT(parallel_threads_live(), 0);
    return check_finish("test_parallel");
}
