/* test_preview.c - core/preview: the output size rule, numpy's percentile (against a naive
 * sorted reference on random inputs with ties), and exact pixels of the area average,
 * stretch, composite and label colours for small fixed inputs. The expected bytes were
 * computed with numpy from the definitions (tests/unit/core/diff_preview.py's reference
 * functions intensity, labels and label_color). */
#include "check.h"
#include "preview.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_fit(void)
{
    uint32_t w, h;
    preview_fit(1000, 700, 512, &w, &h);
    CHECK(w == 512 && h == 358);
    preview_fit(700, 1000, 512, &w, &h);
    CHECK(w == 358 && h == 512);
    preview_fit(100, 50, 512, &w, &h); /* never enlarged */
    CHECK(w == 100 && h == 50);
    preview_fit(100000, 1, 512, &w, &h); /* each side at least 1 */
    CHECK(w == 512 && h == 1);
    preview_fit(6, 4, 3, &w, &h);
    CHECK(w == 3 && h == 2);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's linear percentile, by sorting. */
static double naive_percentile(const double *v, size_t n, double q)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    double pos = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    double r;
    if (i >= n - 1) {
        r = s[n - 1];
    } else {
        double t = pos - (double)i, d = s[i + 1] - s[i];
        r = t >= 0.5 ? s[i + 1] - d * (1.0 - t) : s[i] + d * t;
    }
    free(s);
    return r;
}

static void test_percentile(void)
{
    uint64_t seed = 19;
    static const double qs[] = {0, 0.5, 1, 25, 50, 73.3, 99.5, 100};
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + check_rng_below(&seed, round < 100 ? 10 : 2000);
        uint32_t spread = round % 3 == 0 ? 3 : 100000; /* many ties, or few */
        double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
        for (size_t i = 0; i < n; i++)
            v[i] = (double)check_rng_below(&seed, spread) - spread / 2.0;
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
            memcpy(w, v, n * sizeof *w);
            double want = naive_percentile(v, n, qs[k]);
            double got = preview_percentile(w, n, qs[k]);
            if (!CHECK(got == want))
                break;
        }
        free(v);
        free(w);
    }
    /* numpy.percentile([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 99.5) = 8.955 */
    double ten[10] = {9, 3, 1, 0, 8, 2, 7, 4, 6, 5};
    CHECK(fabs(preview_percentile(ten, 10, 99.5) - 8.955) < 1e-12);
}

static const double fixed_a[24] = {0,   10, 20, 30, 40, 50, 5, 15, 25, 35, 45, 55,
                                   100, 90, 80, 70, 60, 50, 1, 2,  3,  4,  5,  200};
static const double fixed_b[24] = {7, 7, 7, 0, 0, 0, 7, 7, 7, 0, 0, 0,
                                   1, 1, 9, 9, 9, 9, 1, 1, 9, 9, 9, 9};

static void test_composite(void)
{
    double v[48];
    memcpy(v, fixed_a, sizeof fixed_a);
    memcpy(v + 24, fixed_b, sizeof fixed_b);
    struct preview_plane p = {.width = 6, .height = 4, .channels = 2, .bits = 16, .v = v};
    struct preview_options o;
    preview_options_init(&o);
    o.size = 3;
    struct preview_image img = {0};
    struct error_info err;
    error_init(&err);
    /* blue for a, green for b; numpy: intensity([a, b], 3) */
    static const uint8_t want[18] = {0, 198, 10, 0, 99,  37, 0, 0,   64,
                                     0, 28,  65, 0, 255, 53, 0, 255, 106};
    CHECK_INT(preview_render(&p, &o, &img, &err), ERROR_OK);
    CHECK(img.width == 3 && img.height == 2 && !img.labels);
    CHECK(img.rgb != NULL && memcmp(img.rgb, want, sizeof want) == 0);
    preview_image_cleanup(&img);

    /* one channel, colour (200, 100, 50), lo 10 hi 90; numpy: intensity([a], 4, ...) */
    static const uint8_t want1[36] = {0,   0,  0,  30, 15, 7,  65, 33, 16, 101, 50, 25,
                                      6,   3,  2,  42, 21, 10, 77, 39, 19, 113, 56, 28,
                                      114, 57, 28, 98, 49, 24, 82, 41, 20, 181, 90, 45};
    p.channels = 1;
    o.size = 4;
    o.lo = 10;
    o.hi = 90;
    o.n_channels = 1;
    o.channels[0] = 0;
    o.have_colors = true;
    o.colors[0][0] = 200;
    o.colors[0][1] = 100;
    o.colors[0][2] = 50;
    CHECK_INT(preview_render(&p, &o, &img, &err), ERROR_OK);
    CHECK(img.width == 4 && img.height == 3);
    CHECK(img.rgb != NULL && memcmp(img.rgb, want1, sizeof want1) == 0);
    preview_image_cleanup(&img);

    o.channels[0] = 1; /* the plane has one channel */
    CHECK_INT(preview_render(&p, &o, &img, &err), ERROR_INVALID);
    CHECK(img.rgb == NULL);
}

static void test_labels(void)
{
    uint8_t c[3];
    static const uint64_t vals[] = {1, 3, 5, 4294967295ull, 9007199254740992ull};
    static const uint8_t want[5][3] = {
        {208, 132, 65}, {241, 171, 64}, {131, 210, 166}, {207, 160, 244}, {219, 184, 110}};
    for (int i = 0; i < 5; i++) {
        preview_label_color(vals[i], c);
        CHECK(memcmp(c, want[i], 3) == 0);
    }
    preview_label_color(0, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0);

    double v[24] = {0, 0, 3, 3, 3, 3, 0, 5, 5, 3, 3, 3, 5, 5, 5, 5, 0, 0, 5, 5, 5, 5, 0, 0};
    struct preview_plane p = {
        .width = 6, .height = 4, .channels = 1, .is_integer = true, .bits = 32, .v = v};
    struct preview_options o;
    preview_options_init(&o);
    o.size = 6;
    o.boundaries = true;
    struct preview_image img = {0};
    struct error_info err;
    CHECK_INT(preview_render(&p, &o, &img, &err), ERROR_OK);
    CHECK(img.labels); /* 32-bit integers: labels by default */
    /* numpy: labels(l, 6, True) */
    static const uint8_t k3[3] = {241, 171, 64}, k5[3] = {131, 210, 166}, k0[3] = {0, 0, 0};
    static const uint8_t *const grid[24] = {k0, k0, k3, k0, k0, k0, k0, k5, k5, k3, k3, k3,
                                            k5, k0, k0, k5, k0, k0, k0, k0, k0, k5, k0, k0};
    bool all = img.rgb != NULL;
    for (int i = 0; all && i < 24; i++)
        all = memcmp(img.rgb + 3 * i, grid[i], 3) == 0;
    CHECK(all);
    preview_image_cleanup(&img);
    o.labels = PREVIEW_LABELS_NO; /* forced intensity: grey stretch, not label colours */
    CHECK_INT(preview_render(&p, &o, &img, &err), ERROR_OK);
    CHECK(!img.labels && img.rgb[0] == img.rgb[1] && img.rgb[1] == img.rgb[2]);
    preview_image_cleanup(&img);
}

int main(void)
{
    test_fit();
    test_percentile();
    test_composite();
    test_labels();
    return check_finish("test_preview");
}
