/*
 * test_scan_http.c - GET /scan and POST /scan over real HTTP against a tree the test builds:
 * mixed-case and double suffixes, a Zarr directory (one entry, never descended), a file
 * named y.zarr and a directory named d.tif, hidden names, symlinks inside / escaping /
 * broken / to /, natural sort (cyc2 before cyc10), an empty directory, depth and entry
 * bounds (truncated), classify=true against GET /classify, and every error the contract
 * names (404, 422, 403, 400 naming the parameter, 415), each as problem+json.
 *
 * Expected entries are written out by hand from the tree below, so a wrong order, a missing
 * or an extra entry shows up as one string comparison.
 */
#include "check.h"
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char base[512]; /* tmpdir: base/root is the data root, base/outside is not */
static char root[600];

/* ---------------------------------------------------------------------------------------
 * The tree
 * --------------------------------------------------------------------------------------- */

static void put_file(const char *rel, const void *data, size_t len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (!CHECK(f != NULL))
        return;
    CHECK_INT(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_dir(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    CHECK(mkdir(p, 0755) == 0);
}

static void put_link(const char *target, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    CHECK(symlink(target, p) == 0);
}

static void put_le16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v & 0xff);
    b[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *b, unsigned long v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)((v >> (8 * i)) & 0xff);
}

/* An 8x8 uint8 single-strip TIFF, 174 bytes, so classify=true has a real image to report. */
static void put_small_tiff(const char *rel)
{
    static const unsigned tags[][4] = {
        /* tag, type (3 SHORT, 4 LONG), count, value */
        {256, 3, 1, 8}, {257, 3, 1, 8},   {258, 3, 1, 8}, {259, 3, 1, 1},
        {262, 3, 1, 1}, {273, 4, 1, 110}, {278, 3, 1, 8}, {279, 4, 1, 64},
    };
    unsigned char b[174] = {'I', 'I', 42, 0};
    put_le32(b + 4, 8);
    put_le16(b + 8, 8);
    for (size_t i = 0; i < 8; i++) {
        unsigned char *e = b + 10 + 12 * i;
        put_le16(e, tags[i][0]);
        put_le16(e + 2, tags[i][1]);
        put_le32(e + 4, tags[i][2]);
        if (tags[i][1] == 3)
            put_le16(e + 8, tags[i][3]);
        else
            put_le32(e + 8, tags[i][3]);
    }
    /* next-IFD pointer at 106 stays 0; pixels 110..173 */
    for (size_t i = 110; i < sizeof b; i++)
        b[i] = (unsigned char)i;
    put_file(rel, b, sizeof b);
}

/*
 * root/
 *   B.TIF                 8x8 TIFF          entry .tif
 *   c.Ome.Tiff            text              entry .ome.tiff (suffix reported in lower case)
 *   cyc2/a.ome.tif                          entry .ome.tif, once
 *   cyc10/a.ome.tif, cyc10/corrupt.tif, cyc10/notes.txt
 *   x.zarr/.zgroup, x.zarr/0/inner.tif      one entry of type zarr, never descended
 *   y.zarr                regular file      not an entry
 *   d.tif/in.tiff         dir named d.tif   not an entry; descended when recursive
 *   deep/l1/l2/deep.tif                     depth 3
 *   .hidden.tif, .hdir/h.tif                only with hidden=true
 *   link.tif -> cyc2/a.ome.tif              followed (inside the root)
 *   linkdir -> cyc2                         followed when recursive
 *   esc.tif -> ../outside/secret.tif        escaping: errors
 *   broken.tif -> nowhere.tif               broken: errors
 *   rootlink -> /                           escaping directory: errors when recursive
 *   empty/                                  empty directory
 *   plain.txt
 */
static void build_tree(void)
{
    char p[1024];
    snprintf(root, sizeof root, "%s/root", base);
    CHECK(mkdir(root, 0755) == 0);
    snprintf(p, sizeof p, "%s/outside", base);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/outside/secret.tif", base);
    FILE *f = fopen(p, "w");
    if (CHECK(f != NULL)) {
        fputs("secret\n", f);
        fclose(f);
    }

    put_small_tiff("B.TIF");
    put_file("c.Ome.Tiff", "ome?\n", 5);
    put_dir("cyc2");
    put_file("cyc2/a.ome.tif", "cycle two\n", 10);
    put_dir("cyc10");
    put_file("cyc10/a.ome.tif", "cycle ten!\n", 11);
    /* a TIFF header whose first IFD lies past the end of the file */
    put_file("cyc10/corrupt.tif", "II*\0\0\x10\0\0", 8);
    put_file("cyc10/notes.txt", "n\n", 2);
    put_dir("x.zarr");
    put_file("x.zarr/.zgroup", "{\"zarr_format\": 2}", 18);
    put_dir("x.zarr/0");
    put_file("x.zarr/0/inner.tif", "z", 1);
    put_file("y.zarr", "not a store", 11);
    put_dir("d.tif");
    put_file("d.tif/in.tiff", "in", 2);
    put_dir("deep");
    put_dir("deep/l1");
    put_dir("deep/l1/l2");
    put_file("deep/l1/l2/deep.tif", "deep", 4);
    put_file(".hidden.tif", "h", 1);
    put_dir(".hdir");
    put_file(".hdir/h.tif", "hh", 2);
    put_link("cyc2/a.ome.tif", "link.tif");
    put_link("cyc2", "linkdir");
    put_link("../outside/secret.tif", "esc.tif");
    put_link("nowhere.tif", "broken.tif");
    put_link("/", "rootlink");
    put_dir("empty");
    put_file("plain.txt", "plain", 5);
}

/* ---------------------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------------------------- */

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

/* GET target, or POST body when body != NULL; CHECK 200 + JSON object; caller decrefs. */
static json_t *scan_call(const struct itest_server *s, const char *target, const char *body)
{
    struct itest_reply r;
    json_t *out = NULL;
    bool sent = body ? itest_request(s, "POST", target, json_ct, body, strlen(body), &r)
                     : itest_request(s, "GET", target, NULL, NULL, 0, &r);
    if (!CHECK(sent))
        goto out;
    if (!CHECK_INT(r.status, 200) || !CHECK(json_is_object(r.json))) {
        fprintf(stderr, "    %s %s %s: %.400s\n", body ? "POST" : "GET", target, body ? body : "",
                r.body);
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

/* Comma-joined values of key over the objects of array (a short string to compare). */
static const char *join_key(const json_t *array, const char *key)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        const char *v = json_string_value(json_object_get(item, key));
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", v ? v : "(none)");
        if (w < 0 || (size_t)w >= sizeof buf - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

static const char *entry_paths(const json_t *res)
{
    return join_key(json_object_get(res, "entries"), "path");
}

static const char *error_paths(const json_t *res)
{
    return join_key(json_object_get(res, "errors"), "path");
}

static bool is_rfc3339_ns(const char *t)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
    if (t == NULL || strlen(t) != sizeof pattern - 1)
        return false;
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        bool ok = pattern[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == pattern[i];
        if (!ok)
            return false;
    }
    return true;
}

static void format_mtime(const struct stat *st, char *buf, size_t size)
{
    struct tm tm;
    time_t t = st->st_mtim.tv_sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%09ldZ", st->st_mtim.tv_nsec);
}

/* Every member of the ScanResult shape, and every entry's fields against stat(2). */
static void check_shape(const json_t *res, const char *dir)
{
    if (!CHECK(res != NULL))
        return;
    CHECK_INT(json_object_size(res), 6);
    CHECK_STR(json_string_value(json_object_get(res, "dir")), dir);
    CHECK(json_is_boolean(json_object_get(res, "truncated")));
    CHECK(json_is_integer(json_object_get(res, "errors_dropped")));
    CHECK_INT(json_integer_value(json_object_get(res, "errors_dropped")), 0);
    json_t *entries = json_object_get(res, "entries");
    json_t *errors = json_object_get(res, "errors");
    CHECK(json_is_array(entries) && json_is_array(errors));
    CHECK_INT(json_integer_value(json_object_get(res, "count")), json_array_size(entries));
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *suffix = json_string_value(json_object_get(e, "suffix"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *mtime = json_string_value(json_object_get(e, "mtime"));
        json_t *size = json_object_get(e, "size");
        if (!CHECK(path && name && suffix && type && mtime && json_is_integer(size))) {
            fprintf(stderr, "    entry %zu lacks a field\n", i);
            continue;
        }
        CHECK(json_object_size(e) == 6 ||
              (json_object_size(e) == 7 && json_object_get(e, "classification") != NULL));
        const char *slash = strrchr(path, '/');
        CHECK_STR(name, slash ? slash + 1 : path);
        CHECK(is_rfc3339_ns(mtime));
        char full[1024], want[64];
        snprintf(full, sizeof full, "%s/%s", root, path);
        struct stat st;
        if (!CHECK(stat(full, &st) == 0))
            continue;
        format_mtime(&st, want, sizeof want);
        if (!CHECK_STR(mtime, want))
            fprintf(stderr, "    mtime of %s\n", path);
        if (S_ISDIR(st.st_mode)) {
            CHECK_STR(type, "zarr");
            CHECK_STR(suffix, ".zarr");
            CHECK_INT(json_integer_value(size), 0);
        } else {
            CHECK_STR(type, "file");
            CHECK_INT(json_integer_value(size), st.st_size);
        }
    }
    json_array_foreach(errors, i, e)
    {
        CHECK_INT(json_object_size(e), 2);
        CHECK(json_is_string(json_object_get(e, "path")));
        CHECK(json_is_string(json_object_get(e, "detail")));
    }
}

/* One request that must fail: problem+json with status, detail mentioning needle. */
static void expect_problem(const struct itest_server *s, const char *method, const char *target,
                           const char *const headers[], const char *body, long status,
                           const char *needle)
{
    struct itest_reply r;
    if (!CHECK(itest_request(s, method, target, headers, body, body ? strlen(body) : 0, &r))) {
        itest_reply_cleanup(&r);
        return;
    }
    bool ok = itest_is_problem(&r, status);
    const char *detail = json_string_value(json_object_get(r.json, "detail"));
    if (needle != NULL)
        ok &= CHECK(detail != NULL && strstr(detail, needle) != NULL);
    CHECK_STR(json_string_value(json_object_get(r.json, "instance")), "/scan");
    if (!ok)
        fprintf(stderr, "    %s %s %s -> %ld %s\n", method, target, body ? body : "", r.status,
                r.body);
    itest_reply_cleanup(&r);
}

/* ---------------------------------------------------------------------------------------
 * Listing rules
 * --------------------------------------------------------------------------------------- */

static void test_listing(const struct itest_server *s)
{
    json_t *res = scan_call(s, "/scan", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), "B.TIF,c.Ome.Tiff,link.tif,x.zarr");
    CHECK_STR(join_key(json_object_get(res, "entries"), "suffix"), ".tif,.ome.tiff,.tif,.zarr");
    CHECK_STR(join_key(json_object_get(res, "entries"), "type"), "file,file,file,zarr");
    CHECK_STR(error_paths(res), "broken.tif,esc.tif");
    CHECK(json_is_false(json_object_get(res, "truncated")));
    /* the escaping link's detail must not leak where it points */
    json_t *errors = json_object_get(res, "errors");
    for (size_t i = 0; i < json_array_size(errors); i++) {
        const char *d = json_string_value(json_object_get(json_array_get(errors, i), "detail"));
        CHECK(d != NULL && d[0] != '\0');
        CHECK(d == NULL || strstr(d, "secret") == NULL);
    }
    json_decref(res);

    /* the same listing with every default spelled out, and dir= (empty) */
    res = scan_call(s,
                    "/scan?dir=&recursive=false&max_depth=8&hidden=false&classify=false"
                    "&limit=100000",
                    NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), "B.TIF,c.Ome.Tiff,link.tif,x.zarr");
    json_decref(res);

    res = scan_call(s, "/scan?recursive=true", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), "B.TIF,c.Ome.Tiff,cyc2/a.ome.tif,cyc10/a.ome.tif,"
                                "cyc10/corrupt.tif,d.tif/in.tiff,deep/l1/l2/deep.tif,link.tif,"
                                "linkdir/a.ome.tif,x.zarr");
    CHECK_STR(error_paths(res), "broken.tif,esc.tif,rootlink");
    CHECK(json_is_false(json_object_get(res, "truncated")));
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 10);
    json_decref(res);

    res = scan_call(s, "/scan?recursive=true&hidden=true", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), ".hdir/h.tif,.hidden.tif,B.TIF,c.Ome.Tiff,cyc2/a.ome.tif,"
                                "cyc10/a.ome.tif,cyc10/corrupt.tif,d.tif/in.tiff,"
                                "deep/l1/l2/deep.tif,link.tif,linkdir/a.ome.tif,x.zarr");
    json_decref(res);

    res = scan_call(s, "/scan?hidden=true", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), ".hidden.tif,B.TIF,c.Ome.Tiff,link.tif,x.zarr");
    json_decref(res);

    res = scan_call(s, "/scan?dir=cyc10", NULL);
    check_shape(res, "cyc10");
    CHECK_STR(entry_paths(res), "cyc10/a.ome.tif,cyc10/corrupt.tif");
    CHECK_STR(join_key(json_object_get(res, "entries"), "name"), "a.ome.tif,corrupt.tif");
    CHECK_STR(join_key(json_object_get(res, "entries"), "suffix"), ".ome.tif,.tif");
    json_decref(res);

    /* a directory named like a file is still a directory to list */
    res = scan_call(s, "/scan?dir=d.tif", NULL);
    check_shape(res, "d.tif");
    CHECK_STR(entry_paths(res), "d.tif/in.tiff");
    json_decref(res);

    /* a link to a directory inside the root is a directory to list */
    res = scan_call(s, "/scan?dir=linkdir", NULL);
    check_shape(res, "linkdir");
    CHECK_STR(entry_paths(res), "linkdir/a.ome.tif");
    json_decref(res);

    res = scan_call(s, "/scan?dir=empty&recursive=true", NULL);
    check_shape(res, "empty");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 0);
    CHECK_INT(json_array_size(json_object_get(res, "entries")), 0);
    CHECK_INT(json_array_size(json_object_get(res, "errors")), 0);
    CHECK(json_is_false(json_object_get(res, "truncated")));
    json_decref(res);

    /* the same request twice gives the same bytes */
    struct itest_reply a, b;
    CHECK(itest_request(s, "GET", "/scan?recursive=true&hidden=true", NULL, NULL, 0, &a));
    CHECK(itest_request(s, "GET", "/scan?recursive=true&hidden=true", NULL, NULL, 0, &b));
    CHECK(a.len == b.len && a.len > 0 && memcmp(a.body, b.body, a.len) == 0);
    itest_reply_cleanup(&a);
    itest_reply_cleanup(&b);
}

/* ---------------------------------------------------------------------------------------
 * Bounds: depth and entry count set truncated
 * --------------------------------------------------------------------------------------- */

static bool is_subsequence(const json_t *part, const json_t *whole)
{
    size_t j = 0;
    for (size_t i = 0; i < json_array_size(part); i++) {
        while (j < json_array_size(whole) &&
               !json_equal(json_array_get(part, i), json_array_get(whole, j)))
            j++;
        if (j == json_array_size(whole))
            return false;
        j++;
    }
    return true;
}

static void test_bounds(const struct itest_server *s)
{
    json_t *res = scan_call(s, "/scan?recursive=true&max_depth=0", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), "B.TIF,c.Ome.Tiff,link.tif,x.zarr");
    CHECK(json_is_true(json_object_get(res, "truncated")));
    json_decref(res);

    res = scan_call(s, "/scan?recursive=true&max_depth=2", NULL);
    check_shape(res, "");
    CHECK_STR(entry_paths(res), "B.TIF,c.Ome.Tiff,cyc2/a.ome.tif,cyc10/a.ome.tif,"
                                "cyc10/corrupt.tif,d.tif/in.tiff,link.tif,linkdir/a.ome.tif,"
                                "x.zarr");
    CHECK(json_is_true(json_object_get(res, "truncated")));
    json_decref(res);

    res = scan_call(s, "/scan?recursive=true&max_depth=3", NULL);
    check_shape(res, "");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 10);
    CHECK(json_is_false(json_object_get(res, "truncated")));
    json_decref(res);

    json_t *full = scan_call(s, "/scan?recursive=true", NULL);
    json_t *all = json_object_get(full, "entries");
    /* exactly as many entries as the limit: nothing was dropped */
    res = scan_call(s, "/scan?recursive=true&limit=10", NULL);
    check_shape(res, "");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 10);
    CHECK(json_is_false(json_object_get(res, "truncated")));
    json_decref(res);
    for (unsigned limit = 1; limit < 10; limit += 4) {
        char target[128];
        snprintf(target, sizeof target, "/scan?recursive=true&limit=%u", limit);
        res = scan_call(s, target, NULL);
        check_shape(res, "");
        if (!CHECK_INT(json_integer_value(json_object_get(res, "count")), limit))
            fprintf(stderr, "    %s\n", target);
        CHECK(json_is_true(json_object_get(res, "truncated")));
        /* a sorted selection of the full listing */
        CHECK(is_subsequence(json_object_get(res, "entries"), all));
        json_decref(res);
    }
    json_decref(full);

    /* the limit counts entries of the whole tree, not per directory */
    res = scan_call(s, "/scan?dir=cyc10&limit=1", NULL);
    check_shape(res, "cyc10");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 1);
    CHECK(json_is_true(json_object_get(res, "truncated")));
    json_decref(res);
}

/* ---------------------------------------------------------------------------------------
 * POST /scan: the same options as a JSON body
 * --------------------------------------------------------------------------------------- */

static void same_answer(const struct itest_server *s, const char *get, const char *post)
{
    json_t *a = scan_call(s, get, NULL);
    json_t *b = scan_call(s, "/scan", post);
    if (!CHECK(a != NULL && b != NULL && json_equal(a, b))) {
        char *ta = a ? json_dumps(a, JSON_COMPACT) : NULL;
        char *tb = b ? json_dumps(b, JSON_COMPACT) : NULL;
        fprintf(stderr, "    GET %s: %.300s\n    POST %s: %.300s\n", get, ta ? ta : "", post,
                tb ? tb : "");
        free(ta);
        free(tb);
    }
    json_decref(a);
    json_decref(b);
}

static void test_post(const struct itest_server *s)
{
    /* "classify": false is spelled out here; leaving options out is test_post_defaults */
    same_answer(s, "/scan", "{\"classify\": false}");
    same_answer(s, "/scan?recursive=true&hidden=true",
                "{\"recursive\": true, \"hidden\": true, \"classify\": false}");
    same_answer(s, "/scan?dir=cyc10", "{\"dir\": \"cyc10\", \"classify\": false}");
    same_answer(s, "/scan?recursive=true&max_depth=2",
                "{\"recursive\":true,\"max_depth\":2,\"classify\":false}");
    same_answer(s, "/scan?recursive=true&limit=10",
                "{\"dir\":\"\",\"recursive\":true,\"limit\":10,\"classify\":false}");
    json_t *res = scan_call(s, "/scan", "{\"recursive\": true, \"limit\": 3, \"classify\": false}");
    check_shape(res, "");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 3);
    CHECK(json_is_true(json_object_get(res, "truncated")));
    json_decref(res);
}

/*
 * POST /scan without a "classify" field must not classify, exactly like GET /scan (a
 * regression test: the option was once left uninitialized, so old worker stack contents
 * decided). Runs last, on its own server, after requests that leave classify=true behind.
 */
static void test_post_defaults(const struct itest_server *s)
{
    /* leave classify=true values on the worker stacks first */
    for (int i = 0; i < 6; i++)
        json_decref(scan_call(s, "/scan?recursive=true&classify=true", NULL));
    json_t *plain = scan_call(s, "/scan", "{\"recursive\": true}");
    CHECK(plain != NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plain, "entries"), i, e)
    {
        if (!CHECK(json_object_get(e, "classification") == NULL)) {
            fprintf(stderr, "    POST /scan without \"classify\" classified %s\n",
                    json_string_value(json_object_get(e, "path")));
            break;
        }
    }
    json_decref(plain);
    same_answer(s, "/scan", "{}");
    same_answer(s, "/scan?dir=cyc10", "{\"dir\": \"cyc10\"}");
    same_answer(s, "/scan?recursive=true&hidden=true", "{\"recursive\": true, \"hidden\": true}");
}

/* ---------------------------------------------------------------------------------------
 * classify=true: each entry carries what GET /classify says about it
 * --------------------------------------------------------------------------------------- */

static void check_classified(const struct itest_server *s, const json_t *res)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "entries"), i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        json_t *c = json_object_get(e, "classification");
        if (!CHECK(json_is_object(c))) {
            fprintf(stderr, "    %s has no classification\n", path ? path : "?");
            continue;
        }
        CHECK_STR(json_string_value(json_object_get(c, "path")), path);
        char target[1024];
        snprintf(target, sizeof target, "/classify?path=%s", path);
        struct itest_reply r;
        if (!CHECK(itest_request(s, "GET", target, NULL, NULL, 0, &r))) {
            itest_reply_cleanup(&r);
            continue;
        }
        json_t *want = json_deep_copy(r.json);
        json_t *got = json_deep_copy(c);
        json_t *err = json_object_get(got, "error");
        if (r.status == 200) {
            json_object_del(want, "cached");
            json_object_del(got, "cached");
            CHECK(json_is_boolean(json_object_get(c, "cached")));
            if (!CHECK(json_equal(want, got))) {
                char *text = json_dumps(c, JSON_COMPACT);
                fprintf(stderr, "    %s: scan %s\n    classify %s\n", path, text, r.body);
                free(text);
            }
        } else {
            /* {"path", "error": problem}: the same problem GET /classify answers */
            CHECK_INT(json_object_size(got), 2);
            CHECK_INT(json_integer_value(json_object_get(err, "status")), r.status);
            CHECK_STR(json_string_value(json_object_get(err, "type")),
                      json_string_value(json_object_get(r.json, "type")));
            CHECK_STR(json_string_value(json_object_get(err, "detail")),
                      json_string_value(json_object_get(r.json, "detail")));
        }
        json_decref(want);
        json_decref(got);
        itest_reply_cleanup(&r);
    }
}

static const json_t *entry_named(const json_t *res, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "entries"), i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        if (p != NULL && strcmp(p, path) == 0)
            return e;
    }
    return NULL;
}

static void test_classify(const struct itest_server *s)
{
    json_t *res = scan_call(s, "/scan?recursive=true&classify=true", NULL);
    check_shape(res, "");
    CHECK_INT(json_integer_value(json_object_get(res, "count")), 10);
    check_classified(s, res);
    const json_t *b = json_object_get(entry_named(res, "B.TIF"), "classification");
    CHECK_STR(json_string_value(json_object_get(b, "container")), "tiff");
    CHECK_INT(json_integer_value(json_object_get(b, "width")), 8);
    CHECK_INT(json_integer_value(json_object_get(b, "height")), 8);
    CHECK_STR(json_string_value(json_object_get(b, "dtype")), "uint8");
    CHECK_INT(json_integer_value(json_object_get(b, "size")), 174);
    const json_t *x = json_object_get(entry_named(res, "x.zarr"), "classification");
    CHECK_STR(json_string_value(json_object_get(x, "container")), "zarr");
    const json_t *t = json_object_get(entry_named(res, "c.Ome.Tiff"), "classification");
    CHECK_STR(json_string_value(json_object_get(t, "container")), "unknown");
    const json_t *bad = json_object_get(entry_named(res, "cyc10/corrupt.tif"), "classification");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(bad, "error"), "status")), 422);
    json_decref(res);

    /* without classify there is no classification member */
    res = scan_call(s, "/scan", NULL);
    CHECK(json_object_get(entry_named(res, "B.TIF"), "classification") == NULL);
    json_decref(res);

    res = scan_call(s, "/scan", "{\"dir\": \"cyc2\", \"classify\": true}");
    check_shape(res, "cyc2");
    CHECK_STR(entry_paths(res), "cyc2/a.ome.tif");
    check_classified(s, res);
    json_decref(res);
}

/* ---------------------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------------------------- */

static void test_errors(const struct itest_server *s)
{
    expect_problem(s, "GET", "/scan?dir=nope", NULL, NULL, 404, "nope");
    expect_problem(s, "GET", "/scan?dir=cyc2/nope", NULL, NULL, 404, NULL);
    expect_problem(s, "GET", "/scan?dir=B.TIF", NULL, NULL, 422, "B.TIF");
    expect_problem(s, "GET", "/scan?dir=y.zarr", NULL, NULL, 422, NULL);
    expect_problem(s, "GET", "/scan?dir=link.tif", NULL, NULL, 422, NULL);
    expect_problem(s, "GET", "/scan?dir=../x", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=..", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=cyc2/../../outside", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=/etc", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=rootlink", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=rootlink/etc", NULL, NULL, 403, NULL);
    expect_problem(s, "GET", "/scan?dir=broken.tif", NULL, NULL, 404, NULL);

    expect_problem(s, "GET", "/scan?max_depth=-1", NULL, NULL, 400, "'max_depth'");
    expect_problem(s, "GET", "/scan?max_depth=abc", NULL, NULL, 400, "'max_depth'");
    expect_problem(s, "GET", "/scan?max_depth=99999999999999999999", NULL, NULL, 400,
                   "'max_depth'");
    expect_problem(s, "GET", "/scan?recursive=maybe", NULL, NULL, 400, "'recursive'");
    expect_problem(s, "GET", "/scan?hidden=2", NULL, NULL, 400, "'hidden'");
    expect_problem(s, "GET", "/scan?classify=yes", NULL, NULL, 400, "'classify'");
    expect_problem(s, "GET", "/scan?limit=0", NULL, NULL, 400, "'limit'");
    expect_problem(s, "GET", "/scan?limit=-5", NULL, NULL, 400, "'limit'");
    expect_problem(s, "GET", "/scan?limit=", NULL, NULL, 400, "'limit'");
    expect_problem(s, "GET", "/scan?foo=1", NULL, NULL, 400, "'foo'");
    expect_problem(s, "GET", "/scan?recursive=true&Recursive=true", NULL, NULL, 400, "'Recursive'");

    expect_problem(s, "POST", "/scan", json_ct, "{\"bogus\": 1}", 400, "'bogus'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"recursive\": \"yes\"}", 400, "'recursive'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"hidden\": 1}", 400, "'hidden'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"limit\": \"5\"}", 400, "'limit'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"limit\": 0}", 400, "'limit'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"max_depth\": -1}", 400, "'max_depth'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"max_depth\": 1.5}", 400, "'max_depth'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": 5}", 400, "'dir'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"recursive\": ", 400, "JSON");
    expect_problem(s, "POST", "/scan", json_ct, "[1, 2]", 400, "object");
    expect_problem(s, "POST", "/scan?dir=cyc2", json_ct, "{}", 400, "'dir'");
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": \"nope\"}", 404, NULL);
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": \"B.TIF\"}", 422, NULL);
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": \"../x\"}", 403, NULL);
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": \"/etc\"}", 403, NULL);
    expect_problem(s, "POST", "/scan", json_ct, "{\"dir\": \"rootlink\"}", 403, NULL);
    const char *const text[] = {"Content-Type: text/plain", NULL};
    expect_problem(s, "POST", "/scan", text, "{}", 415, NULL);
    const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    expect_problem(s, "POST", "/scan", form, "recursive=true", 415, NULL);

    struct itest_reply r;
    char allow[128];
    CHECK(itest_request(s, "DELETE", "/scan", NULL, NULL, 0, &r));
    itest_is_problem(&r, 405);
    CHECK(itest_header(&r, "Allow", allow, sizeof allow));
    CHECK_STR(allow, "GET, HEAD, POST, OPTIONS");
    itest_reply_cleanup(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(base, sizeof base);
    build_tree();

    struct itest_server s;
    if (!CHECK(itest_start(&s, root, NULL)))
        return check_finish("itest_scan");
    test_listing(&s);
    test_bounds(&s);
    test_post(&s);
    test_classify(&s);
    test_errors(&s);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_check_log(&s);
    itest_free(&s);

    if (CHECK(itest_start(&s, root, NULL))) {
        test_post_defaults(&s);
        CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
        itest_check_log(&s);
        itest_free(&s);
    }

    check_rmtree(base);
    curl_global_cleanup();
    return check_finish("itest_scan");
}
