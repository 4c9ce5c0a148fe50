"""Reverse-mode differentiation over recorded nodes, and `GradientTape` for eager code.

All gradient bookkeeping lives here, once: the topological walk, accumulation, summing a
broadcast gradient back to its input's shape, casting it to the input's dtype, and skipping
integer inputs. The same walk serves eager tapes and symbolic (traced) graphs; vjps are
written with ops, so a gradient computed while an outer tape records can be differentiated
again, and a gradient of a symbolic graph is itself a symbolic graph.
"""

from __future__ import annotations

from . import dtypes as dt
from . import ops, profiling
from .nest import flatten as _flatten
from .nest import pack as _pack
from .ops.base import TensorTypes, convert
from .origins import gradient_of
from .tensor import SymbolicTensor, Tensor, active_tapes, current_trace
from .variables import Variable


def _key(x) -> int:
    """Gradients of a Variable's reads accumulate on the Variable itself."""
    return id(x._variable if x._variable is not None else x)


def _producer(x, tape):
    """The node that produced `x`, if this walk may go through it."""
    node = x._node
    if node is None:
        return None
    # Eager nodes belong to the tapes that recorded them; symbolic nodes (a traced
    # function's graph) are differentiable by any tape used inside the trace.
    if tape is not None and node.tapes and tape not in node.tapes:
        return None
    return node


def _unbroadcast(grad, shape: tuple):
    """Sums `grad` over the dims along which a value of `shape` was broadcast. The result
    has the input's rank and compatible dims, so no reshape (which could not express
    several unknown dims) is needed."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = len(grad.shape) - len(shape)
    if lead:
        grad = ops.sum(grad, axis=tuple(range(lead)))
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and grad.shape[i] != 1)
    if ones:
        grad = ops.sum(grad, axis=ones, keepdims=True)
    return grad


def gradients(targets, sources, output_gradients=None, *, tape=None, unconnected="none"):
    """Gradients of the sum of `targets` with respect to each of `sources` (flat lists).

    `output_gradients` (same length as `targets`, entries may be None) seed the walk
    instead of ones. Returns a list aligned with `sources`: a gradient, or None (or zeros
    when `unconnected="zero"`) where a source does not affect the targets.
    """
    with profiling.phase("backward"):
        return _gradients(targets, sources, output_gradients, tape, unconnected)


def _gradients(targets, sources, output_gradients, tape, unconnected):
    source_keys = {_key(s) for s in sources}
    # Post-order walk from the targets; `reaches` marks nodes with a source upstream.
    order, reaches, visiting = [], {}, set()
    for t in targets:
        node = _producer(t, tape)
        if node is None or id(node) in reaches:
            continue
        stack = [(node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                reaches[id(node)] = node.op.differentiable and any(
                    _key(x) in source_keys
                    or ((p := _producer(x, tape)) is not None and reaches.get(id(p), False))
                    for x in node.inputs
                )
                order.append(node)
                continue
            if id(node) in reaches or id(node) in visiting:
                continue
            visiting.add(id(node))
            stack.append((node, True))
            for x in node.inputs:
                parent = _producer(x, tape)
                if parent is not None and id(parent) not in reaches:
                    stack.append((parent, False))

    grads, pinned = {}, []

    def accumulate(x, g):
        k = _key(x)
        pinned.append(x)
        grads[k] = g if k not in grads else ops.add(grads[k], g)

    seeds = output_gradients or [None] * len(targets)
    for t, seed in zip(targets, seeds, strict=True):
        if not dt.is_float(t.dtype):
            continue
        accumulate(t, ops.ones_like(t) if seed is None else convert(seed, t.dtype))

    for node in reversed(order):
        if not reaches[id(node)]:
            continue
        outputs = node.outputs
        out_grads = [None if o is None else grads.get(_key(o)) for o in outputs]
        if all(g is None for g in out_grads):
            continue
        out_grads = [
            ops.zeros_like(o) if g is None and o is not None else g
            for o, g in zip(outputs, out_grads, strict=True)
        ]
        needed = tuple(
            i
            for i, x in enumerate(node.inputs)
            if dt.is_float(x.dtype)
            and (
                _key(x) in source_keys
                or ((p := _producer(x, tape)) is not None and reaches.get(id(p), False))
            )
        )
        if not needed:
            continue
        with gradient_of(origin_of(node)):
            in_grads = node.op.vjp(node, out_grads, needed)
        for i in needed:
            g = in_grads[i]
            if g is None:
                continue
            x = node.inputs[i]
            g = convert(g)
            if g.dtype != x.dtype:
                g = ops.cast(g, x.dtype)
            accumulate(x, _unbroadcast(g, x.shape))

    result = []
    for s in sources:
        g = grads.get(_key(s))
        if g is None and unconnected == "zero":
            g = ops.zeros_like(s)
        result.append(g)
    return result


class GradientTape:
    """Records eager ops so their gradients can be computed, as `tf.GradientTape`.

    Trainable Variables used inside the tape are watched automatically; other tensors are
    watched with `watch()`. `gradient()` returns Tensors in the structure of `sources`,
    None where a source is unconnected; a non-scalar target is summed. A non-persistent
    tape computes gradients once.

    Example:
        >>> import kerasish as keras
        >>> w = keras.Variable(3.0)
        >>> with keras.GradientTape() as tape:
        ...     y = w * w
        >>> float(tape.gradient(y, w))
        6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._watched = {}  # id -> object, pinned so ids stay unique
        self._used = False
        self._recording = False

    def __enter__(self):
        active_tapes().append(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        tapes = active_tapes()
        if self in tapes:
            tapes.remove(self)
        self._recording = False
        return False

    def watch(self, tensor) -> None:
        """Tracks `tensor` (a Tensor, a Variable, or a nested list/tuple/dict of them)."""
        for t in _flatten(tensor):
            if isinstance(t, SymbolicTensor):
                continue  # symbolic graphs are always differentiable
            if not isinstance(t, (Tensor, Variable)):
                raise TypeError(
                    "GradientTape.watch() takes Tensors or Variables; convert arrays first "
                    f"with ops.convert_to_tensor. Received: {type(t).__name__}"
                )
            if not dt.is_float(t.dtype):
                continue
            self._watched[id(t)] = t

    def _tracks(self, x) -> bool:
        if isinstance(x, SymbolicTensor):
            return True
        if isinstance(x, Tensor):
            if x._variable is not None:
                return self._tracks(x._variable)
            if id(x) in self._watched:
                return True
            node = x._node
            return node is not None and self in node.tapes
        if isinstance(x, Variable):
            return (self.watch_accessed_variables and x.trainable) or id(x) in self._watched
        return False

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """Gradients of `target` (a tensor or list of tensors, summed) with respect to
        `sources` (a tensor, Variable, or nested list/tuple/dict of them)."""
        if self._used and not self.persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can compute gradients only once. Create the "
                "tape with GradientTape(persistent=True) to call gradient() several times."
            )
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(
                "unconnected_gradients must be 'none' or 'zero'. Received: "
                f"unconnected_gradients={unconnected_gradients!r}"
            )
        self._used = True
        targets = _flatten(target)
        for t in targets:
            if not isinstance(t, TensorTypes):
                raise TypeError(
                    "GradientTape.gradient(): the target must be a tensor computed inside the "
                    f"tape. Received: {type(t).__name__}"
                )
        flat_sources = _flatten(sources)
        for s in flat_sources:
            if not isinstance(s, TensorTypes):
                raise TypeError(
                    "GradientTape.gradient(): sources must be Tensors or Variables. "
                    f"Received: {type(s).__name__}"
                )
        seeds = None
        if output_gradients is not None:
            seeds = _flatten(output_gradients)
            if len(seeds) != len(targets):
                raise ValueError(
                    f"output_gradients has {len(seeds)} entries for {len(targets)} targets"
                )
        # Only what this tape watched (or computed) can receive a gradient from it.
        tracked = [s for s in flat_sources if self._tracks(s)]
        found = dict(
            zip(
                map(id, tracked),
                gradients(targets, tracked, seeds, tape=self, unconnected=unconnected_gradients),
                strict=True,
            )
        )
        flat = [
            found[id(s)]
            if id(s) in found
            else (ops.zeros_like(s) if unconnected_gradients == "zero" else None)
            for s in flat_sources
        ]
        return _pack(sources, iter(flat))

    def reset(self) -> None:
        """Forgets everything recorded so far."""
        self._watched.clear()
        self._used = False


def origin_of(node) -> str | None:
    """The layer path `node` was traced in (None outside a trace or when unknown)."""
    trace = current_trace()
    entry = trace.origins.get(id(node)) if trace is not None else None
    return entry[1] if entry is not None else None
