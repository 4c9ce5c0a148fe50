"""Adagrad."""

from __future__ import annotations

import numpy as np

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad, as Keras 3: `a += g**2` (starting from `initial_accumulator_value`),
    `w -= lr * g / sqrt(a + epsilon)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> opt = keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0)
        >>> _ = opt.apply_gradients([(np.array([2.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 * 2 / sqrt(4)
        0.9
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)  # fmt: skip
        self.initial_accumulator_value = check_float(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, 0
        )
        self.epsilon = check_float("Adagrad", "epsilon", epsilon, 0)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        value = self.initial_accumulator_value
        self._accumulators = self.add_optimizer_variables(
            variables, "accumulator", initializer=lambda shape, dtype: np.full(shape, value, dtype)
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        accumulator.assign_add(ops.square(gradient))
        variable.assign_sub(ops.divide(ops.multiply(lr, gradient),
                                       ops.sqrt(ops.add(accumulator, self.epsilon))))  # fmt: skip

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value}  # fmt: skip
