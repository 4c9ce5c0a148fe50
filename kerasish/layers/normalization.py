"""BatchNormalization and GroupNormalization, with Keras 3's arguments, weights and configs.

BatchNormalization normalizes with the batch's statistics in training and updates its moving
statistics (non-trainable weights) by `Variable.assign`, so a compiled train step updates
them too: `moving = moving * momentum + batch_stat * (1 - momentum)` (the batch variance is
the biased one, as Keras 3). In inference, and always when the layer is frozen
(`trainable=False`), it uses the moving statistics.
"""

from __future__ import annotations

from backend import ops
from backend.tensor import SymbolicTensor, current_trace, in_symbolic_scope

from .. import constraints, initializers, regularizers
from .arguments import check_bool
from .convolutional import serialize_or_none
from .layer import Layer


def _normalize_axis(owner: str, axis):
    if isinstance(axis, (list, tuple)):  # Keras 2 configs may write [3]
        if len(axis) != 1:
            raise ValueError(f"{owner}: `axis` must be a single int. Received: axis={axis!r}")
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"{owner}: `axis` must be an int. Received: axis={axis!r}")
    return int(axis)


def _resolve_axis(layer, axis: int, input_shape) -> int:
    rank = len(input_shape)
    if not -rank <= axis < rank:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {axis} is out of bounds for the input. "
            f"Received: axis={axis}, input_shape={tuple(input_shape)}"
        )
    axis = axis % rank
    if input_shape[axis] is None:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the normalized axis {axis} must have a "
            f"known size. Received: input_shape={tuple(input_shape)}"
        )
    return axis


def check_epsilon(owner: str, epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
        raise ValueError(f"{owner}: `epsilon` must be a float >= 0. Received: epsilon={epsilon!r}")
    return float(epsilon)


def _broadcast_shape(rank: int, axis: int, size: int) -> tuple:
    shape = [1] * rank
    shape[axis] = size
    return tuple(shape)


def set_affine_args(layer, beta_initializer, gamma_initializer, beta_regularizer,
                    gamma_regularizer, beta_constraint, gamma_constraint) -> None:  # fmt: skip
    """Stores the `gamma`/`beta` arguments the normalization layers share."""
    layer.beta_initializer = initializers.get(beta_initializer)
    layer.gamma_initializer = initializers.get(gamma_initializer)
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)
    layer.beta_constraint = constraints.get(beta_constraint)
    layer.gamma_constraint = constraints.get(gamma_constraint)


def add_affine_weights(layer, shape: tuple, scale: bool, center: bool) -> None:
    """Creates `layer.gamma` (when `scale`), then `layer.beta` (when `center`), of `shape`;
    None when absent."""
    layer.gamma = layer.beta = None
    if scale:
        layer.gamma = layer.add_weight(
            shape=shape,
            initializer=layer.gamma_initializer,
            regularizer=layer.gamma_regularizer,
            constraint=layer.gamma_constraint,
            name="gamma",
        )
    if center:
        layer.beta = layer.add_weight(
            shape=shape,
            initializer=layer.beta_initializer,
            regularizer=layer.beta_regularizer,
            constraint=layer.beta_constraint,
            name="beta",
        )


def affine_config(layer) -> dict:
    """The config entries of the `gamma`/`beta` arguments."""
    return {
        "beta_initializer": initializers.serialize(layer.beta_initializer),
        "gamma_initializer": initializers.serialize(layer.gamma_initializer),
        "beta_regularizer": serialize_or_none(regularizers, layer.beta_regularizer),
        "gamma_regularizer": serialize_or_none(regularizers, layer.gamma_regularizer),
        "beta_constraint": serialize_or_none(constraints, layer.beta_constraint),
        "gamma_constraint": serialize_or_none(constraints, layer.gamma_constraint),
    }


class BatchNormalization(Layer):
    """Normalizes each feature along `axis` to mean 0 and variance 1, then scales by `gamma`
    and shifts by `beta`. Weights: `gamma`, `beta` (when `scale`/`center`), then the
    non-trainable `moving_mean` and `moving_variance`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> bn = keras.layers.BatchNormalization()
        >>> y = bn(np.array([[1.0], [3.0]]), training=True)
        >>> [round(float(v), 4) for v in y.numpy().ravel()], round(float(bn.moving_mean[0]), 4)
        ([-0.9995, 0.9995], 0.02)
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        # Keys older (Keras 2) configs carry that change nothing here.
        for key in ("fused", "virtual_batch_size", "adjustment"):
            value = kwargs.pop(key, None)
            if key != "fused" and value is not None:
                raise ValueError(
                    f"BatchNormalization: `{key}` is not supported. Received: {key}={value!r}"
                )
        super().__init__(**kwargs)
        owner = "BatchNormalization"
        self.axis = _normalize_axis(owner, axis)
        if (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float))
            or not 0 <= momentum <= 1
        ):
            raise ValueError(
                f"{owner}: `momentum` must be a float in [0, 1]. Received: momentum={momentum!r}"
            )
        self.momentum = float(momentum)
        self.epsilon = check_epsilon(owner, epsilon)
        self.center = check_bool(owner, "center", center)
        self.scale = check_bool(owner, "scale", scale)
        if renorm:
            raise ValueError(
                f"{owner}: batch renormalization is not supported. Received: renorm=True"
            )
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.synchronized = bool(synchronized)  # one replica: nothing to synchronize
        set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint)  # fmt: skip
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        axis = _resolve_axis(self, self.axis, input_shape)
        shape = (input_shape[axis],)
        add_affine_weights(self, shape, self.scale, self.center)
        self.moving_mean = self.add_weight(
            shape=shape, initializer=self.moving_mean_initializer, trainable=False,
            name="moving_mean",
        )  # fmt: skip
        self.moving_variance = self.add_weight(
            shape=shape, initializer=self.moving_variance_initializer, trainable=False,
            name="moving_variance",
        )  # fmt: skip
        self._rank = len(input_shape)
        self._axis = axis
        self._size = input_shape[axis]

    def _check(self, inputs) -> None:
        shape = tuple(inputs.shape)
        if len(shape) != self._rank or shape[self._axis] not in (None, self._size):
            raise ValueError(
                f"BatchNormalization '{self.name}' was built for inputs of rank {self._rank} "
                f"with {self._size} features on axis {self._axis}. Received: input shape {shape}"
            )

    def call(self, inputs, training=None, mask=None):
        self._check(inputs)
        if training and self.trainable:
            return self._train(inputs, mask)
        if hasattr(ops, "batch_normalization"):
            return ops.batch_normalization(
                inputs,
                self.moving_mean,
                self.moving_variance,
                axis=self._axis,
                offset=self.beta,
                scale=self.gamma,
                epsilon=self.epsilon,
            )
        return self._normalize(inputs, self.moving_mean, self.moving_variance)

    def _normalize(self, inputs, mean, variance):
        """`(x - mean) * rsqrt(variance + eps) * gamma + beta`, broadcast along `axis`."""
        shape = _broadcast_shape(self._rank, self._axis, self._size)
        inv = ops.divide(1.0, ops.sqrt(ops.add(ops.reshape(variance, shape), self.epsilon)))
        if self.gamma is not None:
            inv = ops.multiply(inv, ops.reshape(self.gamma, shape))
        y = ops.multiply(ops.subtract(inputs, ops.reshape(mean, shape)), inv)
        if self.beta is not None:
            y = ops.add(y, ops.reshape(self.beta, shape))
        return y

    def _train(self, inputs, mask):
        axes = tuple(i for i in range(self._rank) if i != self._axis)
        if mask is not None:
            # As Keras: statistics over the unmasked entries only.
            weights = ops.cast(mask, inputs.dtype)
            while len(weights.shape) < self._rank:
                weights = ops.expand_dims(weights, -1)
            # Keras adds its epsilon (1e-7) to the count.
            count = ops.add(ops.sum(ops.multiply(ops.ones_like(inputs), weights), axis=axes), 1e-7)
            mean = ops.divide(ops.sum(ops.multiply(inputs, weights), axis=axes), count)
            shape = _broadcast_shape(self._rank, self._axis, self._size)
            centered = ops.subtract(inputs, ops.reshape(mean, shape))
            variance = ops.divide(
                ops.sum(ops.multiply(ops.square(centered), weights), axis=axes), count
            )
            y = self._normalize(inputs, mean, variance)
        elif hasattr(ops, "batch_norm_train"):
            y, mean, variance = ops.batch_norm_train(
                inputs, self.gamma, self.beta, axis=self._axis, epsilon=self.epsilon
            )
            # The op's vjp reads its outputs, which eager mode holds only weakly: keep the
            # statistics alive until the next call so a GradientTape can differentiate y.
            self._batch_statistics = (mean, variance)
        else:
            mean, variance = ops.moments(inputs, axes)
            y = self._normalize(inputs, mean, variance)
        self._update_moving(mean, variance)
        return y

    def _update_moving(self, mean, variance) -> None:
        symbolic = isinstance(mean, SymbolicTensor) or in_symbolic_scope()
        if symbolic and current_trace() is None:
            return  # building a functional graph: there is nothing to update yet
        m = self.momentum
        self.moving_mean.assign(
            ops.add(ops.multiply(self.moving_mean, m), ops.multiply(ops.stop_gradient(mean), 1 - m))
        )
        self.moving_variance.assign(
            ops.add(
                ops.multiply(self.moving_variance, m),
                ops.multiply(ops.stop_gradient(variance), 1 - m),
            )
        )

    def get_config(self) -> dict:
        affine = affine_config(self)
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            # Keras' key order: the moving statistics' initializers after gamma's.
            **dict(list(affine.items())[:2]),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            **dict(list(affine.items())[2:]),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


class GroupNormalization(Layer):
    """Splits the channels (`axis`) into `groups` and normalizes each sample's group to mean
    0 and variance 1, then scales by `gamma` and shifts by `beta` (per channel). The same in
    training and inference. Weights: `gamma`, then `beta`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.GroupNormalization(groups=2)
        >>> layer(np.random.rand(2, 5, 4)).shape, layer.gamma.shape
        ((2, 5, 4), (4,))
    """

    def __init__(
        self,
        groups=32,
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "GroupNormalization"
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(
                f"{owner}: `groups` must be a positive integer. Received: groups={groups!r}"
            )
        self.groups = groups
        self.axis = _normalize_axis(owner, axis)
        self.epsilon = check_epsilon(owner, epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint)  # fmt: skip
        self.supports_masking = True

    def build(self, input_shape):
        axis = _resolve_axis(self, self.axis, input_shape)
        if axis == 0:
            raise ValueError(
                f"GroupNormalization '{self.name}': cannot normalize over the batch axis. "
                f"Received: axis={self.axis}"
            )
        channels = input_shape[axis]
        if channels < self.groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': the number of groups ({self.groups}) cannot "
                f"be more than the number of channels ({channels}). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        if channels % self.groups != 0:
            raise ValueError(
                f"GroupNormalization '{self.name}': the number of channels ({channels}) must be "
                f"a multiple of the number of groups ({self.groups}). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        add_affine_weights(self, (channels,), self.scale, self.center)
        self._rank = len(input_shape)
        self._axis = axis
        self._channels = channels

    def call(self, inputs):
        shape = tuple(inputs.shape)
        if len(shape) != self._rank or shape[self._axis] not in (None, self._channels):
            raise ValueError(
                f"GroupNormalization '{self.name}' was built for inputs of rank {self._rank} "
                f"with {self._channels} channels on axis {self._axis}. Received: input shape "
                f"{shape}"
            )
        axis, groups = self._axis, self.groups
        # (..., C, ...) -> (..., groups, C // groups, ...); moments over all but batch & group.
        grouped_shape = [-1 if i == 0 else d for i, d in enumerate(shape)]
        if any(d is None for d in grouped_shape[1:]):
            raise ValueError(
                f"GroupNormalization '{self.name}': non-batch dims must be known. Received: "
                f"input shape {shape}"
            )
        grouped_shape[axis : axis + 1] = [groups, self._channels // groups]
        x = ops.reshape(inputs, tuple(grouped_shape))
        axes = tuple(i for i in range(1, self._rank + 1) if i != axis)
        mean, variance = ops.moments(x, axes, keepdims=True)
        x = ops.divide(ops.subtract(x, mean), ops.sqrt(ops.add(variance, self.epsilon)))
        x = ops.reshape(x, tuple(-1 if i == 0 else d for i, d in enumerate(shape)))
        param_shape = _broadcast_shape(self._rank, axis, self._channels)
        if self.gamma is not None:
            x = ops.multiply(x, ops.reshape(self.gamma, param_shape))
        if self.beta is not None:
            x = ops.add(x, ops.reshape(self.beta, param_shape))
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **affine_config(self),
        }
