/*
 * bench_topk.c - time core/topk and core/knn on the data bench_topk.py writes.
 *
 *   bench_topk DIR THREADS REPEATS [FILTER]
 *
 * DIR holds native-endian float64 files: values.f64 (10^7 values; the first n are used for
 * smaller n), rows.f64 (5000 x 5000), points_uniform.f64 and points_clustered.f64 (10^6 x 2;
 * the first 10^5 rows for the small case). DIR "-" generates uniform data here instead.
 * Cases: values n = 10^4, 10^6, 10^7 with k = 10 and 1000 (smallest); n = 10^7, k = 10 on one
 * thread; a plain parallel sum of the 10^7 values (the C memory floor); rows 5000 x 5000,
 * k = 10, exclude_self; points uniform / clustered, 10^5 and 10^6, k = 10; and 10^6 uniform
 * points with freshly allocated outputs each run (what a request pays, page faults included).
 * Output buffers are otherwise allocated once and reused: the core's time alone.
 * FILTER runs only the case of that name (and loads only its data), so a caller
 * can alternate core and reference runs of one case on a machine whose load varies.
 * Prints one JSON object per case: median and minimum milliseconds over REPEATS samples (a
 * sample of a fast case is the mean of enough calls to last about 5 ms), and a checksum of
 * the answer so the caller can see the work was done.
 */
#include "check.h"
#include "knn.h"
#include "topk.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_VALUES  10000000u
#define BENCH_ROWS    5000u
#define BENCH_POINTS  1000000u
#define BENCH_MAX_REP 101

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q;
}

static double *load(const char *dir, const char *name, size_t count)
{
    double *buf = malloc(count * sizeof *buf);
    if (buf == NULL) {
        fprintf(stderr, "bench_topk: no memory\n");
        exit(2);
    }
    if (strcmp(dir, "-") == 0) {
        uint64_t rng_state = strlen(name);
        for (size_t i = 0; i < count; i++)
            buf[i] = check_rng_double(&rng_state);
        return buf;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL || fread(buf, sizeof *buf, count, f) != count) {
        fprintf(stderr, "bench_topk: cannot read %zu values from %s\n", count, path);
        exit(2);
    }
    fclose(f);
    return buf;
}

/* ---- one case ---------------------------------------------------------------------------
 * A case is a function of its argument record that returns a checksum; time_case runs it
 * once to warm up, picks an inner count, then takes `repeats` samples. */

struct bench_args {
    const double *x;
    size_t n, m, k;
    unsigned threads;
    bool exclude_self;
    bool fresh_outputs;
    int64_t *indices;
    double *values;
};

typedef double (*bench_fn)(struct bench_args *a);

static void fail(const struct error_info *err)
{
    fprintf(stderr, "bench_topk: %s: %s\n", error_code_name(err->code), err->detail);
    exit(2);
}

static double run_values(struct bench_args *a)
{
    struct topk_options opt = {false, false, a->threads, 0};
    struct error_info err;
    if (topk_values(a->x, TOPK_FLOAT64, a->n, a->k, &opt, a->indices, a->values, &err) != ERROR_OK)
        fail(&err);
    return (double)a->indices[0] + (double)a->indices[a->k - 1];
}

static double run_rows(struct bench_args *a)
{
    struct topk_options opt = {false, a->exclude_self, a->threads, 0};
    struct error_info err;
    if (topk_rows(a->x, TOPK_FLOAT64, a->n, a->m, a->k, &opt, a->indices, a->values, &err) !=
        ERROR_OK)
        fail(&err);
    return (double)a->indices[0] + (double)a->indices[a->n * a->k - 1];
}

static double run_points(struct bench_args *a)
{
    struct error_info err;
    int64_t *indices = a->indices;
    double *distances = a->values;
    if (a->fresh_outputs) {
        indices = malloc(a->n * a->k * sizeof *indices);
        distances = malloc(a->n * a->k * sizeof *distances);
        if (indices == NULL || distances == NULL) {
            fprintf(stderr, "bench_topk: no memory\n");
            exit(2);
        }
    }
    if (knn_points(a->x, a->n, (unsigned)a->m, a->k, a->threads, 0, indices, distances, &err) !=
        ERROR_OK)
        fail(&err);
    double check = (double)indices[0] + distances[a->n * a->k - 1];
    if (a->fresh_outputs) {
        free(indices);
        free(distances);
    }
    return check;
}

/* The memory floor: every value read once, summed, on the same threads. */
struct sum_part {
    const double *x;
    size_t n;
    double sum;
};

static void *sum_main(void *arg)
{
    struct sum_part *p = arg;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= p->n; i += 4) {
        s0 += p->x[i];
        s1 += p->x[i + 1];
        s2 += p->x[i + 2];
        s3 += p->x[i + 3];
    }
    for (; i < p->n; i++)
        s0 += p->x[i];
    p->sum = (s0 + s1) + (s2 + s3);
    return NULL;
}

static double run_sum(struct bench_args *a)
{
    struct sum_part parts[64];
    pthread_t tid[64];
    unsigned t = a->threads < 1 ? 1 : (a->threads > 64 ? 64 : a->threads);
    for (unsigned i = 0; i < t; i++) {
        parts[i].x = a->x + a->n / t * i;
        parts[i].n = i + 1 == t ? a->n - a->n / t * i : a->n / t;
    }
    for (unsigned i = 1; i < t; i++)
        if (pthread_create(&tid[i], NULL, sum_main, &parts[i]) != 0)
            exit(2);
    sum_main(&parts[0]);
    double s = parts[0].sum;
    for (unsigned i = 1; i < t; i++) {
        pthread_join(tid[i], NULL);
        s += parts[i].sum;
    }
    return s;
}

static void time_case(const char *name, bench_fn fn, struct bench_args *a, int repeats)
{
    double t0 = now_ms();
    double check = fn(a);
    double once = now_ms() - t0;
    int inner = once > 0 && once < 5.0 ? (int)(5.0 / once) + 1 : 1;
    if (inner > 10000)
        inner = 10000;
    double samples[BENCH_MAX_REP];
    for (int r = 0; r < repeats; r++) {
        t0 = now_ms();
        for (int i = 0; i < inner; i++)
            check += fn(a) * 1e-30;
        samples[r] = (now_ms() - t0) / inner;
    }
    qsort(samples, (size_t)repeats, sizeof samples[0], cmp_double);
    printf("{\"case\": \"%s\", \"threads\": %u, \"median_ms\": %.4f, \"min_ms\": %.4f, "
           "\"inner\": %d, \"check\": %.17g}\n",
           name, a->threads, samples[repeats / 2], samples[0], inner, check);
    fflush(stdout);
}

static bool wanted(const char *filter, const char *name)
{
    return filter == NULL || strcmp(name, filter) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: bench_topk DIR THREADS REPEATS [FILTER]\n");
        return 2;
    }
    const char *dir = argv[1];
    unsigned threads = (unsigned)atoi(argv[2]);
    int repeats = atoi(argv[3]);
    const char *filter = argc == 5 ? argv[4] : NULL;
    if (repeats < 1 || repeats > BENCH_MAX_REP || threads < 1) {
        fprintf(stderr, "bench_topk: THREADS >= 1, 1 <= REPEATS <= %d\n", BENCH_MAX_REP);
        return 2;
    }
    size_t out_count = (size_t)BENCH_POINTS * 10;
    int64_t *indices = malloc(out_count * sizeof *indices);
    double *out_values = malloc(out_count * sizeof *out_values);
    if (indices == NULL || out_values == NULL)
        return 2;
    memset(indices, 0, out_count * sizeof *indices);
    memset(out_values, 0, out_count * sizeof *out_values);
    double *values = NULL, *rows = NULL, *uniform = NULL, *clustered = NULL;

    char name[128];
    static const size_t ns[] = {10000, 1000000, BENCH_VALUES};
    static const size_t ks[] = {10, 1000};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 2; j++) {
            snprintf(name, sizeof name, "values n=%zu k=%zu", ns[i], ks[j]);
            if (!wanted(filter, name))
                continue;
            values = values != NULL ? values : load(dir, "values.f64", BENCH_VALUES);
            struct bench_args a = {values, ns[i], 1,       ks[j],     threads,
                                   false,  false, indices, out_values};
            time_case(name, run_values, &a, repeats);
        }
    if (wanted(filter, "values n=10000000 k=10 1thread")) {
        values = values != NULL ? values : load(dir, "values.f64", BENCH_VALUES);
        struct bench_args a = {values, BENCH_VALUES, 1, 10, 1, false, false, indices, out_values};
        time_case("values n=10000000 k=10 1thread", run_values, &a, repeats);
    }
    if (wanted(filter, "floor sum n=10000000")) {
        values = values != NULL ? values : load(dir, "values.f64", BENCH_VALUES);
        struct bench_args a = {values, BENCH_VALUES, 1, 0, threads, false, false, NULL, NULL};
        time_case("floor sum n=10000000", run_sum, &a, repeats);
    }
    if (wanted(filter, "rows 5000x5000 k=10 exclude_self")) {
        rows = load(dir, "rows.f64", (size_t)BENCH_ROWS * BENCH_ROWS);
        struct bench_args a = {rows, BENCH_ROWS, BENCH_ROWS, 10,        threads,
                               true, false,      indices,    out_values};
        time_case("rows 5000x5000 k=10 exclude_self", run_rows, &a, repeats);
    }
    static const size_t pn[] = {100000, BENCH_POINTS};
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "points %s n=%zu k=10", c ? "clustered" : "uniform", pn[i]);
            if (!wanted(filter, name))
                continue;
            double **slot = c ? &clustered : &uniform;
            if (*slot == NULL)
                *slot = load(dir, c ? "points_clustered.f64" : "points_uniform.f64",
                             (size_t)BENCH_POINTS * 2);
            struct bench_args a = {*slot, pn[i], 2, 10, threads, false, false, indices, out_values};
            time_case(name, run_points, &a, repeats);
        }
    if (wanted(filter, "points uniform n=1000000 k=10 fresh-outputs")) {
        uniform =
            uniform != NULL ? uniform : load(dir, "points_uniform.f64", (size_t)BENCH_POINTS * 2);
        struct bench_args a = {uniform, BENCH_POINTS, 2, 10, threads, false, true, NULL, NULL};
        time_case("points uniform n=1000000 k=10 fresh-outputs", run_points, &a, repeats);
    }

    free(out_values);
    free(indices);
    free(clustered);
    free(uniform);
    free(rows);
    free(values);
    return 0;
}
