"""Pooling ops: max_pool and average_pool (1-D and 2-D, valid and same padding, strides)
against plain-numpy loops (forward, float64 gradients, symbolic, compiled), ties, the
real-cell counts of average pooling with "same" padding, gradients of gradients, errors."""

import math

import numpy as np
import pytest

from backend import GradientTape, Tensor, ops
from backend.testing import check_op

rng = np.random.default_rng(3)


def _same(size, k, s):
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, out


def _windows(size, k, s, padding):
    """[(lo, hi)] of each window's real cells along one axis."""
    if padding == "same":
        pad, out = _same(size, k, s)
    else:
        pad, out = 0, (size - k) // s + 1
    return [(max(o * s - pad, 0), min(o * s - pad + k, size)) for o in range(out)]


def _pool_ref(x, pool, strides, padding, fn):
    """NHWC (or NWC) pooling by loops: fn(window (h, w, C)) -> (C,)."""
    one_d = x.ndim == 3
    if one_d:
        x, pool, strides = x[:, None], (1, pool[0]), (1, strides[0])
    rows = _windows(x.shape[1], pool[0], strides[0], padding)
    cols = _windows(x.shape[2], pool[1], strides[1], padding)
    out = np.empty((x.shape[0], len(rows), len(cols), x.shape[3]), x.dtype)
    for n in range(x.shape[0]):
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                out[n, i, j] = fn(x[n, r0:r1, c0:c1])
    return out[:, 0] if one_d else out


def _max_ref(pool, strides, padding):
    return lambda x: _pool_ref(x, pool, strides, padding, lambda w: w.max(axis=(0, 1)))


def _avg_ref(pool, strides, padding):
    return lambda x: _pool_ref(x, pool, strides, padding, lambda w: w.mean(axis=(0, 1)))


CASES_1D = [(w, k, s, p) for w in (5, 6) for k in (2, 3) for s in (1, 2) for p in ("valid", "same")]
CASES_2D = [
    ((5, 4), (2, 2), (1, 1), "valid"),
    ((5, 4), (2, 2), (2, 2), "same"),
    ((5, 5), (3, 3), (2, 2), "same"),
    ((5, 5), (3, 3), (1, 1), "same"),
    ((4, 5), (3, 2), (2, 1), "valid"),
    ((4, 5), (2, 3), (1, 2), "same"),
    ((3, 3), (3, 3), (3, 3), "valid"),
]


def _distinct(shape):
    """Values with distinct entries, so the max is unique and finite differences are clean."""
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.1


@pytest.mark.parametrize("width,k,s,padding", CASES_1D)
def test_pool_1d(width, k, s, padding):
    x = _distinct((2, width, 2))
    check_op(
        lambda t: ops.max_pool(t, k, s, padding), [x], _max_ref((k,), (s,), padding), grad_atol=1e-4
    )
    check_op(
        lambda t: ops.average_pool(t, k, s, padding), [rng.standard_normal((2, width, 2))],
        _avg_ref((k,), (s,), padding),
    )  # fmt: skip


@pytest.mark.parametrize("hw,pool,strides,padding", CASES_2D)
def test_pool_2d(hw, pool, strides, padding):
    x = _distinct((2, *hw, 2))
    check_op(
        lambda t: ops.max_pool(t, pool, strides, padding),
        [x],
        _max_ref(pool, strides, padding),
        grad_atol=1e-4,
    )
    check_op(
        lambda t: ops.average_pool(t, pool, strides, padding),
        [rng.standard_normal((2, *hw, 3))],
        _avg_ref(pool, strides, padding),
    )


def test_strides_default_to_pool_size_and_asymmetric_same_padding():
    x = np.arange(5.0).reshape(1, 5, 1)
    # pool 2, stride 2, "same": 3 windows, total pad 1 -> 0 before, 1 after: [0,1] [2,3] [4].
    assert ops.max_pool(x, 2, padding="same").numpy().ravel().tolist() == [1.0, 3.0, 4.0]
    # pool 3, stride 1: total pad 2 -> 1 before and 1 after.
    out = ops.max_pool(x, 3, 1, padding="same").numpy().ravel().tolist()
    assert out == [1.0, 2.0, 3.0, 4.0, 4.0]


def test_average_same_divides_by_real_cells():
    x = np.ones((1, 4, 5, 1))
    x[0, :, :, 0] = np.arange(20.0).reshape(4, 5)
    sums = ops.average_pool(np.ones((1, 4, 5, 1)), 3, 2, "same").numpy()[0, :, :, 0]
    np.testing.assert_allclose(sums, np.ones((2, 3)))  # never diluted by the padding
    out = ops.average_pool(x, 3, 2, "same").numpy()[0, :, :, 0]
    # H: pad (0, 1) -> rows [0, 3), [2, 4) (asymmetric); W: pad (1, 1) -> [0, 2), [1, 4), [3, 5).
    counts = np.array([[6, 9, 6], [4, 6, 4]])
    grid = np.arange(20.0).reshape(4, 5)
    cols = ((0, 2), (1, 4), (3, 5))
    sums = np.array([[grid[r0:r1, c0:c1].sum() for c0, c1 in cols] for r0, r1 in ((0, 3), (2, 4))])
    np.testing.assert_allclose(out, sums / counts)
    # The gradient of the sum: each cell gets sum over its windows of 1 / count.
    xt = Tensor(x)
    with GradientTape() as tape:
        tape.watch(xt)
        y = ops.sum(ops.average_pool(xt, 3, 2, "same"))
    g = tape.gradient(y, xt).numpy()[0, :, :, 0]
    expected = np.zeros((4, 5))
    for i, (r0, r1) in enumerate(((0, 3), (2, 4))):
        for j, (c0, c1) in enumerate(((0, 2), (1, 4), (3, 5))):
            expected[r0:r1, c0:c1] += 1.0 / counts[i, j]
    np.testing.assert_allclose(g, expected)


def test_max_pool_ties_go_to_the_first_max():
    x = np.zeros((1, 2, 4, 1))
    x[0, :, :, 0] = [[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 3.0, 3.0]]
    xt = Tensor(x)
    with GradientTape() as tape:
        tape.watch(xt)
        y = ops.max_pool(xt, 2, 2)
    assert y.numpy().ravel().tolist() == [3.0, 3.0]
    g = tape.gradient(y, xt).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(g, [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    # Overlapping windows with one shared max send it both gradients.
    x1 = Tensor(np.array([[[0.0], [5.0], [1.0]]]))
    with GradientTape() as tape:
        tape.watch(x1)
        y = ops.sum(ops.max_pool(x1, 2, 1))
    assert tape.gradient(y, x1).numpy().ravel().tolist() == [0.0, 2.0, 0.0]


@pytest.mark.parametrize("op", [ops.max_pool, ops.average_pool])
def test_second_order_gradients(op):
    """The gradient's own vjp: d/dc <grad of <pool(x), c>, h> = <pool-adjoint, h> applied."""
    x = _distinct((1, 5, 4, 2))

    def f(c):
        xt = Tensor(x)
        with GradientTape() as tape:
            tape.watch(xt)
            y = ops.sum(ops.multiply(op(xt, 2, 2, "same"), c))
        return tape.gradient(y, xt)

    h = rng.standard_normal(x.shape)
    check_op(
        lambda c: ops.sum(ops.multiply(f(c), Tensor(h))),
        [rng.standard_normal((1, 3, 2, 2))],
        lambda c: np.sum(f(Tensor(c)).numpy() * h),  # forward: the op itself (linear in c)
        symbolic=False,
        compiled=False,
        float32=False,
    )


def test_integer_inputs_pool_as_floatx_and_float32_stays():
    out = ops.max_pool(np.arange(4).reshape(1, 4, 1), 2)
    assert out.dtype == "float32"
    assert ops.average_pool(np.ones((1, 4, 1), np.float32), 2).dtype == "float32"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"data_format": "channels_first"}, "channels_first"),
        ({"padding": "causal"}, "padding"),
        ({"pool_size": 0}, "pool_size"),
        ({"pool_size": (2, 2, 2)}, "pool_size"),
        ({"strides": -1}, "strides"),
        ({"pool_size": 7}, "larger than"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"pool_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ops.max_pool(np.ones((1, 4, 4, 1), np.float32), **args)
    with pytest.raises(ValueError, match=match):
        ops.average_pool(np.ones((1, 4, 4, 1), np.float32), **args)


def test_bad_rank():
    with pytest.raises(ValueError, match="3-D"):
        ops.max_pool(np.ones((4, 4), np.float32), 2)


# ---- the *_into functions compiled Plans call ---------------------------------------------------

INTO_CASES = [
    ((4, 9, 9, 5), (2, 2), (2, 2), "valid"),
    ((4, 9, 9, 5), (2, 2), (2, 2), "same"),
    ((2, 6, 7, 3), (3, 3), (2, 1), "same"),
    ((3, 9, 4), (1, 2), (1, 2), "valid"),  # 1-D: (batch, steps, channels), attrs as 2-D
    ((3, 9, 4), (1, 3), (1, 1), "same"),
]


def _pool_cases(x, g, attrs):
    """(into function, its inputs, the op's forward result, a numpy reference or None)."""
    from backend.ops import pool as pool_ops

    one_d = x.ndim == 3
    k, s = (attrs["pool"][1:], attrs["strides"][1:]) if one_d else (attrs["pool"], attrs["strides"])
    in_shape = x.shape[1:]
    return [
        (pool_ops.max_pool_into, (x,), pool_ops._MAX_POOL.forward(None, x, **attrs),
         _max_ref(k, s, attrs["padding"])(x)),
        (pool_ops.average_pool_into, (x,), pool_ops._AVERAGE_POOL.forward(None, x, **attrs),
         _avg_ref(k, s, attrs["padding"])(x.astype(np.float64))),
        (pool_ops.max_pool_grad_into, (x, g), pool_ops._MAX_POOL_GRAD.forward(None, x, g, **attrs),
         None),
        (pool_ops.average_pool_grad_into, (g,),
         pool_ops._AVERAGE_POOL_GRAD.forward(None, g, **attrs, in_shape=in_shape), None),
    ]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape,pool,strides,padding", INTO_CASES)
def test_into_functions_match_the_ops_forward_and_numpy(shape, pool, strides, padding, dtype):
    attrs = {"pool": pool, "strides": strides, "padding": padding}
    x = rng.standard_normal(shape).astype(dtype)
    y_shape = _max_ref(pool[-len(shape) + 2 :], strides[-len(shape) + 2 :], padding)(x).shape
    g = rng.standard_normal(y_shape).astype(dtype)
    for into, args, want, ref in _pool_cases(x, g, attrs):
        assert want.dtype == x.dtype
        out = np.full(want.shape, np.nan, dtype)
        into(*args, out, **attrs)
        np.testing.assert_array_equal(out, want)
        if ref is not None:
            tol = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-12}[dtype]
            np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
        # A strided buffer (not C-contiguous) is written through a scratch array.
        wide = np.full((*want.shape[:-1], 2 * want.shape[-1]), np.nan, dtype)
        into(*args, wide[..., ::2], **attrs)
        np.testing.assert_array_equal(wide[..., ::2], want)
        assert np.isnan(wide[..., 1::2]).all()


@pytest.mark.parametrize("shape,pool,strides,padding", INTO_CASES)
def test_max_pool_grad_into_relu_mask_fuses_the_relu_gradient(shape, pool, strides, padding):
    from backend.ops import pool as pool_ops

    attrs = {"pool": pool, "strides": strides, "padding": padding}
    x = np.maximum(rng.integers(-2, 3, shape), 0).astype(np.float32)  # a relu's output, ties
    g = rng.standard_normal(pool_ops._MAX_POOL.forward(None, x, **attrs).shape).astype(np.float32)
    routed = pool_ops._MAX_POOL_GRAD.forward(None, x, g, **attrs)
    out = np.full_like(x, np.nan)
    pool_ops.max_pool_grad_into(x, g, out, **attrs, relu_mask=True)
    np.testing.assert_array_equal(out, np.where(x > 0, routed, 0))  # relu's gradient of y
