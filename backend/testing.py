"""The op test harness: forward against a numpy reference, gradients against float64
central differences, and symbolic shape inference and evaluation against the eager result.

Tests call `check_op(fn, inputs, reference)`; each op's test is a few lines. The
convolution primitives' plain-numpy references are here too, for the several test files
that check convolutions against them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from . import compiler, graph
from .autodiff import GradientTape, gradients
from .ops import multiply
from .ops import sum as reduce_sum
from .tensor import SymbolicTensor, Tensor


def fresh_python(code: str, cwd, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    """Runs `code` (dedented) in a fresh interpreter in `cwd`, with this process's environment
    minus every `KERASISH_*` and `NUMBA_*` variable, plus `env`; its output captured as text."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASISH_", "NUMBA_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def numeric_gradient(f, arrays: list, index: int, eps: float = 1e-6) -> np.ndarray:
    """d f(arrays) / d arrays[index] by central differences (float64)."""
    base = [np.array(a, dtype=np.float64) if _is_float_array(a) else a for a in arrays]
    x = base[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(base)
        x[i] = old - eps
        down = f(base)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def check_op(
    fn,
    inputs: list,
    reference,
    *,
    grad_inputs=None,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    grad_atol: float = 1e-5,
    grad_rtol: float = 1e-4,
    float32: bool = True,
    symbolic: bool = True,
    compiled: bool = True,
    expected_dtype=None,
    seed: int = 0,
) -> None:
    """Checks the op call `fn(*inputs)` thoroughly.

    Args:
        fn: calls the op; its positional arguments are the `inputs` as Tensors (arrays) or
            unchanged (anything else), and it returns a tensor or a tuple of tensors.
        inputs: numpy arrays (use float64 for differentiable ones) or plain values.
        reference: the same computation in plain numpy, on the numpy `inputs`.
        grad_inputs: indices of inputs whose gradients to check (default: every float
            array); `()` skips gradient checks (ops without gradients).
        float32: also run with float32 inputs and compare at float32 tolerance.
        symbolic: also trace with symbolic inputs: shapes and dtypes must agree with the
            eager result, and evaluating the graph (and its gradient) must match.
        compiled: also run the op, and its gradient, through a compiled Plan
            (`backend.compiler`), which must match the eager results.
        expected_dtype: the dtype (or list of dtypes) the outputs must have.
    """
    rng = np.random.default_rng(seed)

    def to_tensors(arrays):
        return [Tensor(np.asarray(a)) if isinstance(a, np.ndarray) else a for a in arrays]

    # Forward.
    expected = [np.asarray(e) for e in _as_list(reference(*inputs))]
    eager = _as_list(fn(*to_tensors(inputs)))
    assert len(eager) == len(expected), f"{len(eager)} outputs, reference has {len(expected)}"
    for out, exp in zip(eager, expected, strict=True):
        assert isinstance(out, Tensor), f"eager op returned {type(out).__name__}, not a Tensor"
        assert out.shape == exp.shape, f"shape {out.shape} != reference {exp.shape}"
        np.testing.assert_allclose(out.numpy(), exp, atol=atol, rtol=rtol)
    if expected_dtype is not None:
        wanted = _as_list(expected_dtype)
        assert [o.dtype for o in eager] == wanted, f"dtypes {[o.dtype for o in eager]} != {wanted}"

    # float32 run.
    if float32 and any(_is_float_array(a) and a.dtype == np.float64 for a in inputs):
        inputs32 = [a.astype(np.float32) if _is_float_array(a) else a for a in inputs]
        out32 = _as_list(fn(*to_tensors(inputs32)))
        ref32 = [np.asarray(e) for e in _as_list(reference(*inputs32))]
        for out, exp in zip(out32, ref32, strict=True):
            if exp.dtype.kind == "f":
                assert out.dtype == "float32", f"float32 inputs gave {out.dtype}"
            np.testing.assert_allclose(out.numpy(), exp, atol=max(atol, 1e-5), rtol=1e-4)

    # Symbolic: inference agrees with the eager result; evaluation matches.
    placeholders = [
        SymbolicTensor(a.shape, a.dtype.name) if isinstance(a, np.ndarray) else a for a in inputs
    ]
    feed = {p: a for p, a in zip(placeholders, inputs, strict=True) if isinstance(a, np.ndarray)}
    if symbolic:
        sym = _as_list(fn(*placeholders))
        for s, e in zip(sym, eager, strict=True):
            assert isinstance(s, SymbolicTensor), f"symbolic call returned {type(s).__name__}"
            assert s.shape == e.shape, f"inferred shape {s.shape} != eager {e.shape}"
            assert s.dtype == e.dtype, f"inferred dtype {s.dtype} != eager {e.dtype}"
        values = graph.evaluate(sym, feed)
        for v, e in zip(values, eager, strict=True):
            np.testing.assert_allclose(v, e.numpy(), atol=atol, rtol=rtol)
    array_args = [a for a in inputs if isinstance(a, np.ndarray)]
    if compiled:
        values = compiler.function(_with_static(fn, inputs))(*array_args)
        for v, e in zip(_as_list(values), eager, strict=True):
            assert v.shape == e.shape, f"compiled shape {v.shape} != eager {e.shape}"
            np.testing.assert_allclose(v, e.numpy(), atol=atol, rtol=rtol)

    # Gradients.
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(inputs) if _is_float_array(a)]
    if not grad_inputs:
        return
    cotangents = [rng.standard_normal(e.shape) for e in eager]

    def scalar_loss(arrays):
        outs = _as_list(fn(*to_tensors(arrays)))
        return float(sum(np.sum(o.numpy() * c) for o, c in zip(outs, cotangents, strict=True)))

    tensors = to_tensors(inputs)
    with GradientTape() as tape:
        for i in grad_inputs:
            tape.watch(tensors[i])
        outs = _as_list(fn(*tensors))
        loss = None
        for o, c in zip(outs, cotangents, strict=True):
            part = reduce_sum(multiply(o, Tensor(c.astype(o.dtype))))
            loss = part if loss is None else loss + part
    analytic = tape.gradient(loss, [tensors[i] for i in grad_inputs])
    for i, g in zip(grad_inputs, analytic, strict=True):
        numeric = numeric_gradient(scalar_loss, list(inputs), i)
        assert g is not None, f"no gradient reached input {i}"
        assert g.shape == inputs[i].shape, f"gradient shape {g.shape} != input {inputs[i].shape}"
        np.testing.assert_allclose(
            g.numpy(), numeric, atol=grad_atol, rtol=grad_rtol, err_msg=f"gradient of input {i}"
        )

    if symbolic:
        sym = _as_list(fn(*placeholders))
        sym_loss = None
        for s, c in zip(sym, cotangents, strict=True):
            part = reduce_sum(multiply(s, Tensor(c.astype(s.dtype))))
            sym_loss = part if sym_loss is None else sym_loss + part
        sym_grads = gradients([sym_loss], [placeholders[i] for i in grad_inputs])
        values = graph.evaluate(sym_grads, feed)
        for v, g in zip(values, analytic, strict=True):
            np.testing.assert_allclose(v, g.numpy(), atol=1e-9, rtol=1e-7)

    if compiled:
        call = _with_static(fn, inputs)
        positions = [sum(1 for a in inputs[:i] if isinstance(a, np.ndarray)) for i in grad_inputs]

        def gradient_step(*arrays):
            with GradientTape() as tape:
                outs = _as_list(call(*arrays))
                loss = None
                for o, c in zip(outs, cotangents, strict=True):
                    part = reduce_sum(multiply(o, Tensor(c.astype(o.dtype))))
                    loss = part if loss is None else loss + part
            return tape.gradient(loss, [arrays[p] for p in positions])

        values = compiler.function(gradient_step)(*array_args)
        for v, g in zip(values, analytic, strict=True):
            np.testing.assert_allclose(v, g.numpy(), atol=1e-9, rtol=1e-7)


def _with_static(fn, inputs: list):
    """`fn` as a function of the array inputs only, the other inputs bound in place."""

    def call(*arrays):
        it = iter(arrays)
        return fn(*[next(it) if isinstance(a, np.ndarray) else a for a in inputs])

    return call


def same_bits_any_threads(call):
    """Runs `call()` twice serially and twice on threads (the parallel threshold at its
    extremes) and asserts every run gave the same bits; returns the first result (an array
    or a tuple of arrays). The kernels promise results independent of the thread count."""
    from . import config

    old = config.parallel_threshold()
    results = []
    try:
        for threshold in (2**62, 2**62, 0, 0):
            config.set_parallel_threshold(threshold)
            results.append(call())
    finally:
        config.set_parallel_threshold(old)
    first = results[0] if isinstance(results[0], (tuple, list)) else (results[0],)
    for other in results[1:]:
        other = other if isinstance(other, (tuple, list)) else (other,)
        for a, b in zip(other, first, strict=True):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    return results[0]


def stop_background_compiles() -> None:
    """`kernels.background.stop_helpers`, when the kernels are loaded: the processes
    compiling kernels for this one stop, and the threads reading their output end, so that a
    test measuring this process's allocations (tracemalloc) counts only its own code."""
    background = sys.modules.get("backend.kernels.background")
    if background is not None:
        background.stop_helpers()


# ---- convolution references (plain numpy loops) for the conv tests -------------------------


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d_reference(x, k, strides=1, pads=((0, 0), (0, 0)), dilation=1):
    """A 2-D NHWC convolution (the `conv` primitive) by direct loops, for tests: groups =
    channels / the kernel's input channels, pads >= 0, strides and dilation ints or pairs."""
    (sh, sw), (dh, dw) = (_pair(strides), _pair(dilation))
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw, cg, cout = k.shape
    groups = x.shape[-1] // cg
    og = cout // groups
    ho = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    wo = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((x.shape[0], ho, wo, cout), np.result_type(x, k))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    patch = xp[:, i * sh + a * dh, j * sw + b * dw, :]
                    for g in range(groups):
                        out[:, i, j, g * og : (g + 1) * og] += (
                            patch[:, g * cg : (g + 1) * cg] @ k[a, b, :, g * og : (g + 1) * og]
                        )
    return out


def conv_transpose_reference(y, k, strides, dilation, pads, extra, groups):
    """The `conv_transpose` primitive (the conv's transpose in its input, `extra` rows and
    columns past the last window) by direct loops, for tests."""
    (sh, sw), (dh, dw) = strides, dilation
    n, ho, wo, cout = y.shape
    kh, kw, cg, _ = k.shape
    og = cout // groups
    size = [
        (o - 1) * s + (ks - 1) * d + 1 - lo - hi + r
        for o, ks, s, d, (lo, hi), r in zip(
            (ho, wo), (kh, kw), strides, dilation, pads, extra, strict=True
        )
    ]
    out = np.zeros((n, *size, cg * groups))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a * dh - pads[0][0], j * sw + b * dw - pads[1][0]
                    if 0 <= r < size[0] and 0 <= c < size[1]:
                        for g in range(groups):
                            out[:, r, c, g * cg : (g + 1) * cg] += (
                                y[:, i, j, g * og : (g + 1) * og]
                                @ k[a, b, :, g * og : (g + 1) * og].T
                            )
    return out


def conv_filter_reference(x, y, kernel_size, strides, dilation, pads, groups):
    """The `conv_filter_grad` primitive (the conv's gradient in its kernel) by direct loops,
    for tests."""
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw = kernel_size
    n, h, w, cin = x.shape
    cout = y.shape[-1]
    cg, og = cin // groups, cout // groups
    dk = np.zeros((kh, kw, cg, cout))
    for i in range(y.shape[1]):
        for j in range(y.shape[2]):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a * dh - pads[0][0], j * sw + b * dw - pads[1][0]
                    if 0 <= r < h and 0 <= c < w:
                        for g in range(groups):
                            dk[a, b, :, g * og : (g + 1) * og] += (
                                x[:, r, c, g * cg : (g + 1) * cg].T
                                @ y[:, i, j, g * og : (g + 1) * og]
                            )
    return dk
