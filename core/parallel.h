/*
 * parallel.h - the only place core starts threads: a bounded parallel loop over independent
 * items, and single helper threads for fork-join and long-lived workers.
 *
 * One thread budget for the process. Every helper thread takes a slot from a process-wide
 * budget (parallel_budget_set; unlimited until set) and gives it back when joined. Slots are
 * taken without waiting: when none is free, or pthread_create fails, the work runs on the
 * caller's thread instead (as SQLite's src/threads.c does), so a request under load gets
 * slower, never an error. The server sets the budget from --thread-budget (by default the
 * CPU count), so however many requests run at once, at most (worker threads + budget)
 * threads compute.
 *
 * parallel_run hands items out one at a time from an atomic counter, so uneven items (a
 * 200-page OME-TIFF next to a 1-page one) balance themselves; the calling thread works too.
 * An item that fails stops the loop: items not yet taken are skipped, and the error reported
 * is that of the failing item with the lowest index, so the detail does not depend on thread
 * timing. Per-worker scratch is allocated (zeroed) for every worker that takes part.
 */
#ifndef TESSERA_CORE_PARALLEL_H
#define TESSERA_CORE_PARALLEL_H

#include "error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound on the workers of one parallel_run (caller included). */
#define PARALLEL_THREADS_MAX 256u

/* Set the process-wide number of helper threads that may exist at once (0 = none: all work
 * runs on callers' threads). Call once at start, before any parallel work. */
void parallel_budget_set(unsigned helpers);

/* Helper threads alive now, and the most alive at once since start (for /metrics, tests). */
unsigned parallel_threads_live(void);
unsigned parallel_threads_peak(void);

struct parallel_loop {
    size_t n;         /* items 0 .. n-1 */
    unsigned threads; /* workers wanted, the caller included (0 counts as 1) */
    int64_t deadline; /* CLOCK_MONOTONIC ns (core/clock.h); 0 = none; checked per item */
    size_t scratch;   /* bytes of zeroed per-worker scratch (0 = none) */
    /* Run item i on worker w (0 = the caller; w < threads) with that worker's scratch.
     * Return ERROR_OK, or an error code with err filled. */
    enum error_code (*item)(void *arg, size_t i, unsigned w, void *scratch, struct error_info *err);
    /* Called once per worker that took part, after all workers finished, on the caller's
     * thread, with its scratch (release what item() put there). May be NULL. */
    void (*done)(void *arg, unsigned w, void *scratch);
    void *arg;
};

/*
 * Run loop->item for every item on up to loop->threads workers (fewer when the budget has no
 * free slot or a thread cannot start). Returns ERROR_OK, or the error of the lowest-indexed
 * failing item (ERROR_TIMEOUT "... past the request deadline" when the deadline passed before
 * an item), or ERROR_NO_MEMORY when the scratch cannot be allocated. *workers (may be NULL)
 * gets how many workers took part. Thread-safe; loops may nest (an inner loop just finds fewer
 * free slots).
 */
enum error_code parallel_run(const struct parallel_loop *loop, unsigned *workers,
                             struct error_info *err) ERROR_MUST_CHECK;

/* Call fn(arg, i) once for every i in [0, n) on up to threads workers; items cannot fail. */
void parallel_for(size_t n, unsigned threads, void (*fn)(void *arg, size_t i), void *arg);

/* One helper thread. */
struct parallel_thread {
    pthread_t tid;
    bool started; /* running on its own thread (else fn already ran, or never will) */
    void *(*fn)(void *arg);
    void *arg;
    void *result;
};

/* Start fn(arg) on a helper thread when the budget has a slot and the thread starts; false
 * otherwise (nothing ran: the caller does the work its own way). */
bool parallel_thread_try(struct parallel_thread *t, void *(*fn)(void *arg), void *arg);

/* Start fn(arg) on a helper thread, or, when that is not possible, run it now on the calling
 * thread (fork-join that always completes). */
void parallel_thread_start(struct parallel_thread *t, void *(*fn)(void *arg), void *arg);

/* Wait for a started thread; returns fn's result (NULL for a thread never started by
 * parallel_thread_try). */
void *parallel_thread_join(struct parallel_thread *t);

#endif
