"""Metrics: stateful accumulators whose state lives in non-trainable Variables.

`update_state` and `result` are written with ops and `Variable.assign*`, so a metric
updates inside a compiled training step as well as eagerly. `get` resolves names the way
Keras does (class names, their snake_case forms and the short aliases such as `"mse"`);
`get_compile_metric` picks `"accuracy"`/`"crossentropy"` from the output shapes.

Example:
    >>> import kerasish as keras
    >>> m = keras.metrics.Mean()
    >>> _ = m.update_state([1.0, 2.0]); _ = m.update_state([6.0])
    >>> float(m.result())
    3.0
"""

from __future__ import annotations

from ..layers.layer import to_snake_case
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from .f_score import F1Score, FBetaScore
from .probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from .reduction import (
    METRIC_FUNCTIONS,
    Mean,
    MeanMetricWrapper,
    Metric,
    Sum,
    reduce_to_samplewise_values,
)
from .regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
        SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
        MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError, RootMeanSquaredError, LogCoshError, CosineSimilarity,
        R2Score, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
        KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, TruePositives,
        TrueNegatives, FalsePositives, FalseNegatives, Precision, Recall, AUC, FBetaScore,
        F1Score,
    )
}  # fmt: skip
# Names that give a metric class: every class's snake_case name (as Keras) and Keras' short
# aliases. (Keras' `get` turns a function name into the function; a trainer wants a Metric,
# so here a name gives the class of the same meaning, named as asked.)
_NAMES = {
    **{to_snake_case(name): cls for name, cls in _CLASSES.items()
       if cls not in (Metric, MeanMetricWrapper)},
    "accuracy": Accuracy, "acc": Accuracy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "kld": KLDivergence, "KLD": KLDivergence, "kl_divergence": KLDivergence,
    "logcosh": LogCoshError, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
}  # fmt: skip
_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
        top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
    )
}  # fmt: skip
METRIC_FUNCTIONS.update(_FUNCTIONS)
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
    *_CLASSES,
    *_FUNCTIONS,
    "deserialize",
    "get",
    "get_compile_metric",
    "reduce_to_samplewise_values",
    "register",
    "resolve_accuracy",
    "serialize",
]
