"""The loss base: `Loss` (conversion, sample weights, masks, the reduction) and the helpers
the loss functions share (reductions, rank fix-ups, dtype handling)."""

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
    reductions the valid entries are scaled by `total / valid`, so the mean is over them.

    Weights of lower rank than the mask weight whole samples: `(batch,)` weights with a
    `(batch, steps)` mask broadcast from the left (Keras 3.15 broadcasts them from the right,
    which fails unless batch == steps; see docs/masking.md)."""
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
    extra = len(mask.shape) - len(sample_weight.shape)
    if extra > 0:
        sample_weight = ops.reshape(sample_weight, tuple(sample_weight.shape) + (1,) * extra)
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


def _merge_masks(a, b):
    """The AND of two masks, either of which may be None."""
    if a is None or b is None:
        return b if a is None else a
    return ops.logical_and(ops.cast(a, "bool"), ops.cast(b, "bool"))


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
        from ..layers.layer import to_snake_case

        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = None if dtype is None else dt.standardize_dtype(dtype)

    @property
    def dtype(self) -> str:
        return self._dtype or dt.config.floatx()

    def __call__(self, y_true, y_pred, sample_weight=None):
        # As Keras: the mask `y_pred` carries (a model's output after Embedding(mask_zero)
        # or Masking) and the one `call` may put on the losses both weight the entries.
        mask = _merge_masks(getattr(y_pred, "_mask", None), None)
        y_pred = _as_float(y_pred, self._dtype)
        y_true = ops.convert_to_tensor(y_true)
        if self._dtype is not None and dt.is_float(y_true.dtype):
            y_true = ops.cast(y_true, self._dtype)
        losses = self.call(y_true, y_pred)
        mask = _merge_masks(mask, getattr(losses, "_mask", None))
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
