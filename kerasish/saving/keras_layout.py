"""Keras 3's weights layout (`.weights.h5`, and `model.weights.h5` in a `.keras` archive).

Every object with state gets a group `<path>/vars` (attribute `name`: the object's name)
holding its own variables as datasets `0`, `1`, ... (trainable then non-trainable, in
creation order); paths follow Keras' walk of the model:

- the model itself is `vars` at the root; a Sequential or functional model lists its layers
  under `layers/<class>`, where `<class>` is the snake_case class name with `_1`, `_2`, ...
  counters in `model.layers` order (`layers/dense`, `layers/dense_1`);
- a layer's sublayers follow under the attribute that holds them, public attributes first
  then private ones, each once (`layers/lstm/cell`, `layers/bidirectional/forward_layer`,
  `layers/time_distributed/layer`, `layers/sequential/layers/dense`); a list of layers is a
  container named like `layers` (`blocks/dense`, `blocks/dense_1`), a list in a list
  `container`, `container_1`, ...;
- MultiHeadAttention's projections are `query_dense`, `key_dense`, `value_dense`,
  `output_dense` (Keras' public names for them);
- the optimizer is `optimizer/vars`: iteration, learning rate (unless a schedule), slots.

Layers with state that is not a weight (the lookup layers, TextVectorization) write it
through their own `save_own_variables(store)` / `save_assets(directory)`, in Keras' places.
"""

from __future__ import annotations

import functools
import os
import warnings

import h5py
import numpy as np

from ..layers.layer import Layer, to_snake_case
from . import h5_files, serialization

# Keras' public names for sublayers our layers keep in private attributes.
_PUBLIC_NAMES = {
    "MultiHeadAttention": {"_query_dense": "query_dense", "_key_dense": "key_dense",
                           "_value_dense": "value_dense", "_output_dense": "output_dense"},
}  # fmt: skip
# A model's own bookkeeping of its graph: the layers are reached through `layers`.
_MODEL_GRAPH = frozenset({"_input_layer", "_stack", "_graph_layers", "_nodes", "inputs",
                          "outputs", "_input_struct", "_output_struct", "_data_front"})  # fmt: skip


@functools.cache
def _base_attributes(kind: str) -> frozenset:
    """The attributes every Layer (or Model) has: never children to walk."""
    if kind == "layer":
        return frozenset(vars(Layer(name="attribute_probe")))
    model_class = serialization.registered_builtin("Model")
    return frozenset(vars(model_class(name="attribute_probe"))) | _MODEL_GRAPH


def own_variables(obj) -> list:
    """The variables `obj` keeps itself (not its sublayers'), in Keras' order."""
    if isinstance(obj, Layer):
        return list(obj._trainable_vars) + list(obj._non_trainable_vars)
    return list(obj.variables)  # an optimizer


def _holds_layers(value) -> bool:
    if isinstance(value, Layer):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(_holds_layers(v) for v in value)


def _children(layer) -> list:
    """(path component, Layer or container) pairs, in Keras' order."""
    out = []
    if getattr(layer, "_functional", False) and hasattr(layer, "layers"):
        out.append(("layers", layer.layers))
    is_model = hasattr(layer, "compile")
    skipped = _base_attributes("model" if is_model else "layer")
    renames = {}
    for cls in type(layer).__mro__:
        renames.update(_PUBLIC_NAMES.get(cls.__name__, {}))
    attributes = vars(layer)
    names = [n for n in attributes if n not in skipped and _holds_layers(attributes[n])]
    names = sorted((renames.get(n, n), n) for n in names)
    names.sort(key=lambda pair: (pair[0].startswith("_"), pair[0]))
    out += [(public, attributes[name]) for public, name in names]
    return out


def walk(model):
    """Yields `(path, layer)` for the model and every layer under it, each once."""
    visited = set()

    def visit(obj, path):
        if isinstance(obj, Layer):
            if id(obj) in visited:
                return
            visited.add(id(obj))
            yield path, obj
            for name, child in _children(obj):
                yield from visit(child, _join(path, name))
        elif isinstance(obj, (list, tuple, dict)):
            used: dict = {}
            for item in obj.values() if isinstance(obj, dict) else obj:
                if isinstance(item, Layer):
                    base = to_snake_case(serialization.class_name_of(item))
                elif isinstance(item, (list, tuple, dict)):
                    base = "container"
                else:
                    continue
                yield from visit(item, _join(path, _unique(base, used)))

    yield from visit(model, "")


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _vars_path(path: str) -> str:
    return _join(path, "vars")


# ---- writing -----------------------------------------------------------------------------


class VarsWriter:
    """The `vars` group of one object, as `save_own_variables(store)` fills it."""

    def __init__(self, h5file, path: str, name: str):
        self.group = h5file.require_group(_vars_path(path))
        self.group.attrs["name"] = name

    def __setitem__(self, key: str, value) -> None:
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        h5_files.write_dataset(self.group, str(key), array)

    def keys(self):
        return list(self.group.keys())


def write_state(model, h5file, assets_dir=None, include_optimizer: bool = True) -> None:
    """Writes the model's variables (and optimizer's) to `h5file` in Keras 3's layout;
    with `assets_dir`, layers' assets go to `<assets_dir>/<path>`."""
    for path, layer in walk(model):
        store = VarsWriter(h5file, path, layer.name)
        saver = getattr(layer, "save_own_variables", None)
        if saver is not None:
            saver(store)
        else:
            for i, variable in enumerate(own_variables(layer)):
                store[str(i)] = variable
        if assets_dir is not None and hasattr(layer, "save_assets"):
            directory = os.path.join(assets_dir, *path.split("/"))
            os.makedirs(directory, exist_ok=True)
            layer.save_assets(directory)
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None:
        store = VarsWriter(h5file, "optimizer", optimizer.name)
        optimizer.save_own_variables(store)


# ---- reading -----------------------------------------------------------------------------


class VarsReader:
    """The checked `vars` group of one object (empty when the file has none), as
    `load_own_variables(store)` reads it."""

    def __init__(self, reader, group, path: str):
        self.reader = reader
        self.group = group
        self.path = path

    def keys(self) -> list:
        if self.group is None:
            return []
        return sorted(
            self.group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)
        )

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key) -> bool:
        return self.group is not None and key in self.group

    def dataset(self, key: str):
        if self.group is None:
            raise self.reader.error(f"the group '{_vars_path(self.path)}' is missing")
        return self.reader.dataset(self.group, str(key))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.reader.read(self.dataset(key))


def _mismatch(message: str, skip_mismatch: bool, label: str) -> None:
    if not skip_mismatch:
        raise ValueError(f"{label}: {message}")
    warnings.warn(f"{label}: skipped loading: {message}", stacklevel=4)


def load_variables(variables: list, store: VarsReader, owner: str, skip_mismatch: bool) -> bool:
    """Assigns `store`'s datasets 0, 1, ... to `variables` after checking count and shapes
    (nothing is assigned when one differs); returns whether they were assigned."""
    label = store.reader.label
    keys = [k for k in store.keys() if k.isdigit()]
    if keys != [str(i) for i in range(len(keys))] or len(keys) != len(variables):
        message = (
            f"{owner} (at '{_vars_path(store.path)}') expects {len(variables)} weights; the file "
            f"has {len(keys)}"
        )
        _mismatch(message, skip_mismatch, label)
        return False
    datasets = [store.dataset(k) for k in keys]
    for variable, dataset in zip(variables, datasets, strict=True):
        if tuple(dataset.shape) != tuple(variable.shape):
            message = (
                f"{owner}: the weight '{variable.path}' has shape {tuple(variable.shape)}; the "
                f"file's '{dataset.name}' has shape {tuple(dataset.shape)}"
            )
            _mismatch(message, skip_mismatch, label)
            return False
    values = [store.reader.read(d) for d in datasets]
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value.astype(variable.dtype, copy=False))
    return True


def read_state(model, reader, assets_dir=None, skip_mismatch: bool = False,
               load_optimizer: bool = True) -> None:  # fmt: skip
    """Loads the model's variables from a file in Keras 3's layout (and its optimizer's,
    when the model has one and the file too). A missing group or a count or shape that
    differs is a ValueError (a warning, skipping that object, with `skip_mismatch`)."""
    root = reader.file
    if reader.find(root, "vars") is None and reader.find(root, "layers") is None:
        raise reader.error("this is not a Keras 3 weights file (it has no 'layers' or 'vars')")
    for path, layer in walk(model):
        group = reader.group(root, _vars_path(path), required=False)
        store = VarsReader(reader, group, path)
        loader = getattr(layer, "load_own_variables", None)
        if loader is not None:
            try:
                loader(store)
            except (KeyError, ValueError) as err:
                _mismatch(f"layer '{layer.name}' at '{path}': {err}", skip_mismatch, reader.label)
        else:
            load_variables(own_variables(layer), store, f"layer '{layer.name}'", skip_mismatch)
        if assets_dir is not None and hasattr(layer, "load_assets"):
            directory = os.path.join(assets_dir, *path.split("/"))
            if os.path.isdir(directory):
                layer.load_assets(directory)
    optimizer = getattr(model, "optimizer", None)
    if load_optimizer and optimizer is not None:
        # An absent group reads as an empty one, as Keras reads it (a built optimizer warns).
        group = reader.group(root, "optimizer/vars", required=False)
        load_optimizer_variables(optimizer, VarsReader(reader, group, "optimizer"))


def optimizer_base_variables(optimizer) -> list:
    """The optimizer's variables that are not slots: the iteration count, and the learning
    rate unless it is a schedule."""
    variables = optimizer.variables
    has_rate = len(variables) > 1 and variables[1].path.endswith("/learning_rate")
    return variables[: 2 if has_rate else 1]


def load_optimizer_variables(optimizer, store: VarsReader) -> None:
    """Restores the optimizer's variables; when the counts or shapes differ (another
    optimizer, or one built on other weights) they are skipped with a warning, as Keras.
    An optimizer saved before its first step (no slots yet) gives its iteration count and
    learning rate, silently."""
    variables = optimizer.variables
    keys = [k for k in store.keys() if k.isdigit()]
    base = optimizer_base_variables(optimizer)
    if len(keys) == len(base) < len(variables):
        variables = base
    shapes_match = len(keys) == len(variables) and all(
        tuple(store.dataset(k).shape) == tuple(v.shape)
        for k, v in zip(keys, variables, strict=True)
    )
    if not shapes_match:
        warnings.warn(
            f"{store.reader.label}: skipping variable loading for optimizer "
            f"'{optimizer.name}', because it has {len(variables)} variables whereas the saved "
            f"optimizer has {len(keys)} variables (or their shapes differ); it starts fresh.",
            stacklevel=3,
        )
        return
    values = [store[k] for k in keys]
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value.astype(variable.dtype, copy=False))


def is_keras3_layout(h5file) -> bool:
    try:
        return isinstance(h5file.get("layers"), h5py.Group) or isinstance(
            h5file.get("vars"), h5py.Group
        )
    except (OSError, KeyError, RuntimeError, ValueError):
        return False
