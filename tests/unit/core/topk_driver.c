/*
 * topk_driver.c - runs one core/topk or core/knn call from a binary file, for diff_topk.py.
 *
 * Usage: topk_driver IN OUT. IN (little-endian) is eight int64 header fields
 *   mode (0 values, 1 rows, 2 points), dtype (0 float64, 1 float32), n (values / rows /
 *   points), m (columns, or the point dimension; 1 for values), k, largest, exclude_self,
 *   threads
 * followed by the n * m elements. OUT receives int64 status (enum error_code); when it is 0,
 * count = (values: k; rows, points: n * k) int64 indices then count float64 values or
 * distances; otherwise the error detail as text. Exit status 0 unless the files fail.
 */
#include "knn.h"
#include "topk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DRIVER_VALUES = 0, DRIVER_ROWS = 1, DRIVER_POINTS = 2 };

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)size + 1);
            if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
                free(buf);
                buf = NULL;
            }
            *len = (size_t)size;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: topk_driver IN OUT\n");
        return 2;
    }
    size_t len = 0;
    char *in = read_file(argv[1], &len);
    int64_t h[8];
    if (in == NULL || len < sizeof h) {
        fprintf(stderr, "topk_driver: cannot read %s\n", argv[1]);
        free(in);
        return 2;
    }
    memcpy(h, in, sizeof h);
    size_t n = (size_t)h[2], m = (size_t)h[3], k = (size_t)h[4];
    size_t width = h[1] == 1 ? sizeof(float) : sizeof(double);
    if (len != sizeof h + n * m * width) {
        fprintf(stderr, "topk_driver: %s has %zu bytes, header says %zu\n", argv[1], len,
                sizeof h + n * m * width);
        free(in);
        return 2;
    }
    const void *data = in + sizeof h;
    size_t count = h[0] == DRIVER_VALUES ? k : n * k;
    int64_t *indices = malloc((count + 1) * sizeof *indices);
    double *values = malloc((count + 1) * sizeof *values);
    if (indices == NULL || values == NULL) {
        fprintf(stderr, "topk_driver: no memory\n");
        return 2;
    }
    struct topk_options opt = {h[5] != 0, h[6] != 0, (unsigned)h[7], 0};
    struct error_info err;
    error_init(&err);
    enum error_code rc;
    enum topk_dtype dtype = h[1] == 1 ? TOPK_FLOAT32 : TOPK_FLOAT64;
    if (h[0] == DRIVER_VALUES)
        rc = topk_values(data, dtype, n, k, &opt, indices, values, &err);
    else if (h[0] == DRIVER_ROWS)
        rc = topk_rows(data, dtype, n, m, k, &opt, indices, values, &err);
    else
        rc = knn_points(data, n, (unsigned)m, k, opt.threads, 0, indices, values, &err);

    FILE *out = fopen(argv[2], "wb");
    int status = 0;
    int64_t code = (int64_t)rc;
    if (out == NULL || fwrite(&code, sizeof code, 1, out) != 1)
        status = 2;
    else if (rc == ERROR_OK)
        status = fwrite(indices, sizeof *indices, count, out) == count &&
                         fwrite(values, sizeof *values, count, out) == count
                     ? 0
                     : 2;
    else
        status = fputs(err.detail, out) >= 0 ? 0 : 2;
    if (out != NULL && fclose(out) != 0)
        status = 2;
    free(values);
    free(indices);
    free(in);
    return status;
}
