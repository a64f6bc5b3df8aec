/* clock.c - monotonic nanoseconds and deadlines; see clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

int64_t clock_deadline_ms(uint64_t ms)
{
    if (ms == 0)
        return 0;
    int64_t now = clock_now_ns();
    if (ms > (uint64_t)(INT64_MAX - now) / (uint64_t)CLOCK_NS_PER_MS)
        return INT64_MAX;
    return now + (int64_t)ms * CLOCK_NS_PER_MS;
}

int64_t clock_deadline_min(int64_t a, int64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

bool clock_passed(int64_t deadline)
{
    return deadline != 0 && clock_now_ns() >= deadline;
}

void clock_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / CLOCK_NS_PER_S), (long)(ns % CLOCK_NS_PER_S)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
