/*
 * test_clock.c - core/clock.c: the monotonic clock, deadlines from milliseconds (0 = none,
 * saturation instead of wrapping), clock_deadline_min with 0 as "none", clock_passed, and
 * clock_sleep_ns.
 */
#include "check.h"
#include "clock.h"

#include <stdint.h>

static void test_now(void)
{
    int64_t a = clock_now_ns();
    CHECK(a > 0);
    int64_t b = clock_now_ns();
    CHECK(b >= a);
    double s = check_now_s(); /* the same clock */
    CHECK(s * 1e9 >= (double)a - 1e6 && s * 1e9 < (double)a + 60e9);
}

static void test_deadline_ms(void)
{
    CHECK_INT(clock_deadline_ms(0), 0);
    int64_t before = clock_now_ns();
    int64_t d = clock_deadline_ms(1500);
    int64_t after = clock_now_ns();
    CHECK(d >= before + 1500 * CLOCK_NS_PER_MS && d <= after + 1500 * CLOCK_NS_PER_MS);
    /* Past INT64_MAX: saturated, never wrapped into the past. */
    CHECK_INT(clock_deadline_ms(UINT64_MAX), INT64_MAX);
    CHECK_INT(clock_deadline_ms((uint64_t)INT64_MAX), INT64_MAX);
    CHECK_INT(clock_deadline_ms((uint64_t)1 << 62), INT64_MAX);
    CHECK_INT(clock_deadline_ms((uint64_t)INT64_MAX / CLOCK_NS_PER_MS), INT64_MAX);
    /* Just under the edge still adds up exactly (about 290 years from boot). */
    uint64_t ms = (uint64_t)(INT64_MAX - clock_now_ns()) / CLOCK_NS_PER_MS / 2;
    d = clock_deadline_ms(ms);
    CHECK(d > 0 && d < INT64_MAX);
    CHECK(!clock_passed(clock_deadline_ms(UINT64_MAX)));
}

static void test_deadline_min(void)
{
    CHECK_INT(clock_deadline_min(0, 0), 0);
    CHECK_INT(clock_deadline_min(0, 5), 5);
    CHECK_INT(clock_deadline_min(5, 0), 5);
    CHECK_INT(clock_deadline_min(5, 7), 5);
    CHECK_INT(clock_deadline_min(7, 5), 5);
    CHECK_INT(clock_deadline_min(INT64_MAX, 3), 3);
    CHECK_INT(clock_deadline_min(INT64_MAX, 0), INT64_MAX);
}

static void test_passed(void)
{
    CHECK(!clock_passed(0)); /* none */
    CHECK(clock_passed(1));
    CHECK(clock_passed(clock_now_ns()));
    CHECK(clock_passed(clock_now_ns() - CLOCK_NS_PER_S));
    CHECK(!clock_passed(clock_deadline_ms(60000)));
    CHECK(!clock_passed(INT64_MAX));
}

static void test_sleep(void)
{
    int64_t t0 = clock_now_ns();
    clock_sleep_ns(5 * CLOCK_NS_PER_MS);
    int64_t slept = clock_now_ns() - t0;
    CHECK(slept >= 5 * CLOCK_NS_PER_MS);
    int64_t d = clock_deadline_ms(3);
    CHECK(!clock_passed(d));
    clock_sleep_ns(4 * CLOCK_NS_PER_MS);
    CHECK(clock_passed(d));
    t0 = clock_now_ns();
    clock_sleep_ns(0);
    clock_sleep_ns(-CLOCK_NS_PER_S); /* nothing to wait for */
    CHECK(clock_now_ns() - t0 < CLOCK_NS_PER_S / 2);
}

int main(void)
{
    test_now();
    test_deadline_ms();
    test_deadline_min();
    test_passed();
    test_sleep();
    return check_finish("test_clock");
}
