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
 * names needing it are queued while the directory is read and statted by a small pool of
 * helper threads (scan_stat.c); the directory's pass is finished before any subdirectory is
 * opened (so the directory's descriptor is still open). Suffixes and the natural order are
 * in scan_name.c.
 */
#include "scan.h"

#include "alloc.h"
#include "clock.h"
#include "confine.h"
#include "limit.h"
#include "parallel.h"
#include "scan_name.h"
#include "scan_stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* getdents64 buffer: about 3,000 names per system call. */
#define SCAN_DENTS_BYTES (128u << 10)
/* Arena chunk for path strings: about 2,000 typical paths. */
#define SCAN_ARENA_CHUNK (64u << 10)
/* First allocation of the entry and error arrays; each then doubles up to its cap. */
#define SCAN_INITIAL_SLOTS 256u

/* Kinds of pending subdirectory, the first byte of each record on the pending stack. */
#define SCAN_PENDING_DIR  'd' /* a real directory: openat from the parent */
#define SCAN_PENDING_LINK 'l' /* a symbolic link to a directory: confine_open from the root */

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
    struct scan_stat stat;                      /* the current directory's queued fstatat calls */
    struct scan_dir_id ids[SCAN_DEPTH_MAX + 1]; /* directories on the current path */
    size_t path_len;
    char path[CONFINE_PATH_MAX + 1];    /* current directory, relative to the root */
    char scratch[CONFINE_PATH_MAX + 1]; /* a link's full path */
};

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
    opt->suffixes = NULL;
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

static void scan_truncate(struct scan_walk *w)
{
    w->res->truncated = true;
    w->stop = true;
}

/* ---------------------------------------------------------------------------------------
 * The stat pass
 *
 * Names are queued while a directory is read (core/scan_stat). At the directory's end the
 * answers are copied into the entries, and the entries whose fstatat failed are moved to
 * the errors list, keeping the order.
 * --------------------------------------------------------------------------------------- */

/* Finish the current directory's fstatat calls and apply them (apply false: only wait,
 * after a fatal error). Always leaves no block in flight. */
static enum error_code scan_apply_stats(struct scan_walk *w, bool apply)
{
    scan_stat_run(&w->stat);
    enum error_code rc = ERROR_OK;
    struct scan_result *res = w->res;
    struct scan_stat_cursor cur;
    const struct scan_stat_item *it = scan_stat_first(&w->stat, &cur);
    if (it != NULL && apply) {
        size_t out = it->entry;
        for (size_t i = it->entry; i < res->count; i++) {
            if (it != NULL && it->entry == i) {
                const struct scan_stat_item *got = it;
                it = scan_stat_next(&cur);
                if (got->status != 0) {
                    if (rc == ERROR_OK)
                        rc = scan_push_errno(w, res->entries[i].path, NULL, 0, got->status);
                    continue;
                }
                res->entries[i].size = got->size;
                res->entries[i].mtime_sec = got->mtime_sec;
                res->entries[i].mtime_nsec = got->mtime_nsec;
            }
            res->entries[out++] = res->entries[i];
        }
        res->count = out;
    }
    scan_stat_recycle(&w->stat);
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
        if (!scan_stat_add(&w->stat, dirfd, e->name, res->count, type))
            return scan_no_memory(w);
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
        if (suffix == NULL || scan_name_is_zarr(suffix))
            return ERROR_OK;
        return scan_add_entry(w, -1, name, nlen, suffix, SCAN_TYPE_FILE, &st);
    }
    if (scan_name_is_zarr(suffix))
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
    const char *suffix = scan_match_suffix_in(w->opt->suffixes, name, nlen);
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
        if (suffix == NULL || scan_name_is_zarr(suffix))
            return ERROR_OK;
        return scan_add_entry(w, dirfd, name, nlen, suffix, SCAN_TYPE_FILE, known);
    case DT_DIR:
        if (scan_name_is_zarr(suffix))
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
        if (clock_passed(w->opt->deadline)) {
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
        rc = scan_apply_stats(w, true);
    else
        (void)scan_apply_stats(w, false);
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
    if (opt->threads > PARALLEL_THREADS_MAX)
        return error_set(err, ERROR_INVALID, "threads %u is above the limit of %u", opt->threads,
                         PARALLEL_THREADS_MAX);
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
    w->stat.threads = opt->threads;
    scan_set_start_path(w, rel, len);
    w->ids[0].dev = st.st_dev;
    w->ids[0].ino = st.st_ino;

    rc = scan_read_dir(w, fd, 0);
    if (rc != ERROR_OK)
        goto out;
    scan_name_sort(res);
    *out = res;
    res = NULL;
out:
    close(fd);
    if (w != NULL) {
        free(w->pending);
        scan_stat_cleanup(&w->stat);
    }
    free(w);
    free(dents);
    scan_result_free(res);
    return rc;
}
