/*
 * scan_name.c - image suffix match and natural order of paths; see scan_name.h.
 *
 * The one design decision: a result is never sorted by comparing paths token by token; each
 * path is encoded once into a key whose memcmp order is the natural order.
 */
#include "scan_name.h"

#include "alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Suffixes
 * --------------------------------------------------------------------------------------- */

static unsigned char scan_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool scan_suffix_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool scan_suffixes_parse(const char *list, struct scan_suffixes *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    const char *p = list;
    for (;;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        char s[SCAN_SUFFIX_LEN];
        if (n < 2 || n >= SCAN_SUFFIX_LEN || p[0] != '.') {
            snprintf(why, why_len, "suffix '%.*s' must start with '.' and have 2 to %u bytes",
                     (int)(n < 64 ? n : 64), p, SCAN_SUFFIX_LEN - 1);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            s[i] = (char)scan_lower((unsigned char)p[i]);
            if (!scan_suffix_char((unsigned char)s[i])) {
                snprintf(why, why_len,
                         "suffix '%.*s' may hold only ASCII letters, digits, '.', '_' and '-'",
                         (int)n, p);
                return false;
            }
        }
        s[n] = '\0';
        bool repeat = false;
        for (unsigned i = 0; i < out->count && !repeat; i++)
            repeat = strcmp(out->name[i], s) == 0;
        if (!repeat) {
            if (out->count == SCAN_SUFFIXES_MAX) {
                snprintf(why, why_len, "more than %u suffixes", SCAN_SUFFIXES_MAX);
                return false;
            }
            memcpy(out->name[out->count++], s, n + 1);
        }
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

/* The default list, parsed once; SCAN_SUFFIXES_DEFAULT is known to parse. */
static struct scan_suffixes scan_default;
static pthread_once_t scan_default_once = PTHREAD_ONCE_INIT;

static void scan_default_init(void)
{
    char why[128];
    bool ok = scan_suffixes_parse(SCAN_SUFFIXES_DEFAULT, &scan_default, why, sizeof why);
    (void)ok;
}

static bool scan_ends_with(const char *name, size_t len, const char *suffix, size_t slen)
{
    if (len < slen)
        return false;
    const unsigned char *p = (const unsigned char *)name + (len - slen);
    for (size_t i = 0; i < slen; i++)
        if (scan_lower(p[i]) != (unsigned char)suffix[i])
            return false;
    return true;
}

const char *scan_match_suffix_in(const struct scan_suffixes *set, const char *name, size_t len)
{
    if (set == NULL || set->count == 0) {
        pthread_once(&scan_default_once, scan_default_init);
        set = &scan_default;
    }
    const char *best = NULL;
    size_t best_len = 0;
    if (len < 2)
        return NULL;
    /* most names are rejected on their last byte */
    unsigned char last = scan_lower((unsigned char)name[len - 1]);
    for (unsigned i = 0; i < set->count; i++) {
        const char *s = set->name[i];
        size_t slen = strlen(s);
        if ((unsigned char)s[slen - 1] != last || slen <= best_len)
            continue;
        if (scan_ends_with(name, len, s, slen)) {
            best = s;
            best_len = slen;
        }
    }
    return best;
}

const char *scan_match_suffix(const char *name, size_t len)
{
    return scan_match_suffix_in(NULL, name, len);
}

bool scan_name_is_zarr(const char *suffix)
{
    return suffix != NULL && strcmp(suffix, ".zarr") == 0;
}

/* ---------------------------------------------------------------------------------------
 * Natural order
 * --------------------------------------------------------------------------------------- */

static bool scan_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int scan_natural_compare(const char *a, const char *b)
{
    /* Skip the common prefix (paths in one directory share most of theirs), then back up
     * to the start of a digit run it may end inside; tokens before that point are equal. */
    size_t i = 0;
    while (a[i] == b[i] && a[i] != '\0')
        i++;
    if (a[i] == b[i])
        return 0;
    int bytewise = (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    while (i > 0 && scan_is_digit((unsigned char)a[i - 1]))
        i--;
    const unsigned char *p = (const unsigned char *)a + i;
    const unsigned char *q = (const unsigned char *)b + i;
    for (;;) {
        if (scan_is_digit(*p) && scan_is_digit(*q)) {
            while (*p == '0')
                p++;
            while (*q == '0')
                q++;
            const unsigned char *pe = p;
            const unsigned char *qe = q;
            while (scan_is_digit(*pe))
                pe++;
            while (scan_is_digit(*qe))
                qe++;
            size_t plen = (size_t)(pe - p);
            size_t qlen = (size_t)(qe - q);
            if (plen != qlen)
                return plen < qlen ? -1 : 1;
            int c = memcmp(p, q, plen);
            if (c != 0)
                return c < 0 ? -1 : 1;
            p = pe;
            q = qe;
            continue;
        }
        if (*p != *q)
            return *p < *q ? -1 : 1;
        if (*p == '\0')
            return bytewise; /* equal as numbers ("a01", "a1"): plain byte order decides */
        p++;
        q++;
    }
}

static int scan_entry_order(const void *a, const void *b)
{
    return scan_natural_compare(((const struct scan_entry *)a)->path,
                                ((const struct scan_entry *)b)->path);
}

/* ---------------------------------------------------------------------------------------
 * Sorting by precomputed keys
 *
 * Comparing paths token by token costs ~40 ns a pair; instead each path is encoded once
 * into a key whose memcmp order is the natural order: a byte that is not a digit stays as
 * it is, and a digit run becomes '0', its length without leading zeros (one byte: a run
 * lies inside one component, at most 255 bytes), then those digits. '0' can stand for a
 * number because no other byte is a digit, so a number meets any other byte exactly as
 * its first digit would. Keys equal under memcmp are paths equal as numbers ("a01",
 * "a1"), ordered by strcmp as scan_natural_compare does.
 * --------------------------------------------------------------------------------------- */

struct scan_sort_item {
    const unsigned char *key;
    uint32_t key_len; /* a key is at most 3 * CONFINE_PATH_MAX bytes */
    uint32_t index;   /* entries are capped far below 2^32 (see scan_sort_entries) */
};

/* Encode s into out (NULL: only measure); returns the key's length. */
static size_t scan_natural_key(const char *s, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p != '\0') {
        if (!scan_is_digit(*p)) {
            if (out != NULL)
                out[n] = *p;
            n++;
            p++;
            continue;
        }
        while (*p == '0')
            p++;
        const unsigned char *d = p;
        while (scan_is_digit(*p))
            p++;
        size_t digits = (size_t)(p - d);
        if (out != NULL) {
            out[n] = '0';
            out[n + 1] = (unsigned char)digits;
            memcpy(out + n + 2, d, digits);
        }
        n += 2 + digits;
    }
    return n;
}

static int scan_sort_item_order(const void *a, const void *b, void *entries)
{
    const struct scan_sort_item *x = a;
    const struct scan_sort_item *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    const struct scan_entry *e = entries;
    return strcmp(e[x->index].path, e[y->index].path);
}

/* Sort res->entries naturally by path: sort (key, index) pairs, then permute the entries
 * in place along the cycles of that permutation. Falls back to comparing paths directly
 * when the keys do not fit in memory (same order, slower). */
static void scan_sort_entries(struct scan_result *res)
{
    size_t n = res->count;
    struct scan_sort_item *items = NULL;
    unsigned char *keys = NULL;
    if (n < 2)
        return;
    if (n > UINT32_MAX)
        goto fallback;
    items = alloc_bytes(n * sizeof *items);
    if (items == NULL)
        goto fallback;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = scan_natural_key(res->entries[i].path, NULL);
        items[i].key_len = (uint32_t)len;
        total += len;
    }
    keys = alloc_bytes(total > 0 ? total : 1);
    if (keys == NULL)
        goto fallback;
    unsigned char *at = keys;
    for (size_t i = 0; i < n; i++) {
        items[i].key = at;
        items[i].index = (uint32_t)i;
        at += scan_natural_key(res->entries[i].path, at);
    }
    qsort_r(items, n, sizeof *items, scan_sort_item_order, res->entries);
    /* Position i must receive entry items[i].index; a placed slot is marked with n. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].index == (uint32_t)n || items[i].index == i)
            continue;
        struct scan_entry held = res->entries[i];
        size_t j = i;
        while (items[j].index != i) {
            size_t from = items[j].index;
            res->entries[j] = res->entries[from];
            items[j].index = (uint32_t)n;
            j = from;
        }
        res->entries[j] = held;
        items[j].index = (uint32_t)n;
    }
    goto out;
fallback:
    qsort(res->entries, n, sizeof *res->entries, scan_entry_order);
out:
    free(keys);
    free(items);
}

static int scan_error_order(const void *a, const void *b)
{
    return scan_natural_compare(((const struct scan_error *)a)->path,
                                ((const struct scan_error *)b)->path);
}

void scan_name_sort(struct scan_result *res)
{
    if (res->count > 1)
        scan_sort_entries(res);
    if (res->error_count > 1)
        qsort(res->errors, res->error_count, sizeof *res->errors, scan_error_order);
}
