"""backend.kernels.pool and backend.kernels.norm against numpy references, float32 and
float64, serial and threaded (bit-identical run to run), and their argument checks."""

import numpy as np
import pytest

from backend import config
from backend.kernels import norm, pool

rng = np.random.default_rng(29)
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
# (H, W), pool, strides, pads (top, left), output (OH, OW)
GEOMETRY = [
    ((5, 6), (2, 2), (2, 2), (0, 0), (2, 3)),
    ((5, 5), (3, 3), (2, 2), (1, 1), (3, 3)),
    ((4, 7), (3, 2), (1, 2), (1, 0), (4, 4)),
    ((1, 9), (1, 3), (1, 1), (0, 1), (1, 9)),
    ((6, 4), (2, 2), (2, 2), (0, 0), (3, 2)),  # windows tile the input exactly
    ((5, 5), (2, 2), (2, 2), (1, 1), (3, 3)),  # tiling with a pad
    ((7, 8), (2, 2), (3, 3), (1, 0), (3, 3)),  # stride > pool: uncovered rows and columns
]


def _runs(call):
    """`call()`'s results twice serially and twice threaded; all must be bit-identical."""
    old = config.parallel_threshold()
    results = []
    try:
        for threshold in (2**62, 2**62, 0, 0):
            config.set_parallel_threshold(threshold)
            results.append(call())
    finally:
        config.set_parallel_threshold(old)
    for other in results[1:]:
        for a, b in zip(other, results[0], strict=True):
            assert a.tobytes() == b.tobytes()
    return results[0]


def _cells(hw, k, s, p, out_hw):
    """[(rows, cols)] real cells of each window, row-major."""
    wins = []
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            r0, c0 = oh * s[0] - p[0], ow * s[1] - p[1]
            rows = range(max(r0, 0), min(r0 + k[0], hw[0]))
            cols = range(max(c0, 0), min(c0 + k[1], hw[1]))
            wins.append((oh, ow, rows, cols))
    return wins


def _refs(x, g, k, s, p, out_hw):
    n, h, w, c = x.shape
    mx = np.empty((n, *out_hw, c), x.dtype)
    av = np.empty_like(mx)
    dmax, davg = np.zeros_like(x), np.zeros_like(x)
    for oh, ow, rows, cols in _cells((h, w), k, s, p, out_hw):
        win = x[:, rows.start : rows.stop, cols.start : cols.stop]
        mx[:, oh, ow] = win.max(axis=(1, 2))
        av[:, oh, ow] = win.mean(axis=(1, 2))
        davg[:, rows.start : rows.stop, cols.start : cols.stop] += g[:, oh, ow, None, None] / (
            len(rows) * len(cols)
        )
        for b in range(n):
            for ch in range(c):
                flat = win[b, :, :, ch].ravel()
                a = int(np.argmax(flat))  # numpy: the first maximum, row-major
                i, j = rows.start + a // len(cols), cols.start + a % len(cols)
                dmax[b, i, j, ch] += g[b, oh, ow, ch]
    return mx, av, dmax, davg


@pytest.mark.parametrize("geometry", GEOMETRY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_kernels_match_numpy(dtype, geometry):
    hw, k, s, p, out_hw = geometry
    x = rng.standard_normal((3, *hw, 4)).astype(dtype)
    x[0, 0, :2] = 1.5  # ties
    g = rng.standard_normal((3, *out_hw, 4)).astype(dtype)

    def call():
        outs = [np.empty((3, *out_hw, 4), dtype) for _ in range(2)]
        outs += [np.full_like(x, np.nan) for _ in range(2)]
        pool.max_pool2d(x, k, s, p, outs[0])
        pool.avg_pool2d(x, k, s, p, outs[1])
        pool.max_pool2d_grad(x, g, k, s, p, outs[2])
        pool.avg_pool2d_grad(g, k, s, p, outs[3])
        return outs

    for got, want in zip(_runs(call), _refs(x, g, k, s, p, out_hw), strict=True):
        np.testing.assert_allclose(got, want, **TOL[dtype])


def test_pool_kernel_argument_checks():
    x = np.zeros((1, 4, 4, 1), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        pool.max_pool2d(x.astype(np.int32), (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1)))
    with pytest.raises(TypeError, match="out must be float32"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="C-contiguous"):
        pool.avg_pool2d(np.zeros((1, 4, 4, 2), np.float32)[..., :1], (2, 2), (2, 2), (0, 0),
                        np.empty((1, 2, 2, 1), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="pads in"):
        pool.max_pool2d(x, (2, 2), (2, 2), (2, 0), np.empty((1, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match="past the"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="same batch and channels"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="NHWC"):
        pool.max_pool2d(x[0], (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1), np.float32))


# ---- batch norm ------------------------------------------------------------------------------


def _bn_refs(x, gamma, beta, axis, eps, gy, gmean, gvar):
    x64 = x.astype(np.float64)
    axes = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    count = x.size / x.shape[axis]
    mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mean.reshape(shape)) * rstd.reshape(shape)
    y = xhat * gamma.reshape(shape) + beta.reshape(shape)
    gy = gy.astype(np.float64)
    dbeta = gy.sum(axis=axes)
    dgamma = (gy * xhat).sum(axis=axes)
    dx = (gamma * rstd).reshape(shape) * (
        gy - (dbeta / count).reshape(shape) - xhat * (dgamma / count).reshape(shape)
    )
    dx += (gmean / count).reshape(shape) + 2 * (gvar / count).reshape(shape) * (
        x64 - mean.reshape(shape)
    )
    return y, mean, var, dx, dgamma, dbeta


@pytest.mark.parametrize(
    "shape,axis", [((7, 3), 1), ((300, 5), 1), ((2, 3, 4, 5), 3), ((4, 3, 5), 1)]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_kernels_match_numpy(dtype, shape, axis):
    c = shape[axis]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma, beta = rng.uniform(0.5, 1.5, c).astype(dtype), rng.standard_normal(c).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    gmean, gvar = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)

    def call():
        y, mean, var = np.empty_like(x), np.empty(c, dtype), np.empty(c, dtype)
        norm.batch_norm_train(x, gamma, beta, axis, 1e-3, y, mean, var)
        dx, dgamma, dbeta = np.empty_like(x), np.empty(c, dtype), np.empty(c, dtype)
        norm.batch_norm_train_grad(x, gamma, mean, var, gy, gmean, gvar, axis, 1e-3, dx, dgamma,
                                   dbeta)  # fmt: skip
        return y, mean, var, dx, dgamma, dbeta

    got = _runs(call)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else TOL[dtype]
    for a, b in zip(got, _bn_refs(x, gamma, beta, axis, 1e-3, gy, gmean, gvar), strict=True):
        np.testing.assert_allclose(a, b, **tol)


def test_batch_norm_kernel_argument_checks():
    x = np.ones((4, 3), np.float32)
    c = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="gamma must have shape"):
        norm.batch_norm_train(x, np.ones(2, np.float32), c, 1, 1e-3, np.empty_like(x), c.copy(),
                              c.copy())  # fmt: skip
    with pytest.raises(ValueError, match="axis"):
        norm.batch_norm_train(x, c, c, 2, 1e-3, np.empty_like(x), c.copy(), c.copy())
    with pytest.raises(ValueError, match="no elements"):
        e = np.ones((0, 3), np.float32)
        norm.batch_norm_train(e, c, c, 1, 1e-3, np.empty_like(e), c.copy(), c.copy())
    with pytest.raises(TypeError, match="float32"):
        norm.batch_norm_train(x, c.astype(np.float64), c, 1, 1e-3, np.empty_like(x), c.copy(),
                              c.copy())  # fmt: skip
