"""Deterministic `.npz` files for the recording scripts: sorted keys, a fixed timestamp.

`write_npz` (compressed, dated 1980) writes the model recorders' fixtures; `npz_bytes`
(stored, dated 2020) the data and image scripts'. Each keeps the bytes its fixtures have."""

import io
import zipfile

import numpy as np


def npz_bytes(arrays: dict, allow_pickle: bool = False) -> bytes:
    """What `np.savez(arrays)` writes, the same on every run (object arrays need
    `allow_pickle=True`)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=allow_pickle)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def write_npz(path, arrays: dict) -> None:
    """Writes `arrays` to `path` as a compressed npz, the same bytes on every run."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            # np.ascontiguousarray would turn a 0-d array (a regularizer's value) into 1-d.
            array = np.require(arrays[name], requirements="C")
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
