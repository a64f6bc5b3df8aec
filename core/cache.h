/*
 * cache.h - a bounded, thread-safe LRU of classification results, never stale.
 *
 * An entry is found by (device, inode) and is valid only while the file's size, mtime and
 * ctime (seconds and nanoseconds, compared as fields, so any timestamp a file system stores
 * works, years before 1970 and after 2262 included) are unchanged: every lookup takes one
 * fstat of the caller's open descriptor, so a file rewritten, touched, truncated or
 * replaced (a rename over it gives a new inode; an in-place rewrite moves mtime and ctime)
 * is a miss, and its stale entry is dropped on the spot. Only metadata (struct
 * classify_result) is cached, never pixels.
 *
 * Racy timestamps (git's racy-index rule). The kernel stamps ctime from a coarse clock that
 * advances once per timer tick (4 ms at HZ=250, as Debian's kernels are built; 10 ms at
 * HZ=100), so a same-size rewrite within the tick of the previous change leaves size,
 * mtime and ctime all as they were. A result classified then could be served for content it
 * never saw. So an entry is kept only when the file's ctime is at least CACHE_RACY_NS older
 * than the moment, taken before the fstat, from which the file was read: then any later
 * write lands in a later tick and moves ctime. A file changed just before it is classified is
 * simply classified again next time. Timestamps in whole seconds (tv_nsec 0: file systems
 * with one-second granularity) need CACHE_RACY_COARSE_NS instead.
 *
 * Only regular files are cached: a Zarr directory's metadata files can be rewritten in place
 * without changing the directory's own stat, so directories are always classified afresh.
 *
 * Layout: the key space is split over shards (each a mutex, a chained hash table and an
 * intrusive LRU list over a fixed array of entries); capacity is split exactly across them,
 * so the total never exceeds it. Lookup and insert are O(1); no allocation after
 * cache_new. Counters are atomics readable at any time for /metrics. Workload: a hit costs
 * one fstat plus a short critical section (well under 2 us).
 */
#ifndef TESSERA_CORE_CACHE_H
#define TESSERA_CORE_CACHE_H

#include "classify.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define CACHE_DEFAULT_SHARDS 16u
#define CACHE_MAX_SHARDS     256u

/* How much older than the read a file's ctime must be for its entry to be kept: 20 ms, five
 * ticks at HZ=250 and two at HZ=100, so any kernel timer tick up to 10 ms is covered with
 * room to spare; and 2 s for whole-second timestamps. */
#define CACHE_RACY_NS        20000000LL
#define CACHE_RACY_COARSE_NS 2000000000LL

struct cache;

struct cache_stats {
    uint64_t hits;
    uint64_t misses;    /* lookups that found nothing valid (stale ones included) */
    uint64_t stale;     /* misses that found an entry for the inode with old size/times */
    uint64_t evictions; /* entries pushed out by the LRU bound */
    uint64_t inserts;
    uint64_t racy;    /* inserts refused: the file changed within CACHE_RACY_NS of its read */
    uint64_t entries; /* entries held now */
    uint64_t capacity;
};

/*
 * Create a cache holding at most capacity entries (>= 1) across shards shards (0 = the
 * default, clamped to [1, min(capacity, CACHE_MAX_SHARDS)]); LRU order is exact within a
 * shard, so a cache built with one shard is a strict LRU. On success *out owns the cache
 * (free with cache_free). ERROR_INVALID for capacity 0, ERROR_NO_MEMORY.
 */
enum error_code cache_new(size_t capacity, unsigned shards, struct cache **out,
                          struct error_info *err) ERROR_MUST_CHECK;

/* Free the cache and everything in it. c may be NULL. Not thread-safe against users. */
void cache_free(struct cache *c);

/*
 * Look up the file open at fd: one fstat, whose result goes to *st (for the caller's size
 * and mtime, and for cache_insert after a miss). Returns true and copies the result into
 * *out on a valid hit. Returns false on a miss, for a non-regular file, or when fstat fails
 * (then *st is zeroed, and errno tells). Thread-safe.
 */
bool cache_lookup(struct cache *c, int fd, struct stat *st, struct classify_result *out);

/* The same lookup for a caller that already holds a fresh fstat of the open file (as
 * confine_open returns): no system call at all. Thread-safe. */
bool cache_lookup_stat(struct cache *c, const struct stat *st, struct classify_result *out);

/* The wall clock file timestamps are taken from (CLOCK_REALTIME), for cache_insert's seen. */
void cache_now(struct timespec *now);

/*
 * Remember r for the file whose fstat is *st (the one cache_lookup returned before the
 * file was classified, so a change during classification makes the entry stale, never
 * wrong); *seen is cache_now taken before that fstat. Returns false, keeping nothing, when the
 * file's ctime is not at least CACHE_RACY_NS (whole seconds: CACHE_RACY_COARSE_NS) older than
 * *seen, including a ctime in the future; and for a non-regular file. Otherwise replaces any entry
 * for the same inode, evicting the shard's least recently used entry when full, and returns true.
 * Thread-safe.
 */
bool cache_insert(struct cache *c, const struct stat *st, const struct timespec *seen,
                  const struct classify_result *r);

/* Whether an entry for a file with this ctime, read from *seen on, would be kept (the rule
 * above), without overflow for any timestamp. For tests. */
bool cache_ctime_settled(const struct timespec *ctime, const struct timespec *seen);

/* A snapshot of the counters (each read atomically; entries summed under the locks).
 * Thread-safe. */
void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
