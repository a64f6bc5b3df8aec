/*
 * scan.h - list the image files of a directory tree beneath the data root in one pass.
 *
 * Each directory is read once with getdents64 on its descriptor (never one glob per
 * pattern); a name is matched case-insensitively against a suffix list (by default .tif
 * .tiff .ome.tif .ome.tiff .ome.btf .btf .tf8 .svs .ndpi .scn .qptiff .bif .mrxs .vms .czi
 * and .zarr, the formats /classify understands or names), and the longest match is
 * reported in lower case, so x.ome.btf is ".ome.btf" once, never also ".btf". A directory named
 * *.zarr is one entry and is never descended into; a regular file named *.zarr is not an entry; a
 * directory named *.tif is not an entry (it is descended into when recursive).
 *
 * The design decision a reader must know: stat is called only when the answer needs it -
 * size and mtime of a reported entry (fstatat relative to the directory's descriptor), a
 * d_type of DT_UNKNOWN, or a symbolic link. A link is resolved through confine_open from
 * the root's descriptor, so it is followed only when its target stays beneath the data
 * root; broken, escaping and looping links land in the errors list, never in the entries.
 *
 * Cost: O(n) system-call-free work per directory entry plus one fstatat per reported entry
 * when want_stat (spread over opt.threads threads), then an O(m log m) natural-order sort
 * of the m entries through precomputed memcmp keys. Tuned for cycle directories of
 * 10^3..10^5 files, a few percent to all of them images. Memory: the entry array (capped
 * at max_entries) plus the path strings in an arena, freed together.
 */
#ifndef TESSERA_CORE_SCAN_H
#define TESSERA_CORE_SCAN_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest max_depth accepted: a relative path holds at most CONFINE_PATH_MAX bytes, and the
 * walk recurses once per level, so this also bounds stack use. */
#define SCAN_DEPTH_MAX 255u
/* Errors kept in one result; later ones are only counted (errors_dropped). */
#define SCAN_ERRORS_MAX 1000u

#define SCAN_SUFFIXES_MAX 32 /* suffixes in one list */
#define SCAN_SUFFIX_LEN   16 /* bytes of one suffix, with the NUL */
/* The list /scan matches unless --scan-suffixes says otherwise. */
#define SCAN_SUFFIXES_DEFAULT                                                                      \
    ".tif,.tiff,.ome.tif,.ome.tiff,.ome.btf,.btf,.tf8,.svs,.ndpi,.scn,.qptiff,.bif,.mrxs,.vms,"    \
    ".czi,.zarr"

/* The image suffixes a scan matches, lower case. A compound suffix (".ome.tif") is listed
 * beside its last part (".tif"); the longest one a name ends with wins. ".zarr", when
 * listed, names directories (stores), every other suffix regular files. */
struct scan_suffixes {
    unsigned count;
    char name[SCAN_SUFFIXES_MAX][SCAN_SUFFIX_LEN];
};

/*
 * Parse a comma-separated list (".tif,.svs"; spaces after a comma allowed) into *out: each
 * suffix starts with '.', has 2..15 bytes of ASCII letters, digits, '.', '_' or '-', and is
 * kept lower case; a repeat is kept once. false, with a one-line reason in why (why_len
 * bytes), for an empty list, a bad suffix or more than SCAN_SUFFIXES_MAX.
 */
bool scan_suffixes_parse(const char *list, struct scan_suffixes *out, char *why, size_t why_len);

struct scan_options {
    bool recursive;      /* descend into subdirectories */
    unsigned max_depth;  /* levels below the start directory read when recursive (0..255) */
    bool include_hidden; /* list and descend into names starting with '.' */
    size_t max_entries;  /* entries returned at most; one more sets truncated */
    int64_t deadline;    /* core/clock.h ns; 0 = no deadline */
    bool want_stat;      /* fill size and mtime (one fstatat per entry) */
    /* NULL or empty: SCAN_SUFFIXES_DEFAULT; must outlive the result (suffix points into it) */
    const struct scan_suffixes *suffixes;
    unsigned threads; /* threads doing fstatat, the caller's included (0 or 1: caller only);
                         workers start only once 64 names in a directory need a stat, and
                         only as many as the process's thread budget grants */
};

enum scan_type {
    SCAN_TYPE_FILE, /* regular file with an image suffix */
    SCAN_TYPE_ZARR  /* directory named *.zarr */
};

struct scan_entry {
    const char *path;   /* relative to the data root, '/'-separated, NUL-terminated */
    const char *name;   /* last component; points into path */
    const char *suffix; /* the matching suffix of opt.suffixes, lower case */
    enum scan_type type;
    uint64_t size;     /* bytes of the file (of the link's target); 0 for zarr */
    int64_t mtime_sec; /* modification time of the file or zarr directory */
    long mtime_nsec;   /* size and mtime are 0 unless want_stat */
};

struct scan_error {
    const char *path;   /* relative to the data root */
    const char *detail; /* human-readable reason ("permission denied", ...) */
};

struct scan_arena;

struct scan_result {
    struct scan_entry *entries; /* sorted by scan_natural_compare of path */
    size_t count;
    struct scan_error *errors; /* sorted the same way */
    size_t error_count;
    size_t errors_dropped;    /* errors beyond SCAN_ERRORS_MAX, not listed */
    bool truncated;           /* a depth, entry-count or time bound stopped the scan */
    struct scan_arena *arena; /* private: owns every string above */
};

/* Defaults: not recursive, hidden skipped, want_stat, max_depth LIMIT_SCAN_MAX_DEPTH,
 * max_entries LIMIT_SCAN_MAX_ENTRIES, no deadline, threads 1. */
void scan_options_init(struct scan_options *opt);

/*
 * Scan the directory rel (len bytes, relative to the data root open as root_fd; "" or "."
 * is the root) as opt says. On success *out is a new result the caller owns and frees with
 * scan_result_free; hitting a bound is still success, with truncated set, and unreadable
 * subdirectories or bad links are listed in (*out)->errors. On failure *out is NULL and err
 * says why: ERROR_NOT_FOUND (no such directory), ERROR_UNPROCESSABLE (not a directory),
 * ERROR_FORBIDDEN (outside the root, or the start directory is not readable), ERROR_INVALID
 * (bad path, max_depth > SCAN_DEPTH_MAX, threads > PARALLEL_THREADS_MAX), ERROR_NO_MEMORY,
 * ERROR_BUSY (out of descriptors), ERROR_IO. Thread-safe: shares nothing but root_fd, which
 * is only read; with threads > 1 it starts and joins its own worker threads.
 */
enum error_code scan_tree(int root_fd, const char *rel, size_t len, const struct scan_options *opt,
                          struct scan_result **out, struct error_info *err) ERROR_MUST_CHECK;

/* Free a result and every string it holds; NULL is a no-op. */
void scan_result_free(struct scan_result *result);

/*
 * Natural order of two NUL-terminated strings: runs of ASCII digits compare by numeric
 * value (of any length, "cyc2" < "cyc10", leading zeros ignored), every other byte by its
 * unsigned value; strings equal that way ("a01", "a1") are ordered by plain byte order, so
 * the result is a total order and 0 only for identical strings. Returns <0, 0 or >0.
 */
int scan_natural_compare(const char *a, const char *b);

/* The suffix of set that name (len bytes) ends with, longest match, lower case, pointing
 * into set; NULL if none. NULL or an empty set (a zeroed struct, which scan_suffixes_parse
 * never makes) means SCAN_SUFFIXES_DEFAULT. */
const char *scan_match_suffix_in(const struct scan_suffixes *set, const char *name, size_t len);

/* scan_match_suffix_in with the default list. */
const char *scan_match_suffix(const char *name, size_t len);

/* "file" or "zarr". */
const char *scan_type_name(enum scan_type type);

#endif
