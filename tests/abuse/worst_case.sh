#!/usr/bin/env bash
# worst_case.sh: the largest answer and the peak memory one request can cause, per endpoint,
# with default settings. Each case starts a fresh server (defaults, --access-log=false, on a
# free loopback port), reads its VmRSS before, sends one worst-case request, and reads its
# VmHWM (peak resident) after; it prints one table row per case (the README "Limits" table
# is filled from it). Run by hand (not a ctest): ~2-4 minutes, needs ~3 GB of free memory,
# ~1.5 GB in /tmp, /usr/bin/python3 with numpy and tifffile (Debian packages).
#
# Usage: tests/abuse/worst_case.sh [BIN] [CASE...]
#   BIN   the server binary (default build/release/tessera); CASE: run only these
#   KEEP=1 keeps the work directory (data, server logs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/release/tessera}
shift || true
[ -x "$bin" ] || { echo "worst_case.sh: no server binary at $bin" >&2; exit 2; }
work=$(mktemp -d /tmp/tessera-worst.XXXXXX)
[ -n "${KEEP:-}" ] && echo "worst_case.sh: work directory $work" || trap 'rm -rf "$work"' EXIT

exec /usr/bin/python3 - "$bin" "$work" "$@" <<'PY'
import json, os, socket, subprocess, sys, time
import numpy as np, tifffile

BIN, WORK, ONLY = sys.argv[1], sys.argv[2], set(sys.argv[3:])
ROOT = os.path.join(WORK, "root")
os.makedirs(ROOT)

def kib(pid, field):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1

class Server:
    def __init__(self, name, extra=()):
        self.log = open(os.path.join(WORK, name + ".log"), "w+")
        self.p = subprocess.Popen([BIN, "--root", ROOT, "--port", "0", "--access-log=false",
                                   *extra], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            self.log.seek(0)
            for line in self.log:
                if '"listening"' in line:
                    self.port = json.loads(line)["port"]
                    return
            time.sleep(0.05)
        raise SystemExit("worst_case.sh: %s did not start" % name)

    def stop(self):
        self.p.terminate()
        self.p.wait(30)

def request(port, method, target, body=b"", headers=(), body_iter=None, length=None):
    """One request; returns (status, answer body length, seconds). The answer is read and
    counted, not kept."""
    s = socket.create_connection(("127.0.0.1", port))
    n = len(body) if body_iter is None else length
    head = ["%s %s HTTP/1.1" % (method, target), "Host: w", "Connection: close",
            "Content-Length: %d" % n, *headers]
    t0 = time.monotonic()
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    if body_iter is None:
        s.sendall(body)
    else:
        for chunk in body_iter:
            s.sendall(chunk)
    buf, head, got = b"", None, 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        if head is not None:
            got += len(d)
            continue
        buf += d
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            head, got, buf = buf[:i + 4], len(buf) - i - 4, b""
    s.close()
    status = int(head.split(b" ", 2)[1]) if head and head.startswith(b"HTTP/1.") else 0
    return status, got, time.monotonic() - t0

def size(n):
    return "%.1f MB" % (n / 1e6) if n >= 100000 else "%.1f kB" % (n / 1e3)

rows = []
def case(name, what, run, extra=()):
    if ONLY and name not in ONLY:
        return
    srv = Server(name, extra)
    try:
        base = kib(srv.p.pid, "VmRSS")
        status, answer, secs = run(srv.port)
        time.sleep(0.3)
        peak = kib(srv.p.pid, "VmHWM")
        after = kib(srv.p.pid, "VmRSS")
    finally:
        srv.stop()
    rows.append((name, what, status, answer, base, peak, after, secs))
    print("%-22s %3d  answer %9s  resident %5d MiB  peak %5d MiB  after %5d MiB  %5.1f s  %s"
          % (name, status, size(answer), base // 1024, peak // 1024, after // 1024, secs, what),
          flush=True)

JSON = ("Content-Type: application/json",)
BINARY = ("Content-Type: application/octet-stream",)

def json_objects(n):
    return b'{"x":[' + b",".join([b"{}"] * n) + b"]}"

# /scan: JSON bodies parsed in full, refused after (unknown field x).
case("json-objects-at-limit", "POST /scan, 2,099,997 empty objects (at --max-json-nodes)",
     lambda port: request(port, "POST", "/scan", json_objects(2099997), JSON))
case("json-over-limit", "POST /scan, 16 MB of {} (5.3 M values, over --max-json-nodes)",
     lambda port: request(port, "POST", "/scan", json_objects(5333330), JSON))

# /topk
rows_of_one = b'{"rows":[' + b",".join([b"[0.5]"] * 1000000) + b'],"k":1}'
case("topk-json-rows", "POST /topk JSON, 10^6 rows of one number, k 1",
     lambda port: request(port, "POST", "/topk", rows_of_one, JSON))
values = np.random.default_rng(1).random(1000000)
values_json = ('{"values":[' + ",".join("%.9g" % v for v in values) + '],"k":1000000}').encode()
case("topk-json-max-k", "POST /topk JSON, 10^6 numbers (%.1f MB), k 10^6 (--max-k)"
     % (len(values_json) / 1e6),
     lambda port: request(port, "POST", "/topk", values_json, JSON))
points = np.random.default_rng(2).random((1000000, 2)).astype("<f8").tobytes()
case("topk-knn-json", "POST /topk binary, 10^6 2-D points, k 10: 10^7 results (--max-results) as JSON",
     lambda port: request(port, "POST", "/topk?mode=points&k=10&dtype=float64&shape=1000000,2",
                          points, BINARY))
case("topk-knn-binary", "the same, answered in binary (Accept: application/octet-stream)",
     lambda port: request(port, "POST", "/topk?mode=points&k=10&dtype=float64&shape=1000000,2",
                          points, BINARY + ("Accept: application/octet-stream",)))
GIB = 1 << 30
zeros = bytes(8 << 20)
case("topk-binary-body", "POST /topk binary, 1 GiB body (--max-binary-body): 134,217,728 values, k 10",
     lambda port: request(port, "POST", "/topk?mode=values&k=10&dtype=float64&shape=%d" % (GIB // 8),
                          headers=BINARY, body_iter=(zeros for _ in range(GIB // len(zeros))),
                          length=GIB))

# /classify: a full batch of one cached file.
tifffile.imwrite(os.path.join(ROOT, "one.tif"), np.zeros((64, 64), np.uint16))
batch = json.dumps({"paths": ["one.tif"] * 10000}).encode()
case("classify-batch", "POST /classify, 10,000 paths (--classify-batch)",
     lambda port: request(port, "POST", "/classify", batch, JSON))

# /overlap: 10^6 distinct pairs (--max-pairs), every one in the answer with IoU.
side = 1000
lab = np.arange(1, side * side + 1, dtype=np.uint32).reshape(side, side)
tifffile.imwrite(os.path.join(ROOT, "a.tif"), lab, compression="zlib")
tifffile.imwrite(os.path.join(ROOT, "b.tif"), lab, compression="zlib")
pairs = json.dumps({"a": "a.tif", "b": "b.tif", "iou": True}).encode()
case("overlap-max-pairs", "POST /overlap, two 1000^2 images of 10^6 labels: 10^6 pairs with IoU",
     lambda port: request(port, "POST", "/overlap", pairs, JSON))

# /scan: many entries (2 x 10^5 empty .tif files; --scan-max-entries is 10^6).
tree = os.path.join(ROOT, "many")
for d in range(200):
    os.makedirs(os.path.join(tree, "d%03d" % d))
    for f in range(1000):
        open(os.path.join(tree, "d%03d" % d, "f%04d.tif" % f), "w").close()
case("scan-entries", "GET /scan, 2 x 10^5 entries",
     lambda port: request(port, "GET", "/scan?dir=many&recursive=true&limit=1000000"))
case("scan-entries-classify", "POST /scan with classify, 2 x 10^5 entries (each an error object)",
     lambda port: request(port, "POST", "/scan",
                          b'{"dir":"many","recursive":true,"limit":1000000,"classify":true}', JSON))

case("metrics", "GET /metrics (capped at 4 MiB)",
     lambda port: request(port, "GET", "/metrics"))

print()
print("| case | request | status | answer | peak RSS (resident before) |")
print("|---|---|---|---|---|")
for name, what, status, answer, base, peak, after, secs in rows:
    print("| %s | %s | %d | %s | %d MiB (%d MiB) |" % (name, what, status, size(answer),
                                                      peak // 1024, base // 1024))
PY
