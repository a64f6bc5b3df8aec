"""The evaluation fields of overlap / overlap_batch (matching at any threshold and criterion,
matched pairs, metrics, dataset aggregation, 3-D arrays) as typed objects, against the
published definitions (the repository's tests/references.py and skimage.metrics)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import tessera_client as tc
from conftest import REPO, Labels

sys.path.insert(0, str(REPO / "tests"))
import references as ref  # noqa: E402  (the repository's StarDist / cellpose references)


def want_matching(a: np.ndarray, b: np.ndarray, t: float, criterion: str = "iou") -> dict[str, Any]:
    ov, ida, idb, nt, npred = ref.tables(a, b)
    tp, fp, fn, total, matches = ref.stardist(ov, nt, npred, criterion, t, "float32", ida, idb)
    return {**ref.matching_fields(tp, fp, fn, total, nt, npred), "matches": matches}


def check_matching(m: tc.Matching, want: dict[str, Any], t: float, criterion: str) -> None:
    assert (m.threshold, m.criterion) == (t, criterion)
    for key in ref.COUNTS:
        assert getattr(m, key) == want[key], key
    for key in ref.RATIOS:
        assert getattr(m, key) == pytest.approx(want[key], rel=1e-6, abs=1e-12), key
    assert m.mean_matched_iou == m.mean_matched_score


def test_sweep_criteria_and_matches(client: tc.Client, labels: Labels) -> None:
    ts = [0.1, 0.3, 0.5, 0.7, 0.9]
    for criterion in ("iou", "iot", "iop"):
        r = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=ts,
                           criterion=criterion, report_matches=True)
        assert isinstance(r.matching, list) and len(r.matching) == len(ts)
        for t, m in zip(ts, r.matching):
            want = want_matching(labels.truth, labels.pred, t, criterion)
            check_matching(m, want, t, criterion)
            assert m.matches is not None
            got = sorted(zip(m.matches.a.tolist(), m.matches.b.tolist(),
                             m.matches.score.tolist(), m.matches.tp.tolist()))
            assert [(a, b, k) for a, b, _, k in got] == [(a, b, k) for a, b, _, k in want["matches"]]
            np.testing.assert_allclose([s for _, _, s, _ in got],
                                       [s for _, _, s, _ in want["matches"]], rtol=1e-6)
            assert m.matches.tp.dtype == np.bool_ and m.matches.a.dtype == np.uint64
            assert int(m.matches.tp.sum()) == m.tp
    single = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", match_threshold=0.5)
    assert isinstance(single.matching, tc.Matching) and single.matching.matches is None


def test_numpy_thresholds(client: tc.Client) -> None:
    r = client.overlap("t/labels/truth.tif", "t/labels/pred.tif",
                       match_threshold=np.linspace(0.1, 0.9, 9))
    assert isinstance(r.matching, list) and len(r.matching) == 9
    one = client.overlap("t/labels/truth.tif", "t/labels/pred.tif",
                         match_threshold=np.float32(0.5))
    assert isinstance(one.matching, tc.Matching)


def test_metrics(client: tc.Client, labels: Labels) -> None:
    from skimage.metrics import adapted_rand_error, variation_of_information

    r = client.overlap(labels.truth, labels.pred, metrics=["aji", "vi", "adapted_rand"])
    assert r.metrics is not None and r.matching is None
    ov, _, _, nt, npred = ref.tables(labels.truth, labels.pred)
    assert r.metrics.aji == pytest.approx(ref.aji_ref(ov, nt, npred), rel=1e-12)
    vi = variation_of_information(labels.truth, labels.pred)
    assert r.metrics.vi is not None
    assert r.metrics.vi.h_pred_given_true == pytest.approx(vi[0], rel=1e-12, abs=1e-15)
    assert r.metrics.vi.h_true_given_pred == pytest.approx(vi[1], rel=1e-12, abs=1e-15)
    assert r.metrics.vi.sum == pytest.approx(vi[0] + vi[1], rel=1e-12)
    err, prec, rec = adapted_rand_error(labels.truth, labels.pred)
    assert r.metrics.adapted_rand is not None
    assert (r.metrics.adapted_rand.error, r.metrics.adapted_rand.precision,
            r.metrics.adapted_rand.recall) == pytest.approx((err, prec, rec), rel=1e-12)
    only = client.overlap(labels.truth, labels.pred, metrics=["aji"])
    assert only.metrics is not None and only.metrics.vi is None and only.metrics.adapted_rand is None
    assert client.overlap(labels.truth, labels.pred).metrics is None


@pytest.mark.parametrize("aggregate", ["pooled", "by_image"])
def test_dataset(client: tc.Client, labels: Labels, aggregate: str) -> None:
    ts = [0.3, 0.5, 0.8]
    pairs = [("t/labels/truth.tif", "t/labels/pred.tif"),
             ("t/labels/truth.tif", "t/labels/missing.tif"),
             ("t/labels/stack.tif", "t/labels/stack.tif", 0, 2)]
    results = client.overlap_batch(pairs, match_threshold=ts, aggregate=aggregate)
    assert isinstance(results, tc.OverlapBatch) and len(results) == 3
    assert isinstance(results[1], tc.PairError)
    ds = results.dataset
    assert ds is not None and (ds.aggregate, ds.images) == (aggregate, 2)
    assert isinstance(ds.matching, list) and len(ds.matching) == len(ts)
    images = [(labels.truth, labels.pred), (labels.stack[0], labels.stack[2])]
    for t, m in zip(ts, ds.matching):
        per = []
        for a, b in images:
            w = want_matching(a, b, t)
            per.append({k: v for k, v in w.items() if k != "matches"})
        want = ref.matching_dataset(per, aggregate == "by_image")
        check_matching(m, want, t, "iou")
    plain = client.overlap_batch(pairs[:1], match_threshold=0.5)
    assert plain.dataset is None


def test_volumes_as_arrays(client: tc.Client, labels: Labels) -> None:
    """3-D arrays go as .npy: the answer has the depth and the 3-D contingency table."""
    a = labels.stack
    b = np.roll(labels.stack, 1, axis=2).astype(">u2")
    r = client.overlap(a, b, match_threshold=0.5, iou=True)
    assert (r.depth, r.height, r.width) == a.shape
    ov, ida, idb, nt, npred = ref.tables(a, b)
    rows, cols = np.nonzero(ov)
    assert len(r.pairs) == len(rows)
    np.testing.assert_array_equal(r.pairs.count, ov[rows, cols])
    assert isinstance(r.matching, tc.Matching)
    check_matching(r.matching, want_matching(a, b.astype(np.uint16), 0.5), 0.5, "iou")
    by_path = client.overlap("t/labels/stack.tif", "t/labels/stack.tif", volume=True)
    assert by_path.depth == 3 and int(by_path.pairs.count.sum()) == labels.stack.size
    flat = client.overlap("t/labels/truth.tif", "t/labels/pred.tif")
    assert flat.depth is None
