/*
 * classify.c - TIFF / Zarr classification from content; see classify.h.
 *
 * The one design decision: we walk the TIFF structure ourselves instead of opening it with
 * libtiff. libtiff's TIFFReadDirectory allocates and converts every tag of every IFD, and
 * only reports failures through handlers; our walk reads the entry tables through a
 * 4 KiB window (one pread usually covers a whole small file or a run of IFDs), looks only
 * at the tags classification needs, and names each defect it meets (truncation, IFD loop,
 * offset past end of file). libtiff is still consulted for one fact: whether the first
 * image's codec is configured (TIFFIsCODECConfigured), which decides vips vs Bio-Formats.
 */
#include "classify.h"

#include "alloc.h"
#include "limit.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

/* ---- byte source ------------------------------------------------------------------------
 *
 * Either a file descriptor read with pread through one window, or a memory buffer. Every
 * read is checked against the size first, so a bad offset becomes a named defect rather
 * than a short read; a file that shrinks under us is reported as truncated.
 */

#define SRC_WINDOW 4096

struct src {
    int fd;
    const unsigned char *mem;
    uint64_t size;
    uint64_t win_off;
    size_t win_len;
    unsigned char win[SRC_WINDOW];
};

static enum error_code src_pread(const struct src *s, unsigned char *buf, size_t len, uint64_t off,
                                 size_t *got, struct error_info *err)
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

/* Read len bytes at off into buf; what names the structure for the error detail. */
static enum error_code src_read(struct src *s, uint64_t off, void *buf, size_t len,
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
    if (len > SRC_WINDOW) {
        rc = src_pread(s, buf, len, off, &got, err);
    } else {
        uint64_t want = s->size - off < SRC_WINDOW ? s->size - off : SRC_WINDOW;
        s->win_len = 0;
        rc = src_pread(s, s->win, (size_t)want, off, &got, err);
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

/* ---- TIFF entries -------------------------------------------------------------------------
 *
 * An entry remembers where its value bytes are (inline in the entry or at the offset it
 * holds), so every value, whatever its size, is read the same way.
 */

struct tiff {
    struct src *src;
    bool big_endian;
    bool bigtiff;
};

struct entry {
    bool present;
    uint16_t type;
    uint64_t count;
    uint64_t value_at; /* file offset of the first value byte */
};

static unsigned type_size(uint16_t type)
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

static uint64_t get_uint(const struct tiff *t, const unsigned char *p, unsigned n)
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

/* Element idx of an integer entry (BYTE, SHORT, LONG, LONG8, IFD, IFD8). */
static enum error_code entry_uint(const struct tiff *t, const struct entry *e, uint64_t idx,
                                  uint64_t *out, struct error_info *err)
{
    unsigned sz = type_size(e->type);
    bool integer = e->type == 1 || e->type == 3 || e->type == 4 || e->type == 13 || e->type == 16 ||
                   e->type == 18;
    if (!integer || idx >= e->count)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: tag value of type %u is not an unsigned integer",
                         (unsigned)e->type);
    unsigned char b[8];
    enum error_code rc = src_read(t->src, e->value_at + idx * sz, b, sz, "tag value", err);
    if (rc != ERROR_OK)
        return rc;
    *out = get_uint(t, b, sz);
    return ERROR_OK;
}

/* First value of an integer tag, or dflt when the tag is absent or not an integer. */
static enum error_code entry_scalar(const struct tiff *t, const struct entry *e, uint64_t dflt,
                                    uint64_t *out, struct error_info *err)
{
    *out = dflt;
    if (!e->present || e->count == 0 || type_size(e->type) == 0)
        return ERROR_OK;
    if (e->type != 1 && e->type != 3 && e->type != 4 && e->type != 13 && e->type != 16 &&
        e->type != 18)
        return ERROR_OK;
    return entry_uint(t, e, 0, out, err);
}

/* Up to n-1 bytes of a text/byte tag into buf, from the start (tail = false) or the end,
 * NUL-terminated; embedded NULs end the string (as a C reader sees it). Absent -> "". */
static enum error_code entry_text(const struct tiff *t, const struct entry *e, bool tail, char *buf,
                                  size_t n, struct error_info *err)
{
    buf[0] = '\0';
    if (!e->present || (e->type != 1 && e->type != 2 && e->type != 7) || e->count == 0)
        return ERROR_OK;
    uint64_t len = e->count < n - 1 ? e->count : n - 1;
    uint64_t at = tail ? e->value_at + e->count - len : e->value_at;
    enum error_code rc = src_read(t->src, at, buf, (size_t)len, "text tag", err);
    if (rc != ERROR_OK)
        return rc;
    buf[len] = '\0';
    if (tail) {
        /* drop trailing NULs and whitespace, as tifffile's stripnull + strip() do */
        size_t k = (size_t)len;
        while (k > 0 && (buf[k - 1] == '\0' || buf[k - 1] == ' ' || buf[k - 1] == '\n' ||
                         buf[k - 1] == '\r' || buf[k - 1] == '\t'))
            k--;
        buf[k] = '\0';
        /* a NUL inside the tail cuts everything before it */
        size_t start = k;
        while (start > 0 && buf[start - 1] != '\0')
            start--;
        memmove(buf, buf + start, k - start + 1);
    }
    return ERROR_OK;
}

/* ---- one IFD ------------------------------------------------------------------------------ */

enum {
    TAG_SUBFILE_TYPE = 254,
    TAG_WIDTH = 256,
    TAG_HEIGHT = 257,
    TAG_BITS = 258,
    TAG_COMPRESSION = 259,
    TAG_DESCRIPTION = 270,
    TAG_MAKE = 271,
    TAG_STRIP_OFFSETS = 273,
    TAG_SAMPLES = 277,
    TAG_STRIP_BYTES = 279,
    TAG_SOFTWARE = 305,
    TAG_TILE_WIDTH = 322,
    TAG_TILE_LENGTH = 323,
    TAG_TILE_OFFSETS = 324,
    TAG_TILE_BYTES = 325,
    TAG_SUBIFDS = 330,
    TAG_SAMPLE_FORMAT = 339,
    TAG_XMLPACKET = 700,
    TAG_ARGOS = 65000,
    TAG_NDPI = 65420
};

#define IFD_MAX_ENTRIES 65535u /* a classic IFD's own limit; BigTIFF counts are capped here */

struct ifd {
    struct entry width, height, bits, compression, samples, sample_format, tile_width, tile_length,
        strip_offsets, strip_bytes, tile_offsets, tile_bytes, subifds, software, make, xmlpacket,
        argos, subfile_type;
    struct entry description[2]; /* first and second ImageDescription */
    bool ndpi;
    uint64_t next;
};

/* The scalar facts of an IFD once its entries are read. */
struct ifd_facts {
    uint64_t width, height;
    uint64_t samples, bits, sample_format, compression;
    uint64_t tile_width, tile_height;
};

static void ifd_keep(struct ifd *d, uint16_t tag, const struct entry *e)
{
    struct entry *slot = NULL;
    switch (tag) {
    case TAG_SUBFILE_TYPE:
        slot = &d->subfile_type;
        break;
    case TAG_WIDTH:
        slot = &d->width;
        break;
    case TAG_HEIGHT:
        slot = &d->height;
        break;
    case TAG_BITS:
        slot = &d->bits;
        break;
    case TAG_COMPRESSION:
        slot = &d->compression;
        break;
    case TAG_DESCRIPTION:
        slot = d->description[0].present ? &d->description[1] : &d->description[0];
        break;
    case TAG_MAKE:
        slot = &d->make;
        break;
    case TAG_STRIP_OFFSETS:
        slot = &d->strip_offsets;
        break;
    case TAG_SAMPLES:
        slot = &d->samples;
        break;
    case TAG_STRIP_BYTES:
        slot = &d->strip_bytes;
        break;
    case TAG_SOFTWARE:
        slot = &d->software;
        break;
    case TAG_TILE_WIDTH:
        slot = &d->tile_width;
        break;
    case TAG_TILE_LENGTH:
        slot = &d->tile_length;
        break;
    case TAG_TILE_OFFSETS:
        slot = &d->tile_offsets;
        break;
    case TAG_TILE_BYTES:
        slot = &d->tile_bytes;
        break;
    case TAG_SUBIFDS:
        slot = &d->subifds;
        break;
    case TAG_SAMPLE_FORMAT:
        slot = &d->sample_format;
        break;
    case TAG_XMLPACKET:
        slot = &d->xmlpacket;
        break;
    case TAG_ARGOS:
        slot = &d->argos;
        break;
    case TAG_NDPI:
        d->ndpi = e->count > 0;
        return;
    default:
        return;
    }
    if (!slot->present)
        *slot = *e;
}

/* Read the IFD at off (already bounds- and loop-checked) into *d. index names it. */
static enum error_code ifd_read(const struct tiff *t, uint64_t off, const char *kind,
                                unsigned index, struct ifd *d, struct error_info *err)
{
    memset(d, 0, sizeof *d);
    unsigned char b[20];
    unsigned count_size = t->bigtiff ? 8 : 2;
    unsigned entry_size = t->bigtiff ? 20 : 12;
    unsigned inline_size = t->bigtiff ? 8 : 4;
    enum error_code rc = src_read(t->src, off, b, count_size, "IFD entry count", err);
    if (rc != ERROR_OK)
        return rc;
    uint64_t n = get_uint(t, b, count_size);
    if (n == 0 || n > IFD_MAX_ENTRIES)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: %s %u at offset %llu claims %llu entries", kind, index,
                         (unsigned long long)off, (unsigned long long)n);
    uint64_t table = off + count_size;
    if (n * entry_size + inline_size > t->src->size ||
        table > t->src->size - n * entry_size - inline_size)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: %s %u at offset %llu (%llu entries) runs past the end "
                         "of the file (%llu bytes): truncated",
                         kind, index, (unsigned long long)off, (unsigned long long)n,
                         (unsigned long long)t->src->size);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = table + i * entry_size;
        rc = src_read(t->src, at, b, entry_size, "IFD entry", err);
        if (rc != ERROR_OK)
            return rc;
        uint16_t tag = (uint16_t)get_uint(t, b, 2);
        struct entry e = {.present = true, .type = (uint16_t)get_uint(t, b + 2, 2)};
        e.count = get_uint(t, b + 4, t->bigtiff ? 8 : 4);
        unsigned sz = type_size(e.type);
        if (sz == 0)
            continue; /* unknown type: ignored, as libtiff does */
        uint64_t value_field = at + (t->bigtiff ? 12 : 8);
        if (e.count > UINT64_MAX / sz)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: tag %u in %s %u has an impossible count %llu",
                             (unsigned)tag, kind, index, (unsigned long long)e.count);
        if (e.count * sz <= inline_size) {
            e.value_at = value_field;
        } else {
            e.value_at = get_uint(t, b + (t->bigtiff ? 12 : 8), inline_size);
            if (e.value_at > t->src->size || e.count * sz > t->src->size - e.value_at) {
                /* only the tags we read are fatal; others are left as libtiff leaves them */
                bool used = tag == TAG_DESCRIPTION || tag == TAG_STRIP_OFFSETS ||
                            tag == TAG_STRIP_BYTES || tag == TAG_TILE_OFFSETS ||
                            tag == TAG_TILE_BYTES || tag == TAG_SUBIFDS || tag == TAG_SOFTWARE ||
                            tag == TAG_MAKE || tag == TAG_XMLPACKET || tag == TAG_BITS ||
                            tag == TAG_SAMPLE_FORMAT;
                if (used)
                    return error_set(err, ERROR_UNPROCESSABLE,
                                     "corrupt TIFF: tag %u of %s %u points at offset %llu "
                                     "(%llu bytes), past the end of the file (%llu bytes): "
                                     "bad offset or truncated file",
                                     (unsigned)tag, kind, index, (unsigned long long)e.value_at,
                                     (unsigned long long)(e.count * sz),
                                     (unsigned long long)t->src->size);
                continue;
            }
        }
        ifd_keep(d, tag, &e);
    }
    rc = src_read(t->src, table + n * entry_size, b, inline_size, "next IFD offset", err);
    if (rc != ERROR_OK)
        return rc;
    d->next = get_uint(t, b, inline_size);
    return ERROR_OK;
}

static enum error_code ifd_facts(const struct tiff *t, const struct ifd *d, const char *kind,
                                 unsigned index, struct ifd_facts *f, struct error_info *err)
{
    enum error_code rc;
    if ((rc = entry_scalar(t, &d->width, 0, &f->width, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->height, 0, &f->height, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->samples, 1, &f->samples, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->bits, 1, &f->bits, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->sample_format, 1, &f->sample_format, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->compression, 1, &f->compression, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->tile_width, 0, &f->tile_width, err)) != ERROR_OK ||
        (rc = entry_scalar(t, &d->tile_length, 0, &f->tile_height, err)) != ERROR_OK)
        return rc;
    if (!d->width.present || !d->height.present)
        return error_set(err, ERROR_UNPROCESSABLE, "corrupt TIFF: %s %u has no Image%s tag", kind,
                         index, d->width.present ? "Length" : "Width");
    if (f->samples == 0 || f->samples > 65535)
        return error_set(err, ERROR_UNPROCESSABLE, "corrupt TIFF: %s %u has SamplesPerPixel %llu",
                         kind, index, (unsigned long long)f->samples);
    return ERROR_OK;
}

/* The strip or tile data an IFD names must lie inside the file: this is what catches a file
 * cut short after its last IFD. Tables up to DATA_CHECK_ALL entries are checked whole;
 * beyond that only the first and last DATA_CHECK_ALL/2 (writers store data in order, so
 * the end of the data is in the last entries), which bounds the cost on huge pyramids.
 * Tables are read in chunks, not per value. */
#define DATA_CHECK_ALL 1024u
#define DATA_CHUNK     512u

/* count (<= DATA_CHUNK) integer values of e from index start into out. */
static enum error_code entry_uints(const struct tiff *t, const struct entry *e, uint64_t start,
                                   unsigned count, uint64_t *out, struct error_info *err)
{
    unsigned char buf[DATA_CHUNK * 8];
    unsigned sz = type_size(e->type);
    bool integer = e->type == 3 || e->type == 4 || e->type == 13 || e->type == 16 || e->type == 18;
    if (!integer || start + count > e->count)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: strip/tile table of type %u is not an unsigned integer",
                         (unsigned)e->type);
    enum error_code rc = src_read(t->src, e->value_at + start * sz, buf, (size_t)count * sz,
                                  "strip/tile table", err);
    if (rc != ERROR_OK)
        return rc;
    for (unsigned i = 0; i < count; i++)
        out[i] = get_uint(t, buf + (size_t)i * sz, sz);
    return ERROR_OK;
}

static enum error_code ifd_check_data(const struct tiff *t, const struct ifd *d, const char *kind,
                                      unsigned index, struct error_info *err)
{
    bool tiled = d->tile_offsets.present;
    const struct entry *offs = tiled ? &d->tile_offsets : &d->strip_offsets;
    const struct entry *lens = tiled ? &d->tile_bytes : &d->strip_bytes;
    if (!offs->present || !lens->present)
        return ERROR_OK;
    uint64_t n = offs->count < lens->count ? offs->count : lens->count;
    uint64_t o[DATA_CHUNK], l[DATA_CHUNK];
    for (uint64_t i = 0; i < n;) {
        if (n > DATA_CHECK_ALL && i == DATA_CHECK_ALL / 2)
            i = n - DATA_CHECK_ALL / 2;
        unsigned k = n - i < DATA_CHUNK ? (unsigned)(n - i) : DATA_CHUNK;
        enum error_code rc;
        if ((rc = entry_uints(t, offs, i, k, o, err)) != ERROR_OK ||
            (rc = entry_uints(t, lens, i, k, l, err)) != ERROR_OK)
            return rc;
        for (unsigned j = 0; j < k; j++) {
            if (l[j] == 0)
                continue; /* sparse: a missing strip or tile */
            if (o[j] > t->src->size || l[j] > t->src->size - o[j])
                return error_set(err, ERROR_UNPROCESSABLE,
                                 "corrupt TIFF: %s %llu of %s %u spans offsets %llu..%llu, past "
                                 "the end of the file (%llu bytes): truncated file or bad offset",
                                 tiled ? "tile" : "strip", (unsigned long long)(i + j), kind, index,
                                 (unsigned long long)o[j], (unsigned long long)(o[j] + l[j]),
                                 (unsigned long long)t->src->size);
        }
        i += k;
    }
    return ERROR_OK;
}

/* ---- visited IFD offsets ------------------------------------------------------------------
 *
 * Up to 64 offsets live in a stack array (most files); beyond that an open-addressing hash
 * set sized for max_ifds. Offsets are never 0 (the header occupies it), so 0 marks a free
 * slot.
 */

#define SEEN_SMALL 64

struct seen {
    uint64_t small[SEEN_SMALL];
    unsigned n;
    uint64_t *table;
    size_t mask;
    size_t table_cap; /* slots wanted when the table is created */
};

static bool seen_table_add(struct seen *s, uint64_t off)
{
    size_t h = (size_t)((off * 0x9E3779B97F4A7C15ull) >> 17) & s->mask;
    while (s->table[h] != 0) {
        if (s->table[h] == off)
            return false;
        h = (h + 1) & s->mask;
    }
    s->table[h] = off;
    return true;
}

/* Add off; *fresh is false when it was already there. */
static enum error_code seen_add(struct seen *s, uint64_t off, bool *fresh, struct error_info *err)
{
    if (s->table == NULL) {
        for (unsigned i = 0; i < s->n; i++) {
            if (s->small[i] == off) {
                *fresh = false;
                return ERROR_OK;
            }
        }
        if (s->n < SEEN_SMALL) {
            s->small[s->n++] = off;
            *fresh = true;
            return ERROR_OK;
        }
        size_t cap = 256;
        while (cap < s->table_cap)
            cap *= 2;
        s->table = alloc_zeroed(cap, sizeof *s->table);
        if (s->table == NULL)
            return error_set(err, ERROR_NO_MEMORY, "out of memory for the IFD loop detector");
        s->mask = cap - 1;
        for (unsigned i = 0; i < s->n; i++)
            seen_table_add(s, s->small[i]);
    }
    *fresh = seen_table_add(s, off);
    return ERROR_OK;
}

/* ---- XML and text helpers ------------------------------------------------------------------
 *
 * Only the root element matters to the detectors, so a few KiB of the head of an XML text
 * suffice: skip the prolog (declaration, comments, doctype), then read the root's name and
 * start tag.
 */

#define HEAD_MAX 4096

struct xml_root {
    const char *name; /* local name (after any "prefix:") */
    size_t name_len;
    const char *tag; /* the whole start tag, "<" to ">" or the end of the head */
    size_t tag_len;
};

static bool xml_find_root(const char *s, struct xml_root *r)
{
    const char *p = s;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (p[0] != '<')
            return false;
        const char *close = NULL;
        if (p[1] == '?')
            close = strstr(p, "?>");
        else if (strncmp(p, "<!--", 4) == 0)
            close = strstr(p, "-->");
        else if (p[1] == '!')
            close = strchr(p, '>');
        else
            break;
        if (close == NULL)
            return false;
        p = close + (close[0] == '>' ? 1 : close[0] == '?' ? 2 : 3);
    }
    const char *name = p + 1;
    const char *e = name;
    while (*e != '\0' && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n' && *e != '>' &&
           *e != '/')
        e++;
    if (e == name)
        return false;
    const char *colon = memchr(name, ':', (size_t)(e - name));
    r->name = colon ? colon + 1 : name;
    r->name_len = (size_t)(e - r->name);
    const char *gt = strchr(e, '>');
    r->tag = p;
    r->tag_len = gt ? (size_t)(gt - p + 1) : strlen(p);
    return true;
}

static bool xml_root_is(const struct xml_root *r, const char *name)
{
    return r->name_len == strlen(name) && memcmp(r->name, name, r->name_len) == 0;
}

/* Does the start tag contain needle? */
static bool xml_tag_has(const struct xml_root *r, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= r->tag_len; i++)
        if (memcmp(r->tag + i, needle, n) == 0)
            return true;
    return false;
}

/* Value of attribute attr in the start tag, into buf; false when absent. */
static bool xml_tag_attr(const struct xml_root *r, const char *attr, char *buf, size_t n)
{
    size_t alen = strlen(attr);
    const char *end = r->tag + r->tag_len;
    for (const char *p = r->tag; p + alen < end; p++) {
        if (memcmp(p, attr, alen) != 0 ||
            (p > r->tag && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r'))
            continue;
        const char *q = p + alen;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || *q != '=')
            continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || (*q != '"' && *q != '\''))
            continue;
        char quote = *q++;
        size_t k = 0;
        while (q < end && *q != quote && k + 1 < n)
            buf[k++] = *q++;
        buf[k] = '\0';
        return true;
    }
    return false;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static void set_name(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= CLASSIFY_NAME_MAX)
        n = CLASSIFY_NAME_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- names of TIFF values ---------------------------------------------------------------- */

static void dtype_name(uint64_t sample_format, uint64_t bits, char *out)
{
    const char *kind = NULL;
    unsigned width = 0;
    if (sample_format == 3) {
        kind = "float";
        width = bits <= 16 ? 16 : bits <= 32 ? 32 : bits <= 64 ? 64 : 0;
    } else if (sample_format == 6) {
        kind = "complex";
        width = bits == 64 ? 64 : bits == 128 ? 128 : 0;
    } else if (sample_format == 1 || sample_format == 2 || sample_format == 4) {
        if (bits == 1 && sample_format != 2) {
            set_name(out, "bool");
            return;
        }
        kind = sample_format == 2 ? "int" : "uint";
        width = bits <= 8 ? 8 : bits <= 16 ? 16 : bits <= 32 ? 32 : bits <= 64 ? 64 : 0;
    }
    if (kind == NULL || width == 0 || bits == 0) {
        out[0] = '\0';
        return;
    }
    char buf[CLASSIFY_NAME_MAX];
    snprintf(buf, sizeof buf, "%s%u", kind, width);
    set_name(out, buf);
}

static void compression_name(uint64_t code, char *out)
{
    static const struct {
        unsigned code;
        const char *name;
    } names[] = {
        {1, "none"},         {2, "ccittrle"},     {3, "ccittfax3"},    {4, "ccittfax4"},
        {5, "lzw"},          {6, "ojpeg"},        {7, "jpeg"},         {8, "deflate"},
        {32946, "deflate"},  {32773, "packbits"}, {33003, "jpeg2000"}, {33005, "jpeg2000"},
        {34712, "jpeg2000"}, {34887, "lerc"},     {34925, "lzma"},     {34926, "zstd"},
        {50000, "zstd"},     {34927, "webp"},     {50001, "webp"},     {50002, "jpegxl"},
        {34892, "jpeg"},     {22610, "jpegxr"},   {34934, "jpegxr"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].code == code) {
            set_name(out, names[i].name);
            return;
        }
    }
    char buf[CLASSIFY_NAME_MAX];
    snprintf(buf, sizeof buf, "tag-%llu", (unsigned long long)code);
    set_name(out, buf);
}

/* ---- the TIFF walk ------------------------------------------------------------------------
 *
 * Header, main chain (counting pages, checking data extents, following reduced-resolution
 * pages), SubIFDs of IFD 0, then the detectors on IFD 0's text tags.
 */

/* b is a 1/f reduction of a (tifffile's subresolution at level 1). */
static bool reduced_by(const struct ifd_facts *a, const struct ifd_facts *b, unsigned f)
{
    if (a->width < f || a->height < f)
        return false;
    return fabs((double)a->width / f - (double)b->width) < 1.0 &&
           fabs((double)a->height / f - (double)b->height) < 1.0;
}

static bool same_pixel_type(const struct ifd_facts *a, const struct ifd_facts *b)
{
    return a->samples == b->samples && a->bits == b->bits && a->sample_format == b->sample_format;
}

struct walk {
    struct ifd ifd0;
    struct ifd_facts f0;
    uint32_t pages;
    uint32_t levels;
    bool all_tiled; /* TileWidth and TileLength in every main-chain IFD (trestle) */
};

static enum error_code walk_chain(const struct tiff *t, uint64_t first, unsigned max_ifds,
                                  struct seen *seen, struct walk *w, struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    struct ifd d;
    struct ifd_facts level = {0}, f;
    unsigned factor = 0;
    uint64_t off = first;
    uint64_t header = t->bigtiff ? 16 : 8;
    w->all_tiled = true;
    w->levels = 1;
    if (off == 0)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: the header's first IFD offset is 0 (no image)");
    while (off != 0) {
        if (w->pages >= max_ifds)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "TIFF has more than %u IFDs (the max_ifds limit)", max_ifds);
        if (off < header || off >= t->src->size)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD %u offset %llu is outside the file (%llu "
                             "bytes): bad offset or truncated file",
                             w->pages, (unsigned long long)off, (unsigned long long)t->src->size);
        bool fresh;
        if ((rc = seen_add(seen, off, &fresh, err)) != ERROR_OK)
            return rc;
        if (!fresh)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD loop: IFD %u points back to offset %llu, "
                             "already read",
                             w->pages, (unsigned long long)off);
        struct ifd *cur = w->pages == 0 ? &w->ifd0 : &d;
        if ((rc = ifd_read(t, off, "IFD", w->pages, cur, err)) != ERROR_OK ||
            (rc = ifd_facts(t, cur, "IFD", w->pages, &f, err)) != ERROR_OK ||
            (rc = ifd_check_data(t, cur, "IFD", w->pages, err)) != ERROR_OK)
            return rc;
        if (!cur->tile_width.present || !cur->tile_length.present)
            w->all_tiled = false;
        if (w->pages == 0) {
            w->f0 = f;
            level = f;
        } else if (same_pixel_type(&level, &f)) {
            if (factor == 0) {
                for (unsigned k = 2; k <= 4; k++) {
                    if (reduced_by(&level, &f, k)) {
                        factor = k;
                        break;
                    }
                }
                if (factor != 0) {
                    w->levels++;
                    level = f;
                }
            } else if (reduced_by(&level, &f, factor)) {
                w->levels++;
                level = f;
            }
        }
        w->pages++;
        off = cur->next;
    }
    return ERROR_OK;
}

/* SubIFDs of IFD 0: each must be a readable IFD; their count is the pyramid depth. */
static enum error_code walk_subifds(const struct tiff *t, unsigned max_ifds, struct seen *seen,
                                    struct walk *w, uint32_t *count, struct error_info *err)
{
    const struct entry *e = &w->ifd0.subifds;
    *count = 0;
    if (!e->present)
        return ERROR_OK;
    uint64_t header = t->bigtiff ? 16 : 8;
    for (uint64_t i = 0; i < e->count; i++) {
        uint64_t off;
        enum error_code rc = entry_uint(t, e, i, &off, err);
        if (rc != ERROR_OK)
            return rc;
        if (off == 0)
            continue;
        if (w->pages + *count >= max_ifds)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "TIFF has more than %u IFDs with SubIFDs (the max_ifds limit)",
                             max_ifds);
        if (off < header || off >= t->src->size)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: SubIFD %u of IFD 0 at offset %llu is outside the "
                             "file (%llu bytes): bad offset or truncated file",
                             (unsigned)i, (unsigned long long)off,
                             (unsigned long long)t->src->size);
        bool fresh;
        if ((rc = seen_add(seen, off, &fresh, err)) != ERROR_OK)
            return rc;
        if (!fresh)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD loop: SubIFD %u of IFD 0 points at offset "
                             "%llu, an IFD already read",
                             (unsigned)i, (unsigned long long)off);
        struct ifd d;
        struct ifd_facts f;
        if ((rc = ifd_read(t, off, "SubIFD", (unsigned)i, &d, err)) != ERROR_OK ||
            (rc = ifd_facts(t, &d, "SubIFD", (unsigned)i, &f, err)) != ERROR_OK ||
            (rc = ifd_check_data(t, &d, "SubIFD", (unsigned)i, err)) != ERROR_OK)
            return rc;
        (*count)++;
    }
    return ERROR_OK;
}

/* OpenSlide's TIFF detectors, in OpenSlide's order; "" when none matches. */
static enum error_code detect_vendor(const struct tiff *t, const struct walk *w, char *vendor,
                                     struct error_info *err)
{
    const struct ifd *d = &w->ifd0;
    bool tiled = d->tile_width.present && d->tile_length.present;
    char desc[HEAD_MAX], text[HEAD_MAX];
    struct xml_root root;
    enum error_code rc;
    vendor[0] = '\0';
    if ((rc = entry_text(t, &d->description[0], false, desc, sizeof desc, err)) != ERROR_OK)
        return rc;

    if (d->ndpi) {
        set_name(vendor, "hamamatsu");
        return ERROR_OK;
    }
    if ((rc = entry_text(t, &d->software, false, text, sizeof text, err)) != ERROR_OK)
        return rc;
    if (starts_with(text, "MedScan") && d->description[0].present && w->all_tiled) {
        set_name(vendor, "trestle");
        return ERROR_OK;
    }
    bool philips_software = starts_with(text, "Philips");
    if (tiled && starts_with(desc, "Aperio")) {
        set_name(vendor, "aperio");
        return ERROR_OK;
    }
    if (tiled) {
        if ((rc = entry_text(t, &d->make, false, text, sizeof text, err)) != ERROR_OK)
            return rc;
        if (starts_with(text, "Huron")) {
            set_name(vendor, "huron");
            return ERROR_OK;
        }
        if ((rc = entry_text(t, &d->argos, false, text, sizeof text, err)) != ERROR_OK)
            return rc;
        if (xml_find_root(text, &root) && xml_root_is(&root, "Argos.Scan.Metadata")) {
            set_name(vendor, "argos");
            return ERROR_OK;
        }
        if (xml_find_root(desc, &root) && xml_root_is(&root, "scn") &&
            (xml_tag_has(&root, "http://www.leica-microsystems.com/scn/2010/03/10") ||
             xml_tag_has(&root, "http://www.leica-microsystems.com/scn/2010/10/01"))) {
            set_name(vendor, "leica");
            return ERROR_OK;
        }
    }
    if (philips_software && xml_find_root(desc, &root) && xml_root_is(&root, "DataObject")) {
        char type[32];
        if (xml_tag_attr(&root, "ObjectType", type, sizeof type) &&
            strcmp(type, "DPUfsImport") == 0) {
            set_name(vendor, "philips");
            return ERROR_OK;
        }
    }
    if ((rc = entry_text(t, &d->xmlpacket, false, text, sizeof text, err)) != ERROR_OK)
        return rc;
    if (strstr(text, "iScan") != NULL && xml_find_root(text, &root)) {
        bool iscan =
            xml_root_is(&root, "iScan") ||
            (xml_root_is(&root, "Metadata") && strstr(root.tag + root.tag_len, "<iScan") != NULL);
        if (iscan) {
            set_name(vendor, "ventana");
            return ERROR_OK;
        }
    }
    if (tiled)
        set_name(vendor, "generic-tiff");
    return ERROR_OK;
}

/* OME: the first ImageDescription, stripped, ends with "OME>" (tifffile) and its root
 * element is OME (any prefix). SizeC of the first Pixels element, when in the first 64 KiB,
 * gives the channel count. */
#define OME_HEAD_MAX 65536

static enum error_code detect_ome(const struct tiff *t, const struct ifd *d, bool *is_ome,
                                  uint32_t *size_c, struct error_info *err)
{
    char tail[24], head[HEAD_MAX];
    struct xml_root root;
    enum error_code rc;
    *is_ome = false;
    *size_c = 0;
    if ((rc = entry_text(t, &d->description[0], true, tail, sizeof tail, err)) != ERROR_OK)
        return rc;
    if (!ends_with(tail, "OME>"))
        return ERROR_OK;
    if ((rc = entry_text(t, &d->description[0], false, head, sizeof head, err)) != ERROR_OK)
        return rc;
    if (!xml_find_root(head, &root) || !xml_root_is(&root, "OME"))
        return ERROR_OK;
    *is_ome = true;

    char *big = alloc_bytes(OME_HEAD_MAX);
    if (big == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory reading OME-XML");
    rc = entry_text(t, &d->description[0], false, big, OME_HEAD_MAX, err);
    if (rc == ERROR_OK) {
        const char *p = strstr(big, "<Pixels ");
        if (p == NULL)
            p = strstr(big, ":Pixels ");
        if (p != NULL) {
            struct xml_root pix = {.tag = p, .tag_len = strcspn(p, ">")};
            char val[24];
            if (xml_tag_attr(&pix, "SizeC", val, sizeof val)) {
                char *end;
                unsigned long c = strtoul(val, &end, 10);
                if (end != val && *end == '\0' && c > 0 && c <= UINT32_MAX)
                    *size_c = (uint32_t)c;
            }
        }
    }
    free(big);
    return rc;
}

static void decide_reader(struct classify_result *r, uint64_t compression)
{
    bool codec = compression <= UINT16_MAX && TIFFIsCODECConfigured((uint16_t)compression);
    r->can_use_vips = codec;
    r->can_use_openslide = r->vendor[0] != '\0' && strcmp(r->vendor, "generic-tiff") != 0;
    if (r->can_use_openslide)
        r->reader = CLASSIFY_READER_OPENSLIDE;
    else if (r->can_use_vips)
        r->reader = CLASSIFY_READER_VIPS;
    else
        r->reader = CLASSIFY_READER_BIOFORMATS;
    if (r->can_use_openslide || r->is_ome || !r->can_use_vips)
        r->img_type = CLASSIFY_IMG_TYPE_SLIDE;
    else
        r->img_type = CLASSIFY_IMG_TYPE_IMG;
}

static void decide_format(struct classify_result *r)
{
    static const struct {
        const char *vendor;
        const char *format;
    } formats[] = {
        {"aperio", "svs"},      {"hamamatsu", "ndpi"},  {"leica", "scn"},   {"philips", "philips"},
        {"ventana", "ventana"}, {"trestle", "trestle"}, {"huron", "huron"}, {"argos", "argos"},
    };
    if (r->is_ome) {
        set_name(r->format, "ome-tiff");
        return;
    }
    if (r->is_imagej) {
        set_name(r->format, "imagej-tiff");
        return;
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(r->vendor, formats[i].vendor) == 0) {
            set_name(r->format, formats[i].format);
            return;
        }
    }
    set_name(r->format, "tiff");
}

static bool is_imagej_text(const char *s)
{
    return starts_with(s, "ImageJ=") || starts_with(s, "SCIFIO=");
}

static enum error_code classify_tiff(struct src *s, unsigned max_ifds, struct classify_result *out,
                                     struct error_info *err)
{
    unsigned char h[16];
    enum error_code rc;
    memset(out, 0, sizeof *out);
    out->container = CLASSIFY_CONTAINER_UNKNOWN;
    if (s->size < 4)
        return ERROR_OK;
    if ((rc = src_read(s, 0, h, 4, "header", err)) != ERROR_OK)
        return rc;
    struct tiff t = {.src = s};
    if (h[0] == 'I' && h[1] == 'I')
        t.big_endian = false;
    else if (h[0] == 'M' && h[1] == 'M')
        t.big_endian = true;
    else
        return ERROR_OK;
    uint64_t version = get_uint(&t, h + 2, 2);
    if (version != 42 && version != 43)
        return ERROR_OK; /* "II" or "MM" text, not a TIFF */
    t.bigtiff = version == 43;
    if ((rc = src_read(s, 0, h, t.bigtiff ? 16 : 8, "TIFF header", err)) != ERROR_OK)
        return rc;
    uint64_t first;
    if (t.bigtiff) {
        if (get_uint(&t, h + 4, 2) != 8 || get_uint(&t, h + 6, 2) != 0)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt BigTIFF: header offset size is %llu, not 8",
                             (unsigned long long)get_uint(&t, h + 4, 2));
        first = get_uint(&t, h + 8, 8);
    } else {
        first = get_uint(&t, h + 4, 4);
    }

    struct seen seen = {.table_cap = 2 * (size_t)max_ifds + 2};
    struct walk w = {0};
    uint32_t subifds = 0;
    uint32_t size_c = 0;
    if ((rc = walk_chain(&t, first, max_ifds, &seen, &w, err)) != ERROR_OK ||
        (rc = walk_subifds(&t, max_ifds, &seen, &w, &subifds, err)) != ERROR_OK ||
        (rc = detect_vendor(&t, &w, out->vendor, err)) != ERROR_OK ||
        (rc = detect_ome(&t, &w.ifd0, &out->is_ome, &size_c, err)) != ERROR_OK)
        goto out;

    char text[16];
    for (int i = 0; i < 2 && !out->is_imagej; i++) {
        if ((rc = entry_text(&t, &w.ifd0.description[i], false, text, sizeof text, err)) !=
            ERROR_OK)
            goto out;
        out->is_imagej = is_imagej_text(text);
    }

    out->container = t.bigtiff ? CLASSIFY_CONTAINER_BIGTIFF : CLASSIFY_CONTAINER_TIFF;
    out->is_bigtiff = t.bigtiff;
    out->width = w.f0.width;
    out->height = w.f0.height;
    out->channels = (uint32_t)w.f0.samples;
    if (out->is_ome && size_c > 0)
        out->channels = size_c;
    dtype_name(w.f0.sample_format, w.f0.bits, out->dtype);
    compression_name(w.f0.compression, out->compression);
    out->tiled = w.f0.tile_width > 0;
    if (out->tiled) {
        out->tile_width = (uint32_t)(w.f0.tile_width > UINT32_MAX ? UINT32_MAX : w.f0.tile_width);
        out->tile_height =
            (uint32_t)(w.f0.tile_height > UINT32_MAX ? UINT32_MAX : w.f0.tile_height);
    }
    out->pages = w.pages;
    out->levels = subifds > 0 ? subifds + 1 : w.levels;
    decide_format(out);
    decide_reader(out, w.f0.compression);
out:
    free(seen.table);
    if (rc != ERROR_OK) {
        memset(out, 0, sizeof *out);
        out->container = CLASSIFY_CONTAINER_UNKNOWN;
    }
    return rc;
}

/* ---- a bounded JSON scanner ----------------------------------------------------------------
 *
 * Zarr metadata is small JSON; core cannot use jansson, and we only need to find keys and
 * read strings, unsigned integers and array lengths. Values are addressed as pointers into
 * the NUL-terminated text; every function takes the end and a nesting budget, and returns
 * NULL / false on anything malformed, so hostile input costs at most one linear pass per
 * query.
 */

#define JS_DEPTH 64

static const char *js_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': return the pointer after the closing quote. */
static const char *js_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
        if ((unsigned char)*p < 0x20)
            return NULL;
    }
    return NULL;
}

/* Skip one value starting at p (whitespace allowed before it); NULL when malformed. */
static const char *js_skip(const char *p, const char *end, unsigned depth)
{
    p = js_ws(p, end);
    if (p >= end || depth == 0)
        return NULL;
    if (*p == '"')
        return js_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = js_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = js_ws(p, end);
                if (p >= end || *p != '"' || (p = js_skip_string(p, end)) == NULL)
                    return NULL;
                p = js_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if ((p = js_skip(p, end, depth - 1)) == NULL)
                return NULL;
            p = js_ws(p, end);
            if (p >= end)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p++;
        }
    }
    const char *start = p;
    while (p < end && (strchr("+-.0123456789eEtrufalsn", *p) != NULL))
        p++;
    return p > start ? p : NULL;
}

/* In the object at obj, the value of member key (raw key bytes compared); NULL if absent. */
static const char *js_member(const char *obj, const char *end, const char *key)
{
    if (obj == NULL)
        return NULL;
    const char *p = js_ws(obj, end);
    if (p >= end || *p != '{')
        return NULL;
    size_t klen = strlen(key);
    p = js_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL;
    for (;;) {
        p = js_ws(p, end);
        if (p >= end || *p != '"')
            return NULL;
        const char *kend = js_skip_string(p, end);
        if (kend == NULL)
            return NULL;
        bool match = (size_t)(kend - p - 2) == klen && memcmp(p + 1, key, klen) == 0;
        p = js_ws(kend, end);
        if (p >= end || *p != ':')
            return NULL;
        const char *value = js_ws(p + 1, end);
        if (match)
            return value;
        if ((p = js_skip(value, end, JS_DEPTH)) == NULL)
            return NULL;
        p = js_ws(p, end);
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

/* Element i of the array at arr (NULL if absent); *count (if not NULL) gets the length when
 * the whole array was walked (i beyond the end). */
static const char *js_index(const char *arr, const char *end, size_t i, size_t *count)
{
    if (count != NULL)
        *count = 0;
    if (arr == NULL)
        return NULL;
    const char *p = js_ws(arr, end);
    if (p >= end || *p != '[')
        return NULL;
    p = js_ws(p + 1, end);
    if (p < end && *p == ']')
        return NULL;
    for (size_t k = 0;; k++) {
        const char *value = js_ws(p, end);
        if (k == i)
            return value;
        if ((p = js_skip(value, end, JS_DEPTH)) == NULL)
            return NULL;
        p = js_ws(p, end);
        if (count != NULL)
            *count = k + 1;
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

static size_t js_length(const char *arr, const char *end)
{
    size_t n;
    js_index(arr, end, SIZE_MAX, &n);
    return n;
}

/* A string without escapes, into buf (truncated to fit); false otherwise. */
static bool js_string(const char *v, const char *end, char *buf, size_t n)
{
    if (v == NULL || v >= end || *v != '"')
        return false;
    const char *e = js_skip_string(v, end);
    if (e == NULL || memchr(v + 1, '\\', (size_t)(e - v - 2)) != NULL)
        return false;
    size_t len = (size_t)(e - v - 2);
    if (len >= n)
        len = n - 1;
    memcpy(buf, v + 1, len);
    buf[len] = '\0';
    return true;
}

static bool js_uint(const char *v, const char *end, uint64_t *out)
{
    if (v == NULL || v >= end || *v < '0' || *v > '9')
        return false;
    uint64_t x = 0;
    for (; v < end && *v >= '0' && *v <= '9'; v++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*v - '0');
    }
    *out = x;
    return true;
}

/* ---- Zarr ---------------------------------------------------------------------------------
 *
 * A directory is a Zarr store when it holds .zarray/.zgroup (v2) or zarr.json (v3). It is
 * OME-Zarr when multiscales metadata is present (v2 .zattrs "multiscales", v3
 * attributes.ome.multiscales or attributes.multiscales) or the bioformats2raw layout key,
 * whose series 0 group then holds the multiscales. Keys decide, never version strings.
 * Metadata files are opened beneath the store with O_NOFOLLOW, one component at a time.
 */

struct json_file {
    char *text; /* NUL-terminated, or NULL when the file is absent */
    size_t len;
};

/* Open rel (components separated by '/', no "." or "..") beneath dirfd without following
 * links. Returns the fd or -1 with errno. */
static int open_beneath(int dirfd, const char *rel, int final_flags)
{
    char part[256];
    int cur = dirfd;
    const char *p = rel;
    for (unsigned depth = 0; depth < 8; depth++) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof part || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.')) {
            if (cur != dirfd)
                close(cur);
            errno = EINVAL;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        int flags =
            O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (slash ? O_DIRECTORY : final_flags);
        int fd = openat(cur, part, flags);
        int saved = errno;
        if (cur != dirfd)
            close(cur);
        if (fd < 0) {
            errno = saved;
            return -1;
        }
        if (slash == NULL)
            return fd;
        cur = fd;
        p = slash + 1;
    }
    if (cur != dirfd)
        close(cur);
    errno = EINVAL;
    return -1;
}

static enum error_code json_load(int dirfd, const char *rel, size_t max, struct json_file *jf,
                                 struct error_info *err)
{
    jf->text = NULL;
    jf->len = 0;
    int fd = open_beneath(dirfd, rel, 0);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EINVAL)
            return ERROR_OK;
        if (errno == ELOOP)
            return error_set(err, ERROR_UNPROCESSABLE, "Zarr metadata %s is a symlink", rel);
        return error_set(err, ERROR_IO, "cannot open Zarr metadata %s: %s", rel,
                         strerrordesc_np(errno));
    }
    enum error_code rc = ERROR_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = error_set(err, ERROR_IO, "cannot stat Zarr metadata %s: %s", rel,
                       strerrordesc_np(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "Zarr metadata %s is not a regular file", rel);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "Zarr metadata %s is %lld bytes, over the %zu-byte limit", rel,
                       (long long)st.st_size, max);
        goto out;
    }
    jf->text = alloc_bytes((size_t)st.st_size + 1);
    if (jf->text == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory reading Zarr metadata %s", rel);
        goto out;
    }
    struct src s = {.fd = fd, .size = (uint64_t)st.st_size};
    size_t got = 0;
    rc = src_pread(&s, (unsigned char *)jf->text, (size_t)st.st_size, 0, &got, err);
    if (rc == ERROR_OK) {
        jf->len = got;
        jf->text[got] = '\0';
        const char *end = jf->text + got;
        const char *after = js_skip(jf->text, end, JS_DEPTH);
        if (after == NULL || js_ws(after, end) != end || *js_ws(jf->text, end) != '{')
            rc = error_set(err, ERROR_UNPROCESSABLE, "corrupt Zarr: %s is not a JSON object", rel);
    }
    if (rc != ERROR_OK) {
        free(jf->text);
        jf->text = NULL;
    }
out:
    close(fd);
    return rc;
}

static void zarr_dtype(const char *v3_or_v2, char *out)
{
    /* v3 names are numpy names already; v2 is "<u2", "|b1", "<f4", "<c8" */
    const char *s = v3_or_v2;
    if ((s[0] == '<' || s[0] == '>' || s[0] == '|') && s[1] != '\0' && s[2] != '\0') {
        unsigned long n = strtoul(s + 2, NULL, 10);
        char buf[CLASSIFY_NAME_MAX];
        buf[0] = '\0';
        switch (s[1]) {
        case 'b':
            snprintf(buf, sizeof buf, "bool");
            break;
        case 'u':
            snprintf(buf, sizeof buf, "uint%lu", n * 8);
            break;
        case 'i':
            snprintf(buf, sizeof buf, "int%lu", n * 8);
            break;
        case 'f':
            snprintf(buf, sizeof buf, "float%lu", n * 8);
            break;
        case 'c':
            snprintf(buf, sizeof buf, "complex%lu", n * 8);
            break;
        default:
            break;
        }
        set_name(out, buf);
        return;
    }
    set_name(out, s);
}

/* Fill shape, dtype, chunks and compression from an array's metadata text (v2 .zarray or
 * v3 zarr.json); x, y and c are axis indices (-1 = unknown: last, second-last, none). */
static void zarr_array_facts(const struct json_file *jf, bool v3, int x, int y, int c,
                             struct classify_result *out)
{
    const char *end = jf->text + jf->len;
    const char *shape = js_member(jf->text, end, "shape");
    size_t ndim = js_length(shape, end);
    if (ndim == 0)
        return;
    if (x < 0 || (size_t)x >= ndim)
        x = (int)ndim - 1;
    if ((y < 0 || (size_t)y >= ndim) && ndim >= 2)
        y = (int)ndim - 2;
    uint64_t v;
    if (js_uint(js_index(shape, end, (size_t)x, NULL), end, &v))
        out->width = v;
    if (y >= 0 && js_uint(js_index(shape, end, (size_t)y, NULL), end, &v))
        out->height = v;
    out->channels = 1;
    if (c >= 0 && (size_t)c < ndim && js_uint(js_index(shape, end, (size_t)c, NULL), end, &v) &&
        v <= UINT32_MAX)
        out->channels = (uint32_t)v;
    char name[64];
    if (js_string(js_member(jf->text, end, v3 ? "data_type" : "dtype"), end, name, sizeof name))
        zarr_dtype(name, out->dtype);
    const char *chunks = js_member(jf->text, end, "chunks");
    if (v3)
        chunks = js_member(js_member(js_member(jf->text, end, "chunk_grid"), end, "configuration"),
                           end, "chunk_shape");
    uint64_t cw, ch;
    if (js_uint(js_index(chunks, end, (size_t)x, NULL), end, &cw) && y >= 0 &&
        js_uint(js_index(chunks, end, (size_t)y, NULL), end, &ch)) {
        out->tiled = true;
        out->tile_width = (uint32_t)(cw > UINT32_MAX ? UINT32_MAX : cw);
        out->tile_height = (uint32_t)(ch > UINT32_MAX ? UINT32_MAX : ch);
    }
    set_name(out->compression, "none");
    if (!v3) {
        const char *comp = js_member(jf->text, end, "compressor");
        if (js_string(js_member(comp, end, "id"), end, name, sizeof name))
            set_name(out->compression, name);
    } else {
        const char *codecs = js_member(jf->text, end, "codecs");
        for (size_t i = 0;; i++) {
            const char *codec = js_index(codecs, end, i, NULL);
            if (codec == NULL || !js_string(js_member(codec, end, "name"), end, name, sizeof name))
                break;
            if (strcmp(name, "bytes") != 0 && strcmp(name, "transpose") != 0 &&
                strcmp(name, "endian") != 0) {
                set_name(out->compression, name);
                break;
            }
        }
    }
}

/* multiscales[0]: levels, and the axes of its first dataset, whose array gives the facts. */
static enum error_code zarr_multiscales(int dirfd, const char *prefix, const char *ms,
                                        const char *end, size_t max, struct classify_result *out,
                                        struct error_info *err)
{
    const char *first = js_index(ms, end, 0, NULL);
    const char *datasets = js_member(first, end, "datasets");
    size_t n = js_length(datasets, end);
    out->levels = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    int x = -1, y = -1, c = -1;
    const char *axes = js_member(first, end, "axes");
    for (size_t i = 0; i < 16; i++) {
        const char *a = js_index(axes, end, i, NULL);
        char name[16];
        if (a == NULL)
            break;
        if (!js_string(a, end, name, sizeof name) &&
            !js_string(js_member(a, end, "name"), end, name, sizeof name))
            continue;
        if (strcmp(name, "x") == 0)
            x = (int)i;
        else if (strcmp(name, "y") == 0)
            y = (int)i;
        else if (strcmp(name, "c") == 0)
            c = (int)i;
    }
    char path[200], rel[512];
    if (!js_string(js_member(js_index(datasets, end, 0, NULL), end, "path"), end, path,
                   sizeof path))
        return ERROR_OK;
    struct json_file arr;
    bool v3 = false;
    snprintf(rel, sizeof rel, "%s%s/.zarray", prefix, path);
    enum error_code rc = json_load(dirfd, rel, max, &arr, err);
    if (rc == ERROR_OK && arr.text == NULL) {
        v3 = true;
        snprintf(rel, sizeof rel, "%s%s/zarr.json", prefix, path);
        rc = json_load(dirfd, rel, max, &arr, err);
    }
    if (rc != ERROR_OK || arr.text == NULL)
        return rc;
    zarr_array_facts(&arr, v3, x, y, c, out);
    free(arr.text);
    return ERROR_OK;
}

/* The attributes object of a group (v2 .zattrs text or v3 zarr.json "attributes"): find
 * multiscales (also under "ome") or the bioformats2raw layout. *found tells. */
static enum error_code zarr_group_attrs(int dirfd, const char *prefix, const char *attrs,
                                        const char *end, size_t max, bool *found, bool *bf2raw,
                                        struct classify_result *out, struct error_info *err)
{
    *found = false;
    *bf2raw = false;
    if (attrs == NULL)
        return ERROR_OK;
    const char *ome = js_member(attrs, end, "ome");
    const char *ms = js_member(attrs, end, "multiscales");
    if (ms == NULL)
        ms = js_member(ome, end, "multiscales");
    if (ms != NULL) {
        *found = true;
        return zarr_multiscales(dirfd, prefix, ms, end, max, out, err);
    }
    if (js_member(attrs, end, "bioformats2raw.layout") != NULL ||
        js_member(ome, end, "bioformats2raw.layout") != NULL) {
        *found = true;
        *bf2raw = true;
    }
    return ERROR_OK;
}

/* Look at the group at prefix ("" or "0/"): multiscales or bioformats2raw. */
static enum error_code zarr_group(int dirfd, const char *prefix, size_t max, bool *found,
                                  bool *bf2raw, struct classify_result *out, struct error_info *err)
{
    char rel[64];
    struct json_file jf;
    snprintf(rel, sizeof rel, "%szarr.json", prefix);
    enum error_code rc = json_load(dirfd, rel, max, &jf, err);
    if (rc != ERROR_OK)
        return rc;
    if (jf.text != NULL) {
        const char *end = jf.text + jf.len;
        rc = zarr_group_attrs(dirfd, prefix, js_member(jf.text, end, "attributes"), end, max, found,
                              bf2raw, out, err);
        free(jf.text);
        return rc;
    }
    snprintf(rel, sizeof rel, "%s.zattrs", prefix);
    if ((rc = json_load(dirfd, rel, max, &jf, err)) != ERROR_OK)
        return rc;
    *found = false;
    *bf2raw = false;
    if (jf.text != NULL) {
        rc = zarr_group_attrs(dirfd, prefix, jf.text, jf.text + jf.len, max, found, bf2raw, out,
                              err);
        free(jf.text);
    }
    return rc;
}

static enum error_code classify_zarr(int dirfd, size_t max, struct classify_result *out,
                                     struct error_info *err)
{
    memset(out, 0, sizeof *out);
    out->container = CLASSIFY_CONTAINER_UNKNOWN;
    struct json_file v3, zarray, zgroup;
    enum error_code rc = json_load(dirfd, "zarr.json", max, &v3, err);
    zarray.text = zgroup.text = NULL;
    if (rc != ERROR_OK)
        return rc;
    bool is_array = false, is_group = false;
    if (v3.text != NULL) {
        const char *end = v3.text + v3.len;
        char node[16];
        uint64_t fmt = 0;
        bool has_format = js_uint(js_member(v3.text, end, "zarr_format"), end, &fmt);
        if (has_format && js_string(js_member(v3.text, end, "node_type"), end, node, sizeof node)) {
            is_array = strcmp(node, "array") == 0;
            is_group = strcmp(node, "group") == 0;
        }
        if (is_array)
            zarr_array_facts(&v3, true, -1, -1, -1, out);
    } else {
        if ((rc = json_load(dirfd, ".zarray", max, &zarray, err)) != ERROR_OK ||
            (rc = json_load(dirfd, ".zgroup", max, &zgroup, err)) != ERROR_OK)
            goto out;
        is_array = zarray.text != NULL;
        is_group = zgroup.text != NULL;
        if (is_array)
            zarr_array_facts(&zarray, false, -1, -1, -1, out);
    }
    if (!is_array && !is_group)
        goto out; /* a plain directory */
    out->container = CLASSIFY_CONTAINER_ZARR;
    out->reader = CLASSIFY_READER_ZARR;
    set_name(out->format, "zarr");
    if (is_array) {
        out->levels = 1;
        goto out;
    }
    bool found = false, bf2raw = false;
    if ((rc = zarr_group(dirfd, "", max, &found, &bf2raw, out, err)) != ERROR_OK)
        goto out;
    if (bf2raw) {
        bool inner_found, inner_bf2raw;
        if ((rc = zarr_group(dirfd, "0/", max, &inner_found, &inner_bf2raw, out, err)) != ERROR_OK)
            goto out;
    }
    if (found)
        set_name(out->format, "ome-zarr");
out:
    free(v3.text);
    free(zarray.text);
    free(zgroup.text);
    if (rc != ERROR_OK) {
        memset(out, 0, sizeof *out);
        out->container = CLASSIFY_CONTAINER_UNKNOWN;
    }
    return rc;
}

/* ---- public entry points ------------------------------------------------------------------ */

static unsigned opt_max_ifds(const struct classify_options *opt)
{
    return opt != NULL && opt->max_ifds > 0 ? opt->max_ifds : LIMIT_MAX_IFDS;
}

enum error_code classify_fd(int fd, const struct stat *st, const struct classify_options *opt,
                            struct classify_result *out, struct error_info *err)
{
    struct stat own;
    if (st == NULL) {
        if (fstat(fd, &own) != 0)
            return error_set(err, ERROR_IO, "fstat failed: %s", strerrordesc_np(errno));
        st = &own;
    }
    if (S_ISDIR(st->st_mode)) {
        size_t max =
            opt != NULL && opt->zarr_json_max > 0 ? opt->zarr_json_max : LIMIT_ZARR_JSON_MAX;
        return classify_zarr(fd, max, out, err);
    }
    if (!S_ISREG(st->st_mode))
        return error_set(err, ERROR_UNPROCESSABLE, "not a regular file or directory");
    struct src s = {.fd = fd, .size = (uint64_t)st->st_size};
    return classify_tiff(&s, opt_max_ifds(opt), out, err);
}

enum error_code classify_buffer(const void *buf, size_t len, const struct classify_options *opt,
                                struct classify_result *out, struct error_info *err)
{
    static const unsigned char empty[1];
    struct src s = {.fd = -1, .mem = buf != NULL ? buf : empty, .size = buf != NULL ? len : 0};
    return classify_tiff(&s, opt_max_ifds(opt), out, err);
}

const char *classify_container_name(enum classify_container c)
{
    switch (c) {
    case CLASSIFY_CONTAINER_TIFF:
        return "tiff";
    case CLASSIFY_CONTAINER_BIGTIFF:
        return "bigtiff";
    case CLASSIFY_CONTAINER_ZARR:
        return "zarr";
    case CLASSIFY_CONTAINER_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *classify_reader_name(enum classify_reader r)
{
    switch (r) {
    case CLASSIFY_READER_VIPS:
        return "vips";
    case CLASSIFY_READER_OPENSLIDE:
        return "openslide";
    case CLASSIFY_READER_BIOFORMATS:
        return "bioformats";
    case CLASSIFY_READER_ZARR:
        return "zarr";
    case CLASSIFY_READER_NONE:
        break;
    }
    return NULL;
}

const char *classify_img_type_name(enum classify_img_type t)
{
    switch (t) {
    case CLASSIFY_IMG_TYPE_IMG:
        return "img";
    case CLASSIFY_IMG_TYPE_SLIDE:
        return "slide";
    case CLASSIFY_IMG_TYPE_NULL:
        break;
    }
    return NULL;
}
