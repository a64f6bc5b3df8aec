/*
 * classify_stack.c - TIFF pages as series and as a (z, y, x) stack; see classify_stack.h.
 *
 * The one design decision: the refusal reasons are checked in the order core/load_tiff.c's
 * page check applies them, so the detail names what /overlap would answer first.
 */
#include "classify_stack.h"

#include "classify_tiff_names.h"
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void classify_stack_walk_init(struct classify_stack_walk *w)
{
    memset(w, 0, sizeof *w);
}

/* RowsPerStrip as libtiff uses it: absent, 0 or beyond the height is one strip. */
static uint64_t classify_stack_rows(const struct classify_stack_page *p)
{
    return p->rows_per_strip == 0 || p->rows_per_strip > p->height ? p->height : p->rows_per_strip;
}

static bool classify_stack_same_pixels(const struct classify_stack_page *a,
                                       const struct classify_stack_page *b)
{
    return a->width == b->width && a->height == b->height && a->samples == b->samples &&
           a->bits == b->bits && a->sample_format == b->sample_format;
}

static bool classify_stack_same_series(const struct classify_stack_page *a,
                                       const struct classify_stack_page *b)
{
    if (!classify_stack_same_pixels(a, b) || a->compression != b->compression ||
        a->tiled != b->tiled)
        return false;
    if (a->tiled)
        return a->tile_width == b->tile_width && a->tile_height == b->tile_height;
    return classify_stack_rows(a) == classify_stack_rows(b);
}

static uint32_t classify_stack_u32(uint64_t v)
{
    return (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
}

static void classify_stack_series_start(const struct classify_stack_page *p, uint32_t page,
                                        struct classify_tiff_series *s)
{
    memset(s, 0, sizeof *s);
    s->first_page = page;
    s->pages = 1;
    s->width = p->width;
    s->height = p->height;
    classify_tiff_names_dtype(p->sample_format, p->bits, s->dtype);
    classify_tiff_names_compression(p->compression, s->compression);
    s->tiled = p->tiled;
    if (p->tiled) {
        s->tile_width = classify_stack_u32(p->tile_width);
        s->tile_height = classify_stack_u32(p->tile_height);
    } else {
        s->rows_per_strip = classify_stack_u32(classify_stack_rows(p));
    }
}

/* Why core/load refuses page `page` (p) as a slice of a volume whose page 0 is first, into
 * why; false when it accepts it. */
static bool classify_stack_refuses(const struct classify_stack_page *p,
                                   const struct classify_stack_page *first, uint32_t page,
                                   char *why, size_t n)
{
    char dtype[CLASSIFY_NAME_MAX], dtype0[CLASSIFY_NAME_MAX], codec[CLASSIFY_NAME_MAX];
    classify_tiff_names_dtype(p->sample_format, p->bits, dtype);
    if (p->width == 0 || p->height == 0)
        snprintf(why, n, "page %u has no width or height", page);
    else if (p->samples != 1)
        snprintf(why, n, "page %u has %llu samples per pixel; a label image has 1", page,
                 (unsigned long long)p->samples);
    else if (p->sample_format != 1 && p->sample_format != 2)
        snprintf(why, n, "page %u holds %s data; labels must be integers", page,
                 dtype[0] != '\0' ? dtype : "non-integer");
    else if (p->bits != 8 && p->bits != 16 && p->bits != 32 && p->bits != 64)
        snprintf(why, n, "page %u has %llu bits per sample; labels need 8, 16, 32 or 64", page,
                 (unsigned long long)p->bits);
    else if (p->compression > UINT16_MAX || !load_tiff_codec_accepted((uint16_t)p->compression)) {
        classify_tiff_names_compression(p->compression, codec);
        snprintf(why, n, "page %u uses compression %s, which /overlap does not decode", page,
                 codec);
    } else if (p != first && !classify_stack_same_pixels(p, first)) {
        classify_tiff_names_dtype(first->sample_format, first->bits, dtype0);
        snprintf(why, n,
                 "page %u is %llu x %llu %s, unlike page 0 (%llu x %llu %s): the pages of a "
                 "volume must agree",
                 page, (unsigned long long)p->height, (unsigned long long)p->width, dtype,
                 (unsigned long long)first->height, (unsigned long long)first->width, dtype0);
    } else {
        return false;
    }
    return true;
}

void classify_stack_add_page(struct classify_stack_walk *w, const struct classify_stack_page *p,
                             struct classify_result *out)
{
    uint32_t page = w->pages++;
    if (page == 0)
        w->first = *p;
    const struct classify_stack_page *first = page == 0 ? p : &w->first;
    if (w->refused[0] == '\0')
        classify_stack_refuses(p, first, page, w->refused, sizeof w->refused);
    if (page > 0 && classify_stack_same_series(p, &w->run)) {
        if (out->series_count <= CLASSIFY_SERIES_MAX) /* the run is one of those kept */
            out->series[out->series_count - 1].pages++;
        return;
    }
    w->run = *p;
    if (out->series_count < CLASSIFY_SERIES_MAX)
        classify_stack_series_start(p, page, &out->series[out->series_count]);
    if (out->series_count < UINT32_MAX)
        out->series_count++;
}

/* The value of "key=" on a line of an ImageJ description, or 0. */
static uint64_t classify_stack_imagej_value(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, key, n) == 0 && line[n] == '=' && line[n + 1] >= '0' &&
            line[n + 1] <= '9') {
            return strtoull(line + n + 1, NULL, 10);
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return 0;
}

void classify_stack_finish(const struct classify_stack_walk *w, const char *imagej_text,
                           uint64_t ome_size_z, struct classify_result *out)
{
    struct classify_stack *s = &out->stack;
    memset(s, 0, sizeof *s);
    uint64_t images = 0;
    if (imagej_text != NULL && imagej_text[0] != '\0') {
        images = classify_stack_imagej_value(imagej_text, "images");
        s->slices = classify_stack_imagej_value(imagej_text, "slices");
        s->imagej_channels =
            classify_stack_u32(classify_stack_imagej_value(imagej_text, "channels"));
        s->imagej_frames = classify_stack_u32(classify_stack_imagej_value(imagej_text, "frames"));
    }
    if (images > 1) {
        s->source = CLASSIFY_STACK_IMAGEJ;
    } else if (ome_size_z > 1) {
        s->source = CLASSIFY_STACK_OME;
        s->slices = ome_size_z;
    } else if (w->pages > 1 && out->series_count == 1) {
        s->source = CLASSIFY_STACK_PAGES;
        s->slices = 0;
    } else {
        memset(s, 0, sizeof *s);
        return;
    }
    s->shape[0] = w->pages;
    s->shape[1] = w->first.height;
    s->shape[2] = w->first.width;
    classify_tiff_names_dtype(w->first.sample_format, w->first.bits, s->dtype);
    s->overlap_volume = w->refused[0] == '\0';
    memcpy(s->overlap_detail, w->refused, sizeof s->overlap_detail);
    if (s->overlap_volume && images > w->pages) {
        s->overlap_volume = false;
        snprintf(s->overlap_detail, sizeof s->overlap_detail,
                 "ImageJ says images=%llu but the file has %u pages; /overlap reads pages",
                 (unsigned long long)images, w->pages);
    }
}
