"""Reading pickled numpy data without running what the pickle asks for.

Some data set files hold Python pickles (IMDB's ragged sequences inside an `.npz`, the
CIFAR batches). A pickle can name any function to call while loading, so these are read
with an unpickler that rebuilds numpy arrays and nothing else: any other global in the
stream stops the load with an error. Loaders also check a file's hash before reading it.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

__all__ = ["RestrictedUnpickler", "load_npz", "load_pickle"]

# (module, name) -> what it may rebuild. numpy 2 names its core `numpy._core`; files written
# with numpy 1 say `numpy.core`. `_codecs.encode` turns text back into bytes in protocol-2
# pickles written by Python 3.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
    ("numpy.core.multiarray", "scalar"): np.float64(0).__reduce__()[0],
    ("numpy._core.multiarray", "scalar"): np.float64(0).__reduce__()[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays, lists, dicts, numbers and strings only."""

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"Refusing to load `{module}.{name}` from a data file: only numpy arrays are "
                "rebuilt from pickles. The file is corrupt or not what it claims to be."
            )
        return found


def load_pickle(file, encoding: str = "ASCII"):
    """The object pickled in the open binary `file`, through `RestrictedUnpickler`."""
    return RestrictedUnpickler(file, encoding=encoding).load()


def _read_npy(stream) -> np.ndarray:
    data = stream.read()
    try:  # numeric arrays: no pickle at all
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except ValueError:
        pass
    buffer = io.BytesIO(data)
    version = np.lib.format.read_magic(buffer)
    # Format 3.0 differs from 2.0 only in the header's text encoding.
    read_header = (
        np.lib.format.read_array_header_1_0 if version[0] == 1
        else np.lib.format.read_array_header_2_0
    )  # fmt: skip
    shape, _, dtype = read_header(buffer)
    array = load_pickle(buffer, encoding="latin1")
    if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
        raise ValueError("an object array's pickle does not match the array's header")
    return array


def load_npz(path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file by name; object arrays through `RestrictedUnpickler`."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as stream:
                arrays[member[: -len(".npy")]] = _read_npy(stream)
    return arrays
