"""Record when and where Keras 3's `ModelCheckpoint` saves.

Run it in the keras venv (never a kerasish dependency):

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tools/keras_goldens/record_checkpoints.py \
        --out tests/fixtures/keras_goldens

Each case trains a tiny model for a few epochs of 5 batches (20 samples, batch size 4) with
a `ModelCheckpoint`. A callback placed before it writes a fixed value into the logs (the
monitored `score`, at each epoch's or batch's end), so the decisions depend on those values
and not on the numbers training gives. The model's `save`/`save_weights` only record the
path they get. Output: `checkpoints.json`, per case the callback's arguments, the injected
values, the paths saved (in order), the warnings raised and the error, if Keras failed
(Keras 3.15 fails on `save_best_only` with a batch `save_freq` before the first epoch's end:
its comparison is set up only there). Deterministic (sorted keys).
"""

import argparse
import json
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

EPOCH_SCORES = [0.5, 0.3, 0.4, 0.3, 0.1]
BATCH_SCORES = [0.9, 0.7, 0.8, 0.6, 0.6]  # the same five values in every epoch

CASES = {
    "every_epoch": {"filepath": "m-{epoch:02d}.keras", "epochs": 3},
    "every_3_batches": {
        "filepath": "w-{epoch:02d}-{batch:02d}.weights.h5",
        "save_weights_only": True,
        "save_freq": 3,
        "epochs": 3,
    },
    "best_min": {
        "filepath": "m-{epoch:02d}-{val_score:.3f}.keras",
        "monitor": "val_score",
        "mode": "min",
        "save_best_only": True,
        "epochs": 5,
    },
    "best_max": {
        "filepath": "m-{epoch:02d}.h5",
        "monitor": "val_score",
        "mode": "max",
        "save_best_only": True,
        "epochs": 5,
    },
    "best_min_threshold": {
        "filepath": "m-{epoch:02d}.keras",
        "monitor": "val_score",
        "mode": "min",
        "save_best_only": True,
        "initial_value_threshold": 0.35,
        "epochs": 5,
    },
    "best_auto_loss": {
        "filepath": "best.keras",
        "monitor": "val_loss",
        "save_best_only": True,
        "epochs": 5,
    },
    "best_batches": {
        "filepath": "w-{epoch}-{batch}.weights.h5",
        "save_weights_only": True,
        "monitor": "score",
        "mode": "min",
        "save_best_only": True,
        "save_freq": 2,
        "epochs": 2,
    },
    "missing_monitor": {
        "filepath": "m-{epoch:02d}.keras",
        "monitor": "val_unknown",
        "mode": "min",
        "save_best_only": True,
        "epochs": 2,
    },
}


class InjectScores(keras.callbacks.Callback):
    """Writes the case's fixed values into the logs ModelCheckpoint then reads."""

    def __init__(self, key):
        super().__init__()
        self.key = key

    def on_train_batch_end(self, batch, logs=None):
        logs["score"] = BATCH_SCORES[batch]

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = EPOCH_SCORES[epoch]
        if self.key == "val_loss":
            logs["val_loss"] = EPOCH_SCORES[epoch]


def run_case(case):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    args = dict(case)
    epochs = args.pop("epochs")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    saved = []
    model.save = lambda path, overwrite=True, **kw: saved.append(path)
    model.save_weights = lambda path, overwrite=True, **kw: saved.append(path)
    checkpoint = keras.callbacks.ModelCheckpoint(**args)
    x, y = np.ones((20, 3), "float32"), np.zeros((20, 1), "float32")
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False,
                      callbacks=[InjectScores(args.get("monitor")), checkpoint])  # fmt: skip
        except Exception as e:  # Keras' own failure, recorded as what it does
            error = f"{type(e).__name__}: {e}"
    messages = sorted({str(w.message) for w in caught if "save best" in str(w.message)})
    return {"args": args, "epochs": epochs, "saved": saved, "warnings": messages, "error": error}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    if keras.backend.backend() != "jax":
        sys.exit(f"record_checkpoints.py needs KERAS_BACKEND=jax, got {keras.backend.backend()!r}")
    results = {
        "keras": keras.__version__,
        "epoch_scores": EPOCH_SCORES,
        "batch_scores": BATCH_SCORES,
        "cases": {name: run_case(case) for name, case in CASES.items()},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "checkpoints.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
