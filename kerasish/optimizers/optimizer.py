"""`Optimizer`: the base every optimizer subclasses.

The base owns everything shared: the `iterations` counter, the learning rate (a
non-trainable float32 Variable, or a schedule), gradient clipping (`clipnorm`, `clipvalue`,
`global_clipnorm`), decoupled weight decay, loss-scale unscaling, skipping None gradients,
constraints, the moving average of the weights (`use_ema`), gradient accumulation and the
slot-variable bookkeeping. A subclass implements only `build` (its
slot Variables, through `add_optimizer_variables`) and `update_step`, both with ops and
`Variable.assign*`, so `apply_gradients` runs eagerly and inside a traced training step.
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

from backend import dtypes as dt
from backend import ops, profiling
from backend.variables import Variable

from .arguments import (
    check_ema_and_accumulation,
    check_learning_rate,
    check_positive,
)

# Keys tf.keras 2.x writes into optimizer configs; meaningless here, accepted and dropped.
_LEGACY_KEYS = ("jit_compile", "is_legacy_optimizer")


def _is_schedule(value) -> bool:
    return callable(value) and not isinstance(value, Variable)


def _schedule_takes_step(schedule) -> bool:
    """Keras calls a LearningRateSchedule with the step and a plain callable with nothing;
    we call any callable that takes a positional argument with the step."""
    try:
        params = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


def global_norm(tensors):
    """`sqrt(sum of squares of every element of every tensor)`."""
    squares = [ops.sum(ops.square(t)) for t in tensors]
    total = squares[0]
    for s in squares[1:]:
        total = ops.add(total, s)
    return ops.sqrt(total)


def _describe_pair(pair) -> str:
    if not isinstance(pair, (tuple, list)):
        return type(pair).__name__
    if len(pair) != 2:
        return f"a {type(pair).__name__} of {len(pair)} items"
    return f"({type(pair[0]).__name__}, {type(pair[1]).__name__})"


class Optimizer:
    """Base optimizer, with Keras 3's arguments.

    Args:
        learning_rate: a non-negative float (kept in a float32 Variable, so
            `opt.learning_rate = 0.01` works while training), or a schedule: a callable
            `schedule(iterations)` (or one taking no argument).
        weight_decay: decoupled decay, `w -= w * weight_decay * lr` before each update.
        clipnorm: clips each gradient to this L2 norm.
        clipvalue: clips each gradient elementwise to `[-clipvalue, clipvalue]`.
        global_clipnorm: scales all gradients together so their global norm is at most this.
            At most one of the three clipping arguments may be set.
        loss_scale_factor: gradients are divided by it before the update.
        name: the name (paths of slot variables start with it).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> w = keras.Variable([1.0, 2.0])
        >>> opt = keras.optimizers.SGD(learning_rate=0.5)
        >>> _ = opt.apply_gradients([(np.array([1.0, 1.0]), w)])
        >>> w.numpy().tolist(), int(opt.iterations)
        ([0.5, 1.5], 1)
    """

    # `update_step` and `update_variables` of this class update each element from the same
    # element of the gradient and the slots, so they may run over flat buffers (flat_state).
    _elementwise_update = True

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):  # fmt: skip
        from ..layers.layer import to_snake_case

        self.name = name or to_snake_case(type(self).__name__)
        owner = f"{type(self).__name__}"
        if kwargs.pop("decay", None):
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=2)  # fmt: skip
        for key in _LEGACY_KEYS:
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"{owner}: argument(s) not recognized: {kwargs}")
        check_ema_and_accumulation(owner, use_ema, ema_momentum, ema_overwrite_frequency,
                                    gradient_accumulation_steps)  # fmt: skip
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                    "global_clipnorm": global_clipnorm}  # fmt: skip
        if sum(v is not None for v in clipping.values()) > 1:
            set_ = ", ".join(f"{k}={v}" for k, v in clipping.items() if v is not None)
            raise ValueError(
                f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                f"set. Received: {set_}"
            )
        self.clipnorm = check_positive("clipnorm", clipnorm, owner)
        self.clipvalue = check_positive("clipvalue", clipvalue, owner)
        self.global_clipnorm = check_positive("global_clipnorm", global_clipnorm, owner)
        if weight_decay is not None and (
            isinstance(weight_decay, bool)
            or not isinstance(weight_decay, numbers.Real)
            or weight_decay < 0
        ):
            raise ValueError(
                f"{owner}: `weight_decay` must be a non-negative float. "
                f"Received: weight_decay={weight_decay!r}"
            )
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.loss_scale_factor = check_positive("loss_scale_factor", loss_scale_factor, owner)
        self.use_ema = bool(use_ema)
        self.ema_momentum = float(ema_momentum)
        self.ema_overwrite_frequency = ema_overwrite_frequency or None
        self.gradient_accumulation_steps = gradient_accumulation_steps or None
        self._averages: list = []  # EMA of each trainable variable (use_ema)
        self._accumulated_gradients: list = []  # summed gradients (gradient_accumulation_steps)

        self.built = False
        self._variables: list = []
        self._trainable_variables: list = []
        self._index: dict = {}  # id(trainable variable) -> its index
        self._exclude_ids: set = set()
        self._exclude_names: tuple = ()
        self._made_slot_lists: list = []  # the lists add_optimizer_variables returned
        self._making_slot_lists = False
        self._slots_outside_lists = False  # a slot made by add_variable_from_reference alone
        self._flat_state = None  # the flat buffers, once a compiled step applied (flat_state)
        self._iterations = self._track(Variable(np.int64(0), dtype="int64", trainable=False,
                                                name="iteration"))  # fmt: skip
        if _is_schedule(learning_rate):
            self._learning_rate = learning_rate
        else:
            value = check_learning_rate(learning_rate, owner)
            self._learning_rate = self._track(
                Variable(np.float32(value), dtype="float32", trainable=False, name="learning_rate")
            )

    # ---- variables ---------------------------------------------------------------------------

    def _track(self, variable: Variable) -> Variable:
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    @property
    def variables(self) -> list:
        """iterations, the learning rate (unless a schedule), then the slots in build order."""
        return list(self._variables)

    @property
    def iterations(self):
        """The number of updates applied so far: the int64 Variable counting `apply` calls,
        or, with `gradient_accumulation_steps=n`, that count // n (as Keras)."""
        if self.gradient_accumulation_steps:
            return ops.floor_divide(self._iterations, np.int64(self.gradient_accumulation_steps))
        return self._iterations

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     name=None) -> Variable:  # fmt: skip
        """A non-trainable Variable tracked by this optimizer."""
        dtype = dt.standardize_dtype(dtype)
        return self._track(Variable(initializer, shape=tuple(shape), dtype=dtype,
                                    trainable=False, name=name))  # fmt: skip

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot Variable shaped like `reference_variable`, named `<its path>_<name>` with
        '/' replaced by '_', as Keras (`dense_kernel_momentum`)."""
        base = reference_variable.path.replace("/", "_")
        if not self._making_slot_lists:
            self._slots_outside_lists = True
        return self.add_variable(reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype,
                                 name=f"{base}_{name}" if name else base)  # fmt: skip

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name in `name` (a str or a list); for several
        names the slots are created interleaved per variable (Keras' file order). Returns a
        list, or a tuple of lists when `name` is a list."""
        names = [name] if isinstance(name, str) else list(name)
        inits = (
            list(initializer)
            if isinstance(initializer, (list, tuple))
            else [initializer] * len(names)
        )
        slots = tuple([] for _ in names)
        self._making_slot_lists = True
        try:
            for variable in trainable_variables:
                for i, (slot_name, init) in enumerate(zip(names, inits, strict=True)):
                    slots[i].append(self.add_variable_from_reference(variable, slot_name, init))
        finally:
            self._making_slot_lists = False
        self._made_slot_lists.extend(slots)
        return slots[0] if isinstance(name, str) else slots

    def _get_variable_index(self, variable) -> int:
        return self._index[id(variable)]

    def build(self, variables) -> None:
        """Records the variables this optimizer updates; subclasses then add their slots."""
        variables = list(variables)
        if self.use_ema:
            self._averages = self.add_optimizer_variables(variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = self.add_optimizer_variables(
                variables, "gradient_accumulator"
            )
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self.built = True

    # ---- learning rate ---------------------------------------------------------------------

    @property
    def learning_rate(self):
        """The current learning rate: the Variable itself, or the schedule's value now."""
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if _is_schedule(value):
            self._learning_rate = value
            return
        if _is_schedule(self._learning_rate):
            raise TypeError(
                f"{type(self).__name__} was created with a learning rate schedule, so its "
                "learning rate cannot be set to a number."
            )
        self._learning_rate.assign(np.float32(check_learning_rate(value, type(self).__name__)))

    def _get_current_learning_rate(self):
        lr = self._learning_rate
        if not _is_schedule(lr):
            return lr
        value = lr(self._iterations) if _schedule_takes_step(lr) else lr()
        return ops.cast(ops.convert_to_tensor(value), "float32")

    # ---- applying gradients ------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars):
        """Applies `(gradient, variable)` pairs; returns `iterations`."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        if (
            len(pairs) == 2
            and isinstance(pairs[1], (list, tuple))
            and pairs[1]
            and all(isinstance(v, Variable) for v in pairs[1])
        ):
            raise TypeError(
                f"{type(self).__name__}.apply_gradients expects (gradient, Variable) pairs. "
                "Received a list of gradients and a list of variables: pass "
                "zip(grads, variables), or use apply(grads, variables)."
            )
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2) or not isinstance(
                pair[1], Variable
            ):
                raise TypeError(
                    f"{type(self).__name__}.apply_gradients expects (gradient, Variable) pairs, "
                    f"as zip(grads, model.trainable_weights) gives. Received at position {i}: "
                    f"{_describe_pair(pair)}"
                )
        grads, variables = zip(*pairs, strict=True)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None) -> None:
        """Updates `trainable_variables` (or those the optimizer was built with) from
        `grads` (Tensors or arrays; None entries are skipped with a warning)."""
        with profiling.phase("optimizer"):
            self._apply(grads, trainable_variables)

    def _apply(self, grads, trainable_variables) -> None:
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{type(self).__name__}: when `grads` come without variables, the "
                    "optimizer must already be built on a list of variables "
                    "(call `build(variables)` or pass `trainable_variables`)."
                )
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
                self.built = True
            self._check_known(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"{type(self).__name__}: got {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        grads, trainable_variables = self._filter_empty_gradients(grads, trainable_variables)
        grads = [ops.convert_to_tensor(g) for g in grads]
        for g, v in zip(grads, trainable_variables, strict=True):
            if tuple(g.shape) != tuple(v.shape):
                raise ValueError(
                    f"{type(self).__name__}: the gradient for '{v.path}' has shape "
                    f"{tuple(g.shape)}, but the variable has shape {tuple(v.shape)}."
                )
        if self.loss_scale_factor is not None:
            grads = [ops.divide(g, self.loss_scale_factor) for g in grads]
        if self.gradient_accumulation_steps:
            self._accumulate_then_update(grads, trainable_variables)
        else:
            self._update(grads, trainable_variables)
        if self.use_ema:
            self._update_moving_averages()
        for variable in trainable_variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))
        self._iterations.assign_add(np.int64(1))

    def _update(self, grads, trainable_variables) -> None:
        """Clipping, weight decay, then each variable's `update_step`; in a compiled step,
        one `update_step` over the flat buffers for the Variables placed in them
        (`flat_state.py`)."""
        from .flat_state import split_for_flat

        grads = self._clip_gradients(grads)
        learning_rate = self.learning_rate
        state, flat_grad, grads, trainable_variables = split_for_flat(
            self, grads, trainable_variables
        )
        self._apply_weight_decay(trainable_variables, learning_rate)
        if state is None:
            self.update_variables(grads, trainable_variables, learning_rate)
            return
        flat = state.params.variable
        if self.weight_decay:  # split_for_flat checked that it applies to every placed one
            self._decay(flat, learning_rate)
        with state.slots_with_flat(self):
            self.update_variables([*grads, flat_grad], [*trainable_variables, flat],
                                  learning_rate)  # fmt: skip

    def update_variables(self, grads, trainable_variables, learning_rate) -> None:
        """Runs `update_step` per variable (a subclass may override it to update them all at
        once, or to update optimizer-wide state first, as Nadam)."""
        for grad, variable in zip(grads, trainable_variables, strict=True):
            self.update_step(grad, variable, learning_rate)

    def _accumulate_then_update(self, grads, trainable_variables) -> None:
        """Keras' (JAX backend's) gradient accumulation, without branches so it traces: every
        n-th call updates from the mean of the last n gradients and zeroes the sums; the other
        calls add to the sums. The update is computed every call and kept only on update
        calls, so variables and slots are selected between their old and new values."""
        steps = self.gradient_accumulation_steps
        is_update = ops.equal(
            ops.mod(ops.add(self._iterations, np.int64(1)), np.int64(steps)), np.int64(0)
        )
        sums = [
            self._accumulated_gradients[self._get_variable_index(v)] for v in trainable_variables
        ]
        state = [*trainable_variables, *self._variables]
        before = [ops.add(ops.zeros_like(v), v) for v in state]  # reads taken now
        averaged = [
            ops.where(is_update, ops.divide(ops.add(g, ops.cast(s, g.dtype)), float(steps)), g)
            for g, s in zip(grads, sums, strict=True)
        ]
        new_sums = [
            ops.where(is_update, ops.zeros_like(s), ops.add(s, ops.cast(g, s.dtype)))
            for g, s in zip(grads, sums, strict=True)
        ]
        self._update(averaged, trainable_variables)
        for variable, old in zip(state, before, strict=True):
            variable.assign(ops.where(is_update, variable, old))
        for s, new in zip(sums, new_sums, strict=True):
            s.assign(new)

    def _update_moving_averages(self) -> None:
        """`average = m * average + (1 - m) * variable` with `m = ema_momentum`, except at
        iteration 0 where the average starts as the variable; every
        `ema_overwrite_frequency` iterations the variables take their averages."""
        iterations = self.iterations
        momentum = ops.multiply(
            ops.cast(ops.not_equal(iterations, np.int64(0)), "float32"), self.ema_momentum
        )
        for variable, average in zip(self._trainable_variables, self._averages, strict=True):
            m = ops.cast(momentum, variable.dtype)
            average.assign(ops.add(ops.multiply(m, average),
                                   ops.multiply(ops.subtract(1.0, m), variable)))  # fmt: skip
        if self.ema_overwrite_frequency:
            overwrite = ops.equal(
                ops.mod(ops.add(iterations, np.int64(1)), np.int64(self.ema_overwrite_frequency)),
                np.int64(0),
            )
            for variable, average in zip(self._trainable_variables, self._averages, strict=True):
                variable.assign(ops.where(overwrite, average, variable))

    def finalize_variable_values(self, var_list=None) -> None:
        """With `use_ema`, sets each variable to its moving average (`fit` calls this after
        the last epoch); otherwise does nothing."""
        if not self.use_ema:
            return
        var_list = self._trainable_variables if var_list is None else list(var_list)
        if len(var_list) != len(self._averages):
            raise ValueError(
                f"{type(self).__name__}: got {len(var_list)} variables to overwrite with their "
                f"moving averages, but the optimizer holds {len(self._averages)}."
            )
        for variable, average in zip(var_list, self._averages, strict=True):
            variable.assign(average)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Updates one variable from its gradient (written with ops and `assign*`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_step`.")

    def _check_known(self, variables) -> None:
        for v in variables:
            if id(v) not in self._index:
                raise ValueError(
                    f"{type(self).__name__}: unknown variable '{getattr(v, 'path', v)}'. This "
                    "optimizer can only update the variables it was built with; make a new "
                    "optimizer for a new set of variables."
                )

    def _filter_empty_gradients(self, grads, variables):
        kept = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        if not kept:
            raise ValueError(f"{type(self).__name__}: no gradients provided for any variable.")
        if len(kept) < len(grads):
            missing = [v.path for g, v in zip(grads, variables, strict=True) if g is None]
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. "
                "If using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=3,
            )
        return [g for g, _ in kept], [v for _, v in kept]

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            return [self._clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            norm = global_norm(grads)
            # min(1, clip / norm), written so a zero norm gives 1 (and a NaN norm NaN).
            scale = ops.divide(self.global_clipnorm, ops.maximum(norm, self.global_clipnorm))
            return [ops.multiply(g, ops.cast(scale, g.dtype)) for g in grads]
        if self.clipvalue is not None:
            return [ops.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    @staticmethod
    def _clip_by_norm(values, clip_norm: float):
        """`values * clip_norm / max(||values||, clip_norm)`."""
        l2sum = ops.sum(ops.square(values))
        positive = ops.greater(l2sum, 0.0)
        l2norm = ops.where(positive, ops.sqrt(ops.where(positive, l2sum, 1.0)), l2sum)
        return ops.divide(ops.multiply(values, clip_norm), ops.maximum(l2norm, clip_norm))

    # ---- weight decay ------------------------------------------------------------------------

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempts variables (or those whose path contains one of `var_names`) from decay."""
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_names = tuple(var_names or ())

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        path = getattr(variable, "path", "")
        return not any(name in path for name in self._exclude_names)

    def _apply_weight_decay(self, variables, learning_rate) -> None:
        if not self.weight_decay:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                self._decay(variable, learning_rate)

    def _decay(self, variable, learning_rate) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        decay = ops.multiply(ops.multiply(variable, self.weight_decay), lr)
        variable.assign(ops.subtract(variable, decay))

    # ---- state -----------------------------------------------------------------------------

    def save_own_variables(self, store) -> None:
        """Writes the variables' values to `store["0"]`, `store["1"]`, ... (Keras' layout)."""
        for i, v in enumerate(self._variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store) -> None:
        """Restores what `save_own_variables` wrote (the optimizer must be built)."""
        if len(store.keys()) != len(self._variables):
            raise ValueError(
                f"{type(self).__name__}: the store holds {len(store.keys())} variables, but "
                f"the optimizer has {len(self._variables)} (is it built on the same model?)."
            )
        for i, v in enumerate(self._variables):
            v.assign(np.asarray(store[str(i)]))

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, Variable):
            lr = float(lr.numpy())
        elif hasattr(lr, "get_config"):
            from . import schedules

            lr = schedules.serialize(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            from . import schedules

            config["learning_rate"] = schedules.deserialize(lr, custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
