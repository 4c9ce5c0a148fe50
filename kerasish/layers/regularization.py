"""ActivityRegularization: the identity, adding an L1/L2 penalty on its output as a loss."""

from __future__ import annotations

from backend import ops

from .layer import Layer


class ActivityRegularization(Layer):
    """Returns its input and `add_loss`es `(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`.

    The division by the batch size (the output's first dim) follows tf.keras 2 and Keras 3
    since keras-team/keras#22021 (Jan 2026; earlier Keras 3 releases did not divide), so the
    penalty's strength does not depend on the batch size; a scalar output is not divided.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.ActivityRegularization(l1=0.5)
        >>> _ = layer(np.ones((2, 3)))
        >>> float(layer.losses[0])  # 0.5 * 6 / 2
        1.5
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"ActivityRegularization: `{arg}` must be a number >= 0. "
                    f"Received: {arg}={value!r}"
                )
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        # sum(f(x)) / batch_size written as the sum of f's mean over the batch axis, which
        # holds when the batch size is unknown while tracing.
        def per_sample_sum(values):
            return ops.sum(ops.mean(values, axis=0)) if len(inputs.shape) else values

        penalty = ops.zeros((), dtype=inputs.dtype)
        if self.l1:
            penalty = ops.add(penalty, ops.multiply(self.l1, per_sample_sum(ops.abs(inputs))))
        if self.l2:
            penalty = ops.add(penalty, ops.multiply(self.l2, per_sample_sum(ops.square(inputs))))
        self.add_loss(penalty)
        return inputs

    def get_config(self) -> dict:
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
