"""``python -m tessera_client URL ...`` against the real server.

Most commands run in-process (``cli.main``, output captured); the ``python -m`` entry point
itself runs as a real subprocess in test_entry_point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import tessera_client as tc
from conftest import PACKAGE, Server
from tessera_client.cli import main


@dataclass
class Done:
    """What one command did."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Done]:
    """Run the command line in-process (no token unless a test sets TESSERA_TOKEN)."""
    monkeypatch.delenv("TESSERA_TOKEN", raising=False)

    def run(*args: str) -> Done:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return run


@pytest.fixture()
def out(cli: Callable[..., Done]) -> Callable[..., Any]:
    """The JSON a successful command prints."""

    def run(*args: str) -> Any:
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def test_entry_point(server: Server) -> None:
    """python -m tessera_client, from the source tree, as a user types it."""
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_TOKEN"}
    env["PYTHONPATH"] = str(PACKAGE)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tessera_client", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    done = run(server.url, "overlap", "t/labels/truth.tif", "t/labels/pred.tif",
               "--threshold", "0.5")
    assert done.returncode == 0 and json.loads(done.stdout)["matching"]["threshold"] == 0.5
    done = run(server.url, "classify", "nope.tif")
    assert done.returncode == 1 and json.loads(done.stderr)["status"] == 404
    assert run("--help").stdout.startswith("usage: python -m tessera_client")


def test_scan_and_classify(server: Server, client: tc.Client, out: Callable[..., Any]) -> None:
    scan = out(server.url, "scan", "t/tree", "--recursive", "--classify")
    assert [e["path"] for e in scan["entries"]] == client.scan("t/tree", recursive=True).paths
    assert all("classification" in e for e in scan["entries"])
    assert out(server.url, "scan", "t/tree", "-r", "--limit", "2")["count"] == 2
    one = out(server.url, "classify", "t/labels/stack.tif")
    assert (one["pages"], one["dtype"]) == (3, "uint32")
    many = out(server.url, "classify", "t/labels/truth.tif", "nope.tif")
    assert many["results"][0]["width"] == 128
    assert many["results"][1]["error"]["status"] == 404


def test_overlap(server: Server, root: Path, client: tc.Client, out: Callable[..., Any]) -> None:
    ref = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", iou=True, match_threshold=0.5)
    got = out(server.url, "overlap", "t/labels/truth.tif", "t/labels/pred.tif", "--threshold",
              "0.5")
    assert got["matching"]["f1"] == ref.matching.f1  # type: ignore[union-attr]
    assert got["pair_count"] == len(ref.pairs) and "pairs" not in got
    full = out(server.url, "overlap", str(root / "t/labels/truth.tif"),
               str(root / "t/labels/pred.tif"), "--upload", "--iou", "--pairs")
    np.testing.assert_array_equal(full["pairs"]["count"], ref.pairs.count)
    np.testing.assert_array_equal(full["pairs"]["iou"], ref.pairs.iou)  # type: ignore[arg-type]
    nobg = out(server.url, "overlap", "t/labels/truth.tif", "t/labels/pred.tif",
               "--no-background", "--pairs")
    assert 0 not in nobg["pairs"]["a"] and 0 not in nobg["pairs"]["b"]
    pages = out(server.url, "overlap", "t/labels/stack.tif", "t/labels/stack.tif",
                "--page-a", "1", "--page-b", "1", "--threshold", "1")
    assert pages["matching"]["f1"] == 1.0
    sweep = out(server.url, "overlap", "t/labels/truth.tif", "t/labels/pred.tif",
                "--threshold", "0.1", "0.5", "0.9", "--criterion", "iot", "--metrics", "aji")
    want = client.overlap("t/labels/truth.tif", "t/labels/pred.tif", criterion="iot",
                          match_threshold=[0.1, 0.5, 0.9], metrics=["aji"])
    assert [m["threshold"] for m in sweep["matching"]] == [0.1, 0.5, 0.9]
    assert [m["tp"] for m in sweep["matching"]] == [m.tp for m in want.matching]  # type: ignore[union-attr]
    assert {m["criterion"] for m in sweep["matching"]} == {"iot"}
    assert sweep["metrics"]["aji"] == want.metrics.aji  # type: ignore[union-attr]
    volume = out(server.url, "overlap", "t/labels/stack.tif", "t/labels/stack.tif", "--volume")
    assert volume["depth"] == 3


def test_topk(server: Server, tmp_path: Path, out: Callable[..., Any]) -> None:
    assert out(server.url, "topk", "3", "3", "1", "nan", "1", "2") == {
        "indices": [1, 3, 4], "values": [1.0, 1.0, 2.0]}
    assert out(server.url, "topk", "2", "5", "nan", "7", "--largest") == {
        "indices": [2, 0], "values": [7.0, 5.0]}
    pts = np.array([[0, 0], [1, 0], [5, 5], [1, 1]], dtype=np.float64)
    np.save(tmp_path / "p.npy", pts)
    got = out(server.url, "topk", "1", "--npy", str(tmp_path / "p.npy"), "--mode", "points")
    assert got["indices"] == [[1], [0], [3], [1]]
    np.testing.assert_allclose(got["distances"], [[1], [1], [np.hypot(4, 4)], [1]])
    m = np.array([[0, 2, 1], [2, 0, 3], [1, 3, 0]], dtype=np.float64)
    np.save(tmp_path / "m.npy", m)
    got = out(server.url, "topk", "1", "--npy", str(tmp_path / "m.npy"), "--mode", "rows",
              "--exclude-self")
    assert got == {"indices": [[2], [0], [0]], "values": [[1.0], [2.0], [1.0]]}


def test_service_commands(server: Server, cli: Callable[..., Done], out: Callable[..., Any]) -> None:
    assert out(server.url, "health") == {"status": "ok"}
    assert out(server.url, "ready") == {"ready": True}
    assert out(server.url, "version") == {"client": tc.__version__, "server": tc.__version__}
    assert out(server.url, "metrics", "tessera_build_info", f"version={tc.__version__}") == 1.0
    series = out(server.url, "metrics")
    assert series["tessera_build_info"] == [{"labels": {"version": tc.__version__}, "value": 1.0}]
    done = cli(server.url, "openapi")
    assert done.returncode == 0 and done.stdout.startswith("openapi: 3.1.")


def test_errors_and_exit_codes(server: Server, cli: Callable[..., Done]) -> None:
    done = cli(server.url, "classify", "nope.tif")
    assert done.returncode == 1 and done.stdout == ""
    problem = json.loads(done.stderr)
    assert problem["status"] == 404 and problem["type"] == "urn:tessera:problem:not-found"
    done = cli("http://127.0.0.1:1", "health")
    assert done.returncode == 1 and "http://127.0.0.1:1/healthz" in done.stderr
    assert cli(server.url, "frobnicate").returncode == 2
    assert cli("not-a-url", "health").returncode == 2
    done = cli(server.url, "topk", "1", "1", "--mode", "rows")
    assert done.returncode == 2 and "--npy" in done.stderr
    done = cli(server.url, "metrics", "tessera_no_such_series")
    assert done.returncode == 1 and "tessera_no_such_series" in done.stderr


def test_token_from_flag_and_environment(root: Path, cli: Callable[..., Done],
                                         out: Callable[..., Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    s = Server(root, "--token", "s3cret")
    try:
        done = cli(s.url, "scan", "t/tree")
        assert done.returncode == 1 and json.loads(done.stderr)["status"] == 401
        assert out(s.url, "--token", "s3cret", "scan", "t/tree")["dir"] == "t/tree"
        monkeypatch.setenv("TESSERA_TOKEN", "s3cret")
        assert out(s.url, "scan", "t/tree")["dir"] == "t/tree"
    finally:
        assert s.stop() == 0
