/*
 * jsonw.h - a small append-only JSON writer for large responses.
 *
 * jansson builds a tree of one heap object per value; a /scan of 10^5 entries or a /topk of
 * 10^6 values would spend more time there than in the work itself. This writer appends
 * straight into one growing buffer. Strings are validated as UTF-8 (JSON cannot carry other
 * bytes) and escaped; doubles are written with 17 significant digits (exact round trip),
 * NaN and infinities as null. The caller keeps the document well-formed.
 */
#ifndef TESSERA_HANDLERS_JSONW_H
#define TESSERA_HANDLERS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
    char *buf;
    size_t len, cap;
    bool failed; /* an allocation failed; everything after it was dropped */
};

void jsonw_init(struct jsonw *w);
void jsonw_cleanup(struct jsonw *w);

/* Append bytes as they are (punctuation, keys known to be plain ASCII). */
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

/* Hand the NUL-terminated buffer to the caller (who frees it); *len gets its length.
 * Returns NULL when an allocation failed. The writer is empty afterwards. */
char *jsonw_take(struct jsonw *w, size_t *len);

#endif
