/*
 * overlap_scan.h - pixel helpers of overlap.c's run scan (private to core/overlap.c).
 *
 * A mask covers 64 pixels: bit k is set when pixel k differs from pixel k - 1 in a or in b
 * (a[-1] and b[-1] must be readable). Three implementations of each element width: the
 * scalar loop (changes_tail_N for any length, scalar_64_N), the compiler's baseline vectors
 * (changes_64_N: SSE2 where __SSE2__, else the scalar ones), and AVX2 (avx2_64_N, compiled in
 * target("avx2") functions when OVERLAP_HAVE_AVX2 is defined; call them only after the CPU
 * check in overlap.c). All give the same masks; the scalar ones are the reference. And the
 * element readers of the mixed-dtype path: any dtype as a signed value or a uint64 label.
 */
#ifndef TESSERA_CORE_OVERLAP_SCAN_H
#define TESSERA_CORE_OVERLAP_SCAN_H

#include "overlap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define OVERLAP_HAVE_AVX2 1 /* compiled for a target("avx2") function, used after a CPU check */
#endif

/* Scalar change mask of len (<= 64) pixels starting at a, b (a[-1], b[-1] readable). */
#define OVERLAP_CHANGES_SCALAR(name, type)                                                         \
    static inline uint64_t name(const type *a, const type *b, size_t len)                          \
    {                                                                                              \
        uint64_t m = 0;                                                                            \
        for (size_t k = 0; k < len; k++)                                                           \
            m |= (uint64_t)(a[k] != a[(ptrdiff_t)k - 1] || b[k] != b[(ptrdiff_t)k - 1]) << k;      \
        return m;                                                                                  \
    }

OVERLAP_CHANGES_SCALAR(changes_tail_8, uint8_t)
OVERLAP_CHANGES_SCALAR(changes_tail_16, uint16_t)
OVERLAP_CHANGES_SCALAR(changes_tail_32, uint32_t)
OVERLAP_CHANGES_SCALAR(changes_tail_64, uint64_t)

#if defined(__SSE2__)
static inline __m128i load16(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/* Change masks of exactly 64 pixels; bit k set when pixel k differs from pixel k - 1. */
static inline uint64_t changes_64_8(const uint8_t *a, const uint8_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i ea = _mm_cmpeq_epi8(load16(a + k), load16(a + k - 1));
        __m128i eb = _mm_cmpeq_epi8(load16(b + k), load16(b + k - 1));
        eq |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_and_si128(ea, eb)) << k;
    }
    return ~eq;
}

static inline uint64_t changes_64_16(const uint16_t *a, const uint16_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i e0 = _mm_and_si128(_mm_cmpeq_epi16(load16(a + k), load16(a + k - 1)),
                                   _mm_cmpeq_epi16(load16(b + k), load16(b + k - 1)));
        __m128i e1 = _mm_and_si128(_mm_cmpeq_epi16(load16(a + k + 8), load16(a + k + 7)),
                                   _mm_cmpeq_epi16(load16(b + k + 8), load16(b + k + 7)));
        eq |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_packs_epi16(e0, e1)) << k;
    }
    return ~eq;
}

static inline uint64_t changes_64_32(const uint32_t *a, const uint32_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 4) {
        __m128i e = _mm_and_si128(_mm_cmpeq_epi32(load16(a + k), load16(a + k - 1)),
                                  _mm_cmpeq_epi32(load16(b + k), load16(b + k - 1)));
        eq |= (uint64_t)(unsigned)_mm_movemask_ps(_mm_castsi128_ps(e)) << k;
    }
    return ~eq;
}

static inline uint64_t changes_64_64(const uint64_t *a, const uint64_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 2) {
        /* SSE2 has no 64-bit compare: both 32-bit halves must match. */
        __m128i e = _mm_and_si128(_mm_cmpeq_epi32(load16(a + k), load16(a + k - 1)),
                                  _mm_cmpeq_epi32(load16(b + k), load16(b + k - 1)));
        e = _mm_and_si128(e, _mm_shuffle_epi32(e, _MM_SHUFFLE(2, 3, 0, 1)));
        eq |= (uint64_t)(unsigned)_mm_movemask_pd(_mm_castsi128_pd(e)) << k;
    }
    return ~eq;
}
#endif

/* The scalar change masks: the reference the vector ones are tested against. */
#define OVERLAP_CHANGES_64(name, type, tail)                                                       \
    static inline uint64_t name(const type *a, const type *b)                                      \
    {                                                                                              \
        return tail(a, b, 64);                                                                     \
    }
OVERLAP_CHANGES_64(scalar_64_8, uint8_t, changes_tail_8)
OVERLAP_CHANGES_64(scalar_64_16, uint16_t, changes_tail_16)
OVERLAP_CHANGES_64(scalar_64_32, uint32_t, changes_tail_32)
OVERLAP_CHANGES_64(scalar_64_64, uint64_t, changes_tail_64)
#if !defined(__SSE2__)
#define changes_64_8  scalar_64_8
#define changes_64_16 scalar_64_16
#define changes_64_32 scalar_64_32
#define changes_64_64 scalar_64_64
#endif

#if defined(OVERLAP_HAVE_AVX2)
/* AVX2 change masks, 32 bytes at a time; only called when the CPU reports AVX2. */
#define OVERLAP_AVX2 __attribute__((target("avx2")))

OVERLAP_AVX2 static inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

OVERLAP_AVX2 static inline uint64_t avx2_64_8(const uint8_t *a, const uint8_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 32) {
        __m256i e = _mm256_and_si256(_mm256_cmpeq_epi8(load32(a + k), load32(a + k - 1)),
                                     _mm256_cmpeq_epi8(load32(b + k), load32(b + k - 1)));
        eq |= (uint64_t)(uint32_t)_mm256_movemask_epi8(e) << k;
    }
    return ~eq;
}

OVERLAP_AVX2 static inline uint64_t avx2_64_16(const uint16_t *a, const uint16_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 32) {
        __m256i e0 = _mm256_and_si256(_mm256_cmpeq_epi16(load32(a + k), load32(a + k - 1)),
                                      _mm256_cmpeq_epi16(load32(b + k), load32(b + k - 1)));
        __m256i e1 = _mm256_and_si256(_mm256_cmpeq_epi16(load32(a + k + 16), load32(a + k + 15)),
                                      _mm256_cmpeq_epi16(load32(b + k + 16), load32(b + k + 15)));
        /* packs works per 128-bit lane: put the four quarters back in pixel order */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(e0, e1), 0xD8);
        eq |= (uint64_t)(uint32_t)_mm256_movemask_epi8(p) << k;
    }
    return ~eq;
}

OVERLAP_AVX2 static inline uint64_t avx2_64_32(const uint32_t *a, const uint32_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 8) {
        __m256i e = _mm256_and_si256(_mm256_cmpeq_epi32(load32(a + k), load32(a + k - 1)),
                                     _mm256_cmpeq_epi32(load32(b + k), load32(b + k - 1)));
        eq |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(e)) << k;
    }
    return ~eq;
}

OVERLAP_AVX2 static inline uint64_t avx2_64_64(const uint64_t *a, const uint64_t *b)
{
    uint64_t eq = 0;
    for (unsigned k = 0; k < 64; k += 4) {
        __m256i e = _mm256_and_si256(_mm256_cmpeq_epi64(load32(a + k), load32(a + k - 1)),
                                     _mm256_cmpeq_epi64(load32(b + k), load32(b + k - 1)));
        eq |= (uint64_t)(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(e)) << k;
    }
    return ~eq;
}
#endif

static inline bool dtype_is_signed(enum overlap_dtype dtype)
{
    return dtype >= OVERLAP_I8;
}

/* Element i of an array of dtype as a signed value (for details) and as the label. */
static inline int64_t element_signed(const void *p, enum overlap_dtype dtype, size_t i)
{
    switch (dtype) {
    case OVERLAP_I8:
        return ((const int8_t *)p)[i];
    case OVERLAP_I16:
        return ((const int16_t *)p)[i];
    case OVERLAP_I32:
        return ((const int32_t *)p)[i];
    case OVERLAP_I64:
        return ((const int64_t *)p)[i];
    default:
        return 0;
    }
}

static inline uint64_t element_label(const void *p, enum overlap_dtype dtype, size_t i)
{
    switch (dtype) {
    case OVERLAP_U8:
        return ((const uint8_t *)p)[i];
    case OVERLAP_U16:
        return ((const uint16_t *)p)[i];
    case OVERLAP_U32:
        return ((const uint32_t *)p)[i];
    case OVERLAP_U64:
        return ((const uint64_t *)p)[i];
    default:
        return (uint64_t)element_signed(p, dtype, i);
    }
}

/* Copy n elements starting at off into dst as uint64 labels; false (and *bad) on a negative. */
static inline bool widen(const void *src, enum overlap_dtype dtype, size_t off, size_t n,
                         uint64_t *dst, size_t *bad)
{
    if (dtype_is_signed(dtype)) {
        for (size_t i = 0; i < n; i++) {
            int64_t v = element_signed(src, dtype, off + i);
            if (v < 0) {
                *bad = off + i;
                return false;
            }
            dst[i] = (uint64_t)v;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = element_label(src, dtype, off + i);
    return true;
}

#endif
