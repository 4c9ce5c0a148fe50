"""Lion: sign-based updates with two momentum rates."""

from __future__ import annotations

from backend import ops

from .arguments import check_float
from .optimizer import Optimizer


class Lion(Optimizer):
    """Lion, as Keras 3: `w -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then
    `m = beta_2 * m + (1 - beta_2) * g`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0, 1.0])
        >>> opt = keras.optimizers.Lion(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(np.array([3.0, -0.5]), w)])
        >>> [round(x, 4) for x in w.numpy().tolist()]
        [0.9, 1.1]
    """

    _elementwise_update = True  # runs over flat buffers in compiled steps

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
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
        self.beta_1 = check_float("Lion", "beta_1", beta_1, 0, 1)
        if self.beta_1 == 0:  # Keras: beta_1 = 0 degenerates to SignSGD
            raise ValueError(
                "Lion: `beta_1` must be in (0, 1]; otherwise the optimizer degenerates to "
                f"SignSGD. Received: beta_1={beta_1!r}"
            )
        self.beta_2 = check_float("Lion", "beta_2", beta_2, 0, 1)

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self._momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        direction = ops.add(ops.multiply(m, self.beta_1), ops.multiply(gradient, 1 - self.beta_1))
        variable.assign_sub(ops.multiply(lr, ops.sign(direction)))
        m.assign(ops.add(ops.multiply(m, self.beta_2), ops.multiply(gradient, 1 - self.beta_2)))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
