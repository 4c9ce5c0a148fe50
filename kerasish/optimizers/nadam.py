"""Nadam: Adam with Nesterov momentum."""

from __future__ import annotations

import numpy as np

from backend import ops
from backend.variables import Variable

from .arguments import check_float
from .optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam, as Keras 3. With `t = iterations + 1` and the momentum schedule
    `u_t = beta_1 * (1 - 0.5 * 0.96**t)` (its running product `U_t` kept in a slot):
    `m += (g - m) * (1 - beta_1)`, `v += (g**2 - v) * (1 - beta_2)`,
    `m_hat = u_{t+1} * m / (1 - U_t * u_{t+1}) + (1 - u_t) * g / (1 - U_t)`,
    `v_hat = v / (1 - beta_2**t)`, `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0])
        >>> _ = keras.optimizers.Nadam(learning_rate=0.1).apply_gradients([(np.array([2.0]), w)])
        >>> float(w.numpy()[0]) < 0.95
        True
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
        self.beta_1 = check_float("Nadam", "beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_float("Nadam", "beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_float("Nadam", "epsilon", epsilon, 0)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )
        dtype = variables[0].dtype if variables else "float32"
        # Keras creates it unnamed, so its path is "<optimizer>/variable".
        self._u_product = self._track(
            Variable(np.ones((), dtype), dtype=dtype, trainable=False, name="variable")
        )

    def _momentum_cache(self, step, dtype):
        decay = ops.power(ops.cast(0.96, dtype), ops.cast(step, dtype))
        return ops.multiply(self.beta_1, ops.subtract(1.0, ops.multiply(0.5, decay)))

    def update_variables(self, grads, trainable_variables, learning_rate) -> None:
        dtype = self._u_product.dtype
        u_t = self._momentum_cache(ops.add(self.iterations, 1), dtype)
        self._u_product.assign(ops.multiply(self._u_product, u_t))
        super().update_variables(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        local_step = ops.add(self.iterations, 1)
        u_t = self._momentum_cache(local_step, dtype)
        u_t_1 = self._momentum_cache(ops.add(self.iterations, 2), dtype)
        u_product_t = ops.cast(self._u_product, dtype)
        u_product_t_1 = ops.multiply(u_product_t, u_t_1)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), ops.cast(local_step, dtype))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m.assign_add(ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        v.assign_add(ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        m_hat = ops.add(
            ops.divide(ops.multiply(u_t_1, m), ops.subtract(1.0, u_product_t_1)),
            ops.divide(ops.multiply(ops.subtract(1.0, u_t), gradient),
                       ops.subtract(1.0, u_product_t)),
        )  # fmt: skip
        v_hat = ops.divide(v, ops.subtract(1.0, beta_2_power))
        variable.assign_sub(ops.divide(ops.multiply(m_hat, lr),
                                       ops.add(ops.sqrt(v_hat), self.epsilon)))  # fmt: skip

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}  # fmt: skip
