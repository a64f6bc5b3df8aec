#!/usr/bin/python3
"""Differential test of core/topk.c and core/knn.c against numpy and scipy.

Usage: diff_topk.py PATH/TO/topk_driver

values: np.argsort(x, kind="stable")[:k] (smallest) and np.argsort(-x, kind="stable")[:k]
(largest: negation mirrors the order, keeps NaN last and -0.0 == 0.0), exact indices and
values. rows: the same per row, with column i removed from row i by index for exclude_self.
points: brute-force numpy (exact indices and distances, ties by index) on small sets, and
scipy.spatial.cKDTree on larger ones (its own point removed by index; distances equal to
1e-12, indices equal wherever the row has no tied distances).
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from scipy.spatial import cKDTree

MODE_VALUES, MODE_ROWS, MODE_POINTS = 0, 1, 2
ERROR_UNPROCESSABLE = 4

DRIVER = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="diff_topk_")
failures = 0
passes = 0


def run(mode, data, k, largest=False, exclude_self=False, threads=2):
    data = np.ascontiguousarray(data)
    dtype = 1 if data.dtype == np.float32 else 0
    n = data.shape[0]
    m = 1 if data.ndim == 1 else data.shape[1]
    head = np.array([mode, dtype, n, m, k, int(largest), int(exclude_self), threads], "<i8")
    inp, out = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    with open(inp, "wb") as f:
        f.write(head.tobytes())
        f.write(data.tobytes())
    subprocess.run([DRIVER, inp, out], check=True)
    with open(out, "rb") as f:
        raw = f.read()
    code = struct.unpack("<q", raw[:8])[0]
    if code != 0:
        return code, raw[8:].decode(), None
    count = k if mode == MODE_VALUES else n * k
    idx = np.frombuffer(raw, "<i8", count, 8)
    val = np.frombuffer(raw, "<f8", count, 8 + 8 * count)
    if mode != MODE_VALUES:
        idx, val = idx.reshape(n, k), val.reshape(n, k)
    return code, idx, val


def check(ok, what):
    global failures, passes
    if ok:
        passes += 1
    else:
        failures += 1
        print("FAIL:", what)


def same_values(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def ref_order(x, largest):
    return np.argsort(-x if largest else x, kind="stable")


# ---- values ------------------------------------------------------------------------------
rng = np.random.default_rng(20240607)
specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0])
value_sets = {
    "uniform": rng.random(100_000),
    "uniform-small": rng.standard_normal(1000),
    "ties": rng.integers(0, 5, 50_000).astype(np.float64),
    "specials": rng.choice(specials, 20_000),
    "nan-heavy": np.where(rng.random(200_000) < 0.5, np.nan, rng.random(200_000)),
    "one": np.array([3.5]),
    "descending": np.arange(300_000, 0, -1, dtype=np.float64),
}
for name, x in value_sets.items():
    n = len(x)
    for k in sorted({0, 1, min(10, n), min(1000, n), n // 2, n}):
        for largest in (False, True):
            for dt in (np.float64, np.float32):
                xs = x.astype(dt)
                code, idx, val = run(MODE_VALUES, xs, k, largest, threads=3)
                want = ref_order(xs, largest)[:k]
                what = f"values {name} {np.dtype(dt).name} k={k} largest={largest}"
                check(code == 0 and np.array_equal(idx, want), what + " indices")
                check(code == 0 and same_values(val, xs[want]), what + " values")
code, detail, _ = run(MODE_VALUES, np.zeros(5), 6)
check(code == ERROR_UNPROCESSABLE and "maximum k is 5" in detail, "values k > n: " + str(detail))

# ---- rows --------------------------------------------------------------------------------
row_sets = {
    "uniform": rng.random((300, 300)),
    "ties": rng.integers(0, 4, (257, 257)).astype(np.float64),
    "specials": rng.choice(specials, (120, 120)),
    # a distance matrix: zero diagonal, duplicated points give other zeros in the row
    "distances": np.linalg.norm(
        rng.integers(0, 6, (200, 2))[:, None, :] - rng.integers(0, 6, (200, 2))[None, :, :],
        axis=2),
}
for name, x in row_sets.items():
    n = x.shape[0]
    for k in (1, 5, 10, n // 3, n - 1):
        for largest in (False, True):
            for excl in (False, True):
                code, idx, val = run(MODE_ROWS, x, k, largest, excl, threads=3)
                want = np.empty((n, k), np.int64)
                for i in range(n):
                    cols = np.delete(np.arange(n), i) if excl else np.arange(n)
                    want[i] = cols[ref_order(x[i, cols], largest)[:k]]
                what = f"rows {name} k={k} largest={largest} exclude_self={excl}"
                check(code == 0 and np.array_equal(idx, want), what + " indices")
                check(code == 0 and same_values(val, np.take_along_axis(x, want, 1)),
                      what + " values")
code, detail, _ = run(MODE_ROWS, np.zeros((3, 4)), 1, exclude_self=True)
check(code == ERROR_UNPROCESSABLE and "square" in detail, "rows non-square: " + str(detail))
code, detail, _ = run(MODE_ROWS, np.zeros((4, 4)), 4, exclude_self=True)
check(code == ERROR_UNPROCESSABLE and "maximum k is 3" in detail, "rows k: " + str(detail))

# the seed's np.argpartition(d, k+1)[1:k+1] on rows of a random distance-like matrix
x = row_sets["uniform"]
k = 5
code, idx, _ = run(MODE_ROWS, x, k, exclude_self=True)
seed = np.array([np.argpartition(x[i], k + 1)[1:k + 1] for i in range(len(x))])
seed_bad = sum(set(seed[i]) != set(idx[i]) for i in range(len(x)))
print(f"seed argpartition(d, k+1)[1:k+1] differs from exclude-by-index in {seed_bad} of "
      f"{len(x)} rows")
check(seed_bad > len(x) // 2, "seed position-0 assumption should usually be wrong")


# ---- points ------------------------------------------------------------------------------
def brute(p, k):
    """Exact neighbours, ties by index; d2 computed as the contract says."""
    d2 = (p[None, :, 0] - p[:, None, 0]) ** 2
    d2 = d2 + (p[None, :, 1] - p[:, None, 1]) ** 2
    if p.shape[1] == 3:
        d2 = d2 + (p[None, :, 2] - p[:, None, 2]) ** 2
    np.fill_diagonal(d2, np.inf)  # self excluded (inf sorts after every real distance)
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return order, np.sqrt(np.take_along_axis(d2, order, 1))


def clustered(n, dim):
    centres = rng.random((max(1, n // 500), dim)) * 1000
    return centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, dim)) * 0.7


def point_sets(n):
    t = rng.random(n)
    return {
        "uniform2": rng.random((n, 2)),
        "clustered2": clustered(n, 2),
        "duplicates2": rng.integers(0, 8, (n, 2)).astype(np.float64),
        "collinear2": np.stack([t, 3 * t - 1], axis=1),
        "uniform3": rng.random((n, 3)),
        "clustered3": clustered(n, 3),
        "duplicates3": rng.integers(0, 5, (n, 3)).astype(np.float64),
    }


for name, p in point_sets(1500).items():
    for k in (1, 10, 31):
        code, idx, dist = run(MODE_POINTS, p, k, threads=3)
        want, wdist = brute(p, k)
        what = f"points brute {name} k={k}"
        check(code == 0 and np.array_equal(idx, want), what + " indices")
        check(code == 0 and np.array_equal(dist, wdist), what + " distances")

for name, p in point_sets(60_000).items():
    k = 10
    code, idx, dist = run(MODE_POINTS, p, k, threads=2)
    # cKDTree: ask for two extra neighbours, drop the point itself by index (it need not be
    # first when it has duplicates), keep k + 1 to see whether the k-th is tied
    kd_dist, kd_idx = cKDTree(p).query(p, k=k + 2, workers=-1)
    first_kept = np.argsort(kd_idx == np.arange(len(p))[:, None], axis=1, kind="stable")
    kd_idx = np.take_along_axis(kd_idx, first_kept, 1)[:, :k + 1]
    kd_dist = np.take_along_axis(kd_dist, first_kept, 1)[:, :k + 1]
    what = f"points cKDTree {name}"
    check(code == 0 and np.allclose(dist, kd_dist[:, :k], rtol=1e-12, atol=0),
          what + " distances")
    # rows whose k + 1 nearest distances are all distinct have one right answer
    untied = np.all(np.diff(kd_dist, axis=1) > 0, axis=1)
    check(code == 0 and np.array_equal(idx[untied], kd_idx[untied, :k]),
          what + f" indices on {untied.sum()} untied rows")
    check(code == 0 and bool(np.all(np.diff(dist, axis=1) >= 0)), what + " sorted")

code, detail, _ = run(MODE_POINTS, np.zeros((4, 2)), 4)
check(code == ERROR_UNPROCESSABLE and "maximum k is 3" in detail, "points k: " + str(detail))
bad = np.zeros((5, 3))
bad[3, 1] = np.nan
code, detail, _ = run(MODE_POINTS, bad, 1)
check(code == 1 and "points[3]" in detail, "points NaN: " + str(detail))

print(f"diff_topk: {passes} passed, {failures} failed")
sys.exit(1 if failures or not passes else 0)
