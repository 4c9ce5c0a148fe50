"""What the model recorders share: the versions recorded, and the `<stem>.npz` +
`<stem>.json` pair of a recorder made of cases (record_conv.py, record_embedding.py), with
`npz_files.write_npz`. Imported by the scripts next to it (run as files, their folder is on
`sys.path`); needs numpy, plus Keras and JAX for `versions`."""

import argparse
import json
import os
import platform

import numpy as np
from npz_files import write_npz


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
