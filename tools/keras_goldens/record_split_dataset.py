"""Record how Keras 3's `keras.utils.split_dataset` splits small arrays.

`split_dataset` builds tf.data Datasets, so this one script runs with the TensorFlow backend
(in a venv with keras and tensorflow; never a kerasish dependency):

    KERAS_BACKEND=tensorflow python tools/keras_goldens/record_split_dataset.py \
        --out tests/fixtures/keras_goldens

Output: `split_dataset.json`, per case the call's arguments and the left and right splits
as lists of samples. Deterministic (sorted keys).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

CASES = {
    "shuffled_pairs": {"left_size": 0.7, "shuffle": True, "seed": 42, "pairs": True},
    "right_count": {"right_size": 3},
    "both_fractions": {"left_size": 0.25, "right_size": 0.5},
    "left_count_shuffled": {"left_size": 4, "shuffle": True, "seed": 7},
}


def samples(dataset):
    return [np.asarray(s).tolist() for s in dataset.as_numpy_iterator()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    x = np.arange(10)
    results = {}
    for name, case in CASES.items():
        kwargs = {k: v for k, v in case.items() if k != "pairs"}
        data = (x, x * 10) if case.get("pairs") else x
        left, right = keras.utils.split_dataset(data, **kwargs)
        results[name] = {
            "kwargs": kwargs,
            "pairs": bool(case.get("pairs")),
            "left": samples(left),
            "right": samples(right),
        }
    record = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "data": "x = np.arange(10); pairs: (x, x * 10)",
        "cases": results,
    }
    with open(os.path.join(out, "split_dataset.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
