#!/usr/bin/python3
"""bench_overlap.py BENCH_BINARY [--sizes 2048,8192] [--keep DIR]

Contingency counts of two uint32 label images, one run, same data for every method:
  core (1 and 2 threads), the seed's "after" (np.add.at into a dense table, where it fits),
  np.bincount on a combined index (where it fits), skimage.metrics.contingency_table, the best
  numpy sparse method (np.unique on a 64-bit key), and a plain read of both arrays (the
  memory floor, in C on the same threads, and numpy's a.max() + b.max() for reference).
Then decoding one 8192x8192 deflate TIFF (counted against itself, so decoded twice) with 2
threads vs 1, and streaming two such TIFFs through load_overlap vs tifffile.imread x2 +
skimage. Prints medians (ms) and ratios.
Goals at 8192x8192: >= 40x skimage, >= 15x best numpy, within 2.5x of the floor;
decode 2 threads >= 1.7x 1 thread.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.metrics import contingency_table

RNG = np.random.default_rng(7)
DENSE_LIMIT = 4 << 30  # bytes a dense table may take here


def cells(size, n, radius_factor=0.62):
    """Voronoi cells around n seeds, cut to a disk of radius_factor x the mean seed spacing
    (gaps = background; at 0.62 most neighbours still touch, at 0.45 most do not)."""
    markers = np.zeros((size, size), bool)
    ys = RNG.integers(0, size, n)
    xs = RNG.integers(0, size, n)
    markers[ys, xs] = True
    lab_at = np.zeros((size, size), np.uint32)
    lab_at[ys, xs] = np.arange(1, n + 1, dtype=np.uint32)
    dist, idx = ndi.distance_transform_edt(~markers, return_indices=True)
    lab = lab_at[idx[0], idx[1]]
    del idx
    radius = radius_factor * np.sqrt(size * size / n)
    lab[dist > radius] = 0
    return lab


def second(lab, n):
    """The other segmentation: shifted, relabelled by a permutation of 1..n."""
    out = np.roll(lab, (3, -2), axis=(0, 1))
    perm = np.concatenate([[0], RNG.permutation(n) + 1]).astype(np.uint32)
    return perm[out]


def timeit(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def bench_c(binary, *args):
    p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def run_size(binary, size, ncells, tmp, rows):
    print(f"\n== {size}x{size} uint32, {ncells} cells ==", flush=True)
    a = cells(size, ncells)
    b = second(a, ncells)
    ra, rb = os.path.join(tmp, f"a{size}.raw"), os.path.join(tmp, f"b{size}.raw")
    a.tofile(ra)
    b.tofile(rb)
    reps = 7 if size <= 2048 else 5
    slow_reps = 3 if size <= 2048 else 1
    res = {}
    for t in (1, 2):
        r = bench_c(binary, "count", ra, rb, t, reps)
        res[f"core, {t} thread{'s' if t > 1 else ''}"] = r["median_ms"]
        pairs = r["work"]
    for t in (1, 2):
        res[f"floor: plain read in C, {t} thread{'s' if t > 1 else ''}"] = bench_c(
            binary, "floor", ra, rb, t, reps)["median_ms"]
    res["floor: numpy a.max() + b.max()"] = timeit(lambda: (a.max(), b.max()), reps)

    ma, mb = int(a.max()) + 1, int(b.max()) + 1
    dense_bytes = ma * mb * 8
    if dense_bytes <= DENSE_LIMIT:
        def seed_after():
            overlap = np.zeros((ma, mb), dtype=np.int64)
            np.add.at(overlap, (a.ravel(), b.ravel()), 1)
            return overlap
        res["seed after: np.add.at dense"] = timeit(seed_after, slow_reps)
        res["np.bincount combined index"] = timeit(
            lambda: np.bincount(a.ravel().astype(np.int64) * mb + b.ravel(), minlength=ma * mb),
            slow_reps)
    else:
        print(f"  dense table would be {dense_bytes / 2**30:.0f} GiB: np.add.at and np.bincount "
              "skipped (do not fit)")
    res["skimage contingency_table"] = timeit(lambda: contingency_table(a, b), slow_reps)

    def numpy_sparse():
        key = (a.ravel().astype(np.uint64) << np.uint64(32)) | b.ravel()
        return np.unique(key, return_counts=True)
    res["numpy sparse: np.unique on 64-bit key"] = timeit(numpy_sparse, slow_reps)
    uk, _ = numpy_sparse()
    if len(uk) != pairs:
        print(f"  MISMATCH: core found {pairs} pairs, numpy {len(uk)}")

    core = res["core, 2 threads"]
    floor = res["floor: plain read in C, 2 threads"]
    print(f"  distinct pairs: {pairs}")
    print(f"  {'method':44s} {'median ms':>10s} {'core 2T is x faster':>20s}")
    for k, v in res.items():
        print(f"  {k:44s} {v:10.1f} {v / core:20.2f}")
    rows.append((size, res, pairs))
    print(f"  core / floor (2 threads): {core / floor:.2f}x  "
          f"(goal at 8192: <= 2.5)")
    print(f"  skimage / core: {res['skimage contingency_table'] / core:.1f}x (goal >= 40), "
          f"best numpy / core: {res['numpy sparse: np.unique on 64-bit key'] / core:.1f}x "
          "(goal >= 15)", flush=True)
    return a, b


def run_decode(binary, a, b, tmp):
    size = a.shape[0]
    print(f"\n== decoding {size}x{size} uint32 deflate TIFF (twice: load_overlap of it with "
          "itself) ==", flush=True)
    ta, tb = os.path.join(tmp, "a.tif"), os.path.join(tmp, "b.tif")
    tifffile.imwrite(ta, a, compression="zlib", rowsperstrip=64, photometric="minisblack")
    tifffile.imwrite(tb, b, compression="zlib", tile=(256, 256), photometric="minisblack")
    for path, what in ((ta, "strips of 64 rows"), (tb, "tiles 256x256")):
        d1 = bench_c(binary, "decode", path, 1, 5)["median_ms"]
        d2 = bench_c(binary, "decode", path, 2, 5)["median_ms"]
        print(f"  {what:20s} 1 thread {d1:8.1f} ms, 2 threads {d2:8.1f} ms: "
              f"{d1 / d2:.2f}x (goal >= 1.7)")
    py = timeit(lambda: contingency_table(tifffile.imread(ta), tifffile.imread(tb)), 1)
    for t in (1, 2):
        s = bench_c(binary, "stream", ta, tb, t, 3)["median_ms"]
        print(f"  load_overlap (decode both + count), {t} thread{'s' if t > 1 else ''}: "
              f"{s:8.1f} ms; tifffile.imread x2 + skimage: {py:8.1f} ms: {py / s:.1f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="2048,8192")
    ap.add_argument("--keep", default=None)
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="bench_overlap_")
    os.makedirs(tmp, exist_ok=True)
    rows = []
    try:
        last = None
        for size in map(int, args.sizes.split(",")):
            ncells = int(round(5000 * (size / 2048) ** 2))
            last = run_size(args.binary, size, ncells, tmp, rows)
        run_decode(args.binary, *last, tmp)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
