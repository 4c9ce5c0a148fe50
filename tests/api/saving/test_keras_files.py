"""Files written by real Keras (tf.keras 2.15 and Keras 3.15, tests/fixtures/keras_files)
load, compile as saved, and reproduce Keras' predictions."""

import json
import pathlib
import re
import warnings
import zipfile

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = pathlib.Path(__file__).parents[2] / "fixtures" / "keras_files"
MODELS = ["mlp", "cnn", "lstm", "gru", "functional", "conv1d"]


def _io(folder, name):
    data = np.load(FIXTURES / folder / f"{name}.io.npz")
    xs = [data[k] for k in sorted(data.files) if k.startswith("x")]
    return (xs[0] if len(xs) == 1 else xs), data["y"]


def _check(model, folder, name):
    x, y = _io(folder, name)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, atol=1e-5, rtol=1e-5)


def _trains(model, folder, name):
    """One training step runs on the loaded, compiled model and moves its weights."""
    x, y = _io(folder, name)
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, np.zeros_like(y))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("folder", ["keras2", "keras3"])
@pytest.mark.parametrize("name", MODELS)
def test_legacy_h5_loads_compiled_with_its_optimizer_state(folder, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the optimizer state fits: no skipping
        model = keras.models.load_model(FIXTURES / folder / f"{name}.legacy.h5")
    _check(model, folder, name)
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert np.isclose(float(model.optimizer.learning_rate.numpy()), 0.01)
    assert int(model.optimizer.iterations) > 0
    slots = model.optimizer.variables[2:]
    assert slots and all(np.any(s.numpy() != 0) for s in slots[:2])
    _trains(model, folder, name)


@pytest.mark.parametrize("name", MODELS)
def test_keras3_archive_loads_compiled_with_keras_fallback_optimizer(name):
    # Keras 3.15 wrote no optimizer into these archives' compile_config: as Keras, the
    # model is compiled with the default optimizer and the saved optimizer state skipped.
    with pytest.warns(UserWarning, match="names no optimizer"):
        model = keras.models.load_model(FIXTURES / "keras3" / f"{name}.keras")
    _check(model, "keras3", name)
    assert model.compiled and type(model.optimizer).__name__ == "RMSprop"
    assert int(model.optimizer.iterations) == 0
    # Compiled again with the optimizer it was trained with, the archive's weights bring
    # back the optimizer state: the same as in Keras' legacy .h5 of the same model.
    model.compile(keras.optimizers.Adam(0.01), model.loss)
    model.load_weights(FIXTURES / "keras3" / f"{name}.keras")
    legacy = keras.models.load_model(FIXTURES / "keras3" / f"{name}.legacy.h5")
    assert int(model.optimizer.iterations) == int(legacy.optimizer.iterations) > 0
    for ours, theirs in zip(model.optimizer.variables, legacy.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    _trains(model, "keras3", name)


@pytest.mark.parametrize("name", MODELS)
def test_keras3_weights_file_loads_into_the_same_architecture(name):
    model = keras.models.load_model(FIXTURES / "keras3" / f"{name}.keras", compile=False)
    for w in model.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no optimizer here: its group is ignored quietly
        model.load_weights(FIXTURES / "keras3" / f"{name}.weights.h5")
    _check(model, "keras3", name)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.load_weights(FIXTURES / "keras3" / f"{name}.weights.h5")
    assert int(model.optimizer.iterations) > 0  # with an optimizer, its state loads too


def test_legacy_weights_by_name_and_skip_mismatch():
    path = FIXTURES / "keras2" / "functional.legacy.h5"
    reference = {l.name: l.get_weights() for l in keras.models.load_model(path).layers}
    a, b = keras.Input((7,)), keras.Input((5,))
    # The file's layer names, made in another order; dense_8 has 3 units, the file's 2.
    right = layers.Dense(6, activation="relu", name="dense_7")(b)
    left = layers.Dense(6, activation="relu", name="dense_6")(a)
    out = layers.Dense(3, name="dense_8")(layers.Concatenate()([left, right]))
    model = keras.Model([a, b], layers.Dense(1, name="not_in_file")(out))
    fresh = model.get_layer("dense_8").get_weights()
    with pytest.raises(ValueError, match=r"dense_8.*\(12, 3\).*\(12, 2\)"):
        model.load_weights(path, by_name=True)
    with pytest.warns(UserWarning, match="skipped loading"):
        model.load_weights(path, by_name=True, skip_mismatch=True)
    for name in ("dense_6", "dense_7"):
        for ours, theirs in zip(model.get_layer(name).get_weights(), reference[name], strict=True):
            np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(model.get_layer("dense_8").get_weights(), fresh, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def _bidirectional_gru():
    gru = {"class_name": "GRU", "config": {
        "name": "gru", "trainable": True, "dtype": "float32", "return_sequences": False,
        "units": 3, "activation": "tanh", "recurrent_activation": "sigmoid",
        "use_bias": True, "time_major": False, "unroll": False, "implementation": 2,
        "reset_after": False}}  # fmt: skip
    return {"class_name": "Bidirectional", "config": {
        "name": "bidirectional", "trainable": True, "dtype": "float32", "layer": gru,
        "merge_mode": "concat"}}  # fmt: skip


# One Keras 2 form per case: the config tf.keras 2 wrote, and what the loaded layer holds.
KERAS2_FORMS = {
    "time_major": ({"class_name": "LSTM", "config": {"units": 3, "time_major": False}},
                   lambda l: l.units == 3),
    "implementation": ({"class_name": "LSTM", "config": {"units": 3, "implementation": 1}},
                       lambda l: l.units == 3),
    "input_length": ({"class_name": "Embedding", "config": {"input_dim": 5, "output_dim": 2,
                      "input_length": 7}}, lambda l: l.output_dim == 2),
    "batch_input_shape": ({"class_name": "Dense", "config": {"units": 4,
                           "batch_input_shape": [None, 3]}}, lambda l: l.units == 4),
    "Conv2DTranspose groups": ({"class_name": "Conv2DTranspose", "config": {
        "filters": 2, "kernel_size": 3, "groups": 1}}, lambda l: l.filters == 2),
    "DepthwiseConv2D groups": ({"class_name": "DepthwiseConv2D", "config": {
        "kernel_size": 3, "groups": 1, "depth_multiplier": 2}}, lambda l: l.depth_multiplier == 2),
    "LeakyReLU alpha": ({"class_name": "LeakyReLU", "config": {"alpha": 0.1}},
                        lambda l: l.negative_slope == 0.1),
    "BatchNormalization axis list": ({"class_name": "BatchNormalization", "config": {
        "axis": [3], "fused": None}}, lambda l: l.axis == 3),
    "string dtype": ({"class_name": "Dense", "config": {"units": 2, "dtype": "float64"}},
                     lambda l: l.dtype == "float64"),
    "GRU reset_after=False": ({"class_name": "GRU", "config": {
        "units": 2, "reset_after": False, "time_major": False}}, lambda l: not l.reset_after),
    "Bidirectional GRU reset_after=False": (
        _bidirectional_gru(),
        lambda l: not l.forward_layer.reset_after and not l.backward_layer.reset_after),
}  # fmt: skip


@pytest.mark.parametrize("form", sorted(KERAS2_FORMS))
def test_keras2_config_form_is_accepted(form):
    from kerasish.saving import serialization

    config, holds = KERAS2_FORMS[form]
    layer = serialization.deserialize(json.loads(json.dumps(config)))
    assert holds(layer), layer.get_config()
    assert not set(layer.get_config()) & {"time_major", "input_length", "batch_input_shape",
                                          "groups", "alpha", "fused"}  # fmt: skip


def test_keras2_bidirectional_gru_reset_after_false_computes_the_keras_formula():
    """Built from the Keras 2 config, the layer holds Keras 2's weight shapes (one bias row:
    the reset gate applied before the recurrent product) and runs both directions."""
    from kerasish.saving import serialization

    layer = serialization.deserialize(_bidirectional_gru())
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 6)
    kernel, recurrent, bias = layer.forward_layer.get_weights()
    assert kernel.shape == (5, 9) and recurrent.shape == (3, 9) and bias.shape == (9,)

    def gru(seq):
        h = np.zeros((2, 3), "float64")
        for t in range(seq.shape[1]):
            xz, xr, xh = np.split(seq[:, t] @ kernel + bias, 3, axis=-1)
            rz, rr, _ = np.split(h @ recurrent, 3, axis=-1)
            z, r = 1 / (1 + np.exp(-(xz + rz))), 1 / (1 + np.exp(-(xr + rr)))
            hh = np.tanh(xh + (r * h) @ recurrent[:, 6:])
            h = z * h + (1 - z) * hh
        return h

    np.testing.assert_allclose(out[:, :3], gru(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="time_major=True"):
        serialization.deserialize(
            {"class_name": "LSTM", "config": {"units": 1, "time_major": True}}
        )


def test_keras2_functional_config_with_a_layer_called_twice():
    dense = {"class_name": "Dense", "config": {"name": "shared", "units": 2, "dtype": "float32"}}
    config = {
        "class_name": "Functional",
        "config": {
            "name": "model",
            "layers": [
                {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
                 "config": {"batch_input_shape": [None, 2], "dtype": "float32", "name": "a",
                            "sparse": False, "ragged": False}},
                {**dense, "name": "shared",
                 "inbound_nodes": [[["a", 0, 0, {}]], [["shared", 0, 0, {}]]]},
                {"class_name": "Add", "name": "add",
                 "config": {"name": "add", "trainable": True, "dtype": "float32"},
                 "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]},
            ],
            "input_layers": [["a", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
    }  # fmt: skip
    model = keras.models.model_from_json(json.dumps(config))
    layer = model.get_layer("shared")
    w, b = layer.get_weights()
    x = np.array([[1.0, -2.0]], "float32")
    first = x @ w + b
    np.testing.assert_allclose(model.predict(x, verbose=0), first + (first @ w + b), rtol=1e-6)


def test_an_unknown_class_names_itself_and_custom_objects(tmp_path):
    from kerasish.saving import serialization

    with pytest.raises(ValueError, match=r"Unknown layer class 'MyBlock'.*custom_objects"):
        serialization.deserialize({"class_name": "MyBlock", "config": {}})
    # In a file (Keras' own mlp with its second Dense renamed), the error names the file too.
    with zipfile.ZipFile(FIXTURES / "keras3" / "mlp.keras") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["class_name"] = "MyBlock"
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / "custom.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*'MyBlock'.*custom_objects"):
        keras.models.load_model(path)
