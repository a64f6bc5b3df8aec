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
    return out


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
        paths = tiffs + [p for p, _ in bad.values()] + list(zarrs)
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
            compared += 1
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
        for p, (fmt, levels, width, height, dtype) in zarrs.items():
            o = ours[p]
            want = {"container": "zarr", "format": fmt, "levels": levels, "reader": "zarr"}
            if width:
                want.update(width=width, height=height, dtype=dtype)
            for k, v in want.items():
                if o.get(k) != v:
                    fail(p, k, o.get(k), v)
        print(f"diff_classify: {compared} TIFFs vs tifffile + OpenSlide, {len(bad)} bad files, "
              f"{len(zarrs)} Zarr stores")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"diff_classify: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
