#!/usr/bin/python3
"""Differential test of core/preview.c + core/preview_tiff.c against numpy.

usage: diff_preview.py PREVIEW_DRIVER

Writes pyramids with tifffile (OME SubIFDs; reduced pages of the main chain) and with
libvips (`vips tiffsave --pyramid --tile`), multi-channel uint16, RGB uint8 and uint32
label images, then checks that preview_driver picks the level the rule names and that
every output byte equals the reference computed here from the published definitions:
output size round(side * size / longest); area mean over the integer box
[x*w/ow, (x+1)*w/ow); numpy.percentile (linear) over the whole decoded level; t clipped to
[0, 1]; channels added times their colour, rounded half up, clipped at 255; labels sampled
at the cell centre and coloured by splitmix64's finaliser. Errors: a level or channel the
image lacks, the decode limit, a corrupt tile. Exit status 0 when every case agrees.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import tifffile

DRIVER = sys.argv[1]
PALETTE = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 0, 255), (0, 255, 255), (255, 255, 0),
           (255, 255, 255)]
failures = 0


def fit(w, h, size):
    longest = max(w, h)
    if longest <= size:
        return w, h
    return max(1, (w * size * 2 + longest) // (longest * 2)), max(
        1, (h * size * 2 + longest) // (longest * 2))


def box_means(a, ow, oh):
    h, w = a.shape
    out = np.zeros((oh, ow))
    for y in range(oh):
        for x in range(ow):
            out[y, x] = a[y * h // oh:(y + 1) * h // oh, x * w // ow:(x + 1) * w // ow].astype(
                np.float64).mean()
    return out


def round_byte(x):
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def intensity(chans, size, colors=None, lo=0.5, hi=99.5):
    h, w = chans[0].shape
    ow, oh = fit(w, h, size)
    acc = np.zeros((oh, ow, 3))
    for i, c in enumerate(chans):
        vlo, vhi = np.percentile(c, lo), np.percentile(c, hi)
        m = box_means(c, ow, oh)
        t = (m - vlo) / (vhi - vlo) if vhi > vlo else (m > vlo).astype(np.float64)
        t = np.clip(t, 0, 1)
        color = colors[i] if colors else (PALETTE[6] if len(chans) == 1 else PALETTE[i % 7])
        for k in range(3):
            acc[:, :, k] += t * color[k]
    return round_byte(acc)


def rgb8(img, size):
    h, w, _ = img.shape
    ow, oh = fit(w, h, size)
    return np.stack([round_byte(box_means(img[:, :, k], ow, oh)) for k in range(3)], axis=2)


M64 = (1 << 64) - 1


def label_color(v):
    if v == 0:
        return (0, 0, 0)
    z = (v + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    z ^= z >> 31
    return tuple(64 + ((z >> (8 * k)) & 0xff) * 191 // 255 for k in range(3))


def labels(a, size, boundaries):
    h, w = a.shape
    ow, oh = fit(w, h, size)
    lab = np.zeros((oh, ow), dtype=np.uint64)
    for y in range(oh):
        for x in range(ow):
            lab[y, x] = a[(2 * y + 1) * h // (2 * oh), (2 * x + 1) * w // (2 * ow)]
    out = np.zeros((oh, ow, 3), dtype=np.uint8)
    for y in range(oh):
        for x in range(ow):
            v = int(lab[y, x])
            edge = any(0 <= y + dy < oh and 0 <= x + dx < ow and lab[y + dy, x + dx] != v
                       for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)))
            out[y, x] = label_color(0 if boundaries and not edge else v)
    return out


def run(path, size, level=-1, lab="auto", boundaries=0, channels="-", colors="-",
        max_decode=None):
    out = path + ".rgb"
    args = [DRIVER, path, out, str(size), str(level), lab, str(boundaries), channels, colors]
    if max_decode is not None:
        args.append(str(max_decode))
    line = subprocess.run(args, check=True, capture_output=True, text=True).stdout.split()
    if line[0] == "error":
        return line, None
    w, h = int(line[5]), int(line[6])
    return line, np.fromfile(out, dtype=np.uint8).reshape(h, w, 3)


def expect(name, cond, info=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {name} {info}")
    else:
        print(f"ok   {name}")


def same(name, got, want):
    ok = got is not None and got.shape == want.shape and np.array_equal(got, want)
    info = ""
    if not ok and got is not None and got.shape == want.shape:
        d = np.argwhere(got != want)
        info = f"{len(d)} bytes differ, first at {d[0].tolist()}: {got[tuple(d[0])]} vs " \
               f"{want[tuple(d[0])]}"
    elif not ok:
        info = f"shape {None if got is None else got.shape} vs {want.shape}"
    expect(name, ok, info)


def halve(a):
    h, w = a.shape[-2] // 2, a.shape[-1] // 2
    a = a[..., :2 * h, :2 * w]
    return ((a[..., 0::2, 0::2].astype(np.uint32) + a[..., 1::2, 0::2] + a[..., 0::2, 1::2] +
             a[..., 1::2, 1::2]) // 4).astype(a.dtype)


def main():
    rng = np.random.default_rng(19)
    tmp = tempfile.mkdtemp()
    # --- tifffile, OME SubIFDs, 3 channels uint16 -------------------------------------------
    base = rng.integers(0, 4000, (3, 700, 1000), dtype=np.uint16)
    base[1, 100:300, 200:500] += 20000
    levels = [base]
    for _ in range(3):
        levels.append(halve(levels[-1]))
    p = os.path.join(tmp, "ome_subifd.ome.tif")
    with tifffile.TiffWriter(p, ome=True) as tw:
        tw.write(levels[0], subifds=3, tile=(128, 128), compression="zlib",
                 metadata={"axes": "CYX"})
        for lv in levels[1:]:
            tw.write(lv, subfiletype=1, tile=(64, 64), compression="zlib")
    line, got = run(p, 200)
    expect("subifd picks level 2 of 4 (250 >= 200 > 125)", line[1:5] == ["2", "4", "250", "175"],
           line)
    same("subifd 3-channel composite", got, intensity(list(levels[2]), 200))
    line, got = run(p, 100, channels="1", colors="ff8000")
    same("subifd channel 1 in orange", got, intensity([levels[3][1]], 100, [(255, 128, 0)]))
    line, got = run(p, 64, level=1, channels="2,0")
    expect("explicit level 1", line[1] == "1", line)
    same("level 1, channels 2 and 0", got, intensity([levels[1][2], levels[1][0]], 64))
    line, _ = run(p, 64, level=4)
    expect("level 4 of 4 is invalid", line[:2] == ["error", "invalid"], line)
    line, _ = run(p, 64, channels="3")
    expect("channel 3 of 3 is invalid", line[:2] == ["error", "invalid"], line)
    line, _ = run(p, 512, level=0, max_decode=1000)
    expect("decode limit is too_large naming the limit",
           line[:2] == ["error", "too_large"] and "1000 samples" in " ".join(line), line)
    # --- tifffile, reduced pages in the main chain, uint8 mono ------------------------------
    mono = rng.integers(0, 256, (600, 900), dtype=np.uint8)
    chain = [mono, halve(mono), halve(halve(mono))]
    p = os.path.join(tmp, "chain.tif")
    with tifffile.TiffWriter(p) as tw:
        tw.write(chain[0], tile=(64, 64))
        for lv in chain[1:]:
            tw.write(lv, subfiletype=1, tile=(64, 64))
        tw.write(rng.integers(0, 256, (50, 300), dtype=np.uint8))  # a label-like page, 6:1
    line, got = run(p, 300)
    expect("main-chain pyramid: level 1 of 3 (450 >= 300 > 225)",
           line[1:5] == ["1", "3", "450", "300"], line)
    same("main-chain grey", got, intensity([chain[1]], 300))
    # --- libvips pyramids --------------------------------------------------------------------
    rgb = rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    src = os.path.join(tmp, "rgb_src.tif")
    tifffile.imwrite(src, rgb, photometric="rgb")
    p = os.path.join(tmp, "vips_rgb.tif")
    subprocess.run(["vips", "tiffsave", src, p, "--pyramid", "--tile", "--tile-width", "128",
                    "--tile-height", "128"], check=True)
    with tifffile.TiffFile(p) as tf:
        sizes = [(pg.shape[1], pg.shape[0]) for pg in tf.pages]
        want_level = max(i for i, (w, h) in enumerate(sizes) if max(w, h) >= 256)
        ref = tf.pages[want_level].asarray()
    line, got = run(p, 256)
    expect(f"vips RGB pyramid: level {want_level} of {len(sizes)}",
           line[1:3] == [str(want_level), str(len(sizes))], (line, sizes))
    same("vips RGB as RGB", got, rgb8(ref, 256))
    grey = (rng.integers(0, 1000, (1200, 1600)) + np.linspace(0, 30000, 1600)).astype(np.uint16)
    src = os.path.join(tmp, "grey_src.tif")
    tifffile.imwrite(src, grey)
    p = os.path.join(tmp, "vips_grey.tif")
    subprocess.run(["vips", "tiffsave", src, p, "--pyramid", "--tile", "--compression",
                    "deflate"], check=True)
    with tifffile.TiffFile(p) as tf:
        sizes = [(pg.shape[1], pg.shape[0]) for pg in tf.pages]
        want_level = max(i for i, (w, h) in enumerate(sizes) if max(w, h) >= 180)
        ref = tf.pages[want_level].asarray()
    line, got = run(p, 180)
    expect(f"vips uint16 pyramid: level {want_level} of {len(sizes)}",
           line[1:3] == [str(want_level), str(len(sizes))], (line, sizes))
    same("vips uint16 stretched", got, intensity([ref], 180))
    # --- labels -------------------------------------------------------------------------------
    lab = np.zeros((90, 120), dtype=np.uint32)
    for i in range(30):
        y, x = rng.integers(0, 80), rng.integers(0, 110)
        lab[y:y + rng.integers(3, 15), x:x + rng.integers(3, 15)] = rng.integers(1, 2**32)
    p = os.path.join(tmp, "labels.tif")
    tifffile.imwrite(p, lab, rowsperstrip=7)
    line, got = run(p, 50)
    expect("uint32 detected as labels", line[7] == "1", line)
    same("labels, centre sampled", got, labels(lab, 50, False))
    line, got = run(p, 1000, boundaries=1)
    same("labels, boundaries, full size", got, labels(lab, 1000, True))
    p16 = os.path.join(tmp, "labels16.tif")
    tifffile.imwrite(p16, lab.astype(np.uint16))
    line, got = run(p16, 40, lab="yes")
    same("uint16 with labels=yes", got, labels(lab.astype(np.uint16), 40, False))
    # --- a corrupt tile -------------------------------------------------------------------------
    p = os.path.join(tmp, "corrupt.tif")
    tifffile.imwrite(p, mono, tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(p) as tf:
        off = tf.pages[0].dataoffsets[5]
    with open(p, "r+b") as f:
        f.seek(off)
        f.write(b"\xff" * 32)
    line, _ = run(p, 100)
    expect("corrupt tile is unprocessable", line[:2] == ["error", "unprocessable"], line)
    strided_cases(rng, tmp)
    zarr_cases(rng, tmp)
    print(f"{failures} failed")
    return 1 if failures else 0


def kept_index(n, b, k):
    """Indices of the pixels kept along a side of n in blocks of b when every k-th block is."""
    return np.array([i for i in range(n) if (i // b) % k == 0])


def stride_for(w, h, bw, bh, n, max_decode):
    k = 2
    while len(kept_index(w, bw, k)) * len(kept_index(h, bh, k)) * n > max_decode:
        k += 1
    return k


def strided_cases(rng, tmp):
    # --- a single-level image over the decode limit: every k-th block row and column --------
    img = rng.integers(0, 60000, (1000, 1300), dtype=np.uint16)
    img[200:500, 300:900] //= 4
    p = os.path.join(tmp, "strided_tiles.tif")
    tifffile.imwrite(p, img, tile=(64, 48), compression="zlib")
    k = stride_for(1300, 1000, 48, 64, 1, 100000)
    line, got = run(p, 200, max_decode=100000)
    expect(f"tiled single level strided by {k}", line[0] == "ok" and line[9] == str(k), line)
    mosaic = img[kept_index(1000, 64, k)][:, kept_index(1300, 48, k)]
    same("strided tiles: the kept tiles area-averaged", got, intensity([mosaic], 200))
    rgb = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    p = os.path.join(tmp, "strided_strips.tif")
    tifffile.imwrite(p, rgb, photometric="rgb", rowsperstrip=5, compression="zlib")
    k = stride_for(900, 700, 5, 5, 3, 60000)
    line, got = run(p, 100, max_decode=60000)
    expect(f"striped RGB strided by {k}", line[0] == "ok" and line[9] == str(k), line)
    mosaic = rgb[kept_index(700, 5, k)][:, kept_index(900, 5, k)]
    same("strided strips: kept blocks of 5 x 5, as RGB", got, rgb8(mosaic, 100))
    line, _ = run(p, 100, max_decode=60)
    expect("a strip block over the limit cannot be strided",
           line[:2] == ["error", "too_large"] and "strides" in " ".join(line), line)


def zarr_cases(rng, tmp):
    import zarr
    # --- python3-zarr v2, an NGFF group of three levels, (c, y, x) uint16 ----------------------
    base = rng.integers(0, 3000, (3, 300, 400), dtype=np.uint16)
    base[2, 50:150, 100:250] += 30000
    levels = [base, halve(base), halve(halve(base))]
    p = os.path.join(tmp, "ngff.zarr")
    root = zarr.open_group(p, mode="w")
    for i, lv in enumerate(levels):
        root.create_dataset(str(i), data=lv, chunks=(1, 64, 48), compressor=zarr.Blosc("zstd"))
    root.attrs["multiscales"] = [{"version": "0.4", "axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
        {"name": "x", "type": "space"}], "datasets": [{"path": str(i)} for i in range(3)]}]
    omero = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    root.attrs["omero"] = {"channels": [{"color": "%02X%02X%02X" % c, "label": f"ch{i}"}
                                        for i, c in enumerate(omero)]}
    line, got = run(p, 120)
    expect("zarr group picks level 1 of 3 (200 >= 120 > 100)",
           line[1:5] == ["1", "3", "200", "150"], line)
    same("zarr 3-channel composite in omero colours", got, intensity(list(levels[1]), 120, omero))
    line, got = run(p, 90)
    expect("zarr group picks level 2 of 3 (100 >= 90)", line[1:5] == ["2", "3", "100", "75"], line)
    same("zarr level 2", got, intensity(list(levels[2]), 90, omero))
    line, got = run(p, 64, channels="2", colors="ff8000")
    same("zarr channel 2 in orange", got, intensity([levels[2][2]], 64, [(255, 128, 0)]))
    line, got = run(p, 500, level=0, channels="0,1")
    same("zarr level 0, channels 0 and 1 in omero colours", got,
         intensity([levels[0][0], levels[0][1]], 500, omero[:2]))
    line, _ = run(p, 64, level=3)
    expect("zarr level 3 of 3 is invalid", line[:2] == ["error", "invalid"], line)
    line, _ = run(p, 64, channels="3")
    expect("zarr channel 3 of 3 is invalid", line[:2] == ["error", "invalid"], line)
    line, _ = run(p, 500, level=0, max_decode=1000)
    expect("zarr decode limit is too_large", line[:2] == ["error", "too_large"], line)
    # --- a 2-D array without a group, F order, missing chunks are the fill value --------------
    grey = rng.integers(0, 250, (130, 170), dtype=np.uint8)
    p = os.path.join(tmp, "grey.zarr")
    z = zarr.open_array(p, mode="w", shape=grey.shape, chunks=(40, 50), dtype=np.uint8,
                        order="F", fill_value=7, compressor=None)
    z[:] = grey
    os.remove(os.path.join(p, "1.1"))
    grey[40:80, 50:100] = 7
    line, got = run(p, 100)
    expect("zarr 2-D array: one level", line[1:5] == ["0", "1", "170", "130"], line)
    same("zarr 2-D grey, a missing chunk filled", got, intensity([grey], 100))
    # --- (t, c, z, y, x): the middle z slice -------------------------------------------------
    vol = rng.integers(0, 1000, (1, 2, 5, 60, 70), dtype=np.int16)
    p = os.path.join(tmp, "tczyx.zarr")
    zarr.save_array(p, vol, chunks=(1, 1, 2, 32, 32))
    line, got = run(p, 50)
    same("zarr (t, c, z, y, x): middle slice", got, intensity([vol[0, 0, 2], vol[0, 1, 2]], 50))
    # --- an NGFF label image (1, 1, 1, y, x) uint32, two levels --------------------------------
    lab = np.zeros((120, 160), dtype=np.uint32)
    for _ in range(25):
        y, x = rng.integers(0, 110), rng.integers(0, 150)
        lab[y:y + rng.integers(3, 20), x:x + rng.integers(3, 20)] = rng.integers(1, 2**32)
    p = os.path.join(tmp, "img.zarr")
    img = zarr.open_group(p, mode="w")
    labs = img.create_group("labels")
    labs.attrs["labels"] = ["cells"]
    cells = labs.create_group("cells")
    for i, lv in enumerate([lab, lab[::2, ::2]]):
        cells.create_dataset(str(i), data=lv[None, None, None], chunks=(1, 1, 1, 50, 50))
    cells.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}]}]
    cells.attrs["image-label"] = {"version": "0.4"}
    lp = os.path.join(p, "labels", "cells")
    line, got = run(lp, 80)
    expect("zarr labels: level 1 detected as labels", line[1] == "1" and line[7] == "1", line)
    same("zarr labels, centre sampled", got, labels(lab[::2, ::2], 80, False))
    line, got = run(lp, 200, boundaries=1)
    same("zarr labels, boundaries, level 0", got, labels(lab, 200, True))


sys.exit(main())
