/*
 * evaluate.h - segmentation evaluation on a sparse contingency table: StarDist's `matching` at
 * any threshold and criterion, `matching_dataset` aggregation, cellpose's aggregated Jaccard
 * index, and scikit-image's variation of information and adapted Rand error.
 *
 * Input is the table /overlap counts once (every nonzero (a, b) pair with its pixel count,
 * background pairs included, and the areas of every label); nothing here touches pixels, and
 * nothing is ever dense in the number of labels: the matching objective separates over the
 * connected components of the graph of overlapping (nonzero) label pairs, so each component
 * is solved on its own: up to 65536 true x pred label cells (256 x 256) on a dense matrix
 * (core/assign.h, the same algorithm and tie order as scipy's linear_sum_assignment), larger
 * ones (touching cells chain into one component across the image) on their overlapping
 * pairs alone (core/assign_sparse.h). A component whose threshold-passing pairs already form
 * a matching needs no assignment at all (always the case for IoU above 0.5). a is the ground
 * truth, b the prediction.
 *
 * Semantics (StarDist stardist/matching.py, the public contract):
 *   iou = n_ab / (area_a + area_b - n_ab), iot = n_ab / area_a, iop = n_ab / area_b.
 *   At threshold t the assignment maximises the number of pairs with score >= t, then the
 *   sum of the scores of all assigned pairs (cost -(score >= t) - score / (2 min(n_true,
 *   n_pred))). tp = assigned pairs with score >= t; fp = n_pred - tp; fn = n_true - tp; the
 *   ratios are 0 when tp is 0.
 *   Scores are computed in double and compared with t exactly (n_ab >= t x denominator in
 *   exact arithmetic). StarDist computes scores in float32 and compares float32(score) with
 *   float32(t), which can differ from exact arithmetic at a score equal or very close to t;
 *   evaluate_options.float32 reproduces its comparisons and costs bit for bit (sums are then
 *   sums of the float32 scores, in double).
 *
 * Every optimal assignment has the same tp, fp and fn. Where several optimal assignments
 * split the same objective differently between tp and non-tp scores (exact ties, which
 * rectangles and iop produce), the dense path picks scipy's and the sparse path another, so
 * sum_matched_score (and AJI) may then differ from StarDist's on components over 65536 cells.
 *
 * Cost: O(pairs log labels) to build the components; per threshold O(pairs) plus, for each
 * component that needs one, an assignment: O(r^2 c) dense for r x c labels, or per row a
 * search over the pairs it reaches.
 */
#ifndef TESSERA_CORE_EVALUATE_H
#define TESSERA_CORE_EVALUATE_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum evaluate_criterion { EVALUATE_IOU, EVALUATE_IOT, EVALUATE_IOP };

/* "iou", "iot", "iop". */
const char *evaluate_criterion_name(enum evaluate_criterion c);

/* The contingency table, borrowed: pairs sorted by (a, b) with counts >= 1, background pairs
 * included; label lists ascending with their areas, 0 included when present. */
struct evaluate_table {
    size_t n_pairs;
    const uint64_t *a, *b, *count;
    size_t n_a;
    const uint64_t *label_a, *area_a;
    size_t n_b;
    const uint64_t *label_b, *area_b;
    uint64_t pixels;
};

struct evaluate_options {
    enum evaluate_criterion criterion;
    bool float32;                 /* StarDist-compatible float32 scores (see above) */
    bool report_matches;          /* fill evaluate_matching.matches */
    uint64_t max_component_pairs; /* pairs of the largest component assigned (0 = no limit) */
    int64_t deadline;             /* core/clock.h; 0 = none */
};

/* Assigned pairs that overlap, sorted by (a, b): the score and whether it is a tp. */
struct evaluate_matches {
    size_t n;
    uint64_t *a, *b;
    double *score;
    bool *tp;
};

/* StarDist's full result for one threshold. */
struct evaluate_matching {
    enum evaluate_criterion criterion;
    double threshold;
    uint64_t tp, fp, fn, n_true, n_pred;
    double precision, recall, accuracy, f1;
    double sum_matched_score; /* sum of the tp scores */
    double mean_true_score, mean_matched_score, panoptic_quality;
    struct evaluate_matches matches; /* when report_matches */
};

struct evaluate;

/* Check a threshold: 0 < t <= 1 (ERROR_INVALID otherwise, NaN included). */
enum error_code evaluate_threshold_check(double t, struct error_info *err) ERROR_MUST_CHECK;

/* Build the component graph of table (which must outlive the result). NULL with
 * ERROR_NO_MEMORY. */
struct evaluate *evaluate_new(const struct evaluate_table *table,
                              const struct evaluate_options *options, struct error_info *err);
void evaluate_free(struct evaluate *ev);

/* Labels in the largest component (true x pred), for the answer and the benchmark. */
void evaluate_largest_component(const struct evaluate *ev, uint64_t *rows, uint64_t *cols);

/* Matching at threshold t. Fails with ERROR_INVALID (threshold), ERROR_UNPROCESSABLE (a
 * component that needs an assignment has more than max_component_pairs overlapping pairs;
 * the detail names its size and the limit), ERROR_TIMEOUT, ERROR_NO_MEMORY. out is overwritten;
 * free its matches with evaluate_matching_cleanup. Not thread-safe on one ev. */
enum error_code evaluate_matching(struct evaluate *ev, double t, struct evaluate_matching *out,
                                  struct error_info *err) ERROR_MUST_CHECK;
void evaluate_matching_cleanup(struct evaluate_matching *m);

/* cellpose's aggregated_jaccard_index: the IoU assignment at 0.5 (same cost), the pixel
 * overlaps of every assigned pair summed, over the pixels that are foreground in either
 * image (0 when there are none). Fails like evaluate_matching. */
enum error_code evaluate_aji(struct evaluate *ev, double *aji,
                             struct error_info *err) ERROR_MUST_CHECK;

/* skimage's variation_of_information(a, b) with ignore_labels=(): [H(b | a), H(a | b)] in
 * bits, background counted as a label. */
void evaluate_vi(const struct evaluate_table *table, double out[2]);

/* skimage's adapted_rand_error(a, b) with ignore_labels=(0,): pixels whose true label is 0
 * are left out. error = 1 - F, precision, recall as skimage 0.19 names them, computed the
 * same way in double: where skimage divides zero by zero (no two foreground pixels share a
 * label) the value is NaN, as there. */
void evaluate_adapted_rand(const struct evaluate_table *table, double *error, double *precision,
                           double *recall);

/* StarDist's matching_dataset: add one image's result, then finish. Pooled: counts and the
 * tp score sums added, ratios recomputed from the sums. By image: counts added, ratios
 * averaged over the images. */
struct evaluate_dataset {
    uint64_t images;
    uint64_t tp, fp, fn, n_true, n_pred;
    double sum_matched_score;
    double precision, recall, accuracy, f1, mean_true_score, mean_matched_score,
        panoptic_quality; /* sums of the per-image ratios */
};
void evaluate_dataset_init(struct evaluate_dataset *d);
void evaluate_dataset_add(struct evaluate_dataset *d, const struct evaluate_matching *m);
void evaluate_dataset_finish(const struct evaluate_dataset *d, bool by_image,
                             enum evaluate_criterion criterion, double t,
                             struct evaluate_matching *out);

#endif
