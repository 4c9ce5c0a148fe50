"""The Winograd gradient fusions of `backend.compiler.patterns`: a Winograd conv's input,
kernel and bias gradients as one call sharing the transform of the output gradient's tiles
(`conv_grads[...]`), and, after a 2x2 max pool trained with its argmax, the same call made
straight from the pool's gradient (the conv's output gradient never built). Each is checked
against the unfused ops (eager runs them one by one) and for where it must not fire."""

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, ops

rng = np.random.default_rng(3)


def _weights(cin, cout, dtype="float32"):
    kernel = Variable(rng.standard_normal((3, 3, cin, cout)) * 0.3, dtype=dtype)
    bias = Variable(np.linspace(-2.0, 1.0, cout), dtype=dtype)  # some windows all negative
    return kernel, bias


def _run_both(step, *args, tol):
    """Runs `step` compiled and eagerly and checks they agree (to `tol` of each gradient's
    largest entry: float32 sums of a thousand terms cancel); returns the Plan."""
    f = compiler.function(step)
    got = f(*args)
    want = [o.numpy() for o in step(*args)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * max(1.0, np.abs(w).max()))
    return f.plan_for(*args)


def _pooled_step(kernel, b, dense, relu=True, padding="valid", wrt_input=True, train_kernel=True):
    scale = Variable(np.array(1.5, kernel.dtype), dtype=kernel.dtype)

    def step(x, target):
        with GradientTape() as tape:
            z = x * scale if wrt_input else x
            y = ops.conv(z, kernel, padding=padding) + b
            h = ops.max_pool(ops.relu(y) if relu else y, 2)
            out = ops.matmul(ops.reshape(h, (h.shape[0], -1)), dense)
            loss = ops.mean(ops.square(out - target))
        wrt = ([kernel] if train_kernel else []) + [b, dense] + ([scale] if wrt_input else [])
        return tape.gradient(loss, wrt)

    return step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("h", "padding"), [(13, "valid"), (10, "same")])
@pytest.mark.parametrize("relu", [True, False])
def test_trained_winograd_conv_then_pool_backward_is_one_call(relu, h, padding, dtype):
    # 16 -> 16 channels: the forward and both gradients on Winograd. The backward makes W from
    # the pool's gradient and argmax: no max_pool_grad, no conv_transpose, no dense gradient.
    kernel, b = _weights(16, 16, dtype)
    x = rng.standard_normal((3, h, h + 1, 16)).astype(dtype)  # odd outputs: rows no window has
    conv_shape = ops.conv(x, kernel, padding=padding).shape
    pooled = ops.max_pool(ops.conv(x, kernel, padding=padding), 2).shape
    dense = Variable(rng.standard_normal((int(np.prod(pooled[1:])), 2)), dtype=dtype)
    target = rng.standard_normal((3, 2)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    plan = _run_both(_pooled_step(kernel, b, dense, relu, padding), x, target, tol=tol)
    steps = plan.describe()
    epilogue = "bias+relu" if relu else "bias"
    name = "max_pool_grad" + ("+relu_grad" if relu else "") + "+conv_grads[dx,dk,db]"
    assert f"conv+{epilogue}+max_pool+argmax" in steps and name in steps
    assert not any(s.startswith(("conv_transpose", "conv_filter_grad")) for s in steps)
    if padding == "valid":  # ("same": x and its gradient have the conv's shape)
        assert not any(a is not None and a.shape == conv_shape for a in plan.arrays)


@pytest.mark.parametrize(
    ("wrt_input", "train_kernel", "name"),
    [(False, True, "conv_grads[dk,db]"), (True, False, "conv_grads[dx,db]")],
)
def test_trained_winograd_conv_then_pool_takes_the_gradients_wanted(wrt_input, train_kernel,
                                                                    name):  # fmt: skip
    # A first layer (no input gradient), or a frozen kernel (no kernel gradient).
    kernel, b = _weights(16, 32)
    x = rng.standard_normal((2, 12, 9, 16)).astype("float32")
    dense = Variable(rng.standard_normal((5 * 3 * 32, 2)), dtype="float32")
    target = rng.standard_normal((2, 2)).astype("float32")
    step = _pooled_step(kernel, b, dense, wrt_input=wrt_input, train_kernel=train_kernel)
    steps = _run_both(step, x, target, tol=1e-4).describe()
    assert "max_pool_grad+relu_grad+" + name in steps


def test_trained_winograd_conv_then_pool_unpools_when_dx_would_not_take_winograd():
    # 8 output channels: the input gradient's GEMM (K = 8) stays on GEMM + col2im, which
    # needs the dense gradient: the argmax is unpooled as before.
    kernel, b = _weights(16, 8)
    x = rng.standard_normal((2, 9, 9, 16)).astype("float32")
    dense = Variable(rng.standard_normal((3 * 3 * 8, 2)), dtype="float32")
    target = rng.standard_normal((2, 2)).astype("float32")
    steps = _run_both(_pooled_step(kernel, b, dense), x, target, tol=1e-4).describe()
    assert "max_pool_grad+relu_grad+argmax" in steps and "conv_transpose" in steps
    assert not any("conv_grads" in s for s in steps)


def _dense_step(kernel, b, wrt_input=True):
    scale = Variable(np.array(0.7, kernel.dtype), dtype=kernel.dtype)

    def step(x):
        with GradientTape() as tape:
            z = x * scale if wrt_input else x
            y = ops.relu(ops.conv(z, kernel, padding="same") + b)
            loss = ops.sum(ops.square(y)) * 0.01
        return tape.gradient(loss, [kernel, b] + ([scale] if wrt_input else []))

    return step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_conv_gradients_share_one_call(dtype):
    # No pool: the relu's gradient is the conv's output gradient, read by the input, kernel
    # and bias gradients: one call. (32 x 32 channels: a kernel too large for the direct
    # kernel-gradient loops, which would take 16 x 24.)
    kernel, b = _weights(32, 32, dtype)
    x = rng.standard_normal((3, 10, 7, 32)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    steps = _run_both(_dense_step(kernel, b), x, tol=tol).describe()
    assert "conv_grads[dx,dk,db]" in steps
    assert not any(s.startswith(("conv_transpose", "conv_filter_grad")) for s in steps)


def test_winograd_conv_gradients_not_fused_without_both():
    # Only the kernel gradient (a first layer): nothing to share, the usual kernel + bias call.
    kernel, b = _weights(32, 32)
    x = rng.standard_normal((2, 8, 8, 32)).astype("float32")
    steps = _run_both(_dense_step(kernel, b, wrt_input=False), x, tol=1e-4).describe()
    assert "conv_filter_grad+bias_grad" in steps and not any("conv_grads" in s for s in steps)


def test_two_convs_sharing_an_input_keep_their_own_gradients():
    # Two Winograd convs of the same x: each one's gradients fuse with its own output
    # gradient, never the other's.
    k1, b1 = _weights(32, 32)
    k2, b2 = _weights(32, 40)
    scale = Variable(np.array(1.2, "float32"), dtype="float32")

    def step(x):
        with GradientTape() as tape:
            z = x * scale
            y1 = ops.relu(ops.conv(z, k1, padding="same") + b1)
            y2 = ops.relu(ops.conv(z, k2, padding="same") + b2)
            loss = ops.sum(ops.square(y1)) * 0.01 + ops.sum(y2) * 0.02
        return tape.gradient(loss, [k1, b1, k2, b2, scale])

    x = rng.standard_normal((2, 8, 9, 32)).astype("float32")
    steps = _run_both(step, x, tol=1e-4).describe()
    assert steps.count("conv_grads[dx,dk,db]") == 2


def test_winograd_conv_gradients_follow_the_direct_kernel_gradient_choice():
    # 16 x 24 channels: the kernel gradient runs on the direct loops when alone, so the pair
    # is left as it was (conv_transpose on Winograd, the direct kernel + bias gradient).
    kernel, b = _weights(16, 24)
    x = rng.standard_normal((2, 8, 7, 16)).astype("float32")
    steps = _run_both(_dense_step(kernel, b), x, tol=1e-4).describe()
    assert "conv_filter_grad+bias_grad" in steps and "conv_transpose" in steps
