"""Strings given to a model whose inputs are numbers: one clear TypeError (naming the input
and pointing to TextVectorization / StringLookup) from fit, evaluate, predict, the
*_on_batch methods and model(x)."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.trainers import data_adapter

MESSAGE = (
    r"Model 'reader': input 'words' expects numbers \(float32\), but received text .*"
    r"`TextVectorization`.*`StringLookup`"
)


def _model():
    inputs = keras.Input((1,), name="words")
    model = keras.Model(inputs, layers.Dense(2)(inputs), name="reader")
    model.compile("sgd", "mse")
    return model


TEXTS = [
    np.array([["the cat"], ["a dog"]]),  # numpy's unicode strings
    np.array([["the cat"], ["a dog"]], dtype=object),  # Python strings in an object array
    [["the cat"], ["a dog"]],  # nested lists of str
    ["the cat", "a dog"],  # a list of str: one input of text, not two inputs
]


@pytest.mark.parametrize("text", TEXTS, ids=["unicode", "object", "nested list", "list"])
def test_text_to_a_numeric_model_is_a_clear_type_error(text):
    model = _model()
    y = np.zeros((2, 2), np.float32)
    calls = [
        lambda: model.fit(text, y, verbose=0),
        lambda: model.evaluate(text, y, verbose=0),
        lambda: model.predict(text, verbose=0),
        lambda: model.train_on_batch(text, y),
        lambda: model.test_on_batch(text, y),
        lambda: model.predict_on_batch(text),
        lambda: model(text),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=MESSAGE):
            call()


def test_text_detection():
    assert data_adapter.is_text(["a", ["b"]]) and data_adapter.is_text(np.array([b"x"]))
    assert not data_adapter.is_text([1, "a"]) and not data_adapter.is_text(np.zeros(2))
    assert not data_adapter.is_text(np.array([None, 1], dtype=object))
    with pytest.raises(TypeError, match="must be numeric arrays"):
        data_adapter.to_arrays(np.array([None, 1], dtype=object), "x")
