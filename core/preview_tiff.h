/*
 * preview_tiff.h - the TIFF reader of core/preview: find the levels of a TIFF pyramid,
 * decode the one nearest the wanted size, and render it (core/preview.h).
 *
 * Levels, from one walk of the main IFD chain (at most max_ifds IFDs): page 0 is level 0.
 * When page 0 has SubIFDs (the OME-TIFF layout tifffile writes with subifds=), each SubIFD
 * is the next level. Otherwise the reduced pages of the main chain are the levels (libvips'
 * tiffsave --pyramid, tifffile's reduced series, Aperio SVS): pages after the channel pages
 * whose size is smaller than the level before, with level 0's aspect ratio (within 5%) and
 * sample layout, so an SVS label or macro image is not taken for a level. Channels are the
 * samples of a pixel, or, with one sample per pixel, the leading pages of level 0's size
 * and layout that are not reduced (an OME-TIFF's C pages), each channel page then having
 * its own SubIFDs or reduced pages.
 *
 * Only the chosen level is decoded, and of it only the shown channels: every tile or strip
 * of that level (TIFFReadEncodedTile / TIFFReadEncodedStrip, so every codec libtiff has
 * works, JPEG YCbCr as RGB; a block never written - offset and byte count 0 - is zeros). Its
 * samples x pixels must be at most options->max_decode (ERROR_TOO_LARGE naming the level and
 * the limit, before anything is allocated), except for an image of one level: that is decoded
 * in strides. Every k-th tile row and every k-th tile of it (strips: every k-th strip, and of
 * it every k-th block of as many columns as the strip has rows) is decoded, k the smallest
 * stride >= 2 whose kept pixels fit max_decode, and the kept blocks are packed side by side
 * into the plane (an approximation: the preview area-averages the kept blocks only; facts
 * report k as stride). One tile or strip block over max_decode, or strips that would read more
 * than 64 x max_decode samples, stay ERROR_TOO_LARGE saying why. Samples: unsigned and signed
 * integers of 8 to 64 bits and IEEE floats of 32 or 64 bits, contiguous or planar.
 *
 * Fails with ERROR_UNPROCESSABLE for a file libtiff cannot read, a corrupt tile or strip
 * (libtiff's message in the detail), a sample format it cannot show; ERROR_INVALID for a
 * level or channel the image does not have; ERROR_TIMEOUT when options->deadline passes
 * (checked before each tile or strip); ERROR_NO_MEMORY. Reentrant: one libtiff handle
 * per call, its messages captured into the detail, never printed.
 */
#ifndef TESSERA_CORE_PREVIEW_TIFF_H
#define TESSERA_CORE_PREVIEW_TIFF_H

#include "preview.h"

/* Decode the level and channels o names of the TIFF open at fd (the caller's; duplicated,
 * never closed; name is for details) into *plane (the listed channels in order, or the
 * default ones; free plane->v), and fill the level facts of *facts (rgb stays NULL). */
enum error_code preview_tiff_decode(int fd, const char *name, const struct preview_options *o,
                                    struct preview_plane *plane, struct preview_image *facts,
                                    struct error_info *err) ERROR_MUST_CHECK;

/* Decode and render (preview_render) the TIFF open at fd (the caller's; it is duplicated, never
 * closed; name is for details) into *out, which the caller frees with preview_image_cleanup. */
enum error_code preview_tiff_render(int fd, const char *name, const struct preview_options *o,
                                    struct preview_image *out,
                                    struct error_info *err) ERROR_MUST_CHECK;

#endif
