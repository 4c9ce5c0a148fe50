"""The bundled 8x8 handwritten digits data set (UCI, CC BY 4.0); works offline."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

_DATA_PATH = Path(__file__).with_name("data") / "digits.csv.gz"
_NUM_SAMPLES = 1797
_NUM_TRAIN = 1500
_NUM_PIXELS = 64
_MAX_PIXEL = 16
_NUM_CLASSES = 10

# Parsed (images, labels) per file path, read-only; callers get copies.
_cache: dict[Path, tuple[np.ndarray, np.ndarray]] = {}


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the 8x8 handwritten digits data set bundled with kerasish.

    These are the 1797 samples of the test part of the UCI "Optical
    Recognition of Handwritten Digits" data set (E. Alpaydin and C. Kaynak,
    1998, CC BY 4.0). The split is fixed and deterministic: the first 1500
    samples are the training set, the remaining 297 the test set. Every class
    0..9 occurs in both. No network access is needed.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` are uint8 arrays of
        shape `(n, 8, 8)` with pixel values 0..16 (not 0..255); `y_*` are
        uint8 arrays of shape `(n,)` with labels 0..9. The arrays are fresh
        copies on every call.

    Raises:
        OSError: if the bundled file is missing, unreadable or malformed.

    Example:

    >>> from kerasish.datasets import digits
    >>> (x_train, y_train), (x_test, y_test) = digits.load_data()
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
    ((1500, 8, 8), (1500,), (297, 8, 8), (297,))
    >>> x_train.dtype, int(x_train.max()), sorted(set(y_test.tolist()))
    (dtype('uint8'), 16, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    path = Path(_DATA_PATH)
    if path not in _cache:
        _cache[path] = _read_digits(path)
    images, labels = _cache[path]
    x_train, x_test = images[:_NUM_TRAIN].copy(), images[_NUM_TRAIN:].copy()
    y_train, y_test = labels[:_NUM_TRAIN].copy(), labels[_NUM_TRAIN:].copy()
    return (x_train, y_train), (x_test, y_test)


def _read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parses and validates the gzip'd CSV into read-only (images, labels)."""
    try:
        with gzip.open(path, "rt", encoding="ascii") as file:
            text = file.read()
    except FileNotFoundError as error:
        raise OSError(
            f"The digits data file is missing: {path}. Reinstall kerasish to restore it."
        ) from error
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise OSError(
            f"The digits data file is corrupt or unreadable: {path} ({error}). "
            "Reinstall kerasish to restore it."
        ) from error

    lines = text.rstrip("\n").split("\n")
    if len(lines) != _NUM_SAMPLES:
        raise OSError(
            f"The digits data file {path} is corrupt: expected {_NUM_SAMPLES} rows. "
            f"Received: {len(lines)} rows."
        )

    rows = np.empty((_NUM_SAMPLES, _NUM_PIXELS + 1), dtype=np.int64)
    for index, line in enumerate(lines):
        fields = line.split(",")
        if len(fields) != _NUM_PIXELS + 1:
            raise _row_error(path, index, f"expected {_NUM_PIXELS + 1} fields", len(fields))
        try:
            rows[index] = [int(field) for field in fields]
        except ValueError:
            raise _row_error(path, index, "expected integer fields", line) from None
        pixels, label = rows[index, :_NUM_PIXELS], rows[index, _NUM_PIXELS]
        if pixels.min() < 0 or pixels.max() > _MAX_PIXEL:
            raise _row_error(path, index, f"expected pixels in 0..{_MAX_PIXEL}", line)
        if not 0 <= label < _NUM_CLASSES:
            raise _row_error(path, index, f"expected a label in 0..{_NUM_CLASSES - 1}", label)

    images = rows[:, :_NUM_PIXELS].astype(np.uint8).reshape(-1, 8, 8)
    labels = rows[:, _NUM_PIXELS].astype(np.uint8)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _row_error(path: Path, index: int, expectation: str, received: object) -> OSError:
    return OSError(
        f"The digits data file {path} is corrupt at row {index + 1}: {expectation}. "
        f"Received: {received!r}"
    )
