/*
 * buf.h - the one growable byte buffer: every writer in core, handlers and server appends
 * through it (JSON answers, pages, /metrics, request bodies, CSV).
 *
 * The cap is set at init and growth past it is an error (BUF_TOO_LARGE), never a silent cut:
 * a writer that hits it stops, keeps what it had, and the caller answers with a clear error.
 * Storage comes from core/alloc, so the fault-injection tests reach every buffer. The data is
 * always NUL-terminated (the NUL is not counted in len). Growth doubles, so appends are
 * amortised O(1). A buffer belongs to one thread at a time.
 */
#ifndef TESSERA_CORE_BUF_H
#define TESSERA_CORE_BUF_H

#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum buf_status {
    BUF_OK = 0,
    BUF_NO_MEMORY, /* an allocation failed */
    BUF_TOO_LARGE  /* the content would pass the cap given at init */
};

struct buf {
    char *data;             /* NULL until the first append */
    size_t len;             /* bytes held, NUL excluded */
    size_t cap;             /* bytes allocated */
    size_t max;             /* the most len may become */
    enum buf_status status; /* the first failure; every append after it is a no-op */
};

/* Empty buffer that may grow to max bytes (0 = SIZE_MAX - 1). Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Free the storage and reset to empty (same cap). Safe on an initialised or taken buffer. */
void buf_cleanup(struct buf *b);

/* Drop the content but keep the storage (and clear a failure). */
void buf_reset(struct buf *b);

/* Make room for extra more bytes without appending. Returns the buffer's status. */
enum buf_status buf_reserve(struct buf *b, size_t extra) ERROR_MUST_CHECK;

/* Append len bytes / a NUL-terminated string / one byte / printf output. On failure nothing
 * is appended, the status is set and returned, and later appends do nothing. */
enum buf_status buf_append(struct buf *b, const void *data, size_t len);
enum buf_status buf_puts(struct buf *b, const char *s);
enum buf_status buf_putc(struct buf *b, char c);
enum buf_status buf_printf(struct buf *b, const char *fmt, ...) ERROR_PRINTF(2, 3);
enum buf_status buf_vprintf(struct buf *b, const char *fmt, va_list ap) ERROR_PRINTF(2, 0);

/* Hand the NUL-terminated content to the caller (free() it) and leave the buffer empty.
 * *len (may be NULL) gets its length. Returns NULL after a failure (the content is freed)
 * or, for a buffer never appended to, a new empty string (NULL if that allocation fails). */
char *buf_take(struct buf *b, size_t *len);

#endif
