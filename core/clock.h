/*
 * clock.h - the one time type for every deadline and duration: int64 nanoseconds of
 * CLOCK_MONOTONIC. A deadline of 0 means "none". Arithmetic saturates, so a huge timeout
 * never wraps into the past.
 */
#ifndef TESSERA_CORE_CLOCK_H
#define TESSERA_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCK_NS_PER_MS 1000000LL
#define CLOCK_NS_PER_S  1000000000LL

/* Now, in ns of CLOCK_MONOTONIC (never 0 on a running system). Thread-safe. */
int64_t clock_now_ns(void);

/* The deadline ms milliseconds from now (0 ms: no deadline, returns 0). */
int64_t clock_deadline_ms(uint64_t ms);

/* The earlier of two deadlines, where 0 is "none". */
int64_t clock_deadline_min(int64_t a, int64_t b);

/* True when deadline is set and has passed. */
bool clock_passed(int64_t deadline);

/* Sleep about ns nanoseconds (restarted on EINTR). */
void clock_sleep_ns(int64_t ns);

#endif
