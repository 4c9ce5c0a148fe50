"""Mistakes a newcomer makes, and messages that say what to change."""

import warnings

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers


def _mlp(first=None):
    stack = [keras.Input((8,))] + ([first] if first is not None else [])
    model = keras.Sequential(stack + [layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8), dtype=np.float32), rng.integers(0, 3, n)


def test_a_nested_list_of_numbers_is_one_array():
    model = _mlp()
    x, y = _data()
    rows = x.tolist()
    np.testing.assert_allclose(model.predict(rows, verbose=0), model.predict(x, verbose=0))
    assert model.evaluate(rows, y.tolist(), verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6
    )


def test_labels_given_as_a_python_list_train_as_the_array_would():
    losses = []
    for labels in (list, np.asarray):
        keras.utils.set_random_seed(0)
        model = _mlp()
        x, y = _data()
        history = model.fit(x, labels(y.tolist()), epochs=2, batch_size=8, verbose=0)
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_rows_of_different_lengths_say_to_make_them_equal():
    with pytest.raises(ValueError, match="different lengths") as info:
        _mlp().predict([[0.0] * 8, [0.0] * 3], verbose=0)
    assert "pad_sequences" in str(info.value) and "np.asarray(x)" in str(info.value)


def test_a_bare_number_is_named_without_calling_it_a_scalar():
    with pytest.raises(ValueError) as info:
        _mlp().predict(3.0, verbose=0)
    assert "scalar" not in str(info.value) and "np.asarray(x)" in str(info.value)


@pytest.mark.parametrize("method", ["predict", "evaluate", "fit"])
def test_one_sample_without_its_batch_axis_suggests_adding_it(method):
    model = _mlp()
    sample = np.zeros(8, np.float32)
    args = (sample,) if method == "predict" else (sample, np.zeros(8, np.int64))
    with pytest.raises(ValueError) as info:
        getattr(model, method)(*args, verbose=0)
    message = str(info.value)
    assert "(None, 8)" in message and "(8,)" in message and "x[None]" in message


def test_one_hot_labels_with_the_sparse_loss_say_which_loss_to_use():
    x, y = _data()
    with pytest.raises(ValueError) as info:
        _mlp().fit(x, np.eye(3)[y], verbose=0)
    message = str(info.value)
    assert "one-hot" in message and "'categorical_crossentropy'" in message
    assert "np.argmax(y, axis=-1)" in message


def test_class_indices_with_the_one_hot_loss_say_which_loss_to_use():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError) as info:
        model.fit(x, y, verbose=0)
    message = str(info.value)
    assert "'sparse_categorical_crossentropy'" in message
    assert "keras.utils.to_categorical(y, 3)" in message


def test_the_right_labels_for_each_loss_still_train():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert np.isfinite(model.fit(x, np.eye(3)[y], verbose=0).history["loss"][0])
    assert np.isfinite(_mlp().fit(x, y[:, None], verbose=0).history["loss"][0])


def _fit_warnings(model, x, y, times=2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(times):
            model.fit(x, y, verbose=0)
    return [w for w in caught if "pixel" in str(w.message)]


def test_raw_pixel_values_warn_once_with_the_fix():
    x, y = _data()
    pixels = np.round(x * 255)
    found = _fit_warnings(_mlp(), pixels, y)
    assert len(found) == 1
    assert "x / 255" in str(found[0].message) and "Rescaling(1 / 255)" in str(found[0].message)


@pytest.mark.parametrize("case", ["scaled", "rescaling layer", "fractional", "negative"])
def test_data_that_is_not_raw_pixels_or_is_rescaled_does_not_warn(case):
    x, y = _data()
    pixels = np.round(x * 255)
    model, data = _mlp(), pixels
    if case == "scaled":
        data = x
    elif case == "rescaling layer":
        model = _mlp(layers.Rescaling(1 / 255))
    elif case == "fractional":
        data = pixels + 0.5
    elif case == "negative":
        data = pixels - 128
    assert _fit_warnings(model, data, y) == []


def _image_model(*front):
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), *front, layers.Flatten(), layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_augmentation_before_the_rescaling_layer_does_not_warn_and_without_it_does():
    rng = np.random.default_rng(0)
    pixels, y = np.round(rng.random((16, 4, 4, 1)) * 255).astype("float32"), rng.integers(0, 3, 16)
    augment = keras.Sequential([layers.RandomRotation(0.05), layers.RandomZoom(0.1)])
    rescaled = _image_model(augment, layers.RandomTranslation(0.1, 0.1), layers.Rescaling(1 / 255))
    assert _fit_warnings(rescaled, pixels, y) == []  # the order of Keras' own examples
    unscaled = _image_model(keras.Sequential([layers.RandomRotation(0.05)]), layers.RandomZoom(0.1))
    assert len(_fit_warnings(unscaled, pixels, y)) == 1


def test_summary_of_an_unbuilt_model_says_how_to_build_it():
    model = keras.Sequential([layers.Dense(3)])
    lines = []
    model.summary(print_fn=lines.append)
    assert "model.build((None, ...))" in lines[-1] and "keras.Input(shape=...)" in lines[-1]
    model.build((None, 4))
    lines.clear()
    model.summary(print_fn=lines.append)
    assert not any("not built" in line for line in lines)
