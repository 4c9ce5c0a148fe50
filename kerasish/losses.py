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

EPSILON = 1e-7  # Keras' backend.epsilon()
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


def mean_absolute_error(y_true, y_pred):
    """Mean of `abs(y_true - y_pred)` over the last axis.

    Example:
        >>> import kerasish as keras
        >>> keras.losses.mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy().tolist()
        [1.0]
    """
    y_true, y_pred = _prepare("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)))` over the last axis."""
    y_true, y_pred = _prepare("mean_absolute_percentage_error", y_true, y_pred)
    diff = ops.abs(ops.divide(ops.subtract(y_true, y_pred), ops.maximum(ops.abs(y_true), EPSILON)))
    return ops.multiply(ops.mean(diff, axis=-1), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Mean of `(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2` over the last
    axis."""
    y_true, y_pred = _prepare("mean_squared_logarithmic_error", y_true, y_pred)
    first = ops.log(ops.add(ops.maximum(y_pred, EPSILON), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, EPSILON), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def l2_normalize(x, axis=-1):
    """`x / norm(x)` along `axis`, as Keras: `x * min(rsqrt(sum(x**2)), 1 / eps)`."""
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    inv_norm = ops.minimum(ops.divide(1.0, ops.sqrt(square_sum)), 1.0 / EPSILON)
    return ops.multiply(x, inv_norm)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The negated cosine similarity along `axis`: -1 for parallel vectors (so that minimizing
    it aligns them), 0 when either is zero.

    Example:
        >>> import kerasish as keras
        >>> float(keras.losses.cosine_similarity([[0.0, 2.0]], [[0.0, 3.0]])[0])
        -1.0
    """
    y_true, y_pred = _prepare("cosine_similarity", y_true, y_pred)
    products = ops.multiply(l2_normalize(y_true, axis), l2_normalize(y_pred, axis))
    return ops.negative(ops.sum(products, axis=axis))


def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of `0.5 * e**2` where `|e| <= delta`, else
    `delta * |e| - 0.5 * delta**2` (`e = y_pred - y_true`)."""
    y_true, y_pred = _prepare("huber", y_true, y_pred)
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(ops.square(error), 0.5)
    linear = ops.subtract(ops.multiply(abs_error, delta), 0.5 * delta * delta)
    return ops.mean(ops.where(ops.less_equal(abs_error, delta), quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    """Mean of `log(cosh(y_pred - y_true))` over the last axis, computed stably as
    `x + softplus(-2x) - log(2)`."""
    y_true, y_pred = _prepare("log_cosh", y_true, y_pred)
    x = ops.subtract(y_pred, y_true)
    values = ops.subtract(ops.add(x, ops.softplus(ops.multiply(x, -2.0))), math.log(2.0))
    return ops.mean(values, axis=-1)


def _to_hinge_labels(y_true):
    """0/1 labels become -1/1 (when every label is 0 or 1, as Keras); others are kept."""
    is_binary = ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0))
    all_binary = ops.min(ops.cast(is_binary, y_true.dtype))
    return ops.where(ops.equal(all_binary, 1.0), ops.subtract(ops.multiply(y_true, 2.0), 1.0),
                     y_true)  # fmt: skip


def hinge(y_true, y_pred):
    """Mean of `max(1 - y_true * y_pred, 0)` over the last axis; 0/1 labels become -1/1."""
    y_true, y_pred = _prepare("hinge", y_true, y_pred)
    margin = ops.subtract(1.0, ops.multiply(_to_hinge_labels(y_true), y_pred))
    return ops.mean(ops.maximum(margin, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """Mean of `max(1 - y_true * y_pred, 0) ** 2` over the last axis; 0/1 labels become
    -1/1."""
    y_true, y_pred = _prepare("squared_hinge", y_true, y_pred)
    margin = ops.subtract(1.0, ops.multiply(_to_hinge_labels(y_true), y_pred))
    return ops.mean(ops.square(ops.maximum(margin, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """`max(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)` over the last axis."""
    y_true, y_pred = _prepare("categorical_hinge", y_true, y_pred)
    pos = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    neg = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(neg, pos), 1.0), 0.0)


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred))` over the last axis, both clipped to `[eps, 1]`."""
    y_true, y_pred = _prepare("kl_divergence", y_true, y_pred)
    y_true = ops.clip(y_true, EPSILON, 1.0)
    y_pred = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


def poisson(y_true, y_pred):
    """Mean of `y_pred - y_true * log(y_pred + eps)` over the last axis."""
    y_true, y_pred = _prepare("poisson", y_true, y_pred)
    values = ops.subtract(y_pred, ops.multiply(y_true, ops.log(ops.add(y_pred, EPSILON))))
    return ops.mean(values, axis=-1)


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


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):  # fmt: skip
    """Binary crossentropy scaled by `(1 - p_t) ** gamma` (p_t: the probability given to the
    true class) and, with `apply_class_balancing`, by `alpha` for class 1 and `1 - alpha`
    for class 0; mean over `axis`."""
    y_true, y_pred = _prepare("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = ops.add(ops.multiply(y_true, y_pred),
                  ops.multiply(ops.subtract(1.0, y_true), ops.subtract(1.0, y_pred)))  # fmt: skip
    focal = ops.multiply(ops.power(ops.subtract(1.0, p_t), gamma), bce)
    if apply_class_balancing:
        weight = ops.add(ops.multiply(y_true, alpha), ops.multiply(ops.subtract(1.0, y_true),
                                                                   1.0 - alpha))  # fmt: skip
        focal = ops.multiply(weight, focal)
    return ops.mean(focal, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):  # fmt: skip
    """Categorical crossentropy with each class term scaled by `alpha * (1 - p) ** gamma`
    (p: the normalized, clipped prediction); summed over the class axis."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be an int. Received: axis={axis}")
    y_pred = _as_float(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    _check_same_shape("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        num_classes = y_true.shape[axis]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / num_classes)
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    output = ops.clip(output, EPSILON, 1.0 - EPSILON)
    cce = ops.negative(ops.multiply(y_true, ops.log(output)))
    factor = ops.multiply(ops.power(ops.subtract(1.0, output), gamma), alpha)
    return ops.sum(ops.multiply(factor, cce), axis=axis)


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


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors over the last axis, reduced over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """`100 * mean(abs((y_true - y_pred) / y_true))` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):  # fmt: skip
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name,
                         dtype=dtype)  # fmt: skip


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean of squared differences of `log(1 + x)` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):  # fmt: skip
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name,
                         dtype=dtype)  # fmt: skip


class CosineSimilarity(LossFunctionWrapper):
    """Negated cosine similarity along `axis` (-1 for aligned vectors).

    Example:
        >>> import kerasish as keras
        >>> float(keras.losses.CosineSimilarity()([[1.0, 0.0]], [[2.0, 0.0]]))
        -1.0
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):  # fmt: skip
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=axis)  # fmt: skip
        self.axis = axis


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for errors up to `delta`, linear beyond."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):  # fmt: skip
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    """Mean of `log(cosh(y_pred - y_true))` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Hinge loss between one-hot labels and class scores."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence between the distributions `y_true` and `y_pred`."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss: mean of `y_pred - y_true * log(y_pred)` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary crossentropy down-weighting easy examples by `(1 - p_t) ** gamma`.

    Example:
        >>> import kerasish as keras
        >>> loss = keras.losses.BinaryFocalCrossentropy(gamma=0.0)
        >>> round(float(loss([[1.0]], [[0.5]])), 4)
        0.6931
    """

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):  # fmt: skip
        super().__init__(binary_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)  # fmt: skip
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical crossentropy with each class scaled by `alpha * (1 - p) ** gamma`."""

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):  # fmt: skip
        super().__init__(categorical_focal_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)  # fmt: skip
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


# ---- resolution ----------------------------------------------------------------------------

_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
        categorical_hinge, kl_divergence, poisson, binary_crossentropy,
        binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
        sparse_categorical_crossentropy,
    )
}  # fmt: skip
# Keras' short names (keras.losses.get("mse") is mean_squared_error); "logcosh" and
# "kullback_leibler_divergence" are Keras 2 names Keras 3 still exports as legacy.
_ALIASES = {
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence, "kullback_leibler_divergence": kl_divergence,
    "logcosh": log_cosh,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
}  # fmt: skip
_CLASSES = {
    cls.__name__: cls
    for cls in (
        Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError,
        MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, Huber,
        LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
        BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
        CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
    )
}  # fmt: skip
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
    *_CLASSES,
    *_FUNCTIONS,
    *_ALIASES,
    "deserialize",
    "get",
    "register",
    "resolve",
    "serialize",
    "l2_normalize",
]

# Keras exposes the short aliases as module attributes too (`keras.losses.mse`).
globals().update(_ALIASES)
