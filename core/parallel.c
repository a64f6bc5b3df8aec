/* parallel.c - the process's thread budget, parallel loops and helper threads; see
 * parallel.h. */
#include "parallel.h"

#include "alloc.h"
#include "clock.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * The budget: slots for helper threads, taken without waiting
 */

static atomic_uint parallel_budget = UINT32_MAX; /* free slots; unlimited until set */
static atomic_uint parallel_live;
static atomic_uint parallel_peak;

void parallel_budget_set(unsigned helpers)
{
    atomic_store(&parallel_budget, helpers);
}

unsigned parallel_threads_live(void)
{
    return atomic_load(&parallel_live);
}

unsigned parallel_threads_peak(void)
{
    return atomic_load(&parallel_peak);
}

static bool budget_take(void)
{
    unsigned left = atomic_load(&parallel_budget);
    while (left > 0)
        if (atomic_compare_exchange_weak(&parallel_budget, &left, left - 1))
            return true;
    return false;
}

static void budget_give(void)
{
    atomic_fetch_add(&parallel_budget, 1);
}

static void live_add(void)
{
    unsigned now = atomic_fetch_add(&parallel_live, 1) + 1;
    unsigned peak = atomic_load(&parallel_peak);
    while (now > peak && !atomic_compare_exchange_weak(&parallel_peak, &peak, now)) {
    }
}

/* ------------------------------------------------------------------------------------------
 * Helper threads
 */

static void *thread_main(void *p)
{
    struct parallel_thread *t = p;
    t->result = t->fn(t->arg);
    return NULL;
}

bool parallel_thread_try(struct parallel_thread *t, void *(*fn)(void *arg), void *arg)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    if (!budget_take())
        return false;
    live_add();
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
        atomic_fetch_sub(&parallel_live, 1);
        budget_give();
        return false;
    }
    t->started = true;
    return true;
}

void parallel_thread_start(struct parallel_thread *t, void *(*fn)(void *arg), void *arg)
{
    if (!parallel_thread_try(t, fn, arg))
        t->result = fn(arg);
}

void *parallel_thread_join(struct parallel_thread *t)
{
    if (t->started) {
        pthread_join(t->tid, NULL);
        t->started = false;
        atomic_fetch_sub(&parallel_live, 1);
        budget_give();
    }
    return t->result;
}

/* ------------------------------------------------------------------------------------------
 * Parallel loops
 */

struct loop_state {
    const struct parallel_loop *loop;
    atomic_size_t next;
    atomic_bool stop;
    atomic_size_t failed_item; /* lowest failing item so far; SIZE_MAX = none */
    char *scratch;             /* workers x stride bytes */
    size_t stride;
};

struct loop_worker {
    struct loop_state *state;
    unsigned index;
    bool took_part;
    size_t failed_item; /* SIZE_MAX = none */
    enum error_code rc;
    struct error_info err;
};

static void loop_record_failure(struct loop_state *s, size_t i)
{
    size_t seen = atomic_load(&s->failed_item);
    while (i < seen && !atomic_compare_exchange_weak(&s->failed_item, &seen, i)) {
    }
    atomic_store(&s->stop, true);
}

static void *loop_worker_main(void *p)
{
    struct loop_worker *w = p;
    struct loop_state *s = w->state;
    const struct parallel_loop *loop = s->loop;
    void *scratch = s->scratch != NULL ? s->scratch + (size_t)w->index * s->stride : NULL;
    w->took_part = true;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= loop->n)
            break;
        enum error_code rc;
        if (clock_passed(loop->deadline))
            rc = error_set(&w->err, ERROR_TIMEOUT, "the work ran past the request deadline");
        else
            rc = loop->item(loop->arg, i, w->index, scratch, &w->err);
        if (rc != ERROR_OK) {
            w->rc = rc;
            w->failed_item = i;
            loop_record_failure(s, i);
            break;
        }
    }
    return NULL;
}

static unsigned loop_workers_wanted(const struct parallel_loop *loop)
{
    unsigned n = loop->threads == 0 ? 1 : loop->threads;
    if (n > PARALLEL_THREADS_MAX)
        n = PARALLEL_THREADS_MAX;
    if ((size_t)n > loop->n)
        n = loop->n == 0 ? 1 : (unsigned)loop->n;
    return n;
}

enum error_code parallel_run(const struct parallel_loop *loop, unsigned *workers,
                             struct error_info *err)
{
    unsigned want = loop_workers_wanted(loop);
    if (workers != NULL)
        *workers = 0;
    struct loop_state s = {.loop = loop};
    atomic_init(&s.next, 0);
    atomic_init(&s.stop, false);
    atomic_init(&s.failed_item, SIZE_MAX);
    s.stride = (loop->scratch + 63) & ~(size_t)63; /* one cache line apart at least */
    struct loop_worker local[4];
    struct parallel_thread local_tid[4];
    struct loop_worker *w = want <= 4 ? local : alloc_zeroed(want, sizeof *w);
    struct parallel_thread *tid = want <= 4 ? local_tid : alloc_zeroed(want, sizeof *tid);
    enum error_code rc = ERROR_OK;
    if (w == NULL || tid == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate %u workers", want);
        goto out;
    }
    if (loop->scratch > 0 && (s.scratch = alloc_zeroed(want, s.stride)) == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate %u x %zu bytes of scratch", want,
                       loop->scratch);
        goto out;
    }
    for (unsigned t = 0; t < want; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].state = &s;
        w[t].index = t;
        w[t].failed_item = SIZE_MAX;
        error_init(&w[t].err);
    }
    unsigned started = 0;
    for (unsigned t = 1; t < want; t++) {
        if (!parallel_thread_try(&tid[t], loop_worker_main, &w[t]))
            break;
        started = t;
    }
    loop_worker_main(&w[0]);
    for (unsigned t = 1; t <= started; t++)
        (void)parallel_thread_join(&tid[t]);
    unsigned took = 0;
    const struct loop_worker *first = NULL;
    for (unsigned t = 0; t < want; t++) {
        if (!w[t].took_part)
            continue;
        took++;
        if (w[t].rc != ERROR_OK && (first == NULL || w[t].failed_item < first->failed_item))
            first = &w[t];
        if (loop->done != NULL)
            loop->done(loop->arg, t, s.scratch != NULL ? s.scratch + (size_t)t * s.stride : NULL);
    }
    if (workers != NULL)
        *workers = took;
    if (first != NULL) {
        rc = first->rc;
        if (err != NULL)
            *err = first->err;
    }
out:
    free(s.scratch);
    if (w != local)
        free(w);
    if (tid != local_tid)
        free(tid);
    return rc;
}

struct for_adapter {
    void (*fn)(void *arg, size_t i);
    void *arg;
};

static enum error_code for_item(void *arg, size_t i, unsigned w, void *scratch,
                                struct error_info *err)
{
    (void)w;
    (void)scratch;
    (void)err;
    struct for_adapter *a = arg;
    a->fn(a->arg, i);
    return ERROR_OK;
}

void parallel_for(size_t n, unsigned threads, void (*fn)(void *arg, size_t i), void *arg)
{
    struct for_adapter a = {fn, arg};
    struct parallel_loop loop = {.n = n, .threads = threads, .item = for_item, .arg = &a};
    struct error_info err;
    /* items cannot fail and no scratch is asked for, so only a worker-array allocation can;
     * then the caller runs every item alone */
    if (parallel_run(&loop, NULL, &err) != ERROR_OK)
        for (size_t i = 0; i < n; i++)
            fn(arg, i);
}
