"""topk against the real server, every mode over JSON and binary, compared with numpy."""

from __future__ import annotations

import numpy as np
import pytest

import tessera_client as tc


def ref_values(x: np.ndarray, k: int, largest: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """np.argsort(x, kind="stable")[:k]; negation mirrors the order and keeps NaN last."""
    x = x.astype(np.float64)
    order = np.argsort(-x if largest else x, kind="stable")[:k]
    return order, x[order]


def ref_rows(m: np.ndarray, k: int, largest: bool = False, exclude_self: bool = False):
    idx, val = [], []
    for i, row in enumerate(m.astype(np.float64)):
        cols = np.arange(len(row))
        if exclude_self:
            cols = cols[cols != i]
        order, _ = ref_values(row[cols], k, largest)
        idx.append(cols[order])
        val.append(row[cols[order]])
    return np.array(idx, np.int64).reshape(len(m), k), np.array(val).reshape(len(m), k)


def ref_points(p: np.ndarray, k: int):
    p = p.astype(np.float64)
    d2 = sum((p[:, None, j] - p[None, :, j]) ** 2 for j in range(p.shape[1]))
    np.fill_diagonal(d2, np.inf)
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return order, np.sqrt(np.take_along_axis(d2, order, axis=1))


def check(result: tc.TopkResult, want_idx: np.ndarray, want_val: np.ndarray, exact: bool = True) -> None:
    assert result.indices.dtype == np.int64 and result.values.dtype == np.float64
    assert result.indices.shape == want_idx.shape and result.values.shape == want_val.shape
    assert result.indices.flags.writeable and result.indices.dtype.isnative
    np.testing.assert_array_equal(result.indices, want_idx)
    if exact:
        np.testing.assert_array_equal(result.values, want_val)  # NaN == NaN here
    else:
        np.testing.assert_allclose(result.values, want_val, rtol=1e-12)


@pytest.mark.parametrize("binary", [False, True])
def test_values(client: tc.Client, binary: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.random(500)
    x[[3, 70, 200]] = np.nan
    x[10] = x[11] = 0.25  # a tie: the lower index first
    for k, largest in ((1, False), (7, False), (7, True), (500, False), (0, False)):
        r = client.topk(values=x, k=k, largest=largest, binary=binary)
        assert r.binary is binary and r.mode == "values"
        check(r, *ref_values(x, k, largest))
    r = client.topk(values=x, k=500, binary=binary)
    assert np.isnan(r.values[-3:]).all()  # NaN never beats a number
    ints = rng.integers(0, 5, 300)
    check(client.topk(values=ints, k=50, binary=binary), *ref_values(ints, 50))


def test_small_inputs_go_as_json_large_as_binary(client: tc.Client) -> None:
    x = np.random.default_rng(2).random(tc.BINARY_THRESHOLD + 1)
    small = client.topk(values=x[:100], k=5)
    large = client.topk(values=x, k=5)
    assert small.binary is False and large.binary is True
    check(small, *ref_values(x[:100], 5))
    check(large, *ref_values(x, 5))
    inf = np.array([3.0, -np.inf, 1.0, np.inf])
    r = client.topk(values=inf, k=4)  # JSON has no infinities: sent binary
    assert r.binary is True
    check(r, *ref_values(inf, 4))
    with pytest.raises(ValueError, match="infinities"):
        client.topk(values=inf, k=1, binary=False)
    tiny = tc.Client(client.base_url, binary_threshold=10)
    assert tiny.topk(values=x[:11], k=2).binary is True
    tiny.close()


@pytest.mark.parametrize("binary", [False, True])
def test_input_dtypes_and_byte_orders(client: tc.Client, binary: bool) -> None:
    rng = np.random.default_rng(3)
    base = rng.random(64) * 100
    for x in (base.astype(np.float32), base.astype(">f8"), base.astype(">f4"),
              base.astype(np.int64), base.astype(np.float16), base[::2]):
        r = client.topk(values=x, k=9, binary=binary)
        check(r, *ref_values(x.astype(np.float64), 9))  # every one of them is exact in f8
    r = client.topk(values=[3, 1, None, 1, 2], k=3, binary=binary)  # lists, None = NaN
    check(r, np.array([1, 3, 4]), np.array([1.0, 1.0, 2.0]))
    r = client.topk(values=[3.0, float("nan"), 1.0], k=3, binary=binary)
    check(r, np.array([2, 0, 1]), np.array([1.0, 3.0, np.nan]))


@pytest.mark.parametrize("binary", [False, True])
def test_rows(client: tc.Client, binary: bool) -> None:
    rng = np.random.default_rng(4)
    m = rng.random((40, 30))
    m[5, 7] = np.nan
    check(client.topk(rows=m, k=4, binary=binary), *ref_rows(m, 4))
    check(client.topk(rows=m, k=4, largest=True, binary=binary), *ref_rows(m, 4, largest=True))
    sq = rng.random((25, 25))
    r = client.topk(rows=sq, k=3, exclude_self=True, binary=binary)
    assert r.mode == "rows" and r.indices.shape == (25, 3)
    check(r, *ref_rows(sq, 3, exclude_self=True))
    assert not (r.indices == np.arange(25)[:, None]).any()
    check(client.topk(rows=m, k=0, binary=binary), np.zeros((40, 0), np.int64), np.zeros((40, 0)))


@pytest.mark.parametrize("binary", [False, True])
def test_points(client: tc.Client, binary: bool) -> None:
    rng = np.random.default_rng(5)
    for dims in (2, 3):
        p = rng.random((300, dims))
        r = client.topk(points=p, k=5, binary=binary)
        assert r.mode == "points" and r.distances is r.values
        check(r, *ref_points(p, 5), exact=False)
    dup = np.array([[0, 0], [1, 0], [0, 0], [5, 5]], dtype=np.float32)
    r = client.topk(points=dup, k=1, binary=binary)
    np.testing.assert_array_equal(r.indices[:, 0], [2, 0, 0, 1])
    np.testing.assert_allclose(r.distances[:, 0], [0, 1, 0, np.hypot(4, 5)], rtol=1e-12)


def test_json_and_binary_answers_agree(client: tc.Client) -> None:
    p = np.random.default_rng(6).random((200, 2))
    j = client.topk(points=p, k=4, binary=False)
    b = client.topk(points=p, k=4, binary=True)
    np.testing.assert_array_equal(j.indices, b.indices)
    np.testing.assert_array_equal(j.distances, b.distances)  # JSON round-trips doubles


def test_large_points_binary(client: tc.Client) -> None:
    p = np.random.default_rng(7).random((50_000, 2))
    r = client.topk(points=p, k=3)
    assert r.binary is True and r.indices.shape == (50_000, 3)
    sample = np.arange(0, 50_000, 997)
    d = np.sqrt(((p[sample, None, :] - p[None, :, :]) ** 2).sum(-1))
    d[np.arange(len(sample)), sample] = np.inf
    want = np.sort(d, axis=1)[:, :3]
    np.testing.assert_allclose(r.distances[sample], want, rtol=1e-12)


def test_errors(client: tc.Client) -> None:
    with pytest.raises(tc.Unprocessable, match="at most 2 values"):
        client.topk(values=[1.0, 2.0], k=5)
    with pytest.raises(tc.Unprocessable):
        client.topk(values=np.arange(10.0), k=20, binary=True)
    with pytest.raises(tc.Unprocessable):
        client.topk(rows=np.zeros((3, 3)), k=3, exclude_self=True)
    with pytest.raises(tc.ClientError):
        client.topk(points=np.array([[0.0, np.nan], [1.0, 1.0]]), k=1)
    with pytest.raises(TypeError, match="exactly one"):
        client.topk(values=[1.0], rows=[[1.0]], k=1)
    with pytest.raises(TypeError, match="exactly one"):
        client.topk(k=1)
    with pytest.raises(ValueError, match="1-D"):
        client.topk(values=np.zeros((2, 2)), k=1)
    with pytest.raises(ValueError, match=r"\(n, 2\) or \(n, 3\)"):
        client.topk(points=np.zeros((4, 4)), k=1)
    with pytest.raises(ValueError, match="k must be"):
        client.topk(values=[1.0], k=-1)
    with pytest.raises(TypeError, match="complex"):
        client.topk(values=np.array([1j]), k=1)
