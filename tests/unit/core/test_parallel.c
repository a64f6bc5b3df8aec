/*
 * test_parallel.c - parallel_for calls every index exactly once, for any thread count
 * (including more threads than items, and none), and the calls really overlap.
 */
#include "check.h"
#include "parallel.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

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

int main(void)
{
    run(0, 4);
    run(1, 4);
    run(3, 8);
    run(1000, 1);
    run(1000, 0);
    run(10000, 4);
    run(100, 1000); /* clamped */
    return check_finish("test_parallel");
}
