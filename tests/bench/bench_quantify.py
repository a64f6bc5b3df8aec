#!/usr/bin/python3
"""bench_quantify.py - POST /quantify against the ways a pipeline computes the same table.

One run on the same data: a watershed label image (uint32) and C channels of uint16 (deflate
TIFFs, one per channel, strips of 64 rows), then
  (a) the mcquant way: tifffile.imread per channel and regionprops_table(mask, channel,
      intensity_mean) per channel, plus one regionprops_table for the shape, one thread;
  (b) the seed's pattern 4 "after": the reads in a ThreadPoolExecutor, then the same
      regionprops_table calls;
  (c) the floor: decoding the C + 1 files alone in C (bench_quantify decode) on the same
      threads as the server;
  Tessera: POST /quantify (Accept: text/csv) with --threads T, and the server's peak RSS
      (VmHWM) over the run.
Prints seconds and ratios; it does not pass or fail. The issue's size is
--size 8192 --channels 40 --cells 80000 (about 5 GB of files); smaller sizes run the same.

usage: bench_quantify.py TESSERA BENCH_QUANTIFY [--size N] [--channels C] [--cells K]
                         [--threads T] [--dir DIR]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.measure import regionprops_table
from skimage.segmentation import watershed

SHAPE = ("label", "centroid", "area", "major_axis_length", "minor_axis_length",
         "eccentricity", "solidity", "extent", "orientation")


def make_data(folder, size, channels, cells, rng):
    markers = np.zeros((size, size), np.int32)
    markers[rng.integers(0, size, cells), rng.integers(0, size, cells)] = np.arange(1, cells + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    lab = watershed(dist, markers).astype(np.uint32)
    lab[dist > size / np.sqrt(cells) * 0.45] = 0
    tifffile.imwrite(os.path.join(folder, "cells.tif"), lab, compression="zlib", rowsperstrip=64)
    level = rng.integers(100, 20000, cells + 1).astype(np.float32)
    for c in range(channels):
        img = level[lab] * (0.5 + (c % 7) / 7) + rng.normal(0, 200, lab.shape).astype(np.float32)
        tifffile.imwrite(os.path.join(folder, f"ch{c:02d}.tif"),
                         np.clip(img, 0, 65535).astype(np.uint16), compression="zlib",
                         rowsperstrip=64)
        rng.shuffle(level[1:])
    return lab


def mcquant_way(folder, channels, pool=None):
    t0 = time.perf_counter()
    mask = tifffile.imread(os.path.join(folder, "cells.tif"))
    names = [os.path.join(folder, f"ch{c:02d}.tif") for c in range(channels)]
    images = list(pool.map(tifffile.imread, names)) if pool else [tifffile.imread(n) for n in names]
    table = {}
    for c, img in enumerate(images):
        table[f"ch{c:02d}"] = regionprops_table(mask, img, properties=("intensity_mean",))[
            "intensity_mean"]
    table.update(regionprops_table(mask, properties=SHAPE))
    return time.perf_counter() - t0


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tessera")
    ap.add_argument("bench_quantify")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--channels", type=int, default=40)
    ap.add_argument("--cells", type=int, default=80000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        t0 = time.perf_counter()
        make_data(root, args.size, args.channels, args.cells, rng)
        print(f"data: {args.size}^2, {args.channels} uint16 channels, {args.cells} cells "
              f"({time.perf_counter() - t0:.1f} s to write); load: {os.getloadavg()}")
        files = [os.path.join(root, "cells.tif")] + [
            os.path.join(root, f"ch{c:02d}.tif") for c in range(args.channels)]
        floor = subprocess.run([args.bench_quantify, "decode", str(args.threads), *files],
                               capture_output=True, text=True, check=True).stdout.split()
        floor_s = float(floor[1])

        proc = subprocess.Popen([args.tessera, "--root", root, "--port", "0", "--threads",
                                 str(args.threads), "--request-timeout", "3600000"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        port = json.loads(proc.stdout.readline())["port"]
        body = json.dumps({"labels": "cells.tif",
                           "channels": [f"ch{c:02d}.tif" for c in range(args.channels)]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/quantify", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "text/csv"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=3600) as r:
            csv = r.read()
        tessera_s = time.perf_counter() - t0
        rss = vm_hwm(proc.pid)
        proc.terminate()
        proc.wait()

        a_s = mcquant_way(root, args.channels)
        with ThreadPoolExecutor(args.threads) as pool:
            b_s = mcquant_way(root, args.channels, pool)
        rows = csv.count(b"\n") - 1
        print(f"rows: {rows}")
        print(f"{'way':44s} {'seconds':>9s} {'tessera is':>12s}")
        for name, s in (("(a) mcquant: imread + regionprops, 1 thread", a_s),
                        (f"(b) pattern 4: ThreadPool({args.threads}) reads + regionprops", b_s),
                        (f"(c) floor: decode the files in C, {args.threads} threads", floor_s)):
            print(f"{name:44s} {s:9.2f} {s / tessera_s:11.2f}x")
        print(f"{'tessera POST /quantify (CSV)':44s} {tessera_s:9.2f}")
        print(f"server peak RSS {rss:.0f} MiB; load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
