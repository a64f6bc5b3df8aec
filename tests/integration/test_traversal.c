/*
 * test_traversal.c - one path-traversal table run against every endpoint that takes a path
 * (GET/POST /scan dir, GET /classify path, POST /classify paths, POST /overlap a/b and
 * pairs): every payload that leaves the data root is 403, every malformed one 400, never a
 * 200 and never a 404 (which would mean something outside was looked up). Then the paths a
 * Zarr store's own metadata names: a .zattrs link that leaves the root is 422 in every
 * classify form (GET, batch POST, /scan?classify=true), and one that stays inside is read.
 * Last the files /overlap reads inside a Zarr array: a chunk or .zarray that links out of
 * the root (absolute or relative), a group whose dataset path climbs out, and the .zattrs
 * stores above are 403; a chunk linked elsewhere inside the root is read.
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
#include <unistd.h>

struct traversal_case {
    const char *path; /* as the JSON string holds it (escapes allowed) */
    const char *raw;  /* the same bytes for the query string */
    long want;
};

static const struct traversal_case cases[] = {
    {"../x", "../x", 403},
    {"a/../../x", "a/../../x", 403},
    {"a/..", "a/..", 403},
    {"..", "..", 403},
    {"../", "../", 403},
    {"/etc/passwd", "/etc/passwd", 403},
    {"//etc", "//etc", 403},
    {"link_root", "link_root", 403},
    {"link_root/etc/passwd", "link_root/etc/passwd", 403},
    {"link_up", "link_up", 403},
    {"link_up/outside.tif", "link_up/outside.tif", 403},
    {"link_proc", "link_proc", 403},
    {"link_proc/etc/passwd", "link_proc/etc/passwd", 403},
    {"link_abs_inside", "link_abs_inside", 403},
    {"link_outside", "link_outside", 403},
    {"a/link_escape", "a/link_escape", 403},
    {"a/link_escape/outside.tif", "a/link_escape/outside.tif", 403},
    {"a/\\u0001b", "a/\x01b", 400},
    {"a\\u007f", "a\x7f", 400},
};

static char root[512], outside[600];

static void make_tree(void)
{
    char top[400], p[PATH_MAX];
    check_tmpdir(top, sizeof top);
    snprintf(root, sizeof root, "%s/root", top);
    snprintf(outside, sizeof outside, "%s/outside.tif", top);
    CHECK(mkdir(root, 0755) == 0);
    int fd = open(outside, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && write(fd, "II*\0", 4) == 4);
    close(fd);
    snprintf(p, sizeof p, "%s/a", root);
    CHECK(mkdir(p, 0755) == 0);
    const char *const links[][2] = {{"/", "link_root"},
                                    {"..", "link_up"},
                                    {"/proc/self/root", "link_proc"},
                                    {outside, "link_outside"},
                                    {"../../", "a/link_escape"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, links[i][1]);
        CHECK(symlink(links[i][0], p) == 0);
    }
    /* Zarr stores (a .zgroup each) whose .zattrs links out by a relative and an absolute
     * link, and one whose .zattrs links to a file elsewhere inside the root */
    const char *const stores[][2] = {{"../../outside.tif", "store_out.zarr"},
                                     {outside, "store_abs.zarr"},
                                     {"../a/attrs.json", "store_in.zarr"}};
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, stores[i][1]);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/%s/.zgroup", root, stores[i][1]);
        fd = open(p, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0 && write(fd, "{}", 2) == 2);
        close(fd);
        snprintf(p, sizeof p, "%s/%s/.zattrs", root, stores[i][1]);
        CHECK(symlink(stores[i][0], p) == 0);
    }
    snprintf(p, sizeof p, "%s/a/attrs.json", root);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    const char attrs[] = "{\"multiscales\": [{\"datasets\": [{\"path\": \"0\"}]}]}";
    CHECK(fd >= 0 && write(fd, attrs, sizeof attrs - 1) == (ssize_t)(sizeof attrs - 1));
    close(fd);
    snprintf(p, sizeof p, "%s/a", root);
    char abs_link[PATH_MAX];
    snprintf(abs_link, sizeof abs_link, "%s/link_abs_inside", root);
    CHECK(symlink(p, abs_link) == 0);
}

static void expect(const struct itest_server *s, const char *what, const char *method,
                   const char *target, const char *body, long want)
{
    const char *const json[] = {"Content-Type: application/json", NULL};
    struct itest_reply r;
    CHECK(itest_request(s, method, target, body ? json : NULL, body, body ? strlen(body) : 0, &r));
    if (!itest_is_problem(&r, want))
        fprintf(stderr, "    %s: %s %s %s\n", what, method, target, body ? body : "");
    itest_reply_cleanup(&r);
}

/* For batches: the item's error.status. */
static void expect_item(const struct itest_server *s, const char *what, const char *target,
                        const char *body, const char *array, long want)
{
    const char *const json[] = {"Content-Type: application/json", NULL};
    struct itest_reply r;
    CHECK(itest_request(s, "POST", target, json, body, strlen(body), &r));
    CHECK_INT(r.status, 200);
    json_t *item = json_array_get(json_object_get(r.json, array), 0);
    json_t *error = json_object_get(item, "error");
    if (!CHECK_INT(json_integer_value(json_object_get(error, "status")), want))
        fprintf(stderr, "    %s: %s\n", what, body);
    itest_reply_cleanup(&r);
}

/* The stores of make_tree: 422 for the two whose .zattrs leads out, in every classify form,
 * and the inside one read as OME-Zarr. Returns the requests made. */
static unsigned check_stores(const struct itest_server *s)
{
    const char *const out[] = {"store_out.zarr", "store_abs.zarr"};
    char target[256], body[256];
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        snprintf(target, sizeof target, "/classify?path=%s", out[i]);
        expect(s, out[i], "GET", target, NULL, 422);
        snprintf(body, sizeof body, "{\"paths\": [\"%s\"]}", out[i]);
        expect_item(s, out[i], "/classify", body, "results", 422);
    }
    struct itest_reply r;
    CHECK(itest_request(s, "GET", "/classify?path=store_in.zarr", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "format")), "ome-zarr");
    itest_reply_cleanup(&r);
    CHECK(itest_request(s, "GET", "/scan?classify=true", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    unsigned seen = 0;
    json_t *entries = json_object_get(r.json, "entries");
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *e = json_array_get(entries, i);
        const char *path = json_string_value(json_object_get(e, "path"));
        json_t *c = json_object_get(e, "classification");
        json_t *status = json_object_get(json_object_get(c, "error"), "status");
        if (path == NULL)
            continue;
        if (strcmp(path, "store_in.zarr") == 0) {
            CHECK(status == NULL);
            seen++;
        } else if (strcmp(path, "store_out.zarr") == 0 || strcmp(path, "store_abs.zarr") == 0) {
            if (!CHECK_INT(json_integer_value(status), 422))
                fprintf(stderr, "    /scan?classify=true: %s\n", path);
            seen++;
        }
    }
    CHECK_INT(seen, 3);
    itest_reply_cleanup(&r);
    return 2 * (unsigned)(sizeof out / sizeof out[0]) + 2;
}

/* A 4 x 4 uint8 Zarr array rel beneath the root, whose chunk 0.0 (or, when meta_link,
 * whose .zarray) is a symlink to link; link NULL: a plain chunk of 16 bytes. */
static void make_linked_store(const char *rel, const char *link, bool meta_link)
{
    char p[PATH_MAX];
    const char meta[] = "{\"zarr_format\": 2, \"shape\": [4, 4], \"chunks\": [4, 4], "
                        "\"dtype\": \"|u1\", \"order\": \"C\", \"fill_value\": 0, "
                        "\"filters\": null, \"compressor\": null}";
    snprintf(p, sizeof p, "%s/%s", root, rel);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/%s/.zarray", root, rel);
    if (meta_link) {
        CHECK(symlink(link, p) == 0);
    } else {
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0 && write(fd, meta, sizeof meta - 1) == (ssize_t)(sizeof meta - 1));
        close(fd);
    }
    snprintf(p, sizeof p, "%s/%s/0.0", root, rel);
    if (link != NULL && !meta_link) {
        CHECK(symlink(link, p) == 0);
    } else {
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0 && write(fd, "0123456789abcdef", 16) == 16);
        close(fd);
    }
}

static unsigned check_zarr_links(const struct itest_server *s)
{
    char p[PATH_MAX];
    make_linked_store("z_plain.zarr", NULL, false);
    make_linked_store("z_chunk_abs.zarr", outside, false);
    make_linked_store("z_chunk_rel.zarr", "../../outside.tif", false);
    make_linked_store("z_meta_abs.zarr", outside, true);
    make_linked_store("z_chunk_in.zarr", "../z_plain.zarr/0.0", false);
    snprintf(p, sizeof p, "%s/z_group.zarr", root);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/z_group.zarr/.zattrs", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    const char attrs[] = "{\"multiscales\": [{\"datasets\": [{\"path\": \"../../x\"}]}]}";
    CHECK(fd >= 0 && write(fd, attrs, sizeof attrs - 1) == (ssize_t)(sizeof attrs - 1));
    close(fd);
    const struct {
        const char *path;
        long want;
    } t[] = {{"z_chunk_abs.zarr", 403}, {"z_chunk_rel.zarr", 403}, {"z_meta_abs.zarr", 403},
             {"z_group.zarr", 403},     {"store_out.zarr", 403},   {"store_abs.zarr", 403}};
    char body[256];
    unsigned n = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(body, sizeof body, "{\"a\": \"z_plain.zarr\", \"b\": \"%s\"}", t[i].path);
        expect(s, t[i].path, "POST", "/overlap", body, t[i].want);
        snprintf(body, sizeof body, "{\"pairs\": [{\"a\": \"%s\", \"b\": \"z_plain.zarr\"}]}",
                 t[i].path);
        expect_item(s, t[i].path, "/overlap", body, "results", t[i].want);
        n += 2;
    }
    /* a chunk linked elsewhere inside the root is read: 16 pixels, each its own label */
    const char *const json[] = {"Content-Type: application/json", NULL};
    const char in[] = "{\"a\": \"z_plain.zarr\", \"b\": \"z_chunk_in.zarr\"}";
    struct itest_reply r;
    CHECK(itest_request(s, "POST", "/overlap", json, in, sizeof in - 1, &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(json_integer_value(json_object_get(r.json, "labels_a")), 16);
    CHECK_INT(json_array_size(json_object_get(json_object_get(r.json, "pairs"), "count")), 16);
    itest_reply_cleanup(&r);
    return n + 1;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    make_tree();
    struct itest_server s;
    const char *const args[] = {"--access-log=false", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return check_finish("itest_traversal");
    CURL *c = curl_easy_init();
    unsigned requests = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct traversal_case *t = &cases[i];
        char *q = curl_easy_escape(c, t->raw, 0);
        char target[1024], body[1024];
        snprintf(target, sizeof target, "/scan?dir=%s", q);
        expect(&s, t->raw, "GET", target, NULL, t->want);
        snprintf(target, sizeof target, "/classify?path=%s", q);
        expect(&s, t->raw, "GET", target, NULL, t->want);
        snprintf(body, sizeof body, "{\"dir\": \"%s\"}", t->path);
        expect(&s, t->raw, "POST", "/scan", body, t->want);
        snprintf(body, sizeof body, "{\"a\": \"%s\", \"b\": \"%s\"}", t->path, t->path);
        expect(&s, t->raw, "POST", "/overlap", body, t->want);
        snprintf(body, sizeof body, "{\"paths\": [\"%s\"]}", t->path);
        expect_item(&s, t->raw, "/classify", body, "results", t->want);
        snprintf(body, sizeof body, "{\"pairs\": [{\"a\": \"%s\", \"b\": \"%s\"}]}", t->path,
                 t->path);
        expect_item(&s, t->raw, "/overlap", body, "results", t->want);
        requests += 6;
        curl_free(q);
    }
    /* A NUL inside a JSON string is refused (the whole body: jansson rejects \u0000), never
     * truncated to a shorter path. */
    expect(&s, "NUL", "POST", "/scan", "{\"dir\": \"a\\u0000/../..\"}", 400);
    expect(&s, "NUL", "POST", "/classify", "{\"paths\": [\"a\\u0000x\"]}", 400);
    requests += check_stores(&s);
    requests += check_zarr_links(&s);
    printf("itest_traversal: %u requests, %zu payloads x 6 endpoint forms, 0 escapes allowed\n",
           requests + 2, sizeof cases / sizeof cases[0]);
    curl_easy_cleanup(c);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
    curl_global_cleanup();
    return check_finish("itest_traversal");
}
