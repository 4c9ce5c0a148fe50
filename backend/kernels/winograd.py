"""Winograd F(2x2, 3x3) transforms, NHWC: a 3x3 stride-1 convolution as 16 GEMMs.

A 2x2 tile of outputs is `Y = A^T [(G g G^T) * (B^T d B)] A` (Lavin & Gray, 2016) for the
3x3 filter g of one (c_in, c_out) pair and the 4x4 input tile d under the tile's windows,
`*` elementwise, with

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

Summed over input channels, each of the 16 positions xi = 4*r + c of the elementwise product
is a GEMM: `M[xi] = V[xi] @ U[xi]` with V (tiles, C_in) and U (C_in, C_out), 16 multiplies per
tile and channel pair instead of im2col's 36. The kernels here do everything around the GEMM
(which the caller runs as a batched `np.matmul(V, U, out=M)`, by chunks of images that stay
in cache):

- `filter_transform`: U = G g G^T, (3, 3, C_in, C_out) -> (16, C_in, C_out).
- `input_transform`: V = B^T d B for the tiles of an image, (N, H, W, C) -> (16, T, C); the
  tiles start every 2 rows/cols from (-pad_top, -pad_left) and cells outside the image read
  as 0, so padding needs no padded copy.
- `output_transform`: Y = A^T M A, plus a bias and relu, (16, T, C_out) -> (N, Ho, Wo,
  C_out), writing only the cells inside the output (Ho and Wo may be odd).

Tiles are numbered t = (n*tiles_h + i)*tiles_w + j, so a tile row's tiles are a contiguous
run of each plane. The loops run over such runs (or over the channels of one pixel) with
indices counted from 0: each reads a few runs and writes one, so it vectorizes. (Numba puts a
wraparound check on an index it cannot prove non-negative, which stops vectorizing, and a
pass writing all 16 planes at once stalls on 4K-aliased addresses when a plane's size is a
multiple of 4 KB.) Threads run over a fixed number of runs of tile rows, each writing its own
cells, so the results are bit-identical serial or threaded, with any thread count. Each
wrapper takes `threads=False` to run serially whatever the size (for a caller whose calls are
too short to pay for waking the thread pool), and `validate=False` to skip its argument checks
(for a loop of calls over arrays the first call checked: the checks cost a few microseconds,
as much as a small chunk's kernel).
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch_or_serial
from ._checks import check, check_4d, check_apart, float_dtype
from .winograd_output import output_transform  # noqa: F401  (the forward's last step)

#: The 16 positions of a transformed 4x4 tile.
POSITIONS = 16

#: G (4x3) of the module docstring (the filter transform's products, and the kernel
#: gradient's last step).
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
#: G (x) G (16x9): row 4*r + s holds G[r, a] * G[s, b] at 3*a + b, so U = (G (x) G) g, one
#: matrix product over the filter's 9 taps (each entry is 0, +-1/4, 1/2 or 1: exact).
_G_KRON = {name: np.kron(_G, _G).astype(name) for name in ("float32", "float64")}
_G_T = {name: np.ascontiguousarray(_G.T, dtype=name) for name in ("float32", "float64")}


def tile_counts(out_h: int, out_w: int) -> tuple:
    """(tiles_h, tiles_w): the 2x2 tiles that cover an (out_h, out_w) output."""
    return (int(out_h) + 1) // 2, (int(out_w) + 1) // 2


# ---- kernels -----------------------------------------------------------------------------


@kernel
def _input_tile_rows(start, stop, x, top, left, tiles_h, tiles_w, out):
    """out[4*r + s, t, :] = (B^T d B)[r, s] for the tiles t = q*tiles_w + j of the tile rows
    start <= q < stop (q = n*tiles_h + i), d the 4x4 cells from (2i - top, 2j - left) (0
    outside the image).

    Rows first: `rows` (4, 2*tiles_w + 2, C) takes B^T d for every column of the tile row at
    once (rows[0] = d0 - d2, rows[1] = d1 + d2, rows[2] = d2 - d1, rows[3] = d1 - d3 of the
    image rows d0..d3; column p is image column p - left, its columns outside the image stay
    0), then each plane of out takes its column combination, tile by tile. Every inner loop
    runs over the channels with 3-D indices, so it vectorizes (a flat index computed from
    offsets gets a wraparound check per element that stops it)."""
    _, height, width, channels = x.shape
    span = 2 * tiles_w + 2
    rows = np.zeros((4, span, channels), out.dtype)
    blank = np.zeros((width, channels), out.dtype)  # an image row outside the image
    first, last = max(0, -left), min(width, span - left)  # the image columns tiles reach
    for q in range(start, stop):
        n = q // tiles_h
        r0 = 2 * (q - n * tiles_h) - top
        d0 = x[n, r0] if 0 <= r0 < height else blank
        d1 = x[n, r0 + 1] if 0 <= r0 + 1 < height else blank
        d2 = x[n, r0 + 2] if 0 <= r0 + 2 < height else blank
        d3 = x[n, r0 + 3] if 0 <= r0 + 3 < height else blank
        for col in range(first, last):
            p = col + left
            for c in range(channels):
                rows[0, p, c] = d0[col, c] - d2[col, c]
            for c in range(channels):
                rows[1, p, c] = d1[col, c] + d2[col, c]
            for c in range(channels):
                rows[2, p, c] = d2[col, c] - d1[col, c]
            for c in range(channels):
                rows[3, p, c] = d1[col, c] - d3[col, c]
        base = q * tiles_w
        for r in range(4):
            for j in range(tiles_w):
                t, p = base + j, 2 * j
                for c in range(channels):
                    out[4 * r, t, c] = rows[r, p, c] - rows[r, p + 2, c]
                for c in range(channels):
                    out[4 * r + 1, t, c] = rows[r, p + 1, c] + rows[r, p + 2, c]
                for c in range(channels):
                    out[4 * r + 2, t, c] = rows[r, p + 2, c] - rows[r, p + 1, c]
                for c in range(channels):
                    out[4 * r + 3, t, c] = rows[r, p + 1, c] - rows[r, p + 3, c]


@kernel
def _grad_tile_rows(start, stop, g, tiles_h, tiles_w, out):
    """out[4*k + l, t] = (A g_t A^T)[k, l] for the tiles t = q*tiles_w + j of the tile rows
    start <= q < stop (q = n*tiles_h + i), g_t the 2x2 cells g[n, 2i + r, 2j + s] (0 past
    the edge), A = [[1, 0], [1, 1], [1, -1], [0, -1]] (A^T of the module docstring,
    transposed). Each of the 16 positions is its own loop over the channels (three or four
    streams each, so each vectorizes)."""
    height, width, cout = g.shape[1], g.shape[2], g.shape[3]
    zrow = np.zeros(cout, g.dtype)
    for q in range(start, stop):
        n = q // tiles_h
        r0 = 2 * (q - n * tiles_h)
        for j in range(tiles_w):
            c0 = 2 * j
            t = q * tiles_w + j
            a = g[n, r0, c0]
            b = g[n, r0, c0 + 1] if c0 + 1 < width else zrow
            c = g[n, r0 + 1, c0] if r0 + 1 < height else zrow
            d = g[n, r0 + 1, c0 + 1] if r0 + 1 < height and c0 + 1 < width else zrow
            # Row k of A g A^T combines the rows (a, b) and (c, d) as A's row k, then its
            # cells as A's row l (the sums grouped as the unfused transforms group them).
            for o in range(cout):
                out[0, t, o] = a[o]
            for o in range(cout):
                out[1, t, o] = a[o] + b[o]
            for o in range(cout):
                out[2, t, o] = a[o] - b[o]
            for o in range(cout):
                out[3, t, o] = -b[o]
            for o in range(cout):
                out[4, t, o] = a[o] + c[o]
            for o in range(cout):
                out[5, t, o] = (a[o] + b[o]) + (c[o] + d[o])
            for o in range(cout):
                out[6, t, o] = (a[o] - b[o]) + (c[o] - d[o])
            for o in range(cout):
                out[7, t, o] = -b[o] - d[o]
            for o in range(cout):
                out[8, t, o] = a[o] - c[o]
            for o in range(cout):
                out[9, t, o] = (a[o] + b[o]) - (c[o] + d[o])
            for o in range(cout):
                out[10, t, o] = (a[o] - b[o]) - (c[o] - d[o])
            for o in range(cout):
                out[11, t, o] = d[o] - b[o]
            for o in range(cout):
                out[12, t, o] = -c[o]
            for o in range(cout):
                out[13, t, o] = -(c[o] + d[o])
            for o in range(cout):
                out[14, t, o] = -(c[o] - d[o])
            for o in range(cout):
                out[15, t, o] = d[o]


# ---- wrappers ----------------------------------------------------------------------------


def check_filter_transform(name: str, kernel, out, positions: int) -> None:
    """The argument checks of a filter transform of a 3x3 `kernel` (3, 3, C_in, C_out) into
    `out` (positions, C_in, C_out) (also `winograd_f4`'s)."""
    dtype = check_4d(name, "kernel", kernel)
    if kernel.shape[:2] != (3, 3):
        raise ValueError(f"{name}: kernel must be 3x3 (3, 3, C_in, C_out). Received: "
                         f"kernel.shape={kernel.shape}")  # fmt: skip
    check(name, "out", out, dtype=dtype, shape=(positions, *kernel.shape[2:]), out=True)
    check_apart(name, "out", out, kernel=kernel)


def check_input_transform(name: str, x, pads_and_tiles, out, positions: int) -> tuple:
    """The argument checks of an input transform of `x` (N, H, W, C) into `out` (positions,
    N*tiles_h*tiles_w, C) (also `winograd_f4`'s); returns (pad_top, pad_left, tiles_h,
    tiles_w) as ints."""
    dtype = check_4d(name, "x", x)
    pad_top, pad_left, tiles_h, tiles_w = (int(v) for v in pads_and_tiles)
    if tiles_h < 1 or tiles_w < 1:
        raise ValueError(f"{name}: tiles_h and tiles_w must be >= 1. Received: tiles_h="
                         f"{tiles_h}, tiles_w={tiles_w}")  # fmt: skip
    n, _, _, c = x.shape
    check(name, "out", out, dtype=dtype, shape=(positions, n * tiles_h * tiles_w, c), out=True)
    check_apart(name, "out", out, x=x)
    return pad_top, pad_left, tiles_h, tiles_w


def filter_transform(kernel: np.ndarray, out: np.ndarray) -> None:
    """Transforms a 3x3 `kernel` (3, 3, C_in, C_out) into `out` (16, C_in, C_out):
    `out[4*r + s, c, o] = (G kernel[:, :, c, o] G^T)[r, s]` (G in the module docstring), as
    one matrix product `(G (x) G) @ kernel.reshape(9, C_in * C_out)`: no kernel to compile,
    and faster than one for the first layer's filter (a few microseconds; 20 for 32 x 64
    channels). An infinite weight gives NaN in the positions that do not use it (0 * inf).

    Example:
        >>> k = np.ones((3, 3, 1, 1), np.float32)
        >>> u = np.empty((16, 1, 1), np.float32)
        >>> filter_transform(k, u)
        >>> u[:, 0, 0].reshape(4, 4)
        array([[1.  , 1.5 , 0.5 , 1.  ],
               [1.5 , 2.25, 0.75, 1.5 ],
               [0.5 , 0.75, 0.25, 0.5 ],
               [1.  , 1.5 , 0.5 , 1.  ]], dtype=float32)
    """
    check_filter_transform("filter_transform", kernel, out, POSITIONS)
    name = kernel.dtype.name
    kron = _G_KRON[name] if name in _G_KRON else np.kron(_G, _G).astype(kernel.dtype)
    _, _, cin, cout = kernel.shape
    np.matmul(kron, np.ascontiguousarray(kernel).reshape(9, cin * cout),
              out=out.reshape(POSITIONS, cin * cout))  # fmt: skip


def input_transform(x: np.ndarray, pad_top: int, pad_left: int, tiles_h: int, tiles_w: int,
                    out: np.ndarray, *, threads: bool = True,
                    validate: bool = True) -> None:  # fmt: skip
    """Transforms the 4x4 tiles of `x` (N, H, W, C) into `out` (16, N*tiles_h*tiles_w, C):
    tile t = (n*tiles_h + i)*tiles_w + j covers the cells d[r, s] = x[n, 2i + r - pad_top,
    2j + s - pad_left] (0 outside the image; a negative pad skips rows/cols), and
    `out[4*r + s, t] = (B^T d B)[r, s]` (B in the module docstring).

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> v = np.empty((16, 1, 1), np.float32)
        >>> input_transform(x, 0, 0, 1, 1, v)
        >>> v[:, 0, 0].reshape(4, 4)
        array([[  0., -16.,   0.,   0.],
               [ -4.,  30.,   2.,  -4.],
               [  0.,   8.,   0.,   0.],
               [  0., -16.,   0.,   0.]], dtype=float32)
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        launch_or_serial(threads, _input_tile_rows, out.size * 2, x.shape[0] * tiles_h, x, pad_top,
                         pad_left, tiles_h, tiles_w, out)  # fmt: skip
        return
    pad_top, pad_left, tiles_h, tiles_w = check_input_transform(
        "input_transform", x, (pad_top, pad_left, tiles_h, tiles_w), out, POSITIONS
    )
    launch_or_serial(threads, _input_tile_rows, out.size * 2, x.shape[0] * tiles_h, x, pad_top,
                     pad_left, tiles_h, tiles_w, out)  # fmt: skip


def grad_transform(g: np.ndarray, out: np.ndarray, *, threads: bool = True,
                   validate: bool = True) -> None:  # fmt: skip
    """Transforms the 2x2 tiles of an output gradient `g` (N, Ho, Wo, C_out) into `out`
    (16, N*tiles_h*tiles_w, C_out), tiles as `output_transform`'s: `out[4*k + l, t] =
    (A g_t A^T)[k, l]` with A = [[1, 0], [1, 1], [1, -1], [0, -1]] and g_t the tile's cells
    (0 past the edge). With `input_transform`'s V of the convolution's input, the kernel
    gradient is `G^T (sum over tiles of V_t * out_t) G` (see `filter_grad_from_products`).

    Example:
        >>> g = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 2, 2, 1)
        >>> w = np.empty((16, 1, 1), np.float32)
        >>> grad_transform(g, w)
        >>> w[:, 0, 0].reshape(4, 4)
        array([[ 1.,  3., -1., -2.],
               [ 4., 10., -2., -6.],
               [-2., -4.,  0.,  2.],
               [-3., -7.,  1.,  4.]], dtype=float32)
    """
    if not validate:  # a caller's loop over arrays it checked once (the first call)
        tiles_h, tiles_w = tile_counts(g.shape[1], g.shape[2])
        launch_or_serial(threads, _grad_tile_rows, out.size, g.shape[0] * tiles_h, g, tiles_h,
                         tiles_w, out)  # fmt: skip
        return
    name = "grad_transform"
    dtype = check_4d(name, "g", g)
    n, ho, wo, cout = g.shape
    tiles_h, tiles_w = tile_counts(ho, wo)
    check(name, "out", out, dtype=dtype, shape=(POSITIONS, n * tiles_h * tiles_w, cout), out=True)
    check_apart(name, "out", out, g=g)
    launch_or_serial(threads, _grad_tile_rows, out.size, n * tiles_h, g, tiles_h, tiles_w, out)


def filter_grad_from_products(m: np.ndarray, out: np.ndarray, work=None) -> None:
    """`out[a, b] = (G^T m G)[a, b]`: the kernel gradient (3, 3, C_in, C_out) from the summed
    products `m` (16, C_in, C_out) (position 4*k + l), as two small products (`G` is exact in
    binary, so the same bits as the one contraction). `work`, when given, holds the
    intermediate `G^T m` ((3, 4, C_in, C_out), m's dtype), so a Plan's step allocates nothing.

    Example:
        >>> m = np.zeros((16, 1, 1), np.float32)
        >>> m[0] = 1.0
        >>> out = np.empty((3, 3, 1, 1), np.float32)
        >>> filter_grad_from_products(m, out)
        >>> out[:, :, 0, 0]
        array([[1., 0., 0.],
               [0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    name = "filter_grad_from_products"
    dtype = float_dtype(name, "m", m)
    if m.ndim != 3 or m.shape[0] != POSITIONS:
        raise ValueError(f"{name}: m must be (16, C_in, C_out). Received: m.shape={m.shape}")
    check(name, "out", out, dtype=dtype, shape=(3, 3, *m.shape[1:]), out=True)
    g_t = _G_T[np.dtype(dtype).name] if np.dtype(dtype).name in _G_T else _G.T.astype(dtype)
    cols = m.shape[1] * m.shape[2]
    if work is None:
        work = np.empty((3, 4, *m.shape[1:]), dtype)
    check(name, "work", work, dtype=dtype, shape=(3, 4, *m.shape[1:]), out=True)
    np.matmul(g_t, m.reshape(4, 4 * cols), out=work.reshape(3, 4 * cols))  # sum over k
    np.matmul(g_t, work.reshape(3, 4, cols), out=out.reshape(3, 3, cols))  # then over l
