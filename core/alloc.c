/* alloc.c - heap allocations with a fault-injection hook; see alloc.h. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

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
