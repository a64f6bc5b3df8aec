/*
 * overlap_eval.c - matching, metrics and the batch aggregate of POST /overlap; see
 * overlap_eval.h.
 */
#include "overlap_eval.h"
#include "alloc.h"
#include "jsonw.h"
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------------------------- */

static bool overlap_eval_threshold(const struct request *req, const json_t *v, size_t i, bool list,
                                   double *out, struct response *resp)
{
    struct error_info err;
    if (!json_is_number(v) || evaluate_threshold_check(json_number_value(v), &err) != ERROR_OK) {
        if (list)
            problem_send(resp, req, 400, "field 'match_threshold' [%zu] must be a number in (0, 1]",
                         i);
        else
            problem_send(resp, req, 400, "field 'match_threshold' must be a number in (0, 1]");
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool overlap_eval_thresholds(const struct request *req, const json_t *v,
                                    struct overlap_eval_query *q, struct response *resp)
{
    if (v == NULL)
        return true;
    if (!json_is_array(v)) {
        q->n_thresholds = 1;
        return overlap_eval_threshold(req, v, 0, false, &q->thresholds[0], resp);
    }
    size_t n = json_array_size(v);
    if (n == 0 || n > LIMIT_OVERLAP_MAX_THRESHOLDS) {
        problem_send(resp, req, 400, "field 'match_threshold' holds %zu thresholds; give 1 to %d",
                     n, LIMIT_OVERLAP_MAX_THRESHOLDS);
        return false;
    }
    q->threshold_list = true;
    q->n_thresholds = n;
    for (size_t i = 0; i < n; i++)
        if (!overlap_eval_threshold(req, json_array_get(v, i), i, true, &q->thresholds[i], resp))
            return false;
    return true;
}

static bool overlap_eval_metrics(const struct request *req, const json_t *v,
                                 struct overlap_eval_query *q, struct response *resp)
{
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        const char *name = json_string_value(m);
        if (name != NULL && strcmp(name, "aji") == 0)
            q->aji = true;
        else if (name != NULL && strcmp(name, "vi") == 0)
            q->vi = true;
        else if (name != NULL && strcmp(name, "adapted_rand") == 0)
            q->adapted_rand = true;
        else {
            problem_send(resp, req, 400,
                         "field 'metrics' [%zu] must be \"aji\", \"vi\" or \"adapted_rand\"", i);
            return false;
        }
    }
    return true;
}

bool overlap_eval_parse(const struct request *req, const struct overlap_eval_fields *f,
                        struct overlap_eval_query *q, struct response *resp)
{
    if (!overlap_eval_thresholds(req, f->threshold, q, resp))
        return false;
    if (f->criterion != NULL) {
        const char *c = json_string_value(f->criterion);
        if (strcmp(c, "iou") == 0)
            q->criterion = EVALUATE_IOU;
        else if (strcmp(c, "iot") == 0)
            q->criterion = EVALUATE_IOT;
        else if (strcmp(c, "iop") == 0)
            q->criterion = EVALUATE_IOP;
        else {
            problem_send(resp, req, 400, "field 'criterion' must be \"iou\", \"iot\" or \"iop\"");
            return false;
        }
    }
    q->float32 = f->float32 != NULL && json_is_true(f->float32);
    q->report_matches = f->report_matches != NULL && json_is_true(f->report_matches);
    if (f->metrics != NULL && !overlap_eval_metrics(req, f->metrics, q, resp))
        return false;
    if (f->aggregate != NULL) {
        const char *a = json_string_value(f->aggregate);
        if (strcmp(a, "pooled") == 0)
            q->aggregate = OVERLAP_EVAL_POOLED;
        else if (strcmp(a, "by_image") == 0)
            q->aggregate = OVERLAP_EVAL_BY_IMAGE;
        else {
            problem_send(resp, req, 400, "field 'aggregate' must be \"pooled\" or \"by_image\"");
            return false;
        }
        if (q->n_thresholds == 0) {
            problem_send(resp, req, 400, "field 'aggregate' needs 'match_threshold'");
            return false;
        }
    }
    return true;
}

bool overlap_eval_wanted(const struct overlap_eval_query *q)
{
    return q->n_thresholds > 0 || q->aji || q->vi || q->adapted_rand;
}

/* ---------------------------------------------------------------------------------------
 * Running
 * --------------------------------------------------------------------------------------- */

enum error_code overlap_eval_run(const struct overlap_eval_query *q,
                                 const struct overlap_result *counts, uint64_t max_component_pairs,
                                 int64_t deadline, struct overlap_eval_result *out,
                                 struct error_info *err)
{
    const struct evaluate_table table = {
        .n_pairs = counts->n_pairs,
        .a = counts->a,
        .b = counts->b,
        .count = counts->count,
        .n_a = counts->areas_a.n,
        .label_a = counts->areas_a.label,
        .area_a = counts->areas_a.area,
        .n_b = counts->areas_b.n,
        .label_b = counts->areas_b.label,
        .area_b = counts->areas_b.area,
        .pixels = counts->pixels,
    };
    const struct evaluate_options options = {
        .criterion = q->criterion,
        .float32 = q->float32,
        .report_matches = q->report_matches,
        .max_component_pairs = max_component_pairs,
        .deadline = deadline,
    };
    enum error_code rc = ERROR_OK;
    struct evaluate *ev = NULL;
    memset(out, 0, sizeof *out);
    if (q->n_thresholds > 0 || q->aji) {
        ev = evaluate_new(&table, &options, err);
        if (ev == NULL) {
            rc = err->code;
            goto out;
        }
    }
    if (q->n_thresholds > 0) {
        out->matching = alloc_zeroed(q->n_thresholds, sizeof *out->matching);
        if (out->matching == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "no memory for %zu matchings", q->n_thresholds);
            goto out;
        }
    }
    for (size_t i = 0; i < q->n_thresholds; i++) {
        if ((rc = evaluate_matching(ev, q->thresholds[i], &out->matching[i], err)) != ERROR_OK)
            goto out;
        out->n_matching = i + 1;
    }
    if (q->aji && (rc = evaluate_aji(ev, &out->aji, err)) != ERROR_OK)
        goto out;
    if (q->vi)
        evaluate_vi(&table, out->vi);
    if (q->adapted_rand)
        evaluate_adapted_rand(&table, &out->rand_error, &out->rand_precision, &out->rand_recall);
out:
    evaluate_free(ev);
    if (rc != ERROR_OK)
        overlap_eval_result_cleanup(out);
    return rc;
}

void overlap_eval_result_cleanup(struct overlap_eval_result *r)
{
    for (size_t i = 0; i < r->n_matching; i++)
        evaluate_matching_cleanup(&r->matching[i]);
    free(r->matching);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------------------------- */

static void overlap_eval_matches(struct jsonw *w, const struct evaluate_matches *m)
{
    jsonw_lit(w, ",\"matches\":{\"a\":[");
    for (size_t i = 0; i < m->n; i++) {
        jsonw_lit(w, i ? "," : "");
        jsonw_u64(w, m->a[i]);
    }
    jsonw_lit(w, "],\"b\":[");
    for (size_t i = 0; i < m->n; i++) {
        jsonw_lit(w, i ? "," : "");
        jsonw_u64(w, m->b[i]);
    }
    jsonw_lit(w, "],\"score\":[");
    for (size_t i = 0; i < m->n; i++) {
        jsonw_lit(w, i ? "," : "");
        jsonw_double(w, m->score[i]);
    }
    jsonw_lit(w, "],\"tp\":[");
    for (size_t i = 0; i < m->n; i++) {
        jsonw_lit(w, i ? "," : "");
        jsonw_bool(w, m->tp[i]);
    }
    jsonw_lit(w, "]}");
}

/* One matching object: StarDist's field set, then the names earlier answers used
 * (mean_matched_iou is mean_matched_score). */
static void overlap_eval_matching(struct jsonw *w, const struct evaluate_matching *m, bool matches)
{
    jsonw_lit(w, "{\"criterion\":\"");
    jsonw_lit(w, evaluate_criterion_name(m->criterion));
    jsonw_member_double(w, "\",\"threshold\":", m->threshold);
    jsonw_member_u64(w, ",\"tp\":", m->tp);
    jsonw_member_u64(w, ",\"fp\":", m->fp);
    jsonw_member_u64(w, ",\"fn\":", m->fn);
    jsonw_member_double(w, ",\"precision\":", m->precision);
    jsonw_member_double(w, ",\"recall\":", m->recall);
    jsonw_member_double(w, ",\"accuracy\":", m->accuracy);
    jsonw_member_double(w, ",\"f1\":", m->f1);
    jsonw_member_u64(w, ",\"n_true\":", m->n_true);
    jsonw_member_u64(w, ",\"n_pred\":", m->n_pred);
    jsonw_member_double(w, ",\"mean_true_score\":", m->mean_true_score);
    jsonw_member_double(w, ",\"mean_matched_score\":", m->mean_matched_score);
    jsonw_member_double(w, ",\"panoptic_quality\":", m->panoptic_quality);
    jsonw_member_double(w, ",\"mean_matched_iou\":", m->mean_matched_score);
    if (matches)
        overlap_eval_matches(w, &m->matches);
    jsonw_lit(w, "}");
}

static void overlap_eval_matchings(struct jsonw *w, const struct overlap_eval_query *q,
                                   const struct evaluate_matching *m, size_t n, bool matches)
{
    if (q->threshold_list)
        jsonw_lit(w, "[");
    for (size_t i = 0; i < n; i++) {
        jsonw_lit(w, i ? "," : "");
        overlap_eval_matching(w, &m[i], matches);
    }
    if (q->threshold_list)
        jsonw_lit(w, "]");
}

void overlap_eval_write(struct jsonw *w, const struct overlap_eval_query *q,
                        const struct overlap_eval_result *r)
{
    if (q->n_thresholds > 0) {
        jsonw_lit(w, ",\"matching\":");
        overlap_eval_matchings(w, q, r->matching, r->n_matching, q->report_matches);
    }
    if (!q->aji && !q->vi && !q->adapted_rand)
        return;
    const char *sep = "{";
    jsonw_lit(w, ",\"metrics\":");
    if (q->aji) {
        jsonw_lit(w, sep);
        jsonw_member_double(w, "\"aji\":", r->aji);
        sep = ",";
    }
    if (q->vi) {
        jsonw_lit(w, sep);
        jsonw_member_double(w, "\"vi\":{\"h_pred_given_true\":", r->vi[0]);
        jsonw_member_double(w, ",\"h_true_given_pred\":", r->vi[1]);
        jsonw_member_double(w, ",\"sum\":", r->vi[0] + r->vi[1]);
        jsonw_lit(w, "}");
        sep = ",";
    }
    if (q->adapted_rand) {
        jsonw_lit(w, sep);
        jsonw_member_double(w, "\"adapted_rand\":{\"error\":", r->rand_error);
        jsonw_member_double(w, ",\"precision\":", r->rand_precision);
        jsonw_member_double(w, ",\"recall\":", r->rand_recall);
        jsonw_lit(w, "}");
    }
    jsonw_lit(w, "}");
}

/* ---------------------------------------------------------------------------------------
 * The batch aggregate
 * --------------------------------------------------------------------------------------- */

bool overlap_eval_dataset_init(struct overlap_eval_dataset *d, const struct overlap_eval_query *q)
{
    d->n = q->aggregate != OVERLAP_EVAL_NONE ? q->n_thresholds : 0;
    d->per_threshold = NULL;
    if (d->n == 0)
        return true;
    d->per_threshold = alloc_zeroed(d->n, sizeof *d->per_threshold);
    if (d->per_threshold == NULL) {
        d->n = 0;
        return false;
    }
    for (size_t i = 0; i < d->n; i++)
        evaluate_dataset_init(&d->per_threshold[i]);
    return true;
}

void overlap_eval_dataset_add(struct overlap_eval_dataset *d, const struct overlap_eval_result *r)
{
    for (size_t i = 0; i < d->n && i < r->n_matching; i++)
        evaluate_dataset_add(&d->per_threshold[i], &r->matching[i]);
}

void overlap_eval_dataset_write(struct jsonw *w, const struct overlap_eval_query *q,
                                const struct overlap_eval_dataset *d)
{
    if (d->n == 0)
        return;
    bool by_image = q->aggregate == OVERLAP_EVAL_BY_IMAGE;
    jsonw_lit(w, ",\"dataset\":{\"aggregate\":");
    jsonw_lit(w, by_image ? "\"by_image\"" : "\"pooled\"");
    jsonw_member_u64(w, ",\"images\":", d->per_threshold[0].images);
    jsonw_lit(w, ",\"matching\":");
    if (q->threshold_list)
        jsonw_lit(w, "[");
    for (size_t i = 0; i < d->n; i++) {
        struct evaluate_matching m;
        evaluate_dataset_finish(&d->per_threshold[i], by_image, q->criterion, q->thresholds[i], &m);
        jsonw_lit(w, i ? "," : "");
        overlap_eval_matching(w, &m, false);
    }
    if (q->threshold_list)
        jsonw_lit(w, "]");
    jsonw_lit(w, "}");
}

void overlap_eval_dataset_cleanup(struct overlap_eval_dataset *d)
{
    free(d->per_threshold);
    d->per_threshold = NULL;
    d->n = 0;
}
