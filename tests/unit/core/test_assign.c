/*
 * test_assign.c - assign_solve against brute force: on random rectangular matrices up to 7 x 7
 * (real-valued, small integers full of ties, StarDist-style matching costs) the assignment
 * must be a valid injection of min(rows, cols) pairs whose cost equals the minimum over every
 * possible assignment. The reference is corrupted once to show the comparison bites.
 */
#include "assign.h"
#include "check.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 7

/* Minimum over all injections of the smaller side into the larger, by recursion. */
static double brute_rec(size_t rows, size_t cols, const double *cost, size_t i, bool *used,
                        double acc, size_t skips_left)
{
    if (i == rows)
        return acc;
    double best = INFINITY;
    if (skips_left > 0) /* row i left out (rows > cols) */
        best = brute_rec(rows, cols, cost, i + 1, used, acc, skips_left - 1);
    for (size_t j = 0; j < cols; j++) {
        if (used[j])
            continue;
        used[j] = true;
        double c = brute_rec(rows, cols, cost, i + 1, used, acc + cost[i * cols + j], skips_left);
        used[j] = false;
        if (c < best)
            best = c;
    }
    return best;
}

static double brute_min(size_t rows, size_t cols, const double *cost)
{
    bool used[MAX_SIDE] = {false};
    return brute_rec(rows, cols, cost, 0, used, 0.0, rows > cols ? rows - cols : 0);
}

/* Validate an answer: an injection of min(rows, cols) pairs; returns its cost. */
static bool answer_cost(size_t rows, size_t cols, const double *cost, const int64_t *r2c,
                        double *total)
{
    bool used[MAX_SIDE] = {false};
    size_t assigned = 0;
    *total = 0;
    for (size_t i = 0; i < rows; i++) {
        if (r2c[i] < 0)
            continue;
        if ((size_t)r2c[i] >= cols || used[r2c[i]])
            return false;
        used[r2c[i]] = true;
        assigned++;
        *total += cost[i * cols + (size_t)r2c[i]];
    }
    return assigned == (rows < cols ? rows : cols);
}

static void fill(uint64_t *rng, int kind, size_t n, double *cost)
{
    for (size_t k = 0; k < n; k++) {
        double x = (double)check_rng_below(rng, 1000000) / 1e6;
        if (kind == 0)
            cost[k] = x * 10 - 5;
        else if (kind == 1)
            cost[k] = (double)check_rng_below(rng, 3); /* ties everywhere */
        else /* StarDist: -(score >= t) - score / (2 n), scores mostly 0 */
            cost[k] = check_rng_below(rng, 3) == 0 ? -(x >= 0.3) - x / 14.0 : 0.0;
    }
}

int main(void)
{
    uint64_t rng = 20261203;
    double cost[MAX_SIDE * MAX_SIDE];
    int64_t r2c[MAX_SIDE];
    unsigned bad = 0;
    for (unsigned round = 0; round < 3000; round++) {
        size_t rows = 1 + check_rng_below(&rng, MAX_SIDE);
        size_t cols = 1 + check_rng_below(&rng, MAX_SIDE);
        int kind = (int)(round % 3);
        fill(&rng, kind, rows * cols, cost);
        struct error_info err;
        error_init(&err);
        if (!CHECK_INT(assign_solve(rows, cols, cost, r2c, &err), ERROR_OK))
            continue;
        double got;
        bool valid = answer_cost(rows, cols, cost, r2c, &got);
        double want = brute_min(rows, cols, cost);
        if (!valid || fabs(got - want) > 1e-9) {
            if (bad++ < 5)
                fprintf(stderr,
                        "    round %u (%zu x %zu, kind %d): valid %d cost %.17g, min %.17g\n",
                        round, rows, cols, kind, valid, got, want);
        }
    }
    CHECK_INT(bad, 0);

    /* The check bites: a reference off by a little is caught. */
    fill(&rng, 0, 16, cost);
    struct error_info err;
    CHECK_INT(assign_solve(4, 4, cost, r2c, &err), ERROR_OK);
    double got;
    CHECK(answer_cost(4, 4, cost, r2c, &got));
    CHECK(fabs(got - (brute_min(4, 4, cost) + 1e-6)) > 1e-9);

    /* Edges: empty sides, a single cell, a non-finite cost. */
    CHECK_INT(assign_solve(0, 5, cost, r2c, &err), ERROR_OK);
    r2c[0] = 7;
    CHECK_INT(assign_solve(1, 0, cost, r2c, &err), ERROR_OK);
    CHECK_INT(r2c[0], -1);
    cost[0] = 3;
    CHECK_INT(assign_solve(1, 1, cost, r2c, &err), ERROR_OK);
    CHECK_INT(r2c[0], 0);
    cost[1] = NAN;
    CHECK_INT(assign_solve(2, 2, cost, r2c, &err), ERROR_INVALID);
    cost[1] = INFINITY;
    CHECK_INT(assign_solve(1, 2, cost, r2c, &err), ERROR_INVALID);

    /* A greedy choice is wrong here: row 0's best column is row 1's only good one. */
    const double trap[4] = {-1.0, -0.9, -0.95, 0.0};
    CHECK_INT(assign_solve(2, 2, trap, r2c, &err), ERROR_OK);
    CHECK_INT(r2c[0], 1);
    CHECK_INT(r2c[1], 0);

    /* Larger: 300 x 200 with a planted optimal permutation of cost -1 against costs in [0, 1). */
    enum { BR = 300, BC = 200 };
    static double big[BR * BC];
    static int64_t big_r2c[BR];
    size_t perm[BR];
    for (size_t i = 0; i < BR; i++)
        perm[i] = i;
    for (size_t i = BR - 1; i > 0; i--) {
        size_t j = check_rng_below(&rng, (uint32_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t k = 0; k < (size_t)BR * BC; k++)
        big[k] = (double)check_rng_below(&rng, 1000000) / 1e6;
    for (size_t j = 0; j < BC; j++)
        big[perm[j] * BC + j] = -1.0;
    CHECK_INT(assign_solve(BR, BC, big, big_r2c, &err), ERROR_OK);
    size_t planted = 0;
    for (size_t j = 0; j < BC; j++)
        planted += big_r2c[perm[j]] == (int64_t)j;
    CHECK_INT(planted, BC);
    return check_finish("test_assign");
}
