/*
 * overlap_sort.c - LSD radix sorts of pair records; see overlap_sort.h.
 *
 * Sorting by b first and then by a (both stable) gives (a, b) order; the (a, b) sort does it
 * as one run of 16 byte passes, b's eight first.
 */
#include "overlap_sort.h"

#include <string.h>

void overlap_sort_entries(struct overlap_entry *v, struct overlap_entry *tmp, size_t n)
{
    static const unsigned digits = 16;
    size_t hist[16][256];
    if (n < 2)
        return;
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        for (unsigned d = 0; d < 8; d++) {
            hist[d][(v[i].b >> (8 * d)) & 0xff]++;
            hist[8 + d][(v[i].a >> (8 * d)) & 0xff]++;
        }
    }
    struct overlap_entry *src = v, *dst = tmp;
    for (unsigned d = 0; d < digits; d++) {
        size_t *h = hist[d];
        unsigned shift = 8 * (d % 8);
        uint64_t first = d < 8 ? src[0].b : src[0].a;
        if (h[(first >> shift) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (unsigned k = 0; k < 256; k++) {
            size_t c = h[k];
            h[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t key = d < 8 ? src[i].b : src[i].a;
            dst[h[(key >> shift) & 0xff]++] = src[i];
        }
        struct overlap_entry *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

void overlap_sort_keyed(struct overlap_keyed *v, struct overlap_keyed *tmp, size_t n)
{
    size_t hist[8][256];
    if (n < 2)
        return;
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++)
        for (unsigned d = 0; d < 8; d++)
            hist[d][(v[i].key >> (8 * d)) & 0xff]++;
    struct overlap_keyed *src = v, *dst = tmp;
    for (unsigned d = 0; d < 8; d++) {
        size_t *h = hist[d];
        unsigned shift = 8 * d;
        if (h[(src[0].key >> shift) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (unsigned k = 0; k < 256; k++) {
            size_t c = h[k];
            h[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[h[(src[i].key >> shift) & 0xff]++] = src[i];
        struct overlap_keyed *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}
