"""health, ready, metrics, openapi, tokens, connection errors and versions."""

from __future__ import annotations

import re
import socket
import warnings
from pathlib import Path

import pytest

import tessera_client as tc
import tessera_client.client as client_module
from conftest import REPO, Server


def test_health_and_ready(client: tc.Client) -> None:
    assert client.health() == {"status": "ok"}
    assert client.ready() is True


def test_metrics_parsed_and_raw(client: tc.Client) -> None:
    before = client.metrics()
    assert before.text.startswith("# HELP tessera_")
    assert before.types["tessera_requests_total"] == "counter"
    assert before.types["tessera_request_duration_seconds"] == "histogram"
    assert before.version == tc.__version__
    client.scan("t/tree")
    client.scan("t/tree")
    with pytest.raises(tc.NotFound):
        client.classify("t/missing.tif")
    after = client.metrics()

    def count(m: tc.Metrics, **labels: str) -> float:
        try:
            return m.value("tessera_requests_total", **labels)
        except KeyError:
            return 0.0

    assert count(after, route="/scan", code="200") - count(before, route="/scan", code="200") == 2
    assert count(after, route="/classify", code="404") - count(before, route="/classify",
                                                                code="404") == 1
    buckets = sorted(
        ((float(dict(k)["le"]), v)
         for k, v in after.series["tessera_request_duration_seconds_bucket"].items()
         if dict(k)["route"] == "/scan"),
    )
    assert buckets[-1][0] == float("inf")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert buckets[-1][1] == after.value("tessera_request_duration_seconds_count", route="/scan")
    assert "tessera_workers_busy" in after and after.value("tessera_worker_queue_capacity") >= 1
    with pytest.raises(KeyError):
        after.value("tessera_no_such_series")
    samples = list(after)
    assert all(isinstance(s, tc.Sample) for s in samples) and len(samples) > 50


def test_parse_metrics_escapes_and_specials() -> None:
    m = tc.parse_metrics(
        '# HELP x A \\\\ help\\nline.\n'
        '# TYPE x gauge\n'
        'x{path="a\\"b\\\\c\\nd",le="+Inf"} NaN\n'
        'y +Inf 1700000000000\n'
        'z{} -3.5e-2\n'
    )
    assert m.help["x"] == "A \\ help\nline."
    assert m.samples[0].labels == {"path": 'a"b\\c\nd', "le": "+Inf"}
    assert m.samples[0].value != m.samples[0].value  # NaN
    assert m.value("y") == float("inf") and m.value("z") == -0.035
    with pytest.raises(ValueError, match="line 2"):
        tc.parse_metrics("ok 1\nbad{x=1} 2\n")


def test_openapi(client: tc.Client) -> None:
    text = client.openapi()
    assert text == (REPO / "openapi" / "openapi.yaml").read_text()
    assert re.search(r"^  version: (\S+)$", text, re.M)[1] == tc.__version__  # type: ignore[index]


def test_token(root: Path) -> None:
    s = Server(root, "--token", "s3cret")
    try:
        with s.client() as anonymous:
            assert anonymous.health() == {"status": "ok"}  # probes need no token
            assert anonymous.ready() is True
            with pytest.raises(tc.Unauthorized) as e:
                anonymous.scan("t/tree")
            assert e.value.status == 401 and e.value.type == "urn:tessera:problem:unauthorized"
            assert anonymous.server_version is None  # /metrics needs the token too
        with s.client(token="wrong") as wrong, pytest.raises(tc.Unauthorized):
            wrong.classify("t/labels/truth.tif")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with s.client(token="s3cret") as c:
                assert c.scan("t/tree", recursive=True).count == 8
                assert c.metrics().version == tc.__version__
                assert c.openapi().startswith("openapi: 3.1.")
                assert c.server_version == tc.__version__
    finally:
        assert s.stop() == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_errors_name_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with tc.Client(url) as c:
        with pytest.raises(tc.TesseraConnectionError) as e:
            c.scan("cyc1")
        assert e.value.url == f"{url}/scan" and e.value.method == "GET"
        assert f"GET {url}/scan" in str(e.value) and "refused" in str(e.value)
        with pytest.raises(tc.TesseraConnectionError, match=f"{url}/healthz"):
            c.health()


def test_timeout(root: Path) -> None:
    """A server that accepts and never answers: TesseraTimeout, naming the URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with tc.Client(url, timeout=0.3, check_version=False) as c:
            with pytest.raises(tc.TesseraTimeout, match=f"{url}/topk"):
                c.topk(values=[1.0], k=1)


def test_base_url_is_checked() -> None:
    for bad in ("127.0.0.1:8080", "ftp://x", "http://"):
        with pytest.raises(ValueError):
            tc.Client(bad)
    assert tc.Client("http://h:1/prefix/").base_url == "http://h:1/prefix"


def test_client_version_is_the_servers_project_version() -> None:
    cmake = (REPO / "CMakeLists.txt").read_text()
    project = re.search(r"project\(tessera VERSION (\d+\.\d+\.\d+)", cmake)
    assert project is not None and tc.__version__ == project[1]


def test_version_checked_on_first_use(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the matching version: no warning
        with server.client() as c:
            c.scan("t/tree")
            assert c.server_version == tc.__version__
    major, minor, _ = (int(n) for n in tc.__version__.split("."))
    other = f"{major + 1}.{minor}.0"  # a client of the next major release
    monkeypatch.setattr(client_module, "__version__", other)
    with server.client() as c:
        with pytest.warns(tc.TesseraVersionWarning,
                          match=f"tessera-client {other} .*Tessera {tc.__version__}"):
            c.scan("t/tree")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per client
            c.scan("t/tree")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not checked: no warning, the version still readable
        with server.client(check_version=False) as c:
            c.scan("t/tree")
            assert c.server_version == tc.__version__  # the server's (client_module is patched)


def test_version_rules() -> None:
    assert tc.version_compatible("0.1.0", "0.1.0")
    assert tc.version_compatible("0.1.0", "0.1.9")
    assert not tc.version_compatible("0.1.0", "0.2.0")
    assert not tc.version_compatible("0.2.0", "0.1.0")
    assert tc.version_compatible("1.2.3", "1.4.0")
    assert not tc.version_compatible("1.2.3", "1.1.9")
    assert not tc.version_compatible("1.0.0", "2.0.0")
    assert not tc.version_compatible("0.1.0", "unknown")


def test_error_classes() -> None:
    assert tc.error_class(400) is tc.BadRequest and tc.error_class(413) is tc.PayloadTooLarge
    assert tc.error_class(415) is tc.UnsupportedMediaType
    assert tc.error_class(500) is tc.InternalServerError
    assert tc.error_class(501) is tc.NotImplementedByServer
    assert tc.error_class(503) is tc.Unavailable and tc.error_class(502) is tc.ServerError
    assert tc.error_class(431) is tc.ClientError
    assert issubclass(tc.Unavailable, tc.ServerError) and issubclass(tc.NotFound, tc.ClientError)
    assert issubclass(tc.ProblemError, tc.TesseraError)
    assert issubclass(tc.TesseraTimeout, tc.TesseraConnectionError)


def test_non_problem_error_answers(server: Server) -> None:
    """An answer of the HTTP library itself (HTML, no problem document) still maps by status."""
    with server.client() as c:
        with pytest.raises(tc.ClientError) as e:
            c.scan("x" * 70000)  # a request line past --conn-memory
        assert e.value.status in (414, 431) and e.value.type is None


def test_problem_document_fields(client: tc.Client) -> None:
    with pytest.raises(tc.BadRequest) as e:
        client.overlap("t/labels/truth.tif", "t/labels/pred.tif", unknown_option=1)
    err = e.value
    assert err.type == "urn:tessera:problem:bad-request" and err.title == "Bad Request"
    assert err.detail == "unknown field 'unknown_option'" and err.instance == "/overlap"
    assert re.fullmatch(r"[0-9a-f]{32}", err.request_id or "")
    assert err.problem["request_id"] == err.request_id and err.method == "POST"
    assert err.url == client.base_url + "/overlap" and err.retry_after is None
