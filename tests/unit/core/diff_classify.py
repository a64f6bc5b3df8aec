#!/usr/bin/python3
"""diff_classify.py - differential test of core/classify.c against independent readers.

Usage: diff_classify.py CLASSIFY_DRIVER

Writes TIFFs with tifffile (plain, multi-page, BigTIFF, tiled, ImageJ, OME with several
channels, OME pyramid with SubIFDs, a SubIFD pyramid without OME, an Aperio-style tiled
file, big-endian, compressed), with libvips (`vips tiffsave --tile --pyramid`, --bigtiff,
JPEG pyramid) and with libtiff's tiffcp (LZW, deflate, tiled, BigTIFF, multi-page), plus
Zarr stores written by python3-zarr and hand-made bad files. For every file, the driver's
answer must agree with tifffile's own flags (is_ome, is_imagej, is_bigtiff, is_tiled,
len(pages), series[0] levels, width, height, dtype, OME channels) and with OpenSlide's
detect_format (vendor). Exit status 1 on any disagreement.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import tifffile

try:
    import openslide
except ImportError:  # required: the vendor check is part of the test, never skipped
    sys.exit("diff_classify: python3-openslide is missing (scripts/deps.sh test installs it)")

try:
    import zarr
except ImportError:
    zarr = None

failures = []


def fail(path, what, ours, theirs):
    failures.append(f"{os.path.basename(path)}: {what}: ours={ours!r} reference={theirs!r}")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_tifffile(d):
    files = []

    def w(name, data, **kw):
        p = os.path.join(d, name)
        tifffile.imwrite(p, data, **kw)
        files.append(p)

    rng = np.random.default_rng(1)
    w("tf_plain.tif", rng.integers(0, 255, (61, 83), dtype=np.uint8))
    w("tf_pages.tif", np.zeros((7, 40, 30), np.uint16), metadata=None)
    w("tf_float.tif", np.zeros((20, 20), np.float32))
    w("tf_int32.tif", np.zeros((20, 20), np.int32))
    w("tf_rgb.tif", np.zeros((32, 48, 3), np.uint8), photometric="rgb")
    w("tf_big.tif", np.zeros((3, 50, 70), np.uint16), bigtiff=True)
    w("tf_tiled.tif", np.zeros((300, 200), np.uint8), tile=(64, 64))
    w("tf_big_tiled.tif", np.zeros((300, 200), np.uint16), tile=(32, 32), bigtiff=True)
    w("tf_zlib.tif", np.zeros((100, 100), np.uint16), compression="zlib")
    w("tf_be.tif", np.zeros((2, 20, 30), np.uint16), byteorder=">")
    w("tf_imagej.tif", np.zeros((5, 64, 64), np.uint8), imagej=True)
    w("tf_imagej16.tif", np.zeros((2, 3, 32, 32), np.uint16), imagej=True,
      metadata={"axes": "ZCYX"})
    w("tf_ome.ome.tif", np.zeros((4, 64, 64), np.uint16), ome=True, metadata={"axes": "CYX"})
    w("tf_ome_zct.ome.tif", np.zeros((2, 3, 5, 32, 32), np.uint8), ome=True,
      metadata={"axes": "TCZYX"})
    w("tf_aperio.svs", np.zeros((256, 256, 3), np.uint8), tile=(64, 64), photometric="rgb",
      description="Aperio Image Library v12.0.15 \n256x256 (64x64) RGB|AppMag = 20",
      metadata=None)
    w("tf_not_ome_name.ome.tif", np.zeros((16, 16), np.uint8), metadata=None,
      description="stitched by hand")

    for name, ome in (("tf_pyr_sub.ome.tif", True), ("tf_pyr_sub.tif", False)):
        p = os.path.join(d, name)
        data = np.zeros((2, 512, 384), np.uint8)
        with tifffile.TiffWriter(p, ome=ome) as tw:
            tw.write(data, subifds=3, tile=(64, 64), metadata={"axes": "CYX"})
            for _ in range(3):
                data = data[:, ::2, ::2]
                tw.write(data, subfiletype=1, tile=(64, 64))
        files.append(p)
    return files


def make_vips(d):
    files = []
    if shutil.which("vips") is None:
        failures.append("vips CLI missing (install libvips-tools)")
        return files
    src = os.path.join(d, "v_src.tif")
    run(["vips", "black", src, "1500", "1100", "--bands", "3"])
    files.append(src)
    for name, extra in (
        ("v_pyr.tif", ["--tile", "--pyramid", "--tile-width", "128", "--tile-height", "128"]),
        ("v_pyr_jpeg.tif", ["--tile", "--pyramid", "--compression", "jpeg"]),
        ("v_big.tif", ["--tile", "--bigtiff"]),
        ("v_big_pyr.tif", ["--tile", "--pyramid", "--bigtiff", "--compression", "deflate"]),
        ("v_lzw_strips.tif", ["--compression", "lzw"]),
    ):
        p = os.path.join(d, name)
        run(["vips", "tiffsave", src, p] + extra)
        files.append(p)
    return files


def make_tiffcp(d, srcs):
    files = []
    if shutil.which("tiffcp") is None:
        failures.append("tiffcp missing (install libtiff-tools)")
        return files
    for name, args in (
        ("cp_lzw.tif", ["-c", "lzw"]),
        ("cp_zip_tiled.tif", ["-c", "zip", "-t", "-w", "32", "-l", "32"]),
        ("cp_big.tif", ["-8"]),
        ("cp_big_tiled.tif", ["-8", "-t"]),
        ("cp_be.tif", ["-B"]),
    ):
        p = os.path.join(d, name)
        run(["tiffcp"] + args + [srcs[0], p])
        files.append(p)
    p = os.path.join(d, "cp_multi.tif")
    run(["tiffcp"] + srcs + [p])
    files.append(p)
    return files


def ifd_chain(path):
    """(byteorder, [IFD offsets], [next-pointer positions]) of a classic TIFF."""
    b = open(path, "rb").read()
    bo = "<" if b[:2] == b"II" else ">"
    off = struct.unpack(bo + "I", b[4:8])[0]
    offs, nexts = [], []
    while off:
        n = struct.unpack(bo + "H", b[off:off + 2])[0]
        offs.append(off)
        nexts.append(off + 2 + 12 * n)
        off = struct.unpack(bo + "I", b[off + 2 + 12 * n:off + 6 + 12 * n])[0]
    return bo, offs, nexts


def make_bad(d, good_multi):
    """name -> (path, expected error substring or None for container unknown)."""
    bad = {}

    def put(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    bad["empty.tif"] = (put("empty.tif", b""), None)
    bad["png.tif"] = (put("png.tif", b"\x89PNG\r\n\x1a\n" + b"\0" * 40), None)
    bad["text.tif"] = (put("text.tif", b"hello, world\n"), None)
    raw = open(good_multi, "rb").read()
    bo, offs, nexts = ifd_chain(good_multi)
    loop = bytearray(raw)
    loop[nexts[-1]:nexts[-1] + 4] = struct.pack(bo + "I", offs[0])
    bad["loop.tif"] = (put("loop.tif", bytes(loop)), "IFD loop")
    badoff = bytearray(raw)
    badoff[4:8] = struct.pack(bo + "I", len(raw) + 4096)
    bad["badoff.tif"] = (put("badoff.tif", bytes(badoff)), "outside the file")
    bad["trunc.tif"] = (put("trunc.tif", raw[: len(raw) // 2]), "corrupt TIFF")
    # tifffile puts IFDs before the data: a cut in the pixel data only
    p = os.path.join(d, "tf_trunc_src.tif")
    tifffile.imwrite(p, np.zeros((64, 64), np.uint16), metadata=None)
    raw = open(p, "rb").read()
    os.unlink(p)
    bad["tf_trunc.tif"] = (put("tf_trunc.tif", raw[: len(raw) - 100]), "past the end")
    dirp = os.path.join(d, "dir.tif")
    os.mkdir(dirp)
    bad["dir.tif"] = (dirp, None)
    return bad


ngff_meta = {}  # path -> the attributes a store was written with, the reference for NGFF
ngff_labels = {}  # path -> the label images written into its labels/ group


def check_ngff(p, o):
    """physical_size, size_z/size_t and channel_names from the attributes written."""
    attrs = ngff_meta[p]
    ms = attrs["multiscales"][0]
    names = [a["name"] for a in ms["axes"]]
    scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
    shape = zarr.open(os.path.join(p, ms["datasets"][0]["path"]), mode="r").shape
    want = {"x": scale[names.index("x")], "y": scale[names.index("y")],
            "z": scale[names.index("z")], "unit_x": ms["axes"][names.index("x")]["unit"],
            "unit_y": ms["axes"][names.index("y")]["unit"],
            "unit_z": ms["axes"][names.index("z")]["unit"], "source": "ngff"}
    got = o.get("physical_size") or {}
    for k, v in want.items():
        if got.get(k) != v:
            fail(p, f"physical_size.{k}", got.get(k), v)
    for k, axis in (("size_z", "z"), ("size_t", "t")):
        if o.get(k) != shape[names.index(axis)]:
            fail(p, k, o.get(k), shape[names.index(axis)])
    if o.get("labels") != ngff_labels.get(p, []):
        fail(p, "labels", o.get("labels"), ngff_labels.get(p, []))
    labels = [c["label"] for c in attrs["omero"]["channels"]]
    if o.get("channel_names") != labels:
        fail(p, "channel_names", o.get("channel_names"), labels)


def make_zarr(d):
    """path -> expected (format, levels)."""
    out = {}
    if zarr is None:
        failures.append("python3-zarr missing: Zarr stores not written")
        return out
    p = os.path.join(d, "z_array.zarr")
    zarr.open(p, mode="w", shape=(3, 100, 120), chunks=(1, 50, 60), dtype="u2")
    out[p] = ("zarr", 1, 120, 100, "uint16")
    p = os.path.join(d, "z_group.zarr")
    zarr.open_group(p, mode="w").create_dataset("a", shape=(4, 4), dtype="f4")
    out[p] = ("zarr", 0, 0, 0, None)
    p = os.path.join(d, "z_ngff.zarr")
    g = zarr.open_group(p, mode="w")
    shape = (2, 256, 320)
    datasets = []
    for level in range(3):
        g.create_dataset(str(level), shape=shape, chunks=(1, 64, 64), dtype="u1")
        datasets.append({"path": str(level)})
        shape = (shape[0], shape[1] // 2, shape[2] // 2)
    g.attrs["multiscales"] = [{
        "version": "0.4-dev-spatialdata",
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                 {"name": "x", "type": "space"}],
        "datasets": datasets}]
    out[p] = ("ome-zarr", 3, 320, 256, "uint8")
    p = os.path.join(d, "z_bf2raw.zarr")
    root = zarr.open_group(p, mode="w")
    root.attrs["bioformats2raw.layout"] = 3
    s0 = root.create_group("0")
    s0.create_dataset("0", shape=(1, 1, 1, 64, 96), dtype="u2")
    s0.create_dataset("1", shape=(1, 1, 1, 32, 48), dtype="u2")
    s0.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}]}]
    os.makedirs(os.path.join(p, "OME"))
    with open(os.path.join(p, "OME", "METADATA.ome.xml"), "w") as f:
        f.write("<OME/>")
    out[p] = ("ome-zarr", 2, 96, 64, "uint16")
    # OME-NGFF 0.1-0.3 write no axes: arrays are (t, c, z, y, x) by those versions' spec
    for version in ("0.1", "0.2", "0.3"):
        p = os.path.join(d, f"z_ngff{version.replace('.', '')}.zarr")
        g = zarr.open_group(p, mode="w")
        g.create_dataset("0", shape=(1, 3, 1, 64, 80), chunks=(1, 1, 1, 32, 32), dtype="u2")
        g.attrs["multiscales"] = [{"version": version, "datasets": [{"path": "0"}]}]
        out[p] = ("ome-zarr", 1, 80, 64, "uint16", 3)
    # OME-NGFF 0.4: scale with axis units, omero channel labels, z and t
    p = os.path.join(d, "z_ngff04_phys.zarr")
    g = zarr.open_group(p, mode="w")
    g.create_dataset("0", shape=(4, 2, 7, 64, 80), chunks=(1, 1, 1, 32, 32), dtype="u1")
    axes = [{"name": "t", "type": "time", "unit": "second"},
            {"name": "c", "type": "channel"},
            {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    scale = [1.0, 1.0, 2.5, 0.325, 0.33]
    g.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}]
    g.attrs["omero"] = {"channels": [{"label": "DAPI"}, {"label": "GFP"}]}
    labels = g.create_group("labels")
    labels.attrs["labels"] = ["cells", "nuclei"]
    cells = labels.create_group("cells")
    cells.create_dataset("0", shape=(4, 1, 7, 64, 80), dtype="u4")
    cells.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]
    cells.attrs["image-label"] = {"version": "0.4", "colors": [
        {"label-value": 1, "rgba": [255, 0, 0, 255]}, {"label-value": 2, "rgba": [0, 255, 0, 255]}],
        "source": {"image": "../../"}}
    labels.create_group("nuclei")  # listed, without image-label metadata
    out[p] = ("ome-zarr", 1, 80, 64, "uint8", 2)
    ngff_meta[p] = g.attrs.asdict()
    ngff_labels[p] = [{"name": "cells", "image_label": True, "colors": 2, "source": "../../"},
                      {"name": "nuclei", "image_label": False, "colors": 0, "source": ""}]
    return out


# TIFF Compression codes /overlap decodes (README "Input kinds"): none, LZW, deflate (both
# codes), PackBits, zstd, LZMA; the reference for a stack's overlap_volume.
OVERLAP_CODECS = {1, 5, 8, 32946, 32773, 50000, 34925}


def make_stacks(d):
    """TIFF stacks written by tifffile: path -> expected stack source (None: not a stack)."""
    out = {}
    z = np.zeros

    def w(name, data, source, **kw):
        p = os.path.join(d, name)
        if "photometric" not in kw and not kw.get("imagej") and not kw.get("ome"):
            kw["photometric"] = "minisblack"  # pages, not samples of one page
        tifffile.imwrite(p, data, **kw)
        out[p] = source

    w("s_pages.tif", z((7, 40, 30), np.uint16), "pages", metadata=None)
    w("s_pages_deflate.tif", z((4, 64, 48), np.uint32), "pages", compression="zlib",
      metadata=None)
    w("s_pages_tiled.tif", z((3, 64, 64), np.int16), "pages", tile=(32, 32), metadata=None,
      compression="zlib")
    w("s_imagej.tif", z((5, 64, 64), np.uint8), "imagej", imagej=True)
    w("s_hyperstack.tif", z((2, 3, 32, 32), np.uint16), "imagej", imagej=True,
      metadata={"axes": "ZCYX"})
    w("s_ome_z.ome.tif", z((6, 32, 40), np.uint16), "ome", ome=True, metadata={"axes": "ZYX"})
    w("s_float.tif", z((3, 16, 16), np.float32), "pages", metadata=None)
    w("s_rgb.tif", z((2, 16, 16, 3), np.uint8), "pages", photometric="rgb", metadata=None)
    w("s_single.tif", z((16, 16), np.uint8), None, metadata=None)
    p = os.path.join(d, "s_mixed.tif")
    with tifffile.TiffWriter(p) as tw:
        tw.write(z((64, 64), np.uint8), metadata=None)
        tw.write(z((64, 64), np.uint8), metadata=None)
        tw.write(z((32, 32), np.uint8), metadata=None)
    out[p] = None
    return out


def series_reference(tf):
    """Runs of consecutive pages alike in shape, dtype, compression and strip/tile layout."""
    runs = []
    for i, page in enumerate(tf.pages):
        tiled = page.is_tiled
        key = (page.imagewidth, page.imagelength, page.samplesperpixel, str(page.dtype),
               int(page.compression), tiled,
               (page.tilewidth, page.tilelength) if tiled else min(page.rowsperstrip,
                                                                   page.imagelength))
        if runs and runs[-1][0] == key:
            runs[-1][1]["pages"] += 1
            continue
        runs.append((key, {"first_page": i, "pages": 1, "width": page.imagewidth,
                           "height": page.imagelength, "dtype": str(page.dtype),
                           "layout": "tiles" if tiled else "strips",
                           "tile_width": page.tilewidth if tiled else 0,
                           "tile_height": page.tilelength if tiled else 0,
                           "rows_per_strip": 0 if tiled else key[6]}))
    return [r[1] for r in runs]


def check_stacks(ours, stacks):
    for p, source in stacks.items():
        o = ours[p]
        if "error" in o:
            fail(p, "error", o["detail"], "tifffile reads it")
            continue
        with tifffile.TiffFile(p) as tf:
            pages = list(tf.pages)
            runs = series_reference(tf)
            got = [{k: v for k, v in r.items() if k != "compression"} for r in o["series"]]
            if got != runs[:3] or o["series_count"] != len(runs):
                fail(p, "series", (o["series_count"], got), (len(runs), runs[:3]))
            st = o["stack"]
            if source is None:
                if st is not None:
                    fail(p, "stack", st, None)
                continue
            if st is None:
                fail(p, "stack", None, source)
                continue
            p0 = pages[0]
            want = {"source": source, "shape": [len(pages), p0.imagelength, p0.imagewidth],
                    "dtype": str(p0.dtype)}
            if source == "imagej":
                want["slices"] = tf.imagej_metadata.get("slices", 0)
            if source == "ome":
                sh = tf.series[0]
                want["slices"] = sh.shape[sh.axes.index("Z")]
            alike = all((q.shape, q.dtype) == (p0.shape, p0.dtype) for q in pages)
            accepts = alike and all(
                q.samplesperpixel == 1 and q.dtype.kind in "ui" and
                int(q.compression) in OVERLAP_CODECS for q in pages)
            want["overlap_volume"] = accepts
            for k, v in want.items():
                if st.get(k) != v:
                    fail(p, f"stack.{k}", st.get(k), v)
            if accepts != (st.get("overlap_detail") is None):
                fail(p, "stack.overlap_detail", st.get("overlap_detail"), accepts)


def write_v3(path, meta, attrs=None):
    """A Zarr v3 array written byte by byte from the spec: zarr.json only (no chunks: every
    chunk is missing, so the fill value)."""
    os.makedirs(path, exist_ok=True)
    doc = dict(meta, zarr_format=3, node_type="array")
    if attrs is not None:
        doc["attributes"] = attrs
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(doc, f)
    zarr_layouts[path] = doc


zarr_layouts = {}  # path -> the metadata dict a layout store was written with


def v2_codec_summary(meta):
    """The codec summary README documents, from a .zarray dict."""
    parts = [f["id"] for f in (meta.get("filters") or [])]
    c = meta.get("compressor")
    if c is None:
        parts.append("none") if not parts else None
    elif c["id"] == "blosc":
        shuffle = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: "autoshuffle"}
        parts.append(f"blosc/{c['cname']}/{shuffle[c['shuffle']]}")
    else:
        parts.append(c["id"])
    return "+".join(parts)


def make_zarr_layouts(d):
    """Stores written by python3-zarr (v2) and by hand (v3) for the layout report."""
    import numcodecs
    if zarr is None:
        return
    v2 = {
        "zl_blosc_lz4.zarr": dict(compressor=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)),
        "zl_blosc_zstd_bit.zarr": dict(
            compressor=numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)),
        "zl_blosc_blosclz_no.zarr": dict(
            compressor=numcodecs.Blosc("blosclz", 1, numcodecs.Blosc.NOSHUFFLE)),
        "zl_blosc_zlib.zarr": dict(compressor=numcodecs.Blosc("zlib", 1)),
        "zl_blosc_lz4hc.zarr": dict(compressor=numcodecs.Blosc("lz4hc", 1)),
        "zl_zstd.zarr": dict(compressor=numcodecs.Zstd(3)),
        "zl_zlib.zarr": dict(compressor=numcodecs.Zlib(1)),
        "zl_gzip.zarr": dict(compressor=numcodecs.GZip(1)),
        "zl_none.zarr": dict(compressor=None),
        "zl_fortran.zarr": dict(order="F", dtype=">u2", fill_value=7),
        "zl_slash.zarr": dict(dimension_separator="/", dtype="<i8", fill_value=-3),
        "zl_float.zarr": dict(dtype="<f4", fill_value=float("nan")),
        "zl_delta.zarr": dict(filters=[numcodecs.Delta(dtype="<u4")]),
    }
    for name, kw in v2.items():
        p = os.path.join(d, name)
        kw.setdefault("dtype", "<u4")
        a = zarr.open(p, mode="w", shape=(3, 50, 70), chunks=(1, 32, 32), **kw)
        a[0, :5, :5] = 1
        with open(os.path.join(p, ".zarray")) as f:
            zarr_layouts[p] = json.load(f)
    base = {"shape": [2, 40, 60], "data_type": "uint16", "fill_value": 0,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, 16, 32]}}}
    write_v3(os.path.join(d, "zl_v3_blosc.zarr"), dict(
        base, chunk_key_encoding={"name": "default"},
        codecs=[{"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5,
                                                    "shuffle": "shuffle", "typesize": 2,
                                                    "blocksize": 0}}]))
    write_v3(os.path.join(d, "zl_v3_zstd_v2keys.zarr"), dict(
        base, data_type="int32", fill_value=-5,
        chunk_key_encoding={"name": "v2", "configuration": {"separator": "."}},
        codecs=[{"name": "transpose", "configuration": {"order": [2, 1, 0]}},
                {"name": "bytes", "configuration": {"endian": "big"}},
                {"name": "zstd", "configuration": {"level": 1, "checksum": False}}]))
    write_v3(os.path.join(d, "zl_v3_sharded.zarr"), dict(
        base, chunk_key_encoding={"name": "default", "configuration": {"separator": "."}},
        codecs=[{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [1, 8, 16],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "gzip", "configuration": {"level": 1}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "crc32c"}]}}]))
    # an NGFF image with three levels and a labels group of two label images
    p = os.path.join(d, "zl_ngff.zarr")
    g = zarr.open_group(p, mode="w")
    shapes = [(1, 64, 96), (1, 32, 48), (1, 16, 24)]
    for i, sh in enumerate(shapes):
        g.create_dataset(str(i), shape=sh, chunks=(1, 16, 16), dtype="u2")
    axes = [{"name": "z", "type": "space"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}]
    g.attrs["multiscales"] = [{"version": "0.4", "axes": axes,
                               "datasets": [{"path": str(i)} for i in range(3)]}]
    labels = g.create_group("labels")
    labels.attrs["labels"] = ["cells", "nuclei"]
    for name in ("cells", "nuclei"):
        lg = labels.create_group(name)
        lg.create_dataset("0", shape=shapes[0], chunks=(1, 32, 32), dtype="u4")
        lg.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]
        lg.attrs["image-label"] = {"version": "0.4"}
    zarr_layouts[p] = {"ngff_levels": [list(s) for s in shapes], "axes": ["z", "y", "x"]}
    zarr_layouts[os.path.join(p, "labels")] = {"label_names": ["cells", "nuclei"]}
    zarr_layouts[os.path.join(p, "labels", "cells")] = {"ngff_levels": [list(shapes[0])],
                                                        "axes": ["z", "y", "x"]}


def check_zarr_layouts(ours):
    for p, meta in zarr_layouts.items():
        o = ours[p]
        zl = o.get("zarr")
        if zl is None:
            fail(p, "zarr", o.get("detail", zl), "a layout")
            continue
        if "label_names" in meta:
            if zl["label_names"] != meta["label_names"] or "shape" in zl:
                fail(p, "zarr.label_names", zl, meta["label_names"])
            continue
        if "ngff_levels" in meta:
            want_levels = [{"path": str(i), "shape": s} for i, s in enumerate(meta["ngff_levels"])]
            ref = zarr.open(os.path.join(p, "0"), mode="r")
            want = {"zarr_format": 2, "node_type": "group", "levels": want_levels,
                    "axes": meta["axes"], "shape": list(ref.shape), "chunks": list(ref.chunks),
                    "dtype": ref.dtype.str, "path": "0", "overlap": True}
        elif meta.get("zarr_format") == 3:
            codecs = meta["codecs"]
            sharded = codecs[0]["name"] == "sharding_indexed"
            inner = codecs[0]["configuration"]["codecs"] if sharded else codecs
            parts = []
            for c in inner:
                if c["name"] in ("bytes", "transpose"):
                    continue
                if c["name"] == "blosc":
                    cf = c["configuration"]
                    parts.append(f"blosc/{cf['cname']}/{cf['shuffle']}")
                else:
                    parts.append(c["name"])
            keys = meta["chunk_key_encoding"]
            sep = keys.get("configuration", {}).get("separator",
                                                    "." if keys["name"] == "v2" else "/")
            want = {"zarr_format": 3, "node_type": "array", "shape": meta["shape"],
                    "chunks": meta["chunk_grid"]["configuration"]["chunk_shape"],
                    "dtype": meta["data_type"], "order": None, "fill_value": meta["fill_value"],
                    "chunk_key_encoding": keys["name"], "dimension_separator": sep,
                    "codecs": [c["name"] for c in inner], "codec": "+".join(parts) or "none",
                    "sharded": sharded, "overlap": not sharded}
            if sharded:
                want["inner_chunks"] = codecs[0]["configuration"]["chunk_shape"]
        else:
            a = zarr.open(p, mode="r")  # zarr's own reading of the store
            fill = meta["fill_value"]
            want = {"zarr_format": 2, "node_type": "array", "shape": list(a.shape),
                    "chunks": list(a.chunks), "dtype": a.dtype.str, "order": a.order,
                    "dimension_separator": meta.get("dimension_separator", "."),
                    "fill_value": fill, "codec": v2_codec_summary(meta),
                    "codecs": [f.codec_id for f in (a.filters or [])] +
                              ([a.compressor.codec_id] if a.compressor else []),
                    "sharded": False, "overlap": a.dtype.kind in "ui" and not a.filters}
        for k, v in want.items():
            if zl.get(k) != v:
                fail(p, f"zarr.{k}", zl.get(k), v)
        if zl.get("overlap") != (zl.get("overlap_detail") is None):
            fail(p, "zarr.overlap_detail", zl.get("overlap_detail"), zl.get("overlap"))


def patch_ifd0(path, tag, value=None, newtag=None, ifd=None):
    """Rewrite one entry of a classic TIFF's IFD 0 (or the IFD at offset ifd) in place: its
    inline value (SHORT or LONG), or its tag number (to hide a tag from every reader)."""
    b = bytearray(open(path, "rb").read())
    bo = "<" if b[:2] == b"II" else ">"
    off = ifd if ifd is not None else struct.unpack(bo + "I", b[4:8])[0]
    n = struct.unpack(bo + "H", b[off:off + 2])[0]
    for i in range(n):
        e = off + 2 + 12 * i
        t, ty, _ = struct.unpack(bo + "HHI", b[e:e + 8])
        if t != tag:
            continue
        if newtag is not None:
            b[e:e + 2] = struct.pack(bo + "H", newtag)
        if value is not None:
            b[e + 8:e + 12] = struct.pack(bo + ("HH" if ty == 3 else "I"),
                                          *((value, 0) if ty == 3 else (value,)))
    open(path, "wb").write(b)


def make_edge(d):
    """Files libvips, libtiff or OpenSlide treat specially: path -> dict of expected fields
    (beyond agreeing with `vips copy` on can_use_vips)."""
    out = {}
    z = np.zeros

    def w(name, data, want=None, **kw):
        p = os.path.join(d, name)
        tifffile.imwrite(p, data, **kw)
        out[p] = dict(want or {})
        return p

    def cp(src, name, want=None):
        p = os.path.join(d, name)
        shutil.copy(src, p)
        out[p] = dict(want or {})
        return p

    rgb = w("e_rgb.tif", z((64, 64, 3), np.uint8), photometric="rgb")
    g8 = w("e_g8.tif", z((64, 64), np.uint8))
    g16 = w("e_g16.tif", z((64, 64), np.uint16))
    # point 1: what libvips refuses before reading a pixel
    w("e_planar_tiled.tif", z((3, 64, 64), np.uint8), {"can_use_vips": False},
      planarconfig="separate", photometric="rgb", tile=(32, 32))
    w("e_planar_strips.tif", z((3, 64, 64), np.uint8), {"can_use_vips": True},
      planarconfig="separate", photometric="rgb")
    for name, dt in (("e_f16.tif", np.float16), ("e_f64.tif", np.float64),
                     ("e_c64.tif", np.complex64), ("e_u64.tif", np.uint64),
                     ("e_i8.tif", np.int8), ("e_bool.tif", bool)):
        w(name, z((32, 32), dt))
    w("e_palette.tif", z((32, 32), np.uint8), photometric="palette",
      colormap=z((3, 256), np.uint16))
    w("e_cmyk.tif", z((32, 32, 4), np.uint8), photometric="separated")
    w("e_grey2.tif", z((32, 32, 2), np.uint8), photometric="minisblack")
    run(["tiffset", "-s", "258", "12", cp(g16, "e_bits12.tif", {"can_use_vips": False})])
    run(["tiffset", "-s", "258", "24", cp(g16, "e_bits24.tif", {"can_use_vips": False})])
    run(["tiffset", "-s", "277", "65535", cp(g8, "e_spp65535.tif",
                                             {"can_use_vips": False, "channels": 65535})])
    patch_ifd0(cp(rgb, "e_nophoto.tif", {"can_use_vips": False}), 262, newtag=263)
    patch_ifd0(cp(g8, "e_len0.tif", {"can_use_vips": False, "height": 0}), 257, value=0)
    p = cp(rgb, "e_ycbcr_sub.tif", {"can_use_vips": False})
    run(["tiffset", "-s", "262", "6", p])
    run(["tiffset", "-s", "530", "2", "2", p])
    p = cp(rgb, "e_ycbcr_1x1.tif", {"can_use_vips": True})
    run(["tiffset", "-s", "262", "6", p])
    run(["tiffset", "-s", "530", "1", "1", p])
    tiled_jpeg = os.path.join(d, "e_jpeg_tiled.tif")
    run(["tiffcp", "-c", "jpeg", "-t", rgb, tiled_jpeg])
    out[tiled_jpeg] = {"can_use_vips": True, "compression": "jpeg"}
    for name in ("e_g8", "e_grey2", "e_cmyk"):
        p = os.path.join(d, name + "_jpeg.tif")
        run(["tiffcp", "-c", "jpeg", os.path.join(d, name + ".tif"), p])
        out[p] = {"compression": "jpeg"}
    # points 1 and 4: OJPEG, and OJPEG without SamplesPerPixel (libtiff applies 3)
    patch_ifd0(cp(tiled_jpeg, "e_ojpeg.tif", {"can_use_vips": False, "channels": 3}), 259,
               value=6)
    p = cp(tiled_jpeg, "e_ojpeg_nospp.tif", {"can_use_vips": False, "channels": 3})
    patch_ifd0(p, 259, value=6)
    patch_ifd0(p, 277, newtag=278 + 0)  # the tag number of RowsPerStrip: libtiff drops it
    # point 3: one uncompressed strip whose StripByteCounts runs past the end of the file
    p = cp(g8, "e_bogus_bytecounts.tif", {"warnings": 1, "can_use_vips": True})
    patch_ifd0(p, 279, value=1 << 30)
    # point 2: a SubIFD without ImageWidth
    p = os.path.join(d, "e_bad_subifd.tif")
    with tifffile.TiffWriter(p) as tw:
        tw.write(z((64, 64), np.uint8), subifds=1, metadata=None)
        tw.write(z((32, 32), np.uint8), subfiletype=1, metadata=None)
    with tifffile.TiffFile(p) as tf:
        sub = tf.pages[0].subifds[0]
    patch_ifd0(p, 256, newtag=255, ifd=sub)  # SubfileType: ImageWidth is gone
    out[p] = {"warnings": 1, "levels": 1, "width": 64, "can_use_vips": True}
    # point 6: reduced pages that are not exact halvings, and a mask that is not a level
    p = os.path.join(d, "e_cog_sizes.tif")
    with tifffile.TiffWriter(p) as tw:
        tw.write(z((16, 2325), np.uint8), tile=(16, 16), metadata=None)
        for wd, ht in ((581, 4), (291, 2), (145, 1)):
            tw.write(z((ht, wd), np.uint8), tile=(16, 16), subfiletype=1, metadata=None)
        tw.write(z((16, 2325), np.uint8), tile=(16, 16), subfiletype=1, metadata=None)
    with tifffile.TiffFile(p) as tf:
        mask = tf.pages[4].offset
    patch_ifd0(p, 254, value=4, ifd=mask)  # tifffile writes masks only as MASK photometric
    out[p] = {"levels": 4, "pages": 5}
    p = os.path.join(d, "e_odd_halving.tif")
    with tifffile.TiffWriter(p) as tw:
        tw.write(z((200, 400), np.uint8), tile=(64, 64), metadata=None)
        tw.write(z((100, 201), np.uint8), tile=(64, 64), subfiletype=1, metadata=None)
    out[p] = {"levels": 2}
    # point 7: an Aperio slide: 2 tiled levels, a stripped thumbnail, label and macro; and a
    # tifffile file with two ImageDescription tags (OpenSlide sees the last)
    p = os.path.join(d, "e_aperio.svs")
    desc = "Aperio Image Library v12.0.15 \n512x512 (256x256) RGB|AppMag = 20"
    with tifffile.TiffWriter(p) as tw:
        tw.write(z((512, 512, 3), np.uint8), tile=(256, 256), photometric="rgb",
                 description=desc, metadata=None)
        tw.write(z((64, 64, 3), np.uint8), photometric="rgb", description=desc,
                 metadata=None)
        tw.write(z((256, 256, 3), np.uint8), tile=(256, 256), photometric="rgb",
                 subfiletype=0, description=desc, metadata=None)
        tw.write(z((40, 60, 3), np.uint8), photometric="rgb", subfiletype=1,
                 description="Aperio Image Library v12.0.15\nlabel 60x40", metadata=None)
        tw.write(z((40, 90, 3), np.uint8), photometric="rgb", subfiletype=9,
                 description="Aperio Image Library v12.0.15\nmacro 90x40", metadata=None)
    out[p] = {"levels": 2, "vendor": "aperio",
              "associated_images": ["thumbnail", "label", "macro"]}
    # what a pipeline needs next: physical pixel size, sizes, channel names
    p = os.path.join(d, "e_phys.ome.tif")
    tifffile.imwrite(p, z((2, 3, 32, 32), np.uint16), ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.66, "PhysicalSizeZ": 2.0,
        "PhysicalSizeZUnit": "nm", "Channel": {"Name": ["DAPI", "CD3", "Ki-67 \u00b5"]}})
    out[p] = {"channels": 3, "size_z": 2, "size_t": 1, "dimension_order": "XYCZT"}
    w("e_res_cm.tif", z((32, 32), np.uint8), resolution=(2.0, 4.0), resolutionunit="CENTIMETER")
    w("e_res_inch.tif", z((32, 32), np.uint8), resolution=(254, 254))
    w("e_res_none.tif", z((32, 32), np.uint8), {"physical_size": None})
    w("e_aperio_mpp.svs", z((256, 256, 3), np.uint8), {"vendor": "aperio"}, tile=(128, 128),
      photometric="rgb", metadata=None,
      description="Aperio Image Library v12\n256x256 -> 256x256|AppMag = 20|MPP = 0.2527")
    w("e_two_descriptions.tif", z((256, 256, 3), np.uint8), {"vendor": "generic-tiff"},
      tile=(64, 64), photometric="rgb", description="Aperio Image Library v12\n256x256",
      metadata={"note": 1})
    return out


UM = "\u00b5m"


def physical_reference(path):
    """(x, y, z, unit_x, unit_y, unit_z) from tifffile's tags and Python's XML parser, or
    OpenSlide's mpp for an Aperio slide; None where nothing gives a pixel size."""
    import xml.etree.ElementTree as ET
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        if tf.is_ome:
            root = ET.fromstring(tf.pages[0].description)
            pix = next(e for e in root.iter() if e.tag.endswith("}Pixels"))
            vals = [float(pix.get(f"PhysicalSize{a}", 0)) or None for a in "XYZ"]
            names = [c.get("Name", "") for c in pix if c.tag.endswith("}Channel")]
            if vals == [None, None, None]:
                return None, names
            units = [pix.get(f"PhysicalSize{a}Unit", UM) if v else None
                     for a, v in zip("XYZ", vals)]
            names = [c.get("Name", "") for c in pix if c.tag.endswith("}Channel")]
            return tuple(vals + units), names
        if tf.is_svs:
            with openslide.OpenSlide(path) as sl:
                mpp = sl.properties.get("openslide.mpp-x")
            return ((float(mpp), float(mpp), None, UM, UM, None) if mpp else None), []
        unit = page.tags.get("ResolutionUnit")
        unit = unit.value if unit is not None else 2
        if "XResolution" not in page.tags or unit not in (2, 3):
            return None, []
        xr, yr = page.tags["XResolution"].value, page.tags["YResolution"].value
        um = 25400.0 if unit == 2 else 10000.0
        return (um * xr[1] / xr[0], um * yr[1] / yr[0], None, UM, UM, None), []


def check_physical(p, o):
    ref, names = physical_reference(p)
    got = o["physical_size"]
    if ref is None or got is None:
        if (ref is None) != (got is None):
            fail(p, "physical_size", got, ref)
    else:
        mine = (got["x"], got["y"], got["z"], got["unit_x"] or None, got["unit_y"] or None,
                got["unit_z"] or None)
        for a, b in zip(mine, ref):
            if (a is None) != (b is None) or (isinstance(a, float) and abs(a - b) > 1e-9 * b) \
                    or (isinstance(a, str) and a != b):
                fail(p, "physical_size", mine, ref)
                break
    if o["channel_names"] != names[:8]:
        fail(p, "channel_names", o["channel_names"], names[:8])


def vips_decodes(path):
    return subprocess.run(["vips", "copy", path, path + ".v"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def check_edge(ours, edge):
    for p, want in edge.items():
        o = ours[p]
        if "error" in o:
            fail(p, "error", o["detail"], "libtiff reads it")
            continue
        decodes = vips_decodes(p)
        if o["can_use_vips"] != decodes:
            fail(p, "can_use_vips", o["can_use_vips"], f"vips copy decodes: {decodes}")
        if os.path.exists(p + ".v"):
            os.unlink(p + ".v")
        check_physical(p, o)
        for k, v in want.items():
            got = len(o[k]) if k == "warnings" else o[k]
            if got != v:
                fail(p, k, got, v)
        vendor = openslide.OpenSlide.detect_format(p)
        if o["vendor"] != vendor:
            fail(p, "vendor", o["vendor"], vendor)
        if vendor not in (None, "generic-tiff"):
            with openslide.OpenSlide(p) as sl:
                if o["levels"] != sl.level_count:
                    fail(p, "levels", o["levels"], f"OpenSlide level_count {sl.level_count}")
                if sorted(o["associated_images"]) != sorted(sl.associated_images):
                    fail(p, "associated_images", o["associated_images"],
                         sorted(sl.associated_images))


def reference(path):
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        series = tf.series[0]
        ref = {
            "is_ome": tf.is_ome,
            "is_imagej": tf.is_imagej,
            "is_bigtiff": tf.is_bigtiff,
            "tiled": page.is_tiled,
            "pages": len(tf.pages),
            "levels": len(series.levels),
            "series": len(tf.series),
            "width": page.imagewidth,
            "height": page.imagelength,
            "dtype": str(page.dtype),
        }
        subifds = [o for o in (page.subifds or ()) if o >= 8]
        if subifds and not tf.is_ome:
            # tifffile's "shaped" series gives each SubIFD level its own series (its axes
            # differ), so it reports one level; the SubIFDs it lists are the pyramid.
            if ref["levels"] == 1 and ref["series"] == 1 + len(subifds):
                ref["levels"] = 1 + len(subifds)
        del ref["series"]
        if tf.is_ome and "C" in series.axes:
            ref["channels"] = series.shape[series.axes.index("C")]
        else:
            ref["channels"] = page.samplesperpixel
    return ref


def main():
    driver = sys.argv[1]
    d = tempfile.mkdtemp(prefix="tessera-diff-")
    try:
        tiffs = make_tifffile(d)
        vipsfiles = make_vips(d)
        tiffs += vipsfiles
        tiffs += make_tiffcp(d, [f for f in vipsfiles if f.endswith("v_src.tif")] +
                             [os.path.join(d, "tf_plain.tif")])
        bad = make_bad(d, os.path.join(d, "cp_multi.tif"))
        zarrs = make_zarr(d)
        edge = make_edge(d)
        stacks = make_stacks(d)
        make_zarr_layouts(d)
        paths = tiffs + [p for p, _ in bad.values()] + list(zarrs) + list(edge) + \
            list(stacks) + list(zarr_layouts)
        out = subprocess.run([driver] + paths, check=True, capture_output=True, text=True)
        ours = {}
        for line in out.stdout.splitlines():
            o = json.loads(line)
            ours[o["path"]] = o
        compared = 0
        for p in tiffs:
            o = ours[p]
            if "error" in o:
                fail(p, "error", o["detail"], "tifffile reads it")
                continue
            ref = reference(p)
            for k, v in ref.items():
                if o[k] != v:
                    fail(p, k, o[k], v)
            if o["container"] != ("bigtiff" if ref["is_bigtiff"] else "tiff"):
                fail(p, "container", o["container"], ref["is_bigtiff"])
            vendor = openslide.OpenSlide.detect_format(p)
            if o["vendor"] != vendor:
                fail(p, "vendor", o["vendor"], vendor)
            if o["can_use_openslide"] != (vendor not in (None, "generic-tiff")):
                fail(p, "can_use_openslide", o["can_use_openslide"], vendor)
            if o["can_use_vips"] != vips_decodes(p):
                fail(p, "can_use_vips", o["can_use_vips"], "vips copy disagrees")
            check_physical(p, o)
            if os.path.exists(p + ".v"):
                os.unlink(p + ".v")
            compared += 1
        check_edge(ours, edge)
        check_stacks(ours, stacks)
        check_zarr_layouts(ours)
        for name, (p, words) in bad.items():
            o = ours[p]
            if words is None:
                if o.get("container") != "unknown":
                    fail(p, "container", o.get("container", o.get("detail")), "unknown")
                if os.path.isfile(p):
                    vendor = openslide.OpenSlide.detect_format(p)
                    if vendor is not None:
                        fail(p, "vendor", None, vendor)
            elif o.get("error") != "unprocessable" or words not in o.get("detail", ""):
                fail(p, "error", o.get("detail", o.get("container")), words)
        for p, (fmt, levels, width, height, dtype, *channels) in zarrs.items():
            o = ours[p]
            want = {"container": "zarr", "format": fmt, "levels": levels, "reader": "zarr"}
            if channels:
                want["channels"] = channels[0]
            if p in ngff_meta:
                check_ngff(p, o)
            if width:
                want.update(width=width, height=height, dtype=dtype)
            for k, v in want.items():
                if o.get(k) != v:
                    fail(p, k, o.get(k), v)
        print(f"diff_classify: {compared} TIFFs vs tifffile + OpenSlide + vips copy, "
              f"{len(edge)} edge cases vs vips copy + OpenSlide, {len(bad)} bad files, "
              f"{len(zarrs)} Zarr stores, {len(stacks)} stacks, {len(zarr_layouts)} Zarr layouts")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"diff_classify: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
