/*
 * overlap_sort.h - the (a, b, count) records of core/overlap and the radix sorts that order
 * them; internal to the overlap*.c files.
 *
 * LSD radix sorts, one byte per pass: the histograms of every byte are gathered in one read,
 * and a pass whose byte is the same in every key is skipped, so labels that use few bytes cost
 * 2-3 passes per 64-bit key half. O(n) per pass, no allocation (the caller lends a scratch
 * array of n records), stable. Tuned for 10^5-10^6 pairs of cell labels.
 */
#ifndef TESSERA_CORE_OVERLAP_SORT_H
#define TESSERA_CORE_OVERLAP_SORT_H

#include <stddef.h>
#include <stdint.h>

/* One (a, b) label pair and its pixel count: a slot of a counter's table (count 0 = empty),
 * and a row of the sorted pair array a result is built from. */
struct overlap_entry {
    uint64_t a;
    uint64_t b;
    uint64_t count;
};

/* A key and where it came from (a pair's b label and the pair's index). */
struct overlap_keyed {
    uint64_t key;
    size_t index;
};

/* Sort v[0..n) by (a, b) ascending; tmp holds n records of scratch. */
void overlap_sort_entries(struct overlap_entry *v, struct overlap_entry *tmp, size_t n);

/* Sort v[0..n) by (a, b) into out[0..n) on two threads (core/parallel: one when the thread
 * budget is full): the halves of v are sorted in place with out as scratch, then merged into
 * out. Keys must be distinct (a pair table's). v's order is left unspecified. */
void overlap_sort_entries_two(struct overlap_entry *v, struct overlap_entry *out, size_t n);

/* Sort v[0..n) by key ascending, equal keys keeping their order; tmp holds n records. */
void overlap_sort_keyed(struct overlap_keyed *v, struct overlap_keyed *tmp, size_t n);

#endif
