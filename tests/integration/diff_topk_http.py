#!/usr/bin/python3
"""Differential test of POST /topk over real HTTP against numpy and scipy.

Usage: diff_topk_http.py PATH/TO/tessera

Starts the real server on --port 0 (port read from its first stdout line, "listening"),
talks to it with urllib only, and compares every answer with a reference:

values  np.argsort(x, kind="stable")[:k] for the smallest; np.argsort(-x, kind="stable")[:k]
        for the largest (negation mirrors the order, keeps NaN last and -0.0 == 0.0).
        Random float64, small integers (many ties), NaN, +-inf, -0.0, sorted input, n = 1,
        k = 0, k = n. Indices exact, values exact (sign of zero included).
rows    the same per row; with exclude_self, column i is removed from row i by index first.
points  brute force with numpy (squared distances dx*dx + dy*dy [+ dz*dz] in that order,
        own index removed, stable sort: ties by lower index) on uniform, clustered,
        duplicate, collinear and 3-D sets; scipy.spatial.cKDTree on larger uniform sets.
        Indices exact, distances to 1e-12 relative.

Every case goes through JSON input (when the data has a JSON form: no infinities) and binary
input as float64 and float32, with JSON output and binary output (int64 indices then float64
values / distances, little-endian, parsed with numpy.frombuffer). Ends with SIGTERM and
checks the exit status is 0.
"""
import json
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
from scipy.spatial import cKDTree

BINARY = sys.argv[1]
failures = 0
passes = 0


def check(ok, what):
    """Count one comparison; what is the message, or a function making it (only on failure)."""
    global failures, passes
    if ok:
        passes += 1
    else:
        failures += 1
        if failures <= 30:
            print("FAIL: " + (what() if callable(what) else what), flush=True)


# ------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------


class Server:
    def __init__(self, root, args):
        self.proc = subprocess.Popen(
            [BINARY, "--root", root, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.port = None
        self.first = None
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        if not self.ready.wait(30) or self.port is None:
            self.proc.kill()
            raise SystemExit("server did not start: %r" % (self.first,))

    def _drain(self):
        # The first line is {"msg": "listening", "port": N, ...}; the access log follows and
        # must keep being read so the pipe never fills.
        for raw in self.proc.stdout:
            if not self.ready.is_set():
                self.first = raw
                try:
                    line = json.loads(raw)
                    if line.get("msg") == "listening":
                        self.port = int(line["port"])
                except ValueError:
                    pass
                self.ready.set()
        self.ready.set()

    def post(self, target, body, content_type, binary_out):
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, target), data=body, method="POST"
        )
        req.add_header("Content-Type", content_type)
        if binary_out:
            req.add_header("Accept", "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.reader.join(10)
        return code


# ------------------------------------------------------------------------------------------
# Sending one case every way, and comparing
# ------------------------------------------------------------------------------------------


def json_number(v):
    return None if np.isnan(v) else float(v)


def json_body(mode, data, k, largest, exclude_self):
    if data.ndim == 1:
        arr = [json_number(v) for v in data.tolist()]
    else:
        arr = [[json_number(v) for v in row] for row in data.tolist()]
    doc = {mode: arr, "k": int(k)}
    if largest:
        doc["largest"] = True
    if exclude_self:
        doc["exclude_self"] = True
    return json.dumps(doc, allow_nan=False).encode()


def same_values(got, want):
    """Exact, NaN equal to NaN, -0.0 distinct from 0.0."""
    return (
        got.shape == want.shape
        and np.array_equal(got, want, equal_nan=True)
        and np.array_equal(np.signbit(got), np.signbit(want))
    )


def first_diff(got, want):
    if got.shape != want.shape:
        return "%d entries, want %d" % (got.size, want.size)
    got, want = got.astype(np.float64), want.astype(np.float64)
    bad = np.argwhere(~((got == want) | (np.isnan(got) & np.isnan(want))))
    if len(bad) == 0:
        return "(sign of zero)"
    at = tuple(bad[0])
    return "first at %s: got %r, want %r" % (at, got[at], want[at])


def parse_answer(status, ctype, raw, binary_out, rows, k, field, nested):
    """(indices, values) as numpy arrays shaped like the reference, or a string on error."""
    if status != 200:
        return "status %d: %s" % (status, raw[:300])
    count = rows * k
    if binary_out:
        if ctype != "application/octet-stream":
            return "content type %r" % ctype
        if len(raw) != 16 * count:
            return "binary answer of %d bytes, want %d" % (len(raw), 16 * count)
        idx = np.frombuffer(raw, "<i8", count, 0)
        val = np.frombuffer(raw, "<f8", count, 8 * count)
        return idx, val
    if ctype != "application/json":
        return "content type %r" % ctype
    try:
        doc = json.loads(raw)
    except ValueError as e:
        return "not JSON (%s): %s" % (e, raw[:200])
    if not isinstance(doc, dict) or sorted(doc) != sorted(["indices", field]):
        return "keys %r" % sorted(doc)
    idx, val = doc["indices"], doc[field]
    for name, part in (("indices", idx), (field, val)):
        if nested:
            if not (isinstance(part, list) and len(part) == rows
                    and all(isinstance(r, list) and len(r) == k for r in part)):
                return "%s is not %d lists of %d" % (name, rows, k)
        elif not (isinstance(part, list) and len(part) == k):
            return "%s is not a list of %d" % (name, k)
    flat_i = [v for r in idx for v in r] if nested else idx
    flat_v = [v for r in val for v in r] if nested else val
    if not all(type(v) is int for v in flat_i):
        return "indices are not all JSON integers"
    if not all(v is None or type(v) in (int, float) for v in flat_v):
        return "%s are not all numbers or null" % field
    return (
        np.array(flat_i, dtype=np.int64).reshape(count),
        np.array([np.nan if v is None else float(v) for v in flat_v],
                 dtype=np.float64).reshape(count),
    )


def run_case(srv, what, mode, data, k, ref, largest=False, exclude_self=False,
             ways=("json", "float64", "float32"), both_outs=True, rel=None):
    """Send data every way in ways and compare with ref(dtype), the reference (indices,
    values) for the data as that dtype holds it. The answer comes back in both forms when
    both_outs, else in the input's own form (JSON for JSON, binary for binary)."""
    nested = mode != "values"
    rows = data.shape[0] if nested else 1
    field = "distances" if mode == "points" else "values"
    for way in ways:
        if way == "json":
            if np.isinf(data).any():
                continue
            body = json_body(mode, data, k, largest, exclude_self)
            target, ctype = "/topk", "application/json"
            wi, wv = ref(np.float64)
        else:
            dt = np.float64 if way == "float64" else np.float32
            with np.errstate(over="ignore"):
                body = np.ascontiguousarray(data, dtype=np.dtype(dt).newbyteorder("<")).tobytes()
            shape = str(data.shape[0]) if not nested else "%d,%d" % data.shape
            target = "/topk?mode=%s&k=%d&dtype=%s&shape=%s" % (mode, k, way, shape)
            if largest:
                target += "&largest=true"
            if exclude_self:
                target += "&exclude_self=true"
            ctype = "application/octet-stream"
            wi, wv = ref(dt)
        wi, wv = wi.ravel(), wv.ravel()
        for binary_out in (False, True) if both_outs else (way != "json",):
            tag = "%s [%s in, %s out, k=%d%s%s]" % (
                what, way, "binary" if binary_out else "json", k,
                ", largest" if largest else "", ", exclude_self" if exclude_self else "")
            status, rtype, raw = srv.post(target, body, ctype, binary_out)
            got = parse_answer(status, rtype, raw, binary_out, rows, k, field, nested)
            if isinstance(got, str):
                check(False, "%s: %s" % (tag, got))
                continue
            gi, gv = got
            want_v = wv
            if not binary_out:
                # JSON has no infinity: the server writes every non-finite value as null.
                want_v = np.where(np.isfinite(wv), wv, np.nan)
            check(np.array_equal(gi, wi),
                  lambda: "%s: indices differ, %s" % (tag, first_diff(gi, wi)))
            if rel is None:
                check(same_values(gv, want_v),
                      lambda: "%s: %s differ, %s" % (tag, field, first_diff(gv, want_v)))
            else:
                check(gv.shape == want_v.shape and np.allclose(gv, want_v, rtol=rel, atol=0),
                      lambda: "%s: %s differ beyond %g, %s"
                      % (tag, field, rel, first_diff(gv, want_v)))


# ------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------


def ref_values(x, k, largest):
    key = -x if largest else x
    idx = np.argsort(key, kind="stable")[:k]
    return idx.astype(np.int64), x[idx]


def keep_off_diagonal(n):
    """n x (n-1) column numbers: row i lists every column but i, in order."""
    j = np.arange(n - 1)[None, :]
    return j + (j >= np.arange(n)[:, None])


def ref_rows(m, k, largest, exclude_self):
    key = -m if largest else m
    if exclude_self:
        cols = keep_off_diagonal(m.shape[0])
        order = np.argsort(np.take_along_axis(key, cols, 1), axis=1, kind="stable")
        idx = np.take_along_axis(cols, order, 1)[:, :k]
    else:
        idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return idx.astype(np.int64), np.take_along_axis(m, idx, 1)


def ref_points(p, k):
    """Brute force: squared distances as the server computes them, self removed by index."""
    n, dim = p.shape
    d2 = np.zeros((n, n))
    for c in range(dim):
        dc = p[:, c][:, None] - p[:, c][None, :]
        d2 = d2 + dc * dc if c else dc * dc
    assert np.isfinite(d2).all()
    if n > 1:
        cols = keep_off_diagonal(n)
        sub = np.take_along_axis(d2, cols, 1)
        order = np.argsort(sub, axis=1, kind="stable")[:, :k]
        idx = np.take_along_axis(cols, order, 1)
        return idx.astype(np.int64), np.sqrt(np.take_along_axis(sub, order, 1))
    return np.zeros((n, 0), np.int64), np.zeros((n, 0))


def as_dtype(data, dt):
    with np.errstate(over="ignore"):
        return data.astype(dt).astype(np.float64)


def cached(fn):
    """ref(dtype) computed once per dtype."""
    memo = {}

    def ref(dt):
        if dt not in memo:
            memo[dt] = fn(dt)
        return memo[dt]

    return ref


# Each case sends its first k with both output forms, the other k in the input's own form.


def values_case(srv, what, x, ks, ways=("json", "float64", "float32")):
    for largest in (False, True):
        # One stable sort per dtype serves every k: the answer for k is its first k entries.
        full = cached(lambda dt: ref_values(as_dtype(x, dt), x.shape[0], largest))
        for i, k in enumerate(ks):
            run_case(srv, what, "values", x, k, lambda dt: tuple(a[:k] for a in full(dt)),
                     largest=largest, ways=ways, both_outs=i == 0)


def rows_case(srv, what, m, ks, exclude_self, ways=("json", "float64", "float32")):
    kmax = m.shape[1] - (1 if exclude_self else 0)
    for largest in (False, True):
        full = cached(lambda dt: ref_rows(as_dtype(m, dt), kmax, largest, exclude_self))
        for i, k in enumerate(ks):
            run_case(srv, what, "rows", m, k, lambda dt: tuple(a[:, :k] for a in full(dt)),
                     largest=largest, exclude_self=exclude_self, ways=ways, both_outs=i == 0)


def points_case(srv, what, p, ks, ways=("json", "float64", "float32")):
    full = cached(lambda dt: ref_points(as_dtype(p, dt), max(ks)))
    for i, k in enumerate(ks):
        run_case(srv, what, "points", p, k, lambda dt: tuple(a[:, :k] for a in full(dt)),
                 ways=ways, both_outs=i == 0, rel=1e-12)


# ------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------


def test_values(srv, rng):
    values_case(srv, "random float64 n=2e4", rng.standard_normal(20000), [10, 0, 1, 1000, 20000])
    x = rng.standard_normal(100000)
    values_case(srv, "random float64 n=1e5", x, [1000, 1, 10, 50000, 100000],
                ways=("float64", "float32"))
    values_case(srv, "random float64 n=1e6", rng.standard_normal(1000000), [10, 1000],
                ways=("float64", "float32"))
    values_case(srv, "small integers n=5e4", rng.integers(0, 5, 50000).astype(float),
                [100, 1, 7, 25000, 50000], ways=("float64", "float32"))
    values_case(srv, "small integers n=5000", rng.integers(0, 5, 5000).astype(float),
                [100, 1, 7, 2500, 5000])
    values_case(srv, "small integers n=300", rng.integers(-2, 3, 300).astype(float),
                [150, 0, 1, 300])
    nan = rng.standard_normal(20000)
    nan[rng.random(20000) < 0.3] = np.nan
    values_case(srv, "30% NaN n=2e4", nan, [20000, 1, 100, 14000])
    values_case(srv, "all NaN", np.full(50, np.nan), [3, 0, 50])
    special = rng.choice(np.array([-np.inf, np.inf, -0.0, 0.0, np.nan, 1.0, -1.0, 1e308,
                                   -1e-300]), 5000)
    values_case(srv, "+-inf, -0.0, NaN n=5000", special, [5000, 1, 10, 2500])
    zeros = np.where(rng.random(2000) < 0.5, -0.0, 0.0)
    values_case(srv, "-0.0 and 0.0 only", zeros, [5, 2000])
    values_case(srv, "ascending n=1e5", np.arange(100000, dtype=float), [10, 1000],
                ways=("float64",))
    values_case(srv, "descending n=1e5", np.arange(100000, 0, -1, dtype=float), [10, 1000],
                ways=("float64",))
    values_case(srv, "n=1", np.array([3.25]), [1, 0])
    values_case(srv, "n=1 NaN", np.array([np.nan]), [1, 0])
    values_case(srv, "n=0", np.zeros(0), [0])
    # float32 subnormals and values that round together.
    values_case(srv, "float32 rounding", rng.standard_normal(3000) * 1e-40, [10, 1500],
                ways=("float32", "float64"))


def test_rows(srv, rng):
    m = rng.standard_normal((100, 100))
    rows_case(srv, "random 100x100", m, [10, 0, 1, 50, 99], exclude_self=True)
    m = rng.standard_normal((300, 300))
    rows_case(srv, "random 300x300", m, [10, 1, 150, 299], exclude_self=True,
              ways=("float64", "float32"))
    rows_case(srv, "random 300x300, no exclusion", m, [10, 300], exclude_self=False,
              ways=("float64", "float32"))
    ties = rng.integers(0, 3, (100, 100)).astype(float)
    rows_case(srv, "small integers 100x100", ties, [5, 1, 50, 99], exclude_self=True)
    rows_case(srv, "small integers 100x100, no exclusion", ties, [7, 100], exclude_self=False)
    ties = rng.integers(0, 3, (250, 250)).astype(float)
    rows_case(srv, "small integers 250x250", ties, [4, 150], exclude_self=True,
              ways=("float64", "float32"))
    special = rng.choice(np.array([-np.inf, np.inf, -0.0, 0.0, np.nan, 2.0]), (60, 60))
    rows_case(srv, "+-inf, -0.0, NaN 60x60", special, [59, 1, 10], exclude_self=True)
    rows_case(srv, "+-inf, -0.0, NaN 60x60, no exclusion", special, [60], exclude_self=False)
    nan = rng.standard_normal((80, 80))
    nan[rng.random((80, 80)) < 0.2] = np.nan
    rows_case(srv, "20% NaN 80x80", nan, [79, 3], exclude_self=True)
    rows_case(srv, "wide 50x2000", rng.standard_normal((50, 2000)), [5, 0, 2000],
              exclude_self=False, ways=("float64", "float32"))
    rows_case(srv, "wide 5x2000", rng.standard_normal((5, 2000)), [3, 2000], exclude_self=False)
    rows_case(srv, "tall 3000x4", rng.integers(0, 4, (3000, 4)).astype(float), [2, 4],
              exclude_self=False)
    rows_case(srv, "1x1", np.array([[1.5]]), [0], exclude_self=True)
    rows_case(srv, "1x1, no exclusion", np.array([[1.5]]), [1], exclude_self=False)
    rows_case(srv, "2x2", np.array([[9.0, 1.0], [0.0, 0.0]]), [1], exclude_self=True)

    # The seed's np.argpartition(d, k+1)[1:k+1] drops partition position 0 as "self"; on a
    # random matrix the row's smallest is rarely its own element, so it answers differently
    # from excluding column i by index (what the server does and ref_rows checks).
    d = rng.random((400, 400))
    k = 5
    status, _, raw = srv.post(
        "/topk?mode=rows&k=%d&dtype=float64&shape=400,400&exclude_self=true" % k,
        d.tobytes(), "application/octet-stream", True)
    check(status == 200, "seed comparison: status %d" % status)
    if status == 200:
        ours = np.frombuffer(raw, "<i8", 400 * k).reshape(400, k)
        check(np.array_equal(ours, ref_rows(d, k, False, True)[0]), "seed comparison: ours")
        seed = np.argpartition(d, k + 1, axis=1)[:, 1:k + 1]
        differ = np.mean([set(ours[i]) != set(seed[i]) for i in range(400)])
        print("seed's argpartition(d, k+1)[1:k+1] differs from excluding self by index in "
              "%.0f%% of random rows (k = %d)" % (100 * differ, k))
        check(differ > 0.5, "seed comparison: only %.2f of rows differ" % differ)
        # Its position-0 element is the row's own index in few rows.
        own = np.mean(np.argpartition(d, k + 1, axis=1)[:, 0] == np.arange(400))
        check(own < 0.1, "seed comparison: position 0 is self in %.2f of rows" % own)


def clustered(rng, n, dim, centres, sigma):
    c = rng.random((centres, dim)) * 100
    return c[rng.integers(0, centres, n)] + rng.standard_normal((n, dim)) * sigma


def test_points(srv, rng):
    points_case(srv, "uniform 2-D n=1500", rng.random((1500, 2)) * 1000, [10, 1])
    points_case(srv, "clustered 2-D n=1500", clustered(rng, 1500, 2, 20, 1e-3), [10, 1, 40])
    points_case(srv, "duplicates 2-D n=1500 (8x8 grid)",
                rng.integers(0, 8, (1500, 2)).astype(float), [5, 1, 50])
    points_case(srv, "duplicates 2-D n=300, k=n-1", rng.integers(0, 4, (300, 2)).astype(float),
                [299], ways=("json", "float64"))
    points_case(srv, "all equal 2-D n=200", np.full((200, 2), 7.5), [199, 1],
                ways=("float64",))
    xs = rng.integers(0, 1000, 1000).astype(float)
    points_case(srv, "collinear y=2x+1 n=1000", np.stack([xs, 2 * xs + 1], 1), [4, 1, 20])
    points_case(srv, "collinear evenly spaced n=500",
                np.stack([np.arange(500.0), np.zeros(500)], 1), [2, 1, 3, 10])
    t = rng.random(800)
    points_case(srv, "collinear 3-D n=800", np.stack([t, 2 * t, -t], 1), [6, 1])
    points_case(srv, "uniform 3-D n=1500", rng.random((1500, 3)), [8, 1])
    points_case(srv, "duplicates 3-D n=1000 (5^3 grid)",
                rng.integers(0, 5, (1000, 3)).astype(float), [12, 1, 30])
    points_case(srv, "clustered 3-D n=1500", clustered(rng, 1500, 3, 10, 1e-2), [10, 1])
    points_case(srv, "large and small coordinates", rng.standard_normal((600, 2)) * 1e100,
                [3], ways=("json", "float64"))
    points_case(srv, "n=1 2-D", np.array([[1.0, 2.0]]), [0])
    points_case(srv, "n=2 3-D", np.array([[1.0, 2.0, 3.0], [4.0, 6.0, 3.0]]), [1, 0])
    points_case(srv, "n=0 2-D", np.zeros((0, 2)), [0], ways=("float64",))

    # Larger uniform sets against cKDTree (no duplicates, so column 0 of its answer is self),
    # and a sample of rows against brute force.
    for dim, n, k in ((2, 40000, 10), (3, 25000, 8)):
        p = rng.random((n, dim)) * 100
        for dt, name in ((np.float64, "float64"), (np.float32, "float32")):
            q = np.ascontiguousarray(p.astype(dt))
            status, ctype, raw = srv.post(
                "/topk?mode=points&k=%d&dtype=%s&shape=%d,%d" % (k, name, n, dim), q.tobytes(),
                "application/octet-stream", True)
            got = parse_answer(status, ctype, raw, True, n, k, "distances", True)
            what = "cKDTree %d-D n=%d %s" % (dim, n, name)
            if isinstance(got, str):
                check(False, "%s: %s" % (what, got))
                continue
            gi, gd = got[0].reshape(n, k), got[1].reshape(n, k)
            q64 = q.astype(np.float64)
            dist, idx = cKDTree(q64).query(q64, k + 1, workers=-1)
            check(np.array_equal(idx[:, 0], np.arange(n)), "%s: cKDTree self first" % what)
            check(np.array_equal(gi, idx[:, 1:]),
                  "%s: indices differ from cKDTree in %d rows"
                  % (what, int(np.sum(np.any(gi != idx[:, 1:], 1)))))
            check(np.allclose(gd, dist[:, 1:], rtol=1e-12, atol=0),
                  "%s: distances differ from cKDTree" % what)
            sample = rng.choice(n, 200, replace=False)
            d2 = np.zeros((200, n))
            for c in range(dim):
                dc = q64[sample, c][:, None] - q64[:, c][None, :]
                d2 = d2 + dc * dc if c else dc * dc
            d2[np.arange(200), sample] = np.inf
            bi = np.argsort(d2, axis=1, kind="stable")[:, :k]
            check(np.array_equal(gi[sample], bi), "%s: indices differ from brute force" % what)
            check(np.allclose(gd[sample], np.sqrt(np.take_along_axis(d2, bi, 1)), rtol=1e-12,
                              atol=0), "%s: distances differ from brute force" % what)


def main():
    t0 = time.monotonic()
    root = tempfile.mkdtemp(prefix="diff_topk_http_")
    rng = np.random.default_rng(20261124)
    srv = Server(root, ["--threads", "4"])
    try:
        test_values(srv, rng)
        test_rows(srv, rng)
        test_points(srv, rng)
    finally:
        code = srv.stop()
        shutil.rmtree(root, ignore_errors=True)
    check(code == 0, "server exit status after SIGTERM: %r" % code)
    print("diff_topk_http: %d passed, %d failed (%.1f s)"
          % (passes, failures, time.monotonic() - t0))
    return 1 if failures or not passes else 0


if __name__ == "__main__":
    sys.exit(main())
