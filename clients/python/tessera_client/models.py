"""What the client's methods return.

Records the server sends as JSON objects (a classification, a scan entry) stay plain dicts,
typed as ``TypedDict`` so editors and type checkers know their keys; fields a newer server
adds are kept. Answers made of columns (overlap pairs, top-k results) become numpy arrays.
Every result keeps the server's ``request_id`` (its ``X-Request-Id``) for tracing, and the
full decoded JSON as ``raw`` where the answer was JSON.

pandas is not needed to import this module; ``to_dataframe`` imports it when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, List, Literal, Mapping, TypedDict, Union

import numpy as np
import numpy.typing as npt

from .errors import ProblemError

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    import pandas


class Problem(TypedDict):
    """An RFC 9457 problem document, as it appears inside batch answers."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str


class Classification(TypedDict):
    """The answer of ``GET /classify``: what an image file is and which reader opens it.

    See the ``Classification`` schema in openapi.yaml for each field's meaning.
    """

    path: str | None
    size: int
    mtime: str | None
    container: Literal["tiff", "bigtiff", "zarr", "unknown"]
    format: str | None
    is_ome: bool
    is_bigtiff: bool
    is_imagej: bool
    vendor: str | None
    can_use_openslide: bool
    can_use_vips: bool
    reader: str | None
    img_type: str | None
    width: int
    height: int
    channels: int
    dtype: str | None
    tiled: bool
    tile_width: int
    tile_height: int
    compression: str | None
    pages: int
    levels: int
    cached: bool


class ItemProblem(TypedDict):
    """A failed item inside an answer (a scan entry that could not be classified)."""

    path: str | None
    error: Problem


class _ScanEntryRequired(TypedDict):
    path: str
    name: str
    suffix: str
    type: Literal["file", "zarr"]
    size: int
    mtime: str | None


class ScanEntry(_ScanEntryRequired, total=False):
    """One image file (or Zarr store) of a scan; ``classification`` only with classify=True."""

    classification: Classification | ItemProblem


class ScanError(TypedDict):
    """Something a scan could not list (an unreadable directory, a bad link)."""

    path: str | None
    detail: str


@dataclass(frozen=True)
class ItemError:
    """A path of a batch (``classify([...])``) that failed; the batch did not.

    ``error`` is the exception the path would have raised on its own (not raised here).
    """

    path: str | None
    error: ProblemError

    @property
    def status(self) -> int:
        """The HTTP status the path failed with."""
        return self.error.status


@dataclass(frozen=True)
class PairError:
    """A pair of an overlap batch that failed; the batch did not."""

    path_a: str | None
    path_b: str | None
    error: ProblemError

    @property
    def status(self) -> int:
        """The HTTP status the pair failed with."""
        return self.error.status


@dataclass(frozen=True)
class ScanResult:
    """The answer of ``/scan``.

    Attributes:
        dir: the directory scanned, relative to the data root.
        entries: the image files and Zarr stores, in natural order of their paths.
        errors: what could not be listed; the scan went on.
        count: ``len(entries)``.
        truncated: a depth, entry-count or time bound stopped the scan.
        errors_dropped: errors beyond the first 1000, not listed.
    """

    dir: str
    entries: list[ScanEntry]
    errors: list[ScanError]
    count: int
    truncated: bool
    errors_dropped: int
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def paths(self) -> list[str]:
        """The entries' paths, in the server's order."""
        return [e["path"] for e in self.entries]

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per entry; ``mtime`` as UTC timestamps; a classification's fields become
        ``classification.<field>`` columns. Needs pandas.
        """
        import pandas as pd

        frame = pd.json_normalize([dict(e) for e in self.entries])
        if "mtime" in frame:
            frame["mtime"] = pd.to_datetime(frame["mtime"], utc=True)
        return frame


@dataclass(frozen=True)
class Pairs:
    """The nonzero contingency table of two label images, as columns sorted by (a, b).

    ``a[i]`` and ``b[i]`` overlap on ``count[i]`` pixels; ``iou[i]`` is their intersection
    over union (only when asked for with ``iou=True``).
    """

    a: npt.NDArray[np.uint64]
    b: npt.NDArray[np.uint64]
    count: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.a.shape[0])


@dataclass(frozen=True)
class Matches:
    """The matched pairs of one matching (``report_matches=True``), as columns: ``a[i]`` was
    matched to ``b[i]`` with ``score[i]``; ``tp[i]`` says whether the score reached the
    threshold (StarDist's ``matched_pairs``, ``matched_scores`` and ``matched_tps``)."""

    a: npt.NDArray[np.uint64]
    b: npt.NDArray[np.uint64]
    score: npt.NDArray[np.float64]
    tp: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Matches:
        """Build from the ``matches`` object of a matching."""
        columns = {
            "a": _flat(doc["a"], np.uint64),
            "b": _flat(doc["b"], np.uint64),
            "score": _flat(doc["score"], np.float64),
            "tp": _flat(doc["tp"], np.bool_),
        }
        if len({len(c) for c in columns.values()}) != 1:
            raise ValueError("the matches columns differ in length")
        return cls(**columns)


@dataclass(frozen=True)
class Matching:
    """StarDist-style matching of a (ground truth) to b (prediction) at one threshold: the
    fields of StarDist's ``matching`` (``mean_matched_iou`` is the older name of
    ``mean_matched_score``); ``matches`` with ``report_matches=True``, else ``None``."""

    threshold: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_matched_iou: float
    panoptic_quality: float
    criterion: str = "iou"
    accuracy: float = 0.0
    n_true: int = 0
    n_pred: int = 0
    mean_true_score: float = 0.0
    mean_matched_score: float = 0.0
    matches: Matches | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Matching:
        """Build from a ``matching`` object of an /overlap answer."""
        tp, fp, fn = int(doc["tp"]), int(doc["fp"]), int(doc["fn"])
        matches = doc.get("matches")
        return cls(
            threshold=float(doc["threshold"]),
            tp=tp,
            fp=fp,
            fn=fn,
            precision=float(doc["precision"]),
            recall=float(doc["recall"]),
            f1=float(doc["f1"]),
            mean_matched_iou=float(doc["mean_matched_iou"]),
            panoptic_quality=float(doc["panoptic_quality"]),
            criterion=str(doc.get("criterion", "iou")),
            accuracy=float(doc.get("accuracy", 0.0)),
            n_true=int(doc.get("n_true", tp + fn)),
            n_pred=int(doc.get("n_pred", tp + fp)),
            mean_true_score=float(doc.get("mean_true_score", 0.0)),
            mean_matched_score=float(doc.get("mean_matched_score", doc["mean_matched_iou"])),
            matches=Matches.from_json(matches) if matches is not None else None,
        )


@dataclass(frozen=True)
class VariationOfInformation:
    """skimage's ``variation_of_information``: the two conditional entropies and their sum."""

    h_pred_given_true: float
    h_true_given_pred: float
    sum: float


@dataclass(frozen=True)
class AdaptedRand:
    """skimage's ``adapted_rand_error``: (error, precision, recall)."""

    error: float
    precision: float
    recall: float


@dataclass(frozen=True)
class SegmentationMetrics:
    """The ``metrics`` of an /overlap answer; a metric not asked for is ``None``.

    Attributes:
        aji: cellpose's aggregated Jaccard index.
        vi: skimage's variation of information.
        adapted_rand: skimage's adapted Rand error.
    """

    aji: float | None = None
    vi: VariationOfInformation | None = None
    adapted_rand: AdaptedRand | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SegmentationMetrics:
        """Build from the ``metrics`` object of an /overlap answer."""
        vi, rand = doc.get("vi"), doc.get("adapted_rand")
        return cls(
            aji=float(doc["aji"]) if "aji" in doc else None,
            vi=VariationOfInformation(
                float(vi["h_pred_given_true"]), float(vi["h_true_given_pred"]), float(vi["sum"])
            )
            if vi is not None
            else None,
            adapted_rand=AdaptedRand(
                float(rand["error"]), float(rand["precision"]), float(rand["recall"])
            )
            if rand is not None
            else None,
        )


@dataclass(frozen=True)
class DatasetMatching:
    """StarDist's ``matching_dataset`` over the pairs of a batch (``aggregate=``).

    Attributes:
        aggregate: ``pooled`` (counts and score sums added over images, then the ratios) or
            ``by_image`` (the mean of each image's ratios).
        images: how many pairs it covers (failed pairs are left out).
        matching: one per threshold, a list for a list of thresholds.
    """

    aggregate: str
    images: int
    matching: Matching | list[Matching]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DatasetMatching:
        """Build from the ``dataset`` object of a batch answer."""
        m = doc["matching"]
        return cls(
            aggregate=str(doc["aggregate"]),
            images=int(doc["images"]),
            matching=[Matching.from_json(x) for x in m]
            if isinstance(m, list)
            else Matching.from_json(m),
        )


def _flat(values: object, dtype: type[np.generic]) -> Any:
    """A JSON list as a 1-D array; ValueError when it is not a flat list."""
    if not isinstance(values, list):
        raise ValueError("a column is not a list")
    column = np.array(values, dtype=dtype)
    if column.ndim != 1:
        raise ValueError("a column is not flat")
    return column


@dataclass(frozen=True)
class OverlapResult:
    """The answer of ``/overlap`` for one pair of label images.

    Attributes:
        height, width: the images' shape.
        depth: the number of z-slices for volumes (3-D inputs), else ``None``.
        labels_a, labels_b: distinct nonzero labels in each image.
        pairs: the contingency table (columns, numpy).
        matching: with ``match_threshold``, else ``None``; a list for a list of thresholds.
        metrics: with ``metrics=[...]``, else ``None``.
        path_a, path_b: the pair's paths, for results of a batch (else ``None``).
        raw: the answer's JSON object, with any field this client does not model yet.
    """

    height: int
    width: int
    labels_a: int
    labels_b: int
    pairs: Pairs
    matching: Matching | list[Matching] | None = None
    metrics: SegmentationMetrics | None = None
    depth: int | None = None
    path_a: str | None = None
    path_b: str | None = None
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dataframe(self) -> pandas.DataFrame:
        """The pairs as a DataFrame with columns a, b, count (and iou). Needs pandas."""
        import pandas as pd

        columns: dict[str, Any] = {"a": self.pairs.a, "b": self.pairs.b, "count": self.pairs.count}
        if self.pairs.iou is not None:
            columns["iou"] = self.pairs.iou
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class TopkResult:
    """The answer of ``/topk``, as numpy arrays whatever the transport.

    Attributes:
        mode: ``values``, ``rows`` or ``points``.
        indices: int64; shape (k,) for values, (rows, k) for rows, (points, k) for points.
        values: float64, the same shape: the chosen values, or for points the Euclidean
            distances (also available as ``distances``). NaN where the input had NaN.
        binary: whether the answer came as ``application/octet-stream`` (else JSON).
    """

    mode: Literal["values", "rows", "points"]
    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    binary: bool
    request_id: str | None = None

    @property
    def distances(self) -> npt.NDArray[np.float64]:
        """For points: the distance of each neighbour. Raises ``AttributeError`` otherwise."""
        if self.mode != "points":
            raise AttributeError(f"a {self.mode} result has values, not distances")
        return self.values


class OverlapBatch(List[Union[OverlapResult, PairError]]):
    """The answer of ``Client.overlap_batch``: one entry per pair, in order (a pair that failed
    is a :class:`PairError` in its place), and ``dataset`` when ``aggregate=`` was given."""

    dataset: DatasetMatching | None = None


#: One entry of ``Client.classify([...])``.
ClassifyItem = Union[Classification, ItemError]
#: One entry of ``Client.overlap_batch(...)``.
OverlapItem = Union[OverlapResult, PairError]

