"""Confusion-matrix metrics: TruePositives..FalseNegatives, Precision, Recall and AUC.

Every metric counts, per threshold, the (weighted) entries whose prediction is above the
threshold against their label, as Keras' `update_confusion_matrix_variables`: all entries
of the batch are pooled (a `(batch, classes)` input is `batch * classes` binary decisions)
unless `multi_label=True` (AUC), which keeps one count per class.
"""

from __future__ import annotations

import numpy as np

from backend import ops

from ..losses import EPSILON, squeeze_or_expand_to_same_rank
from .reduction import Metric, _divide_no_nan, read, shape_error

NEG_INF = -1e10


def parse_thresholds(metric_name, thresholds, default):
    """`thresholds` (None, a float or a list) as a list of floats in [0, 1]."""
    values = [default] if thresholds is None else list(np.ravel(thresholds).tolist())
    if thresholds is not None and not all(0.0 <= t <= 1.0 for t in values):
        raise ValueError(
            f"{metric_name}: threshold values must be in [0, 1]. Received: thresholds={thresholds}"
        )
    return [float(t) for t in values]


def filter_top_k(x, k):
    """`x` where an entry is among the `k` largest of its row (ties: the lower index first,
    as `top_k`), `NEG_INF` elsewhere."""
    classes = x.shape[-1]
    other_larger = ops.greater(ops.expand_dims(x, -2), ops.expand_dims(x, -1))  # [i, j]: x_j > x_i
    tie_before = ops.logical_and(ops.equal(ops.expand_dims(x, -2), ops.expand_dims(x, -1)),
                                 np.tril(np.ones((classes, classes), bool), -1))  # fmt: skip
    rank = ops.sum(ops.cast(ops.logical_or(other_larger, tie_before), "int32"), axis=-1)
    keep = ops.cast(ops.less(rank, k), x.dtype)
    return ops.add(ops.multiply(x, keep), ops.multiply(ops.subtract(1.0, keep), NEG_INF))


def update_confusion_matrix(metric, variables, y_true, y_pred, thresholds, top_k=None,
                            class_id=None, sample_weight=None, multi_label=False,
                            label_weights=None):  # fmt: skip
    """Adds this batch's counts to `variables` ({"tp"|"fp"|"tn"|"fn": Variable of shape
    `(thresholds,)` or, multi-label, `(thresholds, classes)`})."""
    dtype = metric.dtype
    y_true = ops.cast(ops.convert_to_tensor(y_true), dtype)
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise shape_error(metric, y_true, y_pred, "y_true and y_pred must have the same shape")
    if sample_weight is not None:
        sample_weight = ops.expand_dims(ops.cast(ops.convert_to_tensor(sample_weight), dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)  # fmt: skip
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if len(y_pred.shape) == 1:
            raise shape_error(metric, y_true, y_pred, "class_id needs (batch, classes) inputs")
        y_true = ops.take(y_true, [class_id], axis=-1)
        y_pred = ops.take(y_pred, [class_id], axis=-1)
    weights = None
    if sample_weight is not None:
        weights = ops.broadcast_to(sample_weight, tuple(y_pred.shape))
    if label_weights is not None and not multi_label:
        label_weights = ops.broadcast_to(ops.cast(label_weights, dtype), tuple(y_pred.shape))
        weights = label_weights if weights is None else ops.multiply(weights, label_weights)
    thresholds = np.asarray(thresholds, dtype)
    if multi_label:  # (thresholds, batch, classes), summed over the batch
        thresholds = thresholds.reshape(-1, 1, 1)
        y_pred, y_true = ops.expand_dims(y_pred, 0), ops.expand_dims(y_true, 0)
        weights = None if weights is None else ops.expand_dims(weights, 0)
    else:  # (thresholds, entries), summed over the entries
        thresholds = thresholds.reshape(-1, 1)
        y_pred, y_true = ops.reshape(y_pred, (1, -1)), ops.reshape(y_true, (1, -1))
        weights = None if weights is None else ops.reshape(weights, (1, -1))
    pred_pos = ops.greater(y_pred, thresholds)
    label_pos = ops.not_equal(y_true, 0.0)
    conditions = {
        "tp": (label_pos, pred_pos),
        "fp": (ops.logical_not(label_pos), pred_pos),
        "tn": (ops.logical_not(label_pos), ops.logical_not(pred_pos)),
        "fn": (label_pos, ops.logical_not(pred_pos)),
    }
    for key, variable in variables.items():
        hit = ops.logical_and(*conditions[key])
        counts = ops.cast(hit, dtype) if weights is None else ops.where(hit, weights, 0.0)
        variable.assign_add(ops.sum(counts, axis=1))


class _ConfusionCount(Metric):
    """One confusion-matrix count per threshold (the scalar when one threshold)."""

    _condition = ""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(type(self).__name__, thresholds, 0.5)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros",
                                             name="accumulator")  # fmt: skip

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix(self, {self._condition: self.accumulator}, y_true, y_pred,
                                self.thresholds, sample_weight=sample_weight)  # fmt: skip

    def result(self):
        value = read(self.accumulator)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of positive entries predicted above the threshold.

    Example:
        >>> import kerasish as keras
        >>> float(keras.metrics.TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
        2.0
    """

    _condition = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) number of negative entries predicted above the threshold."""

    _condition = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of negative entries predicted at or below the threshold."""

    _condition = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of positive entries predicted at or below the threshold."""

    _condition = "fn"


class _PrecisionRecall(Metric):
    """`tp / (tp + other)` per threshold; `top_k` keeps each row's `k` largest predictions,
    `class_id` looks at one column only."""

    _other = ""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(type(self).__name__, thresholds, default)
        size = (len(self.thresholds),)
        self.true_positives = self.add_variable(size, "zeros", name="true_positives")
        other_name = {"fp": "false_positives", "fn": "false_negatives"}[self._other]
        self.other = self.add_variable(size, "zeros", name=other_name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix(self, {"tp": self.true_positives, self._other: self.other},
                                y_true, y_pred, self.thresholds, top_k=self.top_k,
                                class_id=self.class_id, sample_weight=sample_weight)  # fmt: skip

    def result(self):
        value = _divide_no_nan(self.true_positives, ops.add(self.true_positives, self.other))
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}  # fmt: skip


class Precision(_PrecisionRecall):
    """The fraction of entries predicted positive that are positive.

    Example:
        >>> import kerasish as keras
        >>> float(keras.metrics.Precision()([0, 1, 1, 1], [1, 0, 1, 1]))
        0.6666666865348816
    """

    _other = "fp"


class Recall(_PrecisionRecall):
    """The fraction of positive entries that are predicted positive."""

    _other = "fn"


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at
    `num_thresholds` evenly spaced thresholds (or the given `thresholds`).

    `summation_method="interpolation"` (the default) is the trapezoidal rule for ROC and
    Davis & Goadrich's interpolation for PR; `"minoring"`/`"majoring"` are left/right
    Riemann sums. `multi_label=True` keeps one curve per class and averages the areas
    (weighted by `label_weights`).

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.AUC(num_thresholds=3)
        >>> float(m([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9]))
        0.75
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):  # fmt: skip
        super().__init__(name=name, dtype=dtype)
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: `curve` must be 'ROC' or 'PR'. Received: curve={curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                "AUC: `summation_method` must be 'interpolation', 'minoring' or 'majoring'. "
                f"Received: summation_method={summation_method!r}"
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds("AUC", thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    f"AUC: `num_thresholds` must be > 1. Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON])
        self.curve = str(curve).upper()
        self.summation_method = summation_method
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else list(label_weights)
        self._from_logits = from_logits
        self._built = False
        if multi_label and num_labels:
            self._build(num_labels)
        elif not multi_label:
            if num_labels:
                raise ValueError("AUC: `num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds,) if num_labels is None else (self.num_thresholds, num_labels)
        self.true_positives = self.add_variable(shape, "zeros", name="true_positives")
        self.false_positives = self.add_variable(shape, "zeros", name="false_positives")
        self.true_negatives = self.add_variable(shape, "zeros", name="true_negatives")
        self.false_negatives = self.add_variable(shape, "zeros", name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        if not self._built:
            if len(y_pred.shape) != 2:
                raise shape_error(self, ops.convert_to_tensor(y_true), y_pred,
                                  "multi_label=True needs (batch, labels) predictions")  # fmt: skip
            self._build(y_pred.shape[1])
        if self._from_logits:
            y_pred = ops.sigmoid(y_pred)
        variables = {"tp": self.true_positives, "fp": self.false_positives,
                     "tn": self.true_negatives, "fn": self.false_negatives}  # fmt: skip
        label_weights = None if self.multi_label else self.label_weights
        update_confusion_matrix(self, variables, y_true, y_pred, self._thresholds,
                                sample_weight=sample_weight, multi_label=self.multi_label,
                                label_weights=label_weights)  # fmt: skip

    def _average_labels(self, by_label):
        if self.label_weights is None:
            return ops.mean(by_label)
        weights = np.asarray(self.label_weights, self.dtype)
        return _divide_no_nan(ops.sum(ops.multiply(by_label, weights)), float(weights.sum()))

    def _reduce(self, terms):
        if self.multi_label:
            return self._average_labels(ops.sum(terms, axis=0))
        return ops.sum(terms)

    def _interpolate_pr_auc(self):
        """Davis & Goadrich (2006): precision interpolated between thresholds."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        tp, fp, fn = (read(v) for v in (tp, fp, fn))
        dtp = ops.subtract(tp[:-1], tp[1:])
        p = ops.add(tp, fp)
        dp = ops.subtract(p[:-1], p[1:])
        slope = _divide_no_nan(dtp, ops.maximum(dp, 0.0))
        intercept = ops.subtract(tp[1:], ops.multiply(slope, p[1:]))
        both = ops.logical_and(ops.greater(p[:-1], 0.0), ops.greater(p[1:], 0.0))
        ratio = ops.where(both, _divide_no_nan(p[:-1], ops.maximum(p[1:], 0.0)), 1.0)
        increment = _divide_no_nan(
            ops.multiply(slope, ops.add(dtp, ops.multiply(intercept, ops.log(ratio)))),
            ops.maximum(ops.add(tp[1:], fn[1:]), 0.0),
        )
        return self._reduce(increment)

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(0.0)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (
            read(v)
            for v in (self.true_positives, self.false_positives, self.true_negatives,
                      self.false_negatives)
        )  # fmt: skip
        recall = _divide_no_nan(tp, ops.add(tp, fn))
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, ops.add(fp, tn)), recall
        else:
            x, y = recall, _divide_no_nan(tp, ops.add(tp, fp))
        if self.summation_method == "interpolation":
            heights = ops.divide(ops.add(y[:-1], y[1:]), 2.0)
        elif self.summation_method == "minoring":
            heights = ops.minimum(y[:-1], y[1:])
        else:
            heights = ops.maximum(y[:-1], y[1:])
        return self._reduce(ops.multiply(ops.subtract(x[:-1], x[1:]), heights))

    def get_config(self) -> dict:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": self.label_weights,
                  "from_logits": self._from_logits}  # fmt: skip
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
