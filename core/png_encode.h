/*
 * png_encode.h - encode an 8-bit RGB image as PNG into a core/buf, with libpng 1.6.
 *
 * libpng rather than libspng: libpng is already on the systems Tessera runs on (libvips, the
 * Python imaging stack and many more depend on libpng16-16), costs the Docker runtime image
 * one small package, and libspng-dev is not installed here nor pulled in by anything else.
 * libpng reports errors by longjmp; the setjmp that catches it lives in png_encode.c alone,
 * so no caller ever sees a jump, and the message lands in the error detail.
 *
 * Tuned for previews (a few hundred pixels a side, made once per request): zlib level 1 and
 * the "sub" filter only, trading some size for speed. Output is appended to the caller's
 * buffer, so its cap bounds the memory. Reentrant: each call has its own libpng state.
 */
#ifndef TESSERA_CORE_PNG_ENCODE_H
#define TESSERA_CORE_PNG_ENCODE_H

#include "buf.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Append the PNG of a width x height RGB8 image (rgb: rows of width * 3 bytes, top first,
 * no padding) to out. width and height must be 1..PNG_ENCODE_MAX_SIDE (ERROR_INVALID). Fails with
 * ERROR_TOO_LARGE when out's cap is reached, ERROR_NO_MEMORY, or ERROR_INTERNAL carrying
 * libpng's message. On failure out may hold a partial PNG: the caller discards it.
 */
#define PNG_ENCODE_MAX_SIDE 65535u
enum error_code png_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height,
                                struct buf *out, struct error_info *err) ERROR_MUST_CHECK;

#endif
