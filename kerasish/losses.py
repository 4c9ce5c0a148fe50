"""Losses: pure functions of `(y_true, y_pred)` giving per-sample values, and `Loss` classes.

A loss class is a thin wrapper over its function; `Loss.__call__` does the rest once:
conversion, the rank fix-up of `y_true`, sample weights, masks and the reduction. Every
step is written with ops, so a loss works eagerly and inside a traced training step.

Example:
    >>> import kerasish as keras
    >>> loss = keras.losses.MeanSquaredError()
    >>> float(loss([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
"""

from __future__ import annotations

import math

from backend import dtypes as dt
from backend import ops

REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    """The reduction name (None means `"none"`); anything else is a ValueError."""
    if reduction is None:
        return "none"
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
            f"Received: reduction={reduction!r}"
        )
    return reduction


# ---- shared helpers ----------------------------------------------------------------------


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Makes ranks equal when they differ by one and the larger has a trailing 1, as Keras:
    `(n,)` against `(n, 1)` becomes `(n, 1)` and `(n, 1)`; `(n, t)` against `(n, t, 1)`
    squeezes the latter."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, -1)
    return x1, x2


def _check_same_shape(loss_name: str, y_true, y_pred) -> None:
    a, b = tuple(y_true.shape), tuple(y_pred.shape)
    same = len(a) == len(b) and all(
        p is None or q is None or p == q for p, q in zip(a, b, strict=True)
    )
    if not same:
        raise ValueError(
            f"{loss_name}: `y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={a}, y_pred.shape={b}"
        )


def _as_float(x, dtype=None):
    x = ops.convert_to_tensor(x)
    if dtype is not None:
        return ops.cast(x, dtype)
    return x if dt.is_float(x.dtype) else ops.cast(x, dt.config.floatx())


def _prepare(loss_name: str, y_true, y_pred):
    """`y_pred` as a float tensor, `y_true` cast to its dtype, ranks fixed, shapes checked."""
    y_pred = _as_float(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_same_shape(loss_name, y_true, y_pred)
    return y_true, y_pred


def _count(x):
    """The number of elements of `x` as a Python float when its shape is known."""
    if any(d is None for d in x.shape):
        return None
    return float(math.prod(x.shape))


def _divide_no_nan(a, b):
    """`a / b`, and 0 where `b == 0`."""
    zero = ops.equal(b, 0.0)
    return ops.where(zero, 0.0, ops.divide(a, ops.where(zero, 1.0, b)))


def apply_mask(sample_weight, mask, dtype, reduction: str):
    """Merges a boolean `mask` of valid entries into `sample_weight`. For the mean
    reductions the valid entries are scaled by `total / valid`, so the mean is over them."""
    if mask is None:
        return sample_weight
    mask = ops.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        total = _count(mask)
        if total is None:
            total = ops.sum(ops.ones_like(mask))
        mask = ops.multiply(mask, _divide_no_nan(total, ops.sum(mask)))
    if sample_weight is None:
        return mask
    sample_weight = ops.cast(sample_weight, dtype)
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    return ops.multiply(sample_weight, mask)


def reduce_values(values, sample_weight=None, reduction: str = "sum_over_batch_size"):
    """Reduces (already weighted) per-sample `values`: `"none"` keeps them, `"sum"` adds
    them, the mean reductions divide the sum by the element count (or, for
    `"mean_with_sample_weight"`, by the sum of the weights)."""
    if reduction == "none" or tuple(values.shape) in ((), (0,)):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(total, ops.sum(ops.cast(sample_weight, total.dtype)))
    count = _count(values)
    if count is None:
        return ops.mean(values)
    return ops.divide(total, count) if count else ops.multiply(total, 0.0)


def reduce_weighted_values(
    values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None
):
    """Weights `values` by `sample_weight` (broadcast from the left: `(n,)` weights per-sample
    losses of shape `(n, t)`), merges `mask`, and reduces."""
    reduction = standardize_reduction(reduction)
    values = _as_float(values, dtype)
    sample_weight = apply_mask(
        None if sample_weight is None else _as_float(sample_weight, values.dtype),
        mask,
        values.dtype,
        reduction,
    )
    if sample_weight is not None:
        sample_weight = ops.cast(sample_weight, values.dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        extra = len(values.shape) - len(sample_weight.shape)
        if extra > 0:
            sample_weight = ops.reshape(sample_weight, tuple(sample_weight.shape) + (1,) * extra)
        values = ops.multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


# ---- loss functions ------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    """Mean of `(y_true - y_pred) ** 2` over the last axis.

    Example:
        >>> import kerasish as keras
        >>> keras.losses.mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy().tolist()
        [1.0]
    """
    y_true, y_pred = _prepare("mean_squared_error", y_true, y_pred)
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over `axis` of the elementwise binary crossentropy; labels are smoothed towards
    0.5 by `label_smoothing`.

    Example:
        >>> import kerasish as keras
        >>> round(float(keras.losses.binary_crossentropy([[1.0]], [[0.0]],
        ...       from_logits=True)[0]), 4)
        0.6931
    """
    y_true, y_pred = _prepare("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Crossentropy between one-hot `y_true` and `y_pred` over the class axis `axis`;
    labels are smoothed towards uniform by `label_smoothing`.

    Example:
        >>> import kerasish as keras
        >>> round(float(keras.losses.categorical_crossentropy([[0.0, 1.0]],
        ...       [[0.5, 0.5]])[0]), 4)
        0.6931
    """
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be an int. Received: axis={axis}")
    y_pred = _as_float(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        num_classes = y_true.shape[axis]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / num_classes)
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Crossentropy between integer labels `y_true` and `y_pred` over the class axis.
    `y_true` has `y_pred`'s shape without the class axis (a trailing size-1 dim is
    dropped). Entries labelled `ignore_class` give 0 and carry a mask, so the reduction in
    `Loss.__call__` averages over the others only.

    Example:
        >>> import kerasish as keras
        >>> round(float(keras.losses.sparse_categorical_crossentropy([1],
        ...       [[0.5, 0.5]])[0]), 4)
        0.6931
    """
    y_pred = _as_float(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    if not dt.is_int(y_true.dtype):
        y_true = ops.cast(y_true, "int32")
    valid = None
    if ignore_class is not None:
        valid = ops.not_equal(y_true, int(ignore_class))
        y_true = ops.where(valid, y_true, 0)  # a label in range, whose loss is dropped below
        if not dt.is_int(y_true.dtype):
            y_true = ops.cast(y_true, "int32")
    result = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        result = ops.where(valid, result, 0.0)
        result._mask = valid
    return result


# ---- classes -------------------------------------------------------------------------------


class Loss:
    """Base of the losses: `__call__(y_true, y_pred, sample_weight=None)` computes the
    per-sample losses with `call`, weights them and reduces them (`reduction`:
    `"sum_over_batch_size"`, `"sum"`, `"none"`/None, `"mean"`,
    `"mean_with_sample_weight"`). A subclass implements only `call`.

    `dtype` is the computation dtype; when None, `y_pred`'s float dtype (floatx for ints).

    Example:
        >>> import kerasish as keras
        >>> from kerasish import ops
        >>> class Absolute(keras.losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ops.mean(ops.abs(y_pred - y_true), axis=-1)
        >>> float(Absolute()([[1.0], [3.0]], [[2.0], [2.0]]))
        1.0
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        from .layers.layer import to_snake_case

        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = None if dtype is None else dt.standardize_dtype(dtype)

    @property
    def dtype(self) -> str:
        return self._dtype or dt.config.floatx()

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_float(y_pred, self._dtype)
        y_true = ops.convert_to_tensor(y_true)
        if self._dtype is not None and dt.is_float(y_true.dtype):
            y_true = ops.cast(y_true, self._dtype)
        losses = self.call(y_true, y_pred)
        mask = getattr(losses, "_mask", None)
        return reduce_weighted_values(
            losses, sample_weight, mask=mask, reduction=self.reduction, dtype=y_pred.dtype
        )

    def call(self, y_true, y_pred):
        """The per-sample losses (not reduced)."""
        raise NotImplementedError(f"{type(self).__name__} must implement `call`.")

    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        if self._dtype is not None:
            config["dtype"] = self._dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A `Loss` over a function `fn(y_true, y_pred, **kwargs)` returning per-sample losses.

    Example:
        >>> import kerasish as keras
        >>> loss = keras.losses.LossFunctionWrapper(keras.losses.mean_squared_error)
        >>> float(loss([[0.0]], [[2.0]]))
        4.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)  # fmt: skip
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is LossFunctionWrapper:
            config["fn"] = serialize(self.fn)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is LossFunctionWrapper and "fn" in config:
            config["fn"] = get(config["fn"])
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors over the last axis, reduced over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy (probabilities, or logits with `from_logits=True`)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy",
                 dtype=None):  # fmt: skip
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)  # fmt: skip
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between one-hot labels and predictions over the class axis."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):  # fmt: skip
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)  # fmt: skip
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between integer labels and predictions over the class axis; labels
    equal to `ignore_class` are left out of the loss and of the mean."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None, axis=-1):  # fmt: skip
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)  # fmt: skip
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


# ---- resolution ----------------------------------------------------------------------------

_FUNCTIONS = {
    "mean_squared_error": mean_squared_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error, "bce": binary_crossentropy,
            "BCE": binary_crossentropy}  # fmt: skip
_CLASSES = {
    cls.__name__: cls
    for cls in (
        Loss,
        LossFunctionWrapper,
        MeanSquaredError,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
_REGISTRY: dict = {}


def register(cls):
    """Registers a custom Loss class (or function) for `get`/`deserialize` by its name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _known() -> dict:
    return {**_FUNCTIONS, **_ALIASES, **_CLASSES, **_REGISTRY}


def serialize(loss):
    """A Keras-3-style config dict: a class's config, or a built-in function by its full name
    (never a short alias such as "mse", which Keras cannot load)."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}  # fmt: skip
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}")
    return {"module": "keras.losses", "class_name": "function", "config": name,
            "registered_name": "function"}  # fmt: skip


def deserialize(config, custom_objects=None):
    """A loss from `serialize`'s dict (or a bare `{"class_name", "config"}`), or a name."""
    known = {**_known(), **(custom_objects or {})}
    if isinstance(config, str):
        return get(config) if not custom_objects or config not in custom_objects else known[config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret loss config: {config!r}")
    class_name = config["class_name"]
    inner = config.get("config", {})
    if class_name == "function":
        obj = known.get(inner)
        if obj is None:
            raise ValueError(f"Unknown loss function: {inner!r}. Known: {sorted(known)}")
        return obj
    cls = known.get(class_name)
    if cls is None:
        raise ValueError(f"Unknown loss class: {class_name!r}. Known: {sorted(known)}")
    return cls.from_config(dict(inner or {})) if isinstance(cls, type) else cls


def get(identifier):
    """A loss from a name (`"mse"`, `"mean_squared_error"`, `"MeanSquaredError"`), a config
    dict, a Loss instance, a callable or None (stays None). Function names give the
    function, as Keras; class names give an instance. See `resolve` for always a Loss.

    Example:
        >>> import kerasish as keras
        >>> keras.losses.get("mse").__name__, type(keras.losses.get("BinaryCrossentropy"))
        ('mean_squared_error', <class 'kerasish.losses.BinaryCrossentropy'>)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        known = _known()
        obj = known.get(identifier)
        if obj is None:
            raise ValueError(f"Unknown loss: {identifier!r}. Known: {sorted(known)}")
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret loss identifier. Received: {identifier!r}")
    return obj


def resolve(identifier, reduction="sum_over_batch_size"):
    """Like `get`, but always a `Loss` instance (a function is wrapped in a
    `LossFunctionWrapper` named after it), or None: what a trainer calls."""
    obj = get(identifier)
    if obj is None or isinstance(obj, Loss):
        return obj
    return LossFunctionWrapper(obj, reduction=reduction)


__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "LossFunctionWrapper",
    "MeanSquaredError", "SparseCategoricalCrossentropy", "binary_crossentropy",
    "categorical_crossentropy", "deserialize", "get", "mean_squared_error", "register",
    "resolve", "serialize", "sparse_categorical_crossentropy",
]  # fmt: skip

# Keras exposes the short aliases as module attributes too (`keras.losses.mse`).
mse = MSE = mean_squared_error
bce = BCE = binary_crossentropy
