"""Training against numbers recorded from real Keras 3.15 (tests/fixtures/keras_goldens):
same architecture, same initial weights, same data -> the same losses, metrics and weights
after train_on_batch, fit (with a validation split and a smaller last batch) and evaluate."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
INDEX = json.loads((FIXTURES / "index.json").read_text())["cases"]
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _data(case):
    return np.load(FIXTURES / f"{case}.npz")


def _weights(data, prefix, n):
    return [data[f"{prefix}{i}"] for i in range(n)]


def _mlp():
    return keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _small(activation_out="sigmoid"):
    return keras.Sequential(
        [
            keras.Input((5,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation=activation_out),
        ]
    )


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
def test_mlp_sgd_train_on_batch(run_eagerly):
    data = _data("mlp")
    model = _mlp()
    model.set_weights(_weights(data, "init_w", 4))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=run_eagerly,
    )
    for k in (1, 2, 3):
        result = model.train_on_batch(data["x"][:10], data["y"][:10])
        np.testing.assert_allclose(result, data[f"step{k}_result"], **TOL)
        for ours, theirs in zip(model.get_weights(), _weights(data, f"step{k}_w", 4), strict=True):
            np.testing.assert_allclose(ours, theirs, **TOL)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["predict_after"], **TOL)


def test_mlp_adam_train_on_batch_returns_a_float():
    data = _data("mlp_adam")
    model = _mlp()
    model.set_weights(_weights(data, "init_w", 4))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy"
    )
    for k, expected in enumerate(INDEX["mlp_adam"]["train_on_batch"], start=1):
        loss = model.train_on_batch(data["x"][:10], data["y"][:10])
        assert isinstance(loss, float)
        np.testing.assert_allclose(loss, expected, **TOL)
        for ours, theirs in zip(model.get_weights(), _weights(data, f"step{k}_w", 4), strict=True):
            np.testing.assert_allclose(ours, theirs, **TOL)


def test_fit_history_with_validation_split_and_momentum():
    data = _data("mlp_fit")
    model = _mlp()
    model.set_weights(_weights(data, "init_w", 4))
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        data["x"],
        data["y"],
        batch_size=8,
        epochs=2,
        shuffle=False,
        validation_split=0.25,
        verbose=0,
    )
    recorded = INDEX["mlp_fit"]
    assert list(history.history) == recorded["history_keys"]  # in Keras' order, too
    for key, values in recorded["history"].items():
        np.testing.assert_allclose(history.history[key], values, **TOL)
    assert history.epoch == recorded["history_epoch"]
    assert history.params == recorded["history_params"]
    assert model.history is history
    for ours, theirs in zip(model.get_weights(), _weights(data, "final_w", 4), strict=True):
        np.testing.assert_allclose(ours, theirs, **TOL)


@pytest.mark.parametrize("case, loss", [("bce", "binary_crossentropy"), ("mse", "mse")])
def test_binary_and_mse_train_on_batch(case, loss):
    data = _data(case)
    model = _small()
    model.set_weights(_weights(data, "init_w", 4))
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss=loss, metrics=["accuracy"])
    for k in (1, 2):
        result = model.train_on_batch(data["x"], data["y"])
        np.testing.assert_allclose(result, data[f"step{k}_result"], **TOL)
        for ours, theirs in zip(model.get_weights(), _weights(data, f"step{k}_w", 4), strict=True):
            np.testing.assert_allclose(ours, theirs, **TOL)


def test_evaluate_weights_batches_by_size():
    data = _data("evaluate")
    model = _mlp()
    model.set_weights(_weights(data, "weights_w", 4))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    listed = model.evaluate(data["x"], data["y"], batch_size=7, verbose=0)
    np.testing.assert_allclose(listed, data["evaluate_list"], **TOL)
    as_dict = model.evaluate(data["x"], data["y"], batch_size=7, verbose=0, return_dict=True)
    expected = dict(INDEX["evaluate"]["evaluate_return_dict"])
    assert set(as_dict) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(as_dict[key], value, **TOL)


def test_functional_two_outputs_with_loss_weights():
    data = _data("functional")
    recorded = INDEX["functional"]
    keras.backend.clear_session()
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    h = layers.Dense(8, activation="tanh", name="shared")(layers.Concatenate()([a, b]))
    model = keras.Model(
        [a, b],
        [layers.Dense(2, name="reg")(h), layers.Dense(3, activation="softmax", name="cls")(h)],
    )
    assert [l.name for l in model.layers] == recorded["layers"]
    assert [w.path for w in model.weights] == [w["path"] for w in recorded["weights"]]
    model.set_weights(_weights(data, "init_w", 6))
    reg, cls = model.predict([data["xa"], data["xb"]], verbose=0)
    np.testing.assert_allclose(reg, data["predict_reg"], **TOL)
    np.testing.assert_allclose(cls, data["predict_cls"], **TOL)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
    )
    for k, expected in enumerate(recorded["train_on_batch"], start=1):
        result = model.train_on_batch([data["xa"], data["xb"]], [data["y_reg"], data["y_cls"]])
        np.testing.assert_allclose(result, expected, **TOL)
        for ours, theirs in zip(model.get_weights(), _weights(data, f"step{k}_w", 6), strict=True):
            np.testing.assert_allclose(ours, theirs, **TOL)
    assert model.metrics_names == recorded["metrics_names"]
