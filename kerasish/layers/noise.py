"""Noise layers: GaussianNoise, GaussianDropout. Both are the identity in inference and add
noise only when called with `training=True`."""

from __future__ import annotations

import math

from backend import random as engine_random
from backend.ops import add, multiply
from backend.ops import base as ops_base

from .layer import Layer


def _normal_like(inputs, mean: float, stddev: float, seed_generator):
    """A normal draw of `inputs`' runtime shape (its batch dim may be unknown while
    tracing). The layer's SeedGenerator keys each run, so a traced step draws fresh noise on
    every run; the draw carries no gradient."""
    attrs = {
        "shape": (None,) * len(inputs.shape),
        "dtype": inputs.dtype,
        "seed": seed_generator,
        "mean": float(mean),
        "stddev": float(stddev),
    }
    # engine_random.normal takes a static shape only; the op itself fills None dims from
    # its input, as the engine's dropout does.
    return ops_base.apply(engine_random._NORMAL, (inputs,), attrs)


def _check_seed(layer: str, seed) -> None:
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"{layer}: `seed` must be None or an int >= 0. Received: seed={seed!r}")


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` in training.

    Keras 3 limits `stddev` to [0, 1]; any `stddev >= 0` is accepted here (Keras 2
    configs may hold larger values).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.GaussianNoise(0.1, seed=1)
        >>> layer(np.ones(3)).numpy().tolist()  # inference: unchanged
        [1.0, 1.0, 1.0]
        >>> bool((layer(np.ones(3), training=True).numpy() != 1.0).all())
        True
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(
                f"GaussianNoise: `stddev` must be a number >= 0. Received: stddev={stddev!r}"
            )
        _check_seed("GaussianNoise", seed)
        self.stddev = stddev
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        if training and self.stddev > 0:
            return add(inputs, _normal_like(inputs, 0.0, self.stddev, self._seed_generator))
        return inputs

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies the inputs by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` in training.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.GaussianDropout(0.5)(np.ones(3)).numpy().tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"GaussianDropout: `rate` must be in [0, 1). Received: rate={rate!r}")
        _check_seed("GaussianDropout", seed)
        self.rate = rate
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return multiply(inputs, _normal_like(inputs, 1.0, stddev, self._seed_generator))
        return inputs

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
