"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k."""

from __future__ import annotations

from backend import dtypes as dt
from backend import ops

from ..losses import squeeze_or_expand_to_same_rank
from .reduction import MeanMetricWrapper


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


def in_top_k(labels, y_pred, k):
    """True where the prediction at the integer label is among the `k` largest of its row:
    fewer than `k` predictions are strictly larger (ties count in favour, as Keras)."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.cast(ops.convert_to_tensor(labels), "int32")
    at_label = ops.take_along_axis(y_pred, ops.expand_dims(labels, -1), axis=-1)
    larger = ops.sum(ops.cast(ops.greater(y_pred, at_label), "int32"), axis=-1)
    return ops.less(larger, k)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the argmax of one-hot `y_true` is among the top `k` predictions."""
    y_pred, y_true = ops.convert_to_tensor(y_pred), ops.convert_to_tensor(y_true)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError("one-hot y_true must have the shape of y_pred")
    labels = ops.argmax(y_true, axis=-1)
    return ops.cast(in_top_k(labels, y_pred, k), dt.config.floatx())


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the top `k` predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.convert_to_tensor(y_true)
    if len(labels.shape) == len(y_pred.shape) and labels.shape[-1] == 1:
        labels = ops.squeeze(labels, -1)
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError("integer y_true must have the shape of y_pred without its last axis")
    return ops.cast(in_top_k(labels, y_pred, k), dt.config.floatx())


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


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the `k` largest predictions.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.TopKCategoricalAccuracy(k=2)
        >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.5, 0.4], [0.7, 0.1, 0.2]]))
        0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the `k` largest predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
