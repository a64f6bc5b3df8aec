#!/usr/bin/python3
"""diff_overlap.py DRIVER - core/load + core/overlap against numpy, exactly.

Label images are written with tifffile (every dtype, strips and tiles, both byte orders,
none/deflate/LZMA with and without predictor) and re-encoded with libtiff's own tiffcp
(LZW, deflate, PackBits, zstd, LZMA, predictor, tiles/strips, byte order). For each pair the
driver (overlap_driver) prints pairs, areas and IoU; numpy computes the same with np.unique
on the combined pair key (or on (a, b) rows when the key would not fit 64 bits). Everything
must be equal, floats bit for bit (matching is core/evaluate's: diff_evaluate.py).
Also: the refusals (float, RGB, JPEG, negative labels, shapes, pages) must name the problem.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.segmentation import watershed

DRIVER = sys.argv[1]
RNG = np.random.default_rng(20240501)
TMP = tempfile.mkdtemp(prefix="diff_overlap_")
FAILURES = []
CHECKS = 0

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Label images


def cells(shape, n, radius):
    """Watershed cells around n random seeds, background beyond `radius` from any seed."""
    markers = np.zeros(shape, np.int32)
    pts = RNG.integers(0, shape, size=(n, 2))
    markers[pts[:, 0], pts[:, 1]] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    return watershed(dist, markers, mask=dist < radius).astype(np.int64)


def second_segmentation(lab, max_label):
    """Shift, split some cells, merge others, relabel with random (large) values."""
    out = np.roll(lab, (2, -3), axis=(0, 1)).copy()
    ids = np.unique(out)
    ids = ids[ids != 0]
    nxt = out.max() + 1
    for k in ids[: len(ids) // 5]:  # split: right half gets a new label
        ys, xs = np.nonzero(out == k)
        right = xs > np.median(xs)
        out[ys[right], xs[right]] = nxt
        nxt += 1
    for k in ids[len(ids) // 5 : len(ids) // 3 : 2]:  # merge k into k + 1
        out[out == k] = k + 1
    ids = np.unique(out)
    ids = ids[ids != 0]
    new = RNG.choice(max_label, size=len(ids), replace=False) + 1 if max_label > len(ids) else ids
    table = dict(zip(ids.tolist(), np.asarray(new).tolist()))
    flat = out.ravel()
    res = np.zeros(flat.shape, np.uint64)
    nz = flat != 0
    res[nz] = [table[v] for v in flat[nz].tolist()]
    return res.reshape(out.shape)


def dtype_max(dt):
    return int(np.iinfo(dt).max)


# --------------------------------------------------------------------------------------------
# numpy / StarDist references


def np_pairs(a, b):
    a = a.ravel().astype(np.uint64)
    b = b.ravel().astype(np.uint64)
    mb = int(b.max()) + 1 if b.size else 1
    ma = int(a.max()) + 1 if a.size else 1
    if ma * mb < 2**64:
        key = a * np.uint64(mb) + b
        uk, cnt = np.unique(key, return_counts=True)
        return uk // np.uint64(mb), uk % np.uint64(mb), cnt.astype(np.uint64)
    rows, cnt = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], cnt.astype(np.uint64)


# --------------------------------------------------------------------------------------------
# Driver


def run_driver(pa, pb, *opts):
    p = subprocess.run([DRIVER, *opts, pa, pb], capture_output=True, text=True, timeout=300)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"driver crashed ({p.returncode}): {p.stderr}")
    return p.stdout


def parse(out):
    lines = out.splitlines()
    r = {}
    i = 0

    def take():
        nonlocal i
        i += 1
        return lines[i - 1].split()

    r["shape"] = tuple(map(int, take()[1:]))
    r["labels"] = tuple(map(int, take()[1:]))
    r["pixels"] = int(take()[1])
    n = int(take()[1])
    rows = [take() for _ in range(n)]
    r["a"] = np.array([int(x[0]) for x in rows], dtype=np.uint64)
    r["b"] = np.array([int(x[1]) for x in rows], dtype=np.uint64)
    r["count"] = np.array([int(x[2]) for x in rows], dtype=np.uint64)
    r["iou"] = np.array([float(x[3]) for x in rows]) if rows and len(rows[0]) > 3 else None
    for key in ("areas_a", "areas_b"):
        n = int(take()[1])
        rows = [take() for _ in range(n)]
        r[key] = (
            np.array([int(x[0]) for x in rows], dtype=np.uint64),
            np.array([int(x[1]) for x in rows], dtype=np.uint64),
        )
    return r


def compare(name, a, b, pa, pb, extra=()):
    """Run the driver on the files pa/pb holding arrays a/b and compare everything."""
    global CHECKS
    opts = ["--iou", *extra]
    out = run_driver(pa, pb, *opts)
    CHECKS += 1
    if out.startswith("error"):
        fail(f"{name}: driver refused: {out.strip()}")
        return
    r = parse(out)
    ea, eb, ec = np_pairs(a, b)
    if r["shape"] != a.shape:
        fail(f"{name}: shape {r['shape']} != {a.shape}")
    if not (np.array_equal(r["a"], ea) and np.array_equal(r["b"], eb) and np.array_equal(r["count"], ec)):
        fail(f"{name}: pairs differ ({len(r['a'])} vs {len(ea)} rows)")
        return
    la, ca = np.unique(a.ravel().astype(np.uint64), return_counts=True)
    lb, cb = np.unique(b.ravel().astype(np.uint64), return_counts=True)
    if not (np.array_equal(r["areas_a"][0], la) and np.array_equal(r["areas_a"][1], ca)):
        fail(f"{name}: areas of a differ")
    if not (np.array_equal(r["areas_b"][0], lb) and np.array_equal(r["areas_b"][1], cb)):
        fail(f"{name}: areas of b differ")
    if r["labels"] != (int((la != 0).sum()), int((lb != 0).sum())):
        fail(f"{name}: label counts {r['labels']}")
    area_a = ca[np.searchsorted(la, ea)]
    area_b = cb[np.searchsorted(lb, eb)]
    iou = ec / (area_a + area_b - ec)
    if r["iou"] is None or not np.array_equal(r["iou"], iou):
        fail(f"{name}: IoU differs")



# --------------------------------------------------------------------------------------------
# Writers


def write_tifffile(path, arr, compression=None, predictor=False, tile=None, rows=None, order="<"):
    kw = dict(photometric="minisblack", byteorder=order)
    if compression:
        kw["compression"] = compression
        kw["predictor"] = predictor and arr.dtype.itemsize < 8  # tifffile: no 64-bit predictor
    if tile:
        kw["tile"] = tile
    elif rows:
        kw["rowsperstrip"] = rows
    tifffile.imwrite(path, arr, **kw)


def tiffcp(src, dst, *args):
    subprocess.run(["tiffcp", *args, src, dst], check=True, capture_output=True)


def path(name):
    return os.path.join(TMP, name)


# --------------------------------------------------------------------------------------------
# Cases


def case_dtypes_and_layouts():
    base = cells((97, 131), 40, 9)
    other = np.roll(base, 3, axis=1)
    layouts = [
        dict(rows=7),
        dict(tile=(16, 32)),
        dict(rows=97, compression="zlib", predictor=True),
        dict(tile=(32, 16), compression="zlib"),
        dict(rows=5, compression="lzma", predictor=True),
        dict(rows=1, compression="lzma"),
    ]
    for k, dt in enumerate(DTYPES):
        top = min(dtype_max(dt), 2**40)
        a = (base * (top // 64) % (top + 1)).astype(dt)
        b = (other * 3 % (top + 1)).astype(dt)
        for j, lay in enumerate(layouts):
            order = "<>"[(k + j) % 2]
            pa, pb = path(f"a_{k}_{j}.tif"), path(f"b_{k}_{j}.tif")
            write_tifffile(pa, a, order=order, **lay)
            write_tifffile(pb, b, order="<>"[j % 2], **layouts[(j + 1) % len(layouts)])
            compare(f"{np.dtype(dt).name} layout {j}", a, b, pa, pb)
        # mixed dtypes: a of this dtype against uint32 b
        pb = path(f"b32_{k}.tif")
        write_tifffile(pb, b.astype(np.uint32), rows=3)
        compare(f"{np.dtype(dt).name} x uint32", a, b.astype(np.uint32), pa, pb)


def case_tiffcp_codecs():
    a = cells((200, 230), 80, 11)
    b = second_segmentation(a, 2**32 - 2).astype(np.uint32)
    a = a.astype(np.uint16)
    pa0, pb0 = path("cp_a.tif"), path("cp_b.tif")
    write_tifffile(pa0, a, rows=200)
    write_tifffile(pb0, b, tile=(64, 64))
    variants = [
        ["-c", "lzw"],
        ["-c", "lzw:2", "-B"],
        ["-c", "zip", "-t", "-w", "48", "-l", "32"],
        ["-c", "zip:2", "-L", "-r", "3"],
        ["-c", "packbits", "-B"],
        ["-c", "zstd", "-t", "-w", "16", "-l", "16"],
        ["-c", "zstd:2", "-B", "-r", "64"],
        ["-c", "lzma", "-L"],
        ["-c", "lzma:2", "-B", "-t", "-w", "128", "-l", "16"],
        ["-c", "none", "-B"],
    ]
    for i, v in enumerate(variants):
        pa, pb = path(f"cp_a{i}.tif"), path(f"cp_b{i}.tif")
        tiffcp(pa0, pa, *v)
        tiffcp(pb0, pb, *variants[(i + 3) % len(variants)])
        for threads in ("1", "2", "3"):
            compare(f"tiffcp {' '.join(v)} threads {threads}", a, b, pa, pb,
                    extra=("--threads", threads))
        compare(f"tiffcp {' '.join(v)} memory", a, b, pa, pb,
                extra=("--memory", "--threads", "2"))


def case_realistic_cells():
    for n, (h, w) in ((150, (256, 300)), (400, (512, 512))):
        a = cells((h, w), n, 10)
        b = second_segmentation(a, 2**63 - 1)
        pa, pb = path(f"real_a{n}.tif"), path(f"real_b{n}.tif")
        write_tifffile(pa, a.astype(np.uint32), tile=(64, 64), compression="zlib")
        write_tifffile(pb, b, rows=16, compression="zlib", order=">")
        compare(f"cells n={n}", a.astype(np.uint32), b, pa, pb, extra=("--threads", "2"))


def case_huge_labels_and_shapes():
    # label 2^32 - 1, 2^63, 2^64 - 1
    a = np.zeros((40, 50), np.uint64)
    a[5:20, 5:30] = 2**64 - 1
    a[20:, 10:] = 2**63
    a[0, 0] = 2**32 - 1
    b = np.roll(a, 4, axis=0)
    b[b == 2**63] = 2**32 - 1
    pa, pb = path("huge_a.tif"), path("huge_b.tif")
    write_tifffile(pa, a, tile=(16, 16), compression="zlib", order=">")
    write_tifffile(pb, b, rows=3)
    compare("huge uint64", a, b, pa, pb)
    a32 = np.full((9, 9), 2**32 - 1, np.uint32)
    a32[:3] = 0
    write_tifffile(pa, a32)
    write_tifffile(pb, a32[::-1].copy(), order=">")
    compare("uint32 max", a32, a32[::-1].copy(), pa, pb)
    # all background, 1x1, 1xN, Nx1
    for name, shape in (("all-background", (30, 40)), ("1x1", (1, 1)), ("1xN", (1, 777)),
                        ("Nx1", (555, 1))):
        z = np.zeros(shape, np.uint16)
        r = RNG.integers(0, 3, size=shape).astype(np.uint16)
        write_tifffile(pa, z, compression="zlib")
        write_tifffile(pb, r if name != "all-background" else z)
        compare(name, z, r if name != "all-background" else z, pa, pb)
        write_tifffile(pa, r, tile=(16, 16))
        compare(name + " tiles", r, r if name != "all-background" else z, pa, pb)


def case_ties():
    """IoU exactly 0.5 (a label halved by two others) and 7/10, bit for bit."""
    a = np.zeros((6, 10), np.uint16)
    b = np.zeros((6, 10), np.uint16)
    a[0, :4] = 1
    b[0, :2], b[0, 2:4] = 7, 8  # b 7 and 8 are each half of a 1
    a[1, :2], a[1, 2:4] = 2, 3
    b[1, :4] = 9  # a 2 and 3 are each half of b 9
    a[2, :8] = 5
    b[2, 1:10] = 6  # 7 shared of 10: IoU exactly 0.7
    a[3:, :] = np.arange(30).reshape(3, 10) // 3 + 10
    b[3:, :] = np.arange(30).reshape(3, 10) // 2 + 100
    pa, pb = path("tie_a.tif"), path("tie_b.tif")
    write_tifffile(pa, a)
    write_tifffile(pb, b, order=">")
    compare("ties", a, b, pa, pb)


def case_random_and_many_pairs():
    for k, dt in enumerate(DTYPES):
        top = dtype_max(dt)
        a = RNG.integers(0, min(top, 2**62), size=(61, 83), dtype=np.int64, endpoint=True).astype(dt)
        b = RNG.integers(0, 5, size=(61, 83)).astype(dt)
        pa, pb = path(f"rnd_a{k}.tif"), path(f"rnd_b{k}.tif")
        write_tifffile(pa, a, rows=10, order="<>"[k % 2])
        write_tifffile(pb, b, tile=(16, 16), order="><"[k % 2])
        compare(f"random {np.dtype(dt).name}", a, b, pa, pb)
    # 10^6 distinct pairs
    a = np.arange(1, 10**6 + 1, dtype=np.uint32).reshape(1000, 1000)
    b = ((a.astype(np.uint64) * 7919) % 1000003).astype(np.uint32)
    pa, pb = path("many_a.tif"), path("many_b.tif")
    write_tifffile(pa, a, compression="zlib", rows=64)
    write_tifffile(pb, b, tile=(128, 128))
    compare("10^6 pairs", a, b, pa, pb, extra=("--threads", "2"))
    out = run_driver(pa, pb, "--max-pairs", "999999")
    expect_error("10^6 pairs over max_pairs", out, "too_large", "max_pairs")


def expect_error(name, out, code, needle):
    global CHECKS
    CHECKS += 1
    if not out.startswith(f"error {code}:") or needle not in out:
        fail(f"{name}: want error {code} naming '{needle}', got: {out.strip()[:200]}")


def case_refusals():
    good = path("good.tif")
    g = cells((32, 48), 5, 8).astype(np.uint16)
    write_tifffile(good, g)
    bad = path("bad.tif")
    write_tifffile(bad, g.astype(np.float32))
    expect_error("float32", run_driver(good, bad), "unprocessable", "floating-point")
    tifffile.imwrite(bad, np.stack([g, g, g], axis=-1).astype(np.uint8), photometric="rgb")
    expect_error("rgb", run_driver(bad, good), "unprocessable", "samples per pixel")
    g8 = path("g8.tif")
    write_tifffile(g8, g.astype(np.uint8))
    tiffcp(g8, bad, "-c", "jpeg")
    expect_error("jpeg", run_driver(good, bad), "unprocessable", "JPEG")
    write_tifffile(bad, g[:31])
    expect_error("shapes", run_driver(good, bad), "unprocessable", "a is 32 x 48, b is 31 x 48")
    neg = g.astype(np.int16)
    neg[3, 4] = -7
    write_tifffile(bad, neg, compression="zlib")
    expect_error("negative", run_driver(good, bad), "unprocessable", "negative label -7 at pixel 148")
    expect_error("page", run_driver(good, good, "--page-b", "1"), "unprocessable",
                 "b: page 1 does not exist")
    with open(good, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 2])
    out = run_driver(good, bad)
    expect_error("truncated", out, "unprocessable", "b:")
    out = run_driver(good, bad, "--memory")
    expect_error("truncated upload", out, "unprocessable", "b:")


def main():
    try:
        case_dtypes_and_layouts()
        case_tiffcp_codecs()
        case_realistic_cells()
        case_huge_labels_and_shapes()
        case_ties()
        case_random_and_many_pairs()
        case_refusals()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"diff_overlap: {CHECKS} comparisons, {len(FAILURES)} failed")
    return 1 if FAILURES or CHECKS == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
