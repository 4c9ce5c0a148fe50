"""Winograd F(2x2, 3x3): a 3x3 stride-1 convolution and its gradients as 16 GEMMs each.

The forward (`conv_winograd`) transforms the filter once and, by cache-sized chunks of
images, the input tiles (`kernels.winograd.input_transform`), runs one batched GEMM
(16, tiles, C_in) @ (16, C_in, C_out) and the output transform with the bias and relu (or a
2x2 max pool, `kernels.winograd_output`); inference with a pool runs F(4x4, 3x3) instead
(`use_f4`, `kernels.winograd_f4`), so does a convolution without a pool and its gradients
when `use_f4_unpooled` allows (the input gradient as the F(4x4) convolution of the output
gradient with the flipped kernel, the kernel gradient as F(4x4)'s adjoint,
`kernels.winograd_f4_grad`), and a one-channel first layer F(2x2, 3x3) per pool window
(`use_window_winograd`, `kernels.winograd_window`, called from `conv_primitives`). The
F(2x2) backward (`winograd_backward`) is its adjoint, over the same tiles: the output gradient's
tiles transformed once into W (`grad_transform`, or `winograd_grad.pooled_grad_transform`
straight from a max pool's gradient and argmax), then per chunk the kernel gradient's
products V^T W (one GEMM per position over the tiles) and the input gradient's
`dV = W @ U^T` with the transpose of the input transform
(`winograd_grad.input_grad_transform`). docs/internals/kernels.md has the measurements behind the
thresholds here.

Chunks run on the worker threads (`backend.workers`), each with its own work arrays and its
own run of chunks, all serial kernels: a chunk's calls are too short to wake a thread pool
for. Sums over chunks (the kernel and bias gradients) are added in chunk order, so results
do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np

from .. import workers
from .conv_paths import _buffer, _delivered, _writable

#: The fewest input channels `use_winograd` sends to Winograd (with 3-8 it tied or lost).
WINOGRAD_MIN_IN = 16
#: The largest share of the im2col GEMM's multiplies the Winograd GEMMs may do: 16 per 2x2
#: tile against 9 per output pixel is 0.44, more where tiles overhang an odd-sized output.
#: (0.6 while the chunks ran on one core; 0.8 since they run on every worker thread.)
WINOGRAD_MAX_MULTIPLIES = 0.8
#: The largest C_in * C_out sent to Winograd: at 128 x 128 its chunk-sized GEMMs (a few
#: dozen tiles by 128) lost to im2col's one big GEMM (32x9x9x128: 2.9 ms against 4.2).
WINOGRAD_MAX_CHANNELS = 64 * 64
#: Bytes of transformed tiles per chunk of images (1.5 MB): they stay in cache from the
#: first transform through the GEMMs to the last. In a Plan, where other steps evict the
#: caches between calls, 1-2 MB chunks ran the MNIST layer 1.1x faster than im2col + GEMM and
#: 4-16 MB chunks 0.7-0.9x (8 MB looked best only in a loop over the one convolution, with
#: everything in the L3).
WINOGRAD_CHUNK_BYTES = 3 << 19


def _kernels():
    from ..kernels import winograd

    return winograd


def use_winograd(dtype, kernel_shape, strides, dilation, groups: int, out_hw) -> bool:
    """Whether a convolution with output size `out_hw` runs as Winograd instead of im2col +
    one GEMM (and its gradients likewise): a 3x3 kernel (3, 3, C_in, C_out), strides and
    dilation 1, groups 1, at least 16 input channels, C_in * C_out at most 64 * 64, and
    F(2x2, 3x3)'s 16 multiplies per 2x2 tile at most 0.8 of im2col's 9 per output pixel
    (0.79 for a 3x3 output, 0.53 for 11x11). Which Winograd: F(4x4, 3x3) where `use_f4`
    (pooled inference) or `use_f4_unpooled` (no pool; each gradient on its own) says so,
    else F(2x2, 3x3). The measurements below are F(2x2)'s.

    Measured for the forward (ms per call, float32, 2 threads on a shared 2-core VM, median
    of 24 calls alternating the two paths, each after a threaded Numba pass over 128 MB as in
    a Plan; im2col+GEMM / Winograd, with bias + relu fused on both paths; batch 128 unless
    noted): the MNIST second layer (128,13,13,32) x 64 valid 5.2 / 2.5, at batch 512
    19.6 / 9.8; (64,7,7,64) valid 1.0 / 0.8; (64,5,5,64) valid (3x3 out) 0.49 / 0.42;
    (32,9,9,128) x 128 2.9 / 4.2 (not taken: `WINOGRAD_MAX_CHANNELS`). With the chunks on one
    core (before `backend.workers`):

        x (N, H, W, C_in), C_out, padding       im2col+GEMM / Winograd
        (64,32,32,32), 32, same                 17.5 / 10.3
        (64,32,32,16), 16, same                  8.8 / 4.5
        (64,16,16,64), 64, same                 12.8 / 7.7-8.8
        (64,13,13,16), 16, valid                 1.3-1.6 / 1.0-1.1
        (64,9,9,64), 64, valid (7x7 out)         2.7 / 2.5
        (64,8,8,64), 64, same                    3.3 / 2.4
        (64,32,32,64), 8, same                  27.3 / 9.2
        (64,32,32,8), 32, same                   5.6 / 6.6    not taken (C_in 8)
        (64,32,32,4), 64, same                   5.5 / 5.4    not taken (C_in 4)

    The GEMMs with K = C_in = 32 run at ~130-140 GFLOP/s per core against ~180 for im2col's
    K = 288; the transforms are memory-bound passes over cache-sized chunks.
    """
    kh, kw, cin, cout = kernel_shape
    if not (
        groups == 1
        and cin * cout <= WINOGRAD_MAX_CHANNELS
        and dtype in (np.float32, np.float64)
        and (kh, kw) == (3, 3)
        and tuple(strides) == (1, 1)
        and tuple(dilation) == (1, 1)
        and cin >= WINOGRAD_MIN_IN
    ):
        return False
    tiles = ((out_hw[0] + 1) // 2) * ((out_hw[1] + 1) // 2)
    return 16 * tiles <= WINOGRAD_MAX_MULTIPLIES * 9 * out_hw[0] * out_hw[1]


def _chunk_size(n: int, per_image_bytes: int) -> int:
    """Images per chunk: `WINOGRAD_CHUNK_BYTES` of work arrays at `per_image_bytes` each."""
    return max(1, min(n, WINOGRAD_CHUNK_BYTES // max(1, per_image_bytes)))


def _chunk_count(n: int, chunk: int) -> int:
    """How many chunks of at most `chunk` images `n` images make: the fewest, or one more
    when that is odd and there are images to spare, so that two threads take equal shares
    (13 chunks of 10 of 128 images gave one thread 68 images and the other 60). The count
    does not depend on the thread count, so neither do the results."""
    count = -(-n // chunk)
    if 1 < count < n and count % 2:
        count += 1
    return count


def _chunks(n: int, chunk: int, body) -> int:
    """Runs `body(worker, c, start, stop)` for the `_chunk_count(n, chunk)` chunks c of
    images, sizes differing by at most one, shared out to the worker threads, each taking a
    contiguous run of chunks. Returns the chunk count."""
    count = _chunk_count(n, chunk)

    def run_chunks(worker, first, last):
        for c in range(first, last):
            body(worker, c, n * c // count, n * (c + 1) // count)

    workers.split(run_chunks, count)
    return count


def _work(scratch, tag: str, worker: int, per_tile: int, tiles: int, capacity: int,
          dtype, positions: int = 16) -> np.ndarray:  # fmt: skip
    """A worker's work array (positions, tiles, per_tile), cut from one cached buffer sized
    for `capacity` tiles (a whole chunk's)."""
    flat = _buffer(scratch, f"{tag}_{worker}", (positions * capacity * per_tile,), dtype)
    return flat[: positions * tiles * per_tile].reshape(positions, tiles, per_tile)


def conv_winograd(x, k, top_left, out_hw, out, scratch, bias, relu, pooled=False,
                  argmax=None):  # fmt: skip
    """`relu(conv(x, k) + bias)` for a 3x3 kernel, stride 1, whose windows start at
    `-top_left` (pads before; any pads after: the output size `out_hw` fixes them, and cells
    outside `x` read as 0): the filter transformed once per call, then by chunks of images
    the input transform, one batched GEMM (16, tiles, C_in) @ (16, C_in, C_out) and the
    output transform with the epilogue. With `pooled`, `out` takes its 2x2 stride-2 max pool
    instead, from the output transform (`kernels.winograd_output`), and `argmax` (when given)
    each window's argmax."""
    if pooled and argmax is None and use_f4(x.dtype, x.shape[3]):
        return _conv_winograd_f4(x, k, top_left, out_hw, out, scratch, bias, relu, True)
    if not pooled and use_f4_unpooled(x.dtype, x.shape[3], out_hw):
        return _conv_winograd_f4(x, k, top_left, out_hw, out, scratch, bias, relu, False)
    wg = _kernels()
    n, _, _, cin = x.shape
    cout = k.shape[3]
    x = np.ascontiguousarray(x)
    shape = (n, out_hw[0] // 2, out_hw[1] // 2, cout) if pooled else (n, *out_hw, cout)
    y = out if _writable(out) else _buffer(scratch, "winograd_out", shape, x.dtype)
    u = _buffer(scratch, "winograd_filter", (16, cin, cout), x.dtype)
    wg.filter_transform(np.ascontiguousarray(k), u)  # the kernel changes every step
    bias = None if bias is None else np.ascontiguousarray(bias)
    if pooled:
        from ..kernels import winograd_output
    # Pooled, only the tiles under the pool's windows: an odd output's last row and column of
    # tiles (11 of the MNIST second layer's 36 per image) would be computed for nothing.
    tiles_h, tiles_w = (out_hw[0] // 2, out_hw[1] // 2) if pooled else wg.tile_counts(*out_hw)
    per_image = tiles_h * tiles_w
    chunk = _chunk_size(n, 16 * per_image * (cin + cout) * x.dtype.itemsize)
    cap = chunk * per_image

    def body(worker, c, start, stop):
        tiles = (stop - start) * per_image
        v = _work(scratch, "winograd_input", worker, cin, tiles, cap, x.dtype)
        m = _work(scratch, "winograd_products", worker, cout, tiles, cap, x.dtype)
        check = c == 0  # the kernels' argument checks, once: the chunks' arrays are alike
        wg.input_transform(x[start:stop], *top_left, tiles_h, tiles_w, v, threads=False,
                           validate=check)  # fmt: skip
        np.matmul(v, u, out=m)
        if pooled:
            winograd_output.output_pool_transform(
                m, bias, relu, out_hw, y[start:stop],
                None if argmax is None else argmax[start:stop], threads=False, validate=check,
            )  # fmt: skip
        else:
            wg.output_transform(m, bias, relu, y[start:stop], threads=False, validate=check)

    _chunks(n, chunk, body)
    return _delivered(y, out)


#: Whether inference with a pool (`conv_winograd(..., pooled=True)` without an argmax) runs
#: Winograd F(4x4, 3x3) (`kernels.winograd_f4`) instead of F(2x2, 3x3).
F4_INFERENCE = True


#: The most input channels F(4x4, 3x3) takes: its float32 error grows with them (largest
#: error over the output's scale, random data: 3.8e-6 at 32, 5.4e-6 at 64, 8.4e-6 at 128).
F4_MAX_IN = 64


def use_f4(dtype, cin: int) -> bool:
    """Whether a pooled convolution without an argmax (inference) runs on F(4x4, 3x3): 36
    multiplies per 16 outputs against 16 per 4, for a float32 error of a few 1e-6 of the
    output's scale with at most `F4_MAX_IN` input channels (pooled training keeps F(2x2),
    whose backward reads the pool's argmax over its 2x2 tiles; without a pool,
    `use_f4_unpooled`)."""
    return F4_INFERENCE and cin <= F4_MAX_IN and np.dtype(dtype) in (np.float32, np.float64)


#: Whether a pool after a one-channel 3x3 convolution (a grayscale first layer) runs Winograd
#: F(2x2) per pool window (`kernels.winograd_window`), in inference and in training (with the
#: argmax the direct kernel gradient reads); False sends both to the direct kernels.
WINDOW_WINOGRAD = True


#: Whether a convolution without a pool (inference and training's forward), and its input
#: and kernel gradients, run Winograd F(4x4, 3x3) instead of F(2x2, 3x3) (`use_f4_unpooled`).
F4_UNPOOLED = True


#: The largest share of F(2x2)'s multiplies F(4x4) may do (36 per 4x4 tile against 16 per
#: 2x2 tile: 0.56 where both tile the output evenly).
F4_MAX_MULTIPLIES = 0.8


def use_f4_unpooled(dtype, cin: int, out_hw, f2_hw=None) -> bool:
    """Whether a Winograd convolution without a pool runs on F(4x4, 3x3): `F4_UNPOOLED`, at
    most `F4_MAX_IN` channels summed (C_in for the forward and the kernel gradient, C_out for
    the input gradient: F(4x4)'s float32 error grows with them), float32 or float64, and
    F(4x4)'s 36 multiplies per 4x4 tile of its output `out_hw` at most `F4_MAX_MULTIPLIES`
    of F(2x2)'s 16 per 2x2 tile of `f2_hw` (default `out_hw`). The input gradient on F(4x4)
    is a convolution whose output is the image, where F(2x2)'s adjoint tiles the forward's
    output: for the MNIST second layer unpooled (13x13 in, 11x11 out) both do 576 per image
    and F(2x2) stays (measured 16-20 ms against F(4x4)'s 21-23 at batch 128).

    Measured (ms per call, float32, batch 64, median of 10 interleaved calls on the shared
    2-core VM, F(2x2) / F(4x4)): forward (64,32,32,32)x32 same 29.6 / 23.0, (64,16,16,32)x64
    10.8 / 6.8, (64,16,16,64)x64 35 / 19, MNIST (128,13,13,32)x64 valid 10.6 / 9.8; input
    gradient (fastest of 10) 24.9 / 19.4, 8.0 / 5.9, 40.8 / 24.5; kernel gradient 35.6 /
    22.9, 7.7 / 5.8, 24.3 / 16.2, MNIST 8.6 / 7.3."""
    if not (F4_UNPOOLED and cin <= F4_MAX_IN and np.dtype(dtype) in (np.float32, np.float64)):
        return False
    f2_hw = out_hw if f2_hw is None else f2_hw
    f4 = 36 * ((out_hw[0] + 3) // 4) * ((out_hw[1] + 3) // 4)
    f2 = 16 * ((f2_hw[0] + 1) // 2) * ((f2_hw[1] + 1) // 2)
    return f4 <= F4_MAX_MULTIPLIES * f2


def use_window_winograd(dtype, kernel_shape, strides, dilation, pool) -> bool:
    """Whether a conv + 2x2 stride-2 max pool (with or without an argmax) runs on
    `kernels.winograd_window`: one input channel, a 3x3 kernel, strides and dilation 1. Per
    window and output channel it does 16 multiplies and 24 additions where the direct sums
    do 36 and 36: the MNIST first layer at batch 512, one thread, 8.2 -> 5.3 ms."""
    return (
        WINDOW_WINOGRAD
        and np.dtype(dtype) in (np.float32, np.float64)
        and tuple(kernel_shape[:3]) == (3, 3, 1)
        and tuple(strides) == (1, 1)
        and tuple(dilation) == (1, 1)
        and tuple(pool) == (2, 2)
    )


def _conv_winograd_f4(x, k, top_left, out_hw, out, scratch, bias, relu, pooled):
    """`conv_winograd(..., pooled=pooled)` without an argmax on F(4x4, 3x3)
    (`kernels.winograd_f4`), by chunks of images as the F(2x2) path runs them: pooled, the
    4x4 tiles under the pool's windows and `output_pool_transform`; else the tiles covering
    the output and `output_transform`."""
    from ..kernels import winograd_f4 as w4

    n, _, _, cin = x.shape
    cout = k.shape[3]
    x = np.ascontiguousarray(x)
    shape = (n, out_hw[0] // 2, out_hw[1] // 2, cout) if pooled else (n, *out_hw, cout)
    y = out if _writable(out) else _buffer(scratch, "winograd_out", shape, x.dtype)
    u = _buffer(scratch, "winograd_f4_filter", (36, cin, cout), x.dtype)
    w4.filter_transform(np.ascontiguousarray(k), u)
    bias = None if bias is None else np.ascontiguousarray(bias)
    if pooled:
        tiles_h, tiles_w = w4.tile_counts(*shape[1:3])
    else:
        tiles_h, tiles_w = w4.output_tile_counts(*out_hw)
    per_image = tiles_h * tiles_w
    chunk = _chunk_size(n, 36 * per_image * (cin + cout) * x.dtype.itemsize)
    cap = chunk * per_image

    def body(worker, c, start, stop):
        tiles = (stop - start) * per_image
        v = _work(scratch, "winograd_f4_input", worker, cin, tiles, cap, x.dtype, 36)
        m = _work(scratch, "winograd_f4_products", worker, cout, tiles, cap, x.dtype, 36)
        check = c == 0  # the kernels' argument checks, once: the chunks' arrays are alike
        w4.input_transform(x[start:stop], *top_left, tiles_h, tiles_w, v, threads=False,
                           validate=check)  # fmt: skip
        np.matmul(v, u, out=m)
        transform = w4.output_pool_transform if pooled else w4.output_transform
        transform(m, bias, relu, y[start:stop], threads=False, validate=check)

    if y.size:
        _chunks(n, chunk, body)
    return _delivered(y, out)


def _input_grad_f4(dy, k, x_shape, top_left, dx, scratch) -> None:
    """The input gradient of a 3x3 stride-1 convolution (x of `x_shape`, windows from
    `-top_left`) on F(4x4, 3x3): the convolution of its output gradient `dy` with the kernel
    flipped and its channels swapped, windows from `top_left - 2` (cells outside `dy` read as
    0), by `_conv_winograd_f4`; written into `dx`."""
    kt = _buffer(scratch, "winograd_f4_kernel_t", (3, 3, k.shape[3], k.shape[2]), dy.dtype)
    np.copyto(kt, np.asarray(k)[::-1, ::-1].transpose(0, 1, 3, 2))
    dx_out = dx if _writable(dx) else _buffer(scratch, "winograd_dx", x_shape, dy.dtype)
    top, left = top_left
    _conv_winograd_f4(dy, kt, (2 - top, 2 - left), x_shape[1:3], dx_out, scratch, None, False,
                      False)  # fmt: skip
    _delivered(dx_out, dx)


def _kernel_grad_f4(x, dy, k_shape, top_left, out_hw, dk, scratch) -> None:
    """The kernel gradient of a 3x3 stride-1 convolution (windows from `-top_left`, output
    `out_hw`) on F(4x4, 3x3)'s tiles, written into `dk`: per chunk of images the input
    transform V of `x` and the output gradient's W (`winograd_f4_grad.grad_transform`), the
    products V^T W per position (one GEMM over the chunk's tiles), summed over chunks in
    chunk order, then `G^T (.) G` back to 3x3."""
    from ..kernels import winograd_f4 as w4
    from ..kernels import winograd_f4_grad

    n, _, _, cin = x.shape
    cout = k_shape[3]
    dtype = x.dtype
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    dk_out = dk if _writable(dk) else _buffer(scratch, "winograd_dk", k_shape, dtype)
    if n == 0:  # no images: nothing flows back to the kernel
        dk_out[...] = 0
        _delivered(dk_out, dk)
        return
    tiles_h, tiles_w = w4.output_tile_counts(*out_hw)
    per_image = tiles_h * tiles_w
    chunk = _chunk_size(n, 36 * per_image * (cin + cout) * dtype.itemsize)
    cap = chunk * per_image
    chunks = _chunk_count(n, chunk)
    products = _buffer(scratch, "winograd_f4_filter_products", (chunks, 36, cin, cout), dtype)

    def body(worker, c, start, stop):
        tiles = (stop - start) * per_image
        v = _work(scratch, "winograd_f4_input", worker, cin, tiles, cap, dtype, 36)
        w = _work(scratch, "winograd_f4_grads", worker, cout, tiles, cap, dtype, 36)
        check = c == 0  # the kernels' argument checks, once: the chunks' arrays are alike
        w4.input_transform(x[start:stop], *top_left, tiles_h, tiles_w, v, threads=False,
                           validate=check)  # fmt: skip
        winograd_f4_grad.grad_transform(dy[start:stop], w, threads=False, validate=check)
        np.matmul(v.transpose(0, 2, 1), w, out=products[c])

    _chunks(n, chunk, body)
    total = _buffer(scratch, "winograd_f4_filter_total", (6, 6, cin * cout), dtype)
    np.sum(products.reshape(chunks, 6, 6, cin * cout), axis=0, out=total)  # in chunk order
    g_t = w4.G.T.astype(dtype)
    half = _buffer(scratch, "winograd_f4_filter_work", (3, 6, cin * cout), dtype)
    np.matmul(g_t, total.reshape(6, 6 * cin * cout), out=half.reshape(3, 6 * cin * cout))
    np.matmul(g_t, half, out=dk_out.reshape(3, 3, cin * cout))  # G^T P G, row by row
    _delivered(dk_out, dk)


def winograd_backward(x_shape, k_shape, top_left, out_hw, *, x=None, k=None, dy=None,
                      pooled_grad=None, argmax=None, dx=None, dk=None, db=None,
                      scratch=None):  # fmt: skip
    """Gradients of the Winograd convolution `y = conv(x, k)` (`conv_winograd`'s geometry:
    x of `x_shape`, kernel of `k_shape` (3, 3, C_in, C_out), windows from `-top_left`, output
    `out_hw`), written into the arrays given: `dx` (x_shape) the input gradient (needs `k`),
    `dk` (k_shape) the kernel gradient (needs `x`), `db` (C_out,) the bias gradient. The
    output gradient is `dy` (N, *out_hw, C_out), or the gradient that a 2x2 stride-2 max pool
    over y (with relu's, where the argmax says NO_GRADIENT) routes from its `pooled_grad` and
    the forward's `argmax` (`conv_winograd(..., pooled=True, argmax=...)`): then only the
    tiles under the pool's windows, the others having no gradient.

    Per chunk of images: W of the output gradient's tiles (once for both gradients), then
    for dk the input transform V of x and the products V^T W (summed over chunks in chunk
    order, then `G^T (.) G`), and for dx `dV = W @ U^T` and the transpose of the input
    transform into dx's images."""
    wg = _kernels()
    from ..kernels import winograd_grad

    n, _, _, cin = x_shape
    cout = k_shape[3]
    dtype = np.dtype((x if x is not None else k).dtype)
    if pooled_grad is not None:
        tiles_h, tiles_w = pooled_grad.shape[1:3]
        pooled_grad = np.ascontiguousarray(pooled_grad)
    else:
        tiles_h, tiles_w = wg.tile_counts(*out_hw)
        dy = np.ascontiguousarray(dy)
    per_image = tiles_h * tiles_w
    if dk is not None:
        x = np.ascontiguousarray(x)
    if pooled_grad is None:  # F(4x4) takes each gradient its rule allows, on its own tiles
        if dx is not None and use_f4_unpooled(dtype, cout, x_shape[1:3], out_hw):
            _input_grad_f4(dy, k, x_shape, top_left, dx, scratch)
            dx = None
        if dk is not None and use_f4_unpooled(dtype, cin, out_hw):
            _kernel_grad_f4(x, dy, k_shape, top_left, out_hw, dk, scratch)
            dk = None
        if dx is None and dk is None:
            if db is not None:
                np.sum(np.ascontiguousarray(dy).reshape(-1, cout), axis=0, out=db)
            return
    ut = None
    if dx is not None:
        ut = _buffer(scratch, "winograd_filter_t", (16, cout, cin), dtype)
        kt = _buffer(scratch, "winograd_kernel_t", (3, 3, cout, cin), dtype)
        np.copyto(kt, np.asarray(k).transpose(0, 1, 3, 2))
        wg.filter_transform(kt, ut)  # U^T: the transform commutes with swapping channels
    if n == 0:  # no images: nothing flows back to the kernel or the bias
        for grad in (dk, db):
            if grad is not None:
                grad[...] = 0
        return
    dx_out = None
    if dx is not None:
        dx_out = dx if _writable(dx) else _buffer(scratch, "winograd_dx", x_shape, dtype)
    pooled_bias = db is not None and pooled_grad is not None
    widths = cout + (2 * cin if dx is not None else 0) + (cin if dk is not None else 0)
    chunk = _chunk_size(n, 16 * per_image * widths * dtype.itemsize)
    cap = chunk * per_image
    chunks = _chunk_count(n, chunk)
    # Each chunk's kernel products and bias sums, in one array each: summed over the chunk
    # axis in chunk order afterwards (one numpy call), whatever the threads.
    products = bias_parts = None
    if dk is not None:
        products = _buffer(scratch, "winograd_filter_products", (chunks, 16, cin, cout), dtype)
    if pooled_bias:
        bias_parts = _buffer(scratch, "winograd_bias_parts", (chunks, cout), dtype)

    def body(worker, c, start, stop):
        tiles = (stop - start) * per_image
        w = _work(scratch, "winograd_grads", worker, cout, tiles, cap, dtype)
        bias_part = bias_parts[c] if pooled_bias else None
        check = c == 0  # the kernels' argument checks, once: the chunks' arrays are alike
        if pooled_grad is not None:
            winograd_grad.pooled_grad_transform(pooled_grad[start:stop], argmax[start:stop], w,
                                                bias_part, threads=False,
                                                validate=check)  # fmt: skip
        else:
            wg.grad_transform(dy[start:stop], w, threads=False, validate=check)
        if dk is not None:
            v = _work(scratch, "winograd_input", worker, cin, tiles, cap, dtype)
            wg.input_transform(x[start:stop], *top_left, tiles_h, tiles_w, v, threads=False,
                               validate=check)  # fmt: skip
            np.matmul(v.transpose(0, 2, 1), w, out=products[c])
        if dx is not None:
            dv = _work(scratch, "winograd_input_grads", worker, cin, tiles, cap, dtype)
            np.matmul(w, ut, out=dv)
            winograd_grad.input_grad_transform(dv, *top_left, tiles_h, tiles_w,
                                               dx_out[start:stop], threads=False,
                                               validate=check)  # fmt: skip

    _chunks(n, chunk, body)
    if dk is not None:
        total = _buffer(scratch, "winograd_filter_total", (16, cin, cout), dtype)
        np.sum(products, axis=0, out=total)  # over a leading axis: in order, row by row
        dk_out = dk if _writable(dk) else _buffer(scratch, "winograd_dk", k_shape, dtype)
        work = _buffer(scratch, "winograd_filter_work", (3, 4, cin, cout), dtype)
        wg.filter_grad_from_products(total, dk_out, work)
        _delivered(dk_out, dk)
    if db is not None:
        if pooled_bias:
            np.sum(bias_parts, axis=0, out=db)
        else:
            np.sum(dy.reshape(-1, cout), axis=0, out=db)
    if dx is not None:
        _delivered(dx_out, dx)
