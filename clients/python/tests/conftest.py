"""Fixtures: the real tessera binary serving a data root this suite writes.

The binary comes from ``TESSERA_BIN`` (ctest sets it to the build's ``tessera``). Without
it the suite fails: it only means something against the real server.

The data root holds the demo data set (``tessera make-demo``, which the README example
uses) and, under ``t/``, files this suite writes with numpy and tifffile and knows exactly:
a directory tree for /scan and label images for /overlap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import tifffile

from tessera_client import Client

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "clients" / "python"


def tessera_bin() -> str:
    """The server binary under test (``TESSERA_BIN``)."""
    path = os.environ.get("TESSERA_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set TESSERA_BIN to the tessera binary (ctest does)")
    return path


class Server:
    """One tessera process on a free loopback port (``--port 0``; the port is read from its
    first log line, ``{"msg": "listening", "port": N, ...}``). Its output is drained by a
    thread so the pipe never fills, and kept for failure messages.
    """

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [tessera_bin(), "--root", str(root), "--port", "0", "--access-log=false", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._port: int | None = None
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._started.wait(30) or self._port is None:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"tessera did not start: {self.lines[:5]}")
        self.port: int = self._port
        self.url = f"http://127.0.0.1:{self.port}"

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if not self._started.is_set():
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict) and doc.get("msg") == "listening":
                    self._port = int(doc["port"])
                    self._started.set()
        self._started.set()

    def client(self, **kwargs: object) -> Client:
        """A client of this server (keyword arguments go to ``Client``)."""
        return Client(self.url, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        """SIGTERM, then the exit status (which must be 0: the server drains and exits)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self._reader.join(10)
        return code


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data root: the demo data set plus this suite's files under t/."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run([tessera_bin(), "make-demo", str(root)], check=True, capture_output=True)
    write_tree(root / "t" / "tree")
    write_labels(root / "t" / "labels")
    (root / "t" / "notes.txt").write_text("not an image\n")
    return root


@pytest.fixture(scope="session")
def server(root: Path) -> Iterator[Server]:
    """The shared server; tests that change the root or the server use their own."""
    s = Server(root)
    yield s
    assert s.stop() == 0, "".join(s.lines[-20:])


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    """A client of the shared server, closed after the test."""
    with server.client() as c:
        yield c


# ------------------------------------------------------------------------------------------
# The files
# ------------------------------------------------------------------------------------------

#: Files of the scan tree, relative to it; "" content means a real TIFF is written.
TREE_IMAGES = [
    "cyc1/a.tif",
    "cyc1/B.TIF",
    "cyc1/c.ome.tiff",
    "cyc2/img.tiff",
    "cyc10/img.tif",
    "cyc10/sub/deep.ome.tif",
    "cyc10/sub/deeper/deepest.tif",
]
TREE_OTHER = ["cyc1/notes.txt", "cyc1/.hidden.tif", ".dot/x.tif", "cyc2/x.tif.bak"]


def write_tree(tree: Path) -> None:
    """A directory tree with images, non-images, hidden names, a Zarr store and a directory
    named like an image."""
    image = (np.arange(12 * 16, dtype=np.uint16) * 7).reshape(12, 16)
    for rel in TREE_IMAGES + TREE_OTHER:
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.lower().endswith((".tif", ".tiff")):
            tifffile.imwrite(path, image)
        else:
            path.write_text("not an image\n")
    (tree / "cyc2" / "plate.zarr").mkdir()
    (tree / "cyc2" / "plate.zarr" / ".zgroup").write_text('{"zarr_format": 2}\n')
    (tree / "cyc2" / "dir.tif").mkdir()  # a directory named x.tif is not an entry


@dataclass(frozen=True)
class Labels:
    """The label images of t/labels, as written."""

    truth: np.ndarray
    pred: np.ndarray
    big_a: np.ndarray
    big_b: np.ndarray
    stack: np.ndarray  # 3 pages


def make_labels(seed: int = 21) -> Labels:
    """Cells as disks at random centres; the prediction shifted, relabelled, one cell split,
    some dropped and some added. Plus a pair with labels near 2^64 and a 3-page stack."""
    rng = np.random.default_rng(seed)
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    truth = np.zeros((h, w), np.uint16)
    for label in range(1, 41):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(3, 9)
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = label
    pred = np.zeros_like(truth)
    pred[2:, 1:] = truth[:-2, :-1]
    perm = rng.permutation(60).astype(np.uint16) + 500
    pred = np.where(pred > 0, perm[pred % 60], 0).astype(np.uint16)
    pred[pred == perm[3]] = 0  # a dropped cell
    pred[(yy - 10) ** 2 + (xx - 10) ** 2 <= 16] = 999  # an added one
    pred[:, 64:][pred[:, 64:] == perm[5]] = 998  # a split one (if it crosses x = 64)
    top = np.uint64(2**64 - 1)
    big_a = np.where(truth > 0, top - truth.astype(np.uint64), np.uint64(0)).astype(np.uint64)
    big_b = np.where(pred > 0, top - pred.astype(np.uint64) * np.uint64(3), np.uint64(0))
    stack = np.stack([truth, pred, np.flipud(truth)]).astype(np.uint32)
    return Labels(truth, pred, big_a.astype(np.uint64), big_b.astype(np.uint64), stack)


def write_labels(folder: Path) -> None:
    """The label images of make_labels as TIFF files (and one of another shape)."""
    folder.mkdir(parents=True)
    lab = make_labels()
    tifffile.imwrite(folder / "truth.tif", lab.truth)
    tifffile.imwrite(folder / "pred.tif", lab.pred, compression="zlib")
    tifffile.imwrite(folder / "big_a.tif", lab.big_a)
    tifffile.imwrite(folder / "big_b.tif", lab.big_b, byteorder=">")
    with tifffile.TiffWriter(folder / "stack.tif") as stack:
        for page in lab.stack:  # 3 pages of (96, 128)
            stack.write(page, photometric="minisblack")
    tifffile.imwrite(folder / "small.tif", lab.truth[:50, :50])


@pytest.fixture(scope="session")
def labels() -> Labels:
    """The label images written under t/labels (recomputed, not read back)."""
    return make_labels()


@pytest.fixture()
def own_root(tmp_path: Path) -> Path:
    """A data root of the test's own, for servers whose root a test changes."""
    root = tmp_path / "own"
    write_tree(root / "tree")
    return root
