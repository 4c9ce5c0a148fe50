"""Weight initializers (the ones layers need by default; the catalogue issue adds the rest).

Each is a callable `initializer(shape, dtype=None)` returning a numpy array, seedable, with
a `get_config`, and resolvable by name through `get`.
"""

from __future__ import annotations

import math

import numpy as np

from backend import random as engine_random
from backend.dtypes import standardize_dtype


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns an array; `get_config()` its args."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


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


def compute_fans(shape) -> tuple:
    """Keras' fan_in and fan_out: the last two dims, times the receptive field for kernels
    of rank > 2 (a Conv2D kernel `(kh, kw, in, out)` has fan_in `kh*kw*in`)."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class _Seeded(Initializer):
    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, engine_random.SeedGenerator)):
            raise ValueError(
                f"`seed` must be an int, a SeedGenerator or None. Received: seed={seed!r}"
            )
        self.seed = seed

    def get_config(self) -> dict:
        return {"seed": self.seed if isinstance(self.seed, int) or self.seed is None else None}


class GlorotUniform(_Seeded):
    """Uniform in `[-limit, limit]` with `limit = sqrt(6 / (fan_in + fan_out))`.

    Example:
        >>> w = GlorotUniform(seed=1)((100, 50))
        >>> bool(abs(w).max() <= (6 / 150) ** 0.5)
        True
    """

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return engine_random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed).numpy()


class GlorotNormal(_Seeded):
    """Truncated normal with `stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796`."""

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        stddev = math.sqrt(2.0 / max(1.0, fan_in + fan_out)) / 0.87962566103423978
        return engine_random.truncated_normal(
            shape, 0.0, stddev, dtype=dtype, seed=self.seed
        ).numpy()


_CLASSES = {
    "Zeros": Zeros,
    "Ones": Ones,
    "GlorotUniform": GlorotUniform,
    "GlorotNormal": GlorotNormal,
}
_ALIASES = {
    "zeros": Zeros,
    "ones": Ones,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
}


def serialize(initializer) -> dict:
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def get(identifier):
    """An initializer from a name (`"glorot_uniform"`), a config dict, an instance, a callable
    or None (None stays None)."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown initializer: {identifier!r}. Known: {sorted(_ALIASES)}")
        return cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown initializer config: {identifier!r}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer. Received: {identifier!r}")
