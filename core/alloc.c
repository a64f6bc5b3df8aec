/* alloc.c - heap allocations with a fault-injection hook; see alloc.h. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ALLOC_HUGE_PAGE ((size_t)2 << 20)

/* Allocations left before the armed failure; 0 = disarmed. */
static atomic_long alloc_countdown;

/* Failed allocations on this thread. */
static _Thread_local unsigned long alloc_failed;

bool alloc_fault(void)
{
    long left = atomic_load_explicit(&alloc_countdown, memory_order_relaxed);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&alloc_countdown, &left, left - 1)) {
            if (left == 1)
                alloc_failed++;
            return left == 1;
        }
    }
    return false;
}

/* Count a real failure (size 0 may legitimately return NULL). */
static void *alloc_counted(void *p, size_t size)
{
    if (p == NULL && size > 0)
        alloc_failed++;
    return p;
}

void *alloc_bytes(size_t size)
{
    return alloc_fault() ? NULL : alloc_counted(malloc(size), size);
}

void *alloc_zeroed(size_t count, size_t size)
{
    return alloc_fault() ? NULL : alloc_counted(calloc(count, size), count * size);
}

void *alloc_resize(void *p, size_t size)
{
    return alloc_fault() ? NULL : alloc_counted(realloc(p, size), size);
}

unsigned long alloc_failures_here(void)
{
    return alloc_failed;
}

void alloc_fail_nth(long n)
{
    atomic_store(&alloc_countdown, n > 0 ? n : 0);
}

bool alloc_fault_pending(void)
{
    return atomic_load(&alloc_countdown) > 0;
}

/* Round up to whole huge pages and align, or NULL for a size that cannot be rounded. */
static void *alloc_huge_aligned(size_t size)
{
    if (size > SIZE_MAX - ALLOC_HUGE_PAGE)
        return NULL;
    size_t rounded = (size + ALLOC_HUGE_PAGE - 1) & ~(ALLOC_HUGE_PAGE - 1);
    return alloc_fault() ? NULL : alloc_counted(aligned_alloc(ALLOC_HUGE_PAGE, rounded), size);
}

static void *alloc_large_advised(size_t size, size_t small_prefix)
{
    if (size < 2 * ALLOC_HUGE_PAGE)
        return alloc_bytes(size);
    char *p = alloc_huge_aligned(size);
    if (p == NULL)
        return NULL;
    size_t rounded = (size + ALLOC_HUGE_PAGE - 1) & ~(ALLOC_HUGE_PAGE - 1);
    if (small_prefix > 0)
        (void)madvise(p, small_prefix, MADV_NOHUGEPAGE);
    (void)madvise(p + small_prefix, rounded - small_prefix, MADV_HUGEPAGE);
    return p;
}

void *alloc_large(size_t size)
{
    return alloc_large_advised(size, 0);
}

void *alloc_large_lazy(size_t size)
{
    return alloc_large_advised(size, ALLOC_HUGE_PAGE);
}

void alloc_advise_huge(void *p, size_t size)
{
    uintptr_t lo = ((uintptr_t)p + ALLOC_HUGE_PAGE - 1) & ~(uintptr_t)(ALLOC_HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + size) & ~(uintptr_t)(ALLOC_HUGE_PAGE - 1);
    if (p != NULL && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

void *alloc_large_zeroed(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t bytes = count * size;
    /* calloc's large blocks are fresh zero pages from mmap: touching them all with memset
     * would cost a pass, so only the 2 MiB-aligned interior is advised. */
    char *p = alloc_zeroed(count, size);
    if (p != NULL && bytes >= 2 * ALLOC_HUGE_PAGE)
        alloc_advise_huge(p, bytes);
    return p;
}
