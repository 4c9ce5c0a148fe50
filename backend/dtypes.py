"""dtype names and Keras' promotion rules.

dtypes are plain strings ("float32", "int32", "bool"), as in Keras. Python scalars are
*weak*: `x + 2.0` keeps a float32 tensor float32, `int_tensor + 0.5` becomes floatx.
Mixed strong types follow Keras (and JAX): an int and a float give the float, two floats
give the wider, two ints follow numpy.
"""

from __future__ import annotations

import numpy as np

from . import config

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
# Keras' name for text data. Only symbolic model inputs carry it: text goes through layers
# that compute with numpy before the traced graph (TextVectorization, StringLookup), and no
# op accepts it.
STRING = "string"

_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32"}


def standardize_dtype(dtype, allow_string: bool = False) -> str:
    """Returns the canonical string name of `dtype` (None means floatx). `"string"` (or `str`)
    is accepted only with `allow_string`: a symbolic model input may hold text, no op does."""
    if dtype is None:
        return config.floatx()
    if dtype is float:
        return config.floatx()
    if dtype is int:
        return "int32"
    if dtype is bool:
        return "bool"
    if dtype is str or (isinstance(dtype, str) and dtype in (STRING, "str")):
        if allow_string:
            return STRING
        raise TypeError(
            "Strings are not tensor data: turn text into numbers first (TextVectorization or "
            f"StringLookup). Received: dtype={dtype!r}"
        )
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype)
    else:
        name = getattr(dtype, "name", None)
        if name is None:
            try:
                name = np.dtype(dtype).name
            except TypeError:
                raise TypeError(f"Unknown dtype. Received: dtype={dtype!r}") from None
    if name not in ALL_DTYPES:
        raise TypeError(
            f"Unsupported dtype; expected one of {ALL_DTYPES}. Received: dtype={dtype!r}"
        )
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


def _promote_pair(a: str, b: str) -> str:
    if a == b:
        return a
    if a == "bool":
        return b
    if b == "bool":
        return a
    if is_float(a) and is_float(b):
        return a if FLOAT_DTYPES.index(a) > FLOAT_DTYPES.index(b) else b
    if is_float(a):
        return a
    if is_float(b):
        return b
    return standardize_dtype(np.promote_types(a, b))


def result_type(*dtypes) -> str:
    """The dtype of an elementwise result. Entries are dtype strings (strong) or the
    Python types `bool`, `int`, `float` standing for Python scalars (weak)."""
    strong = [d for d in dtypes if isinstance(d, str)]
    weak = {d for d in dtypes if d in (bool, int, float)}
    if strong:
        out = strong[0]
        for d in strong[1:]:
            out = _promote_pair(out, d)
        if float in weak and not is_float(out):
            return config.floatx()
        if int in weak and out == "bool":
            return "int32"
        return out
    if float in weak:
        return config.floatx()
    if int in weak:
        return "int32"
    return "bool"


def weak_type_of(value):
    """`bool`/`int`/`float` for a Python scalar (a weak type), else None. A numpy float64
    scalar (a `float` subclass) counts as weak here too, so `x * np.sqrt(2.0)` keeps `x`'s
    float32; converted on its own it keeps its dtype (`to_array`)."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    return None


def to_array(x, dtype=None) -> np.ndarray:
    """`x` as a numpy array: Python floats become floatx, Python ints int32, numpy arrays
    and numpy scalars keep their dtype, unless `dtype` is given."""
    if dtype is not None:
        dtype = standardize_dtype(dtype)
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise TypeError(f"Cannot convert {type(x).__name__} to a tensor: {err}") from None
    if dtype is None:
        kind = array.dtype.kind
        from_python = isinstance(x, (int, float, list, tuple)) and not isinstance(x, np.generic)
        if kind == "f" and from_python:
            dtype = config.floatx()  # Python floats and lists of them -> floatx
        elif kind in "iu" and from_python:
            dtype = "int32"  # Python ints -> int32, as Keras
        elif kind in "fiub":
            dtype = array.dtype.name
        else:
            raise TypeError(
                f"Cannot convert a value of dtype {array.dtype} to a tensor. Received: "
                f"{type(x).__name__}"
            )
    return np.asarray(array, dtype=dtype)
