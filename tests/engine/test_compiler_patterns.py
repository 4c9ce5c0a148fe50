"""Cross-op fusions (`backend.compiler.patterns`): each fires where it should, not where it
must not, and gives the numbers the unfused ops give (eager runs the ops one by one)."""

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, ops
from backend.compiler import patterns

rng = np.random.default_rng(0)


def _weights(cin=1, cout=6, k=3, dtype="float32"):
    kernel = Variable(rng.standard_normal((k, k, cin, cout)) * 0.5, dtype=dtype)
    bias = Variable(rng.standard_normal(cout) * 0.5, dtype=dtype)
    return kernel, bias


def _image(n=3, h=9, w=8, c=1, dtype="float32"):
    return rng.standard_normal((n, h, w, c)).astype(dtype)


def _eager(fn, *args):
    out = fn(*args)
    if isinstance(out, (list, tuple)):
        return [o.numpy() for o in out]
    return out.numpy()


@pytest.mark.parametrize(
    ("bias", "relu", "name"),
    [(True, True, "conv+bias+relu"), (True, False, "conv+bias"), (False, True, "conv+relu")],
)
@pytest.mark.parametrize("cin", [1, 8])  # direct kernel and im2col + GEMM
def test_conv_epilogue_fuses_and_matches_eager(bias, relu, name, cin):
    kernel, b = _weights(cin=cin)

    def fn(x):
        y = ops.conv(x, kernel, padding="same")
        if bias:
            y = y + b
        return ops.relu(y) if relu else y

    f = compiler.function(fn)
    x = _image(c=cin)
    np.testing.assert_allclose(f(x), _eager(fn, x), rtol=1e-5, atol=1e-5)
    steps = f.plan_for(x).describe()
    assert name in steps and "conv" not in steps


def test_conv_epilogue_not_fused_when_the_raw_conv_is_read_elsewhere():
    kernel, b = _weights()

    def fn(x):
        z = ops.conv(x, kernel)
        return ops.relu(z + b), z

    f = compiler.function(fn)
    x = _image()
    for got, want in zip(f(x), _eager(fn, x), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert "conv" in f.plan_for(x).describe()


@pytest.mark.parametrize("cin", [1, 8])
def test_conv_then_max_pool_fuses_direct_or_by_chunks(monkeypatch, cin):
    # cin=1 takes the fused direct kernel; cin=8 (im2col + GEMM) runs by chunks, here tiny
    # ones: 3 images of 7x6x6 float32 (1 KB each) in chunks of 2, so the last is short.
    monkeypatch.setattr(patterns, "POOL_CHUNK_BYTES", 2 * 7 * 6 * 6 * 4)
    kernel, b = _weights(cin=cin)

    def fn(x):
        return ops.max_pool(ops.relu(ops.conv(x, kernel) + b), 2, 2)

    f = compiler.function(fn)
    x = _image(n=3, c=cin)
    want = _eager(fn, x)  # Winograd F(4x4) in inference: within 1e-5 of the output's scale
    np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert f.plan_for(x).describe() == ["conv+bias+relu+max_pool"]


def _train_step(kernel, b, dense):
    def step(x, target):
        with GradientTape() as tape:
            h = ops.max_pool(ops.relu(ops.conv(x, kernel) + b), 2, 2)
            out = ops.matmul(ops.reshape(h, (h.shape[0], -1)), dense)
            loss = ops.mean(ops.square(out - target))
        return tape.gradient(loss, [kernel, b, dense])

    return step


def test_training_step_fuses_bias_grad_and_relu_masked_pool_grad():
    # A kernel on im2col + GEMM (too large for the direct path, 8 input channels too few for
    # Winograd), so the conv + pool is not trained as one (see below); the pool alone is.
    kernel, b = _weights(cin=8, cout=16)
    # Biases pushing some windows wholly negative, so the relu mask matters.
    b.assign(np.linspace(-3.0, 1.0, 16).astype("float32"))
    dense = Variable(rng.standard_normal((3 * 3 * 16, 2)), dtype="float32")
    step = _train_step(kernel, b, dense)
    f = compiler.function(step)
    x, target = _image(n=4, h=8, w=8, c=8), rng.standard_normal((4, 2)).astype("float32")
    got = f(x, target)
    for g, want in zip(got, _eager(step, x, target), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)
    steps = f.plan_for(x, target).describe()
    assert "conv_filter_grad+bias_grad" in steps and "conv_filter_grad" not in steps
    # The conv and the pool stay apart (no fused path for this conv), but the pool records
    # its argmax and the pool + relu gradients route by it: the activation is not read again.
    assert "conv+bias+relu" in steps and "max_pool+argmax" in steps
    assert "max_pool_grad+relu_grad+argmax" in steps and "max_pool_grad" not in steps


def test_float64_training_step_matches_eager():
    # float64 takes the same fusions (the bias gradient's sum over (0, 1, 2) rides with the
    # kernel gradient); the loss's own keepdims sum of the activation is not a bias sum.
    kernel, b = _weights(dtype="float64")

    def step(x):
        with GradientTape() as tape:
            y = ops.relu(ops.conv(x, kernel) + b)
            loss = ops.sum(ops.sum(y, axis=(0, 1, 2), keepdims=True))
        return tape.gradient(loss, [kernel, b])

    f = compiler.function(step)
    x = _image(dtype="float64")
    for g, want in zip(f(x), _eager(step, x), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-10)
    steps = f.plan_for(x).describe()
    assert "conv_filter_grad+bias_grad" in steps and "conv+bias+relu" in steps


def _spy_conv_pool(monkeypatch):
    """Counts the calls of the fused conv + max pool kernel."""
    from backend.kernels import conv_direct as kconv

    calls = []
    real = kconv.conv_direct_pool_nhwc

    def spy(*args):
        calls.append(args[-2].shape)  # the pooled output (the argmax last, None here)
        real(*args)

    monkeypatch.setattr(kconv, "conv_direct_pool_nhwc", spy)
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("padding", "pool"), [("valid", 2), ("same", 2), ("valid", (3, 2))])
@pytest.mark.parametrize("epilogue", ["bias+relu", "bias", "relu"])
def test_conv_then_max_pool_runs_the_fused_kernel(monkeypatch, epilogue, padding, pool, dtype):
    calls = _spy_conv_pool(monkeypatch)
    kernel, b = _weights(cin=3, cout=5, dtype=dtype)

    def fn(x):
        y = ops.conv(x, kernel, padding=padding)
        y = y + b if "bias" in epilogue else y
        return ops.max_pool(ops.relu(y) if "relu" in epilogue else y, pool)

    f = compiler.function(fn)
    x = _image(n=3, h=11, w=9, c=3, dtype=dtype)  # odd sizes: the last conv rows are dropped
    got = f(x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, _eager(fn, x), rtol=tol, atol=tol)
    assert f.plan_for(x).describe() == [f"conv+{epilogue}+max_pool"]
    assert calls == [got.shape]


@pytest.mark.parametrize(
    ("cin", "cout", "pool", "strides"),
    [(1, 6, 3, 2), (16, 128, 2, 2)],  # overlapping windows; a kernel too big for the direct path
)
def test_conv_then_max_pool_falls_back_to_chunks(monkeypatch, cin, cout, pool, strides):
    monkeypatch.setattr(patterns, "POOL_CHUNK_BYTES", 2 * 7 * 6 * cout * 4)  # 2 images a chunk
    calls = _spy_conv_pool(monkeypatch)
    kernel, b = _weights(cin=cin, cout=cout)

    def fn(x):
        return ops.max_pool(ops.relu(ops.conv(x, kernel) + b), pool, strides)

    f = compiler.function(fn)
    x = _image(n=3, c=cin)
    want = _eager(fn, x)  # Winograd F(4x4) in inference: within 1e-5 of the output's scale
    np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert f.plan_for(x).describe() == ["conv+bias+relu+max_pool"]
    assert calls == []


def _train_step_of(kernel, b, dense, epilogue, pool, padding, scale=None):
    def step(x, target):
        with GradientTape() as tape:
            z = x if scale is None else x * scale
            y = ops.conv(z, kernel, padding=padding)
            y = y + b if "bias" in epilogue else y
            h = ops.max_pool(ops.relu(y) if "relu" in epilogue else y, pool)
            out = ops.matmul(ops.reshape(h, (h.shape[0], -1)), dense)
            loss = ops.mean(ops.square(out - target))
        wrt = [kernel, dense] + ([b] if "bias" in epilogue else [])
        return tape.gradient(loss, wrt + ([] if scale is None else [scale]))

    return step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("padding", "pool"), [("valid", 2), ("same", (3, 2))])
@pytest.mark.parametrize("epilogue", ["bias+relu", "relu", "bias"])
def test_trained_conv_then_max_pool_keeps_an_argmax_not_the_activation(epilogue, padding, pool,
                                                                       dtype):  # fmt: skip
    # A first layer (its input needs no gradient): the forward records the pool's argmax,
    # the kernel (and bias) gradient comes from it; the activation is never a buffer.
    kernel, b = _weights(cin=1, cout=6, dtype=dtype)
    b.assign(np.linspace(-3.0, 1.0, 6).astype(dtype))  # some windows wholly negative
    x = _image(n=4, h=9, w=11, c=1, dtype=dtype)  # odd sizes: rows and columns no window has
    pooled = ops.max_pool(ops.conv(x, kernel, padding=padding), pool).shape
    dense = Variable(rng.standard_normal((int(np.prod(pooled[1:])), 2)), dtype=dtype)
    step = _train_step_of(kernel, b, dense, epilogue, pool, padding)
    f = compiler.function(step)
    target = rng.standard_normal((4, 2)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for got, want in zip(f(x, target), _eager(step, x, target), strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    steps = f.plan_for(x, target).describe()
    grad = "conv_filter_grad" + ("+bias_grad" if "bias" in epilogue else "") + "+max_pool_grad"
    assert f"conv+{epilogue}+max_pool+argmax" in steps and grad in steps
    assert not any(s.startswith("max_pool") or s == f"conv+{epilogue}" for s in steps)
    plan = f.plan_for(x, target)
    conv_hw = ops.conv(x, kernel, padding=padding).shape
    assert not any(a is not None and a.shape == conv_hw for a in plan.arrays)  # no activation
    assert any(a is not None and a.dtype == np.uint8 for a in plan.arrays)  # the argmax


def test_trained_direct_conv_then_pool_unpools_when_its_input_needs_a_gradient():
    # The conv's output gradient is read by its input gradient too: the backward rebuilds it
    # from the argmax (max_unpool2d) instead of going straight to the kernel gradient.
    kernel, b = _weights(cin=1, cout=6)
    scale = Variable(np.float32(1.5), dtype="float32")
    dense = Variable(rng.standard_normal((3 * 3 * 6, 2)), dtype="float32")
    step = _train_step_of(kernel, b, dense, "bias+relu", 2, "valid", scale=scale)
    f = compiler.function(step)
    x, target = _image(n=4, h=8, w=8, c=1), rng.standard_normal((4, 2)).astype("float32")
    for got, want in zip(f(x, target), _eager(step, x, target), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    steps = f.plan_for(x, target).describe()
    assert "conv+bias+relu+max_pool+argmax" in steps and "max_pool_grad+relu_grad+argmax" in steps
    assert "conv_transpose" in steps and "conv_filter_grad+bias_grad" in steps
    assert "max_pool" not in steps and "conv_filter_grad+bias_grad+max_pool_grad" not in steps


def test_trained_conv_then_max_pool_unfused_when_the_activation_is_read_elsewhere():
    kernel, b = _weights(cin=1, cout=6)
    dense = Variable(rng.standard_normal((3 * 3 * 6, 2)), dtype="float32")

    def step(x, target):
        with GradientTape() as tape:
            y = ops.relu(ops.conv(x, kernel) + b)
            h = ops.max_pool(y, 2)
            out = ops.matmul(ops.reshape(h, (h.shape[0], -1)), dense)
            loss = ops.mean(ops.square(out - target)) + ops.mean(y)
        return tape.gradient(loss, [kernel, b, dense])

    f = compiler.function(step)
    x, target = _image(n=4, h=8, w=8, c=1), rng.standard_normal((4, 2)).astype("float32")
    for got, want in zip(f(x, target), _eager(step, x, target), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not any(s.endswith("+argmax") for s in f.plan_for(x, target).describe())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("h", "padding"), [(13, "valid"), (10, "same")])
@pytest.mark.parametrize("epilogue", ["bias+relu", "bias"])
def test_trained_winograd_conv_then_pool_keeps_an_argmax(epilogue, h, padding, dtype):
    # A conv on the Winograd path (3x3, 16 input channels): its output tiles are the 2x2
    # pool's windows, so the output transform pools and records the argmax; the backward
    # rebuilds the conv's output gradient from it (max_unpool2d) for the conv's gradients.
    kernel, b = _weights(cin=16, cout=8, dtype=dtype)
    b.assign(np.linspace(-2.0, 1.0, 8).astype(dtype))
    x = _image(n=3, h=h, w=h + 1, c=16, dtype=dtype)  # odd outputs: a row no window has
    pooled = ops.max_pool(ops.conv(x, kernel, padding=padding), 2).shape
    dense = Variable(rng.standard_normal((int(np.prod(pooled[1:])), 2)), dtype=dtype)
    scale = Variable(np.array(1.5, dtype), dtype=dtype)  # the conv's input needs a gradient
    step = _train_step_of(kernel, b, dense, epilogue, 2, padding, scale=scale)
    f = compiler.function(step)
    target = rng.standard_normal((3, 2)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for got, want in zip(f(x, target), _eager(step, x, target), strict=True):
        # Eager takes the conv's gradients from the unpooled output gradient on F(4x4, 3x3)
        # (`conv_winograd.use_f4_unpooled`), the Plan from the pool's on F(2x2): in float32
        # they agree within F(4x4)'s 1e-5 of the result's scale (docs/internals/kernels.md).
        scale = 1e-5 * np.abs(want).max() if dtype == "float32" else tol
        np.testing.assert_allclose(got, want, rtol=tol, atol=max(tol, scale))
    steps = f.plan_for(x, target).describe()
    unpool = "max_pool_grad" + ("+relu_grad" if "relu" in epilogue else "") + "+argmax"
    assert f"conv+{epilogue}+max_pool+argmax" in steps and unpool in steps
    assert "max_pool" not in steps and "conv_transpose" in steps


def test_winograd_conv_then_pool_in_inference_pools_in_the_output_transform(monkeypatch):
    from backend.kernels import winograd_f4

    calls = []
    real = winograd_f4.output_pool_transform
    monkeypatch.setattr(winograd_f4, "output_pool_transform",
                        lambda *a, **k: calls.append(1) or real(*a, **k))  # fmt: skip
    kernel, b = _weights(cin=16, cout=8)

    def fn(x):
        return ops.max_pool(ops.relu(ops.conv(x, kernel) + b), 2)

    f = compiler.function(fn)
    x = _image(n=3, h=13, w=12, c=16)
    got = f(x)
    want = _eager(fn, x)
    assert got.tobytes() == f.plan_for(x).run([x])[0].tobytes()
    # F(4x4, 3x3) in inference: within 1e-5 of the output's scale (docs/internals/kernels.md)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert f.plan_for(x).describe() == ["conv+bias+relu+max_pool"] and calls


def _pool_step(kernel, relu, pool, strides=None, read_activation=False):
    def step(x):
        with GradientTape() as tape:
            y = ops.conv(x, kernel, padding="same")
            y = ops.relu(y) if relu else y
            h = ops.max_pool(y, pool, strides)
            loss = ops.sum(ops.square(h)) * 0.1 + (ops.mean(y) if read_activation else 0.0)
        return tape.gradient(loss, [kernel])

    return step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("relu", "pool"), [(True, 2), (False, 2), (True, (3, 2))])
def test_a_max_pool_alone_trains_with_its_argmax(relu, pool, dtype):
    # A conv no fused path takes (im2col + GEMM), then a max pool over windows that tile
    # it: the pool records its argmax and its gradient (with relu's) routes by it.
    kernel, _ = _weights(cin=8, cout=16, dtype=dtype)
    step = _pool_step(kernel, relu, pool)
    f = compiler.function(step)
    x = _image(n=3, h=9, w=8, c=8, dtype=dtype)  # 9 rows: the last is no 2x2 window's
    tol = 1e-4 if dtype == "float32" else 1e-10
    for got, want in zip(f(x), _eager(step, x), strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1, np.abs(want).max()))
    steps = f.plan_for(x).describe()
    backward = "max_pool_grad" + ("+relu_grad" if relu else "") + "+argmax"
    assert "max_pool+argmax" in steps and backward in steps
    assert "max_pool" not in steps and "max_pool_grad" not in steps


@pytest.mark.parametrize(
    ("pool", "strides", "read_activation"),
    [(3, 2, False), (2, 2, True)],  # overlapping windows; the activation read elsewhere
)
def test_a_max_pool_alone_keeps_its_input_where_it_must(pool, strides, read_activation):
    kernel, _ = _weights(cin=8, cout=16)
    step = _pool_step(kernel, True, pool, strides, read_activation)
    f = compiler.function(step)
    x = _image(n=2, h=9, w=8, c=8)
    for got, want in zip(f(x), _eager(step, x), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1, np.abs(want).max()))
    steps = f.plan_for(x).describe()
    assert "max_pool" in steps and not any(s.endswith("+argmax") for s in steps)
