"""F-scores: FBetaScore and F1Score over (batch, classes) predictions."""

from __future__ import annotations

from backend import ops

from ..losses import EPSILON
from .reduction import Metric, read, shape_error


class FBetaScore(Metric):
    """`(1 + beta**2) * precision * recall / (beta**2 * precision + recall)` per class,
    averaged by `average` (None: per class, `"micro"`: pooled counts, `"macro"`: mean,
    `"weighted"`: weighted by the classes' support). A prediction counts as positive above
    `threshold`, or, when `threshold` is None, where it is its row's maximum.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.FBetaScore(beta=1.0, average="micro", threshold=0.5)
        >>> round(float(m([[1, 0], [0, 1]], [[0.9, 0.1], [0.8, 0.3]])), 4)
        0.5
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{type(self).__name__}: `average` must be one of None, 'micro', 'macro', "
                f"'weighted'. Received: average={average!r}"
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(
                f"{type(self).__name__}: `beta` must be a Python float > 0. Received: beta={beta!r}"
            )
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{type(self).__name__}: `threshold` must be a Python float in (0, 1]. "
                f"Received: threshold={threshold!r}"
            )
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true, y_pred):
        if len(y_pred.shape) != 2 or len(y_true.shape) != 2 or y_pred.shape[-1] is None:
            raise shape_error(self, y_true, y_pred, "expects 2D inputs (batch_size, output_dim)")
        shape = () if self.average == "micro" else (y_pred.shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives",
                     "intermediate_weights"):  # fmt: skip
            setattr(self, name, self.add_variable(shape, "zeros", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        if not self._built:
            self._build(y_true, y_pred)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise shape_error(self, y_true, y_pred)
        if self.threshold is None:
            row_max = ops.max(y_pred, axis=-1, keepdims=True)
            y_pred = ops.logical_and(ops.greater_equal(y_pred, row_max),
                                     ops.greater(ops.abs(y_pred), 1e-9))  # fmt: skip
        else:
            y_pred = ops.greater(y_pred, self.threshold)
        y_pred = ops.cast(y_pred, self.dtype)
        weight = None
        if sample_weight is not None:
            weight = ops.expand_dims(ops.cast(ops.convert_to_tensor(sample_weight), self.dtype), 1)

        def weighted_sum(values):
            if weight is not None:
                values = ops.multiply(values, weight)
            return ops.sum(values, axis=self.axis)

        not_true, not_pred = ops.subtract(1.0, y_true), ops.subtract(1.0, y_pred)
        self.true_positives.assign_add(weighted_sum(ops.multiply(y_pred, y_true)))
        self.false_positives.assign_add(weighted_sum(ops.multiply(y_pred, not_true)))
        self.false_negatives.assign_add(weighted_sum(ops.multiply(not_pred, y_true)))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(0.0)
        tp = read(self.true_positives)
        precision = ops.divide(tp, ops.add(ops.add(tp, self.false_positives), EPSILON))
        recall = ops.divide(tp, ops.add(ops.add(tp, self.false_negatives), EPSILON))
        beta2 = self.beta**2
        denominator = ops.add(ops.add(ops.multiply(precision, beta2), recall), EPSILON)
        score = ops.multiply(ops.divide(ops.multiply(precision, recall), denominator), 1 + beta2)
        if self.average == "weighted":
            support = read(self.intermediate_weights)
            weights = ops.divide(support, ops.add(ops.sum(support), EPSILON))
            return ops.sum(ops.multiply(score, weights))
        if self.average is not None:
            return ops.mean(score)
        return score

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}  # fmt: skip


class F1Score(FBetaScore):
    """FBetaScore with `beta=1`: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
