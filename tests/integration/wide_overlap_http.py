#!/usr/bin/python3
"""wide_overlap_http.py - whole-slide geometry with default limits, and the memory budget.

1. A server with no limit flags counts a wide tiled pair (40,960 x 1024 uint32, 512 x 512
   deflate tiles, as slide pipelines write them): one row of tiles is 84 MB, over the default
   64 MiB --max-decode-buffer, which used to be a 413; it must now be a 200 whose pairs equal
   np.unique on the combined (a, b) key exactly.
   The same pair asked with Accept: application/x-npy must be a .npy structured array
   (a, b, count as uint64) with the same rows, loaded by np.load.
2. A server with --max-request-memory=1M refuses a pair with ~65k distinct label pairs with a
   413 problem whose detail names the budget (max_request_memory) and its size in bytes, and
   still answers a small pair.

Usage: wide_overlap_http.py PATH/TO/tessera
"""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

import numpy as np
import tifffile

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


class Server:
    def __init__(self, binary, root, extra=()):
        self.log = open(os.path.join(root, "..", "server.log"), "ab")
        self.proc = subprocess.Popen([binary, "--root", root, "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=self.log)
        line = json.loads(self.proc.stdout.readline())
        if line.get("msg") != "listening":
            raise SystemExit(f"unexpected first line: {line!r}")
        self.port = line["port"]
        self.reader = threading.Thread(target=lambda: [None for _ in self.proc.stdout],
                                       daemon=True)
        self.reader.start()

    def post(self, obj):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/overlap",
                                     data=json.dumps(obj).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def post_npy(self, obj):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/overlap",
                                     data=json.dumps(obj).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/x-npy"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.headers.get("Content-Type"), r.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.reader.join(timeout=5)
        self.log.close()
        if rc != 0:
            fail(f"server exit code {rc} after SIGTERM")


def wide_pair(height, width, rng):
    """Rectangular cells on a coarse grid (few cells, long runs), b shifted and relabelled."""
    a = np.zeros((height, width), np.uint32)
    n = 0
    for y in range(0, height - 40, 97):
        for x in range(0, width - 60, 211):
            n += 1
            h, w = (int(v) for v in rng.integers(20, 90, 2))
            a[y + 3:y + 3 + h, x + 5:x + 5 + 3 * w] = n
    b = np.roll(a, (2, -7), axis=(0, 1))
    perm = np.concatenate([[0], rng.permutation(n) + 1]).astype(np.uint32)
    b = perm[b]
    b[:, width // 3:width // 3 + 300] = n + 1  # a band across tile boundaries
    return a, b


def reference(a, b):
    key = (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)
    u, c = np.unique(key, return_counts=True)
    return (u >> np.uint64(32)).astype(np.uint64), (u & np.uint64(0xFFFFFFFF)), c


def check_pairs(what, body, a, b):
    ra, rb, rc = reference(a, b)
    p = body.get("pairs", {})
    ga, gb, gc = (np.array(p.get(k, []), np.uint64) for k in ("a", "b", "count"))
    if not (ga.size == ra.size and (ga == ra).all() and (gb == rb).all() and (gc == rc).all()):
        fail(f"{what}: pairs differ from np.unique ({ga.size} vs {ra.size} rows)")


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="tessera-wide-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    rng = np.random.default_rng(22)
    try:
        a, b = wide_pair(1024, 40960, rng)
        for name, im in (("wa.tif", a), ("wb.tif", b)):
            tifffile.imwrite(os.path.join(root, name), im, tile=(512, 512), compression="zlib")
        # many distinct pairs: 256 x 256 unique labels against a constant image
        uniq = np.arange(1, 256 * 256 + 1, dtype=np.uint32).reshape(256, 256)
        tifffile.imwrite(os.path.join(root, "uniq.tif"), uniq, compression="zlib")
        tifffile.imwrite(os.path.join(root, "ones.tif"), np.ones_like(uniq), compression="zlib")
        small = np.zeros((64, 64), np.uint32)
        small[10:30, 10:40] = 3
        tifffile.imwrite(os.path.join(root, "small.tif"), small)

        s = Server(binary, root)
        status, body = s.post({"a": "wa.tif", "b": "wb.tif"})
        if status != 200:
            fail(f"wide tiled pair with default limits: {status} {body.get('detail')}")
        else:
            if body.get("width") != 40960 or body.get("height") != 1024:
                fail(f"wide pair: shape {body.get('height')} x {body.get('width')}")
            check_pairs("wide pair", body, a, b)
            print(f"wide pair: 200, {len(body['pairs']['a'])} pairs")
        status, ctype, raw = s.post_npy({"a": "wa.tif", "b": "wb.tif"})
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
        if status != 200 or ctype != "application/x-npy" or arr.dtype.names != ("a", "b", "count"):
            fail(f"wide pair as .npy: {status} {ctype} {arr.dtype}")
        else:
            check_pairs("wide pair as .npy", {"pairs": {k: arr[k] for k in arr.dtype.names}}, a, b)
            print(f"wide pair as .npy: {len(raw)} bytes, {arr.size} rows")
        s.stop()

        s = Server(binary, root, ["--max-request-memory=1M"])
        status, body = s.post({"a": "uniq.tif", "b": "ones.tif"})
        detail = body.get("detail", "")
        if status != 413 or "max_request_memory" not in detail or "1048576" not in detail:
            fail(f"over the budget: {status} {detail!r}, want 413 naming max_request_memory")
        else:
            print(f"over the budget: 413: {detail}")
        status, body = s.post({"a": "small.tif", "b": "small.tif"})
        if status != 200:
            fail(f"small pair under a 1M budget: {status} {body.get('detail')}")
        else:
            check_pairs("small pair", body, small, small)
        s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)", file=sys.stderr)
        return 1
    print("wide_overlap_http: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
