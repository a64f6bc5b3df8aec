#!/usr/bin/python3
"""bench_wholeslide.py TESSERA_BINARY [--size 40960] [--cells 1600000] [--keep DIR]

A whole-slide pair as pipelines write them, counted over HTTP with the server's default
limits. Not part of ctest: it writes two uint32 TIFFs of SIZE x SIZE (512 x 512 deflate
tiles; 40,960^2 is 6.7 GB decoded each, ~1-2 GB on disk) and needs ~1 GB of server memory.

The labels are generated one row of tiles at a time, so Python holds one 512-row band:
cells are rectangles of random size on a jittered grid (about --cells of them), label
values unique across the slide; the prediction is the truth with each cell's box shrunk or
grown by a pixel, every 7th cell split in two and every 11th dropped, relabelled by a fixed
odd multiplier. Prints, in one run: the load average, the time of POST /overlap (JSON, and
the pairs as .npy with Accept: application/x-npy), the answer sizes, the server's peak RSS
(VmHWM) after each, and the client's load time (json.loads vs np.load).
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import tifffile

TILE = 512


def band_tiles(size, cells, seed, pred):
    """Yield the tiles of the slide in row-major order, one 512-row band at a time."""
    pitch = max(8, int(size / np.sqrt(cells)))
    per_row = size // pitch
    rng_rows = np.random.default_rng(seed)
    row_seeds = rng_rows.integers(0, 2**63, size // pitch + 2)
    for y0 in range(0, size, TILE):
        band = np.zeros((TILE, size), np.uint32)
        for gy in range(y0 // pitch, min((y0 + TILE) // pitch + 1, size // pitch)):
            rng = np.random.default_rng(int(row_seeds[gy]))
            w = rng.integers(pitch // 2, pitch - 1, per_row)
            h = rng.integers(pitch // 2, pitch - 1, per_row)
            for gx in range(per_row):
                label = gy * per_row + gx + 1
                ya, xa = gy * pitch, gx * pitch
                hh, ww = int(h[gx]), int(w[gx])
                if pred:
                    if label % 11 == 0:
                        continue
                    hh += 1 if label % 2 else -1
                    value = (label * 2654435761) & 0x7FFFFFFF or 1
                else:
                    value = label
                lo, hi = max(ya, y0), min(ya + hh, y0 + TILE)
                if lo >= hi:
                    continue
                band[lo - y0:hi - y0, xa:xa + ww] = value
                if pred and label % 7 == 0:  # split: the right half is a new cell
                    band[lo - y0:hi - y0, xa + ww // 2:xa + ww] = value ^ 0x40000000
        for x0 in range(0, size, TILE):
            yield band[:, x0:x0 + TILE]


def write(path, size, cells, pred):
    tifffile.imwrite(path, band_tiles(size, cells, 22, pred), shape=(size, size),
                     dtype=np.uint32, tile=(TILE, TILE), compression="zlib", bigtiff=True)


def vmhwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


def post(port, body, accept):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/overlap", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Accept": accept})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=3600) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    return status, raw, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--size", type=int, default=40960)
    ap.add_argument("--cells", type=int, default=1600000)
    ap.add_argument("--keep")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="tessera-wholeslide-")
    os.makedirs(root, exist_ok=True)
    try:
        for name, pred in (("truth.tif", False), ("pred.tif", True)):
            path = os.path.join(root, name)
            if not os.path.exists(path):
                t0 = time.perf_counter()
                write(path, args.size, args.cells, pred)
                print(f"wrote {name}: {os.path.getsize(path) / 1e6:.0f} MB in "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
        proc = subprocess.Popen([args.binary, "--root", root, "--port", "0",
                                 "--access-log=false"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        port = json.loads(proc.stdout.readline())["port"]
        print(f"load average: {os.getloadavg()}")
        body = {"a": "truth.tif", "b": "pred.tif", "iou": True}
        status, raw, secs = post(port, body, "application/json")
        t0 = time.perf_counter()
        doc = json.loads(raw) if status == 200 else {}
        json_load = time.perf_counter() - t0
        print(f"JSON: status {status}, {secs:.2f} s, {len(raw) / 1e6:.1f} MB, "
              f"{len(doc.get('pairs', {}).get('a', []))} pairs, json.loads {json_load:.2f} s, "
              f"server peak RSS {vmhwm(proc.pid):.0f} MB")
        if status != 200:
            print(raw[:300].decode(errors="replace"))
        del doc
        status, raw, secs = post(port, body, "application/x-npy")
        t0 = time.perf_counter()
        arr = np.load(io.BytesIO(raw)) if status == 200 else np.zeros(0)
        npy_load = time.perf_counter() - t0
        print(f".npy: status {status}, {secs:.2f} s, {len(raw) / 1e6:.1f} MB, {arr.size} pairs, "
              f"np.load {npy_load:.3f} s, server peak RSS {vmhwm(proc.pid):.0f} MB")
        print(f"load average: {os.getloadavg()}")
        proc.terminate()
        proc.wait()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
