"""The Winograd F(2x2, 3x3) path of the conv primitives (3x3 stride-1 convolutions with 16+
input channels; F(4x4) without a pool switched off): which convolutions and gradients take
it, their numbers against naive numpy loops through the op harness (forward, float64
finite-difference gradients, compiled Plans), and the primitives writing into Plan buffers
by chunks of images."""

import importlib

import numpy as np
import pytest

from backend.ops import conv_winograd
from backend.ops.base import apply
from backend.testing import check_op
from backend.testing import conv2d_reference as ref_conv2d
from backend.testing import conv_transpose_reference as ref_transpose_primitive

conv_module = importlib.import_module("backend.ops.conv")  # ops.conv is the function
RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _f2_only(monkeypatch):
    """The convolutions here run F(2x2, 3x3): F(4x4) without a pool is switched off
    (test_kernels_winograd_f4_train.py tests it)."""
    monkeypatch.setattr(conv_winograd, "F4_UNPOOLED", False)


def rand(*shape):
    return RNG.standard_normal(shape)


def _out_buffer(shape, dtype, contiguous):
    return np.full(shape, np.nan, dtype) if contiguous else np.full(shape[::-1], np.nan, dtype).T


# ---- Winograd F(2x2, 3x3): 3x3 stride-1 convolutions with 16+ input channels -----------------

# (input shape, kernel shape, pads, forward on Winograd, input gradient on Winograd): the input
# gradient is the transpose of the forward over its tiles, its GEMM's K the C_out channels.
WINOGRAD_CASES = [
    ((2, 5, 6, 16), (3, 3, 16, 8), ((1, 1), (1, 1)), True, False),  # its input grad: 8 in
    ((1, 6, 5, 3), (3, 3, 3, 16), ((1, 1), (1, 1)), False, True),  # forward: direct (3 in)
    ((1, 6, 7, 16), (3, 3, 16, 20), ((1, 1), (1, 1)), True, True),  # same
    ((2, 9, 8, 16), (3, 3, 16, 8), ((0, 0), (0, 0)), True, False),  # valid, odd sizes
    ((1, 8, 6, 16), (3, 3, 16, 17), ((2, 0), (0, 1)), True, True),  # uneven pads
    ((1, 8, 9, 17), (3, 3, 17, 16), ((0, 0), (0, 0)), True, True),  # valid, odd sizes
]


def _spy(monkeypatch, module, name: str) -> list:
    """Records the shape of the first array each call of `module.name` takes."""
    seen, real = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda a, *rest, **kw: (
        seen.append(a.shape), real(a, *rest, **kw)))  # fmt: skip
    return seen


def _spy_winograd(monkeypatch) -> list:
    """Records the shape of every image the Winograd input transform takes."""
    from backend.kernels import winograd

    return _spy(monkeypatch, winograd, "input_transform")


def _winograd_conv_op(pads):
    attrs = {"strides": (1, 1), "dilation": (1, 1), "pads": pads, "groups": 1}
    return lambda x, k: apply(conv_module._CONV, (x, k), attrs)


@pytest.mark.parametrize("xs, ks, pads, forward, input_grad", WINOGRAD_CASES, ids=str)
def test_conv_on_winograd(monkeypatch, xs, ks, pads, forward, input_grad):
    from backend.kernels import winograd, winograd_grad

    seen = _spy_winograd(monkeypatch)
    grads_seen = _spy(monkeypatch, winograd, "grad_transform")
    adjoint_seen = _spy(monkeypatch, winograd_grad, "input_grad_transform")
    x, k = rand(*xs), rand(*ks)
    y = ref_conv2d(x, k, 1, pads)
    check_op(_winograd_conv_op(pads), [x, k], lambda x, k: ref_conv2d(x, k, 1, pads), atol=1e-9)
    # The forward transforms x; the kernel gradient (over the same tiles) transforms x and
    # the output gradient, unless the kernel is small enough for the direct kernel-gradient
    # loops; the input gradient transforms the output gradient and writes x's shape.
    from backend.ops import conv_primitives as cp

    direct = cp._use_direct(np.dtype("float64"), ks, 1, gradient=True)
    assert (x.shape in seen) == forward and set(seen) <= {x.shape}
    assert bool(adjoint_seen) == input_grad
    assert all(shape[0] == 16 and shape[2] == xs[3] for shape in adjoint_seen)  # dV of x's C
    assert bool(grads_seen) == ((forward and not direct) or input_grad)
    assert set(grads_seen) <= {y.shape}


def test_conv_kernel_gradient_on_winograd(monkeypatch):
    # A kernel too large for the direct kernel-gradient loops (3*3*32*32 > 8192): the kernel
    # gradient runs as Winograd F(3x3, 2x2) on the forward's tiles.
    from backend.kernels import winograd

    grads_seen, real_grad = [], winograd.grad_transform
    monkeypatch.setattr(winograd, "grad_transform", lambda g, *a, **kw: (
        grads_seen.append(g.shape), real_grad(g, *a, **kw)))  # fmt: skip
    pads = ((1, 0), (0, 1))
    x, k = rand(2, 5, 4, 32) * 0.3, rand(3, 3, 32, 32) * 0.3
    check_op(_winograd_conv_op(pads), [x, k], lambda x, k: ref_conv2d(x, k, 1, pads), atol=1e-9)
    assert grads_seen and set(grads_seen) == {(2, 4, 3, 32)}


@pytest.mark.parametrize("xs, ks, pads, forward, input_grad", WINOGRAD_CASES[2:5], ids=str)
def test_winograd_shapes_on_im2col_and_gemm(monkeypatch, xs, ks, pads, forward, input_grad):
    # The same shapes with Winograd switched off: im2col + GEMM forward, GEMM + col2im input
    # gradient.

    monkeypatch.setattr(conv_winograd, "WINOGRAD_MIN_IN", 10**9)
    seen = _spy_winograd(monkeypatch)
    check_op(_winograd_conv_op(pads), [rand(*xs), rand(*ks)],
             lambda x, k: ref_conv2d(x, k, 1, pads), atol=1e-9)  # fmt: skip
    assert seen == []


def test_winograd_selection():
    use = conv_winograd.use_winograd
    f32 = np.dtype("float32")
    one = (1, 1)
    assert use(f32, (3, 3, 32, 64), one, one, 1, (11, 11))  # MNIST's 2nd layer
    assert use(f32, (3, 3, 16, 1), one, one, 1, (2, 2))
    assert use(np.dtype("float64"), (3, 3, 16, 8), one, one, 1, (7, 7))
    assert use(f32, (3, 3, 64, 32), one, one, 1, (11, 11))  # its dx: K = 64
    assert use(f32, (3, 3, 32, 64), one, one, 1, (5, 5))  # 9 tiles, 25 pixels
    for args in [
        ((3, 3, 15, 64), one, one, 1, (11, 11)),  # too few input channels
        ((3, 3, 32, 64), (1, 2), one, 1, (11, 11)),
        ((3, 3, 32, 64), one, (2, 1), 1, (11, 11)),
        ((3, 3, 32, 64), one, one, 2, (11, 11)),
        ((3, 2, 32, 64), one, one, 1, (11, 11)),
        ((3, 3, 32, 64), one, one, 1, (1, 1)),  # a tile for one pixel
        ((3, 3, 32, 64), one, one, 1, (3, 1)),  # 2 tiles for 3 pixels
        ((3, 3, 128, 128), one, one, 1, (11, 11)),  # channels past WINOGRAD_MAX_CHANNELS
    ]:  # fmt: skip
        assert not use(f32, *args)
    assert not use(np.dtype("float16"), (3, 3, 32, 64), one, one, 1, (11, 11))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("contiguous_out", [True, False])
def test_winograd_primitives_write_into_out(contiguous_out, dtype):
    # conv_into with its epilogue and conv_transpose_into on Winograd, in chunks of images
    # (a small chunk budget), work arrays cached in `scratch` and reused on new inputs.
    import unittest.mock

    from backend.ops import conv_primitives as cp

    pads, one = ((2, 0), (1, 1)), (1, 1)
    tol = 1e-12 if dtype == "float64" else 2e-5
    scratch = {}
    with unittest.mock.patch.object(conv_winograd, "WINOGRAD_CHUNK_BYTES", 3 * 16 * 20 * 33 * 8):
        for _ in range(2):
            x, k, bias = rand(5, 8, 9, 16), rand(3, 3, 16, 17), rand(17)
            x, k, bias = x.astype(dtype), k.astype(dtype), bias.astype(dtype)
            y = ref_conv2d(x.astype(float), k.astype(float), 1, pads)
            assert conv_winograd.use_winograd(x.dtype, k.shape, one, one, 1, y.shape[1:3])
            assert conv_winograd.use_winograd(x.dtype, (3, 3, 17, 16), one, one, 1, y.shape[1:3])
            expected = np.maximum(y + bias, 0)
            out = _out_buffer(y.shape, dtype, contiguous_out)
            cp.conv_into(x, k, out, one, one, pads, 1, scratch, bias=bias, relu=True)
            np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * np.abs(y).max())
            g = rand(*y.shape).astype(dtype)
            expected = ref_transpose_primitive(g, k, one, one, pads, (0, 0), 1)
            dx = _out_buffer(x.shape, dtype, contiguous_out)
            cp.conv_transpose_into(g, k, dx, one, one, pads, (0, 0), 1, scratch)
            np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol * np.abs(expected).max())
    assert {"winograd_products_0", "winograd_input_grads_0", "winograd_filter_t"} <= {
        key[0] for key in scratch
    }


@pytest.mark.parametrize(
    "n, chunk, count",
    [(128, 10, 14), (128, 6, 22), (9, 9, 1), (10, 4, 4), (3, 1, 3), (4, 1, 4), (7, 3, 4)],
)
def test_chunks_are_an_even_count_of_near_equal_runs(n, chunk, count):
    # Two threads take equal shares: an odd count of chunks becomes even when images allow,
    # every chunk holds at most `chunk` images, sizes differ by at most one, and the chunks
    # cover every image once, in order.
    seen = []
    assert conv_winograd._chunks(n, chunk, lambda w, c, a, b: seen.append((c, a, b))) == count
    seen.sort()
    assert [c for c, _, _ in seen] == list(range(count))
    assert seen[0][1] == 0 and seen[-1][2] == n
    assert all(prev[2] == nxt[1] for prev, nxt in zip(seen[:-1], seen[1:], strict=True))
    sizes = {b - a for _, a, b in seen}
    assert max(sizes) <= chunk and max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_backward_by_uneven_chunks_matches_one_chunk():
    # The kernel and bias gradients summed over 4 chunks (7 images at most 2 each: an odd 3
    # made even) equal those of one chunk, and the input gradient is the same.
    import unittest.mock

    x, k, dy = rand(7, 6, 6, 16), rand(3, 3, 16, 8), rand(7, 4, 4, 8)
    geometry = (x.shape, k.shape, (0, 0), (4, 4))

    def grads():
        dx, dk, db = np.empty_like(x), np.empty_like(k), np.empty(8)
        conv_winograd.winograd_backward(*geometry, x=x, k=k, dy=dy, dx=dx, dk=dk, db=db,
                                        scratch={})  # fmt: skip
        return dx, dk, db

    whole = grads()
    per_image = 16 * 4 * (8 + 3 * 16) * 8
    with unittest.mock.patch.object(conv_winograd, "WINOGRAD_CHUNK_BYTES", 3 * per_image):
        assert conv_winograd._chunk_count(7, conv_winograd._chunk_size(7, per_image)) == 4
        chunked = grads()
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12 * np.abs(a).max())
