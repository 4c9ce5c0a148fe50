"""Learning-rate schedules: callables `schedule(step)` written with ops, so an optimizer
evaluates them on its `iterations` inside a traced training step.

Example:
    >>> import kerasish as keras
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(schedule(10)), 6)
    0.05
"""

from __future__ import annotations

import math

import numpy as np

from backend import ops


def _f32(value):
    # ops.cast, not convert_to_tensor, on a step: converting the optimizer's `iterations`
    # Variable inside a trace would freeze its value at trace time.
    if not hasattr(value, "dtype"):
        value = np.asarray(value)
    return ops.cast(value, "float32")


def _floor(x):
    return ops.floor_divide(x, 1.0)


def _ceil(x):
    return ops.negative(ops.floor_divide(ops.negative(x), 1.0))


# 1 / (2k)! for k = 0..9: cos's Taylor series on [0, pi/2] to below float32 precision.
_COS_COEFFICIENTS = [(-1) ** k / math.factorial(2 * k) for k in range(10)]


def _cos(x):
    """cos(x) from primitives (the engine has no cos): reduced to [0, pi/2], where the
    Taylor series through x**18 is exact to ~1e-13, and the sign restored."""
    x = ops.mod(x, 2 * math.pi)
    x = ops.where(ops.greater(x, math.pi), ops.subtract(2 * math.pi, x), x)  # cos(2pi - x)
    flip = ops.greater(x, math.pi / 2)
    x = ops.where(flip, ops.subtract(math.pi, x), x)  # cos(pi - x) = -cos(x)
    x2 = ops.square(x)
    total = ops.full_like(x, _COS_COEFFICIENTS[-1])
    for coefficient in reversed(_COS_COEFFICIENTS[:-1]):
        total = ops.add(ops.multiply(total, x2), coefficient)
    return ops.where(flip, ops.negative(total), total)


def _check_steps(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value <= 0:
        raise ValueError(f"{owner}: argument `{name}` must be > 0. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base of the schedules: `__call__(step)` returns the learning rate at `step`."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()`."
        )

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments and the decay
    progress `step / decay_steps` (floored with `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_steps(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        p = ops.divide(_f32(step), _f32(self.decay_steps))
        return _floor(p) if self.staircase else p

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}  # fmt: skip


class ExponentialDecay(_RateDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (the exponent floored
    with `staircase=True`).

    Example:
        >>> s = ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)
        >>> [float(s(k)) for k in (0, 1, 2, 3)]
        [1.0, 1.0, 0.5, 0.5]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):  # fmt: skip
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        rate = ops.power(_f32(self.decay_rate), self._progress(step))
        return ops.multiply(_f32(self.initial_learning_rate), rate)


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` up to and including `boundaries[0]`, `values[i]` for steps in
    `(boundaries[i-1], boundaries[i]]`, `values[-1]` after the last boundary.

    Example:
        >>> s = PiecewiseConstantDecay([10], [1.0, 0.5])
        >>> float(s(10)), float(s(11))
        (1.0, 0.5)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the "
                f"length of values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        if not hasattr(step, "dtype"):
            step = ops.convert_to_tensor(step)
        values = [_f32(v) for v in self.values]
        edges = [ops.cast(ops.convert_to_tensor(b), step.dtype) for b in self.boundaries]
        result = ops.multiply(ops.cast(ops.less_equal(step, edges[0]), "float32"), values[0])
        result = ops.add(result, ops.multiply(
            ops.cast(ops.greater(step, edges[-1]), "float32"), values[-1]))  # fmt: skip
        for low, high, value in zip(edges[:-1], edges[1:], values[1:-1], strict=True):
            inside = ops.logical_and(ops.greater(step, low), ops.less_equal(step, high))
            result = ops.add(result, ops.multiply(ops.cast(inside, "float32"), value))
        return result

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at
    `decay_steps`; with `cycle=True` `decay_steps` grows to the next multiple past `step`.

    Example:
        >>> s = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)
        >>> round(float(s(5)), 6), float(s(20))
        (0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):  # fmt: skip
        _check_steps("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        initial, end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        step = _f32(step)
        decay_steps = _f32(self.decay_steps)
        if self.cycle:
            multiplier = ops.where(ops.equal(step, 0.0), 1.0,
                                   _ceil(ops.divide(step, decay_steps)))  # fmt: skip
            decay_steps = ops.multiply(decay_steps, multiplier)
        else:
            step = ops.minimum(step, decay_steps)
        p = ops.divide(step, decay_steps)
        return ops.add(ops.multiply(ops.subtract(initial, end),
                                    ops.power(ops.subtract(1.0, p), _f32(self.power))),
                       end)  # fmt: skip

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}  # fmt: skip


class InverseTimeDecay(_RateDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (the ratio floored
    with `staircase=True`).

    Example:
        >>> s = InverseTimeDecay(1.0, decay_steps=1, decay_rate=1.0)
        >>> float(s(3))
        0.25
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):  # fmt: skip
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        denominator = ops.add(1.0, ops.multiply(_f32(self.decay_rate), self._progress(step)))
        return ops.divide(_f32(self.initial_learning_rate), denominator)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate to `alpha` times it over `decay_steps`:
    `lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)`.
    With `warmup_target`, first a linear warmup from `initial_learning_rate` to
    `warmup_target` over `warmup_steps`, then the decay from `warmup_target`.

    Example:
        >>> s = CosineDecay(1.0, decay_steps=10)
        >>> round(float(s(5)), 6), float(s(10))
        (0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):  # fmt: skip
        _check_steps("CosineDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, decay_from):
        angle = ops.multiply(math.pi, ops.divide(step, decay_steps))
        cosine = ops.multiply(0.5, ops.add(1.0, _cos(angle)))
        decayed = ops.add(ops.multiply(1 - self.alpha, cosine), self.alpha)
        return ops.multiply(decay_from, decayed)

    def __call__(self, step):
        initial = _f32(self.initial_learning_rate)
        decay_steps = _f32(self.decay_steps)
        step = _f32(step)
        if self.warmup_target is None:
            return self._decay(ops.minimum(step, decay_steps), decay_steps, initial)
        target, warmup_steps = _f32(self.warmup_target), _f32(self.warmup_steps)
        step = ops.minimum(step, ops.add(decay_steps, warmup_steps))
        fraction = ops.divide(step, ops.maximum(warmup_steps, 1.0))  # both branches run
        warming = ops.add(ops.multiply(ops.subtract(target, initial), fraction), initial)
        decaying = self._decay(ops.subtract(step, warmup_steps), decay_steps, target)
        return ops.where(ops.less(step, warmup_steps), warming, decaying)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}  # fmt: skip


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the i-th period lasts
    `first_decay_steps * t_mul**i` steps and starts from `initial_learning_rate * m_mul**i`.

    Example:
        >>> s = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0)
        >>> round(float(s(5)), 6), float(s(10))
        (0.5, 1.0)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):  # fmt: skip
        _check_steps("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = ops.divide(_f32(step), _f32(self.first_decay_steps))
        t_mul = _f32(self._t_mul)
        if self._t_mul == 1.0:
            restart = _floor(fraction)
            fraction = ops.subtract(fraction, restart)
        else:
            restart = _floor(ops.divide(
                ops.log(ops.subtract(1.0, ops.multiply(fraction, ops.subtract(1.0, t_mul)))),
                ops.log(t_mul)))  # fmt: skip
            done = ops.divide(ops.subtract(1.0, ops.power(t_mul, restart)),
                              ops.subtract(1.0, t_mul))  # fmt: skip
            fraction = ops.divide(ops.subtract(fraction, done), ops.power(t_mul, restart))
        m_factor = ops.power(_f32(self._m_mul), restart)
        cosine = ops.multiply(ops.multiply(0.5, m_factor),
                              ops.add(1.0, _cos(ops.multiply(math.pi, fraction))))  # fmt: skip
        decayed = ops.add(ops.multiply(1 - self.alpha, cosine), self.alpha)
        return ops.multiply(_f32(self.initial_learning_rate), decayed)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}  # fmt: skip


_SCHEDULES = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay,
    CosineDecayRestarts)}  # fmt: skip


def serialize(schedule) -> dict:
    """Keras' layout: `{"module", "class_name", "config", "registered_name"}`."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}  # fmt: skip


def deserialize(config, custom_objects=None) -> LearningRateSchedule:
    """A schedule from `serialize`'s dict (or a bare `{"class_name", "config"}`)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret learning rate schedule config: {config!r}")
    name = config["class_name"]
    known = {**_SCHEDULES, **(custom_objects or {})}
    if name not in known:
        raise ValueError(f"Unknown learning rate schedule: {name!r}. Known: {sorted(known)}")
    return known[name].from_config(dict(config.get("config") or {}))


__all__ = ["LearningRateSchedule", *_SCHEDULES, "deserialize", "serialize"]
