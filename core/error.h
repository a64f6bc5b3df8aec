/*
 * error.h - the status values and error record every fallible core function uses.
 *
 * A fallible core function returns an enum error_code (ERROR_OK = 0) and, on failure,
 * fills a caller-provided struct error_info with a fixed-size, human-readable detail.
 * Reporting an error never allocates, so it works when memory is exhausted. Codes say what
 * went wrong in core's terms only: the handler layer maps each to one HTTP status
 * (problem_status in handlers/problem.c), and core never knows HTTP.
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
    ERROR_INVALID,       /* a malformed input value (a bad path, an option out of range) */
    ERROR_FORBIDDEN,     /* a path leaves the data root, or may not be read */
    ERROR_NOT_FOUND,     /* the named object does not exist */
    ERROR_UNPROCESSABLE, /* well-formed but unusable input (corrupt file, bad shape) */
    ERROR_TOO_LARGE,     /* input over a configured limit */
    ERROR_BUSY,          /* temporarily out of capacity (descriptors, threads): try again */
    ERROR_TIMEOUT,       /* the caller's deadline passed */
    ERROR_NO_MEMORY,     /* an allocation failed */
    ERROR_IO,            /* the file system failed under us */
    ERROR_INTERNAL       /* a bug */
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
