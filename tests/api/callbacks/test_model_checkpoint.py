"""ModelCheckpoint: when it saves and under which name, against Keras 3's choices recorded in
tests/fixtures/keras_goldens/checkpoints.json (tools/keras_goldens/record_checkpoints.py);
the files it writes are checked in test_checkpoint_files.py."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish.callbacks import ModelCheckpoint

GOLDEN = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "keras_goldens" / "checkpoints.json").read_text()
)


class InjectScores(keras.callbacks.Callback):
    """Writes the recorded fixed values into the logs ModelCheckpoint then reads."""

    def __init__(self, key):
        super().__init__()
        self.key = key

    def on_train_batch_end(self, batch, logs=None):
        logs["score"] = GOLDEN["batch_scores"][batch]

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = GOLDEN["epoch_scores"][epoch]
        if self.key == "val_loss":
            logs["val_loss"] = GOLDEN["epoch_scores"][epoch]


def run(args: dict, epochs: int):
    """The recorder's run: the paths the callback asked to save, in order, and warnings."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    saved = []
    model.save = lambda path, overwrite=True, **kw: saved.append(("model", path))
    model.save_weights = lambda path, overwrite=True, **kw: saved.append(("weights", path))
    checkpoint = ModelCheckpoint(**args)
    x, y = np.ones((20, 3), "float32"), np.zeros((20, 1), "float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False,
                  callbacks=[InjectScores(args.get("monitor")), checkpoint])  # fmt: skip
    messages = sorted({str(w.message) for w in caught if "save best" in str(w.message)})
    return saved, messages


@pytest.mark.parametrize("name", [n for n, c in GOLDEN["cases"].items() if c["error"] is None])
def test_saves_what_keras_saves(name):
    case = GOLDEN["cases"][name]
    saved, messages = run(case["args"], case["epochs"])
    kind = "weights" if case["args"].get("save_weights_only") else "model"
    assert saved == [(kind, path) for path in case["saved"]]
    assert messages == case["warnings"]


def test_best_only_every_few_batches_goes_on_where_keras_fails():
    """Keras 3.15 raises at the second batch-level comparison (its comparison is set up at
    the first epoch end); we resolve the direction when first needed and go on."""
    case = GOLDEN["cases"]["best_batches"]
    assert case["error"].startswith("TypeError")
    saved, _ = run(case["args"], case["epochs"])
    paths = [path for _, path in saved]
    assert paths[: len(case["saved"])] == case["saved"]
    # Batch scores 0.9 0.7 0.8 0.6 0.6 each epoch, checked after batches 2, 4 | 1(+1), 3, 5:
    # 0.7 (first), 0.6 (better), then 0.7, 0.6, 0.6: not better than 0.6.
    assert paths == ["w-1-2.weights.h5", "w-1-4.weights.h5"]


def test_filepath_fields_missing_from_the_logs_name_the_key():
    checkpoint = ModelCheckpoint("m-{epoch:02d}-{val_acc:.2f}.keras")
    with pytest.raises(KeyError, match="val_acc"):
        checkpoint._get_file_path(0, None, {"loss": 0.5})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filepath": "w.h5", "save_weights_only": True}, "must end in `.weights.h5`"),
        ({"filepath": "model.ckpt"}, "must end in `.keras` or `.h5`"),
        ({"filepath": "m.keras", "save_freq": 0}, "save_freq=0"),
        ({"filepath": "m.keras", "save_freq": "batch"}, "save_freq='batch'"),
        ({"filepath": "m.keras", "mode": "best"}, "mode='best'"),
        ({"filepath": "m.keras", "initial_value_threshold": "low"}, "initial_value_threshold"),
        ({"filepath": ""}, "filepath"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelCheckpoint(**kwargs)


def test_a_metric_whose_direction_is_unknown_needs_a_mode():
    checkpoint = ModelCheckpoint("m.keras", monitor="val_wobble", save_best_only=True)
    checkpoint.set_model(type("M", (), {"metrics": [], "save": lambda *a, **k: None})())
    checkpoint.on_epoch_end(0, {"val_wobble": 1.0})  # the first value is always the best
    with pytest.raises(ValueError, match="mode='max'"):
        checkpoint.on_epoch_end(1, {"val_wobble": 0.5})


def test_verbose_messages(capsys):
    checkpoint = ModelCheckpoint("m.keras", monitor="val_loss", save_best_only=True, verbose=1)
    checkpoint.set_model(type("M", (), {"metrics": [], "save": lambda *a, **k: None})())
    checkpoint.on_epoch_end(0, {"val_loss": 0.5})
    checkpoint.on_epoch_end(1, {"val_loss": 0.7})
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.50000, saving model to m.keras" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out
