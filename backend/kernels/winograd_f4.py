"""Winograd F(4x4, 3x3), NHWC: a 3x3 stride-1 convolution with bias and relu, with a 2x2
stride-2 max pool (`output_pool_transform`) or without (`output_transform`), as 36 GEMMs.

A 4x4 tile of outputs is `Y = A^T [(G g G^T) * (B^T d B)] A` (Lavin & Gray, 2016) for the
3x3 filter g of one (c_in, c_out) pair and the 6x6 input tile d under the tile's windows:

    B^T = [[4,  0, -5,  0, 1, 0],      G = [[ 1/4,     0,    0],
           [0, -4, -4,  1, 1, 0],           [-1/6,  -1/6, -1/6],
           [0,  4, -4, -1, 1, 0],           [-1/6,   1/6, -1/6],
           [0, -2, -1,  2, 1, 0],           [1/24,  1/12,  1/6],
           [0,  2, -1, -2, 1, 0],           [1/24, -1/12,  1/6],
           [0,  4,  0, -5, 0, 1]]           [   0,     0,    1]]

    A^T = [[1, 1,  1, 1,  1, 0],
           [0, 1, -1, 2, -2, 0],
           [0, 1,  1, 4,  4, 0],
           [0, 1, -1, 8, -8, 1]]

Each of the 36 positions xi = 6*r + s of the elementwise product, summed over input
channels, is a GEMM `M[xi] = V[xi] @ U[xi]`: 36 multiplies per 16 outputs and channel pair,
against F(2x2, 3x3)'s 16 per 4 (`winograd`): 0.56 of them. The price is precision: the
transforms' larger coefficients leave a float32 error of a few 1e-6 of the output's scale
(F(2x2)'s is about 1e-7), which is why `conv_winograd` takes it only with at most
`F4_MAX_IN` channels summed (`use_f4`, `use_f4_unpooled`).

The 4x4 tiles start every 4 rows/cols, so each holds four whole windows of a 2x2 stride-2
pool: `output_pool_transform` writes only their maxima, the convolution's output never goes
to memory; `output_transform` writes the tiles' cells inside the output. Tiles are numbered
t = (n*tiles_h + i)*tiles_w + j and the loops run over runs of channels with 3-D indices (so
they vectorize), as in `winograd`; threads run over a fixed number of runs of tile rows,
each writing its own cells: bit-identical serial or threaded. The filter transform is two
numpy matrix products (once per call).
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch_or_serial
from ._checks import EMPTY, check, check_4d, check_apart, float_dtype
from .winograd import check_filter_transform, check_input_transform

#: The 36 positions of a transformed 6x6 tile.
POSITIONS = 36

#: G (6x3) of the module docstring.
G = np.array(
    [
        [1 / 4, 0.0, 0.0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0.0, 0.0, 1.0],
    ]
)
#: B^T (6x6) and A^T (4x6) of the module docstring (what the kernels compute, for tests).
B_T = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
_G_BY_DTYPE = {name: G.astype(name) for name in ("float32", "float64")}
A_T = np.array(
    [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    dtype=np.float64,
)


def tile_counts(pooled_h: int, pooled_w: int) -> tuple:
    """(tiles_h, tiles_w): the 4x4 tiles that cover a (pooled_h, pooled_w) pooled output."""
    return (int(pooled_h) + 1) // 2, (int(pooled_w) + 1) // 2


def output_tile_counts(out_h: int, out_w: int) -> tuple:
    """(tiles_h, tiles_w): the 4x4 tiles that cover an (out_h, out_w) output (unpooled)."""
    return (int(out_h) + 3) // 4, (int(out_w) + 3) // 4


# ---- kernels -----------------------------------------------------------------------------


@kernel
def _input_tile_rows(start, stop, x, top, left, tiles_h, tiles_w, out):
    """out[6*r + s, t, :] = (B^T d B)[r, s] for the tiles t = q*tiles_w + j of the tile rows
    start <= q < stop (q = n*tiles_h + i), d the 6x6 cells from (4i - top, 4j - left) (0
    outside the image). Rows first: `rows` takes B^T d for every column of the tile row at
    once, column p = 4*jj + k (image column p - left; those outside the image stay 0) at
    rows[:, k, jj], so that column 4j + s of every tile j of the row is the run rows[r, s]
    (s < 4) or rows[r, s - 4, 1:] (s >= 4): each plane of out then takes its column
    combination for the whole tile row in one loop over tiles_w*C values (loops over the
    C channels of one tile each: 1.2x the time, serial MNIST)."""
    _, height, width, channels = x.shape
    span = 4 * tiles_w + 2
    groups = tiles_w + 1
    rows = np.zeros((6, 4, groups, channels), out.dtype)
    flat = rows.reshape(6, 4, groups * channels)
    out2 = out.reshape(36, out.shape[1] * channels)
    blank = np.zeros((width, channels), out.dtype)
    first, last = max(0, -left), min(width, span - left)
    four, five, two = out.dtype.type(4), out.dtype.type(5), out.dtype.type(2)
    run = tiles_w * channels
    for q in range(start, stop):
        n = q // tiles_h
        r0 = 4 * (q - n * tiles_h) - top
        d0 = x[n, r0] if 0 <= r0 < height else blank
        d1 = x[n, r0 + 1] if 0 <= r0 + 1 < height else blank
        d2 = x[n, r0 + 2] if 0 <= r0 + 2 < height else blank
        d3 = x[n, r0 + 3] if 0 <= r0 + 3 < height else blank
        d4 = x[n, r0 + 4] if 0 <= r0 + 4 < height else blank
        d5 = x[n, r0 + 5] if 0 <= r0 + 5 < height else blank
        for col in range(first, last):
            p = col + left
            k, jj = p % 4, p // 4
            for c in range(channels):
                rows[0, k, jj, c] = (four * d0[col, c] - five * d2[col, c]) + d4[col, c]
            for c in range(channels):
                rows[1, k, jj, c] = (d3[col, c] + d4[col, c]) - four * (d1[col, c] + d2[col, c])
            for c in range(channels):
                rows[2, k, jj, c] = four * (d1[col, c] - d2[col, c]) + (d4[col, c] - d3[col, c])
            for c in range(channels):
                rows[3, k, jj, c] = two * (d3[col, c] - d1[col, c]) + (d4[col, c] - d2[col, c])
            for c in range(channels):
                rows[4, k, jj, c] = two * (d1[col, c] - d3[col, c]) + (d4[col, c] - d2[col, c])
            for c in range(channels):
                rows[5, k, jj, c] = (four * d1[col, c] - five * d3[col, c]) + d5[col, c]
        lo = q * run
        for r in range(6):
            e0, e1, e2, e3 = flat[r, 0], flat[r, 1], flat[r, 2], flat[r, 3]
            e4, e5 = flat[r, 0, channels:], flat[r, 1, channels:]
            o = out2[6 * r, lo : lo + run]
            for f in range(run):
                o[f] = (four * e0[f] - five * e2[f]) + e4[f]
            o = out2[6 * r + 1, lo : lo + run]
            for f in range(run):
                o[f] = (e3[f] + e4[f]) - four * (e1[f] + e2[f])
            o = out2[6 * r + 2, lo : lo + run]
            for f in range(run):
                o[f] = four * (e1[f] - e2[f]) + (e4[f] - e3[f])
            o = out2[6 * r + 3, lo : lo + run]
            for f in range(run):
                o[f] = two * (e3[f] - e1[f]) + (e4[f] - e2[f])
            o = out2[6 * r + 4, lo : lo + run]
            for f in range(run):
                o[f] = two * (e1[f] - e3[f]) + (e4[f] - e2[f])
            o = out2[6 * r + 5, lo : lo + run]
            for f in range(run):
                o[f] = (four * e1[f] - five * e3[f]) + e5[f]


@kernel
def _takes(v, best):
    """`pool._takes`: whether `v` replaces the running maximum `best` (larger, or a NaN when
    `best` is not)."""
    return (not (v <= best)) & (best == best)


@kernel
def _times_a(m2, first, step, lo, run, dst, dst_first, dst_step, two, four, eight):
    """dst[dst_first + dst_step*c, :run] = (v A)[c] for c < 4, elementwise over the run of
    `run` values from `lo` of the six rows v[k] = m2[first + step*k] (A^T's four
    combinations of six values: one pass for the four, where four passes of one each took
    1.4x the time, serial MNIST)."""
    p0, p1 = m2[first, lo : lo + run], m2[first + step, lo : lo + run]
    p2, p3 = m2[first + 2 * step, lo : lo + run], m2[first + 3 * step, lo : lo + run]
    p4, p5 = m2[first + 4 * step, lo : lo + run], m2[first + 5 * step, lo : lo + run]
    c0, c1 = dst[dst_first], dst[dst_first + dst_step]
    c2, c3 = dst[dst_first + 2 * dst_step], dst[dst_first + 3 * dst_step]
    for k in range(run):
        v0, v1, v2, v3, v4, v5 = p0[k], p1[k], p2[k], p3[k], p4[k], p5[k]
        c0[k] = ((v0 + v1) + v2) + (v3 + v4)
        c1[k] = (v1 - v2) + two * (v3 - v4)
        c2[k] = (v1 + v2) + four * (v3 + v4)
        c3[k] = ((v1 - v2) + eight * (v3 - v4)) + v5


@kernel
def _column(cols, s, j, o, upper, two, four, eight):
    """Rows (0, 1) of column s of Y = A^T (m A) when `upper`, else rows (2, 3), for tile j's
    output channel o (`cols` holds m A, row r's column s at 4r + s)."""
    e1, e2 = cols[4 + s, j, o], cols[8 + s, j, o]
    e3, e4 = cols[12 + s, j, o], cols[16 + s, j, o]
    if upper:
        return ((cols[s, j, o] + e1) + e2) + (e3 + e4), (e1 - e2) + two * (e3 - e4)
    return (e1 + e2) + four * (e3 + e4), ((e1 - e2) + eight * (e3 - e4)) + cols[20 + s, j, o]


@kernel
def _pool_tile_rows(start, stop, m, bias, relu, tiles_h, tiles_w, pooled):
    """For the tile rows start <= q < stop (q = n*tiles_h + i): Y = A^T m A of each tile,
    then pooled[n, 2i + a, 2j + b] = act(bias + the maximum of Y's window (a, b)) for the
    windows inside pooled. The maximum comes before the bias and relu: adding a constant and
    clamping at 0 keep the order of floats, so the result is that of pooling act(bias + Y).
    `cols` (24, tiles_w, C_out) takes m A for every tile of the row at once (`cols_flat` the
    same memory as (24, tiles_w*C_out)); row r's four column combinations are 4r..4r+3."""
    _, rows_out, windows, cout = pooled.shape
    m2 = m.reshape(POSITIONS, m.shape[1] * cout)
    run = tiles_w * cout
    cols = np.empty((24, tiles_w, cout), pooled.dtype)
    cols_flat = cols.reshape(24, run)
    bias = bias if bias.shape[0] != 0 else np.zeros(cout, pooled.dtype)
    zero = pooled.dtype.type(0)
    two, four, eight = pooled.dtype.type(2), pooled.dtype.type(4), pooled.dtype.type(8)
    for q in range(start, stop):
        n = q // tiles_h
        i = q - n * tiles_h
        lo = q * run
        for r in range(6):
            _times_a(m2, 6 * r, 1, lo, run, cols_flat, 4 * r, 1, two, four, eight)
        for a in range(2):
            if 2 * i + a >= rows_out:
                break
            out = pooled[n, 2 * i + a]
            for j in range(tiles_w):
                for b in range(2):
                    if 2 * j + b >= windows:
                        break
                    s = 2 * b
                    for o in range(cout):
                        # The window's cells in row-major order, the first maximum kept.
                        y00, y10 = _column(cols, s, j, o, a == 0, two, four, eight)
                        y01, y11 = _column(cols, s + 1, j, o, a == 0, two, four, eight)
                        best = y00
                        best = y01 if _takes(y01, best) else best
                        best = y10 if _takes(y10, best) else best
                        best = y11 if _takes(y11, best) else best
                        z = best + bias[o]
                        out[2 * j + b, o] = zero if relu and z < zero else z


@kernel
def _output_tile_rows(start, stop, m, bias, relu, tiles_h, tiles_w, out):
    """For the tile rows start <= q < stop (q = n*tiles_h + i): Y = A^T m A of each tile,
    out[n, 4i + a, 4j + s] = act(bias + Y[a, s]) for the cells inside out (an output size
    not a multiple of 4 leaves the last tiles' outer cells unwritten). Rows first: `rows`
    (24, tiles_w, C_out) takes A^T m, row a's column s at 6a + s, for every tile of the row
    at once (`rows_flat` the same memory as (24, tiles_w*C_out): one loop over
    tiles_w*C_out values); then per output row and tile one loop over the channels reads the
    six columns and writes the four cells."""
    _, height, width, cout = out.shape
    m2 = m.reshape(POSITIONS, m.shape[1] * cout)
    run = tiles_w * cout
    rows = np.empty((24, tiles_w, cout), out.dtype)
    rows_flat = rows.reshape(24, run)
    bias = bias if bias.shape[0] != 0 else np.zeros(cout, out.dtype)
    two, four, eight = out.dtype.type(2), out.dtype.type(4), out.dtype.type(8)
    for q in range(start, stop):
        n = q // tiles_h
        i = q - n * tiles_h
        lo = q * run
        for s in range(6):
            _times_a(m2, s, 6, lo, run, rows_flat, s, 6, two, four, eight)
        for a in range(4):
            row = 4 * i + a
            if row >= height:
                break
            _output_row(rows, 6 * a, bias, relu, width, out[n, row], two, four, eight)


@kernel
def _output_row(rows, first, bias, relu, width, dst, two, four, eight):
    """One output row's cells: dst[4j + s] = act(bias + ((A^T m) A)[s]) of each tile j,
    the row of A^T m being rows[first : first + 6, j]; cells past `width` not written."""
    tiles_w, cout = rows.shape[1], rows.shape[2]
    zero = dst.dtype.type(0)
    for j in range(tiles_w):
        e0, e1, e2 = rows[first, j], rows[first + 1, j], rows[first + 2, j]
        e3, e4, e5 = rows[first + 3, j], rows[first + 4, j], rows[first + 5, j]
        col = 4 * j
        if col + 3 < width:
            y0, y1, y2, y3 = dst[col], dst[col + 1], dst[col + 2], dst[col + 3]
            for o in range(cout):
                v0, v1, v2, v3, v4, v5 = e0[o], e1[o], e2[o], e3[o], e4[o], e5[o]
                b = bias[o]
                z0 = b + (((v0 + v1) + v2) + (v3 + v4))
                z1 = b + ((v1 - v2) + two * (v3 - v4))
                z2 = b + ((v1 + v2) + four * (v3 + v4))
                z3 = b + (((v1 - v2) + eight * (v3 - v4)) + v5)
                if relu:
                    z0 = zero if z0 < zero else z0
                    z1 = zero if z1 < zero else z1
                    z2 = zero if z2 < zero else z2
                    z3 = zero if z3 < zero else z3
                y0[o], y1[o], y2[o], y3[o] = z0, z1, z2, z3
            continue
        for o in range(cout):  # the last tile, cut at the edge: 1-3 cells
            v0, v1, v2, v3, v4, v5 = e0[o], e1[o], e2[o], e3[o], e4[o], e5[o]
            b = bias[o]
            z0 = b + (((v0 + v1) + v2) + (v3 + v4))
            z1 = b + ((v1 - v2) + two * (v3 - v4))
            z2 = b + ((v1 + v2) + four * (v3 + v4))
            dst[col, o] = zero if relu and z0 < zero else z0
            if col + 1 < width:
                dst[col + 1, o] = zero if relu and z1 < zero else z1
            if col + 2 < width:
                dst[col + 2, o] = zero if relu and z2 < zero else z2


# ---- wrappers ----------------------------------------------------------------------------


def filter_transform(kernel: np.ndarray, out: np.ndarray) -> None:
    """Transforms a 3x3 `kernel` (3, 3, C_in, C_out) into `out` (36, C_in, C_out):
    `out[6*r + s, c, o] = (G kernel[:, :, c, o] G^T)[r, s]` (G in the module docstring), as
    two small matrix products in the kernel's dtype.

    Example:
        >>> k = np.zeros((3, 3, 1, 1), np.float32)
        >>> k[1, 1] = 1.0
        >>> u = np.empty((36, 1, 1), np.float32)
        >>> filter_transform(k, u)
        >>> np.round(u[:, 0, 0].reshape(6, 6)[2:4, 2:4] * 144, 5)  # (G e1)(G e1)^T
        array([[4., 2.],
               [2., 1.]], dtype=float32)
    """
    check_filter_transform("winograd_f4.filter_transform", kernel, out, POSITIONS)
    _, _, cin, cout = kernel.shape
    dtype = kernel.dtype
    g = np.ascontiguousarray(kernel).reshape(3, 3 * cin * cout)
    g_rows = _G_BY_DTYPE.get(dtype.name)
    g_rows = G.astype(dtype) if g_rows is None else g_rows
    h = (g_rows @ g).reshape(6, 3, cin * cout)  # G g, for each kernel column
    np.matmul(g_rows, h, out=out.reshape(6, 6, cin * cout))  # then (G g) G^T, row by row


def input_transform(x: np.ndarray, pad_top: int, pad_left: int, tiles_h: int, tiles_w: int,
                    out: np.ndarray, *, threads: bool = True,
                    validate: bool = True) -> None:  # fmt: skip
    """Transforms the 6x6 tiles of `x` (N, H, W, C) into `out` (36, N*tiles_h*tiles_w, C):
    tile t = (n*tiles_h + i)*tiles_w + j covers the cells d[r, s] = x[n, 4i + r - pad_top,
    4j + s - pad_left] (0 outside the image; a negative pad skips rows/cols), and
    `out[6*r + s, t] = (B^T d B)[r, s]` (B in the module docstring).

    Example:
        >>> x = np.zeros((1, 6, 6, 1), np.float32)
        >>> x[0, 0, 0] = 1.0
        >>> v = np.empty((36, 1, 1), np.float32)
        >>> input_transform(x, 0, 0, 1, 1, v)
        >>> v[:6, 0, 0]  # row 0 of B^T d B: 4 * 4 * d[0, 0] at s = 0, 0 elsewhere
        array([16.,  0.,  0.,  0.,  0.,  0.], dtype=float32)
    """
    if validate:
        pad_top, pad_left, tiles_h, tiles_w = check_input_transform(
            "winograd_f4.input_transform", x, (pad_top, pad_left, tiles_h, tiles_w), out,
            POSITIONS,
        )  # fmt: skip
    launch_or_serial(threads, _input_tile_rows, out.size * 2, x.shape[0] * tiles_h, x, pad_top,
                     pad_left, tiles_h, tiles_w, out)  # fmt: skip


def _check_products(name: str, m, bias, arg: str, out, tiles) -> None:
    """The argument checks of an output transform of the products `m` (36, T, C_out) into
    `out` (N, rows, cols, C_out, named `arg`) of tiles_h x tiles_w 4x4 tiles per image."""
    dtype = float_dtype(name, "m", m)
    check_4d(name, arg, out, dtype)
    n, _, _, cout = out.shape
    want = (POSITIONS, n * tiles[0] * tiles[1], cout)
    if m.shape != want:
        raise ValueError(f"{name}: m must have shape {want} (the 4x4 tiles of a {out.shape} "
                         f"{arg} output). Received: m.shape={m.shape}")  # fmt: skip
    check(name, "m", m, dtype=dtype)
    if bias is not None:
        check(name, "bias", bias, dtype=dtype, shape=(cout,))
    check_apart(name, arg, out, m=m, bias=EMPTY[dtype] if bias is None else bias)


def output_pool_transform(m: np.ndarray, bias, relu: bool, pooled: np.ndarray, *,
                          threads: bool = True, validate: bool = True) -> None:  # fmt: skip
    """The convolution's output `act(bias + A^T m A)` of the products `m` (36, T, C_out),
    max pooled 2x2 with stride 2, into `pooled` (N, Ph, Pw, C_out): T = N*tiles_h*tiles_w
    4x4 tiles (`tile_counts(Ph, Pw)`), tile (n, i, j) holding the windows (2i + a, 2j + b)
    of pooled; windows past pooled's edge are not written. `bias` is a (C_out,) array or
    None; `relu` a bool (act(z) = max(z, 0), NaN stays NaN). The maximum is the first NaN
    when there is one, as `pool.max_pool2d`.

    Example:
        >>> m = np.zeros((36, 1, 1), np.float32)
        >>> m[0] = 1.0  # A^T e0 e0^T A: 1 at the tile's top-left output, 0 elsewhere
        >>> pooled = np.empty((1, 2, 2, 1), np.float32)
        >>> output_pool_transform(m, np.array([0.5], np.float32), True, pooled)
        >>> pooled[0, :, :, 0]
        array([[1.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """
    tiles_h, tiles_w = tile_counts(pooled.shape[1], pooled.shape[2])
    if validate:
        _check_products("winograd_f4.output_pool_transform", m, bias, "pooled", pooled,
                        (tiles_h, tiles_w))  # fmt: skip
    bias = EMPTY[m.dtype] if bias is None else bias
    if pooled.size == 0:
        return
    launch_or_serial(threads, _pool_tile_rows, m.size * 2, pooled.shape[0] * tiles_h, m, bias,
                     bool(relu), tiles_h, tiles_w, pooled)  # fmt: skip


def output_transform(m: np.ndarray, bias, relu: bool, out: np.ndarray, *,
                     threads: bool = True, validate: bool = True) -> None:  # fmt: skip
    """Transforms the GEMM products `m` (36, T, C_out) back into `out` (N, Ho, Wo, C_out):
    `out[n, 4i + a, 4j + s, o] = act(bias[o] + (A^T m[:, t, o] A)[a, s])` for tile t =
    (n*tiles_h + i)*tiles_w + j (`output_tile_counts(Ho, Wo)`, T = N*tiles_h*tiles_w) and the
    cells inside `out`. `bias` is a (C_out,) array or None; `relu` a bool (act(z) =
    max(z, 0), NaN stays NaN).

    Example:
        >>> m = np.zeros((36, 1, 1), np.float32)
        >>> m[0] = 1.0  # A^T e0 e0^T A: 1 at the tile's top-left output, 0 elsewhere
        >>> out = np.empty((1, 3, 3, 1), np.float32)
        >>> output_transform(m, np.array([0.5], np.float32), True, out)
        >>> out[0, :, :, 0]
        array([[1.5, 0.5, 0.5],
               [0.5, 0.5, 0.5],
               [0.5, 0.5, 0.5]], dtype=float32)
    """
    tiles_h, tiles_w = output_tile_counts(out.shape[1], out.shape[2])
    if validate:
        _check_products("winograd_f4.output_transform", m, bias, "out", out, (tiles_h, tiles_w))
    bias = EMPTY[m.dtype] if bias is None else bias
    if out.size == 0:
        return
    launch_or_serial(threads, _output_tile_rows, m.size * 2, out.shape[0] * tiles_h, m, bias,
                     bool(relu), tiles_h, tiles_w, out)  # fmt: skip
