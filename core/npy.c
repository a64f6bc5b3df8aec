/*
 * npy.c - the .npy header parser and band reader; see npy.h for the contract.
 *
 * The header is scanned once, left to right, by a hand-written recursive-descent parser
 * over the few Python literal forms a header may hold. It never allocates and never looks
 * outside [header, header + header_len); each error names the byte offset in the header.
 */
#include "npy.h"

#include "byteorder.h"

#include <string.h>

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static const char *name_or_default(const char *name)
{
    return name != NULL ? name : ".npy";
}

/* ------------------------------------------------------------------------------------------
 * The prefix: magic, version, header length
 */

static uint64_t le_u16(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8;
}

static uint64_t le_u32(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

/* Check the prefix; *len_bytes is the size of the length field, *header_len the header's. */
static enum error_code parse_prefix(const unsigned char *b, size_t avail, const char *name,
                                    unsigned *major, unsigned *len_bytes, uint64_t *header_len,
                                    struct error_info *err)
{
    if (avail < 8 || memcmp(b, npy_magic, sizeof npy_magic) != 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: not a .npy file (no \\x93NUMPY magic)",
                         name);
    if ((b[6] != 1 && b[6] != 2 && b[6] != 3) || b[7] != 0)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: .npy format version %u.%u is not supported (1.0, 2.0, 3.0 are)", name,
                         b[6], b[7]);
    *major = b[6];
    *len_bytes = b[6] == 1 ? 2 : 4;
    if (avail < 8 + (size_t)*len_bytes)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: truncated .npy header length", name);
    *header_len = *len_bytes == 2 ? le_u16(b + 8) : le_u32(b + 8);
    if (*header_len > NPY_HEADER_MAX)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: .npy header length %llu is over the %d-byte limit", name,
                         (unsigned long long)*header_len, NPY_HEADER_MAX);
    return ERROR_OK;
}

enum error_code npy_prefix_size(const void *buf, size_t avail, const char *name, size_t *size,
                                struct error_info *err)
{
    unsigned major = 0, len_bytes = 0;
    uint64_t header_len = 0;
    enum error_code rc =
        parse_prefix(buf, avail, name_or_default(name), &major, &len_bytes, &header_len, err);
    if (rc == ERROR_OK)
        *size = 8 + (size_t)len_bytes + (size_t)header_len;
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * The dtype string
 */

enum error_code npy_dtype_parse_intensity(const char *descr, size_t len, struct npy_dtype *dtype,
                                          struct error_info *err)
{
    if (len == 3 && (descr[0] == '<' || descr[0] == '>') && descr[1] == 'f' &&
        (descr[2] == '4' || descr[2] == '8')) {
        dtype->width = (unsigned)(descr[2] - '0');
        dtype->is_signed = true;
        dtype->floating = true;
        dtype->big_endian = descr[0] == '>';
        return ERROR_OK;
    }
    if (len >= 2 && strchr("<>|=", descr[0]) != NULL && strchr("fed", descr[1]) != NULL)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "dtype '%.*s' is a float dtype this reader does not take: intensity "
                         "channels may be <f4 >f4 <f8 >f8 or integers",
                         (int)(len > 32 ? 32 : len), descr);
    return npy_dtype_parse(descr, len, dtype, err);
}

enum error_code npy_dtype_parse(const char *descr, size_t len, struct npy_dtype *dtype,
                                struct error_info *err)
{
    const char *what = NULL;
    if (len == 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|') &&
        (descr[1] == 'u' || descr[1] == 'i') && strchr("1248", descr[2]) != NULL &&
        descr[2] != '\0') {
        unsigned width = (unsigned)(descr[2] - '0');
        if (width > 1 && descr[0] == '|')
            return error_set(err, ERROR_UNPROCESSABLE,
                             "dtype '%.3s' has no byte order ('<' or '>' is needed)", descr);
        dtype->width = width;
        dtype->is_signed = descr[1] == 'i';
        dtype->floating = false;
        dtype->big_endian = width > 1 && descr[0] == '>';
        return ERROR_OK;
    }
    /* Name the kind after an optional byte-order character. */
    const size_t at = len >= 1 && descr[0] != '\0' && strchr("<>|=", descr[0]) != NULL ? 1 : 0;
    const char kind = at < len ? descr[at] : '\0';
    switch (kind) {
    case 'b':
    case '?':
        what = "a bool dtype";
        break;
    case 'f':
    case 'e':
    case 'd':
        what = "a float dtype";
        break;
    case 'c':
        what = "a complex dtype";
        break;
    case 'O':
        what = "an object dtype";
        break;
    case 'S':
    case 'U':
    case 'a':
        what = "a string dtype";
        break;
    case 'V':
        what = "a void (raw bytes) dtype";
        break;
    case 'M':
    case 'm':
        what = "a datetime dtype";
        break;
    case 'u':
    case 'i':
        what = "an integer width or byte order that is not supported";
        break;
    default:
        what = "not a dtype this reader knows";
        break;
    }
    return error_set(err, ERROR_UNPROCESSABLE,
                     "dtype '%.*s' is %s: label images need integers (|u1 |i1, <u2 >u2 <i2 >i2, "
                     "and the 4- and 8-byte ones)",
                     (int)(len > 32 ? 32 : len), descr, what);
}

/* ------------------------------------------------------------------------------------------
 * The header dict
 */

struct lexer {
    const unsigned char *start, *p, *end;
    const char *name;
    struct error_info *err;
    bool floats; /* accept the float dtypes of npy_dtype_parse_intensity */
};

static enum error_code syntax(struct lexer *lx, const char *what)
{
    return error_set(lx->err, ERROR_UNPROCESSABLE, "%s: .npy header: %s at byte %zu", lx->name,
                     what, (size_t)(lx->p - lx->start));
}

/* Python's whitespace between tokens (newlines are free inside braces and brackets). */
static void skip_space(struct lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' ||
                               *lx->p == '\r' || *lx->p == '\f' || *lx->p == '\v'))
        lx->p++;
}

static bool accept(struct lexer *lx, char c)
{
    skip_space(lx);
    if (lx->p < lx->end && *lx->p == (unsigned char)c) {
        lx->p++;
        return true;
    }
    return false;
}

static bool accept_word(struct lexer *lx, const char *word)
{
    size_t n = strlen(word);
    skip_space(lx);
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0)
        return false;
    const unsigned char *after = lx->p + n;
    if (after < lx->end && (*after == '_' || (*after >= '0' && *after <= '9') ||
                            ((*after | 0x20) >= 'a' && (*after | 0x20) <= 'z')))
        return false;
    lx->p = after;
    return true;
}

/* A quoted string without escapes; *s / *len point into the header. */
static enum error_code lex_string(struct lexer *lx, const unsigned char **s, size_t *len)
{
    skip_space(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
        return syntax(lx, "expected a quoted string");
    unsigned char quote = *lx->p++;
    *s = lx->p;
    while (lx->p < lx->end && *lx->p != quote) {
        if (*lx->p == '\\')
            return syntax(lx, "escape sequences are not accepted in strings");
        if (*lx->p < 0x20)
            return syntax(lx, "control character in a string");
        lx->p++;
    }
    if (lx->p >= lx->end)
        return syntax(lx, "unterminated string");
    *len = (size_t)(lx->p - *s);
    lx->p++;
    return ERROR_OK;
}

/* A non-negative decimal integer as Python writes it (no leading zeros), optional 'L'. */
static enum error_code lex_uint(struct lexer *lx, uint64_t *v)
{
    skip_space(lx);
    if (lx->p < lx->end && *lx->p == '-')
        return syntax(lx, "negative dimension in shape");
    if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9')
        return syntax(lx, "expected a dimension (a decimal integer)");
    if (*lx->p == '0' && lx->p + 1 < lx->end && lx->p[1] >= '0' && lx->p[1] <= '9')
        return syntax(lx, "leading zero in an integer");
    uint64_t x = 0;
    while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
        unsigned digit = (unsigned)(*lx->p - '0');
        if (x > (UINT64_MAX - digit) / 10)
            return syntax(lx, "dimension over 2^64 - 1");
        x = x * 10 + digit;
        lx->p++;
    }
    if (lx->p < lx->end && (*lx->p == 'L' || *lx->p == 'l'))
        lx->p++;
    if (lx->p < lx->end && (*lx->p == '_' || *lx->p == '.' || *lx->p == 'x' || *lx->p == 'e' ||
                            *lx->p == 'j' || *lx->p == 'o' || *lx->p == 'b'))
        return syntax(lx, "dimensions must be plain decimal integers");
    *v = x;
    return ERROR_OK;
}

/* A tuple of dimensions: (), (3,), (3, 4), (3, 4,). "(3)" is an int, not a tuple. */
static enum error_code parse_shape(struct lexer *lx, struct npy_info *info)
{
    if (!accept(lx, '('))
        return syntax(lx, "shape must be a tuple such as (512, 512)");
    unsigned n = 0;
    bool comma = false;
    while (!accept(lx, ')')) {
        if (n > 0 && !comma)
            return syntax(lx, "expected ',' or ')' in shape");
        uint64_t v = 0;
        enum error_code rc = lex_uint(lx, &v);
        if (rc != ERROR_OK)
            return rc;
        if (n == NPY_MAX_DIMS)
            return error_set(lx->err, ERROR_UNPROCESSABLE,
                             "%s: .npy shape has more than %d dimensions", lx->name, NPY_MAX_DIMS);
        info->shape[n++] = v;
        comma = accept(lx, ',');
    }
    if (n == 1 && !comma)
        return syntax(lx, "shape (n) is an integer, not a tuple: a 1-D shape is written (n,)");
    info->ndim = n;
    return ERROR_OK;
}

enum header_key { KEY_DESCR, KEY_FORTRAN, KEY_SHAPE };

static enum error_code parse_value(struct lexer *lx, enum header_key key, struct npy_info *info)
{
    if (key == KEY_FORTRAN) {
        if (accept_word(lx, "True"))
            info->fortran_order = true;
        else if (accept_word(lx, "False"))
            info->fortran_order = false;
        else
            return syntax(lx, "fortran_order must be True or False");
        return ERROR_OK;
    }
    if (key == KEY_SHAPE)
        return parse_shape(lx, info);
    skip_space(lx);
    if (lx->p < lx->end && (*lx->p == '[' || *lx->p == '('))
        return error_set(lx->err, ERROR_UNPROCESSABLE,
                         "%s: .npy descr is a structured dtype (a list of fields): label "
                         "images need one integer per element",
                         lx->name);
    const unsigned char *s;
    size_t len;
    enum error_code rc = lex_string(lx, &s, &len);
    if (rc != ERROR_OK)
        return rc;
    struct error_info sub;
    if ((lx->floats ? npy_dtype_parse_intensity((const char *)s, len, &info->dtype, &sub)
                    : npy_dtype_parse((const char *)s, len, &info->dtype, &sub)) != ERROR_OK)
        return error_set(lx->err, ERROR_UNPROCESSABLE, "%s: %s", lx->name, sub.detail);
    memcpy(info->descr, s, len);
    info->descr[len] = '\0';
    return ERROR_OK;
}

static enum error_code parse_dict(struct lexer *lx, struct npy_info *info)
{
    static const char *const keys[] = {"descr", "fortran_order", "shape"};
    bool seen[3] = {false, false, false};
    if (!accept(lx, '{'))
        return syntax(lx, "the header must be a dict ({...})");
    bool comma = true;
    while (!accept(lx, '}')) {
        if (!comma)
            return syntax(lx, "expected ',' or '}'");
        const unsigned char *s;
        size_t len;
        enum error_code rc = lex_string(lx, &s, &len);
        if (rc != ERROR_OK)
            return rc;
        unsigned k = 0;
        while (k < 3 && !(strlen(keys[k]) == len && memcmp(keys[k], s, len) == 0))
            k++;
        if (k == 3)
            return error_set(lx->err, ERROR_UNPROCESSABLE,
                             "%s: .npy header has an unknown key '%.*s' (only descr, "
                             "fortran_order and shape are allowed)",
                             lx->name, (int)(len > 40 ? 40 : len), (const char *)s);
        if (seen[k])
            return error_set(lx->err, ERROR_UNPROCESSABLE, "%s: .npy header repeats key '%s'",
                             lx->name, keys[k]);
        seen[k] = true;
        if (!accept(lx, ':'))
            return syntax(lx, "expected ':' after a key");
        rc = parse_value(lx, (enum header_key)k, info);
        if (rc != ERROR_OK)
            return rc;
        comma = accept(lx, ',');
    }
    for (unsigned k = 0; k < 3; k++)
        if (!seen[k])
            return error_set(lx->err, ERROR_UNPROCESSABLE, "%s: .npy header has no '%s' key",
                             lx->name, keys[k]);
    skip_space(lx);
    if (lx->p != lx->end)
        return syntax(lx, "unexpected text after the dict");
    return ERROR_OK;
}

/* Version 1.0 and 2.0 headers are latin-1 by definition and ASCII in every valid one;
 * 3.0 headers are UTF-8. */
static enum error_code check_encoding(const unsigned char *h, size_t n, unsigned major,
                                      const char *name, struct error_info *err)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i] < 0x80)
            continue;
        if (major < 3)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: non-ASCII byte 0x%02x at byte %zu of a version %u.0 .npy "
                             "header",
                             name, h[i], i, major);
        unsigned extra = (h[i] & 0xE0) == 0xC0   ? 1
                         : (h[i] & 0xF0) == 0xE0 ? 2
                         : (h[i] & 0xF8) == 0xF0 ? 3
                                                 : 0;
        bool ok = extra > 0 && h[i] >= 0xC2 && h[i] <= 0xF4 && i + extra < n;
        for (unsigned k = 1; ok && k <= extra; k++)
            ok = (h[i + k] & 0xC0) == 0x80;
        /* No overlong forms, no UTF-16 surrogates, nothing past U+10FFFF. */
        if (ok && ((h[i] == 0xE0 && h[i + 1] < 0xA0) || (h[i] == 0xED && h[i + 1] > 0x9F) ||
                   (h[i] == 0xF0 && h[i + 1] < 0x90) || (h[i] == 0xF4 && h[i + 1] > 0x8F)))
            ok = false;
        if (!ok)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: invalid UTF-8 at byte %zu of a version 3.0 .npy header", name, i);
        i += extra;
    }
    return ERROR_OK;
}

static enum error_code parse_header(const void *buf, size_t avail, uint64_t file_size,
                                    const char *name, bool floats, struct npy_info *info,
                                    struct error_info *err)
{
    const unsigned char *b = buf;
    name = name_or_default(name);
    memset(info, 0, sizeof *info);
    unsigned major = 0, len_bytes = 0;
    uint64_t header_len = 0;
    enum error_code rc = parse_prefix(b, avail, name, &major, &len_bytes, &header_len, err);
    if (rc != ERROR_OK)
        return rc;
    size_t offset = 8 + (size_t)len_bytes + (size_t)header_len;
    const uint64_t have = avail < file_size ? avail : file_size;
    if (have < offset)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: truncated .npy header (%llu bytes declared, %llu present)", name,
                         (unsigned long long)header_len,
                         (unsigned long long)(have > 8 + len_bytes ? have - 8 - len_bytes : 0));
    const unsigned char *h = b + 8 + len_bytes;
    rc = check_encoding(h, (size_t)header_len, major, name, err);
    if (rc != ERROR_OK)
        return rc;
    struct lexer lx = {
        .start = h, .p = h, .end = h + header_len, .name = name, .err = err, .floats = floats};
    rc = parse_dict(&lx, info);
    if (rc != ERROR_OK)
        return rc;
    if (info->ndim == 0)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: .npy shape () is a scalar: label images need 1 to %d dimensions",
                         name, NPY_MAX_DIMS);
    uint64_t n = 1;
    for (unsigned k = 0; k < info->ndim; k++)
        if (__builtin_mul_overflow(n, info->shape[k], &n))
            return error_set(err, ERROR_UNPROCESSABLE, "%s: .npy shape has more than 2^64 elements",
                             name);
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)info->dtype.width, &bytes) || bytes > SIZE_MAX)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: .npy array of %llu elements of %u bytes is too large to address",
                         name, (unsigned long long)n, info->dtype.width);
    if (file_size - offset != bytes)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: .npy data is %llu bytes but shape and dtype need %llu", name,
                         (unsigned long long)(file_size - offset), (unsigned long long)bytes);
    info->major = major;
    info->minor = 0;
    info->n_elements = n;
    info->row_len = info->shape[info->ndim - 1];
    info->n_rows = 1;
    for (unsigned k = 0; k + 1 < info->ndim; k++)
        info->n_rows *= info->shape[k];
    info->data_offset = offset;
    info->data_len = (size_t)bytes;
    return ERROR_OK;
}

enum error_code npy_parse_header(const void *buf, size_t avail, uint64_t file_size,
                                 const char *name, struct npy_info *info, struct error_info *err)
{
    return parse_header(buf, avail, file_size, name, false, info, err);
}

enum error_code npy_parse(const void *buf, size_t len, const char *name, struct npy_info *info,
                          struct error_info *err)
{
    return parse_header(buf, len, len, name, false, info, err);
}

enum error_code npy_parse_intensity(const void *buf, size_t len, const char *name,
                                    struct npy_info *info, struct error_info *err)
{
    return parse_header(buf, len, len, name, true, info, err);
}

/* ------------------------------------------------------------------------------------------
 * Bands of rows
 *
 * In Fortran order element (i_0, ..., i_{n-1}) sits at sum i_k * stride_k with stride_0 = 1
 * and stride_k = stride_{k-1} * shape_{k-1}. Rows are visited 16 at a time: their start
 * offsets are computed once (an odometer over the leading indices), then each column x is
 * gathered for all 16 rows, so the 16 output rows stay in cache and, for 2-D, the 16 reads
 * are adjacent in the file.
 */

#define NPY_GATHER_ROWS 16

static inline void gather_tile(unsigned char *out, const unsigned char *data, const uint64_t *base,
                               unsigned rows, uint64_t row_len, uint64_t col_stride, unsigned w)
{
    for (uint64_t x = 0; x < row_len; x++) {
        const uint64_t col = x * col_stride;
        for (unsigned j = 0; j < rows; j++)
            memcpy(out + ((size_t)j * row_len + x) * w, data + (size_t)(base[j] + col) * w, w);
    }
}

static void gather_fortran(const struct npy_info *info, const unsigned char *data, uint64_t row0,
                           uint64_t n_rows, unsigned char *out)
{
    const unsigned lead = info->ndim - 1, w = info->dtype.width;
    uint64_t stride[NPY_MAX_DIMS], idx[NPY_MAX_DIMS];
    stride[0] = 1;
    for (unsigned k = 1; k < info->ndim; k++)
        stride[k] = stride[k - 1] * info->shape[k - 1];
    /* The leading multi-index of row0, last leading index fastest (C order of rows). */
    uint64_t r = row0, offset = 0;
    for (unsigned k = lead; k-- > 0;) {
        idx[k] = r % info->shape[k];
        r /= info->shape[k];
        offset += idx[k] * stride[k];
    }
    const uint64_t col_stride = stride[lead];
    uint64_t base[NPY_GATHER_ROWS];
    for (uint64_t done = 0; done < n_rows;) {
        unsigned rows =
            n_rows - done < NPY_GATHER_ROWS ? (unsigned)(n_rows - done) : NPY_GATHER_ROWS;
        for (unsigned j = 0; j < rows; j++) {
            base[j] = offset;
            /* Advance the odometer to the next row. */
            for (unsigned k = lead; k-- > 0;) {
                if (++idx[k] < info->shape[k]) {
                    offset += stride[k];
                    break;
                }
                offset -= (idx[k] - 1) * stride[k];
                idx[k] = 0;
            }
        }
        unsigned char *dst = out + (size_t)(done * info->row_len) * w;
        /* A constant width lets the compiler turn each memcpy into one move. */
        switch (w) {
        case 1:
            gather_tile(dst, data, base, rows, info->row_len, col_stride, 1);
            break;
        case 2:
            gather_tile(dst, data, base, rows, info->row_len, col_stride, 2);
            break;
        case 4:
            gather_tile(dst, data, base, rows, info->row_len, col_stride, 4);
            break;
        default:
            gather_tile(dst, data, base, rows, info->row_len, col_stride, 8);
            break;
        }
        done += rows;
    }
}

enum error_code npy_read_rows(const struct npy_info *info, const void *data, uint64_t row0,
                              uint64_t n_rows, void *out, size_t out_len, struct error_info *err)
{
    if (row0 > info->n_rows || n_rows > info->n_rows - row0)
        return error_set(err, ERROR_INTERNAL, "npy_read_rows: rows %llu+%llu past %llu rows",
                         (unsigned long long)row0, (unsigned long long)n_rows,
                         (unsigned long long)info->n_rows);
    /* Both products are bounded by n_elements * width = data_len, which fits size_t. */
    const size_t n = (size_t)(n_rows * info->row_len), w = info->dtype.width;
    if (out_len < n * w)
        return error_set(err, ERROR_INTERNAL, "npy_read_rows: %zu-byte buffer for %zu bytes",
                         out_len, n * w);
    if (n == 0)
        return ERROR_OK;
    const unsigned char *src = data;
    const bool swap = byteorder_needs_swap(info->dtype.big_endian);
    if (!info->fortran_order || info->n_rows == 1) {
        /* C order, or a single row, which both orders lay out alike. */
        byteorder_copy(out, src + (size_t)(row0 * info->row_len) * w, n, info->dtype.width, swap);
        return ERROR_OK;
    }
    gather_fortran(info, src, row0, n_rows, out);
    byteorder_copy(out, out, n, info->dtype.width, swap);
    return ERROR_OK;
}
