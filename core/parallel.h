/*
 * parallel.h - run n independent items on a bounded number of threads.
 *
 * Items are handed out one at a time from an atomic counter, so uneven items (a 200-page
 * OME-TIFF next to a 1-page one) balance themselves. The calling thread works too; a
 * thread that cannot be started just leaves its share to the others.
 */
#ifndef TESSERA_CORE_PARALLEL_H
#define TESSERA_CORE_PARALLEL_H

#include <stddef.h>

/* Call fn(arg, i) once for every i in [0, n), on up to threads threads (0 or 1: the caller
 * alone). Returns when all calls have returned. fn must be safe to run concurrently for
 * different i. */
void parallel_for(size_t n, unsigned threads, void (*fn)(void *arg, size_t i), void *arg);

#endif
