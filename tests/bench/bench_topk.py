#!/usr/bin/python3
"""bench_topk.py BENCH_BINARY [--repeats N] [--threads N] [--keep DIR]

Top-k and k-NN, one run, the same data for every method (written to a temporary directory
and read by the C benchmark):
  values  float64 n = 10^4, 10^6, 10^7, k = 10 and 1000 (k smallest, ordered):
          core vs np.argsort (seed's "before"), np.argpartition (seed's "after", unordered),
          a correct np.argpartition + stable sort of the k, and np.sum (the memory floor).
  rows    5000 x 5000 distance matrix, k = 10, exclude_self: core vs a numpy per-row loop
          (the seed's argpartition(d, k+1)[1:k+1], and a correct exclude-by-index version),
          and np.argpartition over axis 1 in one call.
  points  10^5 and 10^6 2-D points, uniform and clustered, k = 10: core vs
          scipy cKDTree build + query(k + 1, workers=-1).
Core and references alternate, case by case, for --repeats rounds, so each ratio compares
runs made under the same machine load. Prints medians (ms) and ratios (reference time / core
time; > 1 means the core is faster).
Goals: n = 10^7, k = 10 >= 20x np.argpartition and within 2x of np.sum; rows >= 5x the numpy
loop; points >= 3x cKDTree on uniform, >= 1x on clustered.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

RNG = np.random.default_rng(11)
N_VALUES, N_ROWS, N_POINTS = 10_000_000, 5000, 1_000_000


def make_data(tmp):
    values = RNG.random(N_VALUES)
    rows = cdist(RNG.random((N_ROWS, 2)), RNG.random((N_ROWS, 2)))
    np.fill_diagonal(rows, 0.0)  # a distance matrix of points to themselves
    uniform = RNG.random((N_POINTS, 2))
    centres = RNG.random((1000, 2))
    clustered = centres[RNG.integers(0, 1000, N_POINTS)] + RNG.normal(0, 0.002, (N_POINTS, 2))
    for name, a in (("values", values), ("rows", rows), ("points_uniform", uniform),
                    ("points_clustered", clustered)):
        np.ascontiguousarray(a, np.float64).tofile(os.path.join(tmp, name + ".f64"))
    return values, rows, uniform, clustered


class Timer:
    """One sample per call: ms per call, averaged over enough calls to last ~5 ms (the count
    is fixed on the first, warm-up call)."""

    def __init__(self, fn):
        self.fn = fn
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        self.inner = int(0.005 / once) + 1 if once < 0.005 else 1

    def sample(self):
        t0 = time.perf_counter()
        for _ in range(self.inner):
            self.fn()
        return (time.perf_counter() - t0) / self.inner * 1e3


def argpartition_sorted(x, k):
    p = np.argpartition(x, k - 1)[:k]
    return p[np.lexsort((p, x[p]))]


def rows_seed_loop(d, k):
    return [np.argpartition(d[i], k + 1)[1:k + 1] for i in range(len(d))]


def rows_correct_loop(d, k):
    out = np.empty((len(d), k), np.int64)
    for i in range(len(d)):
        row = d[i].copy()
        row[i] = np.inf
        p = np.argpartition(row, k)[:k]
        out[i] = p[np.lexsort((p, row[p]))]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", help="write the data here and keep it")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="bench_topk_")
    os.makedirs(tmp, exist_ok=True)
    try:
        run(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    rounds = args.repeats
    print(f"threads {args.threads}, rounds {rounds}, data in {tmp}", flush=True)
    values, rows, uniform, clustered = make_data(tmp)

    def core(case, repeats=1):
        out = subprocess.run([args.binary, tmp, str(args.threads), str(repeats), case],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["median_ms"]

    def measure(case, refs, core_repeats=1):
        """Alternate the core (its own process, data loaded outside the timing) and each
        reference, `rounds` times: every ratio compares runs made under the same load."""
        timers = [(name, Timer(fn)) for name, fn in refs]
        ours, theirs = [], {name: [] for name, _ in refs}
        for _ in range(rounds):
            ours.append(core(case, core_repeats))
            for name, t in timers:
                theirs[name].append(t.sample())
        for name, _ in refs:
            table.append((case, statistics.median(ours), name,
                          statistics.median(theirs[name])))
        print(f"  {case}: done", flush=True)

    table = []  # (case, ours ms, reference name, reference ms)
    for n in (10_000, 1_000_000, N_VALUES):
        x = values[:n]
        for k in (10, 1000):
            refs = [("np.argsort (seed before)", lambda x=x, k=k: np.argsort(x)[:k]),
                    ("np.argpartition (seed after)", lambda x=x, k=k: np.argpartition(x, k)[:k]),
                    ("argpartition+sort (correct)", lambda x=x, k=k: argpartition_sorted(x, k)),
                    ("np.sum (memory floor)", lambda x=x: np.sum(x))]
            measure(f"values n={n} k={k}", refs, 3)
    x = values
    measure(f"values n={N_VALUES} k=10 1thread",
            [("np.argpartition (seed after)", lambda: np.argpartition(x, 10)[:10]),
             ("np.sum (memory floor)", lambda: np.sum(x))], 3)
    measure(f"floor sum n={N_VALUES}", [("np.sum (memory floor)", lambda: np.sum(x))], 3)

    measure("rows 5000x5000 k=10 exclude_self",
            [("numpy loop, seed [1:k+1]", lambda: rows_seed_loop(rows, 10)),
             ("numpy loop, by index (correct)", lambda: rows_correct_loop(rows, 10)),
             ("np.argpartition axis=1 (seed, 1 call)",
              lambda: np.argpartition(rows, 11, axis=1)[:, 1:11])], 3)

    for name, pts in (("uniform", uniform), ("clustered", clustered)):
        for n in (100_000, N_POINTS):
            p = pts[:n]
            measure(f"points {name} n={n} k=10",
                    [("cKDTree build+query workers=-1",
                      lambda p=p: cKDTree(p).query(p, k=11, workers=-1))])
    p = uniform
    measure(f"points uniform n={N_POINTS} k=10 fresh-outputs",
            [("cKDTree build+query workers=-1", lambda: cKDTree(p).query(p, k=11, workers=-1))])

    print()
    print(f"{'case':44} {'ours ms':>9}  {'reference':40} {'ref ms':>9} {'ratio':>7}")
    for case, ours, ref, ms in table:
        print(f"{case:44} {ours:9.3f}  {ref:40} {ms:9.3f} {ms / ours:7.2f}")

    def ratio(case, ref_part):
        r = [r for r in table if r[0] == case and ref_part in r[2]][0]
        return r[3] / r[1]

    big = f"values n={N_VALUES} k=10"
    print("\ngoals:")
    print(f"  values 10^7 k=10 vs np.argpartition: {ratio(big, 'seed after'):.1f}x (goal >= 20)")
    print(f"  values 10^7 k=10 time / np.sum: {1 / ratio(big, 'np.sum'):.2f} (goal <= 2); "
          f"1 thread: {1 / ratio(big + ' 1thread', 'np.sum'):.2f}")
    rc = "rows 5000x5000 k=10 exclude_self"
    print(f"  rows vs numpy loop (correct): {ratio(rc, 'correct'):.1f}x, "
          f"(seed): {ratio(rc, 'seed [1:k+1]'):.1f}x (goal >= 5)")
    for name, goal in (("uniform", 3), ("clustered", 1)):
        for n in (100_000, N_POINTS):
            c = f"points {name} n={n} k=10"
            print(f"  {c} vs cKDTree: {ratio(c, 'cKDTree'):.1f}x (goal >= {goal})")


if __name__ == "__main__":
    main()
