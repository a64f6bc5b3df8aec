/*
 * test_threads.c - the process-wide thread budget over real HTTP: 16 concurrent heavy
 * /overlap requests (two 2048 x 2048 label TIFFs, --threads 4, --workers 4, --thread-budget 2)
 * while /proc/<server pid>/status "Threads:" is sampled every 2 ms.
 *
 * The bound asserted: threads alive <= fixed + --io-threads + --workers + --thread-budget,
 * where fixed (the main thread, and whatever else the process holds when idle) is measured on
 * the idle server after a warm-up request, as idle - io-threads - workers. Without the budget
 * each of the 4 busy workers would add 3 helpers (12, not 2). Every answer must equal the
 * counts computed here pixel by pixel, and /metrics must report a helper-thread peak within
 * the budget and no helper alive once the requests are done.
 */
#include "check.h"
#include "harness.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#define REQUESTS   16
#define IO_THREADS 2
#define WORKERS    4
#define THREADS    4
#define BUDGET     2

static char root[512];

/* ------------------------------------------------------------------------------------------
 * The images and the expected answer
 *
 * a: square cells of 64 pixels; b: cells of 80 x 96 shifted by (37, 53), so every cell of a
 * meets a few of b. Labels start at 1 (no background).
 */

static uint32_t side;

static uint16_t label_a(uint32_t y, uint32_t x)
{
    return (uint16_t)(1 + (y / 64) * (side / 64) + x / 64);
}

static uint16_t label_b(uint32_t y, uint32_t x)
{
    uint32_t per_row = (side + 53) / 96 + 1;
    return (uint16_t)(1 + ((y + 37) / 80) * per_row + (x + 53) / 96);
}

static bool write_image(const char *name, uint16_t (*label)(uint32_t, uint32_t))
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, name);
    TIFF *tif = TIFFOpen(path, "w");
    if (tif == NULL)
        return false;
    const uint32_t rows_per_strip = 16;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, side);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, side);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    uint16_t *strip = malloc((size_t)side * rows_per_strip * sizeof *strip);
    bool ok = strip != NULL;
    for (uint32_t y0 = 0, k = 0; ok && y0 < side; y0 += rows_per_strip, k++) {
        for (uint32_t r = 0; r < rows_per_strip; r++)
            for (uint32_t x = 0; x < side; x++)
                strip[(size_t)r * side + x] = label(y0 + r, x);
        ok = TIFFWriteEncodedStrip(tif, k, strip,
                                   (tmsize_t)((size_t)side * rows_per_strip * sizeof *strip)) >= 0;
    }
    free(strip);
    TIFFClose(tif);
    return ok;
}

struct text {
    char *s;
    size_t len, cap;
};

static void text_puts(struct text *t, const char *str)
{
    size_t n = strlen(str);
    while (t->cap - t->len <= n) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        t->s = realloc(t->s, t->cap);
        if (t->s == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    memcpy(t->s + t->len, str, n + 1);
    t->len += n;
}

static void text_u64(struct text *t, bool comma, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, comma ? ",%" PRIu64 : "%" PRIu64, v);
    text_puts(t, num);
}

/* The answer's "pairs" object as the server writes it: a, b, count columns in (a, b) order,
 * counted here pixel by pixel into a dense table. */
static char *expected_pairs(void)
{
    const size_t na = (size_t)label_a(side - 1, side - 1) + 1;
    const size_t nb = (size_t)label_b(side - 1, side - 1) + 1;
    uint32_t *table = calloc(na * nb, sizeof *table);
    for (uint32_t y = 0; y < side; y++)
        for (uint32_t x = 0; x < side; x++)
            table[(size_t)label_a(y, x) * nb + label_b(y, x)]++;
    struct text col[3] = {{0}, {0}, {0}};
    text_puts(&col[0], "\"pairs\":{\"a\":[");
    text_puts(&col[1], "],\"b\":[");
    text_puts(&col[2], "],\"count\":[");
    bool comma = false;
    for (size_t a = 0; a < na; a++)
        for (size_t b = 0; b < nb; b++) {
            uint32_t n = table[a * nb + b];
            if (n == 0)
                continue;
            text_u64(&col[0], comma, a);
            text_u64(&col[1], comma, b);
            text_u64(&col[2], comma, n);
            comma = true;
        }
    free(table);
    text_puts(&col[0], col[1].s);
    text_puts(&col[0], col[2].s);
    text_puts(&col[0], "]}");
    free(col[1].s);
    free(col[2].s);
    return col[0].s;
}

/* ------------------------------------------------------------------------------------------
 * Watching the server's threads
 */

static int threads_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int n = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Threads:", 8) == 0)
            n = atoi(line + 8);
    fclose(f);
    return n;
}

struct sampler {
    pid_t pid;
    atomic_bool stop;
    int peak;
    unsigned samples;
};

static void *sample_threads(void *arg)
{
    struct sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        int n = threads_of(s->pid);
        if (n > s->peak)
            s->peak = n;
        s->samples++;
        usleep(2000);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * The requests
 */

static const char *const json_headers[] = {"Content-Type: application/json", NULL};
static const char overlap_body[] = "{\"a\":\"a.tif\",\"b\":\"b.tif\"}";

struct client {
    const struct itest_server *server;
    const char *want;
    bool sent, ok;
    long status;
    char detail[200];
};

static void *run_client(void *arg)
{
    struct client *c = arg;
    struct itest_reply r;
    c->sent = itest_request(c->server, "POST", "/overlap", json_headers, overlap_body,
                            strlen(overlap_body), &r);
    c->status = r.status;
    c->ok = c->sent && r.status == 200 && strstr(r.body, c->want) != NULL;
    if (!c->ok)
        snprintf(c->detail, sizeof c->detail, "%.190s", r.body);
    itest_reply_cleanup(&r);
    return NULL;
}

/* The value of a metrics line "name N", or -1. */
static long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtol(p + n + 1, NULL, 10);
    return -1;
}

static void test_budget(void)
{
    char io[16], workers[16], threads[16], budget[16];
    snprintf(io, sizeof io, "%d", IO_THREADS);
    snprintf(workers, sizeof workers, "%d", WORKERS);
    snprintf(threads, sizeof threads, "%d", THREADS);
    snprintf(budget, sizeof budget, "%d", BUDGET);
    const char *const extra[] = {
        "--io-threads",    io,     "--workers",         workers,  "--threads", threads,
        "--thread-budget", budget, "--request-timeout", "600000", NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, root, extra)))
        return;
    char *want = expected_pairs();

    /* Warm up (first-touch costs, lazily made state), then measure the idle process. */
    struct client warm = {.server = &s, .want = want};
    run_client(&warm);
    if (!CHECK(warm.ok))
        fprintf(stderr, "    warm-up: status %ld: %s\n", warm.status, warm.detail);
    usleep(100000);
    int idle = threads_of(s.pid);
    for (int i = 0; i < 5; i++) {
        usleep(20000);
        int again = threads_of(s.pid);
        idle = again > idle ? again : idle;
    }
    const int fixed = idle - IO_THREADS - WORKERS;
    const int bound = fixed + IO_THREADS + WORKERS + BUDGET;
    CHECK(fixed >= 1); /* the main thread at least */

    struct sampler sm = {.pid = s.pid, .peak = idle};
    atomic_init(&sm.stop, false);
    pthread_t sampler;
    CHECK(pthread_create(&sampler, NULL, sample_threads, &sm) == 0);
    struct client clients[REQUESTS];
    pthread_t tid[REQUESTS];
    for (int i = 0; i < REQUESTS; i++) {
        clients[i] = (struct client){.server = &s, .want = want};
        CHECK(pthread_create(&tid[i], NULL, run_client, &clients[i]) == 0);
    }
    for (int i = 0; i < REQUESTS; i++)
        pthread_join(tid[i], NULL);
    atomic_store(&sm.stop, true);
    pthread_join(sampler, NULL);

    unsigned ok = 0;
    for (int i = 0; i < REQUESTS; i++) {
        ok += clients[i].ok;
        if (!clients[i].ok)
            fprintf(stderr, "    request %d: sent %d, status %ld: %s\n", i, clients[i].sent,
                    clients[i].status, clients[i].detail);
    }
    CHECK_INT(ok, REQUESTS);
    CHECK(sm.samples >= 2);
    if (!CHECK(sm.peak <= bound))
        fprintf(stderr, "    %d threads seen, bound %d\n", sm.peak, bound);
    printf("itest_threads: idle %d threads (fixed %d + %d io + %d workers), bound %d "
           "(+ budget %d), peak seen %d in %u samples\n",
           idle, fixed, IO_THREADS, WORKERS, bound, BUDGET, sm.peak, sm.samples);

    struct itest_reply r;
    if (CHECK(itest_request(&s, "GET", "/metrics", NULL, NULL, 0, &r)) &&
        CHECK_INT(r.status, 200)) {
        long peak = metric(r.body, "tessera_helper_threads_peak");
        CHECK(peak >= 1 && peak <= BUDGET); /* helpers ran, never more than the budget */
        CHECK_INT(metric(r.body, "tessera_helper_threads"), 0);
        CHECK_INT(metric(r.body, "tessera_thread_budget"), BUDGET);
        printf("itest_threads: /metrics tessera_helper_threads_peak %ld\n", peak);
    }
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, 0, 30), 0);
    itest_free(&s);
    free(want);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    TIFFSetWarningHandler(NULL);
    check_tmpdir(root, sizeof root);
    /* under valgrind 16 x 2048^2 pixels would take minutes; 1024 rows are still 4 units */
    side = itest_slowdown() > 1 ? 1024 : 2048;
    if (CHECK(write_image("a.tif", label_a)) && CHECK(write_image("b.tif", label_b)))
        test_budget();
    check_rmtree(root);
    curl_global_cleanup();
    return check_finish("itest_threads");
}
