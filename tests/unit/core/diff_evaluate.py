#!/usr/bin/python3
"""diff_evaluate.py DRIVER - core/evaluate against the published definitions.

References (tests/references.py, written from the definitions, not copied from the libraries):
  StarDist `matching`: sequential relabelling, a dense (1 + n_true) x (1 + n_pred) overlap
    table, float32 scores (iou / iot / iop), cost -(score >= t) - score / (2 min(n_true,
    n_pred)), scipy.optimize.linear_sum_assignment, tp = assigned pairs with score >= t.
    The driver's "float32" mode must equal this exactly in tp / fp / fn.
  The same with exact arithmetic (Fraction comparisons, float64 scores): the driver's
    default "exact" mode.
  cellpose `aggregated_jaccard_index`: the IoU assignment at 0.5 (float64), overlaps of every
    assigned pair over the pixels foreground in either image.
  scikit-image 0.19 `variation_of_information` and `adapted_rand_error`, called directly.
Label pairs: watershed cells shifted, split, merged, dropped, eroded; exact halves; cells cut
to land exactly on a threshold; random overlapping blobs that need a real assignment (a
greedy choice is wrong); huge label IDs; empty and all-background images. Giant
components: touching watershed cells (512^2 to 2048^2, 1000 to 5000 cells, shifted, eroded,
split, merged) chain into one component of thousands of labels, solved on its pairs alone
(core/assign_sparse.h), checked at the thresholds below 0.5 where the assignment matters.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import adapted_rand_error, variation_of_information
from skimage.segmentation import watershed

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from references import aji_ref, assignment_cost, rel_close, relabel, stardist, tables  # noqa: E402

DRIVER = sys.argv[1]
RNG = np.random.default_rng(20261203)
TMP = tempfile.mkdtemp(prefix="diff_evaluate_")
THRESHOLDS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]
FAILURES = []
CHECKS = [0]


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def check(ok, msg):
    CHECKS[0] += 1
    if not ok:
        fail(msg)


# ------------------------------------------------------------------------------------------
# Label images


def cells(shape, n, radius):
    markers = np.zeros(shape, np.int32)
    pts = RNG.integers(0, shape, size=(n, 2))
    markers[pts[:, 0], pts[:, 1]] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    return watershed(dist, markers, mask=dist < radius).astype(np.uint64)


def touching(shape, n):
    """Watershed cells without a mask: every cell touches its neighbours."""
    markers = np.zeros(shape, np.int32)
    pts = RNG.integers(0, shape, size=(n, 2))
    markers[pts[:, 0], pts[:, 1]] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    return watershed(dist, markers).astype(np.uint64)


def shifted(lab, dy, dx, erode):
    out = np.roll(lab, (dy, dx), axis=(0, 1))
    return (ndi.grey_erosion(out, size=(2, 2)) if erode else out).astype(np.uint64)


def perturb(lab):
    out = np.roll(lab, (1, 2), axis=(0, 1)).copy()
    ids = np.unique(out[out > 0])
    if len(ids) > 4:
        drop = RNG.choice(ids, len(ids) // 10, replace=False)
        out[np.isin(out, drop)] = 0
        # split some cells in two halves along x
        for lbl in RNG.choice(ids, len(ids) // 8, replace=False):
            ys, xs = np.nonzero(out == lbl)
            if len(xs) > 3:
                mid = np.median(xs)
                out[ys[xs > mid], xs[xs > mid]] = lbl + 100000
        # merge some neighbours
        for lbl in RNG.choice(ids, len(ids) // 10, replace=False):
            out[out == lbl] = lbl + 1 if (out == lbl + 1).any() else lbl
    out = ndi.grey_erosion(out, size=(2, 2)) if RNG.random() < 0.5 else out
    return out.astype(np.uint64)


def blobs(shape, n, lo=2, hi=8):
    """Random overlapping rectangles painted in random order: many-to-many overlaps."""
    out = np.zeros(shape, np.uint64)
    for i in range(1, n + 1):
        y, x = RNG.integers(0, shape[0] - 2), RNG.integers(0, shape[1] - 2)
        h, w = RNG.integers(lo, hi), RNG.integers(lo, hi)
        out[y:y + h, x:x + w] = i
    return out


def pairs():
    yield "cells", cells((96, 96), 40, 9), None
    a = cells((128, 100), 60, 8)
    yield "perturbed", a, perturb(a)
    for k in range(6):
        yield f"blobs{k}", blobs((24, 24), 30), blobs((24, 24), 30)
    # exact halves: each true cell split in two equal halves (IoU exactly 0.5 twice)
    a = np.zeros((8, 16), np.uint64)
    b = np.zeros((8, 16), np.uint64)
    a[:, :8] = 1
    a[:, 8:] = 2
    b[:, :4], b[:, 4:8], b[:, 8:12], b[:, 12:] = 10, 11, 12, 13
    yield "halves", a, b
    # a cell cut to exactly 70% and 30%, and one to 60 / 40 with 5-pixel rows
    a = np.zeros((10, 10), np.uint64)
    b = np.zeros((10, 10), np.uint64)
    a[:, :] = 7
    b[:, :7] = 3
    b[:, 7:] = 4
    yield "seventy", a, b
    a = np.zeros((4, 5), np.uint64)
    a[:] = 1
    b = a.copy()
    b[:, 3:] = 2
    yield "sixty", a, b
    # huge label IDs
    a = cells((64, 64), 20, 8)
    big = np.where(a > 0, a + np.uint64(2**64 - 200), 0).astype(np.uint64)
    yield "huge", big, np.where(a > 0, a + np.uint64(2**32 - 50), 0).astype(np.uint64)
    yield "empty_pred", cells((32, 32), 8, 6), np.zeros((32, 32), np.uint64)
    yield "empty_true", np.zeros((32, 32), np.uint64), cells((32, 32), 8, 6)
    yield "all_background", np.zeros((16, 16), np.uint64), np.zeros((16, 16), np.uint64)
    yield "no_background", np.ones((8, 8), np.uint64), np.arange(64, dtype=np.uint64).reshape(8, 8) + 1


# ------------------------------------------------------------------------------------------


LOW = [0.05, 0.1, 0.2, 0.3, 0.4, 0.45]
ALL_RULES = None  # every criterion and mode, strictly
STRICT, TIES = "strict", "ties"


def giant_pairs():
    """(name, a, b, thresholds, {(criterion, mode): STRICT or TIES} checked, None = all
    strictly): each has one component far over the dense solver's size."""
    a = touching((512, 512), 1000)
    yield "touching512", a, shifted(a, 2, 3, True), LOW, ALL_RULES
    yield "touching512_perturbed", a, perturb(a), LOW, ALL_RULES
    rules = {(c, m): STRICT for c in ("iou", "iot", "iop") for m in ("exact", "float32")}
    rules[("iop", "exact")] = TIES
    rules["aji"] = TIES
    yield ("blobs_large", blobs((320, 320), 1800, 6, 24), blobs((320, 320), 1800, 6, 24),
           LOW + [0.5], rules)
    a = touching((1024, 1024), 2500)
    yield ("touching1024", a, shifted(a, 3, 1, False), [0.1, 0.3, 0.45],
           {("iou", "exact"): STRICT, ("iou", "float32"): STRICT, ("iot", "exact"): STRICT})
    a = touching((2048, 2048), 5000)
    yield "touching2048", a, shifted(a, 2, 2, True), [0.2, 0.45], {("iou", "exact"): STRICT}


def run_case(name, a, b, thresholds=THRESHOLDS, rules=ALL_RULES):
    if b is None:
        b = a.copy()
    pa, pb = os.path.join(TMP, "a.u64"), os.path.join(TMP, "b.u64")
    a.astype("=u8").tofile(pa)
    b.astype("=u8").tofile(pb)
    out = subprocess.run([DRIVER, "--report", pa, pb] + [repr(t) for t in thresholds],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        fail(f"{name}: driver failed: {out.stdout} {out.stderr}")
        return
    lines = out.stdout.splitlines()
    ov, ida, idb, nt, npred = tables(a, b)
    k = 0
    largest = None
    at_half = []  # the IoU 0.5 exact matching, when asked for
    while k < len(lines):
        f = lines[k].split()
        k += 1
        if f[0] == "match":
            crit, mode, t = f[1], f[2], float(f[3])
            tp, fp, fn, n_t, n_p = map(int, f[4:9])
            prec, rec, acc, f1, tot, mts, mms, pq = map(float, f[9:17])
            nm = int(lines[k].split()[1])
            got_m = []
            for line in lines[k + 1:k + 1 + nm]:
                x = line.split()
                got_m.append((int(x[0]), int(x[1]), float(x[2]), x[3] == "1"))
            k += 1 + nm
            if rules is not None and (crit, mode) not in rules:
                continue
            tied = rules is not None and rules[(crit, mode)] == TIES
            if (crit, mode, t) == ("iou", "exact", 0.5):
                at_half = got_m
            wtp, wfp, wfn, wtot, wm = stardist(ov, nt, npred, crit, t, mode, ida, idb)
            tag = f"{name} {crit} {mode} t={t}"
            check((tp, fp, fn, n_t, n_p) == (wtp, wfp, wfn, nt, npred),
                  f"{tag}: tp/fp/fn/n_true/n_pred {(tp, fp, fn, n_t, n_p)} != "
                  f"{(wtp, wfp, wfn, nt, npred)}")
            # TIES: several optimal assignments may split the same objective differently
            # between tp and non-tp scores (exact rational ties, as iop on rectangles gives);
            # which one comes out is the solver's tie order. The sum is then checked against
            # our own reported tp pairs, and the objective against the reference's below.
            if tied:
                wtot = float(sum(sc for _, _, sc, ok in got_m if ok))
            check(rel_close(tot, wtot, 1e-12 if mode == "exact" else 1e-6),
                  f"{tag}: sum {tot!r} != {wtot!r}")
            wp = wtp / (wtp + wfp) if wtp else 0.0
            wr = wtp / (wtp + wfn) if wtp else 0.0
            check(rel_close(prec, wp, 1e-15) and rel_close(rec, wr, 1e-15),
                  f"{tag}: precision/recall {prec}, {rec} != {wp}, {wr}")
            check(rel_close(acc, wtp / (wtp + wfp + wfn) if wtp else 0.0, 1e-15), f"{tag}: accuracy")
            check(rel_close(f1, 2 * wtp / (2 * wtp + wfp + wfn) if wtp else 0.0, 1e-15), f"{tag}: f1")
            den = wtp + wfp / 2 + wfn / 2
            check(rel_close(pq, wtot / den if den else 0.0, 1e-6), f"{tag}: panoptic_quality")
            check(rel_close(mts, wtot / nt if nt else 0.0, 1e-6), f"{tag}: mean_true_score")
            check(rel_close(mms, wtot / wtp if wtp else 0.0, 1e-6), f"{tag}: mean_matched_score")
            # The assignment itself may differ where several are optimal (ties): then ours
            # must cost exactly as much under the reference's own cost matrix.
            if sorted(got_m) != sorted(wm):
                check(rel_close(assignment_cost(ov, got_m, crit, mode, t, ida, idb),
                                assignment_cost(ov, wm, crit, mode, t, ida, idb), 1e-12),
                      f"{tag}: a different assignment that is not optimal")
        elif f[0] == "aji":
            got = float(f[1])
            want = aji_ref(ov, nt, npred)
            if rules is not None and rules.get("aji") == TIES:
                # AJI sums the pixels of the IoU 0.5 assignment, which ties leave open: it
                # must be that of our own optimal (checked above) IoU 0.5 matching.
                row = {int(v): i for i, v in enumerate(ida)}
                col = {int(v): j for j, v in enumerate(idb)}
                inter = sum(int(ov[row[x], col[y]]) for x, y, _, _ in at_half)
                want = inter / int(ov.sum() - ov[0, 0])
            check(rel_close(got, want, 1e-12), f"{name}: aji {got!r} != {want!r}")
        elif f[0] == "vi":
            ra, _ = relabel(a)
            rb, _ = relabel(b)
            want = variation_of_information(ra, rb)
            check(rel_close(float(f[1]), want[0], 1e-12) and rel_close(float(f[2]), want[1], 1e-12),
                  f"{name}: vi {f[1:]} != {want}")
        elif f[0] == "are":
            ra, _ = relabel(a)
            rb, _ = relabel(b)
            with np.errstate(all="ignore"):
                want = adapted_rand_error(ra, rb)
            got = list(map(float, f[1:4]))
            check(all(rel_close(g, float(w), 1e-12) for g, w in zip(got, want)),
                  f"{name}: adapted_rand {got} != {want}")
        elif f[0] == "largest":
            largest = (int(f[1]), int(f[2]))
    check(largest is not None, f"{name}: no 'largest' line")
    return largest


def main():
    try:
        biggest = (0, 0)
        for name, a, b in pairs():
            got = run_case(name, a, b)
            if got and got[0] * got[1] > biggest[0] * biggest[1]:
                biggest = got
        for name, a, b, thresholds, rules in giant_pairs():
            got = run_case(name, a, b, thresholds, rules)
            # one component over the dense solver's size (65536 cells): the sparse solver ran
            check(got is not None and got[0] * got[1] > 65536, f"{name}: largest component {got}")
            print(f"{name}: largest component {got[0]} x {got[1]}" if got else name)
            if got and got[0] * got[1] > biggest[0] * biggest[1]:
                biggest = got
        # a component over the limit is a clear error naming its size
        a, b = blobs((24, 24), 30), blobs((24, 24), 30)
        a.astype("=u8").tofile(os.path.join(TMP, "a.u64"))
        b.astype("=u8").tofile(os.path.join(TMP, "b.u64"))
        out = subprocess.run([DRIVER, "--max-pairs", "4", os.path.join(TMP, "a.u64"),
                              os.path.join(TMP, "b.u64"), "0.1"], capture_output=True, text=True)
        check(out.returncode == 1 and "unprocessable" in out.stdout and "pairs" in out.stdout,
              f"component limit: {out.stdout!r}")
        print(f"largest component seen: {biggest[0]} x {biggest[1]}")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"diff_evaluate: {CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES or CHECKS[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
