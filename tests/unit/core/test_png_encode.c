/* test_png_encode.c - core/png_encode: what it writes decodes (with libpng's own reader) to the
 * same pixels, a full buffer and bad sizes are errors, and nothing is printed. */
#include "buf.h"
#include "check.h"
#include "png_encode.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

/* Decode a PNG with libpng's simplified reader into RGB8; returns malloc'd pixels. */
static uint8_t *decode(const char *data, size_t len, uint32_t *w, uint32_t *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (px == NULL || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&img);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return px;
}

static void test_round_trip(uint32_t width, uint32_t height, uint64_t seed)
{
    size_t n = (size_t)width * height * 3;
    uint8_t *rgb = malloc(n);
    CHECK(rgb != NULL);
    for (size_t i = 0; i < n; i++)
        rgb[i] = (uint8_t)check_rng_below(&seed, 256);
    struct buf out;
    buf_init(&out, 0);
    struct error_info err;
    error_init(&err);
    CHECK_INT(png_encode_rgb8(rgb, width, height, &out, &err), ERROR_OK);
    CHECK(out.len > 8 && memcmp(out.data, "\x89PNG\r\n\x1a\n", 8) == 0);
    uint32_t w = 0, h = 0;
    uint8_t *back = decode(out.data, out.len, &w, &h);
    CHECK(back != NULL);
    CHECK_INT(w, width);
    CHECK_INT(h, height);
    CHECK(back != NULL && memcmp(back, rgb, n) == 0);
    free(back);
    buf_cleanup(&out);
    free(rgb);
}

static void test_cap_and_sizes(void)
{
    uint8_t rgb[300];
    memset(rgb, 7, sizeof rgb);
    struct buf out;
    buf_init(&out, 20); /* the signature and IHDR alone pass 20 bytes */
    struct error_info err;
    error_init(&err);
    CHECK_INT(png_encode_rgb8(rgb, 10, 10, &out, &err), ERROR_TOO_LARGE);
    CHECK(strstr(err.detail, "size limit") != NULL);
    buf_cleanup(&out);
    buf_init(&out, 0);
    CHECK_INT(png_encode_rgb8(rgb, 0, 10, &out, &err), ERROR_INVALID);
    CHECK_INT(png_encode_rgb8(rgb, 10, 0, &out, &err), ERROR_INVALID);
    CHECK_INT(png_encode_rgb8(rgb, PNG_ENCODE_MAX_SIDE + 1, 1, &out, &err), ERROR_INVALID);
    CHECK_INT(out.len, 0);
    buf_cleanup(&out);
}

int main(void)
{
    test_round_trip(1, 1, 1);
    test_round_trip(3, 2, 2);
    test_round_trip(257, 131, 3);
    test_cap_and_sizes();
    return check_finish("test_png_encode");
}
