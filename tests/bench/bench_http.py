#!/usr/bin/python3
"""bench_http.py - Tessera's endpoints end to end over HTTP against the Python ways, one run.

usage: bench_http.py TESSERA_BINARY [--quick] [--rounds N] [--scan-dir DIR]

Starts the real server (TESSERA_BINARY --root ROOT --port 0 --access-log=false), reads its
port from the first stdout line ("listening"), and times whole requests from this Python
client (http.client, one keep-alive connection): request sent, response fully read and
parsed, so the caller holds the same result the Python reference computes in process.
Ours and the references run interleaved, round by round, so load from other processes hits
all alike; tables show wall medians over the rounds (and minimums) and the mean CPU per call
(this process, plus the server's from /proc for ours). Every answer is checked once against
the reference (a wrong answer is reported as a server problem, not timed silently).

  /scan      flat dir of 100,000 files (a fifth image suffixes, mixed case) and 40 dirs x
             2,500 files (recursive), trees shared with bench_scan.py (--scan-dir, kept);
             GET /scan + JSON parse -> (name, size) vs the seed's "before" (5 globs) and
             "after" (one iterdir + suffix check). Goal: after / ours >= 3x.
  /classify  a 200-page OME-TIFF, a 10-level OME pyramid, 1,000 small TIFFs; ours uncached
             (a second server with --cache-entries 0) and cached (warmed), one GET per file
             and one POST batch of the 1,000; vs tifffile.TiffFile (is_ome + pages + series
             levels) and openslide.OpenSlide.detect_format. Goal (issue #4, stated for the
             core, applied here to HTTP too): uncached >= 20x tifffile on multi-page files.
  /overlap   uint32 label images 2048^2 (~5,000 cells) and 8192^2 (~80,000 cells) as deflate
             TIFFs (a in strips of 64 rows, b in 256^2 tiles); POST /overlap {"a", "b"} vs
             tifffile.imread x2 + skimage contingency_table, and imread x2 + np.unique on a
             64-bit key. Goal >= 5x; server peak RSS (VmHWM of a fresh server, and sampled
             VmRSS) for 8192^2: goal < 256 MB.
  /topk      binary POST /topk?mode=values&k=10&dtype=float64&shape=10000000 (80 MB body,
             Accept: application/octet-stream) vs np.argpartition in process (and a correct
             argpartition + sort). Goal: ours <= np.argpartition.
Not pass/fail: it prints the numbers and whether each goal is met. Exit status 1 only when
the server misbehaves (crash, wrong answer, HTTP error). --quick (< 2 min): 3 rounds, no
8192^2 overlap case.
"""
import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tifffile
from skimage.metrics import contingency_table

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_scan  # noqa: E402  (trees and the seed's scan code, shared)

try:
    import openslide
except ImportError:
    openslide = None

FAILURES = []  # server misbehaviour found while benchmarking
CLK_TCK = os.sysconf("SC_CLK_TCK")


def fail(msg):
    FAILURES.append(msg)
    print("  SERVER PROBLEM: " + msg, flush=True)


# ---------------------------------------------------------------------------------------
# The server and a client
# ---------------------------------------------------------------------------------------

class Server:
    """One tessera process on a free port; SIGTERM on stop."""

    def __init__(self, binary, root, *extra):
        self.cmd = [binary, "--root", str(root), "--port", "0", "--access-log=false", *extra]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr.append),
                         daemon=True).start()
        try:
            first = self.lines.get(timeout=15)
        except queue.Empty:
            self.stop()
            raise RuntimeError("tessera printed no line in 15 s: %s" % " ".join(self.cmd))
        try:
            event = json.loads(first)
            self.port = int(event["port"])
        except (ValueError, KeyError):
            self.stop()
            raise RuntimeError("first line is not the listening event: %r (stderr: %s)"
                               % (first, b"".join(self.stderr).decode(errors="replace")))
        self.pid = self.proc.pid

    @staticmethod
    def _drain(stream, put):
        for line in iter(stream.readline, b""):
            put(line)

    def alive(self):
        return self.proc.poll() is None

    def cpu_s(self):
        """CPU seconds the server has used so far, all threads (exited ones too)."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            return 0.0

    def status_kb(self, field):
        """VmRSS / VmHWM of the server in kB (0 once it is gone)."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                fail("server did not exit within 40 s of SIGTERM; killed")
                self.proc.kill()
                self.proc.wait()
        elif self.proc.returncode != 0:
            fail("server exited on its own with status %d; stderr: %s"
                 % (self.proc.returncode, b"".join(self.stderr).decode(errors="replace")[-2000:]))
        return self.proc.returncode


class Client:
    """One keep-alive connection; reconnects once if the server closed it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, target, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request(method, target, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        if resp.status != 200:
            raise RuntimeError("%s %s -> %d: %s" % (method, target[:80], resp.status,
                                                     data[:500].decode(errors="replace")))
        return data

    def get_json(self, target):
        return json.loads(self.request("GET", target))

    def post_json(self, target, obj):
        return json.loads(self.request("POST", target, json.dumps(obj).encode(),
                                       {"Content-Type": "application/json"}))

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------
# Timing and tables
# ---------------------------------------------------------------------------------------

class Timer:
    """One sample = wall seconds per call, averaged over enough calls to last ~min_s (the count
    is fixed on the first, warm-up call, so every round does the same work; with min_s = 0,
    one call a sample and no warm-up: for calls of seconds on warm files). CPU is summed
    over all samples: this process (all threads) plus the servers named, which /proc gives
    in clock ticks, so the mean over every round is the precise figure."""

    def __init__(self, fn, min_s=0.02, servers=()):
        self.fn = fn
        self.servers = servers
        self.inner = 1
        if min_s > 0:  # min_s = 0: one call a sample, no warm-up (calls of seconds)
            t0 = time.perf_counter()
            fn()
            once = time.perf_counter() - t0
            self.inner = max(1, int(min_s / once) + 1) if once < min_s else 1
        self.samples = []
        self.cpu_total = 0.0
        self.calls = 0
        self.scale = 1  # units of work per call (files per batch)

    def sample(self):
        s0 = sum(s.cpu_s() for s in self.servers)
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(self.inner):
            self.fn()
        t1, c1 = time.perf_counter(), time.process_time()
        s1 = sum(s.cpu_s() for s in self.servers)
        self.samples.append((t1 - t0) / self.inner / self.scale)
        self.cpu_total += (c1 - c0) + (s1 - s0)
        self.calls += self.inner

    def median(self):
        return statistics.median(self.samples)

    def cpu(self):
        """Mean CPU seconds per call (per unit of work), client + server."""
        return self.cpu_total / self.calls / self.scale


def interleave(methods, rounds, min_s=0.02, scale=1):
    """methods: [(name, fn)] or [(name, fn, servers)]; returns {name: Timer} after `rounds`
    interleaved rounds. scale divides every time (work units per call)."""
    timers = {}
    for m in methods:  # the warm-up call of each (unless min_s = 0)
        timers[m[0]] = Timer(m[1], min_s, m[2] if len(m) > 2 else ())
        timers[m[0]].scale = scale
    for _ in range(rounds):
        for m in methods:
            timers[m[0]].sample()
    return timers


def fmt_ratio(r):
    return "%.2fx" % r if r < 10 else "%.1fx" % r


def print_table(title, unit, scale, rows):
    """rows: (case, method, timer, ours_timers, goal, met): a reference row (ours_timers
    non-empty) shows reference / ours for wall median and CPU against each ours timer."""
    print("\n" + title)
    head = "%-9s %-42s %10s %10s %10s  %-15s %-15s %-10s %s" % (
        "case", "method", "median " + unit, "min " + unit, "cpu " + unit, "ref/ours wall",
        "ref/ours cpu", "goal", "met?")
    print(head)
    print("-" * len(head))
    for case, method, timer, ours, goal, met in rows:
        wall = " / ".join(fmt_ratio(timer.median() / o.median()) for o in ours)
        cpu = " / ".join(fmt_ratio(timer.cpu() / o.cpu()) if o.cpu() > 0 else "-" for o in ours)
        print("%-9s %-42s %10.3f %10.3f %10.3f  %-15s %-15s %-10s %s"
              % (case, method, timer.median() * scale, min(timer.samples) * scale,
                 timer.cpu() * scale, wall, cpu, goal, met))


def goal_row(ref, ours, goal):
    """(ours list, goal text, met text) for a reference row judged on the wall medians."""
    r = ref.median() / ours.median()
    return [ours], ">= %gx" % goal, "met" if r >= goal else "MISSED"


# ---------------------------------------------------------------------------------------
# /scan
# ---------------------------------------------------------------------------------------

def bench_scan_http(binary, scan_dir, rounds):
    base = Path(scan_dir)
    rows = []
    for kind in ("flat", "cycles"):
        t0 = time.perf_counter()
        root = bench_scan.build(base, kind)
        if time.perf_counter() - t0 > 1:
            print("  built %s tree in %.1f s" % (kind, time.perf_counter() - t0), flush=True)
    server = Server(binary, base)
    client = Client(server.port)
    try:
        for kind in ("flat", "cycles"):
            root = base / kind
            dirs = bench_scan.cycle_dirs(root, kind)
            target = "/scan?dir=" + kind
            if bench_scan.TREES[kind][0] > 1:
                target += "&recursive=true&max_depth=1"

            def ours(target=target):
                doc = client.get_json(target)
                return [(e["name"], e["size"]) for e in doc["entries"]]

            def ours_read(target=target):
                return client.request("GET", target)

            got, want = ours(), bench_scan.seed_after(dirs)
            if sorted(got) != sorted(want):
                fail("/scan %s: %d entries, the seed's after finds %d (or names/sizes differ)"
                     % (kind, len(got), len(want)))
            doc = client.get_json(target)
            if doc["truncated"] or doc["errors"]:
                fail("/scan %s: truncated=%s errors=%s" % (kind, doc["truncated"],
                                                         doc["errors"][:3]))
            methods = [("ours GET /scan (read + JSON parse)", ours, [server]),
                       ("ours GET /scan (read only)", ours_read, [server]),
                       ("seed before (5 pathlib globs)", lambda d=dirs: bench_scan.seed_before(d)),
                       ("seed after (iterdir + suffix)", lambda d=dirs: bench_scan.seed_after(d))]
            t = interleave(methods, rounds)
            o = t["ours GET /scan (read + JSON parse)"]
            rows.append((kind, "ours GET /scan (read + JSON parse)", o, [], "", ""))
            rows.append((kind, "ours GET /scan (read only)", t["ours GET /scan (read only)"],
                         [], "", ""))
            before = t["seed before (5 pathlib globs)"]
            rows.append((kind, "seed before (5 pathlib globs)", before, [o], "", ""))
            after = t["seed after (iterdir + suffix)"]
            rows.append((kind, "seed after (iterdir + suffix)", after) + goal_row(after, o, 3))
            print("  /scan %s: %d entries, done" % (kind, len(got)), flush=True)
    finally:
        client.close()
        server.stop()
    print_table("/scan end to end (%d rounds; ref/ours = reference median / ours median, ours ="
                " read + JSON parse)" % rounds, "ms", 1e3, rows)


# ---------------------------------------------------------------------------------------
# /classify
# ---------------------------------------------------------------------------------------

def make_classify_data(root):
    d = root / "classify"
    d.mkdir()
    tifffile.imwrite(d / "ome200.ome.tif", np.zeros((200, 256, 256), np.uint16), ome=True,
                     metadata={"axes": "ZYX"})
    data = np.zeros((4096, 4096), np.uint8)
    with tifffile.TiffWriter(d / "pyr10.ome.tif", ome=True) as tw:
        tw.write(data, subifds=9, tile=(32, 32), compression="zlib")
        for _ in range(9):
            data = data[::2, ::2]
            tw.write(data, subfiletype=1, tile=(32, 32), compression="zlib")
    (d / "small").mkdir()
    img = np.zeros((32, 32), np.uint8)
    small = []
    for i in range(1000):
        rel = "classify/small/cyc%04d.tif" % i
        tifffile.imwrite(root / rel, img, metadata=None)
        small.append(rel)
    return {"ome200": ["classify/ome200.ome.tif"], "pyr10": ["classify/pyr10.ome.tif"],
            "small1000": small}


def tifffile_way(f):
    with tifffile.TiffFile(f) as tf:
        return tf.is_ome, len(tf.pages), len(tf.series[0].levels)


def bench_classify_http(binary, root, rounds):
    sets = make_classify_data(root)
    cached_srv = Server(binary, root)
    uncached_srv = Server(binary, root, "--cache-entries", "0")
    cached, uncached = Client(cached_srv.port), Client(uncached_srv.port)
    rows = []
    try:
        for case, files in sets.items():
            absf = [str(root / f) for f in files]
            gets = ["/classify?path=" + f for f in files]

            def get_all(client, gets=gets):
                return [client.get_json(g) for g in gets]

            def post_all(client, files=files):
                return client.post_json("/classify", {"paths": files})["results"]

            # check once: both servers agree with tifffile on is_ome, pages, levels
            want = [tifffile_way(f) for f in absf]
            for name, res in (("GET cached", get_all(cached)), ("GET cached hit",
                                                               get_all(cached)),
                              ("GET uncached", get_all(uncached)),
                              ("POST uncached", post_all(uncached))):
                got = [(r.get("is_ome"), r.get("pages"), r.get("levels")) for r in res]
                if got != want:
                    bad = [(f, g, w) for f, g, w in zip(files, got, want) if g != w][:3]
                    fail("/classify %s %s: (is_ome, pages, levels) differ from tifffile: %s"
                         % (case, name, bad))
                if name == "GET cached hit" and not all(r.get("cached") for r in res):
                    fail("/classify %s: second GET on the caching server was not cached" % case)
                if name == "GET uncached" and any(r.get("cached") for r in res):
                    fail("/classify %s: --cache-entries 0 answered cached: true" % case)

            methods = [("ours GET uncached (--cache-entries 0)", lambda: get_all(uncached),
                        [uncached_srv]),
                       ("ours GET cached", lambda: get_all(cached), [cached_srv])]
            if len(files) > 1:
                methods += [("ours POST batch uncached", lambda: post_all(uncached),
                             [uncached_srv]),
                            ("ours POST batch cached", lambda: post_all(cached), [cached_srv])]
            methods.append(("tifffile is_ome+pages+levels",
                            lambda: [tifffile_way(f) for f in absf]))
            if openslide is not None:
                methods.append(("openslide detect_format",
                                lambda: [openslide.OpenSlide.detect_format(f) for f in absf]))
            per = interleave(methods, rounds, scale=len(files))  # times per file
            ours_names = [m[0] for m in methods if m[0].startswith("ours")]
            un = per["ours GET uncached (--cache-entries 0)"]
            ca = per["ours GET cached"]
            for name in ours_names:
                rows.append((case, name, per[name], [], "", ""))
            tf = per["tifffile is_ome+pages+levels"]
            if case in ("ome200", "pyr10"):
                r = tf.median() / un.median()
                rows.append((case, "tifffile is_ome+pages+levels", tf, [un, ca], ">= 20x unc",
                             "met" if r >= 20 else "MISSED"))
            else:
                rows.append((case, "tifffile is_ome+pages+levels", tf, [un, ca], "", ""))
            if openslide is not None:
                rows.append((case, "openslide detect_format", per["openslide detect_format"],
                             [un, ca], "", ""))
            print("  /classify %s: done" % case, flush=True)
    finally:
        cached.close()
        uncached.close()
        cached_srv.stop()
        uncached_srv.stop()
    print_table("/classify end to end, per file (%d rounds; ref/ours against ours GET uncached"
                " / GET cached)" % rounds, "us", 1e6, rows)
    if openslide is None:
        print("openslide: python3-openslide is not installed; its rows are left out")


# ---------------------------------------------------------------------------------------
# /overlap
# ---------------------------------------------------------------------------------------

def make_labels(size, ncells):
    import bench_overlap  # scipy; only needed here
    a = bench_overlap.cells(size, ncells)
    b = bench_overlap.second(a, ncells)
    return a, b


class RssSampler:
    """Samples the server's VmRSS every 5 ms in a thread; max in kB."""

    def __init__(self, server):
        self.server = server
        self.peak = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, self.server.status_kb("VmRSS"))
            time.sleep(0.005)

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        return self.peak


def bench_overlap_http(binary, root, sizes, rounds_for):
    rows = []
    rss_notes = []
    d = root / "overlap"
    d.mkdir()
    for size in sizes:
        ncells = int(round(5000 * (size / 2048) ** 2))
        t0 = time.perf_counter()
        a, b = make_labels(size, ncells)
        pa, pb = d / ("a%d.tif" % size), d / ("b%d.tif" % size)
        tifffile.imwrite(pa, a, compression="zlib", rowsperstrip=64, photometric="minisblack")
        tifffile.imwrite(pb, b, compression="zlib", tile=(256, 256), photometric="minisblack")
        key = (a.ravel().astype(np.uint64) << np.uint64(32)) | b.ravel()
        uk, uc = np.unique(key, return_counts=True)
        del a, b, key
        print("  /overlap %d^2: %d cells, %d distinct pairs, files %.1f + %.1f MB, made in"
              " %.1f s" % (size, ncells, len(uk), pa.stat().st_size / 1e6,
                           pb.stat().st_size / 1e6, time.perf_counter() - t0), flush=True)
        server = Server(binary, root)  # fresh per size: its VmHWM is this case's peak
        client = Client(server.port)
        rel = {"a": "overlap/" + pa.name, "b": "overlap/" + pb.name}
        try:
            base_kb = server.status_kb("VmRSS")
            sampler = RssSampler(server)

            def ours():
                doc = client.post_json("/overlap", rel)
                p = doc["pairs"]
                return p["a"], p["b"], p["count"]

            res = ours()
            got_a = np.array(res[0], np.uint64)
            got_b = np.array(res[1], np.uint64)
            got_c = np.array(res[2], np.int64)
            if (len(got_a) != len(uk) or not np.array_equal((got_a << np.uint64(32)) | got_b, uk)
                    or not np.array_equal(got_c, uc)):
                fail("/overlap %d^2: pairs differ from np.unique (%d vs %d pairs)"
                     % (size, len(got_a), len(uk)))
            del got_a, got_b, got_c, res

            def skimage_way():
                return contingency_table(tifffile.imread(pa), tifffile.imread(pb))

            def numpy_way():
                x, y = tifffile.imread(pa), tifffile.imread(pb)
                k = (x.ravel().astype(np.uint64) << np.uint64(32)) | y.ravel()
                return np.unique(k, return_counts=True)

            methods = [("ours POST /overlap (read + JSON parse)", ours, [server]),
                       ("tifffile.imread x2 + skimage contingency", skimage_way),
                       ("tifffile.imread x2 + np.unique 64-bit key", numpy_way)]
            t = interleave(methods, rounds_for(size), min_s=0)
            peak_sampled = sampler.stop()
            hwm = server.status_kb("VmHWM")
            if not server.alive():
                fail("/overlap %d^2: server died" % size)
        finally:
            client.close()
            server.stop()
        case = "%d^2" % size
        o = t["ours POST /overlap (read + JSON parse)"]
        rows.append((case, "ours POST /overlap (read + JSON parse)", o, [], "", ""))
        sk = t["tifffile.imread x2 + skimage contingency"]
        rows.append((case, "tifffile.imread x2 + skimage contingency", sk) + goal_row(sk, o, 5))
        nu = t["tifffile.imread x2 + np.unique 64-bit key"]
        rows.append((case, "tifffile.imread x2 + np.unique 64-bit key", nu, [o], "", ""))
        note = ("server memory, %s: RSS at start %.1f MB, peak sampled VmRSS %.1f MB, VmHWM %.1f"
                " MB" % (case, base_kb / 1024, peak_sampled / 1024, hwm / 1024))
        if size >= 8192:
            note += " (goal < 256 MB: %s)" % ("met" if hwm < 256 * 1024 else "MISSED")
        rss_notes.append(note)
        for p in (pa, pb):
            p.unlink()
        print("  /overlap %s: done" % case, flush=True)
    print_table("/overlap end to end, deflate TIFFs under the root (rounds: %s)"
                % ", ".join("%d^2: %d" % (s, rounds_for(s)) for s in sizes), "ms", 1e3, rows)
    for note in rss_notes:
        print(note)


# ---------------------------------------------------------------------------------------
# /topk
# ---------------------------------------------------------------------------------------

def argpartition_sorted(x, k):
    p = np.argpartition(x, k - 1)[:k]
    return p[np.lexsort((p, x[p]))]


def bench_topk_http(binary, root, rounds):
    n, k = 10_000_000, 10
    x = np.random.default_rng(11).random(n)
    body = memoryview(x).cast("B")  # the array's own bytes, no copy
    target = "/topk?mode=values&k=%d&dtype=float64&shape=%d" % (k, n)
    headers = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
    server = Server(binary, root)
    client = Client(server.port)
    try:
        def ours():
            out = client.request("POST", target, body, headers)
            return np.frombuffer(out, np.int64, k), np.frombuffer(out, np.float64, k, 8 * k)

        idx, vals = ours()
        want = np.argsort(x, kind="stable")[:k]
        if not (np.array_equal(idx, want) and np.array_equal(vals, x[want])):
            fail("/topk binary: indices %s, want %s" % (idx.tolist(), want.tolist()))
        methods = [("ours POST /topk binary (80 MB body)", ours, [server]),
                   ("np.argpartition in process", lambda: np.argpartition(x, k)[:k]),
                   ("np.argpartition + sort (correct)", lambda: argpartition_sorted(x, k))]
        t = interleave(methods, rounds)
        hwm = server.status_kb("VmHWM")
    finally:
        client.close()
        server.stop()
    o = t["ours POST /topk binary (80 MB body)"]
    ap = t["np.argpartition in process"]
    cs = t["np.argpartition + sort (correct)"]
    rows = [("n=10^7", "ours POST /topk binary (80 MB body)", o, [], "", ""),
            ("n=10^7", "np.argpartition in process", ap) + goal_row(ap, o, 1),
            ("n=10^7", "np.argpartition + sort (correct)", cs, [o], "", "")]
    print_table("/topk end to end, values, float64, k = 10 (%d rounds)" % rounds, "ms", 1e3,
                rows)
    print("server VmHWM after the /topk runs: %.1f MB (the 80 MB body is held in memory)"
          % (hwm / 1024))


# ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", help="the tessera server binary")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (under 2 min): 3 rounds, no 8192^2 case")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 9, quick 3)")
    ap.add_argument("--scan-dir", default="/tmp/tessera-bench-scan",
                    help="scan trees (shared with bench_scan.py, kept)")
    ap.add_argument("--only", default="scan,classify,overlap,topk",
                    help="comma-separated sections to run")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 9)
    sizes = (2048,) if args.quick else (2048, 8192)

    def rounds_for(size):
        """The 8192^2 references take tens of seconds a call: 3 rounds there."""
        return rounds if size <= 2048 else 3

    only = set(args.only.split(","))
    start = time.perf_counter()
    load0 = os.getloadavg()
    print("bench_http: %s, %d CPUs, %d rounds%s; load average at start %.2f %.2f %.2f"
          % (args.binary, os.cpu_count() or 1, rounds, " (quick)" if args.quick else "",
             *load0), flush=True)
    root = Path(tempfile.mkdtemp(prefix="tessera-bench-http-"))
    try:
        if "scan" in only:
            bench_scan_http(args.binary, args.scan_dir, rounds)
        if "classify" in only:
            bench_classify_http(args.binary, root, rounds)
        if "topk" in only:
            bench_topk_http(args.binary, root, rounds)
        if "overlap" in only:
            bench_overlap_http(args.binary, root, sizes, rounds_for)
        if args.quick and "overlap" in only:
            print("(--quick: the 8192^2 overlap case and its peak-RSS check were skipped)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()
    print("\nload average at end %.2f %.2f %.2f (at start %.2f %.2f %.2f); %d CPUs; total %.0f s"
          % (*load1, *load0, os.cpu_count() or 1, time.perf_counter() - start))
    print("ours = whole HTTP request from this Python client on loopback (keep-alive), response"
          " read and parsed;\nreferences run in this process on data already on disk (page"
          " cache warm for all).\nmedian/min: wall time per call over the rounds; cpu: mean CPU"
          " per call over the rounds, this\nprocess (all threads) plus, for ours, the server"
          " (/proc/PID/stat). ref/ours: reference / ours\n(> 1: ours is faster); goals are"
          " judged on the wall medians. With a load average above the\nCPU count, wall times"
          " stretch; the cpu ratios are the steadier figure.")
    if FAILURES:
        print("\nSERVER PROBLEMS (%d):" % len(FAILURES))
        for f in FAILURES:
            print("  - " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
