"""scan and classify against the real server, compared with what the suite wrote."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import tifffile

import tessera_client as tc
from conftest import TREE_IMAGES

SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".zarr")


def natural_key(path: str) -> list[object]:
    """Natural order: digit runs compare as numbers, the rest byte by byte."""
    return [int(t) if i % 2 else t.encode() for i, t in enumerate(re.split(r"(\d+)", path))]


def expected_scan(root: Path, rel: str, *, recursive: bool, hidden: bool) -> list[dict[str, object]]:
    """The entries /scan must list, from the spec's rules, walking the tree in Python."""
    out = []
    top = root / rel
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        if not hidden:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in list(dirnames):
            if name.lower().endswith(".zarr"):
                dirnames.remove(name)  # one entry, never descended into
                path = here / name
                out.append({"path": str(path.relative_to(root)), "name": name, "suffix": ".zarr",
                            "type": "zarr", "size": 0})
        for name in filenames:
            if name.startswith(".") and not hidden:
                continue
            suffix = next((s for s in SUFFIXES if name.lower().endswith(s)), None)
            if suffix is None or suffix == ".zarr":
                continue
            path = here / name
            out.append({"path": str(path.relative_to(root)), "name": name, "suffix": suffix,
                        "type": "file", "size": path.stat().st_size})
        if not recursive:
            break
    return sorted(out, key=lambda e: natural_key(str(e["path"])))


def strip(entries: list[tc.ScanEntry]) -> list[dict[str, object]]:
    return [{k: e[k] for k in ("path", "name", "suffix", "type", "size")} for e in entries]  # type: ignore[literal-required]


def test_scan_recursive_matches_the_tree(client: tc.Client, root: Path) -> None:
    result = client.scan("t/tree", recursive=True)
    want = expected_scan(root, "t/tree", recursive=True, hidden=False)
    assert strip(result.entries) == want
    assert result.count == len(want) == len(TREE_IMAGES) + 1  # + the Zarr store
    assert result.paths == [e["path"] for e in want]
    assert result.dir == "t/tree" and result.truncated is False
    assert result.errors == [] and result.errors_dropped == 0
    assert re.fullmatch(r"[0-9a-f]{32}", result.request_id or "")
    # natural order: cyc2 before cyc10
    assert result.paths.index("t/tree/cyc2/img.tiff") < result.paths.index("t/tree/cyc10/img.tif")
    for e in result.entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", str(e["mtime"]))


def test_scan_options(client: tc.Client, root: Path) -> None:
    flat = client.scan("t/tree/cyc1")
    assert strip(flat.entries) == expected_scan(root, "t/tree/cyc1", recursive=False, hidden=False)
    hidden = client.scan("t/tree", recursive=True, hidden=True)
    assert strip(hidden.entries) == expected_scan(root, "t/tree", recursive=True, hidden=True)
    assert "t/tree/cyc1/.hidden.tif" in hidden.paths and "t/tree/.dot/x.tif" in hidden.paths
    shallow = client.scan("t/tree", recursive=True, max_depth=1)
    assert shallow.truncated is True
    assert all(p.count("/") <= 3 for p in shallow.paths) and "t/tree/cyc10/img.tif" in shallow.paths
    full = client.scan("t/tree", recursive=True)
    limited = client.scan("t/tree", recursive=True, limit=3)
    assert limited.count == 3 and limited.truncated is True
    assert set(limited.paths) <= set(full.paths)
    assert limited.paths == sorted(limited.paths, key=natural_key)


def test_scan_classify_attaches_classifications(client: tc.Client) -> None:
    result = client.scan("t/tree/cyc1", classify=True)
    for e in result.entries:
        c = e["classification"]
        assert c["path"] == e["path"]  # type: ignore[typeddict-item]
        assert (c["width"], c["height"], c["dtype"]) == (16, 12, "uint16")  # type: ignore[typeddict-item]


def test_scan_dataframe(client: tc.Client, root: Path) -> None:
    frame = client.scan("t/tree", recursive=True, classify=True).to_dataframe()
    want = expected_scan(root, "t/tree", recursive=True, hidden=False)
    assert list(frame["path"]) == [e["path"] for e in want]
    assert list(frame["size"]) == [e["size"] for e in want]
    assert str(frame["mtime"].dtype) == "datetime64[ns, UTC]"
    files = frame[frame["type"] == "file"]
    assert set(files["classification.dtype"]) == {"uint16"}


def test_scan_errors(client: tc.Client) -> None:
    with pytest.raises(tc.NotFound) as e:
        client.scan("t/nope")
    assert e.value.status == 404 and e.value.type == "urn:tessera:problem:not-found"
    assert e.value.instance == "/scan" and "t/nope" in e.value.detail
    with pytest.raises(tc.Forbidden):
        client.scan("../etc")
    with pytest.raises(tc.Unprocessable):
        client.scan("t/tree/cyc1/a.tif")  # a file where a directory is expected
    with pytest.raises(tc.BadRequest):
        client.scan("t/tree", limit=0)


def test_classify_one(client: tc.Client, root: Path) -> None:
    for rel in ("t/labels/stack.tif", "t/labels/big_b.tif", "t/labels/pred.tif"):
        c = client.classify(rel)
        with tifffile.TiffFile(root / rel) as tif:
            page = tif.pages[0]
            assert c["path"] == rel and c["container"] == "tiff" and c["format"] == "tiff"
            assert (c["width"], c["height"]) == (page.imagewidth, page.imagelength)
            assert c["dtype"] == str(page.dtype)
            assert c["pages"] == len(tif.pages)
            assert c["size"] == (root / rel).stat().st_size
            assert c["is_bigtiff"] is tif.is_bigtiff and c["tiled"] is page.is_tiled
    assert client.classify("t/labels/pred.tif")["compression"] == "deflate"
    assert client.classify("t/labels/truth.tif")["compression"] == "none"
    again = client.classify("t/labels/stack.tif")
    assert again["cached"] is True
    zarr = client.classify("t/tree/cyc2/plate.zarr")
    assert (zarr["container"], zarr["reader"]) == ("zarr", "zarr")
    assert client.classify("t/notes.txt")["container"] == "unknown"


def test_classify_demo_formats(client: tc.Client) -> None:
    """The demo files: OME, ImageJ, BigTIFF and a tiled pyramid."""
    pyramid = client.classify("slides/pyramid.ome.tif")
    assert (pyramid["format"], pyramid["levels"], pyramid["tiled"]) == ("ome-tiff", 3, True)
    assert client.classify("cyc2/hyperstack.tif")["is_imagej"] is True
    assert client.classify("slides/tiled_big.TIF")["container"] == "bigtiff"


def test_classify_many_in_order_with_item_errors(client: tc.Client) -> None:
    paths = ["t/labels/truth.tif", "t/missing.tif", "../x.tif", "t/tree/cyc2/plate.zarr"]
    results = client.classify(paths)
    assert len(results) == 4
    first, missing, outside, zarr = results
    assert isinstance(first, dict) and first["path"] == "t/labels/truth.tif"
    assert first == {**client.classify("t/labels/truth.tif"), "cached": first["cached"]}
    assert isinstance(missing, tc.ItemError) and missing.path == "t/missing.tif"
    assert isinstance(missing.error, tc.NotFound) and missing.status == 404
    assert missing.error.request_id and missing.error.method is None
    assert isinstance(outside, tc.ItemError) and isinstance(outside.error, tc.Forbidden)
    assert isinstance(zarr, dict) and zarr["container"] == "zarr"
    assert client.classify(()) == []
    with pytest.raises(TypeError):
        client.classify([Path("t/labels/truth.tif")])  # type: ignore[list-item]


def test_classify_errors(client: tc.Client) -> None:
    with pytest.raises(tc.NotFound) as e:
        client.classify("nope.tif")
    assert str(e.value).startswith("404 Not Found: 'nope.tif' does not exist (GET http://")
    assert e.value.request_id in str(e.value)
    with pytest.raises(tc.Forbidden):
        client.classify("/etc/passwd")
    with pytest.raises(tc.ClientError):
        client.classify("")


def test_request_id_is_sent_and_reported(client: tc.Client) -> None:
    assert client.scan("t/tree", request_id="pipeline-7.step_3").request_id == "pipeline-7.step_3"
    with pytest.raises(tc.NotFound) as e:
        client.classify("nope.tif", request_id="run-42")
    assert e.value.request_id == "run-42"
    with pytest.raises(ValueError):
        client.scan("t/tree", request_id="not valid!")

