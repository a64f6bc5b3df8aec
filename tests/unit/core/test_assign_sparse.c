/*
 * test_assign_sparse.c - assign_sparse_solve against the dense solver (itself checked against
 * brute force in test_assign.c): on random sparse graphs, rectangular both ways, with
 * StarDist-style costs (-(score >= t) - score / (2 n) on the edges, 0 everywhere else), tied
 * integer costs and chains where a greedy choice is wrong, the chosen edges must be a valid
 * matching whose cost equals the dense minimum over the same matrix with absent cells 0.
 */
#include "assign.h"
#include "assign_sparse.h"
#include "check.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 60
#define MAX_COLS 60

struct sparse_case {
    size_t rows, cols, n;
    size_t row_start[MAX_ROWS + 1];
    uint32_t col[MAX_ROWS * MAX_COLS];
    double cost[MAX_ROWS * MAX_COLS];
    double dense[MAX_ROWS * MAX_COLS];
};

/* Random edges (each cell an edge with probability density / 16), costs by kind. */
static void make_case(uint64_t *rng, struct sparse_case *c, unsigned density, int kind)
{
    c->rows = 1 + check_rng_below(rng, MAX_ROWS);
    c->cols = 1 + check_rng_below(rng, MAX_COLS);
    c->n = 0;
    memset(c->dense, 0, sizeof c->dense);
    size_t scale = 2 * (c->rows < c->cols ? c->rows : c->cols);
    for (size_t i = 0; i < c->rows; i++) {
        c->row_start[i] = c->n;
        for (size_t j = 0; j < c->cols; j++) {
            bool chain = kind == 2 && (j == i || j == i + 1); /* a band: greedy shifts fail */
            if (!chain && check_rng_below(rng, 16) >= density)
                continue;
            double s = check_rng_double(rng), x;
            if (kind == 0)
                x = -(double)(s >= 0.3) - s / (double)scale;
            else if (kind == 1)
                x = -(double)check_rng_below(rng, 3); /* ties, and zero-cost edges */
            else
                x = -(double)(s >= 0.2) - s / (double)scale;
            c->col[c->n] = (uint32_t)j;
            c->cost[c->n++] = x;
            c->dense[i * c->cols + j] = x;
        }
    }
    c->row_start[c->rows] = c->n;
}

/* Cost of the sparse answer, or NAN when it is not a matching. */
static double sparse_cost(const struct sparse_case *c, const int64_t *r2e)
{
    bool used[MAX_COLS] = {false};
    double total = 0;
    for (size_t i = 0; i < c->rows; i++) {
        if (r2e[i] < 0)
            continue;
        size_t e = (size_t)r2e[i];
        if (e < c->row_start[i] || e >= c->row_start[i + 1] || used[c->col[e]])
            return NAN;
        used[c->col[e]] = true;
        total += c->cost[e];
    }
    return total;
}

static double dense_cost(const struct sparse_case *c)
{
    int64_t r2c[MAX_ROWS];
    struct error_info err;
    error_init(&err);
    if (assign_solve(c->rows, c->cols, c->dense, r2c, &err) != ERROR_OK)
        return NAN;
    double total = 0;
    for (size_t i = 0; i < c->rows; i++)
        if (r2c[i] >= 0)
            total += c->dense[i * c->cols + (size_t)r2c[i]];
    return total;
}

static struct assign_sparse_graph graph_of(const struct sparse_case *c)
{
    return (struct assign_sparse_graph){c->rows, c->cols, c->row_start, c->col, c->cost};
}

int main(void)
{
    uint64_t rng = 20261204;
    static struct sparse_case c;
    int64_t r2e[MAX_ROWS];
    unsigned bad = 0;
    for (unsigned round = 0; round < 3000; round++) {
        make_case(&rng, &c, 1 + round % 6, (int)(round % 3));
        struct assign_sparse_graph g = graph_of(&c);
        struct error_info err;
        error_init(&err);
        if (!CHECK_INT(assign_sparse_solve(&g, 0, r2e, &err), ERROR_OK))
            continue;
        double got = sparse_cost(&c, r2e), want = dense_cost(&c);
        if (!(fabs(got - want) <= 1e-9)) {
            if (bad++ < 5)
                fprintf(stderr, "    round %u (%zu x %zu, %zu edges): cost %.17g, dense %.17g\n",
                        round, c.rows, c.cols, c.n, got, want);
        }
    }
    CHECK_INT(bad, 0);

    /* The comparison bites: leaving one chosen edge out costs more than the minimum. */
    make_case(&rng, &c, 4, 0);
    struct assign_sparse_graph g = graph_of(&c);
    struct error_info err;
    CHECK_INT(assign_sparse_solve(&g, 0, r2e, &err), ERROR_OK);
    for (size_t i = 0; i < c.rows; i++) {
        if (r2e[i] >= 0) {
            r2e[i] = -1;
            break;
        }
    }
    CHECK(sparse_cost(&c, r2e) > dense_cost(&c) + 1e-9);

    /* A greedy choice is wrong: row 0's best column is row 1's only edge. */
    const size_t trap_start[3] = {0, 2, 3};
    const uint32_t trap_col[3] = {0, 1, 0};
    const double trap_cost[3] = {-1.0, -0.9, -0.95};
    const struct assign_sparse_graph trap = {2, 2, trap_start, trap_col, trap_cost};
    CHECK_INT(assign_sparse_solve(&trap, 0, r2e, &err), ERROR_OK);
    CHECK_INT(r2e[0], 1);
    CHECK_INT(r2e[1], 2);

    /* Unmatched beats a positive edge; rows without edges; no rows. */
    const size_t pos_start[3] = {0, 1, 1};
    const uint32_t pos_col[1] = {0};
    const double pos_cost[1] = {0.5};
    const struct assign_sparse_graph pos = {2, 1, pos_start, pos_col, pos_cost};
    CHECK_INT(assign_sparse_solve(&pos, 0, r2e, &err), ERROR_OK);
    CHECK_INT(r2e[0], -1);
    CHECK_INT(r2e[1], -1);
    const struct assign_sparse_graph none = {0, 3, pos_start, pos_col, pos_cost};
    CHECK_INT(assign_sparse_solve(&none, 0, r2e, &err), ERROR_OK);

    /* Invalid input and a passed deadline. */
    const double nan_cost[1] = {NAN};
    const struct assign_sparse_graph bad_cost = {2, 1, pos_start, pos_col, nan_cost};
    CHECK_INT(assign_sparse_solve(&bad_cost, 0, r2e, &err), ERROR_INVALID);
    const uint32_t far_col[1] = {5};
    const struct assign_sparse_graph bad_col = {2, 1, pos_start, far_col, pos_cost};
    CHECK_INT(assign_sparse_solve(&bad_col, 0, r2e, &err), ERROR_INVALID);
    CHECK_INT(assign_sparse_solve(&trap, 1, r2e, &err), ERROR_TIMEOUT);

    /* Scale: a chain of 200000 rows, row i's edges columns i (-1) and i + 1 (-1.5); the
     * optimum takes every column i + 1, and each search stops at once. */
    enum { CHAIN = 200000 };
    size_t *start = malloc((CHAIN + 1) * sizeof *start);
    uint32_t *col = malloc(2 * CHAIN * sizeof *col);
    double *cost = malloc(2 * CHAIN * sizeof *cost);
    int64_t *chain_r2e = malloc(CHAIN * sizeof *chain_r2e);
    if (!CHECK(start != NULL && col != NULL && cost != NULL && chain_r2e != NULL))
        return check_finish("test_assign_sparse");
    for (size_t i = 0; i < CHAIN; i++) {
        start[i] = 2 * i;
        col[2 * i] = (uint32_t)i;
        cost[2 * i] = -1.0;
        col[2 * i + 1] = (uint32_t)(i + 1);
        cost[2 * i + 1] = -1.5;
    }
    start[CHAIN] = 2 * CHAIN;
    const struct assign_sparse_graph chain = {CHAIN, CHAIN + 1, start, col, cost};
    double t0 = check_now_s();
    CHECK_INT(assign_sparse_solve(&chain, 0, chain_r2e, &err), ERROR_OK);
    size_t shifted = 0;
    for (size_t i = 0; i < CHAIN; i++)
        shifted += chain_r2e[i] == (int64_t)(2 * i + 1);
    CHECK_INT(shifted, CHAIN);
    fprintf(stderr, "    chain of %d rows: %.3f s\n", CHAIN, check_now_s() - t0);
    free(start);
    free(col);
    free(cost);
    free(chain_r2e);
    return check_finish("test_assign_sparse");
}
