/*
 * error.h - the status values and error record every fallible core function uses.
 *
 * A fallible core function returns an enum error_code (ERROR_OK = 0) and, on failure,
 * fills a caller-provided struct error_info with a fixed-size, human-readable detail.
 * Reporting an error never allocates, so it works when memory is exhausted. The handler
 * layer maps each code to one HTTP status (handlers/problem.c); core never knows HTTP.
 */
#ifndef TESSERA_CORE_ERROR_H
#define TESSERA_CORE_ERROR_H

#include <stddef.h>

#define ERROR_DETAIL_MAX 512

#if defined(__GNUC__)
#define ERROR_MUST_CHECK   __attribute__((warn_unused_result))
#define ERROR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ERROR_MUST_CHECK
#define ERROR_PRINTF(f, a)
#endif

enum error_code {
    ERROR_OK = 0,
    ERROR_INVALID,       /* malformed request value: 400 */
    ERROR_FORBIDDEN,     /* path leaves the data root: 403 */
    ERROR_NOT_FOUND,     /* named object does not exist: 404 */
    ERROR_UNPROCESSABLE, /* well-formed but unusable input (corrupt file, bad shape): 422 */
    ERROR_TOO_LARGE,     /* input over a configured limit: 413 */
    ERROR_BUSY,          /* temporarily out of capacity: 503 + Retry-After */
    ERROR_TIMEOUT,       /* the request's time budget ran out: 503 */
    ERROR_NO_MEMORY,     /* allocation failed: 503 */
    ERROR_IO,            /* the file system failed under us: 500 */
    ERROR_INTERNAL       /* a bug: 500 */
};

struct error_info {
    enum error_code code;
    int sys_errno; /* the errno of the failed system call behind code, or 0 */
    char detail[ERROR_DETAIL_MAX];
};

/* Set code and a printf-formatted detail (truncated to fit), sys_errno 0; returns code.
 * Never allocates; err may be NULL. Thread-safe (touches only *err). */
enum error_code error_set(struct error_info *err, enum error_code code, const char *fmt, ...)
    ERROR_PRINTF(3, 4);

/* The same for a failure caused by a system call that set errno to sys_errno, kept in the
 * record so a caller can tell causes apart that share a code (ENOENT from ENOTDIR, say). */
enum error_code error_set_sys(struct error_info *err, enum error_code code, int sys_errno,
                              const char *fmt, ...) ERROR_PRINTF(4, 5);

/* Reset to ERROR_OK with an empty detail. */
void error_init(struct error_info *err);

/* Short stable name of a code ("invalid", "not_found", ...), for logs and tests. */
const char *error_code_name(enum error_code code);

#endif
