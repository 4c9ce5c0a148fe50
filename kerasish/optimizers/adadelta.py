"""Adadelta."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta, as Keras 3: `a = rho * a + (1 - rho) * g**2`,
    `delta = -sqrt(d + epsilon) * g / sqrt(a + epsilon)`,
    `d = rho * d + (1 - rho) * delta**2`, `w += lr * delta`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> _ = keras.optimizers.Adadelta(learning_rate=1.0).apply_gradients([(np.array([1.0]), w)])
        >>> float(w.numpy()[0]) < 1.0
        True
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
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
        self.rho = check_float("Adadelta", "rho", rho, 0, 1)
        self.epsilon = check_float("Adadelta", "epsilon", epsilon, 0)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            variables, ["accumulated_grad", "accumulated_delta_var"]
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        grads_sq, deltas_sq = self._accumulated_grads[index], self._accumulated_delta_vars[index]
        rho = self.rho

        def rms(x):
            return ops.sqrt(ops.add(x, self.epsilon))

        grads_sq.assign(ops.add(ops.multiply(rho, grads_sq),
                                ops.multiply(1 - rho, ops.square(gradient))))  # fmt: skip
        delta = ops.negative(ops.divide(ops.multiply(rms(deltas_sq), gradient), rms(grads_sq)))
        deltas_sq.assign(ops.add(ops.multiply(rho, deltas_sq),
                                 ops.multiply(1 - rho, ops.square(delta))))  # fmt: skip
        variable.assign_add(ops.multiply(lr, delta))

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
