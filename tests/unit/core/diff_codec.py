#!/usr/bin/python3
"""diff_codec.py DRIVER - core/npy and core/zarr_codec against numpy, zarr and numcodecs.

.npy: np.save for every integer dtype in both byte orders, C and Fortran order, 1-D to 4-D,
and np.lib.format.write_array with versions (2, 0) and (3, 0); the driver (codec_driver)
reads each file in bands and its output must equal the array's native C-order bytes exactly.
numpy-written files of refused dtypes (float, bool, complex, string, object, structured)
and damaged numpy files must be refused with a message naming the problem.

Zarr v2: stores written by zarr 2.13 with every compressor numcodecs offers that Tessera
reads (Blosc with each cname and shuffle, Zstd, Zlib, GZip, none), C and F order, both
dimension separators, 2-D and 3-D with partial edge chunks; every chunk file the store holds
is decoded by the driver and must equal numcodecs' own decoding of it (and, inside the
array, the array). Compressors Tessera does not read (LZ4, BZ2, LZMA) must be refused by
name. Zarr v3: chunks encoded here from the specification (bytes + zstd, bytes big-endian +
gzip, transpose + bytes + blosc, stacked compressors), since zarr 2.13 cannot write v3.
Hostile chunks: truncated, wrong shape, a gzip bomb.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numcodecs
import numpy as np
import zarr

DRIVER = sys.argv[1]
RNG = np.random.default_rng(20240917)
TMP = tempfile.mkdtemp(prefix="diff_codec_")
PASSED = 0
FAILED = 0

INT_DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"]


def check(ok, msg):
    global PASSED, FAILED
    if ok:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", msg, file=sys.stderr)
    return ok


def run(args):
    p = subprocess.run([DRIVER] + [str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout.strip()


def values(dtype, shape):
    info = np.iinfo(dtype)
    a = RNG.integers(info.min, info.max, size=shape, dtype=np.dtype(dtype).newbyteorder("="),
                     endpoint=True)
    return a.astype(dtype)


def native_bytes(a):
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="))).tobytes(order="C")


# --------------------------------------------------------------------------------------------
# .npy


def npy_case(path, a, version=None):
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as fh:
            np.lib.format.write_array(fh, a, version=version)
    out = path + ".out"
    band = int(RNG.integers(1, 8))
    rc, text = run(["npy", path, out, band])
    what = "%s %s %s version %s" % (a.dtype.str, a.shape,
                                      "F" if np.isfortran(a) else "C", version)
    if not check(rc == 0, "%s: driver failed: %s" % (what, text)):
        return
    want_shape = ",".join(str(d) for d in a.shape)
    check("shape=%s " % want_shape in text, "%s: shape in %s" % (what, text))
    check(("fortran=%d" % (1 if np.isfortran(a) and a.ndim > 1 else 0)) in text or
          a.ndim == 1, "%s: order in %s" % (what, text))
    got = open(out, "rb").read()
    check(got == native_bytes(a), "%s: values differ" % what)


def test_npy():
    shapes = [(37, 53), (5, 17, 23), (41,), (2, 3, 4, 5), (1, 64), (64, 1)]
    versions = [None, (2, 0), (3, 0)]
    n = 0
    for dt in INT_DTYPES:
        for order in "<>":
            if dt.endswith("1") and order == ">":
                continue
            for shape in shapes:
                for fortran in (False, True):
                    a = values(order + dt, shape)
                    if fortran:
                        a = np.asfortranarray(a)
                    npy_case(os.path.join(TMP, "a%d.npy" % n), a, versions[n % 3])
                    n += 1
    # Refused dtypes, written by numpy itself.
    refused = {
        "f4": (np.zeros((3, 4), np.float32), "'<f4' is a float dtype"),
        "b1": (np.zeros((3, 4), np.bool_), "'|b1' is a bool dtype"),
        "c8": (np.zeros((3, 4), np.complex64), "'<c8' is a complex dtype"),
        "U3": (np.array(["abc", "de"]), "'<U3' is a string dtype"),
        "O": (np.array([1, "x"], dtype=object), "'|O' is an object dtype"),
        "rec": (np.zeros(3, dtype=[("a", "<u2"), ("b", "<u4")]), "structured dtype"),
        "M8": (np.zeros(3, dtype="M8[ns]"), "'<M8[ns]' is a datetime dtype"),
    }
    for name, (a, want) in refused.items():
        path = os.path.join(TMP, "r_%s.npy" % name)
        np.save(path, a, allow_pickle=True)
        rc, text = run(["npy", path, path + ".out", 4])
        check(rc == 1 and text.startswith("error unprocessable") and want in text,
              "%s: %s" % (name, text))
    scalar = os.path.join(TMP, "scalar.npy")
    np.save(scalar, np.uint16(7))
    rc, text = run(["npy", scalar, scalar + ".out", 1])
    check(rc == 1 and "shape () is a scalar" in text, "scalar: %s" % text)
    # Damaged numpy files.
    good = os.path.join(TMP, "good.npy")
    np.save(good, values("<u2", (20, 30)))
    raw = open(good, "rb").read()
    damaged = {
        "short": (raw[:-1], "data is 1199 bytes but shape and dtype need 1200"),
        "long": (raw + b"\0", "data is 1201 bytes but shape and dtype need 1200"),
        "no_data": (raw[:128], "data is 0 bytes"),
        "cut_header": (raw[:40], "truncated .npy header"),
        "header_len": (raw[:8] + b"\xff\xff" + raw[10:], "header length 65535 is over"),
        "header_short": (raw[:8] + b"\x30\x00" + raw[10:], ".npy header"),
        "key": (raw.replace(b"'shape'", b"'shap3'"), "unknown key 'shap3'"),
        "negative": (raw.replace(b"(20, 30)", b"(20, -3)"), "negative dimension"),
        "latin1": (raw.replace(b"}", b"}\xe9", 1)[:-1], "non-ASCII byte 0xe9"),
    }
    for name, (data, want) in damaged.items():
        path = os.path.join(TMP, "d_%s.npy" % name)
        open(path, "wb").write(data)
        rc, text = run(["npy", path, path + ".out", 3])
        check(rc == 1 and text.startswith("error unprocessable") and want in text,
              "%s: %s" % (name, text))


# --------------------------------------------------------------------------------------------
# Zarr v2


def compressors():
    out = [None, numcodecs.Zstd(level=1), numcodecs.Zstd(level=19), numcodecs.Zlib(level=1),
           numcodecs.GZip(level=6)]
    for cname in ("lz4", "lz4hc", "zstd", "zlib", "blosclz"):
        for shuffle in (numcodecs.Blosc.NOSHUFFLE, numcodecs.Blosc.SHUFFLE,
                        numcodecs.Blosc.BITSHUFFLE):
            out.append(numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle))
    return out


def chunk_files(store):
    for dirpath, _, files in os.walk(store):
        for f in files:
            if not f.startswith("."):
                yield os.path.join(dirpath, f)


def zarr_case(n, compressor, dtype, order, sep, shape, chunks):
    store = os.path.join(TMP, "z%d.zarr" % n)
    a = values(dtype, shape)
    z = zarr.open(zarr.DirectoryStore(store, dimension_separator=sep), mode="w", shape=shape,
                  chunks=chunks, dtype=dtype, compressor=compressor, order=order, fill_value=0)
    z[...] = a
    meta = json.load(open(os.path.join(store, ".zarray")))
    comp = meta["compressor"]
    what = "%s %s order %s sep %r %s" % (comp["id"] if comp else "none", meta["dtype"],
                                          meta["order"], sep, shape)
    files = sorted(chunk_files(store))
    args = ["chunk2", meta["dtype"], meta["order"], comp["id"] if comp else "none",
            ",".join(str(c) for c in meta["chunks"])]
    for f in files:
        args += [f, f + ".out"]
    rc, text = run(args)
    if not check(rc == 0, "%s: %s" % (what, text)):
        return
    codec = numcodecs.get_codec(comp) if comp else None
    root = os.path.join(store, "")
    for f in files:
        raw = open(f, "rb").read()
        dec = codec.decode(raw) if codec else raw
        want = np.frombuffer(dec, dtype=meta["dtype"]).reshape(meta["chunks"], order=meta["order"])
        got = open(f + ".out", "rb").read()
        check(got == native_bytes(want), "%s: chunk %s differs from numcodecs" % (what, f))
        # Inside the array the chunk holds the array's values.
        key = f[len(root):].replace("/", ".")
        idx = [int(k) for k in key.split(".")]
        sl = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, shape))
        part = want[tuple(slice(0, s.stop - s.start) for s in sl)]
        check(np.array_equal(part, a[sl]), "%s: chunk %s is not the array" % (what, key))
    check(len(files) == int(np.prod([-(-s // c) for s, c in zip(shape, chunks)])),
          "%s: chunk count" % what)


def test_zarr_v2():
    n = 0
    all_dtypes = [o + d for d in INT_DTYPES for o in "<>" if not (d.endswith("1") and o == ">")]
    for compressor in compressors():
        for k in range(2):
            dtype = all_dtypes[n % len(all_dtypes)]
            order = "CF"[k]
            sep = "./"[n % 2]
            if n % 3 == 2:
                shape, chunks = (5, 30, 40), (2, 16, 16)
            else:
                shape, chunks = (45, 70), (16, 32)
            zarr_case(n, compressor, dtype, order, sep, shape, chunks)
            n += 1
    # Compressors numcodecs offers that Tessera does not read: refused by name.
    for comp, name in ((numcodecs.LZ4(), "lz4"), (numcodecs.BZ2(), "bz2"),
                       (numcodecs.LZMA(), "lzma")):
        store = os.path.join(TMP, "u_%s.zarr" % name)
        z = zarr.open(store, mode="w", shape=(8, 8), chunks=(4, 4), dtype="<u2",
                      compressor=comp)
        z[...] = 1
        f = os.path.join(store, "0.0")
        rc, text = run(["chunk2", "<u2", "C", name, "4,4", f, f + ".out"])
        check(rc == 1 and "codec '%s' is not supported" % name in text, "%s: %s" % (name, text))


# --------------------------------------------------------------------------------------------
# Zarr v3, encoded from the specification


def v3_case(name, a, codecs, encode):
    path = os.path.join(TMP, "v3_%s" % name)
    open(path, "wb").write(encode(a))
    rc, text = run(["chunk3", a.dtype.itemsize, ",".join(str(s) for s in a.shape), codecs, path,
                    path + ".out"])
    if check(rc == 0, "v3 %s: %s" % (name, text)):
        check(open(path + ".out", "rb").read() == native_bytes(a), "v3 %s: values differ" % name)


def test_zarr_v3():
    a = values("<u2", (32, 48))
    v3_case("bytes_zstd", a, "bytes=little;zstd",
            lambda x: numcodecs.Zstd(level=3).encode(x.astype("<u2").tobytes()))
    b = values("<i4", (4, 20, 24))
    v3_case("bytes_big_gzip", b, "bytes=big;gzip",
            lambda x: gzip.compress(x.astype(">i4").tobytes()))
    c = values("<u8", (3, 10, 12))
    order = (2, 0, 1)  # encoded = transpose(decoded, order), stored in C order
    v3_case("transpose_bytes_blosc", c, "transpose=2,0,1;bytes=little;blosc",
            lambda x: numcodecs.Blosc(cname="zstd", shuffle=numcodecs.Blosc.BITSHUFFLE).encode(
                np.ascontiguousarray(np.transpose(x, order)).astype("<u8").tobytes()))
    d = values("<u4", (16, 9))
    v3_case("transpose_big_zstd_gzip", d, "transpose=1,0;bytes=big;zstd;gzip",
            lambda x: gzip.compress(numcodecs.Zstd().encode(
                np.ascontiguousarray(x.T).astype(">u4").tobytes())))
    e = values("|u1", (7, 5, 3))
    v3_case("two_transposes", e, "transpose=1,2,0;transpose=2,0,1;bytes",
            lambda x: np.ascontiguousarray(np.transpose(np.transpose(x, (1, 2, 0)),
                                                        (2, 0, 1))).tobytes())
    path = os.path.join(TMP, "v3_shard")
    open(path, "wb").write(b"\0" * 16)
    rc, text = run(["chunk3", 2, "4,4", "sharding_indexed", path, path + ".out"])
    check(rc == 1 and "codec 'sharding_indexed' is not supported" in text, "sharding: %s" % text)


# --------------------------------------------------------------------------------------------
# Hostile chunks


def test_hostile():
    a = values("<u2", (64, 64))
    raw = a.tobytes()
    cases = {
        "zstd_cut": ("zstd", numcodecs.Zstd().encode(raw)[:-5], "zstd data is corrupt"),
        "gzip_cut": ("gzip", numcodecs.GZip().encode(raw)[:-9], "gzip data is truncated"),
        "zlib_cut": ("zlib", numcodecs.Zlib().encode(raw)[:100], "zlib data is truncated"),
        "blosc_cut": ("blosc", numcodecs.Blosc().encode(raw)[:-3], "compressed bytes"),
        "none_cut": ("none", raw[:-2], "uncompressed chunk has 8190 bytes"),
        "blosc_big": ("blosc", numcodecs.Blosc().encode(values("<u2", (64, 65)).tobytes()),
                      "blosc header says 8320 decoded bytes, the chunk needs 8192"),
        "zstd_big": ("zstd", numcodecs.Zstd().encode(raw + raw), "declares 16384 decoded"),
        "zlib_big": ("zlib", numcodecs.Zlib().encode(raw + b"x"), "more than the 8192"),
        "gzip_small": ("gzip", numcodecs.GZip().encode(raw[:-2]), "decodes to 8190 bytes"),
    }
    zc = zlib.compressobj(1, zlib.DEFLATED, 31)
    bomb = zc.compress(bytes(1 << 28)) + zc.flush()  # 256 MiB of zeros in ~250 KB
    cases["gzip_bomb"] = ("gzip", bomb, "gzip data decodes to more than the 8192 bytes")
    for name, (comp, data, want) in cases.items():
        path = os.path.join(TMP, "h_%s" % name)
        open(path, "wb").write(data)
        rc, text = run(["chunk2", "<u2", "C", comp, "64,64", path, path + ".out"])
        check(rc == 1 and text.startswith("error unprocessable h_%s: " % name) and want in text,
              "%s: %s" % (name, text))


def main():
    try:
        test_npy()
        test_zarr_v2()
        test_zarr_v3()
        test_hostile()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("diff_codec: %d passed, %d failed" % (PASSED, FAILED))
    sys.exit(0 if FAILED == 0 and PASSED > 0 else 1)


if __name__ == "__main__":
    main()
