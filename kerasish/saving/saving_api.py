"""`save_model`, `load_model`, `save_weights`, `load_weights`: which format a path takes,
and the steps of loading a model (config, weights, compile, optimizer state).

Formats by file name: `.keras` is Keras 3's archive; `.weights.h5` Keras 3's weights layout;
any other `.h5`/`.hdf5` the legacy HDF5 layout (a full model from `save`, weights only from
`save_weights`). Loading also looks at the contents, so a legacy full-model file given to
`load_weights`, or an archive without its extension, is read as what it is.

Every save is atomic (`atomic.py`): the target is replaced only by a complete file, and a
failed save leaves it as it was. Loading never runs code from the file; a damaged or hostile
file is an error naming it (OSError when it cannot be opened, ValueError for contents).
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import warnings
import zipfile

import h5py

from backend.config import floatx
from backend.tensor import SymbolicTensor

from ..layers.layer import Layer
from . import budget, h5_files, keras_archive, keras_layout, legacy_h5, serialization
from . import training_config as training
from .atomic import atomic_write
from .versions import KERAS_VERSION

__all__ = ["KERAS_VERSION", "load_model", "load_weights", "save_model", "save_weights"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"
# What damaged files make h5py, zipfile and the config readers raise.
_CONTENT_ERRORS = (*h5_files.READ_ERRORS, zipfile.BadZipFile, EOFError, RecursionError,
                   struct.error, NotImplementedError)  # fmt: skip


def _label(path) -> str:
    return repr(os.fspath(path))


@contextlib.contextmanager
def _reading(label: str):
    """Errors from reading a file's contents become ValueErrors that name the file."""
    try:
        yield
    except ValueError as err:
        if str(err).startswith(label):
            raise
        raise ValueError(f"{label}: {err}") from err
    except _CONTENT_ERRORS as err:
        raise ValueError(
            f"{label}: the file is damaged or not a Keras file ({type(err).__name__}: {err})"
        ) from err


def _kind(path: str) -> str:
    """`"keras"`, `"h5"` or `"unknown"`, from the first bytes of an existing file."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_SIGNATURE):
        return "keras"
    if head == _HDF5_SIGNATURE or h5py.is_hdf5(path):
        return "h5"
    return "unknown"


def _check_existing(path) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot load {path!r}: it is a directory, not a file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}")
    return path


# ---- saving ------------------------------------------------------------------------------


def _check_target(path, overwrite: bool) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The file path must be a str or os.PathLike. Received: {path!r}")
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False: nothing was saved.")
    return path


def _model_config(model) -> dict:
    config = serialization.serialize(model)
    build = model.get_build_config() if hasattr(model, "get_build_config") else None
    if build is not None:
        config["build_config"] = build
    return config


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True,
               zipped=None, **kwargs) -> None:  # fmt: skip
    """Saves a whole model: architecture, weights, training configuration and optimizer.

    `.keras` writes Keras 3's archive, `.h5`/`.hdf5` the legacy HDF5 file; both load in
    Keras 3 too. The file is written to a temporary name and renamed over `filepath` only
    when complete, so an existing file survives a failed save.

    Example:
        >>> import os, tempfile
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> keras.models.load_model(path).layers[0].units
        2
    """
    if kwargs:
        raise ValueError(f"save_model: unexpected arguments {sorted(kwargs)}.")
    path = _check_target(filepath, overwrite)
    if not model.built:
        warnings.warn(f"Model '{model.name}' is saved unbuilt: the file holds no weights.",
                      stacklevel=3)  # fmt: skip
    name = path.lower()
    if name.endswith(".keras"):
        if zipped is False:
            raise ValueError("save_model: `zipped=False` (a folder) is not supported; use .keras.")
        config = _model_config(model)
        compile_config = training.compile_config(model) if include_optimizer else None
        if compile_config is not None:
            config["compile_config"] = compile_config
        with atomic_write(path) as tmp:
            keras_archive.write(tmp, config, model, include_optimizer)
    elif name.endswith((".h5", ".hdf5")):
        full = _model_config(model)
        config = {"class_name": full["class_name"],
                  "config": _inline_vocabularies(model, full["config"])}  # fmt: skip
        if "build_config" in full:  # for a subclassed model (Keras ignores the key)
            config["build_config"] = full["build_config"]
        train = training.training_config(model)
        with atomic_write(path) as tmp:
            with h5py.File(tmp, "w") as h5file:
                legacy_h5.write_model(h5file, model, config, train, include_optimizer)
    else:
        raise ValueError(
            "save_model: the file name must end in `.keras` (Keras 3's format) or `.h5` "
            f"(the legacy HDF5 format). Received: filepath={path!r}"
        )


def _inline_vocabularies(model, config: dict) -> dict:
    """The config of a model whose lookup and TextVectorization layers were adapted, with
    their vocabularies (and IDF weights) written into their configs: where a legacy `.h5`
    file keeps them, so that Keras and kerasish rebuild them from the config alone."""
    entries = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        return config
    layers = {layer.name: layer for layer in getattr(model, "layers", [])}
    input_layer = getattr(model, "_input_layer", None)
    if input_layer is not None:
        layers[input_layer.name] = input_layer
    for entry in entries:
        inner = entry.get("config")
        layer = layers.get(inner.get("name") if isinstance(inner, dict) else None)
        if layer is None:
            continue
        if hasattr(layer, "get_vocabulary") and inner.get("vocabulary") is None:
            lookup = getattr(layer, "_lookup_layer", layer)
            vocabulary = layer.get_vocabulary()
            if len(vocabulary) > lookup.num_oov_indices + (lookup.mask_token is not None):
                inner["vocabulary"] = [v if isinstance(v, str) else int(v) for v in vocabulary]
                if lookup.output_mode == "tf_idf":
                    idf = lookup._idf[: len(vocabulary)]
                    inner["idf_weights"] = [float(v) for v in idf]
        elif isinstance(inner, dict) and "layers" in inner:
            entry["config"] = _inline_vocabularies(layer, inner)
    return config


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """Saves the model's weights: `.weights.h5` in Keras 3's layout (with the optimizer's
    variables, as Keras), another `.h5`/`.hdf5` in the legacy layout (weights only)."""
    path = _check_target(filepath, overwrite)
    if max_shard_size is not None:
        raise ValueError("save_weights: sharded weights (`max_shard_size`) are not supported.")
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built yet, so it has no weights to save: call it on "
            "data (or build it) first."
        )
    name = path.lower()
    if name.endswith(".weights.h5"):
        with atomic_write(path) as tmp:
            with h5py.File(tmp, "w") as h5file:
                keras_layout.write_state(model, h5file)
    elif name.endswith((".h5", ".hdf5")):
        with atomic_write(path) as tmp:
            with h5py.File(tmp, "w") as h5file:
                legacy_h5.write_weights(h5file, model)
    else:
        raise ValueError(
            "save_weights: the file name must end in `.weights.h5` (Keras 3's layout) or "
            f"`.h5` (the legacy layout). Received: filepath={path!r}"
        )


# ---- loading -----------------------------------------------------------------------------


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Loads a model saved by `model.save` (ours, Keras 3's or tf.keras 2's): `.keras`
    archives and legacy `.h5` files, compiled as saved (`compile=True`) and with the
    optimizer's state restored, ready to continue training.

    `custom_objects` maps class (or function) names in the file to your classes; classes
    registered with `@kerasish.saving.register_keras_serializable()` are found without it.
    Nothing in the file is executed; `safe_mode=False` is needed to load `Lambda` layers
    (whose functions must come from `custom_objects`).
    """
    path = _check_existing(filepath)
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"`custom_objects` must be a dict. Received: {custom_objects!r}")
    kind = _kind(path)
    if kind == "keras":
        return _load_archive(path, custom_objects, compile, safe_mode)
    if kind == "h5":
        return _load_legacy(path, custom_objects, compile, safe_mode)
    raise ValueError(
        f"{path!r} is neither a .keras archive nor an HDF5 (.h5) file, so it is not a saved "
        "Keras model."
    )


def _deserialize_model(config, custom_objects, safe_mode: bool, label: str, nbytes: int):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{label}: the model config is not a Keras config: {str(config)[:200]}")
    with budget.allocation_budget(nbytes, label), serialization.SafeModeScope(safe_mode):
        model = serialization.deserialize(config, custom_objects)
        if not isinstance(model, Layer) or not hasattr(model, "compile"):
            raise ValueError(f"{label}: the file's config describes a {type(model).__name__}, "
                             "not a model.")  # fmt: skip
        if not model.built and isinstance(config.get("build_config"), dict):
            build_from_config(model, config["build_config"])
    return model


def _load_archive(path, custom_objects, compile, safe_mode):
    label = _label(path)
    archive = keras_archive.Archive(path)
    try:
        with _reading(label):
            config = archive.json(keras_archive.CONFIG)
            with archive.weights() as h5file:
                reader = h5_files.H5Reader(h5file, f"{label} ({keras_archive.WEIGHTS})")
                nbytes = h5_files.declared_bytes(h5file, reader.label)
                model = _deserialize_model(config, custom_objects, safe_mode, label, nbytes)
                load_optimizer = False
                compile_config = config.get("compile_config") if compile else None
                if compile and compile_config is None:
                    _warn_uncompiled(label)
                if compile_config is not None:
                    load_optimizer = training.compile_from_file(
                        model, compile_config, custom_objects, label
                    )
                with tempfile.TemporaryDirectory(prefix="kerasish-assets-") as assets_dir:
                    assets = assets_dir if archive.extract_assets(assets_dir) else None
                    keras_layout.read_state(model, reader, assets, load_optimizer=load_optimizer)
    finally:
        archive.close()
    return model


def _warn_uncompiled(label: str) -> None:
    warnings.warn(
        f"{label} has no training configuration, so the model was loaded uncompiled: call "
        "compile() before training it.",
        stacklevel=4,
    )


def _load_legacy(path, custom_objects, compile, safe_mode):
    label = _label(path)
    h5file = h5_files.open_for_reading(path)
    try:
        with _reading(label):
            reader = h5_files.H5Reader(h5file, label)
            config = reader.json_attribute(h5file, "model_config")
            if config is None:
                raise ValueError(
                    f"{label} holds no model config (a file of weights only?): build the model "
                    "in code and call model.load_weights() on it."
                )
            nbytes = h5_files.declared_bytes(h5file, label)
            model = _deserialize_model(config, custom_objects, safe_mode, label, nbytes)
            legacy_h5.read_weights(reader, reader.group(h5file, "model_weights"), model)
            if compile:
                train = reader.json_attribute(h5file, "training_config")
                if train is None:
                    _warn_uncompiled(label)
                elif training.compile_from_file(model, train, custom_objects, label):
                    if model.optimizer.built:
                        legacy_h5.read_optimizer_weights(reader, h5file, model.optimizer)
    finally:
        h5file.close()
    return model


def load_weights(model, filepath, skip_mismatch: bool = False, by_name: bool = False,
                 **kwargs) -> None:  # fmt: skip
    """Loads weights into `model` from `.weights.h5` (Keras 3's layout), a `.keras` archive
    or a legacy `.h5` (weights only, or a whole model's file). `skip_mismatch` skips (with a
    warning) weights whose shapes differ; `by_name` (legacy files only) pairs layers by
    name instead of order. The file's optimizer state is loaded when the model has an
    optimizer (which is built for it), and ignored otherwise."""
    if kwargs:
        raise ValueError(f"load_weights: unexpected arguments {sorted(kwargs)}.")
    path = _check_existing(filepath)
    label = _label(path)
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built yet, so its weights cannot be loaded: call it "
            "on data (or build it) first."
        )
    kind = _kind(path)
    if kind == "keras":
        if by_name:
            raise ValueError("load_weights: `by_name` applies to legacy .h5 files only.")
        archive = keras_archive.Archive(path)
        try:
            with _reading(label), archive.weights() as h5file:
                reader = h5_files.H5Reader(h5file, f"{label} ({keras_archive.WEIGHTS})")
                _prepare_optimizer(model)
                with tempfile.TemporaryDirectory(prefix="kerasish-assets-") as assets_dir:
                    assets = assets_dir if archive.extract_assets(assets_dir) else None
                    keras_layout.read_state(model, reader, assets, skip_mismatch)
        finally:
            archive.close()
        return
    if kind != "h5":
        raise ValueError(f"{label} is neither an HDF5 weights file nor a .keras archive.")
    h5file = h5_files.open_for_reading(path)
    try:
        with _reading(label):
            reader = h5_files.H5Reader(h5file, label)
            if legacy_h5.is_legacy_layout(h5file):
                group = reader.group(h5file, "model_weights", required=False) or h5file
                legacy_h5.read_weights(reader, group, model, by_name, skip_mismatch)
                optimizer = getattr(model, "optimizer", None)
                if optimizer is not None and "optimizer_weights" in h5file:
                    _prepare_optimizer(model)
                    legacy_h5.read_optimizer_weights(reader, h5file, optimizer)
            elif keras_layout.is_keras3_layout(h5file):
                if by_name:
                    raise ValueError("`by_name` applies to legacy .h5 files only.")
                _prepare_optimizer(model)
                keras_layout.read_state(model, reader, None, skip_mismatch)
            else:
                raise ValueError("this HDF5 file holds no Keras weights (neither layout).")
    finally:
        h5file.close()


def _prepare_optimizer(model) -> None:
    """Builds the model's optimizer (when it has one) so saved slots can be loaded."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built and model.trainable_weights:
        optimizer.build(model.trainable_weights)


def model_from_json(json_string: str, custom_objects=None, safe_mode: bool = True):
    """A model from `to_json()` output (fresh weights); see `kerasish.models.model_from_json`."""
    if not isinstance(json_string, (str, bytes)):
        raise TypeError(f"model_from_json takes a JSON string. Received: {type(json_string)}")
    config = h5_files.parse_json(json_string, "model_from_json: the text")
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("model_from_json: the JSON is not a Keras model config.")
    with serialization.SafeModeScope(safe_mode):
        return serialization.deserialize(config, custom_objects)


def build_from_config(model, config) -> None:
    """Creates a model's weights from its `build_config` (`{"input_shape": ...}`): a model
    with a `build` of its own is built with the shape, any other is called on symbolic
    inputs of that shape."""
    if model.built or not isinstance(config, dict):
        return
    shape = config.get("input_shape")
    if shape is None:
        return

    def is_shape(value):
        return isinstance(value, (list, tuple)) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in value
        )

    if is_shape(shape):
        structure = tuple(shape)
    elif isinstance(shape, (list, tuple)) and shape and all(is_shape(s) for s in shape):
        structure = [tuple(s) for s in shape]
    else:
        raise ValueError(f"A model's build_config has an invalid input_shape: {shape!r}")
    own_build = type(model).build not in (Layer.build, getattr(Layer.build, "__wrapped__", None))
    if own_build:
        model.build(structure)
        return
    if isinstance(structure, list):
        inputs = [SymbolicTensor(s, floatx()) for s in structure]
    else:
        inputs = SymbolicTensor(structure, floatx())
    nodes = len(model._inbound_nodes)
    model(inputs)
    del model._inbound_nodes[nodes:]  # a call to make weights, not part of any graph
