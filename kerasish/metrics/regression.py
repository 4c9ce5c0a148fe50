"""Regression metrics: mean errors, root mean squared error, cosine similarity, R2 score."""

from __future__ import annotations

from backend import ops

from .. import losses as losses_module
from ..losses import squeeze_or_expand_to_same_rank
from .reduction import Mean, MeanMetricWrapper, Metric, _divide_no_nan, read, shape_error


class MeanSquaredError(MeanMetricWrapper):
    """The mean of the per-sample mean squared errors."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses_module.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of the per-sample mean absolute errors."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses_module.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean of the per-sample mean absolute percentage errors."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses_module.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean of the per-sample mean squared logarithmic errors."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses_module.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    """The mean of the per-sample `log(cosh(y_pred - y_true))`."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses_module.log_cosh, name=name, dtype=dtype)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The cosine similarity along `axis` (1 for aligned vectors)."""
    return ops.negative(losses_module.cosine_similarity(y_true, y_pred, axis=axis))


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity between `y_true` and `y_pred` along `axis`.

    Example:
        >>> import kerasish as keras
        >>> float(keras.metrics.CosineSimilarity()([[0.0, 1.0]], [[0.0, 5.0]]))
        1.0
    """

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """`sqrt` of the (weighted) mean of the squared errors.

    Example:
        >>> import kerasish as keras
        >>> float(keras.metrics.RootMeanSquaredError()([[0.0], [0.0]], [[3.0], [3.0]]))
        3.0
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise shape_error(self, y_true, y_pred)
        return super().update_state(ops.square(ops.subtract(y_pred, y_true)), sample_weight)

    def result(self):
        return ops.sqrt(super().result())


class R2Score(Metric):
    """The coefficient of determination `1 - SS_res / SS_tot` per output column, averaged
    by `class_aggregation` (`"uniform_average"`, `"variance_weighted_average"` or None for
    the per-column scores); `num_regressors > 0` gives the adjusted score. Inputs are
    `(batch, outputs)`.

    Example:
        >>> import kerasish as keras
        >>> m = keras.metrics.R2Score()
        >>> round(float(m([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])), 4)
        0.5
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):  # fmt: skip
        super().__init__(name=name, dtype=dtype)
        allowed = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in allowed:
            raise ValueError(
                f"R2Score: invalid `class_aggregation`. Expected one of {allowed}. "
                f"Received: class_aggregation={class_aggregation!r}"
            )
        if num_regressors < 0:
            raise ValueError(
                f"R2Score: `num_regressors` must be >= 0. Received: num_regressors={num_regressors}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, y_true, y_pred):
        if len(y_pred.shape) != 2 or len(y_true.shape) != 2 or y_pred.shape[-1] is None:
            raise shape_error(self, y_true, y_pred, "expects 2D inputs (batch_size, output_dim)")
        columns = (y_pred.shape[-1],)
        self.squared_sum = self.add_variable(columns, "zeros", name="squared_sum")
        self.sum = self.add_variable(columns, "zeros", name="sum")
        self.total_mse = self.add_variable(columns, "zeros", name="residual")
        self.count = self.add_variable(columns, "zeros", name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true, y_pred)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise shape_error(self, y_true, y_pred)
        weight = ops.cast(ops.convert_to_tensor(1.0 if sample_weight is None else sample_weight),
                          self.dtype)  # fmt: skip
        if len(weight.shape) == 1:
            weight = ops.expand_dims(weight, 1)
        weight = ops.broadcast_to(weight, tuple(y_true.shape))
        weighted_true = ops.multiply(y_true, weight)
        self.sum.assign_add(ops.sum(weighted_true, axis=0))
        self.squared_sum.assign_add(ops.sum(ops.multiply(y_true, weighted_true), axis=0))
        residual = ops.multiply(ops.square(ops.subtract(y_true, y_pred)), weight)
        self.total_mse.assign_add(ops.sum(residual, axis=0))
        self.count.assign_add(ops.sum(weight, axis=0))
        # Keras counts elements, not rows, as the samples of the adjusted score.
        self.num_samples.assign_add(float(y_true.shape[0] * y_true.shape[1]))

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(0.0)
        mean = _divide_no_nan(self.sum, self.count)
        total = ops.subtract(self.squared_sum, ops.multiply(self.sum, mean))
        # A constant column gives +-inf in Keras, which it replaces by 0.
        raw = ops.where(ops.equal(total, 0.0), 0.0,
                        ops.subtract(1.0, _divide_no_nan(self.total_mse, total)))  # fmt: skip
        if self.class_aggregation == "uniform_average":
            score = ops.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = _divide_no_nan(ops.sum(ops.multiply(total, raw)), ops.sum(total))
        else:
            score = raw
        if self.num_regressors:
            n, p = read(self.num_samples), float(self.num_regressors)
            adjusted = ops.subtract(
                1.0,
                _divide_no_nan(
                    ops.multiply(ops.subtract(1.0, score), ops.subtract(n, 1.0)),
                    ops.subtract(n, p + 1.0),
                ),  # fmt: skip
            )
            # Too few samples for the regressors: Keras falls back to the plain score.
            score = ops.where(ops.less(p, ops.subtract(n, 1.0)), adjusted, score)
        return score

    def get_config(self) -> dict:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}  # fmt: skip
