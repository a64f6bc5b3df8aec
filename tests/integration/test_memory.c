/*
 * test_memory.c - what JSON bodies cost the server process, read from /proc/<pid>/status
 * (VmRSS: resident now, VmHWM: the peak):
 *   1. a body of more than --max-json-nodes values is refused with 413 before it is parsed:
 *      16 MB of "{}," (5.3 million values, a 1.2 GB tree when parsed) raises the peak by
 *      less than 64 MiB;
 *   2. after large JSON bodies are parsed - four at once, twice, each 500,000 empty objects
 *      (a ~116 MB tree apiece, so the peak shows the trees were really built) - the
 *      workers give the freed memory back (malloc_trim): with --malloc-arenas 1 the
 *      resident size returns to within 64 MiB of where it was before them; with glibc's
 *      default arenas each worker's arena may keep up to 64 MiB (the free top of its first
 *      heap), so within 4 x 64 MiB.
 * Not under valgrind or the sanitizers (their allocators keep freed memory by design, and
 * their own memory is in these counters): CMake registers it for plain builds only.
 */
#include "check.h"
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS  4
#define SLACK_KB (64L * 1024L)

static char root[512];

/* VmRSS or VmHWM of process pid in KiB, or -1. */
static long proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kib = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return kib;
}

/* {"x":[e,e,...]} with count copies of elem: valid JSON that /scan parses in full and then
 * refuses (unknown field), so only the parse costs memory. */
static char *json_array_of(const char *elem, size_t count, size_t *len)
{
    size_t e = strlen(elem);
    char *body = malloc(count * (e + 1) + 16);
    if (body == NULL)
        return NULL;
    size_t n = 0;
    memcpy(body + n, "{\"x\":[", 6);
    n += 6;
    for (size_t i = 0; i < count; i++) {
        memcpy(body + n, elem, e);
        n += e;
        body[n++] = ',';
    }
    memcpy(body + n - 1, "]}", 2);
    *len = n + 1;
    return body;
}

struct job {
    const struct itest_server *s;
    const char *body;
    size_t len;
    long status;
    bool sent;
};

static void *post_scan(void *arg)
{
    struct job *j = arg;
    const char *const hdr[] = {"Content-Type: application/json", NULL};
    struct itest_reply r;
    j->sent = itest_request(j->s, "POST", "/scan", hdr, j->body, j->len, &r);
    j->status = r.status;
    itest_reply_cleanup(&r);
    return NULL;
}

/* Post body to /scan from WORKERS threads at once; every answer must be want. */
static void post_together(const struct itest_server *s, const char *body, size_t len, long want)
{
    pthread_t t[WORKERS];
    struct job jobs[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        jobs[i] = (struct job){.s = s, .body = body, .len = len};
        CHECK(pthread_create(&t[i], NULL, post_scan, &jobs[i]) == 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].sent);
        CHECK_INT(jobs[i].status, want);
    }
}

/* Start a server with args; WORKERS bodies of 500,000 {} at once, twice; the resident size
 * must come back to within slack_kib of the idle server's. With refuse_first, first a body
 * over --max-json-nodes, which must not raise the peak. */
static void large_trees(const char *const args[], long slack_kib, bool refuse_first)
{
    struct itest_server s;
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_reply r;
    CHECK(itest_request(&s, "GET", "/scan", NULL, NULL, 0, &r)); /* warm up */
    itest_reply_cleanup(&r);
    long base_rss = proc_kib(s.pid, "VmRSS"), base_hwm = proc_kib(s.pid, "VmHWM");
    CHECK(base_rss > 0 && base_hwm > 0);
    size_t len;
    if (refuse_first) {
        /* Over --max-json-nodes: refused from a count, never parsed. */
        char *bomb = json_array_of("{}", 16000000 / 3, &len);
        const char *const hdr[] = {"Content-Type: application/json", NULL};
        if (CHECK(bomb != NULL) && CHECK(itest_request(&s, "POST", "/scan", hdr, bomb, len, &r))) {
            itest_is_problem(&r, 413);
            CHECK(strstr(r.body, "--max-json-nodes") != NULL);
        }
        itest_reply_cleanup(&r);
        free(bomb);
        long hwm = proc_kib(s.pid, "VmHWM");
        printf("itest_memory: 16 MB of {} refused: peak %ld -> %ld MiB\n", base_hwm / 1024,
               hwm / 1024);
        CHECK(hwm - base_hwm < SLACK_KB);
    }
    /* Large trees, WORKERS at once, twice: resident memory comes back. */
    char *big = json_array_of("{}", 500000, &len);
    if (CHECK(big != NULL))
        for (int round = 0; round < 2; round++)
            post_together(&s, big, len, 400);
    free(big);
    usleep(500 * 1000);
    long rss = proc_kib(s.pid, "VmRSS"), hwm = proc_kib(s.pid, "VmHWM");
    printf("itest_memory: %s: 2 x %d bodies of 500,000 {}: resident %ld -> %ld MiB, peak %ld "
           "MiB\n",
           args[2], WORKERS, base_rss / 1024, rss / 1024, hwm / 1024);
    CHECK(hwm - base_rss > 200L * 1024); /* the trees were built */
    CHECK(rss - base_rss < slack_kib);
    CHECK_INT(itest_stop(&s, 0, 10), 0);
    itest_free(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(root, sizeof root);
    const char *const one_arena[] = {"--workers", "4", "--malloc-arenas=1", "--access-log=false",
                                     NULL};
    large_trees(one_arena, SLACK_KB, true);
    const char *const default_arenas[] = {"--workers", "4", "--malloc-arenas=0",
                                          "--access-log=false", NULL};
    large_trees(default_arenas, WORKERS * SLACK_KB, false);
    check_rmtree(root);
    curl_global_cleanup();
    return check_finish("itest_memory");
}
