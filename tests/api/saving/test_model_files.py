"""Whole models to files and back: `.keras` and legacy `.h5`, every model style, compiled
and ready to continue training."""

import json
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

rng = np.random.default_rng(0)
FORMATS = ["model.keras", "model.h5"]


def _mlp():
    model = keras.Sequential(
        [keras.Input((6,)), layers.Dense(8, activation="relu"), layers.BatchNormalization(),
         layers.Dense(3, activation="softmax")]
    )  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy", "mae"],
    )
    return model


def _data(n=32):
    return rng.standard_normal((n, 6)).astype("float32"), np.eye(3)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("name", FORMATS)
def test_a_model_saved_mid_training_continues_with_the_same_losses(tmp_path, name):
    x, y = _data()
    model = _mlp()
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)
    assert type(restored.optimizer).__name__ == "Adam"
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 8
    for ours, theirs in zip(restored.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    after = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    again = restored.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    assert after.keys() == again.keys() == {"loss", "accuracy", "mae"}
    for key in after:
        np.testing.assert_allclose(again[key], after[key], rtol=1e-6)


@pytest.mark.parametrize("name", FORMATS)
def test_functional_model_with_shared_layers_several_inputs_and_outputs(tmp_path, name):
    a = keras.Input((4,), name="in_a")
    b = keras.Input((3,), name="in_b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    joined = layers.Concatenate(name="join")([shared(layers.Dense(4, name="pre")(a)), shared(a)])
    inner = keras.Sequential(
        [keras.Input((10,)), layers.Dense(2, name="inner_dense")], name="inner"
    )
    model = keras.Model([a, b], [inner(joined), layers.Add(name="sum")([b, b])], name="two_outputs")
    model.compile("sgd", loss=["mse", "mae"], loss_weights=[1.0, 0.5])
    xs = [rng.standard_normal((5, 4)).astype("float32"), rng.standard_normal((5, 3)).astype("f4")]
    model.fit(xs, [np.zeros((5, 2)), np.zeros((5, 3))], verbose=0)
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    assert restored.get_config() == model.get_config()
    for ours, theirs in zip(restored.predict(xs, verbose=0), model.predict(xs, verbose=0),
                            strict=True):  # fmt: skip
        np.testing.assert_array_equal(ours, theirs)
    assert restored._compile_loss.weights == [1.0, 0.5]


@keras.saving.register_keras_serializable(package="tests")
class Residual(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units, name="inner")
        self.blocks = [layers.Dense(units), layers.Dense(units)]
        self.scale = self.add_weight(shape=(units,), initializer="ones", name="scale")

    def call(self, x):
        h = self.inner(x)
        for block in self.blocks:
            h = h + block(h)
        return h * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@pytest.mark.parametrize("name", FORMATS)
def test_registered_subclassed_model(tmp_path, name):
    model = Residual(units=3)
    model.compile("adam", "mse")
    x = rng.standard_normal((4, 3)).astype("float32")
    model.fit(x, x, verbose=0)
    model.scale.assign(np.array([1.0, 2.0, 3.0], "float32"))
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)
    assert isinstance(restored, Residual) and restored.units == 3
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(restored.optimizer.iterations) == 1


@keras.saving.register_keras_serializable(package="tests")
def halved_mse(y_true, y_pred):
    return 0.5 * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="tests")
def largest_output(y_true, y_pred):
    return keras.ops.max(y_pred, axis=-1)


@pytest.mark.parametrize("name", FORMATS)
def test_registered_loss_and_metric_functions_load_from_the_registry(tmp_path, name):
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3)])
    model.compile("adam", loss=halved_mse, metrics=["mae", largest_output])
    x, y = _data()
    model.fit(x, y, verbose=0)
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)  # no custom_objects
    assert restored.loss is halved_mse
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    theirs = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(theirs) == ["largest_output", "loss", "mae"]
    np.testing.assert_allclose(
        [theirs[k] for k in sorted(ours)], [ours[k] for k in sorted(ours)], rtol=1e-6
    )


def test_registered_functions_are_written_as_keras_writes_them(tmp_path):
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3)])
    model.compile("adam", loss=halved_mse, metrics=[largest_output])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        compiled = json.loads(archive.read("config.json"))["compile_config"]
    # Keras 3.15 writes a function registered with package "tests" so:
    assert compiled["loss"] == {
        "module": "builtins",
        "class_name": "function",
        "config": "tests>halved_mse",
        "registered_name": "function",
    }
    assert compiled["metrics"] == [
        {
            "module": "builtins",
            "class_name": "function",
            "config": "tests>largest_output",
            "registered_name": "function",
        }
    ]


def test_keras_layout_paths_of_a_subclassed_model(tmp_path):
    model = Residual(units=2)
    model(np.ones((1, 2), "float32"))
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as f:
        groups = []
        f.visititems(lambda n, o: groups.append(n) if n.endswith("vars") else None)
    assert sorted(groups) == ["blocks/dense/vars", "blocks/dense_1/vars", "inner/vars", "vars"]


def test_legacy_h5_layout_and_training_config(tmp_path):
    model = _mlp()
    model.fit(*_data(8), verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as f:
        assert f.attrs["keras_version"] == "3.15.1"
        assert f.attrs["kerasish_version"] == keras.__version__
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        train = json.loads(f.attrs["training_config"])
        assert train["loss"] == "categorical_crossentropy"
        assert train["metrics"][0] == "accuracy"
        assert train["metrics"][1]["class_name"] == "MeanAbsoluteError"  # not the alias "mae"
        assert train["optimizer_config"]["class_name"] == "Adam"
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["model_weights"].attrs["layer_names"]]  # fmt: skip
        assert names == [layer.name for layer in model.layers]
        dense = f["model_weights"][model.layers[0].name]
        assert [n.decode() for n in dense.attrs["weight_names"]] == [
            w.path for w in model.layers[0].weights
        ]
        opt = [n.decode() for n in f["optimizer_weights"].attrs["weight_names"]]
        assert opt[:2] == ["adam/iteration", "adam/learning_rate"]
        assert opt[2].endswith("_momentum") and opt[3].endswith("_velocity")


def test_compile_false_and_uncompiled_models(tmp_path):
    model = _mlp()
    model.fit(*_data(8), verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert not restored.compiled
    plain = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    plain.save(tmp_path / "plain.h5")
    with pytest.warns(UserWarning, match="uncompiled"):
        assert not keras.models.load_model(tmp_path / "plain.h5").compiled


def test_json_and_clone_round_trips_for_every_model_style():
    seq = _mlp()
    for model in (seq, keras.Model(seq.inputs[0], seq.outputs[0])):
        again = keras.models.model_from_json(model.to_json())
        assert again.get_config() == model.get_config()
        clone = keras.models.clone_model(model)
        assert clone.get_config() == model.get_config()
        assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    subclassed = Residual(units=2)
    assert keras.models.clone_model(subclassed).units == 2


def test_clone_function_and_input_tensors():
    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, layers.Dense(2, name="out")(layers.Dense(4, name="hid")(inputs)))

    def widen(layer):
        config = layer.get_config()
        if layer.name == "hid":
            config["units"] = 6
        return type(layer).from_config(config)

    clone = keras.models.clone_model(model, clone_function=widen)
    assert clone.get_layer("hid").units == 6
    assert clone.get_layer("out").kernel.shape == (6, 2)
    seq = keras.Sequential([layers.Dense(2, name="a"), layers.Dense(1, name="b")])
    fresh = keras.Input((5,))
    seq_clone = keras.models.clone_model(seq, input_tensors=fresh, clone_function=widen)
    assert seq_clone.layers[0].kernel.shape == (5, 2)


def test_save_errors(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        model.save(tmp_path / "model.txt")
    (tmp_path / "exists.keras").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "exists.keras", overwrite=False)
    assert (tmp_path / "exists.keras").read_bytes() == b"old"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "exists.keras")
    assert keras.models.load_model(tmp_path / "exists.keras").name == model.name


@pytest.mark.parametrize("name", FORMATS)
def test_a_compiled_model_saved_before_training_loads_and_trains(tmp_path, name):
    # Its optimizer has no slots yet: the file holds the step count and learning rate only.
    model = _mlp()
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)
    assert int(restored.optimizer.iterations) == 0
    x, y = _data(8)
    restored.set_weights(model.get_weights())
    first = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    again = restored.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(again["loss"], first["loss"], rtol=1e-6)


def _functional_with_everything():
    a, b = keras.Input((4,), name="in_a"), keras.Input((3,), name="in_b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    inner = keras.Sequential([keras.Input((5,)), layers.Dense(2, name="inner_dense")], name="inn")
    nested = keras.Model(c := keras.Input((3,)), layers.Dense(5, name="up")(c), name="nested")
    left, right = shared(a), shared(layers.Dense(4, name="pre")(nested(b)))
    return keras.Model([a, b], [inner(left), layers.Add(name="sum")([left, right])], name="f")


def test_config_and_json_round_trips_for_every_model_style(tmp_path):
    """get_config/from_config, to_json/model_from_json and kerasish.saving's save_model /
    load_model give back the same config and, with the weights set, the same predictions:
    Sequential, functional (a shared layer, two inputs and outputs, nested Sequential and
    functional models) and a registered subclassed model."""
    xs = [rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal((3, 3)).astype("f4")]
    models = {"sequential": (_mlp(), _data(3)[0]),
              "functional": (_functional_with_everything(), xs),
              "subclassed": (Residual(units=3), xs[1])}  # fmt: skip
    for style, (model, x) in models.items():
        expected = model.predict(x, verbose=0)
        rebuilt = [type(model).from_config(model.get_config()),
                   keras.models.model_from_json(model.to_json())]  # fmt: skip
        for again in rebuilt:
            assert type(again) is type(model) and again.get_config() == model.get_config(), style
            again(x) if style == "subclassed" else None  # builds a subclassed model's weights
            again.set_weights(model.get_weights())
            for ours, theirs in zip(_flat(again.predict(x, verbose=0)), _flat(expected),
                                    strict=True):  # fmt: skip
                np.testing.assert_array_equal(ours, theirs, err_msg=style)
        keras.saving.save_model(model, tmp_path / f"{style}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{style}.keras", compile=False)
        assert loaded.get_config() == model.get_config()
        for ours, theirs in zip(_flat(loaded.predict(x, verbose=0)), _flat(expected), strict=True):
            np.testing.assert_array_equal(ours, theirs, err_msg=style)
    with pytest.raises(ValueError, match=r"Unknown .*'Unregistered'.*custom_objects"):

        class Unregistered(keras.Model):
            def call(self, x):
                return x

        keras.models.model_from_json(Unregistered().to_json())


def _flat(outputs):
    return outputs if isinstance(outputs, list) else [outputs]
