"""Adam, with optional AMSGrad."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam, as Keras 3. With `t = iterations + 1`:
    `m += (g - m) * (1 - beta_1)`, `v += (g**2 - v) * (1 - beta_2)`,
    `w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`;
    with `amsgrad=True` the running maximum of `v` replaces `v` in the last step.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> _ = keras.optimizers.Adam(learning_rate=0.1).apply_gradients([(np.array([2.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # the first step moves by about lr
        0.9
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
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
        owner = type(self).__name__
        self.beta_1 = check_float(owner, "beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_float(owner, "beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_float(owner, "epsilon", epsilon, 0)
        self.amsgrad = bool(amsgrad)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        local_step = ops.cast(ops.add(self.iterations, 1), dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), local_step)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(ops.subtract(1.0, beta_2_power))),
                           ops.subtract(1.0, beta_1_power))  # fmt: skip
        m.assign_add(ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        v.assign_add(ops.multiply(ops.subtract(ops.square(gradient), v), 1.0 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_hat.assign(ops.maximum(v_hat, v))
            v = v_hat
        variable.assign_sub(ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}  # fmt: skip
