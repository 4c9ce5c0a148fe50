"""Winograd F(4x4, 3x3)'s output-gradient transform, NHWC, for the kernel gradient.

The forward's 4x4 output tile is `Y = A^T M A` (`winograd_f4`'s module docstring), so the
gradient of its 6x6 products M is `W = A dY A^T` for the tile's 4x4 output gradient dY (0
past the output's edge): `grad_transform` computes W of every tile, and the kernel gradient
is then, per position xi, the GEMM `V[xi]^T W[xi]` over the tiles (V the forward's input
transform) and `G^T (.) G` back to 3x3 (`conv_winograd`). In one dimension, A (6x4) takes
(d0, d1, d2, d3) to (d0, d0 + d1 + d2 + d3, d0 - d1 + d2 - d3, d0 + 2 d1 + 4 d2 + 8 d3,
d0 - 2 d1 + 4 d2 - 8 d3, d3).

Tiles are numbered t = (n*tiles_h + i)*tiles_w + j, as the forward's; threads run over a
fixed number of runs of tile rows, each writing its own tiles: bit-identical serial or
threaded. The wrapper takes `threads=False` to run serially whatever the size, and
`validate=False` to skip its checks (as `winograd_f4`'s).
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch_or_serial
from ._checks import check, check_4d, check_apart

#: The positions of a transformed 6x6 tile (winograd_f4.POSITIONS).
POSITIONS = 36


@kernel
def _grad_tile_rows(start, stop, g, tiles_h, tiles_w, out):
    """out[6*r + s, t] = (A g_t A^T)[r, s] for the tiles t = q*tiles_w + j of the tile rows
    start <= q < stop (q = n*tiles_h + i), g_t the 4x4 cells g[n, 4i + a, 4j + b] (0 past
    the edge). Rows first: `rows[r, p]` takes row r of A g for every column p of the tile
    row at once (columns past the output's edge stay 0), then each tile's six column
    combinations, each a loop over the C_out channels."""
    _, height, width, cout = g.shape
    rows = np.zeros((6, 4 * tiles_w, cout), out.dtype)
    blank = np.zeros((width, cout), out.dtype)
    two, four, eight = out.dtype.type(2), out.dtype.type(4), out.dtype.type(8)
    for q in range(start, stop):
        n = q // tiles_h
        r0 = 4 * (q - n * tiles_h)
        d0 = g[n, r0] if r0 < height else blank
        d1 = g[n, r0 + 1] if r0 + 1 < height else blank
        d2 = g[n, r0 + 2] if r0 + 2 < height else blank
        d3 = g[n, r0 + 3] if r0 + 3 < height else blank
        for p in range(width):
            a0, a1, a2, a3 = d0[p], d1[p], d2[p], d3[p]
            for o in range(cout):
                rows[0, p, o] = a0[o]
            for o in range(cout):
                rows[1, p, o] = (a0[o] + a1[o]) + (a2[o] + a3[o])
            for o in range(cout):
                rows[2, p, o] = (a0[o] - a1[o]) + (a2[o] - a3[o])
            for o in range(cout):
                rows[3, p, o] = (a0[o] + two * a1[o]) + (four * a2[o] + eight * a3[o])
            for o in range(cout):
                rows[4, p, o] = (a0[o] - two * a1[o]) + (four * a2[o] - eight * a3[o])
            for o in range(cout):
                rows[5, p, o] = a3[o]
        for j in range(tiles_w):
            t = q * tiles_w + j
            for r in range(6):
                e0, e1 = rows[r, 4 * j], rows[r, 4 * j + 1]
                e2, e3 = rows[r, 4 * j + 2], rows[r, 4 * j + 3]
                for o in range(cout):
                    out[6 * r, t, o] = e0[o]
                for o in range(cout):
                    out[6 * r + 1, t, o] = (e0[o] + e1[o]) + (e2[o] + e3[o])
                for o in range(cout):
                    out[6 * r + 2, t, o] = (e0[o] - e1[o]) + (e2[o] - e3[o])
                for o in range(cout):
                    out[6 * r + 3, t, o] = (e0[o] + two * e1[o]) + (four * e2[o] + eight * e3[o])
                for o in range(cout):
                    out[6 * r + 4, t, o] = (e0[o] - two * e1[o]) + (four * e2[o] - eight * e3[o])
                for o in range(cout):
                    out[6 * r + 5, t, o] = e3[o]


def grad_transform(g: np.ndarray, out: np.ndarray, *, threads: bool = True,
                   validate: bool = True) -> None:  # fmt: skip
    """Transforms the output gradient `g` (N, Ho, Wo, C_out) into `out` (36, T, C_out):
    `out[6*r + s, t] = (A g_t A^T)[r, s]` for tile t = (n*tiles_h + i)*tiles_w + j
    (tiles_h = ceil(Ho / 4), tiles_w = ceil(Wo / 4), T = N*tiles_h*tiles_w), g_t the 4x4
    cells from (4i, 4j), 0 past the edge.

    Example:
        >>> g = np.zeros((1, 1, 1, 1), np.float32)
        >>> g[0, 0, 0] = 1.0  # a tile's top-left cell: A e0 e0^T A^T
        >>> out = np.empty((36, 1, 1), np.float32)
        >>> grad_transform(g, out)
        >>> out[:, 0, 0].reshape(6, 6)[:2]
        array([[1., 1., 1., 1., 1., 0.],
               [1., 1., 1., 1., 1., 0.]], dtype=float32)
    """
    n, height, width, cout = g.shape
    tiles_h, tiles_w = (height + 3) // 4, (width + 3) // 4
    if validate:
        name = "winograd_f4_grad.grad_transform"
        dtype = check_4d(name, "g", g)
        check(name, "out", out, dtype=dtype, shape=(POSITIONS, n * tiles_h * tiles_w, cout),
              out=True)  # fmt: skip
        check_apart(name, "out", out, g=g)
    if out.size == 0:
        return
    launch_or_serial(threads, _grad_tile_rows, out.size, n * tiles_h, g, tiles_h, tiles_w, out)
