/* byteorder.c - element byte reversal; see byteorder.h. Loads and stores go through memcpy so
 * unaligned elements are fine and the compiler still emits plain moves and bswap. */
#include "byteorder.h"

#include <stdint.h>
#include <string.h>

void byteorder_copy(void *dst, const void *src, size_t n, unsigned width, bool swap)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (!swap || width <= 1 || (width != 2 && width != 4 && width != 8)) {
        if (d != s)
            memcpy(d, s, n * (size_t)width);
        return;
    }
    switch (width) {
    case 2:
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, s + 2 * i, 2);
            v = __builtin_bswap16(v);
            memcpy(d + 2 * i, &v, 2);
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            v = __builtin_bswap32(v);
            memcpy(d + 4 * i, &v, 4);
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, s + 8 * i, 8);
            v = __builtin_bswap64(v);
            memcpy(d + 8 * i, &v, 8);
        }
        break;
    }
}
