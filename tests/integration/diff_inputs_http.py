#!/usr/bin/python3
"""diff_inputs_http.py - POST /overlap over real HTTP on the input kinds beyond TIFF pages.

Starts the real server over a temporary data root and sends label images
  - as .npy uploads written by numpy itself (np.save and numpy.lib.format.write_array:
    format 1.0, 2.0 and 3.0, both byte orders, C and Fortran order, every integer dtype,
    2-D (y, x) and 3-D (z, y, x));
  - as Zarr v2 arrays under the root written by zarr-python (Debian's 2.13): blosc (lz4,
    zstd; byte and bit shuffle), zstd, zlib, gzip and no compressor, both dimension
    separators, C and F order, big-endian dtypes, chunks missing (the fill value), edge
    chunks, 3-D chunked in z, and an OME-NGFF 0.4 image whose labels/ group is a multiscale
    (level 0 by default, level_a / level for others), against each other and TIFF pages;
  - as Zarr v3 arrays written here by hand from the v3 spec (zarr 2.13 cannot write v3):
    bytes (both endians), transpose, zstd, gzip, blosc, "default" and "v2" chunk keys,
    missing chunks, a 3-D array and an OME-NGFF 0.5 group; sharding and floats refused;
  - as 3-D TIFF stacks written by tifffile (pages, an ImageJ hyperstack, tiles, a page
    layout that changes from page to page) with "volume", "volume_a" in bodies and pairs.
Every answer must equal np.unique on the combined (a, b) key of the same arrays (as numpy,
zarr or tifffile read them), exactly, and name the array's shape (depth only for volumes).
Malformed uploads and stores must be 4xx problems.

Usage: diff_inputs_http.py PATH/TO/tessera
"""
import io
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import numcodecs
import tifffile
import zarr

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


def zarr_write(root, name, arr, chunks, compressor=None, order="C", sep=".", fill=0,
               skip=None):
    """A Zarr v2 array under root; chunks whose index is in skip are never written."""
    z = zarr.open(os.path.join(root, name), mode="w", shape=arr.shape, chunks=chunks,
                  dtype=arr.dtype, compressor=compressor, order=order,
                  dimension_separator=sep, fill_value=fill)
    if skip is None:
        z[...] = arr
        return z[...]
    grid = [range(0, n, c) for n, c in zip(arr.shape, chunks)]
    for start in np.array(np.meshgrid(*grid, indexing="ij")).reshape(len(chunks), -1).T:
        index = tuple(int(s) // c for s, c in zip(start, chunks))
        if index in skip:
            continue
        sl = tuple(slice(int(s), int(s) + c) for s, c in zip(start, chunks))
        z[sl] = arr[sl]
    return z[...]  # as zarr reads it: the fill value where chunks are missing


def zarr_cases(server, root, rng):
    a2 = cells((130, 150), 50, rng)
    b2 = derive(a2, rng)
    compressors = [
        ("blosc-lz4", numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)),
        ("blosc-zstd", numcodecs.Blosc(cname="zstd", clevel=3,
                                       shuffle=numcodecs.Blosc.BITSHUFFLE)),
        ("blosc-noshuffle", numcodecs.Blosc(cname="blosclz", shuffle=numcodecs.Blosc.NOSHUFFLE)),
        ("zstd", numcodecs.Zstd(level=2)),
        ("zlib", numcodecs.Zlib(level=4)),
        ("gzip", numcodecs.GZip(level=6)),
        ("none", None),
    ]
    dtypes = ["<u2", ">u4", "<i4", ">i8", "|u1", "<u8", ">i2"]
    for i, (cname, comp) in enumerate(compressors):
        dt = np.dtype(dtypes[i])
        lim = np.iinfo(dt).max
        order = "F" if i % 2 else "C"
        sep = "/" if i % 3 == 0 else "."
        a = zarr_write(root, f"za{i}.zarr", (a2 % lim).astype(dt), (32, 48), comp, order, sep)
        b = zarr_write(root, f"zb{i}.zarr", (b2 % 200).astype("<u2"), (50, 40),
                       numcodecs.Zstd(), "C", ".", fill=7, skip={(0, 1), (2, 3)})
        status, body = server.post_json({"a": f"za{i}.zarr", "b": f"zb{i}.zarr"})
        check(f"zarr {cname} {dt.str} {order} '{sep}'", status, body, a, b)
    # a Zarr array against a TIFF page of the same shape, and trailing slashes
    tifffile.imwrite(os.path.join(root, "page.tif"), b2.astype("<u4"), compression="zlib")
    status, body = server.post_json({"a": "za0.zarr/", "b": "page.tif"})
    check("zarr vs tiff", status, body, zarr.open(os.path.join(root, "za0.zarr"))[...], b2)
    # volumes chunked in z, against each other and with the other array unchunked in z
    va = np.stack([cells((40, 50), 12, rng) + 100 * z for z in range(9)])
    vb = np.stack([derive(s, rng) for s in va])
    a = zarr_write(root, "va.zarr", va.astype("<u4"), (4, 16, 16), numcodecs.Blosc("zstd"))
    b = zarr_write(root, "vb.zarr", vb.astype(">u2"), (1, 40, 50), numcodecs.Zlib(), "F", "/")
    c = zarr_write(root, "vc.zarr", vb.astype("<i8"), (3, 7, 64), None, "C", ".",
                   skip={(1, 2, 0)})
    for x, y, wa, wb in (("va", "vb", a, b), ("vb", "va", b, a), ("va", "vc", a, c)):
        status, body = server.post_json({"a": f"{x}.zarr", "b": f"{y}.zarr"})
        check(f"zarr volume {x} vs {y}", status, body, wa, wb)
    # an OME-NGFF 0.4 image with a labels/ group: (t, c, z, y, x) with t = c = 1
    img = zarr.open_group(os.path.join(root, "img.ome.zarr"), mode="w")
    img.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}],
                                 "axes": [{"name": n} for n in "tczyx"]}]
    labels = img.create_group("labels")
    labels.attrs["labels"] = ["cells"]
    cells_group = labels.create_group("cells")
    cells_group.attrs["multiscales"] = [{"version": "0.4",
                                         "datasets": [{"path": "0"}, {"path": "1"}]}]
    cells_group.attrs["image-label"] = {"version": "0.4"}
    full = va[None, None].astype("<u4")
    cells_group.create_dataset("0", data=full, chunks=(1, 1, 2, 20, 25),
                               compressor=numcodecs.Blosc("lz4"), dimension_separator="/")
    cells_group.create_dataset("1", data=full[..., ::2, ::2], chunks=(1, 1, 2, 20, 25))
    status, body = server.post_json({"a": "img.ome.zarr/labels/cells", "b": "va.zarr"})
    check("ngff labels level 0", status, body, va, a)
    status, body = server.post_json({"a": "img.ome.zarr/labels/cells/0", "b": "vb.zarr"})
    check("ngff labels/cells/0", status, body, va, b)
    status, body = server.post_json({"a": "img.ome.zarr/labels/cells", "level_a": 1,
                                     "b": "img.ome.zarr/labels/cells/1"})
    check("ngff labels level 1", status, body, va[:, ::2, ::2], va[:, ::2, ::2])
    status, body = server.post_json({"pairs": [{"a": "img.ome.zarr/labels/cells", "level": 1,
                                                "b": "img.ome.zarr/labels/cells"}]})
    if status == 200:
        body = body["results"][0]
    check("ngff pair level 1 (both sides)", status, body, va[:, ::2, ::2], va[:, ::2, ::2])
    status, body = server.post_json({"pairs": [{"a": "img.ome.zarr/labels/cells", "level": 1,
                                                "level_b": 0,
                                                "b": "img.ome.zarr/labels/cells"}]})
    if status != 200 or "error" not in body["results"][0] or \
            "9 x 20 x 25" not in body["results"][0]["error"]["detail"]:
        fail(f"ngff pair level 1 vs 0: {status} {body}")
    status, body = server.post_json({"a": "img.ome.zarr/labels/cells", "level_a": 5, "b": "va.zarr"})
    if status != 422 or "level 5 does not exist" not in body.get("detail", ""):
        fail(f"ngff level 5: {status} {body}")
    tiff_stack_cases(server, root, rng, va, vb, a)
    zarr_v3_cases(server, root, rng, va, vb)
    # refusals
    zarr.open(os.path.join(root, "filtered.zarr"), mode="w", shape=(130, 150), chunks=(64, 64),
              dtype="<u2", filters=[numcodecs.Delta(dtype="<u2")])[...] = 1
    zarr.open(os.path.join(root, "float.zarr"), mode="w", shape=(130, 150), chunks=(64, 64),
              dtype="<f4")[...] = 1
    zarr.open(os.path.join(root, "small.zarr"), mode="w", shape=(13, 150), chunks=(8, 8),
              dtype="<u2")[...] = 1
    os.mkdir(os.path.join(root, "plain"))
    for what, path, want_status, needles in [
        ("filters", "filtered.zarr", 422, ["filters", "delta"]),
        ("float", "float.zarr", 422, ["float"]),
        ("shape", "small.zarr", 422, ["za0.zarr is 130 x 150", "small.zarr is 13 x 150"]),
        ("not a store", "plain", 422, ["neither a Zarr array"]),
        ("missing", "nothing.zarr", 404, []),
    ]:
        status, body = server.post_json({"a": "za0.zarr", "b": path})
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        if status != want_status or any(n not in detail for n in needles):
            fail(f"zarr {what}: status {status}, detail {detail!r}; want {want_status} "
                 f"with {needles}")


def zarr_v3_write(root, name, arr, chunks, codecs, keys="default", sep="/", fill=0,
                  skip=()):
    """A Zarr v3 array written by hand from the v3 spec (zarr 2.13 cannot write v3): arr's
    chunks encoded by codecs, in order: ("transpose", order), ("bytes", endian), and
    compressors "zstd", "gzip", "blosc". Chunks listed in skip are left out."""
    names = {np.dtype(t).str[1:]: n for t, n in [("<i1", "int8"), ("<i2", "int16"),
                                                  ("<i4", "int32"), ("<i8", "int64"),
                                                  ("<u1", "uint8"), ("<u2", "uint16"),
                                                  ("<u4", "uint32"), ("<u8", "uint64")]}
    meta_codecs = []
    for c in codecs:
        if c[0] == "transpose":
            meta_codecs.append({"name": "transpose", "configuration": {"order": list(c[1])}})
        elif c[0] == "bytes":
            meta_codecs.append({"name": "bytes", "configuration": {"endian": c[1]}})
        elif c[0] == "blosc":
            meta_codecs.append({"name": "blosc", "configuration": {
                "cname": "zstd", "clevel": 3, "shuffle": "shuffle",
                "typesize": arr.dtype.itemsize, "blocksize": 0}})
        else:
            meta_codecs.append({"name": c[0], "configuration": {"level": 1}})
    store = os.path.join(root, name)
    os.makedirs(store)
    meta = {"zarr_format": 3, "node_type": "array", "shape": list(arr.shape),
            "data_type": names[arr.dtype.str[1:]],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": {"name": keys, "configuration": {"separator": sep}},
            "fill_value": fill, "codecs": meta_codecs, "attributes": {}}
    with open(os.path.join(store, "zarr.json"), "w") as f:
        json.dump(meta, f)
    grid = [range((n + c - 1) // c) for n, c in zip(arr.shape, chunks)]
    for index in np.array(np.meshgrid(*grid, indexing="ij")).reshape(len(chunks), -1).T:
        index = tuple(int(i) for i in index)
        if index in skip:
            continue
        block = np.zeros(chunks, arr.dtype)  # edge chunks are stored at the full shape
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks))
        part = arr[sl]
        block[tuple(slice(0, n) for n in part.shape)] = part
        data = block
        for c in codecs:
            if c[0] == "transpose":
                data = np.ascontiguousarray(data.transpose(c[1]))
            elif c[0] == "bytes":
                data = data.astype(data.dtype.newbyteorder("<" if c[1] == "little" else ">"))
                data = data.tobytes()
            elif c[0] == "zstd":
                data = numcodecs.Zstd(level=1).encode(data)
            elif c[0] == "gzip":
                data = numcodecs.GZip(level=1).encode(data)
            elif c[0] == "blosc":
                data = numcodecs.Blosc("zstd", 3, numcodecs.Blosc.SHUFFLE).encode(data)
        key = sep.join(str(i) for i in index)
        key = ("c" + sep + key) if keys == "default" else key
        path = os.path.join(store, *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    full = arr.copy()
    for index in skip:
        full[tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks))] = fill
    return full


def zarr_v3_cases(server, root, rng, va, vb):
    a2 = cells((70, 90), 30, rng)
    b2 = derive(a2, rng)
    cases = [
        ("bytes", a2.astype("<u2"), (32, 32), [("bytes", "little")], "default", "/", ()),
        ("big zstd", a2.astype(">u4"), (25, 40), [("bytes", "big"), ("zstd",)], "default",
         ".", ((1, 1),)),
        ("transpose gzip", a2.astype("<i8"), (16, 90), [("transpose", (1, 0)),
                                                        ("bytes", "little"), ("gzip",)],
         "v2", ".", ()),
        ("blosc v2 keys", a2.astype("<u1"), (70, 13), [("bytes", "little"), ("blosc",)], "v2",
         "/", ((0, 2),)),
    ]
    for i, (what, arr, chunks, codecs, keys, sep, skip) in enumerate(cases):
        a = zarr_v3_write(root, f"v3a{i}.zarr", arr, chunks, codecs, keys, sep, 3, skip)
        status, body = server.post_json({"a": f"v3a{i}.zarr", "b": "v3b.zarr"} if i else
                                        {"a": f"v3a{i}.zarr", "b": "v3a0.zarr"})
        if i == 0:
            check(f"zarr v3 {what}", status, body, a, a)
            zarr_v3_write(root, "v3b.zarr", b2.astype(">i2"), (64, 64),
                          [("bytes", "big"), ("zstd",)])
        else:
            check(f"zarr v3 {what}", status, body, a, b2)
    # a 3-D v3 volume transposed in the chunk, against the v2 volume; an NGFF 0.5 group
    v = zarr_v3_write(root, "v3vol.zarr", vb.astype("<u4"), (3, 16, 20),
                      [("transpose", (2, 0, 1)), ("bytes", "little"), ("blosc",)])
    status, body = server.post_json({"a": "va.zarr", "b": "v3vol.zarr"})
    check("zarr v3 volume", status, body, va, v)
    group = os.path.join(root, "v3img.zarr")
    os.makedirs(group)
    with open(os.path.join(group, "zarr.json"), "w") as f:
        json.dump({"zarr_format": 3, "node_type": "group", "attributes": {"ome": {
            "version": "0.5", "multiscales": [{"datasets": [{"path": "s0"}]}]}}}, f)
    zarr_v3_write(group, "s0", vb.astype("<u4"), (9, 40, 50), [("bytes", "little")])
    status, body = server.post_json({"a": "va.zarr", "b": "v3img.zarr"})
    check("zarr v3 NGFF 0.5 group", status, body, va, vb)
    # sharding and floats are refused by name
    meta = {"zarr_format": 3, "node_type": "array", "shape": [4, 4], "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
            "fill_value": 0, "codecs": [{"name": "sharding_indexed", "configuration": {}}]}
    for name, m, needle in [("shard.zarr", meta, "sharding_indexed"),
                            ("f32.zarr", dict(meta, data_type="float32"), "float32")]:
        os.makedirs(os.path.join(root, name))
        with open(os.path.join(root, name, "zarr.json"), "w") as f:
            json.dump(m, f)
        status, body = server.post_json({"a": name, "b": name})
        if status != 422 or needle not in body.get("detail", ""):
            fail(f"zarr v3 {name}: {status} {body}")


def tiff_stack_cases(server, root, rng, va, vb, za):
    """3-D TIFF stacks by tifffile (pages; an ImageJ hyperstack; tiles; a page layout that
    changes) with "volume", against Zarr volumes and each other."""
    tifffile.imwrite(os.path.join(root, "stack.tif"), va.astype("<u2"))
    tifffile.imwrite(os.path.join(root, "ij.tif"), vb.astype("<u2")[:, None], imagej=True,
                     metadata={"axes": "ZCYX"})
    tifffile.imwrite(os.path.join(root, "tiled.tif"), vb.astype(">u4"), tile=(16, 16),
                     compression="zlib", byteorder=">")
    mixed = os.path.join(root, "mixed.tif")
    with tifffile.TiffWriter(mixed) as tw:
        for z, page in enumerate(va.astype("<u2")):
            tw.write(page, tile=(16, 16) if z % 2 else None, compression="zlib",
                     rowsperstrip=None if z % 2 else 5)
    cases = [
        ({"a": "stack.tif", "b": "va.zarr", "volume_a": True}, va, za),
        ({"a": "stack.tif", "b": "ij.tif", "volume": True}, va, vb),
        ({"a": "tiled.tif", "b": "mixed.tif", "volume": True}, vb, va),
        ({"pairs": [{"a": "ij.tif", "b": "stack.tif", "volume": True}]}, vb, va),
    ]
    for body_in, a, b in cases:
        status, body = server.post_json(body_in)
        if "pairs" in body_in and status == 200:
            body = body["results"][0]
        check(f"tiff stack {body_in}", status, body, a, b)
    # 2-D use keeps working: page 3 of the stack against slice 3
    status, body = server.post_json({"a": "stack.tif", "page_a": 3, "b": "tiled.tif",
                                     "page_b": 3})
    check("tiff stack page 3", status, body, va[3], vb[3])
    # pages that disagree, and volumes of different depth
    with tifffile.TiffWriter(os.path.join(root, "ragged.tif")) as tw:
        for z in range(4):
            tw.write(va[z, : 40 - (z == 2)].astype("<u2"))
    tifffile.imwrite(os.path.join(root, "short.tif"), va[:5].astype("<u2"))
    for what, req, needles in [
        ("ragged", {"a": "stack.tif", "b": "ragged.tif", "volume": True}, ["page 2 is 39 x 50"]),
        ("depth", {"a": "stack.tif", "b": "short.tif", "volume": True},
         ["stack.tif is 9 x 40 x 50", "short.tif is 5 x 40 x 50"]),
        ("volume vs page", {"a": "stack.tif", "b": "short.tif", "volume_a": True},
         ["9 x 40 x 50", "1 x 40 x 50"]),
    ]:
        status, body = server.post_json(req)
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        if status != 422 or any(n not in detail for n in needles):
            fail(f"tiff stack {what}: {status} {detail!r}, want 422 with {needles}")


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="tessera-inputs-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    rng = np.random.default_rng(1717)
    server = Server(binary, root, ["--threads", "3"])
    try:
        npy_cases(server, rng)
        zarr_cases(server, root, rng)
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
