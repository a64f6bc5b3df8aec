/*
 * evaluate.c - matching per connected component, dataset aggregation, AJI, VI and adapted
 * Rand error on the sparse contingency table; see evaluate.h.
 */
#include "evaluate.h"

#include "alloc.h"
#include "assign.h"
#include "assign_sparse.h"
#include "clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One nonzero pair: where its labels are in the label lists, and its count. */
struct eval_pair {
    uint32_t ia, ib;
    uint64_t n;
};

struct eval_component {
    size_t first, count; /* into ev->order: indices of the component's pairs, (a, b) order */
    uint32_t rows, cols; /* distinct true / pred labels */
};

struct evaluate {
    const struct evaluate_table *t;
    struct evaluate_options opt;
    size_t n_pairs;          /* nonzero pairs */
    struct eval_pair *pairs; /* in table order */
    size_t *order;           /* pair indices grouped by component */
    size_t n_comp;
    struct eval_component *comp;
    uint64_t n_true, n_pred;
    uint64_t background_pixels; /* count of the (0, 0) pair */
    /* scratch reused per component */
    uint32_t *row_of, *col_of; /* label index -> row / col of the current component */
    uint64_t *stamp_a, *stamp_b;
    uint64_t stamp;
    double *score;
    bool *pass;
    bool *picked;   /* all false between calls */
    size_t *chosen; /* pair indices assigned in the current call */
    size_t n_chosen;
};

const char *evaluate_criterion_name(enum evaluate_criterion c)
{
    switch (c) {
    case EVALUATE_IOU:
        return "iou";
    case EVALUATE_IOT:
        return "iot";
    case EVALUATE_IOP:
        return "iop";
    }
    return "?";
}

enum error_code evaluate_threshold_check(double t, struct error_info *err)
{
    if (!(t > 0.0 && t <= 1.0))
        return error_set(err, ERROR_INVALID, "a matching threshold must be in (0, 1], not %g", t);
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Building the components: union-find over label indices (a first, then b)
 */

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static size_t label_index(const uint64_t *labels, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (labels[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static enum error_code eval_build(struct evaluate *ev, struct error_info *err)
{
    const struct evaluate_table *t = ev->t;
    size_t nl = t->n_a + t->n_b;
    if (nl > UINT32_MAX)
        return error_set(err, ERROR_UNPROCESSABLE, "too many labels to evaluate (%zu)", nl);
    uint32_t *parent = alloc_bytes((nl ? nl : 1) * sizeof *parent);
    uint32_t *comp_of = alloc_bytes((nl ? nl : 1) * sizeof *comp_of);
    size_t *fill = NULL;
    enum error_code rc = ERROR_OK;
    if (parent == NULL || comp_of == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "no memory for %zu labels", nl);
        goto out;
    }
    for (size_t i = 0; i < nl; i++)
        parent[i] = (uint32_t)i;
    size_t ia = 0;
    for (size_t k = 0; k < t->n_pairs; k++) {
        if (t->a[k] == 0 && t->b[k] == 0)
            ev->background_pixels = t->count[k];
        if (t->a[k] == 0 || t->b[k] == 0)
            continue;
        while (ia < t->n_a && t->label_a[ia] < t->a[k])
            ia++;
        size_t ib = label_index(t->label_b, t->n_b, t->b[k]);
        if (ia >= t->n_a || t->label_a[ia] != t->a[k] || ib >= t->n_b ||
            t->label_b[ib] != t->b[k]) {
            rc = error_set(err, ERROR_INTERNAL, "pair (%llu, %llu) has no label area",
                           (unsigned long long)t->a[k], (unsigned long long)t->b[k]);
            goto out;
        }
        ev->pairs[ev->n_pairs++] = (struct eval_pair){(uint32_t)ia, (uint32_t)ib, t->count[k]};
        uint32_t x = uf_find(parent, (uint32_t)ia), y = uf_find(parent, (uint32_t)(t->n_a + ib));
        if (x != y)
            parent[x < y ? y : x] = x < y ? x : y;
    }
    /* Number the components in order of their first pair, count pairs per component. */
    for (size_t i = 0; i < nl; i++)
        comp_of[i] = UINT32_MAX;
    for (size_t k = 0; k < ev->n_pairs; k++) {
        uint32_t r = uf_find(parent, ev->pairs[k].ia);
        if (comp_of[r] == UINT32_MAX)
            comp_of[r] = (uint32_t)ev->n_comp++;
    }
    ev->comp = alloc_zeroed(ev->n_comp ? ev->n_comp : 1, sizeof *ev->comp);
    fill = alloc_zeroed(ev->n_comp ? ev->n_comp : 1, sizeof *fill);
    if (ev->comp == NULL || fill == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "no memory for %zu components", ev->n_comp);
        goto out;
    }
    for (size_t k = 0; k < ev->n_pairs; k++)
        ev->comp[comp_of[uf_find(parent, ev->pairs[k].ia)]].count++;
    size_t at = 0;
    for (size_t c = 0; c < ev->n_comp; c++) {
        ev->comp[c].first = at;
        at += ev->comp[c].count;
    }
    for (size_t k = 0; k < ev->n_pairs; k++) {
        struct eval_component *c = &ev->comp[comp_of[uf_find(parent, ev->pairs[k].ia)]];
        ev->order[c->first + fill[c - ev->comp]++] = k;
    }
    /* Distinct labels per component: every label belongs to exactly one component. */
    for (size_t i = 0; i < t->n_a; i++)
        if (t->label_a[i] != 0 && comp_of[uf_find(parent, (uint32_t)i)] != UINT32_MAX)
            ev->comp[comp_of[uf_find(parent, (uint32_t)i)]].rows++;
    for (size_t i = 0; i < t->n_b; i++) {
        uint32_t r = uf_find(parent, (uint32_t)(t->n_a + i));
        if (t->label_b[i] != 0 && comp_of[r] != UINT32_MAX)
            ev->comp[comp_of[r]].cols++;
    }
out:
    free(parent);
    free(comp_of);
    free(fill);
    return rc;
}

struct evaluate *evaluate_new(const struct evaluate_table *table,
                              const struct evaluate_options *options, struct error_info *err)
{
    struct evaluate *ev = alloc_zeroed(1, sizeof *ev);
    if (ev == NULL) {
        error_set(err, ERROR_NO_MEMORY, "no memory to evaluate");
        return NULL;
    }
    ev->t = table;
    ev->opt = *options;
    size_t np = table->n_pairs ? table->n_pairs : 1;
    size_t na = table->n_a ? table->n_a : 1, nb = table->n_b ? table->n_b : 1;
    ev->pairs = alloc_large(np * sizeof *ev->pairs);
    ev->order = alloc_large(np * sizeof *ev->order);
    ev->score = alloc_large(np * sizeof *ev->score);
    ev->pass = alloc_large(np * sizeof *ev->pass);
    ev->chosen = alloc_large(np * sizeof *ev->chosen);
    ev->picked = alloc_large_zeroed(np, sizeof *ev->picked);
    ev->row_of = alloc_large(na * sizeof *ev->row_of);
    ev->col_of = alloc_large(nb * sizeof *ev->col_of);
    ev->stamp_a = alloc_large_zeroed(na, sizeof *ev->stamp_a);
    ev->stamp_b = alloc_large_zeroed(nb, sizeof *ev->stamp_b);
    if (ev->pairs == NULL || ev->order == NULL || ev->score == NULL || ev->pass == NULL ||
        ev->chosen == NULL || ev->picked == NULL || ev->row_of == NULL || ev->col_of == NULL ||
        ev->stamp_a == NULL || ev->stamp_b == NULL) {
        error_set(err, ERROR_NO_MEMORY, "no memory to evaluate %zu pairs", table->n_pairs);
        evaluate_free(ev);
        return NULL;
    }
    for (size_t i = 0; i < table->n_a; i++)
        ev->n_true += table->label_a[i] != 0;
    for (size_t i = 0; i < table->n_b; i++)
        ev->n_pred += table->label_b[i] != 0;
    if (eval_build(ev, err) != ERROR_OK) {
        evaluate_free(ev);
        return NULL;
    }
    return ev;
}

void evaluate_free(struct evaluate *ev)
{
    if (ev == NULL)
        return;
    free(ev->pairs);
    free(ev->order);
    free(ev->comp);
    free(ev->score);
    free(ev->pass);
    free(ev->chosen);
    free(ev->picked);
    free(ev->row_of);
    free(ev->col_of);
    free(ev->stamp_a);
    free(ev->stamp_b);
    free(ev);
}

void evaluate_largest_component(const struct evaluate *ev, uint64_t *rows, uint64_t *cols)
{
    *rows = *cols = 0;
    for (size_t c = 0; c < ev->n_comp; c++) {
        if ((uint64_t)ev->comp[c].rows * ev->comp[c].cols > *rows * *cols) {
            *rows = ev->comp[c].rows;
            *cols = ev->comp[c].cols;
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Scores and the threshold test
 */

struct eval_rule {
    enum evaluate_criterion criterion;
    bool float32;
    double t;
    float t32;
    double scale; /* 2 * min(n_true, n_pred), the cost's divisor */
};

static uint64_t eval_denominator(const struct evaluate *ev, const struct eval_pair *p,
                                 enum evaluate_criterion c)
{
    uint64_t aa = ev->t->area_a[p->ia], ab = ev->t->area_b[p->ib];
    return c == EVALUATE_IOU ? aa + ab - p->n : c == EVALUATE_IOT ? aa : ab;
}

/* n / d >= t in exact arithmetic: t * d = p + e exactly (fma), n - p is exact when the two
 * are close and otherwise far larger than e, so the sign of (n - p) - e is the answer. */
static bool eval_ge_exact(uint64_t n, uint64_t d, double t)
{
    double dd = (double)d, p = t * dd, e = fma(t, dd, -p);
    return (double)n - p >= e;
}

/* Score and threshold test of one pair. */
static void eval_score(const struct evaluate *ev, const struct eval_rule *r,
                       const struct eval_pair *p, double *score, bool *pass)
{
    uint64_t d = eval_denominator(ev, p, r->criterion);
    if (r->float32) {
        float s = (float)((double)p->n / (double)d);
        *score = (double)s;
        *pass = s >= r->t32;
    } else {
        *score = (double)p->n / (double)d;
        *pass = eval_ge_exact(p->n, d, r->t);
    }
}

/* The assignment cost of a pair of that score and test (a float32 score is exact in float). */
static double eval_cost(const struct eval_rule *r, double score, bool pass)
{
    if (r->float32)
        return -(double)pass - (double)((float)score / (float)r->scale);
    return -(double)pass - score / r->scale;
}

/* ------------------------------------------------------------------------------------------
 * One component at one threshold
 */

/* Components up to this many cells (true x pred labels) are solved on a dense matrix, larger
 * ones on their pairs alone (core/assign_sparse.h); both give the same minimum. */
#define EVAL_DENSE_CELLS 65536

/* A large component on its pairs: rows in label order, columns by first appearance; each
 * pair is an edge of its cost. Appends the chosen pair indices to ev->chosen. */
static enum error_code eval_component_sparse(struct evaluate *ev, const struct eval_component *c,
                                             const struct eval_rule *r, struct error_info *err)
{
    const size_t *idx = ev->order + c->first;
    size_t *row_start = alloc_bytes(((size_t)c->rows + 1) * sizeof *row_start);
    uint32_t *col = alloc_bytes(c->count * sizeof *col);
    double *cost = alloc_bytes(c->count * sizeof *cost);
    int64_t *r2e = alloc_bytes(((size_t)c->rows ? c->rows : 1) * sizeof *r2e);
    enum error_code rc = ERROR_OK;
    if (row_start == NULL || col == NULL || cost == NULL || r2e == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "no memory for a %u x %u assignment of %zu pairs",
                       c->rows, c->cols, c->count);
        goto out;
    }
    ev->stamp++;
    uint32_t nr = 0, nc = 0;
    for (size_t k = 0; k < c->count; k++) {
        const struct eval_pair *p = &ev->pairs[idx[k]];
        if (ev->stamp_a[p->ia] != ev->stamp) { /* pairs are in (a, b) order: a new row */
            ev->stamp_a[p->ia] = ev->stamp;
            row_start[nr++] = k;
        }
        if (ev->stamp_b[p->ib] != ev->stamp) {
            ev->stamp_b[p->ib] = ev->stamp;
            ev->col_of[p->ib] = nc++;
        }
        cost[k] = eval_cost(r, ev->score[idx[k]], ev->pass[idx[k]]);
        col[k] = ev->col_of[p->ib];
    }
    row_start[nr] = c->count;
    const struct assign_sparse_graph g = {nr, nc, row_start, col, cost};
    rc = assign_sparse_solve(&g, ev->opt.deadline, r2e, err);
    if (rc != ERROR_OK)
        goto out;
    for (uint32_t i = 0; i < nr; i++)
        if (r2e[i] >= 0)
            ev->chosen[ev->n_chosen++] = idx[(size_t)r2e[i]];
out:
    free(row_start);
    free(col);
    free(cost);
    free(r2e);
    return rc;
}

/* Assign the component's pairs; appends the chosen pair indices to ev->chosen. */
static enum error_code eval_component(struct evaluate *ev, const struct eval_component *c,
                                      const struct eval_rule *r, bool need_assignment,
                                      struct error_info *err)
{
    const size_t *idx = ev->order + c->first;
    bool repeated = false;
    ev->stamp++;
    for (size_t k = 0; k < c->count; k++) {
        const struct eval_pair *p = &ev->pairs[idx[k]];
        eval_score(ev, r, p, &ev->score[idx[k]], &ev->pass[idx[k]]);
        if (!ev->pass[idx[k]])
            continue;
        repeated = repeated || ev->stamp_a[p->ia] == ev->stamp || ev->stamp_b[p->ib] == ev->stamp;
        ev->stamp_a[p->ia] = ev->stamp_b[p->ib] = ev->stamp;
    }
    if (c->count == 1 || (!need_assignment && !repeated)) {
        /* The passing pairs are a matching: every optimal assignment takes exactly them. A
         * single pair is always assigned. */
        for (size_t k = 0; k < c->count; k++)
            if (c->count == 1 || ev->pass[idx[k]])
                ev->chosen[ev->n_chosen++] = idx[k];
        return ERROR_OK;
    }
    if (ev->opt.max_component_pairs != 0 && c->count > ev->opt.max_component_pairs)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "matching needs an assignment over %u true x %u predicted labels "
                         "with %zu overlapping pairs, over the limit of %llu pairs "
                         "(--max-match-component)",
                         c->rows, c->cols, c->count,
                         (unsigned long long)ev->opt.max_component_pairs);
    uint64_t cells = (uint64_t)c->rows * c->cols;
    if (cells > EVAL_DENSE_CELLS)
        return eval_component_sparse(ev, c, r, err);
    double *cost = alloc_zeroed(cells, sizeof *cost);
    int64_t *pair_at = alloc_bytes(cells * sizeof *pair_at);
    int64_t *r2c = alloc_bytes(c->rows * sizeof *r2c);
    enum error_code rc = ERROR_OK;
    if (cost == NULL || pair_at == NULL || r2c == NULL) {
        rc =
            error_set(err, ERROR_NO_MEMORY, "no memory for a %u x %u assignment", c->rows, c->cols);
        goto out;
    }
    for (size_t i = 0; i < cells; i++)
        pair_at[i] = -1;
    /* Rows and columns in label order: pairs are in (a, b) order, so rows come out sorted;
     * columns are numbered by first appearance, then renumbered in label order. */
    ev->stamp++;
    uint32_t nr = 0, nc = 0;
    for (size_t k = 0; k < c->count; k++) {
        const struct eval_pair *p = &ev->pairs[idx[k]];
        if (ev->stamp_a[p->ia] != ev->stamp) {
            ev->stamp_a[p->ia] = ev->stamp;
            ev->row_of[p->ia] = nr++;
        }
        if (ev->stamp_b[p->ib] != ev->stamp) {
            ev->stamp_b[p->ib] = ev->stamp;
            ev->col_of[p->ib] = UINT32_MAX; /* numbered below */
            nc++;
        }
    }
    /* Columns by ascending label index: walk the component's b labels in order. */
    {
        uint32_t next = 0;
        uint32_t *cols = alloc_bytes(nc * sizeof *cols);
        if (cols == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "no memory for a %u x %u assignment", nr, nc);
            goto out;
        }
        for (size_t k = 0; k < c->count; k++) {
            const struct eval_pair *p = &ev->pairs[idx[k]];
            if (ev->col_of[p->ib] == UINT32_MAX) {
                ev->col_of[p->ib] = UINT32_MAX - 1;
                cols[next++] = p->ib;
            }
        }
        /* insertion sort: components are small, and sorted input costs O(n) */
        for (uint32_t i = 1; i < nc; i++) {
            uint32_t v = cols[i], j = i;
            for (; j > 0 && cols[j - 1] > v; j--)
                cols[j] = cols[j - 1];
            cols[j] = v;
        }
        for (uint32_t j = 0; j < nc; j++)
            ev->col_of[cols[j]] = j;
        free(cols);
    }
    for (size_t k = 0; k < c->count; k++) {
        const struct eval_pair *p = &ev->pairs[idx[k]];
        size_t cell = (size_t)ev->row_of[p->ia] * nc + ev->col_of[p->ib];
        cost[cell] = eval_cost(r, ev->score[idx[k]], ev->pass[idx[k]]);
        pair_at[cell] = (int64_t)idx[k];
    }
    rc = assign_solve(nr, nc, cost, r2c, err);
    if (rc != ERROR_OK)
        goto out;
    for (uint32_t i = 0; i < nr; i++)
        if (r2c[i] >= 0 && pair_at[(size_t)i * nc + (size_t)r2c[i]] >= 0)
            ev->chosen[ev->n_chosen++] = (size_t)pair_at[(size_t)i * nc + (size_t)r2c[i]];
out:
    free(cost);
    free(pair_at);
    free(r2c);
    return rc;
}

/* Assign every component under rule r; ev->chosen gets the assigned pairs. */
static enum error_code eval_assign_all(struct evaluate *ev, const struct eval_rule *r,
                                       bool need_assignment, struct error_info *err)
{
    ev->n_chosen = 0;
    for (size_t c = 0; c < ev->n_comp; c++) {
        if ((c & 1023) == 0 && clock_passed(ev->opt.deadline))
            return error_set(err, ERROR_TIMEOUT, "matching ran past the request deadline");
        enum error_code rc = eval_component(ev, &ev->comp[c], r, need_assignment, err);
        if (rc != ERROR_OK)
            return rc;
    }
    return ERROR_OK;
}

static double eval_ratio(double num, double den)
{
    return den != 0 ? num / den : 0.0;
}

static void eval_fill_ratios(struct evaluate_matching *m)
{
    double tp = (double)m->tp, fp = (double)m->fp, fn = (double)m->fn;
    m->precision = m->tp > 0 ? tp / (tp + fp) : 0.0;
    m->recall = m->tp > 0 ? tp / (tp + fn) : 0.0;
    m->accuracy = m->tp > 0 ? tp / (tp + fp + fn) : 0.0;
    m->f1 = m->tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
    m->mean_matched_score = eval_ratio(m->sum_matched_score, tp);
    m->mean_true_score = eval_ratio(m->sum_matched_score, (double)m->n_true);
    m->panoptic_quality = eval_ratio(m->sum_matched_score, tp + fp / 2 + fn / 2);
}

static struct eval_rule eval_rule_make(const struct evaluate *ev, enum evaluate_criterion c,
                                       bool float32, double t)
{
    uint64_t nm = ev->n_true < ev->n_pred ? ev->n_true : ev->n_pred;
    return (struct eval_rule){c, float32, t, (float)t, 2.0 * (double)(nm ? nm : 1)};
}

enum error_code evaluate_matching(struct evaluate *ev, double t, struct evaluate_matching *out,
                                  struct error_info *err)
{
    memset(out, 0, sizeof *out);
    enum error_code rc = evaluate_threshold_check(t, err);
    if (rc != ERROR_OK)
        return rc;
    struct eval_rule r = eval_rule_make(ev, ev->opt.criterion, ev->opt.float32, t);
    rc = eval_assign_all(ev, &r, ev->opt.report_matches, err);
    if (rc != ERROR_OK)
        return rc;
    out->criterion = ev->opt.criterion;
    out->threshold = t;
    out->n_true = ev->n_true;
    out->n_pred = ev->n_pred;
    /* Chosen pairs in (a, b) order, O(pairs) through a flag per pair (a sort cost more). */
    for (size_t k = 0; k < ev->n_chosen; k++)
        ev->picked[ev->chosen[k]] = true;
    for (size_t i = 0, k = 0; k < ev->n_chosen; i++) {
        if (ev->picked[i]) {
            ev->picked[i] = false;
            ev->chosen[k++] = i;
        }
    }
    for (size_t k = 0; k < ev->n_chosen; k++) {
        size_t i = ev->chosen[k];
        if (ev->pass[i]) {
            out->tp++;
            out->sum_matched_score += ev->score[i];
        }
    }
    out->fp = out->n_pred - out->tp;
    out->fn = out->n_true - out->tp;
    eval_fill_ratios(out);
    if (!ev->opt.report_matches)
        return ERROR_OK;
    struct evaluate_matches *mm = &out->matches;
    size_t n = ev->n_chosen ? ev->n_chosen : 1;
    mm->a = alloc_bytes(n * sizeof *mm->a);
    mm->b = alloc_bytes(n * sizeof *mm->b);
    mm->score = alloc_bytes(n * sizeof *mm->score);
    mm->tp = alloc_bytes(n * sizeof *mm->tp);
    if (mm->a == NULL || mm->b == NULL || mm->score == NULL || mm->tp == NULL) {
        evaluate_matching_cleanup(out);
        return error_set(err, ERROR_NO_MEMORY, "no memory for %zu matches", ev->n_chosen);
    }
    for (size_t k = 0; k < ev->n_chosen; k++) {
        size_t i = ev->chosen[k];
        mm->a[k] = ev->t->label_a[ev->pairs[i].ia];
        mm->b[k] = ev->t->label_b[ev->pairs[i].ib];
        mm->score[k] = ev->score[i];
        mm->tp[k] = ev->pass[i];
    }
    mm->n = ev->n_chosen;
    return ERROR_OK;
}

void evaluate_matching_cleanup(struct evaluate_matching *m)
{
    free(m->matches.a);
    free(m->matches.b);
    free(m->matches.score);
    free(m->matches.tp);
    memset(&m->matches, 0, sizeof m->matches);
}

enum error_code evaluate_aji(struct evaluate *ev, double *aji, struct error_info *err)
{
    *aji = 0;
    struct eval_rule r = eval_rule_make(ev, EVALUATE_IOU, false, 0.5);
    enum error_code rc = eval_assign_all(ev, &r, true, err);
    if (rc != ERROR_OK)
        return rc;
    uint64_t overlap = 0;
    for (size_t k = 0; k < ev->n_chosen; k++)
        overlap += ev->pairs[ev->chosen[k]].n;
    uint64_t union_px = ev->t->pixels - ev->background_pixels;
    *aji = union_px > 0 ? (double)overlap / (double)union_px : 0.0;
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Information-theoretic and pair-counting metrics (no assignment)
 */

/* Neumaier's compensated sum. */
struct eval_sum {
    double s, c;
};

static void eval_sum_add(struct eval_sum *acc, double x)
{
    double t = acc->s + x;
    if (fabs(acc->s) >= fabs(x))
        acc->c += (acc->s - t) + x;
    else
        acc->c += (x - t) + acc->s;
    acc->s = t;
}

void evaluate_vi(const struct evaluate_table *t, double out[2])
{
    struct eval_sum hb_a = {0, 0}, ha_b = {0, 0};
    double total = (double)t->pixels;
    size_t ia = 0;
    for (size_t k = 0; k < t->n_pairs && total > 0; k++) {
        while (ia < t->n_a && t->label_a[ia] < t->a[k])
            ia++;
        size_t ib = label_index(t->label_b, t->n_b, t->b[k]);
        double n = (double)t->count[k], p = n / total;
        eval_sum_add(&hb_a, -p * log2(n / (double)t->area_a[ia]));
        eval_sum_add(&ha_b, -p * log2(n / (double)t->area_b[ib]));
    }
    out[0] = hb_a.s + hb_a.c + 0.0; /* + 0.0: -0.0 becomes 0.0 */
    out[1] = ha_b.s + ha_b.c + 0.0;
}

void evaluate_adapted_rand(const struct evaluate_table *t, double *error, double *precision,
                           double *recall)
{
    /* p_ij: pairs with a != 0 (true background ignored); a_i = area of each true label;
     * b_j = pixels of pred label j inside true foreground = area_b - n(0, j). */
    double sum_p2 = 0, sum_p = 0, sum_a2 = 0, sum_a = 0, sum_b2 = 0, sum_b = 0;
    for (size_t k = 0; k < t->n_pairs; k++) {
        if (t->a[k] == 0)
            continue;
        double n = (double)t->count[k];
        sum_p2 += n * n;
        sum_p += n;
    }
    for (size_t i = 0; i < t->n_a; i++) {
        if (t->label_a[i] == 0)
            continue;
        double a = (double)t->area_a[i];
        sum_a2 += a * a;
        sum_a += a;
    }
    size_t k = 0;
    for (size_t j = 0; j < t->n_b; j++) {
        uint64_t bg = 0; /* n(0, label_b[j]): the a == 0 pairs come first, in b order */
        while (k < t->n_pairs && t->a[k] == 0 && t->b[k] < t->label_b[j])
            k++;
        if (k < t->n_pairs && t->a[k] == 0 && t->b[k] == t->label_b[j])
            bg = t->count[k];
        double b = (double)(t->area_b[j] - bg);
        sum_b2 += b * b;
        sum_b += b;
    }
    double p2 = sum_p2 - sum_p;
    *precision = p2 / (sum_a2 - sum_a);
    *recall = p2 / (sum_b2 - sum_b);
    double f = 2.0 * *precision * *recall / (*precision + *recall);
    *error = 1.0 - f;
}

/* ------------------------------------------------------------------------------------------
 * Datasets
 */

void evaluate_dataset_init(struct evaluate_dataset *d)
{
    memset(d, 0, sizeof *d);
}

void evaluate_dataset_add(struct evaluate_dataset *d, const struct evaluate_matching *m)
{
    d->images++;
    d->tp += m->tp;
    d->fp += m->fp;
    d->fn += m->fn;
    d->n_true += m->n_true;
    d->n_pred += m->n_pred;
    d->sum_matched_score += m->sum_matched_score;
    d->precision += m->precision;
    d->recall += m->recall;
    d->accuracy += m->accuracy;
    d->f1 += m->f1;
    d->mean_true_score += m->mean_true_score;
    d->mean_matched_score += m->mean_matched_score;
    d->panoptic_quality += m->panoptic_quality;
}

void evaluate_dataset_finish(const struct evaluate_dataset *d, bool by_image,
                             enum evaluate_criterion criterion, double t,
                             struct evaluate_matching *out)
{
    memset(out, 0, sizeof *out);
    out->criterion = criterion;
    out->threshold = t;
    out->tp = d->tp;
    out->fp = d->fp;
    out->fn = d->fn;
    out->n_true = d->n_true;
    out->n_pred = d->n_pred;
    out->sum_matched_score = d->sum_matched_score;
    if (!by_image) {
        eval_fill_ratios(out);
        return;
    }
    double n = d->images > 0 ? (double)d->images : 1.0;
    out->precision = d->precision / n;
    out->recall = d->recall / n;
    out->accuracy = d->accuracy / n;
    out->f1 = d->f1 / n;
    out->mean_true_score = d->mean_true_score / n;
    out->mean_matched_score = d->mean_matched_score / n;
    out->panoptic_quality = d->panoptic_quality / n;
}
