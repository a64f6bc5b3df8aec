"""references.py - segmentation-evaluation references written from the published definitions.

Shared by tests/unit/core/diff_evaluate.py (core/evaluate through its driver) and
tests/integration/diff_overlap_http.py (POST /overlap over HTTP). Written from the
definitions, not copied from the libraries:
  StarDist `matching`: sequential relabelling, a dense (1 + n_true) x (1 + n_pred) overlap
    table, scores iou / iot / iop, cost -(score >= t) - score / (2 min(n_true, n_pred)),
    scipy.optimize.linear_sum_assignment, tp = assigned pairs with score >= t. Mode
    "float32" is StarDist's own arithmetic; mode "exact" compares with Fractions and sums
    float64 scores.
  StarDist `matching_dataset`: pooled (counts and tp score sums added, ratios recomputed)
    or by image (counts added, ratios averaged).
  cellpose `aggregated_jaccard_index`: the IoU assignment at 0.5 (float64), overlaps of every
    assigned pair over the pixels foreground in either image.
  scikit-image's `variation_of_information` and `adapted_rand_error` are called directly by
    the users of this module.
"""
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment


def relabel(x):
    """Labels 0, 1, ..., n in the order of the sorted values, 0 kept for 0 (or prepended)."""
    ids, inv = np.unique(x, return_inverse=True)
    if ids[0] != 0:
        ids = np.concatenate([[0], ids])
        inv = inv + 1
    return inv.reshape(x.shape), ids


def tables(a, b):
    """(overlap table, label ids of a, of b, n_true, n_pred), row / column 0 the background."""
    ra, ida = relabel(a)
    rb, idb = relabel(b)
    nt, npred = len(ida) - 1, len(idb) - 1
    ov = np.zeros((nt + 1, npred + 1), np.int64)
    np.add.at(ov, (ra.ravel(), rb.ravel()), 1)
    return ov, ida, idb, nt, npred


def scores_of(ov, criterion, dtype):
    """Scores of the foreground pairs and their denominators."""
    n_true = ov.sum(axis=1, keepdims=True)
    n_pred = ov.sum(axis=0, keepdims=True)
    den = {"iou": n_true + n_pred - ov, "iot": np.broadcast_to(n_true, ov.shape),
           "iop": np.broadcast_to(n_pred, ov.shape)}[criterion]
    out = np.zeros(ov.shape, dtype)
    np.divide(ov, den, out=out, where=den > 0)
    return out[1:, 1:], den[1:, 1:]


def stardist(ov, nt, npred, criterion, t, mode, ida, idb):
    """(tp, fp, fn, sum of the tp scores, sorted assigned overlapping pairs (a, b, score, tp))."""
    if mode == "float32":
        s, _ = scores_of(ov, criterion, np.float32)
        ok_mat = s >= np.float32(t)
        cost_div = s / np.float32(2 * max(min(nt, npred), 1))
    else:
        s, den = scores_of(ov, criterion, np.float64)
        inter = ov[1:, 1:]
        ft = Fraction(t)
        ok_mat = np.zeros(s.shape, bool)
        for i, j in zip(*np.nonzero(inter)):
            ok_mat[i, j] = Fraction(int(inter[i, j]), int(den[i, j])) >= ft
        cost_div = s / (2 * max(min(nt, npred), 1))
    n_matched = min(nt, npred)
    tp, total, matches = 0, 0.0, []
    if n_matched > 0:
        costs = -ok_mat.astype(float) - cost_div
        ti, pi = linear_sum_assignment(costs)
        ok = ok_mat[ti, pi]
        tp = int(np.count_nonzero(ok))
        total = float(np.sum(s[ti, pi][ok].astype(np.float64)))
        for i, j, k in zip(ti, pi, ok):
            if ov[i + 1, j + 1] > 0:
                matches.append((int(ida[i + 1]), int(idb[j + 1]), float(s[i, j]), bool(k)))
    fp, fn = npred - tp, nt - tp
    return tp, fp, fn, total, sorted(matches)


def assignment_cost(ov, matches, crit, mode, t, ida, idb):
    """StarDist's objective of a set of assigned overlapping pairs (others cost 0)."""
    nt, npred = ov.shape[0] - 1, ov.shape[1] - 1
    s32, _ = scores_of(ov, crit, np.float32)
    s64, den = scores_of(ov, crit, np.float64)
    row = {int(v): i for i, v in enumerate(ida)}
    col = {int(v): j for j, v in enumerate(idb)}
    nm = max(min(nt, npred), 1)
    total = 0.0
    for a, b, _, _ in matches:
        i, j = row[a] - 1, col[b] - 1
        if mode == "float32":
            total += -float(s32[i, j] >= np.float32(t)) - float(s32[i, j] / np.float32(2 * nm))
        else:
            ok = Fraction(int(ov[i + 1, j + 1]), int(den[i, j])) >= Fraction(t)
            total += -float(ok) - s64[i, j] / (2 * nm)
    return total


def safe_divide(x, y):
    return x / y if y else 0.0


def matching_fields(tp, fp, fn, total, nt, npred):
    """StarDist's matching result fields (besides criterion and threshold)."""
    return {"tp": tp, "fp": fp, "fn": fn, "n_true": nt, "n_pred": npred,
            "precision": safe_divide(tp, tp + fp), "recall": safe_divide(tp, tp + fn),
            "accuracy": safe_divide(tp, tp + fp + fn), "f1": safe_divide(2 * tp, 2 * tp + fp + fn),
            "mean_true_score": safe_divide(total, nt), "mean_matched_score": safe_divide(total, tp),
            "panoptic_quality": safe_divide(total, tp + fp / 2 + fn / 2)}


RATIOS = ("precision", "recall", "accuracy", "f1", "mean_true_score", "mean_matched_score",
          "panoptic_quality")
COUNTS = ("tp", "fp", "fn", "n_true", "n_pred")


def matching_dataset(per_image, by_image):
    """matching_dataset from per-image matching_fields dicts (one threshold)."""
    acc = {k: 0 for k in COUNTS}
    ratios = {k: 0.0 for k in RATIOS}
    total = 0.0
    for m in per_image:
        for k in COUNTS:
            acc[k] += m[k]
        for k in RATIOS:
            ratios[k] += m[k]
        total += m["mean_true_score"] * m["n_true"]  # StarDist's sum of the tp scores
    if by_image:
        n = len(per_image)
        return {**acc, **{k: v / n for k, v in ratios.items()}}
    return matching_fields(acc["tp"], acc["fp"], acc["fn"], total, acc["n_true"], acc["n_pred"])


def aji_ref(ov, nt, npred):
    if nt == 0 or npred == 0:
        inter = 0
    else:
        s, _ = scores_of(ov, "iou", np.float64)
        costs = -(s >= 0.5).astype(float) - s / (2 * min(nt, npred))
        ti, pi = linear_sum_assignment(costs)
        inter = int(ov[ti + 1, pi + 1].sum())
    union = int(ov.sum() - ov[0, 0])
    return inter / union if union else 0.0


def rel_close(x, y, tol):
    if x is None or y is None or np.isnan(x) or np.isnan(y):
        return (x is None or np.isnan(x)) and (y is None or np.isnan(y))
    return abs(x - y) <= tol * max(1.0, abs(x), abs(y))
