/* color.c - see color.h. */
#include "color.h"

bool color_parse_hex(const char *s, size_t len, uint8_t rgb[3])
{
    if (len > 0 && s[0] == '#') {
        s++;
        len--;
    }
    if (len != 6)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < 6; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return false;
        v = v * 16 + d;
    }
    rgb[0] = (uint8_t)(v >> 16);
    rgb[1] = (uint8_t)(v >> 8);
    rgb[2] = (uint8_t)v;
    return true;
}
