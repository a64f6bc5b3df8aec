/*
 * tiff_ifd.h - read the structure of a TIFF or BigTIFF file without libtiff: the header, the
 * entry table of one IFD, tag values, the extents of strip/tile data, and a set of visited
 * IFD offsets for loop detection. Nothing here decodes a pixel.
 *
 * Bytes come from a byte source: a descriptor read with pread through one 4 KiB window (so
 * neighbouring small reads - the IFDs of a small file, the entries of one IFD - cost one
 * system call), or a buffer in memory. Every read is checked against the source's size
 * first, so a bad offset becomes a named defect ("... lies past the end of the file") rather
 * than a short read, and a file that shrinks under the reader is reported as truncated.
 *
 * An IFD is read against the caller's list of wanted tags (struct tiff_ifd_want): only their
 * entries are kept, as the place their value bytes live (never the values), so a caller pays
 * for exactly the tags it reads, and a tag that is not wanted cannot fail the read unless
 * its entry is impossible (a count whose byte size overflows).
 *
 * Failures: ERROR_UNPROCESSABLE with a detail that starts "corrupt TIFF:" (or "corrupt
 * BigTIFF:") and names the structure, its index and offsets; ERROR_IO when a read fails;
 * ERROR_NO_MEMORY (the visited set only). Cost: one pread per window miss; memory O(1) except
 * the visited set beyond TIFF_IFD_SEEN_SMALL offsets. A source (and the file over it) belongs
 * to one thread at a time, since its window changes as it reads; everything else is
 * reentrant.
 */
#ifndef TESSERA_CORE_TIFF_IFD_H
#define TESSERA_CORE_TIFF_IFD_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIFF_IFD_WINDOW 4096u /* bytes one window pread fetches */
#define TIFF_IFD_CHUNK  512u  /* most values one tiff_ifd_entry_uints call reads */

/* ---- byte source ------------------------------------------------------------------------- */

struct tiff_ifd_src {
    int fd;                   /* read with pread when mem is NULL */
    const unsigned char *mem; /* the whole file in memory, or NULL */
    uint64_t size;            /* bytes in the file: no read goes past it */
    uint64_t win_off;
    size_t win_len;
    unsigned char win[TIFF_IFD_WINDOW];
};

/* A source over the descriptor fd of a file of size bytes. fd stays the caller's; it is
 * only read with pread, so its file offset is untouched. */
void tiff_ifd_src_fd(struct tiff_ifd_src *s, int fd, uint64_t size);

/* A source over len bytes at buf (buf may be NULL when len is 0). buf stays the caller's
 * and must outlive the source. */
void tiff_ifd_src_mem(struct tiff_ifd_src *s, const void *buf, size_t len);

/* Read len bytes at off into buf; what names the structure for the error detail ("IFD
 * entry", "tag value"). Fails with ERROR_UNPROCESSABLE when the range is not inside the
 * file or the file was truncated meanwhile, ERROR_IO when pread fails. */
enum error_code tiff_ifd_src_read(struct tiff_ifd_src *s, uint64_t off, void *buf, size_t len,
                                  const char *what, struct error_info *err) ERROR_MUST_CHECK;

/* ---- the file ------------------------------------------------------------------------------ */

struct tiff_ifd_file {
    struct tiff_ifd_src *src; /* borrowed */
    bool big_endian;
    bool bigtiff;
    uint64_t first_ifd; /* offset of IFD 0, from the header (0 means "no image") */
};

/*
 * Read the header of src into *t. *is_tiff is false, with ERROR_OK, for anything that is not
 * a TIFF (fewer than 4 bytes, no "II"/"MM" byte order mark, a version other than 42 or 43).
 * Fails with ERROR_UNPROCESSABLE for a truncated header or a BigTIFF header whose offset
 * size is not 8, ERROR_IO.
 */
enum error_code tiff_ifd_open(struct tiff_ifd_src *src, struct tiff_ifd_file *t, bool *is_tiff,
                              struct error_info *err) ERROR_MUST_CHECK;

/* Bytes of the header (8, or 16 for BigTIFF): no IFD can start before this offset. */
uint64_t tiff_ifd_header_size(const struct tiff_ifd_file *t);

/* ---- entries ------------------------------------------------------------------------------- */

/* Where one tag's values are: count values of type, starting at file offset value_at
 * (inside the entry itself when they fit there). */
struct tiff_ifd_entry {
    bool present;
    uint16_t type;
    uint64_t count;
    uint64_t value_at;
};

/* Bytes of one value of a TIFF field type, 0 for a type this reader does not know. */
unsigned tiff_ifd_type_size(uint16_t type);

/* Element idx of an integer entry (BYTE, SHORT, LONG, LONG8, IFD, IFD8). ERROR_UNPROCESSABLE
 * for another type or idx past the count. */
enum error_code tiff_ifd_entry_uint(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                    uint64_t idx, uint64_t *out,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* First value of an integer tag, or dflt when the tag is absent, empty or not an integer. */
enum error_code tiff_ifd_entry_scalar(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                      uint64_t dflt, uint64_t *out,
                                      struct error_info *err) ERROR_MUST_CHECK;

/* The first value of a RATIONAL tag as a double; false (with ERROR_OK) when the tag is
 * absent, empty, not RATIONAL, or its denominator is 0. */
enum error_code tiff_ifd_entry_rational(const struct tiff_ifd_file *t,
                                        const struct tiff_ifd_entry *e, double *out, bool *ok,
                                        struct error_info *err) ERROR_MUST_CHECK;

/* count (<= TIFF_IFD_CHUNK) values of a SHORT/LONG/LONG8/IFD/IFD8 table (strip or tile
 * offsets and byte counts) from index start into out, read in one go. */
enum error_code tiff_ifd_entry_uints(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                     uint64_t start, unsigned count, uint64_t *out,
                                     struct error_info *err) ERROR_MUST_CHECK;

/* Up to n-1 bytes (n >= 2) of an ASCII/BYTE/UNDEFINED tag into buf, NUL-terminated, from its
 * start (tail false) or its end (tail true: trailing NULs and whitespace dropped, as
 * tifffile's stripnull + strip() do, and a NUL inside the tail cuts what precedes it). An
 * embedded NUL ends the string as a C reader sees it. Absent or another type gives "". */
enum error_code tiff_ifd_entry_text(const struct tiff_ifd_file *t, const struct tiff_ifd_entry *e,
                                    bool tail, char *buf, size_t n,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* ---- one IFD ------------------------------------------------------------------------------- */

/* A tag the caller wants kept. must_fit: the tag's values must lie inside the file, or the
 * read fails naming it (for tags the caller will read); otherwise an entry pointing past the
 * end is dropped silently, as libtiff drops it. A tag listed k times keeps its first k
 * occurrences, in order (a second ImageDescription, say); otherwise the first one wins.
 * last: this listing keeps the tag's last occurrence instead, whatever the others keep (what
 * libtiff's TIFFGetField returns for a duplicated tag, since each occurrence replaces the
 * one before). */
struct tiff_ifd_want {
    uint16_t tag;
    bool must_fit;
    bool last;
};

/*
 * Read the IFD at off (the caller checked off against the header and the visited set) and
 * keep in entries[i] the entry of want[i] (present false when absent); *next gets the next
 * IFD's offset (0 at the end of a chain). Entries of unknown types are skipped. kind and
 * index name the IFD in errors ("IFD 3", "SubIFD 0"). Fails with ERROR_UNPROCESSABLE for an
 * entry count of 0 or above 65535, a table running past the end of the file, an impossible
 * count, or a must_fit tag out of the file; ERROR_IO.
 */
enum error_code tiff_ifd_read(const struct tiff_ifd_file *t, uint64_t off, const char *kind,
                              unsigned index, const struct tiff_ifd_want *want, size_t n_want,
                              struct tiff_ifd_entry *entries, uint64_t *next,
                              struct error_info *err) ERROR_MUST_CHECK;

/*
 * Check that the strip or tile data an IFD names lies inside the file (what catches a file
 * cut short after its last IFD): offsets and byte_counts are its StripOffsets/StripByteCounts
 * or TileOffsets/TileByteCounts entries (absent: nothing to check), tiled names which. A
 * zero byte count is a sparse strip or tile and is skipped. Tables up to 1024 entries are
 * checked whole; beyond that the first and last 512 (writers store data in order, so the end
 * of the data is in the last entries), which bounds the cost on huge pyramids.
 */
enum error_code tiff_ifd_check_extents(const struct tiff_ifd_file *t,
                                       const struct tiff_ifd_entry *offsets,
                                       const struct tiff_ifd_entry *byte_counts, bool tiled,
                                       const char *kind, unsigned index,
                                       struct error_info *err) ERROR_MUST_CHECK;

/* ---- visited IFD offsets ------------------------------------------------------------------- */

#define TIFF_IFD_SEEN_SMALL 64u /* offsets held without allocating */

/* Up to TIFF_IFD_SEEN_SMALL offsets live in the struct (most files); beyond that an
 * open-addressing hash set sized for the expected count. Offsets are never 0 (the header
 * occupies it). Caller-provided storage: tiff_ifd_seen_init, then tiff_ifd_seen_cleanup. */
struct tiff_ifd_seen {
    uint64_t small[TIFF_IFD_SEEN_SMALL];
    unsigned n;
    uint64_t *table;
    size_t mask;
    size_t expect; /* offsets that may be added, to size the table */
};

/* An empty set for up to expect offsets (more still work, the table just fills up sooner:
 * callers cap the IFDs they walk). Allocates nothing. */
void tiff_ifd_seen_init(struct tiff_ifd_seen *s, size_t expect);

/* Add off (never 0); *fresh is false when it was already there (an IFD loop). Fails with
 * ERROR_NO_MEMORY when the table cannot be allocated. */
enum error_code tiff_ifd_seen_add(struct tiff_ifd_seen *s, uint64_t off, bool *fresh,
                                  struct error_info *err) ERROR_MUST_CHECK;

/* Free the table; the set is empty afterwards. */
void tiff_ifd_seen_cleanup(struct tiff_ifd_seen *s);

#endif
