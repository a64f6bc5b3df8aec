/*
 * overlap_sort.c - LSD radix sorts of pair records; see overlap_sort.h.
 *
 * Sorting by b first and then by a (both stable) gives (a, b) order; the (a, b) sort does it
 * as one run of 16 byte passes, b's eight first.
 */
#include "overlap_sort.h"

#include "parallel.h"

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

/* Two threads: each half of v sorted on its own (core/parallel), then one merging pass. */
struct overlap_sort_job {
    struct overlap_entry *v, *tmp;
    size_t half, n;
};

static void sort_half(void *arg, size_t i)
{
    struct overlap_sort_job *j = arg;
    const size_t lo = i == 0 ? 0 : j->half, len = i == 0 ? j->half : j->n - j->half;
    overlap_sort_entries(j->v + lo, j->tmp + lo, len);
}

static inline bool entry_less(const struct overlap_entry *x, const struct overlap_entry *y)
{
    return x->a < y->a || (x->a == y->a && x->b < y->b);
}

void overlap_sort_entries_two(struct overlap_entry *v, struct overlap_entry *out, size_t n)
{
    struct overlap_sort_job job = {.v = v, .tmp = out, .half = n / 2, .n = n};
    parallel_for(2, 2, sort_half, &job);
    size_t i = 0, j = job.half, k = 0;
    while (i < job.half && j < n)
        out[k++] = entry_less(&v[j], &v[i]) ? v[j++] : v[i++];
    while (i < job.half)
        out[k++] = v[i++];
    while (j < n)
        out[k++] = v[j++];
}
