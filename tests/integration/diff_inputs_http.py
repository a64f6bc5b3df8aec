#!/usr/bin/python3
"""diff_inputs_http.py - POST /overlap over real HTTP on the input kinds beyond TIFF pages.

Starts the real server over a temporary data root and sends label images as .npy uploads
written by numpy itself (np.save and numpy.lib.format.write_array: format 1.0, 2.0 and 3.0,
both byte orders, C and Fortran order, every integer dtype, 2-D (y, x) and 3-D (z, y, x)).
Every answer must equal np.unique on the combined (a, b) key of the same arrays, exactly, and
name the array's shape (depth only for volumes). Malformed uploads must be 4xx problems.

Usage: diff_inputs_http.py PATH/TO/tessera
"""
import io
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_overlap_http import Server, cells, contingency, derive  # noqa: E402

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def check(what, status, body, a, b):
    if status != 200:
        fail(f"{what}: status {status}: {body}")
        return
    want_a, want_b, want_n = contingency(a, b)
    pairs = body["pairs"]
    if (pairs["a"] != [int(v) for v in want_a] or pairs["b"] != [int(v) for v in want_b]
            or pairs["count"] != [int(v) for v in want_n]):
        fail(f"{what}: pairs differ from np.unique ({len(pairs['a'])} vs {len(want_a)})")
    shape = a.shape if a.ndim == 3 else (1,) + a.shape
    if body["height"] != shape[1] or body["width"] != shape[2] or \
            body.get("depth", 1) != shape[0] or (a.ndim == 2 and "depth" in body):
        fail(f"{what}: shape {body.get('depth')} x {body['height']} x {body['width']}, "
             f"want {shape}")


def post_npy(server, a_bytes, b_bytes, how="type"):
    """Upload two .npy files: named by Content-Type (how="type") or by filename."""
    boundary = "----tessera" + os.urandom(12).hex()
    chunks = []
    for name, data in (("a", a_bytes), ("b", b_bytes)):
        if how == "type":
            disp = (f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                    'Content-Type: application/x-npy')
        else:
            disp = (f'Content-Disposition: form-data; name="{name}"; filename="{name}.npy"\r\n'
                    'Content-Type: application/octet-stream')
        chunks += [b"--" + boundary.encode() + b"\r\n", disp.encode() + b"\r\n\r\n", data,
                   b"\r\n"]
    chunks.append(b"--" + boundary.encode() + b"--\r\n")
    return server.post(b"".join(chunks), f"multipart/form-data; boundary={boundary}")


def npy_cases(server, rng):
    dtypes = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"]
    a2 = cells((150, 170), 60, rng)
    b2 = derive(a2, rng)
    for i, dt in enumerate(dtypes):
        for order in "CF":
            for endian in "<>":
                if dt in ("u1", "i1") and endian == ">":
                    continue
                dtype = np.dtype(endian + dt)
                lim = np.iinfo(dtype).max
                a = (a2 % lim).astype(dtype, order=order)
                b = (b2 % lim).astype(np.dtype(">u4" if i % 2 else "<i8"), order=order)
                version = [None, (2, 0), (3, 0)][i % 3]
                status, body = post_npy(server, npy_bytes(np.asarray(a, order=order), version),
                                        npy_bytes(b), "type" if i % 2 else "name")
                check(f"npy 2-D {endian}{dt} {order}", status, body, a, b)
    # volumes: cells per slice, shifted between slices; (1, 1, z, y, x) as NGFF writes them
    va = np.stack([cells((60, 70), 20, rng) + 100 * z for z in range(7)])
    vb = np.stack([derive(s, rng) for s in va])
    for order in "CF":
        a = np.asarray(va.astype("<u2"), order=order)
        b = np.asarray(vb.astype(">i4"), order=order)
        status, body = post_npy(server, npy_bytes(a), npy_bytes(b))
        check(f"npy 3-D {order}", status, body, a, b)
    status, body = post_npy(server, npy_bytes(va[None, None].astype("<u4")),
                            npy_bytes(vb.astype("<u4")))
    check("npy 5-D (1, 1, z, y, x)", status, body, va, vb)
    # refusals
    bad = [
        ("float dtype", npy_bytes(a2.astype("<f4")), 422, "float"),
        ("object dtype", npy_bytes(np.array([[1, 2]], dtype=object)), 422, "|O"),
        ("bool dtype", npy_bytes(a2 > 0), 422, "|b1"),
        ("1-D", npy_bytes(np.arange(10, dtype="<u2")), 422, "(10,)"),
        ("truncated", npy_bytes(a2.astype("<u2"))[:-3], 422, "b"),
        ("garbage", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<u2'", 422, "b"),
        ("shape", npy_bytes(va.astype("<u2")), 422, "depth x height x width"),
    ]
    good = npy_bytes(a2.astype("<u2"))
    for what, data, want_status, needle in bad:
        status, body = post_npy(server, good, data)
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        if status != want_status or needle not in detail:
            fail(f"npy {what}: status {status}, detail {detail!r}; want {want_status} "
                 f"with {needle!r}")


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="tessera-inputs-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    rng = np.random.default_rng(1717)
    server = Server(binary, root, ["--threads", "3"])
    try:
        npy_cases(server, rng)
    finally:
        rc = server.stop()
        if rc != 0:
            fail(f"the server exited with {rc}")
        shutil.rmtree(tmp)
    if FAILURES:
        print(f"diff_inputs_http: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    print("diff_inputs_http: all answers equal np.unique")
    return 0


if __name__ == "__main__":
    sys.exit(main())
