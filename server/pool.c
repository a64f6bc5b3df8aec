/* pool.c - bounded worker pool; see pool.h. */
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct pool_job {
    pool_job_fn fn;
    void *arg;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct pool_job *ring;
    unsigned capacity, head, count;
    unsigned running;
    unsigned long long done;
    bool stopping;
    unsigned n_threads;
    pthread_t *threads;
};

static void *pool_main(void *arg)
{
    struct pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->count == 0 && !pool->stopping)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->count == 0)
            break;
        struct pool_job job = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->capacity;
        pool->count--;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);
        job.fn(job.arg);
        pthread_mutex_lock(&pool->lock);
        pool->running--;
        pool->done++;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct pool *pool_new(unsigned threads, unsigned capacity)
{
    struct pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->ring = calloc(capacity, sizeof *pool->ring);
    pool->threads = calloc(threads, sizeof *pool->threads);
    if (pool->ring == NULL || pool->threads == NULL)
        goto fail;
    pool->capacity = capacity;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_main, pool) != 0) {
            pool_free(pool);
            return NULL;
        }
        pool->n_threads++;
    }
    return pool;
fail:
    free(pool->ring);
    free(pool->threads);
    free(pool);
    return NULL;
}

bool pool_submit(struct pool *pool, pool_job_fn fn, void *arg)
{
    pthread_mutex_lock(&pool->lock);
    bool ok = !pool->stopping && pool->count < pool->capacity;
    if (ok) {
        pool->ring[(pool->head + pool->count) % pool->capacity] = (struct pool_job){fn, arg};
        pool->count++;
        pthread_cond_signal(&pool->wake);
    }
    pthread_mutex_unlock(&pool->lock);
    return ok;
}

unsigned pool_pending(struct pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    unsigned n = pool->count + pool->running;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void pool_free(struct pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool->threads);
    free(pool);
}

void pool_metrics(struct buf *out, void *arg)
{
    struct pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    unsigned queued = pool->count, running = pool->running, cap = pool->capacity;
    unsigned long long done = pool->done;
    pthread_mutex_unlock(&pool->lock);
    buf_printf(out,
               "# HELP tessera_worker_queue_depth Heavy requests waiting for a worker.\n"
               "# TYPE tessera_worker_queue_depth gauge\n"
               "tessera_worker_queue_depth %u\n"
               "# HELP tessera_worker_queue_capacity Size of the worker queue.\n"
               "# TYPE tessera_worker_queue_capacity gauge\n"
               "tessera_worker_queue_capacity %u\n"
               "# HELP tessera_workers_busy Workers running a request.\n"
               "# TYPE tessera_workers_busy gauge\n"
               "tessera_workers_busy %u\n"
               "# HELP tessera_worker_jobs_total Heavy requests completed by workers.\n"
               "# TYPE tessera_worker_jobs_total counter\n"
               "tessera_worker_jobs_total %llu\n",
               queued, cap, running, done);
}
