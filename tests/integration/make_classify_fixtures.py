#!/usr/bin/python3
"""make_classify_fixtures.py - write the image files itest_classify sends to /classify.

Usage: make_classify_fixtures.py ROOT

Every file is written by an independent writer, never by Tessera: tifffile (plain, BigTIFF,
ImageJ, OME with four channels, OME pyramid with SubIFDs, a tiled file with an Aperio-style
description, a plain tiled file), libvips' CLI (`vips tiffsave --tile --pyramid`), libtiff's
tiffcp (-c lzw, -t, -8) and python3-zarr (a v2 array, a v2 group with OME-NGFF multiscales
in .zattrs). Hand-made bad files: empty, PNG bytes named .tif, a truncated TIFF, an IFD
loop, a directory named x.tif. Also two same-size TIFFs (replace_a.tif, staging/replace_b.tif)
with different shapes, for the cache-staleness checks.

The expected values live in the C test; this script only writes. It exits non-zero (and
says why) if a writer is missing, so the test fails loudly instead of skipping.
"""
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import tifffile
import zarr


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def tifffile_files(d):
    tifffile.imwrite(os.path.join(d, "tf_plain.tif"),
                     np.arange(61 * 83, dtype=np.uint32).astype(np.uint8).reshape(61, 83),
                     metadata=None)
    tifffile.imwrite(os.path.join(d, "tf_big.tif"), np.zeros((3, 50, 70), np.uint16),
                     photometric="minisblack",
                     bigtiff=True, metadata=None)
    tifffile.imwrite(os.path.join(d, "tf_imagej.tif"), np.zeros((5, 64, 64), np.uint8),
                     imagej=True)
    tifffile.imwrite(os.path.join(d, "tf_ome.ome.tif"), np.zeros((4, 64, 48), np.uint16),
                     ome=True, metadata={"axes": "CYX"})
    data = np.zeros((2, 512, 384), np.uint8)
    with tifffile.TiffWriter(os.path.join(d, "tf_pyramid.ome.tif"), ome=True) as tw:
        tw.write(data, subifds=3, tile=(64, 64), metadata={"axes": "CYX"})
        for _ in range(3):
            data = data[:, ::2, ::2]
            tw.write(data, subfiletype=1, tile=(64, 64))
    # Aperio-style: OpenSlide's aperio detector wants a tiled TIFF whose first
    # ImageDescription starts with "Aperio". The name says nothing: content decides.
    tifffile.imwrite(os.path.join(d, "aperio_style.tif"), np.zeros((256, 256, 3), np.uint8),
                     tile=(64, 64), photometric="rgb", metadata=None,
                     description="Aperio Image Library v12.0.15 \n256x256 (64x64) RGB|AppMag = 20")
    tifffile.imwrite(os.path.join(d, "tf_tiled.tif"), np.zeros((300, 200), np.float32),
                     tile=(32, 48), metadata=None)
    # Same byte size, different shape: 64x32 and 32x64 uint8, identical tag layout.
    tifffile.imwrite(os.path.join(d, "replace_a.tif"), np.zeros((32, 64), np.uint8),
                     metadata=None)
    os.makedirs(os.path.join(d, "staging"), exist_ok=True)
    tifffile.imwrite(os.path.join(d, "staging", "replace_b.tif"),
                     np.ones((64, 32), np.uint8), metadata=None)
    tifffile.imwrite(os.path.join(d, "staging", "rewrite_c.tif"),
                     np.zeros((10, 20, 3), np.uint8), photometric="rgb", metadata=None)


def vips_files(d):
    src = os.path.join(d, "staging", "vips_src.v")
    run(["vips", "black", src, "1000", "700", "--bands", "3"])
    run(["vips", "tiffsave", src, os.path.join(d, "vips_pyramid.tif"), "--tile", "--pyramid",
         "--tile-width", "128", "--tile-height", "128"])
    os.unlink(src)


def tiffcp_files(d):
    src = os.path.join(d, "tf_plain.tif")
    run(["tiffcp", "-c", "lzw", src, os.path.join(d, "cp_lzw.tif")])
    run(["tiffcp", "-t", "-w", "32", "-l", "32", src, os.path.join(d, "cp_tiled.tif")])
    run(["tiffcp", "-8", src, os.path.join(d, "cp_big.tif")])


def zarr_stores(d):
    zarr.open(os.path.join(d, "z_array.zarr"), mode="w", shape=(3, 100, 120),
              chunks=(1, 50, 60), dtype="u2")
    g = zarr.open_group(os.path.join(d, "z_ngff.zarr"), mode="w")
    shape = (2, 256, 320)
    datasets = []
    for level in range(3):
        g.create_dataset(str(level), shape=shape, chunks=(1, 64, 64), dtype="u1")
        datasets.append({"path": str(level)})
        shape = (shape[0], shape[1] // 2, shape[2] // 2)
    g.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                 {"name": "x", "type": "space"}],
        "datasets": datasets}]


def ifd_chain(raw):
    """(byteorder, [IFD offsets], [next-pointer positions]) of a classic TIFF in memory."""
    bo = "<" if raw[:2] == b"II" else ">"
    off = struct.unpack(bo + "I", raw[4:8])[0]
    offs, nexts = [], []
    while off:
        n = struct.unpack(bo + "H", raw[off:off + 2])[0]
        offs.append(off)
        nexts.append(off + 2 + 12 * n)
        off = struct.unpack(bo + "I", raw[off + 2 + 12 * n:off + 6 + 12 * n])[0]
    return bo, offs, nexts


def bad_files(d):
    def put(name, data):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    put("empty.tif", b"")
    put("png.tif", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 40)
    # Three pages written by tiffcp (IFDs after the pixel data), then the last IFD's next
    # pointer aimed back at the first: an IFD loop.
    multi = os.path.join(d, "staging", "multi.tif")
    run(["tiffcp", os.path.join(d, "tf_plain.tif"), os.path.join(d, "cp_lzw.tif"),
         os.path.join(d, "tf_plain.tif"), multi])
    raw = open(multi, "rb").read()
    os.unlink(multi)
    bo, offs, nexts = ifd_chain(raw)
    if len(offs) != 3:
        sys.exit(f"make_classify_fixtures: expected 3 IFDs in the tiffcp file, got {len(offs)}")
    loop = bytearray(raw)
    loop[nexts[-1]:nexts[-1] + 4] = struct.pack(bo + "I", offs[0])
    put("loop.tif", bytes(loop))
    # Cut in the middle: the first IFD (at the end of tiffcp's layout) is gone.
    put("trunc.tif", raw[: len(raw) // 2])
    os.mkdir(os.path.join(d, "x.tif"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_classify_fixtures.py ROOT")
    d = sys.argv[1]
    for tool in ("vips", "tiffcp"):
        if shutil.which(tool) is None:
            sys.exit(f"make_classify_fixtures: '{tool}' not found "
                     "(install libvips-tools / libtiff-tools)")
    os.makedirs(d, exist_ok=True)
    tifffile_files(d)
    vips_files(d)
    tiffcp_files(d)
    zarr_stores(d)
    bad_files(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
