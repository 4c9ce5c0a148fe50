"""Convolution, pooling, resampling and normalization layers against numbers recorded from
real Keras 3.15 (tests/fixtures/keras_goldens/conv.*, tools/keras_goldens/record_conv.py):
same models, same numpy initial weights, same inputs -> the same predictions, training-mode
outputs, train_on_batch losses and weights (BatchNormalization's moving statistics included)."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "conv.json").read_text())["cases"]
DATA = np.load(FIXTURES / "conv.npz")
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _model_conv_dense():
    return keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _model_conv_bn():
    return keras.Sequential(
        [
            keras.Input((11, 11, 2)),
            layers.Conv2D(3, 3, strides=2, padding="valid", activation="relu"),
            layers.BatchNormalization(),
            layers.AveragePooling2D(2, padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ]
    )


def _model_depthwise():
    return keras.Sequential(
        [
            keras.Input((7, 7, 2)),
            layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            layers.SeparableConv2D(4, 3),
            layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
            layers.GroupNormalization(groups=2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(2),
        ]
    )


def _model_conv1d():
    return keras.Sequential(
        [
            keras.Input((11, 3)),
            layers.Conv1D(4, 3, padding="causal", dilation_rate=2),
            layers.MaxPooling1D(2),
            layers.Conv1D(4, 2, groups=2),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def _model_resample():
    return keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            layers.UpSampling2D(2, interpolation="bilinear"),
            layers.ZeroPadding2D(((1, 0), (0, 1))),
            layers.Cropping2D(((0, 1), (1, 0))),
            layers.Conv2D(2, 2),
        ]
    )


def _model_mnist_convnet():
    # The keras.io MNIST convnet without Dropout, with logits: in predict, the first conv +
    # pool runs the one-channel window Winograd, the second F(4x4, 3x3) Winograd.
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )


BUILDERS = {
    "conv_dense": _model_conv_dense,
    "conv_bn": _model_conv_bn,
    "depthwise": _model_depthwise,
    "conv1d": _model_conv1d,
    "resample": _model_resample,
    "mnist_convnet": _model_mnist_convnet,
}
OPTIMIZERS = {
    "conv_dense": (
        lambda: keras.optimizers.SGD(learning_rate=0.1),
        "sparse_categorical_crossentropy",
    ),
    "conv_bn": (lambda: keras.optimizers.Adam(learning_rate=0.01), "mse"),
    "depthwise": (lambda: keras.optimizers.SGD(learning_rate=0.05), "mse"),
    "conv1d": (lambda: keras.optimizers.SGD(learning_rate=0.1), "binary_crossentropy"),
}


def _arr(case, name):
    return DATA[f"{case}/{name}"]


def _weights(case, prefix):
    return [_arr(case, f"{prefix}_w{i}") for i in range(RECORDED[case]["n_weights"])]


def _built(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    model.set_weights(_weights(case, "init"))
    return model


def _assert_weights(model, case, prefix):
    recorded = RECORDED[case]["weights"]
    for ours, theirs, info in zip(
        model.get_weights(), _weights(case, prefix), recorded, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{prefix}: {info['path']}")


@pytest.mark.parametrize("case", list(BUILDERS))
def test_layers_and_weight_order_match_keras(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    recorded = RECORDED[case]
    assert [type(layer).__name__ for layer in model.layers] == recorded["layer_classes"]
    assert [layer.name for layer in model.layers] == recorded["layers"]
    assert [w.path for w in model.weights] == [w["path"] for w in recorded["weights"]]
    assert [list(w.shape) for w in model.weights] == [w["shape"] for w in recorded["weights"]]
    assert [w.trainable for w in model.weights] == [w["trainable"] for w in recorded["weights"]]


@pytest.mark.parametrize("case", list(BUILDERS))
def test_predict_matches_keras(case):
    model = _built(case)
    x = _arr(case, "x")
    np.testing.assert_allclose(model.predict(x, verbose=0), _arr(case, "predict"), **TOL)
    np.testing.assert_allclose(model(x), _arr(case, "predict"), **TOL)


@pytest.mark.parametrize("case", list(BUILDERS))
def test_training_forward_matches_keras(case):
    model = _built(case)
    out = model(_arr(case, "x"), training=True)
    np.testing.assert_allclose(out, _arr(case, "train_forward"), **TOL)


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_train_on_batch_matches_keras(case, run_eagerly):
    model = _built(case)
    make_opt, loss = OPTIMIZERS[case]
    model.compile(optimizer=make_opt(), loss=loss, run_eagerly=run_eagerly)
    x, y = _arr(case, "x"), _arr(case, "y")
    for k, expected in enumerate(RECORDED[case]["train_on_batch"], start=1):
        result = model.train_on_batch(x, y)
        assert isinstance(result, float)
        np.testing.assert_allclose(result, expected, **TOL, err_msg=f"step {k} loss")
        _assert_weights(model, case, f"step{k}")
    np.testing.assert_allclose(model.predict(x, verbose=0), _arr(case, "predict_after"), **TOL)
