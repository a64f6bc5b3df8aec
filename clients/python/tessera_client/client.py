"""The Tessera client: one method per operation of openapi.yaml, numpy in and out.

>>> from tessera_client import Client
>>> with Client("http://127.0.0.1:8080") as tessera:          # doctest: +SKIP
...     found = tessera.scan("cyc1", recursive=True)
...     ov = tessera.overlap("labels/truth.tif", "labels/predicted.tif", match_threshold=0.5)
...     print(found.paths, ov.matching.f1)

Retries. A 503 (draining, data root gone, workers busy, over the time budget) carries
``Retry-After``; the client waits at least that long, backing off exponentially, and sends
the request again, at most ``retries`` times. Only requests that change nothing on the
server are retried: every GET, and the POSTs in ``READ_ONLY_POSTS``. Tessera's POSTs are
all read-only computations over their inputs (/scan and /classify read the data root,
/overlap and /topk compute over files or uploaded bytes; none writes anything, and the
classification cache only ever holds what a later request would compute again), so sending
one twice gives the same answer and no side effect. ``/readyz`` and ``/healthz`` are never
retried: a probe reports the state now.

Versions. The client is versioned with the server. On the first operation it reads the
server's version (``tessera_build_info`` in /metrics) and warns with
:class:`TesseraVersionWarning` when it is one this client cannot promise to speak to
(``version_compatible``).

Threads. A ``Client`` holds a ``requests.Session``, which is not documented as thread-safe:
give each thread its own client.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import time
import warnings
from typing import Any, Literal, Mapping, Sequence, Union, cast, overload
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import requests

from . import _topk, _uploads
from ._uploads import LabelImage
from ._version import __version__
from .errors import (
    ProblemError,
    ProtocolError,
    TesseraConnectionError,
    TesseraTimeout,
    error_from_answer,
    problem_error,
)
from .metrics import Metrics, parse_metrics
from .models import (
    Classification,
    ClassifyItem,
    ItemError,
    DatasetMatching,
    Matching,
    OverlapBatch,
    OverlapResult,
    PairError,
    Pairs,
    ScanResult,
    SegmentationMetrics,
    TopkResult,
)

log = logging.getLogger("tessera_client")

#: POST routes that are read-only computations, so retrying them after a 503 is safe.
READ_ONLY_POSTS = frozenset({"/scan", "/classify", "/overlap", "/topk", "/quantify"})

#: Inputs with more numbers than this go to /topk in binary form (and come back binary).
BINARY_THRESHOLD = 4096

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MAX_BACKOFF = 30.0

#: One pair of an overlap batch: (a, b), (a, b, page_a, page_b) or {"a", "b", "page_a"?, ...}.
PairSpec = Union[Sequence[Any], Mapping[str, Any]]


class TesseraVersionWarning(UserWarning):
    """The server's version is not one this client was built for."""


def version_compatible(client: str, server: str) -> bool:
    """Whether a client of version ``client`` can speak to a server of version ``server``.

    Versions are MAJOR.MINOR.PATCH; patch releases never change the API. Before 1.0 a minor
    release may change it, so the minors must be equal; from 1.0 on a server may be newer
    within the same major (it only adds), never older than the client.

    >>> version_compatible("0.1.0", "0.1.7"), version_compatible("0.1.0", "0.2.0")
    (True, False)
    >>> version_compatible("1.2.0", "1.3.1"), version_compatible("1.2.0", "1.1.0")
    (True, False)
    """
    c, s = _version_tuple(client), _version_tuple(server)
    if c is None or s is None or c[0] != s[0]:
        return False
    if c[0] == 0:
        return c[1] == s[1]
    return s[1] >= c[1]


def _version_tuple(version: str) -> tuple[int, int, int] | None:
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", version.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


class Client:
    """A connection to one Tessera server.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (a path prefix is kept, for a
            server behind a proxy at ``https://lab.example/tessera``).
        token: the server's ``--token``, sent as ``Authorization: Bearer``.
        timeout: seconds to wait for the server (connect and each read), or a
            ``(connect, read)`` pair.
        retries: how many times a 503 is retried (0 = never); see the module docstring.
        backoff: the first wait between retries, doubled each time (at least Retry-After).
        verify: TLS certificate check: True, False, or a CA bundle path (as in requests),
            e.g. the private CA of a server started with ``--tls-cert``.
        cert: a client certificate for a server with ``--tls-client-ca`` (mutual TLS): a
            PEM file holding certificate and key, or a ``(cert, key)`` pair (as in requests).
        binary_threshold: /topk inputs with more numbers than this use the binary form.
        check_version: read the server's version on first use and warn on a mismatch.
        session: a ``requests.Session`` to use (e.g. with proxies or client certificates);
            its headers gain ``User-Agent`` (and ``Authorization`` with a token).

    >>> tessera = Client("http://127.0.0.1:8080", token="s3cret", retries=5)  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | tuple[float, float] = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        binary_threshold: int = BINARY_THRESHOLD,
        check_version: bool = True,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://HOST[:PORT][/prefix], not {base_url!r}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        self.cert = cert
        self.binary_threshold = binary_threshold
        self._session = session if session is not None else requests.Session()
        self._session.headers["User-Agent"] = (
            f"tessera-client/{__version__} {requests.utils.default_user_agent()}"
        )
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._warn_on_mismatch = check_version
        self._version_known = False
        self._server_version: str | None = None

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # ------------------------------------------------------------------------------------
    # The four jobs
    # ------------------------------------------------------------------------------------

    def scan(
        self,
        dir: str = "",
        *,
        recursive: bool = False,
        max_depth: int | None = None,
        hidden: bool = False,
        classify: bool = False,
        limit: int | None = None,
        request_id: str | None = None,
    ) -> ScanResult:
        """List the image files (.tif, .tiff, .ome.tif, .ome.tiff, .zarr) of a directory.

        Args:
            dir: directory relative to the data root ("" = the root).
            recursive: descend into subdirectories, up to ``max_depth`` levels.
            hidden: list names starting with ``.`` too.
            classify: attach each entry's classification (see :meth:`classify`).
            limit: most entries returned (``truncated`` says when it was hit).

        >>> found = tessera.scan("cyc1", classify=True)            # doctest: +SKIP
        >>> [(e["path"], e["classification"]["format"]) for e in found.entries]  # doctest: +SKIP
        [('cyc1/DAPI.tif', 'tiff'), ('cyc1/stack.ome.tif', 'ome-tiff')]
        """
        params: dict[str, str] = {"dir": dir}
        if recursive:
            params["recursive"] = "true"
        if max_depth is not None:
            params["max_depth"] = str(max_depth)
        if hidden:
            params["hidden"] = "true"
        if classify:
            params["classify"] = "true"
        if limit is not None:
            params["limit"] = str(limit)
        resp = self._call("GET", "/scan", params=params, request_id=request_id)
        doc = self._json(resp)
        try:
            return ScanResult(
                dir=doc["dir"],
                entries=list(doc["entries"]),
                errors=list(doc["errors"]),
                count=int(doc["count"]),
                truncated=bool(doc["truncated"]),
                errors_dropped=int(doc["errors_dropped"]),
                request_id=resp.headers.get("X-Request-Id"),
                raw=doc,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise self._protocol(resp, f"not a scan result ({e!r})") from None

    @overload
    def classify(self, path: str, *, request_id: str | None = None) -> Classification: ...

    @overload
    def classify(
        self, path: list[str] | tuple[str, ...], *, request_id: str | None = None
    ) -> list[ClassifyItem]: ...

    def classify(
        self, path: str | list[str] | tuple[str, ...], *, request_id: str | None = None
    ) -> Classification | list[ClassifyItem]:
        """What an image file (or Zarr store) is and which reader should open it.

        One path (a ``str``) is ``GET /classify`` and returns its classification, raising on
        failure. A list of paths is one ``POST /classify`` whose results come back in order;
        a path that fails is an :class:`ItemError` in its place and does not fail the rest.

        >>> tessera.classify("slides/pyramid.ome.tif")["levels"]       # doctest: +SKIP
        3
        >>> [r["format"] if isinstance(r, dict) else r.status
        ...  for r in tessera.classify(["cyc1/DAPI.tif", "nope.tif"])]  # doctest: +SKIP
        ['tiff', 404]
        """
        if isinstance(path, str):
            resp = self._call("GET", "/classify", params={"path": path}, request_id=request_id)
            return cast(Classification, self._json_object(resp))
        paths = list(path)
        if not all(isinstance(p, str) for p in paths):
            raise TypeError("classify takes paths under the data root, as str")
        resp = self._call(
            "POST", "/classify", json_body={"paths": paths}, request_id=request_id
        )
        results = self._json_object(resp).get("results")
        if not isinstance(results, list) or len(results) != len(paths):
            raise self._protocol(resp, f"expected {len(paths)} results")
        out: list[ClassifyItem] = []
        for item in results:
            if isinstance(item, dict) and isinstance(item.get("error"), dict):
                out.append(ItemError(item.get("path"), problem_error(item["error"])))
            else:
                out.append(cast(Classification, item))
        return out

    @overload
    def overlap(
        self, a: LabelImage, b: LabelImage, *, format: Literal["json"] = ..., **options: Any
    ) -> OverlapResult: ...

    @overload
    def overlap(
        self, a: LabelImage, b: LabelImage, *, format: Literal["numpy"], **options: Any
    ) -> npt.NDArray[Any]: ...

    def overlap(
        self,
        a: LabelImage,
        b: LabelImage,
        *,
        page_a: int | None = None,
        page_b: int | None = None,
        include_background: bool | None = None,
        iou: bool | None = None,
        match_threshold: float | Sequence[float] | None = None,
        criterion: str | None = None,
        report_matches: bool | None = None,
        metrics: Sequence[str] | None = None,
        volume: bool | None = None,
        level: int | None = None,
        request_id: str | None = None,
        format: str = "json",
        **options: Any,
    ) -> Any:
        """Contingency counts, IoU, matching and segmentation metrics of two label images
        (a = ground truth, b = prediction), from one counting pass.

        ``a`` and ``b`` are both paths under the data root (``str``: a TIFF, a Zarr array or
        an OME-NGFF multiscale group), or both uploads: TIFF or .npy bytes, a local file
        (``pathlib.Path``), a binary file object, or a 2-D (y, x) or 3-D (z, y, x) integer
        numpy array (sent as .npy, any integer dtype and byte order).

        Args:
            page_a, page_b: which IFD (page) of each TIFF to read (default 0).
            include_background: count pairs with label 0 too (the server's default: yes).
            iou: add ``pairs.iou``.
            match_threshold: add ``matching`` at this threshold (0 < t <= 1), or at each of a
                list of thresholds: ``matching`` is then a list in the same order.
            criterion: the matching score, ``iou`` (default), ``iot`` or ``iop`` (StarDist's
                intersection over true / over prediction).
            report_matches: add ``matching.matches``, the matched pairs and their scores.
            metrics: any of ``aji``, ``vi``, ``adapted_rand``: adds ``metrics``.
            volume: treat all pages of each TIFF as the z-slices of a volume.
            level: the multiscale level of an OME-NGFF group (default 0).
            format: ``"json"`` (an :class:`OverlapResult`) or ``"numpy"``: the pairs table only,
                sent as a .npy file (``Accept: application/x-npy``) and returned as a numpy
                structured array with fields ``a``, ``b``, ``count`` (uint64) and ``iou``
                (float64, with ``iou=True``) - no JSON to parse for millions of pairs.
            options: any further option of the server's /overlap (``page``, ``level_a``,
                ``volume_b``, ``stardist_float32``, ...), passed through as is.

        >>> ov = tessera.overlap("labels/truth.tif", "labels/predicted.tif",
        ...                      iou=True, match_threshold=0.5)        # doctest: +SKIP
        >>> ov.matching.f1, ov.pairs.count.sum() == ov.height * ov.width  # doctest: +SKIP
        (0.9555325749741469, True)
        >>> ov = tessera.overlap(truth_array, predicted_array,
        ...                      match_threshold=[0.1, 0.5, 0.9], metrics=["aji"])  # doctest: +SKIP
        >>> [m.f1 for m in ov.matching], ov.metrics.aji                 # doctest: +SKIP
        """
        opts = _options(
            page_a=page_a,
            page_b=page_b,
            include_background=include_background,
            iou=iou,
            match_threshold=_thresholds(match_threshold),
            criterion=criterion,
            report_matches=report_matches,
            metrics=list(metrics) if metrics is not None else None,
            volume=volume,
            level=level,
            **options,
        )
        if format not in ("json", "numpy"):
            raise ValueError("format is 'json' or 'numpy'")
        accept = "application/x-npy" if format == "numpy" else "application/json"
        upload_a, upload_b = _uploads.is_upload(a), _uploads.is_upload(b)
        if upload_a != upload_b:
            raise TypeError(
                "a and b must both be paths under the data root (str) or both uploads "
                "(TIFF or .npy bytes, pathlib.Path, file object, numpy array)"
            )
        if not upload_a:
            resp = self._call(
                "POST",
                "/overlap",
                json_body={"a": a, "b": b, **opts},
                accept=accept,
                request_id=request_id,
            )
        else:
            body, content_type = _uploads.multipart_body(
                {"a": _uploads.label_bytes(a, "a"), "b": _uploads.label_bytes(b, "b")},
                json.dumps(opts).encode(),
            )
            resp = self._call(
                "POST",
                "/overlap",
                body=body,
                content_type=content_type,
                accept=accept,
                request_id=request_id,
            )
        if format == "numpy":
            self._expect_type(resp, "application/x-npy")
            return np.load(io.BytesIO(resp.content), allow_pickle=False)
        return self._overlap_result(resp, self._json_object(resp))

    def overlap_batch(
        self,
        pairs: Sequence[PairSpec],
        *,
        include_background: bool | None = None,
        iou: bool | None = None,
        match_threshold: float | Sequence[float] | None = None,
        criterion: str | None = None,
        report_matches: bool | None = None,
        metrics: Sequence[str] | None = None,
        aggregate: str | None = None,
        request_id: str | None = None,
        **options: Any,
    ) -> OverlapBatch:
        """Many pairs of label images under the data root in one request, run concurrently:
        a whole test set evaluated at once.

        Each pair is ``(a, b)``, ``(a, b, page_a, page_b)`` or a dict with the keys of a
        server pair (``a``, ``b``, ``page_a``, ``level``, ``volume``, ...). The results are
        in order; a pair that fails is a :class:`PairError` in its place. With ``aggregate``
        (``pooled`` or ``by_image``, StarDist's ``matching_dataset``) and ``match_threshold``
        the answer's ``dataset`` holds the matching over all pairs that succeeded.

        >>> results = tessera.overlap_batch([("t1.tif", "p1.tif"), ("t2.tif", "p2.tif")],
        ...                                 match_threshold=[0.5, 0.7],
        ...                                 aggregate="pooled")  # doctest: +SKIP
        >>> [m.f1 for m in results.dataset.matching]               # doctest: +SKIP
        """
        items = [_pair_item(p) for p in pairs]
        opts = _options(
            include_background=include_background,
            iou=iou,
            match_threshold=_thresholds(match_threshold),
            criterion=criterion,
            report_matches=report_matches,
            metrics=list(metrics) if metrics is not None else None,
            aggregate=aggregate,
            **options,
        )
        resp = self._call(
            "POST", "/overlap", json_body={"pairs": items, **opts}, request_id=request_id
        )
        doc = self._json_object(resp)
        results = doc.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise self._protocol(resp, f"expected {len(items)} results")
        out = OverlapBatch()
        if "dataset" in doc:
            try:
                out.dataset = DatasetMatching.from_json(doc["dataset"])
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                raise self._protocol(resp, f"not a dataset matching ({e!r})") from None
        for doc in results:
            if not isinstance(doc, dict):
                raise self._protocol(resp, "a batch result is not an object")
            if isinstance(doc.get("error"), dict):
                out.append(PairError(doc.get("a"), doc.get("b"), problem_error(doc["error"])))
            else:
                out.append(self._overlap_result(resp, doc))
        return out

    def topk(
        self,
        *,
        k: int,
        values: npt.ArrayLike | None = None,
        rows: npt.ArrayLike | None = None,
        points: npt.ArrayLike | None = None,
        largest: bool = False,
        exclude_self: bool = False,
        binary: bool | None = None,
        request_id: str | None = None,
    ) -> TopkResult:
        """The k smallest (or largest) values, per-row top-k, or the k nearest neighbours.

        Give exactly one of ``values`` (1-D), ``rows`` (2-D, per row) or ``points`` (n x 2 or
        n x 3 coordinates; each point's own index is excluded). Results are best first, ties
        to the lower index, NaN after every number, so ``values`` mode equals
        ``np.argsort(x, kind="stable")[:k]``.

        Inputs with more than ``binary_threshold`` numbers (or with infinities) go as raw
        little-endian bytes and come back as raw bytes; small ones as JSON. ``binary``
        forces one or the other. float32 input is sent as float32, anything else as
        float64; the result is int64 indices and float64 values either way.

        Args:
            largest: the k largest instead (values and rows).
            exclude_self: rows of a square matrix: leave out column i of row i.

        >>> r = tessera.topk(values=[3, 1, float("nan"), 1, 2], k=3)    # doctest: +SKIP
        >>> r.indices, r.values                                         # doctest: +SKIP
        (array([1, 3, 4]), array([1., 1., 2.]))
        >>> nn = tessera.topk(points=np.random.rand(10**6, 2), k=5)     # doctest: +SKIP
        >>> nn.indices.shape, nn.distances.dtype                        # doctest: +SKIP
        ((1000000, 5), dtype('float64'))
        """
        given = {"values": values, "rows": rows, "points": points}
        modes = [m for m, v in given.items() if v is not None]
        if len(modes) != 1:
            raise TypeError("give exactly one of values=, rows= or points=")
        mode = cast(_topk.Mode, modes[0])
        inp = _topk.topk_input(mode, cast(npt.ArrayLike, given[mode]), k)
        use_binary = binary
        if use_binary is None:
            use_binary = bool(
                inp.array.size > self.binary_threshold or _has_inf(inp.array)
            )
        if use_binary:
            resp = self._call(
                "POST",
                "/topk",
                params=_topk.binary_query(inp, largest, exclude_self),
                body=inp.array.tobytes(),
                content_type="application/octet-stream",
                accept="application/octet-stream",
                request_id=request_id,
            )
            self._expect_type(resp, "application/octet-stream")
            try:
                indices, vals = _topk.decode_binary(inp, resp.content)
            except ValueError as e:
                raise self._protocol(resp, str(e)) from None
        else:
            resp = self._call(
                "POST",
                "/topk",
                body=_topk.json_body(inp, largest, exclude_self),
                content_type="application/json",
                request_id=request_id,
            )
            try:
                indices, vals = _topk.decode_json(inp, self._json(resp))
            except ValueError as e:
                raise self._protocol(resp, str(e)) from None
        return TopkResult(mode, indices, vals, use_binary, resp.headers.get("X-Request-Id"))

    # ------------------------------------------------------------------------------------
    # The service
    # ------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok"}`` while the process serves (needs no token).

        Raises :class:`TesseraConnectionError` when nothing answers. Never retried.
        """
        resp = self._call("GET", "/healthz", retry=False, check_version=False)
        return self._json_object(resp)

    def ready(self) -> bool:
        """``GET /readyz``: True when ready, False on 503 (draining, or the data root is gone).

        Never retried (it reports the state now); other errors raise.
        """
        try:
            self._call("GET", "/readyz", retry=False, check_version=False)
        except ProblemError as e:
            if e.status == 503:
                return False
            raise
        return True

    def metrics(self) -> Metrics:
        """``GET /metrics`` parsed: ``m.value("tessera_requests_total", route="/scan")``,
        ``m.series``, ``m.text`` (the raw exposition).
        """
        resp = self._call("GET", "/metrics", check_version=False)
        self._expect_type(resp, "text/plain")
        try:
            parsed = parse_metrics(resp.text)
        except ValueError as e:
            raise self._protocol(resp, str(e)) from None
        self._note_version(parsed.version)
        return parsed

    def openapi(self) -> str:
        """``GET /openapi.yaml``: the server's contract, as YAML text."""
        resp = self._call("GET", "/openapi.yaml")
        return str(resp.text)

    @property
    def server_version(self) -> str | None:
        """The server's version (from /metrics), read on first use; None if not reported."""
        self._check_version()
        return self._server_version

    # ------------------------------------------------------------------------------------
    # Transport
    # ------------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        request_id: str | None = None,
        retry: bool = True,
        check_version: bool = True,
    ) -> requests.Response:
        """Send one request, retrying 503s when the request is read-only; returns a 2xx
        answer or raises (ProblemError for 4xx/5xx, TesseraConnectionError for no answer).
        """
        if check_version and self._warn_on_mismatch:
            self._check_version()
        url = self.base_url + path
        headers = {"Accept": accept}
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode()
            content_type = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        if request_id is not None:
            if not _REQUEST_ID.match(request_id):
                raise ValueError("request_id is 1-64 characters of A-Za-z0-9._-")
            headers["X-Request-Id"] = request_id
        retriable = retry and (method == "GET" or (method == "POST" and path in READ_ONLY_POSTS))
        attempt = 0
        while True:
            try:
                resp = self._session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    cert=self.cert,
                )
            except requests.Timeout as e:
                raise TesseraTimeout(method, url, f"no answer within {self.timeout} s") from e
            except requests.RequestException as e:
                raise TesseraConnectionError(method, url, _reason(e)) from e
            if resp.status_code < 400:
                return resp
            error = error_from_answer(
                resp.status_code,
                resp.headers.get("Content-Type", ""),
                resp.content,
                resp.headers,
                method=method,
                url=resp.url,
                reason=resp.reason or "",
            )
            if resp.status_code != 503 or not retriable or attempt >= self.retries:
                raise error
            wait = max(error.retry_after or 0.0, min(self.backoff * 2**attempt, _MAX_BACKOFF))
            wait += random.uniform(0.0, 0.1 * wait)
            attempt += 1
            log.info(
                "503 from %s %s (%s); retry %d of %d in %.2f s",
                method, url, error.detail, attempt, self.retries, wait,
            )
            time.sleep(wait)

    def _json(self, resp: requests.Response) -> Any:
        """The JSON of a 2xx answer, integers exact (labels up to 2^64-1)."""
        self._expect_type(resp, "application/json")
        try:
            return json.loads(resp.content)
        except ValueError as e:
            raise self._protocol(resp, f"the JSON does not parse: {e}") from None

    def _json_object(self, resp: requests.Response) -> dict[str, Any]:
        doc = self._json(resp)
        if not isinstance(doc, dict):
            raise self._protocol(resp, "the JSON answer is not an object")
        return doc

    def _expect_type(self, resp: requests.Response, media_type: str) -> None:
        got = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if got != media_type:
            raise self._protocol(resp, f"Content-Type {got!r}, expected {media_type!r}")

    def _protocol(self, resp: requests.Response, detail: str) -> ProtocolError:
        rid = resp.headers.get("X-Request-Id")
        suffix = f" [request {rid}]" if rid else ""
        return ProtocolError(resp.request.method or "?", resp.url, detail + suffix)

    def _overlap_result(self, resp: requests.Response, doc: dict[str, Any]) -> OverlapResult:
        try:
            pairs_doc = doc["pairs"]
            pairs = Pairs(
                a=_column(pairs_doc["a"], np.uint64),
                b=_column(pairs_doc["b"], np.uint64),
                count=_column(pairs_doc["count"], np.int64),
                iou=_column(pairs_doc["iou"], np.float64) if "iou" in pairs_doc else None,
            )
            lengths = {len(pairs.a), len(pairs.b), len(pairs.count)}
            if pairs.iou is not None:
                lengths.add(len(pairs.iou))
            if len(lengths) != 1:
                raise ValueError("the pairs columns differ in length")
            matching = doc.get("matching")
            metrics = doc.get("metrics")
            return OverlapResult(
                height=int(doc["height"]),
                width=int(doc["width"]),
                labels_a=int(doc["labels_a"]),
                labels_b=int(doc["labels_b"]),
                pairs=pairs,
                matching=_matchings(matching),
                metrics=SegmentationMetrics.from_json(metrics) if metrics is not None else None,
                depth=int(doc["depth"]) if "depth" in doc else None,
                path_a=doc.get("a"),
                path_b=doc.get("b"),
                request_id=resp.headers.get("X-Request-Id"),
                raw={k: v for k, v in doc.items() if k != "pairs"},
            )
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise self._protocol(resp, f"not an overlap result ({e!r})") from None

    # ------------------------------------------------------------------------------------
    # Versions
    # ------------------------------------------------------------------------------------

    def _check_version(self) -> None:
        """Read the server's version once (from /metrics) and warn if incompatible."""
        if self._version_known:
            return
        try:
            resp = self._call("GET", "/metrics", retry=False, check_version=False)
        except TesseraConnectionError:
            return  # the request itself will report it; check again next time
        except ProblemError:
            self._version_known = True  # e.g. 401: the request itself will say so
            return
        try:
            version = parse_metrics(resp.text).version
        except ValueError:
            version = None
        self._note_version(version)

    def _note_version(self, version: str | None) -> None:
        """Remember the server's version; warn the first time it is seen, if it does not fit."""
        new = not self._version_known or self._server_version != version
        self._version_known = True
        self._server_version = version
        if not new or not self._warn_on_mismatch:
            return
        if version is None:
            warnings.warn(
                f"the server at {self.base_url} does not report its version "
                f"(tessera_build_info); tessera-client {__version__} may not match it",
                TesseraVersionWarning,
                stacklevel=4,
            )
        elif not version_compatible(__version__, version):
            warnings.warn(
                f"tessera-client {__version__} may not speak to Tessera {version} at "
                f"{self.base_url}: install tessera-client {version} (clients/python of the "
                "server's release)",
                TesseraVersionWarning,
                stacklevel=4,
            )

    def quantify(
        self,
        labels: LabelImage | Mapping[str, str],
        channels: str | Sequence[Any] | Mapping[str, Any],
        *,
        intensity: Sequence[str] | None = None,
        shape: Sequence[str] | None = None,
        dataframe: bool = False,
        request_id: str | None = None,
    ) -> Any:
        """mcquant's per-cell table of a label image against its channels (POST /quantify).

        ``labels`` and ``channels`` are paths under the data root, or uploads (numpy arrays,
        sent as .npy; TIFF bytes; a pathlib.Path; a binary file object); ``labels`` may also
        be named masks, a mapping name -> path (``{"cell": ..., "nucleus": ...}``), which
        returns one table per mask, name -> dict of arrays. ``channels`` is
        one multi-page TIFF path (a channel per page), a list of paths or
        ``{"path", "name", "page", "level"}`` objects, or a mapping name -> path or upload.

        Args:
            intensity: statistics of each channel: mean (default), sum, min, max, std,
                median, gini_index.
            shape: shape features (default mcquant's: centroid, area, major_axis_length,
                minor_axis_length, eccentricity, solidity, extent, orientation), also
                perimeter and bbox.
            dataframe: return mcquant's CSV as a pandas DataFrame (CellID, one column per
                channel, X_centroid, Y_centroid, Area, ...) instead of a dict of arrays.

        Returns a dict of numpy arrays: the columns regionprops_table names (``label`` as
        uint64, ``centroid-0``, ``area``, ...) and ``<stat>-<channel name>`` per channel,
        label ascending.

        >>> t = tessera.quantify("seg/cell.tif", "registration/sample.ome.tif")  # doctest: +SKIP
        >>> t["mean-DNA"][:3], t["area"][:3]                                     # doctest: +SKIP
        """
        opts = _options(intensity=list(intensity) if intensity is not None else None,
                        shape=list(shape) if shape is not None else None)
        named = isinstance(channels, Mapping)
        items = list(channels.items()) if isinstance(channels, Mapping) else None
        uploads = (not isinstance(labels, Mapping) and _uploads.is_upload(labels)) or (
            items is not None and any(_uploads.is_upload(v) for _, v in items))
        accept = "text/csv" if dataframe else "application/json"
        if not uploads:
            if items is not None:
                chans: Any = [{"path": v, "name": k} for k, v in items]
            else:
                chans = channels if isinstance(channels, str) else list(channels)
            masks = dict(labels) if isinstance(labels, Mapping) else labels
            resp = self._call("POST", "/quantify", json_body={"labels": masks, "channels": chans,
                                                             **opts},
                              accept=accept, request_id=request_id)
        else:
            if not named or items is None or isinstance(labels, Mapping):
                raise TypeError("uploads need one label image and the channels as a mapping "
                                "name -> upload (named masks are paths under the data root)")

            def part(value: Any, name: str) -> tuple[str, bytes]:
                if isinstance(value, np.ndarray):
                    buf = io.BytesIO()
                    np.save(buf, np.ascontiguousarray(value))
                    return f"{name}.npy", buf.getvalue()
                return _uploads.label_bytes(value, name)

            files = {"labels": part(labels, "labels")}
            for k, v in items:
                if k in ("labels", "options"):
                    raise ValueError(f"a channel may not be named {k!r}")
                files[k] = part(v, k)
            body, content_type = _uploads.multipart_body(files, json.dumps(opts).encode())
            resp = self._call("POST", "/quantify", body=body, content_type=content_type,
                              accept=accept, request_id=request_id)
        if dataframe:
            import pandas as pd  # only for DataFrames

            self._expect_type(resp, "text/csv")
            return pd.read_csv(io.StringIO(resp.text), float_precision="round_trip")
        doc = self._json_object(resp)

        def arrays(table: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, values in table["columns"].items():
                kind = np.uint64 if key == "label" else (
                    np.int64 if key == "area" or key.startswith("bbox") else np.float64)
                out[key] = np.array([np.nan if v is None else v for v in values], dtype=kind)
            names = [c["name"] for c in table["channels"]]
            for stat, per_channel in table["intensity"].items():
                for name, values in zip(names, per_channel):
                    out[f"{stat}-{name}"] = np.array(
                        [np.nan if v is None else v for v in values], np.float64)
            return out

        try:
            if "masks" in doc:
                return {m["mask"]: arrays(m) for m in doc["masks"]}
            return arrays(doc)
        except (KeyError, TypeError, ValueError) as e:
            raise self._protocol(resp, f"unexpected /quantify answer: {e}") from None


    def preview(
        self,
        path: str,
        *,
        size: int = 512,
        level: int | None = None,
        channel: int | Sequence[int] | None = None,
        colors: Sequence[str] | None = None,
        lo: float | None = None,
        hi: float | None = None,
        labels: bool | None = None,
        boundaries: bool = False,
        as_array: bool = False,
        request_id: str | None = None,
    ) -> bytes | npt.NDArray[np.uint8]:
        """``GET /preview``: a PNG of an image under the data root, at most ``size`` pixels
        on its longest side, rendered by the server from the pyramid level nearest it.

        ``channel`` (one or several) and ``colors`` (``"rrggbb"`` each) pick and colour the
        channels; ``lo``/``hi`` are the stretch percentiles; ``labels`` forces (True) or
        refuses (False) label colouring, None lets the server decide; ``boundaries`` draws
        label outlines only. Returns the PNG bytes, or with ``as_array`` a (height, width, 3)
        uint8 array decoded with Pillow (Debian's python3-pil; ``pip install
        tessera-client[preview]``), which is imported only then.

        >>> png = tessera.preview("slides/pyramid.ome.tif", size=256)  # doctest: +SKIP
        >>> tessera.preview("labels/truth.tif", as_array=True).shape   # doctest: +SKIP
        (256, 256, 3)
        """
        params: dict[str, str] = {"path": path, "size": str(size)}
        if level is not None:
            params["level"] = str(level)
        if channel is not None:
            chans = [channel] if isinstance(channel, int) else list(channel)
            params["channel"] = ",".join(str(c) for c in chans)
        if colors is not None:
            params["colors"] = ",".join(c.lstrip("#") for c in colors)
        if lo is not None:
            params["lo"] = repr(float(lo))
        if hi is not None:
            params["hi"] = repr(float(hi))
        if labels is not None:
            params["labels"] = "true" if labels else "false"
        if boundaries:
            params["boundaries"] = "true"
        resp = self._call(
            "GET", "/preview", params=params, accept="image/png", request_id=request_id
        )
        self._expect_type(resp, "image/png")
        png = bytes(resp.content)
        if not as_array:
            return png
        from PIL import Image  # optional: only for as_array

        with Image.open(io.BytesIO(png)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)

def _options(**options: Any) -> dict[str, Any]:
    """The options that were given (None = the server's default)."""
    return {k: v for k, v in options.items() if v is not None}


def _thresholds(value: float | Sequence[float] | None) -> float | list[float] | None:
    """match_threshold as JSON wants it: a number, or a list (any sequence, numpy too)."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return float(cast(float, value))
    return [float(t) for t in cast(Sequence[float], value)]


def _pair_item(pair: PairSpec) -> dict[str, Any]:
    if isinstance(pair, Mapping):
        item = dict(pair)
    elif isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) in (2, 4):
        item = {"a": pair[0], "b": pair[1]}
        if len(pair) == 4:
            item["page_a"], item["page_b"] = pair[2], pair[3]
    else:
        raise TypeError(f"a pair is (a, b), (a, b, page_a, page_b) or a dict, not {pair!r}")
    if not isinstance(item.get("a"), str) or not isinstance(item.get("b"), str):
        raise TypeError("a batch takes paths under the data root (str); upload pairs one by one")
    return item


def _has_inf(array: npt.NDArray[Any]) -> bool:
    return bool(np.isinf(array).any())


def _column(values: object, dtype: type[np.generic]) -> Any:
    """One column of an /overlap answer as a 1-D array; ValueError when it is not a list."""
    if not isinstance(values, list):
        raise ValueError("a pairs column is not a list")
    column = np.array(values, dtype=dtype)
    if column.ndim != 1:
        raise ValueError("a pairs column is not flat")
    return column


def _reason(e: requests.RequestException) -> str:
    """The innermost cause of a requests error, e.g. 'Connection refused'."""
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return m[1].strip() if m else (text or type(e).__name__)


def _matchings(doc: Any) -> Matching | list[Matching] | None:
    """The ``matching`` member: absent, one object, or a list (a list of thresholds)."""
    if doc is None:
        return None
    if isinstance(doc, list):
        return [Matching.from_json(m) for m in doc]
    return Matching.from_json(doc)
