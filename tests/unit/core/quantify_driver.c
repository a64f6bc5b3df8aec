/*
 * quantify_driver.c - quantify a label image against channels with core/load_quantify and
 * print the table, for diff_quantify.py to compare with skimage's regionprops_table.
 *
 * usage: quantify_driver [--threads N] [--max-labels N] [--values-max BYTES] LABELS CHANNEL...
 * --values-max also computes median and Gini in value passes of at most BYTES (0 = default).
 * Each input is FILE.npy (read into memory), FILE.tif or FILE.tif:PAGE (a TIFF page, read by
 * descriptor). Output on success: "labels N channels C", then one line per label:
 *   label area cy cx r0 c0 r1 c1 major minor ecc orient solidity extent perimeter convex_area
 *   then mean sum min max std median gini for every channel (NaN without --values-max).
 * Floats are printed with %.17g. On failure: "error NAME: detail" and exit status 1.
 */
#include "load_quantify.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *read_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (buf != NULL && read(fd, buf, n) != (ssize_t)n) {
        free(buf);
        buf = NULL;
    }
    close(fd);
    *size = n;
    return buf;
}

/* Fill src from a command-line input; false when it cannot be opened. */
static int open_input(char *arg, struct load_source *src)
{
    memset(src, 0, sizeof *src);
    src->name = arg;
    const size_t len = strlen(arg);
    if (len > 4 && strcmp(arg + len - 4, ".npy") == 0) {
        src->kind = LOAD_NPY;
        src->fd = -1;
        src->data = read_file(arg, &src->size);
        return src->data != NULL;
    }
    char *colon = strrchr(arg, ':');
    char path[4096];
    snprintf(path, sizeof path, "%s", arg);
    if (colon != NULL) {
        path[colon - arg] = '\0';
        src->page = (unsigned)strtoul(colon + 1, NULL, 10);
    }
    src->kind = LOAD_TIFF;
    src->fd = open(path, O_RDONLY);
    return src->fd >= 0;
}

int main(int argc, char **argv)
{
    struct load_options opt;
    load_options_init(&opt);
    struct load_quantify_options qo = {0};
    int argi = 1;
    for (; argi + 1 < argc && strncmp(argv[argi], "--", 2) == 0; argi += 2) {
        if (strcmp(argv[argi], "--threads") == 0)
            opt.threads = (unsigned)strtoul(argv[argi + 1], NULL, 10);
        else if (strcmp(argv[argi], "--max-labels") == 0)
            qo.max_labels = strtoull(argv[argi + 1], NULL, 10);
        else if (strcmp(argv[argi], "--values-max") == 0) {
            qo.values = true;
            qo.values_max = (size_t)strtoull(argv[argi + 1], NULL, 10);
        }
    }
    if (argi >= argc) {
        fprintf(stderr, "usage: quantify_driver [--threads N] LABELS CHANNEL...\n");
        return 2;
    }
    const size_t n = (size_t)(argc - argi);
    struct load_source *src = calloc(n, sizeof *src);
    if (src == NULL)
        return 2;
    for (size_t i = 0; i < n; i++)
        if (!open_input(argv[argi + (int)i], &src[i])) {
            fprintf(stderr, "cannot open %s\n", argv[argi + (int)i]);
            return 2;
        }
    struct quantify_table t;
    struct error_info err;
    error_init(&err);
    int status = 0;
    if (load_quantify(&src[0], src + 1, n - 1, &qo, &opt, &t, NULL, NULL, &err) != ERROR_OK) {
        printf("error %s: %s\n", error_code_name(err.code), err.detail);
        status = 1;
    } else {
        printf("labels %zu channels %zu\n", t.labels, t.channels);
        for (size_t r = 0; r < t.labels; r++) {
            const struct quantify_shape *s = &t.shape[r];
            printf("%llu %llu %.17g %.17g %u %u %u %u %.17g %.17g %.17g %.17g %.17g %.17g %.17g "
                   "%llu",
                   (unsigned long long)t.label[r], (unsigned long long)s->area, s->centroid_y,
                   s->centroid_x, s->bbox[0], s->bbox[1], s->bbox[2], s->bbox[3],
                   s->major_axis_length, s->minor_axis_length, s->eccentricity, s->orientation,
                   s->solidity, s->extent, s->perimeter, (unsigned long long)s->convex_area);
            for (size_t c = 0; c < t.channels; c++) {
                const struct quantify_stats *q = &t.stats[r * t.channels + c];
                printf(" %.17g %.17g %.17g %.17g %.17g %.17g %.17g", q->mean, q->sum, q->min,
                       q->max, q->std, q->median, q->gini);
            }
            printf("\n");
        }
        quantify_table_cleanup(&t);
    }
    for (size_t i = 0; i < n; i++) {
        if (src[i].fd >= 0 && src[i].kind == LOAD_TIFF)
            close(src[i].fd);
        free((void *)src[i].data);
    }
    free(src);
    return status;
}
