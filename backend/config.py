"""Engine settings: floatx, epsilon, and (for Engine II) threads, JIT flags and the cache dir.

Everything that changes how the engine computes is read from here, never hard-coded at a
call site, so tests and users can change it in one place.
"""

from __future__ import annotations

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"

_ALLOWED_FLOATX = ("float16", "float32", "float64")


def floatx() -> str:
    """The default float dtype, as a string (`"float32"` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float dtype: one of `"float16"`, `"float32"`, `"float64"`."""
    global _FLOATX
    if value not in _ALLOWED_FLOATX:
        raise ValueError(f"Unknown floatx: expected one of {_ALLOWED_FLOATX}. Received: {value!r}")
    _FLOATX = str(value)


def epsilon() -> float:
    """The fuzz factor used to keep logs and divisions finite (1e-7 unless changed)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Always `"channels_last"`: the engine's layout is NHWC."""
    return _IMAGE_DATA_FORMAT
