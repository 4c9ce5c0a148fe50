"""The legacy Keras HDF5 layout: `model.save("m.h5")` and `save_weights("w.h5")`.

A full-model file has root attributes `keras_version`, `kerasish_version`, `backend`,
`model_config` (JSON, Keras 3's config dialect) and `training_config` (JSON, when the
model was compiled); a group `model_weights` with one subgroup per layer of `model.layers`
(attributes `layer_names` on the group, `weight_names` on each subgroup; a weight's
dataset sits at `<layer>/<weight name>`, `/` making subgroups), and `optimizer_weights`
(attribute `weight_names`: iteration, learning rate, then each variable's slots). A
weights-only file has `model_weights`' layout at its root.

Reading goes by order, as Keras does: the saved layers that have weights are paired with
the model's layers that have weights, each given trainable then non-trainable weights
(`by_name=True` pairs them by layer name instead). Names are read from the attributes,
never guessed; files by tf.keras 2 (`kernel:0` names, `Adam/m/...` optimizer slots, the
iteration without a learning rate, or all first moments before all second ones) load too.
"""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np

from . import h5_files, keras_layout
from .versions import KERAS_VERSION, kerasish_version

HDF5_OBJECT_HEADER_LIMIT = 64512
_HYPERPARAMETER_NAMES = ("beta_1", "beta_2", "decay", "rho", "momentum", "epsilon",
                         "initial_accumulator_value", "beta_2_power", "beta_1_power")  # fmt: skip
_ITERATION_NAMES = ("iteration", "iterations", "iter")
_SLOT_NAMES = frozenset({"m", "v", "vhat", "momentum", "velocity", "velocity_hat", "accumulator",
                         "rms", "mg", "ms", "average", "u", "delta_accumulator",
                         "accumulated_grad", "accumulated_delta_var"})  # fmt: skip
_LEARNING_RATE_NAMES = ("learning_rate", "lr")


def legacy_weights(layer) -> list:
    """A layer's weights in legacy order: trainable, then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


# ---- writing -------------------------------------------------------------------------------


def write_name_list(obj, name: str, names: list) -> None:
    """Writes a list of names as an attribute, split into `name0`, `name1`, ... when it
    would exceed HDF5's object header limit (as Keras)."""
    encoded = [n.encode("utf-8") for n in names]
    if any(len(n) > HDF5_OBJECT_HEADER_LIMIT for n in encoded):
        raise ValueError(f"A name is longer than {HDF5_OBJECT_HEADER_LIMIT} bytes: cannot save it.")
    data = np.asarray(encoded) if encoded else np.asarray([], dtype=np.float64)
    chunks = 1
    parts = np.array_split(data, chunks)
    while any(p.nbytes > HDF5_OBJECT_HEADER_LIMIT for p in parts):
        chunks += 1
        parts = np.array_split(data, chunks)
    if chunks == 1:
        obj.attrs[name] = data
    else:
        for i, part in enumerate(parts):
            obj.attrs[f"{name}{i}"] = part


def _unique_names(weights: list) -> list:
    names, seen = [], set()
    for w in weights:
        name, i = w.path, 1
        while name in seen:
            name, i = f"{w.path}_{i}", i + 1
        seen.add(name)
        names.append(name)
    return names


def _write_subset(group, weights: list) -> None:
    names = _unique_names(weights)
    write_name_list(group, "weight_names", names)
    for name, weight in zip(names, weights, strict=True):
        h5_files.write_dataset(group, name, weight.numpy())


def write_weights(group, model) -> None:
    """`model_weights`' layout (or a weights-only file's root) for `model`."""
    write_name_list(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = "kerasish"
    group.attrs["keras_version"] = KERAS_VERSION
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        _write_subset(group.create_group(layer.name), legacy_weights(layer))
    _write_subset(group.create_group("top_level_model_weights"), _top_level_weights(model))


def _top_level_weights(model) -> list:
    own = list(model._trainable_vars) + list(model._non_trainable_vars)
    return [w for w in legacy_weights(model) if any(w is o for o in own)]


def write_optimizer_weights(h5file, optimizer) -> None:
    variables = optimizer.variables
    group = h5file.create_group("optimizer_weights")
    _write_subset(group, variables)


def write_model(h5file, model, model_config: dict, training_config, include_optimizer: bool):
    """A full-model legacy file into the open (empty) `h5file`."""
    h5file.attrs["keras_version"] = KERAS_VERSION
    h5file.attrs["kerasish_version"] = kerasish_version()
    h5file.attrs["backend"] = "kerasish"
    texts = {"model_config": json.dumps(model_config)}
    if training_config is not None:
        texts["training_config"] = json.dumps(training_config)
    for name, text in texts.items():
        h5file.attrs[name] = text
    h5file.attrs[h5_files.TEXT_CHECKSUMS] = h5_files.text_checksums(texts)
    write_weights(h5file.create_group("model_weights"), model)
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and training_config is not None:
        write_optimizer_weights(h5file, optimizer)


# ---- reading -------------------------------------------------------------------------------


def _saved_layers(reader, group) -> list:
    """(layer name, [datasets]) for every layer listed in `layer_names`."""
    saved = []
    for name in reader.name_list(group, "layer_names"):
        layer_group = reader.group(group, name)
        has_names = any(
            k == "weight_names" or k.startswith("weight_names") for k in layer_group.attrs
        )
        names = reader.name_list(layer_group, "weight_names") if has_names else []
        saved.append((name, [reader.dataset(layer_group, n) for n in names]))
    return saved


def _assign(reader, variables: list, datasets: list, owner: str, skip_mismatch: bool) -> None:
    if len(variables) != len(datasets):
        raise reader.error(
            f"{owner} expects {len(variables)} weights; the file has {len(datasets)} for it"
        )
    pairs = []
    for variable, dataset in zip(variables, datasets, strict=True):
        if tuple(variable.shape) != tuple(dataset.shape):
            message = (
                f"{owner}: the weight '{variable.path}' has shape {tuple(variable.shape)}; the "
                f"file's '{dataset.name}' has shape {tuple(dataset.shape)}"
            )
            if not skip_mismatch:
                raise reader.error(message)
            warnings.warn(f"{reader.label}: skipped loading: {message}", stacklevel=4)
            continue
        pairs.append((variable, dataset))
    values = [reader.read(d) for _, d in pairs]
    for (variable, _), value in zip(pairs, values, strict=True):
        variable.assign(value.astype(variable.dtype, copy=False))


def read_weights(reader, group, model, by_name: bool = False, skip_mismatch: bool = False):
    """Loads `model`'s weights from `model_weights`' layout in `group`."""
    saved = _saved_layers(reader, group)
    if by_name:
        index = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for name, datasets in saved:
            for layer in index.get(name, []):
                variables = legacy_weights(layer)
                if len(variables) != len(datasets) and skip_mismatch:
                    warnings.warn(
                        f"{reader.label}: skipped layer '{name}': it expects {len(variables)} "
                        f"weights, the file has {len(datasets)}",
                        stacklevel=3,
                    )
                    continue
                _assign(reader, variables, datasets, f"layer '{name}'", skip_mismatch)
    else:
        layers = [layer for layer in model.layers if legacy_weights(layer)]
        saved_with_weights = [(name, d) for name, d in saved if d]
        if len(layers) != len(saved_with_weights):
            raise reader.error(
                f"the model has {len(layers)} layers with weights, the file has "
                f"{len(saved_with_weights)} ({[name for name, _ in saved_with_weights]})"
            )
        for k, (layer, (name, datasets)) in enumerate(zip(layers, saved_with_weights, strict=True)):
            owner = f"layer #{k} ('{layer.name}' in the model, '{name}' in the file)"
            _assign(reader, legacy_weights(layer), datasets, owner, skip_mismatch)
    top = reader.group(group, "top_level_model_weights", required=False)
    if top is not None and any(k.startswith("weight_names") for k in top.attrs):
        names = reader.name_list(top, "weight_names")
        own = _top_level_weights(model)
        if names or own:
            datasets = [reader.dataset(top, n) for n in names]
            _assign(reader, own, datasets, f"model '{model.name}' (its own weights)", skip_mismatch)


def _basename(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _slot_kind(name: str) -> str:
    """The kind of slot a saved optimizer variable is (`m`, `v`, `momentum`, ...): tf.keras
    2.11+ names it second (`Adam/m/dense/kernel:0`), older tf.keras last
    (`Adam/dense/kernel/m:0`), Keras 3 at the end of the last part (`adam/dense_kernel_m...`)."""
    parts = [p.split(":", 1)[0] for p in name.split("/")]
    for part in parts[1:2] + parts[-1:]:
        if part in _SLOT_NAMES:
            return part
    return parts[-1].rsplit("_", 1)[-1]


def read_optimizer_weights(reader, h5file, optimizer) -> None:
    """Restores a built optimizer from `optimizer_weights`; when the saved state does not
    fit (another optimizer or other weights) it is skipped with a warning, as Keras."""
    group = reader.group(h5file, "optimizer_weights", required=False)
    if group is None:
        return
    names = reader.name_list(group, "weight_names")
    datasets = [reader.dataset(group, n) for n in names]
    iteration = learning_rate = None
    slots, slot_kinds = [], []
    for name, dataset in zip(names, datasets, strict=True):
        base = _basename(name)
        if base in _ITERATION_NAMES and dataset.shape == ():
            iteration = dataset
        elif base in _LEARNING_RATE_NAMES and dataset.shape == ():
            learning_rate = dataset
        elif base in _HYPERPARAMETER_NAMES and dataset.shape == ():
            continue  # tf.keras < 2.11 kept hyperparameters as variables
        else:
            slots.append(dataset)
            slot_kinds.append(_slot_kind(name))
    base = keras_layout.optimizer_base_variables(optimizer)
    our_iteration = base[0]
    our_learning_rate = base[1] if len(base) > 1 else None
    our_slots = optimizer.variables[len(base) :]
    ordered = [] if not slots else _order_slots(slots, slot_kinds, our_slots)
    if ordered is None:
        warnings.warn(
            f"{reader.label}: skipping variable loading for optimizer '{optimizer.name}': it "
            f"has {len(our_slots)} slot variables, the file has {len(slots)} (or their shapes "
            "differ); the optimizer starts fresh.",
            stacklevel=3,
        )
        return
    # A file saved before the optimizer's first step has no slots: ours stay at zero.
    targets = list(our_slots) if slots else []
    sources = list(ordered)
    if iteration is not None:
        targets.append(our_iteration)
        sources.append(iteration)
    if learning_rate is not None and our_learning_rate is not None:
        targets.append(our_learning_rate)
        sources.append(learning_rate)
    values = [reader.read(d) for d in sources]
    for variable, value in zip(targets, values, strict=True):
        variable.assign(value.astype(variable.dtype, copy=False))


def _order_slots(slots: list, kinds: list, ours: list):
    """The saved slots in our order (per variable, its slots in turn), or None when they do
    not fit. Files list them that way, or every variable's first slot before any second."""

    def fits(candidate):
        return len(candidate) == len(ours) and all(
            tuple(s.shape) == tuple(o.shape) for s, o in zip(candidate, ours, strict=True)
        )

    if len(slots) != len(ours):
        return None
    distinct = list(dict.fromkeys(kinds))
    grouped = len(distinct) > 1 and all(
        kinds[i] == kinds[i - 1] or distinct.index(kinds[i]) == distinct.index(kinds[i - 1]) + 1
        for i in range(1, len(kinds))
    )
    if grouped and len(slots) % len(distinct) == 0:
        per_kind = len(slots) // len(distinct)
        interleaved = [slots[k * per_kind + i] for i in range(per_kind)
                       for k in range(len(distinct))]  # fmt: skip
        if fits(interleaved):
            return interleaved
    return slots if fits(slots) else None


def is_legacy_layout(h5file) -> bool:
    try:
        return (
            "layer_names" in h5file.attrs
            or "layer_names0" in h5file.attrs
            or isinstance(h5file.get("model_weights"), h5py.Group)
        )
    except h5_files.READ_ERRORS:
        return False
