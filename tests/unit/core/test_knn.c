/*
 * test_knn.c - core/knn.c against brute force.
 *
 * The reference computes every squared distance with the same expression the contract
 * names (dx*dx + dy*dy [+ dz*dz]), sorts (d2, index) and takes the first k after dropping
 * the point itself; indices and distances must match exactly. Point sets: uniform 2-D and
 * 3-D, Gaussian clusters, small-integer grids (many equal distances), all points identical
 * (every distance ties, so the answer is decided by index alone), collinear, tiny n, and a
 * larger set checked on a sample of queries with several threads.
 */
#include "check.h"
#include "knn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x243f6a8885a308d3u;

enum cloud {
    CLOUD_UNIFORM,
    CLOUD_CLUSTERED,
    CLOUD_GRID,      /* small integers: many exact distance ties and duplicates */
    CLOUD_IDENTICAL, /* every point the same */
    CLOUD_COLLINEAR,
    CLOUD_KINDS
};

static void make_cloud(double *p, size_t n, unsigned dim, enum cloud kind)
{
    double centre[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double t = check_rng_double(&rng_state);
        if (kind == CLOUD_CLUSTERED && i % 97 == 0)
            for (unsigned d = 0; d < dim; d++)
                centre[d] = check_rng_double(&rng_state) * 1000.0;
        for (unsigned d = 0; d < dim; d++) {
            double *c = &p[i * dim + d];
            switch (kind) {
            case CLOUD_UNIFORM:
                *c = check_rng_double(&rng_state);
                break;
            case CLOUD_CLUSTERED: {
                /* sum of uniforms: a cheap bell around the cluster centre */
                double u = check_rng_double(&rng_state) + check_rng_double(&rng_state) +
                           check_rng_double(&rng_state) - 1.5;
                *c = centre[d] + u * 0.5;
                break;
            }
            case CLOUD_GRID:
                *c = (double)(check_rng_next(&rng_state) % 6);
                break;
            case CLOUD_IDENTICAL:
                *c = 7.25;
                break;
            default:
                *c = t * (double)(d + 1) + 3.0;
                break;
            }
        }
    }
}

struct ref_entry {
    double d2;
    size_t index;
};

static int ref_compare(const void *pa, const void *pb)
{
    const struct ref_entry *a = pa, *b = pb;
    if (a->d2 != b->d2)
        return a->d2 < b->d2 ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

static bool ref_less(const struct ref_entry *a, const struct ref_entry *b)
{
    return ref_compare(a, b) < 0;
}

/* Brute force: the kmax nearest other points of point q into e[0..kmax), sorted. Every
 * distance is computed; a short k is kept by insertion, a long one by sorting them all. */
static void ref_neighbours(const double *p, size_t n, unsigned dim, size_t q, size_t kmax,
                           struct ref_entry *e)
{
    size_t m = 0;
    bool insertion = kmax * 8 < n;
    const double *a = p + q * dim;
    for (size_t j = 0; j < n; j++) {
        if (j == q)
            continue;
        const double *b = p + j * dim;
        double dx = b[0] - a[0], dy = b[1] - a[1];
        double d2 = dx * dx + dy * dy;
        if (dim == 3) {
            double dz = b[2] - a[2];
            d2 += dz * dz;
        }
        struct ref_entry cand = {d2, j};
        if (!insertion) {
            e[m++] = cand;
            continue;
        }
        if (m == kmax && !ref_less(&cand, &e[m - 1]))
            continue;
        size_t i = m < kmax ? m++ : m - 1;
        while (i > 0 && ref_less(&cand, &e[i - 1])) {
            e[i] = e[i - 1];
            i--;
        }
        e[i] = cand;
    }
    if (!insertion)
        qsort(e, m, sizeof *e, ref_compare);
}

/* Run knn_points for each k in ks and compare queries 0, step, 2*step, ... with brute
 * force, indices and distances exactly. */
static bool check_cloud(const double *p, size_t n, unsigned dim, const size_t *ks, size_t nks,
                        unsigned threads, size_t step)
{
    size_t kmax = 0, total = 0;
    for (size_t i = 0; i < nks; i++) {
        kmax = ks[i] > kmax ? ks[i] : kmax;
        total += n * ks[i];
    }
    int64_t *idx = malloc((total + 1) * sizeof *idx);
    double *dist = malloc((total + 1) * sizeof *dist);
    struct ref_entry *e = malloc((n + 1) * sizeof *e);
    bool ok = idx != NULL && dist != NULL && e != NULL;
    struct error_info err;
    error_init(&err);
    enum error_code rc = ERROR_OK;
    size_t bad_q = SIZE_MAX, bad_k = 0;
    for (size_t i = 0, off = 0; ok && i < nks; off += n * ks[i], i++) {
        rc = knn_points(p, n, dim, ks[i], threads, 0, idx + off, dist + off, &err);
        ok = rc == ERROR_OK;
        bad_k = ks[i];
    }
    for (size_t q = 0; ok && q < n; q += step) {
        ref_neighbours(p, n, dim, q, kmax, e);
        for (size_t i = 0, off = 0; ok && i < nks; off += n * ks[i], i++) {
            size_t k = ks[i];
            for (size_t j = 0; ok && j < k; j++)
                ok = idx[off + q * k + j] == (int64_t)e[j].index &&
                     dist[off + q * k + j] == sqrt(e[j].d2);
            if (!ok) {
                bad_q = q;
                bad_k = k;
            }
        }
    }
    if (!ok)
        fprintf(stderr, "  knn n=%zu dim=%u k=%zu threads=%u rc=%d (%s) first bad query %zu\n", n,
                dim, bad_k, threads, (int)rc, err.detail, bad_q);
    free(e);
    free(dist);
    free(idx);
    return ok;
}

static void test_clouds(void)
{
    static const size_t sizes[] = {2, 3, 9, 17, 100, 1500};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        double *p = malloc(n * 3 * sizeof *p);
        if (!CHECK(p != NULL))
            return;
        for (unsigned dim = 2; dim <= 3; dim++)
            for (int kind = 0; kind < CLOUD_KINDS; kind++) {
                make_cloud(p, n, dim, (enum cloud)kind);
                size_t ks[5], nks = 0;
                /* k near n makes the output n^2: only for the small sets */
                size_t wanted[5] = {1, 2, 10, n <= 100 ? n / 2 : 40, n <= 100 ? n - 1 : 77};
                for (size_t i = 0; i < 5; i++)
                    if (wanted[i] >= 1 && wanted[i] <= n - 1)
                        ks[nks++] = wanted[i];
                CHECK(check_cloud(p, n, dim, ks, nks, 1 + (unsigned)(s % 3), 1));
            }
        free(p);
    }
}

/* Enough points for the parallel build and many query batches; sampled queries. */
static void test_large(void)
{
    size_t n = 150000;
    double *p = malloc(n * 3 * sizeof *p);
    if (!CHECK(p != NULL))
        return;
    static const size_t ks[] = {1, 10};
    for (unsigned dim = 2; dim <= 3; dim++)
        for (int kind = 0; kind < CLOUD_KINDS; kind++) {
            make_cloud(p, n, dim, (enum cloud)kind);
            CHECK(check_cloud(p, n, dim, ks, 2, 4, 1499));
        }
    free(p);
}

static void test_errors(void)
{
    double p[8] = {0, 0, 1, 0, 0, 1, 1, 1};
    int64_t idx[16];
    double dist[16];
    struct error_info err;
    error_init(&err);
    CHECK_INT(knn_points(p, 4, 2, 4, 1, 0, idx, dist, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "maximum k is 3") != NULL);
    CHECK_INT(knn_points(p, 1, 2, 1, 1, 0, idx, dist, &err), ERROR_UNPROCESSABLE);
    CHECK(strstr(err.detail, "maximum k is 0") != NULL);
    CHECK_INT(knn_points(p, 1, 2, 0, 1, 0, idx, dist, &err), ERROR_OK);
    CHECK_INT(knn_points(NULL, 0, 2, 0, 1, 0, idx, dist, &err), ERROR_OK);
    CHECK_INT(knn_points(p, 2, 4, 1, 1, 0, idx, dist, &err), ERROR_INVALID);
    CHECK_INT(knn_points(p, 2, 1, 1, 1, 0, idx, dist, &err), ERROR_INVALID);
    p[5] = NAN;
    CHECK_INT(knn_points(p, 4, 2, 1, 1, 0, idx, dist, &err), ERROR_INVALID);
    CHECK(strstr(err.detail, "points[2]") != NULL);
    p[5] = 1;
    p[6] = -INFINITY;
    CHECK_INT(knn_points(p, 4, 2, 1, 1, 0, idx, dist, &err), ERROR_INVALID);
    CHECK(strstr(err.detail, "points[3]") != NULL);
    p[6] = 1;
    /* square corners: ties broken by index; distances may be omitted */
    CHECK_INT(knn_points(p, 4, 2, 3, 2, 0, idx, NULL, &err), ERROR_OK);
    const int64_t want[12] = {1, 2, 3, 0, 3, 2, 0, 3, 1, 1, 2, 0};
    for (int j = 0; j < 12; j++)
        CHECK_INT(idx[j], want[j]);
}

/* ------------------------------------------------------------------------------------------
 * Extreme magnitudes: against brute force in long double (no square of a double overflows or
 * underflows there), indices exactly and distances to 1e-15.
 */

static bool magnitudes_match(const double *p, size_t n, size_t k)
{
    int64_t *idx = malloc(n * k * sizeof *idx);
    double *dist = malloc(n * k * sizeof *dist);
    long double *d2 = malloc(n * sizeof *d2);
    bool ok = idx != NULL && dist != NULL && d2 != NULL;
    struct error_info err;
    error_init(&err);
    if (ok && !CHECK_INT(knn_points(p, n, 2, k, 2, 0, idx, dist, &err), ERROR_OK)) {
        fprintf(stderr, "  %s\n", err.detail);
        ok = false;
    }
    for (size_t q = 0; ok && q < n; q++) {
        for (size_t j = 0; j < n; j++) {
            long double dx = (long double)p[2 * q] - p[2 * j],
                        dy = (long double)p[2 * q + 1] - p[2 * j + 1];
            d2[j] = j == q ? -1.0L : dx * dx + dy * dy;
        }
        /* the k nearest by (d2, index), by selection */
        for (size_t r = 0; ok && r < k; r++) {
            size_t best = SIZE_MAX;
            for (size_t j = 0; j < n; j++)
                if (d2[j] >= 0 && (best == SIZE_MAX || d2[j] < d2[best]))
                    best = j;
            double want = (double)sqrtl(d2[best]);
            double got = dist[q * k + r];
            ok = idx[q * k + r] == (int64_t)best && fabs(got - want) <= 1e-15 * fabs(want) &&
                 isfinite(got);
            if (!ok)
                fprintf(stderr, "  magnitudes n=%zu q=%zu r=%zu: got %lld %.17g, want %zu %.17g\n",
                        n, q, r, (long long)idx[q * k + r], got, best, want);
            d2[best] = -1.0L;
        }
    }
    free(idx);
    free(dist);
    free(d2);
    return ok;
}

static void test_magnitudes(void)
{
    const double big[6] = {0, 0, 1e201, 0, 1e200, 0};             /* squares overflow */
    const double tiny[6] = {0, 0, 3e-200, 0, 1e-200, 0};          /* squares underflow */
    const double span[8] = {0, 0, 1e-300, 0, 1e300, 0, 2e300, 0}; /* no one scale holds both */
    CHECK(magnitudes_match(big, 3, 2));
    CHECK(magnitudes_match(tiny, 3, 2));
    CHECK(magnitudes_match(span, 4, 3));
    int64_t idx[4];
    double dist[4];
    struct error_info err;
    CHECK_INT(knn_points(big, 3, 2, 1, 1, 0, idx, dist, &err), ERROR_OK);
    CHECK_INT(idx[0], 2);
    CHECK(dist[0] == 1e200);
    CHECK_INT(knn_points(tiny, 3, 2, 1, 1, 0, idx, dist, &err), ERROR_OK);
    CHECK_INT(idx[0], 2);
    CHECK(dist[0] == 1e-200);

    /* Random clouds at 1e250, 1e-250, subnormal, and spanning 1e-200 .. 1e200. */
    uint64_t rng = 77;
    const double scales[4] = {1e250, 1e-250, 4e-320, 0};
    double *p = malloc(2 * 600 * sizeof *p);
    if (!CHECK(p != NULL))
        return;
    for (int s = 0; s < 4; s++) {
        size_t n = 600;
        for (size_t i = 0; i < 2 * n; i++) {
            double u = check_rng_double(&rng) * 2 - 1;
            p[i] = scales[s] != 0 ? u * scales[s] : u * (i % 3 == 0 ? 1e200 : 1e-200);
        }
        CHECK(magnitudes_match(p, n, 5));
    }
    free(p);

    /* Past the brute-force bound, a span no scale holds is a clear 422. */
    size_t n = 2001;
    double *q = calloc(2 * n, sizeof *q);
    int64_t *qi = malloc(n * sizeof *qi);
    if (CHECK(q != NULL && qi != NULL)) {
        for (size_t i = 0; i < n; i++)
            q[2 * i] = i % 2 ? 1e-300 * (double)(i + 1) : 1e300 / (double)(i + 1);
        CHECK_INT(knn_points(q, n, 2, 1, 1, 0, qi, NULL, &err), ERROR_UNPROCESSABLE);
        CHECK(strstr(err.detail, "rescale") != NULL);
    }
    free(q);
    free(qi);
}

int main(void)
{
    test_magnitudes();
    test_errors();
    test_clouds();
    test_large();
    return check_finish("test_knn");
}
