"""conv, depthwise_conv, separable_conv and conv_transpose against naive numpy loops: forward,
float64 finite-difference gradients, symbolic inference and compiled Plans (check_op), the
three primitives directly (groups, trailing rows), double backward, and bad arguments."""

import importlib

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, ops
from backend.ops import conv_paths
from backend.ops.base import apply
from backend.testing import check_op
from backend.testing import conv2d_reference as ref_conv2d
from backend.testing import conv_filter_reference as ref_filter_primitive
from backend.testing import conv_transpose_reference as ref_transpose_primitive

conv_module = importlib.import_module("backend.ops.conv")  # ops.conv is the function
RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ---- naive references --------------------------------------------------------------------


def same_pads(n, k, s, d):
    eff = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def ref_conv(x, k, strides=1, padding="valid", dilation=1):
    if x.ndim == 3:
        s, d = pair(strides)[0], pair(dilation)[0]
        out = ref_conv(x[:, None], k[None], (1, s), padding, (1, d))
        return out[:, 0]
    (sh, sw), (dh, dw) = pair(strides), pair(dilation)
    if padding == "same":
        pads = (
            same_pads(x.shape[1], k.shape[0], sh, dh),
            same_pads(x.shape[2], k.shape[1], sw, dw),
        )
    else:
        pads = ((0, 0), (0, 0))
    return ref_conv2d(x, k, (sh, sw), pads, (dh, dw))


def ref_depthwise(x, k, strides=1, padding="valid", dilation=1):
    c, m = k.shape[-2:]
    out = np.concatenate(
        [ref_conv(x[..., i : i + 1], k[..., i : i + 1, :], strides, padding, dilation)
         for i in range(c)],
        axis=-1,
    )  # fmt: skip
    return out  # channel i*m + j


def ref_conv_transpose(x, k, strides, padding="valid", output_padding=None, dilation=1):
    """JAX's definition: the input dilated by the stride, padded, convolved with the
    spatially flipped kernel (in/out channels swapped)."""
    if x.ndim == 3:
        op = None if output_padding is None else (0, pair(output_padding)[0])
        out = ref_conv_transpose(
            x[:, None], k[None], (1, pair(strides)[0]), padding, op, (1, pair(dilation)[0])
        )
        return out[:, 0]
    strides, dilation = pair(strides), pair(dilation)
    ops_ = (None, None) if output_padding is None else pair(output_padding)
    n, h, w, cin = x.shape
    xd = np.zeros((n, (h - 1) * strides[0] + 1, (w - 1) * strides[1] + 1, cin))
    xd[:, :: strides[0], :: strides[1]] = x
    pads = []
    for axis in range(2):
        s, d, op = strides[axis], dilation[axis], ops_[axis]
        eff = (k.shape[axis] - 1) * d + 1
        if padding == "valid":
            op = max(eff, s) - eff if op is None else op
            pads.append((eff - 1, eff - 1 + op))
        else:
            pad_len = s + eff - 2 if op is None else eff + eff % 2 - 2 + op
            left = min(pad_len // 2 + pad_len % 2, eff - 1)
            pads.append((left, pad_len - left))
    kf = k[::-1, ::-1].transpose(0, 1, 3, 2)
    return ref_conv2d(xd, kf, 1, tuple(pads), dilation)


def deconv_length(n, k, s, padding, output_padding, d=1):
    """keras.src.utils.conv_utils.deconv_output_length."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = 0 if padding == "valid" else k // 2
    return (n - 1) * s + k - 2 * pad + output_padding


# ---- conv ------------------------------------------------------------------------------------

CONV_CASES = [
    # (input shape, kernel shape, strides, padding, dilation)
    ((2, 5, 5, 2), (3, 3, 2, 3), 1, "valid", 1),
    ((2, 5, 5, 2), (3, 3, 2, 3), 1, "same", 1),
    ((2, 5, 5, 2), (3, 3, 2, 3), 2, "same", 1),
    ((2, 6, 6, 2), (3, 3, 2, 3), 2, "same", 1),  # odd total pad: asymmetric
    ((2, 6, 5, 2), (3, 3, 2, 2), 2, "valid", 1),
    ((2, 5, 6, 2), (2, 2, 2, 3), 1, "same", 1),  # even kernel: asymmetric
    ((2, 6, 6, 1), (3, 3, 1, 2), 1, "same", 2),
    ((2, 7, 6, 1), (3, 2, 1, 2), 1, "valid", 2),
    ((1, 5, 4, 3), (3, 3, 3, 2), (1, 2), "same", (2, 1)),
    ((2, 5, 5, 4), (3, 3, 2, 4), 1, "same", 1),  # groups 2
    ((2, 6, 5, 4), (3, 3, 2, 2), 2, "same", 1),  # groups 2, strided, asymmetric
    ((2, 4, 4, 3), (1, 1, 3, 2), 1, "valid", 1),  # 1x1: no im2col
    ((2, 7, 2), (3, 2, 3), 1, "valid", 1),  # 1-D
    ((2, 7, 2), (3, 2, 3), 2, "same", 1),
    ((2, 6, 2), (3, 2, 3), 2, "same", 1),
    ((2, 8, 1), (3, 1, 2), 1, "same", 2),
    ((2, 7, 4), (3, 2, 2), 1, "valid", 1),  # 1-D, groups 2
]


@pytest.mark.parametrize("xs, ks, strides, padding, dilation", CONV_CASES, ids=str)
def test_conv(xs, ks, strides, padding, dilation):
    check_op(
        lambda x, k: ops.conv(x, k, strides=strides, padding=padding, dilation_rate=dilation),
        [rand(*xs), rand(*ks)],
        lambda x, k: ref_conv(x, k, strides, padding, dilation),
        atol=1e-9,
    )


def test_conv_output_size_is_keras():
    for n in range(3, 9):
        for s in (1, 2, 3):
            out = ops.conv(np.ones((1, n, n, 1), "float32"), np.ones((3, 3, 1, 1), "float32"),
                           strides=s, padding="same")  # fmt: skip
            assert out.shape == (1, -(-n // s), -(-n // s), 1)


# ---- depthwise and separable -------------------------------------------------------------

DEPTHWISE_CASES = [
    ((2, 5, 5, 2), (3, 3, 2, 1), 1, "valid", 1),
    ((2, 5, 5, 2), (3, 3, 2, 2), 1, "same", 1),
    ((2, 6, 6, 3), (3, 3, 3, 2), 2, "same", 1),
    ((2, 6, 5, 1), (3, 3, 1, 2), 1, "same", 2),
    ((2, 7, 2), (3, 2, 2), 2, "same", 1),  # 1-D
]


@pytest.mark.parametrize("xs, ks, strides, padding, dilation", DEPTHWISE_CASES, ids=str)
def test_depthwise_conv(xs, ks, strides, padding, dilation):
    check_op(
        lambda x, k: ops.depthwise_conv(x, k, strides, padding, dilation_rate=dilation),
        [rand(*xs), rand(*ks)],
        lambda x, k: ref_depthwise(x, k, strides, padding, dilation),
        atol=1e-9,
    )


@pytest.mark.parametrize(
    "xs, ds, ps, strides, padding",
    [
        ((2, 5, 5, 2), (3, 3, 2, 2), (1, 1, 4, 3), 1, "same"),
        ((2, 6, 6, 2), (3, 3, 2, 1), (1, 1, 2, 3), 2, "same"),
        ((2, 7, 2), (3, 2, 2), (1, 4, 3), 1, "valid"),
    ],
    ids=str,
)
def test_separable_conv(xs, ds, ps, strides, padding):
    def reference(x, d, p):
        y = ref_depthwise(x, d, strides, padding)
        return ref_conv(y, p)

    check_op(
        lambda x, d, p: ops.separable_conv(x, d, p, strides, padding),
        [rand(*xs), rand(*ds), rand(*ps)],
        reference,
        atol=1e-9,
    )


# ---- conv_transpose --------------------------------------------------------------------------

TRANSPOSE_CASES = [
    # (input shape, kernel shape (.., C_out, C_in), strides, padding, output_padding, dilation)
    ((2, 3, 3, 2), (3, 3, 3, 2), 1, "valid", None, 1),
    ((2, 3, 3, 2), (3, 3, 3, 2), 1, "same", None, 1),
    ((2, 3, 3, 2), (3, 3, 2, 2), 2, "valid", None, 1),
    ((2, 3, 4, 2), (3, 3, 2, 2), 2, "same", None, 1),
    ((2, 3, 3, 2), (2, 2, 3, 2), 2, "same", None, 1),
    ((2, 3, 3, 1), (3, 3, 2, 1), 2, "same", 1, 1),
    ((2, 3, 3, 1), (3, 3, 2, 1), 2, "valid", 1, 1),
    ((2, 3, 3, 1), (2, 2, 1, 1), 3, "valid", None, 1),  # stride > kernel
    ((2, 3, 3, 1), (3, 3, 2, 1), 1, "same", None, 2),
    ((2, 3, 3, 3), (3, 3, 1, 3), (2, 1), "same", (1, 0), 1),
    ((2, 4, 2), (3, 3, 2), 2, "same", None, 1),  # 1-D
    ((2, 4, 2), (3, 3, 2), 2, "valid", 1, 1),
]


@pytest.mark.parametrize("xs, ks, strides, padding, output_padding, dilation", TRANSPOSE_CASES,
                         ids=str)  # fmt: skip
def test_conv_transpose(xs, ks, strides, padding, output_padding, dilation):
    x, k = rand(*xs), rand(*ks)
    expected = ref_conv_transpose(x, k, strides, padding, output_padding, dilation)
    rank = len(xs) - 2
    st, op, di = (pair(v) if v is not None else (None, None)
                  for v in (strides, output_padding, dilation))  # fmt: skip
    lengths = [deconv_length(xs[1 + i], ks[i], st[i], padding, op[i], di[i]) for i in range(rank)]
    if rank == 1:
        lengths = [deconv_length(xs[1], ks[0], st[0], padding, op[0], di[0])]
    assert expected.shape == (xs[0], *lengths, ks[-2])  # the reference has Keras' size
    check_op(
        lambda x, k: ops.conv_transpose(
            x, k, strides, padding, output_padding=output_padding, dilation_rate=dilation
        ),
        [x, k],
        lambda x, k: ref_conv_transpose(x, k, strides, padding, output_padding, dilation),
        atol=1e-9,
    )


# ---- the primitives directly: groups, negative end pads and trailing rows ---------------------


PRIMITIVE_CASES = [
    # (strides, dilation, pads, extra, groups)
    ((2, 2), (1, 1), ((1, 1), (0, 1)), (1, 0), 2),
    ((2, 1), (1, 2), ((1, -1), (2, 0)), (0, 0), 1),
    ((1, 1), (1, 1), ((0, 0), (1, 1)), (0, 0), 2),
]


@pytest.mark.parametrize("strides, dilation, pads, extra, groups", PRIMITIVE_CASES, ids=str)
def test_transpose_and_filter_primitives(strides, dilation, pads, extra, groups):
    k = rand(3, 3, 1, 2 * groups)
    attrs = {"strides": strides, "dilation": dilation, "pads": pads, "groups": groups}
    y = rand(2, 3, 2, 2 * groups)
    check_op(
        lambda y, k: apply(conv_module._CONV_TRANSPOSE, (y, k), {**attrs, "extra": extra}),
        [y, k],
        lambda y, k: ref_transpose_primitive(y, k, strides, dilation, pads, extra, groups),
        atol=1e-9,
    )
    x = ref_transpose_primitive(y, k, strides, dilation, pads, extra, groups)  # a fitting image
    x = rand(*x.shape)
    check_op(
        lambda x, y: apply(conv_module._CONV_FILTER, (x, y), {**attrs, "kernel_size": (3, 3)}),
        [x, y],
        lambda x, y: ref_filter_primitive(x, y, (3, 3), strides, dilation, pads, groups),
        atol=1e-9,
    )


def test_double_backward():
    # The gradient of conv in x and k is itself differentiated (conv_transpose and the filter
    # gradient's vjps): check d/dk of <dL/dx, c> against finite differences.
    x, k = rand(2, 6, 5, 4), rand(3, 3, 2, 4)
    cot, c = rand(2, 3, 3, 4), rand(*x.shape)

    def inner(x, k):
        xt, kt = Tensor(x), Tensor(k)
        with GradientTape() as tape:
            tape.watch([xt, kt])
            loss = ops.sum(ops.conv(xt, kt, 2, "same") * cot)
        gx, gk = tape.gradient(loss, [xt, kt])
        return float(np.sum(gx.numpy() * c) + np.sum(gk.numpy() ** 2))

    xt, kt = Tensor(x), Tensor(k)
    with GradientTape(persistent=True) as outer:
        outer.watch([xt, kt])
        with GradientTape() as tape:
            tape.watch([xt, kt])
            loss = ops.sum(ops.conv(xt, kt, 2, "same") * cot)
        gx, gk = tape.gradient(loss, [xt, kt])
        z = ops.sum(gx * c) + ops.sum(gk * gk)
    dx, dk = outer.gradient(z, [xt, kt])
    eps = 1e-6
    for arr, analytic in ((x, dx), (k, dk)):
        numeric = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            up = inner(x, k)
            arr[i] = old - eps
            down = inner(x, k)
            arr[i] = old
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic.numpy(), numeric, atol=1e-5, rtol=1e-4)


# ---- symbolic shapes and errors ----------------------------------------------------------------


def test_symbolic_unknown_batch():
    x = SymbolicTensor((None, 6, 5, 2), "float32")
    k = Tensor(rand(3, 3, 2, 4).astype("float32"))
    assert ops.conv(x, k, 2, "same").shape == (None, 3, 3, 4)
    kt = Tensor(rand(3, 3, 4, 2).astype("float32"))
    assert ops.conv_transpose(x, kt, 2, "same").shape == (None, 12, 10, 4)
    assert ops.depthwise_conv(x, Tensor(rand(3, 3, 2, 3).astype("float32"))).shape == (
        None, 4, 3, 6,
    )  # fmt: skip


def test_float32_and_int_inputs():
    x = np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2).astype("float32")
    out = ops.conv(x, np.ones((3, 3, 2, 1), "float32"))
    assert out.dtype == "float32"
    assert ops.conv(x.astype("int32"), np.ones((3, 3, 2, 1), "int32")).dtype == "float32"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ops.conv(np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1))), r"conv: .*larger.*"
         r"inputs.shape=\(1, 2, 2, 1\), kernel.shape=\(3, 3, 1, 1\)"),
        (lambda: ops.conv(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 1))), r"conv: .*3 channels.*"
         r"multiple.*inputs.shape=\(1, 5, 5, 3\), kernel.shape=\(3, 3, 2, 1\)"),
        (lambda: ops.conv(np.ones((1, 5, 5, 4)), np.ones((3, 3, 2, 3))), r"conv: .*divisible"),
        (lambda: ops.conv(np.ones((1, 5, 5, 4)), np.ones((3, 4, 3))), r"conv: .*kernel.shape"),
        (lambda: ops.conv(np.ones((5, 4)), np.ones((3, 4, 3))), r"conv: .*inputs.shape"),
        (lambda: ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), data_format=
         "channels_first"), "channels_first"),  # fmt: skip
        (lambda: ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), padding="full"),
         "padding"),
        (lambda: ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), strides=0), "strides"),
        (lambda: ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), dilation_rate=(1,)),
         "dilation_rate"),
        (lambda: ops.depthwise_conv(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 1))),
         r"depthwise_conv: .*inputs.shape=\(1, 5, 5, 3\), kernel.shape=\(3, 3, 2, 1\)"),
        (lambda: ops.conv_transpose(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 2)), 1),
         r"conv_transpose: .*inputs.shape=\(1, 5, 5, 3\), kernel.shape=\(3, 3, 2, 2\)"),
        (lambda: ops.conv_transpose(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 3)), 1,
                                    data_format="channels_first"), "channels_first"),
        (lambda: ops.separable_conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1)),
                                    np.ones((1, 1, 3, 2))), "separable_conv"),
    ],
)  # fmt: skip
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_shapes_symbolic():
    with pytest.raises(ValueError, match=r"conv: .*larger"):
        ops.conv(SymbolicTensor((None, 2, 9, 1)), SymbolicTensor((3, 3, 1, 2)))


@pytest.mark.parametrize(
    "ksize, strides, pads, groups",
    [
        ((3, 3), (1, 1), ((0, 0), (0, 0)), 1),  # col2im straight into the output
        ((3, 3), (2, 1), ((1, 1), (1, 0)), 1),  # padded: cached padded image, cropped col2im
        ((3, 3), (2, 2), ((1, 1), (0, 1)), 2),  # groups
        ((1, 1), (1, 1), ((0, 0), (0, 0)), 1),  # 1x1: the GEMM is the whole op
    ],
    ids=str,
)
def test_lowered_gradient_primitives_reuse_scratch(ksize, strides, pads, groups):
    # The compiled runs of conv_transpose / conv_filter_grad write into the Plan's buffer and
    # cache their work arrays per node: repeated runs on new inputs must match eager exactly.
    import types

    from backend.compiler import lowering
    from backend.ops import conv_primitives as cp

    attrs = {"strides": strides, "dilation": (1, 1), "pads": pads, "groups": groups}
    x = rand(2, 7, 6, 2 * groups).astype("float32")
    k = rand(*ksize, 2, 3 * groups).astype("float32")
    y = conv_module._CONV.forward(None, x, k, **attrs)
    extra = cp._extra_for("t", x.shape[1:3], ksize, strides, (1, 1), pads)
    cases = [
        (conv_module._CONV_TRANSPOSE, {**attrs, "extra": extra}, lambda: (rand(*y.shape), k)),
        (conv_module._CONV_FILTER, {**attrs, "kernel_size": ksize}, lambda: (x, rand(*y.shape))),
        (conv_module._CONV, attrs, lambda: (rand(*x.shape), k)),
    ]
    for op, op_attrs, make in cases:
        node = types.SimpleNamespace(op=op, attrs=op_attrs, inputs=None, outputs=[None])
        run, _ = lowering.lower(node)
        out = None
        for _ in range(3):
            a, b = (v.astype("float32") for v in make())
            expected = op.forward(None, a, b, **op_attrs)
            if out is None:
                out = np.full(expected.shape, np.nan, "float32")
            run(a, b, out)
            np.testing.assert_array_equal(out, expected)


# ---- depthwise on its direct kernels ------------------------------------------------------------

DIRECT_DEPTHWISE_CASES = [
    # (input shape, kernel shape (kh, kw, C, M), strides, padding, dilation)
    ((2, 7, 6, 3), (3, 3, 3, 2), 2, "same", 1),  # strided same, multiplier 2, uneven pads
    ((1, 7, 7, 2), (3, 2, 2, 3), (2, 1), "valid", (1, 2)),
    ((2, 6, 5, 3), (2, 2, 3, 2), 2, "same", 2),  # even kernel, dilated
    ((2, 4, 5, 4), (1, 1, 4, 2), 1, "valid", 1),  # 1x1
]


@pytest.mark.parametrize("xs, ks, strides, padding, dilation", DIRECT_DEPTHWISE_CASES, ids=str)
def test_depthwise_conv_direct_kernels(xs, ks, strides, padding, dilation):
    check_op(
        lambda x, k: ops.depthwise_conv(x, k, strides, padding, dilation_rate=dilation),
        [rand(*xs), rand(*ks)],
        lambda x, k: ref_depthwise(x, k, strides, padding, dilation),
        atol=1e-9,
    )


def test_separable_conv_strided_with_multiplier():
    strides, padding = 2, "same"

    def reference(x, d, p):
        return ref_conv(ref_depthwise(x, d, strides, padding), p)

    check_op(
        lambda x, d, p: ops.separable_conv(x, d, p, strides, padding),
        [rand(2, 7, 6, 3), rand(3, 3, 3, 2), rand(1, 1, 6, 4)],
        reference,
        atol=1e-9,
    )


@pytest.mark.parametrize("contiguous_out", [True, False])
def test_depthwise_primitives_write_into_out(contiguous_out):
    # The three primitives on a depthwise kernel (1 input channel per group) write into the
    # given output (or copy into a strided one), with work arrays cached in `scratch`.
    from backend.ops import conv_primitives as cp

    strides, dilation, pads, groups = (2, 1), (1, 2), ((1, 1), (2, 0)), 3
    x, k = rand(2, 7, 8, groups), rand(3, 3, 1, 2 * groups)
    y = ref_conv2d(x, k, strides, pads, dilation)
    g = rand(*y.shape)
    extra = cp._extra_for("t", x.shape[1:3], (3, 3), strides, dilation, pads)
    runs = [
        (lambda out, s: cp._conv_forward(x, k, strides, dilation, pads, groups, out, s), y),
        (lambda out, s: cp._conv_transpose_forward(g, k, strides, dilation, pads, extra, groups,
                                                   out, s),
         ref_transpose_primitive(g, k, strides, dilation, pads, extra, groups)),
        (lambda out, s: cp._conv_filter_forward(x, g, (3, 3), strides, dilation, pads, groups,
                                                out, s),
         ref_filter_primitive(x, g, (3, 3), strides, dilation, pads, groups)),
    ]  # fmt: skip
    for run, expected in runs:
        np.testing.assert_allclose(run(None, None), expected, rtol=1e-12, atol=1e-12)
        scratch = {}
        for _ in range(2):
            if contiguous_out:
                out = np.full(expected.shape, np.nan)
            else:
                out = np.full(expected.shape[::-1], np.nan).T
            assert run(out, scratch) is out
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# ---- small kernels on the direct kernels; a conv layer's bias and relu, its bias gradient ----


def test_small_kernels_take_the_direct_kernels(monkeypatch):
    # CONV_CASES' kernels are small: ops.conv and its kernel gradient run on the direct loops.
    from backend.kernels import conv as kconv
    from backend.kernels import conv_direct, conv_direct_grad

    calls = []
    for module, name in (
        (conv_direct, "conv_direct_nhwc"),
        (conv_direct_grad, "conv_filter_direct_nhwc"),
        (kconv, "im2col_nhwc"),
    ):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, real=real, name=name, **kw: (
            calls.append(name), real(*a, **kw)))  # fmt: skip
    x, k = Tensor(rand(2, 6, 6, 1)), Tensor(rand(3, 3, 1, 2))
    with GradientTape() as tape:
        tape.watch(k)
        loss = ops.sum(ops.conv(x, k, 2, "same"))
    tape.gradient(loss, k)
    assert calls == ["conv_direct_nhwc", "conv_filter_direct_nhwc"]


@pytest.mark.parametrize("xs, ks, strides, padding, dilation", CONV_CASES[:9:2], ids=str)
def test_conv_on_im2col_and_gemm(monkeypatch, xs, ks, strides, padding, dilation):
    # The same ops end to end with the direct kernels switched off: im2col + GEMM for the
    # forward and for the kernel gradient.

    monkeypatch.setattr(conv_paths, "_DIRECT_FORWARD_MAX", 0)
    monkeypatch.setattr(conv_paths, "_DIRECT_FILTER_MAX", 0)
    test_conv(xs, ks, strides, padding, dilation)


# (input shape, kernel shape, strides, dilation, pads, groups, path): the path each case takes
# is asserted, so moving the threshold cannot silently drop one.
EPILOGUE_CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 5), (1, 1), (1, 1), ((1, 1), (1, 1)), 1, "direct"),
    ((2, 8, 7, 1), (3, 2, 1, 32), (2, 1), (1, 2), ((1, 0), (0, 1)), 1, "direct"),
    ((2, 6, 5, 16), (3, 3, 16, 8), (1, 2), (1, 1), ((1, 1), (0, 1)), 1, "gemm"),
    ((2, 6, 5, 4), (3, 3, 2, 6), (1, 1), (1, 1), ((1, 1), (1, 1)), 2, "groups"),
    ((2, 6, 5, 3), (3, 3, 1, 6), (2, 2), (1, 1), ((1, 1), (1, 1)), 3, "depthwise"),
]


def _out_buffer(shape, dtype, contiguous):
    return np.full(shape, np.nan, dtype) if contiguous else np.full(shape[::-1], np.nan, dtype).T


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("contiguous_out", [True, False])
@pytest.mark.parametrize("xs, ks, strides, dilation, pads, groups, path", EPILOGUE_CASES, ids=str)
def test_conv_into_adds_bias_and_relu(xs, ks, strides, dilation, pads, groups, path,
                                      contiguous_out, dtype):  # fmt: skip
    from backend.ops import conv_primitives as cp

    assert cp._use_direct(np.dtype(dtype), ks, groups) == (path == "direct")
    x, k, bias = rand(*xs).astype(dtype), rand(*ks).astype(dtype), rand(ks[3]).astype(dtype)
    y = ref_conv2d(x.astype(float), k.astype(float), strides, pads, dilation)
    tol = 1e-12 if dtype == "float64" else 1e-5
    scratch = {}
    for b, relu in ((None, False), (bias, False), (None, True), (bias, True)):
        expected = y if b is None else y + b
        expected = np.maximum(expected, 0) if relu else expected
        out = _out_buffer(y.shape, dtype, contiguous_out)
        cp.conv_into(x, k, out, strides, dilation, pads, groups, scratch, bias=b, relu=relu)
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
        assert (out == 0).any() == relu  # relu cut something, and nothing else makes zeros


FILTER_EPILOGUE_CASES = [
    # (input shape, kernel size, C_out, strides, dilation, pads, groups, path)
    ((2, 7, 6, 3), (3, 3), 5, (1, 1), (1, 1), ((1, 1), (1, 1)), 1, "direct"),
    ((3, 8, 9, 1), (3, 2), 32, (2, 1), (1, 2), ((1, -1), (2, 0)), 1, "direct"),
    ((2, 6, 5, 32), (3, 3), 32, (1, 2), (1, 1), ((1, 1), (0, 1)), 1, "gemm"),
    ((2, 6, 5, 4), (3, 3), 6, (1, 1), (1, 1), ((1, 1), (1, 1)), 2, "groups"),
    ((2, 6, 5, 3), (3, 3), 6, (2, 2), (1, 1), ((1, 1), (1, 1)), 3, "depthwise"),
]


@pytest.mark.parametrize("contiguous_out", [True, False])
@pytest.mark.parametrize("xs, ksize, cout, strides, dilation, pads, groups, path",
                         FILTER_EPILOGUE_CASES, ids=str)  # fmt: skip
def test_conv_filter_grad_into_sums_the_bias_gradient(xs, ksize, cout, strides, dilation, pads,
                                                      groups, path, contiguous_out):  # fmt: skip
    from backend.ops import conv_primitives as cp

    cg = xs[3] // groups
    assert cp._use_direct(np.dtype("float64"), (*ksize, cg, cout), groups, gradient=True) == (
        path == "direct"
    )
    out_hw = [cp._out_len(n, k, s, d, lo, hi) for n, k, s, d, (lo, hi) in
              zip(xs[1:3], ksize, strides, dilation, pads, strict=True)]  # fmt: skip
    x, y = rand(*xs), rand(xs[0], *out_hw, cout)
    expected = ref_filter_primitive(x, y, ksize, strides, dilation, pads, groups)
    scratch = {}
    for bias_out in (None, _out_buffer((cout,), "float64", contiguous_out)):
        out = _out_buffer(expected.shape, "float64", contiguous_out)
        cp.conv_filter_grad_into(x, y, out, ksize, strides, dilation, pads, groups, scratch,
                                 bias_out=bias_out)  # fmt: skip
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        if bias_out is not None:
            np.testing.assert_allclose(bias_out, y.sum(axis=(0, 1, 2)), rtol=1e-12, atol=1e-12)
