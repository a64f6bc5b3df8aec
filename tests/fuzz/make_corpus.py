#!/usr/bin/python3
"""Build seed corpora for the fuzz targets.

usage: make_corpus.py TESSERA_BIN OUT_DIR

Writes OUT_DIR/<target>/ seeds: the demo data set's TIFFs (plain, OME, ImageJ, SubIFD
pyramid, BigTIFF, label images) in both byte orders where tifffile can rewrite them,
requests for every handler in the fuzz_handlers input format (first byte: route | type<<3,
then the query string, '\\n', then the body), the same requests as raw HTTP for fuzz_http
(plus pages, CORS, chunked bodies, pipelining and bad framing), paths for fuzz_confine,
.npy files for fuzz_npy (every integer dtype, both orders, versions 1-3) and Zarr chunks for
fuzz_zarr_codec (its 5-byte chain prefix, then a chunk from each compressor).
"""
import json
import os
import subprocess
import sys

import numpy as np
import tifffile

ROUTES = ["GET /scan", "POST /scan", "GET /classify", "POST /classify", "POST /overlap",
          "POST /topk"]
TYPES = [None, "application/json", "application/octet-stream",
         "multipart/form-data; boundary=XyZ", "text/plain"]


def handler_seed(route, ctype, query, body):
    head = bytes([ROUTES.index(route) | (TYPES.index(ctype) << 3)])
    return head + query.encode() + b"\n" + body


def multipart(parts):
    out = b""
    for name, data in parts:
        out += b"--XyZ\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\"\r\n\r\n"
        out += data + b"\r\n"
    return out + b"--XyZ--\r\n"


def raw_request(seed):
    """The fuzz_handlers seed as the HTTP request a client would send."""
    route = ROUTES[seed[0] & 7]
    ctype = TYPES[seed[0] >> 3]
    query, body = seed[1:].split(b"\n", 1)
    method, path = route.split(" ")
    target = path.encode() + (b"?" + query if query else b"")
    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: fuzz\r\n"
    if ctype:
        head += b"Content-Type: " + ctype.encode() + b"\r\n"
    if method == "POST":
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + (body if method == "POST" else b"")


def chunked(body, size=7):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


TOPK = b'{"values": [3, 1, 2], "k": 2}'
# Over fuzz_http's --max-json-nodes (200,000): refused before it is parsed.
NODES = b'{"x":[' + b",".join([b"[]"] * 210000) + b"]}"
RAW_SEEDS = {
    "healthz": b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "readyz_10": b"GET /readyz HTTP/1.0\r\n\r\n",
    "metrics": b"GET /metrics HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n",
    "openapi": b"GET /openapi.yaml HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "index_head": b"HEAD / HTTP/1.1\r\nHost: fuzz\r\nAccept: text/html\r\n\r\n",
    "options_cors": (b"OPTIONS /topk HTTP/1.1\r\nHost: fuzz\r\nOrigin: https://lab.example\r\n"
                     b"Access-Control-Request-Method: POST\r\n"
                     b"Access-Control-Request-Headers: content-type, authorization\r\n\r\n"),
    "cors_get": (b"GET /scan?dir=cyc1 HTTP/1.1\r\nHost: fuzz\r\nOrigin: https://lab.example\r\n"
                 b"X-Request-Id: abc-123\r\nAuthorization: Bearer x\r\n\r\n"),
    "chunked_topk": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + chunked(TOPK)),
    "expect_continue": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                        + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(TOPK)
                        + TOPK),
    "pipelined": (b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n"
                  b"GET /classify?path=cyc1%2FDAPI.tif HTTP/1.1\r\nHost: fuzz\r\n\r\n"
                  b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                  + b"Content-Length: %d\r\n\r\n" % len(TOPK) + TOPK),
    "te_and_cl": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "absolute_target": b"GET http://fuzz/healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "nul_target": b"GET /classify?path=a%00b HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "percent_query": b"GET /scan?dir=%63yc1&recursive=true&dir=x HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "method_405": b"DELETE /scan HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "not_found": b"GET /nope/../scan HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    # Heads libmicrohttpd 0.9.75 would read differently from a proxy (server/http_fields.h).
    "fold_cl_name": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                     + b"Content-Lengt: %d\r\n h\r\n\r\n" % len(TOPK) + TOPK),
    "fold_te": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding:\r\n chunked\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(TOPK) + TOPK),
    "space_colon": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Length : 35\r\n\r\n"
                    b"GET /readyz HTTP/1.1\r\nHost: fuzz\r\n\r\n"),
    "nul_value": b"GET /metrics HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer x\x00y\r\n\r\n",
    "nul_target": b"GET /scan?dir=cyc1\x00/../.. HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "two_host": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bare_lf": b"GET /healthz HTTP/1.1\nHost: fuzz\n\n",
    "bare_cr": b"GET /healthz HTTP/1.1\r\nHost: fuzz\rX-A: b\r\n\r\n",
    "cl_sign": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Length: +%d\r\n\r\n" % len(TOPK)
                + TOPK),
    "cl_list": (b"POST /topk HTTP/1.1\r\nHost: fuzz\r\nContent-Length: %d, %d\r\n\r\n"
                % (len(TOPK), len(TOPK)) + TOPK),
    "json_nodes": (b"POST /scan HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                   + b"Content-Length: %d\r\n\r\n" % len(NODES) + NODES),
}


def main():
    binary, out = sys.argv[1], sys.argv[2]
    demo = os.path.join(out, "demo")
    os.makedirs(out, exist_ok=True)
    subprocess.run([binary, "make-demo", demo], check=True)
    tiffs = []
    for dirpath, _, files in os.walk(demo):
        for f in files:
            if f.lower().endswith((".tif", ".tiff")):
                tiffs.append(os.path.join(dirpath, f))
    for target in ("classify", "load", "handlers", "confine", "http", "npy", "zarr_array",
                   "zarr_codec"):
        os.makedirs(os.path.join(out, target), exist_ok=True)

    def put(target, name, data):
        with open(os.path.join(out, target, name), "wb") as fh:
            fh.write(data)

    big = os.path.join(demo, "be.tif")
    tifffile.imwrite(big, np.arange(64, dtype=">u2").reshape(8, 8), byteorder=">")
    tiffs.append(big)
    tifffile.imwrite(os.path.join(demo, "bt.tif"), np.zeros((4, 4), np.uint32),
                     bigtiff=True, tile=(16, 16))
    tiffs.append(os.path.join(demo, "bt.tif"))
    for path in tiffs:
        data = open(path, "rb").read()
        name = os.path.basename(path)
        put("classify", name, data[:262144])
        if "label" in path or "truth" in name or "predicted" in name or name in ("be.tif", "bt.tif"):
            put("load", name, data)
    small = min(tiffs, key=os.path.getsize)
    seeds = {
        "scan_get": handler_seed("GET /scan", None, "dir=cyc1&recursive=true", b""),
        "scan_get_bad": handler_seed("GET /scan", None, "max_depth=-1&x=1", b""),
        "scan_post": handler_seed("POST /scan", "application/json", "",
                                  json.dumps({"dir": "", "recursive": True, "classify": True,
                                              "limit": 5}).encode()),
        "classify_get": handler_seed("GET /classify", None, "path=slides/pyramid.ome.tif", b""),
        "classify_post": handler_seed("POST /classify", "application/json", "",
                                      json.dumps({"paths": ["plate.zarr", "../x", "cyc1"]}).encode()),
        "overlap_json": handler_seed("POST /overlap", "application/json", "",
                                     json.dumps({"a": "labels/truth.tif", "b": "labels/predicted.tif",
                                                 "iou": True, "match_threshold": 0.5}).encode()),
        "overlap_pairs": handler_seed("POST /overlap", "application/json", "",
                                      json.dumps({"pairs": [{"a": "labels/truth.tif", "b": "cyc1/DAPI.tif"}]}).encode()),
        "overlap_multipart": handler_seed("POST /overlap", TYPES[3], "",
                                          multipart([("a", open(small, "rb").read()),
                                                     ("b", open(small, "rb").read()),
                                                     ("options", b'{"iou": true}')])),
        "topk_values": handler_seed("POST /topk", "application/json", "",
                                    b'{"values": [3, 1, null, 1, -0.0, 0.0], "k": 3, "largest": true}'),
        "topk_rows": handler_seed("POST /topk", "application/json", "",
                                  b'{"rows": [[0, 1, 2], [1, 0, 3], [2, 3, 0]], "k": 1, "exclude_self": true}'),
        "topk_points": handler_seed("POST /topk", "application/json", "",
                                    b'{"points": [[0, 0], [1, 0], [5, 5], [1, 1]], "k": 2}'),
        "topk_binary": handler_seed("POST /topk", "application/octet-stream",
                                    "mode=values&k=2&dtype=float64&shape=4",
                                    bytes(8) * 4),
    }
    for name, data in seeds.items():
        put("handlers", name, data)
        put("http", name, raw_request(data))
    for name, data in RAW_SEEDS.items():
        put("http", name, data)
    for i, p in enumerate(["cyc1/DAPI.tif", "../etc/passwd", "a//b/./c", "/abs", "x\x01y",
                           "%2e%2e/", "a" * 300, "cyc1/../cyc2"]):
        put("confine", "p%d" % i, p.encode())
    npy_seeds(put)
    zarr_array_seeds(put)
    zarr_codec_seeds(put)


def npy_bytes(major, header, data):
    """A .npy file: magic, version, length, header padded to 64 bytes with '\\n', data."""
    prefix = 10 if major == 1 else 12
    header = header.encode()
    pad = -(prefix + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    size = len(header).to_bytes(2 if major == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([major, 0]) + size + header + data


def npy_seeds(put):
    put("npy", "u2_c", npy_bytes(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3, 4), }",
                                 bytes(range(24))))
    put("npy", "i8_f_v2", npy_bytes(2, "{'descr': '>i8', 'fortran_order': True, 'shape': (2, 3, 2), }",
                                    bytes(range(96))))
    put("npy", "u1_v3", npy_bytes(3, "{'shape': (5,), 'fortran_order': False, 'descr': '|u1'}",
                                  b"abcde"))
    put("npy", "bad_overflow", npy_bytes(1, "{'descr': '<u2', 'fortran_order': False, "
                                         "'shape': (4294967296, 4294967296), }", b""))
    try:
        import io
        import numpy as np
    except ImportError:
        return
    rng = np.random.default_rng(7)
    for dt in ("|u1", "|i1", "<u2", ">u2", "<i4", ">i4", "<u8", ">i8"):
        for fortran in (False, True):
            a = rng.integers(0, 100, size=(5, 7), dtype=np.dtype(dt).newbyteorder("="))
            a = a.astype(dt)
            if fortran:
                a = np.asfortranarray(a)
            buf = io.BytesIO()
            np.save(buf, a)
            put("npy", "np_%s_%s" % (dt[1:] + ("be" if dt[0] == ">" else ""), "F" if fortran
                                     else "C"), buf.getvalue())
    for version in ((2, 0), (3, 0)):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.arange(24, dtype="<u4").reshape(2, 3, 4), version)
        put("npy", "np_v%d" % version[0], buf.getvalue())


def zarr_array_seeds(put):
    """fuzz_zarr_array inputs: .zarray texts as zarr-python writes them, and near misses."""
    base = {"chunks": [4, 4], "compressor": {"id": "zstd", "level": 1},
            "dimension_separator": "/", "dtype": ">u2", "fill_value": 0, "filters": None,
            "order": "F", "shape": [6, 10], "zarr_format": 2}
    put("zarr_array", "zstd_f", json.dumps(base, indent=4).encode())
    for i, (key, value) in enumerate([("compressor", None), ("filters", [{"id": "delta"}]),
                                      ("shape", [2 ** 40, 2 ** 40]), ("fill_value", -1),
                                      ("dtype", "<f4"), ("chunks", [1.5, 4]),
                                      ("compressor", {"id": "blosc", "cname": "lz4"})]):
        put("zarr_array", "variant%d" % i, json.dumps(dict(base, **{key: value})).encode())
    v3 = {"zarr_format": 3, "node_type": "array", "shape": [6, 10], "data_type": "uint16",
          "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
          "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
          "fill_value": 0, "codecs": [{"name": "transpose", "configuration": {"order": [1, 0]}},
                                      {"name": "bytes", "configuration": {"endian": "big"}},
                                      {"name": "zstd", "configuration": {"level": 1}}]}
    put("zarr_array", "v3_transpose_zstd", json.dumps(v3).encode())
    put("zarr_array", "v3_sharding", json.dumps(dict(v3, codecs=[
        {"name": "sharding_indexed", "configuration": {}}])).encode())


def zarr_codec_seeds(put):
    """fuzz_zarr_codec inputs: codec | fortran << 3 | big << 4, width | (ndim-1) << 2, dims."""
    import gzip
    import zlib
    dims = (7, 9, 1)  # a 8 x 10 chunk of 2-byte elements (1 + b % 32)
    raw = bytes((i * 7) % 251 for i in range(8 * 10 * 2))

    def head(codec, fortran=False, big=False, width_log=1, ndim=2):
        return bytes([codec | fortran << 3 | big << 4, width_log | (ndim - 1) << 2]) + bytes(dims)

    put("zarr_codec", "none", head(0) + raw)
    put("zarr_codec", "zlib", head(3) + zlib.compress(raw))
    put("zarr_codec", "gzip_f_be", head(4, True, True) + gzip.compress(raw))
    try:
        import numcodecs
    except ImportError:
        return
    put("zarr_codec", "zstd", head(2) + numcodecs.Zstd().encode(raw))
    for cname in ("lz4", "zstd", "zlib", "blosclz"):
        for shuffle in (0, 1, 2):
            enc = numcodecs.Blosc(cname=cname, shuffle=shuffle).encode(
                memoryview(raw).cast("H"))
            put("zarr_codec", "blosc_%s_%d" % (cname, shuffle), head(1) + enc)


if __name__ == "__main__":
    main()
