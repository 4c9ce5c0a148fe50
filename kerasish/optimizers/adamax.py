"""Adamax: Adam with the infinity norm."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax, as Keras 3. With `t = iterations + 1`: `m += (g - m) * (1 - beta_1)`,
    `u = max(beta_2 * u, |g|)`, `w -= lr * m / ((1 - beta_1**t) * (u + epsilon))`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> _ = keras.optimizers.Adamax(learning_rate=0.1).apply_gradients([(np.array([2.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # the first step moves by about lr
        0.9
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
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
        self.beta_1 = check_float("Adamax", "beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_float("Adamax", "beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_float("Adamax", "epsilon", epsilon, 0)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        local_step = ops.cast(ops.add(self.iterations, 1), dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
        index = self._get_variable_index(variable)
        m, u = self._m[index], self._u[index]
        m.assign_add(ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        u.assign(ops.maximum(ops.multiply(self.beta_2, u), ops.abs(gradient)))
        variable.assign_sub(ops.divide(ops.multiply(lr, m),
                                       ops.multiply(ops.subtract(1.0, beta_1_power),
                                                    ops.add(u, self.epsilon))))  # fmt: skip

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}  # fmt: skip
