"""A one-channel 3x3 convolution with bias, relu and a 2x2 max pool, by Winograd F(2x2, 3x3)
per pool window: a network's grayscale first layer (the keras.io MNIST
convnet's).

A 2x2 stride-2 pool window is exactly an F(2x2, 3x3) output tile (`winograd`'s module
docstring has the matrices): its four convolution cells are `A^T [U * V] A` with V = B^T d B
of the window's 4x4 patch d (16 values, once per window) and U = G g G^T of each output
channel's filter (16 per channel, once per call, two small numpy products). Per window and
output channel that is 16 multiplies and 24 additions where the direct sums (`conv_window`)
take 36 and 36; the loop over the output channels is the only inner loop (it vectorizes).
The maximum comes before the bias and relu (adding a constant and clamping at 0 keep the
order of floats), so each is done once per window. In training it also records which cell
won (the argmax `conv_window`'s kernel gradient reads), so inference and training compute the
same bits; this path's float32 error is about 1e-7 of the output's scale. The direct sums
with the argmax took 3.10-3.43 ms CPU for the MNIST first layer at batch 128 on one Zen3
thread, this kernel with it 2.56-3.03 ms (2.05 ms without).

Threads run over images, each writing its own: bit-identical serial or threaded.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import EMPTY, check, check_4d, check_apart
from .conv_window import NO_GRADIENT

#: "No argmax wanted": one compiled signature with and without.
_NO_ARGMAX = np.empty((0, 0, 0, 0), np.uint8)

#: G of F(2x2, 3x3) (`winograd`'s module docstring), per dtype.
_G = {
    np.dtype(name): np.array(
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], name
    )
    for name in ("float32", "float64")
}


@kernel
def _windows(start, stop, x, u, bias, relu, out, argmax):
    """out[n, i, j, o] = act(bias[o] + max of A^T (U[:, o] * V_ij) A) for the images
    start <= n < stop, V_ij = B^T d B of the patch d = x[n, 2i:2i + 4, 2j:2j + 4, 0]; and,
    when `argmax` is not empty, the cell r*2 + s of that maximum there (`NO_GRADIENT` where
    relu and the output is not positive). A cell replaces the running maximum when it is
    larger, or a NaN when the maximum is not (`pool._takes`, written out here: each jitted
    helper a kernel calls costs its own typing and lowering in a cold compile)."""
    rows, cols, cout = out.shape[1], out.shape[2], out.shape[3]
    zero = out.dtype.type(0)
    none = np.uint8(NO_GRADIENT)
    record = argmax.shape[0] != 0
    for n in range(start, stop):
        for i in range(rows):
            r = 2 * i
            for j in range(cols):
                c = 2 * j
                # B^T d: the patch's rows combined (row k of the 4x4 patch is x[n, r + k]).
                t0 = x[n, r, c : c + 4, 0]
                t1 = x[n, r + 1, c : c + 4, 0]
                t2 = x[n, r + 2, c : c + 4, 0]
                t3 = x[n, r + 3, c : c + 4, 0]
                a0, a1, a2, a3 = t0[0] - t2[0], t0[1] - t2[1], t0[2] - t2[2], t0[3] - t2[3]
                b0, b1, b2, b3 = t1[0] + t2[0], t1[1] + t2[1], t1[2] + t2[2], t1[3] + t2[3]
                e0, e1, e2, e3 = t2[0] - t1[0], t2[1] - t1[1], t2[2] - t1[2], t2[3] - t1[3]
                f0, f1, f2, f3 = t1[0] - t3[0], t1[1] - t3[1], t1[2] - t3[2], t1[3] - t3[3]
                # (B^T d) B: each row's columns combined the same way.
                v0, v1, v2, v3 = a0 - a2, a1 + a2, a2 - a1, a1 - a3
                v4, v5, v6, v7 = b0 - b2, b1 + b2, b2 - b1, b1 - b3
                v8, v9, v10, v11 = e0 - e2, e1 + e2, e2 - e1, e1 - e3
                v12, v13, v14, v15 = f0 - f2, f1 + f2, f2 - f1, f1 - f3
                pooled = out[n, i, j]
                for o in range(cout):
                    m0, m1, m2, m3 = v0 * u[0, o], v1 * u[1, o], v2 * u[2, o], v3 * u[3, o]
                    m4, m5, m6, m7 = v4 * u[4, o], v5 * u[5, o], v6 * u[6, o], v7 * u[7, o]
                    m8, m9 = v8 * u[8, o], v9 * u[9, o]
                    m10, m11 = v10 * u[10, o], v11 * u[11, o]
                    m12, m13 = v12 * u[12, o], v13 * u[13, o]
                    m14, m15 = v14 * u[14, o], v15 * u[15, o]
                    # m A (each row's two columns), then A^T of those (the tile's four cells).
                    p0, q0 = (m0 + m1) + m2, (m1 - m2) - m3
                    p1, q1 = (m4 + m5) + m6, (m5 - m6) - m7
                    p2, q2 = (m8 + m9) + m10, (m9 - m10) - m11
                    p3, q3 = (m12 + m13) + m14, (m13 - m14) - m15
                    best, at = (p0 + p1) + p2, np.uint8(0)
                    y = (q0 + q1) + q2
                    t = (not (y <= best)) & (best == best)
                    best, at = (y, np.uint8(1)) if t else (best, at)
                    y = (p1 - p2) - p3
                    t = (not (y <= best)) & (best == best)
                    best, at = (y, np.uint8(2)) if t else (best, at)
                    y = (q1 - q2) - q3
                    t = (not (y <= best)) & (best == best)
                    best, at = (y, np.uint8(3)) if t else (best, at)
                    z = best + bias[o]
                    z = zero if relu and z < zero else z
                    pooled[o] = z
                    if record:
                        argmax[n, i, j, o] = none if relu and not (z > zero) else at


def conv_pool(x: np.ndarray, kernel: np.ndarray, bias, relu: bool, out: np.ndarray,
              argmax: np.ndarray | None = None) -> None:  # fmt: skip
    """`max_pool(act(conv(x, kernel) + bias))` for one input channel, a 3x3 kernel, stride 1,
    "valid" (pad `x` first), and a 2x2 stride-2 "valid" pool: `x` (N, H, W, 1), `kernel`
    (3, 3, 1, C_out), `bias` (C_out,) or None, `relu` a bool, `out` (N, (H - 2) // 2,
    (W - 2) // 2, C_out). The max is the first NaN when there is one, as `pool.max_pool2d`.
    With `argmax` (uint8, `out`'s shape), also records which of its window's four cells,
    r*2 + s, each output came from, or `NO_GRADIENT` (255) when `relu` and the output is not
    positive: what the kernel gradient (`conv_window.gradient_chunks`) reads in training.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> k = np.zeros((3, 3, 1, 1), np.float32)
        >>> k[1, 1] = 1.0  # the conv is x[1:3, 1:3]: [[5, 6], [9, 10]]
        >>> out = np.empty((1, 1, 1, 1), np.float32)
        >>> argmax = np.empty((1, 1, 1, 1), np.uint8)
        >>> conv_pool(x, k, np.array([-8.0], np.float32), True, out, argmax)
        >>> out.ravel(), argmax.ravel()  # relu(10 - 8), from cell (1, 1)
        (array([2.], dtype=float32), array([3], dtype=uint8))
    """
    name = "winograd_window.conv_pool"
    dtype = check_4d(name, "x", x)
    check_4d(name, "kernel", kernel, dtype)
    if kernel.shape[:3] != (3, 3, 1) or x.shape[3] != 1:
        raise ValueError(f"{name}: needs one input channel and a 3x3 kernel (3, 3, 1, C_out). "
                         f"Received: x.shape={x.shape}, kernel.shape={kernel.shape}")  # fmt: skip
    n, h, w, _ = x.shape
    cout = kernel.shape[3]
    check(name, "out", out, dtype=dtype, shape=(n, (h - 2) // 2, (w - 2) // 2, cout), out=True)
    if bias is None:
        bias = np.zeros(cout, dtype)
    check(name, "bias", bias, dtype=dtype, shape=(cout,))
    check_apart(name, "out", out, x=x, kernel=kernel, bias=bias if bias.size else EMPTY[dtype])
    if argmax is None:
        argmax = _NO_ARGMAX
    else:
        check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=out.shape, out=True)
        check_apart(name, "argmax", argmax, pooled=out, x=x)
    if out.size == 0:
        return
    g = _G[dtype] if dtype in _G else _G[np.dtype(np.float64)].astype(dtype)
    u = np.matmul(g, np.matmul(g, kernel.reshape(3, 3 * cout)).reshape(4, 3, cout))  # G g G^T
    launch(_windows, out.size * 16, n, x, u.reshape(16, cout), bias, bool(relu), out, argmax)
