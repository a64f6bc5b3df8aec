"""Exceptions raised by the client.

Every error answer of Tessera is ``application/problem+json`` (RFC 9457) with ``type``,
``title``, ``status``, ``detail``, ``instance`` and ``request_id``. The client turns each one
into a :class:`ProblemError` subclass chosen by status, so callers catch what they can
handle::

    try:
        info = client.classify("cyc1/DAPI.tif")
    except tessera_client.NotFound as e:
        print(e.detail, e.request_id)

The tree::

    TesseraError                    everything this package raises about the service
    ├── TesseraConnectionError      no answer (refused, reset, DNS); names the URL
    │   └── TesseraTimeout          no answer within the client's timeout
    ├── ProtocolError               an answer the contract does not describe
    └── ProblemError                an error answer (4xx / 5xx)
        ├── ClientError             4xx: BadRequest 400, Unauthorized 401, Forbidden 403,
        │                           NotFound 404, MethodNotAllowed 405, PayloadTooLarge 413,
        │                           UnsupportedMediaType 415, Unprocessable 422
        └── ServerError             5xx: InternalServerError 500, NotImplementedByServer 501,
                                    Unavailable 503

A status without a class of its own (e.g. 414 from the HTTP library) is a plain
``ClientError`` or ``ServerError``.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Mapping


class TesseraError(Exception):
    """Base class of every error this package raises about the service."""


class TesseraConnectionError(TesseraError):
    """The server gave no answer: connection refused or reset, name not resolved, TLS failure.

    Attributes:
        method: the HTTP method of the request.
        url: the full URL that was tried.
    """

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(f"{method} {url}: no answer from the server ({reason})")


class TesseraTimeout(TesseraConnectionError):
    """No answer within the client's ``timeout``."""


class ProtocolError(TesseraError):
    """The server answered something the contract (openapi.yaml) does not describe.

    Raised, for example, when a 200 answer is not JSON where JSON is promised, or when the
    columns of an /overlap answer have different lengths. Usually a client / server version
    mismatch (see :class:`TesseraVersionWarning`) or a proxy in between.
    """

    def __init__(self, method: str, url: str, detail: str) -> None:
        self.method = method
        self.url = url
        self.detail = detail
        super().__init__(f"{method} {url}: unexpected answer: {detail}")


class ProblemError(TesseraError):
    """An error answer from the server (status 400-599), usually a problem+json document.

    Attributes:
        status: the HTTP status.
        type: the problem's stable URN, e.g. ``urn:tessera:problem:not-found`` (``None`` when
            the answer was not problem+json, e.g. an HTML error page of a proxy).
        title: the status's reason phrase.
        detail: what went wrong, specifically.
        instance: the request path the server saw.
        request_id: the request's id (the problem's ``request_id``, else the
            ``X-Request-Id`` header); quote it when reporting a problem.
        retry_after: seconds the server asked to wait (``Retry-After``), else ``None``.
        method, url: the request, when the error came from one (``None`` for the per-item
            errors inside a batch answer).
        problem: the problem document as received (empty when there was none).
    """

    def __init__(
        self,
        status: int,
        *,
        type: str | None = None,
        title: str | None = None,
        detail: str = "",
        instance: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.instance = instance
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.url = url
        self.problem: dict[str, Any] = dict(problem or {})
        where = f" ({method} {url})" if method and url else ""
        rid = f" [request {request_id}]" if request_id else ""
        head = f"{status} {title}" if title else str(status)
        super().__init__(f"{head}: {detail}{where}{rid}")


class ClientError(ProblemError):
    """A 4xx answer: the request was wrong and sending it again will not help."""


class ServerError(ProblemError):
    """A 5xx answer."""


class BadRequest(ClientError):
    """400: malformed request (unknown parameter or field, bad JSON, missing field)."""


class Unauthorized(ClientError):
    """401: the server runs with ``--token`` and the request did not carry it."""


class Forbidden(ClientError):
    """403: the path leaves the data root (``..``, absolute, a symlink out) or is unreadable."""


class NotFound(ClientError):
    """404: the named path (or endpoint) does not exist."""


class MethodNotAllowed(ClientError):
    """405: the path exists but not with this method."""


class PayloadTooLarge(ClientError):
    """413: the body or the input is over a server limit (see the detail for which)."""


class UnsupportedMediaType(ClientError):
    """415: the body's Content-Type is not one the route takes."""


class Unprocessable(ClientError):
    """422: well-formed but unusable input (shape mismatch, corrupt file, k too large...)."""


class InternalServerError(ServerError):
    """500: an I/O error on the server's side, or the answer could not be rendered."""


class NotImplementedByServer(ServerError):
    """501: the server does not implement what the request needs (a Transfer-Encoding)."""


class Unavailable(ServerError):
    """503: draining, data root gone, all workers busy, out of time or memory.

    Retried by the client (see ``Client(retries=...)``); raised once the budget is spent.
    """


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    500: InternalServerError,
    501: NotImplementedByServer,
    503: Unavailable,
}


def error_class(status: int) -> type[ProblemError]:
    """The exception class for an HTTP error status (``ClientError`` / ``ServerError`` for
    statuses without a class of their own).

    >>> error_class(404).__name__
    'NotFound'
    >>> error_class(418).__name__
    'ClientError'
    """
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    return ClientError if status < 500 else ServerError


def problem_error(
    problem: Mapping[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    method: str | None = None,
    url: str | None = None,
) -> ProblemError:
    """Build the exception for a problem document (not raised: the caller decides).

    ``status`` defaults to the document's own; header values (``request_id``,
    ``retry_after``) fill what the document lacks.

    >>> e = problem_error({"type": "urn:tessera:problem:not-found", "title": "Not Found",
    ...                    "status": 404, "detail": "'x.tif' does not exist",
    ...                    "instance": "/classify", "request_id": "r1"})
    >>> type(e).__name__, e.detail, e.request_id
    ('NotFound', "'x.tif' does not exist", 'r1')
    """
    code = status if status is not None else _int_or(problem.get("status"), 500)
    rid = problem.get("request_id")
    return error_class(code)(
        code,
        type=_str_or_none(problem.get("type")),
        title=_str_or_none(problem.get("title")),
        detail=str(problem.get("detail", "")),
        instance=_str_or_none(problem.get("instance")),
        request_id=rid if isinstance(rid, str) else request_id,
        retry_after=retry_after,
        method=method,
        url=url,
        problem=problem,
    )


def error_from_answer(
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    reason: str = "",
) -> ProblemError:
    """The exception for one error answer: from its problem+json body when it has one, else
    from the status and the start of the body (an HTML page of the HTTP library or a proxy).
    """
    retry_after = parse_retry_after(headers.get("Retry-After"))
    request_id = headers.get("X-Request-Id")
    if content_type.split(";")[0].strip().lower() == "application/problem+json":
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            return problem_error(
                doc,
                status=status,
                request_id=request_id,
                retry_after=retry_after,
                method=method,
                url=url,
            )
    text = body[:200].decode("utf-8", "replace").strip()
    return error_class(status)(
        status,
        title=reason or None,
        detail=text or "(no problem document in the answer)",
        request_id=request_id,
        retry_after=retry_after,
        method=method,
        url=url,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    >>> parse_retry_after("2"), parse_retry_after(None), parse_retry_after("soon")
    (2.0, None, None)
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) else None


def _int_or(v: object, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default
