"""The metric base and the reducing metrics: Metric, Sum, Mean, MeanMetricWrapper.

`update_state` and `result` are written with ops and `Variable.assign*`, so a metric
updates inside a compiled training step as well as eagerly. A metric over a per-sample
function (accuracy, mean squared error) is a one-line `MeanMetricWrapper` subclass.

Example:
    >>> import kerasish as keras
    >>> m = keras.metrics.Mean()
    >>> _ = m.update_state([1.0, 2.0]); _ = m.update_state([6.0])
    >>> float(m.result())
    3.0
"""

from __future__ import annotations

import numpy as np

from backend import dtypes as dt
from backend import ops
from backend.variables import Variable

from .. import losses as losses_module
from ..losses import squeeze_or_expand_to_same_rank

# Per-sample metric functions by name, for `MeanMetricWrapper.from_config` (filled by the
# package's __init__; loss functions are found through `losses.get`).
METRIC_FUNCTIONS: dict = {}


def read(variable):
    """A Variable's current value as a tensor, also inside a traced step (where
    `convert_to_tensor` would capture the value it had when the step was traced)."""
    return ops.add(variable, 0.0)


def _divide_no_nan(a, b):
    zero = ops.equal(b, 0.0)
    return ops.where(zero, 0.0, ops.divide(a, ops.where(zero, 1.0, b)))


class Metric:
    """Base of the metrics: state Variables made with `add_variable` in `__init__`,
    `update_state(...)`, `result()`, `reset_state()` (zeros every variable).

    Example:
        >>> import kerasish as keras
        >>> from kerasish import ops
        >>> class Count(keras.metrics.Metric):
        ...     def __init__(self, name="count", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.n = self.add_variable((), "zeros", name="n")
        ...     def update_state(self, values):
        ...         self.n.assign_add(ops.cast(ops.shape(values)[0], self.dtype))
        ...     def result(self):
        ...         return ops.convert_to_tensor(self.n)
        >>> c = Count(); c.update_state([1, 2, 3]); float(c.result())
        3.0
    """

    def __init__(self, dtype=None, name=None):
        from ..layers.layer import to_snake_case

        self.name = name or to_snake_case(type(self).__name__)
        self._dtype = dt.standardize_dtype(dtype or dt.config.floatx())
        self._variables: list = []

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def variables(self) -> list:
        return list(self._variables)

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A non-trainable state Variable of this metric (path `<metric name>/<name>`)."""
        variable = Variable(initializer, shape=tuple(shape), dtype=dtype or self._dtype,
                            trainable=False, name=name)  # fmt: skip
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def reset_state(self) -> None:
        for v in self._variables:
            v.assign(np.zeros(v.shape, dtype=v.dtype))

    def __call__(self, *args, **kwargs):
        """Updates the state and returns the result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Keras' weighting of metric values: `values` reduced to the weights' rank, multiplied
    by them, then reduced to one value per sample; returns `(values, weights)`."""
    values = ops.cast(ops.convert_to_tensor(values), dtype)
    mask = getattr(values, "_mask", None)
    if sample_weight is not None:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
        if mask is not None:
            sample_weight = losses_module.apply_mask(sample_weight, mask, dtype, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = len(sample_weight.shape), len(values.shape)
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)))
        sample_weight = ops.broadcast_to(sample_weight, tuple(values.shape))
        values = ops.multiply(values, sample_weight)
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if len(values.shape) > 1:
        values = reduce_fn(values, axis=tuple(range(1, len(values.shape))))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, ops.sum, self.dtype)
        self.total.assign_add(ops.sum(values))

    def result(self):
        return ops.cast(self.total, self.dtype)


class Mean(Metric):
    """The (weighted) mean of the values seen: `total / count`, 0 before any update.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.Mean()
        >>> _ = m.update_state([1.0, 3.0], sample_weight=[1.0, 0.0])
        >>> float(m.result())
        1.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(
            values, sample_weight, ops.mean, self.dtype
        )
        self.total.assign_add(ops.sum(values))
        if sample_weight is not None:
            count = ops.sum(sample_weight)
        else:
            count = float(values.shape[0]) if len(values.shape) >= 1 else 1.0
        self.count.assign_add(ops.cast(count, self.dtype))

    def result(self):
        return _divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)`, a per-sample function.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.MeanMetricWrapper(keras.losses.mean_squared_error, name="mse")
        >>> _ = m.update_state([[0.0], [0.0]], [[1.0], [3.0]])
        >>> float(m.result())
        5.0
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"),
                         dtype=dtype)  # fmt: skip
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_mask", None)  # as Keras: masked entries weigh nothing
        try:
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        except ValueError as error:
            raise shape_error(self, y_true, y_pred, error) from error
        if mask is not None:
            sample_weight = losses_module.apply_mask(sample_weight, mask, self.dtype, "sum")
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:
            config["fn"] = losses_module.serialize(self._fn)["config"]
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is MeanMetricWrapper:
            fn = config.pop("fn")
            if isinstance(fn, str):
                fn = METRIC_FUNCTIONS.get(fn) or losses_module.get(fn)
            config["fn"] = fn
        return cls(**config)


def shape_error(metric, y_true, y_pred, detail=None) -> ValueError:
    """The error for inputs whose shapes do not fit `metric`."""
    shapes = [tuple(getattr(x, "shape", np.shape(x))) for x in (y_true, y_pred)]
    return ValueError(
        f"Metric {metric.name!r} ({type(metric).__name__}) cannot be computed for "
        f"y_true.shape={shapes[0]}, y_pred.shape={shapes[1]}" + (f": {detail}" if detail else "")
    )
