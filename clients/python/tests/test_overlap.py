"""overlap and overlap_batch against the real server, compared with numpy on the same labels."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import tessera_client as tc
from conftest import Labels


def reference(a: np.ndarray, b: np.ndarray, include_background: bool = True) -> dict[str, Any]:
    """The contingency table (np.unique on the pair), IoU per pair, label counts."""
    a64 = a.astype(np.uint64).ravel()
    b64 = b.astype(np.uint64).ravel()
    pairs, counts = np.unique(np.stack([a64, b64], axis=1), axis=0, return_counts=True)
    ua, area_a = np.unique(a64, return_counts=True)
    ub, area_b = np.unique(b64, return_counts=True)
    aa = area_a[np.searchsorted(ua, pairs[:, 0])]
    ab = area_b[np.searchsorted(ub, pairs[:, 1])]
    iou = counts / (aa + ab - counts)
    keep = np.ones(len(pairs), bool) if include_background else (pairs[:, 0] != 0) & (pairs[:, 1] != 0)
    return {
        "a": pairs[keep, 0], "b": pairs[keep, 1], "count": counts[keep], "iou": iou[keep],
        "all_a": pairs[:, 0], "all_b": pairs[:, 1], "all_iou": iou,
        "labels_a": int((ua != 0).sum()), "labels_b": int((ub != 0).sum()),
    }


def reference_matching(ref: dict[str, Any], t: float) -> dict[str, float]:
    """StarDist's matching for t >= 0.5: pairs of nonzero labels with IoU >= t (at most one
    partner each), taken in (a, b) order."""
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = []
    for a, b, iou in zip(ref["all_a"].tolist(), ref["all_b"].tolist(), ref["all_iou"].tolist()):
        if a and b and iou >= t and a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            matched.append(iou)
    tp = len(matched)
    fp, fn = ref["labels_b"] - tp, ref["labels_a"] - tp
    total = float(np.sum(np.array(matched))) if matched else 0.0
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp else 0.0,
        "recall": tp / (tp + fn) if tp else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "mean_matched_iou": total / tp if tp else 0.0,
        "panoptic_quality": total / (tp + fp / 2 + fn / 2) if tp else 0.0,
    }


def check_result(result: tc.OverlapResult, a: np.ndarray, b: np.ndarray, *,
                 include_background: bool = True, iou: bool = False,
                 threshold: float | None = None) -> None:
    """Everything the server said, against numpy."""
    ref = reference(a, b, include_background)
    assert (result.height, result.width) == a.shape
    assert (result.labels_a, result.labels_b) == (ref["labels_a"], ref["labels_b"])
    assert result.pairs.a.dtype == np.uint64 and result.pairs.count.dtype == np.int64
    np.testing.assert_array_equal(result.pairs.a, ref["a"])
    np.testing.assert_array_equal(result.pairs.b, ref["b"])
    np.testing.assert_array_equal(result.pairs.count, ref["count"])
    if include_background:
        assert int(result.pairs.count.sum()) == a.size
    if iou:
        assert result.pairs.iou is not None
        np.testing.assert_allclose(result.pairs.iou, ref["iou"], rtol=1e-15, atol=0)
    else:
        assert result.pairs.iou is None
    if threshold is None:
        assert result.matching is None
    else:
        m = result.matching
        assert m is not None and m.threshold == threshold
        want = reference_matching(ref, threshold)
        assert (m.tp, m.fp, m.fn) == (want["tp"], want["fp"], want["fn"])
        for key in ("precision", "recall", "f1", "mean_matched_iou", "panoptic_quality"):
            assert getattr(m, key) == pytest.approx(want[key], rel=1e-12, abs=1e-15), key


def test_paths_under_the_root(client: tc.Client, labels: Labels) -> None:
    result = client.overlap("t/labels/truth.tif", "t/labels/pred.tif")
    check_result(result, labels.truth, labels.pred)
    assert result.path_a is None and result.request_id
    full = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", iou=True,
                          include_background=False, match_threshold=0.5)
    check_result(full, labels.truth, labels.pred, include_background=False, iou=True,
                 threshold=0.5)
    assert full.matching is not None and 0 < full.matching.tp < labels.truth.max()
    strict = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=0.75)
    check_result(strict, labels.truth, labels.pred, threshold=0.75)
    assert "pairs" not in full.raw and full.raw["labels_a"] == full.labels_a


def test_labels_near_2_64_are_exact(client: tc.Client, labels: Labels) -> None:
    """uint64 labels above 2^53 survive JSON exactly (one file big-endian)."""
    result = client.overlap("t/labels/big_a.tif", "t/labels/big_b.tif", iou=True)
    check_result(result, labels.big_a, labels.big_b, iou=True)
    assert int(result.pairs.a.max()) > 2**63


def test_pages(client: tc.Client, labels: Labels) -> None:
    result = client.overlap("t/labels/stack.tif", "t/labels/stack.tif", page_a=0, page_b=2,
                            match_threshold=0.5)
    check_result(result, labels.stack[0], labels.stack[2], threshold=0.5)
    with pytest.raises(tc.ClientError):
        client.overlap("t/labels/stack.tif", "t/labels/stack.tif", page_a=3)


def test_uploads_every_form(client: tc.Client, root: Path, labels: Labels) -> None:
    truth_path, pred_path = root / "t/labels/truth.tif", root / "t/labels/pred.tif"
    want = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=0.5)
    forms: list[tuple[Any, Any]] = [
        (truth_path, pred_path),  # local files
        (truth_path.read_bytes(), bytearray(pred_path.read_bytes())),  # bytes
        (io.BytesIO(truth_path.read_bytes()), open(pred_path, "rb")),  # file objects
        (labels.truth, labels.pred),  # numpy arrays
        (labels.truth.astype(">u4"), labels.pred.astype(np.int32)),  # other dtypes / order
        (memoryview(truth_path.read_bytes()), labels.pred.astype(">i8")),  # mixed uploads
    ]
    for a, b in forms:
        got = client.overlap(a, b, match_threshold=0.5)
        check_result(got, labels.truth, labels.pred, threshold=0.5)
        assert got.matching == want.matching
        np.testing.assert_array_equal(got.pairs.b, want.pairs.b)
        for f in (a, b):
            if hasattr(f, "close"):
                f.close()
    big = client.overlap(labels.big_a, labels.big_b, iou=True)
    check_result(big, labels.big_a, labels.big_b, iou=True)
    mask = client.overlap(labels.truth > 0, labels.pred > 0)
    check_result(mask, (labels.truth > 0).astype(np.uint8), (labels.pred > 0).astype(np.uint8))


def test_upload_options_reach_the_server(client: tc.Client, labels: Labels) -> None:
    result = client.overlap(labels.truth, labels.pred, include_background=False, iou=True,
                            match_threshold=0.6)
    check_result(result, labels.truth, labels.pred, include_background=False, iou=True,
                 threshold=0.6)


def test_arrays_need_no_tiff_library(client: tc.Client, root: Path, labels: Labels,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy arrays travel as .npy (numpy.save's bytes), .npy bytes and files as they are."""
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile now fails
    check_result(client.overlap(labels.truth, labels.pred), labels.truth, labels.pred)
    buf = io.BytesIO()
    np.save(buf, labels.truth.astype(">i4"))
    npy = root / "t" / "pred.npy"
    np.save(npy, np.asfortranarray(labels.pred))
    for a, b in [(buf.getvalue(), npy), (io.BytesIO(buf.getvalue()), npy.read_bytes())]:
        check_result(client.overlap(a, b), labels.truth, labels.pred)
    body, content_type = tc._uploads.multipart_body(
        {"a": tc._uploads.label_bytes(labels.truth, "a"),
         "b": tc._uploads.label_bytes(npy.read_bytes(), "b")}, b"{}")
    assert content_type.startswith("multipart/form-data; boundary=")
    assert body.count(b"Content-Type: application/x-npy") == 2
    assert b'filename="a.npy"' in body and b'filename="b.npy"' in body
    tiff = tc._uploads.label_bytes((root / "t/labels/truth.tif").read_bytes(), "a")
    assert tiff[0] == "a.tif"


def test_bad_inputs_are_refused_before_sending(client: tc.Client, labels: Labels) -> None:
    with pytest.raises(TypeError, match="both be paths"):
        client.overlap("t/labels/truth.tif", labels.pred)
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        client.overlap(labels.stack[None], labels.stack[None])
    with pytest.raises(TypeError, match="integers"):
        client.overlap(labels.truth.astype(np.float32), labels.pred.astype(np.float32))
    with pytest.raises(TypeError, match="binary mode"):
        client.overlap(io.StringIO("x"), io.StringIO("y"))
    with pytest.raises(TypeError):
        client.overlap(1, 2)  # type: ignore[arg-type]


def test_server_errors_map_to_exceptions(client: tc.Client, labels: Labels) -> None:
    with pytest.raises(tc.NotFound):
        client.overlap("t/labels/truth.tif", "t/labels/missing.tif")
    with pytest.raises(tc.Forbidden):
        client.overlap("../truth.tif", "t/labels/pred.tif")
    with pytest.raises(tc.Unprocessable, match="50 x 50|shape"):
        client.overlap("t/labels/truth.tif", "t/labels/small.tif")
    with pytest.raises(tc.BadRequest, match=r"\(0, 1\]"):
        client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=1.5)
    with pytest.raises(tc.Unprocessable, match="not a|TIFF|tiff"):
        client.overlap(b"not a tiff", b"not a tiff either")
    negative = labels.truth.astype(np.int16)
    negative[0, 0] = -5
    with pytest.raises(tc.Unprocessable, match="negative label -5"):
        client.overlap(negative, negative)


def test_options_pass_through(client: tc.Client) -> None:
    """Options the client does not model go to the server as given: a known one takes
    effect, an unknown one is refused naming it (so it arrived)."""
    r = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=0.5,
                       criterion="iot")
    assert isinstance(r.matching, tc.Matching)
    assert r.raw["matching"]["criterion"] == "iot"
    with pytest.raises(tc.BadRequest, match="frobnicate"):
        client.overlap("t/labels/truth.tif", "t/labels/pred.tif", frobnicate=True)
    with pytest.raises(tc.BadRequest, match="frobnicate"):
        client.overlap_batch([("t/labels/truth.tif", "t/labels/pred.tif")], frobnicate=True)


def test_threshold_sweep(client: tc.Client) -> None:
    """A list of thresholds gives a list of matchings in the same order, from one count."""
    ts = [0.1, 0.5, 0.9]
    r = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=ts)
    assert isinstance(r.matching, list) and [m.threshold for m in r.matching] == ts
    tps = [m.tp for m in r.matching]
    assert tps == sorted(tps, reverse=True)
    one = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=0.5)
    assert one.matching == r.matching[1]


def test_batch(client: tc.Client, labels: Labels) -> None:
    results = client.overlap_batch(
        [
            ("t/labels/truth.tif", "t/labels/pred.tif"),
            {"a": "t/labels/stack.tif", "b": "t/labels/stack.tif", "page_a": 1, "page_b": 2},
            ("t/labels/truth.tif", "t/labels/missing.tif"),
            ("t/labels/stack.tif", "t/labels/stack.tif", 0, 1),
        ],
        iou=True,
        match_threshold=0.5,
    )
    assert len(results) == 4
    first, pages, missing, last = results
    assert isinstance(first, tc.OverlapResult) and first.path_a == "t/labels/truth.tif"
    check_result(first, labels.truth, labels.pred, iou=True, threshold=0.5)
    assert isinstance(pages, tc.OverlapResult)
    check_result(pages, labels.stack[1], labels.stack[2], iou=True, threshold=0.5)
    assert isinstance(missing, tc.PairError) and isinstance(missing.error, tc.NotFound)
    assert (missing.path_a, missing.path_b, missing.status) == (
        "t/labels/truth.tif", "t/labels/missing.tif", 404)
    assert isinstance(last, tc.OverlapResult)
    check_result(last, labels.stack[0], labels.stack[1], iou=True, threshold=0.5)
    with pytest.raises(TypeError):
        client.overlap_batch([(labels.truth, labels.pred)])
    with pytest.raises(TypeError):
        client.overlap_batch([("only-one.tif",)])


def test_dataframe(client: tc.Client, labels: Labels) -> None:
    frame = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", iou=True).to_dataframe()
    ref = reference(labels.truth, labels.pred)
    assert list(frame.columns) == ["a", "b", "count", "iou"]
    np.testing.assert_array_equal(frame["count"].to_numpy(), ref["count"])
    assert str(frame["a"].dtype) == "uint64"


def test_quantify(client: tc.Client, root: Path, labels: Labels) -> None:
    """quantify: paths and uploads against skimage's regionprops_table, and the DataFrame."""
    from skimage.measure import regionprops_table

    rng = np.random.default_rng(5)
    chans = {"DNA": rng.integers(0, 65535, labels.truth.shape, dtype=np.uint16),
             "CD3": rng.integers(0, 255, labels.truth.shape, dtype=np.uint8)}
    folder = root / "t/quantify"
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in chans.items():
        tifffile.imwrite(folder / f"{name}.tif", arr)
    want = regionprops_table(labels.truth.astype(np.int64), properties=(
        "label", "area", "centroid", "eccentricity", "solidity"))
    paths = client.quantify("t/labels/truth.tif",
                            {name: f"t/quantify/{name}.tif" for name in chans},
                            intensity=["mean", "max"])
    uploaded = client.quantify(labels.truth, chans, intensity=["mean", "max"])
    for got in (paths, uploaded):
        assert got["label"].dtype == np.uint64
        assert np.array_equal(got["label"], want["label"])
        assert np.array_equal(got["area"], want["area"])
        np.testing.assert_allclose(got["centroid-1"], want["centroid-1"], rtol=1e-12)
        np.testing.assert_allclose(got["solidity"], want["solidity"], rtol=1e-15)
        for name, arr in chans.items():
            mean = regionprops_table(labels.truth.astype(np.int64), arr,
                                     properties=("intensity_mean", "intensity_max"))
            np.testing.assert_allclose(got[f"mean-{name}"], mean["intensity_mean"], rtol=1e-12)
            assert np.array_equal(got[f"max-{name}"], mean["intensity_max"])
    table = client.quantify("t/labels/truth.tif", [f"t/quantify/{n}.tif" for n in chans],
                            dataframe=True)
    assert list(table.columns[:3]) == ["CellID", "channel_0", "channel_1"]
    assert list(table.columns[3:]) == ["X_centroid", "Y_centroid", "Area", "MajorAxisLength",
                                       "MinorAxisLength", "Eccentricity", "Solidity", "Extent",
                                       "Orientation"]
    assert np.array_equal(table["X_centroid"].to_numpy(), paths["centroid-1"])
    assert np.array_equal(table["channel_0"].to_numpy(), paths["mean-DNA"])
    masks = client.quantify({"cell": "t/labels/truth.tif", "other": "t/labels/pred.tif"},
                            [f"t/quantify/{n}.tif" for n in chans])
    assert list(masks) == ["cell", "other"]
    assert np.array_equal(masks["cell"]["label"], want["label"])
    assert np.array_equal(masks["other"]["label"], np.unique(labels.pred[labels.pred != 0]))
    with pytest.raises(tc.ClientError):
        client.quantify("t/labels/truth.tif", ["t/labels/small.tif"])
    with pytest.raises(TypeError):
        client.quantify(labels.truth, ["t/quantify/DNA.tif"])


def test_numpy_format(client: tc.Client, labels: Labels) -> None:
    """format="numpy": the pairs table as a .npy structured array, equal to numpy's own."""
    got = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", format="numpy")
    ref = reference(labels.truth, labels.pred)
    assert got.dtype.names == ("a", "b", "count") and got.dtype["a"] == np.uint64
    np.testing.assert_array_equal(got["a"], ref["a"])
    np.testing.assert_array_equal(got["b"], ref["b"])
    np.testing.assert_array_equal(got["count"], ref["count"])
    hidden = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", format="numpy",
                            iou=True, include_background=False)
    ref = reference(labels.truth, labels.pred, include_background=False)
    assert hidden.dtype.names == ("a", "b", "count", "iou")
    np.testing.assert_array_equal(hidden["a"], ref["a"])
    np.testing.assert_array_equal(hidden["b"], ref["b"])
    np.testing.assert_allclose(hidden["iou"], ref["iou"], rtol=1e-15, atol=0)
    big = client.overlap("t/labels/big_a.tif", "t/labels/big_b.tif", format="numpy")
    ref = reference(labels.big_a, labels.big_b)
    np.testing.assert_array_equal(big["a"], ref["a"])  # labels near 2^64, exact
    up = client.overlap(labels.truth, labels.pred, format="numpy")  # an upload too
    np.testing.assert_array_equal(up["count"], reference(labels.truth, labels.pred)["count"])
    with pytest.raises(ValueError):
        client.overlap("t/labels/truth.tif", "t/labels/pred.tif", format="csv")
