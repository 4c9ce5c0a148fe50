"""The Keras 3 `.keras` archive: an uncompressed zip of `metadata.json` (`keras_version`,
`date_saved`, and our `kerasish_version`), `config.json` (the model's config with its
`build_config` and `compile_config`), `model.weights.h5` (Keras 3's weights layout) and
`assets/<path>/...`, where layers keep state that is not a weight (vocabularies).

Reading checks the archive before trusting it: members are read only up to the size they
declare, a member that would expand to more than 100 times its stored size (and 16 MB) is
refused, asset names with `..`, absolute paths or drive letters are refused, and the
weights file goes through the same checks as any HDF5 file. Our archives record a CRC-32 of
`config.json` in `metadata.json` (`kerasish_checksums`, which Keras ignores); where present
it is verified, so an edited or damaged config is an error rather than another model.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import zipfile
import zlib

import h5py

from . import h5_files, keras_layout
from .versions import KERAS_VERSION, kerasish_version

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
ASSETS = "assets"
_BOMB_FLOOR_BYTES = 16 << 20
_MAX_EXPANSION = 100


def write(path: str, config: dict, model, include_optimizer: bool = True) -> None:
    """Writes the archive to `path` (an already temporary file: callers make it atomic)."""
    metadata = {
        "keras_version": KERAS_VERSION,
        "kerasish_version": kerasish_version(),
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    config_text = json.dumps(config)
    metadata[h5_files.TEXT_CHECKSUMS] = {CONFIG: zlib.crc32(config_text.encode("utf-8"))}
    weights = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="kerasish-assets-") as assets_dir:
        with h5py.File(weights, "w") as h5file:
            keras_layout.write_state(model, h5file, assets_dir, include_optimizer)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(METADATA, json.dumps(metadata))
            archive.writestr(CONFIG, config_text)
            archive.writestr(WEIGHTS, weights.getvalue())
            for directory, _, files in sorted(os.walk(assets_dir)):
                for name in sorted(files):
                    full = os.path.join(directory, name)
                    relative = os.path.relpath(full, assets_dir).replace(os.sep, "/")
                    archive.write(full, f"{ASSETS}/{relative}")


class Archive:
    """A `.keras` file opened for reading, with checked access to its members."""

    def __init__(self, path: str):
        self.label = repr(os.fspath(path))
        with open(path, "rb"):  # OSError for a missing or unreadable file
            pass
        try:
            self.zip = zipfile.ZipFile(path, "r")
        except (zipfile.BadZipFile, EOFError, ValueError) as err:
            raise ValueError(
                f"{self.label} is not a .keras archive (not a valid zip: {err})."
            ) from None

    def close(self) -> None:
        self.zip.close()

    def names(self) -> list:
        return self.zip.namelist()

    def read(self, name: str) -> bytes:
        """A member's bytes; a ValueError when it is missing, damaged or a zip bomb."""
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise ValueError(f"{self.label}: the archive has no '{name}'.") from None
        if info.file_size > max(_BOMB_FLOOR_BYTES, _MAX_EXPANSION * info.compress_size):
            raise ValueError(
                f"{self.label}: '{name}' declares {info.file_size:,} bytes from "
                f"{info.compress_size:,} stored; refusing to expand it."
            )
        try:
            with self.zip.open(info) as member:
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
            raise ValueError(f"{self.label}: '{name}' cannot be read: {err}") from None
        if len(data) != info.file_size:
            raise ValueError(f"{self.label}: '{name}' is not the size the archive says.")
        return data

    def json(self, name: str):
        """A JSON member parsed; one whose checksum `metadata.json` records must match it."""
        data = self.read(name)
        if name != METADATA and METADATA in self.names():
            sums = self.json(METADATA)
            sums = sums.get(h5_files.TEXT_CHECKSUMS) if isinstance(sums, dict) else None
            if isinstance(sums, dict) and name in sums and sums[name] != zlib.crc32(data):
                raise ValueError(f"{self.label}: '{name}' is damaged (its checksum differs).")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{self.label}: '{name}' is not UTF-8 text.") from None
        return h5_files.parse_json(text, f"{self.label}: '{name}'")

    def weights(self):
        """The weights file, opened (an `h5py.File` over its bytes)."""
        return h5_files.open_bytes(io.BytesIO(self.read(WEIGHTS)), f"{self.label} ({WEIGHTS})")

    def extract_assets(self, directory: str) -> bool:
        """Writes the `assets/` members under `directory`; returns whether there were any."""
        found = False
        for name in self.names():
            if not name.startswith(f"{ASSETS}/") or name.endswith("/"):
                continue
            parts = name.split("/")[1:]
            if any(p in ("", ".", "..") or "\\" in p or ":" in p for p in parts):
                raise ValueError(f"{self.label}: the asset name {name!r} is not allowed.")
            target = os.path.join(directory, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(self.read(name))
            found = True
        return found
