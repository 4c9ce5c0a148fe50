"""Metrics: stateful accumulators whose state lives in non-trainable Variables.

`update_state` and `result` are written with ops and `Variable.assign_add`, so a metric
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

from . import losses as losses_module
from .losses import squeeze_or_expand_to_same_rank


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
        from .layers.layer import to_snake_case

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
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
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
                fn = _FUNCTIONS.get(fn) or losses_module.get(fn)
            config["fn"] = fn
        return cls(**config)


# ---- per-sample functions ----------------------------------------------------------------


def _float_pair(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    if not dt.is_float(y_pred.dtype):
        y_pred = ops.cast(y_pred, dt.config.floatx())
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred`, else 0.0 (elementwise)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    return ops.cast(ops.equal(y_true, y_pred), dt.config.floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `(y_pred > threshold) == y_true`, else 0.0 (elementwise)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    predicted = ops.cast(ops.greater(y_pred, threshold), y_true.dtype)
    return ops.cast(ops.equal(y_true, predicted), dt.config.floatx())


def _argmax_matches(labels, y_pred):
    """1.0 where `argmax(y_pred, -1) == labels` (a trailing size-1 dim of the labels is
    squeezed for the comparison and restored in the result)."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.convert_to_tensor(labels)
    original_shape = tuple(labels.shape)
    reshape = len(labels.shape) == len(y_pred.shape) and labels.shape[-1] == 1
    if reshape:
        labels = ops.squeeze(labels, -1)
    predicted = ops.argmax(y_pred, axis=-1)
    if predicted.dtype != labels.dtype:
        predicted = ops.cast(predicted, labels.dtype)
    matches = ops.cast(ops.equal(labels, predicted), dt.config.floatx())
    return ops.reshape(matches, original_shape) if reshape else matches


def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true, -1) == argmax(y_pred, -1)`, per sample."""
    return _argmax_matches(ops.argmax(ops.convert_to_tensor(y_true), axis=-1), y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals `argmax(y_pred, -1)`, per sample."""
    return _argmax_matches(y_true, y_pred)


# ---- classes -------------------------------------------------------------------------------


class Accuracy(MeanMetricWrapper):
    """How often `y_pred` equals `y_true` exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches the binary label.

    Example:
        >>> import kerasish as keras
        >>> float(keras.metrics.BinaryAccuracy()([[1.0], [0.0]], [[0.7], [0.6]]))
        0.5
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of `y_pred` is the argmax of one-hot `y_true`."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of `y_pred` is the integer label.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.SparseCategoricalAccuracy()
        >>> float(m([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]]))
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of the per-sample mean squared errors."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses_module.mean_squared_error, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary crossentropy."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):  # fmt: skip
        super().__init__(losses_module.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)  # fmt: skip


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean categorical crossentropy."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):  # fmt: skip
        super().__init__(losses_module.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)  # fmt: skip


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean sparse categorical crossentropy."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):  # fmt: skip
        super().__init__(losses_module.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)  # fmt: skip


# ---- resolution ----------------------------------------------------------------------------

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
        SparseCategoricalAccuracy, MeanSquaredError, BinaryCrossentropy,
        CategoricalCrossentropy, SparseCategoricalCrossentropy,
    )
}  # fmt: skip
# Names that give a metric class (Keras' `get` turns a function name into the function; a
# trainer wants a Metric, so here a name gives the class of the same meaning).
_NAMES = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_FUNCTIONS = {
    "accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
}
_REGISTRY: dict = {}


def register(cls):
    """Registers a custom Metric class for `get`/`deserialize` by its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def serialize(metric) -> dict:
    return {"module": "keras.metrics", "class_name": type(metric).__name__,
            "config": metric.get_config(), "registered_name": None}  # fmt: skip


def deserialize(config: dict, custom_objects=None):
    """A metric from `serialize`'s dict (or a bare `{"class_name", "config"}`)."""
    classes = {**_CLASSES, **_REGISTRY, **(custom_objects or {})}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret metric config: {config!r}")
    cls = classes.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Unknown metric class: {config['class_name']!r}. Known: {sorted(classes)}"
        )
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A Metric from a name (`"mse"`, `"binary_accuracy"`, `"SparseCategoricalAccuracy"`), a
    config dict, a Metric instance (returned as is), a function `fn(y_true, y_pred)`
    (wrapped in a MeanMetricWrapper) or None. `"accuracy"`/`"acc"` given to `compile` are
    resolved from the shapes by `get_compile_metric`; here `"accuracy"` is `Accuracy`.

    Example:
        >>> import kerasish as keras
        >>> keras.metrics.get("mse").name
        'mse'
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier) or _REGISTRY.get(identifier)
        if cls is None:
            known = sorted({*_NAMES, *_CLASSES, *_REGISTRY})
            raise ValueError(f"Unknown metric: {identifier!r}. Known: {known}")
        return cls(name=identifier) if identifier in _NAMES else cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier. Received: {identifier!r}")


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else tuple(x)


def resolve_accuracy(name, y_true_shape, y_pred_shape):
    """The accuracy Keras picks for `"accuracy"`/`"acc"` (kept as the metric's name): an
    output whose last dim is 1 gets BinaryAccuracy; targets of lower rank than the output,
    or a trailing 1 against several classes, SparseCategoricalAccuracy; otherwise
    CategoricalAccuracy. Shapes may be tuples or anything with `.shape`.

    Example:
        >>> import kerasish as keras
        >>> type(keras.metrics.resolve_accuracy("acc", (32,), (32, 10))).__name__
        'SparseCategoricalAccuracy'
    """
    return _by_shape(name, y_true_shape, y_pred_shape, _ACCURACIES)


def _by_shape(name, y_true_shape, y_pred_shape, family):
    true_shape, pred_shape = _shape(y_true_shape), _shape(y_pred_shape)
    pred_last = pred_shape[-1] if pred_shape else 1
    true_last = true_shape[-1] if true_shape else 1
    if pred_last == 1:
        cls = family[0]
    elif len(true_shape) < len(pred_shape) or (true_last == 1 and pred_last != 1):
        cls = family[1]
    else:
        cls = family[2]
    return cls(name=name)


_ACCURACIES = (BinaryAccuracy, SparseCategoricalAccuracy, CategoricalAccuracy)
_CROSSENTROPIES = (BinaryCrossentropy, SparseCategoricalCrossentropy, CategoricalCrossentropy)


def get_compile_metric(identifier, y_true, y_pred):
    """What `compile(metrics=[...])` makes of `identifier` once the target and output
    shapes (tuples or tensors) are known: `"accuracy"`/`"acc"` and `"crossentropy"`/`"ce"`
    are chosen by shape (keeping the given name), anything else goes through `get`."""
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _by_shape(identifier, y_true, y_pred, _ACCURACIES)
        if identifier.lower() in ("crossentropy", "ce"):
            return _by_shape(identifier, y_true, y_pred, _CROSSENTROPIES)
    return get(identifier)


__all__ = [
    "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy",
    "CategoricalCrossentropy", "Mean", "MeanMetricWrapper", "MeanSquaredError", "Metric",
    "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy", "Sum", "accuracy",
    "binary_accuracy", "categorical_accuracy", "deserialize", "get", "get_compile_metric",
    "reduce_to_samplewise_values", "register", "resolve_accuracy", "serialize",
    "sparse_categorical_accuracy",
]  # fmt: skip
