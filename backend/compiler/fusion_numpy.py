"""Small fused groups run as numpy calls instead of a generated kernel.

A generated kernel costs its compile on a cold start (0.2-0.5 s of CPU each: Numba's fixed
typing, lowering and LLVM round), and on a small output a fused pass saves nothing worth that:
the MNIST convnet's six generated kernels of its (128, 10) head (the bias, the softmax's
division, the cross-entropy's gradient with its clipping, the accuracy's comparison) each run
in a few microseconds either way. So a group of at most `MAX_ELEMENTS` outputs runs its body
as one numpy ufunc call per operation, each into a buffer of its own made once per set of
arrays (a Plan passes the same ones every step), then copies its results into its outputs
(every load before every store, as the kernel: an output may be an input's buffer). Leaves
that are not full size are spread into full-size buffers first (`np.copyto` broadcasts
without allocating; a ufunc broadcasting an operand allocates buffers of the output's size
on every call), so a call allocates nothing that grows with the size.

The bits are the kernel's: every operation is the same IEEE operation on the same dtype
(the graph gives both sides of a binary op and of `where` one dtype; numpy's vector loops
for add, subtract, multiply, divide and sqrt round as the scalar ones do; without fast-math
Numba contracts nothing into a fused multiply-add), and a result is rounded to its dtype at
the same place. What could differ stays compiled: arithmetic on narrow integers (Numba
computes int32 in int64) and float16, the NaN and signed-zero rules of maximum, minimum,
relu and sign (the kernel's `a if a >= b or a != a else b` is not numpy's `np.maximum` on
-0.0), powers, literals other than a comparison with 0, and fast-math.
"""

from __future__ import annotations

import ast
import functools

import numpy as np

from .. import config

#: The leaf kinds (`fusion.leaf_kind`) that make a fused group run over (rows, last axis)
#: instead of elements.
ROW_KINDS = frozenset(("row", "col", "mid", "tile"))

#: The most output elements a group runs as numpy calls (more, and one fused pass over the
#: data beats a pass per operation: 16 KB of float32 still sits in L1 between the passes).
MAX_ELEMENTS = 4096

_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide}
_COMPARE = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
            ast.Gt: np.greater, ast.GtE: np.greater_equal}  # fmt: skip
_BOOL = {ast.And: np.logical_and, ast.Or: np.logical_or}
_ARITHMETIC = {np.add, np.subtract, np.multiply, np.negative, np.absolute, np.sqrt}
#: The dtypes numpy's arithmetic computes in as Numba's does (Numba computes narrower
#: integers in int64, and has no float16 arithmetic of its own).
_SAME_ARITHMETIC = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))
_CAST = "cast"
_WHERE = "where"


def _quiet_setting():
    """numpy's context variable for its floating-point error handling and the value
    `np.errstate(all="ignore")` puts in it, or (None, None) where numpy has no such variable.
    Setting it directly costs a fraction of entering an `np.errstate` (184 bytes allocated
    for the duration of a call against 544, and a quarter of the time)."""
    try:
        from numpy._core import _ufunc_config

        variable = _ufunc_config._extobj_contextvar
        with np.errstate(all="ignore"):
            return variable, variable.get()
    except (ImportError, AttributeError):
        return None, None


_ERRORS, _IGNORED = _quiet_setting()


def quietly(calls) -> None:
    """Runs each of `calls` with numpy's floating-point warnings off (a kernel compiled with
    `error_model="numpy"` gives inf and nan silently), on this thread only."""
    if _ERRORS is None:
        with np.errstate(all="ignore"):
            for call in calls:
                call()
        return
    token = _ERRORS.set(_IGNORED)
    try:
        for call in calls:
            call()
    finally:
        _ERRORS.reset(token)


class _Unsupported(Exception):
    """An expression this module does not run as numpy calls."""


def program(body: list) -> list | None:
    """The body as instructions `(target, func, args)` in order, each writing one new value
    (`target` a name; args names or the constant 0), or None when it holds anything that
    is not run here. `t_i = t_j` (a value passed through) becomes ("t_i", None, ["t_j"])."""
    steps: list = []
    count = [0]

    def value(node) -> str | int:
        if isinstance(node, ast.Name):
            return node.id
        target = f"_v{count[0]}"
        count[0] += 1
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            steps.append((target, _BINARY[type(node.op)], [value(node.left), value(node.right)]))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            steps.append((target, np.negative, [value(node.operand)]))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and right.value == 0 and type(right.value) is int:
                args = [value(node.left), 0]
            else:
                args = [value(node.left), value(right)]
            steps.append((target, _COMPARE[type(node.ops[0])], args))
        elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
            steps.append((target, _BOOL[type(node.op)], [value(v) for v in node.values]))
        elif isinstance(node, ast.IfExp) and isinstance(node.test, ast.Name):
            steps.append((target, _WHERE, [value(node.test), value(node.body),
                                             value(node.orelse)]))  # fmt: skip
        elif isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            steps.append((target, _callee(node.func), [value(node.args[0])]))
        else:
            raise _Unsupported
        return target

    try:
        for line in body:
            (statement,) = ast.parse(line).body
            (name,) = statement.targets
            result = value(statement.value)
            if result.startswith("_v"):  # the last instruction writes the line's name
                steps[-1] = (name.id, *steps[-1][1:])
            else:
                steps.append((name.id, None, [result]))
    except (_Unsupported, ValueError, TypeError, AttributeError):
        return None
    return steps


def _callee(func):
    if isinstance(func, ast.Name) and func.id == "abs":
        return np.absolute
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.value.id == "np" and func.attr == "sqrt":
            return np.sqrt
        if func.value.id == "np" and func.attr in (
            "float16",
            "float32",
            "float64",
            "bool_",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
        ):
            return (_CAST, np.dtype(func.attr))
    raise _Unsupported


def _one_sample(out_shape: tuple) -> bool:
    """Whether a group's output is a batch of one sample (a leading axis of 1 before others):
    such a group keeps its kernel. A single-sample call is all latency, and numpy's calls
    cost more than the kernel's one: `model(x)` of the 784-512-512-10 MLP on one sample took
    3-6 us longer with its (1, 10) head on numpy calls (in one process, alternating)."""
    return len(out_shape) >= 2 and out_shape[0] == 1


def runner(body: list, leaf_kinds: list, results: list, out_shape: tuple, compiled):
    """`fusion.runner`'s `run(*leaves, *outs)` (with its `bind`) for a small group: numpy
    calls for the dtypes they give the kernel's bits on, else `compiled()` (the generated
    kernel's runner, made on first need). None when the body cannot run as numpy calls at
    all (or the output is larger than `MAX_ELEMENTS`)."""
    size = int(np.prod(out_shape, dtype=np.int64))
    if size > MAX_ELEMENTS or config.jit_options()["fastmath"] or _one_sample(out_shape):
        return None
    instructions = program(body)
    if instructions is None:
        return None
    rows = bool(ROW_KINDS.intersection(leaf_kinds))
    cols = out_shape[-1] if out_shape else 1
    shape2 = (size // cols if cols else 0, cols) if rows else (size,)
    # A leaf broadcast in the middle is spread through a 3-D view: (its rows, 1, cols) into
    # (its rows, output rows per leaf row, cols); a tiled one (rows, cols) into (repeats,
    # its rows, cols).
    as_loop = {"full": shape2, "row": (cols,), "col": (shape2[0], 1), "scalar": (1,),
               "mid": (-1, 1, cols), "tile": (-1, cols)}  # fmt: skip
    leaf_shapes = [as_loop[k] for k in leaf_kinds]
    n_in = len(leaf_kinds)
    kernel_runner = []

    def fallback():
        if not kernel_runner:
            kernel_runner.append(compiled())
        return kernel_runner[0]

    def prepare(arrays):
        """A call with no arguments computing the group on these arrays, or None when their
        dtypes are not run here."""
        # A ufunc broadcasting an operand allocates buffers of the output's size on every
        # call; `np.copyto` broadcasts without. So every leaf that is not full size is
        # spread into a full-size buffer first, and each operation sees same-shape arrays.
        names, calls = {}, []
        leaves = zip(arrays[:n_in], leaf_shapes, leaf_kinds, strict=True)
        for i, (leaf, shape, kind) in enumerate(leaves):
            leaf = leaf.reshape(shape)
            if kind != "full":
                spread = np.empty(shape2, leaf.dtype)
                target = spread
                if kind == "mid":
                    target = spread.reshape(leaf.shape[0], -1, cols)
                elif kind == "tile":
                    target = spread.reshape(-1, *leaf.shape)
                calls.append(functools.partial(np.copyto, target, leaf))
                leaf = spread
            names[f"a{i}"] = names[f"s{i}"] = leaf
        steps = _lay_out(instructions, names, shape2)
        if steps is None:
            return None
        calls += [_call(func, operands, out) for func, operands, out in steps]
        outs = [o.reshape(shape2) for o in arrays[n_in:]]
        calls += [functools.partial(np.copyto, out, names[f"t{r}"], "unsafe")
                  for out, r in zip(outs, results, strict=True)]  # fmt: skip
        return functools.partial(quietly, calls)

    last = [(), None]

    def run(*arrays):
        seen, call = last
        if len(seen) != len(arrays) or any(a is not b for a, b in zip(arrays, seen, strict=True)):
            call = prepare(arrays)
            last[:] = [arrays, call]
        if call is None:
            fallback()(*arrays)
        else:
            call()

    def bind(*arrays):
        call = prepare(arrays)
        return call if call is not None else fallback().bind(*arrays)

    run.bind = bind
    run.in_numpy = True
    return run


def dtypes_agree(instructions: list, leaf_dtypes: list) -> bool:
    """Whether each of `instructions` (`program(body)`'s) on leaves of these dtypes
    computes in the dtype the kernel computes in (`_result_dtype`)."""
    names = {}
    for i, dtype in enumerate(leaf_dtypes):
        names[f"a{i}"] = names[f"s{i}"] = np.ones(1, dtype)
    return _lay_out(instructions, names, (1,)) is not None


def _lay_out(instructions: list, names: dict, shape: tuple) -> list | None:
    """`(func, operands, out)` for each instruction that computes, `out` a new buffer of
    `shape` and its dtype (`names`: the leaves' arrays, to which the values are added), or
    None when an instruction's dtypes are not run by numpy calls."""
    steps = []
    for target, func, args in instructions:
        operands = [names[a] for a in args if isinstance(a, str)]
        if len(operands) < len(args):  # a comparison with 0: zeros of the other's dtype
            operands.append(np.zeros(shape, operands[0].dtype))
        if func is None:
            names[target] = operands[0]
            continue
        dtype = _result_dtype(func, operands)
        if dtype is None:
            return None
        names[target] = np.empty(shape, dtype)
        steps.append((func, operands, names[target]))
    return steps


def _result_dtype(func, operands):
    """The dtype of `func` on these operands as the kernel computes it, or None where numpy's
    would differ (integer arithmetic)."""
    dtypes = [o.dtype for o in operands]
    if isinstance(func, tuple):
        return func[1]
    if func == _WHERE:
        if dtypes[1] != dtypes[2] or dtypes[0] != np.bool_:
            return None
        return dtypes[1]
    if len(set(dtypes)) != 1:  # the graph gives both sides one dtype
        return None
    dtype = dtypes[0]
    if func in _ARITHMETIC and dtype not in _SAME_ARITHMETIC:
        return None
    if func is np.true_divide and dtype.kind not in "fiu":
        return None
    if func in _BOOL.values() and dtype != np.bool_:
        return None
    dry = [np.ones(1, d) for d in dtypes]
    with np.errstate(all="ignore"):
        return func(*dry).dtype


def _call(func, operands, out):
    """One instruction as a call with no arguments writing `out`."""
    if isinstance(func, tuple):
        (value,) = operands
        return functools.partial(np.copyto, out, value, "unsafe")
    if func == _WHERE:
        test, yes, no = operands

        def where():
            np.copyto(out, no)
            np.copyto(out, yes, where=test)

        return where
    return functools.partial(func, *operands, out)  # out positional: no keyword dict a call
