"""Record what Keras 3's `imdb.load_data` returns for a small stand-in of the IMDB file.

Run it in the keras venv (see README.md next to this file):

    KERAS_BACKEND=jax python tools/keras_goldens/record_imdb.py --out tests/fixtures

It writes a small `imdb.npz` of ragged reviews (object arrays, as the real file) and an
`imdb_word_index.json` to `<out>/datasets/`, points Keras' loader at them (its download
step replaced by the local path), and records `load_data`'s results for several argument
sets to `<out>/keras_goldens/imdb.json`. The npz is written with a fixed zip timestamp,
so the output is byte-for-byte deterministic.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.datasets import imdb  # noqa: E402
from npz_files import npz_bytes  # noqa: E402  (beside this script)

CASES = {
    "defaults": {},
    "num_words": {"num_words": 12},
    "skip_top": {"num_words": 15, "skip_top": 5},
    "maxlen": {"maxlen": 6},
    "no_oov": {"num_words": 10, "oov_char": None},
    "no_start_no_shift": {"start_char": None, "index_from": 0},
    "seed": {"seed": 7, "index_from": 2},
}


def reviews(rng, count):
    out = np.empty(count, dtype=object)
    for i in range(count):
        out[i] = [int(w) for w in rng.integers(1, 20, size=int(rng.integers(2, 9)))]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": reviews(rng, 9),
        "y_train": rng.integers(0, 2, 9),
        "x_test": reviews(rng, 5),
        "y_test": rng.integers(0, 2, 5),
    }
    folder = os.path.join(out, "datasets")
    os.makedirs(folder, exist_ok=True)
    npz_path = os.path.join(folder, "imdb.npz")
    with open(npz_path, "wb") as f:
        f.write(npz_bytes(arrays, allow_pickle=True))
    index_path = os.path.join(folder, "imdb_word_index.json")
    with open(index_path, "w") as f:
        json.dump({f"word{i}": i for i in range(1, 20)}, f, sort_keys=True)

    imdb.get_file = lambda fname=None, origin=None, **kwargs: (
        index_path if str(origin).endswith(".json") else npz_path
    )
    cases = {}
    for name, kwargs in CASES.items():
        (x_train, y_train), (x_test, y_test) = imdb.load_data(**kwargs)
        cases[name] = {
            "kwargs": kwargs,
            "x_train": [list(map(int, r)) for r in x_train],
            "y_train": y_train.tolist(),
            "x_test": [list(map(int, r)) for r in x_test],
            "y_test": y_test.tolist(),
        }
    record = {
        "keras_version": keras.__version__,
        "cases": cases,
        "word_index_size": len(imdb.get_word_index()),
    }
    with open(os.path.join(out, "keras_goldens", "imdb.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
