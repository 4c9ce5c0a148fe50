"""split_dataset (against Keras' own splits), config.backend, set_random_seed."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish.utils import split_dataset

GOLDENS = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"


@pytest.mark.parametrize(
    "case", sorted(json.loads((GOLDENS / "split_dataset.json").read_text())["cases"].items()),
    ids=lambda case: case[0],
)  # fmt: skip
def test_split_dataset_selects_the_samples_keras_selects(case):
    _, recorded = case
    x = np.arange(10)
    data = (x, x * 10) if recorded["pairs"] else x
    left, right = split_dataset(data, **recorded["kwargs"])
    if recorded["pairs"]:  # Keras gives samples (x_i, y_i); here the parts keep (x, y)
        left, right = np.stack(left, axis=1), np.stack(right, axis=1)
    assert left.tolist() == recorded["left"] and right.tolist() == recorded["right"]


def test_split_dataset_keeps_the_structure_and_does_not_touch_the_global_rng():
    data = {"pixels": np.arange(12).reshape(6, 2), "label": np.arange(6)}
    state = random.getstate()
    left, right = split_dataset(data, left_size=4, shuffle=True, seed=3)
    assert random.getstate() == state
    assert set(left) == {"pixels", "label"} and left["pixels"].shape == (4, 2)
    np.testing.assert_array_equal(left["pixels"][:, 0] // 2, left["label"])  # rows stay paired
    both = np.concatenate([left["label"], right["label"]])
    assert sorted(both.tolist()) == list(range(6))
    x_left, x_right = split_dataset([np.arange(5), np.ones(5)], right_size=0.4)
    assert isinstance(x_left, list) and x_right[0].tolist() == [3, 4]


def test_split_dataset_bad_sizes_are_named():
    x = np.arange(10)
    with pytest.raises(ValueError, match="Received: left_size=None and right_size=None"):
        split_dataset(x)
    with pytest.raises(ValueError, match="Received: left_size=10"):
        split_dataset(x, left_size=10)
    with pytest.raises(ValueError, match="Received: right_size=1.5"):
        split_dataset(x, right_size=1.5)
    with pytest.raises(ValueError, match="more than the 10"):
        split_dataset(x, left_size=0.6, right_size=0.6)
    with pytest.raises(ValueError, match="leave one part empty"):
        split_dataset(np.arange(3), left_size=0.1)
    with pytest.raises(ValueError, match="same"):
        split_dataset((np.arange(3), np.arange(4)), left_size=1)
    with pytest.raises(TypeError, match="Received: left_size='half'"):
        split_dataset(x, left_size="half")
    with pytest.raises(TypeError, match="Received: dataset of type generator"):
        split_dataset(i for i in range(3))


def test_config_backend_names_kerasish():
    assert keras.config.backend() == "kerasish"


def test_set_random_seed_makes_keras_random_numpy_and_python_draws_repeat():
    def draws():
        return (keras.random.uniform((3,)).numpy().tolist(), np.random.rand(2).tolist(),
                random.random())  # fmt: skip

    keras.utils.set_random_seed(123)
    first = draws()
    keras.utils.set_random_seed(123)
    assert draws() == first
    keras.utils.set_random_seed(124)
    assert draws() != first
