"""The files of a `BackupAndRestore` directory.

A backup is a generation of files, `backup-<n>.state.h5` (the training state: a JSON
document with its arrays as HDF5 datasets) beside the model's variables, and `checkpoint.json`
names the generation to resume from. Each file is written whole under a temporary name and
renamed into place; `checkpoint.json` is replaced last, so a process killed at any moment
leaves the previous backup complete and named. Older generations are deleted after the new
pointer is in place.

Reading never runs code from a file: JSON, and arrays of plain numeric dtypes.
"""

from __future__ import annotations

import json
import os
import re

import h5py
import numpy as np

POINTER = "checkpoint.json"
FORMAT = "kerasish.training_state"
VERSION = 1
_GENERATION = re.compile(r"^backup-(\d+)\.(state|weights)\.h5$")
_ARRAY_KEY = "__array__"


# ---- a nested state as JSON plus arrays ------------------------------------------------------


def _encode(value, arrays: list, where: str):
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: only numeric arrays can be saved. Received {value.dtype}")
        arrays.append(value)
        return {_ARRAY_KEY: len(arrays) - 1}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key == _ARRAY_KEY:
                raise TypeError(f"{where}: dict keys must be strings. Received: {key!r}")
            out[key] = _encode(item, arrays, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"{where}: a training state holds numbers, strings, None, lists, dicts and numpy "
        f"arrays. Received: {type(value).__name__}"
    )


def _decode(value, arrays: list):
    if isinstance(value, dict):
        if set(value) == {_ARRAY_KEY}:
            return arrays[value[_ARRAY_KEY]]
        return {key: _decode(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    return value


def write_state(path: str, epoch: int, step: int, state: dict) -> None:
    """Writes `state` (nested dicts and lists of plain values and numeric arrays) to an HDF5
    file at `path` (the caller makes it atomic)."""
    arrays: list = []
    document = json.dumps({"epoch": epoch, "step": step, "state": _encode(state, arrays, "state")})
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["document"] = document
        group = f.create_group("arrays")
        for i, array in enumerate(arrays):
            group.create_dataset(str(i), data=array)


def read_state(path: str) -> tuple:
    """`(epoch, step, state)` from a file `write_state` wrote; a ValueError naming the file
    and the problem for anything else."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError("it is not a kerasish training state file")
            if int(f.attrs.get("version", -1)) != VERSION:
                raise ValueError(f"format version {f.attrs.get('version')} is not {VERSION}")
            document = json.loads(f.attrs["document"])
            group = f["arrays"]
            arrays = []
            for i in range(len(group)):
                data = group[str(i)]
                if data.dtype.kind not in "biuf":
                    raise ValueError(f"array {i} has dtype {data.dtype}")
                arrays.append(data[()])
        state = _decode(document["state"], arrays)
        return int(document["epoch"]), int(document["step"]), state
    except (OSError, KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"Cannot read the training state file '{path}': {error}") from error


# ---- the pointer and the generations --------------------------------------------------------


def read_pointer(directory: str) -> dict | None:
    """The backup `checkpoint.json` names (`generation`, `previous`), or None if there is
    none."""
    path = os.path.join(directory, POINTER)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            pointer = json.load(f)
        int(pointer["generation"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"Cannot read the backup pointer '{path}': {error}") from error
    return pointer


def pointer_text(generation: int, previous: int | None, epoch: int, step: int) -> str:
    """`checkpoint.json`: the generation to resume from (and the one before it, kept with
    `double_checkpoint`), and where in training it was taken (for people and tools)."""
    return json.dumps({"format": FORMAT, "generation": generation, "previous": previous,
                       "epoch": epoch, "step": step})  # fmt: skip


def generation_paths(directory: str, generation: int) -> tuple:
    """`(state file, weights file)` of a generation."""
    stem = os.path.join(directory, f"backup-{generation}")
    return f"{stem}.state.h5", f"{stem}.weights.h5"


def generations(directory: str) -> set:
    """The generation numbers that have files in `directory`."""
    found = set()
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        match = _GENERATION.match(name)
        if match:
            found.add(int(match.group(1)))
    return found


def remove_generations(directory: str, keep: set) -> None:
    for generation in generations(directory) - keep:
        for path in generation_paths(directory, generation):
            if os.path.exists(path):
                os.remove(path)
