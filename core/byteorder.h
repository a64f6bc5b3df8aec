/*
 * byteorder.h - copying fixed-width integer elements between byte orders.
 *
 * The .npy reader and the Zarr chunk decoder both hand out native-endian elements; this is
 * the one place that reverses element bytes. Elements are 1, 2, 4 or 8 bytes wide and may sit
 * at any alignment (a .npy header can leave data at an odd offset). O(n), one pass, no
 * allocation; thread-safe (touches only the buffers given).
 */
#ifndef TESSERA_CORE_BYTEORDER_H
#define TESSERA_CORE_BYTEORDER_H

#include <stdbool.h>
#include <stddef.h>

/* True when this machine stores integers most significant byte first. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTEORDER_HOST_BIG true
#else
#define BYTEORDER_HOST_BIG false
#endif

/* Copy n elements of width bytes (1, 2, 4 or 8) from src to dst, reversing the bytes of each
 * element when swap is true. dst == src converts in place; otherwise the ranges must not
 * overlap. Any other width copies the bytes unchanged (callers validate widths first). */
void byteorder_copy(void *dst, const void *src, size_t n, unsigned width, bool swap);

/* True when elements stored with the given order (big_endian) differ from the host's. */
static inline bool byteorder_needs_swap(bool big_endian)
{
    return big_endian != BYTEORDER_HOST_BIG;
}

#endif
