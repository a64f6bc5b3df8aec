"""Label images to upload to /overlap, and the multipart/form-data body that carries them.

What counts as an upload (anything but a ``str``, which names a file under the data root):
TIFF bytes (``bytes``, ``bytearray``, ``memoryview``), a local TIFF file (``pathlib.Path`` or
any ``os.PathLike``), a binary file object (``open(..., "rb")``, ``io.BytesIO``), or a 2-D
numpy integer array, written to an in-memory TIFF with tifffile when tifffile is installed.

The whole body is built once, in memory, so a retried request sends the same bytes again.
"""

from __future__ import annotations

import io
import os
import secrets
from typing import IO, Any, Union

import numpy as np
import numpy.typing as npt

#: A label image for /overlap: a path under the data root (str) or something to upload.
LabelImage = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], np.ndarray]


def is_upload(value: object) -> bool:
    """True for what is sent as bytes; False for a path under the data root (a ``str``)."""
    return not isinstance(value, str)


def label_bytes(value: object, side: str) -> tuple[str, bytes]:
    """(file name, TIFF bytes) of one upload; ``side`` ("a" / "b") names it in errors."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{side}.tif", bytes(value)
    if isinstance(value, np.ndarray):
        return f"{side}.tif", array_tiff(value, side)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        with open(path, "rb") as f:
            return os.path.basename(path), f.read()
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, bytes):
            raise TypeError(f"{side}: the file object must be opened in binary mode ('rb')")
        name = getattr(value, "name", None)
        return (os.path.basename(name) if isinstance(name, str) else f"{side}.tif"), data
    raise TypeError(
        f"{side}: expected a path under the data root (str), TIFF bytes, a pathlib.Path, a "
        f"binary file object or a numpy array, not {type(value).__name__}"
    )


def array_tiff(array: npt.NDArray[Any], side: str) -> bytes:
    """A 2-D integer (or bool) label array as the bytes of a one-page uncompressed TIFF."""
    if array.ndim != 2:
        raise ValueError(f"{side}: a label image is 2-D (height, width), not shape {array.shape}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{side}: label images hold integers, not {array.dtype}")
    try:
        import tifffile
    except ImportError as e:
        raise ImportError(
            "uploading a numpy array to /overlap writes it as TIFF, which needs tifffile "
            "(pip install tifffile; Debian: apt install python3-tifffile); or pass paths "
            "under the data root, TIFF bytes or a TIFF file instead"
        ) from e
    out = io.BytesIO()
    tifffile.imwrite(out, np.ascontiguousarray(array), photometric="minisblack")
    return out.getvalue()


def multipart_body(files: dict[str, tuple[str, bytes]], options: bytes) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/form-data upload: one TIFF part per ``files`` entry
    (name -> (file name, bytes)) and an ``options`` part holding JSON.
    """
    boundary = "tessera-" + secrets.token_hex(16)
    while any(boundary.encode() in data for _, data in files.values()):
        boundary = "tessera-" + secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, (filename, data) in files.items():
        safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{safe}"\r\nContent-Type: image/tiff\r\n\r\n'.encode()
        )
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n'
        f"Content-Type: application/json\r\n\r\n".encode()
    )
    chunks.append(options)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
