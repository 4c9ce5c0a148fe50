"""Our models against numbers recorded from real Keras 3.15 (tools/keras_goldens/record.py,
fixtures in tests/fixtures/keras_goldens/): the same architecture and initial weights must
give the same predictions and the same weight layout. Training goldens (train_on_batch,
fit history) are checked once compile/fit land."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
INDEX = json.loads((FIXTURES / "index.json").read_text())["cases"]


def _load(case):
    data = np.load(FIXTURES / f"{case}.npz")
    weights = [data[f"init_w{i}"] for i in range(len(INDEX[case]["weights"]))]
    return data, weights


BUILDERS = {
    "mlp": lambda: keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    ),
    "bce": lambda: keras.Sequential(
        [
            keras.Input((5,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ]
    ),
    "mse": lambda: keras.Sequential(
        [
            keras.Input((5,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(BUILDERS))
def test_predictions_match_keras(case):
    data, weights = _load(case)
    model = BUILDERS[case]()
    expected_shapes = [tuple(w["shape"]) for w in INDEX[case]["weights"]]
    assert [tuple(w.shape) for w in model.weights] == expected_shapes
    model.set_weights(weights)
    np.testing.assert_allclose(model(data["x"]).numpy(), data["predict"], rtol=1e-5, atol=1e-6)


def test_weight_paths_and_names_follow_keras_after_clear_session():
    keras.backend.clear_session()
    model = BUILDERS["mlp"]()
    assert [w.path for w in model.weights] == [w["path"] for w in INDEX["mlp"]["weights"]]
    assert [l.name for l in model.layers] == INDEX["mlp"]["layers"]
