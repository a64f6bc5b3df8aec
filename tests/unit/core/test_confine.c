/*
 * test_confine.c - the path-confinement table: every payload, through both resolvers
 * (openat2 and the O_NOFOLLOW walk), must give the same expected outcome.
 */
#include "check.h"
#include "confine.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct confine_case {
    const char *path;
    size_t len; /* 0 = strlen(path) */
    enum confine_expect expect;
    enum error_code want;
};

static char long_path[CONFINE_PATH_MAX + 3];
static char max_path[CONFINE_PATH_MAX + 1];
static char long_component[CONFINE_COMPONENT_MAX + 2];
static char max_component[CONFINE_COMPONENT_MAX + 1];

static void make_tree(const char *root, const char *outside)
{
    char p[PATH_MAX + 8];
    int dfd = open(root, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(mkdirat(dfd, "a", 0755) == 0);
    CHECK(mkdirat(dfd, "a/sub", 0755) == 0);
    int fd = openat(dfd, "a/file.tif", O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && write(fd, "II*\0", 4) == 4);
    close(fd);
    CHECK(symlinkat("a/file.tif", dfd, "link_in") == 0);
    CHECK(symlinkat("a", dfd, "link_dir_in") == 0);
    CHECK(symlinkat("/", dfd, "link_root") == 0);
    CHECK(symlinkat("..", dfd, "link_up") == 0);
    CHECK(symlinkat("/proc/self/root", dfd, "link_proc") == 0);
    CHECK(symlinkat("loop2", dfd, "loop1") == 0);
    CHECK(symlinkat("loop1", dfd, "loop2") == 0);
    CHECK(symlinkat("../a/file.tif", dfd, "a/link_up_in") == 0);
    CHECK(symlinkat("../../outside", dfd, "a/link_escape") == 0);
    CHECK(symlinkat("nowhere", dfd, "broken") == 0);
    snprintf(p, sizeof p, "%s/a", root);
    CHECK(symlinkat(p, dfd, "link_abs_inside") == 0);
    CHECK(symlinkat(outside, dfd, "link_outside_file") == 0);
    CHECK(mkfifoat(dfd, "fifo", 0644) == 0);
    close(dfd);
}

static const struct confine_case cases[] = {
    {"../x", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"a/../../x", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"a/..", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"/etc/passwd", 0, CONFINE_FILE, ERROR_FORBIDDEN},
    {"//etc", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"../", 0, CONFINE_ANY, ERROR_FORBIDDEN},          /* "%2e%2e/" as it arrives, decoded */
    {"%2e%2e/x", 0, CONFINE_ANY, ERROR_NOT_FOUND},     /* never decoded twice: a plain name */
    {"a\0b", 3, CONFINE_ANY, ERROR_INVALID},           /* NUL inside the path */
    {"a/file.tif\x01", 0, CONFINE_ANY, ERROR_INVALID}, /* control character */
    {"a/file.tif\x7f", 0, CONFINE_ANY, ERROR_INVALID},
    {"link_root", 0, CONFINE_ANY, ERROR_FORBIDDEN}, /* symlink to / */
    {"link_root/etc/passwd", 0, CONFINE_FILE, ERROR_FORBIDDEN},
    {"link_up", 0, CONFINE_ANY, ERROR_FORBIDDEN}, /* symlink to .. */
    {"link_up/outside", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"link_proc", 0, CONFINE_ANY, ERROR_FORBIDDEN}, /* symlink to /proc/self/root */
    {"link_proc/etc/passwd", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"link_abs_inside", 0, CONFINE_DIR, ERROR_FORBIDDEN}, /* absolute links always refused */
    {"link_outside_file", 0, CONFINE_FILE, ERROR_FORBIDDEN},
    {"a/link_escape", 0, CONFINE_ANY, ERROR_FORBIDDEN},
    {"loop1", 0, CONFINE_ANY, ERROR_UNPROCESSABLE}, /* symlink loop */
    {"broken", 0, CONFINE_ANY, ERROR_NOT_FOUND},
    {"fifo", 0, CONFINE_FILE, ERROR_UNPROCESSABLE},  /* never blocks */
    {long_path, 0, CONFINE_ANY, ERROR_INVALID},      /* 4097 bytes */
    {max_path, 0, CONFINE_ANY, ERROR_NOT_FOUND},     /* 4095 bytes: allowed, absent */
    {long_component, 0, CONFINE_ANY, ERROR_INVALID}, /* 256-byte component */
    {max_component, 0, CONFINE_ANY, ERROR_NOT_FOUND},
    {"a", 0, CONFINE_FILE, ERROR_UNPROCESSABLE}, /* directory where a file is expected */
    {"a/file.tif", 0, CONFINE_DIR, ERROR_UNPROCESSABLE},
    {"a/file.tif/x", 0, CONFINE_ANY, ERROR_UNPROCESSABLE},
    {"missing", 0, CONFINE_ANY, ERROR_NOT_FOUND},
    {"...", 0, CONFINE_ANY, ERROR_NOT_FOUND},
    {"a/file.tif", 0, CONFINE_FILE, ERROR_OK},
    {"a//file.tif", 0, CONFINE_FILE, ERROR_OK},
    {"./a/./file.tif", 0, CONFINE_FILE, ERROR_OK},
    {"link_in", 0, CONFINE_FILE, ERROR_OK}, /* symlink inside the root */
    {"link_dir_in/file.tif", 0, CONFINE_FILE, ERROR_OK},
    {"a/link_up_in", 0, CONFINE_FILE, ERROR_OK}, /* climbs, but stays inside */
    {"", 0, CONFINE_DIR, ERROR_OK},
    {".", 0, CONFINE_DIR, ERROR_OK},
    {"a/sub", 0, CONFINE_DIR, ERROR_OK},
    {"link_dir_in", 0, CONFINE_DIR, ERROR_OK},
};

static void run_table(int root_fd, bool use_openat2)
{
    confine_set_use_openat2(use_openat2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct confine_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->path);
        struct error_info err;
        error_init(&err);
        struct stat st;
        int fd = -2;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        enum error_code rc = confine_open(root_fd, c->path, len, c->expect, &fd, &st, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!CHECK_INT(rc, c->want))
            fprintf(stderr, "    case %zu (%.40s) openat2=%d: %s\n", i, c->path, use_openat2,
                    err.detail);
        CHECK(t1.tv_sec - t0.tv_sec < 2);
        if (rc == ERROR_OK) {
            CHECK(fd >= 0);
            CHECK(c->expect != CONFINE_FILE || S_ISREG(st.st_mode));
            close(fd);
        } else {
            CHECK_INT(fd, -1);
            CHECK(err.detail[0] != '\0');
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * A client racing the fallback walk: "racy" flips between a symlink and a regular file
 * while it is resolved. Every answer must be a clean outcome (found, or not found in the
 * instant nothing is there), never an I/O error or a server error: the walk reads a link
 * through the descriptor it opened, so a rename in between cannot break it.
 * --------------------------------------------------------------------------------------- */

struct racer {
    int dfd;
    atomic_bool stop;
    unsigned flips;
};

static void *race_flip(void *arg)
{
    struct racer *r = arg;
    while (!atomic_load(&r->stop)) {
        (void)unlinkat(r->dfd, "racy.tmp", 0);
        if (symlinkat("a/file.tif", r->dfd, "racy.tmp") == 0)
            (void)renameat(r->dfd, "racy.tmp", r->dfd, "racy");
        int fd = openat(r->dfd, "racy.file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            (void)write(fd, "II*\0", 4);
            close(fd);
            (void)renameat(r->dfd, "racy.file", r->dfd, "racy");
        }
        r->flips++;
    }
    return NULL;
}

static void test_link_race(const char *root)
{
    struct racer r = {.dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    CHECK(r.dfd >= 0);
    atomic_init(&r.stop, false);
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    confine_set_use_openat2(false);
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, race_flip, &r) == 0);
    unsigned ok = 0, missing = 0, other = 0;
    for (unsigned i = 0; i < 3000; i++) {
        struct error_info err;
        error_init(&err);
        int fd = -1;
        enum error_code rc = confine_open(root_fd, "racy", 4, CONFINE_FILE, &fd, NULL, &err);
        if (rc == ERROR_OK) {
            ok++;
            close(fd);
        } else if (rc == ERROR_NOT_FOUND) {
            missing++;
        } else {
            if (other++ == 0)
                fprintf(stderr, "    racing link: %s: %s\n", error_code_name(rc), err.detail);
        }
    }
    atomic_store(&r.stop, true);
    pthread_join(tid, NULL);
    fprintf(stderr, "    racing link: %u found, %u not found, %u other, %u flips\n", ok, missing,
            other, r.flips);
    CHECK_INT(other, 0);
    CHECK(ok > 0);
    CHECK(r.flips > 0);
    confine_set_use_openat2(true);
    close(root_fd);
    close(r.dfd);
}

int main(void)
{
    memset(long_path, 'a', sizeof long_path - 1);
    for (size_t i = 100; i < sizeof long_path - 1; i += 100)
        long_path[i] = '/';
    memset(max_path, 'b', sizeof max_path - 1);
    for (size_t i = 100; i < sizeof max_path - 1; i += 100)
        max_path[i] = '/';
    memset(long_component, 'c', sizeof long_component - 1);
    memset(max_component, 'd', sizeof max_component - 1);
    CHECK_INT(strlen(long_path), CONFINE_PATH_MAX + 2);
    CHECK_INT(strlen(long_component), CONFINE_COMPONENT_MAX + 1);

    char tmp[512], root[PATH_MAX], outside[PATH_MAX];
    check_tmpdir(tmp, sizeof tmp);
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(outside, sizeof outside, "%s/outside", tmp);
    CHECK(mkdir(root, 0755) == 0);
    int ofd = open(outside, O_WRONLY | O_CREAT, 0644);
    CHECK(ofd >= 0);
    close(ofd);
    make_tree(root, outside);

    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root_fd >= 0);
    run_table(root_fd, true);
    run_table(root_fd, false);
    close(root_fd);

    /* The root may itself be opened without O_PATH; results must not change. */
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    run_table(root_fd, true);
    close(root_fd);

    test_link_race(root);

    check_rmtree(tmp);
    return check_finish("test_confine");
}
