/*
 * tiff_ifd.c - TIFF structure without libtiff: byte source, header, entries, IFDs, data
 * extents, visited offsets; see tiff_ifd.h.
 *
 * The one design decision: an entry is kept as the place its value bytes live, never as
 * converted values, so every value - inline in the entry or far away, one or a million - is
 * read the same way, through the same bounds check, and only when a caller asks for it.
 */
#include "tiff_ifd.h"

#include "alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- byte source ---------------------------------------------------------------------------
 *
 * One window of the file is kept; a read inside it is a memcpy, a read outside it refills
 * the window from the read's offset (reads move forward through a file, so the window ahead
 * is what the next read wants). Reads larger than the window go straight to the caller.
 */

void tiff_ifd_src_fd(struct tiff_ifd_src *s, int fd, uint64_t size)
{
    s->fd = fd;
    s->mem = NULL;
    s->size = size;
    s->win_off = 0;
    s->win_len = 0;
}

void tiff_ifd_src_mem(struct tiff_ifd_src *s, const void *buf, size_t len)
{
    static const unsigned char empty[1];
    s->fd = -1;
    s->mem = buf != NULL ? buf : empty;
    s->size = buf != NULL ? len : 0;
    s->win_off = 0;
    s->win_len = 0;
}

/* pread until len bytes or end of file; *got says how many arrived. */
static enum error_code tiff_ifd_pread(const struct tiff_ifd_src *s, unsigned char *buf, size_t len,
                                      uint64_t off, size_t *got, struct error_info *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_set(err, ERROR_IO, "read at offset %llu failed: %s",
                             (unsigned long long)(off + done), strerrordesc_np(errno));
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return ERROR_OK;
}

enum error_code tiff_ifd_src_read(struct tiff_ifd_src *s, uint64_t off, void *buf, size_t len,
                                  const char *what, struct error_info *err)
{
    if (len > s->size || off > s->size - len)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: %s at offset %llu (%zu bytes) lies past the end of the "
                         "file (%llu bytes): truncated file or bad offset",
                         what, (unsigned long long)off, len, (unsigned long long)s->size);
    if (len == 0)
        return ERROR_OK;
    if (s->mem != NULL) {
        memcpy(buf, s->mem + off, len);
        return ERROR_OK;
    }
    if (off >= s->win_off && off - s->win_off + len <= s->win_len) {
        memcpy(buf, s->win + (off - s->win_off), len);
        return ERROR_OK;
    }
    size_t got = 0;
    enum error_code rc;
    if (len > TIFF_IFD_WINDOW) {
        rc = tiff_ifd_pread(s, buf, len, off, &got, err);
    } else {
        uint64_t want = s->size - off < TIFF_IFD_WINDOW ? s->size - off : TIFF_IFD_WINDOW;
        s->win_len = 0;
        rc = tiff_ifd_pread(s, s->win, (size_t)want, off, &got, err);
        if (rc == ERROR_OK) {
            s->win_off = off;
            s->win_len = got;
            if (got >= len)
                memcpy(buf, s->win, len);
        }
    }
    if (rc != ERROR_OK)
        return rc;
    if (got < len)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: file truncated while reading %s at offset %llu", what,
                         (unsigned long long)off);
    return ERROR_OK;
}

/* ---- header and values ------------------------------------------------------------------- */

static uint64_t tiff_ifd_get_uint(const struct tiff_ifd_file *t, const unsigned char *p, unsigned n)
{
    bool swap = t->big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
    switch (n) {
    case 1:
        return p[0];
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return swap ? __builtin_bswap16(v) : v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return swap ? __builtin_bswap32(v) : v;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, p, 8);
        return swap ? __builtin_bswap64(v) : v;
    }
    default:
        return 0;
    }
}

enum error_code tiff_ifd_open(struct tiff_ifd_src *src, struct tiff_ifd_file *t, bool *is_tiff,
                              struct error_info *err)
{
    unsigned char h[16];
    enum error_code rc;
    memset(t, 0, sizeof *t);
    t->src = src;
    *is_tiff = false;
    if (src->size < 4)
        return ERROR_OK;
    if ((rc = tiff_ifd_src_read(src, 0, h, 4, "header", err)) != ERROR_OK)
        return rc;
    if (h[0] == 'I' && h[1] == 'I')
        t->big_endian = false;
    else if (h[0] == 'M' && h[1] == 'M')
        t->big_endian = true;
    else
        return ERROR_OK;
    uint64_t version = tiff_ifd_get_uint(t, h + 2, 2);
    if (version != 42 && version != 43)
        return ERROR_OK; /* "II" or "MM" text, not a TIFF */
    t->bigtiff = version == 43;
    if ((rc = tiff_ifd_src_read(src, 0, h, t->bigtiff ? 16 : 8, "TIFF header", err)) != ERROR_OK)
        return rc;
    if (t->bigtiff) {
        if (tiff_ifd_get_uint(t, h + 4, 2) != 8 || tiff_ifd_get_uint(t, h + 6, 2) != 0)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt BigTIFF: header offset size is %llu, not 8",
                             (unsigned long long)tiff_ifd_get_uint(t, h + 4, 2));
        t->first_ifd = tiff_ifd_get_uint(t, h + 8, 8);
    } else {
        t->first_ifd = tiff_ifd_get_uint(t, h + 4, 4);
    }
    *is_tiff = true;
    return ERROR_OK;
}

uint64_t tiff_ifd_header_size(const struct tiff_ifd_file *t)
{
    return t->bigtiff ? 16 : 8;
}

unsigned tiff_ifd_type_size(uint16_t type)
{
    switch (type) {
    case 1: /* BYTE */
    case 2: /* ASCII */
    case 6: /* SBYTE */
    case 7: /* UNDEFINED */
        return 1;
    case 3: /* SHORT */
    case 8: /* SSHORT */
        return 2;
    case 4:  /* LONG */
    case 9:  /* SLONG */
    case 11: /* FLOAT */
    case 13: /* IFD */
        return 4;
    case 5:  /* RATIONAL */
    case 10: /* SRATIONAL */
    case 12: /* DOUBLE */
    case 16: /* LONG8 */
    case 17: /* SLONG8 */
    case 18: /* IFD8 */
        return 8;
    default:
        return 0;
    }
}

/* BYTE, SHORT, LONG, IFD, LONG8, IFD8; offset tables never use BYTE. */
static bool tiff_ifd_is_uint(uint16_t type, bool byte_ok)
{
    return (byte_ok && type == 1) || type == 3 || type == 4 || type == 13 || type == 16 ||
           type == 18;
}

enum error_code tiff_ifd_entry_uint(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                    uint64_t idx, uint64_t *out, struct error_info *err)
{
    unsigned sz = tiff_ifd_type_size(e->type);
    if (!tiff_ifd_is_uint(e->type, true) || idx >= e->count)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: tag value of type %u is not an unsigned integer",
                         (unsigned)e->type);
    unsigned char b[8];
    enum error_code rc = tiff_ifd_src_read(t->src, e->value_at + idx * sz, b, sz, "tag value", err);
    if (rc != ERROR_OK)
        return rc;
    *out = tiff_ifd_get_uint(t, b, sz);
    return ERROR_OK;
}

enum error_code tiff_ifd_entry_scalar(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                      uint64_t dflt, uint64_t *out, struct error_info *err)
{
    *out = dflt;
    if (!e->present || e->count == 0 || !tiff_ifd_is_uint(e->type, true))
        return ERROR_OK;
    return tiff_ifd_entry_uint(t, e, 0, out, err);
}

enum error_code tiff_ifd_entry_rational(const struct tiff_ifd_file *t,
                                        const struct tiff_ifd_entry *e, double *out, bool *ok,
                                        struct error_info *err)
{
    unsigned char b[8];
    *ok = false;
    *out = 0;
    if (!e->present || e->count == 0 || e->type != 5)
        return ERROR_OK;
    enum error_code rc = tiff_ifd_src_read(t->src, e->value_at, b, 8, "tag value", err);
    if (rc != ERROR_OK)
        return rc;
    uint64_t num = tiff_ifd_get_uint(t, b, 4), den = tiff_ifd_get_uint(t, b + 4, 4);
    if (den == 0)
        return ERROR_OK;
    *out = (double)num / (double)den;
    *ok = true;
    return ERROR_OK;
}

enum error_code tiff_ifd_entry_uints(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                     uint64_t start, unsigned count, uint64_t *out,
                                     struct error_info *err)
{
    unsigned char buf[TIFF_IFD_CHUNK * 8];
    unsigned sz = tiff_ifd_type_size(e->type);
    if (!tiff_ifd_is_uint(e->type, false) || count > TIFF_IFD_CHUNK || start > e->count ||
        count > e->count - start)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: strip/tile table of type %u is not an unsigned integer",
                         (unsigned)e->type);
    enum error_code rc = tiff_ifd_src_read(t->src, e->value_at + start * sz, buf,
                                           (size_t)count * sz, "strip/tile table", err);
    if (rc != ERROR_OK)
        return rc;
    for (unsigned i = 0; i < count; i++)
        out[i] = tiff_ifd_get_uint(t, buf + (size_t)i * sz, sz);
    return ERROR_OK;
}

static bool tiff_ifd_is_space(char c)
{
    return c == '\0' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

enum error_code tiff_ifd_entry_text(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                    bool tail, char *buf, size_t n, struct error_info *err)
{
    buf[0] = '\0';
    if (!e->present || (e->type != 1 && e->type != 2 && e->type != 7) || e->count == 0)
        return ERROR_OK;
    uint64_t len = e->count < n - 1 ? e->count : n - 1;
    uint64_t at = tail ? e->value_at + e->count - len : e->value_at;
    enum error_code rc = tiff_ifd_src_read(t->src, at, buf, (size_t)len, "text tag", err);
    if (rc != ERROR_OK)
        return rc;
    buf[len] = '\0';
    if (tail) {
        size_t k = (size_t)len;
        while (k > 0 && tiff_ifd_is_space(buf[k - 1]))
            k--;
        buf[k] = '\0';
        size_t start = k;
        while (start > 0 && buf[start - 1] != '\0')
            start--;
        memmove(buf, buf + start, k - start + 1);
    }
    return ERROR_OK;
}

/* ---- one IFD ------------------------------------------------------------------------------- */

/* Entries in one IFD: a classic IFD's own limit; BigTIFF counts are capped here too. */
#define TIFF_IFD_MAX_ENTRIES 65535u

/* Whether tag is wanted at all; *must_fit tells whether any listing of it asks for its values
 * to fit in the file (which then holds for every occurrence, kept or not). */
static bool tiff_ifd_wanted(uint16_t tag, const struct tiff_ifd_want *want, size_t n_want,
                            bool *must_fit)
{
    bool wanted = false;
    *must_fit = false;
    for (size_t i = 0; i < n_want; i++) {
        if (want[i].tag == tag) {
            wanted = true;
            *must_fit |= want[i].must_fit;
        }
    }
    return wanted;
}

/* Keep e in every "last" slot of tag, and in the first other slot of tag that is still free
 * (later occurrences are dropped there). */
static void tiff_ifd_keep(uint16_t tag, const struct tiff_ifd_entry *e,
                          const struct tiff_ifd_want *want, size_t n_want,
                          struct tiff_ifd_entry *entries)
{
    bool kept = false;
    for (size_t i = 0; i < n_want; i++) {
        if (want[i].tag != tag)
            continue;
        if (want[i].last) {
            entries[i] = *e;
        } else if (!kept && !entries[i].present) {
            entries[i] = *e;
            kept = true;
        }
    }
}

enum error_code tiff_ifd_read(const struct tiff_ifd_file *t, uint64_t off, const char *kind,
                              unsigned index, const struct tiff_ifd_want *want, size_t n_want,
                              struct tiff_ifd_entry *entries, uint64_t *next,
                              struct error_info *err)
{
    memset(entries, 0, n_want * sizeof *entries);
    *next = 0;
    unsigned char b[20];
    unsigned count_size = t->bigtiff ? 8 : 2;
    unsigned entry_size = t->bigtiff ? 20 : 12;
    unsigned inline_size = t->bigtiff ? 8 : 4;
    uint64_t size = t->src->size;
    enum error_code rc = tiff_ifd_src_read(t->src, off, b, count_size, "IFD entry count", err);
    if (rc != ERROR_OK)
        return rc;
    uint64_t n = tiff_ifd_get_uint(t, b, count_size);
    if (n == 0 || n > TIFF_IFD_MAX_ENTRIES)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: %s %u at offset %llu claims %llu entries", kind, index,
                         (unsigned long long)off, (unsigned long long)n);
    uint64_t table = off + count_size;
    if (n * entry_size + inline_size > size || table > size - n * entry_size - inline_size)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: %s %u at offset %llu (%llu entries) runs past the end "
                         "of the file (%llu bytes): truncated",
                         kind, index, (unsigned long long)off, (unsigned long long)n,
                         (unsigned long long)size);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = table + i * entry_size;
        rc = tiff_ifd_src_read(t->src, at, b, entry_size, "IFD entry", err);
        if (rc != ERROR_OK)
            return rc;
        uint16_t tag = (uint16_t)tiff_ifd_get_uint(t, b, 2);
        struct tiff_ifd_entry e = {.present = true,
                                   .type = (uint16_t)tiff_ifd_get_uint(t, b + 2, 2)};
        e.count = tiff_ifd_get_uint(t, b + 4, t->bigtiff ? 8 : 4);
        unsigned sz = tiff_ifd_type_size(e.type);
        if (sz == 0)
            continue; /* unknown type: ignored, as libtiff does */
        uint64_t value_field = at + (t->bigtiff ? 12 : 8);
        if (e.count > UINT64_MAX / sz)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: tag %u in %s %u has an impossible count %llu",
                             (unsigned)tag, kind, index, (unsigned long long)e.count);
        bool must_fit;
        if (!tiff_ifd_wanted(tag, want, n_want, &must_fit))
            continue;
        if (e.count * sz <= inline_size) {
            e.value_at = value_field;
        } else {
            e.value_at = tiff_ifd_get_uint(t, b + (t->bigtiff ? 12 : 8), inline_size);
            if (e.value_at > size || e.count * sz > size - e.value_at) {
                if (must_fit)
                    return error_set(err, ERROR_UNPROCESSABLE,
                                     "corrupt TIFF: tag %u of %s %u points at offset %llu "
                                     "(%llu bytes), past the end of the file (%llu bytes): "
                                     "bad offset or truncated file",
                                     (unsigned)tag, kind, index, (unsigned long long)e.value_at,
                                     (unsigned long long)(e.count * sz), (unsigned long long)size);
                continue;
            }
        }
        tiff_ifd_keep(tag, &e, want, n_want, entries);
    }
    rc = tiff_ifd_src_read(t->src, table + n * entry_size, b, inline_size, "next IFD offset", err);
    if (rc != ERROR_OK)
        return rc;
    *next = tiff_ifd_get_uint(t, b, inline_size);
    return ERROR_OK;
}

#define TIFF_IFD_CHECK_ALL 1024u /* tables checked whole up to this many entries */

enum error_code tiff_ifd_check_extents(const struct tiff_ifd_file *t,
                                       const struct tiff_ifd_entry *offsets,
                                       const struct tiff_ifd_entry *byte_counts, bool tiled,
                                       const char *kind, unsigned index, struct error_info *err)
{
    if (!offsets->present || !byte_counts->present)
        return ERROR_OK;
    uint64_t size = t->src->size;
    uint64_t n = offsets->count < byte_counts->count ? offsets->count : byte_counts->count;
    uint64_t o[TIFF_IFD_CHUNK], l[TIFF_IFD_CHUNK];
    for (uint64_t i = 0; i < n;) {
        if (n > TIFF_IFD_CHECK_ALL && i == TIFF_IFD_CHECK_ALL / 2)
            i = n - TIFF_IFD_CHECK_ALL / 2;
        unsigned k = n - i < TIFF_IFD_CHUNK ? (unsigned)(n - i) : TIFF_IFD_CHUNK;
        enum error_code rc;
        if ((rc = tiff_ifd_entry_uints(t, offsets, i, k, o, err)) != ERROR_OK ||
            (rc = tiff_ifd_entry_uints(t, byte_counts, i, k, l, err)) != ERROR_OK)
            return rc;
        for (unsigned j = 0; j < k; j++) {
            if (l[j] == 0)
                continue; /* sparse: a missing strip or tile */
            if (o[j] > size || l[j] > size - o[j])
                return error_set(err, ERROR_UNPROCESSABLE,
                                 "corrupt TIFF: %s %llu of %s %u spans offsets %llu..%llu, past "
                                 "the end of the file (%llu bytes): truncated file or bad offset",
                                 tiled ? "tile" : "strip", (unsigned long long)(i + j), kind, index,
                                 (unsigned long long)o[j], (unsigned long long)(o[j] + l[j]),
                                 (unsigned long long)size);
        }
        i += k;
    }
    return ERROR_OK;
}

/* ---- visited IFD offsets ------------------------------------------------------------------- */

void tiff_ifd_seen_init(struct tiff_ifd_seen *s, size_t expect)
{
    memset(s, 0, sizeof *s);
    s->expect = expect;
}

void tiff_ifd_seen_cleanup(struct tiff_ifd_seen *s)
{
    free(s->table);
    s->table = NULL;
    s->n = 0;
}

static bool tiff_ifd_table_add(uint64_t *table, size_t mask, uint64_t off)
{
    size_t h = (size_t)((off * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (table[h] != 0) {
        if (table[h] == off)
            return false;
        h = (h + 1) & mask;
    }
    table[h] = off;
    return true;
}

/* A table of cap slots (a power of two) holding every offset seen so far. */
static enum error_code tiff_ifd_table_grow(struct tiff_ifd_seen *s, size_t cap,
                                           struct error_info *err)
{
    uint64_t *table = alloc_zeroed(cap, sizeof *table);
    if (table == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory for the IFD loop detector");
    if (s->table == NULL) {
        for (unsigned i = 0; i < s->n; i++)
            tiff_ifd_table_add(table, cap - 1, s->small[i]);
    } else {
        for (size_t i = 0; i <= s->mask; i++)
            if (s->table[i] != 0)
                tiff_ifd_table_add(table, cap - 1, s->table[i]);
        free(s->table);
    }
    s->table = table;
    s->mask = cap - 1;
    return ERROR_OK;
}

enum error_code tiff_ifd_seen_add(struct tiff_ifd_seen *s, uint64_t off, bool *fresh,
                                  struct error_info *err)
{
    enum error_code rc;
    if (s->table == NULL) {
        for (unsigned i = 0; i < s->n; i++) {
            if (s->small[i] == off) {
                *fresh = false;
                return ERROR_OK;
            }
        }
        if (s->n < TIFF_IFD_SEEN_SMALL) {
            s->small[s->n++] = off;
            *fresh = true;
            return ERROR_OK;
        }
        size_t cap = 256;
        while (cap < 2 * s->expect + 2)
            cap *= 2;
        if ((rc = tiff_ifd_table_grow(s, cap, err)) != ERROR_OK)
            return rc;
    } else if ((size_t)s->n + 1 > (s->mask + 1) / 2) {
        /* keep the table at most half full, so a probe always ends */
        if ((rc = tiff_ifd_table_grow(s, 2 * (s->mask + 1), err)) != ERROR_OK)
            return rc;
    }
    *fresh = tiff_ifd_table_add(s->table, s->mask, off);
    if (*fresh)
        s->n++;
    return ERROR_OK;
}
