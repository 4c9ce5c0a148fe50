"""Pooling over NHWC arrays: `max_pool2d`, `max_pool2d_grad`, `avg_pool2d`, `avg_pool2d_grad`,
and `max_unpool2d` (a max pool's gradient from the argmax a fused forward recorded).

A 1-D pool is the 2-D one with a height of 1. Windows start at `o * stride - pad` and only
their real (unpadded) cells count: a max is over real cells, an average divides by the
number of real cells (Keras' `padding="same"`). Every kernel gives each batch element to
one thread, so results are bit-identical whatever the thread count. The max pool gradient
recomputes each window's argmax from the input (the first maximum in row-major window
order, as the forward would pick it) instead of storing indices, so it runs in a Plan.

Whole 2x2 windows (the common pool) are read in one pass, their running maximum kept in
registers; a channel loop (contiguous in NHWC) is innermost and branch-free everywhere, so
it vectorizes.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import check, check_apart, float_dtype


@kernel
def _takes(v, best):
    """Whether `v` replaces the running maximum `best`: it is larger, or it is a NaN and `best`
    is not (so the first NaN wins, as the first of equal maxima does). Branch-free:
    `not v <= best` holds for a larger `v` and for a NaN `v`."""
    return (not (v <= best)) & (best == best)


@kernel
def _window(o, stride, pad, k, size):
    """The real cells [lo, hi) of the window of output `o` along one axis."""
    start = o * stride - pad
    lo = max(start, 0)
    hi = min(start + k, size)
    return lo, hi


@kernel
def _max_2x2(x, i, j, c):
    """max(x[i:i + 2, j:j + 2, c]): the first maximum in row-major order."""
    best = x[i, j, c]
    v = x[i, j + 1, c]
    best = v if _takes(v, best) else best
    v = x[i + 1, j, c]
    best = v if _takes(v, best) else best
    v = x[i + 1, j + 1, c]
    return v if _takes(v, best) else best


@kernel
def _max_pool_one(x, kh, kw, sh, sw, ph, pw, out):
    """out[oh, ow, c] = max over the real cells of the window; x (H, W, C)."""
    height, width, channels = x.shape
    for oh in range(out.shape[0]):
        h0, h1 = _window(oh, sh, ph, kh, height)
        for ow in range(out.shape[1]):
            w0, w1 = _window(ow, sw, pw, kw, width)
            if h1 - h0 == 2 and w1 - w0 == 2:
                for c in range(channels):
                    out[oh, ow, c] = _max_2x2(x, h0, w0, c)
                continue
            o = out[oh, ow]
            first = x[h0, w0]
            for c in range(channels):
                o[c] = first[c]
            for i in range(h0, h1):
                for j in range(w0, w1):
                    row = x[i, j]
                    for c in range(channels):
                        v = row[c]
                        b = o[c]
                        o[c] = v if _takes(v, b) else b


@kernel
def _max_pool(start, stop, x, kh, kw, sh, sw, ph, pw, out):
    """`_max_pool_one` for the images start <= n < stop."""
    for n in range(start, stop):
        _max_pool_one(x[n], kh, kw, sh, sw, ph, pw, out[n])


@kernel
def _first_max_2x2(x, i, j, c):
    """(the first maximum of x[i:i + 2, j:j + 2, c] in row-major order, a NaN winning; its
    cell 0-3), in one pass with the running maximum in a register."""
    best = x[i, j, c]
    a = np.int32(0)
    v = x[i, j + 1, c]
    take = _takes(v, best)
    best = v if take else best
    a = np.int32(1) if take else a
    v = x[i + 1, j, c]
    take = _takes(v, best)
    best = v if take else best
    a = np.int32(2) if take else a
    v = x[i + 1, j + 1, c]
    take = _takes(v, best)
    best = v if take else best
    a = np.int32(3) if take else a
    return best, a


@kernel
def _argmax_2x2(x, i, j, relu_mask, c, arg):
    """arg[c] = `_window_argmax`'s index for channel c of the whole window x[i:i + 2, j:j + 2]
    (0 to 3)."""
    best, a = _first_max_2x2(x, i, j, c)
    arg[c] = a if (best > 0) | (not relu_mask) else np.int32(-1)


@kernel
def _window_argmax(x, h0, h1, w0, w1, relu_mask, best, arg):
    """best, arg (C,) = each channel's first maximum over x[h0:h1, w0:w1] (row-major window
    order; a NaN wins over numbers) and its index in the window, (i - h0) * (w1 - w0) + j - w0;
    with `relu_mask`, arg = -1 (no cell) where the maximum is not > 0. Branch-free; `arg` is
    int32 so the channel loop vectorizes at the width of float32."""
    channels = x.shape[2]
    first = x[h0, w0]
    for c in range(channels):
        best[c] = first[c]
        arg[c] = 0
    for i in range(h0, h1):
        for j in range(w0, w1):
            row = x[i, j]
            idx = np.int32((i - h0) * (w1 - w0) + (j - w0))
            for c in range(channels):
                v = row[c]
                b = best[c]
                take = _takes(v, b)
                best[c] = v if take else b
                arg[c] = idx if take else arg[c]
    if relu_mask:
        for c in range(channels):
            arg[c] = arg[c] if best[c] > 0 else np.int32(-1)


@kernel
def _tiled_span(n_out, s, p, size):
    """[lo, hi): the cells along one axis covered by windows that tile it (stride == pool)."""
    lo = max(-p, 0)
    hi = min(n_out * s - p, size)
    return lo, max(hi, lo)


@kernel
def _max_pool_grad_one(x, g, kh, kw, sh, sw, ph, pw, relu_mask, best, arg, dx):
    """dx = the gradient `g` (OH, OW, C) sent to each window's first argmax; x, dx (H, W, C);
    best, arg (C,) scratch. With `relu_mask`, a window whose maximum is not > 0 sends nothing
    (max_pool's gradient times relu's, when x is a relu's output).

    Windows that do not overlap (stride >= pool on both axes) own their cells: each window's
    cells are written once (g at the argmax, 0 elsewhere) right after its argmax, and only
    cells no window covers are zeroed apart; a whole 2x2 window's argmax takes one pass.
    Overlapping windows zero dx and add up."""
    height, width, channels = x.shape
    n_oh, n_ow = g.shape[0], g.shape[1]
    if sh >= kh and sw >= kw:
        if sh == kh and sw == kw:
            r0, r1 = _tiled_span(n_oh, sh, ph, height)
            c0, c1 = _tiled_span(n_ow, sw, pw, width)
            for i in range(height):
                if i < r0 or i >= r1:
                    dx[i] = 0
                else:
                    for j in range(c0):
                        dx[i, j] = 0
                    for j in range(c1, width):
                        dx[i, j] = 0
        else:
            dx[:] = 0
        zero = dx.dtype.type(0)
        for oh in range(n_oh):
            h0, h1 = _window(oh, sh, ph, kh, height)
            for ow in range(n_ow):
                w0, w1 = _window(ow, sw, pw, kw, width)
                if h1 - h0 == 2 and w1 - w0 == 2:
                    # The loop stays here, the body in the helper: measured 1.3x faster.
                    for c in range(channels):
                        _argmax_2x2(x, h0, w0, relu_mask, c, arg)
                else:
                    _window_argmax(x, h0, h1, w0, w1, relu_mask, best, arg)
                grow = g[oh, ow]
                for i in range(h0, h1):
                    for j in range(w0, w1):
                        idx = np.int32((i - h0) * (w1 - w0) + (j - w0))
                        d = dx[i, j]
                        for c in range(channels):
                            d[c] = grow[c] if arg[c] == idx else zero
        return
    dx[:] = 0
    for oh in range(n_oh):
        h0, h1 = _window(oh, sh, ph, kh, height)
        for ow in range(n_ow):
            w0, w1 = _window(ow, sw, pw, kw, width)
            _window_argmax(x, h0, h1, w0, w1, relu_mask, best, arg)
            grow = g[oh, ow]
            span = w1 - w0
            for c in range(channels):
                a = arg[c]
                if a >= 0:
                    dx[h0 + a // span, w0 + a % span, c] += grow[c]


@kernel
def _max_pool_grad(start, stop, x, g, kh, kw, sh, sw, ph, pw, relu_mask, dx):
    """`_max_pool_grad_one` for the images start <= n < stop."""
    channels = x.shape[3]
    best = np.empty(channels, dtype=x.dtype)
    arg = np.empty(channels, dtype=np.int32)
    for n in range(start, stop):
        _max_pool_grad_one(x[n], g[n], kh, kw, sh, sw, ph, pw, relu_mask, best, arg, dx[n])


@kernel
def _pool_argmax_one(x, ph, pw, relu_mask, out, argmax):
    """out (P, V, C) = the max of each non-overlapping ph x pw window of x (H, W, C) (the
    first in row-major order, a NaN winning), argmax its cell a*pw + c, or 255 where
    `relu_mask` and the max is not > 0; rows and columns past the last whole window unread."""
    rows, cols, channels = out.shape
    none = np.uint8(255)
    zero = out.dtype.type(0)
    if ph == 2 and pw == 2:  # the common pool: a window's four cells in registers
        for p in range(rows):
            for v in range(cols):
                best_row, at_row = out[p, v], argmax[p, v]
                for c in range(channels):
                    best, at = _first_max_2x2(x, 2 * p, 2 * v, c)
                    best_row[c] = best
                    at_row[c] = none if relu_mask and not (best > zero) else np.uint8(at)
        return
    for p in range(rows):
        for v in range(cols):
            best, at = out[p, v], argmax[p, v]
            first = x[p * ph, v * pw]
            for c in range(channels):
                best[c] = first[c]
                at[c] = 0
            for a in range(ph):
                for b in range(pw):
                    cell = x[p * ph + a, v * pw + b]
                    code = np.uint8(a * pw + b)
                    for c in range(channels):
                        z, m = cell[c], best[c]
                        t = _takes(z, m)
                        best[c] = z if t else m
                        at[c] = code if t else at[c]
            if relu_mask:
                for c in range(channels):
                    at[c] = at[c] if best[c] > zero else none


@kernel
def _pool_argmax(start, stop, x, ph, pw, relu_mask, out, argmax):
    """`_pool_argmax_one` for the images start <= n < stop."""
    for n in range(start, stop):
        _pool_argmax_one(x[n], ph, pw, relu_mask, out[n], argmax[n])


@kernel
def _unpool_one(g, argmax, ph, pw, dx):
    """dx (H, W, C) = g (P, V, C) at each window's recorded cell argmax (a*pw + c), 0
    elsewhere (everywhere in a window whose argmax is 255, and in rows and columns no
    window covers)."""
    height, width, channels = dx.shape
    rows, windows = g.shape[0], g.shape[1]
    zero = dx.dtype.type(0)
    for p in range(rows):
        for a in range(ph):
            i = p * ph + a
            for v in range(windows):
                grow, arow = g[p, v], argmax[p, v]
                for c in range(pw):
                    code = np.uint8(a * pw + c)
                    d = dx[i, v * pw + c]
                    for o in range(channels):
                        d[o] = grow[o] if arow[o] == code else zero
            for j in range(windows * pw, width):
                d = dx[i, j]
                for o in range(channels):
                    d[o] = zero
    for i in range(rows * ph, height):
        for j in range(width):
            d = dx[i, j]
            for o in range(channels):
                d[o] = zero


@kernel
def _unpool(start, stop, g, argmax, ph, pw, dx):
    """`_unpool_one` for the images start <= n < stop."""
    for n in range(start, stop):
        _unpool_one(g[n], argmax[n], ph, pw, dx[n])


@kernel
def _avg_pool_one(x, kh, kw, sh, sw, ph, pw, out):
    """out[oh, ow, c] = mean over the real cells of the window; x (H, W, C)."""
    height, width, channels = x.shape
    for oh in range(out.shape[0]):
        h0, h1 = _window(oh, sh, ph, kh, height)
        for ow in range(out.shape[1]):
            w0, w1 = _window(ow, sw, pw, kw, width)
            o = out[oh, ow]
            o[:] = 0
            for i in range(h0, h1):
                for j in range(w0, w1):
                    row = x[i, j]
                    for c in range(channels):
                        o[c] += row[c]
            inv = x.dtype.type(1) / x.dtype.type((h1 - h0) * (w1 - w0))
            for c in range(channels):
                o[c] *= inv


@kernel
def _avg_pool(start, stop, x, kh, kw, sh, sw, ph, pw, out):
    """`_avg_pool_one` for the images start <= n < stop."""
    for n in range(start, stop):
        _avg_pool_one(x[n], kh, kw, sh, sw, ph, pw, out[n])


@kernel
def _avg_pool_grad_one(g, kh, kw, sh, sw, ph, pw, dx):
    """dx (H, W, C) = each window's gradient g[oh, ow] / real cells, spread over them."""
    height, width, channels = dx.shape
    dx[:] = 0
    for oh in range(g.shape[0]):
        h0, h1 = _window(oh, sh, ph, kh, height)
        for ow in range(g.shape[1]):
            w0, w1 = _window(ow, sw, pw, kw, width)
            inv = g.dtype.type(1) / g.dtype.type((h1 - h0) * (w1 - w0))
            grow = g[oh, ow]
            for i in range(h0, h1):
                for j in range(w0, w1):
                    d = dx[i, j]
                    for c in range(channels):
                        d[c] += grow[c] * inv


@kernel
def _avg_pool_grad(start, stop, g, kh, kw, sh, sw, ph, pw, dx):
    """`_avg_pool_grad_one` for the images start <= n < stop."""
    for n in range(start, stop):
        _avg_pool_grad_one(g[n], kh, kw, sh, sw, ph, pw, dx[n])


# ---- wrappers ----------------------------------------------------------------------------------


def _check_params(name: str, pool, strides, pads, in_hw: tuple, out_hw: tuple) -> tuple:
    """Validates the window parameters: every window must hold at least one real cell."""
    pool, strides, pads = tuple(map(int, pool)), tuple(map(int, strides)), tuple(map(int, pads))
    if len(pool) != 2 or len(strides) != 2 or len(pads) != 2:
        raise ValueError(
            f"{name}: pool, strides and pads must have 2 entries each. Received: pool={pool}, "
            f"strides={strides}, pads={pads}"
        )
    if (
        min(pool) < 1
        or min(strides) < 1
        or min(pads) < 0
        or any(p >= k for p, k in zip(pads, pool, strict=True))
    ):
        raise ValueError(
            f"{name}: pool sizes and strides must be >= 1 and pads in [0, pool). Received: "
            f"pool={pool}, strides={strides}, pads={pads}"
        )
    for o, s, p, size in zip(out_hw, strides, pads, in_hw, strict=True):
        if o > 0 and (o - 1) * s - p >= size:
            raise ValueError(
                f"{name}: an output of spatial shape {tuple(out_hw)} has windows past the "
                f"input {tuple(in_hw)}. Received: pool={pool}, strides={strides}, pads={pads}"
            )
    return pool, strides, pads


def _check_nhwc(name: str, arg: str, a) -> None:
    if a.ndim != 4:
        raise ValueError(f"{name}: {arg} must be NHWC (4-D). Received: {arg}.shape={a.shape}")


def _check_pair(name: str, big: str, a, small: str, b) -> None:
    """`a` (the input side) and `b` (the output side) share batch and channels."""
    if b.ndim != 4 or a.shape[0] != b.shape[0] or a.shape[3] != b.shape[3]:
        raise ValueError(
            f"{name}: {big} and {small} must be NHWC with the same batch and channels. "
            f"Received: {big}.shape={a.shape}, {small}.shape={b.shape}"
        )


def _forward(name, dispatcher, x, pool, strides, pads, out) -> None:
    dtype = float_dtype(name, "x", x)
    _check_nhwc(name, "x", x)
    check(name, "x", x, dtype=dtype)
    check(name, "out", out, dtype=dtype, out=True)
    _check_pair(name, "x", x, "out", out)
    pool, strides, pads = _check_params(name, pool, strides, pads, x.shape[1:3], out.shape[1:3])
    if out.size == 0:
        return
    launch(dispatcher, x.size, len(x), x, *pool, *strides, *pads, out)


def max_pool2d(x: np.ndarray, pool, strides, pads, out: np.ndarray) -> None:
    """`out` = the max over each window of NHWC `x` (real cells only); `pads` are the top and
    left pads; the output's size sets how many windows there are (each must hold a real
    cell).

    Example:
        >>> out = np.empty((1, 1, 1, 1), np.float32)
        >>> max_pool2d(np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1), (2, 2), (2, 2),
        ...            (0, 0), out)
        >>> out.ravel()
        array([3.], dtype=float32)
    """
    _forward("max_pool2d", _max_pool, x, pool, strides, pads, out)


def avg_pool2d(x: np.ndarray, pool, strides, pads, out: np.ndarray) -> None:
    """`out` = the mean over the real cells of each window of NHWC `x`."""
    _forward("avg_pool2d", _avg_pool, x, pool, strides, pads, out)


def max_pool2d_grad(
    x: np.ndarray, g: np.ndarray, pool, strides, pads, dx: np.ndarray, relu_mask: bool = False
) -> None:
    """`dx` = the output gradient `g` routed to each window's first maximum of `x` (ties go
    to the first in row-major window order); gradients of overlapping windows add up.

    With `relu_mask`, a window whose maximum is not > 0 routes nothing: when `x` is the output
    of a relu, `dx` is then the gradient with respect to the relu's input, with no separate
    relu-gradient pass.

    Example:
        >>> x = np.array([-1.0, 2.0, -3.0, -4.0], np.float32).reshape(2, 1, 2, 1)
        >>> g, dx = np.ones((2, 1, 1, 1), np.float32), np.empty_like(x)
        >>> max_pool2d_grad(x, g, (1, 2), (1, 2), (0, 0), dx, relu_mask=True)
        >>> dx.ravel()
        array([0., 1., 0., 0.], dtype=float32)
    """
    name = "max_pool2d_grad"
    dtype = float_dtype(name, "x", x)
    _check_nhwc(name, "x", x)
    check(name, "x", x, dtype=dtype)
    check(name, "g", g, dtype=dtype)
    check(name, "dx", dx, dtype=dtype, shape=x.shape, out=True)
    _check_pair(name, "x", x, "g", g)
    pool, strides, pads = _check_params(name, pool, strides, pads, x.shape[1:3], g.shape[1:3])
    if g.size == 0:
        dx[...] = 0
        return
    launch(_max_pool_grad, x.size, len(x), x, g, *pool, *strides, *pads, bool(relu_mask), dx)


def avg_pool2d_grad(g: np.ndarray, pool, strides, pads, dx: np.ndarray) -> None:
    """`dx` (NHWC, the input's shape) = each window's gradient in `g` divided by its real
    cell count and spread over them."""
    name = "avg_pool2d_grad"
    dtype = float_dtype(name, "g", g)
    _check_nhwc(name, "dx", dx)
    check(name, "g", g, dtype=dtype)
    check(name, "dx", dx, dtype=dtype, out=True)
    _check_pair(name, "dx", dx, "g", g)
    pool, strides, pads = _check_params(name, pool, strides, pads, dx.shape[1:3], g.shape[1:3])
    if g.size == 0:
        dx[...] = 0
        return
    launch(_avg_pool_grad, dx.size, len(dx), g, *pool, *strides, *pads, dx)


def max_pool2d_argmax(x: np.ndarray, pool, out: np.ndarray, argmax: np.ndarray,
                      relu_mask: bool = False) -> None:  # fmt: skip
    """`max_pool2d` over non-overlapping windows (strides = `pool`, no padding: rows and
    columns past the last whole window are dropped), recording each window's maximum cell in
    `argmax` (uint8, `out`'s shape): `a*pool_w + c` of the first maximum in row-major order
    (a NaN winning), or 255 where `relu_mask` and the maximum is not > 0 (relu's gradient is
    0 there). `max_unpool2d` then routes the pool's gradient without reading `x`.

    Example:
        >>> x = np.array([1.0, 4.0, -2.0, -6.0, 4.0, -3.0, -1.0, -5.0], np.float32)
        >>> out, argmax = np.empty((1, 1, 2, 1), np.float32), np.empty((1, 1, 2, 1), np.uint8)
        >>> max_pool2d_argmax(x.reshape(1, 2, 4, 1), (2, 2), out, argmax, relu_mask=True)
        >>> out.ravel(), argmax.ravel()  # the first of the tied 4s; no gradient under -1
        (array([ 4., -1.], dtype=float32), array([  1, 255], dtype=uint8))
    """
    name = "max_pool2d_argmax"
    dtype = float_dtype(name, "x", x)
    _check_nhwc(name, "x", x)
    check(name, "x", x, dtype=dtype)
    ph, pw = (int(v) for v in pool)
    if ph < 1 or pw < 1 or ph * pw > 255:
        raise ValueError(f"{name}: pool sizes must be >= 1 and hold at most 255 cells. "
                         f"Received: pool={tuple(pool)}")  # fmt: skip
    n, h, w, c = x.shape
    shape = (n, h // ph, w // pw, c)
    check(name, "out", out, dtype=dtype, shape=shape, out=True)
    check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=shape, out=True)
    check_apart(name, "out", out, x=x)
    check_apart(name, "argmax", argmax, x=x, pooled=out)
    if out.size == 0:
        return
    launch(_pool_argmax, x.size, len(x), x, ph, pw, bool(relu_mask), out, argmax)


def max_unpool2d(g: np.ndarray, argmax: np.ndarray, pool, dx: np.ndarray) -> None:
    """The gradient of a non-overlapping max pool (windows of `pool` = strides, no padding)
    from the cells its forward recorded: `dx` (N, H, W, C) = `g` (N, P, V, C) at each
    window's `argmax` cell (uint8, g's shape: `a*pool_w + c`, as
    `conv_direct.conv_direct_pool_nhwc` and `winograd_output.output_pool_transform` write it) and 0
    elsewhere; a window whose argmax is 255 (relu's gradient 0) routes nothing. No input is
    read: `max_pool2d_grad` with `relu_mask`, without the pool's input.

    Example:
        >>> g = np.array([5.0, 7.0], np.float32).reshape(1, 1, 2, 1)
        >>> argmax = np.array([3, 255], np.uint8).reshape(1, 1, 2, 1)
        >>> dx = np.empty((1, 2, 4, 1), np.float32)
        >>> max_unpool2d(g, argmax, (2, 2), dx)
        >>> dx[0, :, :, 0]
        array([[0., 0., 0., 0.],
               [0., 5., 0., 0.]], dtype=float32)
    """
    name = "max_unpool2d"
    dtype = float_dtype(name, "g", g)
    _check_nhwc(name, "dx", dx)
    check(name, "g", g, dtype=dtype)
    check(name, "dx", dx, dtype=dtype, out=True)
    _check_pair(name, "dx", dx, "g", g)
    check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=g.shape)
    ph, pw = (int(v) for v in pool)
    if ph < 1 or pw < 1 or ph * pw > 255:
        raise ValueError(f"{name}: pool sizes must be >= 1 and hold at most 255 cells. "
                         f"Received: pool={tuple(pool)}")  # fmt: skip
    if (g.shape[1], g.shape[2]) != (dx.shape[1] // ph, dx.shape[2] // pw):
        raise ValueError(
            f"{name}: g must hold the whole {ph}x{pw} windows of dx: {dx.shape[1] // ph}x"
            f"{dx.shape[2] // pw}. Received: g.shape={g.shape}, dx.shape={dx.shape}"
        )
    check_apart(name, "dx", dx, g=g, argmax=argmax)
    launch(_unpool, dx.size, len(dx), g, argmax, ph, pw, dx)
