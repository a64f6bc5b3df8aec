/*
 * evaluate_driver.c - count two raw label arrays with core/overlap, then evaluate them with
 * core/evaluate and print every result, for diff_evaluate.py to compare with StarDist's,
 * cellpose's and scikit-image's definitions.
 *
 * usage: evaluate_driver [--report] [--max-pairs N] A.u64 B.u64 T1 [T2 ...]
 * A and B hold the same number of native uint64 labels. For each criterion (iou, iot, iop),
 * each mode (exact, float32) and each threshold, one line:
 *   match CRIT MODE T tp fp fn n_true n_pred precision recall accuracy f1 sum mts mms pq
 * then (with --report) "matches N" and N lines "a b score tp" per match line; finally
 * "aji X", "vi X Y", "are E P R" and "largest R C". Floats use %.17g. On failure:
 * "error NAME: detail", exit status 1.
 */
#include "evaluate.h"
#include "overlap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t *read_u64(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = (size_t)size / 8;
    uint64_t *v = malloc(*n ? *n * 8 : 8);
    if (v != NULL && fread(v, 8, *n, f) != *n) {
        free(v);
        v = NULL;
    }
    fclose(f);
    return v;
}

static int fail(const struct error_info *err)
{
    printf("error %s: %s\n", error_code_name(err->code), err->detail);
    return 1;
}

static void print_matching(const char *crit, const char *mode, const struct evaluate_matching *m,
                           bool report)
{
    printf("match %s %s %.17g %llu %llu %llu %llu %llu %.17g %.17g %.17g %.17g %.17g %.17g "
           "%.17g %.17g\n",
           crit, mode, m->threshold, (unsigned long long)m->tp, (unsigned long long)m->fp,
           (unsigned long long)m->fn, (unsigned long long)m->n_true, (unsigned long long)m->n_pred,
           m->precision, m->recall, m->accuracy, m->f1, m->sum_matched_score, m->mean_true_score,
           m->mean_matched_score, m->panoptic_quality);
    if (!report)
        return;
    printf("matches %zu\n", m->matches.n);
    for (size_t i = 0; i < m->matches.n; i++)
        printf("%llu %llu %.17g %d\n", (unsigned long long)m->matches.a[i],
               (unsigned long long)m->matches.b[i], m->matches.score[i], m->matches.tp[i]);
}

int main(int argc, char **argv)
{
    bool report = false;
    uint64_t max_pairs = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--report") == 0)
            report = true;
        else if (strcmp(argv[i], "--max-pairs") == 0 && i + 1 < argc)
            max_pairs = strtoull(argv[++i], NULL, 10);
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: evaluate_driver [--report] [--max-pairs N] A B T...\n");
        return 2;
    }
    size_t na, nb;
    uint64_t *a = read_u64(argv[i], &na), *b = read_u64(argv[i + 1], &nb);
    if (a == NULL || b == NULL || na != nb) {
        fprintf(stderr, "cannot read two arrays of equal size\n");
        return 2;
    }
    struct error_info err;
    error_init(&err);
    struct overlap_counter *c = overlap_counter_new(0, &err);
    struct overlap_options oo = {.include_background = true};
    struct overlap_result res;
    memset(&res, 0, sizeof res);
    struct evaluate *ev = NULL;
    int status = 0;
    /* Every path frees what it made, failures included, so leak checkers stay quiet. */
    if (c == NULL || overlap_counter_add(c, a, OVERLAP_U64, b, OVERLAP_U64, na, &err) != ERROR_OK ||
        overlap_counter_finish(c, &oo, &res, &err) != ERROR_OK) {
        status = fail(&err);
        goto out;
    }
    struct evaluate_table t = {res.n_pairs,      res.a,         res.b,
                               res.count,        res.areas_a.n, res.areas_a.label,
                               res.areas_a.area, res.areas_b.n, res.areas_b.label,
                               res.areas_b.area, res.pixels};
    static const char *const crit[] = {"iou", "iot", "iop"};
    for (int ci = 0; ci < 3; ci++) {
        for (int mode = 0; mode < 2; mode++) {
            struct evaluate_options eo = {.criterion = (enum evaluate_criterion)ci,
                                          .float32 = mode == 1,
                                          .report_matches = report,
                                          .max_component_pairs = max_pairs};
            ev = evaluate_new(&t, &eo, &err);
            if (ev == NULL) {
                status = fail(&err);
                goto out;
            }
            for (int k = i + 2; k < argc; k++) {
                struct evaluate_matching m;
                if (evaluate_matching(ev, strtod(argv[k], NULL), &m, &err) != ERROR_OK) {
                    status = fail(&err);
                    goto out;
                }
                print_matching(crit[ci], mode ? "float32" : "exact", &m, report);
                evaluate_matching_cleanup(&m);
            }
            if (ci == 0 && mode == 0) {
                double aji, vi[2], e, p, r;
                uint64_t rows, cols;
                if (evaluate_aji(ev, &aji, &err) != ERROR_OK) {
                    status = fail(&err);
                    goto out;
                }
                evaluate_vi(&t, vi);
                evaluate_adapted_rand(&t, &e, &p, &r);
                evaluate_largest_component(ev, &rows, &cols);
                printf("aji %.17g\nvi %.17g %.17g\nare %.17g %.17g %.17g\nlargest %llu %llu\n", aji,
                       vi[0], vi[1], e, p, r, (unsigned long long)rows, (unsigned long long)cols);
            }
            evaluate_free(ev);
            ev = NULL;
        }
    }
out:
    evaluate_free(ev);
    overlap_result_cleanup(&res);
    overlap_counter_free(c);
    free(a);
    free(b);
    return status;
}
