/*
 * classify_tiff_names.c - numpy dtype and compression names of TIFF tag values; see
 * classify_tiff_names.h.
 */
#include "classify_tiff_names.h"

#include <stdio.h>

void classify_tiff_names_dtype(uint64_t sample_format, uint64_t bits, char *out)
{
    const char *kind = NULL;
    unsigned width = 0;
    if (sample_format == 3) {
        kind = "float";
        width = bits <= 16 ? 16 : bits <= 32 ? 32 : bits <= 64 ? 64 : 0;
    } else if (sample_format == 6) {
        kind = "complex";
        width = bits == 64 ? 64 : bits == 128 ? 128 : 0;
    } else if (sample_format == 1 || sample_format == 2 || sample_format == 4) {
        if (bits == 1 && sample_format != 2) {
            classify_name_copy(out, "bool");
            return;
        }
        kind = sample_format == 2 ? "int" : "uint";
        width = bits <= 8 ? 8 : bits <= 16 ? 16 : bits <= 32 ? 32 : bits <= 64 ? 64 : 0;
    }
    if (kind == NULL || width == 0 || bits == 0) {
        out[0] = '\0';
        return;
    }
    snprintf(out, CLASSIFY_NAME_MAX, "%s%u", kind, width);
}

void classify_tiff_names_compression(uint64_t code, char *out)
{
    static const struct {
        unsigned code;
        const char *name;
    } names[] = {
        {1, "none"},         {2, "ccittrle"},     {3, "ccittfax3"},    {4, "ccittfax4"},
        {5, "lzw"},          {6, "ojpeg"},        {7, "jpeg"},         {8, "deflate"},
        {32946, "deflate"},  {32773, "packbits"}, {33003, "jpeg2000"}, {33005, "jpeg2000"},
        {34712, "jpeg2000"}, {34887, "lerc"},     {34925, "lzma"},     {34926, "zstd"},
        {50000, "zstd"},     {34927, "webp"},     {50001, "webp"},     {50002, "jpegxl"},
        {34892, "jpeg"},     {22610, "jpegxr"},   {34934, "jpegxr"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].code == code) {
            classify_name_copy(out, names[i].name);
            return;
        }
    }
    snprintf(out, CLASSIFY_NAME_MAX, "tag-%llu", (unsigned long long)code);
}
