/*
 * npy.h - numpy's .npy format: the header parsed strictly, the array read by bands of rows.
 *
 * A .npy file is the magic "\x93NUMPY", a version byte pair (1.0, 2.0 or 3.0), the header
 * length (u16 little-endian in 1.0, u32 in 2.0 and 3.0), a header that is a Python dict
 * literal {'descr': '<u2', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and
 * a newline, then the raw array. The header is parsed as the subset of Python literal syntax
 * numpy writes and a person would write by hand: single or double quoted strings without
 * escapes, True / False, decimal integers (a Python 2 'L' suffix is accepted, as numpy's own
 * reader does), tuples such as (), (3,) and (3, 4,), spaces, tabs and newlines between tokens,
 * a trailing comma. Exactly the three keys, each once, in any order. Headers 1.0 and 2.0 must
 * be ASCII; 3.0 headers are checked as UTF-8 (their strings may hold it, and then name no
 * known key or dtype). Only integer dtypes are accepted: |u1 |i1 and the 2-, 4- and 8-byte
 * signed and unsigned types in either byte order ('<' or '>'); bool, floats, complex, strings,
 * objects, datetimes and structured dtypes are refused with a message naming the dtype.
 * The intensity entry points (npy_parse_intensity, npy_dtype_parse_intensity), for image
 * channels rather than labels, also accept IEEE floats of 4 and 8 bytes in either byte order
 * ('<f4' '>f4' '<f8' '>f8'); other floats (float16, '|f4') are refused there too.
 *
 * Nothing is copied: npy_parse validates a buffer holding the whole file (a mapping, say) and
 * reports where the data lies; npy_read_rows converts a band of rows into native-endian
 * row-major elements in a caller buffer, from C order (a copy) or Fortran order (a strided
 * gather). Rows are the array flattened to 2-D: every dimension but the last makes the row
 * index (in C order), the last is the row: a (y, x) image has y rows of x elements, a
 * (z, y, x) stack has z * y rows.
 *
 * Cost: parsing is O(header bytes), at most NPY_HEADER_MAX. A C-order band is one memcpy (and
 * one in-place byte swap for a foreign byte order). A Fortran-order band reads each element
 * once, 16 rows at a time so that reads of neighbouring rows share cache lines (for a 2-D
 * array they are adjacent in the file); for 3-D and up the reads of one band are spread over
 * the whole data, which is inherent in the layout. Every function is thread-safe: it touches
 * only what it is given.
 */
#ifndef TESSERA_CORE_NPY_H
#define TESSERA_CORE_NPY_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most dimensions accepted. Label stacks have 2 or 3; OME's (t, c, z, y, x) has 5. */
#define NPY_MAX_DIMS 8

/* The longest header accepted, in bytes: numpy's own reader refuses longer ones by default
 * (numpy.lib.format's _MAX_HEADER_SIZE, 10000 in the numpy 1.24 Debian 12 ships) because
 * evaluating a huge literal costs time and memory. Real headers are 128 bytes or less. */
#define NPY_HEADER_MAX 10000

/* Bytes before the header: magic, version, length (1.0 has a 2-byte length, later 4). */
#define NPY_PREFIX_MAX 12

/* An element type: an integer, or (intensity entry points only) an IEEE float. */
struct npy_dtype {
    unsigned width;  /* bytes per element: 1, 2, 4 or 8 */
    bool is_signed;  /* two's complement when true (true for floats) */
    bool floating;   /* IEEE binary32 (width 4) or binary64 (width 8) */
    bool big_endian; /* byte order as stored; false for 1-byte types */
};

struct npy_info {
    unsigned major, minor; /* format version: 1.0, 2.0 or 3.0 */
    struct npy_dtype dtype;
    char descr[8];      /* the dtype string as written ("<u2"), NUL-terminated */
    bool fortran_order; /* the file holds the array in column-major order */
    unsigned ndim;      /* 1..NPY_MAX_DIMS */
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t n_elements; /* product of shape; 0 when a dimension is 0 */
    uint64_t n_rows;     /* product of shape[0 .. ndim-2]; 1 for a 1-D array */
    uint64_t row_len;    /* shape[ndim-1]: elements in one row */
    size_t data_offset;  /* bytes from the start of the file to the first element */
    size_t data_len;     /* n_elements * dtype.width */
};

/* The size of the file prefix npy_parse_header needs (= info.data_offset), from the first
 * avail bytes of the file (NPY_PREFIX_MAX are always enough). Lets a caller that streams the
 * file read just the header first. Fails with ERROR_UNPROCESSABLE on a bad magic, an
 * unknown version, a header length over NPY_HEADER_MAX, or fewer bytes than the length field
 * needs; name (may be NULL) starts every message. */
enum error_code npy_prefix_size(const void *buf, size_t avail, const char *name, size_t *size,
                                struct error_info *err) ERROR_MUST_CHECK;

/* Parse the header at the start of buf (avail bytes, at least the prefix size) of a file of
 * file_size bytes, and fill *info. Checks, in order: magic, version, header length, that the
 * header is there, its syntax and keys, the dtype, ndim in 1..NPY_MAX_DIMS, that the element
 * count and byte size do not overflow 64 bits (and fit size_t), and that the data after the
 * header is exactly n_elements * width bytes (a short or long file gives both sizes). Every
 * failure is ERROR_UNPROCESSABLE with a message that starts with name and says what and
 * where. No allocation. */
enum error_code npy_parse_header(const void *buf, size_t avail, uint64_t file_size,
                                 const char *name, struct npy_info *info,
                                 struct error_info *err) ERROR_MUST_CHECK;

/* npy_parse_header on a buffer that holds the whole file (len bytes). */
enum error_code npy_parse(const void *buf, size_t len, const char *name, struct npy_info *info,
                          struct error_info *err) ERROR_MUST_CHECK;

/* npy_parse for an intensity channel: the same checks, but float dtypes <f4 >f4 <f8 >f8 are
 * accepted as well (info->dtype.floating). */
enum error_code npy_parse_intensity(const void *buf, size_t len, const char *name,
                                    struct npy_info *info, struct error_info *err) ERROR_MUST_CHECK;

/* Parse a numpy type string of len bytes ("<u2", "|u1", ">i8"), as in a .npy header or a
 * Zarr v2 .zarray "dtype". ERROR_UNPROCESSABLE names the dtype and why it is refused
 * ("'<f4' is a float dtype: label images need integers"). */
enum error_code npy_dtype_parse(const char *descr, size_t len, struct npy_dtype *dtype,
                                struct error_info *err) ERROR_MUST_CHECK;

/* npy_dtype_parse for an intensity channel: also "<f4" ">f4" "<f8" ">f8" (floating set).
 * Another float spelling is ERROR_UNPROCESSABLE naming the accepted ones. */
enum error_code npy_dtype_parse_intensity(const char *descr, size_t len, struct npy_dtype *dtype,
                                          struct error_info *err) ERROR_MUST_CHECK;

/* Convert rows [row0, row0 + n_rows) of the array into out as native-endian elements of
 * info->dtype.width bytes, row-major: out holds n_rows * info->row_len elements and out_len
 * must be at least that many bytes. data is the array data (info->data_len bytes, for
 * example buf + info->data_offset); a Fortran-order band reads from all of it. A range past
 * info->n_rows or a short out buffer is a caller bug: ERROR_INTERNAL, nothing written. */
enum error_code npy_read_rows(const struct npy_info *info, const void *data, uint64_t row0,
                              uint64_t n_rows, void *out, size_t out_len,
                              struct error_info *err) ERROR_MUST_CHECK;

#endif
