"""Linear algebra: matmul (batched, broadcasting), dot and einsum.

`matmul` is the one primitive: rank >= 2 operands whose batch dims broadcast. `dot` and
`einsum` are composites that bring their operands into one batched matmul with transposes
and reshapes, so they need no gradient code.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Spec
from .base import Op, apply, broadcast_shapes, convert, promote
from .elementwise import cast, multiply
from .reduce import sum as reduce_sum
from .shape import expand_dims, reshape, squeeze, swapaxes, transpose

__all__ = ["dot", "einsum", "matmul"]


# ---- matmul ----------------------------------------------------------------------------------


def _matmul_error(x1: tuple, x2: tuple, why: str) -> ValueError:
    return ValueError(f"matmul: {why}. Received: x1.shape={tuple(x1)}, x2.shape={tuple(x2)}")


class MatmulOp(Op):
    """`x1 @ x2` for operands of rank >= 2: `(..., m, k) @ (..., k, n) -> (..., m, n)`,
    with the batch dims `...` broadcast (autodiff sums the gradient back over them)."""

    name = "matmul"

    def infer(self, x1, x2):
        if x1.dtype != x2.dtype:
            raise TypeError(
                "matmul: both inputs must have one dtype (the public function promotes them). "
                f"Received: {x1.dtype} and {x2.dtype}"
            )
        if len(x1.shape) < 2 or len(x2.shape) < 2:
            raise _matmul_error(x1.shape, x2.shape, "the primitive needs operands of rank >= 2")
        k1, k2 = x1.shape[-1], x2.shape[-2]
        if k1 is not None and k2 is not None and k1 != k2:
            raise _matmul_error(x1.shape, x2.shape, f"inner dims {k1} and {k2} differ")
        try:
            batch = broadcast_shapes("matmul", x1.shape[:-2], x2.shape[:-2])
        except ValueError:
            raise _matmul_error(x1.shape, x2.shape, "batch dims do not broadcast") from None
        return Spec(batch + (x1.shape[-2], x2.shape[-1]), x1.dtype)

    def forward(self, ctx, x1, x2):
        if x1.ndim > 2 and x1.ndim >= x2.ndim and math.prod(x2.shape[:-2]) == 1:
            # (..., m, k) @ (k, n) as one GEMM: numpy would run one per leading index.
            rows = math.prod(x1.shape[:-1])
            out = np.reshape(x1, (rows, x1.shape[-1])) @ np.reshape(x2, x2.shape[-2:])
            return np.reshape(out, x1.shape[:-1] + x2.shape[-1:])
        return x1 @ x2

    def vjp(self, ctx, grads, needed):
        x1, x2 = ctx.inputs
        g = grads[0]
        return [
            apply(_MATMUL, (g, swapaxes(x2, -1, -2))) if 0 in needed else None,
            _weight_grad(x1, x2, g) if 1 in needed else None,
        ]


def _weight_grad(x1, x2, g):
    """The gradient of `x2` in `x1 @ x2`. For `(..., m, k) @ (k, n)` (a Dense on a sequence)
    it is one GEMM over all the rows, `(rows, k)^T @ (rows, n)`, where the batched form ran
    one small product per leading index and then summed them (for (32, 200, 128) inputs and
    a (128, 256) kernel: 5.1 ms and a sum of 0.7 ms against about 3 ms)."""
    k, n = x1.shape[-1], g.shape[-1]
    if len(x1.shape) > 2 and len(x2.shape) == 2 and k is not None and n is not None:
        rows_x, rows_g = reshape(x1, (-1, k)), reshape(g, (-1, n))
        return apply(_MATMUL, (swapaxes(rows_x, -1, -2), rows_g))
    return apply(_MATMUL, (swapaxes(x1, -1, -2), g))


_MATMUL = MatmulOp()


def matmul(x1, x2):
    """Matrix product of `x1` and `x2` (numpy's `matmul`): batch dims broadcast, a 1-D
    operand is a vector (a dim added for the product and removed after). int8 @ int8 gives
    int32; other mixed dtypes promote as Keras does.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.matmul(keras.ops.ones((2, 1, 3, 4)), keras.ops.ones((5, 4, 2))).shape
        (2, 5, 3, 2)
    """
    x1, x2 = convert(x1), convert(x2)
    s1, s2 = tuple(x1.shape), tuple(x2.shape)
    if not s1 or not s2:
        raise _matmul_error(s1, s2, "operands must have rank >= 1 (use multiply for scalars)")
    k1, k2 = s1[-1], s2[0] if len(s2) == 1 else s2[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise _matmul_error(s1, s2, f"inner dims {k1} and {k2} differ")
    if x1.dtype == "int8" and x2.dtype == "int8":
        x1, x2 = cast(x1, "int32"), cast(x2, "int32")
    else:
        x1, x2 = promote(x1, x2)
    if len(s1) == 1:
        x1 = expand_dims(x1, 0)
    if len(s2) == 1:
        x2 = expand_dims(x2, -1)
    out = apply(_MATMUL, (x1, x2))
    if len(s1) == 1 and len(s2) == 1:
        return squeeze(out, (-2, -1))
    if len(s1) == 1:
        return squeeze(out, -2)
    if len(s2) == 1:
        return squeeze(out, -1)
    return out


# ---- dot -------------------------------------------------------------------------------------


def dot(x1, x2):
    """numpy's `dot`: a product by scalars, the inner product of vectors, and otherwise the
    sum over the last axis of `x1` and the second-to-last of `x2` (the last when 1-D):
    `dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])`."""
    x1, x2 = convert(x1), convert(x2)
    s1, s2 = tuple(x1.shape), tuple(x2.shape)
    if not s1 or not s2:
        return multiply(x1, x2)
    if len(s1) == 1 or len(s2) <= 2:
        return matmul(x1, x2)  # the same sums as numpy's dot for these ranks
    k = s1[-1] if s1[-1] is not None else s2[-2]
    if s1[-1] is not None and s2[-2] is not None and s1[-1] != s2[-2]:
        raise ValueError(
            f"dot: the last dim of x1 ({s1[-1]}) must equal the second-to-last dim of x2 "
            f"({s2[-2]}). Received: x1.shape={s1}, x2.shape={s2}"
        )
    # (a..., k) . (b..., k, n): one 2-D matmul (prod(a...), k) @ (k, prod(b...) * n).
    rank2 = len(s2)
    b = transpose(x2, (rank2 - 2, *range(rank2 - 2), rank2 - 1))
    b = reshape(b, _target("dot", (k, _prod(s2[:-2] + s2[-1:]))))
    a = x1 if len(s1) == 2 else reshape(x1, _target("dot", (None, k)))
    return reshape(matmul(a, b), _target("dot", s1[:-1] + s2[:-2] + s2[-1:]))


def _prod(dims: tuple):
    return None if any(d is None for d in dims) else math.prod(dims)


def _target(op_name: str, shape: tuple) -> tuple:
    if list(shape).count(None) > 1:
        raise ValueError(
            f"{op_name}: the result shape {shape} has more than one unknown dim, which a "
            "reshape cannot express."
        )
    return tuple(-1 if d is None else d for d in shape)


# ---- einsum ------------------------------------------------------------------------------


def _parse_einsum(subscripts: str, shapes: list):
    """Returns `(labels per operand, output labels)`. Labels are letters, or `...0`,
    `...1`, ... for the dims an ellipsis covers (right-aligned across operands)."""
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: more than one '->'. Received: subscripts={subscripts!r}")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: the subscripts name {len(terms)} operands but {len(shapes)} were given. "
            f"Received: subscripts={subscripts!r}"
        )
    for term in [*terms, rhs]:
        letters = term.replace("...", "")
        if not all(c.isalpha() for c in letters) or term.count("...") > 1:
            raise ValueError(
                f"einsum: invalid subscript {term!r} (letters and at most one '...'). "
                f"Received: subscripts={subscripts!r}"
            )
    n_ellipsis = []
    for i, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        named = len(term.replace("...", ""))
        extra = len(shape) - named
        if extra < 0 or (extra and "..." not in term):
            raise ValueError(
                f"einsum: operand {i} has shape {tuple(shape)} but its subscript {term!r} "
                f"names {named} dims. Received: subscripts={subscripts!r}"
            )
        n_ellipsis.append(extra if "..." in term else 0)
    width = max(n_ellipsis)
    ellipsis = [f"...{j}" for j in range(width)]

    def expand(term, count):
        head, dots, tail = term.partition("...")
        return [*head, *(ellipsis[width - count :] if dots else []), *tail]

    labels = [expand(t, n) for t, n in zip(terms, n_ellipsis, strict=True)]
    for term, ls in zip(terms, labels, strict=True):
        if len(set(ls)) != len(ls):
            raise ValueError(
                f"einsum: repeated index in {term!r}; diagonals and traces are not supported. "
                f"Received: subscripts={subscripts!r}"
            )
    counts = {}
    for ls in labels:
        for label in ls:
            counts[label] = counts.get(label, 0) + 1
    if arrow:
        if width and "..." not in rhs:
            raise ValueError(
                "einsum: the inputs have '...' dims, so the output must have '...' too. "
                f"Received: subscripts={subscripts!r}"
            )
        out = expand(rhs, width)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: repeated output index. Received: subscripts={subscripts!r}")
        missing = [label for label in out if label not in counts]
        if missing:
            raise ValueError(
                f"einsum: output index {missing[0]!r} appears in no input. "
                f"Received: subscripts={subscripts!r}"
            )
    else:
        out = ellipsis + sorted(c for c, n in counts.items() if n == 1 and len(c) == 1)
    # One size per label; only the dims an ellipsis covers may broadcast from 1.
    sizes = {}
    for ls, shape in zip(labels, shapes, strict=True):
        for label, d in zip(ls, shape, strict=True):
            seen = sizes.get(label)
            if d is None or seen == d:
                continue
            if seen is None:
                sizes[label] = d
            elif label.startswith("...") and 1 in (seen, d):
                sizes[label] = max(seen, d)
            else:
                raise ValueError(
                    f"einsum: index {label!r} has sizes {seen} and {d}. Received: "
                    f"subscripts={subscripts!r}, shapes={[tuple(s) for s in shapes]}"
                )
    return labels, out


def _sum_out(x, labels: list, keep) -> tuple:
    """Sums `x` over the dims whose labels are not in `keep`."""
    axes = tuple(i for i, label in enumerate(labels) if label not in keep)
    if not axes:
        return x, labels
    return reduce_sum(x, axis=axes), [label for label in labels if label in keep]


def _permute(x, labels: list, order: list):
    if labels == order:
        return x
    return transpose(x, [labels.index(label) for label in order])


def _group(x, n_batch: int, groups: list):
    """Reshapes the dims after the first `n_batch` into one dim per group (`groups` holds
    the dims of `x` in each), skipping the reshape when each group has one dim."""
    if all(len(g) == 1 for g in groups):
        return x
    return reshape(x, _target("einsum", tuple(x.shape)[:n_batch] + tuple(map(_prod, groups))))


def _contract(a, la: list, b, lb: list, keep):
    """Contracts two operands with one batched matmul; returns the result and its labels."""
    a, la = _sum_out(a, la, set(lb) | keep)
    b, lb = _sum_out(b, lb, set(la) | keep)
    for label in [label for label in la if label in lb and label not in keep]:
        # A contracted '...' dim of size 1 on one side: sum the other side over it first.
        da, db = a.shape[la.index(label)], b.shape[lb.index(label)]
        if da == 1 and db != 1:
            b = reduce_sum(b, axis=lb.index(label), keepdims=True)
        elif db == 1 and da != 1:
            a = reduce_sum(a, axis=la.index(label), keepdims=True)
    batch = [label for label in la if label in lb and label in keep]
    contracted = [label for label in la if label in lb and label not in keep]
    free_a = [label for label in la if label not in lb]
    free_b = [label for label in lb if label not in la]
    nb = len(batch)
    size = dict(zip(la, a.shape, strict=True)) | dict(zip(lb, b.shape, strict=True))
    dims_a = tuple(size[label] for label in free_a)
    dims_k = tuple(size[label] for label in contracted)
    dims_b = tuple(size[label] for label in free_b)
    batch_a = tuple(a.shape[la.index(label)] for label in batch)
    batch_b = tuple(b.shape[lb.index(label)] for label in batch)
    batch_out = broadcast_shapes("einsum", batch_a, batch_b)
    reshapes = [
        batch_a + (_prod(dims_a), _prod(dims_k)),
        batch_b + (_prod(dims_k), _prod(dims_b)),
        batch_out + dims_a + dims_b,
    ]
    if all(shape.count(None) <= 1 for shape in reshapes):
        # (batch, free_a, k) @ (batch, k, free_b): each group merged into one dim, so the
        # product is as few GEMMs as possible.
        a = _group(_permute(a, la, batch + free_a + contracted), nb, [dims_a, dims_k])
        b = _group(_permute(b, lb, batch + contracted + free_b), nb, [dims_k, dims_b])
        out = matmul(a, b)
        if len(free_a) != 1 or len(free_b) != 1:
            out = reshape(out, _target("einsum", reshapes[2]))
        return out, batch + free_a + free_b
    # Several unknown free dims, which a reshape cannot merge: keep all but the last free
    # dim of each side apart as broadcast batch dims of the matmul instead,
    # (batch, fa..., 1..., fa_last, k) @ (batch, 1..., fb..., k, fb_last).
    if len(contracted) > 1:
        raise ValueError(
            f"einsum: cannot contract several dims ({contracted}) of operands with several "
            "unknown dims."
        )
    ea, eb = max(len(free_a) - 1, 0), max(len(free_b) - 1, 0)
    a = _permute(a, la, batch + free_a + contracted)
    if not contracted:
        a = expand_dims(a, -1)
    if not free_a:
        a = expand_dims(a, -2)
    if eb:
        a = expand_dims(a, tuple(range(nb + ea, nb + ea + eb)))
    b = _permute(b, lb, batch + free_b[:-1] + contracted + free_b[-1:])
    if not free_b:
        b = expand_dims(b, -1)
    if not contracted:
        b = expand_dims(b, -2)
    if ea:
        b = expand_dims(b, tuple(range(nb, nb + ea)))
    out = matmul(a, b)
    dummies = (() if free_a else (-2,)) + (() if free_b else (-1,))
    if dummies:
        out = squeeze(out, dummies)
    return out, batch + free_a[:-1] + free_b[:-1] + free_a[-1:] + free_b[-1:]


def einsum(subscripts, *operands):
    """Einstein summation over `operands`, as numpy's `einsum` (explicit `->` output or the
    implicit one, `...` for broadcast dims). Repeated indices within one operand (diagonals,
    traces) are not supported. Two operands become one batched matmul; more are contracted
    left to right.

    Example:
        >>> import kerasish as keras
        >>> q, k = keras.ops.ones((2, 5, 4, 8)), keras.ops.ones((2, 6, 4, 8))
        >>> keras.ops.einsum("bqhd,bkhd->bhqk", q, k).shape
        (2, 4, 5, 6)
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string. Received: {subscripts!r}")
    if not operands:
        raise ValueError("einsum: needs at least one operand.")
    operands = promote(*operands)
    labels, out = _parse_einsum(subscripts, [tuple(x.shape) for x in operands])
    x, lx = operands[0], labels[0]
    for i in range(1, len(operands)):
        keep = set(out).union(*labels[i + 1 :])
        x, lx = _contract(x, lx, operands[i], labels[i], keep)
    x, lx = _sum_out(x, lx, set(out))
    return _permute(x, lx, out)
