/*
 * zarr_array.c - Zarr array metadata parsed strictly, and store paths resolved to arrays;
 * see zarr_array.h.
 *
 * As in core/classify_zarr.c, nothing is parsed into a tree: each metadata file is read
 * whole into one NUL-terminated buffer, checked once to be one JSON object, and queried in
 * place with core/json_scan. Every field the decoding depends on is checked for its exact
 * JSON type here, so a value json_scan would only delimit (3.5 where an integer belongs,
 * say) is refused instead of misread.
 */
#include "zarr_array.h"

#include "alloc.h"
#include "color.h"
#include "confine.h"
#include "json_scan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- JSON values ------------------------------------------------------------------------ */

static const char *skip_space(const char *p, const char *end)
{
    while (p != NULL && p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The value at v is the literal word (null, true, false). */
static bool is_word(const char *v, const char *end, const char *word)
{
    v = skip_space(v, end);
    size_t n = strlen(word);
    return v != NULL && (size_t)(end - v) >= n && memcmp(v, word, n) == 0 &&
           json_scan_skip(v, end, 1) == v + n;
}

/* The value at v is an unsigned integer written as plain digits (no sign, fraction or
 * exponent), into *out. */
static bool exact_uint(const char *v, const char *end, uint64_t *out)
{
    v = skip_space(v, end);
    if (v == NULL)
        return false; /* an absent member */
    const char *e = json_scan_skip(v, end, 1);
    if (e == NULL || e == v)
        return false;
    for (const char *p = v; p < e; p++)
        if (*p < '0' || *p > '9')
            return false;
    return json_scan_uint(v, end, out);
}

/* The array at v of 1..ZARR_CODEC_MAX_DIMS positive integers, into out; *n its length. */
static bool uint_list(const char *v, const char *end, uint64_t *out, unsigned *n)
{
    v = skip_space(v, end);
    if (v == NULL || v >= end || *v != '[')
        return false;
    size_t len = json_scan_length(v, end);
    if (len == 0 || len > ZARR_CODEC_MAX_DIMS)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!exact_uint(json_scan_index(v, end, i), end, &out[i]))
            return false;
    *n = (unsigned)len;
    return true;
}

/* ---- .zarray ---------------------------------------------------------------------------- */

/* err (set to code rc by a callee) with name put before its detail. */
static enum error_code with_name(struct error_info *err, enum error_code rc, const char *name)
{
    char detail[sizeof err->detail];
    memcpy(detail, err->detail, sizeof detail);
    detail[sizeof detail - 1] = '\0';
    return error_set(err, rc, "%s: %s", name, detail);
}

/* The bits of d as a float of width bytes (4 or 8), native order. */
static uint64_t float_bits(double d, unsigned width)
{
    if (width == 4) {
        const float f = (float)d;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u;
    }
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* A float fill_value: a JSON number, "NaN", "Infinity", "-Infinity" (as zarr-python writes
 * them), or (v3) "0x" and the element's bits as 2 x width hex digits. */
static enum error_code parse_float_fill(const char *v, const char *end, const char *name,
                                        struct zarr_array_meta *m, struct error_info *err)
{
    const unsigned w = m->dtype.width;
    char text[48];
    if (json_scan_string(v, end, text, sizeof text)) {
        if (strcmp(text, "NaN") == 0)
            m->fill_bits = float_bits(NAN, w);
        else if (strcmp(text, "Infinity") == 0)
            m->fill_bits = float_bits(INFINITY, w);
        else if (strcmp(text, "-Infinity") == 0)
            m->fill_bits = float_bits(-INFINITY, w);
        else if (m->zarr_format == 3 && strncmp(text, "0x", 2) == 0 && strlen(text) == 2 + 2 * w &&
                 strspn(text + 2, "0123456789abcdefABCDEF") == 2 * w)
            m->fill_bits = strtoull(text + 2, NULL, 16);
        else
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: fill_value \"%s\" is not a float (a number, \"NaN\", "
                             "\"Infinity\" or \"-Infinity\")",
                             name, text);
        return ERROR_OK;
    }
    const char *e = json_scan_skip(v, end, 1);
    size_t n = e != NULL && e > v ? (size_t)(e - v) : 0;
    while (n > 0 && strchr(" \t\r\n", v[n - 1]) != NULL)
        n--;
    bool number = n > 0 && n < sizeof text;
    for (size_t i = 0; number && i < n; i++) /* v need not be NUL-terminated */
        number = strchr("0123456789+-.eE", v[i]) != NULL && v[i] != '\0';
    char *stop = NULL;
    if (number) {
        memcpy(text, v, n);
        text[n] = '\0';
        const double d = strtod(text, &stop);
        if (stop == text + n) {
            m->fill_bits = float_bits(d, w);
            return ERROR_OK;
        }
    }
    return error_set(err, ERROR_UNPROCESSABLE,
                     "%s: fill_value must be null, a number, \"NaN\", \"Infinity\" or "
                     "\"-Infinity\" for a float array",
                     name);
}

/* fill_value: null, or an integer (maybe negative) that fits the dtype; for a float dtype
 * parse_float_fill's forms. */
static enum error_code parse_fill(const char *v, const char *end, const char *name,
                                  struct zarr_array_meta *m, struct error_info *err)
{
    m->fill_bits = 0;
    if (v == NULL || is_word(v, end, "null"))
        return ERROR_OK;
    if (m->dtype.floating)
        return parse_float_fill(skip_space(v, end), end, name, m, err);
    v = skip_space(v, end);
    bool negative = v < end && *v == '-';
    uint64_t magnitude;
    if (!exact_uint(negative ? v + 1 : v, end, &magnitude))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: fill_value must be null or an integer for a label array", name);
    enum error_code rc = zarr_fill_value_bits(m->dtype.width, m->dtype.is_signed, negative,
                                              magnitude, &m->fill_bits, err);
    return rc == ERROR_OK ? ERROR_OK : with_name(err, rc, name);
}

/* A non-empty filters list: the ids it names, for the message. */
static enum error_code refuse_filters(const char *v, const char *end, const char *name,
                                      struct error_info *err)
{
    char ids[160] = "";
    size_t used = 0, n = json_scan_length(v, end);
    for (size_t i = 0; i < n && used + 1 < sizeof ids; i++) {
        char id[48];
        if (!json_scan_string(json_scan_member(json_scan_index(v, end, i), end, "id"), end, id,
                              sizeof id))
            snprintf(id, sizeof id, "?");
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%s", i ? ", " : "", id);
    }
    return error_set(err, ERROR_UNPROCESSABLE,
                     "%s: filters are not supported (the array lists: %s)", name,
                     n ? ids : "a filter value that is not a list");
}

/* Chunks in the grid, or ERROR_TOO_LARGE past ZARR_ARRAY_MAX_CHUNKS. */
static enum error_code count_chunks(struct zarr_array_meta *m, const char *name,
                                    struct error_info *err)
{
    uint64_t n = 1;
    for (unsigned i = 0; i < m->ndim; i++) {
        uint64_t across = m->shape[i] / m->chunks[i] + (m->shape[i] % m->chunks[i] != 0);
        if (across != 0 && n > ZARR_ARRAY_MAX_CHUNKS / across) {
            n = ZARR_ARRAY_MAX_CHUNKS + 1;
            break;
        }
        n *= across;
    }
    m->n_chunks = n;
    if (n > ZARR_ARRAY_MAX_CHUNKS)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: the array has more than %llu chunks; refused before reading any",
                         name, (unsigned long long)ZARR_ARRAY_MAX_CHUNKS);
    return ERROR_OK;
}

static enum error_code parse_v2(const char *text, size_t len, const char *name, bool floats,
                                struct zarr_array_meta *m, struct error_info *err)
{
    const char *end = text + len;
    memset(m, 0, sizeof *m);
    if (!json_scan_is_object(text, end))
        return error_set(err, ERROR_UNPROCESSABLE, "%s is not one JSON object", name);
    uint64_t format = 0;
    if (!exact_uint(json_scan_member(text, end, "zarr_format"), end, &format) || format != 2)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: zarr_format must be 2", name);
    m->zarr_format = 2;
    unsigned n_chunks_dims = 0;
    if (!uint_list(json_scan_member(text, end, "shape"), end, m->shape, &m->ndim) ||
        !uint_list(json_scan_member(text, end, "chunks"), end, m->chunks, &n_chunks_dims))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: shape and chunks must be lists of 1 to %d integers", name,
                         ZARR_CODEC_MAX_DIMS);
    if (n_chunks_dims != m->ndim)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: shape has %u dimensions, chunks %u: they must agree", name, m->ndim,
                         n_chunks_dims);
    for (unsigned i = 0; i < m->ndim; i++)
        if (m->chunks[i] == 0)
            return error_set(err, ERROR_UNPROCESSABLE, "%s: chunk dimension %u is 0", name, i);
    char dtype[16];
    if (!json_scan_string(json_scan_member(text, end, "dtype"), end, dtype, sizeof dtype))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: dtype must be a simple type string such as \"<u2\"", name);
    enum error_code rc = floats ? npy_dtype_parse_intensity(dtype, strlen(dtype), &m->dtype, err)
                                : npy_dtype_parse(dtype, strlen(dtype), &m->dtype, err);
    if (rc != ERROR_OK)
        return with_name(err, rc, name);
    char order[4];
    if (!json_scan_string(json_scan_member(text, end, "order"), end, order, sizeof order) ||
        (strcmp(order, "C") != 0 && strcmp(order, "F") != 0))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: order must be \"C\" or \"F\"", name);
    const char *filters = json_scan_member(text, end, "filters");
    if (filters != NULL && !is_word(filters, end, "null") && json_scan_length(filters, end) != 0)
        return refuse_filters(filters, end, name, err);
    const char *sep = json_scan_member(text, end, "dimension_separator");
    char sepbuf[4] = ".";
    if (sep != NULL && (!json_scan_string(sep, end, sepbuf, sizeof sepbuf) ||
                        (strcmp(sepbuf, ".") != 0 && strcmp(sepbuf, "/") != 0)))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: dimension_separator must be \".\" or \"/\"",
                         name);
    m->separator = sepbuf[0];
    if ((rc = parse_fill(json_scan_member(text, end, "fill_value"), end, name, m, err)) !=
            ERROR_OK ||
        (rc = count_chunks(m, name, err)) != ERROR_OK)
        return rc;
    if ((rc = zarr_codec_chain_v2(&m->chain, m->dtype.width, m->dtype.big_endian, order[0] == 'F',
                                  m->ndim, m->chunks, err)) != ERROR_OK)
        return with_name(err, rc, name);
    const char *comp = json_scan_member(text, end, "compressor");
    if (comp == NULL)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: compressor is missing", name);
    if (!is_word(comp, end, "null")) {
        char id[48];
        const char *idv = json_scan_member(comp, end, "id");
        if (!json_scan_string(idv, end, id, sizeof id))
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: compressor must be null or an object with an \"id\"", name);
        struct zarr_codec c = {0};
        if ((rc = zarr_codec_lookup(2, id, strlen(id), &c.id, err)) != ERROR_OK ||
            (rc = zarr_codec_chain_add(&m->chain, &c, err)) != ERROR_OK)
            return with_name(err, rc, name);
    }
    if ((rc = zarr_codec_chain_check(&m->chain, err)) != ERROR_OK)
        return with_name(err, rc, name);
    return ERROR_OK;
}

/* v3 data_type names of the integer types, with their v2 / numpy spelling. */
static const struct {
    const char *v3, *numpy;
} zarr_v3_types[] = {{"int8", "|i1"},    {"int16", "<i2"},  {"int32", "<i4"},  {"int64", "<i8"},
                     {"uint8", "|u1"},   {"uint16", "<u2"}, {"uint32", "<u4"}, {"uint64", "<u8"},
                     {"float32", "<f4"}, {"float64", "<f8"}}; /* the floats: intensity only */

/* One entry of a v3 "codecs" list into the chain. */
static enum error_code parse_v3_codec(const char *v, const char *end, const char *name, size_t i,
                                      struct zarr_array_meta *m, struct error_info *err)
{
    char cname[64];
    if (!json_scan_string(json_scan_member(v, end, "name"), end, cname, sizeof cname))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: codecs[%zu] has no name", name, i);
    struct zarr_codec c = {0};
    enum error_code rc = zarr_codec_lookup(3, cname, strlen(cname), &c.id, err);
    if (rc != ERROR_OK)
        return with_name(err, rc, name);
    const char *conf = json_scan_member(v, end, "configuration");
    if (c.id == ZARR_CODEC_BYTES) {
        char endian[16] = "little";
        const char *e = json_scan_member(conf, end, "endian");
        if (e != NULL && (!json_scan_string(e, end, endian, sizeof endian) ||
                          (strcmp(endian, "little") != 0 && strcmp(endian, "big") != 0)))
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the bytes codec's endian must be \"little\" or \"big\"", name);
        c.big_endian = strcmp(endian, "big") == 0;
        m->dtype.big_endian = c.big_endian && m->dtype.width > 1;
    } else if (c.id == ZARR_CODEC_TRANSPOSE) {
        uint64_t order[ZARR_CODEC_MAX_DIMS];
        unsigned n = 0;
        const char *o = json_scan_member(conf, end, "order");
        o = skip_space(o, end);
        /* a permutation; 0 is a valid entry, so uint_list's "positive" is checked here */
        size_t len = o != NULL && o < end && *o == '[' ? json_scan_length(o, end) : 0;
        for (size_t k = 0; k < len && k < ZARR_CODEC_MAX_DIMS; k++)
            if (exact_uint(json_scan_index(o, end, k), end, &order[k]))
                n++;
        if (len != m->ndim || n != m->ndim)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the transpose codec's order must list %u axes", name, m->ndim);
        for (unsigned k = 0; k < m->ndim; k++)
            c.order[k] = order[k] < ZARR_CODEC_MAX_DIMS ? (unsigned)order[k] : ZARR_CODEC_MAX_DIMS;
    }
    rc = zarr_codec_chain_add(&m->chain, &c, err);
    return rc == ERROR_OK ? ERROR_OK : with_name(err, rc, name);
}

static enum error_code parse_v3(const char *text, size_t len, const char *name, bool floats,
                                struct zarr_array_meta *m, struct error_info *err)
{
    const char *end = text + len;
    memset(m, 0, sizeof *m);
    if (!json_scan_is_object(text, end))
        return error_set(err, ERROR_UNPROCESSABLE, "%s is not one JSON object", name);
    uint64_t format = 0;
    char s[64];
    if (!exact_uint(json_scan_member(text, end, "zarr_format"), end, &format) || format != 3)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: zarr_format must be 3", name);
    if (!json_scan_string(json_scan_member(text, end, "node_type"), end, s, sizeof s) ||
        strcmp(s, "array") != 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: node_type must be \"array\"", name);
    m->zarr_format = 3;
    const char *grid = json_scan_member(text, end, "chunk_grid");
    unsigned n_chunk_dims = 0;
    if (!json_scan_string(json_scan_member(grid, end, "name"), end, s, sizeof s) ||
        strcmp(s, "regular") != 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: chunk_grid must be \"regular\"", name);
    if (!uint_list(json_scan_member(text, end, "shape"), end, m->shape, &m->ndim) ||
        !uint_list(
            json_scan_member(json_scan_member(grid, end, "configuration"), end, "chunk_shape"), end,
            m->chunks, &n_chunk_dims))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: shape and chunk_shape must be lists of 1 to %d positive integers",
                         name, ZARR_CODEC_MAX_DIMS);
    if (n_chunk_dims != m->ndim)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: shape has %u dimensions, chunk_shape %u: they must agree", name,
                         m->ndim, n_chunk_dims);
    for (unsigned i = 0; i < m->ndim; i++)
        if (m->chunks[i] == 0)
            return error_set(err, ERROR_UNPROCESSABLE, "%s: chunk dimension %u is 0", name, i);
    if (!json_scan_string(json_scan_member(text, end, "data_type"), end, s, sizeof s))
        return error_set(err, ERROR_UNPROCESSABLE, "%s: data_type must be a string", name);
    const char *numpy = NULL;
    for (size_t i = 0; i < sizeof zarr_v3_types / sizeof zarr_v3_types[0]; i++)
        if (strcmp(s, zarr_v3_types[i].v3) == 0 && (floats || zarr_v3_types[i].numpy[1] != 'f'))
            numpy = zarr_v3_types[i].numpy;
    if (numpy == NULL)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: data_type \"%s\" is not an integer type: label images need "
                         "int8-int64 or uint8-uint64",
                         name, s);
    enum error_code rc = npy_dtype_parse_intensity(numpy, strlen(numpy), &m->dtype, err);
    if (rc != ERROR_OK)
        return with_name(err, rc, name);
    /* chunk keys: "default" is c/0/0 (separator "/" unless given), "v2" is 0.0 */
    const char *keys = json_scan_member(text, end, "chunk_key_encoding");
    char sep[4] = "/";
    m->key_prefix_c = true;
    if (keys != NULL) {
        if (!json_scan_string(json_scan_member(keys, end, "name"), end, s, sizeof s) ||
            (strcmp(s, "default") != 0 && strcmp(s, "v2") != 0))
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: chunk_key_encoding must be \"default\" or \"v2\"", name);
        if (strcmp(s, "v2") == 0) {
            m->key_prefix_c = false;
            sep[0] = '.';
        }
        const char *sv =
            json_scan_member(json_scan_member(keys, end, "configuration"), end, "separator");
        if (sv != NULL && (!json_scan_string(sv, end, sep, sizeof sep) ||
                           (strcmp(sep, ".") != 0 && strcmp(sep, "/") != 0)))
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the chunk key separator must be \".\" or \"/\"", name);
    }
    m->separator = sep[0];
    const char *st = json_scan_member(text, end, "storage_transformers");
    if (st != NULL && json_scan_length(st, end) != 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: storage_transformers are not supported",
                         name);
    if ((rc = parse_fill(json_scan_member(text, end, "fill_value"), end, name, m, err)) !=
            ERROR_OK ||
        (rc = count_chunks(m, name, err)) != ERROR_OK)
        return rc;
    if ((rc = zarr_codec_chain_init(&m->chain, m->dtype.width, m->ndim, m->chunks, err)) !=
        ERROR_OK)
        return with_name(err, rc, name);
    const char *codecs = skip_space(json_scan_member(text, end, "codecs"), end);
    size_t n = codecs != NULL && codecs < end && *codecs == '[' ? json_scan_length(codecs, end) : 0;
    if (n == 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: codecs must be a non-empty list", name);
    for (size_t i = 0; i < n; i++)
        if ((rc = parse_v3_codec(json_scan_index(codecs, end, i), end, name, i, m, err)) !=
            ERROR_OK)
            return rc;
    if ((rc = zarr_codec_chain_check(&m->chain, err)) != ERROR_OK)
        return with_name(err, rc, name);
    return ERROR_OK;
}

bool zarr_array_chunk_key(const struct zarr_array_meta *m, const uint64_t *idx, char *buf,
                          size_t size)
{
    size_t used = 0;
    if (m->key_prefix_c) {
        int n = snprintf(buf, size, "c%c", m->separator);
        if (n < 0 || (size_t)n >= size)
            return false;
        used = (size_t)n;
    }
    for (unsigned i = 0; i < m->ndim; i++) {
        int n = i ? snprintf(buf + used, size - used, "%c%llu", m->separator,
                             (unsigned long long)idx[i])
                  : snprintf(buf + used, size - used, "%llu", (unsigned long long)idx[i]);
        if (n < 0 || (size_t)n >= size - used)
            return false;
        used += (size_t)n;
    }
    return true;
}

/* ---- the store -------------------------------------------------------------------------- */

/* dir (len bytes, a trailing '/' dropped, "" or "." the root) joined with name into out. */
enum error_code zarr_array_parse_v2(const char *text, size_t len, const char *name,
                                    struct zarr_array_meta *meta, struct error_info *err)
{
    return parse_v2(text, len, name, false, meta, err);
}

enum error_code zarr_array_parse_v3(const char *text, size_t len, const char *name,
                                    struct zarr_array_meta *meta, struct error_info *err)
{
    return parse_v3(text, len, name, false, meta, err);
}

enum error_code zarr_array_parse_intensity(unsigned format, const char *text, size_t len,
                                           const char *name, struct zarr_array_meta *meta,
                                           struct error_info *err)
{
    return format == 3 ? parse_v3(text, len, name, true, meta, err)
                       : parse_v2(text, len, name, true, meta, err);
}

static bool join(const char *dir, size_t len, const char *name, char *out, size_t size)
{
    while (len > 0 && dir[len - 1] == '/')
        len--;
    if (len == 1 && dir[0] == '.')
        len = 0;
    int n =
        len ? snprintf(out, size, "%.*s/%s", (int)len, dir, name) : snprintf(out, size, "%s", name);
    return n >= 0 && (size_t)n < size && (size_t)n <= CONFINE_PATH_MAX;
}

/* Read metadata file rel beneath root into *text (NUL-terminated; caller frees). *text is
 * NULL, with ERROR_OK, when the file is absent. */
static enum error_code load_json(int root_fd, const char *rel, size_t max, char **text, size_t *len,
                                 struct error_info *err)
{
    *text = NULL;
    *len = 0;
    int fd = -1;
    struct stat st;
    struct error_info oerr;
    error_init(&oerr);
    if (confine_open(root_fd, rel, strlen(rel), CONFINE_ANY, &fd, &st, &oerr) != ERROR_OK) {
        if (oerr.code == ERROR_NOT_FOUND || oerr.sys_errno == ENOTDIR)
            return ERROR_OK;
        *err = oerr;
        return oerr.code;
    }
    enum error_code rc = ERROR_OK;
    if (!S_ISREG(st.st_mode)) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "Zarr metadata %s is not a regular file", rel);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "Zarr metadata %s is %lld bytes, over the %zu-byte limit (zarr_json_max)",
                       rel, (long long)st.st_size, max);
        goto out;
    }
    *text = alloc_bytes((size_t)st.st_size + 1);
    if (*text == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory reading Zarr metadata %s", rel);
        goto out;
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = pread(fd, *text + done, (size_t)st.st_size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = error_set(err, ERROR_IO, "cannot read Zarr metadata %s: %s", rel, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    (*text)[done] = '\0';
    *len = done;
out:
    if (rc != ERROR_OK) {
        free(*text);
        *text = NULL;
    }
    close(fd);
    return rc;
}

/* The path of dataset `level` of the multiscale group whose attributes object is attrs,
 * into ds; ERROR_NOT_FOUND when attrs has no multiscales. name is the metadata file. */
static enum error_code multiscale_level(const char *attrs, const char *end, const char *name,
                                        unsigned level, char *ds, size_t size,
                                        struct error_info *err)
{
    const char *ms = json_scan_member(attrs, end, "multiscales");
    const char *datasets = json_scan_member(json_scan_index(ms, end, 0), end, "datasets");
    if (datasets == NULL)
        return ERROR_NOT_FOUND; /* not a multiscale group */
    size_t n = json_scan_length(datasets, end);
    if (level >= n)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: level %u does not exist (the multiscale group has %zu level%s)", name,
                         level, n, n == 1 ? "" : "s");
    if (!json_scan_string(json_scan_member(json_scan_index(datasets, end, level), end, "path"), end,
                          ds, size) ||
        ds[0] == '\0')
        return error_set(err, ERROR_UNPROCESSABLE, "%s: multiscales[0].datasets[%u] has no path",
                         name, level);
    return ERROR_OK;
}

enum zarr_node { ZARR_NODE_NONE, ZARR_NODE_ARRAY, ZARR_NODE_GROUP };

/* What directory dir holds: an array (meta filled), a multiscale group (ds holds the path
 * of dataset `level`), or neither. v2 metadata (.zarray, .zattrs) is looked for first. */
static enum error_code open_node(int root_fd, const char *dir, size_t json_max, unsigned level,
                                 bool floats, enum zarr_node *node, struct zarr_array_meta *meta,
                                 char *ds, size_t ds_size, struct error_info *err)
{
    static const char *const files[] = {".zarray", "zarr.json", ".zattrs"};
    *node = ZARR_NODE_NONE;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[CONFINE_PATH_MAX + 1];
        char *text;
        size_t len;
        if (!join(dir, strlen(dir), files[f], rel, sizeof rel))
            return error_set(err, ERROR_UNPROCESSABLE, "%s: the path is too long", dir);
        enum error_code rc = load_json(root_fd, rel, json_max, &text, &len, err);
        if (rc != ERROR_OK || text == NULL) {
            if (rc != ERROR_OK)
                return rc;
            continue;
        }
        const char *end = text + len, *attrs = text;
        char type[16] = "";
        if (f == 0) {
            rc = parse_v2(text, len, rel, floats, meta, err);
            *node = ZARR_NODE_ARRAY;
        } else if (f == 1 && (json_scan_string(json_scan_member(text, end, "node_type"), end, type,
                                               sizeof type),
                              strcmp(type, "array") == 0)) {
            rc = parse_v3(text, len, rel, floats, meta, err);
            *node = ZARR_NODE_ARRAY;
        } else if (!json_scan_is_object(text, end)) {
            rc = error_set(err, ERROR_UNPROCESSABLE, "%s is not one JSON object", rel);
        } else {
            if (f == 1) { /* a v3 group: NGFF 0.5 nests its keys under "ome" */
                attrs = json_scan_member(text, end, "attributes");
                const char *ome = json_scan_member(attrs, end, "ome");
                if (json_scan_member(ome, end, "multiscales") != NULL)
                    attrs = ome;
            }
            rc = multiscale_level(attrs, end, rel, level, ds, ds_size, err);
            if (rc == ERROR_OK)
                *node = ZARR_NODE_GROUP;
            else if (rc == ERROR_NOT_FOUND)
                rc = ERROR_OK;
        }
        free(text);
        if (rc != ERROR_OK || *node != ZARR_NODE_NONE)
            return rc;
    }
    return ERROR_OK;
}

enum error_code zarr_array_open(int root_fd, const char *path, size_t len, unsigned level,
                                size_t json_max, bool intensity, char *array_path, size_t size,
                                struct zarr_array_meta *meta, struct error_info *err)
{
    char rel[CONFINE_PATH_MAX + 1], ds[CONFINE_COMPONENT_MAX + 1];
    enum zarr_node node;
    if (!join(path, len, "", array_path, size))
        return error_set(err, ERROR_UNPROCESSABLE, "the Zarr path is too long");
    size_t alen = strlen(array_path);
    if (alen > 0)
        array_path[--alen] = '\0'; /* join added the '/' before the empty name */
    enum error_code rc =
        open_node(root_fd, array_path, json_max, level, intensity, &node, meta, ds, sizeof ds, err);
    if (rc != ERROR_OK || node == ZARR_NODE_ARRAY)
        return rc;
    if (node == ZARR_NODE_NONE)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%.*s is a directory but neither a Zarr array (.zarray, zarr.json) nor "
                         "an OME-NGFF multiscale group (multiscales)",
                         (int)len, path);
    if (!join(array_path, alen, ds, rel, sizeof rel) || strlen(rel) >= size)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: the path is too long", array_path);
    memcpy(array_path, rel, strlen(rel) + 1);
    if ((rc = open_node(root_fd, array_path, json_max, 0, intensity, &node, meta, ds, sizeof ds,
                        err)) != ERROR_OK)
        return rc;
    if (node != ZARR_NODE_ARRAY)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: level %u of the multiscale group is not a Zarr array", array_path,
                         level);
    return ERROR_OK;
}

enum error_code zarr_array_group_read(int root_fd, const char *path, size_t len, size_t json_max,
                                      struct zarr_array_group *group, struct error_info *err)
{
    static const char *const files[] = {".zarray", "zarr.json", ".zattrs"};
    memset(group, 0, sizeof *group);
    group->levels = 1;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[CONFINE_PATH_MAX + 1];
        char *text;
        size_t tlen;
        if (!join(path, len, files[f], rel, sizeof rel))
            return error_set(err, ERROR_UNPROCESSABLE, "%.*s: the path is too long", (int)len,
                             path);
        enum error_code rc = load_json(root_fd, rel, json_max, &text, &tlen, err);
        if (rc != ERROR_OK)
            return rc;
        if (text == NULL)
            continue;
        const char *end = text + tlen, *attrs = text;
        char type[16] = "";
        if (f == 0 ||
            (json_scan_string(json_scan_member(text, end, "node_type"), end, type, sizeof type),
             strcmp(type, "array") == 0)) {
            free(text); /* an array: one level, no channel metadata */
            return ERROR_OK;
        }
        if (f == 1) { /* a v3 group: NGFF 0.5 nests its keys under "ome" */
            attrs = json_scan_member(text, end, "attributes");
            const char *ome = json_scan_member(attrs, end, "ome");
            if (json_scan_member(ome, end, "multiscales") != NULL)
                attrs = ome;
        }
        const char *ms = json_scan_member(attrs, end, "multiscales");
        const char *datasets = json_scan_member(json_scan_index(ms, end, 0), end, "datasets");
        if (datasets == NULL) {
            free(text);
            continue;
        }
        size_t n = json_scan_length(datasets, end);
        group->levels = n > ZARR_ARRAY_MAX_LEVELS ? ZARR_ARRAY_MAX_LEVELS : (unsigned)n;
        const char *chans =
            json_scan_member(json_scan_member(attrs, end, "omero"), end, "channels");
        for (unsigned i = 0; i < ZARR_ARRAY_MAX_COLORS; i++) {
            char color[16];
            if (!json_scan_string(json_scan_member(json_scan_index(chans, end, i), end, "color"),
                                  end, color, sizeof color) ||
                !color_parse_hex(color, strlen(color), group->colors[i]))
                break;
            group->n_colors = i + 1;
        }
        free(text);
        if (group->levels == 0)
            return error_set(err, ERROR_UNPROCESSABLE, "%s: the multiscale group lists no datasets",
                             rel);
        return ERROR_OK;
    }
    return ERROR_OK;
}

enum error_code zarr_array_group_attrs(int root_fd, const char *path, size_t len, size_t json_max,
                                       char **text, const char **attrs, const char **end,
                                       struct error_info *err)
{
    static const char *const files[] = {".zattrs", "zarr.json"};
    *text = NULL;
    *attrs = *end = NULL;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[CONFINE_PATH_MAX + 1];
        size_t n;
        if (!join(path, len, files[f], rel, sizeof rel))
            return error_set(err, ERROR_UNPROCESSABLE, "%.*s: the path is too long", (int)len,
                             path);
        enum error_code rc = load_json(root_fd, rel, json_max, text, &n, err);
        if (rc != ERROR_OK)
            return rc;
        if (*text == NULL)
            continue;
        const char *e = *text + n, *a = *text;
        if (f == 1) { /* a v3 group: NGFF 0.5 nests its keys under "ome" */
            a = json_scan_member(a, e, "attributes");
            const char *ome = json_scan_member(a, e, "ome");
            if (json_scan_member(ome, e, "multiscales") != NULL)
                a = ome;
        }
        if (json_scan_is_object(*text, e) && json_scan_member(a, e, "multiscales") != NULL) {
            *attrs = a;
            *end = e;
            return ERROR_OK;
        }
        free(*text);
        *text = NULL;
    }
    return error_set(err, ERROR_UNPROCESSABLE,
                     "%.*s is neither a multi-page TIFF file nor an OME-NGFF multiscale image (no "
                     "multiscales in .zattrs or zarr.json)",
                     (int)len, path);
}
