/*
 * overlap_eval.h - the evaluation part of POST /overlap: StarDist's matching at any number of
 * thresholds and criteria, the metrics (AJI, VI, adapted Rand) and the batch aggregate
 * (StarDist's matching_dataset), from options to rendered JSON.
 *
 * Parse turns the request's evaluation fields into a query; run takes one pair's finished
 * counts (background pairs included: the metrics need them) and evaluates them with
 * core/evaluate: one component graph (evaluate_new), one evaluate_matching per threshold;
 * write renders the result. A dataset sums the good pairs of a batch per threshold.
 * Everything a pair owns is freed by overlap_eval_result_cleanup.
 */
#ifndef TESSERA_HANDLERS_OVERLAP_EVAL_H
#define TESSERA_HANDLERS_OVERLAP_EVAL_H

#include "evaluate.h"
#include "limit.h"
#include "overlap.h"
#include "request.h"

#include <stdbool.h>
#include <stddef.h>

enum overlap_eval_aggregate { OVERLAP_EVAL_NONE, OVERLAP_EVAL_POOLED, OVERLAP_EVAL_BY_IMAGE };

struct overlap_eval_query {
    size_t n_thresholds;
    bool threshold_list; /* match_threshold was an array: matching answers are arrays */
    double thresholds[LIMIT_OVERLAP_MAX_THRESHOLDS];
    enum evaluate_criterion criterion;
    bool float32, report_matches;
    bool aji, vi, adapted_rand;
    enum overlap_eval_aggregate aggregate;
};

/* The request's evaluation fields as request_json_fields found them (NULL = absent). */
struct overlap_eval_fields {
    json_t *threshold, *criterion, *float32, *report_matches, *metrics, *aggregate;
};

/* Fill q (zeroed by the caller) from f. A wrong value answers 400 naming the field
 * (thresholds outside (0, 1], an empty or too long list, an unknown criterion, metric or
 * aggregate, an aggregate without thresholds) and returns false; criterion and
 * report_matches without thresholds are accepted and change nothing. Whether aggregate is
 * allowed (batches only) is the caller's check. */
bool overlap_eval_parse(const struct request *req, const struct overlap_eval_fields *f,
                        struct overlap_eval_query *q, struct response *resp);

/* Does q ask for any evaluation (thresholds or metrics)? */
bool overlap_eval_wanted(const struct overlap_eval_query *q);

/* One pair's evaluation. */
struct overlap_eval_result {
    size_t n_matching;
    struct evaluate_matching *matching; /* n_matching, in the order of q->thresholds */
    double aji;
    double vi[2]; /* H(pred | true), H(true | pred) */
    double rand_error, rand_precision, rand_recall;
};

/* Evaluate counts (finished with include_background) as q asks. max_component_pairs and
 * deadline go to evaluate_options. On failure out holds nothing to free and err is
 * evaluate's (ERROR_UNPROCESSABLE naming the component and the limit, ERROR_TIMEOUT,
 * ERROR_NO_MEMORY). Thread-safe for distinct outputs. */
enum error_code overlap_eval_run(const struct overlap_eval_query *q,
                                 const struct overlap_result *counts, uint64_t max_component_pairs,
                                 int64_t deadline, struct overlap_eval_result *out,
                                 struct error_info *err) ERROR_MUST_CHECK;
void overlap_eval_result_cleanup(struct overlap_eval_result *r);

struct jsonw;

/* Append ,"matching":... and ,"metrics":{...} as q asks (nothing when it asks neither). */
void overlap_eval_write(struct jsonw *w, const struct overlap_eval_query *q,
                        const struct overlap_eval_result *r);

/* The batch aggregate: one evaluate_dataset per threshold. */
struct overlap_eval_dataset {
    size_t n;
    struct evaluate_dataset *per_threshold;
};

/* false when out of memory (nothing to free then). */
bool overlap_eval_dataset_init(struct overlap_eval_dataset *d, const struct overlap_eval_query *q);
void overlap_eval_dataset_add(struct overlap_eval_dataset *d, const struct overlap_eval_result *r);
/* Append ,"dataset":... (an object, or an array when thresholds were a list). */
void overlap_eval_dataset_write(struct jsonw *w, const struct overlap_eval_query *q,
                                const struct overlap_eval_dataset *d);
void overlap_eval_dataset_cleanup(struct overlap_eval_dataset *d);

#endif
