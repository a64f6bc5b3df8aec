/*
 * bench_classify.c - time core classification over a list of files, cold and cached.
 *
 * Usage: bench_classify REPS FILE...
 * Prints one JSON object: median microseconds per file over REPS passes for
 *   cold:      open + cache_lookup (miss) + classify_fd + cache_insert + close, new cache
 *              each pass (the OS page cache is warm: this is our parsing cost);
 *   warm:      open + cache_lookup (hit) + close, the cost a cached request pays in core;
 *   hit_only:  cache_lookup on an already-open descriptor (one fstat + the LRU hit);
 *   fstat:     a bare fstat on the same descriptors, the floor hit_only cannot go below.
 * Files that fail to classify are counted in "errors". Driven by bench_classify.py.
 */
#include "cache.h"
#include "classify.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pass over every file: open, lookup, classify on a miss, insert, close. */
static unsigned pass(struct cache *c, char **files, int n)
{
    unsigned errors = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            errors++;
            continue;
        }
        struct stat st;
        struct classify_result r;
        struct timespec seen;
        cache_now(&seen);
        if (!cache_lookup(c, fd, &st, &r)) {
            struct error_info err;
            if (classify_fd(fd, &st, NULL, &r, &err) == ERROR_OK)
                cache_insert(c, &st, &seen, &r);
            else
                errors++;
        }
        close(fd);
    }
    return errors;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s REPS FILE...\n", argv[0]);
        return 2;
    }
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    int reps = atoi(argv[1]);
    if (reps < 1)
        reps = 1;
    char **files = argv + 2;
    int n = argc - 2;
    double *cold = calloc((size_t)reps, sizeof *cold);
    double *warm = calloc((size_t)reps, sizeof *warm);
    double *hit = calloc((size_t)reps, sizeof *hit);
    double *bare = calloc((size_t)reps, sizeof *bare);
    int *fds = calloc((size_t)n, sizeof *fds);
    if (cold == NULL || warm == NULL || hit == NULL || bare == NULL || fds == NULL)
        return 2;
    unsigned errors = 0;
    struct error_info err;
    for (int r = 0; r < reps; r++) {
        struct cache *c;
        if (cache_new((size_t)n + 1, 0, &c, &err) != ERROR_OK)
            return 2;
        double t0 = now_us();
        errors = pass(c, files, n);
        cold[r] = (now_us() - t0) / n;
        cache_free(c);
    }
    struct cache *c;
    if (cache_new((size_t)n + 1, 0, &c, &err) != ERROR_OK)
        return 2;
    pass(c, files, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now_us();
        pass(c, files, n);
        warm[r] = (now_us() - t0) / n;
    }
    for (int i = 0; i < n; i++)
        fds[i] = open(files[i], O_RDONLY | O_CLOEXEC);
    unsigned misses = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++) {
            struct stat st;
            struct classify_result res;
            if (!cache_lookup(c, fds[i], &st, &res))
                misses++;
        }
        hit[r] = (now_us() - t0) / n;
        t0 = now_us();
        for (int i = 0; i < n; i++) {
            struct stat st;
            if (fstat(fds[i], &st) != 0)
                misses++;
        }
        bare[r] = (now_us() - t0) / n;
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    struct cache_stats s;
    cache_get_stats(c, &s);
    cache_free(c);
    printf("{\"files\": %d, \"reps\": %d, \"errors\": %u, \"cold_us\": %.3f, \"warm_us\": %.3f, "
           "\"hit_only_us\": %.3f, \"fstat_us\": %.3f, \"hit_only_misses\": %u, \"hits\": %llu}\n",
           n, reps, errors, median(cold, reps), median(warm, reps), median(hit, reps),
           median(bare, reps), misses, (unsigned long long)s.hits);
    free(cold);
    free(warm);
    free(hit);
    free(bare);
    free(fds);
    return 0;
}
