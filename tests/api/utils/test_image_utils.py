"""`keras.utils.save_img` / `encode_png`: files decoded by an independent PNG reader here."""

import struct
import zlib

import numpy as np
import pytest

import kerasish as keras
from kerasish.utils.image_utils import encode_png

CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}  # PNG colour type -> channels


def decode_png(data: bytes) -> np.ndarray:
    """A minimal PNG reader: checks the signature and every chunk's CRC, then inflates the
    image data and undoes the per-row filters (only "none" and "sub" are expected)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and interlace == 0
    channels = CHANNELS[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * channels)
    assert set(rows[:, 0].tolist()) <= {0}
    return rows[:, 1:].reshape(height, width, channels)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_encode_png_round_trips(channels):
    pixels = np.random.default_rng(channels).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(pixels)), pixels)


def test_save_img_scales_like_keras(tmp_path):
    image = np.array([[-1.0, 0.0], [0.5, 1.0]])  # 2D: grey
    keras.utils.save_img(tmp_path / "a.png", image)
    decoded = decode_png((tmp_path / "a.png").read_bytes())[..., 0]
    np.testing.assert_array_equal(decoded, [[0, 127], [191, 255]])  # (x - min) / max * 255
    keras.utils.save_img(tmp_path / "b.png", np.array([[[7.9, -3.0, 300.0]]]), scale=False)
    assert decode_png((tmp_path / "b.png").read_bytes()).tolist() == [[[7, 0, 255]]]
    chw = np.arange(12, dtype="float32").reshape(3, 2, 2)
    keras.utils.save_img(tmp_path / "c.png", chw, data_format="channels_first")
    assert decode_png((tmp_path / "c.png").read_bytes()).shape == (2, 2, 3)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="PNG files only"):
        keras.utils.save_img(tmp_path / "a.jpg", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Received: shape=\(2, 2, 2, 2\)"):
        keras.utils.save_img(tmp_path / "a.png", np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="data_format"):
        keras.utils.save_img(tmp_path / "a.png", np.zeros((2, 2)), data_format="nhwc")
    with pytest.raises(TypeError, match="uint8"):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="channels"):
        encode_png(np.zeros((2, 2, 5), np.uint8))
