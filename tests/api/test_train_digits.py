"""End to end: the two-layer network of examples/train_digits.py (ops, Variable and
GradientTape only) learns the bundled digits."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("train_digits_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_two_layer_network_reaches_95_percent_train_accuracy(compiled):
    result = _load_example().train(epochs=20, compiled=compiled, verbose=False)
    assert result["train_accuracy"] >= 0.95, result
    assert result["test_accuracy"] >= 0.85, result  # it generalizes, not just memorizes


def test_compiled_and_eager_training_agree():
    example = _load_example()
    eager = example.train(epochs=2, compiled=False, verbose=False)
    compiled = example.train(epochs=2, compiled=True, verbose=False)
    assert abs(eager["train_accuracy"] - compiled["train_accuracy"]) < 0.01
