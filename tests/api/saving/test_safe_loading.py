"""Loading never runs code from a file, and damaged, hostile or wrong files give clear
errors that name them; a failed save leaves the existing file as it was."""

import errno
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np
import pytest

import kerasish as keras
from kerasish import layers


def double(x):
    return x * 2.0


def _lambda_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, layers.Dense(2)(layers.Lambda(double, name="twice")(inputs)))


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_lambda_layers_load_only_outside_safe_mode_with_the_users_function(tmp_path, name):
    model = _lambda_model()
    model.save(tmp_path / name)
    with pytest.raises(ValueError, match=r"Lambda layer 'twice'.*safe_mode=False"):
        keras.models.load_model(tmp_path / name)
    with pytest.raises(ValueError, match="unknown function 'double'"):
        keras.models.load_model(tmp_path / name, safe_mode=False)
    restored = keras.models.load_model(
        tmp_path / name, safe_mode=False, custom_objects={"double": double}
    )
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_marshalled_lambda_code_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    config = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 1], "name": "in"}},
            {"class_name": "Lambda", "config": {"name": "evil", "function": {
                "class_name": "__lambda__",
                "config": {"code": f"open({str(marker)!r}, 'w')", "defaults": None}}}},
        ]},
    }  # fmt: skip
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="Lambda"):
            keras.models.model_from_json(json.dumps(config), safe_mode=safe_mode)
    assert not marker.exists()


def test_configs_naming_modules_or_builtins_import_and_run_nothing():
    assert "antigravity" not in sys.modules
    for config in (
        {"module": "antigravity", "class_name": "fly", "config": {}},
        {"module": "os", "class_name": "system", "config": {"command": "true"}},
        {"module": "builtins", "class_name": "eval", "config": {}},
        {"class_name": "Sequential", "config": {"layers": [
            {"module": "subprocess", "class_name": "Popen", "config": {"args": ["true"]}}]}},
    ):  # fmt: skip
        with pytest.raises(ValueError, match="Unknown layer class"):
            keras.models.model_from_json(json.dumps(config))
    assert "antigravity" not in sys.modules


def _saved(tmp_path, name="m.h5"):
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, name="dense"), layers.BatchNormalization(name="bn")],
        name="s",
    )
    model.compile("adam", "mse")
    model.fit(np.ones((4, 4)), np.zeros((4, 3)), verbose=0)
    path = tmp_path / name
    model.save(path)
    return model, path


def _edit(path, edit):
    with h5py.File(path, "r+") as f:
        edit(f)


def _load_error(path, match, error=ValueError):
    with pytest.raises(error, match=match) as info:
        keras.models.load_model(path)
    assert str(path) in str(info.value)


def test_missing_unreadable_and_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        keras.models.load_model(tmp_path / "nope.h5")
    with pytest.raises(IsADirectoryError):
        keras.models.load_model(tmp_path)
    (tmp_path / "notes.h5").write_text("hello")
    _load_error(tmp_path / "notes.h5", "neither a .keras archive nor an HDF5")
    (tmp_path / "fake.keras").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    _load_error(tmp_path / "fake.keras", "not a .keras archive")


@pytest.mark.parametrize("name", ["m.h5", "m.keras", "m.weights.h5"])
def test_truncated_files(tmp_path, name):
    model, path = _saved(tmp_path, "m.keras" if name == "m.keras" else "m.h5")
    if name == "m.weights.h5":
        path = tmp_path / name
        model.save_weights(path)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 100):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=str(path)):
            if name == "m.weights.h5":
                model.load_weights(path)
            else:
                keras.models.load_model(path)


def test_damaged_hdf5_contents(tmp_path):
    _, path = _saved(tmp_path)
    good = path.read_bytes()

    def case(edit, match):
        path.write_bytes(good)
        _edit(path, edit)
        _load_error(path, match)

    dense = "model_weights/dense"
    case(lambda f: f.attrs.__delitem__("model_config"), "no model config")
    case(lambda f: f.attrs.__setitem__("model_config", "{not json"), "damaged|not valid JSON")
    case(
        lambda f: f[dense].attrs.__delitem__("weight_names"),
        "2 layers with weights, the file has 1",
    )
    case(lambda f: f.__delitem__(f"{dense}/s/dense/kernel"), "dataset.*is missing")
    case(lambda f: f["model_weights"].attrs.__setitem__("layer_names", [b"dense", b"ghost"]),
         "group.*ghost.*is missing")  # fmt: skip

    def reshape(f):
        del f[f"{dense}/s/dense/kernel"]
        f[f"{dense}/s/dense"].create_dataset("kernel", data=np.ones((5, 3), "f4"))

    case(reshape, r"shape \(4, 3\).*\(5, 3\)")

    def strings(f):
        del f[f"{dense}/s/dense/bias"]
        f[f"{dense}/s/dense"].create_dataset("bias", data=np.array([b"a", b"b", b"c"]))

    case(strings, "should hold numbers")

    def flip_value(f):
        data = f[f"{dense}/s/dense/kernel"]
        data[0, 0] = data[0, 0] + 1.0

    case(flip_value, "damaged")

    def link(f):
        del f[f"{dense}/s/dense/kernel"]
        f[f"{dense}/s/dense/kernel"] = h5py.ExternalLink("/etc/passwd", "/x")

    case(link, "link")


def test_absurd_shapes_allocate_nothing(tmp_path):
    _, path = _saved(tmp_path)

    def huge(f):
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["units"] = 10**9
        f.attrs["model_config"] = json.dumps(config)
        f.attrs.__delitem__("kerasish_checksums")

    _edit(path, huge)
    _load_error(path, r"needs a weight of shape \(4, 1000000000\).*Nothing was allocated")

    bomb = tmp_path / "bomb.h5"
    with h5py.File(bomb, "w") as f:
        f.create_dataset("x", shape=(10**10,), dtype="f8", chunks=(10**6,), compression="gzip")
    from kerasish.saving import h5_files

    with h5py.File(bomb) as f, pytest.raises(ValueError, match="declares"):
        h5_files.check_dataset(f["x"], "bomb")


def test_hostile_archives(tmp_path):
    model, path = _saved(tmp_path, "m.keras")
    members = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            members[name] = archive.read(name)

    def rewrite(target, extra=None, drop=(), config=None, checksums=False):
        metadata = json.loads(members["metadata.json"])
        if config is not None and not checksums:  # as another writer's archive: none kept
            del metadata["kerasish_checksums"]
        replaced = {"metadata.json": json.dumps(metadata).encode(), "config.json": config}
        with zipfile.ZipFile(target, "w") as archive:
            for name, data in members.items():
                if name not in drop:
                    archive.writestr(name, replaced.get(name) or data)
            for name, data in (extra or {}).items():
                archive.writestr(name, data)

    rewrite(tmp_path / "traversal.keras", extra={"assets/../../evil.txt": b"x"})
    _load_error(tmp_path / "traversal.keras", "asset name")
    assert not (tmp_path.parent / "evil.txt").exists()
    rewrite(tmp_path / "noweights.keras", drop=("model.weights.h5",))
    _load_error(tmp_path / "noweights.keras", "no 'model.weights.h5'")
    edited = members["config.json"].replace(b'"epsilon": 0.001', b'"epsilon": 0.01')
    assert edited != members["config.json"]
    rewrite(tmp_path / "edited.keras", config=edited, checksums=True)
    _load_error(tmp_path / "edited.keras", "'config.json' is damaged \\(its checksum differs\\)")
    rewrite(tmp_path / "badjson.keras", config=b"[1, 2")
    _load_error(tmp_path / "badjson.keras", "not valid JSON")
    rewrite(tmp_path / "deep.keras", config=b"[" * 100000 + b"]" * 100000)
    _load_error(tmp_path / "deep.keras", "not valid JSON|not a Keras config")
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (64 << 20))
    _load_error(bomb, "refusing to expand")


class Unsavable(layers.Layer):
    def get_config(self):
        raise RuntimeError("this layer cannot describe itself")


def _save(model, target):
    if target.name.endswith(".weights.h5"):
        model.save_weights(target)
    else:
        model.save(target)


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "w.weights.h5"])
def test_a_failed_save_leaves_the_existing_file(tmp_path, name, monkeypatch):
    """A full disk mid-write, a refused permission, or a layer failing to describe itself:
    each save raises a clear error, and the existing file and directory stay as they were."""
    from kerasish.saving import h5_files, saving_api

    model, _ = _saved(tmp_path, "first.h5")
    target = tmp_path / name
    target.write_bytes(b"the good old file")
    real_write = h5_files.write_dataset
    calls = []

    def disk_full(group, key, array):
        calls.append(key)
        if len(calls) > 2:  # some bytes are already in the temporary file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(group, key, array)

    with monkeypatch.context() as patch:
        patch.setattr(h5_files, "write_dataset", disk_full)
        with pytest.raises(OSError, match=rf"{re.escape(repr(str(target)))}.*No space left"):
            _save(model, target)
    assert len(calls) == 3

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    with monkeypatch.context() as patch:
        patch.setattr(saving_api.h5py, "File", refused)
        patch.setattr(saving_api.zipfile, "ZipFile", refused)
        with pytest.raises(PermissionError, match=rf"{re.escape(repr(str(target)))}.*denied"):
            _save(model, target)
    bad = keras.Sequential([keras.Input((2,)), Unsavable()])
    if not name.endswith(".weights.h5"):
        with pytest.raises(RuntimeError, match="cannot describe"):
            bad.save(target)
    assert target.read_bytes() == b"the good old file"
    assert sorted(os.listdir(tmp_path)) == sorted(["first.h5", name])


def test_a_weights_file_without_its_optimizer_group_warns_and_keeps_the_optimizer_fresh(
    tmp_path,
):
    model, _ = _saved(tmp_path)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        f.move("optimizer", "optimizEr")  # a flipped byte in the group's name
    (tmp_path / "fresh").mkdir()
    clone, _ = _saved(tmp_path / "fresh")
    before = [v.numpy() for v in clone.optimizer.variables]
    with pytest.warns(UserWarning, match="skipping variable loading for optimizer"):
        clone.load_weights(path)
    for a, b in zip(clone.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for variable, value in zip(clone.optimizer.variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)
