/*
 * color.h - colours written as text: "rrggbb" or "#rrggbb" hex triplets, as /preview's
 * `colors` parameter and OME-NGFF's omero.channels[].color give them.
 */
#ifndef TESSERA_CORE_COLOR_H
#define TESSERA_CORE_COLOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse len bytes at s ("rrggbb" or "#rrggbb", either case) into rgb; false (rgb untouched)
 * when it is anything else. */
bool color_parse_hex(const char *s, size_t len, uint8_t rgb[3]);

#endif
