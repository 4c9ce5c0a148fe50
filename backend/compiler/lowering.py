"""How one node runs inside a Plan: a call that writes into preallocated outputs.

`lower(node)` returns `(run, elementwise)`, where `run(*inputs, *outputs)` computes the
node into its output buffers and `elementwise` says an output may overwrite a same-shaped
input that dies with it. Ops without a special case fall back to their `forward` and one
copy into the output buffer, so every op runs in a Plan; the hot ones write in place.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..ops.elementwise import BinaryOp, CastOp, UnaryOp

_ALWAYS_VIEWS = {"transpose", "expand_dims", "squeeze", "identity", "flat_slice"}


def is_view(node) -> bool:
    """Whether the node's output is a view of its input (computed once, not per run).
    A reshape is a view unless a transpose lies under it (then numpy would copy)."""
    name = node.op.name
    if name in _ALWAYS_VIEWS:
        return True
    if name != "reshape":
        return False
    x = node.inputs[0]
    while getattr(x, "_node", None) is not None and x._node.op.name in _ALWAYS_VIEWS | {"reshape"}:
        if x._node.op.name == "transpose":
            return False
        x = x._node.inputs[0]
    return True


def has_direct(node) -> bool:
    """Whether a lone elementwise node runs as a numpy call writing into `out` (else as a
    one-node generated kernel). Not when it broadcasts a row or a column: numpy's ufunc
    then allocates an iteration buffer (6 KB for a (128, 10) + (10,) add) on every call."""
    op = node.op
    if isinstance(op, CastOp):
        return True
    if not (isinstance(op, (UnaryOp, BinaryOp)) and isinstance(op._fn, np.ufunc)):
        return False
    out_shape = tuple(node.outputs[0].shape)
    return all(tuple(x.shape) == out_shape or math.prod(x.shape) == 1 for x in node.inputs)


def matmul(a, b, out):
    """A product step: `out = a @ b`, reading its operands as they are and keeping nothing
    (so a Plan may pass a caller's array as `a` or `b`: `inputs.py`)."""
    if a.ndim > 2 and b.ndim == 2:
        # (..., m, k) @ (k, n) as one GEMM over all rows.
        np.matmul(a.reshape(-1, a.shape[-1]), b, out=out.reshape(-1, out.shape[-1]))
    else:
        np.matmul(a, b, out=out)


def _bind_matmul(a, b, out):
    if a.ndim > 2 and b.ndim == 2:
        a, out = a.reshape(-1, a.shape[-1]), out.reshape(-1, out.shape[-1])
    if _dot_ready(a, b, out):
        # The same BLAS call through np.dot, which parses its arguments faster than the
        # matmul ufunc: 4-5 us less on a 60 us single-sample call of a 3-layer MLP.
        return functools.partial(np.dot, a, b, out)
    return functools.partial(np.matmul, a, b, out=out)


def _dot_ready(a, b, out) -> bool:
    """Whether np.dot computes `a @ b` into `out` as matmul would: 2-D C-contiguous float32
    or float64 arrays of one dtype."""
    return (
        a.ndim == b.ndim == 2
        and a.dtype == b.dtype == out.dtype
        and a.dtype in _BLAS_FLOATS
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and out.flags.c_contiguous
    )


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


matmul.bind = _bind_matmul


def _sparse_crossentropy(gradient: bool):
    """The fused sparse softmax crossentropy kernels, when the class axis is the last."""
    from ..kernels import nn

    if gradient:
        return lambda labels, logits, g, out: nn.sparse_softmax_xent_grad(logits, labels, g, out)
    return lambda labels, logits, out: nn.sparse_softmax_xent(logits, labels, out)


def _sum(node):
    """A sum over the leading axes of a float array with many short rows (a conv layer's bias
    gradient) runs as the column sum kernel; any other sum, or an input that is not
    C-contiguous, as np.sum. numpy adds row after row, fast for long rows: measured here (2
    cores), the kernel takes 0.41 ms for (86528, 32) against numpy's 1.5, 0.15 against 0.28
    for (15488, 64), 3.4 against 4.2 us for (128, 10), but loses at (128, 1024) or (16, 10)."""
    axes, keepdims = node.attrs["axes"], node.attrs["keepdims"]
    shape = tuple(node.inputs[0].shape)

    def run_sum(x, out):
        np.sum(x, axis=axes, keepdims=keepdims, out=out)

    leading = 0 < len(axes) < len(shape) and axes == tuple(range(len(axes)))
    leading = leading and None not in shape
    if str(node.inputs[0].dtype) not in ("float32", "float64") or not leading:
        return run_sum
    rows, cols = math.prod(shape[: len(axes)]), math.prod(shape[len(axes) :])
    if not (cols <= 128 and rows >= 4 * cols):
        return run_sum
    from ..kernels import reduce

    n_chunks = reduce.sum_rows_chunks(rows)  # the chunks' partial sums, made once
    scratch = np.empty((n_chunks, cols), str(node.inputs[0].dtype)) if n_chunks > 1 else None

    def run_column_sum(x, out):
        if not (x.flags.c_contiguous and out.flags.c_contiguous):
            run_sum(x, out)
            return
        reduce.sum_rows(x.reshape(rows, cols), out.reshape(cols), scratch)

    return run_column_sum


def _small_op_into(node):
    """Ops whose `forward` would allocate its result on every run, written into their
    output instead (the steady state of a Plan allocates nothing)."""
    op, attrs = node.op, node.attrs
    name = op.name
    if name == "full_like":
        fill = attrs["fill_value"]
        return lambda x, out: out.fill(fill)
    if name == "broadcast_like":
        return lambda x, like, out: np.copyto(out, x)
    if name == "reshape":  # not a view (a transpose lies under it): copied in C order
        return lambda x, out: np.copyto(out.reshape(x.shape), x)
    if name == "concatenate":  # inputs of one dtype (the public function promotes them)
        axis = attrs["axis"]
        return lambda *arrays: np.concatenate(arrays[:-1], axis=axis, out=arrays[-1])
    if name == "split":  # each piece copied from its range of x (its output's extent)
        axis, n_out = attrs["axis"], len(node.outputs)

        def run_split(*arrays):
            x, outs = arrays[0], arrays[len(arrays) - n_out :]
            index, start = [slice(None)] * x.ndim, 0
            for out in outs:
                index[axis] = slice(start, start + out.shape[axis])
                np.copyto(out, x[tuple(index)])
                start += out.shape[axis]

        return run_split
    if name in ("argmax", "argmin") and attrs.get("axis") is not None:
        scratch = np.empty(tuple(node.outputs[0].shape), np.intp)  # numpy's index type
        fn, axis, keepdims = op._fn, attrs["axis"], attrs["keepdims"]

        def run_arg(x, out):
            if x.size == 0:
                op.forward(None, x, **attrs)  # raises the op's error for an empty axis
            fn(x, axis=axis, keepdims=keepdims, out=scratch)
            np.copyto(out, scratch, casting="unsafe")

        return run_arg
    if name == "one_hot" and attrs["axis"] in (-1, len(node.inputs[0].shape)):
        from . import fusion

        labels = node.inputs[0]
        out_shape = tuple(node.outputs[0].shape)
        classes = np.arange(attrs["num_classes"], dtype=labels.dtype)
        dtype = str(node.outputs[0].dtype)
        value = "t0" if dtype == "bool" else f"np.{dtype}(t0)"
        body = ["t0 = (a0 == a1)", f"t1 = {value}"]
        run = fusion.runner(body, ["col", "row"], [1], out_shape, 2)
        return lambda x, out: run(x, classes, out)
    return None


def _unary_ufunc(ufunc):
    """A lone unary ufunc step. On a strided input (a transposed view) numpy would run its
    buffered loop, which allocates a buffer of up to 32 KB per call: x is copied into `out`
    first (a plain strided copy) and the ufunc runs there in place, with the same values."""

    def run(x, out):
        if _copied_first(x, out):
            np.copyto(out, x)
            ufunc(out, out=out)
        else:
            ufunc(x, out=out)

    return run


def _binary_ufunc(ufunc):
    """A lone binary ufunc step; a strided operand of the output's shape is copied into
    `out` first when the other operand is not `out`'s memory (`_unary_ufunc` says why)."""

    def run(a, b, out):
        if a.flags.c_contiguous and b.flags.c_contiguous:
            ufunc(a, b, out=out)
        elif _copied_first(a, out) and not np.may_share_memory(b, out):
            np.copyto(out, a)
            ufunc(out, b, out=out)
        elif _copied_first(b, out) and not np.may_share_memory(a, out):
            np.copyto(out, b)
            ufunc(a, out, out=out)
        else:
            ufunc(a, b, out=out)

    return run


def _copied_first(x, out) -> bool:
    """Whether operand x is a strided array that `out` can hold as it is (same shape and
    dtype), so it is copied there before the ufunc runs in place."""
    return not x.flags.c_contiguous and x.shape == out.shape and x.dtype == out.dtype


def lower(node):
    op = node.op
    attrs = node.attrs
    if isinstance(op, (UnaryOp, BinaryOp)) and isinstance(op._fn, np.ufunc):
        if isinstance(op, UnaryOp):
            return _unary_ufunc(op._fn), True
        return _binary_ufunc(op._fn), True
    if isinstance(op, CastOp):
        return (lambda x, out: np.copyto(out, x, casting="unsafe")), True
    if isinstance(op, UnaryOp) and op.into is not None:
        return op.into, True
    if op.name == "matmul":
        return matmul, False
    if (
        op.name.startswith("sparse_categorical_crossentropy")
        and attrs["axis"] == len(node.inputs[1].shape) - 1
    ):
        return _sparse_crossentropy(op.name.endswith("_grad")), False
    if op.name == "sum":
        return _sum(node), False

    if op.name in ("max_pool", "max_pool_grad", "average_pool", "average_pool_grad"):
        from ..ops import pool as pool_ops

        into = {
            "max_pool": pool_ops.max_pool_into,
            "max_pool_grad": pool_ops.max_pool_grad_into,
            "average_pool": pool_ops.average_pool_into,
            "average_pool_grad": pool_ops.average_pool_grad_into,
        }[op.name]

        return (lambda *arrays: into(*arrays, **attrs)), False

    if op.name in ("conv", "conv_transpose", "conv_filter_grad"):
        from ..ops import conv_primitives as cp

        into = {
            "conv": cp.conv_into,
            "conv_transpose": cp.conv_transpose_into,
            "conv_filter_grad": cp.conv_filter_grad_into,
        }[op.name]
        scratch = {}  # this node's work arrays (im2col columns, padded images), by shape

        return (lambda a, b, out: into(a, b, out, **attrs, scratch=scratch)), False

    into = _small_op_into(node)
    if into is not None:
        return into, False

    forward_into = getattr(op, "forward_into", None)
    if forward_into is not None:  # an op that writes into its output itself (random draws)
        if op.uses_scratch:
            scratch = {}  # this node's work arrays, kept from run to run
            return (lambda *arrays: forward_into(*arrays, **attrs, scratch=scratch)), False
        return (lambda *arrays: forward_into(*arrays, **attrs)), False

    n_out = len(node.outputs)

    def run_forward(*arrays):
        ins, outs = arrays[: len(arrays) - n_out], arrays[len(arrays) - n_out :]
        results = op.forward(None, *ins, **attrs)
        if n_out == 1:
            results = (results,)
        for out, result in zip(outs, results, strict=True):
            np.copyto(out, result, casting="unsafe")

    return run_forward, False
