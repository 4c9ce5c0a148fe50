"""Adapted preprocessing state through files: TextVectorization, StringLookup and
IntegerLookup vocabularies (and TF-IDF weights), Normalization's statistics.

In `.keras` they are where Keras keeps them: vocabularies as `assets/<layer path>/
vocabulary.txt` (the member names of Keras' own files are compared), IDF weights and
Normalization's mean, variance and count as variables in `model.weights.h5`. In a legacy
`.h5` (Keras' legacy format has no assets) a vocabulary is written into its layer's config
in `model_config`, and Normalization's statistics are weights under `model_weights/`."""

import json
import pathlib
import zipfile

import h5py
import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

CATALOGUE = pathlib.Path(__file__).parents[2] / "fixtures" / "keras_files" / "catalogue"
CORPUS = ["the cat sat on the mat", "the dog ate my homework", "a bird in the hand",
          "dogs and cats", "the quick brown fox jumps over the lazy dog"]  # fmt: skip


def _model():
    vectorize = layers.TextVectorization(max_tokens=25, output_sequence_length=5, name="vec")
    vectorize.adapt(CORPUS)
    tfidf = layers.TextVectorization(max_tokens=12, output_mode="tf_idf", name="tfidf")
    tfidf.adapt(CORPUS)
    words = layers.StringLookup(output_mode="one_hot", name="words")
    words.adapt(np.array(" ".join(CORPUS).split()))
    numbers = layers.IntegerLookup(output_mode="multi_hot", name="numbers")
    numbers.adapt(np.array([3, 7, 7, 9, 12, 12, 12, 40]))
    norm = layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(1).normal(2.0, 3.0, (30, 4)).astype("float32"))
    text_in = keras.Input((1,), dtype="string", name="text")
    word_in = keras.Input((1,), dtype="string", name="word")
    number_in = keras.Input((3,), dtype="int64", name="ints")
    real_in = keras.Input((4,), name="real")
    ids = layers.GlobalAveragePooling1D()(layers.Embedding(25, 3)(vectorize(text_in)))
    x = layers.Concatenate()(
        [ids, tfidf(text_in), words(word_in), numbers(number_in), norm(real_in)]
    )
    model = keras.Model([text_in, word_in, number_in, real_in], layers.Dense(2)(x))
    model.compile("adam", "mse")
    return model


def _inputs():
    rng = np.random.default_rng(2)
    return [np.array([["the cat ate the fox"], ["unknown words here"], ["a dog"]]),
            np.array([["dog"], ["zebra"], ["the"]]),
            np.array([[3, 7, 99], [12, 12, 40], [0, 9, 3]]),
            rng.standard_normal((3, 4)).astype("float32")]  # fmt: skip


def _state(model):
    state = {n: model.get_layer(n).get_vocabulary() for n in ("vec", "tfidf", "words", "numbers")}
    norm = model.get_layer("norm")
    state["norm"] = [np.asarray(w) for w in norm.get_weights()]
    return state


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_adapted_state_round_trips(tmp_path, name):
    model = _model()
    x = _inputs()
    model.save(tmp_path / name)
    restored = keras.models.load_model(tmp_path / name)
    ours, theirs = _state(restored), _state(model)
    for key in ("vec", "tfidf", "words", "numbers"):
        assert ours[key] == theirs[key], key
    for a, b in zip(ours["norm"], theirs["norm"], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_where_the_keras_archive_keeps_it(tmp_path):
    model = _model()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        names = set(archive.namelist())
        # Keras names the paths from the class, not the layer's name.
        words = archive.read("assets/layers/string_lookup/vocabulary.txt").decode().split("\n")
        weights = archive.read("model.weights.h5")
    assert words == model.get_layer("words").get_vocabulary()
    assert {"assets/layers/text_vectorization/vocabulary.txt",
            "assets/layers/text_vectorization_1/vocabulary.txt",
            "assets/layers/integer_lookup/vocabulary.txt"} <= names  # fmt: skip
    (tmp_path / "w.h5").write_bytes(weights)
    norm = model.get_layer("norm")
    with h5py.File(tmp_path / "w.h5") as f:
        stored = [f[f"layers/normalization/vars/{i}"][()] for i in range(3)]
    assert [w.name for w in norm.weights] == ["mean", "variance", "count"]
    for a, b in zip(stored, norm.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_where_the_legacy_h5_keeps_it(tmp_path):
    model = _model()
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as f:
        config = json.loads(f.attrs["model_config"])
        norm_names = [n.decode() for n in f["model_weights/norm"].attrs["weight_names"]]
    by_name = {layer["config"]["name"]: layer["config"] for layer in config["config"]["layers"]}
    assert by_name["words"]["vocabulary"] == model.get_layer("words").get_vocabulary()
    assert by_name["numbers"]["vocabulary"] == model.get_layer("numbers").get_vocabulary()
    assert len(by_name["tfidf"]["idf_weights"]) == len(by_name["tfidf"]["vocabulary"])
    assert [n.split("/")[-1] for n in norm_names] == ["mean", "variance", "count"]


@pytest.mark.parametrize("name", ["text", "lookup"])
def test_asset_names_match_keras_files(tmp_path, name):
    """Our archive of Keras' own catalogue model has exactly Keras' asset members."""
    model = keras.models.load_model(CATALOGUE / f"{name}.keras")
    model.save(tmp_path / "m.keras")
    listings = []
    for path in (CATALOGUE / f"{name}.keras", tmp_path / "m.keras"):
        with zipfile.ZipFile(path) as archive:
            listings.append({n: archive.read(n) for n in archive.namelist() if "assets" in n})
    assert listings[0] == listings[1]
