"""Saving an image array to a file: `save_img`, as `keras.utils.save_img`, for PNG files.

Keras writes images through Pillow; kerasish writes PNG itself (the format is a few chunks
of zlib-compressed rows), so saving generated images needs no extra package. Other formats
raise a ValueError.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(pixels: np.ndarray) -> bytes:
    """The bytes of a PNG file holding `pixels`: uint8, shape (height, width) or
    (height, width, channels) with 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels.

    Example:
        >>> import numpy as np
        >>> data = encode_png(np.zeros((2, 3), np.uint8))
        >>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", data[12:16]
        (True, b'IHDR')
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise TypeError(f"encode_png: pixels must be uint8. Received: dtype={pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in _COLOR_TYPES or 0 in pixels.shape:
        raise ValueError(
            "encode_png: pixels must have shape (height, width) or (height, width, channels) "
            f"with 1, 2, 3 or 4 channels. Received: shape={pixels.shape}"
        )
    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    # Each row starts with its filter type; 0 is "none".
    rows = np.concatenate(
        [np.zeros((height, 1), np.uint8), pixels.reshape(height, width * channels)], axis=1
    )
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(np.ascontiguousarray(rows).tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def _to_pixels(x, data_format: str, scale: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64 if scale else None)
    if x.ndim == 3 and data_format == "channels_first":
        x = np.moveaxis(x, 0, -1)
    if x.ndim not in (2, 3):
        raise ValueError(
            "save_img: expected an image of shape (height, width) or (height, width, channels)."
            f" Received: shape={x.shape}"
        )
    if scale:  # as Keras: shifted to start at 0, then stretched to 0..255
        x = x - np.min(x)
        top = np.max(x)
        if top > 0:
            x = x / top
        x = x * 255.0
    # Truncated to integers as Keras' `astype("uint8")`, but clipped first (Keras wraps
    # values outside 0..255 around).
    return np.clip(x, 0, 255).astype(np.uint8)


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs) -> None:
    """Saves the image array `x` ((height, width, channels), channels 1, 3 or 4, or
    (height, width)) to `path` as PNG.

    Args:
        path: the file to write.
        x: the image; with `scale=True` its values are stretched to 0..255 (as Keras),
            else they must already be in 0..255.
        data_format: "channels_last" (default) or "channels_first".
        file_format: "png", or None to take it from the file name.
        scale: whether to stretch the values to 0..255.

    Example:
        >>> import tempfile, os
        >>> import numpy as np
        >>> import kerasish as keras
        >>> path = os.path.join(tempfile.mkdtemp(), "ramp.png")
        >>> keras.utils.save_img(path, np.linspace(0, 1, 12).reshape(3, 4, 1))
        >>> open(path, "rb").read(4)
        b'\\x89PNG'
    """
    if kwargs:
        raise TypeError(f"save_img: unexpected keyword arguments {sorted(kwargs)}")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "save_img: data_format must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    path = Path(path)
    file_format = (file_format or path.suffix.lstrip(".") or "png").lower()
    if file_format != "png":
        raise ValueError(
            "save_img writes PNG files only (kerasish encodes them itself; for other formats "
            f"convert with Pillow). Received: file_format={file_format!r}"
        )
    path.write_bytes(encode_png(_to_pixels(x, data_format, scale)))
