#!/usr/bin/python3
"""bench_inputs.py TESSERA_BINARY [--cases zarr2d,tiff3d] [--size 16384] [--chunk 1024]
                  [--depth 64] [--side 2048] [--threads 2] [--keep DIR]

End to end over HTTP, one case after the other in one run:

- zarr2d: POST /overlap on a pair of 2-D uint32 Zarr v2 arrays (blosc-zstd, byte shuffle,
  chunks of --chunk x --chunk) written by zarr-python, against reading both arrays with
  zarr and counting with np.unique on the combined 64-bit key (the numpy way).
- tiff3d: POST /overlap with "volume": true on a pair of --depth x --side x --side uint32
  TIFF stacks (one deflate-compressed page per slice) written by tifffile, against
  tifffile.imread of both stacks and the same np.unique.

Both answers are checked to be equal. Prints, per case, the median of three runs of each,
the server's peak RSS (VmHWM of /proc/PID/status, a fresh server per case: the loader holds
threads x a band, not the arrays), and /proc/loadavg before and after (the machine may be
shared).

The issue's figures are --size 16384 --chunk 1024 (two 1 GiB arrays, 256 chunks each) and
--depth 64 --side 2048 (two 1 GiB stacks); the numpy side then needs ~6 GiB of memory.
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
import urllib.request

import numcodecs
import numpy as np
import tifffile
import zarr


def labels(size, shift=0):
    """Square cells of 61 x 61 pixels, each its own label; shift moves the grid (the
    prediction), so every cell overlaps four others."""
    y = np.arange(size, dtype=np.uint64)[:, None]
    x = np.arange(size, dtype=np.uint64)[None, :]
    cell = ((y + shift) // 61) * np.uint64(size // 61 + 1) + (x + shift) // 61
    return (cell % np.uint64(4_000_000_000)).astype(np.uint32)


def write(root, name, arr, chunk):
    z = zarr.open(os.path.join(root, name), mode="w", shape=arr.shape, chunks=(chunk, chunk),
                  dtype="<u4", compressor=numcodecs.Blosc("zstd", 3, numcodecs.Blosc.SHUFFLE))
    z[...] = arr


def labels3d(depth, side, shift=0):
    """The 2-D cells of labels(), cut every 9 slices along z (shifted by shift // 3 for the
    prediction), so a cell is a 61 x 61 x 9 box."""
    plane = labels(side, shift).astype(np.uint64)
    z = (np.arange(depth, dtype=np.uint64) + np.uint64(shift // 3)) // np.uint64(9)
    cells = plane[None, :, :] * np.uint64(depth // 9 + 2) + z[:, None, None]
    return (cells % np.uint64(4_000_000_000)).astype(np.uint32)


def write_tiff(root, name, arr):
    tifffile.imwrite(os.path.join(root, name), arr, compression="zlib",
                     photometric="minisblack", metadata=None)


def unique_pairs(a, b):
    a = a.ravel().astype(np.uint64)
    b = b.ravel().astype(np.uint64)
    keys, counts = np.unique((a << np.uint64(32)) | b, return_counts=True)
    return keys >> np.uint64(32), keys & np.uint64(0xFFFFFFFF), counts


def numpy_zarr(root):
    return unique_pairs(zarr.open(os.path.join(root, "a.zarr"))[...],
                        zarr.open(os.path.join(root, "b.zarr"))[...])


def numpy_tiff(root):
    return unique_pairs(tifffile.imread(os.path.join(root, "a.tif")),
                        tifffile.imread(os.path.join(root, "b.tif")))


def peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().strip()


def run_case(binary, root, threads, body, numpy_way):
    """Median seconds of three /overlap requests and of three numpy runs, the server's
    peak RSS (MB) and at start, and whether the answers agree."""
    proc = subprocess.Popen([binary, "--root", root, "--port", "0", "--threads",
                             str(threads), "--max-pairs", "100000000",
                             "--access-log=false"], stdout=subprocess.PIPE)
    port = json.loads(proc.stdout.readline())["port"]
    data = json.dumps(body).encode()
    server_s, numpy_s, got = [], [], None
    try:
        base_mb = peak_mb(proc.pid)
        for _ in range(3):
            t0 = time.perf_counter()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/overlap", data=data,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=600) as r:
                got = json.loads(r.read())
            server_s.append(time.perf_counter() - t0)
        server_mb = peak_mb(proc.pid)
        for _ in range(3):
            t0 = time.perf_counter()
            want = numpy_way(root)
            numpy_s.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    ok = (got["pairs"]["a"] == want[0].tolist() and got["pairs"]["b"] == want[1].tolist()
          and got["pairs"]["count"] == want[2].tolist())
    return statistics.median(server_s), statistics.median(numpy_s), server_mb, base_mb, ok, \
        len(got["pairs"]["a"])


def report(title, threads, nbytes, result, load_before):
    ms, mn, server_mb, base_mb, ok, pairs = result
    print(f"{title}, {pairs} pairs, answers equal: {ok}")
    print(f"  /overlap over HTTP ({threads} threads): {ms * 1e3:9.0f} ms")
    print(f"  read + np.unique:                 {mn * 1e3:9.0f} ms  ({mn / ms:.1f}x slower)")
    print(f"  server peak RSS: {server_mb:.0f} MB (at start {base_mb:.0f} MB); arrays are "
          f"{2 * nbytes / 2**20:.0f} MB")
    print(f"  loadavg before: {load_before}; after: {loadavg()}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--cases", default="zarr2d,tiff3d")
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=64)
    ap.add_argument("--side", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep")
    args = ap.parse_args()
    cases = args.cases.split(",")
    if any(c not in ("zarr2d", "tiff3d") for c in cases):
        ap.error("--cases takes zarr2d and tiff3d")
    tmp = args.keep or tempfile.mkdtemp(prefix="tessera-bench-inputs-")
    ok = True
    if "zarr2d" in cases:
        root = os.path.join(tmp, "root")
        os.makedirs(root, exist_ok=True)
        if not os.path.exists(os.path.join(root, "b.zarr")):
            write(root, "a.zarr", labels(args.size), args.chunk)
            write(root, "b.zarr", labels(args.size, shift=7), args.chunk)
        before = loadavg()
        result = run_case(args.binary, root, args.threads, {"a": "a.zarr", "b": "b.zarr"},
                          numpy_zarr)
        ok &= report(f"zarr2d: {args.size} x {args.size} uint32, blosc-zstd chunks "
                     f"{args.chunk}", args.threads, 4 * args.size * args.size, result, before)
    if "tiff3d" in cases:
        root = os.path.join(tmp, "root3d")
        os.makedirs(root, exist_ok=True)
        if not os.path.exists(os.path.join(root, "b.tif")):
            write_tiff(root, "a.tif", labels3d(args.depth, args.side))
            write_tiff(root, "b.tif", labels3d(args.depth, args.side, shift=7))
        before = loadavg()
        result = run_case(args.binary, root, args.threads,
                          {"a": "a.tif", "b": "b.tif", "volume": True}, numpy_tiff)
        ok &= report(f"tiff3d: {args.depth} x {args.side} x {args.side} uint32, deflate "
                     f"pages (tifffile)", args.threads, 4 * args.depth * args.side * args.side,
                     result, before)
    if not args.keep:
        shutil.rmtree(tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
