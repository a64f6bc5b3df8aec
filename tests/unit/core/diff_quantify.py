#!/usr/bin/python3
"""diff_quantify.py - core/load_quantify against skimage 0.19's regionprops_table.

Watershed cells with uint8 / uint16 / float32 channels (as .npy and as TIFF pages of one
multi-page file), tiny cells of 1 and 2 pixels, cells on the border, labels near 2^64 and an
empty label image, with 1 and 2 threads. Shape features are compared to 1e-9 relative (solidity,
extent and area exactly), intensity mean to 1e-12 relative against a float64 reference, min and
max exactly, sum exactly for integer channels.

usage: diff_quantify.py QUANTIFY_DRIVER
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.measure import regionprops_table
from skimage.segmentation import watershed

SHAPE = ("label", "area", "centroid", "bbox", "major_axis_length", "minor_axis_length",
         "eccentricity", "orientation", "solidity", "extent", "perimeter", "area_convex")


def cells(size, n, seed):
    rng = np.random.default_rng(seed)
    markers = np.zeros((size, size), np.int32)
    ys, xs = rng.integers(0, size, n), rng.integers(0, size, n)
    markers[ys, xs] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    lab = watershed(dist, markers)
    lab[dist > size / np.sqrt(n) * 0.45] = 0  # gaps of background between cells
    return lab.astype(np.uint32)


def run(driver, args):
    out = subprocess.run([driver] + args, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"driver failed: {out.stdout} {out.stderr}")
    lines = out.stdout.splitlines()
    head = lines[0].split()
    return int(head[1]), int(head[3]), [line.split() for line in lines[1:]]


def close(name, got, want, rel, absolute=0.0):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise SystemExit(f"{name}: {got.shape} rows, skimage {want.shape}")
    bad = ~np.isclose(got, want, rtol=rel, atol=absolute)
    if bad.any():
        i = int(np.argmax(bad))
        raise SystemExit(f"{name}: row {i}: {got[i]!r} != skimage {want[i]!r}")


def median_gini(lab, ch, labels):
    """numpy's median and mcquant's gini_index of every label (ascending)."""
    flat, vals = lab.ravel(), ch.ravel().astype(np.float64)
    order = np.argsort(flat, kind="stable")
    flat, vals = flat[order], vals[order]
    starts = np.searchsorted(flat, labels)
    ends = np.searchsorted(flat, labels, side="right")
    med, gini = [], []
    for a, b in zip(starts, ends):
        x = np.sort(vals[a:b])
        med.append(np.median(x))
        cum = np.cumsum(x, dtype=float)
        gini.append((len(x) + 1 - 2 * np.sum(cum) / cum[-1]) / len(x) if cum[-1] else np.nan)
    return np.array(med), np.array(gini)


def check(driver, lab, channels, files, threads, tag, ref=None, values=None):
    """ref: the same cells with small labels in the same order, for skimage (which cannot
    index labels near 2^64: find_objects allocates max_label entries)."""
    extra = [] if values is None else ["--values-max", str(values)]
    n, c, rows = run(driver, ["--threads", str(threads)] + extra + files)
    ref = lab if ref is None else ref
    if not lab.any():
        assert n == 0 and rows == [], tag
        return
    assert c == len(channels), tag
    got = np.array(rows, dtype=object)
    labels = np.array([int(v) for v in got[:, 0]], dtype=np.uint64)
    want_labels = np.unique(lab[lab != 0])
    if not np.array_equal(labels, want_labels):
        raise SystemExit(f"{tag}: labels differ")
    f = got[:, 1:].astype(np.float64)
    props = regionprops_table(ref.astype(np.int64), properties=SHAPE)
    assert np.array_equal(f[:, 0], props["area"]), tag
    close(tag + " centroid-0", f[:, 1], props["centroid-0"], 1e-9)
    close(tag + " centroid-1", f[:, 2], props["centroid-1"], 1e-9)
    for k in range(4):
        assert np.array_equal(f[:, 3 + k], props[f"bbox-{k}"]), tag
    close(tag + " major", f[:, 7], props["major_axis_length"], 1e-9, 1e-9)
    close(tag + " minor", f[:, 8], props["minor_axis_length"], 1e-9, 1e-6)
    close(tag + " eccentricity", f[:, 9], props["eccentricity"], 1e-9, 1e-6)
    # an axis at +-pi/2 is one axis: where the exact cross moment is 0, skimage's sign
    # is that of its rounding noise
    turn = np.abs(np.abs(f[:, 10] - props["orientation"]) - np.pi) < 1e-9
    # where the exact a = c, skimage's rounded a - c may miss its own +-pi/4 special case
    # and land on the formula's limit, of the other sign
    turn |= (np.abs(f[:, 10]) == np.pi / 4) & (np.abs(f[:, 10] + props["orientation"]) < 1e-9)
    close(tag + " orientation", np.where(turn, props["orientation"], f[:, 10]),
          props["orientation"], 1e-9, 1e-9)
    assert np.all(np.isin(np.abs(f[turn, 10]), (np.pi / 2, np.pi / 4))), tag
    close(tag + " convex area", f[:, 14], props["area_convex"], 0)
    close(tag + " solidity", f[:, 11], props["solidity"], 1e-15)
    close(tag + " extent", f[:, 12], props["extent"], 1e-15)
    close(tag + " perimeter", f[:, 13], props["perimeter"], 1e-12)
    order = np.searchsorted(want_labels, lab[lab != 0])
    for k, ch in enumerate(channels):
        vals = ch[lab != 0].astype(np.float64)
        count = np.bincount(order, minlength=len(want_labels))
        total = np.bincount(order, weights=vals, minlength=len(want_labels))
        mean = total / count
        base = 15 + 7 * k
        close(f"{tag} ch{k} mean", f[:, base], mean, 1e-12)
        if ch.dtype.kind in "ui":
            exact = np.zeros(len(want_labels), np.int64)
            np.add.at(exact, order, ch[lab != 0].astype(np.int64))
            assert np.array_equal(f[:, base + 1].astype(np.int64), exact), f"{tag} ch{k} sum"
        mn = np.full(len(want_labels), np.inf)
        mx = np.full(len(want_labels), -np.inf)
        np.minimum.at(mn, order, vals)
        np.maximum.at(mx, order, vals)
        assert np.array_equal(f[:, base + 2], mn), f"{tag} ch{k} min"
        assert np.array_equal(f[:, base + 3], mx), f"{tag} ch{k} max"
        sq = np.bincount(order, weights=(vals - mean[order]) ** 2, minlength=len(want_labels))
        close(f"{tag} ch{k} std", f[:, base + 4], np.sqrt(sq / count), 1e-12, 1e-12)
        close(f"{tag} ch{k} sum", f[:, base + 1], total, 1e-12)
        if values is None:
            assert np.isnan(f[:, base + 5]).all() and np.isnan(f[:, base + 6]).all(), tag
        else:
            med, gini = median_gini(lab, ch, want_labels)
            assert np.array_equal(f[:, base + 5], med), f"{tag} ch{k} median"
            close(f"{tag} ch{k} gini", f[:, base + 6], gini, 1e-12, 1e-14)
        sk = regionprops_table(ref.astype(np.int64), ch, properties=("intensity_mean",))
        tol = 1e-6 if ch.dtype == np.float32 else 1e-12
        close(f"{tag} ch{k} skimage mean", f[:, base], sk["intensity_mean"], tol)


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        def save(name, arr):
            path = os.path.join(tmp, name)
            np.save(path, arr)
            return path

        lab = cells(512, 300, 1)
        lab[0, 0:3] = 4001          # border cells, a 3-pixel run in the corner
        lab[100, 100] = 4002        # 1-pixel cell
        lab[200, 200:202] = 4003    # 2-pixel cells
        lab[300:302, 300] = 4004
        lab[511, 505:512] = 4005
        chans = [rng.integers(0, 256, lab.shape, dtype=np.uint8),
                 rng.integers(0, 65536, lab.shape, dtype=np.uint16),
                 rng.random(lab.shape, dtype=np.float32) * 1000,
                 (rng.random(lab.shape) * 50).astype(np.uint16)]
        files = [save("lab.npy", lab)] + [save(f"c{k}.npy", c) for k, c in enumerate(chans)]
        files[3] = os.path.join(tmp, "c2.tif")  # float channels come as TIFF pages
        tifffile.imwrite(files[3], chans[2], compression="zlib")
        for threads in (1, 2):
            check(driver, lab, chans, files, threads, f"npy threads={threads}")
        # median and Gini: one value pass, and passes of 1 channel x label ranges
        check(driver, lab, chans, files, 2, "values in one pass", values=0)
        check(driver, lab, chans, files, 2, "values in many passes", values=400000)
        out = subprocess.run([driver, "--values-max", "1000"] + files, capture_output=True,
                             text=True, check=False)
        assert out.returncode == 1 and "over the 1000 bytes" in out.stdout, out.stdout

        tif = os.path.join(tmp, "multi.tif")
        with tifffile.TiffWriter(tif) as w:
            for c in chans:
                w.write(c, compression="zlib", rowsperstrip=16)
        labtif = os.path.join(tmp, "lab.tif")
        tifffile.imwrite(labtif, lab, tile=(64, 64), compression="zlib")
        check(driver, lab, chans, [labtif] + [f"{tif}:{k}" for k in range(4)], 2, "tiff pages")

        big = lab.astype(np.uint64)
        big[big != 0] += np.uint64(2**64 - 5000)
        check(driver, big, chans[:2], [save("big.npy", big)] + files[1:3], 2, "labels near 2^64",
              ref=lab, values=100000)

        empty = np.zeros((64, 80), np.uint16)
        check(driver, empty, [], [save("empty.npy", empty)], 1, "empty")
    print("diff_quantify: ok")


if __name__ == "__main__":
    main()
