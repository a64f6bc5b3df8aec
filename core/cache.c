/*
 * cache.c - sharded LRU of classification results keyed on file identity; see cache.h.
 *
 * Each shard owns a fixed array of entries, linked three ways by 32-bit indices: a chain per
 * hash bucket, a doubly linked LRU list (head = most recently used), and a free list. The
 * entry for an inode is unique in its shard, so validation is "find by (dev, ino), compare
 * size and times"; a mismatch removes the entry at once instead of letting dead versions
 * age out.
 */
#include "cache.h"

#include "alloc.h"
#include "clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NIL UINT32_MAX

struct cache_entry {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime; /* as fstat gave them: compared field by field */
    struct timespec ctime;
    uint32_t hash_next; /* bucket chain, or free list */
    uint32_t lru_prev;
    uint32_t lru_next;
    struct classify_result result;
};

struct cache_shard {
    pthread_mutex_t lock;
    struct cache_entry *entries;
    uint32_t *buckets;
    uint32_t mask;
    uint32_t capacity;
    uint32_t count;
    uint32_t lru_head;
    uint32_t lru_tail;
    uint32_t free_head;
    uint32_t fresh; /* entries [fresh, capacity) were never used: not on the free list, and
                       not touched, so an empty cache costs no resident memory */
};

struct cache {
    unsigned nshards;
    size_t capacity;
    struct cache_shard *shards;
    _Atomic uint64_t hits;
    _Atomic uint64_t misses;
    _Atomic uint64_t stale;
    _Atomic uint64_t evictions;
    _Atomic uint64_t inserts;
    _Atomic uint64_t racy;
};

/* ---- keys --------------------------------------------------------------------------------- */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static uint64_t key_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return h;
}

static struct cache_shard *shard_of(struct cache *c, uint64_t h)
{
    return &c->shards[(uint32_t)(h >> 40) % c->nshards];
}

/* ---- one shard (caller holds the lock) --------------------------------------------------- */

static uint32_t shard_find(const struct cache_shard *s, uint64_t h, dev_t dev, ino_t ino)
{
    for (uint32_t i = s->buckets[(uint32_t)h & s->mask]; i != NIL; i = s->entries[i].hash_next)
        if (s->entries[i].ino == ino && s->entries[i].dev == dev)
            return i;
    return NIL;
}

static void lru_unlink(struct cache_shard *s, uint32_t i)
{
    struct cache_entry *e = &s->entries[i];
    if (e->lru_prev != NIL)
        s->entries[e->lru_prev].lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next != NIL)
        s->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NIL;
}

static void lru_push_front(struct cache_shard *s, uint32_t i)
{
    struct cache_entry *e = &s->entries[i];
    e->lru_prev = NIL;
    e->lru_next = s->lru_head;
    if (s->lru_head != NIL)
        s->entries[s->lru_head].lru_prev = i;
    s->lru_head = i;
    if (s->lru_tail == NIL)
        s->lru_tail = i;
}

/* Unlink entry i from its bucket and the LRU list and put it on the free list. */
static void shard_remove(struct cache_shard *s, uint32_t i)
{
    struct cache_entry *e = &s->entries[i];
    uint32_t *link = &s->buckets[(uint32_t)key_hash(e->dev, e->ino) & s->mask];
    while (*link != i)
        link = &s->entries[*link].hash_next;
    *link = e->hash_next;
    lru_unlink(s, i);
    e->hash_next = s->free_head;
    s->free_head = i;
    s->count--;
}

static bool same_version(const struct cache_entry *e, const struct stat *st)
{
    return e->size == st->st_size && same_time(&e->mtime, &st->st_mtim) &&
           same_time(&e->ctime, &st->st_ctim);
}

static void set_version(struct cache_entry *e, const struct stat *st)
{
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
}

static void shard_cleanup(struct cache_shard *s)
{
    free(s->entries);
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
}

static enum error_code shard_init(struct cache_shard *s, uint32_t capacity, struct error_info *err)
{
    memset(s, 0, sizeof *s);
    uint32_t nb = 1;
    while (nb < capacity && nb < (UINT32_C(1) << 30))
        nb *= 2;
    s->entries = alloc_zeroed(capacity, sizeof *s->entries);
    s->buckets = alloc_bytes((size_t)nb * sizeof *s->buckets);
    if (s->entries == NULL || s->buckets == NULL) {
        free(s->entries);
        free(s->buckets);
        return error_set(err, ERROR_NO_MEMORY, "out of memory for a %u-entry cache shard",
                         capacity);
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->entries);
        free(s->buckets);
        return error_set(err, ERROR_NO_MEMORY, "cannot create a cache lock");
    }
    s->mask = nb - 1;
    s->capacity = capacity;
    for (uint32_t b = 0; b < nb; b++)
        s->buckets[b] = NIL;
    s->free_head = NIL;
    s->fresh = 0;
    s->lru_head = s->lru_tail = NIL;
    return ERROR_OK;
}

/* ---- public ------------------------------------------------------------------------------- */

enum error_code cache_new(size_t capacity, unsigned shards, struct cache **out,
                          struct error_info *err)
{
    *out = NULL;
    if (capacity == 0 || capacity > (size_t)(NIL - 1) * CACHE_MAX_SHARDS)
        return error_set(err, ERROR_INVALID, "cache capacity %zu is out of range", capacity);
    if (shards == 0)
        shards = CACHE_DEFAULT_SHARDS;
    if (shards > CACHE_MAX_SHARDS)
        shards = CACHE_MAX_SHARDS;
    if (shards > capacity)
        shards = (unsigned)capacity;
    if (capacity / shards >= NIL)
        return error_set(err, ERROR_INVALID, "cache capacity %zu needs more shards", capacity);

    enum error_code rc = ERROR_OK;
    struct cache *c = alloc_zeroed(1, sizeof *c);
    if (c == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory for the cache");
    c->shards = alloc_zeroed(shards, sizeof *c->shards);
    if (c->shards == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory for the cache shards");
        goto out;
    }
    c->capacity = capacity;
    for (unsigned i = 0; i < shards; i++) {
        /* split capacity exactly: the first (capacity % shards) shards take one more */
        size_t cap = capacity / shards + (i < capacity % shards ? 1 : 0);
        if ((rc = shard_init(&c->shards[i], (uint32_t)cap, err)) != ERROR_OK)
            goto out;
        c->nshards = i + 1;
    }
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    atomic_init(&c->stale, 0);
    atomic_init(&c->evictions, 0);
    atomic_init(&c->inserts, 0);
    atomic_init(&c->racy, 0);
out:
    if (rc != ERROR_OK) {
        cache_free(c);
        return rc;
    }
    *out = c;
    return ERROR_OK;
}

void cache_free(struct cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++)
        shard_cleanup(&c->shards[i]);
    free(c->shards);
    free(c);
}

bool cache_lookup(struct cache *c, int fd, struct stat *st, struct classify_result *out)
{
    if (fstat(fd, st) != 0) {
        memset(st, 0, sizeof *st);
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        return false;
    }
    return cache_lookup_stat(c, st, out);
}

bool cache_lookup_stat(struct cache *c, const struct stat *st, struct classify_result *out)
{
    if (!S_ISREG(st->st_mode)) {
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        return false;
    }
    uint64_t h = key_hash(st->st_dev, st->st_ino);
    struct cache_shard *s = shard_of(c, h);
    bool hit = false, stale = false;
    pthread_mutex_lock(&s->lock);
    uint32_t i = shard_find(s, h, st->st_dev, st->st_ino);
    if (i != NIL) {
        if (same_version(&s->entries[i], st)) {
            lru_unlink(s, i);
            lru_push_front(s, i);
            *out = s->entries[i].result;
            hit = true;
        } else {
            shard_remove(s, i);
            stale = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (hit) {
        atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        if (stale)
            atomic_fetch_add_explicit(&c->stale, 1, memory_order_relaxed);
    }
    return hit;
}

void cache_now(struct timespec *now)
{
    clock_gettime(CLOCK_REALTIME, now);
}

_Static_assert(CACHE_RACY_NS < 3 * CLOCK_NS_PER_S && CACHE_RACY_COARSE_NS < 3 * CLOCK_NS_PER_S,
               "cache_ctime_settled compares exactly only up to 3 s");

bool cache_ctime_settled(const struct timespec *ctime, const struct timespec *seen)
{
    int64_t margin = ctime->tv_nsec == 0 ? CACHE_RACY_COARSE_NS : CACHE_RACY_NS;
    int64_t c_sec = (int64_t)ctime->tv_sec, s_sec = (int64_t)seen->tv_sec;
    /* seen - ctime >= margin, with seconds and nanoseconds apart so that no timestamp can
     * overflow. tv_nsec is in [0, 1e9), as fstat and clock_gettime give it. */
    if (c_sec >= s_sec)
        return c_sec == s_sec && (int64_t)seen->tv_nsec - (int64_t)ctime->tv_nsec >= margin;
    /* s_sec > c_sec, so their difference is in [1, 2^64 - 1]: exact in unsigned arithmetic.
     * Both margins are under 3 s: more than 3 s apart settles it, and within 3 s the
     * difference fits in nanoseconds. */
    uint64_t secs = (uint64_t)s_sec - (uint64_t)c_sec;
    if (secs > 3)
        return true;
    return (int64_t)secs * CLOCK_NS_PER_S + (int64_t)seen->tv_nsec - (int64_t)ctime->tv_nsec >=
           margin;
}

bool cache_insert(struct cache *c, const struct stat *st, const struct timespec *seen,
                  const struct classify_result *r)
{
    if (!S_ISREG(st->st_mode))
        return false;
    if (!cache_ctime_settled(&st->st_ctim, seen)) {
        atomic_fetch_add_explicit(&c->racy, 1, memory_order_relaxed);
        return false;
    }
    uint64_t h = key_hash(st->st_dev, st->st_ino);
    struct cache_shard *s = shard_of(c, h);
    bool evicted = false;
    pthread_mutex_lock(&s->lock);
    uint32_t i = shard_find(s, h, st->st_dev, st->st_ino);
    if (i != NIL) {
        lru_unlink(s, i);
    } else {
        if (s->count == s->capacity) {
            shard_remove(s, s->lru_tail);
            evicted = true;
        }
        if (s->free_head != NIL) {
            i = s->free_head;
            s->free_head = s->entries[i].hash_next;
        } else {
            i = s->fresh++; /* count < capacity, so fresh < capacity */
        }
        uint32_t *bucket = &s->buckets[(uint32_t)h & s->mask];
        s->entries[i].hash_next = *bucket;
        *bucket = i;
        s->count++;
    }
    set_version(&s->entries[i], st);
    s->entries[i].result = *r;
    lru_push_front(s, i);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add_explicit(&c->inserts, 1, memory_order_relaxed);
    if (evicted)
        atomic_fetch_add_explicit(&c->evictions, 1, memory_order_relaxed);
    return true;
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
    memset(out, 0, sizeof *out);
    out->hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    out->stale = atomic_load_explicit(&c->stale, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&c->evictions, memory_order_relaxed);
    out->inserts = atomic_load_explicit(&c->inserts, memory_order_relaxed);
    out->racy = atomic_load_explicit(&c->racy, memory_order_relaxed);
    out->capacity = c->capacity;
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        out->entries += c->shards[i].count;
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}
