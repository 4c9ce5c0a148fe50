"""RMSprop, with optional momentum and centering."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, as Keras 3: `v = rho * v + (1 - rho) * g**2`; with `centered=True` also
    `a = rho * a + (1 - rho) * g` and the denominator `v - a**2 + epsilon`, else
    `v + epsilon`; `step = lr * g / sqrt(denominator)`; with `momentum > 0`
    `m = momentum * m + step` and `w -= m`, else `w -= step`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> _ = keras.optimizers.RMSprop(learning_rate=0.1).apply_gradients([(np.array([2.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 * 2 / sqrt(0.1 * 4)
        0.6838
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):  # fmt: skip
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)  # fmt: skip
        self.rho = check_float("RMSprop", "rho", rho, 0, 1)
        self.momentum = check_float("RMSprop", "momentum", momentum, 0, 1)
        self.epsilon = check_float("RMSprop", "epsilon", epsilon, 0)
        self.centered = bool(centered)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(variables, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(variables, "average_gradient")

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        rho = self.rho
        velocity = self._velocities[index]
        velocity.assign(ops.add(ops.multiply(rho, velocity),
                                ops.multiply(1 - rho, ops.square(gradient))))  # fmt: skip
        if self.centered:
            average = self._average_gradients[index]
            average.assign(ops.add(ops.multiply(rho, average), ops.multiply(1 - rho, gradient)))
            denominator = ops.add(ops.subtract(velocity, ops.square(average)), self.epsilon)
        else:
            denominator = ops.add(velocity, self.epsilon)
        increment = ops.divide(ops.multiply(lr, gradient), ops.sqrt(denominator))
        if self.momentum > 0:
            m = self._momentums[index]
            m.assign(ops.add(ops.multiply(self.momentum, m), increment))
            variable.assign_sub(m)
        else:
            variable.assign_sub(increment)

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}  # fmt: skip
