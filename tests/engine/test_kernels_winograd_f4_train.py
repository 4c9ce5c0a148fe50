"""Winograd F(4x4, 3x3) without a pool (inference and training): the unpooled output
transform against its matrices in float64 numpy, and `conv_winograd` and `winograd_backward`
on F(4x4) against a plain float64 convolution, its input and kernel gradients, at the
documented tolerance (`F4_TOL` of the result's scale in float32, 1e-12 in float64), over
output sizes not multiples of 4, "valid" and "same" pads, one image and many chunks, serial
and threaded (bit-identical)."""

import numpy as np
import pytest

from backend.kernels import winograd_f4 as w4
from backend.kernels import winograd_f4_grad
from backend.ops import conv_winograd as cw
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(12)
DTYPES = [np.float32, np.float64]
#: F(4x4, 3x3)'s float32 error, relative to the largest value of the result
#: (docs/internals/kernels.md).
F4_TOL = 1e-5
TOL = {np.float32: F4_TOL, np.float64: 1e-12}


def _conv_ref(x, k, top, left, out_hw):
    """conv(x, k) in float64, windows from (-top, -left), cells outside x read as 0."""
    x, k = x.astype(np.float64), k.astype(np.float64)
    n, h, w, c = x.shape
    ho, wo = out_hw
    pad = 4
    xp = np.zeros((n, ho + 2 + 2 * pad + h, wo + 2 + 2 * pad + w, c))
    xp[:, pad : pad + h, pad : pad + w] = x
    r0, c0 = pad - top, pad - left
    return sum(xp[:, r0 + a : r0 + a + ho, c0 + b : c0 + b + wo] @ k[a, b]
               for a in range(3) for b in range(3))  # fmt: skip


def _grads_ref(x, k, dy, top, left):
    """(dx, dk) of conv(x, k) (`_conv_ref`'s geometry) for the output gradient dy, float64."""
    x, k, dy = x.astype(np.float64), k.astype(np.float64), dy.astype(np.float64)
    n, h, w, c = x.shape
    _, ho, wo, _ = dy.shape
    pad = 4
    xp = np.zeros((n, ho + 2 + 2 * pad + h, wo + 2 + 2 * pad + w, c))
    xp[:, pad : pad + h, pad : pad + w] = x
    dxp = np.zeros_like(xp)
    dk = np.empty(k.shape)
    r0, c0 = pad - top, pad - left
    for a in range(3):
        for b in range(3):
            window = (slice(None), slice(r0 + a, r0 + a + ho), slice(c0 + b, c0 + b + wo))
            dk[a, b] = np.einsum("nhwc,nhwo->co", xp[window], dy)
            dxp[window] += dy @ k[a, b].T
    return dxp[:, pad : pad + h, pad : pad + w], dk


def _close(got, want, dtype):
    assert np.abs(got - want).max() <= TOL[dtype] * np.abs(want).max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_hw", [(8, 8), (5, 7), (1, 2), (11, 13)], ids=str)
def test_output_transform_is_at_m_a(out_hw, dtype):
    n, c = 3, 11
    th, tw = w4.output_tile_counts(*out_hw)
    m = rng.standard_normal((36, n * th * tw, c)).astype(dtype)
    tiles = m.astype(np.float64).reshape(6, 6, n, th, tw, c)
    full = np.einsum("ka,abntjc,lb->ntkjlc", w4.A_T, tiles, w4.A_T)
    full = full.reshape(n, 4 * th, 4 * tw, c)[:, : out_hw[0], : out_hw[1]]
    for bias in (None, rng.standard_normal(c).astype(dtype)):
        for relu in (False, True):
            want = full + (0 if bias is None else bias)
            want = np.maximum(want, 0) if relu else want

            def run(bias=bias, relu=relu):
                out = np.full((n, *out_hw, c), np.nan, dtype)
                w4.output_transform(m, bias, relu, out)
                return out

            got = same_bits_any_threads(run)
            tol = 1e-6 if dtype == np.float32 else 1e-13
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_output_transform_keeps_nan_and_checks_its_arguments():
    m = np.zeros((36, 1, 2), np.float32)
    m[0, 0, 0] = np.nan  # reaches the tile's top-left output only (A^T's column 0)
    out = np.empty((1, 2, 2, 2), np.float32)
    w4.output_transform(m, None, True, out)
    assert np.isnan(out[0, 0, 0, 0]) and np.isnan(out[0, :, :, 0]).sum() == 1
    assert not np.isnan(out[..., 1]).any()
    with pytest.raises(ValueError, match="m must have shape"):
        w4.output_transform(np.zeros((36, 3, 2), np.float32), None, True, out)
    with pytest.raises(ValueError, match="bias"):
        w4.output_transform(m, np.zeros(3, np.float32), True, out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_hw", [(8, 8), (5, 7), (1, 2), (11, 13)], ids=str)
def test_grad_transform_is_a_g_at(out_hw, dtype):
    n, c = 2, 9
    th, tw = w4.output_tile_counts(*out_hw)
    g = rng.standard_normal((n, *out_hw, c)).astype(dtype)
    padded = np.zeros((n, 4 * th, 4 * tw, c))
    padded[:, : out_hw[0], : out_hw[1]] = g
    tiles = padded.reshape(n, th, 4, tw, 4, c)
    want = np.einsum("ar,nhawbc,bs->rsnhwc", w4.A_T, tiles, w4.A_T).reshape(36, -1, c)

    def run():
        out = np.full((36, n * th * tw, c), np.nan, dtype)
        winograd_f4_grad.grad_transform(g, out)
        return out

    got = same_bits_any_threads(run)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    with pytest.raises(ValueError, match="out must have shape"):
        winograd_f4_grad.grad_transform(g, np.empty((16, n * th * tw, c), dtype))


def test_docstring_examples():
    import doctest

    for module in (w4, winograd_f4_grad):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= 1 and result.failed == 0


#: (N, H, W, C_in, C_out, top, left, out_hw): "same" and "valid", sizes not multiples of 4.
CASES = [(1, 13, 13, 32, 64, 0, 0, (11, 11)), (5, 11, 10, 16, 8, 1, 1, (11, 10)),
         (3, 8, 8, 64, 16, 1, 1, (8, 8)), (2, 15, 14, 20, 24, 1, 0, (15, 12))]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_convolution_on_f4(monkeypatch, case, dtype):
    # Several chunks of images on the worker threads, bias and relu in the output transform.
    monkeypatch.setattr(cw, "WINOGRAD_CHUNK_BYTES", 1)  # one image a chunk
    n, h, w, cin, cout, top, left, out_hw = case
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    k = (rng.standard_normal((3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(dtype)
    bias = rng.standard_normal(cout).astype(dtype) * 0.1
    calls, transform = [], w4.output_transform

    def counted(*args, **kwargs):
        calls.append(1)
        transform(*args, **kwargs)

    monkeypatch.setattr(w4, "output_transform", counted)

    def run():
        out = np.full((n, *out_hw, cout), np.nan, dtype)
        cw.conv_winograd(x, k, (top, left), out_hw, out, {}, bias, True)
        return out

    got = same_bits_any_threads(run)
    assert len(calls) >= n  # F(4x4) ran, a call per chunk
    _close(got, np.maximum(_conv_ref(x, k, top, left, out_hw) + bias, 0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("gradient", ["dx", "dk"])
def test_gradients_on_f4(monkeypatch, case, dtype, gradient):
    # winograd_backward by one-image chunks on the worker threads, against the float64
    # gradients of the direct convolution; the F(4x4) transforms run (the input gradient
    # transforms dy with its C_out channels, the kernel gradient x's tiles with C_in).
    monkeypatch.setattr(cw, "WINOGRAD_CHUNK_BYTES", 1)
    n, h, w, cin, cout, top, left, out_hw = case
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    k = (rng.standard_normal((3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(dtype)
    dy = rng.standard_normal((n, *out_hw, cout)).astype(dtype)
    seen, transform = [], w4.input_transform
    monkeypatch.setattr(w4, "input_transform", lambda a, *rest, **kw: (
        seen.append(a.shape[3]), transform(a, *rest, **kw)))  # fmt: skip

    def run():
        out = np.full(x.shape if gradient == "dx" else k.shape, np.nan, dtype)
        cw.winograd_backward(x.shape, k.shape, (top, left), out_hw, x=x, k=k, dy=dy,
                             **{gradient: out})  # fmt: skip
        return out

    got = same_bits_any_threads(run)
    if gradient == "dx":
        f4 = cw.use_f4_unpooled(dtype, cout, (h, w), out_hw)
    else:
        f4 = cw.use_f4_unpooled(dtype, cin, out_hw)
    assert f4 or (gradient, h) == ("dx", 13)  # all but MNIST's input gradient take F(4x4)
    assert set(seen) == ({cout if gradient == "dx" else cin} if f4 else set())
    dx, dk = _grads_ref(x, k, dy, top, left)
    _close(got, dx if gradient == "dx" else dk, dtype)


def test_f4_unpooled_rule():
    use = cw.use_f4_unpooled
    assert use(np.float32, 64, (32, 32)) and use(np.float64, 16, (16, 16))
    assert use(np.float32, 32, (11, 11))  # 9 tiles of 36 against 36 of 16
    assert not use(np.float32, 65, (32, 32)) and not use(np.int32, 32, (32, 32))
    assert not use(np.float32, 32, (5, 5))  # 4 tiles of 36 against 9 of 16
    assert not use(np.float32, 64, (13, 13), (11, 11))  # MNIST's dx: 576 against 576


# ---- the conv op on F(4x4): float64 finite differences, float32 at F4_TOL -----------------

OP_CASES = [((2, 11, 10, 16), (3, 3, 16, 20), ((1, 1), (1, 1))),  # same, dx and dk on F(4x4)
            ((1, 13, 13, 32), (3, 3, 32, 16), ((0, 0), (0, 0))),  # valid: dx on F(2x2)
            ((1, 8, 6, 16), (3, 3, 16, 17), ((2, 0), (0, 1)))]  # uneven pads # fmt: skip


@pytest.mark.parametrize("xs, ks, pads", OP_CASES, ids=str)
def test_conv_op_on_f4(monkeypatch, xs, ks, pads):
    import importlib

    from backend.ops.base import apply
    from backend.tensor import Tensor
    from backend.testing import check_op
    from backend.testing import conv2d_reference as ref_conv2d

    conv_module = importlib.import_module("backend.ops.conv")
    calls = []
    for name in ("output_transform", "input_transform"):
        real = getattr(w4, name)
        monkeypatch.setattr(w4, name, lambda *a, real=real, name=name, **kw: (
            calls.append(name), real(*a, **kw)))  # fmt: skip
    attrs = {"strides": (1, 1), "dilation": (1, 1), "pads": pads, "groups": 1}

    def op(x, k):
        return apply(conv_module._CONV, (x, k), attrs)

    x, k = rng.standard_normal(xs), rng.standard_normal(ks)
    check_op(op, [x, k], lambda x, k: ref_conv2d(x, k, 1, pads), atol=1e-9, float32=False)
    assert "output_transform" in calls
    x32, k32 = x.astype(np.float32), k.astype(np.float32)
    got = op(Tensor(x32), Tensor(k32)).numpy()
    _close(got, ref_conv2d(x32.astype(np.float64), k32.astype(np.float64), 1, pads), np.float32)


@pytest.mark.parametrize("part", ["forward", "dx", "dk"])
def test_same_bits_with_one_or_two_workers(monkeypatch, part):
    # "Same" padding, one image a chunk: each part on F(4x4), its chunks shared out to one or
    # two worker threads, the kernel gradient's chunk sums added in chunk order.
    from backend import config

    monkeypatch.setattr(cw, "WINOGRAD_CHUNK_BYTES", 1)
    x = rng.standard_normal((5, 12, 11, 32)).astype(np.float32)
    k = rng.standard_normal((3, 3, 32, 24)).astype(np.float32)
    dy = rng.standard_normal((5, 12, 11, 24)).astype(np.float32)
    old, results = config.get_num_threads(), []
    try:
        for count in (1, 2):
            config.set_num_threads(count)
            if part == "forward":
                out = np.empty(dy.shape, np.float32)
                cw.conv_winograd(x, k, (1, 1), (12, 11), out, {}, None, False)
            else:
                out = np.empty(x.shape if part == "dx" else k.shape, np.float32)
                cw.winograd_backward(x.shape, k.shape, (1, 1), (12, 11), x=x, k=k, dy=dy,
                                     **{part: out})  # fmt: skip
            results.append(out)
    finally:
        config.set_num_threads(old)
    assert results[0].tobytes() == results[1].tobytes()
    assert cw.use_f4_unpooled(np.float32, 32, (12, 11))
    dx, dk = _grads_ref(x, k, dy, 1, 1)
    want = {"forward": _conv_ref(x, k, 1, 1, (12, 11)), "dx": dx, "dk": dk}[part]
    _close(results[0], want, np.float32)
