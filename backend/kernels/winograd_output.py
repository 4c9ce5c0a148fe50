"""Winograd F(2x2, 3x3)'s output transform, NHWC: `output_transform`, and
`output_pool_transform`, the same with a 2x2 max pool in it.

`output_transform` writes `Y = act(bias + A^T m A)` for each 2x2 tile of the GEMM products
(the module docstring of `winograd` has the matrices and the layout). A tile is exactly a
window of a 2x2, stride-2, "valid" max pool over the output (both start at the output's
corner), so `output_pool_transform` computes each tile's four cells the same way (bias and
relu included, the same bits), keeps their maximum (the first in row-major order, NaN
winning, as `pool.max_pool2d`) and writes only that: the convolution's output never goes to
memory and no pool pass reads it. Tiles past the last whole window (an odd output size) are
not computed. With `argmax` it also records, per pooled value, which cell of the window was
the maximum (`r*2 + s`), or `NO_GRADIENT` (255) where `relu` and the maximum is not positive
(relu's gradient is 0 there); `pool.max_unpool2d` turns that and the pool's output gradient
into the convolution's output gradient, as the pool's and relu's gradients would.

Threads run over a fixed number of runs of tile rows, each writing its own rows of the
output: bit-identical serial or threaded. Each wrapper takes `threads=False` to run serially
whatever the size, and `validate=False` to skip its checks (as `winograd`'s wrappers). (A
file of its own, `winograd` re-exports `output_transform`; its small helpers are repeated
here, not imported: Numba's cache watches only a kernel's own file.)
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch_or_serial
from ._checks import EMPTY, check, check_4d, check_apart, float_dtype

#: The transformed tile's positions (winograd.POSITIONS).
POSITIONS = 16

#: The argmax of a window whose gradient is 0 (relu's, at a maximum <= 0).
NO_GRADIENT = 255

#: "No argmax wanted": one compiled signature with and without.
_NO_ARGMAX = np.empty((0, 0, 0, 0), np.uint8)


@kernel
def _bias_or_zeros(bias, cout, like):
    """`bias`, or zeros when it is empty (no bias)."""
    return bias if bias.shape[0] != 0 else np.zeros(cout, like.dtype)


@kernel
def _sum3(a, b, c, plus, dst):
    """dst = (a + b) + c when `plus`, else (a - b) - c, elementwise, over 1-D views."""
    if plus:
        for k in range(dst.shape[0]):
            dst[k] = (a[k] + b[k]) + c[k]
    else:
        for k in range(dst.shape[0]):
            dst[k] = (a[k] - b[k]) - c[k]


@kernel
def _times_a(m2, q, run, cols_flat):
    """m A for tile row q, every tile at once: per row r of the products,
    cols_flat[2r] = m[r, 0] + m[r, 1] + m[r, 2] and cols_flat[2r + 1] = m[r, 1] - m[r, 2] -
    m[r, 3], each a run of `run` = tiles_w*C_out values."""
    for r in range(4):
        p0, p1 = m2[4 * r, q * run : (q + 1) * run], m2[4 * r + 1, q * run : (q + 1) * run]
        p2, p3 = m2[4 * r + 2, q * run : (q + 1) * run], m2[4 * r + 3, q * run : (q + 1) * run]
        _sum3(p0, p1, p2, True, cols_flat[2 * r])
        _sum3(p1, p2, p3, False, cols_flat[2 * r + 1])


@kernel
def _output_tile_row(m2, bias, relu, tiles_h, q, cols, cols_flat, out):
    """out[n, 2i + r, 2j + s] = act(bias + (A^T m[:, t] A)[r, s]) for the tiles t =
    q*tiles_w + j of tile row q = n*tiles_h + i and the cells inside out (act = relu or the
    identity); m2 is m (16, T, C_out) seen as (16, T*C_out). `cols` (8, tiles_w, C_out) takes
    the column combinations m A of each row of the products, every tile at once (`cols_flat`
    is the same memory as (8, tiles_w*C_out))."""
    height, width, cout = out.shape[1], out.shape[2], out.shape[3]
    tiles_w = cols.shape[1]
    n = q // tiles_h
    i0 = 2 * (q - n * tiles_h)
    run = tiles_w * cout
    _times_a(m2, q, run, cols_flat)
    # A^T (m A) plus the bias: output row 0 = c0 + c1 + c2, row 1 = c1 - c2 - c3.
    zero = out.dtype.type(0)
    for r in range(2):
        i = i0 + r
        if i >= height:
            break
        for j in range(tiles_w):
            for s in range(2):
                col = 2 * j + s
                if col >= width:
                    break
                if r == 0 and relu:
                    for o in range(cout):
                        z = bias[o] + ((cols[s, j, o] + cols[2 + s, j, o]) + cols[4 + s, j, o])
                        out[n, i, col, o] = zero if z < zero else z
                elif r == 0:
                    for o in range(cout):
                        out[n, i, col, o] = bias[o] + (
                            (cols[s, j, o] + cols[2 + s, j, o]) + cols[4 + s, j, o]
                        )
                elif relu:
                    for o in range(cout):
                        z = bias[o] + ((cols[2 + s, j, o] - cols[4 + s, j, o]) - cols[6 + s, j, o])
                        out[n, i, col, o] = zero if z < zero else z
                else:
                    for o in range(cout):
                        out[n, i, col, o] = bias[o] + (
                            (cols[2 + s, j, o] - cols[4 + s, j, o]) - cols[6 + s, j, o]
                        )


@kernel
def _output_transform(start, stop, m, bias, relu, tiles_h, tiles_w, out):
    """`_output_tile_row` for the tile rows start <= q < stop, with their work array."""
    cout = out.shape[3]
    bias = _bias_or_zeros(bias, cout, out)
    m2 = m.reshape(POSITIONS, m.shape[1] * cout)
    cols = np.empty((8, tiles_w, cout), out.dtype)
    cols_flat = cols.reshape(8, tiles_w * cout)
    for q in range(start, stop):
        _output_tile_row(m2, bias, relu, tiles_h, q, cols, cols_flat, out)


@kernel
def _output_pool_transform(start, stop, m, bias, relu, tiles_h, tiles_w, pooled, argmax):
    """For the tile rows q = n*tiles_h + i, start <= q < stop, with i < the pooled rows: the
    four cells of each of their tiles j < the pooled columns, as `_output_tile_row` computes
    them, then their maximum into pooled[n, i, j] and, when argmax is not empty, its cell
    into argmax. One function: the per-row helper, `_times_a`, `_sum3`, `_bias_or_zeros` and
    `pool._takes` written out (the same operations in the same order), as each function Numba
    compiles costs a fixed round of typing, lowering and LLVM on a cold start."""
    cout = pooled.shape[3]
    if bias.shape[0] == 0:
        bias = np.zeros(cout, pooled.dtype)
    m2 = m.reshape(POSITIONS, m.shape[1] * cout)
    cols = np.empty((8, tiles_w, cout), pooled.dtype)
    cols_flat = cols.reshape(8, tiles_w * cout)
    rows, windows = pooled.shape[1], pooled.shape[2]
    zero = pooled.dtype.type(0)
    record = argmax.shape[0] != 0
    none = np.uint8(NO_GRADIENT)
    run = tiles_w * cout
    for q in range(start, stop):
        n = q // tiles_h
        i = q - n * tiles_h
        if i >= rows:
            continue
        # m A for the tile row (`_times_a`): per row r of the products, cols_flat[2r] =
        # (m[r, 0] + m[r, 1]) + m[r, 2], cols_flat[2r + 1] = (m[r, 1] - m[r, 2]) - m[r, 3].
        for r in range(4):
            p0, p1 = m2[4 * r, q * run : (q + 1) * run], m2[4 * r + 1, q * run : (q + 1) * run]
            p2, p3 = m2[4 * r + 2, q * run : (q + 1) * run], m2[4 * r + 3, q * run : (q + 1) * run]
            plus, minus = cols_flat[2 * r], cols_flat[2 * r + 1]
            for k in range(run):
                plus[k] = (p0[k] + p1[k]) + p2[k]
            for k in range(run):
                minus[k] = (p1[k] - p2[k]) - p3[k]
        out = pooled[n, i]
        for j in range(windows):
            for o in range(cout):
                # The tile's cells in row-major order, each as output_transform writes it.
                z0 = bias[o] + ((cols[0, j, o] + cols[2, j, o]) + cols[4, j, o])
                z1 = bias[o] + ((cols[1, j, o] + cols[3, j, o]) + cols[5, j, o])
                z2 = bias[o] + ((cols[2, j, o] - cols[4, j, o]) - cols[6, j, o])
                z3 = bias[o] + ((cols[3, j, o] - cols[5, j, o]) - cols[7, j, o])
                if relu:
                    z0 = zero if z0 < zero else z0
                    z1 = zero if z1 < zero else z1
                    z2 = zero if z2 < zero else z2
                    z3 = zero if z3 < zero else z3
                # A cell replaces the running maximum when larger, or a NaN when the maximum
                # is not (`pool._takes`).
                best, at = z0, np.uint8(0)
                t = (not (z1 <= best)) & (best == best)
                at = np.uint8(1) if t else at
                best = z1 if t else best
                t = (not (z2 <= best)) & (best == best)
                at = np.uint8(2) if t else at
                best = z2 if t else best
                t = (not (z3 <= best)) & (best == best)
                at = np.uint8(3) if t else at
                best = z3 if t else best
                out[j, o] = best
                if record:
                    argmax[n, i, j, o] = none if relu and not (best > zero) else at


# ---- wrappers ----------------------------------------------------------------------------


def _pool_grid(m, n: int, ho: int, wo: int) -> tuple:
    """The tile grid of products `m` for a pooled (ho, wo) output: every tile covering it,
    or, when `m` holds fewer, only the pool's windows (`output_pool_transform`)."""
    full = (ho + 1) // 2, (wo + 1) // 2
    return full if m.shape[1] == n * full[0] * full[1] else (ho // 2, wo // 2)


def _check_products(name: str, m, bias, out_shape, dtype, out_name: str, out,
                    grid=None) -> tuple:  # fmt: skip
    """Checks the products `m` (16, T, C_out) of an `out_shape` output and the bias; returns
    (tiles_h, tiles_w, bias), bias an empty array when None. The tiles are those covering
    the output, or the given `grid` (tiles_h, tiles_w)."""
    n, ho, wo, cout = out_shape
    tiles_h, tiles_w = grid or ((ho + 1) // 2, (wo + 1) // 2)
    if m.shape != (POSITIONS, n * tiles_h * tiles_w, cout):
        raise ValueError(
            f"{name}: m must have shape {(POSITIONS, n * tiles_h * tiles_w, cout)} (the 2x2 "
            f"tiles of a {tuple(out_shape)} output). Received: m.shape={m.shape}"
        )
    check(name, "m", m, dtype=dtype)
    if bias is None:
        bias = EMPTY[dtype]
    else:
        check(name, "bias", bias, dtype=dtype, shape=(cout,))
    check_apart(name, out_name, out, m=m, bias=bias)
    return tiles_h, tiles_w, bias


def output_transform(m: np.ndarray, bias, relu: bool, out: np.ndarray, *,
                     threads: bool = True, validate: bool = True) -> None:  # fmt: skip
    """Transforms the GEMM products `m` (16, T, C_out) back into `out` (N, Ho, Wo, C_out):
    `out[n, 2i + r, 2j + s, o] = act(bias[o] + (A^T m[:, t, o] A)[r, s])` for tile t =
    (n*tiles_h + i)*tiles_w + j (tiles_h = ceil(Ho / 2), tiles_w = ceil(Wo / 2), T = N*tiles_h*
    tiles_w) and the cells inside `out`. `bias` is a (C_out,) array or None (no bias); `relu`
    a bool: act(z) = max(z, 0) (NaN stays NaN) when true, else z.

    Example:
        >>> m = np.zeros((16, 1, 1), np.float32)
        >>> m[5] = 1.0  # the centre of the 4x4 product reaches every output of its tile
        >>> out = np.empty((1, 2, 2, 1), np.float32)
        >>> output_transform(m, np.array([0.5], np.float32), False, out)
        >>> out[0, :, :, 0]
        array([[1.5, 1.5],
               [1.5, 1.5]], dtype=float32)
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        tiles_h, tiles_w = (out.shape[1] + 1) // 2, (out.shape[2] + 1) // 2
        bias = EMPTY[m.dtype] if bias is None else bias
        launch_or_serial(threads, _output_transform, m.size * 2, out.shape[0] * tiles_h, m, bias,
                         bool(relu), tiles_h, tiles_w, out)  # fmt: skip
        return
    name = "output_transform"
    dtype = float_dtype(name, "m", m)
    check_4d(name, "out", out, dtype)
    tiles_h, tiles_w, bias = _check_products(name, m, bias, out.shape, dtype, "out", out)
    launch_or_serial(threads, _output_transform, m.size * 2, out.shape[0] * tiles_h, m, bias,
                     bool(relu), tiles_h, tiles_w, out)  # fmt: skip


def output_pool_transform(m: np.ndarray, bias, relu: bool, out_hw, pooled: np.ndarray,
                          argmax=None, *, threads: bool = True,
                          validate: bool = True) -> None:  # fmt: skip
    """`output_transform` of the products `m` (16, T, C_out) for an (Ho, Wo) =
    `out_hw` output, then a 2x2 stride-2 "valid" max pool, into `pooled` (N, Ho // 2,
    Wo // 2, C_out), the output never written: the same bits as the two in turn. The tiles
    of `m` are either all those covering the output (T = N*ceil(Ho/2)*ceil(Wo/2)) or only the
    pool's windows (T = N*(Ho//2)*(Wo//2): an odd output's last row and column of tiles,
    which no window reads, not computed at all). With `argmax` (uint8, `pooled`'s shape),
    also each window's first maximum's cell `r*2 + s`, or `NO_GRADIENT` where `relu` and the
    maximum is not positive.

    Example:
        >>> m = np.zeros((16, 1, 1), np.float32)
        >>> m[0], m[15] = 1.0, 2.0  # one tile whose cells A^T m A are [[1, 0], [0, 2]]
        >>> pooled, at = np.empty((1, 1, 1, 1), np.float32), np.empty((1, 1, 1, 1), np.uint8)
        >>> output_pool_transform(m, None, True, (2, 2), pooled, at)
        >>> pooled.ravel(), at.ravel()
        (array([2.], dtype=float32), array([3], dtype=uint8))
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        tiles_h, tiles_w = _pool_grid(m, pooled.shape[0], int(out_hw[0]), int(out_hw[1]))
        bias = EMPTY[m.dtype] if bias is None else bias
        argmax = _NO_ARGMAX if argmax is None else argmax
        launch_or_serial(threads, _output_pool_transform, m.size * 2, pooled.shape[0] * tiles_h, m,
                         bias, bool(relu), tiles_h, tiles_w, pooled, argmax)  # fmt: skip
        return
    name = "output_pool_transform"
    dtype = float_dtype(name, "m", m)
    if not isinstance(pooled, np.ndarray) or pooled.ndim != 4:
        raise ValueError(f"{name}: pooled must be a 4-D array. Received: pooled.shape="
                         f"{np.shape(pooled)}")  # fmt: skip
    n, _, _, cout = pooled.shape
    ho, wo = (int(v) for v in out_hw)
    check(name, "pooled", pooled, dtype=dtype, shape=(n, ho // 2, wo // 2, cout), out=True)
    grid = _pool_grid(m, n, ho, wo) if m.ndim == 3 else None
    tiles_h, tiles_w, bias = _check_products(name, m, bias, (n, ho, wo, cout), dtype, "pooled",
                                             pooled, grid)  # fmt: skip
    if argmax is None:
        argmax = _NO_ARGMAX
    else:
        check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=pooled.shape, out=True)
        check_apart(name, "argmax", argmax, m=m, pooled=pooled)
    if pooled.size == 0:
        return
    launch_or_serial(threads, _output_pool_transform, m.size * 2, n * tiles_h, m, bias,
                     bool(relu), tiles_h, tiles_w, pooled, argmax)  # fmt: skip
