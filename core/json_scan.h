/*
 * json_scan.h - find values in a small JSON text without building a tree: a member of an
 * object, an element or the length of an array, a string without escapes, an unsigned
 * integer. For Zarr metadata (.zarray, .zattrs, zarr.json), which core reads without a JSON
 * library.
 *
 * A value is addressed as a pointer into the caller's text, with end one past its last byte;
 * the result of one query is the argument of the next (json_scan_member(json_scan_index(...)
 * ...)), and a NULL argument gives NULL / false, so a missing key anywhere in a chain needs
 * one check at its end. Every query is at most one linear pass over the text, with nesting
 * bounded by JSON_SCAN_DEPTH, and anything malformed on its way gives NULL / false: hostile
 * input costs bounded time and no memory. Keys are compared as raw bytes (no unescaping).
 * Numbers and literals are only delimited (a run of [-+.0-9eE] or the letters of true, false
 * and null), not validated. Nothing allocates; everything is thread-safe.
 */
#ifndef TESSERA_CORE_JSON_SCAN_H
#define TESSERA_CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_SCAN_DEPTH 64u /* nesting levels a skipped value may have */

/* True when text..end is one JSON object with only whitespace around it (nesting within
 * JSON_SCAN_DEPTH). */
bool json_scan_is_object(const char *text, const char *end);

/* The end of the value starting at p (whitespace allowed before it), or NULL when it is
 * malformed or nests deeper than depth. */
const char *json_scan_skip(const char *p, const char *end, unsigned depth);

/* In the object at obj, the value of member key (the first with that key); NULL when obj is
 * NULL, not an object, malformed before the key, or has no such member. */
const char *json_scan_member(const char *obj, const char *end, const char *key);

/* Element i of the array at arr; NULL when arr is NULL, not an array, or shorter. */
const char *json_scan_index(const char *arr, const char *end, size_t i);

/* Elements in the array at arr, as far as it is well-formed; 0 for NULL or a non-array. */
size_t json_scan_length(const char *arr, const char *end);

/* The string value at v, when it has no escapes, into buf (n bytes, truncated to fit,
 * NUL-terminated); false otherwise. */
bool json_scan_string(const char *v, const char *end, char *buf, size_t n);

/* The unsigned decimal integer the value at v starts with (its leading digits); false when
 * it does not start with a digit or the number is above 18446744073709551609 (UINT64_MAX
 * less 6: the bound that keeps the digit loop exact). */
bool json_scan_uint(const char *v, const char *end, uint64_t *out);

#endif
