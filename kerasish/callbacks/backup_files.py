"""The files of a `BackupAndRestore` directory.

A backup is two files: `backup-<n>.weights.h5`, the model's and optimizer's variables, and
`training_state.h5`, the rest of the training state (a JSON document with its arrays as
HDF5 datasets) naming that weights file. Each is written whole under a temporary name and
renamed into place, the weights first, so a process killed at any moment leaves the last
`training_state.h5` and the weights it names complete. Weights files no state names any
more are deleted after. With `double_checkpoint` the state before is kept as
`training_state.prev.h5` (with its weights), to fall back on.

Reading never runs code from a file: JSON, and arrays of plain numeric dtypes.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

STATE = "training_state.h5"
PREVIOUS_STATE = "training_state.prev.h5"
FORMAT = "kerasish.training_state"
VERSION = 1
_WEIGHTS = re.compile(r"^backup-(\d+)\.weights\.h5$")
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


def write_state(path: str, epoch: int, step: int, weights: str, state: dict) -> None:
    """Writes `state` (nested dicts and lists of plain values and numeric arrays), where it
    was taken and the name of its weights file, to an HDF5 file at `path` (the caller makes
    it atomic)."""
    import h5py  # on first use: `import kerasish` stays light

    arrays: list = []
    document = json.dumps(_encode(state, arrays, "state"))
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["epoch"] = int(epoch)
        f.attrs["step"] = int(step)
        f.attrs["weights"] = weights
        f.attrs["document"] = document
        group = f.create_group("arrays")
        for i, array in enumerate(arrays):
            group.create_dataset(str(i), data=array)


def _checked_header(f) -> tuple:
    if f.attrs.get("format") != FORMAT:
        raise ValueError("it is not a kerasish training state file")
    if int(f.attrs.get("version", -1)) != VERSION:
        raise ValueError(f"format version {f.attrs.get('version')} is not {VERSION}")
    weights = str(f.attrs["weights"])
    if not _WEIGHTS.match(weights):
        raise ValueError(f"it names an unexpected weights file {weights!r}")
    return int(f.attrs["epoch"]), int(f.attrs["step"]), weights


def read_position(path: str):
    """`(epoch, step, weights file name)` of the state file at `path`, or None when there is
    none yet (without reading the state itself)."""
    import h5py  # on first use: `import kerasish` stays light

    try:
        with h5py.File(path, "r") as f:
            return _checked_header(f)
    except FileNotFoundError:
        return None


def read_state(path: str) -> tuple:
    """`(epoch, step, weights file name, state)` from a file `write_state` wrote; a
    ValueError naming the file and the problem for anything else (a weights file that is
    not there included)."""
    import h5py  # on first use: `import kerasish` stays light

    try:
        with h5py.File(path, "r") as f:
            epoch, step, weights = _checked_header(f)
            document = json.loads(f.attrs["document"])
            group = f["arrays"]
            arrays = []
            for i in range(len(group)):
                data = group[str(i)]
                if data.dtype.kind not in "biuf":
                    raise ValueError(f"array {i} has dtype {data.dtype}")
                arrays.append(data[()])
        if not h5py.is_hdf5(os.path.join(os.path.dirname(path), weights)):
            raise ValueError(f"the weights file {weights} it names is missing or not HDF5")
        return epoch, step, weights, _decode(document, arrays)
    except (OSError, KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"Cannot read the training state file '{path}': {error}") from error


# ---- weights files ------------------------------------------------------------------------------


def weights_name(generation: int) -> str:
    return f"backup-{generation}.weights.h5"


def next_generation(directory: str) -> int:
    """One more than the highest generation of weights file in `directory` (0 if none)."""
    found = [int(m.group(1)) for m in map(_WEIGHTS.match, _names(directory)) if m]
    return max(found) + 1 if found else 0


def remove_unnamed_weights(directory: str, keep: set) -> None:
    """Deletes the weights files whose names are not in `keep`."""
    for name in _names(directory):
        if _WEIGHTS.match(name) and name not in keep:
            os.remove(os.path.join(directory, name))


def _names(directory: str) -> list:
    return os.listdir(directory) if os.path.isdir(directory) else []
