/* check.c - see check.h. */
#include "check.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned check_passed;
unsigned check_failed;

bool check_report(bool ok, const char *file, int line, const char *expr)
{
    if (ok) {
        check_passed++;
        return true;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, expr);
    return false;
}

bool check_report_int(bool ok, const char *file, int line, const char *expr, long long got,
                      long long want)
{
    if (!check_report(ok, file, line, expr))
        fprintf(stderr, "    got %lld, want %lld\n", got, want);
    return ok;
}

bool check_int_eq(long long got, long long want, const char *file, int line, const char *expr)
{
    return check_report_int(got == want, file, line, expr, got, want);
}

bool check_report_str(const char *file, int line, const char *expr, const char *got,
                      const char *want)
{
    bool ok = got != NULL && want != NULL && strcmp(got, want) == 0;
    if (!check_report(ok, file, line, expr))
        fprintf(stderr, "    got \"%s\", want \"%s\"\n", got ? got : "(null)",
                want ? want : "(null)");
    return ok;
}

int check_finish(const char *suite)
{
    printf("%s: %u passed, %u failed\n", suite, check_passed, check_failed);
    return (check_failed == 0 && check_passed > 0) ? 0 : 1;
}

void check_tmpdir(char *buf, unsigned long size)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(buf, size, "%s/tessera-test-XXXXXX", base);
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static int chmod_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        chmod(path, 0700);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void check_rmtree(const char *path)
{
    chmod(path, 0700);
    nftw(path, chmod_one, 16, FTW_PHYS);
    nftw(path, remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

uint64_t check_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

uint32_t check_rng_below(uint64_t *state, uint32_t n)
{
    return n ? (uint32_t)(check_rng_next(state) % n) : 0;
}

uint64_t check_rng_below64(uint64_t *state, uint64_t n)
{
    return n ? check_rng_next(state) % n : 0;
}

double check_rng_double(uint64_t *state)
{
    return (double)(check_rng_next(state) >> 11) * (1.0 / 9007199254740992.0); /* 2^-53 */
}

double check_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
