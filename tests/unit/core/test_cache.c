/*
 * test_cache.c - core/cache.c: hit and miss, never stale (rewritten in place with a new
 * mtime, rewritten with the old mtime restored, replaced by rename with the same size and
 * mtime), the LRU bound and order against a naive LRU model, directories never cached, and
 * 8 threads hammering one cache (run it under TSan: -DTESSERA_TSAN=ON). Timestamps: the
 * racy-ctime rule (an entry is kept only once the file's ctime is CACHE_RACY_NS older than
 * its read) against a 128-bit reference, and versions compared over extreme timestamps
 * (negative, the 2262 boundary of int64 nanoseconds, 2^63 - 1 seconds), run under UBSan.
 * Files are left to settle past CACHE_RACY_NS after each change before the checks that
 * expect their entry to be kept.
 */
#include "cache.h"
#include "check.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[512];

/* Wait until every file changed so far is older than the racy-ctime margin. */
static void settle(void)
{
    struct timespec ts = {0, 2 * CACHE_RACY_NS};
    nanosleep(&ts, NULL);
}

static int open_file(const char *name)
{
    char p[1024];
    check_path_join(p, sizeof p, dir, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static struct classify_result result_with(uint64_t width)
{
    struct classify_result r;
    memset(&r, 0, sizeof r);
    r.container = CLASSIFY_CONTAINER_TIFF;
    r.width = width;
    snprintf(r.format, sizeof r.format, "tiff");
    return r;
}

/* Lookup by name; on a miss, insert result_with(width). Returns whether it hit and, on a
 * hit, checks the cached width. */
static bool lookup_or_insert(struct cache *c, const char *name, uint64_t width)
{
    int fd = open_file(name);
    struct stat st;
    struct classify_result r;
    struct timespec seen;
    cache_now(&seen);
    bool hit = cache_lookup(c, fd, &st, &r);
    if (hit)
        CHECK_INT(r.width, width);
    else {
        struct classify_result fresh = result_with(width);
        cache_insert(c, &st, &seen, &fresh);
    }
    close(fd);
    return hit;
}

static void test_hit_miss_stale(void)
{
    struct cache *c;
    struct error_info err;
    CHECK_INT(cache_new(16, 1, &c, &err), ERROR_OK);
    check_write_file(dir, "a.tif", "AAAA", sizeof "AAAA" - 1);
    settle();
    CHECK(!lookup_or_insert(c, "a.tif", 1));
    CHECK(lookup_or_insert(c, "a.tif", 1));
    CHECK(lookup_or_insert(c, "a.tif", 1));

    /* rewritten in place, same size, mtime moved explicitly */
    char p[1024];
    check_path_join(p, sizeof p, dir, "a.tif");
    struct stat before;
    CHECK(stat(p, &before) == 0);
    check_write_file(dir, "a.tif", "BBBB", sizeof "BBBB" - 1);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    times[1].tv_sec += 5;
    CHECK(utimensat(AT_FDCWD, p, times, 0) == 0);
    settle();
    CHECK(!lookup_or_insert(c, "a.tif", 2));
    CHECK(lookup_or_insert(c, "a.tif", 2));

    /* rewritten in place and the old mtime put back: ctime still moves */
    struct stat mid;
    CHECK(stat(p, &mid) == 0);
    usleep(20000);
    check_write_file(dir, "a.tif", "CCCC", sizeof "CCCC" - 1);
    struct timespec restore[2] = {mid.st_atim, mid.st_mtim};
    CHECK(utimensat(AT_FDCWD, p, restore, 0) == 0);
    struct stat after;
    CHECK(stat(p, &after) == 0);
    CHECK(after.st_mtim.tv_sec == mid.st_mtim.tv_sec &&
          after.st_mtim.tv_nsec == mid.st_mtim.tv_nsec);
    settle();
    CHECK(!lookup_or_insert(c, "a.tif", 3));
    CHECK(lookup_or_insert(c, "a.tif", 3));

    /* replaced by rename: same size, same mtime, new inode */
    check_write_file(dir, "b.tif", "DDDD", sizeof "DDDD" - 1);
    char q[1024];
    check_path_join(q, sizeof q, dir, "b.tif");
    struct timespec same[2] = {after.st_atim, after.st_mtim};
    CHECK(utimensat(AT_FDCWD, q, same, 0) == 0);
    int old_fd = open_file("a.tif");
    CHECK(rename(q, p) == 0);
    settle();
    CHECK(!lookup_or_insert(c, "a.tif", 4));
    CHECK(lookup_or_insert(c, "a.tif", 4));
    /* the old descriptor names the replaced file: unlinking it moved its ctime, so its
     * entry is stale too */
    struct stat st;
    struct classify_result r;
    CHECK(!cache_lookup(c, old_fd, &st, &r));
    close(old_fd);

    /* truncated to a different size */
    check_path_join(p, sizeof p, dir, "a.tif");
    CHECK(truncate(p, 2) == 0);
    CHECK(!lookup_or_insert(c, "a.tif", 5));

    /* directories are never cached */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct classify_result zr = result_with(9);
    struct timespec seen;
    cache_now(&seen);
    CHECK(!cache_lookup(c, dfd, &st, &r));
    CHECK(!cache_insert(c, &st, &seen, &zr));
    CHECK(!cache_lookup(c, dfd, &st, &r));
    close(dfd);

    /* a bad descriptor is a miss with a zeroed stat */
    CHECK(!cache_lookup(c, -1, &st, &r));
    CHECK_INT(st.st_ino, 0);

    struct cache_stats s;
    cache_get_stats(c, &s);
    CHECK_INT(s.hits, 5);
    CHECK_INT(s.misses, 9);
    CHECK_INT(s.stale, 4);
    CHECK_INT(s.evictions, 0);
    CHECK_INT(s.capacity, 16);
    CHECK_INT(s.racy, 1); /* the truncated file, classified right after the change */
    cache_free(c);
}

/* The LRU against a naive model: an array in recency order. */
static void test_lru_model(void)
{
    enum { FILES = 24, CAP = 7, OPS = 20000 };
    char names[FILES][32];
    for (int i = 0; i < FILES; i++) {
        snprintf(names[i], sizeof names[i], "lru%02d.tif", i);
        check_write_file(dir, names[i], "x", sizeof "x" - 1);
    }
    settle();
    struct cache *c;
    struct error_info err;
    CHECK_INT(cache_new(CAP, 1, &c, &err), ERROR_OK);
    int model[CAP];
    int held = 0;
    uint64_t rng_state = 99;
    unsigned mismatches = 0, evictions = 0;
    for (int op = 0; op < OPS; op++) {
        uint64_t draw = check_rng_next(&rng_state);
        /* skewed: low indices are hot */
        int f = (int)((draw >> 33) % FILES);
        if ((draw >> 20) % 3 != 0)
            f %= 10;
        int pos = -1;
        for (int k = 0; k < held; k++)
            if (model[k] == f)
                pos = k;
        bool want_hit = pos >= 0;
        if (want_hit) {
            memmove(model + 1, model, (size_t)pos * sizeof model[0]);
            model[0] = f;
        } else {
            if (held == CAP) {
                held--;
                evictions++;
            }
            memmove(model + 1, model, (size_t)held * sizeof model[0]);
            model[0] = f;
            held++;
        }
        bool hit = lookup_or_insert(c, names[f], (uint64_t)f + 100);
        if (hit != want_hit)
            mismatches++;
    }
    CHECK_INT(mismatches, 0);
    struct cache_stats s;
    cache_get_stats(c, &s);
    CHECK_INT(s.entries, CAP);
    CHECK_INT(s.evictions, evictions);
    CHECK_INT(s.hits + s.misses, OPS);
    cache_free(c);

    /* sharded: the bound still holds exactly */
    CHECK_INT(cache_new(10, 4, &c, &err), ERROR_OK);
    for (int i = 0; i < FILES; i++)
        lookup_or_insert(c, names[i], (uint64_t)i);
    cache_get_stats(c, &s);
    CHECK(s.entries <= 10);
    CHECK_INT(s.evictions, FILES - s.entries);
    cache_free(c);

    CHECK_INT(cache_new(0, 1, &c, &err), ERROR_INVALID);
    CHECK(c == NULL);
    cache_free(NULL);
    CHECK_INT(cache_new(1, 0, &c, &err), ERROR_OK);
    CHECK(!lookup_or_insert(c, names[0], 1));
    CHECK(!lookup_or_insert(c, names[1], 2));
    CHECK(!lookup_or_insert(c, names[0], 1));
    cache_free(c);
}

/* ---- timestamps -------------------------------------------------------------------------- */

/* A regular file's stat with the given identity, size and times. */
static struct stat stat_with(ino_t ino, off_t size, struct timespec mtime, struct timespec ctime)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = S_IFREG | 0644;
    st.st_dev = 7;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mtim = mtime;
    st.st_ctim = ctime;
    return st;
}

__extension__ typedef __int128 int128;

static int128 ns128(struct timespec t)
{
    return (int128)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The racy-ctime rule of cache.h, in 128-bit nanoseconds: no overflow possible. */
static bool settled_reference(struct timespec ctime, struct timespec seen)
{
    int128 margin = ctime.tv_nsec == 0 ? CACHE_RACY_COARSE_NS : CACHE_RACY_NS;
    return ns128(seen) - ns128(ctime) >= margin;
}

/* Seconds at the edges: time_t's ends, around 0, and around 2262-04-11 where int64
 * nanoseconds overflow (2^63 ns = 9223372036.854775808 s); 2^55 s apart from 0 wraps to
 * the same int64 nanoseconds. */
static const time_t edge_secs[] = {
    INT64_MIN,     INT64_MIN + 1, -9300000000, -1,         0,          1,
    1700000000,    9223372035,    9223372036,  9223372037, 9300000000, 36028797018963968,
    INT64_MAX - 3, INT64_MAX - 1, INT64_MAX};
static const long edge_nsecs[] = {0, 1, 854775807, 854775808, 999999999};
enum { EDGE_SECS = sizeof edge_secs / sizeof edge_secs[0] };
enum { EDGE_NSECS = sizeof edge_nsecs / sizeof edge_nsecs[0] };
enum { EDGES = EDGE_SECS * EDGE_NSECS };

static struct timespec edge(size_t i)
{
    return (struct timespec){edge_secs[i / EDGE_NSECS], edge_nsecs[i % EDGE_NSECS]};
}

/* Every pair of extreme timestamps: the racy rule equals its 128-bit reference, and a lookup
 * hits exactly when size, mtime and ctime are equal field by field (UBSan traps any
 * overflow on the way). */
static void test_extreme_times(void)
{
    unsigned wrong_rule = 0, wrong_hits = 0, kept = 0;
    for (size_t a = 0; a < EDGES; a++)
        for (size_t b = 0; b < EDGES; b++)
            if (cache_ctime_settled(&(struct timespec){edge(a).tv_sec, edge(a).tv_nsec},
                                    &(struct timespec){edge(b).tv_sec, edge(b).tv_nsec}) !=
                settled_reference(edge(a), edge(b)))
                wrong_rule++;
    CHECK_INT(wrong_rule, 0);

    struct cache *c;
    struct error_info err;
    CHECK_INT(cache_new(4, 1, &c, &err), ERROR_OK);
    const struct timespec old_ctime = {1000, 5}, far_seen = {INT64_MAX, 999999999};
    struct timespec now;
    cache_now(&now);
    for (size_t a = 0; a < EDGES; a++) {
        for (size_t b = 0; b < EDGES; b++) {
            /* mtime anywhere (utimensat sets any), ctime long settled */
            struct stat sa = stat_with(1, 10, edge(a), old_ctime);
            struct stat sb = stat_with(1, 10, edge(b), old_ctime);
            struct classify_result r = result_with(a), got;
            CHECK(cache_insert(c, &sa, &now, &r));
            bool hit = cache_lookup_stat(c, &sb, &got);
            if (hit != (ns128(edge(a)) == ns128(edge(b))) || (hit && got.width != a))
                wrong_hits++;
            /* ctime anywhere, read at the end of time: kept as the rule says */
            sa = stat_with(2, 10, old_ctime, edge(a));
            sb = stat_with(2, 10, old_ctime, edge(b));
            bool keep = settled_reference(edge(a), far_seen);
            if (cache_insert(c, &sa, &far_seen, &r) != keep)
                wrong_hits++;
            kept += keep;
            hit = cache_lookup_stat(c, &sb, &got);
            if (hit != (keep && ns128(edge(a)) == ns128(edge(b))))
                wrong_hits++;
        }
    }
    CHECK_INT(wrong_hits, 0);
    CHECK(kept > 0 && kept < EDGES * EDGES);

    /* a real file stamped after 2262 (os.utime(f, (0, 9.3e9))): cached and validated like
     * any other, whatever the file system stored */
    check_write_file(dir, "far.tif", "FFFF", sizeof "FFFF" - 1);
    char p[1024];
    check_path_join(p, sizeof p, dir, "far.tif");
    struct timespec times[2] = {{0, 0}, {9300000000, 0}};
    CHECK(utimensat(AT_FDCWD, p, times, 0) == 0);
    settle();
    CHECK(!lookup_or_insert(c, "far.tif", 77));
    CHECK(lookup_or_insert(c, "far.tif", 77));
    times[1].tv_sec = 9300000001;
    CHECK(utimensat(AT_FDCWD, p, times, 0) == 0);
    settle();
    CHECK(!lookup_or_insert(c, "far.tif", 78));
    CHECK(lookup_or_insert(c, "far.tif", 78));
    cache_free(c);
}

/* git's racy rule: an entry whose ctime is within CACHE_RACY_NS of its read is never kept,
 * so a same-size rewrite in the same clock tick (same size, mtime and ctime) cannot be
 * served the old result. */
static void test_racy(void)
{
    struct cache *c;
    struct error_info err;
    CHECK_INT(cache_new(8, 1, &c, &err), ERROR_OK);
    struct classify_result r = result_with(5), got;

    /* the rule at its edges, with the stat a same-tick rewrite would give */
    const struct timespec ctime = {1700000000, 123456789};
    struct stat st = stat_with(3, 100, ctime, ctime);
    struct timespec seen = {1700000000, 123456789 + CACHE_RACY_NS - 1};
    CHECK(!cache_insert(c, &st, &seen, &r));
    CHECK(!cache_lookup_stat(c, &st, &got)); /* the rewrite is classified afresh */
    seen.tv_nsec++;
    CHECK(cache_insert(c, &st, &seen, &r));
    CHECK(cache_lookup_stat(c, &st, &got));
    /* across a second boundary */
    struct stat st2 = stat_with(4, 100, ctime, (struct timespec){1699999999, 990000000});
    CHECK(!cache_insert(c, &st2, &(struct timespec){1700000000, 9999999}, &r));
    CHECK(cache_insert(c, &st2, &(struct timespec){1700000000, 10000000}, &r));
    /* a ctime in the future (a clock stepped back) is never kept */
    struct stat st3 = stat_with(5, 100, ctime, (struct timespec){1700000001, 0});
    CHECK(!cache_insert(c, &st3, &(struct timespec){1700000000, 999999999}, &r));
    /* whole-second timestamps (one-second file systems) need CACHE_RACY_COARSE_NS */
    struct stat st4 = stat_with(6, 100, ctime, (struct timespec){1700000000, 0});
    CHECK(!cache_insert(c, &st4, &(struct timespec){1700000001, 999999999}, &r));
    CHECK(cache_insert(c, &st4, &(struct timespec){1700000002, 0}, &r));

    /* a real file: classified right after it was written, nothing is kept; once its ctime
     * has settled, the entry is kept and served; rewritten with the same size, the next read
     * is fresh and again not kept. Each insert is checked against the reference rule on the
     * stat it got, so a thread stalled past the margin cannot make the check wrong. */
    unsigned refused = 4;
    for (int round = 0; round < 2; round++) {
        check_write_file(dir, "racy.tif", round == 0 ? "RRRR" : "SSSS", 4);
        int fd = open_file("racy.tif");
        cache_now(&seen);
        CHECK(!cache_lookup(c, fd, &st, &got));
        bool keep = settled_reference(st.st_ctim, seen); /* false unless this thread stalled */
        CHECK_INT(cache_insert(c, &st, &seen, &r), keep);
        refused += !keep;
        CHECK_INT(cache_lookup(c, fd, &st, &got), keep);
        settle();
        cache_now(&seen);
        if (!cache_lookup(c, fd, &st, &got)) {
            CHECK(settled_reference(st.st_ctim, seen));
            CHECK(cache_insert(c, &st, &seen, &r));
        }
        CHECK(cache_lookup(c, fd, &st, &got));
        close(fd);
    }
    struct cache_stats s;
    cache_get_stats(c, &s);
    CHECK_INT(s.racy, refused);
    CHECK(refused > 4); /* at least one real read was refused (both, unless stalled 20 ms) */
    cache_free(c);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { THREADS = 8, THREAD_FILES = 64, THREAD_OPS = 20000 };

struct worker {
    struct cache *cache;
    int fds[THREAD_FILES];
    uint64_t rng_state;
    unsigned wrong;
    unsigned lookups;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < THREAD_OPS; i++) {
        int f = (int)check_rng_below(&w->rng_state, THREAD_FILES);
        struct stat st;
        struct classify_result r;
        struct timespec seen;
        cache_now(&seen);
        w->lookups++;
        if (cache_lookup(w->cache, w->fds[f], &st, &r)) {
            if (r.width != (uint64_t)st.st_ino)
                w->wrong++;
        } else {
            struct classify_result fresh = result_with((uint64_t)st.st_ino);
            cache_insert(w->cache, &st, &seen, &fresh);
        }
        if (i % 1000 == 0) {
            struct cache_stats s;
            cache_get_stats(w->cache, &s);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    int fds[THREAD_FILES];
    for (int i = 0; i < THREAD_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%02d.tif", i);
        check_write_file(dir, name, "data", sizeof "data" - 1);
        fds[i] = open_file(name);
    }
    settle();
    struct cache *c;
    struct error_info err;
    /* smaller than the working set, so inserts evict while others look up */
    CHECK_INT(cache_new(40, 4, &c, &err), ERROR_OK);
    pthread_t tids[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.cache = c, .rng_state = (uint64_t)t * 7919u + 1};
        memcpy(workers[t].fds, fds, sizeof fds);
        CHECK(pthread_create(&tids[t], NULL, hammer, &workers[t]) == 0);
    }
    unsigned wrong = 0, lookups = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tids[t], NULL);
        wrong += workers[t].wrong;
        lookups += workers[t].lookups;
    }
    CHECK_INT(wrong, 0);
    struct cache_stats s;
    cache_get_stats(c, &s);
    CHECK_INT(s.hits + s.misses, lookups);
    CHECK(s.entries <= 40);
    CHECK(s.hits > 0 && s.evictions > 0);
    cache_free(c);
    for (int i = 0; i < THREAD_FILES; i++)
        close(fds[i]);
}

int main(void)
{
    check_tmpdir(dir, sizeof dir);
    test_hit_miss_stale();
    test_lru_model();
    test_racy();
    test_extreme_times();
    test_threads();
    check_rmtree(dir);
    return check_finish("test_cache");
}
