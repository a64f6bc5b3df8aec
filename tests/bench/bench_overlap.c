/*
 * bench_overlap.c - time core/overlap and core/load on files made by bench_overlap.py.
 *
 *   bench_overlap count  A.raw B.raw THREADS REPEATS   in-memory uint32 count + finish
 *   bench_overlap floor  A.raw B.raw THREADS REPEATS   one plain read of both arrays
 *   bench_overlap decode FILE.tif THREADS REPEATS      load_overlap of one TIFF with itself
 *   bench_overlap stream A.tif B.tif THREADS REPEATS   load_overlap (decode + count) + finish
 *
 * .raw files are native uint32 arrays. Prints one JSON object per run: the median and the
 * minimum in milliseconds, plus what was counted, so the caller can check the work was done.
 */
#include "load.h"
#include "overlap.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q;
}

static void *read_all(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    *size = (size_t)st.st_size;
    char *buf = malloc(*size + 1);
    size_t done = 0;
    while (buf != NULL && done < *size) {
        ssize_t r = read(fd, buf + done, *size - done);
        if (r <= 0) {
            fprintf(stderr, "cannot read %s\n", path);
            exit(2);
        }
        done += (size_t)r;
    }
    close(fd);
    return buf;
}

static void die(const struct error_info *err)
{
    fprintf(stderr, "error %s: %s\n", error_code_name(err->code), err->detail);
    exit(1);
}

/* ------------------------------------------------------------------------------------------
 * The memory floor: every byte of both arrays read once, on the same threads.
 */

struct floor_job {
    const uint32_t *a, *b;
    size_t n;
    uint64_t sum;
};

static void *floor_run(void *arg)
{
    struct floor_job *j = arg;
    uint64_t s = 0;
    for (size_t i = 0; i < j->n; i++)
        s += (uint64_t)j->a[i] ^ j->b[i];
    j->sum = s;
    return NULL;
}

static uint64_t floor_read(const uint32_t *a, const uint32_t *b, size_t n, unsigned threads)
{
    struct floor_job jobs[64];
    pthread_t tids[64];
    uint64_t sum = 0;
    for (unsigned t = 0; t < threads; t++) {
        size_t lo = n / threads * t, hi = t + 1 == threads ? n : n / threads * (t + 1);
        jobs[t] = (struct floor_job){.a = a + lo, .b = b + lo, .n = hi - lo};
        if (t > 0)
            pthread_create(&tids[t], NULL, floor_run, &jobs[t]);
    }
    floor_run(&jobs[0]);
    for (unsigned t = 0; t < threads; t++) {
        if (t > 0)
            pthread_join(tids[t], NULL);
        sum += jobs[t].sum;
    }
    return sum;
}

/* ------------------------------------------------------------------------------------------
 * One timed operation per mode
 */

struct bench_ctx {
    const char *mode;
    const char *path_a, *path_b;
    const uint32_t *a, *b;
    size_t n;
    unsigned threads;
    uint64_t work; /* pairs found, bytes decoded or checksum: printed as proof of work */
};

static void run_once(struct bench_ctx *c)
{
    struct error_info err;
    error_init(&err);
    struct overlap_options oopt = {.include_background = true, .threads = c->threads};
    struct overlap_result res;
    if (strcmp(c->mode, "floor") == 0) {
        c->work = floor_read(c->a, c->b, c->n, c->threads);
    } else if (strcmp(c->mode, "count") == 0) {
        struct overlap_counter *k = overlap_counter_new(0, &err);
        if (k == NULL ||
            overlap_counter_add_parallel(k, c->a, OVERLAP_U32, c->b, OVERLAP_U32, c->n, c->threads,
                                         &err) != ERROR_OK ||
            overlap_counter_finish(k, &oopt, &res, &err) != ERROR_OK)
            die(&err);
        c->work = res.n_pairs;
        overlap_result_cleanup(&res);
        overlap_counter_free(k);
    } else {
        struct load_options opt;
        load_options_init(&opt);
        opt.threads = c->threads;
        int fa = open(c->path_a, O_RDONLY);
        struct load_source sa = {.fd = fa, .name = "a"};
        if (strcmp(c->mode, "decode") == 0) {
            /* the page against itself: every band decoded twice (two handles), counted once */
            struct load_info info;
            struct overlap_counter *k = overlap_counter_new(0, &err);
            if (k == NULL || load_overlap(&sa, &sa, &opt, k, &info, NULL, &err) != ERROR_OK)
                die(&err);
            c->work = (uint64_t)info.width * info.height;
            overlap_counter_free(k);
        } else {
            int fb = open(c->path_b, O_RDONLY);
            struct load_source sb = {.fd = fb, .name = "b"};
            struct overlap_counter *k = overlap_counter_new(0, &err);
            if (k == NULL || load_overlap(&sa, &sb, &opt, k, NULL, NULL, &err) != ERROR_OK ||
                overlap_counter_finish(k, &oopt, &res, &err) != ERROR_OK)
                die(&err);
            c->work = res.n_pairs;
            overlap_result_cleanup(&res);
            overlap_counter_free(k);
            close(fb);
        }
        close(fa);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_overlap count|floor A.raw B.raw THREADS REPEATS\n"
                        "       bench_overlap decode FILE.tif THREADS REPEATS\n"
                        "       bench_overlap stream A.tif B.tif THREADS REPEATS\n");
        return 2;
    }
    struct bench_ctx c = {.mode = argv[1], .path_a = argv[2]};
    int next = 3;
    if (strcmp(c.mode, "decode") != 0)
        c.path_b = argv[next++];
    if (argc < next + 2)
        return 2;
    c.threads = (unsigned)strtoul(argv[next], NULL, 10);
    unsigned repeats = (unsigned)strtoul(argv[next + 1], NULL, 10);
    if (c.threads == 0 || c.threads > 64 || repeats == 0 || repeats > 1000)
        return 2;
    void *a = NULL, *b = NULL;
    if (strcmp(c.mode, "count") == 0 || strcmp(c.mode, "floor") == 0) {
        size_t sa, sb;
        a = read_all(c.path_a, &sa);
        b = read_all(c.path_b, &sb);
        if (sa != sb) {
            fprintf(stderr, "arrays differ in size\n");
            return 2;
        }
        c.a = a;
        c.b = b;
        c.n = sa / sizeof(uint32_t);
    }
    double *ms = malloc(repeats * sizeof *ms), *cpu = malloc(repeats * sizeof *cpu);
    run_once(&c); /* warm-up: page faults, caches */
    for (unsigned r = 0; r < repeats; r++) {
        double t0 = now_ms(), c0 = cpu_ms();
        run_once(&c);
        ms[r] = now_ms() - t0;
        cpu[r] = cpu_ms() - c0;
    }
    qsort(ms, repeats, sizeof *ms, cmp_double);
    qsort(cpu, repeats, sizeof *cpu, cmp_double);
    /* cpu_ms (all threads) tells a busy machine apart from a slow routine. */
    printf("{\"mode\": \"%s\", \"threads\": %u, \"median_ms\": %.3f, \"min_ms\": %.3f, "
           "\"cpu_ms\": %.3f, \"work\": %llu}\n",
           c.mode, c.threads, ms[repeats / 2], ms[0], cpu[repeats / 2], (unsigned long long)c.work);
    free(ms);
    free(cpu);
    free(a);
    free(b);
    return 0;
}
