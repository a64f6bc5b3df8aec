#!/usr/bin/python3
"""diff_overlap_http.py - POST /overlap over real HTTP against numpy, on realistic label images.

Starts the real server (--port 0, the port read from its first stdout line "listening") over a
temporary data root, writes label images with tifffile (cells grown by scikit-image's watershed
from random seeds; the second image shifted, with cells split, merged, dropped, added and
relabelled) in uint8/16/32/64 and int32, strips and tiles, both byte orders, and re-encodes
some with tiffcp (LZW, deflate, zstd, PackBits, LZMA, with and without predictor). Then every
pair is sent as paths (one by one and as one batch) and as a multipart upload built by hand,
and compared with:
  - the contingency table: np.unique on the combined (a, b) key, exactly;
  - IoU per pair: count / (area_a + area_b - count), to 1e-15 relative;
  - the matching block: StarDist's `matching` (scipy's linear_sum_assignment on
    -(iou >= t) - iou / (2 n)) at thresholds 0.5 and 0.75;
  - the evaluation (references in tests/references.py, written from the published
    definitions): a sweep of thresholds 0.05 .. 1.0 under every criterion in both the exact
    and the float32 mode, with the matched pairs; AJI (cellpose), VI and adapted Rand
    (scikit-image, called directly); and a batch aggregated pooled and by image (StarDist's
    matching_dataset).
Finally SIGTERM must stop the server with exit code 0.

Usage: diff_overlap_http.py PATH/TO/tessera
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import tifffile
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment
from skimage.metrics import adapted_rand_error, variation_of_information
from skimage.segmentation import watershed

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import references  # noqa: E402

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


# --- label images -------------------------------------------------------------------------


def cells(shape, n, rng, radius=9):
    """Cells: watershed of the distance to random seeds, inside disks around the seeds."""
    seeds = np.zeros(shape, np.int32)
    ys = rng.integers(0, shape[0], n)
    xs = rng.integers(0, shape[1], n)
    seeds[ys, xs] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(seeds == 0)
    return watershed(dist, seeds, mask=dist < radius).astype(np.int64)


def derive(a, rng, n_new=5):
    """Prediction-like b: a shifted, some cells split, merged, dropped, new ones added."""
    b = np.zeros_like(a)
    dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
    h, w = a.shape
    b[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        a[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    labels = np.unique(b[b > 0])
    if labels.size == 0:
        return b
    top = int(labels.max())
    for lab in rng.choice(labels, size=min(4, labels.size), replace=False):  # split
        ys, xs = np.nonzero(b == lab)
        top += 1
        b[ys[xs > np.median(xs)], xs[xs > np.median(xs)]] = top
    for lab in rng.choice(labels, size=min(3, labels.size), replace=False):  # drop
        b[b == lab] = 0
    for _ in range(4):  # merge a cell into the cell at its right-hand side
        lab = int(rng.choice(labels))
        ys, xs = np.nonzero(b == lab)
        if ys.size:
            y, x = ys[0], min(xs.max() + 2, w - 1)
            if b[y, x] not in (0, lab):
                b[b == b[y, x]] = lab
    for _ in range(n_new):  # new cells
        y, x = (int(v) for v in rng.integers(0, [h, w]))
        top += 1
        b[y:y + 6, x:x + 5] = top
    return b


def tie_grid(rng):
    """8 x 8 cells on a grid whose partners in b have IoU exactly 0.5 (split in halves, or
    merged with a neighbour), exactly 0.75 (48 of 64 pixels), 1, or a little less than 0.75."""
    a = np.zeros((10 * 8, 10 * 13), np.int64)
    b = np.zeros_like(a)
    lab = 0
    for gy in range(8):
        for gx in range(12):
            y, x = 10 * gy, 10 * gx
            lab += 1
            a[y:y + 8, x:x + 8] = lab
            kind = int(rng.integers(0, 5))
            if kind == 0:
                b[y:y + 8, x:x + 4], b[y:y + 8, x + 4:x + 8] = 1000 + lab, 2000 + lab
            elif kind == 1:
                b[y:y + 6, x:x + 8] = 1000 + lab
            elif kind == 2:
                b[y:y + 8, x:x + 8] = 1000 + lab
            elif kind == 3:
                b[y:y + 6, x:x + 8] = 1000 + lab
                b[y + 8, x] = 1000 + lab  # one pixel outside: IoU 48/65
            else:
                b[y:y + 4, x:x + 8] = 1000 + lab
    # Merge: two 8 x 4 cells under one 8 x 8 cell of b, IoU 0.5 each.
    a[0:8, 120:124], a[0:8, 124:128] = 500, 501
    b[0:8, 120:128] = 3000
    return a, b


def relabel(img, rng, low, high):
    """Map the nonzero labels one-to-one onto random values in [low, high] (high inclusive)."""
    labels = np.unique(img[img > 0])
    if labels.size == 0:
        return img.astype(np.uint64)
    values = set()
    values.update({high, low})
    while len(values) < labels.size:
        values.add(int(rng.integers(low, high, endpoint=True, dtype=np.uint64)))
    values = np.array(sorted(values)[:labels.size], dtype=np.uint64)
    rng.shuffle(values)
    lut = np.concatenate([np.zeros(1, np.uint64), values])
    index = np.searchsorted(labels, img)  # position among the nonzero labels
    return np.where(img > 0, lut[np.minimum(index, labels.size - 1) + 1], np.uint64(0))


# --- writing files ------------------------------------------------------------------------


def write(root, name, arr, codec=None, tile=None, rows=None, big=False, tiffcp=None):
    """tifffile writes (codec None / zlib / lzma); tiffcp, when given its -c argument,
    re-encodes. Returns False when tiffcp lacks the codec."""
    path = os.path.join(root, name)
    kw = {"byteorder": ">" if big else "<", "photometric": "minisblack"}
    if tile:
        kw["tile"] = (tile, tile)
    elif rows:
        kw["rowsperstrip"] = rows
    if codec:
        kw["compression"] = codec
    if tiffcp is None:
        tifffile.imwrite(path, arr, **kw)
        return True
    tmp = path + ".src.tif"
    tifffile.imwrite(tmp, arr, byteorder="<", photometric="minisblack")
    args = ["tiffcp", "-B" if big else "-L", "-c", tiffcp]
    args += ["-t", "-w", str(tile), "-l", str(tile)] if tile else ["-s", "-r", str(rows or 8)]
    r = subprocess.run(args + [tmp, path], capture_output=True, text=True)
    os.unlink(tmp)
    if r.returncode != 0:
        fail(f"tiffcp -c {tiffcp} could not write {name}: {r.stderr.strip()[:120]}")
        return False
    return True


# --- the reference ------------------------------------------------------------------------


def contingency(a, b):
    """Sorted unique (a, b) pairs with counts, via np.unique on one combined key."""
    a = a.ravel().astype(np.uint64)
    b = b.ravel().astype(np.uint64)
    max_a, max_b = int(a.max(initial=0)), int(b.max(initial=0))
    if (max_a + 1) * (max_b + 1) <= 2**64:
        key = a * np.uint64(max_b + 1) + b
        keys, counts = np.unique(key, return_counts=True)
        return keys // np.uint64(max_b + 1), keys % np.uint64(max_b + 1), counts
    pair = np.empty(a.size, dtype=[("a", "<u8"), ("b", "<u8")])
    pair["a"], pair["b"] = a, b
    keys, counts = np.unique(pair, return_counts=True)  # sorted by (a, b)
    return keys["a"], keys["b"], counts


def areas(img):
    """Labels of img ascending (0 included when present) and their pixel counts."""
    return np.unique(img.ravel().astype(np.uint64), return_counts=True)


def safe_divide(x, y, eps=1e-10):
    return x / y if abs(y) > eps else 0.0


def stardist_matching(pa, pb, counts, iou, labels_a, labels_b, thresh):
    """StarDist's matching() (criterion 'iou') from the contingency table."""
    true = labels_a[labels_a != 0]
    pred = labels_b[labels_b != 0]
    keep = (pa != 0) & (pb != 0)
    scores = np.zeros((true.size, pred.size))
    scores[np.searchsorted(true, pa[keep]), np.searchsorted(pred, pb[keep])] = iou[keep]
    n_true, n_pred = scores.shape
    n_matched = min(n_true, n_pred)
    if n_matched > 0:
        costs = -(scores >= thresh).astype(float) - scores / (2 * n_matched)
        true_ind, pred_ind = linear_sum_assignment(costs)
        match_ok = scores[true_ind, pred_ind] >= thresh
        tp = int(np.count_nonzero(match_ok))
        sum_matched = float(np.sum(scores[true_ind, pred_ind][match_ok]))
    else:
        tp, sum_matched = 0, 0.0
    fp, fn = n_pred - tp, n_true - tp
    return {
        "criterion": "iou", "threshold": thresh, "tp": tp, "fp": fp, "fn": fn,
        "n_true": n_true, "n_pred": n_pred,
        "precision": safe_divide(tp, tp + fp),
        "recall": safe_divide(tp, tp + fn),
        "accuracy": safe_divide(tp, tp + fp + fn),
        "f1": safe_divide(2 * tp, 2 * tp + fp + fn),
        "mean_true_score": safe_divide(sum_matched, n_true),
        "mean_matched_score": safe_divide(sum_matched, tp),
        "mean_matched_iou": safe_divide(sum_matched, tp),
        "panoptic_quality": safe_divide(sum_matched, tp + fp / 2 + fn / 2),
    }


class Expected:
    def __init__(self, a, b):
        self.shape = a.shape
        self.pa, self.pb, self.counts = contingency(a, b)
        self.labels_a, area_a = areas(a)
        self.labels_b, area_b = areas(b)
        union = (area_a[np.searchsorted(self.labels_a, self.pa)] +
                 area_b[np.searchsorted(self.labels_b, self.pb)] - self.counts)
        self.iou = self.counts.astype(np.float64) / union.astype(np.float64)
        self.rows = {}
        self.matching = {}

    def answer(self, include_background, iou, threshold):
        if include_background not in self.rows:
            keep = slice(None) if include_background else (self.pa != 0) & (self.pb != 0)
            self.rows[include_background] = {
                "a": self.pa[keep].tolist(), "b": self.pb[keep].tolist(),
                "count": self.counts[keep].tolist(), "iou": self.iou[keep]}
        rows = self.rows[include_background]
        pairs = {k: rows[k] for k in ("a", "b", "count")}
        if iou:
            pairs["iou"] = rows["iou"]
        out = {"height": self.shape[0], "width": self.shape[1],
               "labels_a": int(np.count_nonzero(self.labels_a)),
               "labels_b": int(np.count_nonzero(self.labels_b)), "pairs": pairs}
        if threshold is not None:
            if threshold not in self.matching:
                self.matching[threshold] = stardist_matching(
                    self.pa, self.pb, self.counts, self.iou, self.labels_a, self.labels_b,
                    threshold)
            out["matching"] = self.matching[threshold]
        return out


def compare(what, got, want):
    if set(got) != set(want):
        return fail(f"{what}: keys {sorted(got)} != {sorted(want)}")
    for k in ("height", "width", "labels_a", "labels_b"):
        if got[k] != want[k]:
            fail(f"{what}: {k} {got[k]} != {want[k]}")
    gp, wp = got["pairs"], want["pairs"]
    if set(gp) != set(wp):
        return fail(f"{what}: pairs keys {sorted(gp)} != {sorted(wp)}")
    for k in ("a", "b", "count"):
        if gp[k] != wp[k]:
            n = next((i for i, (x, y) in enumerate(zip(gp[k], wp[k])) if x != y),
                     min(len(gp[k]), len(wp[k])))
            fail(f"{what}: pairs.{k} differs at row {n} (lengths {len(gp[k])}, {len(wp[k])}): "
                 f"got {gp[k][n:n + 3]}, want {wp[k][n:n + 3]}")
    if "iou" in wp:
        g, w = np.asarray(gp["iou"], float), np.asarray(wp["iou"], float)
        if g.shape != w.shape or not np.all(np.abs(g - w) <= 1e-15 * np.abs(w)):
            bad = np.nonzero(np.abs(g - w) > 1e-15 * np.abs(w))[0] if g.shape == w.shape else [0]
            fail(f"{what}: iou differs at {len(bad)} rows, first {bad[:3]}")
    if "matching" in want:
        gm, wm = got["matching"], want["matching"]
        if set(gm) != set(wm):
            return fail(f"{what}: matching keys {sorted(gm)} != {sorted(wm)}")
        for k in ("criterion", "threshold", "tp", "fp", "fn", "n_true", "n_pred"):
            if gm[k] != wm[k]:
                fail(f"{what}: matching.{k} {gm[k]} != {wm[k]}")
        for k in ("precision", "recall", "accuracy", "f1", "mean_true_score",
                  "mean_matched_score", "mean_matched_iou", "panoptic_quality"):
            if abs(gm[k] - wm[k]) > 1e-12 * max(1.0, abs(wm[k])):
                fail(f"{what}: matching.{k} {gm[k]!r} != {wm[k]!r}")


# --- the evaluation -----------------------------------------------------------------------

SWEEP = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]


class Reference:
    """The published definitions on one pair (tests/references.py, scikit-image)."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.ov, self.ida, self.idb, self.nt, self.npred = references.tables(a, b)
        self.cache = {}

    def matching(self, criterion, mode, t):
        key = (criterion, mode, t)
        if key not in self.cache:
            tp, fp, fn, total, matches = references.stardist(
                self.ov, self.nt, self.npred, criterion, t, mode, self.ida, self.idb)
            fields = references.matching_fields(tp, fp, fn, total, self.nt, self.npred)
            self.cache[key] = fields, matches
        return self.cache[key]

    def metrics(self):
        ra, _ = references.relabel(self.a)
        rb, _ = references.relabel(self.b)
        vi = variation_of_information(ra, rb, ignore_labels=())
        with np.errstate(all="ignore"):
            are = adapted_rand_error(ra, rb)
        return references.aji_ref(self.ov, self.nt, self.npred), vi, [float(v) for v in are]


def compare_matching(what, got, want, matches, ref, criterion, mode, t, exact_tol):
    keys = {"criterion", "threshold", *want, "mean_matched_iou"}
    if matches is not None:
        keys.add("matches")
    if set(got) != keys:
        return fail(f"{what}: keys {sorted(got)} != {sorted(keys)}")
    if got["criterion"] != criterion or got["threshold"] != t:
        fail(f"{what}: criterion / threshold {got['criterion']} {got['threshold']}")
    for k in references.COUNTS:
        if got[k] != want[k]:
            fail(f"{what}: {k} {got[k]} != {want[k]}")
    for k in references.RATIOS:
        if not references.rel_close(got[k], want[k], exact_tol):
            fail(f"{what}: {k} {got[k]!r} != {want[k]!r}")
    if got["mean_matched_iou"] != got["mean_matched_score"]:
        fail(f"{what}: mean_matched_iou is not mean_matched_score")
    if matches is None:
        return
    m = got["matches"]
    mine = sorted(zip(m["a"], m["b"], m["score"], m["tp"]))
    if [x[:2] for x in mine] != sorted(x[:2] for x in zip(m["a"], m["b"])):
        fail(f"{what}: matches not sorted by (a, b)")
    if sum(x[3] for x in mine) != want["tp"]:
        fail(f"{what}: {sum(x[3] for x in mine)} matches flagged tp, want {want['tp']}")
    if [(x[0], x[1], x[3]) for x in mine] != [(x[0], x[1], x[3]) for x in matches]:
        # Several assignments can be optimal: ours must cost as much as the reference's.
        got_cost = references.assignment_cost(ref.ov, mine, criterion, mode, t, ref.ida, ref.idb)
        want_cost = references.assignment_cost(ref.ov, matches, criterion, mode, t, ref.ida,
                                               ref.idb)
        if not references.rel_close(got_cost, want_cost, 1e-12):
            fail(f"{what}: the matched pairs are not an optimal assignment "
                 f"({got_cost!r} vs {want_cost!r})")
    for x in mine:
        w = next((y for y in matches if y[:2] == x[:2]), None)
        if w is not None and not references.rel_close(x[2], w[2], exact_tol):
            fail(f"{what}: score of {x[:2]} {x[2]!r} != {w[2]!r}")


def check_evaluation(server, cases):
    """Sweeps under every criterion and mode, metrics; returns the requests made."""
    n = 0
    for name, fa, fb, a, b in cases:
        if a.size >= 10**6:
            continue
        ref = Reference(a, b)
        aji, vi, are = ref.metrics()
        for criterion in ("iou", "iot", "iop"):
            for mode in ("exact", "float32"):
                status, got = server.post_json({
                    "a": fa, "b": fb, "include_background": False, "match_threshold": SWEEP,
                    "criterion": criterion, "stardist_float32": mode == "float32",
                    "report_matches": True, "metrics": ["aji", "vi", "adapted_rand"]})
                n += 1
                what = f"{name} {criterion} {mode}"
                if status != 200:
                    fail(f"{what}: status {status}: {str(got)[:300]}")
                    continue
                if not isinstance(got.get("matching"), list) or len(got["matching"]) != len(SWEEP):
                    fail(f"{what}: matching is not a list of {len(SWEEP)}")
                    continue
                tol = 1e-12 if mode == "exact" else 1e-6
                for t, gm in zip(SWEEP, got["matching"]):
                    want, matches = ref.matching(criterion, mode, t)
                    compare_matching(f"{what} t={t}", gm, want, matches, ref, criterion, mode, t,
                                     tol)
                m = got.get("metrics", {})
                if not references.rel_close(m.get("aji"), aji, 1e-12):
                    fail(f"{what}: aji {m.get('aji')!r} != {aji!r}")
                gvi = m.get("vi", {})
                if not (references.rel_close(gvi.get("h_pred_given_true"), vi[0], 1e-12) and
                        references.rel_close(gvi.get("h_true_given_pred"), vi[1], 1e-12)):
                    fail(f"{what}: vi {gvi} != {vi}")
                gar = m.get("adapted_rand", {})
                if not all(references.rel_close(gar.get(k), w, 1e-12)
                           for k, w in zip(("error", "precision", "recall"), are)):
                    fail(f"{what}: adapted_rand {gar} != {are}")
                if any(x == 0 for x in got["pairs"]["a"] + got["pairs"]["b"]):
                    fail(f"{what}: background rows listed with include_background false")
    return n


def check_dataset(server, cases):
    """A batch aggregated pooled and by image, a missing pair left out."""
    small = [c for c in cases if c[3].size < 10**6]
    pairs = [{"a": c[1], "b": c[2]} for c in small]
    pairs.insert(2, {"a": "no_such.tif", "b": small[0][2]})
    refs = [Reference(c[3], c[4]) for c in small]
    for by_image in (False, True):
        for criterion, mode in (("iou", "exact"), ("iop", "float32")):
            status, got = server.post_json({
                "pairs": pairs, "match_threshold": SWEEP, "criterion": criterion,
                "stardist_float32": mode == "float32",
                "aggregate": "by_image" if by_image else "pooled"})
            what = f"dataset by_image={by_image} {criterion} {mode}"
            if status != 200:
                fail(f"{what}: status {status}: {str(got)[:300]}")
                continue
            d = got.get("dataset", {})
            if d.get("images") != len(small) or d.get("aggregate") != (
                    "by_image" if by_image else "pooled"):
                fail(f"{what}: images / aggregate {d.get('images')} {d.get('aggregate')}")
            if len(d.get("matching", [])) != len(SWEEP):
                fail(f"{what}: dataset.matching is not a list of {len(SWEEP)}")
                continue
            tol = 1e-12 if mode == "exact" else 1e-6
            for t, gm in zip(SWEEP, d["matching"]):
                want = references.matching_dataset(
                    [r.matching(criterion, mode, t)[0] for r in refs], by_image)
                compare_matching(f"{what} t={t}", gm, want, None, None, criterion, mode, t, tol)
    return 4


# --- the server ---------------------------------------------------------------------------


class Server:
    def __init__(self, binary, root, extra=()):
        self.log = open(os.path.join(root, "..", "server-stderr.log"), "wb")
        self.proc = subprocess.Popen([binary, "--root", root, "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=self.log)
        first = self.proc.stdout.readline()
        line = json.loads(first)
        if line.get("msg") != "listening":
            raise SystemExit(f"unexpected first line: {first!r}")
        self.port = line["port"]
        self.lines = []
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def post(self, body, content_type):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/overlap", data=body,
                                     method="POST", headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def post_json(self, obj):
        return self.post(json.dumps(obj).encode(), "application/json")

    def post_multipart(self, parts):
        boundary = "----tessera" + os.urandom(12).hex()
        chunks = []
        for name, data, filename in parts:
            disp = f'Content-Disposition: form-data; name="{name}"'
            if filename:
                disp += f'; filename="{filename}"\r\nContent-Type: image/tiff'
            chunks += [b"--" + boundary.encode() + b"\r\n", disp.encode() + b"\r\n\r\n", data,
                       b"\r\n"]
        chunks.append(b"--" + boundary.encode() + b"--\r\n")
        return self.post(b"".join(chunks), f"multipart/form-data; boundary={boundary}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            fail("the server did not stop within 60 s of SIGTERM")
        self.reader.join(timeout=5)
        self.log.close()
        return rc


# --- the cases ----------------------------------------------------------------------------


def make_cases(root, rng):
    """[(name, file_a, file_b, a, b)] written under root."""
    cases = []

    def add(name, a, b, dtype, **kw):
        a, b = a.astype(dtype), b.astype(dtype)
        fa, fb = f"{name}_a.tif", f"{name}_b.tif"
        kw_b = dict(kw)
        if "tiffcp_b" in kw:
            kw_b["tiffcp"] = kw_b.pop("tiffcp_b")
            kw.pop("tiffcp_b")
        if write(root, fa, a, **kw) and write(root, fb, b, **kw_b):
            cases.append((name, fa, fb, a, b))

    a = cells((256, 256), 120, rng)
    add("u16_zlib_strips", a, derive(a, rng), np.uint16, codec="zlib", rows=7)
    a = cells((200, 300), 150, rng, radius=7)
    add("u16_be_tiles", a, derive(a, rng), np.uint16, tile=32, big=True)
    a = cells((97, 131), 40, rng)
    add("u8_lzw_strips", a, derive(a, rng), np.uint8, tiffcp="lzw", rows=5)
    a = cells((256, 200), 100, rng)
    a32, b32 = relabel(a, rng, 1, 2**32 - 1), relabel(derive(a, rng), rng, 1, 2**32 - 1)
    add("u32_lzma_tiles_be", a32, b32, np.uint32, codec="lzma", tile=48, big=True)
    add("u32_zstd_strips", a32, b32, np.uint32, tiffcp="zstd", rows=16, tiffcp_b="zstd:2")
    add("u32_deflate_pred_tiles", a32, b32, np.uint32, tiffcp="zip:2", tile=64, big=True)
    a = cells((180, 170), 90, rng)
    a64 = relabel(a, rng, 2**63 - 50, 2**64 - 1)
    b64 = relabel(derive(a, rng), rng, 2**32 - 1, 2**64 - 1)
    a64[0, :3] = [2**32 - 1, 2**63, 2**64 - 1]
    add("u64_lzw_tiles_be", a64, b64, np.uint64, tiffcp="lzw:2", tile=32, big=True)
    add("u64_packbits_strips", a64, b64, np.uint64, tiffcp="packbits", rows=3)
    a = cells((150, 160), 60, rng)
    add("i32_zlib_tiles", relabel(a, rng, 1, 2**31 - 1), relabel(derive(a, rng), rng, 1, 2**31 - 1),
        np.int32, codec="zlib", tile=16)
    # The same cells in both, relabelled: every cell matches with IoU 1.
    a = cells((120, 140), 50, rng)
    add("identical_relabelled", a, relabel(a, rng, 1000, 60000), np.uint16, rows=11)
    add("exact_ties", *tie_grid(rng), np.uint16, tile=16, big=True)
    # Incoherent random labels: short runs everywhere.
    add("random_u8", rng.integers(0, 25, (101, 77)), rng.integers(0, 30, (101, 77)), np.uint8,
        codec="zlib", rows=4)
    # Degenerate shapes and contents.
    add("one_pixel", np.array([[7]]), np.array([[9]]), np.uint16)
    add("one_row", rng.integers(0, 4, (1, 333)), rng.integers(0, 3, (1, 333)), np.uint32,
        codec="zlib")
    add("one_column", rng.integers(0, 4, (250, 1)), rng.integers(0, 3, (250, 1)), np.uint16,
        tiffcp="lzw", rows=9)
    add("all_background", np.zeros((40, 50)), np.zeros((40, 50)), np.uint16, tile=16)
    add("half_background", cells((64, 64), 10, rng), np.zeros((64, 64)), np.uint16)
    # Big: many strips/tiles for the parallel decoder; 10^6 distinct pairs.
    a = cells((1024, 1024), 1500, rng, radius=14)
    add("big_cells", relabel(a, rng, 1, 2**32 - 1), relabel(derive(a, rng, 50), rng, 1, 2**32 - 1),
        np.uint32, codec="zlib", tile=128)
    add("million_pairs", rng.integers(0, 2**32, (1000, 1000), dtype=np.uint64),
        rng.integers(0, 2**32, (1000, 1000), dtype=np.uint64), np.uint32, tiffcp="zip", rows=64)
    return cases


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    started = time.monotonic()
    rng = np.random.default_rng(20261124)
    tmp = tempfile.mkdtemp(prefix="tessera-diff-overlap-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    server = None
    try:
        cases = make_cases(root, rng)
        print(f"{len(cases)} cases written in {time.monotonic() - started:.1f} s")
        server = Server(binary, root, ["--threads", "2"])
        options = [(True, False, None), (False, True, 0.5), (True, True, 0.75),
                   (False, False, 0.75), (True, True, 0.5)]
        n_requests = 0
        for k, (name, fa, fb, a, b) in enumerate(cases):
            exp = Expected(a, b)
            case_started = time.monotonic()
            todo = options if a.size < 10**6 else options[1:3]
            if exp.labels_a.size > 5000:  # StarDist's dense n_true x n_pred matrix would not fit
                todo = [(False, True, None)]
            for bg, iou, t in todo:
                body = {"a": fa, "b": fb, "include_background": bg, "iou": iou}
                if t is not None:
                    body["match_threshold"] = t
                status, got = server.post_json(body)
                n_requests += 1
                what = f"{name} path bg={bg} iou={iou} t={t}"
                if status != 200:
                    fail(f"{what}: status {status}: {got}")
                    continue
                compare(what, got, exp.answer(bg, iou, t))
            # The upload form, with options as a part (or none: the defaults).
            bg, iou, t = todo[k % len(todo)]
            data_a = open(os.path.join(root, fa), "rb").read()
            data_b = open(os.path.join(root, fb), "rb").read()
            opts = {"include_background": bg, "iou": iou}
            if t is not None:
                opts["match_threshold"] = t
            parts = [("a", data_a, "a.tif"), ("b", data_b, "b.tif")]
            if k % 3:
                parts.append(("options", json.dumps(opts).encode(), None))
            else:
                bg, iou, t = True, False, None
            status, got = server.post_multipart(parts)
            n_requests += 1
            what = f"{name} multipart bg={bg} iou={iou} t={t}"
            if status != 200:
                fail(f"{what}: status {status}: {got}")
            else:
                compare(what, got, exp.answer(bg, iou, t))
            print(f"  {name}: {a.shape[0]} x {a.shape[1]} {a.dtype}, {len(exp.pa)} pairs, "
                  f"{len(todo) + 1} requests, {time.monotonic() - case_started:.1f} s")

        # Every small case as one batch (plus a missing file in the middle), in order.
        small = [c for c in cases if c[3].size < 10**6]
        pairs = [{"a": c[1], "b": c[2]} for c in small]
        pairs.insert(3, {"a": "no_such.tif", "b": small[0][2]})
        status, got = server.post_json({"pairs": pairs, "iou": True, "match_threshold": 0.5,
                                        "include_background": False})
        n_requests += 1
        if status != 200 or len(got.get("results", [])) != len(pairs):
            fail(f"batch: status {status}, {str(got)[:300]}")
        else:
            results = got["results"]
            missing = results.pop(3)
            if missing.get("error", {}).get("status") != 404 or set(missing) != {"a", "b", "error"}:
                fail(f"batch: the missing pair gave {missing}")
            for (name, fa, fb, a, b), res in zip(small, results):
                if (res.get("a"), res.get("b")) != (fa, fb):
                    fail(f"batch: result for {name} names {res.get('a')}, {res.get('b')}")
                    continue
                res = {k: v for k, v in res.items() if k not in ("a", "b")}
                compare(f"batch {name}", res, Expected(a, b).answer(False, True, 0.5))

        eval_started = time.monotonic()
        n_eval = check_evaluation(server, cases) + check_dataset(server, cases)
        n_requests += n_eval
        print(f"evaluation: {n_eval} requests, {time.monotonic() - eval_started:.1f} s")

        rc = server.stop()
        server = None
        if rc != 0:
            fail(f"the server exited with {rc} after SIGTERM")
        print(f"{len(cases)} cases, {n_requests} requests, {time.monotonic() - started:.1f} s")
    finally:
        if server is not None:
            server.proc.kill()
            server.proc.wait()
        try:
            with open(os.path.join(tmp, "server-stderr.log"), "rb") as f:
                stderr_tail = f.read()[-3000:].decode(errors="replace")
        except OSError:
            stderr_tail = ""
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        if stderr_tail:
            print("server stderr (tail):\n" + stderr_tail, file=sys.stderr)
        print(f"diff_overlap_http: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    print("diff_overlap_http: all equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
