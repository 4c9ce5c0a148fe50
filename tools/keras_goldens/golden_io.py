"""What the recorders share: deterministic npz files, the versions recorded, and the
`<stem>.npz` + `<stem>.json` pair of a recorder made of cases (record_conv.py,
record_embedding.py). Imported by the scripts next to it (run as files, their folder is on
`sys.path`); needs only numpy, plus Keras and JAX for `versions`."""

import argparse
import io
import json
import os
import platform
import zipfile

import numpy as np


def write_npz(path, arrays):
    """np.savez, but deterministic: sorted keys and a fixed zip timestamp."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            # np.ascontiguousarray would turn a 0-d array (a regularizer's value) into 1-d.
            array = np.require(arrays[name], requirements="C")
            np.lib.format.write_array(buf, array, allow_pickle=False)
            zi = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, buf.getvalue())


def versions():
    import jax
    import jaxlib
    import keras

    return {
        "keras": keras.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def save_cases(out_dir, stem, results, index):
    """Writes `<stem>.npz` (arrays `<case>/<name>`: ints as int32, the rest float32) and
    `<stem>.json` (`index` plus `versions` and, per case, its info with the arrays' shapes
    and dtypes) from `results` = {case: (arrays, info)}."""
    all_arrays, cases = {}, {}
    for name, (arrays, info) in results.items():
        for k, v in arrays.items():
            v = np.asarray(v)
            v = v.astype(np.int32) if v.dtype.kind in "iu" else v.astype(np.float32)
            all_arrays[f"{name}/{k}"] = v
        info["arrays"] = {
            k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in arrays.items()
        }
        cases[name] = info
    os.makedirs(out_dir, exist_ok=True)
    write_npz(os.path.join(out_dir, f"{stem}.npz"), all_arrays)
    with open(os.path.join(out_dir, f"{stem}.json"), "w") as f:
        json.dump({**index, "versions": versions(), "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases, {len(all_arrays)} arrays")


def record(stem, run_case, names, index, argv=None):
    """A recorder's main: `--out DIR` (default tests/fixtures/keras_goldens), then
    `run_case(name)` for each case name, saved by `save_cases`."""
    parser = argparse.ArgumentParser(description=f"Records {stem}.npz and {stem}.json.")
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    save_cases(args.out, stem, {name: run_case(name) for name in names}, index)
