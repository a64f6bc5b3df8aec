"""Client.preview against the real server: PNG bytes, and the decoded array equals what an
independent decoder (Pillow) makes of the same bytes, at the size the server's rules give."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import tessera_client as tc


def test_preview_png_bytes(client: tc.Client) -> None:
    png = client.preview("slides/pyramid.ome.tif", size=200)
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (200, 200)  # 1024 x 1024, from its 256 x 256 level


def test_preview_as_array(client: tc.Client) -> None:
    arr = client.preview("cyc1/DAPI.tif", size=64, channel=0, colors=["ff0000"], as_array=True)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8
    assert arr.shape == (48, 64, 3)  # 256 x 192 fitted into 64
    assert arr[:, :, 1:].max() == 0 and arr[:, :, 0].max() == 255  # red only, stretched
    png = client.preview("cyc1/DAPI.tif", size=64, channel=0, colors=["ff0000"])
    with Image.open(io.BytesIO(png)) as img:
        assert np.array_equal(np.asarray(img.convert("RGB")), arr)


def test_preview_labels_and_errors(client: tc.Client) -> None:
    lab = client.preview("labels/truth.tif", size=128, boundaries=True, as_array=True)
    assert isinstance(lab, np.ndarray) and lab.shape == (128, 128, 3)
    assert (lab.reshape(-1, 3).max(axis=1) == 0).mean() > 0.5  # outlines only: mostly black
    with pytest.raises(tc.ProblemError) as e:
        client.preview("slides/pyramid.ome.tif", level=7)
    assert e.value.status == 400 and "level 7" in e.value.detail
    with pytest.raises(tc.ProblemError) as e:
        client.preview("nope.tif")
    assert e.value.status == 404
