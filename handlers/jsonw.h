/*
 * jsonw.h - a small append-only JSON writer for large responses.
 *
 * jansson builds a tree of one heap object per value; a /scan of 10^5 entries or a /topk of
 * 10^6 values would spend more time there than in the work itself. This writer appends
 * straight into one core/buf buffer, capped at init (LIMIT_MAX_ANSWER by default): an
 * answer that would grow past the cap stops the writer, and response_jsonw answers 413
 * instead of sending it cut. Failure (the cap, or out of memory) is sticky: every append
 * after it does nothing, and it is checked once, when the document is taken. Strings are
 * validated as UTF-8 (JSON cannot carry other bytes) and escaped; doubles are written with
 * up to 17 significant digits (exact round trip), NaN and infinities as null. The caller
 * keeps the document well-formed. A writer belongs to one thread at a time.
 */
#ifndef TESSERA_HANDLERS_JSONW_H
#define TESSERA_HANDLERS_JSONW_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
    struct buf out;
};

/* An empty writer capped at LIMIT_MAX_ANSWER bytes / at max (> 0) bytes. Allocates nothing. */
void jsonw_init(struct jsonw *w);
void jsonw_init_max(struct jsonw *w, size_t max);
void jsonw_cleanup(struct jsonw *w);

/* BUF_OK, or the first failure: BUF_TOO_LARGE (the cap) or BUF_NO_MEMORY. */
enum buf_status jsonw_status(const struct jsonw *w);

/* The cap given at init. */
size_t jsonw_max(const struct jsonw *w);

void jsonw_raw(struct jsonw *w, const char *s, size_t len);
void jsonw_lit(struct jsonw *w, const char *s); /* NUL-terminated raw */

/* Append s (len bytes) as a quoted JSON string. Returns false, appending nothing, when s is
 * not valid UTF-8 or holds a NUL. */
bool jsonw_string(struct jsonw *w, const char *s, size_t len);
bool jsonw_utf8_valid(const char *s, size_t len);

void jsonw_u64(struct jsonw *w, uint64_t v);
void jsonw_i64(struct jsonw *w, int64_t v);
void jsonw_double(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);

/* An object member: key is the raw prefix written before the value (e.g. ",\"width\":"). */
void jsonw_member_u64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_member_bool(struct jsonw *w, const char *key, bool v);
void jsonw_member_double(struct jsonw *w, const char *key, double v);

/* A file time as a quoted RFC 3339 UTC string with nanoseconds:
 * "2026-11-24T10:00:00.123456789Z" (null when the time cannot be represented). */
void jsonw_time(struct jsonw *w, int64_t sec, long nsec);

/* Hand the NUL-terminated document to the caller (who frees it); *len gets its length.
 * Returns NULL after a failure (read jsonw_status first to tell which). The writer is empty
 * afterwards, with the same cap. */
char *jsonw_take(struct jsonw *w, size_t *len);

#endif
