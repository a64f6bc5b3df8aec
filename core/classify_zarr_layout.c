/*
 * classify_zarr_layout.c - shape, chunks, codecs and the rest of one Zarr array's layout;
 * see classify_zarr_layout.h.
 *
 * The one design decision: whether /overlap reads the array is not guessed here but asked of
 * the parser /overlap itself uses (core/zarr_array), on the text already read, so the two
 * answers cannot drift apart.
 */
#include "classify_zarr_layout.h"

#include "json_scan.h"
#include "zarr_array.h"

#include <stdio.h>
#include <string.h>

/* Up to CLASSIFY_DIMS_MAX unsigned integers of the array at v into out; how many, 0 when v
 * is not such an array. */
static uint8_t classify_zarr_layout_uints(const char *v, const char *end, uint64_t *out)
{
    size_t n = json_scan_length(v, end);
    if (n == 0 || n > CLASSIFY_DIMS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_scan_uint(json_scan_index(v, end, i), end, &out[i]))
            return 0;
    return (uint8_t)n;
}

/* Append "+" (unless first) and s to buf (CLASSIFY_CODEC_LEN bytes), cut to fit. */
static void classify_zarr_layout_append(char *buf, const char *s)
{
    size_t used = strlen(buf);
    if (used > 0 && used + 1 < CLASSIFY_CODEC_LEN)
        buf[used++] = '+';
    snprintf(buf + used, CLASSIFY_CODEC_LEN - used, "%s", s);
}

static void classify_zarr_layout_name(struct classify_zarr *z, const char *name)
{
    if (z->codec_count >= CLASSIFY_CODECS_MAX)
        return;
    snprintf(z->codecs[z->codec_count++], CLASSIFY_CODEC_NAME, "%s", name);
}

/* A blosc configuration (v2 compressor object, v3 codec configuration) as
 * "blosc/CNAME/SHUFFLE". */
static void classify_zarr_layout_blosc(const char *conf, const char *end, char *out, size_t n)
{
    char cname[16] = "", shuffle[16] = "";
    uint64_t s;
    const char *sv = json_scan_member(conf, end, "shuffle");
    if (!json_scan_string(json_scan_member(conf, end, "cname"), end, cname, sizeof cname))
        snprintf(cname, sizeof cname, "?");
    if (json_scan_string(sv, end, shuffle, sizeof shuffle))
        ; /* v3 spells it: "noshuffle", "shuffle", "bitshuffle" */
    else if (json_scan_uint(sv, end, &s) && s <= 2)
        snprintf(shuffle, sizeof shuffle, "%s",
                 s == 0   ? "noshuffle"
                 : s == 1 ? "shuffle"
                          : "bitshuffle");
    else if (sv != NULL && strncmp(sv + strspn(sv, " \t\r\n"), "-1", 2) == 0)
        snprintf(shuffle, sizeof shuffle, "autoshuffle");
    else
        snprintf(shuffle, sizeof shuffle, "?");
    snprintf(out, n, "blosc/%s/%s", cname, shuffle);
}

static void classify_zarr_layout_v2_codecs(const char *text, const char *end,
                                           struct classify_zarr *z)
{
    char id[CLASSIFY_CODEC_NAME];
    const char *filters = json_scan_member(text, end, "filters");
    for (size_t i = 0;; i++) {
        const char *f = json_scan_index(filters, end, i);
        if (f == NULL)
            break;
        if (!json_scan_string(json_scan_member(f, end, "id"), end, id, sizeof id))
            snprintf(id, sizeof id, "?");
        classify_zarr_layout_name(z, id);
        classify_zarr_layout_append(z->codec, id);
    }
    const char *comp = json_scan_member(text, end, "compressor");
    if (!json_scan_string(json_scan_member(comp, end, "id"), end, id, sizeof id)) {
        if (z->codec[0] == '\0')
            snprintf(z->codec, sizeof z->codec, "none");
        return;
    }
    classify_zarr_layout_name(z, id);
    char part[CLASSIFY_CODEC_LEN];
    if (strcmp(id, "blosc") == 0)
        classify_zarr_layout_blosc(comp, end, part, sizeof part);
    else
        snprintf(part, sizeof part, "%s", id);
    classify_zarr_layout_append(z->codec, part);
}

/* A v3 codecs list: names into z->codecs, bytes -> bytes codecs into the summary; a
 * sharding_indexed codec is described by its inner list instead. */
static void classify_zarr_layout_v3_codecs(const char *codecs, const char *end,
                                           struct classify_zarr *z)
{
    char name[CLASSIFY_CODEC_NAME];
    for (size_t i = 0;; i++) {
        const char *c = json_scan_index(codecs, end, i);
        if (c == NULL ||
            !json_scan_string(json_scan_member(c, end, "name"), end, name, sizeof name))
            break;
        const char *conf = json_scan_member(c, end, "configuration");
        if (strcmp(name, "sharding_indexed") == 0 && !z->sharded) {
            z->sharded = true;
            classify_zarr_layout_uints(json_scan_member(conf, end, "chunk_shape"), end,
                                       z->inner_chunks);
            z->codec_count = 0;
            z->codec[0] = '\0';
            classify_zarr_layout_v3_codecs(json_scan_member(conf, end, "codecs"), end, z);
            return;
        }
        classify_zarr_layout_name(z, name);
        if (strcmp(name, "bytes") == 0 || strcmp(name, "endian") == 0 ||
            strcmp(name, "transpose") == 0)
            continue;
        char part[CLASSIFY_CODEC_LEN];
        if (strcmp(name, "blosc") == 0)
            classify_zarr_layout_blosc(conf, end, part, sizeof part);
        else
            snprintf(part, sizeof part, "%s", name);
        classify_zarr_layout_append(z->codec, part);
    }
    if (z->codec[0] == '\0')
        snprintf(z->codec, sizeof z->codec, "none");
}

/* Whether v[0..n) is a JSON number (RFC 8259 grammar) or true, false or null: core/json_scan
 * only delimits them, and the text is copied into our own JSON answer. */
static bool classify_zarr_layout_literal(const char *v, size_t n)
{
    static const char *const literals[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++)
        if (n == strlen(literals[i]) && memcmp(v, literals[i], n) == 0)
            return true;
    size_t i = 0;
    if (i < n && v[i] == '-')
        i++;
    if (i < n && v[i] == '0')
        i++;
    else if (i < n && v[i] >= '1' && v[i] <= '9')
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++;
    else
        return false;
    if (i < n && v[i] == '.') {
        size_t d = ++i;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < n && (v[i] == '+' || v[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* fill_value as JSON text: a number or literal as written, a string (without escapes)
 * decoded and marked; anything else (an array, a long text) stays "". */
static void classify_zarr_layout_fill(const char *v, const char *end, struct classify_zarr *z)
{
    z->fill_value[0] = '\0';
    z->fill_is_string = false;
    if (v == NULL)
        return;
    v += strspn(v, " \t\r\n");
    if (*v == '"') {
        z->fill_is_string = json_scan_string(v, end, z->fill_value, sizeof z->fill_value);
        if (!z->fill_is_string)
            z->fill_value[0] = '\0';
        return;
    }
    const char *e = json_scan_skip(v, end, 1);
    if (e == NULL)
        return;
    size_t n = (size_t)(e - v);
    while (n > 0 && strchr(" \t\r\n", v[n - 1]) != NULL)
        n--;
    if (n == 0 || n >= sizeof z->fill_value || !classify_zarr_layout_literal(v, n))
        return;
    memcpy(z->fill_value, v, n);
    z->fill_value[n] = '\0';
}

/* /overlap's verdict: core/zarr_array's parser, then core/load's shape rule (2-D or 3-D,
 * every dimension before (z, y, x) of length 1). */
static void classify_zarr_layout_overlap(const char *text, size_t len, bool v3,
                                         const char *array_path, struct classify_zarr *z)
{
    struct zarr_array_meta meta;
    struct error_info err;
    error_init(&err);
    const char *name = array_path[0] != '\0' ? array_path : "the array";
    enum error_code rc = v3 ? zarr_array_parse_v3(text, len, name, &meta, &err)
                            : zarr_array_parse_v2(text, len, name, &meta, &err);
    z->overlap_ok = rc == ERROR_OK;
    z->overlap_detail[0] = '\0';
    if (!z->overlap_ok) {
        snprintf(z->overlap_detail, sizeof z->overlap_detail, "%.*s", CLASSIFY_DETAIL_LEN - 1,
                 err.detail);
        return;
    }
    bool leading_ones = true;
    for (unsigned i = 0; i + 3 < meta.ndim; i++)
        leading_ones = leading_ones && meta.shape[i] == 1;
    if (meta.ndim < 2 || !leading_ones) {
        z->overlap_ok = false;
        snprintf(z->overlap_detail, sizeof z->overlap_detail,
                 "%s: a label image is (y, x) or (z, y, x), every dimension before them of "
                 "length 1",
                 name);
    }
}

void classify_zarr_layout_array(const char *text, size_t len, bool v3, const char *array_path,
                                const char *axes, unsigned n_axes, struct classify_zarr *z)
{
    const char *end = text + len;
    snprintf(z->array_path, sizeof z->array_path, "%s", array_path);
    z->ndim = classify_zarr_layout_uints(json_scan_member(text, end, "shape"), end, z->shape);
    memset(z->axes, 0, sizeof z->axes);
    for (unsigned i = 0; axes != NULL && i < n_axes && i < z->ndim && n_axes == z->ndim; i++)
        memcpy(z->axes[i], axes + (size_t)i * CLASSIFY_AXIS_LEN, CLASSIFY_AXIS_LEN);
    char sep[4] = "";
    z->codec[0] = '\0';
    z->codec_count = 0;
    z->sharded = false;
    if (!v3) {
        classify_zarr_layout_uints(json_scan_member(text, end, "chunks"), end, z->chunks);
        json_scan_string(json_scan_member(text, end, "dtype"), end, z->dtype_raw,
                         sizeof z->dtype_raw);
        char order[4] = "";
        json_scan_string(json_scan_member(text, end, "order"), end, order, sizeof order);
        z->order = order[0] == 'F' ? 'F' : order[0] == 'C' ? 'C' : '\0';
        if (!json_scan_string(json_scan_member(text, end, "dimension_separator"), end, sep,
                              sizeof sep))
            snprintf(sep, sizeof sep, ".");
        z->chunk_key_encoding[0] = '\0';
        classify_zarr_layout_v2_codecs(text, end, z);
    } else {
        classify_zarr_layout_uints(
            json_scan_member(
                json_scan_member(json_scan_member(text, end, "chunk_grid"), end, "configuration"),
                end, "chunk_shape"),
            end, z->chunks);
        json_scan_string(json_scan_member(text, end, "data_type"), end, z->dtype_raw,
                         sizeof z->dtype_raw);
        z->order = '\0';
        const char *keys = json_scan_member(text, end, "chunk_key_encoding");
        if (!json_scan_string(json_scan_member(keys, end, "name"), end, z->chunk_key_encoding,
                              sizeof z->chunk_key_encoding))
            z->chunk_key_encoding[0] = '\0';
        if (!json_scan_string(
                json_scan_member(json_scan_member(keys, end, "configuration"), end, "separator"),
                end, sep, sizeof sep))
            snprintf(sep, sizeof sep, "%s", strcmp(z->chunk_key_encoding, "v2") == 0 ? "." : "/");
        classify_zarr_layout_v3_codecs(json_scan_member(text, end, "codecs"), end, z);
    }
    z->separator = sep[0] == '/' ? '/' : sep[0] == '.' ? '.' : '\0';
    classify_zarr_layout_fill(json_scan_member(text, end, "fill_value"), end, z);
    classify_zarr_layout_overlap(text, len, v3, array_path, z);
}

void classify_zarr_layout_shape(const char *text, size_t len, struct classify_zarr_level *l)
{
    const char *end = text + len;
    uint64_t shape[CLASSIFY_DIMS_MAX];
    uint8_t n = classify_zarr_layout_uints(json_scan_member(text, end, "shape"), end, shape);
    l->ndim = n <= CLASSIFY_LEVEL_DIMS ? n : 0;
    memcpy(l->shape, shape, sizeof l->shape);
}
