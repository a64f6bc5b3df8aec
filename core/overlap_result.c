/*
 * overlap_result.c - areas, columns and IoU of a finished count; see overlap_result.h.
 *
 * Every array here is fresh memory the size of the pairs, so each comes from alloc_large
 * (huge-page advice: first-touch faults can cost more than the work).
 */
#include "overlap_result.h"

#include "alloc.h"

#include <stdlib.h>
#include <string.h>

/* Where the label b of pair i sits in areas_b: through a dense label -> rank table when the
 * b labels are small (no sort needed), else through a rank stored per pair. */
struct overlap_b_index {
    const uint32_t *rank_by_label; /* max_b + 1 entries, or NULL */
    const size_t *rank_by_pair;    /* n entries when rank_by_label is NULL */
};

static size_t overlap_b_rank(const struct overlap_b_index *x, const struct overlap_entry *pairs,
                             size_t i)
{
    return x->rank_by_label != NULL ? x->rank_by_label[pairs[i].b] : x->rank_by_pair[i];
}

static enum error_code labels_alloc(struct overlap_labels *l, size_t n, struct error_info *err)
{
    l->n = n;
    l->label = alloc_large((n + 1) * sizeof *l->label);
    l->area = alloc_large((n + 1) * sizeof *l->area);
    if (l->label == NULL || l->area == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate the areas of %zu labels", n);
    return ERROR_OK;
}

void overlap_result_cleanup(struct overlap_result *result)
{
    free(result->a);
    free(result->b);
    free(result->count);
    free(result->iou);
    free(result->areas_a.label);
    free(result->areas_a.area);
    free(result->areas_b.label);
    free(result->areas_b.area);
    memset(result, 0, sizeof *result);
}

/* b labels up to this use a dense label -> rank table (4 bytes per label value). */
#define OVERLAP_DENSE_B_MAX ((uint64_t)1 << 22)

/* Areas of b and the b_index, dense when max_b is small, else by sorting (b, pair index). */
static enum error_code areas_of_b(const struct overlap_entry *pairs, size_t n,
                                  struct overlap_labels *lb, struct overlap_b_index *bx,
                                  uint32_t **rank_by_label, size_t **rank_by_pair,
                                  struct error_info *err)
{
    uint64_t max_b = 0;
    for (size_t i = 0; i < n; i++)
        max_b = pairs[i].b > max_b ? pairs[i].b : max_b;
    if (max_b <= OVERLAP_DENSE_B_MAX && max_b <= 4 * (uint64_t)n + 1024) {
        uint64_t *area = alloc_large_zeroed((size_t)max_b + 1, sizeof *area);
        uint32_t *rank = alloc_large(((size_t)max_b + 1) * sizeof *rank);
        *rank_by_label = rank;
        if (area == NULL || rank == NULL) {
            free(area);
            return error_set(err, ERROR_NO_MEMORY, "cannot allocate the areas of %zu labels",
                             (size_t)max_b + 1);
        }
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
            distinct += area[pairs[i].b] == 0;
            area[pairs[i].b] += pairs[i].count;
        }
        enum error_code rc = labels_alloc(lb, distinct, err);
        if (rc == ERROR_OK) {
            for (size_t v = 0, r = 0; v <= max_b; v++) {
                if (area[v] == 0)
                    continue;
                rank[v] = (uint32_t)r;
                lb->label[r] = v;
                lb->area[r++] = area[v];
            }
            bx->rank_by_label = rank;
        }
        free(area);
        return rc;
    }
    struct overlap_keyed *keyed = alloc_large((n + 1) * sizeof *keyed);
    struct overlap_keyed *keyed_tmp = alloc_large((n + 1) * sizeof *keyed_tmp);
    size_t *rank = alloc_large((n + 1) * sizeof *rank);
    *rank_by_pair = rank;
    enum error_code rc = ERROR_OK;
    if (keyed == NULL || keyed_tmp == NULL || rank == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate the areas of %zu pairs", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        keyed[i].key = pairs[i].b;
        keyed[i].index = i;
    }
    overlap_sort_keyed(keyed, keyed_tmp, n);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || keyed[i].key != keyed[i - 1].key;
    rc = labels_alloc(lb, distinct, err);
    if (rc != ERROR_OK)
        goto out;
    for (size_t i = 0, r = 0; i < n; r++) {
        size_t j = i;
        uint64_t area = 0;
        for (; j < n && keyed[j].key == keyed[i].key; j++)
            area += pairs[keyed[j].index].count;
        lb->label[r] = keyed[i].key;
        lb->area[r] = area;
        for (; i < j; i++)
            rank[keyed[i].index] = r;
    }
    bx->rank_by_pair = rank;
out:
    free(keyed);
    free(keyed_tmp);
    return rc;
}

enum error_code overlap_result_build(const struct overlap_entry *pairs, size_t n,
                                     const struct overlap_options *options,
                                     struct overlap_result *result, struct error_info *err)
{
    uint32_t *rank_by_label = NULL;
    size_t *rank_by_pair = NULL;
    struct overlap_b_index bx = {NULL, NULL};

    /* Areas of a: runs of equal a in the sorted pairs. */
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || pairs[i].a != pairs[i - 1].a;
    enum error_code rc = labels_alloc(&result->areas_a, distinct, err);
    if (rc != ERROR_OK)
        goto out;
    for (size_t i = 0, r = 0; i < n; r++) {
        uint64_t area = 0, a = pairs[i].a;
        for (; i < n && pairs[i].a == a; i++)
            area += pairs[i].count;
        result->areas_a.label[r] = a;
        result->areas_a.area[r] = area;
    }
    rc = areas_of_b(pairs, n, &result->areas_b, &bx, &rank_by_label, &rank_by_pair, err);
    if (rc != ERROR_OK)
        goto out;
    const struct overlap_labels *la = &result->areas_a, *lb = &result->areas_b;
    result->labels_a = la->n - (la->n > 0 && la->label[0] == 0);
    result->labels_b = lb->n - (lb->n > 0 && lb->label[0] == 0);

    /* Columns, without background rows unless asked. */
    size_t rows = 0;
    for (size_t i = 0; i < n; i++)
        rows += options->include_background || (pairs[i].a != 0 && pairs[i].b != 0);
    result->a = alloc_large((rows + 1) * sizeof *result->a);
    result->b = alloc_large((rows + 1) * sizeof *result->b);
    result->count = alloc_large((rows + 1) * sizeof *result->count);
    if (options->iou)
        result->iou = alloc_large((rows + 1) * sizeof *result->iou);
    if (!result->a || !result->b || !result->count || (options->iou && !result->iou)) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate the result for %zu pairs", rows);
        goto out;
    }
    for (size_t i = 0, r = 0, ra = 0; i < n; i++) {
        const struct overlap_entry *e = &pairs[i];
        while (la->label[ra] != e->a)
            ra++;
        if (!options->include_background && (e->a == 0 || e->b == 0))
            continue;
        result->a[r] = e->a;
        result->b[r] = e->b;
        result->count[r] = e->count;
        if (options->iou) {
            uint64_t area_b = lb->area[overlap_b_rank(&bx, pairs, i)];
            result->iou[r] = (double)e->count / (double)(la->area[ra] + area_b - e->count);
        }
        r++;
    }
    result->n_pairs = rows;
out:
    if (rc != ERROR_OK)
        overlap_result_cleanup(result);
    free(rank_by_label);
    free(rank_by_pair);
    return rc;
}
