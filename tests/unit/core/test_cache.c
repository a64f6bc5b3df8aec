/*
 * test_cache.c - core/cache.c: hit and miss, never stale (rewritten in place with a new
 * mtime, rewritten with the old mtime restored, replaced by rename with the same size and
 * mtime), the LRU bound and order against a naive LRU model, directories never cached, and
 * 8 threads hammering one cache (run it under TSan: -DTESSERA_TSAN=ON).
 */
#include "cache.h"
#include "check.h"
#include "files.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

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
    bool hit = cache_lookup(c, fd, &st, &r);
    if (hit)
        CHECK_INT(r.width, width);
    else {
        struct classify_result fresh = result_with(width);
        cache_insert(c, &st, &fresh);
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
    CHECK(!cache_lookup(c, dfd, &st, &r));
    cache_insert(c, &st, &zr);
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
        w->lookups++;
        if (cache_lookup(w->cache, w->fds[f], &st, &r)) {
            if (r.width != (uint64_t)st.st_ino)
                w->wrong++;
        } else {
            struct classify_result fresh = result_with((uint64_t)st.st_ino);
            cache_insert(w->cache, &st, &fresh);
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
    test_threads();
    check_rmtree(dir);
    return check_finish("test_cache");
}
