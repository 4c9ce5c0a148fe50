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
    """The names `compile`'s dicts of losses, loss weights and metrics (and `fit`'s dicts of
    targets) use for the outputs: a model built with a flat dict of outputs uses its keys, as
    Keras does; other models use the names of the layers that make the outputs."""
    structure = getattr(model, "_output_struct", None)
    if isinstance(structure, dict) and not any(
        isinstance(v, (dict, list, tuple)) for v in structure.values()
    ):
        return [str(key) for key in structure]
    return output_layer_names(model)


def output_layer_names(model) -> list:
    """The names of the layers that make a model's outputs, in its flattened output order."""
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


class CompileMetrics(metrics_module.Metric):
    """The metrics given to `compile(metrics=..., weighted_metrics=...)`, as one metric named
    `compile_metrics` (as Keras 3): `update_state(y, y_pred, sample_weight)` updates each
    (built from the first batch's shapes), `result()` is a dict of their results, and
    `metrics` lists them. Unweighted metrics ignore `sample_weight`."""

    def __init__(self, metrics, weighted_metrics, names: list):
        super().__init__(name="compile_metrics")
        check_metric_identifiers(metrics)
        check_metric_identifiers(weighted_metrics)
        self._ids = metrics
        self._weighted_ids = weighted_metrics
        self._names = names
        self._built: list | None = None  # (log name, metric, output index, weighted)

    @property
    def built(self) -> bool:
        return self._built is not None

    @property
    def metrics(self) -> list:
        return [m for _, m, _, _ in self._built or []]

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def build(self, y, y_pred) -> None:
        targets, outputs = flat_by_output(y, self._names), nest.flatten(y_pred)
        several = len(outputs) > 1
        built = []
        for weighted, ids in ((False, self._ids), (True, self._weighted_ids)):
            if ids is None:
                continue
            for i, (yt, yp) in enumerate(zip(targets, outputs, strict=False)):
                out_name = self._names[i] if i < len(self._names) else f"output_{i}"
                if isinstance(ids, dict):
                    chosen = ids.get(out_name, [])
                elif several and ids and isinstance(ids[0], (list, tuple)):
                    chosen = ids[i]
                else:
                    chosen = ids
                for identifier in nest.flatten(chosen):
                    metric = metrics_module.get_compile_metric(identifier, yt, yp)
                    log_name = f"{out_name}_{metric.name}" if several else metric.name
                    built.append((log_name, metric, i, weighted))
        self._built = built

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self._built is None:
            self.build(y_true, y_pred)
        targets, outputs = flat_by_output(y_true, self._names), nest.flatten(y_pred)
        for _, metric, i, weighted in self._built:
            metric.update_state(
                targets[i], outputs[i], sample_weight=sample_weight if weighted else None
            )

    def result(self) -> dict:
        return {name: metric.result() for name, metric, _, _ in self._built or []}

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()


def flat_by_output(structure, names):
    """`structure`'s leaves in output order (a dict is read by output name)."""
    if isinstance(structure, dict):
        return [structure.get(n) for n in names]
    return nest.flatten(structure)


def check_metric_identifiers(metrics) -> None:
    """Resolves every metric name now (accuracy aliases later), so typos fail in compile."""
    if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
        raise ValueError(
            "`metrics` (and `weighted_metrics`) must be a list, tuple or dict, as "
            f"metrics=['accuracy']. Received: metrics={metrics!r:.100}"
        )
    for m in nest.flatten(metrics) if metrics is not None else []:
        if isinstance(m, str) and m in _ACCURACY_NAMES:
            continue
        metrics_module.get(m)
