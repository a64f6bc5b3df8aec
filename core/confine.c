/*
 * confine.c - open client-supplied paths strictly beneath the data root; see confine.h.
 *
 * The one design decision: the kernel resolves (openat2 RESOLVE_BENEATH), and only when it
 * cannot do we walk by hand. The walk never follows a link implicitly: every component is
 * opened O_PATH | O_NOFOLLOW, and a symlink is read and spliced into the remaining path,
 * with ".." popping a stack of directory descriptors that can never go below the root. So
 * both paths give the same answers: links inside the root work, absolute links and links
 * that climb out are ERROR_FORBIDDEN, loops are ERROR_UNPROCESSABLE.
 */
#include "confine.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Directory levels the fallback walk holds open at once (one descriptor each). */
#define CONFINE_WALK_DEPTH_MAX 256
/* Attempts when openat2 answers EAGAIN (a concurrent rename under the root). */
#define CONFINE_EAGAIN_RETRIES 8
/* Walks of the fallback when a component changes type under it (a client racing its own
 * request); past them the answer is ERROR_NOT_FOUND ("changed while being opened"). */
#define CONFINE_RACE_RETRIES 4

static atomic_bool confine_openat2_enabled = true;
static atomic_ulong confine_race_count;

unsigned long confine_races(void)
{
    return atomic_load(&confine_race_count);
}

void confine_set_use_openat2(bool use)
{
    atomic_store(&confine_openat2_enabled, use);
}

/* ---------------------------------------------------------------------------------------
 * Lexical checks
 *
 * Run before any system call, so a hostile path costs nothing but a scan of its bytes.
 * --------------------------------------------------------------------------------------- */

enum error_code confine_check(const char *rel, size_t len, struct error_info *err)
{
    if (len > CONFINE_PATH_MAX)
        return error_set(err, ERROR_INVALID, "path is %zu bytes long; the limit is %d", len,
                         CONFINE_PATH_MAX);
    if (len > 0 && memchr(rel, '\0', len) != NULL)
        return error_set(err, ERROR_INVALID, "path contains a NUL byte");
    if (len > 0 && rel[0] == '/')
        return error_set(err, ERROR_FORBIDDEN,
                         "absolute paths are not allowed; paths are relative to the data root");
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && rel[i] != '/') {
            unsigned char c = (unsigned char)rel[i];
            if (c < 0x20 || c == 0x7f)
                return error_set(err, ERROR_INVALID,
                                 "path contains control character 0x%02x at byte %zu", c, i);
            continue;
        }
        size_t clen = i - start;
        if (clen > CONFINE_COMPONENT_MAX)
            return error_set(err, ERROR_INVALID,
                             "path component at byte %zu is %zu bytes long; the limit is %d", start,
                             clen, CONFINE_COMPONENT_MAX);
        if (clen == 2 && rel[start] == '.' && rel[start + 1] == '.')
            return error_set(err, ERROR_FORBIDDEN, "'..' is not allowed in paths");
        start = i + 1;
    }
    return ERROR_OK;
}

/* ---------------------------------------------------------------------------------------
 * Outcome mapping
 * --------------------------------------------------------------------------------------- */

static enum error_code confine_errno(int e, const char *rel, struct error_info *err)
{
    switch (e) {
    case ENOENT:
        return error_set_sys(err, ERROR_NOT_FOUND, e, "'%s' does not exist", rel);
    case EXDEV:
        return error_set_sys(err, ERROR_FORBIDDEN, e, "'%s' resolves outside the data root", rel);
    case ELOOP:
        return error_set_sys(err, ERROR_UNPROCESSABLE, e,
                             "'%s': too many levels of symbolic links (a link loop?)", rel);
    case ENOTDIR:
        return error_set_sys(err, ERROR_UNPROCESSABLE, e, "'%s': a component is not a directory",
                             rel);
    case EACCES:
    case EPERM:
        return error_set_sys(err, ERROR_FORBIDDEN, e, "'%s': permission denied", rel);
    case ENAMETOOLONG:
        return error_set_sys(err, ERROR_INVALID, e, "'%s': name too long", rel);
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return error_set_sys(err, ERROR_BUSY, e, "'%s': out of file descriptors or memory", rel);
    default:
        return error_set_sys(err, ERROR_IO, e, "'%s': %s", rel, strerror(e));
    }
}

static enum error_code confine_check_type(int fd, enum confine_expect expect, const char *rel,
                                          struct stat *st, struct error_info *err)
{
    if (fstat(fd, st) != 0)
        return confine_errno(errno, rel, err);
    bool is_dir = S_ISDIR(st->st_mode);
    bool is_reg = S_ISREG(st->st_mode);
    if (!is_dir && !is_reg)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "'%s' is not a regular file or directory (FIFO, socket or device)", rel);
    if (expect == CONFINE_FILE && !is_reg)
        return error_set(err, ERROR_UNPROCESSABLE, "'%s' is a directory, not a file", rel);
    if (expect == CONFINE_DIR && !is_dir)
        return error_set(err, ERROR_UNPROCESSABLE, "'%s' is not a directory", rel);
    return ERROR_OK;
}

static int confine_final_flags(enum confine_expect expect)
{
    /* No O_DIRECTORY: the type is checked after fstat, which gives the clearer message. */
    (void)expect;
    return O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
}

/* ---------------------------------------------------------------------------------------
 * Fallback: component-by-component walk with O_NOFOLLOW
 *
 * remaining holds the path still to resolve; a symlink's target is spliced in front of
 * what follows it. stack[0] is the root (borrowed, never closed); deeper entries are O_PATH
 * descriptors we own.
 * --------------------------------------------------------------------------------------- */

struct confine_walk {
    int stack[CONFINE_WALK_DEPTH_MAX];
    size_t depth; /* entries in stack; stack[0] is root_fd */
    char remaining[2 * (CONFINE_PATH_MAX + 1)];
    unsigned links;
};

static void confine_walk_cleanup(struct confine_walk *w)
{
    for (size_t i = 1; i < w->depth; i++)
        close(w->stack[i]);
    w->depth = 1;
}

/* Splice target + "/" + rest into w->remaining. */
static enum error_code confine_splice(struct confine_walk *w, const char *target, size_t tlen,
                                      const char *rest, const char *rel, struct error_info *err)
{
    size_t rlen = strlen(rest);
    if (tlen + 1 + rlen + 1 > sizeof w->remaining)
        return error_set(err, ERROR_UNPROCESSABLE, "'%s': symbolic link expansion too long", rel);
    char tmp[sizeof w->remaining];
    memcpy(tmp, target, tlen);
    tmp[tlen] = '/';
    memcpy(tmp + tlen + 1, rest, rlen + 1);
    memcpy(w->remaining, tmp, tlen + 1 + rlen + 1);
    return ERROR_OK;
}

/* Resolve rel; *raced is set when a component changed type under the walk (the caller
 * may walk again). */
static enum error_code confine_walk_open(int root_fd, const char *rel, enum confine_expect expect,
                                         int *out_fd, bool *raced, struct error_info *err)
{
    *raced = false;
    struct confine_walk *w = alloc_bytes(sizeof *w);
    if (w == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory resolving '%s'", rel);
    enum error_code rc = ERROR_OK;
    w->stack[0] = root_fd;
    w->depth = 1;
    w->links = 0;
    snprintf(w->remaining, sizeof w->remaining, "%s", rel);

    for (;;) {
        char *p = w->remaining;
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        char *slash = strchr(p, '/');
        size_t nlen = slash ? (size_t)(slash - p) : strlen(p);
        char name[CONFINE_COMPONENT_MAX + 1];
        if (nlen > CONFINE_COMPONENT_MAX) {
            rc = error_set(err, ERROR_INVALID, "'%s': a component is too long", rel);
            goto out;
        }
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        char *rest = slash ? slash + 1 : p + nlen;
        memmove(w->remaining, rest, strlen(rest) + 1);

        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            if (w->depth == 1) {
                rc = confine_errno(EXDEV, rel, err);
                goto out;
            }
            close(w->stack[--w->depth]);
            continue;
        }
        int top = w->stack[w->depth - 1];
        int fd = openat(top, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = confine_errno(errno, rel, err);
            goto out;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            rc = confine_errno(errno, rel, err);
            close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            if (++w->links > CONFINE_SYMLINK_MAX) {
                close(fd);
                rc = confine_errno(ELOOP, rel, err);
                goto out;
            }
            /* Read the link through the descriptor just opened on it, not by name again:
             * a link renamed or replaced meanwhile cannot turn into EINVAL or ENOENT here
             * (the client's race resolves to the object that was opened). */
            char target[CONFINE_PATH_MAX + 1];
            ssize_t tlen = readlinkat(fd, "", target, sizeof target);
            int read_errno = errno;
            close(fd);
            if (tlen < 0) {
                rc = confine_errno(read_errno, rel, err);
                goto out;
            }
            if ((size_t)tlen >= sizeof target || tlen == 0) {
                rc = error_set(err, ERROR_UNPROCESSABLE, "'%s': unusable symbolic link", rel);
                goto out;
            }
            if (target[0] == '/') {
                rc = confine_errno(EXDEV, rel, err);
                goto out;
            }
            char rest_copy[sizeof w->remaining];
            memcpy(rest_copy, w->remaining, strlen(w->remaining) + 1);
            rc = confine_splice(w, target, (size_t)tlen, rest_copy, rel, err);
            if (rc != ERROR_OK)
                goto out;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            if (w->remaining[strspn(w->remaining, "/")] != '\0') {
                rc = confine_errno(ENOTDIR, rel, err);
                goto out;
            }
            /* The last component is a non-directory: open it for real, still no-follow. */
            int flags = confine_final_flags(expect) | O_NOFOLLOW;
            int final = openat(top, name, flags);
            if (final < 0 && errno == ELOOP) {
                /* It was no link an instant ago: the client replaced it meanwhile. */
                rc = error_set(err, ERROR_NOT_FOUND,
                               "'%s' changed while it was being opened; retry", rel);
                *raced = true;
                atomic_fetch_add(&confine_race_count, 1);
                goto out;
            }
            if (final < 0) {
                rc = confine_errno(errno, rel, err);
                goto out;
            }
            *out_fd = final;
            goto out;
        }
        if (w->depth == CONFINE_WALK_DEPTH_MAX) {
            close(fd);
            rc = error_set(err, ERROR_INVALID, "'%s' is more than %d directories deep", rel,
                           CONFINE_WALK_DEPTH_MAX - 1);
            goto out;
        }
        w->stack[w->depth++] = fd;
    }
    /* Ended on a directory (or the root): reopen it with the real flags. */
    int final = openat(w->stack[w->depth - 1], ".", confine_final_flags(expect));
    if (final < 0) {
        rc = confine_errno(errno, rel, err);
        goto out;
    }
    *out_fd = final;
out:
    confine_walk_cleanup(w);
    free(w);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------------------------- */

/* Returns the descriptor, or -1 with errno; errno ENOSYS means "use the walk". */
static int confine_openat2(int root_fd, const char *path, enum confine_expect expect)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)confine_final_flags(expect);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < CONFINE_EAGAIN_RETRIES; attempt++) {
        long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS || errno == EPERM) {
            /* Missing (old kernel) or refused by a seccomp profile: never try again. */
            atomic_store(&confine_openat2_enabled, false);
            errno = ENOSYS;
            return -1;
        }
        if (errno != EAGAIN)
            return -1;
    }
    return -1;
}

enum error_code confine_open(int root_fd, const char *rel, size_t len, enum confine_expect expect,
                             int *out_fd, struct stat *st, struct error_info *err)
{
    *out_fd = -1;
    enum error_code rc = confine_check(rel, len, err);
    if (rc != ERROR_OK)
        return rc;
    char path[CONFINE_PATH_MAX + 2];
    if (len == 0) {
        path[0] = '.';
        path[1] = '\0';
    } else {
        memcpy(path, rel, len);
        path[len] = '\0';
    }

    int fd = -1;
    if (atomic_load(&confine_openat2_enabled)) {
        fd = confine_openat2(root_fd, path, expect);
        if (fd < 0 && errno != ENOSYS)
            return confine_errno(errno, path, err);
    }
    if (fd < 0) {
        bool raced = true;
        for (unsigned attempt = 0; raced && attempt < CONFINE_RACE_RETRIES; attempt++)
            rc = confine_walk_open(root_fd, path, expect, &fd, &raced, err);
        if (rc != ERROR_OK)
            return rc;
    }
    struct stat local;
    rc = confine_check_type(fd, expect, path, st ? st : &local, err);
    if (rc != ERROR_OK) {
        close(fd);
        return rc;
    }
    *out_fd = fd;
    return ERROR_OK;
}
