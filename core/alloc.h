/*
 * alloc.h - the heap allocations of core and handlers, with a fault-injection hook.
 *
 * Every malloc / calloc / realloc in core/ and handlers/ goes through these functions (and
 * the server hands them to jansson with json_set_alloc_funcs), so a test can make the n-th
 * allocation from now fail, as jansson's test_chaos does, and check that each failure turns
 * into a clean error: no crash, no leak, the next request served normally. When no fault
 * is armed the cost is one relaxed atomic load.
 */
#ifndef TESSERA_CORE_ALLOC_H
#define TESSERA_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *alloc_bytes(size_t size);                /* malloc */
void *alloc_zeroed(size_t count, size_t size); /* calloc */
void *alloc_resize(void *p, size_t size);      /* realloc; p is untouched on failure */

/* Large arrays (pages, bands, tables, bodies). A block of 4 MiB or more is 2 MiB-aligned and
 * its interior is advised MADV_HUGEPAGE: first-touch page faults on fresh memory can cost more
 * than the work (tens of microseconds per 4 KiB page on some virtual machines), and huge pages
 * cut faults and TLB misses 512x. The advice is a hint; where THP is off nothing changes.
 * free() releases the block. alloc_large_zeroed checks count * size for overflow.
 * alloc_large_lazy keeps the first 2 MiB on small pages, so a buffer that fills slowly (a
 * request body arriving byte by byte) commits memory as bytes arrive. */
void *alloc_large(size_t size);
void *alloc_large_zeroed(size_t count, size_t size);
void *alloc_large_lazy(size_t size);

/* Advise MADV_HUGEPAGE on the 2 MiB-aligned interior of an existing block (a caller's output
 * array about to be written in scattered order). A hint only. */
void alloc_advise_huge(void *p, size_t size);

/* Consume one allocation slot: true when this allocation must fail. For allocations made
 * by other means (aligned_alloc, mmap) so the hook reaches them too. */
bool alloc_fault(void);

/* Allocations through these functions that failed on the calling thread so far (injected
 * or real). Compare before and after a library call that reports running out of memory as
 * something else (jansson's parser can report it as a syntax error). */
unsigned long alloc_failures_here(void);

/* Arm the hook: the n-th allocation from now fails (1 = the next one); 0 disarms. Only one
 * allocation fails per arming. Thread-safe. */
void alloc_fail_nth(long n);

/* True while an armed failure has not fired yet (fewer than n allocations happened). */
bool alloc_fault_pending(void);

#endif
