/* preview_driver.c - run core/preview_tiff on one file, or core/preview_zarr on one Zarr
 * array or NGFF group directory, for diff_preview.py.
 *
 * usage: preview_driver FILE OUT.rgb size level labels(auto|yes|no) boundaries(0|1)
 *        [channels (comma list or -)] [colors (rrggbb comma list or -)] [max_decode]
 * Prints "ok level levels level_w level_h w h labels channels" and writes the raw RGB to
 * OUT.rgb, or prints "error CODE detail" and exits 0 (the error is the answer). */
#include "preview_tiff.h"
#include "preview_zarr.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned parse_list(const char *s, unsigned *out, uint8_t (*colors)[3])
{
    unsigned n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    while (*s && n < PREVIEW_MAX_CHANNELS) {
        char *end;
        unsigned long v = strtoul(s, &end, colors ? 16 : 10);
        if (colors) {
            colors[n][0] = (uint8_t)(v >> 16);
            colors[n][1] = (uint8_t)(v >> 8);
            colors[n][2] = (uint8_t)v;
        } else {
            out[n] = (unsigned)v;
        }
        n++;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: %s FILE OUT size level labels boundaries [channels] [colors] "
                "[max_decode]\n",
                argv[0]);
        return 2;
    }
    struct preview_options o;
    preview_options_init(&o);
    o.size = (uint32_t)strtoul(argv[3], NULL, 10);
    o.level = atoi(argv[4]);
    o.labels = strcmp(argv[5], "yes") == 0  ? PREVIEW_LABELS_YES
               : strcmp(argv[5], "no") == 0 ? PREVIEW_LABELS_NO
                                            : PREVIEW_LABELS_AUTO;
    o.boundaries = atoi(argv[6]) != 0;
    if (argc > 7)
        o.n_channels = parse_list(argv[7], o.channels, NULL);
    if (argc > 8 && parse_list(argv[8], NULL, o.colors) > 0)
        o.have_colors = true;
    if (argc > 9)
        o.max_decode = strtoull(argv[9], NULL, 10);
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    struct preview_image img;
    struct error_info err;
    error_init(&err);
    struct stat st;
    enum error_code rc;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A Zarr array or group: the directory is the root, the path "." beneath it. */
        static struct preview_zarr_choice choice;
        rc = preview_zarr_locate(fd, ".", 1, 1 << 20, &o, &choice, &err);
        if (rc == ERROR_OK)
            rc = preview_zarr_render(fd, &choice, &o, &img, &err);
    } else {
        rc = preview_tiff_render(fd, "image", &o, &img, &err);
    }
    close(fd);
    if (rc != ERROR_OK) {
        printf("error %s %s\n", error_code_name(rc), err.detail);
        return 0;
    }
    FILE *f = fopen(argv[2], "wb");
    if (f == NULL ||
        fwrite(img.rgb, 3, (size_t)img.width * img.height, f) != (size_t)img.width * img.height) {
        perror(argv[2]);
        return 2;
    }
    fclose(f);
    printf("ok %u %u %u %u %u %u %d %u %u\n", img.level, img.levels, img.level_width,
           img.level_height, img.width, img.height, img.labels, img.channels, img.stride);
    preview_image_cleanup(&img);
    return 0;
}
