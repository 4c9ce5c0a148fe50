"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent, as Keras 3. Without momentum `w -= lr * g`; with it
    `m = momentum * m - lr * g`, then `w += m` (or, with `nesterov=True`,
    `w += momentum * m - lr * g`).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> opt = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     _ = opt.apply_gradients([(np.array([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 - (0.09 + 0.1)
        0.71
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):  # fmt: skip
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)  # fmt: skip
        self.momentum = check_float("SGD", "momentum", momentum, 0, 1)
        self.nesterov = bool(nesterov)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.multiply(gradient, lr)
        if self.momentum == 0:
            variable.assign_sub(step)
            return
        m = self.momentums[self._get_variable_index(variable)]
        m.assign(ops.subtract(ops.multiply(m, self.momentum), step))
        if self.nesterov:
            variable.assign_add(ops.subtract(ops.multiply(m, self.momentum), step))
        else:
            variable.assign_add(m)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
