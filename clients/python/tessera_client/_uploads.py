"""Label images to upload to /overlap, and the multipart/form-data body that carries them.

What counts as an upload (anything but a ``str``, which names a file under the data root):
TIFF or .npy bytes (``bytes``, ``bytearray``, ``memoryview``), a local TIFF or .npy file
(``pathlib.Path`` or any ``os.PathLike``), a binary file object (``open(..., "rb")``,
``io.BytesIO``), or a 2-D (y, x) or 3-D (z, y, x) numpy integer array, sent as a .npy part
(``numpy.save``'s bytes: dtype, shape and byte order travel with it; no TIFF library needed).
Bytes and files are sent as .npy when they start with numpy's magic string, else as TIFF.

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


#: The first bytes of every .npy file (numpy's format, versions 1-3).
NPY_MAGIC = b"\x93NUMPY"


def _named(data: bytes, name: str | None, side: str) -> tuple[str, bytes]:
    """(file name, bytes): the name ends in .npy exactly when the bytes are a .npy file, which
    is how the server tells the two kinds apart (with the part's Content-Type)."""
    npy = data.startswith(NPY_MAGIC)
    base = name if name else side
    stem, ext = os.path.splitext(base)
    if npy and ext.lower() != ".npy":
        base = f"{stem or side}.npy"
    elif not npy and ext.lower() == ".npy":
        base = f"{stem or side}.tif"
    elif not npy and not ext:
        base = f"{base}.tif"
    return base, data


def label_bytes(value: object, side: str) -> tuple[str, bytes]:
    """(file name, bytes) of one upload; ``side`` ("a" / "b") names it in errors."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _named(bytes(value), None, side)
    if isinstance(value, np.ndarray):
        return f"{side}.npy", array_npy(value, side)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        with open(path, "rb") as f:
            return _named(f.read(), os.path.basename(path), side)
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, bytes):
            raise TypeError(f"{side}: the file object must be opened in binary mode ('rb')")
        name = getattr(value, "name", None)
        return _named(data, os.path.basename(name) if isinstance(name, str) else None, side)
    raise TypeError(
        f"{side}: expected a path under the data root (str), TIFF bytes, a pathlib.Path, a "
        f"binary file object or a numpy array, not {type(value).__name__}"
    )


def array_npy(array: npt.NDArray[Any], side: str) -> bytes:
    """A 2-D (y, x) or 3-D (z, y, x) integer (or bool) label array as .npy bytes."""
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{side}: a label image is 2-D (height, width) or 3-D (depth, height, width), "
            f"not shape {array.shape}"
        )
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{side}: label images hold integers, not {array.dtype}")
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def multipart_body(files: dict[str, tuple[str, bytes]], options: bytes) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/form-data upload: one part per ``files`` entry
    (name -> (file name, bytes); ``application/x-npy`` for a .npy file name, else
    ``image/tiff``) and an ``options`` part holding JSON.
    """
    boundary = "tessera-" + secrets.token_hex(16)
    while any(boundary.encode() in data for _, data in files.values()):
        boundary = "tessera-" + secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, (filename, data) in files.items():
        part_type = "application/x-npy" if filename.lower().endswith(".npy") else "image/tiff"
        safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{safe}"\r\nContent-Type: {part_type}\r\n\r\n'.encode()
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
