"""How a convolution runs: the array paths behind the primitives of `conv_primitives`.

`conv_primitives` picks one path per call by shape: direct loops for a small kernel
(`_use_direct`), the depthwise kernels for one input channel per group (`_is_depthwise`),
Winograd F(2x2, 3x3) for a 3x3 stride-1 kernel (`_use_winograd`), else im2col + BLAS
(`_im2col`, `_col2im`). This module holds those paths and their work-array helpers
(`_buffer`: scratch arrays cached per Plan node); docs/kernels.md has the measurements
behind each choice.
"""

from __future__ import annotations

import numpy as np

from .. import workers


def _effective(k: int, d: int) -> int:
    return (k - 1) * d + 1


# ---- array helpers (numpy + kernels) ------------------------------------------------------


def _kernels():
    from ..kernels import conv as kconv  # importing Numba is deferred to the first run

    return kconv


def _extent(out_hw, ksize, strides, dilation) -> tuple:
    """The rows/cols of the padded image the windows reach."""
    return tuple((o - 1) * s + _effective(k, d) for o, k, s, d in
                 zip(out_hw, ksize, strides, dilation, strict=True))  # fmt: skip


def _is_plain_1x1(ksize, strides, pads, x_hw, need) -> bool:
    return (
        ksize == (1, 1)
        and strides == (1, 1)
        and pads[0][0] == 0
        and pads[1][0] == 0
        and tuple(x_hw) == tuple(need)
    )


def _buffer(scratch, tag: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """A work array: a fresh one without `scratch` (a dict), else the one cached there under
    (tag, shape, dtype), made on first use (zeroed when `zero`; callers that rely on zeros
    write only cells they wrote on the first use too, so the rest stays zero)."""
    make = np.zeros if zero else np.empty
    if scratch is None:
        return make(shape, dtype)
    key = (tag, tuple(shape), np.dtype(dtype))
    buf = scratch.get(key)
    if buf is None:
        buf = scratch[key] = make(shape, dtype)
    return buf


def _padded(x: np.ndarray, pads, need, scratch=None) -> np.ndarray:
    """`x` zero-padded before by (top, left) and cut or padded after to `need` (rows, cols)."""
    n, h, w, c = x.shape
    (top, _), (left, _) = pads
    if top == 0 and left == 0 and (h, w) == tuple(need):
        return np.ascontiguousarray(x)
    # Cached: only the same interior cells are written on every call, so the border stays 0.
    xp = _buffer(scratch, "padded", (n, need[0], need[1], c), x.dtype, zero=True)
    hh, ww = min(h, need[0] - top), min(w, need[1] - left)
    xp[:, top : top + hh, left : left + ww] = x[:, :hh, :ww]
    return xp


def _im2col(x: np.ndarray, ksize, strides, dilation, pads, out_hw, scratch=None) -> np.ndarray:
    """The windows of `x` as (N, Ho, Wo, kh, kw, C) (in a `scratch` buffer when given)."""
    n, h, w, c = x.shape
    need = _extent(out_hw, ksize, strides, dilation)
    if _is_plain_1x1(ksize, strides, pads, (h, w), need):
        return np.ascontiguousarray(x).reshape(n, h, w, 1, 1, c)
    xp = _padded(x, pads, need, scratch)
    cols = _buffer(scratch, "im2col", (n, *out_hw, *ksize, c), x.dtype)
    _kernels().im2col_nhwc(xp, *ksize, *strides, *dilation, cols)
    return cols


def _col2im(cols: np.ndarray, image_hw, ksize, strides, dilation, pads, out=None,
            scratch=None) -> np.ndarray:  # fmt: skip
    """The transpose of `_im2col`: windows (N, Ho, Wo, kh, kw, C) summed into (N, H, W, C);
    written into `out` when given (col2im straight into it when no crop is needed)."""
    n, ho, wo, _, _, c = cols.shape
    h, w = image_hw
    need = _extent((ho, wo), ksize, strides, dilation)
    if _is_plain_1x1(ksize, strides, pads, (h, w), need):
        x = cols.reshape(n, h, w, c)
        if out is not None:
            if not np.shares_memory(x, out):
                np.copyto(out, x)
            return out
        return x
    cols = np.ascontiguousarray(cols)
    (top, _), (left, _) = pads
    uncropped = top == 0 and left == 0 and (h, w) == tuple(need)
    if uncropped and out is not None and out.flags.c_contiguous and out.flags.writeable:
        _kernels().col2im_nhwc(cols, *ksize, *strides, *dilation, out)
        return out
    xp = _buffer(scratch, "col2im", (n, need[0], need[1], c), cols.dtype)
    _kernels().col2im_nhwc(cols, *ksize, *strides, *dilation, xp)
    if uncropped:
        if out is not None:
            np.copyto(out, xp)
            return out
        return xp
    hh, ww = min(h, need[0] - top), min(w, need[1] - left)
    if out is None:
        x = np.zeros((n, h, w, c), cols.dtype)
    else:
        x = out
        x[:, hh:] = 0
        x[:, :hh, ww:] = 0
    x[:, :hh, :ww] = xp[:, top : top + hh, left : left + ww]
    return x


# ---- depthwise: one input channel per group, on direct kernels (no im2col, no padded copy) --


def _depthwise_kernels():
    from ..kernels import depthwise as kdw

    return kdw


def _is_depthwise(dtype, cin: int, cg: int, groups: int) -> bool:
    """A grouped convolution with one input channel per group (the kernel (kh, kw, 1, C*M) is
    a depthwise (kh, kw, C, M) one), in a dtype the direct kernels take."""
    return groups > 1 and cg == 1 and cin == groups and dtype in (np.float32, np.float64)


def _direct_out(shape, dtype, out, scratch) -> np.ndarray:
    """Where a direct kernel writes: `out` when it is writable in place, else a work array."""
    return out if _writable(out) else _buffer(scratch, "depthwise", shape, dtype)


def _delivered(result: np.ndarray, out) -> np.ndarray:
    if out is None or result is out:
        return result
    np.copyto(out, result)
    return out


def _depthwise_forward(x, k, strides, dilation, pads, out_hw, out, scratch):
    n, _, _, c = x.shape
    kh, kw, _, cout = k.shape
    y = _direct_out((n, *out_hw, cout), x.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d(
        np.ascontiguousarray(x), np.ascontiguousarray(k).reshape(kh, kw, c, cout // c),
        strides, dilation, (pads[0][0], pads[1][0]), y,
    )  # fmt: skip
    return _delivered(y, out)


def _depthwise_transpose(y, k, strides, dilation, pads, image_hw, groups, out, scratch):
    kh, kw, _, cout = k.shape
    dx = _direct_out((y.shape[0], *image_hw, groups), y.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d_input_grad(
        np.ascontiguousarray(y), np.ascontiguousarray(k).reshape(kh, kw, groups, cout // groups),
        strides, dilation, (pads[0][0], pads[1][0]), dx,
    )  # fmt: skip
    return _delivered(dx, out)


def _depthwise_filter(x, y, kernel_size, strides, dilation, pads, out, scratch):
    c, cout = x.shape[3], y.shape[3]
    dk = _direct_out((*kernel_size, 1, cout), x.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d_kernel_grad(
        np.ascontiguousarray(x), np.ascontiguousarray(y), strides, dilation,
        (pads[0][0], pads[1][0]), dk.reshape(*kernel_size, c, cout // c),
    )  # fmt: skip
    return _delivered(dk, out)


# ---- direct: a small kernel (a first layer) on direct loops, no im2col and no GEMM -----------

#: The largest kernels (kh*kw*C_in*C_out) that `_use_direct` sends to the direct kernels.
_DIRECT_FORWARD_MAX = 1024
_DIRECT_FILTER_MAX = 8192


def _use_direct(dtype, kernel_shape, groups: int, gradient: bool = False) -> bool:
    """Whether a `groups == 1` convolution (or, with `gradient`, its kernel gradient) runs on
    the direct kernels (`kernels.conv.conv_direct_nhwc` / `conv_filter_direct_nhwc`) instead
    of im2col + one GEMM: when its kernel (kh, kw, C_in, C_out) has at most 1024 weights
    (forward) or 8192 (gradient: its partial sums then fit in a 32 KB L1 at float32).

    im2col costs per (pixel, tap) whatever C_in, and for a few input channels it costs far
    more than the GEMM after it; the direct loops cost per (pixel, tap, C_out / 16) vector, so
    they win while kh*kw*C_in*C_out is small. Measured (ms per call, float32, stride 1, valid,
    2 threads on a shared 2-core Zen4, best of several runs; im2col+GEMM / direct; the forward
    with bias + relu on both paths (a `bias_activation` pass after the GEMM), the kernel
    gradient with the bias gradient (numpy's sum after the GEMM)):

        x, kernel                        forward        kernel gradient
        (128,28,28,1), (3,3,1,32)       2.6 / 1.0        4.0 / 1.0
        (512,28,28,1), (3,3,1,32)       8.8 / 3.5       16.4 / 3.6
        (64,32,32,3), (3,3,3,16)        1.7 / 1.5        3.6 / 0.9
        (128,13,13,32), (3,3,32,64)     5.1 / 8.2        5.2 / 6.2   both stay on the GEMM
        (64,28,28,1), (3,3,1,128)       1.9 / 1.9        3.7 / 1.5   forward: GEMM
        (64,28,28,3), (3,3,3,64)        1.9 / 2.6        4.3 / 1.3   forward: GEMM
        (64,28,28,4), (3,3,4,32)        1.5 / 1.8        2.9 / 2.6   forward: GEMM
        (16,40,40,3), (7,7,3,64)        3.7 / 6.2        4.1 / 3.8   both: GEMM (a tie)
    """
    if groups != 1 or dtype not in (np.float32, np.float64):
        return False
    size = int(np.prod(kernel_shape))
    return size <= (_DIRECT_FILTER_MAX if gradient else _DIRECT_FORWARD_MAX)


def _bias_relu(y: np.ndarray, bias, relu: bool) -> None:
    """In place, `y = relu(y + bias)` over y's last axis (each part only when asked): one pass
    of the `bias_activation` kernel over a C-contiguous y, numpy otherwise."""
    if bias is not None and y.flags.c_contiguous and y.dtype in (np.float32, np.float64):
        from ..kernels import gemm

        gemm.bias_activation(y, np.ascontiguousarray(bias), "relu" if relu else "linear")
        return
    if bias is not None:
        np.add(y, bias, out=y)
    if relu:
        np.maximum(y, 0, out=y)


def _bias_grad(y: np.ndarray, bias_out) -> None:
    """`bias_out = y.sum(axis=(0, 1, 2))` when `bias_out` is given."""
    if bias_out is not None:
        np.sum(y.reshape(-1, y.shape[-1]), axis=0, out=bias_out)


def _conv_direct(x, k, strides, dilation, pads, out_hw, out, scratch, bias, relu):
    n, cout = x.shape[0], k.shape[3]
    xp = _padded(x, pads, _extent(out_hw, k.shape[:2], strides, dilation), scratch)
    y = out if _writable(out) else _buffer(scratch, "direct", (n, *out_hw, cout), x.dtype)
    bias = None if bias is None else np.ascontiguousarray(bias)
    _kernels().conv_direct_nhwc(xp, np.ascontiguousarray(k), bias, relu, *strides, *dilation, y)
    return _delivered(y, out)


def _conv_filter_direct(x, y, kernel_size, strides, dilation, pads, out, scratch, bias_out):
    cin, cout = x.shape[3], y.shape[3]
    xp = _padded(x, pads, _extent(y.shape[1:3], kernel_size, strides, dilation), scratch)
    dk = out if _writable(out) else np.empty((*kernel_size, cin, cout), x.dtype)
    db = bias_out if bias_out is None or _writable(bias_out) else np.empty(cout, x.dtype)
    _kernels().conv_filter_direct_nhwc(xp, np.ascontiguousarray(y), *strides, *dilation, dk, db)
    if db is not bias_out:
        np.copyto(bias_out, db)
    return _delivered(dk, out)


# ---- winograd: a 3x3 stride-1 convolution as 16 GEMMs with 4/9 of im2col's multiplies -------

#: The fewest input channels `_use_winograd` sends to Winograd (with 3-8 it tied or lost).
_WINOGRAD_MIN_IN = 16
#: The largest share of the im2col GEMM's multiplies the Winograd GEMMs may do: 16 per 2x2
#: tile against 9 per output pixel is 0.44, more where tiles overhang an odd-sized output.
#: (0.6 while the chunks ran on one core; 0.8 since they run on every worker thread.)
_WINOGRAD_MAX_MULTIPLIES = 0.8
#: The largest C_in * C_out sent to Winograd: at 128 x 128 its chunk-sized GEMMs (a few
#: dozen tiles by 128) lost to im2col's one big GEMM (32x9x9x128: 2.9 ms against 4.2).
_WINOGRAD_MAX_CHANNELS = 64 * 64
#: Bytes of transformed input and products (V and M) per chunk of images (1.5 MB): they stay
#: in cache from the input transform through the GEMMs to the output transform. In a Plan,
#: where other steps evict the caches between calls, 1-2 MB chunks ran the MNIST layer 1.1x
#: faster than im2col + GEMM and 4-16 MB chunks 0.7-0.9x (8 MB looked best only in a loop
#: over the one convolution, with everything in the 32 MB L3).
_WINOGRAD_CHUNK_BYTES = 3 << 19


def _winograd_kernels():
    from ..kernels import winograd

    return winograd


def _use_winograd(dtype, kernel_shape, strides, dilation, groups: int, out_hw,
                  gemm_pixels=None) -> bool:  # fmt: skip
    """Whether a convolution with output size `out_hw` runs as Winograd F(2x2, 3x3)
    (`_conv_winograd`) instead of im2col + one GEMM (whose GEMM has `gemm_pixels` rows per
    image: Ho*Wo by default; the output gradient's pixels for an input gradient): a 3x3 kernel
    (3, 3, C_in, C_out), strides and dilation 1, groups 1, at least 16 input channels,
    C_in * C_out at most 64 * 64, and Winograd's 16 multiplies per 2x2 tile at most 0.8 of
    im2col's 9 per GEMM row (0.72 for the input gradient of the MNIST second layer, whose
    image grows 11x11 -> 13x13; 0.79 for a 3x3 output).

    Since the chunks run on all worker threads (`backend.workers`; the table below was taken
    while they ran on one core), batch 128 unless noted: the MNIST second layer's forward
    5.2 -> 2.5 ms (im2col + GEMM: 5.2), at batch 512 19.6 / 9.8; its input gradient
    (valid, 0.72) GEMM + col2im 4.1-4.2 / Winograd 3.2-3.4, so now taken; (64,7,7,64) valid
    1.0 / 0.8; (64,5,5,64) valid (3x3 out, 0.79) 0.49 / 0.42; (32,9,9,128) x 128 2.9 / 4.2
    (not taken: `_WINOGRAD_MAX_CHANNELS`).

    Measured (ms per call, float32, 2 threads on a shared 2-core Zen4 VM, median of 24 calls
    alternating the two paths, each after a threaded Numba pass over 128 MB as in a Plan;
    im2col+GEMM / Winograd; the forward with bias + relu (fused on both paths), "dx" the
    input gradient (GEMM + col2im / Winograd)):

        x (N, H, W, C_in), C_out, padding       im2col+GEMM / Winograd
        (128,13,13,32), 64, valid                6.1 / 5.3    MNIST convnet's 2nd layer
        (512,13,13,32), 64, valid               21.8 / 19.9
        (64,32,32,32), 32, same                 17.5 / 10.3
        (64,32,32,16), 16, same                  8.8 / 4.5
        (64,16,16,64), 64, same                 12.8 / 7.7-8.8
        (64,13,13,16), 16, valid                 1.3-1.6 / 1.0-1.1
        (64,9,9,64), 64, valid (7x7 out)         2.7 / 2.5
        (64,8,8,64), 64, same                    3.3 / 2.4
        (64,32,32,64), 8, same                  27.3 / 9.2
        (64,7,7,64), 64, valid (5x5 out)         1.6 / 1.6    not taken (0.64)
        (64,5,5,64), 64, valid (3x3 out)         0.7 / 0.9    not taken (0.79)
        (64,32,32,8), 32, same                   5.6 / 6.6    not taken (C_in 8)
        (64,32,32,4), 64, same                   5.5 / 5.4    not taken (C_in 4)
        dx (128,13,13,32), 64, valid             4.8-5.0 / 6.6-6.8   not taken (0.72)
        dx (128,13,13,32), 64, same              8.0 / 6.8
        dx (64,32,32,32), 32, same              13.4 / 10.3
        dx (64,16,16,64), 64, same              10.5 / 7.6

    In the convnet's compiled training step the 2nd layer's forward went 5.3-5.6 -> 5.1-5.2
    ms, and inference's conv + max pool 23.3-24.0 -> 22.4-23.4 ms (batch 512): the GEMMs with
    K = C_in = 32 run at ~130 GFLOP/s against ~180 for im2col's K = 288, and the transforms
    (memory-bound: the transformed input is 4/9 the size of im2col's columns, the products 4x
    the output's) cost about what im2col does.
    They run serially: on this machine's 2 threads, memory-bound loops gained nothing from
    threads while each wake of the pool cost 60-140 us.
    """
    kh, kw, cin, cout = kernel_shape
    if not (
        groups == 1
        and cin * cout <= _WINOGRAD_MAX_CHANNELS
        and dtype in (np.float32, np.float64)
        and (kh, kw) == (3, 3)
        and tuple(strides) == (1, 1)
        and tuple(dilation) == (1, 1)
        and cin >= _WINOGRAD_MIN_IN
    ):
        return False
    tiles = ((out_hw[0] + 1) // 2) * ((out_hw[1] + 1) // 2)
    pixels = out_hw[0] * out_hw[1] if gemm_pixels is None else gemm_pixels
    return 16 * tiles <= _WINOGRAD_MAX_MULTIPLIES * 9 * pixels


def _winograd_chunks(wg, x, top_left, out_hw, cout, scratch, body) -> int:
    """Runs Winograd's chunk loop for `_conv_winograd` and `_filter_winograd`: the images of
    `x` by cache-sized chunks (`_WINOGRAD_CHUNK_BYTES` of transformed input and C_out-wide
    tiles), each chunk's input transform into `v` (16, tiles, C_in), then `body(c, start,
    stop, v, w)` with `w` a (16, tiles, C_out) work array. The chunks are shared out to the
    worker threads (`backend.workers`), each with its own work arrays and its own run of
    chunks, all serial: their calls are too small for threads of their own. Returns the
    number of chunks."""
    n, _, _, cin = x.shape
    tiles_h, tiles_w = wg.tile_counts(*out_hw)
    per_image = tiles_h * tiles_w
    image_bytes = 16 * per_image * (cin + cout) * x.dtype.itemsize
    chunk = max(1, min(n, _WINOGRAD_CHUNK_BYTES // image_bytes))

    def run_chunks(worker, first, last):
        v_all = _buffer(scratch, f"winograd_input_{worker}", (16 * chunk * per_image * cin,),
                        x.dtype)  # fmt: skip
        w_all = _buffer(scratch, f"winograd_products_{worker}",
                        (16 * chunk * per_image * cout,), x.dtype)  # fmt: skip
        for c in range(first, last):
            start, stop = c * chunk, min(n, (c + 1) * chunk)
            tiles = (stop - start) * per_image
            v = v_all[: 16 * tiles * cin].reshape(16, tiles, cin)
            w = w_all[: 16 * tiles * cout].reshape(16, tiles, cout)
            wg.input_transform(x[start:stop], *top_left, tiles_h, tiles_w, v, threads=False)
            body(c, start, stop, v, w)

    chunks = -(-n // chunk)
    workers.split(run_chunks, chunks)
    return chunks


def _conv_winograd(x, k, top_left, out_hw, out, scratch, bias, relu, pooled=False,
                   argmax=None):  # fmt: skip
    """`relu(conv(x, k) + bias)` for a 3x3 kernel, stride 1, whose windows start at
    `-top_left` (pads before; any pads after: the output size `out_hw` fixes them, and cells
    outside `x` read as 0), by Winograd F(2x2, 3x3) (`kernels.winograd`): the filter
    transformed once per call, then by chunks of images the input transform, one batched
    GEMM (16, tiles, C_in) @ (16, C_in, C_out) and the output transform with the epilogue.
    With `pooled`, `out` takes its 2x2 stride-2 max pool instead, from the output transform
    (`kernels.winograd_output`), and `argmax` (when given) each window's argmax."""
    wg = _winograd_kernels()
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

    def products_to_output(c, start, stop, v, m):
        np.matmul(v, u, out=m)
        if pooled:
            winograd_output.output_pool_transform(
                m, bias, relu, out_hw, y[start:stop],
                None if argmax is None else argmax[start:stop], threads=False,
            )  # fmt: skip
        else:
            wg.output_transform(m, bias, relu, y[start:stop], threads=False)

    _winograd_chunks(wg, x, top_left, out_hw, cout, scratch, products_to_output)
    return _delivered(y, out)


def _filter_winograd(x, y, top_left, out, scratch):
    """The kernel gradient of a 3x3 stride-1 convolution by Winograd F(3x3, 2x2), the dual of
    the forward's F(2x2, 3x3): `dk = G^T (sum over tiles t of V_t * W_t) G`, V the forward's
    input transform of `x` and W the output gradient's 2x2 tiles transformed by A
    (`kernels.winograd.grad_transform`); per position, the sum over tiles is one GEMM
    (C_in, T) @ (T, C_out) with a long T. By chunks of images as `_conv_winograd`; each
    chunk's products are summed in chunk order afterwards, so the result does not depend on
    the thread count."""
    wg = _winograd_kernels()
    n, _, _, cin = x.shape
    cout = y.shape[3]
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    products = {}  # chunk -> its (16, C_in, C_out) sums, in buffers kept in `scratch`

    def chunk_products(c, start, stop, v, w):
        wg.grad_transform(y[start:stop], w, threads=False)
        part = _buffer(scratch, f"winograd_filter_products_{c}", (16, cin, cout), x.dtype)
        np.matmul(v.transpose(0, 2, 1), w, out=part)
        products[c] = part

    chunks = _winograd_chunks(wg, x, top_left, y.shape[1:3], cout, scratch, chunk_products)
    total = _buffer(scratch, "winograd_filter_total", (16, cin, cout), x.dtype)
    np.copyto(total, products[0])
    for c in range(1, chunks):
        total += products[c]
    dk = out if _writable(out) else np.empty((3, 3, cin, cout), x.dtype)
    wg.filter_grad_from_products(total, dk)
    return _delivered(dk, out)


def _writable(out) -> bool:
    return out is not None and out.flags.c_contiguous and out.flags.writeable
