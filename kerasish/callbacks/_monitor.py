"""Argument checks shared by the callbacks, and which way a monitored quantity improves."""

from __future__ import annotations

import math
import numbers

# Substrings of a metric's name that mean "higher is better" / "lower is better", checked
# after the model's own metric objects (whose `_direction` says so, where they have one).
_HIGHER_IS_BETTER = (
    "acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2", "specificity",
    "sensitivity", "true_positives", "true_negatives", "cosine_similarity",
)  # fmt: skip
_LOWER_IS_BETTER = (
    "loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge", "divergence",
    "poisson", "log_cosh", "logcosh", "false_positives", "false_negatives",
)  # fmt: skip


def check_mode(owner: str, mode) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            f"{owner}: `mode` must be one of 'auto', 'min', 'max'. Received: mode={mode!r}"
        )
    return mode


def check_int(owner: str, name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"{owner}: `{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def check_verbose(owner: str, verbose) -> int:
    if isinstance(verbose, bool):
        return int(verbose)
    return check_int(owner, "verbose", verbose)


def check_number(owner: str, name: str, value, minimum: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        bound = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        raise ValueError(f"{owner}: `{name}` must be {bound}. Received: {name}={value!r}")
    return float(value)


def check_monitor(owner: str, monitor) -> str:
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(
            f"{owner}: `monitor` must be the name of a logged quantity, such as 'val_loss'. "
            f"Received: monitor={monitor!r}"
        )
    return monitor


def _model_metric_direction(model, name: str) -> str | None:
    """The direction ("up"/"down") a metric object of `model` named `name` declares, if any."""
    try:
        metrics = list(getattr(model, "metrics", None) or [])
    except Exception:  # a model may refuse to list metrics before it is compiled
        return None
    for metric in list(metrics):
        metrics.extend(getattr(metric, "metrics", None) or [])  # compile-time containers
    for metric in metrics:
        if getattr(metric, "name", None) == name:
            direction = getattr(metric, "_direction", None)
            if direction in ("up", "down"):
                return direction
    return None


def monitor_direction(mode: str, monitor: str, model=None) -> str | None:
    """ "max" or "min" for `mode`; for "auto", guessed from the metric, or None if unknown."""
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    direction = _model_metric_direction(model, name)
    if direction is not None:
        return "max" if direction == "up" else "min"
    if any(part in name for part in _HIGHER_IS_BETTER):
        return "max"
    if any(part in name for part in _LOWER_IS_BETTER):
        return "min"
    return None


def known_direction(owner: str, mode: str, monitor: str, model=None) -> str:
    """`monitor_direction`, or a ValueError asking for `mode` when it cannot be told."""
    direction = monitor_direction(mode, monitor, model)
    if direction is None:
        raise ValueError(
            f"{owner} cannot tell whether `{monitor}` should go up or down. Pass "
            "`mode='max'` if higher is better or `mode='min'` if lower is better. "
            f"Received: monitor={monitor!r}"
        )
    return direction


def batch_save_due(callback, batch: int) -> bool:
    """Counts the batches since `callback` last saved (Keras' count, which carries over
    from one epoch into the next) and says whether `callback.save_freq` of them have run;
    kept in its `_batches_seen_since_last_saving` and `_last_batch_seen`."""
    if callback.save_freq == "epoch":
        return False
    last = callback._last_batch_seen
    if last is None or batch <= last:  # a new epoch
        callback._batches_seen_since_last_saving += batch + 1
    else:
        callback._batches_seen_since_last_saving += batch - last
    callback._last_batch_seen = batch
    if callback._batches_seen_since_last_saving >= callback.save_freq:
        callback._batches_seen_since_last_saving = 0
        return True
    return False
