"""Fusing chains of elementwise ops into one generated Numba kernel.

A fused group is a tree of elementwise nodes whose inner values have exactly one consumer
(inside the group) and are not graph outputs: its root's value is the only one anyone else
reads, so the whole tree runs as one pass over the output, reading each leaf once. Leaves
are *full* (the output's shape), *row* (broadcast along all but the last axis: a bias),
*col* (one value per row), *mid* (broadcast along middle axes: a (batch, 1, channels)
per-sample value over (batch, steps, channels), as a recurrent layer's dropout mask or a
global pooling's gradient), *tile* (the output's last two or more axes, repeated over the
leading ones: an attention projection's (heads, head size) bias) or *scalar* (one
element).

A group too small to pay for a compile runs without a kernel, with the kernel's bits: one of
one element as Python over numpy scalars (`runs_in_python`), one of at most
`fusion_numpy.MAX_ELEMENTS` elements as numpy calls (`fusion_numpy`).

Numba cannot cache functions compiled from strings, so each kernel's source is written to
`<cache dir>/generated/fused_<hash>.py` and imported from there (DESIGN.md: Kernels). The
source depends only on the expression and the leaf kinds, not on dtypes or sizes, so a new
batch size, or float64 instead of float32, reuses the same file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import operator
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import config
from ..ops.elementwise import BinaryOp, CastOp, UnaryOp, WhereOp
from . import fusion_numpy

# op name -> expression template over the argument names {0}, {1}, {2}.
TEMPLATES = {
    "negative": "-{0}",
    "exp": "np.exp({0})",
    "log": "np.log({0})",
    "log1p": "np.log1p({0})",
    "sqrt": "np.sqrt({0})",
    "tanh": "np.tanh({0})",
    "sigmoid": "(0.5 * (1.0 + np.tanh(0.5 * {0})))",
    # max(x, 0) as numpy's maximum gives it, in x's own dtype (`kernels.scalar_ops`).
    "relu": "relu_value({0})",
    "abs": "abs({0})",
    "sign": "np.sign({0})",
    "erf": "math.erf({0})",
    "add": "({0} + {1})",
    "subtract": "({0} - {1})",
    "multiply": "({0} * {1})",
    "divide": "({0} / {1})",
    "power": "({0} ** {1})",
    # NaN-propagating like numpy: a NaN on either side wins.
    "maximum": "({0} if ({0} >= {1} or {0} != {0}) else {1})",
    "minimum": "({0} if ({0} <= {1} or {0} != {0}) else {1})",
    "equal": "({0} == {1})",
    "not_equal": "({0} != {1})",
    "less": "({0} < {1})",
    "less_equal": "({0} <= {1})",
    "greater": "({0} > {1})",
    "greater_equal": "({0} >= {1})",
    "logical_and": "({0} and {1})",
    "logical_or": "({0} or {1})",
    "where": "({1} if {0} else {2})",
}


def expression(node, args: list) -> str | None:
    """The scalar expression of an elementwise node, or None when it cannot be fused."""
    op = node.op
    if op.name == "stop_gradient":  # the value itself (a read of an assigned Variable, say)
        return args[0]
    if isinstance(op, CastOp):
        dtype = node.attrs["dtype"]
        return f"({args[0]} != 0)" if dtype == "bool" else f"np.{dtype}({args[0]})"
    if isinstance(op, (UnaryOp, BinaryOp, WhereOp)) and op.name in TEMPLATES:
        return TEMPLATES[op.name].format(*args)
    return None


def leaf_kind(shape: tuple, out_shape: tuple) -> str | None:
    """How a value of `shape` is read by a loop over `out_shape`, or None if unsupported:
    "full", "scalar", "row" (broadcast along all but the last axis: a bias), "col" (one
    value per row, broadcast along the last axis: `x / sum(x, axis=-1, keepdims=True)`) or
    "mid" (the output's leading axes and last axis, 1 between them: `x * mask[:, None, :]`,
    read as rows of the last axis, output row r reading leaf row r // (rows per leaf row)) or
    "tile" (the output's last two or more axes, leading 1s aside: a (heads, size) bias over
    (batch, steps, heads, size), output row r reading leaf row r % (leaf rows))."""
    if tuple(shape) == tuple(out_shape):
        return "full"
    size = math.prod(shape)
    if size == 1:
        return "scalar"
    trimmed = tuple(shape)
    while trimmed and trimmed[0] == 1:
        trimmed = trimmed[1:]
    if out_shape and trimmed == (out_shape[-1],):
        return "row"
    if len(out_shape) >= 2 and tuple(shape) == (*out_shape[:-1], 1):
        return "col"
    if _broadcast_in_the_middle(tuple(shape), tuple(out_shape)):
        return "mid"
    if 2 <= len(trimmed) < len(out_shape) and trimmed == tuple(out_shape[-len(trimmed) :]):
        return "tile"
    return None


def _broadcast_in_the_middle(shape: tuple, out_shape: tuple) -> bool:
    """Whether `shape` is `out_shape` with axes 1 between some leading axes (at least one,
    not all of size 1) and the last axis."""
    if len(shape) != len(out_shape) or len(shape) < 3 or shape[-1] != out_shape[-1]:
        return False
    k = shape.index(1) if 1 in shape[:-1] else len(shape) - 1
    return (
        0 < k < len(shape) - 1
        and shape[:k] == out_shape[:k]
        and math.prod(shape[:k]) > 1
        and all(d == 1 for d in shape[k:-1])
    )


# Numba calls scalar libm for these (the llvmlite wheels have no SVML), which measured up to
# 25x slower than numpy's vectorized loops (tanh over 128x512: 927 us against 36 us), so
# they run as numpy calls and are not fused.
TRANSCENDENTAL = {"exp", "log", "log1p", "tanh", "sigmoid", "erf", "power"}


#: The most nodes one fused kernel holds. A long chain (the sum of a weight's gradients over
#: the steps of an unrolled recurrent layer: one add per step) is cut into runs of this many,
#: which all have the same source and so share one compiled kernel, whatever the chain's
#: length; a chain of N adds fused whole was a new kernel with N + 1 arguments for every
#: sequence length (14 s to compile at 60 steps). Typical groups (an optimizer's update,
#: an activation's gradient) are far smaller.
MAX_GROUP_NODES = 32


def fusable(node) -> bool:
    """Whether `node` may be part of a fused group."""
    if node.op.name in TRANSCENDENTAL:
        return False
    out = node.outputs[0]
    if expression(node, ["a"] * len(node.inputs)) is None:
        return False
    return all(leaf_kind(tuple(x.shape), tuple(out.shape)) for x in node.inputs)


def generate_source(
    name: str, body: list, leaves: list, rows: bool, results=None, aliases=None
) -> str:
    """Source of a kernel `name(start, stop, leaf_0, ..., out_0, ...)` computing `body` (lines
    assigning t_i) for each element (each row, with `rows`) start <= i < stop and storing `t_r`
    into `out_k` for the k-th entry r of `results` (default: the last line), with the
    `backend.kernels` convention for a kernel `kernels.launch` runs. Every load comes before
    every store, so an output may be an input's own buffer.

    `aliases[k]`, when not None, is the index of the full leaf whose buffer `out_k` is (an
    update in place: an optimizer's slots): that output is not an argument and its values are
    stored into the leaf. Named once, the buffer is one array to LLVM, which then vectorizes
    the loop; passed twice, its runtime overlap check fails and the scalar loop runs (an Adam
    update measured 2.4 ms against 0.71 ms vectorized)."""
    results = [len(body) - 1] if results is None else list(results)
    aliases = [None] * len(results) if aliases is None else list(aliases)
    outs = [f"out{k}" if j is None else f"in{j}" for k, j in enumerate(aliases)]
    own_outs = [out for out, j in zip(outs, aliases, strict=True) if j is None]
    args = ", ".join(["start", "stop"] + [f"in{i}" for i in range(len(leaves))] + own_outs)
    lines = [
        '"""Generated by backend.compiler.fusion; safe to delete."""',
        "import math",
        "",
        "import numpy as np",
        "",
        "from backend.kernels import kernel",
    ]
    if any("relu_value(" in line for line in body):
        lines.append("from backend.kernels.scalar_ops import relu_value")
    lines += ["", "", "@kernel", f"def {name}({args}):"]
    for i, kind in enumerate(leaves):
        if kind == "scalar":
            lines.append(f"    s{i} = in{i}[0]")
        elif kind == "mid":  # output rows per row of the leaf (its rows: leading axes)
            lines.append(f"    per{i} = {outs[0]}.shape[0] // max(in{i}.shape[0], 1)")
        elif kind == "tile":  # the leaf's rows, repeated
            lines.append(f"    per{i} = max(in{i}.shape[0], 1)")
    if rows:
        index = {"full": "in{i}[r, c]", "row": "in{i}[c]", "col": "in{i}[r]", "mid": "m{i}[c]",
                 "tile": "m{i}[c]"}  # fmt: skip
        at = "[r, c]"
    else:
        index = {"full": "in{i}[i]"}
        at = "[i]"
    inner = [f"a{i} = " + index[k].format(i=i) for i, k in enumerate(leaves) if k != "scalar"]
    inner += body + [f"{out}{at} = t{r}" for out, r in zip(outs, results, strict=True)]
    # Views indexed from 0: an index counted from `start` could be negative as far as Numba
    # knows, and its wraparound check would stop the loop vectorizing.
    for i, kind in enumerate(leaves):
        if kind in ("full", "col"):  # indexed by the loop's row (or element)
            lines.append(f"    in{i} = in{i}[start:stop]")
    lines += [f"    {out} = {out}[start:stop]" for out in own_outs]
    if rows:
        lines.append(f"    for r in range({outs[0]}.shape[0]):")
        lines += [f"        m{i} = in{i}[(start + r) // per{i}]"
                  for i, k in enumerate(leaves) if k == "mid"]  # fmt: skip
        lines += [f"        m{i} = in{i}[(start + r) % per{i}]"
                  for i, k in enumerate(leaves) if k == "tile"]  # fmt: skip
        lines.append(f"        for c in range({outs[0]}.shape[1]):")
        lines += ["            " + line for line in inner]
    else:
        lines.append(f"    for i in range({outs[0]}.shape[0]):")
        lines += ["        " + line for line in inner]
    return "\n".join(lines) + "\n"


def runner(body: list, leaf_kinds: list, results: list, out_shape: tuple, n_ops: int):
    """`run(*leaves, *outs)` computing `body` over `out_shape`: for one element, Python over
    numpy scalars (`runs_in_python`); for a small output, numpy calls (`fusion_numpy`); else
    the generated kernel (`compiled_runner`). The same bits each way."""
    if math.prod(out_shape) == 1 and runs_in_python(body):
        return _scalar_runner(body, leaf_kinds, results)
    small = fusion_numpy.runner(
        body, leaf_kinds, results, out_shape,
        lambda: compiled_runner(body, leaf_kinds, results, out_shape, n_ops),
    )  # fmt: skip
    return small if small is not None else compiled_runner(body, leaf_kinds, results, out_shape,
                                                           n_ops)  # fmt: skip


def compiled_runner(body: list, leaf_kinds: list, results: list, out_shape: tuple, n_ops: int):
    """`runner` by the generated kernel, whatever the group's size, with leaves and outputs
    reshaped to the loop's 1-D or (rows, cols) view on every call. An output that is a full
    leaf's own buffer (an update in place) is written through the leaf by a kernel generated
    for that aliasing (see `generate_source`)."""
    from .. import kernels  # imports Numba: only when a Plan needs a kernel

    rows = bool(fusion_numpy.ROW_KINDS.intersection(leaf_kinds))
    n_in = len(leaf_kinds)
    full = [i for i, k in enumerate(leaf_kinds) if k == "full"]
    no_aliases = (None,) * len(results)
    variants: dict = {}

    def kernel_for(aliases: tuple):
        if aliases not in variants:
            source = generate_source("fused", body, leaf_kinds, rows, results, aliases)
            variants[aliases] = load_kernel(source)
        return variants[aliases]

    cols = out_shape[-1] if out_shape else 1
    size = math.prod(out_shape)
    n_rows = size // cols if cols else 0
    shape2 = (n_rows, cols) if rows else (size,)
    as_loop = {"full": shape2, "row": (cols,), "col": (n_rows,), "scalar": (1,),
               "mid": (-1, cols), "tile": (-1, cols)}  # fmt: skip
    leaf_shapes = [as_loop[k] for k in leaf_kinds]
    # A short fused pass is memory-bound, and in a Plan it usually follows a product, while
    # OpenBLAS's threads still hold the other core: an add and relu over 2**k elements right
    # after a 2-thread product took (threads vs one thread, us) 2**18: 575 vs 154, 2**19:
    # 587 vs 312, 2**20: 780 vs 591, 2**21: 1118 vs 1105; back to back 2**20: 389 vs 401.
    # So each op counts a 32nd of the size (two ops thread from 2M elements); a long pass
    # (an Adam update: a dozen ops with a sqrt and a division per element) is compute-bound
    # and earns the threads from a few hundred thousand.
    work = size * n_ops // 32
    # Below this size a loop is short whatever its code: the alias test (about 0.6 us per
    # pair of arrays) is skipped and the kernel taking every output as an argument runs.
    check_aliases = full and size >= ALIAS_CHECK_SIZE
    launch = kernels.launch
    kernel_for(no_aliases)

    def arguments(arrays) -> tuple:
        """The kernel and its arguments for these arrays."""
        prepared = [a.reshape(s) for a, s in zip(arrays[:n_in], leaf_shapes, strict=True)]
        outs = arrays[n_in:]
        if not check_aliases:
            return kernel_for(no_aliases), prepared + [o.reshape(shape2) for o in outs]
        aliases = tuple(_same_buffer_leaf(o, arrays, full) for o in outs)
        own = [o.reshape(shape2) for o, j in zip(outs, aliases, strict=True) if j is None]
        return kernel_for(aliases), prepared + own

    last = [(), None]  # the arrays of the last call and its kernel and arguments

    def run(*arrays):
        # A Plan passes the same buffers every step: their views and aliasing are worked
        # out once, and again only when an array is another object.
        seen, prepared = last
        if len(seen) != len(arrays) or any(map(operator.is_not, arrays, seen)):
            prepared = arguments(arrays)
            last[:] = [arrays, prepared]
        kernel, args = prepared
        launch(kernel, work, shape2[0], *args)

    def bind(*arrays):
        """The call on these arrays, reshaped once (for a Plan's pre-bound runs)."""
        kernel, args = arguments(arrays)
        if work >= config.parallel_threshold():
            return lambda: launch(kernel, work, shape2[0], *args)
        return functools.partial(kernel, 0, shape2[0], *args)  # serial at this size anyway

    run.bind = bind
    return run


# --- groups of one element: numpy scalars instead of a compiled kernel -----------------------


def runs_in_python(body: list) -> bool:
    """Whether a group of one element computing `body` may run as Python over numpy scalars:
    the operations `fusion_numpy` runs (the same operations on the same types, each result
    rounded where the kernel rounds it), so not relu (a helper call), `np.sign` (Numba's
    sign of -0.0 is -0.0, numpy's 0.0), maximum, minimum or fast-math. The leaves' dtypes
    are checked on the first call (`fusion_numpy.dtypes_agree`)."""
    if config.jit_options()["fastmath"]:
        return False
    return fusion_numpy.program(body) is not None


def scalar_source(name: str, body: list, n_in: int, n_out: int, results: list) -> str:
    """Source of a Python function `name(in_0, ..., out_0, ...)` over arrays of one element
    each (shape (1,)): `body` on their numpy scalars, every load before every store (so an
    output may be an input's buffer), as the generated kernel computes it."""
    args = ", ".join([f"in{i}" for i in range(n_in)] + [f"out{k}" for k in range(n_out)])
    lines = [f"def {name}({args}):"]
    # The kernel names a scalar leaf s<i> and an element a<i>: here both are the one element.
    lines += [f"    s{i} = a{i} = in{i}[0]" for i in range(n_in)]
    lines += ["    " + line for line in body]
    lines += [f"    out{k}[0] = t{r}" for k, r in enumerate(results)]
    return "\n".join(lines) + "\n"


def _scalar_runner(body: list, leaf_kinds: list, results: list):
    """`runner` for a group of one element: the body run by Python on numpy scalars (about
    3 us a call), so a cold start compiles no kernel for an optimizer's step count, its bias
    corrections or a metric's running mean. Floating-point warnings are off, as a kernel
    compiled with `error_model="numpy"` gives inf and nan silently."""
    n_in = len(leaf_kinds)
    namespace = {"np": np, "math": math}
    exec(scalar_source("fused_scalar", body, n_in, len(results), results), namespace)  # noqa: S102
    func = namespace["fused_scalar"]
    program = fusion_numpy.program(body)
    agree: dict = {}  # leaf dtypes -> whether numpy computes in the kernel's dtypes
    kernel_runner = []

    def in_python(arrays) -> bool:
        dtypes = tuple(a.dtype for a in arrays[:n_in])
        if dtypes not in agree:
            agree[dtypes] = fusion_numpy.dtypes_agree(program, list(dtypes))
        if not agree[dtypes] and not kernel_runner:
            kernel_runner.append(compiled_runner(body, leaf_kinds, results, (1,), len(body)))
        return agree[dtypes]

    def bind(*arrays):
        """The call on these arrays, reshaped once (for a Plan's pre-bound runs)."""
        if not in_python(arrays):
            return kernel_runner[0].bind(*arrays)
        return functools.partial(fusion_numpy.quietly, [functools.partial(func, *[
            a.reshape(1) for a in arrays])])  # fmt: skip

    last = [(), None]  # the arrays of the last call and its bound call

    def run(*arrays):
        # A Plan passes the same buffers every step: the call is bound once, and again
        # only when an array is another object.
        seen, call = last
        if len(seen) != len(arrays) or any(map(operator.is_not, arrays, seen)):
            call = bind(*arrays)
            last[:] = [arrays, call]
        call()

    run.bind = bind
    run.in_python = True
    return run


#: Elements from which a fused loop checks whether an output is an input's buffer.
ALIAS_CHECK_SIZE = 4096


def _same_buffer_leaf(out, arrays, full: list):
    """The index of the full leaf in `arrays` that is exactly `out`'s memory (same start,
    shape and strides), or None."""
    for j in full:
        leaf = arrays[j]
        if (
            np.may_share_memory(out, leaf)
            and out.shape == leaf.shape
            and out.strides == leaf.strides
            and out.__array_interface__["data"][0] == leaf.__array_interface__["data"][0]
        ):
            return j
    return None


_loaded: dict = {}


def load_kernel(source: str):
    """Writes `source` to the generated-kernels folder (once) and returns its kernel."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"fused_{digest}"
    if name in _loaded:
        return _loaded[name]
    source = source.replace("def fused(", f"def {name}(")
    path = write_source(name, source)
    spec = importlib.util.spec_from_file_location(f"kerasish_generated.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    _loaded[name] = getattr(module, name)
    return _loaded[name]


def write_source(name: str, source: str) -> Path:
    """Writes the generated kernel `name`'s `source` (its function already named `name`)
    into the generated-kernels folder, unless the file there holds it already; its path.
    Raises ValueError when `source` is not what `load_kernel` writes for that name."""
    generic = source.replace(f"def {name}(", "def fused(")
    if f"fused_{hashlib.sha1(generic.encode()).hexdigest()[:16]}" != name:
        raise ValueError(f"write_source: the source is not kernel {name}'s")
    path = _generated_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".tmp{os.getpid()}_{id(source)}")
        tmp.write_text(source)
        tmp.replace(path)  # atomic: a concurrent process never imports half a file
    return path


def _generated_dir() -> Path:
    base = config.cache_dir()
    folder = Path(base) / "generated" if base else Path(tempfile.gettempdir()) / "kerasish-gen"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
