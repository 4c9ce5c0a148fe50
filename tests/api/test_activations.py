"""Activations against values recorded from real Keras, plus names, aliases and tracing."""

import json
from pathlib import Path

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler
from kerasish import activations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_goldens"
GOLDEN = np.load(FIXTURES / "catalogue_activations.npz")
INFO = json.loads((FIXTURES / "catalogue_activations.json").read_text())
CASES = INFO["activations"]


def assert_close_to_keras(ours, golden):
    ours = np.asarray(ours)
    assert ours.shape == golden.shape and ours.dtype == np.float32
    finite = np.isfinite(golden)
    np.testing.assert_array_equal(ours[~finite], golden[~finite])  # exp overflows alike
    # 1e-5, relative for large values (exponential(80) is ~5e34).
    np.testing.assert_allclose(ours[finite], golden[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:overflow encountered")  # exponential(100) is inf, as Keras
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras(case):
    spec = CASES[case]
    fn = activations.get(spec["name"])
    assert_close_to_keras(fn(GOLDEN[spec["input"]], **spec["kwargs"]), GOLDEN[f"act__{case}"])


@pytest.mark.parametrize("case", ["relu_all", "gelu", "mish", "softmax", "hard_silu", "selu"])
def test_compiled_and_differentiable(case):
    spec = CASES[case]
    fn = activations.get(spec["name"])
    x = GOLDEN[spec["input"]]
    step = compiler.function(lambda t: fn(t, **spec["kwargs"]))
    assert_close_to_keras(step(x), GOLDEN[f"act__{case}"])
    v = Variable(x)
    with GradientTape() as tape:
        y = fn(v, **spec["kwargs"])
    grad = tape.gradient(y, v).numpy()
    assert grad.shape == x.shape and np.isfinite(grad).all()


def test_defaults_follow_keras():
    x = np.array([-2.0, 1.0], np.float32)
    assert activations.leaky_relu(x).numpy().tolist() == pytest.approx([-0.4, 1.0])
    exact = 0.5 * x * (1 + np.array([-0.9544997, 0.6826895]))
    np.testing.assert_allclose(activations.gelu(x).numpy(), exact, rtol=1e-5)
    assert activations.linear(x) is x


def test_get_resolves_every_keras_name():
    for name, keras_fn_name in INFO["aliases"]["activations"].items():
        if name == "sparsemax":
            continue  # not implemented
        assert activations.get(name).__name__ == keras_fn_name, name
    assert activations.get(None) is activations.linear
    assert activations.get(activations.relu) is activations.relu
    assert activations.get({"class_name": "function", "config": "tanh"}) is activations.tanh


def test_serialize_gives_keras_names():
    for name, serialized in INFO["activation_serialize"].items():
        if name == "sparsemax":
            continue
        assert activations.serialize(activations.get(name)) == serialized, name
        assert activations.deserialize(serialized) is activations.get(name)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known activations:.*'relu'"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


def test_register_custom_activation():
    @activations.register
    def my_act(x):
        return x

    assert activations.get("my_act") is my_act
    assert activations.serialize(my_act) == "my_act"
