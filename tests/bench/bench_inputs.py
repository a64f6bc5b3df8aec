#!/usr/bin/python3
"""bench_inputs.py TESSERA_BINARY [--size 16384] [--chunk 1024] [--threads 2] [--keep DIR]

End to end over HTTP: POST /overlap on a pair of 2-D uint32 Zarr v2 arrays (blosc-zstd,
byte shuffle, chunks of --chunk x --chunk) written by zarr-python, against reading both
arrays with zarr and counting with np.unique on the combined 64-bit key (the numpy way).
Both answers are checked to be equal. Prints the median of three runs of each, the
server's peak RSS (VmHWM of /proc/PID/status: the loader holds threads x a row of chunks,
not the arrays), and /proc/loadavg before and after (the machine may be shared).

The issue's figure is --size 16384 --chunk 1024 (two 1 GiB arrays, 256 chunks each); the
numpy side then needs ~6 GiB of memory.
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


def numpy_way(root):
    a = zarr.open(os.path.join(root, "a.zarr"))[...].ravel().astype(np.uint64)
    b = zarr.open(os.path.join(root, "b.zarr"))[...].ravel().astype(np.uint64)
    keys, counts = np.unique((a << np.uint64(32)) | b, return_counts=True)
    return keys >> np.uint64(32), keys & np.uint64(0xFFFFFFFF), counts


def peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="tessera-bench-inputs-")
    root = os.path.join(tmp, "root")
    os.makedirs(root, exist_ok=True)
    if not os.path.exists(os.path.join(root, "b.zarr")):
        write(root, "a.zarr", labels(args.size), args.chunk)
        write(root, "b.zarr", labels(args.size, shift=7), args.chunk)
    with open("/proc/loadavg") as f:
        load_before = f.read().strip()
    proc = subprocess.Popen([args.binary, "--root", root, "--port", "0", "--threads",
                             str(args.threads), "--max-pairs", "100000000",
                             "--access-log=false"], stdout=subprocess.PIPE)
    port = json.loads(proc.stdout.readline())["port"]
    body = json.dumps({"a": "a.zarr", "b": "b.zarr"}).encode()
    server_s, numpy_s, got = [], [], None
    try:
        base_mb = peak_mb(proc.pid)
        for _ in range(3):
            t0 = time.perf_counter()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/overlap", data=body,
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
    with open("/proc/loadavg") as f:
        load_after = f.read().strip()
    ms, mn = statistics.median(server_s), statistics.median(numpy_s)
    print(f"{args.size} x {args.size} uint32, chunks {args.chunk}, {len(got['pairs']['a'])} "
          f"pairs, answers equal: {ok}")
    print(f"  /overlap over HTTP ({args.threads} threads): {ms * 1e3:9.0f} ms")
    print(f"  zarr read + np.unique:            {mn * 1e3:9.0f} ms  ({mn / ms:.1f}x slower)")
    print(f"  server peak RSS: {server_mb:.0f} MB (at start {base_mb:.0f} MB); arrays are "
          f"{2 * 4 * args.size * args.size / 2**20:.0f} MB")
    print(f"  loadavg before: {load_before}; after: {load_after}")
    if not args.keep:
        shutil.rmtree(tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
