/*
 * classify_batch.h - classify many paths beneath the data root at once, through the metadata
 * cache: the one core call behind GET /classify (one path), POST /classify (a batch) and
 * /scan?classify=true (every entry found).
 *
 * Each path is opened once with confine_open, whose fstat also keys the cache, so a hit costs
 * no further system call; on a miss it is classified with classify_fd_at (a Zarr store's
 * metadata links may lead anywhere beneath the root, never out) and the result is remembered.
 * Items run on up to `threads` workers (core/parallel's parallel_for); each outcome lands in
 * its own item, so the order is the caller's, and one bad path fails only its own item.
 * Cost: one confine_open per path plus a classification per miss; no allocation here.
 */
#ifndef TESSERA_CORE_CLASSIFY_BATCH_H
#define TESSERA_CORE_CLASSIFY_BATCH_H

#include "cache.h"
#include "classify.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* One path to classify and, after classify_batch_run, its outcome. */
struct classify_batch_item {
    const char *path; /* relative to the data root; borrowed, need not be NUL-terminated */
    size_t path_len;
    struct classify_result result; /* valid when err.code is ERROR_OK */
    struct stat st;                /* the object's fstat (size, mtime), when it was opened */
    bool cached;                   /* result came from the cache */
    struct error_info err;         /* code != ERROR_OK: this item failed, detail says why */
};

struct classify_batch_options {
    int root_fd;         /* the data root */
    struct cache *cache; /* NULL: classify every path afresh, remember nothing */
    struct classify_options classify;
    unsigned threads; /* workers, the caller included (0 counts as 1) */
};

/*
 * Fill the outcome of items[0..n): err (ERROR_OK, or confine_open's and classify_fd_at's
 * errors), result, st and cached. Never fails as a whole. Thread-safe (the cache is); items
 * must not be shared with another call.
 */
void classify_batch_run(const struct classify_batch_options *opt, struct classify_batch_item *items,
                        size_t n);

#endif
