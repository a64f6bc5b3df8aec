#!/usr/bin/python3
"""bench_evaluate.py TESSERA_BINARY [--size 8192] [--cells 80000] [--repeats 3] [--keep DIR]

Segmentation evaluation end to end, one run, ratios (not pass/fail). Two uint32 label TIFFs
(deflate, tiles 256x256; bench_overlap.py's Voronoi cells cut to disks of --radius x the
seed spacing, the second shifted, relabelled, with a tenth of its cells split in two) under a
data root, then:
  sweep    POST /overlap with the 9 thresholds 0.1 .. 0.9 (include_background false)
  single   POST /overlap with match_threshold 0.5 (the same counting, one matching)
  python   tifffile.imread x2, the sparse IoU table (np.unique on a 64-bit key), the
           connected components of the overlap graph (scipy.sparse.csgraph), and per
           threshold scipy's linear_sum_assignment on StarDist's cost for every component
           with more than one label on a side (1 x 1 components are decided directly)
Each is the median of --repeats runs; the answers' tp / fp / fn are compared for every
threshold. Goals: sweep < 1.3x single; python >= 20x sweep. Also prints the largest
component of the overlap graph (true x predicted labels) and the load average: the machine
may be shared, so the figures are only as good as it was idle.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import tifffile
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_http  # noqa: E402
import bench_overlap  # noqa: E402

THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def make_pair(size, n, radius_factor):
    a = bench_overlap.cells(size, n, radius_factor)
    b = bench_overlap.second(a, n)
    rng = np.random.default_rng(11)
    # split a tenth of the predicted cells in two halves: ties and assignments below 0.5
    ys, xs = np.nonzero(b)
    labels = b[ys, xs]
    order = np.argsort(labels, kind="stable")
    labels, xs_sorted, ys_sorted = labels[order], xs[order], ys[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], labels.size]
    pick = rng.choice(starts.size, starts.size // 10, replace=False)
    top = np.uint32(b.max())
    for k, g in enumerate(pick):
        s, e = starts[g], ends[g]
        cx = np.median(xs_sorted[s:e])
        right = xs_sorted[s:e] > cx
        b[ys_sorted[s:e][right], xs_sorted[s:e][right]] = top + np.uint32(k + 1)
    return a, b


def python_way(pa, pb):
    """(per-threshold (tp, fp, fn), largest component (rows, cols))."""
    a = tifffile.imread(pa).ravel().astype(np.uint64)
    b = tifffile.imread(pb).ravel().astype(np.uint64)
    keys, counts = np.unique((a << np.uint64(32)) | b, return_counts=True)
    ka, kb = keys >> np.uint64(32), keys & np.uint64(0xFFFFFFFF)
    la, area_a = np.unique(a, return_counts=True)
    lb, area_b = np.unique(b, return_counts=True)
    ia, ib = np.searchsorted(la, ka), np.searchsorted(lb, kb)
    iou = counts / (area_a[ia] + area_b[ib] - counts)
    fg = (ka != 0) & (kb != 0)
    # foreground labels as rows / columns 0..n-1
    ta, tb = la[la != 0], lb[lb != 0]
    r, c, s = np.searchsorted(ta, ka[fg]), np.searchsorted(tb, kb[fg]), iou[fg]
    nt, npred = ta.size, tb.size
    graph = coo_matrix((np.ones(r.size), (r, nt + c)), shape=(nt + npred, nt + npred))
    ncomp, comp = connected_components(graph, directed=False)
    pair_comp = comp[r]
    order = np.argsort(pair_comp, kind="stable")
    bounds = np.flatnonzero(np.r_[True, pair_comp[order][1:] != pair_comp[order][:-1], True])
    n_matched = max(min(nt, npred), 1)
    largest = (0, 0)
    singles, dense = [], []  # scores of 1 x 1 components; dense score matrices of the others
    for i in range(bounds.size - 1):
        g = order[bounds[i]:bounds[i + 1]]
        rows, ri = np.unique(r[g], return_inverse=True)
        cols, ci = np.unique(c[g], return_inverse=True)
        if rows.size * cols.size > largest[0] * largest[1]:
            largest = (rows.size, cols.size)
        if rows.size * cols.size > 10**8:  # 800 MB dense: no comparison for this data
            raise RuntimeError(f"a {rows.size} x {cols.size} component: too large to solve densely")
        if rows.size == 1 and cols.size == 1:
            singles.append(s[g][0])
            continue
        m = np.zeros((rows.size, cols.size))
        m[ri, ci] = s[g]
        dense.append(m)
    singles = np.asarray(singles)
    out = []
    for t in THRESHOLDS:
        tp = int(np.count_nonzero(singles >= t))
        for m in dense:
            i, j = linear_sum_assignment(-(m >= t).astype(float) - m / (2 * n_matched))
            tp += int(np.count_nonzero(m[i, j] >= t))
        out.append((tp, npred - tp, nt - tp))
    return out, largest


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--cells", type=int, default=80000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--radius", type=float, default=0.45,
                    help="cell radius / seed spacing: 0.45 separates most cells (nuclei), "
                         "0.62 (bench_overlap's) lets them touch")
    ap.add_argument("--keep")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="bench-evaluate-")
    os.makedirs(tmp, exist_ok=True)
    pa, pb = os.path.join(tmp, "truth.tif"), os.path.join(tmp, "pred.tif")
    server = None
    try:
        if not (os.path.exists(pa) and os.path.exists(pb)):
            t0 = time.perf_counter()
            a, b = make_pair(args.size, args.cells, args.radius)
            for path, img in ((pa, a), (pb, b)):
                tifffile.imwrite(path, img, compression="zlib", tile=(256, 256),
                                 photometric="minisblack")
            del a, b
            print(f"data: {args.size}x{args.size} uint32, {args.cells} cells, "
                  f"{time.perf_counter() - t0:.1f} s to make")
        server = bench_http.Server(args.binary, tmp, "--threads", "2")
        client = bench_http.Client(server.port)
        base = {"a": "truth.tif", "b": "pred.tif", "include_background": False}

        def single():
            return client.post_json("/overlap", {**base, "match_threshold": 0.5})

        def sweep():
            return client.post_json("/overlap", {**base, "match_threshold": THRESHOLDS})

        sweep()  # warm the page cache
        t_single, one = timed(single, args.repeats)
        t_sweep, many = timed(sweep, args.repeats)
        t_python, (ref, largest) = timed(lambda: python_way(pa, pb), max(1, args.repeats - 2))
        # Python compares double scores with the double t, as StarDist's float32 mode does at a
        # score equal to t (IoU exactly 2/5 matches t = 0.4); the default exact mode does not.
        f32 = client.post_json("/overlap", {**base, "match_threshold": THRESHOLDS,
                                            "stardist_float32": True})
        for t, m, m32, (tp, fp, fn) in zip(THRESHOLDS, many["matching"], f32["matching"], ref):
            if (m32["tp"], m32["fp"], m32["fn"]) != (tp, fp, fn):
                print(f"MISMATCH at {t}: server (float32) {m32['tp']} {m32['fp']} {m32['fn']}, "
                      f"python {tp} {fp} {fn}")
            if m["tp"] != m32["tp"]:
                print(f"at {t}: exact mode tp {m['tp']}, float32 mode tp {m32['tp']} "
                      f"(scores equal to the threshold)")
        if one["matching"]["tp"] != many["matching"][4]["tp"]:
            print("MISMATCH: single and sweep differ at 0.5")
        print(f"pairs (foreground) {len(many['pairs']['a'])}, labels {many['labels_a']} x "
              f"{many['labels_b']}")
        print(f"largest overlap-graph component: {largest[0]} true x {largest[1]} predicted")
        print(f"single /overlap t=0.5   {t_single * 1e3:9.0f} ms")
        print(f"sweep /overlap 9 t      {t_sweep * 1e3:9.0f} ms   {t_sweep / t_single:.2f}x single "
              f"(goal < 1.3x)")
        print(f"python (tifffile+numpy+scipy) {t_python * 1e3:9.0f} ms   "
              f"{t_python / t_sweep:.1f}x the sweep (goal >= 20x)")
        print("tp per threshold:", " ".join(f"{t}:{m['tp']}" for t, m in zip(THRESHOLDS,
                                                                              many["matching"])))
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().strip()} (shared machine: figures are noisy)")
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
