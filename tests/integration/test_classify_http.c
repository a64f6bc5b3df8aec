/*
 * test_classify_http.c - GET /classify and POST /classify over real HTTP, on files written
 * by independent writers (tifffile, the vips CLI, tiffcp, python3-zarr; see
 * make_classify_fixtures.py, run here with /usr/bin/python3) and hand-made bad files.
 *
 * Every field of the classification is checked against a table written by hand from how
 * each file was made (and cross-checked once against tifffile and OpenSlide's
 * detect_format). The cache is checked from the outside: cached false then true, and a file
 * renamed over (same size, same mtime), rewritten in place, rewritten with its mtime put
 * back (only ctime differs) or touched is read again, never served stale. Then the batch
 * form (order, per-path errors, the --classify-batch limit), every error status, and the
 * cache counters in /metrics.
 */
#include "check.h"
#include "files.h"
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TESSERA_PYTHON
#define TESSERA_PYTHON "/usr/bin/python3"
#endif
#ifndef CLASSIFY_FIXTURES
#error "CLASSIFY_FIXTURES (path of make_classify_fixtures.py) must be defined by CMake"
#endif

static char base[512]; /* tmpdir: base/root is the data root, base/outside is not */
static char root[600];

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

/* ---------------------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------------------------- */

/* GET /classify?path=rel; the reply is left in r (caller cleans up). */
static bool classify_get(const struct itest_server *s, const char *rel, struct itest_reply *r)
{
    char target[1024];
    snprintf(target, sizeof target, "/classify?path=%s", rel);
    return CHECK(itest_request(s, "GET", target, NULL, NULL, 0, r));
}

/* GET /classify?path=rel, CHECK 200 + JSON; returns the object (caller decrefs) or NULL. */
static json_t *classify_ok(const struct itest_server *s, const char *rel)
{
    struct itest_reply r;
    json_t *out = NULL;
    if (!classify_get(s, rel, &r))
        goto out;
    if (!CHECK_INT(r.status, 200) || !CHECK(json_is_object(r.json))) {
        fprintf(stderr, "    GET /classify?path=%s: %.400s\n", rel, r.body);
        goto out;
    }
    char ct[128] = "";
    CHECK(itest_header(&r, "Content-Type", ct, sizeof ct));
    CHECK_STR(ct, "application/json");
    out = json_incref(r.json);
out:
    itest_reply_cleanup(&r);
    return out;
}

static long long int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* key is the string want, or JSON null when want is NULL. */
static bool check_str_or_null(const json_t *o, const char *key, const char *want, const char *file)
{
    json_t *v = json_object_get(o, key);
    bool ok = want == NULL ? json_is_null(v)
                           : (json_is_string(v) && strcmp(json_string_value(v), want) == 0);
    if (!CHECK(ok))
        fprintf(stderr, "    %s: %s is %s, want %s\n", file, key,
                json_is_string(v) ? json_string_value(v) : (v ? "not a string" : "absent"),
                want ? want : "null");
    return ok;
}

static bool check_bool(const json_t *o, const char *key, bool want, const char *file)
{
    json_t *v = json_object_get(o, key);
    bool ok = json_is_boolean(v) && json_is_true(v) == want;
    if (!CHECK(ok))
        fprintf(stderr, "    %s: %s want %s\n", file, key, want ? "true" : "false");
    return ok;
}

static bool check_uint(const json_t *o, const char *key, long long want, const char *file)
{
    json_t *v = json_object_get(o, key);
    bool ok = json_is_integer(v) && json_integer_value(v) == want;
    if (!CHECK(ok))
        fprintf(stderr, "    %s: %s is %lld, want %lld\n", file, key, json_integer_value(v), want);
    return ok;
}

static void format_mtime(const struct stat *st, char *buf, size_t size)
{
    struct tm tm;
    time_t t = st->st_mtim.tv_sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%09ldZ", st->st_mtim.tv_nsec);
}

/* path, size and mtime agree with stat(2) of the file under the root. */
static void check_identity(const json_t *o, const char *rel)
{
    char full[1024], want[64];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    struct stat st;
    if (!CHECK(stat(full, &st) == 0))
        return;
    CHECK_STR(str_of(o, "path"), rel);
    check_uint(o, "size", S_ISREG(st.st_mode) ? st.st_size : 0, rel);
    format_mtime(&st, want, sizeof want);
    check_str_or_null(o, "mtime", want, rel);
}

static unsigned long long metric(const struct itest_server *s, const char *name)
{
    struct itest_reply r;
    unsigned long long v = ULLONG_MAX;
    if (!CHECK(itest_request(s, "GET", "/metrics", NULL, NULL, 0, &r))) {
        itest_reply_cleanup(&r);
        return v;
    }
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *p = strstr(r.body, needle);
    if (CHECK(p != NULL))
        v = strtoull(p + strlen(needle), NULL, 10);
    else
        fprintf(stderr, "    metric %s missing from /metrics\n", name);
    itest_reply_cleanup(&r);
    return v;
}

/* ---------------------------------------------------------------------------------------
 * Files from independent writers: every field, then the cached answer
 * --------------------------------------------------------------------------------------- */

struct expect {
    const char *path;
    const char *container;
    const char *format;
    bool is_ome, is_bigtiff, is_imagej;
    const char *vendor;
    bool can_use_openslide, can_use_vips;
    const char *reader;
    const char *img_type;
    long long width, height, channels;
    const char *dtype;
    bool tiled;
    long long tile_width, tile_height;
    const char *compression;
    long long pages, levels;
};

/* clang-format off */
static const struct expect expects[] = {
    /* tifffile: 61x83 uint8 strips */
    {"tf_plain.tif", "tiff", "tiff", false, false, false, NULL, false, true, "vips", "img",
     83, 61, 1, "uint8", false, 0, 0, "none", 1, 1},
    /* tifffile: BigTIFF, three 50x70 uint16 pages */
    {"tf_big.tif", "bigtiff", "tiff", false, true, false, NULL, false, true, "vips", "img",
     70, 50, 1, "uint16", false, 0, 0, "none", 3, 1},
    /* tifffile: ImageJ hyperstack, five 64x64 uint8 slices */
    {"tf_imagej.tif", "tiff", "imagej-tiff", false, false, true, NULL, false, true, "vips",
     "img", 64, 64, 1, "uint8", false, 0, 0, "none", 5, 1},
    /* tifffile: OME-TIFF, 4 channels of 64x48 uint16 */
    {"tf_ome.ome.tif", "tiff", "ome-tiff", true, false, false, NULL, false, true, "vips",
     "slide", 48, 64, 4, "uint16", false, 0, 0, "none", 4, 1},
    /* tifffile: OME pyramid, 2 channels of 512x384, 3 SubIFD levels, 64x64 tiles */
    {"tf_pyramid.ome.tif", "tiff", "ome-tiff", true, false, false, "generic-tiff", false, true,
     "vips", "slide", 384, 512, 2, "uint8", true, 64, 64, "none", 2, 4},
    /* tifffile: tiled RGB with an Aperio ImageDescription; the name says nothing */
    {"aperio_style.tif", "tiff", "svs", false, false, false, "aperio", true, true, "openslide",
     "slide", 256, 256, 3, "uint8", true, 64, 64, "none", 1, 1},
    /* tifffile: tiled float32, 48x32 tiles (width x height) */
    {"tf_tiled.tif", "tiff", "tiff", false, false, false, "generic-tiff", false, true, "vips",
     "img", 200, 300, 1, "float32", true, 48, 32, "none", 1, 1},
    /* vips tiffsave --tile --pyramid: 1000x700 RGB, 128x128 tiles, 4 reduced pages */
    {"vips_pyramid.tif", "tiff", "tiff", false, false, false, "generic-tiff", false, true,
     "vips", "img", 1000, 700, 3, "uint8", true, 128, 128, "none", 4, 4},
    /* tiffcp -c lzw / -t / -8 of tf_plain.tif */
    {"cp_lzw.tif", "tiff", "tiff", false, false, false, NULL, false, true, "vips", "img",
     83, 61, 1, "uint8", false, 0, 0, "lzw", 1, 1},
    {"cp_tiled.tif", "tiff", "tiff", false, false, false, "generic-tiff", false, true, "vips",
     "img", 83, 61, 1, "uint8", true, 32, 32, "none", 1, 1},
    {"cp_big.tif", "bigtiff", "tiff", false, true, false, NULL, false, true, "vips", "img",
     83, 61, 1, "uint8", false, 0, 0, "none", 1, 1},
    /* python3-zarr: a v2 array (3,100,120) u2 chunks (1,50,60); a v2 group with OME-NGFF
     * multiscales of 3 levels, (2,256,320) u1 chunks (1,64,64); zarr's default Blosc */
    {"z_array.zarr", "zarr", "zarr", false, false, false, NULL, false, false, "zarr", NULL,
     120, 100, 1, "uint16", true, 60, 50, "blosc", 0, 1},
    {"z_ngff.zarr", "zarr", "ome-zarr", false, false, false, NULL, false, false, "zarr", NULL,
     320, 256, 2, "uint8", true, 64, 64, "blosc", 0, 3},
    /* readable, not images: 200 with container unknown and nothing else */
    {"empty.tif", "unknown", NULL, false, false, false, NULL, false, false, NULL, NULL,
     0, 0, 0, NULL, false, 0, 0, NULL, 0, 0},
    {"png.tif", "unknown", NULL, false, false, false, NULL, false, false, NULL, NULL,
     0, 0, 0, NULL, false, 0, 0, NULL, 0, 0},
    {"x.tif", "unknown", NULL, false, false, false, NULL, false, false, NULL, NULL,
     0, 0, 0, NULL, false, 0, 0, NULL, 0, 0},
};
/* clang-format on */

static const char *const classification_keys[] = {"path",
                                                  "size",
                                                  "mtime",
                                                  "container",
                                                  "format",
                                                  "is_ome",
                                                  "is_bigtiff",
                                                  "is_imagej",
                                                  "vendor",
                                                  "can_use_openslide",
                                                  "can_use_vips",
                                                  "reader",
                                                  "img_type",
                                                  "width",
                                                  "height",
                                                  "channels",
                                                  "dtype",
                                                  "tiled",
                                                  "tile_width",
                                                  "tile_height",
                                                  "compression",
                                                  "pages",
                                                  "levels",
                                                  "vendor_detector",
                                                  "physical_size",
                                                  "size_z",
                                                  "size_t",
                                                  "dimension_order",
                                                  "channel_names",
                                                  "labels",
                                                  "associated_images",
                                                  "warnings",
                                                  "zarr",
                                                  "series",
                                                  "series_count",
                                                  "stack",
                                                  "cached",
                                                  NULL};

static void check_expect(const json_t *o, const struct expect *e)
{
    const char *f = e->path;
    size_t nkeys = 0;
    for (size_t i = 0; classification_keys[i] != NULL; i++, nkeys++)
        if (!CHECK(json_object_get(o, classification_keys[i]) != NULL))
            fprintf(stderr, "    %s: no '%s'\n", f, classification_keys[i]);
    CHECK_INT(json_object_size(o), nkeys);
    check_identity(o, f);
    check_str_or_null(o, "container", e->container, f);
    check_str_or_null(o, "format", e->format, f);
    check_bool(o, "is_ome", e->is_ome, f);
    check_bool(o, "is_bigtiff", e->is_bigtiff, f);
    check_bool(o, "is_imagej", e->is_imagej, f);
    check_str_or_null(o, "vendor", e->vendor, f);
    /* the detector is named exactly when a vendor is; these fixtures have no associated
     * images and nothing a reader must repair */
    if (!CHECK((json_object_get(o, "vendor_detector") == json_null()) == (e->vendor == NULL)))
        fprintf(stderr, "    %s: vendor_detector without vendor or the other way\n", f);
    if (e->vendor != NULL && strcmp(e->vendor, "generic-tiff") == 0)
        check_str_or_null(o, "vendor_detector", "tiled-tiff", f);
    CHECK(json_is_array(json_object_get(o, "associated_images")) &&
          json_array_size(json_object_get(o, "associated_images")) == 0);
    CHECK(json_is_array(json_object_get(o, "warnings")) &&
          json_array_size(json_object_get(o, "warnings")) == 0);
    check_bool(o, "can_use_openslide", e->can_use_openslide, f);
    check_bool(o, "can_use_vips", e->can_use_vips, f);
    check_str_or_null(o, "reader", e->reader, f);
    check_str_or_null(o, "img_type", e->img_type, f);
    check_uint(o, "width", e->width, f);
    check_uint(o, "height", e->height, f);
    check_uint(o, "channels", e->channels, f);
    check_str_or_null(o, "dtype", e->dtype, f);
    check_bool(o, "tiled", e->tiled, f);
    check_uint(o, "tile_width", e->tile_width, f);
    check_uint(o, "tile_height", e->tile_height, f);
    check_str_or_null(o, "compression", e->compression, f);
    check_uint(o, "pages", e->pages, f);
    check_uint(o, "levels", e->levels, f);
}

static bool is_regular(const char *rel)
{
    char full[1024];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", root, rel);
    return stat(full, &st) == 0 && S_ISREG(st.st_mode);
}

static void test_files(const struct itest_server *s)
{
    for (size_t i = 0; i < sizeof expects / sizeof expects[0]; i++) {
        const struct expect *e = &expects[i];
        json_t *first = classify_ok(s, e->path);
        if (first == NULL)
            continue;
        check_expect(first, e);
        check_bool(first, "cached", false, e->path);
        json_t *second = classify_ok(s, e->path);
        if (second != NULL) {
            check_expect(second, e);
            /* files are cached; a directory (Zarr) may be re-read, never stale */
            if (is_regular(e->path))
                check_bool(second, "cached", true, e->path);
            json_object_del(first, "cached");
            json_object_del(second, "cached");
            CHECK(json_equal(first, second));
        }
        json_decref(first);
        json_decref(second);
    }
}

/* ---------------------------------------------------------------------------------------
 * Corrupt TIFFs: 422 naming the defect, every time
 * --------------------------------------------------------------------------------------- */

static void expect_problem_get(const struct itest_server *s, const char *target, long status,
                               const char *needle)
{
    struct itest_reply r;
    if (!CHECK(itest_request(s, "GET", target, NULL, NULL, 0, &r))) {
        itest_reply_cleanup(&r);
        return;
    }
    bool ok = itest_is_problem(&r, status);
    const char *detail = str_of(r.json, "detail");
    if (needle != NULL)
        ok &= CHECK(detail != NULL && strstr(detail, needle) != NULL);
    CHECK_STR(str_of(r.json, "instance"), "/classify");
    if (!ok)
        fprintf(stderr, "    GET %s -> %ld %s\n", target, r.status, r.body);
    itest_reply_cleanup(&r);
}

static void expect_problem_post(const struct itest_server *s, const char *const headers[],
                                const char *body, long status, const char *needle)
{
    struct itest_reply r;
    if (!CHECK(itest_request(s, "POST", "/classify", headers, body, strlen(body), &r))) {
        itest_reply_cleanup(&r);
        return;
    }
    bool ok = itest_is_problem(&r, status);
    const char *detail = str_of(r.json, "detail");
    if (needle != NULL)
        ok &= CHECK(detail != NULL && strstr(detail, needle) != NULL);
    if (!ok)
        fprintf(stderr, "    POST /classify %s -> %ld %s\n", body, r.status, r.body);
    itest_reply_cleanup(&r);
}

static void test_corrupt(const struct itest_server *s)
{
    for (int round = 0; round < 2; round++) {
        expect_problem_get(s, "/classify?path=loop.tif", 422, "IFD loop");
        expect_problem_get(s, "/classify?path=trunc.tif", 422, "truncated");
    }
}

/* ---------------------------------------------------------------------------------------
 * The cache is never stale
 * --------------------------------------------------------------------------------------- */

/* Rewrite rel in place (same inode): truncate and write data. */
static void rewrite(const char *rel, const char *data, size_t len)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    int fd = open(full, O_WRONLY | O_TRUNC);
    if (!CHECK(fd >= 0))
        return;
    CHECK_INT(write(fd, data, len), len);
    close(fd);
}

static struct stat stat_of(const char *rel)
{
    char full[1024];
    struct stat st;
    memset(&st, 0, sizeof st);
    snprintf(full, sizeof full, "%s/%s", root, rel);
    CHECK(stat(full, &st) == 0);
    return st;
}

static void set_mtime(const char *rel, const struct timespec *mtime)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    struct timespec ts[2] = {*mtime, *mtime};
    CHECK(utimensat(AT_FDCWD, full, ts, 0) == 0);
}

/* Long enough for the coarse file-system clock to tick, so ctime/mtime move. */
static void tick(void)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Long enough after a change for the cache to keep the file's entry: it keeps none for a
 * file whose ctime is within 20 ms of its read (CACHE_RACY_NS in core/cache.h). */
static void settle(void)
{
    tick();
}

/* GET rel: CHECK cached and the shape (width x height, channels). */
static void expect_shape(const struct itest_server *s, const char *rel, bool cached,
                         long long width, long long height, long long channels, const char *step)
{
    json_t *o = classify_ok(s, rel);
    if (o == NULL)
        return;
    bool ok = check_bool(o, "cached", cached, step);
    ok &= check_uint(o, "width", width, step);
    ok &= check_uint(o, "height", height, step);
    ok &= check_uint(o, "channels", channels, step);
    check_identity(o, rel);
    if (!ok)
        fprintf(stderr, "    step '%s' of the staleness checks\n", step);
    json_decref(o);
}

static void test_never_stale(const struct itest_server *s)
{
    const char *target = "replace_a.tif";
    size_t a_len = 0, b_len = 0, c_len = 0;
    char *a = check_slurp(root, target, &a_len);                  /* 32 rows x 64 columns */
    char *b = check_slurp(root, "staging/replace_b.tif", &b_len); /* 64 x 32, same byte size */
    char *c = check_slurp(root, "staging/rewrite_c.tif", &c_len); /* 10 x 20 RGB, smaller */
    if (!CHECK(a && b && c && a_len == b_len && a_len > 0 && c_len != a_len &&
               memcmp(a, b, a_len) != 0))
        goto out;

    expect_shape(s, target, false, 64, 32, 1, "first read");
    expect_shape(s, target, true, 64, 32, 1, "cached");

    /* rename over: same size, same mtime, new inode */
    struct stat old = stat_of(target);
    set_mtime("staging/replace_b.tif", &old.st_mtim);
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/staging/replace_b.tif", root);
    snprintf(to, sizeof to, "%s/%s", root, target);
    CHECK(rename(from, to) == 0);
    struct stat now = stat_of(target);
    CHECK(now.st_size == old.st_size && now.st_mtim.tv_sec == old.st_mtim.tv_sec &&
          now.st_mtim.tv_nsec == old.st_mtim.tv_nsec && now.st_ino != old.st_ino);
    settle();
    expect_shape(s, target, false, 32, 64, 1, "renamed over, same size and mtime");
    expect_shape(s, target, true, 32, 64, 1, "renamed over, cached");

    /* rewritten in place with other content (same inode, new size and mtime) */
    tick();
    rewrite(target, c, c_len);
    settle();
    expect_shape(s, target, false, 20, 10, 3, "rewritten in place");
    expect_shape(s, target, true, 20, 10, 3, "rewritten in place, cached");

    /* rewritten in place, same size, mtime put back: only ctime tells */
    tick();
    rewrite(target, b, b_len);
    expect_shape(s, target, false, 32, 64, 1, "rewritten to b");
    old = stat_of(target);
    tick();
    rewrite(target, a, a_len);
    set_mtime(target, &old.st_mtim);
    now = stat_of(target);
    CHECK(now.st_size == old.st_size && now.st_ino == old.st_ino &&
          now.st_mtim.tv_nsec == old.st_mtim.tv_nsec &&
          (now.st_ctim.tv_sec != old.st_ctim.tv_sec || now.st_ctim.tv_nsec != old.st_ctim.tv_nsec));
    settle();
    expect_shape(s, target, false, 64, 32, 1, "same size, mtime restored, ctime moved");
    expect_shape(s, target, true, 64, 32, 1, "same size, mtime restored, cached");

    /* touched: same content, read again */
    tick();
    CHECK(utimensat(AT_FDCWD, to, NULL, 0) == 0);
    expect_shape(s, target, false, 64, 32, 1, "touched");

    /* a Zarr store whose .zattrs is rewritten in place (the directory's stat unchanged) */
    json_t *z = classify_ok(s, "z_ngff.zarr");
    check_str_or_null(z, "format", "ome-zarr", "z_ngff.zarr before");
    json_decref(z);
    char zattrs[1024];
    snprintf(zattrs, sizeof zattrs, "%s/z_ngff.zarr/.zattrs", root);
    FILE *f = fopen(zattrs, "r+");
    if (CHECK(f != NULL)) {
        CHECK(ftruncate(fileno(f), 0) == 0);
        fputs("{}", f);
        fclose(f);
    }
    z = classify_ok(s, "z_ngff.zarr");
    check_str_or_null(z, "format", "zarr", "z_ngff.zarr after .zattrs emptied");
    check_uint(z, "levels", 0, "z_ngff.zarr after .zattrs emptied");
    json_decref(z);
out:
    free(a);
    free(b);
    free(c);
}

/* ---------------------------------------------------------------------------------------
 * POST /classify
 * --------------------------------------------------------------------------------------- */

static json_t *post_ok(const struct itest_server *s, const char *body)
{
    struct itest_reply r;
    json_t *out = NULL;
    if (!CHECK(itest_request(s, "POST", "/classify", json_ct, body, strlen(body), &r)))
        goto out;
    if (!CHECK_INT(r.status, 200) || !CHECK(json_is_object(r.json))) {
        fprintf(stderr, "    POST /classify %s: %.400s\n", body, r.body);
        goto out;
    }
    CHECK_INT(json_object_size(r.json), 1);
    if (CHECK(json_is_array(json_object_get(r.json, "results"))))
        out = json_incref(json_object_get(r.json, "results"));
out:
    itest_reply_cleanup(&r);
    return out;
}

/* results[i] equals GET /classify of the same path, apart from cached. */
static void same_as_get(const struct itest_server *s, const json_t *item, const char *rel)
{
    json_t *want = classify_ok(s, rel);
    json_t *got = json_deep_copy(item);
    CHECK_STR(str_of(got, "path"), rel);
    CHECK(json_is_boolean(json_object_get(got, "cached")));
    json_object_del(want, "cached");
    json_object_del(got, "cached");
    if (!CHECK(want != NULL && json_equal(want, got)))
        fprintf(stderr, "    batch result for %s differs from GET\n", rel);
    json_decref(want);
    json_decref(got);
}

/* results[i] is {"path": rel, "error": problem with status and detail containing needle}. */
static void item_error(const json_t *item, const char *rel, long status, const char *needle)
{
    CHECK_INT(json_object_size(item), 2);
    CHECK_STR(str_of(item, "path"), rel);
    json_t *p = json_object_get(item, "error");
    if (!CHECK(json_is_object(p)))
        return;
    CHECK_INT(int_of(p, "status"), status);
    CHECK(json_is_string(json_object_get(p, "type")));
    CHECK(json_is_string(json_object_get(p, "title")));
    const char *detail = str_of(p, "detail");
    if (!CHECK(detail != NULL && (needle == NULL || strstr(detail, needle) != NULL)))
        fprintf(stderr, "    %s: detail '%s' lacks '%s'\n", rel, detail ? detail : "(none)",
                needle ? needle : "");
}

static void test_batch(const struct itest_server *s)
{
    json_t *res = post_ok(s, "{\"paths\": [\"tf_plain.tif\", \"nope.tif\", \"z_ngff.zarr\"]}");
    if (CHECK(res != NULL && json_array_size(res) == 3)) {
        same_as_get(s, json_array_get(res, 0), "tf_plain.tif");
        item_error(json_array_get(res, 1), "nope.tif", 404, "nope.tif");
        same_as_get(s, json_array_get(res, 2), "z_ngff.zarr");
    }
    json_decref(res);

    res = post_ok(s, "{\"paths\": [\"loop.tif\", \"../outside/x.tif\", \"vips_pyramid.tif\"]}");
    if (CHECK(res != NULL && json_array_size(res) == 3)) {
        item_error(json_array_get(res, 0), "loop.tif", 422, "IFD loop");
        item_error(json_array_get(res, 1), "../outside/x.tif", 403, NULL);
        same_as_get(s, json_array_get(res, 2), "vips_pyramid.tif");
        check_bool(json_array_get(res, 2), "cached", true, "vips_pyramid.tif in a batch");
    }
    json_decref(res);

    res = post_ok(s, "{\"paths\": [\"aperio_style.tif\", \"aperio_style.tif\", \"x.tif\"]}");
    if (CHECK(res != NULL && json_array_size(res) == 3)) {
        same_as_get(s, json_array_get(res, 0), "aperio_style.tif");
        same_as_get(s, json_array_get(res, 1), "aperio_style.tif");
        same_as_get(s, json_array_get(res, 2), "x.tif");
    }
    json_decref(res);

    res = post_ok(s, "{\"paths\": []}");
    CHECK(res != NULL && json_array_size(res) == 0);
    json_decref(res);

    /* --classify-batch 3 */
    expect_problem_post(s, json_ct, "{\"paths\": [\"a\", \"b\", \"c\", \"d\"]}", 413, "3");
    expect_problem_post(s, json_ct, "{}", 400, "'paths'");
    expect_problem_post(s, json_ct, "{\"paths\": \"tf_plain.tif\"}", 400, "'paths'");
    expect_problem_post(s, json_ct, "{\"paths\": [1]}", 400, "paths[0]");
    expect_problem_post(s, json_ct, "{\"paths\": [\"tf_plain.tif\", null]}", 400, "paths[1]");
    expect_problem_post(s, json_ct, "{\"paths\": [], \"extra\": 1}", 400, "'extra'");
    expect_problem_post(s, json_ct, "{\"paths\": [", 400, "JSON");
    expect_problem_post(s, json_ct, "[\"tf_plain.tif\"]", 400, "object");
    const char *const text[] = {"Content-Type: text/plain", NULL};
    expect_problem_post(s, text, "{\"paths\": []}", 415, NULL);
}

/* ---------------------------------------------------------------------------------------
 * GET errors
 * --------------------------------------------------------------------------------------- */

static void test_errors(const struct itest_server *s)
{
    expect_problem_get(s, "/classify?path=nope.tif", 404, "nope.tif");
    expect_problem_get(s, "/classify?path=staging/nope/x.tif", 404, NULL);
    expect_problem_get(s, "/classify?path=broken.tif", 404, NULL);
    expect_problem_get(s, "/classify?path=../outside/secret.tif", 403, NULL);
    expect_problem_get(s, "/classify?path=/etc/passwd", 403, NULL);
    expect_problem_get(s, "/classify?path=esc.tif", 403, NULL);
    expect_problem_get(s, "/classify?path=rootlink/etc/passwd", 403, NULL);
    expect_problem_get(s, "/classify", 400, "'path'");
    expect_problem_get(s, "/classify?path=", 400, "'path'");
    expect_problem_get(s, "/classify?path=tf_plain.tif&x=1", 400, "'x'");
    expect_problem_get(s, "/classify?paths=tf_plain.tif", 400, "'paths'");
}

/* A file stamped after 2262 (os.utime(f, (0, 9.3e9))), where nanoseconds since 1970 pass
 * INT64_MAX: answered, cached and validated like any other file (the server once overflowed
 * here, which an ASan/UBSan build turns into an exit). */
static void test_far_future(const struct itest_server *s)
{
    size_t len = 0;
    char *data = check_slurp(root, "tf_plain.tif", &len);
    char full[1024];
    check_path_join(full, sizeof full, root, "far_future.tif");
    CHECK(data != NULL && len > 0 && check_write_file(NULL, full, data, len));
    free(data);
    struct timespec times[2] = {{0, 0}, {9300000000, 0}};
    CHECK(utimensat(AT_FDCWD, full, times, 0) == 0);
    settle();
    for (int round = 0; round < 2; round++) {
        json_t *o = classify_ok(s, "far_future.tif");
        if (o == NULL)
            return;
        check_bool(o, "cached", round == 1, "far_future.tif");
        check_identity(o, "far_future.tif"); /* size, and mtime as the file system holds it */
        json_decref(o);
    }
}

/* ---------------------------------------------------------------------------------------
 * /metrics
 * --------------------------------------------------------------------------------------- */

static void test_metrics(const struct itest_server *s)
{
    unsigned long long hits0 = metric(s, "tessera_classify_cache_hits_total");
    unsigned long long miss0 = metric(s, "tessera_classify_cache_misses_total");
    json_t *o = classify_ok(s, "tf_imagej.tif");
    check_bool(o, "cached", true, "tf_imagej.tif for metrics");
    json_decref(o);
    o = classify_ok(s, "tf_ome.ome.tif");
    check_bool(o, "cached", true, "tf_ome.ome.tif for metrics");
    json_decref(o);
    unsigned long long hits1 = metric(s, "tessera_classify_cache_hits_total");
    unsigned long long miss1 = metric(s, "tessera_classify_cache_misses_total");
    CHECK(hits0 != ULLONG_MAX && hits0 > 0);
    CHECK_INT(hits1 - hits0, 2);
    CHECK_INT(miss1 - miss0, 0);

    /* a changed file is a miss, not a hit */
    char full[1024];
    snprintf(full, sizeof full, "%s/tf_plain.tif", root);
    tick();
    CHECK(utimensat(AT_FDCWD, full, NULL, 0) == 0);
    o = classify_ok(s, "tf_plain.tif");
    check_bool(o, "cached", false, "tf_plain.tif touched");
    json_decref(o);
    CHECK_INT(metric(s, "tessera_classify_cache_hits_total") - hits1, 0);
    CHECK_INT(metric(s, "tessera_classify_cache_misses_total") - miss1, 1);
    CHECK(metric(s, "tessera_classify_cache_entries") > 0);
}

/* ---------------------------------------------------------------------------------------
 * main
 * --------------------------------------------------------------------------------------- */

/* Zarr stores whose metadata are symbolic links: z_linked.zarr's .zattrs and dataset "0" lead
 * elsewhere beneath the root (followed); z_escape.zarr's .zattrs leads out of it (refused). */
static bool make_zarr_links(void)
{
    static const char attrs[] = "{\"multiscales\": [{\"axes\": [{\"name\": \"c\"}, "
                                "{\"name\": \"y\"}, {\"name\": \"x\"}], "
                                "\"datasets\": [{\"path\": \"0\"}]}]}";
    char p[1024], q[1024];
    bool ok = true;
    const char *const dirs[] = {"shared_meta", "z_linked.zarr", "z_escape.zarr"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        ok &= CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/%s/.zgroup", root, dirs[i]);
        ok &= check_write_file(NULL, p, "{\"zarr_format\": 2}", sizeof "{\"zarr_format\": 2}" - 1);
    }
    snprintf(p, sizeof p, "%s/shared_meta/ngff.json", root);
    ok &= check_write_file(NULL, p, attrs, sizeof attrs - 1);
    snprintf(p, sizeof p, "%s/outside/attrs.json", base);
    ok &= check_write_file(NULL, p, attrs, sizeof attrs - 1);
    snprintf(q, sizeof q, "%s/z_linked.zarr/.zattrs", root);
    ok &= CHECK(symlink("../shared_meta/ngff.json", q) == 0);
    snprintf(q, sizeof q, "%s/z_linked.zarr/0", root);
    ok &= CHECK(symlink("../z_array.zarr", q) == 0);
    snprintf(q, sizeof q, "%s/z_escape.zarr/.zattrs", root);
    ok &= CHECK(symlink("../../outside/attrs.json", q) == 0);
    return ok;
}

static void test_zarr_links(const struct itest_server *s)
{
    json_t *o = classify_ok(s, "z_linked.zarr");
    check_str_or_null(o, "format", "ome-zarr", "z_linked.zarr");
    check_uint(o, "levels", 1, "z_linked.zarr");
    check_uint(o, "width", 120, "z_linked.zarr");
    check_uint(o, "height", 100, "z_linked.zarr");
    check_uint(o, "channels", 3, "z_linked.zarr");
    json_decref(o);
    expect_problem_get(s, "/classify?path=z_escape.zarr", 422,
                       ".zattrs is a symlink that leads outside the data root");
}

/* o[key] is a JSON array of the n integers want. */
static bool check_uints(const json_t *o, const char *key, const long long *want, size_t n,
                        const char *file)
{
    json_t *v = json_object_get(o, key);
    bool ok = json_is_array(v) && json_array_size(v) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_integer_value(json_array_get(v, i)) == want[i];
    if (!CHECK(ok))
        fprintf(stderr, "    %s: %s is not the %zu integers expected\n", file, key, n);
    return ok;
}

/* The layout fields: a Zarr array's (zarr.array), an NGFF group's levels, a TIFF's stack
 * and series, as the fixtures were written (make_classify_fixtures.py). */
static void test_layout(const struct itest_server *s)
{
    json_t *o = classify_ok(s, "z_array.zarr");
    json_t *z = json_object_get(o, "zarr");
    json_t *a = json_object_get(z, "array");
    check_uint(z, "zarr_format", 2, "z_array.zarr");
    check_str_or_null(z, "node_type", "array", "z_array.zarr");
    check_str_or_null(a, "path", "", "z_array.zarr");
    check_uints(a, "shape", (const long long[]){3, 100, 120}, 3, "z_array.zarr");
    check_uints(a, "chunks", (const long long[]){1, 50, 60}, 3, "z_array.zarr");
    check_str_or_null(a, "dtype", "<u2", "z_array.zarr");
    check_str_or_null(a, "order", "C", "z_array.zarr");
    check_str_or_null(a, "dimension_separator", ".", "z_array.zarr");
    check_str_or_null(a, "codec", "blosc/lz4/shuffle", "z_array.zarr");
    check_str_or_null(a, "sharding", NULL, "z_array.zarr");
    check_uint(a, "fill_value", 0, "z_array.zarr");
    check_bool(a, "overlap", true, "z_array.zarr");
    check_str_or_null(a, "overlap_detail", NULL, "z_array.zarr");
    CHECK(json_is_null(json_object_get(o, "stack")));
    json_decref(o);

    o = classify_ok(s, "z_ngff.zarr");
    z = json_object_get(o, "zarr");
    check_str_or_null(z, "node_type", "group", "z_ngff.zarr");
    check_str_or_null(json_object_get(z, "array"), "path", "0", "z_ngff.zarr");
    json_t *levels = json_object_get(z, "levels");
    if (CHECK(json_array_size(levels) == 3)) {
        check_uints(json_array_get(levels, 0), "shape", (const long long[]){2, 256, 320}, 3,
                    "z_ngff.zarr level 0");
        check_uints(json_array_get(levels, 2), "shape", (const long long[]){2, 64, 80}, 3,
                    "z_ngff.zarr level 2");
        check_str_or_null(json_array_get(levels, 1), "path", "1", "z_ngff.zarr level 1");
    }
    json_decref(o);

    o = classify_ok(s, "tf_imagej.tif");
    json_t *st = json_object_get(o, "stack");
    check_uints(st, "shape", (const long long[]){5, 64, 64}, 3, "tf_imagej.tif");
    check_str_or_null(st, "source", "imagej", "tf_imagej.tif");
    check_str_or_null(st, "dtype", "uint8", "tf_imagej.tif");
    /* tifffile writes a (5, 64, 64) ImageJ stack as "images=5 channels=5", no slices= */
    check_str_or_null(st, "slices", NULL, "tf_imagej.tif");
    check_uint(st, "imagej_channels", 5, "tf_imagej.tif");
    check_bool(st, "overlap_volume", true, "tf_imagej.tif");
    CHECK(json_is_null(json_object_get(o, "zarr")));
    json_t *series = json_object_get(o, "series");
    check_uint(o, "series_count", 1, "tf_imagej.tif");
    if (CHECK(json_array_size(series) == 1)) {
        check_uint(json_array_get(series, 0), "pages", 5, "tf_imagej.tif series");
        check_str_or_null(json_array_get(series, 0), "layout", "strips", "tf_imagej.tif series");
        check_str_or_null(json_array_get(series, 0), "compression", "none", "tf_imagej.tif series");
    }
    json_decref(o);

    o = classify_ok(s, "tf_tiled.tif"); /* float32: one page, not a stack */
    CHECK(json_is_null(json_object_get(o, "stack")));
    series = json_object_get(o, "series");
    if (CHECK(json_array_size(series) == 1)) {
        check_str_or_null(json_array_get(series, 0), "layout", "tiles", "tf_tiled.tif series");
        check_uint(json_array_get(series, 0), "tile_width", 48, "tf_tiled.tif series");
        check_uint(json_array_get(series, 0), "tile_height", 32, "tf_tiled.tif series");
        check_str_or_null(json_array_get(series, 0), "rows_per_strip", NULL, "tf_tiled.tif series");
    }
    json_decref(o);
}

static bool make_fixtures(void)
{
    char cmd[2048], p[1024];
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(p, sizeof p, "%s/outside", base);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/outside/secret.tif", base);
    FILE *f = fopen(p, "w");
    if (CHECK(f != NULL)) {
        fputs("secret\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", TESSERA_PYTHON, CLASSIFY_FIXTURES, root);
    int st = system(cmd);
    if (!CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        fprintf(stderr, "    %s failed (status %d)\n", cmd, st);
        return false;
    }
    char link[1024];
    snprintf(link, sizeof link, "%s/esc.tif", root);
    CHECK(symlink("../outside/secret.tif", link) == 0);
    snprintf(link, sizeof link, "%s/broken.tif", root);
    CHECK(symlink("nowhere.tif", link) == 0);
    snprintf(link, sizeof link, "%s/rootlink", root);
    CHECK(symlink("/", link) == 0);
    bool ok = make_zarr_links();
    settle(); /* so the first read of every fixture may be cached */
    return ok;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(base, sizeof base);
    if (!make_fixtures()) {
        check_rmtree(base);
        return check_finish("itest_classify");
    }

    struct itest_server s;
    const char *const args[] = {"--classify-batch", "3", "--threads", "4", NULL};
    if (!CHECK(itest_start(&s, root, args))) {
        check_rmtree(base);
        return check_finish("itest_classify");
    }
    test_files(&s);
    test_layout(&s);
    test_zarr_links(&s);
    test_corrupt(&s);
    test_never_stale(&s);
    test_far_future(&s);
    test_batch(&s);
    test_errors(&s);
    test_metrics(&s);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_check_log(&s);
    itest_free(&s);

    check_rmtree(base);
    curl_global_cleanup();
    return check_finish("itest_classify");
}
