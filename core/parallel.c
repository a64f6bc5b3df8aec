/* parallel.c - bounded parallel-for over independent items; see parallel.h. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define PARALLEL_THREADS_MAX 256

struct parallel_job {
    atomic_size_t next;
    size_t n;
    void (*fn)(void *arg, size_t i);
    void *arg;
};

static void *parallel_main(void *p)
{
    struct parallel_job *job = p;
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->n)
            break;
        job->fn(job->arg, i);
    }
    return NULL;
}

void parallel_for(size_t n, unsigned threads, void (*fn)(void *arg, size_t i), void *arg)
{
    struct parallel_job job = {.n = n, .fn = fn, .arg = arg};
    atomic_init(&job.next, 0);
    if (threads > PARALLEL_THREADS_MAX)
        threads = PARALLEL_THREADS_MAX;
    if ((size_t)threads > n)
        threads = (unsigned)n;
    pthread_t tid[PARALLEL_THREADS_MAX];
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, parallel_main, &job) != 0)
            break;
        started++;
    }
    parallel_main(&job);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}
