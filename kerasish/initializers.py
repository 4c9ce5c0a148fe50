"""Weight initializers with Keras 3's names, defaults, fan computations and configs.

Each is a callable `initializer(shape, dtype=None)` returning a numpy array (a Variable
takes it as its initial value). Random ones take `seed`: an int (the same values on every
call, as Keras), a `SeedGenerator` (new values on each call), or None, which draws an int
seed from the global generator when the initializer is made, so `set_random_seed` makes a
model's initial weights reproducible and one instance repeats its values, as in Keras.

Example:
    >>> import kerasish as keras
    >>> init = keras.initializers.get("he_normal")
    >>> init((3, 4)).shape
    (3, 4)
    >>> keras.initializers.serialize(keras.initializers.Constant(0.5))["config"]
    {'value': 0.5}
"""

from __future__ import annotations

import math

import numpy as np

from backend import random as engine_random
from backend.dtypes import standardize_dtype
from backend.variables import set_initializer_resolver

from .saving.object_registry import Family, UnknownIdentifierError


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns an array; `get_config()` its args."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"{type(self).__name__}: Initializer subclasses must implement `__call__`."
        )

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---- constant initializers -----------------------------------------------------------------


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2,)).tolist()
        [0.0, 0.0]
    """

    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), dtype=standardize_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2,), dtype="int32").tolist()
        [1, 1]
    """

    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), dtype=standardize_dtype(dtype))


class Constant(Initializer):
    """Every entry `value` (a scalar, or an array broadcastable to the shape).

    Example:
        >>> Constant(0.5)((2,)).tolist()
        [0.5, 0.5]
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = standardize_dtype(dtype)
        return np.broadcast_to(np.asarray(self.value, dtype=dtype), tuple(shape)).copy()

    def get_config(self) -> dict:
        value = self.value
        if isinstance(value, np.ndarray | np.generic):
            value = value.tolist()
        return {"value": value}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only; non-square gives `eye(n, m)`).

    Example:
        >>> Identity(gain=2.0)((2, 3)).tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = standardize_dtype(dtype)
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self) -> dict:
        # Keras 3.15 writes {} here and so loses `gain` on reload; we keep it.
        return {"gain": self.gain}


# ---- random initializers -------------------------------------------------------------------


def _serialize_seed(seed):
    if isinstance(seed, engine_random.SeedGenerator):
        return {"module": "keras.random", "class_name": "SeedGenerator",
                "config": seed.get_config(), "registered_name": None}  # fmt: skip
    return seed


class RandomInitializer(Initializer):
    """Base of the random initializers: keeps the seed (see the module docstring)."""

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = engine_random.SeedGenerator().seed  # an int from the global generator
        elif isinstance(seed, dict):
            seed = engine_random.SeedGenerator.from_config(seed.get("config", seed))
            self._init_seed = seed
        elif isinstance(seed, bool) or not isinstance(
            seed, int | np.integer | engine_random.SeedGenerator
        ):
            raise ValueError(
                f"{type(self).__name__}: `seed` must be an int, a SeedGenerator or None. "
                f"Received: seed={seed!r}"
            )
        self.seed = seed

    def get_config(self) -> dict:
        return {"seed": _serialize_seed(self._init_seed)}


def _check_stddev(cls_name, stddev):
    if not isinstance(stddev, int | float) or stddev < 0:
        raise ValueError(f"{cls_name}: `stddev` must be a float >= 0. Received: stddev={stddev!r}")


class RandomNormal(RandomInitializer):
    """Draws from `N(mean, stddev**2)`.

    Example:
        >>> RandomNormal(stddev=1.0, seed=1)((2, 2)).shape
        (2, 2)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        _check_stddev("RandomNormal", stddev)
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return engine_random.normal(
            shape, mean=self.mean, stddev=self.stddev, dtype=dtype, seed=self.seed
        ).numpy()

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Draws from `N(mean, stddev**2)`, redrawing values more than two `stddev` away."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        _check_stddev("TruncatedNormal", stddev)
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return engine_random.truncated_normal(
            shape, mean=self.mean, stddev=self.stddev, dtype=dtype, seed=self.seed
        ).numpy()

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Draws uniformly from `[minval, maxval)`."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return engine_random.uniform(
            shape, minval=self.minval, maxval=self.maxval, dtype=dtype, seed=self.seed
        ).numpy()

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple:
    """Keras' `(fan_in, fan_out)`: the last two dims, times the receptive field for kernels
    of rank > 2 (a Conv2D kernel `(kh, kw, in, out)` has fan_in `kh*kw*in`); or the products
    of the dims on `input_axes` and `output_axes` when both are given.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[axis] for axis in input_axes)
        fan_out = math.prod(shape[axis] for axis in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive = math.prod(shape[:-2])
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
# The stddev of a unit normal truncated to [-2, 2]: dividing by it restores the variance.
_TRUNCATED_STDDEV = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Samples with variance `scale / n`, `n` the fan-in, fan-out or their mean (`mode`),
    from a truncated normal (stddev corrected for the truncation), an untruncated normal,
    or a uniform in `±sqrt(3 * scale / n)` (`distribution`; `"normal"` is truncated).

    Example:
        >>> w = VarianceScaling(scale=2.0, distribution="uniform", seed=1)((100, 50))
        >>> bool(abs(w).max() <= (3 * 2.0 / 100) ** 0.5)
        True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):  # fmt: skip
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"Invalid `mode` argument: expected one of {_MODES}. "
                             f"Received: mode={mode!r}")  # fmt: skip
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: expected one of {_DISTRIBUTIONS} or "
                f"'normal'. Received: distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        scale = self.scale / max(1.0, n[self.mode])
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
            draw = engine_random.truncated_normal(shape, 0.0, stddev, dtype=dtype, seed=self.seed)
        elif self.distribution == "untruncated_normal":
            draw = engine_random.normal(shape, 0.0, math.sqrt(scale), dtype=dtype, seed=self.seed)
        else:
            limit = math.sqrt(3.0 * scale)
            draw = engine_random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)
        return draw.numpy()

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}  # fmt: skip


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset (Glorot, He, Lecun): its config is only the seed and axes."""

    _preset: tuple = ()  # (scale, mode, distribution)

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._preset
        super().__init__(scale, mode, distribution, seed=seed, input_axes=input_axes,
                         output_axes=output_axes)  # fmt: skip

    def get_config(self) -> dict:
        return {"seed": _serialize_seed(self._init_seed), "input_axes": self.input_axes,
                "output_axes": self.output_axes}  # fmt: skip


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(6 / (fan_in + fan_out))`.

    Example:
        >>> w = GlorotUniform(seed=1)((100, 50))
        >>> bool(abs(w).max() <= (6 / 150) ** 0.5)
        True
    """

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with `stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796`."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(6 / fan_in)`."""

    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with `stddev = sqrt(2 / fan_in) / 0.8796`."""

    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(3 / fan_in)`."""

    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with `stddev = sqrt(1 / fan_in) / 0.8796`."""

    _preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """`gain` times a random orthogonal matrix (the Q of a normal draw's QR, signs fixed so
    it is uniformly distributed); shapes of rank > 2 are flattened to `(prod(shape[:-1]),
    shape[-1])`, whose rows or columns are orthonormal.

    Example:
        >>> import numpy as np
        >>> q = Orthogonal(seed=1)((4, 4))
        >>> bool(np.allclose(q @ q.T, np.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat_shape = (max(rows, cols), min(rows, cols))
        a = engine_random.normal(flat_shape, dtype=dtype, seed=self.seed).numpy()
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(a.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


# ---- resolution ----------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out += "_"
        out += ch.lower()
    return out


_CLASSES = {
    cls.__name__: cls
    for cls in (
        Initializer, Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform,
        TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal,
        LecunUniform, LecunNormal, Orthogonal,
    )
}  # fmt: skip
_ALIASES = {
    **{_snake_case(name): cls for name, cls in _CLASSES.items()},
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
}
_FAMILY = Family("initializer", "keras.initializers", _CLASSES, _ALIASES)
register = _FAMILY.register
deserialize = _FAMILY.deserialize


def serialize(initializer) -> dict:
    """Keras 3's dict: `{"module", "class_name", "config", "registered_name"}`."""
    if not isinstance(initializer, Initializer):
        raise ValueError(f"Cannot serialize initializer {initializer!r}: not an Initializer.")
    return _FAMILY.serialize(initializer)


def get(identifier):
    """An initializer from a name (`"glorot_uniform"`, `"GlorotUniform"`), a config dict, an
    instance, a class, a callable or an array (its value, for that shape); None stays None.

    Example:
        >>> type(get("he_normal")).__name__, get(None)
        ('HeNormal', None)
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if isinstance(identifier, np.ndarray | np.generic) or (
        hasattr(identifier, "numpy") and hasattr(identifier, "shape")
    ):
        value = np.asarray(identifier)

        def initialize_fn(shape, dtype=None):
            if tuple(shape) != value.shape:
                raise ValueError(
                    f"Expected `shape` to be {value.shape} for direct tensor as initializer. "
                    f"Received shape={tuple(shape)}"
                )
            return value.astype(standardize_dtype(dtype))

        return initialize_fn
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise UnknownIdentifierError(
        f"Could not interpret initializer identifier: {identifier!r}", identifier
    )


# `Variable("glorot_uniform", shape=...)` resolves names through this module.
set_initializer_resolver(get)

__all__ = [*_CLASSES, "compute_fans", "deserialize", "get", "register", "serialize"]
