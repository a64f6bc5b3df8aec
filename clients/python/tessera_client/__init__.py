"""tessera_client - the Python client of Tessera (scan, classify, overlap, top-k over HTTP).

>>> import numpy as np
>>> from tessera_client import Client
>>> tessera = Client("http://127.0.0.1:8080")                         # doctest: +SKIP
>>> ov = tessera.overlap("labels/truth.tif", "labels/predicted.tif",
...                      match_threshold=0.5)                         # doctest: +SKIP
>>> ov.matching.f1                                                    # doctest: +SKIP
0.9555325749741469
>>> tessera.topk(values=np.array([3.0, 1.0, 2.0]), k=2).indices      # doctest: +SKIP
array([1, 2])

Dependencies: numpy and requests (numpy arrays are uploaded as .npy); pandas only for
``to_dataframe()``. From the shell: ``python -m tessera_client URL
scan DIR`` (see ``python -m tessera_client --help``).
"""

from ._uploads import LabelImage
from ._version import __version__
from .client import (
    BINARY_THRESHOLD,
    READ_ONLY_POSTS,
    Client,
    TesseraVersionWarning,
    version_compatible,
)
from .errors import (
    BadRequest,
    ClientError,
    Forbidden,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    NotImplementedByServer,
    PayloadTooLarge,
    ProblemError,
    ProtocolError,
    ServerError,
    TesseraConnectionError,
    TesseraError,
    TesseraTimeout,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
    error_class,
)
from .metrics import Metrics, Sample, parse_metrics
from .models import (
    Classification,
    ClassifyItem,
    ItemError,
    ItemProblem,
    AdaptedRand,
    DatasetMatching,
    Matches,
    Matching,
    OverlapBatch,
    OverlapItem,
    OverlapResult,
    PairError,
    Pairs,
    Problem,
    SegmentationMetrics,
    VariationOfInformation,
    ScanEntry,
    ScanError,
    ScanResult,
    TopkResult,
)

__all__ = [
    "BINARY_THRESHOLD",
    "READ_ONLY_POSTS",
    "AdaptedRand",
    "BadRequest",
    "Classification",
    "ClassifyItem",
    "Client",
    "ClientError",
    "DatasetMatching",
    "Forbidden",
    "InternalServerError",
    "ItemError",
    "ItemProblem",
    "LabelImage",
    "Matches",
    "Matching",
    "MethodNotAllowed",
    "Metrics",
    "NotFound",
    "NotImplementedByServer",
    "OverlapBatch",
    "OverlapItem",
    "OverlapResult",
    "PairError",
    "Pairs",
    "PayloadTooLarge",
    "Problem",
    "ProblemError",
    "ProtocolError",
    "Sample",
    "ScanEntry",
    "ScanError",
    "ScanResult",
    "SegmentationMetrics",
    "ServerError",
    "TesseraConnectionError",
    "TesseraError",
    "TesseraTimeout",
    "TesseraVersionWarning",
    "TopkResult",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMediaType",
    "VariationOfInformation",
    "__version__",
    "error_class",
    "parse_metrics",
    "version_compatible",
]
