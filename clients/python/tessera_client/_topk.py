"""/topk inputs and answers: numpy arrays in, numpy arrays out, over JSON or raw bytes.

JSON carries NaN as ``null`` and cannot carry infinities; the binary form (``Content-Type:
application/octet-stream`` with mode, k, dtype and shape in the query) carries any float32 /
float64 array as little-endian C-order bytes, and with ``Accept: application/octet-stream``
the answer is ``R*k`` little-endian int64 indices then ``R*k`` float64 values, where R is 1
for ``values`` and the row / point count otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Mode = Literal["values", "rows", "points"]


@dataclass(frozen=True)
class TopkInput:
    """One /topk request's data, checked and converted to a little-endian float array."""

    mode: Mode
    array: npt.NDArray[np.floating[Any]]  # '<f4' or '<f8', C order
    k: int

    @property
    def rows(self) -> int:
        """R: 1 for values, the row / point count otherwise."""
        return 1 if self.mode == "values" else int(self.array.shape[0])

    @property
    def result_shape(self) -> tuple[int, ...]:
        """The shape of the answer's indices and values."""
        return (self.k,) if self.mode == "values" else (self.rows, self.k)


def topk_input(mode: Mode, data: npt.ArrayLike, k: int) -> TopkInput:
    """Check ``data`` for ``mode`` and convert it: float32 stays float32, everything else
    (ints, bools, float16, lists with ``None`` for NaN) becomes float64; any byte order in,
    little-endian out.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an integer >= 0, not {k!r}")
    raw = np.asarray(data)
    if raw.dtype.kind == "c":
        raise TypeError("top-k needs real numbers, not complex")
    if raw.dtype.kind not in "biuf" and raw.dtype != object:
        raise TypeError(f"top-k needs numbers, not {raw.dtype}")
    want = "<f4" if raw.dtype.kind == "f" and raw.dtype.itemsize == 4 else "<f8"
    array = np.ascontiguousarray(np.asarray(data, dtype=np.dtype(want)))
    if mode == "values" and array.ndim != 1:
        raise ValueError(f"values must be 1-D, not shape {array.shape}")
    if mode == "rows" and array.ndim != 2:
        raise ValueError(f"rows must be 2-D (rows, columns), not shape {array.shape}")
    if mode == "points" and (array.ndim != 2 or array.shape[1] not in (2, 3)):
        raise ValueError(f"points must have shape (n, 2) or (n, 3), not {array.shape}")
    return TopkInput(mode, array, int(k))


def json_body(inp: TopkInput, largest: bool, exclude_self: bool) -> bytes:
    """The JSON request body (NaN as null). Raises ``ValueError`` on infinities."""
    if np.isinf(inp.array).any():
        raise ValueError("JSON cannot carry infinities: send this input in binary form")
    cells = inp.array.astype(np.float64).astype(object)
    cells[np.isnan(inp.array)] = None
    values = cells.tolist()
    body: dict[str, Any] = {inp.mode: values, "k": inp.k}
    if largest:
        body["largest"] = True
    if exclude_self:
        body["exclude_self"] = True
    return json.dumps(body, allow_nan=False).encode()


def binary_query(inp: TopkInput, largest: bool, exclude_self: bool) -> dict[str, str]:
    """The query parameters of the binary form."""
    shape = ",".join(str(n) for n in inp.array.shape)
    query = {
        "mode": inp.mode,
        "k": str(inp.k),
        "dtype": "float32" if inp.array.dtype == np.float32 else "float64",
        "shape": shape,
    }
    if largest:
        query["largest"] = "true"
    if exclude_self:
        query["exclude_self"] = "true"
    return query


def decode_binary(
    inp: TopkInput, body: bytes
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(indices, values) from a binary answer; ``ValueError`` if its length is wrong."""
    n = inp.rows * inp.k
    if len(body) != 16 * n:
        raise ValueError(f"the binary answer has {len(body)} bytes, expected 16 * {n}")
    indices = np.frombuffer(body, dtype="<i8", count=n).astype(np.int64)
    values = np.frombuffer(body, dtype="<f8", count=n, offset=8 * n).astype(np.float64)
    return indices.reshape(inp.result_shape), values.reshape(inp.result_shape)


def decode_json(
    inp: TopkInput, doc: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(indices, values) from a JSON answer; ``ValueError`` if its shape is not the spec's."""
    key = "distances" if inp.mode == "points" else "values"
    if not isinstance(doc, dict) or "indices" not in doc or key not in doc:
        raise ValueError(f"a {inp.mode} answer has 'indices' and '{key}'")
    try:
        indices = np.array(doc["indices"], dtype=np.int64)
        values = np.array(doc[key], dtype=np.float64)  # null -> NaN
    except (TypeError, ValueError) as e:
        raise ValueError(f"the answer's arrays are not numeric and rectangular: {e}") from None
    want = inp.result_shape
    if indices.size == 0 and values.size == 0 and 0 in want:
        return indices.reshape(want), values.reshape(want)
    if indices.shape != want or values.shape != want:
        raise ValueError(f"the answer has shape {indices.shape} / {values.shape}, expected {want}")
    return indices, values
