"""Winograd F(2x2, 3x3)'s backward transforms, NHWC: a convolution's gradients from the
forward's own tiles.

The forward computes each 2x2 output tile as `Y = A^T [U * V] A` with `V = B^T d B` of the
4x4 input tile d and `U = G g G^T` of the filter (matrices in the `winograd` module
docstring). Its adjoint gives both gradients from the output gradient's tiles, transformed
once, `W = A dY A^T` (`winograd.grad_transform`):

- the kernel gradient `dk = G^T (sum over tiles of V * W) G`, per position a GEMM
  (C_in, T) @ (T, C_out) (`winograd.filter_grad_from_products`);
- the input gradient: per position the GEMM `dV = W @ U^T` (T, C_out) @ (C_out, C_in), then
  `B dV B^T` for each tile, added into the 4x4 cells the tile read (tiles overlap by two rows
  and columns): `input_grad_transform`. It uses the forward's tiles (36 for an 11x11 output)
  where the input gradient as a convolution of the padded gradient would need 49 (a 13x13
  image).

`pooled_grad_transform` makes W straight from a 2x2 stride-2 max pool's output gradient and
the argmax the forward recorded (`winograd_output.output_pool_transform`): a pool window is
a tile, its gradient is one cell (the argmax) or none, so each tile's W is that cell's
gradient times a column of A and a row of A^T: no dense gradient, and only the tiles under
a pool window (a tile row or column past the last whole window has no gradient).

Threads run over whole images (`input_grad_transform`) or runs of tiles, each writing its own
cells; the bias gradient's per-task sums are added in task order: bit-identical serial or
threaded. Each wrapper takes `threads=False` to run serially whatever the size, and
`validate=False` to skip its checks (as `winograd`'s wrappers).
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch_or_serial
from ._checks import EMPTY, check, check_4d, check_apart

#: The transformed tile's positions (winograd.POSITIONS).
POSITIONS = 16

#: The pooled gradient's bias is summed over this many runs of tiles (fewer when fewer tiles),
#: merged in order: a count fixed by the shape, so the sums do not depend on the threads.
TASKS = 64

#: The argmax of a window whose gradient is 0 (winograd_output.NO_GRADIENT).
NO_GRADIENT = 255


# ---- W from a max pool's gradient and argmax -------------------------------------------------


#: A = [[1, 0], [1, 1], [1, -1], [0, -1]] (the transpose of A^T), a constant of the kernels.
_A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [0.0, -1.0]])


@kernel
def _pooled_grad_tasks(start, stop, g, argmax, out, parts):
    """W for the tiles of tasks start <= task < stop, the tiles cut into parts.shape[0]
    tasks: out2[4*k + l, i] = g1[i] * A[k, r] * A[l, s] for the entries i of the task's
    tiles in the flattened (tiles, channels) gradient, (r, s) = divmod(idx1[i], 2), 0 where
    idx1 is NO_GRADIENT. One flat loop per position (three streams, indexed by the loop
    counter itself: it vectorizes, 2x faster than a loop per tile over its channels). With a
    bias gradient (parts not 0 wide), parts[task] = the sum over the task's tiles t of g2[t]
    where idx2 has a gradient (a window cell 0-3). (One function, no helpers: the fewer
    functions, the shorter the compile.)"""
    tiles = g.shape[0] * g.shape[1] * g.shape[2]
    channels = g.shape[3]
    g2 = g.reshape(tiles, channels)
    idx2 = argmax.reshape(tiles, channels)
    g1, idx1 = g.reshape(g.size), argmax.reshape(argmax.size)
    out2 = out.reshape(POSITIONS, out.shape[1] * channels)
    tasks = parts.shape[0]
    zero = out2.dtype.type(0)
    for task in range(start, stop):
        first, last = task * tiles // tasks, (task + 1) * tiles // tasks
        begin, end = first * channels, last * channels
        for p in range(POSITIONS):
            k, l = p // 4, p % 4
            # The coefficient of each cell of the window (r*2 + s).
            c0 = out2.dtype.type(_A[k, 0] * _A[l, 0])
            c1 = out2.dtype.type(_A[k, 0] * _A[l, 1])
            c2 = out2.dtype.type(_A[k, 1] * _A[l, 0])
            c3 = out2.dtype.type(_A[k, 1] * _A[l, 1])
            # Views indexed from 0 (an index counted from `begin` gets a wraparound check).
            dst, src, cells = out2[p, begin:end], g1[begin:end], idx1[begin:end]
            for i in range(dst.shape[0]):
                m = cells[i]
                coef = c0 if m == 0 else (c1 if m == 1 else (c2 if m == 2 else c3))
                dst[i] = coef * (src[i] if m < 4 else zero)  # no gradient: 0, even for a NaN
        if parts.shape[1] != 0:
            part = parts[task]
            for c in range(channels):
                part[c] = zero
            for t in range(first, last):
                for c in range(channels):
                    part[c] += g2[t, c] if idx2[t, c] < 4 else zero


@kernel
def _merge_bias(parts, bias_out):
    """bias_out = the tasks' partial sums, added in task order."""
    for c in range(bias_out.shape[0]):
        bias_out[c] = parts[0, c]
    for task in range(1, parts.shape[0]):
        for c in range(bias_out.shape[0]):
            bias_out[c] += parts[task, c]


def _pooled_grad_transform(threads: bool, g, argmax, out, bias_out) -> None:
    """W by tasks of tiles (on the worker threads when `threads` and the size pays), then the
    bias gradient from the tasks' sums, in task order."""
    tiles = g.shape[0] * g.shape[1] * g.shape[2]
    tasks = max(1, min(tiles, TASKS))
    parts = np.empty((tasks, bias_out.shape[0]), out.dtype)
    launch_or_serial(threads, _pooled_grad_tasks, out.size, tasks, g, argmax, out, parts)
    if bias_out.shape[0] != 0:
        _merge_bias(parts, bias_out)


# ---- the input gradient: B dV B^T of each tile, added into the cells it read --------------


@kernel
def _adjoint_images(first, last, dv, top, left, tiles_h, tiles_w, dx):
    """dx[n] for the images first <= n < last: the sum over their tiles t (tile rows of
    image n, as the forward's `input_transform`) of B dv[:, t] B^T (4x4 per channel) at the
    cells from (2i - top, 2j - left), the cells outside the image dropped.

    Each image is summed in `acc` (2*tiles_h + 2, 2*tiles_w + 2, C), the tiles' whole reach,
    then its cells inside the image are copied out. Per tile row, `h` (4, 4, tiles_w, C) takes
    B dv (h[a, s] for a row a of the 4x4 cells), then each row a of acc adds h[a] B^T:
    b = 0: h0, b = 1: h1 - h2 + h3, b = 2: h1 + h2 - h0, b = 3: -h3."""
    _, height, width, channels = dx.shape
    span_h, span_w = 2 * tiles_h + 2, 2 * tiles_w + 2
    acc = np.empty((span_h, span_w, channels), dx.dtype)
    h = np.empty((4, 4, tiles_w, channels), dx.dtype)
    zero = dx.dtype.type(0)
    row_lo, row_hi = max(0, -top), min(height, span_h - top)
    col_lo, col_hi = max(0, -left), min(width, span_w - left)
    for n in range(first, last):
        for i in range(span_h):
            for p in range(span_w):
                for c in range(channels):
                    acc[i, p, c] = zero
        for i in range(tiles_h):
            base = (n * tiles_h + i) * tiles_w
            for s in range(4):
                for j in range(tiles_w):
                    t = base + j
                    for c in range(channels):
                        h[0, s, j, c] = dv[s, t, c]
                    for c in range(channels):
                        h[1, s, j, c] = (dv[4 + s, t, c] - dv[8 + s, t, c]) + dv[12 + s, t, c]
                    for c in range(channels):
                        h[2, s, j, c] = (dv[4 + s, t, c] + dv[8 + s, t, c]) - dv[s, t, c]
                    for c in range(channels):
                        h[3, s, j, c] = -dv[12 + s, t, c]
            for a in range(4):
                row = 2 * i + a
                for j in range(tiles_w):
                    p = 2 * j
                    for c in range(channels):
                        acc[row, p, c] += h[a, 0, j, c]
                    for c in range(channels):
                        acc[row, p + 1, c] += (h[a, 1, j, c] - h[a, 2, j, c]) + h[a, 3, j, c]
                    for c in range(channels):
                        acc[row, p + 2, c] += (h[a, 1, j, c] + h[a, 2, j, c]) - h[a, 0, j, c]
                    for c in range(channels):
                        acc[row, p + 3, c] -= h[a, 3, j, c]
        for row in range(height):
            for col in range(width):
                inside = row_lo <= row < row_hi and col_lo <= col < col_hi
                if inside:
                    for c in range(channels):
                        dx[n, row, col, c] = acc[row + top, col + left, c]
                else:
                    for c in range(channels):
                        dx[n, row, col, c] = zero


# ---- wrappers ----------------------------------------------------------------------------


def pooled_grad_transform(g: np.ndarray, argmax: np.ndarray, out: np.ndarray, bias_out=None,
                          *, threads: bool = True, validate: bool = True) -> None:  # fmt: skip
    """`winograd.grad_transform` of the convolution output gradient that a 2x2 stride-2 max
    pool's gradient `g` (N, Ph, Pw, C_out) and its forward's `argmax` (uint8, the same shape:
    the window cell r*2 + s of the maximum, or 255 for no gradient) would build, for the tiles
    under the pool's windows only: `out` (16, N*Ph*Pw, C_out), tile t = (n*Ph + i)*Pw + j.
    With `bias_out` (C_out,), also the bias gradient: the sum of `g` where it has a gradient.

    Example:
        >>> g = np.full((1, 1, 1, 1), 2.0, np.float32)
        >>> argmax = np.zeros((1, 1, 1, 1), np.uint8)  # the window's top-left cell
        >>> w = np.empty((16, 1, 1), np.float32)
        >>> pooled_grad_transform(g, argmax, w)
        >>> w[:, 0, 0].reshape(4, 4)
        array([[2., 2., 2., 0.],
               [2., 2., 2., 0.],
               [2., 2., 2., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        bias_out = EMPTY[g.dtype] if bias_out is None else bias_out
        _pooled_grad_transform(threads, g, argmax, out, bias_out)
        return
    name = "pooled_grad_transform"
    dtype = check_4d(name, "g", g)
    check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=g.shape)
    n, ph, pw, cout = g.shape
    check(name, "out", out, dtype=dtype, shape=(POSITIONS, n * ph * pw, cout), out=True)
    check_apart(name, "out", out, g=g, argmax=argmax)
    if bias_out is None:
        bias_out = EMPTY[dtype]
    else:
        check(name, "bias_out", bias_out, dtype=dtype, shape=(cout,), out=True)
        check_apart(name, "bias_out", bias_out, g=g, w=out)
    if out.size == 0:
        if bias_out.size:
            bias_out[:] = 0
        return
    _pooled_grad_transform(threads, g, argmax, out, bias_out)


def input_grad_transform(dv: np.ndarray, pad_top: int, pad_left: int, tiles_h: int,
                         tiles_w: int, dx: np.ndarray, *, threads: bool = True,
                         validate: bool = True) -> None:  # fmt: skip
    """The transpose of `winograd.input_transform`: `dx` (N, H, W, C) = the sum over the tiles
    t = (n*tiles_h + i)*tiles_w + j of `B dv[:, t] B^T` (4x4 per channel, position 4*r + s of
    `dv` (16, N*tiles_h*tiles_w, C)) at the cells x[n, 2i + r - pad_top, 2j + s - pad_left]
    the tile read; cells no tile reaches are 0. With `dv = W @ U^T` per position, it is the
    Winograd convolution's input gradient.

    Example:
        >>> dv = np.zeros((16, 1, 1), np.float32)
        >>> dv[5] = 1.0  # position (1, 1)
        >>> dx = np.empty((1, 4, 4, 1), np.float32)
        >>> input_grad_transform(dv, 0, 0, 1, 1, dx)
        >>> dx[0, :, :, 0]
        array([[0., 0., 0., 0.],
               [0., 1., 1., 0.],
               [0., 1., 1., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        launch_or_serial(threads, _adjoint_images, dv.size * 2, dx.shape[0], dv, pad_top, pad_left,
                         tiles_h, tiles_w, dx)  # fmt: skip
        return
    name = "input_grad_transform"
    dtype = check_4d(name, "dx", dx)
    pad_top, pad_left, tiles_h, tiles_w = (int(v) for v in (pad_top, pad_left, tiles_h, tiles_w))
    if tiles_h < 1 or tiles_w < 1:
        raise ValueError(f"{name}: tiles_h and tiles_w must be >= 1. Received: tiles_h="
                         f"{tiles_h}, tiles_w={tiles_w}")  # fmt: skip
    n, _, _, c = dx.shape
    check(name, "dv", dv, dtype=dtype, shape=(POSITIONS, n * tiles_h * tiles_w, c))
    check_apart(name, "dx", dx, dv=dv)
    if dx.size == 0:
        return
    launch_or_serial(threads, _adjoint_images, dv.size * 2, n, dv, pad_top, pad_left, tiles_h,
                     tiles_w, dx)  # fmt: skip
