#!/usr/bin/python3
"""diff_quantify_http.py - POST /quantify over real HTTP against skimage 0.19.

Starts the real server over a temporary data root holding watershed cells (1024 x 1024,
~1500 cells, plus 1- and 2-pixel cells and cells on the border) and 8 channels of uint8,
uint16 and float32, written as one multi-page OME-TIFF with channel names, as a list of
TIFF files, and the label image also as a Zarr array (and both as named masks). Every answer must equal
skimage.measure.regionprops_table on the same arrays (shape features to 1e-9 relative,
convex area and area exactly, means to 1e-12 relative against float64 - 1e-6 against
skimage's own float32 means - sum, min, max and median exactly, mcquant's gini_index to
1e-12), in JSON and in mcquant's CSV read
back with pandas.read_csv. Multipart .npy uploads (every integer dtype and float32 / float64
channels of both byte orders, NaN included), float Zarr v2 / v3 channels (fill_value NaN,
a number or hex bits, with missing chunks) and the error answers are checked too.

Usage: diff_quantify_http.py PATH/TO/tessera
"""
import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import tifffile
import zarr
from scipy import ndimage as ndi
from skimage.measure import regionprops_table
from skimage.segmentation import watershed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_overlap_http import Server  # noqa: E402

FAILURES = []
SHAPE = ("label", "centroid", "area", "major_axis_length", "minor_axis_length",
         "eccentricity", "solidity", "extent", "orientation", "perimeter", "bbox")
NAMES = ["DNA", "CD3", "CD8", "CD20", "KI67", "PANCK", "SMA", "CD45"]


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def post(port, body, content_type, accept=None):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    req = urllib.request.Request(f"http://127.0.0.1:{port}/quantify", data=body, method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def multipart(parts):
    boundary = "----tessera" + os.urandom(12).hex()
    chunks = []
    for name, data, filename in parts:
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disp += f'; filename="{filename}"'
        chunks += [f"--{boundary}\r\n{disp}\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def cells(size, n, seed):
    rng = np.random.default_rng(seed)
    markers = np.zeros((size, size), np.int32)
    markers[rng.integers(0, size, n), rng.integers(0, size, n)] = np.arange(1, n + 1)
    dist = ndi.distance_transform_edt(markers == 0)
    lab = watershed(dist, markers)
    lab[dist > size / np.sqrt(n) * 0.45] = 0
    lab[0, 0:3] = n + 1
    lab[500, 500] = n + 2
    lab[700, 700:702] = n + 3
    lab[size - 1, size - 6:] = n + 4
    return lab.astype(np.uint32)


def close(what, got, want, rel, absolute=0.0):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        fail(f"{what}: {got.shape} values, skimage {want.shape}")
        return
    bad = ~np.isclose(got, want, rtol=rel, atol=absolute, equal_nan=True)
    if bad.any():
        i = int(np.argmax(bad))
        fail(f"{what}: row {i}: {got[i]!r} != {want[i]!r} ({int(bad.sum())} rows differ)")


def orientation_close(what, got, want):
    """Equal, or the same axis where skimage's sign comes from rounding (see core/quantify.h)."""
    got, want = np.asarray(got), np.asarray(want)
    same = np.abs(got - want) < 1e-9
    turn = (np.abs(np.abs(got - want) - np.pi) < 1e-9) | \
        ((np.abs(got) == np.pi / 4) & (np.abs(got + want) < 1e-9))
    if not (same | turn).all():
        i = int(np.argmax(~(same | turn)))
        fail(f"{what}: row {i}: {got[i]!r} != {want[i]!r}")


def zarr_v3_float(path, arr, chunks, fill, skip=()):
    """A Zarr v3 float array written by hand from the v3 spec (zarr 2.13 cannot write v3):
    the bytes codec (arr's byte order) and nothing else; chunks in skip are left out."""
    os.makedirs(path)
    endian = "big" if arr.dtype.byteorder == ">" else "little"
    meta = {"zarr_format": 3, "node_type": "array", "shape": list(arr.shape),
            "data_type": {4: "float32", 8: "float64"}[arr.dtype.itemsize],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": fill,
            "codecs": [{"name": "bytes", "configuration": {"endian": endian}}]}
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(meta, f)
    for cy in range(-(-arr.shape[0] // chunks[0])):
        for cx in range(-(-arr.shape[1] // chunks[1])):
            if (cy, cx) in skip:
                continue
            block = np.zeros(chunks, arr.dtype)  # edge chunks are stored at the full shape
            part = arr[cy * chunks[0]:(cy + 1) * chunks[0], cx * chunks[1]:(cx + 1) * chunks[1]]
            block[:part.shape[0], :part.shape[1]] = part
            os.makedirs(os.path.join(path, "c", str(cy)), exist_ok=True)
            with open(os.path.join(path, "c", str(cy), str(cx)), "wb") as f:
                f.write(block.tobytes())


def zarr_float_cases(root, lab, chans):
    """Float Zarr channels: v2 <f4 with fill_value NaN and a missing chunk, v2 >f8 with a
    numeric fill_value and a missing chunk, v3 float32 (fill "NaN", a missing chunk) and
    big-endian float64 (fill as hex bits, "0x3ff8..." = 1.5). Returns the paths and the
    arrays as read (a missing chunk holds the fill value)."""
    paths, arrays = [], []
    a = zarr.open(os.path.join(root, "f4.zarr"), mode="w", shape=lab.shape, chunks=(300, 300),
                  dtype="<f4", fill_value=np.nan)
    a[:] = chans[2]
    os.remove(os.path.join(root, "f4.zarr", "1.2"))
    want = chans[2].copy()
    want[300:600, 600:900] = np.nan
    paths.append("f4.zarr")
    arrays.append(want)
    a = zarr.open(os.path.join(root, "f8.zarr"), mode="w", shape=lab.shape, chunks=(256, 512),
                  dtype=">f8", fill_value=-2.5)
    a[:] = chans[1].astype(np.float64) / 7
    os.remove(os.path.join(root, "f8.zarr", "3.1"))
    want = chans[1].astype(np.float64) / 7
    want[768:1024, 512:1024] = -2.5
    paths.append("f8.zarr")
    arrays.append(want)
    v = chans[5].astype("<f4") * np.float32(0.5)
    zarr_v3_float(os.path.join(root, "v3f4.zarr"), v, (200, 333), "NaN", skip={(0, 0)})
    v[:200, :333] = np.nan
    paths.append("v3f4.zarr")
    arrays.append(v)
    v = (chans[0].astype(np.float64) - 100).astype(">f8")
    zarr_v3_float(os.path.join(root, "v3f8.zarr"), v, (512, 512), "0x3ff8000000000000",
                  skip={(1, 1)})
    v = v.astype(np.float64)
    v[512:, 512:] = 1.5
    paths.append("v3f8.zarr")
    arrays.append(v)
    return paths, arrays


def reference(lab, channels):
    props = regionprops_table(lab.astype(np.int64), properties=SHAPE)
    ids = props["label"]
    order = np.searchsorted(ids, lab[lab != 0])
    count = np.bincount(order, minlength=len(ids))
    stats = []
    for ch in channels:
        vals = ch[lab != 0].astype(np.float64)
        total = np.bincount(order, weights=vals, minlength=len(ids))
        mn = np.full(len(ids), np.inf)
        mx = np.full(len(ids), -np.inf)
        np.minimum.at(mn, order, vals)
        np.maximum.at(mx, order, vals)
        mean = total / count
        sq = np.bincount(order, weights=(vals - mean[order]) ** 2, minlength=len(ids))
        sk = regionprops_table(lab.astype(np.int64), ch,
                               properties=("intensity_mean", "intensity_min", "intensity_max"))
        med, gini = [], []
        for vals_of in np.split(vals[np.argsort(order, kind="stable")], np.cumsum(count)[:-1]):
            x = np.sort(vals_of)
            med.append(np.median(x))
            cum = np.cumsum(x, dtype=float)
            gini.append((len(x) + 1 - 2 * np.sum(cum) / cum[-1]) / len(x) if cum[-1] else np.nan)
        stats.append({"median": np.array(med), "gini_index": np.array(gini),
                      "mean": mean, "sum": total, "min": mn, "max": mx,
                      "std": np.sqrt(sq / count), "skimage": sk["intensity_mean"],
                      "skimage_min": sk["intensity_min"], "skimage_max": sk["intensity_max"],
                      "float": ch.dtype.kind == "f"})
    return props, stats


def check_json(what, status, body, props, stats, names):
    if status != 200:
        fail(f"{what}: status {status}: {body[:300]!r}")
        return
    doc = json.loads(body)
    cols = doc["columns"]
    if [c["name"] for c in doc["channels"]] != names:
        fail(f"{what}: channel names {[c['name'] for c in doc['channels']]}")
    if not np.array_equal(cols["label"], props["label"]):
        fail(f"{what}: labels differ")
        return
    for k in ("area", "bbox-0", "bbox-1", "bbox-2", "bbox-3"):
        if not np.array_equal(cols[k], props[k]):
            fail(f"{what}: {k} differs")
    for k in ("centroid-0", "centroid-1", "major_axis_length", "extent"):
        close(f"{what} {k}", cols[k], props[k], 1e-9)
    close(f"{what} minor_axis_length", cols["minor_axis_length"], props["minor_axis_length"],
          1e-9, 1e-6)
    close(f"{what} eccentricity", cols["eccentricity"], props["eccentricity"], 1e-9, 1e-6)
    close(f"{what} solidity", cols["solidity"], props["solidity"], 1e-15)
    close(f"{what} perimeter", cols["perimeter"], props["perimeter"], 1e-12)
    orientation_close(f"{what} orientation", cols["orientation"], props["orientation"])
    for c, ref in enumerate(stats):
        got = {k: np.asarray(doc["intensity"][k][c], np.float64) for k in doc["intensity"]}
        close(f"{what} ch{c} mean", got["mean"], ref["mean"], 1e-12)
        close(f"{what} ch{c} skimage mean", got["mean"], ref["skimage"],
              1e-6 if ref["float"] else 1e-12)
        close(f"{what} ch{c} std", got["std"], ref["std"], 1e-12, 1e-12)
        close(f"{what} ch{c} sum", got["sum"], ref["sum"], 1e-12 if ref["float"] else 0)
        for k in ("min", "max"):
            if k in got and not np.array_equal(got[k], ref["skimage_" + k], equal_nan=True):
                fail(f"{what} ch{c} {k} differs from skimage's intensity_{k}")
        for k in ("min", "max", "median"):
            if k in got and not np.array_equal(got[k], ref[k], equal_nan=True):
                fail(f"{what} ch{c} {k} differs")
        if "gini_index" in got:
            close(f"{what} ch{c} gini_index", got["gini_index"], ref["gini_index"], 1e-12, 1e-14)
        elif "median" in got:
            fail(f"{what}: median without gini_index")


def check_csv(what, status, ctype, body, doc_body, names):
    if status != 200 or not ctype.startswith("text/csv"):
        fail(f"{what}: status {status} {ctype}: {body[:300]!r}")
        return
    df = pd.read_csv(io.StringIO(body.decode()), float_precision="round_trip")
    want = ["CellID"] + names + ["X_centroid", "Y_centroid", "Area", "MajorAxisLength",
                                 "MinorAxisLength", "Eccentricity", "Solidity", "Extent",
                                 "Orientation"]
    if list(df.columns) != want:
        fail(f"{what}: columns {list(df.columns)}")
        return
    doc = json.loads(doc_body)
    cols = doc["columns"]
    pairs = [("CellID", cols["label"]), ("X_centroid", cols["centroid-1"]),
             ("Y_centroid", cols["centroid-0"]), ("Area", cols["area"]),
             ("MajorAxisLength", cols["major_axis_length"]),
             ("MinorAxisLength", cols["minor_axis_length"]),
             ("Eccentricity", cols["eccentricity"]), ("Solidity", cols["solidity"]),
             ("Extent", cols["extent"]), ("Orientation", cols["orientation"])]
    pairs += [(n, doc["intensity"]["mean"][c]) for c, n in enumerate(names)]
    for name, values in pairs:
        if not np.array_equal(df[name].to_numpy(np.float64), np.asarray(values, np.float64)):
            fail(f"{what}: CSV column {name} differs from the JSON answer")


def main():
    binary = sys.argv[1]
    rng = np.random.default_rng(18)
    with tempfile.TemporaryDirectory() as top:
        root = os.path.join(top, "root")
        os.mkdir(root)
        lab = cells(1024, 1500, 3)
        kinds = [np.uint8, np.uint16, np.float32] * 3
        chans = []
        for k in range(8):
            if kinds[k] == np.float32:
                chans.append((rng.random(lab.shape, dtype=np.float32) * 4000).astype(np.float32))
            else:
                chans.append(rng.integers(0, np.iinfo(kinds[k]).max, lab.shape, dtype=kinds[k]))
        tifffile.imwrite(os.path.join(root, "cells.tif"), lab, tile=(256, 256),
                         compression="zlib")
        zarr.save_array(os.path.join(root, "cells.zarr"), lab, chunks=(300, 300))
        # one page per channel, mixed dtypes: OME-XML cannot describe that, so the OME file
        # holds the uint16 channels and the list holds all eight
        u16 = [c for c in chans if c.dtype == np.uint16]
        with tifffile.TiffWriter(os.path.join(root, "multi.ome.tif")) as w:
            w.write(np.stack(u16), metadata={"axes": "CYX", "Channel": {"Name": NAMES[:len(u16)]}},
                    compression="zlib", rowsperstrip=64)
        for k, c in enumerate(chans):
            tifffile.imwrite(os.path.join(root, f"c{k}.tif"), c, compression="zlib",
                             rowsperstrip=32)
        props, stats = reference(lab, chans)
        u16_stats = [s for s, c in zip(stats, chans) if c.dtype == np.uint16]

        server = Server(binary, root, ["--threads", "2"])
        try:
            port = server.port
            every = {"intensity": ["mean", "sum", "min", "max", "std", "median", "gini_index"],
                     "shape": list(SHAPE[1:])}
            listed = [{"path": f"c{k}.tif", "name": NAMES[k]} for k in range(8)]
            basic = {"intensity": every["intensity"][:5], "shape": every["shape"]}
            for labels, asked in (("cells.tif", every), ("cells.zarr", basic)):
                body = json.dumps({"labels": labels, "channels": listed, **asked}).encode()
                status, _, answer = post(port, body, "application/json")
                check_json(f"list, {labels}", status, answer, props, stats, NAMES)
            body = json.dumps({"labels": "cells.tif", "channels": "multi.ome.tif",
                               **basic}).encode()
            status, _, answer = post(port, body, "application/json")
            check_json("OME-TIFF pages", status, answer, props, u16_stats, NAMES[:len(u16)])

            body = json.dumps({"labels": {"cell": "cells.tif", "nuclei": {"path": "cells.zarr"}},
                               "channels": listed[:2], **basic}).encode()
            status, _, answer = post(port, body, "application/json")
            masks = json.loads(answer).get("masks", []) if status == 200 else []
            if [m.get("mask") for m in masks] != ["cell", "nuclei"]:
                fail(f"named masks: {status} {answer[:200]!r}")
            for m in masks:
                check_json(f"mask {m['mask']}", 200, json.dumps(m).encode(), props, stats[:2],
                           NAMES[:2])

            body = json.dumps({"labels": "cells.tif", "channels": listed}).encode()
            status, _, doc = post(port, body, "application/json")
            status_csv, ctype, csv = post(port, body, "application/json", "text/csv")
            check_csv("CSV", status_csv, ctype, csv, doc, NAMES)

            def npy(a):
                buf = io.BytesIO()
                np.save(buf, a)
                return buf.getvalue()
            parts = [("labels", npy(lab), "labels.npy")]
            parts += [(NAMES[k], npy(chans[k]), f"c{k}.npy") for k in (0, 1, 3)]
            parts.append(("options", json.dumps(basic).encode(), None))
            status, _, answer = post(port, *multipart(parts))
            check_json("multipart .npy", status, answer, props, [stats[k] for k in (0, 1, 3)],
                       [NAMES[k] for k in (0, 1, 3)])

            # .npy channels of every other dtype: floats of both widths and byte orders, one
            # with NaN in a few cells (every statistic of those cells is NaN, as in skimage),
            # and big-endian / signed integers
            nan_ch = chans[2].astype(np.float64)
            nan_ch[lab == lab[lab != 0][0]] = np.nan
            nan_ch[5, :] = np.nan
            typed = [chans[2].astype(">f4"), nan_ch.astype(">f8"), nan_ch.astype("<f4"),
                     (chans[1].astype(np.int32) - 30000).astype(">i2"),
                     chans[1].astype(">u4"), (chans[1].astype(np.int64) * -7).astype("<i8")]
            _, typed_stats = reference(lab, [t.astype(t.dtype.newbyteorder("=")) for t in typed])
            parts = [("labels", npy(lab), "labels.npy")]
            parts += [(f"t{k}", npy(t), f"t{k}.npy") for k, t in enumerate(typed)]
            parts.append(("options", json.dumps(every).encode(), None))
            status, _, answer = post(port, *multipart(parts))
            check_json("multipart .npy of float and other dtypes", status, answer, props,
                       typed_stats, [f"t{k}" for k in range(len(typed))])
            if status == 200:
                infos = [c["dtype"] for c in json.loads(answer)["channels"]]
                print("typed .npy channels:", infos)
            parts = [("labels", npy(chans[2]), "f.npy"), ("x", npy(chans[0]), "x.npy")]
            status, _, answer = post(port, *multipart(parts))
            if status != 422 or "float dtype" not in json.loads(answer)["detail"]:
                fail(f"float .npy labels: {status} {answer[:200]!r}, want 422")

            zpaths, zarrays = zarr_float_cases(root, lab, chans)
            _, zstats = reference(lab, zarrays)
            body = json.dumps({"labels": "cells.zarr", "channels": zpaths, **every}).encode()
            status, _, answer = post(port, body, "application/json")
            check_json("float Zarr v2 and v3 channels", status, answer, props, zstats,
                       [f"channel_{k}" for k in range(len(zpaths))])
            if status == 200 and [c["dtype"] for c in json.loads(answer)["channels"]] != \
                    ["float32", "float64", "float32", "float64"]:
                fail(f"float Zarr dtypes: {json.loads(answer)['channels']}")
            for labels in ("f4.zarr", "v3f4.zarr"):
                body = json.dumps({"labels": labels, "channels": ["c0.tif"]}).encode()
                status, _, answer = post(port, body, "application/json")
                if status != 422 or "float" not in json.loads(answer)["detail"]:
                    fail(f"float Zarr labels {labels}: {status} {answer[:200]!r}, want 422")

            # an OME-NGFF image with a c axis: (c, y, x) chunked 3 channels deep, and (t, c,
            # z, y, x) without omero names
            cyx = np.stack([chans[k] for k in (1, 4, 7, 6)])
            g = zarr.open_group(os.path.join(root, "img.zarr"), mode="w")
            g.create_dataset("0", data=cyx, chunks=(3, 256, 300))
            g.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}],
                                       "axes": [{"name": "c", "type": "channel"},
                                                {"name": "y", "type": "space"},
                                                {"name": "x", "type": "space"}]}]
            g.attrs["omero"] = {"channels": [{"label": NAMES[k]} for k in (1, 4, 7, 6)]}
            g5 = zarr.open_group(os.path.join(root, "img5.zarr"), mode="w")
            g5.create_dataset("0", data=np.stack([chans[2], chans[3]])[None, :, None],
                              chunks=(1, 1, 1, 512, 512))
            g5.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}],
                                        "axes": ["t", "c", "z", "y", "x"]}]
            for image, picks, names in (("img.zarr", (1, 4, 7, 6),
                                         [NAMES[k] for k in (1, 4, 7, 6)]),
                                        ({"path": "img5.zarr"}, (2, 3), ["channel_0", "channel_1"])):
                body = json.dumps({"labels": "cells.tif", "channels": image, **basic}).encode()
                status, _, answer = post(port, body, "application/json")
                check_json(f"NGFF c axis {image}", status, answer, props,
                           [stats[k] for k in picks], names)

            big = lab.astype(np.uint64)
            big[big != 0] += np.uint64(2**64 - 3000)
            parts = [("labels", npy(big), "big.npy"), ("DNA", npy(chans[1]), "c.npy")]
            status, _, answer = post(port, *multipart(parts))
            if status != 200 or json.loads(answer)["columns"]["label"][-1] != 2**64 - 3000 + 1504:
                fail(f"labels near 2^64: {status} {answer[:200]!r}")

            empty = np.zeros((16, 16), np.uint16)
            status, _, answer = post(port, *multipart([("labels", npy(empty), "e.npy"),
                                                       ("x", npy(empty), "x.npy")]))
            if status != 200 or json.loads(answer)["labels"] != 0:
                fail(f"empty label image: {status} {answer[:200]!r}")

            errors = [
                ({"labels": "cells.tif", "channels": [{"path": "small.tif"}]}, 422, "differ"),
                ({"labels": "c2.tif", "channels": ["c0.tif"]}, 422, "floating"),
                ({"labels": "nope.tif", "channels": ["c0.tif"]}, 404, "nope"),
                ({"labels": "../x.tif", "channels": ["c0.tif"]}, 403, ""),
                ({"labels": "cells.tif"}, 400, "channels"),
                ({"labels": "cells.tif", "channels": ["c0.tif"], "colour": 1}, 400, "colour"),
                ({"labels": "cells.tif", "channels": ["c0.tif"], "shape": ["area", "x"]}, 400,
                 "shape"),
            ]
            tifffile.imwrite(os.path.join(root, "small.tif"), chans[0][:100, :200])
            for req, want, word in errors:
                status, ctype, answer = post(port, json.dumps(req).encode(), "application/json")
                if status != want or ctype != "application/problem+json" or \
                        word not in json.loads(answer)["detail"]:
                    fail(f"{req}: {status} {ctype} {answer[:200]!r}, want {want} naming {word!r}")
        finally:
            if server.stop() != 0:
                fail("the server did not exit 0")

        small = Server(binary, root, ["--max-channels", "2", "--max-labels", "100"])
        try:
            for req, word in (({"labels": "cells.tif", "channels": "multi.ome.tif"},
                               "max_channels"),
                              ({"labels": "cells.tif", "channels": ["c0.tif", "c1.tif", "c3.tif"]},
                               "max-channels"),
                              ({"labels": "cells.tif", "channels": ["c0.tif"]}, "max_labels")):
                status, _, answer = post(small.port, json.dumps(req).encode(), "application/json")
                if status != 413 or word not in json.loads(answer)["detail"]:
                    fail(f"limits {req}: {status} {answer[:200]!r}, want 413 naming {word}")
        finally:
            small.stop()
    if FAILURES:
        print(f"diff_quantify_http: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    print("diff_quantify_http: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
