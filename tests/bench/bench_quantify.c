/*
 * bench_quantify.c - the decode floor of /quantify: every strip of every TIFF file decoded
 * once with libtiff, the files spread over THREADS workers (core/parallel), nothing else.
 *
 *   bench_quantify decode THREADS FILE...    prints "decode_s S bytes N"
 */
#include "clock.h"
#include "parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

struct decode_job {
    char **files;
    unsigned long long bytes[4096];
    int failed;
};

static void decode_one(void *arg, size_t i)
{
    struct decode_job *job = arg;
    TIFF *t = TIFFOpen(job->files[i], "rm");
    if (t == NULL) {
        job->failed = 1;
        return;
    }
    tmsize_t size = TIFFStripSize(t);
    void *buf = malloc((size_t)size);
    for (uint32_t s = 0; buf != NULL && s < TIFFNumberOfStrips(t); s++) {
        tmsize_t got = TIFFReadEncodedStrip(t, s, buf, size);
        if (got < 0)
            job->failed = 1;
        else
            job->bytes[i] += (unsigned long long)got;
    }
    free(buf);
    TIFFClose(t);
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "decode") != 0 || argc - 3 > 4096) {
        fprintf(stderr, "usage: bench_quantify decode THREADS FILE...\n");
        return 2;
    }
    unsigned threads = (unsigned)strtoul(argv[2], NULL, 10);
    struct decode_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return 2;
    job->files = argv + 3;
    const size_t n = (size_t)(argc - 3);
    parallel_budget_set(threads);
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    const int64_t t0 = clock_now_ns();
    parallel_for(n, threads, decode_one, job);
    const double s = (double)(clock_now_ns() - t0) / 1e9;
    unsigned long long total = 0;
    for (size_t i = 0; i < n; i++)
        total += job->bytes[i];
    printf("decode_s %.4f bytes %llu\n", s, total);
    const int failed = job->failed;
    free(job);
    return failed ? 1 : 0;
}
