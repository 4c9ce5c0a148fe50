"""Deterministic `.npz` bytes for the recording scripts: sorted keys, a fixed timestamp."""

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
