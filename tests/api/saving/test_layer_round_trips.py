"""Every layer type through files: Keras' files of one model per layer family
(tests/fixtures/keras_files/catalogue, made by tools/keras_interop) load compiled with
Keras' predictions, and our own `.keras` and `.h5` files of them give back the same
configs, weights, optimizer state and predictions."""

import json
import pathlib
import zipfile

import h5py
import numpy as np
import pytest

import kerasish as keras

CATALOGUE = pathlib.Path(__file__).parents[2] / "fixtures" / "keras_files" / "catalogue"
NAMES = sorted(p.name[: -len(".io.npz")] for p in CATALOGUE.glob("*.io.npz"))
# Keras' legacy .h5 cannot hold an adapted vocabulary (Keras itself fails to load these two).
LOSSY_KERAS_H5 = ("lookup", "text")
# Not in the catalogue: the base class and the Input function; Lambda (no function loads
# from a file in safe mode: test_safe_loading.py); RandomCrop (Keras 3.15 passes images
# through it unchanged in inference, so no file can agree); the merge functions.
NOT_IN_CATALOGUE = {"Layer", "Input", "Lambda", "RandomCrop"}


def _io(name):
    data = np.load(CATALOGUE / f"{name}.io.npz")
    xs = sorted(k for k in data.files if k.startswith("x"))
    if xs == ["x"]:
        x = data["x"]
    elif all(k.startswith("x_") for k in xs):
        x = {k[2:]: data[k] for k in xs}
    else:
        x = [data[k] for k in xs]
    ys = sorted(k for k in data.files if k.startswith("y"))
    return x, (data["y"] if ys == ["y"] else [data[k] for k in ys])


def _flat(outputs):
    return outputs if isinstance(outputs, list) else [outputs]


def _loaded(name):
    return keras.models.load_model(CATALOGUE / f"{name}.keras")


@pytest.mark.parametrize("name", NAMES)
def test_keras_catalogue_files_load_compiled_and_predict_as_keras(name):
    x, y = _io(name)
    for suffix in (".keras", ".legacy.h5"):
        if suffix == ".legacy.h5" and name in LOSSY_KERAS_H5:
            continue
        model = keras.models.load_model(CATALOGUE / f"{name}{suffix}")
        for ours, theirs in zip(_flat(model.predict(x, verbose=0)), _flat(y), strict=True):
            np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)
        assert type(model.optimizer).__name__ == "Adam"
        assert int(model.optimizer.iterations) == 3


@pytest.mark.parametrize("name", NAMES)
def test_our_files_round_trip_every_layer(name, tmp_path):
    model = _loaded(name)
    x, _ = _io(name)
    expected = _flat(model.predict(x, verbose=0))
    for target in ("m.keras", "m.h5"):
        model.save(tmp_path / target)
        restored = keras.models.load_model(tmp_path / target)
        assert _without_vocabularies(restored.get_config()) == _without_vocabularies(
            model.get_config()
        )
        for ours, theirs in zip(restored.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
        for ours, theirs in zip(restored.optimizer.variables, model.optimizer.variables,
                                strict=True):  # fmt: skip
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        for ours, theirs in zip(_flat(restored.predict(x, verbose=0)), expected, strict=True):
            np.testing.assert_array_equal(ours, theirs)


def _without_vocabularies(config):
    """`config` with lookup vocabularies taken out: a legacy .h5 keeps an adapted
    vocabulary in its layer's config (where else it is checked: test_preprocessing_state)."""
    if isinstance(config, dict):
        return {k: (None if k in ("vocabulary", "idf_weights") else _without_vocabularies(v))
                for k, v in config.items()}  # fmt: skip
    if isinstance(config, list):
        return [_without_vocabularies(v) for v in config]
    return config


def test_the_catalogue_covers_every_layer_class():
    found = set()

    def visit(value):
        if isinstance(value, dict):
            if isinstance(value.get("class_name"), str):
                found.add(value["class_name"])
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            for v in value:
                visit(v)

    for name in NAMES:
        with zipfile.ZipFile(CATALOGUE / f"{name}.keras") as archive:
            visit(json.loads(archive.read("config.json")))
    classes = {n for n in keras.layers.__all__ if isinstance(getattr(keras.layers, n), type)}
    assert classes - found - NOT_IN_CATALOGUE == set()


def test_keras_layout_paths_match_keras(tmp_path):
    """Our `.weights.h5` of each catalogue model has exactly Keras' datasets (Keras also
    writes empty groups for weightless sublayers, such as MultiHeadAttention's softmax)."""
    for name in NAMES:
        model = keras.models.load_model(CATALOGUE / f"{name}.keras")
        model.save_weights(tmp_path / "ours.weights.h5")
        with zipfile.ZipFile(CATALOGUE / f"{name}.keras") as archive:
            (tmp_path / "theirs.weights.h5").write_bytes(archive.read("model.weights.h5"))
        listing = []
        for path in ("ours.weights.h5", "theirs.weights.h5"):
            with h5py.File(tmp_path / path) as f:
                items = []
                f.visititems(lambda n, o, items=items: items.append((n, o.shape))
                             if isinstance(o, h5py.Dataset) else None)  # fmt: skip
                listing.append(sorted(items, key=str))
        assert listing[0] == listing[1], name
