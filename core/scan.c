/*
 * scan.c - one-pass listing of image files beneath the data root; see scan.h.
 *
 * The one design decision: a directory is read to the end with getdents64 into one shared
 * buffer before any subdirectory is opened, so the walk holds one descriptor per level
 * (at most SCAN_DEPTH_MAX + 1) and one buffer for the whole scan. Subdirectories found
 * while reading are pushed as names onto a byte stack and visited afterwards, depth first.
 * Real subdirectories are opened with openat(O_NOFOLLOW) relative to their parent (a name
 * swapped for a link mid-scan fails instead of escaping); symbolic links are resolved with
 * confine_open from the root, and a directory whose (device, inode) is already on the
 * current path is a loop, reported and skipped.
 *
 * fstatat is the dominant cost (one per reported entry, ~2-3 us each in a VM), so the
 * names needing it are queued in blocks while the directory is read: with threads > 1 a
 * small worker pool stats full blocks while the main thread goes on reading, and at the
 * directory's end the main thread helps drain the queue and waits for it, before any
 * subdirectory is opened (so the directory's descriptor is still open).
 */
#include "scan.h"

#include "alloc.h"
#include "confine.h"
#include "limit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* getdents64 buffer: about 3,000 names per system call. */
#define SCAN_DENTS_BYTES (128u << 10)
/* Arena chunk for path strings: about 2,000 typical paths. */
#define SCAN_ARENA_CHUNK (64u << 10)
/* First allocation of the entry and error arrays; each then doubles up to its cap. */
#define SCAN_INITIAL_SLOTS 256u
/* Names per stat block: the unit handed to a worker. */
#define SCAN_STAT_BLOCK 64u
/* Status of a queued fstatat whose target changed type under us (not an errno). */
#define SCAN_STAT_REPLACED (-1)

/* Kinds of pending subdirectory, the first byte of each record on the pending stack. */
#define SCAN_PENDING_DIR  'd' /* a real directory: openat from the parent */
#define SCAN_PENDING_LINK 'l' /* a symbolic link to a directory: confine_open from the root */

static const char scan_suffix_tif[] = ".tif";
static const char scan_suffix_tiff[] = ".tiff";
static const char scan_suffix_ome_tif[] = ".ome.tif";
static const char scan_suffix_ome_tiff[] = ".ome.tiff";
static const char scan_suffix_zarr[] = ".zarr";

struct scan_arena {
    struct scan_arena *next;
    size_t used;
    size_t size;
    char data[];
};

struct scan_dir_id {
    dev_t dev;
    ino_t ino;
};

/* One queued fstatat and its answer. name lives in the arena, so it never moves. */
struct scan_stat_item {
    const char *name;
    size_t entry; /* index in result->entries */
    enum scan_type type;
    int status; /* 0, an errno, or SCAN_STAT_REPLACED */
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
};

struct scan_stat_block {
    struct scan_stat_block *next_queued; /* pool queue, under the pool's lock */
    struct scan_stat_block *next_in_dir; /* the main thread's list for this directory */
    int dirfd;
    unsigned count;
    struct scan_stat_item items[SCAN_STAT_BLOCK];
};

/* Workers that stat queued blocks; created on first need, joined at the scan's end. */
struct scan_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* the queue is not empty, or shutdown */
    pthread_cond_t idle; /* outstanding dropped to 0 */
    struct scan_stat_block *head;
    struct scan_stat_block *tail;
    size_t outstanding; /* blocks queued or being worked on */
    bool shutdown;
    size_t started;
    pthread_t tid[SCAN_THREADS_MAX];
};

/* Everything one scan_tree call works with; heap-allocated (the path buffers are large). */
struct scan_walk {
    int root_fd;
    const struct scan_options *opt;
    struct scan_result *res;
    struct error_info *err;
    size_t entry_cap;
    size_t error_cap;
    bool stop;   /* a bound was hit or a fatal error happened: unwind */
    char *dents; /* SCAN_DENTS_BYTES, shared by every level */
    char *pending;
    size_t pending_len;
    size_t pending_cap;
    struct scan_pool *pool;            /* NULL: stat on the main thread only */
    bool pool_tried;                   /* creation attempted (it may have failed) */
    struct scan_stat_block *filling;   /* block being filled, not yet submitted */
    struct scan_stat_block *dir_first; /* submitted blocks of the current directory */
    struct scan_stat_block *dir_last;
    struct scan_stat_block *free_blocks;
    struct scan_dir_id ids[SCAN_DEPTH_MAX + 1]; /* directories on the current path */
    size_t path_len;
    char path[CONFINE_PATH_MAX + 1];    /* current directory, relative to the root */
    char scratch[CONFINE_PATH_MAX + 1]; /* a link's full path */
};

/* ---------------------------------------------------------------------------------------
 * Names: suffix match and natural order
 *
 * Both run once per directory entry or per comparison, so they stay branch-light and
 * locale-free: ASCII case folding, ASCII digits.
 * --------------------------------------------------------------------------------------- */

static unsigned char scan_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool scan_ends_with(const char *name, size_t len, const char *suffix, size_t slen)
{
    if (len < slen)
        return false;
    const unsigned char *p = (const unsigned char *)name + (len - slen);
    for (size_t i = 0; i < slen; i++)
        if (scan_lower(p[i]) != (unsigned char)suffix[i])
            return false;
    return true;
}

const char *scan_match_suffix(const char *name, size_t len)
{
    if (len < 4)
        return NULL;
    unsigned char last = scan_lower((unsigned char)name[len - 1]);
    if (last == 'r')
        return scan_ends_with(name, len, scan_suffix_zarr, sizeof scan_suffix_zarr - 1)
                   ? scan_suffix_zarr
                   : NULL;
    if (last != 'f')
        return NULL;
    if (scan_ends_with(name, len, scan_suffix_tiff, sizeof scan_suffix_tiff - 1))
        return scan_ends_with(name, len, scan_suffix_ome_tiff, sizeof scan_suffix_ome_tiff - 1)
                   ? scan_suffix_ome_tiff
                   : scan_suffix_tiff;
    if (scan_ends_with(name, len, scan_suffix_tif, sizeof scan_suffix_tif - 1))
        return scan_ends_with(name, len, scan_suffix_ome_tif, sizeof scan_suffix_ome_tif - 1)
                   ? scan_suffix_ome_tif
                   : scan_suffix_tif;
    return NULL;
}

static bool scan_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int scan_natural_compare(const char *a, const char *b)
{
    /* Skip the common prefix (paths in one directory share most of theirs), then back up
     * to the start of a digit run it may end inside; tokens before that point are equal. */
    size_t i = 0;
    while (a[i] == b[i] && a[i] != '\0')
        i++;
    if (a[i] == b[i])
        return 0;
    int bytewise = (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    while (i > 0 && scan_is_digit((unsigned char)a[i - 1]))
        i--;
    const unsigned char *p = (const unsigned char *)a + i;
    const unsigned char *q = (const unsigned char *)b + i;
    for (;;) {
        if (scan_is_digit(*p) && scan_is_digit(*q)) {
            while (*p == '0')
                p++;
            while (*q == '0')
                q++;
            const unsigned char *pe = p;
            const unsigned char *qe = q;
            while (scan_is_digit(*pe))
                pe++;
            while (scan_is_digit(*qe))
                qe++;
            size_t plen = (size_t)(pe - p);
            size_t qlen = (size_t)(qe - q);
            if (plen != qlen)
                return plen < qlen ? -1 : 1;
            int c = memcmp(p, q, plen);
            if (c != 0)
                return c < 0 ? -1 : 1;
            p = pe;
            q = qe;
            continue;
        }
        if (*p != *q)
            return *p < *q ? -1 : 1;
        if (*p == '\0')
            return bytewise; /* equal as numbers ("a01", "a1"): plain byte order decides */
        p++;
        q++;
    }
}

const char *scan_type_name(enum scan_type type)
{
    return type == SCAN_TYPE_ZARR ? "zarr" : "file";
}

void scan_options_init(struct scan_options *opt)
{
    opt->recursive = false;
    opt->max_depth = LIMIT_SCAN_MAX_DEPTH;
    opt->include_hidden = false;
    opt->max_entries = LIMIT_SCAN_MAX_ENTRIES;
    opt->deadline = 0;
    opt->want_stat = true;
    opt->threads = 1;
}

/* ---------------------------------------------------------------------------------------
 * Result storage
 *
 * Path strings go to an arena of chunks freed at once; the entry and error arrays double
 * up to their caps (max_entries, SCAN_ERRORS_MAX), so a result never grows unbounded.
 * --------------------------------------------------------------------------------------- */

static char *scan_arena_alloc(struct scan_result *res, size_t n)
{
    struct scan_arena *a = res->arena;
    if (a == NULL || a->size - a->used < n) {
        size_t size = n > SCAN_ARENA_CHUNK ? n : SCAN_ARENA_CHUNK;
        struct scan_arena *fresh = alloc_bytes(sizeof *fresh + size);
        if (fresh == NULL)
            return NULL;
        fresh->next = a;
        fresh->used = 0;
        fresh->size = size;
        res->arena = fresh;
        a = fresh;
    }
    char *p = a->data + a->used;
    a->used += n;
    return p;
}

/* Grow *array (of elem bytes, *cap slots) to hold one more than count, at most limit slots.
 * Returns false only when out of memory. */
static bool scan_grow(void **array, size_t *cap, size_t count, size_t limit, size_t elem)
{
    if (count < *cap)
        return true;
    size_t want = *cap == 0 ? SCAN_INITIAL_SLOTS : *cap * 2;
    if (want > limit)
        want = limit;
    if (want <= count || want > SIZE_MAX / elem)
        return false;
    void *bigger = alloc_resize(*array, want * elem);
    if (bigger == NULL)
        return false;
    *array = bigger;
    *cap = want;
    return true;
}

/* Copy "<current directory>/<name>" (or "." for the root itself when name is NULL) into
 * the arena. Returns NULL when out of memory; *name_at is the name's offset. */
static char *scan_join(struct scan_walk *w, const char *name, size_t nlen, size_t *name_at)
{
    if (name == NULL) {
        const char *self = w->path_len > 0 ? w->path : ".";
        size_t len = w->path_len > 0 ? w->path_len : 1;
        char *p = scan_arena_alloc(w->res, len + 1);
        if (p != NULL)
            memcpy(p, self, len + 1);
        return p;
    }
    size_t sep = w->path_len > 0 ? 1 : 0;
    char *p = scan_arena_alloc(w->res, w->path_len + sep + nlen + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, w->path, w->path_len);
    if (sep)
        p[w->path_len] = '/';
    memcpy(p + w->path_len + sep, name, nlen + 1);
    if (name_at != NULL)
        *name_at = w->path_len + sep;
    return p;
}

static enum error_code scan_no_memory(struct scan_walk *w)
{
    w->stop = true;
    return error_set(w->err, ERROR_NO_MEMORY, "out of memory listing '%s'",
                     w->path_len > 0 ? w->path : ".");
}

/* Record a problem with path (already in the arena, or NULL: build it from name in the
 * current directory, NULL name meaning the directory itself). detail must outlive the
 * result (static) unless copy is set. */
static enum error_code scan_push_error(struct scan_walk *w, const char *path, const char *name,
                                       size_t nlen, const char *detail, bool copy)
{
    struct scan_result *res = w->res;
    if (res->error_count >= SCAN_ERRORS_MAX) {
        res->errors_dropped++;
        return ERROR_OK;
    }
    if (!scan_grow((void **)&res->errors, &w->error_cap, res->error_count, SCAN_ERRORS_MAX,
                   sizeof *res->errors))
        return scan_no_memory(w);
    if (path == NULL)
        path = scan_join(w, name, nlen, NULL);
    if (path == NULL)
        return scan_no_memory(w);
    if (copy) {
        size_t dlen = strlen(detail);
        char *d = scan_arena_alloc(res, dlen + 1);
        if (d == NULL)
            return scan_no_memory(w);
        memcpy(d, detail, dlen + 1);
        detail = d;
    }
    res->errors[res->error_count].path = path;
    res->errors[res->error_count].detail = detail;
    res->error_count++;
    return ERROR_OK;
}

static enum error_code scan_add_error(struct scan_walk *w, const char *name, size_t nlen,
                                      const char *detail, bool copy)
{
    return scan_push_error(w, NULL, name, nlen, detail, copy);
}

/* The detail listed for a failed system call on an entry or directory. */
static const char *scan_errno_detail(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return "permission denied";
    case ENOENT:
        return "vanished during the scan";
    case ENOTDIR:
    case ELOOP:
    case SCAN_STAT_REPLACED:
        return "replaced during the scan";
    default: {
        const char *text = strerrordesc_np(e);
        return text != NULL ? text : "unknown error";
    }
    }
}

/* A system call on path (or on name in the current directory) failed with e: out of
 * descriptors or memory ends the scan; anything else (permission, vanished, I/O) is listed
 * and the scan goes on. */
static enum error_code scan_push_errno(struct scan_walk *w, const char *path, const char *name,
                                       size_t nlen, int e)
{
    switch (e) {
    case EMFILE:
    case ENFILE:
        w->stop = true;
        return error_set(w->err, ERROR_BUSY, "out of file descriptors listing '%s'",
                         w->path_len > 0 ? w->path : ".");
    case ENOMEM:
        return scan_no_memory(w);
    default:
        return scan_push_error(w, path, name, nlen, scan_errno_detail(e), false);
    }
}

static enum error_code scan_add_errno(struct scan_walk *w, const char *name, size_t nlen, int e)
{
    return scan_push_errno(w, NULL, name, nlen, e);
}

/* A confine_open of a link (or of a linked directory) failed with code and detail. */
static enum error_code scan_add_confine_error(struct scan_walk *w, const char *name, size_t nlen,
                                              const struct error_info *cerr)
{
    switch (cerr->code) {
    case ERROR_NO_MEMORY:
    case ERROR_BUSY:
        w->stop = true;
        return error_set(w->err, cerr->code, "%s", cerr->detail);
    case ERROR_NOT_FOUND:
        return scan_add_error(w, name, nlen, "broken symbolic link: the target does not exist",
                              false);
    default:
        return scan_add_error(w, name, nlen, cerr->detail, true);
    }
}

/* ---------------------------------------------------------------------------------------
 * Entries and bounds
 * --------------------------------------------------------------------------------------- */

static bool scan_past_deadline(struct scan_walk *w)
{
    if (w->opt->deadline == 0)
        return false;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    return ns >= w->opt->deadline;
}

static void scan_truncate(struct scan_walk *w)
{
    w->res->truncated = true;
    w->stop = true;
}

/* ---------------------------------------------------------------------------------------
 * The stat pass
 *
 * Names are queued in blocks while a directory is read. With a pool, each full block is
 * handed to the workers at once; at the directory's end the main thread submits the last
 * partial block, works the queue too, and waits until every block is done. Workers write
 * only into their blocks (the entry array may be reallocated meanwhile); the main thread
 * then copies the answers into the entries and drops the ones whose fstatat failed into
 * the errors list, keeping the order.
 * --------------------------------------------------------------------------------------- */

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

/* Take one queued block and run it; false when the queue is empty. Caller holds no lock. */
static bool scan_pool_work_one(struct scan_pool *pool)
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

static void *scan_pool_worker(void *arg)
{
    struct scan_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->shutdown)
            pthread_cond_wait(&pool->work, &pool->lock);
        bool quit = pool->head == NULL && pool->shutdown;
        pthread_mutex_unlock(&pool->lock);
        if (quit)
            return NULL;
        scan_pool_work_one(pool);
    }
}

static void scan_pool_free(struct scan_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->shutdown = true;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (size_t t = 0; t < pool->started; t++)
        pthread_join(pool->tid[t], NULL);
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* Start threads - 1 workers (the main thread is the last one). A pool that cannot start
 * any worker is not an error: the main thread then does every fstatat itself. */
static void scan_pool_start(struct scan_walk *w)
{
    w->pool_tried = true;
    size_t workers = w->opt->threads - 1;
    struct scan_pool *pool = alloc_zeroed(1, sizeof *pool);
    if (pool == NULL)
        return;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return;
    }
    if (pthread_cond_init(&pool->work, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return;
    }
    if (pthread_cond_init(&pool->idle, NULL) != 0) {
        pthread_cond_destroy(&pool->work);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return;
    }
    while (pool->started < workers &&
           pthread_create(&pool->tid[pool->started], NULL, scan_pool_worker, pool) == 0)
        pool->started++;
    if (pool->started == 0) {
        scan_pool_free(pool);
        return;
    }
    w->pool = pool;
}

/* Hand the block being filled to the directory's list and, with a pool, to the workers.
 * The pool is started only for a full block: a directory with fewer than SCAN_STAT_BLOCK
 * names to stat is not worth a thread. */
static void scan_stat_submit(struct scan_walk *w, bool full)
{
    struct scan_stat_block *b = w->filling;
    if (b == NULL)
        return;
    w->filling = NULL;
    b->next_in_dir = NULL;
    b->next_queued = NULL;
    if (w->dir_last != NULL)
        w->dir_last->next_in_dir = b;
    else
        w->dir_first = b;
    w->dir_last = b;
    if (full && w->pool == NULL && !w->pool_tried && w->opt->threads > 1)
        scan_pool_start(w);
    if (w->pool == NULL)
        return;
    struct scan_pool *pool = w->pool;
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

/* Queue the entry at index entry (name in the arena) for fstatat relative to dirfd. */
static enum error_code scan_stat_enqueue(struct scan_walk *w, int dirfd, const char *name,
                                         size_t entry, enum scan_type type)
{
    struct scan_stat_block *b = w->filling;
    if (b == NULL) {
        b = w->free_blocks;
        if (b != NULL)
            w->free_blocks = b->next_in_dir;
        else if ((b = alloc_bytes(sizeof *b)) == NULL)
            return scan_no_memory(w);
        b->dirfd = dirfd;
        b->count = 0;
        w->filling = b;
    }
    struct scan_stat_item *it = &b->items[b->count++];
    it->name = name;
    it->entry = entry;
    it->type = type;
    if (b->count == SCAN_STAT_BLOCK)
        scan_stat_submit(w, true);
    return ERROR_OK;
}

/* Finish the current directory's fstatat calls and apply them (apply false: only wait,
 * after a fatal error). Always leaves no block in flight. */
static enum error_code scan_stat_finish(struct scan_walk *w, bool apply)
{
    scan_stat_submit(w, false);
    if (w->dir_first == NULL)
        return ERROR_OK;
    if (w->pool != NULL) {
        struct scan_pool *pool = w->pool;
        while (scan_pool_work_one(pool))
            ;
        pthread_mutex_lock(&pool->lock);
        while (pool->outstanding > 0)
            pthread_cond_wait(&pool->idle, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    } else {
        for (struct scan_stat_block *b = w->dir_first; b != NULL; b = b->next_in_dir)
            scan_stat_block_run(b);
    }

    enum error_code rc = ERROR_OK;
    struct scan_result *res = w->res;
    struct scan_stat_block *b = w->dir_first;
    size_t first = b->items[0].entry;
    size_t out = first;
    unsigned k = 0;
    for (size_t i = first; i < res->count && apply; i++) {
        while (b != NULL && k == b->count) {
            b = b->next_in_dir;
            k = 0;
        }
        if (b != NULL && b->items[k].entry == i) {
            const struct scan_stat_item *it = &b->items[k++];
            if (it->status != 0) {
                if (rc == ERROR_OK)
                    rc = scan_push_errno(w, res->entries[i].path, NULL, 0, it->status);
                continue;
            }
            res->entries[i].size = it->size;
            res->entries[i].mtime_sec = it->mtime_sec;
            res->entries[i].mtime_nsec = it->mtime_nsec;
        }
        res->entries[out++] = res->entries[i];
    }
    if (apply)
        res->count = out;

    /* Recycle the blocks. */
    if (w->dir_last != NULL) {
        w->dir_last->next_in_dir = w->free_blocks;
        w->free_blocks = w->dir_first;
    }
    w->dir_first = NULL;
    w->dir_last = NULL;
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Entries
 * --------------------------------------------------------------------------------------- */

/* Add name (in the directory open as dirfd) as an entry. st is its stat when already known
 * (a resolved link, DT_UNKNOWN); otherwise, if the caller wants stat, the entry is queued
 * for the directory's stat pass. */
static enum error_code scan_add_entry(struct scan_walk *w, int dirfd, const char *name, size_t nlen,
                                      const char *suffix, enum scan_type type,
                                      const struct stat *st)
{
    struct scan_result *res = w->res;
    if (res->count >= w->opt->max_entries) {
        scan_truncate(w);
        return ERROR_OK;
    }
    if (w->path_len + 1 + nlen > CONFINE_PATH_MAX)
        return scan_add_error(w, name, nlen, "path too long", false);
    if (!scan_grow((void **)&res->entries, &w->entry_cap, res->count, w->opt->max_entries,
                   sizeof *res->entries))
        return scan_no_memory(w);
    size_t name_at = 0;
    char *path = scan_join(w, name, nlen, &name_at);
    if (path == NULL)
        return scan_no_memory(w);
    struct scan_entry *e = &res->entries[res->count];
    e->path = path;
    e->name = path + name_at;
    e->suffix = suffix;
    e->type = type;
    e->size = 0;
    e->mtime_sec = 0;
    e->mtime_nsec = 0;
    if (w->opt->want_stat && st == NULL) {
        enum error_code rc = scan_stat_enqueue(w, dirfd, e->name, res->count, type);
        if (rc != ERROR_OK)
            return rc;
    } else if (w->opt->want_stat) {
        e->size = type == SCAN_TYPE_FILE ? (uint64_t)st->st_size : 0;
        e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
        e->mtime_nsec = st->st_mtim.tv_nsec;
    }
    res->count++;
    return ERROR_OK;
}

/* Remember a subdirectory to visit once the current directory is read to its end. */
static enum error_code scan_plan_descent(struct scan_walk *w, char kind, const char *name,
                                         size_t nlen, unsigned depth)
{
    if (!w->opt->recursive)
        return ERROR_OK;
    if (depth + 1 > w->opt->max_depth) {
        w->res->truncated = true; /* something is left unread below; keep listing here */
        return ERROR_OK;
    }
    size_t need = w->pending_len + 1 + nlen + 1;
    if (need > w->pending_cap) {
        size_t cap = w->pending_cap == 0 ? 4096 : w->pending_cap;
        while (cap < need)
            cap *= 2;
        char *bigger = alloc_resize(w->pending, cap);
        if (bigger == NULL)
            return scan_no_memory(w);
        w->pending = bigger;
        w->pending_cap = cap;
    }
    w->pending[w->pending_len] = kind;
    memcpy(w->pending + w->pending_len + 1, name, nlen + 1);
    w->pending_len = need;
    return ERROR_OK;
}

/* A symbolic link: resolve it beneath the root; list it if it leads to an image file or a
 * zarr directory, plan a descent if it leads to another directory. */
static enum error_code scan_visit_link(struct scan_walk *w, const char *name, size_t nlen,
                                       const char *suffix, unsigned depth)
{
    if (suffix == NULL && !w->opt->recursive)
        return ERROR_OK; /* could be neither an entry nor descended into: leave it alone */
    size_t sep = w->path_len > 0 ? 1 : 0;
    size_t len = w->path_len + sep + nlen;
    if (len > CONFINE_PATH_MAX)
        return scan_add_error(w, name, nlen, "path too long", false);
    memcpy(w->scratch, w->path, w->path_len);
    if (sep)
        w->scratch[w->path_len] = '/';
    memcpy(w->scratch + w->path_len + sep, name, nlen + 1);

    int fd = -1;
    struct stat st;
    struct error_info cerr;
    error_init(&cerr);
    if (confine_open(w->root_fd, w->scratch, len, CONFINE_ANY, &fd, &st, &cerr) != ERROR_OK)
        return scan_add_confine_error(w, name, nlen, &cerr);
    close(fd);
    if (S_ISREG(st.st_mode)) {
        if (suffix == NULL || suffix == scan_suffix_zarr)
            return ERROR_OK;
        return scan_add_entry(w, -1, name, nlen, suffix, SCAN_TYPE_FILE, &st);
    }
    if (suffix == scan_suffix_zarr)
        return scan_add_entry(w, -1, name, nlen, suffix, SCAN_TYPE_ZARR, &st);
    return scan_plan_descent(w, SCAN_PENDING_LINK, name, nlen, depth);
}

/* One directory entry: decide from the name and d_type, stat only when that is not enough. */
static enum error_code scan_visit(struct scan_walk *w, int dirfd, const char *name,
                                  unsigned char d_type, unsigned depth)
{
    if (name[0] == '.') {
        if (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))
            return ERROR_OK;
        if (!w->opt->include_hidden)
            return ERROR_OK;
    }
    size_t nlen = strlen(name);
    const char *suffix = scan_match_suffix(name, nlen);
    struct stat st;
    const struct stat *known = NULL;
    if (d_type == DT_UNKNOWN) {
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return scan_add_errno(w, name, nlen, errno);
        d_type = (unsigned char)IFTODT(st.st_mode);
        known = &st;
    }
    switch (d_type) {
    case DT_REG:
        if (suffix == NULL || suffix == scan_suffix_zarr)
            return ERROR_OK;
        return scan_add_entry(w, dirfd, name, nlen, suffix, SCAN_TYPE_FILE, known);
    case DT_DIR:
        if (suffix == scan_suffix_zarr)
            return scan_add_entry(w, dirfd, name, nlen, suffix, SCAN_TYPE_ZARR, known);
        return scan_plan_descent(w, SCAN_PENDING_DIR, name, nlen, depth);
    case DT_LNK:
        return scan_visit_link(w, name, nlen, suffix, depth);
    default:
        return ERROR_OK; /* FIFO, socket, device: never an image */
    }
}

/* ---------------------------------------------------------------------------------------
 * The walk
 *
 * scan_read_dir lists one directory to its end, then visits the subdirectories it found;
 * scan_descend opens one of them, checks it is not already on the current path, and
 * recurses. w->path always names the directory being read.
 * --------------------------------------------------------------------------------------- */

static enum error_code scan_read_dir(struct scan_walk *w, int fd, unsigned depth);

static enum error_code scan_descend(struct scan_walk *w, int parent_fd, char kind, size_t name_at,
                                    unsigned depth)
{
    const char *name = w->pending + name_at;
    size_t nlen = strlen(name);
    size_t saved = w->path_len;
    size_t sep = saved > 0 ? 1 : 0;
    if (saved + sep + nlen > CONFINE_PATH_MAX)
        return scan_add_error(w, name, nlen, "path too long", false);
    if (sep)
        w->path[saved] = '/';
    memcpy(w->path + saved + sep, name, nlen + 1);
    w->path_len = saved + sep + nlen;
    name = w->path + saved + sep; /* w->pending may move while we recurse */

    enum error_code rc = ERROR_OK;
    int fd = -1;
    struct stat st;
    if (kind == SCAN_PENDING_DIR) {
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = scan_add_errno(w, NULL, 0, errno);
            goto out;
        }
    } else {
        struct error_info cerr;
        error_init(&cerr);
        if (confine_open(w->root_fd, w->path, w->path_len, CONFINE_DIR, &fd, &st, &cerr) !=
            ERROR_OK) {
            rc = scan_add_confine_error(w, NULL, 0, &cerr);
            goto out;
        }
    }
    for (unsigned i = 0; i < depth; i++) {
        if (w->ids[i].dev == st.st_dev && w->ids[i].ino == st.st_ino) {
            rc = scan_add_error(w, NULL, 0,
                                kind == SCAN_PENDING_LINK
                                    ? "symbolic link loop: leads back to an ancestor directory"
                                    : "directory cycle: same directory as an ancestor",
                                false);
            goto out;
        }
    }
    w->ids[depth].dev = st.st_dev;
    w->ids[depth].ino = st.st_ino;
    rc = scan_read_dir(w, fd, depth);
out:
    if (fd >= 0)
        close(fd);
    w->path_len = saved;
    w->path[saved] = '\0';
    return rc;
}

static enum error_code scan_read_dir(struct scan_walk *w, int fd, unsigned depth)
{
    enum error_code rc = ERROR_OK;
    size_t pending_start = w->pending_len;
    for (;;) {
        if (scan_past_deadline(w)) {
            scan_truncate(w);
            break;
        }
        ssize_t n = getdents64(fd, w->dents, SCAN_DENTS_BYTES);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = scan_add_errno(w, NULL, 0, errno);
            break; /* list what was read; still visit the subdirectories found */
        }
        for (size_t off = 0; off < (size_t)n && rc == ERROR_OK && !w->stop;) {
            const struct dirent64 *d = (const struct dirent64 *)(w->dents + off);
            off += d->d_reclen;
            rc = scan_visit(w, fd, d->d_name, d->d_type, depth);
        }
        if (rc != ERROR_OK || w->stop)
            break;
    }
    /* Entries already listed get their stat even when a bound stopped the listing; after a
     * fatal error the pass only waits, so no worker still uses fd once we return. */
    if (rc == ERROR_OK)
        rc = scan_stat_finish(w, true);
    else
        (void)scan_stat_finish(w, false);
    size_t end = w->pending_len;
    for (size_t at = pending_start; at < end && rc == ERROR_OK && !w->stop;) {
        char kind = w->pending[at];
        size_t name_at = at + 1;
        at = name_at + strlen(w->pending + name_at) + 1;
        rc = scan_descend(w, fd, kind, name_at, depth + 1);
    }
    w->pending_len = pending_start;
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------------------------- */

static int scan_entry_order(const void *a, const void *b)
{
    return scan_natural_compare(((const struct scan_entry *)a)->path,
                                ((const struct scan_entry *)b)->path);
}

/* ---------------------------------------------------------------------------------------
 * Sorting by precomputed keys
 *
 * Comparing paths token by token costs ~40 ns a pair; instead each path is encoded once
 * into a key whose memcmp order is the natural order: a byte that is not a digit stays as
 * it is, and a digit run becomes '0', its length without leading zeros (one byte: a run
 * lies inside one component, at most 255 bytes), then those digits. '0' can stand for a
 * number because no other byte is a digit, so a number meets any other byte exactly as
 * its first digit would. Keys equal under memcmp are paths equal as numbers ("a01",
 * "a1"), ordered by strcmp as scan_natural_compare does.
 * --------------------------------------------------------------------------------------- */

struct scan_sort_item {
    const unsigned char *key;
    uint32_t key_len; /* a key is at most 3 * CONFINE_PATH_MAX bytes */
    uint32_t index;   /* entries are capped far below 2^32 (see scan_sort_entries) */
};

/* Encode s into out (NULL: only measure); returns the key's length. */
static size_t scan_natural_key(const char *s, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p != '\0') {
        if (!scan_is_digit(*p)) {
            if (out != NULL)
                out[n] = *p;
            n++;
            p++;
            continue;
        }
        while (*p == '0')
            p++;
        const unsigned char *d = p;
        while (scan_is_digit(*p))
            p++;
        size_t digits = (size_t)(p - d);
        if (out != NULL) {
            out[n] = '0';
            out[n + 1] = (unsigned char)digits;
            memcpy(out + n + 2, d, digits);
        }
        n += 2 + digits;
    }
    return n;
}

static int scan_sort_item_order(const void *a, const void *b, void *entries)
{
    const struct scan_sort_item *x = a;
    const struct scan_sort_item *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    const struct scan_entry *e = entries;
    return strcmp(e[x->index].path, e[y->index].path);
}

/* Sort res->entries naturally by path: sort (key, index) pairs, then permute the entries
 * in place along the cycles of that permutation. Falls back to comparing paths directly
 * when the keys do not fit in memory (same order, slower). */
static void scan_sort_entries(struct scan_result *res)
{
    size_t n = res->count;
    struct scan_sort_item *items = NULL;
    unsigned char *keys = NULL;
    if (n < 2)
        return;
    if (n > UINT32_MAX)
        goto fallback;
    items = alloc_bytes(n * sizeof *items);
    if (items == NULL)
        goto fallback;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = scan_natural_key(res->entries[i].path, NULL);
        items[i].key_len = (uint32_t)len;
        total += len;
    }
    keys = alloc_bytes(total > 0 ? total : 1);
    if (keys == NULL)
        goto fallback;
    unsigned char *at = keys;
    for (size_t i = 0; i < n; i++) {
        items[i].key = at;
        items[i].index = (uint32_t)i;
        at += scan_natural_key(res->entries[i].path, at);
    }
    qsort_r(items, n, sizeof *items, scan_sort_item_order, res->entries);
    /* Position i must receive entry items[i].index; a placed slot is marked with n. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].index == (uint32_t)n || items[i].index == i)
            continue;
        struct scan_entry held = res->entries[i];
        size_t j = i;
        while (items[j].index != i) {
            size_t from = items[j].index;
            res->entries[j] = res->entries[from];
            items[j].index = (uint32_t)n;
            j = from;
        }
        res->entries[j] = held;
        items[j].index = (uint32_t)n;
    }
    goto out;
fallback:
    qsort(res->entries, n, sizeof *res->entries, scan_entry_order);
out:
    free(keys);
    free(items);
}

static int scan_error_order(const void *a, const void *b)
{
    return scan_natural_compare(((const struct scan_error *)a)->path,
                                ((const struct scan_error *)b)->path);
}

/* Copy rel into w->path without empty and "." components ("./a//b/" -> "a/b"); rel has
 * passed confine_check, so it holds no ".." and fits. */
static void scan_set_start_path(struct scan_walk *w, const char *rel, size_t len)
{
    w->path_len = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && rel[j] != '/')
            j++;
        size_t clen = j - i;
        if (clen > 0 && !(clen == 1 && rel[i] == '.')) {
            if (w->path_len > 0)
                w->path[w->path_len++] = '/';
            memcpy(w->path + w->path_len, rel + i, clen);
            w->path_len += clen;
        }
        i = j + 1;
    }
    w->path[w->path_len] = '\0';
}

void scan_result_free(struct scan_result *result)
{
    if (result == NULL)
        return;
    struct scan_arena *a = result->arena;
    while (a != NULL) {
        struct scan_arena *next = a->next;
        free(a);
        a = next;
    }
    free(result->entries);
    free(result->errors);
    free(result);
}

enum error_code scan_tree(int root_fd, const char *rel, size_t len, const struct scan_options *opt,
                          struct scan_result **out, struct error_info *err)
{
    *out = NULL;
    if (opt->max_depth > SCAN_DEPTH_MAX)
        return error_set(err, ERROR_INVALID, "max_depth %u is above the limit of %u",
                         opt->max_depth, SCAN_DEPTH_MAX);
    if (opt->threads > SCAN_THREADS_MAX)
        return error_set(err, ERROR_INVALID, "threads %u is above the limit of %u", opt->threads,
                         SCAN_THREADS_MAX);
    int fd = -1;
    struct stat st;
    enum error_code rc = confine_open(root_fd, rel, len, CONFINE_DIR, &fd, &st, err);
    if (rc != ERROR_OK)
        return rc;

    struct scan_result *res = alloc_zeroed(1, sizeof *res);
    struct scan_walk *w = alloc_zeroed(1, sizeof *w);
    char *dents = alloc_bytes(SCAN_DENTS_BYTES);
    if (res == NULL || w == NULL || dents == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory starting a scan");
        goto out;
    }
    w->root_fd = root_fd;
    w->opt = opt;
    w->res = res;
    w->err = err;
    w->dents = dents;
    scan_set_start_path(w, rel, len);
    w->ids[0].dev = st.st_dev;
    w->ids[0].ino = st.st_ino;

    rc = scan_read_dir(w, fd, 0);
    if (rc != ERROR_OK)
        goto out;
    if (res->count > 1)
        scan_sort_entries(res);
    if (res->error_count > 1)
        qsort(res->errors, res->error_count, sizeof *res->errors, scan_error_order);
    *out = res;
    res = NULL;
out:
    close(fd);
    if (w != NULL) {
        free(w->pending);
        scan_pool_free(w->pool);
        while (w->free_blocks != NULL) {
            struct scan_stat_block *next = w->free_blocks->next_in_dir;
            free(w->free_blocks);
            w->free_blocks = next;
        }
    }
    free(w);
    free(dents);
    scan_result_free(res);
    return rc;
}
