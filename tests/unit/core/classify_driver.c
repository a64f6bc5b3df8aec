/*
 * classify_driver.c - print core/classify.c's answer for each path on the command line, one
 * JSON object per line, for diff_classify.py to compare with tifffile and OpenSlide.
 * Strings are printed with JSON escaping; the detail of an error is included.
 */
#include "classify.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

static void put_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void put_nullable(const char *key, const char *s)
{
    printf(", \"%s\": ", key);
    if (s == NULL || s[0] == '\0')
        printf("null");
    else
        put_string(s);
}

static void put_uints(const char *key, const uint64_t *v, unsigned n)
{
    printf(", \"%s\": [", key);
    for (unsigned i = 0; i < n; i++)
        printf(i ? ", %llu" : "%llu", (unsigned long long)v[i]);
    printf("]");
}

/* The Zarr layout as the HTTP answer spells it (handlers/classify_json.c), or null. */
static void put_zarr(const struct classify_zarr *z)
{
    printf(", \"zarr\": ");
    if (z->zarr_format == 0) {
        printf("null");
        return;
    }
    printf("{\"zarr_format\": %u, \"node_type\": \"%s\"", z->zarr_format,
           z->is_group ? "group" : "array");
    if (z->ndim > 0) {
        char order[2] = {z->order, 0}, sep[2] = {z->separator, 0};
        put_nullable("path", z->array_path);
        put_uints("shape", z->shape, z->ndim);
        put_uints("chunks", z->chunks, z->ndim);
        printf(", \"axes\": [");
        for (unsigned i = 0; i < z->ndim; i++) {
            printf(i ? ", " : "");
            put_string(z->axes[i]);
        }
        printf("]");
        put_nullable("dtype", z->dtype_raw);
        put_nullable("order", order);
        put_nullable("dimension_separator", sep);
        put_nullable("chunk_key_encoding", z->chunk_key_encoding);
        printf(", \"fill_value\": ");
        if (z->fill_value[0] == '\0')
            printf("null");
        else if (z->fill_is_string)
            put_string(z->fill_value);
        else
            printf("%s", z->fill_value);
        put_nullable("codec", z->codec);
        printf(", \"codecs\": [");
        for (unsigned i = 0; i < z->codec_count; i++) {
            printf(i ? ", " : "");
            put_string(z->codecs[i]);
        }
        printf("], \"sharded\": %s", z->sharded ? "true" : "false");
        if (z->sharded)
            put_uints("inner_chunks", z->inner_chunks, z->ndim);
        printf(", \"overlap\": %s", z->overlap_ok ? "true" : "false");
        put_nullable("overlap_detail", z->overlap_detail);
    }
    printf(", \"levels\": [");
    for (unsigned i = 0; i < z->level_count; i++) {
        printf(i ? ", {\"path\": " : "{\"path\": ");
        put_string(z->levels[i].path);
        put_uints("shape", z->levels[i].shape, z->levels[i].ndim);
        printf("}");
    }
    printf("], \"label_names\": [");
    for (unsigned i = 0; i < z->label_name_count; i++) {
        printf(i ? ", " : "");
        put_string(z->label_names[i]);
    }
    printf("]}");
}

/* The TIFF series and stack, as the HTTP answer spells them. */
static void put_stack(const struct classify_result *r)
{
    printf(", \"series_count\": %u, \"series\": [", r->series_count);
    for (unsigned i = 0; i < r->series_count && i < CLASSIFY_SERIES_MAX; i++) {
        const struct classify_tiff_series *s = &r->series[i];
        printf(i ? ", " : "");
        printf("{\"first_page\": %u, \"pages\": %u, \"width\": %llu, \"height\": %llu",
               s->first_page, s->pages, (unsigned long long)s->width,
               (unsigned long long)s->height);
        put_nullable("dtype", s->dtype);
        put_nullable("compression", s->compression);
        printf(", \"layout\": \"%s\", \"tile_width\": %u, \"tile_height\": %u, "
               "\"rows_per_strip\": %u}",
               s->tiled ? "tiles" : "strips", s->tile_width, s->tile_height, s->rows_per_strip);
    }
    printf("], \"stack\": ");
    const struct classify_stack *st = &r->stack;
    if (st->source == CLASSIFY_STACK_NONE) {
        printf("null");
        return;
    }
    printf("{\"source\": \"%s\"", classify_stack_source_name(st->source));
    put_uints("shape", st->shape, 3);
    put_nullable("dtype", st->dtype);
    printf(", \"slices\": %llu, \"overlap_volume\": %s", (unsigned long long)st->slices,
           st->overlap_volume ? "true" : "false");
    put_nullable("overlap_detail", st->overlap_detail);
    printf("}");
}

int main(int argc, char **argv)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    for (int i = 1; i < argc; i++) {
        struct classify_result r;
        struct error_info err;
        error_init(&err);
        printf("{\"path\": ");
        put_string(argv[i]);
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            printf(", \"error\": \"io\", \"detail\": \"cannot open\"}\n");
            continue;
        }
        enum error_code rc = classify_fd(fd, NULL, NULL, &r, &err);
        close(fd);
        if (rc != ERROR_OK) {
            printf(", \"error\": \"%s\", \"detail\": ", error_code_name(rc));
            put_string(err.detail);
            printf("}\n");
            continue;
        }
        printf(", \"container\": \"%s\"", classify_container_name(r.container));
        put_nullable("format", r.format);
        put_nullable("vendor", r.vendor);
        put_nullable("dtype", r.dtype);
        put_nullable("compression", r.compression);
        put_nullable("reader", classify_reader_name(r.reader));
        put_nullable("img_type", classify_img_type_name(r.img_type));
        printf(", \"is_ome\": %s, \"is_bigtiff\": %s, \"is_imagej\": %s, \"tiled\": %s",
               r.is_ome ? "true" : "false", r.is_bigtiff ? "true" : "false",
               r.is_imagej ? "true" : "false", r.tiled ? "true" : "false");
        printf(", \"can_use_openslide\": %s, \"can_use_vips\": %s",
               r.can_use_openslide ? "true" : "false", r.can_use_vips ? "true" : "false");
        put_nullable("vendor_detector", r.vendor_detector);
        printf(", \"associated_images\": [");
        for (unsigned bit = 1, n = 0; bit <= CLASSIFY_ASSOCIATED_MACRO; bit <<= 1) {
            if ((r.associated & bit) == 0)
                continue;
            printf(n++ ? ", " : "");
            put_string(classify_associated_name(bit));
        }
        printf("], \"warnings\": [");
        for (unsigned k = 0; k < r.warning_count; k++) {
            printf(k ? ", " : "");
            put_string(r.warnings[k]);
        }
        printf("], \"physical_size\": ");
        if (r.physical.source[0] == '\0') {
            printf("null");
        } else {
            printf("{\"source\": ");
            put_string(r.physical.source);
            for (int a = 0; a < 3; a++) {
                printf(", \"%c\": ", "xyz"[a]);
                if (r.physical.size[a] > 0)
                    printf("%.17g", r.physical.size[a]);
                else
                    printf("null");
                printf(", \"unit_%c\": ", "xyz"[a]);
                put_string(r.physical.size[a] > 0 ? r.physical.unit[a] : "");
            }
            printf("}");
        }
        printf(", \"size_z\": %llu, \"size_t\": %llu", (unsigned long long)r.size_z,
               (unsigned long long)r.size_t_);
        put_nullable("dimension_order", r.dimension_order);
        printf(", \"labels\": [");
        for (unsigned k = 0; k < r.label_count; k++) {
            printf(k ? ", {\"name\": " : "{\"name\": ");
            put_string(r.labels[k].name);
            printf(", \"image_label\": %s, \"colors\": %u, \"source\": ",
                   r.labels[k].image_label ? "true" : "false", r.labels[k].colors);
            put_string(r.labels[k].source);
            printf("}");
        }
        printf("]");
        printf(", \"channel_names\": [");
        for (unsigned k = 0; k < r.channel_name_count; k++) {
            printf(k ? ", " : "");
            put_string(r.channel_names[k]);
        }
        printf("]");
        put_zarr(&r.zarr);
        put_stack(&r);
        printf(", \"width\": %llu, \"height\": %llu, \"channels\": %u, \"tile_width\": %u, "
               "\"tile_height\": %u, \"pages\": %u, \"levels\": %u}\n",
               (unsigned long long)r.width, (unsigned long long)r.height, r.channels, r.tile_width,
               r.tile_height, r.pages, r.levels);
    }
    return 0;
}
