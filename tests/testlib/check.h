/*
 * check.h - the few assertions the C tests use. A failed CHECK prints file:line and the
 * expression and counts a failure; the test keeps going so one run shows every miss.
 * check_finish() prints "N passed, N failed" and returns the exit status.
 */
#ifndef TESSERA_TESTS_CHECK_H
#define TESSERA_TESTS_CHECK_H

#include <stdbool.h>
#include <stdint.h>

extern unsigned check_passed;
extern unsigned check_failed;

bool check_report(bool ok, const char *file, int line, const char *expr);
bool check_report_int(bool ok, const char *file, int line, const char *expr, long long got,
                      long long want);
/* Each argument is evaluated exactly once. */
bool check_int_eq(long long got, long long want, const char *file, int line, const char *expr);
bool check_report_str(const char *file, int line, const char *expr, const char *got,
                      const char *want);

#define CHECK(e) check_report((e), __FILE__, __LINE__, #e)
#define CHECK_INT(got, want)                                                                       \
    check_int_eq((long long)(got), (long long)(want), __FILE__, __LINE__, #got " == " #want)
#define CHECK_STR(got, want) check_report_str(__FILE__, __LINE__, #got, (got), (want))

/* Print the summary; return 0 when nothing failed and something passed. */
int check_finish(const char *suite);

/* The tests' one seeded pseudo-random sequence (splitmix64; *state is the seed, advanced by
 * each call), so a run can be replayed from its seed: the next value; a value in [0, n)
 * (0 when n is 0), for 32-bit and for 64-bit bounds (sizes, label values); a double in
 * [0, 1) with 53 random bits. */
uint64_t check_rng_next(uint64_t *state);
uint32_t check_rng_below(uint64_t *state, uint32_t n);
uint64_t check_rng_below64(uint64_t *state, uint64_t n);
double check_rng_double(uint64_t *state);

/* CLOCK_MONOTONIC in seconds, for timing inside tests. */
double check_now_s(void);

/* Make a fresh temporary directory (mkdtemp under $TMPDIR or /tmp); path written to buf. */
void check_tmpdir(char *buf, unsigned long size);

/* Remove a directory tree (chmods unreadable dirs back first). Ignores errors. */
void check_rmtree(const char *path);

#endif
