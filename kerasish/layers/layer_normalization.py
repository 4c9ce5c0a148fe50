"""LayerNormalization and UnitNormalization, with Keras 3's arguments, weights and configs.

LayerNormalization runs `ops.layer_normalization`: over trailing axes (the usual `axis=-1`)
the fused primitive and its fused gradient, over other axes Keras' formula as a composite.
Both layers keep a given `axis` as given in their config (Keras rewrites an int into a
one-element list once built).
"""

from __future__ import annotations

import warnings

from backend import ops

from .layer import Layer
from .normalization import add_affine_weights, affine_config, check_epsilon, set_affine_args


def _check_axis(owner: str, axis):
    """`axis` as an int or a list of ints (Keras keeps the kind it was given)."""
    if isinstance(axis, (list, tuple)):
        axis = list(axis)
        if not axis or any(isinstance(a, bool) or not isinstance(a, int) for a in axis):
            raise TypeError(f"{owner}: `axis` must be an int or a list of ints. Received: "
                            f"axis={axis!r}")  # fmt: skip
        return axis
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(
            f"{owner}: `axis` must be an int or a list of ints. Received: axis={axis!r}"
        )
    return axis


def _resolve_axes(layer, input_shape) -> tuple:
    """The layer's axes as sorted non-negative ints for `input_shape`, each of known size."""
    rank = len(input_shape)
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': axis {a} is out of bounds for an input "
                f"of rank {rank}. Received: axis={layer.axis}, input_shape={tuple(input_shape)}"
            )
    resolved = tuple(sorted({a % rank for a in axes}))
    if len(resolved) != len(axes):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': repeated axis. Received: "
                         f"axis={layer.axis}")  # fmt: skip
    return resolved


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` to mean 0 and variance 1 (the biased variance),
    then scales by `gamma` and shifts by `beta`, both shaped as the normalized dims:
    `(x - mean) / sqrt(var + epsilon) * gamma + beta`. The same in training and inference.
    Weights: `gamma` (when `scale` or `rms_scaling`), then `beta` (when `center` and not
    `rms_scaling`). `rms_scaling=True` is Keras' deprecated mode, kept for its configs:
    `x / sqrt(var + epsilon) * gamma` (scaled by the variance, not centered; a warning says
    so, as Keras). float16 inputs are normalized in float32.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.LayerNormalization(epsilon=0.0)
        >>> layer(np.array([[1.0, 3.0], [2.0, 6.0]])).numpy().tolist()
        [[-1.0, 1.0], [-1.0, 1.0]]
        >>> [w.name for w in layer.weights], layer.gamma.shape
        (['gamma', 'beta'], (2,))
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "LayerNormalization"
        self.axis = _check_axis(owner, axis)
        self.epsilon = check_epsilon(owner, epsilon)
        if rms_scaling:
            warnings.warn(
                "LayerNormalization: rms_scaling=True is deprecated (as in Keras): it scales "
                "the input by its variance, not its root mean square.",
                stacklevel=2,
            )
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint)  # fmt: skip
        self.supports_masking = True

    def build(self, input_shape):
        axes = _resolve_axes(self, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(
                f"LayerNormalization '{self.name}': the normalized axes {list(axes)} must have "
                f"known sizes. Received: input_shape={tuple(input_shape)}"
            )
        add_affine_weights(self, shape, self.scale or self.rms_scaling,
                           self.center and not self.rms_scaling)  # fmt: skip
        self._rank, self._axes, self._shape = len(input_shape), axes, shape

    def call(self, inputs):
        got = tuple(inputs.shape)
        if len(got) != self._rank or any(
            got[a] not in (None, n) for a, n in zip(self._axes, self._shape, strict=True)
        ):
            raise ValueError(
                f"LayerNormalization '{self.name}' was built for inputs of rank {self._rank} "
                f"with sizes {self._shape} on axes {list(self._axes)}. Received: input shape {got}"
            )
        return ops.layer_normalization(
            inputs,
            self.gamma,
            self.beta,
            axis=self._axes,
            epsilon=self.epsilon,
            rms_scaling=self.rms_scaling,
        )

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            **affine_config(self),
        }


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis` (an int or a list):
    `x / sqrt(maximum(sum(x ** 2), 1e-24))`, Keras' `ops.normalize(x, axis, order=2,
    epsilon=1e-12)`. No weights.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.UnitNormalization()(np.array([[3.0, 4.0]])).numpy().tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis("UnitNormalization", axis)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        axes = _resolve_axes(self, tuple(inputs.shape))
        return ops.normalize(inputs, axis=axes, order=2, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
