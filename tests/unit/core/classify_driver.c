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
        printf(", \"width\": %llu, \"height\": %llu, \"channels\": %u, \"tile_width\": %u, "
               "\"tile_height\": %u, \"pages\": %u, \"levels\": %u}\n",
               (unsigned long long)r.width, (unsigned long long)r.height, r.channels, r.tile_width,
               r.tile_height, r.pages, r.levels);
    }
    return 0;
}
