"""Sequential, functional and subclassed models: structure, calling, configs, errors."""

import json

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops

rng = np.random.default_rng(0)


def test_sequential_list_add_pop_and_layers_exclude_the_input():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu")])
    model.add(layers.Dense(2))
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense"]
    assert model(np.ones((5, 4))).shape == (5, 2)
    assert [w.path for w in model.weights][0] == f"{model.name}/{model.layers[0].name}/kernel"
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and model(np.ones((5, 4))).shape == (5, 3)


def test_sequential_deferred_build():
    model = keras.Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.built and model.weights == []
    assert model(np.ones((2, 7))).shape == (2, 1)
    assert model.built and model.layers[0].kernel.shape == (7, 3)


def test_sequential_errors():
    with pytest.raises(TypeError, match="Layer instances"):
        keras.Sequential([layers.Dense(2), "dense"])
    dense = layers.Dense(2, name="same")
    with pytest.raises(ValueError, match="unique names"):
        keras.Sequential([dense, layers.Dense(2, name="same")])
    with pytest.raises(ValueError, match="first layer"):
        keras.Sequential([layers.Dense(2), keras.Input((3,))])
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"expects shape \(None, 4\).*\(3, 5\)"):
        model(np.ones((3, 5)))


def test_sequential_config_round_trip_gives_the_same_model():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(3, activation="tanh"),
            layers.Dropout(0.2),
            layers.Dense(2),
        ]
    )
    config = json.loads(json.dumps(model.get_config()))
    assert [c["class_name"] for c in config["layers"]] == [
        "InputLayer",
        "Dense",
        "Dropout",
        "Dense",
    ]
    restored = keras.Sequential.from_config(config)
    restored.set_weights(model.get_weights())
    x = rng.standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_functional_multi_input_output_shared_layers_and_order():
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    ha, hb = shared(a), shared(b)
    out1 = layers.Dense(2, name="head1")(ops.add(ha, hb) if False else ha)
    out2 = layers.Dense(1, name="head2")(hb)
    model = keras.Model([a, b], {"first": out1, "second": out2})
    # Keras' order: deepest first (the inputs), ties in the order a walk from outputs meets them
    assert [l.name for l in model.layers] == ["a", "b", "shared", "head1", "head2"]
    xa, xb = np.ones((2, 4), np.float32), np.zeros((2, 4), np.float32)
    out = model([xa, xb])
    assert set(out) == {"first", "second"} and out["first"].shape == (2, 2)
    w, bias = shared.get_weights()
    np.testing.assert_allclose(
        out["second"].numpy(),
        (xb @ w + bias) @ model.get_layer("head2").kernel.numpy()
        + model.get_layer("head2").bias.numpy(),
        rtol=1e-6,
    )
    assert len(model.weights) == 6  # the shared layer counts once


def test_functional_output_names_are_the_output_layers_names_in_output_order():
    inputs = keras.Input((3,), name="a")
    hidden = layers.Dense(2, name="h")(inputs)
    model = keras.Model(inputs, [layers.Dense(1, name="second")(hidden), hidden])
    assert model.output_names == ["second", "h"]  # Keras 3.15 gives ['second', 'h']
    model.compile(optimizer="sgd", loss={"h": "mse", "second": "mae"})
    logs = model.evaluate(
        np.ones((4, 3)),
        {"h": np.zeros((4, 2)), "second": np.zeros((4, 1))},
        verbose=0,
        return_dict=True,
    )
    assert set(logs) == {"loss", "second_loss", "h_loss"}


def test_a_dict_of_outputs_is_compiled_and_fitted_by_its_keys():
    inputs = keras.Input((3,))
    model = keras.Model(
        inputs,
        {
            "cls": layers.Dense(2, activation="softmax", name="d1")(inputs),
            "value": layers.Dense(1, name="d2")(inputs),
        },
    )
    assert model.output_names == ["d1", "d2"]  # the layers' names, as Keras
    model.compile(
        "sgd",
        loss={"cls": "sparse_categorical_crossentropy", "value": "mse"},
        loss_weights={"cls": 1.0, "value": 0.5},
        metrics={"cls": ["accuracy"]},
    )
    x, y = np.ones((8, 3)), {"cls": np.zeros(8), "value": np.ones((8, 1))}
    history = model.fit(x, y, epochs=1, verbose=0)
    # Keras 3.15 logs ['cls_accuracy', 'cls_loss', 'loss', 'value_loss'] for this model
    assert sorted(history.history) == ["cls_accuracy", "cls_loss", "loss", "value_loss"]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["value_loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="d1"):  # layer names are not the keys here (Keras:
        model.compile("sgd", loss={"d1": "mse"})  # a KeyError)


def test_evaluate_lists_in_metric_order_and_returns_dicts_and_history_by_name():
    inputs = keras.Input((3,))
    model = keras.Model(
        inputs,
        {
            "z": layers.Dense(1, kernel_initializer="zeros")(inputs),
            "a": layers.Dense(1, kernel_initializer="ones")(inputs),
        },
    )
    model.compile("sgd", loss={"z": "mse", "a": "mae"})
    x, y = np.ones((8, 3)), {"z": np.full((8, 1), 2.0), "a": np.zeros((8, 1))}
    # Keras 3.15 gives [7.0, 4.0, 3.0] and {'a_loss': 3.0, 'loss': 7.0, 'z_loss': 4.0}
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), [7.0, 4.0, 3.0])
    logs = model.evaluate(x, y, verbose=1, return_dict=True)
    assert list(logs) == ["a_loss", "loss", "z_loss"]
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    # Keras 3.15: ['a_loss', 'loss', 'val_a_loss', 'val_loss', 'val_z_loss', 'z_loss']
    assert list(history.history) == sorted(history.history) and len(history.history) == 6


def test_model_used_as_a_layer():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    outer_in = keras.Input((3,))
    outer = keras.Model(outer_in, layers.Dense(1)(inner(outer_in)))
    assert outer(np.ones((4, 3))).shape == (4, 1)
    assert len(outer.weights) == 4 and inner in outer.layers


def test_functional_errors():
    x = keras.Input((3,))
    other = keras.Input((3,))
    y = layers.Dense(2)(ops.concatenate([x, other], axis=1) if False else other)
    with pytest.raises(ValueError, match="disconnected"):
        keras.Model(x, y)
    z = layers.Dense(2, name="twin")(x)
    with pytest.raises(ValueError, match="unique names"):
        keras.Model(x, layers.Dense(2, name="twin")(z))
    with pytest.raises(TypeError, match="symbolic"):
        keras.Model(x, np.ones(3))


def test_subclassed_model():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(2)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    model = TwoLayers()
    y = model(np.ones((3, 5)))
    assert y.shape == (3, 2) and len(model.trainable_weights) == 4
    with keras.GradientTape() as tape:
        loss = ops.sum(model(np.ones((3, 5))))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_weights))


def test_calling_a_built_model_runs_its_inference_plan_and_tapes_still_work():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(2),
        ]
    )
    x = rng.standard_normal((3, 4)).astype("float32")
    first = model(x)
    second = model(x.astype("float64"))  # cast to the model's dtype; same signature
    np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=1e-6)
    (function,) = model._inference.values()
    assert function.plan_count == 1
    eager = ops.convert_to_numpy(keras.Layer.__call__(model, x))
    np.testing.assert_allclose(first.numpy(), eager, rtol=1e-6)  # Dropout off in inference
    with keras.GradientTape() as tape:
        loss = ops.sum(model(x))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)


def test_summary_prints_keras_table(capsys):
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, name="d1"), layers.Dense(2, name="d2")], name="tiny"
    )
    model.layers[0].trainable = False
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "tiny"' in text
    assert "d1 (Dense)" in text and "(None, 3)" in text and "15" in text
    assert "Total params: 23 (92.00 B)" in text
    assert "Trainable params: 8 (32.00 B)" in text
    assert "Non-trainable params: 15 (60.00 B)" in text
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "tiny"'


def test_summary_counts_a_built_optimizers_variables_as_keras():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3), layers.BatchNormalization()])
    model.compile("adam", "mse")
    compiled = []
    model.summary(print_fn=compiled.append)
    assert not any("Optimizer params" in line for line in compiled)  # not built yet
    model.fit(np.ones((4, 6)), np.ones((4, 3)), verbose=0)
    text = []
    model.summary(print_fn=text.append)
    # Keras 3.15: Total params: 89, Optimizer params: 56 (the step count, the learning rate
    # and Adam's two slots for each of the 27 trainable weights)
    assert any(line.startswith(" Total params: 89 (") for line in text)
    assert any(line.startswith(" Optimizer params: 56 (") for line in text)


def test_functional_config_round_trip_json_and_clone():
    a = keras.Input((4,), name="in_a")
    b = keras.Input((3,), name="in_b")
    shared = layers.Dense(5, activation="relu", name="enc")
    h = layers.Concatenate(name="join")([shared(layers.Dense(4, name="pa")(a)), shared(a)])
    model = keras.Model(
        {"x": a, "y": b}, [layers.Dense(2, name="o1")(h), layers.Add(name="o2")([b, b])]
    )
    config = json.loads(json.dumps(model.get_config()))
    assert config["input_layers"] == {"x": ["in_a", 0, 0], "y": ["in_b", 0, 0]}
    enc = next(l for l in config["layers"] if l["name"] == "enc")
    assert len(enc["inbound_nodes"]) == 2  # the shared layer is called twice
    restored = keras.Model.from_config(config)
    assert [l.name for l in restored.layers] == [l.name for l in model.layers]
    restored.set_weights(model.get_weights())
    data = {"y": np.ones((2, 3), np.float32), "x": rng.standard_normal((2, 4)).astype("float32")}
    for ours, theirs in zip(restored(data), model(data), strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    from_json = keras.models.model_from_json(model.to_json())
    assert len(from_json.weights) == len(model.weights)
    clone = keras.models.clone_model(model)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])  # fresh weights
    with pytest.raises(ValueError, match="Missing"):
        model({"x": data["x"]})


def test_model_from_json_refuses_unknown_classes():
    text = json.dumps({"class_name": "os.system", "config": {"name": "evil"}})
    with pytest.raises(ValueError, match="Unknown layer class"):
        keras.models.model_from_json(text)
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.model_from_json("{oops")


def test_registered_custom_layer_round_trips_through_json():
    @keras.saving.register_keras_serializable(package="tests")
    class Scale(keras.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = keras.Sequential([keras.Input((2,)), Scale(3.0), layers.Dense(1)])
    restored = keras.models.model_from_json(model.to_json())
    assert isinstance(restored.layers[0], Scale) and restored.layers[0].factor == 3.0


def test_functional_summary_has_connected_to_column(capsys):
    a = keras.Input((4,), name="in_a")
    b = keras.Input((3,), name="in_b")
    joined = layers.Concatenate(name="joined")([a, b])
    model = keras.Model([a, b], layers.Dense(2, name="head")(joined))
    assert model.name.startswith("functional")
    model.summary()
    text = capsys.readouterr().out
    assert "Connected to" in text
    assert "in_a[0][0], in_b[0][0]" in text and "joined[0][0]" in text


def test_input_and_output_shape():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    with pytest.raises(AttributeError, match="not built"):
        _ = keras.Sequential([layers.Dense(2)]).output_shape
