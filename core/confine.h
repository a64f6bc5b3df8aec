/*
 * confine.h - open a client-supplied path strictly beneath the data root.
 *
 * Every path a request names is relative to the data root and must never reach outside
 * it. Two layers: a lexical check (absolute, "..", NUL, control characters, length), then
 * resolution in the kernel with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from the
 * root's descriptor. Where openat2 is missing or refused (ENOSYS, EPERM under some seccomp
 * profiles) a component-by-component walk with O_NOFOLLOW does the same job: each symlink
 * met is read and resolved by hand against a stack of the directories walked so far, so a
 * link that stays inside the root works and one that leaves it is refused. Nothing here
 * ever writes. Cost: one syscall per open on the fast path; one per component (plus
 * readlink per link) on the fallback.
 */
#ifndef TESSERA_CORE_CONFINE_H
#define TESSERA_CORE_CONFINE_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define CONFINE_PATH_MAX      4095 /* bytes in a relative path (PATH_MAX less the NUL) */
#define CONFINE_COMPONENT_MAX 255  /* bytes in one component (NAME_MAX) */
#define CONFINE_SYMLINK_MAX   40   /* links followed in one resolution (the kernel's limit) */

enum confine_expect {
    CONFINE_ANY,  /* regular file or directory */
    CONFINE_FILE, /* regular file; a directory is ERROR_UNPROCESSABLE */
    CONFINE_DIR   /* directory; anything else is ERROR_UNPROCESSABLE */
};

/*
 * Lexically validate rel (len bytes, not necessarily NUL-terminated; an embedded NUL is an
 * error). "" and "." name the root. Returns ERROR_OK, ERROR_INVALID (NUL, control byte,
 * too long, empty component rules) or ERROR_FORBIDDEN (absolute, "..").
 */
enum error_code confine_check(const char *rel, size_t len, struct error_info *err) ERROR_MUST_CHECK;

/*
 * Open rel beneath root_fd read-only (O_CLOEXEC | O_NONBLOCK | O_NOCTTY, so a FIFO never
 * blocks) and check its type against expect. On success *out_fd is a new descriptor the
 * caller owns and must close, and *st (if not NULL) holds its fstat. On failure *out_fd is
 * -1 and err says why: ERROR_FORBIDDEN (escapes the root, absolute, ".."), ERROR_NOT_FOUND,
 * ERROR_UNPROCESSABLE (wrong type, FIFO/device, symlink loop, not a directory on the way),
 * ERROR_INVALID (lexical), ERROR_IO. err->sys_errno tells the causes of resolution apart:
 * EXDEV when a symbolic link (or "..") leads out of the root, ENOENT, ENOTDIR, ELOOP,
 * EACCES, ...; it is 0 for a lexical or type error. Thread-safe.
 */
enum error_code confine_open(int root_fd, const char *rel, size_t len, enum confine_expect expect,
                             int *out_fd, struct stat *st, struct error_info *err) ERROR_MUST_CHECK;

/* Resolutions of the fallback walk that found a component changing type under them (a
 * client racing its own request: answered ERROR_NOT_FOUND after CONFINE_RACE_RETRIES walks,
 * never an I/O error), since start. Thread-safe. */
unsigned long confine_races(void);

/* Test hook: when false, confine_open always takes the O_NOFOLLOW walk. Default true.
 * Not thread-safe against concurrent confine_open; call before starting threads. */
void confine_set_use_openat2(bool use);

#endif
