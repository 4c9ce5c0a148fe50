"""Convolution layers: the layer harness, numpy references, weights, configs, bad arguments."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.testing import run_layer_test

# ---- numpy references ----------------------------------------------------------------------


def _same_pads(n, k, s, d):
    eff = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def conv2d_ref(x, kernel, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """A naive loop: NHWC input, kernel (kh, kw, cin/groups, cout)."""
    kh, kw, cin_g, cout = kernel.shape
    if padding == "same":
        (t, b), (lf, r) = (
            _same_pads(x.shape[1], kh, strides[0], dilation[0]),
            _same_pads(x.shape[2], kw, strides[1], dilation[1]),
        )
        x = np.pad(x, ((0, 0), (t, b), (lf, r), (0, 0)))
    n, h, w, _ = x.shape
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh, ow = (h - eh) // strides[0] + 1, (w - ew) // strides[1] + 1
    cout_g = cout // groups
    out = np.zeros((n, oh, ow, cout), np.float64)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    row = x[:, i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1]]
                    for g in range(groups):
                        xs = row[:, g * cin_g : (g + 1) * cin_g]
                        ks = kernel[a, b, :, g * cout_g : (g + 1) * cout_g]
                        out[:, i, j, g * cout_g : (g + 1) * cout_g] += xs @ ks
    return out


def depthwise_ref(x, kernel, strides=(1, 1), padding="valid"):
    kh, kw, c, m = kernel.shape
    full = np.zeros((kh, kw, c, c * m))
    for ch in range(c):
        full[:, :, ch, ch * m : (ch + 1) * m] = kernel[:, :, ch, :]
    return conv2d_ref(x, full, strides, padding)


def conv_transpose2d_ref(x, kernel, strides):
    """'valid' transposed convolution: kernel (kh, kw, cout, cin); scatter each input cell.
    Keras' output length is `n * stride + max(k - stride, 0)` (zeros past the last window)."""
    kh, kw, cout, _ = kernel.shape
    n, h, w, _ = x.shape
    oh = h * strides[0] + max(kh - strides[0], 0)
    ow = w * strides[1] + max(kw - strides[1], 0)
    out = np.zeros((n, oh, ow, cout))
    for i in range(h):
        for j in range(w):
            contrib = np.einsum("nc,abdc->nabd", x[:, i, j], kernel)
            out[:, i * strides[0] : i * strides[0] + kh, j * strides[1] : j * strides[1] + kw] += (
                contrib
            )
    return out


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ---- the harness -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape, n_trainable",
    [
        (layers.Conv2D, {"filters": 4, "kernel_size": 3}, (2, 6, 5, 3), (2, 4, 3, 4), 2),
        (
            layers.Conv2D,
            {"filters": 4, "kernel_size": (3, 2), "strides": 2, "padding": "same"},
            (2, 7, 5, 3),
            (2, 4, 3, 4),
            2,
        ),
        (
            layers.Conv2D,
            {"filters": 6, "kernel_size": 3, "groups": 2, "use_bias": False},
            (2, 5, 5, 4),
            (2, 3, 3, 6),
            1,
        ),
        (
            layers.Conv2D,
            {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "activation": "relu"},
            (2, 7, 7, 1),
            (2, 3, 3, 2),
            2,
        ),
        (layers.Conv1D, {"filters": 3, "kernel_size": 3}, (2, 8, 2), (2, 6, 3), 2),
        (
            layers.Conv1D,
            {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
            (2, 8, 2),
            (2, 8, 3),
            2,
        ),
        (layers.Conv1D, {"filters": 4, "kernel_size": 2, "groups": 2}, (2, 5, 2), (2, 4, 4), 2),
        (
            layers.Conv1DTranspose,
            {"filters": 3, "kernel_size": 3, "strides": 2},
            (2, 5, 2),
            (2, 11, 3),
            2,
        ),
        (
            layers.Conv2DTranspose,
            {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
            (2, 4, 5, 2),
            (2, 8, 10, 3),
            2,
        ),
        (
            layers.Conv2DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
            (2, 3, 3, 2),
            (2, 8, 8, 2),
            2,
        ),
        (
            layers.DepthwiseConv2D,
            {"kernel_size": 3, "depth_multiplier": 2},
            (2, 5, 5, 3),
            (2, 3, 3, 6),
            2,
        ),
        (
            layers.DepthwiseConv2D,
            {"kernel_size": 3, "strides": 2, "padding": "same"},
            (2, 5, 5, 3),
            (2, 3, 3, 3),
            2,
        ),
        (
            layers.SeparableConv2D,
            {"filters": 4, "kernel_size": 3, "depth_multiplier": 2},
            (2, 5, 5, 3),
            (2, 3, 3, 4),
            3,
        ),
    ],
)
def test_layer_harness(cls, kwargs, in_shape, out_shape, n_trainable):
    run_layer_test(cls, kwargs, in_shape, out_shape, expected_num_trainable_weights=n_trainable)


# ---- numerics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"strides": 2},
        {"padding": "same"},
        {"padding": "same", "strides": 2},
        {"dilation_rate": 2},
        {"groups": 2},
    ],
)
def test_conv2d_matches_a_naive_loop(kwargs):
    layer = layers.Conv2D(4, (3, 2), bias_initializer="glorot_uniform", **kwargs)
    x = _rand(2, 7, 6, 4)
    y = layer(x).numpy()
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    strides = (kwargs.get("strides", 1),) * 2
    dilation = (kwargs.get("dilation_rate", 1),) * 2
    ref = conv2d_ref(x, k, strides, kwargs.get("padding", "valid"), dilation, layer.groups) + b
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_conv1d_causal_pads_on_the_left():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2, use_bias=False)
    x = _rand(2, 9, 3)
    y = layer(x).numpy()
    k = layer.kernel.numpy()  # (3, 3, 2)
    xp = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    ref = np.stack([sum(xp[:, t + 2 * a] @ k[a] for a in range(3)) for t in range(9)], axis=1)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    # Causal: output t does not depend on inputs after t.
    x2 = x.copy()
    x2[:, 5:] = 0
    np.testing.assert_allclose(layer(x2).numpy()[:, :5], y[:, :5], rtol=1e-5, atol=1e-6)


def test_depthwise_and_separable_match_numpy():
    x = _rand(2, 6, 6, 3)
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False)
    y = dw(x).numpy()
    np.testing.assert_allclose(
        y, depthwise_ref(x, dw.kernel.numpy(), padding="same"), rtol=1e-4, atol=1e-5
    )
    sep = layers.SeparableConv2D(4, 3, depth_multiplier=2, bias_initializer="ones")
    y = sep(x).numpy()
    mid = depthwise_ref(x, sep.depthwise_kernel.numpy())
    ref = np.einsum("nhwc,cf->nhwf", mid, sep.pointwise_kernel.numpy()[0, 0]) + 1.0
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_conv2d_transpose_matches_a_scatter_loop():
    layer = layers.Conv2DTranspose(3, (3, 2), strides=(2, 3), use_bias=False)
    x = _rand(2, 3, 4, 2)
    y = layer(x).numpy()
    assert layer.kernel.shape == (3, 2, 3, 2)
    ref = conv_transpose2d_ref(x, layer.kernel.numpy(), (2, 3))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


# ---- weights, configs, errors -------------------------------------------------------------


def test_weight_names_shapes_and_order():
    def built(layer, shape):
        layer(np.zeros(shape, "float32"))
        return [(w.path.split("/")[-1], w.shape) for w in layer.weights]

    assert built(layers.Conv2D(8, 3, groups=2), (1, 5, 5, 4)) == [
        ("kernel", (3, 3, 2, 8)),
        ("bias", (8,)),
    ]
    assert built(layers.Conv1D(8, 3), (1, 5, 4)) == [("kernel", (3, 4, 8)), ("bias", (8,))]
    assert built(layers.Conv2DTranspose(8, 3), (1, 5, 5, 4)) == [
        ("kernel", (3, 3, 8, 4)),
        ("bias", (8,)),
    ]
    assert built(layers.Conv1DTranspose(8, 3), (1, 5, 4)) == [
        ("kernel", (3, 8, 4)),
        ("bias", (8,)),
    ]
    assert built(layers.DepthwiseConv2D(3, depth_multiplier=3), (1, 5, 5, 4)) == [
        ("kernel", (3, 3, 4, 3)),
        ("bias", (12,)),
    ]
    assert built(layers.SeparableConv2D(8, 3, depth_multiplier=2), (1, 5, 5, 4)) == [
        ("depthwise_kernel", (3, 3, 4, 2)),
        ("pointwise_kernel", (1, 1, 8, 8)),
        ("bias", (8,)),
    ]


def test_configs_have_keras_keys():
    base = ["name", "trainable", "dtype"]
    tail = [
        "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
        "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
    ]  # fmt: skip
    geometry = ["kernel_size", "strides", "padding", "data_format", "dilation_rate"]
    config = layers.Conv2D(4, 3).get_config()
    assert list(config) == [*base, "filters", *geometry, "groups", *tail]
    assert config["kernel_size"] == (3, 3) and config["data_format"] == "channels_last"
    assert config["activation"] == "linear"
    config = layers.Conv2DTranspose(4, 3).get_config()
    assert list(config) == [
        *base, "filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
        "dilation_rate", *tail,
    ]  # fmt: skip
    assert set(layers.DepthwiseConv2D(3).get_config()) == {
        *base, "depth_multiplier", *geometry, "activation", "use_bias", "depthwise_initializer",
        "bias_initializer", "depthwise_regularizer", "bias_regularizer", "activity_regularizer",
        "depthwise_constraint", "bias_constraint",
    }  # fmt: skip
    assert set(layers.SeparableConv2D(2, 3).get_config()) == {
        *base, "depth_multiplier", "filters", *geometry, "activation", "use_bias",
        "depthwise_initializer", "pointwise_initializer", "bias_initializer",
        "depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
        "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
        "bias_constraint",
    }  # fmt: skip
    # Keras 2 configs carry groups on these; accepted and dropped.
    layers.DepthwiseConv2D(3, groups=1)
    layers.Conv2DTranspose(2, 3, groups=1)


def test_bad_arguments_raise_at_construction():
    cases = [
        (lambda: layers.Conv2D(-1, 3), r"Received: filters=-1"),
        (lambda: layers.Conv2D(0, 3), r"Received: filters=0"),
        (lambda: layers.Conv2D(4, 0), r"Received: kernel_size=0"),
        (lambda: layers.Conv2D(4, (3, -1)), r"Received: kernel_size=\(3, -1\)"),
        (lambda: layers.Conv2D(4, 3, strides=0), r"Received: strides=0"),
        (lambda: layers.Conv2D(4, 3, padding="full"), r"Received: padding='full'"),
        (lambda: layers.Conv2D(4, 3, padding="causal"), r"Received: padding='causal'"),
        (
            lambda: layers.Conv2D(4, 3, data_format="channels_first"),
            r"Received: data_format='channels_first'",
        ),
        (lambda: layers.Conv2D(4, 3, groups=3), r"groups=3, filters=4"),
        (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), r"dilation_rate=\(2, 2\)"),
        (lambda: layers.Conv1D(-2, 3), r"Received: filters=-2"),
        (lambda: layers.Conv1DTranspose(2, 3, padding="causal"), r"padding='causal'"),
        (lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2), r"output_padding"),
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), r"depth_multiplier=0"),
        (lambda: layers.SeparableConv2D(0, 3), r"Received: filters=0"),
    ]
    for make, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            make()


def test_bad_inputs_raise_at_build():
    with pytest.raises(ValueError, match=r"Conv2D '\w+' expects inputs of rank 4.*\(2, 5, 3\)"):
        layers.Conv2D(2, 3)(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"Conv2D '\w+': the kernel .*larger than the padded input.*"
    ):
        layers.Conv2D(2, 5)(np.zeros((1, 4, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"Conv1D .*larger.*\(1, 4, 1\)"):
        layers.Conv1D(2, 3, dilation_rate=2)(np.zeros((1, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"DepthwiseConv2D .*larger"):
        layers.DepthwiseConv2D(5)(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"divisible by groups=2"):
        layers.Conv2D(4, 1, groups=2)(np.zeros((1, 4, 4, 3), "float32"))
    # 'same' pads up to the kernel: no error.
    assert layers.Conv2D(2, 5, padding="same")(np.zeros((1, 4, 4, 1), "float32")).shape == (
        1,
        4,
        4,
        2,
    )
    layer = layers.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"3 input channels"):
        layer(np.zeros((1, 5, 5, 2), "float32"))


def test_convnet_summary_and_fit():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu", padding="same"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Conv2D(6, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Conv2D" in text and "(None, 8, 8, 4)" in text and "(None, 2, 2, 6)" in text
    assert "MaxPooling2D" in text and "BatchNormalization" in text
    # 4*9+4 + 4*4 + 6*36+6 + 6*3+3
    assert model.count_params() == 40 + 16 + 222 + 21
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).shape == (16, 3)
