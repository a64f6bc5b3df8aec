/*
 * test_overlap_http.c - POST /overlap over real HTTP against a naive reference computed
 * here: label TIFFs written with libtiff (every integer dtype, strips and tiles, both byte
 * orders, several codecs, several pages), the contingency table counted with a plain
 * per-pixel loop, IoU from the areas, and StarDist's matching by exhaustive search over
 * the IoU >= t pairs (ties at exactly t included). Covers the JSON path form with every
 * option, labels up to 2^64 - 1 rendered exactly, multipart uploads (curl_mime), batches
 * with failing pairs, and every 4xx the endpoint documents, including the limits
 * --max-batch, --max-pairs and --max-pixels on a second server.
 */
#include "check.h"
#include "files.h"
#include "harness.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>

static char root[512];

static uint64_t rng_state = 0x0E7A9;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Label images and TIFF files
 *
 * Images are held as uint64_t arrays (a negative label is its two's complement) and
 * converted to the file's sample type when written.
 */

struct image {
    uint32_t height, width;
    uint64_t *px;
};

static struct image image_new(uint32_t height, uint32_t width)
{
    struct image im = {height, width, xcalloc((size_t)height * width, sizeof(uint64_t))};
    return im;
}

/* Fill rows [y0, y1) and columns [x0, x1), clipped to the image. */
static void paint(struct image *im, int y0, int x0, int y1, int x1, uint64_t v)
{
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < (int)im->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < (int)im->width; x++)
            im->px[(size_t)y * im->width + (size_t)x] = v;
}

/* Cell-like scene: rectangles of labels in [1, maxv] (maxv itself appears), and b made from
 * a by a shift, a relabelling, two splits and a few new cells. */
static void random_scene(struct image *a, struct image *b, uint64_t maxv)
{
    memset(a->px, 0, (size_t)a->height * a->width * sizeof(uint64_t));
    for (unsigned k = 0; k < 14; k++) {
        uint64_t v = k < 2 ? maxv - k : 1 + check_rng_next(&rng_state) % maxv;
        int y = (int)check_rng_below(&rng_state, a->height),
            x = (int)check_rng_below(&rng_state, a->width);
        paint(a, y, x, y + 3 + (int)check_rng_below(&rng_state, 12),
              x + 3 + (int)check_rng_below(&rng_state, 14), v);
    }
    int dy = (int)check_rng_below(&rng_state, 5) - 2, dx = (int)check_rng_below(&rng_state, 5) - 2;
    for (uint32_t y = 0; y < b->height; y++)
        for (uint32_t x = 0; x < b->width; x++) {
            int sy = (int)y - dy, sx = (int)x - dx;
            uint64_t v = 0;
            if (sy >= 0 && sx >= 0 && sy < (int)a->height && sx < (int)a->width)
                v = a->px[(size_t)sy * a->width + (size_t)sx];
            b->px[(size_t)y * b->width + x] = v == 0 ? 0 : (v % 3 == 0 ? v : v ^ 1);
        }
    for (unsigned k = 0; k < 4; k++) {
        int y = (int)check_rng_below(&rng_state, b->height),
            x = (int)check_rng_below(&rng_state, b->width);
        paint(b, y, x, y + 2 + (int)check_rng_below(&rng_state, 6),
              x + 2 + (int)check_rng_below(&rng_state, 20),
              k == 0 ? maxv : 1 + check_rng_next(&rng_state) % maxv);
    }
}

struct tiff_spec {
    const char *mode; /* "wl" little-endian, "wb" big-endian */
    uint16_t bits, format, spp, compression;
    uint32_t rows_per_strip; /* strips when tile == 0 */
    uint32_t tile;           /* square tiles of this size (a multiple of 16) */
};

static void put_sample(unsigned char *dst, const struct tiff_spec *s, uint64_t v)
{
    if (s->format == SAMPLEFORMAT_IEEEFP) {
        float f = (float)v;
        double d = (double)v;
        if (s->bits == 32)
            memcpy(dst, &f, 4);
        else
            memcpy(dst, &d, 8);
        return;
    }
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (s->bits) {
    case 8:
        memcpy(dst, &u8, 1);
        break;
    case 16:
        memcpy(dst, &u16, 2);
        break;
    case 32:
        memcpy(dst, &u32, 4);
        break;
    default:
        memcpy(dst, &v, 8);
    }
}

/* Write the pages (all of one shape) to root/name. */
static bool tiff_write(const char *name, const struct tiff_spec *s, const struct image *pages,
                       unsigned n_pages)
{
    char path[1024];
    check_path_join(path, sizeof path, root, name);
    TIFF *tif = TIFFOpen(path, s->mode);
    if (tif == NULL)
        return false;
    const size_t bps = (size_t)s->bits / 8u * s->spp;
    bool ok = true;
    for (unsigned p = 0; p < n_pages && ok; p++) {
        const struct image *im = &pages[p];
        const size_t row = (size_t)im->width * bps;
        unsigned char *raster = xcalloc((size_t)im->height, row);
        for (size_t i = 0; i < (size_t)im->height * im->width; i++)
            for (unsigned c = 0; c < s->spp; c++)
                put_sample(raster + i * bps + c * (s->bits / 8u), s, im->px[i]);
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, im->width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, im->height);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, s->bits);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, s->format);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                     s->spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, s->compression);
        if (s->tile == 0) {
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, s->rows_per_strip);
            for (uint32_t y = 0, k = 0; y < im->height && ok; y += s->rows_per_strip, k++) {
                uint32_t rows =
                    im->height - y < s->rows_per_strip ? im->height - y : s->rows_per_strip;
                ok = TIFFWriteEncodedStrip(tif, k, raster + y * row, (tmsize_t)(rows * row)) >= 0;
            }
        } else {
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, s->tile);
            TIFFSetField(tif, TIFFTAG_TILELENGTH, s->tile);
            size_t trow = s->tile * bps;
            unsigned char *tile = xcalloc(s->tile, trow);
            for (uint32_t y = 0; y < im->height && ok; y += s->tile)
                for (uint32_t x = 0; x < im->width && ok; x += s->tile) {
                    memset(tile, 0x5A, s->tile * trow); /* edge padding must never count */
                    uint32_t cols = im->width - x < s->tile ? im->width - x : s->tile;
                    for (uint32_t r = 0; r < s->tile && y + r < im->height; r++)
                        memcpy(tile + r * trow, raster + (y + r) * row + x * bps, cols * bps);
                    ok = TIFFWriteTile(tif, tile, x, y, 0, 0) >= 0;
                }
            free(tile);
        }
        free(raster);
        ok = ok && TIFFWriteDirectory(tif);
    }
    TIFFClose(tif);
    return ok;
}

static const struct tiff_spec spec_u16 = {"wl", 16, SAMPLEFORMAT_UINT, 1, COMPRESSION_NONE, 8, 0};

/* ------------------------------------------------------------------------------------------
 * The reference: a plain loop over pixels, and StarDist's matching by exhaustive search
 */

struct query {
    bool include_background, iou, match;
    double threshold;
};

struct expect {
    uint32_t height, width;
    size_t n; /* rows listed */
    uint64_t *a, *b, *count;
    double *iou;
    uint64_t labels_a, labels_b;
    struct query q;
    uint64_t tp, fp, fn;
    double precision, recall, f1, mean_matched_iou, panoptic_quality;
};

struct candidate {
    uint64_t a, b;
    double iou;
};

struct search {
    const struct candidate *c;
    const size_t *group; /* candidates of the g-th label of a: [group[g], group[g + 1]) */
    size_t groups;
    uint64_t *used_b;
    size_t n_used;
    uint64_t best_tp;
    double best_sum;
};

/* Maximum (tp, sum of matched IoU), lexicographic, over one-to-one matchings; StarDist's
 * cost -(iou >= t) - iou / (2 n) makes its assignment maximise exactly this. */
static void match_search(struct search *s, size_t g, uint64_t tp, double sum)
{
    if (tp + (s->groups - g) < s->best_tp)
        return;
    if (g == s->groups) {
        if (tp > s->best_tp || (tp == s->best_tp && sum > s->best_sum)) {
            s->best_tp = tp;
            s->best_sum = sum;
        }
        return;
    }
    for (size_t i = s->group[g]; i < s->group[g + 1]; i++) {
        bool used = false;
        for (size_t k = 0; k < s->n_used && !used; k++)
            used = s->used_b[k] == s->c[i].b;
        if (used)
            continue;
        s->used_b[s->n_used++] = s->c[i].b;
        match_search(s, g + 1, tp + 1, sum + s->c[i].iou);
        s->n_used--;
    }
    match_search(s, g + 1, tp, sum);
}

static double safe_divide(double x, double y)
{
    return fabs(y) > 1e-10 ? x / y : 0.0;
}

static uint64_t area_of(const struct image *im, uint64_t label)
{
    uint64_t n = 0;
    for (size_t i = 0; i < (size_t)im->height * im->width; i++)
        n += im->px[i] == label;
    return n;
}

static void expect_free(struct expect *e)
{
    if (e == NULL)
        return;
    free(e->a);
    free(e->b);
    free(e->count);
    free(e->iou);
    free(e);
}

static struct expect *expect_new(const struct image *ia, const struct image *ib,
                                 const struct query *q)
{
    size_t npx = (size_t)ia->height * ia->width, n = 0;
    struct expect *e = xcalloc(1, sizeof *e);
    e->height = ia->height;
    e->width = ia->width;
    e->q = *q;
    uint64_t *ra = xcalloc(npx, sizeof *ra), *rb = xcalloc(npx, sizeof *rb);
    uint64_t *rc = xcalloc(npx, sizeof *rc);
    for (size_t i = 0; i < npx; i++) {
        size_t k = 0;
        while (k < n && !(ra[k] == ia->px[i] && rb[k] == ib->px[i]))
            k++;
        if (k == n) {
            ra[n] = ia->px[i];
            rb[n] = ib->px[i];
            n++;
        }
        rc[k]++;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort by (a, b) */
        for (size_t k = i;
             k > 0 && (ra[k - 1] > ra[k] || (ra[k - 1] == ra[k] && rb[k - 1] > rb[k])); k--) {
            uint64_t t = ra[k];
            ra[k] = ra[k - 1];
            ra[k - 1] = t;
            t = rb[k];
            rb[k] = rb[k - 1];
            rb[k - 1] = t;
            t = rc[k];
            rc[k] = rc[k - 1];
            rc[k - 1] = t;
        }
    double *iou = xcalloc(n, sizeof *iou);
    for (size_t i = 0; i < n; i++) {
        uint64_t area_a = area_of(ia, ra[i]), area_b = area_of(ib, rb[i]);
        iou[i] = (double)rc[i] / (double)(area_a + area_b - rc[i]);
    }
    for (size_t i = 0; i < n; i++) {
        bool seen_a = false, seen_b = false;
        for (size_t k = 0; k < i; k++) {
            seen_a |= ra[k] == ra[i];
            seen_b |= rb[k] == rb[i];
        }
        e->labels_a += ra[i] != 0 && !seen_a;
        e->labels_b += rb[i] != 0 && !seen_b;
    }

    e->a = xcalloc(n, sizeof *e->a);
    e->b = xcalloc(n, sizeof *e->b);
    e->count = xcalloc(n, sizeof *e->count);
    e->iou = xcalloc(n, sizeof *e->iou);
    for (size_t i = 0; i < n; i++) {
        if (!q->include_background && (ra[i] == 0 || rb[i] == 0))
            continue;
        e->a[e->n] = ra[i];
        e->b[e->n] = rb[i];
        e->count[e->n] = rc[i];
        e->iou[e->n] = iou[i];
        e->n++;
    }

    if (q->match) {
        struct candidate *c = xcalloc(n, sizeof *c);
        size_t *group = xcalloc(n + 1, sizeof *group), nc = 0, groups = 0;
        for (size_t i = 0; i < n; i++) {
            if (ra[i] == 0 || rb[i] == 0 || !(iou[i] >= q->threshold))
                continue;
            if (nc == 0 || c[nc - 1].a != ra[i])
                group[groups++] = nc;
            c[nc++] = (struct candidate){ra[i], rb[i], iou[i]};
        }
        group[groups] = nc;
        struct search s = {c, group, groups, xcalloc(nc, sizeof(uint64_t)), 0, 0, 0.0};
        match_search(&s, 0, 0, 0.0);
        e->tp = s.best_tp;
        e->fp = e->labels_b - e->tp;
        e->fn = e->labels_a - e->tp;
        double tp = (double)e->tp, fp = (double)e->fp, fn = (double)e->fn;
        e->precision = safe_divide(tp, tp + fp);
        e->recall = safe_divide(tp, tp + fn);
        e->f1 = safe_divide(2 * tp, 2 * tp + fp + fn);
        e->mean_matched_iou = safe_divide(s.best_sum, tp);
        e->panoptic_quality = safe_divide(s.best_sum, tp + fp / 2 + fn / 2);
        free(s.used_b);
        free(group);
        free(c);
    }
    free(ra);
    free(rb);
    free(rc);
    free(iou);
    return e;
}

/* ------------------------------------------------------------------------------------------
 * Comparing an answer with the reference
 *
 * Label values can pass 2^63, which jansson cannot hold as integers: integers are checked
 * on the exact text the server rendered, everything else on a parse with integers as reals.
 */

struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = (t->len + (size_t)need + 1) * 2;
        char *grown = realloc(t->s, cap);
        if (grown == NULL)
            exit(2);
        t->s = grown;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
}

static void text_u64s(struct text *t, const char *key, const uint64_t *v, size_t n)
{
    text_add(t, "%s[", key);
    for (size_t i = 0; i < n; i++)
        text_add(t, "%s%" PRIu64, i ? "," : "", v[i]);
    text_add(t, "]");
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want));
}

static double real_of(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Check one result object: `body` is the whole answer, *pos where this result's text may
 * start (advanced past it, so batch results are checked in order), obj its parse. */
static bool check_result(const char *what, const char *body, size_t *pos, const json_t *obj,
                         const struct expect *e)
{
    bool ok = true;
    struct text t = {0};
    text_add(&t,
             "\"height\":%" PRIu32 ",\"width\":%" PRIu32 ",\"labels_a\":%" PRIu64
             ",\"labels_b\":%" PRIu64 ",\"pairs\":{",
             e->height, e->width, e->labels_a, e->labels_b);
    text_u64s(&t, "\"a\":", e->a, e->n);
    text_u64s(&t, ",\"b\":", e->b, e->n);
    text_u64s(&t, ",\"count\":", e->count, e->n);
    text_add(&t, e->q.iou ? ",\"iou\":[" : "}");
    const char *at = strstr(body + *pos, t.s);
    if (!CHECK(at != NULL)) {
        ok = false;
        fprintf(stderr, "    %s: want %.600s\n    got  %.600s\n", what, t.s, body + *pos);
    } else {
        *pos = (size_t)(at - body) + t.len;
    }
    free(t.s);

    const json_t *pairs = json_object_get(obj, "pairs");
    ok &= CHECK(json_is_object(pairs));
    const json_t *iou = json_object_get(pairs, "iou");
    if (e->q.iou) {
        ok &= CHECK_INT(json_array_size(iou), e->n);
        for (size_t i = 0; i < e->n && i < json_array_size(iou); i++)
            if (!CHECK(json_number_value(json_array_get(iou, i)) == e->iou[i])) {
                ok = false;
                fprintf(stderr, "    %s: iou[%zu] = %.17g, want %.17g\n", what, i,
                        json_number_value(json_array_get(iou, i)), e->iou[i]);
                break;
            }
    } else {
        ok &= CHECK(iou == NULL);
    }
    ok &= CHECK_INT(json_object_size(pairs), e->q.iou ? 4 : 3);

    const json_t *m = json_object_get(obj, "matching");
    if (!e->q.match)
        return CHECK(m == NULL) && ok;
    ok &= CHECK(json_is_object(m));
    ok &= CHECK(real_of(m, "threshold") == e->q.threshold);
    ok &= CHECK(real_of(m, "tp") == (double)e->tp);
    ok &= CHECK(real_of(m, "fp") == (double)e->fp);
    ok &= CHECK(real_of(m, "fn") == (double)e->fn);
    ok &= CHECK(near(real_of(m, "precision"), e->precision));
    ok &= CHECK(near(real_of(m, "recall"), e->recall));
    ok &= CHECK(near(real_of(m, "f1"), e->f1));
    ok &= CHECK(near(real_of(m, "mean_matched_iou"), e->mean_matched_iou));
    ok &= CHECK(near(real_of(m, "panoptic_quality"), e->panoptic_quality));
    /* StarDist's full set besides: the counts it derives from, and the older name
     * mean_matched_iou as an alias of mean_matched_score. */
    uint64_t n_match = e->tp + e->fp + e->fn;
    ok &= CHECK(strcmp(json_string_value(json_object_get(m, "criterion")), "iou") == 0);
    ok &= CHECK(real_of(m, "n_true") == (double)e->labels_a);
    ok &= CHECK(real_of(m, "n_pred") == (double)e->labels_b);
    ok &= CHECK(near(real_of(m, "accuracy"), n_match ? (double)e->tp / (double)n_match : 0.0));
    ok &= CHECK(real_of(m, "mean_matched_score") == real_of(m, "mean_matched_iou"));
    ok &=
        CHECK(near(real_of(m, "mean_true_score"),
                   e->labels_a ? e->mean_matched_iou * (double)e->tp / (double)e->labels_a : 0.0));
    ok &= CHECK_INT(json_object_size(m), 15);
    if (!ok) {
        char *dump = json_dumps(m, JSON_COMPACT);
        fprintf(stderr,
                "    %s: matching %s\n    want tp %" PRIu64 " fp %" PRIu64 " fn %" PRIu64
                " p %.17g r %.17g f1 %.17g mmi %.17g pq %.17g\n",
                what, dump ? dump : "(none)", e->tp, e->fp, e->fn, e->precision, e->recall, e->f1,
                e->mean_matched_iou, e->panoptic_quality);
        free(dump);
    }
    return ok;
}

/* ------------------------------------------------------------------------------------------
 * Requests
 */

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

/* Flags of the server under test, to start it again after a crash. */
static const char *const *server_extra;

/* After a transport failure: when the server is gone, that is a failure of its own; a new
 * one is started so the remaining cases still run and report. */
static void revive(struct itest_server *s, const char *what)
{
    struct itest_reply r;
    bool alive = itest_request(s, "GET", "/healthz", NULL, NULL, 0, &r) && r.status == 200;
    itest_reply_cleanup(&r);
    if (alive)
        return;
    char *log = itest_log(s);
    size_t len = log ? strlen(log) : 0;
    int status = itest_stop(s, 0, 5);
    check_report(false, __FILE__, __LINE__, "the server died");
    fprintf(stderr, "    the server died (status %d) after: %.300s\n    log tail: %s\n", status,
            what, log ? log + (len > 600 ? len - 600 : 0) : "");
    free(log);
    itest_free(s);
    if (!itest_start(s, root, server_extra)) {
        fprintf(stderr, "cannot restart the server\n");
        exit(1);
    }
}

static bool send_request(struct itest_server *s, const char *method, const char *target,
                         const char *const headers[], const void *body, size_t len,
                         struct itest_reply *r)
{
    if (itest_request(s, method, target, headers, body, len, r))
        return true;
    revive(s, body != NULL ? (const char *)body : target);
    return false;
}

static bool post_json(struct itest_server *s, const char *json, struct itest_reply *r)
{
    return send_request(s, "POST", "/overlap", json_headers, json, strlen(json), r);
}

static void query_json(struct text *t, const struct query *q)
{
    text_add(t, ",\"include_background\":%s,\"iou\":%s", q->include_background ? "true" : "false",
             q->iou ? "true" : "false");
    if (q->match)
        text_add(t, ",\"match_threshold\":%.17g", q->threshold);
}

/* POST {"a","b",pages,options} and compare the 200 answer with the reference. */
static bool overlap_check(struct itest_server *s, const char *what, const char *fa, const char *fb,
                          unsigned page_a, unsigned page_b, const struct image *ia,
                          const struct image *ib, const struct query *q)
{
    struct text t = {0};
    text_add(&t, "{\"a\":\"%s\",\"b\":\"%s\"", fa, fb);
    if (page_a || page_b)
        text_add(&t, ",\"page_a\":%u,\"page_b\":%u", page_a, page_b);
    query_json(&t, q);
    text_add(&t, "}");
    struct itest_reply r;
    bool ok = CHECK(post_json(s, t.s, &r));
    if (ok && CHECK_INT(r.status, 200)) {
        json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
        struct expect *e = expect_new(ia, ib, q);
        size_t pos = 0;
        ok &= CHECK(real != NULL);
        ok &= check_result(what, r.body, &pos, real, e);
        ok &= CHECK_INT(json_object_size(real), q->match ? 6 : 5);
        expect_free(e);
        json_decref(real);
    } else {
        ok = false;
        fprintf(stderr, "    %s: %s -> %.300s\n", what, t.s, r.body);
    }
    itest_reply_cleanup(&r);
    free(t.s);
    return ok;
}

/* A problem answer with this status whose detail holds every given word. */
static bool problem_with(const struct itest_reply *r, long status, const char *const words[])
{
    bool ok = itest_is_problem(r, status);
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    for (size_t i = 0; words != NULL && words[i] != NULL; i++)
        if (!CHECK(detail != NULL && strstr(detail, words[i]) != NULL)) {
            ok = false;
            fprintf(stderr, "    detail '%s' lacks '%s'\n", detail ? detail : "(none)", words[i]);
        }
    return ok;
}

static void expect_problem(struct itest_server *s, const char *json, long status,
                           const char *const words[])
{
    struct itest_reply r;
    CHECK(post_json(s, json, &r));
    if (!problem_with(&r, status, words))
        fprintf(stderr, "    request: %s\n", json);
    itest_reply_cleanup(&r);
}

struct collect {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct collect *c = arg;
    size_t n = size * nmemb;
    char *grown = realloc(c->data, c->len + n + 1);
    if (grown == NULL)
        return 0;
    c->data = grown;
    memcpy(c->data + c->len, ptr, n);
    c->len += n;
    c->data[c->len] = '\0';
    return n;
}

struct upload {
    const char *name;
    const void *data;
    size_t len;
    const char *filename; /* NULL: a plain field */
};

/* POST /overlap as multipart/form-data built by libcurl's mime API; file part i has
 * Content-Type types[i] (types NULL, or types[i] NULL: image/tiff). */
static bool post_mime_typed(struct itest_server *s, const struct upload *parts,
                            const char *const *types, size_t n, struct itest_reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/overlap", s->port);
    curl_mime *mime = curl_mime_init(c);
    for (size_t i = 0; i < n; i++) {
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, parts[i].name);
        curl_mime_data(part, parts[i].data, parts[i].len);
        if (parts[i].filename != NULL) {
            curl_mime_filename(part, parts[i].filename);
            curl_mime_type(part, types != NULL && types[i] != NULL ? types[i] : "image/tiff");
        }
    }
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    struct collect out = {0}, hdr = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
    r->body = out.data ? out.data : xcalloc(1, 1);
    r->len = out.len;
    r->headers = hdr.data ? hdr.data : xcalloc(1, 1);
    if (r->len > 0)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (rc != CURLE_OK) {
        fprintf(stderr, "    curl multipart: %s\n", curl_easy_strerror(rc));
        revive(s, "a multipart upload");
    }
    return rc == CURLE_OK;
}

static bool post_mime(struct itest_server *s, const struct upload *parts, size_t n,
                      struct itest_reply *r)
{
    return post_mime_typed(s, parts, NULL, n, r);
}

/* ------------------------------------------------------------------------------------------
 * Fixtures shared by several tests
 */

/* The matching scene: ties at exactly 0.5 (a split, a merge), exactly 0.7, IoU 1, a cell
 * only in a, a cell only in b, and a weak overlap. */
static void matching_scene(struct image *a, struct image *b)
{
    /* 1: shifted by one column, IoU 36/44. */
    paint(a, 0, 0, 4, 10, 1);
    paint(b, 0, 1, 4, 11, 10);
    /* 2: split in b into two halves, each IoU 16/32 = 0.5 exactly. */
    paint(a, 0, 12, 4, 20, 2);
    paint(b, 0, 12, 4, 16, 20);
    paint(b, 0, 16, 4, 20, 21);
    /* 3: b covers 7 of its 10 pixels, IoU 7/10 = 0.7 exactly. */
    paint(a, 5, 0, 7, 5, 3);
    paint(b, 5, 0, 6, 5, 30);
    paint(b, 6, 0, 7, 2, 30);
    /* 4 and 5: merged in b, each IoU 20/40 = 0.5 exactly. */
    paint(a, 5, 10, 9, 15, 4);
    paint(a, 5, 15, 9, 20, 5);
    paint(b, 5, 10, 9, 20, 40);
    /* 6: the same in both, IoU 1. */
    paint(a, 10, 0, 13, 6, 6);
    paint(b, 10, 0, 13, 6, 60);
    /* 7 only in a, 70 only in b, 8 / 80 overlapping weakly (IoU 4/28). */
    paint(a, 10, 8, 12, 12, 7);
    paint(b, 14, 0, 16, 4, 70);
    paint(a, 14, 8, 18, 12, 8);
    paint(b, 16, 10, 20, 14, 80);
    /* 9: IoU 9/13 just under 0.7. */
    paint(a, 18, 0, 21, 3, 9);
    paint(b, 18, 0, 21, 3, 90);
    paint(b, 21, 0, 22, 4, 90);
}

static struct image scene_a, scene_b;

static void make_fixtures(void)
{
    scene_a = image_new(24, 40);
    scene_b = image_new(24, 40);
    matching_scene(&scene_a, &scene_b);
    CHECK(tiff_write("scene_a.tif", &spec_u16, &scene_a, 1));
    CHECK(tiff_write("scene_b.tif", &spec_u16, &scene_b, 1));

    char path[1024];
    check_path_join(path, sizeof path, root, "dir.tif");
    CHECK(mkdir(path, 0755) == 0);
    check_path_join(path, sizeof path, root, "sub");
    CHECK(mkdir(path, 0755) == 0);
    CHECK(check_write_file(root, "not_a_tiff.tif", "this is not a TIFF file at all\n", 31));
    CHECK(check_write_file(root, "empty.tif", "", 0));
}

/* ------------------------------------------------------------------------------------------
 * Tests
 */

/* Every dtype, strips and tiles, both byte orders, each codec libtiff has. */
static void test_dtypes(struct itest_server *s)
{
    static const struct {
        uint16_t bits, format;
        uint64_t maxv;
    } types[] = {
        {8, SAMPLEFORMAT_UINT, UINT8_MAX},   {16, SAMPLEFORMAT_UINT, UINT16_MAX},
        {32, SAMPLEFORMAT_UINT, UINT32_MAX}, {64, SAMPLEFORMAT_UINT, UINT64_MAX},
        {8, SAMPLEFORMAT_INT, INT8_MAX},     {16, SAMPLEFORMAT_INT, INT16_MAX},
        {32, SAMPLEFORMAT_INT, INT32_MAX},   {64, SAMPLEFORMAT_INT, INT64_MAX},
    };
    static const uint16_t codecs[] = {COMPRESSION_NONE,          COMPRESSION_LZW,
                                      COMPRESSION_ADOBE_DEFLATE, COMPRESSION_PACKBITS,
                                      COMPRESSION_ZSTD,          COMPRESSION_LZMA};
    unsigned k = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (unsigned layout = 0; layout < 4; layout++, k++) {
            uint16_t codec = codecs[(t + layout) % (sizeof codecs / sizeof codecs[0])];
            if (!TIFFIsCODECConfigured(codec))
                codec = COMPRESSION_ADOBE_DEFLATE;
            struct tiff_spec spec = {layout & 1 ? "wb" : "wl",
                                     types[t].bits,
                                     types[t].format,
                                     1,
                                     codec,
                                     layout & 2 ? 0 : 1 + check_rng_below(&rng_state, 9),
                                     layout & 2 ? 16 * (1 + check_rng_below(&rng_state, 2)) : 0};
            uint32_t h = 20 + check_rng_below(&rng_state, 40),
                     w = 20 + check_rng_below(&rng_state, 50);
            struct image a = image_new(h, w), b = image_new(h, w);
            random_scene(&a, &b, types[t].maxv);
            char fa[64], fb[64], what[160];
            snprintf(fa, sizeof fa, "dt%u_a.tif", k);
            snprintf(fb, sizeof fb, "sub/dt%u_b.tif", k);
            CHECK(tiff_write(fa, &spec, &a, 1));
            CHECK(tiff_write(fb, &spec, &b, 1));
            struct query q = {
                check_rng_below(&rng_state, 2) == 0, check_rng_below(&rng_state, 2) == 0,
                check_rng_below(&rng_state, 3) != 0, check_rng_below(&rng_state, 2) ? 0.5 : 0.75};
            snprintf(what, sizeof what, "%s%u %s %s codec %u %ux%u bg %d iou %d match %d",
                     types[t].format == SAMPLEFORMAT_INT ? "int" : "uint", types[t].bits, spec.mode,
                     spec.tile ? "tiles" : "strips", codec, h, w, q.include_background, q.iou,
                     q.match);
            if (!overlap_check(s, what, fa, fb, 0, 0, &a, &b, &q))
                fprintf(stderr, "    case %s\n", what);
            free(a.px);
            free(b.px);
        }

    /* One image in a different dtype and layout than the other; a bigger image spanning many
     * strips and tile rows; 1 x 1 and 1 x N; all background. */
    struct image a = image_new(301, 257), b = image_new(301, 257);
    random_scene(&a, &b, 60000);
    for (unsigned i = 0; i < 40; i++) {
        int y = (int)check_rng_below(&rng_state, 301), x = (int)check_rng_below(&rng_state, 257);
        paint(&a, y, x, y + 20, x + 25, 1 + check_rng_below(&rng_state, 60000));
        paint(&b, y + 2, x - 1, y + 18, x + 30, 1 + check_rng_below(&rng_state, 60000));
    }
    const struct tiff_spec sa = {"wb", 32, SAMPLEFORMAT_UINT, 1, COMPRESSION_ADOBE_DEFLATE, 0, 32};
    const struct tiff_spec sb = {"wl", 16, SAMPLEFORMAT_UINT, 1, COMPRESSION_LZW, 7, 0};
    CHECK(tiff_write("big_a.tif", &sa, &a, 1));
    CHECK(tiff_write("big_b.tif", &sb, &b, 1));
    const struct query all = {true, true, true, 0.5};
    overlap_check(s, "301x257 u32 tiles vs u16 strips", "big_a.tif", "big_b.tif", 0, 0, &a, &b,
                  &all);
    free(a.px);
    free(b.px);

    const uint32_t shapes[][2] = {{1, 1}, {1, 77}, {53, 1}};
    for (size_t i = 0; i < 3; i++) {
        a = image_new(shapes[i][0], shapes[i][1]);
        b = image_new(shapes[i][0], shapes[i][1]);
        for (size_t p = 0; p < (size_t)a.height * a.width; p++) {
            a.px[p] = p / 5 % 3;
            b.px[p] = (p + 2) / 7 % 4;
        }
        char fa[64], fb[64];
        snprintf(fa, sizeof fa, "thin%zu_a.tif", i);
        snprintf(fb, sizeof fb, "thin%zu_b.tif", i);
        CHECK(tiff_write(fa, &spec_u16, &a, 1));
        CHECK(tiff_write(fb, &spec_u16, &b, 1));
        overlap_check(s, "thin", fa, fb, 0, 0, &a, &b, &all);
        free(a.px);
        free(b.px);
    }
    a = image_new(9, 11);
    b = image_new(9, 11);
    CHECK(tiff_write("zero_a.tif", &spec_u16, &a, 1));
    CHECK(tiff_write("zero_b.tif", &spec_u16, &b, 1));
    overlap_check(s, "all background", "zero_a.tif", "zero_b.tif", 0, 0, &a, &b, &all);
    const struct query nobg = {false, true, true, 0.5};
    overlap_check(s, "all background, no bg rows", "zero_a.tif", "zero_b.tif", 0, 0, &a, &b, &nobg);
    free(a.px);
    free(b.px);
}

/* include_background, iou and match_threshold 0.5 / 0.7 / 1.0 on the matching scene, with
 * the expected values pinned by hand as well as by the reference. */
static void test_options(struct itest_server *s)
{
    const struct query qs[] = {
        {true, false, false, 0},  {false, false, false, 0},       {true, true, false, 0},
        {false, true, true, 0.5}, {true, false, true, 0.7},       {false, true, true, 1.0},
        {true, true, true, 0.75}, {true, true, true, 9.0 / 13.0},
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "scene query %zu", i);
        overlap_check(s, what, "scene_a.tif", "scene_b.tif", 0, 0, &scene_a, &scene_b, &qs[i]);
    }

    /* The reference itself, pinned: ties at exactly t count as matches. */
    const double ts[] = {0.5, 0.7, 1.0};
    const uint64_t tps[] = {6, 3, 1};
    for (size_t i = 0; i < 3; i++) {
        struct query q = {true, true, true, ts[i]};
        struct expect *e = expect_new(&scene_a, &scene_b, &q);
        CHECK_INT(e->labels_a, 9);
        CHECK_INT(e->labels_b, 9);
        CHECK_INT(e->tp, tps[i]);
        CHECK_INT(e->fn, 9 - tps[i]);
        CHECK_INT(e->fp, 9 - tps[i]);
        expect_free(e);
    }

    /* Default options: background rows listed, no iou, no matching. */
    struct itest_reply r;
    CHECK(post_json(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\"}", &r));
    CHECK_INT(r.status, 200);
    CHECK(json_object_get(r.json, "matching") == NULL);
    CHECK(json_object_get(json_object_get(r.json, "pairs"), "iou") == NULL);
    CHECK_INT(json_integer_value(
                  json_array_get(json_object_get(json_object_get(r.json, "pairs"), "a"), 0)),
              0);
    char ct[128];
    CHECK(itest_header(&r, "Content-Type", ct, sizeof ct) && strstr(ct, "application/json"));
    itest_reply_cleanup(&r);

    /* A Content-Type with parameters is still JSON; none at all is taken as JSON too. */
    const char *const hdr[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char body[] = "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\"}";
    CHECK(send_request(s, "POST", "/overlap", hdr, body, sizeof body - 1, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
}

/* page_a / page_b pick pages of multi-page files. */
static void test_pages(struct itest_server *s)
{
    struct image pa[3], pb[2];
    for (unsigned i = 0; i < 3; i++)
        pa[i] = image_new(17, 23);
    for (unsigned i = 0; i < 2; i++)
        pb[i] = image_new(17, 23);
    random_scene(&pa[0], &pb[0], 1000);
    random_scene(&pa[1], &pb[1], 1000);
    random_scene(&pa[2], &pb[0], 1000); /* pb[0] redrawn: page 0 of b is the last scene's */
    const struct tiff_spec spec = {"wl", 16, SAMPLEFORMAT_UINT, 1, COMPRESSION_ADOBE_DEFLATE, 4, 0};
    CHECK(tiff_write("pages_a.tif", &spec, pa, 3));
    CHECK(tiff_write("pages_b.tif", &spec, pb, 2));
    const struct query q = {true, true, true, 0.5};
    for (unsigned i = 0; i < 3; i++)
        for (unsigned k = 0; k < 2; k++) {
            char what[64];
            snprintf(what, sizeof what, "page_a %u page_b %u", i, k);
            overlap_check(s, what, "pages_a.tif", "pages_b.tif", i, k, &pa[i], &pb[k], &q);
        }
    expect_problem(s, "{\"a\":\"pages_a.tif\",\"b\":\"pages_b.tif\",\"page_b\":2}", 422,
                   (const char *const[]){"pages_b.tif", "page 2", "does not exist", NULL});
    expect_problem(s, "{\"a\":\"pages_a.tif\",\"b\":\"pages_b.tif\",\"page_a\":7}", 422,
                   (const char *const[]){"pages_a.tif", "page 7", NULL});
    expect_problem(s, "{\"a\":\"pages_a.tif\",\"b\":\"pages_b.tif\",\"page_a\":-1}", 400,
                   (const char *const[]){"page_a", NULL});
    expect_problem(s, "{\"a\":\"pages_a.tif\",\"b\":\"pages_b.tif\",\"page_a\":\"1\"}", 400,
                   (const char *const[]){"page_a", NULL});
    for (unsigned i = 0; i < 3; i++)
        free(pa[i].px);
    for (unsigned i = 0; i < 2; i++)
        free(pb[i].px);
}

/* Labels 2^32 - 1, 2^63 and 2^64 - 1 come back digit for digit. */
static void test_huge_labels(struct itest_server *s)
{
    const uint64_t big[] = {UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX, ((uint64_t)1 << 63) - 1,
                            (uint64_t)1 << 32};
    struct image a = image_new(12, 20), b = image_new(12, 20);
    for (unsigned i = 0; i < 5; i++) {
        paint(&a, 0, (int)(i * 4), 6, (int)(i * 4 + 4), big[i]);
        paint(&b, 1, (int)(i * 4 + 1), 7, (int)(i * 4 + 5), big[4 - i]);
        paint(&a, 7, (int)(i * 4), 12, (int)(i * 4 + 3), big[(i + 2) % 5]);
        paint(&b, 7, (int)(i * 4), 12, (int)(i * 4 + 3), big[(i + 2) % 5]);
    }
    const struct tiff_spec le = {"wl", 64, SAMPLEFORMAT_UINT, 1, COMPRESSION_NONE, 5, 0};
    const struct tiff_spec be = {"wb", 64, SAMPLEFORMAT_UINT, 1, COMPRESSION_ADOBE_DEFLATE, 0, 16};
    CHECK(tiff_write("huge_a.tif", &le, &a, 1));
    CHECK(tiff_write("huge_b.tif", &be, &b, 1));
    const struct query qs[] = {{true, true, true, 0.5}, {false, false, true, 1.0}};
    for (size_t i = 0; i < 2; i++)
        overlap_check(s, "huge labels", "huge_a.tif", "huge_b.tif", 0, 0, &a, &b, &qs[i]);

    /* Spelled out once, independent of the reference. */
    struct itest_reply r;
    CHECK(post_json(s, "{\"a\":\"huge_a.tif\",\"b\":\"huge_b.tif\",\"include_background\":false}",
                    &r));
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "18446744073709551615") != NULL);
    CHECK(strstr(r.body, "9223372036854775808") != NULL);
    CHECK(strstr(r.body, "9223372036854775807") != NULL);
    CHECK(strstr(r.body, "4294967295") != NULL);
    CHECK(strstr(r.body, "4294967296") != NULL);
    CHECK(strstr(r.body, "e+") == NULL && strstr(r.body, "E+") == NULL);
    itest_reply_cleanup(&r);
    free(a.px);
    free(b.px);
}

static void test_thresholds(struct itest_server *s)
{
    /* Any threshold in (0, 1] is matched (an optimal assignment below 0.5). */
    const double low[] = {0.3, 0.4999999, 0.1, 1e-9};
    for (size_t i = 0; i < sizeof low / sizeof low[0]; i++) {
        const struct query q = {true, true, true, low[i]};
        overlap_check(s, "low threshold", "scene_a.tif", "scene_b.tif", 0, 0, &scene_a, &scene_b,
                      &q);
    }
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":0}", 400,
                   (const char *const[]){"match_threshold", "(0, 1]", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":-0.5}", 400,
                   (const char *const[]){"match_threshold", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":1.5}", 400,
                   (const char *const[]){"match_threshold", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":1.0000001}",
                   400, (const char *const[]){"match_threshold", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":\"0.5\"}",
                   400, (const char *const[]){"match_threshold", NULL});
    /* Integers are numbers: 1 is the threshold 1.0. */
    const struct query q = {true, false, true, 1.0};
    struct itest_reply r;
    CHECK(post_json(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":1}", &r));
    CHECK_INT(r.status, 200);
    json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
    struct expect *e = expect_new(&scene_a, &scene_b, &q);
    size_t pos = 0;
    check_result("threshold 1", r.body, &pos, real, e);
    expect_free(e);
    json_decref(real);
    itest_reply_cleanup(&r);
}

/* POST json and return the parsed 200 answer (NULL, reported, on anything else). */
static json_t *answer_of(struct itest_server *s, const char *json)
{
    struct itest_reply r;
    json_t *out = NULL;
    if (CHECK(post_json(s, json, &r)) && CHECK_INT(r.status, 200))
        out = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
    else
        fprintf(stderr, "    request: %s\n    answer: %.300s\n", json, r.body ? r.body : "");
    itest_reply_cleanup(&r);
    return out;
}

static double tp_of(const json_t *m)
{
    return real_of(m, "tp");
}

/* match_threshold lists, criteria, stardist_float32 and report_matches on the matching scene. */
static void test_sweep(struct itest_server *s)
{
    /* A list answers an array in its order, each element the single-threshold answer. */
    const double ts[] = {0.7, 0.3, 0.5, 1.0, 0.05};
    json_t *list = answer_of(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\","
                                "\"match_threshold\":[0.7,0.3,0.5,1,0.05]}");
    const json_t *ms = json_object_get(list, "matching");
    if (CHECK(json_is_array(ms)) && CHECK_INT(json_array_size(ms), 5))
        for (size_t i = 0; i < 5; i++) {
            char body[160];
            snprintf(body, sizeof body,
                     "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":%.17g}",
                     ts[i]);
            json_t *one = answer_of(s, body);
            const json_t *m1 = json_object_get(one, "matching");
            CHECK(json_is_object(m1));
            if (!CHECK(json_equal(json_array_get(ms, i), m1)))
                fprintf(stderr, "    threshold %g differs in the list\n", ts[i]);
            json_decref(one);
        }
    /* A one-element list is still a list. */
    json_t *single = answer_of(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\","
                                  "\"match_threshold\":[0.5]}");
    CHECK(json_is_array(json_object_get(single, "matching")));
    CHECK_INT(json_array_size(json_object_get(single, "matching")), 1);
    json_decref(single);
    json_decref(list);

    /* Criteria, pinned by hand on the scene: at t = 1, iop matches 2 with a half (20 or 21),
     * 3 with 30 (inside it) and 6 with 60; iot matches 4 or 5 with 40 (each inside it), 6
     * with 60 and 9 with 90. */
    static const char *const crit[] = {"iou", "iot", "iop"};
    const double tp_at_1[] = {1, 3, 3};
    for (size_t i = 0; i < 3; i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":1,"
                 "\"criterion\":\"%s\"}",
                 crit[i]);
        json_t *ans = answer_of(s, body);
        const json_t *m = json_object_get(ans, "matching");
        CHECK(strcmp(json_string_value(json_object_get(m, "criterion")), crit[i]) == 0);
        if (!CHECK(tp_of(m) == tp_at_1[i]))
            fprintf(stderr, "    criterion %s: tp %g, want %g\n", crit[i], tp_of(m), tp_at_1[i]);
        CHECK(real_of(m, "n_true") == 9 && real_of(m, "n_pred") == 9);
        json_decref(ans);
    }

    /* A score equal to the threshold. Cell 3 is cut to exactly 7 of 10 pixels: IoU 7/10
     * matches at t = 0.7 in both modes (the double 0.7 is just below 7/10, and float32(0.7)
     * >= float32(0.7)). Cell 1 has iop 36/40: the double 0.9 is just above 9/10, so exact
     * arithmetic does not match it at t = 0.9, while StarDist's float32(0.9) >= float32(0.9)
     * does. */
    for (int f32 = 0; f32 < 2; f32++) {
        char body[220];
        snprintf(body, sizeof body,
                 "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":0.7,"
                 "\"report_matches\":true,\"stardist_float32\":%s}",
                 f32 ? "true" : "false");
        json_t *ans = answer_of(s, body);
        const json_t *m = json_object_get(ans, "matching");
        const json_t *mt = json_object_get(m, "matches");
        const json_t *ma = json_object_get(mt, "a"), *mb = json_object_get(mt, "b");
        const json_t *msc = json_object_get(mt, "score"), *mtp = json_object_get(mt, "tp");
        CHECK(tp_of(m) == 3);
        size_t n = json_array_size(ma), tps = 0;
        CHECK(n > 0 && json_array_size(mb) == n && json_array_size(msc) == n &&
              json_array_size(mtp) == n);
        bool cell3 = false;
        for (size_t i = 0; i < n; i++) {
            tps += json_is_true(json_array_get(mtp, i));
            if (json_number_value(json_array_get(ma, i)) == 3) {
                cell3 = CHECK(json_number_value(json_array_get(mb, i)) == 30) &&
                        CHECK(json_is_true(json_array_get(mtp, i)));
                CHECK(fabs(json_number_value(json_array_get(msc, i)) - 0.7) < 1e-6);
            }
            if (i > 0)
                CHECK(json_number_value(json_array_get(ma, i - 1)) <=
                      json_number_value(json_array_get(ma, i)));
        }
        CHECK(cell3);
        CHECK_INT(tps, 3);
        CHECK_INT(json_object_size(m), 16);
        json_decref(ans);

        snprintf(body, sizeof body,
                 "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":0.9,"
                 "\"criterion\":\"iop\",\"stardist_float32\":%s}",
                 f32 ? "true" : "false");
        ans = answer_of(s, body);
        m = json_object_get(ans, "matching");
        if (!CHECK(tp_of(m) == (f32 ? 4 : 3)))
            fprintf(stderr, "    iop 0.9 float32 %d: tp %g\n", f32, tp_of(m));
        CHECK(json_object_get(m, "matches") == NULL);
        json_decref(ans);
    }

    const char *const bad[][2] = {
        {"\"match_threshold\":[]", "match_threshold"},
        {"\"match_threshold\":[0.5,\"0.7\"]", "[1]"},
        {"\"match_threshold\":[0.5,0]", "(0, 1]"},
        {"\"match_threshold\":[0.5,1.5]", "[1]"},
        {"\"match_threshold\":[null]", "[0]"},
        {"\"match_threshold\":[[0.5]]", "[0]"},
        {"\"match_threshold\":{\"t\":0.5}", "match_threshold"},
        {"\"match_threshold\":0.5,\"criterion\":\"dice\"", "criterion"},
        {"\"match_threshold\":0.5,\"criterion\":1", "criterion"},
        {"\"match_threshold\":0.5,\"stardist_float32\":1", "stardist_float32"},
        {"\"match_threshold\":0.5,\"report_matches\":\"yes\"", "report_matches"},
        {"\"metrics\":[\"aji\",\"dice\"]", "[1]"},
        {"\"metrics\":\"aji\"", "metrics"},
        {"\"metrics\":[1]", "metrics"},
        {"\"match_threshold\":0.5,\"aggregate\":\"pooled\"", "pairs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",%s}", bad[i][0]);
        expect_problem(s, body, 400, (const char *const[]){bad[i][1], NULL});
    }
    char many[12000] = "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"match_threshold\":[0.5";
    for (int i = 0; i < 1000; i++)
        strcat(many, ",0.5");
    strcat(many, "]}");
    expect_problem(s, many, 400, (const char *const[]){"1001", "1000", NULL});
}

/* metrics: AJI, VI and adapted Rand; background rows hidden but counted. */
static void test_metrics(struct itest_server *s)
{
    /* Identical images: AJI 1, no conditional entropy, a perfect Rand score. */
    json_t *same = answer_of(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_a.tif\","
                                "\"metrics\":[\"aji\",\"vi\",\"adapted_rand\"]}");
    const json_t *m = json_object_get(same, "metrics");
    CHECK_INT(json_object_size(m), 3);
    CHECK(real_of(m, "aji") == 1.0);
    const json_t *vi = json_object_get(m, "vi"), *ar = json_object_get(m, "adapted_rand");
    CHECK(fabs(real_of(vi, "h_pred_given_true")) < 1e-12);
    CHECK(fabs(real_of(vi, "h_true_given_pred")) < 1e-12);
    CHECK(fabs(real_of(ar, "error")) < 1e-12);
    CHECK(real_of(ar, "precision") == 1.0 && real_of(ar, "recall") == 1.0);
    CHECK(json_object_get(same, "matching") == NULL);
    json_decref(same);

    /* The scene, with and without background rows: the metrics are the same, since
     * background pairs are counted either way; the pairs table hides them on request. */
    json_t *with = answer_of(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"iou\":true,"
                                "\"metrics\":[\"adapted_rand\",\"vi\",\"aji\"]}");
    json_t *without = answer_of(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"iou\":true,"
                                   "\"include_background\":false,"
                                   "\"metrics\":[\"adapted_rand\",\"vi\",\"aji\"]}");
    CHECK(json_equal(json_object_get(with, "metrics"), json_object_get(without, "metrics")));
    double aji = real_of(json_object_get(with, "metrics"), "aji");
    CHECK(aji > 0 && aji < 1);
    double h0 =
        real_of(json_object_get(json_object_get(with, "metrics"), "vi"), "h_pred_given_true");
    CHECK(h0 > 0);
    const json_t *pw = json_object_get(without, "pairs");
    size_t n = json_array_size(json_object_get(pw, "a"));
    CHECK_INT(n, 9); /* the scene's 18 pairs less its 9 with a background label */
    CHECK_INT(json_array_size(json_object_get(pw, "iou")), n);
    for (size_t i = 0; i < n; i++)
        CHECK(json_number_value(json_array_get(json_object_get(pw, "a"), i)) != 0 &&
              json_number_value(json_array_get(json_object_get(pw, "b"), i)) != 0);
    CHECK_INT(json_array_size(json_object_get(json_object_get(with, "pairs"), "a")), 18);
    json_decref(with);
    json_decref(without);

    /* Adapted Rand on an all-background truth divides 0 by 0: null, as skimage's NaN. */
    json_t *zero = answer_of(s, "{\"a\":\"zero_a.tif\",\"b\":\"zero_b.tif\","
                                "\"metrics\":[\"adapted_rand\"]}");
    const json_t *zr = json_object_get(json_object_get(zero, "metrics"), "adapted_rand");
    CHECK(json_is_null(json_object_get(zr, "error")));
    json_decref(zero);
}

/* aggregate over a batch: StarDist's matching_dataset, failing pairs left out. */
static void test_aggregate(struct itest_server *s)
{
    const char *pairs = "\"pairs\":[{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\"},"
                        "{\"a\":\"scene_a.tif\",\"b\":\"no/such.tif\"},"
                        "{\"a\":\"batch1_a.tif\",\"b\":\"batch1_b.tif\"}]";
    for (int by_image = 0; by_image < 2; by_image++) {
        char body[400];
        snprintf(body, sizeof body,
                 "{%s,\"include_background\":false,\"match_threshold\":[0.3,0.5],"
                 "\"aggregate\":\"%s\"}",
                 pairs, by_image ? "by_image" : "pooled");
        json_t *ans = answer_of(s, body);
        const json_t *results = json_object_get(ans, "results");
        const json_t *d = json_object_get(ans, "dataset");
        CHECK_INT(json_array_size(results), 3);
        CHECK(json_object_get(json_array_get(results, 1), "error") != NULL);
        CHECK(real_of(d, "images") == 2);
        CHECK(strcmp(json_string_value(json_object_get(d, "aggregate")),
                     by_image ? "by_image" : "pooled") == 0);
        const json_t *dm = json_object_get(d, "matching");
        if (!CHECK(json_is_array(dm)) || !CHECK_INT(json_array_size(dm), 2)) {
            json_decref(ans);
            continue;
        }
        for (size_t t = 0; t < 2; t++) {
            const json_t *m0 =
                json_array_get(json_object_get(json_array_get(results, 0), "matching"), t);
            const json_t *m2 =
                json_array_get(json_object_get(json_array_get(results, 2), "matching"), t);
            const json_t *agg = json_array_get(dm, t);
            CHECK(real_of(agg, "threshold") == (t ? 0.5 : 0.3));
            static const char *const counts[] = {"tp", "fp", "fn", "n_true", "n_pred"};
            for (size_t k = 0; k < 5; k++)
                CHECK(real_of(agg, counts[k]) == real_of(m0, counts[k]) + real_of(m2, counts[k]));
            double tp = real_of(agg, "tp"), fp = real_of(agg, "fp");
            double want_p = by_image ? (real_of(m0, "precision") + real_of(m2, "precision")) / 2
                                     : tp / (tp + fp);
            CHECK(near(real_of(agg, "precision"), want_p));
            double sum = real_of(m0, "mean_matched_score") * real_of(m0, "tp") +
                         real_of(m2, "mean_matched_score") * real_of(m2, "tp");
            double want_mms =
                by_image
                    ? (real_of(m0, "mean_matched_score") + real_of(m2, "mean_matched_score")) / 2
                    : sum / tp;
            CHECK(fabs(real_of(agg, "mean_matched_score") - want_mms) < 1e-12);
        }
        json_decref(ans);
    }
    /* One threshold: objects, like matching. */
    char body[400];
    snprintf(body, sizeof body, "{%s,\"match_threshold\":0.5,\"aggregate\":\"pooled\"}", pairs);
    json_t *ans = answer_of(s, body);
    CHECK(json_is_object(json_object_get(json_object_get(ans, "dataset"), "matching")));
    json_decref(ans);
    /* No aggregate: no dataset. */
    snprintf(body, sizeof body, "{%s,\"match_threshold\":0.5}", pairs);
    ans = answer_of(s, body);
    CHECK(json_object_get(ans, "dataset") == NULL);
    json_decref(ans);

    snprintf(body, sizeof body, "{%s,\"match_threshold\":0.5,\"aggregate\":\"sum\"}", pairs);
    expect_problem(s, body, 400, (const char *const[]){"aggregate", NULL});
    snprintf(body, sizeof body, "{%s,\"aggregate\":\"pooled\"}", pairs);
    expect_problem(s, body, 400, (const char *const[]){"aggregate", "match_threshold", NULL});
}

/* multipart/form-data: parts a, b, options give the same answer as the path form. */
static void test_multipart(struct itest_server *s)
{
    size_t la = 0, lb = 0;
    unsigned char *ta = check_slurp(root, "scene_a.tif", &la),
                  *tb = check_slurp(root, "scene_b.tif", &lb);
    CHECK(ta != NULL && tb != NULL);
    const char *options = "{\"iou\":true,\"include_background\":false,\"match_threshold\":0.5}";
    const struct query q = {false, true, true, 0.5};
    struct upload parts[] = {
        {"a", ta, la, "a.tif"},
        {"b", tb, lb, "b.tif"},
        {"options", options, strlen(options), NULL},
    };
    struct itest_reply r;
    CHECK(post_mime(s, parts, 3, &r));
    if (CHECK_INT(r.status, 200)) {
        json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
        struct expect *e = expect_new(&scene_a, &scene_b, &q);
        size_t pos = 0;
        check_result("multipart", r.body, &pos, real, e);
        expect_free(e);
        json_decref(real);
    } else {
        fprintf(stderr, "    multipart: %.300s\n", r.body);
    }
    itest_reply_cleanup(&r);

    /* Without options: the defaults; parts in another order. */
    struct upload swapped[] = {{"b", tb, lb, "b.tif"}, {"a", ta, la, "a.tif"}};
    const struct query defaults = {true, false, false, 0};
    CHECK(post_mime(s, swapped, 2, &r));
    if (CHECK_INT(r.status, 200)) {
        json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
        struct expect *e = expect_new(&scene_a, &scene_b, &defaults);
        size_t pos = 0;
        check_result("multipart defaults", r.body, &pos, real, e);
        expect_free(e);
        json_decref(real);
    }
    itest_reply_cleanup(&r);

    /* A big-endian tiled upload with huge labels. */
    size_t lh = 0, lh2 = 0;
    unsigned char *ha = check_slurp(root, "huge_a.tif", &lh),
                  *hb = check_slurp(root, "huge_b.tif", &lh2);
    struct upload huge[] = {{"a", ha, lh, "a.tif"}, {"b", hb, lh2, "b.tif"}};
    CHECK(post_mime(s, huge, 2, &r));
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "18446744073709551615") != NULL);
    itest_reply_cleanup(&r);
    free(ha);
    free(hb);

    /* Refusals. */
    CHECK(post_mime(s, parts, 1, &r));
    problem_with(&r, 400, (const char *const[]){"'b'", NULL});
    itest_reply_cleanup(&r);
    struct upload stray[] = {{"a", ta, la, "a.tif"}, {"b", tb, lb, "b.tif"}, {"c", "x", 1, NULL}};
    CHECK(post_mime(s, stray, 3, &r));
    problem_with(&r, 400, (const char *const[]){"'c'", NULL});
    itest_reply_cleanup(&r);
    struct upload bad_opts[] = {
        {"a", ta, la, "a.tif"}, {"b", tb, lb, "b.tif"}, {"options", "{\"iou\":", 7, NULL}};
    CHECK(post_mime(s, bad_opts, 3, &r));
    problem_with(&r, 400, (const char *const[]){"options", NULL});
    itest_reply_cleanup(&r);
    struct upload path_opts[] = {{"a", ta, la, "a.tif"},
                                 {"b", tb, lb, "b.tif"},
                                 {"options", "{\"a\":\"scene_a.tif\"}", 19, NULL}};
    CHECK(post_mime(s, path_opts, 3, &r));
    problem_with(&r, 400, (const char *const[]){"'a'", NULL});
    itest_reply_cleanup(&r);
    struct upload low[] = {{"a", ta, la, "a.tif"},
                           {"b", tb, lb, "b.tif"},
                           {"options", "{\"match_threshold\":0}", 21, NULL}};
    CHECK(post_mime(s, low, 3, &r));
    problem_with(&r, 400, (const char *const[]){"match_threshold", NULL});
    itest_reply_cleanup(&r);
    struct upload agg[] = {
        {"a", ta, la, "a.tif"},
        {"b", tb, lb, "b.tif"},
        {"options", "{\"match_threshold\":0.5,\"aggregate\":\"pooled\"}", 44, NULL}};
    CHECK(post_mime(s, agg, 3, &r));
    problem_with(&r, 400, (const char *const[]){"aggregate", "pairs", NULL});
    itest_reply_cleanup(&r);
    struct upload garbage[] = {{"a", "GIF89a", 6, "a.tif"}, {"b", tb, lb, "b.tif"}};
    CHECK(post_mime(s, garbage, 2, &r));
    problem_with(&r, 422, NULL);
    itest_reply_cleanup(&r);
    struct upload truncated[] = {{"a", ta, la / 2, "a.tif"}, {"b", tb, lb, "b.tif"}};
    CHECK(post_mime(s, truncated, 2, &r));
    CHECK(r.status == 422 || r.status == 400);
    CHECK(r.json != NULL);
    itest_reply_cleanup(&r);

    /* Hand-made bodies curl would not send. */
    const char *const no_boundary[] = {"Content-Type: multipart/form-data", NULL};
    CHECK(send_request(s, "POST", "/overlap", no_boundary, "--x--", 5, &r));
    problem_with(&r, 400, (const char *const[]){"boundary", NULL});
    itest_reply_cleanup(&r);
    const char *const with_boundary[] = {"Content-Type: multipart/form-data; boundary=zz", NULL};
    const char unclosed[] = "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nII*";
    CHECK(send_request(s, "POST", "/overlap", with_boundary, unclosed, sizeof unclosed - 1, &r));
    problem_with(&r, 400, (const char *const[]){"boundary", NULL});
    itest_reply_cleanup(&r);
    free(ta);
    free(tb);
}

/* {"pairs": [...]}: results in order, a failing pair fails alone. */
static void test_batch(struct itest_server *s)
{
    struct image a1 = image_new(20, 30), b1 = image_new(20, 30);
    struct image a2 = image_new(33, 18), b2 = image_new(33, 18);
    random_scene(&a1, &b1, 200);
    random_scene(&a2, &b2, 70000);
    const struct tiff_spec s32 = {"wb", 32, SAMPLEFORMAT_UINT, 1, COMPRESSION_LZW, 0, 16};
    CHECK(tiff_write("batch1_a.tif", &spec_u16, &a1, 1));
    CHECK(tiff_write("batch1_b.tif", &spec_u16, &b1, 1));
    CHECK(tiff_write("batch2_a.tif", &s32, &a2, 1));
    CHECK(tiff_write("batch2_b.tif", &s32, &b2, 1));
    const struct tiff_spec f32 = {"wl", 32, SAMPLEFORMAT_IEEEFP, 1, COMPRESSION_NONE, 4, 0};
    CHECK(tiff_write("batch_float.tif", &f32, &a1, 1));

    const char *body = "{\"pairs\":["
                       "{\"a\":\"batch1_a.tif\",\"b\":\"batch1_b.tif\"},"
                       "{\"a\":\"batch1_a.tif\",\"b\":\"no/such.tif\"},"
                       "{\"a\":\"batch2_a.tif\",\"b\":\"batch2_b.tif\"},"
                       "{\"a\":\"batch1_a.tif\",\"b\":\"batch2_b.tif\"},"
                       "{\"a\":\"batch_float.tif\",\"b\":\"batch1_b.tif\"},"
                       "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\"},"
                       "{\"a\":\"pages_a.tif\",\"b\":\"pages_b.tif\",\"page_a\":7},"
                       "{\"a\":\"batch2_a.tif\",\"b\":\"batch2_b.tif\",\"page_b\":0}"
                       "],\"iou\":true,\"include_background\":false,\"match_threshold\":0.5}";
    const struct query q = {false, true, true, 0.5};
    struct itest_reply r;
    CHECK(post_json(s, body, &r));
    CHECK_INT(r.status, 200);
    json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
    const json_t *results = json_object_get(real, "results");
    CHECK_INT(json_object_size(real), 1);
    if (CHECK_INT(json_array_size(results), 8)) {
        static const char *const names[][2] = {
            {"batch1_a.tif", "batch1_b.tif"},    {"batch1_a.tif", "no/such.tif"},
            {"batch2_a.tif", "batch2_b.tif"},    {"batch1_a.tif", "batch2_b.tif"},
            {"batch_float.tif", "batch1_b.tif"}, {"scene_a.tif", "scene_b.tif"},
            {"pages_a.tif", "pages_b.tif"},      {"batch2_a.tif", "batch2_b.tif"}};
        const struct image *ok_a[] = {&a1, NULL, &a2, NULL, NULL, &scene_a, NULL, &a2};
        const struct image *ok_b[] = {&b1, NULL, &b2, NULL, NULL, &scene_b, NULL, &b2};
        const long fail_status[] = {0, 404, 0, 422, 422, 0, 422, 0};
        const char *const fail_word[] = {NULL,       "no/such.tif", NULL,     "20 x 30",
                                         "floating", NULL,          "page 7", NULL};
        size_t pos = 0;
        for (size_t i = 0; i < 8; i++) {
            const json_t *item = json_array_get(results, i);
            CHECK_STR(json_string_value(json_object_get(item, "a")), names[i][0]);
            CHECK_STR(json_string_value(json_object_get(item, "b")), names[i][1]);
            const json_t *error = json_object_get(item, "error");
            if (ok_a[i] != NULL) {
                CHECK(error == NULL);
                struct expect *e = expect_new(ok_a[i], ok_b[i], &q);
                char what[32];
                snprintf(what, sizeof what, "batch result %zu", i);
                check_result(what, r.body, &pos, item, e);
                CHECK_INT(json_object_size(item), 8);
                expect_free(e);
                continue;
            }
            CHECK_INT(json_object_size(item), 3);
            CHECK(json_object_get(item, "pairs") == NULL);
            CHECK(real_of(error, "status") == (double)fail_status[i]);
            CHECK(json_is_string(json_object_get(error, "type")));
            CHECK(json_is_string(json_object_get(error, "title")));
            const char *detail = json_string_value(json_object_get(error, "detail"));
            if (!CHECK(detail != NULL && strstr(detail, fail_word[i]) != NULL))
                fprintf(stderr, "    batch %zu: detail '%s'\n", i, detail ? detail : "");
        }
    }
    json_decref(real);
    itest_reply_cleanup(&r);

    /* Batch refusals as a whole. */
    expect_problem(s, "{\"pairs\":[]}", 400, (const char *const[]){"pairs", NULL});
    expect_problem(s,
                   "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"pairs\":[{\"a\":\"scene_a.tif\","
                   "\"b\":\"scene_b.tif\"}]}",
                   400, (const char *const[]){"pairs", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"pairs\":[{\"a\":\"x\",\"b\":\"y\"}]}", 400, NULL);
    expect_problem(s, "{\"pairs\":[{\"a\":\"scene_a.tif\"}]}", 400,
                   (const char *const[]){"'b'", NULL});
    expect_problem(s, "{\"pairs\":[\"scene_a.tif\"]}", 400,
                   (const char *const[]){"pairs[0]", NULL});
    expect_problem(s, "{\"pairs\":[{\"a\":\"x\",\"b\":\"y\",\"iou\":true}]}", 400,
                   (const char *const[]){"iou", NULL});
    expect_problem(s, "{\"pairs\":{\"a\":\"x\",\"b\":\"y\"}}", 400,
                   (const char *const[]){"pairs", NULL});
    free(a1.px);
    free(b1.px);
    free(a2.px);
    free(b2.px);
}

/* Every 4xx of the JSON form. */
static void test_refusals(struct itest_server *s)
{
    /* Images the loader must refuse. */
    struct image small = image_new(10, 20), other = image_new(12, 20);
    paint(&small, 2, 2, 5, 9, 3);
    paint(&other, 2, 2, 5, 9, 4);
    CHECK(tiff_write("shape_a.tif", &spec_u16, &small, 1));
    CHECK(tiff_write("shape_b.tif", &spec_u16, &other, 1));
    expect_problem(s, "{\"a\":\"shape_a.tif\",\"b\":\"shape_b.tif\"}", 422,
                   (const char *const[]){"10 x 20", "12 x 20", "shape_a.tif", "shape_b.tif", NULL});
    struct image wide = image_new(10, 21);
    CHECK(tiff_write("shape_c.tif", &spec_u16, &wide, 1));
    expect_problem(s, "{\"a\":\"shape_a.tif\",\"b\":\"shape_c.tif\"}", 422,
                   (const char *const[]){"10 x 20", "10 x 21", NULL});

    const struct tiff_spec f32 = {"wl", 32, SAMPLEFORMAT_IEEEFP, 1, COMPRESSION_NONE, 4, 0};
    const struct tiff_spec f64 = {"wb", 64, SAMPLEFORMAT_IEEEFP, 1, COMPRESSION_NONE, 0, 16};
    const struct tiff_spec rgb = {"wl", 8, SAMPLEFORMAT_UINT, 3, COMPRESSION_NONE, 4, 0};
    const struct tiff_spec i16 = {"wb", 16, SAMPLEFORMAT_INT, 1, COMPRESSION_LZW, 3, 0};
    CHECK(tiff_write("float32.tif", &f32, &small, 1));
    CHECK(tiff_write("float64.tif", &f64, &small, 1));
    CHECK(tiff_write("rgb.tif", &rgb, &small, 1));
    struct image neg = image_new(10, 20);
    paint(&neg, 6, 3, 8, 7, (uint64_t)-3);
    paint(&neg, 1, 1, 3, 3, 5);
    CHECK(tiff_write("negative.tif", &i16, &neg, 1));
    expect_problem(s, "{\"a\":\"float32.tif\",\"b\":\"shape_a.tif\"}", 422,
                   (const char *const[]){"float32.tif", "floating", NULL});
    expect_problem(s, "{\"a\":\"shape_a.tif\",\"b\":\"float64.tif\"}", 422,
                   (const char *const[]){"float64.tif", "floating", NULL});
    expect_problem(s, "{\"a\":\"rgb.tif\",\"b\":\"shape_a.tif\"}", 422,
                   (const char *const[]){"rgb.tif", "3 samples", NULL});
    expect_problem(s, "{\"a\":\"shape_a.tif\",\"b\":\"negative.tif\"}", 422,
                   (const char *const[]){"negative", "-3", NULL});
    expect_problem(s, "{\"a\":\"negative.tif\",\"b\":\"shape_a.tif\"}", 422,
                   (const char *const[]){"negative", "-3", NULL});
    expect_problem(s, "{\"a\":\"not_a_tiff.tif\",\"b\":\"shape_a.tif\"}", 422,
                   (const char *const[]){"not_a_tiff.tif", NULL});
    expect_problem(s, "{\"a\":\"shape_a.tif\",\"b\":\"empty.tif\"}", 422,
                   (const char *const[]){"empty.tif", NULL});

    const struct tiff_spec jpeg = {"wl", 8, SAMPLEFORMAT_UINT, 1, COMPRESSION_JPEG, 8, 0};
    struct image j16 = image_new(16, 16);
    paint(&j16, 0, 0, 8, 8, 1);
    if (TIFFIsCODECConfigured(COMPRESSION_JPEG) && tiff_write("jpeg.tif", &jpeg, &j16, 1)) {
        struct image j16b = image_new(16, 16);
        CHECK(tiff_write("jpeg_peer.tif", &spec_u16, &j16b, 1));
        expect_problem(s, "{\"a\":\"jpeg.tif\",\"b\":\"jpeg_peer.tif\"}", 422,
                       (const char *const[]){"jpeg.tif", "JPEG", NULL});
        free(j16b.px);
    } else {
        printf("note: libtiff cannot write JPEG here; the JPEG refusal is not tested\n");
    }
    free(j16.px);

    /* Paths. */
    expect_problem(s, "{\"a\":\"../scene_a.tif\",\"b\":\"scene_b.tif\"}", 403, NULL);
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"/etc/passwd\"}", 403, NULL);
    expect_problem(s, "{\"a\":\"sub/../../x.tif\",\"b\":\"scene_b.tif\"}", 403, NULL);
    expect_problem(s, "{\"a\":\"missing.tif\",\"b\":\"scene_b.tif\"}", 404,
                   (const char *const[]){"missing.tif", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"sub/missing.tif\"}", 404,
                   (const char *const[]){"sub/missing.tif", NULL});
    expect_problem(s, "{\"a\":\"dir.tif\",\"b\":\"scene_b.tif\"}", 422, NULL);
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"\"}", 422, NULL);

    /* The body. */
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"bogus\":1}", 400,
                   (const char *const[]){"bogus", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\"}", 400, (const char *const[]){"'b'", NULL});
    expect_problem(s, "{}", 400, NULL);
    expect_problem(s, "{\"a\":1,\"b\":\"scene_b.tif\"}", 400, (const char *const[]){"'a'", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"iou\":1}", 400,
                   (const char *const[]){"iou", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\",\"include_background\":\"no\"}",
                   400, (const char *const[]){"include_background", NULL});
    expect_problem(s, "{\"a\":\"scene_a.tif\",\"a\":\"scene_b.tif\",\"b\":\"scene_b.tif\"}", 400,
                   NULL);
    expect_problem(s, "[\"scene_a.tif\",\"scene_b.tif\"]", 400, NULL);
    expect_problem(s, "{\"a\":\"scene_a.tif\",", 400, NULL);

    struct itest_reply r;
    const char *const text[] = {"Content-Type: text/plain", NULL};
    const char body[] = "{\"a\":\"scene_a.tif\",\"b\":\"scene_b.tif\"}";
    CHECK(send_request(s, "POST", "/overlap", text, body, sizeof body - 1, &r));
    problem_with(&r, 415, NULL);
    itest_reply_cleanup(&r);
    const char *const octets[] = {"Content-Type: application/octet-stream", NULL};
    CHECK(send_request(s, "POST", "/overlap", octets, "II*\0", 4, &r));
    problem_with(&r, 415, NULL);
    itest_reply_cleanup(&r);
    const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    CHECK(send_request(s, "POST", "/overlap", form, "a=1&b=2", 7, &r));
    problem_with(&r, 415, NULL);
    itest_reply_cleanup(&r);
    CHECK(send_request(s, "POST", "/overlap?iou=true", json_headers, body, sizeof body - 1, &r));
    problem_with(&r, 400, (const char *const[]){"iou", NULL});
    itest_reply_cleanup(&r);
    CHECK(send_request(s, "GET", "/overlap", NULL, NULL, 0, &r));
    itest_is_problem(&r, 405);
    itest_reply_cleanup(&r);

    free(small.px);
    free(other.px);
    free(wide.px);
    free(neg.px);
}

/* A server with --max-batch 2 --max-pairs 10 --max-pixels 2000. */
static void test_limits(void)
{
    struct itest_server s;
    const char *const extra[] = {
        "--max-batch",           "2", "--max-pairs", "10", "--max-pixels", "2000",
        "--max-match-component", "1", NULL};
    server_extra = extra;
    if (!CHECK(itest_start(&s, root, extra)))
        return;

    /* 10 distinct pairs: fits exactly; 11 pairs: over --max-pairs. */
    struct image a = image_new(20, 40), b = image_new(20, 40);
    for (unsigned i = 0; i < 3; i++)
        paint(&a, 0, (int)i * 10, 20, (int)i * 10 + 10, i);
    for (unsigned i = 0; i < 3; i++)
        paint(&b, (int)i * 7, 0, (int)i * 7 + 7, 30, 10 + i);
    CHECK(tiff_write("few_a.tif", &spec_u16, &a, 1));
    CHECK(tiff_write("few_b.tif", &spec_u16, &b, 1));
    const struct query q = {true, true, false, 0};
    overlap_check(&s, "10 pairs at --max-pairs 10", "few_a.tif", "few_b.tif", 0, 0, &a, &b, &q);
    paint(&b, 0, 30, 20, 40, 20); /* columns 30..39: (0, 20) and (3, 20) replace (0, 0) */
    paint(&a, 0, 35, 20, 40, 3);
    CHECK(tiff_write("many_b.tif", &spec_u16, &b, 1));
    CHECK(tiff_write("many_a.tif", &spec_u16, &a, 1));
    expect_problem(&s, "{\"a\":\"many_a.tif\",\"b\":\"many_b.tif\"}", 413,
                   (const char *const[]){"max_pairs", "10", NULL});
    size_t la = 0, lb = 0;
    unsigned char *ta = check_slurp(root, "many_a.tif", &la),
                  *tb = check_slurp(root, "many_b.tif", &lb);
    struct upload up[] = {{"a", ta, la, "a.tif"}, {"b", tb, lb, "b.tif"}};
    struct itest_reply r;
    CHECK(post_mime(&s, up, 2, &r));
    problem_with(&r, 413, (const char *const[]){"max_pairs", "10", NULL});
    itest_reply_cleanup(&r);
    free(ta);
    free(tb);

    /* 2000 pixels pass, 2001 do not. */
    struct image p1 = image_new(40, 50), p2 = image_new(41, 49), p3 = image_new(1, 2001);
    CHECK(tiff_write("px2000_a.tif", &spec_u16, &p1, 1));
    CHECK(tiff_write("px2000_b.tif", &spec_u16, &p1, 1));
    CHECK(tiff_write("px2009.tif", &spec_u16, &p2, 1));
    CHECK(tiff_write("px2001.tif", &spec_u16, &p3, 1));
    overlap_check(&s, "2000 pixels", "px2000_a.tif", "px2000_b.tif", 0, 0, &p1, &p1, &q);
    expect_problem(&s, "{\"a\":\"px2009.tif\",\"b\":\"px2000_b.tif\"}", 413,
                   (const char *const[]){"px2009.tif", "max_pixels", NULL});
    expect_problem(&s, "{\"a\":\"px2000_a.tif\",\"b\":\"px2001.tif\"}", 413,
                   (const char *const[]){"px2001.tif", "2001", NULL});

    /* Batches of 2 pass, of 3 do not; a pair over a limit fails alone. */
    const char *two = "{\"pairs\":[{\"a\":\"few_a.tif\",\"b\":\"few_b.tif\"},"
                      "{\"a\":\"many_a.tif\",\"b\":\"many_b.tif\"}]}";
    CHECK(post_json(&s, two, &r));
    CHECK_INT(r.status, 200);
    const json_t *results = json_object_get(r.json, "results");
    CHECK_INT(json_array_size(results), 2);
    CHECK(json_object_get(json_array_get(results, 0), "pairs") != NULL);
    CHECK_INT(json_integer_value(
                  json_object_get(json_object_get(json_array_get(results, 1), "error"), "status")),
              413);
    itest_reply_cleanup(&r);
    expect_problem(&s,
                   "{\"pairs\":[{\"a\":\"few_a.tif\",\"b\":\"few_b.tif\"},"
                   "{\"a\":\"few_a.tif\",\"b\":\"few_b.tif\"},"
                   "{\"a\":\"few_a.tif\",\"b\":\"few_b.tif\"}]}",
                   413, (const char *const[]){"3", "2", NULL});

    /* --max-match-component 1: at t = 0.5 a cell split into two halves (2 pairs) needs
     * an assignment and is refused; at 0.7 every component is already a matching. */
    struct image sa = image_new(4, 8), sb = image_new(4, 8);
    paint(&sa, 0, 0, 2, 4, 1);
    paint(&sb, 0, 0, 2, 2, 1);
    paint(&sb, 0, 2, 2, 4, 2);
    CHECK(tiff_write("split_a.tif", &spec_u16, &sa, 1));
    CHECK(tiff_write("split_b.tif", &spec_u16, &sb, 1));
    free(sa.px);
    free(sb.px);
    expect_problem(&s, "{\"a\":\"split_a.tif\",\"b\":\"split_b.tif\",\"match_threshold\":0.5}", 422,
                   (const char *const[]){"2 overlapping pairs", "--max-match-component", NULL});
    expect_problem(&s,
                   "{\"a\":\"split_a.tif\",\"b\":\"split_b.tif\","
                   "\"match_threshold\":[0.7,0.5]}",
                   422, (const char *const[]){"--max-match-component", NULL});
    CHECK(
        post_json(&s, "{\"a\":\"split_a.tif\",\"b\":\"split_b.tif\",\"match_threshold\":0.7}", &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK(post_json(&s,
                    "{\"pairs\":[{\"a\":\"split_a.tif\",\"b\":\"split_b.tif\"}],"
                    "\"match_threshold\":0.5,\"aggregate\":\"pooled\"}",
                    &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(json_integer_value(json_object_get(
                  json_object_get(json_array_get(json_object_get(r.json, "results"), 0), "error"),
                  "status")),
              422);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(r.json, "dataset"), "images")), 0);
    itest_reply_cleanup(&r);

    CHECK_INT(itest_stop(&s, 0, 30), 0);
    itest_free(&s);
    free(a.px);
    free(b.px);
    free(p1.px);
    free(p2.px);
    free(p3.px);
}

/* ------------------------------------------------------------------------------------------
 * .npy uploads
 */

/* The np.save bytes (format 1.0) of im as dtype descr ("<u2", ">i4"), C or Fortran order,
 * shaped (height, width), or (depth, height / depth, width) when depth > 1. */
static unsigned char *npy_of(const struct image *im, const char *descr, bool fortran,
                             uint32_t depth, size_t *len)
{
    char dict[160];
    int n = depth > 1
                ? snprintf(dict, sizeof dict,
                           "{'descr': '%s', 'fortran_order': %s, 'shape': (%u, %u, %u), }", descr,
                           fortran ? "True" : "False", depth, im->height / depth, im->width)
                : snprintf(dict, sizeof dict,
                           "{'descr': '%s', 'fortran_order': %s, 'shape': (%u, %u), }", descr,
                           fortran ? "True" : "False", im->height, im->width);
    size_t hlen = (size_t)n + 1;
    hlen += (64 - (10 + hlen) % 64) % 64;
    const unsigned width = (unsigned)(descr[2] - '0');
    const size_t count = (size_t)im->height * im->width;
    *len = 10 + hlen + count * width;
    unsigned char *out = xcalloc(1, *len);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memset(out + 10, ' ', hlen);
    memcpy(out + 10, dict, (size_t)n);
    out[10 + hlen - 1] = '\n';
    const size_t rows = im->height / (depth > 1 ? depth : 1), cols = im->width;
    for (size_t i = 0; i < count; i++) {
        size_t at = i;
        if (fortran) { /* column-major over (z, y, x) or (y, x) */
            size_t z = i / (rows * cols), y = i / cols % rows, x = i % cols;
            at = depth > 1 ? z + depth * (y + rows * x) : y + rows * x;
        }
        for (unsigned k = 0; k < width; k++)
            out[10 + hlen + at * width + (descr[0] == '>' ? width - 1 - k : k)] =
                (unsigned char)(im->px[i] >> (8 * k));
    }
    return out;
}

static void npy_expect_ok(struct itest_server *s, const char *what, const struct upload *parts,
                          const char *const *types, size_t n, const struct query *q, uint32_t depth)
{
    struct itest_reply r;
    CHECK(post_mime_typed(s, parts, types, n, &r));
    if (CHECK_INT(r.status, 200)) {
        json_t *real = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, NULL);
        struct expect *e = expect_new(&scene_a, &scene_b, q);
        size_t pos = 0;
        if (depth > 1) { /* a volume: its depth first, then the rows of one slice */
            char head[32];
            snprintf(head, sizeof head, "{\"depth\":%u,", depth);
            CHECK(strncmp(r.body, head, strlen(head)) == 0);
            e->height /= depth;
        }
        check_result(what, r.body, &pos, real, e);
        expect_free(e);
        json_decref(real);
    } else {
        fprintf(stderr, "    %s: %.300s\n", what, r.body);
    }
    itest_reply_cleanup(&r);
}

/* .npy parts (by Content-Type or by filename) give the answer of the TIFF parts; malformed
 * headers, object dtypes and shapes that differ are 422s naming the problem. */
static void test_npy_uploads(struct itest_server *s)
{
    size_t la, lb, lc, ld;
    unsigned char *na = npy_of(&scene_a, "<u2", false, 1, &la);
    unsigned char *nb = npy_of(&scene_b, ">i4", true, 1, &lb);
    const char *options = "{\"iou\":true,\"include_background\":false}";
    const struct query q = {false, true, false, 0};
    const struct upload typed[] = {
        {"a", na, la, "labels"},
        {"b", nb, lb, "pred"},
        {"options", options, strlen(options), NULL},
    };
    const char *const npy_types[] = {"application/x-npy", "Application/X-NPY", NULL};
    npy_expect_ok(s, "npy by type", typed, npy_types, 3, &q, 1);
    const struct upload named[] = {{"a", na, la, "a.npy"}, {"b", nb, lb, "b.NPY"}};
    const char *const octet[] = {"application/octet-stream", NULL};
    const struct query defaults = {true, false, false, 0};
    npy_expect_ok(s, "npy by filename", named, octet, 2, &defaults, 1);

    /* a .npy against a TIFF upload */
    size_t lt = 0;
    unsigned char *tb = check_slurp(root, "scene_b.tif", &lt);
    const struct upload mixed[] = {{"a", na, la, "a.npy"}, {"b", tb, lt, "b.tif"}};
    npy_expect_ok(s, "npy vs tiff", mixed, NULL, 2, &defaults, 1);

    /* the same labels as (4, height / 4, width) volumes */
    if (scene_a.height % 4 == 0) {
        unsigned char *va = npy_of(&scene_a, ">u8", true, 4, &lc);
        unsigned char *vb = npy_of(&scene_b, "<i2", false, 4, &ld);
        const struct upload vol[] = {{"a", va, lc, "a.npy"}, {"b", vb, ld, "b.npy"}};
        npy_expect_ok(s, "npy volumes", vol, NULL, 2, &defaults, 4);
        /* a volume against the 2-D array: both shapes named */
        const struct upload mismatch[] = {{"a", va, lc, "a.npy"}, {"b", nb, lb, "b.npy"}};
        struct itest_reply r;
        char want[96];
        snprintf(want, sizeof want, "a is 4 x %u x %u, b is 1 x %u x %u", scene_a.height / 4,
                 scene_a.width, scene_b.height, scene_b.width);
        CHECK(post_mime(s, mismatch, 2, &r));
        CHECK(problem_with(&r, 422, (const char *const[]){want, "depth x height x width", NULL}));
        itest_reply_cleanup(&r);
        free(va);
        free(vb);
    }

    /* malformed .npy: bad magic, an object dtype, a truncated array, a header only */
    unsigned char *bad = xcalloc(1, la);
    struct {
        const char *what;
        size_t at, len;
        const char *bytes;
        size_t size;
        const char *needle;
    } cases[] = {
        {"magic", 0, 6, "\x93NUMPX", la, "b: "},
        {"object dtype", 10, 14, "{'descr': '|O'", la, "'|O'"},
        {"float dtype", 10, 14, "{'descr': '<f4'", la, "float"},
        {"truncated", 0, 0, "", la - 7, "b: "},
        {"header only", 0, 0, "", 12, "b: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, na, la);
        memcpy(bad + cases[i].at, cases[i].bytes, cases[i].len);
        const struct upload parts[] = {{"a", na, la, "a.npy"}, {"b", bad, cases[i].size, "b.npy"}};
        struct itest_reply r;
        CHECK(post_mime(s, parts, 2, &r));
        if (!problem_with(&r, 422, (const char *const[]){cases[i].needle, NULL}))
            fprintf(stderr, "    npy %s: %.300s\n", cases[i].what, r.body);
        itest_reply_cleanup(&r);
    }
    free(bad);
    free(tb);
    free(na);
    free(nb);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    TIFFSetWarningHandler(NULL);
    check_tmpdir(root, sizeof root);
    make_fixtures();

    struct itest_server s;
    const char *const extra[] = {"--threads", "2", NULL};
    server_extra = extra;
    if (CHECK(itest_start(&s, root, extra))) {
        test_options(&s);
        test_dtypes(&s);
        test_pages(&s);
        test_huge_labels(&s);
        test_thresholds(&s);
        test_sweep(&s);
        test_multipart(&s);
        test_npy_uploads(&s);
        test_batch(&s);
        test_metrics(&s);
        test_aggregate(&s);
        test_refusals(&s);
        CHECK_INT(itest_stop(&s, 0, 30), 0);
        itest_free(&s);
    }
    test_limits();

    free(scene_a.px);
    free(scene_b.px);
    check_rmtree(root);
    curl_global_cleanup();
    return check_finish("itest_overlap");
}
