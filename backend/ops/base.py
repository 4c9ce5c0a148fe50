"""The op contract and the one function that applies a primitive op.

A primitive is a subclass of `Op` with three methods side by side:

- `infer(*specs, **attrs)`: output `Spec`(s) from input specs; raises a clear error for bad
  shapes or dtypes. It runs on every call, eager or symbolic, so errors are identical.
- `forward(ctx, *arrays, **attrs)`: computes the output array(s) from numpy arrays.
- `vjp(ctx, grads, needed)`: the gradients for the input positions in `needed`, written
  with ops on `ctx.inputs` / `ctx.outputs` (so the backward is itself differentiable and
  traceable). Broadcast and dtype fix-ups are done once, in `autodiff`.

The lowercase public function (`ops.add`) converts its arguments and calls `apply`.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..config import nan_checks_enabled
from ..origins import NonFiniteError, current_origin
from ..tensor import (
    Node,
    Spec,
    SymbolicTensor,
    Tensor,
    active_tapes,
    current_trace,
    in_symbolic_scope,
    spec_of,
)
from ..variables import Variable

TensorTypes = (Tensor, Variable, SymbolicTensor)


class Op:
    """Base of every primitive op. Subclasses set `name` and implement the contract."""

    name = "op"
    # False for ops whose outputs carry no gradient (comparisons, argmax, random draws).
    differentiable = True
    # Positions of the inputs whose shape and dtype alone the op reads, never their values.
    shape_only: tuple = ()
    # True for ops whose `forward_into` takes `scratch=`: a dict a Plan keeps for each of
    # their steps, holding the step's work arrays from run to run (`memory.work_array`).
    uses_scratch = False

    def infer(self, *specs: Spec, **attrs):
        raise NotImplementedError

    def forward(self, ctx: Node, *arrays: np.ndarray, **attrs):
        raise NotImplementedError

    def vjp(self, ctx: Node, grads: list, needed: tuple) -> list:
        raise NotImplementedError(f"op '{self.name}' has no gradient")

    def traced_attrs(self, attrs: dict, trace) -> dict:
        """The attrs a node records while `trace` (a compiled function's trace) is active.
        The default keeps them; random draws bind their seed to the trace here, so a Plan
        draws in program order whatever order its steps run in."""
        return attrs

    def __repr__(self) -> str:
        return f"<Op {self.name}>"


def apply(op: Op, inputs, attrs: dict | None = None):
    """Applies `op` to converted `inputs` (Tensors, Variables or SymbolicTensors).

    Symbolic when any input is symbolic or a trace is active: records a Node and returns
    SymbolicTensor(s). Otherwise computes at once and returns Tensor(s); the node is kept
    only when an active GradientTape tracks one of the inputs.
    """
    attrs = attrs or {}
    specs = [spec_of(x) for x in inputs]
    out_specs = op.infer(*specs, **attrs)
    single = isinstance(out_specs, Spec)
    out_specs = (out_specs,) if single else tuple(out_specs)

    if in_symbolic_scope() or any(isinstance(x, SymbolicTensor) for x in inputs):
        trace = current_trace()
        if trace is not None:
            # A Variable assigned earlier in the traced code is read as its new value.
            inputs = tuple(trace.read(x) if isinstance(x, Variable) else x for x in inputs)
            attrs = op.traced_attrs(attrs, trace)
        node = Node(op, tuple(inputs), attrs)
        if trace is not None:  # for the profiler (the phase) and the NaN checks (the layer)
            trace.phase_of[id(node)] = trace.phase
            trace.origins[id(node)] = (node, current_origin())
        outputs = [SymbolicTensor(s.shape, s.dtype, node, i) for i, s in enumerate(out_specs)]
        node.set_outputs(outputs, weak=False)
        return outputs[0] if single else tuple(outputs)

    # Eager. A Variable is replaced by a read of its current value, so a later assign
    # cannot change what the recorded op saw.
    inputs = tuple(Tensor(x._value, variable=x) if isinstance(x, Variable) else x for x in inputs)
    node = Node(op, inputs, attrs)
    results = op.forward(node, *(x._value for x in inputs), **attrs)
    if single:
        results = (results,)
    outputs = []
    for result, spec in zip(results, out_specs, strict=True):
        array = np.asarray(result, dtype=spec.dtype)
        if array.shape != spec.shape:
            raise AssertionError(
                f"internal error: op '{op.name}' computed shape {array.shape} but inferred "
                f"{spec.shape}"
            )
        outputs.append(Tensor(array))
    if nan_checks_enabled():
        _check_finite_outputs(op, outputs)
    if op.differentiable:
        tapes = _recording_tapes(inputs)
        if tapes:
            node.tapes = tapes
            # One output is alive whenever a gradient can reach the node (whoever holds the
            # gradient's path holds it), so it is held weakly to avoid a reference cycle. A
            # vjp may need a sibling output the caller dropped, so several are held strongly.
            node.set_outputs(outputs, weak=len(outputs) == 1)
            for out in outputs:
                out._node = node
    return outputs[0] if single else tuple(outputs)


def _recording_tapes(inputs) -> tuple:
    tapes = active_tapes()
    if not tapes:
        return ()
    return tuple(t for t in tapes if any(t._tracks(x) for x in inputs))


# ---- argument conversion -------------------------------------------------------------


def convert(x, dtype=None):
    """Returns `x` as a Tensor, Variable or SymbolicTensor, casting to `dtype` if given.
    Python scalars, lists and numpy arrays become constant Tensors."""
    if isinstance(x, TensorTypes):
        if dtype is not None and x.dtype != dt.standardize_dtype(dtype):
            from .elementwise import cast

            return cast(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(v, TensorTypes) for v in x):
        # A list holding tensors (`ops.sum(model.losses)`) is stacked, so a gradient reaches
        # each entry and symbolic entries work.
        from .shape import stack

        return stack([convert(v, dtype) for v in x])
    return Tensor(dt.to_array(x, dtype))


def dtype_of(x):
    """The dtype of a value for promotion: a string, or a weak Python type for scalars."""
    if isinstance(x, TensorTypes):
        return x.dtype
    weak = dt.weak_type_of(x)
    if weak is not None:
        return weak
    return dt.to_array(x).dtype.name


def promote(*values, to_float: bool = False):
    """Converts `values` to one common dtype (Keras' rules, Python scalars weak).
    With `to_float`, integer and bool results become floatx (true division)."""
    kinds = [dtype_of(v) for v in values]
    if to_float:
        kinds.append(float)
    target = dt.result_type(*kinds)
    return tuple(convert(v, target) for v in values)


def normalize_axis(axis, ndim: int, op_name: str) -> tuple:
    """`axis` (None, int or sequence) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1):
            raise ValueError(
                f"{op_name}: axis {a} is out of range for a tensor of rank {ndim}. "
                f"Received: axis={axis}"
            )
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op_name}: repeated axis. Received: axis={axis}")
    return tuple(sorted(out))


def broadcast_shapes(op_name: str, *shapes) -> tuple:
    """numpy broadcasting over shapes that may hold None (unknown) dims."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded, strict=True):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shown = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"{op_name}: shapes {shown} cannot be broadcast together.")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def require_float(op_name: str, *specs: Spec) -> None:
    for s in specs:
        if not dt.is_float(s.dtype):
            raise TypeError(f"{op_name} expects a float tensor. Received: dtype={s.dtype}")


def _check_finite_outputs(op, outputs) -> None:
    """The eager side of `config.enable_nan_checks()`: the first op whose output holds a NaN
    or Inf raises, naming the op and the layer call it ran in."""
    for out in outputs:
        array = out._value
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            kind = "NaN" if np.isnan(array).any() else "Inf"
            origin = current_origin()
            where = f"in layer '{origin}'" if origin else "outside any layer"
            raise NonFiniteError(
                f"NaN check: the first {kind} came from op '{op.name}' {where} (run eagerly; "
                f"an output of shape {array.shape}).",
                op=op.name,
                origin=origin or "",
            )
