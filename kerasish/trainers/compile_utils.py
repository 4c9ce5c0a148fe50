"""What `compile` resolves: the loss of each output (with weights) and the metrics.

Names are resolved in `compile`, so an unknown loss or metric fails there. `"accuracy"` /
`"acc"` become a concrete accuracy once the first batch shows the target and output shapes,
as Keras does: an output whose last dim is 1 gets BinaryAccuracy, integer targets with one
axis fewer than the output get SparseCategoricalAccuracy, anything else
CategoricalAccuracy; the metric keeps the name it was given.
"""

from __future__ import annotations

from backend import nest, ops

from .. import losses as losses_module
from .. import metrics as metrics_module

_ACCURACY_NAMES = ("accuracy", "acc")


def output_names(model) -> list:
    names = []
    for out in getattr(model, "outputs", None) or []:
        history = getattr(out, "_history", None)
        names.append(history[0].name if history else f"output_{len(names)}")
    return names


class CompileLoss:
    """One loss per output, each weighted; `__call__` returns (total, per-output losses)."""

    def __init__(self, loss, loss_weights, names: list):
        self.names = names
        if isinstance(loss, dict):
            missing = set(loss) - set(names)
            if missing:
                raise ValueError(
                    f"`loss` names unknown outputs {sorted(missing)}. Outputs: {names}"
                )
            loss = [loss.get(n) for n in names]
        if not isinstance(loss, (list, tuple)):
            loss = [loss] * max(1, len(names))
        if names and len(loss) != len(names):
            raise ValueError(
                f"`loss` has {len(loss)} entries for a model with {len(names)} outputs."
            )
        self.losses = [None if fn is None else losses_module.resolve(fn) for fn in loss]
        if isinstance(loss_weights, dict):
            loss_weights = [loss_weights.get(n, 1.0) for n in names]
        if loss_weights is None:
            loss_weights = [1.0] * len(self.losses)
        if len(loss_weights) != len(self.losses):
            raise ValueError(
                f"`loss_weights` has {len(loss_weights)} entries for {len(self.losses)} losses."
            )
        self.weights = [float(w) for w in loss_weights]

    def __call__(self, y_true, y_pred, sample_weight=None):
        ys = flat_by_output(y_true, self.names)
        ps = nest.flatten(y_pred)
        sws = (
            flat_by_output(sample_weight, self.names)
            if sample_weight is not None
            else [None] * len(ps)
        )
        if len(sws) == 1 and len(ps) > 1:
            sws = sws * len(ps)
        total, parts = None, []
        for fn, weight, yt, yp, sw in zip(self.losses, self.weights, ys, ps, sws, strict=False):
            if fn is None:
                parts.append(None)
                continue
            value = fn(yt, yp, sample_weight=sw)
            parts.append(value)
            term = value if weight == 1.0 else ops.multiply(value, weight)
            total = term if total is None else ops.add(total, term)
        return total, parts


def flat_by_output(structure, names):
    """`structure`'s leaves in output order (a dict is read by output name)."""
    if isinstance(structure, dict):
        return [structure.get(n) for n in names]
    return nest.flatten(structure)


def check_metric_identifiers(metrics) -> None:
    """Resolves every metric name now (accuracy aliases later), so typos fail in compile."""
    for m in nest.flatten(metrics) if metrics is not None else []:
        if isinstance(m, str) and m in _ACCURACY_NAMES:
            continue
        metrics_module.get(m)
