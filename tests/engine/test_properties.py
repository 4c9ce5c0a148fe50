"""Property-based tests (hypothesis): random shapes, broadcasting, axes and dtypes against
numpy for the forward, against float64 finite differences for gradients (`check_op`), and
random inputs through a fixed family of small graphs compiled and eager.

The graphs come from a fixed family (GRAPHS) so the fused kernels they generate stay few:
hypothesis draws shapes, broadcasting patterns, axes, dtypes and values, never expressions.
Examples are derandomized and capped, so the file runs the same cases every time.
"""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from backend import compiler, ops  # noqa: E402
from backend.testing import check_op  # noqa: E402

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, print_blob=True)

dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from(["float32", "float64"])


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: each dim of the second is the first's, 1, or absent."""
    a = draw(st.lists(dims, min_size=1, max_size=3).map(tuple))
    b = tuple(d if draw(st.booleans()) else 1 for d in a)
    return a, b[draw(st.integers(0, len(b))) :]


def _values(draw, shape, low=-2.0, high=2.0):
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).uniform(low, high, size=shape)


BINARY = {
    "add": (ops.add, np.add),
    "subtract": (ops.subtract, np.subtract),
    "multiply": (ops.multiply, np.multiply),
    "maximum": (ops.maximum, np.maximum),
}


@PROPERTY
@given(st.sampled_from(sorted(BINARY)), broadcastable_pair(), st.data())
def test_binary_ops_broadcast_as_numpy_with_gradients(name, pair, data):
    op, reference = BINARY[name]
    a = _values(data.draw, pair[0])
    b = _values(data.draw, pair[1])
    if name == "maximum":  # keep ties (a kink) away from the finite differences
        b = b + np.where(np.abs(a - b) < 1e-2, 0.1, 0.0)
    first, second = (a, b) if data.draw(st.booleans()) else (b, a)
    check_op(op, [first, second], reference, compiled=False)


REDUCTIONS = {
    "sum": (ops.sum, np.sum),
    "mean": (ops.mean, np.mean),
    "max": (ops.max, np.max),
}


@PROPERTY
@given(st.sampled_from(sorted(REDUCTIONS)), st.lists(dims, min_size=1, max_size=3), st.data())
def test_reductions_over_random_axes(name, shape, data):
    op, reference = REDUCTIONS[name]
    shape = tuple(shape)
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = tuple(axes) if axes else None
    keepdims = data.draw(st.booleans())
    # Distinct values, so max has one argmax (no tie for the finite differences to straddle).
    x = (
        np.random.default_rng(data.draw(st.integers(0, 999)))
        .permutation(np.arange(int(np.prod(shape)), dtype=np.float64))
        .reshape(shape)
        * 0.25
    )
    check_op(
        lambda t: op(t, axis=axis, keepdims=keepdims),
        [x],
        lambda v: np.asarray(reference(v, axis=axis, keepdims=keepdims)),
        compiled=False,
    )


# ---- the compiler: a fixed family of small graphs, compiled and eager -----------------------

GRAPHS = {
    "relu_affine": lambda a, b, c: ops.relu(a * b + c),
    "tanh_gate": lambda a, b, c: ops.tanh(a) * ops.sigmoid(b) - c,
    "where_select": lambda a, b, c: ops.where(a > b, a - c, b * c),
    "sum_of_square": lambda a, b, c: ops.sum(ops.square(a - b), axis=-1) + ops.sum(c),
    "softmax_mix": lambda a, b, c: ops.softmax(a + b, axis=-1) * c,
    "max_min": lambda a, b, c: ops.maximum(a, b) - ops.minimum(b, c) * 0.5,
}


@PROPERTY
@given(st.sampled_from(sorted(GRAPHS)), broadcastable_pair(), dtypes, st.data())
def test_random_graphs_give_the_same_results_compiled_and_eager(name, pair, dtype, data):
    fn = GRAPHS[name]
    full, partial = pair
    args = [_values(data.draw, shape).astype(dtype) for shape in (full, partial, full)]
    if data.draw(st.booleans()):
        args[2] = args[2][(0,) * len(full)].reshape(())  # a scalar leaf
    eager = np.asarray(fn(*[ops.convert_to_tensor(a) for a in args]))
    compiled = compiler.function(fn)(*args)
    assert compiled.dtype == eager.dtype == np.dtype(dtype)
    tolerance = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(compiled, eager, rtol=tolerance, atol=tolerance)
