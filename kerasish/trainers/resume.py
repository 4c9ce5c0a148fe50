"""What `fit` needs to stop anywhere and go on later as if it had never stopped.

The training state at a point of `fit` is everything the rest of the run depends on: the
model's and the optimizer's variables, the metrics' running totals, the epoch and the step,
the order of the epoch's batches, every random generator (numpy's and Python's global ones,
the global `SeedGenerator` and those of the layers), the data source's own state (a
`PyDataset` with `get_state`/`set_state`) and the callbacks' (`Callback.get_state`).

`fit` takes it only at one kind of point: before step `s` of epoch `e` (`0 <= s < steps`),
after `on_epoch_begin(e)` has run and the epoch's order has been drawn. A backup asked for
at the end of an epoch, or at the end of its last batch, is taken at the start of the next
epoch (none after the last). A resumed `fit` gets to the same point the same way
(`on_train_begin`, `on_epoch_begin(e)`, the epoch's saved order instead of a new one), puts
back the random generators, the data source's and callbacks' state there, then, at the
first step, builds the step (which may create the optimizer's and metrics' variables and
must not move any generator) and puts back the variables. So callbacks see the restored
state from the first batch on.
"""

from __future__ import annotations

import random as python_random
import warnings

import numpy as np

from backend import seeds

from ..utils.py_dataset import PyDataset
from .step_state import _all_layers

# ---- random generators ---------------------------------------------------------------------


def seed_generators(model) -> list:
    """`(key, generator)` for every `SeedGenerator` held by `model` or its layers (as an
    attribute, or in a list or tuple attribute), keyed by the layer's place in the model,
    its class and the attribute, so the same model built again has the same keys."""
    found, seen = [], set()
    for index, layer in enumerate(_all_layers(model)):
        for attr, value in sorted(vars(layer).items()):
            values = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(values):
                if isinstance(item, seeds.SeedGenerator) and id(item) not in seen:
                    seen.add(id(item))
                    suffix = f"[{i}]" if values is value else ""
                    found.append((f"{index}:{type(layer).__name__}.{attr}{suffix}", item))
    return found


def random_state(model) -> dict:
    """The state of every random generator a training run draws from."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = python_random.getstate()
    return {
        "numpy": {
            "keys": keys.copy(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "global": list(seeds.global_seed_generator().state),
        "generators": {key: list(gen.state) for key, gen in seed_generators(model)},
    }


def set_random_state(model, state: dict) -> None:
    """Puts back what `random_state` returned (a generator the model no longer has, or a
    new one, is a ValueError: the model is not the one whose state this is)."""
    numpy_state = state["numpy"]
    np.random.set_state((
        "MT19937", np.asarray(numpy_state["keys"], np.uint32), numpy_state["pos"],
        numpy_state["has_gauss"], numpy_state["cached_gaussian"],
    ))  # fmt: skip
    py = state["python"]
    python_random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    seeds.global_seed_generator().state = tuple(state["global"])
    generators = dict(seed_generators(model))
    saved = state["generators"]
    if set(saved) != set(generators):
        raise ValueError(
            f"Model '{model.name}' does not have the random generators of the saved training "
            f"state (saved: {sorted(saved)}; this model: {sorted(generators)}): it is not the "
            "model the state was saved from."
        )
    for key, value in saved.items():
        generators[key].state = tuple(value)


# ---- metrics and callbacks ------------------------------------------------------------------


def metric_variables(model) -> list:
    return [v for metric in model.metrics for v in metric.variables]


def set_metric_values(model, values: list) -> None:
    variables = metric_variables(model)
    if len(values) != len(variables) or any(
        tuple(np.shape(a)) != tuple(v.shape) for a, v in zip(values, variables, strict=False)
    ):
        raise ValueError(
            f"Model '{model.name}': the saved training state has {len(values)} metric "
            f"variables, this model's metrics have {len(variables)} (or other shapes): the "
            "model was compiled with other metrics than the one the state was saved from."
        )
    for variable, value in zip(variables, values, strict=True):
        variable.assign(np.asarray(value, variable.dtype))


def _callback_key(index: int, callback) -> str:
    return f"{index}:{type(callback).__name__}"


def callback_states(callbacks) -> dict:
    states = {}
    for index, callback in enumerate(callbacks):
        state = callback.get_state()
        if state is not None:
            states[_callback_key(index, callback)] = state
    return states


def set_callback_states(callbacks, states: dict) -> None:
    keys = {_callback_key(i, c): c for i, c in enumerate(callbacks)}
    missing = sorted(set(states) - set(keys))
    if missing:
        warnings.warn(
            f"The saved training state has the state of callbacks this fit() does not have "
            f"({missing}); they start afresh.",
            stacklevel=4,
        )
    for key, state in states.items():
        if key in keys:
            keys[key].set_state(state)


# ---- the state at a point of fit, and resuming from it ---------------------------------------


class ResumePoint:
    """A training state read back: where (`epoch`, `step`) and what (`state`, a nested dict
    of plain values and arrays), with `load_variables(model)`, which puts back the model's and
    the optimizer's variables (the caller's file format)."""

    def __init__(self, epoch: int, step: int, state: dict, load_variables):
        self.epoch, self.step, self.state = int(epoch), int(step), state
        self.load_variables = load_variables


class FitResumption:
    """The part of `fit` that takes training states and resumes from one.

    `fit` calls `start` after `on_train_begin` (where a `BackupAndRestore` reads its last
    backup), `begin_epoch` after `on_epoch_begin`, `before_step` before each step's
    `on_train_batch_begin`, `after_step` after its `on_train_batch_end`, and `finish` after
    the last epoch. A callback that backs up (`BackupAndRestore`) has a `write_backup(epoch,
    step, state)` method, asks for a backup by setting its `backup_due`, and hands over the
    state it read back as its `restored` ResumePoint.
    """

    def __init__(self, model, callback_list, batches):
        self.model = model
        self.callback_list = callback_list
        self.batches = batches
        self.backups = [c for c in callback_list.callbacks if hasattr(c, "write_backup")]
        self.point = None  # the state being resumed from, until it is all put back
        self.variables_pending = False

    def start(self, initial_epoch: int) -> int:
        """The epoch to start at: the resumed one, if a backup was read."""
        if not self.batches.resumable and any(b.save_freq != "epoch" for b in self.backups):
            source = type(getattr(self.batches, "source", self.batches)).__name__
            warnings.warn(
                f"BackupAndRestore: batches from a {source} cannot be resumed in the middle "
                "of an epoch, so a backup that falls due inside an epoch is taken at the start "
                "of the next one. Arrays and PyDatasets resume at any batch.",
                stacklevel=3,
            )
        self.point = next((b.restored for b in self.backups if b.restored is not None), None)
        if self.point is None:
            return initial_epoch
        steps = self.batches.steps
        if steps is not None and self.point.step >= max(steps, 1):
            raise ValueError(
                f"The backup was taken before step {self.point.step} of an epoch, but this "
                f"fit() has {steps} steps per epoch: the data, `batch_size` or "
                "`steps_per_epoch` changed since. Delete the backup directory to start over."
            )
        return self.point.epoch

    def begin_epoch(self, epoch: int):
        """The epoch's batches and the index of its first step; takes a backup that is
        due, or puts back the state of the point being resumed."""
        point = self.point
        if point is None:
            batches = self.batches.epoch()
            if any(b.backup_due for b in self.backups):
                self._backup(epoch, 0)
            return batches, 0
        resumable = self.batches.resumable
        data = point.state.get("data")
        batches = self.batches.epoch(data if resumable and data is not None else None)
        set_random_state(self.model, point.state["random"])
        source_state = point.state.get("source")
        if source_state is not None:
            self.batches.source.set_state(source_state)
        set_callback_states(self.callback_list.callbacks, point.state["callbacks"])
        self.variables_pending = True
        return batches, point.step if resumable else 0

    def before_step(self, batch) -> None:
        """At the first step after resuming: builds the step without moving any random
        generator, then puts back the variables."""
        if self.variables_pending:
            self._restore_variables(batch)

    def _restore_variables(self, batch) -> None:
        point, model = self.point, self.model
        if batch is not None:
            saved = random_state(model)
            model._run_step("train", batch, build_only=True)
            set_random_state(model, saved)
        elif model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_weights)
        point.load_variables(model)
        metrics = point.state.get("metrics")
        if metrics is not None:
            set_metric_values(model, metrics)
        self.variables_pending = False
        self.point = None

    def after_step(self, epoch: int, step: int) -> None:
        """Takes a backup that is due before the next step of this epoch, if the data can
        be resumed there (otherwise it waits for the next epoch's start)."""
        steps = self.batches.steps
        if not any(b.backup_due for b in self.backups):
            return
        if self.batches.resumable and steps is not None and step + 1 < steps:
            self._backup(epoch, step + 1)

    def finish(self) -> None:
        """Puts back the variables of a resumed state no step ran after (a backup taken
        at or past the last epoch of this fit)."""
        if self.point is not None:
            self._restore_variables(None)

    def _backup(self, epoch: int, step: int) -> None:
        batches, model = self.batches, self.model
        if hasattr(batches, "drain"):
            batches.drain()
        source = getattr(batches, "source", None)
        state = {
            "data": batches.position(step) if batches.resumable else None,
            "source": source.get_state()
            if isinstance(source, PyDataset) and hasattr(source, "get_state")
            else None,
            "random": random_state(model),
            "callbacks": callback_states(self.callback_list.callbacks),
            "metrics": [v.numpy() for v in metric_variables(model)] if step > 0 else None,
        }
        for backup in self.backups:
            if backup.backup_due:
                backup.write_backup(epoch, step, state)
                backup.backup_due = False
