"""Models that start with strings: `Input(dtype="string")` -> TextVectorization /
StringLookup (run eagerly on each batch) -> the traced, compiled rest. fit, evaluate,
predict and model(x) on arrays and lists of strings; the same numbers as running the layers
by hand; clear errors for layers in the wrong place."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

GOOD = ["what a great film", "great acting and a great story", "i loved it",
        "a wonderful and moving story", "loved the music"]  # fmt: skip
BAD = ["what a dull film", "dull acting and a boring story", "i hated it",
       "a tedious and empty story", "hated the music"]  # fmt: skip
TEXTS = np.array(GOOD + BAD)
LABELS = np.array([1.0] * 5 + [0.0] * 5, np.float32)


def bag_of_words_model(input_shape=(1,)):
    vectorize = layers.TextVectorization(output_mode="multi_hot")
    vectorize.adapt(TEXTS)
    inputs = keras.Input(shape=input_shape, dtype="string")
    outputs = layers.Dense(1, activation="sigmoid")(vectorize(inputs))
    return keras.Model(inputs, outputs), vectorize


def by_hand(model, vectorize, texts):
    """The model's output computed from the layers' own pieces: TextVectorization's output,
    then the Dense weights in numpy."""
    kernel, bias = model.layers[-1].get_weights()
    z = vectorize(texts).numpy() @ kernel + bias
    return 1 / (1 + np.exp(-z))


def test_fit_evaluate_predict_and_call_on_strings():
    keras.utils.set_random_seed(0)
    model, vectorize = bag_of_words_model()
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(TEXTS, LABELS, epochs=15, batch_size=4, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    loss, accuracy = model.evaluate(list(TEXTS), LABELS, batch_size=3, verbose=0)
    assert accuracy == 1.0 and loss < history.history["loss"][0]
    expected = by_hand(model, vectorize, TEXTS)
    np.testing.assert_allclose(model.predict(TEXTS, batch_size=3, verbose=0), expected, rtol=1e-5)
    for data in (TEXTS, TEXTS[:, None], list(TEXTS)):  # (n,), (n, 1) and a list of str
        np.testing.assert_allclose(model(data).numpy(), expected, rtol=1e-5)
    with keras.GradientTape():  # the op-by-op path gives the same numbers
        eager = model(TEXTS)
    np.testing.assert_allclose(eager.numpy(), expected, rtol=1e-5)
    new = ["a great story", "a boring film"]
    assert (model.predict(new, verbose=0)[:, 0] > 0.5).tolist() == [True, False]


def test_scalar_string_input_run_eagerly_and_validation_data():
    keras.utils.set_random_seed(1)
    model, vectorize = bag_of_words_model(input_shape=())
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", run_eagerly=True)
    history = model.fit(TEXTS, LABELS, epochs=2, validation_data=(list(TEXTS), LABELS), verbose=0)
    assert set(history.history) == {"loss", "val_loss"}
    np.testing.assert_allclose(
        model.predict(TEXTS[:, None], verbose=0), by_hand(model, vectorize, TEXTS), rtol=1e-5
    )
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy")
    model.train_on_batch(list(TEXTS), LABELS)
    np.testing.assert_allclose(
        model.predict_on_batch(TEXTS), by_hand(model, vectorize, TEXTS), rtol=1e-5
    )


def test_sequential_with_a_string_input_and_deferred_build():
    vectorize = layers.TextVectorization(output_sequence_length=5, vocabulary=["great", "dull"])
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), vectorize])
    # A model of preprocessing only: its output is TextVectorization's.
    expected = vectorize(TEXTS).numpy()
    np.testing.assert_array_equal(model.predict(TEXTS, batch_size=4, verbose=0), expected)
    np.testing.assert_array_equal(model(list(TEXTS)).numpy(), expected)
    deferred = keras.Sequential([vectorize, layers.Dense(2)])
    deferred.build((None, 1))
    assert deferred.inputs[0].dtype == "string"
    assert deferred.predict(TEXTS, verbose=0).shape == (10, 2)


def test_string_and_numeric_inputs_together():
    lookup = layers.StringLookup(vocabulary=["red", "green", "blue"], output_mode="one_hot")
    colour = keras.Input(shape=(1,), dtype="string", name="colour")
    size = keras.Input(shape=(2,), name="size")
    merged = layers.Concatenate()([lookup(colour), layers.Dense(3)(size)])
    model = keras.Model([colour, size], layers.Dense(1)(merged))
    colours, sizes = np.array(["red", "blue", "pink"]), np.ones((3, 2), np.float32)
    out = model.predict({"size": sizes, "colour": colours}, verbose=0)
    assert out.shape == (3, 1)
    np.testing.assert_allclose(model([colours, sizes]).numpy(), out, rtol=1e-6)
    model.compile("sgd", "mse")
    model.fit([colours, sizes], np.zeros((3, 1)), verbose=0)


def test_integer_lookup_at_the_start_of_a_model():
    lookup = layers.IntegerLookup(vocabulary=[100, 200, 300], output_mode="multi_hot")
    inputs = keras.Input(shape=(3,), dtype="int64")
    model = keras.Model(inputs, layers.Dense(1, use_bias=False)(lookup(inputs)))
    model.layers[-1].set_weights([np.array([[1.0], [10.0], [100.0], [1000.0]], np.float32)])
    ids = np.array([[100, 300, 7], [200, 200, 200]])
    # Multi-hot over [OOV, 100, 200, 300], then the weights 1, 10, 100, 1000.
    assert model.predict(ids, verbose=0)[:, 0].tolist() == [1011.0, 100.0]


def test_config_round_trip_of_a_string_model():
    vectorize = layers.TextVectorization(output_sequence_length=4, vocabulary=["a", "b"])
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, layers.Dense(2)(vectorize(inputs)))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(["a b c"], verbose=0), model.predict(["a b c"]))


def test_misplaced_layers_are_errors():
    strings = keras.Input(shape=(1,), dtype="string")
    with pytest.raises(ValueError, match="Layer 'late_dense' computes on numbers.*string input"):
        layers.Dense(2, name="late_dense")(strings)
    numbers = keras.Input(shape=(3,), dtype="int64")
    late = layers.IntegerLookup(vocabulary=[1], name="late_lookup")(layers.Identity()(numbers))
    with pytest.raises(
        ValueError, match="IntegerLookup 'late_lookup' computes on data .* 'identity"
    ):
        keras.Model(numbers, late)
    with pytest.raises(ValueError, match="strings from 'input_layer.*' reach the model's compiled"):
        keras.Model(strings, strings)


def test_bad_data_for_a_string_input():
    model, _ = bag_of_words_model()
    with pytest.raises(ValueError, match="input '.*' takes strings. Received: data of dtype float"):
        model.predict(np.ones((2, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"expects shape \(None, 1\). Received: strings of shape"):
        model(np.array([["a", "b"]]))


def test_inputs_given_in_other_containers():
    model, vectorize = bag_of_words_model()
    expected = by_hand(model, vectorize, TEXTS)
    np.testing.assert_allclose(model.predict([TEXTS], verbose=0), expected, rtol=1e-5)
    np.testing.assert_allclose(model([TEXTS]).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(model(tuple(TEXTS)).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"expects 1 input\(s\). Received: 2"):
        model.predict([TEXTS, TEXTS], verbose=0)
    with pytest.raises(ValueError, match="rectangular data.*pad_sequences"):
        layers.StringLookup(vocabulary=["a"])([["a", "b"], ["a"]])


def test_object_and_bytes_arrays_of_text():
    model, vectorize = bag_of_words_model()
    expected = by_hand(model, vectorize, TEXTS)
    for data in (TEXTS.astype(object), np.char.encode(TEXTS, "utf-8")):
        np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-5)
    model.compile("sgd", "binary_crossentropy")
    model.fit(TEXTS.astype(object), LABELS, verbose=0)
