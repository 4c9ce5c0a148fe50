"""Random ops, with `keras.random`'s names, arguments and defaults.

Every draw is a primitive op with no gradient whose `forward` draws at run time from
`np.random.default_rng(key)`; the key comes from the op's seed source (an int, a
`SeedGenerator`, or None for the global one), as `backend.seeds` describes, the same
numbers eager and compiled.

`dropout` and `shuffle` are composites: an input times a random mask, and `take` with a
random permutation, so gradients flow to their inputs.
"""

from __future__ import annotations

import numpy as np

from . import config
from . import dtypes as dt
from .ops.base import Op, apply, convert
from .ops.elementwise import cast, divide, multiply
from .ops.indexing import take
from .seeds import (  # noqa: F401  (SeedGenerator and the seeding functions are public here)
    SeedGenerator,
    _bind_seed,
    _is_int,
    _rng,
    _seed_source,
    global_seed_generator,
    set_random_seed,
)
from .tensor import Spec, current_trace, is_building_graph, symbolic_scope

__all__ = [
    "SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical",
    "dropout", "shuffle", "set_random_seed",
]  # fmt: skip


# ---- samplers: (rng, shape, dtype, **params) -> array ------------------------------------


def _work_dtype(dtype: np.dtype):
    # numpy samples float32 and float64 natively; float16 is drawn as float32 and rounded.
    return dtype if dtype in (np.float32, np.float64) else np.float32


def _sample_normal(rng, shape, dtype, *, mean, stddev):
    z = rng.standard_normal(shape, dtype=_work_dtype(dtype))
    return (z * stddev + mean).astype(dtype)


def _sample_truncated_normal(rng, shape, dtype, *, mean, stddev):
    z = rng.standard_normal(shape, dtype=_work_dtype(dtype))
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()), dtype=z.dtype)
        outside = np.abs(z) > 2.0
    return (z * stddev + mean).astype(dtype)


def _sample_uniform(rng, shape, dtype, *, minval, maxval):
    u = rng.random(shape, dtype=_work_dtype(dtype))
    out = np.asarray(minval + (maxval - minval) * u).astype(dtype)
    if maxval > minval:
        # Rounding to `dtype` can reach maxval; keep the interval half-open.
        top = np.nextafter(dtype.type(maxval), dtype.type(minval))
        np.minimum(out, top, out=out)
    return out


def _sample_randint(rng, shape, dtype, *, minval, maxval):
    return rng.integers(minval, maxval, size=shape, dtype=dtype)


def _bernoulli_into(rng, out, *, p):
    """`out` (a C-contiguous float32 or float64 array) = independent 0/1 draws, 1 with
    probability p: one vectorized kernel pass keyed by a 64-bit draw of `rng`."""
    from .kernels import random as krandom  # imports Numba: only when a mask is drawn

    key = int(rng.integers(0, 2**64, dtype=np.uint64))
    krandom.bernoulli(key, float(p), out.reshape(-1))


def _sample_bernoulli(rng, shape, dtype, *, p):
    out = np.empty(shape, _work_dtype(dtype))
    _bernoulli_into(rng, out, p=p)
    return out.astype(dtype, copy=False)


def _resolve_shape(shape: tuple, like_shape) -> tuple:
    """`shape` with None entries taken from the same positions of `like_shape`."""
    if like_shape is None:
        return shape
    return tuple(known if d is None else d for d, known in zip(shape, like_shape, strict=True))


def _concrete(shape: tuple, op_name: str) -> tuple:
    if any(d is None for d in shape):
        raise ValueError(
            f"{op_name}: cannot draw a shape with unknown dims. Received: shape={shape}. "
            "Pass concrete sizes (`ops.shape(x)[0]` is concrete when the code runs)."
        )
    return shape


class _Draw(Op):
    """Base of the random ops: no gradient, and a generator seed bound to the trace."""

    differentiable = False

    def traced_attrs(self, attrs, trace):
        return _bind_seed(attrs, trace)


class RandomOp(_Draw):
    """A draw of `shape` from a distribution, keyed by the seed source at run time.

    The op takes no input, or one input (`like`) whose runtime shape fills the None entries
    of `shape` (dims unknown while tracing); no gradient reaches that input.
    """

    def __init__(self, name, sampler, sampler_into=None):
        self.name = name
        self._sampler = sampler
        self._sampler_into = sampler_into  # (rng, out, **params): a draw written into out

    def infer(self, *like, shape, dtype, seed, **params):
        return Spec(_resolve_shape(shape, like[0].shape if like else None), dtype)

    def forward(self, ctx, *like, shape, dtype, seed, **params):
        shape = _concrete(_resolve_shape(shape, like[0].shape if like else None), self.name)
        return self._sampler(_rng(seed), shape, np.dtype(dtype), **params)

    def forward_into(self, *arrays, shape, dtype, seed, **params) -> None:
        """The draw written into the preallocated `arrays[-1]` (for compiled Plans), the
        same numbers as `forward`."""
        *like, out = arrays
        fits = out.dtype == np.dtype(dtype) and out.dtype in (np.float32, np.float64)
        if self._sampler_into is not None and fits and out.flags.c_contiguous:
            self._sampler_into(_rng(seed), out, **params)
            return
        np.copyto(out, self.forward(None, *like, shape=shape, dtype=dtype, seed=seed, **params))


class PermutationOp(_Draw):
    """A random permutation (int32) of `range(n)`, `n` the runtime size of `x` on `axis`."""

    name = "random_permutation"

    def infer(self, x, *, axis, seed):
        return Spec((x.shape[axis],), "int32")

    def forward(self, ctx, x, *, axis, seed):
        return _rng(seed).permutation(x.shape[axis]).astype(np.int32)


class CategoricalOp(_Draw):
    """`num_samples` class indices per row of `logits` (batch, classes), each drawn with
    probability `softmax(logits)` of its row: one uniform draw per sample, located in the
    row's cumulative probabilities (computed in float64)."""

    name = "random_categorical"

    def infer(self, logits, *, num_samples, dtype, seed):
        if len(logits.shape) != 2:
            raise ValueError(
                "categorical: `logits` must have shape (batch_size, num_classes). "
                f"Received: logits.shape={logits.shape}"
            )
        return Spec((logits.shape[0], num_samples), dtype)

    def forward(self, ctx, logits, *, num_samples, dtype, seed):
        z = logits.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]
        u = _rng(seed).random((z.shape[0], num_samples))
        out = np.empty((z.shape[0], num_samples), dtype=dtype)
        for row in range(z.shape[0]):
            out[row] = np.searchsorted(cdf[row], u[row], side="right")
        np.minimum(out, z.shape[1] - 1, out=out)  # u below 1 but the cdf's last entry is 1
        return out


_NORMAL = RandomOp("random_normal", _sample_normal)
_TRUNCATED_NORMAL = RandomOp("random_truncated_normal", _sample_truncated_normal)
_UNIFORM = RandomOp("random_uniform", _sample_uniform)
_RANDINT = RandomOp("random_randint", _sample_randint)
_BERNOULLI = RandomOp("random_bernoulli", _sample_bernoulli, _bernoulli_into)
_PERMUTATION = PermutationOp()
_CATEGORICAL = CategoricalOp()


# ---- argument checks ---------------------------------------------------------------------


def _check_shape(shape, op_name: str) -> tuple:
    if _is_int(shape):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"{op_name}: `shape` must be a tuple of ints. Received: shape={shape!r}"
        ) from None
    for d in dims:
        if d is None and is_building_graph() and current_trace() is None:
            continue  # a layer called on an `Input` (whose batch dim is None)
        if not _is_int(d) or d < 0:
            raise ValueError(
                f"{op_name}: `shape` must be a tuple of ints >= 0. Received: shape={shape!r}"
            )
    return tuple(None if d is None else int(d) for d in dims)


def _check_dtype(dtype, op_name: str, kind: str) -> str:
    dtype = dt.standardize_dtype(dtype)
    ok = dt.is_float(dtype) if kind == "float" else dt.is_int(dtype)
    if not ok:
        raise TypeError(f"{op_name}: `dtype` must be a {kind} dtype. Received: dtype={dtype!r}")
    return dtype


def _check_number(value, name: str, op_name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{op_name}: `{name}` must be a Python number. Received: {name}={value!r}"
        ) from None


# ---- public functions ----------------------------------------------------------------------


def _draw(op, op_name, shape, dtype, seed, **params):
    attrs = {"shape": _check_shape(shape, op_name), "dtype": dtype}
    attrs = {**attrs, "seed": _seed_source(seed, op_name), **params}
    if any(d is None for d in attrs["shape"]):
        # Unknown dims (`ops.shape(x)[0]` of an `Input`): a node of the graph being built,
        # drawn when that graph runs with known sizes.
        with symbolic_scope():
            return apply(op, (), attrs)
    return apply(op, (), attrs)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution (floatx unless `dtype` is given).

    Example:
        >>> import kerasish as keras
        >>> keras.random.normal((2, 3), seed=1).shape
        (2, 3)
    """
    return _draw(
        _NORMAL,
        "normal",
        shape,
        _check_dtype(dtype, "normal", "float"),
        seed,
        mean=_check_number(mean, "mean", "normal"),
        stddev=_check_number(stddev, "stddev", "normal"),
    )


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution, redrawing values more than 2 `stddev` from `mean`.

    Example:
        >>> import kerasish as keras
        >>> x = keras.random.truncated_normal((1000,), stddev=0.5, seed=1).numpy()
        >>> bool(abs(x).max() <= 1.0)
        True
    """
    return _draw(
        _TRUNCATED_NORMAL,
        "truncated_normal",
        shape,
        _check_dtype(dtype, "truncated_normal", "float"),
        seed,
        mean=_check_number(mean, "mean", "truncated_normal"),
        stddev=_check_number(stddev, "stddev", "truncated_normal"),
    )


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws uniformly from `[minval, maxval)` (floatx unless `dtype` is given).

    Example:
        >>> import kerasish as keras
        >>> x = keras.random.uniform((100,), minval=-1.0, maxval=1.0, seed=1).numpy()
        >>> bool((x >= -1).all() and (x < 1).all())
        True
    """
    return _draw(
        _UNIFORM,
        "uniform",
        shape,
        _check_dtype(dtype, "uniform", "float"),
        seed,
        minval=_check_number(minval, "minval", "uniform"),
        maxval=_check_number(maxval, "maxval", "uniform"),
    )


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Draws integers uniformly from `[minval, maxval)`.

    Example:
        >>> import kerasish as keras
        >>> x = keras.random.randint((100,), 0, 3, seed=1).numpy()
        >>> sorted(set(x.tolist()))
        [0, 1, 2]
    """
    dtype = _check_dtype("int32" if dtype is None else dtype, "randint", "int")
    bounds = []
    for name, value in (("minval", minval), ("maxval", maxval)):
        if not _is_int(value):
            raise TypeError(f"randint: `{name}` must be an int. Received: {name}={value!r}")
        bounds.append(int(value))
    minval, maxval = bounds
    info = np.iinfo(dtype)
    if not info.min <= minval < maxval <= info.max + 1:
        raise ValueError(
            f"randint: need minval < maxval, both within the range of {dtype}. "
            f"Received: minval={minval}, maxval={maxval}"
        )
    return _draw(_RANDINT, "randint", shape, dtype, seed, minval=minval, maxval=maxval)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Draws `num_samples` class indices per row of `logits` (shape `(batch, classes)`),
    class `j` of a row with probability `softmax(logits)[j]`; returns `(batch, num_samples)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> logits = np.array([[-30.0, 30.0, -30.0], [0.0, 0.0, 0.0]])
        >>> samples = keras.random.categorical(logits, 4, seed=1).numpy()
        >>> samples.shape, samples[0].tolist()
        ((2, 4), [1, 1, 1, 1])
    """
    if not _is_int(num_samples) or num_samples < 0:
        raise ValueError(
            f"categorical: `num_samples` must be an int >= 0. Received: num_samples={num_samples!r}"
        )
    dtype = _check_dtype("int32" if dtype is None else dtype, "categorical", "int")
    logits = convert(logits)
    if not dt.is_float(logits.dtype):
        logits = cast(logits, config.floatx())
    attrs = {"num_samples": int(num_samples), "dtype": dtype}
    return apply(_CATEGORICAL, (logits,), {**attrs, "seed": _seed_source(seed, "categorical")})


def _noise_shape(noise_shape, input_shape: tuple) -> tuple:
    """`noise_shape` checked against the input's shape; None entries stay None (the mask op
    takes them from the input at run time)."""
    if noise_shape is None:
        return (None,) * len(input_shape)
    dims = (noise_shape,) if _is_int(noise_shape) else tuple(noise_shape)
    valid = len(dims) == len(input_shape) and all(
        d is None
        or (_is_int(d) and d in (1, n))
        or (n is None and _is_int(d) and d > 0)  # checked at run time
        for d, n in zip(dims, input_shape, strict=False)
    )
    if not valid:
        raise ValueError(
            f"dropout: `noise_shape` must have one entry per input dim, each None, 1 or that "
            f"dim (inputs shape {input_shape}). Received: noise_shape={noise_shape!r}"
        )
    return tuple(None if d is None else int(d) for d in dims)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout: zeroes each entry with probability `rate` and scales the kept ones
    by `1 / (1 - rate)`. `noise_shape` (None entries: the input's dim) shares one draw
    along its dims of size 1.

    Example:
        >>> import kerasish as keras
        >>> y = keras.random.dropout(keras.ops.ones((2, 4)), rate=0.5, seed=1).numpy()
        >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    try:
        keep = 1.0 - float(rate)
    except (TypeError, ValueError):
        keep = None
    if keep is None or not 0.0 < keep <= 1.0:
        raise ValueError(f"dropout: `rate` must be a float in [0, 1). Received: rate={rate!r}")
    inputs = convert(inputs)
    if not dt.is_float(inputs.dtype):
        inputs = cast(inputs, config.floatx())
    attrs = {
        "shape": _noise_shape(noise_shape, tuple(inputs.shape)),
        "dtype": inputs.dtype,
        "seed": _seed_source(seed, "dropout"),
        "p": keep,
    }
    # The mask takes `inputs` only for its runtime shape; it carries no gradient.
    mask = apply(_BERNOULLI, (inputs,), attrs)
    return multiply(inputs, divide(mask, keep))


def shuffle(x, axis=0, seed=None):
    """Shuffles `x` along `axis` (one random permutation of that axis).

    Example:
        >>> import kerasish as keras
        >>> x = keras.random.shuffle(keras.ops.arange(5), seed=1).numpy()
        >>> sorted(x.tolist())
        [0, 1, 2, 3, 4]
    """
    x = convert(x)
    ndim = len(x.shape)
    if not _is_int(axis) or not -ndim <= axis < ndim:
        raise ValueError(
            f"shuffle: `axis` must be an int in [-{ndim}, {ndim}) for inputs of shape "
            f"{tuple(x.shape)}. Received: axis={axis!r}"
        )
    axis = int(axis) % ndim
    perm = apply(_PERMUTATION, (x,), {"axis": axis, "seed": _seed_source(seed, "shuffle")})
    return take(x, perm, axis=axis)
