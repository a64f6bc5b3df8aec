/*
 * overlap_driver.c - count the label pairs of two TIFF pages with core/load + core/overlap and
 * print them, for diff_overlap.py to compare with numpy.
 *
 * usage: overlap_driver [--threads N] [--page-a N] [--page-b N] [--memory] [--iou]
 *                       [--no-background] [--max-pairs N] A.tif B.tif
 * --memory reads both files into memory first (the upload path). Output on success:
 *   shape H W / labels LA LB / pixels P / pairs N / N lines "a b count [iou]" /
 *   areas_a N / N lines "label area" / areas_b ...
 * Floats are printed with %.17g so they round-trip exactly. On failure: "error NAME: detail"
 * and exit status 1.
 */
#include "load.h"
#include "overlap.h"

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
    size_t n = (size_t)st.st_size, done = 0;
    unsigned char *buf = malloc(n + 1);
    while (buf != NULL && done < n) {
        ssize_t r = read(fd, buf + done, n - done);
        if (r <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        done += (size_t)r;
    }
    close(fd);
    *size = n;
    return buf;
}

static int fail(const struct error_info *err)
{
    printf("error %s: %s\n", error_code_name(err->code), err->detail);
    return 1;
}

static void print_labels(const char *title, const struct overlap_labels *l)
{
    printf("%s %zu\n", title, l->n);
    for (size_t i = 0; i < l->n; i++)
        printf("%llu %llu\n", (unsigned long long)l->label[i], (unsigned long long)l->area[i]);
}

int main(int argc, char **argv)
{
    struct load_options opt;
    load_options_init(&opt);
    struct overlap_options oopt = {.include_background = true};
    unsigned page_a = 0, page_b = 0;
    unsigned long long max_pairs = 0;
    int memory = 0, argi = 1;
    for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
        const char *o = argv[argi];
        const char *v = argi + 1 < argc ? argv[argi + 1] : "0";
        if (strcmp(o, "--threads") == 0)
            opt.threads = (unsigned)strtoul(v, NULL, 10), argi++;
        else if (strcmp(o, "--page-a") == 0)
            page_a = (unsigned)strtoul(v, NULL, 10), argi++;
        else if (strcmp(o, "--page-b") == 0)
            page_b = (unsigned)strtoul(v, NULL, 10), argi++;
        else if (strcmp(o, "--max-pairs") == 0)
            max_pairs = strtoull(v, NULL, 10), argi++;
        else if (strcmp(o, "--memory") == 0)
            memory = 1;
        else if (strcmp(o, "--iou") == 0)
            oopt.iou = true;
        else if (strcmp(o, "--no-background") == 0)
            oopt.include_background = false;
        else {
            fprintf(stderr, "unknown option %s\n", o);
            return 2;
        }
    }
    if (argc - argi != 2) {
        fprintf(stderr, "usage: overlap_driver [options] A.tif B.tif\n");
        return 2;
    }
    struct load_source src[2];
    void *data[2] = {NULL, NULL};
    int fds[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        const char *path = argv[argi + i];
        memset(&src[i], 0, sizeof src[i]);
        src[i].name = i == 0 ? "a" : "b";
        src[i].page = i == 0 ? page_a : page_b;
        src[i].fd = -1;
        if (memory) {
            data[i] = read_file(path, &src[i].size);
            src[i].data = data[i];
        } else {
            fds[i] = open(path, O_RDONLY | O_CLOEXEC);
            src[i].fd = fds[i];
        }
        if ((memory && data[i] == NULL) || (!memory && fds[i] < 0)) {
            fprintf(stderr, "cannot read %s\n", path);
            return 2;
        }
    }
    struct error_info err;
    error_init(&err);
    int status = 0;
    struct overlap_result res;
    memset(&res, 0, sizeof res);
    struct load_info ia, ib;
    struct overlap_counter *c = overlap_counter_new(max_pairs, &err);
    if (c == NULL || load_overlap(&src[0], &src[1], &opt, c, &ia, &ib, &err) != ERROR_OK ||
        overlap_counter_finish(c, &oopt, &res, &err) != ERROR_OK) {
        status = fail(&err);
        goto out;
    }
    printf("shape %u %u\n", ia.height, ia.width);
    printf("labels %llu %llu\n", (unsigned long long)res.labels_a,
           (unsigned long long)res.labels_b);
    printf("pixels %llu\n", (unsigned long long)res.pixels);
    printf("pairs %zu\n", res.n_pairs);
    for (size_t i = 0; i < res.n_pairs; i++) {
        printf("%llu %llu %llu", (unsigned long long)res.a[i], (unsigned long long)res.b[i],
               (unsigned long long)res.count[i]);
        if (res.iou != NULL)
            printf(" %.17g", res.iou[i]);
        printf("\n");
    }
    print_labels("areas_a", &res.areas_a);
    print_labels("areas_b", &res.areas_b);
out:
    overlap_result_cleanup(&res);
    overlap_counter_free(c);
    for (int i = 0; i < 2; i++) {
        free(data[i]);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    return status;
}
