"""503 + Retry-After: retried with backoff within the budget, for read-only requests.

Two real ways to make Tessera answer 503: its data root going away (deterministic: every
request that reads the root is refused until the root is back) and a full worker pool
(``--workers 1 --queue 1`` with slow scans holding both slots, as itest_service does).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

import tessera_client as tc
from conftest import Server


class Retries(logging.Handler):
    """Collects the client's retry log records; calls on_first at the first one."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.on_first = on_first

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if len(self.messages) == 1 and self.on_first is not None:
            self.on_first()


@pytest.fixture()
def retries() -> Iterator[Retries]:
    handler = Retries()
    logger = logging.getLogger("tessera_client")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def count_503(s: Server, route: str) -> float:
    with s.client(check_version=False) as c:
        try:
            return c.metrics().value("tessera_requests_total", route=route, code="503")
        except KeyError:
            return 0.0


def test_root_gone_budget_and_recovery(own_root: Path, retries: Retries) -> None:
    s = Server(own_root)
    away = own_root.with_name("away")
    try:
        os.rename(own_root, away)
        with s.client(retries=0) as c:
            with pytest.raises(tc.Unavailable) as e:
                c.scan("tree")
            assert e.value.status == 503 and e.value.retry_after == 1.0
            assert "data root" in e.value.detail and retries.messages == []
            assert c.ready() is False  # a probe: never retried
        assert count_503(s, "/readyz") == 1

        # The budget: 1 try + 2 retries, each after at least Retry-After (1 s).
        before = count_503(s, "/scan")
        start = time.monotonic()
        with s.client(retries=2, backoff=0.1) as c, pytest.raises(tc.Unavailable):
            c.scan("tree")
        assert time.monotonic() - start >= 2.0
        assert count_503(s, "/scan") - before == 3
        assert len(retries.messages) == 2 and "retry 2 of 2" in retries.messages[1]

        # The root comes back while the client waits: the retry gets the real answer.
        retries.messages.clear()
        calls: list[tuple[Callable[[tc.Client], object], object]] = [
            (lambda c: c.scan("tree", recursive=True).count, 8),  # GET
            (lambda c: [r["width"] for r in c.classify(["tree/cyc1/a.tif", "tree/cyc2/img.tiff"])],  # type: ignore[index]
             [16, 16]),  # POST
        ]
        for call, want in calls:
            timer = threading.Timer(0.3, os.rename, (away, own_root))
            timer.start()
            with s.client(retries=5) as c:
                assert call(c) == want
            timer.join()
            os.rename(own_root, away)
        assert len(retries.messages) >= 2
    finally:
        if away.exists():
            os.rename(away, own_root)
        assert s.stop() == 0


def test_post_overlap_is_retried(own_root: Path, retries: Retries) -> None:
    """/overlap is a read-only POST (READ_ONLY_POSTS): retried like a GET."""
    assert "/overlap" in tc.READ_ONLY_POSTS and "/topk" in tc.READ_ONLY_POSTS
    s = Server(own_root)
    away = own_root.with_name("away")
    try:
        os.rename(own_root, away)
        timer = threading.Timer(0.3, os.rename, (away, own_root))
        timer.start()
        with s.client(retries=3) as c:
            result = c.overlap("tree/cyc1/a.tif", "tree/cyc1/B.TIF")
        timer.join()
        assert int(result.pairs.count.sum()) == 12 * 16
        assert len(retries.messages) >= 1 and "POST" in retries.messages[0]
    finally:
        if away.exists():
            os.rename(away, own_root)
        assert s.stop() == 0


def make_big_tree(folder: Path, dirs: int = 2, files: int = 1000) -> None:
    """Enough empty .ome.tif files that one classifying scan keeps the worker busy a while
    (about 0.1 s: each is opened and read, the classification cache being off)."""
    for d in range(dirs):
        sub = folder / f"cyc{d}"
        sub.mkdir(parents=True)
        for f in range(files):
            os.close(os.open(sub / f"img{f:05d}.ome.tif", os.O_WRONLY | os.O_CREAT, 0o644))


def test_full_worker_pool(own_root: Path, retries: Retries) -> None:
    """Two slow scans (classify=true, no cache) hold the only worker and the only queue
    slot, sent again as soon as they finish. A client without retries is refused; a retrying client's first retry stops
    the load, and its retry gets through with the real answer."""
    make_big_tree(own_root / "big")
    s = Server(own_root, "--workers", "1", "--queue", "1", "--cache-entries", "0",
               "--threads", "1")
    stop = threading.Event()
    retries.on_first = stop.set
    slow_url = f"{s.url}/scan?dir=big&recursive=true&classify=true"

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                session.get(slow_url, timeout=60)

    threads = [threading.Thread(target=load) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        refused = None
        with s.client(retries=0) as c:
            while refused is None and time.monotonic() < deadline:
                try:
                    c.scan("tree")
                except tc.Unavailable as e:
                    refused = e
        assert refused is not None, "the pool never filled"
        assert refused.retry_after == 1.0 and "queue" in refused.detail
        assert retries.messages == []

        answer = None
        with s.client(retries=8, backoff=0.2) as c:
            while not retries.messages and time.monotonic() < deadline:
                answer = c.scan("tree", recursive=True)
        assert retries.messages, "no request was retried"
        assert answer is not None and answer.count == 8  # the retried call's real answer
        with s.client() as c:
            assert c.metrics().value("tessera_rejected_busy_total") >= 2
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        assert s.stop() == 0
