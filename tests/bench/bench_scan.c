/*
 * bench_scan.c - time the core scanner (scan_tree) on a directory the caller prepared.
 *
 * usage: bench_scan DIR [-r] [-S] [-d MAX_DEPTH] [-t THREADS] [--repeat N] [--no-warmup]
 *   DIR is opened as the data root and scanned from its top; -r recursive, -S no stat,
 *   -t threads for the stat pass (default 1).
 * Runs one untimed warm-up (unless --no-warmup), then N timed calls (default 11), and
 * prints one line:
 *   median_ms=<ms> min_ms=<ms> cpu_median_ms=<ms> cpu_min_ms=<ms> count=<entries>
 *   size_sum=<bytes> errors=<n> truncated=<0|1>
 * (cpu: the process's CPU time per call, all threads together).
 * so tests/bench/bench_scan.py can read it. Not a test: it never fails on speed.
 */
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_scan DIR [-r] [-S] [-d MAX_DEPTH] [-t N] [--repeat N] "
                        "[--no-warmup]\n");
        return 2;
    }
    struct scan_options opt;
    scan_options_init(&opt);
    int repeat = 11;
    int first = -1; /* -1: one untimed warm-up call first */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0)
            opt.recursive = true;
        else if (strcmp(argv[i], "-S") == 0)
            opt.want_stat = false;
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            opt.max_depth = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            opt.threads = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-warmup") == 0)
            first = 0;
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_scan: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000) {
        fprintf(stderr, "bench_scan: --repeat must be 1..1000\n");
        return 2;
    }
    int root_fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(argv[1]);
        return 2;
    }
    double *times = calloc((size_t)repeat, sizeof *times);
    double *cpu = calloc((size_t)repeat, sizeof *cpu);
    if (times == NULL || cpu == NULL)
        return 2;
    size_t count = 0, errors = 0;
    unsigned long long size_sum = 0;
    int truncated = 0;
    for (int r = first; r < repeat; r++) {
        struct scan_result *res = NULL;
        struct error_info err;
        error_init(&err);
        double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        double t0 = now_ms(CLOCK_MONOTONIC);
        enum error_code rc = scan_tree(root_fd, "", 0, &opt, &res, &err);
        double t1 = now_ms(CLOCK_MONOTONIC);
        double c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (rc != ERROR_OK) {
            fprintf(stderr, "bench_scan: %s: %s\n", error_code_name(rc), err.detail);
            return 1;
        }
        if (r >= 0) {
            times[r] = t1 - t0;
            cpu[r] = c1 - c0;
        }
        count = res->count;
        errors = res->error_count;
        truncated = res->truncated;
        size_sum = 0;
        for (size_t i = 0; i < res->count; i++)
            size_sum += res->entries[i].size;
        scan_result_free(res);
    }
    qsort(times, (size_t)repeat, sizeof *times, compare_double);
    qsort(cpu, (size_t)repeat, sizeof *cpu, compare_double);
    printf("median_ms=%.3f min_ms=%.3f cpu_median_ms=%.3f cpu_min_ms=%.3f count=%zu "
           "size_sum=%llu errors=%zu truncated=%d\n",
           times[repeat / 2], times[0], cpu[repeat / 2], cpu[0], count, size_sum, errors,
           truncated);
    free(cpu);
    free(times);
    close(root_fd);
    return 0;
}
