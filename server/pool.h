/*
 * pool.h - a fixed set of worker threads fed from a bounded FIFO queue.
 *
 * Heavy requests (scans, decoding, counting) run here so the connection threads stay free
 * for /healthz, /readyz and /metrics. The queue is bounded: pool_submit refuses instead of
 * growing, and the caller answers 503 + Retry-After.
 */
#ifndef TESSERA_SERVER_POOL_H
#define TESSERA_SERVER_POOL_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

struct pool;

typedef void (*pool_job_fn)(void *arg);

/* Start threads workers with room for capacity waiting jobs. NULL on failure. */
struct pool *pool_new(unsigned threads, unsigned capacity);

/* Queue fn(arg). Returns false (and runs nothing) when the queue is full or the pool is
 * stopping. Thread-safe. */
bool pool_submit(struct pool *pool, pool_job_fn fn, void *arg);

/* Jobs queued or running. Thread-safe. */
unsigned pool_pending(struct pool *pool);

/* Let queued jobs finish, join the threads and free the pool. */
void pool_free(struct pool *pool);

/* Prometheus lines for the pool, appended to out (a metrics source; arg is the pool).
 * Thread-safe. */
void pool_metrics(struct buf *out, void *pool);

#endif
