/*
 * scan_stat.h - the stat pass of core/scan: the fstatat calls for a directory's reported
 * entries, queued in blocks while the directory is read and answered by a small pool of
 * helper threads; internal to scan*.c.
 *
 * fstatat is the dominant cost of a scan (one per reported entry, ~2-3 us each in a VM).
 * With threads > 1, the first full block of SCAN_STAT_BLOCK names starts up to threads - 1
 * long-lived workers (helper threads from the process's budget, as many as it grants; none
 * is not an error) that stat full blocks while the main thread goes on reading; at the
 * directory's end scan_stat_run submits the last partial block, works the queue too and
 * waits for it, so no worker uses the directory's descriptor after it returns. Without
 * workers every block is statted there, on the main thread. Blocks are recycled across
 * directories. One struct scan_stat belongs to one scan on one thread.
 */
#ifndef TESSERA_CORE_SCAN_STAT_H
#define TESSERA_CORE_SCAN_STAT_H

#include "scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names per stat block: the unit handed to a worker. */
#define SCAN_STAT_BLOCK 64u
/* Status of a queued fstatat whose target changed type under us (not an errno). */
#define SCAN_STAT_REPLACED (-1)

/* One queued fstatat and its answer. name must not move until the pass is done. */
struct scan_stat_item {
    const char *name;
    size_t entry; /* index in result->entries */
    enum scan_type type;
    int status; /* 0, an errno, or SCAN_STAT_REPLACED */
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
};

struct scan_stat_block;
struct scan_stat_pool;

/* The stat pass of one scan. Zero it, set threads, and release it with scan_stat_cleanup. */
struct scan_stat {
    unsigned threads;                  /* the scan's threads, the main thread's included */
    struct scan_stat_pool *pool;       /* NULL: stat on the main thread only */
    bool pool_tried;                   /* creation attempted (it may have failed) */
    struct scan_stat_block *filling;   /* block being filled, not yet submitted */
    struct scan_stat_block *dir_first; /* submitted blocks of the current directory */
    struct scan_stat_block *dir_last;
    struct scan_stat_block *free_blocks;
};

/* Queue name (relative to dirfd, which stays open until scan_stat_run returns) for the
 * entry at index entry. Returns false only when out of memory (nothing is queued). */
bool scan_stat_add(struct scan_stat *s, int dirfd, const char *name, size_t entry,
                   enum scan_type type) ERROR_MUST_CHECK;

/* Stat everything queued for the current directory and wait until it is done. */
void scan_stat_run(struct scan_stat *s);

/* The answered items of the current directory in queue order (entry ascending): the first,
 * then each next one; NULL at the end. Valid until scan_stat_recycle. */
struct scan_stat_cursor {
    const struct scan_stat_block *block;
    unsigned k;
};
const struct scan_stat_item *scan_stat_first(const struct scan_stat *s, struct scan_stat_cursor *c);
const struct scan_stat_item *scan_stat_next(struct scan_stat_cursor *c);

/* Done with the current directory's answers: keep its blocks for the next directory. */
void scan_stat_recycle(struct scan_stat *s);

/* Stop and join the workers and free every block. Safe on a zeroed struct. */
void scan_stat_cleanup(struct scan_stat *s);

#endif
