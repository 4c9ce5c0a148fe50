"""The loss functions: pure functions of `(y_true, y_pred)` giving per-sample values (the
mean over the last axis, as Keras), written with ops so they trace."""

from __future__ import annotations

import math

from backend import dtypes as dt
from backend import ops

from .loss import (
    EPSILON,
    _as_float,
    _check_same_shape,
    _prepare,
)


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


def _check_one_hot(loss_name: str, y_true, y_pred, axis) -> None:
    """A ValueError saying what to change when a loss that takes one-hot labels (classes on
    the last axis) receives class indices: one axis fewer than `y_pred`, or a trailing axis
    of 1 against several classes."""
    a, b = tuple(y_true.shape), tuple(y_pred.shape)
    if not b or axis not in (-1, len(b) - 1):
        return
    classes = b[-1] if b else None
    indices = len(a) == len(b) - 1 or (len(a) == len(b) and a and a[-1] == 1)
    if indices and classes not in (None, 1):
        raise ValueError(
            f"{loss_name}: `y_true` looks like class indices (shape {a}), but this loss takes "
            f"one-hot labels of `y_pred`'s shape {b}. Use "
            f"loss='sparse_categorical_crossentropy' for class indices, or one-hot the labels "
            f"with keras.utils.to_categorical(y, {classes})."
        )


def _check_class_indices(loss_name: str, y_true, y_pred, axis) -> None:
    """A ValueError saying what to change when a loss that takes class indices (classes on the
    last axis) receives one-hot labels (`y_pred`'s own shape, several classes)."""
    a, b = tuple(y_true.shape), tuple(y_pred.shape)
    if not b or axis not in (-1, len(b) - 1):
        return
    if len(a) == len(b) and a and a[-1] not in (None, 1) and a[-1] == b[-1]:
        raise ValueError(
            f"{loss_name}: `y_true` has `y_pred`'s shape {b}, so it looks like one-hot "
            f"labels, but this loss takes class indices (shape {b[:-1]}). Use "
            f"loss='categorical_crossentropy' for one-hot labels, or pass the indices: "
            f"np.argmax(y, axis=-1)."
        )


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
    _check_one_hot("categorical_crossentropy", y_true, y_pred, axis)
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
    _check_class_indices("sparse_categorical_crossentropy", y_true, y_pred, axis)
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
