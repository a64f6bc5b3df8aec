/*
 * png_encode.c - the PNG encoder over libpng; see png_encode.h. libpng's error callback copies the
 * message and longjmps back to png_encode_rgb8, the one function here with a setjmp; the write
 * callback appends to the caller's buf and turns a full buffer into that same jump.
 */
#include "png_encode.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

struct png_state {
    struct buf *out;
    enum error_code code; /* why the write stopped: set before every longjmp */
    char message[256];
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_state *s = png_get_error_ptr(png);
    if (s->code == ERROR_OK) {
        s->code = ERROR_INTERNAL;
        snprintf(s->message, sizeof s->message, "%s", msg);
    }
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings are not errors; nothing is printed mid-request */
}

static void png_on_write(png_structp png, png_bytep data, size_t len)
{
    struct png_state *s = png_get_io_ptr(png);
    enum buf_status st = buf_append(s->out, data, len);
    if (st != BUF_OK) {
        s->code = st == BUF_TOO_LARGE ? ERROR_TOO_LARGE : ERROR_NO_MEMORY;
        snprintf(s->message, sizeof s->message, "%s",
                 st == BUF_TOO_LARGE ? "the PNG passes the answer's size limit"
                                     : "out of memory for the PNG");
        png_error(png, s->message);
    }
}

static void png_on_flush(png_structp png)
{
    (void)png;
}

enum error_code png_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height,
                                struct buf *out, struct error_info *err)
{
    if (width == 0 || height == 0 || width > PNG_ENCODE_MAX_SIDE || height > PNG_ENCODE_MAX_SIDE)
        return error_set(err, ERROR_INVALID, "a PNG of %u x %u pixels: each side must be 1..%u",
                         width, height, PNG_ENCODE_MAX_SIDE);
    struct png_state s = {.out = out, .code = ERROR_OK};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    if (png == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory for the PNG encoder");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return error_set(err, ERROR_NO_MEMORY, "out of memory for the PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return error_set(err, s.code == ERROR_OK ? ERROR_INTERNAL : s.code, "PNG encoding: %s",
                         s.message);
    }
    png_set_write_fn(png, &s, png_on_write, png_on_flush);
    png_set_compression_level(png, 1);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++)
        png_write_row(png, rgb + (size_t)y * width * 3u);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return ERROR_OK;
}
