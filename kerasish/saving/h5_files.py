"""Reading HDF5 files defensively: every group, dataset and attribute a loader touches is
checked before its data is read, and every problem is an error naming the file.

- A missing or unreadable file is an OSError; a file that is not HDF5, or is truncated or
  corrupted so libhdf5 cannot open it, is a ValueError.
- Soft and external links, external and virtual datasets are refused (they point outside
  the file).
- A dataset must hold numbers (float, int, bool) and may not declare far more data than it
  stores (a chunked "shape bomb" with nothing written): above 16 MB, at most 1000 times its
  stored size.
- Shapes are compared by the callers before any data is read, so a wrong-shaped dataset
  allocates nothing.
- Name lists (`layer_names`, `weight_names`) may be bytes or str, split into `name0`,
  `name1`, ... when long, or an empty float array; anything else is a ValueError.
- Our own files carry checksums (HDF5 stores none): a CRC-32 of each dataset's values
  (attribute `kerasish_crc32`) and of the JSON attributes (root attribute
  `kerasish_checksums`). Where present they are verified, so a damaged byte is an error
  rather than a silently different weight; Keras ignores them.
"""

from __future__ import annotations

import json
import math
import os
import zlib

import h5py
import numpy as np

_BOMB_FLOOR_BYTES = 16 << 20
_MAX_EXPANSION = 1000
_NUMERIC_KINDS = "fiub"
_MAX_NAME_CHUNKS = 100_000
CHECKSUM = "kerasish_crc32"
TEXT_CHECKSUMS = "kerasish_checksums"

# What h5py and libhdf5 raise on damaged files, turned into ValueErrors by `reading`.
READ_ERRORS = (OSError, KeyError, RuntimeError, IndexError, TypeError, ValueError,
               UnicodeDecodeError, AttributeError, OverflowError)  # fmt: skip


def checksum(array) -> int:
    """CRC-32 of an array's values (little-endian bytes, whatever the stored byte order)."""
    array = np.asarray(array)
    canonical = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return zlib.crc32(canonical.tobytes())


def write_dataset(group, name: str, array) -> None:
    """A dataset of `array`'s values, with its checksum."""
    array = np.asarray(array)
    dataset = group.create_dataset(name, data=array)
    dataset.attrs[CHECKSUM] = np.int64(checksum(array))


def text_checksums(texts: dict) -> str:
    """The root attribute recording CRC-32s of JSON attributes (name -> text)."""
    return json.dumps({k: zlib.crc32(v.encode("utf-8")) for k, v in texts.items()})


def describe(source) -> str:
    """How errors name a file: its path, or what an in-memory file came from."""
    return repr(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else str(source)


def open_for_reading(path):
    """An open `h5py.File` for `path` (a path, or a binary file object with `label`)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot load {path!r}: it is a directory, not a file.")
    with open(path, "rb") as f:  # FileNotFoundError / PermissionError name the path
        head = f.read(8)
    if head != b"\x89HDF\r\n\x1a\n" and not h5py.is_hdf5(path):
        raise ValueError(f"{path!r} is not an HDF5 file (and so not a Keras .h5 file).")
    return open_bytes(path, repr(path))


def open_bytes(source, label: str):
    """An open `h5py.File` over a path or an in-memory file (a `.keras` archive's weights);
    what libhdf5 cannot read is a ValueError starting with `label`."""
    try:
        return h5py.File(source, "r")
    except OSError as err:
        message = f"{label} cannot be read as HDF5 (truncated or corrupted?): {err}"
        raise ValueError(message) from None


class H5Reader:
    """Checked access to an open HDF5 file; errors are ValueErrors starting with `label`."""

    def __init__(self, h5file, label: str):
        self.file = h5file
        self.label = label

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.label}: {message}")

    # ---- groups and datasets -----------------------------------------------------------

    def _child(self, parent, name: str):
        if not name or name in (".", ".."):
            raise self.error(f"invalid name {name!r} under '{parent.name}'")
        if name not in parent:
            return None
        link = parent.get(name, getclass=True, getlink=True)
        if link in (h5py.SoftLink, h5py.ExternalLink):
            raise self.error(f"'{parent.name}/{name}' is a link; links are not allowed")
        return parent[name]

    def find(self, parent, path: str):
        """The object at `path` under `parent` (a group or dataset), or None."""
        current = parent
        for part in path.split("/"):
            if not isinstance(current, h5py.Group):
                return None
            current = self._child(current, part)
            if current is None:
                return None
        return current

    def group(self, parent, path: str, required: bool = True):
        """The group at `path` under `parent`; a ValueError (or None) when it is missing."""
        found = self.find(parent, path)
        if found is None:
            if required:
                raise self.error(f"the group '{parent.name.rstrip('/')}/{path}' is missing")
            return None
        if not isinstance(found, h5py.Group):
            raise self.error(f"'{found.name}' should be a group but is a {type(found).__name__}")
        return found

    def dataset(self, parent, path: str):
        """The dataset at `path`, checked (numbers, in the file, no shape bomb); not read."""
        found = self.find(parent, path)
        if found is None:
            raise self.error(f"the dataset '{parent.name.rstrip('/')}/{path}' is missing")
        if not isinstance(found, h5py.Dataset):
            raise self.error(f"'{found.name}' should be a dataset but is a group")
        check_dataset(found, self.label)
        return found

    def read(self, dataset, expected_shape=None) -> np.ndarray:
        """The values of a checked dataset; with `expected_shape`, a ValueError before
        reading when the shapes differ."""
        if expected_shape is not None and tuple(dataset.shape) != tuple(expected_shape):
            raise self.error(
                f"the dataset '{dataset.name}' has shape {tuple(dataset.shape)}, "
                f"expected {tuple(expected_shape)}"
            )
        try:
            value = np.asarray(dataset[()])
            expected = dataset.attrs[CHECKSUM] if CHECKSUM in dataset.attrs else None
        except READ_ERRORS as err:
            raise self.error(f"the dataset '{dataset.name}' cannot be read: {err}") from None
        if expected is not None and (np.shape(expected) != () or int(expected) != checksum(value)):
            raise self.error(f"the dataset '{dataset.name}' is damaged (its checksum differs)")
        return value

    # ---- attributes ---------------------------------------------------------------------

    def attribute(self, obj, name: str):
        try:
            return obj.attrs[name] if name in obj.attrs else None
        except READ_ERRORS as err:
            raise self.error(
                f"the attribute '{name}' of '{obj.name}' cannot be read: {err}"
            ) from None

    def text_attribute(self, obj, name: str):
        """A str attribute (stored as bytes or str), or None when absent."""
        value = self.attribute(obj, name)
        if value is None:
            return None
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(f"the attribute '{name}' is not UTF-8 text") from None
        if not isinstance(value, str):
            raise self.error(
                f"the attribute '{name}' should be text. Received: {type(value).__name__}"
            )
        return value

    def json_attribute(self, obj, name: str):
        """A JSON attribute parsed (None when absent); bad JSON, or text whose checksum
        (when the file has them) differs, is a ValueError."""
        text = self.text_attribute(obj, name)
        if text is None:
            return None
        sums = self.text_attribute(self.file, TEXT_CHECKSUMS)
        if sums is not None:
            recorded = parse_json(sums, f"{self.label}: the attribute '{TEXT_CHECKSUMS}'")
            if not isinstance(recorded, dict) or (
                name in recorded and recorded[name] != zlib.crc32(text.encode("utf-8"))
            ):
                raise self.error(f"the attribute '{name}' is damaged (its checksum differs)")
        return parse_json(text, f"{self.label}: the attribute '{name}'")

    def name_list(self, obj, name: str) -> list:
        """A list-of-names attribute, joined from `name0`, `name1`, ... when split."""
        if name in obj.attrs:
            return self._names(obj, name)
        names, i = [], 0
        while f"{name}{i}" in obj.attrs:
            if i >= _MAX_NAME_CHUNKS:
                raise self.error(f"the attribute '{name}' has too many parts")
            names += self._names(obj, f"{name}{i}")
            i += 1
        if i == 0:
            raise self.error(f"the attribute '{name}' of '{obj.name}' is missing")
        return names

    def _names(self, obj, name: str) -> list:
        value = self.attribute(obj, name)
        if isinstance(value, (bytes, str)):
            value = np.asarray([value])
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise self.error(f"the attribute '{name}' of '{obj.name}' should be a list of names")
        if value.size == 0:
            return []
        out = []
        for item in value.tolist():
            if isinstance(item, bytes):
                try:
                    item = item.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.error(
                        f"the attribute '{name}' holds a name that is not UTF-8"
                    ) from None
            if not isinstance(item, str) or not item:
                raise self.error(
                    f"the attribute '{name}' of '{obj.name}' holds a non-name {item!r}"
                )
            out.append(item)
        return out


def check_dataset(dataset, label: str) -> None:
    """ValueError unless `dataset` holds numbers stored in this file, and declares no more
    data than its storage can justify."""
    try:
        dtype = dataset.dtype
        shape = dataset.shape
        external = dataset.external
        virtual = dataset.is_virtual
    except READ_ERRORS as err:
        raise ValueError(f"{label}: the dataset '{dataset.name}' is unreadable: {err}") from None
    if external or virtual:
        raise ValueError(f"{label}: the dataset '{dataset.name}' points outside the file")
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.shape:
        raise ValueError(
            f"{label}: the dataset '{dataset.name}' should hold numbers. Received dtype {dtype}"
        )
    if shape is None:
        raise ValueError(f"{label}: the dataset '{dataset.name}' is empty (no shape)")
    declared = math.prod(shape) * dtype.itemsize
    if declared > _BOMB_FLOOR_BYTES:
        try:
            stored = dataset.id.get_storage_size()
        except READ_ERRORS:
            stored = 0
        if declared > _MAX_EXPANSION * stored:
            raise ValueError(
                f"{label}: the dataset '{dataset.name}' declares {declared:,} bytes but stores "
                f"{stored:,}; refusing to read it"
            )


def parse_json(text: str, what: str):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} is not valid JSON ({type(err).__name__}: {err})") from None


def declared_bytes(h5file, label: str) -> int:
    """The bytes all the file's acceptable datasets hold: what loading it may allocate."""
    total = 0

    def visit(_name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            try:
                check_dataset(obj, label)
            except ValueError:
                return  # an unacceptable dataset justifies nothing (and fails if it is read)
            total += math.prod(obj.shape) * obj.dtype.itemsize

    try:
        h5file.visititems(visit)
    except READ_ERRORS as err:
        raise ValueError(f"{label}: the file's structure cannot be read: {err}") from None
    return total
