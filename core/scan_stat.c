/*
 * scan_stat.c - the queued, pooled fstatat pass of a scan; see scan_stat.h.
 *
 * The one design decision: workers write only into their blocks, never into the result
 * (the entry array may be reallocated meanwhile); the scan copies the answers into its
 * entries after scan_stat_run, in order.
 */
#include "scan_stat.h"

#include "alloc.h"
#include "parallel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

struct scan_stat_block {
    struct scan_stat_block *next_queued; /* pool queue, under the pool's lock */
    struct scan_stat_block *next_in_dir; /* the main thread's list for this directory */
    int dirfd;
    unsigned count;
    struct scan_stat_item items[SCAN_STAT_BLOCK];
};

/* Workers that stat queued blocks; created on first need, joined at the scan's end. */
struct scan_stat_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* the queue is not empty, or shutdown */
    pthread_cond_t idle; /* outstanding dropped to 0 */
    struct scan_stat_block *head;
    struct scan_stat_block *tail;
    size_t outstanding; /* blocks queued or being worked on */
    bool shutdown;
    size_t started;
    struct parallel_thread *threads; /* threads - 1 slots, the started ones first */
};

static void scan_stat_block_run(struct scan_stat_block *b)
{
    for (unsigned k = 0; k < b->count; k++) {
        struct scan_stat_item *it = &b->items[k];
        struct stat st;
        if (fstatat(b->dirfd, it->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            it->status = errno;
            continue;
        }
        bool same = it->type == SCAN_TYPE_FILE ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode);
        if (!same) {
            it->status = SCAN_STAT_REPLACED;
            continue;
        }
        it->status = 0;
        it->size = it->type == SCAN_TYPE_FILE ? (uint64_t)st.st_size : 0;
        it->mtime_sec = (int64_t)st.st_mtim.tv_sec;
        it->mtime_nsec = st.st_mtim.tv_nsec;
    }
}

/* ---------------------------------------------------------------------------------------
 * The pool
 * --------------------------------------------------------------------------------------- */

/* Take one queued block and run it; false when the queue is empty. Caller holds no lock. */
static bool scan_stat_pool_work_one(struct scan_stat_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    struct scan_stat_block *b = pool->head;
    if (b != NULL) {
        pool->head = b->next_queued;
        if (pool->head == NULL)
            pool->tail = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    if (b == NULL)
        return false;
    scan_stat_block_run(b);
    pthread_mutex_lock(&pool->lock);
    if (--pool->outstanding == 0)
        pthread_cond_broadcast(&pool->idle);
    pthread_mutex_unlock(&pool->lock);
    return true;
}

static void *scan_stat_pool_worker(void *arg)
{
    struct scan_stat_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->shutdown)
            pthread_cond_wait(&pool->work, &pool->lock);
        bool quit = pool->head == NULL && pool->shutdown;
        pthread_mutex_unlock(&pool->lock);
        if (quit)
            return NULL;
        scan_stat_pool_work_one(pool);
    }
}

static void scan_stat_pool_free(struct scan_stat_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->shutdown = true;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (size_t t = 0; t < pool->started; t++)
        (void)parallel_thread_join(&pool->threads[t]);
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

/* Start up to threads - 1 workers (the main thread is the last one), as many as the thread
 * budget grants. A pool that cannot start any worker is not an error: the main thread then
 * does every fstatat itself. */
static void scan_stat_pool_start(struct scan_stat *s)
{
    s->pool_tried = true;
    size_t workers = s->threads - 1;
    struct scan_stat_pool *pool = alloc_zeroed(1, sizeof *pool);
    if (pool == NULL)
        return;
    pool->threads = alloc_zeroed(workers, sizeof *pool->threads);
    if (pool->threads == NULL || pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool->threads);
        free(pool);
        return;
    }
    if (pthread_cond_init(&pool->work, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool->threads);
        free(pool);
        return;
    }
    if (pthread_cond_init(&pool->idle, NULL) != 0) {
        pthread_cond_destroy(&pool->work);
        pthread_mutex_destroy(&pool->lock);
        free(pool->threads);
        free(pool);
        return;
    }
    while (pool->started < workers &&
           parallel_thread_try(&pool->threads[pool->started], scan_stat_pool_worker, pool))
        pool->started++;
    if (pool->started == 0) {
        scan_stat_pool_free(pool);
        return;
    }
    s->pool = pool;
}

/* ---------------------------------------------------------------------------------------
 * Queueing and answers
 * --------------------------------------------------------------------------------------- */

/* Hand the block being filled to the directory's list and, with a pool, to the workers.
 * The pool is started only for a full block: a directory with fewer than SCAN_STAT_BLOCK
 * names to stat is not worth a thread. */
static void scan_stat_submit(struct scan_stat *s, bool full)
{
    struct scan_stat_block *b = s->filling;
    if (b == NULL)
        return;
    s->filling = NULL;
    b->next_in_dir = NULL;
    b->next_queued = NULL;
    if (s->dir_last != NULL)
        s->dir_last->next_in_dir = b;
    else
        s->dir_first = b;
    s->dir_last = b;
    if (full && s->pool == NULL && !s->pool_tried && s->threads > 1)
        scan_stat_pool_start(s);
    if (s->pool == NULL)
        return;
    struct scan_stat_pool *pool = s->pool;
    pthread_mutex_lock(&pool->lock);
    if (pool->tail != NULL)
        pool->tail->next_queued = b;
    else
        pool->head = b;
    pool->tail = b;
    pool->outstanding++;
    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
}

bool scan_stat_add(struct scan_stat *s, int dirfd, const char *name, size_t entry,
                   enum scan_type type)
{
    struct scan_stat_block *b = s->filling;
    if (b == NULL) {
        b = s->free_blocks;
        if (b != NULL)
            s->free_blocks = b->next_in_dir;
        else if ((b = alloc_bytes(sizeof *b)) == NULL)
            return false;
        b->dirfd = dirfd;
        b->count = 0;
        s->filling = b;
    }
    struct scan_stat_item *it = &b->items[b->count++];
    it->name = name;
    it->entry = entry;
    it->type = type;
    if (b->count == SCAN_STAT_BLOCK)
        scan_stat_submit(s, true);
    return true;
}

void scan_stat_run(struct scan_stat *s)
{
    scan_stat_submit(s, false);
    if (s->dir_first == NULL)
        return;
    if (s->pool != NULL) {
        struct scan_stat_pool *pool = s->pool;
        while (scan_stat_pool_work_one(pool))
            ;
        pthread_mutex_lock(&pool->lock);
        while (pool->outstanding > 0)
            pthread_cond_wait(&pool->idle, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    } else {
        for (struct scan_stat_block *b = s->dir_first; b != NULL; b = b->next_in_dir)
            scan_stat_block_run(b);
    }
}

const struct scan_stat_item *scan_stat_first(const struct scan_stat *s, struct scan_stat_cursor *c)
{
    c->block = s->dir_first;
    c->k = 0;
    return scan_stat_next(c);
}

const struct scan_stat_item *scan_stat_next(struct scan_stat_cursor *c)
{
    while (c->block != NULL && c->k == c->block->count) {
        c->block = c->block->next_in_dir;
        c->k = 0;
    }
    return c->block != NULL ? &c->block->items[c->k++] : NULL;
}

void scan_stat_recycle(struct scan_stat *s)
{
    if (s->dir_last != NULL) {
        s->dir_last->next_in_dir = s->free_blocks;
        s->free_blocks = s->dir_first;
    }
    s->dir_first = NULL;
    s->dir_last = NULL;
}

void scan_stat_cleanup(struct scan_stat *s)
{
    scan_stat_pool_free(s->pool);
    s->pool = NULL;
    free(s->filling);
    s->filling = NULL;
    scan_stat_recycle(s);
    while (s->free_blocks != NULL) {
        struct scan_stat_block *next = s->free_blocks->next_in_dir;
        free(s->free_blocks);
        s->free_blocks = next;
    }
}
