/*
 * classify_tiff_names.h - the names core/classify_tiff.c reports for TIFF tag values: the
 * numpy dtype of SampleFormat + BitsPerSample, and the compression of a Compression code.
 * Pure functions of their arguments; thread-safe.
 */
#ifndef TESSERA_CORE_CLASSIFY_TIFF_NAMES_H
#define TESSERA_CORE_CLASSIFY_TIFF_NAMES_H

#include "classify.h"

#include <stdint.h>

/* "uint8", "int16", "float32", "complex64", "bool", ... into out (CLASSIFY_NAME_MAX
 * bytes); "" for a combination numpy has no name for. */
void classify_tiff_names_dtype(uint64_t sample_format, uint64_t bits, char *out);

/* "none", "lzw", "deflate", "jpeg", ... into out, or "tag-N" for a code without a name. */
void classify_tiff_names_compression(uint64_t code, char *out);

#endif
