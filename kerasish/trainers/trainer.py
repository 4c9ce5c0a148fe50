"""`compile`, `fit`, `evaluate`, `predict` and the `*_on_batch` methods, mixed into Model.

The train, test and predict steps are ordinary Python methods written with ops and a
GradientTape (override `train_step` for a GAN); `fit` traces them into compiled Plans, one
per batch signature (the last, smaller batch gets its own Plan but no new kernel), unless
`run_eagerly=True`. Return values follow Keras 3 (`../shared/KERAS_FORMATS.md`).
"""

from __future__ import annotations

import warnings

import numpy as np

from backend import GradientTape, compiler, nest, ops, profiling
from backend.config import floatx
from backend.dtypes import is_float
from backend.origins import NonFiniteError
from backend.tensor import SymbolicTensor, Tensor

from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..utils.profiler import timed_callbacks
from . import data_adapter as da
from . import data_checks, fast_call
from .compile_utils import CompileLoss, CompileMetrics, output_names
from .interrupts import deferred_interrupts
from .resume import FitResumption
from .step_state import (
    check_logs,
    compiled_trainable_state,
    running_step,
    to_python,
    trainable_state,
)


def _batch_size(*structures) -> int:
    """The leading dim of the first array-like leaf of `structures` (1 when none)."""
    for structure in structures:
        for leaf in nest.flatten(structure):
            shape = getattr(leaf, "shape", None)
            if shape and shape[0] is not None:
                return int(shape[0])
    return 1


class Trainer:
    """The training API of `Model`."""

    compiled = False
    optimizer = None
    history = None
    _run_eagerly = False
    _compile_loss = None
    _compile_metrics = None
    _loss_tracker = None
    _step_loss = None  # (loss, per-output losses, batch size) from compute_loss, this step
    _last_logs = None  # the logs of fit's last completed step or epoch

    def __setattr__(self, name, value):
        # Metrics assigned as public attributes (a custom step's trackers) join `metrics`, so
        # they are reset each epoch, as Keras tracks them.
        tracked = self.__dict__.get("_tracked_metrics")
        if tracked is None:
            tracked = []
            object.__setattr__(self, "_tracked_metrics", tracked)
        old = self.__dict__.get(name)
        if isinstance(old, metrics_module.Metric) and old is not value:
            tracked[:] = [m for m in tracked if m is not old]
        if isinstance(value, metrics_module.Metric) and not name.startswith("_"):
            if not any(m is value for m in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    # ---- compile ---------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):  # fmt: skip
        """Configures training. Names of losses, metrics and optimizers resolve at once, so
        an unknown one raises here. `jit_compile`, `steps_per_execution` and
        `auto_scale_loss` are accepted for compatibility: steps are always compiled
        (unless `run_eagerly`), one step per execution.

        The `trainable` flags of the model's layers are recorded: the compiled training step
        updates the weights that were trainable now (tf.keras 2's rule; recompile after
        changing `trainable`). A subclass may override `compile` with arguments of its own
        (two optimizers for a GAN) and call `super().compile()`."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        names = output_names(self)
        self._compile_loss = None if loss is None else CompileLoss(loss, loss_weights, names)
        self._compile_metrics = (
            None
            if metrics is None and weighted_metrics is None
            else CompileMetrics(metrics, weighted_metrics, names)
        )
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = []
        self.run_eagerly = run_eagerly
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit_compile
        self.compiled = True
        self._compiled_trainable_state = trainable_state(self)
        self._step_fns = {}

    @property
    def run_eagerly(self) -> bool:
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value: bool) -> None:
        self._run_eagerly = bool(value)

    @property
    def metrics(self) -> list:
        """The loss tracker, the per-output loss trackers, the compiled metrics (one
        `compile_metrics` container), then metrics assigned as attributes of the model."""
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            out += self._output_loss_trackers
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
        out += self.__dict__.get("_tracked_metrics", [])
        return out

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        """The results of `metrics` as a dict (a container's results flattened into it)."""
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        return logs

    def _assert_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(
                f"Model '{self.name}': call compile() before {what}() "
                "(it needs an optimizer and a loss)."
            )

    # ---- the steps ---------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss(es) plus the losses added by layers (`model.losses`).

        The value is also kept for this step's `compute_metrics`, which adds it to the `loss`
        tracker (so a custom `train_step` that calls `compute_loss` and returns
        `compute_metrics(...)` reports its loss)."""
        total, parts = None, []
        if self._compile_loss is not None:
            if y is None:
                raise ValueError(f"Model '{self.name}' was compiled with a loss but got no `y`.")
            total, parts = self._compile_loss(y, y_pred, sample_weight)
        for extra in self.losses:
            extra = ops.convert_to_tensor(extra)
            if not is_float(extra.dtype):
                extra = ops.cast(extra, floatx())
            extra = ops.sum(extra)  # as Keras: a non-scalar added loss counts by its sum
            total = extra if total is None else ops.add(total, extra)
        if total is None:
            raise ValueError(
                f"Model '{self.name}' has no loss: pass `loss` to compile() or add one with "
                "add_loss()."
            )
        self._step_loss = (total, parts, _batch_size(x, y_pred, y))
        return total

    def _track_step_loss(self) -> None:
        """Adds the loss `compute_loss` computed in this step to the loss trackers (once)."""
        if self._step_loss is None or self._loss_tracker is None:
            return
        loss, parts, batch = self._step_loss
        self._step_loss = None
        self._loss_tracker.update_state(loss, sample_weight=batch)
        if len(parts) > 1 and not self._output_loss_trackers:
            self._output_loss_trackers = [
                metrics_module.Mean(name=f"{n}_loss") for n in output_names(self)
            ]
        for tracker, part in zip(self._output_loss_trackers, parts, strict=False):
            if part is not None:
                tracker.update_state(part, sample_weight=batch)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Updates the loss trackers (from this step's `compute_loss`) and the compiled
        metrics; returns the results of all `metrics` (`get_metrics_result()`)."""
        self._track_step_loss()
        if self._compile_metrics is not None and y is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def train_step(self, data):
        """One training step on a batch: forward, loss, gradients, update, metrics.

        `data` is what `fit` got, batch by batch: `x` alone when it got no `y`, else
        `(x, y)` or `(x, y, sample_weight)`. Override it for a custom step; it must return a
        dict of scalars (the logs)."""
        x, y, sample_weight = da.unpack(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
        variables = self.trainable_weights
        if variables:
            grads = tape.gradient(loss, variables)
            pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
            if pairs:
                self.optimizer.apply_gradients(pairs)
        else:
            warnings.warn(f"Model '{self.name}' has no trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """One evaluation step: forward, loss, metrics; returns the logs."""
        x, y, sample_weight = da.unpack(data)
        y_pred = self(x, training=False)
        self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for one batch."""
        x, _, _ = da.unpack(data)
        return self(x, training=False)

    # ---- running a step ------------------------------------------------------------------------

    def _cast_x(self, x):
        x = self.align_inputs(x)
        front = getattr(self, "_data_front", None)
        if front is None:  # a model with a front: its data layers check what they receive
            da.reject_text(self, x)
        inputs = front.core_inputs if front is not None else getattr(self, "inputs", None)
        flat = nest.flatten(x)
        if inputs and len(inputs) == len(flat):
            dtypes = [s.dtype for s in inputs]
        else:
            dtypes = [self.dtype] * len(flat)
        cast = []
        for array, dtype in zip(flat, dtypes, strict=True):
            if array.dtype.kind in "fiub" and array.dtype != dtype:
                array = array.astype(dtype)
            cast.append(array)
        return nest.pack(x, iter(cast))

    @staticmethod
    def _cast_targets(y):
        """float64 targets become float32 (integer labels of any width go to the losses as
        they are: the sparse crossentropy casts narrow ones itself)."""
        if y is None:
            return None
        flat = [a.astype("float32") if a.dtype == np.float64 else a for a in nest.flatten(y)]
        return nest.pack(y, iter(flat))

    def _call_step(self, kind: str, data):
        """Runs the step method once on `data` (eagerly or while tracing)."""
        step = {"train": self.train_step, "test": self.test_step, "predict": self.predict_step}
        self._step_loss = None
        with running_step():
            try:
                result = step[kind](data)
            finally:
                self._step_loss = None
        if kind == "predict":
            return result
        logs = check_logs(self, kind, result)
        return {
            k: v if isinstance(v, (Tensor, SymbolicTensor)) else ops.convert_to_tensor(v)
            for k, v in logs.items()
        }

    def _strings_as_arrays(self, x):
        """A string input's data given as a list of str becomes one array (not a list of
        inputs)."""
        front = getattr(self, "_data_front", None)
        return x if front is None else front.as_arrays(x, len(self.inputs) == 1)

    def _run_step(self, kind: str, batch, build_only: bool = False):
        """Runs a step on `batch`; with `build_only`, only builds it (traces a compiled step,
        or runs an eager test step and resets the metrics), so that the optimizer's and
        the metrics' variables exist, without training."""
        x, y, sw = batch
        front = getattr(self, "_data_front", None)
        if front is not None:  # the data layers (TextVectorization, ...) run on the batch here
            x = front.run(nest.flatten(self.align_inputs(x)))
            with front.feeding_core():
                return self._run_core_step(kind, (x, y, sw), build_only)
        return self._run_core_step(kind, (x, y, sw), build_only)

    def _run_core_step(self, kind: str, batch, build_only: bool = False):
        x, y, sw = batch
        front = getattr(self, "_data_front", None)
        data = da.pack(
            self._cast_x(x),
            self._cast_targets(y),
            None if sw is None else np.asarray(sw, "float32"),
        )
        if self.run_eagerly and build_only:
            self._call_step("test", data)  # builds the model (if it builds late) and metrics
            self.reset_metrics()
            if kind == "train" and not self.optimizer.built:
                self.optimizer.build(self.trainable_weights)
            return None
        if self.run_eagerly:
            result = self._call_step(kind, data)
        else:
            key = (kind, nest.structure_key(data))
            fn = self._step_fns.get(key)
            if fn is None:
                template = data

                def flat_step(*flat):
                    # Only called while tracing: the step sees the compile-time flags.
                    with compiled_trainable_state(self):
                        result = self._call_step(kind, nest.pack(template, iter(flat)))
                    self._clear_losses()  # symbolic values, of no call a user can see
                    return result

                fn = self._step_fns[key] = compiler.function(flat_step)
            flat = nest.flatten(data)
            if build_only:
                fn.plan_for(*flat)
                return None
            result = fn(*flat)
            if front is None:
                fast_call.keep(self, kind, fn, flat, (x, y, sw), result)
        if kind == "predict":
            return nest.pack(result, iter([np.asarray(r) for r in nest.flatten(result)]))
        return to_python(result)

    # ---- fit / evaluate / predict ----------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):  # fmt: skip
        """Trains for `epochs` epochs; returns the `History` (also `model.history`)."""
        from ..callbacks import CallbackList, History

        self._assert_compiled("fit")
        x = self._strings_as_arrays(x)
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(
                "`validation_split` must be in [0, 1). Received: "
                f"validation_split={validation_split!r}"
            )
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(
                f"`epochs` must be a non-negative integer. Received: epochs={epochs!r}"
            )
        verbose = da.check_verbose(verbose)
        for name, value, least in (("initial_epoch", initial_epoch, 0), ("validation_freq",
                                   validation_freq, 1), ("steps_per_epoch", steps_per_epoch, 1),
                                   ("validation_steps", validation_steps, 1)):  # fmt: skip
            da.check_count(name, value, least)
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = da.split_validation(
                x, y, sample_weight, validation_split
            )
        y_arrays = da.to_arrays(y, "y")
        sample_weight = da.class_weights_to_sample_weights(
            y_arrays, class_weight, da.to_arrays(sample_weight, "sample_weight")
        )
        batches = da.make_batches(x, y_arrays, sample_weight, batch_size, shuffle, steps_per_epoch,
                                  class_weight=class_weight)  # fmt: skip
        data_checks.check_data(self, batches, training=True)
        val = None
        if validation_data is not None:
            if isinstance(validation_data, (tuple, list)) and validation_data:
                vx, *rest = validation_data
                validation_data = (self._strings_as_arrays(vx), *rest)
            val = da.make_validation_batches(
                validation_data, validation_batch_size or batch_size, validation_steps
            )

        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                     model=self, verbose=verbose, epochs=epochs,
                                     steps=batches.steps)  # fmt: skip
        callback_list = timed_callbacks(callback_list)  # while kerasish.utils.profile runs
        resumption = FitResumption(self, callback_list, batches)
        self.stop_training = False
        callback_list.on_train_begin()
        logs, interrupted = {}, None
        try:
            with deferred_interrupts() as interrupts:
                logs = self._fit_epochs(batches, val, callback_list, interrupts, resumption,
                                        initial_epoch, epochs, validation_freq)  # fmt: skip
        except KeyboardInterrupt as error:  # the weights are those of the last whole step
            interrupted, logs = error, self._last_logs
        if hasattr(self.optimizer, "finalize_variable_values"):
            self.optimizer.finalize_variable_values(self.trainable_weights)  # EMA weights in
        callback_list.on_train_end(logs)
        self.history = next(c for c in callback_list.callbacks if isinstance(c, History))
        if interrupted is not None:
            raise interrupted
        return self.history

    def _fit_epochs(self, batches, val, callback_list, interrupts, resumption, initial_epoch,
                    epochs, validation_freq) -> dict:  # fmt: skip
        """The epoch loop of `fit`; returns the last logs (also kept in `_last_logs`, for an
        interrupted fit). A backup (`resumption`) is removed only when the loop completes."""
        logs = self._last_logs = {}
        for epoch in range(resumption.start(initial_epoch), epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            epoch_batches, first_step = resumption.begin_epoch(epoch)
            timed = profiling.timed(epoch_batches, "data", "batches")
            for step, batch in enumerate(timed, first_step):
                resumption.before_step(batch)
                callback_list.on_train_batch_begin(step)
                try:
                    logs = self._last_logs = self._run_step("train", batch)
                except NonFiniteError as error:  # say which training step, too
                    raise NonFiniteError(f"Epoch {epoch + 1}, batch {step}: {error}", error.op,
                                         error.origin, error.plan_step) from None  # fmt: skip
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
                resumption.after_step(epoch, step)
                interrupts.raise_if_pending()
            if getattr(batches, "ran_out", False):  # a generator with nothing left
                break
            epoch_logs = dict(logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                callback_list.on_test_begin()  # as Keras: the fit's callbacks see validation
                val_logs = self._evaluate_batches(val, callback_list)
                callback_list.on_test_end(val_logs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            if hasattr(batches, "on_epoch_end"):
                batches.on_epoch_end()
            logs = self._last_logs = epoch_logs
            interrupts.raise_if_pending()  # one that came during validation
            if self.stop_training:
                break
        resumption.finish()
        return logs

    def _evaluate_batches(self, batches, callback_list=None) -> dict:
        self.reset_metrics()
        logs = {}
        for step, batch in enumerate(profiling.timed(batches, "data", "batches")):
            if callback_list is not None:
                callback_list.on_test_batch_begin(step)
            logs = self._run_step("test", batch)
            if callback_list is not None:
                callback_list.on_test_batch_end(step, logs)
        return logs

    def _format_results(self, logs: dict, return_dict: bool):
        """A dict sorted by name (as Keras' `return_dict=True`), or the values in the step's
        order (the loss, then the compiled metrics in the order given to `compile`)."""
        if return_dict:
            return dict(sorted(logs.items()))
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):  # fmt: skip
        """The loss (and metrics) over the data: a scalar, `[loss, *metrics]`, or a dict.

        Arrays `x` and `y` that make one batch of the shapes the last evaluation step ran on,
        with `verbose=0`, no callbacks, no sample weights and no profile running, go straight
        to that step's compiled version, as a repeated `predict` does."""
        fast = self.__dict__.get("_fast_evaluate")
        if fast is not None and sample_weight is None and fast.matches_targets(y):
            array = fast_call.one_batch(self, fast, x, batch_size, steps, verbose, callbacks)
            if array is not None:
                da.check_finite(y, "y")
                self.reset_metrics()
                logs = to_python(nest.pack(fast.structure, iter(fast.run(array, y))))
                return self._format_results(logs, return_dict)
        from ..callbacks import CallbackList

        self._assert_compiled("evaluate")
        x = self._strings_as_arrays(x)
        verbose = da.check_verbose(verbose)
        batches = da.make_batches(x, y, sample_weight, batch_size, False, steps)
        data_checks.check_data(self, batches)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=batches.steps)  # fmt: skip
        callback_list = timed_callbacks(callback_list)  # while kerasish.utils.profile runs
        callback_list.on_test_begin()
        logs = self._evaluate_batches(batches, callback_list)
        results = self._format_results(logs, return_dict)  # before callbacks reorder the logs
        callback_list.on_test_end(logs)
        return results

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for `x`, batch by batch, as numpy arrays.

        An array that makes one batch of the shape the last `predict` (or `predict_on_batch`)
        ran on, with `verbose=0`, no callbacks and no profile running, goes straight to that
        call's compiled version (`fast_call`): the same checks and result, without the batching
        and callback machinery around it."""
        fast = self.__dict__.get("_fast_predict")
        if fast is not None and fast.fresh:
            array = fast_call.one_batch(self, fast, x, batch_size, steps, verbose, callbacks)
            if array is not None:
                return fast_call.as_arrays(fast, fast.run(array))
        from ..callbacks import CallbackList

        verbose = da.check_verbose(verbose)
        batches = da.make_batches(self._strings_as_arrays(x), None, None, batch_size, False, steps)
        data_checks.check_data(self, batches)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=batches.steps)  # fmt: skip
        callback_list = timed_callbacks(callback_list)  # while kerasish.utils.profile runs
        callback_list.on_predict_begin()
        outputs = []
        for step, batch in enumerate(profiling.timed(batches, "data", "batches")):
            callback_list.on_predict_batch_begin(step)
            outputs.append(self._run_step("predict", (batch[0], None, None)))
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError("predict() received no data.")
        flat = [
            np.concatenate(parts, axis=0)
            for parts in zip(*[nest.flatten(o) for o in outputs], strict=True)
        ]
        return nest.pack(outputs[0], iter(flat))

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch (metrics reset first, as Keras)."""
        self._assert_compiled("train_on_batch")
        x, y = da.to_arrays(self._strings_as_arrays(x), "x"), da.to_arrays(y, "y")
        sample_weight = da.class_weights_to_sample_weights(
            y, class_weight, da.to_arrays(sample_weight, "sample_weight")
        )
        da.num_samples(x, y, sample_weight)
        for structure, name in ((x, "x"), (y, "y"), (sample_weight, "sample_weight")):
            da.check_finite(structure, name)
        self.reset_metrics()
        logs = self._run_step("train", (x, y, sample_weight))
        return self._format_results(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One evaluation step on one batch (metrics reset first)."""
        self._assert_compiled("test_on_batch")
        x, y = da.to_arrays(self._strings_as_arrays(x), "x"), da.to_arrays(y, "y")
        da.num_samples(x, y, da.to_arrays(sample_weight, "sample_weight"))
        self.reset_metrics()
        logs = self._run_step("test", (x, y, da.to_arrays(sample_weight, "sample_weight")))
        return self._format_results(logs, return_dict)

    def predict_on_batch(self, x):
        """The model's outputs for one batch, as numpy arrays."""
        fast = self.__dict__.get("_fast_predict")
        if fast is not None and not self._run_eagerly:
            array = fast.matches(x, self._step_fns)
            if array is not None:
                return fast_call.as_arrays(fast, fast.run(array))
        return self._run_step(
            "predict", (da.to_arrays(self._strings_as_arrays(x), "x"), None, None)
        )
