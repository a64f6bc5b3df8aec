/*
 * test_faults.c - faults around the real server, over HTTP:
 *
 *   1. files deleted, truncated in place, or replaced (another file renamed over them) while
 *      /overlap or /classify reads them, and a directory tree churning while /scan walks it;
 *   2. the data root renamed away, removed and made again, or made unreadable, while the
 *      server runs, and then brought back: /readyz must say 503 while the root is unusable,
 *      requests must get a clear problem+json, and both must recover when it is back;
 *   3. SIGTERM under load: every request in flight completes with its correct answer, new
 *      connections are refused (or answered 503), and the process exits 0.
 *
 * Races run many iterations with the mutation at a random delay within the request's
 * duration (seeded RNG; the seed is printed, TESSERA_FAULTS_SEED replays it). Every answer
 * must be a 200 whose result is right for the file as it was before or after the mutation,
 * or a well-formed problem+json whose status the mutation explains: never a dropped
 * connection, a hang, or a 200 with a wrong result. Overlap results are checked against a
 * per-pixel count done here, not against the server's own earlier answers.
 *
 * Permissions: tests run as root, for whom chmod 000 changes nothing. The unreadable-root
 * case therefore runs in a forked child that gives up root for nobody (setgroups, setgid,
 * setuid) before starting the server, so the server really is an unprivileged process in
 * front of a mode-000 directory. Run as a normal user, the case runs in-process.
 */
#include "check.h"
#include "files.h"
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <time.h>
#include <unistd.h>

static char root[512];

/* ------------------------------------------------------------------------------------------
 * Small helpers: RNG, clock, files
 */

static uint64_t rng_state;

static uint32_t rng_below(uint32_t n)
{
    return check_rng_below(&rng_state, n);
}

static double now_s(void)
{
    return check_now_s();
}

static void sleep_s(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Copy src to dst (both absolute), replacing dst. */
static bool copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = in >= 0 && out >= 0;
    char buf[1 << 16];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            break;
        ok = n > 0 && write(out, buf, (size_t)n) == n;
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ok;
}

/* Put a fresh copy of pristine (relative) at rel, atomically (copy, then rename over). */
static bool restore_file(const char *pristine, const char *rel)
{
    char src[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];
    check_path_join(src, sizeof src, root, pristine);
    check_path_join(tmp, sizeof tmp, root, "race/.restore.tmp");
    check_path_join(dst, sizeof dst, root, rel);
    return copy_file(src, tmp) && rename(tmp, dst) == 0;
}

static off_t file_size(const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    check_path_join(path, sizeof path, root, rel);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ------------------------------------------------------------------------------------------
 * Label images
 *
 * A W x H uint32 image of GRID x GRID rectangular labels 1..GRID^2, deflate, in strips of
 * STRIP_ROWS rows: a few hundred KB on disk that take tens of milliseconds to decode, so a
 * mutation lands in the middle of a read. Variant 1 shifts the grid right by half a label,
 * variant 2 down by half a label, so every (variant, variant) overlap is distinct.
 */

#define GRID       16u
#define LABELS     (GRID * GRID)
#define IMG_W      4096u
#define IMG_H      4096u
#define STRIP_ROWS 16u

static uint32_t label_at(unsigned variant, uint32_t x, uint32_t y)
{
    const uint32_t bw = IMG_W / GRID, bh = IMG_H / GRID;
    if (variant == 1)
        x = (x + bw / 2) % IMG_W;
    else if (variant == 2)
        y = (y + bh / 2) % IMG_H;
    return 1 + (y / bh) * GRID + x / bw;
}

static void write_labels(const char *rel, unsigned variant)
{
    char path[PATH_MAX];
    check_path_join(path, sizeof path, root, rel);
    TIFF *t = TIFFOpen(path, "w");
    if (!CHECK(t != NULL))
        return;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, IMG_W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, IMG_H);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_ZIPQUALITY, 1);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, STRIP_ROWS);
    uint32_t *strip = malloc((size_t)IMG_W * STRIP_ROWS * sizeof *strip);
    for (uint32_t s = 0; strip != NULL && s < IMG_H / STRIP_ROWS; s++) {
        for (uint32_t r = 0; r < STRIP_ROWS; r++)
            for (uint32_t x = 0; x < IMG_W; x++)
                strip[(size_t)r * IMG_W + x] = label_at(variant, x, s * STRIP_ROWS + r);
        CHECK(TIFFWriteEncodedStrip(t, s, strip, (tmsize_t)((size_t)IMG_W * STRIP_ROWS * 4)) > 0);
    }
    free(strip);
    TIFFClose(t);
}

/* The contingency table of two variants, counted pixel by pixel. */
struct pair_table {
    uint64_t count[LABELS + 1][LABELS + 1];
    size_t nonzero;
};

static struct pair_table *pair_table_new(unsigned va, unsigned vb)
{
    struct pair_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    for (uint32_t y = 0; y < IMG_H; y++) {
        /* Pixel by pixel, adding each run of equal pairs at once. */
        uint32_t run_a = label_at(va, 0, y), run_b = label_at(vb, 0, y), run = 0;
        for (uint32_t x = 0; x < IMG_W; x++) {
            uint32_t la = label_at(va, x, y), lb = label_at(vb, x, y);
            if (la != run_a || lb != run_b) {
                t->count[run_a][run_b] += run;
                run_a = la;
                run_b = lb;
                run = 0;
            }
            run++;
        }
        t->count[run_a][run_b] += run;
    }
    for (unsigned a = 0; a <= LABELS; a++)
        for (unsigned b = 0; b <= LABELS; b++)
            t->nonzero += t->count[a][b] != 0;
    return t;
}

/* True when answer is exactly table t: shape, every (a, b, count) and their order. */
static bool overlap_answer_is(const json_t *answer, const struct pair_table *t)
{
    const json_t *pairs = json_object_get(answer, "pairs");
    const json_t *a = json_object_get(pairs, "a"), *b = json_object_get(pairs, "b");
    const json_t *count = json_object_get(pairs, "count");
    size_t n = json_array_size(a);
    if (json_integer_value(json_object_get(answer, "width")) != IMG_W ||
        json_integer_value(json_object_get(answer, "height")) != IMG_H || n != t->nonzero ||
        json_array_size(b) != n || json_array_size(count) != n)
        return false;
    json_int_t prev_a = -1, prev_b = -1;
    for (size_t i = 0; i < n; i++) {
        json_int_t la = json_integer_value(json_array_get(a, i));
        json_int_t lb = json_integer_value(json_array_get(b, i));
        json_int_t c = json_integer_value(json_array_get(count, i));
        if (la < 1 || la > (json_int_t)LABELS || lb < 1 || lb > (json_int_t)LABELS)
            return false;
        if (la < prev_a || (la == prev_a && lb <= prev_b))
            return false;
        if ((uint64_t)c != t->count[la][lb])
            return false;
        prev_a = la;
        prev_b = lb;
    }
    return true;
}

/* A TIFF of `pages` small uncompressed pages (32 x 32 uint32, 4 KiB each), so /classify
 * walks `pages` IFDs that lie 4 KiB apart: one read each. */
static void write_pages(const char *rel, unsigned pages)
{
    char path[PATH_MAX];
    check_path_join(path, sizeof path, root, rel);
    TIFF *t = TIFFOpen(path, "w");
    if (!CHECK(t != NULL))
        return;
    uint32_t px[32 * 32];
    for (unsigned p = 0; p < pages; p++) {
        for (unsigned i = 0; i < 32 * 32; i++)
            px[i] = p + i;
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 32);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 32);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 32);
        CHECK(TIFFWriteEncodedStrip(t, 0, px, sizeof px) > 0);
        CHECK(TIFFWriteDirectory(t) == 1);
    }
    TIFFClose(t);
}

/* ------------------------------------------------------------------------------------------
 * Requests and answers
 */

static const char *const json_header[] = {"Content-Type: application/json", NULL};

/* One request; a transport failure (dropped connection, timeout) fails the check. */
static bool ask(const struct itest_server *s, const char *method, const char *target,
                const char *body, struct itest_reply *r)
{
    bool ok = itest_request(s, method, target, body ? json_header : NULL, body,
                            body ? strlen(body) : 0, r);
    if (!CHECK(ok))
        fprintf(stderr, "    %s %s: no HTTP answer\n", method, target);
    return ok;
}

static long status_of(const struct itest_server *s, const char *method, const char *target,
                      const char *body)
{
    struct itest_reply r;
    long status = ask(s, method, target, body, &r) ? r.status : -1;
    itest_reply_cleanup(&r);
    return status;
}

/* A problem+json answer with whatever 4xx/5xx status it has, reported when malformed. */
static bool is_problem(const struct itest_reply *r)
{
    return r->status >= 400 && r->status <= 599 && itest_is_problem(r, r->status);
}

/* ------------------------------------------------------------------------------------------
 * 1. Files changing under a request
 *
 * One iteration: a mutator thread sleeps a random delay in [0, 1.25 T] (T: the request's
 * undisturbed duration) and then deletes, truncates (in place, to a random length) or
 * replaces the file, while the request runs; then the file is restored by renaming a fresh
 * copy over it. What each mutation allows:
 *   delete:   200 with the original result (the read had the file open), or 404;
 *   truncate: 200 with the original result (the read was done, or the cut spared what it
 *             needed), or 422 (truncated / not a TIFF);
 *   replace:  200 with the original result or with the replacement's (rename is atomic).
 * Every fourth run mutates before the request is sent: then only the mutated file's answer
 * is right (404, 422, the replacement's result), which also proves no stale cache entry or
 * descriptor answers for a file that changed.
 * --------------------------------------------------------------------------------------- */

enum mutation { MUT_DELETE, MUT_TRUNCATE, MUT_REPLACE, MUT_COUNT };
static const char *const mutation_names[MUT_COUNT] = {"delete", "truncate", "replace"};

struct race {
    const char *name;
    const char *method, *target, *body;
    const char *file;        /* relative: the file mutated */
    const char *pristine;    /* relative: its original content */
    const char *alternative; /* relative: what a replace puts there */
    bool (*is_old)(const json_t *answer);
    bool (*is_new)(const json_t *answer);
};

struct mutator {
    enum mutation kind;
    char file[PATH_MAX], staged[PATH_MAX];
    off_t cut;
    double delay;
    int err; /* errno of the mutation, 0 when it happened */
};

static void *mutator_run(void *arg)
{
    struct mutator *m = arg;
    sleep_s(m->delay);
    int rc = 0;
    switch (m->kind) {
    case MUT_DELETE:
        rc = unlink(m->file);
        break;
    case MUT_TRUNCATE:
        rc = truncate(m->file, m->cut);
        break;
    case MUT_REPLACE:
        rc = rename(m->staged, m->file);
        break;
    case MUT_COUNT:
        break;
    }
    m->err = rc == 0 ? 0 : errno;
    return NULL;
}

/* Outcomes of one (race, mutation) row. */
struct tally {
    unsigned runs, old, fresh, not_found, unprocessable, other_problem, bad;
    double seconds; /* in requests */
    double wall;    /* in the whole iterations (mutation, request, restore) */
};

static void tally_print_header(void)
{
    printf("%-18s %-9s %5s %7s %7s %5s %5s %6s %4s %8s %7s\n", "race", "mutation", "runs",
           "200 old", "200 new", "404", "422", "other", "bad", "mean ms", "wall s");
}

static void tally_print(const char *race, enum mutation kind, const struct tally *t)
{
    printf("%-18s %-9s %5u %7u %7u %5u %5u %6u %4u %8.1f %7.1f\n", race, mutation_names[kind],
           t->runs, t->old, t->fresh, t->not_found, t->unprocessable, t->other_problem, t->bad,
           t->runs ? t->seconds * 1e3 / t->runs : 0.0, t->wall);
}

/* Median undisturbed duration of the race's request, in seconds (the answer must be old). */
static double race_baseline(const struct itest_server *s, const struct race *rc)
{
    double t[3];
    for (int i = 0; i < 3; i++) {
        struct itest_reply r;
        t[i] = 0;
        CHECK(restore_file(rc->pristine, rc->file)); /* a new inode: no cache hit */
        if (ask(s, rc->method, rc->target, rc->body, &r)) {
            t[i] = r.seconds;
            if (!CHECK(r.status == 200 && rc->is_old(r.json)))
                fprintf(stderr, "    %s undisturbed: %ld %.300s\n", rc->name, r.status, r.body);
        }
        itest_reply_cleanup(&r);
    }
    double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
    return t[2] < lo ? lo : (t[2] > hi ? hi : t[2]);
}

static void race_once(const struct itest_server *s, const struct race *rc, enum mutation kind,
                      double baseline, struct tally *t)
{
    struct mutator m = {.kind = kind};
    check_path_join(m.file, sizeof m.file, root, rc->file);
    /* Every fourth run at once (before the file is opened), the rest spread over the read. */
    m.delay = t->runs % 4 == 0 ? 0 : baseline * 1.25 * (double)rng_below(1000) / 1000.0;
    if (kind == MUT_TRUNCATE) {
        off_t size = file_size(rc->file);
        m.cut = size > 1 ? (off_t)rng_below((uint32_t)size) : 0;
    }
    if (kind == MUT_REPLACE) {
        char src[PATH_MAX];
        check_path_join(src, sizeof src, root, rc->alternative);
        check_path_join(m.staged, sizeof m.staged, root, "race/.staged.tmp");
        CHECK(copy_file(src, m.staged));
    }
    /* Delay 0: the mutation is done before the request is sent, so the answer must show it
     * (no stale cache, no stale descriptor). */
    bool before = m.delay == 0;
    pthread_t th;
    if (before)
        mutator_run(&m);
    else if (!CHECK(pthread_create(&th, NULL, mutator_run, &m) == 0))
        return;
    struct itest_reply r;
    bool answered = ask(s, rc->method, rc->target, rc->body, &r);
    if (!before)
        pthread_join(th, NULL);
    CHECK_INT(m.err, 0);
    t->runs++;
    t->seconds += r.seconds;

    bool ok = answered;
    if (answered && r.status == 200) {
        bool is_old = rc->is_old(r.json);
        bool is_new = kind == MUT_REPLACE && rc->is_new(r.json);
        t->old += is_old;
        t->fresh += is_new && !is_old;
        ok = before ? is_new : is_old || is_new;
    } else if (answered) {
        ok = is_problem(&r);
        if (r.status == 404)
            t->not_found++;
        else if (r.status == 422)
            t->unprocessable++;
        else
            t->other_problem++;
        ok &= (kind == MUT_DELETE && r.status == 404) || (kind == MUT_TRUNCATE && r.status == 422);
    }
    if (!ok) {
        t->bad++;
        fprintf(stderr, "    %s, %s %s %.1f ms (cut at %lld): status %ld, %.1f ms, body %.300s\n",
                rc->name, mutation_names[kind], before ? "before the request" : "after",
                m.delay * 1e3, (long long)m.cut, r.status, r.seconds * 1e3, r.body ? r.body : "");
    }
    CHECK(ok);
    itest_reply_cleanup(&r);
    CHECK(restore_file(rc->pristine, rc->file));
}

static void race_run(const struct itest_server *s, const struct race *rc, unsigned per_kind)
{
    double baseline = race_baseline(s, rc);
    struct tally t[MUT_COUNT];
    memset(t, 0, sizeof t);
    for (unsigned i = 0; i < per_kind * MUT_COUNT; i++) {
        double t0 = now_s();
        race_once(s, rc, (enum mutation)(i % MUT_COUNT), baseline, &t[i % MUT_COUNT]);
        t[i % MUT_COUNT].wall += now_s() - t0;
    }
    for (int k = 0; k < MUT_COUNT; k++)
        tally_print(rc->name, (enum mutation)k, &t[k]);
}

/* The reference tables, set up once by make_race_files. */
static struct pair_table *table_01, *table_21, *table_02;

static bool overlap_is_01(const json_t *j)
{
    return overlap_answer_is(j, table_01);
}

static bool overlap_is_21(const json_t *j)
{
    return overlap_answer_is(j, table_21);
}

static bool overlap_is_02(const json_t *j)
{
    return overlap_answer_is(j, table_02);
}

#define PAGES_OLD 1200u
#define PAGES_NEW 700u

static bool classify_is(const json_t *j, unsigned pages)
{
    return json_integer_value(json_object_get(j, "pages")) == pages &&
           json_integer_value(json_object_get(j, "width")) == 32 &&
           json_integer_value(json_object_get(j, "height")) == 32 &&
           json_integer_value(json_object_get(j, "size")) ==
               (json_int_t)(pages == PAGES_OLD ? file_size("pristine/pages.tif")
                                               : file_size("pristine/pages_alt.tif")) &&
           json_is_string(json_object_get(j, "container")) &&
           strcmp(json_string_value(json_object_get(j, "container")), "tiff") == 0;
}

static bool classify_is_old(const json_t *j)
{
    return classify_is(j, PAGES_OLD);
}

static bool classify_is_new(const json_t *j)
{
    return classify_is(j, PAGES_NEW);
}

static void make_race_files(void)
{
    char dir[PATH_MAX];
    check_path_join(dir, sizeof dir, root, "pristine");
    mkdir(dir, 0755);
    check_path_join(dir, sizeof dir, root, "race");
    mkdir(dir, 0755);
    write_labels("pristine/v0.tif", 0);
    write_labels("pristine/v1.tif", 1);
    write_labels("pristine/v2.tif", 2);
    write_pages("pristine/pages.tif", PAGES_OLD);
    write_pages("pristine/pages_alt.tif", PAGES_NEW);
    CHECK(restore_file("pristine/v0.tif", "race/a.tif"));
    CHECK(restore_file("pristine/v1.tif", "race/b.tif"));
    CHECK(restore_file("pristine/pages.tif", "race/pages.tif"));
    table_01 = pair_table_new(0, 1);
    table_21 = pair_table_new(2, 1);
    table_02 = pair_table_new(0, 2);
    CHECK(table_01 != NULL && table_21 != NULL && table_02 != NULL);
}

/* ---- /scan over a churning tree ----------------------------------------------------------
 *
 * churn/dNN/imgNNNN.tif files (empty: /scan lists by name and stat). During the scan a
 * mutator renames files (img <-> new), deletes and re-creates them, renames whole
 * subdirectories (dNN <-> mNN), and now and then the whole tree away and back. Allowed:
 * 200 whose every entry is a name the tree can have (in order, never outside churn/) and
 * whose every error says the entry vanished or was replaced; or 404 when the tree itself
 * was away when the scan started.
 */

#define CHURN_DIRS  16u
#define CHURN_FILES 250u

struct churn {
    bool file_new[CHURN_DIRS][CHURN_FILES]; /* named newNNNN.tif instead of imgNNNN.tif */
    bool dir_moved[CHURN_DIRS];             /* named mNN instead of dNN */
    double until;                           /* stop mutating at this time */
    unsigned ops, tree_moves;
    int err;
};

static void churn_file(const struct churn *c, unsigned d, unsigned f, bool fresh, char *buf,
                       size_t size)
{
    snprintf(buf, size, "%s/churn/%c%02u/%s%04u.tif", root, c->dir_moved[d] ? 'm' : 'd', d,
             fresh ? "new" : "img", f);
}

static void churn_dir(unsigned d, bool moved, char *buf, size_t size)
{
    snprintf(buf, size, "%s/churn/%c%02u", root, moved ? 'm' : 'd', d);
}

static void churn_make(void)
{
    char path[PATH_MAX];
    check_path_join(path, sizeof path, root, "churn");
    mkdir(path, 0755);
    struct churn c;
    memset(&c, 0, sizeof c);
    for (unsigned d = 0; d < CHURN_DIRS; d++) {
        churn_dir(d, false, path, sizeof path);
        mkdir(path, 0755);
        for (unsigned f = 0; f < CHURN_FILES; f++) {
            churn_file(&c, d, f, false, path, sizeof path);
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0)
                close(fd);
        }
    }
}

/* One random change to the tree; the state in c follows it. */
static int churn_step(struct churn *c)
{
    char from[PATH_MAX], to[PATH_MAX];
    unsigned d = rng_below(CHURN_DIRS), f = rng_below(CHURN_FILES);
    uint32_t what = rng_below(100);
    if (what < 50) { /* rename a file img <-> new */
        churn_file(c, d, f, c->file_new[d][f], from, sizeof from);
        churn_file(c, d, f, !c->file_new[d][f], to, sizeof to);
        if (rename(from, to) != 0)
            return errno;
        c->file_new[d][f] = !c->file_new[d][f];
    } else if (what < 80) { /* delete and re-create */
        churn_file(c, d, f, c->file_new[d][f], from, sizeof from);
        if (unlink(from) != 0)
            return errno;
        int fd = open(from, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return errno;
        close(fd);
    } else if (what < 98) { /* rename a subdirectory dNN <-> mNN */
        churn_dir(d, c->dir_moved[d], from, sizeof from);
        churn_dir(d, !c->dir_moved[d], to, sizeof to);
        if (rename(from, to) != 0)
            return errno;
        c->dir_moved[d] = !c->dir_moved[d];
    } else { /* the whole tree away and back */
        check_path_join(from, sizeof from, root, "churn");
        check_path_join(to, sizeof to, root, "churn.away");
        if (rename(from, to) != 0)
            return errno;
        sleep_s(0.0002);
        if (rename(to, from) != 0)
            return errno;
        c->tree_moves++;
    }
    c->ops++;
    return 0;
}

static void *churn_run(void *arg)
{
    struct churn *c = arg;
    while (c->err == 0 && now_s() < c->until) {
        c->err = churn_step(c);
        sleep_s(0.00005 * rng_below(10));
    }
    return NULL;
}

/* "churn/[dm]NN/(img|new)NNNN.tif" with NN < CHURN_DIRS, NNNN < CHURN_FILES. */
static bool churn_entry_ok(const char *p)
{
    unsigned d, f;
    char dm, kind[4];
    int end = 0;
    if (sscanf(p, "churn/%c%2u/%3[a-z]%4u.tif%n", &dm, &d, kind, &f, &end) != 4 || p[end] != '\0')
        return false;
    return (dm == 'd' || dm == 'm') && d < CHURN_DIRS && f < CHURN_FILES &&
           (strcmp(kind, "img") == 0 || strcmp(kind, "new") == 0);
}

static bool churn_answer_ok(const json_t *j, size_t *entries, size_t *errors)
{
    const json_t *list = json_object_get(j, "entries"), *errs = json_object_get(j, "errors");
    if (!json_is_array(list) || !json_is_array(errs))
        return false;
    *entries = json_array_size(list);
    *errors = json_array_size(errs);
    const char *prev = "";
    for (size_t i = 0; i < *entries; i++) {
        const char *p = json_string_value(json_object_get(json_array_get(list, i), "path"));
        if (p == NULL || !churn_entry_ok(p) || strcmp(prev, p) > 0) {
            fprintf(stderr, "    scan entry %zu: '%s' (after '%s')\n", i, p ? p : "(none)", prev);
            return false;
        }
        prev = p;
    }
    for (size_t i = 0; i < *errors; i++) {
        const json_t *e = json_array_get(errs, i);
        const char *detail = json_string_value(json_object_get(e, "detail"));
        const char *path = json_string_value(json_object_get(e, "path"));
        if (detail == NULL || path == NULL || strncmp(path, "churn", 5) != 0 ||
            (strcmp(detail, "vanished during the scan") != 0 &&
             strcmp(detail, "replaced during the scan") != 0)) {
            fprintf(stderr, "    scan error %zu: %s: %s\n", i, path ? path : "(none)",
                    detail ? detail : "(none)");
            return false;
        }
    }
    return true;
}

static void race_scan(const struct itest_server *s, unsigned iterations)
{
    const char *target = "/scan?dir=churn&recursive=true&limit=100000";
    double t0 = now_s();
    long base = status_of(s, "GET", target, NULL);
    CHECK_INT(base, 200);
    double baseline = now_s() - t0;
    unsigned ok200 = 0, not_found = 0, bad = 0, ops = 0, tree_moves = 0;
    size_t min_entries = SIZE_MAX, max_entries = 0, errors_total = 0;
    static struct churn c; /* keeps the tree's state across iterations */
    double seconds = 0;
    for (unsigned i = 0; i < iterations; i++) {
        c.until = now_s() + baseline * (0.5 + (double)rng_below(1000) / 1000.0);
        c.ops = c.tree_moves = 0;
        pthread_t th;
        if (!CHECK(pthread_create(&th, NULL, churn_run, &c) == 0))
            return;
        struct itest_reply r;
        bool answered = ask(s, "GET", target, NULL, &r);
        pthread_join(th, NULL);
        CHECK_INT(c.err, 0);
        ops += c.ops;
        tree_moves += c.tree_moves;
        seconds += r.seconds;
        size_t entries = 0, errors = 0;
        bool ok = answered;
        if (answered && r.status == 200) {
            ok = churn_answer_ok(r.json, &entries, &errors);
            ok200 += ok;
            min_entries = entries < min_entries ? entries : min_entries;
            max_entries = entries > max_entries ? entries : max_entries;
            errors_total += errors;
        } else if (answered) {
            ok = r.status == 404 && is_problem(&r);
            not_found += ok;
        }
        if (!ok) {
            bad++;
            fprintf(stderr, "    scan race %u: status %ld, body %.300s\n", i, r.status, r.body);
        }
        CHECK(ok);
        itest_reply_cleanup(&r);
    }
    printf("%-18s %-9s %5u %7u %7s %5u %5s %6s %4u %8.1f %7.1f\n", "scan churn", "churn",
           iterations, ok200, "-", not_found, "-", "-", bad, seconds * 1e3 / iterations,
           now_s() - t0);
    printf("    %u changes during the scans (%u whole-tree moves); entries per answer %zu..%zu "
           "of %u; %zu vanished/replaced errors listed\n",
           ops, tree_moves, min_entries == SIZE_MAX ? 0 : min_entries, max_entries,
           CHURN_DIRS * CHURN_FILES, errors_total);
}

static void test_file_races(void)
{
    double t0 = now_s();
    make_race_files();
    churn_make();
    printf("files written and reference tables counted in %.1f s (labels %u x %u uint32, %lld "
           "bytes each)\n",
           now_s() - t0, IMG_W, IMG_H, (long long)file_size("pristine/v0.tif"));

    struct itest_server s;
    const char *const args[] = {"--access-log=false", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    const char *ab = "{\"a\": \"race/a.tif\", \"b\": \"race/b.tif\"}";
    const struct race races[] = {
        {"overlap, a", "POST", "/overlap", ab, "race/a.tif", "pristine/v0.tif", "pristine/v2.tif",
         overlap_is_01, overlap_is_21},
        {"overlap, b", "POST", "/overlap", ab, "race/b.tif", "pristine/v1.tif", "pristine/v2.tif",
         overlap_is_01, overlap_is_02},
        {"classify", "GET", "/classify?path=race/pages.tif", NULL, "race/pages.tif",
         "pristine/pages.tif", "pristine/pages_alt.tif", classify_is_old, classify_is_new},
    };
    /* Under a wrapper (valgrind) every request is ~20x slower: fewer runs, same coverage. */
    bool slow = itest_slowdown() > 1;
    const unsigned per_kind[] = {slow ? 2 : 6, slow ? 2 : 6, slow ? 8 : 30};
    tally_print_header();
    for (size_t i = 0; i < sizeof races / sizeof races[0]; i++)
        race_run(&s, &races[i], per_kind[i]);
    race_scan(&s, slow ? 8 : 24);

    /* Still serving, still correct, and a clean exit. */
    struct itest_reply r;
    CHECK(ask(&s, "GET", "/healthz", NULL, &r) && r.status == 200);
    itest_reply_cleanup(&r);
    CHECK(ask(&s, "POST", "/overlap", ab, &r) && r.status == 200 && overlap_is_01(r.json));
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGTERM, 60), 0);
    itest_free(&s);
    printf("file races: %.1f s\n", now_s() - t0);
}

/* ------------------------------------------------------------------------------------------
 * 2. The data root goes away and comes back
 *
 * Each case starts a server on its own root holding one label image and checks, in three
 * phases (before, while the root is unusable, after it is back): /readyz, GET /classify,
 * GET /scan and POST /overlap. Before and after: 200 and correct. While unusable: /readyz
 * 503, every request a well-formed 4xx/5xx problem+json (never a 200 that pretends the
 * root is fine, e.g. an empty scan).
 * --------------------------------------------------------------------------------------- */

#define SMALL_SIDE 64u

static void write_small_labels(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lab.tif", dir);
    TIFF *t = TIFFOpen(path, "w");
    if (!CHECK(t != NULL))
        return;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, SMALL_SIDE);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, SMALL_SIDE);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, SMALL_SIDE);
    uint16_t px[SMALL_SIDE * SMALL_SIDE];
    for (unsigned i = 0; i < SMALL_SIDE * SMALL_SIDE; i++)
        px[i] = (uint16_t)(1 + (i / SMALL_SIDE) / 16 * 4 + (i % SMALL_SIDE) / 16);
    CHECK(TIFFWriteEncodedStrip(t, 0, px, sizeof px) > 0);
    TIFFClose(t);
}

/* The four probes in the "root is fine" state: 200 and right. */
static void probe_usable(const struct itest_server *s, const char *phase)
{
    struct itest_reply r;
    if (ask(s, "GET", "/readyz", NULL, &r) && !CHECK_INT(r.status, 200))
        fprintf(stderr, "    %s: /readyz %ld %.200s\n", phase, r.status, r.body);
    itest_reply_cleanup(&r);
    if (ask(s, "GET", "/classify?path=lab.tif", NULL, &r) &&
        !CHECK(r.status == 200 &&
               json_integer_value(json_object_get(r.json, "width")) == SMALL_SIDE))
        fprintf(stderr, "    %s: /classify %ld %.200s\n", phase, r.status, r.body);
    itest_reply_cleanup(&r);
    if (ask(s, "GET", "/scan", NULL, &r) &&
        !CHECK(r.status == 200 && json_array_size(json_object_get(r.json, "entries")) == 1))
        fprintf(stderr, "    %s: /scan %ld %.200s\n", phase, r.status, r.body);
    itest_reply_cleanup(&r);
    if (ask(s, "POST", "/overlap", "{\"a\": \"lab.tif\", \"b\": \"lab.tif\"}", &r) &&
        !CHECK(r.status == 200 && json_integer_value(json_object_get(r.json, "labels_a")) == 16))
        fprintf(stderr, "    %s: /overlap %ld %.200s\n", phase, r.status, r.body);
    itest_reply_cleanup(&r);
}

/* The probes while the root is unusable; prints one table row. */
static void probe_unusable(const struct itest_server *s, const char *phase)
{
    static const struct {
        const char *method, *target, *body;
    } probes[] = {
        {"GET", "/readyz", NULL},
        {"GET", "/classify?path=lab.tif", NULL},
        {"GET", "/scan", NULL},
        {"POST", "/overlap", "{\"a\": \"lab.tif\", \"b\": \"lab.tif\"}"},
    };
    long got[4] = {0};
    for (size_t i = 0; i < 4; i++) {
        struct itest_reply r;
        if (!ask(s, probes[i].method, probes[i].target, probes[i].body, &r))
            continue;
        got[i] = r.status;
        bool ok = i == 0 ? r.status == 503 && itest_is_problem(&r, 503) : is_problem(&r);
        if (!CHECK(ok))
            fprintf(stderr, "    %s: %s %s answered %ld (want %s): %.200s\n", phase,
                    probes[i].method, probes[i].target, r.status,
                    i == 0 ? "503 problem" : "a 4xx/5xx problem", r.body);
        itest_reply_cleanup(&r);
    }
    printf("%-34s readyz %3ld  classify %3ld  scan %3ld  overlap %3ld\n", phase, got[0], got[1],
           got[2], got[3]);
}

static void root_case_dir(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "%s/%s", root, name);
    CHECK(mkdir(dir, 0755) == 0);
    write_small_labels(dir);
}

static void test_root_renamed(void)
{
    char dir[PATH_MAX], away[PATH_MAX + 8];
    root_case_dir(dir, sizeof dir, "root-renamed");
    snprintf(away, sizeof away, "%s.away", dir);
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, NULL)))
        return;
    probe_usable(&s, "renamed: before");
    CHECK(rename(dir, away) == 0);
    probe_unusable(&s, "root renamed away");
    CHECK(rename(away, dir) == 0);
    probe_usable(&s, "renamed: back");
    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_free(&s);
}

static void test_root_recreated(void)
{
    char dir[PATH_MAX], gone[PATH_MAX + 8];
    root_case_dir(dir, sizeof dir, "root-recreated");
    snprintf(gone, sizeof gone, "%s.gone", dir);
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, NULL)))
        return;
    probe_usable(&s, "recreated: before");
    /* Removed for good (moved aside and deleted, as a volume that goes away), then a new
     * directory with the same content takes its place (the volume is back). */
    CHECK(rename(dir, gone) == 0);
    check_rmtree(gone);
    probe_unusable(&s, "root removed");
    CHECK(mkdir(dir, 0755) == 0);
    write_small_labels(dir);
    probe_usable(&s, "recreated: back");
    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_free(&s);
}

static void root_unreadable_case(const char *dir)
{
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, NULL)))
        return;
    probe_usable(&s, "unreadable: before");
    CHECK(chmod(dir, 0) == 0);
    probe_unusable(&s, "root chmod 000 (server not root)");
    CHECK(chmod(dir, 0755) == 0);
    probe_usable(&s, "unreadable: restored");
    if (!CHECK_INT(itest_stop(&s, SIGTERM, 20), 0)) {
        char *log = itest_log(&s);
        fprintf(stderr, "    server output:\n%s\n", log ? log : "");
        free(log);
    }
    itest_free(&s);
}

/* A wrapper (tests/integration/memcheck.sh: valgrind) writes its report into a directory of
 * root's that nobody cannot write to: as nobody, send the report to the server's stderr
 * instead. A memory error still fails the exit status, and the output is printed then. */
static void wrapper_report_to_stderr(void)
{
    const char *wrap = getenv("TESSERA_ITEST_WRAPPER");
    if (wrap == NULL || strstr(wrap, "--log-file=") == NULL)
        return;
    char words[1024], out[1024] = "";
    snprintf(words, sizeof words, "%s", wrap);
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save)) {
        const char *word = strncmp(w, "--log-file=", 11) == 0 ? "--log-fd=2" : w;
        int m = snprintf(out + n, sizeof out - n, "%s%s", n ? " " : "", word);
        if (m < 0 || (size_t)m >= sizeof out - n)
            return;
        n += (size_t)m;
    }
    setenv("TESSERA_ITEST_WRAPPER", out, 1);
}

/* As root, run the case in a child that is nobody; its check counts come back on a pipe. */
static void test_root_unreadable(void)
{
    char dir[PATH_MAX];
    root_case_dir(dir, sizeof dir, "root-unreadable");
    if (geteuid() != 0) {
        root_unreadable_case(dir);
        return;
    }
    const struct passwd *pw = getpwnam("nobody");
    if (!CHECK(pw != NULL))
        return;
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char lab[PATH_MAX + 16];
    snprintf(lab, sizeof lab, "%s/lab.tif", dir);
    CHECK(chown(dir, uid, gid) == 0 && chown(lab, uid, gid) == 0);
    /* The child's answers go to the contract log too (the harness appends as nobody). */
    const char *contract_log = getenv("TESSERA_CONTRACT_LOG");
    if (contract_log != NULL && contract_log[0] != '\0') {
        int fd = open(contract_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && fchown(fd, uid, gid) == 0);
        if (fd >= 0)
            close(fd);
    }
    int fds[2];
    if (!CHECK(pipe(fds) == 0))
        return;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        unsigned passed0 = check_passed, failed0 = check_failed;
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
            fprintf(stderr, "cannot become nobody: %s\n", strerror(errno));
            _exit(2);
        }
        CHECK(geteuid() == uid && access(dir, W_OK) == 0);
        wrapper_report_to_stderr();
        root_unreadable_case(dir);
        unsigned counts[2] = {check_passed - passed0, check_failed - failed0};
        ssize_t w = write(fds[1], counts, sizeof counts);
        fflush(stdout);
        fflush(stderr);
        _exit(w == (ssize_t)sizeof counts ? 0 : 2);
    }
    close(fds[1]);
    unsigned counts[2] = {0, 0};
    ssize_t got = pid > 0 ? read(fds[0], counts, sizeof counts) : -1;
    close(fds[0]);
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    CHECK(pid > 0 && got == (ssize_t)sizeof counts && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_passed += counts[0];
    check_failed += counts[1];
    chmod(dir, 0755);
}

/* ------------------------------------------------------------------------------------------
 * 3. SIGTERM under load
 *
 * HEAVY overlap requests of the big images (two workers: most of them wait in the queue)
 * and a paced stream of GET /healthz, each on a new connection. Once the server's metrics
 * show that every heavy request has reached it (running, queued or done), SIGTERM. Then:
 * every heavy request answers 200 with the exact table; a light request that connected
 * before the signal (more than SIGNAL_WINDOW_S before) answers 200; after the signal, new
 * connections are refused, or (in the moment before the listening socket closes) answered
 * or reset without an answer byte; once one is refused, every later one is; exit status 0
 * with nothing abandoned.
 * --------------------------------------------------------------------------------------- */

#define HEAVY 16

struct heavy {
    const struct itest_server *s;
    struct itest_reply r;
    bool answered;
};

static void *heavy_run(void *arg)
{
    struct heavy *h = arg;
    static const char body[] = "{\"a\": \"race/a.tif\", \"b\": \"race/b.tif\"}";
    h->answered =
        itest_request(h->s, "POST", "/overlap", json_header, body, sizeof body - 1, &h->r);
    return NULL;
}

#define SIGNAL_WINDOW_S 0.05

enum light_outcome { LIGHT_OK, LIGHT_503, LIGHT_REFUSED, LIGHT_RESET, LIGHT_OTHER, LIGHT_KINDS };
static const char *const light_names[LIGHT_KINDS] = {"200", "503", "refused", "reset", "other"};

struct light {
    const struct itest_server *s;
    atomic_bool stop;
    _Atomic double signal_at; /* 0 until SIGTERM was sent */
    unsigned before[LIGHT_KINDS], after[LIGHT_KINDS];
    unsigned after_refusal_not_refused;
    bool refused_seen;
};

static enum light_outcome light_once(const struct itest_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return LIGHT_OTHER;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return e == ECONNREFUSED ? LIGHT_REFUSED : LIGHT_OTHER;
    }
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    ssize_t w = send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    char buf[2048];
    size_t got = 0;
    while (got + 1 < sizeof buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    if (got == 0)
        return LIGHT_RESET;
    (void)w;
    int status = itest_raw_status(buf);
    return status == 200 ? LIGHT_OK : status == 503 ? LIGHT_503 : LIGHT_OTHER;
}

static void *light_run(void *arg)
{
    struct light *l = arg;
    while (!atomic_load(&l->stop) && l->after[LIGHT_REFUSED] < 50) {
        double start = now_s();
        double sig = atomic_load(&l->signal_at);
        enum light_outcome o = light_once(l->s);
        /* Connected well before the signal: the server had accepted it long before. Within
         * SIGNAL_WINDOW_S of it, the connection may still sit in the listen backlog when the
         * listening socket closes: it counts as after. */
        if (sig == 0 || start < sig - SIGNAL_WINDOW_S) {
            l->before[o]++;
        } else {
            l->after[o]++;
            if (l->refused_seen && o != LIGHT_REFUSED)
                l->after_refusal_not_refused++;
            l->refused_seen |= o == LIGHT_REFUSED;
        }
        sleep_s(0.002);
    }
    return NULL;
}

/* Sum of the values of every line of the metrics text starting with name. */
static long long metric(const char *text, const char *name)
{
    long long sum = 0;
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p, ' ');
            if (v != NULL)
                sum += strtoll(v + 1, NULL, 10);
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return sum;
}

static void test_sigterm_under_load(void)
{
    double t0 = now_s();
    CHECK(restore_file("pristine/v0.tif", "race/a.tif"));
    CHECK(restore_file("pristine/v1.tif", "race/b.tif"));
    struct itest_server s;
    /* The drain is under test, not the request budget: 16 requests queued on 2 workers
     * under valgrind on a busy machine can wait longer than the default 60 s in the queue. */
    const char *const args[] = {"--workers", "2", "--drain-timeout", "120", "--request-timeout",
                                "600000",    NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    struct itest_reply r;
    long long jobs0 = 0;
    if (ask(&s, "GET", "/metrics", NULL, &r))
        jobs0 = metric(r.body, "tessera_worker_jobs_total");
    itest_reply_cleanup(&r);

    static struct light light;
    memset(&light, 0, sizeof light);
    light.s = &s;
    pthread_t light_th, heavy_th[HEAVY];
    static struct heavy heavy[HEAVY];
    CHECK(pthread_create(&light_th, NULL, light_run, &light) == 0);
    sleep_s(0.3);
    for (int i = 0; i < HEAVY; i++) {
        memset(&heavy[i], 0, sizeof heavy[i]);
        heavy[i].s = &s;
        CHECK(pthread_create(&heavy_th[i], NULL, heavy_run, &heavy[i]) == 0);
    }
    /* Wait until all heavy requests are at the server: running, queued or finished. */
    long long in_flight = 0, reached = 0;
    for (int i = 0; i < 2000 && reached < HEAVY; i++) {
        if (ask(&s, "GET", "/metrics", NULL, &r) && r.status == 200) {
            in_flight = metric(r.body, "tessera_workers_busy") +
                        metric(r.body, "tessera_worker_queue_depth");
            reached = in_flight + metric(r.body, "tessera_worker_jobs_total") - jobs0;
        }
        itest_reply_cleanup(&r);
        if (reached < HEAVY)
            sleep_s(0.005);
    }
    CHECK_INT(reached, HEAVY);
    CHECK(in_flight >= 2); /* the signal really lands mid-flight */
    double sig_at = now_s();
    atomic_store(&light.signal_at, sig_at);
    CHECK(kill(s.pid, SIGTERM) == 0);

    unsigned correct = 0;
    double last = 0;
    for (int i = 0; i < HEAVY; i++) {
        pthread_join(heavy_th[i], NULL);
        struct heavy *h = &heavy[i];
        bool ok = h->answered && h->r.status == 200 && overlap_is_01(h->r.json);
        if (!CHECK(ok))
            fprintf(stderr, "    heavy %d: answered %d, status %ld: %.200s\n", i, h->answered,
                    h->r.status, h->r.body ? h->r.body : "");
        correct += ok;
        double end = now_s() - sig_at;
        last = end > last ? end : last;
        itest_reply_cleanup(&h->r);
    }
    /* Keep knocking until a few refusals are seen (or 5 s). */
    for (int i = 0; i < 500 && light.after[LIGHT_REFUSED] < 5; i++)
        sleep_s(0.01);
    atomic_store(&light.stop, true);
    pthread_join(light_th, NULL);
    int status = itest_stop(&s, SIGTERM, 120); /* already signalled: waits for the exit */
    CHECK_INT(status, 0);
    char *log = itest_log(&s);
    CHECK(log != NULL && strstr(log, "\"msg\":\"stopped\",\"abandoned\":0") != NULL);
    free(log);
    itest_free(&s);

    printf("SIGTERM with %lld of %d heavy requests in flight (running or queued): %u answered "
           "200 with the exact table, the last %.2f s after the signal\n",
           in_flight, HEAVY, correct, last);
    printf("%-26s", "light GET /healthz");
    for (int k = 0; k < LIGHT_KINDS; k++)
        printf(" %s %u/%u", light_names[k], light.before[k], light.after[k]);
    printf("   (before/after the signal)\n");
    CHECK_INT(correct, HEAVY);
    for (int k = 0; k < LIGHT_KINDS; k++)
        if (k != LIGHT_OK)
            CHECK_INT(light.before[k], 0);
    CHECK(light.before[LIGHT_OK] > 0);
    CHECK_INT(light.after[LIGHT_OTHER], 0);
    CHECK(light.after[LIGHT_REFUSED] > 0);
    CHECK_INT(light.after_refusal_not_refused, 0);
    printf("sigterm under load: %.1f s\n", now_s() - t0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    const char *seed_env = getenv("TESSERA_FAULTS_SEED");
    uint64_t seed = seed_env != NULL ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    rng_state = seed;
    printf("seed %llu (TESSERA_FAULTS_SEED=%llu replays it)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    check_tmpdir(root, sizeof root);
    chmod(root, 0755); /* the unreadable-root case runs as nobody beneath it */

    double t0 = now_s();
    test_file_races();
    double t1 = now_s();
    test_root_renamed();
    test_root_recreated();
    test_root_unreadable();
    printf("data root cases: %.1f s\n", now_s() - t1);
    test_sigterm_under_load();

    free(table_01);
    free(table_21);
    free(table_02);
    check_rmtree(root);
    curl_global_cleanup();
    printf("itest_faults: %.1f s in all\n", now_s() - t0);
    return check_finish("itest_faults");
}
